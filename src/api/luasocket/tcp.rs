//! The `tcp{master|client|server}` object of the `socket` module: its state and the socket
//! operations behind its methods (the Lua method table is in `methods.rs`).

use crate::net::reads::{DEFAULT_MAX_LINE, DEFAULT_MAX_READ};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::CHUNK;
use super::sys::*;

/// The LuaSocket class of a TCP object: fresh, connected, or listening.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Kind {
    Master,
    Client,
    Server,
}

impl Kind {
    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Master => "master",
            Kind::Client => "client",
            Kind::Server => "server",
        }
    }
}

/// Which classes a method accepts.
#[derive(Clone, Copy)]
pub(super) enum Accept {
    Any,
    Only(Kind),
    MasterOrClient,
}

impl Accept {
    pub(super) fn allows(self, kind: Kind) -> bool {
        match self {
            Accept::Any => true,
            Accept::Only(only) => only == kind,
            Accept::MasterOrClient => kind != Kind::Server,
        }
    }

    pub(super) fn expected(self) -> &'static str {
        match self {
            Accept::Any | Accept::MasterOrClient => "tcp{any}",
            Accept::Only(Kind::Master) => "tcp{master}",
            Accept::Only(Kind::Client) => "tcp{client}",
            Accept::Only(Kind::Server) => "tcp{server}",
        }
    }
}

/// One TCP object (`tcp{master}`, `tcp{client}` or `tcp{server}`). The descriptor is created
/// lazily by `bind` or `connect`, for the family the address resolves to; dropping the object
/// closes it.
pub struct Tcp {
    pub(super) kind: Kind,
    pub(super) fd: Option<OwnedFd>,
    /// Address family `socket.tcp4`/`socket.tcp6` restrict the object to.
    family: Option<libc::c_int>,
    /// A non-blocking `connect` that timed out and may still complete.
    connecting: bool,
    /// Received bytes not yet returned; `buf[pos..]` is pending.
    buf: Vec<u8>,
    pos: usize,
    pub(super) block: Option<Duration>,
    pub(super) total: Option<Duration>,
    /// Options set before the descriptor exists, applied when it is created.
    pub(super) pending: Vec<(usize, bool)>,
}

impl Tcp {
    pub(super) fn new(kind: Kind, fd: Option<OwnedFd>, family: Option<libc::c_int>) -> Tcp {
        Tcp {
            kind,
            fd,
            family,
            connecting: false,
            buf: Vec::new(),
            pos: 0,
            block: None,
            total: None,
            pending: Vec::new(),
        }
    }

    pub(super) fn raw(&self) -> Outcome<RawFd> {
        self.fd
            .as_ref()
            .map(AsRawFd::as_raw_fd)
            .ok_or(Failure::Closed)
    }

    pub(super) fn deadline(&self) -> Deadline {
        Deadline::new(self.block, self.total)
    }

    pub(super) fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Removes and returns the first `n` pending bytes.
    pub(super) fn take(&mut self, n: usize) -> Vec<u8> {
        let end = (self.pos + n).min(self.buf.len());
        let out = self.buf[self.pos..end].to_vec();
        self.pos = end;
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        out
    }

    /// A descriptor for `addr`'s family with the pending options applied.
    pub(super) fn create(&mut self, addr: &SocketAddr) -> Outcome<RawFd> {
        let fd = new_socket(family_of(addr))?;
        for &(index, on) in &self.pending {
            let (_, level, option) = OPTIONS[index];
            set_flag(fd.as_raw_fd(), level, option, on)?;
        }
        let raw = fd.as_raw_fd();
        self.fd = Some(fd);
        Ok(raw)
    }

    /// Reads at least one more byte into the buffer.
    pub(super) fn fill(&mut self, deadline: &Deadline) -> Outcome<()> {
        let fd = self.raw()?;
        if self.pos > 0 && self.pos * 2 >= self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.reserve(CHUNK);
        loop {
            let spare = self.buf.spare_capacity_mut();
            let room = spare.len().min(CHUNK);
            // SAFETY: spare has at least `room` writable bytes; recv writes at most that many.
            let n = unsafe { libc::recv(fd, spare.as_mut_ptr().cast(), room, 0) };
            if n > 0 {
                let len = self.buf.len() + n as usize;
                // SAFETY: recv initialised the n bytes after the old length.
                unsafe { self.buf.set_len(len) };
                return Ok(());
            }
            if n == 0 {
                return Err(Failure::Closed);
            }
            let error = io::Error::last_os_error();
            match error.kind() {
                io::ErrorKind::WouldBlock => wait(fd, libc::POLLIN, deadline.limit())?,
                io::ErrorKind::Interrupted => {}
                _ => return Err(Failure::from_io(&error)),
            }
        }
    }

