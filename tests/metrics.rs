//! `--metrics ADDR` (`--dashboard`): Prometheus metrics, the status page and /healthz on a real node,
//! scraped over HTTP on 127.0.0.1; the counters move after a store and a mean. Off loopback (0.0.0.0,
//! reached through 127.0.0.1) every route but /healthz asks for the node's client API token.

mod support;

use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use support::{BIN, Cluster, Opts};

/// GET `path`: (status line, body).
fn get(addr: &str, path: &str) -> (String, String) {
    let (status, _, body) = request(addr, path, &[]);
    (status, body)
}

/// GET `path` with extra header lines: (status line, head, body).
fn request(addr: &str, path: &str, headers: &[String]) -> (String, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP response: {raw:?}"));
    (head.lines().next().unwrap_or_default().to_string(), head.to_string(), body.to_string())
}

/// The samples of an exposition: `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    assert!(text.trim_end().ends_with("# EOF"), "an OpenMetrics exposition ends with # EOF");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("bad sample line {l:?}"));
            (name.to_string(), value.parse::<f64>().unwrap_or_else(|_| panic!("bad value in {l:?}")))
        })
        .collect()
}

fn value(s: &BTreeMap<String, f64>, name: &str) -> f64 {
    s.get(name).copied().unwrap_or(0.0)
}

#[test]
fn metrics_status_page_and_healthz() {
    let c = Cluster::start(Opts { nodes: 3, group_size: 3, extra: vec!["--metrics".into(), "127.0.0.1:0".into()] });
    let info: Json = serde_json::from_str(&std::fs::read_to_string(c.nodes[0].dir.join("node.json")).unwrap()).unwrap();
    let addr = info["metrics"].as_str().expect("node.json names the metrics address").to_string();

    assert_eq!(get(&addr, "/healthz"), ("HTTP/1.1 200 OK".to_string(), "ok\n".to_string()));
    let (status, body) = get(&addr, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let before = samples(&body);
    assert_eq!(value(&before, "enigma_peers"), 2.0, "{body}");

    let mut cl = c.client(0);
    let k = cl.store_json(json!([1, 2, 3, 6])).unwrap();
    assert_eq!(cl.call("stats.mean", json!([k])).unwrap(), json!([3.0]));
    assert!(cl.call("stats.mean", json!(["00".repeat(32)])).is_err());
    let grantee = c.client(1).get_address().unwrap();
    cl.pair(&[&grantee], Some(&[&k]), None, None).unwrap();

    let after = samples(&get(&addr, "/metrics").1);
    let store_ok = "enigma_rpc_calls_total{method=\"store\",outcome=\"ok\"}";
    assert_eq!(value(&after, store_ok) - value(&before, store_ok), 1.0);
    assert_eq!(value(&after, "enigma_sessions_started_total{op=\"stats.mean\"}"), 2.0);
    assert_eq!(value(&after, "enigma_sessions_total{op=\"stats.mean\",outcome=\"ok\"}"), 1.0);
    assert_eq!(value(&after, "enigma_sessions_total{op=\"stats.mean\",outcome=\"unknown_key\"}"), 1.0);
    assert_eq!(value(&after, "enigma_session_seconds_count{op=\"stats.mean\"}"), 2.0);
    assert_eq!(value(&after, "enigma_sessions_running"), 0.0);
    assert!(value(&after, "enigma_rpc_call_seconds_count{method=\"store\"}") >= 1.0);
    assert!(value(&after, "enigma_shares_held") >= 1.0, "node 0 holds a share of the stored key");
    assert_eq!(value(&after, "enigma_ledger_transactions") - value(&before, "enigma_ledger_transactions"), 1.0);
    assert_eq!(value(&after, "enigma_bytes_held"), 64.0, "one key of 4 elements, 16 bytes each");
    for name in
        ["enigma_bans_total", "enigma_repairs_total{outcome=\"done\"}", "enigma_repairs_total{outcome=\"failed\"}"]
    {
        assert!(after.contains_key(name), "{name} is exported");
    }
    let joined = value(&after, "enigma_sessions_joined_total");
    let others: f64 = (1..3)
        .map(|i| {
            c.nodes[i].info()["metrics"]
                .as_str()
                .map(|a| value(&samples(&get(a, "/metrics").1), "enigma_sessions_joined_total"))
                .unwrap_or(0.0)
        })
        .sum();
    assert!(joined + others >= 2.0, "committee members count the mean they joined ({joined} + {others})");

    let (status, page) = get(&addr, "/");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(page.contains(&c.nodes[0].peer_id) && page.contains(&c.nodes[1].peer_id), "{page}");
    assert!(page.contains("<span id=\"peer_count\">2</span>"), "{page}");
    assert!(page.contains("<td>stats.mean</td><td>ok</td>"), "{page}");
    assert!(page.contains("keys held: <span id=\"custody_keys\">1</span> (1 committed, 0 pending)"), "{page}");
    assert!(page.contains("<span id=\"running\">0</span>"), "{page}");
    assert!(page.contains("Grants of this identity (1)") && page.contains(&grantee), "{page}");
    assert!(page.contains("policy transactions: <span id=\"ledger_txs\">"), "{page}");
    assert_eq!(get(&addr, "/nope").0, "HTTP/1.1 404 Not Found");

    // every metric docker/grafana-dashboard.json queries is exported
    let dash: Json = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docker/grafana-dashboard.json")).unwrap(),
    )
    .unwrap();
    let exported: Vec<String> = after.keys().map(|k| k.split('{').next().unwrap_or_default().to_string()).collect();
    let mut queried = 0;
    for panel in dash["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for name in
                expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("enigma_"))
            {
                queried += 1;
                assert!(exported.iter().any(|e| e == name), "the dashboard queries {name}, which is not exported");
            }
        }
    }
    assert!(queried >= 12, "{queried}");
}

