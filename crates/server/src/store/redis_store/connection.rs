//! Where palaver's connections to Redis go: straight to one server (`redis://`, `rediss://`,
//! `redis+unix://`), or to whichever server the Sentinels name as the primary of a service
//! (`redis+sentinel://`, `rediss+sentinel://`; docs/CLUSTER.md, "Sentinel and replicas").
//!
//! Either way a connection reconnects by itself at the next request after one failed. Through
//! Sentinel, a request that finds the primary gone (the connection dropped) or no longer the
//! primary (Redis answers `READONLY` or `MASTERDOWN`, as a demoted primary does) fails, and the
//! next one asks the Sentinels again: until they have promoted a replica they name the old
//! primary, whose requests keep failing, and from then on the new one. Every caller already
//! copes with a failed request — the store sends one that found its connection dropped once
//! more (`link.rs`), the heartbeat counts it as a failed renewal — so a failover looks to palaver
//! like a short outage of Redis.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use percent_encoding::percent_decode_str;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    Cmd, ConnectionAddr, ErrorKind, Pipeline, RedisError, RedisFuture, ServerErrorKind, TlsMode,
    Value,
};

/// A connection to Redis (the primary, through Sentinel) that reconnects by itself. Cheap to
/// clone: clones share the connection.
#[derive(Clone)]
pub(crate) enum RedisConnection {
    Direct(ConnectionManager),
    Sentinel(Arc<SentinelLink>),
}

/// Opens a connection to the Redis `url` names, giving up on connecting after
/// `connect_timeout` and on an answer after `response_timeout`.
pub(crate) async fn redis_connection(
    url: &str,
    connect_timeout: Duration,
    response_timeout: Duration,
) -> Result<RedisConnection, RedisError> {
    // Few, quick retries: a Redis that is down makes the start fail within seconds with a
    // clear line (a service manager restarts palaver), and a request while it is down fails
    // soon rather than holding its sender; the next request reconnects.
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(connect_timeout))
        .set_response_timeout(Some(response_timeout))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(500));
    match SentinelTarget::parse(url) {
        None => Ok(RedisConnection::Direct(
            redis::Client::open(url)?
                .get_connection_manager_with_config(config)
                .await?,
        )),
        Some(target) => {
            let link = SentinelLink {
                sentinels: tokio::sync::Mutex::new(target.map_err(invalid_url)?.client()?),
                config,
                primary: Mutex::new(None),
                generation: AtomicU64::new(0),
            };
            // Fails now, as a direct connection would, if no Sentinel names a primary.
            link.primary().await?;
            Ok(RedisConnection::Sentinel(Arc::new(link)))
        }
    }
}

/// A subscriber's connection (pub/sub) to the Redis `url` names: through Sentinel, to the
/// primary the Sentinels name now. It does not follow a failover: its owner subscribes again
/// when it ends, and the Sentinels are asked again then.
pub(crate) async fn redis_subscriber(url: &str) -> Result<redis::aio::PubSub, RedisError> {
    match SentinelTarget::parse(url) {
        None => redis::Client::open(url)?.get_async_pubsub().await,
        Some(target) => {
            let mut sentinels = target.map_err(invalid_url)?.client()?;
            let primary = sentinels.async_get_client().await?;
            primary.get_async_pubsub().await
        }
    }
}

fn invalid_url(problem: String) -> RedisError {
    RedisError::from((
        ErrorKind::InvalidClientConfig,
        "invalid Sentinel URL",
        problem,
    ))
}

/// A `redis+sentinel://[user:password@]HOST:PORT[,HOST:PORT…]/SERVICE` URL, read: the
/// Sentinels to ask, the service (the name the Sentinels monitor the primary under), and the
/// credentials for Redis itself (the Sentinels are asked without any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelTarget {
    tls: bool,
    sentinels: Vec<(String, u16)>,
    service: String,
    username: Option<String>,
    password: Option<String>,
}

