//! Talking to the operations endpoints: a minimal HTTP/1.1 client over a real socket, and a
//! parser for the OpenMetrics text format `/metrics` answers with, strict enough that a
//! malformed exposition fails the test.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::PATIENCE;

/// An HTTP response: its status code, its headers (names in lower case) and its body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The value of the header `name` (lower case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header == name)
            .map(|(_, value)| value.as_str())
    }
}

/// `GET path` with `Connection: close`, read to the end of the stream.
pub async fn get(address: SocketAddr, path: &str) -> Response {
    request(address, "GET", path, &[], None).await
}

/// `METHOD path` with `headers`, a JSON `body` if given, and `Connection: close`, read to the
/// end of the stream. The body must come whole (no chunked encoding), as axum sends it.
pub async fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Response {
    let exchange = async {
        let mut stream = TcpStream::connect(address).await.expect("connect to HTTP");
        let mut request =
            format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body {
            request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(body.unwrap_or_default());
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.expect("read");
        String::from_utf8(raw).expect("a UTF-8 response")
    };
    let raw = tokio::time::timeout(PATIENCE, exchange)
        .await
        .expect("an HTTP answer in time");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a head and a body");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("a status line");
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.to_ascii_lowercase(), value.trim().to_owned()))
        })
        .collect();
    let content_type = headers
        .iter()
        .find(|(name, _)| name == "content-type")
        .map(|(_, value)| value.clone());
    Response {
        status,
        content_type,
        headers,
        body: body.to_owned(),
    }
}

/// The samples of an exposition: each series (name and sorted labels) with its value, and
/// the type of each metric family (`# TYPE`).
#[derive(Debug, Default)]
pub struct Samples {
    series: BTreeMap<(String, Vec<(String, String)>), f64>,
    /// Family name → type (`counter`, `gauge`, `histogram`, …). A family's samples are named
    /// after it: a counter's `NAME_total`, a histogram's `NAME_bucket`, `_sum` and `_count`.
    types: BTreeMap<String, String>,
}

impl Samples {
    /// Parses the OpenMetrics text format: `# TYPE`/`# HELP`/`# UNIT` lines, samples
    /// `name{label="value",…} number`, and the final `# EOF`. Panics on anything else.
    pub fn parse(text: &str) -> Self {
        let mut samples = Self::default();
        let mut ended = false;
        for line in text.lines() {
            assert!(!ended, "nothing may follow # EOF: {line:?}");
            if line == "# EOF" {
                ended = true;
                continue;
            }
            if let Some(comment) = line.strip_prefix("# ") {
                let keyword = comment.split(' ').next().unwrap_or_default();
                assert!(
                    ["TYPE", "HELP", "UNIT"].contains(&keyword),
                    "unknown comment {line:?}"
                );
                if let Some(declaration) = comment.strip_prefix("TYPE ") {
                    let (family, kind) = declaration
                        .split_once(' ')
                        .unwrap_or_else(|| panic!("# TYPE NAME TYPE: {line:?}"));
                    let earlier = samples.types.insert(family.to_owned(), kind.to_owned());
                    assert!(earlier.is_none(), "a family declared twice: {line:?}");
                }
                continue;
            }
            let (key, value) = parse_sample(line);
            assert!(
                samples.series.insert(key, value).is_none(),
                "a series given twice: {line:?}"
            );
        }
        assert!(ended, "the exposition ends with # EOF");
        samples
    }

    /// The value of series `name` with exactly `labels`; panics if there is none.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut labels: Vec<(String, String)> = labels
            .iter()
            .map(|(label, value)| ((*label).to_owned(), (*value).to_owned()))
            .collect();
        labels.sort();
        *self
            .series
            .get(&(name.to_owned(), labels.clone()))
            .unwrap_or_else(|| panic!("no series {name}{labels:?} among {:?}", self.series.keys()))
    }

    /// [`value`](Self::value) of a series without labels.
    pub fn plain(&self, name: &str) -> f64 {
        self.value(name, &[])
    }

    /// Every series: its sample name and its labels, sorted.
    pub fn series(&self) -> impl Iterator<Item = (&str, &[(String, String)])> {
        self.series
            .keys()
            .map(|(name, labels)| (name.as_str(), labels.as_slice()))
    }

    /// Every metric family declared with `# TYPE`, and its type.
    pub fn families(&self) -> impl Iterator<Item = (&str, &str)> {
        self.types
            .iter()
            .map(|(family, kind)| (family.as_str(), kind.as_str()))
    }
}

/// One sample line: `name`, optional `{label="value",…}` (values with `\"`, `\\`, `\n`
/// escapes), a space and a number.
fn parse_sample(line: &str) -> ((String, Vec<(String, String)>), f64) {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or_else(|| panic!("a sample has a value: {line:?}"));
    let (name, mut rest) = line.split_at(name_end);
    assert!(
        name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'),
        "a metric name: {line:?}"
    );
    let mut labels = Vec::new();
    if let Some(inside) = rest.strip_prefix('{') {
        let mut chars = inside.char_indices();
        let mut label = String::new();
        loop {
            let (index, c) = chars.next().unwrap_or_else(|| panic!("unclosed: {line:?}"));
            match c {
                '}' => {
                    rest = &inside[index + 1..];
                    break;
                }
                ',' => {}
                '=' => {
                    assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line:?}");
                    let mut value = String::new();
                    loop {
                        match chars.next().map(|(_, c)| c) {
                            Some('"') => break,
                            Some('\\') => match chars.next().map(|(_, c)| c) {
                                Some('n') => value.push('\n'),
                                Some(escaped @ ('"' | '\\')) => value.push(escaped),
                                other => panic!("bad escape {other:?} in {line:?}"),
                            },
                            Some(c) => value.push(c),
                            None => panic!("unclosed value in {line:?}"),
                        }
                    }
                    labels.push((std::mem::take(&mut label), value));
                }
                c if c.is_ascii_alphanumeric() || c == '_' => label.push(c),
                other => panic!("unexpected {other:?} in labels of {line:?}"),
            }
        }
    }
    let value = rest
        .strip_prefix(' ')
        .unwrap_or_else(|| panic!("a space before the value: {line:?}"));
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        number => number
            .parse()
            .unwrap_or_else(|_| panic!("a number: {line:?}")),
    };
    labels.sort();
    ((name.to_owned(), labels), value)
}

/// The secret of [`ADMIN_TOKEN`], the write token [`admin_token_config`] configures.
pub const ADMIN_TOKEN: &str = "ops:write-secret";

/// A configuration file's `[[admin.token]]`: a token `ops` of scope `write` whose secret is
/// that of [`ADMIN_TOKEN`] (its hash, as an administrator writes it).
pub fn admin_token_config() -> String {
    let hash = palaver_server::accounts::hash_password("write-secret").expect("hash");
    format!("[[admin.token]]\nname = \"ops\"\nsecret_hash = \"{hash}\"\nscope = \"write\"\n")
}

/// Locks the account `name` through the administration API at `http` with [`ADMIN_TOKEN`]
/// (`POST /api/v1/accounts/{name}/lock`), which must answer 200.
pub async fn lock_account(http: SocketAddr, name: &str, reason: &str) {
    let body = format!("{{\"reason\": \"{reason}\"}}");
    let authorization = format!("Bearer {ADMIN_TOKEN}");
    let response = request(
        http,
        "POST",
        &format!("/api/v1/accounts/{name}/lock"),
        &[("Authorization", &authorization)],
        Some(&body),
    )
    .await;
    assert_eq!(response.status, 200, "{response:?}");
}
