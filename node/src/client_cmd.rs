//! Client subcommands: the API from the command line (`enigma store '[1,2,3]'`, `enigma load KEY` …).
//!
//! Owns: turning arguments into calls on `enigma_client::Client` and printing results (keys and
//! strings plainly, everything else as JSON). Must never: talk to the network other than through the
//! node's client socket.

use crate::cli::Command;
use anyhow::{Context, bail};
use base64::Engine;
use enigma_client::{Client, TcpAuth};
use enigma_protocol::value::Value;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

/// Where and how the client commands connect.
pub struct Target {
    pub socket: Option<String>,
    /// `--rpc-cookie`: the token's file (else the environment, else `<data-dir>/rpc.cookie`).
    pub cookie: Option<PathBuf>,
    /// `--rpc-fingerprint`: TLS with this pinned certificate (else `$ENIGMA_RPC_FINGERPRINT`).
    pub fingerprint: Option<String>,
}

fn connect(target: &Target) -> anyhow::Result<Client> {
    let endpoint = target.socket.clone().unwrap_or_else(Client::default_endpoint);
    if !enigma_client::is_tcp_endpoint(&endpoint) {
        return Ok(Client::connect(&endpoint)?);
    }
    let auth = TcpAuth::resolve(target.cookie.as_deref(), target.fingerprint.as_deref())?;
    Ok(Client::connect_with(&endpoint, &auth)?)
}

/// `enigma rpc-env`: the credential of the node in `dir`, as environment lines for a client elsewhere.
fn rpc_env(dir: &Path) -> anyhow::Result<()> {
    let info_path = dir.join(crate::run::INFO_FILE);
    let text = std::fs::read_to_string(&info_path)
        .with_context(|| format!("reading {} (has the node in {} started?)", info_path.display(), dir.display()))?;
    let info: Json = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", info_path.display()))?;
    if info["rpc"].is_null() {
        bail!("the node in {} does not serve the client API on TCP (start it with --rpc ADDR)", dir.display());
    }
    match info["rpc_auth"].as_str() {
        Some("cookie") => {
            let cookie = dir.join(enigma_client::COOKIE_FILE);
            println!("ENIGMA_RPC_TOKEN={}", TcpAuth::read_token_file(&cookie)?);
        }
        Some("none") => {}
        _ => bail!("the node in {} takes its token from --rpc-token-file: use that file", dir.display()),
    }
    if let Some(fp) = info["rpc_tls_fingerprint"].as_str() {
        println!("ENIGMA_RPC_FINGERPRINT={fp}");
    }
    Ok(())
}

fn print_json(j: &Json) {
    match j {
        Json::String(s) => println!("{s}"),
        other => println!("{}", serde_json::to_string_pretty(other).unwrap_or_else(|_| other.to_string())),
    }
}

pub fn run(cmd: Command, target: Target) -> anyhow::Result<()> {
    let conn = &target;
    let cmd_name = match &cmd {
        Command::Pair { .. } => "pair",
        _ => "",
    };
    match cmd {
        Command::Devnet(_) | Command::Bench(_) => anyhow::bail!("not a client command"),
        Command::RpcEnv { data_dir } => rpc_env(&data_dir.unwrap_or_else(crate::run::default_data_dir))?,
        Command::GenKey => {
            let (sk, pk) = connect(conn)?.gen_key()?;
            println!("private_key {sk}\npublic_key  {pk}");
        }
        Command::GetPubkey => println!("{}", connect(conn)?.get_pubkey()?),
        Command::GetAddress => println!("{}", connect(conn)?.get_address()?),
        Command::SetPrivkey { privkey, .. } => {
            println!("{}", connect(conn)?.set_privkey(&privkey)?)
        }
        Command::Store { data, file, store_as, .. } => {
            let mut client = connect(conn)?;
            let key = if let Some(path) = file {
                let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                client.store(&Value::Bytes(bytes))?
            } else {
                let Some(text) = data else { bail!("give the data as JSON, or --file PATH") };
                match store_as.as_str() {
                    "string" => client.store(&Value::String(text))?,
                    "auto" | "json" => {
                        let j: Json = serde_json::from_str(&text).with_context(|| {
                            format!("{text:?} is not JSON (quote strings: '\"text\"', or use --as string)")
                        })?;
                        if store_as == "json" { client.store(&Value::Json(j))? } else { client.store_json(j)? }
                    }
                    other => bail!("--as must be auto, json or string, not {other:?}"),
                }
            };
            println!("{key}");
        }
        Command::Load { key, out, .. } => {
            let v = connect(conn)?.load(&key)?;
            match (v, out) {
                (Value::Bytes(b), Some(path)) => {
                    std::fs::write(&path, b).with_context(|| format!("writing {}", path.display()))?
                }
                (Value::Bytes(b), None) => {
                    println!("{}", base64::engine::general_purpose::STANDARD.encode(b))
                }
                (other, _) => print_json(&other.to_json()),
            }
        }
        Command::Delete { key, .. } => println!("{}", connect(conn)?.delete(&key)?),
        Command::Pair { addresses, keys, level, .. } | Command::Revoke { addresses, keys, level, .. } => {
            let method = if matches!(cmd_name, "pair") { "pair" } else { "revoke" };
            let mut params = serde_json::json!({ "addresses": addresses });
            if !keys.is_empty() {
                params["keys"] = serde_json::json!(keys);
            }
            if let Some(l) = level {
                params["level"] = serde_json::json!(l);
            }
            print_json(&connect(conn)?.call(method, params)?);
        }
        Command::Policy => print_json(&connect(conn)?.call("policy", serde_json::json!({}))?),
        Command::LedgerTx { txid, .. } => {
            print_json(&connect(conn)?.call("ledger_tx", serde_json::json!({"txid": txid}))?)
        }
        Command::AccessLog { key, .. } => {
            print_json(&connect(conn)?.call("access_log", serde_json::json!({"key": key}))?)
        }
        Command::Peers => {
            for p in connect(conn)?.peers()? {
                println!("{p}");
            }
        }
        Command::Status => print_json(&connect(conn)?.status()?),
        Command::Call { method, params, .. } => {
            let params: Json =
                serde_json::from_str(&params).with_context(|| format!("params {params:?} are not JSON"))?;
            print_json(&connect(conn)?.call(&method, params)?);
        }
    }
    Ok(())
}
