//! The business reports: customer acquisition and churn, MRR movement and ARPU, collection
//! rate and days sales outstanding, revenue by tax class and the top data users, over a date
//! range in the tenant's time zone, in monthly or daily buckets.
//!
//! Every report is one function taking the caller and a validated [`Range`] and returning plain
//! row structs, one row per bucket and dimension (plan, access type, tax class), so that a
//! GraphQL resolver or a CSV/XLSX export exposes a report by calling one function.
//!
//! Days are the tenant's calendar days: the history and billing rows a report reads carry the
//! tenant-local date they happened on (subscription history, issue dates, payment dates), so a
//! bucket is a range of those dates and daylight-saving changes never move a change between
//! buckets. Each report reads per-day aggregates kept by triggers (migrations 0009 and 0017),
//! or, for usage, an index on the usage periods' start dates.

pub mod collections;
pub mod growth;
pub mod usage;

pub use collections::{collection, revenue_by_tax_class, CollectionRow, TaxClassRevenueRow};
pub use growth::{acquisition, mrr_movement, AcquisitionRow, MrrRow};
pub use usage::{top_data_users, DataUserRow, MAX_TOP_USERS};

use crate::billing::{fmt_date, parse_date};
use crate::error::{CoreError, CoreResult};
use crate::text_enum;
use chrono::{Datelike, Duration, NaiveDate};

text_enum!(
    /// How a report's range is cut into periods.
    ReportBucket, "bucket" {
        /// Calendar months (the first and last may be partial: they are cut at the range).
        Month = "MONTH",
        /// Calendar days.
        Day = "DAY",
    }
);

/// The longest range daily buckets may cover, in days (a leap year).
pub const MAX_DAILY_DAYS: i64 = 366;
/// The longest range monthly buckets may cover, in days (ten years).
pub const MAX_MONTHLY_DAYS: i64 = 3653;

/// A validated report range: `from` to `to` inclusive, tenant-local dates, cut into buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// First day.
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub to: NaiveDate,
    /// Bucket size.
    pub bucket: ReportBucket,
}

impl Range {
    /// Parses and checks a range: dates as `YYYY-MM-DD`, `from` not after `to`, and at most
    /// [`MAX_DAILY_DAYS`] (daily buckets) or [`MAX_MONTHLY_DAYS`] (monthly) days; VALIDATION
    /// errors name `from` or `to`.
    pub fn parse(from: &str, to: &str, bucket: ReportBucket) -> CoreResult<Range> {
        let (f, t) = (parse_date("from", from)?, parse_date("to", to)?);
        Range::new(f, t, bucket)
    }

    /// [`Range::parse`] for dates already parsed.
    pub fn new(from: NaiveDate, to: NaiveDate, bucket: ReportBucket) -> CoreResult<Range> {
        if from > to {
            return Err(CoreError::validation("to", "must not be before from"));
        }
        let days = (to - from).num_days() + 1;
        let max = match bucket {
            ReportBucket::Day => MAX_DAILY_DAYS,
            ReportBucket::Month => MAX_MONTHLY_DAYS,
        };
        if days > max {
            return Err(CoreError::validation("to", format!("a {} range spans at most {max} days", bucket.as_str())));
        }
        Ok(Range { from, to, bucket })
    }

    /// The buckets in order: label (`YYYY-MM` or `YYYY-MM-DD`), first and last day, each cut
    /// at the range.
    pub fn buckets(&self) -> Vec<Bucket> {
        let mut out = Vec::new();
        let mut start = self.from;
        while start <= self.to {
            let end = match self.bucket {
                ReportBucket::Day => start,
                ReportBucket::Month => next_month(start) - Duration::days(1),
            }
            .min(self.to);
            let label = match self.bucket {
                ReportBucket::Day => fmt_date(start),
                ReportBucket::Month => format!("{:04}-{:02}", start.year(), start.month()),
            };
            out.push(Bucket { label, first: start, last: end });
            start = end + Duration::days(1);
        }
        out
    }

    /// `from` and `to` as stored dates.
    pub(crate) fn dates(&self) -> (String, String) {
        (fmt_date(self.from), fmt_date(self.to))
    }
}

