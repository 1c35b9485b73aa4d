//! Cross-file tests of the policy pipeline: build → encode → validate → apply → view, every
//! refusal with its error, the evaluation table, and decoding as a generic Bitcoin tool would.

use super::*;
use crate::identity::{self, AddressError, Identity, secp};
use Level::{Compute, Load};
use bitcoin::consensus::encode;
use bitcoin::hashes::Hash;
use bitcoin::script::{Builder, Instruction, PushBytesBuf};
use bitcoin::secp256k1::{Message, PublicKey, ecdsa};
use bitcoin::sighash::SighashCache;
use bitcoin::{
    Address, Amount, CompressedPublicKey, EcdsaSighashType, Network, OutPoint, ScriptBuf, Transaction, TxOut, Txid,
    WScriptHash, Witness, XOnlyPublicKey,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use sha2::{Digest, Sha256};

const T: u64 = 1_750_000_000;

fn id(seed: u64) -> Identity {
    Identity::generate(&mut StdRng::seed_from_u64(seed))
}

/// P2PKH (`1…`) address of an identity.
fn p2pkh(i: &Identity) -> String {
    identity::addresses_of(&i.pubkey())[0].clone()
}

fn key(b: u8) -> DataKey {
    DataKey([b; 32])
}

fn grant(addresses: &[&str], level: Level, scope: Scope) -> PolicyChange {
    PolicyChange {
        action: Action::Grant,
        level,
        scope,
        addresses: addresses.iter().map(|s| s.to_string()).collect(),
        timestamp: T,
        min_count: None,
    }
}

fn revoke(addresses: &[&str], level: Level, scope: Scope) -> PolicyChange {
    PolicyChange { action: Action::Revoke, min_count: None, ..grant(addresses, level, scope) }
}

/// Re-signs input 0 of `tx` as a P2WPKH spend by `signer`, with `owner`'s prevout script.
fn resign(tx: &mut Transaction, signer: &Identity, witness_key: &Identity) {
    let spk = tx::owner_script(&witness_key.pubkey()).unwrap();
    let sighash = SighashCache::new(&*tx).p2wpkh_signature_hash(0, &spk, Amount::ZERO, EcdsaSighashType::All).unwrap();
    let sig = secp().sign_ecdsa(&Message::from_digest(sighash.to_byte_array()), signer.secret_key());
    let pk = PublicKey::from_slice(&witness_key.pubkey()).unwrap();
    tx.input[0].witness = Witness::p2wpkh(&bitcoin::ecdsa::Signature::sighash_all(sig), &pk);
}

fn first_tx(owner: &Identity) -> Transaction {
    let friend = id(1000);
    build_policy_tx(owner, None, PolicyChange::pair(vec![p2pkh(&friend)], T)).unwrap()
}

// ---------------------------------------------------------------- build, sign, encode, decode

#[test]
fn build_encode_validate_round_trip() {
    let owner = id(1);
    let friend = id(2);
    let tx = build_policy_tx(&owner, None, PolicyChange::pair(vec![p2pkh(&friend)], T)).unwrap();
    let bytes = encode_tx(&tx);
    assert_eq!(decode_tx(&bytes).unwrap(), tx);
    // RFC 6979 nonces: the same request gives the same transaction.
    let again = build_policy_tx(&owner, None, PolicyChange::pair(vec![p2pkh(&friend)], T));
    assert_eq!(again.unwrap(), tx);

    let valid = validate(&bytes, &ChainIndex::new()).unwrap();
    assert_eq!(valid.txid, tx.compute_txid());
    assert_eq!(valid.owner, owner.pubkey());
    assert_eq!(valid.prev, None);
    assert_eq!(valid.bytes, bytes);
    assert_eq!(valid.payload.addresses(), vec![p2pkh(&friend)]);
    assert_eq!(valid.payload.level, Level::Load);
    let hex = valid.txid.to_string();
    assert_eq!(hex.len(), 64);
    assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(tx.input[0].previous_output, genesis_outpoint(&owner.pubkey()));

    // The second transaction spends output 0 of the first.
    let mut index = ChainIndex::new();
    index.insert(&valid).unwrap();
    let next = build_policy_tx(&owner, Some(valid.txid), PolicyChange::revoke(vec![p2pkh(&friend)], T + 1)).unwrap();
    let v2 = validate(&encode_tx(&next), &index).unwrap();
    assert_eq!(v2.prev, Some(valid.txid));
    assert_eq!(next.input[0].previous_output, OutPoint { txid: valid.txid, vout: 0 });
}

#[test]
fn genesis_outpoint_is_documented_hash() {
    let owner = id(3);
    let mut pre = b"enigma policy genesis".to_vec();
    pre.extend_from_slice(&owner.pubkey());
    let h = Sha256::digest(Sha256::digest(&pre));
    let g = genesis_outpoint(&owner.pubkey());
    assert_eq!(g.vout, 0);
    assert_eq!(g.txid.to_byte_array(), <[u8; 32]>::from(h));
    assert_ne!(g, genesis_outpoint(&id(4).pubkey()));
}

fn sha256d(b: &[u8]) -> [u8; 32] {
    Sha256::digest(Sha256::digest(b)).into()
}

/// Reads a Bitcoin CompactSize.
fn varint(b: &[u8], pos: &mut usize) -> usize {
    let first = b[*pos];
    *pos += 1;
    match first {
        0xfd => {
            let v = u16::from_le_bytes([b[*pos], b[*pos + 1]]) as usize;
            *pos += 2;
            v
        }
        0xfe | 0xff => panic!("not used here"),
        n => n as usize,
    }
}

/// Parses the serialization by hand (BIP144 layout) and recomputes the BIP143 sighash with
/// sha2 alone, independently of the `bitcoin` crate's sighash code.
#[test]
fn layout_and_sighash_checked_by_hand() {
    let owner = id(5);
    let prev = Txid::from_byte_array([9; 32]);
    let tx = build_policy_tx(&owner, Some(prev), PolicyChange::pair(vec![p2pkh(&id(6))], T)).unwrap();
    let b = encode_tx(&tx);
    let mut pos = 0;
    assert_eq!(b[0..4], 2u32.to_le_bytes(), "version 2");
    assert_eq!(b[4..6], [0x00, 0x01], "segwit marker and flag");
    pos += 6;
    assert_eq!(varint(&b, &mut pos), 1, "one input");
    let outpoint = b[pos..pos + 36].to_vec();
    assert_eq!(outpoint[..32], [9; 32]);
    assert_eq!(outpoint[32..], 0u32.to_le_bytes());
    pos += 36;
    assert_eq!(varint(&b, &mut pos), 0, "empty scriptSig");
    let sequence = b[pos..pos + 4].to_vec();
    assert_eq!(sequence, [0xff; 4]);
    pos += 4;
    let outputs_start = pos;
    assert_eq!(varint(&b, &mut pos), 2, "two outputs");
    assert_eq!(b[pos..pos + 8], [0; 8], "output 0: 0 sat");
    pos += 8;
    assert_eq!(varint(&b, &mut pos), 22);
    let pkh = bitcoin::hashes::hash160::Hash::hash(&owner.pubkey()).to_byte_array();
    assert_eq!(b[pos..pos + 2], [0x00, 0x14], "P2WPKH");
    assert_eq!(b[pos + 2..pos + 22], pkh);
    pos += 22;
    assert_eq!(b[pos..pos + 8], [0; 8], "output 1: 0 sat");
    pos += 8;
    let script_len = varint(&b, &mut pos);
    assert_eq!(b[pos], 0x6a, "OP_RETURN");
    let push = b[pos + 1] as usize;
    assert_eq!(push, script_len - 2, "one direct push");
    let payload = b[pos + 2..pos + script_len].to_vec();
    assert_eq!(&payload[..4], b"ENIG");
    pos += script_len;
    let outputs = b[outputs_start + 1..pos].to_vec();
    assert_eq!(varint(&b, &mut pos), 2, "two witness items");
    let sig_len = varint(&b, &mut pos);
    let sig = b[pos..pos + sig_len].to_vec();
    pos += sig_len;
    assert_eq!(varint(&b, &mut pos), 33);
    assert_eq!(b[pos..pos + 33], owner.pubkey());
    pos += 33;
    assert_eq!(b[pos..], [0; 4], "lock time 0");

    // BIP143 preimage for SIGHASH_ALL.
    let mut pre = Vec::new();
    pre.extend_from_slice(&2u32.to_le_bytes());
    pre.extend_from_slice(&sha256d(&outpoint));
    pre.extend_from_slice(&sha256d(&sequence));
    pre.extend_from_slice(&outpoint);
    pre.extend_from_slice(&[0x19, 0x76, 0xa9, 0x14]);
    pre.extend_from_slice(&pkh);
    pre.extend_from_slice(&[0x88, 0xac]);
    pre.extend_from_slice(&0u64.to_le_bytes());
    pre.extend_from_slice(&sequence);
    pre.extend_from_slice(&sha256d(&outputs));
    pre.extend_from_slice(&0u32.to_le_bytes());
    pre.extend_from_slice(&1u32.to_le_bytes());
    let digest = sha256d(&pre);
    assert_eq!(*sig.last().unwrap(), 0x01, "SIGHASH_ALL");
    let der = ecdsa::Signature::from_der(&sig[..sig.len() - 1]).unwrap();
    let pk = PublicKey::from_slice(&owner.pubkey()).unwrap();
    secp()
        .verify_ecdsa(&Message::from_digest(digest), &der, &pk)
        .expect("signature verifies over the hand-computed BIP143 digest");
    // The txid is SHA-256d of the serialization without marker, flag and witness.
    let mut stripped = b[0..4].to_vec();
    stripped.extend_from_slice(&b[6..outputs_start + 1 + outputs.len()]);
    stripped.extend_from_slice(&[0; 4]);
    assert_eq!(sha256d(&stripped), tx.compute_txid().to_byte_array());
}

/// Decodes with the `bitcoin` crate's generic deserializer, as any Bitcoin tool would.
#[test]
fn generic_bitcoin_decoder_finds_op_return_and_witness() {
    let owner = id(7);
    let friend = id(8);
    let tx = build_policy_tx(&owner, None, PolicyChange::pair(vec![p2pkh(&friend)], T)).unwrap();
    let hex = encode::serialize_hex(&tx);
    let decoded: Transaction = encode::deserialize_hex(&hex).unwrap();
    assert_eq!(decoded.version.0, 2);
    assert_eq!(decoded.input.len(), 1);
    assert_eq!(decoded.output.len(), 2);
    let op_return = &decoded.output[1].script_pubkey;
    assert!(op_return.is_op_return());
    let pushes: Vec<Vec<u8>> = op_return
        .instructions()
        .filter_map(|i| match i.unwrap() {
            Instruction::PushBytes(p) => Some(p.as_bytes().to_vec()),
            Instruction::Op(_) => None,
        })
        .collect();
    assert_eq!(pushes.len(), 1);
    let payload = Payload::decode(&pushes[0]).unwrap();
    assert_eq!(payload.addresses(), vec![p2pkh(&friend)]);
    assert!(op_return.to_asm_string().starts_with("OP_RETURN OP_PUSHBYTES_"));
    let out0 = Address::from_script(&decoded.output[0].script_pubkey, Network::Bitcoin).unwrap();
    assert_eq!(out0.to_string(), identity::addresses_of(&owner.pubkey())[2]);

    let w = &decoded.input[0].witness;
    assert_eq!(w.len(), 2);
    assert_eq!(w.nth(1).unwrap(), owner.pubkey());
    let sig = bitcoin::ecdsa::Signature::from_slice(w.nth(0).unwrap()).unwrap();
    assert_eq!(sig.sighash_type, EcdsaSighashType::All);
    let spk = decoded.output[0].script_pubkey.clone();
    let sighash =
        SighashCache::new(&decoded).p2wpkh_signature_hash(0, &spk, Amount::ZERO, EcdsaSighashType::All).unwrap();
    let pk = PublicKey::from_slice(&owner.pubkey()).unwrap();
    assert!(secp().verify_ecdsa(&Message::from(sighash), &sig.signature, &pk).is_ok());
}

// ---------------------------------------------------------------- refusals

#[test]
fn tampered_payload_or_signature_is_refused() {
    let owner = id(10);
    let tx = first_tx(&owner);
    let chain = ChainIndex::new();

    // Change the OP_RETURN after signing (the timestamp's last byte).
    let mut tampered = tx.clone();
    let mut data = tx::op_return_data(&tampered.output[1].script_pubkey).unwrap().to_vec();
    data[14] ^= 1;
    tampered.output[1].script_pubkey = ScriptBuf::new_op_return(PushBytesBuf::try_from(data).unwrap());
    assert!(matches!(validate(&encode_tx(&tampered), &chain), Err(PolicyError::BadSignature(_))));

    // Flip a bit of the signature's r value.
    let mut forged = tx.clone();
    let mut sig = forged.input[0].witness.nth(0).unwrap().to_vec();
    sig[10] ^= 0x40;
    forged.input[0].witness = Witness::from_slice(&[sig, owner.pubkey().to_vec()]);
    assert!(matches!(validate(&encode_tx(&forged), &chain), Err(PolicyError::BadSignature(_))));

    // Not SIGHASH_ALL.
    let mut anyone = tx.clone();
    let mut sig = anyone.input[0].witness.nth(0).unwrap().to_vec();
    *sig.last_mut().unwrap() = 0x81;
    anyone.input[0].witness = Witness::from_slice(&[sig, owner.pubkey().to_vec()]);
    assert!(matches!(
        validate(&encode_tx(&anyone), &chain),
        Err(PolicyError::BadSignature(m)) if m.contains("SIGHASH_ALL")
    ));

    // Witness key that is not a curve point.
    let mut badkey = tx.clone();
    let sig = badkey.input[0].witness.nth(0).unwrap().to_vec();
    badkey.input[0].witness = Witness::from_slice(&[sig, vec![0x05; 33]]);
    assert_eq!(validate(&encode_tx(&badkey), &chain), Err(PolicyError::BadOwnerKey));
}

/// n − s for a 32-byte big-endian s (the high-S twin of a low-S signature).
fn negate_s(s: &[u8; 32]) -> [u8; 32] {
    let n = hex::decode("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141").unwrap();
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = n[i] as i16 - s[i] as i16 - borrow;
        borrow = 0;
        if d < 0 {
            d += 256;
            borrow = 1;
        }
        out[i] = d as u8;
    }
    out
}

