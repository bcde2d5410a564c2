//! Logging: human-readable by default, JSON on request (`[log] format = "json"` or
//! `BROKER_LOG_FORMAT=json`); the level from `RUST_LOG` (default `info`). Nothing logs a token,
//! key or record content: handlers log identifiers and codes only. [`Unavailable`] keeps an
//! outage's 503s to a few lines per interval.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// The log of 503s: the first of an interval is logged at once with its cause; the rest are
/// counted and summarised in one line per interval (how many, the last cause), so an outage
/// writes a few lines a minute, not a line per request.
#[derive(Debug)]
pub struct Unavailable {
    interval: Duration,
    window: Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    /// When a line was last written.
    logged_at: Option<Instant>,
    /// 503s since then not yet in a line, and the last one's cause.
    unlogged: u64,
    last: Option<Arc<str>>,
}

impl Unavailable {
    pub fn new(interval: Duration) -> Arc<Unavailable> {
        Arc::new(Unavailable {
            interval,
            window: Mutex::new(Window::default()),
        })
    }

    /// A 503 answered for `cause`.
    pub fn note(&self, cause: &str) {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        let quiet = w.logged_at.is_none_or(|at| at.elapsed() >= self.interval);
        if quiet && w.unlogged == 0 {
            w.logged_at = Some(Instant::now());
            drop(w);
            tracing::error!(
                cause = %crate::text::escape(cause),
                interval_ms = self.interval.as_millis() as u64,
                "storage unavailable: answered 503 (more in this interval are summarised)"
            );
        } else {
            w.unlogged += 1;
            w.last = Some(Arc::from(cause));
        }
    }

    /// Logs the 503s not yet in a line, if any.
    pub fn summarise(&self) {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        let n = std::mem::take(&mut w.unlogged);
        let last = w.last.take();
        if n == 0 {
            return;
        }
        w.logged_at = Some(Instant::now());
        drop(w);
        tracing::error!(
            answered_503 = n,
            interval_ms = self.interval.as_millis() as u64,
            last_cause = %crate::text::escape(last.as_deref().unwrap_or("")),
            "storage unavailable: requests answered 503 since the last line"
        );
    }

    /// Summarises every interval until the task is dropped.
    pub async fn run(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            self.summarise();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_503_of_an_interval_is_logged_and_the_rest_are_counted_for_the_summary() {
        let log = Unavailable::new(Duration::from_secs(3600));
        for n in 0..5 {
            log.note(&format!("cause {n}"));
        }
        let w = log.window.lock().unwrap();
        assert!(w.logged_at.is_some(), "the first is logged at once");
        assert_eq!(w.unlogged, 4, "the other four wait for the summary");
        assert_eq!(w.last.as_deref(), Some("cause 4"));
        drop(w);
        log.summarise();
        assert_eq!(log.window.lock().unwrap().unlogged, 0);
    }
}
