//! Test support: clusters of real `enigma` node processes on 127.0.0.1, each with its own temporary
//! data directory, joined through node 0 exactly as a user would (`enigma 127.0.0.1 <port>`).
//!
//! Every wait polls a condition with a deadline; nothing sleeps to wait for state. Nodes are killed
//! when the cluster is dropped, also when a test fails.

#![allow(dead_code)]

use enigma_client::Client;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_enigma");

/// Polls `cond` until it returns `Some` or the deadline passes.
pub fn wait_for<T>(what: &str, timeout: Duration, mut cond: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = cond() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub struct Node {
    pub dir: PathBuf,
    pub port: u16,
    pub peer_id: String,
    child: Option<Child>,
    extra: Vec<String>,
    seed_port: Option<u16>,
}

impl Node {
    pub fn socket(&self) -> String {
        self.dir.join("enigma.sock").to_string_lossy().into_owned()
    }

    pub fn client(&self) -> Client {
        let s = self.socket();
        wait_for("the client socket", Duration::from_secs(10), || Client::connect(&s).ok())
    }

    /// The node's `node.json` (peer id, addresses, client API endpoint and certificate fingerprint).
    pub fn info(&self) -> Json {
        let text = std::fs::read_to_string(self.dir.join("node.json")).expect("node.json");
        serde_json::from_str(&text).expect("node.json is JSON")
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The node process's peak resident memory so far (VmHWM, bytes), while it runs.
    pub fn peak_rss(&self) -> Option<u64> {
        let pid = self.child.as_ref()?.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }

    /// SIGKILL: the node dies as in a crash.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(dir: &Path, args: &[String]) -> Child {
    spawn_bin(Path::new(BIN), dir, args, &[])
}

fn spawn_bin(bin: &Path, dir: &Path, args: &[String], envs: &[(String, String)]) -> Child {
    std::fs::create_dir_all(dir).unwrap();
    let _ = std::fs::remove_file(dir.join("node.json"));
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("node.log")).unwrap();
    Command::new(bin)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .arg("--listen-ip")
        .arg("127.0.0.1")
        .env("ENIGMA_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("starting the enigma binary")
}

fn read_info(dir: &Path, child: &mut Child) -> (u16, String) {
    wait_for(&format!("node.json in {}", dir.display()), Duration::from_secs(30), || {
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(dir.join("node.log")).unwrap_or_default();
            panic!("node in {} exited with {status}:\n{log}", dir.display());
        }
        let text = std::fs::read_to_string(dir.join("node.json")).ok()?;
        let info: Json = serde_json::from_str(&text).ok()?;
        let port = info["listen"]
            .as_array()?
            .iter()
            .filter_map(|a| a.as_str())
            .find_map(|a| a.rsplit_once("/tcp/").and_then(|(_, p)| p.parse().ok()))?;
        Some((port, info["peer_id"].as_str()?.to_string()))
    })
}

/// Options for a cluster.
#[derive(Clone, Debug)]
pub struct Opts {
    pub nodes: usize,
    pub group_size: usize,
    pub extra: Vec<String>,
}

/// Node `index` of a cluster runs another binary, with these environment variables (a corrupted
/// engine, tests/integrity.rs).
pub struct OddOne {
    pub index: usize,
    pub bin: std::path::PathBuf,
    pub envs: Vec<(String, String)>,
}

impl Default for Opts {
    fn default() -> Opts {
        Opts { nodes: 5, group_size: 5, extra: vec![] }
    }
}

pub struct Cluster {
    pub nodes: Vec<Node>,
    _root: tempfile::TempDir,
}

impl Cluster {
    pub fn start(opts: Opts) -> Cluster {
        Self::start_with(opts, None)
    }

    /// [`Cluster::start`], with one node running another binary.
    pub fn start_with(opts: Opts, odd_one: Option<OddOne>) -> Cluster {
        // short paths: Unix socket paths are limited to ~100 bytes
        let root = tempfile::Builder::new().prefix("enig").tempdir_in("/tmp").unwrap();
        let mut extra = vec!["--group-size".to_string(), opts.group_size.to_string()];
        extra.extend(opts.extra.clone());
        let mut nodes: Vec<Node> = Vec::new();
        for i in 0..opts.nodes {
            let dir = root.path().join(format!("n{i}"));
            let seed_port = nodes.first().map(|n| n.port);
            let mut args = match seed_port {
                None => vec!["0".to_string()],
                Some(p) => vec!["127.0.0.1".into(), p.to_string(), "--port".into(), "0".into()],
            };
            args.extend(extra.clone());
            let mut child = match &odd_one {
                Some(o) if o.index == i => spawn_bin(&o.bin, &dir, &args, &o.envs),
                _ => spawn(&dir, &args),
            };
            let (port, peer_id) = read_info(&dir, &mut child);
            nodes.push(Node { dir, port, peer_id, child: Some(child), extra: extra.clone(), seed_port });
        }
        let c = Cluster { nodes, _root: root };
        c.wait_full_mesh();
        c
    }

    /// Waits until every running node sees every other running node.
    pub fn wait_full_mesh(&self) {
        let running: Vec<&Node> = self.nodes.iter().filter(|n| n.is_running()).collect();
        let want = running.len() - 1;
        for n in &running {
            wait_for(&format!("{} to see {want} peers", n.dir.display()), Duration::from_secs(60), || {
                let peers = Client::connect(&n.socket()).ok()?.peers().ok()?;
                (peers.len() >= want).then_some(())
            });
        }
    }

    pub fn client(&self, i: usize) -> Client {
        self.nodes[i].client()
    }

    pub fn kill(&mut self, i: usize) {
        self.nodes[i].kill();
    }

    /// Restarts a killed node with the same data directory and port, joining through node 0 (or,
    /// for node 0, through node 1).
    pub fn restart(&mut self, i: usize) {
        let seed_port = if i == 0 { self.nodes[1].port } else { self.nodes[0].port };
        let n = &mut self.nodes[i];
        assert!(n.child.is_none(), "node {i} is running");
        let mut args = vec!["127.0.0.1".into(), seed_port.to_string(), "--port".into(), n.port.to_string()];
        args.extend(n.extra.clone());
        let mut child = spawn(&n.dir, &args);
        let (port, peer_id) = read_info(&n.dir, &mut child);
        assert_eq!(peer_id, n.peer_id, "a restarted node keeps its identity");
        n.port = port;
        n.child = Some(child);
    }

    /// Starts one more node joining through node 0 (or the first running node); returns its index.
    pub fn add_node(&mut self) -> usize {
        let seed = self.nodes.iter().find(|n| n.is_running()).expect("a running node").port;
        let i = self.nodes.len();
        let dir = self._root.path().join(format!("n{i}"));
        let extra = self.nodes[0].extra.clone();
        let mut args = vec!["127.0.0.1".into(), seed.to_string(), "--port".into(), "0".into()];
        args.extend(extra.clone());
        let mut child = spawn(&dir, &args);
        let (port, peer_id) = read_info(&dir, &mut child);
        self.nodes.push(Node { dir, port, peer_id, child: Some(child), extra, seed_port: Some(seed) });
        i
    }

    /// Committed shares node `i` holds (from its status).
    pub fn held(&self, i: usize) -> u64 {
        self.client(i).status().unwrap()["held_shares"].as_u64().unwrap()
    }

    pub fn peer_index(&self, peer_id: &str) -> usize {
        self.nodes.iter().position(|n| n.peer_id == peer_id).unwrap()
    }
}
