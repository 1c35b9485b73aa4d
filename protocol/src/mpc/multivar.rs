//! Several variables at once: covariance and correlation matrices (numpy.cov, numpy.corrcoef) and
//! multiple regression (numpy.linalg.lstsq, with an intercept on request).
//!
//! Owns: the variables of a 1-D or 2-D key (`rowvar`), their exact centred Gram matrix
//! C_ij = N·Σ d_i d_j − Σd_i·Σd_j = N²·cov_ij·2^40 (one inner product per pair and one Beaver
//! product per pair, never truncated), the normalisation of each entry, and the regression solve by
//! Newton–Schulz on the correlation matrix. Must never open a sum, a mean, a Gram entry, a
//! variance or an intermediate of the solve: every opening is a mask of `decompose`, `trunc`,
//! `mul`, `inner_products`, `matmul`, `ltz` or `certify`, and the outputs are shares for the
//! requester.
//!
//! **Security argument.** The data enter only (a) linear local operations (centring by a secret
//! mean, sums), (b) products through `inner_products`, `matmul` and `mul` (each opening masked by
//! a fresh double sharing or Beaver triple), (c) the range certificate (`certify`, masked
//! truncations and one LTZ, its flag an output to the requester only), (d) exact decompositions
//! (x + r with r uniform over 127 bits) and (e) truncations of values with static bounds (2^-40
//! statistical masking). The certificate flag multiplies every value that feeds a truncation whose
//! bound depends on the data (the numerators of `ratio.rs`, the outputs), so out-of-range data give
//! the requester `value out of range` and the committee nothing. Which variable is constant, and
//! whether the matrix is invertible, are secret flags output to the requester only.
//!
//! **lstsq accuracy.** The solve runs on the correlation matrix R = D^(-1/2)·G·D^(-1/2) (unit
//! diagonal: Jacobi scaling, so only the conditioning of the standardised predictors matters) with
//! Newton–Schulz at 2^-30 resolution, sized for κ(R) ≤ 10^3; the residual check ‖I − BX‖_F² ≤ 2^-40
//! refuses worse. The coefficients' relative error is about κ(R)·k·2^-30 (≈ 10^-8·κ(R) for
//! k = 10), where κ(R) ≤ κ(X_c)² for the centred (or, without intercept, raw) columns X_c.

use super::bits::FIELD_BITS;
use super::bounds::{NEWTON_F, STORED_BITS, clog2};
use super::div::{bits_times_const, round_pow2_div};
use super::ratio::{Normed, SIGNED_OFF, onehot_width};
use super::spec::{Check, OutputLayout, OutputShare, Scale, SharedInput};
use super::sqrt::s_range;
use super::{MpcError, Party, Transport};
use crate::field::Fp;
use crate::fixed::FRAC_BITS;
use crate::value::Dtype;

/// The variables of a key for cov / corrcoef: (rows, k, N, 2-D?).
type Variables = (Vec<Vec<Fp>>, usize, usize, bool);

fn variables(input: &SharedInput, rowvar: bool, name: &str) -> Result<Variables, MpcError> {
    let shape = input.meta.shape().unwrap_or_default();
    let x = &input.share;
    match shape.len() {
        1 => Ok((vec![x.clone()], 1, shape[0], false)),
        2 => {
            let (r, c) = (shape[0], shape[1]);
            if rowvar {
                Ok(((0..r).map(|i| x[i * c..(i + 1) * c].to_vec()).collect(), r, c, true))
            } else {
                Ok(((0..c).map(|j| (0..r).map(|i| x[i * c + j]).collect()).collect(), c, r, true))
            }
        }
        d => Err(MpcError::Shape(format!("{name} needs a 1-D or 2-D array, got {d}-D (shape {shape:?})"))),
    }
}

/// Pairs (i, j), i ≤ j (with the diagonal) or i < j.
fn upper_pairs(k: usize, diag: bool) -> Vec<(usize, usize)> {
    let mut p = Vec::new();
    for i in 0..k {
        for j in i..k {
            if diag || i != j {
                p.push((i, j));
            }
        }
    }
    p
}

/// Index of pair (i, j) (i ≤ j) in `upper_pairs(k, true)`.
fn pair_index(k: usize, i: usize, j: usize) -> usize {
    let (i, j) = if i <= j { (i, j) } else { (j, i) };
    i * k + j - i - i * i.saturating_sub(1) / 2
}

impl<T: Transport> Party<T> {
    /// The stored intercept of `lstsq(intercept=True, store=True)` on keys at 10^-d, at the stored
    /// array's scale 2^-20 (its coefficients are scale-free, so the array is at 2^-20 as every
    /// scale-free stored result): intercept·2^20 = rep·2^(20 − d)/5^d for the intercept's
    /// representative rep = v/2^60 (v = intercept·10^d·2^60, given with `ib`, the bits of
    /// v + 2^59 + 2^125).
    /// - x = ⌊(v + 2^59)/2^(40 + d)⌋ − 2^(19 − d) = ⌊v/2^(40 + d)⌋ exactly (2^59 is a multiple of
    ///   2^(40 + d) for d ≤ 19), a public combination of the bits, |x| < 2^(85 − d);
    /// - q = trunc_div(x − ⌊t·5^d/2⌋, 5^d): intercept·2^20 within t/2 + 2 units (the truncation's
    ///   centred error plus x's floor, 5^-d of a unit). Its opening is masked as every truncation's.
    ///
    /// Returns q and the bound the caller checks rep = round(v/2^60) against: |q| < 2^62 ⇐ |rep| ≤
    /// 2^42·10^d − 10^d (the margin absorbs the rounding), or `None` when every |rep| < 2^65 fits
    /// (d ≥ 7).
    pub(crate) async fn intercept_at_2_20(
        &mut self,
        ib: &[Fp],
        v_half: Fp,
        d: u32,
    ) -> Result<(Fp, Option<u128>), MpcError> {
        if d > 19 {
            return Err(MpcError::OutOfRange(format!("a stored intercept at 10^-{d}")));
        }
        let x = super::ratio::shifted(ib, v_half, 40 + d as i32, 125) - Fp::new(1u128 << (19 - d));
        let five = 5u128.pow(d);
        let q = if d == 0 {
            x
        } else {
            let c = Fp::new(self.t as u128 * five / 2);
            self.trunc_div(&[x - c], five, 86 - d).await?[0]
        };
        let bound = (1u128 << (STORED_BITS - 20)) * 10u128.pow(d) - 10u128.pow(d);
        Ok((q, (bound < 1u128 << 65).then_some(bound)))
    }

    /// For `count` values given by the bits of v + 2^off (127 per value, off ≤ 125): the secret
    /// bits [|v| ≥ 2^62], i.e. v outside the storage range (|v| < 2^62 at the storage scale). Two
    /// `bit_lt` per value.
    pub(crate) async fn outside_storage_range(
        &mut self,
        bits: &[Fp],
        count: usize,
        off: u32,
    ) -> Result<Vec<Fp>, MpcError> {
        self.outside_range(bits, count, off, 1u128 << STORED_BITS).await
    }

