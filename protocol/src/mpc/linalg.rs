//! Linear algebra on secret arrays: numpy.dot semantics (1-D, 2-D, N-D, scalar) and the matrix
//! inverse.
//!
//! Owns: shape handling and the products. Every output element is a sum of local products reduced
//! once (one opened, uniformly masked element per output, see `mul.rs`), so a 100×100 product costs
//! 10^4 opened elements whatever the inner dimension. Must never open a product or a partial sum.
//!
//! Range: a stored element can be 2^62 at scale 2^20, so Σ a_k·b_k can exceed the field. The rows of
//! the left operand and the columns of the right one get a range certificate (`stats.rs`):
//! ‖row‖·‖col‖ < 2^80 for floats (then truncating by 2^20 keeps κ = 40 bits of masking) or < 2^124
//! for ints (exact, multiplied by the field inverse of 2^20). The flag multiplies every output
//! before any truncation, and is an output to the requester.
//!
//! A **stored** product must also fit the storage range |rep| < 2^62, which the certificate does
//! not imply for integers (|Σ| < 2^124/S) nor for floats at a scale S < 2^19 (|Σ| < 2^80/S), i.e.
//! below 6 decimals: there every output gets a secret range test ([`stored_dot_range_tested`],
//! `Party::fits_storage`) and the flag becomes [certificate]·[every output fits], so a result that
//! would wrap is the requester's `out_of_range` error and is never committed.

use super::bounds::{NEWTON_F, STORED_BITS, clog2};
use super::{MpcError, Party, Transport};
use crate::field::Fp;
use crate::fixed::{FRAC_BITS, NumScale};

/// Output shape of numpy.dot(a, b), with the contraction length.
pub fn dot_shape(a: &[usize], b: &[usize]) -> Result<(Vec<usize>, usize), MpcError> {
    if a.is_empty() || b.is_empty() {
        let other = if a.is_empty() { b } else { a };
        return Ok((other.to_vec(), 1));
    }
    let k = a[a.len() - 1];
    let kb = if b.len() == 1 { b[0] } else { b[b.len() - 2] };
    if k != kb {
        return Err(MpcError::Shape(format!(
            "shapes {a:?} and {b:?} not aligned: {k} (dim {}) != {kb} (dim {})",
            a.len() - 1,
            if b.len() == 1 { 0 } else { b.len() - 2 }
        )));
    }
    let mut out: Vec<usize> = a[..a.len() - 1].to_vec();
    if b.len() >= 2 {
        out.extend_from_slice(&b[..b.len() - 2]);
        out.push(b[b.len() - 1]);
    }
    Ok((out, k))
}

