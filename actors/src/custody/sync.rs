//! Custody upkeep: the background duties of a holder.
//!
//! Owns: applying gossiped tombstones, asking co-holders for tombstones when they come up (so a node
//! that was offline during a delete drops its share when it returns), the recovery pass on start
//! (pending shares of stores that never committed are dropped after a grace period) and periodic
//! housekeeping, re-publishing held manifests to the DHT, and share repair: noticing holders that
//! have been down longer than the grace period and coordinating the repair of the keys where this
//! node is the first holder that is up (see [`super::repair`]), and dropping this node's own stale
//! shares when a co-holder shows a later manifest that replaced it. Must never: delete a share on a
//! tombstone whose signature is not the key owner's, or drop a share on a manifest that does not
//! verify.

use super::repair::{self, RepairDeps};
use super::{Custody, DropStale, GetRecord, Held, ShareState, Sweep};
use crate::network::{
    GossipMessage, Network, PeerEvent, Proto, PutRecord, SendRequest, SubscribeGossip, SubscribePeers,
};
use actix::prelude::*;
use enigma_protocol::wire::{self, DeleteKey, DhtRecord, Request, Response, Signed, TOMBSTONE_TOPIC};
use libp2p::PeerId;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// A pending share older than this belongs to a store that never committed.
pub const PENDING_GRACE: Duration = Duration::from_secs(10 * 60);
const HOUSEKEEPING: Duration = Duration::from_secs(60);

/// Share repair settings.
#[derive(Clone)]
pub struct RepairConfig {
    pub deps: RepairDeps,
    /// How long a holder may be unreachable before its keys are repaired (default 60 s).
    pub grace: Duration,
}

pub struct CustodySync {
    custody: Addr<Custody>,
    network: Addr<Network>,
    repair: Option<RepairConfig>,
    started: Instant,
    live: HashSet<PeerId>,
    down_since: HashMap<PeerId, Instant>,
    repairing: bool,
}

impl CustodySync {
    pub fn new(custody: Addr<Custody>, network: Addr<Network>, repair: Option<RepairConfig>) -> CustodySync {
        CustodySync {
            custody,
            network,
            repair,
            started: Instant::now(),
            live: HashSet::new(),
            down_since: HashMap::new(),
            repairing: false,
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
        let fut = async move {
            let Ok(Ok(held)) = custody.send(Held).await else { return };
            for rec in held.into_iter().filter(|r| r.state == ShareState::Committed) {
                let m = &rec.manifest;
                let holders: Vec<PeerId> =
                    m.body.holders.iter().filter_map(|h| PeerId::from_bytes(&h.peer).ok()).collect();
                if !holders.iter().any(&is_gone) {
                    continue;
                }
                // the coordinator: the first holder (in manifest order) that is up
                let coordinator =
                    m.body.holders.iter().find(|h| PeerId::from_bytes(&h.peer).is_ok_and(|p| live.contains(&p)));
                if coordinator.map(|h| h.peer.as_slice()) != Some(me.as_slice()) {
                    continue;
                }
                let key = m.body.key;
                match repair::repair(&cfg.deps, m, &live).await {
                    Ok(r) => tracing::info!(%key, epoch = r.body.epoch, n = r.body.holders.len(), "key repaired"),
                    Err(e) => tracing::warn!(%key, error = %e, "repair not done"),
                }
            }
        };
        ctx.spawn(actix::fut::wrap_future(fut).map(|_, act: &mut CustodySync, _| act.repairing = false));
    }

    fn sweep(&self) {
        let custody = self.custody.clone();
        actix::spawn(async move {
            let now = crate::now_ms();
            let before = now.saturating_sub(PENDING_GRACE.as_millis() as u64);
            match custody.send(Sweep { pending_before_ms: before, now_ms: now }).await {
                Ok(Ok((pending, nonces))) if pending + nonces > 0 => {
                    tracing::info!(pending, nonces, "custody sweep dropped stale records")
                }
                Ok(Err(e)) => tracing::error!(error = %e, "custody sweep failed"),
                _ => {}
            }
        });
    }
}

/// Applies a tombstone if it is signed by the owner of a key held here.
async fn apply_tombstone(custody: &Addr<Custody>, t: Signed<DeleteKey>) {
    if t.verify(t.auth.timestamp_ms).is_err() {
        return;
    }
    let key = t.body.key;
    match custody.send(GetRecord { key }).await {
        Ok(Ok(Some(rec))) if rec.manifest.body.owner == t.auth.signer => {
            if let Ok(Ok(true)) = custody.send(super::Delete { tombstone: t }).await {
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
        self.sweep();
        ctx.run_interval(HOUSEKEEPING, |act, _| act.sweep());
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
    fn handle(&mut self, ev: PeerEvent, _: &mut Context<Self>) {
        match ev {
            PeerEvent::Up(peer) => {
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
        let mine = held.iter().find(|r| r.manifest.body.key == *key).map(|r| r.manifest.body.epoch).unwrap_or(0);
        if theirs.body.key == *key
            && theirs.body.epoch > mine
            && theirs.verify().is_ok()
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
