//! The compute workflow (`stats.*`, `linalg.*`): the requester's side of an MPC session.
//!
//! Owns: choosing the committee by the admission rules (the anchor input's custody group, holders
//! seen down replaced by the next-ranked live nodes, the inputs' largest threshold — never fewer
//! nodes or a lower threshold), refusing early what a grant does not cover, deciding how each input
//! enters the committee (directly, or reshared by t+1 of its holders — never reconstructed), starting the session on every participant
//! with a signed start, collecting the members' output shares, and reconstructing the result here,
//! at the requester's own node, which is the only place outputs are revealed (DESIGN §3). With
//! `store`, the result stays shared: the requester checks only the result's flags and signs the new
//! key's manifest, with the provenance its members check. Must never: reconstruct an input, or reveal an output anywhere but here.

use super::{FrontCtx, now_ms};
use crate::cancel::Cancel;
use crate::network::{Proto, PutRecord, SendRequest};
use crate::sessions::{RegisterRequester, RequesterEvent, UnregisterRequester};
use enigma_protocol::admission::{self, AdmissionError};
use enigma_protocol::api::{ApiError, ErrorCode};
use enigma_protocol::keys::DataKey;
use enigma_protocol::manifest::{Holder, MANIFEST_VERSION, Manifest, ManifestBody, Source};
use enigma_protocol::mpc::ops::OutputLayout;
use enigma_protocol::mpc::{self, Op, OpResult, OutputShare};
use enigma_protocol::policy::Level;
use enigma_protocol::session::{
    InputSource, InputSpec, MpcRequest, SessionId, SessionOutcome, SessionStart, SessionStore, SessionTiming,
};
use enigma_protocol::value::ValueMeta;
use enigma_protocol::wire::{self, DhtRecord, ErrorKind, Response, Signed};
use libp2p::PeerId;
use rand::Rng;
use std::collections::HashSet;
use std::time::Duration;
use tokio::sync::mpsc;

/// A progress report for the client.
#[derive(Clone, Debug)]
pub struct ProgressUpdate {
    pub done: u64,
    pub total: u64,
    pub stage: String,
}

/// What the caller asked to compute.
pub struct ComputeRequest {
    pub op: Op,
    pub keys: Vec<DataKey>,
    pub store: bool,
    pub progress: Option<mpsc::UnboundedSender<ProgressUpdate>>,
    pub cancel: Cancel,
}

/// The result: a revealed value, or a key (an input key for max/min of scalars, or a stored result).
#[derive(Clone, Debug)]
pub enum ComputeResult {
    Value(OpResult),
    Key(DataKey),
}

/// The result and the slowest member's cost figures.
#[derive(Clone, Debug)]
pub struct ComputeOutput {
    pub result: ComputeResult,
    pub timing: SessionTiming,
}

fn api(code: ErrorCode, msg: impl Into<String>) -> ApiError {
    ApiError::new(code, msg)
}

/// Maps a refusal of the admission rules to a client error.
fn admission_error(e: AdmissionError) -> ApiError {
    let code = match e {
        AdmissionError::NotEnoughNodes(_) => ErrorCode::NotEnoughNodes,
        AdmissionError::Denied(_) => ErrorCode::AccessDenied,
        AdmissionError::Committee(_) => ErrorCode::InvalidParams,
    };
    api(code, e.to_string())
}

/// Maps an engine error (as its message travels from a member) to a client error.
/// How long the requester waits for the other members' reports once one has failed.
const FAILURE_GRACE: Duration = Duration::from_secs(2);

fn engine_error(msg: &str) -> ApiError {
    let code = if msg.starts_with("integrity check failed") {
        ErrorCode::IntegrityFailed
    } else if msg.starts_with("value out of range") {
        ErrorCode::OutOfRange
    } else if msg.starts_with("singular matrix") {
        ErrorCode::Singular
    } else if msg.starts_with("shape mismatch")
        || msg.starts_with("input is not numeric")
        || msg.starts_with("invalid input")
    {
        ErrorCode::InvalidParams
    } else if msg.starts_with("not supported") {
        ErrorCode::Unsupported
    } else if msg.starts_with("access denied") {
        ErrorCode::AccessDenied
    } else {
        ErrorCode::Unavailable
    };
    api(code, msg.to_string())
}

