//! The frame of the API's OpenAPI description (title, server path, the bearer scheme, tags);
//! the paths and schemas come from the handlers (`#[utoipa::path]`) as the router registers
//! them. `docs/openapi.json` is a copy, checked to be current by a test, so that a change to
//! the API shows in review.

use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi as _};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "palaver administration API",
        description = "Administer a palaver server: its users, rooms, server bans and accounts. \
            Every endpoint but this description needs a token from `[[admin.token]]` as \
            `Authorization: Bearer NAME:SECRET`; a token of scope `read` may only read. Every \
            write, done or refused, is recorded in the audit log.",
        license(name = "MIT OR Apache-2.0"),
    ),
    servers((url = "/api/v1")),
    modifiers(&BearerToken),
    tags(
        (name = "read", description = "Needs a token of scope `read` or `write`"),
        (name = "write", description = "Needs a token of scope `write`; recorded in the audit log"),
    )
)]
struct Frame;

/// The security scheme every endpoint names (`token`).
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("NAME:SECRET")
            .description(Some(
                "A token of `[[admin.token]]`: its name, a colon, its secret",
            ))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("token", SecurityScheme::Http(scheme));
    }
}

/// The description without its paths, versioned as the server.
pub(super) fn base() -> OpenApi {
    let mut api = Frame::openapi();
    api.info.version = env!("CARGO_PKG_VERSION").to_owned();
    api
}

/// `api` as the JSON served and kept in `docs/openapi.json`.
pub fn to_json(api: &OpenApi) -> String {
    let mut json = api.to_pretty_json().expect("a description serializes");
    json.push('\n');
    json
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/openapi.json` is the description served. Run with `UPDATE_OPENAPI=1` to write it
    /// after changing the API, and review the difference.
    #[test]
    fn the_checked_in_description_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        let generated = to_json(&super::super::description());
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(path, &generated).expect("write docs/openapi.json");
        }
        let checked_in = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            checked_in == generated,
            "docs/openapi.json differs from the API's description: run \
             `UPDATE_OPENAPI=1 cargo test -p palaver-server --lib admin` and review the change"
        );
    }
}
