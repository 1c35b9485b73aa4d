//! The value codec: what users store, and how it becomes a vector of field elements plus public metadata.
//!
//! Owns: the [`Value`] model (numbers, numeric arrays of any depth, strings, bytes, JSON values), its
//! conversion from and to JSON, its encoding to field elements ([`encode`]) with a public [`ValueMeta`]
//! (kind, dtype, shape, byte length — what a manifest may say about data), the inverse [`decode`], and
//! the canonical bytes a data key is hashed over. Must never accept a number it cannot represent
//! exactly at the documented precision (see `fixed.rs`); never does I/O.
//!
//! Encoding: numbers are fixed-point field elements (one per number) so MPC can compute on them; strings,
//! bytes and JSON values are packed 15 bytes per element (so every element is below 2^120 < p) and are
//! still Shamir-shared, but are not computable.

use crate::field::{self, Fp};
use crate::fixed::{self, FixedError, NumScale};
use serde::{Deserialize, Serialize};

/// Bytes packed into one field element.
pub const BYTES_PER_ELEMENT: usize = 15;

/// Most dimensions an array may have (JSON input nests at most 128 deep, so every stored array fits).
pub const MAX_DIMS: usize = 128;

/// Most nested lists the JSON form of an array *without elements* may have (`[[], [], …]` is one list
/// plus one per row). Without this bound a shape such as `[2^40, 0]` would describe zero elements yet
/// unfold into 2^40 JSON lists when loaded.
pub const MAX_EMPTY_LISTS: u64 = 1 << 16;

/// Element type of a numeric array.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dtype {
    Int,
    Float,
}

/// A regular n-dimensional numeric array (row-major).
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: ArrayData,
}

/// The elements of an [`Array`].
#[derive(Clone, Debug, PartialEq)]
pub enum ArrayData {
    Int(Vec<i64>),
    Float(Vec<f64>),
}

impl ArrayData {
    pub fn len(&self) -> usize {
        match self {
            ArrayData::Int(v) => v.len(),
            ArrayData::Float(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn dtype(&self) -> Dtype {
        match self {
            ArrayData::Int(_) => Dtype::Int,
            ArrayData::Float(_) => Dtype::Float,
        }
    }
}

/// Anything a user can store.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Array(Array),
    String(String),
    Bytes(Vec<u8>),
    /// Objects, booleans, null, mixed or irregular lists: stored as canonical JSON text.
    Json(serde_json::Value),
}

/// Public description of an encoded value, recorded in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ValueMeta {
    Int,
    Float,
    Array { dtype: Dtype, shape: Vec<u64> },
    String { len: u64 },
    Bytes { len: u64 },
    Json { len: u64 },
}

impl ValueMeta {
    /// Number of field elements an encoding with this metadata has.
    pub fn element_count(&self) -> Option<usize> {
        match self {
            ValueMeta::Int | ValueMeta::Float => Some(1),
            ValueMeta::Array { shape, .. } => {
                shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(usize::try_from(d).ok()?))
            }
            ValueMeta::String { len } | ValueMeta::Bytes { len } | ValueMeta::Json { len } => {
                Some(usize::try_from(*len).ok()?.div_ceil(BYTES_PER_ELEMENT))
            }
        }
    }

    /// True for numbers and numeric arrays (what MPC can compute on).
    pub fn is_numeric(&self) -> bool {
        matches!(self, ValueMeta::Int | ValueMeta::Float | ValueMeta::Array { .. })
    }

    /// True when every element is a whole number (ints and int arrays).
    pub fn is_integer(&self) -> bool {
        matches!(self, ValueMeta::Int | ValueMeta::Array { dtype: Dtype::Int, .. })
    }

    /// The array shape (empty for a scalar); `None` for non-numeric values.
    pub fn shape(&self) -> Option<Vec<usize>> {
        match self {
            ValueMeta::Int | ValueMeta::Float => Some(vec![]),
            ValueMeta::Array { shape, .. } => shape.iter().map(|&d| usize::try_from(d).ok()).collect(),
            _ => None,
        }
    }

