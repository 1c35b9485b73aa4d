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

use super::stats::STORED_BITS;
use super::{MpcError, Party, Transport};
use crate::field::Fp;
use crate::fixed::FRAC_BITS;

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
    pub(crate) async fn dot_impl(
        &mut self,
        a: &[Fp],
        ash: &[usize],
        b: &[Fp],
        bsh: &[usize],
        ints: bool,
    ) -> Result<(Vec<Fp>, Fp), MpcError> {
        let (_, k) = dot_shape(ash, bsh)?;
        let l = if ints { 62 } else { 40 };
        let (groups, raw): (Vec<Vec<Fp>>, Vec<Fp>) = if ash.is_empty() || bsh.is_empty() {
            let (s, arr) = if ash.is_empty() { (a[0], b) } else { (b[0], a) };
            let sv = vec![s; arr.len()];
            let prod = self.mul(&sv, arr).await?;
            (vec![vec![s], arr.to_vec()], prod)
        } else {
            let ra = a.len() / k.max(1);
            let (nb, m) = if bsh.len() == 1 {
                (1, 1)
            } else {
                (
                    b.len() / (k * bsh[bsh.len() - 1]).max(1),
                    bsh[bsh.len() - 1],
                )
            };
            // columns of b, contiguous
            let mut cols: Vec<Vec<Fp>> = Vec::with_capacity(nb * m);
            for bb in 0..nb {
                for j in 0..m {
                    cols.push((0..k).map(|kk| b[bb * k * m + kk * m + j]).collect());
                }
            }
            let rows: Vec<Vec<Fp>> = (0..ra).map(|r| a[r * k..(r + 1) * k].to_vec()).collect();
            let mut local = Vec::with_capacity(ra * cols.len());
            for row in &rows {
                for col in &cols {
                    local.push(super::mul::dot(row, col));
                }
            }
            self.counters.mults += (ra * cols.len() * k) as u64;
            let out = self.reduce(&local).await?;
            let mut groups = rows;
            groups.extend(cols);
            (groups, out)
        };
        self.step("products");
        let flag = if k == 0 {
            Fp::ONE
        } else {
            self.certify(&groups, STORED_BITS + 1, l).await?
        };
        let fv = vec![flag; raw.len()];
        let gated = self.mul(&raw, &fv).await?;
        let out = if ints {
            let inv = Fp::new(1u128 << FRAC_BITS).inv().unwrap_or(Fp::ZERO);
            gated.iter().map(|v| *v * inv).collect()
        } else {
            // centre the truncation error: ⌊x/D⌋ + e, e ∈ [0, t+1], becomes ±(t/2 + 1) units
            let c = Fp::new((self.t as u128) << (FRAC_BITS - 1));
            let centred: Vec<Fp> = gated.iter().map(|v| *v - c).collect();
            self.trunc(&centred, FRAC_BITS, 2 * l + 1).await?
        };
        self.step("rescale");
        Ok((out, flag))
    }
}

/// Committee side of inv.
pub(crate) async fn run_inv<T: Transport>(
    _party: &mut Party<T>,
    _inputs: Vec<super::SharedInput>,
) -> Result<super::OutputShare, MpcError> {
    Err(MpcError::Unsupported(
        "matrix inverse is not available in this build".into(),
    ))
}