    /// [|v| ≥ bound] for `count` values given by the bits of v + 2^off (bound ≤ 2^off ≤ 2^125).
    pub(crate) async fn outside_range(
        &mut self,
        bits: &[Fp],
        count: usize,
        off: u32,
        bound: u128,
    ) -> Result<Vec<Fp>, MpcError> {
        let m = FIELD_BITS;
        if !(63..=125).contains(&off) || bound == 0 || bound > 1u128 << off {
            return Err(MpcError::OutOfRange(format!("range check of bound {bound} with offset 2^{off}")));
        }
        let (lo, hi) = ((1u128 << off) - bound, (1u128 << off) + bound);
        let mut twice = Vec::with_capacity(2 * count * m);
        let mut cs = Vec::with_capacity(2 * count);
        for j in 0..count {
            twice.extend_from_slice(&bits[j * m..(j + 1) * m]);
            twice.extend_from_slice(&bits[j * m..(j + 1) * m]);
            cs.extend([hi - 1, lo]);
        }
        // [hi − 1 < V] (too high) and [lo < V] (not too low: V ≥ lo + 1, so v > −2^62)
        let lt = self.bit_lt(&cs, &twice, m).await?;
        let hi_bits: Vec<Fp> = (0..count).map(|j| lt[2 * j]).collect();
        let ok_lo: Vec<Fp> = (0..count).map(|j| lt[2 * j + 1]).collect();
        let inside = self.mul(&hi_bits.iter().map(|b| Fp::ONE - *b).collect::<Vec<_>>(), &ok_lo).await?;
        Ok(inside.iter().map(|b| Fp::ONE - *b).collect())
    }

    /// Centring means of each row at the storage scale (rounded, within (B+2)/2 units) and the
    /// means at scale 2^40, from one decomposition of every row's Σx + 2^B.
    pub(crate) async fn row_means(&mut self, rows: &[&[Fp]]) -> Result<(Vec<Fp>, Vec<Fp>), MpcError> {
        let n = rows.iter().map(|r| r.len()).max().unwrap_or(0) as u128;
        let bb = STORED_BITS + 2 + clog2(n.max(1));
        if bb + 21 > 126 {
            return Err(MpcError::OutOfRange("too many values".into()));
        }
        let off = Fp::new(1u128 << bb);
        let sums: Vec<Fp> = rows.iter().map(|r| r.iter().copied().sum::<Fp>() + off).collect();
        let bits = self.decompose(&sums).await?;
        let m = FIELD_BITS;
        let mbits = (bb + 1) as usize;
        let (mut mu, mut mu40) = (Vec::new(), Vec::new());
        for (i, r) in rows.iter().enumerate() {
            let len = r.len().max(1) as u128;
            let b = &bits[i * m..(i + 1) * m];
            mu.push(bits_times_const(b, mbits, 0, len)? - Fp::new(round_pow2_div(bb, len)));
            mu40.push(bits_times_const(b, mbits, 20, len)? - Fp::new(round_pow2_div(bb + 20, len)));
        }
        Ok((mu, mu40))
    }

    /// Exact Gram entries N·Σ d_i d_j − Σd_i·Σd_j (`centred`) or Σ d_i d_j for the pairs.
    pub(crate) async fn gram(
        &mut self,
        d: &[Vec<Fp>],
        pairs: &[(usize, usize)],
        centred: bool,
    ) -> Result<Vec<Fp>, MpcError> {
        let refs: Vec<(&[Fp], &[Fp])> = pairs.iter().map(|&(i, j)| (d[i].as_slice(), d[j].as_slice())).collect();
        let g = self.inner_products(&refs).await?;
        if !centred {
            return Ok(g);
        }
        let s: Vec<Fp> = d.iter().map(|r| r.iter().copied().sum()).collect();
        let (si, sj): (Vec<Fp>, Vec<Fp>) = pairs.iter().map(|&(i, j)| (s[i], s[j])).unzip();
        let ss = self.mul(&si, &sj).await?;
        let n = Fp::from_u64(d.first().map_or(0, |r| r.len()) as u64);
        Ok(g.iter().zip(&ss).map(|(g, s)| n * *g - *s).collect())
    }

    /// Rows centred on their secret means, with the certificate flag N·Σd_i² < 2^125 for every
    /// row (so every |C_ij| < 2^125), and the means at 2^40.
    async fn centred_rows(&mut self, rows: &[Vec<Fp>], b: u32) -> Result<(Vec<Vec<Fp>>, Fp, Vec<Fp>), MpcError> {
        let n = rows.first().map_or(0, |r| r.len());
        let refs: Vec<&[Fp]> = rows.iter().map(|r| r.as_slice()).collect();
        let (mu, mu40) = self.row_means(&refs).await?;
        let d: Vec<Vec<Fp>> = rows.iter().zip(&mu).map(|(r, m)| r.iter().map(|v| *v - *m).collect()).collect();
        let l = (125 - clog2(n as u128)) / 2;
        let flag = self.certify(&d, b + 1, l).await?;
        Ok((d, flag, mu40))
    }
}

