//! Placement: which peers hold a key — rendezvous (highest-random-weight) hashing.
//!
//! Owns: the custody-group rule of DESIGN §4 (top-n live peers by a hash of (key, peer id)) and the
//! group-size rule (configured n, fewer when the network is smaller, never below [`MIN_GROUP`]).
//! Must never: decide liveness (callers pass the live peers they see) or do I/O.

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
    let mut scored: Vec<([u8; 32], &P)> = peers.iter().map(|p| (weight(key, p.as_ref()), p)).collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.as_ref().cmp(b.1.as_ref())));
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
