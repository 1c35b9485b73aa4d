//! numpy.quantile / percentile / median (default `linear` method) of the concatenated keys:
//! shuffle, then selection with revealed comparison outcomes (Hamada et al.'s approach).
//!
//! Owns: numpy's positions of the quantiles ([`positions`]), the compute-grant spacing rule
//! ([`grant_spacing`]), and the committee side ([`run_quantile`]). Must never open a value, a
//! difference of values or a comparison outcome on unshuffled data; the only openings are the
//! shuffle's coins and check, the masks of `ltz` and of the Beaver products, and the comparison
//! outcomes after the shuffle; only the interpolated quantiles are output, to the requester.
//!
//! **Protocol.** x (N values at 2^20, |x| < 2^62) and the tags 0..N−1 are shuffled together by
//! one secret uniform permutation (`shuffle.rs`, checked in active mode); keys u_i = y_i·2^b + s_i
//! (b = ⌈log2 N⌉, s the shuffled tags) are all distinct, and order the values as x does (ties by the
//! secret tag). Multi-quickselect: a segment's pivot is its first element (in shuffled order);
//! every other element of every live segment is compared with its pivot in one batched `ltz` of
//! (64 + b)-bit differences, the outcome bits are opened, and each segment splits into the elements
//! below and above its pivot; a segment lives while it holds a wanted rank. Output of quantile j,
//! with numpy's h = (N − 1)·q = k + f: y_(k)·2^60 + ⌊f·2^60⌉·(y_(k+1) − y_(k)) at scale 2^80 —
//! a public constant times secrets, exact, so y_(k) and y_(k+1) are never output on their own
//! (f = 0: y_(k) exactly; `store=True`: weight 2^20 and one truncation back to the storage scale).
//!
//! **Leakage.** The opened outcome bits are [u_e < u_p] for pairs (e, p) of shuffled positions. The
//! keys are distinct, so they are determined by the rank vector of the shuffled keys, ρ = rank ∘ σ,
//! where σ is the secret uniform permutation of the shuffle: ρ is uniform on S_N and independent of
//! the data (for distinct keys every ordering of the shuffled sequence is equally likely). Which
//! pairs are compared is a function of earlier outcomes and the public wanted ranks. So the whole
//! transcript of outcomes is a function of a uniform permutation alone, simulated without the data
//! (DESIGN §3 (a)). Ties in x do not break this: the tag is secret and shuffled with the value (a tie
//! broken by the public shuffled position would show, e.g., that all values are equal). Everything
//! else opened is masked (`ltz`: 2^-κ statistically; Beaver: uniformly; coins: fresh).
//!
//! Cost: about 2N (one rank) to 3.4N (N/2 ranks apart) comparisons for the first quantile, fewer
//! for each further one, in O(log N) batched rounds (each split in chunks of 2^12 comparisons).

use super::bounds::{STORED_BITS, clog2};
use super::spec::{OutputLayout, OutputShare, Scale, SharedInput};
use super::{MpcError, OpenKind, Party, Transport};
use crate::field::Fp;
use crate::fixed::FRAC_BITS;
use crate::value::Dtype;
use std::collections::BTreeMap;

/// Fractional bits of the public interpolation weight of a revealed result (|y·2^60| < 2^122: the
/// output stays below p/2 and decodes exactly, the weight's rounding error is 2^-61 of a gap).
const WEIGHT_BITS: u32 = 60;
/// The same for `store=True`, whose one truncation back to 2^20 needs the value below 2^83
/// (83 + 2 + κ + log2(t + 1) < 127): 2^-21 of a gap, under the storage scale's own 2^-20.
const STORED_WEIGHT_BITS: u32 = 20;
/// Comparisons per chunk (bounds the preprocessing held at once, as in `histogram.rs`).
const CHUNK: usize = 1 << 12;
/// Most values of one call (the tag must leave room in the comparison: 64 + 17 bits).
pub const MAX_VALUES: usize = 1 << 17;
/// Most quantiles of one call.
pub const MAX_QUANTILES: usize = 10_000;

