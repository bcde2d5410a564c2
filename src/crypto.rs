//! The only module that touches key material: TLS keys and certificates, JWT public keys,
//! `age` identities and recipients, and the generation of dev material.

use std::io::Write;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use age::secrecy::ExposeSecret;
use anyhow::{Context, anyhow, bail};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

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
/// verified against `client_ca`.
pub fn server_tls_config(
    cert: &Path,
    key: &Path,
    client_ca: &Path,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    install_crypto_provider();
    let chain = load_certs(cert).context("server.tls_cert")?;
    let key = load_private_key(key).context("server.tls_key")?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in load_certs(client_ca).context("server.client_ca")? {
        roots
            .add(ca)
            .map_err(|e| anyhow!("{}: not a usable CA certificate: {e}", client_ca.display()))?;
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
        .build()
        .context("building the client certificate verifier")?;
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

/// An agency's JWT verification key and the one algorithm it verifies.
#[derive(Clone)]
pub struct JwtKey {
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
    Ok(JwtKey { algorithm, key })
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

/// The broker's at-rest `age` identity: record content and names are encrypted to it.
pub struct AtRestKey {
    identity: age::x25519::Identity,
    recipient: age::x25519::Recipient,
}

impl AtRestKey {
    pub fn load(path: &Path) -> anyhow::Result<AtRestKey> {
        let identity = load_age_identity(path)?;
        let recipient = identity.to_public();
        Ok(AtRestKey {
            identity,
            recipient,
        })
    }

    pub fn encrypt(&self, plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
        age::encrypt(&self.recipient, plaintext).map_err(|e| anyhow!("encrypting at rest: {e}"))
    }

    pub fn decrypt(&self, ciphertext: &[u8]) -> anyhow::Result<Vec<u8>> {
        age::decrypt(&self.identity, ciphertext).map_err(|e| anyhow!("decrypting at rest: {e}"))
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

// ---- generation of dev and test material ------------------------------------------------

/// A CA that can issue server and agency client certificates.
pub struct DevCa {
    pub cert_pem: String,
    pub key_pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

/// A certificate and its private key, PEM.
pub struct IssuedCert {
    pub cert_pem: String,
    pub key_pem: String,
}

impl DevCa {
    pub fn generate(name: &str) -> anyhow::Result<DevCa> {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key)?;
        let key_pem = key.serialize_pem();
        Ok(DevCa {
            cert_pem: cert.pem(),
            key_pem,
            issuer: rcgen::Issuer::new(params, key),
        })
    }

    /// An existing CA from its certificate and key (PEM), e.g. the dev world's `ca.pem`/`ca.key`.
    pub fn load(cert_pem: &str, key_pem: &str) -> anyhow::Result<DevCa> {
        let key = rcgen::KeyPair::from_pem(key_pem)?;
        let issuer = rcgen::Issuer::from_ca_cert_pem(cert_pem, key)?;
        Ok(DevCa {
            cert_pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
            issuer,
        })
    }

    /// A server certificate for the given DNS names and IP addresses.
    pub fn server_cert(&self, names: &[&str]) -> anyhow::Result<IssuedCert> {
        use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair};
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
        params.distinguished_name.push(DnType::CommonName, names[0]);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// A client certificate naming `urn:broker:agency:<agency>` (or no SAN URI at all).
    pub fn client_cert(
        &self,
        common_name: &str,
        agency: Option<&str>,
    ) -> anyhow::Result<IssuedCert> {
        self.client_cert_naming(common_name, agency.as_slice())
    }

    /// A client certificate with one `urn:broker:agency:<id>` SAN URI per entry of `agencies`
    /// (tests use several to check that such a certificate is refused).
    pub fn client_cert_naming(
        &self,
        common_name: &str,
        agencies: &[&str],
    ) -> anyhow::Result<IssuedCert> {
        use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, SanType};
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        for agency in agencies {
            params.subject_alt_names.push(SanType::URI(
                format!("urn:broker:agency:{agency}").try_into()?,
            ));
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// The JWT key types the broker accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtKeyType {
    Ed25519,
    P256,
    Rsa2048,
}

/// A JWT key pair as (private PEM, public PEM).
pub fn generate_jwt_keypair(kind: JwtKeyType) -> anyhow::Result<(String, String)> {
    match kind {
        JwtKeyType::Ed25519 => {
            // PKCS#8 v1 (RFC 8410 section 7: the seed alone), which every JWT library reads;
            // the v2 form with the public key appended is refused by OpenSSL and PyJWT.
            use ed25519_dalek::pkcs8::{EncodePublicKey, spki::der::pem::LineEnding};
            use zeroize::Zeroize;
            let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
            const PREFIX: [u8; 16] = [
                0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
                0x04, 0x20,
            ];
            let mut der = PREFIX.to_vec();
            der.extend_from_slice(key.as_bytes());
            let private = ::pem::encode(&::pem::Pem::new("PRIVATE KEY", der.clone()));
            der.zeroize();
            Ok((
                private,
                key.verifying_key().to_public_key_pem(LineEnding::LF)?,
            ))
        }
        JwtKeyType::P256 => {
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
            Ok((key.serialize_pem(), key.public_key_pem()))
        }
        JwtKeyType::Rsa2048 => {
            use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
            let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)?;
            let public = private.to_public_key();
            Ok((
                private.to_pkcs8_pem(LineEnding::LF)?.to_string(),
                public.to_public_key_pem(LineEnding::LF)?,
            ))
        }
    }
}

/// A new `age` identity as (file text in `age-keygen` format, `age1...` recipient).
pub fn generate_age_identity() -> (String, String) {
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let secret = identity.to_string();
    let text = format!(
        "# created: {}\n# public key: {recipient}\n{}\n",
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        secret.expose_secret()
    );
    (text, recipient)
}

/// Writes a secret file readable by its owner only.
pub fn write_secret(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}