    /// A short human name for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ValueMeta::Int => "int",
            ValueMeta::Float => "float",
            ValueMeta::Array { .. } => "array",
            ValueMeta::String { .. } => "string",
            ValueMeta::Bytes { .. } => "bytes",
            ValueMeta::Json { .. } => "json",
        }
    }
}

/// Errors of the value codec.
#[derive(Debug, thiserror::Error, PartialEq, Clone)]
pub enum ValueError {
    #[error(transparent)]
    Fixed(#[from] FixedError),
    #[error("encoded value does not match its metadata: {0}")]
    Corrupt(String),
    #[error("value too large: {0}")]
    TooLarge(String),
}

/// Checks that an array's shape keeps its JSON form proportionate to its data: at most [`MAX_DIMS`]
/// dimensions and, when it has no elements, at most [`MAX_EMPTY_LISTS`] lists. Returns the number of
/// elements the shape describes (`None` when that overflows).
pub fn check_shape(shape: &[u64]) -> Result<Option<usize>, ValueError> {
    if shape.len() > MAX_DIMS {
        return Err(ValueError::TooLarge(format!("{} dimensions (at most {MAX_DIMS})", shape.len())));
    }
    let count = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(usize::try_from(d).ok()?));
    if count == Some(0) {
        // one list for the whole, then one per prefix of the non-zero dimensions
        let (mut lists, mut row) = (1u64, 1u64);
        for &d in shape.iter().take_while(|&&d| d != 0) {
            row = row.saturating_mul(d);
            lists = lists.saturating_add(row);
        }
        if lists > MAX_EMPTY_LISTS {
            return Err(ValueError::TooLarge(format!(
                "an empty array of shape {shape:?} would unfold into more than {MAX_EMPTY_LISTS} lists"
            )));
        }
    }
    Ok(count)
}

/// Encodes a value into (metadata, field elements) at the legacy binary scale 2^20.
pub fn encode(v: &Value) -> Result<(ValueMeta, Vec<Fp>), ValueError> {
    encode_at(v, NumScale::Binary20, false)
}

/// Encodes a value into (metadata, field elements), its numbers at `scale`; with `exact`, a number
/// the scale cannot hold exactly is an error instead of being rounded.
pub fn encode_at(v: &Value, scale: NumScale, exact: bool) -> Result<(ValueMeta, Vec<Fp>), ValueError> {
    let int = |i: i64| scale.encode_int(i).map(fixed::to_field);
    let float = |x: f64| scale.encode_float(x, exact).map(fixed::to_field);
    Ok(match v {
        Value::Int(i) => (ValueMeta::Int, vec![int(*i)?]),
        Value::Float(x) => (ValueMeta::Float, vec![float(*x)?]),
        Value::Array(a) => {
            let shape: Vec<u64> = a.shape.iter().map(|&d| d as u64).collect();
            let Some(expected) = check_shape(&shape)? else {
                return Err(ValueError::TooLarge(format!("shape {:?} overflows", a.shape)));
            };
            if expected != a.data.len() {
                return Err(ValueError::Corrupt(format!(
                    "shape {:?} needs {expected} elements, array has {}",
                    a.shape,
                    a.data.len()
                )));
            }
            let elements = match &a.data {
                ArrayData::Int(v) => v.iter().map(|i| int(*i)).collect::<Result<Vec<_>, _>>()?,
                ArrayData::Float(v) => v.iter().map(|x| float(*x)).collect::<Result<Vec<_>, _>>()?,
            };
            (ValueMeta::Array { dtype: a.data.dtype(), shape }, elements)
        }
        Value::String(s) => (ValueMeta::String { len: s.len() as u64 }, pack_bytes(s.as_bytes())),
        Value::Bytes(b) => (ValueMeta::Bytes { len: b.len() as u64 }, pack_bytes(b)),
        Value::Json(j) => {
            let text = serde_json::to_vec(j).map_err(|e| ValueError::Corrupt(e.to_string()))?;
            (ValueMeta::Json { len: text.len() as u64 }, pack_bytes(&text))
        }
    })
}