/// numpy.cov and numpy.corrcoef.
///
/// cov: C = exact centred Gram matrix (upper triangle), gated by the certificate; revealed as
/// C / (N·(N − ddof)·2^40) (the decoding divisor is public), so the requester gets exactly the
/// covariance. With `store`: cov·2^20 = (C + 2^126 − 2^126)/(N(N − ddof)·2^20) from C's bits by
/// `div_bits`, and a storage-range check on the diagonal (|cov_ij| ≤ √(cov_ii·cov_jj), so the
/// diagonal bounds every entry).
///
/// corrcoef: r_ij = C_ij/√(C_ii·C_jj) by `ratio.rs` for i < j, 1 on the diagonal; a constant
/// variable is a clear error (`Check::Varies`; numpy gives nan). With `store`: r·2^20 by one
/// centred truncation of r at 2^F.
pub(crate) async fn run_cov<T: Transport>(
    party: &mut Party<T>,
    inputs: Vec<SharedInput>,
    ddof: Option<u32>,
    rowvar: bool,
    store: bool,
) -> Result<OutputShare, MpcError> {
    let name = if ddof.is_some() { "cov" } else { "corrcoef" };
    if inputs.len() != 1 {
        return Err(MpcError::Invalid(format!("{name} takes 1 key, got {}", inputs.len())));
    }
    let (rows, k, n, two_d) = variables(&inputs[0], rowvar, name)?;
    let inputs_scale = inputs[0].scale;
    if k == 0 {
        return Err(MpcError::Shape(format!("{name} of no variables")));
    }
    if let Some(dd) = ddof
        && n <= dd as usize
    {
        return Err(MpcError::Invalid(format!(
            "too few observations: {name} with ddof = {dd} needs more than {dd} observations, got {n}"
        )));
    }
    if n < 2 {
        return Err(MpcError::Invalid(format!("too few observations: {name} needs at least 2, got {n}")));
    }
    let t = party.t;
    party.progress_plan(8);
    {
        let mut needs = super::bits::decompose_needs(k);
        let l = (125 - clog2(n as u128)) / 2;
        let (s, kb) = super::stats::cert_plan(n, STORED_BITS + 3, l, t)?;
        let (spec, _) = super::trunc::plan(1u128 << s, STORED_BITS + 3, t)?;
        needs.pair(spec, k * n);
        needs.add(&super::compare::ltz_needs(k, kb));
        let np = k * (k + 1) / 2;
        needs.doubles += np + k;
        needs.triples += 2 * np + k;
        party.preprocess(&needs).await?;
    }
    party.step("preprocessing");
    let (d, flag, _) = party.centred_rows(&rows, STORED_BITS + 2).await?;
    party.step("centre");
    let pairs = upper_pairs(k, true);
    let c = party.gram(&d, &pairs, true).await?;
    party.step("cross products");
    let oshape = if two_d { vec![k, k] } else { vec![] };
    let full = |vals: &[Fp], diag: Option<Fp>| -> Vec<Fp> {
        let mut out = Vec::with_capacity(k * k);
        for i in 0..k {
            for j in 0..k {
                match diag {
                    Some(v) if i == j => out.push(v),
                    _ => out.push(vals[pair_index(k, i, j)]),
                }
            }
        }
        out
    };
    if let Some(dd) = ddof {
        let div = (n as u128) * (n as u128 - dd as u128);
        if !store {
            let g = party.mul(&c, &vec![flag; c.len()]).await?;
            let mut shares = full(&g, None);
            shares.push(flag);
            party.step("done");
            return Ok(OutputShare {
                layout: OutputLayout::Array {
                    shape: oshape,
                    dtype: Dtype::Float,
                    scale: Scale::bin(40, div as f64).for_inputs(inputs_scale, 2),
                },
                checks: vec![Check::Range],
                shares,
            });
        }
        // store: cov·2^20 from C's bits; C + 2^126 ∈ [0, 2^127) when the certificate holds
        let off = Fp::new(1u128 << SIGNED_OFF);
        let shifted: Vec<Fp> = c.iter().map(|v| *v + off).collect();
        let bits = party.decompose(&shifted).await?;
        party.step("decompose");
        // cov·S = C/(div·S): C is in representative units² (S = 2^20 or 10^d)
        let dv = div
            .checked_mul(inputs_scale.factor())
            .ok_or_else(|| MpcError::OutOfRange("too many observations".into()))?;
        let v = party.div_bits(&bits, FIELD_BITS, dv, 1u128 << SIGNED_OFF).await?;
        // storage range on the diagonal: [C_ii < dv·(2^62 − 4)]
        let m = FIELD_BITS;
        let mut fits = Fp::ONE;
        if let Some(cmax) = dv.checked_mul((1u128 << 62) - 4).filter(|v| *v < 1u128 << 125) {
            let mut dbits = Vec::with_capacity(k * m);
            for i in 0..k {
                let p = pair_index(k, i, i);
                dbits.extend_from_slice(&bits[p * m..(p + 1) * m]);
            }
            let cs = vec![cmax + (1u128 << SIGNED_OFF) - 1; k];
            let over = party.bit_lt(&cs, &dbits, m).await?;
            let mut f = vec![Fp::ONE - over[0]];
            for o in &over[1..] {
                f = party.mul(&f, &[Fp::ONE - *o]).await?;
            }
            fits = f[0];
        }
        let ok = party.mul(&[flag], &[fits]).await?[0];
        let g = party.mul(&v, &vec![ok; v.len()]).await?;
        let mut shares = full(&g, None);
        shares.push(ok);
        party.step("done");
        return Ok(OutputShare {
            layout: OutputLayout::Array { shape: oshape, dtype: Dtype::Float, scale: Scale::storage(inputs_scale) },
            checks: vec![Check::Range],
            shares,
        });
    }
    // corrcoef
    let f = NEWTON_F;
    let diag: Vec<Fp> = (0..k).map(|i| c[pair_index(k, i, i)]).collect();
    let off_pairs = upper_pairs(k, false);
    let offv: Vec<Fp> = off_pairs.iter().map(|&(i, j)| c[pair_index(k, i, j)]).collect();
    let mut todec = diag.clone();
    todec.extend(offv.iter().map(|v| *v + Fp::new(1u128 << SIGNED_OFF)));
    let bits = party.decompose(&todec).await?;
    party.step("decompose");
    let m = FIELD_BITS;
    let nb = party.normed(&bits[..k * m], k).await?;
    party.step("normalise");
    let r = party.correlations(&nb, &off_pairs, &offv, &bits[k * m..], flag).await?;
    party.step("correlations");
    let mut varies = nb.nonzero[0];
    for z in &nb.nonzero[1..] {
        varies = party.mul(&[varies], &[*z]).await?[0];
    }
    let ok = party.mul(&[flag], &[varies]).await?[0];
    let (vals, one, scale) = if store {
        // r·2^20 = ⌊(r − c)/2^(F−20)⌋, centred; |r| ≤ 2^(F+1) statically
        let sh = f - FRAC_BITS;
        let c0 = Fp::new((t as u128) << (sh - 1));
        let centred: Vec<Fp> = r.iter().map(|v| *v - c0).collect();
        (party.trunc(&centred, sh, 2 * f + 8).await?, Fp::new(1u128 << FRAC_BITS), Scale::STORAGE)
    } else {
        (r, Fp::new(1u128 << f), Scale::bin(f as i32, 1.0))
    };
    let mut all = vals;
    all.push(one);
    let g = party.mul(&all, &vec![ok; all.len()]).await?;
    let one_g = g[g.len() - 1];
    let mut shares = Vec::with_capacity(k * k + 2);
    for i in 0..k {
        for j in 0..k {
            if i == j {
                shares.push(one_g);
            } else {
                let (a, b) = if i < j { (i, j) } else { (j, i) };
                let p = off_pairs.iter().position(|&q| q == (a, b)).unwrap_or(0);
                shares.push(g[p]);
            }
        }
    }
    shares.push(flag);
    shares.push(varies);
    party.step("done");
    Ok(OutputShare {
        layout: OutputLayout::Array { shape: oshape, dtype: Dtype::Float, scale },
        checks: vec![Check::Range, Check::Varies],
        shares,
    })
}

/// The committee's shares for `lstsq(stats=True)` (see [`Party::lstsq_t_parts`]).
pub(crate) struct TParts {
    /// R² at 2^NS_F (centred R² with an intercept, uncentred without, as statsmodels).
    r2: Fp,
    /// ρ'_j = ρ_j·2^(−e/2) at 2^F, per predictor.
    rho: Vec<Fp>,
    /// u_j at `u_scale()`, per predictor.
    u: Vec<Fp>,
    /// The u window's range bits (part of `Check::Range`).
    over: Vec<Fp>,
    /// max(0, 1 − R²) at 2^NS_F (the intercept's t reuses it).
    om: Fp,
}

/// The intercept's t statistic, revealed in a window (see [`Party::intercept_t_parts`]).
pub(crate) struct InterceptT {
    /// τ' = t0/(N·√(N − p)) at 2^[`TAU_SCALE`] (0 below the window, and when `over`).
    tau: Fp,
    /// [|τ'| is above the window] (t0 = ±inf, the sign of the intercept).
    over: Fp,
    /// [1 − R² ≤ 0] (a perfect fit: t0 = ±inf, as the slopes' u = 0).
    perfect: Fp,
}

/// Window of τ' = P·2^(E − 60) (P the mantissa product, E the secret exponent): E ∈ [TAU_E_LO,
/// TAU_E_HI], revealed as P·2^(E − TAU_E_LO) at scale 2^TAU_SCALE; P < 2^44 statically, so the
/// width keeps the product below 2^126.
const TAU_E_LO: i64 = -22;
const TAU_E_HI: i64 = 60;
pub(crate) const TAU_SCALE: i32 = (60 - TAU_E_LO) as i32;