/// numpy's linear-method position of each quantile q ∈ [0, 1] over n sorted values: (k, f) with
/// result x_(k) + f·(x_(k+1) − x_(k)), f ∈ [0, 1) (f = 0 at the ends and on exact ranks).
pub fn positions(n: usize, q: &[f64]) -> Result<Vec<(usize, f64)>, String> {
    if n == 0 {
        return Err("quantile of an empty array".into());
    }
    if q.is_empty() {
        return Err("quantile: q is empty".into());
    }
    if q.len() > MAX_QUANTILES {
        return Err(format!("quantile takes at most {MAX_QUANTILES} values of q, got {}", q.len()));
    }
    q.iter()
        .map(|&q| {
            if !(0.0..=1.0).contains(&q) {
                return Err(format!("Quantiles must be in the range [0, 1], got {q}"));
            }
            // numpy's _compute_virtual_index, n·q + (α + q·(1 − α − β)) − 1 with α = β = 1,
            // in the same float operations: n·q + (1 − q) − 1
            let h = n as f64 * q + (1.0 - q) - 1.0;
            if h >= (n - 1) as f64 {
                return Ok((n - 1, 0.0));
            }
            if h <= 0.0 {
                return Ok((0, 0.0));
            }
            let k = h.floor();
            Ok((k as usize, h - k))
        })
        .collect()
}

/// Under a compute grant, the fewest values any quantile of a list stands for: the distance of the
/// lowest one's rank from the bottom (rank + 1), of the highest one's top rank from the top, and
/// between consecutive quantiles (from the top rank one uses to the lowest the next uses). A list
/// of one distinct quantile: `usize::MAX` (the rule is then N ≥ min_count alone).
pub fn grant_spacing(n: usize, q: &[f64]) -> Result<usize, String> {
    let mut pos = positions(n, q)?;
    pos.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    pos.dedup();
    if pos.len() <= 1 {
        return Ok(usize::MAX);
    }
    // (lowest, highest) rank each quantile uses, in increasing order
    let spans: Vec<(usize, usize)> = pos.iter().map(|&(k, f)| (k, k + usize::from(f > 0.0))).collect();
    let mut least = (spans[0].0 + 1).min(n - spans[spans.len() - 1].1);
    for w in spans.windows(2) {
        least = least.min(w[1].0.saturating_sub(w[0].1));
    }
    Ok(least)
}

/// The output scale of a revealed quantile: the inputs' storage scale times 2^60 (the
/// interpolation weight).
fn revealed_scale(ns: crate::fixed::NumScale) -> Scale {
    Scale::bin((FRAC_BITS + WEIGHT_BITS) as i32, 1.0).for_inputs(ns, 1)
}

/// Committee side: the quantiles `q` (each in [0, 1]) of the concatenated inputs; `scalar` gives a
/// 0-d output (one q); `store` the storage scale.
pub(crate) async fn run_quantile<T: Transport>(
    party: &mut Party<T>,
    inputs: Vec<SharedInput>,
    q: &[f64],
    scalar: bool,
    store: bool,
) -> Result<OutputShare, MpcError> {
    let ns = super::spec::common_scale(&inputs)?;
    let x: Vec<Fp> = inputs.iter().flat_map(|i| i.share.iter().copied()).collect();
    let n = x.len();
    if n > MAX_VALUES {
        return Err(MpcError::Invalid(format!("quantile of at most {MAX_VALUES} values, got {n}")));
    }
    if scalar && q.len() != 1 {
        return Err(MpcError::Shape("a scalar quantile takes one q".into()));
    }
    let pos = positions(n, q).map_err(MpcError::Invalid)?;
    let mut wanted: Vec<usize> =
        pos.iter().flat_map(|&(k, f)| if f > 0.0 { vec![k, k + 1] } else { vec![k] }).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let b = clog2(n as u128).max(1);
    let kbits = STORED_BITS + 2 + b;
    super::compare::ltz_check(kbits, party.t)?;
    // shuffle rounds, the check, ~3N/CHUNK comparison chunks, the output
    let groups = super::shuffle::subsets(party.n, party.t + 1).len() as u64;
    party.progress_plan(groups + 2 + (3 * n).div_ceil(CHUNK) as u64 + 2 * u64::from(b) + 1);
    let active = party.active();
    party.preprocess(&super::shuffle::shuffle_needs(n, party.n, party.t, active)).await?;
    let tags: Vec<Fp> = (0..n).map(|i| Fp::from_u64(i as u64)).collect();
    let shuffled = party.shuffle(&[x, tags]).await?;
    party.step("shuffle");
    let (y, s) = (&shuffled[0], &shuffled[1]);
    let two_b = Fp::new(1u128 << b);
    let keys: Vec<Fp> = y.iter().zip(s).map(|(y, s)| *y * two_b + *s).collect();
    let at = select(party, &keys, &wanted, kbits).await?;
    let mut out = Vec::with_capacity(pos.len());
    let mut ms = Vec::with_capacity(pos.len());
    let wbits = if store { STORED_WEIGHT_BITS } else { WEIGHT_BITS };
    let lift = Fp::new(1u128 << wbits);
    for &(k, f) in &pos {
        let lo = y[at[&k]];
        if f > 0.0 {
            let hi = y[at[&(k + 1)]];
            let w = (f * (1u64 << wbits) as f64).round() as u64;
            out.push(lo * lift + Fp::from_u64(w) * (hi - lo));
            ms.push(wbits);
        } else if store {
            out.push(lo);
            ms.push(0);
        } else {
            out.push(lo * lift);
            ms.push(0);
        }
    }
    let scale = if store {
        // |y·2^20 + w·(hi − lo)| < 2^(62 + 21)
        out = party.trunc_each(&out, &ms, STORED_BITS + STORED_WEIGHT_BITS + 1).await?;
        Scale::storage(ns)
    } else {
        revealed_scale(ns)
    };
    party.step("done");
    Ok(OutputShare {
        layout: OutputLayout::Array {
            shape: if scalar { vec![] } else { vec![pos.len()] },
            dtype: Dtype::Float,
            scale,
        },
        checks: vec![],
        shares: out,
    })
}

