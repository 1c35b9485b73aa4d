//! The value codec (`enigma_protocol::value`) and the typed JSON values of `load` (`api`).
//!
//! Input, by its first byte: even → a postcard `ValueMeta` (as a manifest carries it) followed by
//! 16-byte little-endian field elements (as shares reconstruct to); odd → JSON text, as `store`
//! receives `data`.
//!
//! Checks: `decode` never panics, nor takes unbounded time or memory; a decoded value's JSON forms
//! are built; anything that decodes and re-encodes decodes to the same value (and strings, bytes and ints
//! re-encode to the very same elements); a value read from JSON encodes (floats rounded to the
//! fixed-point grid once) to elements that decode and re-encode to exactly the same elements, and
//! its typed JSON (`load`'s answer) reads back to it.
#![no_main]

use enigma_protocol::api::{value_from_json, value_to_json};
use enigma_protocol::field::{BYTES, Fp};
use enigma_protocol::fixed::NumScale;
use enigma_protocol::value::{self, Value, ValueMeta};
use libfuzzer_sys::fuzz_target;

/// Field elements from bytes: canonical encodings as they are, others reduced.
fn elements(b: &[u8]) -> Vec<Fp> {
    b.chunks_exact(BYTES)
        .map(|c| {
            let mut a = [0u8; BYTES];
            a.copy_from_slice(c);
            Fp::from_bytes(a).unwrap_or_else(|| Fp::new(u128::from_le_bytes(a)))
        })
        .collect()
}

/// `v` → elements at `scale` → value again.
fn reencode(v: &Value, scale: NumScale) -> Option<(ValueMeta, Vec<Fp>)> {
    let (meta, el) = value::encode_at(v, scale, false).ok()?;
    assert_eq!(meta.element_count(), Some(el.len()));
    assert_eq!(value::decode_at(&meta, &el, scale).as_ref(), Ok(v), "decode(encode(v)) != v for {meta:?}");
    Some((meta, el))
}

fn from_elements(data: &[u8]) {
    let Ok((meta, rest)) = postcard::take_from_bytes::<ValueMeta>(data) else { return };
    let el = elements(rest);
    let Ok(v) = value::decode(&meta, &el) else { return };
    let _ = v.to_json();
    let _ = value_to_json(&v);
    if let Some((meta2, el2)) = reencode(&v, NumScale::Binary20)
        && matches!(meta, ValueMeta::String { .. } | ValueMeta::Bytes { .. } | ValueMeta::Int)
    {
        assert_eq!((&meta2, &el2), (&meta, &el), "canonical encodings differ");
    }
}

fn from_json(data: &[u8]) {
    let Ok(j) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let Ok(v) = Value::from_json(j) else { return };
    assert_eq!(value_from_json(&value_to_json(&v)).as_ref(), Ok(&v));
    // JSON is read with the widest range of any scale (10^0), where the invariant is checked. A
    // finer scale may refuse more (a clear error), and a stored decimal with more significant digits
    // than float64 keeps (≥ 16) loads as the nearest double, so it is not re-encoded here.
    check_stored(&v, NumScale::Decimal(0));
    let _ = value::encode_at(&v, NumScale::DEFAULT, false);
}

fn check_stored(v: &Value, scale: NumScale) {
    match value::encode_at(v, scale, false) {
        Ok((meta, el)) => {
            // floats are rounded to the fixed-point grid once; from then on the codec is exact
            let stored = value::decode_at(&meta, &el, scale).expect("an encoded value decodes");
            let (meta2, el2) = reencode(&stored, scale).expect("a decoded stored value re-encodes");
            assert_eq!((&meta2, &el2), (&meta, &el), "re-encoding a stored value changed it");
        }
        // only too-large values may fail to encode once they were read
        Err(e) => assert!(!matches!(v, Value::Int(_) | Value::Float(_) | Value::String(_)), "{v:?}: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((mode, rest)) if mode % 2 == 0 => from_elements(rest),
        Some((_, rest)) => from_json(rest),
        None => {}
    }
});
