//! The device-job outbox: changes a network device must receive (disconnect a session, change
//! its rate, block or unblock a subscriber on a router or OLT), written in the same transaction
//! as the state change that causes them and delivered later by the worker with retries,
//! backoff and a dead letter. This module is the rows; which jobs a change implies, and
//! writing them with the change, are decided in the layers above.
//!
//! Several workers may share one database: a job is claimed by moving its
//! `next_attempt_at` forward with a guarded UPDATE, so only one of them wins.

use crate::db::{query, query_as, Db, Executor, FromRow, Sql, Tx};
use crate::error::CoreResult;
use crate::store::page::{self, Count, ListQuery, Order, Page, PageArgs};
use crate::text_enum;
use serde::{Deserialize, Serialize};

text_enum!(
    /// What a job asks a device to do.
    JobKind, "kind" {
        /// RADIUS Disconnect-Request to the NAS (RFC 5176 §3).
        RadiusDisconnect = "RADIUS_DISCONNECT",
        /// RADIUS CoA-Request with new attributes (RFC 5176 §3).
        RadiusCoa = "RADIUS_COA",
        /// Block a subscriber on a router or OLT ([`DeviceJobPayload`], `device_id` set).
        DeviceSuspend = "DEVICE_SUSPEND",
        /// Unblock a subscriber on a router or OLT ([`DeviceJobPayload`], `device_id` set).
        DeviceResume = "DEVICE_RESUME",
    }
);

text_enum!(
    /// Where a job is in its life.
    JobStatus, "status" {
        /// Waiting for (another) delivery attempt.
        Pending = "PENDING",
        /// Delivered and acknowledged.
        Done = "DONE",
        /// Gave up after the last attempt (dead letter).
        Dead = "DEAD",
    }
);

/// What a RADIUS CoA/Disconnect job carries: enough to identify the session on the NAS.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RadiusJobPayload {
    /// Acct-Session-Id of the session.
    pub acct_session_id: String,
    /// User-Name of the session.
    pub username: String,
    /// Framed-IP-Address of the session, if known.
    pub framed_ip: Option<String>,
    /// New Mikrotik-Rate-Limit (CoA only).
    pub rate_limit: Option<String>,
    /// Why the job exists (`quota exhausted`, `staff disconnect`).
    pub reason: String,
}

text_enum!(
    /// What a device job changes on its device.
    DeviceOp, "op" {
        /// RouterOS `/ip/firewall/address-list`: the entry (`list`, `address`, `comment`)
        /// exists while blocked and is removed when active.
        AddressList = "ADDRESS_LIST",
        /// RouterOS `/ppp/secret` named `username`: disabled while blocked (and its
        /// `/ppp/active` session removed), enabled when active.
        PppSecret = "PPP_SECRET",
        /// RouterOS `/ip/hotspot/user` named `username`: disabled while blocked (and its
        /// `/ip/hotspot/active` session removed), enabled when active.
        HotspotUser = "HOTSPOT_USER",
        /// OLT ONU `onu_serial` on `olt_port` (frame/slot/port): deactivated while blocked,
        /// activated when active.
        Onu = "ONU",
    }
);

/// What a [`JobKind::DeviceSuspend`] / [`JobKind::DeviceResume`] job carries; the job row's
/// `device_id` names the router or OLT. JSON with camelCase keys, `op` as its upper-case name:
/// `{"subscriptionId":7,"username":"ana","op":"ADDRESS_LIST","address":"10.0.0.7",
/// "list":"suspended","onuSerial":null,"oltPort":null,"comment":"isp sub:7 ana","reason":"..."}`.
///
/// Delivery converges, it does not replay: the worker reads subscription `subscription_id`
/// when it delivers and makes the device match its *current* status (blocked unless it is
/// ACTIVE; a deleted subscription counts as blocked), whatever the job kind says. The kind
/// records why the job was written. So out-of-order, repeated or late delivery is harmless:
/// a resume that overtakes a newer suspension still leaves the subscriber blocked. Each op
/// is idempotent and verified by reading the device back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceJobPayload {
    /// The subscription the job is about.
    pub subscription_id: i64,
    /// Its login (PPP secret / hotspot user name) when the job was written.
    pub username: String,
    /// What to change on the device.
    pub op: DeviceOp,
    /// IPv4 address for [`DeviceOp::AddressList`].
    pub address: Option<String>,
    /// Address-list name for [`DeviceOp::AddressList`] (the tenant's walled-garden list).
    pub list: Option<String>,
    /// ONU serial for [`DeviceOp::Onu`].
    pub onu_serial: Option<String>,
    /// OLT port, frame/slot/port, for [`DeviceOp::Onu`].
    pub olt_port: Option<String>,
    /// Comment that marks what we own on the device: `isp sub:<id> <username>`.
    pub comment: String,
    /// Why the job exists (`dunning suspension`, the staff's reason ...).
    pub reason: String,
}

/// The comment naming subscription `id` on a device (address-list entries, secrets).
pub fn device_comment(subscription_id: i64, username: &str) -> String {
    format!("isp sub:{subscription_id} {username}")
}

