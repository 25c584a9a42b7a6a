//! Migrations: one folder of SQL scripts per backend, applied in order, each in its own
//! transaction, recorded in `schema_migrations`.

use super::{Db, Pool};
use crate::error::{CoreError, CoreResult};
use sqlx::{Connection, Executor as _};

/// Migrations of one backend: (version, name, SQL).
pub type Migrations = &'static [(i64, &'static str, &'static str)];

macro_rules! migrations {
    ($dir:literal: $(($v:literal, $name:literal, $file:literal)),+ $(,)?) => {
        &[$(($v, $name, include_str!(concat!("../../../migrations/", $dir, "/", $file)))),+]
    };
}

/// The SQLite migrations.
pub const SQLITE: Migrations = migrations!("sqlite":
    (1, "foundation", "0001_foundation.sql"),
    (2, "radius", "0002_radius.sql"),
    (3, "billing", "0003_billing.sql"),
    (4, "devices", "0004_devices.sql"),
    (5, "billing_branding", "0005_billing_branding.sql"),
    (6, "billing_runs", "0006_billing_runs.sql"),
    (7, "radius_stale_sweep", "0007_radius_stale_sweep.sql"),
    (8, "search", "0008_search.sql"),
    (9, "report_aggregates", "0009_report_aggregates.sql"),
    (10, "status_indexes", "0010_status_indexes.sql"),
    (11, "payment_gateways", "0011_payment_gateways.sql"),
    (12, "helpdesk", "0012_helpdesk.sql"),
    (13, "notifications", "0013_notifications.sql"),
    (14, "events", "0014_events.sql"),
    (15, "imports", "0015_imports.sql"),
    (16, "documents", "0016_documents.sql"),
    (17, "subscription_history", "0017_subscription_history.sql"),
    (18, "login_failures", "0018_login_failures.sql"),
    (19, "import_history", "0019_import_history.sql"),
    (21, "ticket_filter_indexes", "0021_ticket_filter_indexes.sql"),
    (22, "ticket_status_indexes", "0022_ticket_status_indexes.sql"),
);

/// The PostgreSQL migrations: the same versions, differing only where the dialects do.
///
/// Versions need not be contiguous: each is applied once, in this order, and recorded by
/// number (there is no 0009 or 0010 in these lists).
pub const POSTGRES: Migrations = migrations!("postgres":
    (1, "foundation", "0001_foundation.sql"),
    (2, "radius", "0002_radius.sql"),
    (3, "billing", "0003_billing.sql"),
    (4, "devices", "0004_devices.sql"),
    (5, "billing_branding", "0005_billing_branding.sql"),
    (6, "billing_runs", "0006_billing_runs.sql"),
    (7, "radius_stale_sweep", "0007_radius_stale_sweep.sql"),
    (8, "search", "0008_search.sql"),
    (9, "report_aggregates", "0009_report_aggregates.sql"),
    (10, "status_indexes", "0010_status_indexes.sql"),
    (11, "payment_gateways", "0011_payment_gateways.sql"),
    (12, "helpdesk", "0012_helpdesk.sql"),
    (13, "notifications", "0013_notifications.sql"),
    (14, "events", "0014_events.sql"),
    (15, "imports", "0015_imports.sql"),
    (16, "documents", "0016_documents.sql"),
    (17, "subscription_history", "0017_subscription_history.sql"),
    (18, "login_failures", "0018_login_failures.sql"),
    (19, "import_history", "0019_import_history.sql"),
    (21, "ticket_filter_indexes", "0021_ticket_filter_indexes.sql"),
    (22, "ticket_status_indexes", "0022_ticket_status_indexes.sql"),
);

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations \
    (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)";

