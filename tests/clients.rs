//! One API, three clients: the node's dispatch table, the CLI and the Python package offer every
//! method of `enigma_protocol::api::METHODS` with its parameters (the Rust client's own check is in
//! client/src/lib.rs); and the CLI's subcommands, data files and Ctrl-C, and the typed Rust client,
//! against real node processes on 127.0.0.1.

mod support;

use enigma_client::{Client, Compute, Computed, Level};
use enigma_protocol::api::{ErrorCode, METHODS};
use enigma_protocol::value::Value;
use serde_json::{Value as Json, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;
use support::{BIN, Cluster, Opts};

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const CLI_LIMIT: Duration = Duration::from_secs(120);

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs the CLI with a deadline (killed when it runs out).
fn cli(socket: &str, args: &[&str]) -> Out {
    let child = Command::new(BIN)
        .args(args)
        .arg("--socket")
        .arg(socket)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the enigma binary");
    let pid = child.id() as i32;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(CLI_LIMIT) {
        Ok(Ok(o)) => Out {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        },
        Ok(Err(e)) => panic!("enigma {args:?}: {e}"),
        Err(_) => {
            // SAFETY: kill(2) on the pid of our own child process
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("enigma {args:?} did not finish within {CLI_LIMIT:?}")
        }
    }
}

/// The CLI's stdout as JSON, asserting success.
fn cli_json(socket: &str, args: &[&str]) -> Json {
    let out = cli(socket, args);
    assert!(out.ok(), "enigma {args:?} failed ({:?}): {}", out.code, out.stderr);
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("enigma {args:?} printed no JSON ({e}): {}", out.stdout))
}

fn cli_key(socket: &str, args: &[&str]) -> String {
    let j = cli_json(socket, args);
    let key = j.as_str().unwrap_or_else(|| panic!("enigma {args:?}: {j} is not a key")).to_string();
    assert_eq!(key.len(), 64, "{key}");
    key
}

fn cli_fails(socket: &str, args: &[&str], want: &str) -> Out {
    let out = cli(socket, args);
    assert!(!out.ok(), "enigma {args:?} should fail: {}", out.stdout);
    assert!(out.stderr.contains(want), "enigma {args:?}: stderr {:?} should say {want:?}", out.stderr);
    out
}

// ---- the method list, generated from one place ----

/// A stand-in node on a Unix socket that records each method it is asked with its parameter names.
type Seen = Arc<Mutex<BTreeMap<String, BTreeSet<String>>>>;

fn canned(method: &str) -> Json {
    match method {
        "gen_key" => json!(["aa", "bb"]),
        "set_privkey" | "delete" | "cancel" => json!(true),
        "load" => json!({"type": "int", "value": 1}),
        "peers" | "policy" | "access_log" | "custody_keys" => json!([]),
        "status" | "ledger_tx" | "manifest" | "group" => json!({}),
        "stats.mean" | "stats.var" | "stats.std" => json!([1.5]),
        "stats.linregress" => json!([1.0, 2.0, 0.5, 0.1, 0.01]),
        "linalg.dot" | "linalg.inv" => json!({"type": "float", "value": 1.5}),
        _ => json!("0f"),
    }
}

fn fake_node(dir: &Path) -> (String, Seen) {
    let path = dir.join("fake.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let seen: Seen = Arc::default();
    let record = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { break };
            let Ok(mut w) = conn.try_clone() else { break };
            for line in BufReader::new(conn).lines() {
                let Ok(line) = line else { break };
                let Ok(req) = serde_json::from_str::<Json>(&line) else { break };
                let method = req["method"].as_str().unwrap_or_default().to_string();
                let params: BTreeSet<String> = req["params"]
                    .as_object()
                    .map(|m| m.keys().filter(|k| *k != "progress").cloned().collect())
                    .unwrap_or_default();
                record.lock().unwrap().entry(method.clone()).or_default().extend(params);
                let reply = json!({"jsonrpc": "2.0", "id": req["id"], "result": canned(&method)});
                if writeln!(w, "{reply}").is_err() {
                    break;
                }
            }
        }
    });
    (path.to_string_lossy().into_owned(), seen)
}

fn api_table() -> BTreeMap<String, BTreeSet<String>> {
    METHODS.iter().map(|m| (m.name.to_string(), m.params.iter().map(|p| p.to_string()).collect())).collect()
}

