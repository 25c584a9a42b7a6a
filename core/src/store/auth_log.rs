//! The RADIUS auth log: every Access-Request with its decision and the reason, so support
//! staff can answer "why can't this customer connect?".

use super::page::{self, Count, ListQuery, Order, Page, PageArgs};
use crate::db::{Arg, Backend, Db, Encode, Executor, FromRow, Sql, Tx};
use crate::error::CoreResult;

/// One authentication attempt.
#[derive(Debug, Clone, FromRow)]
pub struct AuthLogEntry {
    /// Row id (increasing).
    pub id: i64,
    /// Tenant (from the NAS).
    pub tenant_id: i64,
    /// NAS that asked.
    pub nas_id: i64,
    /// User-Name as sent.
    pub username: String,
    /// Matching subscription, if the user exists.
    pub subscription_id: Option<i64>,
    /// PAP, CHAP, MSCHAPV2 or NONE.
    pub method: String,
    /// ACCEPT or REJECT.
    pub result: String,
    /// Why (a short, stable phrase such as `bad password`).
    pub reason: String,
    /// Calling-Station-Id (MAC) as sent.
    pub calling_station_id: Option<String>,
    /// When, Unix ms.
    pub at: i64,
}

/// An entry to write (no id yet).
#[derive(Debug, Clone)]
pub struct NewAuthLog {
    /// Tenant.
    pub tenant_id: i64,
    /// NAS.
    pub nas_id: i64,
    /// User-Name.
    pub username: String,
    /// Subscription, if found.
    pub subscription_id: Option<i64>,
    /// Method.
    pub method: &'static str,
    /// ACCEPT or REJECT.
    pub result: &'static str,
    /// Reason.
    pub reason: String,
    /// Calling-Station-Id.
    pub calling_station_id: Option<String>,
    /// When, Unix ms.
    pub at: i64,
}

/// Reasons of a REJECT that staff can act on (the subscriber's password or device is wrong),
/// unlike the deliberate refusals (suspended, cancelled, quota exhausted); the RADIUS server
/// writes these exact phrases.
pub mod reasons {
    /// The password (PAP, CHAP or MS-CHAPv2) does not match.
    pub const BAD_PASSWORD: &str = "bad password";
    /// The subscription has no password to check against.
    pub const NO_PASSWORD: &str = "no password set";
    /// The stored password cannot be decrypted (master key changed).
    pub const UNDECRYPTABLE: &str = "password cannot be decrypted";
    /// The request carries no method this server supports.
    pub const NO_METHOD: &str = "no supported authentication method";
    /// The Calling-Station-Id is not the MAC the subscription is bound to (the reason goes on
    /// with both addresses: `MAC binding mismatch (bound .., got ..)`).
    pub const MAC_MISMATCH: &str = "MAC binding mismatch";
    /// The failures [`super::failing`] counts (and every reason starting with MAC_MISMATCH).
    pub const ACTIONABLE: [&str; 4] = [BAD_PASSWORD, NO_PASSWORD, UNDECRYPTABLE, NO_METHOD];
}

/// A subscription whose logins keep failing: how many actionable rejects in the window and
/// the latest of them.
#[derive(Debug, Clone, FromRow)]
pub struct Failing {
    /// The subscription.
    pub subscription_id: i64,
    /// Rejects counted.
    pub failures: i64,
    /// The first and the latest of them, Unix ms.
    pub first_at: i64,
    /// The latest of them, Unix ms.
    pub last_at: i64,
}

/// Subscriptions of the tenant with at least `min` actionable rejects since `since` (Unix
/// ms), read through the partial index of rejects by time.
pub async fn failing(ex: impl Executor, tenant_id: i64, since: i64, min: i64) -> CoreResult<Vec<Failing>> {
    let mut q = Sql::new(
        "SELECT subscription_id, COUNT(*) AS failures, MIN(at) AS first_at, MAX(at) AS last_at FROM auth_log \
         WHERE tenant_id = ",
    );
    q.arg(tenant_id).push(" AND result = 'REJECT' AND at >= ").arg(since);
    q.push(" AND subscription_id IS NOT NULL AND (reason IN ").in_texts(reasons::ACTIONABLE);
    q.push(" OR reason LIKE ").arg(format!("{}%", reasons::MAC_MISMATCH)).push(")");
    q.push(" GROUP BY subscription_id HAVING COUNT(*) >= ").arg(min);
    q.push(" ORDER BY subscription_id LIMIT 1000");
    q.fetch_all(ex).await
}

