//! RADIUS accounting (RFC 2866): Start, Interim-Update and Stop recorded into sessions and
//! per-period usage, and quota enforcement, in one implementation: group-committed batches
//! ([`account_many`]), of which a single request is a batch of one ([`account`]).
//!
//! Quota crossings write their CoA / Disconnect jobs into the batch's transaction and wake
//! the worker once it commits. Accounting has no staff actor and writes no audit entries.

mod batch;

use crate::auth::Actor;
use crate::db::{FromRow, Tx};
use crate::effects::Effects;
use crate::error::CoreResult;
use crate::notify;
use crate::store::jobs::{JobKind, NewJob, RadiusJobPayload};
use crate::store::notifications::NotifyEvent;
use crate::store::plans::QuotaAction;
use crate::store::radius_sessions;
use crate::Ctx;
pub use batch::{account_many, AcctItem};
use serde_json::json;

/// Acct-Status-Type values that touch one session (RFC 2866 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcctStatus {
    /// Start.
    Start,
    /// Interim-Update.
    Interim,
    /// Stop.
    Stop,
}

/// One Accounting-Request about one session, decoded by the RADIUS server.
#[derive(Debug, Clone)]
pub struct AcctRecord {
    /// Start, Interim or Stop.
    pub status: AcctStatus,
    /// Acct-Session-Id.
    pub acct_session_id: String,
    /// User-Name.
    pub username: String,
    /// Subscription from our Class attribute, if the NAS echoed it.
    pub class_subscription_id: Option<i64>,
    /// Framed-IP-Address.
    pub framed_ip: Option<String>,
    /// Calling-Station-Id.
    pub calling_station_id: Option<String>,
    /// NAS-Port-Id.
    pub nas_port_id: Option<String>,
    /// 64-bit Acct-Input-Octets (+ gigawords).
    pub input_octets: i64,
    /// 64-bit Acct-Output-Octets (+ gigawords).
    pub output_octets: i64,
    /// Acct-Session-Time.
    pub session_time: i64,
    /// Acct-Terminate-Cause name (Stop).
    pub terminate_cause: Option<String>,
}

/// What accounting did besides recording.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcctOutcome {
    /// Device jobs enqueued (quota crossed); wake the worker.
    pub jobs: usize,
    /// Whether the usage of a period crossed the plan's data or time quota.
    pub quota_crossed: bool,
    /// The subscription whose session (and maybe usage) was written, when it is known.
    pub subscription_id: Option<i64>,
}

#[derive(FromRow)]
pub(super) struct QuotaRow {
    id: i64,
    customer_id: i64,
    start_date: String,
    /// The tenant's time zone: periods run on its local calendar, like billing's.
    timezone: String,
    billing_period: crate::store::plans::BillingPeriod,
    data_quota_bytes: Option<i64>,
    quota_action: Option<QuotaAction>,
    fup_upload_kbps: Option<i64>,
    fup_download_kbps: Option<i64>,
    time_quota_secs: Option<i64>,
}

/// Sets a session's counters and state (`$1 .. $10`); the single-row form of the batch's
/// update, and with a guard on the old counters the update of [`account`].
pub(super) const UPDATE_SESSION: &str =
    "UPDATE radius_sessions SET input_octets = $1, output_octets = $2, session_time = $3, \
    updated_at = $4, framed_ip = COALESCE($5, framed_ip), open = $6, stopped_at = COALESCE(stopped_at, $7), \
    terminate_cause = COALESCE(terminate_cause, $8) WHERE tenant_id = $9 AND id = $10";

/// Records one Accounting-Request of `nas_id` in `tenant_id` in one transaction: the
/// session's counters are overwritten with the reported cumulative values (a retransmission
/// or reordering never counts twice), their growth is added to the current period's usage,
/// and a crossed quota enqueues Disconnect (hard cap) or CoA (FUP) jobs for every open
/// session of the subscription. It is a batch of one ([`account_many`]).
pub async fn account(ctx: &Ctx, tenant_id: i64, nas_id: i64, r: &AcctRecord) -> CoreResult<AcctOutcome> {
    let item = AcctItem { tenant_id, nas_id, record: r.clone() };
    account_many(ctx, std::slice::from_ref(&item)).await.remove(0)
}

