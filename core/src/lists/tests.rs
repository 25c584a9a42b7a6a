//! The plan test: every list statement ([`super::statements`]), and the billing report's, on a
//! seeded database with planner statistics, on SQLite and (with `TEST_DATABASE_URL`) on
//! PostgreSQL. A statement fails when the plan reads a whole table or sorts everything a tenant
//! has.
//!
//! - SQLite (`EXPLAIN QUERY PLAN`, without statistics, as the application runs: it never runs
//!   `ANALYZE`, so the planner's heuristics decide): `SCAN <table>` of a real table (a scan of
//!   an FTS index or of a subquery is fine), or `USE TEMP B-TREE FOR ORDER BY` outside a
//!   search (a search sorts its matches).
//! - PostgreSQL (`EXPLAIN`, after `ANALYZE`, with `enable_seqscan` and, outside a search,
//!   `enable_sort` off so that the planner takes an index path whenever one exists): a `Seq
//!   Scan`, or a `Sort` outside a search (an `Incremental Sort`, which orders ties within
//!   what an index returns sorted, is fine).

use super::{statements, Ids, Statement};
use crate::db::{query_as, Backend, Db, Sql};
use std::sync::atomic::{AtomicU64, Ordering};

static N: AtomicU64 = AtomicU64::new(0);

/// Rows of the tenant under test; a second tenant gets a fifth of that.
const ROWS: i64 = 3000;

async fn exec(db: &Db, sql: &str) {
    db.execute(sql, &[]).await.unwrap_or_else(|e| panic!("{}\n{sql}", e.chain()));
}

async fn one(db: &Db, sql: &str) -> i64 {
    let (v,): (i64,) = query_as(sql).fetch_one(db).await.unwrap_or_else(|e| panic!("{}\n{sql}", e.chain()));
    v
}

/// `n` rows numbered from 1 (`n.i`), for INSERT ... SELECT on both backends.
fn numbers(n: i64) -> String {
    format!("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})")
}

