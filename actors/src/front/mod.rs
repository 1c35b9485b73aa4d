//! The Front actor: one client request becomes one workflow (mini-redis style: one file per command).
//!
//! Owns: the typed client requests (one message per API call) and the helpers workflows share —
//! talking to peers through the Network actor, finding a key's manifest, the caller's identity.
//! Workflows live in `store.rs`, `load.rs`, `delete.rs`, `keys.rs`, `status.rs`. Must never: keep
//! state between requests, or reconstruct anything but a value its own identity is allowed to load
//! (the requester's node is where the requester's outputs are revealed — DESIGN §3).

mod access_log;
pub mod compute;
mod delete;
mod keys;
mod load;
mod pair;
mod policy;
mod status;
mod store;

pub use status::NodeStatus;

use crate::keystore::{GetIdentity, Keystore};
use crate::network::{GetRecord, LivePeers, Network, Proto, SendRequest};
use actix::prelude::*;
use enigma_protocol::api::{ApiError, ErrorCode};
use enigma_protocol::fixed::NumScale;
use enigma_protocol::identity::Identity;
use enigma_protocol::keys::DataKey;
use enigma_protocol::manifest::Manifest;
use enigma_protocol::placement;
use enigma_protocol::value::Value;
use enigma_protocol::wire::{self, DhtRecord, ErrorKind, Request, Response};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use libp2p::PeerId;
use std::time::Duration;

/// Settings the workflows need.
#[derive(Clone, Debug)]
pub struct FrontConfig {
    pub group_size: usize,
    /// Deadline of one computation.
    pub compute_timeout: Duration,
    pub max_value_bytes: usize,
    pub request_timeout: Duration,
    /// Commit deadline of a store (see `NodeConfig::pending_grace`): no commit is sent after it.
    pub pending_grace: Duration,
    /// The MPC security mode of the sessions this node requests.
    pub mpc_security: enigma_protocol::mpc::Security,
}

/// Everything a workflow may use: addresses and settings, cheap to clone.
#[derive(Clone)]
pub struct FrontCtx {
    pub local: PeerId,
    pub network: Addr<Network>,
    pub custody: Addr<crate::custody::Custody>,
    pub ledger: Addr<crate::ledger::Ledger>,
    pub sessions: Addr<crate::sessions::Sessions>,
    pub keystore: Addr<Keystore>,
    pub cfg: FrontConfig,
}

fn unavailable<E: std::fmt::Display>(e: E) -> ApiError {
    ApiError::new(ErrorCode::Internal, format!("node internal error: {e}"))
}

impl FrontCtx {
    pub async fn identity(&self) -> Result<Identity, ApiError> {
        self.keystore.send(GetIdentity).await.map_err(unavailable)
    }

    /// Live peers including this node.
    pub async fn live_nodes(&self) -> Result<Vec<PeerId>, ApiError> {
        let mut peers = self.network.send(LivePeers).await.map_err(unavailable)?;
        peers.push(self.local);
        Ok(peers)
    }

    /// Sends a custody request to `peer` (or to this node) and decodes the response.
    pub async fn request(&self, peer: PeerId, req: &Request) -> Result<Response, ApiError> {
        self.request_with_timeout(peer, req, self.cfg.request_timeout).await
    }

    pub async fn request_with_timeout(
        &self,
        peer: PeerId,
        req: &Request,
        timeout: Duration,
    ) -> Result<Response, ApiError> {
        let send = self.network.send(SendRequest { proto: Proto::Custody, peer, frame: wire::encode(req) });
        let frame = match tokio::time::timeout(timeout, send).await {
            Err(_) => {
                return Err(ApiError::new(ErrorCode::Timeout, format!("peer {peer} did not answer in time")));
            }
            Ok(r) => r.map_err(unavailable)?.map_err(|e| ApiError::new(ErrorCode::Unavailable, e.to_string()))?,
        };
        wire::decode::<Response>(&frame)
            .map_err(|e| ApiError::new(ErrorCode::Unavailable, format!("peer {peer} sent a malformed response: {e}")))
    }