/// A stand-in key for the coverage runs.
const K: &str = "ab";

/// Every method, with every parameter given: (subcommand, method it must call). The Rust CLI and the
/// Python CLI (`python -m enigma`) both run this list.
const RUNS: &[(&[&str], &str)] = &[
    (&["gen-key"], "gen_key"),
    (&["get-pubkey"], "get_pubkey"),
    (&["get-address"], "get_address"),
    (&["set-privkey", "01"], "set_privkey"),
    (&["store", "\"s\"", "--as", "string", "--decimals", "9", "--exact"], "store"),
    (&["load", K], "load"),
    (&["delete", K], "delete"),
    (&["pair", "1A", "--key", K, "--level", "compute", "--min-count", "5"], "pair"),
    (&["revoke", "1A", "--key", K, "--level", "load"], "revoke"),
    (&["policy"], "policy"),
    (&["ledger-tx", "00"], "ledger_tx"),
    (&["access-log", K], "access_log"),
    (&["stats", "max", K, K, "--store"], "stats.max"),
    (&["stats", "min", K, "--store"], "stats.min"),
    (&["stats", "mean", K, "--store"], "stats.mean"),
    (&["stats", "var", K, K, "--store"], "stats.var"),
    (&["stats", "std", K, "--store"], "stats.std"),
    (&["stats", "linregress", K, K, "--store"], "stats.linregress"),
    (&["stats", "cov", K, "--rowvar", "false", "--ddof", "0", "--store"], "stats.cov"),
    (&["stats", "corrcoef", K, "--store"], "stats.corrcoef"),
    (&["stats", "ttest_1samp", K, "-1.5", "--store"], "stats.ttest_1samp"),
    (&["stats", "ttest_ind", K, K, "--equal-var", "true", "--store"], "stats.ttest_ind"),
    (&["stats", "ttest_rel", K, K, "--store"], "stats.ttest_rel"),
    (&["stats", "lstsq", K, K, "--intercept", "--stats", "--store"], "stats.lstsq"),
    (&["stats", "histogram", K, K, "--bins", "4", "--range", "-1", "1", "--store"], "stats.histogram"),
    (&["stats", "median", K, K, "--store"], "stats.median"),
    (&["stats", "percentile", K, "--q", "25,75", "--store"], "stats.percentile"),
    (&["stats", "quantile", K, K, "--q", "0.5", "--store"], "stats.quantile"),
    (&["linalg", "dot", K, K, "--store"], "linalg.dot"),
    (&["linalg", "inv", K, "--store"], "linalg.inv"),
    (&["peers"], "peers"),
    (&["status"], "status"),
    (&["manifest", K], "manifest"),
    (&["cancel", "op"], "cancel"),
    (&["custody-keys"], "custody_keys"),
    (&["group", K], "group"),
];

#[test]
fn the_cli_has_a_subcommand_for_every_api_method_with_its_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let (sock, seen) = fake_node(dir.path());
    let k = K;
    for (args, method) in RUNS {
        let before = seen.lock().unwrap().len();
        let out = cli(&sock, args);
        assert!(out.ok(), "enigma {args:?}: {}", out.stderr);
        assert!(serde_json::from_str::<Json>(&out.stdout).is_ok(), "enigma {args:?} prints JSON: {}", out.stdout);
        assert!(seen.lock().unwrap().contains_key(*method), "enigma {args:?} did not call {method}");
        assert!(seen.lock().unwrap().len() > before, "enigma {args:?}: {method} was called before");
        // the method's own name works as the subcommand too (gen_key, ledger_tx, …)
        if args.len() == 1 && method.contains('_') {
            assert!(cli(&sock, &[method]).ok(), "enigma {method}");
        }
    }
    assert_eq!(*seen.lock().unwrap(), api_table(), "the CLI's subcommands and api::METHODS differ");
    // the alias the API doc spells, and text output
    let out = cli(&sock, &["gen-keys", "--format", "text"]);
    assert_eq!(out.stdout, "private_key aa\npublic_key  bb\n");
    assert_eq!(cli(&sock, &["stats", "mean", k, "--format", "text"]).stdout, "1.5\n");
    let lr = cli(&sock, &["stats", "linregress", k, k, "--format", "text"]).stdout;
    assert!(lr.starts_with("slope 1\nintercept 2\nr_value 0.5\n"), "{lr}");
    // wrong arity is refused before anything is sent
    cli_fails(&sock, &["stats", "linregress", k], "required");
    cli_fails(&sock, &["linalg", "dot", k], "required");
    cli_fails(&sock, &["stats", "mean"], "required");
    cli_fails(&sock, &["linalg", "inv", k, k], "unexpected argument");
}

