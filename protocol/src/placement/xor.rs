//! Kademlia's key space: the ids libp2p's `kbucket` gives data keys and peers, and the XOR metric.
//!
//! Owns: the mapping into the 256-bit key space and "the m peers closest to a target". The ids match
//! libp2p-kad 0.49 exactly (`kbucket::Key`, checked by `actors/tests/kad_ids.rs`): a record key's id
//! is SHA-256 of its bytes (the actors put a manifest under `RecordKey::new(&key.0)`, so the id is
//! SHA-256 of the 32-byte data key), and a peer's id is SHA-256 of `PeerId::to_bytes()` (the
//! multihash). The distance is the XOR of the ids read as a big-endian integer, which orders like the
//! XOR bytes compared lexicographically. Must never: do I/O or depend on libp2p (pure bytes only).

use crate::keys::DataKey;
use sha2::{Digest, Sha256};

/// A point in Kademlia's key space (what `kbucket::Key::hashed_bytes` returns).
pub type KadId = [u8; 32];

/// The key-space id of a data key: libp2p's `kbucket::Key::from(RecordKey::new(&key.0))`.
pub fn key_id(key: &DataKey) -> KadId {
    Sha256::digest(key.0).into()
}

/// The key-space id of a peer, given `PeerId::to_bytes()`: libp2p's `kbucket::Key::from(peer_id)`.
pub fn peer_id(peer: &[u8]) -> KadId {
    Sha256::digest(peer).into()
}

/// XOR distance of two ids (compare distances as byte arrays: big-endian, as libp2p's `U256`).
pub fn distance(a: &KadId, b: &KadId) -> KadId {
    let mut d = [0u8; 32];
    for i in 0..32 {
        d[i] = a[i] ^ b[i];
    }
    d
}

/// Number of leading bits `a` and `b` share (256 when equal): Kademlia's bucket index is 255 − this.
pub fn common_prefix_len(a: &KadId, b: &KadId) -> u32 {
    for i in 0..32 {
        let x = a[i] ^ b[i];
        if x != 0 {
            return i as u32 * 8 + x.leading_zeros();
        }
    }
    256
}

/// The `m` items closest to `target` (nearest first), given each item's peer id bytes. Items with
/// equal ids count once. A scan: O(V log V) for a view of V peers (a lookup's result, tens of peers).
pub fn closest<'a, T: 'a>(
    target: &KadId,
    items: impl IntoIterator<Item = &'a T>,
    m: usize,
    id: impl Fn(&T) -> &[u8],
) -> Vec<&'a T> {
    let mut scored: Vec<(KadId, &T)> = items.into_iter().map(|p| (distance(target, &peer_id(id(p))), p)).collect();
    scored.sort_by_key(|a| a.0);
    scored.dedup_by(|a, b| a.0 == b.0);
    scored.truncate(m);
    scored.into_iter().map(|(_, p)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_is_a_metric_on_samples() {
        let ids: Vec<KadId> = (0..20u8).map(|i| peer_id(&[i; 7])).collect();
        for a in &ids {
            assert_eq!(distance(a, a), [0; 32]);
            for b in &ids {
                assert_eq!(distance(a, b), distance(b, a));
                for c in &ids {
                    // XOR's triangle inequality holds in the stronger form d(a,c) <= d(a,b) ^ d(b,c)
                    // = d(a,c); check the ordinary one on the integers' top 128 bits.
                    let top = |d: KadId| u128::from_be_bytes(d[..16].try_into().unwrap());
                    assert!(top(distance(a, c)) <= top(distance(a, b)).saturating_add(top(distance(b, c))));
                }
            }
        }
    }

    #[test]
    fn common_prefix() {
        let a = [0u8; 32];
        let mut b = [0u8; 32];
        assert_eq!(common_prefix_len(&a, &b), 256);
        b[0] = 0x80;
        assert_eq!(common_prefix_len(&a, &b), 0);
        b[0] = 0;
        b[3] = 0x01;
        assert_eq!(common_prefix_len(&a, &b), 31);
    }

    #[test]
    fn closest_is_the_nearest_by_xor_and_order_independent() {
        let peers: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i; 5]).collect();
        let key = DataKey([7; 32]);
        let t = key_id(&key);
        let got: Vec<&Vec<u8>> = closest(&t, &peers, 6, |p| p);
        assert_eq!(got.len(), 6);
        let mut all: Vec<(KadId, &Vec<u8>)> = peers.iter().map(|p| (distance(&t, &peer_id(p)), p)).collect();
        all.sort();
        assert_eq!(got, all.iter().take(6).map(|x| x.1).collect::<Vec<_>>());
        let mut rev = peers.clone();
        rev.reverse();
        let again: Vec<Vec<u8>> = closest(&t, &rev, 6, |p| p).into_iter().cloned().collect();
        assert_eq!(got.into_iter().cloned().collect::<Vec<_>>(), again);
        // a duplicated peer counts once
        let mut dup = peers.clone();
        dup.push(all[0].1.clone());
        assert_eq!(closest(&t, &dup, 2, |p| p).len(), 2);
        assert_ne!(closest(&t, &dup, 2, |p| p)[0], closest(&t, &dup, 2, |p| p)[1]);
    }
}
