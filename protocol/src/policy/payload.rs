//! The OP_RETURN payload codec: the policy change a transaction carries, as compact versioned bytes.
//!
//! Owns: the [`Payload`] type (action, level, scope, grantees, timestamp), its byte format (see
//! `docs/ledger.md`, "Payload format") and every invariant a payload must satisfy (limits, no
//! duplicates, grantees are standard mainnet address scripts). [`Payload::encode`] and
//! [`Payload::decode`] enforce the same invariants, and decoding is canonical: whatever decodes
//! re-encodes to exactly the same bytes.
//! Must never: panic or allocate without bound on hostile input, look at transactions, signatures
//! or chains, or evaluate policy.

use super::error::PayloadError;
use bitcoin::{Address, Network, Script, ScriptBuf};
use std::collections::HashSet;

/// The four bytes every Enigma policy payload starts with.
pub const MAGIC: [u8; 4] = *b"ENIG";
/// The payload format version of a change without a `min_count` (version 1, still written for such
/// changes so their bytes stay canonical).
pub const PAYLOAD_VERSION: u8 = 1;
/// The payload format version of a grant that carries a `min_count` (4 bytes after the level).
pub const PAYLOAD_VERSION_MIN_COUNT: u8 = 2;
/// The smallest number of the owner's values an aggregate under a compute grant must cover when
/// the grant does not say (docs/threat-model.md, "Compute grants").
pub const DEFAULT_MIN_COUNT: u32 = 5;
/// The largest `min_count` a grant may set.
pub const MAX_MIN_COUNT: u32 = 1 << 30;
/// At most this many data keys in a key-scoped change (the count is one byte).
pub const MAX_SCOPE_KEYS: usize = 255;
/// At most this many grantee addresses in one change.
pub const MAX_GRANTEES: usize = 100;
/// The longest scriptPubKey of a standard address: a 40-byte witness program plus two bytes.
pub const MAX_SCRIPT_LEN: usize = 42;
/// Fixed-size part: magic, version, action, level, timestamp, scope tag.
const HEADER_LEN: usize = 4 + 1 + 1 + 1 + 8 + 1;
/// The largest payload the limits allow (12 482 bytes: a version-2 grant), well under Bitcoin Core's 100 000-byte
/// OP_RETURN relay limit (Core ≥ 30).
pub const MAX_PAYLOAD_LEN: usize = HEADER_LEN + 4 + 1 + MAX_SCOPE_KEYS * 32 + 1 + MAX_GRANTEES * (1 + MAX_SCRIPT_LEN);

/// A data key: the 32-byte SHA-256 that `store` returns (as 64 hex characters).
pub use crate::keys::DataKey;

/// Grant or take back access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Grant,
    Revoke,
}

impl Action {
    fn byte(self) -> u8 {
        match self {
            Action::Grant => 0x01,
            Action::Revoke => 0x02,
        }
    }

    fn from_byte(b: u8) -> Result<Action, PayloadError> {
        match b {
            0x01 => Ok(Action::Grant),
            0x02 => Ok(Action::Revoke),
            other => Err(PayloadError::BadAction(other)),
        }
    }

    /// `"grant"` or `"revoke"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Grant => "grant",
            Action::Revoke => "revoke",
        }
    }
}

/// How much a grantee may do with a key. Ordered: `Compute < Load`, and `Load` implies `Compute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Receive the results of computations on the key, never the raw data.
    Compute,
    /// Load the raw data, and compute on it.
    Load,
}

impl Level {
    fn byte(self) -> u8 {
        match self {
            Level::Compute => 0x01,
            Level::Load => 0x02,
        }
    }

    fn from_byte(b: u8) -> Result<Level, PayloadError> {
        match b {
            0x01 => Ok(Level::Compute),
            0x02 => Ok(Level::Load),
            other => Err(PayloadError::BadLevel(other)),
        }
    }

