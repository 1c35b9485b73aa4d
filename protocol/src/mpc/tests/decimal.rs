//! Decimal storage scales (issue 15): for random decimal data (random decimals d, length N,
//! offset, spread) every op's result matches the exact rational reference, computed here from the
//! integer representatives, within the targets; stored results land at the scale they say;
//! keys at different decimal scales are rescaled exactly to the finest (a value beyond its range is
//! the clear error), a binary 2^-20 key next to a decimal one is refused; and every opening is masked.

use super::*;

/// The requester's result, and with `store` the stored value with its scale.
type Outcome = Result<(OpResult, Option<(Value, NumScale)>), MpcError>;

/// Runs `op` (revealed, or `store`d) on `vals`, each key stored at its scale in `scales`: the
/// requester's result, or the stored value with its scale, and every party's audit (the one
/// runner of `tests.rs`, `simulate_op`).
fn run_at(
    n: usize,
    t: usize,
    op: &Op,
    vals: &[Value],
    scales: &[NumScale],
    store: bool,
    seed: u64,
) -> (Outcome, Vec<Vec<AuditEntry>>) {
    if !store {
        let (r, audits, _) = run_op_at(n, t, op, vals, scales, seed);
        return (r.map(|r| (r, None)), audits);
    }
    let (r, _, audits, _) = open_stored(op, simulate_op(n, t, op, vals, scales, seed, true), t);
    (r.map(|v| (OpResult::Scalars(vec![]), Some(v))), audits)
}

fn scalar(r: &OpResult) -> f64 {
    match r {
        OpResult::Scalars(v) => v[0],
        o => panic!("{o:?}"),
    }
}

/// Decimal data: rep_i = offset·10^d + spread_i, as the numbers rep_i / 10^d (exact decimals).
fn decimal_data(d: u32, n: usize, offset: i64, spread: i64, seed: u64) -> (Vec<i128>, Vec<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let p = 10i128.pow(d);
    let reps: Vec<i128> = (0..n).map(|_| offset as i128 * p + rng.random_range(-spread..=spread) as i128).collect();
    let xs = reps.iter().map(|r| format!("{r}e-{d}").parse::<f64>().unwrap()).collect();
    (reps, xs)
}

/// |got − want| within `rel` of |want|, or of `scale` where the exact value is near 0.
fn within(got: f64, want: f64, rel: f64, scale: f64) -> bool {
    (got - want).abs() <= rel * want.abs().max(scale)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, rng_seed: proptest::test_runner::RngSeed::Fixed(15), ..ProptestConfig::default() })]

    #[test]
    fn mean_var_std_of_decimal_data_match_the_exact_values(
        d in 0u32..=9,
        n in 1usize..40,
        offset in prop_oneof![Just(0i64), Just(1), Just(1000), Just(1_000_000)],
        spread in 1i64..1_000_000,
        seed in 0u64..1000,
    ) {
        let (reps, xs) = decimal_data(d, n, offset, spread, seed);
        let scale = NumScale::decimal(d as i64).unwrap();
        let v = farr(&xs);
        let nn = n as i128;
        let sum: i128 = reps.iter().sum();
        let sq: i128 = reps.iter().map(|r| r * r).sum();
        let p = 10f64.powi(d as i32);
        let mean = sum as f64 / n as f64 / p;
        let w = nn * sq - sum * sum; // N²·var·10^(2d), exact
        let var = w as f64 / (n as f64 * n as f64) / (p * p);
        let mag = xs.iter().map(|x| x.abs()).sum::<f64>() / n as f64;
        let (r, audits) = run_at(3, 1, &Op::Mean, std::slice::from_ref(&v), &[scale], false, seed);
        let got = scalar(&r.unwrap().0);
        prop_assert!(within(got, mean, 1e-12, mag), "mean {got} vs {mean}");
        assert_masked_only(&audits, &[]);
        let (r, _) = run_at(3, 1, &Op::Var, std::slice::from_ref(&v), &[scale], false, seed);
        let got = scalar(&r.unwrap().0);
        prop_assert!(within(got, var, 1e-12, 0.0), "var {got} vs {var} (d {d}, n {n})");
        let (r, _) = run_at(3, 1, &Op::Std, std::slice::from_ref(&v), &[scale], false, seed);
        let got = scalar(&r.unwrap().0);
        prop_assert!(within(got, var.sqrt(), 1e-12, 0.0), "std {got} vs {}", var.sqrt());
    }

    #[test]
    fn dot_of_decimal_data_is_exact(d in 0u32..=6, n in 1usize..20, spread in 1i64..100_000, seed in 0u64..1000) {
        let (ra, xa) = decimal_data(d, n, 0, spread, seed);
        let (rb, xb) = decimal_data(d, n, 3, spread, seed + 1);
        let scale = NumScale::decimal(d as i64).unwrap();
        let exact: i128 = ra.iter().zip(&rb).map(|(a, b)| a * b).sum();
        let want: f64 = format!("{exact}e-{}", 2 * d).parse().unwrap();
        let (r, audits) = run_at(3, 1, &Op::Dot, &[farr(&xa), farr(&xb)], &[scale, scale], false, seed);
        let got = match r.unwrap().0 {
            OpResult::Array { data: ArrayData::Float(v), .. } => v[0],
            o => panic!("{o:?}"),
        };
        prop_assert_eq!(got, want, "the nearest double to the exact sum of products");
        assert_masked_only(&audits, &[]);
    }
}

