//! `broker keys rotate-at-rest`: a new at-rest key, every stored ciphertext re-encrypted to it
//! in batches, then the old key retired. Brokers keep reading throughout.
//!
//! 1. The key file (`[storage] age_identity`) gains a new identity, first: new content is
//!    encrypted to it; the old one, after it, still reads what has not been re-encrypted.
//!    Running brokers re-read the file within [`crate::crypto::AT_REST_RELOAD`] (and on content no
//!    identity they hold can open); the command waits `settle` for them before it goes on.
//! 2. Each table of [`TABLES`] is read in key order, `batch` rows at a time; a ciphertext the
//!    new key cannot open is decrypted with the file's keys and re-encrypted to the new one,
//!    replaced only if unchanged since it was read (a broker may have rewritten it). Each
//!    batch commits with how far it got (`at_rest_rotation`), so a rotation killed part-way
//!    resumes there: run the command again. A file of two identities is a rotation under way.
//! 3. A check reads every table again and re-encrypts whatever the new key still cannot open
//!    (content a broker wrote with the old key before it took up the new one), until nothing
//!    is left.
//! 4. The old identity is written to `<file>.retired-<time>` (backups made before the
//!    rotation need it: keep it offline) and the key file holds the new one alone.
//!
//! The start and the end are audit entries (`at_rest_key_rotation_started`,
//! `at_rest_key_rotated`) naming the keys by their public recipients.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{self, Entry, System};
use crate::config::Config;
use crate::crypto::KeyFile;
use crate::db::Db;
use crate::{on_tx, with_db};

/// A table holding content encrypted at rest: its key columns and its ciphertext columns.
pub struct Table {
    pub name: &'static str,
    pub keys: &'static [(&'static str, KeyKind)],
    pub columns: &'static [&'static str],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Text,
    Int,
}

const ID: &[(&str, KeyKind)] = &[("id", KeyKind::Text)];

/// Every column encrypted to the at-rest key (each `*_enc` column of the schema; the test
/// `key_rotation::every_encrypted_column_is_rotated` holds this list to the migrations).
pub const TABLES: &[Table] = &[
    Table {
        name: "subjects",
        keys: ID,
        columns: &["display_name_enc"],
    },
    Table {
        name: "staff_designations",
        keys: ID,
        columns: &["reason_enc"],
    },
    Table {
        name: "records",
        keys: ID,
        columns: &["content_enc"],
    },
    Table {
        name: "audit_reviews",
        keys: &[("override_seq", KeyKind::Int)],
        columns: &["note_enc"],
    },
    Table {
        name: "case_events",
        keys: &[("case_id", KeyKind::Text), ("seq", KeyKind::Int)],
        columns: &["rationale_enc", "note_enc"],
    },
    Table {
        name: "case_transfers",
        keys: ID,
        columns: &["note_enc"],
    },
    Table {
        name: "case_actions",
        keys: ID,
        columns: &["description_enc", "note_enc"],
    },
    Table {
        name: "info_requests",
        keys: ID,
        columns: &["note_enc", "reason_enc"],
    },
];

/// A row's key value, as the progress table keeps it (a JSON array).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
enum Key {
    Int(i64),
    Text(String),
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Rows a batch reads and commits.
    pub batch: usize,
    /// How long to wait after adding the new key before re-encrypting, so running brokers
    /// take it up first (longer than [`crate::crypto::AT_REST_RELOAD`]).
    pub settle: Duration,
    /// A pause after each batch, to spare a busy database.
    pub pause: Duration,
}

/// What a rotation did (printed as JSON).
#[derive(Debug, Serialize)]
pub struct Summary {
    /// The new key's public recipient.
    pub recipient: String,
    /// The retired keys' public recipients.
    pub retired: Vec<String>,
    /// Where the retired identities were written.
    pub retired_file: PathBuf,
    /// Whether this run resumed a rotation an earlier run began.
    pub resumed: bool,
    /// Rows read and ciphertexts re-encrypted by this run.
    pub rows: u64,
    pub reencrypted: u64,
    /// Ciphertexts the final check found still under an old key and re-encrypted.
    pub caught_by_check: u64,
}

/// Runs (or resumes) a rotation of `config`'s at-rest key.
pub async fn rotate(config: &Config, options: &Options) -> anyhow::Result<Summary> {
    let path = &config.storage.age_identity;
    let db = Db::connect(&config.database.url, 2).await?;
    db.migrate().await.context("applying migrations")?;
    let outcome = run(&db, path, options).await;
    db.close().await;
    outcome
}

