//! Prometheus metrics and the status page that the `--dashboard`/`--metrics ADDR` listener serves
//! (the listener itself, with its token, is [`crate::http`]).
//!
//! Owns: the counters the client API feeds (calls and latency per method; computations started, by
//! outcome, and their duration per op), the gauges read from the node's status at each scrape (peers,
//! shares held and pending, banned peers, uptime), the last computations for the page (with custody
//! and this identity's grants), the OpenMetrics text (`prometheus-client`) and the page's HTML.
//! Must never: do HTTP or authentication (that is [`crate::http`]), or show anything secret (the
//! status it reads has public keys only).

use crate::rpc::dispatch::RpcCtx;
use enigma_actors::ledger::{Chains, Inventory, Ledger};
use enigma_actors::{counters, front};
use enigma_protocol::api::{self, ApiError};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

type Labels = Vec<(&'static str, String)>;
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

fn seconds_histogram() -> Histogram {
    // 1 ms … about 65 s
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// One computation, for the status page.
#[derive(Clone, Debug)]
struct Recent {
    op: &'static str,
    /// The size of the computation: how many stored keys it reads.
    inputs: usize,
    outcome: String,
    seconds: f64,
    at: SystemTime,
}

const RECENT: usize = 20;
/// The page asks for the access log of at most this many of the identity's keys.
const OWN_KEYS_SHOWN: usize = 10;
/// The page lists the policy chains of at most this many owners (the newest).
const CHAINS_SHOWN: usize = 50;

pub struct Metrics {
    registry: Registry,
    rpc_calls: Family<Labels, Counter>,
    rpc_seconds: Histograms,
    sessions_started: Family<Labels, Counter>,
    sessions: Family<Labels, Counter>,
    session_seconds: Histograms,
    peers: Gauge,
    shares_held: Gauge,
    shares_pending: Gauge,
    bytes_held: Gauge,
    banned_peers: Gauge,
    bans: Counter,
    repairs: Family<Labels, Counter>,
    sessions_joined: Counter,
    uptime: Gauge,
    running: Gauge,
    ledger_txs: Gauge,
    started: Instant,
    recent: Mutex<VecDeque<Recent>>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut m = Metrics {
            registry: Registry::default(),
            rpc_calls: Family::default(),
            rpc_seconds: Family::new_with_constructor(seconds_histogram),
            sessions_started: Family::default(),
            sessions: Family::default(),
            session_seconds: Family::new_with_constructor(seconds_histogram),
            peers: Gauge::default(),
            shares_held: Gauge::default(),
            shares_pending: Gauge::default(),
            bytes_held: Gauge::default(),
            banned_peers: Gauge::default(),
            bans: Counter::default(),
            repairs: Family::default(),
            sessions_joined: Counter::default(),
            uptime: Gauge::default(),
            running: Gauge::default(),
            ledger_txs: Gauge::default(),
            started: Instant::now(),
            recent: Mutex::new(VecDeque::new()),
        };
        let r = &mut m.registry;
        r.register(
            "enigma_rpc_calls",
            "Client API calls by method and outcome (ok or the error kind)",
            m.rpc_calls.clone(),
        );
        r.register("enigma_rpc_call_seconds", "Client API call latency by method", m.rpc_seconds.clone());
        r.register(
            "enigma_sessions_started",
            "Computations (MPC) started for this node's clients, by op",
            m.sessions_started.clone(),
        );
        r.register(
            "enigma_sessions",
            "Computations ended, by op and outcome (ok or the error kind)",
            m.sessions.clone(),
        );
        r.register("enigma_session_seconds", "Computation duration by op", m.session_seconds.clone());
        r.register("enigma_sessions_running", "Computations running for this node's clients", m.running.clone());
        r.register("enigma_peers", "Peers this node sees", m.peers.clone());
        r.register("enigma_shares_held", "Committed shares this node holds", m.shares_held.clone());
        r.register("enigma_shares_pending", "Shares of stores not committed (yet)", m.shares_pending.clone());
        r.register(
            "enigma_bytes_held",
            "Bytes of the shares this node holds (16 per field element)",
            m.bytes_held.clone(),
        );
        r.register("enigma_banned_peers", "Peers banned for misbehaving", m.banned_peers.clone());
        r.register("enigma_bans", "Peers banned for misbehaving since the node started", m.bans.clone());
        r.register(
            "enigma_repairs",
            "Share repairs this node coordinated, by outcome (done, failed)",
            m.repairs.clone(),
        );
        r.register(
            "enigma_sessions_joined",
            "MPC sessions this node joined as a committee member",
            m.sessions_joined.clone(),
        );
        r.register("enigma_uptime_seconds", "Seconds since the node started", m.uptime.clone());
        r.register(
            "enigma_ledger_transactions",
            "Policy transactions on this node's ledger (its height)",
            m.ledger_txs.clone(),
        );
        m
    }

    /// A client call ended. Only the API's own method names become labels (unknown ones are `other`).
    pub fn call(&self, method: &str, result: &Result<serde_json::Value, ApiError>, took: Duration, inputs: usize) {
        let spec = api::method_spec(method);
        let name = spec.map(|s| s.name).unwrap_or("other");
        let outcome = match result {
            Ok(_) => "ok".to_string(),
            Err(e) => e.code.name().to_string(),
        };
        self.rpc_calls.get_or_create(&vec![("method", name.to_string()), ("outcome", outcome.clone())]).inc();
        self.rpc_seconds.get_or_create(&vec![("method", name.to_string())]).observe(took.as_secs_f64());
        if spec.is_some_and(|s| s.computation) {
            self.running.dec();
            self.sessions.get_or_create(&vec![("op", name.to_string()), ("outcome", outcome.clone())]).inc();
            self.session_seconds.get_or_create(&vec![("op", name.to_string())]).observe(took.as_secs_f64());
            if let Ok(mut recent) = self.recent.lock() {
                if recent.len() == RECENT {
                    recent.pop_front();
                }
                recent.push_back(Recent {
                    op: name,
                    inputs,
                    outcome,
                    seconds: took.as_secs_f64(),
                    at: SystemTime::now(),
                });
            }
        }
    }

    /// A client call starts (counts computations started); returns the computation's size, the
    /// number of stored keys its parameters name (0 for other calls).
    pub fn call_started(&self, method: &str, params: Option<&serde_json::Value>) -> usize {
        if let Some(spec) = api::method_spec(method).filter(|s| s.computation) {
            self.running.inc();
            self.sessions_started.get_or_create(&vec![("op", spec.name.to_string())]).inc();
            return params.map(count_keys).unwrap_or(0);
        }
        0
    }

    fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// What the pages read: the client API's context and the ledger.
#[derive(Clone)]
pub struct Sources {
    pub rpc: RpcCtx,
    pub ledger: actix::Addr<Ledger>,
}

/// The OpenMetrics exposition, with the gauges read now.
pub async fn exposition(src: &Sources) -> String {
    refresh(src).await;
    src.rpc.metrics.encode()
}

async fn status(ctx: &RpcCtx) -> Option<front::NodeStatus> {
    match ctx.front.send(front::Status {}).await {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "status for metrics");
            None
        }
        Err(e) => {
            tracing::debug!(error = %e, "status for metrics");
            None
        }
    }
}

