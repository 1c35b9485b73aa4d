//! Property tests of the toolbox primitives (issue 16) against plain arithmetic, seeded, in both
//! security modes, with every opening counted and checked to be masked: the storage-range check
//! of stored outputs, the public rational scaling of Welch's test, histogram counts, exact
//! covariances and Welch's t and df.

use super::*;
use crate::mpc::bench::simulate_in;

/// Runs `op` in `security` and reveals it to the requester; also every party's audit.
fn run_op_in(
    n: usize,
    t: usize,
    security: Security,
    op: &Op,
    vals: &[Value],
    seed: u64,
) -> (Result<OpResult, MpcError>, Vec<Vec<AuditEntry>>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let per_key: Vec<Vec<SharedInput>> = vals.iter().map(|v| share_value(v, n, t, &mut rng)).collect();
    let metas: Vec<_> = per_key.iter().map(|k| k[0].meta.clone()).collect();
    let op2 = op.clone();
    let res = simulate_in(n, t, seed, security, move |mut p| {
        let inputs: Vec<SharedInput> = per_key.iter().map(|k| k[p.me()].clone()).collect();
        let op = op2.clone();
        async move {
            p.enable_audit();
            let r = run(&mut p, &op, inputs).await;
            (p.me(), r, p.audit().to_vec())
        }
    });
    let mut shares = Vec::new();
    let mut audits = Vec::new();
    for (i, r, a) in res {
        audits.push(a);
        match r {
            Ok(s) => shares.push((i, s)),
            Err(e) => return (Err(e), audits),
        }
    }
    (reveal(op, &metas, &shares, t, security), audits)
}

/// Every opening masked, and at least one (the primitive communicated).
fn assert_openings(audits: &[Vec<AuditEntry>]) -> usize {
    assert_masked_only(audits, &[]);
    let opened = audits[0].len();
    assert!(opened > 0, "no openings recorded");
    opened
}

fn security_of(active: bool) -> Security {
    if active { Security::Active } else { Security::SemiHonest }
}

