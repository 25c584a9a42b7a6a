//! SLA clock arithmetic, pure: due times in the tenant's business hours (weekly schedule in
//! its IANA zone, holidays, DST through chrono-tz) or in calendar time, the working time
//! between two instants, and how a ticket stands against its targets at an instant.
//!
//! A pause ("pending customer") stops the resolution clock: when it ends the resolution due
//! time moves on by the working time that was left at the start of the pause
//! ([`resume_due`]), so time spent waiting for the customer never counts against the ISP.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::collections::BTreeSet;

/// Minutes in a day; schedule intervals lie within [0, 1440].
pub const DAY_MINUTES: u32 = 24 * 60;

/// Longest search for working time before giving up (a schedule with no working time at all
/// is refused when it is set, so this only bounds absurd inputs).
const MAX_DAYS: i64 = 3 * 366;

/// When a tenant works: per weekday (Monday first) the local [start, end) minute ranges,
/// the holidays (local dates without working time) and the zone they are read in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The tenant's time zone.
    pub zone: Tz,
    /// Monday..Sunday, each a sorted list of disjoint [start, end) minute ranges.
    pub week: [Vec<(u32, u32)>; 7],
    /// Local dates without working time.
    pub holidays: BTreeSet<NaiveDate>,
}

impl Schedule {
    /// Monday to Friday, 09:00-17:00, no holidays: what a tenant that set nothing gets.
    pub fn office(zone: Tz) -> Self {
        let day = vec![(9 * 60, 17 * 60)];
        Self {
            zone,
            week: [day.clone(), day.clone(), day.clone(), day.clone(), day, Vec::new(), Vec::new()],
            holidays: BTreeSet::new(),
        }
    }

    /// Checks a weekly schedule: ranges within the day, start before end, sorted and
    /// disjoint, and some working time in the week.
    pub fn check_week(week: &[Vec<(u32, u32)>; 7]) -> Result<(), String> {
        for (d, ranges) in week.iter().enumerate() {
            let mut last_end = 0;
            for (i, &(s, e)) in ranges.iter().enumerate() {
                if s >= e || e > DAY_MINUTES {
                    return Err(format!("day {d}: {s}-{e} is not a range of minutes within the day"));
                }
                if i > 0 && s < last_end {
                    return Err(format!("day {d}: ranges must be sorted and must not overlap"));
                }
                last_end = e;
            }
        }
        if week.iter().all(Vec::is_empty) {
            return Err("needs some working time in the week".into());
        }
        Ok(())
    }

    /// The UTC instant of local `date` at `minute` (a minute in a DST gap is the first
    /// instant after the gap; an ambiguous one, the earlier instant).
    fn at(&self, date: NaiveDate, minute: u32) -> DateTime<Utc> {
        let base: NaiveDateTime = date.and_hms_opt(0, 0, 0).expect("midnight") + Duration::minutes(minute.into());
        let mut local = base;
        // Gaps are at most a few hours; step to the first minute that exists.
        for _ in 0..(4 * 60) {
            if let Some(t) = self.zone.from_local_datetime(&local).earliest() {
                return t.with_timezone(&Utc);
            }
            local += Duration::minutes(1);
        }
        Utc.from_utc_datetime(&base)
    }

    /// The working intervals of local `date`, as UTC instants.
    fn intervals(&self, date: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        if self.holidays.contains(&date) {
            return Vec::new();
        }
        let day = date.weekday().num_days_from_monday() as usize;
        self.week[day].iter().map(|&(s, e)| (self.at(date, s), self.at(date, e))).filter(|(a, b)| a < b).collect()
    }

    fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.zone).date_naive()
    }
}

/// Which clock an SLA runs on.
#[derive(Debug, Clone, Copy)]
pub enum SlaClock<'a> {
    /// Every minute counts.
    Calendar,
    /// Only the tenant's working time counts.
    Business(&'a Schedule),
}

impl SlaClock<'_> {
    /// The instant `ms` milliseconds of this clock after `start`.
    pub fn add(&self, start: DateTime<Utc>, ms: i64) -> DateTime<Utc> {
        let s = match self {
            SlaClock::Calendar => return start + Duration::milliseconds(ms),
            SlaClock::Business(s) => s,
        };
        let mut left = Duration::milliseconds(ms.max(0));
        let mut date = s.local_date(start) - Duration::days(1);
        for _ in 0..MAX_DAYS {
            for (a, b) in s.intervals(date) {
                if b <= start {
                    continue;
                }
                let from = a.max(start);
                let here = b - from;
                if left <= here {
                    return from + left;
                }
                left -= here;
            }
            date += Duration::days(1);
        }
        start + Duration::days(MAX_DAYS)
    }

    /// Milliseconds of this clock from `a` to `b` (0 when `b` is not after `a`).
    pub fn between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
        if b <= a {
            return 0;
        }
        let s = match self {
            SlaClock::Calendar => return (b - a).num_milliseconds(),
            SlaClock::Business(s) => s,
        };
        let (mut date, last) = (s.local_date(a) - Duration::days(1), s.local_date(b) + Duration::days(1));
        let mut total = Duration::zero();
        while date <= last {
            for (x, y) in s.intervals(date) {
                let (from, to) = (x.max(a), y.min(b));
                if from < to {
                    total += to - from;
                }
            }
            date += Duration::days(1);
        }
        total.num_milliseconds()
    }

    /// The due time after `start` with `minutes` of this clock.
    pub fn due(&self, start: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
        self.add(start, minutes * 60_000)
    }
}

