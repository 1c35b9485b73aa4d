//! `enigma bench mpc`: the cost of computing on secret-shared data.
//!
//! Owns: two tables. (1) The engine's primitives — Beaver multiplications and 64-bit comparisons —
//! with n parties as tasks in this process over the in-memory transport (what the engine itself
//! costs). (2) Every API operation on a real devnet of 3 and of 5 node processes on 127.0.0.1 (libp2p,
//! Noise, Yamux), through node 0's client socket: the client's wall time, and the slowest committee
//! member's preprocessing and online time, rounds and bytes. Must never: report a figure it did not
//! measure in this run.

use super::print_table;
use enigma_actors::network::wan::WanProfile;
use enigma_client::Client;
use enigma_protocol::mpc::Security;
use serde_json::{Value as Json, json};
use std::time::Instant;

fn data(n: usize, seed: u64, center: f64, spread: f64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9e3779b97f4a7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = (s >> 11) as f64 / (1u64 << 53) as f64;
            ((center + (u * 2.0 - 1.0) * spread) * 1e6).round() / 1e6
        })
        .collect()
}

fn matrix(d: usize) -> Vec<Vec<f64>> {
    (0..d)
        .map(|i| {
            (0..d).map(|j| if i == j { 2.0 * d as f64 } else { ((i * 7 + j * 13) % 19) as f64 / 4.0 - 2.0 }).collect()
        })
        .collect()
}

struct Row {
    name: String,
    items: usize,
}

fn run_case(c: &mut Client, row: &Row, method: &str, params: Json, rows: &mut Vec<Vec<String>>) -> anyhow::Result<()> {
    let mut params = params;
    params["timing"] = json!(true);
    let t0 = Instant::now();
    let r = c.call(method, params)?;
    let wall = t0.elapsed().as_secs_f64();
    let t = &r["timing"];
    let prep = t["prep_ms"].as_f64().unwrap_or(0.0) / 1e3;
    let online = t["online_ms"].as_f64().unwrap_or(0.0) / 1e3;
    rows.push(vec![
        row.name.clone(),
        row.items.to_string(),
        format!("{wall:.3}"),
        format!("{:.3}", (wall - prep - online).max(0.0)),
        format!("{prep:.3}"),
        format!("{online:.3}"),
        format!("{:.0}", row.items as f64 / online.max(1e-9)),
        format!("{:.0}", row.items as f64 / wall.max(1e-9)),
        t["rounds"].as_u64().unwrap_or(0).to_string(),
        format!("{:.1}", t["bytes_sent"].as_f64().unwrap_or(0.0) / 1e6),
    ]);
    Ok(())
}

