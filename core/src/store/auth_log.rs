//! The RADIUS auth log: every Access-Request with its decision and the reason, so support
//! staff can answer "why can't this customer connect?".

use super::page::{self, Count, ListQuery, Order, Page, PageArgs};
use crate::db::{Arg, Backend, Db, Encode, FromRow, Sql, Tx};
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
