//! Square roots of exact secret integers by secret normalisation and Newton–Raphson.
//!
//! Owns: `normalise` (from the bits of W: the one-hot of its most significant bit, a mantissa
//! M ∈ [2^(F−2), 2^F) with W ≈ M·4^s, and the one-hot of the secret exponent s), `inv_sqrt` and `sqrt_mantissa`.
//! Must never open the exponent s or the mantissa: s only ever appears inside secret linear
//! combinations of the one-hot bits.
//!
//! Normalisation costs one suffix-OR (7 rounds) and one degree reduction: M = Σ_j e_j·⌊W/4^s(j)⌋,
//! where e is the one-hot of the top bit and each ⌊W/4^s(j)⌋ is a public linear combination of W's
//! bits, so the whole sum is one inner product. s(j) = ⌊(j − F + 2)/2⌋ makes the shift even, so
//! √W = √M·2^s exactly up to M's truncation (relative 2^-(F−2)).
//!
//! Newton ranges (F = 34): z = M/2^F ∈ [1/4, 1) (or 0 when W = 0), y ≤ 2^5 even when z = 0 (y grows
//! by 3/2 per step from y0 < 2.5), so every product is below 2^(2F+10) = 2^78 and each truncation
//! leaves κ = 40 bits of masking (checked again by `trunc::plan`).

use super::bits::FIELD_BITS;
use super::bounds::NEWTON_F;
use super::{MpcError, Party, Transport};
use crate::field::Fp;

/// Shift s(j) for a top bit at position j (may be negative).
fn shift(j: usize) -> i32 {
    (j as i32 - NEWTON_F as i32 + 2).div_euclid(2)
}

/// Smallest and largest exponent s(j) over j < 127.
pub(crate) fn s_range() -> (i32, i32) {
    (shift(0), shift(FIELD_BITS - 1))
}

/// Result of [`Party::normalise`], per element.
pub(crate) struct Normalised {
    /// Mantissa M ∈ [2^(F−2), 2^F) at scale 2^F (0 when W = 0).
    pub mant: Vec<Fp>,
    /// One-hot of s − s_min (64 entries per element; all zero when W = 0).
    pub onehot_s: Vec<Vec<Fp>>,
    /// [W ≠ 0].
    pub nonzero: Vec<Fp>,
}

/// Number of Newton iterations for 1/√z from the chord start (error ≤ 1/4 → 2^-40 after 5).
const INV_SQRT_ITERS: usize = 5;

/// The truncation pairs of [`Party::sqrt_mantissa`] on `count` elements (its products and the
/// normalisation's bits are planned by the caller).
pub(crate) fn sqrt_mantissa_pairs(needs: &mut super::prep::Needs, count: usize, t: usize) -> Result<(), MpcError> {
    let f = NEWTON_F;
    for (d, bound, times) in [
        (1u128 << f, 2 * f + 2, 1),
        (1u128 << f, 2 * f + 10, 2 * INV_SQRT_ITERS),
        (1u128 << (f + 1), 2 * f + 10, INV_SQRT_ITERS),
        (1u128 << f, 2 * f + 6, 1),
    ] {
        let (spec, _) = super::trunc::plan(d, bound, t)?;
        needs.pair(spec, count * times);
    }
    Ok(())
}

/// Per element: the product terms of a mantissa, the one-hot of s − s_min, and [W ≠ 0].
pub(crate) type NormTerms = (Vec<Vec<(Fp, Fp)>>, Vec<Vec<Fp>>, Vec<Fp>);

/// The local part of [`Party::normalise`] from W's bits and their suffix-OR `ys` (both 127 per
/// element): per element the product terms whose sum is M·2^extra = ⌊W·2^extra / 4^s⌋ (a mantissa
/// in [2^(F−2+extra), 2^(F+extra)), exact when 2s ≤ extra), the one-hot of s − s_min and [W ≠ 0].
/// `extra` ≤ 127 − F keeps every shifted bit of the top term inside the field.
pub(crate) fn normalise_terms(wbits: &[Fp], ys_all: &[Fp], count: usize, extra: u32) -> NormTerms {
    let m = FIELD_BITS;
    let (smin, smax) = s_range();
    let mut local = Vec::with_capacity(count);
    let mut onehot_s = Vec::with_capacity(count);
    let mut nonzero = Vec::with_capacity(count);
    for e in 0..count {
        let mut oh = vec![Fp::ZERO; (smax - smin + 1) as usize];
        let b = &wbits[e * m..(e + 1) * m];
        let ys = &ys_all[e * m..(e + 1) * m];
        let mut acc: Vec<(Fp, Fp)> = Vec::with_capacity(m);
        for j in 0..m {
            let onehot = ys[j] - if j + 1 < m { ys[j + 1] } else { Fp::ZERO };
            oh[(shift(j) - smin) as usize] += onehot;
            // ⌊W·2^extra / 4^s(j)⌋ as a linear combination of W's bits (bits above j are 0 when
            // this term is selected, so the ones dropped at 2^127 and above never matter)
            acc.push((onehot, bits_shifted(b, 2 * shift(j) - extra as i32)));
        }
        local.push(acc);
        onehot_s.push(oh);
        nonzero.push(ys[0]);
    }
    (local, onehot_s, nonzero)
}

