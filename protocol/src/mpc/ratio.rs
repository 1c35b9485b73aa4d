//! Normalised ratios of exact secret aggregates, the kernel of correlation matrices, t statistics
//! and multiple regression: r = A/√(B·C) (a correlation), ρ = A/√B (bounded) and u = √(C/B) (with
//! a secret exponent), for exact secret integers A (signed), B, C ≥ 0 given by their bits.
//!
//! Owns: [`Normed`] (the secret normalisation of a batch of non-negative exact integers with their
//! Newton inverse square roots), joint one-hots of sums and differences of two secret exponents,
//! exact shifts of a decomposed value by a secret exponent, and the three ratios. Must never open
//! an exponent, a mantissa or an aggregate: every product below goes through `mul` or
//! `inner_products`, every opening is the mask of `decompose`, `trunc`, `mul`, `inner_products` or
//! the normalisation's own reductions (`sqrt.rs`), and the ratios are returned as shares.
//!
//! **Security argument.** The committee computes, from the bits of A + 2^126, B and C (exact
//! decompositions: one opening of x + r with r uniform over 127 bits), the one-hot vectors of the
//! exponents s with B ≈ M·4^s (`normalise`, whose openings are degree-reduction masks), then only
//! public linear combinations of shared bits and one-hot entries, inner products of them
//! (`inner_products`: one opened element per output, masked by a fresh double sharing) and Beaver
//! products with truncations (masked by fresh triples, and statistically by truncation pairs). Every
//! truncated value has a static bound whatever the data: the mantissas are < 2^F, the inverse square
//! roots ≤ 2^(F+5) (`sqrt.rs`), and the shifted numerators |A''| are < 2^(F+1) by Cauchy–Schwarz
//! (|A| ≤ √(B·C)) *when the caller's range certificate holds* — so the caller passes that
//! certificate's flag, and A'' is multiplied by it before any truncation (a failing certificate
//! gives A'' = 0, never an out-of-bound truncation). Nothing is opened but masked values.
//!
//! Precision (F = NEWTON_F = 34): r and ρ within ~2^-32 absolute (the numerator's shift rounds to
//! an integer of F bits, the Newton inverse square roots are 2^-40 relative); u within ~2^-32
//! relative, with its exponent window [2^-U_LOW, 2^(U_HIGH+1)).

use super::bits::FIELD_BITS;
use super::bounds::NEWTON_F;
use super::spec::Scale;
use super::sqrt::s_range;
use super::{MpcError, Party, Transport};
use crate::field::Fp;

/// Output window of u = √(C/B): u_rep = u·2^(F + U_LOW); u below 2^-U_LOW reads as 0, u of
/// 2^(U_HIGH+1) or more sets the range flag. F + U_LOW + U_HIGH + 2 < 126 keeps u_rep in the field.
pub(crate) const U_LOW: i32 = 44;
pub(crate) const U_HIGH: i32 = 44;
/// Offset of a signed numerator's decomposition: A + 2^126 ∈ [0, 2^127) for |A| < 2^126.
pub(crate) const SIGNED_OFF: u32 = 126;

/// The scale of u outputs (see [`U_LOW`]).
pub(crate) fn u_scale() -> Scale {
    Scale::bin(NEWTON_F as i32 + U_LOW, 1.0)
}

/// Width of a normalisation's one-hot (exponents s_min..=s_max).
pub(crate) fn onehot_width() -> usize {
    let (smin, smax) = s_range();
    (smax - smin + 1) as usize
}

/// A batch of non-negative exact integers V ≈ M·4^s, normalised.
pub(crate) struct Normed {
    /// M ∈ [2^(F−2), 2^F) at scale 2^F (0 when V = 0).
    pub mant: Vec<Fp>,
    /// 1/√(M/2^F) at scale 2^F (≤ 2^(F+5) even when V = 0).
    pub y: Vec<Fp>,
    /// The one-hot of s − s_min, per element (all zero when V = 0).
    pub onehot: Vec<Vec<Fp>>,
    /// [V ≠ 0].
    pub nonzero: Vec<Fp>,
}

/// Share of ⌊v / 2^σ⌋ for a secret v given both as a sharing `v` and by the bits of v + 2^off:
/// a public linear combination of the bits for σ ≥ 0, v·2^(−σ) for σ < 0 (the caller guarantees
/// |v|·2^(−σ) fits, see the callers). Local, no communication.
pub(crate) fn shifted(bits: &[Fp], v: Fp, sigma: i32, off: u32) -> Fp {
    if sigma < 0 {
        return v * Fp::new(1u128 << (-sigma).min(126));
    }
    let s = sigma as usize;
    let mut acc = Fp::ZERO;
    for (i, b) in bits.iter().enumerate().skip(s) {
        acc += *b * Fp::new(1u128 << (i - s));
    }
    if (sigma as u32) <= off { acc - Fp::new(1u128 << (off - sigma as u32)) } else { acc }
}

