//! TLS for the `ircs` and `texts` listeners (rustls, with the `ring` provider): the server's
//! certificate, swapped on reload while live connections keep the session they negotiated;
//! client certificates, asked for but never required; and the handshake, run inside each
//! connection's own task under a timeout.
//!
//! Client certificates are how users log in with SASL EXTERNAL: users make their own
//! (self-signed), so any chain is accepted and only its signature over the handshake is checked,
//! which proves the client holds the key. Who the certificate belongs to is decided by its
//! SHA-256 fingerprint, which an account lists (`NickServ CERT ADD`), never by its contents.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::config::TlsFiles;

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("a TLS listener needs a certificate and its key (--tls-cert, --tls-key)")]
    NoCertificate,
    #[error("cannot read the TLS certificate {path}: {message}")]
    Certificate { path: String, message: String },
    #[error("cannot read the TLS key {path}: {message}")]
    Key { path: String, message: String },
    #[error("the TLS key {key} does not belong to the certificate {certificate}: {message}")]
    Mismatch {
        certificate: String,
        key: String,
        message: String,
    },
}

/// The crypto of the whole tree: `ring` (see the workspace's Cargo.toml).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server's side of TLS: its current certificate and what accepts handshakes with it.
/// Cheap to clone: every TLS listener shares one.
#[derive(Clone)]
pub struct Tls {
    acceptor: TlsAcceptor,
    current: Arc<CurrentCertificate>,
    /// How long a client has for its handshake.
    handshake_timeout: Duration,
}

impl Tls {
    /// Reads `files` and builds the acceptor; fails with a message naming the file at fault.
    pub fn new(files: &TlsFiles, handshake_timeout: Duration) -> Result<Self, TlsError> {
        let provider = provider();
        let current = Arc::new(CurrentCertificate(RwLock::new(load(files, &provider)?)));
        let verifier = Arc::new(AnyClientCertificate {
            provider: provider.clone(),
        });
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(current.clone());
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            current,
            handshake_timeout,
        })
    }

    /// Reads `files` again and, if they hold a usable certificate and key, serves new
    /// handshakes with them; connections already made keep theirs. On an error nothing
    /// changes.
    pub fn reload(&self, files: &TlsFiles) -> Result<(), TlsError> {
        let loaded = load(files, &provider())?;
        *self
            .current
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = loaded;
        Ok(())
    }

    /// Runs the server's side of the handshake with `peer`, giving up after the handshake
    /// timeout or at shutdown. Failures are the client's business: logged at debug level.
    pub(crate) async fn handshake(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        shutdown: &CancellationToken,
    ) -> Option<TlsStream<TcpStream>> {
        let outcome = tokio::select! {
            () = shutdown.cancelled() => return None,
            outcome = tokio::time::timeout(self.handshake_timeout, self.acceptor.accept(stream)) => outcome,
        };
        match outcome {
            Ok(Ok(stream)) => Some(stream),
            Ok(Err(error)) => {
                debug!(%peer, %error, "TLS handshake failed");
                None
            }
            Err(_) => {
                debug!(%peer, "TLS handshake timed out");
                None
            }
        }
    }
}

/// The SHA-256 fingerprint, in lowercase hex, of the leaf certificate the client of `stream`
/// presented, if it presented one.
pub(crate) fn client_fingerprint(stream: &TlsStream<TcpStream>) -> Option<String> {
    let (_, connection) = stream.get_ref();
    let leaf = connection.peer_certificates()?.first()?;
    Some(fingerprint(leaf))
}

/// The SHA-256 fingerprint of a DER certificate, in lowercase hex (as `CERT ADD` takes it).
pub fn fingerprint(certificate: &[u8]) -> String {
    Sha256::digest(certificate)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A fingerprint as a user typed it: 64 hex digits, in any case, with or without `:` between
/// the bytes (as `openssl x509 -fingerprint -sha256` writes it); lowercase hex without
/// separators, as stored.
pub fn parse_fingerprint(text: &str) -> Option<String> {
    let hex: String = text
        .chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (hex.len() == 64 && hex.bytes().all(|byte| byte.is_ascii_hexdigit())).then_some(hex)
}

/// Reads a certificate chain and its key, and checks they belong together.
fn load(files: &TlsFiles, provider: &CryptoProvider) -> Result<Arc<CertifiedKey>, TlsError> {
    let shown = |path: &Path| path.display().to_string();
    let certificate_error = |message: String| TlsError::Certificate {
        path: shown(&files.certificate),
        message,
    };
    let chain = CertificateDer::pem_file_iter(&files.certificate)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .map_err(|error| certificate_error(error.to_string()))?;
    if chain.is_empty() {
        return Err(certificate_error("no certificate in it".into()));
    }
    let key_error = |message: String| TlsError::Key {
        path: shown(&files.key),
        message,
    };
    let key =
        PrivateKeyDer::from_pem_file(&files.key).map_err(|error| key_error(error.to_string()))?;
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|error| key_error(error.to_string()))?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified.keys_match().map_err(|error| TlsError::Mismatch {
        certificate: shown(&files.certificate),
        key: shown(&files.key),
        message: error.to_string(),
    })?;
    Ok(Arc::new(certified))
}

/// The certificate new handshakes get. Replaced whole by a reload (a write lock held for one
/// assignment); each handshake takes a reference to the one current then, which its
/// connection keeps.
#[derive(Debug)]
struct CurrentCertificate(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for CurrentCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.0
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clone(),
        )
    }
}

/// Asks every client for a certificate and takes any, or none: users' certificates are
/// self-signed, and what one proves is only that the client holds its key, which the
/// handshake signature checks. Accounts trust fingerprints, not issuers.
#[derive(Debug)]
struct AnyClientCertificate {
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for AnyClientCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            certificate,
            signature,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            certificate,
            signature,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
