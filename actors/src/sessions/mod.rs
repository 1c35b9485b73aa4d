//! The Sessions actor: supervises one [`MpcSession`] per running computation at this node, and keeps
//! the requester side of the computations this node asked for.
//!
//! Owns: validating a session start (the requester's signature, freshness, replay, this node's place
//! in it, and — for every input this node holds — that the key's manifest matches and that the
//! requester may compute on it, on this node's own ledger), creating sessions, routing protocol
//! messages to them (checking the sender is the participant it claims to be), routing outcomes and
//! progress to waiting requesters, and aborting sessions whose participants go down. Must never: run
//! a session for a requester without compute access to the inputs it holds here.

pub mod limits;
pub mod session;
pub mod transport;

use crate::custody::{self, Custody};
use crate::ledger::Ledger;
use crate::network::streams::StreamHub;
use crate::network::{GetStreamHub, InboundStream, Network, PeerEvent, SetStreamInbound, SubscribePeers};
use actix::prelude::*;
use enigma_protocol::admission;
use enigma_protocol::field::Fp;
use enigma_protocol::identity::PubkeyBytes;
use enigma_protocol::keys::DataKey;
use enigma_protocol::manifest::ManifestBody;
use enigma_protocol::mpc::{Op, Security};
use enigma_protocol::policy::Level;
use enigma_protocol::session::RefreshStart;
use enigma_protocol::session::{InputSource, MpcRequest, SessionId, SessionOutcome, SessionStart, SessionTiming};
use enigma_protocol::wire::{AccessEntry, ErrorKind, MAX_CLOCK_SKEW_MS, Response, Signed};
use libp2p::PeerId;
use session::{Abort, Go, KeepRefreshed, KeepStored, MpcSession, Purpose};
use std::collections::HashMap;
use tokio::sync::mpsc;

/// The longest a session may be scheduled for.
pub const MAX_SESSION: std::time::Duration = std::time::Duration::from_secs(3600);
/// Sessions running at once at this node (back-pressure instead of unbounded work).
pub const MAX_SESSIONS: usize = 64;

/// What a waiting requester hears.
#[derive(Debug)]
pub enum RequesterEvent {
    Outcome { from: usize, outcome: SessionOutcome, timing: SessionTiming },
    Progress { done: u64, total: u64, stage: String },
    Failed(String),
}

struct Requester {
    participants: Vec<PeerId>,
    events: mpsc::UnboundedSender<RequesterEvent>,
}

/// A session this node is a member of.
struct Member {
    addr: Addr<MpcSession>,
    peers: Vec<PeerId>,
    /// Where each participant's stream is fed, until it arrives.
    inboxes: transport::Inboxes,
}

pub struct Sessions {
    local: PeerId,
    /// This node's MPC security mode: it joins only sessions in the same mode.
    security: Security,
    /// Opens session streams (from the Network actor, once it answers at start).
    hub: Option<StreamHub>,
    network: Addr<Network>,
    custody: Addr<Custody>,
    ledger: Addr<Ledger>,
    members: HashMap<SessionId, Member>,
    requesters: HashMap<SessionId, Requester>,
    /// Refresh sessions running here that hold new shares: (key, commitment of this node's new share).
    refresh_kept: HashMap<SessionId, Vec<(DataKey, [u8; 32])>>,
    /// Sessions that ended here lately: a message for one of them is a late message (honest peers
    /// send those in races), not a message for a session that never was (which honest peers don't).
    ended: HashMap<SessionId, std::time::Instant>,
}

/// How long an ended session is remembered, and how many at most.
const ENDED_MEMORY: std::time::Duration = std::time::Duration::from_secs(600);
const ENDED_MAX: usize = 16384;

