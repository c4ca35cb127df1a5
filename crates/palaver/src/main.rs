//! The `palaver` command: parses arguments, sets up logging, and hands over to the library.

mod admin;
mod bench;
mod check_config;
mod cluster;
mod free_memory;
mod gen_cert;
mod open_files;
mod password;
mod systemd;

use std::io::{IsTerminal, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use palaver_server::Server;
use palaver_server::config::{
    CONVENTIONAL_IRCS_PORT, Config, DEFAULT_IRC_LISTEN, DEFAULT_TEXT_LISTEN, DEFAULT_WEB_LISTEN,
    Deprecation, FileConfig, Overrides, format_duration, parse_duration,
};
use palaver_server::reload::Reloader;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "palaver", version, about = "A self-hosted group-chat server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// The command line is parsed once at start-up; the size of its largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the chat server.
    Serve(ServeArgs),
    /// Connect to a server as a client: full-screen at a terminal, else pipe mode (stdin lines
    /// are said, received lines printed).
    Connect(ConnectArgs),
    /// Print the argon2id hash of a password, for an [[oper]] entry's password_hash or an
    /// [[admin.token]] entry's secret_hash. The password is read from the terminal without
    /// echo (asked twice), or from the first line of standard input when that is not a
    /// terminal.
    HashPassword,
    /// Administer a running server through its administration API (on its --http-listen
    /// address): users, rooms, bans, accounts, the audit log. Text for people, --json for
    /// scripts.
    Admin(admin::AdminArgs),
    /// Write a self-signed TLS certificate and its key for development (cert.pem, key.pem),
    /// and print the flags that use them. Clients must be told to trust it (`palaver connect
    /// --ca cert.pem`), since no authority vouches for it.
    GenCert(gen_cert::GenCertArgs),
    /// Load a chat server (palaver's IRC or text protocol, or any IRC server) with clients
    /// that send numbered, timestamped messages on a schedule, and report deliveries, losses,
    /// latency percentiles and (with --server-pid) the server's CPU per delivery and memory
    /// per client.
    Bench(bench::BenchArgs),
    /// Check a configuration file as `palaver serve --config FILE` would read it, and load
    /// what it names (TLS certificate and key, MOTD file, web root): one line per problem
    /// on stderr and a non-zero exit status, or one line saying it is valid. With --server,
    /// also say what a reload with the file would change on that running server.
    CheckConfig(check_config::CheckConfigArgs),
    /// Copy the history database into FILE while a server may be running on it: a consistent
    /// snapshot holding every message acknowledged before the copy began.
    Backup {
        /// The new file to write (refused if it exists).
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Look at a cluster of palaver nodes from outside (docs/CLUSTER.md).
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// Write the man pages of palaver and of each of its commands (palaver.1,
    /// palaver-serve.1, …) into DIR.
    Man {
        /// The directory to write them in (created if missing).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Print the shell completions of palaver's commands and flags for SHELL, e.g.
    /// `palaver completions bash > /etc/bash_completion.d/palaver`.
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
}

/// The SQLite database a command reads (`backup`, `cluster import`).
#[derive(Debug, Args)]
struct DatabaseArg {
    /// The database to read, as `serve --db` names it.
    #[arg(
        long = "db",
        value_name = "PATH",
        env = "PALAVER_DB",
        default_value = "palaver.db"
    )]
    database: PathBuf,
}

#[derive(Debug, Args)]
struct ConnectArgs {
    /// The server's IRC address, HOST or HOST:PORT (port 6667 by default, 6697 with --tls)
    /// [default: the configuration file's `server`, or localhost].
    #[arg(value_name = "HOST[:PORT]")]
    server: Option<String>,

    /// The client's configuration file [default: $XDG_CONFIG_HOME/palaver/connect.toml, or
    /// ~/.config/palaver/connect.toml, if it exists]. Flags win over it.
    #[arg(long, value_name = "FILE", env = "PALAVER_CONNECT_CONFIG")]
    config: Option<PathBuf>,

    /// Connect over TLS (implied by port 6697), checking the server's certificate against
    /// the system's trusted authorities, or --ca.
    #[arg(long)]
    tls: bool,

