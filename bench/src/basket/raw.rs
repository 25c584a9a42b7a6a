//! The raw-SQL baseline of each read screen: hand-written statements reading the rows the
//! screen shows, on the connections the server uses (direct SQLite connections, one per
//! screen visit; the sqlx pool on PostgreSQL), every column read into memory. They are
//! written as one would by hand for this schema, keeping SQLite off tenant-wide index walks
//! where the schema has no better index (`+tenant_id`), so they show what the database can
//! do: a screen far below its baseline points at the API's SQL as much as at its overhead.
//!
//! Each baseline returns what the GraphQL response must contain, as (marker, count) pairs:
//! `"__typename":"Invoice"` 50 times, `"totalCount":812` once. Setup runs it once per
//! variant to learn what each GraphQL response must hold; the measured loop checks its own
//! results against the same figures.

use super::screens::{Key, ScreenId, TicketKey};
use isp_core::db::{rusqlite, Backend, Sql, Value};
use isp_core::store::page::COUNT_LIMIT;
use isp_core::store::search::{self, Index};
use sqlx::{Column, Row, TypeInfo};

/// One value read from a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// NULL.
    Null,
    /// Integer.
    I(i64),
    /// Real.
    F(f64),
    /// Text.
    T(String),
}

impl Cell {
    fn int(&self) -> Option<i64> {
        match self {
            Cell::I(i) => Some(*i),
            _ => None,
        }
    }

    fn text(&self) -> &str {
        match self {
            Cell::T(t) => t,
            _ => "",
        }
    }
}

type Rows = Vec<Vec<Cell>>;

/// Where a visit's statements run.
pub trait Exec {
    /// Every row of `sql` (`$n` placeholders) with `args`.
    fn rows(&mut self, sql: &str, args: &[Value<'_>]) -> impl std::future::Future<Output = Result<Rows, String>>;
    /// The database kind.
    fn backend(&self) -> Backend;
}

/// A direct SQLite connection: statements run inline, so every call completes at once.
pub struct Lite<'a>(pub &'a rusqlite::Connection);

/// The PostgreSQL pool.
pub struct Pg<'a>(pub &'a sqlx::PgPool);

impl Exec for Lite<'_> {
    async fn rows(&mut self, sql: &str, args: &[Value<'_>]) -> Result<Rows, String> {
        lite_rows(self.0, sql, args).map_err(|e| format!("{e}: {sql}"))
    }
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }
}

impl Exec for Pg<'_> {
    async fn rows(&mut self, sql: &str, args: &[Value<'_>]) -> Result<Rows, String> {
        pg_rows(self.0, sql, args).await.map_err(|e| format!("{e}: {sql}"))
    }
    fn backend(&self) -> Backend {
        Backend::Postgres
    }
}

fn lite_rows(c: &rusqlite::Connection, sql: &str, args: &[Value<'_>]) -> rusqlite::Result<Rows> {
    use rusqlite::types::ValueRef;
    // `?n` binds parameter n, as `$n` does on PostgreSQL.
    let mut st = c.prepare_cached(&sql.replace('$', "?"))?;
    for (i, a) in args.iter().enumerate() {
        match a {
            Value::I(v) => st.raw_bind_parameter(i + 1, v)?,
            Value::T(v) => st.raw_bind_parameter(i + 1, v.as_ref())?,
            Value::B(v) => st.raw_bind_parameter(i + 1, v.as_ref())?,
            Value::NullI | Value::NullT | Value::NullB => st.raw_bind_parameter(i + 1, rusqlite::types::Null)?,
        }
    }
    let n = st.column_count();
    let mut rows = st.raw_query();
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut row = Vec::with_capacity(n);
        for i in 0..n {
            row.push(match r.get_ref(i)? {
                ValueRef::Null => Cell::Null,
                ValueRef::Integer(v) => Cell::I(v),
                ValueRef::Real(v) => Cell::F(v),
                ValueRef::Text(t) | ValueRef::Blob(t) => Cell::T(String::from_utf8_lossy(t).into_owned()),
            });
        }
        out.push(row);
    }
    Ok(out)
}

