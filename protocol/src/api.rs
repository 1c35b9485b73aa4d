//! The client API contract: JSON-RPC method names, error codes, and the typed JSON form of values.
//!
//! Owns: what the node's client socket, the Rust client, the CLI and the Python package agree on
//! (DESIGN §1): method names, the numeric error codes and their one-line meanings, and how a stored
//! value is written in JSON (`{"type": ..., "value": ...}`) so ints stay ints and bytes stay bytes.
//! Must never: do I/O or know about actors.

use crate::value::{Array, ArrayData, Dtype, Value, ValueError, array_json};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

/// Method names, identical on every client.
pub mod method {
    pub const GEN_KEY: &str = "gen_key";
    pub const GET_PUBKEY: &str = "get_pubkey";
    pub const GET_ADDRESS: &str = "get_address";
    pub const SET_PRIVKEY: &str = "set_privkey";
    pub const STORE: &str = "store";
    pub const LOAD: &str = "load";
    pub const DELETE: &str = "delete";
    pub const PAIR: &str = "pair";
    pub const REVOKE: &str = "revoke";
    pub const POLICY: &str = "policy";
    pub const LEDGER_TX: &str = "ledger_tx";
    pub const ACCESS_LOG: &str = "access_log";
    pub const STATS_MAX: &str = "stats.max";
    pub const STATS_MIN: &str = "stats.min";
    pub const STATS_MEAN: &str = "stats.mean";
    pub const STATS_VAR: &str = "stats.var";
    pub const STATS_STD: &str = "stats.std";
    pub const STATS_LINREGRESS: &str = "stats.linregress";
    pub const STATS_COV: &str = "stats.cov";
    pub const STATS_CORRCOEF: &str = "stats.corrcoef";
    pub const STATS_TTEST_1SAMP: &str = "stats.ttest_1samp";
    pub const STATS_TTEST_IND: &str = "stats.ttest_ind";
    pub const STATS_TTEST_REL: &str = "stats.ttest_rel";
    pub const STATS_LSTSQ: &str = "stats.lstsq";
    pub const STATS_HISTOGRAM: &str = "stats.histogram";
    pub const STATS_MEDIAN: &str = "stats.median";
    pub const STATS_PERCENTILE: &str = "stats.percentile";
    pub const STATS_QUANTILE: &str = "stats.quantile";
    pub const LINALG_DOT: &str = "linalg.dot";
    pub const LINALG_INV: &str = "linalg.inv";
    pub const PEERS: &str = "peers";
    pub const STATUS: &str = "status";
    pub const MANIFEST: &str = "manifest";
    pub const CANCEL: &str = "cancel";
    /// The handshake of a TCP connection: its first request, carrying the credential
    /// (`{"jsonrpc":"2.0","method":"auth","params":{"token":"…"},"id":0}`; see `jsonrpc::parse_auth`).
    pub const AUTH: &str = "auth";
    /// Read-only: the keys this node holds shares of, each with its state (pending or committed).
    pub const CUSTODY_KEYS: &str = "custody_keys";
    /// Read-only: the custody group this node's own lookup finds for a key, and which members answer.
    pub const GROUP: &str = "group";
    /// Notification the node sends during long operations when the request asked for progress.
    pub const PROGRESS: &str = "progress";
}

/// One JSON-RPC method as every client offers it: its name and its parameters, in positional order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MethodSpec {
    pub name: &'static str,
    /// Parameter names; a positional array maps onto them in this order.
    pub params: &'static [&'static str],
    /// The one parameter a positional array fills as a whole (`stats.mean(k1, k2, …)`: `keys`).
    pub variadic: Option<&'static str>,
    /// A computation: takes `store`, reports progress, can be cancelled.
    pub computation: bool,
}

