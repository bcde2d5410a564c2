//! Checkpoints of the audit log as signed notes: the size of the Merkle tree over the chain and
//! its root (C2SP tlog-checkpoint), signed with the log's Ed25519 key (C2SP signed-note), so an
//! agency holding the log's verifier key (C2SP vkey) can check, without the broker, that an
//! export or a proof is the log the broker vouched for. Pure text and bytes: the key and the
//! signing itself are `crypto`'s ([`LogSigningKey`]); nothing here reads the database.
//!
//! A checkpoint's note, byte for byte (the root is standard base64 with padding):
//!
//! ```text
//! <origin>\n<size in decimal>\n<base64 of the 32-byte root>\n
//! \n
//! — <key name> <base64(key id (4 bytes) || Ed25519 signature of the body (64 bytes))>\n
//! ```
//!
//! The key name is the origin; the key id is the first four bytes of
//! `SHA-256(key name || 0x0A || 0x01 || public key)`.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

use crate::crypto::{LogSigningKey, ed25519_public_key_ok, ed25519_verify};

/// The signed-note signature type of Ed25519.
const ED25519: u8 = 0x01;

/// What starts a signature line: an em dash (U+2014) and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// More signature lines than this and the note is refused unread (the spec asks verifiers to
/// accept at least 16).
const MAX_SIGNATURES: usize = 100;

/// A checkpoint: the log named `origin` had `size` entries, and the Merkle tree over them has
/// this `root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: [u8; 32],
}

impl Checkpoint {
    /// The text that is signed: origin, size and root, each on its own line.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Reads a body as [`Checkpoint::body`] writes it, and nothing else: exactly three lines,
    /// a size in decimal without leading zeros, a root that is the standard base64 of 32 bytes.
    /// Extension lines, which this log never writes, are refused.
    pub fn parse(body: &str) -> Result<Checkpoint, NoteError> {
        let bad = |m: &str| NoteError::Checkpoint(m.to_owned());
        let lines: Vec<&str> = body
            .strip_suffix('\n')
            .ok_or_else(|| bad("the body does not end with a newline"))?
            .split('\n')
            .collect();
        let [origin, size, root] = lines[..] else {
            return Err(if lines.len() > 3 {
                bad("it has lines after the root (extension lines), which this log never writes")
            } else {
                bad("it needs three lines: the origin, the size and the root")
            });
        };
        if origin.is_empty() {
            return Err(bad("the origin line is empty"));
        }
        if size.is_empty() || !size.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("the size is not a decimal number"));
        }
        if size.len() > 1 && size.starts_with('0') {
            return Err(bad("the size has a leading zero"));
        }
        let size = size
            .parse()
            .map_err(|_| bad("the size is too large for 64 bits"))?;
        let root: [u8; 32] = B64
            .decode(root)
            .ok()
            .filter(|bytes| B64.encode(bytes) == root)
            .ok_or_else(|| bad("the root is not standard base64"))?
            .try_into()
            .map_err(|_| bad("the root is not 32 bytes"))?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

/// Why a note or a verifier key was refused, in words an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("the verifier key is malformed: {0}")]
    Key(String),
    #[error("the note is malformed: {0}")]
    Note(String),
    #[error("the note has no signature by {name} with key id {key_id}")]
    NotSigned { name: String, key_id: String },
    #[error(
        "the signature by {name} does not verify: the note was changed after it was signed, \
         or signed by another key"
    )]
    BadSignature { name: String },
    #[error("the checkpoint is malformed: {0}")]
    Checkpoint(String),
    #[error("the checkpoint is of the log \"{found}\", not of \"{expected}\"")]
    Origin { found: String, expected: String },
}

/// Is `name` a key name: not empty, no space of any kind, no `+`, no control character?
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the key name is empty".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || *c == '+')
    {
        return Err(format!("the key name holds {c:?}"));
    }
    Ok(())
}

/// The key id of an Ed25519 key: `SHA-256(name || 0x0A || 0x01 || public)[..4]`.
pub fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ED25519]);
    h.update(public);
    let digest = h.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The log's signing key with its name (the origin of its checkpoints). Its `Debug` shows the
/// verifier key only.
pub struct LogKey {
    key: LogSigningKey,
    verifier: Verifier,
}

impl std::fmt::Debug for LogKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogKey")
            .field("vkey", &self.verifier.vkey())
            .finish_non_exhaustive()
    }
}

impl LogKey {
    /// The PKCS#8 PEM Ed25519 key at `path`, named `name`; the error names the file.
    pub fn load(path: &Path, name: &str) -> anyhow::Result<LogKey> {
        Self::new(LogSigningKey::load(path)?, name)
    }

    /// `key` named `name` (a valid key name: no spaces, no `+`).
    pub fn new(key: LogSigningKey, name: &str) -> anyhow::Result<LogKey> {
        let verifier = Verifier::new(name, key.public_key()).map_err(anyhow::Error::new)?;
        Ok(LogKey { key, verifier })
    }

    /// The key name, which is the origin of the log's checkpoints.
    pub fn name(&self) -> &str {
        &self.verifier.name
    }

    /// The checkpoint of this log at `size` with `root`.
    pub fn checkpoint(&self, size: u64, root: [u8; 32]) -> Checkpoint {
        Checkpoint {
            origin: self.name().to_owned(),
            size,
            root,
        }
    }

