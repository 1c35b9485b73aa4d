//! Protocol tests of the statistician's toolbox (issue 16): numpy.cov / corrcoef, the scipy
//! t-tests and numpy.linalg.lstsq over the in-memory transport, against f64 references on the
//! stored (fixed-point) values, with every opened value checked to be masked.

use super::*;
use crate::mpc::bench::simulate_in;

/// The values exactly as the engine sees them: rep / 2^20 (`decoded` rounds to a short decimal).
fn grid(v: &[f64]) -> Vec<f64> {
    v.iter().map(|x| crate::fixed::encode_float(*x).unwrap() as f64 / (1u64 << 20) as f64).collect()
}

fn mat2(rows: usize, cols: usize, v: Vec<f64>) -> Value {
    Value::Array(Array { shape: vec![rows, cols], data: ArrayData::Float(v) })
}

fn array_f64(r: &OpResult) -> (Vec<usize>, Vec<f64>) {
    match r {
        OpResult::Array { shape, data: ArrayData::Float(v), .. } => (shape.clone(), v.clone()),
        o => panic!("not a float array: {o:?}"),
    }
}

/// Deterministic pseudo-random data in [−1, 1).
fn noise(seed: u64, n: usize) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n).map(|_| rand::RngExt::random_range(&mut rng, -1.0..1.0)).collect()
}

/// numpy.cov of rows (variables × observations).
fn ref_cov(rows: &[Vec<f64>], ddof: usize) -> Vec<f64> {
    let k = rows.len();
    let n = rows[0].len();
    let mu: Vec<f64> = rows.iter().map(|r| r.iter().sum::<f64>() / n as f64).collect();
    let mut out = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..k {
            out[i * k + j] =
                (0..n).map(|o| (rows[i][o] - mu[i]) * (rows[j][o] - mu[j])).sum::<f64>() / (n - ddof) as f64;
        }
    }
    out
}

fn ref_corr(rows: &[Vec<f64>]) -> Vec<f64> {
    let k = rows.len();
    let c = ref_cov(rows, 1);
    (0..k * k).map(|p| c[p] / (c[(p / k) * k + p / k] * c[(p % k) * k + p % k]).sqrt()).collect()
}

/// Rows of a k × n variable matrix with some correlation, decoded to the stored values.
fn test_rows(k: usize, n: usize, seed: u64, scale: f64, shift: f64) -> Vec<Vec<f64>> {
    let base = noise(seed, n);
    (0..k)
        .map(|i| {
            let e = noise(seed + 1 + i as u64, n);
            grid(
                &(0..n)
                    .map(|o| shift + scale * (base[o] * (i as f64 * 0.3) + e[o] * (1.0 + i as f64)))
                    .collect::<Vec<_>>(),
            )
        })
        .collect()
}

fn assert_all_close(what: &str, got: &[f64], want: &[f64], rel: f64, abs: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(close(*g, *w, rel, abs), "{what}[{i}]: got {g}, want {w} (all: {got:?} vs {want:?})");
    }
}

#[test]
fn cov_and_corrcoef_match_numpy_with_rowvar_and_ddof() {
    for (ci, (k, n, scale, shift)) in
        [(3usize, 50usize, 10.0, 0.0), (4, 200, 1e3, 1e6), (1, 30, 2.0, -5.0)].into_iter().enumerate()
    {
        let rows = test_rows(k, n, 100 + ci as u64, scale, shift);
        let flat_rowvar: Vec<f64> = rows.iter().flatten().copied().collect();
        let flat_cols: Vec<f64> = (0..n).flat_map(|o| rows.iter().map(move |r| r[o])).collect();
        let inputs = |rowvar: bool| {
            if k == 1 {
                farr(&rows[0])
            } else if rowvar {
                mat2(k, n, flat_rowvar.clone())
            } else {
                mat2(n, k, flat_cols.clone())
            }
        };
        for (nt, rowvar, ddof) in [((3, 1), true, 1u32), ((5, 2), false, 0u32), ((3, 1), false, 1)] {
            let (r, audits, _) = run_op(nt.0, nt.1, Op::Cov { rowvar, ddof }, &[inputs(rowvar)], 7 + ci as u64);
            let (shape, got) = array_f64(&r.unwrap());
            assert_eq!(shape, if k == 1 { vec![] } else { vec![k, k] });
            let want = ref_cov(&rows, ddof as usize);
            assert_all_close(&format!("cov case {ci} ddof {ddof}"), &got, &want, 1e-9, 1e-12);
            // the exact Gram entries N²·cov·2^40 and the sums are never opened
            let reps: Vec<Vec<i128>> =
                rows.iter().map(|r| r.iter().map(|x| crate::fixed::encode_float(*x).unwrap()).collect()).collect();
            let mut forbidden: Vec<Fp> = reps.iter().map(|r| Fp::from_i128(r.iter().sum())).collect();
            let nn = n as i128;
            for r in &reps {
                let (si, qi): (i128, i128) = (r.iter().sum(), r.iter().map(|v| v * v).sum());
                forbidden.push(Fp::from_i128(nn * qi - si * si));
            }
            assert_masked_only(&audits, &forbidden);
        }
        if k > 1 {
            let (r, audits, _) = run_op(3, 1, Op::Corrcoef { rowvar: true }, &[inputs(true)], 3);
            let (_, got) = array_f64(&r.unwrap());
            assert_all_close(&format!("corrcoef case {ci}"), &got, &ref_corr(&rows), 1e-8, 1e-9);
            assert_masked_only(&audits, &[]);
            let (r, _, _) = run_op(5, 2, Op::Corrcoef { rowvar: false }, &[inputs(false)], 4);
            let (_, got) = array_f64(&r.unwrap());
            assert_all_close(&format!("corrcoef cols case {ci}"), &got, &ref_corr(&rows), 1e-8, 1e-9);
        }
    }
}