#[test]
fn high_s_malleated_signature_is_refused() {
    let owner = id(11);
    let tx = first_tx(&owner);
    let w = tx.input[0].witness.nth(0).unwrap();
    let sig = ecdsa::Signature::from_der(&w[..w.len() - 1]).unwrap();
    let compact = sig.serialize_compact();
    let mut high = compact;
    high[32..].copy_from_slice(&negate_s(&compact[32..].try_into().unwrap()));
    let high_sig = ecdsa::Signature::from_compact(&high).unwrap();
    let mut normalized = high_sig;
    normalized.normalize_s();
    assert_eq!(normalized, sig, "the twin normalizes back");
    let mut der = high_sig.serialize_der().to_vec();
    der.push(0x01);
    let mut malleated = tx.clone();
    malleated.input[0].witness = Witness::from_slice(&[der, owner.pubkey().to_vec()]);
    assert_eq!(malleated.compute_txid(), tx.compute_txid());
    assert!(matches!(validate(&encode_tx(&malleated), &ChainIndex::new()), Err(PolicyError::BadSignature(_))));
}

#[test]
fn signature_by_another_key_is_refused() {
    let owner = id(12);
    let mallory = id(13);
    let mut book = PolicyBook::new();
    let first = book.author(&owner, PolicyChange::pair(vec![p2pkh(&id(14))], T)).unwrap();

    // Mallory signs the owner's next transaction with her key, leaving the owner's key in place.
    let change = PolicyChange::pair(vec![p2pkh(&mallory)], T + 1);
    let mut tx = build_policy_tx(&owner, Some(first.txid), change.clone()).unwrap();
    resign(&mut tx, &mallory, &owner);
    assert!(matches!(book.submit(&encode_tx(&tx)), Err(PolicyError::BadSignature(_))));

    // … or puts her own key in the witness: output 0 no longer pays the witness key.
    let mut tx = build_policy_tx(&owner, Some(first.txid), change.clone()).unwrap();
    resign(&mut tx, &mallory, &mallory);
    assert!(matches!(
        book.submit(&encode_tx(&tx)),
        Err(PolicyError::Structure(m)) if m.contains("output 0")
    ));

    // … or builds a whole transaction of her own on the owner's tip.
    let tx = build_policy_tx(&mallory, Some(first.txid), change).unwrap();
    assert!(matches!(
        book.submit(&encode_tx(&tx)),
        Err(PolicyError::BrokenLink { reason, .. }) if reason.contains("another owner")
    ));
    assert!(!book.may(&owner.pubkey(), &mallory.pubkey(), &key(1), Level::Compute));
}

