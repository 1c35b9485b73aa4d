//! Active mode over the in-memory transport: every op is correct, every way one party can cheat is
//! caught, and an adversary that changes any element of any message of any round never makes an
//! honest party output a wrong result, panic or hang.

use super::bench::{share_value, share_value_at, simulate_in};
use super::*;
use crate::field::{self, Fp};
use crate::shamir;
use crate::value::{Array, ArrayData, Value};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

thread_local! {
    /// Messages the corrupting party sent in the last run on this thread.
    static SENT: std::cell::RefCell<Arc<AtomicUsize>> = std::cell::RefCell::new(Arc::new(AtomicUsize::new(0)));
}

/// A transport that adds `delta` to element `elem` of the `msg`-th message this party sends.
struct Corrupting {
    inner: InMemoryTransport,
    sent: Arc<AtomicUsize>,
    msg: usize,
    elem: usize,
    delta: Fp,
}

impl Transport for Corrupting {
    fn me(&self) -> usize {
        self.inner.me()
    }
    fn parties(&self) -> usize {
        self.inner.parties()
    }
    fn send(&mut self, to: usize, mut msg: Vec<u8>) -> impl std::future::Future<Output = Result<(), MpcError>> + Send {
        let sent = self.sent.fetch_add(1, Ordering::Relaxed);
        if sent == self.msg && msg.len() >= field::BYTES {
            let k = self.elem % (msg.len() / field::BYTES);
            let mut b = [0u8; field::BYTES];
            b.copy_from_slice(&msg[k * field::BYTES..(k + 1) * field::BYTES]);
            if let Some(v) = Fp::from_bytes(b) {
                msg[k * field::BYTES..(k + 1) * field::BYTES].copy_from_slice(&(v + self.delta).to_bytes());
            }
        }
        self.inner.send(to, msg)
    }
    fn recv(&mut self, from: usize) -> impl std::future::Future<Output = Result<Vec<u8>, MpcError>> + Send {
        self.inner.recv(from)
    }
}

/// How one party misbehaves in a simulated run.
#[derive(Clone, Copy, Debug)]
enum Adversary {
    None,
    Cheat(usize, Cheat),
    /// (party, message index, element, delta)
    Corrupt(usize, usize, usize, u128),
    /// party whose input share is off by one
    WrongInput(usize),
}

/// Runs `op` with every party in active mode (store: `run_stored`); returns the requester's result.
fn run_active(
    n: usize,
    t: usize,
    op: &Op,
    vals: &[Value],
    seed: u64,
    adv: Adversary,
    store: bool,
) -> Result<OpResult, MpcError> {
    run_active_at(n, t, op, vals, &vec![crate::fixed::NumScale::Binary20; vals.len()], seed, adv, store)
}

