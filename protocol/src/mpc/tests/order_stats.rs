//! Protocol tests of the order statistics (issue 16): the shuffle, and numpy.quantile / median /
//! percentile by shuffle-then-select, against plain sorting on the stored values, in both security
//! modes, with every opening counted and classified, and a party that corrupts the shuffle.

use super::*;

/// The stored values: rep / 2^20.
fn grid(v: &[f64]) -> Vec<f64> {
    v.iter().map(|x| crate::fixed::encode_float(*x).unwrap() as f64 / (1u64 << 20) as f64).collect()
}

/// numpy.quantile(x, q) with the default linear method.
fn ref_quantile(x: &[f64], q: f64) -> f64 {
    let mut s = x.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let (k, f) = super::super::quantile::positions(s.len(), &[q]).unwrap()[0];
    if f == 0.0 { s[k] } else { s[k] + f * (s[k + 1] - s[k]) }
}

struct Run {
    result: Result<OpResult, MpcError>,
    audits: Vec<Vec<AuditEntry>>,
    errors: Vec<MpcError>,
}

/// Runs `op` on `vals` in `security` mode; party `cheat.0` misbehaves as `cheat.1`.
#[allow(clippy::too_many_arguments)]
fn run_mode(
    n: usize,
    t: usize,
    op: &Op,
    vals: &[Value],
    seed: u64,
    security: Security,
    cheat: Option<(usize, Cheat)>,
    stored: bool,
) -> Run {
    let mut rng = StdRng::seed_from_u64(seed);
    let per_key: Vec<Vec<SharedInput>> = vals.iter().map(|v| share_value(v, n, t, &mut rng)).collect();
    let metas: Vec<_> = per_key.iter().map(|k| k[0].meta.clone()).collect();
    let op2 = op.clone();
    let res = super::super::bench::simulate_in(n, t, seed, security, move |mut p| {
        let inputs: Vec<SharedInput> = per_key.iter().map(|k| k[p.me()].clone()).collect();
        let op = op2.clone();
        async move {
            p.enable_audit();
            if let Some((who, how)) = cheat
                && who == p.me()
            {
                p.set_cheat(Some(how));
            }
            let work =
                async { if stored { run_stored(&mut p, &op, inputs).await } else { run(&mut p, &op, inputs).await } };
            let r = tokio::time::timeout(std::time::Duration::from_secs(300), work).await.expect("a party hung");
            (p.me(), r, p.audit().to_vec())
        }
    });
    let mut shares = Vec::new();
    let mut errors = Vec::new();
    let mut audits = Vec::new();
    for (i, r, a) in res {
        match r {
            Ok(s) => shares.push((i, s)),
            Err(e) => errors.push(e),
        }
        audits.push(a);
    }
    let result = if stored {
        let pts: Vec<(Fp, Vec<Fp>)> =
            shares.iter().map(|(i, s)| (shamir::x_of(*i), s.clone().into_stored().expect("stored").1)).collect();
        if pts.len() < t + 1 {
            Err(errors[0].clone())
        } else {
            let pr: Vec<(Fp, &[Fp])> = pts.iter().map(|(x, v)| (*x, v.as_slice())).collect();
            let v = shamir::reconstruct(&pr[..t + 1], t).expect("reconstruct");
            Ok(OpResult::Scalars(v.iter().map(|v| v.to_i128() as f64 / (1u64 << 20) as f64).collect()))
        }
    } else if let Some(e) = errors.iter().find(|e| matches!(e, MpcError::Integrity(_))).or(errors.first()) {
        Err(e.clone())
    } else {
        reveal(op, &metas, &shares, t, security)
    };
    Run { result, audits, errors }
}

fn values(r: &OpResult) -> Vec<f64> {
    match r {
        OpResult::Array { data: ArrayData::Float(v), .. } => v.clone(),
        OpResult::Scalars(v) => v.clone(),
        o => panic!("not a float result: {o:?}"),
    }
}

