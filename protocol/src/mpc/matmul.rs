//! Secret matrix products (r×k)·(k×c) of degree-t sharings.
//!
//! Owns: `matmul` in both modes and the local matrix kernel. Must never open anything but values
//! masked by fresh uniform randomness, and in active mode never output a product whose matrix
//! triple has not passed its sacrifice check.
//!
//! - **Semi-honest**: every output entry is a local inner product (degree 2t), reduced once: one
//!   opened element per output entry, whatever k.
//! - **Active**: a matrix triple (A, B, C = AB), made for this product: A, A' (r×k) and B (k×c)
//!   random (DN), C = AB and C' = A'B by DN products (degree 2t, additive errors E, E' possible),
//!   then coins ρ, γ; open ε = ρA − A' (uniform: A' masks it) and S = Σ γ_ij (ρC − C' − εB)_ij =
//!   Σ γ_ij (ρE − E')_ij, which is 0 unless someone cheated (≤ 2/p otherwise, as in
//!   `prep_active.rs`). The product itself is Beaver's on matrices: open D = X − A and F = Y − B
//!   (uniform: A, B are fresh and used once) and Z = C + D·B + A·F + D·F. D and F are opened with ε,
//!   before S, which is safe because they are uniform whatever happened; Z is returned only once
//!   S = 0. Cost: rk + kc opened elements online instead of r·k·c Beaver products.

use super::{MpcError, Party, Transport};
use crate::field::Fp;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// (r×k)·(k×c) of plain field matrices (row-major), lazily reduced.
pub(crate) fn local_matmul(a: &[Fp], b: &[Fp], r: usize, k: usize, c: usize) -> Vec<Fp> {
    let cols: Vec<Vec<Fp>> = (0..c).map(|j| (0..k).map(|kk| b[kk * c + j]).collect()).collect();
    let mut out = Vec::with_capacity(r * c);
    for i in 0..r {
        let row = &a[i * k..(i + 1) * k];
        for col in &cols {
            out.push(super::mul::dot(row, col));
        }
    }
    out
}

impl<T: Transport> Party<T> {
    /// Secret matrix product (r×k)·(k×c) of degree-t sharings (row-major).
    pub async fn matmul(&mut self, a: &[Fp], b: &[Fp], r: usize, k: usize, c: usize) -> Result<Vec<Fp>, MpcError> {
        if a.len() != r * k || b.len() != k * c {
            return Err(MpcError::Shape(format!(
                "matmul of {} and {} elements as ({r}×{k})·({k}×{c})",
                a.len(),
                b.len()
            )));
        }
        self.mults_add(r * k * c);
        if self.active() {
            return self.matmul_active(a, b, r, k, c).await;
        }
        let local = local_matmul(a, b, r, k, c);
        self.reduce(&local).await
    }

    async fn matmul_active(&mut self, x: &[Fp], y: &[Fp], r: usize, k: usize, c: usize) -> Result<Vec<Fp>, MpcError> {
        let t = self.t;
        let started = self.prep_start();
        // ---- the matrix triple: deal A, A', B, two coins and 2rc doubles ----
        let n_rand = 2 * r * k + k * c + 2;
        let n_dbl = 2 * r * c;
        let dealt = self.deal_randoms(n_rand, n_dbl).await;
        let (rands, dt, d2) = match dealt {
            Ok(v) => v,
            Err(e) => {
                self.prep_end(started);
                return Err(e);
            }
        };
        let (am, rest) = rands.split_at(r * k);
        let (am2, rest) = rest.split_at(r * k);
        let (bm, coin_sh) = rest.split_at(k * c);
        let ab = local_matmul(am, bm, r, k, c);
        let a2b = local_matmul(am2, bm, r, k, c);
        let mut z: Vec<Fp> = ab.iter().zip(&d2).map(|(p, m)| *p - *m).collect();
        z.extend(a2b.iter().zip(&d2[r * c..]).map(|(p, m)| *p - *m));
        // Mask: each opened element is a product minus a fresh [r]_2t.
        let w = self.open(&z, 2 * t, "dn-mul").await;
        self.prep_end(started);
        let w = w?;
        let cm: Vec<Fp> = (0..r * c).map(|i| w[i] + dt[i]).collect();
        let cm2: Vec<Fp> = (0..r * c).map(|i| w[r * c + i] + dt[r * c + i]).collect();
        // Mask: coins are fresh DN randoms, opened after the products' errors are fixed.
        let coin = self.open(coin_sh, t, "coin").await?;
        let rho = coin[0];
        let mut gamma_rng = StdRng::from_seed(super::prep_active::coin_seed(coin[1]));
        // ---- ε, and the Beaver openings of the product itself ----
        let mut o = Vec::with_capacity(2 * r * k + k * c);
        o.extend(am.iter().zip(am2).map(|(a, a2)| rho * *a - *a2));
        o.extend(x.iter().zip(am).map(|(x, a)| *x - *a));
        o.extend(y.iter().zip(bm).map(|(y, b)| *y - *b));
        // Mask: A' masks ε; A and B (fresh, used once) mask D and F.
        let opened = self.open(&o, t, "beaver-matrix").await?;
        let (eps, rest) = opened.split_at(r * k);
        let (dm, fm) = rest.split_at(r * k);
        let eb = local_matmul(eps, bm, r, k, c);
        let mut s = Fp::ZERO;
        for i in 0..r * c {
            s += Fp::random(&mut gamma_rng) * (rho * cm[i] - cm2[i] - eb[i]);
        }
        // Mask: S is 0 unless someone cheated (then it shows only the cheaters' errors).
        if self.open(&[s], t, "sacrifice").await?[0] != Fp::ZERO {
            return Err(MpcError::Integrity("a matrix triple failed its sacrifice check".into()));
        }
        let db = local_matmul(dm, bm, r, k, c);
        let af = local_matmul(am, fm, r, k, c);
        let df = local_matmul(dm, fm, r, k, c);
        Ok((0..r * c).map(|i| cm[i] + db[i] + af[i] + df[i]).collect())
    }
}