#[test]
fn a_long_decimal_dot_product_is_exact() {
    // 10^4 one-decimal values: the exact path has no truncation after it, so its sums may use the
    // field's range (the rescaled path's bound refuses this length)
    let (ra, xa) = decimal_data(6, 10_000, 1, 300_000, 21);
    let (rb, xb) = decimal_data(6, 10_000, 2, 300_000, 22);
    let exact: i128 = ra.iter().zip(&rb).map(|(a, b)| a * b).sum();
    let want: f64 = format!("{exact}e-12").parse().unwrap();
    let s = NumScale::DEFAULT;
    let (r, _) = run_at(3, 1, &Op::Dot, &[farr(&xa), farr(&xb)], &[s, s], false, 23);
    match r.unwrap().0 {
        OpResult::Array { data: ArrayData::Float(v), .. } => assert_eq!(v[0], want),
        o => panic!("{o:?}"),
    }
}

#[test]
fn one_decimal_values_around_1_4_have_numpy_exact_statistics() {
    // the example: values with one decimal, ~0.1 spread around 1.4
    let xs: Vec<f64> = (0..500).map(|i| [1.3, 1.5, 1.7, 1.2, 1.4][i % 5]).collect();
    let v = farr(&xs);
    let scale = NumScale::DEFAULT;
    // exact: mean 1.42, var = Σ(x − 1.42)²/N = (0.0144 + 0.0064 + 0.0784 + 0.0484 + 0.0004)/5
    let var: f64 = (0.0144 + 0.0064 + 0.0784 + 0.0484 + 0.0004) / 5.0;
    let (r, _) = run_at(3, 1, &Op::Mean, std::slice::from_ref(&v), &[scale], false, 1);
    assert!(within(scalar(&r.unwrap().0), 1.42, 1e-15, 0.0));
    let (r, _) = run_at(3, 1, &Op::Std, std::slice::from_ref(&v), &[scale], false, 1);
    let got = scalar(&r.unwrap().0);
    assert!(within(got, var.sqrt(), 1e-14, 0.0), "std {got} vs {}", var.sqrt());
    // small magnitudes keep their digits: 0.00123-like values
    let small: Vec<f64> = (0..200).map(|i| [0.00123, 0.00125, 0.00121, 0.00124][i % 4]).collect();
    let sm = farr(&small);
    let mean: f64 = small.iter().sum::<f64>() / 200.0;
    let (r, _) = run_at(3, 1, &Op::Mean, std::slice::from_ref(&sm), &[NumScale::Decimal(9)], false, 2);
    assert!(within(scalar(&r.unwrap().0), mean, 1e-12, 0.0));
}

#[test]
fn decimal_edges_popmean_and_quantiles_are_read_at_the_keys_scale() {
    let xs = [0.1, 0.2, 0.3, 0.30000001, 0.4, 0.5];
    let s8 = NumScale::Decimal(8);
    // edges at 0.3 exactly: 0.3 is in [0.3, 0.4), 0.30000001 too; 0.2 in [0.1, 0.3)
    let (r, _) = run_at(3, 1, &Op::histogram(&[0.1, 0.3, 0.4, 0.5]), &[farr(&xs)], &[s8], false, 3);
    match r.unwrap().0 {
        OpResult::Array { data: ArrayData::Int(c), .. } => assert_eq!(c, vec![2, 2, 2]),
        o => panic!("{o:?}"),
    }
    // the median of the six: (0.3 + 0.30000001) / 2
    let (r, _) = run_at(3, 1, &Op::quantile(&[0.5], true), &[farr(&xs)], &[s8], false, 4);
    match r.unwrap().0 {
        OpResult::Array { data: ArrayData::Float(v), .. } => assert!((v[0] - 0.300000005).abs() < 1e-15, "{v:?}"),
        o => panic!("{o:?}"),
    }
    // popmean 0.3 at 8 decimals: the one-sample t of [0.3, 0.3, 0.30000002] is finite and positive
    let (r, _) = run_at(3, 1, &Op::ttest_1samp(0.3), &[farr(&[0.3, 0.3, 0.30000002])], &[s8], false, 5);
    match r.unwrap().0 {
        OpResult::Ttest { statistic, .. } => assert!((statistic - 1.0).abs() < 1e-6, "{statistic}"),
        o => panic!("{o:?}"),
    }
}

