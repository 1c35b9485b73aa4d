//! Policy transactions (`enigma_protocol::policy`): raw Bitcoin-format bytes as they arrive by gossip
//! or `LedgerPush`, through `check_tx` (decode + every context-free check, signature included) and
//! `PolicyBook::submit` (chain rules against an empty ledger), and the OP_RETURN payload codec.
//!
//! Checks: nothing panics; whatever consensus-decodes re-encodes to the same bytes (the txid is
//! over exactly what was received); a checked transaction's payload re-encodes to the bytes in its
//! OP_RETURN; a payload that decodes re-encodes to the same bytes; accepted transactions have a view.
#![no_main]

use enigma_protocol::policy::tx::op_return_data;
use enigma_protocol::policy::{Payload, PolicyBook, check_tx, decode_tx, encode_tx, view};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(tx) = decode_tx(data) {
        assert_eq!(encode_tx(&tx), data, "consensus encoding is not canonical");
    }
    if let Ok(checked) = check_tx(data) {
        assert_eq!(checked.bytes, data);
        let pushed = op_return_data(&checked.tx.output[1].script_pubkey).expect("checked tx has a payload");
        assert_eq!(checked.payload.encode().expect("checked payload encodes"), pushed);
    }
    let mut book = PolicyBook::new();
    if let Ok(valid) = book.submit(data) {
        let _ = view(&valid);
        assert_eq!(book.get(&valid.txid).map(|v| v.txid), Some(valid.txid));
    }
    if let Ok(p) = Payload::decode(data) {
        assert_eq!(p.encode().expect("a decoded payload encodes"), data);
    }
});
