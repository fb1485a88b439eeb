//! The socket table: which part of the runtime owns each socket registered with the poller,
//! by id (the id is the poller token). It is the only code that registers sockets with mio,
//! so a readiness event is routed by one lookup here, and a socket cannot be in the poller
//! without the table knowing who answers for it. The sockets' state stays with their owners
//! (TCP and UDP in `src/sockets`, HTTP in `src/http`, WebSocket in `src/ws`).

use std::collections::HashMap;
use std::io;

use mio::event::Source;
use mio::{Interest, Registry};

use crate::reactor::ids::{IdHasher, token};

/// Who answers for a registered socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// A TCP connection of `tcp_connect` or accepted by a TCP server.
    TcpStream,
    /// A TCP server's listener.
    TcpListener,
    /// A UDP socket.
    Udp,
    /// An embedded HTTP server's listener (WebSocket servers listen through one).
    HttpListener,
    /// A connection accepted by an HTTP server.
    HttpConn,
    /// A connection of the HTTP client (busy or pooled).
    HttpClientConn,
    /// A WebSocket connection, a client's or a server's (an upgraded HTTP connection).
    WebSocket,
    /// A client refused past a connection cap, being drained before it is closed.
    Refusal,
}

/// Every socket in the poller, by id, with its owner.
pub struct SocketTable {
    registry: Registry,
    owners: HashMap<u64, Owner, IdHasher>,
}

impl SocketTable {
    /// A table registering with `registry` (the reactor's poller).
    pub fn new(registry: Registry) -> SocketTable {
        SocketTable {
            registry,
            owners: HashMap::default(),
        }
    }

    /// Registers `source` as socket `id` of `owner`.
    pub fn register<S: Source + ?Sized>(
        &mut self,
        source: &mut S,
        id: u64,
        interest: Interest,
        owner: Owner,
    ) -> io::Result<()> {
        self.registry.register(source, token(id), interest)?;
        self.owners.insert(id, owner);
        Ok(())
    }

    /// Takes socket `id` out of the poller (before its fd closes).
    pub fn deregister<S: Source + ?Sized>(&mut self, source: &mut S, id: u64) {
        let _ = self.registry.deregister(source);
        self.owners.remove(&id);
    }

    /// Forgets socket `id` whose fd was closed without [`SocketTable::deregister`] (closing
    /// an fd takes it out of the poller too).
    pub fn forget(&mut self, id: u64) {
        self.owners.remove(&id);
    }

    /// Socket `id` changes hands without leaving the poller (an HTTP connection upgraded to
    /// WebSocket keeps its id and registration).
    pub fn hand_over(&mut self, id: u64, owner: Owner) {
        if let Some(entry) = self.owners.get_mut(&id) {
            *entry = owner;
        }
    }

    /// Who answers for socket `id`; `None` once it left the poller (an event for it may still
    /// be in the current batch).
    #[inline]
    pub fn owner(&self, id: u64) -> Option<Owner> {
        self.owners.get(&id).copied()
    }

    /// How many sockets are registered.
    pub fn len(&self) -> usize {
        self.owners.len()
    }

    /// True if no socket is registered.
    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_records_the_owner_until_the_socket_leaves() {
        let poll = mio::Poll::new().expect("poll");
        let mut table = SocketTable::new(poll.registry().try_clone().expect("registry"));
        let mut listener =
            mio::net::TcpListener::bind("127.0.0.1:0".parse().expect("address")).expect("bind");
        table
            .register(&mut listener, 7, Interest::READABLE, Owner::HttpListener)
            .expect("register");
        assert_eq!(table.owner(7), Some(Owner::HttpListener));
        table.hand_over(7, Owner::WebSocket);
        assert_eq!(table.owner(7), Some(Owner::WebSocket));
        table.deregister(&mut listener, 7);
        assert_eq!(table.owner(7), None);
        assert!(table.is_empty());
        // A second registration of the same source fails and records nothing.
        table
            .register(&mut listener, 8, Interest::READABLE, Owner::TcpListener)
            .expect("register again");
        assert!(
            table
                .register(&mut listener, 9, Interest::READABLE, Owner::TcpListener)
                .is_err()
        );
        assert_eq!(table.owner(9), None);
        assert_eq!(table.len(), 1);
    }
}
