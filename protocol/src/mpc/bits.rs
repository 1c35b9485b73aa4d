//! Bit circuits on shared bits: comparison of a public integer with shared bits (BitLT), parallel
//! prefix carries, prefix-OR, and exact bit decomposition over the whole field.
//!
//! Owns: the carry-lookahead trees and the decomposition. Must never open anything but the one
//! perfectly masked value c = x + r of a decomposition; every product goes through `mul_dn` (degree
//! reduction with a fresh double sharing, see `mul.rs`). Bits are laid out element-major: bit i of
//! element e is at `e * m + i`, least significant first.
//!
//! Generate/propagate: for a + b with a_i, b_i ∈ {0,1}, g_i = a_i·b_i, p_i = a_i ⊕ b_i; they are never
//! both 1, so the segment combine (G, P) = (G_hi + P_hi·G_lo, P_hi·P_lo) needs no XOR. When one
//! operand is public, g and p are linear in the secret bits: free.

use super::{MpcError, Party, Transport};
use crate::field::Fp;

/// Number of bits of a full field element.
pub const FIELD_BITS: usize = 127;

impl<T: Transport> Party<T> {
    /// [c_e < r_e] for public m-bit integers c_e and shared bits r (element-major, m per element).
    /// ⌈log2 m⌉ rounds, < 2m products per element.
    pub async fn bit_lt(&mut self, c: &[u128], r: &[Fp], m: usize) -> Result<Vec<Fp>, MpcError> {
        // c < r ⇔ r + (2^m − 1 − c) ≥ 2^m ⇔ carry out of r + ¬c.
        let mut g = Vec::with_capacity(r.len());
        let mut p = Vec::with_capacity(r.len());
        for (e, ce) in c.iter().enumerate() {
            for i in 0..m {
                let ri = r[e * m + i];
                if (ce >> i) & 1 == 0 {
                    // ¬c_i = 1
                    g.push(ri);
                    p.push(Fp::ONE - ri);
                } else {
                    g.push(Fp::ZERO);
                    p.push(ri);
                }
            }
        }
        self.carry_out(g, p, c.len(), m).await
    }

    /// Carry out of the whole m-bit segment, per element, by a tree of segment combines.
    pub(crate) async fn carry_out(
        &mut self,
        mut g: Vec<Fp>,
        mut p: Vec<Fp>,
        count: usize,
        mut m: usize,
    ) -> Result<Vec<Fp>, MpcError> {
        while m > 1 {
            let half = m / 2;
            // pair (2j+1 over 2j); the segment holding bit 0 (j = 0) needs no P.
            let mut xs = Vec::with_capacity(count * (2 * half));
            let mut ys = Vec::with_capacity(count * (2 * half));
            for e in 0..count {
                let b = e * m;
                for j in 0..half {
                    let (lo, hi) = (b + 2 * j, b + 2 * j + 1);
                    xs.push(p[hi]);
                    ys.push(g[lo]);
                    if j > 0 {
                        xs.push(p[hi]);
                        ys.push(p[lo]);
                    }
                }
            }
            let prod = self.mul_dn(&xs, &ys).await?;
            let nm = m.div_ceil(2);
            let mut ng = Vec::with_capacity(count * nm);
            let mut np = Vec::with_capacity(count * nm);
            let mut k = 0;
            for e in 0..count {
                let b = e * m;
                for j in 0..half {
                    let hi = b + 2 * j + 1;
                    ng.push(g[hi] + prod[k]);
                    k += 1;
                    if j > 0 {
                        np.push(prod[k]);
                        k += 1;
                    } else {
                        np.push(Fp::ZERO); // never read
                    }
                }
                if m % 2 == 1 {
                    ng.push(g[b + m - 1]);
                    np.push(p[b + m - 1]);
                }
            }
            g = ng;
            p = np;
            m = nm;
        }
        Ok(g)
    }

    /// All prefixes (G_{i:0}, P_{i:0}) for i < m, per element (Sklansky, ⌈log2 m⌉ rounds).
    async fn prefix_gp(
        &mut self,
        mut g: Vec<Fp>,
        mut p: Vec<Fp>,
        count: usize,
        m: usize,
    ) -> Result<(Vec<Fp>, Vec<Fp>), MpcError> {
        let mut l = 0;
        while (1usize << l) < m {
            let mut idx = Vec::new(); // (i, j) within an element
            for i in 0..m {
                if (i >> l) & 1 == 1 {
                    let j = ((i >> (l + 1)) << (l + 1)) + (1 << l) - 1;
                    idx.push((i, j));
                }
            }
            let mut xs = Vec::with_capacity(count * idx.len() * 2);
            let mut ys = Vec::with_capacity(count * idx.len() * 2);
            for e in 0..count {
                let b = e * m;
                for &(i, j) in &idx {
                    xs.push(p[b + i]);
                    ys.push(g[b + j]);
                    xs.push(p[b + i]);
                    ys.push(p[b + j]);
                }
            }
            let prod = self.mul_dn(&xs, &ys).await?;
            let mut k = 0;
            for e in 0..count {
                let b = e * m;
                for &(i, _) in &idx {
                    g[b + i] += prod[k];
                    p[b + i] = prod[k + 1];
                    k += 2;
                }
            }
            l += 1;
        }
        Ok((g, p))
    }

