//! A real node process runs a deliberately corrupted MPC engine (the node's test-only `cheat`
//! feature, `ENIGMA_CHEAT=open|product|output`) in a devnet of honest nodes in active mode: the
//! requester gets `integrity check failed` (1014) or the right answer, never a wrong one, and a
//! failed computation stores nothing.
//!
//! `#[ignore]`d: they need the cheating binary, which `scripts/test.sh` builds
//! (`cargo build --release -p enigma --features cheat`) and passes as `ENIGMA_CHEAT_BIN`.

mod support;

use enigma_client::{Client, ClientError};
use enigma_protocol::api::ErrorCode;
use serde_json::json;
use std::path::PathBuf;
use support::{Cluster, OddOne, Opts};

fn cheat_bin() -> PathBuf {
    let p = std::env::var("ENIGMA_CHEAT_BIN")
        .expect("ENIGMA_CHEAT_BIN: the enigma binary built with --features cheat (scripts/test.sh builds it)");
    let p = PathBuf::from(p);
    assert!(p.is_file(), "{} is not a file", p.display());
    p
}

fn code<T: std::fmt::Debug>(r: Result<T, ClientError>) -> ErrorCode {
    r.unwrap_err().code().expect("a node error")
}

fn one(r: serde_json::Value) -> f64 {
    r.as_array().and_then(|v| v.first()).and_then(|v| v.as_f64()).unwrap_or_else(|| panic!("not [value]: {r}"))
}

fn cluster(nodes: usize, cheater: usize, how: &str) -> Cluster {
    let envs = vec![("ENIGMA_CHEAT".to_string(), how.to_string())];
    Cluster::start_with(Opts { nodes, ..Opts::default() }, Some(OddOne { index: cheater, bin: cheat_bin(), envs }))
}

fn holds(c: &Cluster, cl: &mut Client, key: &str, node: usize) -> bool {
    let m = cl.call("manifest", json!({ "key": key })).unwrap();
    m["holders"].as_array().unwrap().iter().any(|h| h["peer_id"].as_str() == Some(c.nodes[node].peer_id.as_str()))
}

#[test]
#[ignore]
fn a_cheating_member_of_a_five_node_committee_aborts_every_computation() {
    let data: Vec<f64> = (0..40).map(|i| (i * 37 % 11) as f64 * 0.5 - 2.0).collect();
    let mean = data.iter().sum::<f64>() / data.len() as f64;
    for how in ["open", "product", "output"] {
        let c = cluster(5, 3, how);
        let mut cl = c.client(0);
        let k = cl.store_json(json!(data)).unwrap();
        let held = |c: &Cluster| -> usize {
            (0..5)
                .filter(|i| *i != 3)
                .map(|i| c.client(i).call("custody_keys", json!({})).unwrap().as_array().unwrap().len())
                .sum()
        };
        let held_before = held(&c);
        for method in ["stats.mean", "stats.var"] {
            assert_eq!(code(cl.call(method, json!({ "keys": [k] }))), ErrorCode::IntegrityFailed, "{how}: {method}");
        }
        if how == "output" {
            // a member that stores a wrong share of a result (max of an array is stored; so is
            // store=True) is caught where the share is used: the next computation, or a load
            // (which checks 2t + 1 shares against each other)
            let m = cl.call("stats.max", json!({ "keys": [k] })).unwrap();
            let m = m.as_str().expect("max of an array is a new key").to_string();
            assert_eq!(code(cl.call("stats.mean", json!({ "keys": [m] }))), ErrorCode::IntegrityFailed, "using it");
            assert_eq!(code(cl.load(&m)), ErrorCode::IntegrityFailed, "loading it");
        } else {
            assert_eq!(code(cl.call("stats.max", json!({ "keys": [k] }))), ErrorCode::IntegrityFailed, "{how}: max");
            let e = cl.call("stats.mean", json!({ "keys": [k], "store": true })).unwrap_err();
            assert_eq!(e.code(), Some(ErrorCode::IntegrityFailed), "{how}: store=True: {e}");
            assert!(e.to_string().starts_with("integrity check failed"), "{e}");
            // nothing was stored
            assert_eq!(held(&c), held_before, "{how}: a failed store left shares on honest nodes");
        }
        drop(c);
        let honest = Cluster::start(Opts { nodes: 5, ..Opts::default() });
        let mut hc = honest.client(0);
        let k = hc.store_json(json!(data)).unwrap();
        let got = one(hc.call("stats.mean", json!({ "keys": [k] })).unwrap());
        assert!((got - mean).abs() < 1e-6, "{got} vs {mean}");
    }
}

#[test]
#[ignore]
fn on_eight_nodes_a_computation_either_avoids_the_cheater_or_aborts_never_a_wrong_answer() {
    let c = cluster(8, 5, "open");
    let mut cl = c.client(0);
    let mut avoided = 0;
    let mut aborted = 0;
    for i in 0..6 {
        let data: Vec<f64> = (0..20).map(|j| (i * 20 + j) as f64 * 0.25).collect();
        let want = data.iter().sum::<f64>() / data.len() as f64;
        let k = cl.store_json(json!(data)).unwrap();
        let r = cl.call("stats.mean", json!({ "keys": [k] }));
        if holds(&c, &mut cl, &k, 5) {
            assert_eq!(code(r), ErrorCode::IntegrityFailed, "key {i}: the cheater is in its committee");
            aborted += 1;
        } else {
            let got = one(r.unwrap());
            assert!((got - want).abs() < 1e-6, "key {i}: {got} vs {want}");
            avoided += 1;
        }
    }
    assert_eq!(avoided + aborted, 6);
}
