//! A blocking Rust client for an Enigma node: JSON-RPC 2.0, one JSON object per line, over the node's
//! Unix socket (`<data-dir>/enigma.sock`) or `host:port`.
//!
//! Owns: the connection, request ids, progress notifications, and typed wrappers with the same names
//! and results as every other client (DESIGN §1). Must never: interpret data beyond the typed value
//! form of `enigma_protocol::api`, or retry a request that may have had effects.

use base64::Engine;
use enigma_protocol::api::{self, ApiError, ErrorCode, method};
use enigma_protocol::value::Value;
use serde_json::{Value as Json, json};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// Client failures: the node's own errors, or trouble talking to it.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("cannot reach the node at {endpoint}: {source}")]
    Connect { endpoint: String, source: std::io::Error },
    #[error("connection to the node failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the node sent something that is not JSON-RPC: {0}")]
    Protocol(String),
}

impl ClientError {
    /// The node's error code, if this is a node error.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api(e) => Some(e.code),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;

trait Stream: std::io::Read + Write + Send {}
impl Stream for UnixStream {}
impl Stream for TcpStream {}

/// A connection to one node.
pub struct Client {
    reader: BufReader<Box<dyn Stream>>,
    writer: Box<dyn Stream>,
    next_id: u64,
    endpoint: String,
}

/// Progress of a long operation, as the node reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
    pub stage: String,
    pub op: String,
}

impl Client {
    /// Connects to a Unix socket path, or to `host:port` (anything with a ':' that is not a path).
    pub fn connect(endpoint: &str) -> Result<Client> {
        let err = |source| ClientError::Connect { endpoint: endpoint.to_string(), source };
        let (r, w): (Box<dyn Stream>, Box<dyn Stream>) = if endpoint.contains(':') && !Path::new(endpoint).exists() {
            let s = TcpStream::connect(endpoint).map_err(err)?;
            s.set_nodelay(true).ok();
            (Box::new(s.try_clone().map_err(err)?), Box::new(s))
        } else {
            let s = UnixStream::connect(endpoint).map_err(err)?;
            (Box::new(s.try_clone().map_err(err)?), Box::new(s))
        };
        Ok(Client { reader: BufReader::new(r), writer: w, next_id: 1, endpoint: endpoint.to_string() })
    }

