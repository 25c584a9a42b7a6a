//! RADIUS sessions: what the authorizer needs in one query, and accounting (Start, Interim,
//! Stop, Accounting-On/Off, stale sweep) that keeps sessions, per-period usage and quota
//! enforcement jobs consistent in one transaction per request.

use super::audit;
use super::page::{self, Order, Page, PageArgs};
use super::plans::{Plan, QuotaAction};
use super::subscriptions::SubscriptionStatus;
use super::usage::{self, parse_date};
use crate::auth::{Action, Actor};
use crate::db::{query, query_as, Arg, Db, FromRow, Sql, Tx};
use crate::error::{CoreError, CoreResult};
use crate::jobs::{self, JobKind, RadiusJobPayload};
use crate::Ctx;
use chrono::NaiveDate;
use serde_json::json;

mod batch;
pub use batch::{account_many, AcctItem};

/// Everything an Access-Request decision needs, read with one indexed query.
#[derive(Debug, Clone, FromRow)]
pub struct AuthProfile {
    /// Subscription id.
    pub s_id: i64,
    /// Status.
    pub s_status: SubscriptionStatus,
    /// Encrypted password.
    pub s_password_enc: Option<String>,
    /// Fixed IPv4.
    pub s_static_ipv4: Option<String>,
    /// Bound MAC.
    pub s_mac_address: Option<String>,
    /// Service start date.
    pub s_start_date: String,
    /// Allowed concurrent sessions.
    pub s_simultaneous_use: i64,
    /// Open sessions now.
    pub open_sessions: i64,
    /// Start of the newest usage period, if any.
    pub u_period_start: Option<String>,
    /// Octets in that period.
    pub u_octets: Option<i64>,
    /// Seconds in that period.
    pub u_seconds: Option<i64>,
    /// The plan.
    #[row(flatten)]
    pub plan: Plan,
}

impl AuthProfile {
    /// The billing period containing `today`.
    pub fn period(&self, today: NaiveDate) -> CoreResult<(NaiveDate, NaiveDate)> {
        Ok(usage::period_containing(parse_date(&self.s_start_date)?, self.plan.billing_period, today))
    }

    /// Octets and seconds used in the period starting on `start`.
    pub fn used_in(&self, start: NaiveDate) -> (i64, i64) {
        if self.u_period_start.as_deref() == Some(usage::fmt_date(start).as_str()) {
            (self.u_octets.unwrap_or(0), self.u_seconds.unwrap_or(0))
        } else {
            (0, 0)
        }
    }
}

const PLAN_COLS: &str = "p.id, p.tenant_id, p.name, p.description, p.price_minor, p.billing_period, p.download_kbps, p.upload_kbps, \
    p.burst_download_kbps, p.burst_upload_kbps, p.burst_threshold_download_kbps, p.burst_threshold_upload_kbps, p.burst_time_secs, \
    p.data_quota_bytes, p.quota_action, p.fup_download_kbps, p.fup_upload_kbps, p.time_quota_secs, p.access_types, p.ip_pool, p.active, \
    p.created_at, p.updated_at";

/// The columns of [`AuthProfile`] and the tables they come from, up to `WHERE`. (`+r.tenant_id`
/// keeps SQLite on the per-subscription index instead of scanning every open session of the
/// tenant.)
fn profile_select(extra_cols: &str) -> String {
    format!(
        "SELECT {extra_cols}s.id AS s_id, s.status AS s_status, s.password_enc AS s_password_enc, s.static_ipv4 AS s_static_ipv4, \
         s.mac_address AS s_mac_address, s.start_date AS s_start_date, s.simultaneous_use AS s_simultaneous_use, \
         (SELECT COUNT(*) FROM radius_sessions r WHERE r.subscription_id = s.id AND +r.tenant_id = s.tenant_id AND r.open = 1) AS open_sessions, \
         (SELECT u.period_start FROM radius_usage u WHERE u.subscription_id = s.id ORDER BY u.period_start DESC LIMIT 1) AS u_period_start, \
         (SELECT u.input_octets + u.output_octets FROM radius_usage u WHERE u.subscription_id = s.id ORDER BY u.period_start DESC LIMIT 1) AS u_octets, \
         (SELECT u.session_time FROM radius_usage u WHERE u.subscription_id = s.id ORDER BY u.period_start DESC LIMIT 1) AS u_seconds, \
         {PLAN_COLS} FROM subscriptions s JOIN plans p ON p.id = s.plan_id AND p.tenant_id = s.tenant_id WHERE "
    )
}

