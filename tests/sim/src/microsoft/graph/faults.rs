//! Fault switches a test flips at runtime, and the Graph emulator's request counters.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Status of an injected throttling answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThrottleStatus {
    /// 429 Too Many Requests (`activityLimitReached`).
    TooManyRequests,
    /// 503 Service Unavailable (`serviceNotAvailable`).
    ServiceUnavailable,
}

impl ThrottleStatus {
    /// The HTTP status code.
    pub fn code(self) -> u16 {
        match self {
            ThrottleStatus::TooManyRequests => 429,
            ThrottleStatus::ServiceUnavailable => 503,
        }
    }
}

/// Fault injection for the Graph API host and the content host, switchable while a test runs.
/// Every switch is off at start-up.
#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<FaultState>,
    /// Access tokens minted in an earlier generation are expired.
    token_generation: AtomicU64,
}

#[derive(Debug, Default)]
struct FaultState {
    throttle: Option<Throttle>,
    page_size: Option<usize>,
    drop_upload_after: Option<u64>,
    uploaded_since_armed: u64,
    cut_downloads: std::collections::VecDeque<u64>,
    access_token_secs: Option<u64>,
    failing_fragments: Option<FailingFragments>,
    download_url_secs: Option<u64>,
    throttled_downloads: Option<(u32, u64)>,
    free_space: Option<u64>,
    lose_simple_uploads: u32,
}

#[derive(Debug)]
struct FailingFragments {
    status: u16,
    which: std::collections::BTreeSet<u64>,
    seen: u64,
}

#[derive(Debug)]
struct Throttle {
    every: u32,
    status: ThrottleStatus,
    retry_after_secs: u64,
    seen: u32,
}

impl Faults {
    fn state(&self) -> MutexGuard<'_, FaultState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// From now on every `n`-th request (to the Graph API or the content host, counted from
    /// this call) is answered `status` with `Retry-After: retry_after_secs` and not processed.
    /// `n = 1` throttles every request; `n = 0` switches throttling off.
    pub fn throttle_every(&self, n: u32, status: ThrottleStatus, retry_after_secs: u64) {
        self.state().throttle = (n > 0).then_some(Throttle {
            every: n,
            status,
            retry_after_secs,
            seen: 0,
        });
    }

    /// Switches throttling off.
    pub fn stop_throttling(&self) {
        self.state().throttle = None;
    }

    /// Children listings return at most `n` items per page (at least 1), whatever `$top` says:
    /// tiny pages, to exercise `@odata.nextLink` paging.
    pub fn page_size_override(&self, n: usize) {
        self.state().page_size = Some(n.max(1));
    }

    /// Back to Graph's page sizes.
    pub fn clear_page_size_override(&self) {
        self.state().page_size = None;
    }

    /// Once: when the content host has received `bytes` more bytes of upload-session fragments
    /// (counted from this call), it drops the connection carrying the current fragment without an
    /// answer. The fragment is discarded, as Graph does with an interrupted request; the session
    /// stays open for a resume.
    pub fn drop_upload_connection_after(&self, bytes: u64) {
        let mut state = self.state();
        state.drop_upload_after = Some(bytes);
        state.uploaded_since_armed = 0;
    }

    /// Once per call: the next download from the content host announces the whole body
    /// (`Content-Length`) but the connection is dropped after `bytes` bytes of it, as when a
    /// phone loses its network mid-transfer. Calls queue: two calls cut the next two downloads.
    pub fn drop_download_connection_after(&self, bytes: u64) {
        self.state().cut_downloads.push_back(bytes);
    }

