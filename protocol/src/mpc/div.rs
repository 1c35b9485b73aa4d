//! Division of exact secret integers by public constants, from their bits; and the secret
//! reciprocal (Newton–Raphson) of a normalised secret.
//!
//! Owns: `bits_times_const` (Σ_i b_i·round(2^(i+f)/D): a public linear combination of shared bits,
//! so it opens nothing and has no range condition beyond the constants fitting), `div_bits` (the
//! same division rounded to an integer within t/2 + 1 units, used to put results at the storage
//! scale) and `recip`. Must never divide a value that is not given by its exact bits (use
//! `trunc.rs` for those).
//!
//! Error of `bits_times_const`: each constant is rounded by ≤ 1/2, so the result is within
//! (number of set bits)/2 ≤ 64 units of 2^f·x/D, where x = Σ 2^i b_i exactly.
//!
//! `div_bits`: with 2^i = D·q_i + r_i (public, exact), X = D·Σ b_i q_i + L where L = Σ b_i r_i is
//! small (L < nbits·D) whatever X is. So ⌊(X − s)/D⌋ = Σ b_i q_i − ⌊s/D⌋ + ⌊(L − s mod D)/D⌋: the
//! first part is exact and local, and only L — a value with a static bound of log2(nbits·D) bits,
//! not the size of X — goes through one probabilistic division (`trunc.rs`, statistically masked),
//! centred by subtracting ⌊t·D/2⌋ first. The result is within t/2 + 1 units of (X − s)/D.

use super::bounds::{NEWTON_F, clog2};
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

/// Static bound (bits) of the remainder part L − s mod D − ⌊t·D/2⌋ of `div_bits`:
/// it lies in (−(t/2 + 1)·D, nbits·D).
pub(crate) fn div_bits_bound(nbits: usize, d: u128, t: usize) -> u32 {
    clog2((nbits as u128 + t as u128 + 1).saturating_mul(d))
}

/// Preprocessing of one `div_bits` element.
pub(crate) fn div_bits_needs(nbits: usize, d: u128, t: usize, count: usize) -> Result<super::prep::Needs, MpcError> {
    let mut needs = super::prep::Needs::default();
    if d > 1 {
        let (spec, _) = super::trunc::plan(d, div_bits_bound(nbits, d, t), t)?;
        needs.pair(spec, count);
    }
    Ok(needs)
}

impl<T: Transport> Party<T> {
    /// (X − sub)/d rounded to an integer within t/2 + 1 units, for exact secret integers
    /// 0 ≤ X < 2^nbits given by their bits (127 per element, element-major). See the module doc.
    pub(crate) async fn div_bits(
        &mut self,
        bits: &[Fp],
        nbits: usize,
        d: u128,
        sub: u128,
    ) -> Result<Vec<Fp>, MpcError> {
        let m = super::bits::FIELD_BITS;
        if d == 0 || nbits > m || !bits.len().is_multiple_of(m) {
            return Err(MpcError::Config(format!("div_bits of {nbits} of {} bits by {d}", bits.len())));
        }
        let count = bits.len() / m;
        let c = (self.t as u128).saturating_mul(d) / 2;
        let (qs, sq) = (sub / d, sub % d);
        let mut hi = Vec::with_capacity(count);
        let mut lo = Vec::with_capacity(count);
        for e in 0..count {
            let (mut h, mut l) = (Fp::ZERO, Fp::ZERO);
            for (i, b) in bits[e * m..e * m + nbits].iter().enumerate() {
                let p = 1u128 << i;
                h += *b * Fp::new(p / d);
                l += *b * Fp::new(p % d);
            }
            hi.push(h - Fp::new(qs));
            lo.push(l - Fp::new(sq) - Fp::new(c));
        }
        if d == 1 {
            return Ok(hi); // L = 0: exact
        }
        let lo = self.trunc_div(&lo, d, div_bits_bound(nbits, d, self.t)).await?;
        Ok(hi.iter().zip(&lo).map(|(h, l)| *h + *l).collect())
    }

    /// 1/z at scale 2^NEWTON_F for secret z ∈ [1/4, 1) given at scale 2^NEWTON_F (or z = 0, which
    /// yields a bounded garbage value the callers multiply by 0). Newton–Raphson y ← y(2 − zy) from
    /// the chord y0 = 5 − 4z, whose relative error 1 − z·y0 = (4z − 1)(z − 1) lies in [−9/16, 0]
    /// (its extreme at z = 5/8), so 6 iterations leave (9/16)^64 < 2^-53: 2^-34 relative, the
    /// fixed point's own precision.
    pub async fn recip(&mut self, z: &[Fp]) -> Result<Vec<Fp>, MpcError> {
        let f = NEWTON_F;
        let one = 1u128 << f;
        // chord through (1/4, 4) and (1, 1): y0 = 5 − 4z ≥ 1/z, within a factor 25/16 of it on [1/4, 1]
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