const fn spec(name: &'static str, params: &'static [&'static str]) -> MethodSpec {
    MethodSpec { name, params, variadic: None, computation: false }
}

const fn keys_op(name: &'static str) -> MethodSpec {
    MethodSpec { name, params: &["keys", "store"], variadic: Some("keys"), computation: true }
}

const fn op(name: &'static str, params: &'static [&'static str]) -> MethodSpec {
    MethodSpec { name, params, variadic: None, computation: true }
}

/// Every method of the client API (the node's dispatch table answers exactly these; the Rust
/// client, the CLI and the Python package each offer all of them — tests/clients.rs checks). Not
/// here: `auth`, the TCP connection's handshake (the server answers it, not the dispatcher).
pub const METHODS: &[MethodSpec] = &[
    spec(method::GEN_KEY, &[]),
    spec(method::GET_PUBKEY, &[]),
    spec(method::GET_ADDRESS, &[]),
    spec(method::SET_PRIVKEY, &["privkey"]),
    spec(method::STORE, &["data", "type", "decimals", "exact"]),
    spec(method::LOAD, &["key"]),
    spec(method::DELETE, &["key"]),
    spec(method::PAIR, &["addresses", "keys", "level", "min_count"]),
    spec(method::REVOKE, &["addresses", "keys", "level"]),
    spec(method::POLICY, &[]),
    spec(method::LEDGER_TX, &["txid"]),
    spec(method::ACCESS_LOG, &["key"]),
    keys_op(method::STATS_MAX),
    keys_op(method::STATS_MIN),
    keys_op(method::STATS_MEAN),
    keys_op(method::STATS_VAR),
    keys_op(method::STATS_STD),
    op(method::STATS_LINREGRESS, &["key_x", "key_y", "store"]),
    op(method::STATS_COV, &["key", "rowvar", "ddof", "store"]),
    op(method::STATS_CORRCOEF, &["key", "rowvar", "store"]),
    op(method::STATS_TTEST_1SAMP, &["key", "popmean", "store"]),
    op(method::STATS_TTEST_IND, &["key_a", "key_b", "equal_var", "store"]),
    op(method::STATS_TTEST_REL, &["key_a", "key_b", "store"]),
    op(method::STATS_LSTSQ, &["key_x", "key_y", "intercept", "stats", "store"]),
    MethodSpec {
        name: method::STATS_HISTOGRAM,
        params: &["keys", "bins", "range", "store"],
        variadic: Some("keys"),
        computation: true,
    },
    keys_op(method::STATS_MEDIAN),
    MethodSpec {
        name: method::STATS_PERCENTILE,
        params: &["keys", "q", "store"],
        variadic: Some("keys"),
        computation: true,
    },
    MethodSpec {
        name: method::STATS_QUANTILE,
        params: &["keys", "q", "store"],
        variadic: Some("keys"),
        computation: true,
    },
    op(method::LINALG_DOT, &["key_a", "key_b", "store"]),
    op(method::LINALG_INV, &["key", "store"]),
    spec(method::PEERS, &[]),
    spec(method::STATUS, &[]),
    spec(method::MANIFEST, &["key"]),
    spec(method::CANCEL, &["op"]),
    spec(method::CUSTODY_KEYS, &[]),
    spec(method::GROUP, &["key"]),
];

/// The spec of a method, by name.
pub fn method_spec(name: &str) -> Option<&'static MethodSpec> {
    METHODS.iter().find(|m| m.name == name)
}

/// Error codes: JSON-RPC's own, then Enigma's (1000+). Each has a stable one-line meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    ParseError,
    InvalidRequest,
    MethodNotFound,
    InvalidParams,
    Internal,
    UnknownKey,
    AccessDenied,
    OutOfRange,
    NotEnoughNodes,
    TooLarge,
    Singular,
    Timeout,
    Cancelled,
    InvalidAddress,
    Unsupported,
    Unavailable,
    Busy,
    Unauthorized,
    IntegrityFailed,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 19] = [
        ErrorCode::ParseError,
        ErrorCode::InvalidRequest,
        ErrorCode::MethodNotFound,
        ErrorCode::InvalidParams,
        ErrorCode::Internal,
        ErrorCode::UnknownKey,
        ErrorCode::AccessDenied,
        ErrorCode::OutOfRange,
        ErrorCode::NotEnoughNodes,
        ErrorCode::TooLarge,
        ErrorCode::Singular,
        ErrorCode::Timeout,
        ErrorCode::Cancelled,
        ErrorCode::InvalidAddress,
        ErrorCode::Unsupported,
        ErrorCode::Unavailable,
        ErrorCode::Busy,
        ErrorCode::Unauthorized,
        ErrorCode::IntegrityFailed,
    ];

    /// The numeric code on the wire.
    pub fn code(self) -> i64 {
        match self {
            ErrorCode::ParseError => -32700,
            ErrorCode::InvalidRequest => -32600,
            ErrorCode::MethodNotFound => -32601,
            ErrorCode::InvalidParams => -32602,
            ErrorCode::Internal => -32603,
            ErrorCode::UnknownKey => 1001,
            ErrorCode::AccessDenied => 1002,
            ErrorCode::OutOfRange => 1003,
            ErrorCode::NotEnoughNodes => 1004,
            ErrorCode::TooLarge => 1005,
            ErrorCode::Singular => 1006,
            ErrorCode::Timeout => 1007,
            ErrorCode::Cancelled => 1008,
            ErrorCode::InvalidAddress => 1009,
            ErrorCode::Unsupported => 1010,
            ErrorCode::Unavailable => 1011,
            ErrorCode::Busy => 1012,
            ErrorCode::Unauthorized => 1013,
            ErrorCode::IntegrityFailed => 1014,
        }
    }

    /// Inverse of [`ErrorCode::code`].
    pub fn from_code(code: i64) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.code() == code)
    }

    /// Stable snake_case name (Python exposes it as `Error.kind`).
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::ParseError => "parse_error",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::MethodNotFound => "method_not_found",
            ErrorCode::InvalidParams => "invalid_params",
            ErrorCode::Internal => "internal",
            ErrorCode::UnknownKey => "unknown_key",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::OutOfRange => "out_of_range",
            ErrorCode::NotEnoughNodes => "not_enough_nodes",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::Singular => "singular",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::InvalidAddress => "invalid_address",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Busy => "busy",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::IntegrityFailed => "integrity_failed",
        }
    }
}

