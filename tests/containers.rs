//! The container suite (issue 5): the `enigma` image (FROM scratch, the static binary only) run as real
//! containers on a private Docker network. One test walks a five-node network through the user's
//! story: start and join, store and load through the published client API and `docker exec`, lose t
//! custody containers (`docker kill`) and one more, restart them with their volumes, cut one node off
//! (`docker network disconnect`) while requests are running, reconnect it. A second test brings up
//! `docker/compose.yml` and uses it from the host as the README says.
//!
//! Needs a Docker engine, so both tests are `#[ignore]`d in the ordinary run; `scripts/test.sh` runs
//! them when `docker info` works and prints a notice when it does not:
//!
//! ```sh
//! cargo test --release -p enigma --test containers -- --ignored --nocapture --test-threads 1
//! ```
//!
//! Every resource a run creates is named `etest<pid>x<random>…` (containers, network, volumes, image
//! tag, compose project) and a guard removes all of it when the test ends, also when a step fails.
//! Resources of an earlier run that was killed outright (its process is gone) are swept at start.
//! Every wait polls with a deadline; every docker command and every client call has a deadline too.

use enigma_client::{Client, ClientError, TcpAuth};
use enigma_protocol::api::{self, ErrorCode};
use enigma_protocol::value::Value;
use serde_json::{Value as Json, json};
use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The `enigma` binary of this build: static-pie (see .cargo/config.toml), so it runs FROM scratch.
const BIN: &str = env!("CARGO_BIN_EXE_enigma");
const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// Containers in the network: a seed and four joiners; custody group n = 5, threshold t = 2.
const NODES: usize = 5;
const T: usize = 2;
/// The nodes' deadline for one request to a peer (`--request-timeout`), in seconds.
const REQUEST_TIMEOUT: u64 = 20;
/// Longest a client request may take before the test calls it a hang: a load may ask a first set of
/// holders (up to the request timeout) and then widen to others.
const REQUEST_LIMIT: Duration = Duration::from_secs(2 * REQUEST_TIMEOUT + 20);
const PEER_PORT: u16 = 6655;
const RPC_PORT: u16 = 7000;

// ---------------------------------------------------------------------------------------------------
// Processes and deadlines

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs a command to completion, or kills it at the deadline.
fn run(cmd: &mut Command, limit: Duration) -> Result<Out, String> {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    let mut so = child.stdout.take().expect("piped stdout");
    let mut se = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{what} did not finish within {limit:?}"));
            }
            Err(e) => return Err(format!("{what}: {e}")),
        }
    };
    Ok(Out {
        ok: status.success(),
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    })
}

/// `docker ARGS` with a deadline: its trimmed stdout, or its stderr as the error.
fn docker_in(limit: Duration, args: &[&str]) -> Result<String, String> {
    let out = run(Command::new("docker").args(args), limit)?;
    if out.ok {
        Ok(out.stdout.trim().to_string())
    } else {
        Err(format!("docker {}: {}", args.join(" "), out.stderr.trim()))
    }
}

fn docker(args: &[&str]) -> Result<String, String> {
    docker_in(Duration::from_secs(120), args)
}

/// `docker ARGS`, failing the test if it fails.
fn must(args: &[&str]) -> String {
    docker(args).unwrap_or_else(|e| panic!("{e}"))
}

/// Polls `cond` until it returns `Some` or the deadline passes.
fn wait_for<T>(what: &str, limit: Duration, mut cond: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = cond() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Runs `f` on its own thread and fails the test if it has not answered by `limit` (a hang).
fn within<R: Send + 'static>(what: &str, limit: Duration, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            show_node_logs(&format!("{what} hung"));
            panic!("{what}: no answer within {limit:?} — a hang")
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}

/// The containers of the running suite, for [`show_node_logs`].
static CONTAINERS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Prints the end of every suite container's log (what the nodes saw when a request hung).
fn show_node_logs(why: &str) {
    let names = CONTAINERS.lock().map(|n| n.clone()).unwrap_or_default();
    for name in names {
        // a node logs to stderr, which `docker logs` replays on its own stderr
        match run(Command::new("docker").args(["logs", "--tail", "80", &name]), Duration::from_secs(30)) {
            Ok(out) => eprintln!("[containers] ---- {name}'s log after {why}:\n{}{}", out.stdout, out.stderr),
            Err(e) => eprintln!("[containers] ---- no log of {name}: {e}"),
        }
    }
}

/// One step of the story, timed and announced (visible with --nocapture).
fn step<R>(name: &str, f: impl FnOnce() -> R) -> R {
    eprintln!("[containers] {name} …");
    let t0 = Instant::now();
    let r = f();
    eprintln!("[containers] {name}: ok ({:.1}s)", t0.elapsed().as_secs_f64());
    r
}

/// The Docker engine's version, or why there is none (then the suite is skipped with a notice).
fn docker_engine() -> Result<String, String> {
    docker_in(Duration::from_secs(20), &["info", "--format", "{{.ServerVersion}}"])
        .and_then(|v| if v.is_empty() { Err("docker info gave no server version".into()) } else { Ok(v) })
}

