//! The `pair` and `revoke` workflows: publish a policy transaction and see it reach the network.
//!
//! Owns: turning the caller's addresses, key scope and level into a policy change, having the Ledger
//! author it (signed by this node's identity), and pushing it to every live node, returning only once
//! each confirmed (or a clear timeout). Nodes that are offline get it from gossip or sync on return.
//! Must never: return a txid for a transaction the Ledger did not record.

use super::{FrontCtx, now_ms};
use crate::ledger::{Author, AuthorError};
use enigma_protocol::api::{ApiError, ErrorCode};
use enigma_protocol::keys::DataKey;
use enigma_protocol::policy::{Action, Level, PolicyChange, PolicyError, Scope};
use enigma_protocol::wire::{ErrorKind, Request, Response};
use std::time::Duration;

/// How long a node has to confirm a pushed policy transaction.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn pair(
    ctx: FrontCtx,
    addresses: Vec<String>,
    keys: Option<Vec<DataKey>>,
    level: Option<String>,
    min_count: Option<u32>,
) -> Result<String, ApiError> {
    let level = parse_level(level)?.unwrap_or(Level::Load);
    if let Some(m) = min_count
        && !(1..=enigma_protocol::policy::payload::MAX_MIN_COUNT).contains(&m)
    {
        return Err(ApiError::new(
            ErrorCode::InvalidParams,
            format!("min_count {m} is out of range (1 to {})", enigma_protocol::policy::payload::MAX_MIN_COUNT),
        ));
    }
    publish(&ctx, PolicyChange { min_count, ..change(Action::Grant, level, addresses, keys) }).await
}

pub async fn revoke(
    ctx: FrontCtx,
    addresses: Vec<String>,
    keys: Option<Vec<DataKey>>,
    level: Option<String>,
) -> Result<String, ApiError> {
    // revoking `compute` (the default) takes every access back; revoking `load` leaves `compute`
    let level = parse_level(level)?.unwrap_or(Level::Compute);
    publish(&ctx, change(Action::Revoke, level, addresses, keys)).await
}

fn parse_level(level: Option<String>) -> Result<Option<Level>, ApiError> {
    level
        .map(|l| {
            Level::parse(&l).ok_or_else(|| {
                ApiError::new(ErrorCode::InvalidParams, format!("invalid level {l:?}: use \"load\" or \"compute\""))
            })
        })
        .transpose()
}

fn change(action: Action, level: Level, addresses: Vec<String>, keys: Option<Vec<DataKey>>) -> PolicyChange {
    PolicyChange {
        action,
        level,
        scope: keys.map_or(Scope::All, Scope::Keys),
        addresses,
        timestamp: now_ms() / 1000,
        min_count: None,
    }
}

fn policy_error(e: AuthorError) -> ApiError {
    let e = match e {
        AuthorError::Policy(p) => p,
        AuthorError::Store(s) => return ApiError::new(ErrorCode::Internal, s.to_string()),
    };
    match e {
        PolicyError::Address(a) => ApiError::new(ErrorCode::InvalidAddress, a.to_string()),
        PolicyError::Payload(p) => ApiError::new(ErrorCode::InvalidParams, p.to_string()),
        other => ApiError::new(ErrorCode::Internal, other.to_string()),
    }
}

/// How pushing a policy transaction to one node ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Push {
    Confirmed,
    /// Refused, or no answer in time, from a node that is connected: the caller is told.
    Unconfirmed,
    /// No connection to the node any more: it syncs when it returns.
    Unreachable,
}

async fn publish(ctx: &FrontCtx, change: PolicyChange) -> Result<String, ApiError> {
    let identity = ctx.identity().await?;
    let valid = ctx
        .ledger
        .send(Author { identity, change })
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("ledger: {e}")))?
        .map_err(policy_error)?;
    let txid = valid.txid.to_string();
    let peers: Vec<_> = ctx.live_nodes().await?.into_iter().filter(|p| *p != ctx.local).collect();
    let push = Request::LedgerPush { tx: valid.bytes };
    let outcomes = futures::future::join_all(peers.iter().map(|p| {
        let push = &push;
        async move {
            // a node that was behind syncs from us and asks for the push again
            for _ in 0..3 {
                match ctx.request_with_timeout(*p, push, CONFIRM_TIMEOUT).await {
                    Ok(Response::Ack) => return Push::Confirmed,
                    Ok(Response::Error { kind: ErrorKind::Busy, .. }) => continue,
                    Ok(other) => {
                        tracing::warn!(peer = %p, response = ?other, "peer refused a policy transaction");
                        return Push::Unconfirmed;
                    }
                    // no connection: the node went down (or was cut off) as we pushed; it pulls the
                    // transaction from its peers when it comes back (inventory sync on peer-up)
                    Err(e) if e.code == ErrorCode::Unavailable => {
                        tracing::info!(peer = %p, error = %e.message, "node unreachable; it will sync the policy on return");
                        return Push::Unreachable;
                    }
                    Err(_) => return Push::Unconfirmed,
                }
            }
            Push::Unconfirmed
        }
    }))
    .await;
    let missing = outcomes.iter().filter(|o| **o == Push::Unconfirmed).count();
    if missing > 0 {
        return Err(ApiError::new(
            ErrorCode::Timeout,
            format!(
                "policy transaction {txid} is recorded and gossiped, but {missing} of {} nodes did not confirm it in time",
                peers.len()
            ),
        ));
    }
    Ok(txid)
}
