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
//! To make another setting reloadable, apply it in [`Reloader::reload`] with the others,
//! updating `current`, so that [`needs_restart`] no longer finds it different.

use std::sync::{Arc, Mutex};

use tracing::{error, info, warn};

use crate::accounts::AdminTokens;
use crate::config::{Config, IrcSettings};
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

    /// Applies what of `new` can change while the server runs, and logs what it did.
    pub fn reload(&self, new: Config) -> Reloaded {
        let mut current = lock(&self.inner.current);
        let mut reloaded = Reloaded::default();

        match (&self.inner.tls, &new.tls.certificate) {
            (Some(tls), Some(files)) => match tls.reload(files) {
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
        if let Some(contexts) = self.inner.contexts.get() {
            apply_live(contexts, &mut current, &new, &mut reloaded.applied);
        }
        if let Some(tokens) = self.inner.admin_tokens.get()
            && new.admin.tokens != current.admin.tokens
        {
            tokens.replace(new.admin.tokens.clone());
            current.admin.tokens = new.admin.tokens.clone();
            reloaded.applied.push(format!(
                "[[admin.token]] entries ({})",
                new.admin.tokens.len()
            ));
        }

        reloaded.needs_restart.extend(needs_restart(&current, &new));
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
/// server behind `contexts`, updating `current` to match and saying what changed in
/// `applied`.
fn apply_live(
    contexts: &SharedContext,
    current: &mut Config,
    new: &Config,
    applied: &mut Vec<String>,
) {
    let context = contexts.current();
    if new.address_limits != current.address_limits {
        let limits = &new.address_limits;
        context.admission.update(limits.clone());
        context.accounts.set_registration_limit(
            limits.account_registrations_per_address,
            limits.exempt.clone(),
        );
        context
            .hub
            .set_room_creation_limit(limits.room_creations_per_address, limits.exempt.clone());
        current.address_limits = limits.clone();
        applied.push("[limits] per-address limits".into());
    }
    if new.operators != current.operators {
        context.operators.replace(new.operators.clone());
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
}
