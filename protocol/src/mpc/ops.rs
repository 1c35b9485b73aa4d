//! The op dispatcher (committee side) and the decoding of outputs (requester side).
//!
//! Owns: input validation, the preprocessing plan of each op (sized from public shapes; the per-op
//! storage tails of mean / var / std are chosen here and sized in `stats.rs`), the choice of an
//! op's output layout, and `reveal`, which reconstructs and decodes output shares for the requester.
//! The types themselves (`Op`, `OutputLayout`, `OutputShare` …) live in the leaf `spec.rs` and are
//! re-exported here, so `mpc::ops::OutputLayout` still resolves. Must never reveal anything itself:
//! `run` returns this party's output shares, which only the requester combines; `reveal` runs at the
//! requester. The top of the op files: nothing but `mod.rs`, `bench.rs` and the tests imports it.

pub use super::spec::*;

use super::bounds::{STORED_BITS, clog2};
use super::prep::Needs;
use super::{MpcError, Party, Transport};
use crate::field::Fp;
use crate::fixed::{self, FRAC_BITS, NumScale};
use crate::shamir;
use crate::value::{ArrayData, Dtype, ValueMeta};
use std::time::Instant;

fn check_inputs(inputs: &[SharedInput]) -> Result<(), MpcError> {
    if inputs.is_empty() {
        return Err(MpcError::Invalid("no input keys".into()));
    }
    for (i, inp) in inputs.iter().enumerate() {
        if !inp.meta.is_numeric() {
            return Err(MpcError::NotNumeric(format!(
                "input {i} is a {}, not a number or numeric array",
                inp.meta.kind_name()
            )));
        }
        let want =
            inp.meta.element_count().ok_or_else(|| MpcError::Invalid(format!("input {i}: element count overflows")))?;
        if want != inp.share.len() {
            return Err(MpcError::Invalid(format!(
                "input {i}: metadata says {want} elements, share has {}",
                inp.share.len()
            )));
        }
    }
    Ok(())
}

fn flatten(inputs: &[SharedInput]) -> Vec<Fp> {
    inputs.iter().flat_map(|i| i.share.iter().copied()).collect()
}

fn shape_of(m: &ValueMeta) -> Vec<usize> {
    m.shape().unwrap_or_default()
}

/// Runs `op` on this party's input shares; returns this party's output shares (to be revealed to
/// the requester with [`reveal`]).
pub async fn run<T: Transport>(
    party: &mut Party<T>,
    op: &Op,
    inputs: Vec<SharedInput>,
) -> Result<OutputShare, MpcError> {
    run_timed(party, op, inputs, false).await
}

/// Runs `op` for `store=True`: the output stays secret and comes out at the storage scale 2^20 as
/// an array layout (0-d for mean/var/std, [d, d] for inv, [slope, intercept, r] for linregress), so
/// [`OutputShare::into_stored`] turns it into a stored value. The rescaling runs inside the MPC
/// (`div.rs`, `shift.rs`, exact shifts from bits for linregress): nothing more is opened than
/// masked values. The check flags are still appended and must be revealed to the requester.
/// max/min over scalar keys (whose result is an input key) is refused.
pub async fn run_stored<T: Transport>(
    party: &mut Party<T>,
    op: &Op,
    inputs: Vec<SharedInput>,
) -> Result<OutputShare, MpcError> {
    if matches!(op, Op::Max | Op::Min) && inputs.iter().all(|i| shape_of(&i.meta).is_empty()) {
        return Err(MpcError::Unsupported(format!(
            "{op:?} of scalar keys returns one of the input keys; store=True does not apply"
        )));
    }
    run_timed(party, op, inputs, true).await
}

