//! `palaver cluster …`: a cluster seen from outside. `status` reads the nodes' records from
//! Redis (docs/CLUSTER.md, "`palaver cluster status`") and changes nothing; `import` copies a
//! single node's SQLite database into an empty cluster.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use palaver_server::cluster::{ClusterSettings, IMPORT_NODE, Node, NodeFacts, status};
use palaver_server::config::{Config, FileConfig, Overrides};
use palaver_server::metrics::Metrics;
use palaver_server::store::{self, Store, StoreConfig};

use crate::DatabaseArg;

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// List the nodes registered in the cluster's Redis: live or lost, their users,
    /// connections, clock offset and version, and Redis's own state. Exit status 0 when
    /// every node is live and they agree on their settings, 1 when not, 2 when Redis cannot
    /// be read.
    Status(StatusArgs),
    /// Copy a single node's SQLite database (history, accounts, client certificates, read
    /// markers, registered rooms, server bans) into the cluster's Redis, which must hold no
    /// palaver data yet under its key prefix and have no node running. The database is only
    /// read (after migrating it, if an older palaver wrote it); stop the server that uses it
    /// first.
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    database: DatabaseArg,

    #[command(flatten)]
    cluster: ClusterArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    cluster: ClusterArgs,

    /// Print the status as one JSON object, for scripts.
    #[arg(long)]
    json: bool,
}

/// Where the cluster's Redis is.
#[derive(Debug, Args)]
struct ClusterArgs {
    /// The cluster's Redis, as `serve --cluster` takes it.
    #[arg(long = "cluster", value_name = "URL", env = "PALAVER_CLUSTER")]
    cluster_url: Option<String>,

    /// Read the Redis URL (unless --cluster gives one) and the key prefix from this
    /// configuration file's [cluster].
    #[arg(long, value_name = "FILE", env = "PALAVER_CONFIG")]
    config: Option<PathBuf>,
}

impl ClusterArgs {
    /// The cluster's settings from the flag and the file.
    fn settings(self) -> anyhow::Result<ClusterSettings> {
        let file = match &self.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        let overrides = Overrides {
            cluster_url: self.cluster_url,
            ..Overrides::default()
        };
        Config::resolve(file, overrides)?.cluster.context(
            "no cluster named: give --cluster URL (or PALAVER_CLUSTER), or a --config whose \
             [cluster] has a redis_url",
        )
    }
}

/// What `cluster status` exits with when it cannot read the status.
const UNREADABLE: u8 = 2;

pub fn run(command: ClusterCommand) -> ExitCode {
    match command {
        ClusterCommand::Status(args) => status(args),
        ClusterCommand::Import(args) => match import(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("palaver cluster import: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn status(args: StatusArgs) -> ExitCode {
    let failed = |message: String| {
        eprintln!("palaver cluster status: {message}");
        ExitCode::from(UNREADABLE)
    };
    let settings = match args.cluster.settings() {
        Ok(settings) => settings,
        Err(error) => return failed(format!("{error:#}")),
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

fn import(args: ImportArgs) -> anyhow::Result<()> {
    let settings = args.cluster.settings()?;
    let database = args.database.database;
    // Opening a missing file would create an empty database and import nothing.
    anyhow::ensure!(
        database.is_file(),
        "no database at {} (--db PATH)",
        database.display()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let facts = NodeFacts {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            settings_digest: String::new(),
        };
        let metrics = Arc::new(Metrics::new());
        let node = Node::start(&settings, IMPORT_NODE.to_owned(), facts, metrics.clone()).await?;
        let copied = copy(&database, &settings, metrics).await;
        node.stop().await;
        let imported = copied?;
        println!(
            "imported {imported} from {} into {} (key prefix {})",
            database.display(),
            settings.redis.display_url(),
            settings.redis.key_prefix
        );
        Ok(())
    })
}

/// Opens both stores, copies, and closes both.
async fn copy(
    database: &Path,
    settings: &ClusterSettings,
    metrics: Arc<Metrics>,
) -> anyhow::Result<store::Imported> {
    // Everything is copied: retention applies when a node starts on the data.
    let source = Store::open(StoreConfig::new(database.to_string_lossy()))?.store;
    let target = Store::open_redis(&settings.redis, StoreConfig::new(""), metrics)
        .await?
        .store;
    let imported = store::import(&source, &target).await;
    target.shut_down().await?;
    source.shut_down().await?;
    Ok(imported?)
}
