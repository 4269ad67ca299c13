//! What the services' test binaries share.

#![allow(dead_code)]

use std::time::Duration;

use tongban_services::notifications::civil_day_start;
use tongban_services::now_ms;

/// Wait until a civil day (UTC+8) has at least `margin` left, so a test
/// whose assertions hold within one day (daily bounds, per-day reports)
/// never straddles midnight.
pub async fn away_from_midnight(margin: Duration) {
    let day = 86_400_000;
    let left = civil_day_start(now_ms()) + day - now_ms();
    if left < margin.as_millis() as i64 {
        tokio::time::sleep(Duration::from_millis(left as u64 + 200)).await;
    }
}
