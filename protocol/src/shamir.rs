//! Shamir secret sharing over [`Fp`], vectorised: one call shares or reconstructs a whole batch.
//!
//! Owns: dealing shares of a batch of secrets with threshold t (any t+1 shares reconstruct, any t
//! reveal nothing), Lagrange coefficients, reconstruction and the salted share commitments recorded in
//! manifests. Party `i` (0-based) always holds the evaluation at x = i + 1.
//! Must never: reconstruct anything on its own initiative — callers decide what may be opened
//! (DESIGN §3, the leakage rule); never do I/O.

use crate::field::{self, Fp};
use rand::Rng;

/// The x-coordinate of party `index` (0-based): index + 1. Zero is reserved for the secret.
#[inline]
pub fn x_of(index: usize) -> Fp {
    Fp::from_u64(index as u64 + 1)
}

/// The largest threshold a group of `n` can use with an honest majority: t < n/2.
pub fn max_threshold(n: usize) -> usize {
    n.saturating_sub(1) / 2
}

/// Errors from sharing and reconstruction.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShamirError {
    #[error("need at least {need} shares to reconstruct, got {got}")]
    NotEnoughShares { need: usize, got: usize },
    #[error("shares have different lengths")]
    LengthMismatch,
    #[error("duplicate x-coordinate among shares")]
    DuplicateX,
    #[error("threshold {t} is too large for {n} parties")]
    BadThreshold { t: usize, n: usize },
    #[error("the shares do not lie on one polynomial of the threshold's degree")]
    Inconsistent,
}

/// Deals shares of every secret in `secrets` to `n` parties with threshold `t`.
/// Returns `shares[party][element]`.
pub fn share<R: Rng + ?Sized>(secrets: &[Fp], t: usize, n: usize, rng: &mut R) -> Result<Vec<Vec<Fp>>, ShamirError> {
    if t >= n {
        return Err(ShamirError::BadThreshold { t, n });
    }
    let xs: Vec<Fp> = (0..n).map(x_of).collect();
    let mut out = vec![Vec::with_capacity(secrets.len()); n];
    let mut coeffs = vec![Fp::ZERO; t];
    for &s in secrets {
        for c in coeffs.iter_mut() {
            *c = Fp::random(rng);
        }
        for (party, x) in xs.iter().enumerate() {
            // Horner: s + x(c1 + x(c2 + ...))
            let mut acc = Fp::ZERO;
            for c in coeffs.iter().rev() {
                acc = (acc + *c) * *x;
            }
            out[party].push(acc + s);
        }
    }
    Ok(out)
}

/// Lagrange coefficients λ_i such that f(0) = Σ λ_i f(x_i) for any polynomial of degree < xs.len().
pub fn lagrange_at_zero(xs: &[Fp]) -> Result<Vec<Fp>, ShamirError> {
    lagrange_at(xs, Fp::ZERO)
}

/// Lagrange coefficients for evaluating at `at` from the points `xs`.
pub fn lagrange_at(xs: &[Fp], at: Fp) -> Result<Vec<Fp>, ShamirError> {
    let mut out = Vec::with_capacity(xs.len());
    for (i, xi) in xs.iter().enumerate() {
        let mut num = Fp::ONE;
        let mut den = Fp::ONE;
        for (j, xj) in xs.iter().enumerate() {
            if i != j {
                num *= at - *xj;
                den *= *xi - *xj;
            }
        }
        let inv = den.inv().ok_or(ShamirError::DuplicateX)?;
        out.push(num * inv);
    }
    Ok(out)
}

/// Reconstructs a batch from shares given as (x-coordinate, share vector). Uses the first `t + 1`
/// shares; callers that can detect bad shares (commitments) drop them before calling.
pub fn reconstruct(shares: &[(Fp, &[Fp])], t: usize) -> Result<Vec<Fp>, ShamirError> {
    if shares.len() < t + 1 {
        return Err(ShamirError::NotEnoughShares { need: t + 1, got: shares.len() });
    }
    let used = &shares[..t + 1];
    let len = used[0].1.len();
    if used.iter().any(|(_, s)| s.len() != len) {
        return Err(ShamirError::LengthMismatch);
    }
    let xs: Vec<Fp> = used.iter().map(|(x, _)| *x).collect();
    let lambdas = lagrange_at_zero(&xs)?;
    let mut out = vec![Fp::ZERO; len];
    for ((_, s), l) in used.iter().zip(&lambdas) {
        for (o, v) in out.iter_mut().zip(s.iter()) {
            *o += *l * *v;
        }
    }
    Ok(out)
}

/// Reconstructs from t + 1 of `shares` and checks that every other share lies on the same
/// degree-t polynomial: `Err(Inconsistent)` if one does not (some holder's share is wrong).
pub fn reconstruct_checked(shares: &[(Fp, &[Fp])], t: usize) -> Result<Vec<Fp>, ShamirError> {
    let out = reconstruct(shares, t)?;
    let xs: Vec<Fp> = shares[..t + 1].iter().map(|(x, _)| *x).collect();
    for (x, s) in &shares[t + 1..] {
        if s.len() != out.len() {
            return Err(ShamirError::LengthMismatch);
        }
        let lam = lagrange_at(&xs, *x)?;
        for (k, v) in s.iter().enumerate() {
            let want: Fp = shares[..t + 1].iter().zip(&lam).map(|((_, p), l)| p[k] * *l).sum();
            if want != *v {
                return Err(ShamirError::Inconsistent);
            }
        }
    }
    Ok(out)
}

