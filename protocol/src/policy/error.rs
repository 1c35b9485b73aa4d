//! Errors of the policy-transaction code: one enum for the whole pipeline (build → encode →
//! validate → apply) and one for the OP_RETURN payload codec.
//!
//! Owns: the error vocabulary and its one-line messages (callers show them to users as they are).
//! Must never: carry secrets (no private keys, no signatures' nonces) or depend on I/O types.

use crate::identity::AddressError;
use bitcoin::{OutPoint, Txid};

/// Why a payload (the bytes inside the OP_RETURN output) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("payload truncated: needed {needed} more byte(s) at offset {offset}")]
    Truncated { offset: usize, needed: usize },
    #[error("payload does not start with the Enigma magic \"ENIG\"")]
    BadMagic,
    #[error("unsupported policy payload version {0} (this node understands versions 1 and 2)")]
    UnsupportedVersion(u8),
    #[error("unknown policy action byte {0:#04x}")]
    BadAction(u8),
    #[error("unknown access level byte {0:#04x}")]
    BadLevel(u8),
    #[error("unknown scope tag {0:#04x}")]
    BadScope(u8),
    #[error("a key-scoped change must list at least one data key")]
    EmptyScope,
    #[error("too many data keys in scope: {0} (at most {max})", max = super::payload::MAX_SCOPE_KEYS)]
    TooManyKeys(usize),
    #[error("data key {0} is listed twice")]
    DuplicateKey(String),
    #[error("at least one address is required")]
    NoGrantees,
    #[error("too many addresses: {0} (at most {max})", max = super::payload::MAX_GRANTEES)]
    TooManyGrantees(usize),
    #[error("grantee script {0} is not a standard mainnet address script")]
    BadScript(String),
    #[error("address {0} is listed twice")]
    DuplicateGrantee(String),
    #[error("only a grant carries a min_count")]
    MinCountOnRevoke,
    #[error("min_count {0} is out of range (1 to {max})", max = super::payload::MAX_MIN_COUNT)]
    BadMinCount(u32),
    #[error("{0} unexpected byte(s) after the payload")]
    TrailingBytes(usize),
}

/// Why a policy transaction could not be built, was refused, or could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A user-supplied address is unusable (bad checksum, wrong network, garbage). The message
    /// names the address.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// The bytes are not a Bitcoin transaction (consensus decoding failed or left bytes over).
    #[error("transaction does not decode: {0}")]
    Decode(String),
    /// The transaction decodes but is not shaped like a policy transaction.
    #[error("not a policy transaction: {0}")]
    Structure(String),
    /// The OP_RETURN payload is malformed.
    #[error("malformed policy payload: {0}")]
    Payload(#[from] PayloadError),
    /// The witness public key is not a valid compressed secp256k1 key.
    #[error("witness public key is not a valid compressed secp256k1 key")]
    BadOwnerKey,
    /// The witness signature does not verify against the BIP143 sighash for the witness key.
    #[error("bad signature: {0}")]
    BadSignature(String),
    /// The transaction is already in the ledger (same txid). Callers treat this as a no-op.
    #[error("transaction {0} is already in the ledger")]
    AlreadyKnown(Txid),
    /// The input spends something that cannot be this owner's chain (wrong vout, another owner's
    /// transaction, or not the tip the state expects).
    #[error("transaction {txid} does not extend its owner's chain: {reason}")]
    BrokenLink { txid: Txid, reason: String },
    /// The previous policy transaction is not known here: the node should sync it and retry.
    #[error("transaction {txid} spends unknown policy transaction {prev}; sync the ledger and retry")]
    UnknownPrevious { txid: Txid, prev: Txid },
    /// Two different valid transactions of the same owner spend the same outpoint. `existing` is
    /// the one already in the ledger; `conflicting` is the refused one.
    #[error("fork: transaction {conflicting} spends {outpoint}, already spent by {existing}")]
    Fork { outpoint: OutPoint, existing: Txid, conflicting: Txid },
    /// The transaction builds on a transaction that was refused as one side of a fork (or on a
    /// descendant of one).
    #[error("transaction {txid} extends {prev}, which lost a fork")]
    ExtendsFork { txid: Txid, prev: Txid },
    /// Signing failed inside the `bitcoin` crate's sighash machinery (should not happen for a
    /// transaction built here).
    #[error("cannot sign policy transaction: {0}")]
    Signing(String),
}
