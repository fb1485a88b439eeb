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
pub(crate) const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Most plaintext a connection holds before the handshake ends, and most encrypted bytes it
/// queues when the socket is full; `write_some` takes fewer bytes beyond that.
const BUFFER_LIMIT: usize = 1 << 20;

/// What can go wrong setting up or running TLS. The texts are shown to Lua scripts as they are.
/// TLS settings of a client connection (`tcp_connect`, HTTPS requests, `wss://`).
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Check the server's certificate chain and name.
    pub verify: bool,
    /// The name to verify and send as SNI (default: the host connected to).
    pub server_name: Option<String>,
    /// Extra roots (PEM) trusted besides the built-in ones.
    pub ca_file: Option<String>,
}

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
pub(crate) fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
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
mod tests;