fn skip_without_docker() -> bool {
    match docker_engine() {
        Ok(v) => {
            eprintln!("[containers] Docker engine {v}");
            false
        }
        Err(e) => {
            eprintln!("[containers] SKIPPED: no Docker engine here ({e})");
            true
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Names, cleanup and the stale-run sweep

/// `etest<pid>x<random>`: unique per run, and tells the sweep whose it is.
fn run_prefix() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let mix = (nanos as u64) ^ ((nanos >> 64) as u64) ^ (std::process::id() as u64).rotate_left(32);
    format!("etest{}x{:08x}", std::process::id(), mix as u32)
}

/// Removes every container, network, volume and image tag whose name starts with `prefix`; returns
/// what could not be removed.
fn remove_by_prefix(prefix: &str) -> Vec<String> {
    let mut left = Vec::new();
    let list = |args: &[&str]| -> Vec<String> {
        docker_in(Duration::from_secs(30), args)
            .map(|s| s.lines().map(str::trim).filter(|n| n.starts_with(prefix)).map(str::to_string).collect())
            .unwrap_or_default()
    };
    let mut rm = |what: &str, base: &[&str], names: Vec<String>| {
        if names.is_empty() {
            return;
        }
        let mut args: Vec<&str> = base.to_vec();
        args.extend(names.iter().map(String::as_str));
        if let Err(e) = docker_in(Duration::from_secs(60), &args) {
            left.push(format!("{what}: {e}"));
        }
    };
    let containers = list(&["ps", "-a", "--format", "{{.Names}}"]);
    rm("containers", &["rm", "-f", "-v"], containers);
    let networks = list(&["network", "ls", "--format", "{{.Name}}"]);
    rm("networks", &["network", "rm"], networks);
    let volumes = list(&["volume", "ls", "--format", "{{.Name}}"]);
    rm("volumes", &["volume", "rm", "-f"], volumes);
    let images = list(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    rm("images", &["rmi"], images);
    left
}

/// Everything named with `prefix` that is still there.
fn leftovers(prefix: &str) -> Vec<String> {
    let mut found = Vec::new();
    for args in [
        &["ps", "-a", "--format", "{{.Names}}"][..],
        &["network", "ls", "--format", "{{.Name}}"][..],
        &["volume", "ls", "--format", "{{.Name}}"][..],
        &["images", "--format", "{{.Repository}}:{{.Tag}}"][..],
    ] {
        found.extend(
            must(args).lines().filter(|n| n.trim().starts_with(prefix)).map(|n| format!("{} {}", args[0], n.trim())),
        );
    }
    found
}

/// Removes what earlier runs left behind when they were killed before their guard ran (their process
/// no longer exists on this machine).
fn sweep_stale_runs() {
    let mut names = Vec::new();
    for args in [
        &["ps", "-a", "--format", "{{.Names}}"][..],
        &["network", "ls", "--format", "{{.Name}}"][..],
        &["volume", "ls", "--format", "{{.Name}}"][..],
        &["images", "--format", "{{.Repository}}"][..],
    ] {
        names.extend(docker(args).unwrap_or_default().lines().map(|s| s.trim().to_string()));
    }
    let mut dead = BTreeSet::new();
    for n in names {
        let Some(rest) = n.strip_prefix("etest") else {
            continue;
        };
        let Some((pid, _)) = rest.split_once('x') else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            dead.insert(pid);
        }
    }
    for pid in dead {
        let left = remove_by_prefix(&format!("etest{pid}x"));
        eprintln!("[containers] swept the leftovers of an earlier run (pid {pid}) {left:?}");
    }
}

/// Removes everything named with the run's prefix when dropped — also when a step panics.
struct Guard {
    prefix: String,
    /// A compose project to take down first.
    compose: Option<Compose>,
}

/// The compose command with its `-p` and `-f` arguments, and the environment the file reads.
#[derive(Clone)]
struct Compose {
    cmd: Vec<String>,
    env: Vec<(String, String)>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(Compose { cmd, env }) = self.compose.take() {
            let mut c = Command::new(&cmd[0]);
            c.args(&cmd[1..]).args(["down", "-v", "--remove-orphans", "-t", "2"]);
            for (k, v) in env {
                c.env(k, v);
            }
            let _ = run(&mut c, Duration::from_secs(120));
        }
        let left = remove_by_prefix(&self.prefix);
        if !left.is_empty() {
            eprintln!("[containers] cleanup of {} left: {left:?}", self.prefix);
        }
    }
}

/// Builds the image with the project's script (which also proves it runs), tagged `<prefix>:test`.
fn build_image(prefix: &str) -> String {
    let tag = format!("{prefix}:test");
    let out = run(
        Command::new(format!("{REPO}/scripts/docker-image.sh")).arg(&tag).env("ENIGMA_BIN", BIN),
        Duration::from_secs(300),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.ok, "scripts/docker-image.sh failed:\n{}{}", out.stdout, out.stderr);
    tag
}

// ---------------------------------------------------------------------------------------------------
// Addresses

/// A free private subnet: Docker chooses one for a throw-away network (so it clashes with nothing
/// Docker knows), and the test re-creates it with that subnet given explicitly, which is what allows
/// fixed container addresses (`--ip`).
fn free_subnet(probe: &str) -> (Ipv4Addr, u8) {
    must(&["network", "create", probe]);
    let subnet = docker(&["network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}", probe]);
    let _ = docker(&["network", "rm", probe]);
    let subnet = subnet.unwrap_or_else(|e| panic!("{e}"));
    let v4 =
        subnet.split_whitespace().find(|s| s.contains('.')).unwrap_or_else(|| panic!("no IPv4 subnet in {subnet:?}"));
    let (ip, bits) = v4.split_once('/').expect("CIDR");
    let bits: u8 = bits.parse().expect("prefix length");
    assert!(bits <= 26, "subnet {v4} too small for the test");
    (ip.parse().expect("IPv4"), bits)
}

fn nth(base: Ipv4Addr, n: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(base) + n)
}

// ---------------------------------------------------------------------------------------------------
// Clients: the published client API (TCP, from the host) and `docker exec <c> /enigma …`

/// The credential of each published client API (`127.0.0.1:<host port>` → token and certificate
/// fingerprint), as `docker exec <c> /enigma rpc-env` printed it after the container's last start.
static CREDENTIALS: Mutex<Option<HashMap<String, TcpAuth>>> = Mutex::new(None);

/// Learns the credential of container `name`'s client API, published at `endpoint`.
fn learn_credential(name: &str, endpoint: &str) -> TcpAuth {
    let out = exec_in(name, &["rpc-env"]);
    assert!(out.ok, "rpc-env in {name}: {}", out.stderr);
    let mut auth = TcpAuth::default();
    for line in out.stdout.lines() {
        match line.split_once('=') {
            Some(("ENIGMA_RPC_TOKEN", t)) => auth.token = Some(t.to_string()),
            Some(("ENIGMA_RPC_FINGERPRINT", f)) => auth = auth.pin(f).expect("a fingerprint"),
            _ => panic!("rpc-env in {name} printed {line:?}"),
        }
    }
    assert!(auth.token.is_some() && auth.fingerprint.is_some(), "{name} serves TLS with a cookie: {auth:?}");
    CREDENTIALS.lock().unwrap().get_or_insert_with(HashMap::new).insert(endpoint.to_string(), auth.clone());
    auth
}

