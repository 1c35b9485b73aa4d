//! `enigma bench placement`: the placement simulation's tables (no devnet: a pure, seeded model).
//!
//! Owns: printing what `enigma_protocol::placement::sim` measured — share balance, loss when 1 %,
//! 5 % and 10 % of the nodes vanish at once, repair traffic per lost node, lookup hops, the choice
//! of c, the Sybil attack's cost — and one figure measured on this machine: how many ed25519 peer
//! ids per second one core makes and checks against the id puzzle (what prices the puzzle in CPU
//! time). Must never: report a figure the simulation or this machine did not produce.

use super::print_table;
use enigma_protocol::placement::{puzzle, rule, sim};
use std::time::{Duration, Instant};

fn pct(x: f64) -> String {
    format!("{:.3}%", x * 100.0)
}

fn duration(secs: f64) -> String {
    if secs < 120.0 {
        format!("{secs:.1} s")
    } else if secs < 2.0 * 3600.0 {
        format!("{:.1} min", secs / 60.0)
    } else if secs < 2.0 * 86400.0 {
        format!("{:.1} h", secs / 3600.0)
    } else {
        format!("{:.1} days", secs / 86400.0)
    }
}

/// Ed25519 identities made, turned into peer ids and checked against the puzzle per second (1 core).
fn ids_per_sec() -> anyhow::Result<f64> {
    let t0 = Instant::now();
    let mut n: u64 = 0;
    let mut seed = [7u8; 32];
    while t0.elapsed() < Duration::from_millis(500) {
        seed[..8].copy_from_slice(&n.to_le_bytes());
        let mut secret = seed;
        let kp = libp2p::identity::Keypair::ed25519_from_bytes(&mut secret)?;
        let id = kp.public().to_peer_id().to_bytes();
        std::hint::black_box(puzzle::zero_bits(&id));
        n += 1;
    }
    Ok(n as f64 / t0.elapsed().as_secs_f64())
}

