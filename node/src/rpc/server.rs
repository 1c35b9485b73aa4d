//! The client socket: JSON-RPC 2.0, one JSON object per line, over a Unix socket (mode 0600) and
//! optionally TCP.
//!
//! Owns: listening, per-connection reading with a size limit, request handling (parse error,
//! invalid request, batches, notifications — parsed by `enigma_protocol::jsonrpc`), concurrent
//! calls per connection with responses written as they finish, progress notifications, the
//! socket's limits ([`RpcLimits`]: connections, calls in flight, queued replies), and the gate of a
//! TCP connection ([`TcpGate`]: TLS handshake, then the `auth` handshake, within
//! [`HANDSHAKE_TIMEOUT`] and [`jsonrpc::MAX_AUTH_LINE`]). The Unix socket has no handshake: its file
//! mode (0600) is its access control. Must never: run a method for a TCP connection that has not
//! shown the token, let one bad request affect another, or let a client make the node hold
//! unbounded input, calls or replies.

use super::dispatch::{CallCtx, RpcCtx, dispatch};
use enigma_actors::cancel::Cancel;
use enigma_protocol::api::{ApiError, ErrorCode, method};
use enigma_protocol::credential::TokenDigest;
use enigma_protocol::jsonrpc::{self, Line, Request, RequestError, error_response};
use rand::Rng;
use serde_json::{Value as Json, json};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream, UnixListener};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

/// How long a TCP client has, from connecting, to finish the TLS handshake and authenticate.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a TCP connection goes through before its first call.
pub struct TcpGate {
    /// The token it must show first (`None`: `--rpc-no-auth`, loopback only).
    pub token: Option<TokenDigest>,
    /// TLS (`None`: plain TCP, loopback only).
    pub tls: Option<TlsAcceptor>,
}

/// Limits of the client socket.
#[derive(Clone, Debug)]
pub struct RpcLimits {
    /// Longest request line.
    pub max_request_bytes: usize,
    /// Client connections open at once (Unix socket and TCP together): the permits.
    pub connections: Arc<Semaphore>,
    /// Calls of one connection running at once; past it the connection is not read (back-pressure).
    pub max_in_flight: usize,
    /// Replies and notifications waiting for a slow reader; past it calls wait and progress
    /// notifications are dropped.
    pub max_queued_replies: usize,
}

impl RpcLimits {
    pub const MAX_CONNECTIONS: usize = 512;

    pub fn new(max_request_bytes: usize) -> RpcLimits {
        RpcLimits {
            max_request_bytes,
            connections: Arc::new(Semaphore::new(Self::MAX_CONNECTIONS)),
            max_in_flight: 64,
            max_queued_replies: 1024,
        }
    }
}

/// Starts serving one accepted Unix-socket connection, or refuses it with a `busy` error when the
/// node already has as many client connections as it allows.
fn accept<R, W>(r: R, w: W, ctx: &RpcCtx, limits: &RpcLimits)
where
    R: AsyncRead + Unpin + 'static,
    W: AsyncWrite + Unpin + 'static,
{
    match limits.connections.clone().try_acquire_owned() {
        Ok(permit) => {
            let (ctx, limits) = (ctx.clone(), limits.clone());
            actix_rt::spawn(async move {
                connection(BufReader::with_capacity(1 << 16, r), w, ctx, limits).await;
                drop(permit);
            });
        }
        Err(_) => {
            actix_rt::spawn(refuse_busy(w));
        }
    }
}

/// Answers a connection over the limit with a `busy` error and closes it.
async fn refuse_busy<W: AsyncWrite + Unpin>(w: W) {
    tracing::warn!(limit = RpcLimits::MAX_CONNECTIONS, "client connection refused: too many open");
    let e = ApiError::new(
        ErrorCode::Busy,
        format!("too many client connections (the limit is {})", RpcLimits::MAX_CONNECTIONS),
    );
    refuse(w, error_response(Json::Null, &e)).await;
}

/// Writes one last line (within 5 s) and closes the connection.
async fn refuse<W: AsyncWrite + Unpin>(mut w: W, msg: Json) {
    let line = format!("{msg}\n");
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = w.write_all(line.as_bytes()).await;
        let _ = w.shutdown().await;
    })
    .await;
}

/// Binds the Unix socket (replacing a stale one) with mode 0600.
pub fn bind_unix(path: &Path) -> std::io::Result<UnixListener> {
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    let l = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(l)
}

