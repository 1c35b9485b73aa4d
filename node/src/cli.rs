//! Command-line interface: running a node (`enigma 6655`, `enigma <seed-ip|seed-name> 6655`), the local devnet,
//! the client commands, and the benchmarks.
//!
//! Owns: argument definitions and their documentation. Must never: do work (see `run`, `devnet`,
//! `client_cmd`, `bench`).

use clap::{Args, Parser, Subcommand};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "enigma",
    version,
    about = "Enigma: store data as secret shares across many nodes and compute on it by MPC.",
    long_about = "Run a node:    enigma 6655               (a seed node on port 6655)\n               enigma 24.133.12.31 6655  (join the network through that seed)\n\nOr use a subcommand (client commands talk to a node's socket: --socket, $ENIGMA_SOCKET,\nthe devnet's node 0, or ~/.enigma/enigma.sock).",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// For client commands: the node's socket path or host:port.
    #[arg(long, global = true, env = "ENIGMA_SOCKET")]
    pub socket: Option<String>,
    /// For client commands: print results as JSON (the default) or as text for people.
    #[arg(long, global = true, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// For computations: a progress bar on stderr when it is a terminal (auto), one line per update
    /// on stderr with the op id (plain), or nothing (off).
    #[arg(long, global = true, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    /// For client commands over TCP: the file holding the node's token. Without it: $ENIGMA_RPC_TOKEN,
    /// else the file $ENIGMA_RPC_COOKIE, else <data-dir>/rpc.cookie.
    #[arg(long, global = true)]
    pub rpc_cookie: Option<PathBuf>,
    /// For client commands over TCP: connect with TLS and accept only the certificate with this
    /// SHA-256 fingerprint (the node prints it at start; default: $ENIGMA_RPC_FINGERPRINT).
    #[arg(long, global = true)]
    pub rpc_fingerprint: Option<String>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Running a node.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// PORT to start a seed node on, or the seed's IP address or host name when joining (then PORT
    /// follows); a name is resolved from /etc/hosts and /etc/resolv.conf (e.g. seed-0.enigma).
    #[arg(value_name = "SEED_HOST | PORT")]
    pub first: Option<String>,
    /// The seed's port when joining.
    #[arg(value_name = "PORT")]
    pub second: Option<String>,
    /// This node's own port when joining (default: the seed's port if free here, else any free port).
    #[arg(long)]
    pub port: Option<u16>,
    /// Data directory (identity, shares, client socket).
    #[arg(long, env = "ENIGMA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Also serve the client API on this TCP address (e.g. 127.0.0.1:7000). A TCP client must
    /// first show a token: the cookie the node writes to <data-dir>/rpc.cookie at every start, or
    /// the one in --rpc-token-file. A non-loopback address needs --rpc-tls.
    #[arg(long)]
    pub rpc: Option<SocketAddr>,
    /// Serve the dashboard (/), Prometheus metrics (/metrics) and /healthz on this address, e.g.
    /// 127.0.0.1:9100 (port 0: any free port, written to node.json). Off loopback (e.g. 0.0.0.0:9100)
    /// every route but /healthz asks for the node's client API token (the cookie in
    /// <data-dir>/rpc.cookie, or --rpc-token-file): `Authorization: Bearer TOKEN`, or /?token=TOKEN
    /// in a browser (traded for a cookie). Plain HTTP unless --dashboard-tls.
    #[arg(long, alias = "dashboard", value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,
    /// Serve the dashboard over TLS (HTTPS) with the node's self-signed certificate, the one of
    /// --rpc-tls (rpc-tls.key, rpc-tls.crt in the data directory; its SHA-256 fingerprint is printed
    /// at start and written to node.json), so that the token does not cross the network in the clear.
    #[arg(long, requires = "metrics")]
    pub dashboard_tls: bool,
    /// Serve the TCP client API over TLS, with a self-signed certificate kept in the data directory
    /// (rpc-tls.key, rpc-tls.crt); clients pin its SHA-256 fingerprint, which the node prints at start
    /// and writes to node.json. Required when --rpc is not a loopback address.
    #[arg(long, requires = "rpc")]
    pub rpc_tls: bool,
    /// Take the TCP client API's token from this file (one line, at least 16 characters) instead of
    /// writing a new cookie at every start.
    #[arg(long, env = "ENIGMA_RPC_TOKEN_FILE")]
    pub rpc_token_file: Option<PathBuf>,
    /// Serve the TCP client API without a token: anyone who can connect acts with the node's
    /// identity. Only on a loopback address.
    #[arg(long, requires = "rpc", conflicts_with = "rpc_token_file")]
    pub rpc_no_auth: bool,
    /// IP address to listen on for peers.
    #[arg(long, default_value = "0.0.0.0")]
    pub listen_ip: IpAddr,
    /// Custody group size n (fewer when the network is smaller; never below 3).
    #[arg(long, default_value_t = 5)]
    pub group_size: usize,
    /// MPC security: `active` (a committee member that deviates is caught before anything is
    /// revealed; the default) or `semi-honest` (cheaper, secure only against members that follow
    /// the protocol). A node joins only committees in its own mode: use one mode per network.
    #[arg(long, default_value = "active", env = "ENIGMA_MPC_SECURITY")]
    pub mpc_security: enigma_protocol::mpc::Security,
    /// Largest encoded value `store` accepts, in bytes (a number is 16 bytes; bytes pack 15 per 16).
    #[arg(long, default_value_t = 256 << 20)]
    pub max_value_bytes: usize,
    /// Deadline of one request to a peer, in seconds.
    #[arg(long, default_value_t = 120)]
    pub request_timeout: u64,
    /// For benches and tests only: emulate a wide-area link on every peer connection, RTT_MS[:MBIT]
    /// (each end delays what it sends by RTT/2; the machine's kernel has no netem).
    #[arg(long, value_name = "RTT_MS[:MBIT]", hide = true)]
    pub emulate_rtt_ms: Option<enigma_actors::network::wan::WanProfile>,
    /// Seconds a custody holder may be unreachable before the others repair its keys.
    #[arg(long, default_value_t = 60)]
    pub repair_grace_secs: u64,
    /// Proactively refresh every key's shares this often, in seconds (same holders, a new polynomial:
    /// shares stolen before a refresh cannot be combined with shares stolen after). 0: off.
    #[arg(long, default_value_t = 0)]
    pub refresh_interval_secs: u64,
    /// Commit deadline of a store, in milliseconds from its start: holders refuse a later commit and
    /// the recovery pass drops (or, when a co-holder committed, commits) shares still pending after
    /// it. Use the same value on every node of a network.
    #[arg(long, default_value_t = 600_000)]
    pub pending_grace_ms: u64,
    /// Seal the key files (identity, node key) with the passphrase in this file (Argon2id +
    /// XChaCha20-Poly1305); existing plaintext key files are sealed on start. Needed on every start after.
    #[arg(long, env = "ENIGMA_KEYSTORE_PASS_FILE")]
    pub keystore_pass_file: Option<PathBuf>,
    /// Also send policy transactions to a Bitcoin Core node (JSON-RPC URL, e.g. http://127.0.0.1:8332/).
    #[arg(long, requires = "bitcoin_rpc_auth_file")]
    pub bitcoin_rpc: Option<String>,
    /// File holding `user:password` for --bitcoin-rpc (Bitcoin Core's cookie file works).
    #[arg(long)]
    pub bitcoin_rpc_auth_file: Option<PathBuf>,
    /// Log filter (e.g. info, debug, enigma_actors=debug).
    #[arg(long, default_value = "info", env = "ENIGMA_LOG")]
    pub log: String,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start a local network of nodes on 127.0.0.1 (and optionally run the walkthrough).
    Devnet(DevnetArgs),
    /// New identity for the node: prints the private and public key (`gen_key`; alias gen-keys).
    /// With --out, the private key goes to a new file readable only by you and only the public key
    /// and address are printed.
    #[command(alias = "gen_key", alias = "gen-keys", alias = "gen_keys")]
    GenKey {
        /// Write the private key to this new file (mode 0600; an existing file is never overwritten).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// The node identity's compressed public key (`get_pubkey`).
    #[command(alias = "get_pubkey")]
    GetPubkey,
    /// The node identity's Bitcoin (P2PKH) address (`get_address`).
    #[command(alias = "get_address")]
    GetAddress,
    /// Switch the node to a given private key (hex or WIF); prints true or false (`set_privkey`).
    /// The key is read from stdin (`-`, or no argument when stdin is not a terminal) or from
    /// --file, so that it stays out of shell history; a key given as the argument still works but
    /// is warned about.
    #[command(alias = "set_privkey")]
    SetPrivkey {
        /// `-` to read the key from stdin. A key given here lands in shell history (warned about).
        #[arg(value_name = "PRIVKEY | -")]
        privkey: Option<String>,
        /// Read the key from this file (its first line).
        #[arg(long, value_name = "PATH", conflicts_with = "privkey")]
        file: Option<PathBuf>,
    },
    /// Store data and print its key: a JSON value, a file's bytes, CSV columns or a .npy array.
    Store(StoreArgs),
    /// Load a key and print its value (bytes as base64), or write it to a file with --out.
    Load {
        key: String,
        /// Write the value to this file: FILE.npy, FILE.csv or FILE.json by extension; bytes and
        /// strings to any other name as they are.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Delete a key everywhere (owner only).
    Delete { key: String },
    /// Grant Bitcoin addresses access to your data (all keys, or --key K ...); prints the txid.
    Pair {
        #[arg(required = true)]
        addresses: Vec<String>,
        /// Only these keys (repeatable).
        #[arg(long = "key")]
        keys: Vec<String>,
        /// load (raw data and computations) or compute (results of computations only).
        #[arg(long)]
        level: Option<String>,
        /// With compute: the fewest of your values an allowed aggregate covers (default 5).
        #[arg(long)]
        min_count: Option<u32>,
    },
    /// Take access back; prints the txid once every live node has it.
    Revoke {
        #[arg(required = true)]
        addresses: Vec<String>,
        /// Only these keys (repeatable).
        #[arg(long = "key")]
        keys: Vec<String>,
        /// compute (every access; the default) or load (leaves compute).
        #[arg(long)]
        level: Option<String>,
    },
    /// Your current grants.
    Policy,
    /// A policy transaction: raw hex and decoded view (`ledger_tx`).
    #[command(alias = "ledger_tx")]
    LedgerTx { txid: String },
    /// Who loaded or computed on a key, and when (owner only; `access_log`).
    #[command(alias = "access_log")]
    AccessLog { key: String },
    /// Peers the node sees.
    Peers,
    /// The node's status.
    Status,
    /// A key's manifest: owner, type, shape, threshold, epoch, holders.
    Manifest { key: String },
    /// Stop a running computation by its op id (from progress: --progress plain shows it).
    Cancel { op: String },
    /// The custody group this node's own lookup finds for a key, and which members answer.
    Group { key: String },
    /// This node's shares: every key it holds one of, pending or committed (`custody_keys`).
    #[command(alias = "custody_keys")]
    CustodyKeys,
    /// Statistics on secret data by MPC (numpy/scipy semantics).
    #[command(subcommand)]
    Stats(StatsCmd),
    /// Linear algebra on secret arrays by MPC (numpy semantics).
    #[command(subcommand)]
    Linalg(LinalgCmd),
    /// Benchmarks on a local devnet (prints a table).
    #[command(subcommand)]
    Bench(BenchCmd),
    /// Print the TCP client API's credential of the node in --data-dir (default $ENIGMA_DATA_DIR,
    /// ~/.enigma) as environment lines: ENIGMA_RPC_TOKEN=… and, with TLS, ENIGMA_RPC_FINGERPRINT=….
    RpcEnv {
        #[arg(long, env = "ENIGMA_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Call any JSON-RPC method with JSON params.
    Call {
        method: String,
        #[arg(default_value = "{}")]
        params: String,
    },
}

/// How client commands print results.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Text,
}

/// How computations show progress.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressMode {
    Auto,
    Plain,
    Off,
}

