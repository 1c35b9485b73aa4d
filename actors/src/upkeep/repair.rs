//! Share repair, coordinator side: gives a key whose holder has been gone too long a full custody
//! group again, without anyone learning the value.
//!
//! Owns: choosing the new group (the old holders that are up, in their places, and the next peers
//! of the placement rule in this node's own lookup of the key for the ones that are gone —
//! `groups::admission_view`, `admission::expected_group`; the same size and
//! threshold as before, never fewer), running a refresh session in which t+1 old holders
//! reshare the value onto a new polynomial held by the new group (the MPC engine's `reshare_in`; old
//! shares become useless), collecting the new commitments, having the old holders endorse the new
//! manifest (t+1 needed; each endorses one repair per epoch, so two coordinators cannot both succeed),
//! and having the new group keep their shares under it. Must never: reconstruct the value, or publish
//! a manifest that does not verify; nor be used from below `upkeep/` (it drives Sessions and Network).

use crate::network::{Network, Proto, PutRecord, SendRequest};
use crate::sessions::{RegisterRequester, RequesterEvent, Sessions, UnregisterRequester};
use actix::Addr;
use enigma_protocol::admission;
use enigma_protocol::manifest::{Endorsement, Holder, Manifest, ManifestBody};
use enigma_protocol::session::{InputSource, InputSpec, MpcRequest, RefreshStart, SessionId, SessionOutcome};
use enigma_protocol::wire::{self, DhtRecord, Request, Response};
use libp2p::PeerId;
use rand::Rng;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long one repair may take.
const REPAIR_DEADLINE: Duration = Duration::from_secs(120);

/// What a repair needs.
#[derive(Clone)]
pub struct RepairDeps {
    pub local: PeerId,
    pub network: Addr<Network>,
    pub sessions: Addr<Sessions>,
}

/// Why a repair did not happen (logged; the next scan tries again).
#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    #[error("only {live} of the {need} holders needed to reshare are up: the key cannot be repaired")]
    TooFewHolders { live: usize, need: usize },
    #[error("no node can replace the missing holders")]
    NoReplacement,
    #[error("refresh failed: {0}")]
    Session(String),
    #[error("only {got} of {need} endorsements")]
    Endorsements { got: usize, need: usize },
}

async fn mpc(deps: &RepairDeps, peer: PeerId, req: &MpcRequest) -> Result<(), String> {
    let r = deps.network.send(SendRequest { proto: Proto::Mpc, peer, frame: wire::encode(req) }).await;
    match r {
        Ok(Ok(b)) => match wire::decode::<Response>(&b) {
            Ok(Response::Ack) => Ok(()),
            Ok(Response::Error { message, .. }) => Err(format!("{peer}: {message}")),
            _ => Err(format!("{peer}: garbage")),
        },
        Ok(Err(e)) => Err(format!("{peer}: {e}")),
        Err(e) => Err(e.to_string()),
    }
}

/// What a refresh session is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Replace holders that are gone (refused when no holder needs replacing).
    Repair,
    /// Proactive refresh: every holder up, the same group, a new polynomial (old shares useless).
    Refresh,
}

/// Repairs (or proactively refreshes) one key. Who is up is this node's own view around the key
/// (`groups::admission_view`): its lookup, itself and the holders it is connected to.
pub async fn repair(deps: &RepairDeps, manifest: &Manifest, purpose: Purpose) -> Result<Manifest, RepairError> {
    let old = &manifest.body;
    let need = old.threshold as usize + 1;
    let peers: Vec<Option<PeerId>> = old.holders.iter().map(|h| PeerId::from_bytes(&h.peer).ok()).collect();
    // this node's own view around the key: its lookup, itself, and the holders it is connected to
    let holder_ids: Vec<Vec<u8>> = old.holders.iter().map(|h| h.peer.clone()).collect();
    let view = crate::groups::admission_view(&deps.network, deps.local, old.key, &holder_ids)
        .await
        .map_err(|e| RepairError::Session(e.to_string()))?;
    let up: Vec<usize> = (0..peers.len()).filter(|i| peers[*i].is_some_and(|p| view.contains(&p.to_bytes()))).collect();
    if up.len() < need {
        return Err(RepairError::TooFewHolders { live: up.len(), need });
    }

    // the new group: holders that are up keep their places; the others are replaced by the next-ranked
    // live non-holders (`admission::expected_group`, what every endorser checks from its own view).
    // The group keeps its size and threshold: too few nodes up means no repair yet, never a weaker one.
    let group: Vec<PeerId> = admission::expected_group(old, &view)
        .map_err(|_| RepairError::NoReplacement)?
        .iter()
        .filter_map(|b| PeerId::from_bytes(b).ok())
        .collect();
    if group.len() != peers.len() {
        return Err(RepairError::NoReplacement);
    }
    if purpose == Purpose::Repair && up.len() == peers.len() {
        return Err(RepairError::NoReplacement);
    }
    let t = old.threshold as usize;
    // dealers: every holder that is up (at least t_old + 1), with its old x-coordinate: in active
    // mode the members check that their shares lie on one polynomial, and the more dealers, the
    // more lying ones that check catches (`mpc::reshare`)
    let dealers: Vec<(u32, u64)> = up
        .iter()
        .map(|&i| {
            let p = peers[i].expect("up holders have peer ids");
            (group.iter().position(|g| *g == p).expect("up holders stay") as u32, old.holders[i].x)
        })
        .collect();

    let mut session: SessionId = [0; 16];
    rand::rng().fill_bytes(&mut session);
    let (events_tx, mut events) = mpsc::unbounded_channel();
    deps.sessions.do_send(RegisterRequester { session, participants: group.clone(), events: events_tx });
    let result = run_refresh(deps, manifest, &group, t, dealers, session, &mut events).await;
    deps.sessions.do_send(UnregisterRequester { session });
    if result.is_err() {
        let abort = MpcRequest::Abort { session, reason: "repair failed".into() };
        for p in &group {
            let _ = mpc(deps, *p, &abort).await;
        }
    }
    result
}

