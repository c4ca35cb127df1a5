//! Server configuration: the TOML file, the overrides from flags and environment, and the rule
//! that merges them.
//!
//! Precedence is file < environment < flags, value by value, with one exception for listeners:
//! the listener set is taken whole from the first source that names any listener (flags and
//! environment together, then the file), and the default listener applies only when none does.
//! So `--text-listen 127.0.0.1:0` runs exactly one listener, whatever the file says.
//! `palaver.example.toml` at the repository root documents every setting.
//!
//! Durations are spelled one way in the file, in flags and in the environment: a number and a
//! unit, such as `"90s"`, `"5m"` or `"90d"` ([`duration`]). Settings renamed since they were
//! first offered are still read under their old names, with a warning at start-up
//! ([`deprecated`]).

mod admin;
mod cluster;
mod deprecated;
mod duration;
mod protection;
mod web;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

pub use crate::accounts::{AdminTokenEntry, OperatorEntry};
pub use crate::addresses::AddressList;
pub use crate::admission::AddressLimits;
pub use crate::flood::FloodSettings;
pub use crate::proxy_protocol::ProxySettings;
pub use crate::rate_limit::Rate;
pub use admin::{AdminSettings, FileAdmin};
pub use cluster::{DEFAULT_KEY_PREFIX, FileCluster};
pub use deprecated::Deprecation;
pub use duration::{format_duration, parse_duration};
pub use protection::{FileFlood, FileProxy};
pub use web::{FileWeb, WebSettings};

/// The default text-protocol listener.
pub const DEFAULT_TEXT_LISTEN: &str = "0.0.0.0:7788";
/// The default IRC listener.
pub const DEFAULT_IRC_LISTEN: &str = "0.0.0.0:6667";
/// The default web listener (the browser client and IRC over WebSocket).
pub const DEFAULT_WEB_LISTEN: &str = "0.0.0.0:8080";
/// The conventional IRC-over-TLS port (no TLS listener runs unless configured).
pub const CONVENTIONAL_IRCS_PORT: u16 = 6697;
/// How long shutdown waits for clients' queued output by default.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("invalid setting: {0}")]
    Invalid(String),
}

/// The protocol a listener speaks, and whether over TLS. Its name is the `kind` in the
/// `listening KIND ADDR` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    Text,
    Irc,
    /// The text protocol over TLS (`texts`).
    TextTls,
    /// IRC over TLS (`ircs`, conventionally port 6697).
    IrcTls,
    /// HTTP: the browser client, and IRC over WebSocket at `/irc`.
    Web,
    /// The same over TLS (`webs`).
    WebTls,
}

impl ListenerKind {
    pub fn name(self) -> &'static str {
        match self {
            ListenerKind::Text => "text",
            ListenerKind::Irc => "irc",
            ListenerKind::TextTls => "texts",
            ListenerKind::IrcTls => "ircs",
            ListenerKind::Web => "web",
            ListenerKind::WebTls => "webs",
        }
    }

    /// Whether its clients speak TLS first.
    pub fn is_tls(self) -> bool {
        matches!(
            self,
            ListenerKind::TextTls | ListenerKind::IrcTls | ListenerKind::WebTls
        )
    }

    /// Whether its clients speak HTTP (and IRC over WebSocket).
    pub fn is_web(self) -> bool {
        matches!(self, ListenerKind::Web | ListenerKind::WebTls)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerConfig {
    pub kind: ListenerKind,
    pub address: SocketAddr,
}

/// How often a busy connection is written to at most, by default: long enough for a crowded
/// room's lines to share writes (the kernel's cost is per write more than per line), short
/// enough to stay well under what a person notices; `docs/PERFORMANCE.md` has the measurements.
pub const DEFAULT_WRITE_COALESCING: Duration = Duration::from_millis(2);

/// Per-connection limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest accepted input line in bytes, without its line ending.
    pub max_line_bytes: usize,
    /// Most bytes queued for one client before it is dropped as too slow.
    pub send_queue_bytes: usize,
    /// Most rooms one user may be in at once (IRC `CHANLIMIT`); at least 1.
    pub rooms_per_user: usize,
    /// How often a busy connection is written to at most, so that the traffic arriving
    /// meanwhile shares one write (`outbox.rs`); `None` writes whatever is queued at once.
    pub write_coalescing: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_line_bytes: 4096,
            send_queue_bytes: 1024 * 1024,
            rooms_per_user: crate::hub::DEFAULT_ROOMS_PER_USER,
            write_coalescing: Some(DEFAULT_WRITE_COALESCING),
        }
    }
}

/// How the IRC side presents itself and keeps connections alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrcSettings {
    /// The server's name: the source of numerics and server notices.
    pub server_name: String,
    /// The network name (`NETWORK` in `RPL_ISUPPORT`).
    pub network: String,
    /// A line describing the server (the "server info" of `LINKS`).
    pub description: String,
    /// Message of the day, one entry per line; `None` sends `ERR_NOMOTD`.
    pub motd: Option<Vec<String>>,
    /// Password every IRC client must send with `PASS` before registering.
    pub password: Option<String>,
    /// Silence after which the server sends `PING`.
    pub ping_interval: Duration,
    /// How long a client has to answer that `PING` (or to register) before it is dropped.
    pub ping_timeout: Duration,
    /// Messages replayed on join to clients without `draft/chathistory` (0: none).
    pub history_on_join: usize,
    /// Whether `REGISTER` (IRCv3 `draft/account-registration`) is accepted before connection
    /// registration completes (the capability's `before-connect` value). Never with a
    /// server password: registering must not be a way around `PASS`.
    pub register_before_connect: bool,
}

impl Default for IrcSettings {
    fn default() -> Self {
        Self {
            server_name: "palaver.local".into(),
            network: "palaver".into(),
            description: "palaver chat server".into(),
            motd: None,
            password: None,
            ping_interval: Duration::from_secs(120),
            ping_timeout: Duration::from_secs(60),
            history_on_join: 0,
            register_before_connect: true,
        }
    }
}

impl IrcSettings {
    /// Whether a client may `REGISTER` before connection registration completes: if the
    /// setting allows it and no server password is set, since a client that registered an
    /// account before sending `PASS` would have used the server without its password.
    pub fn registers_before_connect(&self) -> bool {
        self.register_before_connect && self.password.is_none()
    }
}

/// How long history is kept by default: 90 days, long enough to catch up after any holiday,
/// and the span hosted chat services commonly keep, so nobody's words stay on disk forever
/// unless the operator says so (`history_max_age = "off"`).
pub const DEFAULT_HISTORY_MAX_AGE: Duration = Duration::from_secs(90 * 86_400);

/// How many messages each room and private conversation keeps by default: 10,000, a hundred
/// full `CHATHISTORY` pages, days to weeks of a busy room, and a bound on what one flooded
/// conversation costs on disk (`history_max_per_room = "off"` lifts it).
pub const DEFAULT_HISTORY_MAX_PER_ROOM: usize = 10_000;

/// The word that turns a retention limit off.
const OFF: &str = "off";

/// How long a text client's unterminated line may sit before it is taken as complete, by
/// default: long enough that TCP's retransmission of a lost segment (200 ms at the least on
/// Linux) usually arrives first, short enough that someone waiting for the answer to a line
/// sent without a newline barely notices.
pub const DEFAULT_IDLE_FLUSH: Duration = Duration::from_millis(500);

