//! The swarm driver: the one task that owns the libp2p `Swarm`.
//!
//! Owns: the Swarm, its pending request/response/query bookkeeping, peer discovery (dial the seed,
//! bootstrap Kademlia, dial peers Kademlia adds to its table; connections nothing uses close after
//! the idle timeout unless their peer is pinned, `keep.rs`), the lookups of a key's closest peers,
//! and liveness (a peer is *up* once it has
//! identified itself as an Enigma node, *down* when its last connection closes). It `select!`s over a
//! command channel and swarm events (the shape of rust-libp2p's file-sharing example) and reports
//! typed [`NetEvent`]s. Must never: interpret frames or touch application state.

use super::behaviour::{Behaviour, BehaviourEvent, PROTOCOL_VERSION};
use super::codec::RequestFrame;
use super::guard::{Admission, Offence, PeerGuard};
use super::{IDLE_TIMEOUT, NetError, NetEvent, Proto};
use futures::StreamExt;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::swarm::SwarmEvent;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::{Multiaddr, PeerId, Swarm, gossipsub, identify, kad, ping};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// What the Network actor asks the driver to do.
pub enum Command {
    Request {
        proto: Proto,
        peer: PeerId,
        frame: Vec<u8>,
        reply: oneshot::Sender<Result<Vec<u8>, NetError>>,
    },
    Respond {
        proto: Proto,
        id: u64,
        frame: Vec<u8>,
        /// What the router found wrong with the request, if anything.
        offence: Option<Offence>,
    },
    PutRecord {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    /// Every distinct value found for a key (a manifest and a newer tombstone may coexist in the DHT
    /// while a delete propagates; the caller picks).
    GetRecord {
        key: Vec<u8>,
        reply: oneshot::Sender<Vec<Vec<u8>>>,
    },
    /// The peers closest to a key (one Kademlia `get_closest_peers`), each with the IPs this node
    /// observed it at (its connections' remote addresses, never the peer's own claim).
    ClosestPeers {
        key: Vec<u8>,
        reply: ClosestReply,
    },
    /// Keep these peers connected (see `keep.rs`).
    Pin {
        peers: HashSet<PeerId>,
    },
    Subscribe {
        topic: String,
    },
    Publish {
        topic: String,
        data: Vec<u8>,
    },
}

/// An inbound request being handled: where its response goes, and who sent it.
type InboundRequest = (ResponseChannel<Vec<u8>>, PeerId);

/// Where a lookup's closest peers go (each with the IPs this node observed it at).
type ClosestReply = oneshot::Sender<Vec<(PeerId, Vec<IpAddr>)>>;

/// Where the response to an outbound request goes.
type ReplyTo = oneshot::Sender<Result<Vec<u8>, NetError>>;

/// A DHT lookup collecting values until its query ends or shortly after the first value.
struct PendingGet {
    reply: oneshot::Sender<Vec<Vec<u8>>>,
    values: Vec<Vec<u8>>,
    first_found: Option<std::time::Instant>,
}

/// How long a lookup keeps collecting after its first value.
const GET_LINGER: Duration = Duration::from_millis(750);

pub struct Driver {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::UnboundedSender<NetEvent>,
    seed: Option<Multiaddr>,
    pending_out: HashMap<(Proto, OutboundRequestId), (ReplyTo, PeerId)>,
    /// When each connected peer's connection was last used for a request (or opened).
    last_used: HashMap<PeerId, std::time::Instant>,
    pending_in: HashMap<(Proto, u64), InboundRequest>,
    next_inbound: u64,
    pending_get: HashMap<kad::QueryId, PendingGet>,
    pending_closest: HashMap<kad::QueryId, ClosestReply>,
    /// The remote IPs of each connected peer's connections, as this node observed them.
    observed: HashMap<PeerId, Vec<IpAddr>>,
    up: HashSet<PeerId>,
    guard: PeerGuard,
}

impl Driver {
    pub fn new(
        swarm: Swarm<Behaviour>,
        commands: mpsc::Receiver<Command>,
        events: mpsc::UnboundedSender<NetEvent>,
        seed: Option<Multiaddr>,
        guard: PeerGuard,
    ) -> Driver {
        Driver {
            swarm,
            commands,
            events,
            seed,
            pending_out: HashMap::new(),
            last_used: HashMap::new(),
            pending_in: HashMap::new(),
            next_inbound: 0,
            pending_get: HashMap::new(),
            pending_closest: HashMap::new(),
            observed: HashMap::new(),
            up: HashSet::new(),
            guard,
        }
    }