#[test]
fn stored_results_land_at_the_scale_they_say() {
    let s = NumScale::DEFAULT;
    let xs = farr(&[1.5, 2.25, 3.125, 4.0]);
    let (r, _) = run_at(3, 1, &Op::Mean, std::slice::from_ref(&xs), &[s], true, 6);
    let (v, sc) = r.unwrap().1.unwrap();
    assert_eq!(sc, s);
    assert_eq!(v, Value::Float(2.71875)); // exact at 10^-6
    let (r, _) = run_at(3, 1, &Op::Var, std::slice::from_ref(&xs), &[s], true, 7);
    let (v, sc) = r.unwrap().1.unwrap();
    assert_eq!(sc, s);
    let Value::Float(var) = v else { panic!("{v:?}") };
    assert!((var - 0.8779296875).abs() <= 2e-6, "{var}");
    // linregress: slope and r do not depend on the scale, so the array is at the binary scale
    let x = farr(&[1.0, 2.0, 3.0, 5.0]);
    let y = farr(&[2.0, 4.5, 5.5, 11.0]);
    let (r, _) = run_at(3, 1, &Op::Linregress, &[x, y], &[s, s], true, 8);
    let (v, sc) = r.unwrap().1.unwrap();
    assert_eq!(sc, NumScale::Binary20);
    let Value::Array(Array { data: ArrayData::Float(a), .. }) = v else { panic!("{v:?}") };
    // numpy: slope 2.1, intercept −0.025... from the exact least squares
    let (xm, ym) = (11.0 / 4.0, 23.0 / 4.0);
    let sxx = [1.0f64, 2.0, 3.0, 5.0].iter().map(|v| (v - xm) * (v - xm)).sum::<f64>();
    let sxy = [1.0f64, 2.0, 3.0, 5.0].iter().zip([2.0, 4.5, 5.5, 11.0]).map(|(a, b)| (a - xm) * (b - ym)).sum::<f64>();
    let slope = sxy / sxx;
    assert!((a[0] - slope).abs() < 1e-5 && (a[1] - (ym - slope * xm)).abs() < 1e-5, "{a:?}");
    // inv at 10^-6: stored at the input's own scale
    let m = Value::Array(Array { shape: vec![2, 2], data: ArrayData::Float(vec![4.0, 1.0, 2.0, 3.0]) });
    let (r, _) = run_at(3, 1, &Op::Inv, &[m], &[s], true, 9);
    let (v, sc) = r.unwrap().1.unwrap();
    assert_eq!(sc, s);
    let Value::Array(Array { data: ArrayData::Float(a), .. }) = v else { panic!("{v:?}") };
    for (g, w) in a.iter().zip([0.3, -0.1, -0.2, 0.4]) {
        assert!((g - w).abs() < 1e-5, "{a:?}");
    }
}

#[test]
fn a_binary_key_next_to_a_decimal_one_is_refused_with_the_fix() {
    let (r, _) =
        run_at(3, 1, &Op::Mean, &[farr(&[1.0]), farr(&[2.0])], &[NumScale::DEFAULT, NumScale::Binary20], false, 10);
    assert!(
        matches!(r, Err(MpcError::Unsupported(ref m)) if m.contains("different scales") && m.contains("store it again")),
        "{r:?}"
    );
    // a dot product too (it needs no rescaling between decimal scales, but 2^-20 is not one)
    let (r, _) =
        run_at(3, 1, &Op::Dot, &[farr(&[1.0]), farr(&[2.0])], &[NumScale::Binary20, NumScale::Decimal(2)], false, 10);
    assert!(matches!(r, Err(MpcError::Unsupported(ref m)) if m.contains("different scales")), "{r:?}");
    // the old binary scale still computes on its own
    let (r, _) = run_at(3, 1, &Op::Mean, &[farr(&[1.5, 2.5])], &[NumScale::Binary20], false, 11);
    assert!((scalar(&r.unwrap().0) - 2.0).abs() < 1e-12);
}

/// The exact decimal text rep / 10^d as the nearest double.
fn dec(rep: i128, d: u32) -> f64 {
    format!("{rep}e-{d}").parse().unwrap()
}

fn floats(r: &OpResult) -> Vec<f64> {
    match r {
        OpResult::Array { data: ArrayData::Float(v), .. } => v.clone(),
        OpResult::Scalars(v) => v.clone(),
        o => panic!("{o:?}"),
    }
}

/// Exact integer aggregates of (x, y) representatives: (N·Σxy − ΣxΣy), i.e. N²·cov in rep units².
fn ncov(x: &[i128], y: &[i128]) -> i128 {
    let n = x.len() as i128;
    n * x.iter().zip(y).map(|(a, b)| a * b).sum::<i128>() - x.iter().sum::<i128>() * y.iter().sum::<i128>()
}

