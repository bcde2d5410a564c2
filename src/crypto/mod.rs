//! The only module that touches key material: TLS keys and certificates, JWT public keys,
//! `age` identities and recipients, the audit log's signing key (`log_key`), and the
//! generation of dev material (`dev`).

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

mod at_rest;
mod dev;
mod jwks;
mod log_key;
mod trust;
mod verified;
pub use at_rest::{AT_REST_RELOAD, AtRestKey, KeyFile};
pub use dev::*;
pub use jwks::{AgencyKeys, NoKey, fresh_for, parse_jwks};
pub use log_key::{LogSigningKey, ed25519_public_key_ok, ed25519_verify, generate_log_key};
pub use trust::{AgencyTrust, handshake_refusal};
pub use verified::VerifiedTokens;

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Installs the ring provider as rustls's process default (idempotent).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Certificates from a PEM file; refuses a file with none.
pub fn load_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("{}: malformed certificate PEM: {e}", path.display()))?;
    if certs.is_empty() {
        bail!("{}: no certificate in the file", path.display());
    }
    Ok(certs)
}

/// A private key (PKCS#8, PKCS#1 or SEC1) from a PEM file.
pub fn load_private_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| anyhow!("{}: no usable private key in the file: {e}", path.display()))
}

/// The server's TLS configuration: TLS 1.3 and 1.2, client certificates required and
/// verified by `verifier` ([`AgencyTrust`]: issued by `client_ca` itself or an intermediate
/// named for the leaf's agency, for clientAuth, and not revoked by `client_crl`).
pub fn server_tls_config(
    cert: &Path,
    key: &Path,
    verifier: Arc<AgencyTrust>,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    install_crypto_provider();
    let chain = load_certs(cert).context("server.tls_cert")?;
    let key = load_private_key(key).context("server.tls_key")?;
    let mut config = rustls::ServerConfig::builder_with_protocol_versions(&[
        &rustls::version::TLS13,
        &rustls::version::TLS12,
    ])
    .with_client_cert_verifier(verifier)
    .with_single_cert(chain, key)
    .map_err(|e| {
        anyhow!(
            "{}: the key does not fit the certificate: {e}",
            cert.display()
        )
    })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A client TLS configuration presenting a client certificate (PEM text), trusting `ca_pem`.
pub fn client_tls_config(
    ca_pem: &[u8],
    cert_pem: &[u8],
    key_pem: &[u8],
) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(ca.context("malformed CA PEM")?)?;
    }
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .context("malformed client certificate PEM")?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).context("malformed client key PEM")?;
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A client TLS configuration that presents no certificate (for refusal tests and probes).
pub fn anonymous_client_tls_config(ca_pem: &[u8]) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(ca.context("malformed CA PEM")?)?;
    }
    Ok(Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// Every agency named by a certificate's SAN URIs `urn:broker:agency:<id>` (none when the
/// certificate has no such URI or cannot be parsed). A caller accepts exactly one.
pub fn certificate_agencies(cert: &CertificateDer<'_>) -> Vec<String> {
    use x509_parser::prelude::*;
    let Ok((_, parsed)) = X509Certificate::from_der(cert.as_ref()) else {
        return Vec::new();
    };
    let Ok(Some(san)) = parsed.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::URI(uri) => uri.strip_prefix("urn:broker:agency:").map(str::to_owned),
            _ => None,
        })
        .collect()
}

