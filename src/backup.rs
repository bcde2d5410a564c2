//! `broker backup` and `broker restore`.
//!
//! A backup is the database alone: keys live in files (`[storage] age_identity`, the log key,
//! the TLS and agency keys) and are backed up with the configuration, by whoever keeps them.
//! Content in a backup stays encrypted to the at-rest key of its day, so a restore needs that
//! key (after a rotation: the `.retired-…` file `broker keys rotate-at-rest` wrote).
//!
//! - SQLite: `VACUUM INTO` a file beside the target, renamed into place once whole: an
//!   online, consistent copy (one read transaction) while brokers keep writing.
//! - PostgreSQL: `pg_dump --format=custom` (one snapshot) to a file beside the target,
//!   renamed into place once whole; restored with `pg_restore --single-transaction`.
//!
//! A restore checks what it restored before it is used: the whole audit chain, that the log
//! extends the newest checkpoint it holds, signed by this broker's log key, and that the
//! at-rest key file opens its content. A SQLite backup that fails the check is not put in place.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use anyhow::{Context, anyhow, bail};
use serde::Serialize;

use crate::audit::{Verifier, checkpoints};
use crate::config::Config;
use crate::crypto::KeyFile;
use crate::db::Db;
use crate::with_db;

/// What a backup wrote.
#[derive(Debug, Serialize)]
pub struct Backup {
    pub file: PathBuf,
    pub database: &'static str,
    pub bytes: u64,
    /// Audit entries in the copy (SQLite: counted in the copy; PostgreSQL: at the dump's
    /// start or after: pg_dump's snapshot is its own).
    pub audit_entries: i64,
}

/// What a restore put in place, and its check.
#[derive(Debug, Serialize)]
pub struct Restore {
    pub database: &'static str,
    pub audit_entries: i64,
    pub chain_ok: bool,
    /// The newest checkpoint in the restored log, and whether the log extends it.
    pub checkpoint_size: Option<u64>,
    pub checkpoint_ok: Option<bool>,
    /// Whether the at-rest key file opens the content (a sample of each encrypted column).
    pub content_opens: bool,
    pub problem: Option<String>,
}

impl Restore {
    pub fn ok(&self) -> bool {
        self.chain_ok && self.checkpoint_ok != Some(false) && self.content_opens
    }
}

/// Copies the configured database to `to` (which must not exist).
pub async fn backup(config: &Config, to: &Path) -> anyhow::Result<Backup> {
    if to.exists() {
        bail!(
            "{} exists: a backup is never written over a file",
            to.display()
        );
    }
    let partial = partial_path(to);
    let _ = std::fs::remove_file(&partial);
    let url = &config.database.url;
    let db = Db::connect(url, 2).await?;
    let copied = async {
        let entries = match &db {
            Db::Sqlite { read, .. } => {
                sqlx::query("VACUUM INTO $1")
                    .bind(partial.to_string_lossy().into_owned())
                    .execute(read)
                    .await
                    .context("copying the database (VACUUM INTO)")?;
                let copy = Db::connect(&sqlite_url(&partial), 1).await?;
                let entries = entries(&copy).await;
                copy.close().await;
                remove_sidecars(&partial);
                entries?
            }
            Db::Postgres(_) => {
                let entries = entries(&db).await?;
                run(Command::new("pg_dump")
                    .args(["--format=custom", "--no-owner", "--no-privileges", "--file"])
                    .arg(&partial)
                    .arg("--dbname")
                    .arg(url))
                .context("pg_dump (PostgreSQL's client tools) is needed to back up PostgreSQL")?;
                entries
            }
        };
        std::fs::File::open(&partial)?.sync_all()?;
        std::fs::rename(&partial, to)
            .with_context(|| format!("cannot move the backup into place at {}", to.display()))?;
        anyhow::Ok(entries)
    }
    .await;
    let kind = db.kind();
    db.close().await;
    let entries = copied.inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })?;
    Ok(Backup {
        file: to.to_owned(),
        database: kind,
        bytes: std::fs::metadata(to)?.len(),
        audit_entries: entries,
    })
}

/// Puts the backup `from` in place of the configured database, then checks it. A database
/// already there is replaced only with `force` (stop every broker using it first).
pub async fn restore(
    config: &Config,
    from: &Path,
    verifier: &Verifier,
    force: bool,
) -> anyhow::Result<Restore> {
    if !from.is_file() {
        bail!("{} is not a backup file", from.display());
    }
    let at_rest = KeyFile::read(&config.storage.age_identity).context("storage.age_identity")?;
    let keys = Keys {
        log: verifier,
        at_rest: &at_rest,
    };
    let url = &config.database.url;
    if url.starts_with("sqlite:") {
        restore_sqlite(url, from, &keys, force).await
    } else {
        let db = Db::connect(url, 2).await?;
        let tables: i64 = with_db!(&db, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()")
            .fetch_one(pool)
            .await)?;
        db.close().await;
        if tables > 0 && !force {
            bail!(
                "the database at [database] url holds {tables} table(s): stop every broker \
                 using it, then give --force to replace it with the backup"
            );
        }
        run(Command::new("pg_restore")
            .args([
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                "--dbname",
            ])
            .arg(url)
            .arg(from))
        .context("pg_restore (PostgreSQL's client tools) is needed to restore PostgreSQL")?;
        let db = Db::connect(url, 2).await?;
        let checked = check(&db, &keys).await;
        db.close().await;
        checked
    }
}