#[test]
fn keys_at_2_and_6_decimals_are_rescaled_exactly_inside_the_mpc() {
    let (d2, d6) = (NumScale::Decimal(2), NumScale::Decimal(6));
    let n = 24;
    // a: two decimals up to ±1000; b: six decimals around 1
    let (ra, xa) = decimal_data(2, n, 0, 100_000, 31);
    let (rb, xb) = decimal_data(6, n, 1, 600_000, 32);
    let (a, b) = (farr(&xa), farr(&xb));
    // the references, exact, in representatives at the finer scale 10^-6
    let ra6: Vec<i128> = ra.iter().map(|r| r * 10_000).collect();
    let all: Vec<i128> = ra6.iter().chain(&rb).copied().collect();
    let nn = all.len() as f64;
    let forbidden: Vec<Fp> = ra.iter().chain(&ra6).chain(&rb).map(|r| Fp::from_i128(*r)).collect();
    let mag = all.iter().map(|r| r.abs() as f64).sum::<f64>() / nn / 1e6;
    let keys = [a.clone(), b.clone()];
    let sc = [d2, d6];

    let (r, audits) = run_at(3, 1, &Op::Mean, &keys, &sc, false, 40);
    let mean = all.iter().sum::<i128>() as f64 / nn / 1e6;
    assert!(within(scalar(&r.unwrap().0), mean, 1e-12, mag), "mean");
    assert_masked_only(&audits, &forbidden);
    let w = ncov(&all, &all) as f64 / (nn * nn) / 1e12; // var, from the exact N²·var·10^12
    let (r, _) = run_at(3, 1, &Op::Var, &keys, &sc, false, 41);
    assert!(within(scalar(&r.unwrap().0), w, 1e-12, 0.0), "var");
    let (r, _) = run_at(3, 1, &Op::Std, &keys, &sc, false, 42);
    assert!(within(scalar(&r.unwrap().0), w.sqrt(), 1e-12, 0.0), "std");
    let (r, _) = run_at(3, 1, &Op::Max, &keys, &sc, false, 43);
    assert_eq!(floats(&r.unwrap().0), vec![dec(*all.iter().max().unwrap(), 6)], "max");
    let (r, audits) = run_at(3, 1, &Op::Min, &keys, &sc, false, 44);
    assert_eq!(floats(&r.unwrap().0), vec![dec(*all.iter().min().unwrap(), 6)], "min");
    assert_masked_only(&audits, &forbidden);

    // scalar keys: 1.2500001 at 7 decimals beats 1.25 at 2 (which 2 decimals cannot tell apart)
    let (r, _) =
        run_at(3, 1, &Op::Max, &[Value::Float(1.25), Value::Float(1.2500001)], &[d2, NumScale::Decimal(7)], false, 45);
    assert_eq!(r.unwrap().0, OpResult::KeyIndex(1));

    // dot: a at 10^-2 times b at 10^-6 is exact at 10^-8, no rescaling
    let exact: i128 = ra.iter().zip(&rb).map(|(x, y)| x * y).sum();
    let (r, audits) = run_at(3, 1, &Op::Dot, &keys, &sc, false, 46);
    assert_eq!(floats(&r.unwrap().0), vec![dec(exact, 8)], "dot");
    assert_masked_only(&audits, &forbidden);
    // stored: divided by 10^2 to the finer scale, within t/2 + 1 units of 10^-6, and it says so
    let (r, _) = run_at(3, 1, &Op::Dot, &keys, &sc, true, 47);
    let (v, s) = r.unwrap().1.unwrap();
    assert_eq!(s, d6);
    let Value::Float(got) = v else { panic!("{v:?}") };
    assert!((got - dec(exact, 8)).abs() <= 1.5e-6, "stored dot {got} vs {}", dec(exact, 8));
    // integers at two scales: exact
    let (r, _) = run_at(3, 1, &Op::Dot, &[Value::Int(7), Value::Int(-6)], &sc, false, 48);
    assert!(matches!(r.unwrap().0, OpResult::Array { data: ArrayData::Int(ref v), .. } if v == &vec![-42]));

    // linregress of y at 10^-6 on x at 10^-2
    let (sxx, sxy, syy) = (ncov(&ra6, &ra6) as f64, ncov(&ra6, &rb) as f64, ncov(&rb, &rb) as f64);
    let slope = sxy / sxx;
    let (mx, my) = (ra6.iter().sum::<i128>() as f64 / 1e6 / n as f64, rb.iter().sum::<i128>() as f64 / 1e6 / n as f64);
    let intercept = my - slope * mx;
    let rv = sxy / (sxx * syy).sqrt();
    let (r, audits) = run_at(3, 1, &Op::Linregress, &keys, &sc, false, 49);
    match r.unwrap().0 {
        OpResult::Linregress { slope: s, intercept: i, r_value, .. } => {
            assert!(within(s, slope, 1e-9, 0.0), "slope {s} vs {slope}");
            assert!(within(i, intercept, 1e-9, my.abs() + slope.abs() * mx.abs()), "intercept {i} vs {intercept}");
            assert!((r_value - rv).abs() <= 1e-9, "r {r_value} vs {rv}");
        }
        o => panic!("{o:?}"),
    }
    assert_masked_only(&audits, &forbidden);

    // the median of the 48 values: (y_(23) + y_(24)) / 2, exact at 10^-7
    let mut sorted = all.clone();
    sorted.sort();
    let med = dec(5 * (sorted[23] + sorted[24]), 7);
    let (r, _) = run_at(3, 1, &Op::quantile(&[0.5], true), &keys, &sc, false, 50);
    let got = floats(&r.unwrap().0)[0];
    assert!(within(got, med, 1e-15, 0.0), "median {got} vs {med}");

    // a histogram over both: the edges at the finer scale, the counts exact
    let edges = [-2000.0, 0.0, 0.5, 1.0, 1.5, 2000.0];
    let er: Vec<i128> = edges.iter().map(|e| (*e * 1e6) as i128).collect();
    let mut want = vec![0i64; edges.len() - 1];
    for v in &all {
        let j = (0..edges.len() - 1)
            .find(|&j| *v >= er[j] && (*v < er[j + 1] || (j == edges.len() - 2 && *v == er[j + 1])));
        if let Some(j) = j {
            want[j] += 1;
        }
    }
    let (r, _) = run_at(3, 1, &Op::histogram(&edges), &keys, &sc, false, 51);
    assert!(matches!(r.unwrap().0, OpResult::Array { data: ArrayData::Int(ref c), .. } if c == &want), "{want:?}");

    // the pooled two-sample t-test of a against b
    let (ssa, ssb) = (ncov(&ra6, &ra6) as f64 / n as f64 / 1e12, ncov(&rb, &rb) as f64 / n as f64 / 1e12);
    let sp2 = (ssa + ssb) / (2 * n - 2) as f64;
    let t = (mx - my) / (sp2 * 2.0 / n as f64).sqrt();
    let (r, _) = run_at(3, 1, &Op::TtestInd, &keys, &sc, false, 52);
    match r.unwrap().0 {
        OpResult::Ttest { statistic, df, .. } => {
            assert!(within(statistic, t, 1e-6, 0.0), "t {statistic} vs {t}");
            assert_eq!(df, (2 * n - 2) as f64);
        }
        o => panic!("{o:?}"),
    }

    // one stored result: the mean of both keys, at 10^-6 (within t/2 + 1 units), and it says so
    let (r, _) = run_at(3, 1, &Op::Mean, &keys, &sc, true, 53);
    let (v, s) = r.unwrap().1.unwrap();
    assert_eq!(s, d6);
    let Value::Float(got) = v else { panic!("{v:?}") };
    assert!((got - mean).abs() <= 1.5e-6, "stored mean {got} vs {mean}");
}

