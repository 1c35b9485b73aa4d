//! `enigma bench load`: many concurrent clients mixing store, load and compute on a local devnet.
//!
//! Owns: the load generator — C client threads, each with its own connection to one node (spread
//! evenly), each looping for the run's duration over: store a small array (50 %), load one of its
//! own keys and check it (35 %), `stats.mean` of one of its own keys and check it (15 %). It prints
//! throughput, p50/p99 latency and errors per kind, and each node's peak resident memory (VmHWM).
//! Must never: count a wrong answer as a success, or report a figure it did not measure.

use super::print_table;
use enigma_client::Client;
use serde_json::{Value as Json, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Store,
    Load,
    Compute,
}

const KINDS: [Kind; 3] = [Kind::Store, Kind::Load, Kind::Compute];

#[derive(Default)]
struct Tally {
    /// Latencies in microseconds of successful operations, per kind.
    ok: [Vec<u64>; 3],
    errors: [u64; 3],
    first_errors: Vec<String>,
}

/// A small deterministic generator per client (no shared RNG between threads).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn value_for(seed: u64) -> Vec<f64> {
    (0..16).map(|i| ((seed.wrapping_mul(31).wrapping_add(i)) % 1000) as f64 / 4.0).collect()
}

fn one_op(c: &mut Client, kind: Kind, rng: &mut XorShift, mine: &mut Vec<(String, Vec<f64>)>) -> Result<(), String> {
    match kind {
        Kind::Store => {
            let v = value_for(rng.next());
            let key = c.store_json(json!(v)).map_err(|e| format!("store: {e}"))?;
            mine.push((key, v));
            Ok(())
        }
        Kind::Load => {
            let (key, v) = &mine[(rng.next() as usize) % mine.len()];
            let back = c.call("load", json!([key])).map_err(|e| format!("load: {e}"))?;
            if back["value"] != json!(v) {
                return Err(format!("load returned {back} for {v:?}"));
            }
            Ok(())
        }
        Kind::Compute => {
            let (key, v) = &mine[(rng.next() as usize) % mine.len()];
            let r = c.call("stats.mean", json!({ "keys": [key] })).map_err(|e| format!("stats.mean: {e}"))?;
            let want = v.iter().sum::<f64>() / v.len() as f64;
            match r.get(0).and_then(Json::as_f64) {
                Some(got) if (got - want).abs() < 1e-3 => Ok(()),
                _ => Err(format!("stats.mean returned {r}, expected {want}")),
            }
        }
    }
}

fn client_loop(socket: String, id: u64, until: Instant, tally: Arc<Mutex<Tally>>) {
    let mut local = Tally::default();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15 ^ (id + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let mut mine: Vec<(String, Vec<f64>)> = Vec::new();
    match Client::connect(&socket) {
        Err(e) => {
            local.errors[0] += 1;
            local.first_errors.push(format!("connect: {e}"));
        }
        Ok(mut c) => {
            while Instant::now() < until {
                let roll = rng.next() % 100;
                let kind = if mine.is_empty() || roll < 50 {
                    Kind::Store
                } else if roll < 85 {
                    Kind::Load
                } else {
                    Kind::Compute
                };
                let t0 = Instant::now();
                let outcome = one_op(&mut c, kind, &mut rng, &mut mine);
                let k = kind as usize;
                match outcome {
                    Ok(()) => local.ok[k].push(t0.elapsed().as_micros() as u64),
                    Err(e) => {
                        local.errors[k] += 1;
                        if local.first_errors.len() < 5 {
                            local.first_errors.push(e);
                        }
                    }
                }
            }
        }
    }
    if let Ok(mut t) = tally.lock() {
        for k in 0..3 {
            t.ok[k].append(&mut local.ok[k]);
            t.errors[k] += local.errors[k];
        }
        for e in local.first_errors {
            if t.first_errors.len() < 10 {
                t.first_errors.push(e);
            }
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// Peak resident memory of a process, in MiB (Linux `VmHWM`).
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub fn run(nodes: usize, clients: usize, secs: u64) -> anyhow::Result<()> {
    anyhow::ensure!(nodes >= 3, "a load run needs at least 3 nodes");
    anyhow::ensure!(clients >= 1 && secs >= 1, "at least one client and one second");
    let root = std::env::temp_dir().join(format!("enigma-bench-load-{}", std::process::id()));
    std::fs::create_dir_all(&root)?;
    println!("starting a {nodes}-node devnet in {}", root.display());
    let net = crate::devnet::start(&root, nodes, 0, 5, true)?;
    println!("{clients} clients for {secs} s: store 50 %, load 35 %, stats.mean 15 % (16-number arrays)");
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let socket = net.socket(i % nodes).to_string_lossy().into_owned();
            let tally = tally.clone();
            std::thread::spawn(move || client_loop(socket, i as u64, until, tally))
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let elapsed = started.elapsed();
    let peaks: Vec<Option<f64>> = net.pids().into_iter().map(peak_rss_mib).collect();
    drop(net);
    let _ = std::fs::remove_dir_all(&root);

    let mut t = tally.lock().map_err(|_| anyhow::anyhow!("a client thread panicked"))?;
    let mut rows = Vec::new();
    let (mut all_ok, mut all_err) = (Vec::new(), 0);
    for kind in KINDS {
        let k = kind as usize;
        t.ok[k].sort_unstable();
        all_ok.extend_from_slice(&t.ok[k]);
        all_err += t.errors[k];
        rows.push(row(&format!("{kind:?}").to_lowercase(), &t.ok[k], t.errors[k], elapsed));
    }
    all_ok.sort_unstable();
    rows.push(row("all", &all_ok, all_err, elapsed));
    println!(
        "\nload: {clients} clients, {nodes}-node devnet (group 5, t = 2), 127.0.0.1, {:.1} s",
        elapsed.as_secs_f64()
    );
    print_table(&["op", "ok", "ops/s", "p50 ms", "p99 ms", "errors"], &rows);
    println!();
    let mem_rows: Vec<Vec<String>> = peaks
        .iter()
        .enumerate()
        .map(|(i, p)| vec![format!("node {i}"), p.map(|m| format!("{m:.0}")).unwrap_or_else(|| "?".into())])
        .collect();
    print_table(&["node", "peak RSS MiB"], &mem_rows);
    if !t.first_errors.is_empty() {
        println!("\nfirst errors:");
        for e in &t.first_errors {
            println!("  {e}");
        }
    }
    Ok(())
}

fn row(name: &str, sorted: &[u64], errors: u64, elapsed: Duration) -> Vec<String> {
    vec![
        name.to_string(),
        sorted.len().to_string(),
        format!("{:.1}", sorted.len() as f64 / elapsed.as_secs_f64()),
        format!("{:.1}", percentile(sorted, 0.50)),
        format!("{:.1}", percentile(sorted, 0.99)),
        errors.to_string(),
    ]
}
