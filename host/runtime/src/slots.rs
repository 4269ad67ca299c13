//! Instance slots: the pooling allocator has a fixed number of instance
//! slots, and each app gets a bounded share of them, so one app whose calls
//! block (sleeping in WASI until their deadline, say) can never take the
//! slots every other app needs. A call that finds its app at its share, or
//! the pool full, is refused at once with a retry hint (the server answers
//! 503 with `Retry-After`, naming the app), never queued behind the calls
//! that hold the slots.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::error::CallError;

/// The `Retry-After` a busy refusal suggests, in seconds.
pub const BUSY_RETRY_AFTER_SECS: u32 = 1;

/// The slots of one runtime.
pub struct InstanceSlots {
    total: Arc<Semaphore>,
    per_app: u32,
    apps: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// A call's hold on its slots, released when dropped.
pub struct SlotHold {
    _app: OwnedSemaphorePermit,
    _total: OwnedSemaphorePermit,
}

impl InstanceSlots {
    /// `total` slots in all, at most `per_app` of them for one app.
    pub fn new(total: u32, per_app: u32) -> InstanceSlots {
        InstanceSlots {
            total: Arc::new(Semaphore::new(total as usize)),
            per_app: per_app.clamp(1, total.max(1)),
            apps: Mutex::new(HashMap::new()),
        }
    }

    /// How many slots one app may hold at once.
    pub fn per_app(&self) -> u32 {
        self.per_app
    }

    /// Take a slot for a call of `app`, or refuse at once.
    pub fn take(&self, app: &str) -> Result<SlotHold, CallError> {
        let share = {
            let mut apps = self.apps.lock().expect("the slot map is never poisoned");
            apps.entry(app.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_app as usize)))
                .clone()
        };
        let app_permit = share.try_acquire_owned().map_err(|e| match e {
            TryAcquireError::NoPermits | TryAcquireError::Closed => CallError::Busy {
                detail: format!(
                    "app {app} already has {} calls running, its share of the platform's instances; try again shortly",
                    self.per_app
                ),
                retry_after_secs: BUSY_RETRY_AFTER_SECS,
            },
        })?;
        let total_permit = self.total.clone().try_acquire_owned().map_err(|_| CallError::Busy {
            detail: format!("every instance slot of the platform is in use; {app} may try again shortly"),
            retry_after_secs: BUSY_RETRY_AFTER_SECS,
        })?;
        Ok(SlotHold {
            _app: app_permit,
            _total: total_permit,
        })
    }
}
