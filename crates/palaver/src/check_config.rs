//! `palaver check-config FILE`: reads a configuration file as `palaver serve --config FILE`
//! would (the same parsing, the same rules, the same defaults; the `PALAVER_*` environment
//! is not consulted, so the file is judged on its own) and then loads what `serve` would load
//! from it before taking any port: the TLS certificate and key, the MOTD file, the web root,
//! the database's directory and the audit log's. Every problem is one line on stderr, and the exit status says
//! whether there was any; a valid file gets one line on stdout naming its listeners.
//!
//! A file that does not parse, or that breaks a rule, is reported by its first problem only:
//! the later checks need a configuration to look at.

use std::path::Path;
use std::process::ExitCode;

use palaver_server::config::{Config, FileConfig, Overrides};
use palaver_server::tls::Tls;

pub fn run(file: &Path) -> ExitCode {
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
    ExitCode::SUCCESS
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
