//! Starting a node: opens its data directory and starts every actor in the right order.
//!
//! Owns: the node's configuration and the wiring between actors (who gets whose address). Must
//! never: contain workflow logic. Call [`start`] from inside a running actix `System`.

use crate::custody::{Custody, CustodyStore};
use crate::front::{Front, FrontConfig, FrontCtx};
use crate::keystore::{self, Keystore};
use crate::ledger::{Ledger, backend::Backend};
use crate::network::{NetConfig, Network, SetInbound};
use crate::router::Router;
use crate::sessions::Sessions;
use crate::upkeep::repair::RepairDeps;
use crate::upkeep::{CustodySync, RepairConfig};
use actix::prelude::*;
use libp2p::{Multiaddr, PeerId};
use std::path::PathBuf;
use std::time::Duration;

/// Everything that configures one node.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub data_dir: PathBuf,
    /// Address to listen on for peers, e.g. `/ip4/0.0.0.0/tcp/6655`.
    pub listen: Multiaddr,
    /// A node to join through.
    pub seed: Option<Multiaddr>,
    /// Custody group size (default 5; fewer when the network is smaller; never below 3).
    pub group_size: usize,
    /// Largest encoded value accepted by `store`, in bytes.
    pub max_value_bytes: usize,
    /// Deadline of one request to a peer.
    pub request_timeout: Duration,
    /// Deadline of one computation (MPC session).
    pub compute_timeout: Duration,
    /// How long a custody holder may be unreachable before its keys are repaired.
    pub repair_grace: Duration,
    /// Proactive refresh of every key's shares (same group, new polynomial); `None`: off.
    pub refresh_every: Option<Duration>,
    /// Commit deadline of a store, from its manifest's creation: holders refuse the owner's commit
    /// after it and the recovery pass settles the shares still pending (default 10 minutes; the
    /// same on every node of a network).
    pub pending_grace: Duration,
    /// LMDB map size (virtual; the file grows with use).
    pub lmdb_map_size: usize,
    /// Where policy transactions go besides the embedded ledger.
    pub ledger_backend: Backend,
    /// When set, key files are sealed under this passphrase (`--keystore-pass-file`).
    pub keystore_pass: Option<std::sync::Arc<keystore::seal::Passphrase>>,
    /// Per-peer limits on inbound requests and when to cut a peer off.
    pub peer_guard: crate::network::guard::GuardConfig,
    /// The MPC security mode (`--mpc-security`, default active); committees never mix modes.
    pub mpc_security: enigma_protocol::mpc::Security,
    /// Emulated wide-area links (benches and tests only: `--emulate-rtt-ms`).
    pub wan: Option<crate::network::wan::WanProfile>,
}

impl NodeConfig {
    pub fn new(data_dir: PathBuf, listen: Multiaddr) -> NodeConfig {
        NodeConfig {
            data_dir,
            listen,
            seed: None,
            group_size: enigma_protocol::placement::DEFAULT_GROUP,
            max_value_bytes: 256 << 20,
            request_timeout: Duration::from_secs(120),
            compute_timeout: Duration::from_secs(600),
            repair_grace: Duration::from_secs(60),
            refresh_every: None,
            pending_grace: crate::custody::PENDING_GRACE,
            lmdb_map_size: 1 << 40,
            ledger_backend: Backend::Embedded,
            keystore_pass: None,
            peer_guard: Default::default(),
            mpc_security: Default::default(),
            wan: None,
        }
    }
}

