//! Secret comparison (Catrina–de Hoogh LTZ) and max/min tournaments.
//!
//! Owns: `ltz` (is a secret below zero), and the tournament that finds the max/min of a secret
//! vector with its index. Must never open a comparison result: results stay shared, and only the
//! final winner (or its index) is an output, to the requester.
//!
//! LTZ for a ∈ [−2^(k−1), 2^(k−1)): x = a + 2^(k−1) ∈ [0, 2^k) and [a ≥ 0] = bit k−1 of x.
//! With m = k − 1 shared random bits r' and a contributed r'' of κ + 2 bits per contributor, open
//! c = x + r' + 2^m·r''. Masking: c mod 2^m = (x + r') mod 2^m is uniform (r' uniform on [0, 2^m));
//! the high part ⌊(x + r')/2^m⌋ < 4 is hidden by the honest contributor's share of r'', uniform on
//! 2^(κ+2) values: statistical distance ≤ 2^-κ. Then x mod 2^m = c' − r' + 2^m·[c' < r'] with
//! c' = c mod 2^m (BitLT, `bits.rs`), and [a ≥ 0] = (x − x mod 2^m)/2^m, exact in the field.
//! No wrap: c < 2^(k+1) + 2^m·(t+1)·2^(κ+2), checked per call.
//!
//! **Active mode.** r' is made of checked bits (`prep_active.rs`), but r'' is still contributed by
//! t + 1 members, each uniform on [0, 2^(κ+2)): composing it of checked bits too would cost κ + 2
//! more bits per comparison. A contributor may deal any r''_j. Masking still holds (the honest
//! contribution hides the top, and the coalition knows its own r''_j). What it can do is make c
//! wrap mod p: w wraps (of 2^m·R mod p, and of the sum) change c mod 2^m to (x + r' + w) mod 2^m,
//! since p ≡ −1 mod 2^m, with 0 ≤ w ≤ 2^m. Then the output is b + w/2^m − carry, carry ∈ {0, 1},
//! which is a bit only if w ≡ 0 mod 2^m — and then c mod 2^m, hence the output, is right. So every
//! output is a bit iff every output is right, and
//! `check_bits` (one Beaver product per comparison and a masked zero test per call) aborts
//! otherwise before any output is used. Whether c wraps depends on the secret only through
//! x + r' < 2^(m+1) against the honest r'' range 2^(m+κ+2): the abort leaks ≤ 2^-κ.

use super::prep::PairSpec;
use super::{KAPPA, MpcError, Party, Transport};
use crate::field::{Fp, P};

/// The contributed high mask of LTZ.
pub(crate) const LTZ_HIGH: PairSpec = PairSpec { d: 1, kq: KAPPA + 2 };

/// Checks that LTZ on k-bit signed values fits in the field.
pub(crate) fn ltz_check(k: u32, t: usize) -> Result<(), MpcError> {
    let ok = (2..120).contains(&k)
        && (1u128 << (k - 1))
            .checked_mul((t as u128 + 1) << (KAPPA + 2))
            .and_then(|v| v.checked_add(1u128 << (k + 1)))
            .is_some_and(|v| v < P);
    if ok {
        Ok(())
    } else {
        Err(MpcError::OutOfRange(format!("comparison of {k}-bit values leaves no room for {KAPPA} bits of masking")))
    }
}

