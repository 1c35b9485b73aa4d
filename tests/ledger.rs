//! Integration tests of access control: pair / revoke with policy transactions, enforced by every
//! node on its own ledger. Real node processes on 127.0.0.1.

mod support;

use enigma_client::{Client, ClientError};
use enigma_protocol::api::ErrorCode;
use enigma_protocol::value::Value;
use serde_json::json;
use std::time::Duration;
use support::{Cluster, Opts, wait_for};

fn code(r: Result<impl std::fmt::Debug, ClientError>) -> ErrorCode {
    r.unwrap_err().code().expect("a node error")
}

fn pair(c: &mut Client, addr: &str, extra: serde_json::Value) -> String {
    let mut params = json!({"addresses": [addr]});
    if let serde_json::Value::Object(m) = extra {
        for (k, v) in m {
            params[k] = v;
        }
    }
    let txid = c.call("pair", params).unwrap();
    let txid = txid.as_str().unwrap().to_string();
    assert_eq!(txid.len(), 64);
    txid
}

fn revoke(c: &mut Client, addr: &str) -> String {
    c.call("revoke", json!({"addresses": [addr]})).unwrap().as_str().unwrap().to_string()
}

#[test]
fn grant_then_revoke_takes_effect_on_every_node() {
    let c = Cluster::start(Opts::default());
    let mut owner = c.client(0);
    let key = owner.store_json(json!([1, 2, 3])).unwrap();
    let mut other = c.client(1);
    other.gen_key().unwrap();
    let other_addr = other.get_address().unwrap();
    assert_eq!(code(other.load(&key)), ErrorCode::AccessDenied);

    let txid = pair(&mut owner, &other_addr, json!({}));
    // pair returns once every live node confirmed: the grant holds right away, from any node
    assert_eq!(other.load(&key).unwrap().to_json(), json!([1, 2, 3]));
    for i in 0..5 {
        let tx = c.client(i).call("ledger_tx", json!({"txid": txid})).unwrap();
        assert_eq!(tx["txid"], txid, "node {i} has the grant");
        assert_eq!(tx["payload"]["action"], "grant");
    }
    let grants = owner.call("policy", json!({})).unwrap();
    assert!(grants.to_string().contains(&other_addr), "{grants}");

    // B's identity on another node works too
    let mut b2 = c.client(2);
    let b_key = {
        let mut fresh = c.client(3);
        let (sk, _) = fresh.gen_key().unwrap();
        let addr = fresh.get_address().unwrap();
        pair(&mut owner, &addr, json!({}));
        sk
    };
    assert!(b2.set_privkey(&b_key).unwrap());
    assert_eq!(b2.load(&key).unwrap().to_json(), json!([1, 2, 3]));

    let b_addr = b2.get_address().unwrap();
    let rtxid = revoke(&mut owner, &b_addr);
    for i in 0..5 {
        let tx = c.client(i).call("ledger_tx", json!({"txid": rtxid})).unwrap();
        assert_eq!(tx["payload"]["action"], "revoke", "node {i} has the revocation");
    }
    assert_eq!(code(b2.load(&key)), ErrorCode::AccessDenied);
    assert_eq!(code(c.client(3).load(&key)), ErrorCode::AccessDenied);
    assert_eq!(owner.load(&key).unwrap().to_json(), json!([1, 2, 3]), "the owner always may");
}

#[test]
fn a_node_offline_during_the_grant_syncs_on_return() {
    let mut c = Cluster::start(Opts::default());
    let mut owner = c.client(0);
    let key = owner.store_json(json!(7)).unwrap();
    let mut b = c.client(1);
    b.gen_key().unwrap();
    let b_addr = b.get_address().unwrap();

    c.kill(4);
    let txid = pair(&mut owner, &b_addr, json!({}));
    c.restart(4);
    wait_for("node 4 to sync the grant", Duration::from_secs(30), || {
        c.client(4).call("ledger_tx", json!({"txid": txid})).ok().map(|_| ())
    });
    // make node 4's share necessary: with two other holders down, B needs nodes 1, 4 and 0
    c.kill(2);
    c.kill(3);
    assert_eq!(c.client(1).load(&key).unwrap(), Value::Int(7));
}

#[test]
fn levels_scopes_and_the_access_log() {
    let c = Cluster::start(Opts::default());
    let mut owner = c.client(0);
    let k1 = owner.store_json(json!(1)).unwrap();
    let k2 = owner.store_json(json!(2)).unwrap();
    let mut b = c.client(1);
    b.gen_key().unwrap();
    let b_addr = b.get_address().unwrap();

    pair(&mut owner, &b_addr, json!({"keys": [k1], "level": "compute"}));
    assert_eq!(code(b.load(&k1)), ErrorCode::AccessDenied, "compute-level grantees never load raw data");
    pair(&mut owner, &b_addr, json!({"keys": [k1]}));
    assert_eq!(b.load(&k1).unwrap(), Value::Int(1), "a load grant on k1");
    assert_eq!(code(b.load(&k2)), ErrorCode::AccessDenied, "scoped to k1 only");

    let log = owner.call("access_log", json!({"key": k1})).unwrap();
    let entries = log.as_array().unwrap();
    let loads: Vec<_> = entries.iter().filter(|e| e["address"] == b_addr.as_str()).collect();
    assert_eq!(loads.len(), 1, "one load by B, seen by several holders: {log}");
    assert_eq!(loads[0]["action"], "load");
    assert!(loads[0]["holders"].as_u64().unwrap() >= 3);
    assert_eq!(code(b.call("access_log", json!({"key": k1}))), ErrorCode::AccessDenied, "the log is the owner's");
}

#[test]
fn invalid_addresses_are_refused_and_nothing_is_published() {
    let c = Cluster::start(Opts { nodes: 3, ..Opts::default() });
    let mut owner = c.client(0);
    for bad in ["1DEP8i3QJCsomS4BSMY2RpU1upv62aGvhE", "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", "garbage"] {
        let err = owner.call("pair", json!({"addresses": ["1DEP8i3QJCsomS4BSMY2RpU1upv62aGvhD", bad]})).unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidAddress), "{err}");
        assert!(err.to_string().contains(bad), "the error names the address: {err}");
    }
    assert_eq!(owner.call("policy", json!({})).unwrap(), json!([]), "nothing was published");
    let err = owner.call("pair", json!({"addresses": []})).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidParams), "{err}");
    let err =
        owner.call("pair", json!({"addresses": ["1DEP8i3QJCsomS4BSMY2RpU1upv62aGvhD"], "level": "admin"})).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidParams), "{err}");

    // both examples of the API doc are accepted: P2PKH and P2SH
    let txid = pair(&mut owner, "1DEP8i3QJCsomS4BSMY2RpU1upv62aGvhD", json!({}));
    let txid2 = owner
        .call(
            "pair",
            json!({"addresses": ["1DEP8i3QJCsomS4BSMY2RpU1upv62aGvhD", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"]}),
        )
        .unwrap();
    assert_ne!(txid2.as_str().unwrap(), txid);
    let tx = owner.call("ledger_tx", json!({"txid": txid})).unwrap();
    assert!(tx["hex"].as_str().unwrap().starts_with("02000000"), "a version-2 Bitcoin transaction: {tx}");
    assert_eq!(code(owner.call("ledger_tx", json!({"txid": "00".repeat(32)}))), ErrorCode::UnknownKey);
    assert_eq!(code(owner.call("ledger_tx", json!({"txid": "xyz"}))), ErrorCode::InvalidParams);
}
