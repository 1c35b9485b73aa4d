//! A hostile peer against a devnet of real node processes: a real libp2p node (this process) that
//! speaks Enigma's wire protocol but sends out-of-session MPC messages, replayed signed requests,
//! oversized frames and garbage. Every honest node must refuse each of them, cut the peer off (ban,
//! disconnect, refuse it back), log it, and keep serving its users.

mod support;

use enigma_actors::network::guard::GuardConfig;
use enigma_actors::network::{LivePeers, NetConfig, Network, Proto, SendRequest};
use enigma_protocol::identity::Identity;
use enigma_protocol::session::MpcRequest;
use enigma_protocol::value::Value;
use enigma_protocol::wire::{self, ErrorKind, GetShare, Request, Response, Signed};
use libp2p::{Multiaddr, PeerId};
use rand::SeedableRng;
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
        let node_key = libp2p::identity::Keypair::generate_ed25519();
        let hostile_id = node_key.public().to_peer_id();
        let net = Network::start(
            node_key,
            NetConfig {
                listen: "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
                seed: Some(seed),
                // the hostile peer's own limit is large, so it can send what the others refuse
                max_frame: 16 << 20,
                request_timeout: Duration::from_secs(5),
                guard: GuardConfig::default(),
                streams: Default::default(),
                wan: None,
            },
        )
        .await
        .unwrap();
        // it joins like any node and finds everyone
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let live = net.send(LivePeers).await.unwrap();
            if victims.iter().all(|v| live.contains(v)) {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "the hostile peer did not find the network");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

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

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}
