//! Student's t-tests (scipy.stats.ttest_1samp, ttest_ind with equal_var=True, ttest_rel; two-sided,
//! over the flattened keys).
//!
//! Owns: the committee side, which computes two bounded ratios of exact aggregates, and the
//! requester side [`finish`], which forms t = factor·ρ/u and the p-value in the clear from them
//! (DESIGN §3: ρ and u are functions of the revealed t and the public counts). Must never open a
//! sum, a mean, a sum of squares or the statistic's numerator or denominator.
//!
//! In ANOVA terms, SST = SSB + SSW and t²/df = SSB/SSW. The committee outputs
//! ρ = ±√(SSB/SST) ∈ [−1, 1] (signed by the mean difference) at fixed point and u = √(SSW/SST) ≤ 1
//! with a secret exponent (`ratio.rs`), so t = √df·ρ/u keeps its relative precision when t is
//! large (u small) and ρ keeps it when t is moderate. Both are functions of t alone:
//! ρ = t/√(t² + df), u = √df/√(t² + df). Constant data give u = 0 (t = ±inf, or nan when the
//! mean difference is 0 too), as scipy.
//!
//! - ttest_1samp(x, μ0): d = x − μ0 (exact), S = Σd, Q = N·Σd², W = N·Σ(x − x̄)² computed exactly
//!   from the centred data. ρ = S/√Q, u = √(W/Q), df = N − 1, factor = √df.
//! - ttest_rel(a, b): ttest_1samp(a − b, 0).
//! - ttest_ind(a, b): pooled centre; D = n_b·Σd_a − n_a·Σd_b (exact), W = N·Σd² − (Σd)² over all
//!   N = n_a + n_b values (= N²·SST·2^40), W_a, W_b per group; C = W_a/n_a + W_b/n_b (≈ SSW·2^40,
//!   by public division from bits). ρ' = D/√W = ρ·√(n_a n_b/N), u' = √(C/W) = u/N; factor =
//!   √(df·N/(n_a n_b))/N, df = N − 2.
//!
//! - ttest_ind(a, b, equal_var=False) (Welch): the same centring, D, W and W_a, W_b; then
//!   W_a = n_a(n_a − 1)·s_a²·2^40, so T_a = W_a·n_b²/((n_a − 1)N²) = (n_a n_b/N)²·(s_a²/n_a)·2^40
//!   and T_b likewise, each as a public rational multiple ≤ 1 of W's bits (every bit's constant
//!   rounded, so within 64 units), and T = T_a + T_b = (n_a n_b/N)²·(s_a²/n_a + s_b²/n_b)·2^40
//!   (≤ W_a + W_b ≤ N·Σd² < 2^125 by the certificate). ρ' = D/√W,
//!   u' = √(T/W): t = ρ'/(N·u'). The Welch–Satterthwaite df is a function of λ = T_a/T ∈ [0, 1]
//!   alone, df = 1/(λ²/(n_a − 1) + (1 − λ)²/(n_b − 1)); the committee outputs v = √λ (`ratio.rs`'s
//!   u form). scipy returns df, so λ is an output to the requester like t; nothing else is.
//!   Precision: T ≥ (n_s/4)·s²·2^40 for the smaller group's size n_s and variance s², so the 128
//!   units of rounding are below 2^-29 relative when n_s·s² ≥ 2^-2 (t relative error ≤ 2^-30).
//!
//! Security: as `ratio.rs` and `multivar.rs`: products by `mul` and `inner_products`, exact
//! decompositions, statically bounded truncations, a range certificate whose flag gates every
//! data-dependent truncation bound and is an output to the requester only.

use super::bits::FIELD_BITS;
use super::bounds::{STORED_BITS, clog2};
use super::div::bits_times_const;
use super::ratio::{SIGNED_OFF, U_HIGH, U_LOW, u_scale};
use super::spec::{Check, OpResult, OutputLayout, OutputShare, Scale, SharedInput};
use super::{MpcError, Party, Transport, tdist};
use crate::field::Fp;
use crate::fixed::FRAC_BITS;

/// Requester side of Welch's test: t = factor·ρ/u, λ = v², df = 1/(λ²/(n_a − 1) + (1 − λ)²/(n_b − 1)).
pub(crate) fn finish_welch(na: usize, nb: usize, factor: f64, rho: f64, u: f64, v: f64) -> OpResult {
    let lam = (v * v).clamp(0.0, 1.0);
    let df = 1.0 / (lam * lam / (na as f64 - 1.0) + (1.0 - lam) * (1.0 - lam) / (nb as f64 - 1.0));
    match finish(0, factor, rho, u) {
        OpResult::Ttest { statistic, .. } => {
            OpResult::Ttest { statistic, pvalue: tdist::t_two_sided(statistic, df), df }
        }
        other => other,
    }
}