/// A client of a published client API, with its credential (TLS pinned to the node's certificate).
fn connect(endpoint: &str) -> Result<Client, ClientError> {
    let auth = CREDENTIALS.lock().unwrap().as_ref().and_then(|m| m.get(endpoint).cloned());
    let auth = auth.unwrap_or_else(|| panic!("no credential learnt for {endpoint}"));
    Client::connect_with(endpoint, &auth)
}

/// Calls a method over a node's published client API, failing the test if it hangs.
fn call_at(endpoint: &str, method: &str, params: Json) -> Result<Json, ClientError> {
    let (ep, m) = (endpoint.to_string(), method.to_string());
    within(&format!("{method} via {endpoint}"), REQUEST_LIMIT, move || connect(&ep)?.call(&m, params))
}

fn load_at(endpoint: &str, key: &str) -> Result<Value, ClientError> {
    let (ep, k) = (endpoint.to_string(), key.to_string());
    within(&format!("load via {endpoint}"), REQUEST_LIMIT, move || connect(&ep)?.load(&k))
}

/// `docker exec <container> /enigma ARGS` (the client finds the node through $ENIGMA_SOCKET).
fn exec_in(container: &str, args: &[&str]) -> Out {
    let mut all = vec!["exec", container, "/enigma"];
    all.extend_from_slice(args);
    run(Command::new("docker").args(&all), REQUEST_LIMIT).unwrap_or_else(|e| panic!("{e}"))
}

/// A failed CLI call must be one clear line, `enigma: <message>`, not a panic or a dump.
fn assert_clean_cli_error(out: &Out, what: &str) {
    let err = out.stderr.trim();
    assert!(
        err.starts_with("enigma: ") && err.lines().count() == 1 && !err.contains("panicked"),
        "{what}: not a clean error: {err:?}"
    );
}

// ---------------------------------------------------------------------------------------------------
// The five-container network

struct Net {
    guard: Guard,
    image: String,
    network: String,
    ips: Vec<Ipv4Addr>,
    names: Vec<String>,
    peer_ids: Vec<String>,
    /// Host port of each node's published client API (changes when a container restarts).
    ports: Vec<u16>,
    running: Vec<bool>,
}

impl Net {
    fn start() -> Net {
        let prefix = run_prefix();
        let guard = Guard { prefix: prefix.clone(), compose: None };
        let image = step("1. build the image FROM scratch", || build_image(&prefix));
        let network = format!("{prefix}-net");
        let (base, bits) = free_subnet(&format!("{prefix}-probe"));
        must(&["network", "create", "--driver", "bridge", "--subnet", &format!("{base}/{bits}"), &network]);
        let mut net = Net {
            guard,
            image,
            network,
            ips: (0..NODES as u32).map(|i| nth(base, 10 + i)).collect(),
            names: (0..NODES).map(|i| format!("{prefix}-n{i}")).collect(),
            peer_ids: vec![String::new(); NODES],
            ports: vec![0; NODES],
            running: vec![false; NODES],
        };
        *CONTAINERS.lock().unwrap() = net.names.clone();
        step("1. start a seed and four joiners", || {
            for i in 0..NODES {
                net.run_node(i);
            }
        });
        net
    }

    /// `docker run -d … enigma 6655` for node 0, `… enigma <seed-ip> 6655` for the others.
    fn run_node(&mut self, i: usize) {
        let (ip, volume) = (self.ips[i].to_string(), format!("{}-v{i}", self.guard.prefix));
        let mount = format!("{volume}:/data");
        let publish = format!("127.0.0.1::{RPC_PORT}");
        let seed = self.ips[0].to_string();
        let port = PEER_PORT.to_string();
        let rpc = format!("0.0.0.0:{RPC_PORT}");
        let timeout = REQUEST_TIMEOUT.to_string();
        let mut args = vec![
            "run",
            "-d",
            "--name",
            &self.names[i],
            "--network",
            &self.network,
            "--ip",
            &ip,
            "-v",
            &mount,
            "-p",
            &publish,
            // the load's per-holder answers, for the log a slow step prints
            "-e",
            "ENIGMA_LOG=info,enigma_actors::front::load=debug,enigma::rpc=debug",
            &self.image,
        ];
        if i > 0 {
            args.push(&seed);
        }
        args.extend([port.as_str(), "--rpc", &rpc, "--rpc-tls", "--request-timeout", &timeout, "--group-size", "5"]);
        must(&args);
        self.came_up(i);
    }

    /// After `docker run` / `docker start`: wait for the node's client socket, learn its peer id and
    /// its published port.
    fn came_up(&mut self, i: usize) {
        let name = self.names[i].clone();
        let status = wait_for(&format!("node {i} ({name}) to answer `status`"), Duration::from_secs(30), || {
            if docker(&["inspect", "-f", "{{.State.Running}}", &name]).as_deref() != Ok("true") {
                let logs = docker(&["logs", "--tail", "30", &name]).unwrap_or_default();
                panic!("container {name} is not running:\n{logs}");
            }
            let out = exec_in(&name, &["status"]);
            if !out.ok {
                return None;
            }
            serde_json::from_str::<Json>(&out.stdout).ok()
        });
        let peer_id = status["peer_id"].as_str().expect("peer_id").to_string();
        if self.peer_ids[i].is_empty() {
            self.peer_ids[i] = peer_id;
        } else {
            assert_eq!(self.peer_ids[i], peer_id, "node {i} keeps its peer id across a restart (it is in its volume)");
        }
        self.refresh_port(i);
        self.running[i] = true;
    }

