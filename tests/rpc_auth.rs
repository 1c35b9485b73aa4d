//! The TCP client API's credential, against real node processes on 127.0.0.1: the `auth` handshake
//! (no token, a wrong token, the cookie, a token file), `--rpc-no-auth`, TLS with a pinned
//! certificate fingerprint (right pin, wrong pin, no pin), and the setups a node refuses to start
//! with. Every socket has a timeout; waits poll with a deadline.

mod support;

use enigma_client::{Client, ClientError, TcpAuth};
use enigma_protocol::api::ErrorCode;
use serde_json::{Value as Json, json};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;
use support::{BIN, Cluster, Node, Opts};

const T: Duration = Duration::from_secs(15);

fn node_with(extra: &[&str]) -> Cluster {
    Cluster::start(Opts { nodes: 1, group_size: 3, extra: extra.iter().map(|s| s.to_string()).collect() })
}

/// The TCP endpoint the node wrote to node.json (the port it really bound).
fn endpoint(n: &Node) -> String {
    n.info()["rpc"].as_str().expect("node.json names the TCP client API").to_string()
}

fn cookie(n: &Node) -> String {
    std::fs::read_to_string(n.dir.join("rpc.cookie")).expect("the cookie").trim().to_string()
}

/// Writes `lines` at once on a plain TCP connection, then reads every line until the node closes it.
fn raw_exchange(ep: &str, lines: &[String]) -> Vec<Json> {
    raw_lines(ep, lines, usize::MAX)
}

/// Like [`raw_exchange`], stopping after `max` lines (for a connection the node keeps open).
fn raw_lines(ep: &str, lines: &[String], max: usize) -> Vec<Json> {
    let mut s = TcpStream::connect(ep).expect("connect");
    s.set_read_timeout(Some(T)).unwrap();
    s.set_write_timeout(Some(T)).unwrap();
    let mut all = String::new();
    for l in lines {
        all.push_str(l);
        all.push('\n');
    }
    s.write_all(all.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let mut out = Vec::new();
    while out.len() < max {
        let mut buf = String::new();
        match r.read_line(&mut buf) {
            Ok(0) => return out,
            Ok(_) => out.push(serde_json::from_str(&buf).expect("a JSON line")),
            Err(e) => panic!("the node neither answered nor closed within {T:?}: {e}"),
        }
    }
    out
}

fn req(id: u64, method: &str) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": {}}).to_string()
}

fn auth_line(token: &str) -> String {
    json!({"jsonrpc": "2.0", "id": 0, "method": "auth", "params": {"token": token}}).to_string()
}

fn unix_pubkey(n: &Node) -> String {
    n.client().get_pubkey().expect("get_pubkey over the Unix socket")
}

fn api_code<T>(r: &Result<T, ClientError>) -> Option<ErrorCode> {
    match r {
        Err(ClientError::Api(e)) => Some(e.code),
        _ => None,
    }
}

