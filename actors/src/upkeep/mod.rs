//! Custody upkeep: the background duties of a holder (was `custody/sync.rs`; it drives Custody,
//! Network, the DHT and, for repair, Sessions, so it sits above them and `custody/` stays the LMDB
//! actor alone).
//!
//! Owns: applying gossiped tombstones, asking co-holders for tombstones when they come up (so a node
//! that was offline during a delete drops its share when it returns), the recovery pass on start and
//! every few seconds after it (see [`recover`]: a pending share is committed when a co-holder holds
//! the same manifest committed, and dropped when the store's commit deadline has passed and every
//! co-holder says it holds it uncommitted or not at all), housekeeping (expired nonces),
//! re-publishing held manifests to the DHT, keeping the connections to co-holders open
//! (`network::Pin`), and share repair: noticing holders that have been down
//! longer than the grace period and coordinating the repair of the keys where this node is the first
//! holder that is up (see [`repair`]), and dropping this node's own stale shares when a
//! co-holder shows a later manifest that replaced it. Must never: delete a share on a tombstone whose
//! signature is not the key owner's, drop a share on a manifest that does not verify, or drop a
//! pending share while a co-holder that might hold it committed cannot be asked; nor import the
//! router or the front, or be imported by anything but `system` (docs/decisions.md, Layering).

pub mod repair;

use crate::custody::{Custody, DropPending, DropStale, GetRecord, Held, RollForward, ShareState, Sweep};
use crate::network::{
    GossipMessage, Network, PeerEvent, Pin, Proto, PutRecord, SendRequest, SubscribeGossip, SubscribePeers,
};
use actix::prelude::*;
use enigma_protocol::manifest::Manifest;
use enigma_protocol::wire::{self, DeleteKey, DhtRecord, Request, Response, Signed, TOMBSTONE_TOPIC};
use libp2p::PeerId;
use repair::RepairDeps;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

const HOUSEKEEPING: Duration = Duration::from_secs(60);
/// How often the co-holders of the keys held here are pinned again (new keys, repaired groups).
const PIN_EVERY: Duration = Duration::from_secs(2);
/// How long the recovery pass waits for one co-holder's answer.
const RECOVERY_ASK: Duration = Duration::from_secs(5);

/// When a pending share may be dropped: the commit deadline plus a quarter of it, a margin for clock
/// differences between the owner (who stamps `created_ms`) and the holders.
pub fn drop_after(pending_grace: Duration) -> u64 {
    let g = pending_grace.as_millis() as u64;
    g + g / 4
}

/// Share repair settings.
#[derive(Clone)]
pub struct RepairConfig {
    pub deps: RepairDeps,
    /// How long a holder may be unreachable before its keys are repaired (default 60 s).
    pub grace: Duration,
    /// Proactive refresh: every key whose holders are all up gets a new polynomial this often (a
    /// share stolen before a refresh is useless with shares stolen after it). `None`: off.
    pub refresh_every: Option<Duration>,
}

pub struct CustodySync {
    custody: Addr<Custody>,
    network: Addr<Network>,
    local: PeerId,
    pending_grace: Duration,
    recovering: bool,
    repair: Option<RepairConfig>,
    started: Instant,
    live: HashSet<PeerId>,
    down_since: HashMap<PeerId, Instant>,
    repairing: bool,
    /// When this node (as coordinator) last refreshed each key.
    refreshed: HashMap<enigma_protocol::keys::DataKey, Instant>,
}

impl CustodySync {
    /// `pending_grace` must be the value the node's Custody actor was started with.
    pub fn new(
        custody: Addr<Custody>,
        network: Addr<Network>,
        local: PeerId,
        pending_grace: Duration,
        repair: Option<RepairConfig>,
    ) -> CustodySync {
        CustodySync {
            custody,
            network,
            local,
            pending_grace,
            recovering: false,
            repair,
            started: Instant::now(),
            live: HashSet::new(),
            down_since: HashMap::new(),
            repairing: false,
            refreshed: HashMap::new(),
        }
    }

