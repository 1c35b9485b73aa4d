//! The Network actor: the node's one door to the libp2p network.
//!
//! Owns: the command channel into the swarm driver, the table of live Enigma peers, and delivery of
//! inbound requests to whoever installed an [`InboundRequest`] recipient with [`SetInbound`] (the
//! router, in a running node), including requests addressed to this node itself, so workflows never
//! special-case "the holder is me". Must never: decide anything about data or access — it moves
//! frames; the router and the other actors decide — nor import the actors above it (router, front,
//! sessions, upkeep): what flows up is a message type, never a component handle.
//!
//! Inbound requests go up as a `Recipient<InboundRequest>`, the shape this module already uses for
//! [`PeerEvent`] and [`GossipMessage`], rather than an `mpsc::Sender` passed in [`NetConfig`]: the
//! reply comes back typed through actix (no oneshot plumbing, no draining task to supervise), and
//! the handler's arbiter runs requests concurrently. The cost is the window the channel would have
//! closed: a request that arrives before the recipient is installed is dropped (as before), and a
//! self-addressed one fails with [`NetError::Stopped`].
//!
//! MPC session messages do not travel as requests: they go over session streams ([`streams`]), one
//! long-lived stream per session and ordered peer pair. This actor accepts inbound streams, reads
//! their header off its own thread, and hands each one up once as an [`InboundStream`] to the
//! recipient installed with [`SetStreamInbound`] (the Sessions actor); [`GetStreamHub`] gives the
//! handle that opens streams. After that no message passes through an actor.

mod behaviour;
mod codec;
mod driver;
pub mod guard;
mod keep;
pub mod streams;
pub mod wan;

pub use behaviour::{CUSTODY_PROTOCOL, MPC_PROTOCOL, PROTOCOL_VERSION};

use actix::prelude::*;
use behaviour::{Behaviour, BehaviourConfig};
use driver::{Command, Driver};
use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Which request-response protocol a frame travels on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto {
    Custody,
    Mpc,
}

/// Network failures, as seen by callers.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum NetError {
    #[error("peer did not answer in time")]
    Timeout,
    #[error("peer {0} is unreachable")]
    Unreachable(String),
    #[error("request failed: {0}")]
    Failed(String),
    #[error("the network layer is shutting down")]
    Stopped,
    #[error("cannot start networking: {0}")]
    Setup(String),
}

/// What the driver reports.
#[derive(Debug)]
pub enum NetEvent {
    Listening(Multiaddr),
    PeerUp {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
    },
    PeerDown(PeerId),
    Inbound {
        proto: Proto,
        peer: PeerId,
        id: u64,
        frame: Vec<u8>,
    },
    Gossip {
        topic: String,
        source: Option<PeerId>,
        data: Vec<u8>,
    },
    /// The guard cut a peer off.
    Banned {
        peer: PeerId,
        why: String,
    },
    Unbanned(PeerId),
}

/// How long a connection no protocol uses stays open, unless its peer is pinned ([`Pin`]): a node
/// keeps its Kademlia neighbours, gossip mesh, running sessions and the peers it holds keys with,
/// not every node it ever looked up.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Network settings.
#[derive(Clone, Debug)]
pub struct NetConfig {
    pub listen: Multiaddr,
    pub seed: Option<Multiaddr>,
    pub max_frame: usize,
    pub request_timeout: Duration,
    pub guard: guard::GuardConfig,
    /// Limits of session streams.
    pub streams: streams::StreamLimits,
    /// Emulate a wide-area link on every connection (benches and tests only; `wan.rs`).
    pub wan: Option<wan::WanProfile>,
}

/// A peer changed state (for actors that care: custody sync, sessions).
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub enum PeerEvent {
    Up(PeerId),
    Down(PeerId),
}

/// An inbound request (from a peer, or from this node itself), for the actor that answers them.
#[derive(Message, Debug)]
#[rtype(result = "Answer")]
pub struct InboundRequest {
    pub proto: Proto,
    pub peer: PeerId,
    pub frame: Vec<u8>,
}

/// The answer to an [`InboundRequest`]: the response frame, and what the request did wrong if
/// honest peers never send such a thing (the guard counts it against the peer).
#[derive(Debug)]
pub struct Answer {
    pub frame: Vec<u8>,
    pub offence: Option<guard::Offence>,
}

