//! Method dispatch: one JSON-RPC call → one typed message to the Front actor → one JSON result.
//!
//! Owns: the method table (names from `enigma_protocol::api::method`), parameter checking per method
//! and the JSON shape of each result. Must never: do the work itself — every workflow lives in the
//! Front actor.

use super::params::Params;
use enigma_actors::cancel::Cancel;
use enigma_actors::front::compute::{ComputeRequest, ComputeResult, ProgressUpdate};
use enigma_actors::front::{self, Front};
use enigma_protocol::api::{self, ApiError, ErrorCode, StoreAs, method};
use enigma_protocol::keys::DataKey;
use enigma_protocol::mpc::histogram;
use enigma_protocol::mpc::{Op, OpResult};
use enigma_protocol::value::{Array, ArrayData, Value};
use serde_json::{Value as Json, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// What a call may use besides its parameters.
#[derive(Clone)]
pub struct RpcCtx {
    pub front: actix::Addr<Front>,
    /// Running long operations by op id, for `cancel` from any connection.
    pub ops: Arc<Mutex<HashMap<String, Cancel>>>,
    /// Calls and computations, for `--metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// Per-call context: cancellation (the connection closing, or `cancel`) and where progress goes.
pub struct CallCtx {
    pub cancel: Cancel,
    pub progress: Option<mpsc::UnboundedSender<ProgressUpdate>>,
    /// Include the members' cost figures in the result (`{"result": …, "timing": …}`).
    pub timing: bool,
}

fn mailbox(e: actix::MailboxError) -> ApiError {
    ApiError::new(ErrorCode::Internal, format!("node is restarting an internal component: {e}"))
}

macro_rules! ask {
    ($ctx:expr, $msg:expr) => {
        $ctx.front.send($msg).await.map_err(mailbox)?
    };
}

/// Runs one call, counting it for the metrics.
pub async fn dispatch(ctx: &RpcCtx, m: &str, params: Option<Json>, call: CallCtx) -> Result<Json, ApiError> {
    let started = std::time::Instant::now();
    tracing::debug!(method = m, "call started");
    let inputs = ctx.metrics.call_started(m, params.as_ref());
    let result = dispatch_method(ctx, m, params, call).await;
    tracing::debug!(method = m, ok = result.is_ok(), ms = started.elapsed().as_millis() as u64, "call ended");
    ctx.metrics.call(m, &result, started.elapsed(), inputs);
    result
}

async fn dispatch_method(ctx: &RpcCtx, m: &str, params: Option<Json>, call: CallCtx) -> Result<Json, ApiError> {
    let p = |names: &[&str]| Params::parse(m, params.clone(), names, None);
    match m {
        method::GEN_KEY => {
            p(&[])?.finish()?;
            let (sk, pk) = ask!(ctx, front::GenKey {})?;
            Ok(json!([sk, pk]))
        }
        method::GET_PUBKEY => {
            p(&[])?.finish()?;
            Ok(json!(ask!(ctx, front::GetPubkey {})?))
        }
        method::GET_ADDRESS => {
            p(&[])?.finish()?;
            Ok(json!(ask!(ctx, front::GetAddress {})?))
        }
        method::SET_PRIVKEY => {
            let mut ps = p(&["privkey"])?;
            let privkey: String = ps.required("privkey")?;
            ps.finish()?;
            Ok(json!(ask!(ctx, front::SetPrivkey { privkey })?))
        }
        method::STORE => {
            let mut ps = p(&["data", "type", "decimals", "exact"])?;
            let data = ps.raw("data")?;
            let store_as: StoreAs = ps.optional("type")?.unwrap_or_default();
            let scale = api::scale_from_param(ps.optional("decimals")?)?;
            let exact: bool = ps.optional("exact")?.unwrap_or(false);
            ps.finish()?;
            let value = api::value_from_params(data, store_as)?;
            let key = ask!(ctx, front::Store { value, scale, exact })?;
            Ok(json!(key.to_hex()))
        }
        method::LOAD => {
            let mut ps = p(&["key"])?;
            let key = ps.key("key")?;
            ps.finish()?;
            let value = ask!(ctx, front::Load { key })?;
            Ok(api::value_to_json(&value))
        }
        method::DELETE => {
            let mut ps = p(&["key"])?;
            let key = ps.key("key")?;
            ps.finish()?;
            Ok(json!(ask!(ctx, front::Delete { key })?))
        }
        method::STATUS => {
            p(&[])?.finish()?;
            let s = ask!(ctx, front::Status {})?;
            serde_json::to_value(s).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
        }
        method::PEERS => {
            p(&[])?.finish()?;
            let s = ask!(ctx, front::Status {})?;
            Ok(json!(s.peers.iter().map(|p| p.peer_id.clone()).collect::<Vec<_>>()))
        }
        method::PAIR | method::REVOKE => {
            let names: &[&str] = if m == method::PAIR {
                &["addresses", "keys", "level", "min_count"]
            } else {
                &["addresses", "keys", "level"]
            };
            let mut ps = p(names)?;
            let addresses: Vec<String> = ps.required("addresses")?;
            let keys = ps.optional_keys("keys")?;
            let level: Option<String> = ps.optional("level")?;
            let min_count: Option<u32> = if m == method::PAIR { ps.optional("min_count")? } else { None };
            ps.finish()?;
            let txid = if m == method::PAIR {
                ask!(ctx, front::Pair { addresses, keys, level, min_count })?
            } else {
                ask!(ctx, front::Revoke { addresses, keys, level })?
            };
            Ok(json!(txid))
        }
        method::POLICY => {
            p(&[])?.finish()?;
            ask!(ctx, front::Policy {})
        }
        method::LEDGER_TX => {
            let mut ps = p(&["txid"])?;
            let txid: String = ps.required("txid")?;
            ps.finish()?;
            ask!(ctx, front::LedgerTx { txid })
        }
        method::MANIFEST => {
            let mut ps = p(&["key"])?;
            let key = ps.key("key")?;
            ps.finish()?;
            let m = ask!(ctx, front::ManifestOf { key })?;
            let b = &m.body;
            Ok(json!({
                "key": b.key.to_hex(),
                "owner": hex::encode(b.owner),
                "type": b.meta.kind_name(),
                "shape": b.meta.shape(),
                "threshold": b.threshold,
                "epoch": b.epoch,
                "holders": b.holders.iter().map(|h| json!({
                    "peer_id": libp2p::PeerId::from_bytes(&h.peer).map(|p| p.to_string()).unwrap_or_default(),
                    "x": h.x,
                })).collect::<Vec<_>>(),
                "repaired": !matches!(m.proof, enigma_protocol::manifest::Proof::Owner(_)),
            }))
        }
        method::GROUP => {
            let mut ps = p(&["key"])?;
            let key = ps.key("key")?;
            ps.finish()?;
            ask!(ctx, front::GroupOf { key })
        }
        method::CUSTODY_KEYS => {
            p(&[])?.finish()?;
            ask!(ctx, front::CustodyKeys {})
        }
        method::ACCESS_LOG => {
            let mut ps = p(&["key"])?;
            let key = ps.key("key")?;
            ps.finish()?;
            ask!(ctx, front::AccessLogOf { key })
        }
        method::STATS_MAX | method::STATS_MIN | method::STATS_MEAN | method::STATS_VAR | method::STATS_STD => {
            let mut ps = Params::parse(m, params.clone(), &["keys", "store"], Some("keys"))?;
            let keys = ps.keys("keys")?;
            let store: bool = ps.optional("store")?.unwrap_or(false);
            ps.finish()?;
            let op = match m {
                method::STATS_MAX => Op::Max,
                method::STATS_MIN => Op::Min,
                method::STATS_MEAN => Op::Mean,
                method::STATS_VAR => Op::Var,
                _ => Op::Std,
            };
            compute(ctx, op, keys, store, call).await
        }
        method::STATS_LINREGRESS => {
            let mut ps = p(&["key_x", "key_y", "store"])?;
            let keys = vec![ps.key("key_x")?, ps.key("key_y")?];
            let store: bool = ps.optional("store")?.unwrap_or(false);
            ps.finish()?;
            compute(ctx, Op::Linregress, keys, store, call).await
        }
        method::STATS_COV | method::STATS_CORRCOEF => {
            let mut ps = if m == method::STATS_COV {
                p(&["key", "rowvar", "ddof", "store"])?
            } else {
                p(&["key", "rowvar", "store"])?
            };
            let keys = vec![ps.key("key")?];
            let rowvar: bool = ps.optional("rowvar")?.unwrap_or(true);
            let ddof: Option<i64> = if m == method::STATS_COV { ps.optional("ddof")? } else { None };
            let store: bool = ps.optional("store")?.unwrap_or(false);
            ps.finish()?;
            let op = if m == method::STATS_COV {
                let ddof = ddof.unwrap_or(1);
                let ddof = u32::try_from(ddof).map_err(|_| {
                    ApiError::new(ErrorCode::InvalidParams, format!("ddof must be 0 or more, got {ddof}"))
                })?;
                Op::Cov { rowvar, ddof }
            } else {
                Op::Corrcoef { rowvar }
            };
            compute(ctx, op, keys, store, call).await
        }
        method::STATS_TTEST_1SAMP => {
            let mut ps = p(&["key", "popmean", "store"])?;
            let keys = vec![ps.key("key")?];
            let popmean: f64 = ps.required("popmean")?;
            let store: bool = ps.optional("store")?.unwrap_or(false);
            ps.finish()?;
            // the widest range of any scale here; the engine puts popmean at the key's own scale
            enigma_protocol::fixed::NumScale::Decimal(0).encode_float(popmean, false).map_err(|_| {
                ApiError::new(ErrorCode::OutOfRange, format!("popmean {popmean} is out of range for fixed-point"))
            })?;
            compute(ctx, Op::ttest_1samp(popmean), keys, store, call).await
        }
        method::STATS_TTEST_IND | method::STATS_TTEST_REL => {
            let mut ps = if m == method::STATS_TTEST_IND {
                p(&["key_a", "key_b", "equal_var", "store"])?
            } else {
                p(&["key_a", "key_b", "store"])?
            };
            let keys = vec![ps.key("key_a")?, ps.key("key_b")?];
            let equal_var: bool =
                if m == method::STATS_TTEST_IND { ps.optional("equal_var")?.unwrap_or(true) } else { true };
            let store: bool = ps.optional("store")?.unwrap_or(false);
            ps.finish()?;
            let op = match (m == method::STATS_TTEST_IND, equal_var) {
                (true, true) => Op::TtestInd,
                (true, false) => Op::TtestWelch,
                _ => Op::TtestRel,
            };
            compute(ctx, op, keys, store, call).await
        }
        method::STATS_HISTOGRAM => {
            let mut ps = Params::parse(m, params.clone(), &["keys", "bins", "range", "store"], Some("keys"))?;
            let keys = ps.keys("keys")?;
            let bins: Json = ps.required("bins")?;
            let range: Option<(f64, f64)> = ps.optional("range")?;
            let store: bool = ps.optional("store")?.unwrap_or(false);
            ps.finish()?;
            let bad = |m: String| ApiError::new(ErrorCode::InvalidParams, m);
            let edges: Vec<f64> = match (&bins, range) {
                (Json::Number(n), range) => {
                    let count = n
                        .as_u64()
                        .filter(|c| *c >= 1)
                        .ok_or_else(|| bad(format!("bins must be a positive integer or a list of edges, got {n}")))?;
                    let (lo, hi) = range.ok_or_else(|| {
                        bad("histogram with a number of bins needs range=[lo, hi] (the data's min and max are secret)".into())
                    })?;
                    histogram::linspace_edges(usize::try_from(count).unwrap_or(usize::MAX), lo, hi).map_err(bad)?
                }
                (Json::Array(_), None) => {
                    serde_json::from_value(bins.clone()).map_err(|_| bad("bins must be a list of numbers".into()))?
                }
                (Json::Array(_), Some(_)) => return Err(bad("give either bin edges or a range, not both".into())),
                _ => return Err(bad("bins must be a positive integer or a list of edges".into())),
            };
            // validated here; the engine puts the edges at the keys' own scale
            histogram::edge_reps(&edges, enigma_protocol::fixed::NumScale::DEFAULT).map_err(bad)?;
            compute(ctx, Op::histogram(&edges), keys, store, call).await
        }
        method::STATS_MEDIAN | method::STATS_PERCENTILE | method::STATS_QUANTILE => {
            let names: &[&str] = if m == method::STATS_MEDIAN { &["keys", "store"] } else { &["keys", "q", "store"] };
            let mut ps = Params::parse(m, params.clone(), names, Some("keys"))?;
            let keys = ps.keys("keys")?;
            let q: Option<Json> = if m == method::STATS_MEDIAN { None } else { Some(ps.required("q")?) };
            let store: bool = ps.optional("store")?.unwrap_or(false);
            ps.finish()?;
            let op = match q {
                None => Op::quantile(&[0.5], true),
                Some(q) => quantile_op(&q, m == method::STATS_PERCENTILE)?,
            };
            compute(ctx, op, keys, store, call).await
        }
        method::STATS_LSTSQ => {
            let mut ps = p(&["key_x", "key_y", "intercept", "stats", "store"])?;
            let keys = vec![ps.key("key_x")?, ps.key("key_y")?];
            let intercept: bool = ps.optional("intercept")?.unwrap_or(false);
            let stats: bool = ps.optional("stats")?.unwrap_or(false);
            let store: bool = ps.optional("store")?.unwrap_or(false);
            ps.finish()?;
            if stats && store {
                return Err(ApiError::new(
                    ErrorCode::Unsupported,
                    "stats.lstsq with stats=True cannot be stored: the standard errors, t and p values are formed \
                     at the requester from revealed values (store the coefficients with stats=False)",
                ));
            }
            let op = if stats { Op::LstsqStats { intercept } } else { Op::Lstsq { intercept } };
            compute(ctx, op, keys, store, call).await
        }
        method::LINALG_DOT => {
            let mut ps = p(&["key_a", "key_b", "store"])?;
            let keys = vec![ps.key("key_a")?, ps.key("key_b")?];
            let store: bool = ps.optional("store")?.unwrap_or(false);
            ps.finish()?;
            compute(ctx, Op::Dot, keys, store, call).await
        }
        method::LINALG_INV => {
            let mut ps = p(&["key", "store"])?;
            let keys = vec![ps.key("key")?];
            let store: bool = ps.optional("store")?.unwrap_or(false);
            ps.finish()?;
            compute(ctx, Op::Inv, keys, store, call).await
        }
        method::CANCEL => {
            let mut ps = p(&["op"])?;
            let op: String = ps.required("op")?;
            ps.finish()?;
            let found = ctx.ops.lock().map(|ops| ops.get(&op).cloned()).unwrap_or(None);
            Ok(json!(found.map(|c| c.cancel()).is_some()))
        }
        other => Err(ApiError::new(ErrorCode::MethodNotFound, format!("method not found: {other}"))),
    }
}

/// `q` of stats.percentile (`percent`: in [0, 100]) or stats.quantile (in [0, 1]): a number (a 0-d
/// result) or a list of numbers, as numpy takes it.
fn quantile_op(q: &Json, percent: bool) -> Result<Op, ApiError> {
    let bad = |m: String| ApiError::new(ErrorCode::InvalidParams, m);
    let (qs, scalar): (Vec<f64>, bool) = match q {
        Json::Number(n) => (vec![n.as_f64().ok_or_else(|| bad(format!("q must be a number, got {n}")))?], true),
        Json::Array(_) => (
            serde_json::from_value(q.clone()).map_err(|_| bad("q must be a number or a list of numbers".into()))?,
            false,
        ),
        _ => return Err(bad("q must be a number or a list of numbers".into())),
    };
    if qs.is_empty() {
        return Err(bad("q is an empty list".into()));
    }
    let (hi, what) = if percent { (100.0, "Percentiles") } else { (1.0, "Quantiles") };
    if let Some(v) = qs.iter().find(|v| !(0.0..=hi).contains(*v)) {
        return Err(bad(format!("{what} must be in the range [0, {hi}], got {v}")));
    }
    if qs.len() > enigma_protocol::mpc::quantile::MAX_QUANTILES {
        return Err(bad(format!("at most {} quantiles per call", enigma_protocol::mpc::quantile::MAX_QUANTILES)));
    }
    // numpy.percentile: q / 100, then quantile
    let qs: Vec<f64> = if percent { qs.iter().map(|v| v / 100.0).collect() } else { qs };
    Ok(Op::quantile(&qs, scalar))
}

async fn compute(ctx: &RpcCtx, op: Op, keys: Vec<DataKey>, store: bool, call: CallCtx) -> Result<Json, ApiError> {
    let timing = call.timing;
    let req = ComputeRequest { op, keys, store, progress: call.progress, cancel: call.cancel };
    let out = ask!(ctx, front::Compute { req })?;
    let result = match out.result {
        ComputeResult::Key(k) => json!(k.to_hex()),
        ComputeResult::Value(OpResult::Scalars(v)) => json!(v),
        ComputeResult::Value(OpResult::Linregress { slope, intercept, r_value, p_value, std_err }) => {
            json!([slope, intercept, r_value, p_value, std_err])
        }
        ComputeResult::Value(OpResult::Ttest { statistic, pvalue, df }) => json!([statistic, pvalue, df]),
        ComputeResult::Value(OpResult::Lstsq { params, bse, tvalues, pvalues, rsquared, rsquared_adj, df_resid }) => {
            // NaN (undefined) and ±inf (a perfect fit) travel as null
            json!({
                "params": params, "bse": bse, "tvalues": tvalues, "pvalues": pvalues,
                "rsquared": rsquared, "rsquared_adj": rsquared_adj, "df_resid": df_resid,
            })
        }
        ComputeResult::Value(OpResult::KeyIndex(_)) => {
            return Err(ApiError::new(ErrorCode::Internal, "an index result without its key"));
        }
        ComputeResult::Value(OpResult::Array { shape, data, .. }) => {
            let value = match (shape.is_empty(), data) {
                (true, ArrayData::Int(v)) => Value::Int(v.first().copied().unwrap_or(0)),
                (true, ArrayData::Float(v)) => Value::Float(v.first().copied().unwrap_or(0.0)),
                (false, data) => Value::Array(Array { shape, data }),
            };
            api::value_to_json(&value)
        }
    };
    if timing {
        let t = out.timing;
        return Ok(json!({
            "result": result,
            "timing": {"prep_ms": t.prep_ms, "online_ms": t.online_ms, "rounds": t.rounds, "bytes_sent": t.bytes_sent},
        }));
    }
    Ok(result)
}