/// [`run_active`] with each key at its own storage scale.
#[allow(clippy::too_many_arguments)]
fn run_active_at(
    n: usize,
    t: usize,
    op: &Op,
    vals: &[Value],
    scales: &[crate::fixed::NumScale],
    seed: u64,
    adv: Adversary,
    store: bool,
) -> Result<OpResult, MpcError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut per_key: Vec<Vec<SharedInput>> =
        vals.iter().zip(scales).map(|(v, s)| share_value_at(v, n, t, &mut rng, *s)).collect();
    if let Adversary::WrongInput(c) = adv {
        per_key[0][c].share[0] += Fp::ONE;
    }
    let metas: Vec<_> = per_key.iter().map(|k| k[0].meta.clone()).collect();
    let op2 = op.clone();
    let counter = Arc::new(AtomicUsize::new(0));
    SENT.with(|c| *c.borrow_mut() = counter.clone());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build().expect("runtime");
    let results = rt.block_on(async move {
        let mut hs = Vec::new();
        for (i, tr) in InMemoryTransport::network(n).into_iter().enumerate() {
            let inputs: Vec<SharedInput> = per_key.iter().map(|k| k[i].clone()).collect();
            let op = op2.clone();
            let counter = counter.clone();
            hs.push(tokio::spawn(async move {
                let work = async {
                    match adv {
                        Adversary::Corrupt(c, msg, elem, delta) if c == i => {
                            let tr = Corrupting { inner: tr, sent: counter, msg, elem, delta: Fp::new(delta) };
                            let mut p = Party::with_seed(tr, n, t, seed + i as u64)?;
                            if store {
                                ops::run_stored(&mut p, &op, inputs).await
                            } else {
                                ops::run(&mut p, &op, inputs).await
                            }
                        }
                        _ => {
                            let mut p = Party::with_seed(tr, n, t, seed + i as u64)?;
                            if let Adversary::Cheat(c, how) = adv
                                && c == i
                            {
                                p.set_cheat(Some(how));
                            }
                            if store {
                                ops::run_stored(&mut p, &op, inputs).await
                            } else {
                                ops::run(&mut p, &op, inputs).await
                            }
                        }
                    }
                };
                match tokio::time::timeout(Duration::from_secs(60), work).await {
                    Ok(r) => (i, r),
                    Err(_) => panic!("party {i} hung"),
                }
            }));
        }
        let mut v = Vec::new();
        for h in hs {
            v.push(h.await.expect("a party panicked"));
        }
        v
    });
    // the requester takes every share it gets, as the node's requester does
    let mut shares = Vec::new();
    let mut first_err = None;
    for (i, r) in results {
        match r {
            Ok(s) => shares.push((i, s)),
            // as the node's requester does: an integrity failure anywhere is the answer
            Err(e) if matches!(e, MpcError::Integrity(_)) => first_err = Some(e),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_err
        && shares.len() < 2 * t + 1
    {
        return Err(e);
    }
    if store {
        // the flags only: the stored shares stay shared
        let flags: Vec<(usize, OutputShare)> = shares
            .iter()
            .map(|(i, s)| {
                let layout = OutputLayout::Scalars(vec![]);
                (*i, OutputShare { layout, checks: s.checks.clone(), shares: s.check_shares().to_vec() })
            })
            .collect();
        reveal(op, &metas, &flags, t, Security::Active)?;
        let pts: Vec<(Fp, Vec<Fp>)> =
            shares.iter().map(|(i, s)| (shamir::x_of(*i), s.clone().into_stored().expect("stored").1)).collect();
        let pr: Vec<(Fp, &[Fp])> = pts.iter().map(|(x, v)| (*x, v.as_slice())).collect();
        let vals = shamir::reconstruct(&pr[..t + 1], t).expect("reconstruct");
        return Ok(OpResult::Scalars(vals.iter().map(|v| v.to_i128() as f64 / (1u64 << 20) as f64).collect()));
    }
    reveal(op, &metas, &shares, t, Security::Active)
}

fn farr(v: &[f64]) -> Value {
    Value::Array(Array { shape: vec![v.len()], data: ArrayData::Float(v.to_vec()) })
}

fn mat(d: usize, v: Vec<f64>) -> Value {
    Value::Array(Array { shape: vec![d, d], data: ArrayData::Float(v) })
}

fn scalars(r: &OpResult) -> Vec<f64> {
    match r {
        OpResult::Scalars(v) => v.clone(),
        OpResult::Linregress { slope, intercept, r_value, .. } => vec![*slope, *intercept, *r_value],
        OpResult::KeyIndex(i) => vec![*i as f64],
        OpResult::Array { data: ArrayData::Float(v), .. } => v.clone(),
        OpResult::Array { data: ArrayData::Int(v), .. } => v.iter().map(|x| *x as f64).collect(),
        OpResult::Ttest { statistic, .. } => vec![*statistic],
        OpResult::Lstsq { params, tvalues, rsquared, .. } => {
            params.iter().chain(tvalues.iter().filter(|t| !t.is_nan())).chain([rsquared]).copied().collect()
        }
    }
}

fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol * (1.0 + y.abs()))
}

