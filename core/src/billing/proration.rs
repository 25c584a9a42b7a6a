//! Billing cycles and proration by day.
//!
//! **Rounding rule.** Every amount is computed in integer minor units with an `i128`
//! intermediate and rounded exactly once per invoice line, half away from zero
//! ([`round_div`]): `price * days_used / days_in_cycle`. A full cycle is never prorated, so
//! it always costs exactly the plan price whatever the month length.

use crate::store::plans::BillingPeriod;
use chrono::{Datelike, Duration, NaiveDate};

/// `n / d` rounded half away from zero (`d > 0`): 2.5 -> 3, -2.5 -> -3, 2.4 -> 2.
pub fn round_div(n: i128, d: i128) -> i64 {
    let q = round_div_wide(n, d);
    // Bounded inputs (prices and amounts of at most 10^12, rates of at most 100 %) keep every
    // quotient far inside i64; should one not fit, it saturates rather than wraps.
    i64::try_from(q).unwrap_or(if q < 0 { i64::MIN } else { i64::MAX })
}

/// [`round_div`] without narrowing the result.
pub fn round_div_wide(n: i128, d: i128) -> i128 {
    assert!(d > 0, "divisor must be positive");
    let (q, r) = (n / d, n % d);
    if 2 * r.abs() >= d {
        q + n.signum()
    } else {
        q
    }
}

/// `price` for `used` of `total` days, rounded once (see the module's rounding rule).
pub fn prorate(price_minor: i64, used_days: i64, total_days: i64) -> i64 {
    if used_days == total_days {
        return price_minor;
    }
    round_div(i128::from(price_minor) * i128::from(used_days), i128::from(total_days))
}

/// Length of one billing cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Calendar months (the day of the anchor, clamped to the month's last day).
    Months(u32),
    /// Days.
    Days(u32),
}

impl Step {
    /// The step of a plan's billing period.
    pub fn of(period: BillingPeriod) -> Self {
        match period {
            BillingPeriod::Monthly => Step::Months(1),
            BillingPeriod::Quarterly => Step::Months(3),
            BillingPeriod::SemiAnnual => Step::Months(6),
            BillingPeriod::Yearly => Step::Months(12),
            BillingPeriod::Weekly => Step::Days(7),
            BillingPeriod::Daily => Step::Days(1),
        }
    }
}

/// The cycle boundaries of one subscription: `anchor + k * step` for every integer `k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cycle {
    anchor: NaiveDate,
    step: Step,
}

/// Last day of month `m` of year `y`.
pub fn last_day(y: i32, m: u32) -> u32 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    NaiveDate::from_ymd_opt(ny, nm, 1).expect("valid date").pred_opt().expect("valid date").day()
}

impl Cycle {
    /// The cycle of a subscription started on `start`: on its anniversary (`billing_day`
    /// None; a start on the 31st bills on the last day of shorter months and on the 31st
    /// again after them) or on a fixed day 1-28 of the month (the first cycle is partial).
    pub fn new(start: NaiveDate, billing_day: Option<u32>, period: BillingPeriod) -> Self {
        let step = Step::of(period);
        let anchor = match (billing_day, step) {
            (Some(day), Step::Months(_)) => {
                let this = NaiveDate::from_ymd_opt(start.year(), start.month(), day).expect("billing day 1-28");
                if this >= start {
                    this
                } else {
                    add_months(this, 1, day)
                }
            }
            _ => start,
        };
        Self { anchor, step }
    }

    /// Boundary number `k` (0 is the anchor).
    pub fn boundary(&self, k: i64) -> NaiveDate {
        match self.step {
            Step::Months(n) => add_months(self.anchor, k * i64::from(n), self.anchor.day()),
            Step::Days(n) => self.anchor + Duration::days(k * i64::from(n)),
        }
    }

    /// The full cycle `[start, end)` that contains `d`.
    pub fn containing(&self, d: NaiveDate) -> (NaiveDate, NaiveDate) {
        let mut k = match self.step {
            Step::Months(n) => {
                let months =
                    i64::from(d.year() * 12 + d.month() as i32 - self.anchor.year() * 12 - self.anchor.month() as i32);
                months.div_euclid(i64::from(n))
            }
            Step::Days(n) => (d - self.anchor).num_days().div_euclid(i64::from(n)),
        };
        while self.boundary(k) > d {
            k -= 1;
        }
        while self.boundary(k + 1) <= d {
            k += 1;
        }
        (self.boundary(k), self.boundary(k + 1))
    }
}

