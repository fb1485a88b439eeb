//! Handle ids: one counter for every runtime handle (timers, sockets, servers, operations), so
//! an id names exactly one thing; the mapping between a socket's id and its poller token; and
//! a cheap hasher for maps keyed by these ids.

use std::hash::{BuildHasherDefault, Hasher};

/// Hands out positive, never reused handle ids.
#[derive(Debug, Default)]
pub struct IdCounter {
    last: u64,
}

impl IdCounter {
    /// The next id (starting at 1).
    pub fn next_id(&mut self) -> u64 {
        self.last += 1;
        self.last
    }
}

/// Tokens below this are the reactor's own (waker, signals, stdin).
pub const TOKEN_OFFSET: usize = 16;

/// The poller token of socket `id`.
pub fn token(id: u64) -> mio::Token {
    mio::Token(id as usize + TOKEN_OFFSET)
}

/// The socket id behind a poller token, if it is a socket's.
pub fn id_of(token: mio::Token) -> Option<u64> {
    token.0.checked_sub(TOKEN_OFFSET).map(|id| id as u64)
}

/// A hasher for sequential `u64` ids. The low bits stay the id itself, so ids made one after
/// another land in neighbouring buckets (cache-friendly when a million timers are live); the top
/// bits, which hashbrown uses as a per-bucket tag, get a multiplicative mix so tags differ.
#[derive(Default)]
pub struct IdHashState(u64);

impl Hasher for IdHashState {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 =
                (self.0.rotate_left(5) ^ u64::from(byte)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn write_u64(&mut self, value: u64) {
        const TAG_BITS: u64 = 0xfe00_0000_0000_0000;
        self.0 = value ^ (value.wrapping_mul(0x9e37_79b9_7f4a_7c15) & TAG_BITS);
    }
}

/// `BuildHasher` for maps keyed by handle ids.
pub type IdHasher = BuildHasherDefault<IdHashState>;
