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
);

/// The PostgreSQL migrations: the same versions, differing only where the dialects do.
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