/// A gossip message on a topic someone subscribed to.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct GossipMessage {
    pub topic: String,
    pub source: Option<PeerId>,
    pub data: Vec<u8>,
}

pub struct Network {
    local: PeerId,
    commands: mpsc::Sender<Command>,
    events: Option<mpsc::UnboundedReceiver<NetEvent>>,
    peers: BTreeMap<PeerId, Vec<Multiaddr>>,
    listen: Vec<Multiaddr>,
    inbound: Option<Recipient<InboundRequest>>,
    peer_subscribers: Vec<Recipient<PeerEvent>>,
    gossip_subscribers: Vec<(String, Recipient<GossipMessage>)>,
    banned: BTreeMap<PeerId, String>,
    hub: streams::StreamHub,
    incoming: Option<libp2p_stream::IncomingStreams>,
    stream_inbound: Option<Recipient<InboundStream>>,
    /// Pinned peers, by who pinned them ([`Pin`]).
    pins: BTreeMap<&'static str, std::collections::BTreeSet<PeerId>>,
}

impl Network {
    /// Starts the swarm driver and the Network actor on a dedicated arbiter (thread).
    pub async fn start(key: Keypair, cfg: NetConfig) -> Result<Addr<Network>, NetError> {
        let local = key.public().to_peer_id();
        let (cmd_tx, cmd_rx) = mpsc::channel(1024);
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let arbiter = Arbiter::new();
        let bcfg = BehaviourConfig { max_frame: cfg.max_frame, request_timeout: cfg.request_timeout };
        let wan = cfg.wan;
        let listen = cfg.listen.clone();
        let seed = cfg.seed.clone();
        let guard = guard::PeerGuard::new(cfg.guard.clone());
        arbiter.spawn(async move {
            let swarm = match build_swarm(key, &bcfg, listen, wan) {
                Ok(s) => s,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let mut control = swarm.behaviour().stream.new_control();
            let incoming = match control.accept(streams::MPC_STREAM_PROTOCOL) {
                Ok(i) => i,
                Err(e) => {
                    let _ = ready_tx.send(Err(NetError::Setup(e.to_string())));
                    return;
                }
            };
            let _ = ready_tx.send(Ok((control, incoming)));
            Driver::new(swarm, cmd_rx, ev_tx, seed, guard).run().await;
        });
        let (control, incoming) = ready_rx.await.map_err(|_| NetError::Stopped)??;
        let actor = Network {
            local,
            commands: cmd_tx,
            events: Some(ev_rx),
            peers: BTreeMap::new(),
            listen: Vec::new(),
            inbound: None,
            peer_subscribers: Vec::new(),
            gossip_subscribers: Vec::new(),
            banned: BTreeMap::new(),
            hub: streams::StreamHub::new(control, cfg.streams),
            incoming: Some(incoming),
            stream_inbound: None,
            pins: BTreeMap::new(),
        };
        Ok(Network::start_in_arbiter(&arbiter.handle(), |_| actor))
    }

    fn send_command(&self, cmd: Command) {
        if self.commands.try_send(cmd).is_err() {
            tracing::warn!("swarm command queue full or closed; command dropped");
        }
    }
}

fn build_swarm(
    key: Keypair,
    cfg: &BehaviourConfig,
    listen: Multiaddr,
    wan: Option<wan::WanProfile>,
) -> Result<libp2p::Swarm<Behaviour>, NetError> {
    let setup = |e: String| NetError::Setup(e);
    let tcp = libp2p::tcp::Config::default().nodelay(true);
    let builder = libp2p::SwarmBuilder::with_existing_identity(key).with_tokio();
    let behaviour = |key: &Keypair| Behaviour::new(key, cfg).map_err(Box::<dyn std::error::Error + Send + Sync>::from);
    let idle = |c: libp2p::swarm::Config| c.with_idle_connection_timeout(IDLE_TIMEOUT);
    let mut swarm = match wan {
        None => builder
            .with_tcp(tcp, libp2p::noise::Config::new, libp2p::yamux::Config::default)
            .map_err(|e| setup(e.to_string()))?
            .with_behaviour(behaviour)
            .map_err(|e| setup(e.to_string()))?
            .with_swarm_config(idle)
            .build(),
        Some(profile) => {
            tracing::warn!(rtt = ?profile.rtt, mbit = ?profile.mbit, "emulating a wide-area link on every connection");
            builder
                .with_other_transport(|key| {
                    use libp2p::Transport;
                    let noise = libp2p::noise::Config::new(key)?;
                    Ok(libp2p::tcp::tokio::Transport::new(tcp)
                        .map(move |io, _| wan::Delayed::new(io, profile))
                        .upgrade(libp2p::core::upgrade::Version::V1)
                        .authenticate(noise)
                        .multiplex(libp2p::yamux::Config::default())
                        .boxed())
                })
                .map_err(|e| setup(e.to_string()))?
                .with_behaviour(behaviour)
                .map_err(|e| setup(e.to_string()))?
                .with_swarm_config(idle)
                .build()
        }
    };
    swarm.listen_on(listen.clone()).map_err(|e| setup(format!("cannot listen on {listen}: {e}")))?;
    Ok(swarm)
}

impl Actor for Network {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(mut rx) = self.events.take() {
            ctx.add_stream(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)));
        }
        if let Some(incoming) = self.incoming.take() {
            use futures::StreamExt;
            ctx.add_stream(incoming.map(|(peer, stream)| AcceptedStream(peer, stream)));
        }
    }
}

