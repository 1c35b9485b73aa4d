//! Linear regression (scipy.stats.linregress) on secret x, y.
//!
//! Owns: the committee side (centred exact aggregates, normalisation, r, q = √(Syy/Sxx), intercept)
//! and the requester side `finish` (slope = r·q, p-value and std_err in the clear from the revealed
//! r, q and n: DESIGN §3 allows it, they are functions of the outputs). Must never open Sxx, Syy,
//! Sxy or the means.

use super::bits::{FIELD_BITS, decompose_needs, suffix_or_needs};
use super::bounds::{NEWTON_F, STORED_BITS, clog2};
use super::compare::ltz_needs;
use super::div::{bits_times_const, round_pow2_div};
use super::prep::Needs;
use super::spec::{Check, OpResult, OutputLayout, OutputShare, Scale, SharedInput};
use super::sqrt::{bits_shifted, normalise_terms, s_range};
use super::stats::cert_plan;
use super::{MpcError, Party, Transport, tdist, trunc};
use crate::field::Fp;
use crate::fixed::{FRAC_BITS, NumScale};
use crate::value::Dtype;

/// Output scale of q: q_rep = q·2^(F + Q_LOW); q below 2^-Q_LOW reads as 0, above 2^Q_HIGH is out
/// of range. Q_LOW + Q_HIGH + F + 2 < 126 keeps q_rep inside the field.
const Q_LOW: i32 = 48;
const Q_HIGH: i32 = 42;
/// With `store`: q = q_m·2^d with q_m < 2 and d ≤ 40, so |slope| ≤ q < 2^41 fits the storage range.
const Q_HIGH_STORED: i32 = 40;
/// Extra bits of c = Cxy/2^(sx+sy) before its first product, so a small |r| keeps F bits of
/// relative precision in r and the slope (c·yx is truncated by 2^(F + C_EXTRA)).
const C_EXTRA: u32 = 10;
/// Extra bits of the long mantissas Mx', My', C' of the residual D = Cxx·Cyy − Cxy² (F + 28 = 62
/// bits each, so Mx'·My' < 2^124 is exact in the field).
const L_EXTRA: u32 = 28;
/// Extra bits of D's mantissa (ρ's truncation bound 2F + D_EXTRA + 5 stays at 80).
const D_EXTRA: u32 = 7;
/// Output scale of ρ = 1 − r²: ρ_rep = ρ·2^RHO_BITS (ρ < 2^-80 reads as 0).
const RHO_BITS: i32 = 119;
/// Extra bits of the mantissas mx'', my'' (F + 16 = 50 bits) of the refinement (step 5b): their
/// product with the truncated yx², yy² stays exact in the field.
const REF_EXTRA: u32 = 16;
/// Offset making slope_m and r non-negative for their decomposition (both are far below 2^60,
/// even for the bounded garbage of a failing check).
const STORE_OFF: u32 = 80;

