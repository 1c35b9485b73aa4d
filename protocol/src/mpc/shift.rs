//! Scaling secret values by a secret power of two: y ≈ x·2^e where the exponent e is itself secret,
//! known to the committee only as shares of a one-hot vector over a public list of candidates.
//!
//! Owns: `scale_pow2_secret`, which puts outputs with a secret exponent (std, inv, …) at the storage
//! scale for `store=True` without ever opening the exponent or the value. Must never open x, y or e:
//! the only openings are the truncation masks of `trunc.rs` and one degree reduction per output.
//!
//! Protocol, per element x (|x| < 2^bound statically, whatever the secret data): for every
//! candidate e_j, T_j = x·2^(e_j) exactly (a public multiple) when e_j ≥ 0, and
//! T_j = trunc(x − ⌊t·2^(m−1)⌋, m) with m = −e_j when e_j < 0 (all truncations of all elements in one
//! opening, each statistically masked by its own truncation pair, 2^-κ). Candidates with m > bound
//! give ⌊x·2^(e_j)⌋ ∈ {−1, 0} and are taken as 0. Then y = Σ_j h_j·T_j: a sum of degree-2t
//! products, reduced once (one uniformly masked opened element per output). Since exactly one h_j
//! is 1 (or none, which gives 0), y = T_j for the secret j.
//!
//! Error: exact for e ≥ 0; within t/2 + 1 units for e < 0 (the truncation error, centred), plus at
//! most 1 unit for the candidates taken as 0. Range: every T_j must stay inside the field for every
//! candidate, not only the secret one: |x|·2^(max e) < 2^126 is checked.

use super::bounds::clog2;
use super::prep::Needs;
use super::{MpcError, Party, Transport};
use crate::field::Fp;

/// The truncation exponent of candidate `e`, or None when no truncation runs.
fn trunc_of(e: i32, bound: u32) -> Option<u32> {
    if e >= 0 || e.unsigned_abs() > bound { None } else { Some(e.unsigned_abs()) }
}

/// Static bound of every truncated value: |x − ⌊t·2^(m−1)⌋| < 2^bound + t·2^(bound−1) for m ≤ bound.
fn trunc_bound(bound: u32, t: usize) -> u32 {
    clog2((1u128 << bound) + ((t as u128) << (bound - 1)) + 1)
}

fn check(bound: u32, exps: &[i32]) -> Result<(), MpcError> {
    let emax = exps.iter().copied().max().unwrap_or(0).max(0);
    if bound == 0 || bound > 120 || bound as i64 + emax as i64 >= 126 {
        return Err(MpcError::OutOfRange(format!(
            "scaling a {bound}-bit value by up to 2^{emax} does not fit the field"
        )));
    }
    Ok(())
}

/// Preprocessing of [`Party::scale_pow2_secret`] for `count` elements.
pub(crate) fn scale_pow2_needs(count: usize, bound: u32, exps: &[i32], t: usize) -> Result<Needs, MpcError> {
    check(bound, exps)?;
    let mut needs = Needs { doubles: count, ..Default::default() };
    for m in exps.iter().filter_map(|&e| trunc_of(e, bound)) {
        let (spec, _) = super::trunc::plan(1u128 << m, trunc_bound(bound, t), t)?;
        needs.pair(spec, count);
    }
    Ok(needs)
}

impl<T: Transport> Party<T> {
    /// For each x_i (|x_i| < 2^bound): ⌊x_i·2^e⌋ (within t/2 + 1 units) where e = exps[j] for the
    /// secret j with onehot[j] = 1 (0 when the one-hot is all zero). Two rounds.
    pub async fn scale_pow2_secret(
        &mut self,
        x: &[Fp],
        bound: u32,
        onehot: &[Fp],
        exps: &[i32],
    ) -> Result<Vec<Fp>, MpcError> {
        let onehots = vec![onehot; x.len()];
        self.scale_pow2_secret_each(x, bound, &onehots, exps).await
    }

    /// [`Party::scale_pow2_secret`] with a one-hot of its own per element (`onehots[i]` for
    /// `x[i]`, over the same candidates `exps`): every element in the same two rounds.
    pub async fn scale_pow2_secret_each(
        &mut self,
        x: &[Fp],
        bound: u32,
        onehots: &[&[Fp]],
        exps: &[i32],
    ) -> Result<Vec<Fp>, MpcError> {
        if onehots.len() != x.len() {
            return Err(MpcError::Shape(format!("{} one-hots for {} values", onehots.len(), x.len())));
        }
        if let Some(h) = onehots.iter().find(|h| h.len() != exps.len()) {
            return Err(MpcError::Shape(format!("{} one-hot entries for {} exponents", h.len(), exps.len())));
        }
        check(bound, exps)?;
        // every truncation of every element, in one opening
        let mut groups: Vec<u32> = exps.iter().filter_map(|&e| trunc_of(e, bound)).collect();
        groups.sort_unstable();
        groups.dedup();
        let mut vals = Vec::with_capacity(groups.len() * x.len());
        let mut ms = Vec::with_capacity(groups.len() * x.len());
        for &m in &groups {
            let c = Fp::new((self.t as u128) << (m - 1));
            vals.extend(x.iter().map(|v| *v - c));
            ms.extend(std::iter::repeat_n(m, x.len()));
        }
        let tr = self.trunc_each(&vals, &ms, trunc_bound(bound, self.t)).await?;
        let mut local = Vec::with_capacity(x.len());
        for (i, (xi, onehot)) in x.iter().zip(onehots).enumerate() {
            let mut acc: Vec<(Fp, Fp)> = Vec::with_capacity(onehot.len());
            for (h, &e) in onehot.iter().zip(exps) {
                let term = if e >= 0 {
                    *xi * Fp::new(1u128 << e)
                } else {
                    match groups.iter().position(|m| *m == e.unsigned_abs()) {
                        Some(g) => tr[g * x.len() + i],
                        None => continue, // below the value's resolution: 0
                    }
                };
                acc.push((*h, term)); // one product term, summed below
            }
            local.push(acc);
        }
        self.sum_products(&local).await
    }
}
