//! Statistics on secret data: mean, variance, standard deviation, max/min, linear regression, and
//! the secret range certificate they rely on.
//!
//! Owns: the exact aggregates (sums and sums of products at scale 2^40, reduced once, never
//! truncated per element), the nonlinear steps on those aggregates (exact bit decomposition, division
//! by public constants from bits, normalisation + Newton), and the range certificates. Must never
//! open an input, a sum, a sum of squares or a covariance: every opening below is a masked value
//! from `open`, `mul`, `reduce`, `trunc`, `ltz` or `decompose`, and the outputs are returned as shares
//! for the requester.
//!
//! **Range certificate** (`certify`): data whose statistics would overflow the field must give a
//! clear error, yet a public range test would leak. For each group x (|x_i| < 2^b statically) with
//! target ‖x‖₂ < 2^L: h_i = trunc(x_i, S) (x_i/2^S − 1 < h_i ≤ x_i/2^S + t + 1), Q = Σ h_i² (exact, one
//! reduction), flag = [Q ≤ T] with T = len·4^g by one LTZ. If the flag is 1 then
//! ‖x‖ ≤ 2^S(√Q + (t+1)√len) ≤ 2^S·√len·(2^g + t + 1) < 2^L (Minkowski), S chosen accordingly. The
//! flags of all groups are multiplied together; the result multiplies the outputs and is itself an
//! output to the requester, who gets `value out of range for fixed-point` when it is 0. Only the
//! requester learns it; the committee sees masked values only.

use super::bounds::{NEWTON_F, STORED_BITS, clog2};
use super::div::bits_times_const;
use super::{MpcError, Party, Transport};
use crate::field::Fp;
use crate::fixed::NumScale;

/// Exponent g of the certificate threshold T = len·4^g.
const CERT_G: u32 = 5;

/// Largest stored variance (rep units at 2^20) + the rounding of `div_bits`: below 2^62.
const MAX_STORED_VAR: u128 = (1u128 << 62) - 4;
/// Extra fractional bits of z = Q·2^G/N in the stored std.
const STD_G: u32 = 20;
/// Static bound (bits) of the square-root mantissa Q of `sqrt_mantissa`.
const SQ_BITS: u32 = NEWTON_F + 7;

/// N²·S for the storage scale S (2^20 or 10^d): var·S = W / this, W in representative units².
pub(crate) fn var_divisor(n: u128, ns: NumScale) -> Result<u128, MpcError> {
    n.checked_mul(n)
        .and_then(|v| v.checked_mul(ns.factor()))
        .ok_or_else(|| MpcError::OutOfRange("too many values".into()))
}

/// The candidate exponents of the stored std's secret shift: index i of the normalisation's one-hot
/// is s = i + s_min, and std·2^20 = z·2^(s − F/2 − G).
pub(crate) fn std_exponents(len: usize) -> Vec<i32> {
    let (smin, _) = super::sqrt::s_range();
    (0..len).map(|i| i as i32 + smin - (NEWTON_F / 2) as i32 - STD_G as i32).collect()
}

/// Preprocessing the storage-scale tail of the mean of n values adds (`store=True`).
pub(crate) fn mean_tail_needs(n: usize, t: usize) -> Result<super::prep::Needs, MpcError> {
    let nn = n as u128;
    let bb = STORED_BITS + clog2(nn);
    super::div::div_bits_needs((bb + 1) as usize, nn, t, 1)
}

/// Preprocessing the storage-scale tail of the standard deviation of n values adds (`store=True`).
pub(crate) fn std_tail_needs(n: usize, t: usize) -> Result<super::prep::Needs, MpcError> {
    let nn = n as u128;
    let mut needs = super::prep::Needs::default();
    let (spec, _) = super::trunc::plan(nn, SQ_BITS + STD_G, t)?;
    needs.pair(spec, 1);
    let (smin, smax) = super::sqrt::s_range();
    let exps = std_exponents((smax - smin + 1) as usize);
    needs.add(&super::shift::scale_pow2_needs(1, SQ_BITS + STD_G, &exps, t)?);
    Ok(needs)
}

/// Preprocessing the storage-scale tail of the variance of n values adds (`store=True`).
pub(crate) fn var_tail_needs(n: usize, t: usize, ns: NumScale) -> Result<super::prep::Needs, MpcError> {
    let nn = n as u128;
    let mut needs = super::div::div_bits_needs(125, var_divisor(nn, ns)?, t, 1)?;
    needs.doubles += super::bits::carry_out_products(super::bits::FIELD_BITS);
    needs.triples += 1;
    Ok(needs)
}

