//! Integration tests of the data-processing API: MPC sessions on committees of real node processes
//! (libp2p on 127.0.0.1), results checked against references computed here in f64.

mod support;

use enigma_client::{Client, ClientError};
use enigma_protocol::api::ErrorCode;
use serde_json::json;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::{Cluster, Opts};

fn code<T: std::fmt::Debug>(r: Result<T, ClientError>) -> ErrorCode {
    r.unwrap_err().code().expect("a node error")
}

fn scalar(c: &mut Client, method: &str, keys: &[&str]) -> f64 {
    let r = c.call(method, json!({ "keys": keys })).unwrap();
    let v = r.as_array().unwrap_or_else(|| panic!("{method}: {r}"));
    assert_eq!(v.len(), 1, "{method} returns [value]");
    v[0].as_f64().unwrap()
}

fn assert_close(got: f64, want: f64, rel: f64, what: &str) {
    let tol = rel * want.abs().max(1.0);
    assert!((got - want).abs() <= tol, "{what}: got {got}, want {want} (tolerance {tol})");
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn var(v: &[f64]) -> f64 {
    let m = mean(v);
    v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64
}

/// A deterministic pseudo-random sequence of 6-decimal numbers in (−bound, bound).
fn data(n: usize, bound: f64, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9e3779b97f4a7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = (s >> 11) as f64 / (1u64 << 53) as f64;
            ((u * 2.0 - 1.0) * bound * 1e6).round() / 1e6
        })
        .collect()
}

