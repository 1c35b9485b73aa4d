//! Fixed-point numbers: how a real number becomes a field element and back.
//!
//! Owns: the storage scales ([`NumScale`]: the public decimal scale 10^d that new stores use,
//! default d = 6, and the binary scale 2^20 of keys stored before decimal scales, [`FRAC_BITS`]),
//! the representable range ([`MAX_REP`] on the representative, so |x| < 2^62 / scale), exact
//! decimal encoding of floats from their shortest round-trip decimal text (never by float
//! arithmetic: 1.005 · 100 is 100.49999999999999 in float64), and decoding back. Must never
//! silently wrap: anything outside the range is an error; never does I/O.
//!
//! Decimal scale: rep = x · 10^d exactly for every x with at most d decimals (others round to the
//! nearest, or are refused with `exact`); |rep| < 2^62, so |x| < 4.6e12 at d = 6 and 4.6e9 at d = 9.
//! The engine's bounds are on |rep| (62 bits), so they hold at every scale.
//!
//! Binary scale (legacy): rep = round(x · 2^20), |rep| < 2^62, |x| < 2^42 ≈ 4.398e12. Resolution
//! 2^-20 ≈ 9.54e-7: every number with at most 6 decimals round-trips (decoding picks the shortest
//! decimal), but computations see the binary approximation. The 2^62 bound leaves
//! 127 − 62 − 20 − 40 = 5 bits of headroom for a product before truncation plus 40 bits of
//! statistical masking (see the MPC truncation protocol).

use crate::field::Fp;
use serde::{Deserialize, Serialize};

/// Fractional bits of the storage scale.
pub const FRAC_BITS: u32 = 20;
/// 2^FRAC_BITS as a float.
pub const SCALE: f64 = (1u64 << FRAC_BITS) as f64;
/// Exclusive bound on |rep|.
pub const MAX_REP: i128 = 1 << 62;
/// Exclusive bound on |x| for stored numbers: 2^42.
pub const MAX_ABS: f64 = (1u64 << 42) as f64;
/// Exclusive bound on |i| for stored integers.
pub const MAX_INT: i64 = 1 << 42;

/// Errors converting numbers to fixed point.
#[derive(Debug, thiserror::Error, PartialEq, Clone)]
pub enum FixedError {
    #[error("value out of range for fixed-point: {0} (|x| must be below 2^42 = 4398046511104)")]
    OutOfRange(String),
    #[error("value out of range for fixed-point: {0} is not a finite number")]
    NotFinite(String),
    #[error("value out of range for fixed-point: {0}")]
    OutOfScaleRange(String),
    #[error(
        "{0} has more decimals than the store's scale keeps exactly ({1}); store it with more decimals, or without exact"
    )]
    Inexact(String, u32),
    #[error("decimals must be between 0 and {MAX_DECIMALS}, got {0}")]
    BadDecimals(i64),
}

/// Decimals of the default storage scale: rep = x · 10^6.
pub const DEFAULT_DECIMALS: u32 = 6;
/// The largest number of decimals a store may choose: at 10^12, |x| < 2^62 / 10^12 ≈ 4.6e6.
pub const MAX_DECIMALS: u32 = 12;

/// The public storage scale of a stored number: rep = round(x · scale), |rep| < 2^62.
///
/// The scale is public (it is in the manifest), so choosing it leaks nothing about the data. A
/// decimal scale holds every number with at most d decimals exactly, and with it every exact
/// aggregate the engine forms (sums, centred sums of squares, cross products). `Binary20` is the
/// scale of keys stored before decimal scales existed (manifest versions 1 and 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NumScale {
    /// rep = round(x · 2^20).
    Binary20,
    /// rep = round(x · 10^d), d ≤ [`MAX_DECIMALS`].
    Decimal(u8),
}

impl NumScale {
    /// The scale of a new store that does not choose one.
    pub const DEFAULT: NumScale = NumScale::Decimal(DEFAULT_DECIMALS as u8);

    /// The decimal scale 10^d; an error outside 0..=[`MAX_DECIMALS`].
    pub fn decimal(d: i64) -> Result<NumScale, FixedError> {
        if !(0..=MAX_DECIMALS as i64).contains(&d) {
            return Err(FixedError::BadDecimals(d));
        }
        Ok(NumScale::Decimal(d as u8))
    }

