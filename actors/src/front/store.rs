//! The `store` workflow: encode, share, place, two-phase write, publish the manifest.
//!
//! Owns: choosing the custody group (this node's own lookup of the key, `groups`), dealing Shamir shares with salted
//! commitments, the owner-signed manifest, and the two-phase write (every holder keeps its share as
//! pending; then the owner commits). A holder that fails in phase 1 is replaced by the next peer in
//! placement order (same x-coordinate, same share) and the manifest re-signed; when there is no such
//! peer, the value is dealt afresh over the holders that answered (a smaller group, never below 3).
//! Write ordering for crash safety: the commit goes out only after *every* holder of the final
//! manifest kept its share pending, and only before the commit deadline (`pending_grace` after
//! `created_ms`), so one committed share proves the whole group can commit (the holders' recovery
//! pass rolls the rest forward). Must never: send a holder anything but its own share, send a commit
//! before every holder acknowledged or after the deadline, or return a key before at least t+1
//! holders committed.

use super::{FrontCtx, blocking, now_ms, peer_error};
use enigma_protocol::api::{ApiError, ErrorCode};
use enigma_protocol::field::{Fp, FpVec};
use enigma_protocol::fixed::NumScale;
use enigma_protocol::keys::DataKey;
use enigma_protocol::manifest::{Holder, MANIFEST_VERSION, Manifest, ManifestBody};
use enigma_protocol::value::{self, Value};
use enigma_protocol::wire::{self, CommitKey, DhtRecord, Request, Response, Signed};
use enigma_protocol::{placement, shamir};
use libp2p::PeerId;
use rand::Rng;
use std::sync::Arc;

/// Attempts at finding a full custody group when holders fail during phase 1.
const PLACEMENT_ATTEMPTS: usize = 3;

pub async fn store(ctx: FrontCtx, value: Value, scale: NumScale, exact: bool) -> Result<DataKey, ApiError> {
    let id = ctx.identity().await?;
    let max = ctx.cfg.max_value_bytes;
    let (meta, elements) = blocking(move || value::encode_at(&value, scale, exact)).await??;
    let size = elements.len() * enigma_protocol::field::BYTES;
    if size > max {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!("value too large: {size} bytes encoded, the limit is {max}"),
        ));
    }

    let mut nonce = [0u8; 32];
    rand::rng().fill_bytes(&mut nonce);
    let owner = id.pubkey();
    let elements = Arc::new(elements);
    let key = {
        let (elements, meta) = (elements.clone(), meta.clone());
        blocking(move || DataKey::derive(&value::canonical_bytes(&meta, &elements), &owner, &nonce)).await?
    };

    // The group from this node's own lookup of the key (`groups`); it holds x = 1..n, and a holder
    // that fails is replaced by the next peer of the rule's order.
    let view = crate::groups::view(&ctx.network, ctx.local, key)
        .await
        .map_err(|e| ApiError::new(ErrorCode::Unavailable, e.to_string()))?;
    let mut n = placement::group_size(ctx.cfg.group_size, view.len())
        .map_err(|e| ApiError::new(ErrorCode::NotEnoughNodes, e.to_string()))?;
    let mut assigned: Vec<PeerId> = view.group(n);
    if assigned.len() < n {
        n = placement::group_size(n, assigned.len())
            .map_err(|e| ApiError::new(ErrorCode::NotEnoughNodes, e.to_string()))?;
    }
    let mut tried: Vec<PeerId> = assigned.clone();
    let created_ms = now_ms();

    let mut attempt = 0;
    let mut dealt = deal(elements.clone(), n).await?;
    let manifest = loop {
        attempt += 1;
        let t = shamir::max_threshold(n);
        let body = ManifestBody {
            version: MANIFEST_VERSION,
            key,
            owner,
            meta: meta.clone(),
            threshold: t as u32,
            holders: assigned
                .iter()
                .enumerate()
                .map(|(i, p)| Holder { peer: p.to_bytes(), x: i as u64 + 1, commitment: dealt.commitments[i] })
                .collect(),
            created_ms,
            epoch: 0,
            derived_from: vec![],
            scale,
        };
        let manifest = body.sign(&id);
        let failed = put_all(&ctx, &manifest, &dealt.shares, &dealt.salts, &assigned).await;
        if failed.is_empty() {
            break manifest;
        }
        tracing::warn!(%key, failed = failed.len(), attempt, "holders failed during store");
        if attempt >= PLACEMENT_ATTEMPTS {
            return Err(ApiError::new(
                ErrorCode::NotEnoughNodes,
                format!("not enough custody nodes online: {} of {n} holders did not accept their share", failed.len()),
            ));
        }
        let replacements = view.replacements(&tried, failed.len(), n);
        if replacements.len() >= failed.len() {
            // same x-coordinates, same shares: only the holders change
            for (i, r) in failed.into_iter().zip(replacements) {
                assigned[i] = r;
                tried.push(r);
            }
        } else if n - failed.len() >= placement::MIN_GROUP {
            // no peer to replace them: a smaller group of the holders that answered, dealt afresh
            assigned = assigned.iter().enumerate().filter(|(i, _)| !failed.contains(i)).map(|(_, p)| *p).collect();
            n = assigned.len();
            tracing::warn!(%key, n, "storing with a smaller custody group");
            dealt = deal(elements.clone(), n).await?;
        } else {
            return Err(ApiError::new(
                ErrorCode::NotEnoughNodes,
                format!(
                    "not enough custody nodes online: {} of {n} holders did not accept their share and no other node can hold it",
                    failed.len()
                ),
            ));
        }
    };
    drop(elements);
    let t = shamir::max_threshold(n);

    // Holders refuse a commit after the deadline and their recovery pass drops what is still pending
    // then; sending none after it keeps a late store from committing on only some holders.
    let deadline = created_ms.saturating_add(ctx.cfg.pending_grace.as_millis() as u64);
    if now_ms() > deadline {
        return Err(ApiError::new(
            ErrorCode::Timeout,
            format!("store of key {key} did not reach its commit before the deadline; nothing was stored"),
        ));
    }

    let commit = Request::Commit(Signed::sign(CommitKey { key }, &id, now_ms(), &mut rand::rng()));
    let results = futures::future::join_all(assigned.iter().map(|p| ctx.request(*p, &commit))).await;
    let committed = results.iter().filter(|r| matches!(r, Ok(Response::Ack))).count();
    if committed < t + 1 {
        return Err(ApiError::new(
            ErrorCode::NotEnoughNodes,
            format!("not enough custody nodes online: only {committed} holders committed, {} needed", t + 1),
        ));
    }
    if committed < n {
        tracing::warn!(%key, committed, n, "some holders missed the commit; their shares stay pending");
    }
    ctx.network.do_send(crate::network::PutRecord {
        key: key.0.to_vec(),
        value: wire::encode(&DhtRecord::Manifest(manifest)),
    });
    tracing::info!(%key, n, t, "stored");
    Ok(key)
}