/// Σ_i b_i·round(2^i·num/den) for one element's bits (`nbits` of them): a public rational
/// multiple num/den ≤ 1 of a decomposed value, each bit's constant rounded (error ≤ nbits/2 units).
pub(crate) fn bits_times_ratio(bits: &[Fp], nbits: usize, num: u128, den: u128) -> Result<Fp, MpcError> {
    if den == 0 || num > den {
        return Err(MpcError::OutOfRange(format!("scaling by {num}/{den}")));
    }
    // q_i = ⌊2^i·num/den⌋, r_i = 2^i·num mod den, by doubling (r < den < 2^126, q < 2^nbits)
    let (mut q, mut r) = (num / den, num % den);
    let mut acc = Fp::ZERO;
    for b in bits.iter().take(nbits) {
        let round = q + u128::from(2 * r >= den);
        acc += *b * Fp::new(round);
        q = 2 * q + u128::from(2 * r >= den);
        r = if 2 * r >= den { 2 * r - den } else { 2 * r };
    }
    Ok(acc)
}

/// Requester side: scipy's (statistic, pvalue, df) from the revealed ρ and u.
pub(crate) fn finish(df: usize, factor: f64, rho: f64, u: f64) -> OpResult {
    let df_f = df as f64;
    let statistic = if u > 0.0 {
        factor * rho / u
    } else if rho > 0.0 {
        f64::INFINITY
    } else if rho < 0.0 {
        f64::NEG_INFINITY
    } else {
        f64::NAN
    };
    OpResult::Ttest { statistic, pvalue: tdist::t_two_sided(statistic, df_f), df: df_f }
}

fn flat(i: &SharedInput) -> Vec<Fp> {
    i.share.clone()
}

/// Committee side of the three t-tests (`popmean` for ttest_1samp, `paired` for ttest_rel, else
/// ttest_ind). With `store`: the Float array [statistic, df] at the storage scale ([`ratios`]).
pub(crate) async fn run_ttest<T: Transport>(
    party: &mut Party<T>,
    inputs: Vec<SharedInput>,
    popmean: Option<i64>,
    paired: bool,
    store: bool,
) -> Result<OutputShare, MpcError> {
    let name = if popmean.is_some() {
        "ttest_1samp"
    } else if paired {
        "ttest_rel"
    } else {
        "ttest_ind"
    };
    let want = if popmean.is_some() { 1 } else { 2 };
    if inputs.len() != want {
        return Err(MpcError::Invalid(format!("{name} takes {want} key(s), got {}", inputs.len())));
    }
    let t = party.t;
    party.progress_plan(7);
    if popmean.is_some() || paired {
        let (x, bound) = if let Some(mu0) = popmean {
            let c = Fp::from_i128(mu0 as i128);
            (flat(&inputs[0]).iter().map(|v| *v - c).collect::<Vec<Fp>>(), STORED_BITS + 1)
        } else {
            let (a, b) = (flat(&inputs[0]), flat(&inputs[1]));
            if a.len() != b.len() {
                return Err(MpcError::Shape(format!(
                    "ttest_rel needs two samples of the same length, got {} and {}",
                    a.len(),
                    b.len()
                )));
            }
            (a.iter().zip(&b).map(|(a, b)| *a - *b).collect(), STORED_BITS + 1)
        };
        let n = x.len();
        if n < 2 {
            return Err(MpcError::Invalid(format!("too few observations: {name} needs at least 2, got {n}")));
        }
        {
            let mut needs = super::bits::decompose_needs(4);
            let l = (125 - clog2(n as u128)) / 2;
            let (s, kb) = super::stats::cert_plan(n, bound + 2, l, t)?;
            let (spec, _) = super::trunc::plan(1u128 << s, bound + 2, t)?;
            needs.pair(spec, 2 * n);
            needs.add(&super::compare::ltz_needs(2, kb));
            party.preprocess(&needs).await?;
        }
        party.step("preprocessing");
        // d = x − μ0 (given), dc = x − x̂ (centred); W from dc, Q and S from d
        let (mu, _) = party.row_means(&[&x]).await?;
        let dc: Vec<Fp> = x.iter().map(|v| *v - mu[0]).collect();
        let l = (125 - clog2(n as u128)) / 2;
        let flag = party.certify(&[dc.clone(), x.clone()], bound + 2, l).await?;
        party.step("certificate");
        let ip = party.inner_products(&[(&dc, &dc), (&x, &x)]).await?;
        let sdc: Fp = dc.iter().copied().sum();
        let sq = party.mul(&[sdc], &[sdc]).await?[0];
        let nf = Fp::from_u64(n as u64);
        let w = nf * ip[0] - sq;
        let q = nf * ip[1];
        let s: Fp = x.iter().copied().sum();
        party.step("aggregates");
        let df = n - 1;
        return ratios(party, q, s, w, 0, flag, df, (df as f64).sqrt(), store).await;
    }
    // ttest_ind
    let (a, b) = (flat(&inputs[0]), flat(&inputs[1]));
    let (na, nb) = (a.len(), b.len());
    if na == 0 || nb == 0 || na + nb < 3 {
        return Err(MpcError::Invalid(format!(
            "too few observations: ttest_ind needs a non-empty sample each and 3 values in all, got {na} and {nb}"
        )));
    }
    let TwoSample { n, flag, wt, dd, wbits } = two_sample(party, &a, &b, 6).await?;
    // C = W_a/n_a + W_b/n_b ≈ SSW·2^40 (each within 64 units), from the bits of W_a, W_b < 2^125
    let m = FIELD_BITS;
    let c = bits_times_const(&wbits[..m], 125, 0, na as u128)? + bits_times_const(&wbits[m..], 125, 0, nb as u128)?;
    party.step("aggregates");
    // |D|/√W ≤ √(n_a n_b / N) ≤ √N / 2
    let ea = clog2(n as u128).div_ceil(2);
    let df = n - 2;
    let factor = (df as f64 * n as f64 / (na as f64 * nb as f64)).sqrt() / n as f64;
    ratios(party, wt, dd, c, ea, flag, df, factor, store).await
}

