//! Multiplication: Beaver elementwise products, and degree reduction of sums of local products
//! (inner products, matrix products, and the products of the bit circuits).
//!
//! Owns: `mul` (Beaver), `mul_dn` / `reduce` (double-sharing degree reduction), `inner_products`
//! and `sum_products` (sums of products, the only way op code multiplies more than elementwise),
//! and the local inner-product kernels. Must never open x − a or y − b with a reused triple, nor a
//! degree-2t value without subtracting a fresh [r]_2t, and in active mode never reduce a product
//! whose factors it does not see: there every product is a Beaver product on a triple that passed
//! its sacrifice (`prep_active.rs`), opened with the checked opening, so it is exact or the run
//! aborts. Matrix products have their own file (`matmul.rs`).
//!
//! Security:
//! - **Beaver**: opens d = x − a and e = y − b. a, b are uniform and used once, so (d, e) is uniform
//!   and independent of (x, y). z = c + d·b + e·a + d·e.
//! - **Degree reduction**: for z of degree 2t (a local product, or a sum of many), opens z − r with
//!   ([r]_t, [r]_2t) a fresh double sharing: the opened polynomial is uniform among degree-2t
//!   polynomials, so only z − r (uniform) is learnt. Result: (z − r) + [r]_t. A whole inner product
//!   Σ x_i·y_i costs one opened element, whatever its length (this replaces DESIGN's "matrix
//!   triples": cheaper, see docs/mpc.md).

use super::{MpcError, Party, Transport};
use crate::field::Fp;

impl<T: Transport> Party<T> {
    /// Elementwise [x·y] by Beaver triples. One round, 2 opened elements per product.
    pub async fn mul(&mut self, x: &[Fp], y: &[Fp]) -> Result<Vec<Fp>, MpcError> {
        if x.len() != y.len() {
            return Err(MpcError::Shape(format!("mul of {} by {} elements", x.len(), y.len())));
        }
        let k = x.len();
        if k == 0 {
            return Ok(vec![]);
        }
        let tr = self.take_triples(k).await?;
        let mut de = Vec::with_capacity(2 * k);
        de.extend(x.iter().zip(&tr.a).map(|(x, a)| *x - *a));
        de.extend(y.iter().zip(&tr.b).map(|(y, b)| *y - *b));
        // Mask: a and b are fresh uniform triple components.
        let opened = self.open(&de, self.t, "beaver").await?;
        let (d, e) = opened.split_at(k);
        self.counters.mults += k as u64;
        Ok((0..k).map(|i| tr.c[i] + d[i] * tr.b[i] + e[i] * tr.a[i] + d[i] * e[i]).collect())
    }

    /// Reduces degree-2t sharings (local products or sums of them) to degree t. One round.
    /// Semi-honest only: active mode refuses (its products go through `mul`).
    pub(crate) async fn reduce(&mut self, z2t: &[Fp]) -> Result<Vec<Fp>, MpcError> {
        if self.active() {
            return Err(MpcError::Config("degree reduction of unseen products in active mode".into()));
        }
        let k = z2t.len();
        if k == 0 {
            return Ok(vec![]);
        }
        let (rt, r2) = self.take_doubles(k).await?;
        let masked: Vec<Fp> = z2t.iter().zip(&r2).map(|(z, r)| *z - *r).collect();
        // Mask: r is a fresh DN double sharing, so the opened degree-2t polynomial is uniform.
        let w = self.open(&masked, 2 * self.t, "reduce").await?;
        self.counters.reductions += k as u64;
        Ok(w.iter().zip(&rt).map(|(w, r)| *w + *r).collect())
    }

    /// Elementwise [x·y] by local product + degree reduction (1 opened element per product; used by
    /// the bit circuits, where it halves the preprocessing compared with a triple).
    pub async fn mul_dn(&mut self, x: &[Fp], y: &[Fp]) -> Result<Vec<Fp>, MpcError> {
        if x.len() != y.len() {
            return Err(MpcError::Shape("mul_dn length mismatch".into()));
        }
        if self.active() {
            return self.mul(x, y).await;
        }
        let z: Vec<Fp> = x.iter().zip(y).map(|(a, b)| *a * *b).collect();
        self.counters.mults += x.len() as u64;
        self.reduce(&z).await
    }

