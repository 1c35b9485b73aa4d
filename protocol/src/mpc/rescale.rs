//! Exact rescaling of an op's inputs stored at different decimal scales (issue 15): every key is
//! brought to the finest scale 10^-D among them (D = max d_i) by multiplying its shares by the
//! public 10^(D − d_i), inside the MPC.
//!
//! Owns: the choice of an op's common scale ([`plan`], which also refuses a binary 2^-20 key next
//! to a decimal one), the secret range test of the rescaled values, and the gating of the inputs by
//! its flag ([`Party::rescale_inputs`]). Must never open anything but the masked values of `ltz`
//! and `mul`, nor hand an op a value outside the engine's static bound |rep| < 2^62
//! (`bounds::STORED_BITS`), on which the masking of every later truncation and comparison rests.
//!
//! **Why a secret range test.** A key at 10^-d has |rep| < 2^62. Times 10^k (k = D − d) its
//! representatives are only known to be below 10^k·2^62, so no static bound lets the ops run on
//! them, and a public test would leak. A representative fits iff 10^k·|rep| < 2^62, i.e.
//! |rep| ≤ c_k = ⌊(2^62 − 1)/10^k⌋: exactly the range a store at 10^-D accepts, so a mix is refused
//! precisely when some value of the coarser key could not have been stored at the finer scale.
//!
//! **Protocol.** For every element of every rescaled key (k ≥ 1): a = c_k − rep and a' = c_k + rep
//! (|a|, |a'| < 2^62 + 2^59 < 2^63), two LTZs on 64 bits, and ok = [a ≥ 0]·[a' ≥ 0]; the flag f is
//! the product of every ok (`all_of`). Then every element of every key, rescaled or not, becomes
//! x' = f·10^k·x by one Beaver product (k = 0 for the keys already at D).
//! - Range: f = 1 ⇒ every x' = 10^k·x, |x'| < 2^62, the exact value at 10^-D; f = 0 ⇒ every x' = 0.
//!   Either way the op sees values within its static bound, so its own range and masking arguments
//!   hold unchanged.
//! - Leakage: LTZ opens c = x + r' + 2^m·r'' (statistically masked, κ = 40 bits), Beaver opens
//!   x − a and y − b (uniform). f is never opened: it is an output check ([`Check::Rescaled`],
//!   first in the op's list), so only the requester learns it, and it is [every value fits], a
//!   function of the inputs. When f = 0 every input is 0, so the op's other outputs and checks are
//!   functions of the public shapes alone: the requester learns that one bit, and nothing about the
//!   keys that were at 10^-D already.
//! - Active mode: LTZ's random bits are checked bits and its outputs pass `check_bits`; every
//!   product is a Beaver product on a sacrificed triple; no degree reduction is used.
//!
//! Cost: two comparisons per element of a rescaled key (about what a max over them costs), one
//! product per input element, 2 + ⌈log2⌉ rounds; nothing when every key is at one scale.
//!
//! [`Check::Rescaled`]: super::spec::Check::Rescaled

use super::bounds::STORED_BITS;
use super::prep::Needs;
use super::spec::SharedInput;
use super::{MpcError, Party, Transport};
use crate::field::Fp;
use crate::fixed::NumScale;

/// Signed bits of c_k ± rep (|·| < 2^63).
const TEST_BITS: u32 = STORED_BITS + 2;

/// How an op's inputs reach one scale: the target scale and each key's public factor 10^(D − d).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rescale {
    pub target: NumScale,
    pub factors: Vec<u128>,
}

impl Rescale {
    /// The decimals of the target scale.
    pub(crate) fn decimals(&self) -> u8 {
        self.target.decimals().unwrap_or(0) as u8
    }
}

/// The rescaling the inputs need: `None` when every key is at one scale; the finest decimal scale
/// when they are at several decimal scales; an error (with the fix) when a key at the binary scale
/// 2^-20 meets a decimal one, since 2^-20 is not a power of ten (docs/decisions.md).
pub(crate) fn plan(inputs: &[SharedInput]) -> Result<Option<Rescale>, MpcError> {
    let Some(first) = inputs.first().map(|i| i.scale) else {
        return Ok(None);
    };
    if inputs.iter().all(|i| i.scale == first) {
        return Ok(None);
    }
    if inputs.iter().any(|i| i.scale == NumScale::Binary20) {
        let dec = inputs.iter().map(|i| i.scale).find(|s| *s != NumScale::Binary20).unwrap_or(NumScale::DEFAULT);
        return Err(MpcError::Unsupported(format!(
            "the input keys are stored at different scales ({} and {}): a key at the old binary scale \
             cannot be rescaled exactly to a decimal one; load it and store it again with decimals (its \
             values with at most 6 decimals load back exactly, so decimals=6 or more keeps them exact)",
            NumScale::Binary20.describe(),
            dec.describe()
        )));
    }
    let d = inputs.iter().filter_map(|i| i.scale.decimals()).max().unwrap_or(0);
    let factors = inputs.iter().map(|i| 10u128.pow(d - i.scale.decimals().unwrap_or(d))).collect();
    Ok(Some(Rescale { target: NumScale::Decimal(d as u8), factors }))
}

