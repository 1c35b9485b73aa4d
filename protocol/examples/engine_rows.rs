//! The engine table of `enigma bench mpc` on its own, for before/after comparisons of one change:
//! `cargo run --release -p enigma-protocol --example engine_rows -- N T SIZE active|semi`.

use enigma_protocol::mpc::{Security, bench};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let security = match args.get(3).map(String::as_str) {
        Some("semi") => Security::SemiHonest,
        _ => Security::Active,
    };
    println!("{}", bench::run_in_memory(num(0, 3), num(1, 1), num(2, 100_000), security));
}
