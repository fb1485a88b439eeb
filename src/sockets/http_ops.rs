//! The embedded HTTP servers and the HTTP client in the socket table.

use super::lookups::Waiting;
use super::*;
use crate::http::static_files::{MountError, MountOptions};

impl Net {
    // ---- HTTP servers -------------------------------------------------------------------

    /// Starts an HTTP server; returns its id and bound address.
    pub fn http_start(
        &mut self,
        ctx: &mut NetContext,
        host: &str,
        port: u16,
        options: ServerOptions,
    ) -> Result<(u64, SocketAddr), SocketError> {
        let id = ctx.ids.next_id();
        let sweep = ctx.ids.next_id();
        let period = options
            .read_timeout
            .min(options.idle_timeout)
            .as_secs_f64()
            .clamp(0.05, 1.0);
        let address = self
            .http
            .start(&mut self.table, id, sweep, host, port, options)?;
        ctx.timers
            .add(sweep, period * 1000.0, true, TimerAction::Net);
        ctx.timers.set_referenced(sweep, false);
        self.deadlines.insert(sweep, Deadline::HttpSweep(id));
        Ok((id, address))
    }

    /// Stops HTTP server `id`; false if unknown.
    pub fn http_stop(&mut self, ctx: &mut NetContext, id: u64) -> bool {
        match self.http.stop(&mut self.table, id, &mut self.events) {
            Some(sweep) => {
                ctx.timers.cancel(sweep, TimerAction::Net);
                self.deadlines.remove(&sweep);
                self.remember_closed(id);
                true
            }
            None => false,
        }
    }

    /// A handler finished: send its response.
    pub fn http_respond(
        &mut self,
        ctx: &mut NetContext,
        conn: u64,
        seq: u64,
        response: &Response,
    ) -> bool {
        let delivered = self
            .http
            .respond(&mut self.table, conn, seq, response, &mut self.events);
        self.ws_take_upgrades(ctx);
        delivered
    }

    /// Mounts a directory on server `id`; false if there is no such server.
    pub fn http_static(
        &mut self,
        id: u64,
        prefix: &str,
        directory: &std::path::Path,
        options: MountOptions,
    ) -> Result<bool, MountError> {
        self.http.add_static(id, prefix, directory, options)
    }

    /// Starts a streamed response; false if the request is gone or already answered.
    pub fn http_stream_start(&mut self, conn: u64, seq: u64, response: &Response) -> bool {
        self.http
            .start_stream(&mut self.table, conn, seq, response, &mut self.events)
    }

    /// Queues a piece of a stream (`last`: and ends it); the bytes still unsent, or `None`
    /// when the client is gone.
    pub fn http_stream_write(
        &mut self,
        conn: u64,
        seq: u64,
        data: &[u8],
        last: bool,
    ) -> Option<usize> {
        self.http
            .write_stream(&mut self.table, conn, seq, data, last, &mut self.events)
    }

    /// A stream's writer waits as `op` until the connection drains or closes; false if there
    /// is nothing to wait for.
    pub fn http_stream_wait(&mut self, conn: u64, op: u64) -> bool {
        self.http.wait_for_drain(conn, op)
    }

    /// Closes server connection `conn` at once (a stream whose handler failed: the client
    /// must not take the truncated body for a whole one); false if it is gone.
    pub fn http_conn_close(&mut self, conn: u64) -> bool {
        self.http
            .close_conn(&mut self.table, conn, &mut self.events)
    }

    // ---- HTTP client --------------------------------------------------------------------

    /// Sends `request` as operation `op`, reusing a pooled connection when one is idle;
    /// `timeout` (seconds) limits the whole exchange.
    pub fn http_request(
        &mut self,
        ctx: &mut NetContext,
        request: ClientRequest,
        timeout: Option<f64>,
        op: u64,
    ) {
        let timer = timeout.map(|seconds| self.arm(ctx, seconds, Deadline::HttpRequest(op)));
        self.http_ops.insert(op, (0, timer));
        self.http_send(ctx, request, op);
    }

    pub(super) fn http_send(&mut self, ctx: &mut NetContext, request: ClientRequest, op: u64) {
        let conn = match self.http_client.try_pooled(op, request, &mut self.events) {
            Ok(conn) => conn,
            Err(request) => {
                let request = *request;
                let id = ctx.ids.next_id();
                let (host, port) = (request.url.host.clone(), request.url.port);
                if !self.dial(ctx, id, &host, port, Waiting::Http { op, request }) {
                    return;
                }
                id
            }
        };
        match self.http_ops.get_mut(&op) {
            Some(entry) => entry.0 = conn,
            None => {
                self.http_ops.insert(op, (conn, None));
            }
        }
        if self.http_client.current_op(conn) != Some(op) && !self.is_looking_up(conn) {
            // Finished (or failed) at once.
            self.http_done(ctx, op);
        }
    }

    pub(super) fn http_failed(&mut self, ctx: &mut NetContext, op: u64, message: String) {
        self.events.push_back(NetEvent::failure(op, message));
        self.http_done(ctx, op);
    }

    /// Acts on what a client connection asked for after an event: a retry on a fresh
    /// connection, a later pass of a paused stream, or the end of the exchange `op_before`.
    pub(super) fn http_follow(
        &mut self,
        ctx: &mut NetContext,
        id: u64,
        op_before: Option<u64>,
        followup: Followup,
    ) {
        match followup {
            Followup::Retry(op, request) => self.http_send(ctx, request, op),
            Followup::Resume => {
                self.arm(ctx, 0.0, Deadline::Resume(id));
            }
            Followup::Nothing => {
                if let Some(op) = op_before
                    && self.http_client.current_op(id) != Some(op)
                {
                    self.http_done(ctx, op);
                }
            }
        }
    }

    /// A paused client stream reads again.
    pub(super) fn http_client_resume(&mut self, ctx: &mut NetContext, id: u64) {
        let op_before = self.http_client.current_op(id);
        let followup = self
            .http_client
            .resume(&mut self.table, id, &mut self.events);
        self.http_follow(ctx, id, op_before, followup);
    }

    /// Forgets a finished client request and cancels its timeout.
    pub(super) fn http_done(&mut self, ctx: &mut NetContext, op: u64) {
        if let Some((_, timer)) = self.http_ops.remove(&op) {
            self.disarm(ctx, timer);
        }
    }
}
