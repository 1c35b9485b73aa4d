//! A blocking Rust client for an Enigma node: JSON-RPC 2.0, one JSON object per line, over the node's
//! Unix socket (`<data-dir>/enigma.sock`) or `host:port`.
//!
//! Owns: the connection, the TCP credential ([`TcpAuth`]: the token's `auth` handshake, TLS with a
//! pinned certificate fingerprint), request ids, progress notifications, and typed wrappers with the
//! same names and results as every other client (DESIGN §1). Must never: send a token in the clear
//! to a non-loopback address, trust a node's certificate on anything but its pinned fingerprint,
//! interpret data beyond the typed value form of `enigma_protocol::api`, or retry a request that may
//! have had effects.

use base64::Engine;
use enigma_protocol::api::{self, ApiError, ErrorCode, method};
use enigma_protocol::credential::{fingerprint, fingerprint_matches, parse_fingerprint};
use enigma_protocol::jsonrpc;
use enigma_protocol::value::Value;
use serde_json::{Value as Json, json};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The cookie file the node writes in its data directory when it serves TCP.
pub const COOKIE_FILE: &str = "rpc.cookie";

/// How long connecting, the TLS handshake and the `auth` handshake may take together.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// The credential could not be found or used (unreadable cookie, bad fingerprint, a token that
    /// would travel in the clear).
    #[error("{0}")]
    Credential(String),
    /// The TLS handshake failed, or the node's certificate is not the pinned one.
    #[error("TLS with the node at {endpoint}: {message}")]
    Tls { endpoint: String, message: String },
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
impl Stream for rustls::StreamOwned<rustls::ClientConnection, TcpStream> {}

/// What a TCP connection shows the node (the Unix socket needs nothing: its file mode is its access
/// control). [`TcpAuth::from_env`] is what [`Client::connect`] uses.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TcpAuth {
    /// The token: the node's cookie (`<data-dir>/rpc.cookie`) or its `--rpc-token-file`. `None`: no
    /// `auth` handshake (for a node started with `--rpc-no-auth`).
    pub token: Option<String>,
    /// The SHA-256 of the node's certificate: connect with TLS and accept only that certificate.
    /// `None`: plain TCP, which carries a token only to a loopback address.
    pub fingerprint: Option<[u8; 32]>,
}

impl std::fmt::Debug for TcpAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpAuth")
            .field("token", &self.token.as_ref().map(|_| ".."))
            .field("fingerprint", &self.fingerprint.map(hex::encode))
            .finish()
    }
}

impl TcpAuth {
    /// A token, no TLS.
    pub fn token(token: impl Into<String>) -> TcpAuth {
        TcpAuth { token: Some(token.into()), fingerprint: None }
    }

    /// Adds a pinned certificate fingerprint (as the node prints it; `:`-separated and upper case work too).
    pub fn pin(mut self, fingerprint: &str) -> Result<TcpAuth> {
        self.fingerprint = Some(parse_fingerprint(fingerprint).map_err(|e| ClientError::Credential(e.to_string()))?);
        Ok(self)
    }