    /// `"compute"` or `"load"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Compute => "compute",
            Level::Load => "load",
        }
    }

    /// Parses `"compute"` or `"load"` (ASCII case-insensitive).
    pub fn parse(s: &str) -> Option<Level> {
        match s.trim().to_ascii_lowercase().as_str() {
            "compute" => Some(Level::Compute),
            "load" => Some(Level::Load),
            _ => None,
        }
    }
}

/// Which of the owner's data keys a change applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every key of the owner, present and future.
    All,
    /// Exactly these keys (non-empty, no duplicates, at most [`MAX_SCOPE_KEYS`]).
    Keys(Vec<DataKey>),
}

/// One policy change, as carried in the OP_RETURN output of a policy transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Payload {
    pub action: Action,
    pub level: Level,
    pub scope: Scope,
    /// Grantees as scriptPubKeys of standard mainnet addresses (P2PKH, P2SH, P2WPKH, P2WSH,
    /// P2TR, other witness versions), in the order given, without duplicates.
    pub grantees: Vec<ScriptBuf>,
    /// Unix time in seconds, as stated by the owner. Informational: order comes from the chain.
    pub timestamp: u64,
    /// Grants only: the fewest of the owner's values an aggregate computed under this grant must
    /// cover (`None`: [`DEFAULT_MIN_COUNT`]). Present ⇔ payload version 2.
    pub min_count: Option<u32>,
}

/// The mainnet address string of a scriptPubKey, if it is a standard address script.
pub fn script_address(script: &Script) -> Option<String> {
    Address::from_script(script, Network::Bitcoin).ok().map(|a| a.to_string())
}

impl Payload {
    /// The grantees as mainnet address strings (each decodes back to the exact address the owner
    /// gave, in its canonical form).
    pub fn addresses(&self) -> Vec<String> {
        self.grantees.iter().map(|s| script_address(s).unwrap_or_else(|| hex::encode(s.as_bytes()))).collect()
    }

    /// Checks every invariant of a well-formed payload.
    pub fn check(&self) -> Result<(), PayloadError> {
        if let Some(m) = self.min_count {
            if self.action != Action::Grant {
                return Err(PayloadError::MinCountOnRevoke);
            }
            if m == 0 || m > MAX_MIN_COUNT {
                return Err(PayloadError::BadMinCount(m));
            }
        }
        if let Scope::Keys(keys) = &self.scope {
            if keys.is_empty() {
                return Err(PayloadError::EmptyScope);
            }
            if keys.len() > MAX_SCOPE_KEYS {
                return Err(PayloadError::TooManyKeys(keys.len()));
            }
            let mut seen = HashSet::with_capacity(keys.len());
            for k in keys {
                if !seen.insert(k) {
                    return Err(PayloadError::DuplicateKey(k.to_hex()));
                }
            }
        }
        if self.grantees.is_empty() {
            return Err(PayloadError::NoGrantees);
        }
        if self.grantees.len() > MAX_GRANTEES {
            return Err(PayloadError::TooManyGrantees(self.grantees.len()));
        }
        let mut seen = HashSet::with_capacity(self.grantees.len());
        for g in &self.grantees {
            let Some(address) = script_address(g).filter(|_| g.len() <= MAX_SCRIPT_LEN) else {
                return Err(PayloadError::BadScript(hex::encode(g.as_bytes())));
            };
            if !seen.insert(g.as_bytes()) {
                return Err(PayloadError::DuplicateGrantee(address));
            }
        }
        Ok(())
    }

    /// Encodes the payload (format in `docs/ledger.md`). Fails if an invariant does not hold.
    pub fn encode(&self) -> Result<Vec<u8>, PayloadError> {
        self.check()?;
        let mut out = Vec::with_capacity(HEADER_LEN + 64);
        out.extend_from_slice(&MAGIC);
        out.push(if self.min_count.is_some() { PAYLOAD_VERSION_MIN_COUNT } else { PAYLOAD_VERSION });
        out.push(self.action.byte());
        out.push(self.level.byte());
        if let Some(m) = self.min_count {
            out.extend_from_slice(&m.to_be_bytes());
        }
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        match &self.scope {
            Scope::All => out.push(0x00),
            Scope::Keys(keys) => {
                out.push(0x01);
                // check() bounds the count to MAX_SCOPE_KEYS = 255.
                out.push(keys.len() as u8);
                for k in keys {
                    out.extend_from_slice(&k.0);
                }
            }
        }
        out.push(self.grantees.len() as u8);
        for g in &self.grantees {
            out.push(g.len() as u8);
            out.extend_from_slice(g.as_bytes());
        }
        Ok(out)
    }

