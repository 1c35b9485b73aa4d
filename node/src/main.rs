//! The `enigma` binary: parses the command line and hands over to the module that does the work.
//! Errors end here (anyhow at the binary's edge).

mod bench;
mod cli;
mod client_cmd;
mod datafile;
mod demo;
mod devnet;
mod http;
mod metrics;
mod resolve;
mod rpc;
mod run;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        None => run::run(cli.run),
        Some(cli::Command::Devnet(args)) => devnet::run(args),
        Some(cli::Command::Bench(cli::BenchCmd::Storage { nodes, quick })) => bench::storage::run(nodes, quick),
        Some(cli::Command::Bench(cli::BenchCmd::Mpc { quick, toolbox: true, hist_n, security, .. })) => {
            bench::mpc::toolbox(quick, hist_n, security.as_deref());
            Ok(())
        }
        Some(cli::Command::Bench(cli::BenchCmd::Mpc { quick, wan, .. })) => bench::mpc::run(quick, wan),
        Some(cli::Command::Bench(cli::BenchCmd::Placement { nodes, keys, seed })) => {
            bench::placement::run(nodes, keys, seed)
        }
        Some(cli::Command::Bench(cli::BenchCmd::Load { nodes, clients, secs })) => {
            bench::load::run(nodes, clients, secs)
        }
        Some(cmd) => client_cmd::run(
            cmd,
            client_cmd::Opts {
                target: client_cmd::Target {
                    socket: cli.socket,
                    cookie: cli.rpc_cookie,
                    fingerprint: cli.rpc_fingerprint,
                },
                format: cli.format,
                progress: cli.progress,
            },
        ),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("enigma: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
