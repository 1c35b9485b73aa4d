//! Writes the seed corpora (`fuzz/seeds/<target>/`) from real encodings made by the protocol code.
//! Run from `fuzz/`: `cargo run --example seeds` (the files are committed; re-run after a format change).

use enigma_protocol::field::{self, Fp};
use enigma_protocol::identity::{self, Identity};
use enigma_protocol::keys::DataKey;
use enigma_protocol::manifest::{Holder, MANIFEST_VERSION, Manifest, ManifestBody};
use enigma_protocol::mpc::Op;
use enigma_protocol::policy::{Level, PolicyChange, Scope, build_policy_tx, encode_tx};
use enigma_protocol::session::{InputSource, InputSpec, MpcRequest, RefreshStart, SessionStart, SessionStore};
use enigma_protocol::value::{self, Value};
use enigma_protocol::wire::{
    self, AccessEntry, AccessLogQuery, CommitKey, DeleteKey, DhtRecord, ErrorKind, GetShare, Request, Response, Signed,
};
use enigma_protocol::{shamir, value::ValueMeta};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;
use std::path::Path;

const NOW_MS: u64 = 1_700_000_000_000;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds").join(target);
    std::fs::create_dir_all(&dir).expect("corpus dir");
    std::fs::write(dir.join(name), bytes).expect("seed written");
}

fn manifest(owner: &Identity, meta: ValueMeta, rng: &mut StdRng) -> Manifest {
    let shares = shamir::share(&[Fp::from_u64(24)], 1, 3, rng).expect("share");
    let holders = (0..3)
        .map(|i| Holder {
            peer: vec![i as u8; 38],
            x: i as u64 + 1,
            commitment: shamir::commitment(&[i as u8; 32], shamir::x_of(i), &shares[i]),
        })
        .collect();
    ManifestBody {
        version: MANIFEST_VERSION,
        key: DataKey([1; 32]),
        owner: owner.pubkey(),
        meta,
        threshold: 1,
        holders,
        created_ms: NOW_MS,
        epoch: 0,
        derived_from: vec![],
    }
    .sign(owner)
}

fn jsonrpc() {
    let lines = [
        r#"{"jsonrpc":"2.0","id":1,"method":"gen_key"}"#,
        r#"{"jsonrpc":"2.0","id":"a","method":"store","params":{"data":[[1,2],[3,4]],"type":"auto","progress":true}}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"load","params":["8c1f0000000000000000000000000000000000000000000000000000000000aa"]}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"stats.mean","params":{"keys":["00"],"store":false,"timing":true}}"#,
        r#"{"jsonrpc":"2.0","method":"cancel","params":{"op":"0011223344556677"}}"#,
        r#"[{"jsonrpc":"2.0","id":1,"method":"status"},{"jsonrpc":"2.0","method":"peers"},5]"#,
        r#"{"jsonrpc":"1.0","id":[1],"method":7}"#,
        r#"{"jsonrpc":"2.0","id":null,"method":"pair","params":{"addresses":["1BoatSLRHtKNngkdXEeobR76b53LETtpyT"],"level":"load"}}"#,
        "[]",
        "{\"jsonrpc\": ",
        "  \n",
    ];
    for (i, l) in lines.iter().enumerate() {
        write("jsonrpc_request", &format!("seed-{i:02}"), format!("{l}\n").as_bytes());
    }
}

