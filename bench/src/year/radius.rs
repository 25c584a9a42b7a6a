//! A year of RADIUS: the sessions of every PPPoE and hotspot subscriber (the live one of each
//! active subscriber still open), their traffic added up per billing period in the usage
//! table, FUP rate changes as CoA jobs, and the last 90 days of the auth log (the retention
//! an ISP keeps): an accept per session, and the rejects support staff look into (bad
//! passwords, suspended and cancelled users, MAC binding, simultaneous use, unknown users).

use super::model::{Calendar, Sub};
use super::names::Rng;
use super::ops::{JobEvent, JobWhy, Log};
use super::people::{cancelled_at, staff_suspended_at};
use super::rows::{Table, Writer};
use super::setup::{Setup, SUSPEND_AFTER_DAYS};
use anyhow::Result;
use chrono::{DateTime, Duration, NaiveDate};
use isp_core::billing::fmt_date;
use isp_core::db::Arg;
use isp_core::store::plans::BillingPeriod;
use isp_core::store::subscriptions::{AccessType, SubscriptionStatus};
use isp_core::store::usage::period_containing;
use std::collections::BTreeMap;

const SESSIONS: Table = Table {
    name: "radius_sessions",
    cols: &[
        "id",
        "tenant_id",
        "nas_id",
        "subscription_id",
        "username",
        "acct_session_id",
        "framed_ip",
        "calling_station_id",
        "nas_port_id",
        "started_at",
        "updated_at",
        "stopped_at",
        "input_octets",
        "output_octets",
        "session_time",
        "terminate_cause",
        "open",
    ],
};
const USAGE: Table = Table {
    name: "radius_usage",
    cols: &[
        "id",
        "tenant_id",
        "subscription_id",
        "period_start",
        "period_end",
        "input_octets",
        "output_octets",
        "session_time",
        "updated_at",
    ],
};
const AUTH: Table = Table {
    name: "auth_log",
    cols: &[
        "id",
        "tenant_id",
        "nas_id",
        "username",
        "subscription_id",
        "method",
        "result",
        "reason",
        "calling_station_id",
        "at",
    ],
};

/// Days of auth log kept.
const AUTH_DAYS: i64 = 90;
const DAY_MS: i64 = 86_400_000;
const CAUSES: &[&str] =
    &["Lost-Carrier", "User-Request", "Lost-Carrier", "Port-Error", "NAS-Reboot", "Idle-Timeout", "Lost-Service"];
const BOT_NAMES: &[&str] = &["admin", "test", "user", "ubnt", "guest", "support", "mikrotik", "root"];

/// A session before it gets its id.
struct Session {
    start: i64,
    /// Stop time; `None` while open.
    stop: Option<i64>,
    updated: i64,
    sub: u32,
    input: i64,
    output: i64,
    cause: &'static str,
}

/// What an auth log entry says.
#[derive(Clone, Copy)]
enum Auth {
    Accept,
    BadPassword,
    Suspended,
    Cancelled,
    Mac,
    Simultaneous,
    Unknown(usize),
}

/// When the subscriber's service ended or was cut, if it was (Unix ms).
fn service_end(s: &Sub, cal: &Calendar) -> Option<i64> {
    if let Some(at) = cancelled_at(s, cal).or_else(|| staff_suspended_at(s, cal)) {
        return Some(at);
    }
    match (s.status, s.payer) {
        (SubscriptionStatus::Suspended, super::model::Payer::Stopped(u)) => {
            Some(Calendar::ms(Calendar::due(cal.months[u]) + Duration::days(SUSPEND_AFTER_DAYS), 3 * 3600))
        }
        _ => None,
    }
}

fn date_of(ms: i64) -> NaiveDate {
    DateTime::from_timestamp_millis(ms).expect("valid instant").date_naive()
}