/// A job row.
#[derive(Debug, Clone, FromRow)]
pub struct DeviceJob {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: i64,
    /// NAS to talk to (RADIUS jobs).
    pub nas_id: Option<i64>,
    /// Device to talk to (device jobs).
    pub device_id: Option<i64>,
    /// What to do.
    pub kind: JobKind,
    /// JSON payload ([`RadiusJobPayload`] or [`DeviceJobPayload`], by kind).
    pub payload: String,
    /// Status.
    pub status: JobStatus,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// When the next attempt is due, Unix ms.
    pub next_attempt_at: i64,
    /// Error of the last failed attempt.
    pub last_error: Option<String>,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Changed, Unix ms.
    pub updated_at: i64,
}

const COLS: &str =
    "id, tenant_id, nas_id, device_id, kind, payload, status, attempts, next_attempt_at, last_error, created_at, updated_at";

/// A job to write: what a status change or a quota crossing asks of a NAS or a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// NAS to talk to (RADIUS jobs).
    pub nas_id: Option<i64>,
    /// Device to talk to (device jobs).
    pub device_id: Option<i64>,
    /// What to do.
    pub kind: JobKind,
    /// JSON payload ([`RadiusJobPayload`] or [`DeviceJobPayload`], by kind).
    pub payload: String,
}

impl NewJob {
    /// A RADIUS CoA or Disconnect for a session on NAS `nas_id`.
    pub fn radius(nas_id: i64, kind: JobKind, payload: &RadiusJobPayload) -> Self {
        debug_assert!(matches!(kind, JobKind::RadiusCoa | JobKind::RadiusDisconnect));
        let payload = serde_json::to_string(payload).expect("payload serializes");
        Self { nas_id: Some(nas_id), device_id: None, kind, payload }
    }

    /// A suspension or resumption for router or OLT `device_id` (see [`DeviceJobPayload`] for
    /// what delivery means).
    pub fn device(device_id: i64, kind: JobKind, payload: &DeviceJobPayload) -> Self {
        debug_assert!(matches!(kind, JobKind::DeviceSuspend | JobKind::DeviceResume));
        let payload = serde_json::to_string(payload).expect("payload serializes");
        Self { nas_id: None, device_id: Some(device_id), kind, payload }
    }
}

/// Writes `job` of `tenant_id` inside `tx`, due at once; it becomes visible to the worker
/// when `tx` commits. Returns its id.
pub async fn insert(tx: &mut Tx, tenant_id: i64, job: &NewJob, now: i64) -> CoreResult<i64> {
    let (id,): (i64,) = query_as(
        "INSERT INTO device_jobs (tenant_id, nas_id, device_id, kind, payload, status, attempts, next_attempt_at, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'PENDING', 0, $6, $6, $6) RETURNING id",
    )
    .bind(tenant_id)
    .bind(job.nas_id)
    .bind(job.device_id)
    .bind(job.kind)
    .bind(job.payload.as_str())
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    Ok(id)
}

/// Claims up to `limit` due jobs (of every tenant, or only of `tenant`) for `lease_ms`: each
/// claimed job's attempt counter goes up and it is hidden from other workers until the lease
/// ends (so a crashed worker's job comes back by itself).
pub async fn claim_due(
    db: &Db,
    tenant: Option<i64>,
    now: i64,
    lease_ms: i64,
    limit: i64,
) -> CoreResult<Vec<DeviceJob>> {
    let scope = if tenant.is_some() { " AND tenant_id = $3" } else { "" };
    let sql = format!(
        "SELECT id, next_attempt_at FROM device_jobs WHERE status = 'PENDING' AND next_attempt_at <= $1{scope} \
         ORDER BY next_attempt_at, id LIMIT $2"
    );
    let mut q = query_as(&sql).bind(now).bind(limit);
    if let Some(t) = tenant {
        q = q.bind(t);
    }
    let due: Vec<(i64, i64)> = q.fetch_all(db).await?;
    let mut claimed = Vec::with_capacity(due.len());
    for (id, at) in due {
        let job = query_as::<DeviceJob>(&format!(
            "UPDATE device_jobs SET next_attempt_at = $1, attempts = attempts + 1, updated_at = $2 \
             WHERE id = $3 AND status = 'PENDING' AND next_attempt_at = $4 RETURNING {COLS}"
        ))
        .bind(now + lease_ms)
        .bind(now)
        .bind(id)
        .bind(at)
        .fetch_optional(db)
        .await?;
        claimed.extend(job);
    }
    Ok(claimed)
}

/// Claims those of the jobs `ids` of `tenant_id` that are pending and due, for `lease_ms`, as
/// [`claim_due`] does; a job another worker holds right now, or one waiting for its retry,
/// is left alone.
pub async fn claim_ids(db: &Db, tenant_id: i64, ids: &[i64], now: i64, lease_ms: i64) -> CoreResult<Vec<DeviceJob>> {
    let mut claimed = Vec::with_capacity(ids.len());
    for &id in ids {
        let job = query_as::<DeviceJob>(&format!(
            "UPDATE device_jobs SET next_attempt_at = $1, attempts = attempts + 1, updated_at = $2 \
             WHERE tenant_id = $3 AND id = $4 AND status = 'PENDING' AND next_attempt_at <= $5 RETURNING {COLS}"
        ))
        .bind(now + lease_ms)
        .bind(now)
        .bind(tenant_id)
        .bind(id)
        .bind(now)
        .fetch_optional(db)
        .await?;
        claimed.extend(job);
    }
    Ok(claimed)
}