/// One JWT verification key of an agency, the one algorithm it verifies, and its `kid` (none
/// for `jwt_public_key`, the one key whose tokens' `kid` is not looked at).
#[derive(Clone)]
pub struct JwtKey {
    pub kid: Option<String>,
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

/// Loads a public key PEM and picks its algorithm: Ed25519 → EdDSA, P-256 → ES256,
/// RSA → RS256. Anything else is refused.
pub fn load_jwt_public_key(path: &Path) -> anyhow::Result<JwtKey> {
    use x509_parser::prelude::FromDer;
    let pem = read(path)?;
    let text = String::from_utf8_lossy(&pem);
    if text.contains("PRIVATE KEY") {
        bail!(
            "{}: holds a private key; the broker needs only the public key",
            path.display()
        );
    }
    if text.contains("BEGIN RSA PUBLIC KEY") {
        let key = DecodingKey::from_rsa_pem(&pem)
            .map_err(|e| anyhow!("{}: malformed RSA public key: {e}", path.display()))?;
        return Ok(JwtKey {
            kid: None,
            algorithm: Algorithm::RS256,
            key,
        });
    }
    let block =
        ::pem::parse(&pem).map_err(|e| anyhow!("{}: not a PEM public key: {e}", path.display()))?;
    if block.tag() != "PUBLIC KEY" {
        bail!(
            "{}: expected a PEM \"PUBLIC KEY\", found \"{}\"",
            path.display(),
            block.tag()
        );
    }
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(block.contents())
        .map_err(|e| anyhow!("{}: malformed public key: {e}", path.display()))?;
    let oid = spki.algorithm.algorithm.to_id_string();
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|o| o.to_id_string());
    let (algorithm, key) = match (oid.as_str(), curve.as_deref()) {
        ("1.3.101.112", _) => (Algorithm::EdDSA, DecodingKey::from_ed_pem(&pem)),
        ("1.2.840.10045.2.1", Some("1.2.840.10045.3.1.7")) => {
            (Algorithm::ES256, DecodingKey::from_ec_pem(&pem))
        }
        ("1.2.840.113549.1.1.1", _) => {
            use rsa::pkcs8::DecodePublicKey;
            use rsa::traits::PublicKeyParts;
            let text = std::str::from_utf8(&pem).unwrap_or_default();
            let bits = rsa::RsaPublicKey::from_public_key_pem(text)
                .map(|k| k.size() * 8)
                .map_err(|e| anyhow!("{}: malformed RSA public key: {e}", path.display()))?;
            if bits < 2048 {
                bail!(
                    "{}: an RSA key of {bits} bits is too weak; use 2048 bits or more",
                    path.display()
                );
            }
            (Algorithm::RS256, DecodingKey::from_rsa_pem(&pem))
        }
        _ => bail!(
            "{}: unsupported JWT key type (algorithm {oid}{}); use Ed25519, P-256 or RSA",
            path.display(),
            curve.map(|c| format!(", curve {c}")).unwrap_or_default()
        ),
    };
    let key = key.map_err(|e| anyhow!("{}: malformed public key: {e}", path.display()))?;
    Ok(JwtKey {
        kid: None,
        algorithm,
        key,
    })
}

/// A JWT signing key from a PEM private key (dev tokens and tests).
pub fn load_jwt_signing_key(path: &Path) -> anyhow::Result<(Algorithm, EncodingKey)> {
    let pem = read(path)?;
    signing_key_from_pem(&pem).with_context(|| format!("{}", path.display()))
}

/// Picks the algorithm of a PKCS#8 PEM private key from its algorithm identifier.
pub fn signing_key_from_pem(pem: &[u8]) -> anyhow::Result<(Algorithm, EncodingKey)> {
    use pkcs8::der::Decode;
    let text = std::str::from_utf8(pem).context("not a PEM file")?;
    let (label, der) = pkcs8::der::pem::decode_vec(text.trim().as_bytes())
        .map_err(|e| anyhow!("not a PEM private key: {e}"))?;
    if label == "RSA PRIVATE KEY" {
        return Ok((Algorithm::RS256, EncodingKey::from_rsa_pem(pem)?));
    }
    let info = pkcs8::PrivateKeyInfo::from_der(&der)
        .map_err(|e| anyhow!("not a PKCS#8 private key: {e}"))?;
    match info.algorithm.oid.to_string().as_str() {
        "1.3.101.112" => Ok((Algorithm::EdDSA, EncodingKey::from_ed_pem(pem)?)),
        "1.2.840.10045.2.1" => Ok((Algorithm::ES256, EncodingKey::from_ec_pem(pem)?)),
        "1.2.840.113549.1.1.1" => Ok((Algorithm::RS256, EncodingKey::from_rsa_pem(pem)?)),
        other => bail!("unsupported private key algorithm {other}"),
    }
}

/// Reads an `age-keygen` style identity file (comments, then `AGE-SECRET-KEY-1...`).
pub fn load_age_identity(path: &Path) -> anyhow::Result<age::x25519::Identity> {
    let text = String::from_utf8(read(path)?)
        .map_err(|_| anyhow!("{}: not a text age identity file", path.display()))?;
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .ok_or_else(|| anyhow!("{}: no AGE-SECRET-KEY line", path.display()))?;
    age::x25519::Identity::from_str(line)
        .map_err(|_| anyhow!("{}: malformed age identity", path.display()))
}

/// Parses an `age1...` X25519 recipient.
pub fn parse_age_recipient(text: &str) -> anyhow::Result<age::x25519::Recipient> {
    age::x25519::Recipient::from_str(text.trim())
        .map_err(|e| anyhow!("malformed age recipient \"{}\": {e}", text.trim()))
}

/// Encrypts to a recipient, ASCII-armoured, readable by `age -d -i key.txt`.
pub fn encrypt_armored(
    recipient: &age::x25519::Recipient,
    plaintext: &[u8],
) -> anyhow::Result<String> {
    age::encrypt_and_armor(recipient, plaintext).map_err(|e| anyhow!("encrypting a packet: {e}"))
}

/// Decrypts an armoured or binary `age` file with an identity.
pub fn decrypt_with(
    identity: &age::x25519::Identity,
    ciphertext: &[u8],
) -> anyhow::Result<Vec<u8>> {
    age::decrypt(identity, ciphertext).map_err(|e| anyhow!("decrypting: {e}"))
}

/// SHA-256 as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
