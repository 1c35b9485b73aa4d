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

use super::div::bits_times_const;
use super::{MpcError, Party, Transport};
use crate::field::Fp;

/// Exponent g of the certificate threshold T = len·4^g.
const CERT_G: u32 = 5;
/// Static bound (bits) of stored values: |rep| < 2^62.
pub(crate) const STORED_BITS: u32 = 62;

/// ⌈log2 v⌉ for v ≥ 1.
pub(crate) fn clog2(v: u128) -> u32 {
    if v <= 1 { 0 } else { 128 - (v - 1).leading_zeros() }
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
        let mut local = Vec::with_capacity(groups.len());
        for g in groups {
            let hg = &h[off..off + g.len()];
            local.push(super::mul::dot(hg, hg));
            off += g.len();
        }
        let q = self.reduce(&local).await?;
        let diff: Vec<Fp> =
            groups.iter().zip(&q).map(|(g, q)| Fp::new((g.len() as u128) << (2 * CERT_G)) - *q).collect();
        let neg = self.ltz(&diff, k).await?;
        let mut flags: Vec<Fp> = neg.iter().map(|b| Fp::ONE - *b).collect();
        while flags.len() > 1 {
            let half = flags.len() / 2;
            let (a, bb): (Vec<Fp>, Vec<Fp>) = (0..half).map(|i| (flags[2 * i], flags[2 * i + 1])).unzip();
            let mut next = self.mul(&a, &bb).await?;
            if flags.len() % 2 == 1 {
                next.push(flags[flags.len() - 1]);
            }
            flags = next;
        }
        self.step("range certificate");
        Ok(flags[0])
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
        let local = n * super::mul::dot(d, d) - sd * sd;
        Ok(self.reduce(&[local]).await?[0])
    }

    /// Variance (ddof = 0): shares of [var·2^40, flag].
    pub(crate) async fn var_impl(&mut self, x: &[Fp], want_std: bool) -> Result<Vec<Fp>, MpcError> {
        let n = x.len() as u128;
        let (d, flag) = self.centred(x).await?;
        let w = self.n2var(&d).await?;
        let wbits = self.decompose(&[w]).await?;
        self.step("decompose variance");
        let out = if want_std {
            // std·2^20·N = √W  →  output R with std = R / 2^(sh + 20) / N
            let (r, _) = self.sqrt_int(&wbits, 1).await?;
            r[0]
        } else {
            // var·2^40 = W/N², bits of W < 2^125
            bits_times_const(&wbits, 125, 0, n * n)?
        };
        let gated = self.mul(&[out], &[flag]).await?;
        Ok(vec![gated[0], flag])
    }

    /// Max or min over secret values (stored scale). Returns (value, index).
    pub(crate) async fn maxmin_impl(&mut self, x: &[Fp], want_max: bool) -> Result<(Fp, Fp), MpcError> {
        self.tournament(x, STORED_BITS + 1, want_max).await
    }
}
