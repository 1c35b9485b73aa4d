//! The `--dashboard`/`--metrics ADDR` listener: an axum router for `/` (the status page), `/metrics`
//! (Prometheus) and `/healthz`, and who may read them (docs/decisions.md, "Dashboard token").
//!
//! Owns: the routes, the token check ([`Gate`]), the login cookie and the connection bounds. On loopback the listener
//! needs no token (like the Unix socket, anyone who can reach it is on this machine); off loopback
//! every route but `/healthz` needs the node's client credential (the TCP client API's token: the
//! cookie in `<data-dir>/rpc.cookie` or `--rpc-token-file`), shown as `Authorization: Bearer …`,
//! as `?token=…` (which a browser trades for an HttpOnly cookie and a redirect to the bare URL), or
//! as that cookie. With `--dashboard-tls` it is HTTPS, with the certificate of `--rpc-tls`. Must never: serve data without the token off loopback, log or echo a token,
//! compare tokens other than in constant time ([`TokenDigest`]), or hold a connection without bound.

use crate::metrics::{self, Sources};
use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use enigma_protocol::credential::TokenDigest;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// The cookie a browser keeps after `/?token=…`.
pub const COOKIE: &str = "enigma_token";

/// How long the page or a scrape may take to build before the listener answers 503.
const BUILD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a connection stays open, keep-alive included.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);
/// Connections served at once.
const MAX_CONNECTIONS: usize = 64;

/// Who may read the listener's routes (other than `/healthz`).
#[derive(Clone)]
pub struct Gate {
    /// `None`: no token (loopback only, [`needs_token`]).
    pub token: Option<TokenDigest>,
}

/// Whether a listener on `addr` must ask for the token.
pub fn needs_token(addr: SocketAddr) -> bool {
    !addr.ip().to_canonical().is_loopback()
}

#[derive(Clone)]
struct App {
    src: Sources,
    gate: Arc<Gate>,
}

pub fn router(src: Sources, gate: Gate) -> Router {
    let app = App { src, gate: Arc::new(gate) };
    Router::new()
        .route("/", get(page))
        .route("/metrics", get(scrape))
        .route_layer(middleware::from_fn_with_state(app.clone(), authorize))
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found: /, /metrics, /healthz\n") })
        .layer(middleware::map_response(no_store))
        .with_state(app)
}

/// Serves the routes on `listener` (over TLS with `tls`): HTTP/1.1, at most [`MAX_CONNECTIONS`] at
/// once (more are closed at once), each bounded in time ([`HEADER_TIMEOUT`] for the TLS handshake and
/// for a request head, [`CONNECTION_TIMEOUT`] in all).
pub async fn serve(listener: TcpListener, src: Sources, gate: Gate, tls: Option<TlsAcceptor>) {
    let app = router(src, gate);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "dashboard accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!("dashboard: too many connections, closing one");
            continue;
        };
        let app = app.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let served = tokio::time::timeout(CONNECTION_TIMEOUT, async move {
                match tls {
                    None => serve_connection(stream, app).await,
                    Some(acceptor) => match tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls_stream)) => serve_connection(tls_stream, app).await,
                        Ok(Err(e)) => tracing::debug!(error = %e, "dashboard TLS handshake"),
                        Err(_) => tracing::debug!("dashboard TLS handshake timed out"),
                    },
                }
            });
            if served.await.is_err() {
                tracing::debug!("dashboard connection closed after {CONNECTION_TIMEOUT:?}");
            }
            drop(slot);
        });
    }
}

async fn serve_connection<T>(io: T, app: Router)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper_util::service::TowerToHyperService::new(app);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT);
    if let Err(e) = http.serve_connection(hyper_util::rt::TokioIo::new(io), service).await {
        tracing::debug!(error = %e, "dashboard connection");
    }
}

async fn no_store(mut r: Response) -> Response {
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The token a request shows, if any: the bearer header, then `?token=`, then the cookie.
fn offered(headers: &HeaderMap, uri: &Uri) -> (Option<String>, bool) {
    if let Some(v) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
        && let Some(t) = v.strip_prefix("Bearer ")
    {
        return (Some(t.trim().to_string()), false);
    }
    if let Some(t) = Query::<HashMap<String, String>>::try_from_uri(uri).ok().and_then(|q| q.0.get("token").cloned()) {
        return (Some(t), true);
    }
    for v in headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()) {
        for part in v.split(';') {
            if let Some((k, t)) = part.trim().split_once('=')
                && k == COOKIE
            {
                return (Some(t.to_string()), false);
            }
        }
    }
    (None, false)
}

async fn authorize(State(app): State<App>, req: Request, next: Next) -> Response {
    let Some(token) = &app.gate.token else {
        return next.run(req).await;
    };
    let (shown, in_query) = offered(req.headers(), req.uri());
    match shown {
        Some(t) if token.matches(&t) => {
            if in_query && req.uri().path() == "/" {
                // trade the token in the URL (and so in the history) for a cookie
                let cookie = format!("{COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict");
                let mut r = Redirect::to("/").into_response();
                if let Ok(v) = HeaderValue::from_str(&cookie) {
                    r.headers_mut().insert(header::SET_COOKIE, v);
                }
                return r;
            }
            next.run(req).await
        }
        Some(_) => unauthorized("wrong token"),
        None => unauthorized("this listener is off loopback: show the node's client API token"),
    }
}

fn unauthorized(why: &str) -> Response {
    let body = format!(
        "401 unauthorized: {why} (Authorization: Bearer TOKEN, or /?token=TOKEN in a browser; the token is \
         <data-dir>/rpc.cookie or --rpc-token-file)\n"
    );
    let mut r = (StatusCode::UNAUTHORIZED, body).into_response();
    r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"enigma\""));
    r
}

async fn page(State(app): State<App>) -> Response {
    match tokio::time::timeout(BUILD_TIMEOUT, metrics::page(&app.src)).await {
        Ok(html) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "the node did not answer in time\n").into_response(),
    }
}

async fn scrape(State(app): State<App>) -> Response {
    match tokio::time::timeout(BUILD_TIMEOUT, metrics::exposition(&app.src)).await {
        Ok(text) => ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text)
            .into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "the node did not answer in time\n").into_response(),
    }
}
