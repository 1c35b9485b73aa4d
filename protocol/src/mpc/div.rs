//! Division of exact secret integers by public constants, from their bits; and the secret
//! reciprocal (Newton–Raphson) of a normalised secret.
//!
//! Owns: `bits_times_const` (Σ_i b_i·round(2^(i+f)/D): a public linear combination of shared bits,
//! so it opens nothing and has no range condition beyond the constants fitting) and `recip`.
//! Must never divide a value that is not given by its exact bits (use `trunc.rs` for those).
//!
//! Error of `bits_times_const`: each constant is rounded by ≤ 1/2, so the result is within
//! (number of set bits)/2 ≤ 64 units of 2^f·x/D, where x = Σ 2^i b_i exactly.

use super::{MpcError, Party, Transport};
use crate::field::Fp;

/// round(2^e / d) for e ≤ 126.
pub(crate) fn round_pow2_div(e: u32, d: u128) -> u128 {
    debug_assert!(e <= 126 && d > 0);
    ((1u128 << e) + d / 2) / d
}

/// Σ_{i < nbits} b_i·round(2^(i+f)/d) for one element's bits. Requires nbits − 1 + f ≤ 126.
pub(crate) fn bits_times_const(bits: &[Fp], nbits: usize, f: u32, d: u128) -> Result<Fp, MpcError> {
    if nbits == 0 {
        return Ok(Fp::ZERO);
    }
    if nbits as u32 - 1 + f > 126 || d == 0 {
        return Err(MpcError::OutOfRange(format!("scaling {nbits} bits by 2^{f}/{d} does not fit the field")));
    }
    let mut acc = Fp::ZERO;
    for (i, b) in bits.iter().take(nbits).enumerate() {
        acc += *b * Fp::new(round_pow2_div(i as u32 + f, d));
    }
    Ok(acc)
}

/// Fixed-point fractional bits of the Newton iterations (see `sqrt.rs` for the range argument).
pub(crate) const NEWTON_F: u32 = 34;

impl<T: Transport> Party<T> {
    /// 1/z at scale 2^NEWTON_F for secret z ∈ [1/4, 1) given at scale 2^NEWTON_F (or z = 0, which
    /// yields a bounded garbage value the callers multiply by 0). Newton–Raphson y ← y(2 − zy) from
    /// the chord y0 = 5 − 4z·... (error ≤ 1/3), 6 iterations: 2^-34 relative.
    pub async fn recip(&mut self, z: &[Fp]) -> Result<Vec<Fp>, MpcError> {
        let f = NEWTON_F;
        let one = 1u128 << f;
        // chord through (1/4, 4) and (1, 1): y0 = 5 − 4z, within a factor (1 ± 1/3) of 1/z on [1/4,1]
        let mut y: Vec<Fp> = z.iter().map(|z| Fp::new(5 * one) - *z * Fp::from_u64(4)).collect();
        for _ in 0..6 {
            let zy = self.mul(z, &y).await?;
            let zy = self.trunc(&zy, f, 2 * f + 4).await?;
            let two_minus: Vec<Fp> = zy.iter().map(|v| Fp::new(2 * one) - *v).collect();
            let ny = self.mul(&y, &two_minus).await?;
            y = self.trunc(&ny, f, 2 * f + 6).await?;
        }
        Ok(y)
    }
}