/// How the text protocol treats its users (its listeners are in [`Config::listeners`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextSettings {
    /// Messages shown to a text user joining a room (0: none).
    pub history_on_join: usize,
    /// After this long without more bytes, a partial line (no LF yet) is taken as complete;
    /// `None` (`"off"`) waits for the LF however long it takes.
    pub idle_flush: Option<Duration>,
    /// A text client that has sent no line this long after connecting is disconnected, so
    /// that silent connections do not hold their place; `None` (`"off"`): never.
    pub registration_timeout: Option<Duration>,
}

impl Default for TextSettings {
    fn default() -> Self {
        Self {
            history_on_join: 20,
            idle_flush: Some(DEFAULT_IDLE_FLUSH),
            // Long enough for someone who connects with `nc` to read the lobby for a while
            // before typing; short enough that a script holding silent sockets gains little.
            registration_timeout: Some(Duration::from_secs(300)),
        }
    }
}

/// Where history lives and how much of it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    /// The SQLite database file, or `:memory:` for a throw-away server.
    pub path: String,
    /// Messages older than this are deleted; `None` (`"off"`) keeps them forever.
    pub history_max_age: Option<Duration>,
    /// At most this many messages are kept per room (and per private conversation); `None`
    /// (`"off"`) for no limit.
    pub history_max_per_room: Option<usize>,
    /// The least time between the starts of two group commits while messages keep coming;
    /// `None` (`"off"`) commits as soon as the previous commit is done.
    pub commit_interval: Option<Duration>,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            path: "palaver.db".into(),
            history_max_age: Some(DEFAULT_HISTORY_MAX_AGE),
            history_max_per_room: Some(DEFAULT_HISTORY_MAX_PER_ROOM),
            commit_interval: Some(crate::store::DEFAULT_COMMIT_INTERVAL),
        }
    }
}

/// Account rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSettings {
    /// How long someone may use a registered nick without logging in to it before being
    /// renamed to `guest-N`; zero turns the protection off.
    pub nick_grace: Duration,
    /// The shortest password an account may have, in bytes: 1 to
    /// [`MAX_PASSWORD_BYTES`](crate::accounts::MAX_PASSWORD_BYTES).
    pub min_password_bytes: usize,
    /// Whether registering an account takes an email address (kept, never verified).
    pub require_email: bool,
}

impl Default for AccountSettings {
    fn default() -> Self {
        Self {
            nick_grace: Duration::from_secs(60),
            min_password_bytes: crate::accounts::DEFAULT_MIN_PASSWORD_BYTES,
            require_email: false,
        }
    }
}

/// How long a client of a TLS listener has to complete its handshake by default: generous for
/// a slow link, short enough that silent connections do not pile up.
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS: the server's certificate and what is said about it (its listeners are in
/// [`Config::listeners`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The certificate chain (PEM), leaf first, and its private key (PEM). Both or neither;
    /// required by a TLS listener. Read at start-up and again on every reload.
    pub certificate: Option<TlsFiles>,
    /// How long a client has to complete the TLS handshake before it is dropped.
    pub handshake_timeout: Duration,
    /// The IRCv3 `sts` policy's duration, advertised on TLS connections (with a `port` on
    /// plain ones) when set; `None` (`"off"`, the default) advertises no policy, since a
    /// policy pinned by clients with a development certificate would lock them out.
    pub sts_duration: Option<Duration>,
    /// The port the `sts` policy sends plain-IRC clients to; by default the first `ircs`
    /// listener's (set it when a proxy in front terminates TLS on another port).
    pub sts_port: Option<u16>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self {
            certificate: None,
            handshake_timeout: DEFAULT_TLS_HANDSHAKE_TIMEOUT,
            sts_duration: None,
            sts_port: None,
        }
    }
}

/// A certificate chain file and its private key file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

/// The fully resolved configuration the server runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub listeners: Vec<ListenerConfig>,
    pub limits: Limits,
    /// What one address may do (`[limits]`): connections, account registrations, room
    /// creations.
    pub address_limits: AddressLimits,
    pub flood: FloodSettings,
    /// Listeners behind a proxy that sends PROXY protocol headers (`[proxy]`).
    pub proxy: ProxySettings,
    pub text: TextSettings,
    pub irc: IrcSettings,
    pub store: StoreSettings,
    pub accounts: AccountSettings,
    pub tls: TlsSettings,
    /// Show peers by a cloak instead of their IP address.
    pub cloak_hosts: bool,
    /// How long shutdown waits for clients' queued output to flush.
    pub shutdown_grace: Duration,
    /// The server operators (`[[oper]]`): names unique ignoring case, hashes checked.
    pub operators: Vec<OperatorEntry>,
    /// Where the operations endpoints (`/healthz`, `/readyz`, `/metrics`) are served over
    /// HTTP; none by default. Not a chat listener: its set is resolved on its own (flags and
    /// environment, else the file), whatever the chat listeners' sources.
    pub http_listen: Vec<SocketAddr>,
    /// The web listeners' settings (`[web]`; the listeners are among `listeners`).
    pub web: WebSettings,
    /// `[cluster]`: Redis and this node's place there, or `None` for a single node on
    /// embedded SQLite (`[store] path`).
    pub cluster: Option<crate::cluster::ClusterSettings>,
    /// `[admin]`: the administration API's tokens and audit log.
    pub admin: AdminSettings,
}