/// `enigma store`: exactly one source of data.
#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["data", "file", "csv", "npy"]))]
pub struct StoreArgs {
    /// The data as JSON, e.g. '[1,2,3]' or '24' or '"text"'.
    pub data: Option<String>,
    /// Store the contents of a file as bytes.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// How to read DATA: auto, json (keep as JSON text), string.
    #[arg(long = "as", alias = "type", default_value = "auto")]
    pub store_as: String,
    /// A CSV file with a header row: all its columns as one 2-D array (rows × columns), or the
    /// columns given by --column / --columns.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// With --csv: this column as one 1-D array; prints its key.
    #[arg(long, requires = "csv", conflicts_with = "columns", value_name = "NAME")]
    pub column: Option<String>,
    /// With --csv: one key per column (a 1-D array each); prints {"NAME": KEY, …}.
    #[arg(long, requires = "csv", value_delimiter = ',', value_name = "A,B,…")]
    pub columns: Vec<String>,
    /// A NumPy .npy file (integers or floats, C order): the array, or a 0-d scalar.
    #[arg(long, value_name = "FILE")]
    pub npy: Option<PathBuf>,
    /// Keep numbers at the decimal scale 10^-N (0 to 12; default 6: every number with at most 6
    /// decimals is held exactly), or `binary` for the binary scale 2^-20 of keys stored before.
    #[arg(long, value_name = "N|binary")]
    pub decimals: Option<String>,
    /// Refuse a number with more decimals than the scale holds, instead of rounding it.
    #[arg(long)]
    pub exact: bool,
}