/// Sets the gauges from the node's status and its ledger.
async fn refresh(src: &Sources) {
    let ctx = &src.rpc;
    let m = &ctx.metrics;
    if let Ok(txs) = src.ledger.send(Inventory).await {
        m.ledger_txs.set(txs.len() as i64);
    }
    m.uptime.set(m.started.elapsed().as_secs() as i64);
    let c = &counters::COUNTERS;
    catch_up(&m.bans, counters::read(&c.bans));
    catch_up(&m.sessions_joined, counters::read(&c.sessions_joined));
    catch_up(&m.repairs.get_or_create(&vec![("outcome", "done".to_string())]), counters::read(&c.repairs_done));
    catch_up(&m.repairs.get_or_create(&vec![("outcome", "failed".to_string())]), counters::read(&c.repairs_failed));
    if let Some(s) = status(ctx).await {
        m.peers.set(s.peers.len() as i64);
        m.shares_held.set(s.held_shares as i64);
        m.shares_pending.set(s.pending_shares as i64);
        m.banned_peers.set(s.banned_peers.len() as i64);
    }
    if let Ok(Ok(keys)) = ctx.front.send(front::CustodyKeys {}).await {
        m.bytes_held.set(custody_bytes(&keys) as i64);
    }
}

/// The data keys (64 hex digits) a request's parameters name, at any depth (bounded by the JSON).
fn count_keys(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::String(s) => usize::from(s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())),
        serde_json::Value::Array(a) => a.iter().map(count_keys).sum(),
        serde_json::Value::Object(o) => o.values().map(count_keys).sum(),
        _ => 0,
    }
}