/// Committee side of linregress.
///
/// 1. Exact sums → bits (one decomposition of [Σx, Σy]) → centring means at 2^20, and x̄, ȳ at 2^40.
/// 2. d_x, d_y centred; range certificate (N·Σd² < 2^125); one reduction gives the exact
///    Cxx = N·Σdx² − (Σdx)², Cyy, Cxy (= N²·Sxx·2^40 etc.; |Cxy| ≤ √(Cxx·Cyy)).
/// 3. Decompose [Cxx, Cyy, Cxy + 2^126]; normalise Cxx ≈ Mx·4^sx, Cyy ≈ My·4^sy (secret sx, sy).
/// 4. Joint one-hots of sx + sy and sy − sx (4096 local products, one reduction round);
///    Cxy' = ⌊Cxy / 2^(sx+sy)⌋ (|Cxy'| < 2^F) as one inner product with shifted bit combinations.
/// 5. Newton: yx = 1/√mx, yy = 1/√my. r = c·yx·yy, q = my·yy·yx·2^(sy−sx), slope = c·yx²·2^(sy−sx)
///    with c = Cxy'/2^F.
///
///    Step 5b (revealed results only, [`refine`]): the Newton values are corrected to first order
///    by the residuals e_x = 1 − mx·yx², e_y = 1 − my·yy² of the true mantissas (held to 50
///    bits), which removes both the 34-bit mantissas' floor (≤ 2^-32 relative) and the Newton
///    step's roundings: r, q_m and slope_m keep ≈ 2^-42 (they are held at 2^(F+C) = 2^44), and
///    a² (ρ's factor) ≈ 2^-33. q is revealed as q_hi + q_lo (its 34-bit part at the output scale
///    and the rest at 2^C below it: 44 + 90 bits of range do not fit one field element), and the
///    intercept uses slope_m split the same way (u = x̄·slope_m,hi, u_lo = x̄·slope_m,lo). One
///    round more.
/// 6. intercept = ȳ − x̄·slope at scale 2^40: u = x̄·(c·yx²) exactly, then one decomposition of u
///    and a secret shift by (F − d), d = sy − sx, as one inner product; a last decomposition checks
///    |intercept| < 2^42.
///
/// 7. (revealed results only) ρ = 1 − r² from the exact residual, without cancellation: long
///    mantissas Mx' = ⌊Cxx·2^L/4^sx⌋, My', C' = ⌊Cxy·2^L/2^(sx+sy)⌋ (L = 28: 62 bits each, exact
///    when the aggregates are below 2^61) join step 4's reduction; D' = Mx'·My' − C'² (< 2^124,
///    exact in the field) is the residual Cxx·Cyy − Cxy² = Cxx·Cyy·(1 − r²) at scale 4^-(sx+sy+...)
///    up to the mantissas' floors (|error| < 2^(F+L+3), i.e. < 2^-55 absolute on ρ). D' joins the
///    step-6 decomposition (as D' + 2^125, whose bit 125 is [D' ≥ 0]: a D' below 0, possible only
///    from the floors when ρ < 2^-55, is clamped to 0 in the step-6 reduction), is normalised
///    (its suffix-OR shares a call with the intercept's range check), and ρ = D'/(Mx'·My') =
///    Dm·(yx·yy)²·2^(2sd − …) with Dm = ⌊D'·2^7/4^sd⌋ and the Newton values of step 5. ρ is
///    output at scale 2^RHO_BITS by a secret left shift (a one-hot of sd); ρ < 2^-80 reads as 0.
///    Its relative error is that of the Newton step (≈ 2^-31), whatever r is: before, the requester
///    took 1 − r² from r's rounding and lost digits as 1/(1 − r²).
///
/// Security of ρ: ρ is 1 − r² (r is an output), computed from the same secret aggregates and
/// opened only at the end, gated by the same checks as the other outputs; it differs from the
/// exact 1 − r² only by rounding noise of the same kind and size as r's own (the masked
/// truncations' and the mantissas' floors), so it reveals nothing beyond the outputs' value up to
/// that noise, as r, q and the intercept do. Every intermediate opening (decompositions,
/// truncations, suffix-ORs, products) is masked, as in steps 1–6; the exponents sx, sy, sd and the
/// sign of D' stay inside secret one-hots and bits.
///
/// Outputs r, q, intercept, ρ (gated by the checks; ρ only for revealed results) and the check
/// flags [x varies], [in range].
///
/// With `store` (stored linregress = the Float array [slope, intercept, r] at the storage scale;
/// p-value and std_err are not stored, see docs/mpc.md): slope_m and r join u in the step-6
/// decomposition (same rounds), slope·2^20 = Σ_d g_d·⌊slope_m·2^(d − F + 20)⌋ joins the term's
/// reduction, r·2^20 = ⌊r/2^(F − 20)⌋ and intercept·2^20 = round(intercept/2^20) are exact shifts of
/// decomposed values (the intercept's range-check decomposition is taken of intercept + 2^19 + 2^82).
/// The slope must fit the storage range: q ≤ 2^Q_HIGH_STORED·2 (so |slope| < 2^41), else `Range`.
pub(crate) async fn run_linregress<T: Transport>(
    party: &mut Party<T>,
    inputs: Vec<SharedInput>,
    store: bool,
) -> Result<OutputShare, MpcError> {
    if inputs.len() != 2 {
        return Err(MpcError::Invalid(format!("linregress takes 2 keys (x, y), got {}", inputs.len())));
    }
    let x = inputs[0].share.clone();
    let y = inputs[1].share.clone();
    if x.len() != y.len() {
        return Err(MpcError::Shape(format!(
            "linregress needs x and y of the same length, got {} and {}",
            x.len(),
            y.len()
        )));
    }
    let n = x.len();
    if n < 2 {
        return Err(MpcError::Invalid("linregress needs at least 2 points".into()));
    }
    let f = NEWTON_F;
    let t = party.t;
    let ns = super::spec::common_scale(&inputs)?;
    party.progress_plan(9);
    party.preprocess(&plan(n, t, store, ns)?).await?;
    party.step("preprocessing");

    // 1. sums → bits → means
    let nn = n as u128;
    let bb = STORED_BITS + clog2(nn);
    if bb + 21 > 126 {
        return Err(MpcError::OutOfRange("too many values".into()));
    }
    let off = Fp::new(1u128 << bb);
    let sx: Fp = x.iter().copied().sum::<Fp>() + off;
    let sy: Fp = y.iter().copied().sum::<Fp>() + off;
    let sb = party.decompose(&[sx, sy]).await?;
    let m = FIELD_BITS;
    let (bx, by) = sb.split_at(m);
    let mbits = (bb + 1) as usize;
    let mean_at = |bits: &[Fp], fr: u32| -> Result<Fp, MpcError> {
        Ok(bits_times_const(bits, mbits, fr, nn)? - Fp::new(round_pow2_div(bb + fr, nn)))
    };
    let (mux, muy) = (mean_at(bx, 0)?, mean_at(by, 0)?);
    let (xbar, ybar) = (mean_at(bx, 20)?, mean_at(by, 20)?); // scale 2^40
    party.step("means");

    // 2. centred data, certificate, exact centred aggregates
    let dx: Vec<Fp> = x.iter().map(|v| *v - mux).collect();
    let dy: Vec<Fp> = y.iter().map(|v| *v - muy).collect();
    let l = (125 - clog2(nn)) / 2;
    let flag_c = party.certify(&[dx.clone(), dy.clone()], STORED_BITS + 2, l).await?;
    let nf = Fp::from_u64(n as u64);
    let (sdx, sdy): (Fp, Fp) = (dx.iter().copied().sum(), dy.iter().copied().sum());
    let (sx, sy) = ([sdx], [sdy]);
    let q = party.inner_products(&[(&dx, &dx), (&dy, &dy), (&dx, &dy), (&sx, &sx), (&sy, &sy), (&sx, &sy)]).await?;
    let (cxx, cyy, cxy) = (nf * q[0] - q[3], nf * q[1] - q[4], nf * q[2] - q[5]);
    party.step("aggregates");

    // 3. bits and normalisation
    let top = Fp::new(1u128 << 126);
    let cb = party.decompose(&[cxx, cyy, cxy + top]).await?;
    let nm = party.normalise(&cb[..2 * m], 2).await?;
    let cxy_bits = &cb[2 * m..];
    party.step("normalise");

    // 4. joint one-hots: h over sx + sy, g over sy − sx
    let (smin, smax) = s_range();
    let w = (smax - smin + 1) as usize;
    let (ux, uy) = (&nm.onehot_s[0], &nm.onehot_s[1]);
    let mut hg: Vec<Vec<(Fp, Fp)>> = vec![Vec::new(); 2 * (2 * w - 1)];
    for a in 0..w {
        for b in 0..w {
            hg[a + b].push((ux[a], uy[b]));
            hg[2 * w - 1 + b + w - 1 - a].push((ux[a], uy[b]));
        }
    }
    let hg = party.sum_products(&hg).await?;
    let (h, g) = hg.split_at(2 * w - 1);
    // Cxy'·2^C_EXTRA = Σ_k h_k·⌊Cxy·2^C_EXTRA / 2^σ⌋, σ = k + 2·smin (and the long C' = the same at
    // 2^L_EXTRA, with Mx', My' from the one-hots of sx, sy, for ρ)
    let mut acc = Vec::with_capacity(h.len());
    let mut acc_long = Vec::with_capacity(h.len());
    for (k, hk) in h.iter().enumerate() {
        let sigma = k as i32 + 2 * smin;
        acc.push((*hk, shifted(cxy_bits, cxy, sigma - C_EXTRA as i32, 126)));
        acc_long.push((*hk, shifted(cxy_bits, cxy, sigma - L_EXTRA as i32, 126)));
    }
    let mut sums = vec![acc];
    if !store {
        // ⌊Cxx·2^extra/4^sx⌋ and ⌊Cyy·2^extra/4^sy⌋ from the one-hots of sx, sy
        let mantissas_at = |extra: u32| -> Vec<Vec<(Fp, Fp)>> {
            nm.onehot_s
                .iter()
                .enumerate()
                .map(|(e, oh)| {
                    let bits = &cb[e * m..(e + 1) * m];
                    oh.iter()
                        .enumerate()
                        .map(|(k, u)| (*u, bits_shifted(bits, 2 * (k as i32 + smin) - extra as i32)))
                        .collect()
                })
                .collect()
        };
        // sp[1..3] = Mx', My' (ρ), sp[3] = C', sp[4..6] = mx'', my'' (the refinement, step 5b)
        sums.extend(mantissas_at(L_EXTRA));
        sums.push(acc_long);
        sums.extend(mantissas_at(REF_EXTRA));
    }
    let sp = party.sum_products(&sums).await?;
    // gate c (and C') by the certificate so that a failing range never feeds an out-of-bound
    // truncation (|Cxy| ≤ √(Cxx·Cyy) holds when the aggregates are exact)
    let gated = if store { vec![sp[0]] } else { vec![sp[0], sp[3]] };
    let cg = party.mul(&gated, &vec![flag_c; gated.len()]).await?;
    let c = cg[0]; // |c| < 2^(F + C_EXTRA)
    party.step("shift");

    // 5. Newton and the outputs r, q
    // a mantissa 0 (W = 0) is replaced by 1/2 so that yx, yy ≤ 2 always (the outputs it touches
    // are 0 or gated then: Cyy = 0 forces Cxy = 0, and Cxx = 0 fails [x varies])
    let halfz = Fp::new(1u128 << (f - 1));
    let z: Vec<Fp> = nm.mant.iter().zip(&nm.nonzero).map(|(mt, nz)| *mt + (Fp::ONE - *nz) * halfz).collect();
    let ys = party.inv_sqrt(&z).await?;
    let (yx, yy) = (ys[0], ys[1]);
    let (mut lhs, mut rhs) = (vec![c, nm.mant[1], yx], vec![yx, yy, yy]);
    if !store {
        // D' = Mx'·My' − C'² (exact: each factor < 2^62); a zero mantissa is 1/2 as in z, so a
        // constant y gives ρ = 1 (C' = 0 then)
        let halfl = Fp::new(1u128 << (f + L_EXTRA - 1));
        let long = |i: usize| sp[1 + i] + (Fp::ONE - nm.nonzero[i]) * halfl;
        lhs.extend([long(0), cg[1], yx, yy]);
        rhs.extend([long(1), cg[1], yx, yy]);
    }
    let pr = party.mul(&lhs, &rhs).await?;
    let d_res = if store { Fp::ZERO } else { pr[3] - pr[4] };
    // r and the slope stay at 2^(F + C_EXTRA) until r is output: |c·yx| ≤ √my·2^(2F + C_EXTRA)
    // (Cauchy–Schwarz, c gated), |c·yx²| ≤ √(my/mx) ≤ 2, yx, yy ≤ 2: every product below 2^b2
    let b2 = 2 * f + C_EXTRA + 2;
    // the refinement's scales: yx², yy² at 2^(F + 16 − cl), its residuals at 2^(50 − cl), so that
    // its bounds hold for any t (cl = ⌈log2(t + 1)⌉)
    let cl = clog2(t as u128 + 1);
    let (mut v1, mut e1) = (pr[..3].to_vec(), vec![f; 3]);
    if !store {
        // √my at 2^(F+C) rather than 2^F (its rounding would be q's), and yx², yy²
        e1[1] = f - C_EXTRA;
        v1.extend_from_slice(&pr[5..7]);
        e1.extend([f - REF_EXTRA + cl; 2]);
    }
    // [c·yx at 2^(F+C), √my, a = yx·yy ≤ 4] (and yx², yy² < 2^(F + 18 − cl))
    let p1 = party.trunc_each(&v1, &e1, b2).await?;
    let cyx = p1[0];
    let (mut lhs2, mut rhs2) = (vec![cyx, p1[1], cyx, p1[2]], vec![yy, yx, yx, p1[2]]);
    if !store {
        // P_x = mx''·yx², P_y = my''·yy², P_d = δy·yy² at 2^(2F + 32 − cl), exact: each factor is
        // below 2^50 and 2^(52 − cl); δy = my'' − my·2^16 ∈ [0, 2^16) is the part of my below the
        // 34-bit mantissa (a zero mantissa is 1/2 in both, as in z)
        let halfr = Fp::new(1u128 << (f + REF_EXTRA - 1));
        let mid = |i: usize| sp[4 + i] + (Fp::ONE - nm.nonzero[i]) * halfr;
        let dy = mid(1) - z[1] * Fp::new(1u128 << REF_EXTRA);
        lhs2.extend([mid(0), mid(1), dy]);
        rhs2.extend([p1[3], p1[4], p1[4]]);
    }
    let p2 = party.mul(&lhs2, &rhs2).await?;
    let (r, qm, a2, slope_m, fine) = if store {
        let p2 = party.trunc(&p2[..4], f, b2).await?; // [r at 2^(F+C), q_m, slope_m at 2^(F+C), a² ≤ 16]
        let slope_m = party.trunc(&p2[2..3], C_EXTRA, f + C_EXTRA + 2).await?[0];
        (p2[0], p2[1], p2[3], slope_m, None)
    } else {
        let (r, qm, a2, slope_m, fine) = refine(party, &p2, cl).await?;
        (r, qm, a2, slope_m, Some(fine))
    };
    // q = q_m·2^d, output at scale 2^(F + Q_LOW): factor Σ_{−Q_LOW ≤ d ≤ Q_HIGH} g_d·2^(d+Q_LOW)
    let q_high = if store { Q_HIGH_STORED } else { Q_HIGH };
    let mut qfac = Fp::ZERO;
    let mut too_big = Fp::ZERO;
    for (i, gd) in g.iter().enumerate() {
        let d = i as i32 - (w as i32 - 1);
        if d > q_high {
            too_big += *gd;
        } else if d >= -Q_LOW {
            qfac += *gd * Fp::new(1u128 << (d + Q_LOW));
        }
    }
    let flag_q = Fp::ONE - too_big;

    // 6. intercept = ȳ − x̄·slope_m·2^d at scale 2^40
    let (mut lu, mut ru) = (vec![xbar, qm], vec![slope_m, qfac]);
    if let Some(fine) = &fine {
        // the low parts: q_lo = q_m,lo·2^(d + Q_LOW) at 2^(F + C + Q_LOW), u_lo = x̄·slope_m,lo
        lu.extend([fine.qm_lo, xbar]);
        ru.extend([qfac, fine.slope_lo]);
    }
    let uq = party.mul(&lu, &ru).await?;
    let (u, q_out) = (uq[0], uq[1]);
    let (q_lo, u_lo) = if fine.is_some() { (uq[2], uq[3]) } else { (Fp::ZERO, Fp::ZERO) };
    let uoff = 119u32;
    let uo = Fp::new(1u128 << uoff);
    let soff = Fp::new(1u128 << STORE_OFF);
    let ub = if store {
        party.decompose(&[u + uo, slope_m + soff, r + soff]).await?
    } else {
        // D' + 2^125 ∈ (2^124, 3·2^124): bit 125 is [D' ≥ 0]
        party.decompose(&[u + uo, d_res + Fp::new(1u128 << 125), u_lo + uo]).await?
    };
    let down = (f - FRAC_BITS) as i32; // from scale 2^F to the storage scale
    let mut term = Vec::new();
    let mut slope_acc = Vec::new();
    for (i, gd) in g.iter().enumerate() {
        let d = i as i32 - (w as i32 - 1);
        if d <= q_high {
            term.push((*gd, shifted(&ub[..m], u, f as i32 - d, uoff)));
            if !store {
                // x̄·slope_m,lo is at 2^C_EXTRA times u's scale: |u_lo| < 2^119, shift F + C − d > 0
                term.push((*gd, shifted(&ub[2 * m..3 * m], u_lo, (f + C_EXTRA) as i32 - d, uoff)));
            }
            if store {
                slope_acc.push((*gd, shifted(&ub[m..2 * m], slope_m, down - d, STORE_OFF)));
            }
        }
    }
    let mut to_reduce = if store { vec![term, slope_acc] } else { vec![term] };
    if !store {
        // clamp D' at 0: its bits times [D' ≥ 0] (single-product sums in the same round)
        let db = &ub[m..2 * m];
        to_reduce.extend(db[..125].iter().map(|b| vec![(*b, db[125])]));
    }
    let reduced = party.sum_products(&to_reduce).await?;
    let intercept = ybar - reduced[0];
    // store: decompose intercept + 2^19 so that the shift by 2^20 below rounds to nearest (at a
    // decimal scale the division by 10^d below rounds by itself)
    let half = if store && ns.decimals().is_none() { Fp::new(1u128 << (40 - FRAC_BITS - 1)) } else { Fp::ZERO };
    // |intercept| < 2^IB_OFF from the bits of intercept + 2^IB_OFF; a decimal scale S > 2^20 would
    // leave I/S·2^20 above the storage range near 2^82, so there the bound is 2^80
    let ib_off = intercept_bound(ns);
    let ib = party.decompose(&[intercept + half + Fp::new(1u128 << ib_off)]).await?;
    let hi_bits = &ib[ib_off as usize + 1..];
    // the bits of the clamped D' (and two zeros above 2^124), for ρ's normalisation
    let dbits: Vec<Fp> =
        if store { Vec::new() } else { reduced[1..126].iter().copied().chain([Fp::ZERO, Fp::ZERO]).collect() };
    let (high, dnorm) = if store {
        (party.suffix_or(hi_bits, 1, hi_bits.len()).await?[0], None)
    } else {
        // one suffix-OR for both: the intercept's high bits padded with zeros below
        let mut both = dbits.clone();
        both.extend(std::iter::repeat_n(Fp::ZERO, m - hi_bits.len()));
        both.extend_from_slice(hi_bits);
        let y = party.suffix_or(&both, 2, m).await?;
        (y[m], Some(normalise_terms(&dbits, &y[..m], 1, D_EXTRA)))
    };
    let flag_i = Fp::ONE - high;
    party.step("intercept");

    // checks and gating (with ρ's mantissa Dm = ⌊D'·2^D_EXTRA/4^sd⌋ in the first reduction)
    let mut fl_terms = vec![vec![(flag_c, flag_q)], vec![(nm.nonzero[0], flag_i)]];
    if let Some((dterms, _, _)) = &dnorm {
        fl_terms.push(dterms[0].clone());
    }
    let fl = party.sum_products(&fl_terms).await?;
    let (rg_l, rg_r) = if store { (vec![fl[0]], vec![fl[1]]) } else { (vec![fl[0], fl[2]], vec![fl[1], a2]) };
    // (a2 is the refined a² for a revealed result: ρ's relative error is then that of a², ≈ 2^-33)
    let rg = party.mul(&rg_l, &rg_r).await?;
    let range = rg[0];
    let (ok, rho_out) = if let Some((_, ohd, _)) = &dnorm {
        // ρm = Dm·a²/2^(F + D_EXTRA) < 2^(F+5): Dm·a² < 2^(2F + D_EXTRA + 4)·(1 + ε)
        let rho_m = party.trunc(&rg[1..2], f + D_EXTRA, 2 * f + D_EXTRA + 5).await?[0];
        // ρ = ρm·4^sd/2^(2F + 2·L_EXTRA): at scale 2^RHO_BITS a left shift by k = 2sd + RHO_BITS −
        // 2F − 2L (k ≤ 85 as D' < 2^124; k < 0 only for ρ < 2^-80, which reads as 0)
        let mut efac = Fp::ZERO;
        for (i, o) in ohd[0].iter().enumerate() {
            let k = 2 * (i as i32 + smin) + RHO_BITS - 2 * f as i32 - 2 * L_EXTRA as i32;
            if k >= 0 {
                efac += *o * Fp::new(1u128 << k);
            }
        }
        let okr = party.mul(&[range, rho_m], &[nm.nonzero[0], efac]).await?;
        (okr[0], Some(okr[1]))
    } else {
        (party.mul(&[range], &[nm.nonzero[0]]).await?[0], None)
    };
    let (values, layout) = if store {
        let slope20 = reduced[1];
        // the intercept I is at 2^20 times the inputs' scale S; stored at 2^20: I/2^20 for binary
        // inputs, I/10^d for decimal ones (slope and r do not depend on S, so the stored array is
        // at the binary scale either way)
        let icpt20 = match ns.decimals() {
            None => shifted(&ib, intercept + half, (40 - FRAC_BITS) as i32, 82),
            Some(dec) => {
                // I/10^d = ⌊(I + 2^b)/2^d⌋/5^d − 2^(b−d)/5^d (the d low bits dropped are < 1 unit):
                // the shifted value comes from the bits of I + 2^b, so it is below 2^(b+1−d)
                // statically and the division keeps its mask whatever I is (an I out of range
                // fails `flag_i` and is zeroed below)
                let top = ib_off as usize + 1;
                let hi: Fp = ib[dec as usize..top].iter().enumerate().map(|(i, b)| *b * Fp::new(1u128 << i)).sum();
                let p5 = 5u128.pow(dec);
                let q = if dec == 0 {
                    hi
                } else {
                    party.trunc_div(&[hi + Fp::new(p5 / 2)], p5, ib_off + 2 - dec).await?[0]
                };
                q - Fp::new((1u128 << (ib_off - dec)) / p5)
            }
        };
        let r20 = shifted(&ub[2 * m..], r, down + C_EXTRA as i32, STORE_OFF);
        let layout = OutputLayout::Array { shape: vec![3], dtype: Dtype::Float, scale: Scale::STORAGE };
        (vec![slope20, icpt20, r20], layout)
    } else {
        let layout = OutputLayout::Linregress {
            n,
            r: Scale::bin((f + C_EXTRA) as i32, 1.0),
            q: Scale::bin(f as i32 + Q_LOW, 1.0),
            intercept: Scale::bin(40, 1.0).for_inputs(ns, 1),
            rho: Scale::bin(RHO_BITS, 1.0),
            q_lo: Scale::bin((f + C_EXTRA) as i32 + Q_LOW, 1.0),
        };
        let rho_out = rho_out.ok_or_else(|| MpcError::Invalid("linregress: ρ missing".into()))?;
        (vec![r, q_out, intercept, rho_out, q_lo], layout)
    };
    let outs = party.mul(&values, &vec![ok; values.len()]).await?;
    party.step("done");
    let mut shares = outs;
    shares.push(nm.nonzero[0]);
    shares.push(range);
    Ok(OutputShare { layout, checks: vec![Check::XVaries, Check::Range], shares })
}

