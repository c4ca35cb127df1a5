//! Applying a changed configuration to a running server (`palaver serve` does it on SIGHUP).
//!
//! The caller reads and resolves the configuration again and hands it to
//! [`Reloader::reload`], which applies what can change while the server runs and logs the rest
//! as left unchanged until a restart. What applies live:
//!
//! - the TLS certificate: read from its files again even when their paths did not change,
//!   which is how a renewed certificate is taken up; new handshakes get it and live
//!   connections keep theirs; one that cannot be used is refused and the old one kept;
//! - the per-address limits (`[limits]` connections, connect rate, registrations, room
//!   creations, exemptions), the `[[oper]]` entries and the administration API's
//!   `[[admin.token]]` entries, at once for everyone;
//! - what each connection takes when it starts — `[flood]`, `[text]`, `[irc]` but its server
//!   and network names, `[limits] max_line_bytes`, `send_queue_bytes` and
//!   `write_coalescing`, `[accounts] nick_grace`, `[privacy] cloak_hosts` — for the
//!   connections made after the reload
//!   (through the [`SharedContext`] the accept loops serve from); connections already open
//!   keep theirs.
//!
//! Server bans live in the store and change through operators' commands, not the file.
//!
//! [`Reloader::preview`] says what a reload with a configuration would do, changing nothing
//! (`palaver check-config FILE --server URL`, through the administration API).
//!
//! To make another setting reloadable, apply it in [`Reloader::reload`] with the others,
//! updating `current`, so that [`needs_restart`] no longer finds it different.

use std::sync::{Arc, Mutex};

use tracing::{error, info, warn};

use crate::accounts::AdminTokens;
use crate::config::{Config, FileConfig, IrcSettings, Overrides};
use crate::lock;
use crate::session::SharedContext;
use crate::tls::Tls;

/// Applies new configurations to the server it came from ([`Server::reloader`]). Cheap to
/// clone; reloads are applied one at a time.
///
/// [`Server::reloader`]: crate::Server::reloader
#[derive(Clone)]
pub struct Reloader {
    inner: Arc<Inner>,
}

struct Inner {
    /// The configuration in force: what the server started with, with each reload's live
    /// changes applied. The lock also keeps two reloads from interleaving.
    current: Mutex<Config>,
    /// The TLS listeners' certificate, if the server started with one.
    tls: Option<Tls>,
    /// What new connections are served with, once the server runs.
    contexts: std::sync::OnceLock<SharedContext>,
    /// The administration API's tokens, once the server runs.
    admin_tokens: std::sync::OnceLock<AdminTokens>,
    /// The flags and environment the server was started with, which a configuration file
    /// is resolved with for a preview, as for a reload.
    overrides: std::sync::OnceLock<Overrides>,
}

/// Whether a reload changes the server or only says what it would change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Apply,
    Preview,
}

/// What one reload did, as it logged it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reloaded {
    /// What changed live, in words.
    pub applied: Vec<String>,
    /// Settings that differ from those in force but need a restart; left unchanged.
    pub needs_restart: Vec<&'static str>,
    /// What could not be applied, and why; the old values stay.
    pub refused: Vec<String>,
}