    /// Trust the certificates in this PEM file (such as `palaver gen-cert`'s cert.pem) instead
    /// of the system's authorities. Implies --tls.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,

    /// Do not check the server's certificate at all: anyone on the way can read and change
    /// the conversation. For testing only. Implies --tls.
    #[arg(long)]
    insecure: bool,

    /// Your nick [default: $USER, or `guest`].
    #[arg(long, value_name = "NICK")]
    nick: Option<String>,

    /// Your account password: logs in to the account named like your nick (SASL PLAIN).
    #[arg(long, value_name = "PASSWORD")]
    password: Option<String>,

    /// Rooms to join, comma-separated; lines from stdin go to the first.
    #[arg(long, value_name = "#ROOM,...", value_delimiter = ',')]
    join: Vec<String>,

    /// Full screen: leave the mouse to the terminal (plain selecting, no wheel scrolling).
    #[arg(long)]
    no_mouse: bool,

    /// Log filter for diagnostics on stderr, in tracing's EnvFilter syntax.
    #[arg(long, value_name = "FILTER", default_value = "warn")]
    log: String,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// TOML configuration file (see palaver.example.toml); flags and environment win over it.
    #[arg(long, value_name = "FILE", env = "PALAVER_CONFIG")]
    config: Option<PathBuf>,

