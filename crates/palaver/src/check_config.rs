//! `palaver check-config FILE`: reads a configuration file as `palaver serve --config FILE`
//! would (the same parsing, the same rules, the same defaults; the `PALAVER_*` environment
//! is not consulted, so the file is judged on its own) and then loads what `serve` would load
//! from it before taking any port: the TLS certificate and key, the MOTD file, the web root,
//! the database's directory and the audit log's. Every problem is one line on stderr, and the exit status says
//! whether there was any; a valid file gets one line on stdout naming its listeners.
//!
//! A file that does not parse, or that breaks a rule, is reported by its first problem only:
//! the later checks need a configuration to look at.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use hyper::Method;
use palaver_server::admin::config::ConfigPreview;
use palaver_server::config::{Config, FileConfig, Overrides};

use crate::admin::http::Api;
use palaver_server::tls::Tls;

#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// The configuration file.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Also ask the server whose HTTP listener (`--http-listen`) is at URL,
    /// http://HOST[:PORT], what a reload with FILE would change there: what applies at once,
    /// what needs a restart, what would be refused. Needs a token of `[[admin.token]]`.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// The token for --server: its name, a colon, its secret. Prefer the environment
    /// variable: a flag shows in the process list.
    #[arg(
        long,
        env = "PALAVER_ADMIN_TOKEN",
        hide_env_values = true,
        value_name = "NAME:SECRET",
        requires = "server"
    )]
    token: Option<String>,
}

pub fn run(args: CheckConfigArgs) -> ExitCode {
    let file = args.file.as_path();
    let name = file.display();
    let (config, deprecations) = match FileConfig::load(file)
        .and_then(|parsed| Config::resolve_noting_deprecations(parsed, Overrides::default()))
    {
        Ok(resolved) => resolved,
        Err(error) => {
            eprintln!("{name}: {error}");
            return ExitCode::FAILURE;
        }
    };
    for deprecation in &deprecations {
        eprintln!("{name}: warning: {deprecation}");
    }
    let problems = problems(&config);
    for problem in &problems {
        eprintln!("{name}: {problem}");
    }
    if !problems.is_empty() {
        return ExitCode::FAILURE;
    }
    let listeners: Vec<String> = config
        .listeners
        .iter()
        .map(|listener| format!("{} {}", listener.kind.name(), listener.address))
        .collect();
    println!("{name}: valid; listeners: {}", listeners.join(", "));
    let Some(url) = args.server else {
        return ExitCode::SUCCESS;
    };
    match compare_with_server(file, &url, args.token) {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{name}: {url}: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// What the server at `url` says a reload with `file` would do, as lines to print.
fn compare_with_server(
    file: &Path,
    url: &str,
    token: Option<String>,
) -> anyhow::Result<Vec<String>> {
    let token =
        token.context("--server needs a token: --token NAME:SECRET or PALAVER_ADMIN_TOKEN")?;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let api = Api::new(url, token)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let answer = runtime.block_on(api.call(
        Method::POST,
        "/config/preview",
        Some(serde_json::json!({ "text": text })),
    ))?;
    if answer.status != 200 {
        bail!("the server refused the comparison: {}", answer.refusal());
    }
    let preview: ConfigPreview =
        serde_json::from_slice(&answer.body).context("the server's answer is not a preview")?;
    Ok(preview_lines(url, &preview))
}

/// A preview for people: a line per group of changes, none for an empty group.
fn preview_lines(url: &str, preview: &ConfigPreview) -> Vec<String> {
    if preview.applied.is_empty() && preview.needs_restart.is_empty() && preview.refused.is_empty()
    {
        return vec![format!(
            "compared with {url}: a reload would change nothing"
        )];
    }
    let mut lines = vec![format!("compared with {url}:")];
    let groups = [
        ("a reload applies", &preview.applied),
        ("needs a restart", &preview.needs_restart),
        ("a reload would refuse", &preview.refused),
    ];
    for (what, items) in groups {
        if !items.is_empty() {
            lines.push(format!("  {what}: {}", items.join("; ")));
        }
    }
    lines
}

/// What `serve` would fail on, or trip over soon after starting, in a configuration that
/// follows the rules.
fn problems(config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(files) = &config.tls.certificate
        && let Err(error) = Tls::new(files, config.tls.handshake_timeout)
    {
        problems.push(error.to_string());
    }
    if let Some(root) = &config.web.root
        && !root.is_dir()
    {
        problems.push(format!("[web] root {} is not a directory", root.display()));
    }
    let database = Path::new(&config.store.path);
    if config.store.path != ":memory:" && !in_a_directory(database) {
        problems.push(format!(
            "the database {} is in a directory that does not exist",
            database.display()
        ));
    }
    if let Some(audit_log) = &config.admin.audit_log
        && !in_a_directory(audit_log)
    {
        problems.push(format!(
            "[admin] audit_log {} is in a directory that does not exist",
            audit_log.display()
        ));
    }
    problems
}

/// Whether the directory `file` would be created in exists.
fn in_a_directory(file: &Path) -> bool {
    match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.is_dir(),
        _ => Path::new(".").is_dir(),
    }
}