async fn run_timed<T: Transport>(
    party: &mut Party<T>,
    op: &Op,
    inputs: Vec<SharedInput>,
    store: bool,
) -> Result<OutputShare, MpcError> {
    party.check_member()?;
    check_inputs(&inputs)?;
    // keys at different decimal scales meet at the finest one; a revealed dot product needs no
    // rescaling (a at 10^-da times b at 10^-db is exact at 10^-(da + db)), only the binary mix's
    // refusal. A stored one is rescaled, so that its products are divided by the finer scale's
    // 10^D, as at one scale (docs/decisions.md)
    let rescale = super::rescale::plan(&inputs)?.filter(|_| store || !matches!(op, Op::Dot));
    let start = Instant::now();
    let prep0 = party.counters.prep_time;
    let shares: Vec<&[Fp]> = inputs.iter().map(|i| i.share.as_slice()).collect();
    let checked = party.check_direct_inputs(&shares).await;
    let r = match (checked, rescale) {
        (Ok(()), None) => run_inner(party, op, inputs, store).await,
        (Ok(()), Some(plan)) => run_rescaled(party, op, inputs, store, &plan).await,
        (Err(e), _) => Err(e),
    };
    let prep = party.counters.prep_time - prep0;
    party.counters.online_time += start.elapsed().saturating_sub(prep);
    #[cfg(any(test, feature = "cheat"))]
    let r = r.map(|mut out| {
        if party.cheat == Some(super::verify::Cheat::Output) {
            out.shares = super::verify::nudge(&out.shares);
        }
        out
    });
    r
}

/// `op` on inputs at several decimal scales: rescaled to the finest one inside the MPC
/// (`rescale.rs`), then run as on one scale. The rescaling's range flag becomes the first check of
/// the output (its share right after the values), so a value that does not fit the finer scale is
/// the requester's clear error before any other check; the op computed on zeros then.
async fn run_rescaled<T: Transport>(
    party: &mut Party<T>,
    op: &Op,
    inputs: Vec<SharedInput>,
    store: bool,
    plan: &super::rescale::Rescale,
) -> Result<OutputShare, MpcError> {
    party.preprocess(&super::rescale::needs(&inputs, plan)).await?;
    let (inputs, flag) = party.rescale_inputs(inputs, plan).await?;
    let mut out = run_inner(party, op, inputs, store).await?;
    let nv = out.layout.values().min(out.shares.len());
    out.shares.insert(nv, flag);
    out.checks.insert(0, Check::Rescaled { decimals: plan.decimals() });
    Ok(out)
}

/// A 0-d Float output at the storage scale `ns` (stored mean / var / std).
fn stored_scalar(shares: Vec<Fp>, checks: Vec<Check>, ns: fixed::NumScale) -> OutputShare {
    OutputShare {
        layout: OutputLayout::Array { shape: vec![], dtype: Dtype::Float, scale: Scale::storage(ns) },
        checks,
        shares,
    }
}

