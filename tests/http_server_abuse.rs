//! The HTTP server facing hostile or broken clients: 1,000 malformed and truncated requests,
//! slowloris connections and stalled requests (408 after `read_timeout`); the connection cap is
//! in `http_connection_cap.rs`. After each, normal requests must still be served and the
//! runtime must never panic.

mod support;

use std::io::{BufReader, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use support::{
    Running, TempDir, curl, http_server_script, raw_connect, read_http_response, read_until_closed,
    start_http_server, url,
};

fn server(handler: &str, opts: &str) -> (TempDir, Running, u16) {
    start_http_server(&http_server_script(handler, opts))
}

const OK_HANDLER: &str =
    r#"function(req) return 200, "ok " .. req.method .. " " .. req.path .. " " .. #req.body end"#;

/// Asserts a normal GET through curl gets the expected answer.
fn assert_serves(port: u16, path: &str) {
    let out = curl(&["-s", "-S", &url(port, path)]);
    out.assert_code(0);
    assert_eq!(out.stdout, format!("ok GET {path} 0"), "{out:?}");
}

/// A small deterministic generator (xorshift64*), seeded by the test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Requests that are valid, to be truncated or mutated.
const VALID: &[&str] = &[
    "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /a/b?x=1&y=%41%42 HTTP/1.1\r\nHost: x\r\nUser-Agent: fuzz\r\nAccept: */*\r\n\r\n",
    "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world",
    "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: t\r\n\r\n",
    "PUT /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /old HTTP/1.0\r\n\r\n",
    "GET /k HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
];

/// Hand-written malformed requests.
const NASTY: &[&str] = &[
    "GARBAGE\r\n\r\n",
    "\r\n\r\n\r\n",
    "GET\r\n\r\n",
    "GET /\r\n\r\n",
    "GET / HTTP/9.9\r\n\r\n",
    "GET / HTTP/1.1\r\nNo-Colon-Here\r\n\r\n",
    "GET / HTTP/1.1\r\n: empty name\r\n\r\n",
    "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: x\r\n\tfolded continuation\r\n\r\n",
    "POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    "POST / HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n",
    "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n",
    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n",
    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
    "GET /\x00nul HTTP/1.1\r\n\r\n",
    "GET / HTTP/1.1\r\nX: \x01\x02\x7f\r\n\r\n",
    "GET / HTTP/1.1\nHost: bare-lf\n\n",
    "\x16\x03\x01\x00\x05hello",
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "GET http://example.com/abs HTTP/1.1\r\nHost: x\r\n\r\n",
    "CONNECT x:443 HTTP/1.1\r\n\r\n",
    "GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
    "GET /%zz%%%ff?%=%&&&==& HTTP/1.1\r\nHost: x\r\n\r\n",
];

/// Case `i` of the fuzz run: random bytes, truncated or mutated valid requests, nasties,
/// valid requests with random header values, or long junk.
fn fuzz_case(rng: &mut Rng) -> Vec<u8> {
    match rng.below(6) {
        0 => {
            let len = rng.below(300);
            rng.bytes(len)
        }
        1 => {
            let valid = rng.pick(VALID).as_bytes();
            let cut = rng.below(valid.len());
            valid[..cut].to_vec()
        }
        2 => {
            let mut bytes = rng.pick(VALID).as_bytes().to_vec();
            for _ in 0..1 + rng.below(5) {
                let at = rng.below(bytes.len());
                bytes[at] = rng.next() as u8;
            }
            bytes
        }
        3 => {
            let mut bytes = rng.pick(NASTY).as_bytes().to_vec();
            if rng.below(3) == 0 {
                let cut = rng.below(bytes.len() + 1);
                bytes.truncate(cut);
            }
            bytes
        }
        4 => {
            let mut bytes = b"GET /r HTTP/1.1\r\nHost: x\r\nX-Junk: ".to_vec();
            let len = rng.below(200);
            bytes.extend(rng.bytes(len));
            bytes.extend_from_slice(b"\r\n\r\n");
            bytes
        }
        _ => {
            // Many tiny header lines or one long line of printable junk.
            let mut bytes = b"GET /long HTTP/1.1\r\n".to_vec();
            if rng.below(2) == 0 {
                for n in 0..rng.below(300) {
                    bytes.extend_from_slice(format!("H{n}: v\r\n").as_bytes());
                }
            } else {
                let len = rng.below(30_000);
                bytes.extend((0..len).map(|_| b'a' + (rng.next() % 26) as u8));
            }
            if rng.below(2) == 0 {
                bytes.extend_from_slice(b"\r\n\r\n");
            }
            bytes
        }
    }
}

#[test]
fn a_thousand_malformed_requests_do_not_break_the_server() {
    let (_dir, mut srv, port) = server(OK_HANDLER, "nil");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut answered, mut closed_silently, mut read_timeouts, mut write_errors) = (0, 0, 0, 0);
    let mut statuses = std::collections::BTreeMap::new();
    for case in 0..1000 {
        let bytes = fuzz_case(&mut rng);
        let read_back = rng.below(5) == 0;
        let mut stream = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("case {case}: cannot connect: {e}"));
        stream
            .set_write_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        if stream.write_all(&bytes).is_err() {
            write_errors += 1;
            continue;
        }
        if !read_back {
            continue; // dropped: the client closes right after sending
        }
        let _ = stream.shutdown(Shutdown::Write);
        let (data, closed) = read_until_closed(&mut stream);
        if !closed {
            read_timeouts += 1;
        }
        if data.is_empty() {
            closed_silently += 1;
            continue;
        }
        answered += 1;
        assert!(
            data.starts_with(b"HTTP/1.1 "),
            "case {case}: sent {:?}, got a non-HTTP answer {:?}",
            String::from_utf8_lossy(&bytes),
            String::from_utf8_lossy(&data)
        );
        let status = String::from_utf8_lossy(&data[9..12.min(data.len())]).into_owned();
        *statuses.entry(status).or_insert(0) += 1;
    }
    eprintln!(
        "fuzz: {answered} answered (statuses {statuses:?}), {closed_silently} closed without answer, \
         {read_timeouts} read timeouts (100 ms), {write_errors} write errors"
    );
    assert!(answered > 0, "no fuzz case got any answer");
    assert!(srv.is_running(), "the server died:\n{}", srv.stderr_text());

    // Still correct for a normal request, through curl and pipelined on a raw socket.
    assert_serves(port, "/after-fuzz");
    let mut stream = raw_connect(port);
    stream
        .write_all(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\nPOST /y HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
        .unwrap();
    let mut reader = BufReader::new(stream);
    let first = read_http_response(&mut reader, false).unwrap().unwrap();
    let second = read_http_response(&mut reader, false).unwrap().unwrap();
    assert_eq!(first.body_text(), "ok GET /x 0");
    assert_eq!(second.body_text(), "ok POST /y 2");
    let out = srv.kill_and_collect();
    out.assert_no_panic();
}

