//! Malicious peers against a devnet of real node processes: peers that speak Enigma's protocol
//! *correctly* — valid frames, valid signatures, fresh nonces, real grants — and lie about who should
//! take part and at what threshold (issue 10). `tests/hostile.rs` covers peers that send garbage;
//! this file covers peers that send well-formed, signed, plausible requests.
//!
//! # The attacker
//!
//! - **In-process peers** ([`Attacker`]): real libp2p `Network` actors in the test process, each with
//!   its own ed25519 node key, joined to the devnet like any node. They have no node actors behind
//!   them: a test-only hook (`network::SetInbound`) hands every inbound frame to a small recorder
//!   that keeps it and answers as the test says, and `network::SetStreamInbound` hands it every
//!   session stream, whose messages it records as MPC `Msg`s. So a test can show exactly what honest nodes sent to
//!   an attacker peer — in particular whether any MPC `Msg` (a dealt share) reached it — and can
//!   reconstruct the owner's data from what was dealt.
//! - **A user identity** (secp256k1) that the victim owner has granted `compute` access (`pair` with
//!   `level: compute`). It signs the attacker's session starts.
//! - **Nodes the attacker runs**: a devnet node "owned" by the attacker is stopped and its node key
//!   (read from its data directory, as its operator could) is used by an in-process peer, which is
//!   then that holder — same peer id, same place in every manifest — but runs the attacker's code.
//! - **An honest node run by the grantee** (a node process whose identity is the grantee's) for the
//!   attacks that need no crafted frames: the public API, used as documented.
//!
//! # The cases (each states what a fixed node must do; today most of them fail, showing the attack)
//!
//! 1. `a_grantees_sybil_committee_with_low_t_is_refused_and_nothing_is_dealt_to_it`: the grantee
//!    signs a `SessionStart` for `stats.mean` whose committee is {attacker A1, attacker A2, one honest
//!    holder} with n = 3, t = 1, the owner's key reshared by 3 honest holders at their real x. Every
//!    honest dealer must refuse the start; no MPC message may reach A1 or A2; the attacker must not
//!    be able to reconstruct the data (today it does, exactly).
//! 2. `a_holders_repair_to_its_own_nodes_with_low_t_is_refused_and_the_manifest_stays`: a holder
//!    the attacker runs coordinates a `Refresh` onto a new group with two attacker peers at t = 1, and
//!    asks for `Endorse`ments of weakened manifest bodies (lower t; attacker peers swapped in or
//!    added). Every honest holder must refuse both; nothing may be dealt; every holder's manifest
//!    must keep its epoch, holders and threshold; no weakened manifest may verify. (Today: the refresh that keeps
//!    every live holder and adds attacker peers at t = 1 is admitted and endorsed, the attacker
//!    reconstructs the data, and the weakened manifest becomes the official one on every holder.)
//! 3. `a_computation_with_a_holder_down_keeps_the_inputs_threshold`: one of 5 holders is down and
//!    the attacker runs another holder. The owner's own `stats.mean`: any start the attacker's holder
//!    receives must have committee ≥ 5 and t ≥ 2 (the input's), or the call must fail with
//!    `NotEnoughNodes`. A start crafted by the grantee on the 4 live holders with t = 1 must be refused
//!    by every honest holder.
//! 4. [`a_compute_grant_gives_aggregates_not_data_and_derived_keys_follow_their_sources`], through
//!    the grantee's own honest node: `linalg.dot(owner matrix, grantee identity)`,
//!    `linalg.inv(owner matrix)`, `stats.mean(owner key, grantee key)` (padding),
//!    `stats.mean(owner scalar)`, `stats.mean` of 3 values (< min_count = 5) and
//!    `stats.max(owner scalar, grantee scalar)` must each be refused with `AccessDenied`, while an
//!    honest aggregate (`stats.mean` of the owner's 50 values) keeps working.
//! 5. (same test, same devnet) derived keys: `stats.mean(owner key, store=True)` and loading the
//!    result work while granted; the grantee `pair`s the derived key to a third identity, which must
//!    not be able to load or compute it; after the owner's `revoke`, the derived key must no longer
//!    load nor compute for the grantee.
//! 6. `ground_peer_ids_do_not_capture_the_committee_of_a_key_whose_holders_are_down`: a key stored
//!    at n = 3, t = 1; one holder down; two attacker peers whose ids were ground to rank first for the
//!    constant `DataKey([0; 32])` that orders fallback committees. The *owner's own* `stats.mean`
//!    must not give the ground ids t + 1 seats, and they must not reconstruct the data (today they
//!    hold 2 of 3 seats at t = 1 and do, with no grant at all).
//! 7. (inside case 2, sub-case (f)) one malicious holder deletes a key from every honest holder: it
//!    gets a same-group, same-t, epoch + 1 body endorsed (no refresh ran), then reconnects and serves
//!    that manifest; `custody::sync::on_peer_up` takes it as "refreshed while this node was away" and
//!    drops each co-holder's share. Every holder must keep its share, and the owner must still load.
//! 8. `a_coordinator_cannot_keep_a_refreshed_key_under_a_manifest_it_signed_as_owner`: a holder the
//!    attacker runs coordinates an honest refresh of the unchanged group (3 honest dealers, the real
//!    manifest carried), collects the members' new commitments, and sends them `KeepRefreshed` with
//!    the same key, data, holders and commitments one epoch later but *its own identity* as the
//!    owner, signed by it. Every honest member must refuse it; no holder may serve its share to that
//!    identity; every holder's manifest keeps the owner's pubkey, and the owner still loads.
//! 9. `a_co_holders_self_signed_newer_manifest_does_not_make_holders_drop_their_shares`: the
//!    attacker's holder goes down and comes back serving, for one key, an epoch + 1 manifest it signed
//!    as owner, and for another the owner's pubkey with its own signature. Each co-holder asks it
//!    (`on_peer_up`) and must keep both shares (`custody_keys`) and manifests; the owner still loads.
//! 10. `a_refresh_dealt_by_the_coordinators_holder_alone_is_refused`: a refresh of the same group
//!     at the same t whose dealers are only the attacker's holder (once, t + 1 times, at honest
//!     holders' x) or list an honest x twice must be refused by every honest holder (the same refresh
//!     with 3 honest dealers is admitted), and the manifest stays.
//! 11. `a_compute_grant_counts_each_key_once_and_never_pads_a_key_with_another`: under a compute
//!     grant (min_count 5), `stats.mean(K1, K1, K1, K1, K1)` of a scalar, `stats.mean(scalar, 50
//!     values)` and `stats.mean(3 values, 50 values)` are refused with `AccessDenied` while the mean of
//!     two 50-value keys works; under a load grant `stats.mean(scalar, store=True)` is refused. The
//!     same starts, crafted and sent straight to the holders, must be refused by every dealer.
//!
//! Each test collects every check ([`Findings`]) and fails at its end listing each attack that
//! worked, so one run shows every hole of a case, not just the first.

mod support;

use actix::prelude::*;
use enigma_actors::network::guard::GuardConfig;
use enigma_actors::network::{
    Answer, InboundRequest, InboundStream, LivePeers, NetConfig, Network, Proto, SendRequest, SetInbound,
    SetStreamInbound,
};
use enigma_client::{Client, ClientError};
use enigma_protocol::api::ErrorCode;
use enigma_protocol::field::{self, Fp};
use enigma_protocol::identity::Identity;
use enigma_protocol::keys::DataKey;
use enigma_protocol::manifest::{Endorsement, Holder, Manifest, ManifestBody};
use enigma_protocol::mpc::{Op, Security};
use enigma_protocol::session::{
    InputSource, InputSpec, MpcRequest, RefreshStart, SessionId, SessionOutcome, SessionStart,
};
use enigma_protocol::shamir;
use enigma_protocol::value::{self, Value, ValueMeta};
use enigma_protocol::wire::{self, ErrorKind, Request, Response, Signed};
use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{Cluster, Opts, wait_for};

// ================================================================================================
// The attacker's in-process peer
// ================================================================================================

/// A frame an attacker peer received, decoded.
#[derive(Clone, Debug)]
pub enum Frame {
    Mpc(MpcRequest),
    Custody(Request),
    Garbage(Vec<u8>),
}

/// One received frame: when, from whom, what.
#[derive(Clone, Debug)]
pub struct Heard {
    pub at: Instant,
    pub from: PeerId,
    pub frame: Frame,
}

/// How an attacker peer answers what it receives.
pub type Policy = Arc<dyn Fn(&Heard) -> Response + Send + Sync>;

/// The default answers: acknowledge every in-session MPC message (so honest senders keep dealing),
/// decline every session start (an attacker peer cannot run a member session), know no key.
pub fn default_policy() -> Policy {
    Arc::new(|h: &Heard| match &h.frame {
        Frame::Mpc(MpcRequest::Start(_) | MpcRequest::Refresh(_)) => {
            Response::error(ErrorKind::Internal, "this peer declines to take part")
        }
        Frame::Mpc(_) => Response::Ack,
        Frame::Custody(Request::GetManifest { .. }) => Response::Manifest(None),
        Frame::Custody(_) => Response::error(ErrorKind::UnknownKey, "nothing here"),
        Frame::Garbage(_) => Response::error(ErrorKind::BadRequest, "garbage"),
    })
}

/// The recorder behind an attacker peer's network (installed with `SetInbound`).
struct Tap {
    log: Arc<Mutex<Vec<Heard>>>,
    policy: Arc<Mutex<Policy>>,
}

impl Actor for Tap {
    type Context = Context<Self>;
}

