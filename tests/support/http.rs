//! HTTP server tests: a plua server script that prints `port=N`, and its peers: curl, raw
//! sockets, and a small response reader (`Content-Length` framing, interim 1xx kept apart).

use std::io::Read;
use std::process::Command;
use std::time::Duration;

use super::process::*;

/// Writes `src` as `server.lua` into a fresh temp dir, runs it (no `--run-for`: the server keeps
/// the process alive until it is stopped or killed) and waits for its `port=N` line.
pub fn start_http_server(src: &str) -> (TempDir, Running, u16) {
    let dir = TempDir::new();
    dir.write("server.lua", src);
    let mut server = Running::script_with_args(&dir, "server.lua", &[]);
    let port = server.line_after("port=");
    let port: u16 = port.trim().parse().unwrap_or_else(|_| {
        panic!(
            "server printed port={port:?}\n--- stderr ---\n{}",
            server.stderr_text()
        )
    });
    assert!(port > 0);
    (dir, server, port)
}

/// Lua source of a server script: `handler` is a Lua function expression, `opts` a Lua table
/// expression (or `nil`). The script prints `port=N` and flushes; the server id is the global
/// `server_id`.
pub fn http_server_script(handler: &str, opts: &str) -> String {
    format!(
        "local handler = {handler}\n\
         local id, port = _PY.http_server_start(\"127.0.0.1\", 0, handler, {opts})\n\
         if not id then error(\"http_server_start failed: \" .. tostring(port)) end\n\
         server_id = id\n\
         print(\"port=\" .. port)\n\
         io.stdout:flush()\n"
    )
}

/// Runs `curl <args>` (with `--max-time 15`) under the guard and returns its output.
pub fn curl(args: &[&str]) -> Output {
    let mut cmd = Command::new("curl");
    cmd.arg("--max-time").arg("15").args(args);
    run_with_timeout(cmd, None, GUARD)
}

/// `http://127.0.0.1:{port}{path}`.
pub fn url(port: u16, path: &str) -> String {
    format!("http://127.0.0.1:{port}{path}")
}

/// `curl -s -S -i <args>`: asserts curl succeeded and returns the parsed response.
pub fn curl_i(args: &[&str]) -> HttpResponse {
    let mut all = vec!["-s", "-S", "-i"];
    all.extend_from_slice(args);
    let out = curl(&all);
    assert_eq!(
        out.code,
        Some(0),
        "curl {args:?} failed\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.stdout,
        out.stderr
    );
    parse_curl_i(out.stdout.as_bytes())
}

/// A `curl -i` style response split into parts; interim `1xx` responses are kept apart.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status line, e.g. `HTTP/1.1 200 OK`.
    pub status_line: String,
    pub status: u16,
    /// Header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Status codes of interim (1xx) responses that came before this one.
    pub interim: Vec<u16>,
}

impl HttpResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn parse_status_and_headers(head: &str) -> (String, u16, Vec<(String, String)>) {
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("").to_owned();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter(|line| !line.is_empty())
        .filter_map(|line| {
            line.split_once(':')
                .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect();
    (status_line, status, headers)
}

/// Splits the stdout of `curl -i` (one request) into head and body, skipping interim 1xx blocks.
pub fn parse_curl_i(out: &[u8]) -> HttpResponse {
    let mut rest = out;
    let mut interim = Vec::new();
    loop {
        let end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| {
                panic!(
                    "no header end in curl output: {:?}",
                    String::from_utf8_lossy(out)
                )
            });
        let head = String::from_utf8_lossy(&rest[..end]).into_owned();
        let (status_line, status, headers) = parse_status_and_headers(&head);
        rest = &rest[end + 4..];
        if (100..200).contains(&status) {
            interim.push(status);
            continue;
        }
        return HttpResponse {
            status_line,
            status,
            headers,
            body: rest.to_vec(),
            interim,
        };
    }
}

/// Connects to 127.0.0.1:port with 10 s read and write timeouts.
pub fn raw_connect(port: u16) -> std::net::TcpStream {
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to server");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set read timeout");
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .expect("set write timeout");
    stream
}

/// Reads one response off `reader` (`Content-Length` framing; a response without it runs to
/// end of stream). Interim 1xx responses are collected in `interim`. `Ok(None)` at a clean end
/// of stream before any byte of a response.
pub fn read_http_response<R: std::io::BufRead>(
    reader: &mut R,
    head_only: bool,
) -> std::io::Result<Option<HttpResponse>> {
    let mut interim = Vec::new();
    loop {
        let mut head = String::new();
        loop {
            let mut line = Vec::new();
            let n = reader.read_until(b'\n', &mut line)?;
            if n == 0 {
                if head.is_empty() {
                    return Ok(None);
                }
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("end of stream inside a response head: {head:?}"),
                ));
            }
            let line = String::from_utf8_lossy(&line).into_owned();
            if line == "\r\n" || line == "\n" {
                break;
            }
            head.push_str(&line);
        }
        let (status_line, status, headers) = parse_status_and_headers(head.trim_end());
        if (100..200).contains(&status) {
            interim.push(status);
            continue;
        }
        let mut response = HttpResponse {
            status_line,
            status,
            headers,
            body: Vec::new(),
            interim,
        };
        let bodiless = head_only || status == 204 || status == 304;
        if !bodiless {
            match response.header("content-length").map(str::to_owned) {
                Some(length) => {
                    let length: usize = length.parse().map_err(|_| {
                        std::io::Error::new(std::io::ErrorKind::InvalidData, "bad Content-Length")
                    })?;
                    response.body = vec![0; length];
                    reader.read_exact(&mut response.body)?;
                }
                None => {
                    reader.read_to_end(&mut response.body)?;
                }
            }
        }
        return Ok(Some(response));
    }
}

/// Reads until the peer closes (or the socket's read timeout ends it). Returns the bytes and
/// whether a clean end of stream (or reset) was seen rather than a timeout.
pub fn read_until_closed(stream: &mut std::net::TcpStream) -> (Vec<u8>, bool) {
    let mut data = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (data, true),
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return (data, false);
            }
            Err(_) => return (data, true),
        }
    }
}
