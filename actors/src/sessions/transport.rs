//! The MPC transport over libp2p: the engine's `Transport` for one session.
//!
//! Owns: numbering the session's messages per sender (libp2p request-response does not keep order
//! between requests), reordering what arrives, and turning a failed send or an aborted session into
//! an error at the next `recv` — never a hang. Sends do not wait for the receiver (the engine sends a
//! whole round before receiving). Must never: interpret payloads (the engine validates them), or
//! accept a message as coming from a participant it did not come from (the Sessions actor checks the
//! sending peer before delivering).

use crate::network::{Network, Proto, SendRequest};
use actix::Addr;
use enigma_protocol::mpc::{MpcError, Transport};
use enigma_protocol::session::{MpcRequest, SessionId};
use enigma_protocol::wire::{self, Response};
use libp2p::PeerId;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::mpsc;

/// What arrives in a session's inbox.
#[derive(Debug)]
pub enum Incoming {
    Msg {
        from: usize,
        seq: u64,
        payload: Vec<u8>,
    },
    /// A send failed, a peer went down, or the session was aborted.
    Fail(String),
}

/// Most protocol messages a session holds that it has not consumed yet (in its inbox or waiting
/// for an earlier one). Honest participants are at most a round or two ahead: a round is one message
/// per peer.
pub const MAX_QUEUED_MESSAGES: usize = 4096;

/// Counts a session's queued messages, shared by the deliverer (adds) and the transport (removes).
#[derive(Clone, Debug, Default)]
pub struct InboxGauge(Arc<AtomicUsize>);

impl InboxGauge {
    /// Counts one more message; `false` (and nothing counted) when the session is full.
    pub fn try_add(&self) -> bool {
        self.0.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < MAX_QUEUED_MESSAGES).then_some(n + 1)).is_ok()
    }

    fn remove(&self) {
        let _ = self.0.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| Some(n.saturating_sub(1)));
    }
}

pub struct P2pTransport {
    session: SessionId,
    me: usize,
    peers: Arc<Vec<PeerId>>,
    network: Addr<Network>,
    inbox: mpsc::UnboundedReceiver<Incoming>,
    inbox_tx: mpsc::UnboundedSender<Incoming>,
    out_seq: Vec<u64>,
    in_seq: Vec<u64>,
    pending: Vec<BTreeMap<u64, Vec<u8>>>,
    failed: Option<String>,
    gauge: InboxGauge,
}

impl P2pTransport {
    /// A transport for participant `me` of `peers`; `inbox` receives what the Sessions actor delivers.
    pub fn new(
        session: SessionId,
        me: usize,
        peers: Arc<Vec<PeerId>>,
        network: Addr<Network>,
        inbox: mpsc::UnboundedReceiver<Incoming>,
        inbox_tx: mpsc::UnboundedSender<Incoming>,
        gauge: InboxGauge,
    ) -> P2pTransport {
        let n = peers.len();
        P2pTransport {
            session,
            me,
            peers,
            network,
            inbox,
            inbox_tx,
            out_seq: vec![0; n],
            in_seq: vec![0; n],
            pending: (0..n).map(|_| BTreeMap::new()).collect(),
            failed: None,
            gauge,
        }
    }

    fn failure(&self, why: &str) -> MpcError {
        MpcError::Transport(why.to_string())
    }
}

impl Transport for P2pTransport {
    fn me(&self) -> usize {
        self.me
    }

    fn parties(&self) -> usize {
        self.peers.len()
    }

    fn send(&mut self, to: usize, msg: Vec<u8>) -> impl Future<Output = Result<(), MpcError>> + Send {
        let result = (|| {
            if let Some(f) = &self.failed {
                return Err(self.failure(f));
            }
            let peer = *self.peers.get(to).ok_or_else(|| self.failure("no such participant"))?;
            let seq = self.out_seq[to];
            self.out_seq[to] += 1;
            let frame =
                wire::encode(&MpcRequest::Msg { session: self.session, from: self.me as u32, seq, payload: msg });
            let network = self.network.clone();
            let report = self.inbox_tx.clone();
            actix::spawn(async move {
                let outcome = network.send(SendRequest { proto: Proto::Mpc, peer, frame }).await;
                let err = match outcome {
                    Ok(Ok(resp)) => match wire::decode::<Response>(&resp) {
                        Ok(Response::Ack) => None,
                        Ok(Response::Error { message, .. }) => {
                            Some(format!("participant {to} refused a message: {message}"))
                        }
                        _ => Some(format!("participant {to} answered garbage")),
                    },
                    Ok(Err(e)) => Some(format!("cannot reach participant {to}: {e}")),
                    Err(e) => Some(format!("network actor: {e}")),
                };
                if let Some(e) = err {
                    let _ = report.send(Incoming::Fail(e));
                }
            });
            Ok(())
        })();
        std::future::ready(result)
    }

    async fn recv(&mut self, from: usize) -> Result<Vec<u8>, MpcError> {
        if from >= self.peers.len() {
            return Err(self.failure("no such participant"));
        }
        loop {
            let next = self.in_seq[from];
            if let Some(m) = self.pending[from].remove(&next) {
                self.in_seq[from] += 1;
                self.gauge.remove();
                return Ok(m);
            }
            if let Some(f) = &self.failed {
                return Err(self.failure(f));
            }
            match self.inbox.recv().await {
                Some(Incoming::Msg { from: f, seq, payload }) if f < self.peers.len() => {
                    // a replayed (already consumed) or duplicate sequence number is dropped
                    if seq < self.in_seq[f] || self.pending[f].insert(seq, payload).is_some() {
                        self.gauge.remove();
                    }
                }
                Some(Incoming::Msg { .. }) => self.gauge.remove(),
                Some(Incoming::Fail(why)) => self.failed = Some(why),
                None => self.failed = Some("session ended".into()),
            }
        }
    }
}
