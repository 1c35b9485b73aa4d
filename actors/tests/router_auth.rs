//! Actor-level test of the holder's checks: a real Network actor (libp2p on 127.0.0.1), real Custody
//! and Ledger actors over LMDB in a temporary directory, and the router handling frames exactly as
//! they arrive from peers.

use enigma_actors::custody::{Custody, CustodyStore};
use enigma_actors::ledger::{Author, Ledger, backend::Backend};
use enigma_actors::network::guard::Offence;
use enigma_actors::network::{NetConfig, Network, Proto};
use enigma_actors::router::Router;
use enigma_protocol::field::{Fp, FpVec};
use enigma_protocol::identity::Identity;
use enigma_protocol::keys::DataKey;
use enigma_protocol::manifest::{Holder, MANIFEST_VERSION, ManifestBody};
use enigma_protocol::policy::PolicyChange;
use enigma_protocol::shamir;
use enigma_protocol::value::ValueMeta;
use enigma_protocol::wire::{self, CommitKey, ErrorKind, GetShare, MAX_CLOCK_SKEW_MS, Request, Response, Signed};
use libp2p::PeerId;
use libp2p::identity::Keypair;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::time::Duration;

async fn call(router: &Router, req: &Request) -> Response {
    let frame = wire::encode(req);
    let out = tokio::time::timeout(Duration::from_secs(10), router.handle(Proto::Custody, PeerId::random(), frame))
        .await
        .expect("router answered in time");
    wire::decode(&out.0).unwrap()
}