    /// Sends all of `data`; returns how much went out and why it stopped early.
    pub(super) fn send_all(
        &mut self,
        data: &[u8],
        deadline: &Deadline,
    ) -> (usize, Option<Failure>) {
        let fd = match self.raw() {
            Ok(fd) => fd,
            Err(failure) => return (0, Some(failure)),
        };
        let mut sent = 0;
        while sent < data.len() {
            let rest = &data[sent..];
            // SAFETY: rest is valid for rest.len() bytes; MSG_NOSIGNAL turns SIGPIPE into EPIPE.
            let n = unsafe { libc::send(fd, rest.as_ptr().cast(), rest.len(), libc::MSG_NOSIGNAL) };
            if n >= 0 {
                sent += n as usize;
                continue;
            }
            let error = io::Error::last_os_error();
            match error.kind() {
                io::ErrorKind::WouldBlock => {
                    if let Err(failure) = wait(fd, libc::POLLOUT, deadline.limit()) {
                        return (sent, Some(failure));
                    }
                }
                io::ErrorKind::Interrupted => {}
                _ => return (sent, Some(Failure::from_io(&error))),
            }
        }
        (sent, None)
    }

    /// Waits for a started `connect` to finish and reports its result.
    pub(super) fn finish_connect(&mut self, fd: RawFd, deadline: &Deadline) -> Outcome<()> {
        wait(fd, libc::POLLOUT, deadline.limit())?;
        match get_int(fd, libc::SOL_SOCKET, libc::SO_ERROR)? {
            0 => Ok(()),
            code => Err(Failure::from_io(&io::Error::from_raw_os_error(code))),
        }
    }

    /// `connect` to one address; a timeout leaves the attempt pending.
    pub(super) fn connect_to(&mut self, addr: &SocketAddr, deadline: &Deadline) -> Outcome<()> {
        let fd = match self.fd.as_ref() {
            Some(fd) => fd.as_raw_fd(),
            None => self.create(addr)?,
        };
        let (storage, len) = to_sockaddr(addr);
        // SAFETY: storage holds a valid sockaddr of length len.
        let rc =
            unsafe { libc::connect(fd, (&storage as *const libc::sockaddr_storage).cast(), len) };
        let result = if rc == 0 {
            Ok(())
        } else {
            let error = io::Error::last_os_error();
            match error.raw_os_error() {
                Some(libc::EINPROGRESS | libc::EINTR) => self.finish_connect(fd, deadline),
                _ => Err(Failure::from_io(&error)),
            }
        };
        match result {
            Ok(()) => {
                self.kind = Kind::Client;
                Ok(())
            }
            Err(Failure::Timeout) => {
                self.kind = Kind::Client;
                self.connecting = true;
                Err(Failure::Timeout)
            }
            Err(failure) => {
                self.fd = None;
                Err(failure)
            }
        }
    }

    pub(super) fn connect(&mut self, host: &str, port: u16) -> Outcome<()> {
        let deadline = self.deadline();
        if self.connecting {
            let fd = self.raw()?;
            return match self.finish_connect(fd, &deadline) {
                Ok(()) => {
                    self.connecting = false;
                    Ok(())
                }
                Err(Failure::Timeout) => Err(Failure::Timeout),
                Err(failure) => {
                    self.connecting = false;
                    self.kind = Kind::Master;
                    self.fd = None;
                    Err(failure)
                }
            };
        }
        if self.kind == Kind::Client {
            return Err(match self.fd {
                Some(_) => Failure::Other("already connected".into()),
                None => Failure::Closed,
            });
        }
        let bound_family = match &self.fd {
            Some(fd) => Some(family_of(&socket_address(fd.as_raw_fd(), false)?)),
            None => self.family,
        };
        let mut last = Failure::Other("host not found".into());
        for addr in resolve(host, port, bound_family)? {
            match self.connect_to(&addr, &deadline) {
                Ok(()) => return Ok(()),
                Err(Failure::Timeout) => return Err(Failure::Timeout),
                Err(failure) => last = failure,
            }
        }
        Err(last)
    }

