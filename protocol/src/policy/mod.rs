//! Access-control policy transactions (DESIGN §5): Bitcoin-format transactions, one chain per
//! owner, each carrying a grant or revocation in an OP_RETURN output.
//!
//! Owns: pure policy-transaction logic — building and signing, encoding and decoding, validation
//! (signature, chain link, forks), and evaluating who may do what on which key.
//! Must never: do I/O, hold actors, read the clock, or persist; the Ledger actor wires this in.
//! The format and the design decisions are in `docs/ledger.md`.
//!
//! Files, one responsibility each:
//! - [`payload`]: the OP_RETURN payload codec;
//! - [`tx`]: transaction layout, genesis outpoint, build/sign, encode/decode, context-free checks;
//! - [`chain`]: chain rules against a ledger view, the in-memory chain index, fork evidence;
//! - [`state`]: grant/revoke semantics and `may`;
//! - [`decoded`]: the JSON view for `enigma.ledger_tx`;
//! - [`book`]: the consistent whole the Ledger actor holds;
//! - [`error`]: the error enums.

pub mod book;
pub mod chain;
pub mod decoded;
pub mod error;
pub mod payload;
pub mod state;
pub mod tx;

#[cfg(test)]
mod tests;

pub use book::PolicyBook;
pub use chain::{ChainIndex, ChainView, ForkEvidence, ValidTx, validate};
pub use decoded::view;
pub use error::{PayloadError, PolicyError};
pub use payload::{Action, DEFAULT_MIN_COUNT, DataKey, Level, Payload, Scope};
pub use state::{Grant, PolicyState, requester_scripts};
pub use tx::{CheckedTx, PolicyChange, build_policy_tx, check_tx, decode_tx, encode_tx, genesis_outpoint};