    /// The host port Docker publishes the node's client API on: a new one after every `docker start`
    /// and every `docker network connect`.
    fn refresh_port(&mut self, i: usize) {
        let name = &self.names[i];
        let mapped = must(&["port", name, &format!("{RPC_PORT}/tcp")]);
        self.ports[i] = mapped
            .lines()
            .find_map(|l| l.trim().strip_prefix("127.0.0.1:"))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no 127.0.0.1 port published for {name}: {mapped:?}"));
        learn_credential(name, &format!("127.0.0.1:{}", self.ports[i]));
    }

    fn endpoint(&self, i: usize) -> String {
        assert!(self.running[i], "node {i} is not running");
        format!("127.0.0.1:{}", self.ports[i])
    }

    fn call(&self, i: usize, method: &str, params: Json) -> Result<Json, ClientError> {
        call_at(&self.endpoint(i), method, params)
    }

    fn load(&self, i: usize, key: &str) -> Result<Value, ClientError> {
        load_at(&self.endpoint(i), key)
    }

    fn store(&self, i: usize, data: Json) -> String {
        let key = self.call(i, "store", json!({ "data": data })).unwrap_or_else(|e| panic!("store on node {i}: {e}"));
        key.as_str().expect("a key").to_string()
    }

    fn exec(&self, i: usize, args: &[&str]) -> Out {
        exec_in(&self.names[i], args)
    }

    /// `docker exec … /enigma ARGS` that must succeed; its stdout.
    fn cli(&self, i: usize, args: &[&str]) -> String {
        let out = self.exec(i, args);
        assert!(out.ok, "`enigma {}` on node {i} failed: {}", args.join(" "), out.stderr.trim());
        out.stdout.trim().to_string()
    }

    fn peers_of(&self, i: usize) -> Option<BTreeSet<String>> {
        let out = self.exec(i, &["peers", "--format", "text"]);
        out.ok.then(|| out.stdout.lines().map(|l| l.trim().to_string()).collect())
    }

    /// Waits until every running node sees every other running node (asked with `docker exec`).
    fn wait_mesh(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        for i in (0..NODES).filter(|&i| self.running[i]) {
            let want: BTreeSet<String> =
                (0..NODES).filter(|&j| j != i && self.running[j]).map(|j| self.peer_ids[j].clone()).collect();
            wait_for(
                &format!("node {i} to see the {} others", want.len()),
                deadline.saturating_duration_since(Instant::now()),
                || self.peers_of(i).filter(|seen| seen.is_superset(&want)).map(|_| ()),
            );
        }
    }

    fn held(&self, i: usize) -> u64 {
        self.call(i, "status", json!({})).expect("status")["held_shares"].as_u64().expect("held_shares")
    }

    fn kill(&mut self, i: usize) {
        must(&["kill", &self.names[i]]);
        self.running[i] = false;
    }

    fn restart(&mut self, i: usize) {
        must(&["start", &self.names[i]]);
        self.came_up(i);
    }
}

// ---------------------------------------------------------------------------------------------------
// Data-processing calls (step 2b)

/// The data the compute checks use, stored through the owner's node.
struct MpcData {
    scalars: [(String, f64); 3],
    x: (String, Vec<f64>),
    y: (String, Vec<f64>),
    a: String,
    b: String,
    inv: String,
    singular: String,
}

impl MpcData {
    /// How many keys it stored.
    fn keys(&self) -> u64 {
        self.scalars.len() as u64 + 6
    }
}

fn store_mpc_data(net: &Net, i: usize) -> MpcData {
    let x = vec![1.0, 2.0, 3.0, 4.0, 5.0];
    let y = vec![2.1, 3.9, 6.2, 7.8, 10.1];
    MpcData {
        scalars: [(net.store(i, json!(3)), 3.0), (net.store(i, json!(11)), 11.0), (net.store(i, json!(-4)), -4.0)],
        x: (net.store(i, json!([1, 2, 3, 4, 5])), x),
        y: (net.store(i, json!(y)), y),
        a: net.store(i, json!([[1, 2], [3, 4]])),
        b: net.store(i, json!([[5, 6], [7, 8]])),
        inv: net.store(i, json!([[4, 7], [2, 6]])),
        singular: net.store(i, json!([[1, 2], [2, 4]])),
    }
}

/// Numbers of a JSON answer (a typed value is unwrapped), flattened.
fn numbers(j: &Json) -> Vec<f64> {
    let j = if j.get("type").is_some() {
        api::value_from_json(j).unwrap_or_else(|e| panic!("malformed typed value {j}: {e}")).to_json()
    } else {
        j.clone()
    };
    fn flat(j: &Json, out: &mut Vec<f64>) {
        match j {
            Json::Array(a) => a.iter().for_each(|x| flat(x, out)),
            Json::Number(n) => out.push(n.as_f64().expect("a number")),
            other => panic!("not a number: {other}"),
        }
    }
    let mut out = Vec::new();
    flat(&j, &mut out);
    out
}

fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: got {got:?}, want {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol * w.abs().max(1.0), "{what}: got {got:?}, want {want:?}");
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn var(v: &[f64]) -> f64 {
    let m = mean(v);
    v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64
}