/// Runs `python -m enigma` (the Python CLI, no binary on PATH) with a deadline.
fn py_cli(socket: &str, args: &[&str]) -> Out {
    let out = Command::new("timeout")
        .arg("120")
        .arg("python3")
        .args(["-m", "enigma", "--socket", socket])
        .args(args)
        .env("PYTHONPATH", format!("{REPO}/python"))
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .output()
        .expect("python3 (the Python client's tests need it too)");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn the_python_cli_has_the_rust_clis_subcommands_and_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let (sock, seen) = fake_node(dir.path());
    for (args, method) in RUNS {
        let before = seen.lock().unwrap().len();
        let out = py_cli(&sock, args);
        assert!(out.ok(), "python -m enigma {args:?}: {}", out.stderr);
        assert!(
            serde_json::from_str::<Json>(&out.stdout).is_ok(),
            "python -m enigma {args:?} prints JSON: {}",
            out.stdout
        );
        assert!(seen.lock().unwrap().contains_key(*method), "python -m enigma {args:?} did not call {method}");
        assert!(seen.lock().unwrap().len() > before, "python -m enigma {args:?}: {method} was called before");
        if args.len() == 1 && method.contains('_') {
            assert!(py_cli(&sock, &[method]).ok(), "python -m enigma {method}");
        }
    }
    assert_eq!(*seen.lock().unwrap(), api_table(), "the Python CLI's subcommands and api::METHODS differ");
    assert!(py_cli(&sock, &["gen-keys"]).ok(), "the gen-keys alias");
    // wrong arity and unknown subcommands are refused before anything is sent, with exit code 2
    for (args, want) in [
        (&["stats", "linregress", K][..], "required"),
        (&["linalg", "dot", K], "required"),
        (&["stats", "mean"], "required"),
        (&["linalg", "inv", K, K], "unrecognized arguments"),
        (&["no-such-method"], "invalid choice"),
    ] {
        let out = py_cli(&sock, args);
        assert_eq!(out.code, Some(2), "python -m enigma {args:?}: {}", out.stderr);
        assert!(out.stderr.contains(want), "python -m enigma {args:?}: {:?} should say {want:?}", out.stderr);
    }
}

#[test]
fn the_python_package_has_a_function_for_every_api_method_with_its_arguments() {
    let table: Vec<Json> =
        METHODS.iter().map(|m| json!({"name": m.name, "params": m.params, "variadic": m.variadic})).collect();
    // `store`'s `type` follows from the Python type of the data (str, bytes, …), as in the Rust client
    let script = r#"
import inspect, json, sys
import enigma
table = json.loads(sys.argv[1])
client = enigma.Client("/nonexistent/enigma.sock")
inferred = {("store", "type")}
problems = []
for m in table:
    for where, root in (("module", enigma), ("Client", client)):
        f = root
        for part in m["name"].split("."):
            f = getattr(f, part, None)
        if not callable(f):
            problems.append("%s has no %s" % (where, m["name"]))
            continue
        have = set(inspect.signature(f).parameters)
        for p in m["params"]:
            if p not in have and (m["name"], p) not in inferred:
                problems.append("%s.%s has no parameter %s (it has %s)" % (where, m["name"], p, sorted(have)))
        if m["variadic"]:
            kind = inspect.signature(f).parameters[m["variadic"]].kind
            if kind != inspect.Parameter.VAR_POSITIONAL:
                problems.append("%s.%s: %s should be *%s" % (where, m["name"], m["variadic"], m["variadic"]))
if not callable(getattr(enigma, "gen_keys", None)) or not callable(getattr(client, "gen_keys", None)):
    problems.append("no gen_keys alias")
print(json.dumps(problems))
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(serde_json::to_string(&table).unwrap())
        .env("PYTHONPATH", format!("{REPO}/python"))
        .output()
        .expect("python3 (the Python client's tests need it too)");
    assert!(out.status.success(), "python3: {}", String::from_utf8_lossy(&out.stderr));
    let problems: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(problems.is_empty(), "the Python package and api::METHODS differ:\n{}", problems.join("\n"));
}