    /// Decodes a payload. Any deviation from the format — wrong magic, unknown version, action,
    /// level or scope tag, a count out of range, a non-address script, a duplicate, missing or
    /// extra bytes — is an error; nothing panics.
    pub fn decode(bytes: &[u8]) -> Result<Payload, PayloadError> {
        let mut r = Reader { bytes, pos: 0 };
        if r.take(4)? != MAGIC {
            return Err(PayloadError::BadMagic);
        }
        let version = r.byte()?;
        if version != PAYLOAD_VERSION && version != PAYLOAD_VERSION_MIN_COUNT {
            return Err(PayloadError::UnsupportedVersion(version));
        }
        let action = Action::from_byte(r.byte()?)?;
        let level = Level::from_byte(r.byte()?)?;
        let min_count =
            if version == PAYLOAD_VERSION_MIN_COUNT { Some(u32::from_be_bytes(r.array::<4>()?)) } else { None };
        let timestamp = u64::from_be_bytes(r.array::<8>()?);
        let scope = match r.byte()? {
            0x00 => Scope::All,
            0x01 => {
                let n = r.byte()? as usize;
                if n == 0 {
                    return Err(PayloadError::EmptyScope);
                }
                let mut keys = Vec::with_capacity(n);
                for _ in 0..n {
                    keys.push(DataKey(r.array::<32>()?));
                }
                Scope::Keys(keys)
            }
            other => return Err(PayloadError::BadScope(other)),
        };
        let m = r.byte()? as usize;
        if m == 0 {
            return Err(PayloadError::NoGrantees);
        }
        if m > MAX_GRANTEES {
            return Err(PayloadError::TooManyGrantees(m));
        }
        let mut grantees = Vec::with_capacity(m);
        for _ in 0..m {
            let len = r.byte()? as usize;
            let script = r.take(len)?;
            if len == 0 || len > MAX_SCRIPT_LEN {
                return Err(PayloadError::BadScript(hex::encode(script)));
            }
            grantees.push(ScriptBuf::from_bytes(script.to_vec()));
        }
        if r.pos != bytes.len() {
            return Err(PayloadError::TrailingBytes(bytes.len() - r.pos));
        }
        let payload = Payload { action, level, scope, grantees, timestamp, min_count };
        payload.check()?;
        Ok(payload)
    }
}

