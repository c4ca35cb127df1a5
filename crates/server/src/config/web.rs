//! Reading `[web]`: where the browser client and IRC over WebSocket are served (the listeners
//! themselves are resolved with the other chat listeners), which pages may open a WebSocket,
//! and where the client's files come from.

use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileWeb {
    pub listen: Option<Vec<std::net::SocketAddr>>,
    pub tls_listen: Option<Vec<std::net::SocketAddr>>,
    pub allowed_origins: Option<Vec<String>>,
    pub root: Option<PathBuf>,
    pub trust_forwarded_for: Option<bool>,
}

/// The web listeners' settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebSettings {
    /// Origins (`https://chat.example.org`, lower case, no path) whose pages may open a
    /// WebSocket besides the listener's own; `["*"]` lets any page.
    pub allowed_origins: Vec<String>,
    /// Serve the web client from this directory instead of the copy built into the binary.
    pub root: Option<PathBuf>,
    /// Take a WebSocket client's address from the `X-Forwarded-For` header its connection
    /// carries when that connection comes from one of `[proxy] trusted_proxies` (an HTTP
    /// reverse proxy in front of the web listener).
    pub trust_forwarded_for: bool,
}

/// `[web]`, with `--web-root` over the file's `root`.
pub(super) fn resolve_web(
    file: &FileWeb,
    root_override: Option<PathBuf>,
) -> Result<WebSettings, ConfigError> {
    let allowed_origins = file
        .allowed_origins
        .iter()
        .flatten()
        .map(|origin| parse_origin(origin))
        .collect::<Result<_, _>>()?;
    Ok(WebSettings {
        allowed_origins,
        root: root_override.or_else(|| file.root.clone()),
        trust_forwarded_for: file.trust_forwarded_for.unwrap_or(false),
    })
}

/// An origin as browsers send it in the `Origin` header: `scheme://host` or
/// `scheme://host:port`, with scheme `http` or `https`; or `*`. Returned in lower case.
fn parse_origin(origin: &str) -> Result<String, ConfigError> {
    let invalid = || {
        ConfigError::Invalid(format!(
            "[web] allowed_origins: {origin:?} is not an origin such as \
             \"https://chat.example.org\" (a scheme and a host, an optional port, no path), \
             or \"*\""
        ))
    };
    let origin = origin.trim().to_ascii_lowercase();
    if origin == "*" {
        return Ok(origin);
    }
    let host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(invalid)?;
    let well_formed = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
    if well_formed {
        Ok(origin)
    } else {
        Err(invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_a_scheme_and_a_host_in_lower_case() {
        for (given, read) in [
            ("https://Chat.Example.org", "https://chat.example.org"),
            ("http://localhost:8080", "http://localhost:8080"),
            ("http://[::1]:8080", "http://[::1]:8080"),
            ("*", "*"),
        ] {
            assert_eq!(parse_origin(given).unwrap(), read);
        }
        for bad in [
            "chat.example.org",
            "https://chat.example.org/",
            "ftp://x",
            "https://",
        ] {
            let error = parse_origin(bad).unwrap_err().to_string();
            assert!(error.contains("is not an origin"), "{bad}: {error}");
        }
    }
}
