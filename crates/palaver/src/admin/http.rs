//! The one HTTP exchange `palaver admin` makes per command: HTTP/1.1 over a plain TCP
//! connection (hyper's client, the HTTP stack the server already uses), with the bearer token.
//! The API is meant for a private address (`docs/SECURITY.md`); `https://` is refused rather
//! than sending the token somewhere it was not meant to go in clear.

use std::time::Duration;

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How long one exchange may take, connecting included.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Where the API is and what to present to it.
pub struct Api {
    /// `HOST:PORT`, to connect to and to name in `Host`.
    authority: String,
    /// `NAME:SECRET`. Never printed: not in errors, not in `Debug`.
    token: String,
}

/// An answer: its status and its body.
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

impl Answer {
    /// A refusal's words, from the API's `{"error", "message"}` body:
    /// `MESSAGE (HTTP STATUS CODE)`.
    pub fn refusal(&self) -> String {
        let error: serde_json::Value = serde_json::from_slice(&self.body).unwrap_or_default();
        let message = error["message"].as_str().unwrap_or("no message");
        let code = error["error"].as_str().unwrap_or("?");
        format!("{message} (HTTP {} {code})", self.status)
    }
}

impl Api {
    /// The API of the server at `url` (`http://HOST[:PORT]`, port 80 by default), called with
    /// `token`.
    pub fn new(url: &str, token: String) -> anyhow::Result<Self> {
        let Some(rest) = url.strip_prefix("http://") else {
            if url.starts_with("https://") {
                bail!(
                    "https:// is not supported: reach the API on its private address, or through \
                     an SSH tunnel (--url http://127.0.0.1:PORT)"
                );
            }
            bail!("--url must be http://HOST[:PORT], not {url}");
        };
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            bail!("--url must be http://HOST[:PORT], without a path: {url}");
        }
        let has_port = match authority.strip_prefix('[') {
            Some(v6) => v6.contains("]:"),
            None => authority.contains(':'),
        };
        let authority = if has_port {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        Ok(Self { authority, token })
    }

    /// `METHOD path` (under `/api/v1`) with the token and a JSON `body` if given.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<Answer> {
        tokio::time::timeout(TIMEOUT, self.exchange(method, path, body))
            .await
            .with_context(|| {
                format!(
                    "no answer from {} in {} seconds",
                    self.authority,
                    TIMEOUT.as_secs()
                )
            })?
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<Answer> {
        let stream = TcpStream::connect(&self.authority)
            .await
            .with_context(|| format!("cannot connect to {}", self.authority))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP handshake failed")?;
        // The connection's task drives the exchange; it ends with the answer.
        tokio::spawn(connection);
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", palaver_server::admin::PREFIX))
            .header(header::HOST, &self.authority)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token));
        let body = match body {
            Some(body) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Bytes::from(body.to_string())
            }
            None => Bytes::new(),
        };
        let request = request.body(Full::new(body)).context("a bad request")?;
        let response = sender
            .send_request(request)
            .await
            .with_context(|| format!("no answer from {}", self.authority))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .context("the answer broke off")?
            .to_bytes();
        Ok(Answer { status, body })
    }
}

/// `text` as one segment of a path or a query value: everything but RFC 3986's unreserved
/// characters percent-encoded (`#rust` → `%23rust`).
pub fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_host_and_an_optional_port() {
        let authority = |url: &str| Api::new(url, String::new()).map(|api| api.authority);
        assert_eq!(
            authority("http://127.0.0.1:9187").unwrap(),
            "127.0.0.1:9187"
        );
        assert_eq!(
            authority("http://admin.example/").unwrap(),
            "admin.example:80"
        );
        assert_eq!(authority("http://[::1]:9187").unwrap(), "[::1]:9187");
        assert_eq!(authority("http://[::1]").unwrap(), "[::1]:80");
        assert!(
            authority("https://admin.example")
                .unwrap_err()
                .to_string()
                .contains("SSH")
        );
        assert!(authority("admin.example:9187").is_err());
        assert!(authority("http://admin.example/api").is_err());
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(encode("#rust"), "%23rust");
        assert_eq!(encode("*!*@192.0.2.*"), "%2A%21%2A%40192.0.2.%2A");
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }
}