    /// Listen for the plain-text protocol on ADDR (IP:port; port 0 picks a free port).
    /// Repeatable. The default applies only when no listener is configured at all.
    #[arg(
        long = "text-listen",
        value_name = "ADDR",
        env = "PALAVER_TEXT_LISTEN",
        value_delimiter = ','
    )]
    text_listen: Vec<SocketAddr>,

    /// Listen for IRC clients on ADDR (IP:port; port 0 picks a free port). Repeatable.
    /// The default applies only when no listener is configured at all.
    #[arg(
        long = "irc-listen",
        value_name = "ADDR",
        env = "PALAVER_IRC_LISTEN",
        value_delimiter = ','
    )]
    irc_listen: Vec<SocketAddr>,

    /// Serve the operations endpoints (/healthz, /readyz, /metrics) over HTTP on ADDR. Not for
    /// the internet: bind loopback or a private address. Repeatable; off by default.
    #[arg(
        long = "http-listen",
        value_name = "ADDR",
        env = "PALAVER_HTTP_LISTEN",
        value_delimiter = ','
    )]
    http_listen: Vec<SocketAddr>,
    /// Listen for the plain-text protocol over TLS on ADDR. Repeatable. Needs --tls-cert and
    /// --tls-key.
    #[arg(
        long = "text-tls-listen",
        value_name = "ADDR",
        env = "PALAVER_TEXT_TLS_LISTEN",
        value_delimiter = ','
    )]
    text_tls_listen: Vec<SocketAddr>,

    /// Listen for IRC clients over TLS on ADDR (conventionally port 6697). Repeatable. Needs
    /// --tls-cert and --tls-key.
    #[arg(
        long = "irc-tls-listen",
        value_name = "ADDR",
        env = "PALAVER_IRC_TLS_LISTEN",
        value_delimiter = ','
    )]
    irc_tls_listen: Vec<SocketAddr>,

    /// Serve the web client and IRC over WebSocket (at /irc) on ADDR. Repeatable. The default
    /// applies only when no listener is configured at all.
    #[arg(
        long = "web-listen",
        value_name = "ADDR",
        env = "PALAVER_WEB_LISTEN",
        value_delimiter = ','
    )]
    web_listen: Vec<SocketAddr>,

    /// Serve the web client and IRC over WebSocket over TLS (https, wss) on ADDR. Repeatable.
    /// Needs --tls-cert and --tls-key.
    #[arg(
        long = "web-tls-listen",
        value_name = "ADDR",
        env = "PALAVER_WEB_TLS_LISTEN",
        value_delimiter = ','
    )]
    web_tls_listen: Vec<SocketAddr>,

    /// Serve the web client's files from DIR instead of the copy built into palaver.
    #[arg(long, value_name = "DIR", env = "PALAVER_WEB_ROOT")]
    web_root: Option<PathBuf>,

    /// The TLS certificate chain (PEM, the server's certificate first). Read again on SIGHUP.
    #[arg(long, value_name = "FILE", env = "PALAVER_TLS_CERT")]
    tls_cert: Option<PathBuf>,

    /// The TLS certificate's private key (PEM). Read again on SIGHUP.
    #[arg(long, value_name = "FILE", env = "PALAVER_TLS_KEY")]
    tls_key: Option<PathBuf>,

    /// The server's name, shown to IRC clients.
    #[arg(long, value_name = "NAME", env = "PALAVER_SERVER_NAME")]
    server_name: Option<String>,

    /// Password IRC clients must send with PASS to register.
    #[arg(long, value_name = "PASSWORD", env = "PALAVER_IRC_PASSWORD")]
    irc_password: Option<String>,

    /// Show hosts as cloaks instead of IP addresses.
    #[arg(long, env = "PALAVER_CLOAK_HOSTS")]
    cloak_hosts: bool,

    /// The SQLite database holding history, or `:memory:` to keep nothing.
    #[arg(long = "db", value_name = "PATH", env = "PALAVER_DB")]
    database: Option<String>,

    /// Keep history, accounts, registered rooms and bans in Redis at URL instead of the
    /// SQLite database (redis://HOST:PORT, rediss:// for TLS, redis+unix:///PATH, or
    /// redis+sentinel://HOST:PORT[,HOST:PORT...]/SERVICE for the primary the Sentinels name).
    /// Redis must persist every write (appendonly yes, appendfsync always); see
    /// docs/CLUSTER.md.
    #[arg(long = "cluster", value_name = "URL", env = "PALAVER_CLUSTER")]
    cluster_url: Option<String>,

    /// This node's name in the cluster [default: the host's name and the port of the first
    /// chat listener, such as chat-1-6667].
    #[arg(long, value_name = "NAME", env = "PALAVER_NODE_NAME")]
    node_name: Option<String>,

    /// Longest accepted text-protocol line in bytes.
    #[arg(long, value_name = "BYTES", env = "PALAVER_MAX_LINE_BYTES")]
    max_line_bytes: Option<usize>,

    /// Most bytes queued for one client before it is dropped as too slow.
    #[arg(long, value_name = "BYTES", env = "PALAVER_SEND_QUEUE_BYTES")]
    send_queue_bytes: Option<usize>,

    /// How long to let clients' output flush on shutdown, such as 5s or 1m.
    #[arg(
        long,
        value_name = "DURATION",
        env = "PALAVER_SHUTDOWN_GRACE",
        value_parser = parse_duration
    )]
    shutdown_grace: Option<Duration>,

    /// Deprecated: --shutdown-grace in whole seconds.
    #[arg(long, value_name = "SECONDS", env = "PALAVER_SHUTDOWN_GRACE_SECONDS")]
    shutdown_grace_seconds: Option<u64>,

    /// Log filter, in tracing's EnvFilter syntax (for example `info`, or
    /// `info,palaver_server=debug` for more of the server).
    #[arg(
        long,
        value_name = "FILTER",
        env = "PALAVER_LOG",
        default_value = "info"
    )]
    log: String,

    /// How log lines are written to stderr: `text` for people, `json` for one JSON object per
    /// line (log collectors).
    #[arg(
        long,
        value_name = "FORMAT",
        env = "PALAVER_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    let matches = with_config_defaults(Cli::command()).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    let result = match cli.command {
        Command::Serve(args) => {
            let sources = matches
                .subcommand_matches("serve")
                .expect("serve's arguments");
            serve(args, sources)
        }
        Command::Connect(args) => connect(args),
        Command::HashPassword => hash_password(),
        Command::Admin(args) => admin::run(args),
        Command::GenCert(args) => gen_cert::run(args),
        Command::Bench(args) => bench::run(args),
        Command::CheckConfig(args) => return check_config::run(args),
        Command::Backup {
            file,
            database: DatabaseArg { database },
        } => palaver_server::store::backup(&database, &file)
            .map(|messages| {
                println!(
                    "backed up {} to {} ({messages} messages)",
                    database.display(),
                    file.display()
                );
            })
            .with_context(|| format!("cannot back up {}", database.display())),
        Command::Cluster(command) => return cluster::run(command),
        Command::Man { dir } => write_man_pages(&dir),
        Command::Completions { shell } => {
            let mut command = with_config_defaults(Cli::command());
            clap_complete::generate(shell, &mut command, "palaver", &mut std::io::stdout());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("palaver: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Writes `palaver.1` and one page per command into `dir`, from the same definition as
/// `--help` (with the defaults `--help` shows).
fn write_man_pages(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    clap_mangen::generate_to(with_config_defaults(Cli::command()), dir)
        .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
    Ok(())
}

/// Appends its default to the help of each `serve` flag whose default lives in the
/// configuration. These flags have no clap default: a flag's value, when given at all, beats
/// the file's, so clap must not invent one; the help still shows it, read from the one place
/// it is written.
fn with_config_defaults(command: clap::Command) -> clap::Command {
    let defaults = Config::defaults();
    let shown = [
        ("text_listen", DEFAULT_TEXT_LISTEN.to_owned()),
        ("irc_listen", DEFAULT_IRC_LISTEN.to_owned()),
        ("web_listen", DEFAULT_WEB_LISTEN.to_owned()),
        ("server_name", defaults.irc.server_name),
        ("database", defaults.store.path),
        ("max_line_bytes", defaults.limits.max_line_bytes.to_string()),
        (
            "send_queue_bytes",
            defaults.limits.send_queue_bytes.to_string(),
        ),
        ("shutdown_grace", format_duration(defaults.shutdown_grace)),
    ];
    command.mut_subcommand("serve", |serve| {
        shown.into_iter().fold(serve, |serve, (id, default)| {
            serve.mut_arg(id, |arg| {
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                arg.help(format!("{help} [default: {default}]"))
            })
        })
    })
}

fn serve(args: ServeArgs, sources: &ArgMatches) -> anyhow::Result<()> {
    init_logging(&args.log, args.log_format)?;

    let mut deprecations = Vec::new();
    let shutdown_grace = shutdown_grace(&args, sources, &mut deprecations);

    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let overrides = Overrides {
        text_listen: args.text_listen,
        irc_listen: args.irc_listen,
        http_listen: args.http_listen,
        text_tls_listen: args.text_tls_listen,
        irc_tls_listen: args.irc_tls_listen,
        web_listen: args.web_listen,
        web_tls_listen: args.web_tls_listen,
        web_root: args.web_root,
        tls_certificate: args.tls_cert,
        tls_key: args.tls_key,
        server_name: args.server_name,
        irc_password: args.irc_password,
        // A flag can only switch cloaking on; the file can do either.
        cloak_hosts: args.cloak_hosts.then_some(true),
        database: args.database,
        cluster_url: args.cluster_url,
        node_name: args.node_name,
        max_line_bytes: args.max_line_bytes,
        send_queue_bytes: args.send_queue_bytes,
        shutdown_grace,
        deprecations,
    };
    let config = Config::resolve(file, overrides.clone())?;
    let max_connections = config.address_limits.max_connections;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let server = Server::bind(config).await?;
        // Every client is an open file: without this, the usual soft limit of 1024 would
        // refuse clients long before max_connections. (Once bound, so that a failure to start
        // stays a single line.)
        if let Err(warning) = open_files::raise_for_server(max_connections) {
            tracing::warn!("{warning}");
        }
        // Catch the signals before saying `ready`: whoever starts us may send SIGTERM as soon
        // as it reads that line, and the default action would end us without the shutdown
        // notice to clients.
        let shutdown = shutdown_signal();
        // A preview (`check-config --server`) resolves a file as a reload does.
        server.reloader().resolve_with(overrides.clone());
        reload_on_hangup(server.reloader(), args.config, overrides)?;
        announce_ready(&server)?;
        systemd::ready();
        tokio::spawn(free_memory::return_freed_memory_periodically());
        server
            .run(async {
                shutdown.await;
                systemd::stopping();
            })
            .await?;
        anyhow::Ok(())
    })
}