async fn restore_sqlite(
    url: &str,
    from: &Path,
    keys: &Keys<'_>,
    force: bool,
) -> anyhow::Result<Restore> {
    let target = PathBuf::from(
        sqlx::sqlite::SqliteConnectOptions::from_str(url)
            .context("parsing the sqlite database url")?
            .get_filename(),
    );
    let occupied = std::fs::metadata(&target).is_ok_and(|m| m.len() > 0);
    if occupied && !force {
        bail!(
            "{} holds a database: stop every broker using it, then give --force to replace it \
             with the backup",
            target.display()
        );
    }
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    // the copy is checked where it will live, then renamed over the database
    let staged = partial_path(&target);
    remove_sidecars(&staged);
    std::fs::copy(from, &staged)
        .with_context(|| format!("copying {} beside {}", from.display(), target.display()))?;
    let db = Db::connect(&sqlite_url(&staged), 2).await?;
    let integrity: String = with_db!(&db, pool => sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(pool)
        .await)
    .map_err(|e| anyhow!("{} is not a SQLite database: {e}", from.display()))?;
    let checked = if integrity == "ok" {
        check(&db, keys).await
    } else {
        Err(anyhow!(
            "{} fails SQLite's integrity check: {integrity}",
            from.display()
        ))
    };
    db.close().await;
    remove_sidecars(&staged);
    let refused = match &checked {
        Ok(r) if r.ok() => None,
        Ok(r) => Some(
            r.problem
                .clone()
                .unwrap_or_else(|| "its audit chain does not hold".into()),
        ),
        Err(e) => Some(format!("{e:#}")),
    };
    if let Some(problem) = refused {
        let _ = std::fs::remove_file(&staged);
        bail!(
            "the backup was not restored: {problem}; {} is as it was",
            target.display()
        );
    }
    std::fs::File::open(&staged)?.sync_all()?;
    // the old database's write-ahead log must not be replayed onto the restored file
    remove_sidecars(&target);
    std::fs::rename(&staged, &target)
        .with_context(|| format!("cannot move the backup into place at {}", target.display()))?;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    checked
}

/// What a restored database is checked with: the log's verifier key and the at-rest key file.
struct Keys<'a> {
    log: &'a Verifier,
    at_rest: &'a KeyFile,
}

/// Migrates a restored database (a backup of an earlier broker catches up), then checks its
/// audit chain, its newest checkpoint, and that the at-rest key file opens its content.
async fn check(db: &Db, keys: &Keys<'_>) -> anyhow::Result<Restore> {
    db.migrate()
        .await
        .context("applying migrations to the restored database")?;
    let chain = crate::audit::verify(db).await?;
    let mut restore = Restore {
        database: db.kind(),
        audit_entries: chain.entries,
        chain_ok: chain.ok,
        checkpoint_size: None,
        checkpoint_ok: None,
        content_opens: true,
        problem: chain
            .first_bad_seq
            .map(|seq| format!("the audit chain does not hold from entry {seq}")),
    };
    if let Some(kept) = checkpoints::latest(db).await? {
        restore.checkpoint_size = Some(kept.size);
        let extends = match keys.log.open(&kept.note) {
            Ok(checkpoint) => {
                crate::audit::verify_extends(db, checkpoint.size, &checkpoint.root).await?
            }
            Err(e) => {
                restore.checkpoint_ok = Some(false);
                restore.problem.get_or_insert(format!(
                    "its newest checkpoint (size {}) is not signed by this broker's log key: {e}",
                    kept.size
                ));
                return Ok(restore);
            }
        };
        restore.checkpoint_ok = Some(extends.ok);
        if let Some(problem) = extends.problem {
            restore.problem.get_or_insert(problem);
        }
    }
    let unopened = unopened(db, keys.at_rest).await?;
    restore.content_opens = unopened.is_empty();
    if let Some((table, column)) = unopened.first() {
        restore.problem.get_or_insert(format!(
            "{table}.{column} in the backup is encrypted to an at-rest key that \
             [storage] age_identity does not hold (a backup from before a key rotation): add \
             the retired key (the `.retired-...` file) to the key file after the current one, \
             restore again, then run `broker keys rotate-at-rest` to move the content to the \
             current key"
        ));
    }
    Ok(restore)
}

/// The encrypted columns whose first stored ciphertext no identity of `keys` opens (a sample
/// of one a column: content is encrypted to one key at a time, or to two mid-rotation).
async fn unopened(db: &Db, keys: &KeyFile) -> anyhow::Result<Vec<(&'static str, &'static str)>> {
    let mut unopened = Vec::new();
    for table in crate::rotation::TABLES {
        for &column in table.columns {
            let sql = format!(
                "SELECT {column} FROM {} WHERE {column} IS NOT NULL LIMIT 1",
                table.name
            );
            let sample: Option<Vec<u8>> = with_db!(db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_optional(pool)
                .await)?;
            if sample.is_some_and(|c| keys.decrypt(&c).is_err()) {
                unopened.push((table.name, column));
            }
        }
    }
    Ok(unopened)
}

async fn entries(db: &Db) -> anyhow::Result<i64> {
    Ok(
        with_db!(db, pool => sqlx::query_scalar("SELECT seq FROM audit_head WHERE id = 1")
        .fetch_optional(pool)
        .await)?
        .unwrap_or(0),
    )
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = command
        .output()
        .with_context(|| format!("cannot run {program}"))?;
    if !output.status.success() {
        // the tools' own messages name the problem; they hold no secrets (the URL's password
        // is not echoed by them)
        bail!(
            "{program} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

/// Removes a SQLite file's `-wal` and `-shm` companions.
fn remove_sidecars(path: &Path) {
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}