async fn pg_rows(pool: &sqlx::PgPool, sql: &str, args: &[Value<'_>]) -> Result<Rows, sqlx::Error> {
    let mut q = sqlx::query(sql);
    for a in args {
        q = match a {
            Value::I(v) => q.bind(*v),
            Value::T(v) => q.bind(v.as_ref()),
            Value::B(v) => q.bind(v.as_ref()),
            Value::NullI => q.bind(None::<i64>),
            Value::NullT => q.bind(None::<String>),
            Value::NullB => q.bind(None::<Vec<u8>>),
        };
    }
    let rows = q.fetch_all(pool).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut row = Vec::with_capacity(r.len());
        for (i, col) in r.columns().iter().enumerate() {
            row.push(match col.type_info().name() {
                "INT8" | "INT4" | "INT2" => r.try_get::<Option<i64>, _>(i)?.map_or(Cell::Null, Cell::I),
                "FLOAT8" | "FLOAT4" => r.try_get::<Option<f64>, _>(i)?.map_or(Cell::Null, Cell::F),
                "BYTEA" => r
                    .try_get::<Option<Vec<u8>>, _>(i)?
                    .map_or(Cell::Null, |b| Cell::T(String::from_utf8_lossy(&b).into_owned())),
                _ => r.try_get::<Option<String>, _>(i)?.map_or(Cell::Null, Cell::T),
            });
        }
        out.push(row);
    }
    Ok(out)
}

const CUSTOMER: &str =
    "id, tenant_id, account_number, name, email, phone, address, tax_id, notes, status, created_at, updated_at";
const SUBSCRIPTION: &str = "id, tenant_id, customer_id, plan_id, access_type, username, password_enc, static_ipv4, \
    mac_address, onu_serial, olt_port, status, start_date, status_reason, simultaneous_use, device_id, created_at, updated_at";
const PLAN: &str = "id, tenant_id, name, description, price_minor, billing_period, download_kbps, upload_kbps, \
    burst_download_kbps, burst_upload_kbps, burst_threshold_download_kbps, burst_threshold_upload_kbps, burst_time_secs, \
    data_quota_bytes, quota_action, fup_download_kbps, fup_upload_kbps, time_quota_secs, access_types, ip_pool, active, \
    created_at, updated_at";
const INVOICE: &str = "id, tenant_id, customer_id, kind, number, status, issue_date, due_date, subtotal_minor, \
    tax_minor, total_minor, paid_minor, original_invoice_id, void_reason, created_at, updated_at";
const PAYMENT: &str =
    "id, tenant_id, customer_id, method, reference, amount_minor, refunded_minor, receipt_number, received_on, created_at";
const SESSION: &str =
    "id, tenant_id, nas_id, subscription_id, username, acct_session_id, framed_ip, calling_station_id, \
    nas_port_id, started_at, updated_at, stopped_at, input_octets, output_octets, session_time, terminate_cause, open";
const NAS: &str = "id, tenant_id, name, ip_address, secret_enc, nas_type, coa_port, require_message_authenticator, \
    description, created_at, updated_at";
const DEVICE: &str = "id, tenant_id, name, kind, host, port, transport, tls_fingerprint, username, password_enc, \
    nas_id, enabled, created_at, updated_at";
const JOB: &str =
    "id, tenant_id, nas_id, device_id, kind, payload, status, attempts, next_attempt_at, last_error, created_at, updated_at";

const TICKET: &str = "id, tenant_id, customer_id, subscription_id, subject, category_id, priority, status, channel, \
    assignee_id, team_id, tags, sla_business_hours, first_response_minutes, resolution_minutes, first_response_due, \
    resolution_due, next_due_at, first_responded_at, resolved_at, paused_at, paused_ms, at_risk, breached, escalated_at, \
    merged_into_id, dedup_key, created_at, updated_at";
const MESSAGE: &str = "id, tenant_id, ticket_id, kind, author_user_id, author_customer_id, body, created_at";

/// `"__typename":"T"` appearing `n` times.
fn typename(t: &str, n: usize) -> (String, usize) {
    (format!("\"__typename\":\"{t}\""), n)
}

/// `($from, ..., $from+n-1)`.
fn list(from: usize, n: usize) -> String {
    let items: Vec<String> = (from..from + n).map(|i| format!("${i}")).collect();
    format!("({})", items.join(", "))
}