/// Data and reference answers for every op.
fn cases() -> Vec<(Op, Vec<Value>, Vec<f64>)> {
    let x = [1.5, -2.25, 3.0, 7.5, 0.25, 4.0];
    let y = [2.0, -3.5, 6.5, 15.25, 1.0, 8.5];
    let mean = x.iter().sum::<f64>() / 6.0;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 6.0;
    let a = vec![2.0, 1.0, 0.5, 3.0];
    let b = vec![1.0, -1.0, 2.0, 0.5];
    let det = 2.0 * 3.0 - 1.0 * 0.5;
    // linregress reference
    let my = y.iter().sum::<f64>() / 6.0;
    let sxy: f64 = x.iter().zip(&y).map(|(a, b)| (a - mean) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mean) * (a - mean)).sum();
    let syy: f64 = y.iter().map(|b| (b - my) * (b - my)).sum();
    let slope = sxy / sxx;
    vec![
        (Op::Mean, vec![farr(&x)], vec![mean]),
        (Op::Var, vec![farr(&x)], vec![var]),
        (Op::Std, vec![farr(&x)], vec![var.sqrt()]),
        (Op::Max, vec![farr(&x)], vec![7.5]),
        (Op::Min, vec![farr(&x)], vec![-2.25]),
        (Op::Linregress, vec![farr(&x), farr(&y)], vec![slope, my - slope * mean, sxy / (sxx * syy).sqrt()]),
        (Op::Dot, vec![mat(2, a.clone()), mat(2, b)], vec![2.0 * 1.0 + 1.0 * 2.0, -2.0 + 0.5, 0.5 + 6.0, -0.5 + 1.5]),
        (Op::Inv, vec![mat(2, a)], vec![3.0 / det, -1.0 / det, -0.5 / det, 2.0 / det]),
    ]
}

#[test]
fn every_op_is_correct_in_active_mode() {
    for (n, t) in [(3, 1), (5, 2)] {
        for (op, vals, want) in cases() {
            let got = run_active(n, t, &op, &vals, 11, Adversary::None, false)
                .unwrap_or_else(|e| panic!("{op:?} at n = {n}: {e}"));
            let got = scalars(&got);
            let got = if matches!(op, Op::Max | Op::Min) { got[..1].to_vec() } else { got };
            assert!(close(&got, &want, 1e-5), "{op:?} at n = {n}: {got:?} vs {want:?}");
        }
    }
}

#[test]
fn stored_results_are_correct_in_active_mode() {
    for (op, vals, want) in
        cases().into_iter().filter(|(op, _, _)| matches!(op, Op::Mean | Op::Var | Op::Inv | Op::Dot))
    {
        let got = run_active(3, 1, &op, &vals, 12, Adversary::None, true).unwrap_or_else(|e| panic!("{op:?}: {e}"));
        assert!(close(&scalars(&got), &want, 1e-5), "{op:?}: {:?} vs {want:?}", scalars(&got));
    }
}