/// `enigma stats …`: each takes `--store` (keep the result secret; print its key).
#[derive(Subcommand, Debug)]
pub enum StatsCmd {
    /// Scalar keys: the key holding the maximum (ties: the first); arrays: a new key to the secret max.
    Max(KeysArgs),
    /// Scalar keys: the key holding the minimum; arrays: a new key to the secret min.
    Min(KeysArgs),
    /// [mean] over the flattened data of all keys.
    Mean(KeysArgs),
    /// [variance] (ddof=0) over the flattened data of all keys.
    Var(KeysArgs),
    /// [standard deviation] (ddof=0) over the flattened data of all keys.
    Std(KeysArgs),
    /// (slope, intercept, r_value, p_value, std_err) of y on x (scipy).
    Linregress {
        key_x: String,
        key_y: String,
        #[arg(long)]
        store: bool,
    },
    /// numpy.cov of a 1-D or 2-D array (rows are variables unless --rowvar false).
    Cov {
        key: String,
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        rowvar: bool,
        #[arg(long, default_value_t = 1)]
        ddof: u32,
        #[arg(long)]
        store: bool,
    },
    /// numpy.corrcoef of a 1-D or 2-D array.
    Corrcoef {
        key: String,
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        rowvar: bool,
        #[arg(long)]
        store: bool,
    },
    /// (statistic, pvalue, df) of scipy.stats.ttest_1samp over the flattened data.
    #[command(name = "ttest_1samp", alias = "ttest-1samp")]
    Ttest1samp {
        key: String,
        #[arg(allow_negative_numbers = true)]
        popmean: f64,
        #[arg(long)]
        store: bool,
    },
    /// (statistic, pvalue, df) of scipy.stats.ttest_ind (pooled variance).
    #[command(name = "ttest_ind", alias = "ttest-ind")]
    TtestInd {
        key_a: String,
        key_b: String,
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        equal_var: bool,
        #[arg(long)]
        store: bool,
    },
    /// (statistic, pvalue, df) of scipy.stats.ttest_rel (paired samples).
    #[command(name = "ttest_rel", alias = "ttest-rel")]
    TtestRel {
        key_a: String,
        key_b: String,
        #[arg(long)]
        store: bool,
    },
    /// Counts of numpy.histogram: --bins N --range LO HI, or --edges E0,E1,…
    Histogram {
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
        #[arg(long, conflicts_with = "edges", requires = "range")]
        bins: Option<u32>,
        #[arg(long, num_args = 2, value_names = ["LO", "HI"], allow_negative_numbers = true)]
        range: Option<Vec<f64>>,
        #[arg(long, value_delimiter = ',', allow_negative_numbers = true, required_unless_present = "bins")]
        edges: Option<Vec<f64>>,
        #[arg(long)]
        store: bool,
    },
    /// numpy.median over the flattened data of all keys.
    Median {
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
        #[arg(long)]
        store: bool,
    },
    /// numpy.percentile (linear): --q 50, or --q 25,75 for a list (each in [0, 100]).
    Percentile {
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
        #[arg(long, required = true, value_delimiter = ',', allow_negative_numbers = true)]
        q: Vec<f64>,
        #[arg(long)]
        store: bool,
    },
    /// numpy.quantile (linear): --q 0.5, or --q 0.25,0.75 for a list (each in [0, 1]).
    Quantile {
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
        #[arg(long, required = true, value_delimiter = ',', allow_negative_numbers = true)]
        q: Vec<f64>,
        #[arg(long)]
        store: bool,
    },
    /// Coefficients of numpy.linalg.lstsq(X, y); --intercept adds a leading column of ones;
    /// --stats adds statsmodels OLS's standard errors, t, p, R² and adjusted R².
    Lstsq {
        key_x: String,
        key_y: String,
        #[arg(long)]
        intercept: bool,
        #[arg(long)]
        stats: bool,
        #[arg(long)]
        store: bool,
    },
}