async fn run(db: &Db, path: &Path, options: &Options) -> anyhow::Result<Summary> {
    let file = KeyFile::read(path).context("storage.age_identity")?;
    let resumed = file.identities().len() > 1;
    let file = if resumed {
        say(&format!(
            "resuming the rotation to {} begun earlier ({} keys in {})",
            file.recipient(),
            file.identities().len(),
            path.display()
        ));
        file
    } else {
        let old = file.current().clone();
        let new = age::x25519::Identity::generate();
        let both = KeyFile::of(vec![new, old])?;
        let started = stamp();
        both.write(
            path,
            &[
                &format!("at-rest key: encrypts new content (rotation begun {started})"),
                "at-rest key being retired: reads content not yet re-encrypted",
            ],
        )?;
        audit_entry(
            db,
            "at_rest_key_rotation_started",
            json!({
                "recipient": both.recipient().to_string(),
                "retiring": [file.recipient().to_string()],
            }),
        )
        .await?;
        say(&format!(
            "added a new at-rest key {} to {}",
            both.recipient(),
            path.display()
        ));
        both
    };
    say(&format!(
        "waiting {} s for running brokers to take up the new key",
        options.settle.as_secs()
    ));
    tokio::time::sleep(options.settle).await;

    let recipient = file.recipient().to_string();
    let new_only = KeyFile::of(vec![file.current().clone()])?;
    let keys = Keys {
        all: &file,
        new_only: &new_only,
    };
    let mut total = 0u64;
    for table in TABLES {
        total += count(db, table).await?;
    }
    let bar = Progress::new(total);
    let (mut rows, mut reencrypted) = (0u64, 0u64);
    for table in TABLES {
        let (mut cursor, done) = progress_of(db, &recipient, table).await?;
        if done {
            bar.skip(table, count(db, table).await?);
            continue;
        }
        loop {
            let batch = sweep(db, table, cursor.as_deref(), options.batch, &keys).await?;
            let finished = batch.rows < options.batch;
            if let Some(last) = &batch.last {
                cursor = Some(last.clone());
            }
            commit_batch(
                db,
                table,
                &batch,
                Some((&recipient, cursor.as_deref(), finished)),
            )
            .await?;
            rows += batch.rows as u64;
            reencrypted += batch.changed.len() as u64;
            bar.advance(table, batch.rows as u64, batch.changed.len() as u64);
            if finished {
                break;
            }
            if !options.pause.is_zero() {
                tokio::time::sleep(options.pause).await;
            }
        }
    }
    bar.finish();

    // what a broker wrote with the old key before it took up the new one
    let mut caught = 0u64;
    for pass in 1..=5 {
        let mut found = 0u64;
        for table in TABLES {
            let mut cursor: Option<Vec<Key>> = None;
            loop {
                let batch = sweep(db, table, cursor.as_deref(), options.batch, &keys).await?;
                if !batch.changed.is_empty() {
                    commit_batch(db, table, &batch, None).await?;
                    found += batch.changed.len() as u64;
                }
                if batch.rows < options.batch {
                    break;
                }
                cursor = batch.last;
            }
        }
        caught += found;
        if found == 0 {
            break;
        }
        if pass == 5 {
            bail!(
                "after five checks, content is still being written with the old at-rest key: \
                 a broker has not taken up the new key (restart it), then run the command again"
            );
        }
        say(&format!(
            "the check re-encrypted {found} ciphertext(s) written with the old key; checking again"
        ));
    }

    // retire: the old identities to a file of their own first, so a crash between the two
    // writes leaves every key somewhere
    let retired: Vec<age::x25519::Identity> = file.identities()[1..].to_vec();
    let retired_recipients: Vec<String> =
        retired.iter().map(|i| i.to_public().to_string()).collect();
    let ended = stamp();
    let retired_file = retired_path(path, &ended);
    KeyFile::of(retired)?.write(
        &retired_file,
        &[&format!(
            "at-rest key retired {ended}: reads only backups made before then; keep it offline"
        )],
    )?;
    new_only.write(
        path,
        &[&format!(
            "at-rest key: encrypts new content (since {ended})"
        )],
    )?;
    with_db!(db, pool => sqlx::query("DELETE FROM at_rest_rotation WHERE recipient = $1")
        .bind(&recipient)
        .execute(pool)
        .await
        .map(drop))?;
    audit_entry(
        db,
        "at_rest_key_rotated",
        json!({
            "recipient": recipient,
            "retired": retired_recipients,
            "rows": rows,
            "reencrypted": reencrypted + caught,
        }),
    )
    .await?;
    say(&format!(
        "retired {} old key(s) to {}: move that file offline (backups made before now need it)",
        retired_recipients.len(),
        retired_file.display()
    ));
    Ok(Summary {
        recipient,
        retired: retired_recipients,
        retired_file,
        resumed,
        rows,
        reencrypted,
        caught_by_check: caught,
    })
}

