//! Placement: which peers hold a key.
//!
//! Owns: the rendezvous (highest-random-weight) weight of (key, peer id), the group-size rule
//! (configured n, fewer when the network is smaller, never below [`MIN_GROUP`]), and, in its
//! submodules, the placement rule from a bounded view (issue 13; see docs/placement.md):
//! - [`xor`]: Kademlia's key space (the ids libp2p's `kbucket` uses) and the XOR-closest peers;
//! - [`rule`]: the group of a key = the top n by rendezvous weight among its c·n XOR-closest peers
//!   (20 by default: one lookup's k);
//! - [`diversity`]: at most a few members of one group per /24 (IPv4) or /48 (IPv6) public prefix;
//! - [`check`]: a node's check of a proposed group against its own view (never a peer's word);
//! - [`puzzle`]: the optional S/Kademlia-style id puzzle; [`sybil`]: the cost model of capturing a
//!   group;
//! - [`sim`]: a seeded, I/O-free simulation of placement, lookups, loss and repair at scale.
//!
//! Must never: decide liveness (callers pass the live peers they see) or do I/O.

pub mod check;
pub mod diversity;
pub mod puzzle;
pub mod rule;
pub mod sim;
pub mod sybil;
pub mod xor;

use crate::keys::DataKey;

/// The smallest custody group that can keep a secret with an honest majority (t = 1).
pub const MIN_GROUP: usize = 3;
/// Default custody group size.
pub const DEFAULT_GROUP: usize = 5;

/// Rendezvous weight of `peer` for `key`.
pub fn weight(key: &DataKey, peer: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key("enigma placement v1");
    h.update(&key.0);
    h.update(peer);
    *h.finalize().as_bytes()
}

/// Orders candidate peers by decreasing weight for `key` (deterministic, independent of input order).
pub fn rank<'a, P: AsRef<[u8]>>(key: &DataKey, peers: &'a [P]) -> Vec<&'a P> {
    rank_by(key, peers.iter(), |p| p.as_ref())
}

/// [`rank`] over any items, given each item's peer id bytes (ties, i.e. equal ids, by id bytes).
pub fn rank_by<'a, T: 'a>(
    key: &DataKey,
    items: impl IntoIterator<Item = &'a T>,
    id: impl Fn(&T) -> &[u8],
) -> Vec<&'a T> {
    let mut scored: Vec<([u8; 32], &T)> = items.into_iter().map(|p| (weight(key, id(p)), p)).collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| id(a.1).cmp(id(b.1))));
    scored.into_iter().map(|(_, p)| p).collect()
}

/// The custody group size for a network where `live` peers (including this node) are reachable.
pub fn group_size(configured: usize, live: usize) -> Result<usize, PlacementError> {
    let n = configured.max(MIN_GROUP).min(live);
    if n < MIN_GROUP {
        return Err(PlacementError::NotEnoughNodes { need: MIN_GROUP, have: live });
    }
    Ok(n)
}

/// Errors choosing a custody group.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum PlacementError {
    #[error("not enough custody nodes online: need {need}, have {have}")]
    NotEnoughNodes { need: usize, have: usize },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_is_order_independent_and_stable() {
        let key = DataKey([9; 32]);
        let peers: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 8]).collect();
        let mut rev = peers.clone();
        rev.reverse();
        assert_eq!(rank(&key, &peers), rank(&key, &rev));
        // removing a peer that is not in the top 3 doesn't change the top 3
        let top: Vec<Vec<u8>> = rank(&key, &peers).into_iter().take(3).cloned().collect();
        let last = rank(&key, &peers)[9].clone();
        let fewer: Vec<Vec<u8>> = peers.into_iter().filter(|p| *p != last).collect();
        let top2: Vec<Vec<u8>> = rank(&key, &fewer).into_iter().take(3).cloned().collect();
        assert_eq!(top, top2);
    }

    #[test]
    fn group_sizes() {
        assert_eq!(group_size(5, 7), Ok(5));
        assert_eq!(group_size(5, 4), Ok(4));
        assert_eq!(group_size(5, 3), Ok(3));
        assert_eq!(group_size(2, 7), Ok(3));
        assert_eq!(group_size(5, 2), Err(PlacementError::NotEnoughNodes { need: 3, have: 2 }));
    }
}
