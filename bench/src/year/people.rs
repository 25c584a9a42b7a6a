//! Customers and their subscriptions, with the lifecycle staff gave them (created, contact
//! details edited, suspended on request, cancelled) recorded for the audit log and the
//! device-job outbox.

use super::model::{Calendar, Sub};
use super::names::Rng;
use super::ops::{Act, AuditEvent, JobEvent, JobWhy, Log};
use super::rows::{Table, Writer};
use super::setup::Setup;
use anyhow::Result;
use chrono::Duration;
use isp_core::auth::Role;
use isp_core::db::{query, Arg, Db};
use isp_core::store::subscriptions::{AccessType, SubscriptionStatus, PASSWORD_CONTEXT};
use isp_core::Ctx;

const CUSTOMERS: Table = Table {
    name: "customers",
    cols: &[
        "id",
        "tenant_id",
        "account_number",
        "name",
        "email",
        "phone",
        "address",
        "tax_id",
        "notes",
        "status",
        "created_at",
        "updated_at",
    ],
};
const SUBSCRIPTIONS: Table = Table {
    name: "subscriptions",
    cols: &[
        "id",
        "tenant_id",
        "customer_id",
        "plan_id",
        "access_type",
        "username",
        "password_enc",
        "static_ipv4",
        "mac_address",
        "onu_serial",
        "olt_port",
        "status",
        "start_date",
        "status_reason",
        "simultaneous_use",
        "device_id",
        "created_at",
        "updated_at",
    ],
};

/// The subscription history the reports read (migration 0017): created, then cancelled or
/// suspended by staff, on the days the lifecycle above gives them.
const HISTORY: Table = Table {
    name: "subscription_history",
    cols: &[
        "tenant_id",
        "subscription_id",
        "customer_id",
        "day",
        "at",
        "from_status",
        "to_status",
        "from_plan_id",
        "to_plan_id",
        "from_access_type",
        "to_access_type",
        "from_mrr_x12",
        "to_mrr_x12",
        "first_for_customer",
    ],
};

const CANCEL_REASONS: &[&str] = &["moved away", "switched provider", "too expensive", "closing the business"];
const NOTES: &[&str] = &[
    "Prefers contact by WhatsApp",
    "Gate code 4711; dog in the yard",
    "Router in the back office, ask for Sr. Almeida",
    "Pays at the counter on the 10th",
];

/// When a cancelled subscription was cancelled (a few days before the month it stops being
/// billed), Unix ms.
pub fn cancelled_at(s: &Sub, cal: &Calendar) -> Option<i64> {
    let c = s.cancel_month?;
    let day = (cal.months[c] - Duration::days(1 + (s.number % 5) as i64)).max(s.start);
    Some(Calendar::ms(day, 11 * 3600))
}

/// When staff suspended the subscription on request, Unix ms.
pub fn staff_suspended_at(s: &Sub, cal: &Calendar) -> Option<i64> {
    let d = s.staff_suspended_days?;
    let day = (cal.today - Duration::days(d)).max(s.start);
    Some(Calendar::ms(day, 14 * 3600).min(cal.now - 60_000))
}