    /// The signed note of `checkpoint`. Its origin should be [`LogKey::name`]: a verifier
    /// refuses a checkpoint of another origin.
    pub fn sign(&self, checkpoint: &Checkpoint) -> String {
        self.sign_text(&checkpoint.body())
    }

    /// `text` (ending in a newline) as a signed note with this key's one signature.
    pub fn sign_text(&self, text: &str) -> String {
        let mut blob = Vec::with_capacity(68);
        blob.extend_from_slice(&self.verifier.key_id);
        blob.extend_from_slice(&self.key.sign(text.as_bytes()));
        format!(
            "{text}\n{SIGNATURE_PREFIX}{} {}\n",
            self.name(),
            B64.encode(blob)
        )
    }

    /// The public half, which agencies keep to check checkpoints.
    pub fn verifier(&self) -> Verifier {
        self.verifier.clone()
    }
}

/// A log's public key with its name: what an agency holds to open the log's notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    key_id: [u8; 4],
    public: [u8; 32],
}

impl Verifier {
    /// The verifier of the Ed25519 key `public` named `name`.
    pub fn new(name: &str, public: [u8; 32]) -> Result<Verifier, NoteError> {
        check_name(name).map_err(NoteError::Key)?;
        if !ed25519_public_key_ok(&public) {
            return Err(NoteError::Key("not a usable Ed25519 public key".into()));
        }
        Ok(Verifier {
            name: name.to_owned(),
            key_id: key_id(name, &public),
            public,
        })
    }

    /// Reads a verifier key, `<name>+<key id in 8 lower-case hex>+<base64(0x01 || public)>`
    /// (surrounding whitespace ignored); the key id must be the one the name and key give.
    pub fn parse(vkey: &str) -> Result<Verifier, NoteError> {
        let bad = |m: &str| NoteError::Key(m.to_owned());
        let mut parts = vkey.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("it is not <name>+<key id>+<key>"));
        };
        if id.len() != 8 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(bad("the key id is not 8 lower-case hex digits"));
        }
        let key = B64
            .decode(key)
            .map_err(|_| bad("the key is not standard base64"))?;
        let public: [u8; 32] = match key.split_first() {
            Some((&ED25519, public)) => public
                .try_into()
                .map_err(|_| bad("the Ed25519 key is not 32 bytes"))?,
            _ => return Err(bad("the key is not of type Ed25519 (0x01)")),
        };
        let verifier = Verifier::new(name, public)?;
        if hex::encode(verifier.key_id) != id {
            return Err(bad("the key id does not match the name and the key"));
        }
        Ok(verifier)
    }

    /// The verifier key text ([`Verifier::parse`] reads it back).
    pub fn vkey(&self) -> String {
        let mut key = Vec::with_capacity(33);
        key.push(ED25519);
        key.extend_from_slice(&self.public);
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_id),
            B64.encode(key)
        )
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Opens a signed checkpoint: the note's signature by this key verifies, its body is a
    /// checkpoint ([`Checkpoint::parse`]) and its origin is this key's name.
    pub fn open(&self, note: &str) -> Result<Checkpoint, NoteError> {
        let checkpoint = Checkpoint::parse(self.open_text(note)?)?;
        if checkpoint.origin != self.name {
            return Err(NoteError::Origin {
                found: checkpoint.origin,
                expected: self.name.clone(),
            });
        }
        Ok(checkpoint)
    }

    /// The text of a signed note whose signature by this key verifies. Signatures by other
    /// keys are passed over; one by this key (name and key id) that does not verify refuses
    /// the note.
    pub fn open_text<'n>(&self, note: &'n str) -> Result<&'n str, NoteError> {
        let bad = |m: &str| NoteError::Note(m.to_owned());
        if note.chars().any(|c| c < ' ' && c != '\n') {
            return Err(bad("it holds a control character"));
        }
        if !note.ends_with('\n') {
            return Err(bad("it does not end with a newline"));
        }
        let split = note
            .rfind("\n\n")
            .ok_or_else(|| bad("no blank line separates the text from the signatures"))?;
        let (text, signatures) = (&note[..split + 1], &note[split + 2..]);
        let lines: Vec<&str> = signatures.split_terminator('\n').collect();
        if lines.is_empty() {
            return Err(bad("it has no signature line"));
        }
        if lines.len() > MAX_SIGNATURES {
            return Err(bad("it has too many signature lines"));
        }
        let mut verified = false;
        for line in lines {
            let (name, blob) = line
                .strip_prefix(SIGNATURE_PREFIX)
                .and_then(|rest| rest.split_once(' '))
                .ok_or_else(|| bad("a signature line is not \"\u{2014} <name> <signature>\""))?;
            let blob = B64
                .decode(blob)
                .map_err(|_| bad("a signature is not standard base64"))?;
            if name.is_empty() || blob.len() < 5 {
                return Err(bad("a signature line is too short"));
            }
            if name != self.name || blob[..4] != self.key_id {
                continue;
            }
            let ok = <&[u8; 64]>::try_from(&blob[4..])
                .is_ok_and(|sig| ed25519_verify(&self.public, text.as_bytes(), sig));
            if !ok {
                return Err(NoteError::BadSignature {
                    name: self.name.clone(),
                });
            }
            verified = true;
        }
        if !verified {
            return Err(NoteError::NotSigned {
                name: self.name.clone(),
                key_id: hex::encode(self.key_id),
            });
        }
        Ok(text)
    }
}

#[cfg(test)]
mod tests;