/// The TOML file's shape. Every field is optional; unknown keys are errors so typos fail
/// loudly.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub text: FileText,
    #[serde(default)]
    pub irc: FileIrc,
    #[serde(default)]
    pub privacy: FilePrivacy,
    #[serde(default)]
    pub store: FileStore,
    #[serde(default)]
    pub accounts: FileAccounts,
    #[serde(default)]
    pub limits: FileLimits,
    #[serde(default)]
    pub flood: FileFlood,
    #[serde(default)]
    pub proxy: FileProxy,
    #[serde(default)]
    pub shutdown: FileShutdown,
    #[serde(default)]
    pub http: FileHttp,
    #[serde(default)]
    pub web: FileWeb,
    #[serde(default)]
    pub cluster: FileCluster,
    #[serde(default)]
    pub tls: FileTls,
    /// `[[oper]]` entries: the server operators.
    #[serde(default)]
    pub oper: Vec<OperatorEntry>,
    /// `[admin]` and its `[[admin.token]]` entries: the administration API.
    #[serde(default)]
    pub admin: FileAdmin,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileText {
    pub listen: Option<Vec<SocketAddr>>,
    pub tls_listen: Option<Vec<SocketAddr>>,
    pub history_on_join: Option<usize>,
    /// A positive duration such as `"500ms"`, or `"off"`; checked in [`Config::resolve`].
    pub idle_flush: Option<toml::Value>,
    /// A positive duration such as `"5m"`, or `"off"`.
    pub registration_timeout: Option<toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileIrc {
    pub listen: Option<Vec<SocketAddr>>,
    pub tls_listen: Option<Vec<SocketAddr>>,
    pub server_name: Option<String>,
    pub network: Option<String>,
    pub description: Option<String>,
    /// The message of the day as text (lines separated by newlines).
    pub motd: Option<String>,
    /// Or a file to read it from at start-up.
    pub motd_file: Option<PathBuf>,
    pub password: Option<String>,
    /// Durations such as `"2m"`; checked in [`Config::resolve`] so a wrong value gets a
    /// precise message.
    pub ping_interval: Option<toml::Value>,
    pub ping_timeout: Option<toml::Value>,
    pub history_on_join: Option<usize>,
    pub register_before_connect: Option<bool>,
    /// Deprecated: `ping_interval` in whole seconds.
    pub ping_interval_seconds: Option<u64>,
    /// Deprecated: `ping_timeout` in whole seconds.
    pub ping_timeout_seconds: Option<u64>,
    /// Deprecated name of `history_on_join`.
    pub replay_on_join: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAccounts {
    /// A duration such as `"60s"`; `"0s"` turns the protection off.
    pub nick_grace: Option<toml::Value>,
    /// Deprecated: `nick_grace` in whole seconds.
    pub nick_grace_seconds: Option<u64>,
    pub min_password_bytes: Option<usize>,
    pub require_email: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileStore {
    pub path: Option<String>,
    /// A duration such as `"90d"`, `"12h"`, `"30m"` or `"45s"`, or `"off"`; checked in
    /// [`Config::resolve`] so a wrong value gets a precise message.
    pub history_max_age: Option<toml::Value>,
    /// A positive number, or `"off"`; checked in [`Config::resolve`] likewise.
    pub history_max_per_room: Option<toml::Value>,
    /// A positive duration, or `"off"`; checked likewise.
    pub commit_interval: Option<toml::Value>,
    /// Deprecated: `[text] history_on_join`.
    pub history_on_join: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePrivacy {
    pub cloak_hosts: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLimits {
    pub max_line_bytes: Option<usize>,
    pub send_queue_bytes: Option<usize>,
    pub rooms_per_user: Option<usize>,
    /// A duration such as `"2ms"`, or `"off"`.
    pub write_coalescing: Option<toml::Value>,
    pub connections_per_address: Option<usize>,
    /// A rate such as `"30/1m"`, or `"off"`; checked in [`Config::resolve`].
    pub connect_rate_per_address: Option<String>,
    pub max_connections: Option<usize>,
    pub account_registrations_per_address: Option<String>,
    pub room_creations_per_address: Option<String>,
    pub exempt_addresses: Option<Vec<String>>,
}

/// `[http]`: the operations endpoints.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileHttp {
    pub listen: Option<Vec<SocketAddr>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileShutdown {
    /// A duration such as `"5s"`.
    pub grace: Option<toml::Value>,
    /// Deprecated: `grace` in whole seconds.
    pub grace_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTls {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// A positive duration such as `"10s"`.
    pub handshake_timeout: Option<toml::Value>,
    /// A duration such as `"30d"`, or `"off"`.
    pub sts_duration: Option<toml::Value>,
    pub sts_port: Option<u16>,
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.display().to_string(),
            message,
        })
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|error| error.message().to_owned())
    }
}

/// Settings given as flags or environment variables (already merged by the command line
/// parser, flags winning). Empty or `None` means "not given".
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub text_listen: Vec<SocketAddr>,
    pub irc_listen: Vec<SocketAddr>,
    /// `--http-listen`: replaces `[http] listen` when not empty.
    pub http_listen: Vec<SocketAddr>,
    pub text_tls_listen: Vec<SocketAddr>,
    pub irc_tls_listen: Vec<SocketAddr>,
    pub web_listen: Vec<SocketAddr>,
    pub web_tls_listen: Vec<SocketAddr>,
    /// `--web-root DIR`.
    pub web_root: Option<PathBuf>,
    /// `--tls-cert FILE` and `--tls-key FILE`.
    pub tls_certificate: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub server_name: Option<String>,
    pub irc_password: Option<String>,
    pub cloak_hosts: Option<bool>,
    /// `--db PATH`.
    pub database: Option<String>,
    /// `--cluster URL`: the Redis store's URL.
    pub cluster_url: Option<String>,
    /// `--node-name NAME`: this node's name in the cluster.
    pub node_name: Option<String>,
    pub max_line_bytes: Option<usize>,
    pub send_queue_bytes: Option<usize>,
    pub shutdown_grace: Option<Duration>,
    /// Old spellings the flags or environment used (the parser decides which spelling wins),
    /// warned about with the file's.
    pub deprecations: Vec<Deprecation>,
}

impl Config {
    /// Merges the file (if any) and the overrides into a checked configuration, and logs a
    /// warning for every deprecated spelling they use.
    pub fn resolve(file: FileConfig, overrides: Overrides) -> Result<Self, ConfigError> {
        let (config, deprecations) = Self::resolve_noting_deprecations(file, overrides)?;
        for deprecation in &deprecations {
            tracing::warn!("{deprecation}");
        }
        Ok(config)
    }

    /// The configuration with nothing configured.
    pub fn defaults() -> Self {
        Self::resolve(FileConfig::default(), Overrides::default())
            .expect("the defaults are a valid configuration")
    }

    /// Like [`resolve`](Self::resolve), returning the deprecated spellings used instead of
    /// logging them: the overrides' first, then the file's.
    pub fn resolve_noting_deprecations(
        file: FileConfig,
        overrides: Overrides,
    ) -> Result<(Self, Vec<Deprecation>), ConfigError> {
        let mut deprecations = overrides.deprecations.clone();
        let listeners = resolve_listeners(&overrides, &file);
        let defaults = Limits::default();
        let limits = Limits {
            max_line_bytes: overrides
                .max_line_bytes
                .or(file.limits.max_line_bytes)
                .unwrap_or(defaults.max_line_bytes),
            send_queue_bytes: overrides
                .send_queue_bytes
                .or(file.limits.send_queue_bytes)
                .unwrap_or(defaults.send_queue_bytes),
            rooms_per_user: file
                .limits
                .rooms_per_user
                .unwrap_or(defaults.rooms_per_user),
            write_coalescing: match &file.limits.write_coalescing {
                None => defaults.write_coalescing,
                Some(value) => positive_or_off("[limits] write_coalescing", "\"2ms\"", value)?,
            },
        };
        let address_limits = protection::resolve_address_limits(&file.limits)?;
        let flood = protection::resolve_flood(&file.flood, &limits)?;
        let proxy = protection::resolve_proxy(&file.proxy, &listeners)?;
        let text = TextSettings {
            history_on_join: deprecated::renamed_count(
                "[text] history_on_join",
                file.text.history_on_join,
                "[store] history_on_join",
                file.store.history_on_join,
                &mut deprecations,
            )?
            .unwrap_or(TextSettings::default().history_on_join),
            idle_flush: match &file.text.idle_flush {
                None => TextSettings::default().idle_flush,
                Some(value) => positive_or_off("[text] idle_flush", "\"500ms\"", value)?,
            },
            registration_timeout: match &file.text.registration_timeout {
                None => TextSettings::default().registration_timeout,
                Some(value) => positive_or_off("[text] registration_timeout", "\"5m\"", value)?,
            },
        };
        let irc = resolve_irc(&overrides, file.irc, &mut deprecations)?;
        let store = resolve_store(&overrides, file.store)?;
        let accounts = AccountSettings {
            nick_grace: deprecated::seconds_renamed(
                "[accounts] nick_grace",
                file.accounts.nick_grace.as_ref(),
                "[accounts] nick_grace_seconds",
                file.accounts.nick_grace_seconds,
                &mut deprecations,
            )?
            .unwrap_or(AccountSettings::default().nick_grace),
            min_password_bytes: file
                .accounts
                .min_password_bytes
                .unwrap_or(AccountSettings::default().min_password_bytes),
            require_email: file
                .accounts
                .require_email
                .unwrap_or(AccountSettings::default().require_email),
        };
        let tls = resolve_tls(&overrides, file.tls)?;
        let cloak_hosts = overrides
            .cloak_hosts
            .or(file.privacy.cloak_hosts)
            .unwrap_or(false);
        let file_grace = deprecated::seconds_renamed(
            "[shutdown] grace",
            file.shutdown.grace.as_ref(),
            "[shutdown] grace_seconds",
            file.shutdown.grace_seconds,
            &mut deprecations,
        )?;
        let admin = admin::resolve_admin(file.admin, &store.path)?;
        let config = Config {
            listeners,
            limits,
            address_limits,
            flood,
            proxy,
            text,
            irc,
            store,
            accounts,
            tls,
            cloak_hosts,
            shutdown_grace: overrides
                .shutdown_grace
                .or(file_grace)
                .unwrap_or(DEFAULT_SHUTDOWN_GRACE),
            operators: file.oper,
            http_listen: if overrides.http_listen.is_empty() {
                file.http.listen.unwrap_or_default()
            } else {
                overrides.http_listen.clone()
            },
            web: web::resolve_web(&file.web, overrides.web_root.clone())?,
            cluster: cluster::resolve_cluster(
                &file.cluster,
                overrides.cluster_url.clone(),
                overrides.node_name.clone(),
            )?,
            admin,
        };
        config.check()?;
        Ok((config, deprecations))
    }

    fn check(&self) -> Result<(), ConfigError> {
        let irc = &self.irc;
        if irc.server_name.is_empty() || irc.server_name.contains([' ', '!', '@', ',', '*']) {
            return Err(ConfigError::Invalid(
                "server_name must be one word without ! @ , or *".into(),
            ));
        }
        if irc.network.is_empty() || irc.network.contains(' ') {
            return Err(ConfigError::Invalid("network must be one word".into()));
        }
        if irc.description.is_empty() || irc.description.chars().any(char::is_control) {
            return Err(ConfigError::Invalid(
                "[irc] description must be one line of text".into(),
            ));
        }
        if irc.ping_interval.is_zero() || irc.ping_timeout.is_zero() {
            return Err(ConfigError::Invalid(
                "[irc] ping_interval and ping_timeout must be positive".into(),
            ));
        }
        const LINE_RANGE: std::ops::RangeInclusive<usize> = 64..=1024 * 1024;
        let limits = &self.limits;
        if !LINE_RANGE.contains(&limits.max_line_bytes) {
            return Err(ConfigError::Invalid(format!(
                "max_line_bytes must be between {} and {}",
                LINE_RANGE.start(),
                LINE_RANGE.end()
            )));
        }
        // A queue must hold at least a couple of maximal lines, or every long message would
        // drop its recipients.
        if limits.send_queue_bytes < 4 * limits.max_line_bytes {
            return Err(ConfigError::Invalid(format!(
                "send_queue_bytes must be at least 4 × max_line_bytes ({})",
                4 * limits.max_line_bytes
            )));
        }
        let passwords = 1..=crate::accounts::MAX_PASSWORD_BYTES;
        if !passwords.contains(&self.accounts.min_password_bytes) {
            return Err(ConfigError::Invalid(format!(
                "[accounts] min_password_bytes must be between {} and {} (the longest password \
                 accepted)",
                passwords.start(),
                passwords.end()
            )));
        }
        if let Some(listener) = self
            .listeners
            .iter()
            .find(|listener| listener.kind.is_tls())
            && self.tls.certificate.is_none()
        {
            return Err(ConfigError::Invalid(format!(
                "the {} listener on {} needs a certificate: give --tls-cert FILE and --tls-key \
                 FILE (or [tls] cert and key)",
                listener.kind.name(),
                listener.address
            )));
        }
        // Every user is in the lobby (text users join it on connecting).
        if limits.rooms_per_user == 0 {
            return Err(ConfigError::Invalid(
                "rooms_per_user must be at least 1".into(),
            ));
        }
        check_operators(&self.operators)
    }
}

/// Every `[[oper]]` entry usable, and no two of the same name (ignoring case, as `OPER` does).
fn check_operators(operators: &[OperatorEntry]) -> Result<(), ConfigError> {
    let mut names = std::collections::HashSet::new();
    for operator in operators {
        if let Some(problem) = operator.problem() {
            return Err(ConfigError::Invalid(problem));
        }
        if !names.insert(palaver_proto::names::fold(&operator.name)) {
            return Err(ConfigError::Invalid(format!(
                "two [[oper]] entries are named {}",
                operator.name
            )));
        }
    }
    Ok(())
}

/// `history_max_age`: a positive duration, or `"off"` to keep history forever.
fn parse_max_age(value: &toml::Value) -> Result<Option<Duration>, ConfigError> {
    const KEY: &str = "[store] history_max_age";
    if value.as_str().is_some_and(|text| text.trim() == OFF) {
        return Ok(None);
    }
    let invalid = || {
        ConfigError::Invalid(format!(
            "{KEY} must be a positive duration such as {}, or \"off\", not {value}",
            duration::EXAMPLES
        ))
    };
    match duration::from_value(KEY, value) {
        Ok(age) if !age.is_zero() => Ok(Some(age)),
        _ => Err(invalid()),
    }
}

/// A positive duration, or `"off"` (`None`), for the setting `key`.
fn positive_or_off(
    key: &str,
    example: &str,
    value: &toml::Value,
) -> Result<Option<Duration>, ConfigError> {
    if value.as_str().is_some_and(|text| text.trim() == OFF) {
        return Ok(None);
    }
    match duration::from_value(key, value) {
        Ok(period) if !period.is_zero() => Ok(Some(period)),
        _ => Err(ConfigError::Invalid(format!(
            "{key} must be a positive duration such as {example}, or \"off\", not {value}"
        ))),
    }
}

/// `history_max_per_room`: a positive whole number, or `"off"` for no limit.
fn parse_max_per_room(value: &toml::Value) -> Result<Option<usize>, ConfigError> {
    match value {
        toml::Value::String(text) if text.trim() == OFF => Ok(None),
        toml::Value::Integer(count) if *count > 0 => {
            usize::try_from(*count).map(Some).map_err(|_| {
                ConfigError::Invalid(format!("history_max_per_room {count} is too large"))
            })
        }
        other => Err(ConfigError::Invalid(format!(
            "history_max_per_room must be a positive whole number or \"off\", not {other}"
        ))),
    }
}

/// The listener set comes whole from the first source naming any listener.
fn resolve_listeners(overrides: &Overrides, file: &FileConfig) -> Vec<ListenerConfig> {
    // In the order of `ListenerKind`: text, IRC, text over TLS, IRC over TLS, web, web over
    // TLS.
    let listeners = |addresses: [&[SocketAddr]; 6]| -> Vec<ListenerConfig> {
        let kinds = [
            ListenerKind::Text,
            ListenerKind::Irc,
            ListenerKind::TextTls,
            ListenerKind::IrcTls,
            ListenerKind::Web,
            ListenerKind::WebTls,
        ];
        kinds
            .into_iter()
            .zip(addresses)
            .flat_map(|(kind, addresses)| {
                addresses
                    .iter()
                    .map(move |&address| ListenerConfig { kind, address })
            })
            .collect()
    };
    let from_overrides = listeners([
        &overrides.text_listen,
        &overrides.irc_listen,
        &overrides.text_tls_listen,
        &overrides.irc_tls_listen,
        &overrides.web_listen,
        &overrides.web_tls_listen,
    ]);
    if !from_overrides.is_empty() {
        return from_overrides;
    }
    let from_file = listeners([
        file.text.listen.as_deref().unwrap_or_default(),
        file.irc.listen.as_deref().unwrap_or_default(),
        file.text.tls_listen.as_deref().unwrap_or_default(),
        file.irc.tls_listen.as_deref().unwrap_or_default(),
        file.web.listen.as_deref().unwrap_or_default(),
        file.web.tls_listen.as_deref().unwrap_or_default(),
    ]);
    if !from_file.is_empty() {
        return from_file;
    }
    let default = |text: &str| text.parse().expect("default address is valid");
    listeners([
        &[default(DEFAULT_TEXT_LISTEN)],
        &[default(DEFAULT_IRC_LISTEN)],
        &[],
        &[],
        &[default(DEFAULT_WEB_LISTEN)],
        &[],
    ])
}

/// `[tls]` with `--tls-cert` and `--tls-key` over it: the certificate and its key are given
/// together (a flag for one replaces the file's for that one).
fn resolve_tls(overrides: &Overrides, file: FileTls) -> Result<TlsSettings, ConfigError> {
    let certificate = overrides.tls_certificate.clone().or(file.cert);
    let key = overrides.tls_key.clone().or(file.key);
    let certificate = match (certificate, key) {
        (Some(certificate), Some(key)) => Some(TlsFiles { certificate, key }),
        (None, None) => None,
        _ => {
            return Err(ConfigError::Invalid(
                "a TLS certificate and its key go together: give both --tls-cert and \
                 --tls-key (or [tls] cert and key)"
                    .into(),
            ));
        }
    };
    let defaults = TlsSettings::default();
    let handshake_timeout = match &file.handshake_timeout {
        None => defaults.handshake_timeout,
        Some(value) => match duration::from_value("[tls] handshake_timeout", value) {
            Ok(timeout) if !timeout.is_zero() => timeout,
            _ => {
                return Err(ConfigError::Invalid(format!(
                    "[tls] handshake_timeout must be a positive duration such as \"10s\", not \
                     {value}"
                )));
            }
        },
    };
    let sts_duration = match &file.sts_duration {
        None => defaults.sts_duration,
        Some(value) if value.as_str().is_some_and(|text| text.trim() == OFF) => None,
        Some(value) => Some(
            duration::from_value("[tls] sts_duration", value).map_err(|_| {
                ConfigError::Invalid(format!(
                    "[tls] sts_duration must be a duration such as \"30d\", or \"off\", not {value}"
                ))
            })?,
        ),
    };
    if file.sts_port == Some(0) {
        return Err(ConfigError::Invalid("[tls] sts_port must not be 0".into()));
    }
    Ok(TlsSettings {
        certificate,
        handshake_timeout,
        sts_duration,
        sts_port: file.sts_port,
    })
}

fn resolve_irc(
    overrides: &Overrides,
    file: FileIrc,
    deprecations: &mut Vec<Deprecation>,
) -> Result<IrcSettings, ConfigError> {
    let defaults = IrcSettings::default();
    let motd_text = match (file.motd, file.motd_file) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::Invalid(
                "give either [irc] motd or motd_file, not both".into(),
            ));
        }
        (Some(text), None) => Some(text),
        (None, Some(path)) => {
            Some(
                std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })?,
            )
        }
        (None, None) => None,
    };
    let ping_interval = deprecated::seconds_renamed(
        "[irc] ping_interval",
        file.ping_interval.as_ref(),
        "[irc] ping_interval_seconds",
        file.ping_interval_seconds,
        deprecations,
    )?;
    let ping_timeout = deprecated::seconds_renamed(
        "[irc] ping_timeout",
        file.ping_timeout.as_ref(),
        "[irc] ping_timeout_seconds",
        file.ping_timeout_seconds,
        deprecations,
    )?;
    let history_on_join = deprecated::renamed_count(
        "[irc] history_on_join",
        file.history_on_join,
        "[irc] replay_on_join",
        file.replay_on_join,
        deprecations,
    )?;
    Ok(IrcSettings {
        server_name: overrides
            .server_name
            .clone()
            .or(file.server_name)
            .unwrap_or(defaults.server_name),
        network: file.network.unwrap_or(defaults.network),
        description: file.description.unwrap_or(defaults.description),
        motd: motd_text.map(|text| text.lines().map(str::to_owned).collect()),
        password: overrides.irc_password.clone().or(file.password),
        ping_interval: ping_interval.unwrap_or(defaults.ping_interval),
        ping_timeout: ping_timeout.unwrap_or(defaults.ping_timeout),
        history_on_join: history_on_join.unwrap_or(defaults.history_on_join),
        register_before_connect: file
            .register_before_connect
            .unwrap_or(defaults.register_before_connect),
    })
}

