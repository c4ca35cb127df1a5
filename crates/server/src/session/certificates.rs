//! The client certificates an account logs in with by SASL EXTERNAL, managed the same way in
//! both protocols (IRC `NickServ CERT ADD|DEL|LIST`, text `/cert add|del|list`): the rules
//! and the wording are here, each session only says the lines.

use crate::store::{CertificateAdded, MAX_CERTIFICATES, Store};
use crate::tls::parse_fingerprint;

/// What a user asked to do with its account's certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateCommand {
    /// Add this fingerprint, or when `None` the certificate of the user's own connection.
    Add(Option<String>),
    Remove(String),
    List,
}

impl CertificateCommand {
    /// The command in `words` (`ADD [fingerprint]`, `DEL fingerprint`, `LIST`, any case).
    pub fn parse(words: &[&str]) -> Option<Self> {
        let is = |word: &str, name: &str| word.eq_ignore_ascii_case(name);
        match words {
            [add] if is(add, "ADD") => Some(Self::Add(None)),
            [add, fingerprint] if is(add, "ADD") => Some(Self::Add(Some((*fingerprint).into()))),
            [del, fingerprint] if is(del, "DEL") => Some(Self::Remove((*fingerprint).into())),
            [list] if is(list, "LIST") => Some(Self::List),
            _ => None,
        }
    }
}

/// Runs `command` for `account` (logged in on a connection that presented the certificate
/// `connection_fingerprint`, if any) and returns the lines that answer it.
pub async fn run(
    store: &Store,
    account: &str,
    connection_fingerprint: Option<&str>,
    command: CertificateCommand,
) -> Vec<String> {
    let text = match command {
        CertificateCommand::Add(given) => {
            let fingerprint = match &given {
                Some(given) => parse_fingerprint(given),
                None => connection_fingerprint.map(str::to_owned),
            };
            let Some(fingerprint) = fingerprint else {
                return vec![if given.is_some() {
                    "A fingerprint is a SHA-256 digest: 64 hex digits.".into()
                } else {
                    "You presented no TLS client certificate: give its SHA-256 fingerprint \
                     (64 hex digits)."
                        .into()
                }];
            };
            match store.add_certificate(account, &fingerprint).await {
                Ok(CertificateAdded::Added) => {
                    format!("Certificate {fingerprint} added to {account}.")
                }
                Ok(CertificateAdded::AlreadyListed) => {
                    format!("{account} already lists certificate {fingerprint}.")
                }
                Ok(CertificateAdded::OtherAccount) => {
                    format!("Certificate {fingerprint} belongs to another account.")
                }
                Ok(CertificateAdded::TooMany) => format!(
                    "{account} lists {MAX_CERTIFICATES} certificates already: remove one first."
                ),
                Ok(CertificateAdded::NoAccount) => format!("No account {account}."),
                Err(error) => format!("The certificate could not be added ({error})."),
            }
        }
        CertificateCommand::Remove(given) => {
            let fingerprint = parse_fingerprint(&given).unwrap_or(given);
            match store.remove_certificate(account, &fingerprint).await {
                Ok(true) => format!("Certificate {fingerprint} removed from {account}."),
                Ok(false) => format!("{account} does not list certificate {fingerprint}."),
                Err(error) => format!("The certificate could not be removed ({error})."),
            }
        }
        CertificateCommand::List => match store.certificates(account).await {
            Ok(listed) if listed.is_empty() => format!("{account} lists no certificates."),
            Ok(mut listed) => {
                let end = format!("End of {account}'s certificates ({}).", listed.len());
                listed.push(end);
                return listed;
            }
            Err(error) => format!("The certificates could not be listed ({error})."),
        },
    };
    vec![text]
}
