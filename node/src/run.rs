//! Running one node: command line → configuration → actors → client socket, until a signal stops it.
//!
//! Owns: the meaning of `enigma 6655` and `enigma <seed-ip|seed-name> 6655` (DESIGN §6), the data directory
//! layout seen from outside (`enigma.sock`, `node.json` with the peer id, addresses and the client
//! API's certificate fingerprint), which TCP client API setups are allowed ([`RpcTcp::from_args`]:
//! a token unless `--rpc-no-auth` on loopback, TLS off loopback), logging setup and shutdown. Must
//! never: hold node logic (that is the actors), or serve a credential in the clear off loopback.

use crate::cli::RunArgs;
use crate::rpc::dispatch::RpcCtx;
use crate::rpc::server::{self, RpcLimits, TcpGate};
use crate::rpc::{credential, tls};
use anyhow::{Context, bail};
use enigma_actors::network::GetView;
use enigma_actors::system::{self, NodeConfig};
use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The standard port.
pub const DEFAULT_PORT: u16 = 6655;
pub const SOCKET_FILE: &str = "enigma.sock";
pub const INFO_FILE: &str = "node.json";

pub fn init_logging(filter: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false).try_init();
}

/// The seed as given: an IP address or a host name ([`crate::resolve`]), and its port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    pub host: String,
    pub port: u16,
}

/// Seed (if joining) and own port from the positional arguments.
pub fn parse_positional(args: &RunArgs) -> anyhow::Result<(Option<Seed>, u16)> {
    let parse_port = |s: &str| -> anyhow::Result<u16> {
        s.parse::<u16>().with_context(|| format!("{s:?} is not a port number (1-65535)"))
    };
    let parse_host = |s: &str| -> anyhow::Result<String> {
        let name_ok = !s.is_empty()
            && s.len() <= 253
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        if s.parse::<IpAddr>().is_ok() || name_ok {
            return Ok(s.to_string());
        }
        bail!("{s:?} is neither an IP address nor a host name (usage: enigma SEED_HOST 6655)")
    };
    Ok(match (&args.first, &args.second) {
        (None, _) => (None, args.port.unwrap_or(DEFAULT_PORT)),
        (Some(one), None) => {
            if one.parse::<IpAddr>().is_ok() || one.parse::<u16>().is_err() && parse_host(one).is_ok() {
                bail!("missing the seed's PORT after {one} (usage: enigma {one} 6655)");
            }
            (None, args.port.unwrap_or(parse_port(one)?))
        }
        (Some(host), Some(port)) => {
            let seed = Seed { host: parse_host(host)?, port: parse_port(port)? };
            let own = match args.port {
                Some(p) => p,
                None if port_free(args.listen_ip, seed.port) => seed.port,
                None => 0,
            };
            (Some(seed), own)
        }
    })
}

fn port_free(ip: IpAddr, port: u16) -> bool {
    TcpListener::bind((ip, port)).is_ok()
}

fn multiaddr(ip: IpAddr, port: u16) -> Multiaddr {
    let mut a = Multiaddr::empty();
    a.push(match ip {
        IpAddr::V4(v4) => Protocol::Ip4(v4),
        IpAddr::V6(v6) => Protocol::Ip6(v6),
    });
    a.push(Protocol::Tcp(port));
    a
}

/// `~/.enigma` (or `$ENIGMA_HOME`).
pub fn default_data_dir() -> PathBuf {
    enigma_client::enigma_home()
}

