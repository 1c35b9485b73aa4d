//! A hostile peer against a devnet of real node processes: a real libp2p node (this process) that
//! speaks Enigma's wire protocol but sends out-of-session MPC messages, replayed signed requests,
//! oversized frames and garbage. Every honest node must refuse each of them, cut the peer off (ban,
//! disconnect, refuse it back), log it, and keep serving its users. And a hostile owner with Sybil
//! peers of its own, whose well-formed, validly signed shares name a custody group of its choosing
//! (its Sybils), or claim a key someone else has stored: every holder decides from its own lookup
//! and store, and refuses.

mod support;

use enigma_actors::network::guard::GuardConfig;
use enigma_actors::network::{LivePeers, NetConfig, Network, Proto, SendRequest};
use enigma_protocol::field::{Fp, FpVec};
use enigma_protocol::identity::Identity;
use enigma_protocol::keys::DataKey;
use enigma_protocol::manifest::{Holder, MANIFEST_VERSION, Manifest, ManifestBody};
use enigma_protocol::placement::rule::{self, PeerEntry, Rule};
use enigma_protocol::session::MpcRequest;
use enigma_protocol::shamir;
use enigma_protocol::value::Value;
use enigma_protocol::value::ValueMeta;
use enigma_protocol::wire::{self, ErrorKind, GetShare, Request, Response, Signed};
use libp2p::{Multiaddr, PeerId};
use rand::{RngExt, SeedableRng};
use serde_json::json;
use std::str::FromStr;
use std::time::Duration;
use support::{Cluster, Opts, wait_for};

/// Sends a frame and decodes the answer (`None` if the request failed at the network level).
async fn ask(net: &actix::Addr<Network>, proto: Proto, peer: PeerId, frame: Vec<u8>) -> Option<Response> {
    let r = tokio::time::timeout(Duration::from_secs(20), net.send(SendRequest { proto, peer, frame }))
        .await
        .expect("the request did not finish in time")
        .expect("network actor");
    r.ok().map(|bytes| wire::decode::<Response>(&bytes).expect("honest nodes answer in the wire format"))
}

fn error_kind(r: &Option<Response>) -> Option<ErrorKind> {
    match r {
        Some(Response::Error { kind, .. }) => Some(*kind),
        _ => None,
    }
}