impl<T: Transport> Party<T> {
    /// The per-predictor t statistics of lstsq, in the t-tests' (ρ, u) form, and R².
    ///
    /// In standardised units (Jacobi-scaled correlation matrix R, r = the correlations of the
    /// predictors with y, β_std = R^-1·r), statsmodels' OLS statistics are
    /// R² = rᵀ·β_std (centred with an intercept; uncentred through the origin, both as statsmodels
    /// reports them), σ² = RSS/(N − p) with RSS = (1 − R²)·Σd_y², Var(β_j) = σ²·[R^-1]_jj/Σd_j²,
    /// so t_j = β_j/se_j = √(N − p)·β_std_j/√((1 − R²)·[R^-1]_jj): the scale of the data cancels.
    ///
    /// With A_j = β_std_j·2^NS_F (`bs`, gated by the solve's check, so |A_j| < 2^(NS_F+13)
    /// whatever the data: R² ≤ 1 gives ‖β_std‖² ≤ 1/λ_min(R)), C_j = max(0, 1 − R²)·2^NS_F ·
    /// X_jj (X ≈ 2^e·R^-1 at 2^NS_F, the Newton–Schulz iterate) and B_j = A_j²·2^e + C_j (exact
    /// products: no truncation), the committee outputs ρ'_j = A_j/√B_j ∈ [−2^(−e/2), 2^(−e/2)]
    /// (`rho` with ea = 0: |A_j| ≤ √B_j holds by construction) and u_j = √(C_j/B_j) ∈ [0, 1]
    /// (`sqrt_ratio_parts`), and the requester forms t_j = √(N − p)·2^(e/2)·ρ'_j/u_j.
    ///
    /// **Leakage.** The revealed values are functions of statsmodels' outputs alone: R² is one;
    /// ρ_j = τ_j/√(τ_j² + 1) and u_j = 1/√(τ_j² + 1) with τ_j = t_j/√(N − p) are functions of t_j
    /// (as the t-tests' ρ and u). The intermediates that are not (RSS, [R^-1]_jj, (XᵀX)^-1 — RSS
    /// alone is not a function of the outputs: scaling X and y by c keeps β, t and R² and scales RSS
    /// by c²) stay shared. Every opening below is a mask of `inner_products`, `trunc`, `ltz`, `mul`
    /// or `decompose`, and every truncation has a static bound: |A_j·r_j| sums < 2^78 (|r_j| ≤ 1,
    /// k ≤ 32), |1 − R²| < 2^(NS_F+19) for the LTZ, and the ratio kernel's own bounds (`ratio.rs`).
    /// The standard errors are se_j = β_j/t_j at the requester (β_j is revealed already).
    async fn lstsq_t_parts(
        &mut self,
        bs: &[Fp],
        rxy: &[Fp],
        xm: &[Fp],
        k: usize,
        e: u32,
        flag_i: Fp,
    ) -> Result<TParts, MpcError> {
        let m = FIELD_BITS;
        let a = self.mul(bs, &vec![flag_i; k]).await?;
        let r2raw = self.inner_products(&[(&a, rxy)]).await?[0];
        let r2 = self.trunc(&[r2raw], NS_F, 2 * NS_F + 19).await?[0];
        let om = Fp::new(1u128 << NS_F) - r2;
        let neg = self.ltz(&[om], NS_F + 20).await?[0];
        let om = om - self.mul(&[om], &[neg]).await?[0];
        let diag: Vec<Fp> = (0..k).map(|j| xm[j * k + j]).collect();
        let c = self.mul(&vec![om; k], &diag).await?;
        let a2 = self.mul(&a, &a).await?;
        let pe = Fp::new(1u128 << e);
        let b: Vec<Fp> = a2.iter().zip(&c).map(|(a2, c)| *a2 * pe + *c).collect();
        let mut todec = b;
        todec.extend_from_slice(&c);
        todec.extend(a.iter().map(|v| *v + Fp::new(1u128 << SIGNED_OFF)));
        let bits = self.decompose(&todec).await?;
        let nb = self.normed(&bits[..2 * k * m], 2 * k).await?;
        let idx: Vec<usize> = (0..k).collect();
        let rho = self.rho(&nb, &idx, &a, &bits[2 * k * m..], 0, flag_i).await?;
        let pairs: Vec<(usize, usize)> = (0..k).map(|j| (j, k + j)).collect();
        let (um, g) = self.sqrt_ratio_parts(&nb, &nb, &pairs).await?;
        let (u, over) = self.times_pow2_window(&um, &g, super::ratio::U_LOW, super::ratio::U_HIGH).await?;
        Ok(TParts { r2, rho, u, over, om })
    }

