//! The MFP's sense of time: protocol seconds read from a [`SimClock`], waited for in scaled real
//! time.
//!
//! Every protocol duration (the device `interval`, the `slow_down` step, a code's `expires_in`,
//! token lifetimes, backoff) is measured on the clock. A wait of `d` ends when the clock has moved
//! `d` on — because real time passed or because a test called [`SimClock::advance`] — or after
//! `d × time_scale` of real time, whichever comes first. In the second case the MFP moves the
//! clock on by what is left of `d`, so the server, which reads the same clock, sees the wait
//! honoured. With `time_scale = 1.0` this never moves the clock noticeably (a real printer); with
//! `0.01` a 5 s interval passes in 50 ms and every wait pushes the whole cloud's clock forward.

use std::time::Duration;

use tokio::time::Instant;

use crate::clock::{SimClock, SimTime};

/// Protocol time for one MFP.
#[derive(Clone, Debug)]
pub(crate) struct Timebase {
    clock: SimClock,
    scale: f64,
    tick: Duration,
}

impl Timebase {
    pub(crate) fn new(clock: SimClock, scale: f64, tick: Duration) -> Self {
        Self {
            clock,
            scale,
            tick: tick.max(Duration::from_millis(1)),
        }
    }

    /// The current protocol time.
    pub(crate) fn now(&self) -> SimTime {
        self.clock.now()
    }

    /// Real time that stands for `d` of protocol time.
    pub(crate) fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.scale)
    }

    /// Waits `d` of protocol time (see the module documentation).
    pub(crate) async fn wait(&self, d: Duration) {
        let target = self.clock.now().plus(d);
        let deadline = Instant::now() + self.scaled(d);
        loop {
            let now = self.clock.now();
            if now >= target {
                return;
            }
            let real_now = Instant::now();
            if real_now >= deadline {
                self.clock.advance(now.until(target));
                return;
            }
            tokio::time::sleep((deadline - real_now).min(self.tick)).await;
        }
    }
}
