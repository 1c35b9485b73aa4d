//! The op dispatcher (committee side) and the decoding of outputs (requester side).
//!
//! Owns: input validation, the preprocessing plan of each op (sized from public shapes), the
//! layout of an op's output shares with its public decoding information, and `reveal`, which
//! reconstructs and decodes them for the requester. Must never reveal anything itself: `run` returns
//! this party's output shares, which only the requester combines; `reveal` runs at the requester.

use super::prep::Needs;
use super::stats::STORED_BITS;
use super::{MpcError, Party, Transport};
use crate::field::Fp;
use crate::fixed::{self, FRAC_BITS};
use crate::shamir;
use crate::value::{ArrayData, Dtype, ValueMeta};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// The operations the engine computes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    Max,
    Min,
    Mean,
    Var,
    Std,
    Linregress,
    Dot,
    Inv,
}

/// This party's share of one input key.
#[derive(Clone, Debug)]
pub struct SharedInput {
    pub meta: ValueMeta,
    pub share: Vec<Fp>,
}

/// Public decoding of one output element: value = rep / 2^frac_bits / divisor.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scale {
    pub frac_bits: i32,
    pub divisor: f64,
}

impl Scale {
    pub const STORAGE: Scale = Scale { frac_bits: FRAC_BITS as i32, divisor: 1.0 };
    fn decode(&self, v: Fp) -> f64 {
        v.to_i128() as f64 * 2f64.powi(-self.frac_bits) / self.divisor
    }
}

/// Secret checks whose 0/1 result is an output to the requester (appended after the values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Check {
    /// The data's statistics fit the fixed-point range.
    Range,
    /// The matrix is invertible and well-conditioned.
    Invertible,
    /// Not all x values are identical (linregress).
    XVaries,
}

/// Public shape of an op's output shares.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum OutputLayout {
    /// mean / var / std: one value per scale.
    Scalars(Vec<Scale>),
    /// max / min over scalar keys: the index of the winning key.
    KeyIndex { keys: usize },
    /// An array (0-d for a scalar result) at the given scale.
    Array { shape: Vec<usize>, dtype: Dtype, scale: Scale },
    /// linregress: r, q = √(Syy/Sxx), intercept, and the number of points.
    Linregress { n: usize, r: Scale, q: Scale, intercept: Scale },
}

impl OutputLayout {
    fn values(&self) -> usize {
        match self {
            OutputLayout::Scalars(s) => s.len(),
            OutputLayout::KeyIndex { .. } => 1,
            OutputLayout::Array { shape, .. } => shape.iter().product(),
            OutputLayout::Linregress { .. } => 3,
        }
    }
}

/// One party's shares of an op's output, with the public information needed to decode them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputShare {
    pub layout: OutputLayout,
    pub checks: Vec<Check>,
    /// The values (per the layout), then one 0/1 flag per check.
    #[serde(with = "fp_serde")]
    pub shares: Vec<Fp>,
}

impl OutputShare {
    /// For `store=True`: the output as a stored value (metadata + element shares at the storage
    /// scale). Only array outputs at the storage scale can be stored — every op run by
    /// [`run_stored`] gives one; the check flags (if any) must still be revealed to the requester
    /// with [`OutputShare::check_shares`], since a failing check zeroes the values.
    pub fn into_stored(self) -> Result<(ValueMeta, Vec<Fp>), MpcError> {
        match &self.layout {
            OutputLayout::Array { shape, dtype, scale } if *scale == Scale::STORAGE => {
                let n: usize = shape.iter().product();
                let meta = if shape.is_empty() {
                    match dtype {
                        Dtype::Int => ValueMeta::Int,
                        Dtype::Float => ValueMeta::Float,
                    }
                } else {
                    ValueMeta::Array { dtype: *dtype, shape: shape.iter().map(|&d| d as u64).collect() }
                };
                let mut s = self.shares;
                s.truncate(n);
                Ok((meta, s))
            }
            _ => Err(MpcError::Unsupported(
                "this output is not at the storage scale (run the op with run_stored to store it)".into(),
            )),
        }
    }