/// Every opening is masked, a comparison outcome (a bit), and no input value is ever opened.
/// Returns the number of outcome bits each party saw.
fn check_openings(audits: &[Vec<AuditEntry>], inputs: &[f64]) -> usize {
    let forbidden: Vec<Fp> = inputs.iter().map(|v| Fp::from_i128(crate::fixed::encode_float(*v).unwrap())).collect();
    let mut outcomes = Vec::new();
    for a in audits {
        let mut bits = 0;
        for e in a {
            match e.kind {
                OpenKind::Masked => {
                    for v in &e.values {
                        assert!(!forbidden.contains(v) || *v == Fp::ZERO, "opened an input value ({})", e.label);
                    }
                }
                OpenKind::Outcome => {
                    assert_eq!(e.label, "order");
                    assert!(e.values.iter().all(|v| *v == Fp::ZERO || *v == Fp::ONE), "an outcome is not a bit");
                    bits += e.values.len();
                }
                OpenKind::Output => panic!("a committee member reconstructed an output"),
            }
        }
        outcomes.push(bits);
    }
    assert!(outcomes.windows(2).all(|w| w[0] == w[1]), "parties saw different outcomes: {outcomes:?}");
    outcomes[0]
}

fn data(seed: u64, n: usize, ties: bool) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let v: Vec<f64> = (0..n)
        .map(|_| {
            if ties {
                rand::RngExt::random_range(&mut rng, -3i32..4) as f64 * 1.5
            } else {
                rand::RngExt::random_range(&mut rng, -1000.0..1000.0)
            }
        })
        .collect();
    grid(&v)
}

#[test]
fn quantiles_match_sorting_in_both_modes_with_openings_counted() {
    let qs = [0.0, 0.1, 0.25, 1.0 / 3.0, 0.5, 0.75, 0.9, 1.0];
    let mut case = 0u64;
    for security in [Security::SemiHonest, Security::Active] {
        for (nt, len, ties) in
            [((3, 1), 1, false), ((3, 1), 2, false), ((3, 1), 33, false), ((5, 2), 40, true), ((3, 1), 64, true)]
        {
            case += 1;
            let x = data(case, len, ties);
            // two keys, concatenated
            let vals = if len == 1 { vec![farr(&x)] } else { vec![farr(&x[..len / 3 + 1]), farr(&x[len / 3 + 1..])] };
            // median (scalar), and a list
            let median = run_mode(nt.0, nt.1, &Op::quantile(&[0.5], true), &vals, case, security, None, false);
            let got = values(median.result.as_ref().expect("median"));
            let want = ref_quantile(&x, 0.5);
            if len % 2 == 1 {
                assert_eq!(got, vec![want], "{security} n = {} N = {len}: odd-N median is exact", nt.0);
            } else {
                assert!(close(got[0], want, 1e-12, 1e-9), "{security} N = {len}: median {} vs {want}", got[0]);
            }
            let bits = check_openings(&median.audits, &x);
            assert!(bits <= 6 * len, "{bits} outcome bits for N = {len}");
            let list = run_mode(nt.0, nt.1, &Op::quantile(&qs, false), &vals, case + 100, security, None, false);
            let got = values(list.result.as_ref().expect("quantiles"));
            for (g, q) in got.iter().zip(qs) {
                let w = ref_quantile(&x, q);
                assert!(close(*g, w, 1e-12, 1e-9), "{security} N = {len} q = {q}: {g} vs {w}");
            }
            check_openings(&list.audits, &x);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, rng_seed: proptest::test_runner::RngSeed::Fixed(16), ..ProptestConfig::default() })]

    /// Random N (odd and even), random data with and without ties, random q: equal to sorting.
    #[test]
    fn a_quantile_is_the_sorted_datas(len in 1usize..90, ties in any::<bool>(), q in 0.0f64..=1.0, seed in any::<u64>(),
                                      nt in prop::sample::select(vec![(3usize, 1usize), (5, 2)])) {
        let x = data(seed, len, ties);
        let r = run_mode(nt.0, nt.1, &Op::quantile(&[q], true), &[farr(&x)], seed, Security::SemiHonest, None, false);
        let got = values(&r.result.expect("quantile"))[0];
        let want = ref_quantile(&x, q);
        prop_assert!(close(got, want, 1e-12, 1e-9), "N = {} q = {}: {} vs {}", len, q, got, want);
        check_openings(&r.audits, &x);
    }
}