/// A session stream a peer opened to this node, header not read yet.
struct AcceptedStream(PeerId, libp2p::Stream);

impl StreamHandler<AcceptedStream> for Network {
    fn handle(&mut self, AcceptedStream(peer, mut stream): AcceptedStream, _ctx: &mut Context<Self>) {
        let Some(to) = self.stream_inbound.clone() else {
            tracing::debug!(%peer, "session stream before sessions are ready; dropped");
            return;
        };
        let limits = self.hub.limits();
        // the header is read in a task of its own: a slow or silent opener holds up nobody
        actix::spawn(async move {
            match streams::read_header(&mut stream).await {
                Ok(tag) => to.do_send(InboundStream { peer, tag, reader: streams::FrameReader::new(stream, limits) }),
                Err(e) => tracing::debug!(%peer, error = %e, "session stream refused"),
            }
        });
    }

    fn finished(&mut self, _ctx: &mut Context<Self>) {
        tracing::error!("session stream listener ended; MPC sessions cannot receive");
    }
}

/// A session stream from `peer`, for the session (or whatever the receiver routes by) `tag`. The
/// network layer has read only its header; what the tag means is for the recipient to decide.
#[derive(Message)]
#[rtype(result = "()")]
pub struct InboundStream {
    pub peer: PeerId,
    pub tag: [u8; streams::TAG_LEN],
    pub reader: streams::FrameReader<libp2p::Stream>,
}

/// Installs the recipient of inbound session streams (the Sessions actor).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetStreamInbound(pub Recipient<InboundStream>);

impl Handler<SetStreamInbound> for Network {
    type Result = ();
    fn handle(&mut self, msg: SetStreamInbound, _: &mut Context<Self>) {
        self.stream_inbound = Some(msg.0);
    }
}

/// The handle that opens session streams.
#[derive(Message)]
#[rtype(result = "streams::StreamHub")]
pub struct GetStreamHub;

impl Handler<GetStreamHub> for Network {
    type Result = MessageResult<GetStreamHub>;
    fn handle(&mut self, _: GetStreamHub, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.hub.clone())
    }
}

impl StreamHandler<NetEvent> for Network {
    fn handle(&mut self, ev: NetEvent, _ctx: &mut Context<Self>) {
        match ev {
            NetEvent::Listening(a) => self.listen.push(a),
            NetEvent::PeerUp { peer, addrs } => {
                self.peers.insert(peer, addrs);
                for s in &self.peer_subscribers {
                    s.do_send(PeerEvent::Up(peer));
                }
            }
            NetEvent::PeerDown(peer) => {
                self.peers.remove(&peer);
                for s in &self.peer_subscribers {
                    s.do_send(PeerEvent::Down(peer));
                }
            }
            NetEvent::Inbound { proto, peer, id, frame } => {
                let Some(inbound) = self.inbound.clone() else {
                    tracing::debug!("inbound request before the router is ready; dropped");
                    return;
                };
                let commands = self.commands.clone();
                actix::spawn(async move {
                    match inbound.send(InboundRequest { proto, peer, frame }).await {
                        Ok(Answer { frame, offence }) => {
                            let _ = commands.send(Command::Respond { proto, id, frame, offence }).await;
                        }
                        Err(e) => tracing::debug!(error = %e, "inbound request handler gone; dropped"),
                    }
                });
            }
            NetEvent::Banned { peer, why } => {
                tracing::warn!(%peer, %why, "disconnecting misbehaving peer (banned)");
                crate::counters::bump(&crate::counters::COUNTERS.bans);
                self.banned.insert(peer, why);
            }
            NetEvent::Unbanned(peer) => {
                tracing::info!(%peer, "ban ended");
                self.banned.remove(&peer);
            }
            NetEvent::Gossip { topic, source, data } => {
                for (t, r) in &self.gossip_subscribers {
                    if *t == topic {
                        r.do_send(GossipMessage { topic: topic.clone(), source, data: data.clone() });
                    }
                }
            }
        }
    }

