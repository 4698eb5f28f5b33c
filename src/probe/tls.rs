//! What the client trusts and presents over TLS, from the files the settings name, and a TLS
//! failure in a user's words.
//!
//! Trust is the system's roots (on Linux `SSL_CERT_FILE` and `SSL_CERT_DIR` are read by
//! rustls-native-certs, behind reqwest's platform verifier) plus `ERRCONTRACT_CA_CERT`. There is
//! no switch that turns verification off: the keys would go to whoever answers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::probe::ClientError;

/// The PEM files of extra trust and of a client identity.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    /// `ERRCONTRACT_CA_CERT`: extra CAs, PEM.
    pub ca_cert: Option<PathBuf>,
    /// `ERRCONTRACT_CLIENT_CERT` and `ERRCONTRACT_CLIENT_KEY`, PEM.
    pub client_identity: Option<(PathBuf, PathBuf)>,
}

impl TlsFiles {
    /// The one TLS configuration of the run, for the client and the first connection alike:
    /// ring, the platform's verifier with the extra roots, the client identity, ALPN `h2` and
    /// `http/1.1`. A file that cannot be used is an error naming its variable.
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, ClientError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(
            self.roots()?,
            provider.clone(),
        )
        .map_err(|e| ClientError::Client(format!("cannot set up certificate verification: {e}")))?;
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Client(e.to_string()))?
            // The platform's own verifier, not an unverified one: the name is rustls's for any
            // verifier it did not build.
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier));
        let mut config = match self.identity()? {
            Some((chain, key, path)) => builder.with_client_auth_cert(chain, key).map_err(|e| {
                ClientError::file(
                    "ERRCONTRACT_CLIENT_KEY",
                    &path,
                    format!("the certificate and key cannot be used together ({e})"),
                )
            })?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// The extra roots, read and parsed; an unreadable or empty file is an error naming it.
    fn roots(&self) -> Result<Vec<CertificateDer<'static>>, ClientError> {
        let Some(path) = &self.ca_cert else {
            return Ok(Vec::new());
        };
        let pem = read("ERRCONTRACT_CA_CERT", path)?;
        certificates("ERRCONTRACT_CA_CERT", path, &pem)
    }

    /// The client's certificate chain and key, and the key's file.
    #[allow(clippy::type_complexity)]
    fn identity(
        &self,
    ) -> Result<
        Option<(
            Vec<CertificateDer<'static>>,
            PrivateKeyDer<'static>,
            PathBuf,
        )>,
        ClientError,
    > {
        let Some((cert, key)) = &self.client_identity else {
            return Ok(None);
        };
        let chain = certificates(
            "ERRCONTRACT_CLIENT_CERT",
            cert,
            &read("ERRCONTRACT_CLIENT_CERT", cert)?,
        )?;
        let key_der = PrivateKeyDer::from_pem_slice(&read("ERRCONTRACT_CLIENT_KEY", key)?)
            .map_err(|e| {
                ClientError::file(
                    "ERRCONTRACT_CLIENT_KEY",
                    key,
                    format!("holds no PEM private key ({e})"),
                )
            })?;
        Ok(Some((chain, key_der, key.clone())))
    }
}

/// Every certificate of a PEM file; none is an error naming the variable.
fn certificates(
    var: &'static str,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ClientError::file(var, path, format!("not a PEM certificate bundle ({e})")))?;
    if certs.is_empty() {
        return Err(ClientError::file(
            var,
            path,
            "holds no `-----BEGIN CERTIFICATE-----` block".into(),
        ));
    }
    Ok(certs)
}

fn read(var: &'static str, path: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|e| ClientError::file(var, path, format!("cannot be read ({e})")))
}

/// Why a TLS connection failed, in the words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsFailure {
    /// The server's certificate chain does not end at a trusted CA.
    #[error(
        "the target's certificate is signed by a CA this machine does not trust (unknown issuer)"
    )]
    UnknownIssuer,
    /// The server's certificate has expired.
    #[error("the target's certificate has expired")]
    Expired,
    /// The server's certificate is not valid yet.
    #[error("the target's certificate is not valid yet (check this machine's clock)")]
    NotYetValid,
    /// The server's certificate is for another host name.
    #[error("the target's certificate is for another host name than the base URL's")]
    WrongName,
    /// Another problem with the server's certificate.
    #[error("the target's certificate was refused: {0}")]
    BadCertificate(String),
    /// The server asked for a client certificate and none was given.
    #[error("the target demands a client certificate and none was given")]
    ClientCertDemanded,
    /// The server refused the client certificate given.
    #[error("the target refused the client certificate ({0})")]
    ClientCertRefused(String),
    /// What came back is not TLS: most likely a plain-HTTP port.
    #[error("the target does not speak TLS on this port (is it plain http://?)")]
    NotTls,
    /// The server ended the handshake with an alert.
    #[error("the target ended the TLS handshake with the alert {0}")]
    Alert(String),
    /// Any other TLS error.
    #[error("TLS failed: {0}")]
    Other(String),
}