    /// Finds and verifies the manifest of `key`: this node, then the DHT, then the peers its own
    /// lookup of the key finds (the placement rule's order), asked concurrently.
    pub async fn find_manifest(&self, key: DataKey) -> Result<Manifest, ApiError> {
        let unknown = || ApiError::new(ErrorCode::UnknownKey, format!("unknown key {key}"));
        let ask = Request::GetManifest { key };
        if let Ok(Response::Manifest(Some(m))) = self.request(self.local, &ask).await
            && m.verify().is_ok()
            && m.body.key == key
        {
            return Ok(m);
        }
        // The DHT may briefly hold both a manifest and the tombstone that replaces it: a valid
        // tombstone signed by the manifest's owner wins. Anyone can publish a record, so a record
        // signed by someone else is no evidence: candidates of the requester's own lineage are
        // preferred, and candidates of different owners (a forged manifest beside the real one) are an
        // error rather than a guess. Within one lineage the latest epoch counts.
        let records = self.network.send(GetRecord { key: key.0.to_vec() }).await.unwrap_or_default();
        let mut candidates: Vec<Manifest> = Vec::new();
        let mut tombstones = Vec::new();
        for bytes in records {
            match wire::decode::<DhtRecord>(&bytes) {
                Ok(DhtRecord::Manifest(m)) if m.verify().is_ok() && m.body.key == key => candidates.push(m),
                Ok(DhtRecord::Tombstone(t)) if t.body.key == key && t.verify(t.auth.timestamp_ms).is_ok() => {
                    tombstones.push(t.auth.signer);
                }
                _ => tracing::debug!(%key, "ignoring an invalid DHT record"),
            }
        }
        if let Ok(me) = self.identity().await.map(|i| i.pubkey())
            && candidates.iter().any(|m| m.body.owner == me)
        {
            candidates.retain(|m| m.body.owner == me);
        }
        let lineage = candidates.first().map(|m| (m.body.owner, m.body.created_ms));
        if candidates.iter().any(|m| Some((m.body.owner, m.body.created_ms)) != lineage) {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                format!("conflicting manifests for key {key} (different owners): refusing to guess"),
            ));
        }
        if let Some(best) = candidates.into_iter().max_by_key(|m| m.body.epoch) {
            if tombstones.contains(&best.body.owner) {
                return Err(unknown());
            }
            return Ok(best);
        }
        // the key's neighbourhood by this node's own lookup, in the rule's order: its holders are there
        let view = crate::groups::view(&self.network, self.local, key)
            .await
            .map_err(|e| ApiError::new(ErrorCode::Unavailable, e.to_string()))?;
        let mut asks: FuturesUnordered<_> = view
            .order(self.cfg.group_size.max(placement::MIN_GROUP))
            .into_iter()
            .filter(|p| *p != self.local)
            .map(|p| {
                let ask = ask.clone();
                async move { self.request_with_timeout(p, &ask, Duration::from_secs(10)).await }
            })
            .collect();
        while let Some(r) = asks.next().await {
            if let Ok(Response::Manifest(Some(m))) = r
                && m.verify().is_ok()
                && m.body.key == key
            {
                return Ok(m);
            }
        }
        Err(unknown())
    }
}

impl FrontCtx {
    /// The latest verified manifest the holders of `m` (and their successors) report: after a share
    /// repair, a node may still hold the manifest of an earlier epoch.
    pub async fn newest_manifest(&self, m: &Manifest) -> Manifest {
        let key = m.body.key;
        let ask = Request::GetManifest { key };
        let holders: Vec<PeerId> = m.body.holders.iter().filter_map(|h| PeerId::from_bytes(&h.peer).ok()).collect();
        let replies = futures::future::join_all(
            holders.iter().map(|p| self.request_with_timeout(*p, &ask, Duration::from_secs(5))),
        )
        .await;
        let mut best = m.clone();
        for r in replies {
            // only a later epoch of the same lineage (the owner's, repaired by t+1 holders): a
            // holder's self-signed "newer" manifest is ignored
            if let Ok(Response::Manifest(Some(c))) = r
                && c.supersedes(&best.body)
            {
                best = c;
            }
        }
        best
    }
}

/// Maps a peer's error response to a client error.
pub fn peer_error(peer: &PeerId, resp: Response) -> ApiError {
    match resp {
        Response::Error { kind, message } => {
            let code = match kind {
                ErrorKind::UnknownKey => ErrorCode::UnknownKey,
                ErrorKind::AccessDenied => ErrorCode::AccessDenied,
                ErrorKind::TooLarge => ErrorCode::TooLarge,
                ErrorKind::Busy => ErrorCode::Busy,
                _ => ErrorCode::Unavailable,
            };
            ApiError::new(code, format!("{message} (from {peer})"))
        }
        other => ApiError::new(ErrorCode::Unavailable, format!("unexpected response from {peer}: {other:?}")),
    }
}

