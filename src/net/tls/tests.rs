//! Unit tests of the TLS transport: real sockets on 127.0.0.1, a test CA made with the
//! openssl CLI, and a real `openssl s_server`.

use super::*;
use mio::Interest;
use mio::{Events, Poll, Token};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long any test conversation may take before it counts as stuck.
const GUARD: Duration = Duration::from_secs(10);

/// A throw-away PKI made with the `openssl` CLI: a CA, and a server certificate it signed
/// for `localhost` and `127.0.0.1`. The directory goes away with the value.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new() -> Pki {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "plua-tls-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let pki = Pki { dir };
        pki.openssl(
            "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
             -keyout ca.key -out ca.pem -subj /CN=plua-test-CA \
             -addext basicConstraints=critical,CA:TRUE \
             -addext keyUsage=critical,keyCertSign,cRLSign",
        );
        pki.openssl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out server.key");
        pki.openssl("req -new -key server.key -subj /CN=localhost -out server.csr");
        std::fs::write(
            pki.path("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .expect("write server.ext");
        pki.openssl(
            "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
             -extfile server.ext -out server.pem",
        );
        pki
    }

    /// Runs `openssl` with these space-separated arguments in the PKI's directory.
    fn openssl(&self, args: &str) {
        let output = Command::new("openssl")
            .args(args.split_whitespace())
            .current_dir(&self.dir)
            .output()
            .expect("the openssl CLI is needed for the TLS tests");
        assert!(
            output.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn ca(&self) -> PathBuf {
        self.path("ca.pem")
    }

    fn server_config(&self) -> Arc<ServerConfig> {
        server_config(&self.path("server.pem"), &self.path("server.key")).expect("server config")
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One side of a test conversation and what it has done so far.
struct End {
    transport: TlsTransport,
    token: Token,
    received: Vec<u8>,
    outgoing: Vec<u8>,
    sent: usize,
    eof: bool,
    error: Option<String>,
    /// Send back whatever arrives.
    echo: bool,
    /// Call `shutdown` once everything outgoing is taken.
    close_after_sending: bool,
    shut: bool,
}

impl End {
    fn new(transport: TlsTransport, token: Token) -> End {
        End {
            transport,
            token,
            received: Vec::new(),
            outgoing: Vec::new(),
            sent: 0,
            eof: false,
            error: None,
            echo: false,
            close_after_sending: false,
            shut: false,
        }
    }

    /// Everything that can be done without blocking, as `tcp.rs` would do it.
    fn pump(&mut self) {
        if self.error.is_none()
            && let Err(error) = self.step()
        {
            self.error = Some(error.to_string());
        }
    }

    fn step(&mut self) -> io::Result<()> {
        self.transport.flush_pending()?;
        // A small limit, so that stopping at the limit and coming back is exercised.
        const LIMIT: usize = 16 * 1024;
        while !self.eof {
            let before = self.received.len();
            let status = self.transport.read_into(&mut self.received, LIMIT)?;
            assert_eq!(status.bytes, self.received.len() - before);
            assert!(status.bytes <= LIMIT);
            if self.echo {
                self.outgoing.extend_from_slice(&self.received[before..]);
            }
            self.eof = status.eof;
            if status.bytes < LIMIT {
                break;
            }
        }
        if self.sent < self.outgoing.len() && !self.shut {
            self.sent += self.transport.write_some(&self.outgoing[self.sent..])?;
        }
        let all_taken = self.sent == self.outgoing.len();
        if self.close_after_sending && all_taken && !self.shut {
            self.transport.shutdown();
            self.shut = true;
        }
        Ok(())
    }

    fn register(&mut self, poll: &Poll) {
        let wants_write = self.sent < self.outgoing.len();
        let interest = self.transport.interest(wants_write);
        poll.registry()
            .reregister(self.transport.socket(), self.token, interest)
            .expect("reregister");
    }
}

/// A non-blocking `mio` stream registered with `poll` under `token`.
fn registered(stream: std::net::TcpStream, poll: &Poll, token: Token) -> TcpStream {
    stream.set_nonblocking(true).expect("non-blocking");
    let mut stream = TcpStream::from_std(stream);
    poll.registry()
        .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
        .expect("register");
    stream
}

/// A connected pair over 127.0.0.1: a client for `server_name` and a server.
fn connect(
    client_config: Arc<ClientConfig>,
    server_name: &str,
    server_config: Arc<ServerConfig>,
) -> (Poll, End, End) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("local address");
    let client_stream = std::net::TcpStream::connect(address).expect("connect");
    let (server_stream, _) = listener.accept().expect("accept");
    let poll = Poll::new().expect("poll");
    let client_stream = registered(client_stream, &poll, Token(1));
    let server_stream = registered(server_stream, &poll, Token(2));
    let client =
        TlsTransport::client(client_stream, client_config, server_name).expect("client transport");
    let server = TlsTransport::server(server_stream, server_config).expect("server transport");
    (poll, End::new(client, Token(1)), End::new(server, Token(2)))
}

/// A connected stream nobody will use (for constructor checks).
fn idle_stream() -> TcpStream {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("local address");
    TcpStream::from_std(std::net::TcpStream::connect(address).expect("connect"))
}

/// Runs `ends` on readiness events until `done`, failing the test after [`GUARD`].
fn run_until(poll: &mut Poll, ends: &mut [&mut End], done: impl Fn(&[&mut End]) -> bool) {
    let deadline = Instant::now() + GUARD;
    let mut events = Events::with_capacity(16);
    loop {
        for end in ends.iter_mut() {
            end.pump();
        }
        if done(ends) {
            return;
        }
        for end in ends.iter_mut() {
            end.register(poll);
        }
        let now = Instant::now();
        if now >= deadline {
            let states: Vec<String> = ends
                .iter()
                .map(|end| {
                    format!(
                        "got {} bytes, eof {}, error {:?}",
                        end.received.len(),
                        end.eof,
                        end.error
                    )
                })
                .collect();
            panic!("stuck: {states:?}");
        }
        poll.poll(&mut events, Some(deadline - now)).expect("poll");
    }
}

/// [`run_until`] for a client and a server.
fn drive(poll: &mut Poll, client: &mut End, server: &mut End, done: impl Fn(&End, &End) -> bool) {
    run_until(poll, &mut [client, server], |ends| {
        done(&*ends[0], &*ends[1])
    });
}

fn failed(end: &End) -> bool {
    end.error.is_some()
}

/// Pseudo-random bytes (xorshift), so that a misplaced chunk cannot go unnoticed.
fn payload(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// FNV-1a.
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn echo_round_trip(len: usize) {
    let pki = Pki::new();
    let config = client_config(true, Some(&pki.ca())).expect("client config");
    let (mut poll, mut client, mut server) = connect(config, "localhost", pki.server_config());
    assert!(!client.transport.is_established());
    client.outgoing = payload(len);
    server.echo = true;
    drive(&mut poll, &mut client, &mut server, |client, server| {
        failed(client) || failed(server) || client.received.len() >= len
    });
    assert_eq!(client.error, None);
    assert_eq!(server.error, None);
    assert!(client.transport.is_established() && server.transport.is_established());
    assert_eq!(client.received.len(), len);
    assert_eq!(checksum(&client.received), checksum(&client.outgoing));
    assert!(client.received == client.outgoing);
}

#[test]
fn a_megabyte_makes_the_round_trip_intact() {
    echo_round_trip(1_000_000);
}

#[test]
fn writes_before_the_handshake_are_buffered_up_to_the_limit() {
    let pki = Pki::new();
    let config = client_config(true, Some(&pki.ca())).expect("client config");
    let (_poll, mut client, _server) = connect(config, "localhost", pki.server_config());
    let data = payload(3 * BUFFER_LIMIT);
    let taken = client.transport.write_some(&data).expect("write_some");
    assert!(!client.transport.is_established());
    assert!(taken > 0 && taken <= BUFFER_LIMIT, "took {taken}");
    // A full buffer takes nothing more, without an error.
    let more = client
        .transport
        .write_some(&data[taken..])
        .expect("write_some");
    assert!(more == 0, "took {more} more");
    // And the whole lot still goes through once the handshake is done.
    echo_round_trip(3 * BUFFER_LIMIT);
}

#[test]
fn the_ca_as_extra_file_is_trusted_also_for_an_ip_address() {
    let pki = Pki::new();
    let config = client_config(true, Some(&pki.ca())).expect("client config");
    let (mut poll, mut client, mut server) = connect(config, "127.0.0.1", pki.server_config());
    client.outgoing = b"ping".to_vec();
    server.echo = true;
    drive(&mut poll, &mut client, &mut server, |client, server| {
        failed(client) || failed(server) || client.received.len() >= 4
    });
    assert_eq!(client.error, None);
    assert_eq!(client.received, b"ping");
}

#[test]
fn an_unknown_issuer_fails_with_a_certificate_error() {
    let pki = Pki::new();
    let config = client_config(true, None).expect("client config");
    let (mut poll, mut client, mut server) = connect(config, "localhost", pki.server_config());
    client.outgoing = b"secret".to_vec();
    drive(&mut poll, &mut client, &mut server, |client, server| {
        failed(client) && failed(server)
    });
    let message = client.error.unwrap_or_default();
    assert!(message.contains("certificate verify failed"), "{message}");
    assert!(message.contains("unknown issuer"), "{message}");
    assert!(
        server.received.is_empty(),
        "plaintext leaked before verification"
    );
}

#[test]
fn a_wrong_host_name_fails_naming_the_host() {
    let pki = Pki::new();
    let config = client_config(true, Some(&pki.ca())).expect("client config");
    let (mut poll, mut client, mut server) = connect(config, "wrong.example", pki.server_config());
    drive(&mut poll, &mut client, &mut server, |client, _| {
        failed(client)
    });
    let message = client.error.unwrap_or_default();
    assert!(
        message.contains("certificate is not valid for host 'wrong.example'"),
        "{message}"
    );
    assert!(
        message.ends_with("(it is valid for localhost, 127.0.0.1)"),
        "{message}"
    );
}

#[test]
fn without_verification_any_certificate_passes() {
    let pki = Pki::new();
    let config = client_config(false, None).expect("client config");
    let (mut poll, mut client, mut server) = connect(config, "wrong.example", pki.server_config());
    client.outgoing = b"hello".to_vec();
    server.echo = true;
    drive(&mut poll, &mut client, &mut server, |client, server| {
        failed(client) || failed(server) || client.received.len() >= 5
    });
    assert_eq!(client.error, None);
    assert_eq!(client.received, b"hello");
}

#[test]
fn the_common_client_configs_are_shared() {
    let first = client_config(false, None).expect("config");
    let second = client_config(false, None).expect("config");
    assert!(Arc::ptr_eq(&first, &second));
    let first = client_config(true, None).expect("config");
    let second = client_config(true, None).expect("config");
    assert!(Arc::ptr_eq(&first, &second));
}

#[test]
fn close_notify_is_eof_for_the_peer() {
    let pki = Pki::new();
    let config = client_config(true, Some(&pki.ca())).expect("client config");
    let (mut poll, mut client, mut server) = connect(config, "localhost", pki.server_config());
    client.outgoing = b"last words".to_vec();
    drive(&mut poll, &mut client, &mut server, |_, server| {
        failed(server) || server.received.len() >= 10
    });
    // close_notify alone, TCP stays open: the server must still see the end.
    client.transport.conn.send_close_notify();
    assert!(client.transport.flush_pending().expect("flush"));
    drive(&mut poll, &mut client, &mut server, |_, server| {
        failed(server) || server.eof
    });
    assert_eq!(server.error, None);
    assert_eq!(server.received, b"last words");
    // The server answers and shuts down properly: the client sees data, then the end.
    server.outgoing = b"goodbye".to_vec();
    server.close_after_sending = true;
    drive(&mut poll, &mut client, &mut server, |client, _| {
        failed(client) || client.eof
    });
    assert_eq!(client.error, None);
    assert_eq!(client.received, b"goodbye");
    assert!(server.transport.write_some(b"more").is_err());
}

#[test]
fn tcp_eof_without_close_notify_is_eof_too() {
    let pki = Pki::new();
    let config = client_config(true, Some(&pki.ca())).expect("client config");
    let (mut poll, mut client, mut server) = connect(config, "localhost", pki.server_config());
    client.outgoing = b"abrupt".to_vec();
    drive(&mut poll, &mut client, &mut server, |_, server| {
        failed(server) || server.received.len() >= 6
    });
    client
        .transport
        .socket()
        .shutdown(Shutdown::Write)
        .expect("shutdown");
    drive(&mut poll, &mut client, &mut server, |_, server| {
        failed(server) || server.eof
    });
    assert_eq!(server.error, None);
    assert_eq!(server.received, b"abrupt");
}

#[test]
fn rsa_and_sec1_keys_load_and_serve() {
    let pki = Pki::new();
    pki.openssl("ec -in server.key -out sec1.key");
    let sec1 = std::fs::read_to_string(pki.path("sec1.key")).expect("sec1 key");
    assert!(sec1.starts_with("-----BEGIN EC PRIVATE KEY-----"));
    server_config(&pki.path("server.pem"), &pki.path("sec1.key")).expect("SEC1 key");

    pki.openssl("genrsa -traditional -out rsa.key 2048");
    pki.openssl("req -x509 -key rsa.key -subj /CN=rsa -days 2 -out rsa.pem");
    let rsa = std::fs::read_to_string(pki.path("rsa.key")).expect("rsa key");
    assert!(rsa.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let rsa_server = server_config(&pki.path("rsa.pem"), &pki.path("rsa.key")).expect("RSA key");
    // verify = false still checks the (RSA-PSS) handshake signature against the key.
    let config = client_config(false, None).expect("client config");
    let (mut poll, mut client, mut server) = connect(config, "rsa", rsa_server);
    client.outgoing = b"rsa".to_vec();
    server.echo = true;
    drive(&mut poll, &mut client, &mut server, |client, server| {
        failed(client) || failed(server) || client.received.len() >= 3
    });
    assert_eq!(client.error, None);
    assert_eq!(client.received, b"rsa");
}

#[test]
fn file_and_name_problems_have_clear_messages() {
    let pki = Pki::new();
    let missing = pki.path("missing.pem");
    let error = client_config(true, Some(&missing)).expect_err("missing CA file");
    assert!(
        error.to_string().starts_with(&format!(
            "cannot read certificate file {}: ",
            missing.display()
        )),
        "{error}"
    );
    let error = client_config(false, Some(&pki.path("server.key"))).expect_err("no cert");
    assert_eq!(
        error.to_string(),
        format!("no certificate in {}", pki.path("server.key").display())
    );
    let error = server_config(&pki.path("server.pem"), &pki.path("ca.pem")).expect_err("no key");
    assert_eq!(
        error.to_string(),
        format!("no private key in {}", pki.path("ca.pem").display())
    );
    let error = server_config(&pki.path("server.pem"), &missing).expect_err("missing key");
    assert!(
        error
            .to_string()
            .starts_with("cannot read private key file"),
        "{error}"
    );
    let error = server_config(&pki.path("server.pem"), &pki.path("ca.key")).expect_err("mismatch");
    assert!(error.to_string().starts_with("tls: "), "{error}");

    let config = client_config(false, None).expect("client config");
    let error = TlsTransport::client(idle_stream(), config.clone(), "bad name!")
        .err()
        .expect("invalid name");
    assert_eq!(error.to_string(), "invalid server name 'bad name!'");
    TlsTransport::client(idle_stream(), config, "[::1]").expect("bracketed IPv6");
}

/// A child process killed when the test ends, however it ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// Connects to the `openssl` tool's server as soon as it listens.
fn connect_when_listening(port: u16, child: &mut Reaped) -> std::net::TcpStream {
    let deadline = Instant::now() + GUARD;
    loop {
        if let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            return stream;
        }
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!("openssl s_server exited early: {status}");
        }
        assert!(Instant::now() < deadline, "openssl s_server never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn against_openssl_s_server(extra_args: &[&str]) -> String {
    let pki = Pki::new();
    let port = free_port();
    let accept = format!("127.0.0.1:{port}");
    let mut args = vec![
        "s_server",
        "-accept",
        &accept,
        "-naccept",
        "1",
        "-www",
        "-cert",
        "server.pem",
        "-key",
        "server.key",
    ];
    args.extend_from_slice(extra_args);
    let mut child = Reaped(
        Command::new("openssl")
            .args(&args)
            .current_dir(&pki.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server"),
    );
    let stream = connect_when_listening(port, &mut child);
    let mut poll = Poll::new().expect("poll");
    let stream = registered(stream, &poll, Token(1));
    let config = client_config(true, Some(&pki.ca())).expect("client config");
    let transport = TlsTransport::client(stream, config, "localhost").expect("client");
    let mut client = End::new(transport, Token(1));
    client.outgoing = b"GET / HTTP/1.0\r\n\r\n".to_vec();
    run_until(&mut poll, &mut [&mut client], |ends| {
        ends[0].eof || ends[0].error.is_some()
    });
    assert_eq!(client.error, None);
    String::from_utf8_lossy(&client.received).into_owned()
}

#[test]
fn talks_to_openssl_s_server_over_tls13() {
    let page = against_openssl_s_server(&[]);
    assert!(page.starts_with("HTTP/1.0 200 ok"), "{page}");
    assert!(page.contains("TLSv1.3"), "{page}");
}

#[test]
fn talks_to_openssl_s_server_over_tls12() {
    let page = against_openssl_s_server(&["-tls1_2"]);
    assert!(page.starts_with("HTTP/1.0 200 ok"), "{page}");
    assert!(page.contains("TLSv1.2"), "{page}");
}