/// The issue-16 additions in active mode: Welch's t-test (revealed and stored) and the stored lstsq
/// coefficients.
#[test]
fn welch_and_stored_lstsq_are_correct_in_active_mode() {
    let a = [1.5, -2.25, 3.0, 7.5, 0.25, 4.0, 2.0];
    let b = [10.0, 12.5, 9.75, 11.0];
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (ma, mb) = (a.iter().sum::<f64>() / na, b.iter().sum::<f64>() / nb);
    let qa = a.iter().map(|v| (v - ma) * (v - ma)).sum::<f64>() / (na - 1.0) / na;
    let qb = b.iter().map(|v| (v - mb) * (v - mb)).sum::<f64>() / (nb - 1.0) / nb;
    let want_t = (ma - mb) / (qa + qb).sqrt();
    let want_df = (qa + qb).powi(2) / (qa * qa / (na - 1.0) + qb * qb / (nb - 1.0));
    // y = 2 + 0.5·x1 − 3·x2 exactly
    let rows: Vec<[f64; 2]> = (0..8).map(|i| [i as f64, ((i * 5) % 7) as f64]).collect();
    let y: Vec<f64> = rows.iter().map(|r| 2.0 + 0.5 * r[0] - 3.0 * r[1]).collect();
    let x = Value::Array(Array { shape: vec![8, 2], data: ArrayData::Float(rows.iter().flatten().copied().collect()) });
    for (n, t) in [(3, 1), (5, 2)] {
        match run_active(n, t, &Op::TtestWelch, &[farr(&a), farr(&b)], 15, Adversary::None, false) {
            Ok(OpResult::Ttest { statistic, df, .. }) => {
                assert!(close(&[statistic, df], &[want_t, want_df], 1e-7), "n = {n}: {statistic} {df}");
            }
            other => panic!("welch at n = {n}: {other:?}"),
        }
        let got = run_active(n, t, &Op::Lstsq { intercept: true }, &[x.clone(), farr(&y)], 16, Adversary::None, true)
            .unwrap_or_else(|e| panic!("stored lstsq at n = {n}: {e}"));
        assert!(close(&scalars(&got), &[2.0, 0.5, -3.0], 1e-5), "n = {n}: {:?}", scalars(&got));
        // stored pooled t-test: [t, df] at the storage scale
        let (sa, sb) =
            (a.iter().map(|v| (v - ma) * (v - ma)).sum::<f64>(), b.iter().map(|v| (v - mb) * (v - mb)).sum::<f64>());
        let pooled = (ma - mb) / ((sa + sb) / (na + nb - 2.0) * (1.0 / na + 1.0 / nb)).sqrt();
        let got = run_active(n, t, &Op::TtestInd, &[farr(&a), farr(&b)], 17, Adversary::None, true)
            .unwrap_or_else(|e| panic!("stored ttest_ind at n = {n}: {e}"));
        assert!(close(&scalars(&got), &[pooled, na + nb - 2.0], 1e-5), "n = {n}: {:?}", scalars(&got));
        // stored Welch test: [t, df] at the storage scale, df by the secret division
        let got = run_active(n, t, &Op::TtestWelch, &[farr(&a), farr(&b)], 18, Adversary::None, true)
            .unwrap_or_else(|e| panic!("stored welch at n = {n}: {e}"));
        assert!(close(&scalars(&got), &[want_t, want_df], 1e-6), "n = {n}: {:?}", scalars(&got));
    }
    // a cheat in the stored Welch test (its df's division included) is caught
    match run_active(5, 2, &Op::TtestWelch, &[farr(&a), farr(&b)], 19, Adversary::Cheat(3, Cheat::Product), true) {
        Err(MpcError::Integrity(_)) => {}
        other => panic!("{other:?}"),
    }
    // a cheat in Welch's test is caught
    match run_active(3, 1, &Op::TtestWelch, &[farr(&a), farr(&b)], 17, Adversary::Cheat(1, Cheat::Product), false) {
        Err(MpcError::Integrity(_)) => {}
        other => panic!("{other:?}"),
    }
}

