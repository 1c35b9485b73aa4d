//! Client subcommands: the API from the command line (`enigma store '[1,2,3]'`, `enigma load KEY` …).
//!
//! Owns: turning arguments into calls on `enigma_client::Client` and printing results (keys and
//! strings plainly, everything else as JSON). Must never: talk to the network other than through the
//! node's client socket.

use crate::cli::Command;
use anyhow::{Context, bail};
use base64::Engine;
use enigma_client::Client;
use enigma_protocol::value::Value;
use serde_json::Value as Json;

fn connect(socket: &Option<String>) -> anyhow::Result<Client> {
    let endpoint = socket.clone().unwrap_or_else(Client::default_endpoint);
    Ok(Client::connect(&endpoint)?)
}

fn print_json(j: &Json) {
    match j {
        Json::String(s) => println!("{s}"),
        other => println!("{}", serde_json::to_string_pretty(other).unwrap_or_else(|_| other.to_string())),
    }
}

pub fn run(cmd: Command, socket: Option<String>) -> anyhow::Result<()> {
    let conn = &socket;
    let cmd_name = match &cmd {
        Command::Pair { .. } => "pair",
        _ => "",
    };
    match cmd {
        Command::Devnet(_) | Command::Bench(_) => anyhow::bail!("not a client command"),
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
