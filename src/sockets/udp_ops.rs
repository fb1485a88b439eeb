//! UDP sockets in the socket table.

use super::lookups::Waiting;
use super::*;

impl Net {
    // ---- UDP ---------------------------------------------------------------------------

    /// Opens a UDP socket: bound to `bind` (receive from anyone) and/or connected to `peer`.
    pub fn udp_open(
        &mut self,
        ctx: &mut NetContext,
        bind: SocketAddr,
        peer: Option<SocketAddr>,
        broadcast: bool,
        timeout: Option<f64>,
    ) -> Result<(u64, SocketAddr), SocketError> {
        let id = ctx.ids.next_id();
        let mut socket = UdpSock::open(bind, peer, broadcast)?;
        socket.timeout = timeout;
        self.table
            .register(
                &mut socket.socket,
                id,
                Interest::READABLE | Interest::WRITABLE,
                Owner::Udp,
            )
            .map_err(SocketError::Os)?;
        let local = socket.local_addr();
        self.udp.insert(id, socket);
        Ok((id, local))
    }

    /// Sends one datagram (to the connected peer when `to` is `None`).
    pub fn udp_send(
        &mut self,
        ctx: &mut NetContext,
        id: u64,
        data: Vec<u8>,
        to: Option<SocketAddr>,
        op: u64,
    ) {
        match self.udp.get_mut(&id) {
            Some(socket) => socket.send(data, to, op, &mut self.events),
            None => {
                let message = self.missing(id, "UDP socket");
                self.events.push_back(NetEvent::failure(op, message));
            }
        }
        self.sweep(ctx, id);
    }

    /// Sends one datagram to `host:port`; a name is looked up on the worker pool first (the
    /// reactor never waits for DNS), then `op` completes as [`Net::udp_send`]'s.
    pub fn udp_send_to_host(
        &mut self,
        ctx: &mut NetContext,
        id: u64,
        data: Vec<u8>,
        host: &str,
        port: u16,
        op: u64,
    ) {
        if !self.udp.contains_key(&id) {
            let message = self.missing(id, "UDP socket");
            self.events.push_back(NetEvent::failure(op, message));
            return;
        }
        let job = ctx.ids.next_id();
        let waiting = Waiting::Datagram {
            socket: id,
            data,
            op,
        };
        self.dial(ctx, job, host, port, waiting);
    }

    /// Receives one datagram: `op` completes with `(true, data, msg, ip, port)`.
    pub fn udp_receive(&mut self, ctx: &mut NetContext, id: u64, max: usize, op: u64) {
        let Some(socket) = self.udp.get(&id) else {
            let message = self.missing(id, "UDP socket");
            self.events.push_back(NetEvent::failure(op, message));
            return;
        };
        let timer = socket
            .timeout
            .map(|seconds| self.arm(ctx, seconds, Deadline::UdpRead { socket: id, op }));
        if let Some(socket) = self.udp.get_mut(&id) {
            socket.receive(op, max, timer, &mut self.events);
        }
        self.disarm_finished_udp(ctx, id);
    }

    /// Cancels the timeout timers of the receives socket `id` finished.
    pub(super) fn disarm_finished_udp(&mut self, ctx: &mut NetContext, id: u64) {
        let done = match self.udp.get_mut(&id) {
            Some(socket) => socket.take_done_timers(),
            None => return,
        };
        for timer in done {
            self.disarm(ctx, Some(timer));
        }
    }

    /// Closes UDP socket `id`; false if unknown.
    pub fn udp_close(&mut self, ctx: &mut NetContext, id: u64) -> bool {
        let Some(socket) = self.udp.get_mut(&id) else {
            return false;
        };
        socket.close(&mut self.events);
        self.sweep(ctx, id);
        true
    }
}