async fn run_inner<T: Transport>(
    party: &mut Party<T>,
    op: &Op,
    inputs: Vec<SharedInput>,
    store: bool,
) -> Result<OutputShare, MpcError> {
    let t = party.t;
    let all_int = inputs.iter().all(|i| i.meta.is_integer());
    // every output below is decoded at the inputs' one scale (`Scale::for_inputs`); a dot product's
    // two keys may be at two decimal scales (`Op::Dot` below)
    let ns = if matches!(op, Op::Dot) { inputs[0].scale } else { common_scale(&inputs)? };
    match op {
        Op::Mean | Op::Var | Op::Std => {
            let x = flatten(&inputs);
            if x.is_empty() {
                return Err(MpcError::Invalid(format!("{op:?} of no values")));
            }
            let n = x.len();
            party.progress_plan(match (op, store) {
                (Op::Mean, _) => 2,
                (_, false) => 4,
                (_, true) => 5,
            });
            let mut needs = plan_stats(op, n, t, store)?;
            if store {
                needs.add(&match op {
                    Op::Mean => super::stats::mean_tail_needs(n, t)?,
                    Op::Std => super::stats::std_tail_needs(n, t)?,
                    _ => super::stats::var_tail_needs(n, t, ns)?,
                });
            }
            party.preprocess(&needs).await?;
            party.step("preprocessing");
            if store {
                let out = if *op == Op::Mean {
                    stored_scalar(vec![party.mean_stored_impl(&x).await?], vec![], ns)
                } else {
                    // var·S is at the storage scale S; std·S = √W/N and the mean are so directly
                    stored_scalar(party.var_stored_impl(&x, *op == Op::Std, ns).await?, vec![Check::Range], ns)
                };
                party.step("done");
                return Ok(out);
            }
            if *op == Op::Mean {
                let (v, f) = party.mean_impl(&x).await?;
                return Ok(OutputShare {
                    layout: OutputLayout::Scalars(vec![Scale::bin((FRAC_BITS + f) as i32, 1.0).for_inputs(ns, 1)]),
                    checks: vec![],
                    shares: vec![v],
                });
            }
            // the exact W = N²·var·S² is revealed (a bijection of var, and of std ≥ 0 given the
            // public N), and divided — or its root taken — at the requester in float64
            let out = party.var_impl(&x).await?;
            let nn = (n as f64) * (n as f64);
            let scale = Scale::bin(2 * FRAC_BITS as i32, nn).for_inputs(ns, 2);
            let layout = if *op == Op::Std { OutputLayout::Root(scale) } else { OutputLayout::Scalars(vec![scale]) };
            party.step("done");
            Ok(OutputShare { layout, checks: vec![Check::Range], shares: out })
        }
        Op::Max | Op::Min => {
            let scalars = inputs.iter().all(|i| shape_of(&i.meta).is_empty());
            let x = flatten(&inputs);
            if x.is_empty() {
                return Err(MpcError::Invalid(format!("{op:?} of no values")));
            }
            let rounds = usize::BITS - (x.len() - 1).leading_zeros();
            party.progress_plan(rounds as u64 + 1);
            // a large tournament makes its preprocessing window by window (`stats::tournament_windowed`)
            if !super::stats::maxmin_windowed(x.len()) {
                party.preprocess(&super::compare::tournament_needs(x.len(), STORED_BITS + 1)).await?;
            }
            party.step("preprocessing");
            let (v, i) = party.maxmin_impl(&x, *op == Op::Max).await?;
            if scalars {
                Ok(OutputShare {
                    layout: OutputLayout::KeyIndex { keys: inputs.len() },
                    checks: vec![],
                    shares: vec![i],
                })
            } else {
                Ok(OutputShare {
                    layout: OutputLayout::Array {
                        shape: vec![],
                        dtype: if all_int { Dtype::Int } else { Dtype::Float },
                        scale: Scale::storage(ns),
                    },
                    checks: vec![],
                    shares: vec![v],
                })
            }
        }
        Op::Dot => {
            if inputs.len() != 2 {
                return Err(MpcError::Invalid(format!("dot takes 2 keys, got {}", inputs.len())));
            }
            let (ash, bsh) = (shape_of(&inputs[0].meta), shape_of(&inputs[1].meta));
            let (oshape, _) = super::linalg::dot_shape(&ash, &bsh)?;
            // a at 10^-da times b at 10^-db is exact at 10^-(da + db) = 10^-(D + m), D = max, m = min:
            // decimal floats, revealed: the exact Σ a·b there (no rescaling, no range test); revealed
            // integers (exact multiples of 10^(D + m)): divided by 10^m to the finer scale D, exactly;
            // stored (rescaled to one scale by `run_timed`), or the binary scale: divided by S to S
            // (within t/2 + 1 units for floats)
            let (div, out_ns, exact_scale) = match (inputs[0].scale, inputs[1].scale) {
                (NumScale::Decimal(a), NumScale::Decimal(b)) => (
                    NumScale::Decimal(a.min(b)),
                    NumScale::Decimal(a.max(b)),
                    Scale { frac_bits: 0, divisor: 1.0, decimals: a as i32 + b as i32 },
                ),
                // one scale (a binary key next to a decimal one was refused by `rescale::plan`)
                _ => (ns, ns, Scale::bin(2 * FRAC_BITS as i32, 1.0).for_inputs(ns, 2)),
            };
            let exact = !store && !all_int && out_ns.decimals().is_some();
            // a stored result must fit the storage range, which the certificate alone does not
            // ensure for integers or below 6 decimals (`linalg::stored_dot_range_tested`)
            let range_test = store && super::linalg::stored_dot_range_tested(all_int, div);
            party.progress_plan(if range_test { 5 } else { 4 });
            let mut needs = plan_dot(&ash, &bsh, all_int || exact, t, div, !exact)?;
            if range_test {
                needs.add(&super::linalg::fits_storage_needs(oshape.iter().product()));
            }
            party.preprocess(&needs).await?;
            party.step("preprocessing");
            let (out, flag) =
                party.dot_impl(&inputs[0].share, &ash, &inputs[1].share, &bsh, all_int, div, exact, range_test).await?;
            let mut shares = out;
            shares.push(flag);
            party.step("done");
            Ok(OutputShare {
                layout: OutputLayout::Array {
                    shape: oshape,
                    dtype: if all_int { Dtype::Int } else { Dtype::Float },
                    scale: if exact { exact_scale } else { Scale::storage(out_ns) },
                },
                checks: vec![Check::Range],
                shares,
            })
        }
        Op::Linregress => super::linreg::run_linregress(party, inputs, store).await,
        Op::Inv => super::linalg::run_inv(party, inputs, store).await,
        Op::Cov { rowvar, ddof } => super::multivar::run_cov(party, inputs, Some(*ddof), *rowvar, store).await,
        Op::Corrcoef { rowvar } => super::multivar::run_cov(party, inputs, None, *rowvar, store).await,
        Op::Lstsq { intercept } => super::multivar::run_lstsq(party, inputs, *intercept, false, store).await,
        Op::LstsqStats { intercept } => super::multivar::run_lstsq(party, inputs, *intercept, true, store).await,
        Op::Ttest1samp { popmean } => {
            // popmean at the key's own scale, exactly for a decimal popmean at a decimal scale
            let mu = f64::from_bits(*popmean);
            let rep = ns
                .encode_float(mu, false)
                .ok()
                .and_then(|r| i64::try_from(r).ok())
                .ok_or_else(|| MpcError::OutOfRange(format!("popmean {mu} is out of range for fixed-point")))?;
            super::ttest::run_ttest(party, inputs, Some(rep), false, store).await
        }
        Op::TtestRel => super::ttest::run_ttest(party, inputs, None, true, store).await,
        Op::TtestInd => super::ttest::run_ttest(party, inputs, None, false, store).await,
        Op::TtestWelch => super::ttest::run_welch(party, inputs, store).await,
        Op::Histogram { edges, min_count } => {
            let edges: Vec<f64> = edges.iter().map(|b| f64::from_bits(*b)).collect();
            let (lower, upper) = super::histogram::edge_reps(&edges, ns).map_err(MpcError::Invalid)?;
            super::histogram::run_histogram(party, inputs, &lower, upper, *min_count).await
        }
        Op::Quantile { q, scalar } => {
            super::quantile::run_quantile(party, inputs, &Op::quantiles(q), *scalar, store).await
        }
    }
}