/// Step 2b through node `i` (which has the owner's identity).
fn check_mpc_calls(net: &Net, i: usize, d: &MpcData) {
    let call = |method: &str, params: Json| -> Json {
        net.call(i, method, params).unwrap_or_else(|e| panic!("{method} on node {i}: {e}"))
    };
    let scalar_keys: Vec<&str> = d.scalars.iter().map(|(k, _)| k.as_str()).collect();
    // max / min of scalars: one of the input keys
    assert_eq!(call("stats.max", json!({ "keys": scalar_keys })), json!(d.scalars[1].0));
    assert_eq!(call("stats.min", json!({ "keys": scalar_keys })), json!(d.scalars[2].0));
    // max / min of an array: a new key to a secret result
    let kmax = call("stats.max", json!({ "keys": [d.x.0] }));
    let kmax = kmax.as_str().expect("stats.max of an array gives a key");
    assert_ne!(kmax, d.x.0);
    let vmax = net.load(i, kmax).expect("load the max").to_json();
    assert_close("max of x", &numbers(&vmax), &[5.0], 1e-4);

    let (x, y) = (&d.x.1, &d.y.1);
    let one = |m: &str| numbers(&call(m, json!({ "keys": [d.x.0] })));
    assert_close("mean", &one("stats.mean"), &[mean(x)], 1e-4);
    assert_close("var", &one("stats.var"), &[var(x)], 1e-3);
    assert_close("std", &one("stats.std"), &[var(x).sqrt()], 1e-3);
    let both: Vec<f64> = x.iter().chain(y).copied().collect();
    assert_close(
        "mean of two keys",
        &numbers(&call("stats.mean", json!({ "keys": [d.x.0, d.y.0] }))),
        &[mean(&both)],
        1e-4,
    );

    // linregress: slope, intercept, r from the definitions; std_err from slope, r and n
    let (mx, my) = (mean(x), mean(y));
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let syy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    let slope = sxy / sxx;
    let r = sxy / (sxx * syy).sqrt();
    let n = x.len() as f64;
    let std_err = slope * ((1.0 - r * r) / (n - 2.0)).sqrt() / r;
    let lr = numbers(&call("stats.linregress", json!({ "key_x": d.x.0, "key_y": d.y.0 })));
    assert_eq!(lr.len(), 5, "linregress gives 5 values: {lr:?}");
    assert_close("linregress slope, intercept, r", &lr[..3], &[slope, my - slope * mx, r], 1e-3);
    assert!((0.0..1e-3).contains(&lr[3]), "p_value {}", lr[3]);
    assert_close("linregress std_err", &lr[4..], &[std_err], 1e-2);

    assert_close(
        "dot",
        &numbers(&call("linalg.dot", json!({ "key_a": d.a, "key_b": d.b }))),
        &[19.0, 22.0, 43.0, 50.0],
        1e-4,
    );
    assert_close("dot of 1-D", &numbers(&call("linalg.dot", json!({ "key_a": d.x.0, "key_b": d.x.0 }))), &[55.0], 1e-4);
    assert_close("inv", &numbers(&call("linalg.inv", json!({ "key": d.inv }))), &[0.6, -0.7, -0.2, 0.4], 1e-3);
    let err = net.call(i, "linalg.inv", json!({ "key": d.singular })).expect_err("inverse of a singular matrix");
    assert_eq!(err.code(), Some(ErrorCode::Singular), "{err}");
}

// ---------------------------------------------------------------------------------------------------
// Step 5: requests while a node is cut off

/// One request made while the network changed under it.
struct Req {
    via: &'static str,
    started: Duration,
    took: Duration,
    /// `Ok(())`: the right value; `Err(message)`: a clean error.
    outcome: Result<(), String>,
}

/// Requests in a loop until `stop`: every one must end within REQUEST_LIMIT with the right value or a
/// clean error (a wrong value or a messy error fails the test at once).
fn traffic(
    via: &'static str,
    t0: Instant,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Req>>>,
    mut once: impl FnMut() -> Result<(), String> + Send + 'static,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            let started = t0.elapsed();
            let outcome = once();
            let took = t0.elapsed() - started;
            log.lock().unwrap().push(Req { via, started, took, outcome });
        }
    })
}

// ---------------------------------------------------------------------------------------------------
// The suite

#[test]
#[ignore = "container suite: needs a Docker engine; scripts/test.sh runs it when `docker info` works"]
fn five_containers_store_survive_loss_restart_and_partition() {
    if skip_without_docker() {
        return;
    }
    let t_suite = Instant::now();
    sweep_stale_runs();
    let mut net = Net::start();
    let prefix = net.guard.prefix.clone();

    step("1. every node sees the four others", || {
        net.wait_mesh(Duration::from_secs(90));
        let via_tcp = net.call(0, "peers", json!({})).expect("peers over TCP");
        assert_eq!(via_tcp.as_array().map(Vec::len), Some(NODES - 1), "{via_tcp}");
    });
    let owner = step("2. one identity on nodes 0, 1 and 4", || same_identity(&net));
    let mut data = step("2. store through node 0, load through node 1", || store_and_load(&net));
    step("2. every node holds a share of every key (n = 5)", || {
        for i in 0..NODES {
            assert_eq!(net.held(i), data.keys_total, "node {i}");
        }
    });
    step("2b. every data-processing call answers as numpy/scipy would", || check_mpc_calls(&net, 0, &data.mpc));
    // what each node holds before the kills (computations may have stored results since step 2)
    let held_before: Vec<u64> = (0..NODES).map(|i| net.held(i)).collect();
    step("3. docker kill t = 2 custody containers: loads still work, computations refuse clearly", || {
        for i in NODES - T..NODES {
            net.kill(i);
        }
        for (key, v) in &data.stored {
            let t0 = Instant::now();
            let got = net.load(1, key);
            eprintln!("[containers]   load of {} with t holders down: {:.1}s", &key[..12], t0.elapsed().as_secs_f64());
            assert_eq!(&got.expect("load with t holders down"), v);
        }
        // a computation never runs on fewer nodes or at a lower threshold than its inputs were
        // stored at (docs/threat-model.md): with no node left to take the lost seats, it refuses
        let r = net.call(1, "stats.mean", json!({ "keys": [data.mpc.x.0] }));
        let code = r.as_ref().err().and_then(|e| e.code());
        assert_eq!(code, Some(ErrorCode::NotEnoughNodes), "stats.mean with 2 of 5 holders down: {r:?}");
    });
    step("3. kill one more: a clear error, no hang", || {
        net.kill(NODES - T - 1);
        one_too_many_down(&net, &data.stored[1].0);
    });
    step("4. restart the killed containers: everything stored is intact", || {
        for i in NODES - T - 1..NODES {
            net.restart(i);
        }
        net.wait_mesh(Duration::from_secs(90));
        for (i, &before) in held_before.iter().enumerate() {
            let now = net.held(i);
            assert!(now >= before, "node {i} held {before} shares, now {now}");
        }
        assert_eq!(net.cli(4, &["get-pubkey", "--format", "text"]), owner, "node 4 kept its identity");
        for (key, v) in &data.stored {
            assert_eq!(&net.load(1, key).expect("load after restart"), v);
            assert_eq!(&net.load(4, key).expect("load through a restarted node"), v);
        }
        let shown = net.cli(2, &["load", &data.own2]);
        assert_eq!(shown.split_whitespace().collect::<String>(), "[1,2,3]");
        // every holder back: the computations run again, at the inputs' threshold
        check_mpc_calls(&net, 1, &data.mpc);
    });
    step("5. cut node 4 off during requests; reconnect: it rejoins and serves", || {
        cut_off_and_rejoin(&mut net, &mut data)
    });
    step("6. remove everything the run created", || {
        drop(net);
        let left = leftovers(&prefix);
        assert!(left.is_empty(), "left behind: {left:?}");
    });
    eprintln!("[containers] suite passed in {:.1}s", t_suite.elapsed().as_secs_f64());
}