fn op_name(op: &Op) -> &'static str {
    op.name()
}

/// Unregisters the requester entry however the workflow ends.
struct Registration {
    ctx: FrontCtx,
    session: SessionId,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.ctx.sessions.do_send(UnregisterRequester { session: self.session });
    }
}

pub async fn compute(ctx: FrontCtx, mut req: ComputeRequest) -> Result<ComputeOutput, ApiError> {
    let name = op_name(&req.op);
    // the keys each op takes: exactly 2, exactly 1, or at least 1
    let (want, arity_ok) = match req.op {
        Op::Linregress
        | Op::Dot
        | Op::TtestInd
        | Op::TtestWelch
        | Op::TtestRel
        | Op::Lstsq { .. }
        | Op::LstsqStats { .. } => ("two keys", req.keys.len() == 2),
        Op::Inv | Op::Cov { .. } | Op::Corrcoef { .. } | Op::Ttest1samp { .. } => ("one key", req.keys.len() == 1),
        _ => ("at least one key", !req.keys.is_empty()),
    };
    if !arity_ok {
        return Err(api(ErrorCode::InvalidParams, format!("{name} takes {want}, got {}", req.keys.len())));
    }

    let found: Vec<Manifest> = futures::future::try_join_all(req.keys.iter().map(|k| ctx.find_manifest(*k))).await?;
    // the latest epoch its holders report: the one every holder checks the start against
    let manifests: Vec<Manifest> = futures::future::join_all(found.iter().map(|m| ctx.newest_manifest(m))).await;
    for m in &manifests {
        if !m.body.meta.is_numeric() {
            return Err(api(
                ErrorCode::InvalidParams,
                format!(
                    "key {} holds a {}; {name} needs numbers or numeric arrays",
                    m.body.key,
                    m.body.meta.kind_name()
                ),
            ));
        }
    }
    let metas: Vec<ValueMeta> = manifests.iter().map(|m| m.body.meta.clone()).collect();
    // a size the nodes will not take is an error now, before any session starts (every member checks
    // the same limits again when it admits the start)
    crate::sessions::limits::check_size(&req.op, &metas)
        .map_err(|e| api(ErrorCode::TooLarge, format!("{name}: {e}")))?;
    let any_array = metas.iter().any(|m| !matches!(m, ValueMeta::Int | ValueMeta::Float));
    // max/min over arrays gives a new secret value: it is kept shared, never revealed
    let store = req.store || (matches!(req.op, Op::Max | Op::Min) && any_array);
    if req.store && matches!(req.op, Op::Max | Op::Min) && !any_array {
        return Err(api(
            ErrorCode::Unsupported,
            format!("{name} of scalar keys returns one of the input keys; store=True does not apply"),
        ));
    }

    // ---- the committee and how each input enters it: the anchor input's custody group, with the
    // holders this node sees down replaced by the next-ranked live nodes, and the largest threshold
    // of any input (`admission`: every dealer checks the same from its own view). Never smaller,
    // never a lower threshold: too few nodes up is an error.
    let id = ctx.identity().await?;
    let bodies: Vec<&ManifestBody> = manifests.iter().map(|m| &m.body).collect();
    let basis = admission::classify(&id.pubkey(), &bodies).map_err(admission_error)?;
    if let admission::Basis::Grant { owner } = &basis {
        // refuse early what every holder would refuse (they check again on their own ledgers)
        let inputs: Vec<(DataKey, &ValueMeta)> = bodies.iter().map(|b| (b.key, &b.meta)).collect();
        for b in &bodies {
            let terms = ctx
                .ledger
                .send(crate::ledger::Terms { owner: *owner, requester: id.pubkey(), key: b.key })
                .await
                .map_err(|e| api(ErrorCode::Internal, e.to_string()))?;
            let Some((level, min_count)) = terms else {
                return Err(api(ErrorCode::AccessDenied, format!("access denied to key {}", b.key)));
            };
            // a histogram under a compute grant checks each bin against min_count in the MPC, as
            // every holder requires (`admission::grant_covers`); under load access it need not
            if let Op::Histogram { min_count: m, .. } = &mut req.op
                && (level < Level::Load || store)
            {
                *m = (*m).max(min_count.max(2));
            }
            admission::grant_covers(level, min_count, &req.op, &inputs, store).map_err(admission_error)?;
        }
    }
    let (anchor, n, t) = admission::committee_shape(&bodies).map_err(admission_error)?;
    let anchor_holders: Vec<Vec<u8>> = bodies[anchor].holders.iter().map(|h| h.peer.clone()).collect();
    let view = crate::groups::admission_view(&ctx.network, ctx.local, bodies[anchor].key, &anchor_holders)
        .await
        .map_err(|e| api(ErrorCode::Unavailable, e.to_string()))?;
    // the holders that can deal a reshared input: those this node is connected to or just found
    let mut live: HashSet<PeerId> = ctx.live_nodes().await?.into_iter().collect();
    live.extend(view.iter().filter_map(|b| PeerId::from_bytes(b).ok()));
    let committee: Vec<PeerId> = admission::expected_group(bodies[anchor], &view)
        .map_err(admission_error)?
        .iter()
        .map(|b| PeerId::from_bytes(b).map_err(|_| api(ErrorCode::Internal, "a manifest holds a bad peer id")))
        .collect::<Result<_, _>>()?;
    let mut session: SessionId = [0; 16];
    rand::rng().fill_bytes(&mut session);
    let holders = |m: &Manifest| -> Vec<PeerId> {
        m.body.holders.iter().filter_map(|h| PeerId::from_bytes(&h.peer).ok()).collect()
    };
    let mut participants = committee.clone();
    let mut inputs = Vec::with_capacity(manifests.len());
    for m in &manifests {
        let hs = holders(m);
        let direct = hs == committee
            && m.body.threshold as usize == t
            && m.body.holders.iter().enumerate().all(|(i, h)| h.x == i as u64 + 1);
        let source = if direct {
            InputSource::Direct
        } else {
            // semi-honest: t + 1 holders; active: every holder that is up, at least 2t + 1, so the
            // committee can check their shares (`mpc::reshare`)
            let security = ctx.cfg.mpc_security;
            let need = admission::min_dealers(&m.body, security);
            let mut dealers = Vec::with_capacity(m.body.holders.len());
            for h in m.body.holders.iter() {
                let Ok(p) = PeerId::from_bytes(&h.peer) else { continue };
                if !live.contains(&p) {
                    continue;
                }
                let idx = match participants.iter().position(|q| *q == p) {
                    Some(i) => i,
                    None => {
                        participants.push(p);
                        participants.len() - 1
                    }
                };
                dealers.push((idx as u32, h.x));
                if dealers.len() == need && security == mpc::Security::SemiHonest {
                    break;
                }
            }
            if dealers.len() < need {
                return Err(api(
                    ErrorCode::NotEnoughNodes,
                    format!(
                        "not enough custody nodes online for key {}: {} of {need} holders reachable{}",
                        m.body.key,
                        dealers.len(),
                        if security == mpc::Security::Active {
                            " (active security checks the shares of 2t + 1 holders; a repair restores the group)"
                        } else {
                            ""
                        }
                    ),
                ));
            }
            InputSource::Reshare { dealers }
        };
        inputs.push(InputSpec { key: m.body.key, meta: m.body.meta.clone(), source });
    }
    let provenance = admission::provenance(&id.pubkey(), &bodies);

    // ---- start everywhere, then go. A member at its limit of concurrent sessions answers `busy`:
    // the start is withdrawn and tried again (a new session id, jittered exponential backoff) until
    // the members have room, for up to a minute — computations queue under load instead of failing.
    let retry_until = tokio::time::Instant::now() + ctx.cfg.compute_timeout.min(Duration::from_secs(60));
    let mut backoff = Duration::from_millis(20);
    let (deadline_ms, mut events, _registration) = loop {
        let deadline_ms = now_ms() + ctx.cfg.compute_timeout.as_millis() as u64;
        let (events_tx, events) = mpsc::unbounded_channel();
        ctx.sessions
            .send(RegisterRequester { session, participants: participants.clone(), events: events_tx })
            .await
            .map_err(|e| api(ErrorCode::Internal, e.to_string()))?;
        let registration = Registration { ctx: ctx.clone(), session };
        let start = SessionStart {
            session,
            op: req.op.clone(),
            inputs: inputs.clone(),
            manifests: manifests.clone(),
            participants: participants.iter().map(|p| p.to_bytes()).collect(),
            committee: n as u32,
            threshold: t as u32,
            requester: ctx.local.to_bytes(),
            store,
            deadline_ms,
            security: ctx.cfg.mpc_security,
        };
        let start = MpcRequest::Start(Signed::sign(start, &id, now_ms(), &mut rand::rng()));
        let errors: Vec<ApiError> =
            broadcast(&ctx, &participants, &start).await.into_iter().filter_map(Result::err).collect();
        let Some(first) = errors.first().cloned() else {
            break (deadline_ms, events, registration);
        };
        abort(&ctx, &participants, session, "start refused").await;
        drop(registration);
        let all_busy = errors.iter().all(|e| e.code == ErrorCode::Busy);
        if !all_busy || req.cancel.is_cancelled() || tokio::time::Instant::now() + backoff > retry_until {
            return Err(first);
        }
        let jitter = Duration::from_millis(rand::rng().next_u64() % (backoff.as_millis() as u64 + 1));
        tracing::debug!(op = name, wait_ms = (backoff + jitter).as_millis() as u64, "committee busy; start retried");
        tokio::time::sleep(backoff + jitter).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
        rand::rng().fill_bytes(&mut session);
    };
    let go = MpcRequest::Go { session };
    let acks = broadcast(&ctx, &participants, &go).await;
    if let Some(e) = acks.into_iter().find_map(Result::err) {
        abort(&ctx, &participants, session, "start failed").await;
        return Err(e);
    }

    // ---- collect the members' outcomes
    let mut outcomes: Vec<Option<(SessionOutcome, SessionTiming)>> = vec![None; n];
    let mut deadline = tokio::time::Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms()));
    // members' failures: once one fails, the others are aborted and their reports are awaited a
    // little, so that an integrity failure (reported by the member that caught it) is the answer
    // rather than the transport errors it causes elsewhere
    let mut failures: Vec<String> = Vec::new();
    let mut aborted: Option<String> = None;
    while outcomes.iter().any(Option::is_none) {
        let ev = tokio::select! {
            _ = req.cancel.cancelled() => {
                abort(&ctx, &participants, session, "cancelled by the requester").await;
                return Err(api(ErrorCode::Cancelled, format!("{name} cancelled")));
            }
            _ = tokio::time::sleep_until(deadline) => {
                if !failures.is_empty() || aborted.is_some() {
                    break;
                }
                abort(&ctx, &participants, session, "deadline passed").await;
                return Err(api(ErrorCode::Timeout, format!("{name} did not finish before its deadline")));
            }
            ev = events.recv() => ev,
        };
        match ev {
            Some(RequesterEvent::Outcome { from, outcome, timing }) if from < n => {
                if let SessionOutcome::Failed(msg) = &outcome {
                    if failures.is_empty() && aborted.is_none() {
                        abort(&ctx, &participants, session, "a member failed").await;
                        deadline = deadline.min(tokio::time::Instant::now() + FAILURE_GRACE);
                    }
                    failures.push(msg.clone());
                }
                outcomes[from] = Some((outcome, timing));
            }
            Some(RequesterEvent::Outcome { .. }) => {}
            Some(RequesterEvent::Progress { done, total, stage }) => {
                if let Some(p) = &req.progress {
                    let _ = p.send(ProgressUpdate { done, total, stage });
                }
            }
            // a member aborted, or went down: the others are stopped, and their reports are awaited
            // a little (a member that caught a cheater reports an integrity failure)
            Some(RequesterEvent::Failed(why)) => {
                if failures.is_empty() && aborted.is_none() {
                    abort(&ctx, &participants, session, &why).await;
                    deadline = deadline.min(tokio::time::Instant::now() + FAILURE_GRACE);
                }
                aborted.get_or_insert(why);
            }
            None => return Err(api(ErrorCode::Internal, "session registry went away")),
        }
    }
    if let Some(first) = failures.first() {
        let msg = failures.iter().find(|m| m.starts_with("integrity check failed")).unwrap_or(first);
        if msg.starts_with("integrity check failed") {
            tracing::warn!(op = name, session = %hex::encode(session), error = %msg, "a committee member deviated");
        }
        return Err(engine_error(msg));
    }
    if let Some(why) = aborted {
        return Err(api(ErrorCode::NotEnoughNodes, format!("{name} failed: {why}")));
    }
    let outcomes: Vec<(SessionOutcome, SessionTiming)> = outcomes.into_iter().flatten().collect();
    let timing = SessionTiming {
        prep_ms: outcomes.iter().map(|o| o.1.prep_ms).fold(0.0, f64::max),
        online_ms: outcomes.iter().map(|o| o.1.online_ms).fold(0.0, f64::max),
        rounds: outcomes.iter().map(|o| o.1.rounds).max().unwrap_or(0),
        bytes_sent: outcomes.iter().map(|o| o.1.bytes_sent).sum(),
    };

    let result = if store {
        ComputeResult::Key(keep_stored(&ctx, &req.op, &metas, &committee, t, session, provenance, outcomes).await?)
    } else {
        let shares: Vec<(usize, OutputShare)> = outcomes
            .into_iter()
            .enumerate()
            .map(|(i, (o, _))| match o {
                SessionOutcome::Revealed(s) => Ok((i, s)),
                _ => Err(api(ErrorCode::Internal, "a member kept a result that was to be revealed")),
            })
            .collect::<Result<_, _>>()?;
        match mpc::reveal(&req.op, &metas, &shares, t, ctx.cfg.mpc_security) {
            Ok(OpResult::KeyIndex(i)) => ComputeResult::Key(
                *req.keys.get(i).ok_or_else(|| api(ErrorCode::Internal, "winning index out of range"))?,
            ),
            Ok(r) => ComputeResult::Value(r),
            Err(e) => return Err(engine_error(&e.to_string())),
        }
    };
    tracing::info!(
        op = name,
        n,
        prep_ms = timing.prep_ms,
        online_ms = timing.online_ms,
        rounds = timing.rounds,
        "computed"
    );
    Ok(ComputeOutput { result, timing })
}

