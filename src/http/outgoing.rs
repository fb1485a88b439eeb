//! The sending half of an HTTP server connection: the queue of responses owed, in request
//! order, and the output buffer they go through. A response is either whole (a handler's
//! string), a stream written piece by piece (chunked, for `res:write` and Server-Sent Events),
//! or a file read in pieces as the socket drains, so a large file never sits in memory.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;

use super::buffers;
use super::response::{BodyLength, LAST_CHUNK, Response, push_chunk};
use crate::net::transport::Transport;

/// Bytes read from a file per refill of the output.
const FILE_CHUNK: usize = 128 * 1024;
/// Unsent bytes above which a stream's writer should wait for the peer.
pub const STREAM_HIGH_WATER: usize = 256 * 1024;

/// What a request's slot holds.
enum Answer {
    /// The handler is still running.
    Pending,
    /// The whole response, ready to send.
    Ready(Vec<u8>),
    /// A stream being written: bytes not yet moved to the output (while responses before it
    /// are still owed); `finished` once the last piece is queued.
    Streaming {
        pending: Vec<u8>,
        chunked: bool,
        finished: bool,
    },
    /// A file body: the head, then `remaining` bytes read from `file` as the output drains.
    File {
        head: Vec<u8>,
        file: File,
        remaining: u64,
    },
}

struct Slot {
    seq: u64,
    head_only: bool,
    keep_alive: bool,
    /// The client speaks HTTP/1.1 (a stream may be chunked).
    chunked_ok: bool,
    answer: Answer,
}

/// Why a piece of a stream was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamError {
    /// No open stream has this sequence number (finished, or never started).
    NotStreaming,
}

/// Responses owed by one connection and the bytes on their way out.
#[derive(Default)]
pub struct Outgoing {
    slots: VecDeque<Slot>,
    next_seq: u64,
    output: Vec<u8>,
    sent: usize,
    /// A response with `Connection: close` went into the output: nothing follows it.
    pub closing: bool,
    /// Streams ever started on this connection (0: `unsent` need not look at the slots).
    streams: usize,
}