/// Preprocessing for mean / var / std of n values (the decomposition of W and the root only with
/// `store`: a revealed var or std reveals W itself).
fn plan_stats(op: &Op, n: usize, t: usize, store: bool) -> Result<Needs, MpcError> {
    let mut needs = super::bits::decompose_needs(1);
    if *op == Op::Mean {
        return Ok(needs);
    }
    let l = (125 - clog2(n as u128)) / 2;
    let (s, k) = super::stats::cert_plan(n, STORED_BITS + 2, l, t)?;
    let (spec, _) = super::trunc::plan(1u128 << s, STORED_BITS + 2, t)?;
    needs.pair(spec, n);
    needs.doubles += 2;
    needs.add(&super::compare::ltz_needs(1, k));
    needs.triples += 1;
    if !store {
        return Ok(needs);
    }
    needs.add(&super::bits::decompose_needs(1));
    if *op == Op::Std {
        needs.add(&super::bits::suffix_or_needs(1, super::bits::FIELD_BITS));
        needs.doubles += 1;
        needs.triples += 18;
        super::sqrt::sqrt_mantissa_pairs(&mut needs, 1, t)?;
    }
    Ok(needs)
}

/// Preprocessing for a dot product.
fn plan_dot(
    a: &[usize],
    b: &[usize],
    ints: bool,
    t: usize,
    ns: fixed::NumScale,
    rescale: bool,
) -> Result<Needs, MpcError> {
    let (oshape, k) = super::linalg::dot_shape(a, b)?;
    let na: usize = a.iter().product();
    let nb: usize = b.iter().product();
    let nout: usize = oshape.iter().product();
    let mut needs = Needs::default();
    let groups = if a.is_empty() || b.is_empty() {
        needs.triples += na.max(nb);
        2
    } else {
        needs.doubles += nout;
        na / k.max(1) + nb / k.max(1)
    };
    let l = if ints { 62 } else { 40 };
    let maxlen = if a.is_empty() || b.is_empty() { na.max(nb) } else { k };
    if maxlen > 0 {
        let (s, kb) = super::stats::cert_plan(maxlen, STORED_BITS + 1, l, t)?;
        let (spec, _) = super::trunc::plan(1u128 << s, STORED_BITS + 1, t)?;
        needs.pair(spec, na + nb);
        needs.doubles += groups;
        needs.add(&super::compare::ltz_needs(groups, kb));
        needs.triples += groups;
    }
    needs.triples += nout;
    if rescale && !ints && ns.factor() > 1 {
        let (spec, _) = super::trunc::plan(ns.factor(), 2 * l + 1, t)?;
        needs.pair(spec, nout);
    }
    Ok(needs)
}

