//! The prime field GF(p) with p = 2^127 − 1 (a Mersenne prime), in which every share lives.
//!
//! Owns: the element type [`Fp`], its arithmetic, uniform sampling, the signed embedding of integers,
//! and the little-endian byte form used on the wire and on disk. It must never hold or log secrets
//! beyond the values callers hand it, and never do I/O.
//!
//! Why this field: a 127-bit prime leaves room for 64-bit fixed-point values plus the product extension
//! plus 40 bits of statistical masking (see `fixed.rs` and DESIGN §3), and reduction modulo a Mersenne
//! prime is two additions, so a multiplication costs four 64×64 products and a few adds. p ≡ 3 (mod 4).

use rand::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, AddAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// The modulus, 2^127 − 1.
pub const P: u128 = (1u128 << 127) - 1;

/// Number of bytes in the canonical encoding of one element.
pub const BYTES: usize = 16;

/// An element of GF(2^127 − 1). Invariant: the inner value is `< P`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
#[repr(transparent)]
pub struct Fp(u128);

impl fmt::Debug for Fp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fp({})", self.0)
    }
}

#[inline(always)]
fn reduce_once(x: u128) -> u128 {
    // x < 2^128: fold the top bit, then one conditional subtraction.
    let r = (x & P) + (x >> 127);
    if r >= P { r - P } else { r }
}

/// Full 127×127-bit product reduced modulo P.
#[inline(always)]
fn mul_mod(a: u128, b: u128) -> u128 {
    let (a0, a1) = (a as u64 as u128, a >> 64);
    let (b0, b1) = (b as u64 as u128, b >> 64);
    let p00 = a0 * b0;
    let mid = a0 * b1 + a1 * b0; // each term < 2^127, so the sum fits in u128
    let p11 = a1 * b1;
    let (lo, carry) = p00.overflowing_add(mid << 64);
    let hi = p11 + (mid >> 64) + carry as u128; // < 2^126 since a, b < 2^127
    // 2^128 ≡ 2 (mod P): value = hi·2^128 + lo ≡ 2·hi + lo.
    let s = (lo & P) + (lo >> 127) + (hi << 1);
    reduce_once(s)
}

impl Fp {
    pub const ZERO: Fp = Fp(0);
    pub const ONE: Fp = Fp(1);

    /// Element from any u128 (reduced modulo P).
    #[inline]
    pub fn new(v: u128) -> Fp {
        Fp(reduce_once(v))
    }

    /// Element from a u64.
    #[inline]
    pub const fn from_u64(v: u64) -> Fp {
        Fp(v as u128)
    }

    /// Signed embedding: a negative integer maps to P − |v|. Exact for |v| < 2^126.
    #[inline]
    pub fn from_i128(v: i128) -> Fp {
        if v >= 0 { Fp::new(v as u128) } else { -Fp::new(v.unsigned_abs()) }
    }

    /// Inverse of [`Fp::from_i128`]: elements above (P−1)/2 are read as negative.
    #[inline]
    pub fn to_i128(self) -> i128 {
        if self.0 > P / 2 { -((P - self.0) as i128) } else { self.0 as i128 }
    }

    /// The canonical representative in [0, P).
    #[inline]
    pub const fn value(self) -> u128 {
        self.0
    }

    /// 2^k as a field element (k < 127).
    #[inline]
    pub fn pow2(k: u32) -> Fp {
        debug_assert!(k < 127);
        Fp(1u128 << k)
    }

    pub fn pow(self, mut e: u128) -> Fp {
        let mut base = self;
        let mut acc = Fp::ONE;
        while e > 0 {
            if e & 1 == 1 {
                acc *= base;
            }
            base *= base;
            e >>= 1;
        }
        acc
    }

    /// Multiplicative inverse; `None` for zero.
    pub fn inv(self) -> Option<Fp> {
        if self.0 == 0 { None } else { Some(self.pow(P - 2)) }
    }

    /// A square root when one exists (P ≡ 3 mod 4, so it is self^((P+1)/4)).
    pub fn sqrt(self) -> Option<Fp> {
        let r = self.pow((P + 1) / 4);
        if r * r == self { Some(r) } else { None }
    }

    /// Uniform sample from the whole field (rejection sampling on 127 bits).
    #[inline]
    pub fn random<R: Rng + ?Sized>(rng: &mut R) -> Fp {
        loop {
            let v = ((rng.next_u64() as u128) << 64 | rng.next_u64() as u128) & P;
            if v != P {
                return Fp(v);
            }
        }
    }

    /// Little-endian canonical bytes.
    #[inline]
    pub fn to_bytes(self) -> [u8; BYTES] {
        self.0.to_le_bytes()
    }

    /// Parses canonical bytes; `None` if the value is not below P.
    #[inline]
    pub fn from_bytes(b: [u8; BYTES]) -> Option<Fp> {
        let v = u128::from_le_bytes(b);
        if v < P { Some(Fp(v)) } else { None }
    }
}

