//! Blocking HTTP calls for the worker pool (`ureq`): for work that does not belong on the
//! reactor (forwarding HC3 API calls to a real HC3, the HC3 tools). A job runs on a worker
//! thread; its [`BlockingResponse`] comes back through the pool's waker and completes the Lua
//! operation like any other network result.

use std::time::Duration;

use crate::net::{NetEvent, Val};

/// A request for a worker.
#[derive(Debug, Clone)]
pub struct BlockingRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeout: Duration,
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
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(request.timeout))
        .http_status_as_error(false)
        .build()
        .into();
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

fn describe(error: &ureq::Error) -> String {
    match error {
        ureq::Error::Timeout(_) => "timeout".into(),
        ureq::Error::Io(io) => crate::net::describe_io_error(io),
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