#[test]
fn the_dispatch_table_answers_every_api_method_with_its_parameters() {
    let c = Cluster::start(Opts { nodes: 1, group_size: 3, ..Opts::default() });
    let mut cl = c.client(0);
    for m in METHODS {
        // an unknown parameter: refused as such (never "method not found"), before any effect
        let e = cl.call(m.name, json!({"__probe": 1})).unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::InvalidParams), "{}: {e}", m.name);
        if m.variadic.is_none() {
            // one positional parameter too many names the method's parameter count
            let args: Vec<Json> = (0..=m.params.len()).map(|_| json!(null)).collect();
            let e = cl.call(m.name, Json::Array(args)).unwrap_err();
            let want = format!("takes at most {} positional parameters", m.params.len());
            assert!(e.to_string().contains(&want), "{}: {e} (want {want:?})", m.name);
        }
    }
    let e = cl.call("stats.kurtosis", json!({})).unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::MethodNotFound), "{e}");
}

// ---- against a real network ----

fn custody_count(c: &mut Client) -> usize {
    c.custody_keys().unwrap().as_array().map(Vec::len).unwrap()
}

#[test]
fn cli_subcommands_and_data_files_against_a_devnet() {
    let c = Cluster::start(Opts { nodes: 3, group_size: 3, ..Opts::default() });
    let s = c.nodes[0].socket();
    let s = s.as_str();
    let mut cl = c.client(0);
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    };

    // the computations, as in the README
    let ages = cli_key(s, &["store", "[45,43,23,15,67,32,28,98,55,14]"]);
    assert_eq!(cli_json(s, &["stats", "mean", &ages]), json!([42.0]));
    assert_eq!(cli(s, &["stats", "mean", &ages, "--format", "text"]).stdout, "42.0\n");
    let var = cli_json(s, &["stats", "var", &ages])[0].as_f64().unwrap();
    assert!((var - 611.0).abs() < 1e-3, "{var}");
    let std_key = cli_key(s, &["stats", "std", &ages, "--store"]);
    let std = cli_json(s, &["load", &std_key]).as_f64().unwrap();
    assert!((std - 611f64.sqrt()).abs() < 1e-4, "{std}");
    let a = cli_key(s, &["store", "10000000"]);
    let b = cli_key(s, &["store", "30000"]);
    assert_eq!(cli_json(s, &["stats", "max", &a, &b]), json!(a));
    assert_eq!(cli_json(s, &["stats", "min", &a, &b]), json!(b));
    let x = cli_key(s, &["store", "[1,2,3,4]"]);
    let y = cli_key(s, &["store", "[3,5,7,9]"]);
    let lr = cli_json(s, &["stats", "linregress", &x, &y]);
    let lr: Vec<f64> = serde_json::from_value(lr).unwrap();
    assert!((lr[0] - 2.0).abs() < 1e-4 && (lr[1] - 1.0).abs() < 1e-3 && (lr[2] - 1.0).abs() < 1e-4, "{lr:?}");
    let m = cli_key(s, &["store", "[[4,7],[2,6]]"]);
    let inv = cli_json(s, &["linalg", "inv", &m]);
    let want = [[0.6, -0.7], [-0.2, 0.4]];
    for (i, row) in want.iter().enumerate() {
        for (j, w) in row.iter().enumerate() {
            assert!((inv[i][j].as_f64().unwrap() - w).abs() < 1e-4, "{inv}");
        }
    }
    let inv_key = cli_key(s, &["linalg", "inv", &m, "--store"]);
    let eye = cli_json(s, &["linalg", "dot", &m, &inv_key]);
    assert!((eye[0][0].as_f64().unwrap() - 1.0).abs() < 1e-3 && eye[0][1].as_f64().unwrap().abs() < 1e-3, "{eye}");
    assert_eq!(cli(s, &["linalg", "dot", &x, &y, "--format", "text"]).stdout, "70\n");

    // CSV in: one column, columns, the whole table; .npy in
    let csv = file("people.csv", b"age,height\n45,1.5\n43,1.75\n23,2.0\n");
    let age = cli_key(s, &["store", "--csv", &csv, "--column", "age"]);
    assert_eq!(cli_json(s, &["load", &age]), json!([45, 43, 23]));
    let cols = cli_json(s, &["store", "--csv", &csv, "--columns", "height,age"]);
    assert_eq!(cli_json(s, &["load", cols["height"].as_str().unwrap()]), json!([1.5, 1.75, 2.0]));
    assert_eq!(cli_json(s, &["load", cols["age"].as_str().unwrap()]), json!([45, 43, 23]));
    let table = cli_key(s, &["store", "--csv", &csv]);
    assert_eq!(cli_json(s, &["load", &table]), json!([[45.0, 1.5], [43.0, 1.75], [23.0, 2.0]]));
    assert_eq!(cli_json(s, &["stats", "mean", &age]), json!([37.0]));

    // files out, and back in
    let npy = dir.path().join("t.npy").to_string_lossy().into_owned();
    assert!(cli(s, &["load", &table, "--out", &npy]).ok());
    let again = cli_key(s, &["store", "--npy", &npy]);
    assert_eq!(cli_json(s, &["load", &again]), json!([[45.0, 1.5], [43.0, 1.75], [23.0, 2.0]]));
    let out_csv = dir.path().join("m.csv").to_string_lossy().into_owned();
    assert!(cli(s, &["load", &m, "--out", &out_csv]).ok());
    assert_eq!(std::fs::read_to_string(&out_csv).unwrap(), "c0,c1\n4,7\n2,6\n");
    let out_json = dir.path().join("a.json").to_string_lossy().into_owned();
    assert!(cli(s, &["load", &age, "--out", &out_json]).ok());
    assert_eq!(
        serde_json::from_str::<Json>(&std::fs::read_to_string(&out_json).unwrap()).unwrap(),
        json!([45, 43, 23])
    );

    // bad input: clear errors, and nothing stored
    let held = custody_count(&mut cl);
    let ragged = file("ragged.csv", b"a,b\n1,2\n3\n");
    cli_fails(s, &["store", "--csv", &ragged], "row 2 (line 3) has 1 cells, the header has 2");
    let text = file("text.csv", b"a,b\n1,2\n3,abc\n");
    cli_fails(
        s,
        &["store", "--csv", &text, "--columns", "a,b"],
        "row 2 (line 3), column \"b\": \"abc\" is not a number",
    );
    let nan = file("nan.csv", b"a\n1\nnan\n");
    cli_fails(s, &["store", "--csv", &nan, "--column", "a"], "row 2 (line 3), column \"a\": NaN");
    let inf = file("inf.csv", b"a\n-inf\n");
    cli_fails(
        s,
        &["store", "--csv", &inf],
        "column \"a\": value out of range for fixed-point: -inf is not a finite number",
    );
    cli_fails(
        s,
        &["store", "--csv", &csv, "--column", "weight"],
        "no column \"weight\"; the columns are \"age\", \"height\"",
    );
    let not_npy = file("x.npy", b"age\n1\n");
    cli_fails(s, &["store", "--npy", &not_npy], "not a .npy file");
    cli_fails(s, &["store", "--npy", "/nonexistent.npy"], "/nonexistent.npy");
    assert_eq!(custody_count(&mut cl), held, "a bad file stored something");
    let unknown = "00".repeat(32);
    cli_fails(s, &["stats", "mean", &unknown], "unknown key");
    cli_fails(s, &["load", &unknown], "unknown key");
    cli_fails(s, &["linalg", "inv", &x], "inv needs a 2-D matrix");
    let txt = dir.path().join("m.txt").to_string_lossy().into_owned();
    cli_fails(s, &["load", &m, "--out", &txt], "needs a file ending in .npy, .csv or .json");
}