#[test]
fn every_call_of_the_api_gives_the_reference_answer() {
    let c = Cluster::start(Opts::default());
    let mut cl = c.client(0);

    // the walkthrough's examples
    let alice = cl.store_json(json!(10_000_000)).unwrap();
    let bob = cl.store_json(json!(30_000)).unwrap();
    assert_eq!(cl.call("stats.max", json!([alice, bob])).unwrap(), json!(alice));
    assert_eq!(cl.call("stats.min", json!([alice, bob])).unwrap(), json!(bob));
    let twin = cl.store_json(json!(10_000_000)).unwrap();
    assert_eq!(cl.call("stats.max", json!([twin, bob, alice])).unwrap(), json!(twin), "ties go to the first key");
    let ages = [45.0, 43.0, 23.0, 15.0, 67.0, 32.0, 28.0, 98.0, 55.0, 14.0];
    let k = cl.store_json(json!([45, 43, 23, 15, 67, 32, 28, 98, 55, 14])).unwrap();
    assert_eq!(scalar(&mut cl, "stats.mean", &[&k]), 42.0);
    assert_close(scalar(&mut cl, "stats.var", &[&k]), var(&ages), 1e-9, "var");
    assert_close(scalar(&mut cl, "stats.std", &[&k]), var(&ages).sqrt(), 1e-6, "std");

    // several keys: the flattened concatenation; around 10^6 with a small spread keeps its accuracy
    let a = data(300, 1e6, 1);
    let b: Vec<f64> = data(200, 0.5, 2).iter().map(|x| 1_000_000.0 + x).collect();
    let ka = cl.store_json(json!(a)).unwrap();
    let kb = cl.store_json(json!(b)).unwrap();
    let both: Vec<f64> = a.iter().chain(&b).copied().collect();
    assert_close(scalar(&mut cl, "stats.mean", &[&ka, &kb]), mean(&both), 1e-9, "mean of two keys");
    assert_close(scalar(&mut cl, "stats.var", &[&ka, &kb]), var(&both), 1e-6, "var of two keys");
    assert_close(scalar(&mut cl, "stats.var", &[&kb]), var(&b), 1e-6, "var around 10^6");
    assert_close(scalar(&mut cl, "stats.std", &[&kb]), var(&b).sqrt(), 1e-6, "std around 10^6");

    // linregress against the closed form
    let x: Vec<f64> = (0..100).map(|i| i as f64 * 0.5).collect();
    let noise = data(100, 1.0, 3);
    let y: Vec<f64> = x.iter().zip(&noise).map(|(x, e)| ((3.25 * x - 7.5 + e) * 1e6).round() / 1e6).collect();
    let (kx, ky) = (cl.store_json(json!(x)).unwrap(), cl.store_json(json!(y)).unwrap());
    let r = cl.call("stats.linregress", json!([kx, ky])).unwrap();
    let r: Vec<f64> = r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let (mx, my) = (mean(&x), mean(&y));
    let sxx: f64 = x.iter().map(|v| (v - mx) * (v - mx)).sum();
    let syy: f64 = y.iter().map(|v| (v - my) * (v - my)).sum();
    let sxy: f64 = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let slope = sxy / sxx;
    let rv = sxy / (sxx * syy).sqrt();
    let stderr = ((1.0 - rv * rv) * syy / sxx / 98.0).sqrt();
    assert_close(r[0], slope, 1e-6, "slope");
    assert_close(r[1], my - slope * mx, 1e-6, "intercept");
    assert_close(r[2], rv, 1e-6, "r_value");
    assert!(r[3] < 1e-10, "p_value of a strong fit: {}", r[3]);
    assert_close(r[4], stderr, 1e-5, "std_err");

    // dot: exact for ints (1-D, 2-D), accurate for floats
    let v1 = cl.store_json(json!([1, 2, 3])).unwrap();
    let v2 = cl.store_json(json!([4, -5, 6])).unwrap();
    assert_eq!(cl.call("linalg.dot", json!([v1, v2])).unwrap(), json!({"type": "int", "value": 12}));
    let m1 = cl.store_json(json!([[1, 2], [3, 4], [5, 6]])).unwrap();
    let m2 = cl.store_json(json!([[7, 8, 9], [10, 11, 12]])).unwrap();
    let prod = cl.call("linalg.dot", json!([m1, m2])).unwrap();
    assert_eq!(prod["value"], json!([[27, 30, 33], [61, 68, 75], [95, 106, 117]]));
    assert_eq!(prod["dtype"], "int");
    let f1 = cl.store_json(json!([[0.5, -1.25], [2.0, 3.5]])).unwrap();
    let fp = cl.call("linalg.dot", json!([f1, f1])).unwrap();
    let want = [[0.5 * 0.5 - 1.25 * 2.0, 0.5 * -1.25 - 1.25 * 3.5], [2.0 * 0.5 + 3.5 * 2.0, 2.0 * -1.25 + 3.5 * 3.5]];
    for i in 0..2 {
        for j in 0..2 {
            assert_close(fp["value"][i][j].as_f64().unwrap(), want[i][j], 1e-6, "float dot");
        }
    }

    // inv: A·inv(A) ≈ I
    let a4 = [[4.0, 7.0, 2.0, 0.5], [2.0, 6.0, -1.0, 1.0], [0.0, 1.0, 3.0, -2.0], [1.0, 0.0, 0.5, 5.0]];
    let ka4 = cl.store_json(json!(a4)).unwrap();
    let inv = cl.call("linalg.inv", json!([ka4])).unwrap();
    assert_eq!(inv["shape"], json!([4, 4]));
    for (i, row) in a4.iter().enumerate() {
        for j in 0..4 {
            let s: f64 = row.iter().enumerate().map(|(k, a)| a * inv["value"][k][j].as_f64().unwrap()).sum();
            assert_close(s, if i == j { 1.0 } else { 0.0 }, 1e-5, "A·inv(A)");
        }
    }

    // max of an array: a new key to a secret result the caller owns
    let arr = cl.store_json(json!([3, 99, -4, 17])).unwrap();
    let m = cl.call("stats.max", json!([arr])).unwrap();
    let m = m.as_str().unwrap();
    assert_ne!(m, arr);
    assert_eq!(cl.load(m).unwrap().to_json(), json!(99));
    let lo = cl.call("stats.min", json!([arr, v2])).unwrap();
    assert_eq!(cl.load(lo.as_str().unwrap()).unwrap().to_json(), json!(-5));
}

