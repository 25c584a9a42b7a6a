//! Bulk imports: the `imports` rows that track one import's progress, and the batched
//! statements that write its customers and subscriptions (each tagged with the import's id,
//! so that the import can be removed as a whole).

use super::customers::CustomerFields;
use super::subscriptions::{SubscriptionFields, SubscriptionStatus};
use crate::db::{query, query_as, Db, Executor, FromRow, Sql, Tx};
use crate::error::{CoreError, CoreResult};
use crate::text_enum;

text_enum!(
    /// Where an import stands.
    ImportStatus, "status" {
        /// Being written.
        Running = "RUNNING",
        /// Every valid row is written.
        Done = "DONE",
        /// Stopped by an error; whatever it had written was removed.
        Failed = "FAILED",
        /// Removed as a whole by staff after it was done.
        RolledBack = "ROLLED_BACK",
    }
);

text_enum!(
    /// What an import does with a row whose login (or account number) already exists.
    OnDuplicate, "onDuplicate" {
        /// Leave the existing record alone and count the row as skipped.
        Skip = "SKIP",
        /// Overwrite the existing customer and subscription with the row.
        Update = "UPDATE",
        /// Refuse the whole import while any duplicate is in it.
        Fail = "FAIL",
    }
);

/// One import of a tenant.
#[derive(Debug, Clone, FromRow)]
pub struct Import {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: i64,
    /// Staff user who started it (None for the CLI).
    pub user_id: Option<i64>,
    /// Who started it, for people.
    pub actor: String,
    /// Name of the uploaded file.
    pub file_name: String,
    /// Status.
    pub status: ImportStatus,
    /// Duplicate policy.
    pub on_duplicate: OnDuplicate,
    /// Rows to write (valid rows, creates and updates).
    pub rows_total: i64,
    /// Rows written so far.
    pub rows_done: i64,
    /// Customers created.
    pub created: i64,
    /// Customers updated.
    pub updated: i64,
    /// Duplicate rows skipped.
    pub skipped: i64,
    /// Why it failed.
    pub error: Option<String>,
    /// Started, Unix ms.
    pub created_at: i64,
    /// Finished, Unix ms.
    pub finished_at: Option<i64>,
}

const COLS: &str = "id, tenant_id, user_id, actor, file_name, status, on_duplicate, rows_total, rows_done, created, \
    updated, skipped, error, created_at, finished_at";

/// Records a new RUNNING import of `rows_total` rows.
#[allow(clippy::too_many_arguments)]
pub async fn insert(
    ex: impl Executor,
    tenant_id: i64,
    user_id: Option<i64>,
    actor: &str,
    file_name: &str,
    on_duplicate: OnDuplicate,
    rows_total: i64,
    skipped: i64,
    now: i64,
) -> CoreResult<Import> {
    query_as::<Import>(&format!(
        "INSERT INTO imports (tenant_id, user_id, actor, file_name, status, on_duplicate, rows_total, rows_done, created, \
         updated, skipped, created_at) VALUES ($1, $2, $3, $4, 'RUNNING', $5, $6, 0, 0, 0, $7, $8) RETURNING {COLS}"
    ))
    .bind(tenant_id)
    .bind(user_id)
    .bind(actor)
    .bind(file_name)
    .bind(on_duplicate)
    .bind(rows_total)
    .bind(skipped)
    .bind(now)
    .fetch_one(ex)
    .await
}

