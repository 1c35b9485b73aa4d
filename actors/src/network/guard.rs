//! The peer guard: per-peer limits on inbound requests, and the decision to cut a peer off.
//!
//! Owns: a token bucket per peer (request rate), the count of its requests being handled (in
//! flight), its misbehaviour score (offences add points, points decay with time) and bans (a peer
//! whose score reaches the limit is banned for a while). Pure: the swarm driver calls it and acts on
//! the answers. Must never: punish a peer for what an honest peer can do in a race (a late message to
//! an ended session, a busy answer) — only for what the protocol never produces.

use libp2p::PeerId;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Limits of the guard.
#[derive(Clone, Debug)]
pub struct GuardConfig {
    /// Sustained inbound requests per second a peer may send.
    pub rate_per_sec: f64,
    /// Requests a peer may send in a burst above the rate.
    pub burst: f64,
    /// Requests of one peer being handled at once; more are refused as busy.
    pub max_in_flight: usize,
    /// Score at which a peer is banned.
    pub ban_score: f64,
    /// Points forgiven per second.
    pub decay_per_sec: f64,
    /// How long a ban lasts.
    pub ban_for: Duration,
}

impl Default for GuardConfig {
    fn default() -> GuardConfig {
        GuardConfig {
            rate_per_sec: 2500.0,
            burst: 5000.0,
            max_in_flight: 256,
            ban_score: 32.0,
            decay_per_sec: 1.0,
            ban_for: Duration::from_secs(600),
        }
    }
}

/// Something a peer did that honest peers do not do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offence {
    /// A frame that does not decode as a request.
    Malformed,
    /// A frame over the size limit, or one that breaks the framing.
    BadFrame,
    /// A well-formed request the protocol never sends (forged signature, replay, traffic for a
    /// session that never existed or from a non-participant).
    Refused,
    /// A request over the rate limit.
    Flood,
}

impl Offence {
    fn points(self) -> f64 {
        match self {
            Offence::Malformed => 4.0,
            Offence::BadFrame => 8.0,
            Offence::Refused => 1.0,
            Offence::Flood => 0.05,
        }
    }
}

/// The answer to an inbound request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    Serve,
    /// Over the rate or in-flight limit: refuse this one.
    Busy,
    /// The peer is banned: refuse, and make sure it is disconnected.
    Banned,
}

#[derive(Debug)]
struct PeerState {
    tokens: f64,
    in_flight: usize,
    score: f64,
    last: Instant,
}

#[derive(Debug)]
pub struct PeerGuard {
    cfg: GuardConfig,
    peers: HashMap<PeerId, PeerState>,
    banned: HashMap<PeerId, Instant>,
}

impl PeerGuard {
    pub fn new(cfg: GuardConfig) -> PeerGuard {
        PeerGuard { cfg, peers: HashMap::new(), banned: HashMap::new() }
    }

    fn state(&mut self, peer: PeerId, now: Instant) -> &mut PeerState {
        let cfg = &self.cfg;
        let s = self.peers.entry(peer).or_insert(PeerState { tokens: cfg.burst, in_flight: 0, score: 0.0, last: now });
        let dt = now.saturating_duration_since(s.last).as_secs_f64();
        s.tokens = (s.tokens + dt * cfg.rate_per_sec).min(cfg.burst);
        s.score = (s.score - dt * cfg.decay_per_sec).max(0.0);
        s.last = now;
        s
    }

    pub fn is_banned(&self, peer: &PeerId, now: Instant) -> bool {
        self.banned.get(peer).is_some_and(|until| *until > now)
    }

    /// An inbound request from `peer` arrived.
    pub fn admit(&mut self, peer: PeerId, now: Instant) -> (Admission, bool) {
        if self.is_banned(&peer, now) {
            return (Admission::Banned, false);
        }
        let max_in_flight = self.cfg.max_in_flight;
        let s = self.state(peer, now);
        if s.tokens < 1.0 {
            let newly_banned = self.offence(peer, Offence::Flood, now);
            return (if newly_banned { Admission::Banned } else { Admission::Busy }, newly_banned);
        }
        if s.in_flight >= max_in_flight {
            return (Admission::Busy, false);
        }
        s.tokens -= 1.0;
        s.in_flight += 1;
        (Admission::Serve, false)
    }

    /// A request admitted with [`Admission::Serve`] has been answered.
    pub fn done(&mut self, peer: PeerId) {
        if let Some(s) = self.peers.get_mut(&peer) {
            s.in_flight = s.in_flight.saturating_sub(1);
        }
    }

