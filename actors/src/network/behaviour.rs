//! The composed libp2p behaviour: one `NetworkBehaviour` per concern (rust-libp2p style).
//!
//! Owns: which protocols a node speaks and their configuration — identify, ping, Kademlia (peer
//! routing and manifest records), gossipsub (tombstones and ledger gossip), and two request-response
//! protocols: custody traffic and MPC session control (starts, go, outcomes); the session streams
//! that carry MPC messages (`libp2p-stream`, see `streams.rs`); the block list that keeps banned
//! peers out; and which idle connections stay open (`keep.rs`). Must never: hold application state or decide
//! anything about data (that is the Network actor and the router).

use super::codec::FrameCodec;
use libp2p::identity::Keypair;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{StreamProtocol, allow_block_list, gossipsub, identify, kad, ping, request_response};
use std::time::Duration;

/// Identify protocol version string: peers that don't speak it are not Enigma nodes.
pub const PROTOCOL_VERSION: &str = "/enigma/1.0.0";
pub const KAD_PROTOCOL: StreamProtocol = StreamProtocol::new("/enigma/kad/1.0.0");
pub const CUSTODY_PROTOCOL: StreamProtocol = StreamProtocol::new("/enigma/custody/1");
pub const MPC_PROTOCOL: StreamProtocol = StreamProtocol::new("/enigma/mpc/1");

/// Limits and timings of the behaviours.
#[derive(Clone, Debug)]
pub struct BehaviourConfig {
    pub max_frame: usize,
    pub request_timeout: Duration,
}

#[derive(NetworkBehaviour)]
pub struct Behaviour {
    /// Banned peers: connections to and from them are refused (see `guard`).
    pub blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    pub identify: identify::Behaviour,
    pub ping: ping::Behaviour,
    pub kad: kad::Behaviour<kad::store::MemoryStore>,
    pub gossipsub: gossipsub::Behaviour,
    pub custody: request_response::Behaviour<FrameCodec>,
    pub mpc: request_response::Behaviour<FrameCodec>,
    /// Long-lived session streams (`/enigma/mpc-stream/1`).
    pub stream: libp2p_stream::Behaviour,
    /// Keeps the connections to pinned peers open when idle (`keep.rs`).
    pub keep: super::keep::Behaviour,
}

impl Behaviour {
    pub fn new(key: &Keypair, cfg: &BehaviourConfig) -> Result<Behaviour, String> {
        let peer_id = key.public().to_peer_id();
        let identify = identify::Behaviour::new(
            identify::Config::new(PROTOCOL_VERSION.to_string(), key.public())
                .with_push_listen_addr_updates(true)
                .with_interval(Duration::from_secs(60)),
        );
        let ping = ping::Behaviour::new(
            // a peer that stops answering (cut off, or its host gone without a TCP reset) is dropped
            // within about 8 s
            ping::Config::new().with_interval(Duration::from_secs(3)).with_timeout(Duration::from_secs(5)),
        );
        let mut kad_cfg = kad::Config::new(KAD_PROTOCOL);
        kad_cfg.set_query_timeout(Duration::from_secs(20));
        kad_cfg.set_record_ttl(None);
        kad_cfg.set_publication_interval(Some(Duration::from_secs(3600)));
        let mut kad = kad::Behaviour::with_config(peer_id, kad::store::MemoryStore::new(peer_id), kad_cfg);
        // Always answer DHT queries: nodes on loopback or private networks have no confirmed external
        // address, and client mode would make them invisible.
        kad.set_mode(Some(kad::Mode::Server));
        let gossip_cfg = gossipsub::ConfigBuilder::default()
            .heartbeat_interval(Duration::from_secs(1))
            .validation_mode(gossipsub::ValidationMode::Strict)
            .max_transmit_size(256 * 1024)
            .build()
            .map_err(|e| e.to_string())?;
        let gossipsub = gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Signed(key.clone()), gossip_cfg)?;
        let rr_cfg = request_response::Config::default()
            .with_request_timeout(cfg.request_timeout)
            .with_max_concurrent_streams(256);
        let custody = request_response::Behaviour::with_codec(
            FrameCodec::new(cfg.max_frame),
            [(CUSTODY_PROTOCOL, request_response::ProtocolSupport::Full)],
            rr_cfg.clone(),
        );
        let mpc = request_response::Behaviour::with_codec(
            FrameCodec::new(cfg.max_frame),
            [(MPC_PROTOCOL, request_response::ProtocolSupport::Full)],
            rr_cfg,
        );
        let stream = libp2p_stream::Behaviour::new();
        Ok(Behaviour {
            blocked: Default::default(),
            identify,
            ping,
            kad,
            gossipsub,
            custody,
            mpc,
            stream,
            keep: Default::default(),
        })
    }
}
