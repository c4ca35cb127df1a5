//! What a reload with a configuration file would change on this server, without changing
//! anything: for `palaver check-config FILE --server URL` before a SIGHUP or a restart.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Admin;
use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;

/// A configuration file to preview.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConfigFile {
    /// The file's text (TOML), as `serve --config` would read it.
    pub text: String,
}

/// What a reload with the file would do, as a reload logs it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConfigPreview {
    /// What a reload would change at once (for everyone, or for the connections made after
    /// it), in words.
    pub applied: Vec<String>,
    /// Settings that differ from those in force but change only with a restart.
    pub needs_restart: Vec<String>,
    /// What a reload would refuse, and why (a certificate that cannot be used, say).
    pub refused: Vec<String>,
}

#[utoipa::path(
    post,
    path = "/config/preview",
    tag = "read",
    security(("token" = [])),
    request_body = ConfigFile,
    responses(
        (status = 200, description = "What a reload with the file would do; nothing is changed", body = ConfigPreview),
        (status = 400, description = "The file does not parse, or breaks a rule; the message says which", body = ErrorBody),
        (status = 401, description = "No token, or a wrong one", body = ErrorBody),
    )
)]
pub(super) async fn preview(
    State(admin): State<Arc<Admin>>,
    ApiJson(file): ApiJson<ConfigFile>,
) -> Result<Json<ConfigPreview>, ApiError> {
    let text = file.text;
    let reloader = admin.reloader.clone();
    // Loading a certificate to check it reads files: blocking work.
    let previewed = tokio::task::spawn_blocking(move || reloader.preview_file(&text))
        .await
        .map_err(|error| ApiError::internal(error.to_string()))?;
    let reloaded = previewed.map_err(ApiError::bad_request)?;
    Ok(Json(ConfigPreview {
        applied: reloaded.applied,
        needs_restart: reloaded
            .needs_restart
            .into_iter()
            .map(str::to_owned)
            .collect(),
        refused: reloaded.refused,
    }))
}
