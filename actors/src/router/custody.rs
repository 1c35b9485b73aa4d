//! Handlers for custody requests: put (store phase 1), commit (phase 2), get share, get manifest,
//! delete, tombstones.
//!
//! Owns: the holder's side of storing, loading and deleting — verifying manifests, commitments and
//! that the manifest's group is the key's group by this node's own lookup (`groups::check`) before
//! keeping a share, and signature, freshness, replay and access checks before serving one.
//! Must never: serve a share to anyone but the key's owner (or, with the ledger, a grantee), serve a
//! pending share, or keep a share whose commitment does not match.

use super::Router;
use crate::custody::{self, StoreError};
use crate::network::Publish;
use enigma_protocol::admission;
use enigma_protocol::field::FpVec;
use enigma_protocol::policy::Level;
use enigma_protocol::wire::{self, AccessEntry, ErrorKind, Request, Response, Signed, SignedBody, TOMBSTONE_TOPIC};
use libp2p::PeerId;

fn internal<E: std::fmt::Display>(e: E) -> Response {
    Response::error(ErrorKind::Internal, e.to_string())
}

fn store_error(e: StoreError) -> Response {
    match e {
        StoreError::Tombstoned => Response::error(ErrorKind::UnknownKey, "key was deleted"),
        StoreError::CommitTooLate => Response::error(ErrorKind::Busy, StoreError::CommitTooLate.to_string()),
        other => internal(other),
    }
}

