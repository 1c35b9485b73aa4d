//! The client socket (JSON-RPC 2.0 over a Unix socket and optional TCP): [`server`] handles
//! connections and framing, [`params`] checks parameters, [`dispatch`] maps methods to Front messages.

pub mod dispatch;
pub mod params;
pub mod server;