#[test]
fn store_true_chains_results_and_inputs_from_other_groups_are_reshared() {
    // 7 nodes, groups of 5: different keys live on different groups
    let c = Cluster::start(Opts { nodes: 7, ..Opts::default() });
    let mut cl = c.client(0);
    let a = cl.store_json(json!([[1, 2], [3, 4]])).unwrap();
    let b = cl.store_json(json!([[5, 6], [7, 8]])).unwrap();
    let prod = cl.call("linalg.dot", json!({"key_a": a, "key_b": b, "store": true})).unwrap();
    let prod = prod.as_str().unwrap().to_string();
    assert_eq!(cl.load(&prod).unwrap().to_json(), json!([[19, 22], [43, 50]]));
    assert_eq!(scalar(&mut cl, "stats.mean", &[&prod]), 33.5, "mean(dot(a, b, store=True))");
    let mut keys = vec![];
    for i in 0..6 {
        keys.push(cl.store_json(json!([i, 10 * i])).unwrap());
    }
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    assert_eq!(scalar(&mut cl, "stats.mean", &refs), 13.75, "six keys over several custody groups");
    // stats.mean(key, store=True) on a result held by another group: reshared, kept secret
    let m = cl.call("stats.mean", json!({"keys": [keys[5], prod], "store": true})).unwrap();
    let m = m.as_str().unwrap().to_string();
    assert_close(load_f64(&mut cl, &m), (5.0 + 50.0 + 19.0 + 22.0 + 43.0 + 50.0) / 6.0, 1e-6, "stored mean");
    // max/min of scalar keys return one of the inputs: store=True does not apply
    let (s1, s2) = (cl.store_json(json!(1.5)).unwrap(), cl.store_json(json!(-2)).unwrap());
    let err = cl.call("stats.max", json!({"keys": [s1, s2], "store": true})).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Unsupported), "{err}");
}

fn load_f64(c: &mut Client, key: &str) -> f64 {
    let v = c.load(key).unwrap().to_json();
    v.as_f64().unwrap_or_else(|| panic!("{key} holds {v}, not a number"))
}

fn load_f64s(c: &mut Client, key: &str) -> Vec<f64> {
    fn flat(v: &serde_json::Value, out: &mut Vec<f64>) {
        match v {
            serde_json::Value::Array(a) => a.iter().for_each(|x| flat(x, out)),
            x => out.push(x.as_f64().unwrap_or_else(|| panic!("not a number: {x}"))),
        }
    }
    let mut out = vec![];
    flat(&c.load(key).unwrap().to_json(), &mut out);
    out
}

fn stored(c: &mut Client, method: &str, mut params: serde_json::Value) -> String {
    params["store"] = json!(true);
    let r = c.call(method, params).unwrap_or_else(|e| panic!("{method} with store=True: {e}"));
    let k = r.as_str().unwrap_or_else(|| panic!("{method} with store=True returns a key, got {r}"));
    assert_eq!(k.len(), 64);
    k.to_string()
}

/// Within the storage precision: the rescaling's few units of 2^-20, plus a relative part.
fn assert_stored(got: f64, want: f64, rel: f64, what: &str) {
    let tol = 4.0 / (1u64 << 20) as f64 + rel * want.abs();
    assert!((got - want).abs() <= tol, "{what}: got {got}, want {want} (tolerance {tol})");
}

