//! Active mode's preprocessing: Beaver triples checked by sacrifice, random bits from squares, and
//! truncation pairs composed of those bits, so that nothing a corrupted member deals can bias them.
//!
//! Owns: `preprocess_active`. Must never hand out a triple before its sacrifice check has passed,
//! never let a member contribute a bit or a mask of its own choosing, and never open anything but
//! `ab − r` (degree 2t, uniformly masked), `ρa − a'`, `r − a`, `r − b`, `r²`, the coins and the
//! sacrifice sum (0 when everyone is honest).
//!
//! Security argument (up to t corrupted members, n ≥ 2t + 1; "checked" openings are `open.rs`'s):
//! - **Randoms** come from DN extraction (`prep.rs`): uniform and unknown to the coalition, whatever
//!   it deals. A corrupted dealer may deal shares that lie on no degree-t polynomial; any later
//!   checked opening of a combination that involves them then fails (abort), except with
//!   probability ≤ 1/p over the coins.
//! - **Triples** (a, b, c) with c = ab + e: e is the additive error the coalition can cause in a DN
//!   product (a wrong share of ab − r, or inconsistent doubles), fixed before the coins are opened.
//!   Each triple is made twice, (a, b, c) and (a', b, c'), with a' fresh. After the products, the
//!   committee opens two coins ρ and γ-seed (checked openings of randoms, so nobody knows or biases
//!   them before the errors are fixed), opens ε = ρa − a' (uniform: a' masks it), and opens
//!   S = Σ γ_i (ρ c_i − c'_i − ε_i b_i) = Σ γ_i (ρ e_i − e'_i), which must be 0. For any nonzero error
//!   vector, S = 0 with probability ≤ 2/p ≈ 2^-126 over (ρ, γ). (a', c') are discarded.
//! - **Bits**: for a random [r], [r²] by Beaver with one of the triples above, then r² is opened
//!   (it shows r up to its sign, and the sign is the bit), and b = (r/√(r²) + 1)/2 (p ≡ 3 mod 4, so
//!   √s = s^((p+1)/4)). Once the triple is correct and the opening checked, r/√(r²) = ±1 exactly, so
//!   b ∈ {0, 1}, uniform, and unknown to the coalition. The squares are opened in the same round as S
//!   and used only if S = 0. Nobody deals a bit, so "dealing ½" is impossible.
//! - **Truncation pairs** (r, q) for a divisor D: r = D·q + s with q = Σ 2^i b_i (kq bits) and
//!   s = Σ 2^i b'_i (⌈log2 D⌉ bits), all from the bits above: r is uniform on a range D·2^kq, as the
//!   masking argument of `trunc.rs` needs, and s < 2D, so the truncation error is in [0, 2] ⊆ [0, t+1].
//!
//! Rounds: deal, DN products, coins, (ε and the squares' Beaver openings), (S and the squares).

use super::prep::{Needs, PairSpec};
use super::{MpcError, Party, Transport};
use crate::field::Fp;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Bits of the low part s of a truncation pair for divisor d (s < 2^m, 2^m < 2d).
fn low_bits(d: u128) -> u32 {
    if d <= 1 { 0 } else { 128 - (d - 1).leading_zeros() }
}

/// Items (triples, bits) one active preprocessing round makes at most, so that no round's message
/// grows with the size of the computation (a window of about 10 MB per peer).
const WINDOW: usize = 1 << 17;

/// Splits `needs` into windows of at most [`WINDOW`] items (a truncation pair counts its bits).
fn windows(needs: &Needs) -> Vec<Needs> {
    let mut out = vec![Needs::default()];
    let mut room = WINDOW;
    let put =
        |out: &mut Vec<Needs>, room: &mut usize, mut count: usize, cost: usize, add: &dyn Fn(&mut Needs, usize)| {
            while count > 0 {
                if *room < cost {
                    out.push(Needs::default());
                    *room = WINDOW;
                }
                let k = count.min(*room / cost).max(1);
                add(out.last_mut().expect("one window"), k);
                *room = room.saturating_sub(k * cost);
                count -= k;
            }
        };
    put(&mut out, &mut room, needs.triples + needs.doubles, 1, &|n, k| n.triples += k);
    put(&mut out, &mut room, needs.bits, 1, &|n, k| n.bits += k);
    for &(spec, k) in &needs.pairs {
        let cost = (spec.kq + low_bits(spec.d)) as usize;
        put(&mut out, &mut room, k, cost.max(1), &|n, c| n.pair(spec, c));
    }
    if let Some(last) = out.last_mut() {
        last.randoms += needs.randoms;
    }
    out
}

impl<T: Transport> Party<T> {
    pub(crate) async fn preprocess_active(&mut self, needs: &Needs) -> Result<(), MpcError> {
        let ws = windows(needs);
        let many = ws.len() > 1;
        for w in ws {
            self.preprocess_window(&w).await?;
            if many {
                self.note("preprocessing");
            }
        }
        Ok(())
    }