/// Failures starting a node.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Keys(#[from] keystore::KeyFileError),
    #[error(transparent)]
    Store(#[from] crate::custody::StoreError),
    #[error(transparent)]
    Net(#[from] crate::network::NetError),
    #[error(transparent)]
    Ledger(#[from] crate::ledger::store::LedgerStoreError),
    #[error("data directory {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
}

/// Addresses of a running node's actors.
#[derive(Clone)]
pub struct NodeHandles {
    pub local: PeerId,
    pub front: Addr<Front>,
    pub network: Addr<Network>,
    pub custody: Addr<Custody>,
    pub keystore: Addr<Keystore>,
    pub ledger: Addr<Ledger>,
}

/// Starts every actor of a node.
pub async fn start(cfg: NodeConfig) -> Result<NodeHandles, StartError> {
    std::fs::create_dir_all(&cfg.data_dir).map_err(|e| StartError::DataDir(cfg.data_dir.clone(), e))?;
    let pass = cfg.keystore_pass.clone();
    let node_key = keystore::file::load_or_create_node_key(&cfg.data_dir, pass.as_deref())?;
    let identity = keystore::file::load_or_create_identity(&cfg.data_dir, pass.as_deref())?;
    let local = node_key.public().to_peer_id();
    let router_key = node_key.clone();

    let store = CustodyStore::open(&cfg.data_dir.join("custody"), cfg.lmdb_map_size)?;
    let custody = Custody::start_with_grace(store, cfg.pending_grace);
    let dir = cfg.data_dir.clone();
    let keystore = Supervisor::start(move |_| Keystore::new(dir, pass.clone(), identity));

    let max_frame = cfg.max_value_bytes + cfg.max_value_bytes / 8 + (1 << 20);
    let network = Network::start(
        node_key,
        NetConfig {
            listen: cfg.listen.clone(),
            seed: cfg.seed.clone(),
            max_frame,
            request_timeout: cfg.request_timeout,
            guard: cfg.peer_guard.clone(),
            // a session message is at most a round of the largest computation a node takes
            // (`sessions::limits`), streamed in 1 MiB chunks
            streams: crate::network::streams::StreamLimits {
                max_message: crate::sessions::limits::MAX_SESSION_MESSAGE,
                ..Default::default()
            },
            wan: cfg.wan,
        },
    )
    .await?;
    let ledger = {
        let ledger = Ledger::open(&cfg.data_dir.join("ledger"), 1 << 34, network.clone(), cfg.ledger_backend.clone())?;
        Ledger::start_in_arbiter(&Arbiter::new().handle(), |_| ledger)
    };
    let sessions = {
        let (n, c, l, s) = (network.clone(), custody.clone(), ledger.clone(), cfg.mpc_security);
        Sessions::start_in_arbiter(&Arbiter::new().handle(), move |_| Sessions::new(local, s, n, c, l))
    };
    let router = {
        let router = Router {
            local,
            custody: custody.clone(),
            ledger: ledger.clone(),
            network: network.clone(),
            sessions: sessions.clone(),
            node_key: router_key,
        };
        Router::start_in_arbiter(&Arbiter::new().handle(), move |_| router)
    };
    network.do_send(SetInbound(router.recipient()));
    {
        let (c, n) = (custody.clone(), network.clone());
        let repair = RepairConfig {
            deps: RepairDeps { local, network: network.clone(), sessions: sessions.clone() },
            grace: cfg.repair_grace,
            refresh_every: cfg.refresh_every,
        };
        let grace = cfg.pending_grace;
        Supervisor::start(move |_| CustodySync::new(c, n, local, grace, Some(repair)));
    }
    let front_ctx = FrontCtx {
        local,
        network: network.clone(),
        custody: custody.clone(),
        ledger: ledger.clone(),
        sessions: sessions.clone(),
        keystore: keystore.clone(),
        cfg: FrontConfig {
            group_size: cfg.group_size,
            compute_timeout: cfg.compute_timeout,
            max_value_bytes: cfg.max_value_bytes,
            request_timeout: cfg.request_timeout,
            pending_grace: cfg.pending_grace,
            mpc_security: cfg.mpc_security,
        },
    };
    let front = Supervisor::start(move |_| Front::new(front_ctx));
    tracing::info!(peer = %local, "node started");
    Ok(NodeHandles { local, front, network, custody, keystore, ledger })
}
