//! Polite refusals of connections past a cap (`caps.rs`): the refused socket gets its answer
//! (`503` with `Retry-After` for HTTP and WebSocket servers, nothing for TCP servers) and a
//! FIN at once, and is then read and drained until the peer closes or [`LINGER`] passes.
//! Closing at once with the peer's request still unread would make the kernel answer with a
//! reset, which can destroy the 503 before the peer reads it (a "lingering close", as nginx
//! does). At most [`MAX_LINGERING`] refused sockets linger; past that they are closed at once.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::Shutdown;

use mio::Interest;
use mio::net::TcpStream;

use super::socket_table::{Owner, SocketTable};
use crate::reactor::ids::IdHasher;

/// The answer an HTTP (or WebSocket) server past a cap gives.
pub const HTTP_BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Retry-After: 1\r\n\
Content-Type: text/plain\r\n\
Content-Length: 12\r\n\
Connection: close\r\n\
\r\n\
server busy\n";

/// Seconds a refused socket is drained at most.
pub const LINGER: f64 = 2.0;
/// Refused sockets drained at once at most.
const MAX_LINGERING: usize = 256;

/// Refused sockets still being drained, by id (their poller token).
#[derive(Default)]
pub struct Refusals {
    lingering: HashMap<u64, TcpStream, IdHasher>,
}

impl Refusals {
    /// Sends `answer` on `stream` and ends its output; true if it now lingers as `id` (the
    /// caller arms a [`LINGER`] deadline that calls [`Refusals::expire`]).
    pub fn refuse(
        &mut self,
        table: &mut SocketTable,
        id: u64,
        mut stream: TcpStream,
        answer: &[u8],
    ) -> bool {
        if !answer.is_empty() {
            // A fresh socket's send buffer takes a few hundred bytes at once.
            let _ = stream.write(answer);
        }
        let _ = stream.shutdown(Shutdown::Write);
        if self.lingering.len() >= MAX_LINGERING
            || table
                .register(&mut stream, id, Interest::READABLE, Owner::Refusal)
                .is_err()
        {
            return false;
        }
        self.lingering.insert(id, stream);
        true
    }

    /// Reads and drops what refused socket `id` sent; closes it at the peer's end of input.
    /// Returns true once it is closed.
    pub fn on_ready(&mut self, table: &mut SocketTable, id: u64) -> bool {
        let Some(stream) = self.lingering.get_mut(&id) else {
            return true;
        };
        let mut scratch = [0u8; 4096];
        loop {
            match stream.read(&mut scratch) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return false,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        self.expire(table, id);
        true
    }

    /// Closes refused socket `id` (its linger time is over, or its peer closed).
    pub fn expire(&mut self, table: &mut SocketTable, id: u64) {
        if let Some(mut stream) = self.lingering.remove(&id) {
            table.deregister(&mut stream, id);
        }
    }
}