pub fn run(args: RunArgs) -> anyhow::Result<()> {
    init_logging(&args.log);
    let (seed, port) = parse_positional(&args)?;
    let data_dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
    let mut cfg = NodeConfig::new(data_dir.clone(), multiaddr(args.listen_ip, port));
    if let Some(seed) = &seed {
        let ip = crate::resolve::seed_ip(&seed.host)?;
        cfg.seed = Some(multiaddr(ip, seed.port));
    }
    cfg.group_size = args.group_size;
    cfg.mpc_security = args.mpc_security;
    cfg.max_value_bytes = args.max_value_bytes;
    cfg.request_timeout = Duration::from_secs(args.request_timeout.max(1));
    cfg.wan = args.emulate_rtt_ms;
    cfg.repair_grace = Duration::from_secs(args.repair_grace_secs.max(1));
    cfg.refresh_every = (args.refresh_interval_secs > 0).then(|| Duration::from_secs(args.refresh_interval_secs));
    cfg.pending_grace = Duration::from_millis(args.pending_grace_ms.max(100));
    if let Some(path) = &args.keystore_pass_file {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read --keystore-pass-file {}", path.display()))?;
        let pass = enigma_actors::keystore::seal::Passphrase::from_file_bytes(bytes)
            .with_context(|| format!("--keystore-pass-file {}", path.display()))?;
        cfg.keystore_pass = Some(std::sync::Arc::new(pass));
    }
    if let (Some(url), Some(auth)) = (&args.bitcoin_rpc, &args.bitcoin_rpc_auth_file) {
        let rpc = enigma_actors::ledger::backend::CoreRpc::new(url, auth)?;
        cfg.ledger_backend = enigma_actors::ledger::backend::Backend::BitcoinCore(rpc);
    }
    let rpc_tcp = RpcTcp::from_args(&args)?;
    let dashboard = Dashboard::from_args(&args, rpc_tcp.as_ref())?;
    let sys = actix_rt::System::new();

    sys.block_on(async move { serve(cfg, rpc_tcp, dashboard).await })
}

/// The `--dashboard`/`--metrics` listener as the command line asks for it, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    pub addr: SocketAddr,
    /// HTTPS with the node's certificate (`--dashboard-tls`).
    pub tls: bool,
    /// Off loopback: where its token comes from (the TCP client API's credential); `None` on loopback.
    pub auth: Option<RpcAuth>,
}

impl Dashboard {
    /// `None` without `--dashboard`; an error for a listener off loopback with no credential to ask for.
    pub fn from_args(args: &RunArgs, rpc: Option<&RpcTcp>) -> anyhow::Result<Option<Dashboard>> {
        let Some(addr) = args.metrics else { return Ok(None) };
        if !crate::http::needs_token(addr) {
            return Ok(Some(Dashboard { addr, tls: args.dashboard_tls, auth: None }));
        }
        let auth = match rpc.map(|r| &r.auth) {
            Some(RpcAuth::None) => bail!(
                "--dashboard {addr} is off loopback, so it asks for the node's client API token, and \
                 --rpc-no-auth leaves the node without one: drop --rpc-no-auth, or use a loopback address \
                 such as 127.0.0.1:{}",
                addr.port()
            ),
            Some(a) => a.clone(),
            None => match &args.rpc_token_file {
                Some(f) => RpcAuth::TokenFile(f.clone()),
                None => RpcAuth::Cookie,
            },
        };
        Ok(Some(Dashboard { addr, tls: args.dashboard_tls, auth: Some(auth) }))
    }
}

/// The TCP client API as the command line asks for it, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcTcp {
    pub addr: SocketAddr,
    pub tls: bool,
    pub auth: RpcAuth,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RpcAuth {
    /// A new cookie in `<data-dir>/rpc.cookie` at every start (the default).
    Cookie,
    /// The token in this file (`--rpc-token-file`).
    TokenFile(PathBuf),
    /// No token (`--rpc-no-auth`, loopback only).
    None,
}

