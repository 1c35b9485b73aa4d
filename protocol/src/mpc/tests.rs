//! Tests of the MPC engine over the in-memory transport (n = 3 and n = 5, parties as tokio tasks).

use super::bench::{share_value, share_value_at, simulate};
use super::*;
use crate::field::Fp;
use crate::fixed::NumScale;
use crate::shamir;
use crate::value::{Array, ArrayData, Value};
use proptest::prelude::*;

/// Decimal storage scales (issue 15).
mod decimal;
/// The shuffle and median / percentile / quantile (issue 16).
mod order_stats;
/// cov, corrcoef, t-tests, lstsq (issue 16).
mod toolbox;
/// Property tests of the toolbox primitives (issue 16).
mod toolbox_props;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Reconstructs per-party share vectors (party i's at index i) from the first t + 1.
fn open_all(shares: &[Vec<Fp>], t: usize) -> Vec<Fp> {
    let pts: Vec<(Fp, &[Fp])> =
        shares.iter().enumerate().take(t + 1).map(|(i, s)| (shamir::x_of(i), s.as_slice())).collect();
    shamir::reconstruct(&pts, t).unwrap()
}

fn share_fp(v: &[Fp], n: usize, t: usize, seed: u64) -> Vec<Vec<Fp>> {
    let mut rng = StdRng::seed_from_u64(seed);
    shamir::share(v, t, n, &mut rng).unwrap()
}

fn ints(v: &[i128]) -> Vec<Fp> {
    v.iter().map(|x| Fp::from_i128(*x)).collect()
}

/// What every party of a simulated op returned: the output shares of those that finished, the
/// first error (if any party failed), each party's audit and counters, and the inputs' metadata.
struct Simulated {
    shares: Vec<(usize, OutputShare)>,
    err: Option<MpcError>,
    audits: Vec<Vec<AuditEntry>>,
    counters: Vec<Counters>,
    metas: Vec<crate::value::ValueMeta>,
}

/// Shares `vals` among n parties, each key at its storage scale in `scales` (one per key), and runs
/// `op` on them, revealed (`stored` false: `run`) or kept at the storage scale (`stored` true:
/// `run_stored`). The one runner of the op tests: [`run_op`] and [`open_stored`] build on it.
fn simulate_op(n: usize, t: usize, op: &Op, vals: &[Value], scales: &[NumScale], seed: u64, stored: bool) -> Simulated {
    assert_eq!(vals.len(), scales.len(), "one scale per key");
    let mut rng = StdRng::seed_from_u64(seed);
    let per_key: Vec<Vec<SharedInput>> =
        vals.iter().zip(scales).map(|(v, s)| share_value_at(v, n, t, &mut rng, *s)).collect();
    let metas: Vec<_> = per_key.iter().map(|k| k[0].meta.clone()).collect();
    let op2 = op.clone();
    let res = simulate(n, t, seed, move |mut p| {
        let inputs: Vec<SharedInput> = per_key.iter().map(|k| k[p.me()].clone()).collect();
        let op = op2.clone();
        async move {
            p.enable_audit();
            let r = if stored { run_stored(&mut p, &op, inputs).await } else { run(&mut p, &op, inputs).await };
            (p.me(), r, p.audit().to_vec(), p.counters().clone())
        }
    });
    let mut sim = Simulated { shares: Vec::new(), err: None, audits: Vec::new(), counters: Vec::new(), metas };
    for (i, r, a, c) in res {
        match r {
            Ok(s) => sim.shares.push((i, s)),
            Err(e) => sim.err = Some(e),
        }
        sim.audits.push(a);
        sim.counters.push(c);
    }
    sim
}

/// Every key at the legacy binary scale 2^-20 (the scale the older tests' references assume).
fn binary(vals: &[Value]) -> Vec<NumScale> {
    vec![NumScale::Binary20; vals.len()]
}

/// Runs an op on values at the binary scale, returns the requester's result and every party's audit.
fn run_op(
    n: usize,
    t: usize,
    op: Op,
    vals: &[Value],
    seed: u64,
) -> (Result<OpResult, MpcError>, Vec<Vec<AuditEntry>>, Vec<Counters>) {
    run_op_at(n, t, &op, vals, &binary(vals), seed)
}

/// [`run_op`] with each key at its own storage scale.
fn run_op_at(
    n: usize,
    t: usize,
    op: &Op,
    vals: &[Value],
    scales: &[NumScale],
    seed: u64,
) -> (Result<OpResult, MpcError>, Vec<Vec<AuditEntry>>, Vec<Counters>) {
    let sim = simulate_op(n, t, op, vals, scales, seed, false);
    if let Some(e) = sim.err {
        return (Err(e), sim.audits, sim.counters);
    }
    (reveal(op, &sim.metas, &sim.shares, t, Security::SemiHonest), sim.audits, sim.counters)
}

fn farr(v: &[f64]) -> Value {
    Value::Array(Array { shape: vec![v.len()], data: ArrayData::Float(v.to_vec()) })
}

fn decoded(v: &[f64]) -> Vec<f64> {
    // the values as stored (fixed point), which the references must use
    v.iter().map(|x| crate::fixed::decode_float(crate::fixed::encode_float(*x).unwrap())).collect()
}

// ---------------------------------------------------------------- primitives

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, rng_seed: proptest::test_runner::RngSeed::Fixed(7), ..ProptestConfig::default() })]

    #[test]
    fn beaver_and_dn_multiply(nt in prop::sample::select(vec![(3usize, 1usize), (5, 2)]),
                              xs in prop::collection::vec(any::<i64>(), 1..40),
                              seed in any::<u64>()) {
        let (n, t) = nt;
        let x: Vec<Fp> = xs.iter().map(|v| Fp::from_i128(*v as i128)).collect();
        let y: Vec<Fp> = xs.iter().rev().map(|v| Fp::from_i128(*v as i128 / 3)).collect();
        let sx = share_fp(&x, n, t, seed);
        let sy = share_fp(&y, n, t, seed ^ 1);
        let res = simulate(n, t, seed, move |mut p| {
            let (a, b) = (sx[p.me()].clone(), sy[p.me()].clone());
            async move {
                let z1 = p.mul(&a, &b).await.unwrap();
                let z2 = p.mul_dn(&a, &b).await.unwrap();
                let ip = p.inner_products(&[(&a, &b)]).await.unwrap();
                (z1, z2, ip)
            }
        });
        let expect: Vec<Fp> = x.iter().zip(&y).map(|(a, b)| *a * *b).collect();
        let z1: Vec<Vec<Fp>> = res.iter().map(|r| r.0.clone()).collect();
        let z2: Vec<Vec<Fp>> = res.iter().map(|r| r.1.clone()).collect();
        let ip: Vec<Vec<Fp>> = res.iter().map(|r| r.2.clone()).collect();
        prop_assert_eq!(open_all(&z1, t), expect.clone());
        prop_assert_eq!(open_all(&z2, t), expect.clone());
        prop_assert_eq!(open_all(&ip, t)[0], expect.iter().copied().sum::<Fp>());
    }

    #[test]
    fn truncation_error_is_bounded(nt in prop::sample::select(vec![(3usize, 1usize), (5, 2)]),
                                   xs in prop::collection::vec(-(1i128 << 62)..(1i128 << 62), 1..30),
                                   m in 1u32..40, seed in any::<u64>()) {
        let (n, t) = nt;
        let sx = share_fp(&ints(&xs), n, t, seed);
        let res = simulate(n, t, seed, move |mut p| {
            let a = sx[p.me()].clone();
            async move { (p.trunc(&a, m, 62).await.unwrap(), p.trunc_div(&a, 1000, 62).await.unwrap()) }
        });
        let r1 = open_all(&res.iter().map(|r| r.0.clone()).collect::<Vec<_>>(), t);
        let r2 = open_all(&res.iter().map(|r| r.1.clone()).collect::<Vec<_>>(), t);
        for (i, x) in xs.iter().enumerate() {
            let e1 = r1[i].to_i128() - x.div_euclid(1 << m);
            let e2 = r2[i].to_i128() - x.div_euclid(1000);
            prop_assert!((0..=t as i128 + 1).contains(&e1), "trunc error {}", e1);
            prop_assert!((0..=t as i128 + 1).contains(&e2), "div error {}", e2);
        }
    }

    #[test]
    fn ltz_and_decompose(nt in prop::sample::select(vec![(3usize, 1usize), (5, 2)]),
                         xs in prop::collection::vec(-(1i128 << 62)..(1i128 << 62), 1..12),
                         seed in any::<u64>()) {
        let (n, t) = nt;
        let mut vals = xs.clone();
        vals.extend([0, -1, 1, (1i128 << 62) - 1, -(1i128 << 62)]);
        let sx = share_fp(&ints(&vals), n, t, seed);
        let res = simulate(n, t, seed, move |mut p| {
            let a = sx[p.me()].clone();
            async move {
                let l = p.ltz(&a, 64).await.unwrap();
                let b = p.decompose(&a).await.unwrap();
                (l, b)
            }
        });
        let l = open_all(&res.iter().map(|r| r.0.clone()).collect::<Vec<_>>(), t);
        let b = open_all(&res.iter().map(|r| r.1.clone()).collect::<Vec<_>>(), t);
        for (i, x) in vals.iter().enumerate() {
            prop_assert_eq!(l[i], Fp::from_u64((*x < 0) as u64), "ltz of {}", x);
            let bits = &b[i * 127..(i + 1) * 127];
            prop_assert!(bits.iter().all(|v| *v == Fp::ZERO || *v == Fp::ONE));
            prop_assert_eq!(bits::compose(bits), Fp::from_i128(*x), "bits of {}", x);
        }
    }
}