/// The subscription with login `username` in `tenant_id`, its plan, open sessions and the
/// newest usage period.
pub async fn auth_profile(db: &Db, tenant_id: i64, username: &str) -> CoreResult<Option<AuthProfile>> {
    let mut sql = Sql::new(&profile_select(""));
    sql.push("s.tenant_id = ").arg(Arg::I(tenant_id)).push(" AND s.username = ").arg(Arg::text(username.to_string()));
    // On SQLite a direct read on this thread: no hop to sqlx's worker (see `crate::lite`).
    sql.fetch_optional(db).await
}

/// An [`AuthProfile`] with the login it belongs to, for filling a cache in bulk.
#[derive(Debug, Clone, FromRow)]
pub struct KeyedProfile {
    /// Tenant of the subscription.
    pub k_tenant_id: i64,
    /// Its login.
    pub k_username: String,
    /// The profile.
    #[row(flatten)]
    pub profile: AuthProfile,
}

const KEY_COLS: &str = "s.tenant_id AS k_tenant_id, s.username AS k_username, ";

/// The profiles of subscriptions `ids` of `tenant_id` (those that still exist).
pub async fn auth_profiles(db: &Db, tenant_id: i64, ids: &[i64]) -> CoreResult<Vec<KeyedProfile>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(&profile_select(KEY_COLS));
    // `+s.tenant_id`: look the ids up rather than walk the tenant's index.
    sql.push("+s.tenant_id = ").arg(Arg::I(tenant_id)).push(" AND s.id IN ").in_list(ids);
    sql.fetch_all(db).await
}

/// Up to `limit` profiles of every tenant with subscription ids above `after`, by id: a
/// system walk that fills the RADIUS profile cache at start (each entry keyed by its tenant).
pub async fn auth_profiles_after(db: &Db, after: i64, limit: i64) -> CoreResult<Vec<KeyedProfile>> {
    let mut sql = Sql::new(&profile_select(KEY_COLS));
    sql.push("s.id > ").arg(Arg::I(after)).push(" ORDER BY s.id LIMIT ").arg(Arg::I(limit));
    sql.fetch_all(db).await
}

/// A session row.
#[derive(Debug, Clone, FromRow)]
pub struct RadiusSession {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: i64,
    /// NAS.
    pub nas_id: i64,
    /// Subscription, when the user is known.
    pub subscription_id: Option<i64>,
    /// User-Name.
    pub username: String,
    /// Acct-Session-Id (unique per NAS).
    pub acct_session_id: String,
    /// Framed-IP-Address.
    pub framed_ip: Option<String>,
    /// Calling-Station-Id.
    pub calling_station_id: Option<String>,
    /// NAS-Port-Id.
    pub nas_port_id: Option<String>,
    /// Started, Unix ms.
    pub started_at: i64,
    /// Last update, Unix ms.
    pub updated_at: i64,
    /// Stopped, Unix ms.
    pub stopped_at: Option<i64>,
    /// Octets from the subscriber (cumulative, as last reported).
    pub input_octets: i64,
    /// Octets to the subscriber (cumulative, as last reported).
    pub output_octets: i64,
    /// Seconds online (as last reported).
    pub session_time: i64,
    /// Acct-Terminate-Cause name, or `Stale` / `NAS-Reboot` when we closed it.
    pub terminate_cause: Option<String>,
    /// 1 while live.
    pub open: i64,
}