pub async fn serve_unix(listener: UnixListener, ctx: RpcCtx, limits: RpcLimits) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let (r, w) = stream.into_split();
                accept(r, w, &ctx, &limits);
            }
            Err(e) => {
                tracing::warn!(error = %e, "client socket accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

pub async fn serve_tcp(listener: TcpListener, ctx: RpcCtx, limits: RpcLimits, gate: Arc<TcpGate>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tracing::debug!(%peer, "client connected over TCP");
                let _ = stream.set_nodelay(true);
                // the permit is taken first: a connection still in its handshake counts against the limit
                let permit = limits.connections.clone().try_acquire_owned().ok();
                let (ctx, limits, gate) = (ctx.clone(), limits.clone(), gate.clone());
                actix_rt::spawn(tcp_connection(stream, peer, permit, ctx, limits, gate));
            }
            Err(e) => {
                tracing::warn!(error = %e, "client TCP accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

/// One TCP connection: TLS (when on), then the `auth` handshake (unless `--rpc-no-auth`), then calls.
async fn tcp_connection(
    stream: TcpStream,
    peer: SocketAddr,
    permit: Option<OwnedSemaphorePermit>,
    ctx: RpcCtx,
    limits: RpcLimits,
    gate: Arc<TcpGate>,
) {
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    let Some(acceptor) = gate.tls.clone() else {
        let (r, w) = stream.into_split();
        return gated(r, w, peer, permit, ctx, limits, gate, deadline).await;
    };
    if permit.is_none() {
        // no TLS handshake (and its signature) for a connection that cannot be served
        tracing::warn!(%peer, limit = RpcLimits::MAX_CONNECTIONS, "client connection refused: too many open");
        return;
    }
    // a client speaking plain JSON-RPC to the TLS port gets a plain answer saying what is wrong
    let mut first = [0u8; 1];
    match tokio::time::timeout_at(deadline, stream.peek(&mut first)).await {
        Ok(Ok(1)) if matches!(first[0], b'{' | b'[') => {
            tracing::warn!(%peer, "client refused: plain JSON-RPC on the TLS client API");
            let e = ApiError::new(
                ErrorCode::Unauthorized,
                "unauthorized: this client API speaks TLS: connect with TLS, pinning the certificate \
                 fingerprint the node prints at start (ENIGMA_RPC_FINGERPRINT)",
            );
            return refuse(stream, error_response(Json::Null, &e)).await;
        }
        Ok(Ok(1)) => {}
        _ => return,
    }
    match tokio::time::timeout_at(deadline, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => {
            let (r, w) = tokio::io::split(tls);
            gated(r, w, peer, permit, ctx, limits, gate, deadline).await
        }
        Ok(Err(e)) => tracing::warn!(%peer, error = %e, "client refused: TLS handshake failed"),
        Err(_) => tracing::warn!(%peer, "client refused: no TLS handshake within the deadline"),
    }
}

/// After TLS: checks the connection limit and the token, then serves calls.
#[allow(clippy::too_many_arguments)]
async fn gated<R, W>(
    r: R,
    mut w: W,
    peer: SocketAddr,
    permit: Option<OwnedSemaphorePermit>,
    ctx: RpcCtx,
    limits: RpcLimits,
    gate: Arc<TcpGate>,
    deadline: Instant,
) where
    R: AsyncRead + Unpin + 'static,
    W: AsyncWrite + Unpin + 'static,
{
    let Some(permit) = permit else { return refuse_busy(w).await };
    let mut reader = BufReader::with_capacity(1 << 16, r);
    if let Some(token) = &gate.token {
        let refused = match tokio::time::timeout_at(deadline, authenticate(&mut reader, token)).await {
            Ok(Ok(id)) => {
                let ok = format!("{}\n", jsonrpc::result_response(id, json!(true)));
                if w.write_all(ok.as_bytes()).await.is_err() || w.flush().await.is_err() {
                    return;
                }
                None
            }
            Ok(Err(Some(e))) => Some(e),
            Ok(Err(None)) => return, // closed, or not JSON-RPC at all (e.g. a TLS client on the plain port)
            Err(_) => Some(RequestError {
                id: Json::Null,
                error: ApiError::new(
                    ErrorCode::Unauthorized,
                    format!("unauthorized: no auth request within {}s of connecting", HANDSHAKE_TIMEOUT.as_secs()),
                ),
            }),
        };
        if let Some(e) = refused {
            tracing::warn!(%peer, reason = %e.error.message, "client refused");
            return refuse(w, e.response()).await;
        }
        tracing::debug!(%peer, "client authenticated");
    }
    connection(reader, w, ctx, limits).await;
    drop(permit);
}

/// Reads and checks the first line of a TCP connection. `Err(None)`: close without an answer.
async fn authenticate<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    token: &TokenDigest,
) -> Result<Json, Option<RequestError>> {
    const TLS_HANDSHAKE: u8 = 0x16;
    if reader.fill_buf().await.map_err(|_| None)?.first() == Some(&TLS_HANDSHAKE) {
        tracing::warn!("client refused: a TLS handshake on the plain client API (start the node with --rpc-tls)");
        return Err(None);
    }
    let mut buf = Vec::new();
    match read_line_limited(reader, &mut buf, jsonrpc::MAX_AUTH_LINE).await {
        Ok(0) | Err(LineError::Io) => return Err(None),
        Ok(_) => {}
        Err(LineError::TooLong) => {
            return Err(Some(RequestError {
                id: Json::Null,
                error: ApiError::new(
                    ErrorCode::Unauthorized,
                    format!("unauthorized: the auth request is longer than {} bytes", jsonrpc::MAX_AUTH_LINE),
                ),
            }));
        }
    }
    let req = jsonrpc::parse_auth(&buf).map_err(Some)?;
    if !token.matches(&req.token) {
        return Err(Some(RequestError {
            id: req.id,
            error: ApiError::new(ErrorCode::Unauthorized, "unauthorized: wrong token"),
        }));
    }
    Ok(req.id)
}

/// Writes a connection's replies, one JSON line each, in the order they are queued, until the queue
/// closes or the client goes away. Each reply is flushed: TLS keeps what the socket did not take in
/// its own buffer (a large reply to a slow reader), and without a flush the reply's tail would wait
/// there for the next write — for ever, when the client is waiting for this very reply.
async fn write_replies<W: AsyncWrite + Unpin>(mut w: W, mut replies: mpsc::Receiver<Json>) {
    while let Some(msg) = replies.recv().await {
        let mut line = msg.to_string();
        line.push('\n');
        if w.write_all(line.as_bytes()).await.is_err() || w.flush().await.is_err() {
            break;
        }
    }
}

async fn connection<R, W>(mut reader: BufReader<R>, w: W, ctx: RpcCtx, limits: RpcLimits)
where
    R: AsyncRead + Unpin + 'static,
    W: AsyncWrite + Unpin + 'static,
{
    let (out_tx, out_rx) = mpsc::channel::<Json>(limits.max_queued_replies);
    let in_flight = Arc::new(Semaphore::new(limits.max_in_flight));
    let writer = actix_rt::spawn(write_replies(w, out_rx));
    let ctx = Arc::new(ctx);
    // closing the connection cancels what it asked for
    let conn_cancel = Cancel::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match read_line_limited(&mut reader, &mut buf, limits.max_request_bytes).await {
            Ok(0) => break,
            Ok(_) => {}
            Err(LineError::TooLong) => {
                let e = ApiError::new(
                    ErrorCode::TooLarge,
                    format!("request too large: the limit is {} bytes", limits.max_request_bytes),
                );
                let _ = out_tx.send(error_response(Json::Null, &e)).await;
                break; // the rest of the line cannot be resynchronised
            }
            Err(LineError::Io) => break,
        }
        let parsed = jsonrpc::parse_line(&buf);
        let out = out_tx.clone();
        let ctx = ctx.clone();
        match parsed {
            Line::Blank => continue,
            Line::ParseError(resp) => {
                if out.send(resp).await.is_err() {
                    break;
                }
            }
            // back-pressure: with too many calls running, this connection is not read until one ends
            Line::Batch(batch) => {
                let Ok(permit) = in_flight.clone().acquire_owned().await else { break };
                let conn_cancel = conn_cancel.clone();
                actix_rt::spawn(async move {
                    let mut replies = Vec::new();
                    for item in batch {
                        if let Some(r) = call(&ctx, item, &out, &conn_cancel).await {
                            replies.push(r);
                        }
                    }
                    if !replies.is_empty() {
                        let _ = out.send(Json::Array(replies)).await;
                    }
                    drop(permit);
                });
            }
            Line::Single(msg) => {
                let Ok(permit) = in_flight.clone().acquire_owned().await else { break };
                let conn_cancel = conn_cancel.clone();
                actix_rt::spawn(async move {
                    if let Some(r) = call(&ctx, msg, &out, &conn_cancel).await {
                        let _ = out.send(r).await;
                    }
                    drop(permit);
                });
            }
        }
    }
    conn_cancel.cancel();
    drop(out_tx);
    let _ = writer.await;
}

/// Validates and runs one request object. `None` for notifications (no id).
async fn call(ctx: &RpcCtx, msg: Json, out: &mpsc::Sender<Json>, conn_cancel: &Cancel) -> Option<Json> {
    let Request { id, method, params, progress: want_progress, timing } = match jsonrpc::parse_request(msg) {
        Ok(r) => r,
        Err(e) => return Some(e.response()),
    };
    let id_json = id.clone().unwrap_or(Json::Null);
    // `auth` where no (more) credential is needed: the Unix socket, --rpc-no-auth, or after the handshake
    if method == method::AUTH {
        return id.map(|id| jsonrpc::result_response(id, json!(true)));
    }

    // a long operation gets an op id (in its progress notifications; `cancel` takes it)
    let mut op_bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut op_bytes);
    let op = hex::encode(op_bytes);
    let cancel = Cancel::new();
    if let Ok(mut ops) = ctx.ops.lock() {
        ops.insert(op.clone(), cancel.clone());
    }
    let progress = want_progress.then(|| {
        let (tx, mut rx) = mpsc::unbounded_channel::<enigma_actors::front::compute::ProgressUpdate>();
        let out = out.clone();
        let (op, id) = (op.clone(), id_json.clone());
        actix_rt::spawn(async move {
            while let Some(p) = rx.recv().await {
                let note = json!({"jsonrpc": "2.0", "method": "progress",
                    "params": {"id": id, "op": op, "done": p.done, "total": p.total, "stage": p.stage}});
                // a reader too slow for its notifications loses some (the reply is never lost)
                if let Err(mpsc::error::TrySendError::Closed(_)) = out.try_send(note) {
                    break;
                }
            }
        });
        tx
    });
    let started = std::time::Instant::now();
    let work = dispatch(ctx, &method, params, CallCtx { cancel: cancel.clone(), progress, timing });
    let result = tokio::select! {
        r = work => r,
        _ = conn_cancel.cancelled() => {
            cancel.cancel();
            Err(ApiError::new(ErrorCode::Cancelled, "the client went away"))
        }
    };
    if let Ok(mut ops) = ctx.ops.lock() {
        ops.remove(&op);
    }
    tracing::debug!(%method, ms = started.elapsed().as_millis() as u64, ok = result.is_ok(), "call");
    id.as_ref()?;
    Some(match result {
        Ok(r) => jsonrpc::result_response(id_json, r),
        Err(e) => error_response(id_json, &e),
    })
}

enum LineError {
    TooLong,
    Io,
}

async fn read_line_limited<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
    out: &mut Vec<u8>,
    max: usize,
) -> Result<usize, LineError> {
    loop {
        let chunk = r.fill_buf().await.map_err(|_| LineError::Io)?;
        if chunk.is_empty() {
            return Ok(out.len());
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if out.len() + take > max + 1 {
            return Err(LineError::TooLong);
        }
        out.extend_from_slice(&chunk[..take]);
        r.consume(take);
        if done {
            return Ok(out.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// A large reply over TLS through a pipe that holds 8 KiB (a slow reader): the client gets all
    /// of it while the writer waits for the next reply. Without the flush in [`write_replies`] the
    /// last TLS records stay in the server's buffer (the pipe was full when they were made) and the
    /// client waits for ever.
    #[tokio::test]
    async fn a_large_tls_reply_reaches_a_slow_reader_whole() {
        let dir = tempfile::tempdir().unwrap();
        let server = super::super::tls::load_or_create(dir.path()).unwrap();
        use rustls::pki_types::pem::PemObject;
        let cert = rustls::pki_types::CertificateDer::from_pem_file(dir.path().join(super::super::tls::CERT_FILE));
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.unwrap()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let (client_io, server_io) = tokio::io::duplex(8 << 10);
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let (client, accepted) = tokio::join!(connector.connect(name, client_io), server.acceptor.accept(server_io));
        let (mut client, accepted) = (client.unwrap(), accepted.unwrap());
        let (_server_read, server_write) = tokio::io::split(accepted);
        let (tx, rx) = mpsc::channel(4);
        let writer = tokio::spawn(write_replies(server_write, rx));
        let reply = json!({ "result": "x".repeat(1 << 20) });
        tx.send(reply.clone()).await.unwrap();
        let mut got = Vec::new();
        let mut buf = vec![0u8; 4 << 10];
        let read = async {
            while !got.ends_with(b"\n") {
                let n = client.read(&mut buf).await.unwrap();
                assert!(n > 0, "the server closed the connection");
                got.extend_from_slice(&buf[..n]);
            }
        };
        tokio::time::timeout(Duration::from_secs(20), read).await.expect("the whole reply within 20 s");
        assert_eq!(serde_json::from_slice::<Json>(&got).unwrap(), reply);
        drop(tx);
        tokio::time::timeout(Duration::from_secs(5), writer).await.unwrap().unwrap();
    }
}
