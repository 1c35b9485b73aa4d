//! `enigma devnet`: a local network of real node processes on 127.0.0.1.
//!
//! Owns: starting node 0 as the seed and the others joining through it (each its own process, data
//! directory and port), waiting until every node is routable (it finds the group of a probe key by
//! its own lookup and reaches every member: not a full mesh), printing `ready` and the client
//! sockets, running the walkthrough with `--demo`, and stopping the nodes (also if this process
//! dies: the children get SIGTERM). Must never: give nodes a static peer list — they find each other.

use crate::cli::DevnetArgs;
use crate::run::{INFO_FILE, SOCKET_FILE, init_logging};
use anyhow::{Context, bail};
use enigma_client::Client;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The running nodes of a devnet; stopped when dropped.
pub struct Devnet {
    pub dirs: Vec<PathBuf>,
    children: Vec<Child>,
}

impl Devnet {
    pub fn socket(&self, i: usize) -> PathBuf {
        self.dirs[i].join(SOCKET_FILE)
    }

    /// The nodes' process ids (for benchmarks that read their memory).
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(|c| c.id()).collect()
    }

    fn stop(&mut self) {
        for c in &self.children {
            // SAFETY: kill(2) with a pid we spawned; no memory is involved.
            unsafe {
                libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for c in &mut self.children {
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        self.children.clear();
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn_node(exe: &Path, dir: &Path, args: &[String]) -> anyhow::Result<Child> {
    std::fs::create_dir_all(dir)?;
    let _ = std::fs::remove_file(dir.join(INFO_FILE));
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("node.log"))?;
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .arg("--data-dir")
        .arg(dir)
        .arg("--listen-ip")
        .arg("127.0.0.1")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: prctl only sets this child's parent-death signal, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    cmd.spawn().with_context(|| format!("starting {}", exe.display()))
}

/// Waits for a node's `node.json` and returns its TCP port for peers.
fn wait_info(dir: &Path, child: &mut Child, deadline: Instant) -> anyhow::Result<u16> {
    loop {
        if let Ok(text) = std::fs::read_to_string(dir.join(INFO_FILE)) {
            let info: serde_json::Value = serde_json::from_str(&text)?;
            if let Some(port) = info["listen"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str())
                .find_map(|a| a.rsplit_once("/tcp/").and_then(|(_, p)| p.parse::<u16>().ok()))
            {
                return Ok(port);
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            bail!("node in {} exited ({status}); see {}", dir.display(), dir.join("node.log").display());
        }
        if Instant::now() > deadline {
            bail!("node in {} did not start in time; see {}", dir.display(), dir.join("node.log").display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `n` nodes under `root` and waits until every node sees every other.
pub fn start(root: &Path, n: usize, base_port: u16, group_size: usize, fresh: bool) -> anyhow::Result<Devnet> {
    start_with(root, n, base_port, group_size, fresh, &[])
}

/// [`start`], with `extra` arguments for every node (e.g. `--mpc-security semi-honest`,
/// `--emulate-rtt-ms`).
pub fn start_with(
    root: &Path,
    n: usize,
    base_port: u16,
    group_size: usize,
    fresh: bool,
    extra: &[String],
) -> anyhow::Result<Devnet> {
    if n == 0 {
        bail!("a devnet needs at least one node");
    }
    let exe = std::env::current_exe().context("locating the enigma binary")?;
    let dirs: Vec<PathBuf> = (0..n).map(|i| root.join(format!("node{i}"))).collect();
    if fresh {
        for d in &dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
    let mut net = Devnet { dirs: dirs.clone(), children: Vec::new() };
    let mut common = vec!["--group-size".to_string(), group_size.to_string()];
    common.extend_from_slice(extra);
    // 60 s, and 2 s per node beyond 30 (starting a process each is most of it on a small machine)
    let deadline = Instant::now() + Duration::from_secs(60 + 2 * n.saturating_sub(30) as u64);

    let mut seed_args = vec![base_port.to_string()];
    seed_args.extend(common.clone());
    net.children.push(spawn_node(&exe, &dirs[0], &seed_args)?);
    let seed_port = wait_info(&dirs[0], &mut net.children[0], deadline)?;
    for (i, dir) in dirs.iter().enumerate().skip(1) {
        let own = if base_port == 0 { 0 } else { base_port + i as u16 };
        let mut args = vec!["127.0.0.1".to_string(), seed_port.to_string(), "--port".to_string(), own.to_string()];
        args.extend(common.clone());
        net.children.push(spawn_node(&exe, dir, &args)?);
    }
    for (dir, child) in dirs.iter().zip(net.children.iter_mut()).skip(1) {
        wait_info(dir, child, deadline)?;
    }
    wait_routable(&net, n, group_size, deadline)?;
    Ok(net)
}

/// The key devnet readiness looks up: no data is stored under it.
pub fn probe_key() -> enigma_protocol::keys::DataKey {
    enigma_protocol::keys::DataKey(*b"enigma devnet readiness probe 01")
}

/// Polls every node until it is routable: its own lookup finds the group of [`probe_key`] (as many
/// members as the network allows, within the placement check's tolerance of node 0's group) and
/// every member answers it. Not a full mesh: a node needs only its routing table and the group.
/// Networks too small for a custody group (fewer than 3 nodes) wait until every node sees the others.
pub fn wait_routable(net: &Devnet, n: usize, group_size: usize, deadline: Instant) -> anyhow::Result<()> {
    use enigma_protocol::placement::{self, check::DEFAULT_TOLERANCE};
    let Ok(want) = placement::group_size(group_size, n) else { return wait_connected(net, n, deadline) };
    let key = probe_key().to_hex();
    let group_of = |i: usize| -> Option<(Vec<String>, usize)> {
        let r = Client::connect(&net.socket(i).to_string_lossy()).and_then(|mut c| c.group(&key)).ok()?;
        let group: Vec<String> = serde_json::from_value(r["group"].clone()).ok()?;
        let reached: Vec<bool> = serde_json::from_value(r["reached"].clone()).ok()?;
        Some((group, reached.iter().filter(|x| **x).count()))
    };
    let mut reference: Option<Vec<String>> = None;
    for i in 0..n {
        loop {
            let why = match group_of(i) {
                Some((group, reached)) if group.len() == want && reached == want => match &reference {
                    None => {
                        reference = Some(group);
                        break;
                    }
                    Some(r) if group.iter().filter(|p| !r.contains(p)).count() <= DEFAULT_TOLERANCE => break,
                    Some(_) => "its group of the probe key differs from node 0's".to_string(),
                },
                Some((group, reached)) => {
                    format!("it finds {} of {want} members of the probe key's group and reaches {reached}", group.len())
                }
                None => "it does not answer yet".to_string(),
            };
            if Instant::now() > deadline {
                bail!("node {i} is not routable after the deadline: {why}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(())
}

/// Polls every node until it sees the n−1 others.
pub fn wait_connected(net: &Devnet, n: usize, deadline: Instant) -> anyhow::Result<()> {
    for i in 0..n {
        loop {
            let seen = Client::connect(&net.socket(i).to_string_lossy())
                .and_then(|mut c| c.peers())
                .map(|p| p.len())
                .unwrap_or(0);
            if seen >= n - 1 {
                break;
            }
            if Instant::now() > deadline {
                bail!("node {i} sees {seen} of {} peers after the deadline", n - 1);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(())
}

pub fn run(args: DevnetArgs) -> anyhow::Result<()> {
    init_logging("warn");
    let root = args.data_dir.clone().unwrap_or_else(|| enigma_client::enigma_home().join("devnet"));
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let root = root.canonicalize()?;
    println!("starting {} nodes under {}", args.nodes, root.display());
    let mut net = start(&root, args.nodes, args.base_port, args.group_size, args.fresh)?;
    println!("ready: {} nodes, every node finds and reaches the group of a probe key", args.nodes);
    for i in 0..args.nodes {
        println!("node{i} socket {}", net.socket(i).display());
    }
    if args.demo {
        let result = crate::demo::walkthrough(&net.socket(0).to_string_lossy());
        net.stop();
        return result;
    }
    println!("press Ctrl-C to stop (export ENIGMA_SOCKET={} to use node 0)", net.socket(0).display());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        Ok::<(), std::io::Error>(())
    })?;
    println!("stopping");
    net.stop();
    Ok(())
}
