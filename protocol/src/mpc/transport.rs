//! The transport the MPC protocols run over, and an in-memory implementation for tests and benches.
//!
//! Owns: the [`Transport`] trait (point-to-point, ordered, buffered byte messages between numbered
//! participants) and [`InMemoryTransport`]. Must never interpret payloads (the protocol code decodes
//! and validates them) and never reorder messages between one sender and one receiver.
//!
//! Contract for implementers (the node implements it over libp2p):
//! - `send` must not wait for the receiver to read: the protocols send all of a round's messages
//!   before receiving any, so a rendezvous (unbuffered) transport would deadlock.
//! - `recv(from)` returns the next message from `from`, in order; a peer that is gone is an error,
//!   never a hang (the node also wraps a whole run in a deadline).

use super::MpcError;
use std::future::Future;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// Point-to-point messaging between the participants of one computation.
pub trait Transport: Send {
    /// My participant index.
    fn me(&self) -> usize;
    /// Number of participants (committee first, then any extra dealers).
    fn parties(&self) -> usize;
    /// Queues `msg` for participant `to`; must not wait for `to` to receive it.
    fn send(&mut self, to: usize, msg: Vec<u8>) -> impl Future<Output = Result<(), MpcError>> + Send;
    /// The next message from participant `from`.
    fn recv(&mut self, from: usize) -> impl Future<Output = Result<Vec<u8>, MpcError>> + Send;
}

/// In-memory transport: one unbounded channel per ordered pair of participants.
pub struct InMemoryTransport {
    me: usize,
    parties: usize,
    tx: Vec<Option<UnboundedSender<Vec<u8>>>>,
    rx: Vec<Option<UnboundedReceiver<Vec<u8>>>>,
}

impl InMemoryTransport {
    /// A fully connected network of `parties` endpoints; element i is participant i's endpoint.
    pub fn network(parties: usize) -> Vec<InMemoryTransport> {
        let mut eps: Vec<InMemoryTransport> = (0..parties)
            .map(|me| InMemoryTransport {
                me,
                parties,
                tx: (0..parties).map(|_| None).collect(),
                rx: (0..parties).map(|_| None).collect(),
            })
            .collect();
        for from in 0..parties {
            for to in 0..parties {
                if from != to {
                    let (s, r) = unbounded_channel();
                    eps[from].tx[to] = Some(s);
                    eps[to].rx[from] = Some(r);
                }
            }
        }
        eps
    }

    /// Drops every channel of this endpoint (simulates a crashed peer).
    pub fn close(&mut self) {
        self.tx.iter_mut().for_each(|s| *s = None);
        self.rx.iter_mut().for_each(|r| *r = None);
    }
}

impl Transport for InMemoryTransport {
    fn me(&self) -> usize {
        self.me
    }
    fn parties(&self) -> usize {
        self.parties
    }
    fn send(&mut self, to: usize, msg: Vec<u8>) -> impl Future<Output = Result<(), MpcError>> + Send {
        let r = match self.tx.get(to).and_then(|s| s.as_ref()) {
            Some(s) => s.send(msg).map_err(|_| MpcError::Transport(format!("channel to party {to} is closed"))),
            None => Err(MpcError::Transport(format!("no channel to party {to}"))),
        };
        std::future::ready(r)
    }
    async fn recv(&mut self, from: usize) -> Result<Vec<u8>, MpcError> {
        match self.rx.get_mut(from).and_then(|r| r.as_mut()) {
            Some(r) => {
                r.recv().await.ok_or_else(|| MpcError::Transport(format!("channel from party {from} is closed")))
            }
            None => Err(MpcError::Transport(format!("no channel from party {from}"))),
        }
    }
}
