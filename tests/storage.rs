//! Integration tests of the storage network: real node processes, real libp2p on 127.0.0.1, real
//! LMDB files in temporary directories.

mod support;

use enigma_client::Client;
use enigma_protocol::api::ErrorCode;
use enigma_protocol::value::Value;
use serde_json::{Value as Json, json};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::time::Duration;
use support::{Cluster, Opts, wait_for};

#[test]
fn seven_nodes_that_know_only_the_seed_find_each_other() {
    let c = Cluster::start(Opts { nodes: 7, ..Opts::default() });
    for i in 0..7 {
        let peers = c.client(i).peers().unwrap();
        assert_eq!(peers.len(), 6, "node {i} sees {peers:?}");
        for j in 0..7 {
            if i != j {
                assert!(peers.contains(&c.nodes[j].peer_id), "node {i} does not see node {j}");
            }
        }
    }
}

#[test]
fn store_on_one_node_load_on_another_and_survive_holder_loss() {
    let mut c = Cluster::start(Opts::default());
    let (sk, _) = c.client(0).gen_key().unwrap();
    assert!(c.client(1).set_privkey(&sk).unwrap(), "same identity on node 1");
    let data = json!([[90, 60, 90], [88, 57, 89], [92, 64, 91]]);
    let key = c.client(0).store_json(data.clone()).unwrap();
    assert_eq!(c.client(1).load(&key).unwrap().to_json(), data);

    // n = 5, t = 2: with two holders down the key still loads
    c.kill(3);
    c.kill(4);
    assert_eq!(c.client(1).load(&key).unwrap().to_json(), data);

    // a third one down: a clear error, not a hang or a wrong value
    c.kill(2);
    let err = c.client(1).load(&key).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotEnoughNodes), "{err}");
    assert!(err.to_string().contains("not enough custody nodes"), "{err}");

    // they come back: the key loads again
    c.restart(2);
    c.restart(3);
    c.restart(4);
    c.wait_full_mesh();
    assert_eq!(c.client(1).load(&key).unwrap().to_json(), data);
}

#[test]
fn no_node_keeps_the_plaintext() {
    let c = Cluster::start(Opts::default());
    let canary = b"ENIGMA-CANARY-7f3a9e-do-not-store-in-clear".to_vec();
    let numbers: Vec<i64> = (0..64).map(|i| 918_273_645 + i * 7).collect();
    let mut cl = c.client(0);
    let k1 = cl.store(&Value::Bytes(canary.clone())).unwrap();
    let k2 = cl.store_json(json!(numbers)).unwrap();
    assert_eq!(cl.load(&k1).unwrap(), Value::Bytes(canary.clone()));
    assert_eq!(cl.load(&k2).unwrap().to_json(), json!(numbers));

    // what could betray the values on disk: the bytes, the numbers as text, as i64, as f64, and as
    // their fixed-point field elements
    let mut needles: Vec<Vec<u8>> = vec![canary.clone(), canary[..16].to_vec()];
    for &n in &numbers[..8] {
        needles.push(n.to_string().into_bytes());
        needles.push(n.to_le_bytes().to_vec());
        needles.push((n as f64).to_le_bytes().to_vec());
        needles.push(((n as u128) << 20).to_le_bytes()[..12].to_vec());
    }
    let mut files = 0;
    for node in &c.nodes {
        for entry in walk(&node.dir) {
            if entry.ends_with("node.log") {
                continue; // our own log: holds keys and peer ids, checked separately below
            }
            let bytes = std::fs::read(&entry).unwrap();
            files += 1;
            for needle in &needles {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                    "{} contains {:?}",
                    entry.display(),
                    String::from_utf8_lossy(needle)
                );
            }
        }
        let log = std::fs::read(node.dir.join("node.log")).unwrap();
        assert!(!log.windows(canary.len()).any(|w| w == canary.as_slice()), "log holds the plaintext");
    }
    assert!(files >= 10, "scanned only {files} files");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.is_file() {
            out.push(p);
        }
    }
    out
}