/// The dashboard's address as a client reaches it: 127.0.0.1 for a listener on 0.0.0.0.
fn reach(info: &Json) -> String {
    let addr: std::net::SocketAddr = info["metrics"].as_str().expect("node.json names the dashboard").parse().unwrap();
    format!("127.0.0.1:{}", addr.port())
}

#[test]
fn off_loopback_every_route_but_healthz_asks_for_the_token() {
    let c = Cluster::start(Opts { nodes: 1, group_size: 3, extra: vec!["--dashboard".into(), "0.0.0.0:0".into()] });
    let info = c.nodes[0].info();
    assert_eq!(info["metrics_auth"], "token", "{info}");
    let addr = reach(&info);
    // no --rpc: the node wrote the cookie for the dashboard alone
    let token = std::fs::read_to_string(c.nodes[0].dir.join("rpc.cookie")).expect("the cookie").trim().to_string();
    let peer = &c.nodes[0].peer_id;

    assert_eq!(get(&addr, "/healthz"), ("HTTP/1.1 200 OK".to_string(), "ok\n".to_string()), "probes need no token");
    for path in ["/", "/metrics", "/?token=wrong", "/metrics?token=wrong"] {
        for headers in [vec![], vec!["Authorization: Bearer wrong".to_string()], vec!["Cookie: enigma_token=x".into()]]
        {
            let (status, head, body) = request(&addr, path, &headers);
            assert_eq!(status, "HTTP/1.1 401 Unauthorized", "{path} {headers:?}: {head}");
            assert!(head.to_ascii_lowercase().contains("www-authenticate: bearer"), "{head}");
            assert!(!body.contains("enigma_") && !body.contains(peer.as_str()), "no data without the token: {body}");
        }
    }
    // the bearer header
    let bearer = vec![format!("Authorization: Bearer {token}")];
    let (status, _, body) = request(&addr, "/metrics", &bearer);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(value(&samples(&body), "enigma_peers"), 0.0, "{body}");
    let (status, _, page) = request(&addr, "/", &bearer);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(page.contains(peer.as_str()), "{page}");
    // a browser: /?token= is traded for an HttpOnly cookie and a redirect to the bare page
    let (status, head, _) = request(&addr, &format!("/?token={token}"), &[]);
    assert_eq!(status, "HTTP/1.1 303 See Other", "{head}");
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .unwrap_or_else(|| panic!("no cookie set: {head}"));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(head.to_ascii_lowercase().contains("location: /\r") || head.to_ascii_lowercase().ends_with("location: /"));
    let crumb = cookie.split(';').next().unwrap().to_string();
    let (status, _, page) = request(&addr, "/", &[format!("Cookie: theme=dark; {crumb}")]);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(page.contains(peer.as_str()) && page.contains("<meta http-equiv=\"refresh\""), "{page}");
    // ?token= on /metrics (for scrapers that cannot set a header): served as it is
    let (status, _, body) = request(&addr, &format!("/metrics?token={token}"), &[]);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("enigma_peers"), "{body}");
    assert_eq!(request(&addr, "/nope", &bearer).0, "HTTP/1.1 404 Not Found");
    // a client that never finishes its request head is cut off (the node's bound is 10 s)
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(slow, "GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    assert!(started.elapsed() < Duration::from_secs(25), "the node held a half request {:?}", started.elapsed());
    assert!(!String::from_utf8_lossy(&rest).contains(peer.as_str()));
}

#[test]
fn off_loopback_the_dashboard_shares_the_tcp_client_apis_token() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    let token = "0123456789abcdef-dashboard-token";
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let c = Cluster::start(Opts {
        nodes: 1,
        group_size: 3,
        extra: vec![
            "--rpc".into(),
            "127.0.0.1:0".into(),
            "--rpc-token-file".into(),
            token_file.to_string_lossy().into_owned(),
            "--dashboard".into(),
            "0.0.0.0:0".into(),
        ],
    });
    let addr = reach(&c.nodes[0].info());
    assert_eq!(request(&addr, "/metrics", &[]).0, "HTTP/1.1 401 Unauthorized");
    let (status, _, body) = request(&addr, "/metrics", &[format!("Authorization: Bearer {token}")]);
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    assert!(body.contains("enigma_rpc_calls"), "{body}");
    // the same token opens the TCP client API
    let ep = c.nodes[0].info()["rpc"].as_str().unwrap().to_string();
    let mut tcp =
        enigma_client::Client::connect_with(&ep, &enigma_client::TcpAuth::token(token)).expect("the TCP client API");
    assert!(tcp.status().is_ok());
}

#[test]
fn off_loopback_without_a_credential_the_node_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .args(["0", "--listen-ip", "127.0.0.1", "--rpc", "127.0.0.1:0", "--rpc-no-auth", "--dashboard", "0.0.0.0:0"])
        .arg("--data-dir")
        .arg(dir.path())
        .env("ENIGMA_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("off loopback") && stderr.contains("--rpc-no-auth"), "{stderr}");
}
