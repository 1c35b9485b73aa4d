//! The status page in a real browser: headless Chromium (Debian's package, installed by
//! scripts/install.sh) loads `--dashboard` of a devnet node after a store and a mean; the DOM it
//! renders shows the peer count, the key just stored and the session just run, and a screenshot is
//! saved as target/dashboard.png. Without Chromium the test prints `SKIPPED: no Chromium: …`.

mod support;

use serde_json::{Value as Json, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{Cluster, Opts};

fn chromium() -> Result<PathBuf, String> {
    for name in ["chromium", "chromium-browser"] {
        for dir in std::env::var("PATH").unwrap_or_default().split(':') {
            let p = Path::new(dir).join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err("neither chromium nor chromium-browser is on PATH (scripts/install.sh installs Debian's chromium)".into())
}

/// Runs headless Chromium with `args` and the URL, within a deadline; its standard output.
fn run_chromium(bin: &Path, profile: &Path, args: &[String], url: &str) -> String {
    let out_path = profile.join(format!("out-{}.txt", args.len()));
    let out = std::fs::File::create(&out_path).unwrap();
    let mut child = Command::new(bin)
        .args(["--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-dev-shm-usage"])
        .arg(format!("--user-data-dir={}", profile.join("profile").display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match child.try_wait().unwrap() {
            Some(status) => {
                assert!(status.success(), "chromium exited with {status}");
                break;
            }
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish within 90 s");
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    std::fs::read_to_string(&out_path).unwrap()
}

#[test]
fn the_dashboard_in_headless_chromium() {
    let bin = match chromium() {
        Ok(b) => b,
        Err(why) => {
            println!("SKIPPED: no Chromium: {why}");
            return;
        }
    };
    let c = Cluster::start(Opts { nodes: 3, group_size: 3, extra: vec!["--dashboard".into(), "127.0.0.1:0".into()] });
    let info: Json = serde_json::from_str(&std::fs::read_to_string(c.nodes[0].dir.join("node.json")).unwrap()).unwrap();
    let addr = info["metrics"].as_str().expect("node.json names the dashboard address").to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");

    let mut cl = c.client(0);
    let k = cl.store_json(json!([1, 2, 3, 6])).unwrap();
    assert_eq!(cl.call("stats.mean", json!([k])).unwrap(), json!([3.0]));
    let grantee = c.client(1).get_address().unwrap();
    let txid = cl.pair(&[&grantee], Some(&[&k]), None, None).unwrap();

    let url = format!("http://{addr}/");
    let tmp = tempfile::tempdir().unwrap();
    // the page is rendered by the server; the budget stays under its 5 s self-refresh, which would
    // otherwise navigate away just as the DOM is dumped (an empty dump). A dump without the whole
    // page is retried, within a deadline.
    let deadline = Instant::now() + Duration::from_secs(120);
    let dom = loop {
        let dom = run_chromium(&bin, tmp.path(), &["--virtual-time-budget=2000".into(), "--dump-dom".into()], &url);
        if dom.contains("</html>") || Instant::now() > deadline {
            break dom;
        }
        eprintln!("chromium dumped {} bytes without the whole page; again", dom.len());
    };
    assert!(dom.contains("<title>Enigma node</title>"), "{dom}");
    assert!(dom.contains("<span id=\"peer_count\">2</span>"), "the peer count: {dom}");
    assert!(dom.contains(&c.nodes[1].peer_id) && dom.contains(&c.nodes[2].peer_id), "the peers: {dom}");
    assert!(dom.contains(&c.nodes[0].peer_id), "the node's own peer id: {dom}");
    assert!(dom.contains(&k.to_string()), "the key just stored ({k}): {dom}");
    assert!(dom.contains("<td>stats.mean</td><td>ok</td><td>1</td>"), "the session just run, on one key: {dom}");
    assert!(dom.contains("<td id=\"security\">active</td>"), "the default MPC security mode: {dom}");
    assert!(dom.contains(&grantee), "the grant just made: {dom}");
    assert!(dom.contains("Its keys held here (1)") && dom.contains("access log: <code"), "{dom}");

    let pubkey = cl.get_pubkey().unwrap();
    assert!(
        dom.contains(&format!("<tr><td><code>{pubkey}</code></td><td>1</td><td><code>{txid}</code></td></tr>")),
        "the owner's policy chain: {dom}"
    );

    let shot = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/dashboard.png"));
    let _ = std::fs::remove_file(&shot);
    run_chromium(
        &bin,
        tmp.path(),
        &[format!("--screenshot={}", shot.display()), "--window-size=1280,900".into(), "--hide-scrollbars".into()],
        &url,
    );
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a PNG of some size: {} bytes", png.len());
    println!("screenshot: {}", shot.display());
}

/// Off loopback, a browser logs in with `/?token=`: the node sets a cookie and redirects to the bare
/// page, which Chromium then loads with the cookie (no token in the URL it ends on).
#[test]
fn off_loopback_a_browser_logs_in_with_the_token() {
    let bin = match chromium() {
        Ok(b) => b,
        Err(why) => {
            println!("SKIPPED: no Chromium: {why}");
            return;
        }
    };
    let c = Cluster::start(Opts { nodes: 1, group_size: 3, extra: vec!["--dashboard".into(), "0.0.0.0:0".into()] });
    let info = c.nodes[0].info();
    let port = info["metrics"].as_str().unwrap().rsplit_once(':').unwrap().1.to_string();
    let token = std::fs::read_to_string(c.nodes[0].dir.join("rpc.cookie")).unwrap().trim().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let dump =
        |url: &str| run_chromium(&bin, tmp.path(), &["--virtual-time-budget=2000".into(), "--dump-dom".into()], url);
    let refused = dump(&format!("http://127.0.0.1:{port}/"));
    assert!(refused.contains("401 unauthorized") && !refused.contains(&c.nodes[0].peer_id), "{refused}");
    let deadline = Instant::now() + Duration::from_secs(120);
    let dom = loop {
        let dom = dump(&format!("http://127.0.0.1:{port}/?token={token}"));
        if dom.contains("</html>") && dom.contains("peer_id") || Instant::now() > deadline {
            break dom;
        }
    };
    assert!(dom.contains("<title>Enigma node</title>") && dom.contains(&c.nodes[0].peer_id), "{dom}");
    assert!(!dom.contains(&token), "the page does not show the token");
}