impl<T: Transport> Party<T> {
    /// numpy.dot on secret arrays at the storage scale; returns (output shares at scale 2^20, flag).
    /// `ns` is the scale the products are divided by (the coarser key's for two decimal scales).
    /// With `range_test` (a stored result that the certificate alone does not keep below 2^62, see
    /// [`stored_dot_range_tested`]) the flag also says that every output fits the storage range.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn dot_impl(
        &mut self,
        a: &[Fp],
        ash: &[usize],
        b: &[Fp],
        bsh: &[usize],
        ints: bool,
        ns: NumScale,
        exact: bool,
        range_test: bool,
    ) -> Result<(Vec<Fp>, Fp), MpcError> {
        let (_, k) = dot_shape(ash, bsh)?;
        // no truncation follows an integer or exact result, so its sums may use the field up to 2^125
        let l = if ints || exact { 62 } else { 40 };
        let (groups, raw): (Vec<Vec<Fp>>, Vec<Fp>) = if ash.is_empty() || bsh.is_empty() {
            let (s, arr) = if ash.is_empty() { (a[0], b) } else { (b[0], a) };
            let sv = vec![s; arr.len()];
            let prod = self.mul(&sv, arr).await?;
            (vec![vec![s], arr.to_vec()], prod)
        } else {
            let ra = a.len() / k.max(1);
            let (nb, m) =
                if bsh.len() == 1 { (1, 1) } else { (b.len() / (k * bsh[bsh.len() - 1]).max(1), bsh[bsh.len() - 1]) };
            // columns of b, contiguous
            let mut cols: Vec<Vec<Fp>> = Vec::with_capacity(nb * m);
            for bb in 0..nb {
                for j in 0..m {
                    cols.push((0..k).map(|kk| b[bb * k * m + kk * m + j]).collect());
                }
            }
            let rows: Vec<Vec<Fp>> = (0..ra).map(|r| a[r * k..(r + 1) * k].to_vec()).collect();
            // (ra × k)·(k × ncols), the columns laid out as a k × ncols matrix
            let nc = cols.len();
            let bm: Vec<Fp> = (0..k * nc).map(|i| cols[i % nc][i / nc]).collect();
            let out = self.matmul(a, &bm, ra, k, nc).await?;
            let mut groups = rows;
            groups.extend(cols);
            (groups, out)
        };
        self.step("products");
        let flag = if k == 0 { Fp::ONE } else { self.certify(&groups, STORED_BITS + 1, l).await? };
        let fv = vec![flag; raw.len()];
        let gated = self.mul(&raw, &fv).await?;
        // the products are at S² for the storage scale S (2^20 or 10^d); back to S
        let sf = ns.factor();
        let out = if exact {
            // revealed at S²: the exact sums of products (decimal inputs, not stored)
            gated
        } else if ints || sf == 1 {
            // integers: every product is an exact multiple of S, so dividing is multiplying by S⁻¹
            let inv = Fp::new(sf).inv().unwrap_or(Fp::ZERO);
            gated.iter().map(|v| *v * inv).collect()
        } else {
            // centre the truncation error: ⌊x/D⌋ + e, e ∈ [0, t+1], becomes ±(t/2 + 1) units
            let c = Fp::new(self.t as u128 * sf / 2);
            let centred: Vec<Fp> = gated.iter().map(|v| *v - c).collect();
            self.trunc_div(&centred, sf, 2 * l + 1).await?
        };
        self.step("rescale");
        if !range_test {
            return Ok((out, flag));
        }
        let fits = self.fits_storage(&out).await?;
        let flag = self.mul(&[flag], &[fits]).await?[0];
        self.step("range test");
        Ok((out, flag))
    }

    /// [every |x| < 2^62] for shared values anywhere in the field (|x| up to 2^124 here, too wide
    /// for a statistically masked LTZ): y = x + 2^62 − 1 is decomposed into its 127 bits exactly
    /// and fits ⇔ y ≤ 2^63 − 2 ⇔ ¬[2^63 − 2 < y] (`bit_lt`), then the product of the flags.
    /// Leakage: the decomposition opens y + r for r uniform over [0, 2^127) (perfectly masked);
    /// the carry tree and the product tree open only Beaver / degree-reduction masks. The flag is
    /// never opened here: it is an output check.
    pub(crate) async fn fits_storage(&mut self, x: &[Fp]) -> Result<Fp, MpcError> {
        let shift = Fp::new((1u128 << STORED_BITS) - 1);
        let ys: Vec<Fp> = x.iter().map(|v| *v + shift).collect();
        let bits = self.decompose(&ys).await?;
        let top = vec![(1u128 << (STORED_BITS + 1)) - 2; x.len()];
        let over = self.bit_lt(&top, &bits, super::bits::FIELD_BITS).await?;
        self.all_of(over.iter().map(|o| Fp::ONE - *o).collect()).await
    }
}

/// Whether a stored dot product needs [`Party::fits_storage`]: integers always (the certificate
/// allows |Σ| up to 2^124/S), floats when the products' scale S is below 2^19 (|Σ| < 2^80/S plus
/// the truncation's t/2 + 1 units stays below 2^61 + 2^20 < 2^62 only for S ≥ 2^19: 10^6 and 2^20
/// do, 10^5 and coarser do not).
pub(crate) fn stored_dot_range_tested(ints: bool, ns: NumScale) -> bool {
    ints || ns.factor() < 1 << 19
}

/// Preprocessing [`Party::fits_storage`] of `count` values consumes.
pub(crate) fn fits_storage_needs(count: usize) -> super::prep::Needs {
    let mut needs = super::bits::decompose_needs(count);
    needs.doubles += count * super::bits::carry_out_products(super::bits::FIELD_BITS);
    needs.triples += count.saturating_sub(1) + 1;
    needs
}

