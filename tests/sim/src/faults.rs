//! Fault switches of a Roger region, for tests of the clients' recovery: lost release and
//! refresh answers, event streams cut mid-way, token answers in the looser shape some servers
//! send, and a fixed delay on every request (latency benchmarks).
//!
//! All switches are off at start-up and change at run time through [`RegionFaults`]
//! (`RegionHandle::faults`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::region::Shared;

#[derive(Debug, Default)]
struct Switches {
    /// Release requests still to be processed and then answered with a dropped connection.
    drop_release_answers: u32,
    /// Refresh grants still to be carried out (the token rotated) and then answered with a
    /// dropped connection.
    drop_refresh_answers: u32,
    /// Token answers carry `expires_in` as a JSON string (`"1200"`), as some servers send it.
    expires_in_as_string: bool,
    /// Every event stream opened from now on is cut after this many events.
    cut_streams_after: Option<u32>,
    /// Added before every request of the region is handled.
    delay: Duration,
}

/// The region's fault switches and what they did.
#[derive(Debug, Default)]
pub struct RegionFaults {
    switches: Mutex<Switches>,
    dropped_release_answers: AtomicU64,
    dropped_refresh_answers: AtomicU64,
    cut_streams: AtomicU64,
    pairing_requests: AtomicU64,
}

impl RegionFaults {
    fn with<T>(&self, f: impl FnOnce(&mut Switches) -> T) -> T {
        let mut guard = self
            .switches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    /// The next `n` `POST /api/v1/jobs/release` requests are carried out (jobs released,
    /// replay recorded) but their answer is lost: the connection drops before the body.
    pub fn drop_release_answers(&self, n: u32) {
        self.with(|s| s.drop_release_answers = n);
    }

    /// The next `n` refresh-token grants are carried out (the refresh token rotated) but their
    /// answer is lost: the connection drops before the body.
    pub fn drop_refresh_answers(&self, n: u32) {
        self.with(|s| s.drop_refresh_answers = n);
    }

    /// Token answers send `expires_in` as a numeric string instead of a number.
    pub fn send_expires_in_as_string(&self, on: bool) {
        self.with(|s| s.expires_in_as_string = on);
    }

    /// Event streams are cut (the connection closed) after `events` events each, for every
    /// stream opened from now on; `None` stops cutting.
    pub fn cut_event_streams_after(&self, events: Option<u32>) {
        self.with(|s| s.cut_streams_after = events.map(|n| n.max(1)));
    }

    /// Every request of the region waits `delay` before it is handled (`Duration::ZERO` is off).
    pub fn delay_requests(&self, delay: Duration) {
        self.with(|s| s.delay = delay);
    }

    /// All switches off.
    pub fn reset(&self) {
        self.with(|s| *s = Switches::default());
    }

    /// Release answers dropped so far.
    pub fn dropped_release_answers(&self) -> u64 {
        self.dropped_release_answers.load(Ordering::Relaxed)
    }

    /// Refresh answers dropped so far.
    pub fn dropped_refresh_answers(&self) -> u64 {
        self.dropped_refresh_answers.load(Ordering::Relaxed)
    }

    /// Requests to `/api/v1/pairings/…` so far (a phone's lookups and decisions), whatever their
    /// outcome: lets a test check that a refused code sent nothing.
    pub fn pairing_requests(&self) -> u64 {
        self.pairing_requests.load(Ordering::Relaxed)
    }

    /// Event streams cut so far.
    pub fn cut_streams(&self) -> u64 {
        self.cut_streams.load(Ordering::Relaxed)
    }

    /// Whether this release's answer must be lost (and counts it).
    pub(crate) fn take_release_drop(&self) -> bool {
        self.take(
            |s| &mut s.drop_release_answers,
            &self.dropped_release_answers,
        )
    }

    /// Whether this refresh answer must be lost (and counts it).
    pub(crate) fn take_refresh_drop(&self) -> bool {
        self.take(
            |s| &mut s.drop_refresh_answers,
            &self.dropped_refresh_answers,
        )
    }

    fn take(&self, pending: impl FnOnce(&mut Switches) -> &mut u32, done: &AtomicU64) -> bool {
        let take = self.with(|s| {
            let left = pending(s);
            let take = *left > 0;
            *left = left.saturating_sub(1);
            take
        });
        if take {
            done.fetch_add(1, Ordering::Relaxed);
        }
        take
    }

    /// A successful token answer as the switches shape it.
    pub(crate) async fn token_answer_quirks(&self, response: Response) -> Response {
        if !self.with(|s| s.expires_in_as_string) {
            return response;
        }
        let (parts, body) = response.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
            return Response::from_parts(parts, Body::empty());
        };
        let mut json: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        if let Some(n) = json.get("expires_in").and_then(serde_json::Value::as_u64) {
            json["expires_in"] = n.to_string().into();
        }
        let body = serde_json::to_vec(&json).unwrap_or_else(|_| bytes.to_vec());
        let mut parts = parts;
        parts.headers.remove(axum::http::header::CONTENT_LENGTH);
        Response::from_parts(parts, Body::from(body))
    }

    /// How many events a stream opened now may carry before it is cut.
    pub(crate) fn stream_cut(&self) -> Option<u32> {
        self.with(|s| s.cut_streams_after)
    }

    pub(crate) fn count_cut_stream(&self) {
        self.cut_streams.fetch_add(1, Ordering::Relaxed);
    }

    fn delay(&self) -> Duration {
        self.with(|s| s.delay)
    }
}

/// A response whose status line and headers go out but whose body fails: the client sees the
/// connection drop before it learns the outcome.
pub(crate) fn lost_answer(response: Response) -> Response {
    let (parts, _) = response.into_response().into_parts();
    let body = Body::from_stream(futures::stream::once(async {
        // A short pause lets the headers leave first, as when a network drops mid-answer.
        tokio::time::sleep(Duration::from_millis(10)).await;
        Err::<axum::body::Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fault: answer lost",
        ))
    }));
    Response::from_parts(parts, body)
}

/// Middleware: the injected per-request delay (and the pairing request counter).
pub async fn delay_layer(State(state): State<Shared>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/api/v1/pairings") {
        state
            .faults
            .pairing_requests
            .fetch_add(1, Ordering::Relaxed);
    }
    let delay = state.faults.delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_drops_are_counted_down() {
        let faults = RegionFaults::default();
        assert!(!faults.take_release_drop());
        faults.drop_release_answers(2);
        assert!(faults.take_release_drop());
        assert!(faults.take_release_drop());
        assert!(!faults.take_release_drop());
        assert_eq!(faults.dropped_release_answers(), 2);
    }

    #[test]
    fn stream_cuts_and_delay_reset() {
        let faults = RegionFaults::default();
        faults.cut_event_streams_after(Some(0));
        assert_eq!(faults.stream_cut(), Some(1));
        faults.delay_requests(Duration::from_millis(5));
        assert_eq!(faults.delay(), Duration::from_millis(5));
        faults.reset();
        assert_eq!(faults.stream_cut(), None);
        assert!(faults.delay().is_zero());
    }
}