    pub(super) fn bind(&mut self, host: &str, port: u16) -> Outcome<()> {
        if self.fd.is_some() {
            return Err(Failure::Other("already bound".into()));
        }
        let mut last = Failure::Other("host not found".into());
        for addr in resolve(host, port, self.family)? {
            let fd = self.create(&addr)?;
            let (storage, len) = to_sockaddr(&addr);
            // SAFETY: storage holds a valid sockaddr of length len.
            let rc =
                unsafe { libc::bind(fd, (&storage as *const libc::sockaddr_storage).cast(), len) };
            if rc == 0 {
                return Ok(());
            }
            last = Failure::last_os();
            self.fd = None;
        }
        Err(last)
    }

    pub(super) fn listen(&mut self, backlog: i64) -> Outcome<()> {
        let fd = self.raw().map_err(|_| Failure::Other("not bound".into()))?;
        let backlog = libc::c_int::try_from(backlog.max(0)).unwrap_or(libc::c_int::MAX);
        // SAFETY: plain system call on an owned descriptor.
        if unsafe { libc::listen(fd, backlog) } != 0 {
            return Err(Failure::last_os());
        }
        self.kind = Kind::Server;
        Ok(())
    }

    pub(super) fn accept(&mut self) -> Outcome<Tcp> {
        let fd = self.raw()?;
        let deadline = self.deadline();
        loop {
            // SAFETY: null address pointers are allowed; the result is checked before use.
            let client = unsafe {
                libc::accept4(
                    fd,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            };
            if client >= 0 {
                // SAFETY: client is a fresh descriptor nobody else owns.
                let owned = unsafe { OwnedFd::from_raw_fd(client) };
                return Ok(Tcp::new(Kind::Client, Some(owned), None));
            }
            let error = io::Error::last_os_error();
            match error.raw_os_error() {
                Some(libc::EAGAIN | libc::ECONNABORTED) => {
                    wait(fd, libc::POLLIN, deadline.limit())?
                }
                Some(libc::EINTR) => {}
                _ => return Err(Failure::from_io(&error)),
            }
        }
    }

    pub(super) fn close(&mut self) {
        self.fd = None;
        self.connecting = false;
        self.buf = Vec::new();
        self.pos = 0;
    }
}

/// What `receive` reads.
#[derive(Clone, Copy)]
pub(super) enum Pattern {
    All,
    Line,
    Bytes(usize),
}

/// Runs one `receive`: the data, and why it stopped short (the data is then the partial result).
/// Reads are bounded as on the reactor's sockets: a line longer than [`DEFAULT_MAX_LINE`]
/// fails with `line too long`, `*a` or a count past [`DEFAULT_MAX_READ`] with `read too
/// large` (a count that can never fit fails before reading anything).
pub(super) fn receive(tcp: &mut Tcp, pattern: Pattern) -> (Vec<u8>, Option<Failure>) {
    let deadline = tcp.deadline();
    match pattern {
        Pattern::Bytes(wanted) if wanted > DEFAULT_MAX_READ => {
            (Vec::new(), Some(Failure::Other("read too large".into())))
        }
        Pattern::Bytes(wanted) => loop {
            if tcp.buffered().len() >= wanted {
                return (tcp.take(wanted), None);
            }
            if let Err(failure) = tcp.fill(&deadline) {
                let all = tcp.buffered().len();
                return (tcp.take(all), Some(failure));
            }
        },
        Pattern::Line => {
            let mut searched = 0;
            loop {
                if let Some(at) = tcp.buffered()[searched..].iter().position(|&b| b == b'\n') {
                    let mut line = tcp.take(searched + at + 1);
                    line.pop();
                    line.retain(|&b| b != b'\r');
                    return (line, None);
                }
                searched = tcp.buffered().len();
                if searched > DEFAULT_MAX_LINE {
                    return (Vec::new(), Some(Failure::Other("line too long".into())));
                }
                if let Err(failure) = tcp.fill(&deadline) {
                    let mut partial = tcp.take(searched);
                    partial.retain(|&b| b != b'\r');
                    return (partial, Some(failure));
                }
            }
        }
        Pattern::All => {
            let mut got_any = !tcp.buffered().is_empty();
            loop {
                if tcp.buffered().len() > DEFAULT_MAX_READ {
                    return (Vec::new(), Some(Failure::Other("read too large".into())));
                }
                match tcp.fill(&deadline) {
                    Ok(()) => got_any = true,
                    Err(failure) => {
                        let all = tcp.buffered().len();
                        let data = tcp.take(all);
                        return match failure {
                            Failure::Closed if got_any => (data, None),
                            failure => (data, Some(failure)),
                        };
                    }
                }
            }
        }
    }
}
