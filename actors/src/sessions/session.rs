//! One MPC session at one participant: the `MpcSession` actor (one per running computation).
//!
//! Owns: this participant's input shares for the run, the session's inbox, running the engine
//! (resharing inputs from other groups, then the op) under the session's deadline, reporting the
//! outcome — *shares* of the output — to the requester's node only, and, with `store`, keeping this
//! member's share of the result until the requester confirms it under a new key. Must never: open,
//! log or send anything but what the engine produces, or send outputs anywhere but the requester.

use super::transport::{FailTx, P2pTransport, Received};
use super::{SessionEnded, Sessions};
use crate::custody::{self, Custody};
use crate::network::streams::StreamHub;
use crate::network::{Network, Proto, SendRequest};
use actix::prelude::*;
use enigma_protocol::field::{Fp, FpVec};
use enigma_protocol::fixed::NumScale;
use enigma_protocol::identity::PubkeyBytes;
use enigma_protocol::manifest::Manifest;
use enigma_protocol::mpc::{self, MpcError, OutputShare, Party, SharedInput};
use enigma_protocol::session::{InputSource, MpcRequest, SessionId, SessionOutcome, SessionStart, SessionTiming};
use enigma_protocol::shamir;
use enigma_protocol::value::ValueMeta;
use enigma_protocol::wire;
use libp2p::PeerId;
use rand::Rng;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// How often a member reports progress to the requester at most.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// A member's share of a stored result, kept until the requester confirms the new key.
struct StoredShare {
    meta: ValueMeta,
    share: Vec<Fp>,
    salt: [u8; 32],
    commitment: [u8; 32],
}

/// What a session is for.
#[derive(Clone, Debug)]
pub enum Purpose {
    /// Compute the spec's op for the user `requester_id`.
    Compute { requester_id: PubkeyBytes },
    /// Share repair: reshare the inputs onto the committee and keep the new shares.
    Refresh,
}

/// How the run ended at this participant.
enum RunResult {
    Output(OutputShare, SessionTiming),
    Refreshed(Vec<Vec<Fp>>),
    Dealer,
}

pub struct MpcSession {
    id: SessionId,
    spec: SessionStart,
    purpose: Purpose,
    requester: PeerId,
    me: usize,
    peers: Arc<Vec<PeerId>>,
    /// My share of each input, where I hold one (direct member or dealer).
    my_inputs: Vec<Option<Vec<Fp>>>,
    /// What each participant's stream delivers (filled by the Sessions actor's reader tasks).
    inbox_rx: Option<Vec<mpsc::Receiver<Received>>>,
    fail_tx: FailTx,
    fail_rx: Option<mpsc::UnboundedReceiver<String>>,
    hub: StreamHub,
    go_tx: Option<oneshot::Sender<()>>,
    go_rx: Option<oneshot::Receiver<()>>,
    stored: Option<StoredShare>,
    /// The storage scale of the kept result (what its manifest must say).
    stored_scale: Option<NumScale>,
    refreshed: Option<Vec<StoredShare>>,
    network: Addr<Network>,
    custody: Addr<Custody>,
    sessions: Addr<Sessions>,
    deadline: Instant,
}