fn kind(r: Response) -> ErrorKind {
    match r {
        Response::Error { kind, .. } => kind,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[actix_rt::test]
async fn holders_check_signature_freshness_replay_addressing_and_grants() {
    let dir = tempfile::tempdir().unwrap();
    // three real nodes: the holder checks a proposed custody group against its own Kademlia
    // lookup, so the group's other members must exist (ports found free, then taken)
    let port = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cfg = |listen: u16, seed: Option<u16>| NetConfig {
        listen: format!("/ip4/127.0.0.1/tcp/{listen}").parse().unwrap(),
        seed: seed.map(|s| format!("/ip4/127.0.0.1/tcp/{s}").parse().unwrap()),
        max_frame: 1 << 20,
        request_timeout: Duration::from_secs(5),
        guard: Default::default(),
        streams: Default::default(),
        wan: None,
    };
    let p0 = port();
    let node_key = Keypair::generate_ed25519();
    let local = node_key.public().to_peer_id();
    let network = Network::start(node_key, cfg(p0, None)).await.unwrap();
    let mut others = Vec::new();
    for _ in 0..2 {
        let k = Keypair::generate_ed25519();
        let id = k.public().to_peer_id();
        others.push((id, Network::start(k, cfg(port(), Some(p0))).await.unwrap()));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while network.send(enigma_actors::network::LivePeers).await.unwrap().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "the three nodes did not connect");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let custody = Custody::start(CustodyStore::open(&dir.path().join("custody"), 1 << 26).unwrap());
    let ledger = actix::Actor::start(
        Ledger::open(&dir.path().join("ledger"), 1 << 26, network.clone(), Backend::Embedded).unwrap(),
    );
    let sessions = actix::Actor::start(enigma_actors::sessions::Sessions::new(
        local,
        enigma_protocol::mpc::Security::Active,
        network.clone(),
        custody.clone(),
        ledger.clone(),
    ));
    let router =
        Router { local, custody, ledger: ledger.clone(), network, sessions, node_key: Keypair::generate_ed25519() };

    let mut rng = StdRng::seed_from_u64(11);
    let owner = Identity::generate(&mut rng);
    let other = Identity::generate(&mut rng);
    let key = DataKey([5; 32]);
    let shares = shamir::share(&[Fp::from_u64(42 << 20)], 1, 3, &mut rng).unwrap();
    let salt = [3u8; 32];
    let peers = [local, others[0].0, others[1].0];
    let holders = (0..3)
        .map(|i| Holder {
            peer: peers[i].to_bytes(),
            x: i as u64 + 1,
            commitment: shamir::commitment(&[i as u8; 32], shamir::x_of(i), &shares[i]),
        })
        .collect::<Vec<_>>();
    let mut holders = holders;
    holders[0].commitment = shamir::commitment(&salt, shamir::x_of(0), &shares[0]);
    let manifest = ManifestBody {
        version: MANIFEST_VERSION,
        key,
        owner: owner.pubkey(),
        meta: ValueMeta::Int,
        threshold: 1,
        holders,
        created_ms: enigma_actors::now_ms(), // a commit is accepted only within the deadline after this
        epoch: 0,
        derived_from: vec![],
        scale: enigma_protocol::fixed::NumScale::DEFAULT,
    }
    .sign(&owner);
    let now = enigma_actors::now_ms();

    // a share that does not match its commitment is refused; the right one is kept
    let bad = Request::PutShare { manifest: manifest.clone(), salt, share: FpVec(shares[1].clone()) };
    assert_eq!(kind(call(&router, &bad).await), ErrorKind::BadRequest);
    let put = Request::PutShare { manifest: manifest.clone(), salt, share: FpVec(shares[0].clone()) };
    assert_eq!(call(&router, &put).await, Response::Ack);
    let get_by = |who: &Identity, at: u64, rng: &mut StdRng| {
        Request::GetShare(Signed::sign(GetShare { key, holder: local.to_bytes(), request: [1; 16] }, who, at, rng))
    };
    assert_eq!(
        kind(call(&router, &get_by(&owner, now, &mut rng)).await),
        ErrorKind::UnknownKey,
        "pending is not served"
    );
    // only the owner commits
    let commit_other = Request::Commit(Signed::sign(CommitKey { key }, &other, now, &mut rng));
    assert_eq!(kind(call(&router, &commit_other).await), ErrorKind::AccessDenied);
    let commit = Request::Commit(Signed::sign(CommitKey { key }, &owner, now, &mut rng));
    assert_eq!(call(&router, &commit).await, Response::Ack);

    // the owner gets the share once; the same signed request again is a replay
    let get = get_by(&owner, now, &mut rng);
    assert!(matches!(call(&router, &get).await, Response::Share { .. }));
    assert_eq!(kind(call(&router, &get).await), ErrorKind::Replay);
    // stale and future timestamps
    let old = get_by(&owner, now - MAX_CLOCK_SKEW_MS - 60_000, &mut rng);
    assert_eq!(kind(call(&router, &old).await), ErrorKind::Stale);
    let future = get_by(&owner, now + MAX_CLOCK_SKEW_MS + 60_000, &mut rng);
    assert_eq!(kind(call(&router, &future).await), ErrorKind::Stale);
    // a forged body: the signature no longer verifies
    let Request::GetShare(mut forged) = get_by(&owner, now, &mut rng) else { unreachable!() };
    forged.body.request = [9; 16];
    assert_eq!(kind(call(&router, &Request::GetShare(forged)).await), ErrorKind::AccessDenied);
    // addressed to another holder
    let misaddressed = Request::GetShare(Signed::sign(
        GetShare { key, holder: peers[1].to_bytes(), request: [1; 16] },
        &owner,
        now,
        &mut rng,
    ));
    assert_eq!(kind(call(&router, &misaddressed).await), ErrorKind::BadRequest);

    // another identity: denied, then granted by a policy transaction, then revoked
    assert_eq!(kind(call(&router, &get_by(&other, now, &mut rng)).await), ErrorKind::AccessDenied);
    let addr = other.address();
    ledger
        .send(Author { identity: owner.clone(), change: PolicyChange::pair(vec![addr.clone()], 1) })
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(call(&router, &get_by(&other, now, &mut rng)).await, Response::Share { .. }));
    ledger
        .send(Author { identity: owner.clone(), change: PolicyChange::revoke(vec![addr], 2) })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kind(call(&router, &get_by(&other, now, &mut rng)).await), ErrorKind::AccessDenied);

    // garbage and frames of another wire version get error responses, not panics
    // (and count against the sender); a refusal honest peers can meet does not
    let (out, offence) = router.handle(Proto::Custody, PeerId::random(), vec![1, 0, 0xff, 0xff, 0xff]).await;
    assert_eq!(kind(wire::decode(&out).unwrap()), ErrorKind::BadRequest);
    assert_eq!(offence, Some(Offence::Malformed));
    let (out, offence) = router.handle(Proto::Custody, PeerId::random(), vec![9, 9, 0]).await;
    assert_eq!(kind(wire::decode(&out).unwrap()), ErrorKind::BadRequest);
    assert_eq!(offence, Some(Offence::Malformed));
    let denied = wire::encode(&get_by(&other, now, &mut rng));
    let (out, offence) = router.handle(Proto::Custody, PeerId::random(), denied.clone()).await;
    assert_eq!(kind(wire::decode(&out).unwrap()), ErrorKind::AccessDenied);
    assert_eq!(offence, None, "a denied load is the user's business, not the peer's");
    let (out, offence) = router.handle(Proto::Custody, PeerId::random(), denied).await;
    assert_eq!(kind(wire::decode(&out).unwrap()), ErrorKind::Replay);
    assert_eq!(offence, Some(Offence::Refused));
}