    /// The integer the scale multiplies by (2^20 or 10^d).
    pub fn factor(self) -> u128 {
        match self {
            NumScale::Binary20 => 1u128 << FRAC_BITS,
            NumScale::Decimal(d) => 10u128.pow(d as u32),
        }
    }

    /// The decimals of a decimal scale, `None` for the binary one.
    pub fn decimals(self) -> Option<u32> {
        match self {
            NumScale::Binary20 => None,
            NumScale::Decimal(d) => Some(d as u32),
        }
    }

    /// How the scale is shown to people ("10^-6", "2^-20").
    pub fn describe(self) -> String {
        match self {
            NumScale::Binary20 => "2^-20 (binary)".into(),
            NumScale::Decimal(d) => format!("10^-{d} ({d} decimals)"),
        }
    }

    /// Exclusive bound on |x| at this scale.
    pub fn max_abs(self) -> f64 {
        match self {
            NumScale::Binary20 => MAX_ABS,
            NumScale::Decimal(_) => MAX_REP as f64 / self.factor() as f64,
        }
    }

    /// Representative of an integer at this scale.
    pub fn encode_int(self, i: i64) -> Result<i128, FixedError> {
        match self {
            NumScale::Binary20 => encode_int(i),
            NumScale::Decimal(_) => (i as i128)
                .checked_mul(self.factor() as i128)
                .filter(|r| r.unsigned_abs() < MAX_REP as u128)
                .ok_or_else(|| self.out_of_range(&i.to_string())),
        }
    }

    /// Representative of a float at this scale. At a decimal scale the float is read as its
    /// shortest round-trip decimal (what `repr` prints, so 1.005 is 1.005, not
    /// 1.00499999999999989…) and that decimal is scaled exactly; one with more decimals than the
    /// scale is rounded to the nearest (half away from zero), or refused when `exact`.
    pub fn encode_float(self, x: f64, exact: bool) -> Result<i128, FixedError> {
        let d = match self {
            NumScale::Binary20 => return encode_float(x),
            NumScale::Decimal(d) => d as i32,
        };
        if !x.is_finite() {
            return Err(FixedError::NotFinite(x.to_string()));
        }
        // "-1.2345e-3": digits 12345, exponent −3 → x = 12345 · 10^(−3 − 4)
        let text = format!("{x:e}");
        let (mant, exp) = text.split_once('e').ok_or_else(|| FixedError::NotFinite(text.clone()))?;
        let exp: i32 = exp.parse().map_err(|_| FixedError::NotFinite(text.clone()))?;
        let neg = mant.starts_with('-');
        let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
        let m: u128 = digits.parse().map_err(|_| FixedError::NotFinite(text.clone()))?;
        let k = exp - (digits.len() as i32 - 1) + d; // rep = m · 10^k
        let rep = if k >= 0 {
            10u128.checked_pow(k as u32).and_then(|p| m.checked_mul(p)).ok_or_else(|| self.out_of_range(&text))?
        } else {
            let Some(p) = 10u128.checked_pow((-k) as u32) else {
                // below 10^-38 of a unit: rounds to zero
                if exact && m != 0 {
                    return Err(FixedError::Inexact(text, d as u32));
                }
                return Ok(0);
            };
            let (q, r) = (m / p, m % p);
            if exact && r != 0 {
                return Err(FixedError::Inexact(x.to_string(), d as u32));
            }
            if 2 * r >= p { q + 1 } else { q }
        };
        if rep >= MAX_REP as u128 {
            return Err(self.out_of_range(&x.to_string()));
        }
        Ok(if neg { -(rep as i128) } else { rep as i128 })
    }

    /// Decodes a representative of an integer; `None` if it is not a whole number.
    pub fn decode_int(self, rep: i128) -> Option<i64> {
        match self {
            NumScale::Binary20 => decode_int(rep),
            NumScale::Decimal(_) => {
                let f = self.factor() as i128;
                if rep % f != 0 {
                    return None;
                }
                i64::try_from(rep / f).ok()
            }
        }
    }