/// The least-squares solution of y on [1, x1, x2] (x row-major, n × 2) by the normal equations in
/// f64 (well conditioned here): the reference of the lstsq tests.
fn ols3(x: &[f64], y: &[f64]) -> Vec<f64> {
    let n = y.len();
    let rows: Vec<[f64; 3]> = (0..n).map(|i| [1.0, x[2 * i], x[2 * i + 1]]).collect();
    let mut m = [[0.0f64; 4]; 3];
    for (row, yv) in rows.iter().zip(y) {
        for r in 0..3 {
            for c in 0..3 {
                m[r][c] += row[r] * row[c];
            }
            m[r][3] += row[r] * yv;
        }
    }
    for p in 0..3 {
        for r in 0..3 {
            if r != p {
                let f = m[r][p] / m[p][p];
                let pivot = m[p];
                for (v, w) in m[r].iter_mut().zip(pivot) {
                    *v -= f * w;
                }
            }
        }
    }
    (0..3).map(|i| m[i][3] / m[i][i]).collect()
}

#[test]
fn lstsq_on_keys_at_two_scales_solves_the_exact_system() {
    // y = 2.5 + 0.75·x1 − 1.25·x2 + noise, X at 10^-1, y at 10^-4
    let n = 12;
    let x: Vec<f64> = (0..n).flat_map(|i| [(i as f64) * 0.5 - 2.0, ((i * 7) % 5) as f64 + 0.1]).collect();
    let y: Vec<f64> = (0..n)
        .map(|i| {
            let (a, b) = (x[2 * i], x[2 * i + 1]);
            let v = 2.5 + 0.75 * a - 1.25 * b + [0.0123, -0.0456, 0.0078][i % 3];
            format!("{v:.4}").parse().unwrap()
        })
        .collect();
    let xm = Value::Array(Array { shape: vec![n, 2], data: ArrayData::Float(x.clone()) });
    let beta = ols3(&x, &y);
    let (r, _) = run_at(
        3,
        1,
        &Op::Lstsq { intercept: true },
        &[xm.clone(), farr(&y)],
        &[NumScale::Decimal(1), NumScale::Decimal(4)],
        false,
        54,
    );
    let got = floats(&r.unwrap().0);
    for (g, w) in got.iter().zip(&beta) {
        assert!((g - w).abs() <= 1e-6 * w.abs().max(1.0), "{got:?} vs {beta:?}");
    }
    // stored: [intercept, β_1, β_2] at 2^-20, the intercept brought there from 10^-4 in the MPC
    let (r, audits) = run_at(
        3,
        1,
        &Op::Lstsq { intercept: true },
        &[xm.clone(), farr(&y)],
        &[NumScale::Decimal(1), NumScale::Decimal(4)],
        true,
        55,
    );
    let (v, sc) = r.unwrap().1.unwrap();
    assert_eq!(sc, NumScale::Binary20);
    let Value::Array(Array { data: ArrayData::Float(a), .. }) = v else { panic!("{v:?}") };
    for (g, w) in a.iter().zip(&beta) {
        assert!((g - w).abs() <= 4e-6 * w.abs().max(1.0), "stored {a:?} vs {beta:?}");
    }
    assert_masked_only(&audits, &[]);
    // a large intercept at the default 10^-6 (beyond 2^42·10^-6, where the old check on the
    // representative would have refused it) and at 10^-0; one beyond 2^42 is out of range
    for (d, c) in [(6u8, 1.0e7), (0, -3.0e6)] {
        let yc: Vec<f64> = y.iter().map(|v| format!("{:.*}", d as usize, v + c).parse().unwrap()).collect();
        let xc: Vec<f64> = x.iter().map(|v| format!("{:.*}", d as usize, v).parse().unwrap()).collect();
        let want = ols3(&xc, &yc);
        let s = NumScale::Decimal(d);
        let xcm = Value::Array(Array { shape: vec![n, 2], data: ArrayData::Float(xc) });
        let (r, _) = run_at(3, 1, &Op::Lstsq { intercept: true }, &[xcm, farr(&yc)], &[s, s], true, 56);
        let Value::Array(Array { data: ArrayData::Float(a), .. }) = r.unwrap().1.unwrap().0 else { panic!() };
        for (g, w) in a.iter().zip(&want) {
            assert!((g - w).abs() <= 4e-6 * w.abs().max(1.0), "stored at 10^-{d}: {a:?} vs {want:?}");
        }
    }
    let yc: Vec<f64> = y.iter().map(|v| v + 5.0e12).collect();
    let s = NumScale::Decimal(0);
    let (r, _) = run_at(3, 1, &Op::Lstsq { intercept: true }, &[xm, farr(&yc)], &[s, s], true, 57);
    assert!(matches!(r, Err(MpcError::OutOfRange(_))), "{r:?}");
}

