//! Bounds on one client connection (ARCHITECTURE.md, "Timeouts and caps"): the per-agency cap
//! on open connections, the idle watchdog (no request in flight for `idle_timeout`), the
//! deadline on reading a request body, and the rate-limited summary of refused handshakes.
//! The accept loop (`server.rs`) puts them together.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};

/// Open connections per client-certificate agency, at most `cap` each.
#[derive(Debug)]
pub struct Slots {
    cap: usize,
    open: Mutex<HashMap<Arc<str>, usize>>,
}

/// One open connection of an agency; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<Slots>,
    agency: Arc<str>,
}

impl Slots {
    pub fn new(cap: usize) -> Arc<Slots> {
        Arc::new(Slots {
            cap,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for `agency`, or `None` when it already has `cap` connections open.
    pub fn take(self: &Arc<Self>, agency: Arc<str>) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(agency.clone()).or_insert(0);
        if *n >= self.cap {
            return None;
        }
        *n += 1;
        Some(Slot {
            slots: self.clone(),
            agency,
        })
    }

    /// Connections `agency` has open.
    pub fn open(&self, agency: &str) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(agency).copied().unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.agency) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.agency);
            }
        }
    }
}

/// Requests in flight on one connection, and since when it has had none.
#[derive(Debug)]
pub struct Activity {
    start: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `start` when the last request finished (its response body sent).
    idle_since_ms: AtomicU64,
}

/// One request in flight, held until its response body has been sent or dropped.
#[derive(Debug)]
pub struct Busy(Arc<Activity>);

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            start: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
        })
    }

    pub fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Busy(self.clone())
    }

    /// How long the connection has had no request in flight (`None` while one is).
    pub fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let since = Duration::from_millis(self.idle_since_ms.load(Ordering::SeqCst));
        Some(self.start.elapsed().saturating_sub(since))
    }

    /// Resolves once the connection has had no request in flight for `limit`.
    pub async fn idle(&self, limit: Duration) {
        loop {
            let wait = match self.idle_for() {
                Some(idle) if idle >= limit => return,
                Some(idle) => limit - idle,
                None => limit,
            };
            tokio::time::sleep(wait).await;
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let a = &self.0;
        let now = a.start.elapsed().as_millis() as u64;
        a.idle_since_ms.store(now, Ordering::SeqCst);
        a.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A request body still arriving after the body read timeout.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub struct BodyTimedOut(pub Duration);

/// A request body that fails with [`BodyTimedOut`] when it has not ended by a deadline set
/// when the request's head arrived: a total bound, so a body trickled a byte at a time is cut
/// off as surely as a silent one (tower-http's `TimeoutBody` resets on every frame).
pub struct DeadlineBody<B> {
    body: B,
    limit: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl<B> DeadlineBody<B> {
    pub fn new(body: B, limit: Duration) -> DeadlineBody<B> {
        DeadlineBody {
            body,
            limit,
            sleep: Box::pin(tokio::time::sleep(limit)),
        }
    }
}

impl<B> Body for DeadlineBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimedOut(self.limit)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Refused TLS handshakes: each is counted, and at most one summary line is logged per
/// interval, saying how many there were since the last, instead of a line each.
#[derive(Debug, Default)]
pub struct Refusals {
    since_last_line: AtomicU64,
}

impl Refusals {
    pub fn note(&self) {
        self.since_last_line.fetch_add(1, Ordering::Relaxed);
    }

    /// Logs the count since the last line, if any, and starts counting again.
    pub fn summarise(&self, interval: Duration) {
        let n = self.since_last_line.swap(0, Ordering::Relaxed);
        if n > 0 {
            tracing::warn!(
                refused = n,
                interval_ms = interval.as_millis() as u64,
                "TLS handshakes refused (no valid client certificate, or not TLS)"
            );
        }
    }

    /// Summarises every `interval` until the task is dropped.
    pub async fn run(self: Arc<Self>, interval: Duration) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            self.summarise(interval);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_refused_beyond_the_cap_and_given_back_on_drop() {
        let slots = Slots::new(2);
        let a: Arc<str> = Arc::from("csc");
        let one = slots.take(a.clone()).unwrap();
        let _two = slots.take(a.clone()).unwrap();
        assert!(slots.take(a.clone()).is_none());
        assert!(slots.take(Arc::from("police")).is_some());
        drop(one);
        assert_eq!(slots.open("csc"), 1);
        assert!(slots.take(a).is_some());
    }

    #[test]
    fn a_connection_is_idle_only_with_no_request_in_flight() {
        let activity = Activity::new();
        let busy = activity.begin();
        assert_eq!(activity.idle_for(), None);
        drop(busy);
        assert!(activity.idle_for().unwrap() < Duration::from_secs(1));
    }
}