impl RpcAuth {
    fn name(&self) -> &'static str {
        match self {
            RpcAuth::Cookie => "cookie",
            RpcAuth::TokenFile(_) => "token-file",
            RpcAuth::None => "none",
        }
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

impl RpcTcp {
    /// `None` without `--rpc`; an error for a setup that would let the credential (or no credential)
    /// reach the network.
    pub fn from_args(args: &RunArgs) -> anyhow::Result<Option<RpcTcp>> {
        let Some(addr) = args.rpc else {
            if args.rpc_token_file.is_some() && !args.metrics.is_some_and(crate::http::needs_token) {
                bail!(
                    "--rpc-token-file needs --rpc ADDR or a --dashboard off loopback (the Unix socket needs \
                     no token)"
                );
            }
            return Ok(None);
        };
        let loopback = is_loopback(addr.ip());
        let auth = match (&args.rpc_token_file, args.rpc_no_auth) {
            (Some(_), true) => bail!("--rpc-no-auth and --rpc-token-file exclude each other"),
            (Some(f), false) => RpcAuth::TokenFile(f.clone()),
            (None, true) if !loopback => bail!(
                "--rpc-no-auth is allowed only on a loopback address (127.0.0.0/8 or ::1), not {addr}: \
                 anyone who can connect would act with this node's identity"
            ),
            (None, true) => RpcAuth::None,
            (None, false) => RpcAuth::Cookie,
        };
        if !loopback && !args.rpc_tls {
            bail!(
                "refusing to serve the client API on {addr} without TLS: the token would cross the network \
                 in the clear. Add --rpc-tls (clients then pin the certificate fingerprint the node prints), \
                 or use a loopback address such as 127.0.0.1:{}",
                addr.port()
            );
        }
        Ok(Some(RpcTcp { addr, tls: args.rpc_tls, auth }))
    }
}

/// What the TCP client API serves with, once its files are in place.
struct RpcTcpReady {
    gate: TcpGate,
    fingerprint: Option<String>,
}

/// Writes or reads the credential and the TLS identity (before the node starts, so a bad setup stops it
/// at once).
fn prepare_tcp(data_dir: &Path, rpc: Option<&RpcTcp>) -> anyhow::Result<Option<RpcTcpReady>> {
    let Some(rpc) = rpc else {
        credential::remove_cookie(data_dir);
        return Ok(None);
    };
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    let token = match &rpc.auth {
        RpcAuth::Cookie => Some(credential::write_cookie(data_dir)?),
        RpcAuth::TokenFile(path) => {
            credential::remove_cookie(data_dir);
            Some(credential::read_token_file(path)?)
        }
        RpcAuth::None => {
            credential::remove_cookie(data_dir);
            None
        }
    };
    let (tls, fingerprint) = if rpc.tls {
        let id = tls::load_or_create(data_dir)?;
        if id.created {
            tracing::info!(dir = %data_dir.display(), "made the client API's TLS key and certificate");
        }
        (Some(id.acceptor), Some(id.fingerprint))
    } else {
        (None, None)
    };
    Ok(Some(RpcTcpReady { gate: TcpGate { token, tls }, fingerprint }))
}

/// The dashboard's token (before the node starts): the TCP client API's when it has one, else the
/// same credential made for the dashboard alone (a fresh cookie, or `--rpc-token-file`).
fn dashboard_gate(data_dir: &Path, dash: &Dashboard, tcp: Option<&RpcTcpReady>) -> anyhow::Result<crate::http::Gate> {
    let token = match &dash.auth {
        None => None,
        Some(auth) => Some(match tcp.and_then(|t| t.gate.token.clone()) {
            Some(t) => t,
            None => match auth {
                RpcAuth::TokenFile(f) => credential::read_token_file(f)?,
                _ => {
                    std::fs::create_dir_all(data_dir)
                        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
                    credential::write_cookie(data_dir)?
                }
            },
        }),
    };
    Ok(crate::http::Gate { token })
}

async fn serve(cfg: NodeConfig, rpc_tcp: Option<RpcTcp>, dashboard: Option<Dashboard>) -> anyhow::Result<()> {
    let data_dir = cfg.data_dir.clone();
    // JSON and base64 make a request larger than the value it carries.
    let limits = RpcLimits::new(cfg.max_value_bytes.saturating_mul(3).max(1 << 20));
    let tcp_ready = prepare_tcp(&data_dir, rpc_tcp.as_ref())?;
    let dash_gate = match &dashboard {
        Some(d) => Some(dashboard_gate(&data_dir, d, tcp_ready.as_ref())?),
        None => None,
    };
    let dash_tls = match &dashboard {
        Some(d) if d.tls => {
            std::fs::create_dir_all(&data_dir)
                .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
            let id = tls::load_or_create(&data_dir)?;
            Some((id.acceptor, id.fingerprint))
        }
        _ => None,
    };
    let handles = system::start(cfg).await.context("starting the node")?;
    let socket = data_dir.join(SOCKET_FILE);
    if socket.as_os_str().len() > 100 {
        bail!("client socket path {} is too long for a Unix socket; use a shorter --data-dir", socket.display());
    }
    let listener =
        server::bind_unix(&socket).with_context(|| format!("binding the client socket {}", socket.display()))?;
    let ctx = RpcCtx { front: handles.front.clone(), ops: Default::default(), metrics: Default::default() };
    actix_rt::spawn(server::serve_unix(listener, ctx.clone(), limits.clone()));
    let mut tcp_line = String::new();
    let mut fingerprint = None;
    let mut bound_tcp = None;
    if let (Some(rpc), Some(ready)) = (&rpc_tcp, tcp_ready) {
        let addr = rpc.addr;
        let l =
            tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding the client API on {addr}"))?;
        let bound = l.local_addr().unwrap_or(addr);
        let cookie = data_dir.join(credential::COOKIE_FILE);
        let auth = match &rpc.auth {
            RpcAuth::Cookie => format!("token in {}", cookie.display()),
            RpcAuth::TokenFile(f) => format!("token in {}", f.display()),
            RpcAuth::None => "NO token (--rpc-no-auth)".to_string(),
        };
        match &ready.fingerprint {
            Some(fp) => {
                tracing::info!(addr = %bound, auth = rpc.auth.name(), fingerprint = %fp, "client API on TCP, TLS");
                tcp_line = format!("; client API on {bound} (TLS, certificate sha256 {fp}; {auth})");
            }
            None => {
                tracing::info!(addr = %bound, auth = rpc.auth.name(), "client API on TCP");
                tcp_line = format!("; client API on {bound} ({auth})");
            }
        }
        fingerprint = ready.fingerprint.clone();
        bound_tcp = Some(bound);
        actix_rt::spawn(server::serve_tcp(l, ctx.clone(), limits, std::sync::Arc::new(ready.gate)));
    }
    let metrics_bound = match (&dashboard, dash_gate) {
        (Some(d), Some(gate)) => {
            let addr = d.addr;
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding the dashboard listener on {addr}"))?;
            let bound = l.local_addr()?;
            let auth = if gate.token.is_some() { "token" } else { "none (loopback)" };
            let sources = crate::metrics::Sources { rpc: ctx, ledger: handles.ledger.clone() };
            let (acceptor, fp) = match dash_tls {
                Some((a, fp)) => (Some(a), Some(fp)),
                None => (None, None),
            };
            let scheme = if acceptor.is_some() { "https" } else { "http" };
            tracing::info!(addr = %bound, auth, fingerprint = ?fp, "dashboard, /metrics and /healthz on {scheme}://{bound}/");
            actix_rt::spawn(crate::http::serve(l, sources, gate, acceptor));
            Some(DashInfo { addr: bound, token: d.auth.is_some(), fingerprint: fp })
        }
        _ => None,
    };

    // Wait for the swarm to report its listen addresses, then publish them for scripts and tests.
    let mut view = handles.network.send(GetView).await?;
    for _ in 0..100 {
        if !view.listen.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        view = handles.network.send(GetView).await?;
    }
    let tcp_info = rpc_tcp.as_ref().zip(bound_tcp).map(|(r, bound)| (bound, &r.auth, fingerprint.as_deref()));
    write_info(&data_dir, &view.local.to_string(), &view.listen, &socket, tcp_info, metrics_bound)?;
    println!(
        "enigma node {} ready: peers {}; client socket {}{tcp_line}",
        view.local,
        view.listen.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", "),
        socket.display()
    );

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("stopping");
    let _ = std::fs::remove_file(&socket);
    actix_rt::System::current().stop();
    Ok(())
}