async fn run_refresh(
    deps: &RepairDeps,
    manifest: &Manifest,
    group: &[PeerId],
    t: usize,
    dealers: Vec<(u32, u64)>,
    session: SessionId,
    events: &mut mpsc::UnboundedReceiver<RequesterEvent>,
) -> Result<Manifest, RepairError> {
    let old = &manifest.body;
    let n = group.len();
    let start = MpcRequest::Refresh(RefreshStart {
        session,
        inputs: vec![(
            InputSpec { key: old.key, meta: old.meta.clone(), source: InputSource::Reshare { dealers } },
            old.epoch,
        )],
        manifests: vec![manifest.clone()],
        participants: group.iter().map(|p| p.to_bytes()).collect(),
        committee: n as u32,
        threshold: t as u32,
        deadline_ms: crate::now_ms() + REPAIR_DEADLINE.as_millis() as u64,
    });
    let acks = futures::future::join_all(group.iter().map(|p| mpc(deps, *p, &start))).await;
    if let Some(e) = acks.into_iter().find_map(Result::err) {
        return Err(RepairError::Session(e));
    }
    let go = MpcRequest::Go { session };
    for r in futures::future::join_all(group.iter().map(|p| mpc(deps, *p, &go))).await {
        r.map_err(RepairError::Session)?;
    }
    let mut commitments: Vec<Option<[u8; 32]>> = vec![None; n];
    let deadline = tokio::time::Instant::now() + REPAIR_DEADLINE;
    while commitments.iter().any(Option::is_none) {
        let ev = tokio::time::timeout_at(deadline, events.recv())
            .await
            .map_err(|_| RepairError::Session("deadline passed".into()))?;
        match ev {
            Some(RequesterEvent::Outcome { from, outcome: SessionOutcome::Refreshed { commitments: c }, .. })
                if from < n && c.len() == 1 =>
            {
                commitments[from] = Some(c[0]);
            }
            Some(RequesterEvent::Outcome { outcome: SessionOutcome::Failed(e), .. }) => {
                return Err(RepairError::Session(e));
            }
            Some(RequesterEvent::Failed(e)) => return Err(RepairError::Session(e)),
            Some(_) => {}
            None => return Err(RepairError::Session("session registry went away".into())),
        }
    }
    let body = ManifestBody {
        holders: group
            .iter()
            .zip(commitments)
            .enumerate()
            .map(|(i, (p, c))| Holder { peer: p.to_bytes(), x: i as u64 + 1, commitment: c.unwrap_or_default() })
            .collect(),
        threshold: t as u32,
        epoch: old.epoch + 1,
        ..old.clone()
    };

    // endorsements by the old holders that are up (this node included)
    let ask = Request::Endorse { body: body.clone() };
    let old_up: Vec<PeerId> =
        old.holders.iter().filter_map(|h| PeerId::from_bytes(&h.peer).ok()).filter(|p| group.contains(p)).collect();
    let replies = futures::future::join_all(old_up.iter().map(|p| {
        let frame = wire::encode(&ask);
        async move { (*p, deps.network.send(SendRequest { proto: Proto::Custody, peer: *p, frame }).await) }
    }))
    .await;
    let endorsements: Vec<Endorsement> = replies
        .into_iter()
        .filter_map(|(p, r)| match r {
            Ok(Ok(b)) => match wire::decode::<Response>(&b) {
                Ok(Response::Endorsement(signature)) => Some(Endorsement { peer: p.to_bytes(), signature }),
                other => {
                    tracing::info!(peer = %p, response = ?other, "endorsement refused");
                    None
                }
            },
            _ => None,
        })
        .collect();
    let need = old.threshold as usize + 1;
    if endorsements.len() < need {
        return Err(RepairError::Endorsements { got: endorsements.len(), need });
    }
    let repaired = manifest.repaired(body, endorsements);
    repaired.verify().map_err(|e| RepairError::Session(format!("repaired manifest does not verify: {e}")))?;

    let keep = MpcRequest::KeepRefreshed { session, manifests: vec![repaired.clone()] };
    let kept = futures::future::join_all(group.iter().map(|p| mpc(deps, *p, &keep))).await;
    let ok = kept.iter().filter(|r| r.is_ok()).count();
    if ok < t + 1 {
        return Err(RepairError::Session(format!("only {ok} members kept their new shares")));
    }
    deps.network
        .do_send(PutRecord { key: old.key.0.to_vec(), value: wire::encode(&DhtRecord::Manifest(repaired.clone())) });
    Ok(repaired)
}