/// Where a flag's value came from; a flag beats the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Environment,
    Flag,
}

/// Where the value of the `serve` argument `id` came from, if it was given at all.
fn level(sources: &ArgMatches, id: &str) -> Option<Level> {
    match sources.value_source(id)? {
        ValueSource::CommandLine => Some(Level::Flag),
        ValueSource::EnvVariable => Some(Level::Environment),
        _ => None,
    }
}

/// `--shutdown-grace`, or the deprecated `--shutdown-grace-seconds` (noted in
/// `deprecations`).
fn shutdown_grace(
    args: &ServeArgs,
    sources: &ArgMatches,
    deprecations: &mut Vec<Deprecation>,
) -> Option<Duration> {
    let (grace, deprecation) = pick_shutdown_grace(
        args.shutdown_grace.zip(level(sources, "shutdown_grace")),
        args.shutdown_grace_seconds
            .zip(level(sources, "shutdown_grace_seconds")),
    );
    deprecations.extend(deprecation);
    grace
}

/// Chooses between the current spelling of the shutdown grace (`new`) and the deprecated one
/// in whole seconds (`old`), each with where it came from: a flag beats the environment
/// whichever spelling either uses, and at the same level the current spelling wins. The old
/// spelling, when given, earns a deprecation whether or not it is used.
fn pick_shutdown_grace(
    new: Option<(Duration, Level)>,
    old: Option<(u64, Level)>,
) -> (Option<Duration>, Option<Deprecation>) {
    let Some((seconds, old_level)) = old else {
        return (new.map(|(grace, _)| grace), None);
    };
    let rewritten = format_duration(Duration::from_secs(seconds));
    let deprecation = match old_level {
        Level::Flag => Deprecation::new(
            format!("--shutdown-grace-seconds {seconds}"),
            format!("--shutdown-grace {rewritten}"),
        ),
        Level::Environment => Deprecation::new(
            format!("PALAVER_SHUTDOWN_GRACE_SECONDS={seconds}"),
            format!("PALAVER_SHUTDOWN_GRACE={rewritten}"),
        ),
    };
    let grace = match new {
        Some((grace, new_level)) if new_level >= old_level => grace,
        _ => Duration::from_secs(seconds),
    };
    (Some(grace), Some(deprecation))
}

