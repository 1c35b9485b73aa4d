//! The placement rule's key-space ids are libp2p-kad's own (`enigma_protocol::placement::xor`).
//!
//! The rule ranks candidates by XOR distance to a key; the actors will find them with
//! `get_closest_peers`, which ranks by libp2p's `kbucket::Key`. Both must be the same ids and the
//! same order, or a node's lookup and its rule would disagree about who the candidates are. The
//! actors put a manifest under `RecordKey::new(&key.0)` (front/store.rs), so a data key's id is
//! libp2p's id of that record key.

use enigma_protocol::keys::DataKey;
use enigma_protocol::placement::xor;
use libp2p::PeerId;
use libp2p::identity::Keypair;
use libp2p::kad::{KBucketKey, RecordKey};

fn peer(i: u8) -> PeerId {
    let mut secret = [i; 32];
    secret[31] = 0x5a;
    Keypair::ed25519_from_bytes(&mut secret).expect("32-byte ed25519 secret").public().to_peer_id()
}

#[test]
fn ids_and_distances_match_libp2p_kad() {
    let peers: Vec<PeerId> = (0..40).map(peer).collect();
    for (k, p) in peers.iter().enumerate() {
        let ours = xor::peer_id(&p.to_bytes());
        assert_eq!(KBucketKey::from(*p).hashed_bytes(), &ours[..], "peer id of {p}");
        let key = DataKey([k as u8; 32]);
        let rec = KBucketKey::new(RecordKey::new(&key.0));
        assert_eq!(rec.hashed_bytes(), &xor::key_id(&key)[..], "record key id");
        // a Vec<u8> key (what get_closest_peers(key.0.to_vec()) would use) is the same id
        assert_eq!(KBucketKey::from(key.0.to_vec()).hashed_bytes(), rec.hashed_bytes());
        // libp2p's closest order is ours
        let mut theirs: Vec<PeerId> = peers.clone();
        theirs.sort_by_key(|q| rec.distance(&KBucketKey::from(*q)));
        let bytes: Vec<Vec<u8>> = peers.iter().map(|q| q.to_bytes()).collect();
        let ours: Vec<Vec<u8>> =
            xor::closest(&xor::key_id(&key), &bytes, peers.len(), |b| b).into_iter().cloned().collect();
        assert_eq!(theirs.iter().map(|q| q.to_bytes()).collect::<Vec<_>>(), ours);
    }
}