#[test]
fn stored_quantiles_are_at_the_storage_scale() {
    let x = data(7, 41, true);
    for security in [Security::SemiHonest, Security::Active] {
        let r = run_mode(3, 1, &Op::quantile(&[0.5, 0.3], false), &[farr(&x)], 8, security, None, true);
        let got = values(&r.result.expect("stored"));
        // the median of 41 values is exact; 0.3 interpolates, within the truncation's t + 1 units
        assert_eq!(got[0], ref_quantile(&x, 0.5));
        assert!(
            (got[1] - ref_quantile(&x, 0.3)).abs() <= 3.0 / (1u64 << 20) as f64,
            "{} vs {}",
            got[1],
            ref_quantile(&x, 0.3)
        );
    }
}

#[test]
fn outcomes_of_equal_values_look_like_a_random_permutation() {
    // all values equal: without the secret tags the outcomes would be the same every run (the
    // pivot would always be the lowest); with them the pivot's rank is uniform
    let x = vec![2.5; 24];
    let mut first_rounds = std::collections::BTreeSet::new();
    for seed in 0..6 {
        let r = run_mode(3, 1, &Op::quantile(&[0.5], true), &[farr(&x)], 40 + seed, Security::SemiHonest, None, false);
        assert_eq!(values(&r.result.expect("median")), vec![2.5]);
        let first = r.audits[0].iter().find(|e| e.kind == OpenKind::Outcome).expect("an outcome opening");
        first_rounds.insert(first.values.iter().filter(|v| **v == Fp::ONE).count());
    }
    assert!(first_rounds.len() >= 3, "the pivot's rank hardly varies: {first_rounds:?}");
}

#[test]
fn a_party_that_corrupts_the_shuffle_makes_the_run_abort() {
    let x = data(9, 30, true);
    let op = Op::quantile(&[0.5], true);
    for (n, t) in [(3, 1), (5, 2)] {
        for who in 0..n {
            for how in [Cheat::Shuffle, Cheat::Open, Cheat::Output] {
                let r = run_mode(n, t, &op, &[farr(&x)], 50 + who as u64, Security::Active, Some((who, how)), false);
                match r.result {
                    Err(MpcError::Integrity(m)) if how != Cheat::Shuffle || m.contains("shuffle") => {}
                    other => panic!("n = {n}, party {who} cheating {how:?}: {other:?} (errors {:?})", r.errors),
                }
            }
        }
    }
}

#[test]
fn whether_a_cheated_shuffle_aborts_does_not_depend_on_the_data() {
    // Party 0 deals in the first round and swaps the tuples of elements 0 and 1 by adding
    // ±(1.0, 1): a check that the output is *some* permutation of the input would pass exactly
    // when x_1 − x_0 = 1.0, so the abort would tell the coalition that relation. Each round's
    // dealing is checked on its own (with a secret random vector in every tuple), so the run
    // aborts whatever the data: with the guess right as with it wrong.
    let op = Op::quantile(&[0.5], true);
    for (n, t) in [(3, 1), (5, 2)] {
        for (case, gap) in [("guess right", 1.0), ("guess wrong", 2.0)] {
            let mut x = data(21, 15, false);
            x[1] = x[0] + gap;
            let r = run_mode(n, t, &op, &[farr(&x)], 60, Security::Active, Some((0, Cheat::ShuffleGuess)), false);
            match r.result {
                Err(MpcError::Integrity(m)) => assert!(m.contains("shuffle"), "n = {n}, {case}: {m}"),
                other => panic!("n = {n}, {case}: the run did not abort: {other:?} (errors {:?})", r.errors),
            }
        }
    }
}

#[test]
fn an_error_cancelled_in_a_later_round_is_caught_in_the_round_that_made_it() {
    // party 0 deals in rounds 1 and 2: it adds 1 in round 1 and takes it back in round 2, so the
    // final output is again a permutation of the input (an end-to-end check would pass; with the
    // all-honest round between the two, passing would show where that round moved an element)
    let x = data(23, 12, false);
    for (n, t) in [(3, 1), (5, 2)] {
        let op = Op::quantile(&[0.5], true);
        let r = run_mode(n, t, &op, &[farr(&x)], 71, Security::Active, Some((0, Cheat::ShuffleCancel)), false);
        match r.result {
            Err(MpcError::Integrity(m)) => assert!(m.contains("round 1 "), "n = {n}: {m}"),
            other => panic!("n = {n}: {other:?} (errors {:?})", r.errors),
        }
    }
}

