//! TLS to the server (`palaver connect --tls`): the client configuration built once from what
//! to trust, and a [`Dial`] that opens TCP and then runs the handshake over it.
//!
//! What to trust is the user's choice ([`Trust`]): the system's certificate authorities (the
//! default), the certificates of a file (`--ca`, such as `palaver gen-cert`'s), or, for
//! testing only, anything (`--insecure`).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

use super::transport::{ByteStream, CONNECT_TIMEOUT, Dial, Dialing, TcpDial};
use crate::{ClientError, Wait};

/// Which server certificates to accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Those the operating system's certificate authorities vouch for.
    System,
    /// Those the certificates in this PEM file vouch for (or are).
    Certificates(PathBuf),
    /// Any certificate at all: no protection against anyone on the way. Testing only.
    Anything,
}

/// How to speak TLS to the server: the client configuration and the name the server's
/// certificate must carry. Built once, before the first connection.
#[derive(Debug, Clone)]
pub struct TlsOptions {
    pub server_name: ServerName<'static>,
    pub config: Arc<ClientConfig>,
}

/// Two options are the same if they share one configuration.
impl PartialEq for TlsOptions {
    fn eq(&self, other: &Self) -> bool {
        self.server_name == other.server_name && Arc::ptr_eq(&self.config, &other.config)
    }
}

impl Eq for TlsOptions {}

impl TlsOptions {
    /// TLS to `host` (a name or an IP address), trusting what `trust` says.
    pub fn new(host: &str, trust: &Trust) -> Result<Self, ClientError> {
        let setup = |why: String| ClientError::TlsSetup(why);
        let server_name = ServerName::try_from(host.to_owned())
            .map_err(|_| setup(format!("{host} is not a host name or an IP address")))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions");
        let config = match trust {
            Trust::Anything => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyServerCertificate { provider }))
                .with_no_client_auth(),
            Trust::System => {
                let mut roots = RootCertStore::empty();
                let found = rustls_native_certs::load_native_certs();
                for error in &found.errors {
                    tracing::debug!(%error, "a system certificate could not be read");
                }
                let (added, _ignored) = roots.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err(setup(
                        "no trusted certificate authorities found on this system (install \
                         ca-certificates, or give --ca FILE)"
                            .into(),
                    ));
                }
                builder.with_root_certificates(roots).with_no_client_auth()
            }
            Trust::Certificates(path) => {
                let certificates = CertificateDer::pem_file_iter(path)
                    .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
                    .map_err(|error| setup(format!("cannot read {}: {error}", path.display())))?;
                let mut roots = RootCertStore::empty();
                let (added, _ignored) = roots.add_parsable_certificates(certificates);
                if added == 0 {
                    return Err(setup(format!("no certificate in {}", path.display())));
                }
                builder.with_root_certificates(roots).with_no_client_auth()
            }
        };
        Ok(Self {
            server_name,
            config: Arc::new(config),
        })
    }
}

/// TCP to `host:port`, then TLS over it.
pub struct TlsDial {
    tcp: TcpDial,
    options: TlsOptions,
}

impl TlsDial {
    pub fn new(server: &str, options: TlsOptions) -> Self {
        Self {
            tcp: TcpDial::new(server),
            options,
        }
    }
}

impl Dial for TlsDial {
    fn dial(&self) -> Dialing {
        let tcp = self.tcp.dial();
        let connector = TlsConnector::from(self.options.config.clone());
        let server_name = self.options.server_name.clone();
        Box::pin(async move {
            let stream = tcp.await?;
            match timeout(CONNECT_TIMEOUT, connector.connect(server_name, stream)).await {
                Ok(Ok(stream)) => Ok(Box::new(stream) as Box<dyn ByteStream>),
                Ok(Err(source)) => Err(ClientError::Tls(source)),
                Err(_) => Err(ClientError::Timeout(Wait::Connecting)),
            }
        })
    }
}

/// Accepts any server certificate (`--insecure`), checking only that the server holds its
/// key.
#[derive(Debug)]
struct AnyServerCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyServerCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
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