/// Decodes field elements back to the value described by `meta` (numbers at the binary scale).
pub fn decode(meta: &ValueMeta, elements: &[Fp]) -> Result<Value, ValueError> {
    decode_at(meta, elements, NumScale::Binary20)
}

/// Decodes field elements back to the value described by `meta`, its numbers at `scale`.
pub fn decode_at(meta: &ValueMeta, elements: &[Fp], scale: NumScale) -> Result<Value, ValueError> {
    let expected = meta.element_count().ok_or_else(|| ValueError::Corrupt("element count overflows".into()))?;
    if expected != elements.len() {
        return Err(ValueError::Corrupt(format!("metadata says {expected} elements, got {}", elements.len())));
    }
    let int_of = |f: &Fp| {
        scale
            .decode_int(fixed::from_field(*f))
            .ok_or_else(|| ValueError::Corrupt("integer element is not whole".into()))
    };
    Ok(match meta {
        ValueMeta::Int => Value::Int(int_of(&elements[0])?),
        ValueMeta::Float => Value::Float(scale.decode_float(fixed::from_field(elements[0]))),
        ValueMeta::Array { dtype, shape } => {
            check_shape(shape)?;
            let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
            let data = match dtype {
                Dtype::Int => ArrayData::Int(elements.iter().map(int_of).collect::<Result<_, _>>()?),
                Dtype::Float => {
                    ArrayData::Float(elements.iter().map(|f| scale.decode_float(fixed::from_field(*f))).collect())
                }
            };
            Value::Array(Array { shape, data })
        }
        ValueMeta::String { len } => Value::String(
            String::from_utf8(unpack_bytes(elements, *len)?)
                .map_err(|_| ValueError::Corrupt("string is not UTF-8".into()))?,
        ),
        ValueMeta::Bytes { len } => Value::Bytes(unpack_bytes(elements, *len)?),
        ValueMeta::Json { len } => Value::Json(
            serde_json::from_slice(&unpack_bytes(elements, *len)?)
                .map_err(|e| ValueError::Corrupt(format!("json: {e}")))?,
        ),
    })
}

/// Canonical bytes of an encoded value, hashed (with the owner's key and a nonce) into its data key.
pub fn canonical_bytes(meta: &ValueMeta, elements: &[Fp]) -> Vec<u8> {
    let mut out = postcard::to_stdvec(meta).unwrap_or_default();
    out.extend_from_slice(&(elements.len() as u64).to_le_bytes());
    out.extend_from_slice(&field::to_bytes_vec(elements));
    out
}

fn pack_bytes(b: &[u8]) -> Vec<Fp> {
    b.chunks(BYTES_PER_ELEMENT)
        .map(|c| {
            let mut buf = [0u8; 16];
            buf[..c.len()].copy_from_slice(c);
            Fp::new(u128::from_le_bytes(buf))
        })
        .collect()
}

fn unpack_bytes(elements: &[Fp], len: u64) -> Result<Vec<u8>, ValueError> {
    let len = usize::try_from(len).map_err(|_| ValueError::Corrupt("length overflows".into()))?;
    let mut out = Vec::with_capacity(elements.len() * BYTES_PER_ELEMENT);
    for e in elements {
        let v = e.value();
        if v >> (8 * BYTES_PER_ELEMENT) != 0 {
            return Err(ValueError::Corrupt("packed element out of range".into()));
        }
        out.extend_from_slice(&v.to_le_bytes()[..BYTES_PER_ELEMENT]);
    }
    if out.len() < len || out[len..].iter().any(|&b| b != 0) {
        return Err(ValueError::Corrupt("packed bytes do not match length".into()));
    }
    out.truncate(len);
    Ok(out)
}

