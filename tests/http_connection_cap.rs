//! The HTTP server's connection cap (`max_connections`): idle keep-alive connections cannot lock
//! other clients out — a new client past the cap closes the connection that has been idle the
//! longest — and only when every connection is busy is a new client answered 503 and closed.

mod support;

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use support::{
    Running, TempDir, curl, http_server_script, raw_connect, read_http_response, read_until_closed,
    start_http_server,
};

/// `/hold` is handled for 2 s (announced by `holding` on stdout); anything else at once.
const HANDLER: &str = r#"function(req)
  if req.path == "/hold" then
    print("holding") io.stdout:flush()
    _PY.sleep(2)
  end
  return 200, "ok " .. req.path
end"#;

fn server(max_connections: usize) -> (TempDir, Running, u16) {
    start_http_server(&http_server_script(
        HANDLER,
        &format!("{{max_connections = {max_connections}}}"),
    ))
}

/// Sends a keep-alive GET of `path` on `stream` and checks the answer.
fn get(stream: &TcpStream, path: &str) {
    let mut writer = stream.try_clone().expect("clone stream");
    write!(writer, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").expect("send request");
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let response = read_http_response(&mut reader, false)
        .expect("read response")
        .expect("a response");
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.body_text(), format!("ok {path}"));
}

/// True if the server closed `stream` (within `wait`) without sending anything.
fn closed_quietly(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).expect("set timeout");
    let (data, closed) = read_until_closed(stream);
    assert!(data.is_empty(), "unexpected bytes: {data:?}");
    closed
}

#[test]
fn at_the_cap_a_new_client_closes_the_idlest_keep_alive_connection() {
    const CAP: usize = 20;
    let (_dir, server, port) = server(CAP);
    let mut idle: Vec<TcpStream> = Vec::new();
    for n in 0..CAP {
        let stream = raw_connect(port);
        get(&stream, &format!("/warm{n}"));
        idle.push(stream);
        if n == 0 {
            // The first connection is clearly the idlest.
            thread::sleep(Duration::from_millis(100));
        }
    }
    let started = Instant::now();
    let out = curl(&["-s", "-S", &format!("http://127.0.0.1:{port}/newcomer")]);
    out.assert_code(0);
    assert_eq!(out.stdout, "ok /newcomer");
    // Without eviction the newcomer got 503 (and waited 30 s for the idle timeout to help).
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        closed_quietly(&mut idle[0], Duration::from_secs(5)),
        "the idlest connection was not closed"
    );
    // The others are still open and usable.
    assert!(!closed_quietly(
        &mut idle[CAP - 1],
        Duration::from_millis(200)
    ));
    idle[CAP - 1]
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    get(&idle[CAP - 1], "/again");
    server.kill_and_collect().assert_no_panic();
}

#[test]
fn at_the_cap_with_every_connection_busy_a_new_client_gets_503() {
    let (_dir, mut server, port) = server(5);
    let busy: Vec<TcpStream> = (0..5)
        .map(|_| {
            let mut stream = raw_connect(port);
            stream
                .write_all(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            stream
        })
        .collect();
    server.wait_for_count("holding", 5, false);
    for n in 0..3 {
        let mut stream = raw_connect(port);
        let (data, closed) = read_until_closed(&mut stream);
        let text = String::from_utf8_lossy(&data).into_owned();
        assert!(text.starts_with("HTTP/1.1 503"), "extra {n}: got {text:?}");
        assert!(closed, "extra {n} stayed open after 503");
    }
    // The busy ones get their answers; then they are idle and make room again.
    for stream in &busy {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let response = read_http_response(&mut reader, false).unwrap().unwrap();
        assert_eq!(response.body_text(), "ok /hold");
    }
    let out = curl(&["-s", "-S", &format!("http://127.0.0.1:{port}/room")]);
    out.assert_code(0);
    assert_eq!(out.stdout, "ok /room");
    server.kill_and_collect().assert_no_panic();
}
