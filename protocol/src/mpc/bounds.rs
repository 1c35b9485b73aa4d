//! Static bounds the planning code of every op shares: the size of stored values, the precision of
//! the Newton iterations, and ⌈log2⌉ for sizing masks and certificates.
//!
//! Owns: these constants and pure integer helpers. A leaf: it imports no other mpc module (not even
//! `Party`), so any op file may use it without importing another op file. Must never: hold protocol
//! code or anything that depends on a party, a share or a threshold.

/// Static bound (bits) of stored values: |rep| < 2^62.
pub(crate) const STORED_BITS: u32 = 62;

/// Fixed-point fractional bits of the Newton iterations (see `sqrt.rs` for the range argument).
pub(crate) const NEWTON_F: u32 = 34;

/// ⌈log2 v⌉ for v ≥ 1.
pub(crate) fn clog2(v: u128) -> u32 {
    if v <= 1 { 0 } else { 128 - (v - 1).leading_zeros() }
}