fn resolve_store(overrides: &Overrides, file: FileStore) -> Result<StoreSettings, ConfigError> {
    let defaults = StoreSettings::default();
    Ok(StoreSettings {
        path: overrides
            .database
            .clone()
            .or(file.path)
            .unwrap_or(defaults.path),
        history_max_age: match &file.history_max_age {
            None => defaults.history_max_age,
            Some(value) => parse_max_age(value)?,
        },
        history_max_per_room: match &file.history_max_per_room {
            None => defaults.history_max_per_room,
            Some(value) => parse_max_per_room(value)?,
        },
        commit_interval: match &file.commit_interval {
            None => defaults.commit_interval,
            Some(value) => positive_or_off("[store] commit_interval", "\"2ms\"", value)?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn defaults_apply_when_nothing_is_given() {
        let config = Config::resolve(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(
            config.listeners,
            vec![
                ListenerConfig {
                    kind: ListenerKind::Text,
                    address: addr("0.0.0.0:7788")
                },
                ListenerConfig {
                    kind: ListenerKind::Irc,
                    address: addr("0.0.0.0:6667")
                },
                ListenerConfig {
                    kind: ListenerKind::Web,
                    address: addr("0.0.0.0:8080")
                }
            ]
        );
        assert_eq!(config.web, WebSettings::default());
        assert_eq!(config.irc, IrcSettings::default());
        assert!(!config.cloak_hosts);
        assert_eq!(config.limits, Limits::default());
        assert_eq!(config.shutdown_grace, Duration::from_secs(5));
    }

    #[test]
    fn overrides_win_over_the_file() {
        let file = FileConfig::parse(
            "[text]\nlisten = [\"127.0.0.1:1\", \"127.0.0.1:2\"]\n[limits]\nmax_line_bytes = 100\nsend_queue_bytes = 100000\n[shutdown]\ngrace_seconds = 1\n",
        )
        .unwrap();
        let overrides = Overrides {
            text_listen: vec![addr("127.0.0.1:0")],
            max_line_bytes: Some(200),
            ..Overrides::default()
        };
        let config = Config::resolve(file, overrides).unwrap();
        assert_eq!(config.listeners.len(), 1);
        assert_eq!(config.listeners[0].address, addr("127.0.0.1:0"));
        assert_eq!(config.limits.max_line_bytes, 200);
        assert_eq!(config.limits.send_queue_bytes, 100_000);
        assert_eq!(config.shutdown_grace, Duration::from_secs(1));
    }

    #[test]
    fn one_irc_flag_replaces_every_file_listener() {
        let file = FileConfig::parse(
            "[text]\nlisten = [\"127.0.0.1:1\"]\n[irc]\nlisten = [\"127.0.0.1:2\"]\nserver_name = \"irc.example\"\nmotd = \"one\\ntwo\"\npassword = \"file\"\n",
        )
        .unwrap();
        let overrides = Overrides {
            irc_listen: vec![addr("127.0.0.1:0")],
            irc_password: Some("flag".into()),
            ..Overrides::default()
        };
        let config = Config::resolve(file, overrides).unwrap();
        assert_eq!(
            config.listeners,
            vec![ListenerConfig {
                kind: ListenerKind::Irc,
                address: addr("127.0.0.1:0")
            }]
        );
        assert_eq!(config.irc.server_name, "irc.example");
        assert_eq!(config.irc.motd, Some(vec!["one".into(), "two".into()]));
        assert_eq!(config.irc.password.as_deref(), Some("flag"));
    }

    #[test]
    fn history_max_age_takes_a_unit() {
        let parse = |text: &str| {
            let file =
                FileConfig::parse(&format!("[store]\nhistory_max_age = \"{text}\"\n")).unwrap();
            Config::resolve(file, Overrides::default()).map(|config| config.store.history_max_age)
        };
        assert_eq!(
            parse("90d").unwrap(),
            Some(Duration::from_secs(90 * 86_400))
        );
        assert_eq!(parse("12h").unwrap(), Some(Duration::from_secs(12 * 3600)));
        assert_eq!(parse("30m").unwrap(), Some(Duration::from_secs(1800)));
        assert_eq!(parse("45s").unwrap(), Some(Duration::from_secs(45)));
        // Durations follow humantime's syntax, which also has weeks and fractions.
        assert_eq!(
            parse("10w").unwrap(),
            Some(Duration::from_secs(70 * 86_400))
        );
        assert_eq!(parse("1.5h").unwrap(), Some(Duration::from_secs(5400)));
        for bad in ["", "d", "10", "-1d", "0d"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    /// Resolves `toml` with no overrides, returning the deprecations too.
    fn resolve_noting(toml: &str) -> Result<(Config, Vec<Deprecation>), ConfigError> {
        let file = FileConfig::parse(toml).unwrap();
        Config::resolve_noting_deprecations(file, Overrides::default())
    }

    #[test]
    fn durations_are_written_with_a_unit() {
        let (config, deprecations) = resolve_noting(
            "[irc]\nping_interval = \"2m\"\nping_timeout = \"1m 30s\"\n\
             [accounts]\nnick_grace = \"0s\"\n\
             [shutdown]\ngrace = \"500ms\"\n\
             [store]\nhistory_max_age = \"2weeks\"\n",
        )
        .unwrap();
        assert_eq!(deprecations, []);
        assert_eq!(config.irc.ping_interval, Duration::from_secs(120));
        assert_eq!(config.irc.ping_timeout, Duration::from_secs(90));
        assert_eq!(config.accounts.nick_grace, Duration::ZERO);
        assert_eq!(config.shutdown_grace, Duration::from_millis(500));
        assert_eq!(
            config.store.history_max_age,
            Some(Duration::from_secs(14 * 86_400))
        );
    }

    #[test]
    fn a_duration_without_quotes_or_unit_is_an_error_naming_the_key() {
        let error = |toml: &str| resolve_noting(toml).unwrap_err().to_string();
        assert_eq!(
            error("[irc]\nping_interval = 120\n"),
            "invalid setting: [irc] ping_interval must be a duration in quotes, such as \
             \"90s\", \"5m\" or \"90d\", not 120"
        );
        for (toml, key) in [
            ("[irc]\nping_timeout = \"60\"\n", "[irc] ping_timeout "),
            (
                "[accounts]\nnick_grace = \"soon\"\n",
                "[accounts] nick_grace ",
            ),
            ("[shutdown]\ngrace = 5\n", "[shutdown] grace "),
        ] {
            let error = error(toml);
            assert!(
                error.starts_with(&format!("invalid setting: {key}must be a duration")),
                "{toml}: {error}"
            );
        }
        assert_eq!(
            error("[irc]\nping_interval = \"0s\"\n"),
            "invalid setting: [irc] ping_interval and ping_timeout must be positive"
        );
        assert_eq!(
            error("[store]\nhistory_max_age = 90\n"),
            "invalid setting: [store] history_max_age must be a positive duration such as \
             \"90s\", \"5m\" or \"90d\", or \"off\", not 90"
        );
    }

    #[test]
    fn deprecated_keys_are_still_read_and_noted() {
        let (config, deprecations) = resolve_noting(
            "[irc]\nping_interval_seconds = 120\nping_timeout_seconds = 90\nreplay_on_join = 3\n\
             [store]\nhistory_on_join = 7\n\
             [accounts]\nnick_grace_seconds = 0\n\
             [shutdown]\ngrace_seconds = 10\n",
        )
        .unwrap();
        assert_eq!(config.irc.ping_interval, Duration::from_secs(120));
        assert_eq!(config.irc.ping_timeout, Duration::from_secs(90));
        assert_eq!(config.irc.history_on_join, 3);
        assert_eq!(config.text.history_on_join, 7);
        assert_eq!(config.accounts.nick_grace, Duration::ZERO);
        assert_eq!(config.shutdown_grace, Duration::from_secs(10));
        let messages: Vec<String> = deprecations.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "[store] history_on_join = 7 is deprecated; write [text] history_on_join = 7 \
                 instead",
                "[irc] ping_interval_seconds = 120 is deprecated; write [irc] ping_interval = \
                 \"2m\" instead",
                "[irc] ping_timeout_seconds = 90 is deprecated; write [irc] ping_timeout = \
                 \"90s\" instead",
                "[irc] replay_on_join = 3 is deprecated; write [irc] history_on_join = 3 instead",
                "[accounts] nick_grace_seconds = 0 is deprecated; write [accounts] nick_grace = \
                 \"0s\" instead",
                "[shutdown] grace_seconds = 10 is deprecated; write [shutdown] grace = \"10s\" \
                 instead",
            ]
        );
    }

    #[test]
    fn an_old_and_a_new_key_together_are_an_error() {
        for (toml, message) in [
            (
                "[text]\nhistory_on_join = 1\n[store]\nhistory_on_join = 2\n",
                "give either [text] history_on_join or the deprecated [store] history_on_join, \
                 not both",
            ),
            (
                "[irc]\nhistory_on_join = 1\nreplay_on_join = 2\n",
                "give either [irc] history_on_join or the deprecated [irc] replay_on_join, not \
                 both",
            ),
            (
                "[irc]\nping_interval = \"1m\"\nping_interval_seconds = 60\n",
                "give either [irc] ping_interval or the deprecated [irc] \
                 ping_interval_seconds, not both",
            ),
            (
                "[irc]\nping_timeout = \"1m\"\nping_timeout_seconds = 60\n",
                "give either [irc] ping_timeout or the deprecated [irc] ping_timeout_seconds, \
                 not both",
            ),
            (
                "[accounts]\nnick_grace = \"1m\"\nnick_grace_seconds = 60\n",
                "give either [accounts] nick_grace or the deprecated [accounts] \
                 nick_grace_seconds, not both",
            ),
            (
                "[shutdown]\ngrace = \"1s\"\ngrace_seconds = 1\n",
                "give either [shutdown] grace or the deprecated [shutdown] grace_seconds, not \
                 both",
            ),
        ] {
            let error = resolve_noting(toml).unwrap_err();
            assert_eq!(error.to_string(), format!("invalid setting: {message}"));
        }
    }

    #[test]
    fn history_on_join_is_set_per_protocol() {
        let config = Config::defaults();
        assert_eq!(config.text.history_on_join, 20);
        assert_eq!(config.irc.history_on_join, 0);
        let (config, _) =
            resolve_noting("[text]\nhistory_on_join = 5\n[irc]\nhistory_on_join = 3\n").unwrap();
        assert_eq!(config.text.history_on_join, 5);
        assert_eq!(config.irc.history_on_join, 3);
    }

    #[test]
    fn the_shutdown_grace_override_beats_the_file_and_its_deprecations_come_first() {
        let file = FileConfig::parse("[shutdown]\ngrace_seconds = 1\n").unwrap();
        let flag = Deprecation::new("--shutdown-grace-seconds 3", "--shutdown-grace 3s");
        let overrides = Overrides {
            shutdown_grace: Some(Duration::from_secs(3)),
            deprecations: vec![flag.clone()],
            ..Overrides::default()
        };
        let (config, deprecations) = Config::resolve_noting_deprecations(file, overrides).unwrap();
        assert_eq!(config.shutdown_grace, Duration::from_secs(3));
        assert_eq!(
            deprecations,
            [
                flag,
                Deprecation::new("[shutdown] grace_seconds = 1", "[shutdown] grace = \"1s\"")
            ]
        );
    }

    #[test]
    fn history_is_kept_90_days_and_10000_messages_per_room_by_default() {
        let config = Config::resolve(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(
            config.store.history_max_age,
            Some(Duration::from_secs(90 * 86_400))
        );
        assert_eq!(config.store.history_max_per_room, Some(10_000));
    }

    #[test]
    fn each_retention_limit_can_be_turned_off() {
        let resolve = |toml: &str| {
            let file = FileConfig::parse(&format!("[store]\n{toml}\n")).unwrap();
            Config::resolve(file, Overrides::default()).map(|config| config.store)
        };
        let store = resolve("history_max_age = \"off\"").unwrap();
        assert_eq!(store.history_max_age, None);
        assert_eq!(store.history_max_per_room, Some(10_000));
        let store = resolve("history_max_per_room = \"off\"").unwrap();
        assert_eq!(
            store.history_max_age,
            Some(Duration::from_secs(90 * 86_400))
        );
        assert_eq!(store.history_max_per_room, None);
        assert_eq!(
            resolve("history_max_per_room = 5")
                .unwrap()
                .history_max_per_room,
            Some(5)
        );
        for bad in ["0", "-1", "\"none\"", "\"5\"", "1.5", "true"] {
            let error = resolve(&format!("history_max_per_room = {bad}")).unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("positive whole number or \"off\""),
                "{bad}: {error}"
            );
        }
        let error = resolve("history_max_age = \"never\"").unwrap_err();
        assert!(error.to_string().contains("or \"off\""), "{error}");
    }

    #[test]
    fn file_listeners_replace_the_default() {
        let file = FileConfig::parse("[text]\nlisten = [\"[::1]:7000\"]\n").unwrap();
        let config = Config::resolve(file, Overrides::default()).unwrap();
        assert_eq!(config.listeners[0].address, addr("[::1]:7000"));
        assert_eq!(config.listeners.len(), 1);
    }

    #[test]
    fn unknown_keys_and_bad_limits_are_errors() {
        let error = FileConfig::parse("[text]\nlisen = []\n").unwrap_err();
        assert!(error.contains("unknown field `lisen`"), "{error}");
        assert!(FileConfig::parse("port = 1\n").is_err());
        let tiny = Overrides {
            max_line_bytes: Some(10),
            ..Overrides::default()
        };
        assert!(Config::resolve(FileConfig::default(), tiny).is_err());
        let small_queue = Overrides {
            send_queue_bytes: Some(4096),
            ..Overrides::default()
        };
        assert!(Config::resolve(FileConfig::default(), small_queue).is_err());
        let no_rooms = FileConfig::parse("[limits]\nrooms_per_user = 0\n").unwrap();
        let error = Config::resolve(no_rooms, Overrides::default()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid setting: rooms_per_user must be at least 1"
        );
    }

    #[test]
    fn operators_are_read_from_the_file_and_checked() {
        let hash = crate::accounts::hash_password("correct-horse").unwrap();
        let entry = |name: &str, hash: &str| {
            format!("[[oper]]\nname = \"{name}\"\npassword_hash = \"{hash}\"\n")
        };
        let (config, _) = resolve_noting(&entry("root", &hash)).unwrap();
        assert_eq!(
            config.operators,
            [OperatorEntry {
                name: "root".into(),
                password_hash: hash.clone(),
            }]
        );
        assert_eq!(Config::defaults().operators, []);

        let error = |toml: &str| resolve_noting(toml).unwrap_err().to_string();
        let twice = format!("{}{}", entry("root", &hash), entry("ROOT", &hash));
        assert_eq!(
            error(&twice),
            "invalid setting: two [[oper]] entries are named ROOT"
        );
        assert!(
            error(&entry("root", "correct-horse"))
                .contains("password_hash must be an argon2id hash"),
            "a password instead of its hash is refused"
        );
        assert!(error(&entry("two words", &hash)).contains("must be one word"));
        let clear = FileConfig::parse("[[oper]]\nname = \"root\"\npassword = \"x\"\n");
        assert!(
            clear.unwrap_err().contains("unknown field `password`"),
            "a password in clear is no setting"
        );
    }

    #[test]
    fn write_coalescing_is_a_positive_duration_or_off() {
        let coalescing =
            |toml: &str| resolve_noting(toml).map(|(config, _)| config.limits.write_coalescing);
        assert_eq!(coalescing("").unwrap(), Some(DEFAULT_WRITE_COALESCING));
        assert_eq!(
            coalescing("[limits]\nwrite_coalescing = \"5ms\"\n").unwrap(),
            Some(Duration::from_millis(5))
        );
        assert_eq!(
            coalescing("[limits]\nwrite_coalescing = \"off\"\n").unwrap(),
            None
        );
        for bad in ["\"0s\"", "2", "\"soon\""] {
            assert_eq!(
                coalescing(&format!("[limits]\nwrite_coalescing = {bad}\n"))
                    .unwrap_err()
                    .to_string(),
                format!(
                    "invalid setting: [limits] write_coalescing must be a positive duration such \
                     as \"2ms\", or \"off\", not {bad}"
                )
            );
        }
    }

    #[test]
    fn the_commit_interval_is_a_positive_duration_or_off() {
        let interval =
            |toml: &str| resolve_noting(toml).map(|(config, _)| config.store.commit_interval);
        assert_eq!(
            interval("").unwrap(),
            Some(crate::store::DEFAULT_COMMIT_INTERVAL)
        );
        assert_eq!(
            interval("[store]\ncommit_interval = \"10ms\"\n").unwrap(),
            Some(Duration::from_millis(10))
        );
        assert_eq!(
            interval("[store]\ncommit_interval = \"off\"\n").unwrap(),
            None
        );
        assert_eq!(
            interval("[store]\ncommit_interval = \"0s\"\n")
                .unwrap_err()
                .to_string(),
            "invalid setting: [store] commit_interval must be a positive duration such as \
             \"2ms\", or \"off\", not \"0s\""
        );
    }

    #[test]
    fn password_minimum_idle_flush_and_description_are_read_and_checked() {
        let (config, _) = resolve_noting(
            "[accounts]\nmin_password_bytes = 3\n[text]\nidle_flush = \"250ms\"\n\
             [irc]\ndescription = \"test server\"\n",
        )
        .unwrap();
        assert_eq!(config.accounts.min_password_bytes, 3);
        assert!(!config.accounts.require_email, "off by default");
        assert_eq!(config.text.idle_flush, Some(Duration::from_millis(250)));
        assert_eq!(config.irc.description, "test server");
        let (strict, _) = resolve_noting("[accounts]\nrequire_email = true\n").unwrap();
        assert!(strict.accounts.require_email);
        let (config, _) = resolve_noting("[text]\nidle_flush = \"off\"\n").unwrap();
        assert_eq!(config.text.idle_flush, None);

        let error = |toml: &str| resolve_noting(toml).unwrap_err().to_string();
        for minimum in [0, 1025] {
            assert_eq!(
                error(&format!("[accounts]\nmin_password_bytes = {minimum}\n")),
                "invalid setting: [accounts] min_password_bytes must be between 1 and 1024 (the \
                 longest password accepted)"
            );
        }
        assert_eq!(
            error("[text]\nidle_flush = \"0s\"\n"),
            "invalid setting: [text] idle_flush must be a positive duration such as \"500ms\", \
             or \"off\", not \"0s\""
        );
        assert_eq!(
            error("[text]\nidle_flush = 5\n"),
            "invalid setting: [text] idle_flush must be a positive duration such as \"500ms\", \
             or \"off\", not 5"
        );
        assert_eq!(
            error("[irc]\ndescription = \"\"\n"),
            "invalid setting: [irc] description must be one line of text"
        );
    }

    #[test]
    fn http_listeners_are_off_by_default_and_resolved_apart_from_chat_listeners() {
        assert_eq!(Config::defaults().http_listen, []);
        let file = || FileConfig::parse("[http]\nlisten = [\"127.0.0.1:9100\"]\n").unwrap();
        let chat_flags = Overrides {
            text_listen: vec![addr("127.0.0.1:0")],
            ..Overrides::default()
        };
        let config = Config::resolve(file(), chat_flags).unwrap();
        assert_eq!(config.http_listen, [addr("127.0.0.1:9100")]);
        assert_eq!(
            config.listeners.len(),
            1,
            "the chat listeners from the flag"
        );
        let http_flag = Overrides {
            http_listen: vec![addr("[::1]:0")],
            ..Overrides::default()
        };
        let config = Config::resolve(file(), http_flag).unwrap();
        assert_eq!(config.http_listen, [addr("[::1]:0")]);
        assert_eq!(
            config.listeners.len(),
            3,
            "an HTTP listener names no chat listener: the default chat listeners apply"
        );
    }

    #[test]
    fn web_listeners_are_chat_listeners_with_their_own_settings() {
        let file = || {
            FileConfig::parse(
                "[web]\nlisten = [\"127.0.0.1:8081\"]\nallowed_origins = [\"https://Chat.Example.org\"]\nroot = \"/srv/file\"\n",
            )
            .unwrap()
        };
        let config = Config::resolve(file(), Overrides::default()).unwrap();
        assert_eq!(
            config.listeners,
            [ListenerConfig {
                kind: ListenerKind::Web,
                address: addr("127.0.0.1:8081")
            }],
            "the file names a listener: only those run"
        );
        assert_eq!(
            config.web,
            WebSettings {
                allowed_origins: vec!["https://chat.example.org".into()],
                root: Some("/srv/file".into()),
                trust_forwarded_for: false,
            }
        );
        let flags = Overrides {
            web_tls_listen: vec![addr("127.0.0.1:8443")],
            web_root: Some("/srv/flag".into()),
            tls_certificate: Some("cert.pem".into()),
            tls_key: Some("key.pem".into()),
            ..Overrides::default()
        };
        let config = Config::resolve(file(), flags).unwrap();
        assert_eq!(
            config.listeners,
            [ListenerConfig {
                kind: ListenerKind::WebTls,
                address: addr("127.0.0.1:8443")
            }]
        );
        assert_eq!(config.web.root, Some("/srv/flag".into()));
        let no_certificate = Overrides {
            web_tls_listen: vec![addr("127.0.0.1:8443")],
            ..Overrides::default()
        };
        let error = Config::resolve(FileConfig::default(), no_certificate).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("the webs listener on 127.0.0.1:8443 needs a certificate"),
            "{error}"
        );
    }

    #[test]
    fn tls_listeners_need_a_certificate_and_its_key() {
        let error = resolve_noting("[irc]\ntls_listen = [\"127.0.0.1:6697\"]\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid setting: the ircs listener on 127.0.0.1:6697 needs a certificate: give \
             --tls-cert FILE and --tls-key FILE (or [tls] cert and key)"
        );
        let error = resolve_noting("[tls]\ncert = \"cert.pem\"\n").unwrap_err();
        assert!(error.to_string().contains("go together"), "{error}");

        let (config, _) = resolve_noting(
            "[text]\ntls_listen = [\"127.0.0.1:7789\"]\n[irc]\ntls_listen = \
             [\"127.0.0.1:6697\"]\n[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n\
             handshake_timeout = \"2s\"\nsts_duration = \"30d\"\nsts_port = 443\n",
        )
        .unwrap();
        let kinds: Vec<_> = config.listeners.iter().map(|l| l.kind.name()).collect();
        assert_eq!(
            kinds,
            ["texts", "ircs"],
            "the listener set is the file's, whole"
        );
        assert_eq!(
            config.tls,
            TlsSettings {
                certificate: Some(TlsFiles {
                    certificate: "c.pem".into(),
                    key: "k.pem".into(),
                }),
                handshake_timeout: Duration::from_secs(2),
                sts_duration: Some(Duration::from_secs(30 * 86_400)),
                sts_port: Some(443),
            }
        );
        // A flag replaces the file's certificate.
        let overrides = Overrides {
            irc_tls_listen: vec![addr("127.0.0.1:0")],
            tls_certificate: Some("flag.pem".into()),
            tls_key: Some("flag.key".into()),
            ..Overrides::default()
        };
        let config = Config::resolve(FileConfig::default(), overrides).unwrap();
        assert_eq!(
            config.tls.certificate.unwrap().certificate,
            PathBuf::from("flag.pem")
        );
        assert_eq!(config.tls.sts_duration, None, "no policy by default");
    }

    #[test]
    fn example_config_parses_and_matches_the_defaults() {
        let text = include_str!("../../../palaver.example.toml");
        let file = FileConfig::parse(text).unwrap();
        let (config, deprecations) =
            Config::resolve_noting_deprecations(file, Overrides::default()).unwrap();
        assert_eq!(config, Config::defaults());
        assert_eq!(deprecations, [], "the example uses no deprecated spelling");
    }
}