#[test]
fn stored_cov_and_corrcoef_are_float_matrices_at_the_storage_scale() {
    let rows = test_rows(3, 64, 9, 5.0, 2.0);
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    let (v, elems, audits) = run_stored_op(3, 1, Op::Cov { rowvar: true, ddof: 1 }, &[mat2(3, 64, flat.clone())], 5);
    let got = stored_f64s(&v.unwrap());
    assert_all_close("stored cov", &got, &ref_cov(&rows, 1), 0.0, 3.0 * ULP);
    assert_masked_only(&audits, &elems);
    let (v, elems, audits) = run_stored_op(5, 2, Op::Corrcoef { rowvar: true }, &[mat2(3, 64, flat)], 6);
    let got = stored_f64s(&v.unwrap());
    assert_all_close("stored corrcoef", &got, &ref_corr(&rows), 0.0, 3.0 * ULP);
    assert_masked_only(&audits, &elems[1..2]);
}

#[test]
fn cov_and_corrcoef_errors_are_clear() {
    let one = mat2(2, 1, vec![1.0, 2.0]);
    let (r, _, _) = run_op(3, 1, Op::Cov { rowvar: true, ddof: 1 }, &[one], 1);
    assert!(matches!(r, Err(MpcError::Invalid(ref m)) if m.contains("too few observations")), "{r:?}");
    let cube = Value::Array(Array { shape: vec![2, 2, 2], data: ArrayData::Float(vec![1.0; 8]) });
    let (r, _, _) = run_op(3, 1, Op::Corrcoef { rowvar: true }, &[cube], 1);
    assert!(matches!(r, Err(MpcError::Shape(_))), "{r:?}");
    // a constant variable: its correlation is undefined (numpy: nan)
    let c = mat2(2, 4, vec![1.0, 2.0, 3.0, 5.0, 7.0, 7.0, 7.0, 7.0]);
    let (r, _, _) = run_op(3, 1, Op::Corrcoef { rowvar: true }, &[c], 1);
    assert!(matches!(r, Err(MpcError::Invalid(ref m)) if m.contains("constant")), "{r:?}");
}

/// store=True of Welch's t-test: the Float array [t, df] at the storage scale, t within a few
/// units of 2^-20 of scipy's and df (a secret division in the MPC) within 1e-6 relative, in both
/// committee sizes, balanced and very unbalanced samples, t small and large; every opening is
/// masked and their number does not depend on the data; constant data (t = ±inf) is `value out of
/// range`, never a wrapped value.
#[test]
fn stored_welch_is_statistic_and_df_at_the_storage_scale() {
    let ulp = 1.0 / (1u64 << 20) as f64;
    let mut opened: Vec<((usize, usize, usize), usize)> = Vec::new();
    for (ci, (na, nb, sa, sb, shift)) in [
        (30usize, 30usize, 1.0, 1.0, 0.2),
        (5, 400, 3.0, 0.1, -1.0),
        (400, 3, 1e-2, 50.0, 7.0),
        (200, 150, 1e3, 2e3, 1e5),
        (2, 2, 1.0, 2.0, 0.5),
        (30, 30, 3.0, 0.5, -0.7),
        (40, 25, 1e-3, 1e-3, 1e-4),
    ]
    .into_iter()
    .enumerate()
    {
        let a = grid(&noise(600 + ci as u64, na).iter().map(|v| 10.0 + sa * v).collect::<Vec<_>>());
        let b = grid(&noise(700 + ci as u64, nb).iter().map(|v| 10.0 + shift + sb * v).collect::<Vec<_>>());
        let nt = if ci % 2 == 0 { (3, 1) } else { (5, 2) };
        let (r, _, audits) = run_stored_op(nt.0, nt.1, Op::TtestWelch, &[farr(&a), farr(&b)], 60 + ci as u64);
        let got = stored_f64s(&r.unwrap_or_else(|e| panic!("welch case {ci}: {e}")));
        let (wt, wdf) = ref_welch(&a, &b);
        assert_eq!(got.len(), 2, "welch case {ci}");
        assert!((got[0] - wt).abs() <= 4.0 * ulp + 1e-9 * wt.abs(), "welch case {ci}: t {} vs {wt}", got[0]);
        assert!((got[1] - wdf).abs() <= 1e-6 * wdf, "welch case {ci}: df {} vs {wdf}", got[1]);
        assert_masked_only(&audits, &[]);
        let count: usize = audits.iter().flatten().map(|e| e.values.len()).sum();
        opened.push(((nt.0, na, nb), count));
    }
    // the same sizes, other data: the same openings
    let (a, b) = (grid(&noise(1, 30)), grid(&noise(2, 30).iter().map(|v| 5.0 * v).collect::<Vec<_>>()));
    let (r, _, audits) = run_stored_op(3, 1, Op::TtestWelch, &[farr(&a), farr(&b)], 99);
    let got = stored_f64s(&r.unwrap());
    let (wt, wdf) = ref_welch(&a, &b);
    assert!((got[0] - wt).abs() <= 4.0 * ulp + 1e-9 * wt.abs() && (got[1] - wdf).abs() <= 1e-6 * wdf, "{got:?}");
    let count: usize = audits.iter().flatten().map(|e| e.values.len()).sum();
    assert_eq!(Some(&count), opened.iter().find(|(k, _)| *k == (3, 30, 30)).map(|(_, c)| c));
    // constant samples: t = −inf, out of the storage range (scipy: −inf)
    let (r, _, _) = run_stored_op(3, 1, Op::TtestWelch, &[farr(&[1.0; 4]), farr(&[2.0; 3])], 1);
    assert!(matches!(r, Err(MpcError::OutOfRange(_))), "{r:?}");
    // |t| ≈ 2^44: tiny spreads around far-apart means
    let lo: Vec<f64> = (0..8).map(|i| if i % 2 == 0 { 0.0 } else { ulp }).collect();
    let hi: Vec<f64> = lo.iter().map(|v| v + 1e7).collect();
    let (r, _, _) = run_stored_op(5, 2, Op::TtestWelch, &[farr(&lo), farr(&hi)], 2);
    assert!(matches!(r, Err(MpcError::OutOfRange(_))), "{r:?}");
    let (r, _, _) = run_stored_op(3, 1, Op::TtestWelch, &[farr(&[1.0]), farr(&[2.0, 3.0, 4.0])], 1);
    assert!(matches!(r, Err(MpcError::Invalid(ref m)) if m.contains("too few")), "{r:?}");
}

