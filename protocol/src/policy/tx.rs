//! Policy transactions as Bitcoin transactions: build and sign, encode and decode, and the
//! context-free checks (shape, payload, owner key, signature).
//!
//! Owns: the transaction layout (one input spending the owner's previous policy output or its
//! genesis outpoint; output 0 paying the owner by P2WPKH; output 1 an OP_RETURN with the payload),
//! the per-owner genesis outpoint, and signing/verifying with the `bitcoin` crate's BIP143 sighash
//! (P2WPKH witness, SIGHASH_ALL, 0-value prevout).
//! Must never: consult the ledger (chain links and forks are `chain.rs`), evaluate policy, or do
//! I/O — the caller supplies the timestamp.

use super::error::PolicyError;
use super::payload::{Payload, Scope};
use super::{Action, Level};
use crate::identity::{self, Identity, PubkeyBytes, secp};
use bitcoin::absolute::LockTime;
use bitcoin::consensus::encode;
use bitcoin::hashes::{Hash, sha256d};
use bitcoin::opcodes::all::OP_RETURN;
use bitcoin::script::{Instruction, PushBytesBuf};
use bitcoin::secp256k1::{Message, PublicKey};
use bitcoin::sighash::SighashCache;
use bitcoin::transaction::Version;
use bitcoin::{
    Address, Amount, CompressedPublicKey, EcdsaSighashType, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut,
    Txid, Witness,
};
use std::collections::HashSet;

/// Domain tag of the genesis outpoint: txid = SHA-256d(tag ‖ 33-byte compressed owner key).
pub const GENESIS_TAG: &[u8] = b"enigma policy genesis";
/// Transactions are version 2 (BIP68-era standard); anything else is refused.
pub const TX_VERSION: Version = Version::TWO;
/// Larger byte strings are refused before decoding. The largest valid policy transaction is
/// about 12.7 kB (the largest payload plus ~230 bytes of transaction).
pub const MAX_TX_BYTES: usize = 16 * 1024;

/// The outpoint the first policy transaction of `owner` spends: txid = SHA-256d(
/// `"enigma policy genesis"` ‖ compressed owner key), vout 0. The 32 hash bytes are the txid in
/// internal byte order (displayed reversed, like every txid). It exists on no real chain.
pub fn genesis_outpoint(owner: &PubkeyBytes) -> OutPoint {
    let mut pre = Vec::with_capacity(GENESIS_TAG.len() + owner.len());
    pre.extend_from_slice(GENESIS_TAG);
    pre.extend_from_slice(owner);
    OutPoint { txid: Txid::from_raw_hash(sha256d::Hash::hash(&pre)), vout: 0 }
}

/// The P2WPKH scriptPubKey of an owner's compressed key: what output 0 pays, and (with value 0)
/// the prevout the signature commits to.
pub fn owner_script(owner: &PubkeyBytes) -> Result<ScriptBuf, PolicyError> {
    let pk = CompressedPublicKey::from_slice(owner).map_err(|_| PolicyError::BadOwnerKey)?;
    Ok(ScriptBuf::new_p2wpkh(&pk.wpubkey_hash()))
}

/// What a user asks for: grant or revoke `level` on `scope` to `addresses` (strings as typed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyChange {
    pub action: Action,
    pub level: Level,
    pub scope: Scope,
    /// Mainnet addresses: P2PKH (`1…`), P2SH (`3…`), bech32 / bech32m (`bc1…`).
    pub addresses: Vec<String>,
    /// Unix seconds, supplied by the caller (this module reads no clock).
    pub timestamp: u64,
    /// Grants only: the fewest of the owner's values an aggregate under this grant must cover
    /// (`None`: the default, [`super::payload::DEFAULT_MIN_COUNT`]).
    pub min_count: Option<u32>,
}

impl PolicyChange {
    /// `pair(addresses)`: grant `load` (hence also `compute`) on all of the owner's keys.
    pub fn pair(addresses: Vec<String>, timestamp: u64) -> PolicyChange {
        PolicyChange {
            action: Action::Grant,
            level: Level::Load,
            scope: Scope::All,
            addresses,
            timestamp,
            min_count: None,
        }
    }

    /// `revoke(addresses)`: take back every access to all of the owner's keys.
    pub fn revoke(addresses: Vec<String>, timestamp: u64) -> PolicyChange {
        PolicyChange {
            action: Action::Revoke,
            level: Level::Compute,
            scope: Scope::All,
            addresses,
            timestamp,
            min_count: None,
        }
    }