/// Fractional bits of the Newton–Schulz iteration.
const NS_F: u32 = 29;
/// Largest condition number the iteration count is sized for.
const NS_KAPPA: f64 = 1e3;

/// Newton–Schulz iterations for a d×d matrix: the residual I − B·X_k = (I − B·Bᵀ)^(2^k) has
/// eigenvalues ≤ (1 − σ_min²)^(2^k) with σ_min(B) ≥ 1/(2κ√d) (‖B‖_F ≥ 1/2), so 2^k ≥ 28/σ_min²
/// brings it below e^-28 ≈ 2^-40.
pub(crate) fn ns_iterations(d: usize) -> u32 {
    let need = 28.0 * 4.0 * NS_KAPPA * NS_KAPPA * d as f64;
    need.log2().ceil() as u32
}

/// Fractional bits of the refined inverse X' that is revealed. |X'| < 2^18 (see [`run_inv`]), so
/// the output X'·2^(47 − u) stays below 2^(INV_F + 18 + 63) ≤ 2^126 for every exponent u ≥ −16.
const INV_F: u32 = 45;
/// The residual check accepts ‖I − A'·X‖_F ≤ 2^-RES_LOG2, for A' = A·2^(3−u) exactly.
const RES_LOG2: u32 = 12;
/// Largest d·(t + 3) of an inverse: it keeps the fine term δB·X of the residual below 1 in every
/// entry (|δB·X| ≤ d(t + 3)·2^-12 statically), which the check's and the correction's static
/// bounds use.
const INV_MAX_DT: usize = 1 << 12;

/// Public exponents of the refinement for a d×d inverse with threshold t: the scale 2^a of the
/// fine normalised matrix B_a (its error term δB·X stays below 2^79, see [`run_inv`]) and the
/// scale 2^fe of the residual E fed to the correction X·E (below 2^79 too).
fn refine_scales(d: usize, t: usize) -> (u32, u32) {
    let a = 61 - clog2((d * (t + 3)) as u128);
    let fe = 42 - clog2(d as u128).div_ceil(2);
    (a, fe)
}

