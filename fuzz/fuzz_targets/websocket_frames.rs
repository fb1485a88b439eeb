//! WebSocket frame handling with plua's connection settings (`plua::ws::config`): bytes
//! from a peer read as frames by tungstenite, as a server (masked frames expected) or a client
//! (first input byte picks), with pings answered into a sink. Any input ends in messages and a
//! clean error, never a panic, and nothing bigger than the configured limit comes out.
#![no_main]

use std::io::{self, Read, Write};

use libfuzzer_sys::fuzz_target;
use tungstenite::WebSocket;
use tungstenite::protocol::Role;

/// A peer that sends `input` and then closes; what plua writes back goes nowhere.
struct Peer<'a> {
    input: &'a [u8],
    step: usize,
}

impl Read for Peer<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Short reads, as a socket gives them.
        let n = buf.len().min(self.input.len()).min(self.step);
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input = &self.input[n..];
        Ok(n)
    }
}

impl Write for Peer<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

const MAX_MESSAGE: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&options, input)) = data.split_first() else {
        return;
    };
    let role = if options & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let step = usize::from(options >> 1) * 37 + 1;
    let peer = Peer { input, step };
    let mut socket =
        WebSocket::from_raw_socket(peer, role, Some(plua::ws::config(MAX_MESSAGE)));
    for _ in 0..10_000 {
        match socket.read() {
            Ok(message) => assert!(message.len() <= MAX_MESSAGE),
            Err(_) => break,
        }
    }
});
