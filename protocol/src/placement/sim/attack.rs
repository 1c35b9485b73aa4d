//! A Sybil attack on one chosen key, simulated: how many generated ids take t + 1 seats of its group.
//!
//! Owns: the attacker's best simple strategy under the rule of [`crate::placement::rule`]: generate
//! ids, keep every id that lands among the key's m + tolerance closest (m = the rule's candidates) (no other id can change the
//! group), stop once its ids hold t + 1 seats of the group, counting the `tolerance` members a
//! malicious proposer may choose among the candidates ([`crate::placement::check`]). Ids are random
//! peer id bytes: the rule only hashes them. Must never: let the attacker see anything but its own
//! ids and the honest ids (which a key's lookup shows anyway).

use super::random_peer;
use super::space::Space;
use crate::keys::DataKey;
use crate::placement::{weight, xor};
use rand::Rng;

/// One attack's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attack {
    /// Ids generated until t + 1 seats were taken.
    pub generated: u64,
    /// Ids kept (inside the candidate window).
    pub kept: usize,
}

/// Attacks a random key of `space` (groups of `n` among `m` candidates) until t + 1 seats (or
/// `max_ids` ids, then `None`).
pub fn attack(
    space: &Space,
    n: usize,
    t: usize,
    m: usize,
    tolerance: usize,
    max_ids: u64,
    rng: &mut impl Rng,
) -> Option<Attack> {
    let mut kb = [0u8; 32];
    rng.fill_bytes(&mut kb);
    let key = DataKey(kb);
    let kid = xor::key_id(&key);
    let w = m + tolerance;
    // the window: (distance, weight, attacker?) of the w closest ids, nearest first
    let mut window: Vec<(xor::KadId, [u8; 32], bool)> = space
        .closest(&kid, w)
        .into_iter()
        .map(|i| (xor::distance(&kid, &space.kad[i as usize]), weight(&key, &space.peers[i as usize]), false))
        .collect();
    let mut kept = 0;
    for generated in 1..=max_ids {
        let p = random_peer(rng);
        let d = xor::distance(&kid, &xor::peer_id(&p));
        if window.len() == w && d >= window[w - 1].0 {
            continue;
        }
        kept += 1;
        let pos = window.partition_point(|e| e.0 < d);
        window.insert(pos, (d, weight(&key, &p), true));
        window.truncate(w);
        // the rule's group: top n by weight among the first m
        let mut cands: Vec<&(xor::KadId, [u8; 32], bool)> = window.iter().take(m).collect();
        cands.sort_by_key(|e| std::cmp::Reverse(e.1));
        let seats = cands.iter().take(n).filter(|e| e.2).count();
        let spare = window.iter().filter(|e| e.2).count() - seats;
        if seats + spare.min(tolerance) > t {
            return Some(Attack { generated, kept });
        }
    }
    None
}
