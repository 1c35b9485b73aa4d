//! Resharing an input held by another custody group into the committee, without reconstructing it.
//!
//! Owns: the dealer side (a holder turns its share into a Lagrange-weighted sub-sharing for the
//! committee) and the committee side (sum of sub-shares). Must never reconstruct the secret, nor let
//! any committee member receive more than one share of any dealer's sub-sharing.
//!
//! Dealers are t_src + 1 holders of the source sharing with x-coordinates x_d. Dealer d deals a fresh
//! degree-t sharing of λ_d·s_d, where λ_d are the Lagrange coefficients at 0 for the dealers' x's;
//! committee member i keeps Σ_d (its share of λ_d·s_d), a degree-t sharing of Σ_d λ_d·s_d = secret at
//! x = i + 1. Any t committee members see t shares of each sub-sharing: uniformly random.
//!
//! **Active mode.** A corrupted dealer could deal a sub-sharing of anything. So each of the D
//! dealers deals its own share s_d unweighted, and the committee checks
//! that the points (x_d, s_d) lie on one polynomial of degree t_src: for every dealer e beyond the
//! first t_src + 1, z_e = s_e − Σ_k L_k(x_e)·s_k must be 0. It opens S = Σ γ·z over every element
//! and every such e, with γ from a coin opened after the dealing: S = 0 for honest dealers, and a
//! nonzero error survives with probability ≤ 1/p. With D ≥ 2·t_src + 1 dealers, the ≥ t_src + 1
//! honest ones fix the polynomial, so with ≤ t_src corrupted ones no wrong point fits it; with
//! fewer, only up to D − t_src − 1 lying dealers are sure to be caught. So a computation takes
//! 2·t_src + 1 dealers (`admission::min_dealers`, what every member checks); a repair with a
//! holder down takes those that are up (see `docs/threat-model.md`). S shows only the corrupted
//! dealers' errors. The secret is Σ_k λ_k·s_k over the first t_src + 1. A sub-sharing of the wrong
//! degree shows in the checked opening of S (and of everything computed from it).

use super::{MpcError, Party, Transport, deal, decode};
use crate::field::{self, Fp};
use crate::shamir;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// One resharing round. `dealers` lists (participant index, x-coordinate of its source share);
/// `my_share` is this participant's source share if it is a dealer; `len` the number of elements;
/// `src_t` the threshold of the source sharing. Returns the new share for committee members
/// (participants 0..n), `None` for pure dealers.
pub async fn reshare_in<T: Transport>(
    party: &mut Party<T>,
    dealers: &[(usize, Fp)],
    my_share: Option<&[Fp]>,
    len: usize,
    src_t: usize,
) -> Result<Option<Vec<Fp>>, MpcError> {
    if party.active() {
        return reshare_checked(party, dealers, my_share, len, src_t).await;
    }
    let me = party.tr.me();
    let n = party.n;
    let xs: Vec<Fp> = dealers.iter().map(|(_, x)| *x).collect();
    let lam = shamir::lagrange_at_zero(&xs).map_err(|e| MpcError::Config(e.to_string()))?;
    if dealers.iter().any(|(p, _)| *p >= party.tr.parties()) {
        return Err(MpcError::Config("dealer index outside the transport".into()));
    }
    let my_pos = dealers.iter().position(|(p, _)| *p == me);
    let mut out = Vec::new();
    let mut own: Option<Vec<Fp>> = None;
    if let Some(pos) = my_pos {
        let s = my_share.ok_or_else(|| MpcError::Config("dealer without a share".into()))?;
        if s.len() != len {
            return Err(MpcError::Shape(format!("share has {} elements, expected {len}", s.len())));
        }
        let weighted: Vec<Fp> = s.iter().map(|v| *v * lam[pos]).collect();
        let subs = deal(&weighted, party.t, n, &mut party.rng);
        for (j, sub) in subs.into_iter().enumerate() {
            if j == me {
                own = Some(sub);
            } else {
                out.push((j, field::to_bytes_vec(&sub)));
            }
        }
    }
    let from: Vec<usize> = if me < n { dealers.iter().map(|(p, _)| *p).filter(|p| *p != me).collect() } else { vec![] };
    let got = party.exchange(out, &from).await?;
    if me >= n {
        return Ok(None);
    }
    let mut acc = own.unwrap_or_else(|| vec![Fp::ZERO; len]);
    for (k, msg) in got.iter().enumerate() {
        let sub = decode(from[k], msg, len)?;
        for (a, s) in acc.iter_mut().zip(&sub) {
            *a += *s;
        }
    }
    Ok(Some(acc))
}

