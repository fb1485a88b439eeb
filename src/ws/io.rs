//! The byte stream tungstenite reads and writes: a [`Transport`] (plain TCP or TLS) seen
//! through `std::io::Read + Write`, where "nothing now" is `WouldBlock` so tungstenite stops and
//! the reactor resumes it on the next readiness event.

use std::io::{self, Read, Write};

use crate::net::transport::Transport;

/// Bytes taken from the socket per receive. tungstenite asks for at most its read buffer size
/// (kept small: it zero-fills that much before every read), so a big message still costs
/// one receive per 64 KiB.
const STAGE: usize = 64 * 1024;

/// A non-blocking transport as a `Read + Write` stream.
pub struct TransportIo {
    pub transport: Box<dyn Transport>,
    /// Plaintext read from the transport and not yet handed to tungstenite.
    staged: Vec<u8>,
    staged_from: usize,
    /// The socket may hold more data: cleared by a short read (the socket is drained and a new
    /// edge comes with new data), set again by each readable event. Saves the `recv` that would
    /// only answer `WouldBlock`.
    pub readable: bool,
    /// The peer finished sending.
    pub eof: bool,
    /// The last write found the socket full: output is waiting, so reading pauses until a
    /// writable event lets the queue drain (an echoing handler cannot grow memory for ever).
    pub write_blocked: bool,
}

impl TransportIo {
    /// Wraps `transport`.
    pub fn new(transport: Box<dyn Transport>) -> TransportIo {
        TransportIo {
            transport,
            staged: Vec::new(),
            staged_from: 0,
            readable: true,
            eof: false,
            write_blocked: false,
        }
    }

    /// Puts bytes that were read before this stream existed (the part of an HTTP upgrade
    /// request's buffer after the head) in front of what the socket delivers.
    pub fn unread(&mut self, bytes: Vec<u8>) {
        if !bytes.is_empty() {
            self.staged = bytes;
            self.staged_from = 0;
        }
    }
}

impl Read for TransportIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.staged_from == self.staged.len() {
            if self.eof {
                return Ok(0);
            }
            if !self.readable {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.staged.clear();
            self.staged_from = 0;
            // One receive of up to STAGE bytes; tungstenite's small reads are served from it.
            let want = buf.len().max(STAGE);
            let status = self.transport.read_into(&mut self.staged, want)?;
            if status.bytes < want {
                self.readable = false;
            }
            if status.eof {
                self.eof = true;
            }
            if status.bytes == 0 {
                return if status.eof {
                    Ok(0)
                } else {
                    Err(io::ErrorKind::WouldBlock.into())
                };
            }
        }
        let available = &self.staged[self.staged_from..];
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.staged_from += n;
        Ok(n)
    }
}

impl Write for TransportIo {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self.transport.write_some(data)? {
            0 if !data.is_empty() => {
                self.write_blocked = true;
                Err(io::ErrorKind::WouldBlock.into())
            }
            n => {
                self.write_blocked = n < data.len();
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.transport.flush_pending()? {
            Ok(())
        } else {
            self.write_blocked = true;
            Err(io::ErrorKind::WouldBlock.into())
        }
    }
}
