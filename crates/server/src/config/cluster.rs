//! Reading `[cluster]`: where Redis is (`--cluster URL` over `redis_url`), what its keys
//! start with, whether its persistence is checked, and the node's name and lease. Without a
//! URL the server keeps its history on embedded SQLite, as always.

use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, duration};
use crate::cluster::{
    ClusterSettings, DEFAULT_HEARTBEAT, DEFAULT_LEASE, DEFAULT_TIMEOUT, valid_node_name,
};
use crate::store::{RedisSettings, SentinelTarget};

/// What `[cluster] key_prefix` is unless set.
pub const DEFAULT_KEY_PREFIX: &str = "palaver";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCluster {
    pub redis_url: Option<String>,
    pub key_prefix: Option<String>,
    pub verify_persistence: Option<bool>,
    pub node_name: Option<String>,
    pub heartbeat: Option<toml::Value>,
    pub lease: Option<toml::Value>,
    pub timeout: Option<toml::Value>,
}

/// `[cluster]` with `--cluster URL` over its `redis_url` and `--node-name` over its
/// `node_name`: `None` when neither gives a URL.
pub(super) fn resolve_cluster(
    file: &FileCluster,
    url_override: Option<String>,
    node_name_override: Option<String>,
) -> Result<Option<ClusterSettings>, ConfigError> {
    let Some(url) = url_override.or_else(|| file.redis_url.clone()) else {
        return Ok(None);
    };
    let known_scheme = ["redis://", "rediss://", "redis+unix://", "unix://"]
        .iter()
        .any(|scheme| url.starts_with(scheme));
    match SentinelTarget::parse(&url) {
        Some(Err(problem)) => {
            return Err(ConfigError::Invalid(format!(
                "--cluster (or [cluster] redis_url): {problem}"
            )));
        }
        Some(Ok(_)) => {}
        None if known_scheme => {}
        None => {
            return Err(ConfigError::Invalid(
                "--cluster (or [cluster] redis_url) takes a Redis URL: redis://HOST:PORT, \
                 rediss://HOST:PORT for TLS, redis+unix:///PATH, or \
                 redis+sentinel://HOST:PORT[,HOST:PORT…]/SERVICE to ask Sentinels for the primary"
                    .into(),
            ));
        }
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
    let node_name = node_name_override.or_else(|| file.node_name.clone());
    if let Some(name) = node_name.as_deref().filter(|name| !valid_node_name(name)) {
        return Err(ConfigError::Invalid(format!(
            "--node-name (or [cluster] node_name) must be 1 to 64 letters, digits, '_', '-' or \
             '.', not {name:?}"
        )));
    }
    let heartbeat = positive_duration("[cluster] heartbeat", file.heartbeat.as_ref())?
        .unwrap_or(DEFAULT_HEARTBEAT);
    let lease = positive_duration("[cluster] lease", file.lease.as_ref())?.unwrap_or(DEFAULT_LEASE);
    if lease < heartbeat * 3 {
        return Err(ConfigError::Invalid(format!(
            "[cluster] lease ({}) must be at least three heartbeats ({} each), so that one \
             late renewal does not lose it",
            duration::format_duration(lease),
            duration::format_duration(heartbeat)
        )));
    }
    let timeout =
        positive_duration("[cluster] timeout", file.timeout.as_ref())?.unwrap_or(DEFAULT_TIMEOUT);
    Ok(Some(ClusterSettings {
        redis: RedisSettings {
            url,
            key_prefix,
            verify_persistence: file.verify_persistence.unwrap_or(true),
        },
        node_name,
        heartbeat,
        lease,
        timeout,
    }))
}

/// The duration `key` gives, if any; zero is refused.
fn positive_duration(
    key: &str,
    value: Option<&toml::Value>,
) -> Result<Option<Duration>, ConfigError> {
    let Some(value) = value else {
        return Ok(None);
    };
    match duration::from_value(key, value)? {
        period if period.is_zero() => Err(ConfigError::Invalid(format!(
            "{key} must be longer than zero"
        ))),
        period => Ok(Some(period)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_from_the_flag_or_the_file_with_defaults() {
        assert!(matches!(
            resolve_cluster(&FileCluster::default(), None, None),
            Ok(None)
        ));
        let file = FileCluster {
            redis_url: Some("redis://file:6379".into()),
            ..FileCluster::default()
        };
        let settings = resolve_cluster(&file, Some("redis+unix:///run/r.sock".into()), None)
            .expect("valid")
            .expect("a URL");
        assert_eq!(settings.redis.url, "redis+unix:///run/r.sock");
        assert_eq!(settings.redis.key_prefix, "palaver");
        assert!(settings.redis.verify_persistence);
        assert_eq!(settings.node_name, None);
        assert_eq!(
            (settings.heartbeat, settings.lease, settings.timeout),
            (DEFAULT_HEARTBEAT, DEFAULT_LEASE, DEFAULT_TIMEOUT)
        );
        let from_file = resolve_cluster(&file, None, None)
            .expect("valid")
            .expect("a URL");
        assert_eq!(from_file.redis.url, "redis://file:6379");
    }

    #[test]
    fn sentinel_urls_are_checked_when_the_config_is_read() {
        let resolve = |url: &str| resolve_cluster(&FileCluster::default(), Some(url.into()), None);
        let settings = resolve("redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/palaver")
            .expect("valid")
            .expect("a URL");
        assert_eq!(
            settings.redis.url,
            "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/palaver"
        );
        let Err(ConfigError::Invalid(problem)) = resolve("redis+sentinel://10.0.0.1:26379") else {
            panic!("a Sentinel URL without a service is refused");
        };
        assert!(problem.contains("redis+sentinel://"), "{problem}");
        let Err(ConfigError::Invalid(problem)) = resolve("http://10.0.0.1") else {
            panic!("not a Redis URL");
        };
        assert!(problem.contains("redis+sentinel://HOST:PORT"), "{problem}");
    }

    #[test]
    fn the_node_name_from_the_flag_or_the_file_and_the_lease_from_the_file() {
        let file: FileCluster = toml::from_str(
            "redis_url = \"redis://h:1\"\nnode_name = \"alpha\"\nheartbeat = \"100ms\"\n\
             lease = \"500ms\"\ntimeout = \"300ms\"",
        )
        .expect("parses");
        let settings = resolve_cluster(&file, None, None).unwrap().unwrap();
        assert_eq!(settings.node_name.as_deref(), Some("alpha"));
        assert_eq!(settings.heartbeat, Duration::from_millis(100));
        assert_eq!(settings.lease, Duration::from_millis(500));
        assert_eq!(settings.timeout, Duration::from_millis(300));
        let renamed = resolve_cluster(&file, None, Some("beta".into()))
            .unwrap()
            .unwrap();
        assert_eq!(renamed.node_name.as_deref(), Some("beta"));
    }

    #[test]
    fn bad_node_names_and_short_leases_are_refused() {
        let url = || Some("redis://h:1".to_owned());
        let file = FileCluster::default();
        assert!(resolve_cluster(&file, url(), Some("a b".into())).is_err());
        assert!(resolve_cluster(&file, url(), Some(String::new())).is_err());
        let short: FileCluster =
            toml::from_str("heartbeat = \"2s\"\nlease = \"5s\"").expect("parses");
        let Err(ConfigError::Invalid(message)) = resolve_cluster(&short, url(), None) else {
            panic!("a lease of fewer than three heartbeats is refused");
        };
        assert!(message.contains("three heartbeats"), "{message}");
        let zero: FileCluster = toml::from_str("heartbeat = \"0s\"").expect("parses");
        assert!(resolve_cluster(&zero, url(), None).is_err());
        let no_timeout: FileCluster = toml::from_str("timeout = \"0s\"").expect("parses");
        assert!(resolve_cluster(&no_timeout, url(), None).is_err());
    }

    #[test]
    fn bad_urls_and_prefixes_are_refused_with_what_to_write() {
        let Err(ConfigError::Invalid(message)) =
            resolve_cluster(&FileCluster::default(), Some("localhost:6379".into()), None)
        else {
            panic!("a URL without a scheme is refused");
        };
        assert!(message.contains("redis://HOST:PORT"), "{message}");
        let file = FileCluster {
            key_prefix: Some("my prefix".into()),
            ..FileCluster::default()
        };
        assert!(resolve_cluster(&file, Some("redis://h:1".into()), None).is_err());
    }
}