/// Step 2: a new identity on node 0, set on nodes 1 and 4 with `set-privkey`; its public key.
fn same_identity(net: &Net) -> String {
    let (sk, pk): (String, String) =
        serde_json::from_value(net.call(0, "gen_key", json!({})).expect("gen_key")).expect("(private_key, public_key)");
    for i in [1, 4] {
        assert_eq!(net.cli(i, &["set-privkey", &sk]), "true", "node {i}");
        assert_eq!(net.cli(i, &["get-pubkey", "--format", "text"]), pk, "node {i}");
    }
    assert_eq!(net.cli(1, &["set-privkey", "00"]), "false", "an invalid private key is refused");
    pk
}

/// What the story stored.
struct Stored {
    /// (key, value) stored through node 0 under the shared identity; [1] is a matrix, the last 3 MiB.
    stored: Vec<(String, Value)>,
    /// A key node 2 stored under its own identity.
    own2: String,
    mpc: MpcData,
    /// Keys every node holds a share of.
    keys_total: u64,
}

/// Step 2: values of every kind stored through node 0 (published API) load through node 1 (same
/// identity) and through `docker exec`; another identity is refused.
fn store_and_load(net: &Net) -> Stored {
    let samples = [
        json!(24),
        json!([[90, 60, 90], [88, 57, 89], [92, 64, 91]]),
        json!([0.1, -2.25, 3.0, 1e6]),
        json!([[[1, 2], [3, 4]], [[5, 6], [7, 8]]]),
        json!("a string ✓"),
        json!({ "name": "Ada", "tags": ["x", 1, null] }),
    ];
    let mut stored: Vec<(String, Value)> = Vec::new();
    for data in &samples {
        let key = net.store(0, data.clone());
        assert!(key.len() == 64 && key.chars().all(|c| c.is_ascii_hexdigit()), "{key}");
        let v = net.load(1, &key).unwrap_or_else(|e| panic!("load {data}: {e}"));
        assert_eq!(v.to_json(), *data, "loaded through node 1");
        stored.push((key, v));
    }
    // 3 MiB of bytes: a request that takes a while (step 5 loads it in a loop)
    let mut big = vec![0u8; 3 << 20];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for b in big.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let big = Value::Bytes(big);
    let (ep, v) = (net.endpoint(0), big.clone());
    let key = within("store 3 MiB", REQUEST_LIMIT, move || connect(&ep)?.store(&v)).expect("store bytes");
    assert_eq!(net.load(1, &key).expect("load bytes"), big);
    stored.push((key, big));

    // `docker exec … /enigma load` on node 1 prints the same value
    let shown: Json = serde_json::from_str(&net.cli(1, &["load", &stored[1].0])).unwrap();
    assert_eq!(shown, samples[1]);
    // another identity (node 3) is refused
    let err = net.load(3, &stored[0].0).expect_err("node 3 is another owner");
    assert_eq!(err.code(), Some(ErrorCode::AccessDenied), "{err}");
    // a key stored with the CLI on node 2, under node 2's own identity
    let own2 = net.cli(2, &["store", "[1,2,3]", "--format", "text"]);
    let shown = net.cli(2, &["load", &own2]);
    assert_eq!(shown.split_whitespace().collect::<String>(), "[1,2,3]");

    let mpc = store_mpc_data(net, 0);
    let keys_total = stored.len() as u64 + 1 + mpc.keys();
    Stored { stored, own2, mpc, keys_total }
}

/// Step 3: with t + 1 custody nodes down, a load through the published API and one through
/// `docker exec` both end in "not enough custody nodes" (asked at the same time).
fn one_too_many_down(net: &Net, key: &str) {
    let name1 = net.names[1].clone();
    let k = key.to_string();
    let t0 = Instant::now();
    let cli = std::thread::spawn(move || exec_in(&name1, &["load", &k]));
    let err = net.load(1, key).expect_err("3 of 5 holders down: t + 1 = 3 shares are not there");
    eprintln!("[containers]   error after {:.1}s: {err}", t0.elapsed().as_secs_f64());
    assert_eq!(err.code(), Some(ErrorCode::NotEnoughNodes), "{err}");
    assert!(err.to_string().contains("not enough custody nodes"), "{err}");
    let out = cli.join().expect("the CLI load");
    assert!(!out.ok, "the CLI load succeeded: {}", out.stdout);
    assert_clean_cli_error(&out, "load with 3 holders down");
    assert!(out.stderr.contains("not enough custody nodes"), "{}", out.stderr);
}

