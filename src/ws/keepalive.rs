//! Keeping a WebSocket server's upgraded connections honest on a box that runs for months: an
//! idle timeout (nothing at all received — messages, pings, pongs — for that long closes the
//! connection with 1001) and an optional automatic ping (a connection quiet for
//! `ping_interval` is pinged, and one that does not answer with a pong within `ping_timeout`
//! is dropped: a peer that vanished without a FIN never lingers until the cap). This file holds
//! the settings and the decision for one connection; the socket table's sweep timer
//! (`src/sockets/ws_ops.rs`) applies it to every client of a server.

use std::time::{Duration, Instant};

/// Default idle timeout of an upgraded connection.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(600);
/// Default time a quiet connection waits before it is pinged.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(30);

/// A server's keep-alive settings (`websocket_server_start` options).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Keepalive {
    /// Close a connection that received nothing for this long (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// Ping a connection that received nothing for this long (`None`: no pings).
    pub ping_interval: Option<Duration>,
    /// How long a ping may go unanswered before the connection is dropped.
    pub ping_timeout: Duration,
}

impl Default for Keepalive {
    fn default() -> Self {
        Keepalive {
            idle_timeout: Some(DEFAULT_IDLE),
            ping_interval: Some(DEFAULT_PING_INTERVAL),
            ping_timeout: DEFAULT_PING_INTERVAL,
        }
    }
}

/// What one connection needs now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Fine,
    /// Quiet for `ping_interval`, no ping outstanding: send one.
    Ping,
    /// Nothing received for `idle_timeout`: close it (1001).
    Idle,
    /// A ping went unanswered for `ping_timeout`: drop it.
    NoPong,
}

/// When a connection last heard from its peer and whether a ping is outstanding.
#[derive(Debug, Clone, Copy)]
pub struct Liveness {
    pub last_received: Instant,
    pub ping_sent: Option<Instant>,
}

impl Liveness {
    /// A connection that has just been heard from.
    pub fn new(now: Instant) -> Liveness {
        Liveness {
            last_received: now,
            ping_sent: None,
        }
    }
}

impl Keepalive {
    /// The decision for a connection with `live` at `now`.
    pub fn check(&self, live: &Liveness, now: Instant) -> Check {
        let quiet = now.saturating_duration_since(live.last_received);
        if let Some(sent) = live.ping_sent
            && now.saturating_duration_since(sent) >= self.ping_timeout
        {
            return Check::NoPong;
        }
        if self.idle_timeout.is_some_and(|idle| quiet >= idle) {
            return Check::Idle;
        }
        match self.ping_interval {
            Some(interval) if live.ping_sent.is_none() && quiet >= interval => Check::Ping,
            _ => Check::Fine,
        }
    }

    /// Seconds between sweeps: a quarter of the shortest limit, between 50 ms and 1 s.
    pub fn sweep_period(&self) -> f64 {
        [
            self.idle_timeout,
            self.ping_interval,
            Some(self.ping_timeout),
        ]
        .into_iter()
        .flatten()
        .min()
        .map_or(1.0, |shortest| shortest.as_secs_f64() / 4.0)
        .clamp(0.05, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn settings(idle: u64, ping: u64, timeout: u64) -> Keepalive {
        Keepalive {
            idle_timeout: (idle > 0).then(|| S * idle as u32),
            ping_interval: (ping > 0).then(|| S * ping as u32),
            ping_timeout: S * timeout as u32,
        }
    }

    #[test]
    fn a_quiet_connection_is_pinged_then_dropped_if_no_pong_comes() {
        let start = Instant::now();
        let keepalive = settings(0, 2, 3);
        let mut live = Liveness::new(start);
        assert_eq!(keepalive.check(&live, start + S), Check::Fine);
        assert_eq!(keepalive.check(&live, start + 2 * S), Check::Ping);
        live.ping_sent = Some(start + 2 * S);
        assert_eq!(keepalive.check(&live, start + 4 * S), Check::Fine);
        assert_eq!(keepalive.check(&live, start + 5 * S), Check::NoPong);
    }

    #[test]
    fn without_pings_a_connection_quiet_for_the_idle_timeout_is_closed() {
        let start = Instant::now();
        let keepalive = settings(5, 0, 3);
        let live = Liveness::new(start);
        assert_eq!(keepalive.check(&live, start + 4 * S), Check::Fine);
        assert_eq!(keepalive.check(&live, start + 5 * S), Check::Idle);
    }

    #[test]
    fn the_sweep_runs_four_times_per_shortest_limit_within_bounds() {
        assert_eq!(settings(0, 0, 2).sweep_period(), 0.5);
        assert_eq!(settings(600, 30, 30).sweep_period(), 1.0);
        assert_eq!(settings(0, 0, 0).sweep_period(), 0.05);
    }
}