impl TlsFailure {
    /// The failure a rustls error stands for; `client_cert` says whether one was presented
    /// (an alert about certificates then means ours was refused).
    pub fn of(e: &rustls::Error, client_cert: bool) -> TlsFailure {
        use rustls::{AlertDescription as A, CertificateError as C, Error as E};
        match e {
            E::InvalidCertificate(c) => match c {
                C::UnknownIssuer => TlsFailure::UnknownIssuer,
                C::Expired | C::ExpiredContext { .. } => TlsFailure::Expired,
                C::NotValidYet | C::NotValidYetContext { .. } => TlsFailure::NotYetValid,
                C::NotValidForName | C::NotValidForNameContext { .. } => TlsFailure::WrongName,
                other => TlsFailure::BadCertificate(format!("{other:?}")),
            },
            E::InvalidMessage(_) | E::InappropriateMessage { .. } => TlsFailure::NotTls,
            E::AlertReceived(A::CertificateRequired) => TlsFailure::ClientCertDemanded,
            E::AlertReceived(A::HandshakeFailure) if !client_cert => TlsFailure::ClientCertDemanded,
            E::AlertReceived(
                alert @ (A::BadCertificate
                | A::UnknownCA
                | A::CertificateUnknown
                | A::CertificateExpired
                | A::CertificateRevoked
                | A::UnsupportedCertificate
                | A::AccessDenied
                | A::DecryptError),
            ) if client_cert => TlsFailure::ClientCertRefused(format!("alert {alert:?}")),
            E::AlertReceived(alert) => TlsFailure::Alert(format!("{alert:?}")),
            other => TlsFailure::Other(other.to_string()),
        }
    }

    /// The TLS failure an error stands for, if any error down its chain is a rustls one.
    pub fn find(e: &(dyn std::error::Error + 'static), client_cert: bool) -> Option<TlsFailure> {
        let mut source = Some(e);
        while let Some(s) = source {
            if let Some(tls) = s.downcast_ref::<rustls::Error>() {
                return Some(TlsFailure::of(tls, client_cert));
            }
            source = super::cause(s);
        }
        None
    }

    /// What to set or change to fix it.
    pub fn help(&self) -> &'static str {
        match self {
            TlsFailure::UnknownIssuer => {
                "set ERRCONTRACT_CA_CERT to a PEM file of the CA that signed the target's certificate (or SSL_CERT_FILE to a bundle that holds it); verification is never turned off"
            }
            TlsFailure::Expired | TlsFailure::NotYetValid | TlsFailure::BadCertificate(_) => {
                "renew the target's certificate; verification is never turned off"
            }
            TlsFailure::WrongName => {
                "use the host name the certificate was issued for in ERRCONTRACT_BASE_URL, or reissue the certificate with this name"
            }
            TlsFailure::ClientCertDemanded => {
                "set ERRCONTRACT_CLIENT_CERT and ERRCONTRACT_CLIENT_KEY to the PEM files of a client certificate the target accepts"
            }
            TlsFailure::ClientCertRefused(_) => {
                "check ERRCONTRACT_CLIENT_CERT and ERRCONTRACT_CLIENT_KEY: the target does not accept that certificate (expired, or not signed by the CA it trusts)"
            }
            TlsFailure::NotTls => {
                "use http:// in ERRCONTRACT_BASE_URL if the target serves plain HTTP on this port, or the port that serves TLS"
            }
            TlsFailure::Alert(_) | TlsFailure::Other(_) => {
                "check the target's TLS set-up (protocol versions, ciphers); ERRCONTRACT_CA_CERT and ERRCONTRACT_CLIENT_CERT/_KEY set what errcontract trusts and presents"
            }
        }
    }
}
