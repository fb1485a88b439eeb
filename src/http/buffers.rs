//! Sizing of the per-connection byte buffers of the HTTP server and client: reads start small
//! and grow only while data keeps coming, and a drained buffer that grew (a large upload or
//! response) gives its memory back, so idle keep-alive connections hold a few KiB each. Freed
//! memory also goes back to the system: glibc keeps freed heap memory mapped, so the heap is
//! trimmed (`malloc_trim`) once a few MiB of buffers were released, and at the next quiet
//! moment (a server's timeout sweep, the client's last exchange ending) after any release.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes asked for by the first read into a small buffer: enough for a typical request or
/// response head, so the common exchange never reallocates.
pub const SMALL_READ: usize = 4 * 1024;

/// Capacity a drained buffer may keep; above it the memory is released.
const KEEP: usize = 16 * 1024;

/// Released buffer bytes after which the allocator is asked to return free memory.
const TRIM_AFTER: usize = 4 * 1024 * 1024;

/// Buffer bytes released since the last trim.
static RELEASED: AtomicUsize = AtomicUsize::new(0);

/// The size of the first read into a buffer with `spare` bytes of room: `chunk` if it has that
/// much, else [`SMALL_READ`] (a read that fills it is followed by `chunk`-sized ones).
pub fn first_read(spare: usize, chunk: usize) -> usize {
    if spare >= chunk {
        chunk
    } else {
        SMALL_READ.min(chunk)
    }
}

/// Frees `buffer`'s memory if it is empty and grew past a few KiB.
pub fn release_if_drained(buffer: &mut Vec<u8>) {
    if buffer.is_empty() && buffer.capacity() > KEEP {
        let capacity = buffer.capacity();
        *buffer = Vec::new();
        released(capacity);
    }
}

/// Counts `bytes` of released buffers (or other large blocks); trims the heap once they add up
/// to [`TRIM_AFTER`].
pub fn released(bytes: usize) {
    let total = RELEASED.fetch_add(bytes, Ordering::Relaxed) + bytes;
    if total >= TRIM_AFTER {
        RELEASED.store(0, Ordering::Relaxed);
        trim_heap();
    }
}

/// True if buffers were released since the last trim.
pub fn trim_pending() -> bool {
    RELEASED.load(Ordering::Relaxed) > 0
}

/// At a quiet moment: trims the heap if buffers were released since the last trim.
pub fn trim_if_pending() {
    if RELEASED.swap(0, Ordering::Relaxed) > 0 {
        trim_heap();
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_heap() {
    // SAFETY: malloc_trim only returns free pages to the kernel; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_heap() {}