/// Committee side of inv: numpy.linalg.inv of a square 2-D matrix.
///
/// 1. Range certificate ‖A‖_F < 2^62 (rep units), s = ‖A‖_F² exactly (one reduction), bits of s,
///    secret normalisation s ≈ M·4^u.
/// 2. A' = A·2^(3−u) exactly, at scale 2^64 (‖A'‖_F ∈ [1/2, 1)): A_rep times a secret power of two,
///    a linear combination of the one-hot of u. From it, in one opening, two centred truncations:
///    B = A' at 2^F (the iteration's matrix) and B_a = A' at 2^a (a ≈ 55). δB = B_a − B·2^(a−F)
///    is then A' − B at 2^a up to B_a's own rounding: a statically small matrix
///    (|δB| ≤ (t + 3)·2^-F), local.
/// 3. Newton–Schulz X ← X(2I − B·X) from X0 = Bᵀ, a fixed (public, size-only) number of
///    iterations. Every |entry| stays below 2^17 even for singular B (the iteration maps each
///    singular value σ to f ≤ min(2^k·σ, 1/σ)), so every truncation has a static bound.
/// 4. Residual against A' itself, not against the rounded B: E = I − A'·X = I − B·X − δB·X. B·X
///    (exact at 2^2F) and δB·X (exact at 2^(a+F)) are one stacked matrix product; one opening of
///    centred truncations gives E at 2^F (for the check) and at 2^2F (for the refinement). The
///    check ‖E‖_F ≤ 2^-RES_LOG2 is one LTZ: its bit is an output (Check::Invertible) and gates the
///    result, so a singular input reveals nothing but the flag.
/// 5. Refinement X' = X + X·E (one step of Newton on the residual): I − A'·X' = E² exactly, so the
///    residual goes from ‖E‖ (≈ κ·2^-29, the rounding of B times ‖inv‖) to ‖E‖² plus the
///    refinement's own roundings (≈ d·2^-fe). E is gated by the check bit before its truncation
///    to 2^fe, which gives it the static bound ‖E‖_F < 2^-11 (2^-12 checked, plus the roundings of
///    step 4), so |X·E| < √d·2^46·2^(fe−10) ≤ 2^79 at 2^(F+fe) and |X'| < 2^17 + √d·2^6 < 2^18.
///    X' is at 2^INV_F (45) for a revealed result and at 2^F for a stored one.
/// 6. inv(A) = X'·2^(3−u): output X'_rep·2^(47−u) at public scale 2^(INV_F+44). With `store`, the
///    output is at the storage scale instead: inv_rep = X'_rep·2^(−6−u) by a secret shift of X'
///    (`shift.rs`; |X'_rep| < 2^47, so |inv_rep| < 2^57 fits the storage range), error ≤ t/2 + 1
///    units of 2^-20.
///
/// Security: every opening is a masked truncation (statically bounded as above), a product's
/// degree reduction, the LTZ's masked opening, or the shift's; nothing depends on the data but the
/// gated values. The refinement adds three rounds and no new kind of opening.
pub(crate) async fn run_inv<T: Transport>(
    party: &mut Party<T>,
    inputs: Vec<super::spec::SharedInput>,
    store: bool,
) -> Result<super::spec::OutputShare, MpcError> {
    use super::spec::{Check, OutputLayout, OutputShare, Scale};
    use crate::value::Dtype;
    if inputs.len() != 1 {
        return Err(MpcError::Invalid(format!("inv takes 1 key, got {}", inputs.len())));
    }
    let shape = inputs[0].meta.shape().unwrap_or_default();
    if shape.len() != 2 {
        return Err(MpcError::Shape(format!("inv needs a 2-D matrix, got {}-D (shape {shape:?})", shape.len())));
    }
    if shape[0] != shape[1] || shape[0] == 0 {
        return Err(MpcError::Shape(format!("last 2 dimensions of the array must be square, got {shape:?}")));
    }
    let d = shape[0];
    let t = party.t;
    if d * (t + 3) > INV_MAX_DT {
        return Err(MpcError::OutOfRange(format!(
            "inv of a {d}×{d} matrix with threshold {t}: d·(t + 3) must be at most {INV_MAX_DT}"
        )));
    }
    let ns = inputs[0].scale;
    let a = inputs[0].share.clone();
    let f = NS_F;
    let iters = ns_iterations(d);
    let (a_f, fe) = refine_scales(d, t);
    let target = if store { f } else { INV_F };
    let bound = 2 * f + 21;
    party.progress_plan(iters as u64 + 5);
    // preprocessing sized from d
    {
        let dd = d * d;
        let mut needs = super::bits::decompose_needs(1);
        needs.add(&super::bits::suffix_or_needs(1, super::bits::FIELD_BITS));
        let (s, k) = super::stats::cert_plan(dd, STORED_BITS + 1, 62, t)?;
        let (spec, _) = super::trunc::plan(1u128 << s, STORED_BITS + 1, t)?;
        needs.pair(spec, dd);
        needs.add(&super::compare::ltz_needs(2, k.max(70)));
        for (m, bd, count) in [
            (35, 66, dd),
            (64 - a_f, 66, dd),
            (f, bound, 2 * dd * iters as usize + dd),
            (a_f, bound, dd),
            (a_f - f, bound, dd),
            (2 * f - fe, 2 * f - RES_LOG2 + 2, dd),
            (f + fe - target, bound, dd),
        ] {
            let (spec, _) = super::trunc::plan(1u128 << m, bd, t)?;
            needs.pair(spec, count);
        }
        needs.doubles += 2 * dd * iters as usize + 4 * dd + 5;
        needs.triples += 2 * dd + 8;
        if store {
            let (smin, smax) = super::sqrt::s_range();
            let to = inv_store_target(ns);
            needs.add(&super::shift::scale_pow2_needs(dd, to.bound, &inv_store_exponents(smin, smax, &to), t)?);
        }
        party.preprocess(&needs).await?;
    }
    party.step("preprocessing");

    // 1. certificate and ‖A‖_F²
    let flag_r = party.certify(std::slice::from_ref(&a), STORED_BITS + 1, 62).await?;
    let s = party.inner_products(&[(&a, &a)]).await?[0];
    let sb = party.decompose(&[s]).await?;
    let nm = party.normalise(&sb, 1).await?;
    let (smin, _) = super::sqrt::s_range();
    // 2. A' = A·2^(3−u) at 2^64: factor 2^(F − 17 − u + 35) from the one-hot of u
    let half = (NEWTON_F / 2) as i32;
    let mut fac = Fp::ZERO;
    let mut outfac = Fp::ZERO;
    for (i, oh) in nm.onehot_s[0].iter().enumerate() {
        let u = i as i32 + smin;
        let e = f as i32 - half - u + 35;
        if (0..126).contains(&e) {
            fac += *oh * Fp::new(1u128 << e);
        }
        let o = 47 - u;
        if (0..126).contains(&o) {
            outfac += *oh * Fp::new(1u128 << o);
        }
    }
    // gate A by the range flag first, so that every truncation below has its static bound
    let mut gate = vec![flag_r; d * d];
    gate.push(fac);
    let mut av = a.clone();
    av.push(flag_r);
    let g = party.mul(&av, &gate).await?;
    let (ag, facg) = (&g[..d * d], g[d * d]);
    let scaled = party.mul(ag, &vec![facg; d * d]).await?;
    let mut ms = vec![35; d * d];
    ms.extend(vec![64 - a_f; d * d]);
    let both = party.trunc_centred_each(&[scaled.clone(), scaled].concat(), &ms, 66).await?;
    let (b, b_a) = both.split_at(d * d);
    let lift = Fp::new(1u128 << (a_f - f));
    let db: Vec<Fp> = b_a.iter().zip(b).map(|(fine, coarse)| *fine - *coarse * lift).collect();
    party.step("normalise");

    // 3. Newton–Schulz from X0 = Bᵀ
    let mut x: Vec<Fp> = (0..d * d).map(|i| b[(i % d) * d + i / d]).collect();
    let two = Fp::new(2u128 << f);
    for _ in 0..iters {
        let p = party.matmul(b, &x, d, d, d).await?;
        let bx = party.trunc(&p, f, bound).await?;
        let mut q: Vec<Fp> = bx.iter().map(|v| -*v).collect();
        for i in 0..d {
            q[i * d + i] += two;
        }
        let nx = party.matmul(&x, &q, d, d, d).await?;
        x = party.trunc(&nx, f, bound).await?;
        party.step("newton-schulz");
    }
    // 4. residual E = I − B·X − δB·X of the final X, at 2^F and at 2^2F
    let pq = party.matmul(&[b, db.as_slice()].concat(), &x, 2 * d, d, d).await?;
    let (p, q) = pq.split_at(d * d);
    let mut ms = vec![f; d * d];
    ms.extend(vec![a_f; d * d]);
    ms.extend(vec![a_f - f; d * d]);
    let tr = party.trunc_centred_each(&[p, q, q].concat(), &ms, bound).await?;
    let (p1, rest) = tr.split_at(d * d);
    let (q1, q2) = rest.split_at(d * d);
    let mut e1: Vec<Fp> = p1.iter().zip(q1).map(|(u, v)| -(*u + *v)).collect();
    let mut e2: Vec<Fp> = p.iter().zip(q2).map(|(u, v)| -(*u + *v)).collect();
    for i in 0..d {
        e1[i * d + i] += Fp::new(1u128 << f);
        e2[i * d + i] += Fp::new(1u128 << (2 * f));
    }
    let rr = party.inner_products(&[(&e1, &e1)]).await?[0];
    // ‖E‖_F ≤ 2^-RES_LOG2 ⇔ rr ≤ 2^(2F − 2·RES_LOG2); |E| ≤ 1 + |B·X| + |δB·X| + roundings < 4
    // in every entry (|B·X| ≤ 1 by the iteration, |δB·X| ≤ d(t + 3)·2^-12 ≤ 1), so |rr| < d²·2^(2F+4)
    let thr = Fp::new(1u128 << (2 * (f - RES_LOG2)));
    let kbits = clog2((d * d) as u128) + 2 * f + 6;
    let neg = party.ltz(&[thr - rr], kbits).await?[0];
    let flag_i = Fp::ONE - neg;
    // gate E (and the range flag, for the output) by the check bit in one round
    e2.push(flag_r);
    let gated = party.mul(&e2, &vec![flag_i; d * d + 1]).await?;
    let (eg, ok) = (&gated[..d * d], gated[d * d]);
    party.step("residual");

    // 5. refinement X' = X + X·E at 2^target
    let ef = party.trunc_centred_each(eg, &vec![2 * f - fe; d * d], 2 * f - RES_LOG2 + 2).await?;
    let corr = party.matmul(&x, &ef, d, d, d).await?;
    let corr = party.trunc_centred_each(&corr, &vec![f + fe - target; d * d], bound).await?;
    let lift = Fp::new(1u128 << (target - f));
    let xr: Vec<Fp> = x.iter().zip(&corr).map(|(v, c)| *v * lift + *c).collect();
    party.step("refine");

    // 6. output
    let (xo, scale) = if store {
        let to = inv_store_target(ns);
        let exps = inv_store_exponents(smin, smin + nm.onehot_s[0].len() as i32 - 1, &to);
        let xm: Vec<Fp> = xr.iter().map(|v| *v * Fp::new(to.mult)).collect();
        (party.scale_pow2_secret(&xm, to.bound, &nm.onehot_s[0], &exps).await?, Scale::storage(to.ns))
    } else {
        // an inverse has degree −1 in its input
        (party.mul(&xr, &vec![outfac; d * d]).await?, Scale::bin(INV_F as i32 + 44, 1.0).for_inputs(ns, -1))
    };
    let mut out = party.mul(&xo, &vec![ok; d * d]).await?;
    party.step("done");
    out.push(flag_i);
    out.push(flag_r);
    Ok(OutputShare {
        layout: OutputLayout::Array { shape: vec![d, d], dtype: Dtype::Float, scale },
        checks: vec![Check::Invertible, Check::Range],
        shares: out,
    })
}