#[test]
fn delete_removes_every_share_and_reaches_an_offline_holder() {
    let mut c = Cluster::start(Opts::default());
    let mut cl = c.client(0);
    let keep = cl.store_json(json!(1)).unwrap();
    let gone = cl.store_json(json!([1.5, 2.5])).unwrap();
    for i in 0..5 {
        assert_eq!(c.held(i), 2, "node {i} holds a share of each key");
    }
    c.kill(4);
    assert!(c.client(0).delete(&gone).unwrap());
    for i in 0..4 {
        assert_eq!(c.held(i), 1, "node {i} dropped its share");
    }
    let err = c.client(1).load(&gone).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::UnknownKey), "{err}");
    assert!(err.to_string().contains("unknown key"));

    // the holder that was offline learns the tombstone when it returns
    c.restart(4);
    wait_for("node 4 to drop the deleted share", Duration::from_secs(30), || (c.held(4) == 1).then_some(()));
    assert_eq!(
        c.client(4).load(&keep).unwrap_err().code(),
        Some(ErrorCode::AccessDenied),
        "node 4 has another identity"
    );
    assert_eq!(c.client(0).load(&keep).unwrap(), Value::Int(1));
    assert!(!c.client(0).delete(&gone).unwrap(), "deleting twice says false");
}

#[test]
fn another_identity_can_neither_load_nor_delete() {
    let c = Cluster::start(Opts::default());
    let key = c.client(0).store_json(json!(42)).unwrap();
    let mut other = c.client(1);
    other.gen_key().unwrap();
    let err = other.load(&key).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::AccessDenied), "{err}");
    assert!(err.to_string().contains("access denied"));
    let err = other.delete(&key).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::AccessDenied), "{err}");
    assert_eq!(c.client(0).load(&key).unwrap(), Value::Int(42), "the owner still can");
}

#[test]
fn restart_keeps_identity_and_shares() {
    let mut c = Cluster::start(Opts::default());
    let pk = c.client(2).get_pubkey().unwrap();
    let key = c.client(2).store(&Value::String("persisted".into())).unwrap();
    c.kill(2);
    c.restart(2);
    c.wait_full_mesh();
    assert_eq!(c.client(2).get_pubkey().unwrap(), pk);
    assert_eq!(c.client(2).load(&key).unwrap(), Value::String("persisted".into()));
    assert_eq!(c.held(2), 1);
}

#[test]
fn a_keystore_passphrase_seals_the_keys_and_is_needed_to_start() {
    let pass_dir = tempfile::tempdir().unwrap();
    let pass_file = pass_dir.path().join("pass");
    std::fs::write(&pass_file, "a long passphrase\n").unwrap();
    let pass_arg = pass_file.to_string_lossy().into_owned();
    let mut c = Cluster::start(Opts { nodes: 3, group_size: 3, extra: vec!["--keystore-pass-file".into(), pass_arg] });
    let pk = c.client(1).get_pubkey().unwrap();
    let key = c.client(1).store(&Value::String("sealed identity".into())).unwrap();
    c.kill(1);
    let dir = c.nodes[1].dir.clone();
    for f in ["identity.key", "node.key"] {
        let content = std::fs::read(dir.join(f)).unwrap();
        assert!(content.starts_with(b"enigma-sealed-key-v1\n"), "{f} is sealed");
        assert_eq!(std::fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // without the passphrase the node refuses to start, with a clear message, and changes nothing
    let out = std::process::Command::new(support::BIN)
        .args(["0", "--listen-ip", "127.0.0.1", "--data-dir"])
        .arg(&dir)
        .env("ENIGMA_LOG", "warn")
        .env_remove("ENIGMA_KEYSTORE_PASS_FILE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is encrypted: start the node with --keystore-pass-file"), "{stderr}");
    // a wrong passphrase is refused too
    let wrong = pass_dir.path().join("wrong");
    std::fs::write(&wrong, "not it").unwrap();
    let out = std::process::Command::new(support::BIN)
        .args(["0", "--listen-ip", "127.0.0.1", "--data-dir"])
        .arg(&dir)
        .arg("--keystore-pass-file")
        .arg(&wrong)
        .env("ENIGMA_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong passphrase"));
    // with it, the same identity and the same data
    c.restart(1);
    c.wait_full_mesh();
    assert_eq!(c.client(1).get_pubkey().unwrap(), pk);
    assert_eq!(c.client(1).load(&key).unwrap(), Value::String("sealed identity".into()));
}

