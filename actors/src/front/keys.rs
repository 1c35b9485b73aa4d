//! Identity workflows: `gen_key`, `get_pubkey`, `get_address`, `set_privkey`.
//!
//! Owns: mapping the Keystore's answers to API results. Must never: return a private key except from
//! `gen_key`, whose caller asked for it.

use super::FrontCtx;
use crate::keystore;
use enigma_protocol::api::{ApiError, ErrorCode};

fn keystore_error<E: std::fmt::Display>(e: E) -> ApiError {
    ApiError::new(ErrorCode::Internal, format!("keystore: {e}"))
}

pub async fn gen_key(ctx: FrontCtx) -> Result<(String, String), ApiError> {
    let id = ctx.keystore.send(keystore::GenKey).await.map_err(keystore_error)?.map_err(keystore_error)?;
    Ok((id.secret_hex(), id.public_hex()))
}

pub async fn get_pubkey(ctx: FrontCtx) -> Result<String, ApiError> {
    Ok(ctx.identity().await?.public_hex())
}

pub async fn get_address(ctx: FrontCtx) -> Result<String, ApiError> {
    Ok(ctx.identity().await?.address())
}

pub async fn set_privkey(ctx: FrontCtx, privkey: String) -> Result<bool, ApiError> {
    ctx.keystore.send(keystore::SetPrivkey(privkey)).await.map_err(keystore_error)?.map_err(keystore_error)
}