/// Writes customers and subscriptions and records their lifecycle.
pub async fn write(
    w: &mut Writer,
    log: &mut Log,
    ctx: &Ctx,
    model: &[Sub],
    setup: &Setup,
    cal: &Calendar,
    tenant: i64,
) -> Result<()> {
    let of = |role: Role| -> Vec<usize> { (0..setup.staff.len()).filter(|&i| setup.staff[i].role == role).collect() };
    let (front, engineers) = ([of(Role::Support), of(Role::Manager)].concat(), of(Role::Engineer));
    for (i, s) in model.iter().enumerate() {
        let mut rng = Rng::new(i as u64 ^ 0xC0FFEE);
        let sub = i as u32;
        let p = &s.person;
        let clerk = front[i % front.len()];
        let mut updated = s.created_at;
        log.audit.push(AuditEvent { at: s.created_at, staff: Some(clerk), system: "", sub, act: Act::CustomerCreate });
        let sub_created = s.created_at + 60_000;
        log.audit.push(AuditEvent {
            at: sub_created,
            staff: Some(clerk),
            system: "",
            sub,
            act: Act::SubscriptionCreate,
        });
        if rng.chance(0.03) {
            let at = (cal.now - rng.range(1, 300) * 86_400_000).max(s.created_at + 86_400_000).min(cal.now);
            updated = at;
            let field = if rng.chance(0.5) { "phone" } else { "address" };
            log.audit.push(AuditEvent { at, staff: Some(clerk), system: "", sub, act: Act::CustomerUpdate(field) });
        }
        let (mut reason, mut sub_updated) = (None, sub_created);
        if let Some(at) = cancelled_at(s, cal) {
            let r = CANCEL_REASONS[i % CANCEL_REASONS.len()];
            reason = Some(r.to_string());
            sub_updated = at;
            let jobs =
                u32::from(s.radius()) + u32::from(s.device_id.is_some() && (s.onu.is_some() || s.static_ip.is_some()));
            log.jobs.push(JobEvent { at, sub, why: JobWhy::Cancel });
            log.audit.push(AuditEvent {
                at,
                staff: Some(clerk),
                system: "",
                sub,
                act: Act::Status("ACTIVE", "CANCELLED", r.to_string(), jobs),
            });
        }
        if let Some(at) = staff_suspended_at(s, cal) {
            let r = "customer request: travelling";
            reason = Some(r.into());
            sub_updated = at;
            let jobs =
                u32::from(s.radius()) + u32::from(s.device_id.is_some() && (s.onu.is_some() || s.static_ip.is_some()));
            log.jobs.push(JobEvent { at, sub, why: JobWhy::Staff });
            let engineer = engineers[i % engineers.len()];
            log.audit.push(AuditEvent {
                at,
                staff: Some(engineer),
                system: "",
                sub,
                act: Act::Status("ACTIVE", "SUSPENDED", r.into(), jobs),
            });
        }
        let business = s.plan == super::setup::plan::BUSINESS;
        w.push(
            &CUSTOMERS,
            [
                Arg::I(s.customer_id),
                Arg::I(tenant),
                Arg::text(format!("C{:06}", s.number)),
                Arg::text(p.name.clone()),
                p.email.clone().map_or(Arg::NullT, Arg::text),
                p.phone.clone().map_or(Arg::NullT, Arg::text),
                Arg::text(p.address.clone()),
                if business {
                    Arg::text(format!(
                        "{:02}.{:03}.{:03}/0001-{:02}",
                        s.number % 97,
                        s.number % 997,
                        s.number % 991,
                        s.number % 89
                    ))
                } else {
                    Arg::NullT
                },
                if rng.chance(0.05) { Arg::text(*rng.pick(NOTES)) } else { Arg::NullT },
                Arg::text(s.customer_status.as_str()),
                Arg::I(s.created_at),
                Arg::I(updated.max(sub_updated)),
            ],
        );
        let password = match s.access {
            AccessType::Pppoe | AccessType::Hotspot => {
                Arg::text(ctx.secrets.cipher.encrypt(PASSWORD_CONTEXT, &format!("pw{}", s.number)))
            }
            _ => Arg::NullT,
        };
        w.push(
            &SUBSCRIPTIONS,
            [
                Arg::I(s.id),
                Arg::I(tenant),
                Arg::I(s.customer_id),
                Arg::I(setup.plans[s.plan].id),
                Arg::text(s.access.as_str()),
                Arg::text(s.username.clone()),
                password,
                s.static_ip.clone().map_or(Arg::NullT, Arg::text),
                s.mac.clone().map_or(Arg::NullT, Arg::text),
                s.onu.as_ref().map_or(Arg::NullT, |o| Arg::text(o.0.clone())),
                s.onu.as_ref().map_or(Arg::NullT, |o| Arg::text(o.1.clone())),
                Arg::text(s.status.as_str()),
                Arg::text(isp_core::billing::fmt_date(s.start)),
                reason.map_or(Arg::NullT, Arg::text),
                Arg::I(if business { 2 } else { 1 }),
                s.device_id.map_or(Arg::NullI, Arg::I),
                Arg::I(sub_created),
                Arg::I(sub_updated),
            ],
        );
        history(w, s, setup, cal, tenant);
        w.tick().await?;
    }
    Ok(())
}