    /// One repair scan: for every committed key with a holder gone longer than the grace period, where
    /// this node is the first holder that is up, run a repair; one key at a time.
    fn scan(&mut self, ctx: &mut Context<Self>) {
        let Some(cfg) = self.repair.clone() else { return };
        if self.repairing {
            return;
        }
        let mut live = self.live.clone();
        live.insert(cfg.deps.local);
        let (since, down, grace) = (self.started, self.down_since.clone(), cfg.grace);
        let up = live.clone();
        // gone: not up now, and down (or unseen since this node started) for longer than the grace
        let is_gone = move |p: &PeerId| !up.contains(p) && down.get(p).copied().unwrap_or(since).elapsed() >= grace;
        self.repairing = true;
        let custody = self.custody.clone();
        let me = cfg.deps.local.to_bytes();
        let started = self.started;
        let last_refresh = self.refreshed.clone();
        let fut = async move {
            let mut refreshed = Vec::new();
            let Ok(Ok(held)) = custody.send(Held).await else { return refreshed };
            for rec in held.into_iter().filter(|r| r.state == ShareState::Committed) {
                let m = &rec.manifest;
                let holders: Vec<PeerId> =
                    m.body.holders.iter().filter_map(|h| PeerId::from_bytes(&h.peer).ok()).collect();
                let key = m.body.key;
                let purpose = if holders.iter().any(&is_gone) {
                    repair::Purpose::Repair
                } else if let Some(every) = cfg.refresh_every
                    && holders.len() == m.body.holders.len()
                    && holders.iter().all(|p| live.contains(p))
                    && last_refresh.get(&key).copied().unwrap_or(started).elapsed() >= every
                {
                    repair::Purpose::Refresh
                } else {
                    continue;
                };
                // the coordinator: the first holder (in manifest order) that is up
                let coordinator =
                    m.body.holders.iter().find(|h| PeerId::from_bytes(&h.peer).is_ok_and(|p| live.contains(&p)));
                if coordinator.map(|h| h.peer.as_slice()) != Some(me.as_slice()) {
                    continue;
                }
                match repair::repair(&cfg.deps, m, purpose).await {
                    Ok(r) if purpose == repair::Purpose::Refresh => {
                        tracing::info!(%key, epoch = r.body.epoch, "key refreshed (new polynomial, same group)");
                        refreshed.push(key);
                    }
                    Ok(r) => {
                        crate::counters::bump(&crate::counters::COUNTERS.repairs_done);
                        tracing::info!(%key, epoch = r.body.epoch, n = r.body.holders.len(), "key repaired")
                    }
                    Err(e) => {
                        crate::counters::bump(&crate::counters::COUNTERS.repairs_failed);
                        tracing::warn!(%key, ?purpose, error = %e, "repair not done")
                    }
                }
            }
            refreshed
        };
        ctx.spawn(actix::fut::wrap_future(fut).map(|done: Vec<_>, act: &mut CustodySync, _| {
            act.repairing = false;
            let now = Instant::now();
            for key in done {
                act.refreshed.insert(key, now);
            }
            // forget keys no longer held here (deleted, or handed over), so the table stays bounded
            if act.refreshed.len() > 100_000 {
                act.refreshed.retain(|_, at| at.elapsed() < Duration::from_secs(24 * 3600));
            }
        }));
    }

    /// Keeps this node connected to the peers it holds keys with (`network::Pin`): their liveness
    /// is what repair goes by, so their connections must not idle out.
    fn pin_co_holders(&self) {
        let (custody, network, me) = (self.custody.clone(), self.network.clone(), self.local.to_bytes());
        actix::spawn(async move {
            let Ok(Ok(held)) = custody.send(Held).await else { return };
            let mut peers: HashSet<PeerId> = HashSet::new();
            for r in &held {
                peers.extend(
                    r.manifest
                        .body
                        .holders
                        .iter()
                        .filter(|h| h.peer != me)
                        .filter_map(|h| PeerId::from_bytes(&h.peer).ok()),
                );
            }
            network.do_send(Pin { owner: "custody", peers: peers.into_iter().collect() });
        });
    }

    fn sweep(&self) {
        let custody = self.custody.clone();
        actix::spawn(async move {
            match custody.send(Sweep { now_ms: crate::now_ms() }).await {
                Ok(Ok(nonces)) if nonces > 0 => tracing::debug!(nonces, "custody sweep dropped expired nonces"),
                Ok(Err(e)) => tracing::error!(error = %e, "custody sweep failed"),
                _ => {}
            }
        });
    }

    /// Runs the recovery pass unless one is running.
    fn recover(&mut self, ctx: &mut Context<Self>) {
        if self.recovering {
            return;
        }
        self.recovering = true;
        let fut = recover(self.custody.clone(), self.network.clone(), self.local, self.pending_grace);
        ctx.spawn(actix::fut::wrap_future(fut).map(|_, act: &mut CustodySync, _| act.recovering = false));
    }
}

