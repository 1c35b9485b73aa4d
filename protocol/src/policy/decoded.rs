//! A human / JSON view of an accepted policy transaction, for `enigma.ledger_tx(txid)`.
//!
//! Owns: the shape of that JSON (field names, hex conventions) — a superset of what
//! `bitcoin-cli decoderawtransaction` shows, plus the decoded payload and the owner.
//! Must never: validate or decide anything; it only describes a [`ValidTx`].

use super::chain::ValidTx;
use super::payload::{Scope, script_address};
use super::tx::op_return_data;
use crate::identity;
use serde_json::{Value, json};

fn script_type(script: &bitcoin::Script) -> &'static str {
    if script.is_op_return() {
        "nulldata"
    } else if script.is_p2pkh() {
        "pubkeyhash"
    } else if script.is_p2sh() {
        "scripthash"
    } else if script.is_p2wpkh() {
        "witness_v0_keyhash"
    } else if script.is_p2wsh() {
        "witness_v0_scripthash"
    } else if script.is_p2tr() {
        "witness_v1_taproot"
    } else if script.is_witness_program() {
        "witness_unknown"
    } else {
        "nonstandard"
    }
}

/// `{hex, txid, wtxid, version, locktime, size, vsize, weight, inputs, outputs, payload, owner,
/// owner_address, prev}`. Hashes are shown like Bitcoin tools show them (txids byte-reversed);
/// data keys as the 64 hex characters `store` returned; amounts in satoshis.
pub fn view(tx: &ValidTx) -> Value {
    let t = &tx.tx;
    let inputs: Vec<Value> = t
        .input
        .iter()
        .map(|i| {
            json!({
                "txid": i.previous_output.txid.to_string(),
                "vout": i.previous_output.vout,
                "spends": if tx.prev.is_some() { "policy" } else { "genesis" },
                "script_sig": hex::encode(i.script_sig.as_bytes()),
                "sequence": i.sequence.0,
                "witness": i.witness.iter().map(hex::encode).collect::<Vec<_>>(),
            })
        })
        .collect();
    let outputs: Vec<Value> = t
        .output
        .iter()
        .enumerate()
        .map(|(n, o)| {
            let mut v = json!({
                "n": n,
                "value": o.value.to_sat(),
                "script_pubkey": hex::encode(o.script_pubkey.as_bytes()),
                "asm": o.script_pubkey.to_asm_string(),
                "type": script_type(&o.script_pubkey),
            });
            if let Some(a) = script_address(&o.script_pubkey) {
                v["address"] = json!(a);
            }
            if let Ok(data) = op_return_data(&o.script_pubkey) {
                v["data"] = json!(hex::encode(data));
            }
            v
        })
        .collect();
    let p = &tx.payload;
    let scope = match &p.scope {
        Scope::All => json!("all"),
        Scope::Keys(keys) => json!(keys.iter().map(|k| k.to_hex()).collect::<Vec<_>>()),
    };
    let mut v = json!({
        "hex": hex::encode(&tx.bytes),
        "txid": tx.txid.to_string(),
        "wtxid": t.compute_wtxid().to_string(),
        "version": t.version.0,
        "locktime": t.lock_time.to_consensus_u32(),
        "size": tx.bytes.len(),
        "vsize": t.vsize(),
        "weight": t.weight().to_wu(),
        "inputs": inputs,
        "outputs": outputs,
        "payload": {
            "version": if p.min_count.is_some() {
                super::payload::PAYLOAD_VERSION_MIN_COUNT
            } else {
                super::payload::PAYLOAD_VERSION
            },
            "action": p.action.as_str(),
            "level": p.level.as_str(),
            "scope": scope,
            "addresses": p.addresses(),
            "timestamp": p.timestamp,
        },
        "owner": hex::encode(tx.owner),
        "owner_address": identity::p2pkh_address(&tx.owner),
        "prev": tx.prev.map(|p| p.to_string()),
    });
    if let Some(m) = p.min_count {
        v["payload"]["min_count"] = serde_json::json!(m);
    }
    v
}