#[test]
fn store_true_works_for_every_operation_and_results_chain() {
    let c = Cluster::start(Opts::default());
    let mut cl = c.client(0);
    let ages = [45.0, 43.0, 23.0, 15.0, 67.0, 32.0, 28.0, 98.0, 55.0, 14.0];
    let k = cl.store_json(json!([45, 43, 23, 15, 67, 32, 28, 98, 55, 14])).unwrap();

    // mean / var / std: a new key to a Float scalar at the storage scale
    let km = stored(&mut cl, "stats.mean", json!({"keys": [k]}));
    assert_stored(load_f64(&mut cl, &km), 42.0, 0.0, "load(mean(store=True))");
    let kv = stored(&mut cl, "stats.var", json!({"keys": [k]}));
    assert_stored(load_f64(&mut cl, &kv), var(&ages), 1e-9, "load(var(store=True))");
    let ks = stored(&mut cl, "stats.std", json!({"keys": [k]}));
    assert_stored(load_f64(&mut cl, &ks), var(&ages).sqrt(), 1e-9, "load(std(store=True))");
    // chains: stats.mean(stats.std(k, store=True)), stats.var(linalg.dot(a, b, store=True))
    assert_stored(scalar(&mut cl, "stats.mean", &[&ks]), var(&ages).sqrt(), 1e-9, "mean(std(store=True))");
    let a = cl.store_json(json!([[1, 2], [3, 4]])).unwrap();
    let b = cl.store_json(json!([[5, 6], [7, 8]])).unwrap();
    let prod = stored(&mut cl, "linalg.dot", json!({"key_a": a, "key_b": b}));
    let pv = [19.0, 22.0, 43.0, 50.0];
    assert_stored(scalar(&mut cl, "stats.var", &[&prod]), var(&pv), 1e-9, "var(dot(store=True))");
    let kvp = stored(&mut cl, "stats.var", json!({"keys": [prod]}));
    let ksd = stored(&mut cl, "stats.std", json!({"keys": [kvp, km]})); // std of [176.25, 42]
    assert_stored(load_f64(&mut cl, &ksd), var(&[var(&pv), 42.0]).sqrt(), 1e-6, "std(var(dot), mean) all stored");

    // inv: the inverse matrix (Float, same shape) at the storage scale
    let a4 = [[4.0, 7.0, 2.0, 0.5], [2.0, 6.0, -1.0, 1.0], [0.0, 1.0, 3.0, -2.0], [1.0, 0.0, 0.5, 5.0]];
    let ka4 = cl.store_json(json!(a4)).unwrap();
    let revealed = cl.call("linalg.inv", json!([ka4])).unwrap();
    let kinv = stored(&mut cl, "linalg.inv", json!({"key": ka4}));
    let loaded = cl.load(&kinv).unwrap().to_json();
    assert!(loaded.as_array().is_some_and(|r| r.len() == 4 && r.iter().all(|row| row.as_array().unwrap().len() == 4)));
    let inv = load_f64s(&mut cl, &kinv);
    for i in 0..4 {
        for j in 0..4 {
            let want = revealed["value"][i][j].as_f64().unwrap();
            assert_stored(inv[i * 4 + j], want, 1e-6, "load(inv(store=True)) vs inv");
        }
    }
    // chained: dot(A, inv(A, store=True)) ≈ I
    let id = cl.call("linalg.dot", json!([ka4, kinv])).unwrap();
    for i in 0..4 {
        for j in 0..4 {
            let want = if i == j { 1.0 } else { 0.0 };
            assert_close(id["value"][i][j].as_f64().unwrap(), want, 1e-4, "dot(A, inv(A, store=True))");
        }
    }

    // linregress: the Float array [slope, intercept, r]
    let x: Vec<f64> = (0..100).map(|i| i as f64 * 0.5).collect();
    let noise = data(100, 1.0, 3);
    let y: Vec<f64> = x.iter().zip(&noise).map(|(x, e)| ((3.25 * x - 7.5 + e) * 1e6).round() / 1e6).collect();
    let (kx, ky) = (cl.store_json(json!(x)).unwrap(), cl.store_json(json!(y)).unwrap());
    let r = cl.call("stats.linregress", json!([kx, ky])).unwrap();
    let klr = stored(&mut cl, "stats.linregress", json!({"key_x": kx, "key_y": ky}));
    let lr = load_f64s(&mut cl, &klr);
    assert_eq!(lr.len(), 3, "[slope, intercept, r]");
    for (i, what) in ["slope", "intercept", "r_value"].iter().enumerate() {
        assert_stored(lr[i], r[i].as_f64().unwrap(), 1e-6, what);
    }

    // a failing check is the same clear error, never a key to a garbage value; and it looks the
    // same to the committee as a passing one: every member keeps a share either way
    let sing = cl.store_json(json!([[1, 2], [2, 4]])).unwrap();
    let ok_m = cl.store_json(json!([[2, 1], [1, 3]])).unwrap();
    let held = |c: &Cluster| -> Vec<u64> { (0..c.nodes.len()).map(|i| c.held(i)).collect() };
    let before = held(&c);
    cl.call("linalg.inv", json!({"key": ok_m, "store": true})).unwrap();
    let after_ok = held(&c);
    assert_eq!(code(cl.call("linalg.inv", json!({"key": sing, "store": true}))), ErrorCode::Singular);
    // (each member acknowledges `Store` only once its share is committed, before the call returns)
    let after_fail = held(&c);
    let grew_ok: Vec<u64> = after_ok.iter().zip(&before).map(|(a, b)| a - b).collect();
    let grew_fail: Vec<u64> = after_fail.iter().zip(&after_ok).map(|(a, b)| a - b).collect();
    assert_eq!(grew_ok.iter().sum::<u64>(), grew_fail.iter().sum::<u64>(), "ok {grew_ok:?}, failed {grew_fail:?}");
    let flat = cl.store_json(json!([2, 2, 2])).unwrap();
    let v = cl.store_json(json!([1, 2, 3])).unwrap();
    let e = cl.call("stats.linregress", json!({"key_x": flat, "key_y": v, "store": true}));
    assert_eq!(code(e), ErrorCode::InvalidParams, "x must vary");
    // a variance of 10^18 is revealed, but cannot be stored (|x| < 2^42)
    let wide = cl.store_json(json!([-1e9, 1e9])).unwrap();
    assert_close(scalar(&mut cl, "stats.var", &[&wide]), 1e18, 1e-9, "var of a wide spread");
    assert_eq!(code(cl.call("stats.var", json!({"keys": [wide], "store": true}))), ErrorCode::OutOfRange);
}