/// Active mode's resharing: unweighted sub-sharings from ≥ 2·src_t + 1 dealers, checked to lie on
/// one degree-src_t polynomial (module doc).
async fn reshare_checked<T: Transport>(
    party: &mut Party<T>,
    dealers: &[(usize, Fp)],
    my_share: Option<&[Fp]>,
    len: usize,
    src_t: usize,
) -> Result<Option<Vec<Fp>>, MpcError> {
    let me = party.tr.me();
    let n = party.n;
    if dealers.len() < src_t + 1 {
        return Err(MpcError::Invalid(format!("resharing needs t + 1 = {} dealers, got {}", src_t + 1, dealers.len())));
    }
    if dealers.iter().any(|(p, _)| *p >= party.tr.parties()) {
        return Err(MpcError::Config("dealer index outside the transport".into()));
    }
    let xs: Vec<Fp> = dealers.iter().map(|(_, x)| *x).collect();
    let base = &xs[..=src_t];
    let lam = shamir::lagrange_at_zero(base).map_err(|e| MpcError::Config(e.to_string()))?;
    let predict = xs[src_t + 1..]
        .iter()
        .map(|x| shamir::lagrange_at(base, *x).map_err(|e| MpcError::Config(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let my_pos = dealers.iter().position(|(p, _)| *p == me);
    let mut out = Vec::new();
    let mut own: Option<Vec<Fp>> = None;
    if my_pos.is_some() {
        let s = my_share.ok_or_else(|| MpcError::Config("dealer without a share".into()))?;
        if s.len() != len {
            return Err(MpcError::Shape(format!("share has {} elements, expected {len}", s.len())));
        }
        #[allow(unused_mut)]
        let mut s = s.to_vec();
        #[cfg(any(test, feature = "cheat"))]
        if party.cheat == Some(super::verify::Cheat::Reshare) {
            s = super::verify::nudge(&s);
        }
        let subs = deal(&s, party.t, n, &mut party.rng);
        for (j, sub) in subs.into_iter().enumerate() {
            if j == me {
                own = Some(sub);
            } else {
                out.push((j, field::to_bytes_vec(&sub)));
            }
        }
    }
    let from: Vec<usize> = if me < n { dealers.iter().map(|(p, _)| *p).filter(|p| *p != me).collect() } else { vec![] };
    let got = party.exchange(out, &from).await?;
    if me >= n {
        return Ok(None);
    }
    let mut subs: Vec<Vec<Fp>> = Vec::with_capacity(dealers.len());
    let mut k = 0;
    for (p, _) in dealers {
        if *p == me {
            subs.push(own.take().unwrap_or_default());
        } else {
            subs.push(decode(from[k], &got[k], len)?);
            k += 1;
        }
    }
    let mut acc = vec![Fp::ZERO; len];
    for (sub, l) in subs.iter().zip(&lam) {
        for (a, v) in acc.iter_mut().zip(sub) {
            *a += *v * *l;
        }
    }
    if predict.is_empty() {
        // t_src + 1 dealers: any t_src + 1 points fit a polynomial of degree t_src, nothing to check
        return Ok(Some(acc));
    }
    let rs = party.take_rands(1).await?;
    // Mask: a fresh DN random, opened after every dealer has dealt.
    let coin = party.open(&rs, party.t, "coin").await?[0];
    let mut g = StdRng::from_seed(super::prep_active::coin_seed(coin));
    let mut sum = Fp::ZERO;
    for (e, coeffs) in predict.iter().enumerate() {
        let se = &subs[src_t + 1 + e];
        for i in 0..len {
            let mut z = se[i];
            for (kk, l) in coeffs.iter().enumerate() {
                z -= subs[kk][i] * *l;
            }
            sum += Fp::random(&mut g) * z;
        }
    }
    // Mask: S is 0 for honest dealers (module doc); it shows only the corrupted dealers' errors.
    let s = party.open(&[sum], party.t, "reshare-check").await?[0];
    if s != Fp::ZERO {
        return Err(MpcError::Integrity("the holders' shares of an input do not lie on one polynomial".into()));
    }
    Ok(Some(acc))
}
