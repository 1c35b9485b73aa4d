//! The id puzzle (S/Kademlia's static puzzle, optional): a peer id is admitted only if
//! blake3(peer id ‖ "enigma id puzzle") starts with at least d zero bits.
//!
//! Owns: the puzzle's check and a solver over a caller's key generator. d is a network parameter
//! that every node checks for every peer it admits to a view or a group (0 = off, the default); an
//! honest node solves it once when it makes its identity (about 2^d key generations), an attacker
//! once per Sybil id. The puzzle's hash is independent of the id's place in the key space (SHA-256)
//! and of its rendezvous weight (keyed blake3), so it multiplies the cost of an id that lands where
//! the attacker wants (docs/threat-model.md §3.1). Must never: do I/O or generate keys itself (the
//! caller owns key material).

/// The string appended to the peer id bytes.
pub const PUZZLE_SUFFIX: &[u8] = b"enigma id puzzle";

/// Default difficulty: off.
pub const DEFAULT_DIFFICULTY: u32 = 0;

/// Leading zero bits of blake3(peer ‖ "enigma id puzzle") (`peer` = `PeerId::to_bytes()`).
pub fn zero_bits(peer: &[u8]) -> u32 {
    let mut h = blake3::Hasher::new();
    h.update(peer);
    h.update(PUZZLE_SUFFIX);
    let d = h.finalize();
    let mut bits = 0;
    for b in d.as_bytes() {
        if *b == 0 {
            bits += 8;
        } else {
            bits += b.leading_zeros();
            break;
        }
    }
    bits
}

/// Whether `peer` solves the puzzle at difficulty `d`.
pub fn admits(peer: &[u8], d: u32) -> bool {
    d == 0 || zero_bits(peer) >= d
}

/// An id refused by the puzzle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("peer {peer} does not solve the id puzzle: {bits} leading zero bits, the network requires {need}")]
pub struct PuzzleRefusal {
    pub peer: String,
    pub bits: u32,
    pub need: u32,
}

/// [`admits`] as a result.
pub fn check(peer: &[u8], d: u32) -> Result<(), PuzzleRefusal> {
    if admits(peer, d) {
        return Ok(());
    }
    Err(PuzzleRefusal { peer: hex::encode(peer), bits: zero_bits(peer), need: d })
}

/// Calls `generate` (which makes a fresh identity and returns it with its peer id bytes) until an id
/// solves the puzzle at `d`, at most `max_tries` times. Returns the identity and the tries it took.
pub fn solve<K>(d: u32, max_tries: u64, mut generate: impl FnMut() -> (K, Vec<u8>)) -> Option<(K, u64)> {
    for tries in 1..=max_tries {
        let (k, id) = generate();
        if admits(&id, d) {
            return Some((k, tries));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p_identity::Keypair;

    /// A deterministic ed25519 identity from a counter (seeded, like every test's randomness).
    fn identity(i: u64) -> (Keypair, Vec<u8>) {
        let mut secret = *blake3::hash(&i.to_le_bytes()).as_bytes();
        let kp = Keypair::ed25519_from_bytes(&mut secret).expect("32-byte secret");
        let id = kp.public().to_peer_id().to_bytes();
        (kp, id)
    }

    #[test]
    fn difficulty_zero_admits_everyone() {
        assert!(admits(b"anything", 0));
        assert_eq!(check(b"anything", 0), Ok(()));
    }

    #[test]
    fn a_solved_id_is_admitted_and_random_ids_mostly_are_not() {
        let d = 8;
        let mut i = 0;
        let (kp, tries) = solve(d, 1 << 16, || {
            i += 1;
            identity(i)
        })
        .expect("2^8 expected tries, 2^16 allowed");
        let id = kp.public().to_peer_id().to_bytes();
        assert!(admits(&id, d) && zero_bits(&id) >= d);
        assert_eq!(tries, i);
        assert_eq!(check(&id, d), Ok(()));
        // ids pass d = 8 about once in 256: among 1024, between 0 and a few dozen pass
        let passed = (10_000..11_024).filter(|i| admits(&identity(*i).1, d)).count();
        assert!((1..=16).contains(&passed), "{passed} of 1024 ids passed d = 8");
        let refused = (20_000..20_100).map(|i| identity(i).1).find(|id| !admits(id, d)).expect("a refused id");
        let err = check(&refused, d).unwrap_err();
        assert_eq!(err.need, 8);
        assert!(err.bits < 8);
    }

    #[test]
    fn zero_bits_counts_across_bytes() {
        let id = (0u32..).map(|i| i.to_be_bytes().to_vec()).find(|id| zero_bits(id) >= 9).unwrap();
        assert!(admits(&id, 9));
        assert!(!admits(&id, zero_bits(&id) + 1));
        assert_eq!(solve(1, 0, || ((), vec![])), None, "no tries, no solution");
    }
}