#[test]
fn tcp_needs_the_cookie_before_any_method_runs() {
    let c = node_with(&["--rpc", "127.0.0.1:0"]);
    let n = &c.nodes[0];
    let ep = endpoint(n);
    let info = n.info();
    assert_eq!(info["rpc_auth"], "cookie");
    assert!(info["rpc_tls_fingerprint"].is_null());
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(n.dir.join("rpc.cookie")).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the cookie is private");
    let token = cookie(n);
    assert_eq!(token.len(), 64);
    let before = unix_pubkey(n);

    // no credential: the first request is refused with `unauthorized` and the connection closed;
    // gen_key (which would switch the node's identity) never runs, nor anything after it
    let replies = raw_exchange(&ep, &[req(1, "gen_key"), req(2, "gen_key")]);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0]["error"]["code"], 1013, "{}", replies[0]);
    assert_eq!(replies[0]["error"]["data"]["kind"], "unauthorized");
    assert_eq!(replies[0]["id"], 1);
    assert_eq!(unix_pubkey(n), before, "no method ran");

    // a wrong token: refused too, and the request sent behind it does not run
    let replies = raw_exchange(&ep, &[auth_line(&"0".repeat(64)), req(1, "gen_key")]);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0]["error"]["code"], 1013);
    assert_eq!(replies[0]["error"]["message"], "unauthorized: wrong token");
    assert_eq!(replies[0]["id"], 0);
    assert_eq!(unix_pubkey(n), before, "no method ran");

    // the cookie: the handshake answers true, then calls run (pipelined behind it)
    let replies = raw_lines(&ep, &[auth_line(&token), req(1, "get_pubkey")], 2);
    assert_eq!(replies[0], json!({"jsonrpc": "2.0", "id": 0, "result": true}));
    assert_eq!(replies[1]["result"], json!(before));

    // the Rust client: without a token, with a wrong one, with the cookie
    let r = Client::connect_with(&ep, &TcpAuth::default()).and_then(|mut c| c.get_pubkey());
    assert_eq!(api_code(&r), Some(ErrorCode::Unauthorized), "{r:?}");
    let r = Client::connect_with(&ep, &TcpAuth::token("f".repeat(64)));
    assert_eq!(api_code(&r), Some(ErrorCode::Unauthorized));
    let mut good = Client::connect_with(&ep, &TcpAuth::token(token.clone())).expect("connect with the cookie");
    assert_eq!(good.get_pubkey().unwrap(), before);
    assert_eq!(good.call("auth", json!({})).unwrap(), json!(true), "auth after the handshake is a no-op");

    // the CLI: --rpc-cookie, $ENIGMA_RPC_TOKEN, $ENIGMA_RPC_COOKIE
    let cli = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env_remove("ENIGMA_RPC_TOKEN")
            .env_remove("ENIGMA_RPC_COOKIE")
            .env_remove("ENIGMA_RPC_FINGERPRINT");
        cmd.env("ENIGMA_HOME", &n.dir).env_remove("ENIGMA_DATA_DIR");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run the CLI")
    };
    let cookie_path = n.dir.join("rpc.cookie").to_string_lossy().into_owned();
    let out = cli(&["get-pubkey", "--format", "text", "--socket", &ep, "--rpc-cookie", &cookie_path], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), before);
    let out = cli(&["get-pubkey", "--format", "text", "--socket", &ep], &[("ENIGMA_RPC_COOKIE", &cookie_path)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // the default cookie: <ENIGMA_HOME>/rpc.cookie (here the node's data directory)
    let out = cli(&["get-pubkey", "--socket", &ep], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli(&["get-pubkey", "--socket", &ep], &[("ENIGMA_RPC_TOKEN", &"e".repeat(64))]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unauthorized: wrong token"));
    // rpc-env prints the token for a client elsewhere
    let out = cli(&["rpc-env", "--data-dir", &n.dir.to_string_lossy()], &[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("ENIGMA_RPC_TOKEN={token}"));
}

#[test]
fn a_token_file_replaces_the_cookie_and_no_auth_is_loopback_only() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "my-own-token-0123456789\n").unwrap();
    let c = node_with(&["--rpc", "127.0.0.1:0", "--rpc-token-file", &file.to_string_lossy()]);
    let n = &c.nodes[0];
    let ep = endpoint(n);
    assert!(!n.dir.join("rpc.cookie").exists(), "no cookie with a token file");
    assert_eq!(n.info()["rpc_auth"], "token-file");
    let mut ok = Client::connect_with(&ep, &TcpAuth::token("my-own-token-0123456789")).expect("the file's token");
    assert!(ok.get_pubkey().is_ok());
    assert_eq!(
        api_code(&Client::connect_with(&ep, &TcpAuth::token("my-own-token-012345678"))),
        Some(ErrorCode::Unauthorized)
    );
    drop(c);

    let c = node_with(&["--rpc", "127.0.0.1:0", "--rpc-no-auth"]);
    let n = &c.nodes[0];
    assert_eq!(n.info()["rpc_auth"], "none");
    let mut open = Client::connect_with(&endpoint(n), &TcpAuth::default()).expect("connect");
    assert!(open.get_pubkey().is_ok(), "--rpc-no-auth on loopback: no handshake");
}

/// Starts a node that must refuse its setup; returns what it printed.
fn refused(args: &[&str]) -> String {
    let dir = tempfile::Builder::new().prefix("enig").tempdir_in("/tmp").unwrap();
    let log = dir.path().join("log");
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--listen-ip")
        .arg("127.0.0.1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("run the node");
    // the check runs before anything is bound or started, so the process ends at once
    let status = support::wait_for("the node to exit", T, || child.try_wait().ok().flatten());
    assert!(!status.success(), "the node started with {args:?}");
    assert!(!dir.path().join("node.json").exists());
    std::fs::read_to_string(&log).unwrap()
}

#[test]
fn unsafe_setups_are_refused_at_start() {
    let e = refused(&["0", "--rpc", "0.0.0.0:0"]);
    assert!(e.contains("refusing to serve the client API on 0.0.0.0:0 without TLS"), "{e}");
    let e = refused(&["0", "--rpc", "0.0.0.0:0", "--rpc-tls", "--rpc-no-auth"]);
    assert!(e.contains("--rpc-no-auth is allowed only on a loopback address"), "{e}");
    let e = refused(&["0", "--rpc", "[::]:0", "--rpc-no-auth"]);
    assert!(e.contains("only on a loopback address"), "{e}");
}

#[test]
fn tls_with_a_pinned_fingerprint() {
    let c = node_with(&["--rpc", "127.0.0.1:0", "--rpc-tls"]);
    let n = &c.nodes[0];
    let ep = endpoint(n);
    let fp = n.info()["rpc_tls_fingerprint"].as_str().expect("node.json has the fingerprint").to_string();
    assert_eq!(fp.len(), 64);
    let log = std::fs::read_to_string(n.dir.join("node.log")).unwrap();
    assert!(log.contains(&format!("certificate sha256 {fp}")), "the node prints the fingerprint:\n{log}");
    let key_mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(n.dir.join("rpc-tls.key")).unwrap().permissions());
    assert_eq!(key_mode & 0o777, 0o600);
    let token = cookie(n);
    let before = unix_pubkey(n);

    // the right pin and the token: works
    let auth = TcpAuth::token(token.clone()).pin(&fp).unwrap();
    let mut good = Client::connect_with(&ep, &auth).expect("TLS with the pinned certificate");
    assert_eq!(good.get_pubkey().unwrap(), before);

    // a wrong pin: the client refuses the node before sending the token
    let wrong = TcpAuth::token(token.clone()).pin(&"00".repeat(32)).unwrap();
    match Client::connect_with(&ep, &wrong) {
        Err(ClientError::Tls { message, .. }) => {
            assert!(message.contains(&format!("has fingerprint {fp}, not the pinned")), "{message}")
        }
        other => panic!("expected a TLS error, got {:?}", other.map(|_| ())),
    }

    // the right pin, a wrong token: the node refuses
    let bad_token = TcpAuth::token("1".repeat(64)).pin(&fp).unwrap();
    assert_eq!(api_code(&Client::connect_with(&ep, &bad_token)), Some(ErrorCode::Unauthorized));

    // plain JSON-RPC to the TLS port: a plain answer saying so, and nothing runs
    let replies = raw_exchange(&ep, &[auth_line(&token), req(1, "gen_key")]);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0]["error"]["code"], 1013);
    assert!(replies[0]["error"]["message"].as_str().unwrap().contains("speaks TLS"), "{}", replies[0]);
    assert_eq!(unix_pubkey(n), before);

    // the CLI with --rpc-fingerprint, and rpc-env printing both lines
    let out = Command::new(BIN)
        .args(["get-pubkey", "--format", "text", "--socket", &ep, "--rpc-fingerprint", &fp])
        .env("ENIGMA_RPC_TOKEN", &token)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), before);
    let out = Command::new(BIN).args(["rpc-env", "--data-dir", &n.dir.to_string_lossy()]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("ENIGMA_RPC_TOKEN={token}\nENIGMA_RPC_FINGERPRINT={fp}")
    );
}

