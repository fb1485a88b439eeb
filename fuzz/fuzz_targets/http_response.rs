//! The HTTP client's response parsing (`plua::http::client`: the head through httparse,
//! `Content-Length`, chunked and close-delimited bodies, interim 1xx answers), driven the way
//! the reactor drives it: a real client connection on 127.0.0.1 whose server side reads the
//! request and answers with the fuzz input, then closes. The first input byte picks the method
//! (GET or HEAD) and how the answer is split into writes. Invariants: no panic, the request
//! ends (a response or a failure, never a hang), and a body is never longer than the bytes the
//! server sent.
#![no_main]

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mio::{Events, Poll};
use plua::event::{EventQueue, NetEvent, Val};
use plua::http::client::{ClientRequest, HttpClient};
use plua::http::url::Url;
use plua::net::socket_table::SocketTable;

/// The poller and the listener the server side accepts on, kept for the whole run.
struct World {
    poll: Poll,
    /// The client's sockets register here (a handle on `poll`).
    table: SocketTable,
    events: Events,
    listener: TcpListener,
    address: SocketAddr,
    next_id: u64,
}

thread_local! {
    static WORLD: RefCell<World> = RefCell::new({
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        let poll = Poll::new().expect("poll");
        let table = SocketTable::new(poll.registry().try_clone().expect("registry"));
        World {
            poll,
            table,
            events: Events::with_capacity(16),
            listener,
            address,
            next_id: 100,
        }
    });
}

/// Pumps the client until the server side has read the whole request head.
fn send_request(world: &mut World, client: &mut HttpClient, id: u64, server: &mut TcpStream) {
    server.set_nonblocking(true).expect("nonblocking");
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut queue = EventQueue::default();
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        assert!(Instant::now() < deadline, "the request was never sent");
        client.on_ready(&mut world.table, id, false, &mut queue);
        assert!(queue.is_empty(), "failed before the answer: {queue:?}");
        match server.read(&mut buf) {
            Ok(0) => panic!("the client closed before its request"),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(_) => {
                let _ = world
                    .poll
                    .poll(&mut world.events, Some(Duration::from_millis(5)));
            }
        }
    }
    server.set_nonblocking(false).expect("blocking");
}

/// Pumps the client until operation 1 has an outcome; `None` after `limit`. On loopback the
/// answer is already in the client's socket, so one pass usually finishes.
fn outcome(world: &mut World, client: &mut HttpClient, id: u64, limit: Duration) -> Option<NetEvent> {
    let mut queue = EventQueue::default();
    let deadline = Instant::now() + limit;
    loop {
        client.on_ready(&mut world.table, id, true, &mut queue);
        if let Some(done) = queue.pop_front() {
            return Some(done);
        }
        if Instant::now() >= deadline {
            return None;
        }
        let _ = world
            .poll
            .poll(&mut world.events, Some(Duration::from_millis(20)));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&options, answer)) = data.split_first() else {
        return;
    };
    WORLD.with(|world| {
        let world = &mut *world.borrow_mut();
        world.next_id += 1;
        let id = world.next_id;
        let url = Url::parse(&format!("http://{}/fuzz", world.address)).expect("url");
        let request = ClientRequest {
            method: if options & 1 == 0 { "GET" } else { "HEAD" }.into(),
            url,
            headers: Vec::new(),
            body: Vec::new(),
            verify: false,
            ca_file: None,
            stream: false,
        };
        let mut client = HttpClient::default();
        let mut queue = EventQueue::default();
        client.connect(&mut world.table, id, world.address, 1, request, &mut queue);
        assert!(queue.is_empty(), "connecting to our own listener failed: {queue:?}");
        let (mut server, _) = world.listener.accept().expect("accept");
        send_request(world, &mut client, id, &mut server);
        let piece = usize::from(options >> 1) * 7 + 1;
        for chunk in answer.chunks(piece) {
            if server.write_all(chunk).is_err() {
                break;
            }
        }
        let _ = server.shutdown(Shutdown::Write);
        let done = outcome(world, &mut client, id, Duration::from_secs(5))
            .expect("the request never ended");
        let NetEvent::Complete { op: 1, values } = done else {
            panic!("unexpected event {done:?}");
        };
        if let Some(Val::Record(fields)) = values.get(1) {
            for (name, value) in fields {
                if *name == "body"
                    && let Val::Bytes(body) = value
                {
                    assert!(body.len() <= answer.len(), "body longer than the answer");
                }
            }
        }
        drop(client);
        drop(server);
    });
});