/// store=True of ttest_1samp / ttest_ind / ttest_rel: the Float array [t, df] at the storage scale
/// (within a few units of 2^-20 of scipy's t), in both committee sizes, small and large t; constant
/// data (t = ±inf) and |t| ≥ 2^42 are `value out of range`, never a wrapped value.
#[test]
fn stored_ttests_are_statistic_and_df_at_the_storage_scale() {
    let ulp = 1.0 / (1u64 << 20) as f64;
    for (ci, (n, scale, shift, mu0)) in
        [(20usize, 1.0, 0.3, 0.0), (500, 100.0, 1e5, 1e5 + 3.0), (7, 1e-3, 2.0, 2.0), (300, 5.0, 50.0, 49.9)]
            .into_iter()
            .enumerate()
    {
        let x = grid(&noise(200 + ci as u64, n).iter().map(|v| shift + scale * v).collect::<Vec<_>>());
        let y = grid(&noise(300 + ci as u64, n + 3).iter().map(|v| shift * 1.01 + scale * v).collect::<Vec<_>>());
        let mu = grid(&[mu0])[0];
        let nt = if ci % 2 == 0 { (3, 1) } else { (5, 2) };
        let diff: Vec<f64> = x.iter().zip(&y[..n]).map(|(a, b)| a - b).collect();
        let cases = [
            (Op::ttest_1samp(mu), vec![farr(&x)], ref_t1(&x, mu), n - 1),
            (Op::TtestInd, vec![farr(&x), farr(&y)], ref_tind(&x, &y), 2 * n + 1),
            (Op::TtestRel, vec![farr(&x), farr(&y[..n])], ref_t1(&diff, 0.0), n - 1),
        ];
        for (op, vals, want, df) in cases {
            let (r, _, audits) = run_stored_op(nt.0, nt.1, op.clone(), &vals, 20 + ci as u64);
            let got = stored_f64s(&r.unwrap_or_else(|e| panic!("case {ci} {op:?}: {e}")));
            assert_eq!(got.len(), 2, "case {ci} {op:?}");
            assert!((got[0] - want).abs() <= 4.0 * ulp + 1e-9 * want.abs(), "case {ci} {op:?}: t {} vs {want}", got[0]);
            assert_eq!(got[1], df as f64, "case {ci} {op:?}: df");
            assert_masked_only(&audits, &[]);
        }
    }
    // constant data: t = +inf, out of the storage range
    let (r, _, _) = run_stored_op(3, 1, Op::ttest_1samp(0.0), &[farr(&[2.0; 5])], 1);
    assert!(matches!(r, Err(MpcError::OutOfRange(_))), "{r:?}");
    // |t| ≈ 2^43: tiny spread around a far mean
    let far: Vec<f64> = (0..8).map(|i| 1e6 + if i % 2 == 0 { 0.0 } else { ulp }).collect();
    let (r, _, _) = run_stored_op(5, 2, Op::ttest_1samp(0.0), &[farr(&far)], 2);
    assert!(matches!(r, Err(MpcError::OutOfRange(_))), "{r:?}");
    // a large t that still fits: |t| ≈ 2.3·10^6
    let big: Vec<f64> = (0..8).map(|i| 1e3 + if i % 2 == 0 { 0.0 } else { 1e-3 }).collect();
    let want = ref_t1(&grid(&big), 0.0);
    let got = stored_f64s(&run_stored_op(3, 1, Op::ttest_1samp(0.0), &[farr(&grid(&big))], 3).0.unwrap());
    assert!((got[0] - want).abs() <= 4.0 * ulp + 1e-9 * want.abs(), "large t {} vs {want}", got[0]);
}

/// scipy's t statistics from their definitions.
fn ref_t1(x: &[f64], mu0: f64) -> f64 {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let s2 = x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0);
    (m - mu0) / (s2 / n).sqrt()
}

fn ref_tind(a: &[f64], b: &[f64]) -> f64 {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (ma, mb) = (a.iter().sum::<f64>() / na, b.iter().sum::<f64>() / nb);
    let ss = a.iter().map(|v| (v - ma) * (v - ma)).sum::<f64>() + b.iter().map(|v| (v - mb) * (v - mb)).sum::<f64>();
    let sp2 = ss / (na + nb - 2.0);
    (ma - mb) / (sp2 * (1.0 / na + 1.0 / nb)).sqrt()
}

/// scipy.stats.ttest_ind(a, b, equal_var=False): (t, Welch–Satterthwaite df).
fn ref_welch(a: &[f64], b: &[f64]) -> (f64, f64) {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (ma, mb) = (a.iter().sum::<f64>() / na, b.iter().sum::<f64>() / nb);
    let va = a.iter().map(|v| (v - ma) * (v - ma)).sum::<f64>() / (na - 1.0);
    let vb = b.iter().map(|v| (v - mb) * (v - mb)).sum::<f64>() / (nb - 1.0);
    let (qa, qb) = (va / na, vb / nb);
    ((ma - mb) / (qa + qb).sqrt(), (qa + qb).powi(2) / (qa * qa / (na - 1.0) + qb * qb / (nb - 1.0)))
}

fn ttest(r: Result<OpResult, MpcError>) -> (f64, f64, f64) {
    match r.unwrap() {
        OpResult::Ttest { statistic, pvalue, df } => (statistic, pvalue, df),
        o => panic!("{o:?}"),
    }
}