/// The distinct integers of column `col`.
fn ids(rows: &Rows, col: usize) -> Vec<i64> {
    let mut v: Vec<i64> = rows.iter().filter_map(|r| r[col].int()).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Rows of `cols` from `table` with `id IN ids` (nothing to read for no ids). `+tenant_id`
/// looks the ids up by primary key: SQLite without statistics would otherwise walk one of the
/// tenant's indexes from end to end (`isp_core`'s RADIUS profile lookups avoid it the same way).
async fn by_ids(ex: &mut impl Exec, cols: &str, table: &str, t: i64, ids: &[i64]) -> Result<Rows, String> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT {cols} FROM {table} WHERE +tenant_id = $1 AND id IN {}", list(2, ids.len()));
    let args: Vec<Value> = std::iter::once(t).chain(ids.iter().copied()).map(Value::I).collect();
    ex.rows(&sql, &args).await
}

/// A keyset page, newest first: `base` (tenant `$1` and `extra` bound after it), then the
/// rows with ids below `after`, at most `n + 1` of them; the page is the first `n`.
async fn newest(
    ex: &mut impl Exec,
    base: &str,
    mut args: Vec<Value<'static>>,
    after: Option<i64>,
    n: usize,
) -> Result<Rows, String> {
    let mut sql = base.to_string();
    if let Some(a) = after {
        args.push(Value::I(a));
        sql.push_str(&format!(" AND id < ${}", args.len()));
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", n + 1));
    let mut rows = ex.rows(&sql, &args).await?;
    rows.truncate(n);
    Ok(rows)
}

/// Runs the baseline of `screen` for one variant.
pub async fn run(screen: ScreenId, ex: &mut impl Exec, t: i64, key: &Key) -> Result<Vec<(String, usize)>, String> {
    use ScreenId::*;
    let tv = Value::I(t);
    match screen {
        CustomersPage => {
            let mut sql = format!("SELECT {CUSTOMER} FROM customers WHERE tenant_id = $1 AND status <> 'ARCHIVED'");
            let mut args = vec![tv];
            if let (Some(name), Some(id)) = (key.text.as_ref(), key.int(0)) {
                sql.push_str(" AND (name, id) > ($2, $3)");
                args.extend([Value::text(name.clone()), Value::I(id)]);
            }
            sql.push_str(" ORDER BY name, id LIMIT 51");
            let mut c = ex.rows(&sql, &args).await?;
            c.truncate(50);
            let subs = subscriptions_of(ex, t, &ids(&c, 0)).await?;
            by_ids(ex, PLAN, "plans", t, &ids(&subs, 3)).await?;
            Ok(vec![typename("Customer", c.len()), typename("Subscription", subs.len()), typename("Plan", subs.len())])
        }
        SubscriptionsPage => {
            let mut sql = format!("SELECT {SUBSCRIPTION} FROM subscriptions WHERE tenant_id = $1");
            let mut args = vec![tv];
            if let (Some(name), Some(id)) = (key.text.as_ref(), key.int(0)) {
                sql.push_str(" AND (username, id) > ($2, $3)");
                args.extend([Value::text(name.clone()), Value::I(id)]);
            }
            sql.push_str(" ORDER BY username, id LIMIT 51");
            let mut s = ex.rows(&sql, &args).await?;
            s.truncate(50);
            by_ids(ex, CUSTOMER, "customers", t, &ids(&s, 2)).await?;
            by_ids(ex, PLAN, "plans", t, &ids(&s, 3)).await?;
            Ok(vec![typename("Subscription", s.len()), typename("Customer", s.len()), typename("Plan", s.len())])
        }
        Search => {
            // The search index the schema keeps (FTS5 trigram on SQLite, pg_trgm on PostgreSQL),
            // matched as the store does; the count stops where the API's does.
            let terms = search::terms("search", key.text.as_deref().unwrap_or_default()).map_err(|e| e.to_string())?;
            let mut f = Sql::new("FROM customers WHERE tenant_id = ");
            f.arg(tv).push(" AND status <> 'ARCHIVED'");
            search::push_match(&mut f, ex.backend(), Index::Customers, "id", t, &terms);
            let (filter, args) = (f.text(), f.args());
            let mut c = ex.rows(&format!("SELECT {CUSTOMER} {filter} ORDER BY name, id LIMIT 21"), args).await?;
            c.truncate(20);
            // The count walks the index's matches and stops at the cap (the store's form).
            let mut n = Sql::new("SELECT COUNT(*) FROM (SELECT 1");
            let joined = search::push_from_matches(&mut n, ex.backend(), Index::Customers, "customers", &terms);
            n.push(if joined { " tenant_id = " } else { " FROM customers WHERE tenant_id = " }).arg(t);
            n.push(" AND status <> 'ARCHIVED'");
            if !joined {
                search::push_match(&mut n, ex.backend(), Index::Customers, "id", t, &terms);
            }
            n.push(&format!(" LIMIT {COUNT_LIMIT}) capped"));
            let total = ex.rows(n.text(), n.args()).await?;
            let total = total.first().and_then(|r| r[0].int()).unwrap_or(-1);
            let subs = subscriptions_of(ex, t, &ids(&c, 0)).await?;
            Ok(vec![
                typename("Customer", c.len()),
                typename("Subscription", subs.len()),
                (format!("\"totalCount\":{total}"), 1),
            ])
        }
        CustomerDetail => customer_detail(ex, t, key).await,
        InvoicesByStatus => {
            let mut args = vec![tv];
            args.extend(key.texts.iter().map(|s| Value::text(s.clone())));
            // Newest first by primary key, filtering the status (no index has status and id):
            // no sort of every invoice with that status.
            let base = format!(
                "SELECT {INVOICE} FROM invoices WHERE +tenant_id = $1 AND status IN {}",
                list(2, key.texts.len())
            );
            let inv = newest(ex, &base, args, key.int(0), 50).await?;
            by_ids(ex, CUSTOMER, "customers", t, &ids(&inv, 2)).await?;
            Ok(vec![typename("Invoice", inv.len()), typename("Customer", inv.len())])
        }
        Payments => {
            // Newest first by primary key: no index leads with (tenant_id, id).
            let base = format!("SELECT {PAYMENT} FROM payments WHERE +tenant_id = $1");
            let p = newest(ex, &base, vec![tv], key.int(0), 20).await?;
            by_ids(ex, CUSTOMER, "customers", t, &ids(&p, 2)).await?;
            let pids = ids(&p, 0);
            let allocs = if pids.is_empty() {
                Vec::new()
            } else {
                let sql = format!(
                    "SELECT payment_id, invoice_id, amount_minor FROM payment_allocations WHERE tenant_id = $1 AND payment_id IN {} ORDER BY id",
                    list(2, pids.len())
                );
                let args: Vec<Value> = std::iter::once(t).chain(pids).map(Value::I).collect();
                ex.rows(&sql, &args).await?
            };
            Ok(vec![typename("Payment", p.len()), typename("Customer", p.len()), typename("Allocation", allocs.len())])
        }
        AuthLog => {
            let sql = "SELECT id, tenant_id, nas_id, username, subscription_id, method, result, reason, calling_station_id, at \
                FROM auth_log WHERE tenant_id = $1 AND username = $2 ORDER BY id DESC LIMIT 21";
            let mut rows = ex.rows(sql, &[tv, Value::text(key.text.clone().unwrap_or_default())]).await?;
            rows.truncate(20);
            by_ids(ex, NAS, "nas", t, &ids(&rows, 2)).await?;
            Ok(vec![typename("AuthLogEntry", rows.len()), typename("Nas", rows.len())])
        }
        OpenSessions => {
            let base = format!("SELECT {SESSION} FROM radius_sessions WHERE tenant_id = $1 AND open = 1");
            let s = newest(ex, &base, vec![tv], key.int(0), 50).await?;
            by_ids(ex, NAS, "nas", t, &ids(&s, 2)).await?;
            let subs = by_ids(ex, SUBSCRIPTION, "subscriptions", t, &ids(&s, 3)).await?;
            by_ids(ex, CUSTOMER, "customers", t, &ids(&subs, 2)).await?;
            let with_sub = s.iter().filter(|r| r[3].int().is_some()).count();
            Ok(vec![
                typename("RadiusSession", s.len()),
                typename("Nas", s.len()),
                typename("Subscription", with_sub),
                typename("Customer", with_sub),
            ])
        }
        AuditLog => {
            let base =
                "SELECT id, tenant_id, user_id, actor, action, object_type, object_id, details, ip, at FROM audit_log \
                WHERE tenant_id = $1";
            let rows = newest(ex, base, vec![tv], key.int(0), 50).await?;
            Ok(vec![typename("AuditEntry", rows.len())])
        }
        DeviceJobs => {
            let mut base = format!("SELECT {JOB} FROM device_jobs WHERE tenant_id = $1");
            let mut args = vec![tv];
            if let Some(status) = &key.text {
                base.push_str(" AND status = $2");
                args.push(Value::text(status.clone()));
            }
            let jobs = newest(ex, &base, args, key.int(0), 50).await?;
            by_ids(ex, DEVICE, "devices", t, &ids(&jobs, 3)).await?;
            by_ids(ex, NAS, "nas", t, &ids(&jobs, 2)).await?;
            let with = |c: usize| jobs.iter().filter(|r| r[c].int().is_some()).count();
            Ok(vec![typename("DeviceJob", jobs.len()), typename("Device", with(3)), typename("Nas", with(2))])
        }
        Tickets | TicketsFiltered | TicketSearch => {
            let k = key.tickets.as_ref().ok_or("a tickets visit without its filter")?;
            tickets_page(ex, t, k, screen == TicketSearch).await
        }
        TicketDetail => ticket_detail(ex, t, key.int(0).unwrap_or(0)).await,
        Plans => {
            let archived = if key.int(0) == Some(1) { "" } else { " AND active = 1" };
            let sql = format!("SELECT {PLAN} FROM plans WHERE tenant_id = $1{archived} ORDER BY name, id LIMIT 51");
            let rows = ex.rows(&sql, &[tv]).await?;
            Ok(vec![typename("Plan", rows.len().min(50))])
        }
        Staff => {
            let sql = "SELECT id, tenant_id, email, name, role, password_hash, disabled, created_at, updated_at, last_login_at \
                FROM users WHERE tenant_id = $1 ORDER BY email, id LIMIT 51";
            let rows = ex.rows(sql, &[tv]).await?;
            Ok(vec![typename("StaffUser", rows.len().min(50))])
        }
        Dashboard => dashboard(ex, t, key).await,
        CreateCustomer | RecordPayment | SubscriptionStatus => Err("writes have no baseline".into()),
    }
}

/// `FROM tickets WHERE ...` of a tickets-list visit: tenant and filters (the search through
/// the index the schema keeps, matched as the store does), no position.
pub fn push_ticket_filter(s: &mut Sql<'static>, backend: Backend, t: i64, k: &TicketKey) -> Result<(), String> {
    s.push(" FROM tickets WHERE tenant_id = ").arg(Value::I(t));
    if !k.statuses.is_empty() {
        s.push(" AND status IN (");
        for (i, st) in k.statuses.iter().enumerate() {
            s.push(if i == 0 { "" } else { ", " }).arg(Value::text(st.clone()));
        }
        s.push(")");
    }
    if let Some(p) = &k.priority {
        s.push(" AND priority = ").arg(Value::text(p.clone()));
    }
    if let Some(a) = k.assignee {
        s.push(" AND assignee_id = ").arg(Value::I(a));
    }
    if let Some(c) = k.category {
        s.push(" AND category_id = ").arg(Value::I(c));
    }
    if let Some(b) = k.breached {
        s.push(" AND breached = ").arg(Value::I(i64::from(b)));
    }
    if let Some(q) = &k.search {
        let terms = search::terms("search", q).map_err(|e| e.to_string())?;
        search::push_match(s, backend, Index::Tickets, "id", t, &terms);
    }
    Ok(())
}

/// A page of the tickets list (keyset by created_at or next_due_at, then id), its capped
/// count, and the customers, categories and teams of the page.
async fn tickets_page(ex: &mut impl Exec, t: i64, k: &TicketKey, hits: bool) -> Result<Vec<(String, usize)>, String> {
    let (col, desc) = if k.due_first { ("next_due_at", false) } else { ("created_at", true) };
    let mut s = Sql::new(&format!("SELECT {TICKET}"));
    push_ticket_filter(&mut s, ex.backend(), t, k)?;
    if let Some((at, id)) = k.after {
        // A row value seeks to the position in the (tenant_id, col, id) index.
        let cmp = if desc { "<" } else { ">" };
        s.push(&format!(" AND ({col}, id) {cmp} (")).arg(Value::I(at));
        s.push(", ").arg(Value::I(id)).push(")");
    }
    let dir = if desc { " DESC" } else { "" };
    s.push(&format!(" ORDER BY {col}{dir}, id{dir} LIMIT {}", k.first + 1));
    let mut rows = ex.rows(s.text(), s.args()).await?;
    rows.truncate(k.first);
    let mut n = Sql::new("SELECT COUNT(*) FROM (SELECT 1");
    push_ticket_filter(&mut n, ex.backend(), t, k)?;
    n.push(&format!(" LIMIT {}) capped", COUNT_LIMIT + 1));
    let total = ex.rows(n.text(), n.args()).await?.first().and_then(|r| r[0].int()).unwrap_or(-1).min(COUNT_LIMIT);
    let customers = by_ids(ex, CUSTOMER, "customers", t, &ids(&rows, 2)).await?;
    // Tickets whose column `col` names a row of `found`.
    let with = |col: usize, found: &Rows| {
        rows.iter().filter(|r| r[col].int().is_some_and(|id| found.iter().any(|f| f[0].int() == Some(id)))).count()
    };
    let mut out = vec![
        typename("Ticket", rows.len()),
        typename("Customer", with(2, &customers)),
        (format!("\"totalCount\":{total}"), 1),
    ];
    if !hits {
        let cats = by_ids(ex, "id, tenant_id, name, created_at", "ticket_categories", t, &ids(&rows, 5)).await?;
        let teams =
            by_ids(ex, "id, tenant_id, name, lead_user_id, created_at", "ticket_teams", t, &ids(&rows, 10)).await?;
        out.push(typename("TicketCategory", with(5, &cats)));
        out.push(typename("TicketTeam", with(10, &teams)));
    }
    Ok(out)
}

/// A ticket, its customer, subscription with plan, category and team, and its whole thread
/// with the messages' attachments.
async fn ticket_detail(ex: &mut impl Exec, t: i64, id: i64) -> Result<Vec<(String, usize)>, String> {
    let ti = [Value::I(t), Value::I(id)];
    let ticket = ex.rows(&format!("SELECT {TICKET} FROM tickets WHERE tenant_id = $1 AND id = $2"), &ti).await?;
    let customers = by_ids(ex, CUSTOMER, "customers", t, &ids(&ticket, 2)).await?;
    let subs = by_ids(ex, SUBSCRIPTION, "subscriptions", t, &ids(&ticket, 3)).await?;
    let plans = by_ids(ex, PLAN, "plans", t, &ids(&subs, 3)).await?;
    let cats = by_ids(ex, "id, tenant_id, name, created_at", "ticket_categories", t, &ids(&ticket, 5)).await?;
    let teams =
        by_ids(ex, "id, tenant_id, name, lead_user_id, created_at", "ticket_teams", t, &ids(&ticket, 10)).await?;
    let messages = ex
        .rows(
            &format!("SELECT {MESSAGE} FROM ticket_messages WHERE tenant_id = $1 AND ticket_id = $2 ORDER BY id"),
            &ti,
        )
        .await?;
    let mids = ids(&messages, 0);
    let attachments = if mids.is_empty() {
        Vec::new()
    } else {
        let sql = format!(
            "SELECT id, tenant_id, ticket_id, message_id, blob_id, file_name, created_at FROM ticket_attachments \
             WHERE tenant_id = $1 AND message_id IN {} ORDER BY id",
            list(2, mids.len())
        );
        let args: Vec<Value> = std::iter::once(t).chain(mids).map(Value::I).collect();
        ex.rows(&sql, &args).await?
    };
    Ok(vec![
        typename("Ticket", ticket.len()),
        typename("Customer", customers.len()),
        typename("Subscription", subs.len()),
        typename("Plan", plans.len()),
        typename("TicketCategory", cats.len()),
        typename("TicketTeam", teams.len()),
        typename("TicketMessage", messages.len()),
        typename("TicketAttachment", attachments.len()),
    ])
}

async fn subscriptions_of(ex: &mut impl Exec, t: i64, customers: &[i64]) -> Result<Rows, String> {
    if customers.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {SUBSCRIPTION} FROM subscriptions WHERE tenant_id = $1 AND customer_id IN {} ORDER BY id",
        list(2, customers.len())
    );
    let args: Vec<Value> = std::iter::once(t).chain(customers.iter().copied()).map(Value::I).collect();
    ex.rows(&sql, &args).await
}

