//! Pseudo-random secret sharing (PRSS, Cramer–Damgård–Ishai, TCC 2005): random sharings and
//! double sharings without any message, from keys that the committee agrees once per session.
//!
//! Owns: the key agreement (`Prss::setup`, one round), the random degree-t sharings (`randoms`) and
//! the double sharings `([r]_t, [r]_2t)` (`doubles`) that preprocessing uses in place of DN dealing.
//! Must never: open anything, or hand a key to a member outside its set.
//!
//! **Construction.** For every set A of n − t members there is a key k_A known to A's members
//! only. Member i's share of the c-th random is r_i = Σ_{A ∋ i} F(k_A, c)·f_A(x_i), where f_A is the
//! degree-t polynomial with f_A(0) = 1 and f_A(x_j) = 0 for the t members j ∉ A. So the shares lie on
//! the degree-t polynomial Σ_A F(k_A, c)·f_A, whose value at 0 is r = Σ_A F(k_A, c). For a double,
//! the degree-2t share adds a pseudo-random sharing of zero (PRZS): Σ_{A ∋ i} f_A(x_i)·Σ_{l=1..t}
//! F(k_A, c, l)·x_i^l, a degree-2t polynomial that is 0 at 0.
//!
//! **Keys.** Each member draws a 32-byte contribution per set it belongs to and sends it to the
//! set's other members (point-to-point, over the session's authenticated and encrypted channels);
//! k_A = blake3 of A and every member's contribution. F(k_A, ·) is the ChaCha stream seeded by k_A,
//! read in the same order by every member of A.
//!
//! **Security argument** (up to t corrupted members, n ≥ 2t + 1).
//! - *Privacy.* The honest members form (or contain) a set A* of n − t members with no corrupted
//!   member. Every contribution to k_A* comes from an honest member, so k_A* is uniform and unknown
//!   to the coalition, and F(k_A*, ·) is pseudo-random to it. r = F(k_A*, c) + (terms the coalition
//!   may know) is therefore pseudo-random to it. For a double, the unknown part of the degree-2t
//!   polynomial is f_A*(x)·u(x) with u(x) = F(k_A*, c) + Σ_l F(k_A*, c, l)·x^l uniform of degree t:
//!   these products are exactly the degree-2t polynomials that vanish at the coalition's t points,
//!   so a DN opening of [xy]_2t − [r]_2t shows the coalition xy − r and otherwise only values it
//!   already holds — the same view as with DN-extracted doubles.
//! - *Correctness under active attack.* A corrupted member may send different contributions to
//!   different members of a set, or use shares of its own choosing. Either way the honest members'
//!   shares of some random are not on one degree-t polynomial with the others, or its own are off:
//!   an error fixed before any coin is drawn. Preprocessing treats PRSS randoms exactly as DN
//!   randoms (prep_active.rs): every random enters a checked opening or a sacrifice check that a
//!   fixed error fails except with probability ≤ 2/p, so the session aborts and nothing is
//!   revealed. A member cannot bias k_A* (it is not in A*), and its choice of the keys it shares
//!   only moves terms it knows anyway.
//!
//! **Cost.** No message per random; member i evaluates C(n − 1, t) streams per random and
//! (t + 1)·C(n − 1, t) per double. That is cheap at the committee sizes Enigma uses by default, and
//! grows quickly beyond: [`worth_it`] says where DN dealing is used instead.

use crate::field::Fp;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Sets of n − t members each member belongs to, above which DN dealing is cheaper than PRSS.
const MAX_SETS_PER_MEMBER: usize = 20;

/// Whether PRSS is used for a committee of `n` with threshold `t` (C(n − 1, t) sets per member).
pub(crate) fn worth_it(n: usize, t: usize) -> bool {
    binomial(n - 1, t) <= MAX_SETS_PER_MEMBER
}

fn binomial(n: usize, k: usize) -> usize {
    let k = k.min(n.saturating_sub(k));
    let mut c: usize = 1;
    for i in 0..k {
        c = c.saturating_mul(n - i) / (i + 1);
    }
    c
}