/// Parameters (S, T per unit length, LTZ bits) of a certificate; error if impossible.
pub(crate) fn cert_plan(len: usize, b: u32, l: u32, t: usize) -> Result<(u32, u32), MpcError> {
    // need 2^S·√len·(2^g + t + 1) ≤ 2^L  ⇐  S ≤ L − ⌈log2(len)/2⌉ − ⌈log2(2^g + t + 1)⌉
    let len_half = clog2(len as u128).div_ceil(2);
    let fac = clog2((1u128 << CERT_G) + t as u128 + 1);
    let s = (l as i64) - len_half as i64 - fac as i64;
    if s < 1 || s as u32 >= b {
        return Err(MpcError::OutOfRange(format!("no range certificate for {len} values of {b} bits under 2^{l}")));
    }
    let s = s as u32;
    // Q < len·(2^(b−S) + t + 2)²; T − Q needs k bits signed
    let hmax = (1u128 << (b - s)) + t as u128 + 2;
    let qmax = (len as u128).saturating_mul(hmax.saturating_mul(hmax));
    let tmax = (len as u128) << (2 * CERT_G);
    let k = clog2(qmax.max(tmax)) + 2;
    super::compare::ltz_check(k, t)?;
    Ok((s, k))
}

impl<T: Transport> Party<T> {
    /// One secret flag: 1 iff every group passes the certificate (‖group‖₂ < 2^l guaranteed then).
    /// Values are |x| < 2^b.
    pub async fn certify(&mut self, groups: &[Vec<Fp>], b: u32, l: u32) -> Result<Fp, MpcError> {
        let maxlen = groups.iter().map(|g| g.len()).max().unwrap_or(0);
        if maxlen == 0 {
            return Ok(Fp::ONE);
        }
        let (s, k) = cert_plan(maxlen, b, l, self.t)?;
        let all: Vec<Fp> = groups.iter().flatten().copied().collect();
        let h = self.trunc(&all, s, b).await?;
        let mut off = 0;
        let mut pairs: Vec<(&[Fp], &[Fp])> = Vec::with_capacity(groups.len());
        for g in groups {
            let hg = &h[off..off + g.len()];
            pairs.push((hg, hg));
            off += g.len();
        }
        let q = self.inner_products(&pairs).await?;
        let diff: Vec<Fp> =
            groups.iter().zip(&q).map(|(g, q)| Fp::new((g.len() as u128) << (2 * CERT_G)) - *q).collect();
        let neg = self.ltz(&diff, k).await?;
        let flag = self.all_of(neg.iter().map(|b| Fp::ONE - *b).collect()).await?;
        self.step("range certificate");
        Ok(flag)
    }

    /// Mean of the flattened inputs: (share of mean·2^(20+f), f).
    pub(crate) async fn mean_impl(&mut self, x: &[Fp]) -> Result<(Fp, u32), MpcError> {
        let n = x.len() as u128;
        let (mbits, fm, bits, bb) = self.sum_bits(x).await?;
        // mean·2^(20+f) = Σ_i a_i·round(2^(i+f)/N) − round(2^(B+f)/N)
        let v = bits_times_const(&bits, mbits, fm, n)? - Fp::new(super::div::round_pow2_div(bb + fm, n));
        Ok((v, fm))
    }

    /// Bits of Σx + 2^B (B = 62 + ⌈log2 N⌉, so the sum is non-negative), with the number of
    /// meaningful bits and the extra precision f available for dividing by N.
    pub(crate) async fn sum_bits(&mut self, x: &[Fp]) -> Result<(usize, u32, Vec<Fp>, u32), MpcError> {
        let n = x.len() as u128;
        let bb = STORED_BITS + clog2(n);
        if bb + 2 > 126 {
            return Err(MpcError::OutOfRange("too many values".into()));
        }
        let s: Fp = x.iter().copied().sum::<Fp>() + Fp::new(1u128 << bb);
        let bits = self.decompose(&[s]).await?;
        self.step("decompose sum");
        let mbits = (bb + 1) as usize; // Σx + 2^B < 2^(B+1)
        let fm = (126 - bb).min(40);
        Ok((mbits, fm, bits, bb))
    }

    /// Secret mean rounded to the storage scale 2^20 (error ≤ (B+2)/2 units), for centring.
    async fn centre(&mut self, x: &[Fp]) -> Result<Fp, MpcError> {
        let n = x.len() as u128;
        let (mbits, _, bits, bb) = self.sum_bits(x).await?;
        Ok(bits_times_const(&bits, mbits, 0, n)? - Fp::new(super::div::round_pow2_div(bb, n)))
    }