/// Shares of a value for a group of `n`, with per-share salts and commitments.
struct Dealt {
    shares: Vec<Vec<Fp>>,
    salts: Vec<[u8; 32]>,
    commitments: Vec<[u8; 32]>,
}

/// Deals Shamir shares (threshold ⌊(n−1)/2⌋) off the actor thread.
async fn deal(elements: Arc<Vec<Fp>>, n: usize) -> Result<Dealt, ApiError> {
    blocking(move || {
        let mut rng = rand::rng();
        let shares = shamir::share(&elements, shamir::max_threshold(n), n, &mut rng)
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
        let salts: Vec<[u8; 32]> = (0..n)
            .map(|_| {
                let mut s = [0u8; 32];
                rng.fill_bytes(&mut s);
                s
            })
            .collect();
        let commitments = (0..n).map(|i| shamir::commitment(&salts[i], shamir::x_of(i), &shares[i])).collect();
        Ok(Dealt { shares, salts, commitments })
    })
    .await?
}

/// Phase 1 to every holder concurrently. Returns the indices of holders that failed.
async fn put_all(
    ctx: &FrontCtx,
    manifest: &Manifest,
    shares: &[Vec<Fp>],
    salts: &[[u8; 32]],
    holders: &[PeerId],
) -> Vec<usize> {
    let puts = holders.iter().enumerate().map(|(i, peer)| {
        let req = Request::PutShare { manifest: manifest.clone(), salt: salts[i], share: FpVec(shares[i].clone()) };
        async move {
            match ctx.request(*peer, &req).await {
                Ok(Response::Ack) => None,
                Ok(other) => {
                    tracing::warn!(%peer, error = %peer_error(peer, other), "holder refused its share");
                    Some(i)
                }
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "holder unreachable");
                    Some(i)
                }
            }
        }
    });
    futures::future::join_all(puts).await.into_iter().flatten().collect()
}
