//! The seed given by name (`enigma seed-0.enigma 6655`): the node resolves it itself with
//! hickory-resolver from /etc/hosts and /etc/resolv.conf (the binary runs FROM scratch, without the C
//! library's resolver). Real node processes on 127.0.0.1: one joins a seed given as `localhost`, one
//! as a name found only in a temporary hosts file (`ENIGMA_HOSTS_FILE`), and a name that resolves
//! nowhere stops the node with an error naming it. Every wait polls with a deadline.

mod support;

use serde_json::Value as Json;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::{BIN, wait_for};

const T: Duration = Duration::from_secs(40);

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &Path, args: &[&str], envs: &[(&str, &Path)]) -> Proc {
    std::fs::create_dir_all(dir).unwrap();
    let log = std::fs::File::create(dir.join("node.log")).unwrap();
    let child = Command::new(BIN)
        .args(args)
        .args(["--listen-ip", "127.0.0.1", "--group-size", "3", "--data-dir"])
        .arg(dir)
        .envs(envs.iter().copied())
        .env("ENIGMA_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("starting the enigma binary");
    Proc(child)
}

fn info(dir: &Path, p: &mut Proc) -> Json {
    wait_for(&format!("node.json in {}", dir.display()), T, || {
        if let Ok(Some(status)) = p.0.try_wait() {
            panic!("node in {} exited with {status}:\n{}", dir.display(), log(dir));
        }
        serde_json::from_str(&std::fs::read_to_string(dir.join("node.json")).ok()?).ok()
    })
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("node.log")).unwrap_or_default()
}

fn p2p_port(info: &Json) -> String {
    info["listen"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|a| a.as_str()?.rsplit_once("/tcp/").map(|(_, p)| p.to_string()))
        .unwrap()
}

/// Waits until the node in `dir` sees `peer`.
fn sees(dir: &Path, peer: &str) {
    let socket = dir.join("enigma.sock");
    wait_for(&format!("{} to see the seed {peer}", dir.display()), T, || {
        let mut c = enigma_client::Client::connect(socket.to_str()?).ok()?;
        c.peers().ok()?.iter().any(|p| p == peer).then_some(())
    });
}

#[test]
fn nodes_join_a_seed_given_by_name() {
    let root = tempfile::tempdir().unwrap();
    let seed_dir = root.path().join("seed");
    let mut seed = start(&seed_dir, &["0"], &[]);
    let seed_info = info(&seed_dir, &mut seed);
    let (seed_peer, port) = (seed_info["peer_id"].as_str().unwrap().to_string(), p2p_port(&seed_info));

    // `localhost`
    let a_dir = root.path().join("a");
    let mut a = start(&a_dir, &["localhost", &port], &[]);
    info(&a_dir, &mut a);
    sees(&a_dir, &seed_peer);
    assert!(log(&a_dir).contains("resolved the seed's name"), "{}", log(&a_dir));

    // a name only a (temporary) hosts file knows, as Docker and Kubernetes write /etc/hosts
    let hosts = root.path().join("hosts");
    std::fs::write(&hosts, "# test\n127.0.0.1   seed-0.enigma.test seed-0\n").unwrap();
    let b_dir = root.path().join("b");
    let mut b = start(&b_dir, &["seed-0.enigma.test", &port], &[("ENIGMA_HOSTS_FILE", &hosts)]);
    info(&b_dir, &mut b);
    sees(&b_dir, &seed_peer);
}

#[test]
fn a_seed_name_that_resolves_nowhere_is_a_clear_error() {
    let root = tempfile::tempdir().unwrap();
    let hosts = root.path().join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    let dir = root.path().join("n");
    let mut p = start(&dir, &["no-such-seed.invalid", "6655"], &[("ENIGMA_HOSTS_FILE", &hosts)]);
    // the node bounds the lookup itself (15 s); this deadline only guards the test
    let status = wait_for("the node to give up on the name", T, || p.0.try_wait().ok().flatten());
    assert!(!status.success());
    let log = log(&dir);
    assert!(log.contains("cannot resolve the seed's name \"no-such-seed.invalid\""), "{log}");
    assert!(!dir.join("node.json").exists(), "the node did not start");
}