#[test]
fn decompose_edge_values() {
    let (n, t) = (3, 1);
    let vals = vec![Fp::ZERO, Fp::ONE, Fp::new(field::P - 1), Fp::new(1u128 << 126), Fp::new(12345)];
    let sx = share_fp(&vals, n, t, 5);
    let res = simulate(n, t, 5, move |mut p| {
        let a = sx[p.me()].clone();
        async move { p.decompose(&a).await.unwrap() }
    });
    let b = open_all(&res, t);
    for (i, v) in vals.iter().enumerate() {
        assert_eq!(bits::compose(&b[i * 127..(i + 1) * 127]), *v);
    }
}

#[test]
fn closed_channel_is_an_error_not_a_hang() {
    let (n, t) = (3, 1);
    let x = share_fp(&[Fp::from_u64(3); 10], n, t, 1);
    let res = simulate(n, t, 1, move |mut p| {
        let a = x[p.me()].clone();
        async move {
            if p.me() == 2 {
                p.transport_mut().close();
                return Err(MpcError::Transport("crashed".into()));
            }
            let r = tokio::time::timeout(std::time::Duration::from_secs(10), p.mul(&a, &a)).await;
            r.map_err(|_| MpcError::Transport("hang".into()))?
        }
    });
    for r in &res {
        assert!(matches!(r, Err(MpcError::Transport(m)) if m != "hang"), "{r:?}");
    }
}

#[test]
fn malformed_message_is_refused() {
    let (n, t) = (3, 1);
    let res = simulate(n, t, 1, move |mut p| async move {
        if p.me() == 1 {
            // a hostile peer sends garbage instead of its opening share
            for to in [0usize, 2] {
                p.transport_mut().send(to, vec![0xff; 7]).await.unwrap();
            }
            return Ok(vec![]);
        }
        p.open(&[Fp::ONE], 1, "test").await
    });
    assert!(matches!(res[2], Err(MpcError::Malformed { from: 1, .. })), "{:?}", res[2]);
}

#[test]
fn reshare_moves_a_secret_into_the_committee() {
    // source group: 3 holders (t=1) are participants 3, 4 (dealers), committee 0..3 (t=1)
    let (n, t) = (3, 1);
    let secret = vec![Fp::from_u64(42), Fp::new(field::P - 7)];
    let mut rng = StdRng::seed_from_u64(3);
    let src = shamir::share(&secret, 1, 3, &mut rng).unwrap();
    let dealers = vec![(3usize, shamir::x_of(0)), (4usize, shamir::x_of(2))];
    let src_shares = [src[0].clone(), src[2].clone()];
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    let out = rt.block_on(async move {
        let mut hs = Vec::new();
        for (i, tr) in InMemoryTransport::network(5).into_iter().enumerate() {
            let dealers = dealers.clone();
            let mine = if i >= 3 { Some(src_shares[i - 3].clone()) } else { None };
            hs.push(tokio::spawn(async move {
                let mut p = Party::with_seed(tr, n, t, i as u64).unwrap();
                p.set_security(Security::SemiHonest);
                reshare_in(&mut p, &dealers, mine.as_deref(), 2, 1).await.unwrap()
            }));
        }
        let mut v = Vec::new();
        for h in hs {
            v.push(h.await.unwrap());
        }
        v
    });
    assert!(out[3].is_none() && out[4].is_none());
    let committee: Vec<Vec<Fp>> = out[..3].iter().map(|s| s.clone().unwrap()).collect();
    assert_eq!(open_all(&committee, t), secret);
    // and any other pair of committee members agrees
    let pts: Vec<(Fp, &[Fp])> = vec![(shamir::x_of(1), &committee[1]), (shamir::x_of(2), &committee[2])];
    assert_eq!(shamir::reconstruct(&pts, 1).unwrap(), secret);
}

// ---------------------------------------------------------------- ops

fn assert_masked_only(audits: &[Vec<AuditEntry>], forbidden: &[Fp]) {
    for a in audits {
        for e in a {
            assert_eq!(e.kind, OpenKind::Masked);
            for v in &e.values {
                assert!(!forbidden.contains(v), "opened a forbidden value {v:?} ({})", e.label);
            }
        }
    }
}

fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(a.abs()) + abs
}

fn ref_stats(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
    (m, var)
}

#[test]
fn mean_var_std_accuracy_and_leakage() {
    let cases: Vec<Vec<f64>> = vec![
        vec![1.5],
        vec![1.0, 2.0, 3.0, 4.0],
        (0..1000).map(|i| ((i * 7919) % 1000) as f64 * 0.001 - 0.5).collect(),
        // around 10^6 with tiny spread: centring keeps accuracy
        (0..2000).map(|i| 1e6 + ((i * 31) % 97) as f64 * 1e-6).collect(),
        (0..10_000).map(|i| (((i * 7919) % 20001) as f64 - 10000.0) * 123.456789).collect(),
    ];
    for (ci, data) in cases.iter().enumerate() {
        let vals = decoded(data);
        let (m, var) = ref_stats(&vals);
        for (nt, op) in [((3, 1), Op::Mean), ((3, 1), Op::Var), ((5, 2), Op::Std)] {
            let (r, audits, _) = run_op(nt.0, nt.1, op.clone(), &[farr(data)], 11 + ci as u64);
            let got = match r.unwrap() {
                OpResult::Scalars(v) => v[0],
                o => panic!("{o:?}"),
            };
            let expect = match op {
                Op::Mean => m,
                Op::Var => var,
                _ => var.sqrt(),
            };
            let scale = vals.iter().fold(0f64, |a, b| a.max(b.abs()));
            assert!(close(got, expect, 1e-6, 1e-9 * scale.max(1.0)), "case {ci} {op:?}: got {got}, expected {expect}");
            // leakage: only masked openings, never an input, the sum or the sum of squares
            let reps: Vec<i128> = vals.iter().map(|x| crate::fixed::encode_float(*x).unwrap()).collect();
            let mut forbidden: Vec<Fp> = reps.iter().map(|r| Fp::from_i128(*r)).collect();
            forbidden.push(Fp::from_i128(reps.iter().sum()));
            forbidden.push(reps.iter().map(|r| Fp::from_i128(*r) * Fp::from_i128(*r)).sum());
            assert_masked_only(&audits, &forbidden);
        }
    }
}