impl Sessions {
    pub fn new(
        local: PeerId,
        security: Security,
        network: Addr<Network>,
        custody: Addr<Custody>,
        ledger: Addr<Ledger>,
    ) -> Sessions {
        Sessions {
            local,
            security,
            hub: None,
            network,
            custody,
            ledger,
            members: HashMap::new(),
            requesters: HashMap::new(),
            refresh_kept: HashMap::new(),
            ended: HashMap::new(),
        }
    }

    fn remember_ended(&mut self, session: SessionId) {
        let now = std::time::Instant::now();
        if self.ended.len() >= ENDED_MAX {
            self.ended.retain(|_, at| now.duration_since(*at) < ENDED_MEMORY);
            if self.ended.len() >= ENDED_MAX {
                self.ended.clear();
            }
        }
        self.ended.insert(session, now);
    }

    /// Keeps the connections to every participant of a running session open (`network::Pin`): a
    /// participant's connection closing means it went down, and aborts the session.
    fn pin(&self) {
        let mut peers: Vec<PeerId> = self.members.values().flat_map(|m| m.peers.iter().copied()).collect();
        peers.extend(self.requesters.values().flat_map(|r| r.participants.iter().copied()));
        self.network.do_send(crate::network::Pin { owner: "sessions", peers });
    }

    /// Why a start for `session` cannot be taken now, if it cannot.
    fn refuse_start(&self, session: &SessionId) -> Option<Response> {
        if self.members.contains_key(session) {
            return Some(err(ErrorKind::BadRequest, "session already exists"));
        }
        if self.members.len() >= MAX_SESSIONS {
            return Some(err(ErrorKind::Busy, "too many computations running on this node"));
        }
        None
    }

    /// Starts this node's member of an admitted session (checked again: another start of the same
    /// session may have been admitted meanwhile).
    #[allow(clippy::too_many_arguments)]
    fn join(
        &mut self,
        ctx: &mut Context<Self>,
        spec: SessionStart,
        purpose: Purpose,
        requester: PeerId,
        me: usize,
        peers: Vec<PeerId>,
        mine: Vec<Option<Vec<Fp>>>,
    ) -> Response {
        let session = spec.session;
        if self.members.contains_key(&session) {
            return err(ErrorKind::BadRequest, "session already exists");
        }
        let Some(hub) = self.hub.clone() else {
            return err(ErrorKind::Busy, "session streams are not ready yet");
        };
        let (inboxes, inbox_rx) = transport::inboxes(peers.len());
        let member = MpcSession::new(
            spec,
            purpose,
            requester,
            me,
            peers.clone(),
            mine,
            (hub, inbox_rx),
            self.network.clone(),
            self.custody.clone(),
            ctx.address(),
        );
        self.members.insert(session, Member { addr: member.start(), peers, inboxes });
        self.pin();
        crate::counters::bump(&crate::counters::COUNTERS.sessions_joined);
        Response::Ack
    }

    /// The answer to a message for a session this node does not run.
    fn no_session(&self, session: &SessionId) -> Response {
        if self.ended.contains_key(session) {
            err(ErrorKind::Stale, "session already ended")
        } else {
            err(ErrorKind::BadRequest, "unknown session")
        }
    }
}

impl Actor for Sessions {
    type Context = Context<Self>;
    fn started(&mut self, ctx: &mut Context<Self>) {
        self.network.do_send(SubscribePeers(ctx.address().recipient()));
        self.network.do_send(SetStreamInbound(ctx.address().recipient()));
        // nothing is handled before the hub is here: a join needs it
        ctx.wait(self.network.send(GetStreamHub).into_actor(self).map(|r, act, _| match r {
            Ok(hub) => act.hub = Some(hub),
            Err(e) => tracing::error!(error = %e, "no session streams: the network actor is gone"),
        }));
    }
}

fn err(kind: ErrorKind, msg: impl Into<String>) -> Response {
    Response::error(kind, msg)
}

