//! The JSON-RPC 2.0 request parser of the client socket: one line of bytes → the requests it holds.
//!
//! Owns: everything between a received line and a typed call, with no I/O — blank lines, parse errors,
//! batches ([`parse_line`]), the per-request checks (object, `jsonrpc: "2.0"`, id type, string method),
//! the `progress`/`timing` flags every call may carry in its named params ([`parse_request`]), the
//! response objects ([`error_response`], [`result_response`]), typed parameter access ([`Params`]), and
//! the TCP handshake's first line ([`parse_auth`], [`auth_request`]; the node compares the token).
//! The exact codes and messages (`ParseError` −32700, `InvalidRequest` −32600, `InvalidParams` −32602)
//! are part of the client contract. Must never: do I/O, spawn, read the clock, panic on any input, or
//! allocate more than a small multiple of the line it is given; the node's socket (`node/src/rpc`)
//! owns reading with a size limit, dispatch and concurrency, and this module is fuzzed on its own
//! (`fuzz/fuzz_targets/jsonrpc_request.rs`).

use crate::api::{ApiError, ErrorCode};
use crate::keys::{DataKey, KeyParseError};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value as Json, json};

/// What one received line holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// Only whitespace: ignored, nothing is answered.
    Blank,
    /// Not JSON: answer with this parse-error response (id null).
    ParseError(Json),
    /// A non-empty array: each item is a request; the replies (if any) go back as one array.
    Batch(Vec<Json>),
    /// Anything else (an object, or a value [`parse_request`] refuses, such as `[]` or `5`).
    Single(Json),
}

/// Classifies one line (without its limit check, which the reader does).
pub fn parse_line(line: &[u8]) -> Line {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Line::Blank;
    }
    match serde_json::from_slice::<Json>(line) {
        Err(e) => {
            let err = ApiError::new(ErrorCode::ParseError, format!("parse error: {e}"));
            Line::ParseError(error_response(Json::Null, &err))
        }
        Ok(Json::Array(batch)) if !batch.is_empty() => Line::Batch(batch),
        Ok(msg) => Line::Single(msg),
    }
}

/// One valid request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The id as sent; `None` for a notification (no reply is sent).
    pub id: Option<Json>,
    pub method: String,
    /// `params` without the `progress` and `timing` flags.
    pub params: Option<Json>,
    /// The caller asked for progress notifications.
    pub progress: bool,
    /// The caller asked for timing in the result.
    pub timing: bool,
}

impl Request {
    /// The id to answer with (null for a notification).
    pub fn id_json(&self) -> Json {
        self.id.clone().unwrap_or(Json::Null)
    }
}

/// A request refused before dispatch: answer with [`RequestError::response`] (even to a notification,
/// as the id cannot be trusted).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{error}")]
pub struct RequestError {
    /// The id to answer with (null when it was missing or of the wrong type).
    pub id: Json,
    pub error: ApiError,
}

impl RequestError {
    /// The JSON-RPC error response.
    pub fn response(&self) -> Json {
        error_response(self.id.clone(), &self.error)
    }
}

fn invalid(id: Json, m: &str) -> RequestError {
    RequestError { id, error: ApiError::new(ErrorCode::InvalidRequest, format!("invalid request: {m}")) }
}

/// Validates one request object and takes out its id, method, params and flags.
pub fn parse_request(msg: Json) -> Result<Request, RequestError> {
    let Json::Object(mut obj) = msg else {
        return Err(invalid(Json::Null, "expected a JSON object"));
    };
    let id = obj.remove("id");
    let id_json = id.clone().unwrap_or(Json::Null);
    if !matches!(id_json, Json::Null | Json::Number(_) | Json::String(_)) {
        return Err(invalid(Json::Null, "id must be a number, a string or null"));
    }
    if obj.get("jsonrpc").and_then(Json::as_str) != Some("2.0") {
        return Err(invalid(id_json, "\"jsonrpc\" must be \"2.0\""));
    }
    let Some(Json::String(method)) = obj.remove("method") else {
        return Err(invalid(id_json, "\"method\" must be a string"));
    };
    let mut params = obj.remove("params");
    // every client may ask for progress (and timing); only long operations use them
    let mut progress = false;
    let mut timing = false;
    if let Some(Json::Object(p)) = params.as_mut() {
        progress = p.remove("progress").and_then(|v| v.as_bool()).unwrap_or(false);
        timing = p.remove("timing").and_then(|v| v.as_bool()).unwrap_or(false);
    }
    Ok(Request { id, method, params, progress, timing })
}

/// The longest handshake line the node reads from a connection that has not authenticated yet: a
/// token is 64 hex characters, so 4 KiB is ample, and an unauthenticated client cannot make the node
/// hold more.
pub const MAX_AUTH_LINE: usize = 4096;

