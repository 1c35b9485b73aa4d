//! Active mode's preprocessing: Beaver triples checked by sacrifice, random bits from squares, and
//! truncation pairs composed of those bits, so that nothing a corrupted member deals can bias them.
//!
//! Owns: `preprocess_active`. Must never hand out a triple before its sacrifice check has passed,
//! never let a member contribute a bit or a mask of its own choosing (the one exception, the high
//! part r'' of a comparison mask, is made harmless by the comparison's own bit check: `compare.rs`),
//! and never open anything but
//! `ab − r` (degree 2t, uniformly masked), `ρa − a'`, `ρr − r'`, `r²`, the coins and the
//! sacrifice sum (0 when everyone is honest).
//!
//! Security argument (up to t corrupted members, n ≥ 2t + 1; "checked" openings are `open.rs`'s):
//! - **Randoms** come from PRSS (`prss.rs`, committees of up to 7) or DN extraction (`prep.rs`):
//!   uniform and unknown to the coalition, whatever it deals or computes. A corrupted member may hold
//!   or deal shares that lie on no degree-t polynomial; any later
//!   checked opening of a combination that involves them then fails (abort), except with
//!   probability ≤ 1/p over the coins.
//! - **Triples** (a, b, c) with c = ab + e: e is the additive error the coalition can cause in a DN
//!   product (a wrong share of ab − r, or inconsistent doubles), fixed before the coins are opened.
//!   Each triple is made twice, (a, b, c) and (a', b, c'), with a' fresh. After the products, the
//!   committee opens two coins ρ and γ-seed (checked openings of randoms, so nobody knows or biases
//!   them before the errors are fixed), opens ε = ρa − a' (uniform: a' masks it), and opens
//!   S = Σ γ_i (ρ c_i − c'_i − ε_i b_i) = Σ γ_i (ρ e_i − e'_i), which must be 0. For any nonzero error
//!   vector, S = 0 with probability ≤ 2/p ≈ 2^-126 over (ρ, γ). (a', c') are discarded.
//! - **Bits**: for a random [r], [r²] is a DN product, sacrificed like a triple (r, r, r²) against
//!   (r', r, r'r) with r' fresh: ε' = ρr − r' is opened (r' masks it) and ρ·r² − r'r − ε'·r joins the
//!   sum S. Then r² is opened (it shows r up to its sign, and the sign is the bit), and
//!   b = (r/√(r²) + 1)/2 (p ≡ 3 mod 4, so √s = s^((p+1)/4)). Once S = 0 the square is right and the
//!   opening checked, so r/√(r²) = ±1 exactly, b ∈ {0, 1}, uniform, and unknown to the coalition. A
//!   square opened with an error shows only r² plus the coalition's own error, and S catches it
//!   before any bit is used. Nobody deals a bit, so "dealing ½" is impossible.
//! - **Truncation pairs** (r, q) for a divisor D: r = D·q + s with q = Σ 2^i b_i (kq bits) and
//!   s = Σ 2^i b'_i (⌈log2 D⌉ bits), all from the bits above: r is uniform on a range D·2^kq, as the
//!   masking argument of `trunc.rs` needs, and s < 2D, so the truncation error is in [0, 2] ⊆ [0, t+1].
//!
//! - **Comparison high masks** r'' (`compare.rs`'s LTZ_HIGH): contributed by members 0..=t, one
//!   dealing round, unchecked here; see `compare.rs` for why a wrong one only fails the bit check.
//!
//! Rounds: (PRSS keys, once per session), DN products, coins, (ε, ε' and the squares), S.

use super::compare::LTZ_HIGH;
use super::prep::{Dealer, Needs, PairSpec, random_bits_u128};
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
        let cost = if spec == LTZ_HIGH { 1 } else { (spec.kq + low_bits(spec.d)) as usize };
        put(&mut out, &mut room, k, cost.max(1), &|n, c| n.pair(spec, c));
    }
    if let Some(last) = out.last_mut() {
        last.randoms += needs.randoms;
    }
    out
}

