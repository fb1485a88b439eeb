//! The embedded HTTP servers and the HTTP client in the socket table.

use super::lookups::Waiting;
use super::*;

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
            .start(ctx.registry, id, sweep, host, port, options)?;
        ctx.timers
            .add(sweep, period * 1000.0, true, TimerAction::Net);
        ctx.timers.set_referenced(sweep, false);
        self.deadlines.insert(sweep, Deadline::HttpSweep(id));
        Ok((id, address))
    }

    /// Stops HTTP server `id`; false if unknown.
    pub fn http_stop(&mut self, ctx: &mut NetContext, id: u64) -> bool {
        match self.http.stop(ctx.registry, id) {
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
            .respond(ctx.registry, conn, seq, response, &mut self.events);
        self.ws_take_upgrades(ctx);
        delivered
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

    /// Forgets a finished client request and cancels its timeout.
    pub(super) fn http_done(&mut self, ctx: &mut NetContext, op: u64) {
        if let Some((_, timer)) = self.http_ops.remove(&op) {
            self.disarm(ctx, timer);
        }
    }
}