/// Queues the history rows of subscription `s`: created (ACTIVE unless it is PENDING today),
/// then cancelled or suspended by staff. Dunning suspensions are left out.
fn history(w: &mut Writer, s: &Sub, setup: &Setup, cal: &Calendar, tenant: i64) {
    let plan = &setup.plans[s.plan];
    let pending = s.status == SubscriptionStatus::Pending;
    let created = if pending { "PENDING" } else { "ACTIVE" };
    let value = if pending { 0 } else { plan.price * 12 };
    let row = |day: String, at: i64, from: Option<&'static str>, to: &'static str, from_value: i64, to_value: i64| {
        let from_plan = from.map_or(Arg::NullI, |_| Arg::I(plan.id));
        let from_access = from.map_or(Arg::NullT, |_| Arg::text(s.access.as_str()));
        [
            Arg::I(tenant),
            Arg::I(s.id),
            Arg::I(s.customer_id),
            Arg::text(day),
            Arg::I(at),
            from.map_or(Arg::NullT, Arg::text),
            Arg::text(to),
            from_plan,
            Arg::I(plan.id),
            from_access,
            Arg::text(s.access.as_str()),
            Arg::I(from_value),
            Arg::I(to_value),
            Arg::I(i64::from(from.is_none())),
        ]
    };
    let day_of = |ms: i64| {
        isp_core::billing::fmt_date(chrono::DateTime::from_timestamp_millis(ms).expect("a valid instant").date_naive())
    };
    w.push(&HISTORY, row(isp_core::billing::fmt_date(s.start), s.created_at + 60_000, None, created, 0, value));
    if let Some(at) = cancelled_at(s, cal) {
        w.push(&HISTORY, row(day_of(at), at, Some(created), "CANCELLED", value, 0));
    } else if let Some(at) = staff_suspended_at(s, cal) {
        w.push(&HISTORY, row(day_of(at), at, Some(created), "SUSPENDED", value, 0));
    }
}

/// Sets the status reasons the billing pass decided (dunning suspensions and reactivations)
/// and the tenant's next account number, after the rows are in.
pub async fn finish(db: &Db, model: &[Sub], reasons: &[(u32, String, i64)], tenant: i64) -> Result<()> {
    // The last dunning step stands where it explains today's status: a suspension on the
    // subscriptions dunning holds suspended, a reactivation on active ones.
    let updates: Vec<(i64, String, i64)> = reasons
        .iter()
        .filter(|(i, reason, _)| {
            let s = &model[*i as usize];
            match s.status {
                SubscriptionStatus::Suspended => s.staff_suspended_days.is_none() && reason.ends_with("overdue"),
                SubscriptionStatus::Active => reason.starts_with("dunning: paid"),
                _ => false,
            }
        })
        .map(|(i, reason, at)| (model[*i as usize].id, reason.clone(), *at))
        .collect();
    let next = model.len() as i64 + 1;
    db.bulk(move |tx| {
        Box::pin(async move {
            for (id, reason, at) in &updates {
                query("UPDATE subscriptions SET status_reason = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4")
                    .bind(reason.as_str())
                    .bind(*at)
                    .bind(tenant)
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
            }
            query("UPDATE tenants SET next_customer_number = $1 WHERE id = $2")
                .bind(next)
                .bind(tenant)
                .execute(&mut *tx)
                .await?;
            Ok(())
        })
    })
    .await?;
    Ok(())
}
