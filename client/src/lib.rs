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

#[cfg(test)]
mod tests {
    use super::*;

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
