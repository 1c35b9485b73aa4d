//! Crash safety (issue 6): real node processes are killed with SIGKILL at randomized points of stores,
//! deletes and ledger writes, restarted on the same data directory, and the invariant is checked once
//! the recovery pass has settled:
//!
//! - store: every key any node holds committed loads, from every node's socket, as the value that was
//!   stored, and is committed on every holder of its manifest (a *complete* key); no pending share is
//!   left anywhere (no orphans); a key the store call returned loads.
//! - delete: the key is either complete and loadable from every node, or gone from every node (no
//!   share, `unknown key` everywhere) — tombstones win.
//! - ledger (`pair`): the transaction is on every node's ledger or on none, and every ledger opens
//!   cleanly on restart (the node would not start otherwise).
//!
//! Randomness is seeded (`CRASH_SEED`, default 6); every wait polls with a deadline. Prints a summary.

mod support;

use enigma_protocol::api::{ErrorCode, value_from_json};
use enigma_protocol::identity::Identity;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value as Json, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::{Cluster, Opts, wait_for};

const NODES: usize = 5;
const STORE_TRIALS: usize = 50;
const DELETE_TRIALS: usize = 10;
const LEDGER_TRIALS: usize = 5;
/// Commit deadline of a store on the test network (short, so the recovery pass settles quickly).
const PENDING_GRACE_MS: u64 = 2000;
/// Array lengths stored (0 = a scalar).
const SIZES: [usize; 6] = [0, 10, 300, 2000, 6000, 40_000];

type RpcResult = Result<Json, (Option<ErrorCode>, String)>;

/// One JSON-RPC call on a node's socket, under a deadline (the client itself has none).
fn rpc(socket: &str, method: &str, params: Json, timeout: Duration) -> RpcResult {
    let (tx, rx) = mpsc::channel();
    let (s, m) = (socket.to_string(), method.to_string());
    std::thread::spawn(move || {
        let r = enigma_client::Client::connect(&s)
            .and_then(|mut c| c.call(&m, params))
            .map_err(|e| (e.code(), e.to_string()));
        let _ = tx.send(r);
    });
    rx.recv_timeout(timeout).unwrap_or_else(|_| Err((None, format!("{method} timed out after {timeout:?}"))))
}

/// Starts a call in the background; the receiver yields its result.
fn rpc_async(socket: &str, method: &str, params: Json) -> mpsc::Receiver<RpcResult> {
    let (tx, rx) = mpsc::channel();
    let (s, m) = (socket.to_string(), method.to_string());
    std::thread::spawn(move || {
        let r = enigma_client::Client::connect(&s)
            .and_then(|mut c| c.call(&m, params))
            .map_err(|e| (e.code(), e.to_string()));
        let _ = tx.send(r);
    });
    rx
}

const T: Duration = Duration::from_secs(30);

/// (key → state) on node `i`.
fn custody(c: &Cluster, i: usize) -> Option<BTreeMap<String, String>> {
    let r = rpc(&c.nodes[i].socket(), "custody_keys", json!({}), T).ok()?;
    Some(
        r.as_array()?
            .iter()
            .filter_map(|e| Some((e["key"].as_str()?.to_string(), e["state"].as_str()?.to_string())))
            .collect(),
    )
}

/// Waits until no node holds a pending share; returns every node's committed keys.
fn settled(c: &Cluster) -> Vec<BTreeSet<String>> {
    wait_for("every pending share to be settled", T, || {
        let mut all = Vec::with_capacity(NODES);
        for i in 0..NODES {
            let held = custody(c, i)?;
            if held.values().any(|s| s != "committed") {
                return None;
            }
            all.push(held.into_keys().collect::<BTreeSet<_>>());
        }
        Some(all)
    })
}

/// Loads `key` from node `i`: Ok(json value) or the error code.
fn load(c: &Cluster, i: usize, key: &str) -> Result<Json, Option<ErrorCode>> {
    rpc(&c.nodes[i].socket(), "load", json!({ "key": key }), T)
        .map(|j| value_from_json(&j).expect("a loaded value decodes").to_json())
        .map_err(|(code, _)| code)
}

/// The key is complete: committed on every holder of its manifest, and loads as `want` from every node.
fn assert_complete(c: &Cluster, held: &[BTreeSet<String>], key: &str, want: &Json) {
    let m = rpc(&c.nodes[0].socket(), "manifest", json!({ "key": key }), T).expect("manifest of a visible key");
    let holders: Vec<&str> = m["holders"].as_array().unwrap().iter().filter_map(|h| h["peer_id"].as_str()).collect();
    for h in &holders {
        let i = c.peer_index(h);
        assert!(held[i].contains(key), "key {key} is not committed on its holder node {i}");
    }
    for i in 0..NODES {
        assert_eq!(load(c, i, key).as_ref(), Ok(want), "key {key} from node {i}");
    }
}