impl MpcSession {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        spec: SessionStart,
        purpose: Purpose,
        requester: PeerId,
        me: usize,
        peers: Vec<PeerId>,
        my_inputs: Vec<Option<Vec<Fp>>>,
        links: (StreamHub, Vec<mpsc::Receiver<Received>>),
        network: Addr<Network>,
        custody: Addr<Custody>,
        sessions: Addr<Sessions>,
    ) -> MpcSession {
        let (fail_tx, fail_rx) = mpsc::unbounded_channel();
        let (go_tx, go_rx) = oneshot::channel();
        let left = spec.deadline_ms.saturating_sub(crate::now_ms());
        MpcSession {
            id: spec.session,
            purpose,
            requester,
            me,
            peers: Arc::new(peers),
            my_inputs,
            inbox_rx: Some(links.1),
            fail_tx,
            fail_rx: Some(fail_rx),
            hub: links.0,
            go_tx: Some(go_tx),
            go_rx: Some(go_rx),
            stored: None,
            stored_scale: None,
            refreshed: None,
            network,
            custody,
            sessions,
            deadline: Instant::now() + Duration::from_millis(left),
            spec,
        }
    }

    /// The protocol: reshare what must be reshared, then run the op (committee members only).
    fn protocol(&mut self) -> impl Future<Output = Result<RunResult, MpcError>> + 'static {
        let n = self.spec.committee as usize;
        let t = self.spec.threshold as usize;
        let me = self.me;
        let mut transport = P2pTransport::new(
            self.id,
            me,
            self.peers.clone(),
            self.hub.clone(),
            self.inbox_rx.take().expect("protocol starts once"),
            (self.fail_tx.clone(), self.fail_rx.take().expect("protocol starts once")),
        );
        let go = self.go_rx.take().expect("protocol starts once");
        let inputs = self.spec.inputs.clone();
        let mut mine = std::mem::take(&mut self.my_inputs);
        let op = self.spec.op.clone();
        let refresh = matches!(self.purpose, Purpose::Refresh);
        let store = self.spec.store;
        let security = self.spec.security;
        // each input's source threshold, from its verified manifest (admission checked them)
        let src_ts: Vec<usize> = self.spec.manifests.iter().map(|m| m.body.threshold as usize).collect();
        // and each input's storage scale, from the same verified manifest
        let scales: Vec<NumScale> = self.spec.manifests.iter().map(|m| m.body.scale).collect();
        let progress = (me == 0).then(|| progress_reporter(self.network.clone(), self.requester, self.id));
        async move {
            go.await.map_err(|_| MpcError::Transport("session aborted before it started".into()))?;
            // every participant has joined by now (Go follows every join): open the streams
            transport.open_all();
            let mut party = Party::new(transport, n, t)?;
            party.set_security(security);
            #[cfg(feature = "cheat")]
            party.set_cheat(std::env::var("ENIGMA_CHEAT").ok().as_deref().and_then(mpc::Cheat::from_name));
            if let Some(p) = progress {
                party.set_progress(p);
            }
            let scale_of =
                |i: usize| scales.get(i).copied().ok_or_else(|| MpcError::Config(format!("input {i} has no manifest")));
            let mut shared = Vec::with_capacity(inputs.len());
            for (i, spec) in inputs.iter().enumerate() {
                let len = spec
                    .meta
                    .element_count()
                    .ok_or_else(|| MpcError::Invalid("input element count overflows".into()))?;
                match &spec.source {
                    InputSource::Direct => {
                        if me < n {
                            let share =
                                mine[i].take().ok_or_else(|| MpcError::Config("missing direct input".into()))?;
                            shared.push(SharedInput { meta: spec.meta.clone(), share, scale: scale_of(i)? });
                        }
                    }
                    InputSource::Reshare { dealers } => {
                        let dealers: Vec<(usize, Fp)> =
                            dealers.iter().map(|(p, x)| (*p as usize, Fp::from_u64(*x))).collect();
                        let src_t = src_ts.get(i).copied().unwrap_or(t);
                        let out = mpc::reshare_in(&mut party, &dealers, mine[i].as_deref(), len, src_t).await?;
                        if me < n {
                            let share = out.ok_or_else(|| MpcError::Config("resharing gave no share".into()))?;
                            shared.push(SharedInput { meta: spec.meta.clone(), share, scale: scale_of(i)? });
                        }
                    }
                }
            }
            if me >= n {
                return Ok(RunResult::Dealer);
            }
            if refresh {
                return Ok(RunResult::Refreshed(shared.into_iter().map(|s| s.share).collect()));
            }
            // with store, the op puts its result at the storage scale inside the MPC
            let out = if store {
                mpc::run_stored(&mut party, &op, shared).await?
            } else {
                mpc::run(&mut party, &op, shared).await?
            };
            let c = party.counters();
            let timing = SessionTiming {
                prep_ms: c.prep_time.as_secs_f64() * 1e3,
                online_ms: c.online_time.as_secs_f64() * 1e3,
                rounds: c.rounds,
                bytes_sent: c.bytes_sent,
            };
            Ok(RunResult::Output(out, timing))
        }
    }

    fn send_to_requester(&self, req: MpcRequest) {
        let network = self.network.clone();
        let peer = self.requester;
        actix::spawn(async move {
            let r = network.send(SendRequest { proto: Proto::Mpc, peer, frame: wire::encode(&req) }).await;
            if !matches!(r, Ok(Ok(_))) {
                tracing::warn!(%peer, "cannot deliver a session outcome to the requester");
            }
        });
    }

    /// The run ended: report to the requester; keep a stored or refreshed share until confirmed.
    fn finish(&mut self, result: Result<Result<RunResult, MpcError>, ()>, ctx: &mut Context<Self>) {
        let result = result.unwrap_or_else(|_| Err(MpcError::Transport("session deadline passed".into())));
        let (outcome, timing) = match result {
            Ok(RunResult::Dealer) => {
                ctx.stop(); // a pure dealer is done
                return;
            }
            Ok(RunResult::Refreshed(shares)) => {
                let outcome = self.keep_refreshed(shares);
                if let (SessionOutcome::Refreshed { commitments }, Some(_)) = (&outcome, &self.refreshed) {
                    // what this member may endorse: only a repaired manifest carrying its own new share
                    let kept = self.spec.inputs.iter().map(|i| i.key).zip(commitments.iter().copied()).collect();
                    self.sessions.do_send(super::RefreshKept { session: self.id, kept });
                }
                (outcome, SessionTiming::default())
            }
            Ok(RunResult::Output(out, timing)) if self.spec.store => match self.keep(out) {
                Ok(o) => (o, timing),
                Err(e) => (SessionOutcome::Failed(e.to_string()), timing),
            },
            Ok(RunResult::Output(out, timing)) => (SessionOutcome::Revealed(out), timing),
            Err(e) => {
                tracing::info!(session = %hex::encode(self.id), error = %e, "session failed");
                (SessionOutcome::Failed(e.to_string()), SessionTiming::default())
            }
        };
        let keep_waiting = matches!(outcome, SessionOutcome::Stored { .. } | SessionOutcome::Refreshed { .. });
        self.send_to_requester(MpcRequest::Output { session: self.id, from: self.me as u32, outcome, timing });
        if !keep_waiting {
            ctx.stop();
        }
    }

    fn keep_refreshed(&mut self, shares: Vec<Vec<Fp>>) -> SessionOutcome {
        let mut kept = Vec::with_capacity(shares.len());
        let mut commitments = Vec::with_capacity(shares.len());
        for (share, input) in shares.into_iter().zip(&self.spec.inputs) {
            let mut salt = [0u8; 32];
            rand::rng().fill_bytes(&mut salt);
            let commitment = shamir::commitment(&salt, shamir::x_of(self.me), &share);
            commitments.push(commitment);
            kept.push(StoredShare { meta: input.meta.clone(), share, salt, commitment });
        }
        self.refreshed = Some(kept);
        SessionOutcome::Refreshed { commitments }
    }

    fn keep(&mut self, out: OutputShare) -> Result<SessionOutcome, MpcError> {
        let checks = out.checks.clone();
        let flags = FpVec(out.check_shares().to_vec());
        let (meta, share, scale) = out.into_stored()?;
        let mut salt = [0u8; 32];
        rand::rng().fill_bytes(&mut salt);
        let commitment = shamir::commitment(&salt, shamir::x_of(self.me), &share);
        self.stored = Some(StoredShare { meta: meta.clone(), share, salt, commitment });
        self.stored_scale = Some(scale);
        Ok(SessionOutcome::Stored { meta, checks, flags, commitment, scale })
    }
}