fn connect(args: ConnectArgs) -> anyhow::Result<()> {
    let (args, config, config_path) = with_config_file(args)?;
    // A person at a terminal gets the full-screen client; scripts and pipes get pipe mode.
    let full_screen = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    // Log lines written to the terminal the full screen is drawn on would garble it: log only
    // when stderr goes elsewhere (`2>palaver.log`).
    if !full_screen || !std::io::stderr().is_terminal() {
        init_logging(&args.log, LogFormat::Text)?;
    }
    let (server, tls) = connect_tls(&args)?;
    let nick = args
        .nick
        .or_else(|| std::env::var("USER").ok().filter(|user| !user.is_empty()))
        .unwrap_or_else(|| "guest".to_owned());
    let options = palaver_client::ConnectOptions {
        server,
        tls,
        nick,
        password: args.password,
        channels: args
            .join
            .into_iter()
            .filter(|room| !room.is_empty())
            .collect(),
    };

    // The client is one connection and one input: a single thread is plenty.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = if full_screen {
        let screen = palaver_client::tui::ScreenOptions {
            mouse: !args.no_mouse,
            ignore: config.ignore,
            config_path,
            time_format: config.time_format,
            theme: config.colours,
        };
        runtime.block_on(palaver_client::tui::run_tui(options, screen))
    } else {
        runtime.block_on(palaver_client::run_pipe(
            options,
            tokio::io::stdin(),
            tokio::io::stdout(),
        ))
    };
    // Tokio reads stdin on a blocking thread that may still be waiting for a line nobody will
    // type; dropping the runtime would wait for it, so leave it behind instead.
    runtime.shutdown_background();
    Ok(result?)
}

