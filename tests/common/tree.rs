//! Forging the audit log as someone who controls the database would: cutting it short with
//! the head (and the tree it keeps) moved back, so the chain alone still holds.

use broker::db::Db;
use sqlx::Row;

async fn exec(db: &Db, sql: &str) {
    broker::with_db!(db, pool => {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    })
}

/// Points the head at entry `seq`: its hash, and the tree's frontier at that size made from the
/// stored nodes.
pub async fn move_head_to(db: &Db, seq: i64) {
    let hash: String = broker::with_db!(db, pool => {
        sqlx::query("SELECT hash FROM audit_log WHERE seq = $1")
            .bind(seq)
            .fetch_one(pool)
            .await
            .expect("the entry")
            .get(0)
    });
    let mut frontier = Vec::new();
    for key in broker::audit::tree::Frontier::keys(seq as u64) {
        let node: Vec<u8> = broker::with_db!(db, pool => {
            sqlx::query("SELECT hash FROM audit_tree WHERE node = $1")
                .bind(key)
                .fetch_one(pool)
                .await
                .expect("a frontier node")
                .get(0)
        });
        frontier.extend(node);
    }
    broker::with_db!(db, pool => {
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2, tree_size = $1, tree = $3 WHERE id = 1")
            .bind(seq)
            .bind(&hash)
            .bind(frontier)
            .execute(pool)
            .await
            .expect("moving the head");
    })
}

/// Cuts the log after entry `keep`: its later entries, their record links and every tree node
/// covering one of them go, and the head moves back to `keep`.
pub async fn truncate(db: &Db, keep: i64) {
    exec(db, &format!("DELETE FROM audit_records WHERE seq > {keep}")).await;
    exec(
        db,
        &format!("DELETE FROM audit_reviews WHERE override_seq > {keep}"),
    )
    .await;
    exec(db, &format!("DELETE FROM audit_log WHERE seq > {keep}")).await;
    // the node at level L, index i covers leaves i << L .. (i + 1) << L (0-based): it covers a
    // leaf at or after `keep` exactly when i >= keep >> L
    for level in 0..48i64 {
        exec(
            db,
            &format!(
                "DELETE FROM audit_tree WHERE node >= {} AND node < {}",
                (level << 48) + (keep >> level),
                (level + 1) << 48
            ),
        )
        .await;
    }
    move_head_to(db, keep).await;
}
