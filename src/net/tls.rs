//! TLS over a non-blocking `mio` TCP stream. This file owns the [`TlsTransport`] that `tcp.rs`
//! drives through the [`Transport`] trait, the `rustls` client and server configurations (trust
//! roots, the "do not verify" verifier, certificate and key files) and the error texts users see
//! ("certificate verify failed: ..."). Only the `ring` crypto provider is used, and it is passed
//! to every configuration explicitly: nothing is installed process-wide, and nothing is built
//! before the first TLS connection asks for it.

use std::io::{self, BufRead, Write};
use std::net::Shutdown;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use mio::net::TcpStream;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, ClientConnection, Connection,
    DigitallySignedStruct, RootCertStore, ServerConfig, ServerConnection, SignatureScheme,
};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use super::transport::{ReadStatus, Transport};

/// The distribution's CA bundle (Debian, Ubuntu, Alpine, Arch), added to the roots when present.
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Most plaintext a connection holds before the handshake ends, and most encrypted bytes it
/// queues when the socket is full; `write_some` takes fewer bytes beyond that.
const BUFFER_LIMIT: usize = 1 << 20;

/// What can go wrong setting up or running TLS. The texts are shown to Lua scripts as they are.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The peer's certificate was rejected: unknown issuer, expired, bad signature, ...
    #[error("certificate verify failed: {0}")]
    Certificate(String),
    /// The peer's certificate is fine but names other hosts.
    #[error("certificate verify failed: certificate is not valid for host '{host}'{detail}")]
    NameMismatch {
        /// The name (or IP address) that was asked for.
        host: String,
        /// `" (it is valid for a, b)"` when the certificate's names are known, else empty.
        detail: String,
    },
    /// The peer refused our certificate (a server whose client gave up on it).
    #[error("certificate rejected by the peer (alert {0})")]
    RejectedByPeer(String),
    /// A certificate file is missing, unreadable or not PEM.
    #[error("cannot read certificate file {path}: {reason}")]
    CertificateFile { path: PathBuf, reason: String },
    /// A certificate file holds no (usable) certificate.
    #[error("no certificate in {0}")]
    NoCertificate(PathBuf),
    /// A private key file is missing, unreadable or not PEM.
    #[error("cannot read private key file {path}: {reason}")]
    KeyFile { path: PathBuf, reason: String },
    /// A key file holds no PKCS#8, PKCS#1 (RSA) or SEC1 (EC) private key.
    #[error("no private key in {0}")]
    NoPrivateKey(PathBuf),
    /// The name to connect to is neither a DNS name nor an IP address.
    #[error("invalid server name '{0}'")]
    InvalidServerName(String),
    /// Anything else `rustls` reports (protocol errors, alerts from the peer, bad keys).
    #[error("tls: {0}")]
    Rustls(rustls::Error),
}

impl TlsError {
    /// Classifies a `rustls` error; `host` is the name a client asked for, for name mismatches.
    pub fn from_rustls(error: rustls::Error, host: Option<&str>) -> TlsError {
        let certificate = match error {
            rustls::Error::InvalidCertificate(certificate) => certificate,
            rustls::Error::NoCertificatesPresented => {
                return TlsError::Certificate("the peer sent no certificate".into());
            }
            rustls::Error::AlertReceived(
                alert @ (AlertDescription::BadCertificate
                | AlertDescription::UnsupportedCertificate
                | AlertDescription::CertificateRevoked
                | AlertDescription::CertificateExpired
                | AlertDescription::CertificateUnknown
                | AlertDescription::UnknownCA),
            ) => return TlsError::RejectedByPeer(format!("{alert:?}")),
            other => return TlsError::Rustls(other),
        };
        let reason = match certificate {
            CertificateError::NotValidForName => {
                return TlsError::NameMismatch {
                    host: host.unwrap_or("?").to_owned(),
                    detail: String::new(),
                };
            }
            CertificateError::NotValidForNameContext {
                expected,
                presented,
            } => {
                let detail = if presented.is_empty() {
                    " (it names no host)".to_owned()
                } else {
                    let names: Vec<&str> = presented.iter().map(|name| bare_name(name)).collect();
                    format!(" (it is valid for {})", names.join(", "))
                };
                return TlsError::NameMismatch {
                    host: host.map_or_else(|| expected.to_str().into_owned(), str::to_owned),
                    detail,
                };
            }
            CertificateError::UnknownIssuer => {
                "unknown issuer (self-signed or not signed by a trusted CA)".to_owned()
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "certificate has expired".to_owned()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "certificate is not yet valid".to_owned()
            }
            CertificateError::Revoked => "certificate has been revoked".to_owned(),
            CertificateError::BadSignature => "bad certificate signature".to_owned(),
            CertificateError::BadEncoding => "malformed certificate".to_owned(),
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "certificate is not meant for TLS servers".to_owned()
            }
            other => other.to_string(),
        };
        TlsError::Certificate(reason)
    }
}