/// Enqueues Disconnect (hard cap, time quota) or CoA (FUP) jobs for every open session of
/// subscription `q` when the usage totals `(octets, seconds)` of the period `(start, end)`
/// just crossed a quota with growth `(d_octets, d_secs)`, and queues the customer's
/// QUOTA_80 / QUOTA_100 notifications when usage crosses 80 % / 100 % of a quota (once per
/// period and threshold: the period is part of the message's key).
#[allow(clippy::too_many_arguments)]
pub(super) async fn enforce_quota(
    ctx: &Ctx,
    tx: &mut Tx,
    tenant_id: i64,
    q: &QuotaRow,
    (start, end): (&str, &str),
    (octets, secs): (i64, i64),
    (d_octets, d_secs): (i64, i64),
    now: i64,
) -> CoreResult<AcctOutcome> {
    let sub = q.id;
    let crossed = |limit: Option<i64>, total: i64, delta: i64| limit.is_some_and(|l| total >= l && total - delta < l);
    // Thresholds of each quota: (limit, total, growth, unit).
    let quotas = [(q.data_quota_bytes, octets, d_octets, "bytes"), (q.time_quota_secs, secs, d_secs, "seconds")];
    for (limit, total, delta, unit) in quotas {
        let Some(limit) = limit.filter(|l| *l > 0) else { continue };
        for (percent, event) in [(80, NotifyEvent::Quota80), (100, NotifyEvent::Quota100)] {
            if !crossed(Some(limit * percent / 100), total, delta) {
                continue;
            }
            // `period_end` is exclusive in storage; customers read the last day.
            let last = crate::billing::parse_date("periodEnd", end)
                .map(|d| crate::billing::fmt_date(d - chrono::Duration::days(1)))
                .unwrap_or_else(|_| end.to_string());
            let vars = json!({"subscription_id": sub, "percent": percent, "used": total, "limit": limit,
                "unit": unit, "period_end": last});
            let key = format!("quota{percent}:{sub}:{start}:{unit}");
            notify::queue(ctx, tx, tenant_id, q.customer_id, event, vars, &key, now).await?;
        }
    }
    let data_crossed = crossed(q.data_quota_bytes, octets, d_octets);
    let time_crossed = crossed(q.time_quota_secs, secs, d_secs);
    if !data_crossed && !time_crossed {
        return Ok(AcctOutcome::default());
    }
    // A time quota is always a hard cap; a data quota follows the plan's action.
    let (kind, rate_limit) = match (data_crossed, q.quota_action, q.fup_upload_kbps, q.fup_download_kbps) {
        (true, Some(QuotaAction::Fup), Some(u), Some(d)) if !time_crossed => {
            (JobKind::RadiusCoa, Some(format!("{u}k/{d}k")))
        }
        _ => (JobKind::RadiusDisconnect, None),
    };
    let open = radius_sessions::open_of_subscription(&mut *tx, tenant_id, sub).await?;
    let reason = if data_crossed { "data quota exhausted" } else { "time quota exhausted" };
    let jobs = open.iter().map(|s| {
        let payload = RadiusJobPayload {
            acct_session_id: s.acct_session_id.clone(),
            username: s.username.clone(),
            framed_ip: s.framed_ip.clone(),
            rate_limit: rate_limit.clone(),
            reason: reason.into(),
        };
        NewJob::radius(s.nas_id, kind, &payload)
    });
    Effects::new(ctx, &Actor::system(tenant_id, "radius"), now).jobs(jobs).write(tx).await?;
    tracing::info!(tenant_id, subscription_id = sub, sessions = open.len(), job = %kind, "{reason}");
    Ok(AcctOutcome { jobs: open.len(), quota_crossed: true, subscription_id: Some(sub) })
}