/// The participants of a start, checked: parseable, distinct, a committee of ≥ 3 with t < n/2, a
/// deadline in the future and within [`MAX_SESSION`], and this node among them. Returns (peers, my
/// index). (The error is the response to send, as for every check here.)
#[allow(clippy::result_large_err)]
fn check_group(
    participants: &[Vec<u8>],
    committee: u32,
    threshold: u32,
    deadline_ms: u64,
    local: PeerId,
    now: u64,
) -> Result<(Vec<PeerId>, usize), Response> {
    let bad = |m: &str| err(ErrorKind::BadRequest, format!("bad session: {m}"));
    let peers: Vec<PeerId> =
        participants.iter().map(|b| PeerId::from_bytes(b)).collect::<Result<_, _>>().map_err(|_| bad("peer id"))?;
    let (n, t) = (committee as usize, threshold as usize);
    let mut distinct = peers.clone();
    distinct.sort();
    distinct.dedup();
    if distinct.len() != peers.len() || n < 3 || n > peers.len() || t == 0 || 2 * t >= n {
        return Err(bad("committee"));
    }
    if deadline_ms <= now || deadline_ms > now + MAX_SESSION.as_millis() as u64 {
        return Err(bad("deadline"));
    }
    let me = peers.iter().position(|p| *p == local).ok_or_else(|| bad("this node is not a participant"))?;
    Ok((peers, me))
}

/// This node's committed share of `key`.
async fn held_share(custody: &Addr<Custody>, key: DataKey) -> Result<custody::HeldShare, Response> {
    custody
        .send(custody::GetShare { key })
        .await
        .map_err(|e| err(ErrorKind::Internal, e.to_string()))?
        .map_err(|e| err(ErrorKind::Internal, e.to_string()))?
        .ok_or_else(|| err(ErrorKind::UnknownKey, format!("unknown key {key}")))
}

/// This node's own view of who is up around a key: its own lookup of the key, itself, and the key's
/// holders it is connected to (`groups::admission_view`).
async fn own_view(network: &Addr<Network>, local: PeerId, body: &ManifestBody) -> Result<Vec<Vec<u8>>, Response> {
    let holders: Vec<Vec<u8>> = body.holders.iter().map(|h| h.peer.clone()).collect();
    crate::groups::admission_view(network, local, body.key, &holders)
        .await
        .map_err(|e| err(ErrorKind::Internal, e.to_string()))
}

fn refusal(e: admission::AdmissionError) -> Response {
    match e {
        admission::AdmissionError::Denied(_) => err(ErrorKind::AccessDenied, e.to_string()),
        _ => err(ErrorKind::BadRequest, e.to_string()),
    }
}

