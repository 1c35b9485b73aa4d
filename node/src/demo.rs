//! The walkthrough (`enigma devnet --demo`): the README's examples run against a live network,
//! each result checked.
//!
//! Owns: the scripted tour of the API. Must never: pass when a result is wrong — every step checks.

use anyhow::{bail, ensure};
use enigma_client::Client;
use enigma_protocol::api::ErrorCode;
use enigma_protocol::value::Value;
use serde_json::json;

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
    println!("walkthrough passed");
    Ok(())
}
