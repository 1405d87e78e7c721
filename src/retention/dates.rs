//! Calendar arithmetic for retention, on civil dates in the agency's time zone.
//!
//! Conventions (also in `docs/RETENTION.md`):
//! - a record becomes eligible on the day its period ends: `trigger date + period`;
//! - years and months are added first, as whole months; a day that does not exist in
//!   the target month clamps to that month's last day (Feb 29 + 1 year = Feb 28,
//!   Aug 31 + 6 months = Feb 28 or 29); days are added after that;
//! - "N years after the end of the calendar (fiscal) year" counts from the day after
//!   the year's last day, i.e. the first day of the next year;
//! - a timestamp is turned into a date in the agency's time zone, never UTC.
//!
//! Nothing here reads the clock. Every function returns `None` rather than panicking
//! when a date would leave jiff's calendar (years -9999..=9999).

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Span;

use super::rule::Period;

/// `date + period` with the month-end clamp; `None` past the end of the calendar.
pub fn add_period(date: Date, period: Period) -> Option<Date> {
    let months = i64::from(period.years) * 12 + i64::from(period.months);
    let months = Span::new().try_months(months).ok()?;
    // jiff clamps a day that does not exist in the target month to its last day.
    let d = date.checked_add(months).ok()?;
    let days = Span::new().try_days(i64::from(period.days)).ok()?;
    d.checked_add(days).ok()
}

/// The first day of the calendar year after the one containing `date`.
pub fn after_calendar_year(date: Date) -> Option<Date> {
    Date::new(date.year().checked_add(1)?, 1, 1).ok()
}

/// The first day of a fiscal year, as agency settings write it ("MM-DD").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FiscalStart {
    month: i8,
    day: i8,
}

impl FiscalStart {
    /// Parses "MM-DD". Feb 29 is accepted and means Feb 28 in common years.
    pub fn parse(s: &str) -> Option<FiscalStart> {
        let (m, d) = s.split_once('-')?;
        if m.len() != 2 || d.len() != 2 {
            return None;
        }
        let (month, day): (i8, i8) = (m.parse().ok()?, d.parse().ok()?);
        // 2000 is a leap year, so every real month-day is valid in it.
        Date::new(2000, month, day).ok()?;
        Some(FiscalStart { month, day })
    }

    /// The start of the fiscal year in calendar year `year`.
    fn in_year(self, year: i16) -> Option<Date> {
        let first = Date::new(year, self.month, 1).ok()?;
        let day = self.day.min(first.days_in_month());
        Date::new(year, self.month, day).ok()
    }

    /// The first day of the fiscal year after the one containing `date`.
    pub fn after_fiscal_year(self, date: Date) -> Option<Date> {
        let this = self.in_year(date.year())?;
        if date < this {
            Some(this)
        } else {
            self.in_year(date.year().checked_add(1)?)
        }
    }
}

impl Default for FiscalStart {
    /// January 1: the fiscal year is the calendar year.
    fn default() -> Self {
        FiscalStart { month: 1, day: 1 }
    }
}

impl std::fmt::Display for FiscalStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}-{:02}", self.month, self.day)
    }
}

/// Reads a date from a payload value: `YYYY-MM-DD`, a civil date-time
/// (`YYYY-MM-DDTHH:MM:SS`, its date is taken as is), or a timestamp with an offset
/// (`…Z`, `…-07:00`), which is converted to the agency's time zone first.
pub fn date_of(value: &str, tz: &TimeZone) -> Option<Date> {
    let s = value.trim();
    if let Ok(d) = s.parse::<Date>() {
        return Some(d);
    }
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Some(ts.to_zoned(tz.clone()).date());
    }
    s.parse::<jiff::civil::DateTime>().ok().map(|dt| dt.date())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn p(years: u32, months: u32, days: u32) -> Period {
        Period {
            years,
            months,
            days,
        }
    }

    #[test]
    fn month_ends_clamp() {
        let cases = [
            (date(2024, 2, 29), p(1, 0, 0), date(2025, 2, 28)),
            (date(2024, 2, 29), p(4, 0, 0), date(2028, 2, 29)),
            (date(2023, 8, 31), p(0, 6, 0), date(2024, 2, 29)),
            (date(2022, 8, 31), p(0, 6, 0), date(2023, 2, 28)),
            (date(2024, 1, 31), p(0, 1, 0), date(2024, 2, 29)),
            (date(2024, 3, 31), p(0, 1, 0), date(2024, 4, 30)),
            // months first, then days: Jan 31 + 1 month = Feb 29, + 1 day = Mar 1.
            (date(2024, 1, 31), p(0, 1, 1), date(2024, 3, 1)),
            (date(2023, 12, 31), p(0, 0, 60), date(2024, 2, 29)),
            (date(2020, 5, 3), p(0, 0, 0), date(2020, 5, 3)),
        ];
        for (from, period, want) in cases {
            assert_eq!(add_period(from, period), Some(want), "{from} + {period}");
        }
        assert_eq!(add_period(date(9999, 1, 1), p(1, 0, 0)), None);
    }

    #[test]
    fn year_ends_count_from_the_next_day() {
        assert_eq!(
            after_calendar_year(date(2020, 12, 31)),
            Some(date(2021, 1, 1))
        );
        assert_eq!(
            after_calendar_year(date(2020, 1, 1)),
            Some(date(2021, 1, 1))
        );
        let july = FiscalStart::parse("07-01").unwrap();
        assert_eq!(
            july.after_fiscal_year(date(2024, 6, 30)),
            Some(date(2024, 7, 1))
        );
        assert_eq!(
            july.after_fiscal_year(date(2024, 7, 1)),
            Some(date(2025, 7, 1))
        );
        let leap = FiscalStart::parse("02-29").unwrap();
        assert_eq!(
            leap.after_fiscal_year(date(2023, 3, 1)),
            Some(date(2024, 2, 29))
        );
        assert_eq!(
            leap.after_fiscal_year(date(2024, 3, 1)),
            Some(date(2025, 2, 28))
        );
        assert_eq!(
            leap.after_fiscal_year(date(2025, 2, 28)),
            Some(date(2026, 2, 28))
        );
        for bad in ["7-01", "13-01", "02-30", "0701", "aa-bb", ""] {
            assert_eq!(FiscalStart::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn timestamps_land_in_the_agency_zone() {
        let la = TimeZone::get("America/Los_Angeles").unwrap();
        assert_eq!(date_of("2024-03-01", &la), Some(date(2024, 3, 1)));
        // 02:00 UTC on Mar 1 is still Feb 29 in Los Angeles.
        assert_eq!(
            date_of("2024-03-01T02:00:00Z", &la),
            Some(date(2024, 2, 29))
        );
        assert_eq!(date_of("2024-03-01T23:30:00", &la), Some(date(2024, 3, 1)));
        assert_eq!(date_of("soon", &la), None);
        assert_eq!(date_of("2023-02-29", &la), None);
    }
}
