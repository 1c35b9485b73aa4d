//! Probabilistic division of secret integers by a public integer D (truncation when D = 2^m, and
//! division by a count), with truncation pairs contributed by t + 1 parties.
//!
//! Owns: the static range check of every use and the statistically masked opening. Must never open
//! a value whose static bound does not leave κ = 40 bits of masking: such a call is an
//! `OutOfRange` error, never a silent wrap.
//!
//! Protocol, for |x| < 2^ℓ: offset o = D·2^ko ≥ 2^ℓ (so x + o ≥ 0 and o/D is an integer); pair
//! ([r], [q]) with r = Σ_j (D·q_j + s_j) over contributors j = 0..t, q_j < 2^kq, s_j < D, and
//! D·2^kq ≥ 2^(ℓ+2+κ). Open c = x + o + r; result = ⌊c/D⌋ − q − 2^ko.
//! Since c = (x + o + Σ s_j) + D·Σ q_j, the result is ⌊(x + o + Σ s_j)/D⌋ − 2^ko, i.e.
//! ⌊x/D⌋ + e with e ∈ [0, t + 1]: the error is at most t + 1 units in the last place, upward.
//!
//! Masking: the honest contributor's r_j is uniform on [0, D·2^kq), a range ≥ 2^κ times the range
//! [0, 4·2^ℓ) of everything else it is added to, so c is within statistical distance 2^-κ of a value
//! independent of x. No wrap: c < 4·max(2^ℓ, D) + (t+1)·D·2^kq < p, i.e. roughly
//! ℓ + κ + log2(t+1) + 3 < 127; checked exactly below for every call.

use super::prep::PairSpec;
use super::{KAPPA, MpcError, Party, Transport};
use crate::field::{Fp, P};

/// Truncation parameters for dividing values |x| < 2^bound by d; errors if the field is too small.
pub(crate) fn plan(d: u128, bound: u32, t: usize) -> Result<(PairSpec, u32), MpcError> {
    let err = || {
        MpcError::OutOfRange(format!("dividing a {bound}-bit value by {d} leaves no room for {KAPPA} bits of masking"))
    };
    if d == 0 || bound > 126 {
        return Err(err());
    }
    let dbits = 128 - d.leading_zeros(); // d < 2^dbits
    let ko = bound.saturating_sub(dbits - 1); // d·2^ko ≥ 2^(dbits−1)·2^ko ≥ 2^bound
    let kq = (bound + 2 + KAPPA).saturating_sub(dbits - 1);
    let off = d.checked_shl(ko).filter(|v| v >> ko == d).ok_or_else(err)?;
    let range = d.checked_shl(kq).filter(|v| v >> kq == d).ok_or_else(err)?;
    let top = off
        .checked_add(1u128 << bound)
        .and_then(|v| v.checked_add(range.checked_mul(t as u128 + 1)?))
        .ok_or_else(err)?;
    if top >= P {
        return Err(err());
    }
    Ok((PairSpec { d, kq }, ko))
}

impl<T: Transport> Party<T> {
    /// [⌊x/d⌋ + e], e ∈ [0, t+1], for secret |x| < 2^bound.
    pub async fn trunc_div(&mut self, x: &[Fp], d: u128, bound: u32) -> Result<Vec<Fp>, MpcError> {
        let (spec, ko) = plan(d, bound, self.t)?;
        if x.is_empty() {
            return Ok(vec![]);
        }
        let (r, q) = self.take_pairs(spec, x.len()).await?;
        let off = Fp::new(d << ko);
        let masked: Vec<Fp> = x.iter().zip(&r).map(|(x, r)| *x + off + *r).collect();
        // Mask: statistically (2^-κ) by the contributed r, see the module doc.
        let c = self.open(&masked, self.t, "trunc").await?;
        let sub = Fp::new(1u128 << ko);
        Ok(c.iter().zip(&q).map(|(c, q)| Fp::new(c.value() / d) - *q - sub).collect())
    }

    /// [⌊x / 2^m⌋ + e] for |x| < 2^bound.
    pub async fn trunc(&mut self, x: &[Fp], m: u32, bound: u32) -> Result<Vec<Fp>, MpcError> {
        if m == 0 {
            return Ok(x.to_vec());
        }
        self.trunc_div(x, 1u128 << m, bound).await
    }
}

impl<T: Transport> Party<T> {
    /// [⌊x_i / 2^(m_i)⌋ + e_i], e_i ∈ [0, t+1], for secret |x_i| < 2^bound, with a public exponent
    /// per element (m_i = 0 returns x_i as it is), all in one opening. Each element is masked
    /// exactly as in [`Party::trunc_div`] with a pair of its own divisor.
    pub async fn trunc_each(&mut self, x: &[Fp], ms: &[u32], bound: u32) -> Result<Vec<Fp>, MpcError> {
        if x.len() != ms.len() {
            return Err(MpcError::Shape(format!("trunc_each of {} values with {} exponents", x.len(), ms.len())));
        }
        let mut out = x.to_vec();
        // (element, divisor, 2^ko, q) of every element that is truncated
        let mut pending: Vec<(usize, u128, Fp, Fp)> = Vec::new();
        let mut masked = Vec::new();
        let mut distinct: Vec<u32> = ms.iter().copied().filter(|m| *m > 0).collect();
        distinct.sort_unstable();
        distinct.dedup();
        for m in distinct {
            let d = 1u128 << m;
            let (spec, ko) = plan(d, bound, self.t)?;
            let idx: Vec<usize> = (0..x.len()).filter(|&i| ms[i] == m).collect();
            let (r, q) = self.take_pairs(spec, idx.len()).await?;
            let off = Fp::new(d << ko);
            for (k, &i) in idx.iter().enumerate() {
                masked.push(x[i] + off + r[k]);
                pending.push((i, d, Fp::new(1u128 << ko), q[k]));
            }
        }
        if masked.is_empty() {
            return Ok(out);
        }
        // Mask: statistically (2^-κ) by each element's contributed r, see the module doc.
        let c = self.open(&masked, self.t, "trunc").await?;
        for ((i, d, sub, q), c) in pending.into_iter().zip(c) {
            out[i] = Fp::new(c.value() / d) - q - sub;
        }
        Ok(out)
    }

    /// [`Party::trunc_each`] with each error centred: x_i − ⌊t·2^(m_i)/2⌋ is truncated, so the
    /// result is within t/2 + 1 units of x_i/2^(m_i) either way instead of [0, t + 1] upward. The
    /// caller's bound covers |x_i| plus that offset.
    pub async fn trunc_centred_each(&mut self, x: &[Fp], ms: &[u32], bound: u32) -> Result<Vec<Fp>, MpcError> {
        if x.len() != ms.len() {
            return Err(MpcError::Shape(format!(
                "trunc_centred_each of {} values with {} exponents",
                x.len(),
                ms.len()
            )));
        }
        let t = self.t as u128;
        let centred: Vec<Fp> =
            x.iter().zip(ms).map(|(v, m)| if *m == 0 { *v } else { *v - Fp::new(t * (1u128 << *m) / 2) }).collect();
        self.trunc_each(&centred, ms, bound).await
    }
}