/// `enigma linalg …`.
#[derive(Subcommand, Debug)]
pub enum LinalgCmd {
    /// numpy.dot of two arrays.
    Dot {
        key_a: String,
        key_b: String,
        #[arg(long)]
        store: bool,
    },
    /// numpy.linalg.inv of a square matrix.
    Inv {
        key: String,
        #[arg(long)]
        store: bool,
    },
}

#[derive(Args, Debug)]
pub struct KeysArgs {
    #[arg(required = true, value_name = "KEY")]
    pub keys: Vec<String>,
    /// Keep the result secret on the network and print its key.
    #[arg(long)]
    pub store: bool,
}

/// The local devnet.
#[derive(Args, Debug, Clone)]
pub struct DevnetArgs {
    /// Number of nodes.
    #[arg(long, default_value_t = 5)]
    pub nodes: usize,
    /// Parent directory of the nodes' data directories (default ~/.enigma/devnet).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Port of node 0 (the others take ports after it); 0 lets the system choose every port.
    #[arg(long, default_value_t = 0)]
    pub base_port: u16,
    /// Run the walkthrough against the network, then stop it and exit.
    #[arg(long)]
    pub demo: bool,
    /// Custody group size.
    #[arg(long, default_value_t = 5)]
    pub group_size: usize,
    /// Start from empty data directories.
    #[arg(long)]
    pub fresh: bool,
}

