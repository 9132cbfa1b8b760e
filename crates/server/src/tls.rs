//! HTTPS: loads a PEM certificate chain and its private key into a rustls server configuration
//! on the `ring` provider (no aws-lc, so no C toolchain beyond ring's own), offering HTTP/2 and
//! HTTP/1.1. It refuses, with a message naming the file and what to do, a file it cannot read,
//! one with no certificate or no key in it, and a key that does not belong to the certificate.
//! It never reloads the files: a renewed certificate takes a restart.

use std::path::Path;
use std::sync::Arc;

use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use crate::error::ServerError;

fn read(path: &Path) -> Result<Vec<u8>, ServerError> {
    std::fs::read(path).map_err(|source| ServerError::Io { action: "read", path: path.to_owned(), source })
}

/// The TLS configuration of `--tls-cert` (the server's certificate first, then its chain) and
/// `--tls-key` (PKCS#8, PKCS#1 or SEC1, unencrypted).
pub fn load(cert: &Path, key: &Path) -> Result<RustlsConfig, ServerError> {
    let cert_pem = read(cert)?;
    let key_pem = read(key)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem).collect::<Result<Vec<_>, _>>().map_err(|e| {
        ServerError::Invalid(format!(
            "--tls-cert {} is not a PEM certificate chain ({e}): pass the certificate file in PEM form",
            cert.display()
        ))
    })?;
    if chain.is_empty() {
        return Err(ServerError::Invalid(format!(
            "--tls-cert {} holds no certificate: pass the PEM file that starts with -----BEGIN CERTIFICATE-----",
            cert.display()
        )));
    }
    let private_key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        ServerError::Invalid(format!(
            "--tls-key {} holds no usable private key ({e}): pass the unencrypted PEM key (PKCS#8, PKCS#1 or SEC1) of the certificate",
            key.display()
        ))
    })?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Invalid(format!("the tls protocol versions cannot be set up ({e})")))?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|e| {
            ServerError::Invalid(format!(
                "--tls-key {} does not fit --tls-cert {} ({e}): pass the key the certificate was issued for",
                key.display(),
                cert.display()
            ))
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(RustlsConfig::from_config(Arc::new(config)))
}
