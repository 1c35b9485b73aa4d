//! The `load` workflow: gather t+1 verified shares from the holders (2t + 1 in active mode, where
//! that many answer, checked against each other) and reconstruct.
//!
//! Owns: the signed share requests (one per holder, addressed to it), dropping shares whose
//! commitment does not match the manifest, reconstruction and decoding. Live holders are asked first
//! and concurrently; others only if the live ones are not enough. Must never: accept a share that
//! fails its commitment, or reconstruct from fewer than t+1 shares.

use super::{FrontCtx, blocking, now_ms, peer_error};
use enigma_protocol::api::{ApiError, ErrorCode};
use enigma_protocol::field::Fp;
use enigma_protocol::keys::DataKey;
use enigma_protocol::manifest::Manifest;
use enigma_protocol::shamir;
use enigma_protocol::value::{self, Value};
use enigma_protocol::wire::{GetShare, Request, Response, Signed};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use libp2p::PeerId;
use rand::Rng;
use std::collections::HashSet;
use std::time::Duration;

pub async fn load(ctx: FrontCtx, key: DataKey) -> Result<Value, ApiError> {
    let started = std::time::Instant::now();
    let mut manifest = ctx.find_manifest(key).await?;
    tracing::debug!(%key, ms = started.elapsed().as_millis() as u64, "load: manifest found");
    let shares = match gather_shares(&ctx, &manifest).await {
        Ok(s) => s,
        // the manifest found first may predate a share repair: ask the holders for a newer one
        Err(e) if e.code == ErrorCode::NotEnoughNodes => {
            let newer = ctx.newest_manifest(&manifest).await;
            if newer.body.epoch == manifest.body.epoch {
                return Err(e);
            }
            manifest = newer;
            gather_shares(&ctx, &manifest).await?
        }
        Err(e) => return Err(e),
    };
    tracing::debug!(%key, ms = started.elapsed().as_millis() as u64, shares = shares.len(), "load: shares gathered");
    let meta = manifest.body.meta.clone();
    let scale = manifest.body.scale;
    let t = manifest.body.threshold as usize;
    blocking(move || {
        let points: Vec<(Fp, &[Fp])> = shares.iter().map(|(x, s)| (Fp::from_u64(*x), s.as_slice())).collect();
        // more than t + 1 shares (active mode asks 2t + 1): they must agree, or a holder's is wrong
        let elements = shamir::reconstruct_checked(&points, t).map_err(|e| match e {
            shamir::ShamirError::Inconsistent => ApiError::new(
                ErrorCode::IntegrityFailed,
                format!("integrity check failed: the holders' shares of key {key} do not agree"),
            ),
            e => ApiError::new(ErrorCode::Internal, e.to_string()),
        })?;
        value::decode_at(&meta, &elements, scale).map_err(ApiError::from)
    })
    .await?
}

/// How long a load waits for the checking shares beyond t + 1 once it has t + 1 (active mode).
const CHECK_GRACE: Duration = Duration::from_secs(3);

/// Collects t+1 shares that match their commitments, as (x, share); in active mode 2t + 1 where
/// that many holders answer (so that `load` can check them against each other), else t + 1.
pub async fn gather_shares(ctx: &FrontCtx, manifest: &Manifest) -> Result<Vec<(u64, Vec<Fp>)>, ApiError> {
    let id = ctx.identity().await?;
    let key = manifest.body.key;
    let need = manifest.body.threshold as usize + 1;
    let want = match ctx.cfg.mpc_security {
        enigma_protocol::mpc::Security::Active => (2 * need - 1).min(manifest.body.holders.len()),
        enigma_protocol::mpc::Security::SemiHonest => need,
    };
    let live: HashSet<PeerId> = ctx.live_nodes().await?.into_iter().collect();
    let holders: Vec<PeerId> = manifest.body.holders.iter().filter_map(|h| PeerId::from_bytes(&h.peer).ok()).collect();
    // Ask exactly as many holders as are needed — this node first (free), then live holders, then
    // the others with a short deadline — and ask the next one each time one fails.
    let mut queue: Vec<(PeerId, Duration)> = Vec::with_capacity(holders.len());
    queue.extend(holders.iter().filter(|p| **p == ctx.local).map(|p| (*p, ctx.cfg.request_timeout)));
    queue
        .extend(holders.iter().filter(|p| **p != ctx.local && live.contains(p)).map(|p| (*p, ctx.cfg.request_timeout)));
    queue.extend(holders.iter().filter(|p| !live.contains(p)).map(|p| (*p, Duration::from_secs(5))));
    let mut queue = queue.into_iter();

    let mut request = [0u8; 16];
    rand::rng().fill_bytes(&mut request);
    let ask = |peer: PeerId, timeout: Duration| {
        let req = Request::GetShare(Signed::sign(
            GetShare { key, holder: peer.to_bytes(), request },
            &id,
            now_ms(),
            &mut rand::rng(),
        ));
        async move { (peer, ctx.request_with_timeout(peer, &req, timeout).await) }
    };
    let mut good = Vec::new();
    let mut errors: Vec<ApiError> = Vec::new();
    let mut asks = FuturesUnordered::new();
    let asked = std::time::Instant::now();
    for (peer, timeout) in queue.by_ref().take(want) {
        asks.push(ask(peer, timeout));
    }
    loop {
        // Once t + 1 good shares are in, the extra ones (active mode's check) get a short grace:
        // a holder that died but still looks live must not hold the load for a request timeout.
        let next = if good.len() >= need {
            match tokio::time::timeout(CHECK_GRACE, asks.next()).await {
                Ok(next) => next,
                Err(_) => break,
            }
        } else {
            asks.next().await
        };
        let Some((peer, r)) = next else { break };
        tracing::debug!(%peer, %key, ok = r.is_ok(), ms = asked.elapsed().as_millis() as u64, "share request answered");
        match r {
            Ok(Response::Share { salt, share }) => match manifest.check_share(&peer.to_bytes(), &salt, &share.0) {
                Ok(x) => good.push((x, share.0)),
                Err(e) => {
                    tracing::warn!(%peer, %key, error = %e, "dropping a share that fails its commitment");
                    errors.push(ApiError::new(ErrorCode::Unavailable, format!("bad share from {peer}")));
                }
            },
            Ok(other) => errors.push(peer_error(&peer, other)),
            Err(e) => errors.push(e),
        }
        if good.len() >= want {
            return Ok(good);
        }
        if good.len() + asks.len() < want
            && let Some((peer, timeout)) = queue.next()
        {
            asks.push(ask(peer, timeout));
        }
    }
    // fewer than 2t + 1 answered in time (active mode): t + 1 still reconstruct, unchecked
    if good.len() >= need {
        return Ok(good);
    }
    // Not enough: say why in the most useful terms.
    if let Some(e) = errors.iter().find(|e| e.code == ErrorCode::AccessDenied) {
        return Err(ApiError::new(ErrorCode::AccessDenied, format!("access denied to key {key}: {}", e.message)));
    }
    // When more than n − (t+1) holders answer that they have no share (deleted), fewer than t+1 can
    // still hold one: the key is gone whatever the unreachable holders say.
    let n = manifest.body.holders.len();
    let gone = errors.iter().filter(|e| e.code == ErrorCode::UnknownKey).count();
    if gone > n - need {
        return Err(ApiError::new(ErrorCode::UnknownKey, format!("unknown key {key}")));
    }
    Err(ApiError::new(
        ErrorCode::NotEnoughNodes,
        format!("not enough custody nodes online for key {key}: got {} valid shares, {need} needed", good.len()),
    ))
}