#[test]
fn mean_openings_are_exactly_the_protocol() {
    let (r, audits, _) = run_op(3, 1, Op::Mean, &[farr(&[1.0, 2.0, 4.0])], 3);
    match r.unwrap() {
        OpResult::Scalars(v) => assert!((v[0] - 7.0 / 3.0).abs() < 1e-12, "{v:?}"),
        o => panic!("{o:?}"),
    }
    // one decomposition: 1 masked opening of c = Σx + r, then 9 degree reductions of the adder
    for a in &audits {
        let labels: Vec<&str> = a.iter().map(|e| e.label).collect();
        assert_eq!(labels.iter().filter(|l| **l == "decompose").count(), 1);
        assert!(labels.iter().all(|l| ["decompose", "reduce", "dn-mul"].contains(l)), "{labels:?}");
        assert_eq!(a.iter().find(|e| e.label == "decompose").unwrap().values.len(), 1);
    }
}

#[test]
fn out_of_range_variance_is_a_clear_error() {
    // values near 2^41 with a huge spread: N·Σd² would overflow the field
    let data: Vec<f64> = (0..64).map(|i| if i % 2 == 0 { 4.0e12 } else { -4.0e12 }).collect();
    let (r, audits, _) = run_op(3, 1, Op::Var, &[farr(&data)], 5);
    assert!(matches!(r, Err(MpcError::OutOfRange(_))), "{r:?}");
    assert_masked_only(&audits, &[]);
}

#[test]
fn max_min_scalar_keys_and_arrays() {
    let keys: Vec<Value> = [3.5, -1.0, 7.25, 7.25, 0.0].iter().map(|v| Value::Float(*v)).collect();
    let (r, audits, _) = run_op(3, 1, Op::Max, &keys, 8);
    assert_eq!(r.unwrap(), OpResult::KeyIndex(2)); // ties → first
    let (r, _, _) = run_op(5, 2, Op::Min, &keys, 9);
    assert_eq!(r.unwrap(), OpResult::KeyIndex(1));
    assert_masked_only(&audits, &[]);
    let ints = Value::Array(Array { shape: vec![2, 3], data: ArrayData::Int(vec![5, -9, 12, 12, 0, -9]) });
    let (r, _, _) = run_op(3, 1, Op::Min, &[ints.clone(), Value::Int(-3)], 10);
    assert_eq!(
        r.unwrap(),
        OpResult::Array { shape: vec![], dtype: crate::value::Dtype::Int, data: ArrayData::Int(vec![-9]) }
    );
    let (r, _, _) = run_op(3, 1, Op::Max, &[ints], 10);
    assert_eq!(
        r.unwrap(),
        OpResult::Array { shape: vec![], dtype: crate::value::Dtype::Int, data: ArrayData::Int(vec![12]) }
    );
}

fn ref_dot(a: &[f64], ash: &[usize], b: &[f64], bsh: &[usize]) -> Vec<f64> {
    let (oshape, k) = linalg::dot_shape(ash, bsh).unwrap();
    let nout: usize = oshape.iter().product();
    if ash.is_empty() || bsh.is_empty() {
        let (s, arr) = if ash.is_empty() { (a[0], b) } else { (b[0], a) };
        return arr.iter().map(|v| s * v).collect();
    }
    let m = if bsh.len() >= 2 { bsh[bsh.len() - 1] } else { 1 };
    let nb = b.len() / (k * m);
    let ra = a.len() / k;
    let mut out = Vec::with_capacity(nout);
    for r in 0..ra {
        for bb in 0..nb {
            for j in 0..m {
                out.push((0..k).map(|kk| a[r * k + kk] * b[bb * k * m + kk * m + j]).sum());
            }
        }
    }
    out
}

#[test]
fn dot_shapes_ints_exact_floats_close() {
    let shapes: Vec<(Vec<usize>, Vec<usize>)> = vec![
        (vec![4], vec![4]),
        (vec![2, 3], vec![3, 2]),
        (vec![3], vec![3, 2]),
        (vec![2, 3], vec![3]),
        (vec![2, 2, 3], vec![2, 3, 2]),
        (vec![], vec![2, 2]),
    ];
    for (si, (ash, bsh)) in shapes.iter().enumerate() {
        let na: usize = ash.iter().product();
        let nb: usize = bsh.iter().product();
        let ai: Vec<i64> = (0..na as i64).map(|i| i * 37 % 11 - 5).collect();
        let bi: Vec<i64> = (0..nb as i64).map(|i| i * 13 % 7 - 3).collect();
        let mk = |sh: &Vec<usize>, d: ArrayData| {
            if sh.is_empty() {
                match d {
                    ArrayData::Int(v) => Value::Int(v[0]),
                    ArrayData::Float(v) => Value::Float(v[0]),
                }
            } else {
                Value::Array(Array { shape: sh.clone(), data: d })
            }
        };
        let (r, _, _) = run_op(
            3,
            1,
            Op::Dot,
            &[mk(ash, ArrayData::Int(ai.clone())), mk(bsh, ArrayData::Int(bi.clone()))],
            20 + si as u64,
        );
        let af: Vec<f64> = ai.iter().map(|v| *v as f64).collect();
        let bf: Vec<f64> = bi.iter().map(|v| *v as f64).collect();
        let expect = ref_dot(&af, ash, &bf, bsh);
        let (oshape, _) = linalg::dot_shape(ash, bsh).unwrap();
        assert_eq!(
            r.unwrap(),
            OpResult::Array {
                shape: oshape.clone(),
                dtype: crate::value::Dtype::Int,
                data: ArrayData::Int(expect.iter().map(|v| *v as i64).collect())
            },
            "shape case {si}"
        );
        // floats
        let a2: Vec<f64> = decoded(&af.iter().map(|v| v * 1.37 + 0.1).collect::<Vec<_>>());
        let b2: Vec<f64> = decoded(&bf.iter().map(|v| v * 2.11 - 0.3).collect::<Vec<_>>());
        let (r, _, _) = run_op(
            5,
            2,
            Op::Dot,
            &[mk(ash, ArrayData::Float(a2.clone())), mk(bsh, ArrayData::Float(b2.clone()))],
            30 + si as u64,
        );
        let expect = ref_dot(&a2, ash, &b2, bsh);
        match r.unwrap() {
            OpResult::Array { shape, data: ArrayData::Float(v), .. } => {
                assert_eq!(shape, oshape);
                for (g, e) in v.iter().zip(&expect) {
                    assert!(close(*g, *e, 1e-6, 2.5e-6), "dot {si}: {g} vs {e}");
                }
            }
            o => panic!("{o:?}"),
        }
    }
    let (r, _, _) = run_op(3, 1, Op::Dot, &[farr(&[1.0, 2.0]), farr(&[1.0, 2.0, 3.0])], 1);
    assert!(matches!(r, Err(MpcError::Shape(_))), "{r:?}");
}

#[test]
fn non_numeric_input_is_refused() {
    let (r, _, _) = run_op(3, 1, Op::Mean, &[Value::String("hello".into())], 1);
    assert!(matches!(r, Err(MpcError::NotNumeric(_))), "{r:?}");
}

/// `cargo test -p enigma-protocol --release bench_table -- --ignored --nocapture`
#[test]
#[ignore]
fn bench_table() {
    for security in [Security::SemiHonest, Security::Active] {
        println!("{}", bench::run_in_memory(3, 1, 100_000, security));
        println!("{}", bench::run_in_memory(5, 2, 100_000, security));
    }
}