impl Db {
    /// Applies the migrations this database has not seen yet, each in its own transaction;
    /// returns their names.
    ///
    /// On PostgreSQL an advisory lock serialises concurrent migrators (several processes or
    /// parallel tests starting against one database); on SQLite `BEGIN IMMEDIATE` does.
    pub async fn migrate(&self) -> CoreResult<Vec<String>> {
        match &self.inner.pool {
            Pool::Sqlite(s) => {
                let lease = s.lease().await?;
                let s = s.clone();
                tokio::task::spawn_blocking(move || {
                    let conn = lease.conn();
                    conn.execute_batch(CREATE_TABLE).map_err(|e| CoreError::internal_from("schema_migrations", e))?;
                    let mut done = Vec::new();
                    for (version, name, sql) in SQLITE {
                        let applied: bool = conn
                            .query_row(
                                "SELECT COUNT(*) > 0 FROM schema_migrations WHERE version = ?1",
                                [version],
                                |r| r.get(0),
                            )
                            .map_err(|e| CoreError::internal_from("schema_migrations", e))?;
                        if !applied {
                            s.migrate_script(&lease, *version, name, sql)?;
                            done.push(format!("{version:04}_{name}"));
                        }
                    }
                    Ok(done)
                })
                .await?
            }
            Pool::Postgres(p) => {
                let mut conn = p.acquire().await.map_err(|e| CoreError::internal_from("migrations", e))?;
                sqlx::query("SELECT pg_advisory_lock(7405001)")
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| CoreError::internal_from("migration lock", e))?;
                let result = apply_pg(&mut conn).await;
                sqlx::query("SELECT pg_advisory_unlock(7405001)")
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| CoreError::internal_from("migration lock", e))?;
                result
            }
        }
    }
}