impl Outgoing {
    /// Nothing owed and nothing left to send.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty() && self.output.is_empty()
    }

    /// Requests still owed a (complete) response.
    pub fn owed(&self) -> usize {
        self.slots.len()
    }

    /// Bytes queued but not yet taken by the socket (the output plus streams waiting their
    /// turn).
    pub fn unsent(&self) -> usize {
        let queued = self.output.len() - self.sent;
        if self.streams == 0 {
            return queued;
        }
        let waiting: usize = self
            .slots
            .iter()
            .map(|slot| match &slot.answer {
                Answer::Streaming { pending, .. } => pending.len(),
                _ => 0,
            })
            .sum();
        queued + waiting
    }

    /// True while a stream is open (started, not finished).
    pub fn has_open_stream(&self) -> bool {
        self.streams > 0
            && self.slots.iter().any(|slot| {
                matches!(
                    slot.answer,
                    Answer::Streaming {
                        finished: false,
                        ..
                    }
                )
            })
    }

    /// The sequence numbers of the open streams.
    pub fn open_streams(&self) -> Vec<u64> {
        self.slots
            .iter()
            .filter(|slot| {
                matches!(
                    slot.answer,
                    Answer::Streaming {
                        finished: false,
                        ..
                    }
                )
            })
            .map(|slot| slot.seq)
            .collect()
    }

    /// Bytes sent ahead of every response (`100 Continue`).
    pub fn push_interim(&mut self, bytes: &[u8]) {
        self.output.extend_from_slice(bytes);
    }

    /// A request whose handler runs now; returns its sequence number.
    pub fn expect(&mut self, head_only: bool, keep_alive: bool, chunked_ok: bool) -> u64 {
        self.next_seq += 1;
        self.slots.push_back(Slot {
            seq: self.next_seq,
            head_only,
            keep_alive,
            chunked_ok,
            answer: Answer::Pending,
        });
        self.next_seq
    }

    /// A response decided without a handler (an error, an upgrade's 101), queued behind the
    /// ones owed.
    pub fn push_ready(&mut self, bytes: Vec<u8>, keep_alive: bool) {
        self.next_seq += 1;
        self.slots.push_back(Slot {
            seq: self.next_seq,
            head_only: false,
            keep_alive,
            chunked_ok: false,
            answer: Answer::Ready(bytes),
        });
    }

    /// The server stops: every response still owed closes the connection.
    pub fn close_after_owed(&mut self) {
        for slot in &mut self.slots {
            slot.keep_alive = false;
        }
    }

    /// The slot of request `seq` whose handler has not answered yet.
    fn pending_slot(&self, seq: u64) -> Option<usize> {
        self.slots
            .iter()
            .position(|slot| slot.seq == seq && matches!(slot.answer, Answer::Pending))
    }

    /// The handler for request `seq` finished with `response`; false if nothing is owed to it.
    pub fn answer(&mut self, seq: u64, response: &Response) -> bool {
        let Some(index) = self.pending_slot(seq) else {
            return false;
        };
        let (head_only, keep_alive) = (self.slots[index].head_only, self.slots[index].keep_alive);
        if index == 0 {
            // The oldest outstanding request (always so without pipelining): the response
            // goes straight into the output buffer.
            response.write_to(&mut self.output, head_only, keep_alive);
            self.slots.pop_front();
            self.after_complete(keep_alive);
        } else {
            let mut bytes = Vec::with_capacity(response.body.len() + 160);
            response.write_to(&mut bytes, head_only, keep_alive);
            self.slots[index].answer = Answer::Ready(bytes);
        }
        true
    }

    /// Starts a streamed response to request `seq` with `response`'s status and headers (its
    /// body is ignored); false if nothing is owed to it. HTTP/1.1 clients get a chunked body,
    /// HTTP/1.0 ones a body that ends when the connection closes.
    pub fn start_stream(&mut self, seq: u64, response: &Response) -> bool {
        let Some(index) = self.pending_slot(seq) else {
            return false;
        };
        let slot = &mut self.slots[index];
        let chunked = slot.chunked_ok;
        if !chunked {
            slot.keep_alive = false;
        }
        let length = if chunked {
            BodyLength::Chunked
        } else {
            BodyLength::UntilClose
        };
        let mut head = Vec::with_capacity(256);
        let bodiless = response.write_head(&mut head, length, true, slot.keep_alive);
        let finished = bodiless || slot.head_only;
        slot.answer = Answer::Streaming {
            pending: head,
            chunked,
            finished,
        };
        self.streams += 1;
        true
    }

    /// Queues `data` on the open stream of request `seq`.
    pub fn write_stream(&mut self, seq: u64, data: &[u8]) -> Result<(), StreamError> {
        let index = self.open_stream(seq).ok_or(StreamError::NotStreaming)?;
        let slot = &mut self.slots[index];
        let Answer::Streaming {
            pending, chunked, ..
        } = &mut slot.answer
        else {
            return Err(StreamError::NotStreaming);
        };
        if slot.head_only {
            return Ok(());
        }
        // At the front of the queue (its head already moved out) the piece goes straight to
        // the output.
        let out = if index == 0 && pending.is_empty() {
            &mut self.output
        } else {
            pending
        };
        if *chunked {
            push_chunk(out, data);
        } else {
            out.extend_from_slice(data);
        }
        Ok(())
    }

    /// Ends the open stream of request `seq`.
    pub fn finish_stream(&mut self, seq: u64) -> Result<(), StreamError> {
        let index = self.open_stream(seq).ok_or(StreamError::NotStreaming)?;
        let slot = &mut self.slots[index];
        let head_only = slot.head_only;
        if let Answer::Streaming {
            pending,
            chunked,
            finished,
        } = &mut slot.answer
        {
            if *chunked && !head_only {
                pending.extend_from_slice(LAST_CHUNK);
            }
            *finished = true;
        }
        Ok(())
    }

    /// The index of the open stream of request `seq`.
    fn open_stream(&self, seq: u64) -> Option<usize> {
        self.slots.iter().position(|slot| {
            slot.seq == seq
                && matches!(
                    slot.answer,
                    Answer::Streaming {
                        finished: false,
                        ..
                    }
                )
        })
    }

    /// Answers request `seq` with `head` followed by `length` bytes of `file` (read from its
    /// current position); false if nothing is owed to it.
    pub fn answer_file(&mut self, seq: u64, head: Vec<u8>, file: File, length: u64) -> bool {
        let Some(index) = self.pending_slot(seq) else {
            return false;
        };
        let slot = &mut self.slots[index];
        let remaining = if slot.head_only { 0 } else { length };
        slot.answer = Answer::File {
            head,
            file,
            remaining,
        };
        true
    }

    /// Bookkeeping after a complete response went into the output: one that closes the
    /// connection drops the requests behind it.
    fn after_complete(&mut self, keep_alive: bool) {
        if !keep_alive {
            self.closing = true;
            self.slots.clear();
        }
    }

    fn append_output(&mut self, bytes: Vec<u8>) {
        if self.sent == self.output.len() && self.output.capacity() < bytes.capacity() {
            self.output = bytes;
            self.sent = 0;
        } else {
            self.output.extend_from_slice(&bytes);
        }
    }

    /// Moves what the front of the queue has ready into the output, in order.
    fn advance(&mut self) -> std::io::Result<()> {
        while let Some(slot) = self.slots.front_mut() {
            let keep_alive = slot.keep_alive;
            match &mut slot.answer {
                Answer::Pending => break,
                Answer::Ready(bytes) => {
                    let bytes = std::mem::take(bytes);
                    self.slots.pop_front();
                    self.append_output(bytes);
                    self.after_complete(keep_alive);
                }
                Answer::Streaming {
                    pending, finished, ..
                } => {
                    let (bytes, finished) = (std::mem::take(pending), *finished);
                    self.append_output(bytes);
                    if !finished {
                        break;
                    }
                    self.slots.pop_front();
                    self.after_complete(keep_alive);
                }
                Answer::File {
                    head,
                    file,
                    remaining,
                } => {
                    let head = std::mem::take(head);
                    if !head.is_empty() {
                        self.output.extend_from_slice(&head);
                    }
                    // Fill up to one chunk behind what is queued: a small file goes out with
                    // its head in one write.
                    if *remaining > 0 && self.output.len() - self.sent < FILE_CHUNK {
                        let want = (*remaining).min(FILE_CHUNK as u64) as usize;
                        let start = self.output.len();
                        self.output.resize(start + want, 0);
                        let got = read_fully(file, &mut self.output[start..])?;
                        self.output.truncate(start + got);
                        if got < want {
                            // The file shrank under us: the promised length cannot be kept.
                            return Err(std::io::ErrorKind::UnexpectedEof.into());
                        }
                        *remaining -= got as u64;
                    }
                    if *remaining > 0 {
                        break;
                    }
                    self.slots.pop_front();
                    self.after_complete(keep_alive);
                }
            }
            if self.closing {
                break;
            }
        }
        Ok(())
    }

    /// Sends what it can without blocking, refilling file bodies as the socket takes them.
    /// An error means the connection is broken.
    pub fn flush(&mut self, transport: &mut dyn Transport) -> std::io::Result<()> {
        transport.flush_pending()?;
        loop {
            self.advance()?;
            while self.sent < self.output.len() {
                match transport.write_some(&self.output[self.sent..])? {
                    0 => return Ok(()),
                    n => self.sent += n,
                }
            }
            self.output.clear();
            self.sent = 0;
            let refill = matches!(
                self.slots.front(),
                Some(Slot {
                    answer: Answer::File { remaining: 1.., .. },
                    ..
                })
            );
            if !refill {
                break;
            }
        }
        // Everything queued is sent: a buffer that grew for a large response goes.
        buffers::release_if_drained(&mut self.output);
        Ok(())
    }
}

/// Reads until `buffer` is full or the file ends; returns the bytes read.
fn read_fully(file: &mut File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buffer.len() {
        match file.read(&mut buffer[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(got)
}
