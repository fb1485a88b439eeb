//! What a TCP read request waits for and how it is served from a connection's receive buffer,
//! within the connection's [`InputLimits`]: a line or delimited record longer than the line
//! limit fails with `line too long`, `*a` and exact counts beyond the read limit fail with
//! `read too large`, and scans for a line end resume where the previous scan stopped, so a peer
//! that never sends one costs linear time, not quadratic.

/// Default `max` for reads that do not name one.
pub const DEFAULT_READ_MAX: usize = 64 * 1024;
/// Default bound of a connection's unconsumed input (and of its unsent output in event mode).
pub const DEFAULT_MAX_INPUT: usize = 1024 * 1024;
/// Default longest line or delimited record, terminator included.
pub const DEFAULT_MAX_LINE: usize = 1024 * 1024;
/// Default largest `*a` or exact-count read.
pub const DEFAULT_MAX_READ: usize = 64 * 1024 * 1024;
/// Receive buffer size beyond which we stop reading while no read request waits.
const READ_AHEAD: usize = 256 * 1024;

/// Error of a line or delimiter read that found no terminator within the line limit.
pub const LINE_TOO_LONG: &str = "line too long";
/// Error of a `*a` or exact-count read that needs more than the read limit.
pub const READ_TOO_LARGE: &str = "read too large";

/// How much input one connection may hold in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLimits {
    /// Unconsumed input (buffered, or handed to Lua in events not yet run) beyond which reading
    /// from the kernel pauses; in event mode also the unsent output that pauses reading.
    pub input: usize,
    /// Longest line or delimited record, terminator included.
    pub line: usize,
    /// Largest `*a` or exact-count read.
    pub read: usize,
}

impl Default for InputLimits {
    fn default() -> Self {
        InputLimits {
            input: DEFAULT_MAX_INPUT,
            line: DEFAULT_MAX_LINE,
            read: DEFAULT_MAX_READ,
        }
    }
}

/// What a read request waits for.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadKind {
    /// Whatever is there, up to n bytes (at least one).
    Max(usize),
    /// Up to and including the delimiter (as the original plua did), or `max` bytes if no
    /// delimiter comes first.
    Until { delimiter: Vec<u8>, max: usize },
    /// LuaSocket `*l`: a line without its `\n` (and a trailing `\r`).
    Line,
    /// LuaSocket `*a`: everything until the peer closes.
    All,
    /// LuaSocket `n`: exactly n bytes.
    Exact(usize),
}

/// A read request waiting for data.
#[derive(Debug)]
pub struct ReadRequest {
    pub op: u64,
    pub kind: ReadKind,
    /// The timer that ends this read with "timeout", if the connection has a read timeout.
    pub timer: Option<u64>,
}

/// What serving a read from the buffer came to.
#[derive(Debug, PartialEq)]
pub enum Served {
    /// The request is answered with these bytes.
    Data(Vec<u8>),
    /// Not there yet.
    Wait,
    /// The request can never be answered within the limits (the bytes stay buffered).
    Fail(&'static str),
}

/// Refuses a request that could never fit the limits, before anything is buffered for it.
pub fn check(kind: &ReadKind, limits: &InputLimits) -> Result<(), &'static str> {
    match kind {
        ReadKind::Exact(n) if *n > limits.read => Err(READ_TOO_LARGE),
        _ => Ok(()),
    }
}

/// How many bytes may be buffered while `front` (the oldest waiting request, if any) waits:
/// reading from the kernel pauses at this size.
pub fn buffer_cap(front: Option<&ReadKind>, limits: &InputLimits) -> usize {
    match front {
        None => READ_AHEAD.min(limits.input),
        Some(ReadKind::Max(_)) => limits.input,
        Some(ReadKind::Line) => limits.line,
        Some(ReadKind::Until { delimiter, max }) => match bounded_max(*max, limits) {
            Some(max) => max + delimiter.len(),
            None => limits.line,
        },
        Some(ReadKind::All) => limits.read,
        Some(ReadKind::Exact(n)) => (*n).min(limits.read),
    }
}