    /// Decodes a representative to a float: at a decimal scale, the double nearest to the exact
    /// decimal rep / 10^d; at the binary scale, the shortest decimal that encodes back to it.
    pub fn decode_float(self, rep: i128) -> f64 {
        match self {
            NumScale::Binary20 => decode_float(rep),
            NumScale::Decimal(d) => format!("{rep}e-{d}").parse().unwrap_or(rep as f64 / self.factor() as f64),
        }
    }

    fn out_of_range(self, x: &str) -> FixedError {
        FixedError::OutOfScaleRange(format!(
            "{x} (at the scale {} |x| must be below {:e})",
            self.describe(),
            self.max_abs()
        ))
    }
}

/// Representative of an integer.
pub fn encode_int(i: i64) -> Result<i128, FixedError> {
    if i.unsigned_abs() >= MAX_INT as u64 {
        return Err(FixedError::OutOfRange(i.to_string()));
    }
    Ok((i as i128) << FRAC_BITS)
}

/// Representative of a float, rounded to the nearest multiple of 2^-20 (half away from zero).
pub fn encode_float(x: f64) -> Result<i128, FixedError> {
    if !x.is_finite() {
        return Err(FixedError::NotFinite(x.to_string()));
    }
    let scaled = (x * SCALE).round(); // exact scaling by a power of two, then rounding
    if scaled.abs() >= MAX_REP as f64 {
        return Err(FixedError::OutOfRange(x.to_string()));
    }
    Ok(scaled as i128)
}

/// The field element of a representative.
pub fn to_field(rep: i128) -> Fp {
    Fp::from_i128(rep)
}

/// The representative of a field element (signed reading).
pub fn from_field(f: Fp) -> i128 {
    f.to_i128()
}

/// Decodes a representative of an integer; `None` if it is not a whole number.
pub fn decode_int(rep: i128) -> Option<i64> {
    if rep & ((1 << FRAC_BITS) - 1) != 0 {
        return None;
    }
    i64::try_from(rep >> FRAC_BITS).ok()
}

/// Decodes a representative to the float with the fewest decimal places that encodes back to it.
pub fn decode_float(rep: i128) -> f64 {
    decode_float_at(rep, FRAC_BITS)
}

/// [`decode_float`] for a representative with `frac_bits` fractional bits (MPC outputs may carry more
/// precision than storage).
pub fn decode_float_at(rep: i128, frac_bits: u32) -> f64 {
    let exact = rep as f64 / (2f64).powi(frac_bits as i32);
    if rep.unsigned_abs() >= 1u128 << 53 || frac_bits > 40 {
        return exact; // beyond f64's exact range the nearest double is the best answer
    }
    // Shortest decimal m / 10^d inside the rounding cell [rep − ½, rep + ½) / 2^frac_bits.
    let denom_bits = frac_bits + 1;
    let max_digits = ((frac_bits as f64) * std::f64::consts::LOG10_2).ceil() as u32 + 1;
    for d in 0..=max_digits {
        let p10 = 10i128.pow(d);
        let lo = (2 * rep - 1) * p10; // cell lower bound times 2^(frac_bits+1)·10^d
        let hi = (2 * rep + 1) * p10;
        // integers m with lo ≤ m·2^(f+1) ≤ hi, widened by one on each side: the double nearest to
        // m/10^d can fall into the cell when m/10^d itself sits just outside it (ties round away from
        // zero). The encoder itself decides.
        let mut m = div_ceil(lo, 1i128 << denom_bits) - 1;
        while (m << denom_bits) <= hi + (1i128 << denom_bits) {
            let candidate = m as f64 / p10 as f64;
            if (candidate * (2f64).powi(frac_bits as i32)).round() as i128 == rep {
                return candidate;
            }
            m += 1;
        }
    }
    exact
}