/// The handshake request of a TCP connection, as a client sends it (id 0, before any other request).
pub fn auth_request(token: &str) -> Json {
    json!({"jsonrpc": "2.0", "method": crate::api::method::AUTH, "params": {"token": token}, "id": 0})
}

/// The first line of a TCP connection, once read: its id and the token it offers.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthRequest {
    /// The id to answer with.
    pub id: Json,
    /// The token as sent; the caller compares it (in constant time) with its own.
    pub token: String,
}

fn unauthorized(id: Json, m: &str) -> RequestError {
    RequestError { id, error: ApiError::new(ErrorCode::Unauthorized, format!("unauthorized: {m}")) }
}

/// Reads the handshake: the first line of a TCP connection must be a request (not a notification, not
/// a batch) for method `auth` with named params `{"token": "<string>"}` and nothing else. Anything
/// else is an `unauthorized` error (code 1013) answered with the line's id when it has a usable one;
/// the node then closes the connection.
pub fn parse_auth(line: &[u8]) -> Result<AuthRequest, RequestError> {
    const EXPECTED: &str = "the first request on a TCP connection must be {\"jsonrpc\":\"2.0\",\"method\":\"auth\",\"params\":{\"token\":\"…\"},\"id\":0}";
    let msg = match parse_line(line) {
        Line::Single(msg) => msg,
        _ => return Err(unauthorized(Json::Null, EXPECTED)),
    };
    let req = parse_request(msg).map_err(|e| unauthorized(e.id, EXPECTED))?;
    let Some(id) = req.id else { return Err(unauthorized(Json::Null, EXPECTED)) };
    if req.method != crate::api::method::AUTH {
        return Err(unauthorized(id, EXPECTED));
    }
    let Some(Json::Object(mut params)) = req.params else { return Err(unauthorized(id, EXPECTED)) };
    let Some(Json::String(token)) = params.remove("token") else { return Err(unauthorized(id, EXPECTED)) };
    if !params.is_empty() {
        return Err(unauthorized(id, EXPECTED));
    }
    Ok(AuthRequest { id, token })
}

/// A JSON-RPC error response.
pub fn error_response(id: Json, e: &ApiError) -> Json {
    json!({"jsonrpc": "2.0", "id": id, "error": e.to_json()})
}

/// A JSON-RPC success response.
pub fn result_response(id: Json, result: Json) -> Json {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// Parameters of one call: named (an object) or positional (an array), with strict checking.
///
/// Owns turning `params` into typed values with clear `invalid params` errors naming the parameter,
/// and refusing parameters a method does not know. Never guesses — a wrong type is an error.
pub struct Params {
    method: String,
    map: Map<String, Json>,
}

fn invalid_params(method: &str, msg: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidParams, format!("invalid params for {method}: {msg}"))
}

impl Params {
    /// Reads `params`: an object is taken as named; an array is mapped onto `names` in order. When
    /// `variadic` is set, a positional array is the whole list for that one name (e.g. `keys`).
    pub fn parse(
        method: &str,
        params: Option<Json>,
        names: &[&str],
        variadic: Option<&str>,
    ) -> Result<Params, ApiError> {
        let map = match params {
            None | Some(Json::Null) => Map::new(),
            Some(Json::Object(m)) => m,
            Some(Json::Array(items)) => match variadic {
                Some(name) => {
                    let mut m = Map::new();
                    m.insert(name.to_string(), Json::Array(items));
                    m
                }
                None => {
                    if items.len() > names.len() {
                        return Err(invalid_params(
                            method,
                            format!("takes at most {} positional parameters, got {}", names.len(), items.len()),
                        ));
                    }
                    names.iter().map(|n| n.to_string()).zip(items).collect()
                }
            },
            Some(other) => {
                return Err(invalid_params(method, format!("params must be an object or an array, got {other}")));
            }
        };
        Ok(Params { method: method.to_string(), map })
    }

    /// A required parameter.
    pub fn required<T: DeserializeOwned>(&mut self, name: &str) -> Result<T, ApiError> {
        let v = self.raw(name)?;
        serde_json::from_value(v).map_err(|e| invalid_params(&self.method, format!("parameter {name:?}: {e}")))
    }

    /// An optional parameter (absent or null → None).
    pub fn optional<T: DeserializeOwned>(&mut self, name: &str) -> Result<Option<T>, ApiError> {
        match self.map.remove(name) {
            None | Some(Json::Null) => Ok(None),
            Some(v) => serde_json::from_value(v)
                .map(Some)
                .map_err(|e| invalid_params(&self.method, format!("parameter {name:?}: {e}"))),
        }
    }

    /// The raw JSON of a required parameter.
    pub fn raw(&mut self, name: &str) -> Result<Json, ApiError> {
        self.map.remove(name).ok_or_else(|| invalid_params(&self.method, format!("missing parameter {name:?}")))
    }