#[test]
fn a_mix_beyond_the_finer_scales_range_is_the_clear_error() {
    // at 10^-6 the range is |x| ≤ ⌊(2^62 − 1)/10^6⌋·10^-6 = 4611686018427.387903; an integer key at 10^0
    // holds 4611686018427 (fits after rescaling) and 4611686018428 (does not)
    let (d0, d6) = (NumScale::Decimal(0), NumScale::DEFAULT);
    let fits =
        Value::Array(Array { shape: vec![2], data: ArrayData::Int(vec![-4_611_686_018_427, 4_611_686_018_427]) });
    let (r, _) = run_at(3, 1, &Op::Max, &[fits, farr(&[0.5])], &[d0, d6], false, 60);
    assert_eq!(floats(&r.unwrap().0), vec![4_611_686_018_427.0]);
    for big in [4_611_686_018_428i64, -4_611_686_018_428, 1 << 61] {
        let over = Value::Array(Array { shape: vec![2], data: ArrayData::Int(vec![3, big]) });
        for (op, store) in [(Op::Mean, false), (Op::Max, false), (Op::Var, true), (Op::Linregress, false)] {
            let (r, audits) = run_at(3, 1, &op, &[over.clone(), farr(&[0.5, 0.25])], &[d0, d6], store, 61);
            assert!(
                matches!(r, Err(MpcError::OutOfRange(ref m)) if m.contains("different decimal scales") && m.contains("10^-6")),
                "{op:?} of {big}: {r:?}"
            );
            assert_masked_only(&audits, &[Fp::from_i128(big as i128), Fp::from_i128(big as i128 * 1_000_000)]);
        }
    }
}

