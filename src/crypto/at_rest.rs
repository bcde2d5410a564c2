//! The broker's at-rest key file (`[storage] age_identity`): record content, names and notes
//! are encrypted to its first identity and read with any of them.
//!
//! The file is `age-keygen`'s format and may hold several identities. One identity is the
//! usual state; two exist while `broker keys rotate-at-rest` is under way: the new one first
//! (it encrypts new content), the one being retired after it (it still reads content not yet
//! re-encrypted). A running broker picks up a changed file without a restart: on a read that
//! no identity it holds can open, and every few seconds (`AtRestKey::watch`).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use age::secrecy::ExposeSecret;
use anyhow::{Context, anyhow, bail};
use arc_swap::ArcSwap;

/// How often a running broker re-reads the key file; `rotate-at-rest` waits longer than this
/// after adding a key before it re-encrypts anything.
pub const AT_REST_RELOAD: Duration = Duration::from_secs(2);

/// The identities of a key file, in its order.
#[derive(Clone)]
pub struct KeyFile {
    identities: Vec<age::x25519::Identity>,
    /// The first identity's public half, worked out once (an X25519 multiplication, which
    /// would otherwise be paid on every encryption).
    recipient: age::x25519::Recipient,
}

impl KeyFile {
    /// Reads every `AGE-SECRET-KEY-1…` line (comments and blank lines aside); refuses a file
    /// with none or with a malformed one.
    pub fn read(path: &Path) -> anyhow::Result<KeyFile> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| anyhow!("{}: not a text age identity file", path.display()))?;
        let identities = text
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("AGE-SECRET-KEY-"))
            .enumerate()
            .map(|(i, line)| {
                age::x25519::Identity::from_str(line)
                    .map_err(|_| anyhow!("{}: identity {} is malformed", path.display(), i + 1))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        if identities.is_empty() {
            bail!("{}: no AGE-SECRET-KEY line", path.display());
        }
        KeyFile::of(identities)
    }

    /// A file of these identities: the first encrypts, the others only read.
    pub fn of(identities: Vec<age::x25519::Identity>) -> anyhow::Result<KeyFile> {
        let Some(first) = identities.first() else {
            bail!("an at-rest key file needs an identity");
        };
        Ok(KeyFile {
            recipient: first.to_public(),
            identities,
        })
    }

    pub fn identities(&self) -> &[age::x25519::Identity] {
        &self.identities
    }

    /// The identity new content is encrypted to.
    pub fn current(&self) -> &age::x25519::Identity {
        &self.identities[0]
    }

    /// The `age1…` recipient of the current identity (public).
    pub fn recipient(&self) -> &age::x25519::Recipient {
        &self.recipient
    }

    /// Writes the file whole or not at all (a temporary file beside it, synced, then renamed
    /// over it; the directory synced), readable by its owner only. `notes` label the
    /// identities in order (comment lines, no secrets).
    pub fn write(&self, path: &Path, notes: &[&str]) -> anyhow::Result<()> {
        let mut text = String::new();
        for (i, identity) in self.identities.iter().enumerate() {
            if let Some(note) = notes.get(i) {
                text.push_str(&format!("# {note}\n"));
            }
            text.push_str(&format!("# public key: {}\n", identity.to_public()));
            text.push_str(identity.to_string().expose_secret());
            text.push('\n');
        }
        write_atomically(path, &text)
    }

    /// Decrypts with the first identity that opens the ciphertext.
    pub fn decrypt(&self, ciphertext: &[u8]) -> Result<Vec<u8>, age::DecryptError> {
        let mut last = age::DecryptError::NoMatchingKeys;
        for identity in &self.identities {
            match age::decrypt(identity, ciphertext) {
                Ok(plain) => return Ok(plain),
                Err(age::DecryptError::NoMatchingKeys) => {}
                Err(e) => {
                    last = e;
                    break;
                }
            }
        }
        Err(last)
    }

    fn same_as(&self, other: &KeyFile) -> bool {
        self.identities.len() == other.identities.len()
            && self
                .identities
                .iter()
                .zip(&other.identities)
                .all(|(a, b)| a.to_public().to_string() == b.to_public().to_string())
    }
}

/// Writes a secret file whole or not at all, readable by its owner only.
pub fn write_atomically(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("{}: not a file name", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// The broker's at-rest key as the server holds it: the file's identities, swapped when the
/// file changes.
pub struct AtRestKey {
    path: PathBuf,
    keys: ArcSwap<KeyFile>,
}

impl AtRestKey {
    pub fn load(path: &Path) -> anyhow::Result<AtRestKey> {
        Ok(AtRestKey {
            path: path.to_owned(),
            keys: ArcSwap::from_pointee(KeyFile::read(path)?),
        })
    }

    pub fn encrypt(&self, plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
        age::encrypt(self.keys.load().recipient(), plaintext)
            .map_err(|e| anyhow!("encrypting at rest: {e}"))
    }

    /// Decrypts with any identity of the file; content no identity held can open makes the
    /// broker re-read the file once (a rotation may have re-encrypted it to a newer key).
    pub fn decrypt(&self, ciphertext: &[u8]) -> anyhow::Result<Vec<u8>> {
        match self.keys.load().decrypt(ciphertext) {
            Ok(plain) => Ok(plain),
            Err(age::DecryptError::NoMatchingKeys) if self.reload().unwrap_or(false) => self
                .keys
                .load()
                .decrypt(ciphertext)
                .map_err(|e| anyhow!("decrypting at rest: {e}")),
            Err(e) => Err(anyhow!("decrypting at rest: {e}")),
        }
    }

    /// How many identities the broker holds (2 while a rotation is under way).
    pub fn identities(&self) -> usize {
        self.keys.load().identities.len()
    }

    /// Re-reads the file; true when its identities changed. A file that cannot be read or
    /// holds no identity leaves the keys as they were.
    pub fn reload(&self) -> anyhow::Result<bool> {
        let fresh = KeyFile::read(&self.path)?;
        if fresh.same_as(&self.keys.load()) {
            return Ok(false);
        }
        tracing::info!(
            identities = fresh.identities.len(),
            "storage.age_identity changed: the at-rest key file was re-read"
        );
        self.keys.store(Arc::new(fresh));
        Ok(true)
    }

    /// Re-reads the file every `every` (a rotation's new key is taken up by a running broker
    /// before it re-encrypts anything); a file that cannot be read is logged and kept as was.
    pub async fn watch(self: Arc<Self>, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.reload() {
                tracing::warn!(error = %e, "storage.age_identity could not be re-read; the keys in use are kept");
            }
        }
    }
}