    /// A required data key.
    pub fn key(&mut self, name: &str) -> Result<DataKey, ApiError> {
        let s: String = self.required(name)?;
        s.parse().map_err(|e: KeyParseError| invalid_params(&self.method, e.to_string()))
    }

    /// An optional list of data keys.
    pub fn optional_keys(&mut self, name: &str) -> Result<Option<Vec<DataKey>>, ApiError> {
        let Some(list) = self.optional::<Vec<String>>(name)? else { return Ok(None) };
        list.iter()
            .map(|s| s.parse().map_err(|e: KeyParseError| invalid_params(&self.method, e.to_string())))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// A required non-empty list of data keys.
    pub fn keys(&mut self, name: &str) -> Result<Vec<DataKey>, ApiError> {
        let list = self
            .optional_keys(name)?
            .ok_or_else(|| invalid_params(&self.method, format!("missing parameter {name:?}")))?;
        if list.is_empty() {
            return Err(invalid_params(&self.method, format!("{name:?} needs at least one key")));
        }
        Ok(list)
    }

    /// Refuses any parameter nobody asked for.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.map.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = self.map.keys().map(String::as_str).collect();
        Err(invalid_params(&self.method, format!("unknown parameter(s): {}", names.join(", "))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(line: &str) -> Result<Request, RequestError> {
        match parse_line(line.as_bytes()) {
            Line::Single(msg) => parse_request(msg),
            other => panic!("expected a single request, got {other:?}"),
        }
    }

    fn code(resp: &Json) -> i64 {
        resp["error"]["code"].as_i64().unwrap()
    }

    #[test]
    fn blank_and_parse_error() {
        assert_eq!(parse_line(b""), Line::Blank);
        assert_eq!(parse_line(b" \t\r\n"), Line::Blank);
        let Line::ParseError(resp) = parse_line(b"{\"jsonrpc\": ") else { panic!("not a parse error") };
        assert_eq!(code(&resp), -32700);
        assert_eq!(resp["id"], Json::Null);
        assert_eq!(resp["jsonrpc"], "2.0");
        assert!(resp["error"]["message"].as_str().unwrap().starts_with("parse error: "));
        assert_eq!(resp["error"]["data"]["kind"], "parse_error");
        assert!(matches!(parse_line(b"\xff\xfe"), Line::ParseError(_)));
    }

    #[test]
    fn a_valid_request_with_flags() {
        let r =
            single(r#"{"jsonrpc":"2.0","id":7,"method":"load","params":{"key":"ab","progress":true,"timing":true}}"#)
                .unwrap();
        assert_eq!(r.id, Some(json!(7)));
        assert_eq!(r.method, "load");
        assert_eq!(r.params, Some(json!({"key": "ab"})));
        assert!(r.progress && r.timing);

        // flags must be booleans; positional params carry none
        let r = single(r#"{"jsonrpc":"2.0","id":"x","method":"m","params":{"progress":1}}"#).unwrap();
        assert!(!r.progress && !r.timing);
        assert_eq!(r.params, Some(json!({})));
        let r = single(r#"{"jsonrpc":"2.0","method":"m","params":[true]}"#).unwrap();
        assert_eq!(r.id, None);
        assert_eq!(r.id_json(), Json::Null);
        assert_eq!(r.params, Some(json!([true])));
        // an explicit null id is a request (answered with id null), not a notification
        assert_eq!(single(r#"{"jsonrpc":"2.0","id":null,"method":"m"}"#).unwrap().id, Some(Json::Null));
    }

    #[test]
    fn invalid_requests_keep_their_messages() {
        let cases = [
            ("5", Json::Null, "invalid request: expected a JSON object"),
            ("[]", Json::Null, "invalid request: expected a JSON object"),
            (
                r#"{"jsonrpc":"2.0","id":[1],"method":"m"}"#,
                Json::Null,
                "invalid request: id must be a number, a string or null",
            ),
            (r#"{"id":3,"method":"m"}"#, json!(3), "invalid request: \"jsonrpc\" must be \"2.0\""),
            (r#"{"jsonrpc":"1.0","id":3,"method":"m"}"#, json!(3), "invalid request: \"jsonrpc\" must be \"2.0\""),
            (r#"{"jsonrpc":"2.0","id":"a","method":5}"#, json!("a"), "invalid request: \"method\" must be a string"),
            (r#"{"jsonrpc":"2.0","id":"a"}"#, json!("a"), "invalid request: \"method\" must be a string"),
        ];
        for (line, id, msg) in cases {
            let e = single(line).unwrap_err();
            assert_eq!(e.id, id, "{line}");
            assert_eq!(e.error.code, ErrorCode::InvalidRequest, "{line}");
            assert_eq!(e.error.message, msg, "{line}");
            let resp = e.response();
            assert_eq!(code(&resp), -32600);
            assert_eq!(resp["id"], id);
        }
    }

    #[test]
    fn batches() {
        let Line::Batch(items) = parse_line(br#"[{"jsonrpc":"2.0","id":1,"method":"a"}, 5]"#) else {
            panic!("not a batch")
        };
        assert_eq!(items.len(), 2);
        assert_eq!(parse_request(items[0].clone()).unwrap().method, "a");
        assert_eq!(parse_request(items[1].clone()).unwrap_err().error.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn responses() {
        assert_eq!(result_response(json!(1), json!("ok")), json!({"jsonrpc": "2.0", "id": 1, "result": "ok"}));
        let e = ApiError::new(ErrorCode::MethodNotFound, "no");
        assert_eq!(error_response(json!("i"), &e)["error"]["code"], -32601);
    }

    #[test]
    fn auth_handshake() {
        let line = auth_request("ab12").to_string();
        assert_eq!(parse_auth(line.as_bytes()).unwrap(), AuthRequest { id: json!(0), token: "ab12".into() });
        let r = parse_auth(br#"{"jsonrpc":"2.0","id":"x","method":"auth","params":{"token":""}}"#).unwrap();
        assert_eq!((r.id, r.token.as_str()), (json!("x"), ""));
        let cases: [(&[u8], Json); 10] = [
            (br#"{"jsonrpc":"2.0","id":3,"method":"get_pubkey"}"#, json!(3)),
            (br#"{"jsonrpc":"2.0","method":"auth","params":{"token":"ab"}}"#, Json::Null),
            (br#"[{"jsonrpc":"2.0","id":1,"method":"auth","params":{"token":"ab"}}]"#, Json::Null),
            (br#"{"jsonrpc":"2.0","id":4,"method":"auth","params":["ab"]}"#, json!(4)),
            (br#"{"jsonrpc":"2.0","id":5,"method":"auth","params":{"token":5}}"#, json!(5)),
            (br#"{"jsonrpc":"2.0","id":6,"method":"auth","params":{"token":"ab","x":1}}"#, json!(6)),
            (br#"{"jsonrpc":"2.0","id":7,"method":"auth"}"#, json!(7)),
            (br#"{"id":8,"method":"auth","params":{"token":"ab"}}"#, json!(8)),
            (b"not json", Json::Null),
            (b"", Json::Null),
        ];
        for (line, id) in cases {
            let e = parse_auth(line).unwrap_err();
            assert_eq!(e.error.code, ErrorCode::Unauthorized, "{}", String::from_utf8_lossy(line));
            assert_eq!(e.id, id, "{}", String::from_utf8_lossy(line));
            assert!(e.error.message.starts_with("unauthorized: the first request"), "{}", e.error.message);
            assert_eq!(code(&e.response()), 1013);
        }
    }

    #[test]
    fn params_named_positional_and_unknown() {
        let mut p = Params::parse("load", Some(json!({"key": "ab"})), &["key"], None).unwrap();
        assert_eq!(p.required::<String>("key").unwrap(), "ab");
        p.finish().unwrap();

        let mut p = Params::parse("load", Some(json!(["ab"])), &["key"], None).unwrap();
        assert_eq!(p.required::<String>("key").unwrap(), "ab");

        let p = Params::parse("load", Some(json!({"key": "ab", "kye": 1})), &["key"], None).unwrap();
        assert!(p.finish().is_err());
        assert!(Params::parse("load", Some(json!(["a", "b"])), &["key"], None).is_err());
        assert!(Params::parse("load", Some(json!(5)), &["key"], None).is_err());

        let mut p = Params::parse("load", Some(json!({"key": 5})), &["key"], None).unwrap();
        assert_eq!(p.required::<String>("key").unwrap_err().code, ErrorCode::InvalidParams);
        let mut p = Params::parse("load", Some(json!({"key": "zz"})), &["key"], None).unwrap();
        assert_eq!(p.key("key").unwrap_err().code, ErrorCode::InvalidParams);
        let mut p = Params::parse("load", None, &["key"], None).unwrap();
        assert_eq!(p.raw("key").unwrap_err().message, "invalid params for load: missing parameter \"key\"");

        let mut p = Params::parse("stats.mean", Some(json!(["a", "b"])), &["keys"], Some("keys")).unwrap();
        assert_eq!(p.required::<Vec<String>>("keys").unwrap(), vec!["a", "b"]);
        let mut p = Params::parse("stats.mean", Some(json!([])), &["keys"], Some("keys")).unwrap();
        assert_eq!(p.keys("keys").unwrap_err().code, ErrorCode::InvalidParams);
    }
}