    /// The shares of the check flags (to be revealed to the requester).
    pub fn check_shares(&self) -> &[Fp] {
        &self.shares[self.layout.values().min(self.shares.len())..]
    }
}

/// What the requester gets.
#[derive(Clone, Debug, PartialEq)]
pub enum OpResult {
    Scalars(Vec<f64>),
    Linregress { slope: f64, intercept: f64, r_value: f64, p_value: f64, std_err: f64 },
    KeyIndex(usize),
    Array { shape: Vec<usize>, dtype: Dtype, data: ArrayData },
}

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
    let start = Instant::now();
    let prep0 = party.counters.prep_time;
    let r = run_inner(party, op, inputs, store).await;
    let prep = party.counters.prep_time - prep0;
    party.counters.online_time += start.elapsed().saturating_sub(prep);
    r
}

/// A 0-d Float output at the storage scale (stored mean / var / std).
fn stored_scalar(shares: Vec<Fp>, checks: Vec<Check>) -> OutputShare {
    OutputShare {
        layout: OutputLayout::Array { shape: vec![], dtype: Dtype::Float, scale: Scale::STORAGE },
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
    match op {
        Op::Mean | Op::Var | Op::Std => {
            let x = flatten(&inputs);
            if x.is_empty() {
                return Err(MpcError::Invalid(format!("{op:?} of no values")));
            }
            let n = x.len();
            party.progress_plan(if *op == Op::Mean { 2 } else { 5 });
            let mut needs = plan_stats(op, n, t)?;
            if store {
                needs.add(&super::stats::stored_tail_needs(op, n, t)?);
            }
            party.preprocess(&needs).await?;
            party.step("preprocessing");
            if store {
                let out = if *op == Op::Mean {
                    stored_scalar(vec![party.mean_stored_impl(&x).await?], vec![])
                } else {
                    stored_scalar(party.var_stored_impl(&x, *op == Op::Std).await?, vec![Check::Range])
                };
                party.step("done");
                return Ok(out);
            }
            if *op == Op::Mean {
                let (v, f) = party.mean_impl(&x).await?;
                return Ok(OutputShare {
                    layout: OutputLayout::Scalars(vec![Scale { frac_bits: (FRAC_BITS + f) as i32, divisor: 1.0 }]),
                    checks: vec![],
                    shares: vec![v],
                });
            }
            let std = *op == Op::Std;
            let out = party.var_impl(&x, std).await?;
            let scale = if std {
                Scale {
                    frac_bits: (super::sqrt::s0() + super::div::NEWTON_F / 2 + FRAC_BITS) as i32,
                    divisor: n as f64,
                }
            } else {
                Scale { frac_bits: 2 * FRAC_BITS as i32, divisor: 1.0 }
            };
            party.step("done");
            Ok(OutputShare { layout: OutputLayout::Scalars(vec![scale]), checks: vec![Check::Range], shares: out })
        }
        Op::Max | Op::Min => {
            let scalars = inputs.iter().all(|i| shape_of(&i.meta).is_empty());
            let x = flatten(&inputs);
            if x.is_empty() {
                return Err(MpcError::Invalid(format!("{op:?} of no values")));
            }
            let rounds = usize::BITS - (x.len() - 1).leading_zeros();
            party.progress_plan(rounds as u64 + 1);
            party.preprocess(&super::compare::tournament_needs(x.len(), STORED_BITS + 1)).await?;
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
                        scale: Scale::STORAGE,
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
            party.progress_plan(4);
            party.preprocess(&plan_dot(&ash, &bsh, all_int, t)?).await?;
            party.step("preprocessing");
            let (out, flag) = party.dot_impl(&inputs[0].share, &ash, &inputs[1].share, &bsh, all_int).await?;
            let mut shares = out;
            shares.push(flag);
            party.step("done");
            Ok(OutputShare {
                layout: OutputLayout::Array {
                    shape: oshape,
                    dtype: if all_int { Dtype::Int } else { Dtype::Float },
                    scale: Scale::STORAGE,
                },
                checks: vec![Check::Range],
                shares,
            })
        }
        Op::Linregress => super::linreg::run_linregress(party, inputs, store).await,
        Op::Inv => super::linalg::run_inv(party, inputs, store).await,
    }
}

/// Preprocessing for mean / var / std of n values.
fn plan_stats(op: &Op, n: usize, t: usize) -> Result<Needs, MpcError> {
    let mut needs = super::bits::decompose_needs(1);
    if *op == Op::Mean {
        return Ok(needs);
    }
    let l = (125 - super::stats::clog2(n as u128)) / 2;
    let (s, k) = super::stats::cert_plan(n, STORED_BITS + 2, l, t)?;
    let (spec, _) = super::trunc::plan(1u128 << s, STORED_BITS + 2, t)?;
    needs.pair(spec, n);
    needs.doubles += 2;
    needs.add(&super::compare::ltz_needs(1, k));
    needs.add(&super::bits::decompose_needs(1));
    needs.triples += 1;
    if *op == Op::Std {
        needs.add(&super::bits::suffix_or_needs(1, super::bits::FIELD_BITS));
        needs.doubles += 1;
        needs.triples += 18;
    }
    Ok(needs)
}

/// Preprocessing for a dot product.
fn plan_dot(a: &[usize], b: &[usize], ints: bool, t: usize) -> Result<Needs, MpcError> {
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
    if !ints {
        let (spec, _) = super::trunc::plan(1u128 << FRAC_BITS, 2 * l + 1, t)?;
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
) -> Result<OpResult, MpcError> {
    if shares.len() < t + 1 {
        return Err(MpcError::Inconsistent(format!("need {} output shares, got {}", t + 1, shares.len())));
    }
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
        });
    }
    let vals = &vals[..nv];
    match &first.layout {
        OutputLayout::Scalars(scales) => {
            Ok(OpResult::Scalars(vals.iter().zip(scales).map(|(v, s)| s.decode(*v)).collect()))
        }
        OutputLayout::KeyIndex { keys } => {
            let i = vals[0].value();
            if i >= *keys as u128 || (!inputs_meta.is_empty() && *keys != inputs_meta.len()) {
                return Err(MpcError::Inconsistent("key index out of range".into()));
            }
            Ok(OpResult::KeyIndex(i as usize))
        }
        OutputLayout::Array { shape, dtype, scale } => {
            let data = match dtype {
                Dtype::Int if *scale == Scale::STORAGE => ArrayData::Int(
                    vals.iter()
                        .map(|v| {
                            fixed::decode_int(v.to_i128())
                                .ok_or_else(|| MpcError::OutOfRange("integer result does not fit 64 bits".into()))
                        })
                        .collect::<Result<_, _>>()?,
                ),
                _ if *scale == Scale::STORAGE => {
                    ArrayData::Float(vals.iter().map(|v| fixed::decode_float(v.to_i128())).collect())
                }
                _ => ArrayData::Float(vals.iter().map(|v| scale.decode(*v)).collect()),
            };
            Ok(OpResult::Array { shape: shape.clone(), dtype: *dtype, data })
        }
        OutputLayout::Linregress { n, r, q, intercept } => {
            Ok(super::linreg::finish(*n, r.decode(vals[0]), q.decode(vals[1]), intercept.decode(vals[2])))
        }
    }
}

mod fp_serde {
    use crate::field::{Fp, FpVec};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    pub fn serialize<S: Serializer>(v: &[Fp], s: S) -> Result<S::Ok, S::Error> {
        FpVec(v.to_vec()).serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Fp>, D::Error> {
        Ok(FpVec::deserialize(d)?.0)
    }
}
