//! In-memory simulation of a committee (tests, benchmarks, `enigma bench mpc`).
//!
//! Owns: running n parties as concurrent tokio tasks over [`InMemoryTransport`], and the benchmark
//! table. Must never be used by the node for real data: every party lives in one process.

use super::prep::Needs;
use super::{Counters, InMemoryTransport, Op, Party, Security, SharedInput};
use crate::field::Fp;
use crate::value::{self, Array, ArrayData, Value};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::fmt::Write;
use std::future::Future;
use std::time::Instant;

/// Runs `f` for each of n parties (threshold t) concurrently, semi-honest; returns their results
/// in order. Party i gets seed `seed + i` (deterministic runs).
pub fn simulate<R, F, Fut>(n: usize, t: usize, seed: u64, f: F) -> Vec<R>
where
    F: Fn(Party<InMemoryTransport>) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    simulate_in(n, t, seed, Security::SemiHonest, f)
}

/// [`simulate`] in the given security mode.
pub fn simulate_in<R, F, Fut>(n: usize, t: usize, seed: u64, security: Security, f: F) -> Vec<R>
where
    F: Fn(Party<InMemoryTransport>) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build().expect("tokio runtime");
    rt.block_on(async move {
        let mut handles = Vec::new();
        for (i, tr) in InMemoryTransport::network(n).into_iter().enumerate() {
            let f = f.clone();
            let mut party = Party::with_seed(tr, n, t, seed.wrapping_add(i as u64)).expect("party");
            party.set_security(security);
            handles.push(tokio::spawn(f(party)));
        }
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.expect("party task panicked"));
        }
        out
    })
}

/// Shares a value among n parties (threshold t) at the binary scale: party i's [`SharedInput`].
pub fn share_value(v: &Value, n: usize, t: usize, rng: &mut StdRng) -> Vec<SharedInput> {
    share_value_at(v, n, t, rng, crate::fixed::NumScale::Binary20)
}

/// Shares a value at the scale a new store uses ([`NumScale::DEFAULT`](crate::fixed::NumScale::DEFAULT),
/// 10^6): what the benchmark tables measure, since it is what users get.
fn share_stored(v: &Value, n: usize, t: usize, rng: &mut StdRng) -> Vec<SharedInput> {
    share_value_at(v, n, t, rng, crate::fixed::NumScale::DEFAULT)
}

/// Shares a value among n parties (threshold t) at the storage scale `scale`.
pub fn share_value_at(
    v: &Value,
    n: usize,
    t: usize,
    rng: &mut StdRng,
    scale: crate::fixed::NumScale,
) -> Vec<SharedInput> {
    let (meta, elems) = value::encode_at(v, scale, false).expect("encodable value");
    let shares = crate::shamir::share(&elems, t, n, rng).expect("share");
    shares.into_iter().map(|share| SharedInput { meta: meta.clone(), share, scale }).collect()
}

fn row(out: &mut String, name: &str, items: f64, wall: f64, c: &Counters) {
    let _ = writeln!(
        out,
        "{name:<28} {items:>9.0} {:>10.4} {:>10.4} {wall:>10.4} {:>12.0} {:>7} {:>12}",
        c.prep_time.as_secs_f64(),
        c.online_time.as_secs_f64(),
        items / c.online_time.as_secs_f64().max(1e-9),
        c.rounds,
        c.bytes_sent
    );
}

