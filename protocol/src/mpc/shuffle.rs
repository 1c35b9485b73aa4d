//! Secret uniform shuffle of shared vectors (the same secret permutation applied to several
//! vectors of one length), secure against an active coalition of up to t members.
//!
//! Owns: the resharing shuffle and, in active mode, the check that its output is a permutation of
//! its input. Must never open anything but fresh random coins and the masked check value; the
//! permutation itself is never known to any coalition of t members.
//!
//! **Protocol.** For every subset A of t + 1 members, in a fixed public order: each member of A
//! turns its Shamir share into an additive share among A (its share times its Lagrange coefficient
//! at 0 over A), permutes that additive share by π_A, and deals the result as a fresh degree-t
//! Shamir sharing to the whole committee; the sum of A's dealings is a sharing of π_A(v). π_A comes
//! from a seed only A knows: one round at the start, every member sends each other member a fresh
//! 32-byte contribution for each subset that holds both of them; seed_A is the XOR of A's
//! contributions, and π_A a Fisher–Yates shuffle driven by ChaCha (StdRng) from seed_A. The output
//! is σ(v) with σ = π_(A_m) ∘ … ∘ π_(A_1). Cost: C(n, t+1) rounds of dealing (3 at n = 3, 10 at
//! n = 5), each member of A sending its whole dealt vector to every member: no multiplication.
//!
//! **Secrecy.** At most t members are corrupt, so one subset A* is all honest: seed_A* is made of
//! honest contributions the coalition never sees, so π_A* is uniform and independent of its view;
//! the dealings are fresh degree-t sharings, of which the coalition sees t shares (uniform). Any
//! permutation composed with an independent uniform π_A* is uniform: σ is a uniform permutation
//! the coalition knows nothing about, whatever the corrupt members did with their own subsets.
//!
//! **Integrity (active mode).** A corrupt member of some A may deal anything (inconsistent
//! shares, wrong values) or send different seed contributions to different members. The output is
//! checked before it is used: (1) its shares lie on degree-t polynomials (`check_direct_inputs`,
//! one masked random combination), then (2) a coin is opened after the output is fixed, giving z
//! and weights w_k; with c_i = Σ_k w_k·v_k[i] for the input and c'_i likewise for the output,
//! D = Π(z − c_i) − Π(z − c'_i) is computed by a product tree of Beaver products (checked
//! triples), and ρ·D is opened for a fresh secret random ρ: it must be 0. If the output is not a
//! permutation of the input (as tuples), the multisets {c} ≠ {c'} except with probability ≤ N²/p
//! over w, and then D ≠ 0 except with probability ≤ N/p over z (a nonzero polynomial of degree
//! ≤ N); ρ·D is then uniform, so the opening shows nothing but "D ≠ 0". Nothing derived from the
//! shuffled vector is opened before the check passes.
//!
//! Residual leak (stated in docs/decisions.md): whether the check fails can depend on the data —
//! a member that adds a guessed difference δ to one element and −δ to another passes the check
//! exactly when the guess makes the output again a permutation of the input. Such a run aborts
//! with [`MpcError::Integrity`] (it is visible and attributable to the session), so the coalition
//! learns at most one guessed relation per aborted run.

use super::{MpcError, Party, Transport, decode};
use crate::field::{self, Fp};
use crate::shamir;
use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};

/// The subsets of `size` members of 0..n, in lexicographic order.
pub(crate) fn subsets(n: usize, size: usize) -> Vec<Vec<usize>> {
    fn go(start: usize, n: usize, size: usize, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if cur.len() == size {
            out.push(cur.clone());
            return;
        }
        for i in start..n {
            cur.push(i);
            go(i + 1, n, size, cur, out);
            cur.pop();
        }
    }
    let mut out = Vec::new();
    go(0, n, size, &mut Vec::new(), &mut out);
    out
}

/// The permutation of 0..len that seed drives (Fisher–Yates): output position j takes input perm[j].
pub(crate) fn permutation(seed: [u8; 32], len: usize) -> Vec<usize> {
    let mut g = StdRng::from_seed(seed);
    let mut p: Vec<usize> = (0..len).collect();
    for i in (1..len).rev() {
        let j = g.random_range(0..=i);
        p.swap(i, j);
    }
    p
}

