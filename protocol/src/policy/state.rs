//! Policy evaluation: the access rights that result from applying each owner's policy chain, and
//! the answer to "may this requester use this key at this level?".
//!
//! Owns: the semantics of grant and revoke (pointwise over the owner's keys, see below and
//! `docs/ledger.md`), matching requesters to grantees by scriptPubKey, and the listing of current
//! grants for `enigma.policy()`.
//! Must never: validate signatures or chain links itself (it applies only [`ValidTx`]s, in chain
//! order), know which keys exist or who owns them (the caller passes the owner from the signed
//! manifest), or do I/O.
//!
//! Semantics. For one owner and one grantee script, the rights are a function
//! `f: data key → {none < compute < load}`, initially `none` everywhere. A change with scope `S`
//! (all keys — present and future — or a list) and level `L` does, for every key `k` in `S`:
//! - grant:  `f(k) = max(f(k), L)` — grants only add;
//! - revoke: `f(k) = min(f(k), below(L))` where `below(load) = compute`, `below(compute) = none` —
//!   revoking `load` leaves `compute`, revoking `compute` removes all access.
//!
//! Keys outside `S` are untouched. So a scoped revoke also carves its keys out of an earlier
//! all-keys grant, a later grant restores them, and a revoke without scope at level `compute`
//! removes everything that address had from this owner. A requester may use `k` at level `L'`
//! iff it is the owner, or `f(k) ≥ L'` for one of the scripts its key controls.

use super::chain::ValidTx;
use super::error::PolicyError;
use super::payload::{Action, DEFAULT_MIN_COUNT, DataKey, Level, Scope, script_address};
use crate::identity::{PubkeyBytes, secp};
use bitcoin::{Address, CompressedPublicKey, NetworkKind, ScriptBuf, Txid, XOnlyPublicKey};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

/// A grantee's rights under one owner: `default` for every key not in `overrides`, and the
/// `min_count` of the owner's latest grant to it that set one (for all its compute access).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Rights {
    default: Option<Level>,
    overrides: BTreeMap<DataKey, Option<Level>>,
    min_count: Option<u32>,
}

impl Rights {
    fn level(&self, key: &DataKey) -> Option<Level> {
        self.overrides.get(key).copied().unwrap_or(self.default)
    }

    fn apply(&mut self, action: Action, level: Level, scope: &Scope) {
        let op = |x: Option<Level>| match action {
            Action::Grant => x.max(Some(level)),
            Action::Revoke => x.min(below(level)),
        };
        match scope {
            Scope::All => {
                self.default = op(self.default);
                for v in self.overrides.values_mut() {
                    *v = op(*v);
                }
            }
            Scope::Keys(keys) => {
                for k in keys {
                    let v = op(self.level(k));
                    self.overrides.insert(*k, v);
                }
            }
        }
        let default = self.default;
        self.overrides.retain(|_, v| *v != default);
    }

    fn is_empty(&self) -> bool {
        self.default.is_none() && self.overrides.is_empty()
    }
}

fn below(level: Level) -> Option<Level> {
    match level {
        Level::Load => Some(Level::Compute),
        Level::Compute => None,
    }
}

#[derive(Debug, Clone, Default)]
struct OwnerPolicy {
    tip: Option<Txid>,
    grantees: BTreeMap<ScriptBuf, Rights>,
}

/// One line of `enigma.policy()`: `address` may use `scope` (minus `except`) at exactly `level`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The grantee's mainnet address, as the owner gave it (canonical form).
    pub address: String,
    pub level: Level,
    pub scope: Scope,
    /// With `Scope::All`: keys where this address has a different level (listed on another line
    /// with that level, or nowhere if it has none). Always empty with `Scope::Keys`.
    pub except: Vec<DataKey>,
    /// The fewest of the owner's values an aggregate under this grant must cover.
    pub min_count: u32,
}

impl Grant {
    /// `{"address", "level", "scope": "all" | [key hex…], "except": [key hex…]}` (`except` only
    /// when non-empty).
    pub fn to_json(&self) -> Value {
        let scope = match &self.scope {
            Scope::All => json!("all"),
            Scope::Keys(keys) => json!(keys.iter().map(DataKey::to_hex).collect::<Vec<_>>()),
        };
        let mut v = json!({
            "address": self.address,
            "level": self.level.as_str(),
            "scope": scope,
            "min_count": self.min_count,
        });
        if !self.except.is_empty() {
            v["except"] = json!(self.except.iter().map(DataKey::to_hex).collect::<Vec<_>>());
        }
        v
    }
}

/// The scriptPubKeys a public key controls on its own, and which therefore match grants to it:
/// P2PKH, P2SH-P2WPKH and P2WPKH (the addresses of `identity::addresses_of`) and the BIP86
/// key-path P2TR address (a single-key Taproot wallet's `bc1p…`).
pub fn requester_scripts(pubkey: &PubkeyBytes) -> Vec<ScriptBuf> {
    let Ok(pk) = CompressedPublicKey::from_slice(pubkey) else {
        return vec![];
    };
    vec![
        ScriptBuf::new_p2pkh(&pk.pubkey_hash()),
        Address::p2shwpkh(&pk, NetworkKind::Main).script_pubkey(),
        ScriptBuf::new_p2wpkh(&pk.wpubkey_hash()),
        ScriptBuf::new_p2tr(secp(), XOnlyPublicKey::from(pk.0), None),
    ]
}