fn ref_linregress(x: &[f64], y: &[f64]) -> (f64, f64, f64, f64, f64) {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxx: f64 = x.iter().map(|a| (a - mx) * (a - mx)).sum();
    let syy: f64 = y.iter().map(|a| (a - my) * (a - my)).sum();
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let slope = sxy / sxx;
    let r = if syy == 0.0 { 0.0 } else { sxy / (sxx * syy).sqrt() };
    let df = n - 2.0;
    let (p, se) = if x.len() == 2 {
        (if r == 0.0 { 1.0 } else { 0.0 }, 0.0)
    } else {
        let t = r * (df / ((1.0 - r + 1e-20) * (1.0 + r + 1e-20))).sqrt();
        (tdist::t_two_sided(t, df), ((1.0 - r * r).max(0.0) * syy / sxx / df).sqrt())
    };
    (slope, my - slope * mx, r, p, se)
}

/// Regression data both linregress tests use: a clean line, a narrow x far from 0, two points, and a
/// constant y.
/// What a revealed linregress costs in memory (party 0), at the sizes of the bench rows. Run with
/// `cargo nextest run --release -p enigma-protocol --run-ignored only -E 'test(linregress_cost_table)' --no-capture`.
#[test]
#[ignore = "a cost table, not a check"]
fn linregress_cost_table() {
    println!("| N | n | wall s | rounds | MB sent |\n|---|---|---|---|---|");
    for size in [10_000usize, 100_000] {
        let x: Vec<f64> = (0..size).map(|i| 1e6 + (i % 1000) as f64 * 0.001).collect();
        let y: Vec<f64> = x.iter().enumerate().map(|(i, v)| 2.0 * v + (i % 7) as f64).collect();
        for nt in [(3usize, 1usize), (5, 2)] {
            let t0 = std::time::Instant::now();
            let (r, _, c) = run_op(nt.0, nt.1, Op::Linregress, &[farr(&x), farr(&y)], 5);
            r.unwrap();
            let secs = t0.elapsed().as_secs_f64();
            println!("| {size} | {} | {secs:.3} | {} | {:.2} |", nt.0, c[0].rounds, c[0].bytes_sent as f64 / 1e6);
        }
    }
}

fn linregress_cases() -> Vec<(Vec<f64>, Vec<f64>)> {
    vec![
        (
            (0..100).map(|i| i as f64).collect(),
            (0..100).map(|i| 2.0 * i as f64 + 1.0 + ((i * 37) % 11) as f64 * 0.1).collect(),
        ),
        (
            (0..500).map(|i| 1e6 + ((i * 17) % 101) as f64 * 1e-3).collect(),
            (0..500).map(|i| -3.0 * ((i * 17) % 101) as f64 * 1e-3 + 42.0 + ((i * 7) % 13) as f64 * 1e-4).collect(),
        ),
        (vec![1.0, 3.0], vec![2.0, -1.5]),
        ((0..50).map(|i| i as f64 * 0.5).collect(), vec![7.25; 50]),
    ]
}

#[test]
fn linregress_matches_scipy_semantics() {
    let mut cases = linregress_cases();
    cases.extend([(
        (0..10_000).map(|i| ((i * 7919) % 10007) as f64 * 0.01 - 50.0).collect(),
        (0..10_000).map(|i| ((i * 104729) % 9973) as f64 * 0.1 - 500.0 + ((i * 7919) % 10007) as f64 * 0.003).collect(),
    )]);
    for (ci, (x, y)) in cases.iter().enumerate() {
        let (xd, yd) = (decoded(x), decoded(y));
        let (slope, icpt, r, p, se) = ref_linregress(&xd, &yd);
        let nt = if ci % 2 == 0 { (3, 1) } else { (5, 2) };
        let (res, audits, _) = run_op(nt.0, nt.1, Op::Linregress, &[farr(x), farr(y)], 40 + ci as u64);
        match res.unwrap() {
            OpResult::Linregress { slope: s, intercept: i, r_value: rv, p_value: pv, std_err: e } => {
                let scale = xd.iter().chain(&yd).fold(1f64, |a, b| a.max(b.abs()));
                // r carries ~2^-30 absolute truncation noise (exactly 0 is not reproduced)
                let q = (slope / r).abs();
                assert!(close(s, slope, 1e-6, 1e-8 * q.max(1.0)), "case {ci}: slope {s} vs {slope}");
                assert!(close(i, icpt, 1e-6, 1e-6 * scale * 1e-3), "case {ci}: intercept {i} vs {icpt}");
                assert!(close(rv, r, 1e-6, 1e-8), "case {ci}: r {rv} vs {r}");
                // p and std_err depend on 1 − r², which amplifies r's ~2^-32 relative error by
                // 2r²/(1 − r²): the tolerance follows that conditioning (docs/mpc.md)
                let cond = 1e-6 + 1e-9 / (1.0 - r * r).max(1e-12);
                assert!(close(pv, p, cond, 1e-9), "case {ci}: p {pv} vs {p}");
                assert!(close(e, se, cond, 1e-12), "case {ci}: stderr {e} vs {se}");
            }
            o => panic!("{o:?}"),
        }
        let reps: Vec<Fp> =
            xd.iter().chain(&yd).map(|v| Fp::from_i128(crate::fixed::encode_float(*v).unwrap())).collect();
        assert_masked_only(&audits, &reps);
    }
    // identical x → clear error; different lengths → shape error
    let (res, _, _) = run_op(3, 1, Op::Linregress, &[farr(&[2.0; 5]), farr(&[1.0, 2.0, 3.0, 4.0, 5.0])], 1);
    assert!(matches!(res, Err(MpcError::Invalid(ref m)) if m.contains("identical")), "{res:?}");
    let (res, _, _) = run_op(3, 1, Op::Linregress, &[farr(&[2.0; 5]), farr(&[1.0; 4])], 1);
    assert!(matches!(res, Err(MpcError::Shape(_))), "{res:?}");
}

/// The values exactly as the binary scale holds them (rep/2^20, not the shortest decimal that
/// decodes to the same rep): an inverse is compared against the matrix the engine inverted.
fn held_exactly(v: &[f64]) -> Vec<f64> {
    v.iter()
        .map(|x| crate::fixed::encode_float(*x).unwrap() as f64 / (1u64 << crate::fixed::FRAC_BITS) as f64)
        .collect()
}

/// A d×d matrix with condition number ≈ κ: U·diag(1 … 1/κ)·Vᵀ for two Householder reflections
/// U = I − 2uuᵀ, V = I − 2vvᵀ of seeded unit vectors, scaled by `scale`.
fn conditioned(d: usize, kappa: f64, scale: f64, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let unit = |rng: &mut StdRng| {
        let v: Vec<f64> = (0..d).map(|_| rng.random::<f64>() - 0.5).collect();
        let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        v.into_iter().map(|x| x / n).collect::<Vec<f64>>()
    };
    let (u, v) = (unit(&mut rng), unit(&mut rng));
    let sv: Vec<f64> = (0..d).map(|i| kappa.powf(-(i as f64) / (d as f64 - 1.0))).collect();
    let h = |w: &[f64], i: usize, j: usize| f64::from(u8::from(i == j)) - 2.0 * w[i] * w[j];
    (0..d * d)
        .map(|ij| {
            let (i, j) = (ij / d, ij % d);
            scale * (0..d).map(|k| h(&u, i, k) * sv[k] * h(&v, j, k)).sum::<f64>()
        })
        .collect()
}

fn inv_residual(a: &[f64], x: &[f64], d: usize) -> f64 {
    let mut worst = 0f64;
    for i in 0..d {
        let mut row = 0f64;
        for j in 0..d {
            let v: f64 = (0..d).map(|k| a[i * d + k] * x[k * d + j]).sum::<f64>() - if i == j { 1.0 } else { 0.0 };
            row += v.abs();
        }
        worst = worst.max(row);
    }
    worst
}

fn mat(d: usize, v: Vec<f64>) -> Value {
    Value::Array(Array { shape: vec![d, d], data: ArrayData::Float(v) })
}