    /// Every access token issued so far is expired from now on (Graph answers 401
    /// `InvalidAuthenticationToken`); refresh tokens are untouched, so a refresh recovers.
    pub fn expire_tokens_now(&self) {
        self.token_generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Access tokens issued from now on live `secs` seconds instead of the configured lifetime
    /// (`None` restores it).
    pub fn access_token_lifetime(&self, secs: Option<u64>) {
        self.state().access_token_secs = secs;
    }

    /// Upload-session fragment PUTs number `which` (0 for the next one, counted from this call)
    /// are answered `status` (500, 502 or 504: `generalException`, `badGateway`,
    /// `gatewayTimeout`) and not stored, as when a storage node fails; the session stays open.
    pub fn fail_upload_fragments(&self, status: u16, which: &[u64]) {
        self.state().failing_fragments = Some(FailingFragments {
            status,
            which: which.iter().copied().collect(),
            seen: 0,
        });
    }

    /// Download URLs handed out from now on are valid `secs` seconds instead of the configured
    /// lifetime (`None` restores it); an expired one is answered 401 `unauthenticated`.
    pub fn download_url_lifetime(&self, secs: Option<u64>) {
        self.state().download_url_secs = secs;
    }

    /// The next `count` requests to download URLs are answered 429 `activityLimitReached` with
    /// `Retry-After: retry_after_secs` (only the content host's downloads, so a test can make a
    /// URL outlive its lifetime while the client waits).
    pub fn throttle_next_downloads(&self, count: u32, retry_after_secs: u64) {
        self.state().throttled_downloads = (count > 0).then_some((count, retry_after_secs));
    }

    /// Every drive has at most `bytes` free from now on (`None`: just its quota): a simple
    /// upload, an upload session whose `item.fileSize` or first fragment's total does not fit,
    /// or a commit past it, is answered 507 `quotaLimitReached`.
    pub fn limit_free_space(&self, bytes: Option<u64>) {
        self.state().free_space = bytes;
    }

    /// The next `n` simple uploads (`PUT …/content`) are stored, and then their response is
    /// lost: the connection stays silent until the client gives up, as when a phone loses the
    /// network right after the server committed.
    pub fn lose_simple_upload_responses(&self, n: u32) {
        self.state().lose_simple_uploads = n;
    }

    /// Switches every fault off (tokens already expired stay expired).
    pub fn reset(&self) {
        let mut state = self.state();
        *state = FaultState::default();
    }

    /// Whether this request is throttled: `(status, retry_after_secs)`.
    pub(crate) fn throttle(&self) -> Option<(ThrottleStatus, u64)> {
        let mut state = self.state();
        let throttle = state.throttle.as_mut()?;
        throttle.seen = throttle.seen.wrapping_add(1);
        (throttle.seen % throttle.every == 0)
            .then_some((throttle.status, throttle.retry_after_secs))
    }

    /// The page size to use when the request asked for `requested`.
    pub(crate) fn page_size(&self, requested: usize) -> usize {
        match self.state().page_size {
            Some(n) => n.min(requested),
            None => requested,
        }
    }

    /// Records `n` more fragment bytes; `true` when the connection must be dropped now.
    pub(crate) fn upload_progress(&self, n: u64) -> bool {
        let mut state = self.state();
        let Some(limit) = state.drop_upload_after else {
            return false;
        };
        state.uploaded_since_armed = state.uploaded_since_armed.saturating_add(n);
        if state.uploaded_since_armed >= limit {
            state.drop_upload_after = None;
            return true;
        }
        false
    }

    /// Where to cut the download being served now, if a cut is armed (each cut is used once).
    pub(crate) fn take_download_cut(&self) -> Option<u64> {
        self.state().cut_downloads.pop_front()
    }

    pub(crate) fn token_generation(&self) -> u64 {
        self.token_generation.load(Ordering::SeqCst)
    }

    pub(crate) fn access_token_secs_override(&self) -> Option<u64> {
        self.state().access_token_secs
    }

    /// The status to fail the fragment PUT being served with, if it is one of the chosen ones.
    pub(crate) fn fragment_failure(&self) -> Option<u16> {
        let mut state = self.state();
        let failing = state.failing_fragments.as_mut()?;
        let n = failing.seen;
        failing.seen += 1;
        failing.which.contains(&n).then_some(failing.status)
    }

    pub(crate) fn download_url_secs_override(&self) -> Option<u64> {
        self.state().download_url_secs
    }

    /// `Some(retry_after_secs)` when this download request is to be throttled.
    pub(crate) fn throttle_download(&self) -> Option<u64> {
        let mut state = self.state();
        let (left, retry_after) = state.throttled_downloads.as_mut()?;
        let retry_after = *retry_after;
        *left -= 1;
        if *left == 0 {
            state.throttled_downloads = None;
        }
        Some(retry_after)
    }

    /// 507 `quotaLimitReached` when adding `added` bytes exceeds the free-space limit.
    pub(crate) fn check_free_space(&self, added: u64) -> Result<(), super::error::GraphError> {
        match self.state().free_space {
            Some(free) if added > free => Err(super::error::GraphError::quota_limit_reached()),
            _ => Ok(()),
        }
    }

    /// Whether the response of the simple upload being served is to be lost.
    pub(crate) fn take_lost_simple_upload(&self) -> bool {
        let mut state = self.state();
        if state.lose_simple_uploads == 0 {
            return false;
        }
        state.lose_simple_uploads -= 1;
        true
    }
}

/// Request counters of the Graph API host and the content host.
#[derive(Debug, Default)]
pub struct GraphStats {
    routes: Mutex<BTreeMap<&'static str, u64>>,
    content_authorization_headers: AtomicU64,
    throttled: AtomicU64,
    dropped_connections: AtomicU64,
    fragment_bytes: AtomicU64,
    failed_fragments: AtomicU64,
    lost_responses: AtomicU64,
}

impl GraphStats {
    pub(crate) fn count(&self, route: &'static str) {
        *self
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(route)
            .or_default() += 1;
    }

