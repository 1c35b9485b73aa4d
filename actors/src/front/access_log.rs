//! `access_log(key)`: who loaded or computed on a key, and when — to the owner only (the paper's
//! T_data idea).
//!
//! Owns: asking every reachable holder for its record of accesses (a signed, owner-only query) and
//! merging them: one request seen by several holders is one access. Must never: show the log to
//! anyone but the key's owner (holders check too).

use super::{FrontCtx, now_ms};
use enigma_protocol::api::{ApiError, ErrorCode};
use enigma_protocol::identity;
use enigma_protocol::keys::DataKey;
use enigma_protocol::wire::{AccessEntry, AccessLogQuery, Request, Response, Signed};
use libp2p::PeerId;
use serde_json::json;
use std::collections::BTreeMap;

pub async fn access_log(ctx: FrontCtx, key: DataKey) -> Result<serde_json::Value, ApiError> {
    let manifest = ctx.find_manifest(key).await?;
    let id = ctx.identity().await?;
    if manifest.body.owner != id.pubkey() {
        return Err(ApiError::new(
            ErrorCode::AccessDenied,
            format!("access denied: only the owner sees the access log of {key}"),
        ));
    }
    let holders: Vec<PeerId> = manifest.body.holders.iter().filter_map(|h| PeerId::from_bytes(&h.peer).ok()).collect();
    let ctx = &ctx;
    let replies = futures::future::join_all(holders.iter().map(|p| {
        let q = Request::AccessLog(Signed::sign(
            AccessLogQuery { key, holder: p.to_bytes() },
            &id,
            now_ms(),
            &mut rand::rng(),
        ));
        async move { ctx.request(*p, &q).await }
    }))
    .await;
    // keyed by the operation id; the timestamp (the first holder's) only orders
    let mut merged: BTreeMap<[u8; 16], (AccessEntry, usize)> = BTreeMap::new();
    let mut answered = 0;
    for r in replies {
        if let Ok(Response::AccessLog(entries)) = r {
            answered += 1;
            for e in entries {
                merged.entry(e.request).or_insert((e, 0)).1 += 1;
            }
        }
    }
    if answered == 0 {
        return Err(ApiError::new(ErrorCode::NotEnoughNodes, format!("no holder of {key} answered")));
    }
    let mut entries: Vec<(AccessEntry, usize)> = merged.into_values().collect();
    entries.sort_by_key(|(e, _)| e.timestamp_ms);
    Ok(serde_json::Value::Array(
        entries
            .into_iter()
            .map(|(e, seen_by)| {
                json!({
                    "requester": hex::encode(e.requester),
                    "address": identity::p2pkh_address(&e.requester),
                    "action": e.action,
                    "timestamp_ms": e.timestamp_ms,
                    "holders": seen_by,
                })
            })
            .collect(),
    ))
}