#[test]
fn inverse_accuracy_and_errors() {
    // 10×10 well conditioned, 10×10 with condition number ~ 500, 32×32, and seeded matrices of
    // condition number 10^3 at 10×10 and 32×32 (the bound: ≤ 1e-9 for κ ≤ 10^3, d ≤ 32)
    let mut cases: Vec<(usize, Vec<f64>)> = Vec::new();
    let d = 10;
    cases.push((
        d,
        (0..d * d).map(|i| if i % (d + 1) == 0 { 5.0 } else { ((i * 37 % 19) as f64 - 9.0) * 0.05 }).collect(),
    ));
    cases.push((
        d,
        (0..d * d)
            .map(|i| {
                if i % (d + 1) == 0 {
                    1000.0 / (1 + i / (d + 1)) as f64 / 5.0
                } else {
                    ((i * 13 % 7) as f64 - 3.0) * 0.001
                }
            })
            .collect(),
    ));
    let d = 32;
    cases.push((
        d,
        (0..d * d)
            .map(|i| if i % (d + 1) == 0 { 40.0 + (i % 7) as f64 } else { ((i * 7919 % 101) as f64 - 50.0) * 0.02 })
            .collect(),
    ));
    cases.push((10, conditioned(10, 1e3, 30.0, 61)));
    cases.push((32, conditioned(32, 1e3, 30.0, 62)));
    for (ci, (d, a)) in cases.iter().enumerate() {
        let ad = held_exactly(a);
        let nt = if ci % 2 == 1 { (5, 2) } else { (3, 1) };
        let (r, audits, _) = run_op(nt.0, nt.1, Op::Inv, &[mat(*d, a.clone())], 60 + ci as u64);
        match r.unwrap() {
            OpResult::Array { shape, data: ArrayData::Float(x), .. } => {
                assert_eq!(shape, vec![*d, *d]);
                let res = inv_residual(&ad, &x, *d);
                println!("inv case {ci}: d = {d}, (n, t) = {nt:?}, ‖A·inv(A) − I‖∞ = {res:e}");
                assert!(res <= 1e-9, "case {ci}: ‖A·inv(A) − I‖∞ = {res}");
            }
            o => panic!("{o:?}"),
        }
        assert_masked_only(&audits, &[]);
    }
    // singular → clear error
    let sing: Vec<f64> = (0..16).map(|i| ((i / 4) + 1) as f64 * ((i % 4) + 1) as f64).collect();
    let (r, _, _) = run_op(3, 1, Op::Inv, &[mat(4, sing)], 70);
    assert!(matches!(r, Err(MpcError::Singular(_))), "{r:?}");
    let (r, _, _) = run_op(3, 1, Op::Inv, &[mat(3, vec![0.0; 9])], 71);
    assert!(matches!(r, Err(MpcError::Singular(_))), "{r:?}");
    let (r, _, _) =
        run_op(3, 1, Op::Inv, &[Value::Array(Array { shape: vec![2, 3], data: ArrayData::Float(vec![1.0; 6]) })], 72);
    assert!(matches!(r, Err(MpcError::Shape(_))), "{r:?}");
}

#[test]
#[ignore]
fn bench_ltz_only() {
    let k = 10_000;
    let t0 = std::time::Instant::now();
    let res = simulate(3, 1, 2, move |mut p| async move {
        let x: Vec<Fp> = (0..k as i128).map(|v| Fp::from_i128(v - 7)).collect();
        p.preprocess(&compare::ltz_needs(k, 64)).await.unwrap();
        let s = std::time::Instant::now();
        p.ltz(&x, 64).await.unwrap();
        p.counters.online_time = s.elapsed();
        p.counters.clone()
    });
    println!("wall {:?} {:?}", t0.elapsed(), res[0]);
}

fn online_labels(a: &[AuditEntry]) -> Vec<(&'static str, usize)> {
    a.iter()
        .filter(|e| e.label != "dn-mul") // preprocessing (triples and random bits)
        .map(|e| (e.label, e.values.len()))
        .collect()
}

#[test]
fn openings_match_the_protocol() {
    // mean: one decomposition = 1 masked opening of one element + 9 reductions (7 prefix levels,
    // carries, sum bits); nothing else, and the output is never opened.
    let (_, audits, _) = run_op(3, 1, Op::Mean, &[farr(&[1.0, 2.0, 4.0, 8.0])], 3);
    for a in &audits {
        let l = online_labels(a);
        assert_eq!(l[0], ("decompose", 1));
        assert_eq!(l.len(), 10, "{l:?}");
        assert!(l[1..].iter().all(|(k, _)| *k == "reduce"));
    }
    // max over 5 scalar keys: 3 tournament levels with 2, 1, 1 comparisons; each level opens the
    // LTZ masks, 6 BitLT reductions (63 bits) and one Beaver pair per comparison (value, index)
    let keys: Vec<Value> = [3.0, 1.0, 4.0, 1.5, 9.0].iter().map(|v| Value::Float(*v)).collect();
    let (r, audits, c) = run_op(3, 1, Op::Max, &keys, 4);
    assert_eq!(r.unwrap(), OpResult::KeyIndex(4));
    for a in &audits {
        let l = online_labels(a);
        let ltz: Vec<usize> = l.iter().filter(|x| x.0 == "ltz").map(|x| x.1).collect();
        let beaver: Vec<usize> = l.iter().filter(|x| x.0 == "beaver").map(|x| x.1).collect();
        assert_eq!(ltz, vec![2, 1, 1]);
        assert_eq!(beaver, vec![8, 4, 4]); // (d, e) for [b; b] × [Δvalue, Δindex]
        assert_eq!(l.iter().filter(|x| x.0 == "reduce").count(), 18);
        assert_eq!(l.len(), 24);
    }
    assert_eq!(c[0].comparisons, 4);
    assert_eq!(c[0].prep_topups, 0, "the preprocessing plan covers the whole tournament");
}

#[test]
fn progress_is_reported() {
    use std::sync::{Arc, Mutex};
    let log: Arc<Mutex<Vec<(u64, u64, String)>>> = Arc::default();
    let mut rng = StdRng::seed_from_u64(1);
    let inputs = share_value(&farr(&[1.0, 2.0, 3.0]), 3, 1, &mut rng);
    let log2 = log.clone();
    simulate(3, 1, 1, move |mut p| {
        let inp = inputs[p.me()].clone();
        let log = log2.clone();
        async move {
            if p.me() == 0 {
                p.set_progress(Box::new(move |d, t, s| log.lock().unwrap().push((d, t, s.to_string()))));
            }
            run(&mut p, &Op::Std, vec![inp]).await.unwrap();
        }
    });
    let log = log.lock().unwrap();
    assert!(log.len() >= 3, "{log:?}");
    assert!(log.windows(2).all(|w| w[0].0 <= w[1].0));
    let last = log.last().unwrap();
    assert_eq!(last.0, last.1);
}

#[test]
fn dot_result_can_be_stored() {
    let a = Value::Array(Array { shape: vec![2, 2], data: ArrayData::Int(vec![1, 2, 3, 4]) });
    let mut rng = StdRng::seed_from_u64(2);
    let ia = share_value(&a, 3, 1, &mut rng);
    let res = simulate(3, 1, 2, move |mut p| {
        let inp = vec![ia[p.me()].clone(), ia[p.me()].clone()];
        async move {
            let out = run(&mut p, &Op::Dot, inp).await.unwrap();
            let flags = out.check_shares().to_vec();
            (out.into_stored().unwrap(), flags)
        }
    });
    let meta = res[0].0.0.clone();
    let elems = open_all(&res.iter().map(|r| r.0.1.clone()).collect::<Vec<_>>(), 1);
    let flags = open_all(&res.iter().map(|r| r.1.clone()).collect::<Vec<_>>(), 1);
    assert_eq!(flags, vec![Fp::ONE]);
    assert_eq!(
        crate::value::decode(&meta, &elems).unwrap(),
        Value::Array(Array { shape: vec![2, 2], data: ArrayData::Int(vec![7, 10, 15, 22]) })
    );
}