impl Handler<InboundRequest> for Tap {
    type Result = MessageResult<InboundRequest>;
    fn handle(&mut self, m: InboundRequest, _: &mut Context<Self>) -> Self::Result {
        let frame = match m.proto {
            Proto::Mpc => wire::decode::<MpcRequest>(&m.frame).map(Frame::Mpc),
            Proto::Custody => wire::decode::<Request>(&m.frame).map(Frame::Custody),
        }
        .unwrap_or(Frame::Garbage(m.frame));
        let heard = Heard { at: Instant::now(), from: m.peer, frame };
        let policy = self.policy.lock().unwrap().clone();
        let response = policy(&heard);
        self.log.lock().unwrap().push(heard);
        MessageResult(Answer { frame: wire::encode(&response), offence: None })
    }
}

/// Session streams opened to an attacker peer are recorded too (`network::SetStreamInbound`): each
/// message on one becomes an `MpcRequest::Msg` in the log, numbered from 0 per stream, with the
/// sender's participant index taken from the session start or refresh this peer was sent (as an
/// honest member binds a stream to its opener).
impl Handler<InboundStream> for Tap {
    type Result = ();
    fn handle(&mut self, m: InboundStream, _: &mut Context<Self>) {
        let peer_bytes = m.peer.to_bytes();
        let from = self
            .log
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find_map(|h| match &h.frame {
                Frame::Mpc(MpcRequest::Start(s)) if s.body.session == m.tag => Some(s.body.participants.clone()),
                Frame::Mpc(MpcRequest::Refresh(r)) if r.session == m.tag => Some(r.participants.clone()),
                _ => None,
            })
            .and_then(|ps| ps.iter().position(|p| *p == peer_bytes))
            .map_or(u32::MAX, |i| i as u32);
        let (log, mut reader, peer, session) = (self.log.clone(), m.reader, m.peer, m.tag);
        actix::spawn(async move {
            if reader.accept().await.is_err() {
                return;
            }
            let mut seq = 0u64;
            while let Ok(Ok(Some(payload))) = tokio::time::timeout(Duration::from_secs(120), reader.next()).await {
                let frame = Frame::Mpc(MpcRequest::Msg { session, from, seq, payload });
                log.lock().unwrap().push(Heard { at: Instant::now(), from: peer, frame });
                seq += 1;
            }
        });
    }
}

/// A real libp2p peer in the test process, run by the attacker: it joins the devnet, sends any frame
/// it likes, and records every frame it receives.
pub struct Attacker {
    pub name: String,
    pub id: PeerId,
    pub key: Keypair,
    net: Addr<Network>,
    arbiter: ArbiterHandle,
    system: System,
    log: Arc<Mutex<Vec<Heard>>>,
    policy: Arc<Mutex<Policy>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Attacker {
    /// Starts a peer with `key` (a fresh one, or a node key the attacker owns) that joins through
    /// `seed`, and waits until it sees every peer of `expect`.
    pub fn start(name: &str, key: Keypair, seed: Multiaddr, expect: &[PeerId]) -> Attacker {
        Attacker::start_with(name, key, seed, expect, |h: &Heard| default_policy()(h))
    }

    /// [`Attacker::start`] answering with `policy` from the first frame on (what it tells the peers
    /// that query it as soon as it connects).
    pub fn start_with(
        name: &str,
        key: Keypair,
        seed: Multiaddr,
        expect: &[PeerId],
        policy: impl Fn(&Heard) -> Response + Send + Sync + 'static,
    ) -> Attacker {
        let id = key.public().to_peer_id();
        let log = Arc::new(Mutex::new(Vec::new()));
        let policy: Arc<Mutex<Policy>> = Arc::new(Mutex::new(Arc::new(policy)));
        let (tx, rx) = std::sync::mpsc::channel();
        let (key2, log2, policy2) = (key.clone(), log.clone(), policy.clone());
        let thread = std::thread::Builder::new()
            .name(format!("attacker-{name}"))
            .spawn(move || {
                let sys = actix_rt::System::new();
                sys.block_on(async move {
                    let net = Network::start(
                        key2,
                        NetConfig {
                            listen: "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
                            seed: Some(seed),
                            max_frame: 16 << 20,
                            request_timeout: Duration::from_secs(10),
                            guard: GuardConfig::default(),
                            streams: Default::default(),
                            wan: None,
                        },
                    )
                    .await
                    .expect("the attacker's network starts");
                    let tap = Tap { log: log2, policy: policy2 }.start();
                    net.send(SetInbound(tap.clone().recipient())).await.expect("network actor");
                    net.send(SetStreamInbound(tap.recipient())).await.expect("network actor");
                    tx.send((net, System::current(), Arbiter::current())).unwrap();
                });
                let _ = sys.run();
            })
            .unwrap();
        let (net, system, arbiter) = rx.recv_timeout(Duration::from_secs(30)).expect("the attacker peer started");
        let a = Attacker { name: name.into(), id, key, net, arbiter, system, log, policy, thread: Some(thread) };
        a.wait_sees(expect);
        a
    }

    /// Runs a future on this peer's actix system and waits for its result.
    fn run<T: Send + 'static>(&self, timeout: Duration, fut: impl Future<Output = T> + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        self.arbiter.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv_timeout(timeout).unwrap_or_else(|_| panic!("{}: did not finish in {timeout:?}", self.name))
    }

    /// The live Enigma peers this peer sees.
    pub fn live(&self) -> Vec<PeerId> {
        let net = self.net.clone();
        self.run(Duration::from_secs(10), async move { net.send(LivePeers).await.expect("network actor") })
    }

    /// Waits until this peer sees every peer of `peers`.
    pub fn wait_sees(&self, peers: &[PeerId]) {
        wait_for(&format!("{} to see {peers:?}", self.name), Duration::from_secs(30), || {
            let live = self.live();
            peers.iter().all(|p| live.contains(p)).then_some(())
        });
    }

    /// Sends one frame and decodes the answer (`None`: no answer at the network level).
    pub fn ask_frame(&self, proto: Proto, to: PeerId, frame: Vec<u8>) -> Option<Response> {
        let net = self.net.clone();
        let r =
            self.run(Duration::from_secs(30), async move { net.send(SendRequest { proto, peer: to, frame }).await });
        r.expect("network actor")
            .ok()
            .map(|b| wire::decode::<Response>(&b).expect("honest nodes answer in the wire format"))
    }

    /// Sends an MPC request to a peer.
    pub fn ask(&self, to: PeerId, req: &MpcRequest) -> Option<Response> {
        self.ask_frame(Proto::Mpc, to, wire::encode(req))
    }

    /// Sends an MPC request to several peers at once; their answers in order.
    pub fn ask_all(&self, to: &[PeerId], req: &MpcRequest) -> Vec<Option<Response>> {
        let frame = wire::encode(req);
        let net = self.net.clone();
        let to = to.to_vec();
        let r = self.run(Duration::from_secs(30), async move {
            futures::future::join_all(to.into_iter().map(|peer| {
                let (net, frame) = (net.clone(), frame.clone());
                async move { net.send(SendRequest { proto: Proto::Mpc, peer, frame }).await }
            }))
            .await
        });
        r.into_iter()
            .map(|r| r.expect("network actor").ok().map(|b| wire::decode::<Response>(&b).expect("wire format")))
            .collect()
    }

    /// Sends a custody request to a peer.
    pub fn ask_custody(&self, to: PeerId, req: &Request) -> Option<Response> {
        self.ask_frame(Proto::Custody, to, wire::encode(req))
    }

    /// A holder's manifest of `key` (`None` if it has none or did not answer).
    pub fn manifest(&self, holder: PeerId, key: DataKey) -> Option<Manifest> {
        match self.ask_custody(holder, &Request::GetManifest { key }) {
            Some(Response::Manifest(m)) => m,
            _ => None,
        }
    }

    /// Changes how this peer answers what it receives.
    pub fn set_policy(&self, p: impl Fn(&Heard) -> Response + Send + Sync + 'static) {
        *self.policy.lock().unwrap() = Arc::new(p);
    }

    /// Everything this peer received so far.
    pub fn heard(&self) -> Vec<Heard> {
        self.log.lock().unwrap().clone()
    }

    /// The MPC protocol messages of `session` this peer received: (from participant, seq, payload).
    pub fn recorded_msgs(&self, session: SessionId) -> Vec<(u32, u64, Vec<u8>)> {
        self.heard()
            .into_iter()
            .filter_map(|h| match h.frame {
                Frame::Mpc(MpcRequest::Msg { session: s, from, seq, payload }) if s == session => {
                    Some((from, seq, payload))
                }
                _ => None,
            })
            .collect()
    }

    /// The session starts (signed by a requester) this peer received.
    pub fn recorded_starts(&self) -> Vec<SessionStart> {
        self.heard()
            .into_iter()
            .filter_map(|h| match h.frame {
                Frame::Mpc(MpcRequest::Start(s)) => Some(s.body),
                _ => None,
            })
            .collect()
    }

    /// The members' outcomes of `session` this peer received as its requester: (member, outcome).
    pub fn recorded_outputs(&self, session: SessionId) -> Vec<(u32, SessionOutcome)> {
        self.heard()
            .into_iter()
            .filter_map(|h| match h.frame {
                Frame::Mpc(MpcRequest::Output { session: s, from, outcome, .. }) if s == session => {
                    Some((from, outcome))
                }
                _ => None,
            })
            .collect()
    }

    /// Signs `body` as a repaired-manifest endorsement with this peer's node key.
    pub fn endorse(&self, body: &ManifestBody) -> Endorsement {
        Endorsement { peer: self.id.to_bytes(), signature: self.key.sign(&body.endorsement_bytes()).unwrap() }
    }
}

impl Drop for Attacker {
    fn drop(&mut self) {
        // stops this peer's actix system and with it its arbiters (not joined: the test need not wait)
        self.system.stop();
        drop(self.thread.take());
    }
}