/// Static bound (bits) of the refined entries X'_rep of a stored inverse (|X'| < 2^18 at scale
/// 2^NS_F, see [`run_inv`]).
const X_BITS: u32 = NS_F + 18;

/// Candidate exponents of the stored inverse: inv_rep = X_rep·mult·2^(FRAC_BITS − NS_F + 3 − u + shift)
/// for the normalisation exponent u ∈ [umin, umax] (one-hot index u − umin).
fn inv_store_exponents(umin: i32, umax: i32, to: &InvStore) -> Vec<i32> {
    (umin..=umax).map(|u| FRAC_BITS as i32 - NS_F as i32 + 3 - u + to.shift).collect()
}

/// Where a stored inverse goes: X·mult·2^(exponent + shift), an array at `ns`, |X·mult| < 2^bound.
struct InvStore {
    mult: u128,
    shift: i32,
    bound: u32,
    ns: NumScale,
}

/// The engine's X gives inv(A_rep)·2^40 = X·2^(FRAC_BITS − NS_F + 3 − u) whatever the scale. At the
/// binary scale that is the stored inv(A)·2^20. For A at 10^d, inv(A)·10^d = inv(A_rep)·10^(2d) =
/// X·5^(2d)·2^(… + 2d − 40): at the input's own scale while 5^(2d) leaves the shift's truncation its
/// masking room (d ≤ 7); beyond, at the binary scale, inv(A)·2^20 = X·5^d·2^(… + d − 20).
fn inv_store_target(ns: NumScale) -> InvStore {
    let Some(d) = ns.decimals() else {
        return InvStore { mult: 1, shift: 0, bound: X_BITS, ns };
    };
    let own = 5u128.pow(2 * d);
    let own_bound = X_BITS + clog2(own);
    if own_bound <= 80 {
        return InvStore { mult: own, shift: 2 * d as i32 - 40, bound: own_bound, ns };
    }
    let m = 5u128.pow(d);
    InvStore { mult: m, shift: d as i32 - 20, bound: X_BITS + clog2(m), ns: NumScale::Binary20 }
}