#[test]
fn a_restart_writes_a_new_cookie_and_keeps_the_certificate() {
    let mut c = Cluster::start(Opts {
        nodes: 2,
        group_size: 3,
        extra: ["--rpc", "127.0.0.1:0", "--rpc-tls"].iter().map(|s| s.to_string()).collect(),
    });
    let (old_token, old_fp) = (cookie(&c.nodes[1]), c.nodes[1].info()["rpc_tls_fingerprint"].clone());
    c.kill(1);
    c.restart(1);
    let n = &c.nodes[1];
    let (ep, fp) = (endpoint(n), n.info()["rpc_tls_fingerprint"].as_str().expect("a fingerprint").to_string());
    assert_eq!(json!(fp), old_fp, "the certificate is kept, so the pin stays valid");
    let new_token = cookie(n);
    assert_ne!(new_token, old_token, "a new cookie at every start");
    let stale = TcpAuth::token(old_token).pin(&fp).unwrap();
    assert_eq!(api_code(&Client::connect_with(&ep, &stale)), Some(ErrorCode::Unauthorized));
    let fresh = TcpAuth::token(new_token).pin(&fp).unwrap();
    assert!(Client::connect_with(&ep, &fresh).expect("the new cookie").get_pubkey().is_ok());
}

/// A TCP relay to `target` that forwards the node's bytes to the client slowly (16 KiB every 2 ms,
/// through small socket buffers), as a busy proxy or a slow network does: the node's socket is full
/// while it writes a large reply. Returns the relay's endpoint.
fn slow_relay(target: &str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let target = target.to_string();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(node) = TcpStream::connect(&target) else { return };
            // small buffers on the relay's side of the node's connection keep the node's window small
            let raw = socket2::SockRef::from(&node);
            let _ = raw.set_recv_buffer_size(16 << 10);
            let (mut c_in, mut n_out) = (client.try_clone().unwrap(), node.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c_in, &mut n_out);
            });
            let (mut n_in, mut c_out) = (node, client);
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 16 << 10];
                loop {
                    match std::io::Read::read(&mut n_in, &mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(k) => {
                            if c_out.write_all(&buf[..k]).is_err() {
                                return;
                            }
                        }
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
            });
        }
    });
    addr
}

