//! The baselines: the rows behind one GraphQL page read without HTTP, GraphQL or JSON.
//!
//! - [`RawSql`]: three hand-written statements with rows mapped by hand, through the same
//!   connections the server uses (direct SQLite connections, or sqlx on PostgreSQL): what the
//!   database can do;
//! - [`StoreCalls`]: the three `isp_core::store` calls the server's resolvers make, so the
//!   GraphQL figure minus this one is the cost of the API layer alone.

use crate::load::Worker;
use isp_core::db::{rusqlite, Db};
use isp_core::store::customers::{self, CustomerFilter, CustomerSort};
use isp_core::store::page::{Cursor, PageArgs};
use isp_core::store::{plans, subscriptions};
use std::sync::Arc;

/// Customers per page, as in the GraphQL query.
pub const PAGE: usize = 50;

/// Keyset position a page starts after: (name, id) of the previous page's last customer.
pub type Position = Option<(String, i64)>;

/// Where each full page of the tenant's customers (by name, then id) starts.
pub async fn page_positions(db: &Db, tenant_id: i64) -> anyhow::Result<Vec<Position>> {
    let rows: Vec<(String, i64)> = isp_core::db::query_as(
        "SELECT name, id FROM customers WHERE tenant_id = $1 AND status <> 'ARCHIVED' ORDER BY name ASC, id ASC",
    )
    .bind(tenant_id)
    .fetch_all(db)
    .await?;
    let pages = rows.len() / PAGE;
    Ok((0..pages).map(|p| if p == 0 { None } else { Some(rows[p * PAGE - 1].clone()) }).collect())
}

/// A customer row, all columns.
#[allow(dead_code)] // read from the database like the server does; not every field is looked at
pub struct CustomerRow {
    /// Row id.
    pub id: i64,
    tenant_id: i64,
    account_number: String,
    name: String,
    email: Option<String>,
    phone: Option<String>,
    address: Option<String>,
    tax_id: Option<String>,
    notes: Option<String>,
    status: String,
    created_at: i64,
    updated_at: i64,
}

/// A subscription row, all columns the server reads.
#[allow(dead_code)]
pub struct SubscriptionRow {
    id: i64,
    tenant_id: i64,
    customer_id: i64,
    plan_id: i64,
    access_type: String,
    username: String,
    password_enc: Option<String>,
    static_ipv4: Option<String>,
    mac_address: Option<String>,
    onu_serial: Option<String>,
    olt_port: Option<String>,
    status: String,
    start_date: String,
    status_reason: Option<String>,
    created_at: i64,
    updated_at: i64,
}

/// A plan row, all columns the server reads.
#[allow(dead_code)]
pub struct PlanRow {
    id: i64,
    tenant_id: i64,
    name: String,
    description: Option<String>,
    price_minor: i64,
    billing_period: String,
    download_kbps: i64,
    upload_kbps: i64,
    burst_download_kbps: Option<i64>,
    burst_upload_kbps: Option<i64>,
    burst_threshold_download_kbps: Option<i64>,
    burst_threshold_upload_kbps: Option<i64>,
    burst_time_secs: Option<i64>,
    data_quota_bytes: Option<i64>,
    quota_action: Option<String>,
    fup_download_kbps: Option<i64>,
    fup_upload_kbps: Option<i64>,
    time_quota_secs: Option<i64>,
    access_types: String,
    ip_pool: Option<String>,
    active: i64,
    created_at: i64,
    updated_at: i64,
}

/// Reads a row by position, by hand: from a direct SQLite statement or a PostgreSQL row
/// selecting exactly these columns, in order.
macro_rules! by_position {
    ($ty:ident { $($f:ident),+ $(,)? }) => {
        impl $ty {
            fn from_lite(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
                let mut i = 0..;
                Ok(Self { $($f: r.get(i.next().unwrap_or_default())?),+ })
            }

            fn from_pg(r: &sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
                use sqlx::Row as _;
                let mut i = 0..;
                Ok(Self { $($f: r.try_get(i.next().unwrap_or_default())?),+ })
            }
        }
    };
}

by_position!(CustomerRow {
    id,
    tenant_id,
    account_number,
    name,
    email,
    phone,
    address,
    tax_id,
    notes,
    status,
    created_at,
    updated_at
});
by_position!(SubscriptionRow {
    id,
    tenant_id,
    customer_id,
    plan_id,
    access_type,
    username,
    password_enc,
    static_ipv4,
    mac_address,
    onu_serial,
    olt_port,
    status,
    start_date,
    status_reason,
    created_at,
    updated_at
});
by_position!(PlanRow {
    id,
    tenant_id,
    name,
    description,
    price_minor,
    billing_period,
    download_kbps,
    upload_kbps,
    burst_download_kbps,
    burst_upload_kbps,
    burst_threshold_download_kbps,
    burst_threshold_upload_kbps,
    burst_time_secs,
    data_quota_bytes,
    quota_action,
    fup_download_kbps,
    fup_upload_kbps,
    time_quota_secs,
    access_types,
    ip_pool,
    active,
    created_at,
    updated_at
});