/// Step 5: node 4 (same identity as node 0) is disconnected from the network while requests run
/// through it (`docker exec`) and through node 0 (published API: loads of 3 MiB and stores). Every
/// request must end within its deadline with the right value or a clean error; after reconnecting,
/// node 4 sees everyone again, loads and stores, and the keys stored during the cut load everywhere.
fn cut_off_and_rejoin(net: &mut Net, data: &mut Stored) {
    let t0 = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let log: Arc<Mutex<Vec<Req>>> = Arc::default();
    let made: Arc<Mutex<Vec<(String, Json)>>> = Arc::default();

    let (matrix_key, matrix) = data.stored[1].clone();
    let name4 = net.names[4].clone();
    let through_4 = traffic("node 4", t0, stop.clone(), log.clone(), move || {
        let out = exec_in(&name4, &["load", &matrix_key]);
        if out.ok {
            let got: Json = serde_json::from_str(&out.stdout).expect("JSON");
            assert_eq!(got, matrix.to_json(), "a wrong value through the cut node");
            Ok(())
        } else {
            assert_clean_cli_error(&out, "load through the cut node");
            Err(out.stderr.trim().to_string())
        }
    });
    let (big_key, big) = data.stored.last().cloned().unwrap();
    let (ep0, made0) = (net.endpoint(0), made.clone());
    let mut n = 0i64;
    let through_0 = traffic("node 0", t0, stop.clone(), log.clone(), move || {
        let clean = |e: ClientError| -> String {
            assert!(
                matches!(e.code(), Some(ErrorCode::NotEnoughNodes | ErrorCode::Timeout | ErrorCode::Unavailable)),
                "not a clean error through node 0: {e}"
            );
            e.to_string()
        };
        // alternately a store (kept, checked after the cut) and a load of 3 MiB
        n += 1;
        if n % 2 == 1 {
            let value = json!([n, -n, n * 1000]);
            let key = call_at(&ep0, "store", json!({ "data": value })).map_err(clean)?;
            made0.lock().unwrap().push((key.as_str().expect("a key").to_string(), value));
            Ok(())
        } else {
            let v = load_at(&ep0, &big_key).map_err(clean)?;
            assert!(v == big, "a wrong value through node 0");
            Ok(())
        }
    });
    wait_for("requests through node 4 to run", Duration::from_secs(30), || {
        (log.lock().unwrap().iter().any(|r| r.via == "node 4")).then_some(())
    });

    let cut_at = t0.elapsed();
    must(&["network", "disconnect", &net.network, &net.names[4]]);
    eprintln!("[containers]   node 4 cut off at {:.1}s", cut_at.as_secs_f64());
    let (p4, ep0) = (net.peer_ids[4].clone(), net.endpoint(0));
    wait_for("node 0 to notice node 4 is gone", Duration::from_secs(60), || {
        let peers = call_at(&ep0, "peers", json!({})).ok()?;
        (!peers.as_array()?.iter().any(|p| p.as_str() == Some(&p4))).then_some(())
    });
    eprintln!("[containers]   node 0 saw node 4 go at {:.1}s", t0.elapsed().as_secs_f64());
    wait_for(
        "a request through node 4 made while it was cut off to end",
        REQUEST_LIMIT + Duration::from_secs(10),
        || log.lock().unwrap().iter().any(|r| r.via == "node 4" && r.started > cut_at).then_some(()),
    );
    let ip4 = net.ips[4].to_string();
    must(&["network", "connect", "--ip", &ip4, &net.network, &net.names[4]]);
    net.refresh_port(4);
    let back_at = t0.elapsed();
    eprintln!("[containers]   node 4 reconnected at {:.1}s", back_at.as_secs_f64());
    net.wait_mesh(Duration::from_secs(120));
    eprintln!("[containers]   every node sees the others again at {:.1}s", t0.elapsed().as_secs_f64());
    stop.store(true, Ordering::SeqCst);
    through_4.join().expect("requests through node 4");
    through_0.join().expect("requests through node 0");

    let log = log.lock().unwrap();
    for r in log.iter() {
        assert!(r.took <= REQUEST_LIMIT, "a request via {} took {:?} (limit {REQUEST_LIMIT:?})", r.via, r.took);
    }
    for via in ["node 4", "node 0"] {
        let during: Vec<&Req> =
            log.iter().filter(|r| r.via == via && r.started + r.took > cut_at && r.started < back_at).collect();
        let failed: Vec<&String> = during.iter().filter_map(|r| r.outcome.as_ref().err()).collect();
        let slowest = during.iter().map(|r| r.took).max().unwrap_or_default();
        eprintln!(
            "[containers]   through {via}: {} requests overlapped the cut, {} ended in a clean error, slowest {:.1}s{}",
            during.len(),
            failed.len(),
            slowest.as_secs_f64(),
            failed.first().map(|e| format!(", e.g. {e:?}")).unwrap_or_default()
        );
        assert!(!during.is_empty(), "no request through {via} overlapped the cut");
    }

    // node 4 serves again: it loads, it stores, and what node 0 stored meanwhile loads through it
    wait_for("node 4 to load again", Duration::from_secs(60), || {
        let out = net.exec(4, &["load", &data.stored[1].0]);
        (out.ok && serde_json::from_str::<Json>(&out.stdout).ok()? == data.stored[1].1.to_json()).then_some(())
    });
    let k = net.cli(4, &["store", "[7,8,9]", "--format", "text"]);
    assert_eq!(net.load(0, &k).expect("load what node 4 stored").to_json(), json!([7, 8, 9]));
    for (key, v) in &data.stored {
        assert_eq!(&net.load(4, key).expect("load through node 4"), v);
    }
    let made = made.lock().unwrap();
    for (key, v) in made.iter() {
        assert_eq!(&net.load(4, key).expect("a key stored during the cut").to_json(), v);
    }
    eprintln!("[containers]   {} keys stored through node 0 during the run load through node 4", made.len());
}