    /// The default endpoint: `$ENIGMA_SOCKET`, else the devnet's node 0, else the default node.
    pub fn default_endpoint() -> String {
        if let Ok(s) = std::env::var("ENIGMA_SOCKET") {
            return s;
        }
        let home = enigma_home();
        let devnet = home.join("devnet").join("node0").join("enigma.sock");
        if devnet.exists() {
            return devnet.to_string_lossy().into_owned();
        }
        home.join("enigma.sock").to_string_lossy().into_owned()
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Calls a method; returns its result or the node's error.
    pub fn call(&mut self, method: &str, params: Json) -> Result<Json> {
        self.call_with_progress(method, params, |_| {})
    }

    /// Calls a method, asking the node for progress notifications and passing each to `on_progress`.
    pub fn call_with_progress(
        &mut self,
        method: &str,
        mut params: Json,
        mut on_progress: impl FnMut(&Progress),
    ) -> Result<Json> {
        let id = self.next_id;
        self.next_id += 1;
        if let Json::Object(m) = &mut params {
            m.insert("progress".into(), Json::Bool(true));
        }
        let req = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let mut line = serde_json::to_string(&req).map_err(|e| ClientError::Protocol(e.to_string()))?;
        line.push('\n');
        self.writer.write_all(line.as_bytes())?;
        self.writer.flush()?;
        loop {
            let mut buf = String::new();
            if self.reader.read_line(&mut buf)? == 0 {
                return Err(ClientError::Io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the node closed the connection",
                )));
            }
            let msg: Json = serde_json::from_str(&buf).map_err(|e| ClientError::Protocol(e.to_string()))?;
            if msg.get("method").is_some() {
                // a notification: only progress is defined
                if msg["method"].as_str() == Some(method::PROGRESS) {
                    let p = &msg["params"];
                    on_progress(&Progress {
                        done: p["done"].as_u64().unwrap_or(0),
                        total: p["total"].as_u64().unwrap_or(0),
                        stage: p["stage"].as_str().unwrap_or("").to_string(),
                        op: p["op"].as_str().unwrap_or("").to_string(),
                    });
                }
                continue;
            }
            let for_us = msg.get("id").and_then(Json::as_u64) == Some(id);
            let unattributed = msg.get("id").is_none_or(Json::is_null);
            if let Some(err) = msg.get("error").filter(|_| for_us || unattributed) {
                return Err(ApiError::from_json(err).into());
            }
            if !for_us {
                return Err(ClientError::Protocol(format!("response for another request: {buf}")));
            }
            return msg.get("result").cloned().ok_or_else(|| ClientError::Protocol("response without result".into()));
        }
    }

    // ---- identity ----

    pub fn gen_key(&mut self) -> Result<(String, String)> {
        let r = self.call(method::GEN_KEY, json!({}))?;
        let pair: (String, String) = serde_json::from_value(r).map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok(pair)
    }

    pub fn get_pubkey(&mut self) -> Result<String> {
        string(self.call(method::GET_PUBKEY, json!({}))?)
    }

    pub fn get_address(&mut self) -> Result<String> {
        string(self.call(method::GET_ADDRESS, json!({}))?)
    }

    pub fn set_privkey(&mut self, privkey: &str) -> Result<bool> {
        boolean(self.call(method::SET_PRIVKEY, json!({"privkey": privkey}))?)
    }

    // ---- data ----

    /// Stores any value; returns its key.
    pub fn store(&mut self, value: &Value) -> Result<String> {
        let params = match value {
            Value::Bytes(b) => {
                json!({"data": base64::engine::general_purpose::STANDARD.encode(b), "type": "bytes"})
            }
            Value::String(s) => json!({"data": s, "type": "string"}),
            Value::Json(j) => json!({"data": j, "type": "json"}),
            other => json!({"data": other.to_json()}),
        };
        string(self.call(method::STORE, params)?)
    }

    /// Stores a JSON value with the API's automatic typing (numbers and numeric arrays are computable).
    pub fn store_json(&mut self, data: Json) -> Result<String> {
        string(self.call(method::STORE, json!({"data": data}))?)
    }

    pub fn load(&mut self, key: &str) -> Result<Value> {
        let r = self.call(method::LOAD, json!({"key": key}))?;
        Ok(api::value_from_json(&r)?)
    }

    pub fn delete(&mut self, key: &str) -> Result<bool> {
        boolean(self.call(method::DELETE, json!({"key": key}))?)
    }

    // ---- network ----

    pub fn status(&mut self) -> Result<Json> {
        self.call(method::STATUS, json!({}))
    }

    /// Peer ids this node sees.
    pub fn peers(&mut self) -> Result<Vec<String>> {
        let r = self.call(method::PEERS, json!({}))?;
        serde_json::from_value(r).map_err(|e| ClientError::Protocol(e.to_string()))
    }
}

/// `$ENIGMA_HOME`, else `~/.enigma`.
pub fn enigma_home() -> PathBuf {
    if let Ok(h) = std::env::var("ENIGMA_HOME") {
        return PathBuf::from(h);
    }
    std::env::var("HOME").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from(".")).join(".enigma")
}

fn string(j: Json) -> Result<String> {
    j.as_str().map(str::to_string).ok_or_else(|| ClientError::Protocol(format!("expected a string, got {j}")))
}

fn boolean(j: Json) -> Result<bool> {
    j.as_bool().ok_or_else(|| ClientError::Protocol(format!("expected a boolean, got {j}")))
}