impl<T: Transport> Party<T> {
    /// Normalises exact non-negative integers given by their bits (127 per element) and computes
    /// their Newton inverse square roots.
    pub(crate) async fn normed(&mut self, bits: &[Fp], count: usize) -> Result<Normed, MpcError> {
        if count == 0 {
            return Ok(Normed { mant: vec![], y: vec![], onehot: vec![], nonzero: vec![] });
        }
        let nm = self.normalise(bits, count).await?;
        let y = self.inv_sqrt(&nm.mant).await?;
        Ok(Normed { mant: nm.mant, y, onehot: nm.onehot_s, nonzero: nm.nonzero })
    }

    /// For each pair (a, b) of one-hots of width w: the one-hot of s_a + s_b (index s_a + s_b −
    /// 2·s_min, width 2w − 1) when `diff` is false, of s_b − s_a (index s_b − s_a + w − 1) when it is
    /// true. One round for the whole batch ([`Party::onehot_combination`]).
    pub(crate) async fn joint_onehots(
        &mut self,
        pairs: &[(&[Fp], &[Fp])],
        diff: bool,
    ) -> Result<Vec<Vec<Fp>>, MpcError> {
        let w = pairs.first().map_or(0, |(ua, _)| ua.len()) as i64;
        if pairs.iter().any(|(ua, ub)| ua.len() as i64 != w || ub.len() as i64 != w) {
            return Err(MpcError::Shape("one-hots of different widths".into()));
        }
        // sum: index a + b; difference: b − a + w − 1
        let value = |a: i64, b: i64| if diff { b - a + w - 1 } else { a + b };
        self.onehot_combination(pairs, value, 0, 2 * w - 2).await
    }

    /// For each pair of one-hots (a over its indices, b over its indices) and each value v in
    /// [lo, hi]: the share of [value(ia, ib) = v] = Σ_{value(ia, ib) = v} a[ia]·b[ib] (the one-hot
    /// of a public function of two secret exponents; values outside [lo, hi] are dropped). One
    /// inner product per entry, one round for the whole batch.
    pub(crate) async fn onehot_combination(
        &mut self,
        pairs: &[(&[Fp], &[Fp])],
        value: impl Fn(i64, i64) -> i64,
        lo: i64,
        hi: i64,
    ) -> Result<Vec<Vec<Fp>>, MpcError> {
        let width = (hi - lo + 1).max(0) as usize;
        let mut vecs: Vec<(Vec<Fp>, Vec<Fp>)> = vec![(Vec::new(), Vec::new()); pairs.len() * width];
        for (p, (ua, ub)) in pairs.iter().enumerate() {
            for (ia, xa) in ua.iter().enumerate() {
                for (ib, xb) in ub.iter().enumerate() {
                    let v = value(ia as i64, ib as i64);
                    if (lo..=hi).contains(&v) {
                        let slot = &mut vecs[p * width + (v - lo) as usize];
                        slot.0.push(*xa);
                        slot.1.push(*xb);
                    }
                }
            }
        }
        let refs: Vec<(&[Fp], &[Fp])> = vecs.iter().map(|(a, b)| (a.as_slice(), b.as_slice())).collect();
        let flat = self.inner_products(&refs).await?;
        Ok(flat.chunks(width.max(1)).map(|c| c.to_vec()).collect())
    }

    /// Correlations r_p = A_p/√(B_i·B_j) at scale 2^F for pairs p = (i, j, A_p) over a normalised
    /// batch `nb` of the B's, A_p given by the bits of A_p + 2^126 (`abits`, 127 per pair) and its
    /// sharing `a`. `flag` is the caller's range certificate (see the module doc). Rounds: one for
    /// the joint one-hots, one shift, one gate, two Beaver products with truncations.
    pub(crate) async fn correlations(
        &mut self,
        nb: &Normed,
        pairs: &[(usize, usize)],
        a: &[Fp],
        abits: &[Fp],
        flag: Fp,
    ) -> Result<Vec<Fp>, MpcError> {
        if pairs.is_empty() {
            return Ok(vec![]);
        }
        let f = NEWTON_F;
        let m = FIELD_BITS;
        let (smin, _) = s_range();
        let oh: Vec<(&[Fp], &[Fp])> =
            pairs.iter().map(|&(i, j)| (nb.onehot[i].as_slice(), nb.onehot[j].as_slice())).collect();
        let h = self.joint_onehots(&oh, false).await?;
        // A'' = ⌊A / 2^(s_i + s_j)⌋ = Σ_k h_k·⌊A / 2^(k + 2 s_min)⌋: one inner product per pair
        let shifts: Vec<Vec<Fp>> = (0..pairs.len())
            .map(|p| {
                (0..h[p].len())
                    .map(|k| shifted(&abits[p * m..(p + 1) * m], a[p], k as i32 + 2 * smin, SIGNED_OFF))
                    .collect()
            })
            .collect();
        let refs: Vec<(&[Fp], &[Fp])> = h.iter().zip(&shifts).map(|(x, y)| (x.as_slice(), y.as_slice())).collect();
        let c = self.inner_products(&refs).await?;
        let c = self.mul(&c, &vec![flag; c.len()]).await?;
        let b2 = 2 * f + 8;
        let yi: Vec<Fp> = pairs.iter().map(|&(i, _)| nb.y[i]).collect();
        let yj: Vec<Fp> = pairs.iter().map(|&(_, j)| nb.y[j]).collect();
        let p1 = self.mul(&c, &yi).await?;
        let p1 = self.trunc(&p1, f, b2).await?;
        let p2 = self.mul(&p1, &yj).await?;
        self.trunc(&p2, f, b2).await
    }

