//! numpy.histogram with public bin edges: the counts of secret values per bin.
//!
//! Owns: the comparisons of every value with every public edge (batched, in chunks) and the counts
//! as sums of comparison bits. Must never open a comparison bit, a value or a count: the bits stay
//! shared (`ltz`, Catrina–de Hoogh, whose only opening is statistically masked), the counts are
//! linear combinations of them, and only the requester reconstructs the counts.
//!
//! Semantics (numpy): bins [e_0, e_1), …, [e_(b−2), e_(b−1)), and the last one closed,
//! [e_(b−1), e_b]; values outside [e_0, e_b] are not counted. Edges are public reals; the values
//! are integers at 2^20, so x < e ⇔ x_rep < ⌈e·2^20⌉ and x > e_b ⇔ x_rep > ⌊e_b·2^20⌋ exactly: the
//! edges travel as those representatives (`Op::Histogram`), clamped to the storage range.
//! c_j = #{x < e_j} = Σ_i ltz(x_i − L_j), g = #{x > e_b} = Σ_i ltz(U − x_i); count_j = c_(j+1) − c_j,
//! the last count N − c_(b−1) − g. N·(b + 1) comparisons of 64-bit differences.
//!
//! Security: the only openings are those of `ltz` (masked by shared random bits and a contributed
//! high mask, 2^-κ) and of its BitLT reductions; the counts are output to the requester only.
//!
//! **Per-bin rule under a compute grant** (`min_count` = m > 0): each bin must stand for at least
//! m values, and the counts are secret, so the rule runs here. f_j = [count_j ≥ m] = 1 −
//! LTZ(count_j − m) (|count_j − m| ≤ N + m, so ⌈log2⌉ + 2 bits), s = Σ_j (1 − f_j) (the number of
//! bins under m, 0 ≤ s ≤ b) and ok = [s = 0] = LTZ(s − 1). Every count is multiplied by ok (Beaver
//! products), and ok is appended as `Check::BinsMinCount`. So the requester learns the counts when
//! every bin holds at least m values and otherwise one bit (refused: not which bin, nor how many);
//! the committee learns nothing (the LTZ openings are masked, the flags stay shared).

use super::bounds::STORED_BITS;
use super::spec::{OutputLayout, OutputShare, Scale, SharedInput};
use super::{MpcError, Party, Transport};
use crate::field::Fp;
use crate::fixed::{FRAC_BITS, NumScale};
use crate::value::Dtype;

/// Comparisons per chunk: bounds the preprocessing held at once and the size of each message
/// (~63 random bits and ~440 double sharings per comparison: 2^12 comparisons ≈ 60 MB per dealing).
const CHUNK: usize = 1 << 12;
/// Most bins of one call.
pub const MAX_BINS: usize = 10_000;

/// Committee side: `lower[j]` = ⌈e_j·2^20⌉ for j < b, `upper` = ⌊e_b·2^20⌋.
pub(crate) async fn run_histogram<T: Transport>(
    party: &mut Party<T>,
    inputs: Vec<SharedInput>,
    lower: &[i64],
    upper: i64,
    min_count: u32,
) -> Result<OutputShare, MpcError> {
    let b = lower.len();
    if b == 0 || b > MAX_BINS {
        return Err(MpcError::Invalid(format!("histogram takes 1 to {MAX_BINS} bins, got {b}")));
    }
    if lower.windows(2).any(|w| w[0] > w[1]) || lower[b - 1] > upper.saturating_add(1) {
        return Err(MpcError::Invalid("histogram: bins must increase monotonically".into()));
    }
    let x: Vec<Fp> = inputs.iter().flat_map(|i| i.share.iter().copied()).collect();
    let n = x.len();
    if n == 0 {
        return Err(MpcError::Invalid("histogram of no values".into()));
    }
    let lim = 1i64 << STORED_BITS;
    let clamp = |v: i64| Fp::from_i128(v.clamp(-lim, lim) as i128);
    let edges: Vec<Fp> = lower.iter().map(|v| clamp(*v)).collect();
    let up = clamp(upper);
    let k = STORED_BITS + 2; // |x − e| < 2^63
    // every (value, edge) difference, value-major: b "less than e_j" tests and one "greater than e_b"
    let total = n * (b + 1);
    let chunks = total.div_ceil(CHUNK);
    party.progress_plan(chunks as u64 + 1 + u64::from(min_count > 0));
    let mut acc = vec![Fp::ZERO; b + 1];
    let mut start = 0;
    while start < total {
        let end = (start + CHUNK).min(total);
        let diffs: Vec<Fp> = (start..end)
            .map(|p| {
                let (i, j) = (p / (b + 1), p % (b + 1));
                if j < b { x[i] - edges[j] } else { up - x[i] }
            })
            .collect();
        party.preprocess(&super::compare::ltz_needs(diffs.len(), k)).await?;
        let bits = party.ltz(&diffs, k).await?;
        for (p, bit) in (start..end).zip(bits) {
            acc[p % (b + 1)] += bit;
        }
        start = end;
        party.step("comparisons");
    }
    let nf = Fp::from_u64(n as u64);
    let scale = Fp::new(1u128 << FRAC_BITS);
    let mut counts: Vec<Fp> = (0..b - 1).map(|j| (acc[j + 1] - acc[j]) * scale).collect();
    counts.push((nf - acc[b - 1] - acc[b]) * scale);
    let layout = OutputLayout::Array { shape: vec![b], dtype: Dtype::Int, scale: Scale::STORAGE };
    if min_count == 0 {
        party.step("done");
        return Ok(OutputShare { layout, checks: vec![], shares: counts });
    }
    // the per-bin rule (module doc): count_j − m on the plain counts (not yet at 2^20)
    let m = Fp::from_u64(u64::from(min_count));
    let mut plain: Vec<Fp> = (0..b - 1).map(|j| acc[j + 1] - acc[j]).collect();
    plain.push(nf - acc[b - 1] - acc[b]);
    let kb = super::bounds::clog2((n as u128 + u128::from(min_count)).max(2)) + 2;
    let under = party.ltz(&plain.iter().map(|c| *c - m).collect::<Vec<_>>(), kb).await?;
    let s: Fp = under.iter().copied().sum();
    let ks = super::bounds::clog2((b as u128 + 1).max(2)) + 2;
    let ok = party.ltz(&[s - Fp::ONE], ks).await?[0];
    let mut shares = party.mul(&counts, &vec![ok; b]).await?;
    shares.push(ok);
    party.step("min_count per bin");
    Ok(OutputShare { layout, checks: vec![super::spec::Check::BinsMinCount], shares })
}

