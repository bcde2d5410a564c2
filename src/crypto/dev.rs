//! Generation of dev and test material: a CA and the certificates it issues, JWT key pairs,
//! `age` identities, and secrets written with owner-only permissions.

use std::io::Write;
use std::path::Path;

use age::secrecy::ExposeSecret;
use anyhow::Context;

/// A CA that can issue server and agency client certificates.
pub struct DevCa {
    pub cert_pem: String,
    pub key_pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    /// The certificates between this CA and the root (PEM), sent after each leaf it issues:
    /// empty for a root, the intermediate's own certificate for an intermediate.
    chain_pem: String,
}

/// The extended key usages a client certificate carries (tests check each is judged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    ClientAuth,
    ServerAuthOnly,
    /// No extended key usage extension at all.
    NoExtension,
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
            chain_pem: String::new(),
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
            chain_pem: String::new(),
        })
    }

    /// An intermediate CA issued by this one, naming `agency` in a SAN URI (or none), with a
    /// path length constraint of `pathlen` (or none); its leaves carry it in their chain.
    pub fn intermediate(
        &self,
        name: &str,
        agency: Option<&str>,
        pathlen: Option<u8>,
    ) -> anyhow::Result<DevCa> {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(match pathlen {
            Some(n) => BasicConstraints::Constrained(n),
            None => BasicConstraints::Unconstrained,
        });
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        if let Some(agency) = agency {
            params.subject_alt_names.push(rcgen::SanType::URI(
                format!("urn:broker:agency:{agency}").try_into()?,
            ));
        }
        let cert = params.signed_by(&key, &self.issuer)?;
        let key_pem = key.serialize_pem();
        Ok(DevCa {
            cert_pem: cert.pem(),
            key_pem,
            issuer: rcgen::Issuer::new(params, key),
            chain_pem: format!("{}{}", cert.pem(), self.chain_pem),
        })
    }

    /// A certificate revocation list of this CA revoking `revoked` (certificates, PEM), PEM.
    pub fn revocation_list(&self, revoked: &[&str]) -> anyhow::Result<String> {
        use rcgen::{
            CertificateRevocationListParams, KeyIdMethod, RevocationReason, RevokedCertParams,
            SerialNumber, date_time_ymd,
        };
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        use x509_parser::prelude::FromDer;
        let mut revoked_certs = Vec::new();
        for pem in revoked {
            let der = CertificateDer::from_pem_slice(pem.as_bytes())
                .context("a revoked certificate's PEM")?;
            let (_, parsed) = x509_parser::certificate::X509Certificate::from_der(der.as_ref())
                .map_err(|e| anyhow::anyhow!("a revoked certificate: {e}"))?;
            revoked_certs.push(RevokedCertParams {
                serial_number: SerialNumber::from_slice(parsed.raw_serial()),
                revocation_time: date_time_ymd(2024, 1, 1),
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            });
        }
        let params = CertificateRevocationListParams {
            this_update: date_time_ymd(2024, 1, 1),
            next_update: date_time_ymd(2099, 1, 1),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&self.issuer)?.pem()?)
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

    /// A client certificate naming `agency` with the extended key usages `usage`.
    pub fn client_cert_for(
        &self,
        common_name: &str,
        agency: &str,
        usage: Usage,
    ) -> anyhow::Result<IssuedCert> {
        self.leaf(common_name, &[agency], usage)
    }

    /// A client certificate with one `urn:broker:agency:<id>` SAN URI per entry of `agencies`
    /// (tests use several to check that such a certificate is refused).
    pub fn client_cert_naming(
        &self,
        common_name: &str,
        agencies: &[&str],
    ) -> anyhow::Result<IssuedCert> {
        self.leaf(common_name, agencies, Usage::ClientAuth)
    }

    fn leaf(
        &self,
        common_name: &str,
        agencies: &[&str],
        usage: Usage,
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
        params.extended_key_usages = match usage {
            Usage::ClientAuth => vec![ExtendedKeyUsagePurpose::ClientAuth],
            Usage::ServerAuthOnly => vec![ExtendedKeyUsagePurpose::ServerAuth],
            Usage::NoExtension => Vec::new(),
        };
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCert {
            cert_pem: format!("{}{}", cert.pem(), self.chain_pem),
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
pub fn write_secret(path: &Path, contents: impl AsRef<[u8]>) -> anyhow::Result<()> {
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
    file.write_all(contents.as_ref())?;
    Ok(())
}

/// The password of the dev world's `.p12` files (test material: the key files beside them are
/// not protected at all).
pub const DEV_P12_PASSWORD: &str = "dev";

/// A PKCS#12 file holding a client certificate, its private key (PKCS#8 PEM) and the CA that
/// issued it, for importing into a browser or a keychain: PBES2 with AES-256 and an
/// HMAC-SHA-256 MAC, which current browsers and `openssl pkcs12` read.
pub fn pkcs12(
    name: &str,
    cert_pem: &str,
    key_pem: &str,
    ca_pem: &str,
    password: &str,
) -> anyhow::Result<Vec<u8>> {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
    use sha2::Digest;
    let cert = CertificateDer::from_pem_slice(cert_pem.as_bytes()).context("the certificate")?;
    let ca = CertificateDer::from_pem_slice(ca_pem.as_bytes()).context("the CA certificate")?;
    let key = PrivatePkcs8KeyDer::from_pem_slice(key_pem.as_bytes())
        .context("the private key (PKCS#8 PEM)")?;
    let p12 = |e: p12_keystore::error::Error| anyhow::anyhow!("writing a PKCS#12 file: {e}");
    let chain = PrivateKeyChain::new(
        // the local key id ties the key to its certificate; a digest of the certificate, as
        // openssl makes it
        sha2::Sha256::digest(cert.as_ref())[..20].to_vec(),
        PrivateKey::from_der(key.secret_pkcs8_der()).map_err(p12)?,
        [
            Certificate::from_der(cert.as_ref()).map_err(p12)?,
            Certificate::from_der(ca.as_ref()).map_err(p12)?,
        ],
    );
    let mut store = KeyStore::new();
    store.add_entry(name, KeyStoreEntry::PrivateKeyChain(chain));
    store.writer(password).write().map_err(p12)
}