    /// ρ = A/√B at scale 2^(F − ea) for one normalised B (`nb`, element `i`) per numerator, with
    /// |A| ≤ 2^ea·√B guaranteed when `flag` holds. A given by its sharing and the bits of
    /// A + 2^126. Rounds: one shift, one gate, one Beaver product with truncation.
    pub(crate) async fn rho(
        &mut self,
        nb: &Normed,
        idx: &[usize],
        a: &[Fp],
        abits: &[Fp],
        ea: u32,
        flag: Fp,
    ) -> Result<Vec<Fp>, MpcError> {
        let f = NEWTON_F;
        let m = FIELD_BITS;
        let (smin, _) = s_range();
        // A'' = ⌊A / 2^(s − F/2 + ea)⌋ < 2^F: √B ≈ √M·2^s with √M < 2^(F/2)
        let shifts: Vec<Vec<Fp>> = idx
            .iter()
            .enumerate()
            .map(|(p, &i)| {
                (0..nb.onehot[i].len())
                    .map(|k| {
                        let sigma = k as i32 + smin - (f / 2) as i32 + ea as i32;
                        shifted(&abits[p * m..(p + 1) * m], a[p], sigma, SIGNED_OFF)
                    })
                    .collect()
            })
            .collect();
        let refs: Vec<(&[Fp], &[Fp])> =
            idx.iter().zip(&shifts).map(|(&i, s)| (nb.onehot[i].as_slice(), s.as_slice())).collect();
        let c = self.inner_products(&refs).await?;
        let c = self.mul(&c, &vec![flag; c.len()]).await?;
        let ys: Vec<Fp> = idx.iter().map(|&i| nb.y[i]).collect();
        let p = self.mul(&c, &ys).await?;
        self.trunc(&p, f, 2 * f + 8).await
    }

    /// u = √(C/B) for pairs (b, c) of elements of normalised batches (`nbb` element b, `nbc`
    /// element c): returns (u_m, g) per pair, where u_m = √(z_C/z_B)·2^F ∈ [2^(F−1), 2^(F+1)]
    /// (0 when C = 0) and g is the one-hot of d = s_C − s_B (index d + w − 1), so that
    /// u = u_m·2^(d − F). Rounds: one for the joint one-hots, two Beaver products with truncations.
    pub(crate) async fn sqrt_ratio_parts(
        &mut self,
        nbb: &Normed,
        nbc: &Normed,
        pairs: &[(usize, usize)],
    ) -> Result<(Vec<Fp>, Vec<Vec<Fp>>), MpcError> {
        let f = NEWTON_F;
        let oh: Vec<(&[Fp], &[Fp])> =
            pairs.iter().map(|&(b, c)| (nbb.onehot[b].as_slice(), nbc.onehot[c].as_slice())).collect();
        let g = self.joint_onehots(&oh, true).await?;
        let mc: Vec<Fp> = pairs.iter().map(|&(_, c)| nbc.mant[c]).collect();
        let yc: Vec<Fp> = pairs.iter().map(|&(_, c)| nbc.y[c]).collect();
        let yb: Vec<Fp> = pairs.iter().map(|&(b, _)| nbb.y[b]).collect();
        let q = self.mul(&mc, &yc).await?;
        let q = self.trunc(&q, f, 2 * f + 8).await?; // √z_C at 2^F
        let u = self.mul(&q, &yb).await?;
        let um = self.trunc(&u, f, 2 * f + 8).await?;
        Ok((um, g))
    }

    /// x·2^(d + low) for each x with the one-hot g of its exponent d (index d + w − 1), candidates
    /// d ∈ [−low, high] (below: 0); returns the products and the secret bits [d > high]. One
    /// Beaver product. The caller keeps |x|·2^(high + low) inside the field for the data it
    /// accepts (the bit [d > high] is part of its range check).
    pub(crate) async fn times_pow2_window(
        &mut self,
        x: &[Fp],
        g: &[Vec<Fp>],
        low: i32,
        high: i32,
    ) -> Result<(Vec<Fp>, Vec<Fp>), MpcError> {
        let w = onehot_width() as i32;
        let mut fac = Vec::with_capacity(g.len());
        let mut over = Vec::with_capacity(g.len());
        for gp in g {
            let (mut acc, mut big) = (Fp::ZERO, Fp::ZERO);
            for (i, v) in gp.iter().enumerate() {
                let d = i as i32 - (w - 1);
                if d > high {
                    big += *v;
                } else if d >= -low {
                    acc += *v * Fp::new(1u128 << (d + low));
                }
            }
            fac.push(acc);
            over.push(big);
        }
        Ok((self.mul(x, &fac).await?, over))
    }
}