/// Import `id` of `tenant_id`.
pub async fn get(ex: impl Executor, tenant_id: i64, id: i64) -> CoreResult<Import> {
    query_as::<Import>(&format!("SELECT {COLS} FROM imports WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(ex)
        .await?
        .ok_or(CoreError::NotFound("import"))
}

/// The tenant's latest `limit` imports, newest first.
pub async fn list(db: &Db, tenant_id: i64, limit: i64) -> CoreResult<Vec<Import>> {
    query_as::<Import>(&format!("SELECT {COLS} FROM imports WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2"))
        .bind(tenant_id)
        .bind(limit)
        .fetch_all(db)
        .await
}

/// Adds a chunk's counts to import `id`.
pub async fn add_progress(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    done: i64,
    created: i64,
    updated: i64,
) -> CoreResult<()> {
    query(
        "UPDATE imports SET rows_done = rows_done + $1, created = created + $2, updated = updated + $3 \
         WHERE tenant_id = $4 AND id = $5",
    )
    .bind(done)
    .bind(created)
    .bind(updated)
    .bind(tenant_id)
    .bind(id)
    .execute(tx)
    .await?;
    Ok(())
}

/// Ends import `id` with `status` (and `error` for a failure).
pub async fn finish(
    ex: impl Executor,
    tenant_id: i64,
    id: i64,
    status: ImportStatus,
    error: Option<&str>,
    now: i64,
) -> CoreResult<()> {
    query("UPDATE imports SET status = $1, error = $2, finished_at = $3 WHERE tenant_id = $4 AND id = $5")
        .bind(status)
        .bind(error)
        .bind(now)
        .bind(tenant_id)
        .bind(id)
        .execute(ex)
        .await?;
    Ok(())
}

/// Takes `n` consecutive customer numbers of the tenant; returns the first.
pub async fn reserve_customer_numbers(tx: &mut Tx, tenant_id: i64, n: i64) -> CoreResult<i64> {
    let (first,): (i64,) = query_as(
        "UPDATE tenants SET next_customer_number = next_customer_number + $1 WHERE id = $2 \
         RETURNING next_customer_number - $1",
    )
    .bind(n)
    .bind(tenant_id)
    .fetch_one(tx)
    .await?;
    Ok(first)
}

/// A subscription the tenant has: what duplicates and free static IPs are judged by.
#[derive(Debug, Clone, FromRow)]
pub struct ExistingLogin {
    /// Subscription id.
    pub id: i64,
    /// Its customer.
    pub customer_id: i64,
    /// Login.
    pub username: String,
    /// Fixed IPv4.
    pub static_ipv4: Option<String>,
}

/// Every subscription login of the tenant with its static IP.
pub async fn existing_logins(ex: impl Executor, tenant_id: i64) -> CoreResult<Vec<ExistingLogin>> {
    query_as::<ExistingLogin>(
        "SELECT id, customer_id, username, static_ipv4 FROM subscriptions WHERE tenant_id = $1 ORDER BY id",
    )
    .bind(tenant_id)
    .fetch_all(ex)
    .await
}

/// Every account number of the tenant with its customer id.
pub async fn existing_accounts(ex: impl Executor, tenant_id: i64) -> CoreResult<Vec<(i64, String)>> {
    query_as::<(i64, String)>("SELECT id, account_number FROM customers WHERE tenant_id = $1 ORDER BY id")
        .bind(tenant_id)
        .fetch_all(ex)
        .await
}

/// Inserts customers (account number, fields) tagged with `import_id` in one statement;
/// returns (id, account number) of each.
pub async fn insert_customers(
    tx: &mut Tx,
    tenant_id: i64,
    import_id: i64,
    rows: &[(String, &CustomerFields)],
    now: i64,
) -> CoreResult<Vec<(i64, String)>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(
        "INSERT INTO customers (tenant_id, account_number, name, email, phone, address, tax_id, notes, status, \
         created_at, updated_at, import_id) VALUES ",
    );
    for (i, (number, f)) in rows.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push("(").arg(tenant_id).push(", ").arg(number.as_str()).push(", ").arg(f.name.as_str());
        sql.push(", ").arg(f.email.as_deref()).push(", ").arg(f.phone.as_deref());
        sql.push(", ").arg(f.address.as_deref()).push(", ").arg(f.tax_id.as_deref());
        sql.push(", ").arg(f.notes.as_deref()).push(", ").arg(f.status);
        sql.push(", ").arg(now).push(", ").arg(now).push(", ").arg(import_id).push(")");
    }
    sql.push(" RETURNING id, account_number");
    sql.fetch_all::<(i64, String)>(tx).await
}

/// A subscription to insert: its customer, fields, status and start date.
pub struct NewSubscription<'a> {
    /// Customer.
    pub customer_id: i64,
    /// Validated fields (password already encrypted).
    pub fields: &'a SubscriptionFields,
    /// PENDING or ACTIVE.
    pub status: SubscriptionStatus,
    /// First day of the first billing cycle.
    pub start_date: &'a str,
}