/// Committee side of Welch's t-test (scipy.stats.ttest_ind(a, b, equal_var=False)).
pub(crate) async fn run_welch<T: Transport>(
    party: &mut Party<T>,
    inputs: Vec<SharedInput>,
) -> Result<OutputShare, MpcError> {
    if inputs.len() != 2 {
        return Err(MpcError::Invalid(format!("ttest_ind takes 2 keys, got {}", inputs.len())));
    }
    let (a, b) = (flat(&inputs[0]), flat(&inputs[1]));
    let (na, nb) = (a.len(), b.len());
    if na < 2 || nb < 2 {
        return Err(MpcError::Invalid(format!(
            "too few observations: ttest_ind with equal_var=False needs at least 2 values per sample, got {na} and {nb}"
        )));
    }
    party.progress_plan(7);
    let TwoSample { n, flag, wt, dd, wbits } = two_sample(party, &a, &b, 7).await?;
    // T_a = W_a·n_b²/((n_a − 1)N²), T_b = W_b·n_a²/((n_b − 1)N²), from the bits of W_a, W_b
    let m = FIELD_BITS;
    let (na2, nb2, n2) = ((na as u128).pow(2), (nb as u128).pow(2), (n as u128).pow(2));
    let too_many = || MpcError::OutOfRange("too many observations".into());
    let den_a = (na as u128 - 1).checked_mul(n2).ok_or_else(too_many)?;
    let den_b = (nb as u128 - 1).checked_mul(n2).ok_or_else(too_many)?;
    let ta = bits_times_ratio(&wbits[..m], 125, nb2, den_a)?;
    let tb = bits_times_ratio(&wbits[m..], 125, na2, den_b)?;
    party.step("aggregates");
    let ea = clog2(n as u128).div_ceil(2);
    let f = super::bounds::NEWTON_F;
    let bits = party.decompose(&[wt, ta + tb, ta, dd + Fp::new(1u128 << SIGNED_OFF)]).await?;
    let nbm = party.normed(&bits[..3 * m], 3).await?;
    party.step("normalise");
    let rho = party.rho(&nbm, &[0], &[dd], &bits[3 * m..], ea, flag).await?[0];
    let (um, g) = party.sqrt_ratio_parts(&nbm, &nbm, &[(0, 1), (1, 2)]).await?;
    let (u, over) = party.times_pow2_window(&um, &g, U_LOW, U_HIGH).await?;
    party.step("ratios");
    let fits = party.mul(&[Fp::ONE - over[0]], &[Fp::ONE - over[1]]).await?[0];
    let range = party.mul(&[flag], &[fits]).await?[0];
    let out = party.mul(&[rho, u[0], u[1]], &[range, range, range]).await?;
    party.step("done");
    Ok(OutputShare {
        layout: OutputLayout::TtestWelch {
            na,
            nb,
            factor: 1.0 / n as f64,
            rho: Scale::bin(f as i32 - ea as i32, 1.0),
            u: u_scale(),
            v: u_scale(),
        },
        checks: vec![Check::Range],
        shares: vec![out[0], out[1], out[2], range],
    })
}