#[test]
fn broken_links_and_gaps() {
    let owner = id(20);
    let mut book = PolicyBook::new();
    let first = book.author(&owner, PolicyChange::pair(vec![p2pkh(&id(21))], T)).unwrap();

    // Spends output 1 (the OP_RETURN) of the owner's tip.
    let mut tx = build_policy_tx(&owner, Some(first.txid), PolicyChange::pair(vec![p2pkh(&id(22))], T)).unwrap();
    tx.input[0].previous_output.vout = 1;
    resign(&mut tx, &owner, &owner);
    assert!(matches!(
        book.submit(&encode_tx(&tx)),
        Err(PolicyError::BrokenLink { reason, .. }) if reason.contains("output 1")
    ));

    // Spends an unknown transaction: a gap, sync and retry.
    let missing = Txid::from_byte_array([7; 32]);
    let tx = build_policy_tx(&owner, Some(missing), PolicyChange::pair(vec![p2pkh(&id(22))], T)).unwrap();
    assert_eq!(
        book.submit(&encode_tx(&tx)),
        Err(PolicyError::UnknownPrevious { txid: tx.compute_txid(), prev: missing })
    );

    // Another owner's genesis outpoint.
    let mut tx = build_policy_tx(&owner, None, PolicyChange::pair(vec![p2pkh(&id(22))], T)).unwrap();
    tx.input[0].previous_output = genesis_outpoint(&id(23).pubkey());
    resign(&mut tx, &owner, &owner);
    assert!(matches!(book.submit(&encode_tx(&tx)), Err(PolicyError::UnknownPrevious { .. })));

    // Resubmitting is harmless.
    assert_eq!(book.submit(&first.bytes), Err(PolicyError::AlreadyKnown(first.txid)));
    assert_eq!(book.txids(), &[first.txid]);
}

