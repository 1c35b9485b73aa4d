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
use crate::fixed::{FRAC_BITS, NumScale};
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
    /// scipy.stats.ttest_1samp over the flattened key; `popmean` as f64 bits (`f64::to_bits`), put
    /// at the key's own storage scale by the engine (exactly, from its shortest decimal text).
    Ttest1samp {
        popmean: u64,
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
    /// numpy.histogram over the flattened keys with public edges e_0 ≤ … ≤ e_b as f64 bits
    /// (`Op::histogram`); the engine puts them at the keys' storage scale (`histogram::edge_reps`).
    /// `min_count` > 0 (under a compute grant: the grant's min_count): the counts are revealed only
    /// if every bin holds at least that many values (`Check::BinsMinCount`), else the call is refused.
    Histogram {
        edges: Vec<u64>,
        #[serde(default)]
        min_count: u32,
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
    /// `Lstsq` with `stats=True`: also statsmodels OLS's standard errors, t and p per slope, R²
    /// and adjusted R² (`OpResult::Lstsq`).
    LstsqStats {
        intercept: bool,
    },
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
            Op::LstsqStats { .. } => "stats.lstsq",
        }
    }
}

impl Op {
    /// The quantile op for `q` (each in [0, 1]); `scalar` for a 0-d result.
    pub fn quantile(q: &[f64], scalar: bool) -> Op {
        Op::Quantile { q: q.iter().map(|v| v.to_bits()).collect(), scalar }
    }
    /// The histogram op for public bin edges.
    pub fn histogram(edges: &[f64]) -> Op {
        Op::histogram_min(edges, 0)
    }
    /// The histogram op for public bin edges where every bin must hold at least `min_count` values.
    pub fn histogram_min(edges: &[f64], min_count: u32) -> Op {
        Op::Histogram { edges: edges.iter().map(|v| v.to_bits()).collect(), min_count }
    }
    /// The one-sample t-test op against `popmean`.
    pub fn ttest_1samp(popmean: f64) -> Op {
        Op::Ttest1samp { popmean: popmean.to_bits() }
    }
    /// The quantiles of [`Op::Quantile`] as reals.
    pub fn quantiles(q: &[u64]) -> Vec<f64> {
        q.iter().map(|b| f64::from_bits(*b)).collect()
    }
}

/// This party's share of one input key, with the key's public storage scale (from its manifest).
#[derive(Clone, Debug)]
pub struct SharedInput {
    pub meta: ValueMeta,
    pub share: Vec<Fp>,
    pub scale: NumScale,
}

impl SharedInput {
    /// An input at the legacy binary scale 2^20.
    pub fn binary(meta: ValueMeta, share: Vec<Fp>) -> SharedInput {
        SharedInput { meta, share, scale: NumScale::Binary20 }
    }
}

/// The one storage scale of an op's inputs. The dispatcher (`ops.rs`) brings keys at different
/// decimal scales to the finest one first (`rescale.rs`: exactly, by a public 10^k, with a secret
/// range test), and refuses a binary 2^-20 key next to a decimal one, so every op file sees one
/// scale; inputs at different scales here are refused.
pub fn common_scale(inputs: &[SharedInput]) -> Result<NumScale, MpcError> {
    let first = inputs.first().map(|i| i.scale).unwrap_or(NumScale::DEFAULT);
    if let Some(other) = inputs.iter().find(|i| i.scale != first) {
        return Err(MpcError::Unsupported(format!(
            "the input keys are stored at different scales ({} and {}); an op takes keys of one scale \
             (store them with the same decimals)",
            first.describe(),
            other.scale.describe()
        )));
    }
    Ok(first)
}

/// Public decoding of one output element: value = rep / 2^frac_bits / divisor / 10^decimals.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scale {
    pub frac_bits: i32,
    pub divisor: f64,
    pub decimals: i32,
}

impl Scale {
    /// The legacy binary storage scale 2^20.
    pub const STORAGE: Scale = Scale { frac_bits: FRAC_BITS as i32, divisor: 1.0, decimals: 0 };

    /// value = rep / 2^frac_bits / divisor (no decimal factor).
    pub const fn bin(frac_bits: i32, divisor: f64) -> Scale {
        Scale { frac_bits, divisor, decimals: 0 }
    }

    /// The scale at which a number stored at `ns` is read.
    pub fn storage(ns: NumScale) -> Scale {
        Scale::STORAGE.for_inputs(ns, 1)
    }

    /// This decoding — written for inputs at the binary scale 2^20 — for inputs at `ns`, for an
    /// output of degree `deg` in the inputs (value ∝ input^deg: 1 for a mean, 2 for a variance, 0
    /// for a correlation, −1 for an inverse). The engine computes on representatives alone, so only
    /// the decoding changes: a factor 2^(20·deg) becomes 10^(d·deg).
    pub fn for_inputs(self, ns: NumScale, deg: i32) -> Scale {
        match ns {
            NumScale::Binary20 => self,
            NumScale::Decimal(d) => Scale {
                frac_bits: self.frac_bits - FRAC_BITS as i32 * deg,
                divisor: self.divisor,
                decimals: self.decimals + d as i32 * deg,
            },
        }
    }

