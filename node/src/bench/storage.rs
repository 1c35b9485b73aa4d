//! `enigma bench storage`: store and load throughput on a local devnet.
//!
//! Owns: the storage benchmark — values of 1 KB, 1 MB and 64 MB (bytes) and a 10^6-element numeric
//! array, stored and loaded through node 0's client socket, each timed end to end (client encoding,
//! sharing, five holders over libp2p, LMDB commits; and back). Must never: report a figure it did not
//! measure.

use super::{print_table, rate};
use enigma_client::Client;
use enigma_protocol::value::Value;
use std::time::{Duration, Instant};

struct Case {
    name: &'static str,
    make: fn() -> Value,
    bytes: usize,
    values: usize,
    reps: usize,
}

fn bytes_value(n: usize) -> Value {
    let mut x: u64 = 0x9e3779b97f4a7c15;
    Value::Bytes(
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect(),
    )
}

fn array_value() -> Value {
    let data: Vec<f64> =
        (0..1_000_000).map(|i| (i as f64 * 0.37).sin() * 1000.0).map(|x| (x * 1e6).round() / 1e6).collect();
    Value::Array(enigma_protocol::value::Array {
        shape: vec![1_000_000],
        data: enigma_protocol::value::ArrayData::Float(data),
    })
}

pub fn run(nodes: usize, quick: bool) -> anyhow::Result<()> {
    let root = tempfile_dir()?;
    println!("starting a {nodes}-node devnet in {}", root.display());
    let net = crate::devnet::start(&root, nodes, 0, 5, true)?;
    let mut c = Client::connect(&net.socket(0).to_string_lossy())?;
    let cases = [
        Case {
            name: "1 KB bytes",
            make: || bytes_value(1 << 10),
            bytes: 1 << 10,
            values: 1,
            reps: if quick { 20 } else { 200 },
        },
        Case {
            name: "1 MB bytes",
            make: || bytes_value(1 << 20),
            bytes: 1 << 20,
            values: 1,
            reps: if quick { 3 } else { 20 },
        },
        Case {
            name: "64 MB bytes",
            make: || bytes_value(64 << 20),
            bytes: 64 << 20,
            values: 1,
            reps: if quick { 1 } else { 3 },
        },
        Case {
            name: "10^6 numbers (array)",
            make: array_value,
            bytes: 8_000_000,
            values: 1_000_000,
            reps: if quick { 1 } else { 3 },
        },
    ];
    let mut rows = Vec::new();
    for case in &cases {
        let value = (case.make)();
        let mut store_t = Duration::ZERO;
        let mut load_t = Duration::ZERO;
        for _ in 0..case.reps {
            let t0 = Instant::now();
            let key = c.store(&value)?;
            store_t += t0.elapsed();
            let t1 = Instant::now();
            let back = c.load(&key)?;
            load_t += t1.elapsed();
            anyhow::ensure!(back == value, "{} did not round-trip", case.name);
            c.delete(&key)?;
        }
        let total_bytes = (case.bytes * case.reps) as f64;
        let total_values = (case.values * case.reps) as f64;
        rows.push(vec![
            case.name.to_string(),
            case.reps.to_string(),
            format!("{:.1}", store_t.as_secs_f64() * 1000.0 / case.reps as f64),
            format!("{:.2}", rate(total_bytes, store_t) / 1e6),
            format!("{:.0}", rate(total_values, store_t)),
            format!("{:.1}", load_t.as_secs_f64() * 1000.0 / case.reps as f64),
            format!("{:.2}", rate(total_bytes, load_t) / 1e6),
            format!("{:.0}", rate(total_values, load_t)),
        ]);
    }
    println!("\nstorage on a {nodes}-node devnet (group 5, t = 2), 127.0.0.1, through node 0's client socket");
    print_table(
        &["value", "reps", "store ms", "store MB/s", "store values/s", "load ms", "load MB/s", "load values/s"],
        &rows,
    );
    drop(net);
    let _ = std::fs::remove_dir_all(&root);
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("enigma-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
