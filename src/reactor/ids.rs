//! Handle ids: one counter for every runtime handle (timers now; sockets and servers later), so
//! an id names exactly one thing, plus a cheap hasher for maps keyed by these ids.

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

/// A multiplicative hasher for `u64` ids: ids are sequential, so one multiply spreads them well
/// and costs a fraction of SipHash.
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
        self.0 = value.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// `BuildHasher` for maps keyed by handle ids.
pub type IdHasher = BuildHasherDefault<IdHashState>;