struct Keys<'a> {
    all: &'a KeyFile,
    new_only: &'a KeyFile,
}

/// A batch read: how many rows, the key of the last, and the ciphertexts to replace
/// (table key, column, as read, re-encrypted).
struct Batch {
    rows: usize,
    last: Option<Vec<Key>>,
    changed: Vec<Change>,
}

struct Change {
    key: Vec<Key>,
    column: &'static str,
    old: Vec<u8>,
    new: Vec<u8>,
}

fn key_list(table: &Table) -> String {
    table
        .keys
        .iter()
        .map(|(k, _)| *k)
        .collect::<Vec<_>>()
        .join(", ")
}

async fn count(db: &Db, table: &Table) -> anyhow::Result<u64> {
    let sql = format!("SELECT COUNT(*) FROM {}", table.name);
    let n: i64 =
        with_db!(db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await)?;
    Ok(n as u64)
}

/// Reads up to `limit` rows after `after` and works out which ciphertexts need the new key.
async fn sweep(
    db: &Db,
    table: &'static Table,
    after: Option<&[Key]>,
    limit: usize,
    keys: &Keys<'_>,
) -> anyhow::Result<Batch> {
    let key_cols = key_list(table);
    let filter = match after {
        None => String::new(),
        Some(_) => {
            let params: Vec<String> = (1..=table.keys.len()).map(|i| format!("${i}")).collect();
            format!("WHERE ({key_cols}) > ({})", params.join(", "))
        }
    };
    let sql = format!(
        "SELECT {key_cols}, {} FROM {} {filter} ORDER BY {key_cols} LIMIT {limit}",
        table.columns.join(", "),
        table.name
    );
    let rows = with_db!(db, pool => {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for key in after.unwrap_or_default() {
            query = match key {
                Key::Int(i) => query.bind(*i),
                Key::Text(s) => query.bind(s.clone()),
            };
        }
        let rows = query.fetch_all(pool).await?;
        rows.iter().map(|r| read_row(table, r)).collect::<Result<Vec<_>, sqlx::Error>>()
    })?;
    let mut changed = Vec::new();
    for (key, cells) in &rows {
        for (column, cell) in table.columns.iter().zip(cells) {
            let Some(old) = cell else { continue };
            if keys.new_only.decrypt(old).is_ok() {
                continue;
            }
            let plain = keys.all.decrypt(old).map_err(|e| {
                anyhow!(
                    "{} {:?}: {column} opens with no key of the file ({e}); nothing more was \
                     changed",
                    table.name,
                    key
                )
            })?;
            let new = age::encrypt(keys.all.recipient(), &plain)
                .map_err(|e| anyhow!("encrypting at rest: {e}"))?;
            changed.push(Change {
                key: key.clone(),
                column,
                old: old.clone(),
                new,
            });
        }
    }
    Ok(Batch {
        rows: rows.len(),
        last: rows.last().map(|(k, _)| k.clone()),
        changed,
    })
}

type Cells = Vec<Option<Vec<u8>>>;

fn read_row<R: sqlx::Row>(table: &Table, row: &R) -> Result<(Vec<Key>, Cells), sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<Vec<u8>>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let mut key = Vec::with_capacity(table.keys.len());
    for (i, (_, kind)) in table.keys.iter().enumerate() {
        key.push(match kind {
            KeyKind::Text => Key::Text(row.try_get(i)?),
            KeyKind::Int => Key::Int(row.try_get(i)?),
        });
    }
    let cells = (0..table.columns.len())
        .map(|j| row.try_get(table.keys.len() + j))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((key, cells))
}