pub async fn handle(router: &Router, peer: PeerId, req: Request) -> Response {
    match req {
        Request::PutShare { manifest, salt, share } => {
            if let Err(e) = manifest.verify() {
                return Response::error(ErrorKind::BadRequest, e.to_string());
            }
            let me = router.local.to_bytes();
            if let Err(e) = manifest.check_share(&me, &salt, &share.0) {
                return Response::error(ErrorKind::BadRequest, e.to_string());
            }
            // the group must be the key's group by this node's own lookup (within the rule's
            // tolerance): never the owner's word
            let proposed: Vec<Vec<u8>> = manifest.body.holders.iter().map(|h| h.peer.clone()).collect();
            if let Err(e) = crate::groups::check(&router.network, router.local, manifest.body.key, &proposed).await {
                tracing::info!(%peer, key = %manifest.body.key, reason = %e, "share refused: not the key's group here");
                return Response::error(ErrorKind::BadRequest, format!("the custody group is refused here: {e}"));
            }
            tracing::debug!(%peer, key = %manifest.body.key, "pending share received");
            let put = custody::PutPending { manifest, salt, share: share.0, now_ms: crate::now_ms() };
            match router.custody.send(put).await {
                Ok(Ok(())) => Response::Ack,
                Ok(Err(e)) => store_error(e),
                Err(e) => internal(e),
            }
        }
        Request::Commit(signed) => {
            if let Err(r) = router.authenticate(&signed).await {
                return r;
            }
            let key = signed.body.key;
            match router.custody.send(custody::GetRecord { key }).await {
                Ok(Ok(Some(rec))) if rec.manifest.body.owner == signed.auth.signer => {}
                Ok(Ok(Some(_))) => {
                    return Response::error(ErrorKind::AccessDenied, "access denied: only the owner commits");
                }
                Ok(Ok(None)) => {
                    return Response::error(ErrorKind::UnknownKey, format!("unknown key {key}"));
                }
                Ok(Err(e)) => return store_error(e),
                Err(e) => return internal(e),
            }
            match router.custody.send(custody::Commit { key, now_ms: crate::now_ms() }).await {
                Ok(Ok(true)) => Response::Ack,
                Ok(Ok(false)) => Response::error(ErrorKind::UnknownKey, format!("unknown key {key}")),
                Ok(Err(e)) => store_error(e),
                Err(e) => internal(e),
            }
        }
        Request::GetShare(signed) => {
            if let Err(r) = addressed_here(router, &signed, &signed.body.holder).await {
                return r;
            }
            let key = signed.body.key;
            let held = match router.custody.send(custody::GetShare { key }).await {
                Ok(Ok(Some(h))) => h,
                Ok(Ok(None)) => {
                    return Response::error(ErrorKind::UnknownKey, format!("unknown key {key}"));
                }
                Ok(Err(e)) => return store_error(e),
                Err(e) => return internal(e),
            };
            if !router.may(&held.record.manifest, &signed.auth.signer, Level::Load).await {
                tracing::info!(%peer, %key, "share refused: no load grant for the requester");
                return Response::error(ErrorKind::AccessDenied, "access denied");
            }
            let entry = AccessEntry {
                requester: signed.auth.signer,
                action: "load".into(),
                timestamp_ms: signed.auth.timestamp_ms,
                request: signed.body.request,
            };
            if let Ok(Err(e)) = router.custody.send(custody::RecordAccess { key, entry }).await {
                tracing::warn!(%key, error = %e, "cannot record an access");
            }
            Response::Share { salt: held.record.salt, share: FpVec(held.share) }
        }
        Request::GetManifest { key } => match router.custody.send(custody::GetManifest { key }).await {
            Ok(Ok(m)) => Response::Manifest(m),
            Ok(Err(e)) => store_error(e),
            Err(e) => internal(e),
        },
        Request::Delete(signed) => {
            if let Err(r) = router.authenticate(&signed).await {
                return r;
            }
            let key = signed.body.key;
            match router.custody.send(custody::GetRecord { key }).await {
                Ok(Ok(Some(rec))) if rec.manifest.body.owner != signed.auth.signer => {
                    return Response::error(ErrorKind::AccessDenied, "access denied: only the owner deletes");
                }
                Ok(Ok(Some(_))) => {}
                // Not held here: nothing to delete, and without the manifest this node cannot check
                // that the signer owns the key, so it keeps no tombstone.
                Ok(Ok(None)) => return Response::Deleted { had_share: false },
                Ok(Err(e)) => return store_error(e),
                Err(e) => return internal(e),
            }
            let tombstone = wire::encode(&signed);
            match router.custody.send(custody::Delete { tombstone: signed }).await {
                Ok(Ok(had_share)) => {
                    // every holder that applies a delete spreads the tombstone too, so a delete whose
                    // requester dies half-way still reaches every holder (tombstones win)
                    router.network.do_send(Publish { topic: TOMBSTONE_TOPIC.to_string(), data: tombstone });
                    Response::Deleted { had_share }
                }
                Ok(Err(e)) => store_error(e),
                Err(e) => internal(e),
            }
        }
        Request::AccessLog(signed) => {
            if let Err(r) = addressed_here(router, &signed, &signed.body.holder).await {
                return r;
            }
            let key = signed.body.key;
            match router.custody.send(custody::GetRecord { key }).await {
                Ok(Ok(Some(rec))) if rec.manifest.body.owner == signed.auth.signer => {}
                Ok(Ok(Some(_))) => {
                    return Response::error(ErrorKind::AccessDenied, "access denied: the access log is the owner's");
                }
                Ok(Ok(None)) => return Response::error(ErrorKind::UnknownKey, format!("unknown key {key}")),
                Ok(Err(e)) => return store_error(e),
                Err(e) => return internal(e),
            }
            match router.custody.send(custody::AccessLog { key }).await {
                Ok(Ok(entries)) => Response::AccessLog(entries),
                Ok(Err(e)) => store_error(e),
                Err(e) => internal(e),
            }
        }
        Request::Endorse { body } => endorse(router, peer, body).await,
        Request::LedgerPush { .. } | Request::LedgerInventory | Request::LedgerTxs { .. } => {
            Response::error(ErrorKind::BadRequest, "ledger requests are routed to the ledger")
        }
        Request::Tombstones { keys } => {
            if keys.len() > 10_000 {
                return Response::error(ErrorKind::TooLarge, "too many keys in one tombstone query");
            }
            match router.custody.send(custody::Tombstones { keys }).await {
                Ok(Ok(t)) => Response::Tombstones(t),
                Ok(Err(e)) => store_error(e),
                Err(e) => internal(e),
            }
        }
    }
}