impl<T: Transport> Party<T> {
    /// [a < 0] for each secret a ∈ [−2^(k−1), 2^(k−1)).
    pub async fn ltz(&mut self, a: &[Fp], k: u32) -> Result<Vec<Fp>, MpcError> {
        ltz_check(k, self.t)?;
        let count = a.len();
        if count == 0 {
            return Ok(vec![]);
        }
        let m = (k - 1) as usize;
        let r1 = self.take_bits(count * m).await?;
        let (_, r2) = self.take_pairs(LTZ_HIGH, count).await?;
        let two_m = Fp::new(1u128 << m);
        let mut rp = Vec::with_capacity(count);
        let mut masked = Vec::with_capacity(count);
        for e in 0..count {
            let r = super::bits::compose(&r1[e * m..(e + 1) * m]);
            rp.push(r);
            masked.push(a[e] + two_m + r + two_m * r2[e]);
        }
        // Mask: r' uniform on [0, 2^m) and r'' statistically hiding the top (module doc).
        let c = self.open(&masked, self.t, "ltz").await?;
        let low: Vec<u128> = c.iter().map(|c| c.value() & ((1u128 << m) - 1)).collect();
        let u = self.bit_lt(&low, &r1, m).await?;
        let inv = two_m.inv().unwrap_or(Fp::ZERO);
        self.counters.comparisons += count as u64;
        let out: Vec<Fp> = (0..count)
            .map(|e| {
                let xmod = Fp::new(low[e]) - rp[e] + two_m * u[e];
                let x = a[e] + two_m;
                Fp::ONE - (x - xmod) * inv
            })
            .collect();
        if self.active() {
            // The high masks r'' are contributed (not made of checked bits): a contributor's
            // r'' out of range wraps c, and then no output is a bit (verify.rs, `check_bits`).
            self.check_bits(&out).await?;
        }
        Ok(out)
    }

    /// Max (or min) of secret k-bit signed values, with the secret index of the winner (the first
    /// one on ties). log2 N rounds of batched comparisons; nothing is opened but LTZ/Beaver masks.
    pub async fn tournament(&mut self, vals: &[Fp], k: u32, want_max: bool) -> Result<(Fp, Fp), MpcError> {
        if vals.is_empty() {
            return Err(MpcError::Invalid("max/min of no values".into()));
        }
        let mut v = vals.to_vec();
        let mut idx: Vec<Fp> = (0..vals.len()).map(|i| Fp::from_u64(i as u64)).collect();
        while v.len() > 1 {
            let half = v.len() / 2;
            // max: later wins only if strictly greater: b = [v0 − v1 < 0]; min: b = [v1 − v0 < 0]
            let diffs: Vec<Fp> = (0..half)
                .map(|j| {
                    let (a, b) = (v[2 * j], v[2 * j + 1]);
                    if want_max { a - b } else { b - a }
                })
                .collect();
            let b = self.ltz(&diffs, k + 1).await?;
            let mut bb = b.clone();
            bb.extend_from_slice(&b);
            let mut d: Vec<Fp> = (0..half).map(|j| v[2 * j + 1] - v[2 * j]).collect();
            d.extend((0..half).map(|j| idx[2 * j + 1] - idx[2 * j]));
            let sel = self.mul(&bb, &d).await?;
            let mut nv: Vec<Fp> = (0..half).map(|j| v[2 * j] + sel[j]).collect();
            let mut ni: Vec<Fp> = (0..half).map(|j| idx[2 * j] + sel[half + j]).collect();
            if v.len() % 2 == 1 {
                nv.push(v[v.len() - 1]);
                ni.push(idx[idx.len() - 1]);
            }
            v = nv;
            idx = ni;
            self.step("tournament");
        }
        Ok((v[0], idx[0]))
    }
}

/// Preprocessing `count` LTZ evaluations on k-bit values consume.
pub(crate) fn ltz_needs(count: usize, k: u32) -> super::prep::Needs {
    let m = (k - 1) as usize;
    let mut n = super::prep::Needs {
        bits: count * m,
        doubles: count * super::bits::carry_out_products(m),
        ..Default::default()
    };
    n.pair(LTZ_HIGH, count);
    n.bit_checks = 1;
    n
}

/// Preprocessing a tournament over `count` values of k bits consumes.
pub(crate) fn tournament_needs(count: usize, k: u32) -> super::prep::Needs {
    let mut n = super::prep::Needs::default();
    let mut len = count;
    while len > 1 {
        let half = len / 2;
        n.add(&ltz_needs(half, k + 1));
        n.triples += 2 * half;
        len -= half;
    }
    n
}