#[test]
fn members_of_a_shuffle_subset_that_derive_different_seeds_abort() {
    // party 0 sends party 1 another seed contribution than the rest of their subset sees
    let x = data(22, 12, false);
    for (n, t) in [(3, 1), (5, 2)] {
        let op = Op::quantile(&[0.5], true);
        let r = run_mode(n, t, &op, &[farr(&x)], 70, Security::Active, Some((0, Cheat::ShuffleSeed)), false);
        match r.result {
            Err(MpcError::Integrity(m)) => assert!(m.contains("different permutations"), "n = {n}: {m}"),
            other => panic!("n = {n}: {other:?} (errors {:?})", r.errors),
        }
    }
}

#[test]
fn out_of_range_q_and_empty_input_are_clear_errors() {
    let x = data(3, 10, false);
    for q in [-0.1, 1.5, f64::NAN] {
        let r = run_mode(3, 1, &Op::quantile(&[q], true), &[farr(&x)], 1, Security::SemiHonest, None, false);
        match r.result {
            Err(MpcError::Invalid(m)) => assert!(m.contains("range [0, 1]"), "{m}"),
            o => panic!("q = {q}: {o:?}"),
        }
    }
    let r = run_mode(3, 1, &Op::quantile(&[0.5], true), &[farr(&[])], 1, Security::SemiHonest, None, false);
    match r.result {
        Err(MpcError::Invalid(m)) => assert!(m.contains("empty"), "{m}"),
        o => panic!("{o:?}"),
    }
}

#[test]
fn the_shuffle_permutes_tuples_and_positions_are_numpys() {
    use super::super::quantile::{grant_spacing, positions};
    assert_eq!(positions(5, &[0.5]).unwrap(), vec![(2, 0.0)]);
    assert_eq!(positions(4, &[0.5]).unwrap(), vec![(1, 0.5)]);
    assert_eq!(positions(4, &[1.0, 0.0]).unwrap(), vec![(3, 0.0), (0, 0.0)]);
    assert_eq!(grant_spacing(100, &[0.5]).unwrap(), usize::MAX);
    assert_eq!(grant_spacing(101, &[0.25, 0.75]).unwrap(), 26);
    // the shuffle: the same permutation on both vectors, a permutation of the input, in both modes
    for security in [Security::SemiHonest, Security::Active] {
        let (n, t) = (5, 2);
        let a: Vec<Fp> = (0..50u64).map(|i| Fp::from_u64(i * 7 + 1)).collect();
        let b: Vec<Fp> = (0..50u64).map(|i| Fp::from_u64(1000 + i)).collect();
        let (sa, sb) = (share_fp(&a, n, t, 1), share_fp(&b, n, t, 2));
        let res = super::super::bench::simulate_in(n, t, 3, security, move |mut p| {
            let v = vec![sa[p.me()].clone(), sb[p.me()].clone()];
            async move { p.shuffle(&v).await.unwrap() }
        });
        let ya = open_all(&res.iter().map(|r| r[0].clone()).collect::<Vec<_>>(), t);
        let yb = open_all(&res.iter().map(|r| r[1].clone()).collect::<Vec<_>>(), t);
        assert_ne!(ya, a, "not shuffled");
        for (x, y) in ya.iter().zip(&yb) {
            let i = a.iter().position(|v| v == x).expect("a value of the input");
            assert_eq!(*y, b[i], "the vectors were permuted differently");
        }
        let mut sorted = ya.clone();
        sorted.sort_by_key(|v| v.value());
        assert_eq!(sorted, a);
    }
}

/// `ORDER_BENCH_N=10000,100000 cargo test -p enigma-protocol --release order_bench_table -- --ignored --nocapture`
#[test]
#[ignore]
fn order_bench_table() {
    let sizes: Vec<usize> = std::env::var("ORDER_BENCH_N")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000]);
    let modes = match std::env::var("ORDER_BENCH_MODE").as_deref() {
        Ok("active") => vec![Security::Active],
        Ok("semi-honest") => vec![Security::SemiHonest],
        _ => vec![Security::SemiHonest, Security::Active],
    };
    let parties: Vec<(usize, usize)> = match std::env::var("ORDER_BENCH_PARTIES").as_deref() {
        Ok("3") => vec![(3, 1)],
        Ok("5") => vec![(5, 2)],
        _ => vec![(3, 1), (5, 2)],
    };
    for security in modes {
        for &(n, t) in &parties {
            println!("{}", super::super::bench::run_order_in_memory(n, t, &sizes, security));
        }
    }
}