#[test]
fn fewer_than_three_nodes_refuse_to_store() {
    let c = Cluster::start(Opts { nodes: 2, ..Opts::default() });
    let err = c.client(0).store_json(json!(1)).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotEnoughNodes), "{err}");
    assert!(err.to_string().contains("need 3, have 2"), "{err}");
}

#[test]
fn three_nodes_store_with_a_group_of_three() {
    let c = Cluster::start(Opts { nodes: 3, ..Opts::default() });
    let key = c.client(0).store_json(json!([[1, 2], [3, 4]])).unwrap();
    assert_eq!(c.client(0).load(&key).unwrap().to_json(), json!([[1, 2], [3, 4]]));
    for i in 0..3 {
        assert_eq!(c.held(i), 1);
    }
}

/// Sends raw lines to the socket and reads one response line each.
fn raw(socket: &str, lines: &[&[u8]]) -> Vec<Json> {
    let s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut out = Vec::new();
    for l in lines {
        // the node may close the connection mid-write (a request over the limit): read its answer
        let _ = w.write_all(l).and_then(|_| w.write_all(b"\n"));
        let mut buf = String::new();
        match r.read_line(&mut buf) {
            Ok(n) if n > 0 => out.push(serde_json::from_str(&buf).unwrap()),
            _ => break,
        }
    }
    out
}

fn code(j: &Json) -> i64 {
    j["error"]["code"].as_i64().unwrap_or_else(|| panic!("not an error: {j}"))
}

#[test]
fn bad_input_gets_clear_errors_and_the_node_keeps_serving() {
    let c =
        Cluster::start(Opts { nodes: 3, extra: vec!["--max-value-bytes".into(), "4096".into()], ..Opts::default() });
    let sock = c.nodes[0].socket();
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the client socket is private");

    let big = serde_json::to_string(
        &json!({"jsonrpc": "2.0", "id": 9, "method": "store", "params": {"data": vec![1; 1000]}}),
    )
    .unwrap();
    let replies = raw(
        &sock,
        &[
            b"{not json",
            br#"{"jsonrpc":"2.0","id":1,"method":"no.such.method"}"#,
            br#"{"jsonrpc":"2.0","id":2,"method":"load","params":{"key":12}}"#,
            br#"{"jsonrpc":"2.0","id":3,"method":"load","params":{"key":"not-hex"}}"#,
            br#"{"jsonrpc":"2.0","id":4,"method":"load","params":{"key":"0000000000000000000000000000000000000000000000000000000000000000","extra":1}}"#,
            br#"{"jsonrpc":"2.0","id":5,"method":"store","params":{"data":1e999}}"#,
            br#"{"jsonrpc":"2.0","id":6,"method":"store","params":{"data":5000000000000}}"#,
            br#"{"id":7,"method":"status"}"#,
            br#"[1,2]"#,
            big.as_bytes(),
            br#"{"jsonrpc":"2.0","id":8,"method":"load","params":{"key":"0000000000000000000000000000000000000000000000000000000000000000"}}"#,
        ],
    );
    assert_eq!(code(&replies[0]), -32700, "{}", replies[0]);
    assert_eq!(code(&replies[1]), -32601);
    assert_eq!(replies[1]["id"], 1);
    assert_eq!(code(&replies[2]), -32602);
    assert_eq!(code(&replies[3]), -32602);
    assert!(replies[3]["error"]["message"].as_str().unwrap().contains("invalid key"));
    assert_eq!(code(&replies[4]), -32602);
    assert!(replies[4]["error"]["message"].as_str().unwrap().contains("extra"));
    assert_eq!(code(&replies[5]), -32700, "1e999 is not a JSON number serde accepts: {}", replies[5]);
    assert_eq!(code(&replies[6]), 1003, "out of range: {}", replies[6]);
    assert!(replies[6]["error"]["message"].as_str().unwrap().contains("out of range"));
    assert_eq!(code(&replies[7]), -32600);
    assert_eq!(code(&replies[8][0]), -32600, "batch items are checked one by one: {}", replies[8]);
    assert_eq!(code(&replies[9]), 1005, "too large: {}", replies[9]);
    assert_eq!(code(&replies[10]), 1001, "unknown key: {}", replies[10]);

    // a line over the request limit: an error, and the connection is closed
    let huge = vec![b'x'; 2_000_000];
    let replies = raw(&sock, &[&huge, b"{}"]);
    assert_eq!(replies.len(), 1);
    assert_eq!(code(&replies[0]), 1005);

    // and the node still serves
    let mut cl = Client::connect(&sock).unwrap();
    let k = cl.store_json(json!([1, 2, 3])).unwrap();
    assert_eq!(cl.load(&k).unwrap().to_json(), json!([1, 2, 3]));
}