fn network_table(nodes: usize, quick: bool, security: Security, wan: Option<WanProfile>) -> anyhow::Result<()> {
    let root = std::env::temp_dir().join(format!("enigma-bench-mpc-{}-{nodes}", std::process::id()));
    std::fs::create_dir_all(&root)?;
    println!("\nstarting a {nodes}-node devnet (committee of {nodes}, {security}) in {}", root.display());
    let mut extra: Vec<String> = vec!["--mpc-security".to_string(), security.to_string()];
    if let Some(w) = wan {
        extra.push("--emulate-rtt-ms".into());
        extra.push(match w.mbit {
            Some(m) => format!("{}:{m}", w.rtt.as_millis()),
            None => w.rtt.as_millis().to_string(),
        });
    }
    let net = crate::devnet::start_with(&root, nodes, 0, nodes, true, &extra)?;
    let mut c = Client::connect(&net.socket(0).to_string_lossy())?;
    let big = if quick { 10_000 } else { 100_000 };
    let huge = if quick { 100_000 } else { 1_000_000 };
    let mut rows = Vec::new();

    let scalar = c.store_json(json!(3))?;
    let ints: Vec<i64> = (0..big as i64).map(|i| (i * 7919) % 1000 - 500).collect();
    let ints_key = c.store_json(json!(ints))?;
    run_case(
        &mut c,
        &Row { name: "multiplications (3 · int array)".into(), items: big },
        "linalg.dot",
        json!({"key_a": scalar, "key_b": ints_key}),
        &mut rows,
    )?;
    for n in [big / 10, big] {
        let k = c.store_json(json!(data(n, 1, 0.0, 1e6)))?;
        run_case(
            &mut c,
            &Row { name: format!("max (comparisons = {})", n - 1), items: n - 1 },
            "stats.max",
            json!({"keys": [k]}),
            &mut rows,
        )?;
    }
    for n in [big, huge] {
        let k = c.store_json(json!(data(n, 2, 1e6, 10.0)))?;
        run_case(&mut c, &Row { name: "mean".into(), items: n }, "stats.mean", json!({"keys": [k]}), &mut rows)?;
        run_case(
            &mut c,
            &Row { name: "var (centred)".into(), items: n },
            "stats.var",
            json!({"keys": [k]}),
            &mut rows,
        )?;
    }
    let x = data(big, 3, 0.0, 1000.0);
    let y: Vec<f64> =
        x.iter().zip(data(big, 4, 0.0, 5.0)).map(|(x, e)| ((2.5 * x + 1.0 + e) * 1e6).round() / 1e6).collect();
    let (kx, ky) = (c.store_json(json!(x))?, c.store_json(json!(y))?);
    run_case(
        &mut c,
        &Row { name: "linregress".into(), items: big },
        "stats.linregress",
        json!({"key_x": kx, "key_y": ky}),
        &mut rows,
    )?;
    let m100 = c.store_json(json!(matrix(100)))?;
    run_case(
        &mut c,
        &Row { name: "dot 100×100 · 100×100".into(), items: 1_000_000 },
        "linalg.dot",
        json!({"key_a": m100, "key_b": m100}),
        &mut rows,
    )?;
    for d in [10, 32] {
        let k = c.store_json(json!(matrix(d)))?;
        run_case(&mut c, &Row { name: format!("inv {d}×{d}"), items: 1 }, "linalg.inv", json!({"key": k}), &mut rows)?;
    }
    // issue 16: corrcoef of 10 variables, a two-sample t-test, lstsq with 10 predictors, a histogram
    let vars: Vec<Vec<f64>> = (0..10).map(|i| data(big, 10 + i, 50.0 * i as f64, 10.0 + i as f64)).collect();
    let kv = c.store_json(json!(vars))?;
    run_case(
        &mut c,
        &Row { name: format!("corrcoef 10 × {big}"), items: 10 * big },
        "stats.corrcoef",
        json!({"key": kv}),
        &mut rows,
    )?;
    let (ka, kb) = (c.store_json(json!(data(big, 30, 10.0, 3.0)))?, c.store_json(json!(data(big, 31, 10.1, 3.0)))?);
    run_case(
        &mut c,
        &Row { name: format!("ttest_ind {big} + {big}"), items: 2 * big },
        "stats.ttest_ind",
        json!({"key_a": ka, "key_b": kb}),
        &mut rows,
    )?;
    let xs: Vec<Vec<f64>> = (0..big).map(|o| (0..10).map(|j| vars[j][o]).collect()).collect();
    let ly: Vec<f64> = (0..big)
        .map(|o| ((1.0 + (0..10).map(|j| 0.1 * j as f64 * vars[j][o]).sum::<f64>()) * 1e6).round() / 1e6)
        .collect();
    let (kxs, kly) = (c.store_json(json!(xs))?, c.store_json(json!(ly))?);
    run_case(
        &mut c,
        &Row { name: format!("lstsq 10 predictors × {big}"), items: big },
        "stats.lstsq",
        json!({"key_x": kxs, "key_y": kly, "intercept": true}),
        &mut rows,
    )?;
    run_case(
        &mut c,
        &Row { name: format!("histogram {big} values, 20 bins (comparisons)"), items: 21 * big },
        "stats.histogram",
        json!({"keys": [ka], "bins": 20, "range": [0.0, 20.0]}),
        &mut rows,
    )?;
    run_case(
        &mut c,
        &Row { name: format!("median {big} values"), items: big },
        "stats.median",
        json!({"keys": [ka]}),
        &mut rows,
    )?;
    let link = match wan {
        Some(w) => format!(
            "emulated WAN: RTT {} ms{} (user-space delay on every connection)",
            w.rtt.as_millis(),
            w.mbit.map(|m| format!(", {m} Mbit/s")).unwrap_or_default()
        ),
        None => "127.0.0.1".to_string(),
    };
    println!(
        "\nMPC over the network: {nodes}-node committee, {security}, {link} (libp2p TCP+Noise+Yamux), this machine; times in seconds"
    );
    println!(
        "(prep = preprocessing: triples, random bits, truncation pairs; online = the rest; setup = wall − prep − online:\n \
         finding manifests, admission at every member, start and go, outcomes back; the session streams open as the run\n \
         starts, inside its first round; per item = items ÷ time)"
    );
    print_table(
        &[
            "operation",
            "items",
            "wall",
            "setup",
            "prep",
            "online",
            "items/s online",
            "items/s total",
            "rounds",
            "MB sent",
        ],
        &rows,
    );
    drop(net);
    let _ = std::fs::remove_dir_all(&root);
    Ok(())
}

/// The issue-16 rows in memory at n = 3 and n = 5: the toolbox (histogram, corrcoef, t-tests,
/// lstsq), then the median of 10^4 (and, full size, 10^5) values (`enigma bench mpc --toolbox`
/// runs only these). `hist` overrides the histogram's size (its 21 comparisons per value make it
/// the slow row); `security` keeps one mode ("active" or "semi-honest"; `None`: both, active first).
pub fn toolbox(quick: bool, hist: Option<usize>, security: Option<&str>) {
    let size = if quick { 10_000 } else { 100_000 };
    let hist = hist.unwrap_or(size);
    let modes: Vec<Security> = [Security::Active, Security::SemiHonest]
        .into_iter()
        .filter(|s| security.is_none_or(|m| m == s.as_str()))
        .collect();
    for &security in &modes {
        for (n, t) in [(3, 1), (5, 2)] {
            println!("{}", enigma_protocol::mpc::bench::run_toolbox_in_memory(n, t, size, hist, security));
        }
    }
    let sizes: &[usize] = if quick { &[10_000] } else { &[10_000, 100_000] };
    for &security in &modes {
        for (n, t) in [(3, 1), (5, 2)] {
            println!("{}", enigma_protocol::mpc::bench::run_order_in_memory(n, t, sizes, security));
        }
    }
}

/// The engine table, then the network table at n = 3 and n = 5 — or, with `wan`, the network table
/// at n = 3 over emulated wide-area links (the WAN targets are for n = 3).
pub fn run(quick: bool, wan: Option<WanProfile>) -> anyhow::Result<()> {
    let size = if quick { 10_000 } else { 100_000 };
    println!("engine primitives, all parties in this process (in-memory transport), this machine:\n");
    for security in [Security::Active, Security::SemiHonest] {
        println!("{}", enigma_protocol::mpc::bench::run_in_memory(3, 1, size, security));
        if wan.is_none() {
            println!("{}", enigma_protocol::mpc::bench::run_in_memory(5, 2, size, security));
        }
    }
    if wan.is_none() {
        toolbox(quick, None, None);
    }
    for security in [Security::Active, Security::SemiHonest] {
        network_table(3, quick, security, wan)?;
        if wan.is_none() {
            network_table(5, quick, security, None)?;
        }
    }
    Ok(())
}
