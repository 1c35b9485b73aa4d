//! `policy()` and `ledger_tx(txid)`: reading this node's ledger.
//!
//! Owns: the owner's current grants and the decoded view of one transaction. Must never: show
//! anything the ledger does not hold.

use super::FrontCtx;
use crate::ledger::{Grants, View};
use enigma_protocol::api::{ApiError, ErrorCode};

fn ledger_error(e: actix::MailboxError) -> ApiError {
    ApiError::new(ErrorCode::Internal, format!("ledger: {e}"))
}

pub async fn policy(ctx: FrontCtx) -> Result<serde_json::Value, ApiError> {
    let owner = ctx.identity().await?.pubkey();
    ctx.ledger.send(Grants { owner }).await.map_err(ledger_error)
}

pub async fn ledger_tx(ctx: FrontCtx, txid: String) -> Result<serde_json::Value, ApiError> {
    let parsed: bitcoin::Txid = txid.trim().parse().map_err(|_| {
        ApiError::new(ErrorCode::InvalidParams, format!("invalid txid {txid:?}: 64 hexadecimal characters"))
    })?;
    ctx.ledger
        .send(View { txid: parsed })
        .await
        .map_err(ledger_error)?
        .ok_or_else(|| ApiError::new(ErrorCode::UnknownKey, format!("unknown transaction {txid}")))
}