/// Access rights of every owner, from their policy chains applied in order.
#[derive(Debug, Clone, Default)]
pub struct PolicyState {
    owners: HashMap<PubkeyBytes, OwnerPolicy>,
}

impl PolicyState {
    /// No owner has granted anything.
    pub fn new() -> PolicyState {
        PolicyState::default()
    }

    /// Applies the next transaction of its owner's chain. Refuses (and changes nothing) a
    /// transaction whose `prev` is not the last one applied for that owner.
    pub fn apply(&mut self, tx: &ValidTx) -> Result<(), PolicyError> {
        let policy = self.owners.entry(tx.owner).or_default();
        if policy.tip != tx.prev {
            return Err(PolicyError::BrokenLink {
                txid: tx.txid,
                reason: match policy.tip {
                    Some(t) => format!("the last applied transaction of its owner is {t}"),
                    None => "no transaction of its owner has been applied yet".to_string(),
                },
            });
        }
        let p = &tx.payload;
        for script in &p.grantees {
            let rights = policy.grantees.entry(script.clone()).or_default();
            rights.apply(p.action, p.level, &p.scope);
            if p.min_count.is_some() {
                rights.min_count = p.min_count;
            }
            if rights.is_empty() {
                policy.grantees.remove(script);
            }
        }
        policy.tip = Some(tx.txid);
        Ok(())
    }

    /// The last applied transaction of `owner`.
    pub fn tip(&self, owner: &PubkeyBytes) -> Option<Txid> {
        self.owners.get(owner).and_then(|p| p.tip)
    }

    /// Whether the holder of `requester` may use `owner`'s data `key` at `level`: the owner
    /// always may; anyone else iff one of its [`requester_scripts`] is granted at least `level`
    /// on `key`.
    pub fn may(&self, owner: &PubkeyBytes, requester: &PubkeyBytes, key: &DataKey, level: Level) -> bool {
        owner == requester || requester_scripts(requester).iter().any(|s| self.may_script(owner, s, key, level))
    }

    /// What `requester` holds on `owner`'s `key`: the highest level any of its scripts holds, and
    /// the strictest (largest) `min_count` among the scripts that hold any level (the owner's latest
    /// word per script, [`DEFAULT_MIN_COUNT`] when it set none). `None` when it holds nothing. The
    /// owner holds `Load` on its own keys with no minimum.
    pub fn terms(&self, owner: &PubkeyBytes, requester: &PubkeyBytes, key: &DataKey) -> Option<(Level, u32)> {
        if owner == requester {
            return Some((Level::Load, 1));
        }
        let policy = self.owners.get(owner)?;
        let mut best: Option<(Level, u32)> = None;
        for s in requester_scripts(requester) {
            let Some(r) = policy.grantees.get(&s) else { continue };
            let Some(level) = r.level(key) else { continue };
            let min = r.min_count.unwrap_or(DEFAULT_MIN_COUNT);
            best = Some(match best {
                None => (level, min),
                Some((l, m)) => (l.max(level), m.max(min)),
            });
        }
        best
    }

    /// Whether the grantee `script` (a scriptPubKey) holds at least `level` on `owner`'s `key`.
    pub fn may_script(&self, owner: &PubkeyBytes, script: &ScriptBuf, key: &DataKey, level: Level) -> bool {
        self.owners
            .get(owner)
            .and_then(|p| p.grantees.get(script))
            .and_then(|r| r.level(key))
            .is_some_and(|l| l >= level)
    }

    /// The current grants of `owner`, by grantee script order, at most two lines per address
    /// (one per level), each naming exactly the keys held at that level.
    pub fn grants(&self, owner: &PubkeyBytes) -> Vec<Grant> {
        let Some(policy) = self.owners.get(owner) else {
            return vec![];
        };
        let mut out = Vec::new();
        for (script, rights) in &policy.grantees {
            let address = script_address(script).unwrap_or_else(|| hex::encode(script.as_bytes()));
            let min_count = rights.min_count.unwrap_or(DEFAULT_MIN_COUNT);
            for level in [Level::Load, Level::Compute] {
                if rights.default == Some(level) {
                    out.push(Grant {
                        address: address.clone(),
                        level,
                        scope: Scope::All,
                        except: rights.overrides.keys().copied().collect(),
                        min_count,
                    });
                } else {
                    let keys: Vec<DataKey> =
                        rights.overrides.iter().filter(|(_, v)| **v == Some(level)).map(|(k, _)| *k).collect();
                    if !keys.is_empty() {
                        out.push(Grant {
                            address: address.clone(),
                            level,
                            scope: Scope::Keys(keys),
                            except: vec![],
                            min_count,
                        });
                    }
                }
            }
        }
        out
    }

    /// [`PolicyState::grants`] as a JSON array.
    pub fn grants_json(&self, owner: &PubkeyBytes) -> Value {
        Value::Array(self.grants(owner).iter().map(Grant::to_json).collect())
    }
}