#[test]
fn out_of_order_arrival_is_a_gap_then_succeeds() {
    let owner = id(24);
    let mut source = PolicyBook::new();
    let a = source.author(&owner, PolicyChange::pair(vec![p2pkh(&id(25))], T)).unwrap();
    let b = source.author(&owner, PolicyChange::revoke(vec![p2pkh(&id(25))], T + 1)).unwrap();
    let mut node = PolicyBook::new();
    assert!(matches!(
        node.submit(&b.bytes),
        Err(PolicyError::UnknownPrevious { prev, .. }) if prev == a.txid
    ));
    node.submit(&a.bytes).unwrap();
    node.submit(&b.bytes).unwrap();
    assert_eq!(node.chain(&owner.pubkey()), &[a.txid, b.txid]);
}

#[test]
fn forks_are_refused_with_evidence() {
    let owner = id(30);
    let (x, y, z) = (p2pkh(&id(31)), p2pkh(&id(32)), p2pkh(&id(33)));
    let mut book = PolicyBook::new();
    let first = book.author(&owner, PolicyChange::pair(vec![x.clone()], T)).unwrap();

    // A second, different first transaction: double spend of the genesis outpoint.
    let rival = build_policy_tx(&owner, None, PolicyChange::pair(vec![y.clone()], T)).unwrap();
    let rival_id = rival.compute_txid();
    assert_eq!(
        book.submit(&encode_tx(&rival)),
        Err(PolicyError::Fork {
            outpoint: genesis_outpoint(&owner.pubkey()),
            existing: first.txid,
            conflicting: rival_id,
        })
    );

    // Spending an older (no longer tip) output is a fork too.
    let second = book.author(&owner, PolicyChange::pair(vec![y.clone()], T + 1)).unwrap();
    let stale = build_policy_tx(&owner, Some(first.txid), PolicyChange::pair(vec![z.clone()], T + 2)).unwrap();
    let stale_id = stale.compute_txid();
    assert!(matches!(
        book.submit(&encode_tx(&stale)),
        Err(PolicyError::Fork { existing, conflicting, .. })
            if existing == second.txid && conflicting == stale_id
    ));

    // The book keeps evidence, and anyone can re-check it.
    assert_eq!(book.forks().len(), 2);
    let ev = &book.forks()[0];
    assert_eq!((ev.existing, ev.conflicting), (first.txid, rival_id));
    let again = ForkEvidence::verify(&ev.existing_tx, &ev.conflicting_tx).unwrap();
    assert_eq!(&again, ev);
    assert_eq!(again.owner, owner.pubkey());
    assert!(ForkEvidence::verify(&first.bytes, &second.bytes).is_err());
    assert!(ForkEvidence::verify(&first.bytes, &first.bytes).is_err());

    // Descendants of a fork loser are refused without asking for a sync.
    let child = build_policy_tx(&owner, Some(rival_id), PolicyChange::pair(vec![z.clone()], T + 3)).unwrap();
    assert_eq!(
        book.submit(&encode_tx(&child)),
        Err(PolicyError::ExtendsFork { txid: child.compute_txid(), prev: rival_id })
    );
    let grandchild = build_policy_tx(&owner, Some(child.compute_txid()), PolicyChange::pair(vec![z], T + 4)).unwrap();
    assert!(matches!(book.submit(&encode_tx(&grandchild)), Err(PolicyError::ExtendsFork { .. })));

    // The accepted chain and state are untouched by the refused branches.
    assert_eq!(book.chain(&owner.pubkey()), &[first.txid, second.txid]);
    let grants: Vec<String> = book.grants(&owner.pubkey()).into_iter().map(|g| g.address).collect();
    assert_eq!(grants.len(), 2);
    assert!(grants.contains(&x) && grants.contains(&y));
}

