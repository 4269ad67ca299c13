//! Working days: due dates of commitment items (承诺件) count working days, and
//! the calendar of public holidays and of weekend days made working days (调休)
//! is configured, not hard-coded.
//!
//! Dates are civil dates in China Standard Time (UTC+8, no daylight saving).

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Weekday};
use serde::Deserialize;

/// The offset of China Standard Time.
fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// The longest promise counted, in working days.
pub const MAX_WORKING_DAYS: u32 = 2_500;

/// The calendar file (TOML):
///
/// ```toml
/// holidays = ["2026-10-01", "2026-10-02"]
/// working-weekends = ["2026-09-27"]
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CalendarFile {
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
    #[serde(default)]
    pub working_weekends: Vec<NaiveDate>,
}

/// Which days are working days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkCalendar {
    holidays: BTreeSet<NaiveDate>,
    working_weekends: BTreeSet<NaiveDate>,
}

/// The calendar the platform ships with: the public holidays and adjusted
/// working weekends of 2026 as a sample. Operators load the State Council's
/// published schedule for each year with `--holidays FILE`.
pub const DEFAULT_CALENDAR: &str = include_str!("../../calendar/default.toml");

impl Default for WorkCalendar {
    fn default() -> WorkCalendar {
        WorkCalendar::from_toml(DEFAULT_CALENDAR).expect("the shipped calendar parses")
    }
}

impl WorkCalendar {
    /// A calendar from its TOML text; the error names the problem.
    pub fn from_toml(text: &str) -> Result<WorkCalendar, String> {
        let file: CalendarFile = toml::from_str(text).map_err(|e| format!("holiday calendar: {e}"))?;
        if let Some(day) = file.holidays.iter().find(|d| file.working_weekends.contains(d)) {
            return Err(format!(
                "holiday calendar: {day} is listed both as a holiday and as a working weekend"
            ));
        }
        Ok(WorkCalendar {
            holidays: file.holidays.into_iter().collect(),
            working_weekends: file.working_weekends.into_iter().collect(),
        })
    }

    /// Whether `day` is a working day.
    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        if self.working_weekends.contains(&day) {
            return true;
        }
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains(&day)
    }

    /// The civil date (UTC+8) of a timestamp in milliseconds.
    pub fn date_of(ms: i64) -> NaiveDate {
        china()
            .timestamp_millis_opt(ms)
            .single()
            .map(|t| t.date_naive())
            .unwrap_or_default()
    }

    /// The due moment of something started at `start_ms` with `days` working
    /// days to go: the end (24:00, UTC+8) of the `days`-th working day after
    /// the start date. The start date itself does not count.
    pub fn due_at(&self, start_ms: i64, days: u32) -> i64 {
        let mut day = WorkCalendar::date_of(start_ms);
        // No promise runs past ten years of working days; the bound keeps a
        // wild manifest value from looping for long or overflowing the date.
        let mut left = days.min(MAX_WORKING_DAYS);
        while left > 0 {
            day += Duration::days(1);
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        let end = (day + Duration::days(1)).and_hms_opt(0, 0, 0).expect("midnight exists");
        china()
            .from_local_datetime(&end)
            .single()
            .map(|t| t.timestamp_millis())
            .unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis()
    }

    fn calendar() -> WorkCalendar {
        WorkCalendar::from_toml(
            r#"
            holidays = ["2026-10-01", "2026-10-02", "2026-10-05"]
            working-weekends = ["2026-10-10"]
            "#,
        )
        .unwrap()
    }

    #[test]
    fn weekends_and_holidays_do_not_count() {
        // Wednesday 30 September; 1, 2 and 5 October are holidays, 3 and 4 a
        // weekend, so the first working day after is Tuesday 6 October.
        let due = calendar().due_at(ms("2026-09-30T10:00:00+08:00"), 1);
        assert_eq!(due, ms("2026-10-07T00:00:00+08:00"));
    }

    #[test]
    fn an_adjusted_weekend_counts() {
        // Friday 9 October + 1 working day: Saturday 10 October is a working day.
        let due = calendar().due_at(ms("2026-10-09T16:00:00+08:00"), 1);
        assert_eq!(due, ms("2026-10-11T00:00:00+08:00"));
    }

    #[test]
    fn five_working_days_over_a_plain_weekend() {
        let plain = WorkCalendar::from_toml("").unwrap();
        // Thursday 12 November 2026 + 5 working days = Thursday 19 November.
        let due = plain.due_at(ms("2026-11-12T09:00:00+08:00"), 5);
        assert_eq!(due, ms("2026-11-20T00:00:00+08:00"));
    }

    #[test]
    fn dates_are_taken_in_china_time() {
        // 23:30 UTC on 11 November is 07:30 on 12 November in Beijing.
        assert_eq!(
            WorkCalendar::date_of(ms("2026-11-11T23:30:00Z")),
            NaiveDate::from_ymd_opt(2026, 11, 12).unwrap()
        );
    }

    #[test]
    fn a_contradictory_calendar_is_refused() {
        let err = WorkCalendar::from_toml(
            r#"holidays = ["2026-10-10"]
working-weekends = ["2026-10-10"]"#,
        )
        .unwrap_err();
        assert!(err.contains("2026-10-10"), "{err}");
        let err = WorkCalendar::from_toml(r#"holidays = ["2026-13-01"]"#).unwrap_err();
        assert!(err.contains("holiday calendar"), "{err}");
    }

    #[test]
    fn the_shipped_calendar_loads() {
        let calendar = WorkCalendar::default();
        assert!(!calendar.is_working_day(NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()));
    }
}
