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

    /// Alias of [`Client::gen_key`] (the API doc also spells it `gen_keys`).
    pub fn gen_keys(&mut self) -> Result<(String, String)> {
        self.gen_key()
    }

    /// A key's manifest as this node sees it: owner, type, shape, threshold, epoch, holders.
    pub fn manifest(&mut self, key: &str) -> Result<Json> {
        self.call(method::MANIFEST, json!({"key": key}))
    }

    /// Read-only, this node only: `[{key, state, epoch}]` for every key it holds a share of.
    pub fn custody_keys(&mut self) -> Result<Json> {
        self.call(method::CUSTODY_KEYS, json!({}))
    }

    /// Stops a running computation by the op id its progress notifications carry; `false` if no
    /// such operation is running.
    pub fn cancel(&mut self, op: &str) -> Result<bool> {
        boolean(self.call(method::CANCEL, json!({"op": op}))?)
    }

    // ---- access control ----

    /// Grants `addresses` access (to all of the owner's keys, or only `keys`; `level` `load` or
    /// `compute`); returns the policy transaction id.
    pub fn pair(&mut self, addresses: &[&str], keys: Option<&[&str]>, level: Option<Level>) -> Result<String> {
        string(self.call(method::PAIR, grant_params(addresses, keys, level))?)
    }

    /// Takes access back (revoking `compute` removes every access, `load` leaves `compute`); returns
    /// the txid once every live node has it.
    pub fn revoke(&mut self, addresses: &[&str], keys: Option<&[&str]>, level: Option<Level>) -> Result<String> {
        string(self.call(method::REVOKE, grant_params(addresses, keys, level))?)
    }

    /// The grants in force for this identity's data.
    pub fn policy(&mut self) -> Result<Json> {
        self.call(method::POLICY, json!({}))
    }

    /// A policy transaction: its raw hex and decoded view.
    pub fn ledger_tx(&mut self, txid: &str) -> Result<Json> {
        self.call(method::LEDGER_TX, json!({"txid": txid}))
    }

    /// Who loaded or computed on `key`, and when (owner only).
    pub fn access_log(&mut self, key: &str) -> Result<Json> {
        self.call(method::ACCESS_LOG, json!({"key": key}))
    }

    // ---- computations (MPC) ----

    /// Runs a computation: asks for progress (passed to `opts.progress`), adds `store` when asked.
    fn compute(&mut self, method: &str, mut params: Json, opts: Compute<'_>) -> Result<Json> {
        if opts.store {
            params["store"] = Json::Bool(true);
        }
        match opts.progress {
            Some(f) => self.call_with_progress(method, params, f),
            None => self.call(method, params),
        }
    }

    /// Scalar keys: the key holding the maximum (ties: the first); arrays: a new key to the secret
    /// maximum. (`store` makes no difference for arrays; for scalar keys it is `unsupported`.)
    pub fn stats_max(&mut self, keys: &[&str], opts: Compute<'_>) -> Result<String> {
        string(self.compute(method::STATS_MAX, json!({"keys": keys}), opts)?)
    }

    /// As [`Client::stats_max`], for the minimum.
    pub fn stats_min(&mut self, keys: &[&str], opts: Compute<'_>) -> Result<String> {
        string(self.compute(method::STATS_MIN, json!({"keys": keys}), opts)?)
    }

    /// `[mean]` over the flattened data of all keys (numpy).
    pub fn stats_mean(&mut self, keys: &[&str], opts: Compute<'_>) -> Result<Computed<Vec<f64>>> {
        let r = self.compute(method::STATS_MEAN, json!({"keys": keys}), opts)?;
        computed(r, floats)
    }

    /// `[variance]` (ddof=0) over the flattened data of all keys.
    pub fn stats_var(&mut self, keys: &[&str], opts: Compute<'_>) -> Result<Computed<Vec<f64>>> {
        let r = self.compute(method::STATS_VAR, json!({"keys": keys}), opts)?;
        computed(r, floats)
    }

    /// `[standard deviation]` (ddof=0) over the flattened data of all keys.
    pub fn stats_std(&mut self, keys: &[&str], opts: Compute<'_>) -> Result<Computed<Vec<f64>>> {
        let r = self.compute(method::STATS_STD, json!({"keys": keys}), opts)?;
        computed(r, floats)
    }

    /// scipy.stats.linregress of `key_y` on `key_x`; stored: the key of `[slope, intercept, r_value]`.
    pub fn stats_linregress(&mut self, key_x: &str, key_y: &str, opts: Compute<'_>) -> Result<Computed<Linregress>> {
        let r = self.compute(method::STATS_LINREGRESS, json!({"key_x": key_x, "key_y": key_y}), opts)?;
        computed(r, |j| {
            let v = floats(j)?;
            match v[..] {
                [slope, intercept, r_value, p_value, std_err] => {
                    Ok(Linregress { slope, intercept, r_value, p_value, std_err })
                }
                _ => Err(ClientError::Protocol(format!("linregress returned {} numbers, not 5", v.len()))),
            }
        })
    }

    /// numpy.dot of the arrays under `key_a` and `key_b` (a scalar or an array).
    pub fn linalg_dot(&mut self, key_a: &str, key_b: &str, opts: Compute<'_>) -> Result<Computed<Value>> {
        let r = self.compute(method::LINALG_DOT, json!({"key_a": key_a, "key_b": key_b}), opts)?;
        computed(r, |j| Ok(api::value_from_json(&j)?))
    }

    /// numpy.linalg.inv of the square matrix under `key` (singular: [`ErrorCode::Singular`]).
    pub fn linalg_inv(&mut self, key: &str, opts: Compute<'_>) -> Result<Computed<Value>> {
        let r = self.compute(method::LINALG_INV, json!({"key": key}), opts)?;
        computed(r, |j| Ok(api::value_from_json(&j)?))
    }
}

