//! Reading `[cluster]`: where the Redis store is (`--cluster URL` over `redis_url`), what its
//! keys start with, and whether its persistence is checked. Without a URL the server keeps
//! its history on embedded SQLite, as always.

use serde::Deserialize;

use super::ConfigError;
use crate::store::RedisSettings;

/// What `[cluster] key_prefix` is unless set.
pub const DEFAULT_KEY_PREFIX: &str = "palaver";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCluster {
    pub redis_url: Option<String>,
    pub key_prefix: Option<String>,
    pub verify_persistence: Option<bool>,
}

/// `[cluster]` with `--cluster URL` over its `redis_url`: `None` when neither gives a URL.
pub(super) fn resolve_cluster(
    file: &FileCluster,
    url_override: Option<String>,
) -> Result<Option<RedisSettings>, ConfigError> {
    let Some(url) = url_override.or_else(|| file.redis_url.clone()) else {
        return Ok(None);
    };
    let known_scheme = ["redis://", "rediss://", "redis+unix://", "unix://"]
        .iter()
        .any(|scheme| url.starts_with(scheme));
    if !known_scheme {
        return Err(ConfigError::Invalid(
            "--cluster (or [cluster] redis_url) takes a Redis URL: redis://HOST:PORT, \
             rediss://HOST:PORT for TLS, or redis+unix:///PATH"
                .into(),
        ));
    }
    let key_prefix = file
        .key_prefix
        .clone()
        .unwrap_or_else(|| DEFAULT_KEY_PREFIX.to_owned());
    let plain = |character: char| character.is_ascii_alphanumeric() || "_-.".contains(character);
    if key_prefix.is_empty() || !key_prefix.chars().all(plain) {
        return Err(ConfigError::Invalid(format!(
            "[cluster] key_prefix must be letters, digits, '_', '-' or '.', not {key_prefix:?}"
        )));
    }
    Ok(Some(RedisSettings {
        url,
        key_prefix,
        verify_persistence: file.verify_persistence.unwrap_or(true),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_from_the_flag_or_the_file_with_defaults() {
        assert!(matches!(
            resolve_cluster(&FileCluster::default(), None),
            Ok(None)
        ));
        let file = FileCluster {
            redis_url: Some("redis://file:6379".into()),
            ..FileCluster::default()
        };
        let settings = resolve_cluster(&file, Some("redis+unix:///run/r.sock".into()))
            .expect("valid")
            .expect("a URL");
        assert_eq!(settings.url, "redis+unix:///run/r.sock");
        assert_eq!(settings.key_prefix, "palaver");
        assert!(settings.verify_persistence);
        let from_file = resolve_cluster(&file, None).expect("valid").expect("a URL");
        assert_eq!(from_file.url, "redis://file:6379");
    }

    #[test]
    fn bad_urls_and_prefixes_are_refused_with_what_to_write() {
        let Err(ConfigError::Invalid(message)) =
            resolve_cluster(&FileCluster::default(), Some("localhost:6379".into()))
        else {
            panic!("a URL without a scheme is refused");
        };
        assert!(message.contains("redis://HOST:PORT"), "{message}");
        let file = FileCluster {
            key_prefix: Some("my prefix".into()),
            ..FileCluster::default()
        };
        assert!(resolve_cluster(&file, Some("redis://h:1".into())).is_err());
    }
}