/// Writes a batch's new ciphertexts, each only if unchanged since it was read, and (when
/// given) how far the rotation got, in one transaction.
async fn commit_batch(
    db: &Db,
    table: &Table,
    batch: &Batch,
    progress: Option<(&str, Option<&[Key]>, bool)>,
) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    let written = async {
        for change in &batch.changed {
            let matches: Vec<String> = table
                .keys
                .iter()
                .enumerate()
                .map(|(i, (k, _))| format!("{k} = ${}", i + 3))
                .collect();
            let sql = format!(
                "UPDATE {} SET {col} = $1 WHERE {col} = $2 AND {}",
                table.name,
                matches.join(" AND "),
                col = change.column
            );
            on_tx!(&mut tx, c => {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(&change.new)
                    .bind(&change.old);
                for key in &change.key {
                    query = match key {
                        Key::Int(i) => query.bind(*i),
                        Key::Text(s) => query.bind(s.clone()),
                    };
                }
                query.execute(&mut **c).await.map(drop)
            })?;
        }
        if let Some((recipient, cursor, done)) = progress {
            let cursor = cursor.map(serde_json::to_string).transpose()?;
            on_tx!(&mut tx, c => sqlx::query(
                "INSERT INTO at_rest_rotation (recipient, tbl, cursor, done) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (recipient, tbl) DO UPDATE SET cursor = excluded.cursor, done = excluded.done")
                .bind(recipient)
                .bind(table.name)
                .bind(cursor)
                .bind(done)
                .execute(&mut **c)
                .await
                .map(drop))?;
        }
        anyhow::Ok(())
    }
    .await;
    match written {
        Ok(()) => Ok(tx.commit().await?),
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// Where an earlier run of this rotation got to in `table`: the last key done, and whether
/// the table is finished.
async fn progress_of(
    db: &Db,
    recipient: &str,
    table: &Table,
) -> anyhow::Result<(Option<Vec<Key>>, bool)> {
    let row: Option<(Option<String>, bool)> = with_db!(db, pool => sqlx::query_as(
        "SELECT cursor, done FROM at_rest_rotation WHERE recipient = $1 AND tbl = $2")
        .bind(recipient)
        .bind(table.name)
        .fetch_optional(pool)
        .await)?;
    Ok(match row {
        None => (None, false),
        Some((cursor, done)) => (
            cursor
                .map(|c| serde_json::from_str(&c))
                .transpose()
                .context("at_rest_rotation.cursor")?,
            done,
        ),
    })
}

async fn audit_entry(db: &Db, action: &str, detail: serde_json::Value) -> anyhow::Result<()> {
    let actor = System(format!("cli {}@{}", audit::user(), audit::host()));
    let mut tx = db.begin().await?;
    match audit::append(&mut tx, Entry::new(&actor, action).detail(detail)).await {
        Ok(_) => Ok(tx.commit().await?),
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e.into())
        }
    }
}

fn stamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn retired_path(path: &Path, ended: &str) -> PathBuf {
    let compact: String = ended
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".retired-{compact}"));
    path.with_file_name(name)
}

fn say(line: &str) {
    eprintln!("broker: {line}");
}

/// A progress bar on a terminal; a line a batch otherwise (a log, a test reading stderr).
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    done: std::cell::Cell<u64>,
    total: u64,
}

impl Progress {
    fn new(total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg:20} [{bar:40}] {pos}/{len} rows ({eta} left)",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        });
        Progress {
            bar,
            done: std::cell::Cell::new(0),
            total,
        }
    }

    fn advance(&self, table: &Table, rows: u64, changed: u64) {
        self.done.set(self.done.get() + rows);
        match &self.bar {
            Some(bar) => {
                bar.set_message(table.name);
                bar.inc(rows);
            }
            None => say(&format!(
                "{}: {} of {} rows done; {changed} ciphertext(s) re-encrypted in this batch",
                table.name,
                self.done.get(),
                self.total
            )),
        }
    }

    fn skip(&self, table: &Table, rows: u64) {
        self.done.set(self.done.get() + rows);
        match &self.bar {
            Some(bar) => bar.inc(rows),
            None => say(&format!("{}: done by an earlier run", table.name)),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_with_message("re-encrypted");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_the_progress_table() {
        let key = vec![Key::Text("case-1".into()), Key::Int(7)];
        let text = serde_json::to_string(&key).unwrap();
        assert_eq!(text, r#"["case-1",7]"#);
        assert_eq!(serde_json::from_str::<Vec<Key>>(&text).unwrap(), key);
    }

    #[test]
    fn a_retired_file_sits_beside_the_key_file() {
        let p = retired_path(Path::new("/etc/broker/at-rest.age"), "2026-12-06T21:00:00Z");
        assert_eq!(
            p,
            Path::new("/etc/broker/at-rest.age.retired-20261206T210000Z")
        );
    }
}