/// The resolution due time after a pause from `paused_at` to `now`: the working time that
/// was left before `due` at the start of the pause, counted again from `now`.
pub fn resume_due(
    clock: SlaClock<'_>,
    due: DateTime<Utc>,
    paused_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let left = clock.between(paused_at, due);
    clock.add(now, left)
}

/// A ticket's SLA state as stored, for [`assess`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Targets {
    /// First-response target, minutes of the SLA clock.
    pub first_response_minutes: Option<i64>,
    /// Resolution target, minutes of the SLA clock.
    pub resolution_minutes: Option<i64>,
    /// First response due (Unix ms).
    pub first_response_due: Option<i64>,
    /// Resolution due (Unix ms), as moved by pauses.
    pub resolution_due: Option<i64>,
    /// When staff first replied.
    pub first_responded_at: Option<i64>,
    /// Whether the resolution clock is paused (pending customer).
    pub paused: bool,
    /// Whether the ticket is resolved or closed (nothing is due any more).
    pub done: bool,
}

/// How a ticket stands at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Standing {
    /// A due time passed unmet.
    pub breached: bool,
    /// Not breached, but 80 % of a target's time is used up.
    pub at_risk: bool,
}

/// Share of a target's time after which a ticket is at risk, in percent.
pub const AT_RISK_PERCENT: i64 = 80;