const COLS: &str =
    "id, tenant_id, nas_id, subscription_id, username, acct_session_id, framed_ip, calling_station_id, nas_port_id, \
    started_at, updated_at, stopped_at, input_octets, output_octets, session_time, terminate_cause, open";

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
struct QuotaRow {
    id: i64,
    start_date: String,
    /// The tenant's time zone: periods run on its local calendar, like billing's.
    timezone: String,
    billing_period: super::plans::BillingPeriod,
    data_quota_bytes: Option<i64>,
    quota_action: Option<QuotaAction>,
    fup_upload_kbps: Option<i64>,
    fup_download_kbps: Option<i64>,
    time_quota_secs: Option<i64>,
}

/// Sets a session's counters and state (`$1 .. $10`); the single-row form of the batch's
/// update, and with a guard on the old counters the update of [`account`].
const UPDATE_SESSION: &str = "UPDATE radius_sessions SET input_octets = $1, output_octets = $2, session_time = $3, \
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
/// subscription `q` when the usage totals `(octets, seconds)` just crossed a quota with
/// growth `(d_octets, d_secs)`.
async fn enforce_quota(
    tx: &mut Tx,
    tenant_id: i64,
    q: &QuotaRow,
    (octets, secs): (i64, i64),
    (d_octets, d_secs): (i64, i64),
    now: i64,
) -> CoreResult<AcctOutcome> {
    let sub = q.id;
    let crossed = |limit: Option<i64>, total: i64, delta: i64| limit.is_some_and(|l| total >= l && total - delta < l);
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
    let open: Vec<(i64, String, String, Option<String>)> = query_as(
        "SELECT nas_id, acct_session_id, username, framed_ip FROM radius_sessions \
         WHERE tenant_id = $1 AND subscription_id = $2 AND open = 1",
    )
    .bind(tenant_id)
    .bind(sub)
    .fetch_all(&mut *tx)
    .await?;
    let reason = if data_crossed { "data quota exhausted" } else { "time quota exhausted" };
    for (nas_id, acct_session_id, username, framed_ip) in &open {
        let payload = RadiusJobPayload {
            acct_session_id: acct_session_id.clone(),
            username: username.clone(),
            framed_ip: framed_ip.clone(),
            rate_limit: rate_limit.clone(),
            reason: reason.into(),
        };
        jobs::enqueue(tx, tenant_id, Some(*nas_id), kind, &payload, now).await?;
    }
    tracing::info!(tenant_id, subscription_id = sub, sessions = open.len(), job = %kind, "{reason}");
    Ok(AcctOutcome { jobs: open.len(), quota_crossed: true, subscription_id: Some(sub) })
}

/// Accounting-On / Accounting-Off from a NAS: every session it had open is over
/// (RFC 2866 §5.1). Returns how many were closed.
pub async fn close_nas_sessions(db: &Db, tenant_id: i64, nas_id: i64, now: i64) -> CoreResult<u64> {
    let r = query(
        "UPDATE radius_sessions SET open = 0, stopped_at = $1, terminate_cause = 'NAS-Reboot', updated_at = $1 \
         WHERE tenant_id = $2 AND nas_id = $3 AND open = 1",
    )
    .bind(now)
    .bind(tenant_id)
    .bind(nas_id)
    .execute(db)
    .await?;
    Ok(r)
}