/// Requester side: reconstructs and decodes an op's output from at least t + 1 parties' shares
/// (`(party index, share)`); extra shares are checked for consistency.
pub fn reveal(
    op: &Op,
    inputs_meta: &[ValueMeta],
    shares: &[(usize, OutputShare)],
    t: usize,
    security: super::Security,
) -> Result<OpResult, MpcError> {
    let need = match security {
        super::Security::SemiHonest => t + 1,
        // ≥ 2t + 1 consistent shares: the ≥ t + 1 honest ones among them fix the polynomial
        super::Security::Active => 2 * t + 1,
    };
    if shares.len() < need {
        return Err(MpcError::Inconsistent(format!("need {need} output shares, got {}", shares.len())));
    }
    reveal_shares(op, inputs_meta, shares, t).map_err(|e| match (security, e) {
        (super::Security::Active, MpcError::Inconsistent(why)) => {
            MpcError::Integrity(format!("the output shares do not agree ({why})"))
        }
        (_, e) => e,
    })
}

fn reveal_shares(
    op: &Op,
    inputs_meta: &[ValueMeta],
    shares: &[(usize, OutputShare)],
    t: usize,
) -> Result<OpResult, MpcError> {
    let first = &shares[0].1;
    for (_, s) in shares {
        if s.layout != first.layout || s.checks != first.checks || s.shares.len() != first.shares.len() {
            return Err(MpcError::Inconsistent("parties disagree on the output layout".into()));
        }
    }
    if first.shares.len() != first.layout.values() + first.checks.len() {
        return Err(MpcError::Inconsistent("wrong number of output shares".into()));
    }
    let xs: Vec<Fp> = shares[..t + 1].iter().map(|(i, _)| shamir::x_of(*i)).collect();
    let pts: Vec<(Fp, &[Fp])> = shares[..t + 1].iter().map(|(i, s)| (shamir::x_of(*i), s.shares.as_slice())).collect();
    let vals = shamir::reconstruct(&pts, t).map_err(|e| MpcError::Inconsistent(e.to_string()))?;
    for (i, s) in &shares[t + 1..] {
        let lam = shamir::lagrange_at(&xs, shamir::x_of(*i)).map_err(|e| MpcError::Inconsistent(e.to_string()))?;
        for (k, v) in s.shares.iter().enumerate() {
            let expect: Fp = pts.iter().zip(&lam).map(|((_, p), l)| p[k] * *l).sum();
            if expect != *v {
                return Err(MpcError::Inconsistent(format!("share of party {i} does not match the others")));
            }
        }
    }
    let nv = first.layout.values();
    for (c, f) in first.checks.iter().zip(&vals[nv..]) {
        if *f == Fp::ONE {
            continue;
        }
        if *f != Fp::ZERO {
            return Err(MpcError::Inconsistent("check flag is not a bit".into()));
        }
        return Err(match c {
            Check::Range => MpcError::OutOfRange(format!("the {op:?} of this data does not fit the fixed-point range")),
            Check::Invertible => MpcError::Singular("matrix is singular or too ill-conditioned to invert".into()),
            Check::XVaries => {
                MpcError::Invalid("cannot calculate a linear regression if all x values are identical".into())
            }
            Check::BinsMinCount => {
                let m = match op {
                    Op::Histogram { min_count, .. } => *min_count,
                    _ => 0,
                };
                MpcError::Denied(format!(
                    "a compute grant covers histogram bins of at least {m} values each, and a bin of this \
                     histogram holds fewer (which bin is not revealed)"
                ))
            }
            Check::Rescaled { decimals } => {
                let ns = NumScale::Decimal(*decimals);
                MpcError::OutOfRange(format!(
                    "{}: the keys are stored at different decimal scales and are rescaled to the finest, {}, \
                     where |x| must be below {:e}; a value of a key with fewer decimals is beyond that (store \
                     the keys at one scale that holds them all, e.g. the finer key with fewer decimals)",
                    op.name(),
                    ns.describe(),
                    ns.max_abs()
                ))
            }
            Check::Varies => MpcError::Invalid(format!(
                "{}: a variable is constant (all its values are identical), so the result is undefined",
                op.name()
            )),
        });
    }
    let vals = &vals[..nv];
    match &first.layout {
        OutputLayout::Scalars(scales) => {
            Ok(OpResult::Scalars(vals.iter().zip(scales).map(|(v, s)| s.decode(*v)).collect()))
        }
        OutputLayout::Root(scale) => Ok(OpResult::Scalars(vec![scale.decode(vals[0]).max(0.0).sqrt()])),
        OutputLayout::KeyIndex { keys } => {
            let i = vals[0].value();
            if i >= *keys as u128 || (!inputs_meta.is_empty() && *keys != inputs_meta.len()) {
                return Err(MpcError::Inconsistent("key index out of range".into()));
            }
            Ok(OpResult::KeyIndex(i as usize))
        }
        OutputLayout::Array { shape, dtype, scale } => {
            let data = match (dtype, scale.as_storage()) {
                (Dtype::Int, Some(ns)) => ArrayData::Int(
                    vals.iter()
                        .map(|v| {
                            ns.decode_int(v.to_i128())
                                .ok_or_else(|| MpcError::OutOfRange("integer result does not fit 64 bits".into()))
                        })
                        .collect::<Result<_, _>>()?,
                ),
                (_, Some(ns)) => ArrayData::Float(vals.iter().map(|v| ns.decode_float(v.to_i128())).collect()),
                _ if matches!(op, Op::Corrcoef { .. }) => {
                    // numpy clips to [−1, 1]
                    ArrayData::Float(vals.iter().map(|v| scale.decode(*v).clamp(-1.0, 1.0)).collect())
                }
                _ => ArrayData::Float(vals.iter().map(|v| scale.decode(*v)).collect()),
            };
            Ok(OpResult::Array { shape: shape.clone(), dtype: *dtype, data })
        }
        OutputLayout::Linregress { n, r, q, intercept, rho, q_lo } => Ok(super::linreg::finish(
            *n,
            r.decode(vals[0]),
            q.decode(vals[1]) + q_lo.decode(vals[4]),
            intercept.decode(vals[2]),
            rho.decode(vals[3]),
        )),
        OutputLayout::Ttest { df, factor, rho, u } => {
            Ok(super::ttest::finish(*df, *factor, rho.decode(vals[0]), u.decode(vals[1])))
        }
        OutputLayout::TtestWelch { na, nb, factor, rho, u, v } => {
            Ok(super::ttest::finish_welch(*na, *nb, *factor, rho.decode(vals[0]), u.decode(vals[1]), v.decode(vals[2])))
        }
        OutputLayout::LstsqStats { n, intercept, coef, r2, rho, u, factor } => {
            let p = coef.len();
            let k = p - usize::from(*intercept);
            let params: Vec<f64> = vals[..p].iter().zip(coef).map(|(v, s)| s.decode(*v)).collect();
            let rhos: Vec<f64> = vals[p + 1..p + 1 + k].iter().map(|v| rho.decode(*v)).collect();
            let us: Vec<f64> = vals[p + 1 + k..p + 1 + 2 * k].iter().map(|v| u.decode(*v)).collect();
            let i0 = intercept.then(|| {
                let j = p + 1 + 2 * k;
                let tau = Scale::bin(super::multivar::TAU_SCALE, 1.0).decode(vals[j]);
                let bit = |x: Fp| x != Fp::ZERO;
                super::multivar::intercept_t(*n, p, tau, bit(vals[j + 1]), bit(vals[j + 2]), params[0])
            });
            Ok(super::multivar::finish_lstsq_stats(*n, i0, params, r2.decode(vals[p]), &rhos, &us, *factor))
        }
        OutputLayout::Coefficients(scales) => Ok(OpResult::Array {
            shape: vec![scales.len()],
            dtype: Dtype::Float,
            data: ArrayData::Float(vals.iter().zip(scales).map(|(v, s)| s.decode(*v)).collect()),
        }),
    }
}
