//! Reading and writing the broker's database behind its back, the same way on SQLite and on
//! PostgreSQL: row counts, the audit chain's head and rows, and raw statements for tests that
//! play a forger or a full disk.

use broker::audit::AuditRow;
use broker::db::Db;
use sqlx::Row;

/// Rows in `table`.
pub async fn count(db: &Db, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM {table}");
    broker::with_db!(db, pool => {
        sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .fetch_one(pool)
            .await
            .unwrap_or_else(|e| panic!("counting {table}: {e}"))
            .get::<i64, _>("n")
    })
}

/// The chain's head: `(seq, hash)` of `audit_head`.
pub async fn head(db: &Db) -> (i64, String) {
    broker::with_db!(db, pool => {
        let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(pool)
            .await
            .expect("reading audit_head");
        (row.get::<i64, _>("seq"), row.get::<String, _>("hash"))
    })
}

/// The audit chain's head seq (its last entry).
pub async fn head_seq(db: &Db) -> i64 {
    head(db).await.0
}

/// The audit head and the row count of `table`: what a refused request must leave as it was.
pub async fn snapshot(db: &Db, table: &str) -> (i64, i64) {
    (head_seq(db).await, count(db, table).await)
}

/// Every seq of `audit_log`, in order.
pub async fn stored_seqs(db: &Db) -> Vec<i64> {
    broker::with_db!(db, pool => {
        sqlx::query("SELECT seq FROM audit_log ORDER BY seq")
            .fetch_all(pool)
            .await
            .expect("reading audit_log")
            .iter()
            .map(|r| r.get::<i64, _>("seq"))
            .collect()
    })
}

/// Every row of `audit_log`, in order.
pub async fn stored_rows(db: &Db) -> Vec<AuditRow> {
    broker::with_db!(db, pool => {
        sqlx::query_as::<_, AuditRow>("SELECT * FROM audit_log ORDER BY seq")
            .fetch_all(pool)
            .await
            .expect("reading audit_log")
    })
}

/// The stored audit entry at `seq`.
pub async fn stored_row(db: &Db, seq: i64) -> AuditRow {
    broker::with_db!(db, pool => {
        sqlx::query_as::<_, AuditRow>("SELECT * FROM audit_log WHERE seq = $1")
            .bind(seq)
            .fetch_one(pool)
            .await
            .unwrap_or_else(|e| panic!("reading audit entry {seq}: {e}"))
    })
}

/// The `justification` stored with the audit entry at `seq`.
pub async fn stored_justification(db: &Db, seq: i64) -> Option<String> {
    broker::with_db!(db, pool => {
        sqlx::query_scalar("SELECT justification FROM audit_log WHERE seq = $1")
            .bind(seq)
            .fetch_one(pool)
            .await
            .unwrap_or_else(|e| panic!("reading the justification of entry {seq}: {e}"))
    })
}

/// Runs one statement behind the broker's back (on SQLite through the read pool, which can
/// write too: the writer's idle connection does not block it in WAL mode).
pub async fn exec(db: &Db, sql: &str) {
    broker::with_db!(db, pool => {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    })
}

/// Writes `row`'s stored values (all but its seq) as the entry at `seq`: an UPDATE, or an INSERT
/// when `insert`.
pub async fn write_row(db: &Db, seq: i64, row: &AuditRow, insert: bool) {
    let columns = broker::audit::columns();
    let sql = if insert {
        let params: Vec<String> = (1..=broker::audit::ROW_COLUMNS)
            .map(|i| format!("${i}"))
            .collect();
        format!(
            "INSERT INTO audit_log ({columns}) VALUES ({})",
            params.join(", ")
        )
    } else {
        let set: Vec<String> = columns
            .split(", ")
            .enumerate()
            .skip(1)
            .map(|(i, c)| format!("{c} = ${}", i + 1))
            .collect();
        format!("UPDATE audit_log SET {} WHERE seq = $1", set.join(", "))
    };
    let mut cells = row.cells();
    cells[0] = broker::audit::Cell::Int(seq);
    broker::with_db!(db, pool => {
        cells
            .into_iter()
            .fold(sqlx::query(sqlx::AssertSqlSafe(sql)), |q, cell| cell.bind(q))
            .execute(pool)
            .await
            .unwrap_or_else(|e| panic!("writing audit entry {seq}: {e}"));
    })
}

/// A trigger that refuses every audit insert, as a full disk would.
pub async fn break_the_audit_log(db: &Db) {
    let statements: &[&str] = match db {
        Db::Sqlite { .. } => &["CREATE TRIGGER audit_full BEFORE INSERT ON audit_log \
             BEGIN SELECT RAISE(ABORT, 'audit disk full'); END;"],
        Db::Postgres(_) => &[
            "CREATE FUNCTION audit_full() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'audit disk full'; END $$",
            "CREATE TRIGGER audit_full BEFORE INSERT ON audit_log \
             FOR EACH ROW EXECUTE FUNCTION audit_full()",
        ],
    };
    for sql in statements {
        exec(db, sql).await;
    }
}

/// Drops what [`break_the_audit_log`] made.
pub async fn mend_the_audit_log(db: &Db) {
    let statements: &[&str] = match db {
        Db::Sqlite { .. } => &["DROP TRIGGER audit_full"],
        Db::Postgres(_) => &[
            "DROP TRIGGER audit_full ON audit_log",
            "DROP FUNCTION audit_full()",
        ],
    };
    for sql in statements {
        exec(db, sql).await;
    }
}

/// A fresh, migrated database of the kind under test (in a temp dir when it is SQLite), not
/// served by any broker.
pub struct TestDb {
    _dir: tempfile::TempDir,
    pub url: String,
    pub db: Db,
}

impl TestDb {
    pub async fn migrated() -> TestDb {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = super::test_database_url(dir.path()).await;
        let db = Db::connect(&url, 2).await.expect("connecting");
        db.migrate().await.expect("migrating");
        TestDb { _dir: dir, url, db }
    }

    /// Closes the pool and drops the database (a PostgreSQL one; SQLite's goes with its dir).
    pub async fn close(self) {
        self.db.close().await;
        super::drop_postgres_database(&self.url).await;
    }
}

/// A migrated database the harness chose (SQLite in a temp dir, or a fresh PostgreSQL
/// database), for tests of the storage layer without a server; `close` drops it.
pub struct Migrated {
    pub dir: tempfile::TempDir,
    pub url: String,
    pub db: Db,
}

impl Migrated {
    pub async fn new() -> Migrated {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = super::test_database_url(dir.path()).await;
        let db = Db::connect(&url, 4).await.expect("connecting");
        db.migrate().await.expect("migrating");
        Migrated { dir, url, db }
    }

    pub async fn close(self) {
        self.db.close().await;
        super::drop_postgres_database(&self.url).await;
    }
}