/// numpy's edges for `bins` equal bins over [lo, hi] (np.linspace; lo == hi widens to ±0.5).
pub fn linspace_edges(bins: usize, lo: f64, hi: f64) -> Result<Vec<f64>, String> {
    if !(lo.is_finite() && hi.is_finite()) {
        return Err(format!("histogram range must be finite, got ({lo}, {hi})"));
    }
    if lo > hi {
        return Err("histogram range: max must be larger than min".into());
    }
    if bins == 0 || bins > MAX_BINS {
        return Err(format!("histogram takes 1 to {MAX_BINS} bins, got {bins}"));
    }
    let (lo, hi) = if lo == hi { (lo - 0.5, hi + 0.5) } else { (lo, hi) };
    let step = (hi - lo) / bins as f64;
    let mut e: Vec<f64> = (0..=bins).map(|i| lo + i as f64 * step).collect();
    e[bins] = hi;
    Ok(e)
}

/// The representatives of public edges for values stored at `ns` (numpy semantics on stored
/// values): ⌈e_j·S⌉ for the left edges, ⌊e_b·S⌋ for the closed right end. At a decimal scale an edge
/// with at most d decimals is exact (from its shortest decimal text); others are rounded outward
/// from that text's exact value (bracketing), as at the binary scale.
pub fn edge_reps(edges: &[f64], ns: NumScale) -> Result<(Vec<i64>, i64), String> {
    if edges.len() < 2 {
        return Err("histogram needs at least 2 bin edges".into());
    }
    if edges.iter().any(|e| !e.is_finite()) {
        return Err("histogram bin edges must be finite".into());
    }
    if edges.windows(2).any(|w| w[0] > w[1]) {
        return Err("histogram: bins must increase monotonically".into());
    }
    if edges.len() - 1 > MAX_BINS {
        return Err(format!("histogram takes at most {MAX_BINS} bins"));
    }
    let cap = 1i128 << 62;
    let clamp = |v: i128| v.clamp(-cap, cap) as i64;
    let last = edges[edges.len() - 1];
    match ns {
        NumScale::Binary20 => {
            let s = (1u64 << FRAC_BITS) as f64;
            let capf = cap as f64;
            let rep = |v: f64| v.clamp(-capf, capf) as i64;
            let lower = edges[..edges.len() - 1].iter().map(|e| rep((e * s).ceil())).collect();
            Ok((lower, rep((last * s).floor())))
        }
        NumScale::Decimal(_) => {
            // the rounded representative r of e, and whether e lies above it (then ⌈e·S⌉ = r + 1)
            let bracket = |e: f64, up: bool| -> i64 {
                let big = e.abs() >= ns.max_abs();
                if big {
                    return clamp(if e > 0.0 { cap } else { -cap });
                }
                let r = ns.encode_float(e, false).unwrap_or(0);
                let exact = ns.encode_float(e, true).is_ok();
                if exact {
                    return clamp(r);
                }
                // r is the nearest; the exact text value lies within half a unit of it
                let back = ns.decode_float(r);
                let above = e > back;
                clamp(match (up, above) {
                    (true, true) => r + 1,
                    (false, false) => r - 1,
                    _ => r,
                })
            };
            let lower = edges[..edges.len() - 1].iter().map(|e| bracket(*e, true)).collect();
            Ok((lower, bracket(last, false)))
        }
    }
}