    fn finished(&mut self, _ctx: &mut Context<Self>) {
        tracing::error!("swarm driver ended; the node has no network");
    }
}

/// Installs the recipient of inbound requests (the router, once every actor it needs is running).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetInbound(pub Recipient<InboundRequest>);

impl Handler<SetInbound> for Network {
    type Result = ();
    fn handle(&mut self, msg: SetInbound, _: &mut Context<Self>) {
        self.inbound = Some(msg.0);
    }
}

/// Sends a frame to a peer (or to this node itself) and waits for the response frame.
#[derive(Message)]
#[rtype(result = "Result<Vec<u8>, NetError>")]
pub struct SendRequest {
    pub proto: Proto,
    pub peer: PeerId,
    pub frame: Vec<u8>,
}

impl Handler<SendRequest> for Network {
    type Result = ResponseFuture<Result<Vec<u8>, NetError>>;

    fn handle(&mut self, msg: SendRequest, _: &mut Context<Self>) -> Self::Result {
        if msg.peer == self.local {
            let inbound = self.inbound.clone();
            return Box::pin(async move {
                let Some(inbound) = inbound else { return Err(NetError::Stopped) };
                let req = InboundRequest { proto: msg.proto, peer: msg.peer, frame: msg.frame };
                inbound.send(req).await.map(|a| a.frame).map_err(|_| NetError::Stopped)
            });
        }
        let (reply, rx) = oneshot::channel();
        let cmd = Command::Request { proto: msg.proto, peer: msg.peer, frame: msg.frame, reply };
        let commands = self.commands.clone();
        Box::pin(async move {
            commands.send(cmd).await.map_err(|_| NetError::Stopped)?;
            rx.await.map_err(|_| NetError::Stopped)?
        })
    }
}

/// The live Enigma peers this node sees (not including itself).
#[derive(Message)]
#[rtype(result = "Vec<PeerId>")]
pub struct LivePeers;

impl Handler<LivePeers> for Network {
    type Result = Vec<PeerId>;
    fn handle(&mut self, _: LivePeers, _: &mut Context<Self>) -> Vec<PeerId> {
        self.peers.keys().copied().collect()
    }
}

/// A peer a lookup found: its id and the IPs this node observed it at (its connections' remote
/// addresses; empty when none is open any more).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundPeer {
    pub peer: PeerId,
    pub ips: Vec<std::net::IpAddr>,
}

/// How long a [`ClosestPeers`] lookup may take (the Kademlia query's own timeout).
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(20);

/// The peers closest to a key in Kademlia's XOR metric, found by one `get_closest_peers` lookup (at
/// most k = 20, this node not included): only peers that answered the lookup, so none that is gone.
/// `key` is the record key's bytes (a data key's 32 bytes: the id manifests are put under). Empty
/// when the lookup fails or times out with nothing found.
#[derive(Message)]
#[rtype(result = "Vec<FoundPeer>")]
pub struct ClosestPeers {
    pub key: Vec<u8>,
}

impl Handler<ClosestPeers> for Network {
    type Result = ResponseFuture<Vec<FoundPeer>>;
    fn handle(&mut self, msg: ClosestPeers, _: &mut Context<Self>) -> Self::Result {
        let (reply, rx) = oneshot::channel();
        let commands = self.commands.clone();
        Box::pin(async move {
            if commands.send(Command::ClosestPeers { key: msg.key, reply }).await.is_err() {
                return Vec::new();
            }
            match tokio::time::timeout(LOOKUP_TIMEOUT + Duration::from_secs(1), rx).await {
                Ok(Ok(found)) => found.into_iter().map(|(peer, ips)| FoundPeer { peer, ips }).collect(),
                _ => Vec::new(),
            }
        })
    }
}

