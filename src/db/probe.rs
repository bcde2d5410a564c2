//! The probe: does the database answer `SELECT 1` within a short deadline? `/readyz` answers
//! from it, and a request that has waited long is checked against it (`routes::edge::bound`).

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::Db;

/// One probe at a time: callers arriving while it runs wait for it. A failure that ended after
/// they asked is theirs too; a success counts only from a probe started after they asked (so
/// no caller is told the database answers on an answer older than its question). A stalled
/// database costs one connection per probe, not one per caller.
#[derive(Debug)]
pub struct Probe {
    db: Db,
    deadline: Duration,
    /// The last probe: when it started, when it ended, its answer.
    last: Mutex<Option<Answer>>,
}

#[derive(Debug)]
struct Answer {
    started: Instant,
    ended: Instant,
    answer: Result<(), String>,
}

impl Probe {
    pub fn new(db: Db, deadline: Duration) -> Probe {
        Probe {
            db,
            deadline,
            last: Mutex::new(None),
        }
    }

    /// `Ok` if the database answered a read, asked after this call began, within the
    /// deadline; otherwise why not.
    pub async fn check(&self) -> Result<(), String> {
        let asked = Instant::now();
        let mut last = self.last.lock().await;
        if let Some(last) = &*last
            && (last.started >= asked || (last.answer.is_err() && last.ended >= asked))
        {
            return last.answer.clone();
        }
        let started = Instant::now();
        let answer = super::within(self.deadline, "the probe (SELECT 1)", self.db.ping())
            .await
            .map_err(|e| e.to_string());
        *last = Some(Answer {
            started,
            ended: Instant::now(),
            answer: answer.clone(),
        });
        answer
    }
}