/// Benchmarks the engine with n parties in memory and returns a table (party 0's counters; wall is
/// the whole simulation, all parties sharing this machine's cores).
pub fn run_in_memory(n: usize, t: usize, scale: usize, security: Security) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "in-memory MPC, n = {n}, t = {t}, {security} (party 0 counters; wall = whole simulation)\n{:<28} {:>9} {:>10} {:>10} {:>10} {:>12} {:>7} {:>12}",
        "operation", "items", "prep s", "online s", "wall s", "online/s", "rounds", "bytes sent"
    );
    let big = scale.max(1);
    // Beaver multiplications
    {
        let k = big;
        let w = Instant::now();
        let res = simulate_in(n, t, 1, security, move |mut p| async move {
            let x: Vec<Fp> = (0..k as u64).map(Fp::from_u64).collect();
            p.preprocess(&Needs { triples: k, ..Default::default() }).await.expect("prep");
            let s = Instant::now();
            p.mul(&x, &x).await.expect("mul");
            p.counters.online_time = s.elapsed();
            p.counters.clone()
        });
        row(&mut out, "beaver mult", k as f64, w.elapsed().as_secs_f64(), &res[0]);
    }
    // comparisons
    {
        let k = (big / 10).max(1);
        let w = Instant::now();
        let res = simulate_in(n, t, 2, security, move |mut p| async move {
            let x: Vec<Fp> = (0..k as i128).map(|v| Fp::from_i128(v - 7)).collect();
            p.preprocess(&super::compare::ltz_needs(k, 64)).await.expect("prep");
            let s = Instant::now();
            p.ltz(&x, 64).await.expect("ltz");
            p.counters.online_time = s.elapsed();
            p.counters.clone()
        });
        row(&mut out, "ltz 64-bit", k as f64, w.elapsed().as_secs_f64(), &res[0]);
    }
    let mut rng = StdRng::seed_from_u64(9);
    let data: Vec<f64> = (0..big).map(|i| 1e6 + (i % 1000) as f64 * 0.001).collect();
    let arr = Value::Array(Array { shape: vec![big], data: ArrayData::Float(data.clone()) });
    for (name, op) in [("mean", Op::Mean), ("var (centred)", Op::Var), ("std", Op::Std)] {
        let inputs = share_stored(&arr, n, t, &mut rng);
        let w = Instant::now();
        let res = simulate_in(n, t, 3, security, move |mut p| {
            let inp = inputs[p.me()].clone();
            let op = op.clone();
            async move {
                let r = super::run(&mut p, &op, vec![inp]).await;
                (r.is_ok(), p.counters.clone())
            }
        });
        if res[0].0 {
            row(&mut out, name, big as f64, w.elapsed().as_secs_f64(), &res[0].1);
        } else {
            let _ = writeln!(out, "{name:<28} (failed)");
        }
    }
    {
        let ys: Vec<f64> = data.iter().enumerate().map(|(i, x)| 2.0 * x + (i % 7) as f64).collect();
        let y = Value::Array(Array { shape: vec![big], data: ArrayData::Float(ys) });
        let ix = share_stored(&arr, n, t, &mut rng);
        let iy = share_stored(&y, n, t, &mut rng);
        let w = Instant::now();
        let res = simulate_in(n, t, 4, security, move |mut p| {
            let inp = vec![ix[p.me()].clone(), iy[p.me()].clone()];
            async move {
                let r = super::run(&mut p, &Op::Linregress, inp).await;
                (r.is_ok(), p.counters.clone())
            }
        });
        if res[0].0 {
            row(&mut out, "linregress", big as f64, w.elapsed().as_secs_f64(), &res[0].1);
        } else {
            let _ = writeln!(out, "{:<28} (not available)", "linregress");
        }
    }
    {
        let d = 100;
        let m = Value::Array(Array {
            shape: vec![d, d],
            data: ArrayData::Float((0..d * d).map(|i| (i % 17) as f64 * 0.25 - 2.0).collect()),
        });
        let ia = share_stored(&m, n, t, &mut rng);
        let ib = share_stored(&m, n, t, &mut rng);
        let w = Instant::now();
        let res = simulate_in(n, t, 5, security, move |mut p| {
            let inp = vec![ia[p.me()].clone(), ib[p.me()].clone()];
            async move {
                let r = super::run(&mut p, &Op::Dot, inp).await;
                (r.is_ok(), p.counters.clone())
            }
        });
        row(&mut out, "dot 100x100 float", (d * d) as f64, w.elapsed().as_secs_f64(), &res[0].1);
    }
    out
}