impl<T: Transport> Party<T> {
    pub(crate) async fn preprocess_active(&mut self, needs: &Needs) -> Result<(), MpcError> {
        // a comparison's bit check: a triple per compared value, a triple and two randoms per call
        let mut needs = needs.clone();
        let high: usize = needs.pairs.iter().filter(|(s, _)| *s == LTZ_HIGH).map(|(_, k)| k).sum();
        needs.triples += high + needs.bit_checks;
        needs.randoms += 2 * needs.bit_checks;
        needs.bit_checks = 0;
        let ws = windows(&needs);
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
        let high: usize = needs.pairs.iter().filter(|(s, _)| *s == LTZ_HIGH).map(|(_, k)| k).sum();
        if high > 0 {
            self.contribute_high_masks(high).await?;
        }
        let pairs: Vec<(PairSpec, usize, u32)> =
            needs.pairs.iter().filter(|(s, k)| *k > 0 && *s != LTZ_HIGH).map(|&(s, k)| (s, k, low_bits(s.d))).collect();
        let pair_bits: usize = pairs.iter().map(|(s, k, m)| k * (s.kq + m) as usize).sum();
        let nb = needs.bits + pair_bits;
        // products that `mul_dn` / `reduce` would take semi-honestly come out of triples here
        let nt = needs.triples + needs.doubles;
        let coins = if nt + nb > 0 { 2 } else { 0 };
        let n_rand = 3 * nt + 2 * nb + coins + needs.randoms;
        let n_dbl = 2 * (nt + nb);

        // ---- round 1: deal (no message once the PRSS keys are agreed) ----
        let (rands, dt, d2) = self.deal_randoms(n_rand, n_dbl).await?;
        let (a, rest) = rands.split_at(nt);
        let (a2, rest) = rest.split_at(nt);
        let (b, rest) = rest.split_at(nt);
        let (rb, rest) = rest.split_at(nb);
        let (rb2, rest) = rest.split_at(nb);
        let (coin_sh, extra) = rest.split_at(coins);
        if !extra.is_empty() {
            self.pools.rands.push(vec![extra.to_vec()]);
        }
        if nt + nb == 0 {
            return Ok(());
        }

        // ---- round 2: DN products ab, a'b, r·r and r'·r (degree 2t, masked by fresh doubles) ----
        let mut z = Vec::with_capacity(n_dbl);
        z.extend((0..nt).map(|i| a[i] * b[i] - d2[i]));
        z.extend((0..nt).map(|i| a2[i] * b[i] - d2[nt + i]));
        z.extend((0..nb).map(|k| rb[k] * rb[k] - d2[2 * nt + k]));
        z.extend((0..nb).map(|k| rb2[k] * rb[k] - d2[2 * nt + nb + k]));
        let w = self.open(&z, 2 * t, "dn-mul").await?;
        drop(z);
        let prod: Vec<Fp> = w.iter().zip(&dt).map(|(w, d)| *w + *d).collect();
        drop(w);
        let (c, rest) = prod.split_at(nt);
        let (c2, rest) = rest.split_at(nt);
        let (sq, sq2) = rest.split_at(nb);

        // ---- round 3: coins, after every error of the products is fixed ----
        let coin = self.open(coin_sh, t, "coin").await?;
        let rho = coin[0];
        let mut gamma_rng = StdRng::from_seed(coin_seed(coin[1]));

        // ---- round 4: ε = ρa − a' and ε' = ρr − r', and the squares ----
        let mut o = Vec::with_capacity(nt + 2 * nb);
        o.extend((0..nt).map(|i| rho * a[i] - a2[i]));
        o.extend((0..nb).map(|k| rho * rb[k] - rb2[k]));
        o.extend_from_slice(sq);
        // Mask: a' and r' (fresh, used once) mask ε and ε'; r² shows r up to the sign, which stays
        // secret. A wrong square shows only r² plus the coalition's own error.
        let opened = self.open(&o, t, "sacrifice").await?;
        drop(o);
        let (eps, rest) = opened.split_at(nt);
        let (eps2, squares) = rest.split_at(nb);
        let mut s = Fp::ZERO;
        for i in 0..nt {
            let g = Fp::random(&mut gamma_rng);
            s += g * (rho * c[i] - c2[i] - eps[i] * b[i]);
        }
        for k in 0..nb {
            let g = Fp::random(&mut gamma_rng);
            s += g * (rho * sq[k] - sq2[k] - eps2[k] * rb[k]);
        }

        // ---- round 5: the sacrifice sum ----
        // Mask: S is 0 unless someone cheated (then it shows only the cheaters' errors).
        let opened_s = self.open(&[s], t, "sacrifice").await?;
        if opened_s[0] != Fp::ZERO {
            return Err(MpcError::Integrity("a multiplication triple failed its sacrifice check".into()));
        }
        let half = Fp::new(2).inv().unwrap_or(Fp::ZERO);
        let mut bits = Vec::with_capacity(nb);
        for (k, sqv) in squares.iter().enumerate() {
            let root = sqv.sqrt().and_then(|r| r.inv()).ok_or_else(|| {
                // r = 0 happens with probability 2^-127; a non-square cannot pass the sacrifice
                MpcError::Integrity("a random square is zero or not a square".into())
            })?;
            bits.push((rb[k] * root + Fp::ONE) * half);
        }
        self.counters.mults += (2 * (nt + nb)) as u64;
        // ---- into the pools ----
        if nt > 0 {
            self.pools.triples.push(vec![a.to_vec(), b.to_vec(), c.to_vec()]);
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

impl<T: Transport> Party<T> {
    /// `k` comparison high masks r'' = Σ_{j ≤ t} r''_j, each r''_j uniform on [0, 2^kq) dealt by
    /// member j (one round). Not checked here: `compare.rs` explains why a wrong one can only
    /// make the comparison's bit check fail.
    async fn contribute_high_masks(&mut self, k: usize) -> Result<(), MpcError> {
        let me = self.check_member()?;
        let (n, t) = (self.n, self.t);
        let mut dealer = Dealer::new(n, t, if me <= t { k } else { 0 });
        if me <= t {
            for _i in 0..k {
                #[allow(unused_mut)]
                let mut q = Fp::new(random_bits_u128(&mut self.rng, LTZ_HIGH.kq));
                #[cfg(any(test, feature = "cheat"))]
                if _i == 0 && self.cheat == Some(super::verify::Cheat::LtzHigh) {
                    q = Fp::new(1u128 << 126);
                }
                dealer.deal(q, t, &mut self.rng);
            }
        }
        let received = self.exchange_dealt(dealer, |s| if s <= t { k } else { 0 }).await?;
        let mut r = vec![Fp::ZERO; k];
        for rec in received.iter().take(t + 1) {
            for (acc, v) in r.iter_mut().zip(rec) {
                *acc += *v;
            }
        }
        self.push_pairs(LTZ_HIGH, r.clone(), r);
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