pub fn run(nodes: usize, keys: usize, seed: u64) -> anyhow::Result<()> {
    anyhow::ensure!(nodes >= 30, "--nodes must be at least 30 (the simulation needs c·n candidates)");
    anyhow::ensure!(keys >= 1, "--keys must be at least 1");
    let cfg = sim::Config::new(nodes, keys, seed);
    println!(
        "placement simulation: {nodes} nodes, {keys} keys, seed {seed}; rule: top n by rendezvous weight among \
         the max(n, {}) XOR-closest (one lookup's k)",
        rule::MAX_CANDIDATES
    );
    let t0 = Instant::now();
    let r = sim::run(&cfg);
    let took = t0.elapsed();

    println!(
        "\nbalance, loss before repair (mean over {} kill sets; worst; hypergeometric), repair per lost node",
        cfg.kill_trials
    );
    let mut header: Vec<String> = ["n", "t", "cands", "max/mean", "min/mean"].iter().map(|s| s.to_string()).collect();
    for f in &cfg.kill {
        header.push(format!("lost ≥t+1 @{:.0}%", f * 100.0));
    }
    header
        .extend(["keys/lost node", "sub-shares semi", "sub-shares active", "KiB semi", "KiB active"].map(String::from));
    let rows: Vec<Vec<String>> = r
        .groups
        .iter()
        .map(|g| {
            let mut row = vec![
                g.n.to_string(),
                g.t.to_string(),
                cfg.candidate_count(g.n).to_string(),
                format!("{:.3}", g.max_mean),
                format!("{:.3}", g.min_mean),
            ];
            for l in &g.loss {
                row.push(format!("{} ({}; {})", pct(l.mean), pct(l.worst), pct(l.expected)));
            }
            let kib = |subs: f64| format!("{:.1}", subs * cfg.share_bytes as f64 / 1024.0);
            row.extend([
                format!("{:.1} (max {})", g.keys_per_lost, g.keys_per_lost_max),
                format!("{:.0}", g.subshares_semi),
                format!("{:.0}", g.subshares_active),
                kib(g.subshares_semi),
                kib(g.subshares_active),
            ]);
            row
        })
        .collect();
    let header_refs: Vec<&str> = header.iter().map(|s| s.as_str()).collect();
    print_table(&header_refs, &rows);
    println!(
        "(killed: {}; repair: one refresh per key the node held, t+1 dealers (semi-honest) or the n−1 up holders \
         (active) each sending a sub-share to the n−1 others; KiB for {}-byte shares = one number)",
        r.groups
            .first()
            .map(|g| g.loss.iter().map(|l| l.killed.to_string()).collect::<Vec<_>>().join(", "))
            .unwrap_or_default(),
        cfg.share_bytes
    );

    let l = &r.lookup;
    println!(
        "\nKademlia lookups (k = {}, α = {}, settled routing tables), for the {} candidates of n = 5",
        sim::lookup::K,
        sim::lookup::ALPHA,
        l.want
    );
    print_table(
        &["lookups", "mean hops", "max hops", "peers asked", "found exact candidates", "routing table"],
        &[vec![
            l.lookups.to_string(),
            format!("{:.2}", l.mean_hops),
            l.max_hops.to_string(),
            format!("{:.1}", l.mean_queried),
            pct(l.exact),
            format!("{:.0} peers", l.table),
        ]],
    );

    println!(
        "\nchoice of c at n = 5: balance at this scale, at 100 nodes × 1,000 keys ({} seeds), and seats moved per \
         join / departure (1 = only the joining or leaving node's seats)",
        sim::SMALL_SEEDS
    );
    let rows: Vec<Vec<String>> = r
        .choice
        .iter()
        .map(|ch| {
            let (name, cands) = if ch.c == 0 {
                ("all".to_string(), "N".to_string())
            } else {
                (ch.c.to_string(), (5 * ch.c).to_string())
            };
            vec![
                name,
                cands,
                if ch.c == 0 {
                    "no: full view".into()
                } else if 5 * ch.c <= rule::MAX_CANDIDATES {
                    "yes".into()
                } else {
                    "no".into()
                },
                ch.max_mean.map(|x| format!("{x:.3}")).unwrap_or_else(|| "—".into()),
                format!("{:.2}", ch.small_median),
                format!("{:.2}", ch.small_worst),
                format!("{:.2}", ch.moves_join),
                format!("{:.2}", ch.moves_leave),
            ]
        })
        .collect();
    print_table(
        &["c", "cands", "1 lookup", "max/mean", "100-node median", "100-node worst", "moves/join", "moves/leave"],
        &rows,
    );

    let rate = ids_per_sec()?;
    println!(
        "\nSybil: ids generated to take t+1 seats of one chosen key's group (simulated mean of {} attacks; model); \
         this machine makes {rate:.0} ed25519 peer ids/s per core",
        cfg.attacks
    );
    let rows: Vec<Vec<String>> = r
        .sybil
        .iter()
        .map(|s| {
            let cpu = |d: u32| duration(puzzle_cost(s.mean_ids, d) / rate);
            vec![
                s.n.to_string(),
                s.t.to_string(),
                s.tolerance.to_string(),
                format!("{:.0}", s.mean_ids),
                format!("{:.0}", s.model),
                enigma_protocol::placement::sybil::prefixes_to_capture(s.t, 2).to_string(),
                cpu(0),
                cpu(16),
                cpu(20),
                cpu(24),
            ]
        })
        .collect();
    print_table(
        &["n", "t", "tolerance", "ids (sim)", "ids (model)", "/24s (max 2)", "d=0", "d=16", "d=20", "d=24"],
        &rows,
    );

    let s = &r.small;
    println!(
        "\nthe issue's test: 100 nodes, 1,000 keys, n = 5, t = 2, 10 killed at once ({} kill sets over 10 placements)",
        s.kill_sets
    );
    print_table(
        &["mean lost", "p10", "median", "p90", "hypergeometric"],
        &[vec![pct(s.mean), pct(s.p10), pct(s.median), pct(s.p90), pct(s.expected)]],
    );
    println!("\nsimulated in {:.1} s", took.as_secs_f64());
    Ok(())
}

fn puzzle_cost(ids: f64, d: u32) -> f64 {
    enigma_protocol::placement::sybil::keygens(ids, d)
}
