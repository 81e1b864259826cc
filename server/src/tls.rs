//! TLS served by gridsync itself: a certificate chain and its key from PEM
//! files, reloaded in place on SIGHUP, so a renewed certificate needs no
//! restart and drops no connection.
//!
//! The other way is a reverse proxy that terminates TLS (docs/OPERATIONS.md).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The certificate files and what was last read from them.
#[derive(Debug)]
pub struct Certificates {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

/// Why the certificate files could not be used (said with the file).
#[derive(Debug, thiserror::Error)]
#[error("{path}: {why}")]
pub struct TlsError {
    path: String,
    why: String,
}

fn error(path: &Path, why: impl std::fmt::Display) -> TlsError {
    TlsError {
        path: path.display().to_string(),
        why: why.to_string(),
    }
}

/// The one crypto provider of gridsync's TLS, server and device alike.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Certificates {
    /// Read a PEM certificate chain (leaf first) and its PEM private key.
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<Certificates>, TlsError> {
        let provider = provider();
        let current = read(cert, key, &provider)?;
        Ok(Arc::new(Certificates {
            cert: cert.to_owned(),
            key: key.to_owned(),
            provider,
            current: RwLock::new(Arc::new(current)),
        }))
    }

    /// Read the files again. On an error the served certificate stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = read(&self.cert, &self.key, &self.provider)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(fresh);
        Ok(())
    }

    /// The server's TLS settings (HTTP/1.1; TLS 1.2 and 1.3), taking the
    /// certificate as it is at each handshake.
    pub fn server_config(self: &Arc<Self>) -> rustls::ServerConfig {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default versions")
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config
    }
}

/// Answer every SIGHUP for as long as the server runs (`systemctl reload`):
/// the TLS certificate is read again, if one is served; a failed reload is
/// logged and the old certificate kept. Without TLS there is nothing to
/// reload, and the signal no longer stops the process.
pub async fn reload_on_hangup(certificates: Option<Arc<Certificates>>) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = signal(SignalKind::hangup())?;
    while hangups.recv().await.is_some() {
        let Some(certs) = &certificates else {
            tracing::info!("SIGHUP: nothing to reload (no TLS certificate is served)");
            continue;
        };
        match certs.reload() {
            Ok(()) => tracing::info!(cert = %certs.cert.display(), "TLS certificate reloaded"),
            Err(e) => tracing::error!(
                error = %e,
                "TLS certificate not reloaded; still serving the previous one"
            ),
        }
    }
    Ok(())
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

fn read(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| error(cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(cert, e))?;
    if chain.is_empty() {
        return Err(error(cert, "no PEM certificate in the file"));
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| error(key, e))?;
    CertifiedKey::from_der(chain, private, provider)
        .map_err(|e| error(key, format!("does not go with the certificate: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (c, k) = (
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
        );
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    }

    #[test]
    fn files_that_do_not_make_a_certificate_are_refused_with_their_path() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair(dir.path(), "a");
        let (_, other_key) = pair(dir.path(), "b");
        let missing = dir.path().join("missing.crt");
        let cases: [(&Path, &Path, &str); 4] = [
            (&missing, &key, "missing.crt"),
            (&key, &key, "no PEM certificate"),
            (&cert, &cert, "a.crt"),
            (&cert, &other_key, "does not go with the certificate"),
        ];
        for (c, k, says) in cases {
            let e = Certificates::load(c, k).unwrap_err().to_string();
            assert!(e.contains(says), "{c:?} {k:?}: {e}");
        }
        assert!(Certificates::load(&cert, &key).is_ok());
    }

    #[test]
    fn a_failed_reload_keeps_the_certificate_served() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair(dir.path(), "a");
        let certs = Certificates::load(&cert, &key).unwrap();
        let before = certs.current.read().unwrap().cert.clone();
        std::fs::write(&cert, "not a certificate").unwrap();
        assert!(certs.reload().is_err());
        assert_eq!(certs.current.read().unwrap().cert, before);
        let (c2, k2) = pair(dir.path(), "b");
        std::fs::rename(c2, &cert).unwrap();
        std::fs::rename(k2, &key).unwrap();
        certs.reload().unwrap();
        assert_ne!(certs.current.read().unwrap().cert, before);
    }
}