/// lstsq(stats=True) in active mode: the same OLS results as semi-honest (y = 1 + 2·x + noise; the
/// intercept's t too), and a cheat in its t parts is caught.
#[test]
fn lstsq_stats_are_correct_in_active_mode_and_a_cheat_is_caught() {
    let xs: Vec<f64> = (0..12).map(|i| i as f64 * 0.75).collect();
    let noise = [0.5, -0.25, 0.75, -1.0, 0.0, 0.25, -0.5, 1.0, -0.75, 0.5, -0.25, 0.0];
    let y: Vec<f64> = xs.iter().zip(noise).map(|(x, e)| 1.0 + 2.0 * x + e).collect();
    let x = Value::Array(Array { shape: vec![12, 1], data: ArrayData::Float(xs.clone()) });
    let op = Op::LstsqStats { intercept: true };
    // plain OLS: slope, its t, R²
    let (mx, my) = (xs.iter().sum::<f64>() / 12.0, y.iter().sum::<f64>() / 12.0);
    let sxx: f64 = xs.iter().map(|v| (v - mx).powi(2)).sum();
    let sxy: f64 = xs.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let syy: f64 = y.iter().map(|v| (v - my).powi(2)).sum();
    let b1 = sxy / sxx;
    let rss = syy - b1 * sxy;
    let t1 = b1 / (rss / 10.0 / sxx).sqrt();
    let b0 = my - b1 * mx;
    let t0 = b0 / (rss / 10.0 * (1.0 / 12.0 + mx * mx / sxx)).sqrt();
    let want = [b0, b1, t0, t1, 1.0 - rss / syy];
    for (n, t) in [(3, 1), (5, 2)] {
        let got = run_active(n, t, &op, &[x.clone(), farr(&y)], 18, Adversary::None, false)
            .unwrap_or_else(|e| panic!("lstsq stats at n = {n}: {e}"));
        assert!(close(&scalars(&got), &want, 1e-6), "n = {n}: {:?} vs {want:?}", scalars(&got));
    }
    match run_active(3, 1, &op, &[x, farr(&y)], 19, Adversary::Cheat(2, Cheat::Product), false) {
        Err(MpcError::Integrity(_)) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn keys_at_two_decimal_scales_are_rescaled_in_active_mode_and_a_cheat_is_caught() {
    use crate::fixed::NumScale;
    let vals = [farr(&[1.25, -3.5, 100.75]), farr(&[0.000001, 2.123456])];
    let sc = [NumScale::Decimal(2), NumScale::Decimal(6)];
    // the exact mean: (1.25 − 3.5 + 100.75 + 0.000001 + 2.123456) / 5
    let want = (1_250_000i64 - 3_500_000 + 100_750_000 + 1 + 2_123_456) as f64 / 5.0 / 1e6;
    let got = run_active_at(3, 1, &Op::Mean, &vals, &sc, 17, Adversary::None, false).unwrap();
    assert!((scalars(&got)[0] - want).abs() <= 1e-15 * want.abs(), "{got:?} vs {want}");
    // beyond the finer scale's range: the clear error, in active mode too
    let big = [farr(&[5e12]), farr(&[0.5])];
    let r = run_active_at(3, 1, &Op::Max, &big, &sc, 18, Adversary::None, false);
    assert!(matches!(r, Err(MpcError::OutOfRange(ref m)) if m.contains("different decimal scales")), "{r:?}");
    for how in [Cheat::Open, Cheat::Product] {
        match run_active_at(3, 1, &Op::Mean, &vals, &sc, 19, Adversary::Cheat(0, how), false) {
            Err(MpcError::Integrity(_)) => {}
            other => panic!("{how:?}: {other:?}"),
        }
    }
}

#[test]
fn a_stored_integer_dot_product_is_range_tested_in_active_mode() {
    use crate::fixed::NumScale;
    let ints = |v: &[i64]| Value::Array(Array { shape: vec![v.len()], data: ArrayData::Int(v.to_vec()) });
    let sc = [NumScale::DEFAULT; 2];
    let fits = [ints(&[2_000_000, 5]), ints(&[2_000_000, -1])];
    run_active_at(3, 1, &Op::Dot, &fits, &sc, 20, Adversary::None, true).expect("a product that fits is stored");
    let over = [ints(&[3_000_000, 1]), ints(&[3_000_000, 0])];
    let r = run_active_at(3, 1, &Op::Dot, &over, &sc, 21, Adversary::None, true);
    assert!(matches!(r, Err(MpcError::OutOfRange(_))), "{r:?}");
    for how in [Cheat::Open, Cheat::Product] {
        match run_active_at(3, 1, &Op::Dot, &over, &sc, 22, Adversary::Cheat(1, how), true) {
            Err(MpcError::Integrity(_)) => {}
            other => panic!("{how:?}: {other:?}"),
        }
    }
}

#[test]
fn every_kind_of_cheat_is_caught() {
    for (op, vals, _) in cases() {
        for how in [Cheat::Open, Cheat::Product, Cheat::Output] {
            for (n, t, who) in [(3, 1, 0), (5, 2, 4)] {
                match run_active(n, t, &op, &vals, 13, Adversary::Cheat(who, how), false) {
                    Err(MpcError::Integrity(_)) => {}
                    other => panic!("{op:?}, {how:?} by party {who} of {n}: {other:?}"),
                }
            }
        }
    }
}

#[test]
fn a_member_with_wrong_prss_shares_never_yields_a_wrong_result() {
    // A member that adds 1 to its PRSS randoms and doubles: every op aborts or is right, and the
    // randoms that enter triples and bits are caught.
    let mut caught = 0;
    for (op, vals, want) in cases() {
        for (n, t, who) in [(3, 1, 1), (5, 2, 0)] {
            match run_active(n, t, &op, &vals, 14, Adversary::Cheat(who, Cheat::Prss), false) {
                Err(MpcError::Integrity(_)) => caught += 1,
                Ok(got) => {
                    let got = scalars(&got);
                    let got = if matches!(op, Op::Max | Op::Min) { got[..1].to_vec() } else { got };
                    assert!(close(&got, &want, 1e-5), "{op:?} at n = {n}: a wrong result {got:?} vs {want:?}");
                }
                Err(other) => panic!("{op:?} at n = {n}: {other:?}"),
            }
        }
    }
    assert_eq!(caught, 2 * cases().len(), "every op uses checked PRSS randoms");
}

#[test]
fn a_wrapping_comparison_mask_is_caught() {
    // A contributor of comparison high masks deals 2^100 (c wraps): every op that compares
    // aborts, and no op is ever wrong.
    for (op, vals, want) in cases() {
        for (n, t, who) in [(3, 1, 0), (5, 2, 2)] {
            match run_active(n, t, &op, &vals, 15, Adversary::Cheat(who, Cheat::LtzHigh), false) {
                Err(MpcError::Integrity(_)) => {}
                Ok(got) => {
                    assert!(matches!(op, Op::Mean | Op::Dot), "{op:?} at n = {n} compares, so it must abort");
                    let got = scalars(&got);
                    assert!(close(&got, &want, 1e-5), "{op:?} at n = {n}: a wrong result {got:?} vs {want:?}");
                }
                Err(other) => panic!("{op:?} at n = {n}: {other:?}"),
            }
        }
    }
}

#[test]
fn a_wrong_input_share_is_caught() {
    for (op, vals, _) in cases() {
        match run_active(5, 2, &op, &vals, 14, Adversary::WrongInput(3), false) {
            Err(MpcError::Integrity(_)) => {}
            other => panic!("{op:?}: {other:?}"),
        }
    }
}

/// Reshares a 2-element secret held by `holders` (t_src = 1 or 2) into a 3-member committee;
/// `cheater` is a dealer that adds 1 to what it deals.
fn reshare(
    holders: usize,
    src_t: usize,
    dealers: usize,
    cheater: Option<usize>,
) -> Vec<Result<Option<Vec<Fp>>, MpcError>> {
    let (n, t) = (3, 1);
    let secret = vec![Fp::from_u64(42), Fp::new(field::P - 7)];
    let mut rng = StdRng::seed_from_u64(3);
    let src = shamir::share(&secret, src_t, holders, &mut rng).unwrap();
    // dealers are participants n.. (not committee members), at their own x
    let ds: Vec<(usize, Fp)> = (0..dealers).map(|d| (n + d, shamir::x_of(d))).collect();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build().unwrap();
    rt.block_on(async move {
        let mut hs = Vec::new();
        for (i, tr) in InMemoryTransport::network(n + dealers).into_iter().enumerate() {
            let ds = ds.clone();
            let mine = (i >= n).then(|| src[i - n].clone());
            hs.push(tokio::spawn(async move {
                let mut p = Party::with_seed(tr, n, t, i as u64)?;
                if cheater == Some(i) {
                    p.set_cheat(Some(Cheat::Reshare));
                }
                let work = reshare_in(&mut p, &ds, mine.as_deref(), 2, src_t);
                tokio::time::timeout(Duration::from_secs(30), work).await.expect("resharing hung")
            }));
        }
        let mut v = Vec::new();
        for h in hs {
            v.push(h.await.unwrap());
        }
        v
    })
}

#[test]
fn resharing_checks_its_dealers() {
    // honest: the committee gets the secret
    let out = reshare(5, 2, 5, None);
    let committee: Vec<Vec<Fp>> = out[..3].iter().map(|r| r.clone().unwrap().unwrap()).collect();
    let pts: Vec<(Fp, &[Fp])> = committee.iter().enumerate().map(|(i, s)| (shamir::x_of(i), s.as_slice())).collect();
    assert_eq!(shamir::reconstruct(&pts[..2], 1).unwrap(), vec![Fp::from_u64(42), Fp::new(field::P - 7)]);
    // any one lying dealer (of 5, t_src = 2) is caught by every committee member
    for cheater in 3..8 {
        let out = reshare(5, 2, 5, Some(cheater));
        for r in &out[..3] {
            assert!(matches!(r, Err(MpcError::Integrity(_))), "dealer {cheater}: {r:?}");
        }
    }
    // 4 dealers of a degree-2 sharing (a holder down): one liar still cannot hide
    for cheater in 3..7 {
        let out = reshare(5, 2, 4, Some(cheater));
        assert!(out[..3].iter().all(|r| matches!(r, Err(MpcError::Integrity(_)))), "{cheater}: {out:?}");
    }
    // fewer than t + 1 dealers: refused
    let out = reshare(5, 2, 2, None);
    assert!(out[..3].iter().all(|r| matches!(r, Err(MpcError::Invalid(_)))), "{out:?}");
}

#[test]
fn active_bits_are_bits_and_not_constant() {
    let res = simulate_in(3, 1, 5, Security::Active, |mut p| async move {
        p.preprocess(&prep::Needs { bits: 200, ..Default::default() }).await.unwrap();
        let b = p.take_bits(200).await.unwrap();
        p.open(&b, 1, "test").await.unwrap()
    });
    let bits = &res[0];
    assert!(bits.iter().all(|b| *b == Fp::ZERO || *b == Fp::ONE));
    let ones = bits.iter().filter(|b| **b == Fp::ONE).count();
    assert!((60..140).contains(&ones), "{ones} ones of 200");
}

#[test]
fn opened_values_have_no_unmasked_structure() {
    // the same inputs, two runs with different randomness: every opened value differs, except the
    // sacrifice and resharing checks, which are 0 by construction
    let audits: Vec<Vec<AuditEntry>> = [21u64, 22]
        .iter()
        .map(|&seed| {
            let mut rng = StdRng::seed_from_u64(1);
            let inputs = share_value(&farr(&[1.5, -2.25, 3.0, 7.5]), 3, 1, &mut rng);
            let res = simulate_in(3, 1, seed, Security::Active, move |mut p| {
                let inp = inputs[p.me()].clone();
                async move {
                    p.enable_audit();
                    ops::run(&mut p, &Op::Var, vec![inp]).await.unwrap();
                    p.audit().to_vec()
                }
            });
            res[0].clone()
        })
        .collect();
    assert_eq!(audits[0].len(), audits[1].len());
    let mut compared = 0;
    for (a, b) in audits[0].iter().zip(&audits[1]) {
        assert_eq!(a.label, b.label);
        if a.label == "bit-check" {
            // ρ·S of the comparisons' bit check: the public 0 when everyone is honest
            assert!(a.values.iter().all(|v| *v == Fp::ZERO));
            continue;
        }
        if a.label == "sacrifice" && a.values.first() == Some(&Fp::ZERO) {
            // [S, squares…]: S is the public 0; the squares are random
            for (x, y) in a.values[1..].iter().zip(&b.values[1..]) {
                assert_ne!(x, y);
            }
            continue;
        }
        for (x, y) in a.values.iter().zip(&b.values) {
            assert_ne!(x, y, "an opened {} value is the same in two runs", a.label);
            compared += 1;
        }
    }
    assert!(compared > 100);
}

#[test]
fn a_committee_member_in_the_other_mode_is_an_error_not_a_result() {
    // one semi-honest member in an active committee: the run fails (the node refuses such a
    // session up front; here the engine alone must still not produce an answer)
    let mut rng = StdRng::seed_from_u64(2);
    let inputs = share_value(&farr(&[1.0, 2.0, 3.0]), 3, 1, &mut rng);
    let res = simulate_in(3, 1, 3, Security::Active, move |mut p| {
        let inp = inputs[p.me()].clone();
        async move {
            if p.me() == 2 {
                p.set_security(Security::SemiHonest);
            }
            tokio::time::timeout(Duration::from_secs(30), ops::run(&mut p, &Op::Mean, vec![inp]))
                .await
                .expect("no hang")
        }
    });
    assert!(res.iter().any(|r| r.is_err()));
}

#[test]
fn corrupting_each_message_in_turn_never_yields_a_wrong_result() {
    for (op, vals, _) in cases().into_iter().filter(|(op, _, _)| matches!(op, Op::Mean | Op::Max | Op::Inv)) {
        let honest = scalars(&run_active(3, 1, &op, &vals, 16, Adversary::None, false).expect("honest run"));
        // count party 1's messages, then change one element of each of them in turn
        run_active(3, 1, &op, &vals, 16, Adversary::Corrupt(1, usize::MAX, 0, 1), false).expect("counting run");
        let sent = SENT.with(|c| c.borrow().load(Ordering::Relaxed));
        assert!(sent > 10, "{op:?}: {sent} messages");
        let mut caught = 0;
        // every message of a short run; an even sample of 60 of a long one
        let step = sent.div_ceil(60);
        let tried: Vec<usize> = (0..sent).step_by(step).collect();
        for &m in &tried {
            match run_active(3, 1, &op, &vals, 16, Adversary::Corrupt(1, m, 7 * m + 3, 12345), false) {
                Ok(r) => assert_eq!(scalars(&r), honest, "{op:?}: message {m} changed the answer"),
                Err(_) => caught += 1,
            }
        }
        // a change that is caught aborts; the few that are not touched values nobody used
        let sent = tried.len();
        assert!(caught * 10 >= sent * 8, "{op:?}: only {caught} of {sent} corrupted messages were caught");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, rng_seed: proptest::test_runner::RngSeed::Fixed(11), ..ProptestConfig::default() })]

    /// Any element of any message of any round, changed by any amount: every honest outcome is
    /// an error or the right answer.
    #[test]
    fn a_corrupted_message_never_yields_a_wrong_result(
        case in 0usize..8,
        nt in prop::sample::select(vec![(3usize, 1usize), (5, 2)]),
        who in 0usize..5,
        msg in any::<usize>(),
        elem in 0usize..1000,
        delta in 1u128..(1u128 << 126),
        store in any::<bool>(),
    ) {
        let (n, t) = nt;
        let (op, vals, _) = cases().swap_remove(case);
        let store = store && !matches!(op, Op::Max | Op::Min | Op::Std | Op::Linregress);
        let honest = run_active(n, t, &op, &vals, 15, Adversary::None, store).expect("honest run");
        run_active(n, t, &op, &vals, 15, Adversary::Corrupt(who % n, usize::MAX, 0, 1), store).expect("counting run");
        let sent = SENT.with(|c| c.borrow().load(Ordering::Relaxed)).max(1);
        let got = run_active(n, t, &op, &vals, 15, Adversary::Corrupt(who % n, msg % sent, elem, delta), store);
        if let Ok(r) = got {
            prop_assert_eq!(scalars(&r), scalars(&honest), "{:?}: a corrupted run gave another answer", op);
        }
    }
}
