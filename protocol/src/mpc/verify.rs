//! Active security as a whole: why a coalition of up to t members that deviates cannot make an
//! honest requester accept a wrong output, nor learn more than the semi-honest protocol shows; the
//! check of inputs held directly by the committee; and the test-only misbehaviours.
//!
//! Owns: `check_direct_inputs`, the composition argument below, and [`Cheat`] (compiled only for
//! tests and the node's `cheat` feature). Must never open an input, even a combination of inputs,
//! without a fresh uniform mask.
//!
//! **The argument** (n ≥ 2t + 1 members, at most t corrupted, which may deviate in any way):
//! 1. *Every opening is checked* (`open.rs`): each honest member gets the value the honest shares
//!    define, or aborts. So nothing public can be shifted.
//! 2. *Every product is exact*: products are Beaver products (elementwise, or on matrices,
//!    `matmul.rs`) on triples that passed a sacrifice check before their result is used
//!    (`prep_active.rs`), with checked openings of x − a and y − b. Given correct triples and
//!    correct openings, Beaver's formula is exact. No degree-2t value is reduced online.
//! 3. *Every random value is unbiased*: randoms come from DN extraction; bits from squares of
//!    randoms; truncation and comparison masks are composed of those bits (`prep_active.rs`). Nobody
//!    deals a bit or a mask of its choosing, so the masks of every statistical opening (truncation,
//!    comparison, decomposition) have the distribution `trunc.rs` and `compare.rs` rely on.
//! 4. *Inputs are checked before use*: an input the committee holds directly is checked by one
//!    masked random-combination opening ([`Party::check_direct_inputs`]): ≥ 2t + 1 shares on one
//!    degree-t polynomial leave a wrong share nowhere to hide. A reshared input must come from
//!    ≥ 2t_src + 1 dealers, whose points are checked to lie on one degree-t_src polynomial
//!    (`reshare.rs`). With fewer holders up the check could be evaded, so active mode refuses.
//! 5. *Outputs are checked by the requester*: it combines only ≥ 2t + 1 output shares that lie on
//!    one degree-t polynomial (`ops::reveal`).
//!
//! By 1–4, every value in the computation is exactly what an honest run computes on the checked
//! inputs, or the run has aborted; by 5 the requester accepts nothing else. What is opened before a
//! check completes is masked by fresh randomness (a', A', a, b, the DN doubles), so it shows nothing
//! whatever the coalition did; an abort depends only on what the coalition sent, never on secret
//! data. Soundness error: ≤ 2/p ≈ 2^-126 per check. At n = 2t + 1 a failed check cannot tell who
//! cheated (abort only); `docs/threat-model.md` says what limits the resulting denial of service.
//!
//! The median's shuffle adds its own per-round check (`shuffle.rs`), whose abort depends only on
//! the coalition's deviations, never on the data.
//!
//! Not covered: a value an owner dealt out of range (no store-time range check). Computations
//! never combine values dealt by different parties (`admission::classify`), so such a value can
//! only show bits of the dealer's own data or distort results computed on it (a grantee accepts
//! them); docs/threat-model.md §2.3 states the cost of a store-time check.

use super::{MpcError, Party, Transport};
use crate::field::Fp;
use rand::SeedableRng;
use rand::rngs::StdRng;

impl<T: Transport> Party<T> {
    /// Active mode: checks that the committee's shares of every input lie on one degree-t
    /// polynomial, by opening r + Σ γ_i x_i (r a fresh random sharing, γ from a coin opened after
    /// the inputs are fixed). Semi-honest mode: nothing to do.
    pub async fn check_direct_inputs(&mut self, inputs: &[&[Fp]]) -> Result<(), MpcError> {
        if !self.active() || inputs.iter().all(|x| x.is_empty()) {
            return Ok(());
        }
        let rs = self.take_rands(2).await?;
        // Mask: a fresh DN random, opened after the inputs are fixed.
        let coin = self.open(&rs[..1], self.t, "coin").await?[0];
        let mut g = StdRng::from_seed(super::prep_active::coin_seed(coin));
        let mut v = rs[1];
        for x in inputs {
            for xi in x.iter() {
                v += Fp::random(&mut g) * *xi;
            }
        }
        // Mask: r (fresh, uniform) hides the combination; the checked opening does the work.
        self.open(&[v], self.t, "input-check").await.map_err(|e| match e {
            MpcError::Integrity(_) => {
                MpcError::Integrity("an input's shares do not lie on one polynomial (a holder's share is wrong)".into())
            }
            other => other,
        })?;
        Ok(())
    }
}