/// `localhost` from webpki's `DnsName("localhost")`, `127.0.0.1` from `IpAddress(127.0.0.1)`;
/// anything else unchanged.
fn bare_name(presented: &str) -> &str {
    presented
        .strip_prefix("DnsName(\"")
        .and_then(|rest| rest.strip_suffix("\")"))
        .or_else(|| {
            presented
                .strip_prefix("IpAddress(")
                .and_then(|rest| rest.strip_suffix(')'))
        })
        .unwrap_or(presented)
}

impl From<rustls::Error> for TlsError {
    fn from(error: rustls::Error) -> Self {
        TlsError::from_rustls(error, None)
    }
}

/// The `ring` provider, made once and shared by every configuration.
fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// A client configuration. `verify = false` accepts any certificate (handshake signatures are
/// still checked). Trusted roots: the Mozilla set from `webpki-roots`, the PEM file named by
/// `SSL_CERT_FILE`, the system bundle, and `extra_ca_file` (which must hold a certificate).
/// The two configurations without an extra file are built on first use and then shared.
pub fn client_config(
    verify: bool,
    extra_ca_file: Option<&Path>,
) -> Result<Arc<ClientConfig>, TlsError> {
    static VERIFYING: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    static ACCEPTING_ANY: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if verify && let Some(file) = extra_ca_file {
        return Ok(Arc::new(verifying_config(Some(file))?));
    }
    if let Some(file) = extra_ca_file {
        // Not needed without verification, but a wrong path should not pass unnoticed.
        load_certificates(file)?;
    }
    let cell = if verify { &VERIFYING } else { &ACCEPTING_ANY };
    if let Some(config) = cell.get() {
        return Ok(config.clone());
    }
    let config = if verify {
        verifying_config(None)?
    } else {
        accepting_config()?
    };
    Ok(cell.get_or_init(|| Arc::new(config)).clone())
}

fn verifying_config(extra_ca_file: Option<&Path>) -> Result<ClientConfig, TlsError> {
    let roots = trust_roots(extra_ca_file)?;
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn accepting_config() -> Result<ClientConfig, TlsError> {
    let verifier = AcceptAnyCertificate {
        algorithms: provider().signature_verification_algorithms,
    };
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

/// The roots a verifying client trusts: the shared [`system_roots`] plus `extra_ca_file`.
fn trust_roots(extra_ca_file: Option<&Path>) -> Result<RootCertStore, TlsError> {
    let mut roots = system_roots().clone();
    if let Some(file) = extra_ca_file {
        let (added, _ignored) = roots.add_parsable_certificates(load_certificates(file)?);
        if added == 0 {
            return Err(TlsError::NoCertificate(file.to_path_buf()));
        }
    }
    Ok(roots)
}

/// `webpki-roots`, the `SSL_CERT_FILE` file and the system bundle (unparsable entries skipped),
/// read once: parsing a few hundred certificates costs milliseconds.
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots: RootCertStore = webpki_roots::TLS_SERVER_ROOTS.iter().cloned().collect();
        let mut files: Vec<PathBuf> = Vec::new();
        if let Some(file) = std::env::var_os("SSL_CERT_FILE") {
            files.push(file.into());
        }
        if !files.iter().any(|file| file == Path::new(SYSTEM_BUNDLE)) {
            files.push(SYSTEM_BUNDLE.into());
        }
        for file in &files {
            if let Ok(certificates) = CertificateDer::pem_file_iter(file) {
                roots.add_parsable_certificates(certificates.filter_map(Result::ok));
            }
        }
        roots
    })
}

