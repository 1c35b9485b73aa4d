//! The router: turns an inbound frame into a response by calling the handler for its kind
//! (Lighthouse's `network/router` shape: the libp2p layer moves frames, the router decides).
//!
//! Owns: decoding inbound frames (refusing unknown versions and garbage with an error response),
//! dispatch to one handler per request kind, and the checks every handler shares (signature,
//! freshness, replay, access). It runs as a stateless actor on its own arbiter (see `system::start`):
//! the Network actor hands it each [`InboundRequest`] through a `Recipient` (the network never names
//! the router), and every request is its own future, so requests run concurrently. Must never: hold
//! state of its own — it is a bundle of actor addresses — or trust a peer's claim about access:
//! every decision is made here, on this node's own view; nor import `front` or `upkeep` (it sits
//! beside upkeep, above sessions, ledger, custody and network).

mod custody;
mod ledger;

use crate::custody::{CheckNonce, Custody};
use crate::ledger::{self as ledger_actor, Ledger};
use crate::network::guard::Offence;
use crate::network::{Answer, InboundRequest, Proto};
use actix::prelude::*;
use enigma_protocol::identity::PubkeyBytes;
use enigma_protocol::manifest::Manifest;
use enigma_protocol::policy::Level;
use enigma_protocol::session::MpcRequest;
use enigma_protocol::wire::{self, AuthError, ErrorKind, MAX_CLOCK_SKEW_MS, Response, Signed, SignedBody};
use libp2p::PeerId;

/// Addresses the handlers need.
#[derive(Clone)]
pub struct Router {
    pub local: PeerId,
    pub custody: Addr<Custody>,
    pub ledger: Addr<Ledger>,
    pub network: Addr<crate::network::Network>,
    pub sessions: Addr<crate::sessions::Sessions>,
    /// This node's libp2p key: it signs endorsements of repaired manifests.
    pub node_key: libp2p::identity::Keypair,
}

impl Router {
    /// Handles one inbound frame and returns the response frame, with what the request did wrong
    /// if honest peers never send such a thing (the network's guard counts it against the peer).
    pub async fn handle(&self, proto: Proto, peer: PeerId, frame: Vec<u8>) -> (Vec<u8>, Option<Offence>) {
        let mut malformed = false;
        // in-session MPC traffic (not a start, whose refusal can be an honest race over manifests)
        let mut in_session = false;
        let response = match proto {
            Proto::Custody => match wire::decode::<wire::Request>(&frame) {
                Ok(
                    req @ (wire::Request::LedgerPush { .. }
                    | wire::Request::LedgerInventory
                    | wire::Request::LedgerTxs { .. }),
                ) => ledger::handle(self, peer, req).await,
                Ok(req) => custody::handle(self, peer, req).await,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "refusing malformed custody frame");
                    malformed = true;
                    Response::error(ErrorKind::BadRequest, e.to_string())
                }
            },
            Proto::Mpc => match wire::decode::<MpcRequest>(&frame) {
                Ok(req) => {
                    in_session = !matches!(req, MpcRequest::Start(_) | MpcRequest::Refresh(_));
                    match self.sessions.send(crate::sessions::Inbound { peer, req }).await {
                        Ok(r) => r,
                        Err(e) => Response::error(ErrorKind::Internal, e.to_string()),
                    }
                }
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "refusing malformed MPC frame");
                    malformed = true;
                    Response::error(ErrorKind::BadRequest, e.to_string())
                }
            },
        };
        let offence = if malformed {
            Some(Offence::Malformed)
        } else {
            match &response {
                // refused requests honest peers do not send: forged signatures, replays, and
                // session traffic for sessions that never existed here or from non-participants.
                // (Stale timestamps, unknown keys, denied access, late messages to ended sessions,
                // and custody or start requests refused over a manifest another node has not seen
                // yet can all happen to honest peers in races, and are not counted.)
                Response::Error { kind: ErrorKind::Replay, .. } => Some(Offence::Refused),
                Response::Error { kind: ErrorKind::BadRequest, .. } if in_session => Some(Offence::Refused),
                Response::Error { kind: ErrorKind::AccessDenied, message }
                    if message == &AuthError::BadSignature.to_string() =>
                {
                    Some(Offence::Refused)
                }
                _ => None,
            }
        };
        (wire::encode(&response), offence)
    }

    /// May `requester` act at `level` on the key of `manifest`? The owner of a stored key always may;
    /// anyone else needs a grant in this node's own ledger; a derived key needs its deriver's access
    /// to every source (`admission::may_use`).
    pub async fn may(&self, manifest: &Manifest, requester: &PubkeyBytes, level: Level) -> bool {
        if manifest.body.owner == *requester && manifest.body.derived_from.is_empty() {
            return true;
        }
        self.ledger
            .send(ledger_actor::MayUse { body: manifest.body.clone(), requester: *requester, level })
            .await
            .unwrap_or(false)
    }

    /// Signature, freshness and replay checks of a signed request.
    pub async fn authenticate<T: SignedBody>(&self, req: &Signed<T>) -> Result<(), Response> {
        let now = crate::now_ms();
        req.verify(now).map_err(auth_response)?;
        let fresh = self
            .custody
            .send(CheckNonce {
                signer: req.auth.signer.to_vec(),
                nonce: req.auth.nonce,
                expires_ms: req.auth.timestamp_ms + MAX_CLOCK_SKEW_MS,
            })
            .await
            .map_err(|e| Response::error(ErrorKind::Internal, e.to_string()))?
            .map_err(|e| Response::error(ErrorKind::Internal, e.to_string()))?;
        if !fresh {
            return Err(auth_response(AuthError::Replay));
        }
        Ok(())
    }
}

impl Actor for Router {
    type Context = Context<Self>;
}

impl Handler<InboundRequest> for Router {
    type Result = ResponseFuture<Answer>;

    /// Each request is a future of its own (actix spawns it), so a slow one holds up no other.
    fn handle(&mut self, msg: InboundRequest, _: &mut Context<Self>) -> Self::Result {
        let router = self.clone();
        Box::pin(async move {
            let (frame, offence) = router.handle(msg.proto, msg.peer, msg.frame).await;
            Answer { frame, offence }
        })
    }
}

fn auth_response(e: AuthError) -> Response {
    let kind = match e {
        AuthError::BadSignature => ErrorKind::AccessDenied,
        AuthError::Stale => ErrorKind::Stale,
        AuthError::Replay => ErrorKind::Replay,
    };
    Response::error(kind, e.to_string())
}
