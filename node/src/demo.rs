//! The walkthrough (`enigma devnet --demo`): the README's examples run against a live network,
//! each result checked.
//!
//! Owns: the scripted tour of the API. Must never: pass when a result is wrong — every step checks.

use anyhow::{bail, ensure};
use enigma_client::Client;
use enigma_protocol::api::ErrorCode;
use enigma_protocol::value::Value;
use serde_json::json;

fn first(j: &serde_json::Value) -> anyhow::Result<f64> {
    j.get(0).and_then(|v| v.as_f64()).ok_or_else(|| anyhow::anyhow!("expected a list of numbers, got {j}"))
}

fn step(name: &str, detail: impl std::fmt::Display) {
    println!("  ok  {name:<44} {detail}");
}

pub fn walkthrough(endpoint: &str) -> anyhow::Result<()> {
    let mut c = Client::connect(endpoint)?;
    println!("walkthrough against {endpoint}");

    let (private_key, public_key) = c.gen_key()?;
    step("gen_key()", &public_key);
    ensure!(c.get_pubkey()? == public_key, "get_pubkey does not match gen_key");
    step("get_pubkey()", &public_key);
    let address = c.get_address()?;
    ensure!(address.starts_with('1'), "address {address} is not P2PKH");
    step("get_address()", &address);
    ensure!(c.set_privkey(&private_key)?, "set_privkey refused the generated key");
    step("set_privkey(private_key)", "True");
    ensure!(!c.set_privkey("not a key")?, "set_privkey accepted garbage");

    let key_age = c.store_json(json!(24))?;
    step("store(24)", &key_age);
    let body = json!([[90, 60, 90], [88, 57, 89], [92, 64, 91]]);
    let key_body = c.store_json(body.clone())?;
    step("store([[90,60,90],[88,57,89],[92,64,91]])", &key_body);
    let loaded = c.load(&key_body)?;
    ensure!(loaded.to_json() == body, "load returned {}", loaded.to_json());
    step("load(key_body)", loaded.to_json());
    ensure!(c.load(&key_age)? == Value::Int(24), "load(key_age) is not 24");

    for (what, v) in [
        ("store(0.1)", Value::Float(0.1)),
        ("store('a string')", Value::String("a string".into())),
        ("store(b'\\x00\\xffbytes')", Value::Bytes(b"\x00\xffbytes".to_vec())),
        ("store({'name': 'alice', 'tags': [1, 'x']})", Value::Json(json!({"name": "alice", "tags": [1, "x"]}))),
    ] {
        let k = c.store(&v)?;
        let back = c.load(&k)?;
        ensure!(back == v, "{what} loaded back as {back:?}");
        step(what, "round-trips");
    }

    ensure!(c.delete(&key_age)?, "delete returned false");
    step("delete(key_age)", "True");
    match c.load(&key_age) {
        Err(e) if e.code() == Some(ErrorCode::UnknownKey) => step("load(key_age) after delete", format!("Error: {e}")),
        Err(e) => bail!("load after delete failed with the wrong error: {e}"),
        Ok(v) => bail!("load after delete returned {v:?}"),
    }

    // ---- computing on secret-shared data (MPC); every result is checked against plain arithmetic
    let alice = c.store_json(json!(10_000_000))?;
    let bob = c.store_json(json!(30_000))?;
    ensure!(c.call("stats.max", json!([alice, bob]))? == json!(alice), "max is not alice");
    step("stats.max(alice, bob) == alice", "True");
    ensure!(c.call("stats.min", json!([alice, bob]))? == json!(bob), "min is not bob");
    step("stats.min(alice, bob) == bob", "True");
    let ages = c.store_json(json!([45, 43, 23, 15, 67, 32, 28, 98, 55, 14]))?;
    let mean = c.call("stats.mean", json!([ages]))?;
    ensure!(mean == json!([42.0]), "mean is {mean}");
    step("stats.mean(ages)", &mean);
    let var = first(&c.call("stats.var", json!([ages]))?)?;
    ensure!((var - 611.0).abs() < 1e-6, "var is {var}");
    step("stats.var(ages)", format!("[{var}]"));
    let std = first(&c.call("stats.std", json!([ages]))?)?;
    ensure!((std - 611f64.sqrt()).abs() < 1e-6, "std is {std}");
    step("stats.std(ages)", format!("[{std:.6}]"));
    let x = c.store_json(json!([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))?;
    let y = c.store_json(json!([2.1, 3.9, 6.2, 7.8, 10.1, 12.2, 13.8, 16.1, 18.0, 20.2]))?;
    let lr = c.call("stats.linregress", json!([x, y]))?;
    let slope = first(&lr)?;
    ensure!((slope - 2.0072727272727).abs() < 1e-6, "slope is {slope}");
    step("stats.linregress(x, y)", format!("slope {slope:.6}, r {:.6}", lr[2].as_f64().unwrap_or(0.0)));
    let a = c.store_json(json!([[1, 2], [3, 4]]))?;
    let b = c.store_json(json!([[5, 6], [7, 8]]))?;
    let dot = c.call("linalg.dot", json!([a, b]))?;
    ensure!(dot["value"] == json!([[19, 22], [43, 50]]), "dot is {dot}");
    step("linalg.dot(a, b)", &dot["value"]);
    let m = c.store_json(json!([[4, 7], [2, 6]]))?;
    let inv = c.call("linalg.inv", json!([m]))?;
    let want = [[0.6, -0.7], [-0.2, 0.4]];
    for (i, row) in want.iter().enumerate() {
        for (j, w) in row.iter().enumerate() {
            let got = inv["value"][i][j].as_f64().unwrap_or(f64::NAN);
            ensure!((got - w).abs() < 1e-5, "inv[{i}][{j}] is {got}");
        }
    }
    step("linalg.inv(m)", "[[0.6, -0.7], [-0.2, 0.4]] (to 1e-5)");
    let product = c.call("linalg.dot", json!({"key_a": a, "key_b": b, "store": true}))?;
    let chained = c.call("stats.mean", json!([product]))?;
    ensure!(chained == json!([33.5]), "mean of the stored product is {chained}");
    step("stats.mean(linalg.dot(a, b, store=True))", &chained);
    let arr = c.store_json(json!([3, 99, -4, 17]))?;
    let kmax = c.call("stats.max", json!([arr]))?;
    let kmax = kmax.as_str().unwrap_or_default().to_string();
    ensure!(c.load(&kmax)? == Value::Int(99), "max of the array is not 99");
    step("load(stats.max(array_key))", 99);
    println!("walkthrough passed");
    Ok(())
}
