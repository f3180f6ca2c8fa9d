//! The simulated clock shared by every part of the reference cloud.
//!
//! Time flows with the real clock, plus an offset that tests move forward with
//! [`SimClock::advance`] to expire codes and tokens without sleeping.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

/// A controllable clock: real time since start-up plus whatever tests added.
#[derive(Clone)]
pub struct SimClock {
    inner: Arc<ClockInner>,
}

struct ClockInner {
    start_wall: Duration,
    start: Instant,
    offset: Mutex<Duration>,
}

impl SimClock {
    /// A clock that starts at the current wall-clock time.
    pub fn new() -> Self {
        let start_wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            inner: Arc::new(ClockInner {
                start_wall,
                start: Instant::now(),
                offset: Mutex::new(Duration::ZERO),
            }),
        }
    }

    /// The current simulated time.
    pub fn now(&self) -> SimTime {
        let offset = *self
            .inner
            .offset
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        SimTime(self.inner.start_wall + self.inner.start.elapsed() + offset)
    }

    /// Moves simulated time forward (it never goes back).
    pub fn advance(&self, by: Duration) {
        let mut offset = self
            .inner
            .offset
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *offset += by;
    }
}

impl Default for SimClock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SimClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SimClock").field(&self.now()).finish()
    }
}

/// A point in simulated time, as the duration since the Unix epoch.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(Duration);

impl SimTime {
    /// Seconds since the Unix epoch.
    pub fn unix_seconds(self) -> u64 {
        self.0.as_secs()
    }

    /// `self + d`.
    pub fn plus(self, d: Duration) -> Self {
        SimTime(self.0.saturating_add(d))
    }

    /// How long from `self` until `later` (zero if `later` is not after `self`).
    pub fn until(self, later: SimTime) -> Duration {
        later.0.saturating_sub(self.0)
    }

    /// RFC 3339 in UTC with millisecond precision, e.g. `2026-05-01T12:00:00.000Z`.
    pub fn rfc3339(self) -> String {
        let secs = self.0.as_secs();
        let millis = self.0.subsec_millis();
        let days = secs / 86_400;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days as i64);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            rem / 3600,
            (rem % 3600) / 60,
            rem % 60
        )
    }
}

impl fmt::Debug for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

impl Serialize for SimTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.rfc3339())
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(
            SimTime(Duration::from_millis(0)).rfc3339(),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            SimTime(Duration::from_millis(1_709_210_096_789)).rfc3339(),
            "2024-02-29T12:34:56.789Z"
        );
    }

    #[test]
    fn advance_moves_time_forward() {
        let clock = SimClock::new();
        let before = clock.now();
        clock.advance(Duration::from_secs(3600));
        assert!(before.until(clock.now()) >= Duration::from_secs(3600));
    }
}
