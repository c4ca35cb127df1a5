//! Checking each request's bearer token (`Authorization: Bearer NAME:SECRET`) against the
//! `[[admin.token]]` entries, before any handler runs. The scope is checked where writes are
//! audited (`audit.rs`), so that a read token's refused write is recorded too.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Admin;
use super::error::ApiError;
use crate::accounts::AccountError;

/// Lets the request through with its [`Caller`](crate::accounts::Caller) in its extensions,
/// or answers 401 (no or wrong token), 429 (too many wrong tokens from this address) or 500.
pub(super) async fn authenticate(
    State(admin): State<Arc<Admin>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(token) = bearer(request.headers()) else {
        return ApiError::unauthorized(
            "this endpoint needs a token: Authorization: Bearer NAME:SECRET",
        )
        .into_response();
    };
    // Served with the connection's address (see `operations::serve`); a router called
    // without one (never, outside tests) counts its failures under one address.
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
    match admin.tokens.check(&token, address).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(AccountError::BadCredentials) => ApiError::unauthorized("wrong token").into_response(),
        Err(AccountError::RateLimited { seconds }) => {
            ApiError::too_many_failures(seconds).into_response()
        }
        Err(other) => ApiError::internal(other.to_string()).into_response(),
    }
}

/// The token of an `Authorization: Bearer TOKEN` header (the scheme in any case, RFC 9110
/// §11.1).
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_follows_the_bearer_scheme_in_any_case() {
        let headers = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            headers
        };
        assert_eq!(
            bearer(&headers("Bearer ops:s3cret")),
            Some("ops:s3cret".into())
        );
        assert_eq!(
            bearer(&headers("bearer  ops:s3cret ")),
            Some("ops:s3cret".into())
        );
        assert_eq!(bearer(&headers("Basic b3BzOnMzY3JldA==")), None);
        assert_eq!(bearer(&headers("Bearer ")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