/// Access level of a grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Raw data and computations.
    Load,
    /// Results of computations only.
    Compute,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Load => "load",
            Level::Compute => "compute",
        }
    }
}

impl std::str::FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Level, String> {
        match s {
            "load" => Ok(Level::Load),
            "compute" => Ok(Level::Compute),
            other => Err(format!("level must be load or compute, not {other:?}")),
        }
    }
}

fn grant_params(addresses: &[&str], keys: Option<&[&str]>, level: Option<Level>) -> Json {
    let mut params = json!({"addresses": addresses});
    if let Some(k) = keys {
        params["keys"] = json!(k);
    }
    if let Some(l) = level {
        params["level"] = json!(l.as_str());
    }
    params
}

/// Options of a computation.
#[derive(Default)]
pub struct Compute<'a> {
    /// Keep the result secret on the network and return its key (the API's `store=True`).
    pub store: bool,
    /// Called with each progress notification (the node is asked for them when this is set).
    pub progress: Option<&'a mut dyn FnMut(&Progress)>,
}

impl<'a> Compute<'a> {
    /// `store=True`: the result stays shared; the call returns its key.
    pub fn stored() -> Compute<'a> {
        Compute { store: true, progress: None }
    }
}

/// What a computation returns: the revealed value, or (with `store`) the key of the secret result.
#[derive(Clone, Debug, PartialEq)]
pub enum Computed<T> {
    Value(T),
    Stored(String),
}

impl<T> Computed<T> {
    pub fn value(self) -> Option<T> {
        match self {
            Computed::Value(v) => Some(v),
            Computed::Stored(_) => None,
        }
    }

    pub fn key(self) -> Option<String> {
        match self {
            Computed::Stored(k) => Some(k),
            Computed::Value(_) => None,
        }
    }
}

/// scipy.stats.linregress's result.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Linregress {
    pub slope: f64,
    pub intercept: f64,
    pub r_value: f64,
    pub p_value: f64,
    pub std_err: f64,
}

fn computed<T>(r: Json, read: impl FnOnce(Json) -> Result<T>) -> Result<Computed<T>> {
    match r {
        Json::String(key) => Ok(Computed::Stored(key)),
        other => read(other).map(Computed::Value),
    }
}

