//! The `palaver` command: parses arguments, sets up logging, and hands over to the library.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use palaver_server::Server;
use palaver_server::config::{Config, FileConfig, Overrides};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "palaver", version, about = "A self-hosted group-chat server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the chat server.
    Serve(ServeArgs),
    /// Connect to a server as a client: full-screen at a terminal, else pipe mode (stdin lines
    /// are said, received lines printed).
    Connect(ConnectArgs),
}

#[derive(Debug, Args)]
struct ConnectArgs {
    /// The server's IRC address, HOST or HOST:PORT (port 6667 by default).
    #[arg(value_name = "HOST[:PORT]", default_value = "localhost:6667")]
    server: String,

    /// Your nick [default: $USER, or `guest`].
    #[arg(long, value_name = "NICK")]
    nick: Option<String>,

    /// Your account password: logs in to the account named like your nick (SASL PLAIN).
    #[arg(long, value_name = "PASSWORD")]
    password: Option<String>,

    /// Rooms to join, comma-separated; lines from stdin go to the first.
    #[arg(long, value_name = "#ROOM,...", value_delimiter = ',')]
    join: Vec<String>,

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
    /// Repeatable. Default 0.0.0.0:7788, used only when no listener is configured at all.
    #[arg(
        long = "text-listen",
        value_name = "ADDR",
        env = "PALAVER_TEXT_LISTEN",
        value_delimiter = ','
    )]
    text_listen: Vec<SocketAddr>,

    /// Listen for IRC clients on ADDR (IP:port; port 0 picks a free port). Repeatable.
    /// Default 0.0.0.0:6667, used only when no listener is configured at all.
    #[arg(
        long = "irc-listen",
        value_name = "ADDR",
        env = "PALAVER_IRC_LISTEN",
        value_delimiter = ','
    )]
    irc_listen: Vec<SocketAddr>,

    /// The server's name, shown to IRC clients [default: palaver.local].
    #[arg(long, value_name = "NAME", env = "PALAVER_SERVER_NAME")]
    server_name: Option<String>,

    /// Password IRC clients must send with PASS to register.
    #[arg(long, value_name = "PASSWORD", env = "PALAVER_IRC_PASSWORD")]
    irc_password: Option<String>,

    /// Show hosts as cloaks instead of IP addresses.
    #[arg(long, env = "PALAVER_CLOAK_HOSTS")]
    cloak_hosts: bool,

    /// The SQLite database holding history, or `:memory:` to keep nothing [default: palaver.db].
    #[arg(long = "db", value_name = "PATH", env = "PALAVER_DB")]
    database: Option<String>,

    /// Longest accepted text-protocol line in bytes [default: 4096].
    #[arg(long, value_name = "BYTES", env = "PALAVER_MAX_LINE_BYTES")]
    max_line_bytes: Option<usize>,

    /// Most bytes queued for one client before it is dropped as too slow [default: 1048576].
    #[arg(long, value_name = "BYTES", env = "PALAVER_SEND_QUEUE_BYTES")]
    send_queue_bytes: Option<usize>,

    /// Seconds to let clients' output flush on shutdown [default: 5].
    #[arg(long, value_name = "SECONDS", env = "PALAVER_SHUTDOWN_GRACE_SECONDS")]
    shutdown_grace_seconds: Option<u64>,

    /// Log filter, in tracing's EnvFilter syntax (for example `info` or `palaver_server=debug`).
    #[arg(
        long,
        value_name = "FILTER",
        env = "PALAVER_LOG",
        default_value = "info"
    )]
    log: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Connect(args) => connect(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("palaver: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(&args.log)?;

    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let overrides = Overrides {
        text_listen: args.text_listen,
        irc_listen: args.irc_listen,
        server_name: args.server_name,
        irc_password: args.irc_password,
        // A flag can only switch cloaking on; the file can do either.
        cloak_hosts: args.cloak_hosts.then_some(true),
        database: args.database,
        max_line_bytes: args.max_line_bytes,
        send_queue_bytes: args.send_queue_bytes,
        shutdown_grace_seconds: args.shutdown_grace_seconds,
    };
    let config = Config::resolve(file, overrides)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let server = Server::bind(config).await?;
        announce_ready(&server)?;
        server.run(shutdown_signal()).await;
        anyhow::Ok(())
    })
}

fn connect(args: ConnectArgs) -> anyhow::Result<()> {
    // A person at a terminal gets the full-screen client; scripts and pipes get pipe mode.
    let full_screen = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    // Log lines written to the terminal the full screen is drawn on would garble it: log only
    // when stderr goes elsewhere (`2>palaver.log`).
    if !full_screen || !std::io::stderr().is_terminal() {
        init_logging(&args.log)?;
    }
    let nick = args
        .nick
        .or_else(|| std::env::var("USER").ok().filter(|user| !user.is_empty()))
        .unwrap_or_else(|| "guest".to_owned());
    let options = palaver_client::ConnectOptions {
        server: with_default_port(&args.server, 6667),
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
        runtime.block_on(palaver_client::tui::run_tui(options))
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

/// Sends logs, filtered by `filter` (tracing's EnvFilter syntax), to stderr: stdout carries
/// the server's `listening …`/`ready` lines and the client's messages.
fn init_logging(filter: &str) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(filter).context("invalid --log filter")?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
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
    Ok(())
}

/// Completes on the first SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::error!("cannot install signal handlers; stop the server with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
}