    /// Reads the token from a file (a cookie or a token file): its content without surrounding whitespace.
    pub fn read_token_file(path: &Path) -> Result<String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ClientError::Credential(format!("cannot read the node's token from {}: {e}", path.display()))
        })?;
        Ok(text.trim().to_string())
    }

    /// The credential from the environment: the token is `$ENIGMA_RPC_TOKEN`, else the content of
    /// the file `$ENIGMA_RPC_COOKIE`, else of `<data-dir>/rpc.cookie` if it exists (data dir:
    /// `$ENIGMA_DATA_DIR`, else [`enigma_home`]); the fingerprint is `$ENIGMA_RPC_FINGERPRINT`.
    pub fn from_env() -> Result<TcpAuth> {
        TcpAuth::resolve(None, None)
    }

    /// Like [`TcpAuth::from_env`], with an explicit cookie file and fingerprint taking precedence.
    pub fn resolve(cookie: Option<&Path>, fingerprint: Option<&str>) -> Result<TcpAuth> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let token = if let Some(path) = cookie {
            Some(TcpAuth::read_token_file(path)?)
        } else if let Some(t) = env("ENIGMA_RPC_TOKEN") {
            Some(t.trim().to_string())
        } else if let Some(path) = env("ENIGMA_RPC_COOKIE") {
            Some(TcpAuth::read_token_file(Path::new(&path))?)
        } else {
            let dir = env("ENIGMA_DATA_DIR").map(PathBuf::from).unwrap_or_else(enigma_home);
            let path = dir.join(COOKIE_FILE);
            // the default is only a guess: a missing or unreadable cookie there means "no token"
            path.exists().then(|| TcpAuth::read_token_file(&path).ok()).flatten()
        };
        let auth = TcpAuth { token, fingerprint: None };
        match fingerprint.map(str::to_string).or_else(|| env("ENIGMA_RPC_FINGERPRINT")) {
            Some(fp) => auth.pin(&fp),
            None => Ok(auth),
        }
    }
}