/// An `Until` read's own `max`, when it applies (non-zero and within the line limit).
fn bounded_max(max: usize, limits: &InputLimits) -> Option<usize> {
    (max > 0 && max <= limits.line).then_some(max)
}

/// Takes what `kind` asks for from `buffer`, if it is there. `scanned` is how much of the
/// buffer earlier calls for the same request searched for a terminator in vain; it is updated,
/// and reset to 0 when the request is answered or fails.
pub fn serve(
    kind: &ReadKind,
    buffer: &mut Vec<u8>,
    eof: bool,
    limits: &InputLimits,
    scanned: &mut usize,
) -> Served {
    let served = match kind {
        ReadKind::Max(max) => {
            if buffer.is_empty() {
                return Served::Wait;
            }
            let n = (*max).max(1).min(buffer.len());
            Served::Data(take_front(buffer, n))
        }
        ReadKind::Until { delimiter, max } => {
            let bounded = bounded_max(*max, limits);
            let window = bounded.map_or(limits.line, |max| max + delimiter.len());
            match find_from(buffer, delimiter, scanned, window) {
                Some(at) => Served::Data(take_front(buffer, at + delimiter.len())),
                None => match bounded {
                    Some(max) if buffer.len() >= max => Served::Data(take_front(buffer, max)),
                    None if buffer.len() >= limits.line => Served::Fail(LINE_TOO_LONG),
                    _ => return Served::Wait,
                },
            }
        }
        ReadKind::Line => match find_from(buffer, b"\n", scanned, limits.line) {
            Some(at) => {
                let mut line = take_front(buffer, at + 1);
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                Served::Data(line)
            }
            None if buffer.len() >= limits.line => Served::Fail(LINE_TOO_LONG),
            None => return Served::Wait,
        },
        // At the end of input with nothing left, "*a" fails with "closed" whether or not the
        // connection was already cleared away (it raced: `true, ""` or `false, nil, "closed"`).
        ReadKind::All if eof && buffer.is_empty() => return Served::Wait,
        ReadKind::All if eof => Served::Data(std::mem::take(buffer)),
        ReadKind::All if buffer.len() >= limits.read => Served::Fail(READ_TOO_LARGE),
        ReadKind::All => return Served::Wait,
        ReadKind::Exact(n) if *n > limits.read => Served::Fail(READ_TOO_LARGE),
        ReadKind::Exact(n) if buffer.len() >= *n => Served::Data(take_front(buffer, *n)),
        ReadKind::Exact(_) => return Served::Wait,
    };
    *scanned = 0;
    served
}

/// The first `n` bytes of `buffer` (all of it without a copy when `n` is its length).
fn take_front(buffer: &mut Vec<u8>, n: usize) -> Vec<u8> {
    if n >= buffer.len() {
        return std::mem::take(buffer);
    }
    let rest = buffer.split_off(n);
    std::mem::replace(buffer, rest)
}