async fn apply_pg(conn: &mut sqlx::PgConnection) -> CoreResult<Vec<String>> {
    let err = |what: &str, e: sqlx::Error| CoreError::internal_from(what.to_string(), e);
    conn.execute(CREATE_TABLE).await.map_err(|e| err("schema_migrations", e))?;
    let applied: Vec<(i64,)> = sqlx::query_as("SELECT version FROM schema_migrations")
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| err("schema_migrations", e))?;
    let mut done = Vec::new();
    for (version, name, sql) in POSTGRES {
        if applied.iter().any(|(v,)| v == version) {
            continue;
        }
        let what = format!("migration {version} {name} failed");
        let mut tx = conn.begin().await.map_err(|e| err(&what, e))?;
        sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(|e| err(&what, e))?;
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(version)
            .bind(*name)
            .bind(env!("CARGO_PKG_VERSION"))
            .execute(&mut *tx)
            .await
            .map_err(|e| err(&what, e))?;
        tx.commit().await.map_err(|e| err(&what, e))?;
        done.push(format!("{version:04}_{name}"));
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows as they could stand before 0011: tenant 1 has a webhook secret and got event `ev1`
    /// at `/paypal`, then the same signed body again at `/paypal2` and `/PayPal` (two more
    /// payments); tenant 2 has no secret and an event of the same id.
    const BEFORE_0011: &str = "
        INSERT INTO tenants (id, slug, name, currency, timezone, created_at) VALUES
            (1, 'm11-old', 'Old', 'USD', 'UTC', 0), (2, 'm11-other', 'Other', 'USD', 'UTC', 0);
        INSERT INTO customers (id, tenant_id, account_number, name, status, created_at, updated_at)
            VALUES (1, 1, 'C000001', 'Payer', 'ACTIVE', 0, 0);
        INSERT INTO payments (id, tenant_id, customer_id, method, amount_minor, receipt_number, received_on, created_at) VALUES
            (1, 1, 1, 'GATEWAY', 1234, 'R1', '2024-01-01', 10), (2, 1, 1, 'GATEWAY', 1234, 'R2', '2024-01-01', 20),
            (3, 1, 1, 'GATEWAY', 1234, 'R3', '2024-01-01', 30);
        INSERT INTO billing_settings (tenant_id, webhook_secret_enc, updated_at) VALUES (1, 'enc:v1:the-secret', 0);
        INSERT INTO payment_gateway_events (tenant_id, provider, event_id, payment_id, received_at) VALUES
            (1, 'paypal', 'ev1', 1, 10), (1, 'paypal2', 'ev1', 2, 20), (1, 'PayPal', 'ev1', 3, 30),
            (1, 'stripe', 'evt_9', NULL, 40), (1, 'Acme', 'ev2', NULL, 50), (2, 'paypal', 'ev1', NULL, 60);";

    type Rows = Vec<(i64, String, String, Option<i64>)>;

    const EVENTS: &str =
        "SELECT tenant_id, provider, event_id, payment_id FROM payment_gateway_events ORDER BY tenant_id, event_id";
    const REPLAYS: &str = "SELECT tenant_id, provider, event_id, payment_id FROM payment_gateway_event_replays \
        ORDER BY tenant_id, received_at";
    const GATEWAYS: &str = "SELECT tenant_id, provider, scheme, secret_enc, created_at FROM payment_gateways \
        ORDER BY tenant_id, provider";
    const AGAIN: &str = "INSERT INTO payment_gateway_events (tenant_id, provider, event_id, received_at) \
        VALUES (1, 'other', 'ev1', 70)";

    fn row(t: i64, p: &str, e: &str, pay: Option<i64>) -> (i64, String, String, Option<i64>) {
        (t, p.into(), e.into(), pay)
    }

    /// What 0011 must leave: first arrivals in place, replays set aside with their payments,
    /// gateways for the providers that delivered first, and ids unique per tenant.
    fn check(events: Rows, replays: Rows, gateways: Vec<(i64, String, String, String, i64)>, again_failed: bool) {
        assert_eq!(
            events,
            vec![
                row(1, "paypal", "ev1", Some(1)),
                row(1, "Acme", "ev2", None),
                row(1, "stripe", "evt_9", None),
                row(2, "paypal", "ev1", None)
            ]
        );
        assert_eq!(replays, vec![row(1, "paypal2", "ev1", Some(2)), row(1, "PayPal", "ev1", Some(3))]);
        let g = |p: &str, s: &str, at: i64| (1, p.to_string(), s.to_string(), "enc:v1:the-secret".to_string(), at);
        assert_eq!(
            gateways,
            vec![g("acme", "HMAC_SHA256", 50), g("paypal", "HMAC_SHA256", 10), g("stripe", "STRIPE", 40)]
        );
        assert!(again_failed, "an event id arrives once per tenant");
    }

    #[test]
    fn sqlite_0011_keeps_events_sets_replays_aside_and_carries_gateways_over() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for (v, _, sql) in SQLITE.iter().filter(|m| m.0 < 11) {
            conn.execute_batch(sql).unwrap_or_else(|e| panic!("migration {v}: {e}"));
        }
        conn.execute_batch(BEFORE_0011).unwrap();
        let (_, _, sql) = SQLITE.iter().find(|m| m.0 == 11).unwrap();
        conn.execute_batch(sql).unwrap();
        let rows = |sql: &str| -> Rows {
            let mut st = conn.prepare(sql).unwrap();
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let mut st = conn.prepare(GATEWAYS).unwrap();
        let gateways = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        check(rows(EVENTS), rows(REPLAYS), gateways, conn.execute(AGAIN, []).is_err());
    }

    #[tokio::test]
    async fn postgres_0011_keeps_events_sets_replays_aside_and_carries_gateways_over() {
        let Some(url) = std::env::var("TEST_DATABASE_URL").ok().filter(|u| u.starts_with("postgres")) else {
            return;
        };
        // A schema of its own, first on the search path (extensions stay in public).
        let schema = format!("m0011_{}_{}", std::process::id(), rand::random::<u32>());
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        let setup = format!("CREATE SCHEMA {schema}; SET search_path TO {schema}, public");
        sqlx::raw_sql(&setup).execute(&mut conn).await.unwrap();
        let result = async {
            for (v, _, sql) in POSTGRES.iter().filter(|m| m.0 < 11) {
                sqlx::raw_sql(sql).execute(&mut conn).await.unwrap_or_else(|e| panic!("migration {v}: {e}"));
            }
            sqlx::raw_sql(BEFORE_0011).execute(&mut conn).await.unwrap();
            let (_, _, sql) = POSTGRES.iter().find(|m| m.0 == 11).unwrap();
            sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
            let events: Rows = sqlx::query_as(EVENTS).fetch_all(&mut conn).await.unwrap();
            let replays: Rows = sqlx::query_as(REPLAYS).fetch_all(&mut conn).await.unwrap();
            let gateways = sqlx::query_as(GATEWAYS).fetch_all(&mut conn).await.unwrap();
            let again_failed = sqlx::query(AGAIN).execute(&mut conn).await.is_err();
            (events, replays, gateways, again_failed)
        }
        .await;
        sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE")).execute(&mut conn).await.unwrap();
        let (events, replays, gateways, again_failed) = result;
        check(events, replays, gateways, again_failed);
    }
}
