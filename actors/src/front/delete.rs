//! The `delete` workflow: owner-signed delete to every holder, tombstone gossiped and put in the DHT.
//!
//! Owns: the owner check at the requester and the tombstone's distribution. Returns true when shares
//! were removed (or some holder could not be asked, so the delete is in flight), false for a key that
//! is unknown or already deleted. Holders verify the
//! signature and ownership themselves; a holder that is offline deletes its share when it learns the
//! tombstone (gossip, or the custody sync when it returns). Must never: delete a key for a caller who
//! is not its owner.

use super::{FrontCtx, now_ms};
use crate::network::{Publish, PutRecord};
use enigma_protocol::api::{ApiError, ErrorCode};
use enigma_protocol::keys::DataKey;
use enigma_protocol::wire::{self, DeleteKey, DhtRecord, Request, Response, Signed, TOMBSTONE_TOPIC};
use libp2p::PeerId;

pub async fn delete(ctx: FrontCtx, key: DataKey) -> Result<bool, ApiError> {
    let manifest = match ctx.find_manifest(key).await {
        Ok(m) => m,
        Err(e) if e.code == ErrorCode::UnknownKey => return Ok(false),
        Err(e) => return Err(e),
    };
    let id = ctx.identity().await?;
    if manifest.body.owner != id.pubkey() {
        return Err(ApiError::new(
            ErrorCode::AccessDenied,
            format!("access denied: only the owner can delete key {key}"),
        ));
    }
    let tombstone = Signed::sign(DeleteKey { key }, &id, now_ms(), &mut rand::rng());
    let req = Request::Delete(tombstone.clone());
    let holders: Vec<PeerId> = manifest.body.holders.iter().filter_map(|h| PeerId::from_bytes(&h.peer).ok()).collect();
    let results = futures::future::join_all(holders.iter().map(|p| ctx.request(*p, &req))).await;
    let acked = results.iter().filter(|r| matches!(r, Ok(Response::Deleted { .. }))).count();
    let removed = results.iter().filter(|r| matches!(r, Ok(Response::Deleted { had_share: true }))).count();
    if acked < holders.len() {
        tracing::warn!(%key, acked, holders = holders.len(), "some holders missed the delete; the tombstone will reach them");
    }
    ctx.network.do_send(Publish { topic: TOMBSTONE_TOPIC.to_string(), data: wire::encode(&tombstone) });
    ctx.network.do_send(PutRecord { key: key.0.to_vec(), value: wire::encode(&DhtRecord::Tombstone(tombstone)) });
    tracing::info!(%key, acked, removed, "deleted");
    // true when shares were removed now (or a holder could not be asked: the delete is in flight);
    // a key whose shares were already gone reports false like any unknown key
    Ok(removed > 0 || acked < holders.len())
}
