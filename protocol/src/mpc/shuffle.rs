//! Secret uniform shuffle of shared vectors (the same secret permutation applied to several
//! vectors of one length), secure against an active coalition of up to t members.
//!
//! Owns: the resharing shuffle and, in active mode, the check that every round's output is a
//! permutation of that round's input. Must never open anything but fresh random coins, masked
//! Beaver differences and the masked check values; must never let an abort depend on the data;
//! the permutation itself is never known to any coalition of t members.
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
//! **Integrity (active mode): every round is checked on its own, and whether the check fails does
//! not depend on the data.** A corrupt member of some A may deal anything (inconsistent shares,
//! wrong values) or send different seed contributions to different members. Three additions:
//! - *One permutation per subset.* With its dealing, each member of A sends A's other members a
//!   digest of the seed it derived (`seed_digest`); a member that receives a different one aborts.
//!   Two honest members of A talk directly, so if the run goes on, all of A's honest members used
//!   one π_A. (The abort depends only on what the corrupt members sent as contributions.)
//! - *A secret witness in every tuple.* A fresh random sharing w (N uniform values nobody knows)
//!   is shuffled along as one more vector and dropped from the output.
//! - *Each round's output is checked against that round's input*, for all m = C(n, t + 1) rounds
//!   at once after the last dealing: (1) the dealt shares lie on degree-t polynomials
//!   (`check_direct_inputs`, one masked random combination over every round's output); (2) a coin
//!   opened after every dealing is fixed gives z and weights ω_k; with c_g[i] = Σ_k ω_k·s_g,k[i]
//!   over the components of state s_g (s_0 the input, s_g the output of round g),
//!   D_g = Π_i(z − c_(g−1)[i]) − Π_i(z − c_g[i]) by product trees of checked Beaver products, and
//!   ρ_g·D_g is opened for fresh secret randoms ρ_g: each must be 0.
//!
//! *Why the abort is data-independent.* Everything the coalition sees before the coin (its shares,
//! the fresh dealings it receives, seeds) is independent of the secret vectors and of w, so each
//! round's error e_g = s_g − π_g(s_(g−1)) (what the corrupt dealers added to what an honest dealing
//! of their actual shares would give; by the digest the honest part is one permutation) is fixed
//! independently of the data and of w. If e_g = 0, round g passes. If e_g ≠ 0, s_g is a
//! permutation of s_(g−1) as tuples with probability ≤ N²/p over w: if e_g's w-part is nonzero,
//! w'_(μ(j)) − w'_j = f_j must hold for some permutation μ ≠ id of the (uniform) w-part w' of
//! s_(g−1), whose rank is N − cycles(μ), and Σ_μ≠id p^−(N − cycles(μ)) ≤ Σ_j (N²/p)^j; if only
//! other parts are wrong, the w-parts are distinct (≤ N²/p) and force the bijection to be π_g,
//! which then needs e_g = 0. Then the multisets of combinations differ except with ≤ N²/p over ω,
//! and D_g ≠ 0 except with ≤ N/p over z (a nonzero polynomial of degree ≤ N), and ρ_g·D_g is
//! uniform. So the run aborts exactly when some e_g ≠ 0 (up to m·(2N² + N)/p < 2^-80 for
//! N ≤ 2^17, m ≤ 126): a function of the coalition's own deviations only, never of the data or
//! of σ. This closes two attacks on a single end-to-end permutation check: adding +δ and −δ to
//! two elements (passes exactly when δ is their difference, so the abort told the coalition that
//! relation: test `whether_a_cheated_shuffle_aborts_does_not_depend_on_the_data`), and adding an
//! error before the all-honest round and cancelling it after (passes exactly when the coalition
//! guessed where π_A* moved an element, which would show that element's rank: test
//! `an_error_cancelled_in_a_later_round_is_caught_in_the_round_that_made_it`, which an end-to-end
//! check passes).
//!
//! Openings before the check passes: the coin (fresh), the Beaver differences (masked by the
//! triples, uniform), the input check (masked by a fresh random) and ρ_g·D_g (0 or uniform).
//! Nothing derived from the shuffled vectors is opened before every round's check has passed.
//! Cost of the check: N randoms for w (PRSS: no message), (m + 1)·(N − 1) + m checked triples,
//! ⌈log2 N⌉ + 1 product rounds, and 50% more dealt bytes (three vectors instead of two).

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
        #[cfg(any(test, feature = "cheat"))]
        let out: Vec<(usize, Vec<u8>)> = if self.cheat == Some(super::verify::Cheat::ShuffleSeed) {
            // another contribution to the first other member than the one the rest see
            let mut out = out;
            if let Some(b) = out.first_mut().and_then(|(_, b)| b.first_mut()) {
                *b ^= 1;
            }
            out
        } else {
            out
        };
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
        // Active mode: a secret random vector w rides along as one more component of every tuple
        // (module doc, "Integrity"); it is dropped from the output.
        let mut cur: Vec<Fp> = vecs.iter().flatten().copied().collect();
        if self.active() {
            let w = self.take_rands(len).await?;
            cur.extend(w);
        }
        let total = cur.len();
        // active mode keeps every round's input for the check (states[g] → states[g + 1])
        let mut states: Vec<Vec<Fp>> = Vec::new();
        // one round of dealing per subset
        for (g, group) in groups.iter().enumerate() {
            let pos = group.iter().position(|&m| m == me);
            let confirm = seed_digest(g, &seeds[g]);
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
                #[cfg(any(test, feature = "cheat"))]
                if self.cheat == Some(super::verify::Cheat::ShuffleGuess) && g == 0 && vecs.len() >= 2 {
                    // output position j holds input perm[j]: move element 0's tuple onto 1's
                    let at = |i: usize| perm.iter().position(|&p| p == i).unwrap_or(0);
                    let (p0, p1) = (at(0), at(1));
                    for (k, d) in [(0, Fp::new(1u128 << crate::fixed::FRAC_BITS)), (1, Fp::ONE)] {
                        permuted[k * len + p0] += d;
                        permuted[k * len + p1] -= d;
                    }
                }
                #[cfg(any(test, feature = "cheat"))]
                if self.cheat == Some(super::verify::Cheat::ShuffleCancel) && g <= 1 {
                    // round 1: +1 at output position 0; round 2: −1 where this round moves it
                    let at = if g == 0 { 0 } else { perm.iter().position(|&p| p == 0).unwrap_or(0) };
                    permuted[at] += if g == 0 { Fp::ONE } else { -Fp::ONE };
                }
                let dealt = super::deal(&permuted, t, n, &mut self.rng);
                for (j, s) in dealt.into_iter().enumerate() {
                    if j == me {
                        own = s;
                    } else {
                        let mut bytes = field::to_bytes_vec(&s);
                        if self.active() && group.contains(&j) {
                            // to A's other members: the digest of the seed this member derived
                            bytes.extend_from_slice(&confirm);
                        }
                        out.push((j, bytes));
                    }
                }
            }
            let from: Vec<usize> = group.iter().copied().filter(|&m| m != me).collect();
            let got = self.exchange(out, &from).await?;
            let confirmed = self.active() && pos.is_some();
            for (k, msg) in got.iter().enumerate() {
                let body = if confirmed {
                    let Some(cut) = msg.len().checked_sub(32) else {
                        return Err(MpcError::Malformed {
                            from: from[k],
                            why: "a shuffle dealing without its seed digest".into(),
                        });
                    };
                    if msg[cut..] != confirm {
                        return Err(MpcError::Integrity(
                            "two members of a shuffle subset derived different permutations (a seed contribution differs)".into(),
                        ));
                    }
                    &msg[..cut]
                } else {
                    &msg[..]
                };
                let s = decode(from[k], body, total)?;
                for (o, v) in own.iter_mut().zip(s) {
                    *o += v;
                }
            }
            if self.active() {
                states.push(std::mem::replace(&mut cur, own));
            } else {
                cur = own;
            }
            self.note("shuffle");
        }
        if self.active() {
            states.push(cur.clone());
            self.check_rounds(&states, len).await?;
            cur.truncate(total - len);
        }
        Ok(cur.chunks(len).map(|c| c.to_vec()).collect())
    }

    /// Active mode: that each round's output `states[g + 1]` is a permutation of its input
    /// `states[g]` (as tuples of the `states[g].len() / len` components, the last one the secret
    /// random vector), every round at once, by the product check of the module doc. Opens a coin,
    /// the Beaver products' masked differences and ρ_g·D_g only.
    async fn check_rounds(&mut self, states: &[Vec<Fp>], len: usize) -> Result<(), MpcError> {
        let slices: Vec<&[Fp]> = states[1..].iter().map(|v| v.as_slice()).collect();
        self.check_direct_inputs(&slices).await.map_err(|e| match e {
            MpcError::Integrity(_) => MpcError::Integrity("the shuffle's dealt shares are inconsistent".into()),
            other => other,
        })?;
        let comps = states[0].len() / len;
        let rounds = states.len() - 1;
        let rs = self.take_rands(1 + rounds).await?;
        // Mask: a fresh random, opened after every round's dealing is fixed.
        let coin = self.open(&rs[..1], self.t, "coin").await?[0];
        let mut g = StdRng::from_seed(super::prep_active::coin_seed(coin));
        let z = Fp::random(&mut g);
        let w: Vec<Fp> = (0..comps).map(|_| Fp::random(&mut g)).collect();
        // z − Σ_k w_k·v_k[i] for every state: one product tree per state, all in each batch
        let mut level: Vec<Vec<Fp>> = states
            .iter()
            .map(|v| (0..len).map(|i| z - (0..comps).map(|k| v[k * len + i] * w[k]).sum::<Fp>()).collect())
            .collect();
        while level[0].len() > 1 {
            let half = level[0].len() / 2;
            let mut x = Vec::with_capacity(states.len() * half);
            let mut y = Vec::with_capacity(states.len() * half);
            for v in &level {
                for j in 0..half {
                    x.push(v[2 * j]);
                    y.push(v[2 * j + 1]);
                }
            }
            let p = self.mul(&x, &y).await?;
            level = level
                .iter()
                .enumerate()
                .map(|(s, v)| {
                    let mut nv = p[s * half..(s + 1) * half].to_vec();
                    if v.len() % 2 == 1 {
                        nv.push(v[v.len() - 1]);
                    }
                    nv
                })
                .collect();
        }
        // D_g = Π(z − c(states[g])) − Π(z − c(states[g + 1])), masked by a fresh secret ρ_g
        let d: Vec<Fp> = (0..rounds).map(|r| level[r][0] - level[r + 1][0]).collect();
        let rd = self.mul(&rs[1..], &d).await?;
        // Mask: ρ_g·D_g with ρ_g fresh: 0 if round g dealt a permutation of its input, else uniform.
        let e = self.open(&rd, self.t, "shuffle-check").await?;
        if let Some(r) = e.iter().position(|v| *v != Fp::ZERO) {
            return Err(MpcError::Integrity(format!(
                "the shuffle's round {} did not deal a permutation of its input (a member's dealing is wrong)",
                r + 1
            )));
        }
        Ok(())
    }
}

/// What a member of subset `g` sends the subset's other members to show the seed it derived
/// (active mode): a digest, so two honest members that derived different seeds abort.
fn seed_digest(g: usize, seed: &[u8; 32]) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key("enigma shuffle seed digest v1");
    h.update(&(g as u64).to_le_bytes());
    h.update(seed);
    *h.finalize().as_bytes()
}

/// Preprocessing the active check of a shuffle of `len` tuples among `n` members with threshold
/// `t` consumes (semi-honest: none): the random vector, the input check's two randoms, the coin
/// and one ρ per round; one product tree per round's input and the last output, and ρ_g·D_g.
pub(crate) fn shuffle_needs(len: usize, n: usize, t: usize, active: bool) -> super::prep::Needs {
    let mut needs = super::prep::Needs::default();
    if active && len > 1 {
        let rounds = subsets(n, t + 1).len();
        needs.randoms = len + 2 + 1 + rounds;
        needs.triples = (rounds + 1) * (len - 1) + rounds;
    }
    needs
}