/// A tenant with `rows` customers and subscriptions and as many rows of every listed table.
async fn seed_tenant(db: &Db, slug: &str, rows: i64) -> Ids {
    let t = {
        let (id,): (i64,) = query_as(
            "INSERT INTO tenants (slug, name, currency, timezone, created_at) VALUES ($1, $1, 'USD', 'UTC', 0) RETURNING id",
        )
        .bind(slug)
        .fetch_one(db)
        .await
        .unwrap();
        id
    };
    for (i, name) in ["Home", "Fiber", "Business"].iter().enumerate() {
        exec(
            db,
            &format!(
                "INSERT INTO plans (tenant_id, name, price_minor, billing_period, download_kbps, upload_kbps, access_types, \
                 active, created_at, updated_at) VALUES ({t}, '{name}', {}, 'MONTHLY', 50000, 10000, 'PPPOE,HOTSPOT,STATIC_IP,GPON', {}, 0, 0)",
                1000 * (i + 1),
                i64::from(i < 2)
            ),
        )
        .await;
    }
    let plan = one(db, &format!("SELECT MIN(id) FROM plans WHERE tenant_id = {t}")).await;
    exec(
        db,
        &format!(
            "{} INSERT INTO users (tenant_id, email, name, role, password_hash, created_at, updated_at) \
         SELECT {t}, 'u' || i || '@x.example', 'User ' || i, 'SUPPORT', 'x', 0, 0 FROM n",
            numbers(20)
        ),
    )
    .await;
    let user = one(db, &format!("SELECT MIN(id) FROM users WHERE tenant_id = {t}")).await;
    let statuses = "CASE WHEN i % 10 = 0 THEN 'INACTIVE' WHEN i % 17 = 0 THEN 'ARCHIVED' ELSE 'ACTIVE' END";
    exec(db, &format!(
        "{} INSERT INTO customers (tenant_id, account_number, name, email, phone, address, status, created_at, updated_at) \
         SELECT {t}, 'C' || i, CASE WHEN i % 7 = 0 THEN 'João Silva ' || i ELSE 'Customer ' || i END, 'c' || i || '@x.example', \
         '+1 555 ' || i, i || ' Main St', {statuses}, 1700000000000 + i, 0 FROM n", numbers(rows))).await;
    let customer = one(db, &format!("SELECT MIN(id) FROM customers WHERE tenant_id = {t}")).await;
    let access = "CASE i % 4 WHEN 0 THEN 'PPPOE' WHEN 1 THEN 'HOTSPOT' WHEN 2 THEN 'STATIC_IP' ELSE 'GPON' END";
    let sub_status = "CASE WHEN i % 9 = 0 THEN 'SUSPENDED' WHEN i % 13 = 0 THEN 'CANCELLED' ELSE 'ACTIVE' END";
    exec(db, &format!(
        "{} INSERT INTO subscriptions (tenant_id, customer_id, plan_id, access_type, username, static_ipv4, onu_serial, status, \
         start_date, created_at, updated_at) SELECT {t}, {customer} + i - 1, {plan} + i % 3, {access}, 'b' || i, \
         CASE WHEN i % 4 = 2 THEN '10.' || (i / 65536) || '.' || (i / 256 % 256) || '.' || (i % 256) END, \
         CASE WHEN i % 4 = 3 THEN 'HWTC' || (10000000 + i) END, {sub_status}, '2026-01-01', 1700000000000 + i, 0 FROM n",
        numbers(rows))).await;
    let subscription = one(db, &format!("SELECT MIN(id) FROM subscriptions WHERE tenant_id = {t}")).await;
    exec(
        db,
        &format!(
            "INSERT INTO nas (tenant_id, name, ip_address, secret_enc, created_at, updated_at) \
         VALUES ({t}, 'nas-{slug}', '{slug}', 'x', 0, 0)"
        ),
    )
    .await;
    let nas = one(db, &format!("SELECT MIN(id) FROM nas WHERE tenant_id = {t}")).await;
    exec(
        db,
        &format!(
            "{} INSERT INTO audit_log (tenant_id, user_id, actor, action, object_type, object_id, at) \
         SELECT {t}, {user}, 'a', CASE WHEN i % 2 = 0 THEN 'customer.update' ELSE 'plan.update' END, \
         CASE WHEN i % 2 = 0 THEN 'Customer' ELSE 'Plan' END, {customer} + i % 50, i FROM n",
            numbers(rows)
        ),
    )
    .await;
    exec(db, &format!(
        "{} INSERT INTO radius_sessions (tenant_id, nas_id, subscription_id, username, acct_session_id, started_at, updated_at, open) \
         SELECT {t}, {nas}, {subscription} + i % {rows}, 'b' || (i % {rows}), 's' || i, i, i, CASE WHEN i % 5 = 0 THEN 1 ELSE 0 END FROM n",
        numbers(rows))).await;
    exec(db, &format!(
        "{} INSERT INTO radius_usage (tenant_id, subscription_id, period_start, period_end, updated_at) \
         SELECT {t}, {subscription} + i % {rows}, '2026-' || substr('0' || (1 + i / {rows}), -2) || '-01', '2026-12-31', 0 FROM n",
        numbers(rows))).await;
    exec(db, &format!(
        "{} INSERT INTO auth_log (tenant_id, nas_id, username, subscription_id, method, result, reason, at) \
         SELECT {t}, {nas}, 'b' || (i % 500), {subscription} + i % 500, 'PAP', CASE WHEN i % 8 = 0 THEN 'REJECT' ELSE 'ACCEPT' END, \
         'ok', i FROM n", numbers(rows))).await;
    exec(
        db,
        &format!(
        "INSERT INTO billing_runs (tenant_id, as_of, actor, drafts, started_at) VALUES ({t}, '2026-01-01', 'x', 0, 0)"),
    )
    .await;
    let run = one(db, &format!("SELECT MIN(id) FROM billing_runs WHERE tenant_id = {t}")).await;
    let inv_status = "CASE i % 5 WHEN 0 THEN 'PAID' WHEN 1 THEN 'ISSUED' WHEN 2 THEN 'OVERDUE' WHEN 3 THEN 'PAID' ELSE 'PARTIALLY_PAID' END";
    exec(db, &format!(
        "{} INSERT INTO invoices (tenant_id, customer_id, kind, number, status, issue_date, due_date, subtotal_minor, tax_minor, \
         total_minor, created_at, updated_at, billing_run_id) SELECT {t}, {customer} + i % {rows}, 'INVOICE', 'I' || i, {inv_status}, \
         '2026-01-01', '2026-01-15', 1000, 0, 1000, i, i, CASE WHEN i % 3 = 0 THEN {run} END FROM n", numbers(rows))).await;
    exec(db, &format!(
        "{} INSERT INTO payments (tenant_id, customer_id, method, amount_minor, receipt_number, received_on, created_at) \
         SELECT {t}, {customer} + i % {rows}, 'CASH', 1000, 'R' || i, '2026-01-10', i FROM n", numbers(rows))).await;
    exec(
        db,
        &format!(
            "{} INSERT INTO dunning_events (tenant_id, customer_id, invoice_id, subscription_id, kind, at) \
         SELECT {t}, {customer} + i % {rows}, i, 0, 'REMINDER', i FROM n",
            numbers(rows)
        ),
    )
    .await;
    exec(db, &format!(
        "{} INSERT INTO devices (tenant_id, name, kind, host, port, transport, username, password_enc, created_at, updated_at) \
         SELECT {t}, 'dev' || i, CASE WHEN i % 2 = 0 THEN 'MIKROTIK' ELSE 'HUAWEI_OLT' END, 'h' || i, 8728, 'API', 'u', 'x', 0, 0 FROM n",
        numbers(rows / 10))).await;
    exec(db, &format!(
        "{} INSERT INTO device_jobs (tenant_id, nas_id, kind, payload, status, next_attempt_at, created_at, updated_at) \
         SELECT {t}, {nas}, 'RADIUS_DISCONNECT', '{{}}', CASE WHEN i % 20 = 0 THEN 'DEAD' WHEN i % 7 = 0 THEN 'PENDING' ELSE 'DONE' END, \
         i, i, i FROM n", numbers(rows))).await;
    exec(db, &format!(
        "{} INSERT INTO tickets (tenant_id, customer_id, subject, priority, status, channel, assignee_id, tags, next_due_at, \
         breached, at_risk, created_at, updated_at) SELECT {t}, {customer} + i % {rows}, 'Router down ' || i, \
         CASE WHEN i % 4 = 0 THEN 'URGENT' ELSE 'NORMAL' END, CASE WHEN i % 3 = 0 THEN 'CLOSED' ELSE 'OPEN' END, 'STAFF', \
         CASE WHEN i % 2 = 0 THEN {user} END, '', i, CASE WHEN i % 11 = 0 THEN 1 ELSE 0 END, 0, i, i FROM n",
        numbers(rows))).await;
    exec(
        db,
        &format!(
            "INSERT INTO ticket_messages (tenant_id, ticket_id, kind, body, created_at) \
         SELECT {t}, id, 'CUSTOMER_MESSAGE', 'no internet since ' || id, 0 FROM tickets WHERE tenant_id = {t}"
        ),
    )
    .await;
    exec(
        db,
        &format!(
            "INSERT INTO blobs (tenant_id, sha256, size_bytes, content_type, created_by, created_at) \
             VALUES ({t}, '{slug}', 100, 'image/png', 'seed', 0)"
        ),
    )
    .await;
    let blob = one(db, &format!("SELECT id FROM blobs WHERE tenant_id = {t}")).await;
    exec(
        db,
        &format!(
            "INSERT INTO customer_documents (tenant_id, customer_id, blob_id, kind, title, file_name, created_at) \
             SELECT {t}, id, {blob}, 'PHOTO', 'Photo', 'p.png', 0 FROM customers WHERE tenant_id = {t}"
        ),
    )
    .await;
    exec(
        db,
        &format!(
            "INSERT INTO ticket_attachments (tenant_id, ticket_id, message_id, blob_id, file_name, created_at) \
             SELECT {t}, ticket_id, id, {blob}, 'a.png', 0 FROM ticket_messages WHERE tenant_id = {t}"
        ),
    )
    .await;
    let (invoice, payment) = (
        one(db, &format!("SELECT MIN(id) FROM invoices WHERE tenant_id = {t}")).await,
        one(db, &format!("SELECT MIN(id) FROM payments WHERE tenant_id = {t}")).await,
    );
    exec(db, &format!(
        "INSERT INTO invoice_lines (tenant_id, invoice_id, kind, plan_id, description, net_minor, tax_minor, total_minor, \
         tax_rate_bp, tax_inclusive) SELECT {t}, id, 'SUBSCRIPTION', {plan}, 'Home', 1000, 0, 1000, 0, 0 FROM invoices WHERE tenant_id = {t}"
    )).await;
    exec(
        db,
        &format!(
            "INSERT INTO payment_allocations (tenant_id, payment_id, invoice_id, amount_minor, created_at) \
         SELECT {t}, id, {invoice} + id - {payment}, 1000, 0 FROM payments WHERE tenant_id = {t}"
        ),
    )
    .await;
    exec(
        db,
        &format!(
            "INSERT INTO refunds (tenant_id, payment_id, amount_minor, reason, refunded_on, created_at) \
         SELECT {t}, id, 100, 'x', '2026-01-11', 0 FROM payments WHERE tenant_id = {t} AND id % 10 = 0"
        ),
    )
    .await;
    Ids { tenant: t, customer, subscription, plan, nas, user, billing_run: run, invoice, payment }
}

