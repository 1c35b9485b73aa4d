//! Enigma's pure protocol code: everything that can be computed without I/O.
//!
//! `protocol/` never imports `actors/` or `node/` (DESIGN §2): the same code runs in unit tests, in
//! the node, and in fuzz targets. Modules, bottom up:
//! - [`field`]: GF(2^127 − 1); [`shamir`]: sharing and reconstruction; [`fixed`]: fixed-point numbers;
//! - [`value`]: the value codec (what users store ↔ field elements + public metadata);
//! - [`identity`]: secp256k1 keys, addresses, signatures; [`keys`]: data keys;
//! - [`manifest`]: owner-signed custody records; [`placement`]: custody groups (rendezvous weight,
//!   the bounded-view rule over Kademlia's XOR-closest candidates, the group check, the simulation);
//! - [`admission`]: who may sit on a committee or a repaired group, which threshold applies, and
//!   whether a grant covers an operation (checked by every node from its own facts);
//! - [`wire`]: node-to-node messages; [`api`]: the client API contract (JSON-RPC);
//! - [`jsonrpc`]: the client socket's request parser (one line → requests, params), fuzzed on its own;
//! - [`credential`]: the TCP client API's token comparison and certificate fingerprints;
//! - [`policy`]: access-control policy transactions in Bitcoin format (build, validate, evaluate);
//! - [`mpc`]: the MPC engine (preprocessing, Beaver/DN multiplication, truncation, comparison,
//!   statistics, linear algebra) over a transport trait.

pub mod admission;
pub mod api;
pub mod credential;
pub mod field;
pub mod fixed;
pub mod identity;
pub mod jsonrpc;
pub mod keys;
pub mod manifest;
pub mod mpc;
pub mod placement;
/// Access-control policy transactions in Bitcoin transaction format (DESIGN §5).
pub mod policy;
pub mod session;
pub mod shamir;
pub mod value;
pub mod wire;

pub use field::Fp;