/// A progress callback that forwards (rate-limited) progress to the requester.
fn progress_reporter(network: Addr<Network>, requester: PeerId, session: SessionId) -> mpc::Progress {
    let last = Mutex::new(None::<Instant>);
    Box::new(move |done, total, stage| {
        let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
        if done < total && last.is_some_and(|l| l.elapsed() < PROGRESS_EVERY) {
            return;
        }
        *last = Some(Instant::now());
        let req = MpcRequest::Progress { session, done, total, stage: stage.to_string() };
        network.do_send(SendRequest { proto: Proto::Mpc, peer: requester, frame: wire::encode(&req) });
    })
}

impl Actor for MpcSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let deadline = tokio::time::Instant::from_std(self.deadline);
        let fut = tokio::time::timeout_at(deadline, self.protocol());
        ctx.spawn(
            actix::fut::wrap_future(fut).map(|res, act: &mut MpcSession, ctx| act.finish(res.map_err(|_| ()), ctx)),
        );
        // a stored share that is never confirmed is dropped at the deadline
        let left = self.deadline.saturating_duration_since(Instant::now());
        ctx.run_later(left + Duration::from_secs(5), |act, ctx| {
            if act.stored.is_some() {
                tracing::info!(session = %hex::encode(act.id), "stored result never confirmed; discarded");
            }
            ctx.stop();
        });
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.sessions.do_send(SessionEnded { session: self.id });
    }
}

/// Every participant acknowledged: start.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Go;

impl Handler<Go> for MpcSession {
    type Result = ();
    fn handle(&mut self, _: Go, _: &mut Context<Self>) {
        if let Some(tx) = self.go_tx.take() {
            let _ = tx.send(());
        }
    }
}

/// Stop the session (requester's abort, a participant down, or the deadline).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Abort(pub String);

impl Handler<Abort> for MpcSession {
    type Result = ();
    fn handle(&mut self, m: Abort, ctx: &mut Context<Self>) {
        tracing::info!(session = %hex::encode(self.id), reason = %m.0, "session aborted");
        let _ = self.fail_tx.send(m.0);
        if self.go_tx.is_some() || self.stored.is_some() || self.refreshed.is_some() {
            ctx.stop();
        }
    }
}

/// The requester confirms a stored result under a new key (signature already checked by Sessions).
#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct KeepStored {
    pub signer: PubkeyBytes,
    pub manifest: Manifest,
}