/// The billing report's statements: not lists, but read per request like them, so they must
/// read the aggregates by their `(tenant_id, ...)` keys. They sort and group what they read
/// (a row per plan or per month), never the tenant's invoices or payments.
fn report_statements(backend: Backend, ids: &Ids) -> Vec<Statement> {
    use crate::billing::reports::{AGEING_SQL, COLLECTED_SQL, INVOICED_SQL, MRR_SQL, REVENUE_SQL};
    use crate::db::Value;
    let t = || Value::I(ids.tenant);
    let range = || vec![t(), Value::text("2026-01-01"), Value::text("2026-12-31")];
    [
        ("mrr", Sql::with(MRR_SQL, vec![t()])),
        ("revenueByPlan", Sql::with(REVENUE_SQL, range())),
        ("collections invoiced", Sql::with(INVOICED_SQL, range())),
        ("collections collected", Sql::with(COLLECTED_SQL, range())),
        ("ageing", Sql::with(AGEING_SQL, vec![t()])),
    ]
    .into_iter()
    .map(|(what, sql)| Statement {
        field: "billingReport",
        what: what.to_string(),
        sql,
        sorts_matches: true,
        key: None,
    })
    .chain(business_report_statements(backend, ids))
    .collect()
}

/// The business reports' statements (`crate::reports`): per-day aggregates by `(tenant_id,
/// day)`, plan and tax-rate names by tenant, usage periods by `(tenant_id, period_start)`.
fn business_report_statements(backend: Backend, ids: &Ids) -> Vec<Statement> {
    use crate::db::Value;
    use crate::reports::{collections as c, growth as g, usage as u};
    let t = || Value::I(ids.tenant);
    let before = || vec![t(), Value::text("2026-01-01")];
    let range = || vec![t(), Value::text("2026-01-01"), Value::text("2026-12-31")];
    let mut top = range();
    top.push(Value::I(20));
    [
        ("open before", Sql::with(g::OPEN_BEFORE_SQL, before())),
        ("subscription days", Sql::with(g::DAYS_SQL, range())),
        ("mrr before", Sql::with(g::MRR_BEFORE_SQL, before())),
        ("plan names", Sql::with(g::PLAN_NAMES_SQL, vec![t()])),
        ("balance before", Sql::with(c::BALANCE_BEFORE_SQL, before())),
        ("invoiced days", Sql::with(c::INVOICED_DAYS_SQL, range())),
        ("collected days", Sql::with(c::COLLECTED_DAYS_SQL, range())),
        ("tax class days", Sql::with(c::TAX_CLASS_DAYS_SQL, range())),
        ("tax names", Sql::with(c::TAX_NAMES_SQL, vec![t()])),
        ("top data users", Sql::with(&u::top_users_sql(backend, 31), top.clone())),
        ("top data users, long range", Sql::with(&u::top_users_sql(backend, 365), top)),
    ]
    .into_iter()
    .map(|(what, sql)| Statement {
        field: "businessReports",
        what: what.to_string(),
        sql,
        sorts_matches: true,
        key: None,
    })
    .collect()
}