    pub async fn run(mut self) {
        self.dial_seed();
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        let mut ticks: u64 = 0;
        let mut fast_tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                cmd = self.commands.recv() => match cmd {
                    Some(cmd) => self.on_command(cmd),
                    None => break,
                },
                ev = self.swarm.select_next_some() => self.on_swarm_event(ev),
                _ = tick.tick() => {
                    ticks += 1;
                    self.on_tick(ticks);
                }
                _ = fast_tick.tick() => self.finish_lingering_gets(),
            }
        }
        tracing::debug!("swarm driver stopped");
    }

    fn dial_seed(&mut self) {
        if let Some(addr) = self.seed.clone()
            && let Err(e) = self.swarm.dial(addr.clone())
        {
            tracing::warn!(%addr, error = %e, "cannot dial seed");
        }
    }

    fn on_tick(&mut self, ticks: u64) {
        // Keep trying the seed until we know someone; refresh the routing table often while young,
        // then once a minute, so joiners are found quickly and the network heals after partitions.
        if self.up.is_empty() && self.swarm.connected_peers().next().is_none() {
            self.dial_seed();
        }
        self.dial_pinned();
        self.close_idle();
        if ticks <= 12 || ticks.is_multiple_of(12) {
            let _ = self.swarm.behaviour_mut().kad.bootstrap();
        }
        let guard = &mut self.guard;
        self.pending_in.retain(|_, (ch, peer)| {
            let open = ch.is_open();
            if !open {
                guard.done(*peer);
            }
            open
        });
        for peer in self.guard.expire(std::time::Instant::now()) {
            self.swarm.behaviour_mut().blocked.unblock_peer(peer);
            self.emit(NetEvent::Unbanned(peer));
        }
    }

    /// Dials every pinned peer that is not connected (by id: Kademlia knows its addresses), and
    /// looks up the ones it does not know, which finds and connects them.
    fn dial_pinned(&mut self) {
        let missing: Vec<PeerId> =
            self.swarm.behaviour().keep.pinned().filter(|p| !self.swarm.is_connected(p)).copied().collect();
        for peer in missing {
            let opts = DialOpts::peer_id(peer).condition(PeerCondition::DisconnectedAndNotDialing).build();
            if let Err(e) = self.swarm.dial(opts) {
                tracing::debug!(%peer, error = %e, "pinned peer not dialable; looking it up");
                self.swarm.behaviour_mut().kad.get_closest_peers(peer);
            }
        }
    }

    /// Closes the connections nothing needs: not to a peer of this node's Kademlia buckets (k = 20
    /// per bucket: O(k log N) peers, the ones its lookups start from), not to a pinned peer, not in
    /// the gossip mesh, no request in flight and none for [`IDLE_TIMEOUT`]. (gossipsub keeps a
    /// stream open to every connected peer, so the swarm's own idle timeout alone would keep every
    /// connection ever made; a kad query that meets a closed connection just dials again.)
    fn close_idle(&mut self) {
        let now = std::time::Instant::now();
        let mut mesh: HashSet<PeerId> = self.swarm.behaviour().gossipsub.all_mesh_peers().copied().collect();
        for bucket in self.swarm.behaviour_mut().kad.kbuckets() {
            mesh.extend(bucket.iter().map(|e| *e.node.key.preimage()));
        }
        let mut busy: HashSet<PeerId> = self.pending_out.values().map(|(_, p)| *p).collect();
        busy.extend(self.pending_in.values().map(|(_, p)| *p));
        let idle: Vec<PeerId> = self
            .swarm
            .connected_peers()
            .filter(|p| {
                !self.swarm.behaviour().keep.is_pinned(p)
                    && !mesh.contains(p)
                    && !busy.contains(p)
                    && self.last_used.get(p).is_none_or(|t| now.duration_since(*t) >= IDLE_TIMEOUT)
            })
            .copied()
            .collect();
        for peer in idle {
            tracing::debug!(%peer, "closing an idle connection");
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }

    /// Applies an offence; bans (blocks and disconnects) the peer when its score says so.
    fn offence(&mut self, peer: PeerId, what: Offence) {
        if self.guard.offence(peer, what, std::time::Instant::now()) {
            self.ban(peer, format!("misbehaved ({what:?} was the last straw)"));
        }
    }

    fn ban(&mut self, peer: PeerId, why: String) {
        self.swarm.behaviour_mut().blocked.block_peer(peer);
        self.swarm.behaviour_mut().kad.remove_peer(&peer);
        let _ = self.swarm.disconnect_peer_id(peer);
        self.emit(NetEvent::Banned { peer, why });
    }

    fn finish_lingering_gets(&mut self) {
        let done: Vec<kad::QueryId> = self
            .pending_get
            .iter()
            .filter(|(_, g)| g.first_found.is_some_and(|t| t.elapsed() > GET_LINGER))
            .map(|(id, _)| *id)
            .collect();
        for id in done {
            if let Some(mut q) = self.swarm.behaviour_mut().kad.query_mut(&id) {
                q.finish();
            }
            if let Some(g) = self.pending_get.remove(&id) {
                let _ = g.reply.send(g.values);
            }
        }
    }

    fn rr(&mut self, proto: Proto) -> &mut request_response::Behaviour<super::codec::FrameCodec> {
        match proto {
            Proto::Custody => &mut self.swarm.behaviour_mut().custody,
            Proto::Mpc => &mut self.swarm.behaviour_mut().mpc,
        }
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Request { proto, peer, frame, reply } => {
                let id = self.rr(proto).send_request(&peer, RequestFrame::Bytes(frame));
                self.pending_out.insert((proto, id), (reply, peer));
                self.last_used.insert(peer, std::time::Instant::now());
            }
            Command::Respond { proto, id, frame, offence } => {
                if let Some((ch, peer)) = self.pending_in.remove(&(proto, id)) {
                    self.guard.done(peer);
                    if let Some(what) = offence {
                        self.offence(peer, what);
                    }
                    if self.rr(proto).send_response(ch, frame).is_err() {
                        tracing::debug!("response not sent: the requester went away");
                    }
                }
            }
            Command::PutRecord { key, value } => {
                let record = kad::Record::new(key, value);
                if let Err(e) = self.swarm.behaviour_mut().kad.put_record(record, kad::Quorum::One) {
                    tracing::debug!(error = ?e, "DHT put failed");
                }
            }
            Command::GetRecord { key, reply } => {
                let id = self.swarm.behaviour_mut().kad.get_record(kad::RecordKey::new(&key));
                self.pending_get.insert(id, PendingGet { reply, values: Vec::new(), first_found: None });
            }
            Command::ClosestPeers { key, reply } => {
                let id = self.swarm.behaviour_mut().kad.get_closest_peers(key);
                self.pending_closest.insert(id, reply);
            }
            Command::Pin { peers } => {
                self.swarm.behaviour_mut().keep.set_pinned(peers);
                self.dial_pinned();
            }
            Command::Subscribe { topic } => {
                let _ = self.swarm.behaviour_mut().gossipsub.subscribe(&gossipsub::IdentTopic::new(topic));
            }
            Command::Publish { topic, data } => {
                if let Err(e) = self.swarm.behaviour_mut().gossipsub.publish(gossipsub::IdentTopic::new(topic), data) {
                    tracing::debug!(error = %e, "gossip publish failed");
                }
            }
        }
    }

    fn emit(&self, ev: NetEvent) {
        let _ = self.events.send(ev);
    }

    fn on_swarm_event(&mut self, ev: SwarmEvent<BehaviourEvent>) {
        match ev {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
                self.emit(NetEvent::Listening(address));
            }
            SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } => {
                self.last_used.insert(peer_id, std::time::Instant::now());
                if let Some(ip) = ip_of(endpoint.get_remote_address()) {
                    let ips = self.observed.entry(peer_id).or_default();
                    if !ips.contains(&ip) {
                        ips.push(ip);
                    }
                }
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
                self.observed.remove(&peer_id);
                self.last_used.remove(&peer_id);
                if self.up.remove(&peer_id) {
                    tracing::info!(peer = %peer_id, "peer down");
                    self.emit(NetEvent::PeerDown(peer_id));
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. })) => {
                if info.protocol_version != PROTOCOL_VERSION {
                    tracing::debug!(peer = %peer_id, version = %info.protocol_version, "not an Enigma peer");
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                    return;
                }
                let addrs = usable_addrs(info.listen_addrs);
                for a in &addrs {
                    self.swarm.behaviour_mut().kad.add_address(&peer_id, a.clone());
                }
                if self.up.insert(peer_id) {
                    tracing::info!(peer = %peer_id, "peer up");
                    self.emit(NetEvent::PeerUp { peer: peer_id, addrs });
                    let _ = self.swarm.behaviour_mut().kad.bootstrap();
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event { peer, connection, result: Err(e) })) => {
                tracing::debug!(%peer, error = %e, "ping failed, closing connection");
                self.swarm.close_connection(connection);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Kad(ev)) => self.on_kad(ev),
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message { message, .. })) => {
                self.emit(NetEvent::Gossip {
                    topic: message.topic.into_string(),
                    source: message.source,
                    data: message.data,
                });
            }
            SwarmEvent::Behaviour(BehaviourEvent::Custody(ev)) => self.on_rr(Proto::Custody, ev),
            SwarmEvent::Behaviour(BehaviourEvent::Mpc(ev)) => self.on_rr(Proto::Mpc, ev),
            _ => {}
        }
    }

    fn on_kad(&mut self, ev: kad::Event) {
        match ev {
            kad::Event::RoutingUpdated { peer, addresses, .. }
                if peer != *self.swarm.local_peer_id() && !self.swarm.is_connected(&peer) =>
            {
                let opts = DialOpts::peer_id(peer)
                    .addresses(addresses.into_vec())
                    .condition(PeerCondition::DisconnectedAndNotDialing)
                    .build();
                let _ = self.swarm.dial(opts);
            }
            kad::Event::OutboundQueryProgressed { id, result: kad::QueryResult::GetClosestPeers(r), step, .. } => {
                // a lookup's result is the peers that answered it: a peer that is gone is not in it
                let peers = match r {
                    Ok(ok) => ok.peers,
                    Err(kad::GetClosestPeersError::Timeout { peers, .. }) => peers,
                };
                if step.last
                    && let Some(reply) = self.pending_closest.remove(&id)
                {
                    let local = *self.swarm.local_peer_id();
                    let found: Vec<(PeerId, Vec<IpAddr>)> = peers
                        .into_iter()
                        .filter(|p| p.peer_id != local)
                        .map(|p| {
                            let ips = self.observed.get(&p.peer_id).cloned().unwrap_or_default();
                            (p.peer_id, ips)
                        })
                        .collect();
                    let _ = reply.send(found);
                }
            }
            kad::Event::OutboundQueryProgressed { id, result: kad::QueryResult::GetRecord(r), step, .. } => {
                if let Some(g) = self.pending_get.get_mut(&id) {
                    if let Ok(kad::GetRecordOk::FoundRecord(rec)) = r {
                        if !g.values.contains(&rec.record.value) {
                            g.values.push(rec.record.value);
                        }
                        g.first_found.get_or_insert_with(std::time::Instant::now);
                    }
                    if step.last
                        && let Some(g) = self.pending_get.remove(&id)
                    {
                        let _ = g.reply.send(g.values);
                    }
                }
            }
            _ => {}
        }
    }

    fn on_rr(&mut self, proto: Proto, ev: request_response::Event<RequestFrame, Vec<u8>>) {
        match ev {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request { request: RequestFrame::TooLarge(len), .. } => {
                    tracing::debug!(%peer, len, "refusing an oversized request frame");
                    self.offence(peer, Offence::BadFrame);
                }
                request_response::Message::Request { request: RequestFrame::Bytes(request), channel, .. } => {
                    match self.guard.admit(peer, std::time::Instant::now()) {
                        (Admission::Serve, _) => {
                            let id = self.next_inbound;
                            self.next_inbound += 1;
                            self.pending_in.insert((proto, id), (channel, peer));
                            self.last_used.insert(peer, std::time::Instant::now());
                            self.emit(NetEvent::Inbound { proto, peer, id, frame: request });
                        }
                        // dropping the channel answers with a closed stream: the sender sees a failure
                        (Admission::Busy, _) => tracing::debug!(%peer, "inbound request refused: over its limits"),
                        (Admission::Banned, newly) => {
                            if newly {
                                self.ban(peer, "flooded requests over its rate limit".into());
                            } else {
                                let _ = self.swarm.disconnect_peer_id(peer);
                            }
                        }
                    }
                }
                request_response::Message::Response { request_id, response } => {
                    if let Some((reply, _)) = self.pending_out.remove(&(proto, request_id)) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            request_response::Event::OutboundFailure { request_id, error, peer, .. } => {
                if let Some((reply, _)) = self.pending_out.remove(&(proto, request_id)) {
                    let err = match error {
                        request_response::OutboundFailure::Timeout => NetError::Timeout,
                        request_response::OutboundFailure::DialFailure => NetError::Unreachable(peer.to_string()),
                        other => NetError::Failed(other.to_string()),
                    };
                    let _ = reply.send(Err(err));
                }
            }
            request_response::Event::InboundFailure { error, peer, .. } => {
                tracing::debug!(%peer, %error, "inbound request failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }
}

/// The IP of an address (`/ip4/…` or `/ip6/…`), if it has one.
fn ip_of(a: &Multiaddr) -> Option<IpAddr> {
    a.iter().find_map(|p| match p {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    })
}

/// Addresses worth remembering for a peer: not unspecified, not in-memory; and loopback ones only when
/// the peer has nothing else (a devnet on one machine), since from another host or container a
/// loopback address reaches the dialer itself.
fn usable_addrs(addrs: Vec<Multiaddr>) -> Vec<Multiaddr> {
    let routable = |a: &Multiaddr| {
        a.iter().all(|p| match p {
            Protocol::Ip4(ip) => !ip.is_unspecified(),
            Protocol::Ip6(ip) => !ip.is_unspecified(),
            Protocol::Memory(_) => false,
            _ => true,
        })
    };
    let loopback = |a: &Multiaddr| {
        a.iter().any(|p| match p {
            Protocol::Ip4(ip) => ip.is_loopback(),
            Protocol::Ip6(ip) => ip.is_loopback(),
            _ => false,
        })
    };
    let all: Vec<Multiaddr> = addrs.into_iter().filter(routable).collect();
    if all.iter().all(loopback) { all } else { all.into_iter().filter(|a| !loopback(a)).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only_when_nothing_else() {
        let a = |s: &str| s.parse::<Multiaddr>().unwrap();
        assert_eq!(usable_addrs(vec![a("/ip4/127.0.0.1/tcp/1")]), vec![a("/ip4/127.0.0.1/tcp/1")]);
        assert_eq!(
            usable_addrs(vec![a("/ip4/127.0.0.1/tcp/1"), a("/ip4/172.28.0.10/tcp/1"), a("/ip4/0.0.0.0/tcp/1")]),
            vec![a("/ip4/172.28.0.10/tcp/1")]
        );
    }
}