/// Signs an arbitrary variant of a policy transaction (as the owner) and validates it.
fn validate_variant(owner: &Identity, edit: impl FnOnce(&mut Transaction)) -> PolicyError {
    let mut tx = first_tx(owner);
    edit(&mut tx);
    resign(&mut tx, owner, owner);
    validate(&encode_tx(&tx), &ChainIndex::new()).unwrap_err()
}

#[test]
fn malformed_structure_and_op_return_are_refused() {
    let owner = id(40);
    let op_return = |data: &[u8]| ScriptBuf::new_op_return(PushBytesBuf::try_from(data.to_vec()).unwrap());
    let good = tx::op_return_data(&first_tx(&owner).output[1].script_pubkey).unwrap().to_vec();

    let e = validate_variant(&owner, |tx| tx.output[1].script_pubkey = op_return(b"not an enigma payload"));
    assert_eq!(e, PolicyError::Payload(PayloadError::BadMagic));
    let e = validate_variant(&owner, |tx| tx.output[1].script_pubkey = op_return(&good[..good.len() - 3]));
    assert!(matches!(e, PolicyError::Payload(PayloadError::Truncated { .. })));
    let mut v2 = good.clone();
    v2[4] = 9;
    let e = validate_variant(&owner, |tx| tx.output[1].script_pubkey = op_return(&v2));
    assert_eq!(e, PolicyError::Payload(PayloadError::UnsupportedVersion(9)));
    // Non-minimal push (OP_PUSHDATA1 for 40 bytes).
    let e = validate_variant(&owner, |tx| {
        let mut s = vec![0x6a, 0x4c, good.len() as u8];
        s.extend_from_slice(&good);
        tx.output[1].script_pubkey = ScriptBuf::from_bytes(s);
    });
    assert!(matches!(e, PolicyError::Structure(m) if m.contains("OP_RETURN")));
    // Two pushes.
    let e = validate_variant(&owner, |tx| {
        let p = PushBytesBuf::try_from(good.clone()).unwrap();
        tx.output[1].script_pubkey =
            Builder::new().push_opcode(bitcoin::opcodes::all::OP_RETURN).push_slice(&p).push_slice([1u8]).into_script();
    });
    assert!(matches!(e, PolicyError::Structure(_)));
    // Payload not in an OP_RETURN.
    let e = validate_variant(&owner, |tx| tx.output[1].script_pubkey = ScriptBuf::new_p2wsh(&WScriptHash::all_zeros()));
    assert!(matches!(e, PolicyError::Structure(_)));
    // Extra output, extra input, value, version, lock time, sequence, scriptSig.
    let e =
        validate_variant(&owner, |tx| tx.output.push(TxOut { value: Amount::ZERO, script_pubkey: ScriptBuf::new() }));
    assert!(matches!(e, PolicyError::Structure(m) if m.contains("3 outputs")));
    let e = validate_variant(&owner, |tx| tx.input.push(tx.input[0].clone()));
    assert!(matches!(e, PolicyError::Structure(m) if m.contains("2 inputs")));
    let e = validate_variant(&owner, |tx| tx.output[0].value = Amount::from_sat(546));
    assert!(matches!(e, PolicyError::Structure(m) if m.contains("0 sat")));
    let e = validate_variant(&owner, |tx| tx.version = bitcoin::transaction::Version::ONE);
    assert!(matches!(e, PolicyError::Structure(m) if m.contains("version")));
    let e = validate_variant(&owner, |tx| tx.lock_time = bitcoin::absolute::LockTime::from_consensus(5));
    assert!(matches!(e, PolicyError::Structure(m) if m.contains("lock time")));
    let e = validate_variant(&owner, |tx| tx.input[0].sequence = bitcoin::Sequence::ENABLE_RBF_NO_LOCKTIME);
    assert!(matches!(e, PolicyError::Structure(m) if m.contains("sequence")));
    let e = validate_variant(&owner, |tx| tx.input[0].script_sig = ScriptBuf::from_bytes(vec![0x51]));
    assert!(matches!(e, PolicyError::Structure(m) if m.contains("scriptSig")));
    // A witness with three items.
    let mut tx = first_tx(&owner);
    tx.input[0].witness.push([1u8]);
    assert!(matches!(
        validate(&encode_tx(&tx), &ChainIndex::new()),
        Err(PolicyError::Structure(m)) if m.contains("3 items")
    ));
}