/// Whether the ticket described by `t` is breached or at risk at `now`.
pub fn assess(clock: SlaClock<'_>, t: &Targets, now: DateTime<Utc>) -> Standing {
    let mut st = Standing::default();
    if t.done {
        return st;
    }
    let now_ms = now.timestamp_millis();
    let mut check = |due: Option<i64>, target: Option<i64>| {
        let (Some(due), Some(target)) = (due, target) else { return };
        if now_ms > due {
            st.breached = true;
            return;
        }
        let left = clock.between(now, crate::clock::from_ms(due));
        // At risk once no more than 20 % of the target's working time is left.
        if left * 100 <= target * 60_000 * (100 - AT_RISK_PERCENT) {
            st.at_risk = true;
        }
    };
    if t.first_responded_at.is_none() {
        check(t.first_response_due, t.first_response_minutes);
    }
    if !t.paused {
        check(t.resolution_due, t.resolution_minutes);
    }
    if st.breached {
        st.at_risk = false;
    }
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn ny() -> Schedule {
        Schedule::office("America/New_York".parse().unwrap())
    }

    #[test]
    fn calendar_hours_count_every_minute() {
        let c = SlaClock::Calendar;
        assert_eq!(c.due(utc("2026-03-06T21:00:00Z"), 120), utc("2026-03-06T23:00:00Z"));
        assert_eq!(c.between(utc("2026-03-06T21:00:00Z"), utc("2026-03-07T21:00:00Z")), 86_400_000);
    }

    #[test]
    fn business_hours_skip_the_weekend() {
        let s = Schedule::office("Europe/Lisbon".parse().unwrap());
        let c = SlaClock::Business(&s);
        // Friday 2026-12-04 16:00 Lisbon (UTC+0 in winter) + 2 h: 1 h on Friday, 1 h on Monday.
        let fri = utc("2026-12-04T16:00:00Z");
        assert_eq!(c.due(fri, 120), utc("2026-12-07T10:00:00Z"));
        assert_eq!(c.between(fri, utc("2026-12-07T10:00:00Z")), 2 * 3_600_000);
        // Created on Saturday: the clock starts on Monday at 09:00.
        assert_eq!(c.due(utc("2026-12-05T11:00:00Z"), 30), utc("2026-12-07T09:30:00Z"));
        // A whole week is 40 working hours.
        assert_eq!(c.between(utc("2026-12-07T00:00:00Z"), utc("2026-12-14T00:00:00Z")), 40 * 3_600_000);
    }

    #[test]
    fn business_hours_skip_holidays() {
        let mut s = Schedule::office("Europe/Lisbon".parse().unwrap());
        // Tuesday 2026-12-08 is a holiday in Portugal.
        s.holidays.insert(NaiveDate::from_ymd_opt(2026, 12, 8).unwrap());
        let c = SlaClock::Business(&s);
        // Monday 16:00 + 4 h: 1 h Monday, Tuesday off, 3 h Wednesday -> Wednesday 12:00.
        assert_eq!(c.due(utc("2026-12-07T16:00:00Z"), 240), utc("2026-12-09T12:00:00Z"));
    }

    #[test]
    fn business_hours_follow_dst_in_the_tenant_zone() {
        let s = ny();
        let c = SlaClock::Business(&s);
        // New York springs forward on Sunday 2026-03-08. Friday 16:00 EST is 21:00Z; one hour
        // Friday and one on Monday lands at 10:00 EDT, which is 14:00Z (not 15:00Z).
        assert_eq!(c.due(utc("2026-03-06T21:00:00Z"), 120), utc("2026-03-09T14:00:00Z"));
        // In calendar terms that is 65 hours, one less than the same span in a week without DST.
        assert_eq!(utc("2026-03-09T14:00:00Z") - utc("2026-03-06T21:00:00Z"), Duration::hours(65));
        assert_eq!(c.due(utc("2026-02-27T21:00:00Z"), 120), utc("2026-03-02T15:00:00Z"));
        // Falling back on 2026-11-01: Friday 16:00 EDT is 20:00Z; 1 h there and 30 min from
        // Monday 09:00 EST (14:00Z).
        assert_eq!(c.due(utc("2026-10-30T20:00:00Z"), 90), utc("2026-11-02T14:30:00Z"));
        // A Sunday schedule across the gap: 01:00-04:00 on the spring-forward night is 2 h.
        let mut night = ny();
        night.week[6] = vec![(60, 240)];
        let c = SlaClock::Business(&night);
        assert_eq!(c.between(utc("2026-03-08T00:00:00Z"), utc("2026-03-09T00:00:00Z")), 2 * 3_600_000);
    }

    #[test]
    fn a_pause_moves_the_resolution_due_by_the_time_it_took() {
        let s = Schedule::office("Europe/Lisbon".parse().unwrap());
        let c = SlaClock::Business(&s);
        let created = utc("2026-12-07T09:00:00Z"); // Monday
        let due = c.due(created, 8 * 60); // one working day: Monday 17:00
        assert_eq!(due, utc("2026-12-07T17:00:00Z"));
        // Paused at 11:00 (6 h left), resumed Wednesday at 10:00: due Wednesday 16:00.
        let resumed = resume_due(c, due, utc("2026-12-07T11:00:00Z"), utc("2026-12-09T10:00:00Z"));
        assert_eq!(resumed, utc("2026-12-09T16:00:00Z"));
        // A pause that ends after the due time leaves nothing: due on resuming (not earlier).
        let late = resume_due(c, due, utc("2026-12-07T18:00:00Z"), utc("2026-12-08T10:00:00Z"));
        assert_eq!(late, utc("2026-12-08T10:00:00Z"));
        // While paused the resolution due does not breach.
        let t = Targets {
            resolution_minutes: Some(480),
            resolution_due: Some(due.timestamp_millis()),
            first_responded_at: Some(0),
            paused: true,
            ..Default::default()
        };
        assert_eq!(assess(c, &t, utc("2026-12-08T12:00:00Z")), Standing::default());
        let t = Targets { paused: false, ..t };
        assert_eq!(assess(c, &t, utc("2026-12-08T12:00:00Z")), Standing { breached: true, at_risk: false });
    }

    #[test]
    fn at_risk_after_80_percent_of_the_target() {
        let c = SlaClock::Calendar;
        let created = utc("2026-12-07T09:00:00Z");
        let t = Targets {
            first_response_minutes: Some(60),
            first_response_due: Some(c.due(created, 60).timestamp_millis()),
            ..Default::default()
        };
        let at = |m| assess(c, &t, created + Duration::minutes(m));
        assert_eq!(at(47), Standing::default());
        assert_eq!(at(48), Standing { breached: false, at_risk: true });
        assert_eq!(at(60), Standing { breached: false, at_risk: true });
        assert_eq!(at(61), Standing { breached: true, at_risk: false });
        let answered = Targets { first_responded_at: Some(1), ..t };
        assert_eq!(assess(c, &answered, created + Duration::minutes(61)), Standing::default());
        let done = Targets { done: true, ..t };
        assert_eq!(assess(c, &done, created + Duration::minutes(61)), Standing::default());
    }

    #[test]
    fn weeks_are_checked() {
        let ok = Schedule::office(chrono_tz::UTC).week;
        assert!(Schedule::check_week(&ok).is_ok());
        let mut bad = ok.clone();
        bad[0] = vec![(600, 540)];
        assert!(Schedule::check_week(&bad).is_err());
        bad[0] = vec![(540, 700), (600, 800)];
        assert!(Schedule::check_week(&bad).is_err());
        assert!(Schedule::check_week(&Default::default()).is_err());
    }
}
