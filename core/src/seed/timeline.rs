//! The demo's own clock. The demo's history is written through the workflows, which take
//! the time from the context's clock; so the demo runs them on a [`ManualClock`] moved from a
//! few months back up to the caller's now, and every row (issue dates, payment dates, audit
//! entries, sessions, jobs) carries the date it would have had. The caller's context and
//! clock are left alone: `isp serve` keeps its wall clock.

use crate::clock::{Clock, ManualClock};
use crate::Ctx;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use std::sync::Arc;

/// A clock that walks forward through the demo's history in the tenant's time zone.
pub(super) struct Timeline {
    /// The caller's context on the history clock: every history step runs with it.
    pub ctx: Ctx,
    clock: ManualClock,
    end: DateTime<Utc>,
    zone: Tz,
}

impl Timeline {
    /// A timeline in `zone` from midnight of `start` up to the caller's now.
    pub fn new(ctx: &Ctx, zone: Tz, start: NaiveDate) -> Self {
        let end = ctx.clock.now();
        let clock = ManualClock::new(end);
        let t = Self { ctx: Ctx { clock: Arc::new(clock.clone()), ..ctx.clone() }, clock, end, zone };
        t.clock.set(t.local(start, 0, 0).min(end));
        t
    }

    /// The tenant's today at the end of the history: the caller's today.
    pub fn today(&self) -> NaiveDate {
        self.end.with_timezone(&self.zone).date_naive()
    }

    /// The instant of `h:m` local time on `day` (the hour after a daylight-saving gap).
    fn local(&self, day: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
        let naive = day.and_hms_opt(h, m, 0).unwrap_or_default();
        match self.zone.from_local_datetime(&naive).earliest() {
            Some(t) => t.with_timezone(&Utc),
            None => self.zone.from_utc_datetime(&naive).with_timezone(&Utc) + Duration::hours(1),
        }
    }

    /// Moves the clock to `h:m` local time on `day`: never back (steps keep their order) and
    /// never past the end (nothing happens in the caller's future).
    pub fn at(&self, day: NaiveDate, h: u32, m: u32) {
        self.set(self.local(day, h, m));
    }

    /// Moves the clock forward by `by`, never past the end.
    pub fn advance(&self, by: Duration) {
        self.set(self.clock.now() + by);
    }

    /// Moves the clock to the end: the caller's now.
    pub fn finish(&self) {
        self.clock.set(self.end);
    }

    pub fn set(&self, t: DateTime<Utc>) {
        self.clock.set(t.max(self.clock.now()).min(self.end));
    }

    /// The tenant's date at the history clock's now.
    pub fn date(&self) -> NaiveDate {
        self.clock.now().with_timezone(&self.zone).date_naive()
    }

    /// The current instant of the history clock, Unix ms.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}