#[test]
fn ttests_match_scipy() {
    for (ci, (n, scale, shift, mu0)) in
        [(20usize, 1.0, 0.3, 0.0), (500, 100.0, 1e5, 1e5 + 3.0), (7, 1e-3, 2.0, 2.0), (300, 5.0, 50.0, -1e3)]
            .into_iter()
            .enumerate()
    {
        let x = grid(&noise(200 + ci as u64, n).iter().map(|v| shift + scale * v).collect::<Vec<_>>());
        let y = grid(&noise(300 + ci as u64, n + 3).iter().map(|v| shift * 1.01 + scale * v).collect::<Vec<_>>());
        let mu = grid(&[mu0])[0];
        let nt = if ci % 2 == 0 { (3, 1) } else { (5, 2) };
        let (r, audits, _) = run_op(nt.0, nt.1, Op::ttest_1samp(mu), &[farr(&x)], 1 + ci as u64);
        let (t, p, df) = ttest(r);
        let want = ref_t1(&x, mu);
        assert!(close(t, want, 1e-7, 1e-8), "1samp case {ci}: {t} vs {want}");
        assert_eq!(df, (n - 1) as f64);
        assert!(close(p, tdist::t_two_sided(want, df), 1e-6, 1e-12), "1samp p {ci}");
        assert_masked_only(&audits, &[]);
        let (r, _, _) = run_op(nt.0, nt.1, Op::TtestInd, &[farr(&x), farr(&y)], 2 + ci as u64);
        let (t, _, df) = ttest(r);
        let want = ref_tind(&x, &y);
        assert!(close(t, want, 1e-7, 1e-8), "ind case {ci}: {t} vs {want}");
        assert_eq!(df, (2 * n + 1) as f64);
        let yr = &y[..n];
        let (r, _, _) = run_op(nt.0, nt.1, Op::TtestRel, &[farr(&x), farr(yr)], 3 + ci as u64);
        let (t, _, df) = ttest(r);
        let diff: Vec<f64> = x.iter().zip(yr).map(|(a, b)| a - b).collect();
        let want = ref_t1(&diff, 0.0);
        assert!(close(t, want, 1e-7, 1e-8), "rel case {ci}: {t} vs {want}");
        assert_eq!(df, (n - 1) as f64);
    }
    // constant data: t = ±inf (mean ≠ popmean) or nan, as scipy
    let (t, p, _) = ttest(run_op(3, 1, Op::ttest_1samp(0.0), &[farr(&[2.0; 5])], 1).0);
    assert!(t.is_infinite() && t > 0.0 && p == 0.0, "{t} {p}");
    let (t, _, _) = ttest(run_op(3, 1, Op::ttest_1samp(2.0), &[farr(&[2.0; 5])], 1).0);
    assert!(t.is_nan());
    let (r, _, _) = run_op(3, 1, Op::ttest_1samp(0.0), &[farr(&[2.0])], 1);
    assert!(matches!(r, Err(MpcError::Invalid(ref m)) if m.contains("too few")), "{r:?}");
    let (r, _, _) = run_op(3, 1, Op::TtestRel, &[farr(&[2.0, 3.0]), farr(&[2.0])], 1);
    assert!(matches!(r, Err(MpcError::Shape(_))), "{r:?}");
}

#[test]
fn welch_ttest_matches_scipy() {
    // (n_a, n_b, spread a, spread b, shift b): balanced, unbalanced both ways, very unequal variances
    for (ci, (na, nb, sa, sb, shift)) in [
        (30usize, 30usize, 1.0, 1.0, 0.2),
        (5, 400, 3.0, 0.1, -1.0),
        (400, 3, 1e-2, 50.0, 7.0),
        (200, 150, 1e3, 2e3, 1e5),
        (2, 2, 1.0, 2.0, 0.5),
    ]
    .into_iter()
    .enumerate()
    {
        let a = grid(&noise(600 + ci as u64, na).iter().map(|v| 10.0 + sa * v).collect::<Vec<_>>());
        let b = grid(&noise(700 + ci as u64, nb).iter().map(|v| 10.0 + shift + sb * v).collect::<Vec<_>>());
        let nt = if ci % 2 == 0 { (3, 1) } else { (5, 2) };
        let (r, audits, _) = run_op(nt.0, nt.1, Op::TtestWelch, &[farr(&a), farr(&b)], 40 + ci as u64);
        let (t, p, df) = ttest(r);
        let (wt, wdf) = ref_welch(&a, &b);
        assert!(close(t, wt, 1e-7, 1e-8), "welch case {ci}: t {t} vs {wt}");
        assert!(close(df, wdf, 1e-7, 1e-9), "welch case {ci}: df {df} vs {wdf}");
        assert!(close(p, tdist::t_two_sided(wt, wdf), 1e-6, 1e-12), "welch case {ci}: p");
        assert_masked_only(&audits, &[]);
    }
    // constant samples with different means: t = ±inf, as scipy
    let (t, p, _) = ttest(run_op(3, 1, Op::TtestWelch, &[farr(&[1.0; 4]), farr(&[2.0; 3])], 1).0);
    assert!(t.is_infinite() && t < 0.0 && p == 0.0, "{t} {p}");
    let (r, _, _) = run_op(3, 1, Op::TtestWelch, &[farr(&[1.0]), farr(&[2.0, 3.0, 4.0])], 1);
    assert!(matches!(r, Err(MpcError::Invalid(ref m)) if m.contains("too few")), "{r:?}");
}

/// Least squares by the normal equations in f64 (Gaussian elimination with partial pivoting).
fn ref_lstsq(x: &[Vec<f64>], y: &[f64], intercept: bool) -> Vec<f64> {
    let n = y.len();
    let mut cols: Vec<Vec<f64>> = Vec::new();
    if intercept {
        cols.push(vec![1.0; n]);
    }
    cols.extend(x.iter().cloned());
    let p = cols.len();
    let mut a = vec![vec![0.0; p + 1]; p];
    for i in 0..p {
        for j in 0..p {
            a[i][j] = (0..n).map(|o| cols[i][o] * cols[j][o]).sum();
        }
        a[i][p] = (0..n).map(|o| cols[i][o] * y[o]).sum();
    }
    for c in 0..p {
        let piv = (c..p).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs())).unwrap();
        a.swap(c, piv);
        for r in 0..p {
            if r != c {
                let f = a[r][c] / a[c][c];
                let pivot = a[c].clone();
                for (x, y) in a[r].iter_mut().zip(&pivot).skip(c) {
                    *x -= f * y;
                }
            }
        }
    }
    (0..p).map(|i| a[i][p] / a[i][i]).collect()
}