    /// The intercept's t statistic of `lstsq(intercept=True, stats=True)`, as statsmodels' OLS
    /// reports it (`tvalues[0]`), revealed as τ' = t0/(N·√(N − p)) in a fixed-point window.
    ///
    /// **What is computed.** With m_i = Σx_i/√G_ii = x̄_i/σ_i for each predictor (G the centred
    /// Gram matrix, G_ii = N²·σ_i², exact in representative units), statsmodels' intercept has
    /// se0² = σ̂²·[(ZᵀZ)^-1]_00 = (1 − R²)·σ_y²·V0/(N − p) with V0 = 1 + mᵀR^-1·m (R the
    /// predictors' correlation matrix), so t0 = β0/se0 = √(N − p)·A0/√C0 with A0 = N·β0/√G_yy and
    /// C0 = (1 − R²)·V0. The m_i range over 2^±80 (a nearly constant column with a large mean) and
    /// A0 over more, so both are carried in a floating form:
    /// 1. |S_i| (S_i = Σx_i; its sign from the top bit of S_i + 2^126) is normalised,
    ///    |S_i| ≈ Ma_i·4^(sa_i); with G_ii ≈ M_i·4^(s_i) (normalised already, Newton inverse
    ///    square root y_i), |m_i| = μ_i·2^(L_i − F), μ_i = ⌊Ma_i·y_i/2^F⌋ ∈ [2^(F−2), 2^(F+1)],
    ///    L_i = 2·sa_i − s_i + F/2, so |m_i| ∈ [2^(L_i − 2), 2^(L_i + 1)). The one-hot of L_i is one
    ///    inner product of the two exponents' one-hots per candidate (`onehot_combination`).
    /// 2. ê = max(0, L_1, …, L_k): [ê ≥ v] = 1 − Π_i (1 − [L_i ≥ v]), a product tree of secret bits,
    ///    and its one-hot g by differences. So |m̃_i| < 2 for m̃ = m·2^-ê.
    /// 3. m̃_i at 2^H (H = 29) by a secret shift of ±μ_i (`scale_pow2_secret`, exponent
    ///    L_i − ê + H − F from the one-hot of L_i − ê; candidates below 2^-(F+2) give 0).
    /// 4. Q̃ = m̃ᵀR^-1·m̃ with X ≈ 2^e·R^-1 (the solve's iterate): w = X·m̃/2^(NS_F + e), one inner
    ///    product; V'' = (4^-ê + Q̃)·2^38 = V0·4^-ê·2^38 (4^-ê a public combination of g), which is
    ///    ≥ 2^38/(16k) (when ê > 0, some |m̃_i| ≥ 1/4 and Q̃ ≥ ‖m̃‖²/k), and C = max(0, 1 − R²)·2^30·V''
    ///    exactly, so C0 = C·4^ê·2^-68. C is decomposed and normalised (C ≈ M_c·4^(s_c)).
    /// 5. |v| (v = β0·2^60 in representative units, sign from its bits) is normalised,
    ///    |v| ≈ M_v·4^(s_v). Then |A0|/√C0 = N·P·2^(E − 60) with the mantissa product
    ///    P = ⌊⌊M_v·y_y/2^F⌋·y_c/2^F⌋ and E = 2·s_v − s_y − s_c − ê (three rounds of
    ///    `onehot_combination`).
    /// 6. τ' = ±P·2^(E − 60) is revealed as ±P·2^(E − TAU_E_LO) for E in the window (one product
    ///    with a public combination of E's one-hot), with the bit [E > TAU_E_HI]; the requester
    ///    forms t0 = N·√(N − p)·τ'.
    ///
    /// **Static bounds** (whatever the data): the mantissas are < 2^F and the Newton roots
    /// ≤ 2^(F+5), so μ, P and every truncated product are bounded by construction; |X·m̃| ≤
    /// ‖X‖₂·‖m̃‖ < 2^(17.5 + 3.5) at 2^(NS_F + H) = 2^59 (the ‖X‖₂ bound the coefficients use,
    /// k ≤ 32); ‖R^-1‖ ≤ 2^12.5 when the solve's check holds, so Q̃ < 4k·2^12.5 ≤ 2^19.5 (< 2^78
    /// at 2^58), and Q̃ is multiplied by the caller's `gate` (certificate · solve check) before its
    /// truncation. The decomposed values are below 2^127: |S_i| < 2^82, |v| < 2^125, C < 2^90.
    ///
    /// **Leakage.** τ' is t0/(N·√(N − p)), a function of statsmodels' output t0 (N and p are
    /// public), with rounding noise of the kind every output has; `over` is [|t0| beyond the
    /// window], a function of t0; `perfect` is [computed R² ≥ 1], a function of the revealed R².
    /// Everything else stays shared: the sums, their signs, every exponent and one-hot, m̃, Q̃,
    /// V0, C0 and se0. Every opening is the mask of `decompose`, `normalise`, `mul`,
    /// `inner_products`, `matmul`, `trunc` or `scale_pow2_secret`.
    #[allow(clippy::too_many_arguments)]
    async fn intercept_t_parts(
        &mut self,
        rows: &[Vec<Fp>],
        nb: &Normed,
        xm: &[Fp],
        e: u32,
        om: Fp,
        v: Fp,
        ib: &[Fp],
        gate: Fp,
    ) -> Result<InterceptT, MpcError> {
        const H: i32 = 29;
        let f = NEWTON_F;
        let m = FIELD_BITS;
        let k = rows.len() - 1;
        let (smin, _) = s_range();
        let smin = smin as i64;
        let w = onehot_width() as i64;
        let half = (f / 2) as i64;
        // 1. signs and magnitudes of the predictors' sums and of v
        let mut vals: Vec<Fp> = rows[..k].iter().map(|r| r.iter().copied().sum()).collect();
        let soff = Fp::new(1u128 << SIGNED_OFF);
        let sb = self.decompose(&vals.iter().map(|x| *x + soff).collect::<Vec<_>>()).await?;
        let two = Fp::new(2);
        let mut sgn: Vec<Fp> = (0..k).map(|i| sb[i * m + SIGNED_OFF as usize] * two - Fp::ONE).collect();
        let sgn_v = ib[125] * two - Fp::ONE;
        sgn.push(sgn_v);
        vals.push(v);
        let abs = self.mul(&sgn, &vals).await?;
        let ab = self.decompose(&abs).await?;
        let na = self.normalise(&ab, k + 1).await?;
        let mu = self.mul(&na.mant[..k], &nb.y[..k]).await?;
        let mu = self.trunc(&mu, f, 2 * f + 6).await?;
        let (l_lo, l_hi) = (smin - (w - 1) + half, smin + 2 * (w - 1) + half);
        // L = 2·(a + smin) − (b + smin) + F/2 for one-hot indices a (of sa) and b (of s)
        let lpairs: Vec<(&[Fp], &[Fp])> =
            (0..k).map(|i| (na.onehot_s[i].as_slice(), nb.onehot[i].as_slice())).collect();
        let hl = self.onehot_combination(&lpairs, |a, b| 2 * a - b + smin + half, l_lo, l_hi).await?;
        // 2. ê = max(0, max L_i): 1 − P[v] = Π_i (1 − [L_i ≥ v]) for v = 1..=top
        let top = l_hi.max(1) as usize;
        let mut layer: Vec<Vec<Fp>> = hl
            .iter()
            .map(|h| {
                (1..=top).map(|v| Fp::ONE - (v as i64..=l_hi).map(|l| h[(l - l_lo) as usize]).sum::<Fp>()).collect()
            })
            .collect();
        while layer.len() > 1 {
            let (mut xa, mut xb) = (Vec::new(), Vec::new());
            for pair in layer.chunks_exact(2) {
                xa.extend_from_slice(&pair[0]);
                xb.extend_from_slice(&pair[1]);
            }
            let prod = self.mul(&xa, &xb).await?;
            let odd = (layer.len() % 2 == 1).then(|| layer[layer.len() - 1].clone());
            layer = prod.chunks(top).map(|c| c.to_vec()).collect();
            layer.extend(odd);
        }
        let pge: Vec<Fp> = std::iter::once(Fp::ONE).chain(layer[0].iter().map(|z| Fp::ONE - *z)).collect();
        let g: Vec<Fp> = (0..=top).map(|v| if v < top { pge[v] - pge[v + 1] } else { pge[v] }).collect();
        // 3. m̃_i at 2^H: D_i = L_i − ê ∈ [−d_min, 0] (lower: below one unit, taken as 0)
        let d_min = 2 * (f as i64) + 2 - H as i64;
        let dpairs: Vec<(&[Fp], &[Fp])> = (0..k).map(|i| (hl[i].as_slice(), g.as_slice())).collect();
        let dh = self.onehot_combination(&dpairs, |a, b| a + l_lo - b, -d_min, 0).await?;
        let x = self.mul(&sgn[..k], &mu).await?;
        let exps: Vec<i32> = (-d_min..=0).map(|d| d as i32 + H - f as i32).collect();
        let dh: Vec<&[Fp]> = dh.iter().map(|h| h.as_slice()).collect();
        let mt = self.scale_pow2_secret_each(&x, f + 2, &dh, &exps).await?;
        // 4. Q̃, V'' and C
        let wv = self.matmul(xm, &mt, k, k, 1).await?;
        let wv = self.trunc(&wv, NS_F + e, 2 * NS_F + 21).await?;
        let q = self.inner_products(&[(&mt, &wv)]).await?[0];
        let q = self.mul(&[q], &[gate]).await?[0];
        let q = self.trunc(&[q], 2 * H as u32 - 38, 80).await?[0];
        let quarter: Fp = g.iter().take(20).enumerate().map(|(v, gv)| *gv * Fp::new(1u128 << (38 - 2 * v))).sum();
        let c = self.mul(&[om], &[quarter + q]).await?[0];
        let cb = self.decompose(&[c]).await?;
        let nc = self.normed(&cb, 1).await?;
        // 5. the mantissa product and the exponent E = 2·s_v − s_y − s_c − ê
        let p1 = self.mul(&[na.mant[k]], &[nb.y[k]]).await?;
        let p1 = self.trunc(&p1, f, 2 * f + 6).await?;
        let pm = self.mul(&p1, &[nc.y[0]]).await?;
        let pm = self.trunc(&pm, f, 2 * f + 11).await?[0];
        let e1 = self
            .onehot_combination(
                &[(na.onehot_s[k].as_slice(), nb.onehot[k].as_slice())],
                |a, b| 2 * a - b + smin,
                smin - (w - 1),
                smin + 2 * (w - 1),
            )
            .await?;
        let e1_lo = smin - (w - 1);
        // the largest E: 2·s_max − s_min − s_min (ê ≥ 0)
        let e2_hi = 2 * (w - 1);
        let e2 = self
            .onehot_combination(
                &[(e1[0].as_slice(), nc.onehot[0].as_slice())],
                |a, b| a + e1_lo - (b + smin),
                TAU_E_LO,
                e2_hi,
            )
            .await?;
        let e3 = self
            .onehot_combination(&[(e2[0].as_slice(), g.as_slice())], |a, b| a + TAU_E_LO - b, TAU_E_LO, e2_hi)
            .await?;
        // 6. the window
        let (mut fac, mut over) = (Fp::ZERO, Fp::ZERO);
        for (i, h) in e3[0].iter().enumerate() {
            let ex = i as i64 + TAU_E_LO;
            if ex > TAU_E_HI {
                over += *h;
            } else {
                fac += *h * Fp::new(1u128 << (ex - TAU_E_LO));
            }
        }
        let ps = self.mul(&[pm], &[sgn_v]).await?;
        let tau = self.mul(&ps, &[fac]).await?[0];
        Ok(InterceptT { tau, over, perfect: Fp::ONE - nc.nonzero[0] })
    }
}