/// The command line with what the configuration file says filled in where the flags say
/// nothing, the file's settings, and where `/ignore` keeps its list (the file given, else the
/// default place, even if nothing is there yet). A file named by `--config` must exist; the
/// default one need not.
fn with_config_file(
    mut args: ConnectArgs,
) -> anyhow::Result<(
    ConnectArgs,
    palaver_client::config::ClientConfig,
    Option<PathBuf>,
)> {
    use palaver_client::config::{ClientConfig, default_path};
    let (config, path) = match args.config.take() {
        Some(path) => (
            ClientConfig::load(&path).map_err(anyhow::Error::msg)?,
            Some(path),
        ),
        None => match default_path() {
            Some(path) if path.exists() => (
                ClientConfig::load(&path).map_err(anyhow::Error::msg)?,
                Some(path),
            ),
            other => (ClientConfig::default(), other),
        },
    };
    args.server = args.server.or_else(|| config.server.clone());
    args.tls |= config.tls;
    args.ca = args.ca.or_else(|| config.ca.clone());
    args.nick = args.nick.or_else(|| config.nick.clone());
    if args.join.is_empty() {
        args.join = config.join.clone();
    }
    args.no_mouse |= config.mouse == Some(false);
    Ok((args, config, path))
}

/// `palaver hash-password`: reads a password and prints its argon2id hash (a PHC string) on
/// stdout, the one line an `[[oper]]` entry's `password_hash` takes.
fn hash_password() -> anyhow::Result<()> {
    let password = password::read()?;
    let hash = palaver_server::accounts::hash_password(&password).map_err(anyhow::Error::msg)?;
    println!("{hash}");
    Ok(())
}

/// The server's address with its port, and how to speak TLS to it, if at all.
fn connect_tls(args: &ConnectArgs) -> anyhow::Result<(String, Option<palaver_client::TlsOptions>)> {
    let (server, trust) = connect_target(args)?;
    let Some(trust) = trust else {
        return Ok((server, None));
    };
    if trust == palaver_client::Trust::Anything {
        // Before the full screen takes the terminal, and whatever the log filter.
        eprintln!(
            "palaver: warning: --insecure: the server's certificate is not checked; anyone on \
             the way can read and change this conversation"
        );
    }
    let tls = palaver_client::TlsOptions::new(&server_host(&server), &trust)?;
    Ok((server, Some(tls)))
}

/// The server's address with its port, and what to trust if TLS is wanted: `--tls`, `--ca`
/// or `--insecure`, or a port of 6697, the conventional IRC-over-TLS port, ask for TLS, and
/// TLS makes 6697 the default port.
fn connect_target(args: &ConnectArgs) -> anyhow::Result<(String, Option<palaver_client::Trust>)> {
    let asked = args.tls || args.ca.is_some() || args.insecure;
    let default_port = if asked { CONVENTIONAL_IRCS_PORT } else { 6667 };
    let server = with_default_port(args.server.as_deref().unwrap_or("localhost"), default_port);
    let on_tls_port = server.ends_with(&format!(":{CONVENTIONAL_IRCS_PORT}"));
    if !asked && !on_tls_port {
        return Ok((server, None));
    }
    anyhow::ensure!(
        !(args.insecure && args.ca.is_some()),
        "--insecure and --ca contradict each other: --ca checks the certificate"
    );
    let trust = if args.insecure {
        palaver_client::Trust::Anything
    } else if let Some(path) = &args.ca {
        palaver_client::Trust::Certificates(path.clone())
    } else {
        palaver_client::Trust::System
    };
    Ok((server, Some(trust)))
}

/// The host part of `HOST:PORT` or `[v6]:PORT`, as the certificate must name it.
fn server_host(server: &str) -> String {
    let host = server.rsplit_once(':').map_or(server, |(host, _)| host);
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned()
}

/// `HOST` → `HOST:PORT`; `HOST:PORT`, `[v6]` and `[v6]:PORT` as expected; a bare IPv6
/// address (more than one `:`) gets brackets.
fn with_default_port(server: &str, port: u16) -> String {
    if server.starts_with('[') {
        if server.ends_with(']') {
            return format!("{server}:{port}");
        }
        return server.to_owned();
    }
    match server.matches(':').count() {
        0 => format!("{server}:{port}"),
        1 => server.to_owned(),
        _ => format!("[{server}]:{port}"),
    }
}

