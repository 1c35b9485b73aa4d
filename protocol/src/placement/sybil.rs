//! The Sybil cost model: how many generated ids an attacker needs to take t + 1 seats of a chosen
//! key's custody group under the rule of [`super::rule`], with and without the id puzzle
//! ([`super::puzzle`]) and the diversity rule ([`super::diversity`]).
//!
//! Owns: the model's formulas (docs/threat-model.md §3.1 has the numbers; the simulation's attack,
//! [`super::sim::attack`], measures the same quantity). Must never: do I/O.
//!
//! The model. Ids are uniform in the key space and their weights uniform and independent of their
//! place. A fresh id is useful when it lands among the key's m candidates (the m closest) (probability ≈ m/N) and
//! outranks the (n − t)-th best honest candidate (≈ (n − t)/(m + 1)): the attacker needs t + 1
//! such ids, so ≈ (t + 1)·N·(m + 1) / (m·(n − t)) ids, of the order of (t + 1)·N/(n − t) —
//! the same as rendezvous over everyone or XOR-closest alone: the rule chooses *which* ids are
//! useful, not how rare they are. A check tolerance τ lets a malicious proposer seat τ of its ids
//! that are merely candidates (plentiful by then), so it needs t + 1 − τ ranked seats. The puzzle
//! multiplies each id's cost by 2^d key generations; the diversity rule makes the attacker need
//! ⌈(t + 1)/max_per_prefix⌉ distinct public /24 (or /48) prefixes as well.

/// Expected ids to generate for t + 1 seats of one chosen key's group among `nodes` honest nodes.
/// `candidates`: the rule's candidate count ([`super::rule::Rule::candidates`]).
pub fn ids_to_capture(nodes: usize, n: usize, t: usize, candidates: usize, tolerance: usize) -> f64 {
    let cn = candidates.max(n) as f64;
    let seats = (t + 1).saturating_sub(tolerance).max(1) as f64;
    let useful = (cn / nodes.max(1) as f64) * ((n - t.min(n - 1)) as f64 / (cn + 1.0));
    seats / useful
}

/// Key generations (puzzle tries) behind `ids` admitted ids at difficulty `d`.
pub fn keygens(ids: f64, d: u32) -> f64 {
    ids * 2f64.powi(d as i32)
}

/// Distinct public prefixes the attacker's t + 1 members must come from.
pub fn prefixes_to_capture(t: usize, max_per_prefix: usize) -> usize {
    (t + 1).div_ceil(max_per_prefix.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_grows_with_the_network_and_the_puzzle() {
        let a = ids_to_capture(1000, 5, 2, 15, 0);
        assert!((a - 1000.0 * 3.0 * 16.0 / (15.0 * 3.0)).abs() < 1e-6);
        assert!(ids_to_capture(10_000, 5, 2, 15, 0) > 9.0 * a);
        assert!(ids_to_capture(1000, 5, 2, 15, 1) < a, "tolerance helps the attacker");
        assert_eq!(keygens(10.0, 4), 160.0);
        assert_eq!(prefixes_to_capture(2, 2), 2);
        assert_eq!(prefixes_to_capture(4, 2), 3);
        assert_eq!(prefixes_to_capture(2, 1), 3);
    }
}