pub fn now_ms() -> u64 {
    crate::now_ms()
}

/// Runs CPU-heavy pure work off the actor's thread.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(unavailable)
}

pub struct Front {
    ctx: FrontCtx,
}

impl Front {
    pub fn new(ctx: FrontCtx) -> Front {
        Front { ctx }
    }
}

impl Actor for Front {
    type Context = Context<Self>;
}

impl actix::Supervised for Front {}

macro_rules! workflow {
    ($(#[$doc:meta])* $msg:ident { $($field:ident : $ty:ty),* } -> $ret:ty => $func:path) => {
        $(#[$doc])*
        pub struct $msg { $(pub $field: $ty),* }

        impl Message for $msg {
            type Result = Result<$ret, ApiError>;
        }

        impl Handler<$msg> for Front {
            type Result = ResponseFuture<Result<$ret, ApiError>>;
            fn handle(&mut self, msg: $msg, _: &mut Context<Self>) -> Self::Result {
                let ctx = self.ctx.clone();
                let $msg { $($field),* } = msg;
                Box::pin(async move { $func(ctx, $($field),*).await })
            }
        }
    };
}

workflow!(
    /// `gen_key()`: a new identity for this node, returned as (private hex, public hex).
    GenKey {} -> (String, String) => keys::gen_key
);
workflow!(
    /// `get_pubkey()`: compressed public key, hex.
    GetPubkey {} -> String => keys::get_pubkey
);
workflow!(
    /// `get_address()`: P2PKH address of the identity.
    GetAddress {} -> String => keys::get_address
);
workflow!(
    /// `set_privkey(privkey)`: true if the key was valid and is now the node's identity.
    SetPrivkey { privkey: String } -> bool => keys::set_privkey
);
workflow!(
    /// `store(data, decimals, exact)`: shares the value's numbers at the storage scale over a
    /// custody group, returns its key.
    Store { value: Value, scale: NumScale, exact: bool } -> DataKey => store::store
);
workflow!(
    /// `load(key)`: gathers t+1 verified shares and reconstructs the value.
    Load { key: DataKey } -> Value => load::load
);
workflow!(
    /// `delete(key)`: removes every share (owner only); false if the key is unknown.
    Delete { key: DataKey } -> bool => delete::delete
);
workflow!(
    /// `status()` / `peers()`: this node's view of the network.
    Status {} -> NodeStatus => status::status
);
workflow!(
    /// `pair(addresses, keys?, level?, min_count?)`: grant access; returns the policy transaction's txid.
    Pair { addresses: Vec<String>, keys: Option<Vec<DataKey>>, level: Option<String>, min_count: Option<u32> } -> String => pair::pair
);
workflow!(
    /// `revoke(addresses, keys?, level?)`: take access back; returns the txid once every live node has it.
    Revoke { addresses: Vec<String>, keys: Option<Vec<DataKey>>, level: Option<String> } -> String => pair::revoke
);
workflow!(
    /// `policy()`: this identity's current grants.
    Policy {} -> serde_json::Value => policy::policy
);
workflow!(
    /// `ledger_tx(txid)`: raw transaction hex and decoded view.
    LedgerTx { txid: String } -> serde_json::Value => policy::ledger_tx
);
workflow!(
    /// `access_log(key)`: who accessed the key and when (owner only).
    AccessLogOf { key: DataKey } -> serde_json::Value => access_log::access_log
);
workflow!(
    /// `custody_keys()`: the keys this node holds shares of, with their state (read-only).
    CustodyKeys {} -> serde_json::Value => status::custody_keys
);
workflow!(
    /// `group(key)`: the custody group this node's own lookup finds for the key, and who answers.
    GroupOf { key: DataKey } -> serde_json::Value => status::group
);
workflow!(
    /// `manifest(key)`: the key's public custody record (holders, epoch, threshold, shape).
    ManifestOf { key: DataKey } -> Manifest => status::manifest
);
workflow!(
    /// `stats.*` / `linalg.*`: an MPC session on a committee; the result is revealed here only.
    Compute { req: compute::ComputeRequest } -> compute::ComputeOutput => compute::compute
);
