//! Fixed-point numbers: how a real number becomes a field element and back.
//!
//! Owns: the storage scale ([`FRAC_BITS`] fractional bits), the representable range ([`MAX_ABS`]),
//! encoding of integers and floats to signed representatives, and decoding back to the shortest
//! decimal that encodes to the same representative (so 0.1 loads as 0.1). Must never silently wrap:
//! anything outside the range is an error; never does I/O.
//!
//! Numbers: a value x is stored as the integer rep = round(x · 2^20), |rep| < 2^62, embedded in the
//! field as a signed element. Resolution 2^-20 ≈ 9.54e-7, so every number with at most 6 decimal places
//! round-trips exactly; |x| < 2^42 ≈ 4.398e12. Integers are stored at the same scale (exact), so every
//! computation sees one scale. The 2^62 bound leaves 127 − 62 − 20 − 40 = 5 bits of headroom for a
//! product before truncation plus 40 bits of statistical masking (see the MPC truncation protocol).

use crate::field::Fp;

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

    proptest! {
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