/// Profile, subscriptions with plans, balance and pending charges, the last invoices and
/// payments, and the subscription's usage periods and open sessions.
async fn customer_detail(ex: &mut impl Exec, t: i64, key: &Key) -> Result<Vec<(String, usize)>, String> {
    let (c, s) = (key.int(0).unwrap_or(0), key.int(1).unwrap_or(0));
    let tc = [Value::I(t), Value::I(c)];
    let customer = ex.rows(&format!("SELECT {CUSTOMER} FROM customers WHERE tenant_id = $1 AND id = $2"), &tc).await?;
    let subs = ex
        .rows(
            &format!("SELECT {SUBSCRIPTION} FROM subscriptions WHERE tenant_id = $1 AND customer_id = $2 ORDER BY id"),
            &tc,
        )
        .await?;
    by_ids(ex, PLAN, "plans", t, &ids(&subs, 3)).await?;
    ex.rows(
        "SELECT CAST(COALESCE(SUM(total_minor - paid_minor), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN status = 'OVERDUE' THEN total_minor - paid_minor ELSE 0 END), 0) AS BIGINT) FROM invoices \
         WHERE tenant_id = $1 AND customer_id = $2 AND kind = 'INVOICE' AND status IN ('ISSUED', 'PARTIALLY_PAID', 'OVERDUE')",
        &tc,
    )
    .await?;
    ex.rows(
        "SELECT CAST(COALESCE(SUM(p.amount_minor - p.refunded_minor - COALESCE((SELECT SUM(a.amount_minor) FROM payment_allocations a \
         WHERE a.tenant_id = p.tenant_id AND a.payment_id = p.id), 0)), 0) AS BIGINT) FROM payments p WHERE p.tenant_id = $1 AND p.customer_id = $2",
        &tc,
    )
    .await?;
    let charges = ex
        .rows(
            "SELECT id, customer_id, subscription_id, kind, description, amount_minor, tax_class, invoice_id FROM charges \
             WHERE tenant_id = $1 AND customer_id = $2 AND invoice_id IS NULL ORDER BY id",
            &tc,
        )
        .await?;
    let invoices = newest(
        ex,
        &format!("SELECT {INVOICE} FROM invoices WHERE tenant_id = $1 AND customer_id = $2"),
        tc.to_vec(),
        None,
        5,
    )
    .await?;
    let payments = newest(
        ex,
        &format!("SELECT {PAYMENT} FROM payments WHERE tenant_id = $1 AND customer_id = $2"),
        tc.to_vec(),
        None,
        5,
    )
    .await?;
    let ts = [Value::I(t), Value::I(s)];
    let mut usage = ex
        .rows(
            "SELECT id, tenant_id, subscription_id, period_start, period_end, input_octets, output_octets, session_time, updated_at \
             FROM radius_usage WHERE tenant_id = $1 AND subscription_id = $2 ORDER BY period_start DESC, id DESC LIMIT 4",
            &ts,
        )
        .await?;
    usage.truncate(3);
    // On the (subscription_id, open) index, not through every open session of the tenant.
    let sessions = newest(
        ex,
        &format!("SELECT {SESSION} FROM radius_sessions WHERE +tenant_id = $1 AND subscription_id = $2 AND open = 1"),
        ts.to_vec(),
        None,
        5,
    )
    .await?;
    Ok(vec![
        typename("Customer", customer.len()),
        typename("Subscription", subs.len()),
        typename("Plan", subs.len()),
        typename("CustomerBalance", customer.len()),
        typename("Charge", charges.len()),
        typename("Invoice", invoices.len()),
        typename("Payment", payments.len()),
        typename("UsagePeriod", usage.len()),
        typename("RadiusSession", sessions.len()),
    ])
}