impl Handler<KeepStored> for MpcSession {
    type Result = ResponseActFuture<Self, Result<(), String>>;
    fn handle(&mut self, m: KeepStored, _: &mut Context<Self>) -> Self::Result {
        let check = (|| {
            let s = self.stored.as_ref().ok_or("no stored result in this session")?;
            let Purpose::Compute { requester_id } = &self.purpose else {
                return Err("not a computation");
            };
            if m.signer != *requester_id || m.manifest.body.owner != *requester_id {
                return Err("only the requester may keep the result");
            }
            m.manifest.verify().map_err(|_| "manifest does not verify")?;
            let n = self.spec.committee as usize;
            let b = &m.manifest.body;
            let holders_match = b.holders.len() == n
                && b.holders.iter().enumerate().all(|(i, h)| h.peer == self.peers[i].to_bytes() && h.x == i as u64 + 1);
            if !holders_match
                || b.threshold != self.spec.threshold
                || b.meta != s.meta
                || Some(b.scale) != self.stored_scale
            {
                return Err("manifest does not describe this session's result");
            }
            if b.holders[self.me].commitment != s.commitment {
                return Err("manifest does not carry this member's commitment");
            }
            // the result stays under its sources' owners' policy: its manifest must name them
            let inputs: Vec<&enigma_protocol::manifest::ManifestBody> =
                self.spec.manifests.iter().map(|m| &m.body).collect();
            if b.derived_from != enigma_protocol::admission::provenance(requester_id, &inputs) {
                return Err("manifest does not record where the result came from");
            }
            Ok(())
        })();
        if let Err(e) = check {
            return Box::pin(actix::fut::ready(Err(e.to_string())));
        }
        let s = self.stored.take().expect("checked above");
        let custody = self.custody.clone();
        let manifest = m.manifest;
        let key = manifest.body.key;
        let fut = async move {
            let now = crate::now_ms();
            custody
                .send(custody::PutPending { manifest, salt: s.salt, share: s.share, now_ms: now })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            custody
                .send(custody::Commit { key, now_ms: now })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            Ok(())
        };
        Box::pin(actix::fut::wrap_future(fut).map(|r, _act: &mut MpcSession, ctx: &mut Context<Self>| {
            ctx.stop();
            r
        }))
    }
}

/// The coordinator confirms a refresh: keep each refreshed share under its endorsed manifest.
#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct KeepRefreshed {
    pub peer: PeerId,
    pub manifests: Vec<Manifest>,
}

impl Handler<KeepRefreshed> for MpcSession {
    type Result = ResponseActFuture<Self, Result<(), String>>;
    fn handle(&mut self, m: KeepRefreshed, _: &mut Context<Self>) -> Self::Result {
        let check = (|| {
            if m.peer != self.requester {
                return Err("only the coordinator confirms a refresh".to_string());
            }
            let kept = self.refreshed.as_ref().ok_or("no refreshed shares in this session")?;
            if m.manifests.len() != kept.len() {
                return Err("one manifest per input is needed".into());
            }
            let n = self.spec.committee as usize;
            for (((manifest, input), s), old) in
                m.manifests.iter().zip(&self.spec.inputs).zip(kept).zip(&self.spec.manifests)
            {
                manifest.verify().map_err(|e| format!("manifest of {}: {e}", input.key))?;
                // the owner's key, repaired along its own lineage by t+1 of its holders — not a
                // manifest the coordinator signed as a new "owner"
                if !manifest.supersedes(&old.body) {
                    return Err(format!("manifest of {} does not supersede the one being repaired", input.key));
                }
                let b = &manifest.body;
                let holders_match = b.holders.len() == n
                    && b.holders
                        .iter()
                        .enumerate()
                        .all(|(i, h)| h.peer == self.peers[i].to_bytes() && h.x == i as u64 + 1);
                if b.key != input.key || !holders_match || b.threshold != self.spec.threshold || b.meta != s.meta {
                    return Err(format!("manifest does not describe the refresh of {}", input.key));
                }
                if b.holders[self.me].commitment != s.commitment {
                    return Err(format!("manifest of {} does not carry this member's commitment", input.key));
                }
            }
            Ok(())
        })();
        if let Err(e) = check {
            return Box::pin(actix::fut::ready(Err(e)));
        }
        let kept = self.refreshed.take().expect("checked above");
        let custody = self.custody.clone();
        let fut = async move {
            let now = crate::now_ms();
            for (manifest, s) in m.manifests.into_iter().zip(kept) {
                let key = manifest.body.key;
                let replaced = custody
                    .send(custody::Replace { manifest, salt: s.salt, share: s.share, now_ms: now })
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?;
                if replaced {
                    tracing::info!(%key, "share refreshed");
                }
            }
            Ok(())
        };
        Box::pin(actix::fut::wrap_future(fut).map(|r, _act: &mut MpcSession, ctx: &mut Context<Self>| {
            ctx.stop();
            r
        }))
    }
}
