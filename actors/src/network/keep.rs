//! Which idle connections stay open: a behaviour that keeps the connections to *pinned* peers alive.
//!
//! Owns: the set of pinned peers (the peers this node holds keys with and the participants of the
//! sessions it runs, as the actors above tell the Network actor) and, per connection, whether the
//! swarm may close it when idle. Every other connection closes after the swarm's idle timeout
//! (`IDLE_TIMEOUT`) once no protocol uses it (kad queries, requests, session streams and gossipsub's
//! mesh keep theirs alive themselves), so a node keeps its Kademlia neighbours, its gossip mesh and
//! the peers it holds keys with — not a connection to every node it ever looked up.
//! Must never: open or refuse a connection, or speak a protocol (it negotiates none).

use libp2p::PeerId;
use libp2p::core::upgrade::DeniedUpgrade;
use libp2p::core::{Endpoint, Multiaddr, transport::PortUse};
use libp2p::swarm::handler::{ConnectionEvent, FullyNegotiatedInbound, FullyNegotiatedOutbound};
use libp2p::swarm::{
    ConnectionDenied, ConnectionHandlerEvent, ConnectionId, FromSwarm, NetworkBehaviour, NotifyHandler,
    SubstreamProtocol, THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::task::{Context, Poll};

/// Keeps the connections to pinned peers open.
#[derive(Default)]
pub struct Behaviour {
    pinned: HashSet<PeerId>,
    connections: HashMap<PeerId, HashSet<ConnectionId>>,
    pending: VecDeque<(PeerId, ConnectionId, bool)>,
}

impl Behaviour {
    /// Replaces the pinned set: connections to peers that join it stay open, the others may idle out.
    pub fn set_pinned(&mut self, pinned: HashSet<PeerId>) {
        for (peer, conns) in &self.connections {
            let (was, is) = (self.pinned.contains(peer), pinned.contains(peer));
            if was != is {
                for c in conns {
                    self.pending.push_back((*peer, *c, is));
                }
            }
        }
        self.pinned = pinned;
    }

    pub fn pinned(&self) -> impl Iterator<Item = &PeerId> {
        self.pinned.iter()
    }

    pub fn is_pinned(&self, peer: &PeerId) -> bool {
        self.pinned.contains(peer)
    }

    fn handler(&mut self, peer: PeerId, id: ConnectionId) -> Handler {
        self.connections.entry(peer).or_default().insert(id);
        Handler { keep: self.pinned.contains(&peer) }
    }
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = Handler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.handler(peer, id))
    }

    fn handle_established_outbound_connection(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.handler(peer, id))
    }

    fn on_connection_handler_event(&mut self, _: PeerId, _: ConnectionId, event: THandlerOutEvent<Self>) {
        match event {}
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        if let FromSwarm::ConnectionClosed(c) = event
            && let Some(conns) = self.connections.get_mut(&c.peer_id)
        {
            conns.remove(&c.connection_id);
            if conns.is_empty() {
                self.connections.remove(&c.peer_id);
            }
        }
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        while let Some((peer_id, c, keep)) = self.pending.pop_front() {
            if self.connections.get(&peer_id).is_some_and(|s| s.contains(&c)) {
                return Poll::Ready(ToSwarm::NotifyHandler { peer_id, handler: NotifyHandler::One(c), event: keep });
            }
        }
        Poll::Pending
    }
}

/// One connection's handler: keeps it alive while its peer is pinned.
pub struct Handler {
    keep: bool,
}

impl libp2p::swarm::ConnectionHandler for Handler {
    type FromBehaviour = bool;
    type ToBehaviour = Infallible;
    type InboundProtocol = DeniedUpgrade;
    type OutboundProtocol = DeniedUpgrade;
    type InboundOpenInfo = ();
    type OutboundOpenInfo = ();

    fn listen_protocol(&self) -> SubstreamProtocol<Self::InboundProtocol> {
        SubstreamProtocol::new(DeniedUpgrade, ())
    }

    fn connection_keep_alive(&self) -> bool {
        self.keep
    }

    fn on_behaviour_event(&mut self, keep: bool) {
        self.keep = keep;
    }

    fn poll(
        &mut self,
        _: &mut Context<'_>,
    ) -> Poll<ConnectionHandlerEvent<Self::OutboundProtocol, (), Self::ToBehaviour>> {
        Poll::Pending
    }

    fn on_connection_event(&mut self, event: ConnectionEvent<Self::InboundProtocol, Self::OutboundProtocol>) {
        match event {
            ConnectionEvent::FullyNegotiatedInbound(FullyNegotiatedInbound { protocol, .. }) => match protocol {},
            ConnectionEvent::FullyNegotiatedOutbound(FullyNegotiatedOutbound { protocol, .. }) => match protocol {},
            _ => {}
        }
    }
}