/// The intercept's t0 from the revealed τ' (at 2^TAU_SCALE), its window bit and the perfect-fit
/// bit (see [`Party::intercept_t_parts`]); `beta0` gives the sign of an infinite t0.
pub(crate) fn intercept_t(n: usize, p: usize, tau: f64, over: bool, perfect: bool, beta0: f64) -> f64 {
    if over || perfect {
        return if beta0 > 0.0 {
            f64::INFINITY
        } else if beta0 < 0.0 {
            f64::NEG_INFINITY
        } else {
            f64::NAN
        };
    }
    n as f64 * ((n - p) as f64).sqrt() * tau
}

/// Requester side of `lstsq(stats=True)`: statsmodels' OLS results from the revealed
/// coefficients, R², the (ρ', u) pair of each predictor (t_j = factor·ρ'_j/u_j) and, with an
/// intercept, its t0 (`intercept_t`, formed by [`intercept_t`]). se = |β/t|.
#[allow(clippy::too_many_arguments)]
pub(crate) fn finish_lstsq_stats(
    n: usize,
    intercept_t: Option<f64>,
    params: Vec<f64>,
    r2: f64,
    rho: &[f64],
    u: &[f64],
    factor: f64,
) -> super::spec::OpResult {
    let p = params.len();
    let df_resid = (n - p) as f64;
    let mut bse = Vec::with_capacity(p);
    let mut tvalues = Vec::with_capacity(p);
    let mut pvalues = Vec::with_capacity(p);
    let slopes = rho.iter().zip(u).map(|(r, uu)| {
        if *uu > 0.0 {
            factor * r / uu
        } else if *r > 0.0 {
            f64::INFINITY
        } else if *r < 0.0 {
            f64::NEG_INFINITY
        } else {
            f64::NAN
        }
    });
    let ts: Vec<f64> = intercept_t.into_iter().chain(slopes).collect();
    for (b, t) in params.iter().zip(ts) {
        tvalues.push(t);
        bse.push(if t.is_finite() && t != 0.0 {
            (b / t).abs()
        } else if t.is_infinite() {
            0.0
        } else {
            f64::NAN
        });
        pvalues.push(super::tdist::t_two_sided(t, df_resid));
    }
    let intercept = intercept_t.is_some();
    // statsmodels: rsquared_adj = 1 − (nobs − k_constant)/df_resid·(1 − rsquared)
    let rsquared_adj = 1.0 - (n - usize::from(intercept)) as f64 / df_resid * (1.0 - r2);
    super::spec::OpResult::Lstsq { params, bse, tvalues, pvalues, rsquared: r2, rsquared_adj, df_resid }
}

/// Fractional bits of the Newton–Schulz solve (as `linalg.rs`'s inverse).
const NS_F: u32 = 30;
/// Largest κ(R) the iteration count is sized for.
const NS_KAPPA: f64 = 1e3;
/// Largest number of predictors.
pub(crate) const LSTSQ_MAX_K: usize = 32;
/// lstsq with an intercept: coefficients |β| < 2^(BETA_HIGH + 1)·|β_std| enter the intercept.
const BETA_HIGH: i32 = 18;
/// Revealed coefficients: β_rep = β·2^(F + B_LOW), exponent window d ∈ [−B_LOW, B_HIGH] of
/// q = √(G_yy/G_jj) (|β_std| < 2^13 when the solve's check passes, so β_rep < 2^126).
const B_LOW: i32 = 40;
const B_HIGH: i32 = 37;
/// Static bound (bits) of β_std·u_m at 2^F (|X| < 2^18 at 2^NS_F, |r| ≤ 1, k ≤ 32, u_m ≤ 2^(F+1)).
const BM_BITS: u32 = NEWTON_F + 22;

fn beta_scale() -> Scale {
    Scale::bin(NEWTON_F as i32 + B_LOW, 1.0)
}