/// End to end through a node process: large loads over TLS through a slow link arrive whole. Whether
/// a missing flush shows here depends on the kernel's buffer sizes at the reply's last write, so the
/// deterministic check of that is `rpc::server::tests::a_large_tls_reply_reaches_a_slow_reader_whole`.
#[test]
fn a_large_reply_over_tls_reaches_a_slow_reader_whole() {
    let c = Cluster::start(Opts {
        nodes: 3,
        group_size: 3,
        extra: ["--rpc", "127.0.0.1:0", "--rpc-tls"].iter().map(|s| s.to_string()).collect(),
    });
    let big = enigma_protocol::value::Value::Bytes((0..(6usize << 20)).map(|i| (i * 7 + i / 251) as u8).collect());
    let key = c.client(0).store(&big).expect("store 6 MiB");
    let n = &c.nodes[0];
    let fp = n.info()["rpc_tls_fingerprint"].as_str().expect("a fingerprint").to_string();
    let auth = TcpAuth::token(cookie(n)).pin(&fp).unwrap();
    let relay = slow_relay(&endpoint(n));
    // a few loads: the reply's last TLS records must not wait in the node's buffer for a next write
    for round in 0..3 {
        let (relay, auth, key) = (relay.clone(), auth.clone(), key.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(Client::connect_with(&relay, &auth).and_then(|mut cl| cl.load(&key)));
        });
        let got = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| {
            panic!("load {round} of 6 MiB over TLS through a slow reader: no whole reply within 60 s")
        });
        assert!(got.expect("the load") == big, "load {round}: a wrong value");
    }
}