/// Everything a start needs checked before a session exists (runs off the actor's state). Every
/// fact comes from this node itself: the signed manifests it verifies (and, for the inputs it holds,
/// compares with its own), its own view of who is up, and its own ledger — never from the requester's
/// say-so (`admission`). For the inputs it holds: the committee is the anchor's group as this node
/// sees it, with the inputs' largest threshold; the requester may compute on them, and the grant
/// covers the operation.
async fn admit(
    local: PeerId,
    security: Security,
    custody: Addr<Custody>,
    ledger: Addr<Ledger>,
    network: Addr<Network>,
    signed: Signed<SessionStart>,
) -> Result<(SessionStart, PubkeyBytes, PeerId, usize, Vec<PeerId>, Vec<Option<Vec<Fp>>>), Response> {
    let now = crate::now_ms();
    signed.verify(now).map_err(|e| err(ErrorKind::AccessDenied, e.to_string()))?;
    let fresh = custody
        .send(custody::CheckNonce {
            signer: signed.auth.signer.to_vec(),
            nonce: signed.auth.nonce,
            expires_ms: signed.auth.timestamp_ms + MAX_CLOCK_SKEW_MS,
        })
        .await
        .map_err(|e| err(ErrorKind::Internal, e.to_string()))?
        .map_err(|e| err(ErrorKind::Internal, e.to_string()))?;
    if !fresh {
        return Err(err(ErrorKind::Replay, "session start already seen"));
    }
    let requester_id = signed.auth.signer;
    let spec = signed.body;
    let bad = |m: &str| err(ErrorKind::BadRequest, format!("bad session start: {m}"));
    if spec.security != security {
        return Err(bad(&format!(
            "this node computes in {security} mode, the session asks for {} (every member of a committee runs the same mode)",
            spec.security
        )));
    }
    let requester = PeerId::from_bytes(&spec.requester).map_err(|_| bad("requester peer id"))?;
    let (peers, me) = check_group(&spec.participants, spec.committee, spec.threshold, spec.deadline_ms, local, now)?;
    let (n, t) = (spec.committee as usize, spec.threshold as usize);
    if spec.inputs.is_empty() || spec.inputs.len() > 64 || spec.manifests.len() != spec.inputs.len() {
        return Err(bad("inputs"));
    }
    for (input, m) in spec.inputs.iter().zip(&spec.manifests) {
        m.verify().map_err(|e| bad(&format!("input manifest: {e}")))?;
        if m.body.key != input.key || m.body.meta != input.meta {
            return Err(bad("an input does not match its manifest"));
        }
    }
    // a size this node does not take is refused before anything is joined (public shapes only)
    let metas: Vec<enigma_protocol::value::ValueMeta> = spec.inputs.iter().map(|i| i.meta.clone()).collect();
    limits::check_size(&spec.op, &metas).map_err(|e| err(ErrorKind::TooLarge, e))?;

    // the committee, its size and threshold, from the manifests and this node's own view
    let bodies: Vec<&ManifestBody> = spec.manifests.iter().map(|m| &m.body).collect();
    let basis = admission::classify(&requester_id, &bodies).map_err(refusal)?;
    let (anchor, want_n, want_t) = admission::committee_shape(&bodies).map_err(refusal)?;
    if n != want_n || t != want_t {
        return Err(bad(&format!(
            "the inputs call for a committee of {want_n} with threshold {want_t}, not {n} and {t}"
        )));
    }
    let view = own_view(&network, local, bodies[anchor]).await?;
    admission::check_group(bodies[anchor], &spec.participants[..n], &view, admission::COMMITTEE_SLACK)
        .map_err(refusal)?;
    for (input, m) in spec.inputs.iter().zip(&spec.manifests) {
        match &input.source {
            InputSource::Direct => {
                let same_group = m.body.holders.len() == n
                    && m.body.threshold as usize == t
                    && m.body
                        .holders
                        .iter()
                        .enumerate()
                        .all(|(i, h)| h.peer == peers[i].to_bytes() && h.x == i as u64 + 1);
                if !same_group {
                    return Err(bad("a direct input must be held by exactly the committee"));
                }
            }
            InputSource::Reshare { dealers } => {
                let min = admission::min_dealers(&m.body, security);
                admission::check_dealers(&m.body, dealers, &spec.participants, min).map_err(refusal)?;
            }
        }
    }

    let inputs_meta: Vec<(DataKey, &enigma_protocol::value::ValueMeta)> =
        bodies.iter().map(|b| (b.key, &b.meta)).collect();
    let mut mine = Vec::with_capacity(spec.inputs.len());
    for (input, carried) in spec.inputs.iter().zip(&spec.manifests) {
        let my_x = match &input.source {
            InputSource::Direct => (me < n).then_some(me as u64 + 1),
            InputSource::Reshare { dealers } => dealers.iter().find(|(p, _)| *p as usize == me).map(|(_, x)| *x),
        };
        let Some(x) = my_x else {
            mine.push(None);
            continue;
        };
        let key = input.key;
        let held = held_share(&custody, key).await?;
        let m = &held.record.manifest;
        let my_holder = m.holder(&local.to_bytes()).ok_or_else(|| bad("this node does not hold the key"))?;
        if my_holder.x != x || m.body != carried.body {
            return Err(bad(&format!(
                "input {key} does not match the manifest held here (epoch {} here, {} in the start)",
                m.body.epoch, carried.body.epoch
            )));
        }
        let allowed = match &basis {
            admission::Basis::Own => {
                m.body.derived_from.is_empty()
                    || ledger
                        .send(crate::ledger::MayUse {
                            body: m.body.clone(),
                            requester: requester_id,
                            level: Level::Compute,
                        })
                        .await
                        .map_err(|e| err(ErrorKind::Internal, e.to_string()))?
            }
            admission::Basis::Grant { owner } => {
                let terms = ledger
                    .send(crate::ledger::Terms { owner: *owner, requester: requester_id, key })
                    .await
                    .map_err(|e| err(ErrorKind::Internal, e.to_string()))?;
                match terms {
                    Some((level, min_count)) => {
                        admission::grant_covers(level, min_count, &spec.op, &inputs_meta, spec.store).map_err(|e| {
                            tracing::info!(%key, reason = %e, "session refused: the grant does not cover it");
                            refusal(e)
                        })?;
                        true
                    }
                    None => false,
                }
            }
        };
        if !allowed {
            tracing::info!(%key, "session refused: no compute access for the requester");
            return Err(err(ErrorKind::AccessDenied, format!("access denied to key {key}")));
        }
        let mut request = [0u8; 16];
        request.copy_from_slice(&spec.session);
        let entry = AccessEntry { requester: requester_id, action: "compute".into(), timestamp_ms: now, request };
        if let Ok(Err(e)) = custody.send(custody::RecordAccess { key, entry }).await {
            tracing::warn!(%key, error = %e, "cannot record an access");
        }
        mine.push(Some(held.share));
    }
    Ok((spec, requester_id, requester, me, peers, mine))
}