impl Value {
    /// Classifies a JSON value the way the API promises: a number is an int or a float; a regular
    /// nested list of numbers is an array (int dtype if every element is an integer); a string is a
    /// string; anything else (objects, booleans, null, mixed or ragged lists) is a JSON value.
    pub fn from_json(j: serde_json::Value) -> Result<Value, ValueError> {
        use serde_json::Value as J;
        match j {
            J::Number(n) => number(&n),
            J::String(s) => Ok(Value::String(s)),
            J::Array(ref items) => match numeric_array(items)? {
                Some(a) => Ok(Value::Array(a)),
                None => Ok(Value::Json(j)),
            },
            other => Ok(Value::Json(other)),
        }
    }

    /// The JSON form of a value (bytes are not JSON: callers represent them themselves).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Int(i) => J::from(*i),
            Value::Float(x) => float_json(*x),
            Value::Array(a) => array_json(&a.shape, &a.data),
            Value::String(s) => J::String(s.clone()),
            Value::Bytes(b) => J::Array(b.iter().map(|&x| J::from(x)).collect()),
            Value::Json(j) => j.clone(),
        }
    }
}

fn float_json(x: f64) -> serde_json::Value {
    serde_json::Number::from_f64(x).map(serde_json::Value::Number).unwrap_or(serde_json::Value::Null)
}

/// Nested JSON lists for a row-major array of the given shape.
pub fn array_json(shape: &[usize], data: &ArrayData) -> serde_json::Value {
    fn build(shape: &[usize], data: &ArrayData, offset: &mut usize) -> serde_json::Value {
        if shape.is_empty() {
            let v = match data {
                ArrayData::Int(v) => serde_json::Value::from(v[*offset]),
                ArrayData::Float(v) => float_json(v[*offset]),
            };
            *offset += 1;
            return v;
        }
        serde_json::Value::Array((0..shape[0]).map(|_| build(&shape[1..], data, offset)).collect())
    }
    let mut offset = 0;
    build(shape, data, &mut offset)
}

fn number(n: &serde_json::Number) -> Result<Value, ValueError> {
    // the widest range of any scale (10^0); `encode_at` checks the store's own scale
    let widest = NumScale::Decimal(0);
    if let Some(i) = n.as_i64() {
        widest.encode_int(i)?;
        Ok(Value::Int(i))
    } else if n.is_u64() {
        Err(FixedError::OutOfRange(n.to_string()).into())
    } else {
        let x = n.as_f64().ok_or_else(|| FixedError::NotFinite(n.to_string()))?;
        widest.encode_float(x, false)?;
        Ok(Value::Float(x))
    }
}

