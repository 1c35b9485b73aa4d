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
//! - `store=True` (all four tests): the Float array [statistic, df] at the storage scale 2^20,
//!   formed inside the MPC and kept shared ([`stored_t`]; for Welch's test [`stored_welch`], whose
//!   df = K·T²/((n_b − 1)T_a² + (n_a − 1)T_b²) is a secret division by normalisation and Newton).
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

/// Committee side of Welch's t-test (scipy.stats.ttest_ind(a, b, equal_var=False)). With `store`:
/// the Float array [statistic, df] at the storage scale ([`stored_welch`]).
pub(crate) async fn run_welch<T: Transport>(
    party: &mut Party<T>,
    inputs: Vec<SharedInput>,
    store: bool,
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
    let TwoSample { n, flag, wt, dd, wbits } = two_sample(party, &a, &b, if store { 8 } else { 7 }).await?;
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
    if store {
        // W and T normalised (ρ' and 1/u'); T_a only by its bits (λ, for the df)
        let nbm = party.normed(&bits[..2 * m], 2).await?;
        party.step("normalise");
        let rho = party.rho(&nbm, &[0], &[dd], &bits[3 * m..], ea, flag).await?[0];
        let w = WelchParts { n, na, nb, tt: ta + tb, ta, ea, flag };
        return stored_welch(party, &nbm, &bits[m..3 * m], rho, w).await;
    }
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

/// `store=True` for ttest_1samp / ttest_ind / ttest_rel: the Float array [statistic, df] at the
/// storage scale 2^20, t = factor·ρ'·√(B/C) computed inside the MPC ([`t_at_storage`]); df is a
/// public constant, shared as itself.
async fn stored_t<T: Transport>(
    party: &mut Party<T>,
    nb: &super::ratio::Normed,
    rho: Fp,
    ea: u32,
    flag: Fp,
    df: usize,
    factor: f64,
) -> Result<OutputShare, MpcError> {
    let (um, g) = party.sqrt_ratio_parts(nb, nb, &[(1, 0)]).await?;
    let d_high = 44 + clog2((df + 2) as u128) as i32;
    let (t20, fits) = t_at_storage(party, um[0], &g[0], rho, ea, factor, d_high).await?;
    let fits = party.mul(&[fits], &[nb.nonzero[1]]).await?[0];
    let range = party.mul(&[flag], &[fits]).await?[0];
    let t20 = party.mul(&[t20], &[range]).await?[0];
    let df20 = Fp::from_u64(df as u64) * Fp::new(1u128 << FRAC_BITS);
    party.step("done");
    Ok(stored_pair(t20, df20, range))
}

/// The stored [statistic, df] (1-d Float array at 2^20), with the range flag.
fn stored_pair(t20: Fp, df20: Fp, range: Fp) -> OutputShare {
    OutputShare {
        layout: OutputLayout::Array { shape: vec![2], dtype: crate::value::Dtype::Float, scale: Scale::STORAGE },
        checks: vec![Check::Range],
        shares: vec![t20, df20, range],
    }
}

/// t·2^20 = factor·ρ_rep·√(B/C)·2^(20 − F + ea) from ρ_rep = ρ'·2^(F − ea) (|ρ_rep| ≤ 2^F) and the
/// parts (u_m, g) of √(B/C) = u_m·2^(d − F) (`sqrt_ratio_parts` with the pair reversed: u_m ∈
/// [2^(F−1), 2^(F+1)], g the one-hot of the secret exponent d); returns (t·2^20, [t fits]).
///
/// P = ⌊ρ_rep·u_m/2^F⌋ (one Beaver product and a truncation, |P| < 2^(F+2) statically) and the
/// public K = round(factor·2^KF) ∈ [2^29, 2^30): t·2^20 = P·K·2^(d − F + ea + 20 − KF), one secret
/// shift (`scale_pow2_secret`, exact for a non-negative exponent, within t/2 + 1 units otherwise).
/// Then an exact storage-range check of the result from its bits (`outside_storage_range`).
///
/// Range: exponents d > `d_high` are not shifted but flagged. The caller picks `d_high` so that
/// √(B/C) ≥ 2^(d − 1) > 2^d_high implies |t| ≥ 2^42, outside the storage range anyway: for the
/// pooled tests D_HIGH = 44 + ⌈log2 N⌉ (ρ² + u² = 1 since SST = SSB + SSW; u = N·u' for
/// ttest_ind), for Welch's 44 + 2⌈log2 N⌉ (see [`run_welch`]). The flag is the requester's only
/// output about it, [t fits the storage range], a function of t.
///
/// Leakage: nothing is opened but the masks of `mul`, `trunc`, `decompose`, the shift's
/// truncations and the range check's comparisons.
async fn t_at_storage<T: Transport>(
    party: &mut Party<T>,
    um: Fp,
    g: &[Fp],
    rho: Fp,
    ea: u32,
    factor: f64,
    d_high: i32,
) -> Result<(Fp, Fp), MpcError> {
    let f = super::bounds::NEWTON_F as i32;
    let p = party.mul(&[rho], &[um]).await?;
    let p = party.trunc(&p, f as u32, 2 * f as u32 + 3).await?;
    let (k, kf) = normalised_const(factor, "t-test factor")?;
    let bm = p[0] * Fp::new(k);
    let w = super::ratio::onehot_width() as i32;
    let (mut oh, mut exps, mut over) = (Vec::new(), Vec::new(), Fp::ZERO);
    for (i, v) in g.iter().enumerate() {
        let d = i as i32 - (w - 1);
        if d > d_high {
            over += *v;
            oh.push(Fp::ZERO);
        } else {
            oh.push(*v);
        }
        exps.push(d.min(d_high) - f + ea as i32 + FRAC_BITS as i32 - kf);
    }
    // |P| < 2^(F+2), K < 2^30: |bm| < 2^(F+32) (the bound below keeps one bit more)
    let t20 = party.scale_pow2_secret(&[bm], f as u32 + 33, &oh, &exps).await?[0];
    let tb = party.decompose(&[t20 + Fp::new(1u128 << 125)]).await?;
    let outside = party.outside_storage_range(&tb, 1, 125).await?[0];
    let fits = party.mul(&[Fp::ONE - over], &[Fp::ONE - outside]).await?[0];
    Ok((t20, fits))
}

/// A positive public constant c as (K, kf) with K = round(c·2^kf) ∈ [2^29, 2^30].
fn normalised_const(c: f64, what: &str) -> Result<(u128, i32), MpcError> {
    if !(c.is_finite() && c > 0.0) {
        return Err(MpcError::Invalid(format!("{what} {c}")));
    }
    let kf = 29 - c.log2().floor() as i32;
    let k = (c * 2f64.powi(kf)).round();
    if !(1.0..2f64.powi(31)).contains(&k) {
        return Err(MpcError::OutOfRange(format!("{what} {c}")));
    }
    Ok((k as u128, kf))
}

/// The public sizes and secret aggregates [`stored_welch`] starts from.
struct WelchParts {
    n: usize,
    na: usize,
    nb: usize,
    /// T = T_a + T_b and T_a (exact integers, T_a ≤ T by construction).
    tt: Fp,
    ta: Fp,
    ea: u32,
    flag: Fp,
}

/// ⌊V/2^σ⌋ for an exact secret V ≥ 0 given by its bits and its sharing `v` (a public linear
/// combination of the bits for σ ≥ 0, the exact V·2^(−σ) for σ < 0). Local.
fn ushift(bits: &[Fp], v: Fp, sigma: i32) -> Fp {
    if sigma < 0 {
        return v * Fp::new(1u128 << (-sigma).min(126));
    }
    let s = sigma as usize;
    bits.iter().enumerate().skip(s).fold(Fp::ZERO, |acc, (i, b)| acc + *b * Fp::new(1u128 << (i - s)))
}

/// `store=True` for Welch's t-test: the Float array [statistic, df] at the storage scale 2^20, both
/// computed inside the MPC. `nbm`: W and T normalised; `tbits`: the bits of T and then of T_a.
///
/// **t** = ρ'/(N·u') as the pooled tests store it ([`t_at_storage`], factor 1/N, √(W/T) from the
/// reversed u pair). Its range cut-off is D_HIGH = 44 + 2⌈log2 N⌉, because here ρ'² + u'² = 1 does
/// not hold: with V = s_a²/n_a + s_b²/n_b, T = (n_a n_b/N)²·V, SSW ≤ N²·V and SSB = (n_a n_b/N)·t²·V,
/// so W/T = N²·SST/T ≤ N⁶/(n_a n_b)² + N³t²/(n_a n_b) ≤ N⁴ + N²t² (n_a n_b ≥ N when both samples
/// hold ≥ 2 values). An exponent d > D_HIGH means W/T ≥ 2^(2·D_HIGH) = 2^88·N⁴, hence t² ≥ 2^87·N²
/// and |t| > 2^43: outside the storage range, flagged instead of shifted.
///
/// **df** = K·T²/h with K = (n_a − 1)(n_b − 1) and h = (n_b − 1)T_a² + (n_a − 1)T_b² (the
/// Welch–Satterthwaite df times T²/T²), as a secret division:
/// 1. With T's secret exponent s from its normalisation (T ≈ M·4^s, M ∈ [2^(F−2), 2^F)), one inner
///    product of the one-hot with public shifts of the bits gives M' = ⌊T/4^(s−2)⌋ ∈ [2^(F+2),
///    2^(F+4)) and a = ⌊T_a/4^(s−2)⌋ ≤ M' (T_a ≤ T), b = M' − a. So λ = T_a/T = a/M' within 2^-36.
/// 2. h' = (n_b − 1)a² + (n_a − 1)b² exactly (Beaver products; h' = K·g(λ)·M'² with
///    g(λ) = λ²/(n_a − 1) + (1 − λ)²/(n_b − 1) ∈ [1/(N − 2), 1], so h' > 0 whenever T > 0), and
///    M'² ∈ [2^72, 2^76), truncated to n = ⌊M'²/2^42⌋ < 2^34 + t + 1 (a static bound of 76 bits).
/// 3. h' is decomposed and normalised (h' ≈ M_h·4^(s_h)); the Newton reciprocal (`div.rs::recip`,
///    six steps, 2^-34 relative) of z = M_h/2^F ∈ [1/4, 1) gives y = 2^F/z (z is replaced by 1/2
///    when h' = 0, i.e. T = 0, so every Newton product keeps its static bound). P = ⌊n·y/2^F⌋
///    (|n·y| < 2^71 statically, P ∈ [2^30, 2^37)).
/// 4. df·2^20 = K·P·2^(28 − 2 s_h) = K'·P·2^(28 − 2 s_h − kc) with the public K' = round(K·2^kc) ∈
///    [2^29, 2^30]: one secret shift (`scale_pow2_secret`) of K'·P < 2^67 by the one-hot of s_h.
///    df ≤ N − 2 and K'·P ≥ 2^59 make every true exponent ≤ ⌈log2 N⌉ − 39 < 0; candidates with a
///    positive exponent cannot be the secret one for N < 2^39 and are flagged rather than shifted,
///    so the shift's static bound 68 + 0 holds for every candidate.
///
/// Accuracy: t as the pooled tests (within (t/2 + 2)·2^-20 absolute plus 2^-29 relative). df: λ
/// within 2^-36 (plus the 2^-29 relative of T's public scaling), and df's sensitivity to λ is at
/// most (N − 2)/√((n_a − 1)(n_b − 1)) (≈ 2 for balanced samples, ≤ √N always), then M_h's 2^-32,
/// the reciprocal's 2^-34, two truncations' (t + 1)·2^-30 and the shift's t/2 + 1 units of 2^-20:
/// within 2^-26 relative plus (t/2 + 1)·2^-20 absolute for ordinary data (df ≥ 1 always).
///
/// Security: as the module's: Beaver products, inner products, exact decompositions and the
/// normalisation's suffix-OR (all openings uniformly masked), truncations with static bounds
/// (listed above, checked by `trunc::plan`), the shifts' truncations and the range check's
/// comparisons. No exponent, mantissa, λ or aggregate is opened; t and df stay shared. The
/// requester reconstructs only the range flag: [certificate holds ∧ T > 0 ∧ t fits the storage
/// range], a function of the data the caller is entitled to (t = ±inf/nan is the T = 0 case).
async fn stored_welch<T: Transport>(
    party: &mut Party<T>,
    nbm: &super::ratio::Normed,
    tbits: &[Fp],
    rho: Fp,
    w: WelchParts,
) -> Result<OutputShare, MpcError> {
    let f = super::bounds::NEWTON_F as i32;
    let m = FIELD_BITS;
    let WelchParts { n, na, nb, tt, ta, ea, flag } = w;
    let (um, g) = party.sqrt_ratio_parts(nbm, nbm, &[(1, 0)]).await?;
    let d_high = 44 + 2 * clog2(n as u128) as i32;
    let (t20, fits_t) = t_at_storage(party, um[0], &g[0], rho, ea, 1.0 / n as f64, d_high).await?;
    party.step("statistic");
    // 1. M' = ⌊T/4^(s−2)⌋ and a = ⌊T_a/4^(s−2)⌋ with T's one-hot
    let (smin, _) = super::sqrt::s_range();
    let oh = &nbm.onehot[1];
    let shifts =
        |bits: &[Fp], v: Fp| -> Vec<Fp> { (0..oh.len()).map(|k| ushift(bits, v, 2 * (k as i32 + smin - 2))).collect() };
    let (sm, sa) = (shifts(&tbits[..m], tt), shifts(&tbits[m..2 * m], ta));
    let ip = party.inner_products(&[(oh.as_slice(), sm.as_slice()), (oh.as_slice(), sa.as_slice())]).await?;
    let (mp, a) = (ip[0], ip[1]);
    let b = mp - a;
    // 2. h' and n = ⌊M'²/2^42⌋
    let sq = party.mul(&[a, b, mp], &[a, b, mp]).await?;
    let (na1, nb1) = (Fp::from_u64(na as u64 - 1), Fp::from_u64(nb as u64 - 1));
    let h = nb1 * sq[0] + na1 * sq[1];
    let num = party.trunc(&[sq[2]], 2 * (f as u32 + 4) - f as u32, 2 * (f as u32 + 4)).await?[0];
    // 3. 1/h' by normalisation and Newton
    let hb = party.decompose(&[h]).await?;
    let nh = party.normalise(&hb, 1).await?;
    let z = nh.mant[0] + (Fp::ONE - nh.nonzero[0]) * Fp::new(1u128 << (f - 1));
    let y = party.recip(&[z]).await?;
    let p = party.mul(&[num], &y).await?;
    let p = party.trunc(&p, f as u32, 2 * f as u32 + 3).await?[0];
    // 4. df·2^20 = K'·P·2^(28 − 2 s_h − kc)
    let (k, kc) = normalised_const(((na - 1) as f64) * ((nb - 1) as f64), "Welch df constant")?;
    let x = p * Fp::new(k);
    let (mut ohh, mut exps, mut over) = (Vec::new(), Vec::new(), Fp::ZERO);
    for (i, v) in nh.onehot_s[0].iter().enumerate() {
        let e = 28 - 2 * (i as i32 + smin) - kc;
        if e > 0 {
            over += *v;
            ohh.push(Fp::ZERO);
        } else {
            ohh.push(*v);
        }
        exps.push(e.min(0));
    }
    let df20 = party.scale_pow2_secret(&[x], 68, &ohh, &exps).await?[0];
    let fits = party.mul(&[fits_t, Fp::ONE - over], &[nbm.nonzero[1], flag]).await?;
    let range = party.mul(&[fits[0]], &[fits[1]]).await?[0];
    let out = party.mul(&[t20, df20], &[range, range]).await?;
    party.step("done");
    Ok(stored_pair(out[0], out[1], range))
}