/// Checks a share-repair start from `coordinator`: this node's place, and — where it deals — that the
/// key's manifest here is the epoch being repaired, that the coordinator is one of its holders, and
/// that the new group is the old one as this node sees it: the same size and threshold, every holder
/// this node sees up in its own seat, and each replacement among the best-ranked live non-holders in
/// this node's own view (`admission::check_group`, [`admission::REPAIR_SLACK`]).
async fn admit_refresh(
    local: PeerId,
    security: Security,
    coordinator: PeerId,
    custody: Addr<Custody>,
    network: Addr<Network>,
    start: RefreshStart,
) -> Result<(SessionStart, usize, Vec<PeerId>, Vec<Option<Vec<Fp>>>), Response> {
    let now = crate::now_ms();
    let bad = |m: &str| err(ErrorKind::BadRequest, format!("bad refresh: {m}"));
    let (peers, me) =
        check_group(&start.participants, start.committee, start.threshold, start.deadline_ms, local, now)?;
    let n = start.committee as usize;
    if n != peers.len() {
        return Err(bad("every participant of a refresh is in the new group"));
    }
    if start.inputs.is_empty() || start.inputs.len() > 1024 || start.manifests.len() != start.inputs.len() {
        return Err(bad("inputs"));
    }
    let mut mine = Vec::with_capacity(start.inputs.len());
    for ((input, epoch), carried) in start.inputs.iter().zip(&start.manifests) {
        let InputSource::Reshare { dealers } = &input.source else { return Err(bad("a refresh reshares every input")) };
        // every member, replacements included, checks the manifest being repaired: it verifies, it is
        // this input's, and the dealers are t+1 or more distinct holders of it at their own x (the
        // more, the more of them the resharing's check can catch lying; `mpc::reshare`)
        carried.verify().map_err(|e| bad(&format!("manifest being repaired: {e}")))?;
        let cb = &carried.body;
        if cb.key != input.key || cb.meta != input.meta || cb.epoch != *epoch {
            return Err(bad("an input does not match the manifest being repaired"));
        }
        if cb.holders.len() != n || start.threshold != cb.threshold {
            return Err(bad("a repair keeps the key's group size and threshold"));
        }
        if carried.holder(&coordinator.to_bytes()).is_none() {
            return Err(err(ErrorKind::AccessDenied, "only a holder coordinates a repair"));
        }
        admission::check_dealers(cb, dealers, &start.participants, cb.threshold as usize + 1).map_err(refusal)?;
        let my_x = dealers.iter().find(|(p, _)| *p as usize == me).map(|(_, x)| *x);
        let key = input.key;
        // a holder checks the new group whether or not it deals; a node that does not hold the key
        // (a replacement) has nothing of it to protect
        let held = match my_x {
            Some(_) => held_share(&custody, key).await?,
            None => match custody.send(custody::GetShare { key }).await {
                Ok(Ok(Some(h))) => h,
                _ => {
                    mine.push(None);
                    continue;
                }
            },
        };
        let m = &held.record.manifest;
        let x_here = m.holder(&local.to_bytes()).map(|h| h.x);
        if m.body != carried.body || (my_x.is_some() && x_here != my_x) {
            return Err(bad("input does not match the key's manifest here"));
        }
        if m.holder(&coordinator.to_bytes()).is_none() {
            return Err(err(ErrorKind::AccessDenied, "only a holder coordinates a repair"));
        }
        if start.threshold != m.body.threshold {
            return Err(bad("a repair keeps the key's threshold"));
        }
        let view = own_view(&network, local, &m.body).await?;
        admission::check_group(&m.body, &start.participants, &view, admission::REPAIR_SLACK).map_err(|e| {
            tracing::info!(%key, %coordinator, reason = %e, "refresh refused");
            refusal(e)
        })?;
        mine.push(my_x.map(|_| held.share));
    }
    let spec = SessionStart {
        session: start.session,
        // a refresh runs no op: the session only reshares its inputs (see `Purpose::Refresh`)
        op: Op::Mean,
        inputs: start.inputs.into_iter().map(|(i, _)| i).collect(),
        // the manifests being repaired: the refreshed shares are kept only under manifests that
        // supersede them (`KeepRefreshed`)
        manifests: start.manifests,
        participants: start.participants,
        committee: start.committee,
        threshold: start.threshold,
        requester: coordinator.to_bytes(),
        store: false,
        deadline_ms: start.deadline_ms,
        // a refresh runs in this node's own mode (its dealers' check, `mpc::reshare`)
        security,
    };
    Ok((spec, me, peers, mine))
}

