//! Protocol tests of the statistician's toolbox (issue 16): numpy.cov / corrcoef, the scipy
//! t-tests and numpy.linalg.lstsq over the in-memory transport, against f64 references on the
//! stored (fixed-point) values, with every opened value checked to be masked.

use super::*;

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
    // store=True of a t-test is refused with a clear error (the statistic is a quotient formed at
    // the requester; see docs/decisions.md)
    for op in [Op::TtestRel, Op::TtestWelch, Op::TtestInd] {
        let (r, _, _) = run_stored_op(3, 1, op, &[farr(&[1.0, 2.0]), farr(&[1.0, 3.0])], 1);
        assert!(matches!(r, Err(MpcError::Unsupported(_))), "{r:?}");
    }
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
        let rep = crate::fixed::encode_float(mu).unwrap() as i64;
        let nt = if ci % 2 == 0 { (3, 1) } else { (5, 2) };
        let (r, audits, _) = run_op(nt.0, nt.1, Op::Ttest1samp { popmean: rep }, &[farr(&x)], 1 + ci as u64);
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
    let (t, p, _) = ttest(run_op(3, 1, Op::Ttest1samp { popmean: 0 }, &[farr(&[2.0; 5])], 1).0);
    assert!(t.is_infinite() && t > 0.0 && p == 0.0, "{t} {p}");
    let rep = crate::fixed::encode_float(2.0).unwrap() as i64;
    let (t, _, _) = ttest(run_op(3, 1, Op::Ttest1samp { popmean: rep }, &[farr(&[2.0; 5])], 1).0);
    assert!(t.is_nan());
    let (r, _, _) = run_op(3, 1, Op::Ttest1samp { popmean: 0 }, &[farr(&[2.0])], 1);
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
    use super::super::histogram::{edge_reps, linspace_edges};
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
        let (lower, upper) = edge_reps(&edges).unwrap();
        let nt = if ci == 1 { (5, 2) } else { (3, 1) };
        let (r, audits, _) =
            run_op(nt.0, nt.1, Op::Histogram { lower, upper }, &[farr(&x[..150]), farr(&x[150..])], ci as u64);
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
    assert!(edge_reps(&[1.0, 0.0]).is_err());
    assert!(linspace_edges(3, 1.0, 0.0).is_err());
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
