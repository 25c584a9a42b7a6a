//! What the year left behind besides money and sessions: the audit log, the device-job
//! outbox and the dunning events. The other generators record compact events here as they go;
//! they are sorted by time and written at the end, so ids grow with time as in a real log.

use super::model::{Calendar, Sub};
use super::rows::{Table, Writer};
use super::setup::Setup;
use anyhow::Result;
use isp_core::db::Arg;
use isp_core::store::jobs::{device_comment, DeviceJobPayload, DeviceOp, JobKind, RadiusJobPayload};
use isp_core::store::subscriptions::AccessType;
use serde_json::json;

/// A document number: year and sequence value (rendered from the tenant's template).
pub type Number = (i32, u32);

/// Renders a number with a template's prefix: `INV-2026-00042`.
pub fn render(prefix: &str, n: Number) -> String {
    format!("{prefix}-{}-{:05}", n.0, n.1)
}

/// What an audit entry records (its details are rendered when it is written).
#[derive(Debug, Clone)]
pub enum Act {
    /// `customer.create`.
    CustomerCreate,
    /// `subscription.create`.
    SubscriptionCreate,
    /// `customer.update` of the phone or address.
    CustomerUpdate(&'static str),
    /// `subscription.status` from, to, reason, jobs enqueued.
    Status(&'static str, &'static str, String, u32),
    /// `payment.record`: payment id, amount, receipt.
    Payment(i64, i64, Number),
    /// `invoice.void`: invoice id, its number, the credit note's, the reason.
    Void(i64, Number, Number, &'static str),
}

/// One audit entry to write.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    /// When, Unix ms.
    pub at: i64,
    /// Index into [`Setup::staff`], or `None` for a system actor.
    pub staff: Option<usize>,
    /// System actor name (`billing-daily`, `webhook:pagarme`) when `staff` is `None`.
    pub system: &'static str,
    /// The customer it concerns (index into the model).
    pub sub: u32,
    /// What was done.
    pub act: Act,
}

/// Why a device job was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobWhy {
    /// Dunning suspended the subscription.
    Dunning,
    /// Dunning reactivated it after a payment.
    Reactivation,
    /// Staff suspended it.
    Staff,
    /// It was cancelled.
    Cancel,
    /// Its FUP quota ran out: a CoA with the FUP rate.
    Fup,
}

/// A status change or quota event that enqueued jobs.
#[derive(Debug, Clone, Copy)]
pub struct JobEvent {
    /// When, Unix ms.
    pub at: i64,
    /// The customer (index into the model).
    pub sub: u32,
    /// Why.
    pub why: JobWhy,
}

/// A dunning step.
#[derive(Debug, Clone, Copy)]
pub struct DunningEvent {
    /// When, Unix ms.
    pub at: i64,
    /// The customer (index into the model).
    pub sub: u32,
    /// Invoice concerned (0 for none).
    pub invoice_id: i64,
    /// Whether it names the subscription (SUSPENDED, REACTIVATED).
    pub with_sub: bool,
    /// `OVERDUE`, `SUSPENDED` or `REACTIVATED`.
    pub kind: &'static str,
}

/// Everything the generators recorded for the end.
#[derive(Default)]
pub struct Log {
    /// Audit entries.
    pub audit: Vec<AuditEvent>,
    /// Job-causing events.
    pub jobs: Vec<JobEvent>,
    /// Dunning events.
    pub dunning: Vec<DunningEvent>,
}

const AUDIT: Table = Table {
    name: "audit_log",
    cols: &["id", "tenant_id", "user_id", "actor", "action", "object_type", "object_id", "details", "ip", "at"],
};
const JOBS: Table = Table {
    name: "device_jobs",
    cols: &[
        "id",
        "tenant_id",
        "nas_id",
        "device_id",
        "kind",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
        "updated_at",
    ],
};
const DUNNING: Table = Table {
    name: "dunning_events",
    cols: &["id", "tenant_id", "customer_id", "invoice_id", "subscription_id", "kind", "at", "notified_at"],
};