/// MRR, revenue by plan, invoiced and collected per month, and receivables ageing.
async fn dashboard(ex: &mut impl Exec, t: i64, key: &Key) -> Result<Vec<(String, usize)>, String> {
    let [from, to, as_of] = [0, 1, 2].map(|i| key.texts.get(i).cloned().unwrap_or_default());
    let tv = Value::I(t);
    ex.rows(
        "SELECT p.price_minor, p.billing_period, COUNT(*) FROM subscriptions s JOIN plans p ON p.tenant_id = s.tenant_id AND p.id = s.plan_id \
         WHERE s.tenant_id = $1 AND s.status = 'ACTIVE' GROUP BY p.id, p.price_minor, p.billing_period",
        std::slice::from_ref(&tv),
    )
    .await?;
    let range = [tv.clone(), Value::text(from), Value::text(to)];
    let plans = ex
        .rows(
            "SELECT l.plan_id, p.name, CAST(SUM(l.net_minor) AS BIGINT) AS net_minor, COUNT(*) FROM invoice_lines l \
             JOIN invoices i ON i.tenant_id = l.tenant_id AND i.id = l.invoice_id JOIN plans p ON p.tenant_id = l.tenant_id AND p.id = l.plan_id \
             WHERE l.tenant_id = $1 AND l.kind = 'SUBSCRIPTION' AND i.kind = 'INVOICE' AND i.status NOT IN ('VOID', 'DRAFT') \
             AND i.issue_date >= $2 AND i.issue_date <= $3 GROUP BY l.plan_id, p.name ORDER BY net_minor DESC, l.plan_id",
            &range,
        )
        .await?;
    let invoiced = ex
        .rows(
            "SELECT SUBSTR(issue_date, 1, 7) AS m, CAST(SUM(total_minor) AS BIGINT) FROM invoices WHERE tenant_id = $1 AND kind = 'INVOICE' \
             AND status NOT IN ('VOID', 'DRAFT') AND issue_date >= $2 AND issue_date <= $3 GROUP BY SUBSTR(issue_date, 1, 7)",
            &range,
        )
        .await?;
    let collected = ex
        .rows(
            "SELECT SUBSTR(received_on, 1, 7) AS m, CAST(SUM(amount_minor - refunded_minor) AS BIGINT) FROM payments WHERE tenant_id = $1 \
             AND received_on >= $2 AND received_on <= $3 GROUP BY SUBSTR(received_on, 1, 7)",
            &range,
        )
        .await?;
    let open = ex
        .rows(
            "SELECT due_date, total_minor - paid_minor FROM invoices WHERE tenant_id = $1 AND kind = 'INVOICE' \
             AND status IN ('ISSUED', 'PARTIALLY_PAID', 'OVERDUE')",
            &[tv],
        )
        .await?;
    // Ageing buckets by days past due, as the report computes them.
    let mut buckets = [0i64; 5];
    for r in &open {
        let late = match (
            chrono::NaiveDate::parse_from_str(r[0].text(), "%Y-%m-%d"),
            chrono::NaiveDate::parse_from_str(&as_of, "%Y-%m-%d"),
        ) {
            (Ok(due), Ok(at)) => (at - due).num_days(),
            _ => return Err(format!("bad due date {:?}", r[0])),
        };
        let b = match late {
            i64::MIN..=0 => 0,
            1..=30 => 1,
            31..=60 => 2,
            61..=90 => 3,
            _ => 4,
        };
        buckets[b] += r[1].int().unwrap_or(0);
    }
    let mut months: Vec<&str> = invoiced.iter().chain(&collected).map(|r| r[0].text()).collect();
    months.sort_unstable();
    months.dedup();
    Ok(vec![
        typename("BillingReport", 1),
        typename("PlanRevenue", plans.len()),
        typename("MonthCollection", months.len()),
        typename("Ageing", 1),
    ])
}