const CUSTOMER_COLS: &str =
    "id, tenant_id, account_number, name, email, phone, address, tax_id, notes, status, created_at, updated_at";
const SUBSCRIPTION_COLS: &str =
    "id, tenant_id, customer_id, plan_id, access_type, username, password_enc, static_ipv4, mac_address, \
     onu_serial, olt_port, status, start_date, status_reason, created_at, updated_at";
const PLAN_COLS: &str = "id, tenant_id, name, description, price_minor, billing_period, download_kbps, upload_kbps, \
    burst_download_kbps, burst_upload_kbps, burst_threshold_download_kbps, burst_threshold_upload_kbps, burst_time_secs, \
    data_quota_bytes, quota_action, fup_download_kbps, fup_upload_kbps, time_quota_secs, access_types, ip_pool, active, \
    created_at, updated_at";

/// `$from, $from+1, ...` for an IN list of `n` values.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

type PageRows = (Vec<CustomerRow>, Vec<SubscriptionRow>, Vec<PlanRow>);

/// One page of customers with their subscriptions and plans, in three hand-written statements.
///
/// The keyset condition is a row-value comparison, which both SQLite and PostgreSQL turn
/// into a range scan of `customers_tenant_name_idx`. On SQLite the statements run on the
/// server's own direct connections ([`Db::with_sqlite`]), rows mapped by hand; on PostgreSQL
/// through the server's sqlx pool.
pub async fn fetch_page(db: &Db, tenant_id: i64, after: &Position) -> Result<PageRows, String> {
    if let Some(pool) = db.pg_pool() {
        return fetch_page_pg(pool, tenant_id, after).await.map_err(|e| e.to_string());
    }
    db.with_sqlite(|c| fetch_page_lite(c, tenant_id, after))
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "neither SQLite nor PostgreSQL".to_string())?
        .map_err(|e| e.to_string())
}

fn fetch_page_lite(conn: &rusqlite::Connection, tenant_id: i64, after: &Position) -> rusqlite::Result<PageRows> {
    use rusqlite::params_from_iter;
    use rusqlite::types::Value;
    let base = format!("SELECT {CUSTOMER_COLS} FROM customers WHERE tenant_id = ?1 AND status <> 'ARCHIVED'");
    let limit = PAGE + 1;
    let mut customers: Vec<CustomerRow> = match after {
        None => conn
            .prepare_cached(&format!("{base} ORDER BY name ASC, id ASC LIMIT {limit}"))?
            .query_map([tenant_id], CustomerRow::from_lite)?
            .collect::<rusqlite::Result<_>>()?,
        Some((name, id)) => conn
            .prepare_cached(&format!("{base} AND (name, id) > (?2, ?3) ORDER BY name ASC, id ASC LIMIT {limit}"))?
            .query_map(rusqlite::params![tenant_id, name, id], CustomerRow::from_lite)?
            .collect::<rusqlite::Result<_>>()?,
    };
    customers.truncate(PAGE);
    let in_list = |n: usize| (2..2 + n).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
    let args = |ids: &[i64]| -> Vec<Value> {
        std::iter::once(tenant_id).chain(ids.iter().copied()).map(Value::Integer).collect()
    };
    let ids: Vec<i64> = customers.iter().map(|c| c.id).collect();
    let sql = format!(
        "SELECT {SUBSCRIPTION_COLS} FROM subscriptions WHERE tenant_id = ?1 AND customer_id IN ({}) ORDER BY id",
        in_list(ids.len())
    );
    let subs: Vec<SubscriptionRow> = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(args(&ids)), SubscriptionRow::from_lite)?
        .collect::<rusqlite::Result<_>>()?;
    let mut plan_ids: Vec<i64> = subs.iter().map(|s| s.plan_id).collect();
    plan_ids.sort_unstable();
    plan_ids.dedup();
    let sql = format!("SELECT {PLAN_COLS} FROM plans WHERE tenant_id = ?1 AND id IN ({})", in_list(plan_ids.len()));
    let plans: Vec<PlanRow> = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(args(&plan_ids)), PlanRow::from_lite)?
        .collect::<rusqlite::Result<_>>()?;
    Ok((customers, subs, plans))
}