/// a·b as a 256-bit (hi, lo).
fn mul_wide(a: u128, b: u128) -> (u128, u128) {
    let (a1, a0) = (a >> 64, a & u64::MAX as u128);
    let (b1, b0) = (b >> 64, b & u64::MAX as u128);
    let (p00, p01, p10, p11) = (a0 * b0, a0 * b1, a1 * b0, a1 * b1);
    let mid = (p00 >> 64) + (p01 & u64::MAX as u128) + (p10 & u64::MAX as u128);
    let lo = (p00 & u64::MAX as u128) | (mid << 64);
    (p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64), lo)
}

/// scipy.stats.linregress's (slope, r, p, std_err, ρ = 1 − r²) from the integer representatives,
/// with the residual D = Cxx·Cyy − Cxy² exact (256 bits) and one rounding per quotient, so ρ, t
/// and std_err are exact to a few ulps even when 1 − r² is 10^-15.
fn exact_linregress(xr: &[i128], yr: &[i128]) -> (f64, f64, f64, f64, f64) {
    let n = xr.len() as i128;
    let (sx, sy): (i128, i128) = (xr.iter().sum(), yr.iter().sum());
    let sxx: i128 = xr.iter().map(|v| v * v).sum();
    let syy: i128 = yr.iter().map(|v| v * v).sum();
    let sxy: i128 = xr.iter().zip(yr).map(|(a, b)| a * b).sum();
    let (cxx, cyy, cxy) = (n * sxx - sx * sx, n * syy - sy * sy, n * sxy - sx * sy);
    let (pa, pb) = (mul_wide(cxx as u128, cyy as u128), mul_wide(cxy.unsigned_abs(), cxy.unsigned_abs()));
    let (lo, borrow) = pa.1.overflowing_sub(pb.1);
    let hi = pa.0 - pb.0 - u128::from(borrow);
    let d = hi as f64 * 2f64.powi(128) + lo as f64;
    let (fx, fy, fc) = (cxx as f64, cyy as f64, cxy as f64);
    let rho = d / (fx * fy);
    let df = (n - 2) as f64;
    let t = if d > 0.0 { fc.signum() * (df * fc * fc / d).sqrt() } else { f64::INFINITY };
    let p = crate::mpc::tdist::t_two_sided(t, df);
    (fc / fx, fc / (fx.sqrt() * fy.sqrt()), p, (fy / fx).sqrt() * (rho / df).sqrt(), rho)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, rng_seed: proptest::test_runner::RngSeed::Fixed(151), ..ProptestConfig::default() })]

    /// p_value and std_err against the exact reference, for r anywhere in [−1, 1] and especially
    /// near ±1 (y = a·x + tiny noise): their error no longer grows like 1/(1 − r²).
    #[test]
    fn linregress_p_and_std_err_match_the_exact_residual(
        d in 0u32..=9,
        n in 3usize..200,
        offset in prop_oneof![Just(0i64), Just(1), Just(1000)],
        spread in 1i64..10_000_000,
        a in prop_oneof![Just(3i128), Just(-3), Just(1), Just(-7)],
        noise in prop_oneof![Just(0i64), Just(1), Just(3), Just(100), Just(10_000), Just(10_000_000), Just(1_000_000_000)],
        seed in 0u64..1000,
    ) {
        let (xr, xs) = decimal_data(d, n, offset, spread, seed);
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
        let yr: Vec<i128> = xr.iter().map(|x| a * x + rng.random_range(-noise..=noise) as i128).collect();
        let ys: Vec<f64> = yr.iter().map(|r| format!("{r}e-{d}").parse::<f64>().unwrap()).collect();
        let (slope, r, p, se, rho) = exact_linregress(&xr, &yr);
        let scale = NumScale::decimal(d as i64).unwrap();
        let (res, audits) = run_at(3, 1, &Op::Linregress, &[farr(&xs), farr(&ys)], &[scale, scale], false, seed);
        let OpResult::Linregress { slope: gs, intercept: gi, r_value: gr, p_value: gp, std_err: ge } = res.unwrap().0 else {
            panic!("not a linregress result")
        };
        let df = (n - 2) as f64;
        let q = slope.abs() / r.abs().max(1e-300);
        // r: 1e-11 absolute; slope = r·q: 1e-10 relative (issue 15), or 1e-12·q absolute where
        // |r| < 10^-2 (r's own absolute error ≈ 2^-42, linreg.rs step 5b)
        prop_assert!((gr - r).abs() <= 1e-11, "r {gr} vs {r} (ρ {rho})");
        prop_assert!(within(gs, slope, 1e-10, q * 1e-2), "slope {gs} vs {slope} (r {r})");
        // intercept = ȳ − x̄·slope: 1e-10 relative to the larger of itself and x̄·slope (float64's
        // own reference error is ≈ 1e-16 of that), plus its fixed-point floor: x̄ and ȳ are held
        // at 2^20 times the inputs' scale, each within 64 units (`bits_times_const`), so the
        // intercept within 64·(1 + |slope|) units of 2^-20·10^-d (2^-34 at 6 decimals, 2^-14 for
        // integers: the field's room, since |x̄·slope| may reach 2^104 units)
        let p10 = 10f64.powi(d as i32);
        let (mx, my) = (xr.iter().sum::<i128>() as f64 / p10 / n as f64, yr.iter().sum::<i128>() as f64 / p10 / n as f64);
        let icpt = my - slope * mx;
        let quantum = 64.0 * (1.0 + slope.abs()) * 2f64.powi(-20) / p10;
        prop_assert!(
            (gi - icpt).abs() <= 1e-10 * icpt.abs().max((slope * mx).abs()) + quantum,
            "intercept {gi} vs {icpt} (x̄ {mx}, slope {slope})"
        );
        // std_err: 1e-8 relative, or the floor of float64's 1 − r² (2^-53 absolute on ρ, which
        // scipy cannot beat); ρ's own absolute error is below 2^-55 (the mantissas' floors)
        let floor = q * (2f64.powi(-53) / df).sqrt();
        prop_assert!((ge - se).abs() <= 1e-8 * se + floor, "std_err {ge} vs {se} (ρ {rho}, n {n})");
        // p: 1e-8 relative times the conditioning of p in t (|d ln p / d ln t|, ≥ 1 only in the
        // tail), or scipy's own floor from float64's 1 − r²
        if p > 1e-300 {
            let tt = r.signum() * (df * (1.0 - rho) / rho).sqrt();
            let cond = ((crate::mpc::tdist::t_two_sided(tt * (1.0 + 1e-7), df) / p).ln() / 1e-7).abs();
            let tol = cond.max(1.0) * (1e-8 + 2f64.powi(-53) / rho);
            prop_assert!((gp - p).abs() <= tol * p, "p {gp} vs {p} (ρ {rho}, cond {cond}, n {n}, rel {})", (gp - p).abs() / p);
        } else {
            prop_assert!(gp <= 1e-290, "p {gp} vs {p}");
        }
        assert_masked_only(&audits, &[]);
    }
}

