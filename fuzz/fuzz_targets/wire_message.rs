//! Node-to-node frames (`enigma_protocol::wire`): `u16` version ‖ postcard body, decoded as
//! `wire::Request`, `wire::Response`, `session::MpcRequest` and `wire::DhtRecord`.
//!
//! Checks: decoding never panics (nor over-allocates from a length prefix); whatever decodes
//! re-encodes to a frame that decodes to a message with the same encoding; the checks a handler
//! runs next on untrusted messages (request signatures, manifest proofs) never panic.
#![no_main]

use enigma_protocol::manifest::Manifest;
use enigma_protocol::session::{MpcRequest, SessionOutcome};
use enigma_protocol::wire::{self, DhtRecord, Request, Response};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

const NOW_MS: u64 = 1_700_000_000_000;

/// Decodes `frame` as `T`; if that works, checks the re-encoding is stable.
fn roundtrip<T: Serialize + DeserializeOwned>(frame: &[u8]) -> Option<T> {
    let msg = wire::decode::<T>(frame).ok()?;
    let bytes = wire::encode(&msg);
    let again = wire::decode::<T>(&bytes).expect("a re-encoded message decodes");
    assert_eq!(wire::encode(&again), bytes, "re-encoding is not stable");
    Some(msg)
}

fn manifest(m: &Manifest) {
    let _ = m.verify();
    let _ = Manifest::from_bytes(&m.to_bytes());
}

fuzz_target!(|data: &[u8]| {
    if let Some(req) = roundtrip::<Request>(data) {
        match &req {
            Request::PutShare { manifest: m, share, .. } => {
                manifest(m);
                let _ = m.holder(&[]);
                let _ = m.check_share(&[], &[0; 32], &share.0);
            }
            Request::Commit(s) => {
                let _ = s.verify(NOW_MS);
            }
            Request::GetShare(s) => {
                let _ = s.verify(NOW_MS);
            }
            Request::Delete(s) => {
                let _ = s.verify(NOW_MS);
            }
            Request::AccessLog(s) => {
                let _ = s.verify(NOW_MS);
            }
            _ => {}
        }
    }
    if let Some(Response::Manifest(Some(m))) = roundtrip::<Response>(data) {
        manifest(&m);
    }
    match roundtrip::<MpcRequest>(data) {
        Some(MpcRequest::Start(s)) => {
            let _ = s.verify(NOW_MS);
        }
        Some(MpcRequest::Store(s)) => {
            let _ = s.verify(NOW_MS);
            manifest(&s.body.manifest);
        }
        Some(MpcRequest::KeepRefreshed { manifests, .. }) => manifests.iter().for_each(manifest),
        Some(MpcRequest::Output { outcome: SessionOutcome::Stored { meta, .. }, .. }) => {
            let _ = meta.element_count();
        }
        _ => {}
    }
    if let Some(DhtRecord::Manifest(m)) = roundtrip::<DhtRecord>(data) {
        manifest(&m);
    }
});