    /// The storage scale this is, if it is one.
    pub fn as_storage(&self) -> Option<NumScale> {
        if self.divisor != 1.0 {
            return None;
        }
        match (self.frac_bits, self.decimals) {
            (f, 0) if f == FRAC_BITS as i32 => Some(NumScale::Binary20),
            (0, d) if (0..=crate::fixed::MAX_DECIMALS as i32).contains(&d) => Some(NumScale::Decimal(d as u8)),
            _ => None,
        }
    }

    pub(super) fn decode(&self, v: Fp) -> f64 {
        v.to_i128() as f64 * 2f64.powi(-self.frac_bits) / self.divisor / 10f64.powi(self.decimals)
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
    /// Every bin of a histogram under a compute grant holds at least the op's `min_count` values.
    BinsMinCount,
    /// Every value of the keys rescaled to the op's finest decimal scale 10^-decimals (keys stored
    /// at different decimal scales) fits that scale's range (`rescale.rs`).
    Rescaled { decimals: u8 },
}

/// Public shape of an op's output shares.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum OutputLayout {
    /// mean / var: one value per scale.
    Scalars(Vec<Scale>),
    /// std: the square root of the value at this scale (the exact variance, taken at the
    /// requester: the root of a revealed output is a function of it).
    Root(Scale),
    /// max / min over scalar keys: the index of the winning key.
    KeyIndex { keys: usize },
    /// An array (0-d for a scalar result) at the given scale.
    Array { shape: Vec<usize>, dtype: Dtype, scale: Scale },
    /// linregress: r, q = √(Syy/Sxx), intercept, ρ = 1 − r² (from the exact residual), and the
    /// number of points; q is revealed as two values, q + q_lo (the high part and the refinement's
    /// low part, `linreg.rs` step 5b), in that order after ρ.
    Linregress { n: usize, r: Scale, q: Scale, intercept: Scale, rho: Scale, q_lo: Scale },
    /// t-tests: ρ (bounded) and u = √(SSW/SST) (with a secret exponent); the requester computes
    /// t = factor·ρ/u and the two-sided p-value with `df` degrees of freedom.
    Ttest { df: usize, factor: f64, rho: Scale, u: Scale },
    /// lstsq: the coefficients, each at its scale (the intercept first when there is one).
    Coefficients(Vec<Scale>),
    /// Welch's t-test: ρ and u as `Ttest` (t = factor·ρ/u) and v = √λ, where λ = (s_a²/n_a)/(s_a²/n_a
    /// + s_b²/n_b) gives the Welch–Satterthwaite df = 1/(λ²/(n_a − 1) + (1 − λ)²/(n_b − 1)).
    TtestWelch { na: usize, nb: usize, factor: f64, rho: Scale, u: Scale, v: Scale },
    /// lstsq(stats=True): the coefficients (`coef`, the intercept first when there is one), R², then
    /// ρ'_j for each predictor and u_j for each predictor (t_j = factor·ρ'_j/u_j), then with an
    /// intercept τ' = t0/(N·√(N − p)) at 2^TAU_SCALE, [t0 beyond the window], [a perfect fit].
    LstsqStats { n: usize, intercept: bool, coef: Vec<Scale>, r2: Scale, rho: Scale, u: Scale, factor: f64 },
}

impl OutputLayout {
    pub(super) fn values(&self) -> usize {
        match self {
            OutputLayout::Scalars(s) => s.len(),
            OutputLayout::Root(_) => 1,
            OutputLayout::KeyIndex { .. } => 1,
            OutputLayout::Array { shape, .. } => shape.iter().product(),
            OutputLayout::Linregress { .. } => 5,
            OutputLayout::Ttest { .. } => 2,
            OutputLayout::Coefficients(s) => s.len(),
            OutputLayout::TtestWelch { .. } => 3,
            OutputLayout::LstsqStats { intercept, coef, .. } => {
                // R², a (ρ, u) pair per slope and, with an intercept, the intercept's pair
                let k = coef.len() - usize::from(*intercept);
                coef.len() + 1 + 2 * k + 3 * usize::from(*intercept)
            }
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
    /// For `store=True`: the output as a stored value (metadata + element shares at a storage
    /// scale, and that scale). Only array outputs at a storage scale can be stored — every op run by
    /// [`run_stored`](super::ops::run_stored) gives one; the check flags (if any) must still be
    /// revealed to the requester with [`OutputShare::check_shares`], since a failing check zeroes
    /// the values.
    pub fn into_stored(self) -> Result<(ValueMeta, Vec<Fp>, NumScale), MpcError> {
        match &self.layout {
            OutputLayout::Array { shape, dtype, scale } if scale.as_storage().is_some() => {
                let ns = scale.as_storage().unwrap_or(NumScale::Binary20);
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
                Ok((meta, s, ns))
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
    /// lstsq(stats=True), as statsmodels' OLS results: `params` (the intercept first when there is
    /// one), `bse`, `tvalues`, `pvalues` (two-sided, t with `df_resid` degrees of freedom) per
    /// coefficient, `rsquared`, `rsquared_adj`.
    Lstsq {
        params: Vec<f64>,
        bse: Vec<f64>,
        tvalues: Vec<f64>,
        pvalues: Vec<f64>,
        rsquared: f64,
        rsquared_adj: f64,
        df_resid: f64,
    },
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