/// The latest entry for `username` in the tenant's log, if any.
pub async fn latest(ex: impl Executor, tenant_id: i64, username: &str) -> CoreResult<Option<AuthLogEntry>> {
    let mut q = Sql::new(
        "SELECT id, tenant_id, nas_id, username, subscription_id, method, result, reason, calling_station_id, at \
         FROM auth_log WHERE tenant_id = ",
    );
    q.arg(tenant_id).push(" AND username = ").arg(username);
    q.push(" ORDER BY id DESC LIMIT 1");
    q.fetch_optional(ex).await
}

const INSERT: &str =
    "INSERT INTO auth_log (tenant_id, nas_id, username, subscription_id, method, result, reason, calling_station_id, at) VALUES ";

/// Writes entries in one transaction (the RADIUS server batches them off the hot path), as a
/// bulk transaction ([`Db::bulk`]): on SQLite one cached single-row statement per entry, on
/// PostgreSQL multi-row statements of [`PG_ROWS`].
pub async fn insert_batch(db: &Db, rows: &[NewAuthLog]) -> CoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let rows = rows.to_vec();
    db.bulk(move |tx| Box::pin(async move { insert_in(tx, &rows).await })).await
}

/// Rows per INSERT on PostgreSQL (one round trip each); SQLite runs cached single-row
/// statements, which cost less there than binding a wide one.
const PG_ROWS: usize = 32;

async fn insert_in(tx: &mut Tx, rows: &[NewAuthLog]) -> CoreResult<()> {
    let per = if tx.backend() == Backend::Postgres { PG_ROWS } else { 1 };
    for chunk in rows.chunks(per) {
        let mut sql = Sql::new(INSERT);
        for (i, r) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.values([
                r.tenant_id.encode(),
                r.nas_id.encode(),
                r.username.as_str().encode(),
                r.subscription_id.encode(),
                r.method.encode(),
                r.result.encode(),
                r.reason.as_str().encode(),
                r.calling_station_id.as_deref().encode(),
                r.at.encode(),
            ]);
        }
        sql.execute(&mut *tx).await?;
    }
    Ok(())
}

/// Filters for reading the log.
#[derive(Debug, Clone, Default)]
pub struct AuthLogFilter {
    /// Only this User-Name.
    pub username: Option<String>,
    /// Only this subscription.
    pub subscription_id: Option<i64>,
    /// Only ACCEPT or only REJECT.
    pub result: Option<String>,
}

/// Appends ` FROM auth_log WHERE ...` of the list to `sql`.
fn from_where(sql: &mut Sql<'static>, tenant_id: i64, f: &AuthLogFilter) {
    sql.push(" FROM auth_log WHERE tenant_id = ");
    sql.arg(tenant_id);
    if let Some(u) = &f.username {
        sql.push(" AND username = ").arg(Arg::text(u.clone()));
    }
    if let Some(s) = f.subscription_id {
        sql.push(" AND subscription_id = ").arg(Arg::I(s));
    }
    if let Some(r) = &f.result {
        sql.push(" AND result = ").arg(Arg::text(r.clone()));
    }
}

/// The statement of a page of the tenant's auth log, newest first.
pub fn list_sql(tenant_id: i64, f: &AuthLogFilter, args: &PageArgs) -> CoreResult<ListQuery> {
    let mut sql = Sql::new(
        "SELECT id, tenant_id, nas_id, username, subscription_id, method, result, reason, calling_station_id, at",
    );
    from_where(&mut sql, tenant_id, f);
    let plan = page::apply(&mut sql, Order { column: "id", integer: true, desc: true }, args)?;
    Ok(ListQuery { sql, plan })
}

/// A page of the tenant's auth log, newest first.
pub async fn list(db: &Db, tenant_id: i64, f: &AuthLogFilter, args: &PageArgs) -> CoreResult<Page<AuthLogEntry>> {
    list_sql(tenant_id, f, args)?.page(db, args).await
}

/// The statement counting the rows of the list.
pub fn count_sql(tenant_id: i64, f: &AuthLogFilter) -> CoreResult<Sql<'static>> {
    page::count_sql(|sql| {
        from_where(sql, tenant_id, f);
        Ok(())
    })
}

/// How many rows the list has (up to [`page::COUNT_LIMIT`]).
pub async fn count(db: &Db, tenant_id: i64, f: &AuthLogFilter) -> CoreResult<Count> {
    page::count(db, &count_sql(tenant_id, f)?).await
}

/// One entry of the tenant's auth log.
pub async fn get(db: &Db, tenant_id: i64, id: i64) -> CoreResult<AuthLogEntry> {
    crate::db::query_as::<AuthLogEntry>(
        "SELECT id, tenant_id, nas_id, username, subscription_id, method, result, reason, calling_station_id, at \
         FROM auth_log WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(crate::error::CoreError::NotFound("auth log entry"))
}
