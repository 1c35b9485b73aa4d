//! The Keystore actor: the node's current user identity (secp256k1).
//!
//! Owns: the identity in memory and its persistence through [`file`]. `gen_key` and `set_privkey`
//! replace it (the previous one is archived, never lost). Must never: hand out the private key except
//! to the caller of `gen_key` (who asked for it) and to in-process signers; never log it.

pub mod file;
pub mod seal;

use actix::prelude::*;
use enigma_protocol::identity::Identity;
use seal::Passphrase;
use std::path::PathBuf;
use std::sync::Arc;

pub use file::KeyFileError;

pub struct Keystore {
    dir: PathBuf,
    pass: Option<Arc<Passphrase>>,
    identity: Identity,
}

impl Keystore {
    pub fn new(dir: PathBuf, pass: Option<Arc<Passphrase>>, identity: Identity) -> Keystore {
        Keystore { dir, pass, identity }
    }

    fn replace(&mut self, new: Identity) -> Result<(), KeyFileError> {
        if new != self.identity {
            file::replace_identity(&self.dir, self.pass.as_deref(), &self.identity, &new)?;
            tracing::info!(pubkey = %new.public_hex(), "identity replaced");
            self.identity = new;
        }
        Ok(())
    }
}

impl Actor for Keystore {
    type Context = Context<Self>;
}

impl actix::Supervised for Keystore {}

/// The current identity.
#[derive(Message)]
#[rtype(result = "Identity")]
pub struct GetIdentity;

impl Handler<GetIdentity> for Keystore {
    type Result = MessageResult<GetIdentity>;
    fn handle(&mut self, _: GetIdentity, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.identity.clone())
    }
}

/// Generates, persists and switches to a new identity.
#[derive(Message)]
#[rtype(result = "Result<Identity, KeyFileError>")]
pub struct GenKey;

impl Handler<GenKey> for Keystore {
    type Result = Result<Identity, KeyFileError>;
    fn handle(&mut self, _: GenKey, _: &mut Context<Self>) -> Self::Result {
        let new = Identity::generate(&mut rand::rng());
        self.replace(new.clone())?;
        Ok(new)
    }
}

/// Switches to a given private key (hex or WIF). `Ok(false)` if it is not a valid key.
#[derive(Message)]
#[rtype(result = "Result<bool, KeyFileError>")]
pub struct SetPrivkey(pub String);

impl Handler<SetPrivkey> for Keystore {
    type Result = Result<bool, KeyFileError>;
    fn handle(&mut self, msg: SetPrivkey, _: &mut Context<Self>) -> Self::Result {
        match Identity::parse(&msg.0) {
            Some(id) => self.replace(id).map(|_| true),
            None => Ok(false),
        }
    }
}