/// One period of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// `YYYY-MM` (monthly) or `YYYY-MM-DD` (daily).
    pub label: String,
    /// First day.
    pub first: NaiveDate,
    /// Last day (inclusive).
    pub last: NaiveDate,
}

impl Bucket {
    /// Days in the bucket.
    pub fn days(&self) -> i64 {
        (self.last - self.first).num_days() + 1
    }
}

/// The first day of the month after `d`'s.
fn next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 { (d.year() + 1, 1) } else { (d.year(), d.month() + 1) };
    NaiveDate::from_ymd_opt(y, m, 1).expect("the first of a month exists")
}

/// The index in [`Range::buckets`] of the bucket holding stored date `day`; an INTERNAL error
/// for a day outside the range (the queries are bounded by it, so none comes back).
fn bucket_index(r: &Range, day: &str) -> CoreResult<usize> {
    let d = parse_date("day", day)?;
    if d < r.from || d > r.to {
        return Err(CoreError::internal(format!("day {day} outside the report range")));
    }
    let i = match r.bucket {
        ReportBucket::Day => (d - r.from).num_days(),
        ReportBucket::Month => {
            i64::from(d.year() - r.from.year()) * 12 + i64::from(d.month()) - i64::from(r.from.month())
        }
    };
    Ok(i as usize)
}

/// `n / d` in basis points, rounded half away from zero; None when `d` is 0.
fn basis_points(n: i64, d: i64) -> Option<i64> {
    (d != 0).then(|| crate::billing::proration::round_div(i128::from(n) * 10_000, i128::from(d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_date("d", s).unwrap()
    }

    #[test]
    fn months_are_cut_at_the_range() {
        let r = Range::parse("2026-01-15", "2026-03-02", ReportBucket::Month).unwrap();
        let b = r.buckets();
        assert_eq!(b.iter().map(|b| b.label.as_str()).collect::<Vec<_>>(), ["2026-01", "2026-02", "2026-03"]);
        assert_eq!((b[0].first, b[0].last, b[0].days()), (d("2026-01-15"), d("2026-01-31"), 17));
        assert_eq!((b[1].days(), b[2].days()), (28, 2));
        let dec = Range::parse("2025-12-01", "2026-01-31", ReportBucket::Month).unwrap().buckets();
        assert_eq!(dec[0].last, d("2025-12-31"));
        assert_eq!(Range::parse("2026-02-27", "2026-03-01", ReportBucket::Day).unwrap().buckets().len(), 3);
        assert_eq!(bucket_index(&r, "2026-01-15").unwrap(), 0);
        assert_eq!(bucket_index(&r, "2026-03-02").unwrap(), 2);
        assert!(bucket_index(&r, "2026-03-03").is_err());
        let days = Range::parse("2026-02-27", "2026-03-01", ReportBucket::Day).unwrap();
        assert_eq!(bucket_index(&days, "2026-03-01").unwrap(), 2);
    }

    #[test]
    fn bad_ranges_are_validation_errors() {
        let field = |r: CoreResult<Range>| match r {
            Err(CoreError::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        };
        assert_eq!(field(Range::parse("2026-13-01", "2026-12-01", ReportBucket::Day)), "from");
        assert_eq!(field(Range::parse("2026-01-01", "yesterday", ReportBucket::Day)), "to");
        assert_eq!(field(Range::parse("2026-02-01", "2026-01-31", ReportBucket::Day)), "to");
        assert_eq!(field(Range::parse("2026-01-01", "2027-01-02", ReportBucket::Day)), "to");
        assert!(Range::parse("2024-01-01", "2024-12-31", ReportBucket::Day).is_ok());
        assert!(Range::parse("2016-01-01", "2025-12-31", ReportBucket::Month).is_ok());
        assert_eq!(field(Range::parse("2016-01-01", "2026-01-31", ReportBucket::Month)), "to");
        assert_eq!(basis_points(1, 3), Some(3333));
        assert_eq!(basis_points(2, 3), Some(6667));
        assert_eq!(basis_points(1, 0), None);
    }
}
