//! Opening a batch of masked sharings to the whole committee, in one round.
//!
//! Owns: the cyclic opening pattern and its Lagrange coefficients. Must never be called on anything
//! but a value masked by fresh uniform (or statistically 2^-κ close) randomness: callers state the
//! mask next to each call, and every call is recorded in the audit with its label.
//!
//! Pattern: a degree-d sharing needs d + 1 shares. Party j sends its share to the next d parties
//! (j+1 … j+d mod n); party i then holds the shares of {i, i−1, …, i−d} and interpolates. One round,
//! n·d element-messages per opened element. (A rotating king — everyone sends chunk k to party k,
//! which broadcasts — costs (d + n − 1) instead of n·d elements but two rounds: it is cheaper for
//! n = 5, d = 2t = 4 on a bandwidth-bound link; on this in-memory transport the one-round pattern
//! measured faster, so it is the one used.)

use super::{MpcError, OpenKind, Party, Transport, decode};
use crate::field::{self, Fp};
use crate::shamir;

/// Lagrange coefficients at 0 for party `me`'s opening set {me, me−1, …, me−d} (mod n).
pub(crate) fn lambdas(me: usize, n: usize, d: usize) -> Result<Vec<Fp>, MpcError> {
    let xs: Vec<Fp> = (0..=d).map(|k| shamir::x_of((me + n - k) % n)).collect();
    shamir::lagrange_at_zero(&xs).map_err(|e| MpcError::Config(e.to_string()))
}

impl<T: Transport> Party<T> {
    /// Opens `shares` (degree `deg` ∈ {t, 2t}) to every committee member. `label` names the mask in
    /// the audit. Returns the opened values.
    pub(crate) async fn open(&mut self, shares: &[Fp], deg: usize, label: &'static str) -> Result<Vec<Fp>, MpcError> {
        let me = self.check_member()?;
        let n = self.n;
        debug_assert!(deg == self.t || deg == 2 * self.t);
        let bytes = field::to_bytes_vec(shares);
        let out: Vec<(usize, Vec<u8>)> = (1..=deg).map(|k| ((me + k) % n, bytes.clone())).collect();
        let from: Vec<usize> = (1..=deg).map(|k| (me + n - k) % n).collect();
        let got = self.exchange(out, &from).await?;
        let lam = if deg == self.t { &self.lambda_t } else { &self.lambda_2t };
        let mut res: Vec<Fp> = shares.iter().map(|s| *s * lam[0]).collect();
        for (k, msg) in got.iter().enumerate() {
            let peer = decode(from[k], msg, shares.len())?;
            let l = lam[k + 1];
            for (r, s) in res.iter_mut().zip(&peer) {
                *r += *s * l;
            }
        }
        self.counters.opened += res.len() as u64;
        self.record(OpenKind::Masked, label, &res);
        Ok(res)
    }
}