/// Marks a claimed job delivered.
pub async fn complete(db: &Db, id: i64, now: i64) -> CoreResult<()> {
    query("UPDATE device_jobs SET status = 'DONE', last_error = NULL, updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Records a failed attempt: retried at `retry_at`, or dead-lettered when `dead`.
pub async fn fail(ex: impl Executor, id: i64, error: &str, retry_at: i64, dead: bool, now: i64) -> CoreResult<()> {
    query("UPDATE device_jobs SET status = $1, last_error = $2, next_attempt_at = $3, updated_at = $4 WHERE id = $5")
        .bind(if dead { JobStatus::Dead } else { JobStatus::Pending })
        .bind(error)
        .bind(retry_at)
        .bind(now)
        .bind(id)
        .execute(ex)
        .await?;
    Ok(())
}

/// The delay before attempt `attempts + 1`: 2, 4, 8 ... seconds, at most five minutes.
pub fn backoff_ms(attempts: i64) -> i64 {
    let exp = attempts.clamp(1, 20) as u32;
    (1000i64 << exp).min(300_000)
}

/// Job `id` of `tenant_id`.
pub async fn get(ex: impl Executor, tenant_id: i64, id: i64) -> CoreResult<Option<DeviceJob>> {
    query_as::<DeviceJob>(&format!("SELECT {COLS} FROM device_jobs WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// The tenant's jobs, newest first (at most `limit`).
pub async fn recent(db: &Db, tenant_id: i64, limit: i64) -> CoreResult<Vec<DeviceJob>> {
    query_as::<DeviceJob>(&format!("SELECT {COLS} FROM device_jobs WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2"))
        .bind(tenant_id)
        .bind(limit)
        .fetch_all(db)
        .await
}

/// The tenant's dead-lettered jobs, newest first (at most `limit`).
pub async fn dead(db: &Db, tenant_id: i64, limit: i64) -> CoreResult<Vec<DeviceJob>> {
    query_as::<DeviceJob>(&format!(
        "SELECT {COLS} FROM device_jobs WHERE tenant_id = $1 AND status = 'DEAD' ORDER BY id DESC LIMIT $2"
    ))
    .bind(tenant_id)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Appends ` FROM device_jobs WHERE ...` of the list to `sql`.
fn from_where(sql: &mut Sql<'static>, tenant_id: i64, status: Option<JobStatus>) {
    sql.push(" FROM device_jobs WHERE tenant_id = ");
    sql.arg(tenant_id);
    if let Some(s) = status {
        sql.push(" AND status = ").arg(s);
    }
}

/// The statement of a page of the tenant's jobs, newest first, optionally only those in `status`.
pub fn list_sql(tenant_id: i64, status: Option<JobStatus>, args: &PageArgs) -> CoreResult<ListQuery> {
    let mut sql = Sql::new(&format!("SELECT {COLS}"));
    from_where(&mut sql, tenant_id, status);
    let plan = page::apply(&mut sql, Order { column: "id", integer: true, desc: true }, args)?;
    Ok(ListQuery { sql, plan })
}

/// A page of the tenant's jobs, newest first, optionally only those in `status`.
pub async fn list(db: &Db, tenant_id: i64, status: Option<JobStatus>, args: &PageArgs) -> CoreResult<Page<DeviceJob>> {
    list_sql(tenant_id, status, args)?.page(db, args).await
}

/// The statement counting the rows of the list.
pub fn count_sql(tenant_id: i64, status: Option<JobStatus>) -> CoreResult<Sql<'static>> {
    page::count_sql(|sql| {
        from_where(sql, tenant_id, status);
        Ok(())
    })
}

/// How many rows the list has (up to [`page::COUNT_LIMIT`]).
pub async fn count(db: &Db, tenant_id: i64, status: Option<JobStatus>) -> CoreResult<Count> {
    page::count(db, &count_sql(tenant_id, status)?).await
}

/// Puts dead job `id` of `tenant_id` back to pending with its attempts reset, due at `now`;
/// None when it is not a dead job of the tenant.
pub async fn revive(tx: &mut Tx, tenant_id: i64, id: i64, now: i64) -> CoreResult<Option<DeviceJob>> {
    query_as::<DeviceJob>(&format!(
        "UPDATE device_jobs SET status = 'PENDING', attempts = 0, next_attempt_at = $1, updated_at = $1 \
         WHERE tenant_id = $2 AND id = $3 AND status = 'DEAD' RETURNING {COLS}"
    ))
    .bind(now)
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(tx)
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(super::backoff_ms(1), 2_000);
        assert_eq!(super::backoff_ms(3), 8_000);
        assert_eq!(super::backoff_ms(50), 300_000);
    }
}