/// The two-sample aggregates both t-tests start from: the data centred on the pooled mean and
/// certified (N·Σd² < 2^125), W_a = n_a·Σd_a² − (Σd_a)² and W_b alike (with their bits), W = N·Σd² −
/// (Σd)², and D = n_b·Σd_a − n_a·Σd_b. `decomposes`: the decompositions the whole test makes.
struct TwoSample {
    n: usize,
    flag: Fp,
    wt: Fp,
    dd: Fp,
    wbits: Vec<Fp>,
}

async fn two_sample<T: Transport>(
    party: &mut Party<T>,
    a: &[Fp],
    b: &[Fp],
    decomposes: usize,
) -> Result<TwoSample, MpcError> {
    let (na, nb) = (a.len(), b.len());
    let mut all = a.to_vec();
    all.extend_from_slice(b);
    let n = all.len();
    {
        let mut needs = super::bits::decompose_needs(decomposes);
        let l = (125 - clog2(n as u128)) / 2;
        let (s, kb) = super::stats::cert_plan(n, STORED_BITS + 3, l, party.t)?;
        let (spec, _) = super::trunc::plan(1u128 << s, STORED_BITS + 3, party.t)?;
        needs.pair(spec, n);
        needs.add(&super::compare::ltz_needs(1, kb));
        party.preprocess(&needs).await?;
    }
    party.step("preprocessing");
    let (mu, _) = party.row_means(&[&all]).await?;
    let d: Vec<Fp> = all.iter().map(|v| *v - mu[0]).collect();
    let l = (125 - clog2(n as u128)) / 2;
    let flag = party.certify(std::slice::from_ref(&d), STORED_BITS + 3, l).await?;
    party.step("certificate");
    let (da, db) = d.split_at(na);
    let ip = party.inner_products(&[(da, da), (db, db)]).await?;
    let (sa, sb): (Fp, Fp) = (da.iter().copied().sum(), db.iter().copied().sum());
    let sq = party.mul(&[sa, sb, sa + sb], &[sa, sb, sa + sb]).await?;
    let (naf, nbf, nf) = (Fp::from_u64(na as u64), Fp::from_u64(nb as u64), Fp::from_u64(n as u64));
    let wa = naf * ip[0] - sq[0];
    let wb = nbf * ip[1] - sq[1];
    let wt = nf * (ip[0] + ip[1]) - sq[2];
    let dd = nbf * sa - naf * sb;
    let wbits = party.decompose(&[wa, wb]).await?;
    Ok(TwoSample { n, flag, wt, dd, wbits })
}

/// ρ = A/√B at 2^(F − ea) and u = √(C/B) for exact B ≥ 0, |A| ≤ 2^ea·√B, 0 ≤ C ≤ B (when `flag`).
/// With `store`, t = factor·ρ/u itself at the storage scale instead ([`stored_t`]).
#[allow(clippy::too_many_arguments)]
async fn ratios<T: Transport>(
    party: &mut Party<T>,
    b: Fp,
    a: Fp,
    c: Fp,
    ea: u32,
    flag: Fp,
    df: usize,
    factor: f64,
    store: bool,
) -> Result<OutputShare, MpcError> {
    let f = super::bounds::NEWTON_F;
    let bits = party.decompose(&[b, c, a + Fp::new(1u128 << SIGNED_OFF)]).await?;
    let m = FIELD_BITS;
    let nb = party.normed(&bits[..2 * m], 2).await?;
    party.step("normalise");
    let rho = party.rho(&nb, &[0], &[a], &bits[2 * m..], ea, flag).await?[0];
    if store {
        return stored_t(party, &nb, rho, ea, flag, df, factor).await;
    }
    let (um, g) = party.sqrt_ratio_parts(&nb, &nb, &[(0, 1)]).await?;
    let (u, over) = party.times_pow2_window(&um, &g, U_LOW, U_HIGH).await?;
    party.step("ratios");
    let range = party.mul(&[flag], &[Fp::ONE - over[0]]).await?[0];
    let out = party.mul(&[rho, u[0]], &[range, range]).await?;
    party.step("done");
    Ok(OutputShare {
        layout: OutputLayout::Ttest { df, factor, rho: Scale::bin(f as i32 - ea as i32, 1.0), u: u_scale() },
        checks: vec![Check::Range],
        shares: vec![out[0], out[1], range],
    })
}

