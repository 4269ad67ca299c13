//! The time a hook call's guest has used: the wall time since the call
//! began, less the time the host spent working for it in the platform's
//! capabilities (a database wait, a bank's answer). `timeout-ms` bounds this
//! guest time, so the app is never interrupted because the platform was
//! slow: its wasm and its own WASI waits (a sleep) count, the host's work in
//! a capability does not. A separate, generous wall bound
//! ([`wall_bound`]) covers the whole call, and past it the call is the
//! platform's failure (`busy`, retry later), not the app's.
//!
//! wasmtime's call hooks mark every exit from wasm into the host and every
//! return ([`GuestClock::host_call_started`], [`GuestClock::host_call_returned`]);
//! a capability's projection of the store data marks the exit as a
//! capability's ([`GuestClock::entered_capability`]), so only capability
//! time is taken off. WASI and wasmtime's own libcalls stay guest time. The
//! clock is shared (atomics behind an `Arc`) with the task that awaits the
//! call, which cuts a guest stuck outside wasm (in a WASI sleep, where no
//! epoch check runs) at its deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How far past `timeout-ms` the whole call may run, on the wall clock,
/// while the host works for the app. A host wait this long is the platform
/// failing; each host wait has its own, shorter bound too (the database
/// pool's and statements').
pub const HOST_WAIT_ALLOWANCE: Duration = Duration::from_secs(30);

/// The wall bound of a call with `timeout`: the guest's time plus
/// [`HOST_WAIT_ALLOWANCE`].
pub fn wall_bound(timeout: Duration) -> Duration {
    timeout + HOST_WAIT_ALLOWANCE
}

/// One call's clock. Clones share it.
#[derive(Clone, Debug)]
pub struct GuestClock {
    started: Instant,
    shared: Arc<Shared>,
}

/// Moments are nanoseconds since `started` plus one; zero means none.
#[derive(Debug, Default)]
struct Shared {
    /// Capability time of the host calls that have returned.
    capability_nanos: AtomicU64,
    /// When the host call in progress began, if one is.
    host_call_since: AtomicU64,
    /// When the capability call in progress began, if one is.
    capability_since: AtomicU64,
}

impl GuestClock {
    pub fn start(started: Instant) -> GuestClock {
        GuestClock {
            started,
            shared: Arc::new(Shared::default()),
        }
    }

    /// When the call began.
    pub fn started(&self) -> Instant {
        self.started
    }

    fn now_mark(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_nanos())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1)
    }

    /// The guest called into the host (a call hook).
    pub fn host_call_started(&self) {
        self.shared.host_call_since.store(self.now_mark(), Ordering::Release);
    }

    /// The host call in progress is a capability's (its projection of the
    /// store data ran).
    pub fn entered_capability(&self) {
        let since = self.shared.host_call_since.load(Ordering::Acquire);
        if since != 0 {
            self.shared.capability_since.store(since, Ordering::Release);
        }
    }

    /// The host returned to the guest (a call hook).
    pub fn host_call_returned(&self) {
        self.shared.host_call_since.store(0, Ordering::Release);
        let since = self.shared.capability_since.swap(0, Ordering::AcqRel);
        if since != 0 {
            let spent = self.now_mark().saturating_sub(since);
            self.shared.capability_nanos.fetch_add(spent, Ordering::AcqRel);
        }
    }

    /// The time the host has spent in capabilities for this call, including
    /// the capability call in progress.
    pub fn capability_time(&self) -> Duration {
        let done = self.shared.capability_nanos.load(Ordering::Acquire);
        let since = self.shared.capability_since.load(Ordering::Acquire);
        let running = if since == 0 {
            0
        } else {
            self.now_mark().saturating_sub(since)
        };
        Duration::from_nanos(done.saturating_add(running))
    }

    /// The guest's own time so far.
    pub fn guest_time(&self) -> Duration {
        self.started.elapsed().saturating_sub(self.capability_time())
    }

    /// When the guest's time reaches `budget`, if no more capability time
    /// is spent from now on.
    pub fn guest_deadline(&self, budget: Duration) -> Instant {
        self.started + budget + self.capability_time()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_time_is_not_guest_time_and_other_host_time_is() {
        let clock = GuestClock::start(Instant::now() - Duration::from_secs(10));
        // A WASI call: host time that stays guest time.
        clock.host_call_started();
        clock.host_call_returned();
        assert_eq!(clock.capability_time(), Duration::ZERO);
        // A capability call, in progress and then returned.
        clock.host_call_started();
        clock.entered_capability();
        std::thread::sleep(Duration::from_millis(20));
        let during = clock.capability_time();
        assert!(during >= Duration::from_millis(20), "{during:?}");
        clock.host_call_returned();
        let after = clock.capability_time();
        assert!(after >= during, "{after:?} < {during:?}");
        // No longer in a capability: the figure stays put.
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(clock.capability_time(), after);
        // The guest's time and the capabilities' make up the whole.
        assert!(clock.guest_time() + after >= Duration::from_secs(10));
    }

    #[test]
    fn a_capability_mark_without_a_host_call_counts_nothing() {
        let clock = GuestClock::start(Instant::now());
        clock.entered_capability();
        std::thread::sleep(Duration::from_millis(5));
        clock.host_call_returned();
        assert_eq!(clock.capability_time(), Duration::ZERO);
    }
}