/// `docker compose` (the plugin) or `docker-compose`, whichever works here.
fn compose_command() -> Option<Vec<String>> {
    for cmd in [&["docker", "compose"][..], &["docker-compose"][..]] {
        let ok = run(Command::new(cmd[0]).args(&cmd[1..]).arg("version"), Duration::from_secs(30)).is_ok_and(|o| o.ok);
        if ok {
            return Some(cmd.iter().map(|s| s.to_string()).collect());
        }
    }
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

/// GET `path` on a published port, with a bearer token or none: (status line, body).
fn http_get(ep: &str, path: &str, token: Option<&str>) -> (String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(ep).unwrap_or_else(|e| panic!("connect {ep}: {e}"));
    s.set_read_timeout(Some(REQUEST_LIMIT)).unwrap();
    s.set_write_timeout(Some(REQUEST_LIMIT)).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {ep}\r\nConnection: close\r\n{auth}\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap_or_else(|e| panic!("GET {path} on {ep}: {e}"));
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP response: {raw:?}"));
    (head.lines().next().unwrap_or_default().to_string(), body.to_string())
}

#[test]
#[ignore = "container suite: needs a Docker engine; scripts/test.sh runs it when `docker info` works"]
fn compose_file_brings_up_five_nodes_usable_from_the_host() {
    if skip_without_docker() {
        return;
    }
    let Some(compose) = compose_command() else {
        eprintln!("[containers] SKIPPED: neither `docker compose` nor `docker-compose` works here");
        return;
    };
    sweep_stale_runs();
    let prefix = run_prefix();
    let mut guard = Guard { prefix: prefix.clone(), compose: None };
    let image = step("compose: build the image", || build_image(&prefix));
    // the compose file's defaults (172.28.0.0/24, port 7000) may be taken here: override them
    let (base, bits) = free_subnet(&format!("{prefix}-probe"));
    let port = free_port();
    let metrics_port = free_port();
    let env: Vec<(String, String)> = vec![
        ("ENIGMA_IMAGE".into(), image),
        ("ENIGMA_SUBNET".into(), format!("{base}/{bits}")),
        ("ENIGMA_RPC_PORT".into(), port.to_string()),
        ("ENIGMA_METRICS_PORT".into(), metrics_port.to_string()),
    ];
    let mut cmd = compose.clone();
    cmd.extend(["-p".to_string(), format!("{prefix}c"), "-f".to_string(), format!("{REPO}/docker/compose.yml")]);
    guard.compose = Some(Compose { cmd: cmd.clone(), env: env.clone() });
    let compose_run = |args: &[&str]| -> String {
        let mut c = Command::new(&cmd[0]);
        c.args(&cmd[1..]).args(args);
        for (k, v) in &env {
            c.env(k, v);
        }
        let out = run(&mut c, Duration::from_secs(180)).unwrap_or_else(|e| panic!("{e}"));
        assert!(out.ok, "compose {}: {}{}", args.join(" "), out.stdout, out.stderr);
        out.stdout
    };

    step("compose: up -d brings up five nodes that see each other", || {
        compose_run(&["up", "-d"]);
        let ids: Vec<String> =
            compose_run(&["ps", "-q"]).lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect();
        assert_eq!(ids.len(), NODES, "{ids:?}");
        let deadline = Instant::now() + Duration::from_secs(90);
        for id in &ids {
            wait_for(
                &format!("container {id} to see the four others"),
                deadline.saturating_duration_since(Instant::now()),
                || {
                    let out = exec_in(id, &["peers", "--format", "text"]);
                    (out.ok && out.stdout.lines().count() >= NODES - 1).then_some(())
                },
            );
        }
    });

    step("compose: node0's client API on the host (Rust client and CLI)", || {
        let ep = format!("127.0.0.1:{port}");
        let node0 = compose_run(&["ps", "-q", "node0"]).trim().to_string();
        let auth = learn_credential(&node0, &ep);
        // without the credential the published port is no use
        let refused = within("a call without the credential", REQUEST_LIMIT, {
            let ep = ep.clone();
            move || Client::connect_with(&ep, &TcpAuth { token: None, ..auth.clone() })?.call("peers", json!({}))
        });
        assert_eq!(refused.as_ref().err().and_then(ClientError::code), Some(ErrorCode::Unauthorized), "{refused:?}");
        let peers = call_at(&ep, "peers", json!({})).expect("peers");
        assert_eq!(peers.as_array().map(Vec::len), Some(NODES - 1), "{peers}");
        let data = json!([[90, 60, 90], [88, 57, 89]]);
        let key = call_at(&ep, "store", json!({ "data": data })).expect("store");
        let key = key.as_str().expect("a key");
        assert_eq!(load_at(&ep, key).expect("load").to_json(), data);
        let creds = exec_in(&node0, &["rpc-env"]).stdout;
        let mut cli = Command::new(BIN);
        cli.args(["load", key, "--socket", &ep]);
        for (k, v) in creds.lines().filter_map(|l| l.split_once('=')) {
            cli.env(k, v);
        }
        let out = run(&mut cli, REQUEST_LIMIT).unwrap_or_else(|e| panic!("{e}"));
        assert!(out.ok, "enigma load {key} --socket {ep}: {}", out.stderr);
        let shown: Json = serde_json::from_str(&out.stdout).expect("JSON");
        assert_eq!(shown, data);
    });

    step("compose: node0's dashboard port on the host asks for the token, /healthz does not", || {
        let node0 = compose_run(&["ps", "-q", "node0"]).trim().to_string();
        let token = exec_in(&node0, &["rpc-env"])
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("ENIGMA_RPC_TOKEN=").map(str::to_string))
            .expect("rpc-env prints the token");
        let ep = format!("127.0.0.1:{metrics_port}");
        let (status, body) = http_get(&ep, "/healthz", None);
        assert_eq!((status.as_str(), body.as_str()), ("HTTP/1.1 200 OK", "ok\n"));
        let (status, body) = http_get(&ep, "/metrics", None);
        assert_eq!(status, "HTTP/1.1 401 Unauthorized", "{body}");
        assert!(!body.contains("enigma_peers"), "{body}");
        let (status, body) = http_get(&ep, "/metrics", Some(&token));
        assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
        assert!(body.lines().any(|l| l == format!("enigma_peers {}", NODES - 1)), "{body}");
    });

    step("compose: down -v removes everything", || {
        drop(guard);
        let left = leftovers(&prefix);
        assert!(left.is_empty(), "left behind: {left:?}");
    });
}