/// All certificates of a PEM file, in order; an error when there is none.
fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let unreadable = |error: pem::Error| TlsError::CertificateFile {
        path: path.to_path_buf(),
        reason: describe_pem_error(error),
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(unreadable)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(unreadable)?;
    if certificates.is_empty() {
        return Err(TlsError::NoCertificate(path.to_path_buf()));
    }
    Ok(certificates)
}

fn describe_pem_error(error: pem::Error) -> String {
    match error {
        pem::Error::Io(error) => error.to_string(),
        other => format!("not valid PEM ({other})"),
    }
}

/// A server configuration from a PEM certificate chain (leaf first) and a PEM private key
/// (PKCS#8, PKCS#1 RSA or SEC1 EC). No client certificates are asked for.
pub fn server_config(cert_pem: &Path, key_pem: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = load_certificates(cert_pem)?;
    let key = PrivateKeyDer::from_pem_file(key_pem).map_err(|error| match error {
        pem::Error::NoItemsFound => TlsError::NoPrivateKey(key_pem.to_path_buf()),
        other => TlsError::KeyFile {
            path: key_pem.to_path_buf(),
            reason: describe_pem_error(other),
        },
    })?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(Arc::new(config))
}

/// The verifier of `verify = false`: any certificate chain and name pass, but the handshake
/// signatures must still be valid for the certificate the server presented.
#[derive(Debug)]
struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A TLS connection (client or server side) over a non-blocking TCP stream.
///
/// Every method goes as far as it can without blocking, writing any records the handshake
/// needs on the way, so the caller only has to call [`Transport::read_into`] on readable,
/// [`Transport::flush_pending`] on writable, and register for [`Transport::interest`].
pub struct TlsTransport {
    conn: Connection,
    stream: TcpStream,
    /// The name a client connects to, for "not valid for host" messages.
    host: Option<String>,
    /// The peer will send nothing more (close_notify or TCP EOF).
    peer_done: bool,
    /// `shutdown` was called: no more plaintext is taken.
    closing: bool,
    /// The TCP FIN waits until the queued records (the close_notify) are on the socket.
    fin_pending: bool,
}

impl TlsTransport {
    /// The readiness this transport needs (the reactor registers for both once; tests that
    /// drive a transport with their own poll loop use this).
    #[cfg(test)]
    fn interest(&self, caller_wants_write: bool) -> mio::Interest {
        use mio::Interest;
        if caller_wants_write || self.conn.wants_write() || self.fin_pending {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        }
    }

    /// The client side, connecting to `server_name` (a DNS name or an IP address, IPv6 with
    /// or without brackets), which the certificate must match when verifying. Nothing is sent
    /// until the first [`Transport::flush_pending`], `read_into` or `write_some`, so `stream`
    /// may still be connecting.
    pub fn client(
        stream: TcpStream,
        config: Arc<ClientConfig>,
        server_name: &str,
    ) -> Result<Self, TlsError> {
        let bare = server_name
            .strip_prefix('[')
            .and_then(|name| name.strip_suffix(']'))
            .unwrap_or(server_name);
        let name = ServerName::try_from(bare.to_owned())
            .map_err(|_| TlsError::InvalidServerName(server_name.to_owned()))?;
        let conn = ClientConnection::new(config, name)?;
        Ok(Self::over(
            Connection::Client(conn),
            stream,
            Some(bare.to_owned()),
        ))
    }

    /// The server side of an accepted stream.
    pub fn server(stream: TcpStream, config: Arc<ServerConfig>) -> Result<Self, TlsError> {
        let conn = ServerConnection::new(config)?;
        Ok(Self::over(Connection::Server(conn), stream, None))
    }

    fn over(mut conn: Connection, stream: TcpStream, host: Option<String>) -> Self {
        conn.set_buffer_limit(Some(BUFFER_LIMIT));
        TlsTransport {
            conn,
            stream,
            host,
            peer_done: false,
            closing: false,
            fin_pending: false,
        }
    }