/// Where `needle` starts in the first `window` bytes of `haystack`, searching only bytes not
/// searched before (`scanned`, updated when nothing is found).
fn find_from(haystack: &[u8], needle: &[u8], scanned: &mut usize, window: usize) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    let end = haystack.len().min(window);
    // A needle may straddle the end of the previous scan.
    let start = scanned.saturating_sub(needle.len() - 1).min(end);
    let found = if needle.len() == 1 {
        haystack[start..end].iter().position(|&b| b == needle[0])
    } else {
        haystack[start..end]
            .windows(needle.len())
            .position(|window| window == needle)
    };
    match found {
        Some(at) => Some(start + at),
        None => {
            *scanned = end;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(kind: &ReadKind, buffer: &mut Vec<u8>, eof: bool) -> Served {
        serve(kind, buffer, eof, &InputLimits::default(), &mut 0)
    }

    #[test]
    fn read_kinds_take_what_they_ask_for() {
        let mut buffer = b"hello\r\nworld|rest".to_vec();
        assert_eq!(
            take(&ReadKind::Line, &mut buffer, false),
            Served::Data(b"hello".to_vec())
        );
        let until = ReadKind::Until {
            delimiter: b"|".to_vec(),
            max: 100,
        };
        assert_eq!(
            take(&until, &mut buffer, false),
            Served::Data(b"world|".to_vec())
        );
        assert_eq!(take(&ReadKind::Exact(5), &mut buffer, false), Served::Wait);
        assert_eq!(take(&ReadKind::All, &mut buffer, false), Served::Wait);
        assert_eq!(
            take(&ReadKind::Max(2), &mut buffer, false),
            Served::Data(b"re".to_vec())
        );
        assert_eq!(
            take(&ReadKind::All, &mut buffer, true),
            Served::Data(b"st".to_vec())
        );
        assert_eq!(take(&ReadKind::Max(2), &mut buffer, true), Served::Wait);
    }

    #[test]
    fn until_without_delimiter_stops_at_max() {
        let mut buffer = b"abcdef".to_vec();
        let until = ReadKind::Until {
            delimiter: b"\n".to_vec(),
            max: 4,
        };
        assert_eq!(
            take(&until, &mut buffer, false),
            Served::Data(b"abcd".to_vec())
        );
        assert_eq!(buffer, b"ef");
    }

    #[test]
    fn a_line_past_the_limit_fails_and_scans_resume_where_they_stopped() {
        let limits = InputLimits {
            line: 8,
            ..InputLimits::default()
        };
        let mut scanned = 0;
        let mut buffer = b"abcd".to_vec();
        let served = serve(&ReadKind::Line, &mut buffer, false, &limits, &mut scanned);
        assert_eq!((served, scanned), (Served::Wait, 4));
        buffer.extend_from_slice(b"ef\nxyz");
        let served = serve(&ReadKind::Line, &mut buffer, false, &limits, &mut scanned);
        assert_eq!(served, Served::Data(b"abcdef".to_vec()));
        assert_eq!((scanned, buffer.as_slice()), (0, &b"xyz"[..]));
        buffer.extend_from_slice(b"123456789");
        let served = serve(&ReadKind::Line, &mut buffer, false, &limits, &mut scanned);
        assert_eq!(served, Served::Fail(LINE_TOO_LONG));
    }

    #[test]
    fn a_delimiter_straddling_two_scans_is_found() {
        let until = ReadKind::Until {
            delimiter: b"\r\n".to_vec(),
            max: 0,
        };
        let (limits, mut scanned) = (InputLimits::default(), 0);
        let mut buffer = b"abc\r".to_vec();
        let served = serve(&until, &mut buffer, false, &limits, &mut scanned);
        assert_eq!(served, Served::Wait);
        buffer.push(b'\n');
        let served = serve(&until, &mut buffer, false, &limits, &mut scanned);
        assert_eq!(served, Served::Data(b"abc\r\n".to_vec()));
    }

    #[test]
    fn huge_counts_and_endless_reads_fail_instead_of_buffering_for_ever() {
        let limits = InputLimits {
            read: 16,
            ..InputLimits::default()
        };
        assert_eq!(
            check(&ReadKind::Exact(1 << 40), &limits),
            Err(READ_TOO_LARGE)
        );
        assert_eq!(check(&ReadKind::Exact(16), &limits), Ok(()));
        let mut buffer = vec![b'x'; 16];
        let served = serve(&ReadKind::All, &mut buffer, false, &limits, &mut 0);
        assert_eq!(served, Served::Fail(READ_TOO_LARGE));
        assert_eq!(buffer_cap(Some(&ReadKind::Exact(1 << 40)), &limits), 16);
    }
}
