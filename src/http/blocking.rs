//! Blocking HTTP calls for the worker pool (`ureq`): for work that does not belong on the
//! reactor (forwarding HC3 API calls to a real HC3, the HC3 tools). A job runs on a worker
//! thread; its [`BlockingResponse`] comes back through the pool's waker and completes the Lua
//! operation like any other network result. `verify = false` accepts any server certificate;
//! `cafile` adds a CA to the trusted roots (with the certificate errors of the reactor client).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

use crate::event::{NetEvent, Val};
use crate::net::tls::{self, TlsError};

/// A request for a worker.
#[derive(Debug, Clone)]
pub struct BlockingRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeout: Duration,
    /// Verify the server certificate (https).
    pub verify: bool,
    /// Extra CA certificates (PEM file) to trust.
    pub ca_file: Option<String>,
}

/// A response as the worker got it: status, headers, body.
pub type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// What a worker hands back.
#[derive(Debug)]
pub struct BlockingResponse {
    pub url: String,
    pub result: Result<Answer, String>,
}

/// Runs `request` with `ureq` (on a worker thread). Every HTTP status is a response; only
/// network failures and timeouts are errors.
pub fn run(request: BlockingRequest) -> BlockingResponse {
    let tls_config = match tls_config(request.verify, request.ca_file.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            return BlockingResponse {
                url: request.url,
                result: Err(error.to_string()),
            };
        }
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(request.timeout))
        .http_status_as_error(false)
        .tls_config(tls_config)
        .build()
        .into();
    let host = request.url.parse::<ureq::http::Uri>().ok().and_then(|uri| {
        uri.host()
            .map(|host| host.trim_matches(['[', ']']).to_owned())
    });
    let describe = |error: &ureq::Error| describe(error, host.as_deref());
    let mut builder = http_request(&request);
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let result = builder
        .body(request.body.clone())
        .map_err(|error| error.to_string())
        .and_then(|http| agent.run(http).map_err(|error| describe(&error)))
        .and_then(|mut response| {
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = response
                .body_mut()
                .with_config()
                .limit(256 * 1024 * 1024)
                .read_to_vec()
                .map_err(|error| describe(&error))?;
            Ok((status, headers, body))
        });
    BlockingResponse {
        url: request.url,
        result,
    }
}

fn http_request(request: &BlockingRequest) -> ureq::http::request::Builder {
    ureq::http::Request::builder()
        .method(request.method.as_str())
        .uri(request.url.as_str())
}

/// The TLS settings of a request: no verification, the default (Mozilla) roots, or with a
/// `ca_file` the roots of the system bundle and `SSL_CERT_FILE` plus that file (ureq takes
/// roots as certificates, which the compiled-in Mozilla set is not). A `ca_file` that cannot be
/// read is an error also without verification, as on the reactor client.
fn tls_config(verify: bool, ca_file: Option<&str>) -> Result<TlsConfig, TlsError> {
    let extra = ca_file
        .map(|file| tls::load_certificates(Path::new(file)))
        .transpose()?;
    let builder = TlsConfig::builder();
    if !verify {
        return Ok(builder.disable_verification(true).build());
    }
    let Some(extra) = extra else {
        return Ok(builder.build());
    };
    let mut roots: Vec<Certificate<'static>> = system_certificates().to_vec();
    roots.extend(
        extra
            .iter()
            .map(|der| Certificate::from_der(der.as_ref()).to_owned()),
    );
    Ok(builder
        .root_certs(RootCerts::Specific(Arc::new(roots)))
        .build())
}

/// The certificates of `SSL_CERT_FILE` and the system bundle, read once.
fn system_certificates() -> &'static [Certificate<'static>] {
    static CERTIFICATES: OnceLock<Vec<Certificate<'static>>> = OnceLock::new();
    CERTIFICATES.get_or_init(|| {
        let mut files: Vec<PathBuf> = Vec::new();
        if let Some(file) = std::env::var_os("SSL_CERT_FILE") {
            files.push(file.into());
        }
        if !files
            .iter()
            .any(|file| file == Path::new(tls::SYSTEM_BUNDLE))
        {
            files.push(tls::SYSTEM_BUNDLE.into());
        }
        files
            .iter()
            .filter_map(|file| CertificateDer::pem_file_iter(file).ok())
            .flat_map(|certificates| certificates.filter_map(Result::ok))
            .map(|der| Certificate::from_der(der.as_ref()).to_owned())
            .collect()
    })
}

/// The text a script sees for a failed request; TLS failures read as on the reactor client
/// ("certificate verify failed: ..."), naming `host` for a name mismatch.
fn describe(error: &ureq::Error, host: Option<&str>) -> String {
    match error {
        ureq::Error::Timeout(_) => "timeout".into(),
        ureq::Error::Rustls(tls_error) => {
            TlsError::from_rustls(tls_error.clone(), host).to_string()
        }
        ureq::Error::Io(io) => match io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            Some(tls_error) => TlsError::from_rustls(tls_error.clone(), host).to_string(),
            None => crate::net::describe_io_error(io),
        },
        other => other.to_string(),
    }
}

impl BlockingResponse {
    /// The completion of operation `op` for Lua.
    pub fn into_event(self, op: u64) -> NetEvent {
        match self.result {
            Ok((status, headers, body)) => NetEvent::Complete {
                op,
                values: vec![
                    Val::Bool(true),
                    Val::Record(vec![
                        ("code", Val::Int(i64::from(status))),
                        (
                            "headers",
                            Val::Map(
                                headers
                                    .into_iter()
                                    .map(|(k, v)| (k, Val::Text(v)))
                                    .collect(),
                            ),
                        ),
                        ("body", Val::Bytes(body)),
                        ("url", Val::Text(self.url)),
                    ]),
                ],
            },
            Err(message) => NetEvent::failure(op, message),
        }
    }
}