    /// Centred data d and its certificate flag: N·Σd² < 2^125 is guaranteed when the flag is 1.
    pub(crate) async fn centred(&mut self, x: &[Fp]) -> Result<(Vec<Fp>, Fp), MpcError> {
        let n = x.len();
        let mu = self.centre(x).await?;
        let d: Vec<Fp> = x.iter().map(|v| *v - mu).collect();
        let l = (125 - clog2(n as u128)) / 2;
        let flag = self.certify(std::slice::from_ref(&d), STORED_BITS + 2, l).await?;
        Ok((d, flag))
    }

    /// W = N·Σd² − (Σd)² = N²·var·2^40 exactly, from centred d (one reduction for both terms).
    async fn n2var(&mut self, d: &[Fp]) -> Result<Fp, MpcError> {
        let n = Fp::from_u64(d.len() as u64);
        let sd: Fp = d.iter().copied().sum();
        let q = self.inner_products(&[(d, d), (&[sd], &[sd])]).await?;
        Ok(n * q[0] - q[1])
    }

    /// Variance or std (ddof = 0) for the requester: shares of [W·flag, flag] with the exact
    /// W = N·Σd² − (Σd)² = N²·var·S² (S the storage scale), 0 ≤ W < 2^125 when the certificate
    /// holds. W is an output, not an intermediate: given the public N it is a bijection of var (and
    /// of std ≥ 0), so revealing it to the requester reveals exactly the result, at full precision;
    /// the division by N²·S² and the root are taken there in float64. Nothing but the masked
    /// openings of the centring and the certificate is opened.
    pub(crate) async fn var_impl(&mut self, x: &[Fp]) -> Result<Vec<Fp>, MpcError> {
        let (d, flag) = self.centred(x).await?;
        let w = self.n2var(&d).await?;
        let gated = self.mul(&[w], &[flag]).await?;
        Ok(vec![gated[0], flag])
    }

    /// Mean at the storage scale 2^20 for `store=True`: (Σx − 0)/N from the bits of Σx + 2^B by
    /// `div_bits`, within t/2 + 1 units of 2^-20 (one extra masked truncation of the small remainder).
    pub(crate) async fn mean_stored_impl(&mut self, x: &[Fp]) -> Result<Fp, MpcError> {
        let n = x.len() as u128;
        let (mbits, _, bits, bb) = self.sum_bits(x).await?;
        let v = self.div_bits(&bits, mbits, n, 1u128 << bb).await?;
        Ok(v[0])
    }

    /// Variance or std (ddof = 0) at the storage scale 2^20 for `store=True`: shares of
    /// [value·2^20, flag]. The flag is the centring certificate, and for the variance also
    /// [var·2^20 < 2^62 − 4] (a stored value must fit the storage range; std always does when the
    /// certificate holds: std·2^20 = √W/N < 2^62.5/N).
    ///
    /// var·2^20 = W/(N²·2^20) by `div_bits` from W's bits; the range test is [W < N²·2^20·(2^62 − 4)]
    /// by one BitLT on the same bits. std·2^20 = √W/N = Q·2^(s − F/2)/N (`sqrt_mantissa`): one
    /// division z = Q·2^G/N (Q < 2^(F+7), so z has a small static bound), then the secret shift by
    /// 2^(s − F/2 − G) (`shift.rs`). Nothing is opened but truncation, BitLT and reduction masks.
    /// At a decimal scale 10^d read 2^20 as 10^d throughout: W is in representative units², so
    /// var·10^d = W/(N²·10^d) and std·10^d = √W/N.
    pub(crate) async fn var_stored_impl(
        &mut self,
        x: &[Fp],
        want_std: bool,
        ns: NumScale,
    ) -> Result<Vec<Fp>, MpcError> {
        let n = x.len() as u128;
        let (d, flag) = self.centred(x).await?;
        let w = self.n2var(&d).await?;
        let wbits = self.decompose(&[w]).await?;
        self.step("decompose variance");
        let (value, flag) = if want_std {
            let (sq, nm) = self.sqrt_mantissa(&wbits, 1).await?;
            let z = self.trunc_div(&[sq[0] * Fp::new(1u128 << STD_G)], n, SQ_BITS + STD_G).await?;
            let exps = std_exponents(nm.onehot_s[0].len());
            let v = self.scale_pow2_secret(&z, SQ_BITS + STD_G, &nm.onehot_s[0], &exps).await?;
            (v[0], flag)
        } else {
            let dv = var_divisor(n, ns)?;
            let v = self.div_bits(&wbits, 125, dv, 0).await?[0];
            let fits = match dv.checked_mul(MAX_STORED_VAR).filter(|c| *c < 1u128 << 125) {
                // [W ≥ C] = [C − 1 < W]
                Some(c) => Fp::ONE - self.bit_lt(&[c - 1], &wbits, super::bits::FIELD_BITS).await?[0],
                None => Fp::ONE, // W < 2^125 ≤ C whenever the certificate holds
            };
            let both = self.mul(&[flag], &[fits]).await?[0];
            (v, both)
        };
        let gated = self.mul(&[value], &[flag]).await?;
        Ok(vec![gated[0], flag])
    }