/// Every set of `size` members out of `n`, as bit masks, in increasing order.
pub(crate) fn sets(n: usize, size: usize) -> Vec<u32> {
    (0u32..(1u32 << n)).filter(|m| m.count_ones() as usize == size).collect()
}

/// Bytes of one member's contribution to one set's key.
pub(crate) const SEED_BYTES: usize = 32;

/// The key of set `mask` from every member's contribution, in member order.
pub(crate) fn set_key(mask: u32, contributions: &[[u8; SEED_BYTES]]) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key("enigma prss key v1");
    h.update(&mask.to_le_bytes());
    for c in contributions {
        h.update(c);
    }
    *h.finalize().as_bytes()
}

/// One set this member belongs to: its stream and f_A at this member's point.
struct Set {
    stream: StdRng,
    f_at_me: Fp,
}

/// This member's PRSS state for one session.
pub(crate) struct Prss {
    sets: Vec<Set>,
    /// x_me, x_me², …, x_me^t (the PRZS's monomials at this member's point).
    powers: Vec<Fp>,
}

impl Prss {
    /// The state of member `me` from the keys of the sets it belongs to (`keys[k]` for the k-th set
    /// of [`sets`]`(n, n − t)` that contains `me`).
    pub(crate) fn new(n: usize, t: usize, me: usize, keys: &[[u8; 32]]) -> Prss {
        let xs: Vec<Fp> = (0..n).map(crate::shamir::x_of).collect();
        let mine: Vec<u32> = sets(n, n - t).into_iter().filter(|m| m & (1 << me) != 0).collect();
        debug_assert_eq!(mine.len(), keys.len());
        let sets = mine
            .iter()
            .zip(keys)
            .map(|(&mask, key)| {
                // f_A(x) = Π_{j ∉ A} (1 − x / x_j)
                let mut f = Fp::ONE;
                for (j, xj) in xs.iter().enumerate() {
                    if mask & (1 << j) == 0 {
                        let inv = xj.inv().unwrap_or(Fp::ZERO); // x_j = j + 1 ≠ 0
                        f *= Fp::ONE - xs[me] * inv;
                    }
                }
                Set { stream: StdRng::from_seed(*key), f_at_me: f }
            })
            .collect();
        let mut powers = Vec::with_capacity(t);
        let mut p = Fp::ONE;
        for _ in 0..t {
            p *= xs[me];
            powers.push(p);
        }
        Prss { sets, powers }
    }

    /// Shares of `k` fresh random degree-t sharings.
    pub(crate) fn randoms(&mut self, k: usize) -> Vec<Fp> {
        let mut out = vec![Fp::ZERO; k];
        for set in &mut self.sets {
            let f = set.f_at_me;
            for o in out.iter_mut() {
                *o += Fp::random(&mut set.stream) * f;
            }
        }
        out
    }

    /// Shares of `k` fresh double sharings: (degree-t shares, degree-2t shares of the same values).
    pub(crate) fn doubles(&mut self, k: usize) -> (Vec<Fp>, Vec<Fp>) {
        let mut lo = vec![Fp::ZERO; k];
        let mut hi = vec![Fp::ZERO; k];
        for set in &mut self.sets {
            let f = set.f_at_me;
            for (l, h) in lo.iter_mut().zip(hi.iter_mut()) {
                let r = Fp::random(&mut set.stream) * f;
                let mut z = Fp::ZERO;
                for p in &self.powers {
                    z += Fp::random(&mut set.stream) * *p;
                }
                *l += r;
                *h += r + z * f;
            }
        }
        (lo, hi)
    }
}