/// Sends logs, filtered by `filter` (tracing's EnvFilter syntax), to stderr in `format`:
/// stdout carries the server's `listening …`/`ready` lines and the client's messages.
fn init_logging(filter: &str, format: LogFormat) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(filter).context("invalid --log filter")?;
    let logger = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logger.with_ansi(std::io::stderr().is_terminal()).init(),
        // The span's fields (peer, protocol) on every line, as the text format shows them.
        LogFormat::Json => logger.json().with_current_span(true).init(),
    }
    Ok(())
}

/// Prints the readiness contract on stdout: one `listening KIND ADDR` line per listener, then
/// `ready`.
fn announce_ready(server: &Server) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    for (kind, address) in server.local_addresses() {
        writeln!(stdout, "listening {kind} {address}")?;
    }
    writeln!(stdout, "ready")?;
    stdout.flush()?;
    for (kind, address) in server.local_addresses() {
        if let Some(url) = web_client_url(kind, address) {
            tracing::info!("the web client is at {url}");
        }
    }
    Ok(())
}

/// The address to open in a browser for a `web` or `webs` listener on `address`: a listener
/// on every interface is named by `localhost`, the name that works on the server's own
/// machine.
fn web_client_url(kind: &str, address: SocketAddr) -> Option<String> {
    let scheme = match kind {
        "web" => "http",
        "webs" => "https",
        _ => return None,
    };
    let host = match address.ip() {
        ip if ip.is_unspecified() => "localhost".to_owned(),
        IpAddr::V6(ip) => format!("[{ip}]"),
        IpAddr::V4(ip) => ip.to_string(),
    };
    Some(format!("{scheme}://{host}:{}/", address.port()))
}

/// Installs the SIGHUP handler: on each SIGHUP the configuration is read again (the file, if
/// one was given, under the same flags and environment) and handed to `reloader`, which
/// applies what can change live (the TLS certificate, read again from its files) and logs
/// the rest. A file that no longer parses changes nothing.
fn reload_on_hangup(
    reloader: Reloader,
    config_file: Option<PathBuf>,
    overrides: Overrides,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup()).context("cannot install the SIGHUP handler")?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading the configuration");
            systemd::reloading();
            let file = match &config_file {
                Some(path) => FileConfig::load(path),
                None => Ok(FileConfig::default()),
            };
            // Deprecations were warned about at start-up.
            let overrides = Overrides {
                deprecations: Vec::new(),
                ..overrides.clone()
            };
            match file.and_then(|file| Config::resolve(file, overrides)) {
                // Reading certificate files is quick, but blocking all the same.
                Ok(config) => {
                    let reloader = reloader.clone();
                    let _ = tokio::task::spawn_blocking(move || reloader.reload(config)).await;
                }
                Err(error) => {
                    tracing::error!("reload: {error}; nothing changed");
                }
            }
            systemd::ready();
        }
    });
    Ok(())
}