#[test]
fn output_share_roundtrips_on_the_wire() {
    let s = OutputShare {
        layout: OutputLayout::Scalars(vec![Scale::STORAGE]),
        checks: vec![ops::Check::Range],
        shares: vec![Fp::from_u64(5), Fp::ONE],
    };
    let b = postcard::to_stdvec(&s).unwrap();
    assert_eq!(postcard::from_bytes::<OutputShare>(&b).unwrap(), s);
}

// ---------------------------------------------------------------- store=True

/// Runs `op` with `run_stored`; the requester reveals only the check flags (as the node does), and
/// the test then opens the stored shares to check the value. Also returns every party's audit and
/// the raw stored element shares' reconstruction (to check it was never opened).
fn run_stored_op(
    n: usize,
    t: usize,
    op: Op,
    vals: &[Value],
    seed: u64,
) -> (Result<Value, MpcError>, Vec<Fp>, Vec<Vec<AuditEntry>>) {
    let (r, elems, audits, _) = run_stored_op_counted(n, t, op, vals, seed);
    (r, elems, audits)
}

#[allow(clippy::type_complexity)]
fn run_stored_op_counted(
    n: usize,
    t: usize,
    op: Op,
    vals: &[Value],
    seed: u64,
) -> (Result<Value, MpcError>, Vec<Fp>, Vec<Vec<AuditEntry>>, Vec<Counters>) {
    let (r, elems, audits, counters) = open_stored(&op, simulate_op(n, t, &op, vals, &binary(vals), seed, true), t);
    (r.map(|(v, _)| v), elems, audits, counters)
}

/// The requester's side of a stored op, as the node does it: the check flags alone are revealed (a
/// failing check is its clear error); then the test opens the stored shares to check the value and
/// the scale the result says it is at. Also returns the opened elements (to check they were never
/// opened in the MPC), every party's audit and counters.
#[allow(clippy::type_complexity)]
fn open_stored(
    op: &Op,
    sim: Simulated,
    t: usize,
) -> (Result<(Value, NumScale), MpcError>, Vec<Fp>, Vec<Vec<AuditEntry>>, Vec<Counters>) {
    let Simulated { shares, err, audits, counters, metas } = sim;
    if let Some(e) = err {
        return (Err(e), vec![], audits, counters);
    }
    let flags: Vec<(usize, OutputShare)> = shares
        .iter()
        .map(|(i, s)| {
            let layout = OutputLayout::Scalars(vec![]);
            (*i, OutputShare { layout, checks: s.checks.clone(), shares: s.check_shares().to_vec() })
        })
        .collect();
    if let Err(e) = reveal(op, &metas, &flags, t, Security::SemiHonest) {
        return (Err(e), vec![], audits, counters);
    }
    let stored: Vec<(crate::value::ValueMeta, Vec<Fp>, NumScale)> =
        shares.into_iter().map(|(_, s)| s.into_stored().expect("a stored layout")).collect();
    let elems = open_all(&stored.iter().map(|s| s.1.clone()).collect::<Vec<_>>(), t);
    let v = crate::value::decode_at(&stored[0].0, &elems, stored[0].2).expect("decodes");
    (Ok((v, stored[0].2)), elems, audits, counters)
}

fn stored_f64s(v: &Value) -> Vec<f64> {
    match v {
        Value::Float(x) => vec![*x],
        Value::Array(Array { data: ArrayData::Float(x), .. }) => x.clone(),
        o => panic!("a stored result is a Float scalar or array, got {o:?}"),
    }
}

/// One unit of the storage scale.
const ULP: f64 = 1.0 / (1u64 << 20) as f64;

#[test]
fn stored_mean_var_std_are_float_scalars_at_the_storage_scale() {
    let cases: Vec<Vec<f64>> = vec![
        vec![1.5],
        vec![1.0, 2.0, 3.0, 4.0],
        (0..1000).map(|i| ((i * 7919) % 1000) as f64 * 0.001 - 0.5).collect(),
        (0..2000).map(|i| 1e6 + ((i * 31) % 97) as f64 * 1e-6).collect(),
        (0..10_000).map(|i| (((i * 7919) % 20001) as f64 - 10000.0) * 123.456789).collect(),
        vec![-4.3e12, 4.3e12, 4.3e12], // mean near the storage limit
    ];
    for (ci, data) in cases.iter().enumerate() {
        let vals = decoded(data);
        let (m, var) = ref_stats(&vals);
        for (nt, op) in [((3, 1), Op::Mean), ((5, 2), Op::Mean), ((3, 1), Op::Var), ((5, 2), Op::Std)] {
            if ci == 5 && op != Op::Mean {
                continue; // var/std of that spread are outside the certificate (tested below)
            }
            let seed = 100 + ci as u64;
            let (r, elems, audits) = run_stored_op(nt.0, nt.1, op.clone(), &[farr(data)], seed);
            let v = r.unwrap_or_else(|e| panic!("case {ci} {op:?}: {e}"));
            assert!(matches!(v, Value::Float(_)), "case {ci} {op:?}: {v:?}");
            let got = stored_f64s(&v)[0];
            let expect = match op {
                Op::Mean => m,
                Op::Var => var,
                _ => var.sqrt(),
            };
            // the rescaling is within t/2 + 1 units of 2^-20 (plus the 2^-20 rounding of storage);
            // std also carries Newton's ~2^-32 relative error
            let tol = (nt.1 as f64 / 2.0 + 2.0) * ULP + 1e-9 * expect.abs();
            assert!((got - expect).abs() <= tol, "case {ci} {op:?} (t = {}): got {got}, expected {expect}", nt.1);
            // the same as the revealed call, within that precision
            let (rv, _, _) = run_op(nt.0, nt.1, op.clone(), &[farr(data)], seed);
            let revealed = match rv.unwrap() {
                OpResult::Scalars(v) => v[0],
                o => panic!("{o:?}"),
            };
            assert!((got - revealed).abs() <= tol, "case {ci} {op:?}: stored {got}, revealed {revealed}");
            // leakage: masked openings only; never an input, the sum, the sum of squares, or the result
            let reps: Vec<i128> = vals.iter().map(|x| crate::fixed::encode_float(*x).unwrap()).collect();
            let mut forbidden: Vec<Fp> = reps.iter().map(|r| Fp::from_i128(*r)).collect();
            forbidden.push(Fp::from_i128(reps.iter().sum()));
            forbidden.push(reps.iter().map(|r| Fp::from_i128(*r) * Fp::from_i128(*r)).sum());
            forbidden.extend(&elems);
            assert_masked_only(&audits, &forbidden);
        }
    }
    // integers: the mean of ints is a float (numpy)
    let ints = Value::Array(Array { shape: vec![4], data: ArrayData::Int(vec![1, 2, 3, 5]) });
    let (r, _, _) = run_stored_op(3, 1, Op::Mean, std::slice::from_ref(&ints), 7);
    let got = stored_f64s(&r.unwrap())[0];
    assert!((got - 2.75).abs() <= 2.0 * ULP, "{got}");
    // max/min over scalar keys returns an input key: store=True does not apply
    let (r, _, _) = run_stored_op(3, 1, Op::Max, &[Value::Int(1), Value::Int(2)], 7);
    assert!(matches!(r, Err(MpcError::Unsupported(_))), "{r:?}");
    // max over an array is already at the storage scale
    let (r, _, _) = run_stored_op(3, 1, Op::Max, &[ints], 7);
    assert_eq!(r.unwrap(), Value::Int(5));
    assert!((got - 2.75).abs() <= 2.0 * ULP, "{got}");
}

