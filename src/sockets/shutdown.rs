//! The socket table's part of a graceful shutdown (SIGTERM/SIGINT, `src/runtime/shutdown.rs`):
//! every listener closes first (TCP, HTTP and WebSocket servers stop accepting), HTTP
//! connections finish the responses they owe and close, every open WebSocket connection is
//! sent a 1001 close ("server shutting down" from a server, "going away" from a client), and
//! [`Net::is_draining`] says whether any of that is still under way.

use super::{Net, NetContext};
use crate::ws::Side;

impl Net {
    /// Starts the shutdown: listeners closed, in-flight responses and WebSocket closes under way.
    pub fn begin_shutdown(&mut self, ctx: &mut NetContext) {
        for server in self.servers.values_mut() {
            if let Some(mut listener) = server.listener.take() {
                self.table.deregister(&mut listener, server.id);
            }
        }
        let ws_servers: Vec<u64> = self.ws.servers.keys().copied().collect();
        for id in ws_servers {
            self.ws_server_close(ctx, id);
        }
        for id in self.http.server_ids() {
            self.http_stop(ctx, id);
        }
        let clients: Vec<u64> = self
            .ws
            .conns
            .iter()
            .filter(|(_, conn)| conn.side == Side::Client)
            .map(|(id, _)| *id)
            .collect();
        for id in clients {
            self.ws_close(ctx, id, 1001, "going away");
        }
    }

    /// True while a response owed by a stopped server or a WebSocket closing handshake is still
    /// under way.
    pub fn is_draining(&self) -> bool {
        self.http.is_draining() || !self.ws.conns.is_empty()
    }
}