    pub(crate) fn count_content_authorization(&self) {
        self.content_authorization_headers
            .fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_dropped(&self) {
        self.dropped_connections.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_fragment_bytes(&self, n: u64) {
        self.fragment_bytes.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn count_failed_fragment(&self) {
        self.failed_fragments.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_lost_response(&self) {
        self.lost_responses.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests on one route, e.g. `"GET children"` (the labels are listed in `docs/protocol.md`).
    pub fn requests(&self, route: &str) -> u64 {
        self.routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(route)
            .copied()
            .unwrap_or_default()
    }

    /// Every route with its count.
    pub fn all_requests(&self) -> BTreeMap<String, u64> {
        self.routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect()
    }

    /// Requests that reached the content host (upload and download URLs) with an
    /// `Authorization` header: a client must never send its bearer token there.
    pub fn authorization_headers_on_content_host(&self) -> u64 {
        self.content_authorization_headers.load(Ordering::Relaxed)
    }

    /// Requests answered 429 or 503 by the throttling switch.
    pub fn throttled_responses(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    /// Upload connections dropped by the fault switch.
    pub fn dropped_connections(&self) -> u64 {
        self.dropped_connections.load(Ordering::Relaxed)
    }

    /// Bytes of upload-session fragments the content host received (stored or not).
    pub fn upload_fragment_bytes(&self) -> u64 {
        self.fragment_bytes.load(Ordering::Relaxed)
    }

    /// Fragment PUTs answered with a 5xx by the fault switch.
    pub fn failed_fragments(&self) -> u64 {
        self.failed_fragments.load(Ordering::Relaxed)
    }

    /// Simple uploads stored whose response the fault switch withheld.
    pub fn lost_responses(&self) -> u64 {
        self.lost_responses.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_every_nth_request() {
        let faults = Faults::default();
        assert_eq!(faults.throttle(), None);
        faults.throttle_every(3, ThrottleStatus::ServiceUnavailable, 7);
        let hits: Vec<bool> = (0..6).map(|_| faults.throttle().is_some()).collect();
        assert_eq!(hits, [false, false, true, false, false, true]);
        faults.stop_throttling();
        assert_eq!(faults.throttle(), None);
    }

    #[test]
    fn drop_switch_fires_once() {
        let faults = Faults::default();
        assert!(!faults.upload_progress(1 << 30));
        faults.drop_upload_connection_after(100);
        assert!(!faults.upload_progress(60));
        assert!(faults.upload_progress(60));
        assert!(!faults.upload_progress(1000));
    }

    #[test]
    fn chosen_fragments_fail_once_each() {
        let faults = Faults::default();
        assert_eq!(faults.fragment_failure(), None);
        faults.fail_upload_fragments(502, &[1, 3]);
        let seen: Vec<_> = (0..5).map(|_| faults.fragment_failure()).collect();
        assert_eq!(seen, [None, Some(502), None, Some(502), None]);
    }

    #[test]
    fn download_throttling_and_lost_responses_are_counted_down() {
        let faults = Faults::default();
        faults.throttle_next_downloads(2, 3);
        assert_eq!(faults.throttle_download(), Some(3));
        assert_eq!(faults.throttle_download(), Some(3));
        assert_eq!(faults.throttle_download(), None);
        faults.lose_simple_upload_responses(1);
        assert!(faults.take_lost_simple_upload());
        assert!(!faults.take_lost_simple_upload());
        faults.limit_free_space(Some(10));
        assert!(faults.check_free_space(10).is_ok());
        assert_eq!(
            faults.check_free_space(11).unwrap_err().code(),
            "quotaLimitReached"
        );
    }

    #[test]
    fn page_override_caps_the_requested_size() {
        let faults = Faults::default();
        assert_eq!(faults.page_size(200), 200);
        faults.page_size_override(0);
        assert_eq!(faults.page_size(200), 1);
        faults.page_size_override(2);
        assert_eq!(faults.page_size(1), 1);
        faults.reset();
        assert_eq!(faults.page_size(200), 200);
    }
}