impl<T: Transport> Party<T> {
    /// Active mode: aborts unless every element of `b` is 0 or 1. One Beaver product per element
    /// (t_i = b_i(1 − b_i)), a coin γ opened after every t_i is fixed, and a masked zero test of
    /// S = Σ γ_i·t_i: ρ·S is opened with ρ a fresh random, so it is 0 when every b_i is a
    /// bit and uniform otherwise (a nonzero S is never shown). Soundness ≤ 2/p.
    pub(crate) async fn check_bits(&mut self, b: &[Fp]) -> Result<(), MpcError> {
        if b.is_empty() {
            return Ok(());
        }
        let one_minus: Vec<Fp> = b.iter().map(|x| Fp::ONE - *x).collect();
        let prods = self.mul(b, &one_minus).await?;
        let r = self.take_rands(2).await?;
        // Mask: a coin (a fresh random), opened after the products are fixed.
        let coin = self.open(&r[..1], self.t, "coin").await?;
        let mut gamma = StdRng::from_seed(super::prep_active::coin_seed(coin[0]));
        let s: Fp = prods.iter().map(|p| Fp::random(&mut gamma) * *p).sum();
        let rs = self.mul(&r[1..2], &[s]).await?;
        // Mask: ρ·S with ρ fresh: 0 if every value is a bit, uniform otherwise.
        let v = self.open(&rs, self.t, "bit-check").await?;
        if v[0] != Fp::ZERO {
            return Err(MpcError::Integrity(
                "a comparison's mask was out of range (a contributed mask is wrong)".into(),
            ));
        }
        Ok(())
    }
}

/// Ways a test can make one party misbehave (tests and the node's `cheat` feature only).
#[cfg(any(test, feature = "cheat"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cheat {
    /// Adds 1 to the first element of every share it sends in a checked opening.
    Open,
    /// Adds 1 to its share of every degree-2t opening (an additive attack on DN products).
    Product,
    /// Adds 1 to the share it deals as a dealer of a reshared input.
    Reshare,
    /// Adds 1 to its output shares.
    Output,
    /// Adds 1 to the first of its shares of every batch of PRSS randoms and doubles.
    Prss,
    /// Contributes 2^126 as its first comparison high mask r'' of every window (2^m·2^126 ≡ 2^(m−1): c wraps).
    LtzHigh,
    /// Adds 1 to the first element of its dealing in each round of a shuffle (`shuffle.rs`).
    Shuffle,
    /// The selective-abort attack on a shuffle (`shuffle.rs`): in the first round, which it deals
    /// in and whose permutation it knows, it swaps the tuples of elements 0 and 1 by adding
    /// ±(2^FRAC_BITS, 1) to the first two vectors at their permuted positions. The output is again
    /// a permutation of the (value, tag) tuples exactly when x_1 − x_0 = 1.0: a guess about the data.
    ShuffleGuess,
    /// Sends the first other member another shuffle seed contribution than it uses itself, so two
    /// members of one subset derive different permutations (`shuffle.rs`'s seed digest).
    ShuffleSeed,
    /// Adds 1 to element 0 in the first shuffle round and takes it back where the second round
    /// (which it also deals in) moves it: the final output is exact, but two rounds were wrong.
    ShuffleCancel,
}

#[cfg(any(test, feature = "cheat"))]
impl Cheat {
    pub fn from_name(s: &str) -> Option<Cheat> {
        match s {
            "open" => Some(Cheat::Open),
            "product" => Some(Cheat::Product),
            "reshare" => Some(Cheat::Reshare),
            "output" => Some(Cheat::Output),
            "prss" => Some(Cheat::Prss),
            "ltz-high" => Some(Cheat::LtzHigh),
            "shuffle" => Some(Cheat::Shuffle),
            "shuffle-guess" => Some(Cheat::ShuffleGuess),
            "shuffle-seed" => Some(Cheat::ShuffleSeed),
            "shuffle-cancel" => Some(Cheat::ShuffleCancel),
            _ => None,
        }
    }
}

#[cfg(any(test, feature = "cheat"))]
impl<T: Transport> Party<T> {
    /// Makes this party misbehave as `cheat` says.
    pub fn set_cheat(&mut self, cheat: Option<Cheat>) {
        self.cheat = cheat;
    }
}

/// The shares with 1 added to the first element.
#[cfg(any(test, feature = "cheat"))]
pub(crate) fn nudge(shares: &[Fp]) -> Vec<Fp> {
    let mut v = shares.to_vec();
    if let Some(x) = v.first_mut() {
        *x += Fp::ONE;
    }
    v
}
