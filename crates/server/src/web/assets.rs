//! The browser client's files: built into the binary (`build.rs` embeds every file under
//! `crates/server/web/`), or read from a directory given with `--web-root` (to develop or
//! customise the client without rebuilding the server).
//!
//! Every answer carries a strict Content-Security-Policy: the page may run only its own
//! scripts and styles and talk only to its own origin, so even a mistake in the client's
//! escaping cannot run a script an attacker wrote into a nick or a message.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// The files built into the binary: (URL path, contents).
static EMBEDDED: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// What every page may load and connect to: only its own origin's files and WebSocket, no
/// inline script or style, no frames, no forms posted anywhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; manifest-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Where the client's files come from.
#[derive(Debug, Clone)]
pub enum Assets {
    /// The copy built into the binary.
    Embedded,
    /// A directory on disk, read on every request.
    Directory(Arc<Path>),
}

impl Assets {
    /// `root` if given, else the built-in copy.
    pub fn from_root(root: Option<PathBuf>) -> Self {
        match root {
            Some(root) => Assets::Directory(root.into()),
            None => Assets::Embedded,
        }
    }

    /// The contents of the file at URL `path`, if there is one.
    async fn read(&self, path: &str) -> Option<Vec<u8>> {
        match self {
            Assets::Embedded => EMBEDDED
                .iter()
                .find(|(url, _)| *url == path)
                .map(|(_, contents)| contents.to_vec()),
            Assets::Directory(root) => {
                let file = below(root, path)?;
                tokio::fs::read(file).await.ok()
            }
        }
    }
}

/// Answers a request for one of the client's files.
pub(super) async fn serve(State(assets): State<Assets>, method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return with_policy(
            (
                StatusCode::METHOD_NOT_ALLOWED,
                [(header::ALLOW, "GET, HEAD")],
                "only GET and HEAD\n",
            )
                .into_response(),
        );
    }
    let path = match uri.path() {
        "/" => "/index.html",
        path => path,
    };
    let response = match assets.read(path).await {
        Some(contents) => (
            [
                (header::CONTENT_TYPE, content_type(path)),
                // Always asked again, so a new version of the client is picked up at once.
                (header::CACHE_CONTROL, "no-cache"),
            ],
            contents,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    };
    with_policy(response)
}

/// Adds the security headers every answer carries.
fn with_policy(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The file `path` names below `root`, if it names one there: only plain names, no `..`, no
/// hidden files.
fn below(root: &Path, path: &str) -> Option<PathBuf> {
    let relative = Path::new(path.strip_prefix('/')?);
    let plain = relative.components().all(|component| {
        matches!(component, Component::Normal(name)
            if !name.to_str().is_some_and(|name| name.starts_with('.')))
    });
    plain.then(|| root.join(relative))
}

/// The content type of a file, by its extension.
fn content_type(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map_or("", |(_, extension)| extension);
    match extension {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_below_the_root_are_files() {
        let root = Path::new("/srv/web");
        assert_eq!(
            below(root, "/js/main.js"),
            Some(PathBuf::from("/srv/web/js/main.js"))
        );
        for refused in [
            "/../etc/passwd",
            "/js/../../x",
            "/.git/config",
            "//etc",
            "x",
        ] {
            assert_eq!(below(root, refused), None, "{refused}");
        }
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("/index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("/js/irc.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("/README"), "application/octet-stream");
    }
}
