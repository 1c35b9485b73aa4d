//! Where policy transactions go beyond this network's embedded ledger.
//!
//! Owns: the backend choice — the embedded ledger alone (default), or also a Bitcoin Core node over
//! JSON-RPC (`sendrawtransaction`), configured with a URL and a credentials file (`user:password`,
//! the format of Core's cookie file). Must never: make the embedded ledger depend on the backend's
//! answer (the network's nodes validate and enforce on their own), or log credentials.
//!
//! Note: the embedded ledger's transactions spend per-owner genesis outpoints with zero-value
//! outputs; a public chain will refuse them until they are funded (real inputs, dust-limit outputs,
//! fees). The backend submits them and reports Core's answer; see docs/ledger.md §6.

use base64::Engine;
use serde_json::{Value as Json, json};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("bitcoin core rpc credentials file {0}: {1}")]
    Credentials(String, std::io::Error),
    #[error("bitcoin core rpc credentials must be `user:password`")]
    BadCredentials,
    #[error("bitcoin core rpc request failed: {0}")]
    Http(String),
    #[error("bitcoin core refused the transaction: {0}")]
    Refused(String),
}

/// A Bitcoin Core JSON-RPC endpoint.
#[derive(Clone)]
pub struct CoreRpc {
    url: String,
    user: String,
    password: String,
}

impl std::fmt::Debug for CoreRpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CoreRpc({})", self.url)
    }
}

impl CoreRpc {
    pub fn new(url: &str, credentials_file: &Path) -> Result<CoreRpc, BackendError> {
        let text = std::fs::read_to_string(credentials_file)
            .map_err(|e| BackendError::Credentials(credentials_file.display().to_string(), e))?;
        let (user, password) = text.trim().split_once(':').ok_or(BackendError::BadCredentials)?;
        Ok(CoreRpc { url: url.to_string(), user: user.to_string(), password: password.to_string() })
    }

    /// `sendrawtransaction [hex]`; returns the txid Core reports. Blocking: call off the actor thread.
    pub fn send_raw_transaction(&self, tx: &[u8]) -> Result<String, BackendError> {
        let body =
            json!({"jsonrpc": "1.0", "id": "enigma", "method": "sendrawtransaction", "params": [hex::encode(tx)]});
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.user, self.password));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .build()
            .into();
        let mut resp = agent
            .post(&self.url)
            .header("Authorization", &format!("Basic {auth}"))
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .map_err(|e| BackendError::Http(e.to_string()))?;
        let text = resp.body_mut().read_to_string().map_err(|e| BackendError::Http(e.to_string()))?;
        let reply: Json = serde_json::from_str(&text).map_err(|_| {
            BackendError::Http(format!("HTTP {}: {}", resp.status(), text.chars().take(200).collect::<String>()))
        })?;
        if let Some(err) = reply.get("error").filter(|e| !e.is_null()) {
            return Err(BackendError::Refused(
                err.get("message").and_then(Json::as_str).unwrap_or("unknown").to_string(),
            ));
        }
        reply
            .get("result")
            .and_then(Json::as_str)
            .map(str::to_string)
            .ok_or_else(|| BackendError::Http(format!("unexpected reply: {text}")))
    }
}

/// The configured backend.
#[derive(Clone, Debug, Default)]
pub enum Backend {
    #[default]
    Embedded,
    BitcoinCore(CoreRpc),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;

    /// A one-shot JSON-RPC endpoint that records the request it receives.
    fn endpoint(reply: &'static str) -> (String, std::thread::JoinHandle<(Vec<String>, String)>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", l.local_addr().unwrap());
        let h = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut headers = Vec::new();
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                if line == "\r\n" {
                    break;
                }
                headers.push(line.trim_end().to_string());
            }
            let len: usize = headers
                .iter()
                .find_map(|h| h.to_ascii_lowercase().strip_prefix("content-length: ").map(|v| v.parse().unwrap()))
                .unwrap();
            let mut body = vec![0u8; len];
            r.read_exact(&mut body).unwrap();
            let mut w = s;
            write!(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}", reply.len(), reply).unwrap();
            (headers, String::from_utf8(body).unwrap())
        });
        (url, h)
    }

    #[test]
    fn sends_exactly_sendrawtransaction_with_basic_auth() {
        let (url, h) = endpoint(r#"{"result":"ab12","error":null,"id":"enigma"}"#);
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("auth");
        std::fs::write(&creds, "alice:s3cret\n").unwrap();
        let rpc = CoreRpc::new(&url, &creds).unwrap();
        assert_eq!(rpc.send_raw_transaction(&[0xde, 0xad]).unwrap(), "ab12");
        let (headers, body) = h.join().unwrap();
        assert!(headers[0].starts_with("POST / HTTP/1.1"), "{headers:?}");
        let expected_auth =
            format!("authorization: basic {}", base64::engine::general_purpose::STANDARD.encode("alice:s3cret"))
                .to_ascii_lowercase();
        assert!(headers.iter().any(|h| h.to_ascii_lowercase() == expected_auth), "{headers:?}");
        let body: Json = serde_json::from_str(&body).unwrap();
        assert_eq!(body["method"], "sendrawtransaction");
        assert_eq!(body["params"], json!(["dead"]));
    }

    #[test]
    fn reports_core_refusals() {
        let (url, h) = endpoint(
            r#"{"result":null,"error":{"code":-25,"message":"bad-txns-inputs-missingorspent"},"id":"enigma"}"#,
        );
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("auth");
        std::fs::write(&creds, "u:p").unwrap();
        let err = CoreRpc::new(&url, &creds).unwrap().send_raw_transaction(&[1]).unwrap_err();
        assert!(err.to_string().contains("bad-txns-inputs-missingorspent"), "{err}");
        h.join().unwrap();
        std::fs::write(&creds, "no-colon").unwrap();
        assert!(matches!(CoreRpc::new(&url, &creds), Err(BackendError::BadCredentials)));
    }
}
