//! `status()` and `peers()`: what this node sees of the network.
//!
//! Owns: the node summary clients print. Must never: include secrets (the identity appears as its
//! public key and address only).

use super::FrontCtx;
use crate::network::GetView;
use enigma_protocol::api::{ApiError, ErrorCode};

/// This node's summary.
#[derive(Clone, Debug, serde::Serialize)]
pub struct NodeStatus {
    pub peer_id: String,
    pub listen: Vec<String>,
    pub peers: Vec<PeerSummary>,
    pub pubkey: String,
    pub address: String,
    pub version: String,
    /// The MPC security mode: `active` or `semi-honest` (`--mpc-security`).
    pub mpc_security: String,
    /// Committed shares this node holds.
    pub held_shares: usize,
    /// Shares received for stores that have not committed (yet).
    pub pending_shares: usize,
    /// Peers this node has cut off for misbehaving (until their ban ends), with why.
    pub banned_peers: Vec<BannedPeer>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct BannedPeer {
    pub peer_id: String,
    pub reason: String,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct PeerSummary {
    pub peer_id: String,
    pub addrs: Vec<String>,
}

pub async fn status(ctx: FrontCtx) -> Result<NodeStatus, ApiError> {
    let view =
        ctx.network.send(GetView).await.map_err(|e| ApiError::new(ErrorCode::Internal, format!("network: {e}")))?;
    let id = ctx.identity().await?;
    let held = held_records(&ctx).await?;
    let committed = held.iter().filter(|r| r.state == crate::custody::ShareState::Committed).count();
    Ok(NodeStatus {
        peer_id: view.local.to_string(),
        listen: view.listen.iter().map(|a| a.to_string()).collect(),
        peers: view
            .peers
            .into_iter()
            .map(|(p, a)| PeerSummary { peer_id: p.to_string(), addrs: a.iter().map(|x| x.to_string()).collect() })
            .collect(),
        pubkey: id.public_hex(),
        address: id.address(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        mpc_security: ctx.cfg.mpc_security.to_string(),
        held_shares: committed,
        pending_shares: held.len() - committed,
        banned_peers: view
            .banned
            .into_iter()
            .map(|(p, reason)| BannedPeer { peer_id: p.to_string(), reason })
            .collect(),
    })
}

/// Every share record this node holds (pending and committed).
async fn held_records(ctx: &FrontCtx) -> Result<Vec<crate::custody::ShareRecord>, ApiError> {
    let custody = |e: &dyn std::fmt::Display| ApiError::new(ErrorCode::Internal, format!("custody: {e}"));
    ctx.custody.send(crate::custody::Held).await.map_err(|e| custody(&e))?.map_err(|e| custody(&e))
}

/// The manifest of a key, its latest epoch as the holders report it.
pub async fn manifest(
    ctx: FrontCtx,
    key: enigma_protocol::keys::DataKey,
) -> Result<enigma_protocol::manifest::Manifest, ApiError> {
    let m = ctx.find_manifest(key).await?;
    Ok(ctx.newest_manifest(&m).await)
}

/// `custody_keys()`: every key this node holds a share of, as `{key, state, epoch, owner, bytes}` (state `pending`
/// or `committed`). Public metadata only, like `status()`: no share, no salt.
pub async fn custody_keys(ctx: FrontCtx) -> Result<serde_json::Value, ApiError> {
    let held = held_records(&ctx).await?;
    Ok(serde_json::Value::Array(
        held.iter()
            .map(|r| {
                let state = match r.state {
                    crate::custody::ShareState::Pending => "pending",
                    crate::custody::ShareState::Committed => "committed",
                };
                let b = &r.manifest.body;
                // a share is one field element (16 bytes) per element of the value
                let bytes = b.meta.element_count().map(|n| n as u64 * 16);
                serde_json::json!({
                    "key": b.key.to_hex(), "state": state, "epoch": b.epoch,
                    "owner": hex::encode(b.owner), "bytes": bytes,
                })
            })
            .collect(),
    ))
}

/// `group(key)`: the custody group this node's own lookup finds for a key (the placement rule over
/// the key's ≤ 20 XOR-closest peers and this node, `groups`), and which members answer a request
/// now. It is the group a store from this node would use, whether or not the key exists; a devnet is
/// ready when every node finds the group of a probe key and reaches it.
pub async fn group(ctx: FrontCtx, key: enigma_protocol::keys::DataKey) -> Result<serde_json::Value, ApiError> {
    let view = crate::groups::view(&ctx.network, ctx.local, key)
        .await
        .map_err(|e| ApiError::new(ErrorCode::Unavailable, e.to_string()))?;
    let n = enigma_protocol::placement::group_size(ctx.cfg.group_size, view.len())
        .map_err(|e| ApiError::new(ErrorCode::NotEnoughNodes, e.to_string()))?;
    let group = view.group(n);
    let ping = enigma_protocol::wire::Request::GetManifest { key };
    let answers = futures::future::join_all(
        group.iter().map(|p| ctx.request_with_timeout(*p, &ping, std::time::Duration::from_secs(10))),
    )
    .await;
    Ok(serde_json::json!({
        "key": key.to_hex(),
        "view": view.len(),
        "group": group.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "reached": answers.iter().map(|r| matches!(r, Ok(enigma_protocol::wire::Response::Manifest(_)))).collect::<Vec<_>>(),
    }))
}