    /// Moves decrypted plaintext into `out`, at most `room` bytes; notes the peer's close.
    fn drain_plaintext(&mut self, out: &mut Vec<u8>, room: usize) -> io::Result<usize> {
        let mut taken = 0;
        let mut reader = self.conn.reader();
        while taken < room {
            let chunk = match reader.fill_buf() {
                Ok([]) => {
                    // close_notify received and everything before it read.
                    self.peer_done = true;
                    break;
                }
                Ok(chunk) => chunk,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
                    // TCP EOF without close_notify: many peers close this way.
                    self.peer_done = true;
                    break;
                }
                Err(error) => return Err(error),
            };
            let n = chunk.len().min(room - taken);
            out.extend_from_slice(&chunk[..n]);
            reader.consume(n);
            taken += n;
        }
        Ok(taken)
    }

    /// Handles the records read so far and sends whatever they call for (handshake messages,
    /// alerts). A protocol or certificate error comes back as `InvalidData` carrying a
    /// [`TlsError`], after a best-effort attempt to tell the peer with an alert.
    fn process_records(&mut self) -> io::Result<()> {
        match self.conn.process_new_packets() {
            Ok(_) => self.write_records().map(|_| ()),
            Err(error) => {
                let _ = self.write_records();
                let error = TlsError::from_rustls(error, self.host.as_deref());
                Err(io::Error::new(io::ErrorKind::InvalidData, error))
            }
        }
    }

    /// Writes queued records until none is left (`Ok(true)`) or the socket is full.
    fn write_records(&mut self) -> io::Result<bool> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.stream) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(error) => return Err(error),
            }
        }
        if self.fin_pending {
            self.fin_pending = false;
            let _ = self.stream.shutdown(Shutdown::Write);
        }
        Ok(true)
    }
}

impl Transport for TlsTransport {
    fn read_into(&mut self, out: &mut Vec<u8>, limit: usize) -> io::Result<ReadStatus> {
        let mut status = ReadStatus::default();
        loop {
            status.bytes += self.drain_plaintext(out, limit - status.bytes)?;
            if self.peer_done {
                status.eof = true;
                break;
            }
            if status.bytes >= limit {
                break;
            }
            // One buffer of records at a time, so decrypted plaintext never piles up in rustls.
            match self.conn.read_tls(&mut self.stream) {
                Ok(_) => {} // Ok(0) is TCP EOF: rustls notes it, the reader reports it.
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) => return Err(error),
            }
            self.process_records()?;
        }
        Ok(status)
    }

    fn write_some(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.closing {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "TLS connection is shutting down",
            ));
        }
        let mut taken = 0;
        while taken < data.len() {
            // Before the handshake ends rustls keeps the plaintext and sends it afterwards.
            let n = self.conn.writer().write(&data[taken..])?;
            taken += n;
            let all_sent = self.write_records()?;
            if n == 0 || !all_sent {
                break;
            }
        }
        Ok(taken)
    }

    fn flush_pending(&mut self) -> io::Result<bool> {
        self.write_records()
    }

    fn is_established(&self) -> bool {
        !self.conn.is_handshaking()
    }

    fn shutdown(&mut self) {
        if self.closing {
            return;
        }
        self.closing = true;
        self.conn.send_close_notify();
        self.fin_pending = true;
        // If the socket is full, the FIN follows when `flush_pending` empties the queue.
        let _ = self.write_records();
    }

    fn socket(&mut self) -> &mut TcpStream {
        &mut self.stream
    }
}

#[cfg(test)]
mod tests {
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
            server_config(&self.path("server.pem"), &self.path("server.key"))
                .expect("server config")
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
        let client = TlsTransport::client(client_stream, client_config, server_name)
            .expect("client transport");
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
    fn drive(
        poll: &mut Poll,
        client: &mut End,
        server: &mut End,
        done: impl Fn(&End, &End) -> bool,
    ) {
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
        let (mut poll, mut client, mut server) =
            connect(config, "wrong.example", pki.server_config());
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
        let (mut poll, mut client, mut server) =
            connect(config, "wrong.example", pki.server_config());
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
        let rsa_server =
            server_config(&pki.path("rsa.pem"), &pki.path("rsa.key")).expect("RSA key");
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
        let error =
            server_config(&pki.path("server.pem"), &pki.path("ca.pem")).expect_err("no key");
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
        let error =
            server_config(&pki.path("server.pem"), &pki.path("ca.key")).expect_err("mismatch");
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
}
