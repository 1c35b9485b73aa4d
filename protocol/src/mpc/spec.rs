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
    /// numpy.cov of one 1-D or 2-D key (`rowvar`: rows are variables), normalised by N − ddof.
    Cov {
        rowvar: bool,
        ddof: u32,
    },
    /// numpy.corrcoef of one 1-D or 2-D key.
    Corrcoef {
        rowvar: bool,
    },
    /// scipy.stats.ttest_1samp over the flattened key, `popmean` at the storage scale (rep units).
    Ttest1samp {
        popmean: i64,
    },
    /// scipy.stats.ttest_ind(a, b, equal_var=True) over the two flattened keys.
    TtestInd,
    /// scipy.stats.ttest_rel(a, b) over the two flattened keys (same length).
    TtestRel,
    /// numpy.linalg.lstsq(X, y) coefficients for a 2-D X (N × k) and a 1-D y (N); with
    /// `intercept`, X gets a leading column of ones (the intercept is the first coefficient).
    Lstsq {
        intercept: bool,
    },
    /// numpy.histogram over the flattened keys with public edges: `lower[j]` = ⌈e_j·2^20⌉ for the
    /// bins' left edges, `upper` = ⌊e_b·2^20⌋ for the closed right end.
    Histogram {
        lower: Vec<i64>,
        upper: i64,
    },
    /// numpy.quantile (linear method) over the flattened keys: `q` the quantiles in [0, 1] as
    /// f64 bits (`f64::to_bits`, so the op stays `Eq`); `scalar`: a 0-d result for one q.
    /// stats.median and stats.percentile are this op (q = 0.5, q = p / 100).
    Quantile {
        q: Vec<u64>,
        scalar: bool,
    },
    /// scipy.stats.ttest_ind(a, b, equal_var=False): Welch's t-test, Welch–Satterthwaite df.
    TtestWelch,
}

impl Op {
    /// The client API's name of the op (`stats.cov`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Max => "stats.max",
            Op::Min => "stats.min",
            Op::Mean => "stats.mean",
            Op::Var => "stats.var",
            Op::Std => "stats.std",
            Op::Linregress => "stats.linregress",
            Op::Dot => "linalg.dot",
            Op::Inv => "linalg.inv",
            Op::Cov { .. } => "stats.cov",
            Op::Corrcoef { .. } => "stats.corrcoef",
            Op::Ttest1samp { .. } => "stats.ttest_1samp",
            Op::TtestInd => "stats.ttest_ind",
            Op::TtestRel => "stats.ttest_rel",
            Op::Lstsq { .. } => "stats.lstsq",
            Op::Histogram { .. } => "stats.histogram",
            Op::Quantile { .. } => "stats.quantile",
            Op::TtestWelch => "stats.ttest_ind",
        }
    }
}

impl Op {
    /// The quantile op for `q` (each in [0, 1]); `scalar` for a 0-d result.
    pub fn quantile(q: &[f64], scalar: bool) -> Op {
        Op::Quantile { q: q.iter().map(|v| v.to_bits()).collect(), scalar }
    }
    /// The quantiles of [`Op::Quantile`] as reals.
    pub fn quantiles(q: &[u64]) -> Vec<f64> {
        q.iter().map(|b| f64::from_bits(*b)).collect()
    }
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
    /// No variable (row of corrcoef, column of lstsq's X) is constant.
    Varies,
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
    /// t-tests: ρ (bounded) and u = √(SSW/SST) (with a secret exponent); the requester computes
    /// t = factor·ρ/u and the two-sided p-value with `df` degrees of freedom.
    Ttest { df: usize, factor: f64, rho: Scale, u: Scale },
    /// lstsq: the coefficients, each at its scale (the intercept first when there is one).
    Coefficients(Vec<Scale>),
    /// Welch's t-test: ρ and u as `Ttest` (t = factor·ρ/u) and v = √λ, where λ = (s_a²/n_a)/(s_a²/n_a
    /// + s_b²/n_b) gives the Welch–Satterthwaite df = 1/(λ²/(n_a − 1) + (1 − λ)²/(n_b − 1)).
    TtestWelch { na: usize, nb: usize, factor: f64, rho: Scale, u: Scale, v: Scale },
}

impl OutputLayout {
    pub(super) fn values(&self) -> usize {
        match self {
            OutputLayout::Scalars(s) => s.len(),
            OutputLayout::KeyIndex { .. } => 1,
            OutputLayout::Array { shape, .. } => shape.iter().product(),
            OutputLayout::Linregress { .. } => 3,
            OutputLayout::Ttest { .. } => 2,
            OutputLayout::Coefficients(s) => s.len(),
            OutputLayout::TtestWelch { .. } => 3,
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
    Linregress {
        slope: f64,
        intercept: f64,
        r_value: f64,
        p_value: f64,
        std_err: f64,
    },
    /// scipy's TtestResult: the t statistic, the two-sided p-value and the degrees of freedom.
    Ttest {
        statistic: f64,
        pvalue: f64,
        df: f64,
    },
    KeyIndex(usize),
    Array {
        shape: Vec<usize>,
        dtype: Dtype,
        data: ArrayData,
    },
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