#[test]
fn ctrl_c_cancels_the_computation_on_the_network() {
    let c = Cluster::start(Opts { nodes: 3, group_size: 3, ..Opts::default() });
    let mut cl = c.client(0);
    let m32: Vec<Vec<f64>> =
        (0..32).map(|i| (0..32).map(|j| if i == j { 30.0 } else { ((i + 2 * j) % 5) as f64 }).collect()).collect();
    let km = cl.store_json(json!(m32)).unwrap();
    let mut child = Command::new(BIN)
        .args(["linalg", "inv", &km, "--progress", "plain", "--socket", &c.nodes[0].socket()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(60)).expect("a progress line");
    assert!(first.starts_with("progress "), "{first}");
    // SAFETY: kill(2) on the pid of our own child process
    unsafe { libc::kill(pid, libc::SIGINT) };
    let said = support::wait_for("the CLI to report the cancel", Duration::from_secs(30), || {
        rx.recv_timeout(Duration::from_millis(100)).ok().filter(|l| l.starts_with("enigma:"))
    });
    assert!(said.contains("cancelled: the node stopped operation"), "{said}");
    let status = support::wait_for("the CLI to exit", Duration::from_secs(30), || child.try_wait().ok().flatten());
    assert_eq!(status.code(), Some(130));
    // the node is free for the next call
    let v = cl.store_json(json!([5, 7])).unwrap();
    assert_eq!(cl.stats_mean(&[&v], Compute::default()).unwrap(), Computed::Value(vec![6.0]));
}

#[test]
fn the_typed_rust_client_against_a_devnet() {
    let c = Cluster::start(Opts { nodes: 3, group_size: 3, ..Opts::default() });
    let mut owner = c.client(0);
    let mut other = c.client(1);
    let k = owner.store_json(json!([1.0, 2.0, 3.0, 4.0])).unwrap();
    let y = owner.store_json(json!([2.0, 4.0, 6.0, 8.0])).unwrap();
    let mut notes = 0;
    let mut count = |_: &enigma_client::Progress| notes += 1;
    let r = owner.stats_mean(&[&k, &y], Compute { store: false, progress: Some(&mut count) }).unwrap();
    assert_eq!(r, Computed::Value(vec![3.75]));
    let stored = owner.stats_var(&[&k], Compute::stored()).unwrap().key().unwrap();
    assert!(matches!(owner.load(&stored).unwrap(), Value::Float(v) if (v - 1.25).abs() < 1e-4));
    let std = owner.stats_std(&[&k], Compute::default()).unwrap().value().unwrap();
    assert!((std[0] - 1.25f64.sqrt()).abs() < 1e-4, "{std:?}");
    let lr = owner.stats_linregress(&k, &y, Compute::default()).unwrap().value().unwrap();
    assert!((lr.slope - 2.0).abs() < 1e-4 && lr.intercept.abs() < 1e-3, "{lr:?}");
    let dot = owner.linalg_dot(&k, &y, Compute::default()).unwrap().value().unwrap();
    assert!(matches!(dot, Value::Float(v) if (v - 60.0).abs() < 1e-3), "{dot:?}");
    let m = owner.store_json(json!([[2.0, 0.0], [0.0, 4.0]])).unwrap();
    let inv = owner.linalg_inv(&m, Compute::default()).unwrap().value().unwrap();
    let inv: Vec<Vec<f64>> = serde_json::from_value(inv.to_json()).unwrap();
    for (got, want) in inv.iter().flatten().zip([0.5, 0.0, 0.0, 0.25]) {
        assert!((got - want).abs() < 1e-6, "{inv:?}");
    }
    let a = owner.store_json(json!(5)).unwrap();
    let b = owner.store_json(json!(9)).unwrap();
    assert_eq!(owner.stats_max(&[&a, &b], Compute::default()).unwrap(), b);
    assert_eq!(owner.stats_min(&[&a, &b], Compute::default()).unwrap(), a);
    assert_eq!(owner.stats_max(&[&a, &b], Compute::stored()).unwrap_err().code(), Some(ErrorCode::Unsupported));
    let e = owner.linalg_inv(&"00".repeat(32), Compute::default()).unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::UnknownKey), "{e}");

    // access control, typed
    let addr = other.get_address().unwrap();
    assert_eq!(other.load(&k).unwrap_err().code(), Some(ErrorCode::AccessDenied));
    let txid = owner.pair(&[&addr], Some(&[&k]), Some(Level::Load), None).unwrap();
    assert_eq!(txid.len(), 64);
    assert!(owner.ledger_tx(&txid).unwrap().is_object());
    assert!(!owner.policy().unwrap().as_array().unwrap().is_empty());
    support::wait_for("the grant to reach node 1", Duration::from_secs(30), || other.load(&k).ok());
    let log = owner.access_log(&k).unwrap();
    assert!(!log.as_array().unwrap().is_empty(), "{log}");
    owner.revoke(&[&addr], None, None).unwrap();
    support::wait_for("the revoke to reach node 1", Duration::from_secs(30), || {
        (other.load(&k).err()?.code() == Some(ErrorCode::AccessDenied)).then_some(())
    });
    assert_eq!(owner.pair(&["not-an-address"], None, None, None).unwrap_err().code(), Some(ErrorCode::InvalidAddress));

    // the node's own view
    let man = owner.manifest(&k).unwrap();
    assert_eq!(man["shape"], json!([4]));
    assert_eq!(man["holders"].as_array().map(Vec::len), Some(3));
    assert!(owner.custody_keys().unwrap().as_array().unwrap().iter().any(|e| e["key"] == json!(k)));
    assert!(!owner.cancel("no-such-op").unwrap());
    assert_eq!(owner.gen_keys().unwrap().1, owner.get_pubkey().unwrap());
}

