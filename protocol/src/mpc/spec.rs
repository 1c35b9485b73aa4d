//! The public description of an op and of its result: what the engine computes ([`Op`]), a party's
//! input shares, the layout and decoding scale of the output shares, the secret checks appended to
//! them, and what the requester gets.
//!
//! Owns: these types and their (de)serialisation (they travel in session messages). A leaf: it
//! imports no other op file, so every op file (`ops`, `linalg`, `linreg`, `stats` …) can use it.
//! Must never: hold planning or protocol code — that is `ops.rs` and the op files; nothing here
//! opens or combines shares except the requester-side decoding helpers `reveal` calls.

use super::MpcError;
use crate::field::Fp;
use crate::fixed::FRAC_BITS;
use crate::value::{ArrayData, Dtype, ValueMeta};
use serde::{Deserialize, Serialize};

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
    pub(super) fn decode(&self, v: Fp) -> f64 {
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
    pub(super) fn values(&self) -> usize {
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
    /// [`run_stored`](super::ops::run_stored) gives one; the check flags (if any) must still be
    /// revealed to the requester with [`OutputShare::check_shares`], since a failing check zeroes
    /// the values.
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
