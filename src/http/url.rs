//! The small URL subset the HTTP client needs: `http[s]://host[:port][/path][?query]`, with
//! IPv6 literals in brackets, and resolving a redirect's `Location` against the current URL.

/// Why a text is not a URL the client can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not `http://` or `https://`.
    #[error("unsupported URL '{0}' (expected http:// or https://)")]
    Scheme(String),
    /// An unclosed IPv6 bracket.
    #[error("invalid URL '{0}'")]
    Invalid(String),
    /// Nothing between the scheme and the path.
    #[error("invalid URL '{0}': no host")]
    NoHost(String),
    /// A port that is not a number from 0 to 65535.
    #[error("invalid port in URL '{0}'")]
    Port(String),
}

/// A parsed absolute URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub tls: bool,
    /// Host as written, without brackets for IPv6.
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub target: String,
}

impl Url {
    /// Parses an absolute `http://` or `https://` URL.
    pub fn parse(text: &str) -> Result<Url, UrlError> {
        let text = text.trim();
        let (tls, rest) = if let Some(rest) = strip_prefix_ignore_case(text, "http://") {
            (false, rest)
        } else if let Some(rest) = strip_prefix_ignore_case(text, "https://") {
            (true, rest)
        } else {
            return Err(UrlError::Scheme(text.to_owned()));
        };
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let mut target = rest[authority_end..]
            .split('#')
            .next()
            .unwrap_or("")
            .to_owned();
        if target.is_empty() || target.starts_with('?') {
            target.insert(0, '/');
        }
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let close = bracketed
                .find(']')
                .ok_or_else(|| UrlError::Invalid(text.to_owned()))?;
            let host = &bracketed[..close];
            let port = match bracketed[close + 1..].strip_prefix(':') {
                Some(port) => parse_port(port, text)?,
                None => default_port,
            };
            (host.to_owned(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host.to_owned(), parse_port(port, text)?),
                None => (authority.to_owned(), default_port),
            }
        };
        if host.is_empty() {
            return Err(UrlError::NoHost(text.to_owned()));
        }
        Ok(Url {
            tls,
            host,
            port,
            target,
        })
    }

    /// The `Host` header value.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default_port = if self.tls { 443 } else { 80 };
        if self.port == default_port {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// The URL as text.
    pub fn to_text(&self) -> String {
        format!(
            "{}://{}{}",
            if self.tls { "https" } else { "http" },
            self.host_header(),
            self.target
        )
    }

    /// Resolves a `Location` header (absolute, scheme-relative, absolute-path or relative).
    pub fn join(&self, location: &str) -> Result<Url, UrlError> {
        let location = location.trim();
        if location.contains("://") {
            return Url::parse(location);
        }
        if let Some(rest) = location.strip_prefix("//") {
            let scheme = if self.tls { "https" } else { "http" };
            return Url::parse(&format!("{scheme}://{rest}"));
        }
        let mut joined = self.clone();
        if location.starts_with('/') {
            joined.target = location.to_owned();
        } else {
            let path = self.target.split('?').next().unwrap_or("/");
            let base = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            joined.target = format!("{base}{location}");
            if !joined.target.starts_with('/') {
                joined.target.insert(0, '/');
            }
        }
        Ok(joined)
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn parse_port(port: &str, text: &str) -> Result<u16, UrlError> {
    port.parse().map_err(|_| UrlError::Port(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_ports_and_targets() {
        let url = Url::parse("http://example.com:8080/a/b?x=1#frag").expect("url");
        assert_eq!(
            (url.host.as_str(), url.port, url.target.as_str()),
            ("example.com", 8080, "/a/b?x=1")
        );
        let url = Url::parse("HTTPS://[::1]?q").expect("url");
        assert_eq!(
            (url.tls, url.host.as_str(), url.port, url.target.as_str()),
            (true, "::1", 443, "/?q")
        );
        assert_eq!(url.host_header(), "[::1]");
        assert!(Url::parse("ftp://x").is_err());
        assert!(Url::parse("http://:80/").is_err());
        assert!(Url::parse("http://h:99999/").is_err());
    }

    #[test]
    fn joins_redirect_locations() {
        let base = Url::parse("http://h:81/dir/page?x").expect("url");
        assert_eq!(
            base.join("/top").expect("join").to_text(),
            "http://h:81/top"
        );
        assert_eq!(
            base.join("next").expect("join").to_text(),
            "http://h:81/dir/next"
        );
        assert_eq!(
            base.join("https://o/p").expect("join").to_text(),
            "https://o/p"
        );
        assert_eq!(base.join("//o2/q").expect("join").to_text(), "http://o2/q");
    }
}
