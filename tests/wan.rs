//! The WAN emulation on a real devnet: nodes started with `--emulate-rtt-ms 20` delay what they send
//! by 10 ms, so every round of a computation costs at least the RTT. A short smoke run of what
//! `enigma bench mpc --wan` does: a mean on 3 nodes, correct, and no faster than its rounds allow.

mod support;

use serde_json::json;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::{Cluster, Opts};

#[test]
fn a_computation_over_emulated_20_ms_links_pays_its_rounds() {
    let c = Cluster::start(Opts { nodes: 3, group_size: 3, extra: vec!["--emulate-rtt-ms".into(), "20".into()] });
    let mut cl = c.client(0);
    let key = cl.store_json(json!([1.0, 2.0, 3.0, 4.0])).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let t0 = Instant::now();
        let r = cl.call("stats.mean", json!({"keys": [key], "timing": true}));
        let _ = tx.send((r, t0.elapsed()));
    });
    let (r, took) = rx.recv_timeout(Duration::from_secs(120)).expect("the mean finished in time");
    let r = r.unwrap();
    assert_eq!(r["result"], json!([2.5]), "{r}");
    let rounds = r["timing"]["rounds"].as_u64().unwrap();
    assert!(rounds >= 10, "a mean takes a dozen rounds: {r}");
    // each round waits for peers' messages, each at least 10 ms on its way; plus session control
    let floor = Duration::from_millis(10 * rounds);
    assert!(took >= floor, "{rounds} rounds over 20 ms links took only {took:?}");
    assert!(took < Duration::from_secs(30), "{took:?}");
}