/// The low parts a refined revealed linregress adds (step 5b of [`run_linregress`]).
struct Fine {
    /// q_m,lo = q_m·2^(F+C) − ⌊q_m·2^F⌋·2^C (q_m refined), |q_m,lo| < 2^(26 + cl).
    qm_lo: Fp,
    /// slope_m,lo likewise, |slope_m,lo| < 2^(26 + cl).
    slope_lo: Fp,
}

/// Step 5b of [`run_linregress`] for a revealed result: the first-order correction of the Newton
/// values by the residuals of the long mantissas, and the split of q_m and slope_m into a 34-bit
/// high part and a low part.
///
/// yx, yy are 1/√ of the 34-bit mantissas, up to the Newton step's roundings: with the true
/// mantissas mx, my (held to 50 bits as mx'', my''), e_x = 1 − mx·yx² and e_y = 1 − my·yy² are
/// ≈ (t + 1)·2^-30 (the floor of the 34-bit mantissa, ≤ 2^-32 relative, and the roundings). Then
/// 1/√mx = yx·(1 + e_x/2) up to e_x² ≈ 2^-60, so
/// - r = c·yx·yy·(1 + (e_x + e_y)/2),
/// - q = √(my/mx) = my₃₄·yy·yx·(1 + (e_x + e_y)/2 + δy/my) (δy: the part of my below 34 bits),
/// - slope_m = c·yx²·(1 + e_x),
/// - a² = yx²·yy²·(1 + e_x + e_y) (ρ's factor).
///
/// `p2` holds [r, q_m, slope_m, a²] at 2^(2F + C), 2^(2F + C), 2^(2F + C), 2^2F and P_x = mx''·yx²,
/// P_y, P_d = δy·yy² at 2^(2F + 32 − cl), all exact products.
///
/// Static bounds (every truncation below has one, so each opening keeps its κ = 40 bits of mask):
/// |e_x|, |e_y| ≤ 2^(cl − 21) whatever the data (the mantissas are in [1/4, 1) or replaced by
/// 1/2, where the Newton step of `inv_sqrt` is within (t + 1)·2^-30; the bound leaves a factor
/// 2^8), so e·2^(2F + 32 − cl) < 2^79. The corrections k·2^(51 − cl) are below 2^31, and each
/// product with r, q_m, slope_m (< 2^46) or a² (< 2^38) below 2^77. The low parts are the
/// difference of a value at 2^(F+C) and its own truncation to 2^F, plus a correction below
/// 2^(25 + cl): below 2^(26 + cl).
///
/// Security: one truncation opening, one Beaver opening and one truncation opening, all masked and
/// statically bounded as above; nothing here depends on a revealed value. What the requester gets
/// is the same outputs at a finer precision (q as two terms, q_hi + q_lo, whose split is the
/// truncation's rounding: a function of the masks, not of the data).
async fn refine<T: Transport>(party: &mut Party<T>, p2: &[Fp], cl: u32) -> Result<(Fp, Fp, Fp, Fp, Fine), MpcError> {
    let f = NEWTON_F;
    let b2 = 2 * f + C_EXTRA + 2;
    let one = Fp::new(1u128 << (2 * f + 2 * REF_EXTRA - cl));
    // [r·2^(F+C), q_m·2^(F+C), slope_m·2^(F+C), a²·2^F, e_x, e_y, P_d at 2^(F + 16 − cl)]
    let sh = 2 * f + 2 * REF_EXTRA - cl - (f + REF_EXTRA - cl);
    let v = [p2[0], p2[1], p2[2], p2[3], one - p2[4], one - p2[5], p2[6]];
    let w = party.trunc_each(&v, &[f, f, f, f, sh, sh, sh], b2).await?;
    let (ex, ey, pd) = (w[4], w[5], w[6]);
    // the corrections at 2^(F + 17 − cl): (e_x + e_y)/2, that + δy/my, e_x, e_x + e_y
    let kr = ex + ey;
    let kq = kr + pd + pd;
    let ks = ex + ex;
    let ka = kr + kr;
    let pk = party.mul(&w[..4], &[kr, kq, ks, ka]).await?;
    let m = f + REF_EXTRA + 1 - cl;
    let hi = party.trunc_each(&[w[2], w[1], pk[0], pk[1], pk[2], pk[3]], &[C_EXTRA, C_EXTRA, m, m, m, m], b2).await?;
    let lift = Fp::new(1u128 << C_EXTRA);
    let (slope_m, qm) = (hi[0], hi[1]);
    let r = w[0] + hi[2];
    let a2 = w[3] + hi[5];
    let fine = Fine { qm_lo: w[1] + hi[3] - qm * lift, slope_lo: w[2] + hi[4] - slope_m * lift };
    Ok((r, qm, a2, slope_m, fine))
}

