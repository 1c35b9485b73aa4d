//! The MPC transport over libp2p: the engine's `Transport` for one session, over session streams.
//!
//! Owns: one outbound stream per peer of the session (opened when the session starts, kept for its
//! whole run, fed by a writer task through a bounded queue), one inbound queue per peer (filled by a
//! reader task the Sessions actor starts when that peer's stream arrives), and turning a failed
//! stream or an aborted session into an error at the next `recv` — never a hang. Messages go from
//! the engine to the stream and from the stream to the engine with no actor in between; streams keep
//! order, so nothing is numbered or reordered. Sends do not wait for the receiver (the engine sends a
//! whole round before receiving): the queue to each peer holds [`SEND_QUEUE`] messages, far more
//! than the round or two an honest engine has in flight, and only a peer that stops reading for that
//! long makes `send` wait — until the stream's stall deadline fails it. Must never: interpret
//! payloads (the engine validates them), or take a message as coming from a participant it did not
//! come from (an inbound stream is bound to the participant whose authenticated peer id opened it).

use crate::network::streams::{FrameReader, StreamHub};
use enigma_protocol::mpc::{MpcError, Transport};
use enigma_protocol::session::SessionId;
use libp2p::PeerId;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Messages queued towards one peer before `send` waits.
pub const SEND_QUEUE: usize = 16;
/// Messages from one peer received but not yet consumed before its reader stops reading (the
/// stream's flow control then holds the sender back).
pub const RECV_QUEUE: usize = 16;

/// What a reader task hands the engine: a message, or why the stream failed.
pub type Received = Result<Vec<u8>, String>;

/// The receiving ends a session's Sessions entry keeps until each peer's stream arrives: taking one
/// binds it to that stream, so a second stream from the same peer finds nothing to feed.
pub struct Inboxes(pub Vec<Option<mpsc::Sender<Received>>>);

/// The failures channel of a session: aborts and failed writers report here.
pub type FailTx = mpsc::UnboundedSender<String>;

/// A fresh set of per-peer inboxes for `n` participants: (what Sessions keeps, what the transport reads).
pub fn inboxes(n: usize) -> (Inboxes, Vec<mpsc::Receiver<Received>>) {
    let (tx, rx): (Vec<_>, Vec<_>) = (0..n).map(|_| mpsc::channel(RECV_QUEUE)).unzip();
    (Inboxes(tx.into_iter().map(Some).collect()), rx)
}

/// Feeds the messages of one inbound stream to the session's inbox for its participant, until the
/// stream ends or the session drops the inbox.
pub async fn pump(mut reader: FrameReader<libp2p::Stream>, to: mpsc::Sender<Received>, from: usize) {
    if let Err(e) = reader.accept().await {
        let _ = to.send(Err(format!("stream from participant {from}: {e}"))).await;
        return;
    }
    loop {
        match reader.next().await {
            Ok(Some(m)) => {
                if to.send(Ok(m)).await.is_err() {
                    return; // session over
                }
            }
            Ok(None) => return, // the sender closed its stream: dropping `to` tells the engine
            Err(e) => {
                let _ = to.send(Err(format!("stream from participant {from}: {e}"))).await;
                return;
            }
        }
    }
}

pub struct P2pTransport {
    session: SessionId,
    me: usize,
    peers: Arc<Vec<PeerId>>,
    hub: StreamHub,
    out: Vec<Option<mpsc::Sender<Vec<u8>>>>,
    inbox: Vec<mpsc::Receiver<Received>>,
    fail_tx: FailTx,
    fail_rx: mpsc::UnboundedReceiver<String>,
    failed: Option<String>,
}

impl P2pTransport {
    /// A transport for participant `me` of `peers`; `inbox[j]` receives what participant j's stream
    /// carries, `fail_rx` why the session must stop.
    pub fn new(
        session: SessionId,
        me: usize,
        peers: Arc<Vec<PeerId>>,
        hub: StreamHub,
        inbox: Vec<mpsc::Receiver<Received>>,
        fail: (FailTx, mpsc::UnboundedReceiver<String>),
    ) -> P2pTransport {
        let n = peers.len();
        P2pTransport {
            session,
            me,
            peers,
            hub,
            out: (0..n).map(|_| None).collect(),
            inbox,
            fail_tx: fail.0,
            fail_rx: fail.1,
            failed: None,
        }
    }