/// With `store`: checks the result's flags (revealed to the requester only), then signs the new key's
/// manifest and has every member keep its share under it.
#[allow(clippy::too_many_arguments)]
async fn keep_stored(
    ctx: &FrontCtx,
    op: &Op,
    metas: &[ValueMeta],
    committee: &[PeerId],
    t: usize,
    session: SessionId,
    derived_from: Vec<Source>,
    outcomes: Vec<(SessionOutcome, SessionTiming)>,
) -> Result<DataKey, ApiError> {
    let mut meta = None;
    let mut scale = None;
    let mut flag_shares = Vec::with_capacity(outcomes.len());
    let mut commitments = Vec::with_capacity(outcomes.len());
    for (i, (o, _)) in outcomes.into_iter().enumerate() {
        let SessionOutcome::Stored { meta: m, checks, flags, commitment, scale: sc } = o else {
            return Err(api(ErrorCode::Internal, "a member revealed a result that was to be stored"));
        };
        if meta.get_or_insert_with(|| m.clone()) != &m || *scale.get_or_insert(sc) != sc {
            return Err(api(ErrorCode::Unavailable, "members disagree on the result's shape or scale"));
        }
        let layout = OutputLayout::Scalars(vec![]);
        flag_shares.push((i, OutputShare { layout, checks: checks.clone(), shares: flags.0 }));
        commitments.push(commitment);
    }
    let meta = meta.ok_or_else(|| api(ErrorCode::Internal, "no outcome"))?;
    let scale = scale.ok_or_else(|| api(ErrorCode::Internal, "no outcome"))?;
    // the flags alone: a failing check becomes its clear error, exactly as for a revealed result —
    // but only after the result is kept as if it had passed. The committee must not learn whether
    // the checks passed (docs/threat-model.md): it sees the same `Store` either way. A failed
    // result's key is never given to anyone; its shares stay with the members as an orphan that only
    // this requester's identity could load, and it does not know the key (the price of hiding it).
    let checked =
        mpc::reveal(op, metas, &flag_shares, t, ctx.cfg.mpc_security).map_err(|e| engine_error(&e.to_string()));

    let id = ctx.identity().await?;
    let mut nonce = [0u8; 32];
    rand::rng().fill_bytes(&mut nonce);
    let mut seed = b"enigma computed value v1".to_vec();
    seed.extend_from_slice(&session);
    let key = DataKey::derive(&seed, &id.pubkey(), &nonce);
    let manifest = ManifestBody {
        version: MANIFEST_VERSION,
        key,
        owner: id.pubkey(),
        meta,
        threshold: t as u32,
        holders: committee
            .iter()
            .enumerate()
            .map(|(i, p)| Holder { peer: p.to_bytes(), x: i as u64 + 1, commitment: commitments[i] })
            .collect(),
        created_ms: now_ms(),
        epoch: 0,
        derived_from,
        scale,
    }
    .sign(&id);
    let keep = MpcRequest::Store(Signed::sign(
        SessionStore { session, manifest: manifest.clone() },
        &id,
        now_ms(),
        &mut rand::rng(),
    ));
    let acks = broadcast(ctx, committee, &keep).await;
    let kept = acks.iter().filter(|a| a.is_ok()).count();
    ctx.network.do_send(PutRecord { key: key.0.to_vec(), value: wire::encode(&DhtRecord::Manifest(manifest)) });
    checked?;
    if kept < t + 1 {
        return Err(api(ErrorCode::NotEnoughNodes, format!("only {kept} members kept the result, {} needed", t + 1)));
    }
    Ok(key)
}