fn wire_messages() {
    let mut rng = StdRng::seed_from_u64(7);
    let owner = Identity::generate(&mut rng);
    let m = manifest(&owner, ValueMeta::Int, &mut rng);
    let key = DataKey([1; 32]);
    let share = field::FpVec(vec![Fp::from_u64(5), Fp::from_u64(6)]);
    let sign_get = GetShare { key, holder: vec![2; 38], request: [3; 16] };
    let requests = [
        Request::PutShare { manifest: m.clone(), salt: [9; 32], share: share.clone() },
        Request::Commit(Signed::sign(CommitKey { key }, &owner, NOW_MS, &mut rng)),
        Request::GetShare(Signed::sign(sign_get, &owner, NOW_MS, &mut rng)),
        Request::GetManifest { key },
        Request::Delete(Signed::sign(DeleteKey { key }, &owner, NOW_MS, &mut rng)),
        Request::Tombstones { keys: vec![key, DataKey([2; 32])] },
        Request::LedgerPush { tx: vec![2, 0, 0, 0, 0, 1] },
        Request::LedgerInventory,
        Request::LedgerTxs { txids: vec![[4; 32]] },
        Request::AccessLog(Signed::sign(AccessLogQuery { key, holder: vec![1; 38] }, &owner, NOW_MS, &mut rng)),
        Request::Endorse { body: m.body.clone() },
    ];
    for (i, r) in requests.iter().enumerate() {
        write("wire_message", &format!("request-{i:02}"), &wire::encode(r));
    }
    let responses = [
        Response::Ack,
        Response::Share { salt: [1; 32], share },
        Response::Manifest(Some(m.clone())),
        Response::Tombstones(vec![Signed::sign(DeleteKey { key }, &owner, NOW_MS, &mut rng)]),
        Response::Deleted { had_share: true },
        Response::LedgerInventory(vec![[5; 32]]),
        Response::LedgerTxs(vec![vec![1, 2, 3]]),
        Response::AccessLog(vec![AccessEntry {
            requester: owner.pubkey(),
            action: "load".into(),
            timestamp_ms: NOW_MS,
            request: [6; 16],
        }]),
        Response::Endorsement(vec![7; 64]),
        Response::error(ErrorKind::AccessDenied, "no"),
    ];
    for (i, r) in responses.iter().enumerate() {
        write("wire_message", &format!("response-{i:02}"), &wire::encode(r));
    }
    let input = InputSpec {
        key,
        meta: ValueMeta::Array { dtype: value::Dtype::Int, shape: vec![3] },
        source: InputSource::Reshare { dealers: vec![(0, 1), (1, 2)] },
    };
    let start = SessionStart {
        session: [8; 16],
        op: Op::Mean,
        inputs: vec![input.clone()],
        manifests: vec![m.clone()],
        participants: vec![vec![1; 38], vec![2; 38], vec![3; 38]],
        committee: 3,
        threshold: 1,
        requester: vec![4; 38],
        store: false,
        deadline_ms: NOW_MS + 60_000,
    };
    let mpc = [
        MpcRequest::Start(Signed::sign(start, &owner, NOW_MS, &mut rng)),
        MpcRequest::Go { session: [8; 16] },
        MpcRequest::Msg { session: [8; 16], from: 1, seq: 2, payload: vec![0xab; 40] },
        MpcRequest::Progress { session: [8; 16], done: 1, total: 4, stage: "trunc".into() },
        MpcRequest::Store(Signed::sign(
            SessionStore { session: [8; 16], manifest: m.clone() },
            &owner,
            NOW_MS,
            &mut rng,
        )),
        MpcRequest::Refresh(RefreshStart {
            session: [9; 16],
            inputs: vec![(input, 0)],
            manifests: vec![m.clone()],
            participants: vec![vec![1; 38]],
            committee: 3,
            threshold: 1,
            deadline_ms: NOW_MS,
        }),
        MpcRequest::KeepRefreshed { session: [9; 16], manifests: vec![m.clone()] },
        MpcRequest::Abort { session: [8; 16], reason: "cancelled".into() },
    ];
    for (i, r) in mpc.iter().enumerate() {
        write("wire_message", &format!("mpc-{i:02}"), &wire::encode(r));
    }
    write("wire_message", "dht-00", &wire::encode(&DhtRecord::Manifest(m)));
}

fn values() {
    let vals = [
        json!(24),
        json!(-1.5),
        json!([[90, 60, 90], [88, 57, 89]]),
        json!([0.25, 1e-6, -3]),
        json!([[], []]),
        json!("hello, enigma"),
        json!({"a": [1, null, true], "b": "x"}),
        json!([1, "mixed"]),
    ];
    for (i, j) in vals.iter().enumerate() {
        let mut json_seed = vec![1u8];
        json_seed.extend(serde_json::to_vec(j).expect("json"));
        write("value_codec", &format!("json-{i:02}"), &json_seed);
        let v = Value::from_json(j.clone()).expect("value");
        let (meta, el) = value::encode(&v).expect("encodes");
        let mut seed = vec![0u8];
        seed.extend(postcard::to_stdvec(&meta).expect("meta"));
        seed.extend(field::to_bytes_vec(&el));
        write("value_codec", &format!("elements-{i:02}"), &seed);
    }
    let (meta, el) = value::encode(&Value::Bytes(vec![0, 1, 2, 255])).expect("bytes");
    let mut seed = vec![0u8];
    seed.extend(postcard::to_stdvec(&meta).expect("meta"));
    seed.extend(field::to_bytes_vec(&el));
    write("value_codec", "elements-bytes", &seed);
}

fn policy() {
    let mut rng = StdRng::seed_from_u64(11);
    let owner = Identity::generate(&mut rng);
    let friend = Identity::generate(&mut rng);
    let friend_addrs = identity::addresses_of(&friend.pubkey());
    let first = build_policy_tx(&owner, None, PolicyChange::pair(friend_addrs.clone(), 1_750_000_000)).expect("tx");
    write("policy_tx", "pair-genesis", &encode_tx(&first));
    let second =
        build_policy_tx(&owner, Some(first.compute_txid()), PolicyChange::revoke(friend_addrs.clone(), 1_750_000_001))
            .expect("tx");
    write("policy_tx", "revoke-second", &encode_tx(&second));
    let scoped = PolicyChange {
        action: enigma_protocol::policy::Action::Grant,
        level: Level::Compute,
        scope: Scope::Keys(vec![DataKey([3; 32]), DataKey([4; 32])]),
        addresses: friend_addrs[..1].to_vec(),
        timestamp: 1_750_000_002,
        // a version-2 payload (a grant with a min_count)
        min_count: Some(12),
    };
    let payload = scoped.to_payload().expect("payload");
    write("policy_tx", "payload-scoped", &payload.encode().expect("payload bytes"));
    let tx = build_policy_tx(&owner, None, scoped).expect("tx");
    write("policy_tx", "grant-scoped", &encode_tx(&tx));
}

fn main() {
    jsonrpc();
    wire_messages();
    values();
    policy();
    println!("seeds written under {}/seeds", env!("CARGO_MANIFEST_DIR"));
}