#[test]
fn compute_access_is_checked_by_every_holder() {
    let c = Cluster::start(Opts::default());
    let mut owner = c.client(0);
    let k = owner.store_json(json!([1, 2, 3, 4, 5, 6])).unwrap();
    let few = owner.store_json(json!([1, 2, 3, 4])).unwrap();
    let mut other = c.client(1);
    other.gen_key().unwrap();
    let addr = other.get_address().unwrap();
    assert_eq!(code(other.call("stats.mean", json!([k]))), ErrorCode::AccessDenied);
    owner.call("pair", json!({"addresses": [addr], "level": "compute"})).unwrap();
    assert_eq!(scalar(&mut other, "stats.mean", &[&k]), 3.5, "a compute grant allows computing");
    assert_eq!(code(other.load(&k)), ErrorCode::AccessDenied, "but not loading");
    assert_eq!(code(other.call("stats.mean", json!([few]))), ErrorCode::AccessDenied, "fewer than min_count = 5");
    owner.call("pair", json!({"addresses": [addr], "level": "compute", "min_count": 4})).unwrap();
    assert_eq!(scalar(&mut other, "stats.mean", &[&few]), 2.5, "the owner's min_count applies");
    owner.call("revoke", json!({"addresses": [addr]})).unwrap();
    assert_eq!(code(other.call("stats.mean", json!([k]))), ErrorCode::AccessDenied);
}

#[test]
fn bad_requests_get_clear_errors() {
    let c = Cluster::start(Opts { nodes: 3, ..Opts::default() });
    let mut cl = c.client(0);
    let text = cl.store_json(json!("not a number")).unwrap();
    let v = cl.store_json(json!([1, 2, 3])).unwrap();
    let m = cl.store_json(json!([[1, 2], [3, 4]])).unwrap();
    let sing = cl.store_json(json!([[1, 2], [2, 4]])).unwrap();
    let rect = cl.store_json(json!([[1, 2, 3], [4, 5, 6]])).unwrap();
    assert_eq!(code(cl.call("stats.mean", json!([text]))), ErrorCode::InvalidParams);
    assert_eq!(code(cl.call("stats.linregress", json!([v]))), ErrorCode::InvalidParams);
    assert_eq!(code(cl.call("linalg.dot", json!([v, m]))), ErrorCode::InvalidParams, "shapes do not align");
    assert_eq!(code(cl.call("linalg.inv", json!([sing]))), ErrorCode::Singular);
    assert!(code(cl.call("linalg.inv", json!([rect]))) == ErrorCode::InvalidParams);
    assert_eq!(code(cl.call("stats.mean", json!(["00".repeat(32)]))), ErrorCode::UnknownKey);
    assert_eq!(code(cl.call("stats.mean", json!({"keys": []}))), ErrorCode::InvalidParams);
    let flat = cl.store_json(json!([2, 2, 2])).unwrap();
    assert_eq!(code(cl.call("stats.linregress", json!([flat, v]))), ErrorCode::InvalidParams, "x must vary");
    // and it still computes
    assert_eq!(scalar(&mut cl, "stats.mean", &[&v]), 2.0);
}