#[test]
fn lstsq_matches_numpy_with_and_without_intercept() {
    for (ci, (k, n, intercept)) in
        [(2usize, 40usize, true), (3, 100, false), (1, 12, true), (5, 300, true)].into_iter().enumerate()
    {
        let cols = test_rows(k, n, 400 + ci as u64, 3.0, 10.0);
        let e = noise(500 + ci as u64, n);
        let beta: Vec<f64> = (0..k).map(|j| 0.5 * j as f64 - 1.25 + 1e-3).collect();
        let y = grid(
            &(0..n).map(|o| 4.0 + (0..k).map(|j| beta[j] * cols[j][o]).sum::<f64>() + 0.1 * e[o]).collect::<Vec<_>>(),
        );
        let xflat: Vec<f64> = (0..n).flat_map(|o| cols.iter().map(move |c| c[o])).collect();
        let nt = if ci % 2 == 0 { (3, 1) } else { (5, 2) };
        let (r, audits, _) =
            run_op(nt.0, nt.1, Op::Lstsq { intercept }, &[mat2(n, k, xflat), farr(&y)], 10 + ci as u64);
        let (shape, got) = array_f64(&r.unwrap());
        let want = ref_lstsq(&cols, &y, intercept);
        assert_eq!(shape, vec![want.len()]);
        assert_all_close(&format!("lstsq case {ci}"), &got, &want, 1e-6, 1e-7);
        assert_masked_only(&audits, &[]);
    }
    // collinear predictors: a clear error
    let n = 20;
    let x: Vec<f64> = (0..n).flat_map(|o| [o as f64, 2.0 * o as f64]).collect();
    let y: Vec<f64> = (0..n).map(|o| o as f64 + 1.0).collect();
    let (r, _, _) = run_op(3, 1, Op::Lstsq { intercept: true }, &[mat2(n, 2, x), farr(&y)], 1);
    assert!(matches!(r, Err(MpcError::Singular(_))), "{r:?}");
    let (r, _, _) = run_op(3, 1, Op::Lstsq { intercept: true }, &[mat2(2, 2, vec![1.0; 4]), farr(&[1.0, 2.0])], 1);
    assert!(matches!(r, Err(MpcError::Invalid(ref m)) if m.contains("too few")), "{r:?}");
    let (r, _, _) = run_op(3, 1, Op::Lstsq { intercept: false }, &[farr(&[1.0; 4]), farr(&[1.0; 4])], 1);
    assert!(matches!(r, Err(MpcError::Shape(_))), "{r:?}");
}

#[test]
fn stored_lstsq_is_the_coefficient_array_at_the_storage_scale() {
    for (ci, (k, n, intercept, nt)) in
        [(2usize, 40usize, true, (3, 1)), (3, 60, false, (5, 2)), (1, 12, true, (5, 2))].into_iter().enumerate()
    {
        let cols = test_rows(k, n, 450 + ci as u64, 3.0, 10.0);
        let e = noise(550 + ci as u64, n);
        let y = grid(
            &(0..n)
                .map(|o| -7.5 + (0..k).map(|j| (1.5 - j as f64) * cols[j][o]).sum::<f64>() + 0.1 * e[o])
                .collect::<Vec<_>>(),
        );
        let xflat: Vec<f64> = (0..n).flat_map(|o| cols.iter().map(move |c| c[o])).collect();
        let (v, elems, audits) =
            run_stored_op(nt.0, nt.1, Op::Lstsq { intercept }, &[mat2(n, k, xflat), farr(&y)], 60 + ci as u64);
        let v = v.unwrap();
        match &v {
            Value::Array(a) => assert_eq!(a.shape, vec![k + usize::from(intercept)], "case {ci}"),
            o => panic!("{o:?}"),
        }
        let want = ref_lstsq(&cols, &y, intercept);
        assert_all_close(&format!("stored lstsq case {ci}"), &stored_f64s(&v), &want, 0.0, 4.0 * ULP);
        assert_masked_only(&audits, &elems);
    }
    // an intercept beyond the storage range (|β0| ≥ 2^42 ≈ 4.4e12) is refused, not wrapped, while
    // the revealed coefficients are fine
    let n = 16;
    // (intercept = 4.2e12 + 2.5e5·1e6 = 4.45e12; x̄·2^40 ≈ 2^60 and q < 2^18 keep the revealed
    // path in range)
    let x: Vec<f64> = (0..n).map(|o| 1e6 + o as f64 - 7.5).collect();
    let y: Vec<f64> = (0..n).map(|o| 4.2e12 - 2.5e5 * (o as f64 - 7.5) + (o % 3) as f64).collect();
    let vals = [mat2(n, 1, x.clone()), farr(&y)];
    let (r, _, _) = run_stored_op(3, 1, Op::Lstsq { intercept: true }, &vals, 2);
    assert!(matches!(r, Err(MpcError::OutOfRange(_))), "{r:?}");
    let (r, _, _) = run_op(3, 1, Op::Lstsq { intercept: true }, &vals, 2);
    let (_, got) = array_f64(&r.unwrap());
    assert_all_close("revealed large intercept", &got, &ref_lstsq(&[x], &y, true), 1e-6, 1e-6);
}

/// numpy.histogram's counts on the stored values.
fn ref_hist(x: &[f64], edges: &[f64]) -> Vec<i64> {
    let b = edges.len() - 1;
    let mut c = vec![0i64; b];
    for v in x {
        for j in 0..b {
            let last = j == b - 1;
            if *v >= edges[j] && (*v < edges[j + 1] || (last && *v <= edges[j + 1])) {
                c[j] += 1;
                break;
            }
        }
    }
    c
}