    /// Suffix OR: y_i = OR_{j ≥ i} x_j per element (Sklansky from the top, ⌈log2 m⌉ rounds).
    pub async fn suffix_or(&mut self, x: &[Fp], count: usize, m: usize) -> Result<Vec<Fp>, MpcError> {
        // reverse each element's bits, prefix-OR, reverse back
        let mut y: Vec<Fp> = Vec::with_capacity(x.len());
        for e in 0..count {
            y.extend(x[e * m..(e + 1) * m].iter().rev());
        }
        let mut l = 0;
        while (1usize << l) < m {
            let mut idx = Vec::new();
            for i in 0..m {
                if (i >> l) & 1 == 1 {
                    idx.push((i, ((i >> (l + 1)) << (l + 1)) + (1 << l) - 1));
                }
            }
            let mut xs = Vec::with_capacity(count * idx.len());
            let mut ys = Vec::with_capacity(count * idx.len());
            for e in 0..count {
                for &(i, j) in &idx {
                    xs.push(y[e * m + i]);
                    ys.push(y[e * m + j]);
                }
            }
            let prod = self.mul_dn(&xs, &ys).await?;
            let mut k = 0;
            for e in 0..count {
                for &(i, j) in &idx {
                    let (a, b) = (y[e * m + i], y[e * m + j]);
                    y[e * m + i] = a + b - prod[k];
                    k += 1;
                }
            }
            l += 1;
        }
        let mut out = Vec::with_capacity(y.len());
        for e in 0..count {
            out.extend(y[e * m..(e + 1) * m].iter().rev());
        }
        Ok(out)
    }

    /// Exact bits of arbitrary field elements (127 per element, element-major).
    ///
    /// Opens c = x + r for r = Σ 2^i r_i with 127 shared random bits: r is uniform on [0, 2^127),
    /// hence within 2^-127 of uniform modulo p, so c is (perfectly, up to 2^-127) uniform. Then
    /// x = c + (p − r) mod p, and p − r = ¬r (the 127-bit complement): a one's-complement addition
    /// c + ¬r with end-around carry C = carry out. The all-propagate case (c + ¬r = 2^127 − 1, i.e.
    /// x = 0 ⇔ c = r) gives all ones ("negative zero") and is corrected by subtracting the
    /// all-propagate flag from every bit. Rounds: 1 opening + 7 prefix levels + 2.
    pub async fn decompose(&mut self, x: &[Fp]) -> Result<Vec<Fp>, MpcError> {
        let m = FIELD_BITS;
        let count = x.len();
        if count == 0 {
            return Ok(vec![]);
        }
        let r = self.take_bits(count * m).await?;
        let masked: Vec<Fp> = (0..count).map(|e| x[e] + compose(&r[e * m..(e + 1) * m])).collect();
        // Mask: r is uniform over [0, 2^127) from XOR-contributed bits (see prep.rs).
        let c = self.open(&masked, self.t, "decompose").await?;
        let mut g = Vec::with_capacity(count * m);
        let mut p = Vec::with_capacity(count * m);
        for e in 0..count {
            let cv = c[e].value();
            for i in 0..m {
                let nb = Fp::ONE - r[e * m + i]; // bit of ¬r
                if (cv >> i) & 1 == 1 {
                    g.push(nb);
                    p.push(Fp::ONE - nb);
                } else {
                    g.push(Fp::ZERO);
                    p.push(nb);
                }
            }
        }
        let p0 = p.clone();
        let (gg, pp) = self.prefix_gp(g, p, count, m).await?;
        // carry into bit i: G_{i−1:0} + P_{i−1:0}·C, carry into bit 0: C
        let mut xs = Vec::with_capacity(count * (m - 1));
        let mut ys = Vec::with_capacity(count * (m - 1));
        for e in 0..count {
            let cc = gg[e * m + m - 1];
            for i in 1..m {
                xs.push(pp[e * m + i - 1]);
                ys.push(cc);
            }
        }
        let pc = self.mul_dn(&xs, &ys).await?;
        let mut carry = Vec::with_capacity(count * m);
        for e in 0..count {
            carry.push(gg[e * m + m - 1]);
            for i in 1..m {
                carry.push(gg[e * m + i - 1] + pc[e * (m - 1) + i - 1]);
            }
        }
        let pcar = self.mul_dn(&p0, &carry).await?;
        let mut out = Vec::with_capacity(count * m);
        for e in 0..count {
            let z = pp[e * m + m - 1]; // all-propagate ⇔ x = 0
            for i in 0..m {
                let k = e * m + i;
                out.push(p0[k] + carry[k] - pcar[k] - pcar[k] - z);
            }
        }
        Ok(out)
    }
}

/// Σ 2^i b_i (public linear combination of shared bits).
pub fn compose(bits: &[Fp]) -> Fp {
    let mut acc = Fp::ZERO;
    for (i, b) in bits.iter().enumerate() {
        acc += *b * Fp::new(1u128 << i);
    }
    acc
}

/// Preprocessing a decomposition of `count` elements consumes.
pub(crate) fn decompose_needs(count: usize) -> super::prep::Needs {
    let m = FIELD_BITS;
    let mut doubles = 0;
    let mut l = 0;
    while (1usize << l) < m {
        doubles += 2 * (0..m).filter(|i| (i >> l) & 1 == 1).count();
        l += 1;
    }
    doubles += (m - 1) + m;
    super::prep::Needs { bits: count * m, doubles: count * doubles, ..Default::default() }
}

/// Preprocessing a suffix-OR of `count` × `m` bits consumes.
pub(crate) fn suffix_or_needs(count: usize, m: usize) -> super::prep::Needs {
    let mut doubles = 0;
    let mut l = 0;
    while (1usize << l) < m {
        doubles += (0..m).filter(|i| (i >> l) & 1 == 1).count();
        l += 1;
    }
    super::prep::Needs { doubles: count * doubles, ..Default::default() }
}

/// Products a carry tree over m bits uses per element.
pub(crate) fn carry_out_products(mut m: usize) -> usize {
    let mut total = 0;
    while m > 1 {
        let half = m / 2;
        total += 2 * half - 1;
        m = m.div_ceil(2);
    }
    total
}
