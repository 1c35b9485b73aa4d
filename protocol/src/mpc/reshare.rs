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

use super::{MpcError, Party, Transport, deal, decode};
use crate::field::{self, Fp};
use crate::shamir;

/// One resharing round. `dealers` lists (participant index, x-coordinate of its source share);
/// `my_share` is this participant's source share if it is a dealer; `len` the number of elements.
/// Returns the new share for committee members (participants 0..n), `None` for pure dealers.
pub async fn reshare_in<T: Transport>(
    party: &mut Party<T>,
    dealers: &[(usize, Fp)],
    my_share: Option<&[Fp]>,
    len: usize,
) -> Result<Option<Vec<Fp>>, MpcError> {
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