/// Accepts exactly the certificate with the pinned SHA-256 (no CA, no host name: the node's
/// certificate is self-signed), and checks the handshake's signatures with it as usual.
#[derive(Debug)]
struct PinnedCert {
    pin: [u8; 32],
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if fingerprint_matches(end_entity, &self.pin) {
            return Ok(rustls::client::danger::ServerCertVerified::assertion());
        }
        Err(rustls::Error::General(format!(
            "the node's certificate has fingerprint {}, not the pinned {}: refusing to send the token",
            fingerprint(end_entity),
            hex::encode(self.pin)
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// A token may travel without TLS only to loopback addresses.
fn plain_token_allowed(addrs: &[SocketAddr]) -> Result<()> {
    match addrs.iter().find(|a| !a.ip().to_canonical().is_loopback()) {
        None => Ok(()),
        Some(a) => Err(ClientError::Credential(format!(
            "refusing to send the token in the clear to {a}: off loopback the node must serve TLS (--rpc-tls) \
             and the client pin its certificate (ENIGMA_RPC_FINGERPRINT)"
        ))),
    }
}

/// Whether an endpoint names a TCP address: anything with a ':' that is not an existing path.
pub fn is_tcp_endpoint(endpoint: &str) -> bool {
    endpoint.contains(':') && !Path::new(endpoint).exists()
}

/// How `store` keeps numbers: at a decimal scale (`decimals`, 0 to 12; `None` is the default, 6)
/// or at the legacy binary scale 2^-20 (`binary`), and whether a number the scale cannot hold
/// exactly is an error (`exact`) rather than rounded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreOpts {
    pub decimals: Option<u32>,
    pub binary: bool,
    pub exact: bool,
}

impl StoreOpts {
    fn add_to(&self, params: &mut Json) {
        if let Some(map) = params.as_object_mut() {
            if self.binary {
                map.insert("decimals".into(), json!("binary"));
            } else if let Some(d) = self.decimals {
                map.insert("decimals".into(), json!(d));
            }
            if self.exact {
                map.insert("exact".into(), json!(true));
            }
        }
    }
}

/// A connection to one node.
pub struct Client {
    stream: BufReader<Box<dyn Stream>>,
    next_id: u64,
    endpoint: String,
    /// The TCP connection showed no token (for a clearer `unauthorized`).
    tokenless_tcp: bool,
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
    /// Connects to a Unix socket path, or to `host:port` (anything with a ':' that is not a path)
    /// with the credential of [`TcpAuth::from_env`].
    pub fn connect(endpoint: &str) -> Result<Client> {
        if is_tcp_endpoint(endpoint) {
            Client::connect_with(endpoint, &TcpAuth::from_env()?)
        } else {
            Client::unix(endpoint)
        }
    }

    /// Connects with an explicit TCP credential (ignored for a Unix socket path).
    pub fn connect_with(endpoint: &str, auth: &TcpAuth) -> Result<Client> {
        if !is_tcp_endpoint(endpoint) {
            return Client::unix(endpoint);
        }
        let err = |source| ClientError::Connect { endpoint: endpoint.to_string(), source };
        let addrs: Vec<SocketAddr> = endpoint.to_socket_addrs().map_err(err)?.collect();
        // checked before connecting: a token goes in the clear only to loopback
        if auth.token.is_some() && auth.fingerprint.is_none() {
            plain_token_allowed(&addrs)?;
        }
        let mut last = None;
        let mut connected = None;
        for a in &addrs {
            match TcpStream::connect_timeout(a, HANDSHAKE_TIMEOUT) {
                Ok(s) => {
                    connected = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let Some(tcp) = connected else {
            return Err(err(last.unwrap_or_else(|| std::io::Error::other("the name resolves to no address"))));
        };
        tcp.set_nodelay(true).ok();
        tcp.set_read_timeout(Some(HANDSHAKE_TIMEOUT)).map_err(err)?;
        tcp.set_write_timeout(Some(HANDSHAKE_TIMEOUT)).map_err(err)?;
        let peer = tcp.peer_addr().map_err(err)?;
        let stream: Box<dyn Stream> = match auth.fingerprint {
            Some(pin) => Box::new(Client::tls(endpoint, tcp.try_clone().map_err(err)?, pin)?),
            None => {
                if auth.token.is_some() {
                    plain_token_allowed(&[peer])?;
                }
                Box::new(tcp.try_clone().map_err(err)?)
            }
        };
        let mut c = Client {
            stream: BufReader::new(stream),
            next_id: 1,
            endpoint: endpoint.to_string(),
            tokenless_tcp: auth.token.is_none(),
        };
        if let Some(token) = &auth.token {
            c.authenticate(token)?;
        }
        // calls may run as long as the node works on them
        tcp.set_read_timeout(None).map_err(err)?;
        tcp.set_write_timeout(None).map_err(err)?;
        Ok(c)
    }

    fn unix(endpoint: &str) -> Result<Client> {
        let err = |source| ClientError::Connect { endpoint: endpoint.to_string(), source };
        let s = UnixStream::connect(endpoint).map_err(err)?;
        Ok(Client {
            stream: BufReader::new(Box::new(s)),
            next_id: 1,
            endpoint: endpoint.to_string(),
            tokenless_tcp: false,
        })
    }

    fn tls(
        endpoint: &str,
        mut tcp: TcpStream,
        pin: [u8; 32],
    ) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
        let tls_err = |message: String| ClientError::Tls { endpoint: endpoint.to_string(), message };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(PinnedCert { pin, provider: provider.clone() });
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| tls_err(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        // the name is not checked (the fingerprint is); it only fills SNI
        let name = rustls::pki_types::ServerName::try_from("localhost").map_err(|e| tls_err(e.to_string()))?;
        let mut conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| tls_err(e.to_string()))?;
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut tcp) {
                let message = match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
                    Some(rustls::Error::General(m)) => m.clone(),
                    Some(other) => other.to_string(),
                    None if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                        "the node closed the connection during the handshake (does it serve TLS? started with --rpc-tls?)".to_string()
                    }
                    None => e.to_string(),
                };
                return Err(tls_err(message));
            }
        }
        Ok(rustls::StreamOwned::new(conn, tcp))
    }

    /// The `auth` handshake: the token as the first request (id 0).
    fn authenticate(&mut self, token: &str) -> Result<()> {
        let mut line = jsonrpc::auth_request(token).to_string();
        line.push('\n');
        let w = self.stream.get_mut();
        w.write_all(line.as_bytes()).and_then(|()| w.flush())?;
        let mut buf = String::new();
        if self.stream.read_line(&mut buf)? == 0 {
            return Err(ClientError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the node closed the connection during the auth handshake (does it serve TLS? then give its \
                 fingerprint: ENIGMA_RPC_FINGERPRINT)",
            )));
        }
        let msg: Json = serde_json::from_str(&buf).map_err(|e| ClientError::Protocol(e.to_string()))?;
        if let Some(err) = msg.get("error") {
            return Err(ApiError::from_json(err).into());
        }
        match msg.get("result") {
            Some(Json::Bool(true)) => Ok(()),
            _ => Err(ClientError::Protocol(format!("unexpected answer to auth: {buf}"))),
        }
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
        let w = self.stream.get_mut();
        w.write_all(line.as_bytes())?;
        w.flush()?;
        loop {
            let mut buf = String::new();
            if self.stream.read_line(&mut buf)? == 0 {
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
                let mut e = ApiError::from_json(err);
                if e.code == ErrorCode::Unauthorized && self.tokenless_tcp {
                    e.message.push_str(
                        " (this client has no token: set ENIGMA_RPC_TOKEN, or ENIGMA_RPC_COOKIE to the node's \
                         <data-dir>/rpc.cookie)",
                    );
                }
                return Err(e.into());
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

    /// Stores any value (numbers at the default decimal scale, 6 decimals); returns its key.
    pub fn store(&mut self, value: &Value) -> Result<String> {
        self.store_with(value, StoreOpts::default())
    }

    /// Stores any value with the given storage scale and exactness; returns its key.
    pub fn store_with(&mut self, value: &Value, opts: StoreOpts) -> Result<String> {
        let mut params = match value {
            Value::Bytes(b) => {
                json!({"data": base64::engine::general_purpose::STANDARD.encode(b), "type": "bytes"})
            }
            Value::String(s) => json!({"data": s, "type": "string"}),
            Value::Json(j) => json!({"data": j, "type": "json"}),
            other => json!({"data": other.to_json()}),
        };
        opts.add_to(&mut params);
        string(self.call(method::STORE, params)?)
    }

    /// Stores a JSON value with the API's automatic typing (numbers and numeric arrays are computable).
    pub fn store_json(&mut self, data: Json) -> Result<String> {
        self.store_json_with(data, StoreOpts::default())
    }

    /// [`Client::store_json`] with the given storage scale and exactness.
    pub fn store_json_with(&mut self, data: Json, opts: StoreOpts) -> Result<String> {
        let mut params = json!({"data": data});
        opts.add_to(&mut params);
        string(self.call(method::STORE, params)?)
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

    /// The custody group this node's own lookup finds for `key` (whether or not it is stored):
    /// `{key, view, group: [peer ids], reached: [bool]}` (`reached[i]`: member i answered now).
    pub fn group(&mut self, key: &str) -> Result<Json> {
        self.call(method::GROUP, json!({"key": key}))
    }

    /// Stops a running computation by the op id its progress notifications carry; `false` if no
    /// such operation is running.
    pub fn cancel(&mut self, op: &str) -> Result<bool> {
        boolean(self.call(method::CANCEL, json!({"op": op}))?)
    }

    // ---- access control ----

    /// Grants `addresses` access (to all of the owner's keys, or only `keys`; `level` `load` or
    /// `compute`; a compute grant covers aggregates of at least `min_count` values, by default 5);
    /// returns the policy transaction id.
    pub fn pair(
        &mut self,
        addresses: &[&str],
        keys: Option<&[&str]>,
        level: Option<Level>,
        min_count: Option<u32>,
    ) -> Result<String> {
        let mut params = grant_params(addresses, keys, level);
        if let Some(n) = min_count {
            params["min_count"] = json!(n);
        }
        string(self.call(method::PAIR, params)?)
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

    /// numpy.cov of the 1-D or 2-D array under `key` (`rowvar`: rows are variables; numpy's
    /// defaults are `rowvar = true`, `ddof = 1`): a k × k array, or a float for a 1-D key.
    pub fn stats_cov(&mut self, key: &str, rowvar: bool, ddof: u32, opts: Compute<'_>) -> Result<Computed<Value>> {
        let r = self.compute(method::STATS_COV, json!({"key": key, "rowvar": rowvar, "ddof": ddof}), opts)?;
        computed(r, |j| Ok(api::value_from_json(&j)?))
    }

    /// numpy.corrcoef of the 1-D or 2-D array under `key` (a constant variable: `InvalidParams`).
    pub fn stats_corrcoef(&mut self, key: &str, rowvar: bool, opts: Compute<'_>) -> Result<Computed<Value>> {
        let r = self.compute(method::STATS_CORRCOEF, json!({"key": key, "rowvar": rowvar}), opts)?;
        computed(r, |j| Ok(api::value_from_json(&j)?))
    }

    /// scipy.stats.ttest_1samp(data, popmean, axis=None), two-sided. Stored: the key of the Float
    /// array [statistic, df] at the storage scale (the p-value is not stored).
    pub fn stats_ttest_1samp(&mut self, key: &str, popmean: f64, opts: Compute<'_>) -> Result<Computed<Ttest>> {
        let r = self.compute(method::STATS_TTEST_1SAMP, json!({"key": key, "popmean": popmean}), opts)?;
        computed(r, ttest)
    }

    /// scipy.stats.ttest_ind(a, b, equal_var, axis=None): pooled variance, or with
    /// `equal_var = false` Welch's test (Welch–Satterthwaite df). Stored: the key of [statistic, df]
    /// (for Welch's test too: its df is then computed inside the MPC).
    pub fn stats_ttest_ind(
        &mut self,
        key_a: &str,
        key_b: &str,
        equal_var: bool,
        opts: Compute<'_>,
    ) -> Result<Computed<Ttest>> {
        let params = json!({"key_a": key_a, "key_b": key_b, "equal_var": equal_var});
        let r = self.compute(method::STATS_TTEST_IND, params, opts)?;
        computed(r, ttest)
    }

    /// scipy.stats.ttest_rel(a, b, axis=None) (paired samples of the same length). Stored: the key
    /// of [statistic, df].
    pub fn stats_ttest_rel(&mut self, key_a: &str, key_b: &str, opts: Compute<'_>) -> Result<Computed<Ttest>> {
        let r = self.compute(method::STATS_TTEST_REL, json!({"key_a": key_a, "key_b": key_b}), opts)?;
        computed(r, ttest)
    }

    /// The coefficients of numpy.linalg.lstsq(X, y) for a 2-D X (N × k) and a 1-D y; with
    /// `intercept`, of lstsq([1, X], y) (the intercept first). Collinear predictors: `Singular`.
    pub fn stats_lstsq(
        &mut self,
        key_x: &str,
        key_y: &str,
        intercept: bool,
        opts: Compute<'_>,
    ) -> Result<Computed<Value>> {
        let params = json!({"key_x": key_x, "key_y": key_y, "intercept": intercept});
        let r = self.compute(method::STATS_LSTSQ, params, opts)?;
        computed(r, |j| Ok(api::value_from_json(&j)?))
    }

    /// `stats.lstsq(key_x, key_y, stats=True)`: the coefficients with statsmodels OLS's standard
    /// errors, t and two-sided p values per coefficient, R² and adjusted R² (uncentred R² without an
    /// intercept, as statsmodels), the intercept's first when there is one. Cannot be stored
    /// (`Unsupported`).
    pub fn stats_lstsq_stats(
        &mut self,
        key_x: &str,
        key_y: &str,
        intercept: bool,
        opts: Compute<'_>,
    ) -> Result<Computed<Ols>> {
        let params = json!({"key_x": key_x, "key_y": key_y, "intercept": intercept, "stats": true});
        let r = self.compute(method::STATS_LSTSQ, params, opts)?;
        computed(r, ols)
    }

    /// The counts of numpy.histogram over the flattened data of `keys` (an int array): `bins` is a
    /// number of equal bins over `range` (required: the data's min and max are secret) or the
    /// list of edges.
    pub fn stats_histogram(
        &mut self,
        keys: &[&str],
        bins: Bins,
        range: Option<(f64, f64)>,
        opts: Compute<'_>,
    ) -> Result<Computed<Value>> {
        let mut params = json!({"keys": keys});
        params["bins"] = match bins {
            Bins::Count(n) => json!(n),
            Bins::Edges(e) => json!(e),
        };
        if let Some((lo, hi)) = range {
            params["range"] = json!([lo, hi]);
        }
        let r = self.compute(method::STATS_HISTOGRAM, params, opts)?;
        computed(r, |j| Ok(api::value_from_json(&j)?))
    }

    /// numpy.median over the flattened data of all `keys` (a float; stored: its key).
    pub fn stats_median(&mut self, keys: &[&str], opts: Compute<'_>) -> Result<Computed<Value>> {
        let r = self.compute(method::STATS_MEDIAN, json!({"keys": keys}), opts)?;
        computed(r, |j| Ok(api::value_from_json(&j)?))
    }

    /// numpy.percentile (linear) over the flattened data of all `keys`: q in [0, 100], one (a
    /// float) or a list (an array).
    pub fn stats_percentile(&mut self, keys: &[&str], q: Quantiles, opts: Compute<'_>) -> Result<Computed<Value>> {
        let r = self.compute(method::STATS_PERCENTILE, json!({"keys": keys, "q": q.to_json()}), opts)?;
        computed(r, |j| Ok(api::value_from_json(&j)?))
    }

    /// numpy.quantile (linear) over the flattened data of all `keys`: q in [0, 1], one (a float)
    /// or a list (an array).
    pub fn stats_quantile(&mut self, keys: &[&str], q: Quantiles, opts: Compute<'_>) -> Result<Computed<Value>> {
        let r = self.compute(method::STATS_QUANTILE, json!({"keys": keys, "q": q.to_json()}), opts)?;
        computed(r, |j| Ok(api::value_from_json(&j)?))
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

/// The bins of [`Client::stats_histogram`]: a count of equal bins (over a range) or the edges.
#[derive(Clone, Debug, PartialEq)]
pub enum Bins {
    Count(u32),
    Edges(Vec<f64>),
}

/// The `q` of [`Client::stats_percentile`] / [`Client::stats_quantile`]: one (a 0-d result) or a list.
#[derive(Clone, Debug, PartialEq)]
pub enum Quantiles {
    One(f64),
    List(Vec<f64>),
}

impl Quantiles {
    fn to_json(&self) -> Json {
        match self {
            Quantiles::One(q) => json!(q),
            Quantiles::List(q) => json!(q),
        }
    }
}

/// scipy's TtestResult (two-sided). A statistic of 0/0 (constant data equal to the mean tested) is
/// NaN, as in scipy (JSON carries it as null).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ttest {
    pub statistic: f64,
    pub pvalue: f64,
    pub df: f64,
}

/// statsmodels' OLS results of `stats.lstsq(stats=True)`: per coefficient (the intercept first
/// when there is one) `params`, `bse`, `tvalues`, `pvalues`; then R², adjusted R² and the residual
/// degrees of freedom. NaN where undefined.
#[derive(Clone, Debug, PartialEq)]
pub struct Ols {
    pub params: Vec<f64>,
    pub bse: Vec<f64>,
    pub tvalues: Vec<f64>,
    pub pvalues: Vec<f64>,
    pub rsquared: f64,
    pub rsquared_adj: f64,
    pub df_resid: f64,
}

fn ols(j: Json) -> Result<Ols> {
    let bad = || ClientError::Protocol(format!("lstsq with stats returns an object of OLS results, got {j}"));
    let arr = |name: &str| -> Result<Vec<f64>> {
        let v: Vec<Option<f64>> = serde_json::from_value(j.get(name).cloned().ok_or_else(bad)?).map_err(|_| bad())?;
        Ok(v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
    };
    let num = |name: &str| -> Result<f64> {
        let v: Option<f64> = serde_json::from_value(j.get(name).cloned().ok_or_else(bad)?).map_err(|_| bad())?;
        Ok(v.unwrap_or(f64::NAN))
    };
    let o = Ols {
        params: arr("params")?,
        bse: arr("bse")?,
        tvalues: arr("tvalues")?,
        pvalues: arr("pvalues")?,
        rsquared: num("rsquared")?,
        rsquared_adj: num("rsquared_adj")?,
        df_resid: num("df_resid")?,
    };
    let p = o.params.len();
    if o.bse.len() != p || o.tvalues.len() != p || o.pvalues.len() != p {
        return Err(bad());
    }
    Ok(o)
}

fn ttest(j: Json) -> Result<Ttest> {
    let bad = || ClientError::Protocol(format!("a t-test returns [statistic, pvalue, df], got {j}"));
    let v: Vec<Option<f64>> = serde_json::from_value(j.clone()).map_err(|_| bad())?;
    match v[..] {
        [statistic, pvalue, Some(df)] => {
            Ok(Ttest { statistic: statistic.unwrap_or(f64::NAN), pvalue: pvalue.unwrap_or(f64::NAN), df })
        }
        _ => Err(bad()),
    }
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
            "status" | "ledger_tx" | "manifest" | "group" => json!({}),
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
        c.store_with(&Value::Float(0.5), StoreOpts { decimals: Some(9), binary: false, exact: true }).unwrap();
        assert_eq!(c.load(k).unwrap(), Value::Int(1));
        assert!(c.delete(k).unwrap());
        c.pair(&["1A"], Some(&[k]), Some(Level::Compute), Some(5)).unwrap();
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
        c.stats_cov(k, false, 0, Compute::stored()).unwrap();
        c.stats_corrcoef(k, true, Compute::stored()).unwrap();
        c.stats_ttest_1samp(k, 1.5, Compute::stored()).unwrap();
        c.stats_ttest_ind(k, k, true, Compute::stored()).unwrap();
        c.stats_ttest_rel(k, k, Compute::stored()).unwrap();
        c.stats_lstsq(k, k, true, Compute::stored()).unwrap();
        // the canned reply is not an OLS table; the call's parameters are what is checked here
        let _ = c.stats_lstsq_stats(k, k, true, Compute::default());
        c.stats_histogram(&[k], Bins::Count(4), Some((0.0, 1.0)), Compute::stored()).unwrap();
        c.stats_median(&[k], Compute::stored()).unwrap();
        c.stats_percentile(&[k], Quantiles::List(vec![25.0, 75.0]), Compute::stored()).unwrap();
        c.stats_quantile(&[k], Quantiles::One(0.5), Compute::stored()).unwrap();
        c.peers().unwrap();
        c.status().unwrap();
        c.manifest(k).unwrap();
        assert!(c.cancel("op").unwrap());
        c.custody_keys().unwrap();
        c.group(k).unwrap();
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

    #[test]
    fn a_token_goes_in_the_clear_only_to_loopback() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(plain_token_allowed(&[a("127.0.0.1:7000"), a("[::1]:7000"), a("127.3.4.5:1")]).is_ok());
        assert!(plain_token_allowed(&[a("[::ffff:127.0.0.1]:7000")]).is_ok());
        let e = plain_token_allowed(&[a("127.0.0.1:7000"), a("192.0.2.1:7000")]).unwrap_err().to_string();
        assert!(e.contains("refusing to send the token in the clear to 192.0.2.1:7000"), "{e}");
        // nothing is sent: the check comes before connecting
        let auth = TcpAuth::token("t".repeat(64));
        assert!(matches!(Client::connect_with("192.0.2.1:7000", &auth), Err(ClientError::Credential(_))));
    }

    #[test]
    fn credentials_from_arguments() {
        let dir = std::env::temp_dir().join(format!("enigma-client-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cookie = dir.join("c");
        std::fs::write(&cookie, "abc123\n").unwrap();
        let fp = "ab".repeat(32);
        let auth = TcpAuth::resolve(Some(&cookie), Some(&fp)).unwrap();
        assert_eq!(auth.token.as_deref(), Some("abc123"));
        assert_eq!(auth.fingerprint, Some([0xab; 32]));
        assert!(!format!("{auth:?}").contains("abc123"), "Debug hides the token");
        assert!(matches!(TcpAuth::resolve(Some(&dir.join("none")), None), Err(ClientError::Credential(_))));
        assert!(matches!(TcpAuth::resolve(Some(&cookie), Some("xyz")), Err(ClientError::Credential(_))));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