/// Salted commitment to one holder's share, as recorded in the manifest.
///
/// The salt is random, known only to the holder (and to whoever it serves the share to). Without it,
/// t colluding holders could test a guess of a low-entropy secret: t shares plus the guess fix the
/// polynomial, hence every other share, which an unsalted hash would let them check.
pub fn commitment(salt: &[u8; 32], x: Fp, share: &[Fp]) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key("enigma share commitment v1");
    h.update(salt);
    h.update(&x.to_bytes());
    h.update(&(share.len() as u64).to_le_bytes());
    h.update(&field::to_bytes_vec(share));
    *h.finalize().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn subset(n: usize, k: usize, seed: u64) -> Vec<usize> {
        // deterministic pseudo-random subset of size k
        let mut idx: Vec<usize> = (0..n).collect();
        let mut s = seed;
        for i in (1..n).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            idx.swap(i, (s >> 33) as usize % (i + 1));
        }
        idx.truncate(k);
        idx
    }

    proptest! {
        #[test]
        fn any_t_plus_one_reconstruct(n in 3usize..10, seed in any::<u64>(), vals in prop::collection::vec(0..field::P, 1..20)) {
            let t = max_threshold(n);
            let secrets: Vec<Fp> = vals.into_iter().map(Fp::new).collect();
            let mut rng = StdRng::seed_from_u64(seed);
            let shares = share(&secrets, t, n, &mut rng).unwrap();
            let pick = subset(n, t + 1, seed);
            let points: Vec<(Fp, &[Fp])> = pick.iter().map(|&i| (x_of(i), shares[i].as_slice())).collect();
            prop_assert_eq!(reconstruct(&points, t).unwrap(), secrets);
        }

        /// t shares are consistent with every possible secret: for any other secret s' there is exactly
        /// one degree-t polynomial through (0, s') and the t observed shares, so the observed shares have
        /// the same distribution whatever the secret was (perfect hiding, shown constructively).
        #[test]
        fn t_shares_fit_any_secret(n in 3usize..10, seed in any::<u64>(), s in 0..field::P, other in 0..field::P) {
            let t = max_threshold(n);
            let mut rng = StdRng::seed_from_u64(seed);
            let shares = share(&[Fp::new(s)], t, n, &mut rng).unwrap();
            let seen = subset(n, t, seed);
            // polynomial through (0, other) and the t seen shares, evaluated at the seen points again
            let mut xs = vec![Fp::ZERO];
            let mut ys = vec![Fp::new(other)];
            for &i in &seen { xs.push(x_of(i)); ys.push(shares[i][0]); }
            for &i in &seen {
                let l = lagrange_at(&xs, x_of(i)).unwrap();
                let v: Fp = l.iter().zip(&ys).map(|(a, b)| *a * *b).sum();
                prop_assert_eq!(v, shares[i][0]);
            }
            // and that polynomial has degree ≤ t, so it is a valid sharing of `other`
            prop_assert_eq!(xs.len(), t + 1);
        }

        #[test]
        fn corrupted_share_is_detected(seed in any::<u64>(), v in 0..field::P, bit in 0u32..127) {
            let mut rng = StdRng::seed_from_u64(seed);
            let shares = share(&[Fp::new(v), Fp::new(v / 3)], 2, 5, &mut rng).unwrap();
            let salt = [7u8; 32];
            let c = commitment(&salt, x_of(1), &shares[1]);
            let mut bad = shares[1].clone();
            bad[0] = Fp::new(bad[0].value() ^ (1u128 << bit));
            prop_assert_ne!(commitment(&salt, x_of(1), &bad), c);
            prop_assert_eq!(commitment(&salt, x_of(1), &shares[1]), c);
        }
    }

    /// Statistical check that a single share's low byte is uniform whatever the secret is.
    #[test]
    fn single_share_is_uniform() {
        let mut rng = StdRng::seed_from_u64(42);
        for secret in [Fp::ZERO, Fp::from_u64(24), Fp::new(field::P - 1)] {
            let mut counts = [0u32; 16];
            let trials = 16_000;
            for _ in 0..trials {
                let s = share(&[secret], 1, 3, &mut rng).unwrap();
                counts[(s[0][0].value() & 15) as usize] += 1;
            }
            let expected = trials as f64 / 16.0;
            let chi2: f64 = counts.iter().map(|&c| (c as f64 - expected).powi(2) / expected).sum();
            // 15 degrees of freedom: p = 0.001 critical value is 37.7
            assert!(chi2 < 37.7, "chi2 = {chi2} for secret {secret:?}");
        }
    }

    #[test]
    fn too_few_shares_is_an_error() {
        let mut rng = StdRng::seed_from_u64(1);
        let shares = share(&[Fp::ONE], 2, 5, &mut rng).unwrap();
        let pts: Vec<(Fp, &[Fp])> = vec![(x_of(0), &shares[0]), (x_of(1), &shares[1])];
        assert_eq!(reconstruct(&pts, 2), Err(ShamirError::NotEnoughShares { need: 3, got: 2 }));
        assert!(share(&[Fp::ONE], 3, 3, &mut rng).is_err());
    }
}