#[test]
fn a_hostile_peer_is_refused_and_cut_off_and_the_honest_nodes_keep_serving() {
    // values up to 1 MiB: the nodes' frame limit is then about 2.1 MiB
    let c = Cluster::start(Opts {
        nodes: 4,
        group_size: 3,
        extra: vec!["--max-value-bytes".into(), (1 << 20).to_string()],
    });
    let before = c.client(0).store(&Value::String("stored before the attack".into())).unwrap();
    let key = enigma_protocol::keys::DataKey::from_str(&before).unwrap();
    let victims: Vec<PeerId> = c.nodes.iter().map(|n| PeerId::from_str(&n.peer_id).unwrap()).collect();
    let seed: Multiaddr = format!("/ip4/127.0.0.1/tcp/{}", c.nodes[0].port).parse().unwrap();

    let sys = actix_rt::System::new();
    let hostile_id = sys.block_on(async {
        // the hostile peer's own frame limit is large, so it can send what the others refuse; it
        // joins like any node and finds everyone
        let (hostile_id, net) = attacker_peer(&seed, 16 << 20, Duration::from_secs(5)).await;
        sees_all(&net, &victims).await;

        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let user = Identity::generate(&mut rng);
        for (i, &victim) in victims.iter().enumerate() {
            // a protocol message for a session that never existed
            let msg = MpcRequest::Msg { session: [9; 16], from: 0, seq: 0, payload: vec![1, 2, 3] };
            let r = ask(&net, Proto::Mpc, victim, wire::encode(&msg)).await;
            assert_eq!(error_kind(&r), Some(ErrorKind::BadRequest), "out-of-session message: {r:?}");

            // a signed request, then the same bytes again: the replay is refused
            let body = GetShare { key, holder: victim.to_bytes(), request: [i as u8; 16] };
            let signed = Signed::sign(body, &user, now_ms(), &mut rng);
            let frame = wire::encode(&Request::GetShare(signed));
            let first = ask(&net, Proto::Custody, victim, frame.clone()).await;
            // not the owner (or not a holder of the key): refused, but it was fresh
            assert!(
                matches!(error_kind(&first), Some(ErrorKind::AccessDenied | ErrorKind::UnknownKey)),
                "first: {first:?}"
            );
            let again = ask(&net, Proto::Custody, victim, frame).await;
            assert_eq!(error_kind(&again), Some(ErrorKind::Replay), "replay: {again:?}");

            // an oversized frame (4 MiB against a limit of ~2 MiB) breaks the request, not the node
            if i == 0 {
                let r = ask(&net, Proto::Custody, victim, vec![0u8; 4 << 20]).await;
                assert!(r.is_none(), "an oversized frame got an answer: {r:?}");
            }

            // garbage until the node cuts the connection
            let mut answered = 0;
            for _ in 0..40 {
                let mut garbage = vec![0u8; 64];
                rand::Rng::fill_bytes(&mut rng, &mut garbage);
                match ask(&net, if answered % 2 == 0 { Proto::Custody } else { Proto::Mpc }, victim, garbage).await {
                    Some(_) => answered += 1,
                    None => break,
                }
            }
            assert!(answered < 40, "node {i} never cut the hostile peer off");
            eprintln!("node {i}: cut off after {answered} garbage frames answered");
        }

        // cut off everywhere: it cannot reach any node any more, even after trying to reconnect
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let live = net.send(LivePeers).await.unwrap();
            if live.iter().all(|p| !victims.contains(p)) {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "still connected to {live:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for &victim in &victims {
            let r = ask(&net, Proto::Custody, victim, wire::encode(&Request::GetManifest { key })).await;
            assert!(r.is_none(), "a banned peer was answered: {r:?}");
        }
        hostile_id
    });

    // every node reports the ban, does not count the peer as live, and says so in its log
    for (i, n) in c.nodes.iter().enumerate() {
        let status = wait_for("the ban in the status", Duration::from_secs(10), || {
            let s = c.client(i).status().ok()?;
            let banned = s["banned_peers"].as_array()?.iter().any(|b| b["peer_id"] == hostile_id.to_string());
            banned.then_some(s)
        });
        eprintln!("node {i}: {}", status["banned_peers"]);
        assert!(!status["peers"].as_array().unwrap().iter().any(|p| p["peer_id"] == hostile_id.to_string()));
        let log = std::fs::read_to_string(n.dir.join("node.log")).unwrap();
        assert!(log.contains("disconnecting misbehaving peer"), "node {i} did not log the ban");
    }

    // and the honest network works as before
    assert_eq!(c.client(0).load(&before).unwrap(), Value::String("stored before the attack".into()));
    let after = c.client(1).store_json(json!([1.5, 2.5, 3.5, 4.5])).unwrap();
    assert_eq!(c.client(1).call("load", json!([after])).unwrap()["value"], json!([1.5, 2.5, 3.5, 4.5]));
    let mean = c.client(1).call("stats.mean", json!({ "keys": [after] })).unwrap();
    assert!((mean[0].as_f64().unwrap() - 3.0).abs() < 1e-4, "{mean}");
    c.wait_full_mesh();
}

/// Starts an in-process libp2p peer of the attacker's that joins through `seed` like any node, with
/// its own frame limit and request deadline.
async fn attacker_peer(
    seed: &Multiaddr,
    max_frame: usize,
    request_timeout: Duration,
) -> (PeerId, actix::Addr<Network>) {
    let node_key = libp2p::identity::Keypair::generate_ed25519();
    let id = node_key.public().to_peer_id();
    let cfg = NetConfig {
        listen: "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
        seed: Some(seed.clone()),
        max_frame,
        request_timeout,
        guard: GuardConfig::default(),
        streams: Default::default(),
        wan: None,
    };
    (id, Network::start(node_key, cfg).await.unwrap())
}