/// Moves a counter up to a process-wide total.
fn catch_up(c: &Counter, total: u64) {
    c.inc_by(total.saturating_sub(c.get()));
}

fn custody_bytes(keys: &serde_json::Value) -> u64 {
    keys.as_array().map(|ks| ks.iter().filter_map(|k| k["bytes"].as_u64()).sum()).unwrap_or(0)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The status page (HTML that refreshes itself every 5 s).
pub async fn page(src: &Sources) -> String {
    let ctx = &src.rpc;
    let uptime = ctx.metrics.started.elapsed().as_secs();
    let mut h = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"5\">\
         <title>Enigma node</title><style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 10px;\
         text-align:left}code{font-size:90%;word-break:break-all}</style></head><body><h1>Enigma node</h1>",
    );
    let mut status_pubkey = None;
    match status(ctx).await {
        Some(s) => {
            status_pubkey = Some(s.pubkey.clone());
            let _ = write!(
                h,
                "<table><tr><th>peer id</th><td id=\"peer_id\"><code>{}</code></td></tr>\
                 <tr><th>address</th><td id=\"address\"><code>{}</code></td></tr>\
                 <tr><th>listen</th><td><code>{}</code></td></tr>\
                 <tr><th>version</th><td id=\"version\">{}</td></tr>\
                 <tr><th>uptime</th><td id=\"uptime\">{uptime} s</td></tr>\
                 <tr><th>MPC security</th><td id=\"security\">{}</td></tr>\
                 <tr><th>shares held</th><td id=\"held\">{}</td></tr>\
                 <tr><th>shares pending</th><td id=\"pending\">{}</td></tr></table>",
                esc(&s.peer_id),
                esc(&s.address),
                esc(&s.listen.join(" ")),
                esc(&s.version),
                esc(&s.mpc_security),
                s.held_shares,
                s.pending_shares
            );
            let _ = write!(h, "<h2>Peers (<span id=\"peer_count\">{}</span>)</h2><ul>", s.peers.len());
            for p in &s.peers {
                let _ = write!(h, "<li><code>{}</code> {}</li>", esc(&p.peer_id), esc(&p.addrs.join(" ")));
            }
            let _ = write!(h, "</ul><h2>Banned peers ({})</h2><ul>", s.banned_peers.len());
            for b in &s.banned_peers {
                let _ = write!(h, "<li><code>{}</code>: {}</li>", esc(&b.peer_id), esc(&b.reason));
            }
            h.push_str("</ul>");
        }
        None => h.push_str("<p>The node's status is not available right now.</p>"),
    }
    // custody: the keys this node holds a share of, by state
    let own = status_pubkey.clone().unwrap_or_default();
    let mut own_keys: Vec<String> = Vec::new();
    if let Ok(Ok(keys)) = ctx.front.send(front::CustodyKeys {}).await {
        let list = keys.as_array().cloned().unwrap_or_default();
        let committed = list.iter().filter(|k| k["state"] == "committed").count();
        let _ = write!(
            h,
            "<h2>Custody</h2><p>keys held: <span id=\"custody_keys\">{}</span> ({committed} committed, {} pending), \
             <span id=\"bytes_held\">{}</span> bytes</p><table id=\"custody\"><tr><th>key</th><th>state</th>\
             <th>epoch</th><th>bytes</th><th>owner</th></tr>",
            list.len(),
            list.len() - committed,
            custody_bytes(&keys)
        );
        for k in &list {
            let key = k["key"].as_str().unwrap_or_default();
            let owner = k["owner"].as_str().unwrap_or_default();
            if !own.is_empty() && owner == own {
                own_keys.push(key.to_string());
            }
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                esc(key),
                esc(k["state"].as_str().unwrap_or_default()),
                k["epoch"],
                k["bytes"],
                esc(owner)
            );
        }
        let c = &counters::COUNTERS;
        let _ = write!(
            h,
            "</table><p>repairs coordinated here: <span id=\"repairs_done\">{}</span> done, \
             <span id=\"repairs_failed\">{}</span> failed; bans since start: <span id=\"bans\">{}</span></p>",
            counters::read(&c.repairs_done),
            counters::read(&c.repairs_failed),
            counters::read(&c.bans)
        );
    }
    if let Ok(txs) = src.ledger.send(Inventory).await {
        let _ = write!(h, "<h2>Ledger</h2><p>policy transactions: <span id=\"ledger_txs\">{}</span></p>", txs.len());
        if let Ok(chains) = src.ledger.send(Chains).await {
            let _ = write!(
                h,
                "<h3>Policy chains (<span id=\"chain_count\">{}</span> owners)</h3><table id=\"chains\">\
                 <tr><th>owner</th><th>transactions</th><th>tip</th></tr>",
                chains.len()
            );
            for (owner, n, tip) in chains.iter().rev().take(CHAINS_SHOWN) {
                let _ = write!(
                    h,
                    "<tr><td><code>{}</code></td><td>{n}</td><td><code>{}</code></td></tr>",
                    hex::encode(owner),
                    esc(tip)
                );
            }
            h.push_str("</table>");
        }
    }
    // this identity: the keys it owns among those held here, their grants and access log
    let _ = write!(
        h,
        "<h2>This identity</h2><p>public key <code id=\"pubkey\">{}</code></p><h3>Its keys held here ({})</h3><ul id=\"own_keys\">",
        esc(&own),
        own_keys.len()
    );
    for k in own_keys.iter().take(OWN_KEYS_SHOWN) {
        let _ = write!(h, "<li><code>{}</code>", esc(k));
        match k.parse() {
            Ok(key) => {
                match tokio::time::timeout(Duration::from_secs(3), ctx.front.send(front::AccessLogOf { key })).await {
                    Ok(Ok(Ok(log))) => {
                        let _ = write!(h, " — access log: <code class=\"access_log\">{}</code>", esc(&log.to_string()));
                    }
                    Ok(Ok(Err(e))) => {
                        let _ = write!(h, " — access log unavailable: {}", esc(&e.to_string()));
                    }
                    Ok(Err(_)) | Err(_) => h.push_str(" — access log unavailable right now"),
                }
            }
            Err(_) => h.push_str(" — (not a key)"),
        }
        h.push_str("</li>");
    }
    h.push_str("</ul>");
    if let Ok(Ok(grants)) = ctx.front.send(front::Policy {}).await {
        let grants = grants.as_array().cloned().unwrap_or_default();
        let _ = write!(h, "<h3>Grants of this identity ({})</h3><ul id=\"grants\">", grants.len());
        for g in &grants {
            let _ = write!(h, "<li><code>{}</code></li>", esc(&g.to_string()));
        }
        h.push_str("</ul>");
    }
    let running = ctx.metrics.running.get();
    let _ = write!(
        h,
        "<h2>Computations</h2><p>running for this node's clients: <span id=\"running\">{running}</span>; \
         joined as a committee member: <span id=\"sessions_joined\">{}</span></p>",
        counters::read(&counters::COUNTERS.sessions_joined)
    );
    h.push_str(
        "<h3>Recent</h3><table id=\"sessions\"><tr><th>op</th><th>outcome</th><th>inputs (keys)</th><th>seconds</th>\
         <th>ended</th></tr>",
    );
    let recent: Vec<Recent> = ctx.metrics.recent.lock().map(|r| r.iter().rev().cloned().collect()).unwrap_or_default();
    for r in recent {
        let ago = r.at.elapsed().map(|d| d.as_secs()).unwrap_or(0);
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{ago} s ago</td></tr>",
            r.op,
            esc(&r.outcome),
            r.inputs,
            r.seconds
        );
    }
    h.push_str("</table><p><a href=\"/metrics\">/metrics</a> (Prometheus) · <a href=\"/healthz\">/healthz</a></p></body></html>\n");
    h
}