#[test]
fn histogram_counts_are_exact_with_numpy_edges() {
    use super::super::histogram::linspace_edges;
    let mut x = grid(&noise(600, 300).iter().map(|v| 5.0 * v).collect::<Vec<_>>());
    // values on edges (left-closed bins, the last one closed on the right), and outside the range
    x.extend(grid(&[-4.0, 0.0, 4.0, 4.5, -7.0, 9.0, 1.0 / 3.0, 0.5 + 1.0 / 1048576.0]));
    for (ci, edges) in [
        linspace_edges(8, -4.0, 4.0).unwrap(),
        vec![-5.0, -1.0, 1.0 / 3.0, 0.5, 2.0],
        linspace_edges(1, 2.0, 2.0).unwrap(),
    ]
    .into_iter()
    .enumerate()
    {
        let nt = if ci == 1 { (5, 2) } else { (3, 1) };
        let (r, audits, _) = run_op(nt.0, nt.1, Op::histogram(&edges), &[farr(&x[..150]), farr(&x[150..])], ci as u64);
        let got = match r.unwrap() {
            OpResult::Array { shape, data: ArrayData::Int(v), .. } => {
                assert_eq!(shape, vec![edges.len() - 1]);
                v
            }
            o => panic!("{o:?}"),
        };
        assert_eq!(got, ref_hist(&x, &edges), "case {ci}, edges {edges:?}");
        assert_masked_only(&audits, &[]);
    }
    assert!(super::super::histogram::edge_reps(&[1.0, 0.0], crate::fixed::NumScale::DEFAULT).is_err());
    assert!(linspace_edges(3, 1.0, 0.0).is_err());
}

/// `op` in active mode over the in-memory transport, revealed.
fn run_active_op(n: usize, t: usize, op: &Op, vals: &[Value], seed: u64) -> Result<OpResult, MpcError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let per_key: Vec<Vec<SharedInput>> = vals.iter().map(|v| share_value(v, n, t, &mut rng)).collect();
    let metas: Vec<_> = per_key.iter().map(|k| k[0].meta.clone()).collect();
    let op2 = op.clone();
    let res = simulate_in(n, t, seed, Security::Active, move |mut p| {
        let inputs: Vec<SharedInput> = per_key.iter().map(|k| k[p.me()].clone()).collect();
        let op = op2.clone();
        async move { (p.me(), run(&mut p, &op, inputs).await) }
    });
    let mut shares = Vec::new();
    for (i, r) in res {
        shares.push((i, r?));
    }
    reveal(op, &metas, &shares, t, Security::Active)
}

/// The per-bin rule of a compute grant (`min_count` in the op): the counts when every bin holds at
/// least min_count values (a bin of exactly min_count passes), a refusal revealing one bit when any
/// bin holds fewer — an empty bin, one short bin among full ones, or all bins short — in both
/// modes, with only masked openings.
#[test]
fn histogram_per_bin_min_count_reveals_counts_or_one_refusal_bit() {
    let x = grid(&(0..40).map(|i| i as f64 * 0.25).collect::<Vec<_>>()); // 0, 0.25, …, 9.75
    // (edges, min_count, counts or refused): 4 bins of 10; of 10 with m = 10; one bin of 9 among
    // 3 of ≥ 10; an empty bin; m above every count
    let cases: Vec<(Vec<f64>, u32, Option<Vec<i64>>)> = vec![
        (vec![0.0, 2.5, 5.0, 7.5, 10.0], 5, Some(vec![10, 10, 10, 10])),
        (vec![0.0, 2.5, 5.0, 7.5, 10.0], 10, Some(vec![10, 10, 10, 10])),
        (vec![0.0, 2.25, 5.0, 7.5, 10.0], 10, None),
        (vec![-5.0, -1.0, 5.0, 10.0], 2, None),
        (vec![0.0, 5.0, 10.0], 21, None),
    ];
    for (ci, (edges, m, want)) in cases.into_iter().enumerate() {
        let op = Op::histogram_min(&edges, m);
        let vals = [farr(&x[..25]), farr(&x[25..])];
        let nt = if ci % 2 == 0 { (3, 1) } else { (5, 2) };
        let (r, audits, _) = run_op(nt.0, nt.1, op.clone(), &vals, 70 + ci as u64);
        match (r, &want) {
            (Ok(OpResult::Array { data: ArrayData::Int(v), .. }), Some(w)) => assert_eq!(&v, w, "case {ci}"),
            (Err(MpcError::Denied(msg)), None) => assert!(msg.contains(&format!("at least {m}")), "case {ci}: {msg}"),
            (r, w) => panic!("case {ci}: {r:?}, want {w:?}"),
        }
        assert_masked_only(&audits, &[]);
        if ci == 2 {
            let active = run_active_op(3, 1, &op, &vals, 80);
            assert!(matches!(active, Err(MpcError::Denied(_))), "active: {active:?}");
        }
        if ci == 0 {
            match run_active_op(5, 2, &op, &vals, 81) {
                Ok(OpResult::Array { data: ArrayData::Int(v), .. }) => assert_eq!(v, vec![10, 10, 10, 10]),
                o => panic!("active: {o:?}"),
            }
        }
    }
    // stored: the same rule (the check flag is revealed with the key)
    let (r, _, _) = run_stored_op(3, 1, Op::histogram_min(&[0.0, 2.25, 5.0, 7.5, 10.0], 10), &[farr(&x)], 90);
    assert!(matches!(r, Err(MpcError::Denied(_))), "{r:?}");
}