/// The exponent of the intercept's range check |I| < 2^b (I at 2^20 times the inputs' scale). At a
/// decimal scale 2^80: the stored I/10^d·… then stays in the storage range, and the division by
/// 5^d of `run_linregress` keeps its 40 bits of masking in the field for any t.
fn intercept_bound(ns: NumScale) -> u32 {
    if ns.decimals().is_some() { 80 } else { 82 }
}

/// Share of ⌊v / 2^σ⌋ for a secret v given both as a sharing `v` and by the bits of v + 2^off:
/// a public linear combination of the bits for σ ≥ 0, v·2^(−σ) for σ < 0.
fn shifted(bits: &[Fp], v: Fp, sigma: i32, off: u32) -> Fp {
    if sigma < 0 {
        return v * Fp::new(1u128 << (-sigma));
    }
    let s = sigma as usize;
    let mut acc = Fp::ZERO;
    for (i, b) in bits.iter().enumerate().skip(s) {
        acc += *b * Fp::new(1u128 << (i - s));
    }
    if (sigma as u32) <= off { acc - Fp::new(1u128 << (off - sigma as u32)) } else { acc }
}

/// Preprocessing of a linregress on n points (the large, n-sized part; the rest tops up).
fn plan(n: usize, t: usize, store: bool, ns: NumScale) -> Result<Needs, MpcError> {
    let mut needs = decompose_needs(2);
    if let (true, Some(d)) = (store, ns.decimals())
        && d > 0
    {
        let (spec, _) = trunc::plan(5u128.pow(d), intercept_bound(ns) + 2 - d, t)?;
        needs.pair(spec, 1);
    }
    let l = (125 - clog2(n as u128)) / 2;
    let (s, k) = cert_plan(n, STORED_BITS + 2, l, t)?;
    let (spec, _) = trunc::plan(1u128 << s, STORED_BITS + 2, t)?;
    needs.pair(spec, 2 * n);
    needs.add(&ltz_needs(2, k));
    needs.add(&decompose_needs(7));
    needs.add(&suffix_or_needs(2, FIELD_BITS));
    if store {
        needs.add(&suffix_or_needs(1, FIELD_BITS - intercept_bound(ns) as usize - 1));
    } else {
        // the intercept's range check shares a call with ρ's normalisation
        needs.add(&suffix_or_needs(2, FIELD_BITS));
    }
    // the Newton steps and the fixed-scale truncations of steps 5–7, so that none of them tops up
    super::sqrt::sqrt_mantissa_pairs(&mut needs, 2, t)?;
    let (f, b2, cl) = (NEWTON_F, 2 * NEWTON_F + C_EXTRA + 2, clog2(t as u128 + 1));
    let truncs: Vec<(u32, u32, usize)> = if store {
        vec![(f, b2, 7), (C_EXTRA, f + C_EXTRA + 2, 1)]
    } else {
        vec![
            (f, b2, 6),
            (f - C_EXTRA, b2, 1),
            (f - REF_EXTRA + cl, b2, 2),
            (f + REF_EXTRA, b2, 3),
            (C_EXTRA, b2, 2),
            (f + REF_EXTRA + 1 - cl, b2, 4),
            (f + D_EXTRA, 2 * f + D_EXTRA + 5, 1),
        ]
    };
    for (m, bound, count) in truncs {
        let (spec, _) = trunc::plan(1u128 << m, bound, t)?;
        needs.pair(spec, count);
    }
    needs.doubles += 3 + 2 + 2 * 127 + 2 + usize::from(store);
    needs.triples += 48 + if store { 0 } else { 11 };
    Ok(needs)
}