#[test]
fn stored_var_outside_the_storage_range_is_a_clear_error() {
    // var = 10^18 does not fit 2^42, its revealed value is fine, and std (10^9) stores
    let data = [-1e9, 1e9, -1e9, 1e9];
    let (r, _, _) = run_op(3, 1, Op::Var, &[farr(&data)], 3);
    assert_eq!(r.unwrap(), OpResult::Scalars(vec![1e18]));
    let (r, _, audits) = run_stored_op(3, 1, Op::Var, &[farr(&data)], 3);
    assert!(matches!(r, Err(MpcError::OutOfRange(_))), "{r:?}");
    assert_masked_only(&audits, &[]);
    let (r, _, _) = run_stored_op(3, 1, Op::Std, &[farr(&data)], 4);
    assert!((stored_f64s(&r.unwrap())[0] - 1e9).abs() <= 1e-9 * 1e9, "std relative 2^-32 (Newton)");
    // and the certificate still refuses what the revealed call refuses
    let data: Vec<f64> = (0..64).map(|i| if i % 2 == 0 { 4.0e12 } else { -4.0e12 }).collect();
    for op in [Op::Var, Op::Std] {
        let (r, _, audits) = run_stored_op(3, 1, op, &[farr(&data)], 5);
        assert!(matches!(r, Err(MpcError::OutOfRange(_))), "{r:?}");
        assert_masked_only(&audits, &[]);
    }
}

/// What an inverse costs in memory (party 0: wall time, rounds, bytes), and its accuracy, at the
/// sizes of `enigma bench mpc`'s inv rows and at condition number 10^3. Run with
/// `cargo nextest run --release -p enigma-protocol --run-ignored only -E 'test(inv_cost_table)' --no-capture`.
#[test]
#[ignore = "a cost table, not a check"]
fn inv_cost_table() {
    println!("| matrix | n | wall s | rounds | MB sent | ‖A·inv(A) − I‖∞ |\n|---|---|---|---|---|---|");
    for (d, kappa) in [(10usize, 10.0), (32, 10.0), (10, 1e3), (32, 1e3)] {
        let a = conditioned(d, kappa, 30.0, 7 + d as u64);
        let ad = held_exactly(&a);
        for nt in [(3usize, 1usize), (5, 2)] {
            let t0 = std::time::Instant::now();
            let (r, _, c) = run_op(nt.0, nt.1, Op::Inv, &[mat(d, a.clone())], 5);
            let secs = t0.elapsed().as_secs_f64();
            let res = match r.unwrap() {
                OpResult::Array { data: ArrayData::Float(x), .. } => inv_residual(&ad, &x, d),
                o => panic!("{o:?}"),
            };
            println!(
                "| {d}×{d}, κ = {kappa:e} | {} | {secs:.3} | {} | {:.2} | {res:.1e} |",
                nt.0,
                c[0].rounds,
                c[0].bytes_sent as f64 / 1e6
            );
        }
    }
}

#[test]
fn stored_inverse_is_the_inverse_at_the_storage_scale() {
    let d = 10;
    let a: Vec<f64> =
        (0..d * d).map(|i| if i % (d + 1) == 0 { 5.0 } else { ((i * 37 % 19) as f64 - 9.0) * 0.05 }).collect();
    let small: Vec<f64> = vec![0.001, 0.0002, -0.0003, 0.002]; // inverse entries ~ 10^3
    let big: Vec<f64> = vec![3.0e5, 1.0e5, -2.0e5, 4.0e5]; // inverse entries ~ 10^-6
    for (ci, (d, a, nt)) in [(d, a, (3, 1)), (2, small, (5, 2)), (2, big, (3, 1))].into_iter().enumerate() {
        let ad = decoded(&a);
        let (r, elems, audits) = run_stored_op(nt.0, nt.1, Op::Inv, &[mat(d, a.clone())], 80 + ci as u64);
        let v = r.unwrap();
        match &v {
            Value::Array(Array { shape, data: ArrayData::Float(_) }) => assert_eq!(shape, &vec![d, d]),
            o => panic!("{o:?}"),
        }
        let x = stored_f64s(&v);
        let (rv, _, _) = run_op(nt.0, nt.1, Op::Inv, &[mat(d, a.clone())], 80 + ci as u64);
        let revealed = match rv.unwrap() {
            OpResult::Array { data: ArrayData::Float(x), .. } => x,
            o => panic!("{o:?}"),
        };
        for (g, e) in x.iter().zip(&revealed) {
            let tol = (nt.1 as f64 / 2.0 + 2.0) * ULP + 1e-6 * e.abs();
            assert!((g - e).abs() <= tol, "case {ci}: stored {g}, revealed {e}");
        }
        if ci == 0 {
            // each stored entry is within (t/2 + 2)·2^-20 of the revealed one: the residual
            // (a sum over d columns) grows by at most d·max_i Σ_k |a_ik| times that
            let row: f64 = (0..d).map(|i| (0..d).map(|j| ad[i * d + j].abs()).sum::<f64>()).fold(0.0, f64::max);
            let res = inv_residual(&ad, &x, d);
            assert!(res <= 1e-5 + (d as f64) * row * 2.5 * ULP, "‖A·inv(A) − I‖∞ = {res}");
            println!("stored inv: d = {d}, ‖A·inv(A) − I‖∞ = {res:e}");
        }
        let mut forbidden: Vec<Fp> =
            ad.iter().map(|v| Fp::from_i128(crate::fixed::encode_float(*v).unwrap())).collect();
        forbidden.extend(elems.iter().filter(|e| **e != Fp::ZERO));
        assert_masked_only(&audits, &forbidden);
    }
    // a failing check is still the clear error, not a stored garbage value
    let sing: Vec<f64> = (0..16).map(|i| ((i / 4) + 1) as f64 * ((i % 4) + 1) as f64).collect();
    let (r, _, _) = run_stored_op(3, 1, Op::Inv, &[mat(4, sing)], 90);
    assert!(matches!(r, Err(MpcError::Singular(_))), "{r:?}");
}

#[test]
fn stored_linregress_is_slope_intercept_r() {
    let mut cases = linregress_cases();
    cases.extend([
        // a steep slope (~3·10^8) and a large intercept (x exactly representable at 2^-20)
        ((0..20).map(|i| i as f64 / 1024.0).collect(), (0..20).map(|i| 3e5 * i as f64 - 2.5e9).collect()),
    ]);
    for (ci, (x, y)) in cases.iter().enumerate() {
        let (xd, yd) = (decoded(x), decoded(y));
        let (slope, icpt, r, _, _) = ref_linregress(&xd, &yd);
        let nt = if ci % 2 == 0 { (3, 1) } else { (5, 2) };
        let (res, elems, audits) = run_stored_op(nt.0, nt.1, Op::Linregress, &[farr(x), farr(y)], 140 + ci as u64);
        let v = res.unwrap_or_else(|e| panic!("case {ci}: {e}"));
        match &v {
            Value::Array(Array { shape, data: ArrayData::Float(_) }) => assert_eq!(shape, &vec![3]),
            o => panic!("{o:?}"),
        }
        let got = stored_f64s(&v);
        let close20 = |g: f64, e: f64, rel: f64| (g - e).abs() <= 2.0 * ULP + rel * e.abs();
        assert!(close20(got[0], slope, 1e-6), "case {ci}: slope {} vs {slope}", got[0]);
        assert!(close20(got[1], icpt, 1e-6), "case {ci}: intercept {} vs {icpt}", got[1]);
        assert!(close20(got[2], r, 1e-6), "case {ci}: r {} vs {r}", got[2]);
        let reps: Vec<Fp> =
            xd.iter().chain(&yd).map(|v| Fp::from_i128(crate::fixed::encode_float(*v).unwrap())).collect();
        let mut forbidden = reps;
        forbidden.extend(elems.iter().filter(|e| **e != Fp::ZERO));
        assert_masked_only(&audits, &forbidden);
    }
    // identical x → the same clear error
    let (res, _, _) = run_stored_op(3, 1, Op::Linregress, &[farr(&[2.0; 5]), farr(&[1.0, 2.0, 3.0, 4.0, 5.0])], 1);
    assert!(matches!(res, Err(MpcError::Invalid(ref m)) if m.contains("identical")), "{res:?}");
    // a slope of ~2^41.5 is revealed, but does not fit the storage range (|slope| < 2^42 needs q ≤ 2^41)
    let (x, y) = ([0.0, 0.000001], [0.0, 3.0e6]);
    let (res, _, _) = run_op(3, 1, Op::Linregress, &[farr(&x), farr(&y)], 2);
    assert!(
        matches!(res, Ok(OpResult::Linregress { slope, .. }) if (slope - 3.0e6 * 1048576.0).abs() < 1e3),
        "{res:?}"
    );
    let (res, _, _) = run_stored_op(3, 1, Op::Linregress, &[farr(&x), farr(&y)], 2);
    assert!(matches!(res, Err(MpcError::OutOfRange(_))), "{res:?}");
}

