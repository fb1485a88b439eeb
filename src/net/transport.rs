//! The byte pipe under a TCP connection: plain `mio` TCP or TLS over it (`tls.rs`). The
//! connection code in `tcp.rs` drives a [`Transport`] on readiness events and never needs to know
//! which one it has. All methods are non-blocking and stop at `WouldBlock`. Sockets are registered
//! for both readable and writable readiness once (edge-triggered), so no interest bookkeeping.

use std::io::{self, Read, Write};

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

    /// The socket, for (re)registration with the poller and address queries.
    fn socket(&mut self) -> &mut TcpStream;
}

/// Plain TCP.
pub struct PlainTcp {
    stream: TcpStream,
}

impl PlainTcp {
    /// Wraps a connected (or connecting) non-blocking stream.
    pub fn new(stream: TcpStream) -> Self {
        PlainTcp { stream }
    }
}

/// Reads from `source` into `out` until `WouldBlock`, EOF or `limit` bytes.
pub fn read_until_blocked(
    source: &mut impl Read,
    out: &mut Vec<u8>,
    limit: usize,
) -> io::Result<ReadStatus> {
    let mut status = ReadStatus::default();
    let mut chunk = [0u8; 64 * 1024];
    while status.bytes < limit {
        let want = chunk.len().min(limit - status.bytes);
        match source.read(&mut chunk[..want]) {
            Ok(0) => {
                status.eof = true;
                break;
            }
            Ok(n) => {
                out.extend_from_slice(&chunk[..n]);
                status.bytes += n;
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
            Err(error) => return Err(error),
        }
    }
    Ok(status)
}

impl Transport for PlainTcp {
    fn read_into(&mut self, out: &mut Vec<u8>, limit: usize) -> io::Result<ReadStatus> {
        read_until_blocked(&mut self.stream, out, limit)
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

    fn socket(&mut self) -> &mut TcpStream {
        &mut self.stream
    }
}
