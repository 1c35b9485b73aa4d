//! Client subcommands: the API from the command line (`enigma store '[1,2,3]'`, `enigma stats mean K`…).
//!
//! Owns: turning arguments into calls on `enigma_client::Client` (one subcommand per API method, same
//! name and arguments), data files in and out (`datafile`), printing results (JSON by default,
//! `--format text` for people), the progress bar of computations and Ctrl-C (which cancels the
//! computation on the node). Must never: talk to the network other than through the node's client
//! socket.

use crate::cli::{Command, Format, LinalgCmd, ProgressMode, StatsCmd, StoreArgs};
use crate::datafile::{self, Table};
use anyhow::{Context, bail};
use base64::Engine;
use enigma_client::{Bins, Client, Compute, Computed, Level, Ols, Progress, Quantiles, StoreOpts, TcpAuth, Ttest};
use enigma_protocol::api;
use enigma_protocol::value::Value;
use serde_json::{Value as Json, json};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where and how the client commands connect.
#[derive(Clone, Debug)]
pub struct Target {
    pub socket: Option<String>,
    /// `--rpc-cookie`: the token's file (else the environment, else `<data-dir>/rpc.cookie`).
    pub cookie: Option<PathBuf>,
    /// `--rpc-fingerprint`: TLS with this pinned certificate (else `$ENIGMA_RPC_FINGERPRINT`).
    pub fingerprint: Option<String>,
}

fn connect(target: &Target) -> anyhow::Result<Client> {
    let endpoint = target.socket.clone().unwrap_or_else(Client::default_endpoint);
    if !enigma_client::is_tcp_endpoint(&endpoint) {
        return Ok(Client::connect(&endpoint)?);
    }
    let auth = TcpAuth::resolve(target.cookie.as_deref(), target.fingerprint.as_deref())?;
    Ok(Client::connect_with(&endpoint, &auth)?)
}

/// `enigma rpc-env`: the credential of the node in `dir`, as environment lines for a client elsewhere.
fn rpc_env(dir: &Path) -> anyhow::Result<()> {
    let info_path = dir.join(crate::run::INFO_FILE);
    let text = std::fs::read_to_string(&info_path)
        .with_context(|| format!("reading {} (has the node in {} started?)", info_path.display(), dir.display()))?;
    let info: Json = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", info_path.display()))?;
    if info["rpc"].is_null() {
        bail!("the node in {} does not serve the client API on TCP (start it with --rpc ADDR)", dir.display());
    }
    match info["rpc_auth"].as_str() {
        Some("cookie") => {
            let cookie = dir.join(enigma_client::COOKIE_FILE);
            println!("ENIGMA_RPC_TOKEN={}", TcpAuth::read_token_file(&cookie)?);
        }
        Some("none") => {}
        _ => bail!("the node in {} takes its token from --rpc-token-file: use that file", dir.display()),
    }
    if let Some(fp) = info["rpc_tls_fingerprint"].as_str() {
        println!("ENIGMA_RPC_FINGERPRINT={fp}");
    }
    Ok(())
}

/// What every client command shares: where the node is, how to print, how to show progress.
pub struct Opts {
    pub target: Target,
    pub format: Format,
    pub progress: ProgressMode,
}

struct Session {
    target: Target,
    format: Format,
    progress: ProgressMode,
    client: Option<Client>,
}

impl Session {
    fn client(&mut self) -> anyhow::Result<&mut Client> {
        if self.client.is_none() {
            self.client = Some(connect(&self.target)?);
        }
        self.client.as_mut().context("no connection")
    }

    fn print(&self, j: &Json) {
        match self.format {
            Format::Json if j.is_object() || j.as_array().is_some_and(|a| !a.is_empty()) => {
                println!("{}", serde_json::to_string_pretty(j).unwrap_or_else(|_| j.to_string()))
            }
            Format::Json => println!("{j}"),
            Format::Text => println!("{}", text(j)),
        }
    }

    /// Prints a loaded value: its plain JSON (bytes as a base64 string).
    fn print_value(&self, v: &Value) {
        match v {
            Value::Bytes(b) => self.print(&json!(base64::engine::general_purpose::STANDARD.encode(b))),
            other => self.print(&other.to_json()),
        }
    }