/// `date` moved by `months`, on day `day` clamped to the target month's last day.
fn add_months(date: NaiveDate, months: i64, day: u32) -> NaiveDate {
    let total = i64::from(date.year()) * 12 + i64::from(date.month0()) + months;
    let (y, m) = (total.div_euclid(12) as i32, total.rem_euclid(12) as u32 + 1);
    NaiveDate::from_ymd_opt(y, m, day.min(last_day(y, m))).expect("valid date")
}

/// Days from `a` to `b`.
pub fn days(a: NaiveDate, b: NaiveDate) -> i64 {
    (b - a).num_days()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn rounds_half_away_from_zero_once() {
        assert_eq!(round_div(5, 2), 3);
        assert_eq!(round_div(-5, 2), -3);
        assert_eq!(round_div(7, 3), 2);
        assert_eq!(round_div(8, 3), 3);
        assert_eq!(prorate(2999, 17, 31), 1645); // 1644.613 -> 1645
        assert_eq!(prorate(1000, 15, 30), 500);
        assert_eq!(prorate(2999, 31, 31), 2999);
        assert_eq!(prorate(1, 1, 2), 1); // 0.5 rounds up
    }

    #[test]
    fn anniversary_on_the_31st_clamps_and_comes_back() {
        let c = Cycle::new(d("2024-01-31"), None, BillingPeriod::Monthly);
        assert_eq!(c.boundary(1), d("2024-02-29")); // leap year
        assert_eq!(c.boundary(2), d("2024-03-31"));
        assert_eq!(c.boundary(3), d("2024-04-30"));
        assert_eq!(c.boundary(13), d("2025-02-28"));
        assert_eq!(c.containing(d("2024-02-29")), (d("2024-02-29"), d("2024-03-31")));
        assert_eq!(c.containing(d("2024-02-28")), (d("2024-01-31"), d("2024-02-29")));
    }

    #[test]
    fn anniversary_days_29_and_30_in_february() {
        let c = Cycle::new(d("2023-01-29"), None, BillingPeriod::Monthly);
        assert_eq!(c.boundary(1), d("2023-02-28"));
        assert_eq!(c.boundary(2), d("2023-03-29"));
        let c = Cycle::new(d("2024-01-30"), None, BillingPeriod::Monthly);
        assert_eq!(c.boundary(1), d("2024-02-29"));
        assert_eq!(c.boundary(2), d("2024-03-30"));
    }

    #[test]
    fn fixed_day_makes_a_partial_first_cycle() {
        let c = Cycle::new(d("2024-01-15"), Some(1), BillingPeriod::Monthly);
        assert_eq!(c.boundary(0), d("2024-02-01"));
        assert_eq!(c.containing(d("2024-01-15")), (d("2024-01-01"), d("2024-02-01")));
        let c = Cycle::new(d("2024-01-01"), Some(1), BillingPeriod::Monthly);
        assert_eq!(c.containing(d("2024-01-01")), (d("2024-01-01"), d("2024-02-01")));
        let c = Cycle::new(d("2024-12-20"), Some(5), BillingPeriod::Quarterly);
        assert_eq!(c.boundary(0), d("2025-01-05"));
        assert_eq!(c.containing(d("2025-03-01")), (d("2025-01-05"), d("2025-04-05")));
    }

    #[test]
    fn month_lengths_28_to_31() {
        for (start, len) in [("2023-02-01", 28), ("2024-02-01", 29), ("2024-04-01", 30), ("2024-01-01", 31)] {
            let c = Cycle::new(d(start), None, BillingPeriod::Monthly);
            let (s, e) = c.containing(d(start));
            assert_eq!(days(s, e), len, "{start}");
        }
        let c = Cycle::new(d("2024-02-29"), None, BillingPeriod::Yearly);
        assert_eq!(c.boundary(1), d("2025-02-28"));
        assert_eq!(c.boundary(4), d("2028-02-29"));
        let c = Cycle::new(d("2024-03-01"), None, BillingPeriod::Weekly);
        assert_eq!(c.containing(d("2024-03-09")), (d("2024-03-08"), d("2024-03-15")));
    }
}
