//! The client socket's request parser (`enigma_protocol::jsonrpc`): one received line → requests.
//!
//! Checks: nothing panics; a blank line is exactly an all-whitespace one; a parse error answers
//! −32700 with id null; a refused request answers −32600 with a number, string or null id; an
//! accepted request, written back as JSON-RPC, parses to the same request; `Params` never panics.
//! The TCP handshake's `parse_auth` on the same line: a refusal is `unauthorized` (1013) with a usable
//! id; an accepted line is a single `auth` request whose token, written back, parses to itself.
#![no_main]

use enigma_protocol::jsonrpc::{Line, Params, Request, auth_request, parse_auth, parse_line, parse_request};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value as Json, json};

fn check_error(resp: &Json, code: i64) {
    assert_eq!(resp["jsonrpc"], "2.0");
    assert_eq!(resp["error"]["code"], code, "{resp}");
    assert!(resp["error"]["message"].is_string());
    assert!(matches!(resp["id"], Json::Null | Json::Number(_) | Json::String(_)));
    // what is sent back is one line of valid JSON
    let text = resp.to_string();
    assert!(!text.contains('\n'));
    assert_eq!(&serde_json::from_str::<Json>(&text).expect("response re-parses"), resp);
}

/// The request written back as a JSON-RPC object (flags restored into named params).
fn unparse(r: &Request) -> Json {
    let mut obj = serde_json::Map::new();
    obj.insert("jsonrpc".into(), json!("2.0"));
    if let Some(id) = &r.id {
        obj.insert("id".into(), id.clone());
    }
    obj.insert("method".into(), json!(r.method));
    if let Some(p) = &r.params {
        let mut p = p.clone();
        if let Json::Object(m) = &mut p {
            if r.progress {
                m.insert("progress".into(), json!(true));
            }
            if r.timing {
                m.insert("timing".into(), json!(true));
            }
        }
        obj.insert("params".into(), p);
    }
    Json::Object(obj)
}

fn params(r: &Request) {
    const NAMES: [&str; 4] = ["key", "keys", "data", "store"];
    for variadic in [None, Some("keys")] {
        let Ok(mut p) = Params::parse(&r.method, r.params.clone(), &NAMES, variadic) else { continue };
        let _ = p.key("key");
        let _ = p.keys("keys");
        let _ = p.optional::<Vec<f64>>("data");
        let _ = p.required::<bool>("store");
        let _ = p.finish();
    }
}

fn request(msg: Json) {
    match parse_request(msg) {
        Ok(r) => {
            assert!(matches!(r.id_json(), Json::Null | Json::Number(_) | Json::String(_)));
            let again = parse_request(unparse(&r)).expect("a written-back request parses");
            assert_eq!(again, r);
            params(&r);
        }
        Err(e) => check_error(&e.response(), -32600),
    }
}

fn auth(data: &[u8]) {
    match parse_auth(data) {
        Ok(a) => {
            assert!(matches!(parse_line(data), Line::Single(_)));
            assert!(matches!(a.id, Json::Null | Json::Number(_) | Json::String(_)));
            let again = parse_auth(auth_request(&a.token).to_string().as_bytes()).expect("a written-back auth parses");
            assert_eq!(again.token, a.token);
        }
        Err(e) => check_error(&e.response(), 1013),
    }
}

fuzz_target!(|data: &[u8]| {
    auth(data);
    match parse_line(data) {
        Line::Blank => assert!(data.iter().all(u8::is_ascii_whitespace)),
        Line::ParseError(resp) => {
            assert!(serde_json::from_slice::<Json>(data).is_err());
            check_error(&resp, -32700);
            assert_eq!(resp["id"], Json::Null);
        }
        Line::Batch(items) => {
            assert!(!items.is_empty());
            items.into_iter().for_each(request);
        }
        Line::Single(msg) => {
            assert!(!matches!(&msg, Json::Array(a) if !a.is_empty()));
            request(msg);
        }
    }
});
