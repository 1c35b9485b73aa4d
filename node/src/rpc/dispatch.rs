//! Method dispatch: one JSON-RPC call → one typed message to the Front actor → one JSON result.
//!
//! Owns: the method table (names from `enigma_protocol::api::method`), parameter checking per method
//! and the JSON shape of each result. Must never: do the work itself — every workflow lives in the
//! Front actor.

use super::params::Params;
use enigma_actors::front::{self, Front};
use enigma_protocol::api::{self, ApiError, ErrorCode, StoreAs, method};
use serde_json::{Value as Json, json};

/// What a call may use besides its parameters.
#[derive(Clone)]
pub struct RpcCtx {
    pub front: actix::Addr<Front>,
}

fn mailbox(e: actix::MailboxError) -> ApiError {
    ApiError::new(ErrorCode::Internal, format!("node is restarting an internal component: {e}"))
}

macro_rules! ask {
    ($ctx:expr, $msg:expr) => {
        $ctx.front.send($msg).await.map_err(mailbox)?
    };
}

/// Runs one call.
pub async fn dispatch(ctx: &RpcCtx, m: &str, params: Option<Json>) -> Result<Json, ApiError> {
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
            let mut ps = p(&["data", "type"])?;
            let data = ps.raw("data")?;
            let store_as: StoreAs = ps.optional("type")?.unwrap_or_default();
            ps.finish()?;
            let value = api::value_from_params(data, store_as)?;
            let key = ask!(ctx, front::Store { value })?;
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
            let mut ps = p(&["addresses", "keys", "level"])?;
            let addresses: Vec<String> = ps.required("addresses")?;
            let keys = ps.optional_keys("keys")?;
            let level: Option<String> = ps.optional("level")?;
            ps.finish()?;
            let txid = if m == method::PAIR {
                ask!(ctx, front::Pair { addresses, keys, level })?
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
        method::ACCESS_LOG => {
            let mut ps = p(&["key"])?;
            let key = ps.key("key")?;
            ps.finish()?;
            ask!(ctx, front::AccessLogOf { key })
        }
        other => Err(ApiError::new(ErrorCode::MethodNotFound, format!("method not found: {other}"))),
    }
}
