//! Host names to addresses. Literal IPs and `localhost` resolve at once; other names go to the
//! worker pool (getaddrinfo blocks), and `src/sockets/lookups.rs` continues what waited when the
//! answer comes back through the waker.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};

/// The address for `host:port` if no lookup is needed.
pub fn literal(host: &str, port: u16) -> Option<SocketAddr> {
    if host.eq_ignore_ascii_case("localhost") {
        return Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    let trimmed = host.trim_start_matches('[').trim_end_matches(']');
    trimmed
        .parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, port))
}

/// Why a name has no address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The resolver failed (unknown name, no network).
    #[error("cannot resolve host '{host}': {reason}")]
    Failed { host: String, reason: String },
    /// The resolver answered with no address.
    #[error("cannot resolve host '{host}': no address")]
    NoAddress { host: String },
}

/// Looks `host:port` up (blocking; run it on the worker pool). IPv4 answers come first.
pub fn lookup(host: &str, port: u16) -> Result<SocketAddr, LookupError> {
    let mut addresses: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|error| LookupError::Failed {
            host: host.to_owned(),
            reason: error.to_string(),
        })?
        .collect();
    addresses.sort_by_key(|address| !address.is_ipv4());
    addresses
        .into_iter()
        .next()
        .ok_or_else(|| LookupError::NoAddress {
            host: host.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_need_no_lookup() {
        assert_eq!(
            literal("127.0.0.1", 80),
            Some("127.0.0.1:80".parse().expect("addr"))
        );
        assert_eq!(
            literal("[::1]", 81),
            Some("[::1]:81".parse().expect("addr"))
        );
        assert_eq!(
            literal("LOCALHOST", 82),
            Some("127.0.0.1:82".parse().expect("addr"))
        );
        assert_eq!(literal("example.invalid", 83), None);
    }

    #[test]
    fn lookup_reports_unknown_hosts_clearly() {
        let error = lookup("no-such-host.invalid", 80)
            .expect_err("must fail")
            .to_string();
        assert!(
            error.contains("cannot resolve host 'no-such-host.invalid'"),
            "{error}"
        );
    }
}
