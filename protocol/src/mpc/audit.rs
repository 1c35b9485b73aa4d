//! Audit trail of everything a party sees in the clear (tests, and the node's `audit` diagnostics).
//!
//! Owns: the record of each opened value with its kind. Must never be used to make protocol
//! decisions, and is off unless enabled ([`super::Party::enable_audit`]) so production runs do not
//! keep copies of opened values.

use crate::field::Fp;

/// Why a value was visible in the clear.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenKind {
    /// Opened among the committee; uniformly (or statistically, 2^-40) masked by fresh randomness.
    Masked,
    /// A final output, reconstructed by the requester only.
    Output,
    /// A comparison outcome between distinct keys after a secret uniform shuffle (`quantile.rs`):
    /// not masked, but a function of a uniform random permutation alone.
    Outcome,
}

/// One opening: a batch of values opened together in one round.
#[derive(Clone, Debug)]
pub struct AuditEntry {
    pub kind: OpenKind,
    /// Which protocol step opened it (e.g. "beaver", "trunc", "ltz").
    pub label: &'static str,
    pub values: Vec<Fp>,
}