fn div_ceil(a: i128, b: i128) -> i128 {
    let q = a.div_euclid(b);
    if a.rem_euclid(b) == 0 { q } else { q + 1 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decimals_roundtrip() {
        for x in [0.1, 0.2, 0.3, 1.5, -0.1, 123456.654321, 42.0, -999999.999999, 1e-6, -685450757.152678] {
            assert_eq!(decode_float(encode_float(x).unwrap()), x, "{x}");
        }
        assert_eq!(decode_float(encode_float(1e-7).unwrap()), 0.0);
    }

    #[test]
    fn range_is_enforced() {
        assert!(encode_int(MAX_INT - 1).is_ok());
        assert!(encode_int(MAX_INT).is_err());
        assert!(encode_int(-MAX_INT).is_err());
        assert!(encode_float(4.4e12).is_err());
        assert!(encode_float(f64::NAN).is_err());
        assert!(encode_float(f64::INFINITY).is_err());
        assert!(encode_float(-4.3e12).is_ok());
    }

    #[test]
    fn ints_are_exact() {
        for i in [0i64, 1, -1, 24, 10_000_000, MAX_INT - 1, -(MAX_INT - 1)] {
            let rep = encode_int(i).unwrap();
            assert_eq!(decode_int(from_field(to_field(rep))), Some(i));
        }
        assert_eq!(decode_int(encode_float(0.5).unwrap()), None);
    }

    #[test]
    fn decimal_scale_is_exact_on_decimal_text() {
        let s6 = NumScale::DEFAULT;
        assert_eq!(s6.encode_float(1.3, true), Ok(1_300_000));
        assert_eq!(s6.encode_float(1.005, true), Ok(1_005_000)); // not 1004999 (float scaling)
        assert_eq!(s6.encode_float(-0.000001, true), Ok(-1));
        assert_eq!(s6.encode_float(0.1 + 0.2, false), Ok(300_000)); // 0.30000000000000004 rounds
        assert!(matches!(s6.encode_float(0.1 + 0.2, true), Err(FixedError::Inexact(..))));
        assert_eq!(s6.encode_float(0.0000005, false), Ok(1)); // half away from zero
        assert_eq!(s6.encode_float(-0.0000005, false), Ok(-1));
        assert_eq!(s6.encode_float(1e-300, false), Ok(0));
        assert!(s6.encode_float(1e-300, true).is_err());
        assert_eq!(s6.encode_float(4.6e12, false), Ok(4_600_000_000_000_000_000));
        assert!(s6.encode_float(4.7e12, false).is_err());
        assert!(s6.encode_float(f64::NAN, false).is_err());
        let s9 = NumScale::decimal(9).unwrap();
        assert_eq!(s9.encode_float(0.123456789, true), Ok(123_456_789));
        assert_eq!(s9.decode_float(123_456_789), 0.123456789);
        assert_eq!(s6.decode_float(1_300_000), 1.3);
        assert_eq!(s6.encode_int(42), Ok(42_000_000));
        assert_eq!(s6.decode_int(42_000_000), Some(42));
        assert_eq!(s6.decode_int(42_000_001), None);
        assert!(s6.encode_int(5_000_000_000_000).is_err());
        assert!(NumScale::decimal(0).unwrap().encode_int(1 << 61).is_ok());
        assert!(NumScale::decimal(13).is_err());
        assert!(NumScale::decimal(-1).is_err());
    }

    proptest! {
        #[test]
        fn decimal_numbers_roundtrip_exactly(m in -999_999_999_999_999i64..999_999_999_999_999i64, d in 0u32..=12) {
            // 15 significant digits: every such decimal is the shortest text of its double
            let s = NumScale::decimal(d as i64).unwrap();
            let x: f64 = format!("{m}e-{d}").parse().unwrap();
            prop_assert_eq!(s.encode_float(x, true), Ok(m as i128));
            prop_assert_eq!(s.decode_float(m as i128), x);
        }

        #[test]
        fn six_decimal_numbers_roundtrip(m in -999_999_999_999i64..999_999_999_999i64) {
            let x = m as f64 / 1e6;
            prop_assert_eq!(decode_float(encode_float(x).unwrap()), x);
        }

        #[test]
        fn decode_is_within_half_ulp(x in -4e12f64..4e12f64) {
            let rep = encode_float(x).unwrap();
            let back = decode_float(rep);
            prop_assert!((back - x).abs() <= 0.5 / SCALE + x.abs() * 1e-15);
            prop_assert_eq!(encode_float(back).unwrap(), rep);
        }
    }
}