#[test]
fn truncated_and_garbage_bytes_are_refused() {
    let bytes = encode_tx(&first_tx(&id(41)));
    for cut in 0..bytes.len() {
        assert!(validate(&bytes[..cut], &ChainIndex::new()).is_err());
    }
    let mut long = bytes.clone();
    long.push(0);
    assert!(matches!(validate(&long, &ChainIndex::new()), Err(PolicyError::Decode(_))));
    assert!(matches!(
        validate(&vec![0u8; tx::MAX_TX_BYTES + 1], &ChainIndex::new()),
        Err(PolicyError::Decode(m)) if m.contains("limit")
    ));
    assert!(matches!(validate(b"hello, ledger", &ChainIndex::new()), Err(PolicyError::Decode(_))));
    // A huge declared count must not allocate or panic.
    let huge = [2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    assert!(validate(&huge, &ChainIndex::new()).is_err());
}

mod garbage {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn mutated_transactions_never_panic(at in any::<usize>(), b in any::<u8>()) {
            let owner = id(42);
            let bytes = encode_tx(&first_tx(&owner));
            let mut m = bytes.clone();
            let i = at % m.len();
            m[i] = b;
            // Every byte is covered by the signature, the witness key or the encoding rules; a
            // mutation that still validated could only be a witness-only (same txid) change.
            if let Ok(v) = validate(&m, &ChainIndex::new()) {
                prop_assert_eq!(v.txid, first_tx(&owner).compute_txid());
            }
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            prop_assert!(validate(&bytes, &ChainIndex::new()).is_err());
        }
    }
}

#[test]
fn bad_addresses_are_refused_by_name() {
    let owner = id(50);
    let build = |addresses: Vec<&str>| {
        build_policy_tx(&owner, None, PolicyChange::pair(addresses.into_iter().map(String::from).collect(), T))
    };
    let testnet = "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn";
    assert_eq!(build(vec![testnet]).unwrap_err(), PolicyError::Address(AddressError::WrongNetwork(testnet.into())));
    let bad_checksum = "1DEP8i3QJCsomS4BSMY2RpU1upv62aGvhE";
    let e = build(vec!["1DEP8i3QJCsomS4BSMY2RpU1upv62aGvhD", bad_checksum]).unwrap_err();
    assert!(matches!(&e, PolicyError::Address(AddressError::Invalid(a, _)) if a == bad_checksum));
    assert!(e.to_string().contains(bad_checksum));
    let e = build(vec!["garbage"]).unwrap_err();
    assert!(e.to_string().contains("garbage"));
    let e = build(vec!["tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"]).unwrap_err();
    assert!(matches!(e, PolicyError::Address(AddressError::WrongNetwork(_))));
    assert_eq!(build(vec![]).unwrap_err(), PolicyError::Payload(PayloadError::NoGrantees));
    let many: Vec<String> = (0..101).map(|i| p2pkh(&id(1000 + i))).collect();
    assert_eq!(
        build(many.iter().map(String::as_str).collect()).unwrap_err(),
        PolicyError::Payload(PayloadError::TooManyGrantees(101))
    );
    // Duplicates (also in different spellings of the same bech32 address) collapse to one.
    let a = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
    let tx = build(vec![a, &a.to_uppercase(), a]).unwrap();
    let v = validate(&encode_tx(&tx), &ChainIndex::new()).unwrap();
    assert_eq!(v.payload.addresses(), vec![a.to_string()]);
}

#[test]
fn every_address_type_decodes_back_exactly() {
    let owner = id(51);
    let friend = id(52);
    let pk = CompressedPublicKey::from_slice(&friend.pubkey()).unwrap();
    let mut addresses = identity::addresses_of(&friend.pubkey());
    addresses.push(Address::p2tr(secp(), XOnlyPublicKey::from(pk.0), None, Network::Bitcoin).to_string());
    addresses.push(Address::p2wsh(&ScriptBuf::new_p2pkh(&pk.pubkey_hash()), Network::Bitcoin).to_string());
    addresses.push("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy".to_string());
    let tx = build_policy_tx(&owner, None, PolicyChange::pair(addresses.clone(), T)).unwrap();
    let v = validate(&encode_tx(&tx), &ChainIndex::new()).unwrap();
    assert_eq!(v.payload.addresses(), addresses);
    let prefixes: Vec<&str> = addresses.iter().map(|a| &a[..4]).collect();
    assert!(prefixes[0].starts_with('1') && prefixes[1].starts_with('3'));
    assert_eq!(&prefixes[2..5], ["bc1q", "bc1p", "bc1q"]);
}

// ---------------------------------------------------------------- policy evaluation