    /// Max or min over secret values (stored scale). Returns (value, index). Up to
    /// [`MAXMIN_UP_FRONT`] comparisons in all this is `compare::tournament` on preprocessing made up
    /// front (`ops.rs`); above, the windowed tournament, [`MAXMIN_WINDOW`] comparisons a window.
    pub(crate) async fn maxmin_impl(&mut self, x: &[Fp], want_max: bool) -> Result<(Fp, Fp), MpcError> {
        if maxmin_windowed(x.len()) {
            self.tournament_windowed(x, STORED_BITS + 1, want_max, MAXMIN_WINDOW).await
        } else {
            self.tournament(x, STORED_BITS + 1, want_max).await
        }
    }

    /// The tournament of `compare::tournament` (the same comparisons and selections, so the same
    /// result, index and openings), with each level run in windows of at most `window` comparisons,
    /// each window preprocessing exactly what it consumes just before it runs. A round's messages and
    /// the preprocessing pools then stay bounded by the window, whatever the number of values, for
    /// more rounds: about ⌈N/(2·window)⌉ + log2 N windows instead of log2 N levels.
    pub(crate) async fn tournament_windowed(
        &mut self,
        vals: &[Fp],
        k: u32,
        want_max: bool,
        window: usize,
    ) -> Result<(Fp, Fp), MpcError> {
        if vals.is_empty() {
            return Err(MpcError::Invalid("max/min of no values".into()));
        }
        let window = window.max(1);
        let mut v = vals.to_vec();
        let mut idx: Vec<Fp> = (0..vals.len()).map(|i| Fp::from_u64(i as u64)).collect();
        while v.len() > 1 {
            let half = v.len() / 2;
            let mut nv = Vec::with_capacity(half + 1);
            let mut ni = Vec::with_capacity(half + 1);
            for lo in (0..half).step_by(window) {
                let hi = (lo + window).min(half);
                let w = hi - lo;
                let mut needs = super::compare::ltz_needs(w, k + 1);
                needs.triples += 2 * w;
                self.preprocess(&needs).await?;
                // max: later wins only if strictly greater: b = [v0 − v1 < 0]; min: b = [v1 − v0 < 0]
                let diffs: Vec<Fp> = (lo..hi)
                    .map(|j| {
                        let (a, b) = (v[2 * j], v[2 * j + 1]);
                        if want_max { a - b } else { b - a }
                    })
                    .collect();
                let b = self.ltz(&diffs, k + 1).await?;
                let mut bb = b.clone();
                bb.extend_from_slice(&b);
                let mut d: Vec<Fp> = (lo..hi).map(|j| v[2 * j + 1] - v[2 * j]).collect();
                d.extend((lo..hi).map(|j| idx[2 * j + 1] - idx[2 * j]));
                let sel = self.mul(&bb, &d).await?;
                nv.extend((0..w).map(|j| v[2 * (lo + j)] + sel[j]));
                ni.extend((0..w).map(|j| idx[2 * (lo + j)] + sel[w + j]));
            }
            if v.len() % 2 == 1 {
                nv.push(v[v.len() - 1]);
                ni.push(idx[idx.len() - 1]);
            }
            v = nv;
            idx = ni;
            self.step("tournament");
        }
        Ok((v[0], idx[0]))
    }
}

/// Comparisons of one window of a windowed max/min: ≈ 3.7 kB per comparison and peer in each
/// preprocessing round (LTZ on 64 bits), so a window's messages stay near 15 MB per peer.
pub(crate) const MAXMIN_WINDOW: usize = 4096;

/// Most comparisons a max/min preprocesses up front (`ops.rs`); above, it runs windowed. 10^4
/// values stay one batch (the fewest rounds, for wide-area links), at a peak of ≈ 0.8 GB per node
/// at n = 5.
pub(crate) const MAXMIN_UP_FRONT: usize = 10_000;

/// Whether max/min of `count` values runs windowed (its preprocessing made window by window, not up
/// front).
pub(crate) fn maxmin_windowed(count: usize) -> bool {
    count.saturating_sub(1) > MAXMIN_UP_FRONT
}
