//! Handlers for ledger requests from peers: a pushed policy transaction, the inventory, transactions
//! by txid.
//!
//! Owns: turning those requests into Ledger actor messages. Must never: accept a transaction without
//! the Ledger's own validation.

use super::Router;
use crate::ledger::{GetTxs, Inventory, Submit};
use enigma_protocol::policy::PolicyError;
use enigma_protocol::wire::{ErrorKind, Request, Response};
use libp2p::PeerId;

/// At most this many transactions per `LedgerTxs` request.
const MAX_TXS_PER_REQUEST: usize = 1000;

pub async fn handle(router: &Router, peer: PeerId, req: Request) -> Response {
    let internal = |e: actix::MailboxError| Response::error(ErrorKind::Internal, e.to_string());
    match req {
        Request::LedgerPush { tx } => match router.ledger.send(Submit { tx }).await {
            Ok(Ok(_)) => Response::Ack,
            Ok(Err(PolicyError::UnknownPrevious { .. })) => {
                // the pusher has the chain: fetch it, then the push is accepted on retry
                crate::ledger::sync_with(router.ledger.clone(), router.network.clone(), peer).await;
                Response::error(ErrorKind::Busy, "ledger was behind; synced, push again")
            }
            Ok(Err(e)) => Response::error(ErrorKind::BadRequest, e.to_string()),
            Err(e) => internal(e),
        },
        Request::LedgerInventory => match router.ledger.send(Inventory).await {
            Ok(ids) => Response::LedgerInventory(ids),
            Err(e) => internal(e),
        },
        Request::LedgerTxs { txids } => {
            if txids.len() > MAX_TXS_PER_REQUEST {
                return Response::error(ErrorKind::TooLarge, "too many transactions in one request");
            }
            match router.ledger.send(GetTxs { txids }).await {
                Ok(txs) => Response::LedgerTxs(txs),
                Err(e) => internal(e),
            }
        }
        _ => Response::error(ErrorKind::BadRequest, "not a ledger request"),
    }
}
