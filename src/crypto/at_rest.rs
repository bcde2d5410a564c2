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
        self.decrypt_remembering(ciphertext, None)
    }

    /// [`KeyFile::decrypt`], taking the file key of content opened lately from `keys` (and
    /// keeping the file key of content opened now).
    fn decrypt_remembering(
        &self,
        ciphertext: &[u8],
        keys: Option<&FileKeys>,
    ) -> Result<Vec<u8>, age::DecryptError> {
        let mut last = age::DecryptError::NoMatchingKeys;
        for identity in &self.identities {
            let opened = match keys {
                Some(keys) => age::decrypt(&Remembering { identity, keys }, ciphertext),
                None => age::decrypt(identity, ciphertext),
            };
            match opened {
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

/// The file keys of stored content opened lately, by the recipient stanza that wraps each.
///
/// Opening content costs an X25519 exchange (and age works out the identity's public half
/// again each time): most of the CPU of reading a record back. A file key opens only the one
/// ciphertext whose stanza wrapped it, and the identity that unwrapped it, which opens every
/// one, is in the same process's memory, so keeping it there for content read again soon
/// widens nothing: it is never written anywhere, it is zeroed when let go, and every key is
/// let go when the key file changes. The content itself is never kept.
#[derive(Default)]
struct FileKeys {
    keys: std::sync::Mutex<std::collections::HashMap<[u8; 32], zeroize::Zeroizing<[u8; 16]>>>,
}

/// The file keys kept at most.
const FILE_KEYS: usize = 20_000;

impl FileKeys {
    /// The SHA-256 of a stanza's tag, arguments and body, each length-prefixed.
    fn id(stanza: &age_core::format::Stanza) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for part in std::iter::once(stanza.tag.as_bytes())
            .chain(stanza.args.iter().map(String::as_bytes))
            .chain(std::iter::once(&stanza.body[..]))
        {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.finalize().into()
    }

    fn get(&self, id: &[u8; 32]) -> Option<age_core::format::FileKey> {
        let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        keys.get(id)
            .map(|k| age_core::format::FileKey::new(Box::new(**k)))
    }

    fn keep(&self, id: [u8; 32], key: &age_core::format::FileKey) {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if keys.len() >= FILE_KEYS {
            keys.clear();
        }
        keys.insert(id, zeroize::Zeroizing::new(*key.expose_secret()));
    }

    fn forget_all(&self) {
        self.keys.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// An identity that answers from [`FileKeys`] a stanza it unwrapped lately: the same file key
/// the identity would unwrap again.
struct Remembering<'a> {
    identity: &'a age::x25519::Identity,
    keys: &'a FileKeys,
}

impl age::Identity for Remembering<'_> {
    fn unwrap_stanza(
        &self,
        stanza: &age_core::format::Stanza,
    ) -> Option<Result<age_core::format::FileKey, age::DecryptError>> {
        let id = FileKeys::id(stanza);
        if let Some(key) = self.keys.get(&id) {
            return Some(Ok(key));
        }
        let unwrapped = age::Identity::unwrap_stanza(self.identity, stanza);
        if let Some(Ok(key)) = &unwrapped {
            self.keys.keep(id, key);
        }
        unwrapped
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
    /// Bumped each time the file's identities change (what was read under an older file may be
    /// sealed to a key since retired).
    generation: std::sync::atomic::AtomicU64,
    /// File keys of content opened lately, let go of whenever the file changes.
    file_keys: FileKeys,
}

impl AtRestKey {
    pub fn load(path: &Path) -> anyhow::Result<AtRestKey> {
        Ok(AtRestKey {
            path: path.to_owned(),
            keys: ArcSwap::from_pointee(KeyFile::read(path)?),
            generation: std::sync::atomic::AtomicU64::new(0),
            file_keys: FileKeys::default(),
        })
    }

    pub fn encrypt(&self, plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
        age::encrypt(self.keys.load().recipient(), plaintext)
            .map_err(|e| anyhow!("encrypting at rest: {e}"))
    }

    /// Decrypts with any identity of the file; content no identity held can open makes the
    /// broker re-read the file once (a rotation may have re-encrypted it to a newer key).
    pub fn decrypt(&self, ciphertext: &[u8]) -> anyhow::Result<Vec<u8>> {
        let keys = Some(&self.file_keys);
        match self.keys.load().decrypt_remembering(ciphertext, keys) {
            Ok(plain) => Ok(plain),
            Err(age::DecryptError::NoMatchingKeys) if self.reload().unwrap_or(false) => self
                .keys
                .load()
                .decrypt_remembering(ciphertext, keys)
                .map_err(|e| anyhow!("decrypting at rest: {e}")),
            Err(e) => Err(anyhow!("decrypting at rest: {e}")),
        }
    }

    /// How many times the file's identities have changed since the broker started.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
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
        self.file_keys.forget_all();
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn key_file(dir: &Path) -> PathBuf {
        let path = dir.join("at-rest.key");
        KeyFile::of(vec![age::x25519::Identity::generate()])
            .unwrap()
            .write(&path, &[])
            .unwrap();
        path
    }

    #[test]
    fn content_opened_again_opens_from_its_remembered_file_key_and_a_changed_payload_still_fails() {
        let dir = tempfile::tempdir().unwrap();
        let key = AtRestKey::load(&key_file(dir.path())).unwrap();
        let sealed = key.encrypt(b"a record").unwrap();
        assert_eq!(key.decrypt(&sealed).unwrap(), b"a record");
        assert_eq!(
            key.file_keys.keys.lock().unwrap().len(),
            1,
            "its file key is kept"
        );
        assert_eq!(
            key.decrypt(&sealed).unwrap(),
            b"a record",
            "opened again from it"
        );
        // the same header (so the same stanza and kept file key) over a changed payload
        let mut forged = sealed.clone();
        let last = forged.len() - 1;
        forged[last] ^= 1;
        assert!(
            key.decrypt(&forged).is_err(),
            "the payload is still authenticated"
        );
        // content sealed to another key is not opened by anything kept
        let other = age::x25519::Identity::generate();
        let foreign = age::encrypt(&other.to_public(), b"not ours").unwrap();
        assert!(key.decrypt(&foreign).is_err());
    }

    #[test]
    fn a_changed_key_file_lets_go_of_every_remembered_file_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = key_file(dir.path());
        let key = AtRestKey::load(&path).unwrap();
        let sealed = key.encrypt(b"a record").unwrap();
        key.decrypt(&sealed).unwrap();
        let generation = key.generation();
        // a rotation's first step: a new key first, the old one after it
        let mut identities = vec![age::x25519::Identity::generate()];
        identities.extend(KeyFile::read(&path).unwrap().identities().iter().cloned());
        KeyFile::of(identities).unwrap().write(&path, &[]).unwrap();
        assert!(key.reload().unwrap());
        assert!(key.file_keys.keys.lock().unwrap().is_empty());
        assert_eq!(key.generation(), generation + 1);
        assert_eq!(
            key.decrypt(&sealed).unwrap(),
            b"a record",
            "the old key still reads"
        );
    }
}