    /// The payload this change becomes. Every address is parsed with
    /// [`identity::parse_address`] (an unusable one is an error naming it); duplicate addresses
    /// and duplicate keys are dropped, keeping the first occurrence; limits are checked.
    pub fn to_payload(&self) -> Result<Payload, PolicyError> {
        let mut grantees = Vec::with_capacity(self.addresses.len());
        let mut seen = HashSet::new();
        for a in &self.addresses {
            let canonical = identity::parse_address(a)?;
            // parse_address accepted it as a mainnet address, so re-parsing its canonical form
            // cannot fail and the network check is already done.
            let script = canonical
                .parse::<Address<bitcoin::address::NetworkUnchecked>>()
                .map_err(|e| identity::AddressError::Invalid(a.clone(), e.to_string()))?
                .assume_checked()
                .script_pubkey();
            if seen.insert(script.clone()) {
                grantees.push(script);
            }
        }
        let scope = match &self.scope {
            Scope::All => Scope::All,
            Scope::Keys(keys) => {
                let mut seen = HashSet::new();
                Scope::Keys(keys.iter().copied().filter(|k| seen.insert(*k)).collect())
            }
        };
        let payload = Payload {
            action: self.action,
            level: self.level,
            scope,
            grantees,
            timestamp: self.timestamp,
            min_count: self.min_count,
        };
        payload.check()?;
        Ok(payload)
    }
}

/// Builds and signs the policy transaction of `owner` that spends `prev:0` (or the owner's
/// genesis outpoint when `prev` is `None`) and carries `change`.
pub fn build_policy_tx(owner: &Identity, prev: Option<Txid>, change: PolicyChange) -> Result<Transaction, PolicyError> {
    let payload = change.to_payload()?;
    build_from_payload(owner, prev, &payload)
}

/// Builds and signs a policy transaction carrying an already-built payload.
pub fn build_from_payload(owner: &Identity, prev: Option<Txid>, payload: &Payload) -> Result<Transaction, PolicyError> {
    let owner_key = owner.pubkey();
    let spk = owner_script(&owner_key)?;
    let data = PushBytesBuf::try_from(payload.encode()?).map_err(|e| PolicyError::Signing(e.to_string()))?;
    let previous_output = match prev {
        Some(txid) => OutPoint { txid, vout: 0 },
        None => genesis_outpoint(&owner_key),
    };
    let mut tx = Transaction {
        version: TX_VERSION,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output,
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![
            TxOut { value: Amount::ZERO, script_pubkey: spk.clone() },
            TxOut { value: Amount::ZERO, script_pubkey: ScriptBuf::new_op_return(data) },
        ],
    };
    let msg = sighash_message(&tx, &spk)?;
    let sig = secp().sign_ecdsa(&msg, owner.secret_key());
    let pk = PublicKey::from_slice(&owner_key).map_err(|_| PolicyError::BadOwnerKey)?;
    tx.input[0].witness = Witness::p2wpkh(&bitcoin::ecdsa::Signature::sighash_all(sig), &pk);
    Ok(tx)
}

/// The BIP143 SIGHASH_ALL digest of input 0, spending a 0-value P2WPKH output of `spk`.
fn sighash_message(tx: &Transaction, spk: &ScriptBuf) -> Result<Message, PolicyError> {
    let sighash = SighashCache::new(tx)
        .p2wpkh_signature_hash(0, spk, Amount::ZERO, EcdsaSighashType::All)
        .map_err(|e| PolicyError::Signing(e.to_string()))?;
    Ok(Message::from_digest(sighash.to_byte_array()))
}

/// Consensus (BIP144 segwit) serialization: the bytes that are gossiped, stored and shown as hex.
pub fn encode_tx(tx: &Transaction) -> Vec<u8> {
    encode::serialize(tx)
}

/// Consensus decoding of a whole byte string (no bytes may be left over).
pub fn decode_tx(bytes: &[u8]) -> Result<Transaction, PolicyError> {
    if bytes.len() > MAX_TX_BYTES {
        return Err(PolicyError::Decode(format!("{} bytes is more than the {MAX_TX_BYTES}-byte limit", bytes.len())));
    }
    encode::deserialize(bytes).map_err(|e| PolicyError::Decode(e.to_string()))
}