/// Benchmarks.
#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// MPC: engine primitives, then every operation on 3- and 5-node devnets (prep and online apart).
    Mpc {
        /// Smaller inputs (10^4 instead of 10^5).
        #[arg(long)]
        quick: bool,
        /// Only the issue-16 rows (histogram, corrcoef, t-tests, lstsq, then the median) in memory,
        /// at n = 3 and n = 5 in both security modes.
        #[arg(long, conflicts_with = "wan")]
        toolbox: bool,
        /// With --toolbox: the histogram row's number of values (default: the other rows' size).
        #[arg(long, requires = "toolbox")]
        hist_n: Option<usize>,
        /// With --toolbox: only this security mode (`active` or `semi-honest`; default both).
        #[arg(long, requires = "toolbox", value_parser = ["active", "semi-honest"])]
        security: Option<String>,
        /// Run the network table over emulated wide-area links, RTT_MS[:MBIT] (e.g. 50:1000).
        #[arg(long, value_name = "RTT_MS[:MBIT]")]
        wan: Option<enigma_actors::network::wan::WanProfile>,
    },
    /// Concurrent clients mixing store, load and stats.mean: throughput, p50/p99, errors, peak memory.
    Load {
        /// Nodes in the devnet.
        #[arg(long, default_value_t = 5)]
        nodes: usize,
        /// Concurrent clients (each with its own connection, spread over the nodes).
        #[arg(long, default_value_t = 100)]
        clients: usize,
        /// Duration of the run in seconds.
        #[arg(long, default_value_t = 60)]
        secs: u64,
    },
    /// Placement simulation (no devnet): balance, loss under churn, repair traffic, lookup hops, Sybil cost.
    Placement {
        /// Simulated nodes.
        #[arg(long, default_value_t = 10_000)]
        nodes: usize,
        /// Simulated keys.
        #[arg(long, default_value_t = 1_000_000)]
        keys: usize,
        /// Seed of the simulation (same seed, same table).
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Store and load throughput: 1 KB, 1 MB, 64 MB values and a 10^6-element array.
    Storage {
        /// Nodes in the devnet.
        #[arg(long, default_value_t = 5)]
        nodes: usize,
        /// Fewer repetitions.
        #[arg(long)]
        quick: bool,
    },
}