/// A bounds-checked cursor over the payload bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PayloadError> {
        let rest = &self.bytes[self.pos..];
        if rest.len() < n {
            return Err(PayloadError::Truncated { offset: self.pos, needed: n - rest.len() });
        }
        self.pos += n;
        Ok(&rest[..n])
    }

    fn byte(&mut self) -> Result<u8, PayloadError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], PayloadError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash;
    use bitcoin::{PubkeyHash, WPubkeyHash, WScriptHash, WitnessProgram, WitnessVersion};
    use proptest::prelude::*;

    fn p2wpkh(b: u8) -> ScriptBuf {
        ScriptBuf::new_p2wpkh(&WPubkeyHash::from_byte_array([b; 20]))
    }

    fn sample() -> Payload {
        Payload {
            action: Action::Grant,
            level: Level::Load,
            scope: Scope::All,
            grantees: vec![p2wpkh(7)],
            timestamp: 1_700_000_000,
            min_count: None,
        }
    }

    #[test]
    fn single_address_grant_is_small() {
        let bytes = sample().encode().unwrap();
        // Fits the legacy 80-byte OP_RETURN standardness limit of Bitcoin Core < 30.
        assert_eq!(bytes.len(), 40);
        assert_eq!(&bytes[..4], b"ENIG");
        assert_eq!(bytes[4..7], [1, 1, 2]);
        assert_eq!(bytes[7..15], 1_700_000_000u64.to_be_bytes());
        assert_eq!(bytes[15..18], [0, 1, 22]);
        assert_eq!(Payload::decode(&bytes).unwrap(), sample());
    }

    #[test]
    fn the_largest_payload_fits_the_limit() {
        let p = Payload {
            action: Action::Grant,
            level: Level::Compute,
            scope: Scope::Keys((0..MAX_SCOPE_KEYS).map(|i| DataKey([i as u8; 32])).collect()),
            grantees: (0..MAX_GRANTEES)
                .map(|i| {
                    let prog = WitnessProgram::new(WitnessVersion::V2, &[i as u8; 40]).unwrap();
                    ScriptBuf::new_witness_program(&prog)
                })
                .collect(),
            timestamp: u64::MAX,
            min_count: Some(MAX_MIN_COUNT),
        };
        let bytes = p.encode().unwrap();
        assert_eq!(bytes.len(), MAX_PAYLOAD_LEN);
        assert_eq!(MAX_PAYLOAD_LEN, 12_482);
        assert_eq!(Payload::decode(&bytes).unwrap(), p);
    }

    #[test]
    fn malformed_payloads_are_refused() {
        let good = sample().encode().unwrap();
        let with = |i: usize, b: u8| {
            let mut v = good.clone();
            v[i] = b;
            Payload::decode(&v)
        };
        assert_eq!(with(0, b'X'), Err(PayloadError::BadMagic));
        assert_eq!(with(4, 3), Err(PayloadError::UnsupportedVersion(3)));
        assert_eq!(with(5, 3), Err(PayloadError::BadAction(3)));
        assert_eq!(with(6, 0), Err(PayloadError::BadLevel(0)));
        assert_eq!(with(15, 7), Err(PayloadError::BadScope(7)));
        assert_eq!(with(16, 0), Err(PayloadError::NoGrantees));
        assert_eq!(with(16, 101), Err(PayloadError::TooManyGrantees(101)));
        assert!(matches!(with(18, 0x6a), Err(PayloadError::BadScript(_))));
        assert!(matches!(Payload::decode(&good[..good.len() - 1]), Err(PayloadError::Truncated { .. })));
        let mut long = good.clone();
        long.push(0);
        assert_eq!(Payload::decode(&long), Err(PayloadError::TrailingBytes(1)));
        assert!(Payload::decode(&[]).is_err());

        let mut dup = sample();
        dup.grantees.push(p2wpkh(7));
        assert!(matches!(
            dup.encode(),
            Err(PayloadError::DuplicateGrantee(a)) if a.starts_with("bc1q")
        ));
        let mut keys = sample();
        keys.scope = Scope::Keys(vec![DataKey([1; 32]), DataKey([1; 32])]);
        assert!(matches!(keys.encode(), Err(PayloadError::DuplicateKey(_))));
        keys.scope = Scope::Keys(vec![]);
        assert_eq!(keys.encode(), Err(PayloadError::EmptyScope));
        let mut none = sample();
        none.grantees.clear();
        assert_eq!(none.encode(), Err(PayloadError::NoGrantees));
        let mut bare = sample();
        bare.grantees = vec![ScriptBuf::new_op_return([1u8, 2, 3])];
        assert!(matches!(bare.encode(), Err(PayloadError::BadScript(_))));
    }

    #[test]
    fn a_min_count_makes_a_version_2_grant_and_version_1_still_reads() {
        let v1 = sample().encode().unwrap();
        assert_eq!(Payload::decode(&v1).unwrap().min_count, None, "a version-1 grant: the default applies");
        let mut p = sample();
        p.min_count = Some(12);
        let v2 = p.encode().unwrap();
        assert_eq!(v2.len(), v1.len() + 4);
        assert_eq!(v2[4..11], [2, 1, 2, 0, 0, 0, 12]);
        assert_eq!(Payload::decode(&v2).unwrap(), p);
        p.min_count = Some(0);
        assert_eq!(p.encode(), Err(PayloadError::BadMinCount(0)));
        p.min_count = Some(3);
        p.action = Action::Revoke;
        assert_eq!(p.encode(), Err(PayloadError::MinCountOnRevoke));
    }

    fn arb_script() -> impl Strategy<Value = ScriptBuf> {
        prop_oneof![
            any::<[u8; 20]>().prop_map(|h| ScriptBuf::new_p2pkh(&PubkeyHash::from_byte_array(h))),
            any::<[u8; 20]>().prop_map(|h| ScriptBuf::new_p2sh(&bitcoin::ScriptHash::from_byte_array(h))),
            any::<[u8; 20]>().prop_map(|h| ScriptBuf::new_p2wpkh(&WPubkeyHash::from_byte_array(h))),
            any::<[u8; 32]>().prop_map(|h| ScriptBuf::new_p2wsh(&WScriptHash::from_byte_array(h))),
            any::<[u8; 32]>().prop_map(|k| {
                let prog = WitnessProgram::new(WitnessVersion::V1, &k).unwrap();
                ScriptBuf::new_witness_program(&prog)
            }),
        ]
    }

    fn arb_payload() -> impl Strategy<Value = Payload> {
        let scope = prop_oneof![
            Just(Scope::All),
            proptest::collection::hash_set(any::<[u8; 32]>(), 1..20)
                .prop_map(|s| Scope::Keys(s.into_iter().map(DataKey).collect())),
        ];
        (
            prop_oneof![Just(Action::Grant), Just(Action::Revoke)],
            prop_oneof![Just(Level::Compute), Just(Level::Load)],
            scope,
            proptest::collection::vec(arb_script(), 1..12),
            any::<u64>(),
            proptest::option::of(1..=MAX_MIN_COUNT),
        )
            .prop_map(|(action, level, scope, mut grantees, timestamp, min_count)| {
                let mut seen = HashSet::new();
                grantees.retain(|g| seen.insert(g.clone()));
                let min_count = min_count.filter(|_| action == Action::Grant);
                Payload { action, level, scope, grantees, timestamp, min_count }
            })
    }

    proptest! {
        #[test]
        fn round_trip(p in arb_payload()) {
            let bytes = p.encode().unwrap();
            prop_assert!(bytes.len() <= MAX_PAYLOAD_LEN);
            prop_assert_eq!(Payload::decode(&bytes).unwrap(), p.clone());
            // Every grantee decodes back to an address whose script is the grantee.
            for (a, g) in p.addresses().iter().zip(&p.grantees) {
                let parsed = crate::identity::parse_address(a).unwrap();
                prop_assert_eq!(&parsed, a);
                let addr: Address<bitcoin::address::NetworkUnchecked> = a.parse().unwrap();
                prop_assert_eq!(&addr.assume_checked().script_pubkey(), g);
            }
        }

        #[test]
        fn garbage_never_panics_and_decoding_is_canonical(
            bytes in proptest::collection::vec(any::<u8>(), 0..200)
        ) {
            if let Ok(p) = Payload::decode(&bytes) {
                prop_assert_eq!(p.encode().unwrap(), bytes);
            }
        }

        #[test]
        fn mutations_are_refused_or_canonical(
            p in arb_payload(), at in any::<usize>(), b in any::<u8>(), cut in any::<usize>()
        ) {
            let bytes = p.encode().unwrap();
            let mut mutated = bytes.clone();
            let i = at % mutated.len();
            mutated[i] = b;
            if let Ok(q) = Payload::decode(&mutated) {
                prop_assert_eq!(q.encode().unwrap(), mutated);
            }
            let cut = cut % bytes.len();
            prop_assert!(Payload::decode(&bytes[..cut]).is_err());
        }
    }
}
