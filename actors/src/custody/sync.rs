//! Custody upkeep: the background duties of a holder.
//!
//! Owns: applying gossiped tombstones, asking co-holders for tombstones when they come up (so a node
//! that was offline during a delete drops its share when it returns), the recovery pass on start
//! (pending shares of stores that never committed are dropped after a grace period) and periodic
//! housekeeping, and re-publishing held manifests to the DHT. Must never: delete a share on a
//! tombstone whose signature is not the key owner's.

use super::{Custody, GetRecord, Held, ShareState, Sweep};
use crate::network::{
    GossipMessage, Network, PeerEvent, Proto, PutRecord, SendRequest, SubscribeGossip, SubscribePeers,
};
use actix::prelude::*;
use enigma_protocol::wire::{self, DeleteKey, DhtRecord, Request, Response, Signed, TOMBSTONE_TOPIC};
use libp2p::PeerId;
use std::time::Duration;

/// A pending share older than this belongs to a store that never committed.
pub const PENDING_GRACE: Duration = Duration::from_secs(10 * 60);
const HOUSEKEEPING: Duration = Duration::from_secs(60);

pub struct CustodySync {
    custody: Addr<Custody>,
    network: Addr<Network>,
}

impl CustodySync {
    pub fn new(custody: Addr<Custody>, network: Addr<Network>) -> CustodySync {
        CustodySync { custody, network }
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
        let PeerEvent::Up(peer) = ev else { return };
        let custody = self.custody.clone();
        let network = self.network.clone();
        actix::spawn(async move { on_peer_up(custody, network, peer).await });
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
