//! Time, injected: every component asks a [`Clock`], nothing calls `Utc::now()` directly.
//!
//! Production code uses [`SystemClock`]; test harnesses use [`SimulatedClock`] to run
//! months of lifecycle in seconds, deterministically.

use chrono::{DateTime, Duration, Utc};
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

/// A source of the current time.
///
/// # Contract
/// `now()` never goes backwards between two calls on the same clock unless the owner
/// of a simulated clock explicitly sets it back.
///
/// ```
/// use mlcycle::clock::{Clock, SimulatedClock};
/// use chrono::{Duration, TimeZone, Utc};
/// let clock = SimulatedClock::new(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
/// clock.advance(Duration::days(30));
/// assert_eq!(clock.now(), Utc.with_ymd_and_hms(2026, 1, 31, 0, 0, 0).unwrap());
/// ```
pub trait Clock: Send + Sync + Debug {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;

    /// Wait until `now() >= t` (at once when it already is). The default waits on the
    /// wall clock (tokio's timer); a simulated clock jumps to `t` instead.
    fn sleep_until(&self, t: DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let wait = (t - self.now()).to_std().unwrap_or_default();
        Box::pin(tokio::time::sleep(wait))
    }
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to. Shareable across tasks (`Arc<SimulatedClock>`).
#[derive(Debug)]
pub struct SimulatedClock {
    now: Mutex<DateTime<Utc>>,
}

impl SimulatedClock {
    /// A simulated clock starting at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        SimulatedClock {
            now: Mutex::new(start),
        }
    }

    /// Move the clock forward (or backward, for a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }

    /// Set the clock to `t`.
    pub fn set(&self, t: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) = t;
    }
}

impl Clock for SimulatedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Jump to `t` (if it is later than now) and return at once.
    fn sleep_until(&self, t: DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        if t > *now {
            *now = t;
        }
        Box::pin(std::future::ready(()))
    }
}
