//! The byte pipe under a TCP connection: plain `mio` TCP or TLS over it (`tls.rs`). The
//! connection code in `tcp.rs` drives a [`Transport`] on readiness events and never needs to know
//! which one it has. All methods are non-blocking and stop at `WouldBlock`. Sockets are registered
//! for both readable and writable readiness once (edge-triggered), so no interest bookkeeping.

use std::io::{self, Write};

use mio::net::TcpStream;

/// What a read pass found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadStatus {
    /// Plaintext bytes appended to the buffer.
    pub bytes: usize,
    /// The peer closed its side (TCP FIN or TLS close_notify); no more data will come.
    pub eof: bool,
}

/// A non-blocking, edge-triggered byte stream.
pub trait Transport {
    /// Reads what is available (until `WouldBlock`, EOF or `limit` bytes) and appends it to
    /// `out`. For TLS this also processes handshake records and may queue records to send.
    fn read_into(&mut self, out: &mut Vec<u8>, limit: usize) -> io::Result<ReadStatus>;

    /// Accepts as much of `data` as it can without blocking; returns how many bytes it took.
    /// Bytes taken are in the kernel (plain) or encrypted in the TLS buffer on their way out.
    fn write_some(&mut self, data: &[u8]) -> io::Result<usize>;

    /// Pushes protocol bytes buffered inside the transport (TLS records) to the socket.
    /// `Ok(true)` when nothing is left to send.
    fn flush_pending(&mut self) -> io::Result<bool>;

    /// True once the transport can carry application data (TLS: handshake finished).
    fn is_established(&self) -> bool;

    /// Starts an orderly close of the sending side (TLS close_notify, then TCP FIN).
    fn shutdown(&mut self);

    /// The poller reported that the peer hung up: the next read must go on to EOF even after a
    /// short read.
    fn note_hangup(&mut self) {}

    /// The socket, for (re)registration with the poller and address queries.
    fn socket(&mut self) -> &mut TcpStream;
}

/// A chunk read this small is handed over in a buffer of its own size.
const COPY_BELOW: usize = 16 * 1024;

thread_local! {
    /// The read buffer of [`read_chunk`], shared by every connection of the reactor's thread.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Reads up to `limit` bytes into the empty `out` through one buffer shared by all connections:
/// a small chunk (a message) is copied into a buffer of its own size, a large one takes the
/// shared buffer itself. Event-mode connections hand every chunk over at once, and allocating
/// a fresh `limit`-sized buffer for each 64-byte message cost more than the rest of the read.
pub fn read_chunk(
    transport: &mut dyn Transport,
    out: &mut Vec<u8>,
    limit: usize,
) -> io::Result<ReadStatus> {
    SCRATCH.with_borrow_mut(|scratch| {
        scratch.clear();
        let status = transport.read_into(scratch, limit)?;
        if scratch.len() < COPY_BELOW {
            // The buffer keeps its capacity, bounded by the largest `limit` (one event chunk).
            out.extend_from_slice(scratch);
        } else {
            std::mem::swap(out, scratch);
        }
        Ok(status)
    })
}

/// Whether a non-blocking connect has finished: `Ok(true)` once connected, `Ok(false)` while
/// still in progress, the connect's error if it failed.
pub fn connect_finished(socket: &TcpStream) -> io::Result<bool> {
    if let Some(error) = socket.take_error()? {
        return Err(error);
    }
    match socket.peer_addr() {
        Ok(_) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotConnected => Ok(false),
        Err(error) => Err(error),
    }
}

/// Plain TCP.
pub struct PlainTcp {
    stream: TcpStream,
    hangup: bool,
}

impl PlainTcp {
    /// Wraps a connected (or connecting) non-blocking stream.
    pub fn new(stream: TcpStream) -> Self {
        PlainTcp {
            stream,
            hangup: false,
        }
    }
}

/// Receives straight into the spare capacity of `out` (no zeroed scratch buffer, no copy).
/// A read shorter than asked means the socket buffer is empty, so unless the peer hung up
/// (then EOF must still be read) the loop stops there instead of paying one more `recv` that
/// would only say `WouldBlock`: a new edge comes with the next data.
fn recv_into(
    stream: &TcpStream,
    out: &mut Vec<u8>,
    limit: usize,
    hangup: bool,
) -> io::Result<ReadStatus> {
    use std::os::fd::AsRawFd;
    let mut status = ReadStatus::default();
    while status.bytes < limit {
        let want = (limit - status.bytes).min(64 * 1024);
        out.reserve(want);
        let spare = out.spare_capacity_mut();
        // SAFETY: `spare` has room for at least `want` bytes; recv writes at most `want`.
        let n = unsafe { libc::recv(stream.as_raw_fd(), spare.as_mut_ptr().cast(), want, 0) };
        if n < 0 {
            let error = io::Error::last_os_error();
            match error.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => break,
                _ => return Err(error),
            }
        }
        if n == 0 {
            status.eof = true;
            break;
        }
        let n = n as usize;
        // SAFETY: recv initialised the first `n` bytes of the spare capacity.
        unsafe { out.set_len(out.len() + n) };
        status.bytes += n;
        if n < want && !hangup {
            break;
        }
    }
    Ok(status)
}

impl Transport for PlainTcp {
    fn read_into(&mut self, out: &mut Vec<u8>, limit: usize) -> io::Result<ReadStatus> {
        recv_into(&self.stream, out, limit, self.hangup)
    }

    fn write_some(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut written = 0;
        while written < data.len() {
            match self.stream.write(&data[written..]) {
                Ok(0) => break,
                Ok(n) => written += n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) => return Err(error),
            }
        }
        Ok(written)
    }

    fn flush_pending(&mut self) -> io::Result<bool> {
        Ok(true)
    }

    fn is_established(&self) -> bool {
        true
    }

    fn shutdown(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
    }

    fn note_hangup(&mut self) {
        self.hangup = true;
    }

    fn socket(&mut self) -> &mut TcpStream {
        &mut self.stream
    }
}
