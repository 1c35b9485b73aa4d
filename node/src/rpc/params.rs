//! JSON-RPC parameters: named (an object) or positional (an array), with strict checking.
//!
//! The parser is pure and lives in `enigma_protocol::jsonrpc` (so it is unit-tested and fuzzed
//! without the node); this module only names it for the dispatcher.

pub use enigma_protocol::jsonrpc::Params;
