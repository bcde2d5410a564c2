//! Storage of the decision's facts and of what it produced, below the routes and the writer:
//! the SQL that reads a disclosure's facts (`facts`) and stores a sealed packet (`packets`),
//! on either database, in the decision layer's plain types. A read runs either on the read
//! pool, outside the write queue, or inside a write transaction ([`Reader`]).

pub mod cache;
pub mod facts;
pub mod packets;

use crate::db::{Db, Tx};

/// Where a read runs: the read pool (outside the write queue; one connection for the whole
/// read) or an open write transaction (inside the queue, seeing the action's own writes).
pub enum Reader<'a> {
    Pool(&'a Db),
    Tx(&'a mut Tx),
}

impl<'a> From<&'a Db> for Reader<'a> {
    fn from(db: &'a Db) -> Self {
        Reader::Pool(db)
    }
}

impl<'a> From<&'a mut Tx> for Reader<'a> {
    fn from(tx: &'a mut Tx) -> Self {
        Reader::Tx(tx)
    }
}

/// Runs `$body` with `$conn` bound to a `&mut` connection of whichever database `$reader`
/// reads (a connection taken from the read pool, or the transaction's); the body is expanded
/// once per database, so both are type-checked. Execute with `&mut *$conn`.
macro_rules! on_reader {
    ($reader:expr, $conn:ident => $body:expr) => {
        match $reader {
            $crate::store::Reader::Pool($crate::db::Db::Sqlite { read, .. }) => {
                let mut held = read.acquire().await?;
                let $conn: &mut sqlx::SqliteConnection = &mut held;
                $body
            }
            $crate::store::Reader::Pool($crate::db::Db::Postgres(pool)) => {
                let mut held = pool.acquire().await?;
                let $conn: &mut sqlx::PgConnection = &mut held;
                $body
            }
            $crate::store::Reader::Tx($crate::db::Tx::Sqlite(c)) => {
                let $conn: &mut sqlx::SqliteConnection = &mut **c;
                $body
            }
            $crate::store::Reader::Tx($crate::db::Tx::Postgres(c)) => {
                let $conn: &mut sqlx::PgConnection = &mut **c;
                $body
            }
        }
    };
}
pub(crate) use on_reader;

/// A stored JSON list column.
fn json_list<T: serde::de::DeserializeOwned>(text: &str) -> Result<Vec<T>, sqlx::Error> {
    serde_json::from_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// A stored vocabulary term.
pub(crate) fn term<T: std::str::FromStr>(text: &str) -> Result<T, sqlx::Error>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    text.parse::<T>()
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// What a packet names as its record kind when it carries no record: a duty's notice about a
/// case (policies/duties.csv).
pub const NO_RECORD_KIND: &str = "case_notification";
