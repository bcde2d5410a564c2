//! Bounds on one client connection (ARCHITECTURE.md, "Timeouts and caps"): the caps on open
//! connections per agency and per client certificate, where a newcomer at a cap closes the
//! longest idle connection instead of being refused (`Slots`), the idle watchdog (no request in flight for `idle_timeout`), the
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
use tokio::sync::Notify;

/// Open connections per client-certificate agency (at most `agency_cap`) and per client
/// certificate (at most `client_cap`, within its agency's). A new connection over a cap closes
/// the connection of that agency or certificate idle the longest (at least `evictable_after`),
/// and is refused only when none is idle.
#[derive(Debug)]
pub struct Slots {
    agency_cap: usize,
    client_cap: usize,
    evictable_after: Duration,
    next_id: AtomicU64,
    open: Mutex<HashMap<Arc<str>, Vec<Open>>>,
}

#[derive(Debug)]
struct Open {
    id: u64,
    client: Arc<str>,
    activity: Arc<Activity>,
    close: Arc<Notify>,
}

/// One open connection of an agency; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<Slots>,
    agency: Arc<str>,
    id: u64,
    close: Arc<Notify>,
}

/// The cap a refused connection is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// `max_connections_per_agency`, all of them busy.
    Agency(usize),
    /// `max_connections_per_client`, all of the certificate's busy.
    Client(usize),
}

impl Slots {
    pub fn new(agency_cap: usize, client_cap: usize, evictable_after: Duration) -> Arc<Slots> {
        Arc::new(Slots {
            agency_cap,
            client_cap: client_cap.min(agency_cap),
            evictable_after,
            next_id: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for a connection of `agency` over the certificate `client` (its fingerprint),
    /// making room at a cap by closing the longest idle connection over that cap.
    pub fn take(
        self: &Arc<Self>,
        agency: Arc<str>,
        client: Arc<str>,
        activity: Arc<Activity>,
    ) -> Result<Slot, Full> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let list = open.entry(agency.clone()).or_default();
        if list.iter().filter(|o| o.client == client).count() >= self.client_cap {
            if !self.close_longest_idle(list, |o| o.client == client) {
                // a certificate holding all its agency's connections is over the agency's cap
                return Err(if list.len() >= self.agency_cap {
                    Full::Agency(self.agency_cap)
                } else {
                    Full::Client(self.client_cap)
                });
            }
        } else if list.len() >= self.agency_cap && !self.close_longest_idle(list, |_| true) {
            return Err(Full::Agency(self.agency_cap));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let close = Arc::new(Notify::new());
        list.push(Open {
            id,
            client,
            activity,
            close: close.clone(),
        });
        Ok(Slot {
            slots: self.clone(),
            agency,
            id,
            close,
        })
    }

    /// Tells the connection of `list` matching `of` idle the longest to close, and no longer
    /// counts it; false when none has been idle `evictable_after`.
    fn close_longest_idle(&self, list: &mut Vec<Open>, of: impl Fn(&Open) -> bool) -> bool {
        let longest = list
            .iter()
            .enumerate()
            .filter(|(_, o)| of(o))
            .filter_map(|(i, o)| o.activity.idle_for().map(|idle| (i, idle)))
            .filter(|(_, idle)| *idle >= self.evictable_after)
            .max_by_key(|(_, idle)| *idle);
        let Some((i, _)) = longest else {
            return false;
        };
        list.swap_remove(i).close.notify_one();
        true
    }

    /// Connections `agency` has open.
    pub fn open(&self, agency: &str) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(agency).map_or(0, Vec::len)
    }
}

impl Slot {
    /// The connection's number, unique in the process.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Resolves when a new connection has taken this one's place: it is to close.
    pub async fn closed(&self) {
        self.close.notified().await;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(list) = open.get_mut(&self.agency) {
            list.retain(|o| o.id != self.id);
            if list.is_empty() {
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

    /// Resolves as soon as the connection has no request in flight.
    pub async fn until_idle(&self) {
        while self.idle_for().is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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

/// Refused TLS handshakes: each is counted by its reason (`crypto::handshake_refusal`), and
/// at most one summary line is logged per interval, saying how many there were since the
/// last and why, instead of a line each.
#[derive(Debug, Default)]
pub struct Refusals {
    since_last_line: Mutex<std::collections::BTreeMap<&'static str, u64>>,
}

impl Refusals {
    pub fn note(&self, reason: &'static str) {
        let mut counts = self
            .since_last_line
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *counts.entry(reason).or_default() += 1;
    }

    /// Logs the count since the last line, if any, and starts counting again.
    pub fn summarise(&self, interval: Duration) {
        let counts = std::mem::take(
            &mut *self
                .since_last_line
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        let n: u64 = counts.values().sum();
        if n > 0 {
            let reasons = counts
                .iter()
                .map(|(reason, n)| format!("{reason}:{n}"))
                .collect::<Vec<_>>()
                .join(",");
            tracing::warn!(
                refused = n,
                interval_ms = interval.as_millis() as u64,
                reasons = %reasons,
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

    /// A connection with a request in flight (so it cannot be closed to make room).
    fn busy() -> (Arc<Activity>, Busy) {
        let activity = Activity::new();
        let busy = activity.begin();
        (activity, busy)
    }

    #[test]
    fn a_slot_is_refused_beyond_the_cap_and_given_back_on_drop() {
        let slots = Slots::new(2, 2, Duration::ZERO);
        let (a, cert): (Arc<str>, Arc<str>) = (Arc::from("csc"), Arc::from("cert"));
        let (one_busy, _b1) = busy();
        let (two_busy, _b2) = busy();
        let one = slots.take(a.clone(), cert.clone(), one_busy).unwrap();
        let _two = slots.take(a.clone(), cert.clone(), two_busy).unwrap();
        assert!(slots.take(a.clone(), cert.clone(), busy().0).is_err());
        assert!(
            slots
                .take(Arc::from("police"), cert.clone(), busy().0)
                .is_ok()
        );
        drop(one);
        assert_eq!(slots.open("csc"), 1);
        assert!(slots.take(a, cert, busy().0).is_ok());
    }

    #[test]
    fn at_a_cap_the_longest_idle_connection_is_closed_and_a_busy_one_never() {
        let slots = Slots::new(3, 2, Duration::ZERO);
        let csc: Arc<str> = Arc::from("csc");
        let (mine, theirs): (Arc<str>, Arc<str>) = (Arc::from("mine"), Arc::from("theirs"));
        // the certificate's cap: its idle connection makes room, its busy one does not
        let (held, _busy) = busy();
        let idle = Activity::new();
        let busy_slot = slots.take(csc.clone(), mine.clone(), held).unwrap();
        let idle_slot = slots.take(csc.clone(), mine.clone(), idle.clone()).unwrap();
        let (third, _b3) = busy();
        let _third = slots.take(csc.clone(), mine.clone(), third).unwrap();
        assert_eq!(slots.open("csc"), 2, "the idle one no longer counts");
        let closing = idle_slot.closed();
        let _ = &busy_slot;
        assert!(
            futures_util::FutureExt::now_or_never(closing).is_some(),
            "the idle connection is told to close"
        );
        assert_eq!(
            slots.take(csc.clone(), mine.clone(), busy().0).unwrap_err(),
            Full::Client(2)
        );
        // the agency's cap: another certificate's connection fills it; then none is idle
        let (other, _b4) = busy();
        let _other = slots.take(csc.clone(), theirs.clone(), other).unwrap();
        assert_eq!(
            slots.take(csc.clone(), theirs, busy().0).unwrap_err(),
            Full::Agency(3)
        );
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