/// Requester side: scipy.stats.linregress's outputs from the revealed r, q, intercept, ρ = 1 − r²
/// and n. Near |r| = 1 (ρ < 2^-10), r is taken as ±√(1 − ρ): its absolute error is then ρ·ε/2 for
/// ρ's relative error ε ≈ 2^-33, below r's own ≈ 2^-42 there; elsewhere r's own is the smaller.
/// So t = r·√(df/ρ) and std_err = q·√(ρ/df) have the relative error of ρ and q whatever r is;
/// ρ = 0 (|r| = 1 to 2^-80) gives p = 0 and std_err = 0, as scipy does for a perfect fit.
pub(crate) fn finish(n: usize, r: f64, q: f64, intercept: f64, rho: f64) -> OpResult {
    let rho = rho.clamp(0.0, 1.0);
    let r = r.clamp(-1.0, 1.0);
    let r = if rho < 1.0 / 1024.0 { (1.0 - rho).sqrt().copysign(r) } else { r };
    let slope = r * q;
    let (p_value, std_err) = if n == 2 {
        (if r == 0.0 { 1.0 } else { 0.0 }, 0.0)
    } else {
        let df = (n - 2) as f64;
        let t = if rho > 0.0 {
            r * (df / rho).sqrt()
        } else if r == 0.0 {
            0.0
        } else {
            f64::INFINITY
        };
        (tdist::t_two_sided(t, df), q * (rho / df).sqrt())
    };
    OpResult::Linregress { slope, intercept, r_value: r, p_value, std_err }
}