/// `store=True` for ttest_1samp / ttest_rel / ttest_ind: the Float array [statistic, df] at the
/// storage scale 2^20, t = factor·ρ'·√(B/C) computed inside the MPC.
///
/// 1/u = √(B/C) comes from the same kernel as u with the pair reversed (`sqrt_ratio_parts`):
/// u_m·2^(d − F) with u_m ∈ [2^(F−1), 2^(F+1)] and the one-hot of the secret exponent d = s_B − s_C.
/// With ρ_rep = ρ'·2^(F − ea) (|ρ_rep| ≤ 2^F), P = ⌊ρ_rep·u_m/2^F⌋ (one Beaver product and a
/// truncation, |P| < 2^(F+2) statically) and the public K = round(factor·2^KF) ∈ [2^29, 2^30):
/// t·2^20 = P·K·2^(d − F + ea + 20 − KF), one secret shift (`scale_pow2_secret`, exact for a
/// non-negative exponent, within t/2 + 1 units otherwise). Then an exact storage-range check of the
/// result from its bits (`outside_storage_range`).
///
/// Range: exponents d > D_HIGH = 44 + ⌈log2 N⌉ are not shifted but flagged: there √(B/C) ≥
/// 2^(d − 1), and since ρ² + u² = 1 (SST = SSB + SSW; u = N·u' for ttest_ind), |t| ≥ 2^42, outside
/// the storage range anyway. C = 0 (constant data: t = ±inf or nan) is flagged too. Every flag
/// feeds `Check::Range`, so the requester learns only [t fits the storage range], a function of t.
///
/// Leakage: nothing is opened but the masks of `mul`, `trunc`, `decompose`, the shift's
/// truncations and the range check's comparisons; t and df stay shared (df is a public constant,
/// shared as itself). Welch's test is not stored: its df is a rational function of λ that would need
/// a secret division (refused in `run_stored`).
async fn stored_t<T: Transport>(
    party: &mut Party<T>,
    nb: &super::ratio::Normed,
    rho: Fp,
    ea: u32,
    flag: Fp,
    df: usize,
    factor: f64,
) -> Result<OutputShare, MpcError> {
    let f = super::bounds::NEWTON_F as i32;
    let (um, g) = party.sqrt_ratio_parts(nb, nb, &[(1, 0)]).await?;
    let p = party.mul(&[rho], &um).await?;
    let p = party.trunc(&p, f as u32, 2 * f as u32 + 3).await?;
    if !(factor.is_finite() && factor > 0.0) {
        return Err(MpcError::Invalid(format!("t-test factor {factor}")));
    }
    let kf = 29 - factor.log2().floor() as i32;
    let k = (factor * 2f64.powi(kf)).round();
    if !(1.0..2f64.powi(31)).contains(&k) {
        return Err(MpcError::OutOfRange(format!("t-test factor {factor}")));
    }
    let bm = p[0] * Fp::new(k as u128);
    let n_total = (df + 2) as u128;
    let d_high = 44 + clog2(n_total) as i32;
    let w = super::ratio::onehot_width() as i32;
    let (mut oh, mut exps, mut over) = (Vec::new(), Vec::new(), Fp::ZERO);
    for (i, v) in g[0].iter().enumerate() {
        let d = i as i32 - (w - 1);
        if d > d_high {
            over += *v;
            oh.push(Fp::ZERO);
        } else {
            oh.push(*v);
        }
        exps.push(d.min(d_high) - f + ea as i32 + FRAC_BITS as i32 - kf);
    }
    // |P| < 2^(F+2), K < 2^31: |bm| < 2^(F+33)
    let t20 = party.scale_pow2_secret(&[bm], f as u32 + 33, &oh, &exps).await?[0];
    let tb = party.decompose(&[t20 + Fp::new(1u128 << 125)]).await?;
    let outside = party.outside_storage_range(&tb, 1, 125).await?[0];
    let fits = party.mul(&[Fp::ONE - over], &[Fp::ONE - outside]).await?[0];
    let fits = party.mul(&[fits], &[nb.nonzero[1]]).await?[0];
    let range = party.mul(&[flag], &[fits]).await?[0];
    let t20 = party.mul(&[t20], &[range]).await?[0];
    let df20 = Fp::from_u64(df as u64) * Fp::new(1u128 << FRAC_BITS);
    party.step("done");
    Ok(OutputShare {
        layout: OutputLayout::Array { shape: vec![2], dtype: crate::value::Dtype::Float, scale: Scale::STORAGE },
        checks: vec![Check::Range],
        shares: vec![t20, df20, range],
    })
}
