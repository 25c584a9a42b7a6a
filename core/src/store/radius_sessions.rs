//! RADIUS sessions: what the authorizer needs in one query, and accounting (Start, Interim,
//! Stop, Accounting-On/Off, stale sweep) that keeps sessions, per-period usage and quota
//! enforcement jobs consistent in one transaction per request.

use super::page::{self, Count, ListQuery, Order, Page, PageArgs};
use super::plans::Plan;
use super::subscriptions::SubscriptionStatus;
use super::usage::{self, parse_date};
use crate::db::{query, query_as, Arg, Db, Executor, FromRow, Sql};
use crate::error::{CoreError, CoreResult};
use chrono::NaiveDate;

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

/// An open session of a subscription: what a CoA or Disconnect request names.
#[derive(Debug, Clone, FromRow)]
pub struct OpenSession {
    /// The NAS it is on.
    pub nas_id: i64,
    /// Acct-Session-Id.
    pub acct_session_id: String,
    /// User-Name.
    pub username: String,
    /// Framed-IP-Address, if any.
    pub framed_ip: Option<String>,
}

/// The open sessions of subscription `sub`.
pub async fn open_of_subscription(ex: impl Executor, tenant_id: i64, sub: i64) -> CoreResult<Vec<OpenSession>> {
    open_of_subscription_sql(tenant_id, sub).fetch_all(ex).await
}

/// The statement of [`open_of_subscription`] (the plan test checks it reads only that
/// subscription's open sessions).
pub fn open_of_subscription_sql(tenant_id: i64, sub: i64) -> Sql<'static> {
    let mut sql = Sql::new(
        "SELECT nas_id, acct_session_id, username, framed_ip FROM radius_sessions WHERE open = 1 AND tenant_id = ",
    );
    sql.arg(Arg::I(tenant_id)).push(" AND subscription_id = ").arg(Arg::I(sub));
    sql
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

/// Appends ` FROM radius_sessions WHERE ...` of the list to `sql`.
fn from_where(sql: &mut Sql<'static>, tenant_id: i64, f: &SessionFilter) {
    sql.push(" FROM radius_sessions WHERE tenant_id = ");
    sql.arg(tenant_id);
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
}

/// The statement of a page of the tenant's sessions, newest first.
pub fn list_sql(tenant_id: i64, f: &SessionFilter, args: &PageArgs) -> CoreResult<ListQuery> {
    let mut sql = Sql::new(&format!("SELECT {COLS}"));
    from_where(&mut sql, tenant_id, f);
    let plan = page::apply(&mut sql, Order { column: "id", integer: true, desc: true }, args)?;
    Ok(ListQuery { sql, plan })
}

/// A page of the tenant's sessions, newest first.
pub async fn list(db: &Db, tenant_id: i64, f: &SessionFilter, args: &PageArgs) -> CoreResult<Page<RadiusSession>> {
    list_sql(tenant_id, f, args)?.page(db, args).await
}

/// The statement counting the rows of the list.
pub fn count_sql(tenant_id: i64, f: &SessionFilter) -> CoreResult<Sql<'static>> {
    page::count_sql(|sql| {
        from_where(sql, tenant_id, f);
        Ok(())
    })
}

/// How many rows the list has (up to [`page::COUNT_LIMIT`]).
pub async fn count(db: &Db, tenant_id: i64, f: &SessionFilter) -> CoreResult<Count> {
    page::count(db, &count_sql(tenant_id, f)?).await
}

/// Session `id` of `tenant_id`, on the pool or in a transaction.
pub async fn get(ex: impl Executor, tenant_id: i64, id: i64) -> CoreResult<RadiusSession> {
    query_as::<RadiusSession>(&format!("SELECT {COLS} FROM radius_sessions WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(ex)
        .await?
        .ok_or(CoreError::NotFound("session"))
}
