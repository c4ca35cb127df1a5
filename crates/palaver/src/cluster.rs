//! `palaver cluster …`: looking at a cluster from outside. `status` reads the nodes' records
//! from Redis (docs/CLUSTER.md, "`palaver cluster status`") and changes nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use palaver_server::cluster::status;
use palaver_server::config::{Config, FileConfig, Overrides};

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// List the nodes registered in the cluster's Redis: live or lost, their users,
    /// connections, clock offset and version, and Redis's own state. Exit status 0 when
    /// every node is live and they agree on their settings, 1 when not, 2 when Redis cannot
    /// be read.
    Status(StatusArgs),
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The cluster's Redis, as `serve --cluster` takes it.
    #[arg(long = "cluster", value_name = "URL", env = "PALAVER_CLUSTER")]
    cluster_url: Option<String>,

    /// Read the Redis URL (unless --cluster gives one) and the key prefix from this
    /// configuration file's [cluster].
    #[arg(long, value_name = "FILE", env = "PALAVER_CONFIG")]
    config: Option<PathBuf>,

    /// Print the status as one JSON object, for scripts.
    #[arg(long)]
    json: bool,
}

/// What `cluster status` exits with when it cannot read the status.
const UNREADABLE: u8 = 2;

pub fn run(command: ClusterCommand) -> ExitCode {
    match command {
        ClusterCommand::Status(args) => status(args),
    }
}

fn status(args: StatusArgs) -> ExitCode {
    let failed = |message: String| {
        eprintln!("palaver cluster status: {message}");
        ExitCode::from(UNREADABLE)
    };
    let file = match &args.config {
        Some(path) => match FileConfig::load(path) {
            Ok(file) => file,
            Err(error) => return failed(error.to_string()),
        },
        None => FileConfig::default(),
    };
    let overrides = Overrides {
        cluster_url: args.cluster_url,
        ..Overrides::default()
    };
    let settings = match Config::resolve(file, overrides) {
        Ok(config) => config.cluster,
        Err(error) => return failed(error.to_string()),
    };
    let Some(settings) = settings else {
        return failed(
            "no cluster named: give --cluster URL (or PALAVER_CLUSTER), or a --config whose \
             [cluster] has a redis_url"
                .into(),
        );
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return failed(format!("cannot start the async runtime: {error}")),
    };
    match runtime.block_on(status::read(&settings.redis)) {
        Ok(report) => {
            if args.json {
                match serde_json::to_string(&report) {
                    Ok(json) => println!("{json}"),
                    Err(error) => return failed(error.to_string()),
                }
            } else {
                print!("{}", report.render());
            }
            ExitCode::from(report.exit_code())
        }
        Err(error) => failed(error.to_string()),
    }
}