/// A fellow holder asks this one to endorse the repaired manifest of a key. Endorse only a body that
/// repairs the manifest held here (same key, owner, data, provenance, group size and threshold; one
/// epoch later), coordinated by one of its holders, whose group is the held one as this node sees it
/// (every holder seen up in its seat, replacements among the best-ranked live non-holders here:
/// `admission::check_group`) — and only one such body per epoch.
async fn endorse(router: &Router, peer: PeerId, body: enigma_protocol::manifest::ManifestBody) -> Response {
    let key = body.key;
    let rec = match router.custody.send(custody::GetRecord { key }).await {
        Ok(Ok(Some(r))) if r.state == custody::ShareState::Committed => r,
        Ok(Ok(_)) => return Response::error(ErrorKind::UnknownKey, format!("unknown key {key}")),
        Ok(Err(e)) => return store_error(e),
        Err(e) => return internal(e),
    };
    let cur = &rec.manifest.body;
    if !cur.is_repair(&body) {
        return Response::error(ErrorKind::BadRequest, "not a repair of the manifest held here");
    }
    if rec.manifest.holder(&peer.to_bytes()).is_none() {
        return Response::error(ErrorKind::AccessDenied, "only a holder coordinates a repair");
    }
    let holders: Vec<Vec<u8>> = cur.holders.iter().map(|h| h.peer.clone()).collect();
    let view = match crate::groups::admission_view(&router.network, router.local, key, &holders).await {
        Ok(v) => v,
        Err(e) => return internal(e),
    };
    // only a body that a refresh session here produced: it carries this node's own new share
    let me = router.local.to_bytes();
    let Some(mine) = body.holders.iter().find(|h| h.peer == me) else {
        return Response::error(ErrorKind::BadRequest, "the repair drops this holder, which is up");
    };
    let refreshed = router
        .sessions
        .send(crate::sessions::RefreshedHere { key, commitment: mine.commitment })
        .await
        .unwrap_or(false);
    if !refreshed {
        tracing::info!(%peer, %key, "endorsement refused: no refresh here produced this body");
        return Response::error(ErrorKind::BadRequest, "no refresh session here produced this repair");
    }
    let proposed: Vec<Vec<u8>> = body.holders.iter().map(|h| h.peer.clone()).collect();
    if let Err(e) = admission::check_group(cur, &proposed, &view, admission::REPAIR_SLACK) {
        tracing::info!(%peer, %key, reason = %e, "endorsement refused");
        return Response::error(ErrorKind::BadRequest, format!("the repair's group is refused here: {e}"));
    }
    let hash = *blake3::hash(&body.endorsement_bytes()).as_bytes();
    match router.custody.send(custody::EndorseOnce { key, epoch: body.epoch, body_hash: hash }).await {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => return Response::error(ErrorKind::Busy, "already endorsed another repair of this epoch"),
        Ok(Err(e)) => return store_error(e),
        Err(e) => return internal(e),
    }
    match router.node_key.sign(&body.endorsement_bytes()) {
        Ok(sig) => Response::Endorsement(sig),
        Err(e) => internal(e),
    }
}

/// A signed request that names its holder (so it cannot be replayed to another): addressed to this
/// node, then authentic, fresh and not replayed.
async fn addressed_here<T: SignedBody>(router: &Router, signed: &Signed<T>, holder: &[u8]) -> Result<(), Response> {
    if holder != router.local.to_bytes().as_slice() {
        return Err(Response::error(ErrorKind::BadRequest, "request is addressed to another holder"));
    }
    router.authenticate(signed).await
}