/// An error as clients see it: a code and a one-line message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into() }
    }

    /// The JSON-RPC error object.
    pub fn to_json(&self) -> Json {
        json!({"code": self.code.code(), "message": self.message, "data": {"kind": self.code.name()}})
    }

    /// Parses a JSON-RPC error object.
    pub fn from_json(j: &Json) -> ApiError {
        let code = j.get("code").and_then(Json::as_i64).and_then(ErrorCode::from_code).unwrap_or(ErrorCode::Internal);
        let message = j.get("message").and_then(Json::as_str).unwrap_or("unknown error").to_string();
        ApiError { code, message }
    }
}

impl From<ValueError> for ApiError {
    fn from(e: ValueError) -> ApiError {
        let code = match e {
            ValueError::Fixed(_) => ErrorCode::OutOfRange,
            ValueError::TooLarge(_) => ErrorCode::TooLarge,
            ValueError::Corrupt(_) => ErrorCode::Internal,
        };
        ApiError::new(code, e.to_string())
    }
}

/// How `store` should read its `data` parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StoreAs {
    /// Numbers and numeric arrays become computable numbers, strings strings, the rest JSON.
    #[default]
    Auto,
    /// `data` is base64 of raw bytes.
    Bytes,
    /// Keep any JSON value as JSON text (not computable).
    Json,
    /// `data` must be a string.
    String,
}

/// The storage scale `store`'s `decimals` parameter asks for: absent or null → the default
/// (10^-6); an integer 0..=12 → 10^-d; the string "binary" → the binary scale 2^-20 of keys stored
/// before decimal scales (kept so such keys can still be made and tested).
pub fn scale_from_param(decimals: Option<Json>) -> Result<crate::fixed::NumScale, ApiError> {
    use crate::fixed::NumScale;
    let bad = |m: String| ApiError::new(ErrorCode::InvalidParams, m);
    match decimals {
        None | Some(Json::Null) => Ok(NumScale::DEFAULT),
        Some(Json::String(s)) if s == "binary" => Ok(NumScale::Binary20),
        Some(Json::Number(n)) => {
            let d = n.as_i64().ok_or_else(|| bad(format!("decimals must be a whole number, got {n}")))?;
            NumScale::decimal(d).map_err(|e| bad(e.to_string()))
        }
        Some(other) => Err(bad(format!(
            "decimals must be a whole number from 0 to {} or \"binary\", got {other}",
            crate::fixed::MAX_DECIMALS
        ))),
    }
}

/// Builds the value `store` will keep from its parameters.
pub fn value_from_params(data: Json, store_as: StoreAs) -> Result<Value, ApiError> {
    let invalid = |m: &str| ApiError::new(ErrorCode::InvalidParams, m.to_string());
    match store_as {
        StoreAs::Auto => Ok(Value::from_json(data)?),
        StoreAs::Json => Ok(Value::Json(data)),
        StoreAs::String => match data {
            Json::String(s) => Ok(Value::String(s)),
            _ => Err(invalid("type \"string\" needs data to be a string")),
        },
        StoreAs::Bytes => match data {
            Json::String(s) => base64::engine::general_purpose::STANDARD
                .decode(s.as_bytes())
                .map(Value::Bytes)
                .map_err(|e| invalid(&format!("type \"bytes\" needs base64 data: {e}"))),
            _ => Err(invalid("type \"bytes\" needs data to be a base64 string")),
        },
    }
}