/// Closes open sessions of every tenant that had no update since `cutoff` (a lost Stop).
/// A system sweep, hence not filtered by tenant. Returns how many were closed.
///
/// Walks the open sessions by id in short pages (index `(open, id)`): an index on
/// `updated_at` would make every accounting update move an index entry.
pub async fn close_stale(db: &Db, cutoff: i64) -> CoreResult<u64> {
    const PAGE: i64 = 1000;
    let (mut after, mut closed) = (0, 0);
    loop {
        let mut page = Sql::new("SELECT id, updated_at FROM radius_sessions WHERE open = 1 AND id > ");
        page.arg(Arg::I(after)).push(" ORDER BY id LIMIT ").arg(Arg::I(PAGE));
        let rows: Vec<(i64, i64)> = page.fetch_all(db).await?;
        let Some(&(last, _)) = rows.last() else { break };
        after = last;
        let stale: Vec<i64> = rows.iter().filter(|(_, at)| *at < cutoff).map(|(id, _)| *id).collect();
        if !stale.is_empty() {
            // Guarded again: an update may have arrived since the page was read.
            let mut close = Sql::new(
                "UPDATE radius_sessions SET open = 0, stopped_at = updated_at, terminate_cause = 'Stale' \
                 WHERE open = 1 AND updated_at < ",
            );
            close.arg(Arg::I(cutoff)).push(" AND id IN ").in_list(&stale);
            closed += close.execute(db).await?;
        }
        if (rows.len() as i64) < PAGE {
            break;
        }
        tokio::task::yield_now().await;
    }
    Ok(closed)
}

/// Filters for session lists.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    /// Only live (true) or only finished (false) sessions.
    pub open: Option<bool>,
    /// Only this subscription.
    pub subscription_id: Option<i64>,
    /// Only this NAS.
    pub nas_id: Option<i64>,
    /// Only this User-Name.
    pub username: Option<String>,
}

/// A page of the tenant's sessions, newest first.
pub async fn list(db: &Db, tenant_id: i64, f: &SessionFilter, args: &PageArgs) -> CoreResult<Page<RadiusSession>> {
    let mut sql = Sql::new(&format!("SELECT {COLS} FROM radius_sessions WHERE tenant_id = "));
    sql.arg(Arg::I(tenant_id));
    if let Some(o) = f.open {
        sql.push(" AND open = ").arg(Arg::I(i64::from(o)));
    }
    if let Some(s) = f.subscription_id {
        sql.push(" AND subscription_id = ").arg(Arg::I(s));
    }
    if let Some(n) = f.nas_id {
        sql.push(" AND nas_id = ").arg(Arg::I(n));
    }
    if let Some(u) = &f.username {
        sql.push(" AND username = ").arg(Arg::text(u.clone()));
    }
    let plan = page::apply(&mut sql, Order { column: "id", integer: true, desc: true }, args)?;
    Ok(page::finish(sql.fetch_all::<RadiusSession>(db).await?, plan, args))
}

/// Session `id` of `tenant_id`.
pub async fn get(db: &Db, tenant_id: i64, id: i64) -> CoreResult<RadiusSession> {
    query_as::<RadiusSession>(&format!("SELECT {COLS} FROM radius_sessions WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(CoreError::NotFound("session"))
}

/// Asks the NAS to end live session `id` (a Disconnect-Request job), audited.
pub async fn disconnect(ctx: &Ctx, actor: &Actor, id: i64) -> CoreResult<RadiusSession> {
    actor.require(Action::SessionDisconnect)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let s = query_as::<RadiusSession>(&format!("SELECT {COLS} FROM radius_sessions WHERE tenant_id = $1 AND id = $2"))
        .bind(actor.tenant_id)
        .bind(id)
        .fetch_optional(&mut tx)
        .await?
        .ok_or(CoreError::NotFound("session"))?;
    if s.open == 0 {
        return Err(CoreError::conflict("id", "the session has already ended"));
    }
    let payload = RadiusJobPayload {
        acct_session_id: s.acct_session_id.clone(),
        username: s.username.clone(),
        framed_ip: s.framed_ip.clone(),
        rate_limit: None,
        reason: "staff disconnect".into(),
    };
    let job = jobs::enqueue(&mut tx, actor.tenant_id, Some(s.nas_id), JobKind::RadiusDisconnect, &payload, now).await?;
    audit::record(
        &mut tx,
        actor,
        "session.disconnect",
        "RadiusSession",
        Some(id),
        json!({"username": s.username, "acctSessionId": s.acct_session_id, "jobId": job}),
        now,
    )
    .await?;
    tx.commit().await?;
    ctx.jobs_wakeup.notify_one();
    Ok(s)
}
