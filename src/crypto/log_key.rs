//! The Ed25519 key that signs the audit log's checkpoints (`[audit] log_key`), and the
//! Ed25519 verification an agency's copy of its public half needs. The note format around the
//! signatures is `audit::note`'s; only the key and the signing live here.

use std::path::Path;

use anyhow::{anyhow, bail};
use ed25519_dalek::Signer;
use ed25519_dalek::pkcs8::DecodePrivateKey;

use super::read;

/// The log's signing key. ed25519-dalek wipes it when it is dropped; it has no `Debug` that
/// prints it (only its public half).
pub struct LogSigningKey(ed25519_dalek::SigningKey);

impl std::fmt::Debug for LogSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSigningKey")
            .field("public", &hex::encode(self.public_key()))
            .finish_non_exhaustive()
    }
}

impl LogSigningKey {
    /// Reads a PKCS#8 PEM Ed25519 private key; refuses a missing file, a file that is not PEM,
    /// and a key of another algorithm, naming the file.
    pub fn load(path: &Path) -> anyhow::Result<LogSigningKey> {
        let pem = read(path)?;
        Self::from_pem(&pem).map_err(|e| anyhow!("{}: {e}", path.display()))
    }

    /// The key in PKCS#8 PEM text (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pem(pem: &[u8]) -> anyhow::Result<LogSigningKey> {
        use pkcs8::der::Decode;
        let text = std::str::from_utf8(pem).map_err(|_| anyhow!("not a PEM file"))?;
        let (label, der) = pkcs8::der::pem::decode_vec(text.trim().as_bytes())
            .map_err(|e| anyhow!("not a PEM private key: {e}"))?;
        if label != "PRIVATE KEY" {
            bail!("a \"{label}\" PEM block, not a PKCS#8 Ed25519 private key");
        }
        let info = pkcs8::PrivateKeyInfo::from_der(&der)
            .map_err(|e| anyhow!("not a PKCS#8 private key: {e}"))?;
        let oid = info.algorithm.oid.to_string();
        if oid != "1.3.101.112" {
            bail!("a private key of algorithm {oid}, not Ed25519 (1.3.101.112)");
        }
        let key = ed25519_dalek::SigningKey::from_pkcs8_der(&der)
            .map_err(|e| anyhow!("a malformed Ed25519 private key: {e}"))?;
        Ok(LogSigningKey(key))
    }

    /// The 32-byte public key (RFC 8032).
    pub fn public_key(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    /// The 64-byte Ed25519 signature of `message` (RFC 8032, deterministic).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }
}

/// A new log key as PKCS#8 v1 PEM (`broker dev-init`; the form OpenSSL and Python read).
pub fn generate_log_key() -> anyhow::Result<String> {
    Ok(super::generate_jwt_keypair(super::JwtKeyType::Ed25519)?.0)
}

/// Is `public` a usable Ed25519 public key (a point of the curve that is not of small order)?
pub fn ed25519_public_key_ok(public: &[u8; 32]) -> bool {
    ed25519_dalek::VerifyingKey::from_bytes(public).is_ok_and(|k| !k.is_weak())
}

/// Does `signature` verify `message` under `public`? Strict RFC 8032 verification (no
/// small-order key, canonical signature).
pub fn ed25519_verify(public: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(public) else {
        return false;
    };
    key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_loads_signs_and_verifies() {
        let pem = generate_log_key().unwrap();
        let key = LogSigningKey::from_pem(pem.as_bytes()).unwrap();
        let sig = key.sign(b"a body\n");
        assert!(ed25519_verify(&key.public_key(), b"a body\n", &sig));
        assert!(!ed25519_verify(&key.public_key(), b"a body!\n", &sig));
        assert!(ed25519_public_key_ok(&key.public_key()));
        let shown = format!("{key:?}");
        assert!(shown.contains(&hex::encode(key.public_key())), "{shown}");
        assert!(!shown.contains(&hex::encode(key.0.as_bytes())), "{shown}");
    }

    #[test]
    fn a_key_of_another_algorithm_or_no_key_is_refused_by_what_it_is() {
        let p256 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let e = LogSigningKey::from_pem(p256.serialize_pem().as_bytes()).unwrap_err();
        assert!(e.to_string().contains("not Ed25519"), "{e}");
        let e = LogSigningKey::from_pem(b"hello").unwrap_err();
        assert!(e.to_string().contains("not a PEM private key"), "{e}");
        let public = super::super::generate_jwt_keypair(super::super::JwtKeyType::Ed25519)
            .unwrap()
            .1;
        let e = LogSigningKey::from_pem(public.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("PUBLIC KEY"), "{e}");
    }
}