#[test]
fn progress_is_reported_and_a_committee_member_killed_mid_session_ends_it_cleanly() {
    // six nodes for groups of five: after a holder is lost, a sixth node can take its seat. In
    // semi-honest mode: this is about progress and a member's death, and it computes right after
    // the loss (active mode needs the group whole again first, and its inv 32×32 takes minutes here)
    let semi = vec!["--mpc-security".to_string(), "semi-honest".to_string()];
    let mut c = Cluster::start(Opts { nodes: 6, extra: semi, ..Opts::default() });
    let mut cl = c.client(0);
    let big: Vec<f64> = data(20_000, 1000.0, 7);
    let k = cl.store_json(json!(big)).unwrap();
    let m32: Vec<Vec<f64>> = (0..32)
        .map(|i| (0..32).map(|j| if i == j { 40.0 } else { ((i * 7 + j * 3) % 11) as f64 - 5.0 }).collect())
        .collect();
    let km = cl.store_json(json!(m32)).unwrap();

    // progress notifications reach the client
    let mut seen = 0;
    let r = cl.call_with_progress("linalg.inv", json!({"key": km}), |_| seen += 1).unwrap();
    assert_eq!(r["shape"], json!([32, 32]));
    assert!(seen > 0, "no progress notification");

    // kill a committee member (not the requester) as soon as the computation reports progress
    let manifest = cl.call("manifest", json!({"key": km})).unwrap();
    let victim = manifest["holders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| c.peer_index(h["peer_id"].as_str().unwrap()))
        .find(|i| *i != 0)
        .unwrap();
    let sock = c.nodes[0].socket();
    let (started_tx, started_rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let mut cl = Client::connect(&sock).unwrap();
        let t0 = Instant::now();
        let mut told = false;
        let r = cl.call_with_progress("linalg.inv", json!({"key": km}), |_| {
            if !told {
                let _ = started_tx.send(());
                told = true;
            }
        });
        (r, t0.elapsed())
    });
    started_rx.recv_timeout(Duration::from_secs(60)).expect("the computation started");
    c.kill(victim);
    let (r, took) = worker.join().unwrap();
    let err = r.expect_err("a session with a dead member cannot finish");
    assert!(matches!(err.code(), Some(ErrorCode::NotEnoughNodes | ErrorCode::Unavailable)), "{err}");
    assert!(took < Duration::from_secs(60), "ended in {took:?}");

    // the node keeps serving: with the lost holder's seat taken by the next-ranked live node, at the
    // key's own threshold
    assert_close(scalar(&mut c.client(0), "stats.mean", &[&k]), mean(&big), 1e-9, "mean after the loss");
}

#[test]
fn a_client_that_goes_away_or_cancels_stops_its_computation() {
    let c = Cluster::start(Opts { nodes: 3, ..Opts::default() });
    let mut cl = c.client(0);
    let m32: Vec<Vec<f64>> =
        (0..32).map(|i| (0..32).map(|j| if i == j { 30.0 } else { ((i + 2 * j) % 5) as f64 }).collect()).collect();
    let km = cl.store_json(json!(m32)).unwrap();
    let sock = c.nodes[0].socket();
    let (op_tx, op_rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let mut cl = Client::connect(&sock).unwrap();
        let mut sent = false;
        cl.call_with_progress("linalg.inv", json!({"key": km}), |p| {
            if !sent {
                let _ = op_tx.send(p.op.clone());
                sent = true;
            }
        })
    });
    let op = op_rx.recv_timeout(Duration::from_secs(60)).unwrap();
    assert_eq!(c.client(0).call("cancel", json!({"op": op})).unwrap(), json!(true));
    let err = worker.join().unwrap().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Cancelled), "{err}");
    assert_eq!(c.client(0).call("cancel", json!({"op": "nope"})).unwrap(), json!(false));
    let v = cl.store_json(json!([5, 7])).unwrap();
    assert_eq!(cl.call("stats.mean", json!([v])).unwrap(), json!([6.0]));
}