/// Waits (30 s at most) until the peer behind `net` is connected to every one of `peers`.
async fn sees_all(net: &actix::Addr<Network>, peers: &[PeerId]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let live = net.send(LivePeers).await.unwrap();
        if peers.iter().all(|v| live.contains(v)) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "the attacker's peer did not find the network");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A manifest for `key` owned by `owner`, one share per `group` member (salted commitments), and
/// the shares.
fn manifest_for(
    key: DataKey,
    owner: &Identity,
    group: &[PeerId],
    rng: &mut rand::rngs::StdRng,
) -> (Manifest, [u8; 32], Vec<Vec<Fp>>) {
    let shares = shamir::share(&[Fp::from_u64(7 << 20)], 1, group.len(), rng).unwrap();
    let salt: [u8; 32] = rng.random();
    let holders = group
        .iter()
        .enumerate()
        .map(|(i, p)| Holder {
            peer: p.to_bytes(),
            x: i as u64 + 1,
            commitment: shamir::commitment(&salt, shamir::x_of(i), &shares[i]),
        })
        .collect();
    let body = ManifestBody {
        version: MANIFEST_VERSION,
        key,
        owner: owner.pubkey(),
        meta: ValueMeta::Int,
        threshold: 1,
        holders,
        created_ms: now_ms(),
        epoch: 0,
        derived_from: vec![],
        scale: enigma_protocol::fixed::NumScale::DEFAULT,
    };
    (body.sign(owner), salt, shares)
}