/// An MPC frame from a peer (decoded by the router).
#[derive(Message)]
#[rtype(result = "Response")]
pub struct Inbound {
    pub peer: PeerId,
    pub req: MpcRequest,
}

impl Handler<Inbound> for Sessions {
    type Result = ResponseActFuture<Self, Response>;

    fn handle(&mut self, m: Inbound, _: &mut Context<Self>) -> Self::Result {
        let ready = |r: Response| -> Self::Result { Box::pin(actix::fut::ready(r)) };
        match m.req {
            MpcRequest::Start(signed) => {
                if let Some(refusal) = self.refuse_start(&signed.body.session) {
                    return ready(refusal);
                }
                let fut = admit(
                    self.local,
                    self.security,
                    self.custody.clone(),
                    self.ledger.clone(),
                    self.network.clone(),
                    signed,
                );
                Box::pin(actix::fut::wrap_future(fut).map(
                    |r, act: &mut Sessions, ctx: &mut Context<Sessions>| match r {
                        Ok((spec, requester_id, requester, me, peers, mine)) => {
                            act.join(ctx, spec, Purpose::Compute { requester_id }, requester, me, peers, mine)
                        }
                        Err(resp) => resp,
                    },
                ))
            }
            MpcRequest::Refresh(start) => {
                if let Some(refusal) = self.refuse_start(&start.session) {
                    return ready(refusal);
                }
                let fut =
                    admit_refresh(self.local, self.security, m.peer, self.custody.clone(), self.network.clone(), start);
                let coordinator = m.peer;
                Box::pin(actix::fut::wrap_future(fut).map(move |r, act: &mut Sessions, ctx: &mut Context<Sessions>| {
                    match r {
                        Ok((spec, me, peers, mine)) => {
                            act.join(ctx, spec, Purpose::Refresh, coordinator, me, peers, mine)
                        }
                        Err(resp) => resp,
                    }
                }))
            }
            MpcRequest::KeepRefreshed { session, manifests } => match self.members.get(&session) {
                Some(member) => {
                    let s = member.addr.clone();
                    let fut = async move {
                        match s.send(KeepRefreshed { peer: m.peer, manifests }).await {
                            Ok(Ok(())) => Response::Ack,
                            Ok(Err(e)) => err(ErrorKind::BadRequest, e),
                            Err(_) => err(ErrorKind::Stale, "session already ended"),
                        }
                    };
                    Box::pin(actix::fut::wrap_future(fut))
                }
                None => ready(self.no_session(&session)),
            },
            MpcRequest::Go { session } => match self.members.get(&session) {
                Some(member) => {
                    member.addr.do_send(Go);
                    ready(Response::Ack)
                }
                None => ready(self.no_session(&session)),
            },
            // protocol messages travel on session streams (`network::streams`), never as requests
            MpcRequest::Msg { .. } => {
                ready(err(ErrorKind::BadRequest, "MPC messages travel on session streams (/enigma/mpc-stream/1)"))
            }
            MpcRequest::Output { session, from, outcome, timing } => {
                let Some(r) = self.requesters.get(&session) else {
                    return ready(self.no_session(&session));
                };
                if r.participants.get(from as usize) != Some(&m.peer) {
                    return ready(err(ErrorKind::BadRequest, "outcome from a non-participant"));
                }
                let _ = r.events.send(RequesterEvent::Outcome { from: from as usize, outcome, timing });
                ready(Response::Ack)
            }
            MpcRequest::Progress { session, done, total, stage } => {
                if let Some(r) = self.requesters.get(&session)
                    && r.participants.contains(&m.peer)
                {
                    let _ = r.events.send(RequesterEvent::Progress { done, total, stage });
                }
                ready(Response::Ack)
            }
            MpcRequest::Store(signed) => {
                let Some(member) = self.members.get(&signed.body.session) else {
                    return ready(self.no_session(&signed.body.session));
                };
                let s = member.addr.clone();
                if let Err(e) = signed.verify(crate::now_ms()) {
                    return ready(err(ErrorKind::AccessDenied, e.to_string()));
                }
                let fut = async move {
                    match s.send(KeepStored { signer: signed.auth.signer, manifest: signed.body.manifest }).await {
                        Ok(Ok(())) => Response::Ack,
                        Ok(Err(e)) => err(ErrorKind::BadRequest, e),
                        Err(_) => err(ErrorKind::BadRequest, "session finished"),
                    }
                };
                Box::pin(actix::fut::wrap_future(fut))
            }
            MpcRequest::Abort { session, reason } => {
                if let Some(member) = self.members.get(&session)
                    && member.peers.contains(&m.peer)
                {
                    member.addr.do_send(Abort(reason.clone()));
                }
                if let Some(r) = self.requesters.get(&session)
                    && r.participants.contains(&m.peer)
                {
                    let _ = r.events.send(RequesterEvent::Failed(reason));
                }
                ready(Response::Ack)
            }
        }
    }
}