impl<T: Transport> Party<T> {
    /// The vectors `vecs` (all of one length) shuffled by one secret uniform permutation; in
    /// active mode checked to be a permutation of the input (module doc) before it is returned.
    pub async fn shuffle(&mut self, vecs: &[Vec<Fp>]) -> Result<Vec<Vec<Fp>>, MpcError> {
        let me = self.check_member()?;
        let (n, t) = (self.n, self.t);
        let len = vecs.first().map_or(0, |v| v.len());
        if vecs.iter().any(|v| v.len() != len) {
            return Err(MpcError::Shape("shuffle of vectors of different lengths".into()));
        }
        if len <= 1 {
            return Ok(vecs.to_vec());
        }
        let groups = subsets(n, t + 1);
        // round 1: seed contributions, to each peer those of the subsets holding both of us
        let mut mine: Vec<[u8; 32]> = Vec::with_capacity(groups.len());
        for _ in &groups {
            let mut s = [0u8; 32];
            self.rng.fill_bytes(&mut s);
            mine.push(s);
        }
        let others: Vec<usize> = (0..n).filter(|&j| j != me).collect();
        let shared = |a: usize, b: usize| -> Vec<usize> {
            (0..groups.len()).filter(|&g| groups[g].contains(&a) && groups[g].contains(&b)).collect()
        };
        let out: Vec<(usize, Vec<u8>)> =
            others.iter().map(|&j| (j, shared(me, j).iter().flat_map(|&g| mine[g]).collect())).collect();
        let got = self.exchange(out, &others).await?;
        let mut seeds: Vec<[u8; 32]> = mine.clone();
        for (k, msg) in got.iter().enumerate() {
            let from = others[k];
            let gs = shared(me, from);
            if msg.len() != 32 * gs.len() {
                return Err(MpcError::Malformed {
                    from,
                    why: format!("expected {} shuffle seed bytes, got {}", 32 * gs.len(), msg.len()),
                });
            }
            for (c, &g) in gs.iter().enumerate() {
                for (b, s) in seeds[g].iter_mut().zip(&msg[32 * c..32 * (c + 1)]) {
                    *b ^= s;
                }
            }
        }
        // one round of dealing per subset
        let mut cur: Vec<Fp> = vecs.iter().flatten().copied().collect();
        let total = cur.len();
        for (g, group) in groups.iter().enumerate() {
            let pos = group.iter().position(|&m| m == me);
            let mut out = Vec::new();
            let mut own = vec![Fp::ZERO; total];
            if let Some(pos) = pos {
                let xs: Vec<Fp> = group.iter().map(|&m| shamir::x_of(m)).collect();
                let lam = shamir::lagrange_at_zero(&xs).map_err(|e| MpcError::Config(e.to_string()))?[pos];
                let perm = permutation(seeds[g], len);
                #[allow(unused_mut)]
                let mut permuted: Vec<Fp> = (0..total).map(|p| cur[(p / len) * len + perm[p % len]] * lam).collect();
                #[cfg(any(test, feature = "cheat"))]
                if self.cheat == Some(super::verify::Cheat::Shuffle) {
                    permuted = super::verify::nudge(&permuted);
                }
                let dealt = super::deal(&permuted, t, n, &mut self.rng);
                for (j, s) in dealt.into_iter().enumerate() {
                    if j == me {
                        own = s;
                    } else {
                        out.push((j, field::to_bytes_vec(&s)));
                    }
                }
            }
            let from: Vec<usize> = group.iter().copied().filter(|&m| m != me).collect();
            let got = self.exchange(out, &from).await?;
            for (k, msg) in got.iter().enumerate() {
                let s = decode(from[k], msg, total)?;
                for (o, v) in own.iter_mut().zip(s) {
                    *o += v;
                }
            }
            cur = own;
            self.note("shuffle");
        }
        let res: Vec<Vec<Fp>> = cur.chunks(len).map(|c| c.to_vec()).collect();
        if self.active() {
            self.check_permutation(vecs, &res).await?;
        }
        Ok(res)
    }

    /// Active mode: that `after` is a permutation of `before` (as tuples across the vectors), by
    /// the product check of the module doc. Opens a coin and ρ·D only.
    async fn check_permutation(&mut self, before: &[Vec<Fp>], after: &[Vec<Fp>]) -> Result<(), MpcError> {
        let slices: Vec<&[Fp]> = after.iter().map(|v| v.as_slice()).collect();
        self.check_direct_inputs(&slices).await.map_err(|e| match e {
            MpcError::Integrity(_) => MpcError::Integrity("the shuffle's output shares are inconsistent".into()),
            other => other,
        })?;
        let len = before[0].len();
        let rs = self.take_rands(2).await?;
        // Mask: a fresh DN random, opened after the shuffled vector is fixed.
        let coin = self.open(&rs[..1], self.t, "coin").await?[0];
        let mut g = StdRng::from_seed(super::prep_active::coin_seed(coin));
        let z = Fp::random(&mut g);
        let w: Vec<Fp> = before.iter().map(|_| Fp::random(&mut g)).collect();
        let comb = |v: &[Vec<Fp>], i: usize| z - v.iter().zip(&w).map(|(v, w)| v[i] * *w).sum::<Fp>();
        let mut a: Vec<Fp> = (0..len).map(|i| comb(before, i)).collect();
        let mut b: Vec<Fp> = (0..len).map(|i| comb(after, i)).collect();
        // product tree, both sides in each batch
        while a.len() > 1 {
            let half = a.len() / 2;
            let mut x = Vec::with_capacity(2 * half);
            let mut y = Vec::with_capacity(2 * half);
            for v in [&a, &b] {
                for j in 0..half {
                    x.push(v[2 * j]);
                    y.push(v[2 * j + 1]);
                }
            }
            let p = self.mul(&x, &y).await?;
            let odd = a.len() % 2 == 1;
            let (mut na, mut nb) = (p[..half].to_vec(), p[half..].to_vec());
            if odd {
                na.push(a[a.len() - 1]);
                nb.push(b[b.len() - 1]);
            }
            a = na;
            b = nb;
        }
        let d = a[0] - b[0];
        let rd = self.mul(&rs[1..2], &[d]).await?;
        // Mask: ρ is a fresh secret random: ρ·D is 0 or uniform.
        let e = self.open(&rd, self.t, "shuffle-check").await?;
        if e[0] != Fp::ZERO {
            return Err(MpcError::Integrity("the shuffle's output is not a permutation of its input".into()));
        }
        Ok(())
    }
}

/// Preprocessing the active check of a shuffle of `len` tuples consumes (semi-honest: none).
pub(crate) fn shuffle_needs(len: usize, active: bool) -> super::prep::Needs {
    let mut n = super::prep::Needs::default();
    if active && len > 1 {
        n.randoms = 4;
        n.triples = 2 * (len - 1) + 1;
    }
    n
}