    /// Opens the stream to every other participant now (each in its own task), so the first round
    /// does not wait for the openings one by one.
    pub fn open_all(&mut self) {
        for to in 0..self.peers.len() {
            if to != self.me {
                self.writer(to);
            }
        }
    }

    fn writer(&mut self, to: usize) -> &mpsc::Sender<Vec<u8>> {
        if self.out[to].is_none() {
            let (tx, mut rx) = mpsc::channel::<Vec<u8>>(SEND_QUEUE);
            let (hub, peer, tag, fail) = (self.hub.clone(), self.peers[to], self.session, self.fail_tx.clone());
            tokio::spawn(async move {
                // streams are opened to every participant up front, also to those this one never
                // sends to (a dealer that finished and left refuses): a failed open fails the
                // session only when a message is waiting for that stream
                let mut w = match hub.open(peer, tag).await {
                    Ok(w) => w,
                    Err(e) => {
                        if rx.recv().await.is_some() {
                            let _ = fail.send(format!("cannot reach participant {to}: {e}"));
                        }
                        return;
                    }
                };
                while let Some(msg) = rx.recv().await {
                    if let Err(e) = w.send(&msg).await {
                        let _ = fail.send(format!("stream to participant {to}: {e}"));
                        return;
                    }
                }
                w.close().await;
            });
            self.out[to] = Some(tx);
        }
        self.out[to].as_ref().expect("set above")
    }

    fn failure(&self, why: &str) -> MpcError {
        MpcError::Transport(why.to_string())
    }

    fn note_failures(&mut self) {
        if self.failed.is_none()
            && let Ok(f) = self.fail_rx.try_recv()
        {
            self.failed = Some(f);
        }
    }
}

impl Transport for P2pTransport {
    fn me(&self) -> usize {
        self.me
    }

    fn parties(&self) -> usize {
        self.peers.len()
    }

    async fn send(&mut self, to: usize, msg: Vec<u8>) -> Result<(), MpcError> {
        self.note_failures();
        if let Some(f) = &self.failed {
            return Err(self.failure(f));
        }
        if to >= self.peers.len() || to == self.me {
            return Err(self.failure("no such participant"));
        }
        let tx = self.writer(to).clone();
        // waits only when SEND_QUEUE messages to this peer are still unwritten
        tokio::select! {
            biased;
            r = tx.send(msg) => r.map_err(|_| self.failure(&format!("stream to participant {to} is gone"))),
            f = self.fail_rx.recv() => {
                let f = f.unwrap_or_else(|| "session ended".into());
                self.failed = Some(f.clone());
                Err(self.failure(&f))
            }
        }
    }

    async fn recv(&mut self, from: usize) -> Result<Vec<u8>, MpcError> {
        if from >= self.peers.len() || from == self.me {
            return Err(self.failure("no such participant"));
        }
        if let Some(f) = &self.failed {
            return Err(self.failure(f));
        }
        let inbox = &mut self.inbox[from];
        let fail_rx = &mut self.fail_rx;
        let got = tokio::select! {
            biased;
            m = inbox.recv() => Ok(m),
            f = fail_rx.recv() => Err(f.unwrap_or_else(|| "session ended".into())),
        };
        match got {
            Ok(Some(Ok(m))) => Ok(m),
            Ok(Some(Err(e))) => {
                self.failed = Some(e.clone());
                Err(self.failure(&e))
            }
            Ok(None) => {
                let e = format!("participant {from} closed its stream");
                self.failed = Some(e.clone());
                Err(self.failure(&e))
            }
            Err(f) => {
                self.failed = Some(f.clone());
                Err(self.failure(&f))
            }
        }
    }
}