/// A member session ended.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SessionEnded {
    pub session: SessionId,
}

impl Handler<SessionEnded> for Sessions {
    type Result = ();
    fn handle(&mut self, m: SessionEnded, _: &mut Context<Self>) {
        self.members.remove(&m.session);
        self.pin();
        self.refresh_kept.remove(&m.session);
        self.remember_ended(m.session);
    }
}

/// A refresh session here keeps new shares (until its coordinator confirms them or it ends).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RefreshKept {
    pub session: SessionId,
    pub kept: Vec<(DataKey, [u8; 32])>,
}

impl Handler<RefreshKept> for Sessions {
    type Result = ();
    fn handle(&mut self, m: RefreshKept, _: &mut Context<Self>) {
        if self.members.contains_key(&m.session) {
            self.refresh_kept.insert(m.session, m.kept);
        }
    }
}

/// Does a refresh session running here hold a new share of `key` with this commitment? (A holder
/// endorses a repaired manifest only then: a body no refresh produced, or one that does not carry
/// this node's own new share, is never endorsed — so nobody can get a "repair" endorsed that makes
/// the holders drop their shares.)
#[derive(Message)]
#[rtype(result = "bool")]
pub struct RefreshedHere {
    pub key: DataKey,
    pub commitment: [u8; 32],
}