/// The issue-16 rows in memory: corrcoef of 10 variables × `scale` observations, ttest_ind of
/// `scale` + `scale` (Student and Welch), lstsq with 10 predictors × `scale` rows (with intercept),
/// and a histogram of `hist` values into 20 bins (its comparisons are the items), in `security`.
pub fn run_toolbox_in_memory(n: usize, t: usize, scale: usize, hist: usize, security: Security) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "in-memory MPC, n = {n}, t = {t}, {security}: issue 16 (party 0 counters; wall = whole simulation)\n{:<28} {:>9} {:>10} {:>10} {:>10} {:>12} {:>7} {:>12}",
        "operation", "items", "prep s", "online s", "wall s", "online/s", "rounds", "bytes sent"
    );
    let big = scale.max(4);
    let mut rng = StdRng::seed_from_u64(16);
    let vars: Vec<f64> = (0..10 * big).map(|i| ((i * 7919) % 10007) as f64 * 0.01 + (i / big) as f64 * 3.0).collect();
    let m = Value::Array(Array { shape: vec![10, big], data: ArrayData::Float(vars.clone()) });
    let xs = Value::Array(Array {
        shape: vec![big, 10],
        data: ArrayData::Float((0..10 * big).map(|p| vars[(p % 10) * big + p / 10]).collect()),
    });
    let y: Vec<f64> =
        (0..big).map(|o| 1.0 + (0..10).map(|j| 0.1 * j as f64 * vars[j * big + o]).sum::<f64>()).collect();
    let ya = Value::Array(Array { shape: vec![big], data: ArrayData::Float(y.clone()) });
    let a = Value::Array(Array { shape: vec![big], data: ArrayData::Float(vars[..big].to_vec()) });
    let hn = hist.max(1);
    let h = Value::Array(Array { shape: vec![hn], data: ArrayData::Float(vars[..hn].to_vec()) });
    let edges: Vec<f64> = (0..=20).map(|i| i as f64 * 5.0).collect();
    let cases: Vec<(String, Op, Vec<Value>, usize)> = vec![
        (format!("corrcoef 10 x {big}"), Op::Corrcoef { rowvar: true }, vec![m], 10 * big),
        (format!("ttest_ind {big} + {big}"), Op::TtestInd, vec![a.clone(), ya.clone()], 2 * big),
        (format!("ttest_ind Welch {big} + {big}"), Op::TtestWelch, vec![a, ya.clone()], 2 * big),
        (format!("lstsq 10 x {big}"), Op::Lstsq { intercept: true }, vec![xs, ya], big),
        (format!("histogram {hn} x 20 bins"), Op::histogram(&edges), vec![h], 21 * hn),
    ];
    for (i, (name, op, vals, items)) in cases.into_iter().enumerate() {
        let shared: Vec<Vec<SharedInput>> = vals.iter().map(|v| share_stored(v, n, t, &mut rng)).collect();
        let w = Instant::now();
        let res = simulate_in(n, t, 20 + i as u64, security, move |mut p| {
            let inp: Vec<SharedInput> = shared.iter().map(|s| s[p.me()].clone()).collect();
            let op = op.clone();
            async move {
                let r = super::run(&mut p, &op, inp).await;
                (r.err(), p.counters.clone())
            }
        });
        match &res[0].0 {
            None => row(&mut out, &name, items as f64, w.elapsed().as_secs_f64(), &res[0].1),
            Some(e) => {
                let _ = writeln!(out, "{name:<28} (failed: {e})");
            }
        }
    }
    out
}

/// The issue-16 order-statistics rows in memory: the median of each of `sizes` values (distinct
/// floats, an even count: two ranks) in `security` mode; items = values.
pub fn run_order_in_memory(n: usize, t: usize, sizes: &[usize], security: Security) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "in-memory MPC, n = {n}, t = {t}, {security}: median (party 0 counters)\n{:<28} {:>9} {:>10} {:>10} {:>10} {:>12} {:>7} {:>12}",
        "operation", "items", "prep s", "online s", "wall s", "online/s", "rounds", "bytes sent"
    );
    let mut rng = StdRng::seed_from_u64(17);
    for (i, &size) in sizes.iter().enumerate() {
        let v: Vec<f64> = (0..size).map(|j| ((j * 7919) % 100_003) as f64 * 0.001 - 50.0).collect();
        let shared =
            share_stored(&Value::Array(Array { shape: vec![size], data: ArrayData::Float(v) }), n, t, &mut rng);
        let name = format!("median {size}");
        let w = Instant::now();
        let res = simulate_in(n, t, 30 + i as u64, security, move |mut p| {
            let inp = vec![shared[p.me()].clone()];
            async move {
                let r = super::run(&mut p, &Op::quantile(&[0.5], true), inp).await;
                (r.err(), p.counters.clone())
            }
        });
        match &res[0].0 {
            None => row(&mut out, &name, size as f64, w.elapsed().as_secs_f64(), &res[0].1),
            Some(e) => {
                let _ = writeln!(out, "{name:<28} (failed: {e})");
            }
        }
    }
    out
}