/// numpy.linalg.lstsq(X, y) (through the origin) or, with `intercept`, lstsq([1, X], y).
///
/// 1. Variables: the k columns of X and y; centred (with intercept) or raw. Certificate:
///    N·Σd² < 2^125 (centred) or Σx² < 2^125 (raw), per variable.
/// 2. Exact Gram matrix G of the k + 1 variables (one inner product and, centred, one Beaver
///    product per pair).
/// 3. Normalise the diagonal; R_ij = G_ij/√(G_ii·G_jj) for the predictors and r_j for (x_j, y)
///    (`ratio.rs`); q_j = √(G_yy/G_jj) with a secret exponent.
/// 4. B = R/2^e (2^e ≥ k, public; B·X is R·X truncated by 2^(NS_F + e)), Newton–Schulz X ← X(2I − BX) from X0 = B for a public,
///    size-only number of iterations (κ(R) ≤ 10^3); residual check ‖I − BX‖_F² ≤ 2^-40
///    (`Check::Invertible`), which gates everything.
/// 5. β_std = X·r/2^e, β_j = β_std_j·q_j: revealed as β_std_j·u_m_j·2^(d_j + U_LOW) (public scale
///    2^(F + U_LOW)), i.e. the coefficient itself with a secret exponent.
/// 6. Intercept: β0 = ȳ − Σ x̄_j β_j with β_j·2^40 by a secret shift (`shift.rs`), x̄_j at 2^40, a
///    certificate ‖x̄‖·‖β‖ < 2^124 and one inner product, then one decomposition and an exact shift
///    to 2^40.
///
/// With `store` (the stored value is the Float array of the coefficients, [intercept, β_1..β_k]
/// with `intercept`, as numpy.linalg.lstsq's solution, at the storage scale): β_j·2^20 by a secret
/// shift of β_std·u_m (`scale_pow2_secret`, exponents d + 20 − F, d ≤ [`B_HIGH_STORED`]), the
/// intercept·2^20 by an exact shift of its decomposition (taken of intercept·2^80 + 2^59, so the
/// shift rounds to nearest) and a storage-range check on those bits (two `bit_lt`); at a decimal
/// scale 10^-d the shift gives the intercept's representative, which one truncation by 5^d brings
/// to 2^-20 (`Party::intercept_at_2_20`). Any part that does not fit the storage range fails
/// `Check::Range`.
pub(crate) async fn run_lstsq<T: Transport>(
    party: &mut Party<T>,
    inputs: Vec<SharedInput>,
    intercept: bool,
    stats: bool,
    store: bool,
) -> Result<OutputShare, MpcError> {
    if stats && store {
        return Err(MpcError::Unsupported(
            "stats.lstsq with stats=True and store=True: the standard errors, t and p are formed at the requester"
                .into(),
        ));
    }
    if inputs.len() != 2 {
        return Err(MpcError::Invalid(format!("lstsq takes 2 keys (X, y), got {}", inputs.len())));
    }
    let xs = inputs[0].meta.shape().unwrap_or_default();
    let ys = inputs[1].meta.shape().unwrap_or_default();
    if xs.len() != 2 {
        return Err(MpcError::Shape(format!("lstsq needs a 2-D X (N × k), got shape {xs:?}")));
    }
    if ys.len() != 1 {
        return Err(MpcError::Shape(format!("lstsq needs a 1-D y, got shape {ys:?}")));
    }
    let (n, k) = (xs[0], xs[1]);
    if ys[0] != n {
        return Err(MpcError::Shape(format!("lstsq: X has {n} rows but y has {} values", ys[0])));
    }
    let inputs_scale = super::spec::common_scale(&inputs)?;
    if k == 0 || k > LSTSQ_MAX_K {
        return Err(MpcError::Shape(format!("lstsq takes 1 to {LSTSQ_MAX_K} predictors, got {k}")));
    }
    let p = k + usize::from(intercept);
    if n <= p {
        return Err(MpcError::Invalid(format!(
            "too few observations: lstsq with {p} coefficients needs more than {p} rows, got {n}"
        )));
    }
    let f = NEWTON_F;
    let x = &inputs[0].share;
    let mut rows: Vec<Vec<Fp>> = (0..k).map(|j| (0..n).map(|i| x[i * k + j]).collect()).collect();
    rows.push(inputs[1].share.clone());
    let kv = k + 1;
    let e = clog2(k as u128);
    let iters = {
        let sig = 1.0 / (NS_KAPPA * (1u64 << e) as f64);
        (28.0 / (sig * sig)).log2().ceil() as u32
    };
    party.progress_plan(iters as u64 + 10);
    let t = party.t;
    {
        let mut needs = super::bits::decompose_needs(kv * (kv + 1) / 2 + kv);
        let l = (125 - clog2(n as u128)) / 2;
        let (s, kb) = super::stats::cert_plan(n, STORED_BITS + 3, l, t)?;
        let (spec, _) = super::trunc::plan(1u128 << s, STORED_BITS + 3, t)?;
        needs.pair(spec, kv * n);
        needs.add(&super::compare::ltz_needs(kv, kb));
        let (spec, _) = super::trunc::plan(1u128 << NS_F, 2 * NS_F + 21, t)?;
        needs.pair(spec, 2 * k * k * iters as usize);
        needs.doubles += 2 * k * k * iters as usize;
        party.preprocess(&needs).await?;
    }
    party.step("preprocessing");

    // 1–2. variables, certificate, Gram matrix
    let (d, flag_c, mu40) = if intercept {
        party.centred_rows(&rows, STORED_BITS + 1).await?
    } else {
        let fl = party.certify(&rows, STORED_BITS + 1, 62).await?;
        (rows.clone(), fl, vec![])
    };
    let pairs = upper_pairs(kv, true);
    let g = party.gram(&d, &pairs, intercept).await?;
    party.step("cross products");

    // 3. normalisation, correlations, q_j
    let diag: Vec<Fp> = (0..kv).map(|i| g[pair_index(kv, i, i)]).collect();
    let off_pairs = upper_pairs(kv, false);
    let offv: Vec<Fp> = off_pairs.iter().map(|&(i, j)| g[pair_index(kv, i, j)]).collect();
    let mut todec = diag.clone();
    todec.extend(offv.iter().map(|v| *v + Fp::new(1u128 << SIGNED_OFF)));
    let bits = party.decompose(&todec).await?;
    let m = FIELD_BITS;
    let nb = party.normed(&bits[..kv * m], kv).await?;
    party.step("normalise");
    let r = party.correlations(&nb, &off_pairs, &offv, &bits[kv * m..], flag_c).await?;
    let qpairs: Vec<(usize, usize)> = (0..k).map(|j| (j, k)).collect();
    let (um, gq) = party.sqrt_ratio_parts(&nb, &nb, &qpairs).await?;
    party.step("correlations");
    let rget = |i: usize, j: usize| -> Fp {
        if i == j {
            return Fp::new(1u128 << f);
        }
        let (a, b) = if i < j { (i, j) } else { (j, i) };
        off_pairs.iter().position(|&q| q == (a, b)).map_or(Fp::ZERO, |p| r[p])
    };
    // R (k × k) and r_xy at 2^NS_F; B = R/2^e
    let mut rr = Vec::with_capacity(k * k + k);
    for i in 0..k {
        for j in 0..k {
            rr.push(rget(i, j));
        }
    }
    for j in 0..k {
        rr.push(rget(j, k));
    }
    let rr = party.trunc(&rr, f - NS_F, f + 2).await?;
    let rxy = rr[k * k..].to_vec();
    // R at 2^NS_F; the iteration multiplies by R and divides by 2^(NS_F + e) in one truncation, so B
    // keeps R's full resolution (only the start X0 = B is rounded to 2^-NS_F)
    let r29 = rr[..k * k].to_vec();
    let b = if e == 0 { r29.clone() } else { party.trunc(&r29, e, NS_F + 2).await? };

    // 4. Newton–Schulz from X0 = B (symmetric)
    let mut xm = b.clone();
    let two = Fp::new(2u128 << NS_F);
    let bound = 2 * NS_F + 21;
    for _ in 0..iters {
        let pm = party.matmul(&r29, &xm, k, k, k).await?;
        let bx = party.trunc(&pm, NS_F + e, bound).await?;
        let mut q: Vec<Fp> = bx.iter().map(|v| -*v).collect();
        for i in 0..k {
            q[i * k + i] += two;
        }
        let nx = party.matmul(&xm, &q, k, k, k).await?;
        xm = party.trunc(&nx, NS_F, bound).await?;
        party.step("newton-schulz");
    }
    let pm = party.matmul(&r29, &xm, k, k, k).await?;
    let bx = party.trunc(&pm, NS_F + e, bound).await?;
    let mut res: Vec<Fp> = bx.iter().map(|v| -*v).collect();
    for i in 0..k {
        res[i * k + i] += Fp::new(1u128 << NS_F);
    }
    let rsq = party.inner_products(&[(&res, &res)]).await?[0];
    let thr = Fp::new(1u128 << (2 * NS_F - 40));
    let kbits = clog2((k * k) as u128) + 2 * NS_F + 4;
    let flag_i = Fp::ONE - party.ltz(&[thr - rsq], kbits).await?[0];

    // 5. β_std = X·r/2^e (at 2^NS_F), β = β_std·q
    let bs = party.matmul(&xm, &rxy, k, k, 1).await?;
    // |X·r| ≤ ‖X‖₂·‖r‖ < 2^(17.5 + 2.5) at scale 2^(2·NS_F)
    let bs = party.trunc(&bs, NS_F + e, 2 * NS_F + 21).await?;
    let st = if stats { Some(party.lstsq_t_parts(&bs, &rxy, &xm, k, e, flag_i).await?) } else { None };
    // u_m at 2^(F − 4) (≤ 2^31) so that β_std·u_m stays below 2^80 for its truncation
    let um4 = party.trunc(&um, 4, f + 2).await?;
    let bm = party.mul(&bs, &um4).await?;
    let bm = party.trunc(&bm, NS_F - 4, NS_F + 20 + f - 3).await?; // β_std·u_m at 2^F
    let (beta, too_big) = party.times_pow2_window(&bm, &gq, B_LOW, B_HIGH).await?;
    // store: β_j·2^20 = ⌊bm_j·2^(d_j + 20 − F)⌋ for the window's d_j ≤ B_HIGH (a larger d_j already
    // fails the range check: `too_big`), |·| < 2^(BM_BITS + B_HIGH + 20 − F); then the exact
    // storage-range check of each from its bits
    let mut b20 = Vec::new();
    let mut over20 = Vec::new();
    if store {
        let w = onehot_width() as i32;
        let exps: Vec<i32> = (0..2 * w - 1).map(|i| (i - (w - 1)).min(B_HIGH) + FRAC_BITS as i32 - f as i32).collect();
        let oh: Vec<&[Fp]> = gq.iter().map(|g| g.as_slice()).collect();
        b20 = party.scale_pow2_secret_each(&bm, BM_BITS, &oh, &exps).await?;
        let off = Fp::new(1u128 << 125);
        let bits = party.decompose(&b20.iter().map(|v| *v + off).collect::<Vec<_>>()).await?;
        over20 = party.outside_storage_range(&bits, k, 125).await?;
    }
    party.step("coefficients");

    // checks: range (certificate, q window), invertible, every predictor varies
    let mut fits = Fp::ONE - too_big[0];
    let st_over: &[Fp] = st.as_ref().map_or(&[], |s| s.over.as_slice());
    for tb in too_big[1..].iter().chain(&over20).chain(st_over) {
        fits = party.mul(&[fits], &[Fp::ONE - *tb]).await?[0];
    }
    let mut varies = nb.nonzero[0];
    for z in &nb.nonzero[1..k] {
        varies = party.mul(&[varies], &[*z]).await?[0];
    }
    let range0 = party.mul(&[flag_c], &[fits]).await?[0];

    // 6. intercept (its value v = β0·2^60 in representative units and the bits of v + 2^125 are kept for its t)
    let mut icpt: Option<(Fp, Vec<Fp>)> = None;
    let (mut outs, mut scales, range) = if intercept {
        let w = onehot_width() as i32;
        let exps: Vec<i32> = (0..2 * w - 1).map(|i| i - (w - 1) + 40 - f as i32).collect();
        let bm_bits = BM_BITS;
        let mut ohs: Vec<Vec<Fp>> = Vec::with_capacity(k);
        let mut over = Vec::with_capacity(k);
        for gj in &gq[..k] {
            // candidates d > BETA_HIGH are left out (β40 = 0) and flagged
            let too_high = |i: usize| i as i32 - (w - 1) > BETA_HIGH;
            ohs.push(gj.iter().enumerate().map(|(i, v)| if too_high(i) { Fp::ZERO } else { *v }).collect());
            over.push(gj.iter().enumerate().filter(|(i, _)| too_high(*i)).map(|(_, v)| *v).sum::<Fp>());
        }
        let ex: Vec<i32> = exps.iter().map(|&x| x.min(BETA_HIGH + 40 - f as i32)).collect();
        let oh: Vec<&[Fp]> = ohs.iter().map(|h| h.as_slice()).collect();
        let b40 = party.scale_pow2_secret_each(&bm[..k], bm_bits, &oh, &ex).await?;
        let b40 = party.mul(&b40, &vec![range0; k]).await?;
        let xbar = mu40[..k].to_vec();
        let ybar = mu40[k];
        let bb = bm_bits + (BETA_HIGH + 40 - f as i32) as u32 + 1;
        let flag_d = party.certify(&[xbar.clone(), b40.clone()], bb.max(STORED_BITS + 20), 62).await?;
        let ip = party.inner_products(&[(&xbar, &b40)]).await?[0];
        let ip = party.mul(&[ip], &[flag_d]).await?[0];
        // intercept·2^80 = ȳ·2^80 − Σ x̄_j β_j·2^80, |·| < 2^125; exact shift to 2^40 (to 2^20,
        // rounded to nearest, with `store`) from its bits
        let v = ybar * Fp::new(1u128 << 40) - ip;
        let half = if store { Fp::new(1u128 << 59) } else { Fp::ZERO };
        let ib = party.decompose(&[v + half + Fp::new(1u128 << 125)]).await?;
        icpt = Some((v, ib.clone()));
        let mut fl = party.mul(&[range0], &[flag_d]).await?[0];
        for o in over {
            fl = party.mul(&[fl], &[Fp::ONE - o]).await?[0];
        }
        if store {
            // i20 = ⌊(v + 2^59)/2^60⌋: the intercept in the inputs' representative units, rounded;
            // its bits, offset 2^65 (|i20| < 2^65), are ib's from bit 60
            let i20 = super::ratio::shifted(&ib, v + half, 60, 125);
            let sh: Vec<Fp> =
                (0..FIELD_BITS).map(|i| if i + 60 < FIELD_BITS { ib[i + 60] } else { Fp::ZERO }).collect();
            let (stored, bound) = match inputs_scale.decimals() {
                // at 2^-20 the representative is the stored value
                None => (i20, Some(1u128 << STORED_BITS)),
                Some(d) => party.intercept_at_2_20(&ib, v + half, d).await?,
            };
            if let Some(bound) = bound {
                let out = party.outside_range(&sh, 1, 65, bound).await?[0];
                fl = party.mul(&[fl], &[Fp::ONE - out]).await?[0];
            }
            let mut outs = vec![stored];
            outs.extend(b20);
            (outs, vec![], fl)
        } else {
            let i40 = super::ratio::shifted(&ib, v, 40, 125);
            let mut outs = vec![i40];
            outs.extend(beta);
            let mut scales = vec![Scale::bin(40, 1.0).for_inputs(inputs_scale, 1)];
            scales.extend(std::iter::repeat_n(beta_scale(), k));
            (outs, scales, fl)
        }
    } else if store {
        (b20, vec![], range0)
    } else {
        (beta, vec![beta_scale(); k], range0)
    };
    let ok1 = party.mul(&[range], &[flag_i]).await?[0];
    let ok = party.mul(&[ok1], &[varies]).await?[0];
    scales.truncate(outs.len());
    let p_out = outs.len();
    if let Some(st) = &st {
        outs.push(st.r2);
        outs.extend_from_slice(&st.rho);
        outs.extend_from_slice(&st.u);
        if let Some((v, ib)) = &icpt {
            let gate = party.mul(&[flag_c], &[flag_i]).await?[0];
            let it = party.intercept_t_parts(&rows, &nb, &xm, e, st.om, *v, ib, gate).await?;
            outs.extend([it.tau, it.over, it.perfect]);
        }
    }
    outs = party.mul(&outs, &vec![ok; outs.len()]).await?;
    party.step("done");
    outs.push(range);
    outs.push(flag_i);
    outs.push(varies);
    let layout = if store {
        OutputLayout::Array { shape: vec![p_out], dtype: Dtype::Float, scale: Scale::STORAGE }
    } else if stats {
        OutputLayout::LstsqStats {
            n,
            intercept,
            coef: scales,
            r2: Scale::bin(NS_F as i32, 1.0),
            rho: Scale::bin(f as i32, 1.0),
            u: super::ratio::u_scale(),
            // t_j = √(N − p)·2^(e/2)·ρ'_j/u_j (ρ' = ρ·2^(−e/2), see `lstsq_t_parts`)
            factor: ((n - p) as f64).sqrt() * 2f64.powf(e as f64 / 2.0),
        }
    } else {
        OutputLayout::Coefficients(scales)
    };
    Ok(OutputShare { layout, checks: vec![Check::Range, Check::Invertible, Check::Varies], shares: outs })
}