#[test]
fn policy_evaluation_table() {
    let owner = id(60);
    let alice = id(61);
    let bob = id(62);
    let carol = id(63);
    let other_owner = id(64);
    let [alice_1, alice_3, alice_bc1] = <[String; 3]>::try_from(identity::addresses_of(&alice.pubkey())).unwrap();
    let bob_1 = p2pkh(&bob);
    let carol_1 = p2pkh(&carol);
    let (o, a, b, c) = (owner.pubkey(), alice.pubkey(), bob.pubkey(), carol.pubkey());
    let (k1, k2, k3) = (key(1), key(2), key(3));
    let mut book = PolicyBook::new();
    let step = |book: &mut PolicyBook, change: PolicyChange| {
        book.author(&owner, change).unwrap();
    };

    // Nobody but the owner, initially.
    assert!(book.may(&o, &o, &k1, Load));
    assert!(!book.may(&o, &a, &k1, Compute));

    // pair(alice P2PKH): load on all keys ⇒ compute too; through any of her key's addresses.
    step(&mut book, PolicyChange::pair(vec![alice_1.clone()], T));
    assert!(book.may(&o, &a, &k1, Load) && book.may(&o, &a, &k2, Compute));
    assert!(!book.may(&o, &b, &k1, Compute));
    // Unrelated owner's keys are not covered by this owner's grant.
    assert!(!book.may(&other_owner.pubkey(), &a, &k1, Compute));
    // …and grants by an unrelated owner don't apply to this owner's keys.
    book.author(&other_owner, PolicyChange::pair(vec![bob_1.clone()], T)).unwrap();
    assert!(book.may(&other_owner.pubkey(), &b, &k1, Load));
    assert!(!book.may(&o, &b, &k1, Compute));

    // Compute-level grant to bob on k1 only: may compute, may not load, nothing on k2.
    step(&mut book, grant(&[&bob_1], Compute, Scope::Keys(vec![k1])));
    assert!(book.may(&o, &b, &k1, Compute));
    assert!(!book.may(&o, &b, &k1, Load));
    assert!(!book.may(&o, &b, &k2, Compute));

    // Revoke load (scoped) from alice on k2: she keeps compute there, load elsewhere.
    step(&mut book, revoke(&[&alice_1], Load, Scope::Keys(vec![k2])));
    assert!(book.may(&o, &a, &k2, Compute) && !book.may(&o, &a, &k2, Load));
    assert!(book.may(&o, &a, &k1, Load) && book.may(&o, &a, &k3, Load));

    // Revoke compute (scoped) on k3: nothing on k3, carved out of the all-keys grant.
    step(&mut book, revoke(&[&alice_1], Compute, Scope::Keys(vec![k3])));
    assert!(!book.may(&o, &a, &k3, Compute));
    assert!(book.may(&o, &a, &k1, Load));
    let g = book.grants(&o);
    let alice_lines: Vec<&Grant> = g.iter().filter(|g| g.address == alice_1).collect();
    assert_eq!(alice_lines.len(), 2);
    assert_eq!(alice_lines[0].level, Load);
    assert_eq!(alice_lines[0].scope, Scope::All);
    assert_eq!(alice_lines[0].except, vec![k2, k3]);
    assert_eq!(alice_lines[1].level, Compute);
    assert_eq!(alice_lines[1].scope, Scope::Keys(vec![k2]));
    assert_eq!(alice_lines[0].to_json()["except"], serde_json::json!([k2.to_hex(), k3.to_hex()]));

    // Re-grant all keys restores everything.
    step(&mut book, grant(&[&alice_1], Load, Scope::All));
    assert!(book.may(&o, &a, &k2, Load) && book.may(&o, &a, &k3, Load));

    // Two addresses granted in one change, one of them revoked: the other still works.
    step(&mut book, PolicyChange::pair(vec![bob_1.clone(), carol_1.clone()], T));
    step(&mut book, PolicyChange::revoke(vec![bob_1.clone()], T));
    assert!(!book.may(&o, &b, &k1, Compute), "unscoped revoke removes every grant of bob");
    assert!(book.may(&o, &c, &k2, Load));

    // Alice's grant was to her P2PKH address; a grant to her P2SH-P2WPKH or bech32 address
    // matches her key just the same, and revoking one address leaves the others.
    step(&mut book, grant(&[&alice_3], Compute, Scope::Keys(vec![k1])));
    step(&mut book, grant(&[&alice_bc1], Compute, Scope::Keys(vec![k2])));
    step(&mut book, PolicyChange::revoke(vec![alice_1.clone()], T));
    assert!(book.may(&o, &a, &k1, Compute) && !book.may(&o, &a, &k1, Load));
    assert!(book.may(&o, &a, &k2, Compute));
    assert!(!book.may(&o, &a, &k3, Compute));

    // Revoking a grant that was never made changes nothing and is still a valid transaction.
    step(&mut book, PolicyChange::revoke(vec![p2pkh(&id(65))], T));
    assert!(book.may(&o, &c, &k1, Load));

    // Load revoked without scope downgrades carol to compute everywhere.
    step(&mut book, revoke(&[&carol_1], Load, Scope::All));
    assert!(book.may(&o, &c, &k9(), Compute) && !book.may(&o, &c, &k9(), Load));

    // The owner always may, whatever the grants say.
    step(&mut book, PolicyChange::revoke(vec![p2pkh(&owner)], T));
    assert!(book.may(&o, &o, &k1, Load));

    let json = book.state().grants_json(&o);
    let lines = json.as_array().unwrap();
    assert!(lines.iter().any(|l| l["address"] == carol_1.as_str() && l["level"] == "compute" && l["scope"] == "all"));
    assert!(!lines.iter().any(|l| l["address"] == bob_1.as_str()));
    assert!(!lines.iter().any(|l| l["address"] == alice_1.as_str()));
}

fn k9() -> DataKey {
    key(9)
}

#[test]
fn taproot_and_script_grants() {
    let owner = id(70);
    let dave = id(71);
    let pk = CompressedPublicKey::from_slice(&dave.pubkey()).unwrap();
    let p2tr = Address::p2tr(secp(), XOnlyPublicKey::from(pk.0), None, Network::Bitcoin).to_string();
    let p2wsh = Address::p2wsh(&ScriptBuf::new_p2pkh(&pk.pubkey_hash()), Network::Bitcoin).to_string();
    let mut book = PolicyBook::new();
    book.author(&owner, grant(&[&p2wsh], Load, Scope::All)).unwrap();
    // A P2WSH grant is recorded but no bare key proves control of a script.
    assert!(!book.may(&owner.pubkey(), &dave.pubkey(), &key(1), Compute));
    assert_eq!(book.grants(&owner.pubkey())[0].address, p2wsh);
    // A BIP86 key-path Taproot address is the key's own.
    book.author(&owner, grant(&[&p2tr], Load, Scope::All)).unwrap();
    assert!(book.may(&owner.pubkey(), &dave.pubkey(), &key(1), Load));
    let scripts = requester_scripts(&dave.pubkey());
    let strings: Vec<String> =
        scripts.iter().map(|s| Address::from_script(s, Network::Bitcoin).unwrap().to_string()).collect();
    assert_eq!(&strings[..3], identity::addresses_of(&dave.pubkey()).as_slice());
    assert_eq!(strings[3], p2tr);
}