#[test]
fn every_data_type_round_trips() {
    let c = Cluster::start(Opts { nodes: 3, ..Opts::default() });
    let mut cl = c.client(0);
    let cases = [
        Value::Int(-7),
        Value::Int(4_398_046_511_103),
        Value::Float(0.1),
        Value::Float(-123456.654321),
        Value::from_json(json!([[[1, 2], [3, 4]], [[5, 6], [7, 8]]])).unwrap(),
        Value::from_json(json!([0.5, -1.25, 3.0])).unwrap(),
        Value::String("héllo wörld".into()),
        Value::Bytes((0..=255).collect()),
        Value::Json(json!({"a": [1, "b", null, true], "c": {"d": 1.5}})),
        Value::from_json(json!([])).unwrap(),
    ];
    for v in cases {
        let k = cl.store(&v).unwrap();
        assert_eq!(k.len(), 64);
        assert_eq!(cl.load(&k).unwrap(), v);
    }
    // the same value twice gets two different keys (salted with a nonce)
    assert_ne!(cl.store_json(json!(24)).unwrap(), cl.store_json(json!(24)).unwrap());
}

#[test]
fn client_connections_are_bounded_and_freed() {
    let c = Cluster::start(Opts { nodes: 3, group_size: 3, extra: vec![] });
    let socket = c.nodes[0].socket();
    let hello = br#"{"jsonrpc":"2.0","id":1,"method":"get_pubkey"}"#;
    let open = |s: &UnixStream| -> Option<Json> {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = (&*s).write_all(hello).and_then(|_| (&*s).write_all(b"\n"));
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).ok()?;
        serde_json::from_str(&line).ok()
    };
    // the node serves 512 client connections at once (every one answers) ...
    let mut held = Vec::new();
    for i in 0..512 {
        let s = UnixStream::connect(&socket).unwrap();
        let answer = open(&s).unwrap_or_else(|| panic!("connection {i} got no answer"));
        assert!(answer.get("result").is_some(), "connection {i}: {answer}");
        held.push(s);
    }
    // ... refuses one more with a clear error ...
    let extra = UnixStream::connect(&socket).unwrap();
    let answer = open(&extra).expect("an answer to the connection over the limit");
    assert_eq!(code(&answer), 1012, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("too many client connections"));
    // ... and takes new ones as soon as some close
    held.truncate(500);
    wait_for("a freed connection slot", Duration::from_secs(10), || {
        let s = UnixStream::connect(&socket).ok()?;
        open(&s)?.get("result").map(|_| ())
    });
    assert_eq!(c.client(1).peers().unwrap().len(), 2, "other nodes unaffected");
}
