//! Benchmarks (`enigma bench …`): commands that start a real devnet (or, for `placement`, run the
//! pure simulation) and print a table.
//!
//! Owns: measuring and printing; one file per benchmark. Must never: be part of the test suite
//! (performance is measured here, not asserted in tests).

pub mod load;
pub mod mpc;
pub mod placement;
pub mod storage;

use std::time::Duration;

/// Formats a rate.
pub fn rate(n: f64, d: Duration) -> f64 {
    n / d.as_secs_f64().max(1e-9)
}

/// Prints a table: a header row and rows of cells, columns padded.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.len());
        }
    }
    let line = |cells: Vec<String>| {
        cells.iter().enumerate().map(|(i, c)| format!("{:<w$}", c, w = widths[i])).collect::<Vec<_>>().join("  ")
    };
    println!("{}", line(header.iter().map(|s| s.to_string()).collect()));
    println!("{}", widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  "));
    for r in rows {
        println!("{}", line(r.clone()));
    }
}