#[test]
fn state_applies_only_in_chain_order() {
    let owner = id(80);
    let mut src = PolicyBook::new();
    let a = src.author(&owner, PolicyChange::pair(vec![p2pkh(&id(81))], T)).unwrap();
    let b = src.author(&owner, PolicyChange::revoke(vec![p2pkh(&id(81))], T)).unwrap();
    let mut state = PolicyState::new();
    assert!(matches!(state.apply(&b), Err(PolicyError::BrokenLink { .. })));
    state.apply(&a).unwrap();
    assert!(matches!(state.apply(&a), Err(PolicyError::BrokenLink { .. })));
    state.apply(&b).unwrap();
    assert_eq!(state.tip(&owner.pubkey()), Some(b.txid));
    let mut index = ChainIndex::new();
    assert!(index.insert(&b).is_err());
    index.insert(&a).unwrap();
    assert_eq!(index.insert(&a), Err(PolicyError::AlreadyKnown(a.txid)));
}

#[test]
fn replay_in_acceptance_order_rebuilds_the_book() {
    let (o1, o2) = (id(90), id(91));
    let mut book = PolicyBook::new();
    book.author(&o1, PolicyChange::pair(vec![p2pkh(&id(92))], T)).unwrap();
    book.author(&o2, grant(&[&p2pkh(&id(93))], Compute, Scope::Keys(vec![key(4)]))).unwrap();
    book.author(&o1, revoke(&[&p2pkh(&id(92))], Load, Scope::Keys(vec![key(5)]))).unwrap();
    let mut replayed = PolicyBook::new();
    for txid in book.txids() {
        replayed.submit(&book.get(txid).unwrap().bytes).unwrap();
    }
    assert_eq!(replayed.txids(), book.txids());
    for o in [&o1, &o2] {
        assert_eq!(replayed.grants(&o.pubkey()), book.grants(&o.pubkey()));
        assert_eq!(replayed.tip(&o.pubkey()), book.tip(&o.pubkey()));
    }
}

// ---------------------------------------------------------------- decoded view

#[test]
fn decoded_view_shows_everything() {
    let owner = id(100);
    let friend = id(101);
    let mut book = PolicyBook::new();
    let first = book.author(&owner, PolicyChange::pair(vec![p2pkh(&friend)], T)).unwrap();
    let second = book.author(&owner, revoke(&[&p2pkh(&friend)], Load, Scope::Keys(vec![key(0xab)]))).unwrap();
    let v = book.view(&second.txid).unwrap();
    assert_eq!(v["txid"], second.txid.to_string());
    assert_eq!(v["hex"], hex::encode(&second.bytes));
    assert_eq!(v["version"], 2);
    assert_eq!(v["locktime"], 0);
    assert_eq!(v["owner"], owner.public_hex());
    assert_eq!(v["owner_address"], owner.address());
    assert_eq!(v["prev"], first.txid.to_string());
    assert_eq!(v["inputs"][0]["txid"], first.txid.to_string());
    assert_eq!(v["inputs"][0]["vout"], 0);
    assert_eq!(v["inputs"][0]["spends"], "policy");
    assert_eq!(v["inputs"][0]["witness"][1], owner.public_hex());
    assert_eq!(v["outputs"][0]["type"], "witness_v0_keyhash");
    assert_eq!(v["outputs"][0]["address"], identity::addresses_of(&owner.pubkey())[2]);
    assert_eq!(v["outputs"][0]["value"], 0);
    assert_eq!(v["outputs"][1]["type"], "nulldata");
    assert!(v["outputs"][1]["data"].as_str().unwrap().starts_with("454e4947"));
    assert_eq!(
        v["payload"],
        serde_json::json!({
            "version": 1,
            "action": "revoke",
            "level": "load",
            "scope": [key(0xab).to_hex()],
            "addresses": [p2pkh(&friend)],
            "timestamp": T,
        })
    );
    let first_view = book.view(&first.txid).unwrap();
    assert_eq!(first_view["inputs"][0]["spends"], "genesis");
    assert_eq!(first_view["payload"]["scope"], "all");
    assert_eq!(first_view["prev"], serde_json::Value::Null);
    assert!(book.view(&Txid::all_zeros()).is_none());
}

/// The worked example in `docs/ledger.md` is produced by this code.
#[test]
fn docs_example_is_current() {
    let doc = include_str!("../../../docs/ledger.md");
    let owner = Identity::parse(&"11".repeat(32)).unwrap();
    let tx = build_policy_tx(
        &owner,
        None,
        PolicyChange::pair(vec!["1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH".into()], 1_767_225_600),
    )
    .unwrap();
    let bytes = encode_tx(&tx);
    assert!(doc.contains(&hex::encode(&bytes)), "hex in docs/ledger.md");
    assert!(doc.contains(&tx.compute_txid().to_string()), "txid");
    let genesis = genesis_outpoint(&owner.pubkey()).txid.to_byte_array();
    assert!(doc.contains(&hex::encode(genesis)), "genesis outpoint bytes");
    assert!(doc.contains(&format!("{} bytes, {} vbytes", bytes.len(), tx.vsize())));
}
