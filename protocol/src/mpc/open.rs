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
//!
//! **Active mode** opens every degree-t sharing with a check instead: every member sends its share
//! to every other, and each member checks that the n shares it holds lie on one polynomial of
//! degree t. The ≥ n − t ≥ t + 1 honest shares fix that polynomial, so a share that a corrupted
//! member changed (to everyone, or only to some: equivocation) moves a point off it, and each honest
//! member either gets the correct value or aborts with [`MpcError::Integrity`]. Whether it aborts
//! depends only on what the corrupted members sent, never on secret data. Degree-2t sharings (only
//! in preprocessing, see `prep.rs`) have no redundancy at n = 2t + 1; their errors are additive and
//! caught by the triple sacrifice. Cost: n − 1 element-messages per opened element instead of d.

use super::{MpcError, OpenKind, Party, Transport, decode};
use crate::field::{self, Fp};
use crate::shamir;

/// Lagrange coefficients at 0 for party `me`'s opening set {me, me−1, …, me−d} (mod n).
pub(crate) fn lambdas(me: usize, n: usize, d: usize) -> Result<Vec<Fp>, MpcError> {
    let xs: Vec<Fp> = (0..=d).map(|k| shamir::x_of((me + n - k) % n)).collect();
    shamir::lagrange_at_zero(&xs).map_err(|e| MpcError::Config(e.to_string()))
}

/// Coefficients of the checked opening: Lagrange at 0 over the x's of parties 0..=t, and, for each
/// party j in t+1..n, the Lagrange coefficients at x_j over the same points (its predicted share).
pub(crate) fn robust_coefficients(n: usize, t: usize) -> Result<(Vec<Fp>, Vec<Vec<Fp>>), MpcError> {
    let xs: Vec<Fp> = (0..=t).map(shamir::x_of).collect();
    let at0 = shamir::lagrange_at_zero(&xs).map_err(|e| MpcError::Config(e.to_string()))?;
    let predict = (t + 1..n)
        .map(|j| shamir::lagrange_at(&xs, shamir::x_of(j)).map_err(|e| MpcError::Config(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((at0, predict))
}

impl<T: Transport> Party<T> {
    /// Opens `shares` (degree `deg` ∈ {t, 2t}) to every committee member. `label` names the mask in
    /// the audit. Returns the opened values. In active mode a degree-t opening is checked (module
    /// doc) and a degree-2t one is allowed only while preprocessing.
    pub(crate) async fn open(&mut self, shares: &[Fp], deg: usize, label: &'static str) -> Result<Vec<Fp>, MpcError> {
        let me = self.check_member()?;
        let n = self.n;
        debug_assert!(deg == self.t || deg == 2 * self.t);
        if self.active() {
            if deg == self.t {
                return self.open_checked(shares, label).await;
            }
            if !self.in_prep {
                return Err(MpcError::Config("an unchecked degree-2t opening outside preprocessing".into()));
            }
        }
        #[allow(unused_mut)]
        let mut bytes = field::to_bytes_vec(shares);
        #[cfg(any(test, feature = "cheat"))]
        if deg == 2 * self.t && self.cheat == Some(super::verify::Cheat::Product) {
            bytes = field::to_bytes_vec(&super::verify::nudge(shares));
        }
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

impl<T: Transport> Party<T> {
    /// Active mode's degree-t opening: all shares to all, and a check that they lie on one
    /// degree-t polynomial (module doc).
    async fn open_checked(&mut self, shares: &[Fp], label: &'static str) -> Result<Vec<Fp>, MpcError> {
        let me = self.check_member()?;
        let (n, t) = (self.n, self.t);
        #[allow(unused_mut)]
        let mut bytes = field::to_bytes_vec(shares);
        #[cfg(any(test, feature = "cheat"))]
        if self.cheat == Some(super::verify::Cheat::Open) {
            bytes = field::to_bytes_vec(&super::verify::nudge(shares));
        }
        let others: Vec<usize> = (0..n).filter(|&j| j != me).collect();
        let out: Vec<(usize, Vec<u8>)> = others.iter().map(|&j| (j, bytes.clone())).collect();
        let got = self.exchange(out, &others).await?;
        let mut all: Vec<Vec<Fp>> = vec![Vec::new(); n];
        for (k, msg) in got.iter().enumerate() {
            all[others[k]] = decode(others[k], msg, shares.len())?;
        }
        all[me] = shares.to_vec();
        let mut res = Vec::with_capacity(shares.len());
        #[allow(clippy::needless_range_loop)] // e indexes every party's vector at once
        for e in 0..shares.len() {
            let mut v = Fp::ZERO;
            for (k, l) in self.robust_at0.iter().enumerate() {
                v += all[k][e] * *l;
            }
            for (j, coeffs) in self.robust_predict.iter().enumerate() {
                let mut want = Fp::ZERO;
                for (k, l) in coeffs.iter().enumerate() {
                    want += all[k][e] * *l;
                }
                if want != all[t + 1 + j][e] {
                    return Err(MpcError::Integrity(format!(
                        "the shares of an opened value ({label}) do not lie on one polynomial of degree {t}"
                    )));
                }
            }
            res.push(v);
        }
        self.counters.opened += res.len() as u64;
        self.record(OpenKind::Masked, label, &res);
        Ok(res)
    }
}

impl<T: Transport> Party<T> {
    /// A degree-t opening of values revealed by design rather than masked (comparison outcomes
    /// after a secret shuffle, `quantile.rs`, which states why they show nothing); checked in
    /// active mode as every opening, and recorded in the audit as `kind`.
    pub(crate) async fn open_as(
        &mut self,
        shares: &[Fp],
        kind: OpenKind,
        label: &'static str,
    ) -> Result<Vec<Fp>, MpcError> {
        let r = self.open(shares, self.t, label).await?;
        if let Some(e) = self.audit.as_mut().and_then(|a| a.last_mut()) {
            e.kind = kind;
        }
        Ok(r)
    }
}