impl Add for Fp {
    type Output = Fp;
    #[inline(always)]
    fn add(self, o: Fp) -> Fp {
        let s = self.0 + o.0; // < 2^128
        Fp(if s >= P { s - P } else { s })
    }
}
impl AddAssign for Fp {
    #[inline(always)]
    fn add_assign(&mut self, o: Fp) {
        *self = *self + o;
    }
}
impl Sub for Fp {
    type Output = Fp;
    #[inline(always)]
    fn sub(self, o: Fp) -> Fp {
        Fp(if self.0 >= o.0 { self.0 - o.0 } else { self.0 + P - o.0 })
    }
}
impl SubAssign for Fp {
    #[inline(always)]
    fn sub_assign(&mut self, o: Fp) {
        *self = *self - o;
    }
}
impl Neg for Fp {
    type Output = Fp;
    #[inline(always)]
    fn neg(self) -> Fp {
        Fp(if self.0 == 0 { 0 } else { P - self.0 })
    }
}
impl Mul for Fp {
    type Output = Fp;
    #[inline(always)]
    fn mul(self, o: Fp) -> Fp {
        Fp(mul_mod(self.0, o.0))
    }
}
impl MulAssign for Fp {
    #[inline(always)]
    fn mul_assign(&mut self, o: Fp) {
        *self = *self * o;
    }
}
impl std::iter::Sum for Fp {
    fn sum<I: Iterator<Item = Fp>>(iter: I) -> Fp {
        iter.fold(Fp::ZERO, |a, b| a + b)
    }
}

/// Inner product Σ a_i·b_i with one modular reduction per term (the hot loop of local dot products).
pub fn dot(a: &[Fp], b: &[Fp]) -> Fp {
    debug_assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(Fp::ZERO, |acc, (x, y)| acc + *x * *y)
}

/// Encodes a slice of elements as concatenated little-endian bytes.
pub fn to_bytes_vec(v: &[Fp]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() * BYTES);
    for x in v {
        out.extend_from_slice(&x.to_bytes());
    }
    out
}

/// Errors decoding a byte string into field elements.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FieldDecodeError {
    #[error("field vector length {0} is not a multiple of {BYTES}")]
    BadLength(usize),
    #[error("field element at index {0} is not below the modulus")]
    OutOfRange(usize),
}

/// Decodes concatenated little-endian elements, refusing non-canonical values.
pub fn from_bytes_vec(b: &[u8]) -> Result<Vec<Fp>, FieldDecodeError> {
    if !b.len().is_multiple_of(BYTES) {
        return Err(FieldDecodeError::BadLength(b.len()));
    }
    b.chunks_exact(BYTES)
        .enumerate()
        .map(|(i, c)| {
            let mut a = [0u8; BYTES];
            a.copy_from_slice(c);
            Fp::from_bytes(a).ok_or(FieldDecodeError::OutOfRange(i))
        })
        .collect()
}

/// A vector of field elements that serialises as one byte string (fast on the wire).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FpVec(pub Vec<Fp>);

impl Serialize for FpVec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&to_bytes_vec(&self.0))
    }
}

impl<'de> Deserialize<'de> for FpVec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes: serde_bytes::ByteBuf = Deserialize::deserialize(d)?;
        from_bytes_vec(&bytes).map(FpVec).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn big(a: u128, b: u128) -> u128 {
        // reference: schoolbook with repeated doubling, slow but obviously right
        let mut acc = 0u128;
        let mut x = a % P;
        let mut y = b % P;
        while y > 0 {
            if y & 1 == 1 {
                acc = (acc + x) % P;
            }
            x = (x + x) % P;
            y >>= 1;
        }
        acc
    }

    proptest! {
        #[test]
        fn mul_matches_reference(a in 0..P, b in 0..P) {
            prop_assert_eq!((Fp::new(a) * Fp::new(b)).value(), big(a, b));
        }

        #[test]
        fn add_sub_neg(a in 0..P, b in 0..P) {
            let (x, y) = (Fp::new(a), Fp::new(b));
            prop_assert_eq!(x + y - y, x);
            prop_assert_eq!(x + (-x), Fp::ZERO);
        }

        #[test]
        fn inverse(a in 1..P) {
            let x = Fp::new(a);
            prop_assert_eq!(x * x.inv().unwrap(), Fp::ONE);
        }

        #[test]
        fn signed_roundtrip(v in -(1i128 << 126)..(1i128 << 126)) {
            prop_assert_eq!(Fp::from_i128(v).to_i128(), v);
        }

        #[test]
        fn bytes_roundtrip(a in 0..P) {
            let x = Fp::new(a);
            prop_assert_eq!(Fp::from_bytes(x.to_bytes()), Some(x));
        }
    }

    #[test]
    fn edge_values() {
        assert_eq!(Fp::new(P), Fp::ZERO);
        assert_eq!(Fp::new(P - 1) * Fp::new(P - 1), Fp::ONE);
        assert_eq!(Fp::from_bytes(P.to_le_bytes()), None);
        assert_eq!(Fp::from_u64(4).sqrt().map(|r| r * r), Some(Fp::from_u64(4)));
        assert!(from_bytes_vec(&[0u8; 17]).is_err());
    }

    #[test]
    fn fpvec_serde_roundtrip() {
        let v = FpVec(vec![Fp::from_u64(1), Fp::new(P - 5), Fp::ZERO]);
        let bytes = postcard::to_stdvec(&v).unwrap();
        let back: FpVec = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, v);
    }
}
