//! The API's errors: every refusal is a status code and a JSON body `{"error": CODE,
//! "message": TEXT}`, where CODE is one of a fixed set of words a script can test and TEXT says
//! what happened in words (`docs/OPERATIONS.md` lists them).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::accounts::AccountError;
use crate::hub::HubError;
use crate::store::StoreError;

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, as a fixed word: `bad_request`, `unauthorized`, `forbidden`,
    /// `not_found`, `conflict`, `refused`, `too_many_failures`, `store_failed` or
    /// `internal`.
    pub error: &'static str,
    /// What went wrong, in words.
    pub message: String,
}

/// An error answer's message, in its response's extensions.
#[derive(Debug, Clone)]
pub(super) struct ErrorMessage(pub String);

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// For `too_many_failures`: when to try again, in seconds (`Retry-After`).
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// No token, or one that is not configured (answered with `WWW-Authenticate: Bearer`).
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// A `read` token on a write.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// The chat rules refused the action (the hub's or the accounts' answer).
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "refused", message)
    }

    pub fn too_many_failures(seconds: u64) -> Self {
        Self {
            retry_after: Some(seconds),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_failures",
                format!("too many wrong tokens from this address; try again in {seconds} seconds"),
            )
        }
    }

    pub fn store_failed(error: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store_failed",
            format!("the store failed: {error}"),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code,
            message: self.message,
        };
        let message = ErrorMessage(body.message.clone());
        let mut response = (self.status, Json(body)).into_response();
        // For the audit log, which records why a write was refused.
        response.extensions_mut().insert(message);
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"palaver\""),
            );
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<HubError> for ApiError {
    fn from(error: HubError) -> Self {
        match error {
            HubError::NoSuchNick(_) | HubError::NoSuchRoom(_) => Self::not_found(error.to_string()),
            _ => Self::refused(error.to_string()),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::Taken(_) => Self::conflict(error.to_string()),
            AccountError::NoSuchAccount(_) => Self::not_found(error.to_string()),
            AccountError::Store(_) => Self::store_failed(error),
            _ => Self::refused(error.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::store_failed(error)
    }
}

/// Any path under `/api/v1` that is no endpoint.
pub(super) async fn no_such_endpoint() -> ApiError {
    ApiError::not_found("no such endpoint; see /api/v1/openapi.json")
}