/// Inserts subscriptions tagged with `import_id` in one statement; returns (id, username).
pub async fn insert_subscriptions(
    tx: &mut Tx,
    tenant_id: i64,
    import_id: i64,
    rows: &[NewSubscription<'_>],
    now: i64,
) -> CoreResult<Vec<(i64, String)>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(
        "INSERT INTO subscriptions (tenant_id, customer_id, plan_id, access_type, username, password_enc, static_ipv4, \
         mac_address, onu_serial, olt_port, status, start_date, simultaneous_use, created_at, updated_at, import_id) VALUES ",
    );
    for (i, r) in rows.iter().enumerate() {
        let f = r.fields;
        if i > 0 {
            sql.push(", ");
        }
        sql.push("(").arg(tenant_id).push(", ").arg(r.customer_id).push(", ").arg(f.plan_id);
        sql.push(", ").arg(f.access_type).push(", ").arg(f.username.as_str());
        sql.push(", ").arg(f.password_enc.as_deref()).push(", ").arg(f.static_ipv4.as_deref());
        sql.push(", ").arg(f.mac_address.as_deref()).push(", ").arg(f.onu_serial.as_deref());
        sql.push(", ").arg(f.olt_port.as_deref()).push(", ").arg(r.status).push(", ").arg(r.start_date);
        sql.push(", ").arg(f.simultaneous_use).push(", ").arg(now).push(", ").arg(now);
        sql.push(", ").arg(import_id).push(")");
    }
    sql.push(" RETURNING id, username");
    sql.fetch_all::<(i64, String)>(tx).await
}

/// How many customers and subscriptions import `id` created that are still there.
pub async fn created_counts(ex: impl Executor + Copy, tenant_id: i64, id: i64) -> CoreResult<(i64, i64)> {
    let (c,): (i64,) = query_as("SELECT COUNT(*) FROM customers WHERE tenant_id = $1 AND import_id = $2")
        .bind(tenant_id)
        .bind(id)
        .fetch_one(ex)
        .await?;
    let (s,): (i64,) = query_as("SELECT COUNT(*) FROM subscriptions WHERE tenant_id = $1 AND import_id = $2")
        .bind(tenant_id)
        .bind(id)
        .fetch_one(ex)
        .await?;
    Ok((c, s))
}

/// Deletes what import `id` created: its subscriptions, the uninvoiced charges of its
/// customers (opening balances), and its customers. Records that other rows have come to
/// depend on since (invoices, sessions, tickets) make it fail with CONFLICT, and the caller's
/// transaction rolls back. Returns (customers, subscriptions) deleted.
pub async fn delete_created(tx: &mut Tx, tenant_id: i64, id: i64) -> CoreResult<(u64, u64)> {
    let in_use = |e: CoreError| {
        if e.chain().to_ascii_lowercase().contains("foreign key") {
            CoreError::conflict("id", "records of this import are in use (invoices, sessions or tickets)")
        } else {
            e
        }
    };
    super::subscription_history::forget_import(tx, tenant_id, id).await?;
    let subs = query("DELETE FROM subscriptions WHERE tenant_id = $1 AND import_id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(in_use)?;
    query(
        "DELETE FROM charges WHERE tenant_id = $1 AND invoice_id IS NULL AND customer_id IN \
         (SELECT id FROM customers WHERE tenant_id = $1 AND import_id = $2)",
    )
    .bind(tenant_id)
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(in_use)?;
    let customers = query("DELETE FROM customers WHERE tenant_id = $1 AND import_id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(in_use)?;
    Ok((customers, subs))
}

/// Every plan of the tenant (archived ones too: an import names them to be told they are).
pub async fn plans(ex: impl Executor, tenant_id: i64) -> CoreResult<Vec<super::plans::Plan>> {
    query_as::<super::plans::Plan>(&format!(
        "SELECT {} FROM plans WHERE tenant_id = $1 ORDER BY id",
        super::plans::COLS
    ))
    .bind(tenant_id)
    .fetch_all(ex)
    .await
}
