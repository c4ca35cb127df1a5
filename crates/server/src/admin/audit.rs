//! The audit log: every write through the API, done or refused, with its time, the token's
//! name, the action, its target and its outcome. Each entry is a tracing event and a line of
//! JSON appended to `[admin] audit_log` (by default next to the database, so it works the same
//! whatever the store's backend); `GET /api/v1/audit` reads the newest entries back.
//!
//! The file is opened for each entry (appending), so it can be rotated by moving it away: the
//! next entry starts a new file. A write whose entry cannot be appended is still answered (it
//! happened), and the failure is logged as an error with the entry.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use palaver_proto::time::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use utoipa::ToSchema;

use super::Admin;
use super::error::{ApiError, ErrorMessage};
use crate::accounts::{Caller, Scope};

/// What became of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Done (a 2xx answer).
    Done,
    /// Refused: by the scope, the request's form or the chat rules (a 4xx answer).
    Refused,
    /// Failed on the server's side, such as the store (a 5xx answer).
    Failed,
}

/// One entry of the audit log, as a line of the file and in `GET /api/v1/audit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    /// When the write was answered (ISO 8601, UTC).
    pub time: String,
    /// The name of the token that made it.
    pub token: String,
    /// The endpoint: the method and the path as described (`POST /api/v1/users/{nick}/kill`).
    pub action: String,
    /// What it acted on: a nick, a room, a ban target, an account; or the request's path when
    /// it was refused before that was read.
    pub target: String,
    pub outcome: Outcome,
    /// The HTTP status it was answered with.
    pub status: u16,
    /// What was done, or why not, in words.
    pub detail: String,
}

/// What a write handler tells the audit log about what it did, in its response's extensions.
#[derive(Debug, Clone)]
pub(super) struct AuditNote {
    pub target: String,
    pub detail: String,
}

/// Where entries go.
pub(super) struct Audit {
    /// `None`: the log's tracing events are the only record.
    path: Option<PathBuf>,
    /// Held while an entry is appended, so that concurrent writes never interleave lines.
    appending: tokio::sync::Mutex<()>,
}

impl Audit {
    pub fn new(path: Option<PathBuf>) -> Self {
        Self {
            path,
            appending: tokio::sync::Mutex::new(()),
        }
    }

    /// Records `entry`: a tracing event, and a line of the file.
    async fn record(&self, entry: &AuditEntry) {
        tracing::info!(
            token = %entry.token,
            action = %entry.action,
            target = %entry.target,
            outcome = ?entry.outcome,
            status = entry.status,
            detail = %entry.detail,
            "admin API write"
        );
        let Some(path) = &self.path else { return };
        let mut line = serde_json::to_vec(entry).expect("an entry serializes");
        line.push(b'\n');
        let _appending = self.appending.lock().await;
        let appended = async {
            let mut file = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .await?;
            file.write_all(&line).await?;
            file.flush().await
        }
        .await;
        if let Err(error) = appended {
            tracing::error!(%error, path = %path.display(), action = %entry.action, target = %entry.target, "the audit log could not be written");
        }
    }

    /// The newest `limit` entries, oldest first. `None` when there is no file to read.
    pub async fn newest(&self, limit: usize) -> Option<Result<Vec<AuditEntry>, ApiError>> {
        let path = self.path.as_ref()?;
        let text = match tokio::fs::read_to_string(path).await {
            Ok(text) => text,
            // Nothing was written yet.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(error) => {
                return Some(Err(ApiError::internal(format!(
                    "the audit log could not be read: {error}"
                ))));
            }
        };
        let lines: Vec<&str> = text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .collect();
        let newest = &lines[lines.len().saturating_sub(limit)..];
        Some(
            newest
                .iter()
                .map(|line| {
                    serde_json::from_str(line).map_err(|error| {
                        ApiError::internal(format!(
                            "the audit log holds a line that is no entry: {error}"
                        ))
                    })
                })
                .collect(),
        )
    }
}

/// Runs a write if the caller's token may write (403 otherwise), and records it, whatever its
/// outcome. Runs after [`authenticate`](super::auth::authenticate).
pub(super) async fn record_writes(
    State(admin): State<Arc<Admin>>,
    request: Request,
    next: Next,
) -> Response {
    let caller = request
        .extensions()
        .get::<Caller>()
        .cloned()
        .expect("writes are authenticated first");
    let described = request.extensions().get::<MatchedPath>().map_or_else(
        || request.uri().path().to_owned(),
        |path| path.as_str().to_owned(),
    );
    let action = format!("{} {described}", request.method());
    // The router is nested: its requests' paths lack the prefix that matched paths have.
    let path = format!("{}{}", super::PREFIX, request.uri().path());
    let response = if caller.scope < Scope::Write {
        ApiError::forbidden(format!("the token {} may only read", caller.name)).into_response()
    } else {
        next.run(request).await
    };
    let status = response.status();
    let note = response.extensions().get::<AuditNote>();
    let entry = AuditEntry {
        time: Timestamp::now().iso8601(),
        token: caller.name.to_string(),
        action,
        target: note.map_or(path, |note| note.target.clone()),
        outcome: if status.is_success() {
            Outcome::Done
        } else if status.is_client_error() {
            Outcome::Refused
        } else {
            Outcome::Failed
        },
        status: status.as_u16(),
        // Refused before its handler ran (a body that is no JSON): the error's words.
        detail: note.map_or_else(
            || {
                response
                    .extensions()
                    .get::<ErrorMessage>()
                    .map(|message| message.0.clone())
                    .unwrap_or_default()
            },
            |note| note.detail.clone(),
        ),
    };
    admin.audit.record(&entry).await;
    response
}

/// A write's answer, with what the audit log records of it: `target`, and the outcome's
/// words (`detail` when done, the error's message when not).
pub(super) fn audited<T: Serialize>(
    target: String,
    result: Result<(axum::http::StatusCode, T, String), ApiError>,
) -> Response {
    match result {
        Ok((status, body, detail)) => with_note(
            (status, axum::Json(body)).into_response(),
            AuditNote { target, detail },
        ),
        Err(error) => {
            let detail = error.message().to_owned();
            with_note(error.into_response(), AuditNote { target, detail })
        }
    }
}

fn with_note(mut response: Response, note: AuditNote) -> Response {
    response.extensions_mut().insert(note);
    response
}