/// Writes the audit log, the device jobs and the dunning events, each in time order with ids
/// from the given starting points.
pub async fn write(
    w: &mut Writer,
    log: &mut Log,
    model: &[Sub],
    setup: &Setup,
    cal: &Calendar,
    tenant: i64,
    first_ids: (i64, i64, i64),
) -> Result<()> {
    log.audit.sort_by_key(|e| e.at);
    for (i, e) in log.audit.iter().enumerate() {
        w.push(&AUDIT, audit_row(first_ids.0 + i as i64, tenant, e, model, setup));
        w.tick().await?;
    }
    log.jobs.sort_by_key(|e| e.at);
    let mut id = first_ids.1;
    for e in &log.jobs {
        for row in job_rows(e, &model[e.sub as usize], setup, cal, tenant, &mut id) {
            w.push(&JOBS, row);
        }
        w.tick().await?;
    }
    log.dunning.sort_by_key(|e| e.at);
    for (i, e) in log.dunning.iter().enumerate() {
        let s = &model[e.sub as usize];
        w.push(
            &DUNNING,
            [
                Arg::I(first_ids.2 + i as i64),
                Arg::I(tenant),
                Arg::I(s.customer_id),
                Arg::I(e.invoice_id),
                Arg::I(if e.with_sub { s.id } else { 0 }),
                Arg::text(e.kind),
                Arg::I(e.at),
                Arg::NullI,
            ],
        );
        w.tick().await?;
    }
    Ok(())
}

fn audit_row(id: i64, tenant: i64, e: &AuditEvent, model: &[Sub], setup: &Setup) -> [Arg; 10] {
    let s = &model[e.sub as usize];
    let (action, object_type, object_id, details) = match &e.act {
        Act::CustomerCreate => (
            "customer.create",
            "Customer",
            s.customer_id,
            json!({"accountNumber": format!("C{:06}", s.number), "name": s.person.name}),
        ),
        Act::SubscriptionCreate => (
            "subscription.create",
            "Subscription",
            s.id,
            json!({"customerId": s.customer_id, "planId": setup.plans[s.plan].id, "username": s.username,
                "accessType": s.access.as_str(),
                "status": if s.status.as_str() == "PENDING" { "PENDING" } else { "ACTIVE" }}),
        ),
        Act::CustomerUpdate(field) => ("customer.update", "Customer", s.customer_id, json!({"fields": [field]})),
        Act::Status(from, to, reason, jobs) => (
            "subscription.status",
            "Subscription",
            s.id,
            json!({"from": from, "to": to, "reason": reason, "jobs": jobs}),
        ),
        Act::Payment(payment, amount, receipt) => (
            "payment.record",
            "Payment",
            *payment,
            json!({"customerId": s.customer_id, "amount": amount, "method": s.method.as_str(),
                "receipt": render("RCT", *receipt), "unallocated": 0}),
        ),
        Act::Void(invoice, number, note, reason) => (
            "invoice.void",
            "Invoice",
            *invoice,
            json!({"number": render("INV", *number), "creditNote": render("CN", *note), "reason": reason,
                "releasedAllocations": 0}),
        ),
    };
    let (user, actor, ip) = match e.staff {
        Some(i) => {
            let st = &setup.staff[i];
            (Arg::I(st.id), Arg::text(st.email.clone()), Arg::text(format!("10.20.0.{}", 10 + i)))
        }
        None => (Arg::NullI, Arg::text(format!("system:{}", e.system)), Arg::NullT),
    };
    [
        Arg::I(id),
        Arg::I(tenant),
        user,
        actor,
        Arg::text(action),
        Arg::text(object_type),
        Arg::I(object_id),
        Arg::text(details.to_string()),
        ip,
        Arg::I(e.at),
    ]
}

