//! Deadlines for requests that carry file content (a simple upload, an upload fragment).
//!
//! A fixed whole-request timeout is wrong for them: 4 MiB on a slow mobile link takes minutes,
//! so a fixed 30 s cuts every such upload off. reqwest's `read_timeout` does not help either:
//! until the response headers arrive it is one fixed deadline from the start of the request,
//! not reset while the body is sent. And progress cannot be watched from here: the HTTP stack
//! takes a whole fragment into its buffers at once, long before the bytes are on the wire.
//!
//! So each content request gets its own deadline, scaled to its size: the usual request
//! timeout (for the server to answer) plus the time the body needs at a floor rate of
//! [`FLOOR_RATE`]. A link that moves at least that fast never has an upload cut; a stuck
//! connection or a silent server is still noticed within a bounded time (80 s for a full
//! 3.125 MiB fragment with the default 30 s timeout). Downloads need none of this: their
//! response body is bounded per read (the timeout restarts with every chunk received).

use std::time::Duration;

/// The slowest link an upload is expected to work on, in bytes per second (512 kbit/s).
pub(crate) const FLOOR_RATE: u64 = 64 * 1024;

/// The whole-request deadline of a request carrying `len` bytes of content: `timeout` for the
/// answer plus the body at `floor_rate` bytes per second.
pub(crate) fn for_content(len: u64, timeout: Duration, floor_rate: u64) -> Duration {
    let millis = len.saturating_mul(1000) / floor_rate.max(1);
    timeout.saturating_add(Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_grow_with_the_body() {
        let t = Duration::from_secs(30);
        assert_eq!(for_content(0, t, FLOOR_RATE), t);
        // A full fragment (3.125 MiB) at 64 KiB/s: 50 s more.
        assert_eq!(
            for_content(10 * 320 * 1024, t, FLOOR_RATE),
            Duration::from_secs(80)
        );
        assert_eq!(
            for_content(4 * 1024 * 1024, t, FLOOR_RATE),
            Duration::from_secs(94)
        );
        assert!(for_content(u64::MAX, t, 0).as_secs() > 1 << 40);
    }
}