#[test]
fn a_hostile_owner_cannot_place_shares_in_a_group_of_its_choosing() {
    let c = Cluster::start(Opts { nodes: 5, group_size: 3, extra: vec![] });
    let stored = c.client(0).store(&Value::String("an honest user's value".into())).unwrap();
    let stored_key = DataKey::from_str(&stored).unwrap();
    let honest: Vec<PeerId> = c.nodes.iter().map(|n| PeerId::from_str(&n.peer_id).unwrap()).collect();
    let seed: Multiaddr = format!("/ip4/127.0.0.1/tcp/{}", c.nodes[0].port).parse().unwrap();
    let pending_before: Vec<u64> =
        (0..honest.len()).map(|i| c.client(i).status().unwrap()["pending_shares"].as_u64().unwrap()).collect();

    let sys = actix_rt::System::new();
    let victim = sys.block_on(async {
        // the attacker: one peer that talks, two Sybils that only sit in the DHT
        let peer = || attacker_peer(&seed, 4 << 20, Duration::from_secs(10));
        let ((hostile, net), (sybil_a, _a), (sybil_b, _b)) = (peer().await, peer().await, peer().await);
        let everyone: Vec<PeerId> = honest.iter().copied().chain([hostile, sybil_a, sybil_b]).collect();
        sees_all(&net, &honest).await;
        // every node must know the Sybils too, or "not in my view" would be the trivial refusal
        for i in 0..honest.len() {
            wait_for("the Sybils in every node's view", Duration::from_secs(30), || {
                let s = c.client(i).status().ok()?;
                let peers: Vec<String> =
                    s["peers"].as_array()?.iter().filter_map(|p| p["peer_id"].as_str().map(String::from)).collect();
                [sybil_a, sybil_b, hostile].iter().all(|p| peers.contains(&p.to_string())).then_some(())
            });
        }

        // a key (the attacker is its owner: it may pick any 32 bytes) for which the placement rule,
        // over all eight peers, ranks the two Sybils last and one honest victim in the group
        let entries: Vec<PeerEntry> = everyone.iter().map(|p| PeerEntry::new(p.to_bytes())).collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(13);
        let (key, group) = (0..100_000)
            .find_map(|_| {
                let key = DataKey(rng.random());
                let top: Vec<PeerId> = rule::group(&key, &entries, &Rule::new(6))
                    .iter()
                    .map(|e| PeerId::from_bytes(&e.id).unwrap())
                    .collect();
                let group = top[..3].to_vec();
                let sybils_last = !top.contains(&sybil_a) && !top.contains(&sybil_b);
                (sybils_last && group.iter().any(|p| honest.contains(p))).then_some((key, group))
            })
            .expect("a key whose group suits the test");
        let victim = *group.iter().find(|p| honest.contains(p)).unwrap();
        let owner = Identity::generate(&mut rng);

        // 1. the group of the attacker's choosing: the victim and two Sybils. Well-formed, signed by
        //    its owner, the share matches its commitment: refused only because it is not the key's
        //    group by the victim's own lookup
        let chosen = [victim, sybil_a, sybil_b];
        let (m, salt, shares) = manifest_for(key, &owner, &chosen, &mut rng);
        let put = Request::PutShare { manifest: m, salt, share: FpVec(shares[0].clone()) };
        let r = ask(&net, Proto::Custody, victim, wire::encode(&put)).await;
        match &r {
            Some(Response::Error { kind: ErrorKind::BadRequest, message }) => {
                assert!(message.contains("custody group is refused"), "{message}")
            }
            other => panic!("a share in the attacker's group was not refused: {other:?}"),
        }

        // 2. control: the same owner, the same kind of share, in the group the rule gives — kept
        //    (pending), so the refusal above is the group check and not something else
        let (m, salt, shares) = manifest_for(key, &owner, &group, &mut rng);
        let at = group.iter().position(|p| *p == victim).unwrap();
        let put = Request::PutShare { manifest: m, salt, share: FpVec(shares[at].clone()) };
        let r = ask(&net, Proto::Custody, victim, wire::encode(&put)).await;
        assert_eq!(r, Some(Response::Ack), "a share in the rule's group was refused");

        // 3. the attacker claims the honest user's stored key, in the group that holds it (read
        //    from the key's public manifest), under its own identity: every holder refuses it —
        //    a committed share is never replaced by another owner's manifest
        let mut held = None;
        for p in &honest {
            if let Some(Response::Manifest(Some(m))) =
                ask(&net, Proto::Custody, *p, wire::encode(&Request::GetManifest { key: stored_key })).await
            {
                held = Some(m);
                break;
            }
        }
        let held = held.expect("a holder of the stored key answers with its manifest");
        let holders: Vec<PeerId> = held.body.holders.iter().map(|h| PeerId::from_bytes(&h.peer).unwrap()).collect();
        assert!(holders.iter().all(|h| honest.contains(h)), "the key was stored before the attacker joined");
        let (m, salt, shares) = manifest_for(stored_key, &owner, &holders, &mut rng);
        for (i, p) in holders.iter().enumerate() {
            let put = Request::PutShare { manifest: m.clone(), salt, share: FpVec(shares[i].clone()) };
            let r = ask(&net, Proto::Custody, *p, wire::encode(&put)).await;
            assert!(matches!(r, Some(Response::Error { .. })), "the claim on a stored key was accepted by {p}: {r:?}");
        }
        honest.iter().position(|p| *p == victim).unwrap()
    });

    // the honest user's value is intact, and only the control's share is pending anywhere
    assert_eq!(c.client(0).load(&stored).unwrap(), Value::String("an honest user's value".into()));
    let pending_after: Vec<u64> =
        (0..honest.len()).map(|i| c.client(i).status().unwrap()["pending_shares"].as_u64().unwrap()).collect();
    let want: Vec<u64> = pending_before.iter().enumerate().map(|(i, b)| b + u64::from(i == victim)).collect();
    assert_eq!(
        pending_after, want,
        "pending shares before {pending_before:?}, after (node {victim} kept the control's)"
    );
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}