impl Reloader {
    pub(crate) fn new(config: Config, tls: Option<Tls>) -> Self {
        Self {
            inner: Arc::new(Inner {
                current: Mutex::new(config),
                tls,
                contexts: std::sync::OnceLock::new(),
                admin_tokens: std::sync::OnceLock::new(),
                overrides: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Gives the reloader what the running server serves new connections with.
    pub(crate) fn serve_with(&self, contexts: SharedContext) {
        let _ = self.inner.contexts.set(contexts);
    }

    /// Gives the reloader the administration API's tokens of the running server.
    pub(crate) fn administer_with(&self, tokens: AdminTokens) {
        let _ = self.inner.admin_tokens.set(tokens);
    }

    /// Gives the reloader the flags and environment the server was started with, so that a
    /// preview resolves a file as a reload would.
    pub fn resolve_with(&self, overrides: Overrides) {
        let _ = self.inner.overrides.set(Overrides {
            // Warned about at start-up.
            deprecations: Vec::new(),
            ..overrides
        });
    }

    /// What a reload with the configuration file `text` would do, changing nothing; or why
    /// the file cannot be used.
    pub fn preview_file(&self, text: &str) -> Result<Reloaded, String> {
        let file = FileConfig::parse(text)?;
        let overrides = self.inner.overrides.get().cloned().unwrap_or_default();
        let new = Config::resolve(file, overrides).map_err(|error| error.to_string())?;
        Ok(self.preview(&new))
    }

    /// What a reload with `new` would do, changing nothing (and logging nothing).
    pub fn preview(&self, new: &Config) -> Reloaded {
        self.run(new, Mode::Preview)
    }

    /// Applies what of `new` can change while the server runs, and logs what it did.
    pub fn reload(&self, new: Config) -> Reloaded {
        self.run(&new, Mode::Apply)
    }

    fn run(&self, new: &Config, mode: Mode) -> Reloaded {
        let mut in_force = lock(&self.inner.current);
        // A preview works on a copy, which it throws away.
        let mut copy;
        let current: &mut Config = match mode {
            Mode::Apply => &mut in_force,
            Mode::Preview => {
                copy = in_force.clone();
                &mut copy
            }
        };
        let mut reloaded = Reloaded::default();

        let certificate = |tls: &Tls, files| match mode {
            Mode::Apply => tls.reload(files),
            Mode::Preview => Tls::new(files, new.tls.handshake_timeout).map(drop),
        };
        match (&self.inner.tls, &new.tls.certificate) {
            (Some(tls), Some(files)) => match certificate(tls, files) {
                Ok(()) => {
                    current.tls.certificate = Some(files.clone());
                    reloaded.applied.push(format!(
                        "TLS certificate reloaded from {}",
                        files.certificate.display()
                    ));
                }
                Err(problem) => {
                    reloaded
                        .refused
                        .push(format!("{problem}; the old certificate stays in use"));
                }
            },
            (Some(_), None) => reloaded.refused.push(
                "the configuration no longer names a TLS certificate; the old one stays in use \
                 until a restart"
                    .into(),
            ),
            (None, Some(_)) => reloaded.needs_restart.push("TLS certificate"),
            (None, None) => {}
        }
        match (mode, self.inner.contexts.get()) {
            (Mode::Apply, Some(contexts)) => {
                apply_live(Some(contexts), current, new, &mut reloaded.applied);
            }
            (Mode::Preview, _) => apply_live(None, current, new, &mut reloaded.applied),
            // Before the server runs, nothing is live yet: every change waits for the start.
            (Mode::Apply, None) => {}
        }
        if let Some(tokens) = self.inner.admin_tokens.get()
            && new.admin.tokens != current.admin.tokens
        {
            if mode == Mode::Apply {
                tokens.replace(new.admin.tokens.clone());
            }
            current.admin.tokens = new.admin.tokens.clone();
            reloaded.applied.push(format!(
                "[[admin.token]] entries ({})",
                new.admin.tokens.len()
            ));
        }

        reloaded.needs_restart.extend(needs_restart(current, new));
        if mode == Mode::Preview {
            return reloaded;
        }
        for applied in &reloaded.applied {
            info!("reload: {applied}");
        }
        for setting in &reloaded.needs_restart {
            warn!("reload: {setting} changed; left unchanged until a restart");
        }
        for refused in &reloaded.refused {
            error!("reload: {refused}");
        }
        if reloaded == Reloaded::default() {
            info!("reload: nothing changed");
        }
        reloaded
    }
}

/// Applies the settings of `new` that change live (see the module documentation) to the
/// server behind `contexts` (none for a preview), updating `current` to match and saying
/// what changed in `applied`.
fn apply_live(
    contexts: Option<&SharedContext>,
    current: &mut Config,
    new: &Config,
    applied: &mut Vec<String>,
) {
    let context = contexts.map(SharedContext::current);
    if new.address_limits != current.address_limits {
        let limits = &new.address_limits;
        if let Some(context) = &context {
            context.admission.update(limits.clone());
            context.accounts.set_registration_limit(
                limits.account_registrations_per_address,
                limits.exempt.clone(),
            );
            context
                .hub
                .set_room_creation_limit(limits.room_creations_per_address, limits.exempt.clone());
        }
        current.address_limits = limits.clone();
        applied.push("[limits] per-address limits".into());
    }
    if new.operators != current.operators {
        if let Some(context) = &context {
            context.operators.replace(new.operators.clone());
        }
        current.operators = new.operators.clone();
        applied.push(format!("[[oper]] entries ({})", new.operators.len()));
    }
    // What a connection takes when it starts: for connections to come.
    let mut for_new_connections = Vec::new();
    if new.flood != current.flood {
        current.flood = new.flood.clone();
        for_new_connections.push("[flood]");
    }
    if new.text != current.text {
        current.text = new.text.clone();
        for_new_connections.push("[text]");
    }
    // The server and network names are who the server is to everyone at once: not changed
    // under connected clients.
    let irc = IrcSettings {
        server_name: current.irc.server_name.clone(),
        network: current.irc.network.clone(),
        ..new.irc.clone()
    };
    if irc != current.irc {
        current.irc = irc;
        for_new_connections.push("[irc]");
    }
    let (line, queue, coalescing) = (
        new.limits.max_line_bytes,
        new.limits.send_queue_bytes,
        new.limits.write_coalescing,
    );
    if (line, queue, coalescing)
        != (
            current.limits.max_line_bytes,
            current.limits.send_queue_bytes,
            current.limits.write_coalescing,
        )
    {
        current.limits.max_line_bytes = line;
        current.limits.send_queue_bytes = queue;
        current.limits.write_coalescing = coalescing;
        for_new_connections.push("[limits] max_line_bytes, send_queue_bytes, write_coalescing");
    }
    if new.accounts.nick_grace != current.accounts.nick_grace {
        current.accounts.nick_grace = new.accounts.nick_grace;
        for_new_connections.push("[accounts] nick_grace");
    }
    if new.cloak_hosts != current.cloak_hosts {
        current.cloak_hosts = new.cloak_hosts;
        for_new_connections.push("[privacy] cloak_hosts");
    }
    if for_new_connections.is_empty() {
        return;
    }
    if let Some(contexts) = contexts {
        contexts.update(|context| {
            context.flood = Arc::new(current.flood.clone());
            context.history_on_join = current.text.history_on_join;
            context.idle_flush = current.text.idle_flush;
            context.text_registration_timeout = current.text.registration_timeout;
            context.irc = Arc::new(current.irc.clone());
            context.limits.max_line_bytes = current.limits.max_line_bytes;
            context.limits.send_queue_bytes = current.limits.send_queue_bytes;
            context.nick_grace = current.accounts.nick_grace;
            context.cloak_hosts = current.cloak_hosts;
        });
    }
    applied.push(format!(
        "{} (for connections made from now on)",
        for_new_connections.join(", ")
    ));
}

/// The settings that differ between `current` and `new` and cannot change while the server
/// runs.
fn needs_restart(current: &Config, new: &Config) -> Vec<&'static str> {
    let Config {
        listeners,
        limits,
        address_limits,
        flood,
        proxy,
        http_listen,
        text,
        irc,
        store,
        accounts,
        tls,
        cloak_hosts,
        shutdown_grace,
        operators,
        web,
        cluster,
        admin,
    } = new;
    // Destructured so that a new setting cannot be forgotten here.
    let tls_others = (&tls.handshake_timeout, &tls.sts_duration, &tls.sts_port);
    let current_tls_others = (
        &current.tls.handshake_timeout,
        &current.tls.sts_duration,
        &current.tls.sts_port,
    );
    [
        ("listeners", *listeners != current.listeners),
        ("[limits]", *limits != current.limits),
        // Applied live (`apply_live`) once the server runs; before, they wait like the rest.
        (
            "[limits] (per address)",
            *address_limits != current.address_limits,
        ),
        ("[flood]", *flood != current.flood),
        ("[proxy]", *proxy != current.proxy),
        ("[http] listen", *http_listen != current.http_listen),
        ("[web]", *web != current.web),
        ("[text]", *text != current.text),
        ("[irc]", *irc != current.irc),
        (
            "[store] (the database and retention)",
            *store != current.store,
        ),
        ("[accounts]", *accounts != current.accounts),
        (
            "[tls] handshake_timeout, sts_duration, sts_port",
            tls_others != current_tls_others,
        ),
        ("[privacy] cloak_hosts", *cloak_hosts != current.cloak_hosts),
        (
            "[shutdown] grace",
            *shutdown_grace != current.shutdown_grace,
        ),
        ("[[oper]]", *operators != current.operators),
        ("[cluster] (the Redis store)", *cluster != current.cluster),
        // Applied live (`reload`) once the server runs; before, they wait like the rest.
        ("[[admin.token]]", admin.tokens != current.admin.tokens),
        (
            "[admin] audit_log",
            admin.audit_log != current.admin.audit_log,
        ),
    ]
    .into_iter()
    .filter(|(_, differs)| *differs)
    .map(|(setting, _)| setting)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FileConfig, Overrides};

    fn config(toml: &str) -> Config {
        Config::resolve(FileConfig::parse(toml).unwrap(), Overrides::default()).unwrap()
    }

    #[test]
    fn settings_that_cannot_change_live_are_reported_and_left_alone() {
        let reloader = Reloader::new(Config::defaults(), None);
        assert_eq!(reloader.reload(Config::defaults()), Reloaded::default());

        let changed = config(
            "[irc]\nlisten = [\"127.0.0.1:6667\"]\nmotd = \"hello\"\n[store]\npath = \"other.db\"\n",
        );
        let reloaded = reloader.reload(changed.clone());
        // The audit log's default file sits beside the database, so it moves with it.
        assert_eq!(
            reloaded.needs_restart,
            [
                "listeners",
                "[irc]",
                "[store] (the database and retention)",
                "[admin] audit_log"
            ]
        );
        assert_eq!(reloaded.applied, Vec::<String>::new());
        // Still not in force: said again on the next reload.
        assert_eq!(reloader.reload(changed).needs_restart.len(), 4);
    }

    #[test]
    fn a_certificate_named_after_a_start_without_one_needs_a_restart() {
        let reloader = Reloader::new(Config::defaults(), None);
        let with_certificate = config("[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n");
        assert_eq!(
            reloader.reload(with_certificate).needs_restart,
            ["TLS certificate"]
        );
    }

    #[test]
    fn a_preview_says_what_a_reload_would_do_and_changes_nothing() {
        // A server started with a flag: the file is resolved with it, as a reload would.
        let flags = Overrides {
            server_name: Some("flagged.example.org".into()),
            ..Overrides::default()
        };
        let started = Config::resolve(FileConfig::default(), flags.clone()).unwrap();
        let reloader = Reloader::new(started, None);
        reloader.resolve_with(flags);
        let text = "[flood]\nburst = 3\n[store]\npath = \"other.db\"\n";
        let preview = reloader.preview_file(text).expect("a valid file");
        assert_eq!(
            preview.applied,
            ["[flood] (for connections made from now on)"]
        );
        assert_eq!(
            preview.needs_restart,
            ["[store] (the database and retention)", "[admin] audit_log"]
        );
        // Nothing changed: the same preview again.
        assert_eq!(reloader.preview_file(text).expect("valid"), preview);
        let Err(problem) = reloader.preview_file("[flood]\nburst = \"many\"\n") else {
            panic!("a bad file is refused");
        };
        assert!(problem.contains("invalid type"), "{problem}");
    }
}