    /// Runs a computation with a progress display, and Ctrl-C cancelling it on the node.
    fn compute<T>(
        &mut self,
        store: bool,
        f: impl FnOnce(&mut Client, Compute<'_>) -> enigma_client::Result<T>,
    ) -> anyhow::Result<T> {
        let op: Arc<Mutex<Option<String>>> = Arc::default();
        let bar = (self.progress == ProgressMode::Auto && std::io::stderr().is_terminal()).then(|| {
            // a spinner until the node reports how much there is to do
            let bar = indicatif::ProgressBar::new_spinner().with_message("starting");
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let bar_style = indicatif::ProgressStyle::with_template("{spinner} {msg:12} [{bar:40}] {pos}/{len} {elapsed}")
            .ok()
            .map(|s| s.progress_chars("=> "));
        let mut styled = false;
        cancel_on_ctrl_c(self.target.clone(), op.clone(), bar.clone());
        let mode = self.progress;
        let mut on_progress = |p: &Progress| {
            if let Ok(mut o) = op.lock() {
                o.get_or_insert_with(|| p.op.clone());
            }
            match (&bar, mode) {
                (Some(bar), _) => {
                    if !styled && let Some(style) = &bar_style {
                        bar.set_style(style.clone());
                        styled = true;
                    }
                    bar.set_length(p.total);
                    bar.set_position(p.done);
                    bar.set_message(p.stage.clone());
                }
                (None, ProgressMode::Plain) => eprintln!("progress {}/{} {} op {}", p.done, p.total, p.stage, p.op),
                _ => {}
            }
        };
        let opts = Compute { store, progress: Some(&mut on_progress) };
        let result = f(self.client()?, opts);
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        Ok(result?)
    }
}

/// Ctrl-C during a computation: cancel it on the node by its op id (known from the first progress
/// notification), say what happened, exit 130. Before any progress, exiting closes the connection,
/// which makes the node cancel the call as well.
fn cancel_on_ctrl_c(target: Target, op: Arc<Mutex<Option<String>>>, bar: Option<indicatif::ProgressBar>) {
    let handler = move || {
        if let Some(bar) = &bar {
            bar.abandon();
        }
        let op = op.lock().ok().and_then(|o| o.clone());
        let msg = match op {
            None => {
                "interrupted before the node reported progress; closing the connection cancels the call".to_string()
            }
            Some(op) => {
                let (tx, rx) = std::sync::mpsc::channel();
                let (target, id) = (target.clone(), op.clone());
                std::thread::spawn(move || {
                    let _ = tx.send(connect(&target).and_then(|mut c| Ok(c.cancel(&id)?)));
                });
                match rx.recv_timeout(Duration::from_secs(5)) {
                    Ok(Ok(true)) => format!("cancelled: the node stopped operation {op}"),
                    Ok(Ok(false)) => format!("interrupted: operation {op} had already ended"),
                    Ok(Err(e)) => format!(
                        "interrupted; cancelling operation {op} failed ({e}); closing the connection cancels it"
                    ),
                    Err(_) => format!(
                        "interrupted; no answer to cancelling {op} within 5 s; closing the connection cancels it"
                    ),
                }
            }
        };
        eprintln!("enigma: {msg}");
        std::process::exit(130);
    };
    // Only one handler per process; without one, Ctrl-C ends the process and the closed connection
    // cancels the call on the node anyway.
    let _ = ctrlc::set_handler(handler);
}

/// A result for people: strings bare, lists of strings (peers, keys) one per line, lists of numbers
/// on one line, rows on lines, objects as `name: value` lines.
fn text(j: &Json) -> String {
    let scalar = |j: &Json| !j.is_array() && !j.is_object();
    match j {
        Json::String(s) => s.clone(),
        Json::Array(items) if !items.is_empty() && items.iter().all(Json::is_string) => {
            items.iter().map(text).collect::<Vec<_>>().join("\n")
        }
        Json::Array(items) if items.iter().all(scalar) => items.iter().map(text).collect::<Vec<_>>().join(" "),
        Json::Array(items) => {
            items.iter().map(|i| if i.is_object() { i.to_string() } else { text(i) }).collect::<Vec<_>>().join("\n")
        }
        Json::Object(m) => m
            .iter()
            .map(|(k, v)| if scalar(v) { format!("{k}: {}", text(v)) } else { format!("{k}: {v}") })
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

fn level(l: Option<String>) -> anyhow::Result<Option<Level>> {
    l.map(|s| s.parse::<Level>().map_err(anyhow::Error::msg)).transpose()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// `gen-key --out FILE`: the file is created (new, 0600) before the node switches identity, so a
/// refused path leaves the node as it was; only the public key and address are printed.
fn gen_key_to_file(s: &mut Session, path: &Path) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).with_context(|| {
        format!("creating {} for the private key (an existing file is never overwritten)", path.display())
    })?;
    let written = s.client().and_then(|c| Ok(c.gen_key()?)).and_then(|(sk, pk)| {
        writeln!(f, "{sk}").and_then(|()| f.sync_all()).with_context(|| format!("writing {}", path.display()))?;
        Ok(pk)
    });
    let pk = match written {
        Ok(pk) => pk,
        Err(e) => {
            // the node may have switched already; say so rather than hide it
            let _ = std::fs::remove_file(path);
            return Err(e.context("gen-key --out: the private key was not saved (if the node answered, its identity changed; run gen-key again)"));
        }
    };
    let address = s.client()?.get_address()?;
    let file = path.display().to_string();
    match s.format {
        Format::Json => s.print(&json!({"public_key": pk, "address": address, "private_key_file": file})),
        Format::Text => println!("public_key  {pk}\naddress     {address}\nprivate key written to {file}"),
    }
    Ok(())
}

/// The key for `set-privkey`: from --file, from stdin (`-` or no argument; on a terminal a prompt
/// that does not echo), or (kept for compatibility, warned about) from the argument.
fn read_privkey(arg: Option<String>, file: Option<&Path>) -> anyhow::Result<String> {
    use std::io::Read;
    let text = match (arg.as_deref(), file) {
        (_, Some(path)) => {
            std::fs::read_to_string(path).with_context(|| format!("reading the key from {}", path.display()))?
        }
        (Some("-"), None) if !std::io::stdin().is_terminal() => read_stdin()?,
        (Some(key), None) if key != "-" => {
            eprintln!(
                "enigma: warning: a private key given as an argument lands in your shell history and in the \
                 process list; use `set-privkey < FILE`, `--file FILE` or `-` (stdin) instead, and consider this key exposed"
            );
            key.to_string()
        }
        // on a terminal: prompt, without echo (rpassword reads /dev/tty with echo off)
        (None, None) | (Some("-"), None) if std::io::stdin().is_terminal() => {
            rpassword::prompt_password("private key (hex or WIF, not echoed): ")
                .context("reading the key from the terminal")?
        }
        (_, None) => read_stdin()?,
    };
    fn read_stdin() -> anyhow::Result<String> {
        let mut t = String::new();
        std::io::stdin().take(64 << 10).read_to_string(&mut t).context("reading the key from stdin")?;
        Ok(t)
    }
    let key = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default().to_string();
    if key.is_empty() {
        bail!("set-privkey: no key given (the input was empty)");
    }
    Ok(key)
}

pub fn run(cmd: Command, opts: Opts) -> anyhow::Result<()> {
    let mut s = Session { target: opts.target, format: opts.format, progress: opts.progress, client: None };
    match cmd {
        Command::Devnet(_) | Command::Bench(_) => bail!("not a client command"),
        Command::RpcEnv { data_dir } => rpc_env(&data_dir.unwrap_or_else(crate::run::default_data_dir))?,
        Command::GenKey { out: None } => {
            let (sk, pk) = s.client()?.gen_key()?;
            match s.format {
                Format::Json => s.print(&json!([sk, pk])),
                Format::Text => println!("private_key {sk}\npublic_key  {pk}"),
            }
        }
        Command::GenKey { out: Some(path) } => gen_key_to_file(&mut s, &path)?,
        Command::GetPubkey => {
            let r = s.client()?.get_pubkey()?;
            s.print(&json!(r))
        }
        Command::GetAddress => {
            let r = s.client()?.get_address()?;
            s.print(&json!(r))
        }
        Command::SetPrivkey { privkey, file } => {
            let key = read_privkey(privkey, file.as_deref())?;
            let r = s.client()?.set_privkey(&key)?;
            s.print(&json!(r))
        }
        Command::Store(args) => store(&mut s, args)?,
        Command::Load { key, out } => {
            let v = s.client()?.load(&key)?;
            match out {
                Some(path) => datafile::write_value(&path, &v)?,
                None => s.print_value(&v),
            }
        }
        Command::Delete { key } => {
            let r = s.client()?.delete(&key)?;
            s.print(&json!(r))
        }
        Command::Pair { addresses, keys, level: l, min_count } => {
            let keys = (!keys.is_empty()).then(|| strs(&keys));
            let r = s.client()?.pair(&strs(&addresses), keys.as_deref(), level(l)?, min_count)?;
            s.print(&json!(r))
        }
        Command::Revoke { addresses, keys, level: l } => {
            let keys = (!keys.is_empty()).then(|| strs(&keys));
            let r = s.client()?.revoke(&strs(&addresses), keys.as_deref(), level(l)?)?;
            s.print(&json!(r))
        }
        Command::Policy => {
            let r = s.client()?.policy()?;
            s.print(&r)
        }
        Command::LedgerTx { txid } => {
            let r = s.client()?.ledger_tx(&txid)?;
            s.print(&r)
        }
        Command::AccessLog { key } => {
            let r = s.client()?.access_log(&key)?;
            s.print(&r)
        }
        Command::Peers => {
            let r = s.client()?.peers()?;
            s.print(&json!(r))
        }
        Command::Status => {
            let r = s.client()?.status()?;
            s.print(&r)
        }
        Command::Manifest { key } => {
            let r = s.client()?.manifest(&key)?;
            s.print(&r)
        }
        Command::Cancel { op } => {
            let r = s.client()?.cancel(&op)?;
            s.print(&json!(r))
        }
        Command::Group { key } => {
            let r = s.client()?.group(&key)?;
            s.print(&r)
        }
        Command::CustodyKeys => {
            let r = s.client()?.custody_keys()?;
            s.print(&r)
        }
        Command::Stats(cmd) => stats(&mut s, cmd)?,
        Command::Linalg(cmd) => {
            let r = match cmd {
                LinalgCmd::Dot { key_a, key_b, store } => s.compute(store, |c, o| c.linalg_dot(&key_a, &key_b, o))?,
                LinalgCmd::Inv { key, store } => s.compute(store, |c, o| c.linalg_inv(&key, o))?,
            };
            match r {
                Computed::Stored(key) => s.print(&json!(key)),
                Computed::Value(v) => s.print_value(&v),
            }
        }
        Command::Call { method, params } => {
            let params: Json =
                serde_json::from_str(&params).with_context(|| format!("params {params:?} are not JSON"))?;
            let long = api::method_spec(&method).is_some_and(|m| m.computation);
            let r = if long {
                s.compute(false, |c, o| match o.progress {
                    Some(p) => c.call_with_progress(&method, params, p),
                    None => c.call(&method, params),
                })?
            } else {
                s.client()?.call(&method, params)?
            };
            s.print(&r)
        }
    }
    Ok(())
}

fn stats(s: &mut Session, cmd: StatsCmd) -> anyhow::Result<()> {
    let floats = |r: Computed<Vec<f64>>| match r {
        Computed::Stored(k) => json!(k),
        Computed::Value(v) => json!(v),
    };
    let r = match cmd {
        StatsCmd::Max(a) => json!(s.compute(a.store, |c, o| c.stats_max(&strs(&a.keys), o))?),
        StatsCmd::Min(a) => json!(s.compute(a.store, |c, o| c.stats_min(&strs(&a.keys), o))?),
        StatsCmd::Mean(a) => floats(s.compute(a.store, |c, o| c.stats_mean(&strs(&a.keys), o))?),
        StatsCmd::Var(a) => floats(s.compute(a.store, |c, o| c.stats_var(&strs(&a.keys), o))?),
        StatsCmd::Std(a) => floats(s.compute(a.store, |c, o| c.stats_std(&strs(&a.keys), o))?),
        StatsCmd::Linregress { key_x, key_y, store } => {
            match s.compute(store, |c, o| c.stats_linregress(&key_x, &key_y, o))? {
                Computed::Stored(k) => json!(k),
                Computed::Value(l) if s.format == Format::Text => {
                    println!(
                        "slope {}\nintercept {}\nr_value {}\np_value {}\nstd_err {}",
                        l.slope, l.intercept, l.r_value, l.p_value, l.std_err
                    );
                    return Ok(());
                }
                Computed::Value(l) => json!([l.slope, l.intercept, l.r_value, l.p_value, l.std_err]),
            }
        }
        StatsCmd::Cov { key, rowvar, ddof, store } => {
            let r = s.compute(store, |c, o| c.stats_cov(&key, rowvar, ddof, o))?;
            return print_computed(s, r);
        }
        StatsCmd::Corrcoef { key, rowvar, store } => {
            let r = s.compute(store, |c, o| c.stats_corrcoef(&key, rowvar, o))?;
            return print_computed(s, r);
        }
        StatsCmd::Histogram { keys, bins, range, edges, store } => {
            let bins = match (bins, edges) {
                (Some(n), _) => Bins::Count(n),
                (None, Some(e)) => Bins::Edges(e),
                (None, None) => bail!("give --bins N --range LO HI, or --edges E0,E1,…"),
            };
            let range = range.and_then(|r| match r[..] {
                [lo, hi] => Some((lo, hi)),
                _ => None,
            });
            let r = s.compute(store, |c, o| c.stats_histogram(&strs(&keys), bins.clone(), range, o))?;
            return print_computed(s, r);
        }
        StatsCmd::Median { keys, store } => {
            let r = s.compute(store, |c, o| c.stats_median(&strs(&keys), o))?;
            return print_computed(s, r);
        }
        StatsCmd::Percentile { keys, q, store } => {
            let q = if q.len() == 1 { Quantiles::One(q[0]) } else { Quantiles::List(q) };
            let r = s.compute(store, |c, o| c.stats_percentile(&strs(&keys), q.clone(), o))?;
            return print_computed(s, r);
        }
        StatsCmd::Quantile { keys, q, store } => {
            let q = if q.len() == 1 { Quantiles::One(q[0]) } else { Quantiles::List(q) };
            let r = s.compute(store, |c, o| c.stats_quantile(&strs(&keys), q.clone(), o))?;
            return print_computed(s, r);
        }
        StatsCmd::Lstsq { key_x, key_y, intercept, stats: true, store } => {
            let r = s.compute(store, |c, o| c.stats_lstsq_stats(&key_x, &key_y, intercept, o))?;
            return print_ols(s, r);
        }
        StatsCmd::Lstsq { key_x, key_y, intercept, stats: false, store } => {
            let r = s.compute(store, |c, o| c.stats_lstsq(&key_x, &key_y, intercept, o))?;
            return print_computed(s, r);
        }
        StatsCmd::Ttest1samp { key, popmean, store } => {
            let r = s.compute(store, |c, o| c.stats_ttest_1samp(&key, popmean, o))?;
            return print_ttest(s, r);
        }
        StatsCmd::TtestInd { key_a, key_b, equal_var, store } => {
            let r = s.compute(store, |c, o| c.stats_ttest_ind(&key_a, &key_b, equal_var, o))?;
            return print_ttest(s, r);
        }
        StatsCmd::TtestRel { key_a, key_b, store } => {
            let r = s.compute(store, |c, o| c.stats_ttest_rel(&key_a, &key_b, o))?;
            return print_ttest(s, r);
        }
    };
    s.print(&r);
    Ok(())
}

/// A value (array or number) as `load` prints it, or a stored result's key.
fn print_computed(s: &mut Session, r: Computed<Value>) -> anyhow::Result<()> {
    match r {
        Computed::Stored(k) => s.print(&json!(k)),
        Computed::Value(v) => s.print_value(&v),
    }
    Ok(())
}

fn print_ols(s: &mut Session, r: Computed<Ols>) -> anyhow::Result<()> {
    match r {
        Computed::Stored(k) => s.print(&json!(k)),
        Computed::Value(o) if s.format == Format::Text => {
            println!("{:>4} {:>14} {:>14} {:>10} {:>10}", "", "coef", "std err", "t", "P>|t|");
            for j in 0..o.params.len() {
                println!(
                    "{:>4} {:>14.6} {:>14.6} {:>10.3} {:>10.4}",
                    j, o.params[j], o.bse[j], o.tvalues[j], o.pvalues[j]
                );
            }
            println!("R-squared {}\nAdj. R-squared {}\ndf_resid {}", o.rsquared, o.rsquared_adj, o.df_resid);
        }
        Computed::Value(o) => s.print(&json!({
            "params": o.params, "bse": o.bse, "tvalues": o.tvalues, "pvalues": o.pvalues,
            "rsquared": o.rsquared, "rsquared_adj": o.rsquared_adj, "df_resid": o.df_resid,
        })),
    }
    Ok(())
}

fn print_ttest(s: &mut Session, r: Computed<Ttest>) -> anyhow::Result<()> {
    match r {
        Computed::Stored(k) => s.print(&json!(k)),
        Computed::Value(t) if s.format == Format::Text => {
            println!("statistic {}\npvalue {}\ndf {}", t.statistic, t.pvalue, t.df);
        }
        Computed::Value(t) => s.print(&json!([t.statistic, t.pvalue, t.df])),
    }
    Ok(())
}

fn store(s: &mut Session, args: StoreArgs) -> anyhow::Result<()> {
    let StoreArgs { data, file, store_as, csv, column, columns, npy, decimals, exact } = args;
    let opts = store_opts(decimals.as_deref(), exact)?;
    if let Some(path) = csv {
        let wanted: Option<Vec<String>> = match (&column, columns.is_empty()) {
            (Some(c), _) => Some(vec![c.clone()]),
            (None, false) => Some(columns.clone()),
            (None, true) => None,
        };
        // the whole file is read and checked before anything is stored
        let table = Table::read_csv(&path, wanted.as_deref())?;
        if column.is_some() {
            let key = s.client()?.store_with(&table.column(0), opts)?;
            s.print(&json!(key));
        } else if !columns.is_empty() {
            let mut keys = serde_json::Map::new();
            for (j, name) in table.headers.iter().enumerate() {
                match s.client()?.store_with(&table.column(j), opts) {
                    Ok(key) => {
                        keys.insert(name.clone(), json!(key));
                    }
                    Err(e) => {
                        // all or nothing: take back the columns already stored
                        let mut undone = 0;
                        for k in keys.values().filter_map(Json::as_str) {
                            if s.client()?.delete(k).unwrap_or(false) {
                                undone += 1;
                            }
                        }
                        bail!(
                            "storing column {name:?} failed: {e} (the {undone} column(s) stored before it were deleted)"
                        );
                    }
                }
            }
            match s.format {
                Format::Json => s.print(&Json::Object(keys)),
                Format::Text => {
                    for (name, key) in &keys {
                        println!("{name} {}", key.as_str().unwrap_or_default());
                    }
                }
            }
        } else {
            let key = s.client()?.store_with(&table.matrix(), opts)?;
            s.print(&json!(key));
        }
        return Ok(());
    }
    let value = if let Some(path) = npy {
        datafile::read_npy(&path)?
    } else if let Some(path) = file {
        Value::Bytes(std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?)
    } else {
        let Some(text) = data else { bail!("give the data as JSON, or --file, --csv or --npy FILE") };
        match store_as.as_str() {
            "string" => Value::String(text),
            "auto" | "json" => {
                let j: Json = serde_json::from_str(&text)
                    .with_context(|| format!("{text:?} is not JSON (quote strings: '\"text\"', or use --as string)"))?;
                if store_as == "json" {
                    Value::Json(j)
                } else {
                    let key = s.client()?.store_json_with(j, opts)?;
                    s.print(&json!(key));
                    return Ok(());
                }
            }
            other => bail!("--as must be auto, json or string, not {other:?}"),
        }
    };
    let key = s.client()?.store_with(&value, opts)?;
    s.print(&json!(key));
    Ok(())
}

/// `--decimals N|binary` and `--exact` as the client's store options.
fn store_opts(decimals: Option<&str>, exact: bool) -> anyhow::Result<StoreOpts> {
    let mut opts = StoreOpts { exact, ..StoreOpts::default() };
    match decimals {
        None => {}
        Some("binary") => opts.binary = true,
        Some(d) => {
            let n: u32 = d.parse().map_err(|_| anyhow::anyhow!("--decimals takes 0 to 12 or binary, not {d:?}"))?;
            if n > enigma_protocol::fixed::MAX_DECIMALS {
                bail!("--decimals takes 0 to {}, not {n}", enigma_protocol::fixed::MAX_DECIMALS);
            }
            opts.decimals = Some(n);
        }
    }
    Ok(opts)
}
