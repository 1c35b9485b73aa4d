//! The client socket (JSON-RPC 2.0 over a Unix socket and optional TCP): [`server`] handles
//! connections and framing, [`params`] checks parameters, [`dispatch`] maps methods to Front messages,
//! [`credential`] and [`tls`] own what a TCP connection must show (a token) and how it is carried
//! (TLS off loopback).

pub mod credential;
pub mod dispatch;
pub mod params;
pub mod server;
pub mod tls;