/// The dashboard as bound, for node.json.
struct DashInfo {
    addr: SocketAddr,
    token: bool,
    fingerprint: Option<String>,
}

fn write_info(
    dir: &Path,
    peer: &str,
    listen: &[Multiaddr],
    socket: &Path,
    rpc: Option<(SocketAddr, &RpcAuth, Option<&str>)>,
    metrics: Option<DashInfo>,
) -> anyhow::Result<()> {
    let info = serde_json::json!({
        "peer_id": peer,
        "listen": listen.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "socket": socket,
        "rpc": rpc.map(|(addr, _, _)| addr.to_string()),
        "rpc_auth": rpc.map(|(_, auth, _)| auth.name()),
        "rpc_cookie": rpc.filter(|(_, auth, _)| **auth == RpcAuth::Cookie).map(|_| dir.join(credential::COOKIE_FILE)),
        "rpc_tls_fingerprint": rpc.and_then(|(_, _, fp)| fp),
        "metrics": metrics.as_ref().map(|m| m.addr.to_string()),
        "metrics_auth": metrics.as_ref().map(|m| if m.token { "token" } else { "none" }),
        "metrics_tls_fingerprint": metrics.as_ref().and_then(|m| m.fingerprint.clone()),
        "pid": std::process::id(),
    });
    let tmp = dir.join(format!("{INFO_FILE}.tmp"));
    std::fs::write(&tmp, serde_json::to_vec_pretty(&info)?)?;
    std::fs::rename(&tmp, dir.join(INFO_FILE))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(v: &[&str]) -> RunArgs {
        let mut all = vec!["enigma"];
        all.extend_from_slice(v);
        crate::cli::Cli::parse_from(all).run
    }

    #[test]
    fn positional_forms() {
        assert_eq!(parse_positional(&args(&["6655"])).unwrap(), (None, 6655));
        let (seed, _) = parse_positional(&args(&["24.133.12.31", "6655"])).unwrap();
        assert_eq!(seed, Some(Seed { host: "24.133.12.31".into(), port: 6655 }));
        let (seed, _) = parse_positional(&args(&["seed-0.enigma", "6655"])).unwrap();
        assert_eq!(seed, Some(Seed { host: "seed-0.enigma".into(), port: 6655 }));
        let (_, own) = parse_positional(&args(&["127.0.0.1", "6655", "--port", "7001"])).unwrap();
        assert_eq!(own, 7001);
        assert!(parse_positional(&args(&["127.0.0.1"])).is_err());
        assert!(parse_positional(&args(&["notaport"])).is_err());
        assert!(parse_positional(&args(&["seed example", "6655"])).is_err());
        assert_eq!(parse_positional(&args(&[])).unwrap(), (None, DEFAULT_PORT));
    }

    #[test]
    fn dashboard_setups() {
        let dash = |v: &[&str]| {
            let a = args(v);
            let rpc = RpcTcp::from_args(&a)?;
            Dashboard::from_args(&a, rpc.as_ref())
        };
        assert_eq!(dash(&["6655"]).unwrap(), None);
        let d = dash(&["6655", "--dashboard", "127.0.0.1:9100"]).unwrap().unwrap();
        assert_eq!(d.auth, None, "loopback: no token");
        let d = dash(&["6655", "--dashboard", "0.0.0.0:9100"]).unwrap().unwrap();
        assert_eq!(d.auth, Some(RpcAuth::Cookie), "off loopback: the cookie");
        let d = dash(&["6655", "--dashboard", "[::]:9100", "--rpc-token-file", "/t"]).unwrap().unwrap();
        assert_eq!(d.auth, Some(RpcAuth::TokenFile("/t".into())), "a token file without --rpc");
        let d = dash(&["6655", "--metrics", "10.0.0.1:9100", "--rpc", "127.0.0.1:7000"]).unwrap().unwrap();
        assert_eq!(d.auth, Some(RpcAuth::Cookie), "the TCP client API's credential");
        let e = dash(&["6655", "--dashboard", "0.0.0.0:9100", "--rpc", "127.0.0.1:7000", "--rpc-no-auth"]);
        assert!(e.unwrap_err().to_string().contains("--rpc-no-auth"));
        assert!(dash(&["6655", "--dashboard", "127.0.0.1:9100", "--rpc-token-file", "/t"]).is_err());
    }

    #[test]
    fn tcp_client_api_setups() {
        let rpc = |v: &[&str]| RpcTcp::from_args(&args(v));
        assert_eq!(rpc(&["6655"]).unwrap(), None);
        let r = rpc(&["6655", "--rpc", "127.0.0.1:7000"]).unwrap().unwrap();
        assert_eq!((r.tls, r.auth), (false, RpcAuth::Cookie));
        let r = rpc(&["6655", "--rpc", "[::1]:7000", "--rpc-no-auth"]).unwrap().unwrap();
        assert_eq!(r.auth, RpcAuth::None);
        let r = rpc(&["6655", "--rpc", "0.0.0.0:7000", "--rpc-tls", "--rpc-token-file", "/t"]).unwrap().unwrap();
        assert_eq!((r.tls, r.auth), (true, RpcAuth::TokenFile("/t".into())));
        let e = rpc(&["6655", "--rpc", "0.0.0.0:7000"]).unwrap_err().to_string();
        assert!(e.contains("without TLS") && e.contains("--rpc-tls"), "{e}");
        let e = rpc(&["6655", "--rpc", "10.1.2.3:7000", "--rpc-tls", "--rpc-no-auth"]).unwrap_err().to_string();
        assert!(e.contains("only on a loopback address"), "{e}");
        assert!(rpc(&["6655", "--rpc-token-file", "/t"]).is_err());
        let parse = |v: &[&str]| crate::cli::Cli::try_parse_from([&["enigma"][..], v].concat());
        assert!(parse(&["6655", "--rpc-tls"]).is_err(), "--rpc-tls needs --rpc");
        assert!(parse(&["6655", "--rpc", "127.0.0.1:1", "--rpc-no-auth", "--rpc-token-file", "/t"]).is_err());
    }
}
