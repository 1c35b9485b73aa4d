//! The simulation's invariants.

use super::*;
use crate::placement::rule::{self, PeerEntry, Rule};

fn small(seed: u64) -> Config {
    Config { kill_trials: 10, lookups: 300, choices: vec![1, 4], attacks: 10, ..Config::new(1000, 50_000, seed) }
}

#[test]
fn simulated_groups_are_the_rules_groups() {
    let mut rng = StdRng::seed_from_u64(1);
    let space = network(300, &mut rng);
    let view: Vec<PeerEntry> = space.peers.iter().cloned().map(PeerEntry::new).collect();
    for _ in 0..300 {
        let key = random_key(&mut rng);
        for n in [3, 5, 9] {
            let sim: Vec<&[u8]> = group(&space, &key, n, rule::candidate_count(n))
                .into_iter()
                .map(|i| space.peers[i as usize].as_slice())
                .collect();
            let real: Vec<&[u8]> =
                rule::group(&key, &view, &Rule::new(n)).into_iter().map(|p| p.id.as_slice()).collect();
            assert_eq!(sim, real);
        }
    }
}

#[test]
fn invariants_at_a_thousand_nodes() {
    let r = run(&small(7));
    // balance: rendezvous over 4n candidates keeps the busiest node within 2x the mean
    for g in &r.groups {
        assert!(g.max_mean < 2.0 && g.max_mean > 1.0, "n = {}: max/mean {}", g.n, g.max_mean);
        assert!(g.min_mean > 0.2, "n = {}: min/mean {}", g.n, g.min_mean);
        let total: f64 = g.keys_per_lost * 1000.0;
        assert!((total - (50_000 * g.n) as f64).abs() < 1e-6, "every key has n distinct holders");
    }
    // loss falls with n at fixed churn, and the mean follows the hypergeometric law
    for (i, f) in r.config.kill.iter().enumerate() {
        let means: Vec<f64> = r.groups.iter().map(|g| g.loss[i].mean).collect();
        let expected: Vec<f64> = r.groups.iter().map(|g| g.loss[i].expected).collect();
        for w in expected.windows(2) {
            assert!(w[1] < w[0], "expected loss falls with n at {f}: {expected:?}");
        }
        if *f >= 0.05 {
            for w in means.windows(2) {
                assert!(w[1] < w[0], "simulated loss falls with n at {f}: {means:?}");
            }
            for (m, e) in means.iter().zip(&expected) {
                assert!((m - e).abs() < 0.5 * e + 2e-4, "simulated {m} vs hypergeometric {e} at {f}");
            }
        }
    }
    // lookups: O(log N) hops, and they find the true candidates
    assert!(r.lookup.exact > 0.99, "exact {}", r.lookup.exact);
    assert!(r.lookup.mean_hops >= 1.0 && r.lookup.mean_hops < 6.0, "hops {}", r.lookup.mean_hops);
    // c: XOR-closest alone balances worse than rendezvous over 4n candidates
    let c1 = r.choice.iter().find(|c| c.c == 1).unwrap();
    let c4 = r.choice.iter().find(|c| c.c == 4).unwrap();
    assert!(c1.small_median > c4.small_median);
    assert!(c4.small_worst < 2.0, "100 nodes, 1,000 keys: worst {}", c4.small_worst);
    assert!(c1.moves_join >= 0.99 && c1.moves_join < 1.01, "XOR-closest moves only the joiner's seats");
    assert!(c4.moves_join > 1.0, "a candidate set moves more than the joiner's seats");
    // the attack succeeds, at a cost of the model's order
    for s in &r.sybil {
        assert!(s.mean_ids > 0.0);
        assert!(s.mean_ids > s.model / 4.0 && s.mean_ids < s.model * 4.0, "{s:?}");
    }
    // the 100-node case: a fraction of a percent of the keys
    assert!(r.small.expected > 0.006 && r.small.expected < 0.007);
    assert!((r.small.mean - r.small.expected).abs() < 0.002, "{:?}", r.small);
}

#[test]
fn deterministic_for_a_seed() {
    let cfg = Config { keys: 5000, kill_trials: 3, lookups: 50, choices: vec![2], attacks: 3, ..small(3) };
    assert_eq!(run(&cfg), run(&cfg));
    let other = Config { seed: 4, ..cfg.clone() };
    assert_ne!(run(&cfg).groups, run(&other).groups);
}

#[test]
fn hypergeometric_tail_is_right() {
    // 100 nodes, 10 killed, 5 drawn: P(>= 3) = (120·4005 + 210·90 + 252) / C(100, 5)
    let p = hypergeometric_tail(100, 10, 5, 3);
    assert!((p - 499_752.0 / 75_287_520.0).abs() < 1e-12);
    assert!((hypergeometric_tail(10, 3, 3, 0) - 1.0).abs() < 1e-12);
    assert!(hypergeometric_tail(100, 1, 5, 2).is_sign_positive(), "an impossible loss is +0, not -0");
}