    /// Records an offence; `true` when it makes the peer banned (it was not before).
    pub fn offence(&mut self, peer: PeerId, what: Offence, now: Instant) -> bool {
        if self.is_banned(&peer, now) {
            return false;
        }
        let limit = self.cfg.ban_score;
        let s = self.state(peer, now);
        s.score += what.points();
        if s.score >= limit {
            s.score = 0.0;
            self.banned.insert(peer, now + self.cfg.ban_for);
            return true;
        }
        false
    }

    /// Bans that have run out (the peers may connect again), and forgets peers with nothing to
    /// remember so the table stays as small as the set of active peers.
    pub fn expire(&mut self, now: Instant) -> Vec<PeerId> {
        let ended: Vec<PeerId> = self.banned.iter().filter(|(_, until)| **until <= now).map(|(p, _)| *p).collect();
        for p in &ended {
            self.banned.remove(p);
        }
        let cfg = self.cfg.clone();
        self.peers.retain(|_, s| {
            let dt = now.saturating_duration_since(s.last).as_secs_f64();
            s.in_flight > 0 || s.score - dt * cfg.decay_per_sec > 0.0 || dt < 60.0
        });
        ended
    }

    /// Peers banned now.
    pub fn banned(&self, now: Instant) -> Vec<PeerId> {
        self.banned.iter().filter(|(_, until)| **until > now).map(|(p, _)| *p).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> GuardConfig {
        GuardConfig {
            rate_per_sec: 10.0,
            burst: 20.0,
            max_in_flight: 5,
            ban_score: 8.0,
            decay_per_sec: 1.0,
            ban_for: Duration::from_secs(60),
        }
    }

    #[test]
    fn rate_and_in_flight_limits_refuse_without_banning_a_busy_honest_peer() {
        let mut g = PeerGuard::new(cfg());
        let p = PeerId::random();
        let t0 = Instant::now();
        for _ in 0..5 {
            assert_eq!(g.admit(p, t0).0, Admission::Serve);
        }
        assert_eq!(g.admit(p, t0).0, Admission::Busy, "in-flight limit");
        for _ in 0..5 {
            g.done(p);
        }
        for _ in 0..15 {
            assert_eq!(g.admit(p, t0).0, Admission::Serve);
            g.done(p);
        }
        assert_eq!(g.admit(p, t0).0, Admission::Busy, "burst used up");
        // the bucket refills at the rate
        assert_eq!(g.admit(p, t0 + Duration::from_millis(150)).0, Admission::Serve);
        assert!(g.banned(t0).is_empty());
    }

    #[test]
    fn offences_ban_and_bans_expire() {
        let mut g = PeerGuard::new(cfg());
        let (bad, good) = (PeerId::random(), PeerId::random());
        let t0 = Instant::now();
        assert!(!g.offence(bad, Offence::Malformed, t0));
        assert!(g.offence(bad, Offence::Malformed, t0), "8 points reach the limit");
        assert_eq!(g.admit(bad, t0).0, Admission::Banned);
        assert_eq!(g.admit(good, t0).0, Admission::Serve, "others are unaffected");
        assert_eq!(g.banned(t0), vec![bad]);
        assert!(g.expire(t0 + Duration::from_secs(30)).is_empty());
        assert_eq!(g.expire(t0 + Duration::from_secs(61)), vec![bad]);
        assert_eq!(g.admit(bad, t0 + Duration::from_secs(61)).0, Admission::Serve);
    }

    #[test]
    fn scores_decay_so_rare_mistakes_never_add_up() {
        let mut g = PeerGuard::new(cfg());
        let p = PeerId::random();
        let t0 = Instant::now();
        for i in 0..100 {
            assert!(!g.offence(p, Offence::Refused, t0 + Duration::from_secs(2 * i)));
        }
        assert!(g.banned(t0 + Duration::from_secs(200)).is_empty());
    }

    #[test]
    fn a_flood_ends_in_a_ban() {
        let mut g = PeerGuard::new(cfg());
        let p = PeerId::random();
        let t0 = Instant::now();
        let mut banned_at = None;
        for i in 0..1000 {
            let (a, newly) = g.admit(p, t0);
            if a == Admission::Serve {
                g.done(p);
            }
            if newly {
                banned_at = Some(i);
                break;
            }
        }
        assert!(banned_at.is_some_and(|i| i > 20), "banned after the burst, at {banned_at:?}");
        assert_eq!(g.admit(p, t0).0, Admission::Banned);
    }
}