/// c_k: the largest |rep| whose product by `factor` stays below 2^62.
fn fits_below(factor: u128) -> u128 {
    ((1u128 << STORED_BITS) - 1) / factor
}

/// Elements of the keys that are rescaled (factor > 1), and of all keys.
fn counts(inputs: &[SharedInput], r: &Rescale) -> (usize, usize) {
    let tested = inputs.iter().zip(&r.factors).filter(|(_, f)| **f > 1).map(|(i, _)| i.share.len()).sum();
    (tested, inputs.iter().map(|i| i.share.len()).sum())
}

/// Preprocessing [`Party::rescale_inputs`] consumes.
pub(crate) fn needs(inputs: &[SharedInput], r: &Rescale) -> Needs {
    let (tested, all) = counts(inputs, r);
    let mut n = if tested > 0 { super::compare::ltz_needs(2 * tested, TEST_BITS) } else { Needs::default() };
    n.triples += (2 * tested).saturating_sub(1) + all;
    n
}

impl<T: Transport> Party<T> {
    /// The inputs at the target scale, gated by the range flag, and the flag's share (the module
    /// doc has the protocol and its argument).
    pub(crate) async fn rescale_inputs(
        &mut self,
        mut inputs: Vec<SharedInput>,
        r: &Rescale,
    ) -> Result<(Vec<SharedInput>, Fp), MpcError> {
        if r.factors.len() != inputs.len() {
            return Err(MpcError::Config("rescale plan for another set of inputs".into()));
        }
        let (tested, all) = counts(&inputs, r);
        let mut diffs = Vec::with_capacity(2 * tested);
        for (inp, f) in inputs.iter().zip(&r.factors) {
            if *f > 1 {
                let c = Fp::new(fits_below(*f));
                for x in &inp.share {
                    diffs.push(c - *x);
                    diffs.push(c + *x);
                }
            }
        }
        let neg = self.ltz(&diffs, TEST_BITS).await?;
        let flag = self.all_of(neg.iter().map(|b| Fp::ONE - *b).collect()).await?;
        let mut scaled = Vec::with_capacity(all);
        for (inp, f) in inputs.iter().zip(&r.factors) {
            let f = Fp::new(*f);
            scaled.extend(inp.share.iter().map(|x| *x * f));
        }
        let gated = self.mul(&scaled, &vec![flag; scaled.len()]).await?;
        let mut off = 0;
        for inp in &mut inputs {
            let n = inp.share.len();
            inp.share.copy_from_slice(&gated[off..off + n]);
            off += n;
            inp.scale = r.target;
        }
        self.note("rescale");
        Ok((inputs, flag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::ValueMeta;

    fn key(scale: NumScale, n: usize) -> SharedInput {
        SharedInput { meta: ValueMeta::Float, share: vec![Fp::ZERO; n], scale }
    }

    #[test]
    fn the_finest_decimal_scale_is_the_target() {
        let (d2, d6) = (NumScale::Decimal(2), NumScale::Decimal(6));
        assert_eq!(plan(&[key(d6, 1), key(d6, 3)]).unwrap(), None);
        let r = plan(&[key(d2, 1), key(d6, 2), key(NumScale::Decimal(0), 1)]).unwrap().unwrap();
        assert_eq!(r.target, d6);
        assert_eq!(r.factors, vec![10_000, 1, 1_000_000]);
        assert_eq!(counts(&[key(d2, 1), key(d6, 2), key(NumScale::Decimal(0), 1)], &r), (2, 4));
        let e = plan(&[key(NumScale::Binary20, 1), key(d6, 1)]).unwrap_err();
        assert!(
            matches!(e, MpcError::Unsupported(ref m) if m.contains("different scales") && m.contains("store it again"))
        );
    }

    #[test]
    fn the_bound_is_the_finer_scales_storage_range() {
        // |rep|·10^k < 2^62 exactly at c_k, and not one unit beyond
        for k in 0..=12u32 {
            let f = 10u128.pow(k);
            let c = fits_below(f);
            assert!(c * f < 1 << 62 && (c + 1) * f >= 1 << 62, "k {k}");
        }
    }
}