/// `cargo test -p enigma-protocol --release toolbox_bench_table -- --ignored --nocapture`
#[test]
#[ignore]
fn toolbox_bench_table() {
    let scale: usize = std::env::var("TOOLBOX_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let hist: usize = std::env::var("TOOLBOX_HIST_N").ok().and_then(|v| v.parse().ok()).unwrap_or(scale);
    for security in [Security::Active, Security::SemiHonest] {
        println!("{}", super::super::bench::run_toolbox_in_memory(3, 1, scale, hist, security));
        println!("{}", super::super::bench::run_toolbox_in_memory(5, 2, scale, hist, security));
    }
}

/// (AᵀA)^-1 of the columns `cols` (Gauss–Jordan with partial pivoting).
fn ref_gram_inverse(cols: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let p = cols.len();
    let n = cols.first().map_or(0, |c| c.len());
    // [AᵀA | I] → [I | (AᵀA)^-1]
    let mut a = vec![vec![0.0; 2 * p]; p];
    for i in 0..p {
        for j in 0..p {
            a[i][j] = (0..n).map(|o| cols[i][o] * cols[j][o]).sum();
        }
        a[i][p + i] = 1.0;
    }
    for c in 0..p {
        let piv = (c..p).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs())).unwrap();
        a.swap(c, piv);
        let d = a[c][c];
        for v in a[c].iter_mut() {
            *v /= d;
        }
        let pivot = a[c].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != c {
                let f = row[c];
                for (x, y) in row.iter_mut().zip(&pivot) {
                    *x -= f * y;
                }
            }
        }
    }
    a.iter().map(|row| row[p..].to_vec()).collect()
}

/// statsmodels OLS in f64: (params, bse, tvalues, pvalues, rsquared, rsquared_adj). With an
/// intercept, from the centred columns (accurate for large means): β = (X_cᵀX_c)^-1·X_cᵀy_c,
/// β0 = ȳ − x̄ᵀβ, Var(β0) = s²·(1/N + x̄ᵀ(X_cᵀX_c)^-1·x̄), as [(ZᵀZ)^-1]_00 for Z = [1, X]; through
/// the origin, from the raw columns.
#[allow(clippy::type_complexity)]
fn ref_ols(x: &[Vec<f64>], y: &[f64], intercept: bool) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, f64, f64) {
    let n = y.len();
    let k = x.len();
    let mean = |v: &[f64]| if intercept { v.iter().sum::<f64>() / n as f64 } else { 0.0 };
    let xbar: Vec<f64> = x.iter().map(|c| mean(c)).collect();
    let ybar = mean(y);
    let cols: Vec<Vec<f64>> = x.iter().zip(&xbar).map(|(c, m)| c.iter().map(|v| v - m).collect()).collect();
    let yc: Vec<f64> = y.iter().map(|v| v - ybar).collect();
    let inv = ref_gram_inverse(&cols);
    let xty: Vec<f64> = (0..k).map(|i| (0..n).map(|o| cols[i][o] * yc[o]).sum()).collect();
    let slopes: Vec<f64> = (0..k).map(|i| (0..k).map(|j| inv[i][j] * xty[j]).sum()).collect();
    let rss: f64 = (0..n).map(|o| (yc[o] - (0..k).map(|j| slopes[j] * cols[j][o]).sum::<f64>()).powi(2)).sum();
    let tss: f64 = yc.iter().map(|v| v * v).sum();
    let p = k + usize::from(intercept);
    let df = (n - p) as f64;
    let s2 = rss / df;
    let mut beta = Vec::new();
    let mut var = Vec::new();
    if intercept {
        beta.push(ybar - (0..k).map(|j| xbar[j] * slopes[j]).sum::<f64>());
        let q: f64 = (0..k).map(|i| (0..k).map(|j| xbar[i] * inv[i][j] * xbar[j]).sum::<f64>()).sum();
        var.push(s2 * (1.0 / n as f64 + q));
    }
    beta.extend(&slopes);
    var.extend((0..k).map(|j| s2 * inv[j][j]));
    let bse: Vec<f64> = var.iter().map(|v| v.sqrt()).collect();
    let tv: Vec<f64> = beta.iter().zip(&bse).map(|(b, s)| b / s).collect();
    let pv: Vec<f64> = tv.iter().map(|t| tdist::t_two_sided(*t, df)).collect();
    let r2 = 1.0 - rss / tss;
    let adj = 1.0 - (n - usize::from(intercept)) as f64 / df * (1.0 - r2);
    (beta, bse, tv, pv, r2, adj)
}

