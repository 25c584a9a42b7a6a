//! Helpdesk domain rules: the SLA engine ([`sla`], pure), how a ticket's due times follow
//! its policy, priority and status ([`apply_policy`], [`move_status`], [`refresh_standing`]),
//! the tenant's working schedule as the store keeps it ([`schedule`]), and the ticket
//! report ([`report`], pure).

pub mod report;
pub mod sla;

use crate::clock::from_ms;
use crate::db::Tx;
use crate::error::{CoreError, CoreResult};
use crate::store::helpdesk::{self as settings, SlaPolicy};
use crate::store::tickets::{Ticket, TicketStatus};
use chrono::NaiveDate;
use sla::{Schedule, SlaClock};

/// A weekly schedule from its stored JSON (seven lists, Monday first, of [start, end) minutes).
pub fn parse_week(json: &str) -> Result<[Vec<(u32, u32)>; 7], String> {
    let days: Vec<Vec<(u32, u32)>> = serde_json::from_str(json).map_err(|e| format!("not a weekly schedule: {e}"))?;
    let week: [Vec<(u32, u32)>; 7] = days.try_into().map_err(|_| "needs seven days, Monday first".to_string())?;
    Schedule::check_week(&week)?;
    Ok(week)
}

/// The stored JSON of a weekly schedule.
pub fn week_json(week: &[Vec<(u32, u32)>; 7]) -> String {
    serde_json::to_string(week).unwrap_or_else(|_| "[]".into())
}

/// The tenant's working schedule: its zone, its weekly hours (office hours when it set none)
/// and its holidays.
pub async fn schedule(tx: &mut Tx, tenant_id: i64) -> CoreResult<Schedule> {
    let zone = crate::store::tenants::get(&mut *tx, tenant_id).await?.timezone;
    let tz: chrono_tz::Tz = zone.parse().unwrap_or(chrono_tz::UTC);
    let mut s = Schedule::office(tz);
    if let Some(json) = settings::business_hours(&mut *tx, tenant_id).await? {
        s.week = parse_week(&json).map_err(|m| CoreError::internal(format!("stored business hours: {m}")))?;
    }
    for h in settings::holidays(&mut *tx, tenant_id).await? {
        if let Ok(d) = NaiveDate::parse_from_str(&h.day, "%Y-%m-%d") {
            s.holidays.insert(d);
        }
    }
    Ok(s)
}

/// The instants [start of `from`, start of the day after `to`) of local dates in `timezone`,
/// as Unix ms: the range a report over those days covers.
pub fn local_range(timezone: &str, from: NaiveDate, to: NaiveDate) -> (i64, i64) {
    use chrono::TimeZone;
    let zone: chrono_tz::Tz = timezone.parse().unwrap_or(chrono_tz::UTC);
    let start = |d: NaiveDate| {
        let midnight = d.and_hms_opt(0, 0, 0).expect("midnight");
        // A midnight skipped by DST starts the day at the first instant that exists.
        (0..=180)
            .find_map(|m| zone.from_local_datetime(&(midnight + chrono::Duration::minutes(m))).earliest())
            .map_or(0, |t| t.timestamp_millis())
    };
    (start(from), start(to + chrono::Duration::days(1)))
}

/// The clock ticket `t`'s SLA runs on.
pub fn clock_of<'a>(t: &Ticket, schedule: &'a Schedule) -> SlaClock<'a> {
    if t.sla_business_hours != 0 {
        SlaClock::Business(schedule)
    } else {
        SlaClock::Calendar
    }
}

/// Sets `t`'s targets and due times from `policy` (none: no SLA), counted from its creation;
/// the resolution due also moves on by the working time already spent paused.
pub fn apply_policy(t: &mut Ticket, policy: Option<&SlaPolicy>, schedule: &Schedule) {
    match policy {
        None => {
            t.sla_business_hours = 0;
            t.first_response_minutes = None;
            t.resolution_minutes = None;
            t.first_response_due = None;
            t.resolution_due = None;
        }
        Some(p) => {
            t.sla_business_hours = p.business_hours;
            t.first_response_minutes = Some(p.first_response_minutes);
            t.resolution_minutes = Some(p.resolution_minutes);
            let clock = clock_of(t, schedule);
            let created = from_ms(t.created_at);
            t.first_response_due = Some(clock.due(created, p.first_response_minutes).timestamp_millis());
            let res = clock.add(created, p.resolution_minutes * 60_000 + t.paused_ms);
            t.resolution_due = Some(res.timestamp_millis());
        }
    }
    t.refresh_next_due();
}

/// Moves `t` to status `to` at `now` (Unix ms): leaving PENDING_CUSTOMER resumes the
/// resolution clock (its due time moves on by the pause), entering it pauses the clock;
/// resolving or closing stamps `resolved_at` and releases the automatic-ticket key;
/// reopening clears `resolved_at`. The caller checks [`TicketStatus::can_become`].
pub fn move_status(t: &mut Ticket, to: TicketStatus, now: i64, schedule: &Schedule) {
    if let (Some(paused), true) = (t.paused_at, to != TicketStatus::PendingCustomer) {
        let clock = clock_of(t, schedule);
        if let Some(due) = t.resolution_due {
            t.resolution_due =
                Some(sla::resume_due(clock, from_ms(due), from_ms(paused), from_ms(now)).timestamp_millis());
        }
        t.paused_ms += clock.between(from_ms(paused), from_ms(now));
        t.paused_at = None;
    }
    if to == TicketStatus::PendingCustomer && t.paused_at.is_none() {
        t.paused_at = Some(now);
    }
    if to.is_done() {
        t.resolved_at = t.resolved_at.or(Some(now));
        t.dedup_key = None;
    } else if t.status.is_done() {
        t.resolved_at = None;
    }
    t.status = to;
    t.refresh_next_due();
}

/// Updates `t`'s breached (sticky) and at-risk flags for `now`; whether it became breached.
pub fn refresh_standing(t: &mut Ticket, schedule: &Schedule, now: i64) -> bool {
    let targets = sla::Targets {
        first_response_minutes: t.first_response_minutes,
        resolution_minutes: t.resolution_minutes,
        first_response_due: t.first_response_due,
        resolution_due: t.resolution_due,
        first_responded_at: t.first_responded_at,
        paused: t.paused_at.is_some(),
        done: t.status.is_done(),
    };
    let st = sla::assess(clock_of(t, schedule), &targets, from_ms(now));
    let newly = st.breached && t.breached == 0;
    if st.breached {
        t.breached = 1;
    }
    t.at_risk = i64::from(st.at_risk && t.breached == 0);
    newly
}

/// Records `t`'s first public reply at `now`: a reply after the due time breaches.
pub fn first_response(t: &mut Ticket, now: i64) {
    if t.first_responded_at.is_some() {
        return;
    }
    t.first_responded_at = Some(now);
    if t.first_response_due.is_some_and(|due| now > due) {
        t.breached = 1;
    }
    t.refresh_next_due();
}