/// What a co-holder says about a pending share's key.
enum CoHolder {
    /// It holds the very same manifest committed: the owner sent the commit.
    Committed,
    /// It holds no committed share under this manifest (none, a pending one, or another manifest).
    NotCommitted,
    /// No usable answer (down, timed out, an error): it might hold it committed.
    Unknown,
}

async fn ask_co_holder(network: &Addr<Network>, peer: PeerId, manifest: &Manifest) -> CoHolder {
    let frame = wire::encode(&Request::GetManifest { key: manifest.body.key });
    let sent = tokio::time::timeout(RECOVERY_ASK, network.send(SendRequest { proto: Proto::Custody, peer, frame }));
    match sent.await {
        Ok(Ok(Ok(reply))) => match wire::decode::<Response>(&reply) {
            Ok(Response::Manifest(Some(theirs))) if theirs == *manifest => CoHolder::Committed,
            Ok(Response::Manifest(_)) => CoHolder::NotCommitted,
            _ => CoHolder::Unknown,
        },
        _ => CoHolder::Unknown,
    }
}

/// The recovery pass: settles every pending share held here, one way or the other.
///
/// Write ordering makes this sound: the owner sends commits only after every holder kept its share
/// pending (durably), and only before the deadline; holders refuse a commit after the deadline. So a
/// committed share anywhere proves every holder has the same manifest pending or committed, and a
/// pending share is rolled forward as soon as one co-holder shows it committed. It is rolled back
/// (dropped) only after the deadline (plus a margin) and only when every co-holder answered that it
/// does not hold it committed — then no holder ever will, and none serves it. A co-holder that cannot
/// be asked keeps the share pending (never served) until it can. Returns (rolled forward, dropped).
pub async fn recover(
    custody: Addr<Custody>,
    network: Addr<Network>,
    local: PeerId,
    pending_grace: Duration,
) -> (usize, usize) {
    let Ok(Ok(held)) = custody.send(Held).await else { return (0, 0) };
    let me = local.to_bytes();
    let (mut forward, mut dropped) = (0, 0);
    for rec in held.into_iter().filter(|r| r.state == ShareState::Pending) {
        let m = rec.manifest;
        let key = m.body.key;
        let co: Vec<PeerId> =
            m.body.holders.iter().filter(|h| h.peer != me).filter_map(|h| PeerId::from_bytes(&h.peer).ok()).collect();
        let answers = futures::future::join_all(co.iter().map(|p| ask_co_holder(&network, *p, &m))).await;
        let proven = answers.iter().any(|a| matches!(a, CoHolder::Committed));
        let unknown = answers.iter().filter(|a| matches!(a, CoHolder::Unknown)).count();
        let now = crate::now_ms();
        if proven {
            match custody.send(RollForward { manifest: m.clone(), now_ms: now }).await {
                Ok(Ok(true)) => {
                    forward += 1;
                    tracing::info!(%key, "recovery: pending share committed (a co-holder holds it committed)");
                    network.do_send(PutRecord { key: key.0.to_vec(), value: wire::encode(&DhtRecord::Manifest(m)) });
                }
                Ok(Err(e)) => tracing::error!(%key, error = %e, "recovery: cannot commit a pending share"),
                _ => {}
            }
        } else if unknown == 0 && now > m.body.created_ms.saturating_add(drop_after(pending_grace)) {
            match custody.send(DropPending { manifest: m }).await {
                Ok(Ok(true)) => {
                    dropped += 1;
                    tracing::info!(%key, "recovery: pending share of a store that never committed dropped");
                }
                Ok(Err(e)) => tracing::error!(%key, error = %e, "recovery: cannot drop a pending share"),
                _ => {}
            }
        } else if unknown > 0 && now > m.body.created_ms.saturating_add(drop_after(pending_grace)) {
            tracing::debug!(%key, unknown, "recovery: pending share kept until every co-holder can be asked");
        }
    }
    (forward, dropped)
}

/// Applies a tombstone if it is signed by the owner of a key held here.
async fn apply_tombstone(custody: &Addr<Custody>, t: Signed<DeleteKey>) {
    if t.verify(t.auth.timestamp_ms).is_err() {
        return;
    }
    let key = t.body.key;
    match custody.send(GetRecord { key }).await {
        Ok(Ok(Some(rec))) if rec.manifest.body.owner == t.auth.signer => {
            if let Ok(Ok(true)) = custody.send(crate::custody::Delete { tombstone: t }).await {
                tracing::info!(%key, "share deleted by tombstone");
            }
        }
        _ => {}
    }
}

