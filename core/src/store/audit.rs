//! The audit log: who did what to which object, when and from where. Written in the same
//! transaction as the change it records, so neither exists without the other.

use super::page::{self, Count, ListQuery, Order, Page, PageArgs};
use crate::auth::Actor;
use crate::db::{query, Arg, Db, FromRow, Sql, Tx};
use crate::error::CoreResult;

/// One recorded change.
#[derive(Debug, Clone, FromRow)]
pub struct AuditEntry {
    /// Row id (increasing).
    pub id: i64,
    /// Tenant.
    pub tenant_id: i64,
    /// Staff user, if a person did it.
    pub user_id: Option<i64>,
    /// Email of the user or `system:...`.
    pub actor: String,
    /// Verb such as `customer.create`.
    pub action: String,
    /// Type of the changed object (`Customer`).
    pub object_type: String,
    /// Id of the changed object.
    pub object_id: Option<i64>,
    /// JSON with what changed (never secrets).
    pub details: String,
    /// Client IP.
    pub ip: Option<String>,
    /// When, Unix ms.
    pub at: i64,
}

/// Records `action` on (`object_type`, `object_id`) by `actor` inside `tx`.
pub async fn record(
    tx: &mut Tx,
    actor: &Actor,
    action: &str,
    object_type: &str,
    object_id: Option<i64>,
    details: serde_json::Value,
    now: i64,
) -> CoreResult<()> {
    query(
        "INSERT INTO audit_log (tenant_id, user_id, actor, action, object_type, object_id, details, ip, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(actor.tenant_id)
    .bind((actor.user_id != 0).then_some(actor.user_id))
    .bind(&actor.name)
    .bind(action)
    .bind(object_type)
    .bind(object_id)
    .bind(details.to_string())
    .bind(actor.ip.as_deref())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The names of the fields a patch sets, for an audit entry's details.
pub fn set_fields(fields: &[(&'static str, bool)]) -> Vec<&'static str> {
    fields.iter().filter(|(_, set)| *set).map(|(name, _)| *name).collect()
}

/// Filters for reading the log.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this object type.
    pub object_type: Option<String>,
    /// Only this object id.
    pub object_id: Option<i64>,
    /// Only this staff user.
    pub user_id: Option<i64>,
    /// Only actions starting with this prefix (`customer.`).
    pub action_prefix: Option<String>,
}

/// Appends ` FROM audit_log WHERE ...` of the list to `sql`.
fn from_where(sql: &mut Sql<'static>, tenant_id: i64, f: &AuditFilter) {
    sql.push(" FROM audit_log WHERE tenant_id = ");
    sql.arg(tenant_id);
    if let Some(t) = &f.object_type {
        sql.push(" AND object_type = ").arg(Arg::text(t.clone()));
    }
    if let Some(id) = f.object_id {
        sql.push(" AND object_id = ").arg(Arg::I(id));
    }
    if let Some(u) = f.user_id {
        sql.push(" AND user_id = ").arg(Arg::I(u));
    }
    if let Some(p) = &f.action_prefix {
        sql.push(" AND action LIKE ").arg(Arg::text(format!("{}%", p.replace(['%', '_'], ""))));
    }
}

/// The statement of a page of the tenant's log, newest first.
pub fn list_sql(tenant_id: i64, f: &AuditFilter, args: &PageArgs) -> CoreResult<ListQuery> {
    let mut sql = Sql::new("SELECT id, tenant_id, user_id, actor, action, object_type, object_id, details, ip, at");
    from_where(&mut sql, tenant_id, f);
    let plan = page::apply(&mut sql, Order { column: "id", integer: true, desc: true }, args)?;
    Ok(ListQuery { sql, plan })
}

/// A page of the tenant's log, newest first.
pub async fn list(db: &Db, tenant_id: i64, f: &AuditFilter, args: &PageArgs) -> CoreResult<Page<AuditEntry>> {
    list_sql(tenant_id, f, args)?.page(db, args).await
}

/// The statement counting the rows of the list.
pub fn count_sql(tenant_id: i64, f: &AuditFilter) -> CoreResult<Sql<'static>> {
    page::count_sql(|sql| {
        from_where(sql, tenant_id, f);
        Ok(())
    })
}

/// How many rows the list has (up to [`page::COUNT_LIMIT`]).
pub async fn count(db: &Db, tenant_id: i64, f: &AuditFilter) -> CoreResult<Count> {
    page::count(db, &count_sql(tenant_id, f)?).await
}

/// One entry of the tenant's log.
pub async fn get(db: &Db, tenant_id: i64, id: i64) -> CoreResult<AuditEntry> {
    crate::db::query_as::<AuditEntry>(
        "SELECT id, tenant_id, user_id, actor, action, object_type, object_id, details, ip, at FROM audit_log \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(crate::error::CoreError::NotFound("audit entry"))
}