/// Keeps this node connected to `peers` (and their connections open when idle), replacing what
/// `owner` pinned before: the co-holders of the keys held here (upkeep), the participants of running
/// sessions (sessions). A pinned peer that is not connected is dialed; the others' idle connections
/// close after [`IDLE_TIMEOUT`].
#[derive(Message)]
#[rtype(result = "()")]
pub struct Pin {
    pub owner: &'static str,
    pub peers: Vec<PeerId>,
}

impl Handler<Pin> for Network {
    type Result = ();
    fn handle(&mut self, msg: Pin, _: &mut Context<Self>) {
        let peers: std::collections::BTreeSet<PeerId> = msg.peers.into_iter().filter(|p| *p != self.local).collect();
        if self.pins.get(msg.owner) == Some(&peers) {
            return;
        }
        self.pins.insert(msg.owner, peers);
        let all = self.pins.values().flatten().copied().collect();
        self.send_command(Command::Pin { peers: all });
    }
}

/// A summary of this node's view of the network.
#[derive(Clone, Debug)]
pub struct NetworkView {
    pub local: PeerId,
    pub listen: Vec<Multiaddr>,
    pub peers: Vec<(PeerId, Vec<Multiaddr>)>,
    /// Peers cut off for misbehaving, with why.
    pub banned: Vec<(PeerId, String)>,
}

#[derive(Message)]
#[rtype(result = "NetworkView")]
pub struct GetView;

impl Handler<GetView> for Network {
    type Result = MessageResult<GetView>;
    fn handle(&mut self, _: GetView, _: &mut Context<Self>) -> Self::Result {
        MessageResult(NetworkView {
            local: self.local,
            listen: self.listen.clone(),
            peers: self.peers.iter().map(|(p, a)| (*p, a.clone())).collect(),
            banned: self.banned.iter().map(|(p, w)| (*p, w.clone())).collect(),
        })
    }
}

/// Publishes a record in the DHT (best effort).
#[derive(Message)]
#[rtype(result = "()")]
pub struct PutRecord {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

impl Handler<PutRecord> for Network {
    type Result = ();
    fn handle(&mut self, msg: PutRecord, _: &mut Context<Self>) {
        self.send_command(Command::PutRecord { key: msg.key, value: msg.value });
    }
}

/// Looks a record up in the DHT: every distinct value found (empty if none).
#[derive(Message)]
#[rtype(result = "Vec<Vec<u8>>")]
pub struct GetRecord {
    pub key: Vec<u8>,
}

impl Handler<GetRecord> for Network {
    type Result = ResponseFuture<Vec<Vec<u8>>>;
    fn handle(&mut self, msg: GetRecord, _: &mut Context<Self>) -> Self::Result {
        let (reply, rx) = oneshot::channel();
        let commands = self.commands.clone();
        Box::pin(async move {
            if commands.send(Command::GetRecord { key: msg.key, reply }).await.is_err() {
                return Vec::new();
            }
            match tokio::time::timeout(Duration::from_secs(10), rx).await {
                Ok(Ok(values)) => values,
                _ => Vec::new(),
            }
        })
    }
}

/// Subscribes a recipient to a gossip topic (and joins the topic).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SubscribeGossip {
    pub topic: String,
    pub recipient: Recipient<GossipMessage>,
}

impl Handler<SubscribeGossip> for Network {
    type Result = ();
    fn handle(&mut self, msg: SubscribeGossip, _: &mut Context<Self>) {
        self.send_command(Command::Subscribe { topic: msg.topic.clone() });
        self.gossip_subscribers.push((msg.topic, msg.recipient));
    }
}

/// Publishes on a gossip topic.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Publish {
    pub topic: String,
    pub data: Vec<u8>,
}

impl Handler<Publish> for Network {
    type Result = ();
    fn handle(&mut self, msg: Publish, _: &mut Context<Self>) {
        self.send_command(Command::Publish { topic: msg.topic, data: msg.data });
    }
}

/// Subscribes a recipient to peer up/down events (starting with an `Up` for every peer already up).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SubscribePeers(pub Recipient<PeerEvent>);

impl Handler<SubscribePeers> for Network {
    type Result = ();
    fn handle(&mut self, msg: SubscribePeers, _: &mut Context<Self>) {
        // peers that came up before this subscription are reported too, so no subscriber misses one
        for peer in self.peers.keys() {
            msg.0.do_send(PeerEvent::Up(*peer));
        }
        self.peer_subscribers.push(msg.0);
    }
}