/// This member's fresh contributions, one per set it belongs to.
pub(crate) fn contributions(n: usize, t: usize, me: usize, rng: &mut impl Rng) -> Vec<(u32, [u8; SEED_BYTES])> {
    sets(n, n - t)
        .into_iter()
        .filter(|m| m & (1 << me) != 0)
        .map(|m| {
            let mut c = [0u8; SEED_BYTES];
            rng.fill_bytes(&mut c);
            (m, c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shamir;

    /// Keys every member would agree on, from fixed contributions.
    fn all_states(n: usize, t: usize) -> Vec<Prss> {
        let all = sets(n, n - t);
        let key_of = |mask: u32| {
            let contrib: Vec<[u8; 32]> =
                (0..n).filter(|j| mask & (1 << j) != 0).map(|j| [(mask as u8) ^ (j as u8); 32]).collect();
            set_key(mask, &contrib)
        };
        (0..n)
            .map(|me| {
                let keys: Vec<[u8; 32]> = all.iter().filter(|m| *m & (1 << me) != 0).map(|m| key_of(*m)).collect();
                Prss::new(n, t, me, &keys)
            })
            .collect()
    }

    fn degree_ok(shares: &[Fp], deg: usize) -> Option<Fp> {
        // interpolate from the first deg + 1 shares and check the rest
        let pts: Vec<(Fp, Fp)> = shares.iter().enumerate().map(|(i, s)| (shamir::x_of(i), *s)).collect();
        let at = |x: Fp| -> Fp {
            let mut acc = Fp::ZERO;
            for (i, (xi, yi)) in pts[..=deg].iter().enumerate() {
                let mut l = Fp::ONE;
                for (j, (xj, _)) in pts[..=deg].iter().enumerate() {
                    if i != j {
                        l *= (x - *xj) * (*xi - *xj).inv().unwrap_or(Fp::ZERO);
                    }
                }
                acc += l * *yi;
            }
            acc
        };
        if pts[deg + 1..].iter().all(|(x, y)| at(*x) == *y) { Some(at(Fp::ZERO)) } else { None }
    }

    #[test]
    fn randoms_and_doubles_are_consistent_sharings() {
        for (n, t) in [(3, 1), (4, 1), (5, 2), (6, 2), (7, 3)] {
            let mut st = all_states(n, t);
            let r: Vec<Vec<Fp>> = st.iter_mut().map(|p| p.randoms(5)).collect();
            let d: Vec<(Vec<Fp>, Vec<Fp>)> = st.iter_mut().map(|p| p.doubles(5)).collect();
            let mut secrets = Vec::new();
            for k in 0..5 {
                let rs: Vec<Fp> = r.iter().map(|v| v[k]).collect();
                let s = degree_ok(&rs, t).expect("randoms on one degree-t polynomial");
                assert!(degree_ok(&rs, t - 1).is_none());
                secrets.push(s);
                let lo: Vec<Fp> = d.iter().map(|v| v.0[k]).collect();
                let hi: Vec<Fp> = d.iter().map(|v| v.1[k]).collect();
                let s_lo = degree_ok(&lo, t).expect("degree-t half of a double");
                if 2 * t + 1 < n {
                    let s_hi = degree_ok(&hi, 2 * t).expect("degree-2t half of a double");
                    assert_eq!(s_lo, s_hi);
                } else {
                    // n = 2t + 1: the degree-2t shares determine the value; it must match
                    let lam = shamir::lagrange_at_zero(&(0..n).map(shamir::x_of).collect::<Vec<_>>())
                        .expect("distinct points");
                    let v: Fp = hi.iter().zip(&lam).map(|(a, b)| *a * *b).sum();
                    assert_eq!(v, s_lo);
                    assert!(degree_ok(&hi, t).is_none(), "the degree-2t half must not be degree t");
                }
            }
            // fresh values each time
            secrets.sort_by_key(|v| v.to_bytes());
            secrets.dedup();
            assert_eq!(secrets.len(), 5);
        }
    }

    #[test]
    fn a_member_outside_a_set_does_not_hold_its_key() {
        // the coalition {0} at n = 3, t = 1 is outside exactly one set of size 2: {1, 2}
        let mine: Vec<u32> = sets(3, 2).into_iter().filter(|m| m & 1 != 0).collect();
        assert_eq!(mine, vec![0b011, 0b101]);
        assert!(worth_it(3, 1) && worth_it(5, 2) && worth_it(7, 3));
        assert!(!worth_it(9, 4));
    }
}
