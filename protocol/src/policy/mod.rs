//! Access-control policy transactions (DESIGN §5): Bitcoin-format transactions, one chain per
//! owner, each carrying a grant or revocation in an OP_RETURN output.
//!
//! Owns: pure policy-transaction logic.
//! Must never: do I/O, hold actors, read the clock, or persist.
//!
//! Files, one responsibility each:
//! - [`payload`]: the OP_RETURN payload codec;
//! - [`error`]: the error enums.

pub mod error;
pub mod payload;

pub use error::{PayloadError, PolicyError};
pub use payload::{Action, DataKey, Level, Payload, Scope};