/// The job rows an event enqueued, as `netjobs::enqueue_for_status` writes them for the
/// tenant's default strategy (address lists; RADIUS rejects suspended users): a Disconnect
/// for the live session on suspension, and the device change of static IPs and GPON ONUs.
/// Jobs of the last hour are still pending; one in 200 older ones is dead.
fn job_rows(e: &JobEvent, s: &Sub, setup: &Setup, cal: &Calendar, tenant: i64, id: &mut i64) -> Vec<[Arg; 12]> {
    let reason = match e.why {
        JobWhy::Dunning => "dunning suspension",
        JobWhy::Reactivation => "dunning reactivation",
        JobWhy::Staff => "suspended by staff",
        JobWhy::Cancel => "cancelled",
        JobWhy::Fup => "data quota used: FUP rate",
    };
    let nas = setup.pops[s.pop].nas_id;
    let acct = format!("{:08X}", (s.id as u64).wrapping_mul(2_654_435_761) & 0xFFFF_FFFF);
    let mut jobs: Vec<(Option<i64>, Option<i64>, JobKind, String)> = Vec::new();
    let suspend = !matches!(e.why, JobWhy::Reactivation | JobWhy::Fup);
    if s.radius() && (suspend || e.why == JobWhy::Fup) {
        let payload = RadiusJobPayload {
            acct_session_id: acct,
            username: s.username.clone(),
            framed_ip: s.static_ip.clone(),
            rate_limit: (e.why == JobWhy::Fup).then(|| "2000k/5000k".to_string()),
            reason: reason.into(),
        };
        let kind = if e.why == JobWhy::Fup { JobKind::RadiusCoa } else { JobKind::RadiusDisconnect };
        jobs.push((Some(nas), None, kind, serde_json::to_string(&payload).expect("payload")));
    }
    let op = match s.access {
        AccessType::Gpon => Some(DeviceOp::Onu),
        _ if s.static_ip.is_some() => Some(DeviceOp::AddressList),
        _ => None,
    };
    if let (Some(op), Some(device), false) = (op, s.device_id, e.why == JobWhy::Fup) {
        let payload = DeviceJobPayload {
            subscription_id: s.id,
            username: s.username.clone(),
            op,
            address: s.static_ip.clone(),
            list: s.static_ip.as_ref().map(|_| "suspended".to_string()),
            onu_serial: s.onu.as_ref().map(|o| o.0.clone()),
            olt_port: s.onu.as_ref().map(|o| o.1.clone()),
            comment: device_comment(s.id, &s.username),
            reason: reason.into(),
        };
        let kind = if suspend { JobKind::DeviceSuspend } else { JobKind::DeviceResume };
        jobs.push((None, Some(device), kind, serde_json::to_string(&payload).expect("payload")));
    }
    jobs.into_iter()
        .map(|(nas, device, kind, payload)| {
            *id += 1;
            let fresh = cal.now - e.at < 3_600_000;
            let dead = !fresh && *id % 200 == 0;
            let (status, attempts, next, error, updated) = if fresh {
                ("PENDING", 2, cal.now + 60_000, Arg::text("connection timed out after 5s"), e.at + 65_000)
            } else if dead {
                let err = format!("connection refused ({})", if device.is_some() { "device" } else { "NAS CoA port" });
                ("DEAD", 8, e.at + 3_600_000, Arg::text(err), e.at + 3_600_000)
            } else {
                ("DONE", 1, e.at, Arg::NullT, e.at + 1_200)
            };
            [
                Arg::I(*id - 1),
                Arg::I(tenant),
                nas.map_or(Arg::NullI, Arg::I),
                device.map_or(Arg::NullI, Arg::I),
                Arg::text(kind.as_str()),
                Arg::text(payload),
                Arg::text(status),
                Arg::I(attempts),
                Arg::I(next),
                error,
                Arg::I(e.at),
                Arg::I(updated),
            ]
        })
        .collect()
}
