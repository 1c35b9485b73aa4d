//! Linear regression (scipy.stats.linregress) on secret x, y.
//!
//! Owns: the committee side (centred exact aggregates, normalisation, r, q = √(Syy/Sxx), intercept)
//! and the requester side `finish` (slope = r·q, p-value and std_err in the clear from the revealed
//! r, q and n: DESIGN §3 allows it, they are functions of the outputs). Must never open Sxx, Syy,
//! Sxy or the means.

use super::ops::{OutputShare, SharedInput};
use super::tdist;
use super::{MpcError, OpResult, Party, Transport};

/// Committee side of linregress.
pub(crate) async fn run_linregress<T: Transport>(
    _party: &mut Party<T>,
    _inputs: Vec<SharedInput>,
) -> Result<OutputShare, MpcError> {
    Err(MpcError::Unsupported(
        "linregress is not available in this build".into(),
    ))
}

/// Requester side: scipy.stats.linregress's outputs from the revealed r, q, intercept and n.
pub(crate) fn finish(n: usize, r: f64, q: f64, intercept: f64) -> OpResult {
    let r = r.clamp(-1.0, 1.0);
    let slope = r * q;
    let (p_value, std_err) = if n == 2 {
        (if r == 0.0 { 1.0 } else { 0.0 }, 0.0)
    } else {
        let df = (n - 2) as f64;
        const TINY: f64 = 1e-20;
        let t = r * (df / ((1.0 - r + TINY) * (1.0 + r + TINY))).sqrt();
        (
            tdist::t_two_sided(t, df),
            q * ((1.0 - r * r).max(0.0) / df).sqrt(),
        )
    };
    OpResult::Linregress {
        slope,
        intercept,
        r_value: r,
        p_value,
        std_err,
    }
}