fn floats(j: Json) -> Result<Vec<f64>> {
    serde_json::from_value(j.clone()).map_err(|_| ClientError::Protocol(format!("expected numbers, got {j}")))
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

#[cfg(test)]
mod tests {
    //! The typed methods against a stand-in node that records what it is asked: together they must
    //! call every method of `api::METHODS`, each with all of its parameters.
    use super::*;
    use enigma_protocol::api::METHODS;
    use std::collections::{BTreeMap, BTreeSet};
    use std::os::unix::net::UnixListener;
    use std::sync::{Arc, Mutex};

    type Seen = Arc<Mutex<BTreeMap<String, BTreeSet<String>>>>;

    fn canned(method: &str) -> Json {
        match method {
            "gen_key" => json!(["aa", "bb"]),
            "set_privkey" | "delete" | "cancel" => json!(true),
            "load" => json!({"type": "int", "value": 1}),
            "peers" | "policy" | "access_log" | "custody_keys" => json!([]),
            "status" | "ledger_tx" | "manifest" => json!({}),
            "stats.mean" | "stats.var" | "stats.std" => json!([1.5]),
            "stats.linregress" => json!([1.0, 2.0, 0.5, 0.1, 0.01]),
            "linalg.dot" | "linalg.inv" => json!({"type": "float", "value": 1.5}),
            _ => json!("0f"),
        }
    }

    fn fake_node(seen: Seen) -> (String, std::thread::JoinHandle<()>) {
        let path = std::env::temp_dir().join(format!("enigma-client-test-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let handle = std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            let mut w = conn.try_clone().unwrap();
            for line in BufReader::new(conn).lines() {
                let Ok(line) = line else { break };
                let req: Json = serde_json::from_str(&line).unwrap();
                let method = req["method"].as_str().unwrap().to_string();
                let params: BTreeSet<String> =
                    req["params"].as_object().unwrap().keys().filter(|k| *k != "progress").cloned().collect();
                seen.lock().unwrap().entry(method.clone()).or_default().extend(params);
                let reply = json!({"jsonrpc": "2.0", "id": req["id"], "result": canned(&method)});
                writeln!(w, "{reply}").unwrap();
            }
        });
        (path.to_string_lossy().into_owned(), handle)
    }

    #[test]
    fn the_typed_methods_cover_every_api_method_with_all_its_parameters() {
        let seen: Seen = Arc::default();
        let (path, server) = fake_node(seen.clone());
        let mut c = Client::connect(&path).unwrap();
        let k = "ab";
        assert_eq!(c.gen_key().unwrap(), ("aa".into(), "bb".into()));
        assert_eq!(c.gen_keys().unwrap().0, "aa");
        c.get_pubkey().unwrap();
        c.get_address().unwrap();
        assert!(c.set_privkey("01").unwrap());
        c.store(&Value::String("s".into())).unwrap();
        assert_eq!(c.load(k).unwrap(), Value::Int(1));
        assert!(c.delete(k).unwrap());
        c.pair(&["1A"], Some(&[k]), Some(Level::Compute)).unwrap();
        c.revoke(&["1A"], Some(&[k]), Some(Level::Load)).unwrap();
        c.policy().unwrap();
        c.ledger_tx("00").unwrap();
        c.access_log(k).unwrap();
        assert_eq!(c.stats_max(&[k, k], Compute::stored()).unwrap(), "0f");
        c.stats_min(&[k], Compute::stored()).unwrap();
        let mut notes = 0;
        let mut on_progress = |_: &Progress| notes += 1;
        let opts = Compute { store: true, progress: Some(&mut on_progress) };
        assert_eq!(c.stats_mean(&[k], opts).unwrap(), Computed::Value(vec![1.5]));
        c.stats_var(&[k], Compute::stored()).unwrap();
        c.stats_std(&[k], Compute::stored()).unwrap();
        let lr = c.stats_linregress(k, k, Compute::stored()).unwrap().value().unwrap();
        assert_eq!((lr.slope, lr.std_err), (1.0, 0.01));
        assert_eq!(c.linalg_dot(k, k, Compute::stored()).unwrap(), Computed::Value(Value::Float(1.5)));
        c.linalg_inv(k, Compute::stored()).unwrap();
        c.peers().unwrap();
        c.status().unwrap();
        c.manifest(k).unwrap();
        assert!(c.cancel("op").unwrap());
        c.custody_keys().unwrap();
        drop(c);
        server.join().unwrap();
        let _ = std::fs::remove_file(&path);

        let seen = seen.lock().unwrap();
        let want: BTreeMap<String, BTreeSet<String>> =
            METHODS.iter().map(|m| (m.name.to_string(), m.params.iter().map(|p| p.to_string()).collect())).collect();
        assert_eq!(*seen, want, "the Rust client's methods and api::METHODS differ");
    }

    #[test]
    fn a_stored_result_is_its_key() {
        let c: Computed<Vec<f64>> = computed(json!("ab"), floats).unwrap();
        assert_eq!(c.key().as_deref(), Some("ab"));
        assert!(computed(json!({"x": 1}), floats).is_err());
        assert_eq!("compute".parse::<Level>(), Ok(Level::Compute));
        assert!("all".parse::<Level>().is_err());
    }
}
