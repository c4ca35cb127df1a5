//! Applying a changed configuration to a running server (`palaver serve` does it on SIGHUP).
//!
//! The caller reads and resolves the configuration again and hands it to
//! [`Reloader::reload`], which applies what can change while the server runs and logs the rest
//! as left unchanged until a restart. Today what applies live is the TLS certificate: it is read
//! from its files again even when their paths did not change, which is how a renewed
//! certificate is taken up; new handshakes get it and live connections keep theirs. A
//! certificate that cannot be used is refused with an error and the old one kept.
//!
//! To make another setting reloadable, give [`Reloader`] a handle to where it lives, apply it
//! in [`Reloader::reload`] next to the certificate, and take it off the list in
//! [`needs_restart`].

use std::sync::{Arc, Mutex};

use tracing::{error, info, warn};

use crate::config::Config;
use crate::lock;
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
            }),
        }
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
        // Settings that will change live when someone makes them reloadable (the MOTD,
        // limits, flood settings, operators, bans) are applied here, before the comparison
        // below, and their `current` value updated.

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
        (
            "[limits] (per address)",
            *address_limits != current.address_limits,
        ),
        ("[flood]", *flood != current.flood),
        ("[proxy]", *proxy != current.proxy),
        ("[http] listen", *http_listen != current.http_listen),
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
        assert_eq!(
            reloaded.needs_restart,
            ["listeners", "[irc]", "[store] (the database and retention)"]
        );
        assert_eq!(reloaded.applied, Vec::<String>::new());
        // Still not in force: said again on the next reload.
        assert_eq!(reloader.reload(changed).needs_restart.len(), 3);
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