/// Sends one MPC request to every participant; each answer as Ok(()) or the error it means.
async fn broadcast(ctx: &FrontCtx, peers: &[PeerId], req: &MpcRequest) -> Vec<Result<(), ApiError>> {
    let frame = wire::encode(req);
    futures::future::join_all(peers.iter().map(|p| {
        let frame = frame.clone();
        async move {
            let r = ctx.network.send(SendRequest { proto: Proto::Mpc, peer: *p, frame }).await;
            match r {
                Ok(Ok(bytes)) => match wire::decode::<Response>(&bytes) {
                    Ok(Response::Ack) => Ok(()),
                    Ok(Response::Error { kind, message }) => {
                        let code = match kind {
                            ErrorKind::AccessDenied => ErrorCode::AccessDenied,
                            ErrorKind::UnknownKey => ErrorCode::UnknownKey,
                            ErrorKind::Busy => ErrorCode::Busy,
                            _ => ErrorCode::Unavailable,
                        };
                        Err(api(code, format!("{message} (from {p})")))
                    }
                    _ => Err(api(ErrorCode::Unavailable, format!("{p} answered garbage"))),
                },
                Ok(Err(e)) => Err(api(ErrorCode::NotEnoughNodes, format!("committee member {p} unreachable: {e}"))),
                Err(e) => Err(api(ErrorCode::Internal, e.to_string())),
            }
        }
    }))
    .await
}

async fn abort(ctx: &FrontCtx, peers: &[PeerId], session: SessionId, reason: &str) {
    let req = MpcRequest::Abort { session, reason: reason.to_string() };
    let _ = tokio::time::timeout(Duration::from_secs(5), broadcast(ctx, peers, &req)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_keep_their_meaning() {
        assert_eq!(engine_error("value out of range for fixed-point: x").code, ErrorCode::OutOfRange);
        assert_eq!(engine_error("singular matrix: y").code, ErrorCode::Singular);
        assert_eq!(engine_error("shape mismatch: z").code, ErrorCode::InvalidParams);
        assert_eq!(engine_error("transport error: gone").code, ErrorCode::Unavailable);
        assert_eq!(engine_error("integrity check failed: a triple").code, ErrorCode::IntegrityFailed);
    }
}