// ================================================================================================
// Crafting requests
// ================================================================================================

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

fn session_id(tag: u8) -> SessionId {
    let mut s: SessionId = rand::random();
    s[0] = tag;
    s
}

/// A session start signed by `requester` (a user identity), as the MPC frame to send.
pub fn sign_start(requester: &Identity, start: SessionStart) -> MpcRequest {
    MpcRequest::Start(Signed::sign(start, requester, now_ms(), &mut rand::rng()))
}

/// A start for `op` on one input reshared by `dealers` (their participant index and real x), with
/// the committee `participants[..committee]`, outputs to `requester`.
pub fn reshare_start(
    op: Op,
    manifest: &Manifest,
    dealers: Vec<(u32, u64)>,
    participants: &[PeerId],
    committee: u32,
    threshold: u32,
    requester: PeerId,
) -> SessionStart {
    SessionStart {
        session: session_id(1),
        op,
        inputs: vec![InputSpec {
            key: manifest.body.key,
            meta: manifest.body.meta.clone(),
            source: InputSource::Reshare { dealers },
        }],
        // the real, owner-signed manifest: what every dealer checks the committee against
        manifests: vec![manifest.clone()],
        participants: participants.iter().map(|p| p.to_bytes()).collect(),
        committee,
        threshold,
        requester: requester.to_bytes(),
        store: false,
        deadline_ms: now_ms() + 30_000,
        security: Security::Active,
    }
}

/// The first `count` holders of a manifest that are among `honest`, as (peer, x).
fn holders_among(m: &Manifest, honest: &[PeerId], count: usize) -> Vec<(PeerId, u64)> {
    m.body
        .holders
        .iter()
        .filter_map(|h| PeerId::from_bytes(&h.peer).ok().map(|p| (p, h.x)))
        .filter(|(p, _)| honest.contains(p))
        .take(count)
        .collect()
}

