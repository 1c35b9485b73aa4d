//! Share repair under churn: holders die one at a time (and fresh nodes join), each pause longer
//! than the repair grace period, until only t+1 of the original nodes are up. Every key must still
//! load, and every custody group must be back to n live holders. Real node processes on 127.0.0.1.

mod support;

use serde_json::json;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use support::{Cluster, Opts, wait_for};

const KEYS: usize = 100;
const GRACE_SECS: u64 = 2;

#[test]
fn keys_survive_holders_dying_one_at_a_time_and_groups_return_to_n() {
    let mut c = Cluster::start(Opts {
        nodes: 7,
        group_size: 5,
        extra: vec!["--repair-grace-secs".into(), GRACE_SECS.to_string()],
    });
    let mut owner = c.client(0);
    let mut keys = Vec::with_capacity(KEYS);
    for i in 0..KEYS {
        let v = if i % 3 == 0 { json!(i as i64 * 1000 - 7) } else { json!([i, i * 2, i * 3]) };
        keys.push((owner.store_json(v.clone()).unwrap(), v));
    }
    let t0 = Instant::now();
    // t = 2 of n = 5: stop when t + 1 = 3 of the 7 originals are up (node 0, the owner's, among them)
    for victim in [1, 2, 3, 4] {
        c.kill(victim);
        let joined = c.add_node();
        c.wait_full_mesh();
        let live: HashSet<String> = c.nodes.iter().filter(|n| n.is_running()).map(|n| n.peer_id.clone()).collect();
        wait_for(
            &format!("every group to be back to 5 live holders after node {victim} died"),
            Duration::from_secs(180),
            || {
                let mut cl = c.client(0);
                for (k, _) in &keys {
                    let m = cl.call("manifest", json!({ "key": k })).ok()?;
                    let holders: Vec<&str> =
                        m["holders"].as_array()?.iter().filter_map(|h| h["peer_id"].as_str()).collect();
                    if holders.len() != 5 || !holders.iter().all(|h| live.contains(*h)) {
                        return None;
                    }
                }
                Some(())
            },
        );
        println!(
            "node {victim} died, node {joined} joined: all {KEYS} keys repaired ({:?} since the start)",
            t0.elapsed()
        );
    }
    let mut owner = c.client(0);
    let mut repaired = 0;
    for (k, v) in &keys {
        assert_eq!(&owner.load(k).unwrap().to_json(), v, "key {k}");
        let m = owner.call("manifest", json!({ "key": k })).unwrap();
        if m["repaired"] == json!(true) {
            repaired += 1;
        }
    }
    assert!(repaired > 0, "some keys needed repair");
    // a computation on repaired keys works too
    let (k, _) = keys.iter().find(|(_, v)| v.is_array()).unwrap();
    assert!(owner.call("stats.mean", json!([k])).is_ok());
    println!("{repaired} of {KEYS} keys were repaired at least once; all load");
}

#[test]
fn a_returning_holder_drops_its_stale_share() {
    let mut c = Cluster::start(Opts {
        nodes: 6,
        group_size: 5,
        extra: vec!["--repair-grace-secs".into(), GRACE_SECS.to_string()],
    });
    let mut owner = c.client(0);
    let key = owner.store_json(json!([4, 5, 6])).unwrap();
    let m = owner.call("manifest", json!({ "key": key })).unwrap();
    let holders: Vec<String> =
        m["holders"].as_array().unwrap().iter().map(|h| h["peer_id"].as_str().unwrap().to_string()).collect();
    // a holder other than node 0 goes away long enough to be replaced by the sixth node
    let victim = (1..6).find(|&i| holders.contains(&c.nodes[i].peer_id)).unwrap();
    c.kill(victim);
    wait_for("the key to be repaired", Duration::from_secs(60), || {
        let m = c.client(0).call("manifest", json!({ "key": key })).ok()?;
        (m["epoch"].as_u64()? >= 1).then_some(())
    });
    c.restart(victim);
    c.wait_full_mesh();
    wait_for("the returning holder to drop its stale share", Duration::from_secs(30), || {
        (c.held(victim) == 0).then_some(())
    });
    assert_eq!(c.client(0).load(&key).unwrap().to_json(), json!([4, 5, 6]));
}

#[test]
fn proactive_refresh_gives_every_key_a_new_polynomial_on_the_same_holders() {
    let c = Cluster::start(Opts {
        nodes: 5,
        group_size: 5,
        // (a short grace makes the custody scan run every second)
        extra: vec!["--refresh-interval-secs".into(), "1".into(), "--repair-grace-secs".into(), GRACE_SECS.to_string()],
    });
    let mut owner = c.client(0);
    let values = [json!([1.25, 2.5, 3.75]), json!(42), json!("text is shared too")];
    let keys: Vec<String> = values.iter().map(|v| owner.store_json(v.clone()).unwrap()).collect();
    let holders_of = |m: &serde_json::Value| -> HashSet<String> {
        m["holders"].as_array().unwrap().iter().map(|h| h["peer_id"].as_str().unwrap().to_string()).collect()
    };
    let before: Vec<HashSet<String>> =
        keys.iter().map(|k| holders_of(&owner.call("manifest", json!({ "key": k })).unwrap())).collect();
    // every key is refreshed at least twice (epoch 2), by the holders alone
    for (k, holders) in keys.iter().zip(&before) {
        let m = wait_for("two refreshes of every key", Duration::from_secs(60), || {
            let m = c.client(0).call("manifest", json!({ "key": k })).ok()?;
            (m["epoch"].as_u64()? >= 2).then_some(m)
        });
        assert_eq!(&holders_of(&m), holders, "a refresh keeps the group");
    }
    // and the data is intact, for loads and for computations
    for (k, v) in keys.iter().zip(&values) {
        assert_eq!(owner.load(k).unwrap().to_json(), *v);
    }
    let mean = owner.call("stats.mean", json!({ "keys": [keys[0]] })).unwrap();
    assert!((mean[0].as_f64().unwrap() - 2.5).abs() < 1e-4, "{mean}");
    for i in 0..5 {
        assert_eq!(c.held(i), 3, "node {i} holds one share of each key, no stale copies");
    }
}