async fn fetch_page_pg(pool: &sqlx::PgPool, tenant_id: i64, after: &Position) -> Result<PageRows, sqlx::Error> {
    let base = format!("SELECT {CUSTOMER_COLS} FROM customers WHERE tenant_id = $1 AND status <> 'ARCHIVED'");
    let limit = PAGE + 1;
    let rows = match after {
        None => {
            sqlx::query(&format!("{base} ORDER BY name ASC, id ASC LIMIT {limit}"))
                .bind(tenant_id)
                .fetch_all(pool)
                .await?
        }
        Some((name, id)) => {
            sqlx::query(&format!("{base} AND (name, id) > ($2, $3) ORDER BY name ASC, id ASC LIMIT {limit}"))
                .bind(tenant_id)
                .bind(name.as_str())
                .bind(*id)
                .fetch_all(pool)
                .await?
        }
    };
    let mut customers = rows.iter().map(CustomerRow::from_pg).collect::<Result<Vec<_>, _>>()?;
    customers.truncate(PAGE);
    let ids: Vec<i64> = customers.iter().map(|c| c.id).collect();
    let sql = format!(
        "SELECT {SUBSCRIPTION_COLS} FROM subscriptions WHERE tenant_id = $1 AND customer_id IN ({}) ORDER BY id",
        placeholders(2, ids.len())
    );
    let mut q = sqlx::query(&sql).bind(tenant_id);
    for id in &ids {
        q = q.bind(*id);
    }
    let subs = q.fetch_all(pool).await?.iter().map(SubscriptionRow::from_pg).collect::<Result<Vec<_>, _>>()?;
    let mut plan_ids: Vec<i64> = subs.iter().map(|s| s.plan_id).collect();
    plan_ids.sort_unstable();
    plan_ids.dedup();
    let sql =
        format!("SELECT {PLAN_COLS} FROM plans WHERE tenant_id = $1 AND id IN ({})", placeholders(2, plan_ids.len()));
    let mut q = sqlx::query(&sql).bind(tenant_id);
    for id in &plan_ids {
        q = q.bind(*id);
    }
    let plans = q.fetch_all(pool).await?.iter().map(PlanRow::from_pg).collect::<Result<Vec<_>, _>>()?;
    Ok((customers, subs, plans))
}

fn check(page: usize, customers: usize, subs: usize, plans: usize) -> Result<(), String> {
    if customers != PAGE || subs < PAGE || plans == 0 {
        return Err(format!("page {page}: {customers} customers, {subs} subscriptions, {plans} plans"));
    }
    Ok(())
}

/// A hand-written raw-SQL loop over a shared pool.
pub struct RawSql {
    db: Db,
    tenant_id: i64,
    positions: Arc<Vec<Position>>,
}

impl RawSql {
    /// A loop reading the pages at `positions` through `db`.
    pub fn new(db: Db, tenant_id: i64, positions: Arc<Vec<Position>>) -> Self {
        Self { db, tenant_id, positions }
    }
}

impl Worker for RawSql {
    async fn run(&mut self, page: usize) -> Result<(), String> {
        let (c, s, p) =
            fetch_page(&self.db, self.tenant_id, &self.positions[page]).await.map_err(|e| format!("raw SQL: {e}"))?;
        check(page, c.len(), s.len(), p.len())
    }
}

/// A loop making the server's own storage calls for each page.
pub struct StoreCalls {
    db: Db,
    tenant_id: i64,
    pages: Arc<Vec<PageArgs>>,
}

impl StoreCalls {
    /// A loop reading the pages at `positions` through `isp_core::store`.
    pub fn new(db: Db, tenant_id: i64, pages: Arc<Vec<PageArgs>>) -> Self {
        Self { db, tenant_id, pages }
    }

    /// The store's page arguments for each position (`first: 50, after: position`).
    pub fn page_args(positions: &[Position]) -> anyhow::Result<Vec<PageArgs>> {
        positions
            .iter()
            .map(|p| {
                // Through serde, so fields the cursor may gain later keep their defaults.
                let after = p
                    .as_ref()
                    .map(|(name, id)| serde_json::from_value::<Cursor>(serde_json::json!({ "key": name, "id": id })))
                    .transpose()?;
                Ok(PageArgs { after, first: Some(PAGE), ..Default::default() })
            })
            .collect()
    }
}

impl Worker for StoreCalls {
    async fn run(&mut self, page: usize) -> Result<(), String> {
        let (db, t) = (&self.db, self.tenant_id);
        let err = |e: isp_core::CoreError| format!("store: {e}");
        let filter = CustomerFilter::default();
        let c = customers::list(db, t, &filter, CustomerSort::NameAsc, &self.pages[page]).await.map_err(err)?;
        let ids: Vec<i64> = c.items.iter().map(|c| c.id).collect();
        let s = subscriptions::by_customers(db, t, &ids).await.map_err(err)?;
        let mut plan_ids: Vec<i64> = s.iter().map(|s| s.plan_id).collect();
        plan_ids.sort_unstable();
        plan_ids.dedup();
        let p = plans::get_many(db, t, &plan_ids).await.map_err(err)?;
        check(page, c.items.len(), s.len(), p.len())
    }
}
