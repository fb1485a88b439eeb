//! Name lookups for binds and UDP peers in the socket registry: `core.resolve` hands a host name
//! to the worker pool (getaddrinfo blocks) and the operation completes with the address as
//! text, so the Lua side binds or connects to a literal IP and the reactor never waits for DNS.

use super::*;

impl Net {
    /// Looks `host` up on the worker pool; `op` completes with `(true, ip, msg)` or
    /// `(false, nil, "cannot resolve host '...': ...")`. Literal IPs need no lookup: callers
    /// check [`resolve::literal`] first.
    pub fn lookup(&mut self, ctx: &mut NetContext, host: &str, port: u16, op: u64) {
        let job = ctx.ids.next_id();
        let host = host.to_owned();
        let submitted = ctx.pool.submit(job, move || {
            Box::new(resolve::lookup(&host, port)) as JobOutput
        });
        match submitted {
            Ok(()) => {
                self.lookups.insert(job, op);
            }
            Err(error) => self
                .events
                .push_back(NetEvent::failure(op, error.to_string())),
        }
    }

    /// A bind's name lookup finished; false if `job` was not one.
    pub(super) fn lookup_done(&mut self, job: u64, output: &Result<SocketAddr, String>) -> bool {
        let Some(op) = self.lookups.remove(&job) else {
            return false;
        };
        let event = match output {
            Ok(address) => NetEvent::success(
                op,
                Val::Text(address.ip().to_string()),
                format!("Resolved to {}", address.ip()),
            ),
            Err(message) => NetEvent::failure(op, message.clone()),
        };
        self.events.push_back(event);
        true
    }
}
