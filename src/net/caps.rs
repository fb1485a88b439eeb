//! Connection caps: how many accepted connections the whole process may hold (HTTP, TCP and
//! upgraded WebSocket connections of every server together) and how many one server may hold
//! by default, set once at start-up from `--max-connections` / `--max-server-connections` or
//! `.plua.lua`. Every accepted connection holds a [`CapSlot`] for its whole life (it moves with
//! an HTTP connection that is upgraded to WebSocket), so the counts are exact by construction:
//! dropping the connection gives its slot back. The accept paths (`src/http/server.rs`,
//! `src/sockets/tcp_ops.rs`) ask [`total_full`] and [`ServerCount::open`] before they take a
//! connection in; `refuse.rs` answers the ones past a cap.

use std::cell::Cell;
use std::rc::Rc;

/// Accepted connections the process may hold by default (all servers together): at the
/// measured ~5 KB of plua memory per idle HTTP connection and ~10 KB per WebSocket one
/// (`scripts/scale.sh`), a full house costs 10–20 MB, which leaves a 64 MB box room for the
/// kernel's socket buffers, the scripts and the rest of the system.
pub const DEFAULT_TOTAL: usize = 2048;
/// Accepted connections one server may hold by default (its `max_connections` option).
pub const DEFAULT_PER_SERVER: usize = 1024;

thread_local! {
    static TOTAL_CAP: Cell<usize> = const { Cell::new(DEFAULT_TOTAL) };
    static SERVER_CAP: Cell<usize> = const { Cell::new(DEFAULT_PER_SERVER) };
    static TOTAL_OPEN: Cell<usize> = const { Cell::new(0) };
}

/// Sets the caps (each `None` keeps its default); values below 1 count as 1.
pub fn configure(total: Option<usize>, per_server: Option<usize>) {
    if let Some(total) = total {
        TOTAL_CAP.with(|cap| cap.set(total.max(1)));
    }
    if let Some(per_server) = per_server {
        SERVER_CAP.with(|cap| cap.set(per_server.max(1)));
    }
}

/// The cap of a server that names none.
pub fn per_server_default() -> usize {
    SERVER_CAP.with(Cell::get)
}

/// The process-wide cap.
pub fn total_cap() -> usize {
    TOTAL_CAP.with(Cell::get)
}

/// Accepted connections open now, all servers together.
pub fn total_open() -> usize {
    TOTAL_OPEN.with(Cell::get)
}

/// True when the process holds as many accepted connections as it may.
pub fn total_full() -> bool {
    total_open() >= total_cap()
}

/// The open connections of one server, shared with their slots.
#[derive(Clone, Default, Debug)]
pub struct ServerCount(Rc<Cell<usize>>);

impl ServerCount {
    /// Connections of this server open now (upgraded WebSocket connections included).
    pub fn open(&self) -> usize {
        self.0.get()
    }
}

/// One accepted connection's place in its server's count and in the total.
#[derive(Debug)]
pub struct CapSlot {
    server: ServerCount,
}

impl CapSlot {
    /// Counts a connection just accepted by the server behind `server`.
    pub fn take(server: &ServerCount) -> CapSlot {
        server.0.set(server.0.get() + 1);
        TOTAL_OPEN.with(|open| open.set(open.get() + 1));
        CapSlot {
            server: server.clone(),
        }
    }
}

impl Drop for CapSlot {
    fn drop(&mut self) {
        self.server.0.set(self.server.0.get().saturating_sub(1));
        TOTAL_OPEN.with(|open| open.set(open.get().saturating_sub(1)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_count_in_their_server_and_in_the_total_until_dropped() {
        let (a, b) = (ServerCount::default(), ServerCount::default());
        let before = total_open();
        let first = CapSlot::take(&a);
        let second = CapSlot::take(&a);
        let third = CapSlot::take(&b);
        assert_eq!((a.open(), b.open(), total_open() - before), (2, 1, 3));
        drop(second);
        drop(third);
        assert_eq!((a.open(), b.open(), total_open() - before), (1, 0, 1));
        drop(first);
        assert_eq!(total_open(), before);
    }

    #[test]
    fn the_total_is_full_at_its_cap() {
        configure(Some(2), None);
        let server = ServerCount::default();
        let slots: Vec<CapSlot> = (0..2).map(|_| CapSlot::take(&server)).collect();
        assert!(total_full());
        drop(slots);
        assert!(!total_full());
        configure(Some(DEFAULT_TOTAL), None);
    }
}