/// Why a statement's plan fails, if it does.
async fn check(db: &Db, tables: &[String], s: &Statement) -> Option<String> {
    let mut bad = Vec::new();
    match db.backend() {
        Backend::Sqlite => {
            let rows: Vec<(i64, i64, i64, String)> =
                db.fetch_all(&format!("EXPLAIN QUERY PLAN {}", s.sql.text()), s.sql.args()).await.unwrap();
            if let Some(key) = s.key {
                // The first table the plan reads must be searched by the key (`rowid` is `id`).
                let first =
                    rows.iter().map(|r| r.3.as_str()).find(|d| d.starts_with("SEARCH ") || d.starts_with("SCAN "));
                let by_key = |d: &str| {
                    let cond = d.rsplit_once('(').map_or("", |(_, c)| c.trim_end_matches(')'));
                    cond.split(" AND ").any(|c| c == format!("{key}=?") || (key == "id" && c.starts_with("rowid=?")))
                };
                if !first.is_some_and(by_key) {
                    bad.push(format!("not searched by {key}"));
                }
            }
            for (_, _, _, detail) in &rows {
                let scanned = detail.strip_prefix("SCAN ").map(|r| r.split(' ').next().unwrap_or(""));
                if scanned.is_some_and(|t| tables.iter().any(|x| x == t)) {
                    bad.push(detail.clone());
                }
                if detail == "USE TEMP B-TREE FOR ORDER BY" && !s.sorts_matches {
                    bad.push(detail.clone());
                }
            }
            if !bad.is_empty() {
                let plan: Vec<&str> = rows.iter().map(|r| r.3.as_str()).collect();
                bad.push(format!("plan: {}", plan.join(" | ")));
            }
        }
        Backend::Postgres => {
            let mut tx = db.begin().await.unwrap();
            tx.execute("SET LOCAL enable_seqscan = off", &[]).await.unwrap();
            if !s.sorts_matches {
                tx.execute("SET LOCAL enable_sort = off", &[]).await.unwrap();
            }
            let rows: Vec<(String,)> = tx.fetch_all(&format!("EXPLAIN {}", s.sql.text()), s.sql.args()).await.unwrap();
            // Plan nodes are the lines with a cost; "Sort Key:" and the like are their details.
            // An Incremental Sort only orders rows within runs an index already sorted (ties
            // of a unique key): not a sort of the whole list.
            for (line,) in rows.iter().filter(|(l,)| l.contains("(cost=")) {
                let node = line.trim_start().trim_start_matches("->").trim_start();
                let name = node.split("  (").next().unwrap_or(node);
                if name.starts_with("Seq Scan") || (name == "Sort" && !s.sorts_matches) {
                    bad.push(name.to_string());
                }
            }
            // A tenant's catalogs (plans, NAS) hold a handful of rows: walking them is fine.
            let catalog = ["plans", "nas"].contains(&s.field);
            if let Some(key) = s.key.filter(|_| !catalog) {
                let by_key = |l: &str| {
                    l.trim_start().starts_with("Index Cond:")
                        && l.match_indices(&format!("{key} = "))
                            .any(|(i, _)| !l[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
                };
                if !rows.iter().any(|(l,)| by_key(l)) {
                    bad.push(format!("not searched by {key}"));
                }
            }
            if !bad.is_empty() {
                let plan: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
                bad.push(format!("plan:\n{}", plan.join("\n")));
            }
        }
    }
    (!bad.is_empty()).then(|| format!("{} {}: {}\n  {}", s.field, s.what, s.sql.text(), bad.join("\n  ")))
}

async fn run_on(db: Db) {
    db.migrate().await.unwrap();
    let n = N.fetch_add(1, Ordering::Relaxed);
    let slug = format!("plans-{}-{n}", std::process::id());
    let ids = seed_tenant(&db, &format!("{slug}-a"), ROWS).await;
    seed_tenant(&db, &format!("{slug}-b"), ROWS / 5).await;
    if db.backend() == Backend::Postgres {
        // Autovacuum would have gathered statistics on a live database.
        exec(&db, "ANALYZE").await;
    }
    let tables: Vec<String> = match db.backend() {
        Backend::Sqlite => {
            let rows: Vec<(String,)> = query_as(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'",
            )
            .fetch_all(&db)
            .await
            .unwrap();
            rows.into_iter().map(|r| r.0).collect()
        }
        Backend::Postgres => Vec::new(),
    };
    let mut all = statements(db.backend(), &ids).unwrap();
    assert!(all.len() > 500, "{} statements", all.len());
    all.extend(report_statements(db.backend(), &ids));
    let mut failures = Vec::new();
    for s in &all {
        if let Some(f) = check(&db, &tables, s).await {
            failures.push(f);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} list statements are not served by an index ({:?}):\n\n{}",
        failures.len(),
        all.len(),
        db.backend(),
        failures.join("\n\n")
    );
}

#[tokio::test]
async fn every_list_statement_is_served_by_an_index_on_sqlite() {
    let dir =
        std::env::temp_dir().join(format!("isp-plans-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    std::fs::create_dir_all(&dir).unwrap();
    let db = Db::connect(&format!("sqlite://{}?mode=rwc", dir.join("p.db").display()), 4).await.unwrap();
    run_on(db).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn every_list_statement_is_served_by_an_index_on_postgres() {
    let Some(url) = std::env::var("TEST_DATABASE_URL").ok().filter(|u| u.starts_with("postgres")) else {
        eprintln!("skipped: needs TEST_DATABASE_URL");
        return;
    };
    // A schema of its own, dropped afterwards: the seeded rows stay out of the shared database.
    let admin = Db::connect(&url, 1).await.unwrap();
    let schema = format!("isp_plans_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
    exec(&admin, &format!("CREATE SCHEMA {schema}")).await;
    // The search extensions belong in public, where every schema finds them.
    exec(&admin, "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public").await;
    exec(&admin, "CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public").await;
    let sep = if url.contains('?') { '&' } else { '?' };
    let scoped = format!("{url}{sep}options=-c%20search_path%3D{schema},public");
    let db = Db::connect(&scoped, 4).await.unwrap();
    run_on(db.clone()).await;
    db.close().await;
    exec(&admin, &format!("DROP SCHEMA {schema} CASCADE")).await;
}

#[test]
fn filters_combine_and_every_list_has_statements() {
    let ids = Ids {
        tenant: 1,
        customer: 2,
        subscription: 3,
        plan: 4,
        nas: 5,
        user: 6,
        billing_run: 7,
        invoice: 8,
        payment: 9,
    };
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let all = statements(backend, &ids).unwrap();
        for field in super::FIELDS {
            assert!(all.iter().any(|s| s.field == *field), "no statements for {field}");
        }
        // Subscriptions: 5 filters with 3, 2, 2, 2, 2 choices, 3 sorts x 4 pages, plus a count.
        let subs = all.iter().filter(|s| s.field == "subscriptions" && s.key.is_none()).count();
        assert_eq!(subs, 3 * 2 * 2 * 2 * 2 * (3 * 4 + 1));
        // And the lookups by id the loaders and workflows make.
        assert_eq!(all.iter().filter(|s| s.what.starts_with("lookup ")).count(), 16);
        assert!(all.iter().filter(|s| s.what.starts_with("lookup ")).all(|s| s.key.is_some()));
        // The helpdesk's filter seeks (an agent's, a priority's, a category's, the breached).
        let seeks = all.iter().filter(|s| s.field == "tickets" && s.key.is_some()).count();
        assert!(seeks > 50, "{seeks} ticket statements must seek by their filter");
        let _: &Sql<'static> = &all[0].sql;
    }
}