fn ref_hist(x: &[f64], edges: &[f64]) -> Vec<i64> {
    let b = edges.len() - 1;
    let mut c = vec![0i64; b];
    for v in x {
        if *v < edges[0] || *v > edges[b] {
            continue;
        }
        let j = (0..b).rev().find(|&j| *v >= edges[j]).unwrap_or(0);
        c[j.min(b - 1)] += 1;
    }
    c
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, rng_seed: proptest::test_runner::RngSeed::Fixed(16), ..ProptestConfig::default() })]

    /// `outside_storage_range` is exactly [|v| ≥ 2^62] for values near and far from the bounds.
    #[test]
    fn storage_range_check_is_exact(nt in prop::sample::select(vec![(3usize, 1usize), (5, 2)]),
                                    active in any::<bool>(),
                                    near in prop::collection::vec((any::<bool>(), -3i128..3), 1..6),
                                    far in prop::collection::vec(-(1i128 << 100)..(1i128 << 100), 0..6),
                                    seed in any::<u64>()) {
        let (n, t) = nt;
        let mut v: Vec<i128> = near.iter().map(|(neg, d)| if *neg { -(1i128 << 62) + d } else { (1i128 << 62) + d }).collect();
        v.extend(far);
        let count = v.len();
        let shifted: Vec<Fp> = v.iter().map(|x| Fp::from_i128(*x + (1i128 << 125))).collect();
        let sv = share_fp(&shifted, n, t, seed);
        let res = simulate_in(n, t, seed, security_of(active), move |mut p| {
            let a = sv[p.me()].clone();
            async move {
                p.enable_audit();
                let bits = p.decompose(&a).await.unwrap();
                let out = p.outside_storage_range(&bits, count, 125).await.unwrap();
                (out, p.audit().to_vec())
            }
        });
        let got = open_all(&res.iter().map(|r| r.0.clone()).collect::<Vec<_>>(), t);
        for (x, g) in v.iter().zip(&got) {
            prop_assert_eq!(*g, Fp::from_u64(u64::from(x.abs() >= 1i128 << 62)), "value {}", x);
        }
        assert_openings(&res.iter().map(|r| r.1.clone()).collect::<Vec<_>>());
    }

    /// The public rational scaling of decomposed values: within nbits/2 units of v·num/den.
    #[test]
    fn rational_scaling_of_bits_is_within_rounding(v in 0u128..(1u128 << 125), num in 1u128..(1u128 << 40),
                                                   extra in 0u128..(1u128 << 60)) {
        let den = num + extra;
        let bits: Vec<Fp> = (0..127).map(|i| Fp::from_u64(((v >> i) & 1) as u64)).collect();
        let got = crate::mpc::ttest::bits_times_ratio(&bits, 125, num, den).unwrap().to_i128();
        // exact v·num/den by long division in u128 pieces
        let want = (v as f64) * (num as f64 / den as f64);
        prop_assert!((got as f64 - want).abs() <= 63.0 + want * 1e-15, "{} vs {}", got, want);
    }

    /// Histogram counts equal numpy's, for random values and random increasing edges.
    #[test]
    fn histogram_counts_equal_plain_counts(nt in prop::sample::select(vec![(3usize, 1usize), (5, 2)]),
                                           active in any::<bool>(),
                                           xs in prop::collection::vec(-50i32..50, 1..40),
                                           cuts in prop::collection::btree_set(-60i32..60, 2..6),
                                           seed in any::<u64>()) {
        let (n, t) = nt;
        let x: Vec<f64> = xs.iter().map(|v| *v as f64 * 0.5).collect();
        let edges: Vec<f64> = cuts.iter().map(|c| *c as f64 * 0.5 + 0.25).collect();
        let (r, audits) = run_op_in(n, t, security_of(active), &Op::histogram(&edges), &[farr(&x)], seed);
        let got = match r.unwrap() {
            OpResult::Array { data: ArrayData::Int(v), .. } => v,
            o => panic!("{o:?}"),
        };
        prop_assert_eq!(got, ref_hist(&x, &edges));
        assert_openings(&audits);
    }

    /// numpy.cov is exact on the stored values (the revealed divisor is public).
    #[test]
    fn cov_equals_plain_covariance(nt in prop::sample::select(vec![(3usize, 1usize), (5, 2)]),
                                   active in any::<bool>(),
                                   obs in prop::collection::vec((-1000i32..1000, -1000i32..1000), 3..30),
                                   seed in any::<u64>()) {
        let (n, t) = nt;
        let k = obs.len();
        let a: Vec<f64> = obs.iter().map(|o| o.0 as f64 / 8.0).collect();
        let b: Vec<f64> = obs.iter().map(|o| o.1 as f64 / 4.0).collect();
        let mut flat = a.clone();
        flat.extend(&b);
        let m = Value::Array(Array { shape: vec![2, k], data: ArrayData::Float(flat) });
        let (r, audits) = run_op_in(n, t, security_of(active), &Op::Cov { rowvar: true, ddof: 1 }, &[m], seed);
        let got = match r.unwrap() {
            OpResult::Array { data: ArrayData::Float(v), .. } => v,
            o => panic!("{o:?}"),
        };
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (ma, mb) = (mean(&a), mean(&b));
        let c = |x: &[f64], mx: f64, y: &[f64], my: f64| {
            x.iter().zip(y).map(|(p, q)| (p - mx) * (q - my)).sum::<f64>() / (k - 1) as f64
        };
        let want = [c(&a, ma, &a, ma), c(&a, ma, &b, mb), c(&b, mb, &a, ma), c(&b, mb, &b, mb)];
        for (g, w) in got.iter().zip(&want) {
            prop_assert!(close(*g, *w, 1e-12, 1e-12), "{:?} vs {:?}", got, want);
        }
        assert_openings(&audits);
    }

    /// Welch's t and df equal scipy's definitions.
    #[test]
    fn welch_equals_plain_formula(nt in prop::sample::select(vec![(3usize, 1usize), (5, 2)]),
                                  active in any::<bool>(),
                                  a in prop::collection::vec(-1000i32..1000, 2..25),
                                  b in prop::collection::vec(-1000i32..1000, 2..25),
                                  spread in 1u32..200,
                                  seed in any::<u64>()) {
        let (n, t) = nt;
        let a: Vec<f64> = a.iter().map(|v| *v as f64 / 16.0).collect();
        let b: Vec<f64> = b.iter().map(|v| 3.0 + *v as f64 * spread as f64 / 64.0).collect();
        let (r, audits) = run_op_in(n, t, security_of(active), &Op::TtestWelch, &[farr(&a), farr(&b)], seed);
        let (na, nb) = (a.len() as f64, b.len() as f64);
        let (ma, mb) = (a.iter().sum::<f64>() / na, b.iter().sum::<f64>() / nb);
        let qa = a.iter().map(|v| (v - ma) * (v - ma)).sum::<f64>() / (na - 1.0) / na;
        let qb = b.iter().map(|v| (v - mb) * (v - mb)).sum::<f64>() / (nb - 1.0) / nb;
        match r.unwrap() {
            OpResult::Ttest { statistic, df, .. } => {
                if qa + qb == 0.0 {
                    prop_assert!(!statistic.is_finite());
                } else {
                    let wt = (ma - mb) / (qa + qb).sqrt();
                    let wdf = (qa + qb).powi(2) / (qa * qa / (na - 1.0) + qb * qb / (nb - 1.0));
                    prop_assert!(close(statistic, wt, 1e-7, 1e-8), "t {} vs {}", statistic, wt);
                    prop_assert!(close(df, wdf, 1e-7, 1e-9), "df {} vs {}", df, wdf);
                }
            }
            o => panic!("{o:?}"),
        }
        assert_openings(&audits);
    }
}