#[test]
fn slowloris_connections_do_not_starve_a_normal_request() {
    let (_dir, srv, port) = server(OK_HANDLER, "nil");
    const SLOW: usize = 100;
    const REQUEST: &[u8] = b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n";
    let (ready_tx, ready_rx) = mpsc::channel();
    let loris = thread::spawn(move || {
        let mut streams: Vec<TcpStream> = (0..SLOW)
            .map(|_| {
                let stream = TcpStream::connect(("127.0.0.1", port)).expect("slow connect");
                stream
                    .set_write_timeout(Some(Duration::from_secs(2)))
                    .unwrap();
                stream
            })
            .collect();
        let mut sent = 0;
        // One byte per connection per second, for about 3 s.
        for round in 0..4 {
            for stream in &mut streams {
                let _ = stream.write_all(&REQUEST[round..round + 1]);
            }
            sent += 1;
            if round == 0 {
                let _ = ready_tx.send(());
            }
            if round < 3 {
                thread::sleep(Duration::from_secs(1));
            }
        }
        // None of them may have been answered: each request is still incomplete.
        let mut answered = 0;
        for stream in &mut streams {
            stream
                .set_read_timeout(Some(Duration::from_millis(10)))
                .unwrap();
            let mut buf = [0u8; 64];
            if let Ok(n) = std::io::Read::read(stream, &mut buf)
                && n > 0
            {
                answered += 1;
            }
        }
        (sent, answered)
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("slowloris connections set up");
    thread::sleep(Duration::from_millis(1200));

    let started = Instant::now();
    let out = curl(&["-s", "-S", "--max-time", "5", &url(port, "/normal")]);
    let curl_delay = started.elapsed();
    out.assert_code(0);
    assert_eq!(out.stdout, "ok GET /normal 0");
    assert!(
        curl_delay < Duration::from_secs(5),
        "curl took {curl_delay:?} while 100 slowloris connections were open"
    );
    // The same without curl's process start-up.
    let started = Instant::now();
    let mut stream = raw_connect(port);
    stream
        .write_all(b"GET /raw HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let resp = read_http_response(&mut BufReader::new(stream), false)
        .unwrap()
        .unwrap();
    let raw_delay = started.elapsed();
    assert_eq!(resp.body_text(), "ok GET /raw 0");
    eprintln!(
        "slowloris ({SLOW} connections, 1 byte/s): curl request took {curl_delay:?} \
         (incl. curl start-up), raw socket request took {raw_delay:?}"
    );
    let (rounds, answered) = loris.join().unwrap();
    assert_eq!(rounds, 4);
    assert_eq!(answered, 0, "incomplete slowloris requests were answered");
    let out = srv.kill_and_collect();
    out.assert_no_panic();
}

#[test]
fn a_stalled_request_gets_408_after_read_timeout() {
    let (_dir, srv, port) = server(OK_HANDLER, "{read_timeout = 0.5}");
    let started = Instant::now();
    // Half a head.
    let mut head = raw_connect(port);
    head.write_all(b"GET /stalled HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    // A complete head, a tenth of the body.
    let mut body = raw_connect(port);
    body.write_all(b"POST /stalled HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        .unwrap();
    // Connected but silent: not a started request, so no 408 (idle_timeout is 30 s).
    let mut idle = raw_connect(port);

    for (name, stream) in [("half head", &mut head), ("partial body", &mut body)] {
        let (data, closed) = read_until_closed(stream);
        let elapsed = started.elapsed();
        let text = String::from_utf8_lossy(&data).into_owned();
        eprintln!(
            "{name}: answered after {elapsed:?}: {:?}",
            text.lines().next()
        );
        assert!(text.starts_with("HTTP/1.1 408"), "{name}: got {text:?}");
        assert!(closed, "{name}: connection left open after 408");
        assert!(
            elapsed >= Duration::from_millis(450),
            "{name}: 408 came before read_timeout: {elapsed:?}"
        );
    }

    idle.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let (data, closed) = read_until_closed(&mut idle);
    assert!(
        data.is_empty() && !closed,
        "an idle connection got {:?} (closed: {closed}) after {:?}",
        String::from_utf8_lossy(&data),
        started.elapsed()
    );
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    idle.write_all(b"GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let resp = read_http_response(&mut BufReader::new(idle), false)
        .unwrap()
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body_text(), "ok GET /late 0");
    let out = srv.kill_and_collect();
    out.assert_no_panic();
}