/// One live segment of the multi-quickselect: shuffled positions in order, the rank of its lowest
/// element, and the wanted ranks inside it.
struct Segment {
    idx: Vec<usize>,
    base: usize,
    wanted: Vec<usize>,
}

/// The shuffled position holding each wanted rank of the (distinct) keys. Opens the comparison
/// outcomes only (module doc: a function of the shuffle's uniform permutation).
async fn select<T: Transport>(
    party: &mut Party<T>,
    keys: &[Fp],
    wanted: &[usize],
    kbits: u32,
) -> Result<BTreeMap<usize, usize>, MpcError> {
    let mut found = BTreeMap::new();
    let mut live = vec![Segment { idx: (0..keys.len()).collect(), base: 0, wanted: wanted.to_vec() }];
    while !live.is_empty() {
        let mut next = Vec::new();
        let mut splitting = Vec::new();
        for seg in live {
            if seg.idx.len() == 1 {
                found.insert(seg.base, seg.idx[0]);
            } else {
                splitting.push(seg);
            }
        }
        // every non-pivot element of every splitting segment against its pivot: [u_e − u_p < 0]
        let pairs: Vec<(usize, usize)> =
            splitting.iter().flat_map(|s| s.idx[1..].iter().map(move |&e| (e, s.idx[0]))).collect();
        let mut outcome = Vec::with_capacity(pairs.len());
        for chunk in pairs.chunks(CHUNK) {
            let diffs: Vec<Fp> = chunk.iter().map(|&(e, p)| keys[e] - keys[p]).collect();
            party.preprocess(&super::compare::ltz_needs(diffs.len(), kbits)).await?;
            let bits = party.ltz(&diffs, kbits).await?;
            // Revealed by design: comparison outcomes of distinct keys after the secret shuffle.
            let open = party.open_as(&bits, OpenKind::Outcome, "order").await?;
            for v in open {
                outcome.push(match v {
                    v if v == Fp::ONE => true,
                    v if v == Fp::ZERO => false,
                    _ => return Err(MpcError::Integrity("an opened comparison outcome is not a bit".into())),
                });
            }
            party.step("selection");
        }
        let mut o = outcome.into_iter();
        for seg in splitting {
            let pivot = seg.idx[0];
            let (mut below, mut above) = (Vec::new(), Vec::new());
            for &e in &seg.idx[1..] {
                if o.next().unwrap_or(false) { below.push(e) } else { above.push(e) }
            }
            let rank = seg.base + below.len();
            let (mut wl, mut wa) = (Vec::new(), Vec::new());
            for &r in &seg.wanted {
                match r.cmp(&rank) {
                    std::cmp::Ordering::Equal => {
                        found.insert(r, pivot);
                    }
                    std::cmp::Ordering::Less => wl.push(r),
                    std::cmp::Ordering::Greater => wa.push(r),
                }
            }
            if !wl.is_empty() {
                next.push(Segment { idx: below, base: seg.base, wanted: wl });
            }
            if !wa.is_empty() {
                next.push(Segment { idx: above, base: rank + 1, wanted: wa });
            }
        }
        live = next;
    }
    if wanted.iter().any(|r| !found.contains_key(r)) {
        return Err(MpcError::Inconsistent("selection ended without a wanted rank".into()));
    }
    Ok(found)
}