/// ⌊W / 2^s2⌋ (a left shift when s2 < 0) as a public linear combination of W's bits, keeping the
/// terms below 2^127.
pub(crate) fn bits_shifted(bits: &[Fp], s2: i32) -> Fp {
    let mut vj = Fp::ZERO;
    for (i, bi) in bits.iter().enumerate() {
        let e2 = i as i32 - s2;
        if (0..127).contains(&e2) {
            vj += *bi * Fp::new(1u128 << e2);
        }
    }
    vj
}

impl<T: Transport> Party<T> {
    /// For each element (127 bits each, element-major): (M, one-hot) with M ∈ [2^(F−2), 2^F) the
    /// mantissa at scale 2^F (0 when W = 0) and the one-hot of s, so W ≈ M·4^s.
    pub(crate) async fn normalise(&mut self, wbits: &[Fp], count: usize) -> Result<Normalised, MpcError> {
        let y = self.suffix_or(wbits, count, FIELD_BITS).await?;
        let (local, onehot_s, nonzero) = normalise_terms(wbits, &y, count, 0);
        let mant = self.sum_products(&local).await?;
        Ok(Normalised { mant, onehot_s, nonzero })
    }

    /// 1/√z at scale 2^F for z ∈ [1/4, 1) at scale 2^F (z = 0 gives a bounded value ≤ 2^5).
    pub async fn inv_sqrt(&mut self, z: &[Fp]) -> Result<Vec<Fp>, MpcError> {
        let f = NEWTON_F;
        let one = 1u128 << f;
        // y0 = 7/3 − (4/3)z, the chord of 1/√z on [1/4, 1]: relative error ≤ 0.18.
        let c0 = Fp::new(7 * one / 3);
        let c1 = Fp::new(4 * one / 3);
        let y0: Vec<Fp> = z.iter().map(|z| *z * c1).collect();
        let y0 = self.trunc(&y0, f, 2 * f + 2).await?;
        let mut y: Vec<Fp> = y0.iter().map(|v| c0 - *v).collect();
        for _ in 0..INV_SQRT_ITERS {
            // y ← y·(3 − z·y²)/2
            let y2 = self.mul(&y, &y).await?;
            let y2 = self.trunc(&y2, f, 2 * f + 10).await?;
            let zy2 = self.mul(z, &y2).await?;
            let zy2 = self.trunc(&zy2, f, 2 * f + 10).await?;
            let three: Vec<Fp> = zy2.iter().map(|v| Fp::new(3 * one) - *v).collect();
            let ny = self.mul(&y, &three).await?;
            y = self.trunc(&ny, f + 1, 2 * f + 10).await?;
        }
        Ok(y)
    }

    /// For exact secret integers W ≥ 0 given by their bits: (Q, normalisation) with
    /// √W ≈ Q·2^(s − F/2), s the secret exponent of the normalisation (its one-hot is
    /// `onehot_s`, index s − s_min). Q = √M·2^(F/2) < 2^(F + 6) statically (truncation bound below).
    pub(crate) async fn sqrt_mantissa(
        &mut self,
        wbits: &[Fp],
        count: usize,
    ) -> Result<(Vec<Fp>, Normalised), MpcError> {
        let nm = self.normalise(wbits, count).await?;
        let y = self.inv_sqrt(&nm.mant).await?;
        let sq = self.mul(&nm.mant, &y).await?;
        let sq = self.trunc(&sq, NEWTON_F, 2 * NEWTON_F + 6).await?;
        Ok((sq, nm))
    }
}