fn wait_mesh(c: &Cluster) {
    c.wait_full_mesh();
}

#[derive(Default)]
struct Tally {
    complete: usize,
    absent: usize,
    returned_ok: usize,
}

#[test]
fn kill_minus_nine_at_random_points_leaves_complete_keys_or_nothing() {
    let t0 = Instant::now();
    let seed: u64 = std::env::var("CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(6);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut c = Cluster::start(Opts {
        nodes: NODES,
        group_size: NODES,
        extra: vec![
            "--pending-grace-ms".into(),
            PENDING_GRACE_MS.to_string(),
            "--request-timeout".into(),
            "5".into(),
            "--repair-grace-secs".into(),
            "3600".into(),
        ],
    });
    // one identity on every node: any node may load, delete and author for the owner
    let (sk, _) = c.client(0).gen_key().unwrap();
    for i in 1..NODES {
        assert!(c.client(i).set_privkey(&sk).unwrap());
    }

    // calibration: how long a store of each size takes, so kills cover the whole store
    let mut known: BTreeMap<String, Json> = BTreeMap::new();
    let mut store_ms = Vec::new();
    for (s, &len) in SIZES.iter().enumerate() {
        let v = value(1_000_000 + s, len);
        let start = Instant::now();
        let k = rpc(&c.nodes[s % NODES].socket(), "store", json!({ "data": v }), T).unwrap();
        store_ms.push(start.elapsed().as_millis() as u64 + 5);
        known.insert(k.as_str().unwrap().to_string(), v);
    }
    println!("calibration: store durations {store_ms:?} ms for sizes {SIZES:?} (setup {:?})", t0.elapsed());

    // ---- stores ----
    let mut stores = Tally::default();
    let mut victims_origin = 0;
    for trial in 0..STORE_TRIALS {
        let s = rng.random_range(0..SIZES.len());
        let v = value(trial, SIZES[s]);
        let origin = rng.random_range(0..NODES);
        let victim = if rng.random_bool(0.5) { origin } else { rng.random_range(0..NODES) };
        victims_origin += usize::from(victim == origin);
        let delay = Duration::from_millis(rng.random_range(0..=store_ms[s] * 13 / 10));
        let pending = rpc_async(&c.nodes[origin].socket(), "store", json!({ "data": v }));
        std::thread::sleep(delay);
        c.kill(victim);
        let returned = pending.recv_timeout(T).expect("the store call returns");
        c.restart(victim);
        wait_mesh(&c);
        let held = settled(&c);
        let visible: BTreeSet<&String> = held.iter().flatten().filter(|k| !known.contains_key(*k)).collect();
        assert!(visible.len() <= 1, "trial {trial}: more than one new key {visible:?}");
        if let Ok(k) = &returned {
            stores.returned_ok += 1;
            assert!(visible.contains(&k.as_str().unwrap().to_string()), "trial {trial}: returned key {k} not held");
        }
        if let Some(k) = visible.into_iter().next().cloned() {
            assert_complete(&c, &held, &k, &v);
            known.insert(k, v);
            stores.complete += 1;
        } else {
            stores.absent += 1;
        }
    }
    println!(
        "stores: {STORE_TRIALS} trials ({victims_origin} killed the storing node, the others a holder): {} complete \
         ({} returned a key), {} absent; {:?} so far",
        stores.complete,
        stores.returned_ok,
        stores.absent,
        t0.elapsed()
    );

    // ---- deletes ----
    let mut deletes = Tally::default();
    let delete_ms = {
        let (k, _) = known.iter().next().map(|(k, v)| (k.clone(), v.clone())).unwrap();
        let start = Instant::now();
        assert_eq!(rpc(&c.nodes[1].socket(), "delete", json!({ "key": k }), T).unwrap(), json!(true));
        known.remove(&k);
        start.elapsed().as_millis() as u64 + 5
    };
    for trial in 0..DELETE_TRIALS {
        let keys: Vec<String> = known.keys().cloned().collect();
        let key = keys[rng.random_range(0..keys.len())].clone();
        let want = known[&key].clone();
        let m = rpc(&c.nodes[0].socket(), "manifest", json!({ "key": key }), T).expect("manifest");
        let n = m["holders"].as_array().map_or(0, |h| h.len());
        let origin = rng.random_range(0..NODES);
        let victim = if rng.random_bool(0.5) { origin } else { rng.random_range(0..NODES) };
        let delay = Duration::from_millis(rng.random_range(0..=delete_ms * 13 / 10));
        let pending = rpc_async(&c.nodes[origin].socket(), "delete", json!({ "key": key }));
        std::thread::sleep(delay);
        c.kill(victim);
        let returned = pending.recv_timeout(T).expect("the delete call returns");
        c.restart(victim);
        wait_mesh(&c);
        // either complete everywhere, or gone everywhere (tombstones reach every holder)
        let gone = wait_for(&format!("delete trial {trial}: key complete or gone everywhere"), T, || {
            let held: Vec<BTreeSet<String>> =
                (0..NODES).map(|i| custody(&c, i).map(|h| h.into_keys().collect())).collect::<Option<_>>()?;
            match held.iter().filter(|h| h.contains(&key)).count() {
                0 => Some(true),
                h if h == n => Some(false),
                _ => None,
            }
        });
        if gone {
            for i in 0..NODES {
                assert_eq!(load(&c, i, &key), Err(Some(ErrorCode::UnknownKey)), "deleted key {key} from node {i}");
            }
            known.remove(&key);
            deletes.absent += 1;
        } else {
            let held = settled(&c);
            assert_complete(&c, &held, &key, &want);
            deletes.complete += 1;
        }
        if returned == Ok(json!(true)) {
            deletes.returned_ok += 1;
            assert!(gone, "delete trial {trial}: the delete returned true but the key is still held");
        }
    }
    println!(
        "deletes: {DELETE_TRIALS} trials: {} gone everywhere ({} returned true), {} complete everywhere; {:?} so far",
        deletes.absent,
        deletes.returned_ok,
        deletes.complete,
        t0.elapsed()
    );

    // ---- ledger writes ----
    let mut ledger = Tally::default();
    let pair_ms = {
        let start = Instant::now();
        let address = Identity::generate(&mut rng).address();
        rpc(&c.nodes[2].socket(), "pair", json!({ "addresses": [address] }), T).expect("pair");
        start.elapsed().as_millis() as u64 + 5
    };
    for trial in 0..LEDGER_TRIALS {
        let address = Identity::generate(&mut rng).address();
        let origin = rng.random_range(0..NODES);
        let victim = if rng.random_bool(0.5) { origin } else { rng.random_range(0..NODES) };
        let delay = Duration::from_millis(rng.random_range(0..=pair_ms * 13 / 10));
        let pending = rpc_async(&c.nodes[origin].socket(), "pair", json!({ "addresses": [address] }));
        std::thread::sleep(delay);
        c.kill(victim);
        let returned = pending.recv_timeout(T).expect("the pair call returns");
        c.restart(victim); // the ledger's LMDB reopens and replays, or the node would not start
        wait_mesh(&c);
        let applied = wait_for(&format!("ledger trial {trial}: every node's policy to agree"), T, || {
            let policies: Vec<Json> =
                (0..NODES).map(|i| rpc(&c.nodes[i].socket(), "policy", json!({}), T).ok()).collect::<Option<_>>()?;
            policies.iter().all(|p| *p == policies[0]).then(|| policies[0].to_string().contains(&address))
        });
        if let Ok(txid) = &returned {
            ledger.returned_ok += 1;
            assert!(applied, "ledger trial {trial}: pair returned {txid} but the grant is not applied");
            for i in 0..NODES {
                assert!(rpc(&c.nodes[i].socket(), "ledger_tx", json!({ "txid": txid }), T).is_ok(), "node {i}");
            }
        }
        if applied {
            ledger.complete += 1;
        } else {
            ledger.absent += 1;
        }
    }
    println!(
        "ledger: {LEDGER_TRIALS} trials: {} applied everywhere ({} returned a txid), {} applied nowhere",
        ledger.complete, ledger.returned_ok, ledger.absent
    );

    // final: every key still held loads from every node; nothing else is held anywhere
    let held = settled(&c);
    let all: BTreeSet<&String> = held.iter().flatten().collect();
    assert_eq!(all, known.keys().collect::<BTreeSet<_>>(), "exactly the known keys are held");
    for (k, v) in &known {
        assert_complete(&c, &held, k, v);
    }
    // which recovery paths the kills exercised (from the nodes' logs)
    let logs: String =
        c.nodes.iter().map(|n| std::fs::read_to_string(n.dir.join("node.log")).unwrap_or_default()).collect();
    let count = |what: &str| logs.lines().filter(|l| l.contains(what)).count();
    println!(
        "recovery passes: {} pending shares rolled forward, {} rolled back; {} shares deleted by a gossiped or \
         synced tombstone",
        count("recovery: pending share committed"),
        count("recovery: pending share of a store that never committed dropped"),
        count("share deleted by tombstone"),
    );
    println!(
        "summary: seed {seed}, {} trials ({STORE_TRIALS} stores, {DELETE_TRIALS} deletes, \
         {LEDGER_TRIALS} ledger writes), {} keys held at the end, all complete; {:?}",
        STORE_TRIALS + DELETE_TRIALS + LEDGER_TRIALS,
        known.len(),
        t0.elapsed()
    );
}

/// A value unique to `trial`: a scalar, or an array of `len` integers.
fn value(trial: usize, len: usize) -> Json {
    if len == 0 {
        json!(trial as i64 * 7 - 3)
    } else {
        json!((0..len).map(|i| (trial * 100_003 + i) as i64).collect::<Vec<_>>())
    }
}