    /// Inner products: out[k] = Σ_i x[k][i]·y[k][i], each reduced once (semi-honest), or from
    /// one Beaver product per term (active).
    pub async fn inner_products(&mut self, pairs: &[(&[Fp], &[Fp])]) -> Result<Vec<Fp>, MpcError> {
        for (x, y) in pairs {
            if x.len() != y.len() {
                return Err(MpcError::Shape("inner product length mismatch".into()));
            }
        }
        if self.active() {
            let xs: Vec<Fp> = pairs.iter().flat_map(|(x, _)| x.iter().copied()).collect();
            let ys: Vec<Fp> = pairs.iter().flat_map(|(_, y)| y.iter().copied()).collect();
            let prod = self.mul(&xs, &ys).await?;
            let mut out = Vec::with_capacity(pairs.len());
            let mut off = 0;
            for (x, _) in pairs {
                out.push(prod[off..off + x.len()].iter().copied().sum());
                off += x.len();
            }
            return Ok(out);
        }
        let z: Vec<Fp> = pairs.iter().map(|(x, y)| dot(x, y)).collect();
        self.mults_add(pairs.iter().map(|(x, _)| x.len()).sum());
        self.reduce(&z).await
    }

    /// Sums of products given term by term: out[k] = Σ_j x_kj·y_kj for `terms[k]` = [(x_kj, y_kj)].
    /// Public factors fold into either side. Semi-honest: one reduction per output; active: one
    /// Beaver product per term.
    pub async fn sum_products(&mut self, terms: &[Vec<(Fp, Fp)>]) -> Result<Vec<Fp>, MpcError> {
        if self.active() {
            let xs: Vec<Fp> = terms.iter().flatten().map(|(x, _)| *x).collect();
            let ys: Vec<Fp> = terms.iter().flatten().map(|(_, y)| *y).collect();
            let prod = self.mul(&xs, &ys).await?;
            let mut out = Vec::with_capacity(terms.len());
            let mut off = 0;
            for t in terms {
                out.push(prod[off..off + t.len()].iter().copied().sum());
                off += t.len();
            }
            return Ok(out);
        }
        let z: Vec<Fp> = terms.iter().map(|t| t.iter().map(|(x, y)| *x * *y).sum()).collect();
        self.mults_add(terms.iter().map(|t| t.len()).sum());
        self.reduce(&z).await
    }

    /// [every flag is 1] for shared 0/1 flags: their product, by a tree of Beaver products
    /// (⌈log2 k⌉ rounds, k − 1 products); 1 for no flags.
    pub(crate) async fn all_of(&mut self, mut flags: Vec<Fp>) -> Result<Fp, MpcError> {
        if flags.is_empty() {
            return Ok(Fp::ONE);
        }
        while flags.len() > 1 {
            let half = flags.len() / 2;
            let (a, b): (Vec<Fp>, Vec<Fp>) = (0..half).map(|i| (flags[2 * i], flags[2 * i + 1])).unzip();
            let mut next = self.mul(&a, &b).await?;
            if flags.len() % 2 == 1 {
                next.push(flags[flags.len() - 1]);
            }
            flags = next;
        }
        Ok(flags[0])
    }

    pub(crate) fn mults_add(&mut self, k: usize) {
        self.counters.mults += k as u64;
    }
}

/// Σ a_i·b_i with lazy reduction: each 254-bit product is folded once modulo 2^127 − 1 without the
/// final conditional subtraction, and the folds are accumulated in 128 bits with a carry count.
pub fn dot(a: &[Fp], b: &[Fp]) -> Fp {
    let mut acc: u128 = 0;
    let mut carries: u64 = 0;
    for (x, y) in a.iter().zip(b) {
        let s = fold_mul(x.value(), y.value());
        let (r, c) = acc.overflowing_add(s);
        acc = r;
        carries += c as u64;
    }
    // acc + carries·2^128 ≡ acc + 2·carries (mod p)
    Fp::new(acc) + Fp::from_u64(carries) + Fp::from_u64(carries)
}

/// a·b mod p up to one missing subtraction of p (result < 2^128).
#[inline(always)]
fn fold_mul(a: u128, b: u128) -> u128 {
    let (a0, a1) = (a as u64 as u128, a >> 64);
    let (b0, b1) = (b as u64 as u128, b >> 64);
    let p00 = a0 * b0;
    let mid = a0 * b1 + a1 * b0;
    let p11 = a1 * b1;
    let (lo, carry) = p00.overflowing_add(mid << 64);
    let hi = p11 + (mid >> 64) + carry as u128;
    let p = (1u128 << 127) - 1;
    (lo & p) + (lo >> 127) + (hi << 1)
}