#[test]
fn lstsq_stats_match_statsmodels_ols() {
    // (k, N, intercept, noise, the predictors' mean, y's offset): moderate and strong fits,
    // through the origin and with an intercept; with an intercept also predictors whose mean is
    // 300 of their standard deviations, predictors near 0 under a y whose mean dominates (the
    // intercept's common exponent is 0), a mean of 50 with y's offset far from it, and a mean of
    // 30000 standard deviations (m ≈ 2^15) under a y of mean 10^6 (so that the intercept is not
    // the cancellation of two large terms, which the slope's 2^-34 relative error would show). (A near-perfect
    // fit loses digits in every t, slope or intercept alike: 1 − R² is carried at 2^-30.) Through the origin, a
    // large mean makes the uncentred R² close to 1, and t's relative error is about
    // κ(R)·2^-30/(1 − R²) (see multivar.rs): that case's data are shifted less
    for (ci, (k, n, intercept, sigma, shift, y0)) in [
        (2usize, 40usize, true, 2.0, 10.0, 4.0),
        (3, 100, false, 1.0, 1.0, 4.0),
        (1, 12, true, 0.5, 10.0, 4.0),
        (5, 300, true, 3.0, 10.0, 4.0),
        (2, 80, true, 1.0, 1e3, 4.0),
        (3, 60, true, 1.5, 0.0, 1e5),
        (1, 50, true, 0.5, 50.0, -7.0),
        (1, 40, true, 1.0, 1e5, 1e6),
    ]
    .into_iter()
    .enumerate()
    {
        let cols = test_rows(k, n, 800 + ci as u64, 3.0, shift);
        let e = noise(900 + ci as u64, n);
        let beta: Vec<f64> = (0..k).map(|j| 0.5 * j as f64 - 1.25 + 1e-3).collect();
        let y = grid(
            &(0..n).map(|o| y0 + (0..k).map(|j| beta[j] * cols[j][o]).sum::<f64>() + sigma * e[o]).collect::<Vec<_>>(),
        );
        let xflat: Vec<f64> = (0..n).flat_map(|o| cols.iter().map(move |c| c[o])).collect();
        let nt = if ci % 2 == 0 { (3, 1) } else { (5, 2) };
        let (r, audits, _) =
            run_op(nt.0, nt.1, Op::LstsqStats { intercept }, &[mat2(n, k, xflat), farr(&y)], 30 + ci as u64);
        let (params, bse, tv, pv, r2, adj) = ref_ols(&cols, &y, intercept);
        match r.unwrap() {
            OpResult::Lstsq { params: gp, bse: gb, tvalues: gt, pvalues: gpv, rsquared, rsquared_adj, df_resid } => {
                let c = format!("ols case {ci}");
                let s = usize::from(intercept);
                assert_eq!(df_resid, (n - k - s) as f64, "{c}");
                assert_all_close(&format!("{c} params"), &gp, &params, 1e-6, 1e-7);
                assert_all_close(&format!("{c} bse"), &gb, &bse, 1e-6, 1e-9);
                assert_all_close(&format!("{c} t"), &gt, &tv, 1e-6, 1e-7);
                assert_all_close(&format!("{c} p"), &gpv, &pv, 1e-6, 1e-9);
                assert!(close(rsquared, r2, 1e-7, 1e-8), "{c}: R² {rsquared} vs {r2}");
                assert!(close(rsquared_adj, adj, 1e-7, 1e-8), "{c}: adj R² {rsquared_adj} vs {adj}");
            }
            o => panic!("not OLS results: {o:?}"),
        }
        assert_masked_only(&audits, &[]);
    }
    // collinear predictors: still a clear error
    let n = 20;
    let x: Vec<f64> = (0..n).flat_map(|o| [o as f64, 2.0 * o as f64]).collect();
    let y: Vec<f64> = (0..n).map(|o| o as f64 + 1.0).collect();
    let (r, _, _) = run_op(3, 1, Op::LstsqStats { intercept: true }, &[mat2(n, 2, x), farr(&y)], 1);
    assert!(matches!(r, Err(MpcError::Singular(_))), "{r:?}");
    // a perfect fit: R² = 1 and |t| = inf (statsmodels: inf or a huge t), never a wrapped value
    let x: Vec<f64> = (0..n).map(|o| o as f64).collect();
    let y: Vec<f64> = (0..n).map(|o| 2.0 * o as f64 + 1.0).collect();
    match run_op(3, 1, Op::LstsqStats { intercept: true }, &[mat2(n, 1, x), farr(&y)], 2).0.unwrap() {
        OpResult::Lstsq { params, tvalues, rsquared, .. } => {
            assert!(close(params[1], 2.0, 1e-7, 1e-8) && close(rsquared, 1.0, 1e-7, 1e-8), "{params:?} {rsquared}");
            assert!(tvalues[1] > 1e6, "{tvalues:?}");
        }
        o => panic!("{o:?}"),
    }
    // stats cannot be stored
    let (r, _, _) = run_stored_op(
        3,
        1,
        Op::LstsqStats { intercept: true },
        &[mat2(4, 1, vec![1.0, 2.0, 3.0, 5.0]), farr(&[1.0, 2.0, 3.0, 4.0])],
        3,
    );
    assert!(matches!(r, Err(MpcError::Unsupported(_))), "{r:?}");
}

/// The cost of this branch's additions at party 0, semi-honest, in memory:
/// `cargo nextest run --release -p enigma-protocol --run-ignored only -E 'test(tool16_cost_table)' --no-capture`
/// (`TOOL16_N` rows, default 2000): lstsq 10 predictors with and without `stats`, the pooled
/// t-test revealed and stored, a histogram into 20 bins with and without the per-bin rule.
#[test]
#[ignore]
fn tool16_cost_table() {
    let n: usize = std::env::var("TOOL16_N").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let (k, nt) = (10usize, (3usize, 1usize));
    let cols = test_rows(k, n, 1, 3.0, 10.0);
    let e = noise(2, n);
    let y = grid(&(0..n).map(|o| 1.0 + cols.iter().map(|c| 0.1 * c[o]).sum::<f64>() + e[o]).collect::<Vec<_>>());
    let xflat: Vec<f64> = (0..n).flat_map(|o| cols.iter().map(move |c| c[o])).collect();
    let lx = [mat2(n, k, xflat), farr(&y)];
    let a = grid(&noise(3, n));
    let b = grid(&noise(4, n).iter().map(|v| v + 0.1).collect::<Vec<_>>());
    let edges20 = crate::mpc::histogram::linspace_edges(20, -1.0, 1.0).unwrap();
    let h = [farr(&a)];
    let row = |name: &str, c: &Counters, secs: f64| {
        println!("| {name} | {secs:.2} | {} | {:.1} | {} |", c.rounds, c.bytes_sent as f64 / 1e6, c.comparisons)
    };
    println!("N = {n}, n = 3, semi-honest, party 0\n| op | wall s | rounds | MB sent | LTZ |\n|---|---|---|---|---|");
    for (name, op, vals, stored) in [
        ("lstsq 10 (intercept)", Op::Lstsq { intercept: true }, &lx[..], false),
        ("lstsq 10 (intercept), stats=True", Op::LstsqStats { intercept: true }, &lx[..], false),
        ("ttest_ind N + N", Op::TtestInd, &[farr(&a), farr(&b)][..], false),
        ("ttest_ind N + N, store=True", Op::TtestInd, &[farr(&a), farr(&b)][..], true),
        ("histogram N, 20 bins", Op::histogram_min(&edges20, 0), &h[..], false),
        ("histogram N, 20 bins, min_count 5", Op::histogram_min(&edges20, 5), &h[..], false),
    ] {
        let t0 = std::time::Instant::now();
        let counters = if stored {
            let (r, _, _, c) = run_stored_op_counted(nt.0, nt.1, op, vals, 5);
            r.unwrap();
            c
        } else {
            let (r, _, c) = run_op(nt.0, nt.1, op, vals, 5);
            r.unwrap();
            c
        };
        row(name, &counters[0], t0.elapsed().as_secs_f64());
    }
}
