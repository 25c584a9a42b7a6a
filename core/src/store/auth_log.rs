//! The RADIUS auth log: every Access-Request with its decision and the reason, so support
//! staff can answer "why can't this customer connect?".

use super::page::{self, Order, Page, PageArgs};
use super::{Arg, Sql};
use crate::db::Db;
use crate::error::CoreResult;
use crate::lite::lite_err;

/// One authentication attempt.
#[derive(Debug, Clone, sqlx::FromRow)]
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

/// Writes entries in one transaction (the RADIUS server batches them off the hot path): on
/// SQLite through a direct connection with one cached single-row statement per entry, on
/// PostgreSQL with multi-row statements.
pub async fn insert_batch(db: &Db, rows: &[NewAuthLog]) -> CoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    if let Some(lite) = db.lite() {
        let rows = rows.to_vec();
        return lite
            .write(move |c| {
                let sql = format!("{INSERT}($1, $2, $3, $4, $5, $6, $7, $8, $9)");
                // Parameters appear in order, so SQLite numbers `$n` as n.
                let mut st = c.raw().prepare_cached(&sql).map_err(lite_err)?;
                for r in &rows {
                    st.execute(rusqlite::params![
                        r.tenant_id,
                        r.nas_id,
                        r.username,
                        r.subscription_id,
                        r.method,
                        r.result,
                        r.reason,
                        r.calling_station_id,
                        r.at
                    ])
                    .map_err(lite_err)?;
                }
                Ok(())
            })
            .await;
    }
    // SQLite looks bound parameters up by name with a linear scan, so one statement of 500
    // rows x 9 parameters costs quadratic time. Chunks of a fixed size keep that small and
    // let the prepared statement be reused.
    const ROWS_PER_STATEMENT: usize = 32;
    let mut tx = db.begin().await?;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut sql = Sql::new(INSERT);
        for (i, r) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(").arg(Arg::I(r.tenant_id)).push(", ").arg(Arg::I(r.nas_id)).push(", ");
            sql.arg(Arg::T(r.username.clone())).push(", ");
            match r.subscription_id {
                Some(s) => sql.arg(Arg::I(s)),
                None => sql.push("NULL"),
            };
            sql.push(", ").arg(Arg::T(r.method.into())).push(", ").arg(Arg::T(r.result.into())).push(", ");
            sql.arg(Arg::T(r.reason.clone())).push(", ");
            match &r.calling_station_id {
                Some(c) => sql.arg(Arg::T(c.clone())),
                None => sql.push("NULL"),
            };
            sql.push(", ").arg(Arg::I(r.at)).push(")");
        }
        sql.query().execute(tx.x()).await?;
    }
    tx.commit().await
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

/// A page of the tenant's auth log, newest first.
pub async fn list(db: &Db, tenant_id: i64, f: &AuthLogFilter, args: &PageArgs) -> CoreResult<Page<AuthLogEntry>> {
    let mut sql = Sql::new(
        "SELECT id, tenant_id, nas_id, username, subscription_id, method, result, reason, calling_station_id, at FROM auth_log WHERE tenant_id = ",
    );
    sql.arg(Arg::I(tenant_id));
    if let Some(u) = &f.username {
        sql.push(" AND username = ").arg(Arg::T(u.clone()));
    }
    if let Some(s) = f.subscription_id {
        sql.push(" AND subscription_id = ").arg(Arg::I(s));
    }
    if let Some(r) = &f.result {
        sql.push(" AND result = ").arg(Arg::T(r.clone()));
    }
    let plan = page::apply(&mut sql, Order { column: "id", integer: true, desc: true }, args)?;
    Ok(page::finish(sql.fetch_all::<AuthLogEntry>(db).await?, plan, args))
}
