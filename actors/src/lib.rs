//! Enigma's actors (DESIGN §2): one responsibility each, talking only through typed messages.
//!
//! - [`front`]: one client request → one workflow (store, load, delete, keys, status …);
//! - [`network`]: the libp2p swarm (driver task) and the peer table; [`router`]: inbound requests;
//! - [`custody`]: this node's shares in LMDB; [`upkeep`]: a holder's background duties (recovery,
//!   tombstones, share repair);
//! - [`groups`]: who is the custody group of a key (this node's own lookup and the placement rule);
//! - [`keystore`]: the node's secp256k1 identity;
//! - [`system`]: starts them all for one node.
//!
//! Layers, bottom to top (a module imports only lower ones; docs/decisions.md "Layering", checked by
//! `tests/layering.rs`): `network`, `custody`, `keystore` → `ledger`, `groups` → `sessions` → `upkeep`,
//! `router` → `front` → `system`. Inbound requests go up as a message (`network::InboundRequest`),
//! never as a handle on the router.
//!
//! `actors/` never imports `node/`; pure logic lives in `enigma_protocol`.

pub mod cancel;
pub mod counters;
pub mod custody;
pub mod front;
pub mod groups;
pub mod keystore;
pub mod ledger;
pub mod network;
pub mod router;
pub mod sessions;
pub mod system;
pub mod upkeep;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