impl Handler<RefreshedHere> for Sessions {
    type Result = bool;
    fn handle(&mut self, m: RefreshedHere, _: &mut Context<Self>) -> bool {
        self.refresh_kept.values().flatten().any(|(k, c)| *k == m.key && *c == m.commitment)
    }
}

/// This node is the requester of a session: route its outcomes and progress to `events`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RegisterRequester {
    pub session: SessionId,
    pub participants: Vec<PeerId>,
    pub events: mpsc::UnboundedSender<RequesterEvent>,
}

impl Handler<RegisterRequester> for Sessions {
    type Result = ();
    fn handle(&mut self, m: RegisterRequester, _: &mut Context<Self>) {
        self.requesters.insert(m.session, Requester { participants: m.participants, events: m.events });
        self.pin();
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct UnregisterRequester {
    pub session: SessionId,
}

impl Handler<UnregisterRequester> for Sessions {
    type Result = ();
    fn handle(&mut self, m: UnregisterRequester, _: &mut Context<Self>) {
        self.requesters.remove(&m.session);
        self.pin();
        self.remember_ended(m.session);
    }
}

impl Handler<PeerEvent> for Sessions {
    type Result = ();
    fn handle(&mut self, ev: PeerEvent, _: &mut Context<Self>) {
        let PeerEvent::Down(peer) = ev else { return };
        for member in self.members.values() {
            if member.peers.contains(&peer) {
                member.addr.do_send(Abort(format!("participant {peer} went down")));
            }
        }
        for r in self.requesters.values() {
            if r.participants.contains(&peer) {
                let _ = r.events.send(RequesterEvent::Failed(format!("committee member {peer} went down")));
            }
        }
    }
}

/// A peer opened a session stream: bind it to the participant that peer is in the session the tag
/// names, once, and feed it to that participant's inbox (no actor sees its messages). A stream for a
/// session not running here, from a non-participant, or a second one from the same participant is
/// refused (its opener fails its session with the refusal; it does not try again).
impl Handler<InboundStream> for Sessions {
    type Result = ();
    fn handle(&mut self, m: InboundStream, _: &mut Context<Self>) {
        let bound = match self.members.get_mut(&m.tag) {
            None => Err("a session not running here"),
            Some(member) => match member.peers.iter().position(|p| *p == m.peer) {
                None => Err("a non-participant"),
                Some(from) => match member.inboxes.0.get_mut(from).and_then(Option::take) {
                    None => Err("a participant whose stream is already bound"),
                    Some(to) => Ok((from, to)),
                },
            },
        };
        match bound {
            Ok((from, to)) => {
                tokio::spawn(transport::pump(m.reader, to, from));
            }
            Err(why) => {
                tracing::debug!(peer = %m.peer, "session stream refused: {why}");
                tokio::spawn(m.reader.refuse());
            }
        }
    }
}