/// The typed JSON form of a value, as `load` returns it:
/// `{"type": "int"|"float"|"array"|"string"|"bytes"|"json", "value": ..., "dtype"?, "shape"?}`.
pub fn value_to_json(v: &Value) -> Json {
    match v {
        Value::Int(i) => json!({"type": "int", "value": i}),
        Value::Float(_) => json!({"type": "float", "value": v.to_json()}),
        Value::Array(a) => json!({
            "type": "array",
            "dtype": match a.data.dtype() { Dtype::Int => "int", Dtype::Float => "float" },
            "shape": a.shape,
            "value": array_json(&a.shape, &a.data),
        }),
        Value::String(s) => json!({"type": "string", "value": s}),
        Value::Bytes(b) => {
            json!({"type": "bytes", "value": base64::engine::general_purpose::STANDARD.encode(b)})
        }
        Value::Json(j) => json!({"type": "json", "value": j}),
    }
}

/// Inverse of [`value_to_json`] (used by the Rust client).
pub fn value_from_json(j: &Json) -> Result<Value, ApiError> {
    let bad = |m: &str| ApiError::new(ErrorCode::Internal, format!("malformed typed value: {m}"));
    let ty = j.get("type").and_then(Json::as_str).ok_or_else(|| bad("no type"))?;
    let value = j.get("value").cloned().unwrap_or(Json::Null);
    match ty {
        "int" => value.as_i64().map(Value::Int).ok_or_else(|| bad("int")),
        "float" => value.as_f64().map(Value::Float).ok_or_else(|| bad("float")),
        "string" => value.as_str().map(|s| Value::String(s.into())).ok_or_else(|| bad("string")),
        "json" => Ok(Value::Json(value)),
        "bytes" => value
            .as_str()
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
            .map(Value::Bytes)
            .ok_or_else(|| bad("bytes")),
        "array" => {
            let shape: Vec<usize> =
                j.get("shape").and_then(|s| serde_json::from_value(s.clone()).ok()).ok_or_else(|| bad("shape"))?;
            let dtype = j.get("dtype").and_then(Json::as_str).ok_or_else(|| bad("dtype"))?;
            let mut flat = Vec::new();
            flatten(&value, &mut flat);
            let data = if dtype == "int" {
                ArrayData::Int(
                    flat.iter().map(|x| x.as_i64().ok_or_else(|| bad("int element"))).collect::<Result<_, _>>()?,
                )
            } else {
                ArrayData::Float(
                    flat.iter().map(|x| x.as_f64().ok_or_else(|| bad("float element"))).collect::<Result<_, _>>()?,
                )
            };
            let dims: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
            if crate::value::check_shape(&dims).map_err(|e| bad(&e.to_string()))? != Some(data.len()) {
                return Err(bad("shape does not match elements"));
            }
            Ok(Value::Array(Array { shape, data }))
        }
        other => Err(bad(&format!("unknown type {other:?}"))),
    }
}

fn flatten(j: &Json, out: &mut Vec<Json>) {
    match j {
        Json::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        other => out.push(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_table_is_unique_and_complete() {
        let mut names: Vec<&str> = METHODS.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), METHODS.len(), "a method listed twice");
        assert!(method_spec(method::PROGRESS).is_none(), "progress is a notification, not a method");
        for m in METHODS {
            assert!(m.variadic.is_none_or(|v| m.params.contains(&v)), "{}", m.name);
            assert_eq!(m.computation, m.params.contains(&"store"), "{}", m.name);
        }
    }

    #[test]
    fn codes_roundtrip() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(c.code()), Some(c));
            let e = ApiError::new(c, "x");
            assert_eq!(ApiError::from_json(&e.to_json()), e);
        }
    }

    #[test]
    fn typed_values_roundtrip() {
        for v in [
            Value::Int(24),
            Value::Float(0.1),
            Value::String("s".into()),
            Value::Bytes(vec![0, 255, 7]),
            Value::Json(json!({"a": [1, null]})),
            Value::from_json(json!([[90, 60, 90], [88, 57, 89]])).unwrap(),
            Value::from_json(json!([[1.5], [2.5]])).unwrap(),
        ] {
            assert_eq!(value_from_json(&value_to_json(&v)).unwrap(), v);
        }
    }

    #[test]
    fn store_params() {
        assert_eq!(value_from_params(json!("AAEC"), StoreAs::Bytes).unwrap(), Value::Bytes(vec![0, 1, 2]));
        assert!(value_from_params(json!(5), StoreAs::Bytes).is_err());
        assert!(value_from_params(json!("!!"), StoreAs::Bytes).is_err());
        assert_eq!(value_from_params(json!([1, 2]), StoreAs::Json).unwrap(), Value::Json(json!([1, 2])));
        assert_eq!(value_from_params(json!(1e300), StoreAs::Auto).unwrap_err().code, ErrorCode::OutOfRange);
    }
}