#[test]
fn a_stored_dot_product_beyond_the_storage_range_is_refused_not_wrapped() {
    let ints = |v: &[i64]| Value::Array(Array { shape: vec![v.len()], data: ArrayData::Int(v.to_vec()) });
    // integers at 10^-6 store |v| ≤ ⌊(2^62 − 1)/10^6⌋ = 4611686018427: 2·10^6 squared fits, 3·10^6 does not
    let s = NumScale::DEFAULT;
    let (r, _) = run_at(3, 1, &Op::Dot, &[ints(&[2_000_000, 5]), ints(&[2_000_000, -1])], &[s, s], true, 70);
    assert_eq!(r.unwrap().1.unwrap(), (Value::Int(3_999_999_999_995), s));
    let (a, b) = (ints(&[3_000_000, 1]), ints(&[3_000_000, 0]));
    let (r, audits) = run_at(3, 1, &Op::Dot, &[a.clone(), b.clone()], &[s, s], true, 71);
    assert!(matches!(r, Err(MpcError::OutOfRange(_))), "{r:?}");
    assert_masked_only(&audits, &[Fp::from_i128(9_000_000_000_000), Fp::from_i128(9_000_000_000_000_000_000)]);
    // revealed, the same product is an output like any other
    let (r, _) = run_at(3, 1, &Op::Dot, &[a, b], &[s, s], false, 72);
    assert!(matches!(r.unwrap().0, OpResult::Array { data: ArrayData::Int(ref v), .. } if v == &[9_000_000_000_000]));
    // floats at 10^-2 store |v| ≤ 46116860184273879.03: 2·10^8 squared fits, 2.5·10^8 does not
    let d2 = NumScale::Decimal(2);
    let (r, _) = run_at(3, 1, &Op::Dot, &[farr(&[2e8]), farr(&[2e8])], &[d2, d2], true, 73);
    assert_eq!(r.unwrap().1.unwrap(), (Value::Float(4e16), d2));
    let (r, _) = run_at(3, 1, &Op::Dot, &[farr(&[2.5e8, 0.5]), farr(&[2.5e8, 1.0])], &[d2, d2], true, 74);
    assert!(matches!(r, Err(MpcError::OutOfRange(_))), "{r:?}");
    // at 10^-6 the certificate is enough and no range test runs (the bench's default)
    assert!(!crate::mpc::linalg::stored_dot_range_tested(false, s));
    assert!(crate::mpc::linalg::stored_dot_range_tested(true, s));
    assert!(crate::mpc::linalg::stored_dot_range_tested(false, NumScale::Decimal(5)));
}