#[test]
fn stored_openings_add_only_masked_rescaling_steps() {
    // what store=True adds to each op's openings, per party: only truncation masks, reductions,
    // Beaver masks and decomposition masks — and exactly these many
    fn labels(a: &[AuditEntry]) -> std::collections::BTreeMap<&'static str, (usize, usize)> {
        let mut m = std::collections::BTreeMap::new();
        for e in a.iter().filter(|e| e.label != "dn-mul") {
            let c = m.entry(e.label).or_insert((0, 0));
            c.0 += 1;
            c.1 += e.values.len();
        }
        m
    }
    let data = farr(&[1.0, 2.0, 4.0, 8.0]);
    let m3 = mat(3, vec![4.0, 1.0, 0.5, 1.0, 3.0, -1.0, 0.0, 2.0, 5.0]);
    let lr = [farr(&[1.0, 2.0, 3.0, 5.0]), farr(&[2.0, 4.5, 5.5, 11.0])];
    let cases: Vec<(Op, Vec<Value>)> = vec![
        (Op::Mean, vec![data.clone()]),
        (Op::Var, vec![data.clone()]),
        (Op::Std, vec![data.clone()]),
        (Op::Inv, vec![m3]),
        (Op::Linregress, lr.to_vec()),
    ];
    let mut report = Vec::new();
    for (op, vals) in cases {
        let (_, revealed, rc) = run_op(3, 1, op.clone(), &vals, 9);
        let (r, _, stored, counters) = run_stored_op_counted(3, 1, op.clone(), &vals, 9);
        r.unwrap();
        // the preprocessing plan covers the rescaling: no on-demand top-up beyond the revealed op's
        for (c, rc) in counters.iter().zip(&rc) {
            assert!(c.prep_topups <= rc.prep_topups, "{op:?}: {} > {}", c.prep_topups, rc.prep_topups);
        }
        for (a, b) in revealed.iter().zip(&stored) {
            assert!(b.iter().all(|e| e.kind == OpenKind::Masked));
            let (la, lb) = (labels(a), labels(b));
            for k in la.keys().chain(lb.keys()) {
                assert!(["decompose", "reduce", "beaver", "trunc", "ltz"].contains(k), "{op:?}: {k}");
            }
            let diff: Vec<(&str, i64, i64)> = lb
                .iter()
                .map(|(k, v)| {
                    let w = la.get(k).copied().unwrap_or((0, 0));
                    (*k, v.0 as i64 - w.0 as i64, v.1 as i64 - w.1 as i64)
                })
                .filter(|d| d.1 != 0 || d.2 != 0)
                .collect();
            report.push((op.clone(), diff));
        }
    }
    for (op, diff) in &report {
        println!("{op:?}: extra (label, openings, elements) = {diff:?}");
    }
    let first = |op: Op| report.iter().find(|r| r.0 == op).map(|r| r.1.clone()).unwrap();
    // mean: one truncation of the remainder (1 element)
    assert_eq!(first(Op::Mean), vec![("trunc", 1, 1)]);
    // var and std: the revealed op opens nothing after the certificate (W itself is the output), so
    // the stored one adds the decomposition of W and what follows it. var: W's decomposition, its
    // division by N²·S from bits, a 127-bit BitLT (fits) and one Beaver product (flag × fits)
    assert_eq!(first(Op::Var), vec![("beaver", 1, 2), ("decompose", 1, 1), ("reduce", 16, 1380), ("trunc", 1, 1)]);
    // std: W's decomposition, the normalisation and the Newton root (16 products, 17 truncations),
    // the division by N and the secret shift's 53 truncations, their reductions
    assert_eq!(first(Op::Std), vec![("beaver", 16, 32), ("decompose", 1, 1), ("reduce", 18, 1578), ("trunc", 19, 71)]);
    // inv: the shift of the d² = 9 entries by 47 candidate truncations in one opening, one
    // reduction per entry, instead of the Beaver product by the revealed output's power of two
    assert_eq!(first(Op::Inv), vec![("beaver", -1, -18), ("reduce", 1, 9), ("trunc", 1, 9 * 47)]);
    // linregress: the stored op decomposes slope_m and r where the revealed one decomposes ρ's
    // residual D' and the intercept's low part u_lo (as many elements, in the same round); the
    // revealed op's ρ costs 6 Beaver products, one truncation and a 127-bit suffix-OR shared with
    // the intercept's check (one round more than the stored op's 45-bit one), minus the clamp's
    // 125 single-product reductions; its refinement (step 5b) costs 11 Beaver products (one
    // round of them its own), 10 more truncated elements in existing rounds, two more one-hot
    // sums and u_lo's decomposition, and the fifth output's gate is one product more. The stored
    // op's slope shift joins the term's reduction
    let lr = first(Op::Linregress);
    assert_eq!(lr, vec![("beaver", -1, -36), ("reduce", -1, -900), ("trunc", -1, -11)]);
}

/// The windowed tournament (large max/min, `stats::tournament_windowed`) finds the same winner and
/// index as the plain one, consumes exactly the preprocessing it makes per window (no top-ups), and
/// keeps every round's messages bounded by the window rather than by the number of values.
#[test]
fn windowed_tournament_matches_the_tournament() {
    let (n, t, k) = (3, 1, 20);
    let vals: Vec<i128> = (0..37).map(|i| ((i * 7919) % 101) - 50).collect();
    let shares = share_fp(&ints(&vals), n, t, 9);
    for want_max in [true, false] {
        let sh = shares.clone();
        let res = simulate(n, t, 5, move |mut p| {
            let mine = sh[p.me()].clone();
            async move {
                let w = p.tournament_windowed(&mine, k, want_max, 4).await.unwrap();
                let windowed = p.counters().clone();
                p.reset_counters();
                p.preprocess(&compare::tournament_needs(mine.len(), k)).await.unwrap();
                let full = p.tournament(&mine, k, want_max).await.unwrap();
                (w, full, windowed, p.counters().clone())
            }
        });
        let col = |f: &dyn Fn(&(Fp, Fp)) -> Fp, which: usize| -> Fp {
            let per: Vec<Vec<Fp>> = res.iter().map(|r| vec![f(if which == 0 { &r.0 } else { &r.1 })]).collect();
            open_all(&per, t)[0]
        };
        let want = if want_max { *vals.iter().max().unwrap() } else { *vals.iter().min().unwrap() };
        let first = vals.iter().position(|v| *v == want).unwrap() as u64;
        for which in 0..2 {
            assert_eq!(col(&|r| r.0, which), Fp::from_i128(want), "value (windowed: {})", which == 0);
            assert_eq!(col(&|r| r.1, which), Fp::from_u64(first), "index (windowed: {})", which == 0);
        }
        let (windowed, full) = (&res[0].2, &res[0].3);
        assert_eq!(windowed.prep_topups, 0, "each window preprocesses what it consumes");
        assert_eq!(windowed.comparisons, full.comparisons);
        // 18 pairs at the first level: 5 windows of ≤ 4, so far more rounds, far smaller ones
        assert!(windowed.rounds > full.rounds);
        assert!(
            windowed.prep_bytes_sent / windowed.prep_rounds.max(1) < full.prep_bytes_sent / full.prep_rounds.max(1)
        );
    }
}