/// Installs the SIGINT and SIGTERM handlers now, and returns a future that completes on the
/// first of those signals.
fn shutdown_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    );
    async move {
        let (Ok(mut interrupt), Ok(mut terminate)) = handlers else {
            tracing::error!("cannot install signal handlers; stop the server with SIGKILL");
            return std::future::pending().await;
        };
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_web_client_s_url_names_a_host_a_browser_on_this_machine_can_open() {
        let url = |kind, address: &str| web_client_url(kind, address.parse().unwrap());
        assert_eq!(
            url("web", "0.0.0.0:8080").as_deref(),
            Some("http://localhost:8080/")
        );
        assert_eq!(
            url("webs", "[::]:8443").as_deref(),
            Some("https://localhost:8443/")
        );
        assert_eq!(
            url("web", "192.0.2.7:80").as_deref(),
            Some("http://192.0.2.7:80/")
        );
        assert_eq!(
            url("webs", "[2001:db8::1]:443").as_deref(),
            Some("https://[2001:db8::1]:443/")
        );
        assert_eq!(url("irc", "0.0.0.0:6667"), None);
    }

    #[test]
    fn the_current_shutdown_grace_spelling_is_used_as_it_is() {
        let grace = Duration::from_secs(3);
        for level in [Level::Flag, Level::Environment] {
            assert_eq!(
                pick_shutdown_grace(Some((grace, level)), None),
                (Some(grace), None)
            );
        }
        assert_eq!(pick_shutdown_grace(None, None), (None, None));
    }

    #[test]
    fn the_old_shutdown_grace_flag_is_read_with_a_deprecation() {
        let (grace, deprecation) = pick_shutdown_grace(None, Some((90, Level::Flag)));
        assert_eq!(grace, Some(Duration::from_secs(90)));
        assert_eq!(
            deprecation.unwrap().to_string(),
            "--shutdown-grace-seconds 90 is deprecated; write --shutdown-grace 90s instead"
        );
        let (grace, deprecation) = pick_shutdown_grace(None, Some((60, Level::Environment)));
        assert_eq!(grace, Some(Duration::from_secs(60)));
        assert_eq!(
            deprecation.unwrap().to_string(),
            "PALAVER_SHUTDOWN_GRACE_SECONDS=60 is deprecated; write PALAVER_SHUTDOWN_GRACE=1m \
             instead"
        );
    }

    #[test]
    fn a_flag_beats_the_environment_whichever_spelling_and_else_the_new_spelling_wins() {
        let new = Duration::from_secs(3);
        let pick = |new_level, old_level| {
            pick_shutdown_grace(Some((new, new_level)), Some((7, old_level))).0
        };
        let old = Some(Duration::from_secs(7));
        assert_eq!(pick(Level::Flag, Level::Environment), Some(new));
        assert_eq!(pick(Level::Environment, Level::Flag), old);
        assert_eq!(pick(Level::Flag, Level::Flag), Some(new));
        assert_eq!(pick(Level::Environment, Level::Environment), Some(new));
    }

    #[test]
    fn tls_is_asked_for_by_a_flag_or_port_6697_and_makes_6697_the_default() {
        use palaver_client::Trust;
        let target = |args: &[&str]| {
            let cli = Cli::try_parse_from(["palaver", "connect"].iter().chain(args)).unwrap();
            let Command::Connect(args) = cli.command else {
                panic!("connect")
            };
            connect_target(&args).map_err(|error| error.to_string())
        };
        assert_eq!(target(&[]), Ok(("localhost:6667".into(), None)));
        assert_eq!(
            target(&["chat.example"]),
            Ok(("chat.example:6667".into(), None))
        );
        assert_eq!(
            target(&["chat.example", "--tls"]),
            Ok(("chat.example:6697".into(), Some(Trust::System)))
        );
        assert_eq!(
            target(&["chat.example:6697"]),
            Ok(("chat.example:6697".into(), Some(Trust::System)))
        );
        assert_eq!(
            target(&["chat.example:7000", "--ca", "ca.pem"]),
            Ok((
                "chat.example:7000".into(),
                Some(Trust::Certificates("ca.pem".into()))
            ))
        );
        assert_eq!(
            target(&["[::1]", "--insecure"]),
            Ok(("[::1]:6697".into(), Some(Trust::Anything)))
        );
        assert!(target(&["x", "--insecure", "--ca", "ca.pem"]).is_err());
        assert_eq!(server_host("[::1]:6697"), "::1");
        assert_eq!(server_host("chat.example:6697"), "chat.example");
    }

    #[test]
    fn serve_help_shows_the_configuration_defaults() {
        let mut command = with_config_defaults(Cli::command());
        let help = command
            .find_subcommand_mut("serve")
            .unwrap()
            .render_help()
            .to_string();
        for shown in [
            "[default: 0.0.0.0:7788]",
            "[default: 0.0.0.0:6667]",
            "[default: palaver.local]",
            "[default: palaver.db]",
            "[default: 4096]",
            "[default: 1048576]",
            "[default: 5s]",
        ] {
            assert!(help.contains(shown), "{shown} in:\n{help}");
        }
    }
}