/// A transaction whose shape, payload, owner key and signature are valid. Its place in the
/// owner's chain is not yet checked (see `chain::validate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedTx {
    pub txid: Txid,
    pub owner: PubkeyBytes,
    pub payload: Payload,
    pub tx: Transaction,
    /// The exact bytes that were checked.
    pub bytes: Vec<u8>,
}

impl CheckedTx {
    /// The outpoint the transaction spends.
    pub fn spends(&self) -> OutPoint {
        self.tx.input[0].previous_output
    }
}

fn structure(msg: impl Into<String>) -> PolicyError {
    PolicyError::Structure(msg.into())
}

/// Decodes `bytes` and runs every check that needs no ledger: version 2, lock time 0, exactly
/// one input (empty scriptSig, final sequence, two-item witness: DER signature with SIGHASH_ALL
/// and a compressed key), exactly two outputs (0 sat to the witness key's P2WPKH; 0 sat
/// OP_RETURN with one minimal push of a well-formed payload), and a valid low-S signature over
/// the BIP143 sighash.
pub fn check_tx(bytes: &[u8]) -> Result<CheckedTx, PolicyError> {
    let tx = decode_tx(bytes)?;
    if tx.version != TX_VERSION {
        return Err(structure(format!("transaction version {} (expected 2)", tx.version.0)));
    }
    if tx.lock_time != LockTime::ZERO {
        return Err(structure("lock time must be 0"));
    }
    let [input] = tx.input.as_slice() else {
        return Err(structure(format!("{} inputs (expected exactly 1)", tx.input.len())));
    };
    let [out_owner, out_data] = tx.output.as_slice() else {
        return Err(structure(format!("{} outputs (expected exactly 2)", tx.output.len())));
    };
    if !input.script_sig.is_empty() {
        return Err(structure("the input's scriptSig must be empty (P2WPKH spend)"));
    }
    if input.sequence != Sequence::MAX {
        return Err(structure("the input's sequence must be 0xffffffff"));
    }
    if input.witness.len() != 2 {
        return Err(structure(format!(
            "the witness has {} items (expected signature and public key)",
            input.witness.len()
        )));
    }
    let (Some(sig_bytes), Some(key_bytes)) = (input.witness.nth(0), input.witness.nth(1)) else {
        return Err(structure("the witness has fewer than 2 items"));
    };
    let owner: PubkeyBytes = key_bytes.try_into().map_err(|_| PolicyError::BadOwnerKey)?;
    let pk = PublicKey::from_slice(&owner).map_err(|_| PolicyError::BadOwnerKey)?;
    let spk = owner_script(&owner)?;
    if out_owner.script_pubkey != spk {
        return Err(structure("output 0 does not pay the witness key (P2WPKH)"));
    }
    if out_owner.value != Amount::ZERO || out_data.value != Amount::ZERO {
        return Err(structure("outputs must carry 0 sat in the embedded ledger"));
    }
    let payload = Payload::decode(op_return_data(&out_data.script_pubkey)?)?;

    let sig = bitcoin::ecdsa::Signature::from_slice(sig_bytes).map_err(|e| PolicyError::BadSignature(e.to_string()))?;
    if sig.sighash_type != EcdsaSighashType::All {
        return Err(PolicyError::BadSignature(format!("sighash type {} (expected SIGHASH_ALL)", sig.sighash_type)));
    }
    let msg = sighash_message(&tx, &spk)?;
    // libsecp256k1 only accepts low-S signatures, so a malleated (high-S) copy is refused too.
    secp().verify_ecdsa(&msg, &sig.signature, &pk).map_err(|_| {
        PolicyError::BadSignature(format!("does not verify for key {} over the BIP143 sighash", hex::encode(owner)))
    })?;
    Ok(CheckedTx { txid: tx.compute_txid(), owner, payload, tx, bytes: bytes.to_vec() })
}

/// The pushed data of an `OP_RETURN <one minimal push>` script.
pub fn op_return_data(script: &bitcoin::Script) -> Result<&[u8], PolicyError> {
    let not = || structure("output 1 must be OP_RETURN followed by one minimal data push");
    let mut ins = script.instructions_minimal();
    match ins.next() {
        Some(Ok(Instruction::Op(op))) if op == OP_RETURN => {}
        _ => return Err(not()),
    }
    let data = match ins.next() {
        Some(Ok(Instruction::PushBytes(data))) => data.as_bytes(),
        _ => return Err(not()),
    };
    if ins.next().is_some() {
        return Err(not());
    }
    Ok(data)
}