/// Returns the array if `items` is a regular nested list of numbers, `None` if it is some other JSON
/// list, and an error if it is numeric but a number is out of range.
fn numeric_array(items: &[serde_json::Value]) -> Result<Option<Array>, ValueError> {
    use serde_json::Value as J;
    // shape from the first path down
    let mut shape = vec![items.len()];
    let mut cur = items.first();
    while let Some(J::Array(inner)) = cur {
        shape.push(inner.len());
        cur = inner.first();
    }
    if let Some(first) = cur
        && !first.is_number()
    {
        return Ok(None);
    }
    let mut ints = Vec::new();
    let mut floats: Option<Vec<f64>> = None;
    fn walk(
        v: &[J],
        depth: usize,
        shape: &[usize],
        ints: &mut Vec<i64>,
        floats: &mut Option<Vec<f64>>,
    ) -> Result<bool, ValueError> {
        if v.len() != shape[depth] {
            return Ok(false);
        }
        for item in v {
            match item {
                J::Array(inner) if depth + 1 < shape.len() => {
                    if !walk(inner, depth + 1, shape, ints, floats)? {
                        return Ok(false);
                    }
                }
                J::Number(n) if depth + 1 == shape.len() => match (number(n)?, floats.as_mut()) {
                    (Value::Int(i), None) => ints.push(i),
                    (Value::Int(i), Some(f)) => f.push(i as f64),
                    (Value::Float(x), None) => {
                        let mut f: Vec<f64> = ints.drain(..).map(|i| i as f64).collect();
                        f.push(x);
                        *floats = Some(f);
                    }
                    (Value::Float(x), Some(f)) => f.push(x),
                    _ => return Ok(false),
                },
                _ => return Ok(false),
            }
        }
        Ok(true)
    }
    if !walk(items, 0, &shape, &mut ints, &mut floats)? {
        return Ok(None);
    }
    if shape.iter().product::<usize>() == 0 {
        // numpy gives float64 for empty arrays
        return Ok(Some(Array { shape, data: ArrayData::Float(vec![]) }));
    }
    let data = match floats {
        Some(f) => ArrayData::Float(f),
        None => ArrayData::Int(ints),
    };
    Ok(Some(Array { shape, data }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn roundtrip(v: &Value) -> Value {
        let (meta, el) = encode(v).unwrap();
        decode(&meta, &el).unwrap()
    }

    /// Found by fuzzing (`value_codec`): metadata `Array { shape: [2^63, 0] }` with no elements decoded,
    /// and loading it unfolded 2^63 JSON lists (capacity overflow / out of memory).
    #[test]
    fn empty_arrays_with_huge_shapes_are_refused() {
        let meta = |shape: Vec<u64>| ValueMeta::Array { dtype: Dtype::Int, shape };
        for shape in [vec![1 << 63, 0], vec![1 << 40, 0], vec![1 << 40, 1 << 40, 0], vec![MAX_EMPTY_LISTS, 0]] {
            assert!(decode(&meta(shape.clone()), &[]).is_err(), "{shape:?}");
        }
        assert!(matches!(decode(&meta(vec![1; MAX_DIMS + 1]), &[Fp::ZERO]), Err(ValueError::TooLarge(_))));
        // what JSON can produce still works
        for j in [json!([[], [], []]), json!([[[]]]), json!([])] {
            let v = Value::from_json(j.clone()).unwrap();
            assert_eq!(roundtrip(&v), v);
            assert_eq!(v.to_json(), j);
        }
        let wide = Value::Array(Array { shape: vec![5000, 0], data: ArrayData::Float(vec![]) });
        assert_eq!(roundtrip(&wide), wide);
        let huge = Value::Array(Array { shape: vec![1 << 40, 1 << 40, 0], data: ArrayData::Int(vec![]) });
        assert!(matches!(encode(&huge), Err(ValueError::TooLarge(_))));
        let overflow = Value::Array(Array { shape: vec![1 << 40, 1 << 40], data: ArrayData::Int(vec![]) });
        assert!(encode(&overflow).is_err());
        // a malicious typed value (client side) is refused too, not unfolded
        let typed = serde_json::json!({"type": "array", "dtype": "int", "shape": [1u64 << 40, 0], "value": []});
        assert!(crate::api::value_from_json(&typed).is_err());
    }

    /// Found by fuzzing (`value_codec`): without serde_json's `float_roundtrip`, a JSON value holding
    /// 9.99999999996e37 was stored as that text and loaded back as 9.999999999960001e37.
    #[test]
    fn floats_inside_json_values_roundtrip_exactly() {
        for x in [9.99999999996e37, 0.1, 1e-300, 2.2250738585072014e-308, 123456.789e200] {
            let v = Value::Json(json!({"x": [x]}));
            assert_eq!(roundtrip(&v), v, "{x:e}");
        }
    }

    #[test]
    fn classification() {
        assert_eq!(Value::from_json(json!(24)).unwrap(), Value::Int(24));
        assert_eq!(Value::from_json(json!(24.0)).unwrap(), Value::Float(24.0));
        assert_eq!(Value::from_json(json!("hi")).unwrap(), Value::String("hi".into()));
        let body = Value::from_json(json!([[90, 60, 90], [88, 57, 89]])).unwrap();
        assert_eq!(body, Value::Array(Array { shape: vec![2, 3], data: ArrayData::Int(vec![90, 60, 90, 88, 57, 89]) }));
        let mixed = Value::from_json(json!([1, 2.5])).unwrap();
        assert_eq!(mixed, Value::Array(Array { shape: vec![2], data: ArrayData::Float(vec![1.0, 2.5]) }));
        assert!(matches!(Value::from_json(json!([1, "a"])).unwrap(), Value::Json(_)));
        assert!(matches!(Value::from_json(json!([[1, 2], [3]])).unwrap(), Value::Json(_)));
        assert!(matches!(Value::from_json(json!({"a": 1})).unwrap(), Value::Json(_)));
        assert!(matches!(Value::from_json(json!(true)).unwrap(), Value::Json(_)));
        assert!(matches!(Value::from_json(json!(null)).unwrap(), Value::Json(_)));
        assert!(Value::from_json(json!(1e300)).is_err());
        // parsing takes the widest range of any scale; the store's own scale refuses the rest
        let big = Value::from_json(json!([1, 2, 9007199254740993u64])).unwrap();
        assert!(encode_at(&big, NumScale::DEFAULT, false).is_err());
        assert!(encode_at(&big, NumScale::Decimal(0), false).is_ok());
        assert!(Value::from_json(json!([1, 2, 1u64 << 62])).is_err());
        assert!(Value::from_json(json!(u64::MAX)).is_err());
    }

    #[test]
    fn json_roundtrip_keeps_ints_and_decimals() {
        for j in [
            json!(24),
            json!(0.1),
            json!([[90, 60, 90], [88, 57, 89], [92, 64, 91]]),
            json!([[[1.5, 2.25], [3.0, -4.125]]]),
            json!({"name": "alice", "tags": [1, "x", null]}),
            json!("text"),
            json!([]),
        ] {
            let v = Value::from_json(j.clone()).unwrap();
            assert_eq!(roundtrip(&v).to_json(), j, "{j}");
        }
    }

    #[test]
    fn corrupt_encodings_are_refused() {
        let (meta, mut el) = encode(&Value::String("hello".into())).unwrap();
        el[0] = Fp::new(u128::MAX >> 2);
        assert!(decode(&meta, &el).is_err());
        assert!(decode(&ValueMeta::Int, &[]).is_err());
        assert!(decode(&ValueMeta::Int, &[Fp::ONE]).is_err(), "1/2^20 is not an integer");
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let max = fixed::MAX_INT - 1;
        prop_oneof![
            (-max..max).prop_map(Value::Int),
            (-1_000_000_000i64..1_000_000_000).prop_map(|m| Value::Float(m as f64 / 1000.0)),
            ".*".prop_map(Value::String),
            prop::collection::vec(any::<u8>(), 0..100).prop_map(Value::Bytes),
            (1usize..4, 1usize..4, prop::collection::vec(-max..max, 16)).prop_map(|(a, b, v)| {
                Value::Array(Array { shape: vec![a, b], data: ArrayData::Int(v[..a * b].to_vec()) })
            }),
            prop::collection::vec(-1e9f64..1e9, 1..10).prop_map(|v| {
                let v: Vec<f64> = v.into_iter().map(|x| (x * 1e6).round() / 1e6).collect();
                Value::Array(Array { shape: vec![v.len()], data: ArrayData::Float(v) })
            }),
        ]
    }

    proptest! {
        #[test]
        fn codec_roundtrips(v in arb_value()) {
            prop_assert_eq!(roundtrip(&v), v);
        }

        #[test]
        fn codec_roundtrips_at_the_default_decimal_scale(v in arb_value()) {
            let (meta, el) = encode_at(&v, NumScale::DEFAULT, false).unwrap();
            prop_assert_eq!(decode_at(&meta, &el, NumScale::DEFAULT).unwrap(), v);
        }

        #[test]
        fn out_of_range_is_refused(i in fixed::MAX_INT..i64::MAX) {
            prop_assert!(encode(&Value::Int(i)).is_err());
            prop_assert!(encode(&Value::Int(-i)).is_err());
            prop_assert!(encode(&Value::Float(i as f64 * 2.0)).is_err());
        }
    }
}