impl Actor for CustodySync {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.network
            .do_send(SubscribeGossip { topic: TOMBSTONE_TOPIC.to_string(), recipient: ctx.address().recipient() });
        self.network.do_send(SubscribePeers(ctx.address().recipient()));
        // the recovery pass on start, then every quarter of the commit deadline (at most a minute)
        self.sweep();
        self.recover(ctx);
        self.pin_co_holders();
        ctx.run_interval(PIN_EVERY, |act, _| act.pin_co_holders());
        ctx.run_interval(HOUSEKEEPING, |act, _| act.sweep());
        let every = (self.pending_grace / 4).clamp(Duration::from_millis(200), HOUSEKEEPING);
        ctx.run_interval(every, |act, ctx| act.recover(ctx));
        if let Some(cfg) = &self.repair {
            let every = (cfg.grace / 2).clamp(Duration::from_millis(500), Duration::from_secs(10));
            ctx.run_interval(every, |act, ctx| act.scan(ctx));
        }
    }
}

impl actix::Supervised for CustodySync {}

impl Handler<GossipMessage> for CustodySync {
    type Result = ();
    fn handle(&mut self, msg: GossipMessage, _: &mut Context<Self>) {
        if msg.topic != TOMBSTONE_TOPIC {
            return;
        }
        let Ok(t) = wire::decode::<Signed<DeleteKey>>(&msg.data) else {
            return;
        };
        let custody = self.custody.clone();
        actix::spawn(async move { apply_tombstone(&custody, t).await });
    }
}

impl Handler<PeerEvent> for CustodySync {
    type Result = ();
    fn handle(&mut self, ev: PeerEvent, ctx: &mut Context<Self>) {
        match ev {
            PeerEvent::Up(peer) => {
                // a co-holder that could not be asked may be back: settle pending shares now
                self.recover(ctx);
                self.live.insert(peer);
                self.down_since.remove(&peer);
                let custody = self.custody.clone();
                let network = self.network.clone();
                actix::spawn(async move { on_peer_up(custody, network, peer).await });
            }
            PeerEvent::Down(peer) => {
                self.live.remove(&peer);
                self.down_since.insert(peer, Instant::now());
            }
        }
    }
}

/// When a peer comes up: learn tombstones for keys we co-hold with it, and make sure our manifests
/// are findable in the DHT.
async fn on_peer_up(custody: Addr<Custody>, network: Addr<Network>, peer: PeerId) {
    let Ok(Ok(held)) = custody.send(Held).await else {
        return;
    };
    let peer_bytes = peer.to_bytes();
    let shared: Vec<_> =
        held.iter().filter(|r| r.manifest.holder(&peer_bytes).is_some()).map(|r| r.manifest.body.key).collect();
    for chunk in shared.chunks(1000) {
        let req = wire::encode(&Request::Tombstones { keys: chunk.to_vec() });
        let Ok(Ok(frame)) = network.send(SendRequest { proto: Proto::Custody, peer, frame: req }).await else {
            return;
        };
        if let Ok(Response::Tombstones(ts)) = wire::decode::<Response>(&frame) {
            for t in ts {
                apply_tombstone(&custody, t).await;
            }
        }
    }
    // a co-holder with a later, valid manifest: the key was refreshed without this node, so this share
    // (of the old polynomial) is stale whether or not the new group lists this node
    for key in &shared {
        let req = wire::encode(&Request::GetManifest { key: *key });
        let Ok(Ok(frame)) = network.send(SendRequest { proto: Proto::Custody, peer, frame: req }).await else {
            continue;
        };
        let Ok(Response::Manifest(Some(theirs))) = wire::decode::<Response>(&frame) else { continue };
        let Some(mine) = held.iter().find(|r| r.manifest.body.key == *key) else { continue };
        // only a repair of this very lineage, by t+1 of its holders (or the owner re-signing): a
        // manifest anyone else signed, or a repair of another lineage, never makes this node drop it
        if theirs.supersedes(&mine.manifest.body)
            && let Ok(Ok(true)) = custody.send(DropStale { key: *key, newer_epoch: theirs.body.epoch }).await
        {
            tracing::info!(%key, epoch = theirs.body.epoch, "stale share dropped: the key was repaired while this node was away");
        }
    }
    // re-read: tombstones just applied must not be re-published as live manifests
    let Ok(Ok(held)) = custody.send(Held).await else {
        return;
    };
    for r in held.into_iter().filter(|r| r.state == ShareState::Committed) {
        network.do_send(PutRecord {
            key: r.manifest.body.key.0.to_vec(),
            value: wire::encode(&DhtRecord::Manifest(r.manifest)),
        });
    }
}