    async fn preprocess_window(&mut self, needs: &Needs) -> Result<(), MpcError> {
        self.check_member()?;
        let t = self.t;
        let pairs: Vec<(PairSpec, usize, u32)> =
            needs.pairs.iter().filter(|(_, k)| *k > 0).map(|&(s, k)| (s, k, low_bits(s.d))).collect();
        let pair_bits: usize = pairs.iter().map(|(s, k, m)| k * (s.kq + m) as usize).sum();
        let nbits = needs.bits + pair_bits;
        // products that `mul_dn` / `reduce` would take semi-honestly come out of triples here
        let nt_out = needs.triples + needs.doubles;
        let nt = nt_out + nbits;
        let coins = if nt > 0 { 2 } else { 0 };
        let n_rand = 3 * nt + nbits + coins + needs.randoms;
        let n_dbl = 2 * nt;

        // ---- round 1: deal ----
        let (rands, dt, d2) = self.deal_randoms(n_rand, n_dbl).await?;
        let (a, rest) = rands.split_at(nt);
        let (a2, rest) = rest.split_at(nt);
        let (b, rest) = rest.split_at(nt);
        let (rb, rest) = rest.split_at(nbits);
        let (coin_sh, extra) = rest.split_at(coins);
        if !extra.is_empty() {
            self.pools.rands.push(vec![extra.to_vec()]);
        }
        if nt == 0 {
            return Ok(());
        }

        // ---- round 2: DN products ab and a'b (degree 2t, masked by fresh doubles) ----
        let mut z = Vec::with_capacity(2 * nt);
        z.extend((0..nt).map(|i| a[i] * b[i] - d2[i]));
        z.extend((0..nt).map(|i| a2[i] * b[i] - d2[nt + i]));
        let w = self.open(&z, 2 * t, "dn-mul").await?;
        drop(z);
        let c: Vec<Fp> = (0..nt).map(|i| w[i] + dt[i]).collect();
        let c2: Vec<Fp> = (0..nt).map(|i| w[nt + i] + dt[nt + i]).collect();
        drop(w);

        // ---- round 3: coins, after every error of the products is fixed ----
        let coin = self.open(coin_sh, t, "coin").await?;
        let rho = coin[0];
        let mut gamma_rng = StdRng::from_seed(coin_seed(coin[1]));

        // ---- round 4: ε = ρa − a', and the Beaver openings of the bits' squares ----
        let sq = &(nt_out..nt); // the triples that square the bits' randoms
        let mut o = Vec::with_capacity(nt + 2 * nbits);
        o.extend((0..nt).map(|i| rho * a[i] - a2[i]));
        o.extend(rb.iter().zip(sq.clone()).map(|(r, j)| *r - a[j]));
        o.extend(rb.iter().zip(sq.clone()).map(|(r, j)| *r - b[j]));
        // Mask: a' (fresh) masks ε; a and b (fresh, used once) mask r − a and r − b.
        let opened = self.open(&o, t, "sacrifice").await?;
        drop(o);
        let (eps, de) = opened.split_at(nt);
        let (dd, ee) = de.split_at(nbits);
        let mut s = Fp::ZERO;
        for i in 0..nt {
            let g = Fp::random(&mut gamma_rng);
            s += g * (rho * c[i] - c2[i] - eps[i] * b[i]);
        }
        let squares: Vec<Fp> =
            sq.clone().enumerate().map(|(k, j)| c[j] + dd[k] * b[j] + ee[k] * a[j] + dd[k] * ee[k]).collect();

        // ---- round 5: the sacrifice sum and the squares ----
        let mut o = Vec::with_capacity(1 + nbits);
        o.push(s);
        o.extend_from_slice(&squares);
        // Mask: S is 0 unless someone cheated (then it shows only the cheaters' errors); r² shows r
        // up to the sign, which stays secret.
        let opened = self.open(&o, t, "sacrifice").await?;
        if opened[0] != Fp::ZERO {
            return Err(MpcError::Integrity("a multiplication triple failed its sacrifice check".into()));
        }
        let half = Fp::new(2).inv().unwrap_or(Fp::ZERO);
        let mut bits = Vec::with_capacity(nbits);
        for (k, sqv) in opened[1..].iter().enumerate() {
            let root = sqv.sqrt().and_then(|r| r.inv()).ok_or_else(|| {
                // r = 0 happens with probability 2^-127; a non-square cannot pass the sacrifice
                MpcError::Integrity("a random square is zero or not a square".into())
            })?;
            bits.push((rb[k] * root + Fp::ONE) * half);
        }
        self.counters.mults += (2 * nt + nbits) as u64;

        // ---- into the pools ----
        if nt_out > 0 {
            self.pools.triples.push(vec![a[..nt_out].to_vec(), b[..nt_out].to_vec(), c[..nt_out].to_vec()]);
        }
        let (plain, mut rest) = bits.split_at(needs.bits);
        if !plain.is_empty() {
            self.pools.bits.push(vec![plain.to_vec()]);
        }
        for (spec, k, m) in pairs {
            let (m, kq) = (m as usize, spec.kq as usize);
            let (mine, tail) = rest.split_at(k * (m + kq));
            rest = tail;
            let mut r = Vec::with_capacity(k);
            let mut q = Vec::with_capacity(k);
            for e in 0..k {
                let chunk = &mine[e * (m + kq)..(e + 1) * (m + kq)];
                let sv = super::bits::compose(&chunk[..m]);
                let qv = super::bits::compose(&chunk[m..]);
                r.push(Fp::new(spec.d) * qv + sv);
                q.push(qv);
            }
            self.push_pairs(spec, r, q);
        }
        Ok(())
    }
}

/// A PRG seed from an opened coin (the same on every member).
pub(crate) fn coin_seed(coin: Fp) -> [u8; 32] {
    let mut seed = [0u8; 32];
    seed[..16].copy_from_slice(&coin.to_bytes());
    seed[16..].copy_from_slice(b"enigma-coin-prg\0");
    seed
}