// ---- secrets stay out of shell history ----

/// Runs the CLI with `input` on stdin.
fn cli_stdin(socket: &str, args: &[&str], input: &str) -> Out {
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--socket")
        .arg(socket)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the enigma binary");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    Out {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

#[test]
fn set_privkey_reads_stdin_or_a_file_and_gen_key_writes_a_0600_file() {
    use std::os::unix::fs::PermissionsExt;
    let c = Cluster::start(Opts { nodes: 1, group_size: 3, ..Opts::default() });
    let s = c.nodes[0].socket();
    let s = s.as_str();
    let mut cl = c.client(0);
    let dir = tempfile::tempdir().unwrap();

    // gen-key --out: the private key only in a new 0600 file; stdout has the public key and address
    let key_file = dir.path().join("node.key");
    let key_path = key_file.to_str().unwrap();
    let j = cli_json(s, &["gen-key", "--out", key_path]);
    let sk = std::fs::read_to_string(&key_file).unwrap().trim().to_string();
    assert_eq!(sk.len(), 64, "{sk}");
    assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(j["public_key"], json!(cl.get_pubkey().unwrap()));
    assert_eq!(j["address"], json!(cl.get_address().unwrap()));
    let printed = serde_json::to_string(&j).unwrap();
    assert!(!printed.contains(&sk), "gen-key --out printed the private key: {printed}");
    // never overwrites, and the node keeps its identity when refused
    let before = cl.get_pubkey().unwrap();
    let out = cli_fails(s, &["gen-key", "--out", key_path], "never overwritten");
    assert!(!out.stdout.contains(&sk) && !out.stderr.contains(&sk));
    assert_eq!(cl.get_pubkey().unwrap(), before);
    assert_eq!(std::fs::read_to_string(&key_file).unwrap().trim(), sk);
    cli_fails(s, &["gen-key", "--out", dir.path().join("no/such/dir").to_str().unwrap()], "creating");
    assert_eq!(cl.get_pubkey().unwrap(), before);

    // set-privkey from stdin (no argument, stdin not a terminal), and with `-`
    let (sk2, pk2) = cl.gen_key().unwrap();
    cl.set_privkey(&sk).unwrap();
    assert_eq!(cli_stdin(s, &["set-privkey"], &format!("{sk2}\n")).stdout.trim(), "true");
    assert_eq!(cl.get_pubkey().unwrap(), pk2);
    let out = cli_stdin(s, &["set-privkey", "-"], &format!("\n  {sk}  \n"));
    assert!(out.ok() && out.stdout.trim() == "true" && out.stderr.is_empty(), "{:?} {}", out.code, out.stderr);
    assert_eq!(cl.get_pubkey().unwrap(), before);
    // from a file
    let f2 = dir.path().join("other.key");
    std::fs::write(&f2, format!("{sk2}\n")).unwrap();
    assert_eq!(cli_json(s, &["set-privkey", "--file", f2.to_str().unwrap()]), json!(true));
    assert_eq!(cl.get_pubkey().unwrap(), pk2);
    // an argument still works, with a warning about shell history
    let out = cli(s, &["set-privkey", &sk]);
    assert!(out.ok() && out.stderr.contains("shell history"), "{:?} {}", out.code, out.stderr);
    assert_eq!(cl.get_pubkey().unwrap(), before);
    // bad input: empty stdin, a missing file, a bad key, both an argument and --file
    cli_fails(s, &["set-privkey"], "no key given");
    cli_fails(s, &["set-privkey", "--file", dir.path().join("missing").to_str().unwrap()], "reading the key");
    let out = cli_stdin(s, &["set-privkey"], "not-a-key\n");
    assert!(!out.ok() || out.stdout.trim() == "false", "{:?} {} {}", out.code, out.stdout, out.stderr);
    cli_fails(s, &["set-privkey", "-", "--file", f2.to_str().unwrap()], "cannot be used with");
    assert_eq!(cl.get_pubkey().unwrap(), before);
}