impl SentinelTarget {
    /// `None` if `url` is not a Sentinel URL; otherwise the target, or what is wrong with it.
    pub fn parse(url: &str) -> Option<Result<Self, String>> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("redis+sentinel://") {
            (false, rest)
        } else {
            (true, url.strip_prefix("rediss+sentinel://")?)
        };
        Some(Self::parse_after_scheme(tls, rest))
    }

    fn parse_after_scheme(tls: bool, rest: &str) -> Result<Self, String> {
        let usage =
            "a Sentinel URL is redis+sentinel://[user:password@]HOST:PORT[,HOST:PORT…]/SERVICE";
        let (hosts, service) = rest.rsplit_once('/').ok_or(usage)?;
        let (credentials, hosts) = match hosts.rsplit_once('@') {
            Some((credentials, hosts)) => (Some(credentials), hosts),
            None => (None, hosts),
        };
        let decode = |text: &str| {
            percent_decode_str(text)
                .decode_utf8()
                .map(|text| text.into_owned())
                .map_err(|_| "the URL's user and password must be UTF-8".to_owned())
        };
        let (username, password) = match credentials.map(|text| text.split_once(':')) {
            None => (None, None),
            Some(None) => (Some(decode(credentials.unwrap_or_default())?), None),
            Some(Some((user, password))) => (
                Some(decode(user)?).filter(|user| !user.is_empty()),
                Some(decode(password)?),
            ),
        };
        let sentinels = hosts
            .split(',')
            .map(|host| {
                let (name, port) = host.rsplit_once(':').ok_or(usage)?;
                let port = port
                    .parse()
                    .map_err(|_| format!("{port:?} is not a port, in the Sentinel {host:?}"))?;
                if name.is_empty() {
                    return Err(usage.to_owned());
                }
                Ok((name.trim_matches(['[', ']']).to_owned(), port))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let plain =
            |character: char| character.is_ascii_alphanumeric() || "_-.".contains(character);
        if service.is_empty() || !service.chars().all(plain) {
            return Err(format!(
                "{usage}; the service is the name the Sentinels monitor the primary under \
                 (letters, digits, '_', '-' or '.'), not {service:?}"
            ));
        }
        Ok(Self {
            tls,
            sentinels,
            service: service.to_owned(),
            username,
            password,
        })
    }

    fn client(self) -> Result<SentinelClient, RedisError> {
        let tls_mode = self.tls.then_some(TlsMode::Secure);
        let sentinels = self
            .sentinels
            .into_iter()
            .map(|(host, port)| match tls_mode {
                Some(_) => ConnectionAddr::TcpTls {
                    host,
                    port,
                    insecure: false,
                    tls_params: None,
                },
                None => ConnectionAddr::Tcp(host, port),
            });
        let mut builder =
            SentinelClientBuilder::new(sentinels, &self.service, SentinelServerType::Master)?;
        if let Some(tls_mode) = tls_mode {
            builder = builder
                .set_client_to_redis_tls_mode(tls_mode)
                .set_client_to_sentinel_tls_mode(tls_mode);
        }
        if let Some(username) = self.username {
            builder = builder.set_client_to_redis_username(username);
        }
        if let Some(password) = self.password {
            builder = builder.set_client_to_redis_password(password);
        }
        builder.build()
    }
}

/// The primary the Sentinels named last, connected, and how to ask them again.
pub(crate) struct SentinelLink {
    sentinels: tokio::sync::Mutex<SentinelClient>,
    config: ConnectionManagerConfig,
    /// The primary's connection and its generation, until a request finds it gone.
    primary: Mutex<Option<(u64, ConnectionManager)>>,
    generation: AtomicU64,
}

impl SentinelLink {
    /// The primary's connection, asking the Sentinels for it if there is none.
    async fn primary(&self) -> Result<(u64, ConnectionManager), RedisError> {
        if let Some(primary) = crate::lock(&self.primary).clone() {
            return Ok(primary);
        }
        // One request at a time asks the Sentinels; the others find its answer.
        let mut sentinels = self.sentinels.lock().await;
        if let Some(primary) = crate::lock(&self.primary).clone() {
            return Ok(primary);
        }
        let client = sentinels.async_get_client().await?;
        let connection = client
            .get_connection_manager_with_config(self.config.clone())
            .await?;
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        *crate::lock(&self.primary) = Some((generation, connection.clone()));
        tracing::info!(
            primary = %client.get_connection_info().addr(),
            "Redis primary found through Sentinel"
        );
        Ok((generation, connection))
    }

    /// After `error` on the primary of `generation`: if it says the primary is gone or no
    /// longer the primary, the next request asks the Sentinels again.
    fn failed(&self, generation: u64, error: &RedisError) {
        let server = |kind| error.kind() == ErrorKind::Server(kind);
        let lost = error.is_connection_dropped()
            || error.is_io_error()
            || error.is_timeout()
            || server(ServerErrorKind::ReadOnly)
            || server(ServerErrorKind::MasterDown);
        if !lost {
            return;
        }
        let mut primary = crate::lock(&self.primary);
        if primary
            .as_ref()
            .is_some_and(|(current, _)| *current == generation)
        {
            tracing::warn!(%error, "the Redis primary failed; asking the Sentinels again");
            *primary = None;
        }
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, command: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Direct(connection) => connection.req_packed_command(command),
            Self::Sentinel(link) => Box::pin(async move {
                let (generation, mut connection) = link.primary().await?;
                let answer = connection.req_packed_command(command).await;
                if let Err(error) = &answer {
                    link.failed(generation, error);
                }
                answer
            }),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Direct(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Sentinel(link) => Box::pin(async move {
                let (generation, mut connection) = link.primary().await?;
                let answer = connection
                    .req_packed_commands(pipeline, offset, count)
                    .await;
                if let Err(error) = &answer {
                    link.failed(generation, error);
                }
                answer
            }),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Direct(connection) => connection.get_db(),
            Self::Sentinel(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_urls_name_the_sentinels_the_service_and_redis_credentials() {
        assert_eq!(SentinelTarget::parse("redis://localhost:6379"), None);
        let target = SentinelTarget::parse(
            "redis+sentinel://palaver:s%40cret@10.0.0.1:26379,10.0.0.2:26380/chat",
        )
        .expect("a Sentinel URL")
        .expect("valid");
        assert_eq!(
            target,
            SentinelTarget {
                tls: false,
                sentinels: vec![("10.0.0.1".into(), 26379), ("10.0.0.2".into(), 26380)],
                service: "chat".into(),
                username: Some("palaver".into()),
                password: Some("s@cret".into()),
            }
        );
        let target = SentinelTarget::parse("rediss+sentinel://:pw@[::1]:26379/chat")
            .expect("a Sentinel URL")
            .expect("valid");
        assert!(target.tls);
        assert_eq!(target.sentinels, [("::1".to_owned(), 26379)]);
        assert_eq!(
            (target.username, target.password),
            (None, Some("pw".into()))
        );
        for wrong in [
            "redis+sentinel://10.0.0.1:26379",
            "redis+sentinel://10.0.0.1/chat",
            "redis+sentinel://10.0.0.1:port/chat",
            "redis+sentinel://10.0.0.1:26379/",
            "redis+sentinel://:26379/chat",
            "redis+sentinel://10.0.0.1:26379/a b",
        ] {
            let outcome = SentinelTarget::parse(wrong).expect("a Sentinel URL");
            assert!(outcome.is_err(), "{wrong}: {outcome:?}");
        }
    }
}