/// Waits (up to `timeout`) until every attacker member in `members` got a reshare message from
/// each dealer index in `dealers`; then sums each member's messages into its share of the input
/// (member i of the committee holds x = i + 1) and reconstructs the input at threshold `t`.
/// `None` if not enough was dealt.
fn reconstruct_from_dealt(
    session: SessionId,
    members: &[(&Attacker, usize)],
    dealers: &[u32],
    meta: &ValueMeta,
    t: usize,
    timeout: Duration,
) -> Option<Value> {
    let len = meta.element_count()?;
    let first = |a: &Attacker| -> BTreeMap<u32, Vec<u8>> {
        a.recorded_msgs(session)
            .into_iter()
            .filter(|(from, seq, p)| *seq == 0 && dealers.contains(from) && p.len() == len * field::BYTES)
            .map(|(from, _, p)| (from, p))
            .collect()
    };
    let deadline = Instant::now() + timeout;
    while members.iter().any(|(a, _)| first(a).len() < dealers.len()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut shares: Vec<(Fp, Vec<Fp>)> = Vec::new();
    for (a, index) in members {
        let got = first(a);
        if got.len() < dealers.len() {
            continue;
        }
        let mut acc = vec![Fp::ZERO; len];
        for payload in got.values() {
            for (s, v) in acc.iter_mut().zip(field::from_bytes_vec(payload).ok()?) {
                *s += v;
            }
        }
        shares.push((shamir::x_of(*index), acc));
    }
    if shares.len() < t + 1 {
        return None;
    }
    let refs: Vec<(Fp, &[Fp])> = shares.iter().map(|(x, s)| (*x, s.as_slice())).collect();
    value::decode(meta, &shamir::reconstruct(&refs, t).ok()?).ok()
}

// ================================================================================================
// Checks
// ================================================================================================

/// Every check of a test: each one that found the attack working is kept and reported at the end,
/// so a run shows every hole, not only the first.
#[derive(Default)]
pub struct Findings(Vec<String>);

impl Findings {
    /// `refused`: the attack was refused (the fixed behaviour). `what` says what was tried and seen.
    pub fn check(&mut self, refused: bool, what: impl Into<String>) {
        let what = what.into();
        eprintln!("[{}] {what}", if refused { "refused" } else { "ATTACK WORKED" });
        if !refused {
            self.0.push(what);
        }
    }

    pub fn assert_all_refused(self, case: &str) {
        assert!(self.0.is_empty(), "{case}: {} attack(s) worked:\n  - {}", self.0.len(), self.0.join("\n  - "));
    }
}

/// A response, short (signatures elided).
fn brief(r: &Option<Response>) -> String {
    match r {
        None => "no answer".into(),
        Some(Response::Endorsement(_)) => "Endorsement(its signature)".into(),
        Some(Response::Error { kind, message }) => format!("{kind:?}: {message}"),
        Some(other) => format!("{other:?}"),
    }
}

/// A reconstructed value, short.
fn shown(v: &Option<Value>) -> String {
    match v {
        None => "nothing".into(),
        Some(v) => {
            let j = v.to_json().to_string();
            if j.len() > 80 { format!("{}…", &j[..80]) } else { j }
        }
    }
}

fn is_error(r: &Option<Response>) -> bool {
    matches!(r, Some(Response::Error { .. }))
}

fn peer(c: &Cluster, i: usize) -> PeerId {
    PeerId::from_str(&c.nodes[i].peer_id).unwrap()
}

fn seed(c: &Cluster, i: usize) -> Multiaddr {
    format!("/ip4/127.0.0.1/tcp/{}", c.nodes[i].port).parse().unwrap()
}

fn key_of(s: &str) -> DataKey {
    DataKey::from_str(s).unwrap()
}

/// The owner's data: 50 distinct integers.
fn secret_array() -> Vec<i64> {
    (0..50).map(|i| 1_000 + 37 * i * i - 11 * i).collect()
}

/// Stops a devnet node and hands its node key to the attacker: the returned in-process peer *is* that
/// node (same peer id, same place in every manifest), running the attacker's code.
fn take_over(c: &mut Cluster, i: usize, expect: &[PeerId]) -> Attacker {
    let dir = c.nodes[i].dir.clone();
    c.kill(i);
    let key = enigma_actors::keystore::file::load_or_create_node_key(&dir, None).expect("the node key file");
    assert_eq!(key.public().to_peer_id().to_string(), c.nodes[i].peer_id);
    let first_running = (0..c.nodes.len()).find(|&j| c.nodes[j].is_running()).unwrap();
    Attacker::start(&format!("node{i}"), key, seed(c, first_running), expect)
}

/// Waits until every running node sees (or no longer sees) `p`.
fn wait_seen(c: &Cluster, p: PeerId, seen: bool) {
    for (i, n) in c.nodes.iter().enumerate().filter(|(_, n)| n.is_running()) {
        wait_for(&format!("node {i} to see {p} {}", if seen { "up" } else { "down" }), Duration::from_secs(30), || {
            let peers = Client::connect(&n.socket()).ok()?.peers().ok()?;
            (peers.contains(&p.to_string()) == seen).then_some(())
        });
    }
}

fn code<T>(r: &Result<T, ClientError>) -> Option<ErrorCode> {
    r.as_ref().err().and_then(|e| e.code())
}

fn denied<T>(r: &Result<T, ClientError>) -> bool {
    code(r) == Some(ErrorCode::AccessDenied)
}

fn show(r: &Result<Json, ClientError>) -> String {
    match r {
        Ok(v) => format!("returned {v}"),
        Err(e) => format!("failed: {e}"),
    }
}

// ================================================================================================
// 1. A grantee's sybil committee
// ================================================================================================

#[test]
fn a_grantees_sybil_committee_with_low_t_is_refused_and_nothing_is_dealt_to_it() {
    let c = Cluster::start(Opts::default());
    let honest: Vec<PeerId> = (0..5).map(|i| peer(&c, i)).collect();
    let data = secret_array();
    let k = key_of(&c.client(0).store_json(json!(data)).unwrap());

    // the owner grants the attacker's user identity compute access, as to any analyst
    let grantee = Identity::generate(&mut rand::rng());
    c.client(0).call("pair", json!({"addresses": [grantee.address()], "level": "compute"})).unwrap();

    let a1 = Attacker::start("A1", Keypair::generate_ed25519(), seed(&c, 0), &honest);
    let a2 = Attacker::start("A2", Keypair::generate_ed25519(), seed(&c, 1), &honest);
    let m = a1.manifest(honest[0], k).expect("a holder serves the manifest");
    assert_eq!((m.body.holders.len(), m.body.threshold), (5, 2), "stored at n = 5, t = 2");

    // committee {A1, A2, h0} at n = 3, t = 1; the input reshared by h0, h1, h2 at their real x
    let dealers = holders_among(&m, &honest, 3);
    let mut participants = vec![a1.id, a2.id];
    participants.extend(dealers.iter().map(|(p, _)| *p));
    let dealer_idx: Vec<(u32, u64)> = dealers.iter().enumerate().map(|(i, (_, x))| (i as u32 + 2, *x)).collect();
    let start = reshare_start(Op::Mean, &m, dealer_idx.clone(), &participants, 3, 1, a1.id);
    let session = start.session;
    let signed = sign_start(&grantee, start);

    let mut f = Findings::default();
    let to: Vec<PeerId> = dealers.iter().map(|(p, _)| *p).collect();
    let answers = a1.ask_all(&to, &signed);
    for (p, r) in to.iter().zip(&answers) {
        f.check(is_error(r), format!("honest dealer {p} answered the sybil start (n=3, t=1) with {}", brief(r)));
    }
    // go, to every dealer (also those that refused: a malicious requester sends it anyway)
    let took: Vec<PeerId> =
        to.iter().zip(&answers).filter(|(_, r)| matches!(r, Some(Response::Ack))).map(|(p, _)| *p).collect();
    a1.ask_all(&to, &MpcRequest::Go { session });
    let indices: Vec<u32> = dealer_idx.iter().map(|(i, _)| *i).collect();
    let window = if took.is_empty() { Duration::from_secs(3) } else { Duration::from_secs(15) };
    let got = reconstruct_from_dealt(session, &[(&a1, 0), (&a2, 1)], &indices, &m.body.meta, 1, window);
    let dealt = a1.recorded_msgs(session).len() + a2.recorded_msgs(session).len();
    f.check(dealt == 0, format!("{dealt} MPC messages of the sybil session reached A1/A2"));
    f.check(
        got.is_none(),
        format!("the attacker reconstructed the owner's 50 values, exactly, from what was dealt: {}", shown(&got)),
    );
    if let Some(v) = &got {
        assert_eq!(v.to_json(), json!(data), "the reconstruction is the owner's array, exactly");
    }
    a1.ask_all(&to, &MpcRequest::Abort { session, reason: "done".into() });

    // the honest network still computes for the same grantee, through an honest node
    let mut gn = c.client(1);
    gn.set_privkey(&grantee.secret_hex()).unwrap();
    let mean = gn.call("stats.mean", json!([k.to_hex()])).unwrap();
    let want = data.iter().sum::<i64>() as f64 / data.len() as f64;
    assert!((mean[0].as_f64().unwrap() - want).abs() < 1e-6, "{mean}");
    f.assert_all_refused("sybil committee");
}

// ================================================================================================
// 2. A holder's repair to its own nodes
// ================================================================================================

#[test]
fn a_holders_repair_to_its_own_nodes_with_low_t_is_refused_and_the_manifest_stays() {
    let mut c = Cluster::start(Opts::default());
    let data = secret_array();
    let k1 = key_of(&c.client(0).store_json(json!(data)).unwrap());
    // one key per attempt that an endorsement could use up (a holder endorses one body per epoch)
    let k2 = key_of(&c.client(0).store_json(json!([5, 6, 7, 8, 9, 10])).unwrap());
    let k3 = key_of(&c.client(0).store_json(json!([15, 16, 17, 18, 19])).unwrap());
    let k4 = key_of(&c.client(0).store_json(json!([25, 26, 27, 28, 29])).unwrap());
    let honest: Vec<PeerId> = (0..4).map(|i| peer(&c, i)).collect();

    // node 4 is the attacker's: its operator runs the attacker's code under its node key
    let a1 = take_over(&mut c, 4, &honest);
    wait_seen(&c, a1.id, true);
    let a2 = Attacker::start("A2", Keypair::generate_ed25519(), seed(&c, 0), &honest);
    let before1: Vec<Manifest> = honest.iter().map(|h| a1.manifest(*h, k1).expect("manifest")).collect();
    let before2: Vec<Manifest> = honest.iter().map(|h| a1.manifest(*h, k2).expect("manifest")).collect();
    let before3: Vec<Manifest> = honest.iter().map(|h| a1.manifest(*h, k3).expect("manifest")).collect();
    let before4: Vec<Manifest> = honest.iter().map(|h| a1.manifest(*h, k4).expect("manifest")).collect();
    let m = before1[0].clone();
    assert!(m.holder(&a1.id.to_bytes()).is_some(), "the attacker's node is a holder");
    assert_eq!(m.body.threshold, 2);
    let dealers = holders_among(&m, &honest, 3);
    let mut f = Findings::default();

    let refresh = |participants: &[PeerId], t: u32, m: &Manifest| -> RefreshStart {
        let dealer_idx = dealers
            .iter()
            .map(|(p, x)| (participants.iter().position(|q| q == p).expect("dealers are in the group") as u32, *x))
            .collect();
        RefreshStart {
            session: session_id(2),
            inputs: vec![(
                InputSpec {
                    key: m.body.key,
                    meta: m.body.meta.clone(),
                    source: InputSource::Reshare { dealers: dealer_idx },
                },
                m.body.epoch,
            )],
            manifests: vec![m.clone()],
            participants: participants.iter().map(|p| p.to_bytes()).collect(),
            committee: participants.len() as u32,
            threshold: t,
            deadline_ms: now_ms() + 30_000,
        }
    };
    let body_with = |m: &Manifest, peers: &[PeerId], t: u32| -> ManifestBody {
        let mut b = m.body.clone();
        b.epoch += 1;
        b.threshold = t;
        b.holders = peers
            .iter()
            .enumerate()
            .map(|(i, p)| Holder { peer: p.to_bytes(), x: i as u64 + 1, commitment: [i as u8; 32] })
            .collect();
        b
    };

    // (a) the new group {A1, A2, one honest dealer}, t = 1 (drops the live holders)
    {
        let mut group = vec![a1.id, a2.id];
        group.extend(dealers.iter().map(|(p, _)| *p));
        let start = refresh(&group, 1, &m);
        let to: Vec<PeerId> = dealers.iter().map(|(p, _)| *p).collect();
        for (p, r) in to.iter().zip(a1.ask_all(&to, &MpcRequest::Refresh(start))) {
            f.check(
                is_error(&r),
                format!("(a) holder {p} answered a refresh onto {{A1, A2, 3 dealers}} at t=1 with {}", brief(&r)),
            );
        }
    }
    // (b) an endorsement of a body that swaps two honest holders for attacker peers at t = 1
    {
        let mut group: Vec<PeerId> = honest[..3].to_vec();
        group.extend([a1.id, a2.id]);
        let body = body_with(&m, &group, 1);
        for h in &honest {
            let r = a1.ask_custody(*h, &Request::Endorse { body: body.clone() });
            f.check(is_error(&r), format!("(b) holder {h} endorsed a body swapping in A2 at t=1: {}", brief(&r)));
        }
    }
    // (c) an endorsement of the same group at a lower threshold (second key: one endorsement per epoch)
    {
        let m2 = &before2[0];
        let mut body = m2.body.clone();
        body.epoch += 1;
        body.threshold = 1;
        let (weakened, endorsed) = endorsements(&a1, &honest, m2, body);
        for (h, r) in &endorsed {
            f.check(is_error(r), format!("(c) holder {h} endorsed the same group at t=1: {}", brief(r)));
        }
        f.check(weakened.verify().is_err(), "(c) a manifest of the same 5 holders at t=1 verifies as a repair");
    }
    // (d) a refresh that keeps every live holder and adds A2, at t = 1: the new group has 6 members of
    // which 2 are the attacker's, and any 2 shares reconstruct
    let mut group: Vec<PeerId> = m.body.holders.iter().map(|h| PeerId::from_bytes(&h.peer).unwrap()).collect();
    group.push(a2.id);
    let start = refresh(&group, 1, &m);
    let session = start.session;
    let to: Vec<PeerId> = group.iter().copied().filter(|p| honest.contains(p)).collect();
    let answers = a1.ask_all(&to, &MpcRequest::Refresh(start.clone()));
    for (p, r) in to.iter().zip(&answers) {
        f.check(is_error(r), format!("(d) holder {p} answered a refresh adding A2 at t=1 with {}", brief(r)));
    }
    let took: Vec<PeerId> =
        to.iter().zip(&answers).filter(|(_, r)| matches!(r, Some(Response::Ack))).map(|(p, _)| *p).collect();
    a1.ask_all(&to, &MpcRequest::Go { session });
    let InputSource::Reshare { dealers: dealer_idx } = &start.inputs[0].0.source else { unreachable!() };
    let indices: Vec<u32> = dealer_idx.iter().map(|(i, _)| *i).collect();
    let members = [
        (&a1, group.iter().position(|p| *p == a1.id).unwrap()),
        (&a2, group.iter().position(|p| *p == a2.id).unwrap()),
    ];
    // a non-dealing member admits a refresh without looking at any manifest (it holds nothing to
    // check): what counts is whether a dealer took it
    let dealer_took = dealers.iter().any(|(p, _)| took.contains(p));
    let window = if dealer_took { Duration::from_secs(15) } else { Duration::from_secs(3) };
    let got = reconstruct_from_dealt(session, &members, &indices, &m.body.meta, 1, window);
    let dealt = a1.recorded_msgs(session).len() + a2.recorded_msgs(session).len();
    f.check(dealt == 0, format!("(d) {dealt} refresh messages reached the attacker's peers"));
    f.check(got.is_none(), format!("(d) the attacker reconstructed the owner's 50 values, exactly: {}", shown(&got)));
    if let Some(v) = &got {
        assert_eq!(v.to_json(), json!(data), "the reconstruction is the owner's array, exactly");
    }
    // … and makes the weakened manifest official: honest members report their commitments to the
    // coordinator, the honest holders endorse, the members keep the new shares. (The endorsement is
    // asked for even when no refresh was admitted: an endorser must refuse the body by itself.)
    let honest_members: Vec<usize> =
        group.iter().enumerate().filter(|(_, p)| took.contains(p)).map(|(i, _)| i).collect();
    if dealer_took {
        poll_until(Duration::from_secs(20), || {
            let o = a1.recorded_outputs(session);
            honest_members.iter().all(|i| o.iter().any(|(f, _)| *f as usize == *i))
        });
    }
    let mut body = body_with(&m, &group, 1);
    for (from, o) in a1.recorded_outputs(session) {
        if let SessionOutcome::Refreshed { commitments } = o {
            body.holders[from as usize].commitment = commitments[0];
        }
    }
    let (weakened, endorsed) = endorsements(&a1, &honest, &m, body);
    for (h, r) in &endorsed {
        f.check(is_error(r), format!("(d) holder {h} endorsed the refreshed body (6 holders, t=1): {}", brief(r)));
    }
    f.check(weakened.verify().is_err(), "(d) the weakened manifest (A1, A2 among 6 holders, t=1) verifies");
    if !took.is_empty() {
        let keep = MpcRequest::KeepRefreshed { session, manifests: vec![weakened] };
        for (p, r) in took.iter().zip(a1.ask_all(&took, &keep)) {
            f.check(
                is_error(&r),
                format!("(d) holder {p} kept the refreshed share under the weakened manifest: {}", brief(&r)),
            );
        }
    }

    // (e) an endorsement of a body that adds A2 to a group in which nobody is down, at the same t
    {
        let m3 = &before3[0];
        let mut group: Vec<PeerId> = m3.body.holders.iter().map(|h| PeerId::from_bytes(&h.peer).unwrap()).collect();
        group.push(a2.id);
        let (grown, endorsed) = endorsements(&a1, &honest, m3, body_with(m3, &group, m3.body.threshold));
        for (h, r) in &endorsed {
            f.check(is_error(r), format!("(e) holder {h} endorsed adding A2 while nobody is down: {}", brief(r)));
        }
        f.check(grown.verify().is_err(), "(e) a manifest adding A2 (6 holders, t=2) verifies as a repair");
    }

    // whatever was tried: every holder's manifests are as before
    let keys = [(k1, &before1), (k2, &before2), (k3, &before3)];
    for (i, h) in honest.iter().enumerate() {
        for (k, before) in keys {
            let before = &before[i];
            let now = a1.manifest(*h, k);
            let same = now.as_ref().is_some_and(|m| {
                m.body.epoch == before.body.epoch
                    && m.body.threshold == before.body.threshold
                    && m.body.holders.iter().map(|h| &h.peer).eq(before.body.holders.iter().map(|h| &h.peer))
            });
            let desc = now.map(|m| (m.body.epoch, m.body.threshold, m.body.holders.len()));
            f.check(same, format!("holder {h}: the manifest of {k} is now (epoch, t, holders) = {desc:?}"));
        }
    }
    // and the owner still loads the data
    assert_eq!(c.client(0).call("load", json!([k1.to_hex()])).unwrap()["value"], json!(data));

    // (f) an endorsed "refresh" (same group, same t, one epoch later: what an honest refresh looks
    // like, but no refresh ran) shown to the co-holders when the attacker's holder reconnects: each
    // must keep its share (today `on_peer_up` drops it as stale, and the key is gone)
    let m4 = before4[0].clone();
    let mut body = m4.body.clone();
    body.epoch += 1;
    let (newer, endorsed) = endorsements(&a1, &honest, &m4, body);
    for (h, r) in &endorsed {
        f.check(is_error(r), format!("(f) holder {h} endorsed a refresh that never ran: {}", brief(r)));
    }
    drop(a1);
    let node4 = PeerId::from_str(&c.nodes[4].peer_id).unwrap();
    wait_seen(&c, node4, false);
    let key4 = enigma_actors::keystore::file::load_or_create_node_key(&c.nodes[4].dir, None).unwrap();
    let a1 = Attacker::start_with("node4 again", key4, seed(&c, 0), &honest, move |h: &Heard| match &h.frame {
        Frame::Custody(Request::GetManifest { key }) if *key == m4.body.key => Response::Manifest(Some(newer.clone())),
        Frame::Custody(Request::Tombstones { .. }) => Response::Tombstones(vec![]),
        _ => default_policy()(h),
    });
    wait_seen(&c, a1.id, true);
    // each co-holder asks the returning holder for its manifests; give it the time to act on them
    poll_until(Duration::from_secs(5), || honest.iter().all(|h| a2.manifest(*h, k4).is_none()));
    for h in &honest {
        let now = a2.manifest(*h, k4);
        f.check(
            now.as_ref().is_some_and(|m| m.body.epoch == 0),
            format!(
                "(f) holder {h} after the attacker's holder reconnected: manifest of {k4} {:?}",
                now.map(|m| m.body.epoch)
            ),
        );
    }
    let r = c.client(0).call("load", json!([k4.to_hex()]));
    f.check(r.is_ok(), format!("(f) the owner loads the key afterwards: {}", show(&r)));
    f.assert_all_refused("a holder's repair to its own nodes");
}

/// Asks every honest holder to endorse `body` as the repair of `m`; the manifest built from the
/// endorsements obtained (plus the attacker holder's own), and each holder's answer.
fn endorsements(
    a: &Attacker,
    honest: &[PeerId],
    m: &Manifest,
    body: ManifestBody,
) -> (Manifest, Vec<(PeerId, Option<Response>)>) {
    let mut ends = vec![a.endorse(&body)];
    let mut answers = Vec::new();
    for h in honest {
        let r = a.ask_custody(*h, &Request::Endorse { body: body.clone() });
        if let Some(Response::Endorsement(sig)) = &r {
            ends.push(Endorsement { peer: h.to_bytes(), signature: sig.clone() });
        }
        answers.push((*h, r));
    }
    (m.repaired(body, ends), answers)
}

// ================================================================================================
// 3. A holder down: the threshold stays
// ================================================================================================

#[test]
fn a_computation_with_a_holder_down_keeps_the_inputs_threshold() {
    // 6 nodes, groups of 5: with a holder down there is a live non-holder to stand in for it
    let mut c = Cluster::start(Opts { nodes: 6, ..Opts::default() });
    let data = secret_array();
    let k = key_of(&c.client(0).store_json(json!(data)).unwrap());
    let grantee = Identity::generate(&mut rand::rng());
    c.client(0).call("pair", json!({"addresses": [grantee.address()], "level": "compute"})).unwrap();
    let m: Json = c.client(0).call("manifest", json!([k.to_hex()])).unwrap();
    let holders: Vec<usize> =
        m["holders"].as_array().unwrap().iter().map(|h| c.peer_index(h["peer_id"].as_str().unwrap())).collect();
    // the attacker runs one holder and takes another (honest) one offline; node 0 is the owner's
    let others: Vec<usize> = holders.iter().copied().filter(|&i| i != 0).collect();
    let (mine, down) = (others[0], others[1]);
    let live_honest: Vec<PeerId> = (0..6).filter(|&i| i != mine && i != down).map(|i| peer(&c, i)).collect();
    let a = take_over(&mut c, mine, &live_honest);
    wait_seen(&c, a.id, true);
    let down_id = peer(&c, down);
    c.kill(down);
    wait_seen(&c, down_id, false);
    // from a live honest holder (node 0, the owner's, need not hold the key)
    let asked = holders.iter().copied().find(|&i| i != mine && i != down).expect("a live honest holder");
    let manifest = a.manifest(peer(&c, asked), k).expect("manifest");
    let t = manifest.body.threshold;
    assert_eq!((manifest.body.holders.len(), t), (5, 2));
    let mut f = Findings::default();

    // (a) the owner's own computation: what the attacker's holder is asked to join
    let r = c.client(0).call("stats.mean", json!([k.to_hex()]));
    eprintln!("the owner's stats.mean with a holder down: {}", show(&r));
    for s in a.recorded_starts() {
        f.check(
            s.committee >= 5 && s.threshold >= t,
            format!(
                "the owner's node started a committee of {} at t = {} (the input is at t = {t})",
                s.committee, s.threshold
            ),
        );
    }
    if a.recorded_starts().is_empty() {
        f.check(
            code(&r) == Some(ErrorCode::NotEnoughNodes),
            format!("no start reached the attacker, and the call {}", show(&r)),
        );
    }

    // (b) a start crafted by the grantee on the 4 live holders at t = 1
    let live_holders: Vec<PeerId> =
        manifest.body.holders.iter().map(|h| PeerId::from_bytes(&h.peer).unwrap()).filter(|p| *p != down_id).collect();
    let honest_holders: Vec<PeerId> = live_holders.iter().copied().filter(|p| *p != a.id).collect();
    let dealers: Vec<(u32, u64)> = holders_among(&manifest, &honest_holders, 3)
        .into_iter()
        .map(|(p, x)| (live_holders.iter().position(|q| *q == p).unwrap() as u32, x))
        .collect();
    let start = reshare_start(Op::Mean, &manifest, dealers, &live_holders, 4, 1, a.id);
    let session = start.session;
    let answers = a.ask_all(&honest_holders, &sign_start(&grantee, start));
    for (p, r) in honest_holders.iter().zip(&answers) {
        f.check(is_error(r), format!("holder {p} answered a start on the 4 live holders at t = 1 with {}", brief(r)));
    }
    let took: Vec<PeerId> = honest_holders
        .iter()
        .zip(&answers)
        .filter(|(_, r)| matches!(r, Some(Response::Ack)))
        .map(|(p, _)| *p)
        .collect();
    a.ask_all(&honest_holders, &MpcRequest::Go { session });
    // the 3 dealers' messages, if any were admitted; else a short window in which nothing may come
    let window = if took.is_empty() { Duration::from_secs(3) } else { Duration::from_secs(10) };
    poll_until(window, || a.recorded_msgs(session).len() >= 3);
    let dealt = a.recorded_msgs(session).len();
    f.check(dealt == 0, format!("{dealt} MPC messages of the t = 1 session reached the attacker's holder"));
    a.ask_all(&honest_holders, &MpcRequest::Abort { session, reason: "done".into() });
    f.assert_all_refused("a holder down");
}

/// Polls `cond` until it holds or `timeout` passes; whether it held. For waits whose failure is a
/// finding, not a broken harness.
fn poll_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ================================================================================================
// 4 and 5. What a compute grant allows, and derived keys
// ================================================================================================

#[test]
fn a_compute_grant_gives_aggregates_not_data_and_derived_keys_follow_their_sources() {
    let c = Cluster::start(Opts::default());
    let (mut owner, mut grantee, mut third) = (c.client(0), c.client(1), c.client(2));
    let g_addr = grantee.get_address().unwrap();
    let third_addr = third.get_address().unwrap();

    let matrix = json!([[2, 1, 0], [1, 3, 1], [0, 1, 4]]);
    let data = secret_array();
    let o_matrix = owner.store_json(matrix.clone()).unwrap();
    let o_array = owner.store_json(json!(data)).unwrap();
    let o_small = owner.store_json(json!([10, 20, 30])).unwrap();
    let o_scalar = owner.store_json(json!(123_456)).unwrap();
    let g_identity = grantee.store_json(json!([[1, 0, 0], [0, 1, 0], [0, 0, 1]])).unwrap();
    let g_zeros = grantee.store_json(json!([0, 0, 0, 0])).unwrap();
    let g_scalar = grantee.store_json(json!(100_000)).unwrap();
    owner.call("pair", json!({"addresses": [g_addr], "level": "compute"})).unwrap();
    let mut f = Findings::default();

    // an aggregate of the owner's data is what a compute grant is for
    let mean = grantee.call("stats.mean", json!([o_array]));
    let want = data.iter().sum::<i64>() as f64 / data.len() as f64;
    assert!(
        mean.as_ref().is_ok_and(|m| (m[0].as_f64().unwrap() - want).abs() < 1e-6),
        "an honest aggregate: {}",
        show(&mean)
    );

    // 4. each of these gives the grantee the data, or a bit of it per call
    let attempts: Vec<(&str, &str, Json)> = vec![
        (
            "dot(owner matrix, grantee identity) = the matrix",
            "linalg.dot",
            json!({"key_a": o_matrix, "key_b": g_identity}),
        ),
        ("inv(owner matrix): inv(inv(A)) = A", "linalg.inv", json!({"key": o_matrix})),
        ("mean(owner scalar, grantee's 4 zeros) × 5 = the scalar", "stats.mean", json!({"keys": [o_scalar, g_zeros]})),
        ("mean(owner scalar) = the scalar", "stats.mean", json!({"keys": [o_scalar]})),
        ("mean of 3 values (< min_count 5)", "stats.mean", json!({"keys": [o_small]})),
        ("max(owner scalar, grantee scalar): a comparison oracle", "stats.max", json!({"keys": [o_scalar, g_scalar]})),
    ];
    for (what, method, params) in attempts {
        let r = grantee.call(method, params);
        f.check(denied(&r), format!("under a compute grant, {what}: {method} {}", show(&r)));
    }

    // 5. a derived key: computed and loaded while granted
    let derived = grantee.call("stats.mean", json!({"keys": [o_array], "store": true}));
    let derived = derived.expect("store=True of an aggregate, while granted").as_str().unwrap().to_string();
    let loaded = grantee.call("load", json!([derived]));
    assert!(loaded.is_ok(), "the derived key loads while granted: {}", show(&loaded));

    // … granted on by the grantee to a third identity
    let on = grantee.call("pair", json!({"addresses": [third_addr], "keys": [derived], "level": "load"}));
    eprintln!("the grantee pairs the derived key to a third identity: {}", show(&on));
    let r = third.call("load", json!([derived]));
    f.check(denied(&r), format!("a third identity, granted on by the grantee, loads the derived key: {}", show(&r)));
    let r = third.call("stats.mean", json!([derived]));
    f.check(denied(&r), format!("a third identity computes on the derived key: {}", show(&r)));

    // … and after the owner's revoke
    owner.call("revoke", json!({"addresses": [g_addr]})).unwrap();
    let r = grantee.call("stats.mean", json!([o_array]));
    assert!(denied(&r), "revoke takes the compute grant back: {}", show(&r));
    let r = grantee.call("load", json!([derived]));
    f.check(denied(&r), format!("after revoke, the grantee loads the derived key: {}", show(&r)));
    let r = grantee.call("stats.mean", json!([derived]));
    f.check(denied(&r), format!("after revoke, the grantee computes on the derived key: {}", show(&r)));
    f.assert_all_refused("compute grant misuse and derived keys");
}

// ================================================================================================
// 6. Ground peer ids and the fallback committee
// ================================================================================================

/// Ed25519 node keys whose peer ids outrank every peer of `honest` for `key` (a few dozen tries:
/// grinding ids is cheap, which is the point).
fn grind(key: &DataKey, honest: &[PeerId], count: usize) -> Vec<Keypair> {
    let best = honest.iter().map(|p| enigma_protocol::placement::weight(key, &p.to_bytes())).max().unwrap();
    let mut found = Vec::new();
    while found.len() < count {
        let k = Keypair::generate_ed25519();
        if enigma_protocol::placement::weight(key, &k.public().to_peer_id().to_bytes()) > best {
            found.push(k);
        }
    }
    found
}

#[test]
fn ground_peer_ids_do_not_capture_the_committee_of_a_key_whose_holders_are_down() {
    // a key stored while the network was 3 nodes (n = 3, t = 1); the network then grows to 5
    let mut c = Cluster::start(Opts { nodes: 3, group_size: 3, extra: vec![] });
    let data = secret_array();
    let k = key_of(&c.client(0).store_json(json!(data)).unwrap());
    c.add_node();
    c.add_node();
    c.wait_full_mesh();
    let honest: Vec<PeerId> = (0..5).map(|i| peer(&c, i)).collect();

    // two attacker peers whose ids rank first for the constant key that orders fallback committees
    let keys = grind(&DataKey([0; 32]), &honest, 2);
    let answer = |h: &Heard| match &h.frame {
        Frame::Mpc(MpcRequest::Start(_)) => Response::Ack,
        _ => default_policy()(h),
    };
    let a1 = Attacker::start_with("G1", keys[0].clone(), seed(&c, 0), &honest, answer);
    let a2 = Attacker::start_with("G2", keys[1].clone(), seed(&c, 1), &honest, answer);
    wait_seen(&c, a1.id, true);
    wait_seen(&c, a2.id, true);

    // one holder (not the owner's node) goes down: the group's live part is below 3
    let m = a1.manifest(honest[0], k).or_else(|| a1.manifest(honest[1], k)).expect("manifest");
    assert_eq!((m.body.holders.len(), m.body.threshold), (3, 1));
    let down = m.body.holders.iter().map(|h| PeerId::from_bytes(&h.peer).unwrap()).find(|p| *p != honest[0]).unwrap();
    let down_idx = c.peer_index(&down.to_string());
    c.kill(down_idx);
    wait_seen(&c, down, false);

    // the owner computes; the attacker's peers answer like members and record what they are dealt
    let sock = c.nodes[0].socket();
    let k_hex = k.to_hex();
    let owner = std::thread::spawn(move || Client::connect(&sock).unwrap().call("stats.mean", json!([k_hex])));
    let mut f = Findings::default();
    let started = poll_until(Duration::from_secs(20), || {
        !a1.recorded_starts().is_empty() || !a2.recorded_starts().is_empty() || owner.is_finished()
    });
    let start = a1.recorded_starts().into_iter().chain(a2.recorded_starts()).next();
    if let Some(s) = &start {
        let seats: Vec<(&Attacker, usize)> = [&a1, &a2]
            .into_iter()
            .filter_map(|a| s.participants.iter().position(|p| *p == a.id.to_bytes()).map(|i| (a, i)))
            .filter(|(_, i)| *i < s.committee as usize)
            .collect();
        f.check(
            seats.len() <= s.threshold as usize,
            format!(
                "the owner's node started a committee of {} at t = {} with {} of its seats held by ground ids",
                s.committee,
                s.threshold,
                seats.len()
            ),
        );
        let InputSource::Reshare { dealers } = &s.inputs[0].source else { panic!("the input is reshared") };
        let dealers: Vec<u32> = dealers.iter().map(|(i, _)| *i).collect();
        let got = reconstruct_from_dealt(
            s.session,
            &seats,
            &dealers,
            &m.body.meta,
            s.threshold as usize,
            Duration::from_secs(15),
        );
        f.check(got.is_none(), format!("the ground ids reconstructed the owner's 50 values: {}", shown(&got)));
        // end the owner's computation: a member that will never answer aborts
        let requester = PeerId::from_bytes(&s.requester).unwrap();
        for (a, _) in &seats {
            a.ask(requester, &MpcRequest::Abort { session: s.session, reason: "member gone".into() });
        }
    }
    assert!(started, "neither a start nor an answer within 20 s");
    let r = owner.join().unwrap();
    eprintln!("the owner's stats.mean with a holder down: {}", show(&r));
    f.assert_all_refused("ground ids and the fallback committee");
}

// ================================================================================================
// 8–10. A holder the attacker runs, and the lineage of a refreshed key
// ================================================================================================

/// The seat (participant index) of `p` in `m`'s group, holders in their manifest order.
fn seat(m: &Manifest, p: PeerId) -> u32 {
    m.body.holders.iter().position(|h| h.peer == p.to_bytes()).expect("a holder of the key") as u32
}

/// A refresh of `m` onto its own group (every holder in its seat) at its own threshold, reshared by
/// `dealers` (participant index, x), carrying `m` as the manifest being repaired.
fn refresh_of(m: &Manifest, dealers: Vec<(u32, u64)>) -> RefreshStart {
    let participants: Vec<Vec<u8>> = m.body.holders.iter().map(|h| h.peer.clone()).collect();
    RefreshStart {
        session: session_id(3),
        inputs: vec![(
            InputSpec { key: m.body.key, meta: m.body.meta.clone(), source: InputSource::Reshare { dealers } },
            m.body.epoch,
        )],
        manifests: vec![m.clone()],
        committee: participants.len() as u32,
        participants,
        threshold: m.body.threshold,
        deadline_ms: now_ms() + 30_000,
    }
}

/// A load request for `key` addressed to `holder`, signed by `who`.
fn get_share(who: &Identity, key: DataKey, holder: PeerId) -> Request {
    let body = wire::GetShare { key, holder: holder.to_bytes(), request: rand::random() };
    Request::GetShare(Signed::sign(body, who, now_ms(), &mut rand::rng()))
}

#[test]
fn a_coordinator_cannot_keep_a_refreshed_key_under_a_manifest_it_signed_as_owner() {
    let mut c = Cluster::start(Opts::default());
    // the owner's identity is known to the test only to show that a load by the owner still works
    let owner = Identity::generate(&mut rand::rng());
    let mut oc = c.client(0);
    oc.set_privkey(&owner.secret_hex()).unwrap();
    let data = secret_array();
    let k = key_of(&oc.store_json(json!(data)).unwrap());
    let honest: Vec<PeerId> = (0..4).map(|i| peer(&c, i)).collect();
    let a1 = take_over(&mut c, 4, &honest);
    wait_seen(&c, a1.id, true);
    let m = a1.manifest(honest[0], k).expect("manifest");
    assert_eq!((m.body.holders.len(), m.body.threshold), (5, 2), "stored at n = 5, t = 2");
    assert_eq!(m.body.owner, owner.pubkey());
    assert!(m.holder(&a1.id.to_bytes()).is_some(), "the attacker's node is a holder");
    let mut f = Findings::default();

    // a legitimate refresh of the unchanged group, coordinated by the attacker's holder, dealt by 3
    // honest holders at their own x: the honest members admit it (a harness precondition)
    let dealers: Vec<(u32, u64)> = holders_among(&m, &honest, 3).into_iter().map(|(p, x)| (seat(&m, p), x)).collect();
    let start = refresh_of(&m, dealers);
    let session = start.session;
    for (p, r) in honest.iter().zip(a1.ask_all(&honest, &MpcRequest::Refresh(start))) {
        assert!(matches!(r, Some(Response::Ack)), "holder {p} admits an honest refresh: {}", brief(&r));
    }
    a1.ask_all(&honest, &MpcRequest::Go { session });
    let seats: Vec<u32> = honest.iter().map(|p| seat(&m, *p)).collect();
    let outputs = wait_for("every honest member's refreshed commitment", Duration::from_secs(20), || {
        let o = a1.recorded_outputs(session);
        let refreshed = |s: &u32| o.iter().any(|(f, x)| f == s && matches!(x, SessionOutcome::Refreshed { .. }));
        seats.iter().all(refreshed).then_some(o)
    });

    // the coordinator's manifest: the same key, data, holders and new commitments, one epoch later,
    // but its own identity as the owner, and signed by it
    let thief = Identity::generate(&mut rand::rng());
    let mut body = m.body.clone();
    body.owner = thief.pubkey();
    body.epoch += 1;
    for (i, h) in body.holders.iter_mut().enumerate() {
        h.x = i as u64 + 1;
    }
    for (from, o) in &outputs {
        if let SessionOutcome::Refreshed { commitments } = o {
            body.holders[*from as usize].commitment = commitments[0];
        }
    }
    let stolen = body.sign(&thief);
    assert!(stolen.verify().is_ok(), "the thief's manifest is well formed and carries a valid signature");
    let keep = MpcRequest::KeepRefreshed { session, manifests: vec![stolen] };
    for (p, r) in honest.iter().zip(a1.ask_all(&honest, &keep)) {
        f.check(
            is_error(&r),
            format!("holder {p} kept its refreshed share under the coordinator's self-signed manifest: {}", brief(&r)),
        );
    }
    a1.ask_all(&honest, &MpcRequest::Abort { session, reason: "done".into() });

    // the thief now asks for the shares as the "owner"; the owner's own request still works
    for h in &honest {
        let r = a1.ask_custody(*h, &get_share(&thief, k, *h));
        f.check(
            !matches!(r, Some(Response::Share { .. })),
            format!("holder {h} served its share of {k} to the coordinator's identity: {}", brief(&r)),
        );
    }
    let r = a1.ask_custody(honest[1], &get_share(&owner, k, honest[1]));
    assert!(matches!(r, Some(Response::Share { .. })), "a holder serves the owner's signed load: {}", brief(&r));
    for h in &honest {
        let now = a1.manifest(*h, k);
        f.check(
            now.as_ref().is_some_and(|x| x.body.owner == owner.pubkey()),
            format!(
                "holder {h}: the manifest of {k} now names owner {:?} (epoch {:?})",
                now.as_ref().map(|x| hex::encode(x.body.owner)),
                now.as_ref().map(|x| x.body.epoch)
            ),
        );
    }
    let r = oc.call("load", json!([k.to_hex()]));
    f.check(r.as_ref().is_ok_and(|v| v["value"] == json!(data)), format!("the owner loads the key: {}", show(&r)));
    f.assert_all_refused("a coordinator re-signing a refreshed key");
}

#[test]
fn a_co_holders_self_signed_newer_manifest_does_not_make_holders_drop_their_shares() {
    let mut c = Cluster::start(Opts::default());
    let data = secret_array();
    let k = key_of(&c.client(0).store_json(json!(data)).unwrap());
    let k2 = key_of(&c.client(0).store_json(json!(777_777)).unwrap());
    let honest: Vec<PeerId> = (0..4).map(|i| peer(&c, i)).collect();
    let a1 = take_over(&mut c, 4, &honest);
    wait_seen(&c, a1.id, true);
    let m = a1.manifest(honest[0], k).expect("manifest");
    let m2 = a1.manifest(honest[0], k2).expect("manifest");
    assert!(m.holder(&a1.id.to_bytes()).is_some() && m2.holder(&a1.id.to_bytes()).is_some());

    // K: a "newer" manifest the attacker signed as its owner; K2: the owner's pubkey kept, signed by
    // the attacker (does not verify)
    let thief = Identity::generate(&mut rand::rng());
    let mut b = m.body.clone();
    b.owner = thief.pubkey();
    b.epoch += 1;
    let own = b.sign(&thief);
    let mut b2 = m2.body.clone();
    b2.epoch += 1;
    let forged = b2.sign(&thief);
    assert!(own.verify().is_ok() && forged.verify().is_err());

    // the attacker's holder goes down and comes back, serving those manifests
    drop(a1);
    let node4 = peer(&c, 4);
    wait_seen(&c, node4, false);
    let key4 = enigma_actors::keystore::file::load_or_create_node_key(&c.nodes[4].dir, None).unwrap();
    let (k_, k2_) = (k, k2);
    let a1 = Attacker::start_with("node4 again", key4, seed(&c, 0), &honest, move |h: &Heard| match &h.frame {
        Frame::Custody(Request::GetManifest { key }) if *key == k_ => Response::Manifest(Some(own.clone())),
        Frame::Custody(Request::GetManifest { key }) if *key == k2_ => Response::Manifest(Some(forged.clone())),
        Frame::Custody(Request::Tombstones { .. }) => Response::Tombstones(vec![]),
        _ => default_policy()(h),
    });
    wait_seen(&c, a1.id, true);
    // `on_peer_up`: each co-holder asks the returning holder for the manifests of the keys they share
    let asked = |h: PeerId, key: DataKey| {
        a1.heard()
            .iter()
            .any(|x| x.from == h && matches!(&x.frame, Frame::Custody(Request::GetManifest { key: q }) if *q == key))
    };
    wait_for("each honest holder to ask the returning holder for both manifests", Duration::from_secs(20), || {
        honest.iter().all(|h| asked(*h, k) && asked(*h, k2)).then_some(())
    });
    let held_here = |i: usize, key: DataKey, epoch: u64| -> bool {
        c.client(i).call("custody_keys", json!({})).ok().is_some_and(|v| {
            v.as_array().is_some_and(|a| {
                a.iter().any(|e| {
                    e["key"] == json!(key.to_hex()) && e["state"] == json!("committed") && e["epoch"] == json!(epoch)
                })
            })
        })
    };
    // give them the time to act on what they were served
    poll_until(Duration::from_secs(3), || {
        (0..4).any(|i| !held_here(i, k, m.body.epoch) || !held_here(i, k2, m2.body.epoch))
    });
    let mut f = Findings::default();
    for (i, h) in honest.iter().enumerate() {
        for (key, before, what) in [(k, &m, "self-signed as owner"), (k2, &m2, "forged owner signature")] {
            f.check(
                held_here(i, key, before.body.epoch),
                format!("holder {h} no longer holds {key} at epoch {} ({what})", before.body.epoch),
            );
            let now = a1.manifest(*h, key);
            f.check(
                now.as_ref().is_some_and(|x| x.body == before.body),
                format!("holder {h}: the manifest of {key} ({what}) is now {:?}", now.map(|x| x.body.epoch)),
            );
        }
    }
    let r = c.client(0).call("load", json!([k.to_hex()]));
    f.check(r.as_ref().is_ok_and(|v| v["value"] == json!(data)), format!("the owner loads K: {}", show(&r)));
    let r = c.client(0).call("load", json!([k2.to_hex()]));
    f.check(r.as_ref().is_ok_and(|v| v["value"] == json!(777_777)), format!("the owner loads K2: {}", show(&r)));
    f.assert_all_refused("a co-holder's self-signed newer manifest");
}

#[test]
fn a_refresh_dealt_by_the_coordinators_holder_alone_is_refused() {
    let mut c = Cluster::start(Opts::default());
    let data = secret_array();
    let k = key_of(&c.client(0).store_json(json!(data)).unwrap());
    let honest: Vec<PeerId> = (0..4).map(|i| peer(&c, i)).collect();
    let a1 = take_over(&mut c, 4, &honest);
    wait_seen(&c, a1.id, true);
    let m = a1.manifest(honest[0], k).expect("manifest");
    assert_eq!((m.body.holders.len(), m.body.threshold), (5, 2), "stored at n = 5, t = 2");
    let mine = (seat(&m, a1.id), m.holder(&a1.id.to_bytes()).unwrap().x);
    let h: Vec<(u32, u64)> = holders_among(&m, &honest, 2).into_iter().map(|(p, x)| (seat(&m, p), x)).collect();
    let mut f = Findings::default();

    // the same group at the same t, dealt (a) by the attacker's holder alone, (b) by it t + 1 times,
    // (c) by it at its own x and at two honest holders' x, (d) by it and two honest holders, one of
    // them listed at the other's x
    let variants: Vec<(&str, Vec<(u32, u64)>)> = vec![
        ("(a) the attacker's holder alone", vec![mine]),
        ("(b) the attacker's holder t + 1 times", vec![mine; 3]),
        ("(c) the attacker's holder at its x and two honest x", vec![mine, (mine.0, h[0].1), (mine.0, h[1].1)]),
        ("(d) the attacker's holder and an honest x twice", vec![mine, h[0], (h[1].0, h[0].1)]),
    ];
    for (what, dealers) in variants {
        let start = refresh_of(&m, dealers);
        let session = start.session;
        for (p, r) in honest.iter().zip(a1.ask_all(&honest, &MpcRequest::Refresh(start))) {
            f.check(is_error(&r), format!("{what}: holder {p} answered the refresh with {}", brief(&r)));
        }
        a1.ask_all(&honest, &MpcRequest::Go { session });
        a1.ask_all(&honest, &MpcRequest::Abort { session, reason: "done".into() });
    }
    // the same refresh dealt by 3 honest holders is admitted: the refusals above are the dealers'
    let honest3: Vec<(u32, u64)> = holders_among(&m, &honest, 3).into_iter().map(|(p, x)| (seat(&m, p), x)).collect();
    let start = refresh_of(&m, honest3);
    let session = start.session;
    for (p, r) in honest.iter().zip(a1.ask_all(&honest, &MpcRequest::Refresh(start))) {
        assert!(matches!(r, Some(Response::Ack)), "holder {p} admits an honest refresh: {}", brief(&r));
    }
    a1.ask_all(&honest, &MpcRequest::Abort { session, reason: "done".into() });
    for p in &honest {
        let now = a1.manifest(*p, k);
        f.check(
            now.as_ref().is_some_and(|x| x.body == m.body),
            format!("holder {p}: the manifest of {k} is now at epoch {:?}", now.map(|x| x.body.epoch)),
        );
    }
    let r = c.client(0).call("load", json!([k.to_hex()]));
    f.check(r.as_ref().is_ok_and(|v| v["value"] == json!(data)), format!("the owner loads the key: {}", show(&r)));
    f.assert_all_refused("a refresh dealt by the coordinator's holder alone");
}

// ================================================================================================
// 11. What a compute grant covers: each key once, scalars or arrays, min_count per key; stored
//     results under a load grant
// ================================================================================================

/// A start for `op` on `inputs` (each reshared by its first t + 1 holders at their x) with the
/// committee the anchor input's group, as every holder expects it; and the peers that deal.
fn grant_start(op: Op, inputs: &[&Manifest], requester: PeerId, store: bool) -> (SessionStart, Vec<PeerId>) {
    let bodies: Vec<&ManifestBody> = inputs.iter().map(|m| &m.body).collect();
    let (anchor, n, t) = enigma_protocol::admission::committee_shape(&bodies).expect("a committee shape");
    let participants: Vec<PeerId> =
        inputs[anchor].body.holders.iter().map(|h| PeerId::from_bytes(&h.peer).unwrap()).collect();
    let mut dealing = Vec::new();
    let specs = inputs
        .iter()
        .map(|m| {
            let dealers: Vec<(u32, u64)> = m
                .body
                .holders
                .iter()
                .filter_map(|h| participants.iter().position(|p| p.to_bytes() == h.peer).map(|i| (i as u32, h.x)))
                .take(2 * m.body.threshold as usize + 1)
                .collect();
            dealing.extend(dealers.iter().map(|(i, _)| participants[*i as usize]));
            InputSpec { key: m.body.key, meta: m.body.meta.clone(), source: InputSource::Reshare { dealers } }
        })
        .collect();
    dealing.sort();
    dealing.dedup();
    let start = SessionStart {
        session: session_id(4),
        op,
        inputs: specs,
        manifests: inputs.iter().map(|m| (*m).clone()).collect(),
        participants: participants.iter().map(|p| p.to_bytes()).collect(),
        committee: n as u32,
        threshold: t as u32,
        requester: requester.to_bytes(),
        store,
        deadline_ms: now_ms() + 30_000,
        security: Security::Active,
    };
    (start, dealing)
}

#[test]
fn a_compute_grant_counts_each_key_once_and_never_pads_a_key_with_another() {
    let c = Cluster::start(Opts::default());
    let honest: Vec<PeerId> = (0..5).map(|i| peer(&c, i)).collect();
    let mut owner = c.client(0);
    let (grantee, loader) = (Identity::generate(&mut rand::rng()), Identity::generate(&mut rand::rng()));
    let mut gc = c.client(1);
    gc.set_privkey(&grantee.secret_hex()).unwrap();
    let mut lc = c.client(2);
    lc.set_privkey(&loader.secret_hex()).unwrap();

    let data = secret_array();
    let data_b: Vec<i64> = (0..50).map(|i| 5_000 - 13 * i).collect();
    let scalar = owner.store_json(json!(123_456)).unwrap();
    let array = owner.store_json(json!(data)).unwrap();
    let array_b = owner.store_json(json!(data_b)).unwrap();
    let small = owner.store_json(json!([10, 20, 30])).unwrap();
    owner.call("pair", json!({"addresses": [grantee.address()], "level": "compute", "min_count": 5})).unwrap();
    owner.call("pair", json!({"addresses": [loader.address()], "level": "load"})).unwrap();
    let mut f = Findings::default();

    // through the grantees' own honest nodes: an aggregate of two 50-value keys works …
    let want = (data.iter().sum::<i64>() + data_b.iter().sum::<i64>()) as f64 / 100.0;
    let r = gc.call("stats.mean", json!([array, array_b]));
    assert!(
        r.as_ref().is_ok_and(|m| (m[0].as_f64().unwrap() - want).abs() < 1e-6),
        "mean of two 50-value keys under a compute grant: {}",
        show(&r)
    );
    // … and these are refused
    let attempts: Vec<(&str, Json)> = vec![
        ("mean(K1, K1, K1, K1, K1) of one scalar", json!({"keys": [scalar, scalar, scalar, scalar, scalar]})),
        ("mean(scalar, 50 values): the array pads the scalar", json!({"keys": [scalar, array]})),
        ("mean(3 values, 50 values): the big key pads the small", json!({"keys": [small, array]})),
    ];
    for (what, params) in &attempts {
        let r = gc.call("stats.mean", params.clone());
        f.check(denied(&r), format!("under a compute grant (min_count 5), {what}: {}", show(&r)));
    }
    // a load grant reveals results, but a stored result follows the compute rules
    let r = lc.call("stats.mean", json!([scalar]));
    assert!(r.is_ok(), "a load grantee computes on a scalar it may load: {}", show(&r));
    let r = lc.call("stats.mean", json!({"keys": [scalar], "store": true}));
    f.check(denied(&r), format!("under a load grant, mean(scalar, store=True) (a derived key): {}", show(&r)));

    // the same starts crafted and sent straight to the holders (signed by the grantees; an attacker
    // peer as the requester): every dealer must refuse, whatever the grantee's own node said
    let a = Attacker::start("A", Keypair::generate_ed25519(), seed(&c, 0), &honest);
    let man = |k: &str| a.manifest(honest[0], key_of(k)).expect("manifest");
    let (ms, ma, mb, m3) = (man(&scalar), man(&array), man(&array_b), man(&small));
    let ask = |who: &Identity, inputs: &[&Manifest], store: bool| -> Vec<(PeerId, Option<Response>)> {
        let (start, dealing) = grant_start(Op::Mean, inputs, a.id, store);
        let session = start.session;
        let answers = a.ask_all(&honest, &sign_start(who, start));
        a.ask_all(&honest, &MpcRequest::Abort { session, reason: "done".into() });
        honest.iter().copied().zip(answers).filter(|(p, _)| dealing.contains(p)).collect()
    };
    // the well-formed starts are admitted by every dealer (also: the grants reached every holder)
    for (who, name, inputs) in [
        (&grantee, "the grantee's mean of two 50-value keys", vec![&ma, &mb]),
        (&loader, "the loader's mean", vec![&ms]),
    ] {
        wait_for(&format!("every dealer to admit {name}"), Duration::from_secs(15), || {
            ask(who, &inputs, false).iter().all(|(_, r)| matches!(r, Some(Response::Ack))).then_some(())
        });
    }
    let crafted: Vec<(&str, &Identity, Vec<&Manifest>, bool)> = vec![
        ("mean(K1 ×5)", &grantee, vec![&ms; 5], false),
        ("mean(scalar, 50 values)", &grantee, vec![&ms, &ma], false),
        ("mean(3 values, 50 values)", &grantee, vec![&m3, &ma], false),
        ("mean(scalar, store=True) under a load grant", &loader, vec![&ms], true),
    ];
    for (what, who, inputs, store) in crafted {
        for (p, r) in ask(who, &inputs, store) {
            f.check(is_error(&r), format!("crafted {what}: dealer {p} answered {}", brief(&r)));
        }
    }
    f.assert_all_refused("what a compute grant covers");
}