/// Writes sessions (ids by start time), usage per period and the auth log.
pub async fn write(
    w: &mut Writer,
    log: &mut Log,
    model: &[Sub],
    setup: &Setup,
    cal: &Calendar,
    tenant: i64,
    first: (i64, i64, i64),
) -> Result<()> {
    let auth_from = cal.now - AUTH_DAYS * DAY_MS;
    let mut sessions = Vec::new();
    let mut auth: Vec<(i64, u32, Auth)> = Vec::new();
    let mut usage_id = first.1;
    for (i, s) in model.iter().enumerate() {
        if !s.radius() || s.status == SubscriptionStatus::Pending {
            continue;
        }
        let mut rng = Rng::new(i as u64 ^ 0x5E55);
        let from = Calendar::ms(s.start.max(cal.start()), 10 * 3600 + rng.range(0, 7200));
        let end = service_end(s, cal).unwrap_or(cal.now);
        let plan = &setup.plans[s.plan];
        // Bytes per second downloaded: a share of the plan's speed, different per household.
        let rate = plan.down_kbps * 125 * rng.range(1, 12) / 1000;
        let mut periods: BTreeMap<NaiveDate, (NaiveDate, i64, i64, i64)> = BTreeMap::new();
        let mut t = from;
        while t < end {
            let days = if s.access == AccessType::Hotspot { rng.range(2, 20) } else { rng.range(4, 50) };
            let stop = t + days * DAY_MS - rng.range(0, DAY_MS);
            let (stop, open, cause) = if stop >= end {
                if end == cal.now {
                    (None, true, "")
                } else {
                    (Some(end), false, "Admin-Reset")
                }
            } else {
                (Some(stop), false, *rng.pick(CAUSES))
            };
            let last = stop.unwrap_or(cal.now - rng.range(1, 300) * 1000);
            let secs = (last - t) / 1000;
            let output = secs * rate;
            let input = output / rng.range(5, 12);
            // Traffic goes to the billing period the session's days fall in.
            let mut day = date_of(t);
            let days_total = (date_of(last) - day).num_days() + 1;
            while day <= date_of(last) {
                let (ps, pe) = period_containing(s.start, BillingPeriod::Monthly, day);
                let span = (date_of(last).min(pe - Duration::days(1)) - day).num_days() + 1;
                let e = periods.entry(ps).or_insert((pe, 0, 0, 0));
                e.1 += input * span / days_total;
                e.2 += output * span / days_total;
                e.3 += secs * span / days_total;
                day = pe;
            }
            sessions.push(Session { start: t, stop, updated: last, sub: i as u32, input, output, cause });
            if t >= auth_from {
                if rng.chance(0.03) {
                    for k in 0..rng.range(1, 3) {
                        auth.push((t - 40_000 + k * 5_000, i as u32, Auth::BadPassword));
                    }
                }
                if s.mac.is_some() && rng.chance(0.02) {
                    auth.push((t - 20_000, i as u32, Auth::Mac));
                }
                if rng.chance(0.01) {
                    auth.push((t + 30_000, i as u32, Auth::Simultaneous));
                }
                auth.push((t - 200, i as u32, Auth::Accept));
            }
            if open {
                break;
            }
            t = stop.unwrap_or(cal.now) + rng.range(5, 1800) * 1000;
        }
        // Suspended and cancelled routers keep dialling: a few rejects a day, for a while.
        if end < cal.now {
            let (why, most) = match s.status {
                SubscriptionStatus::Cancelled => (Auth::Cancelled, 5),
                _ => (Auth::Suspended, 30),
            };
            let mut at = end.max(auth_from) + rng.range(60, 3600) * 1000;
            let mut n = 0;
            while at < cal.now && n < most {
                auth.push((at, i as u32, why));
                at += rng.range(6, 30) * 3_600_000;
                n += 1;
            }
        }
        for (ps, (pe, input, output, secs)) in &periods {
            w.push(
                &USAGE,
                [
                    Arg::I(usage_id),
                    Arg::I(tenant),
                    Arg::I(s.id),
                    Arg::text(fmt_date(*ps)),
                    Arg::text(fmt_date(*pe)),
                    Arg::I(*input),
                    Arg::I(*output),
                    Arg::I(*secs),
                    Arg::I(Calendar::ms(*pe, 0).min(end)),
                ],
            );
            usage_id += 1;
            if plan.fup_quota.is_some_and(|q| input + output > q) {
                let at = Calendar::ms(*ps, 0) + (Calendar::ms(*pe, 0) - Calendar::ms(*ps, 0)) * 3 / 4;
                if at < end {
                    log.jobs.push(JobEvent { at, sub: i as u32, why: JobWhy::Fup });
                }
            }
        }
        w.tick().await?;
    }
    let mut rng = Rng::new(0xB07);
    for _ in 0..model.len() / 10 {
        auth.push((
            auth_from + rng.range(0, AUTH_DAYS * DAY_MS),
            rng.below(model.len() as u64) as u32,
            Auth::Unknown(rng.below(BOT_NAMES.len() as u64) as usize),
        ));
    }

    sessions.sort_by_key(|x| x.start);
    for (n, x) in sessions.iter().enumerate() {
        let s = &model[x.sub as usize];
        let id = first.0 + n as i64;
        let framed = s
            .static_ip
            .clone()
            .unwrap_or_else(|| format!("100.{}.{}.{}", 64 + (id >> 16) % 64, (id >> 8) & 255, id & 255));
        w.push(
            &SESSIONS,
            [
                Arg::I(id),
                Arg::I(tenant),
                Arg::I(setup.pops[s.pop].nas_id),
                Arg::I(s.id),
                Arg::text(s.username.clone()),
                Arg::text(format!("{id:08X}")),
                Arg::text(framed),
                Arg::text(calling_station(s)),
                Arg::text(if s.access == AccessType::Hotspot {
                    "bridge-hotspot".to_string()
                } else {
                    format!("vlan{}", 100 + s.pop)
                }),
                Arg::I(x.start),
                Arg::I(x.updated),
                x.stop.map_or(Arg::NullI, Arg::I),
                Arg::I(x.input),
                Arg::I(x.output),
                Arg::I((x.updated - x.start) / 1000),
                if x.stop.is_some() { Arg::text(x.cause) } else { Arg::NullT },
                Arg::I(i64::from(x.stop.is_none())),
            ],
        );
        w.tick().await?;
    }
    drop(sessions);

    auth.sort_by_key(|a| a.0);
    for (n, (at, sub, what)) in auth.into_iter().enumerate() {
        let s = &model[sub as usize];
        let method = ["PAP", "PAP", "CHAP", "MSCHAPV2"][s.number as usize % 4];
        let (result, reason) = match what {
            Auth::Accept => ("ACCEPT", "ok".to_string()),
            Auth::BadPassword => ("REJECT", "bad password".into()),
            Auth::Suspended => ("REJECT", "subscription suspended".into()),
            Auth::Cancelled => ("REJECT", "subscription cancelled".into()),
            Auth::Mac => (
                "REJECT",
                format!("MAC binding mismatch (bound {}, got 02:5E:00:00:00:01)", s.mac.as_deref().unwrap_or("none")),
            ),
            Auth::Simultaneous => {
                let n = if s.plan == super::setup::plan::BUSINESS { 2 } else { 1 };
                ("REJECT", format!("simultaneous-use limit reached ({n} of {n})"))
            }
            Auth::Unknown(_) => ("REJECT", "unknown user".into()),
        };
        let (username, sub_id, calling) = match what {
            Auth::Unknown(b) => (BOT_NAMES[b].to_string(), Arg::NullI, Arg::NullT),
            Auth::Mac => (s.username.clone(), Arg::I(s.id), Arg::text("02:5E:00:00:00:01")),
            _ => (s.username.clone(), Arg::I(s.id), Arg::text(calling_station(s))),
        };
        w.push(
            &AUTH,
            [
                Arg::I(first.2 + n as i64),
                Arg::I(tenant),
                Arg::I(setup.pops[s.pop].nas_id),
                Arg::text(username),
                sub_id,
                Arg::text(if matches!(what, Auth::Unknown(_)) { "PAP" } else { method }),
                Arg::text(result),
                Arg::text(reason),
                calling,
                Arg::I(at),
            ],
        );
        w.tick().await?;
    }
    Ok(())
}

/// The MAC the subscriber's router dials from: the bound one, or one of its own.
fn calling_station(s: &Sub) -> String {
    s.mac.clone().unwrap_or_else(|| {
        let x = (s.number.wrapping_mul(40_503) & 0xFF_FFFF) as u32;
        format!("E4:8D:8C:{:02X}:{:02X}:{:02X}", x >> 16, (x >> 8) & 255, x & 255)
    })
}
