//! The one storage surface: a pool over SQLite or PostgreSQL running the same SQL.
//!
//! Queries use `$1, $2` placeholders and portable types (i64, text, blob). Booleans are
//! stored as integer 0/1 because sqlx's `Any` driver cannot decode SQLite booleans.
//! Every statement goes through [`Db::x`] or [`Tx::x`], which count it: tests use the count
//! to prove that DataLoader batching keeps a page at a fixed number of statements.

use crate::error::{CoreError, CoreResult};
use crate::lite::Lite;
use sqlx::any::AnyPoolOptions;
use sqlx::AnyConnection;
use sqlx::{AnyPool, Connection, Executor};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Which SQL engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file (the default).
    Sqlite,
    /// PostgreSQL server (scale-out).
    Postgres,
}

/// Handle to the database: cheap to clone, shared by every part of the process.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    statements: Arc<AtomicU64>,
    lite: Option<Arc<Lite>>,
}

/// Settings of every SQLite connection (sqlx's and [`Lite`]'s). Reads go through a 256 MiB
/// memory map of the file rather than `pread` copies into each connection's page cache.
pub(crate) const SQLITE_PRAGMAS: &str = "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
    PRAGMA synchronous = NORMAL; PRAGMA mmap_size = 268435456; PRAGMA cache_size = -16384;";

/// Migrations of one backend: (version, name, SQL).
type Migrations = &'static [(i64, &'static str, &'static str)];

const SQLITE_MIGRATIONS: Migrations = &[
    (1, "foundation", include_str!("../../migrations/sqlite/0001_foundation.sql")),
    (2, "radius", include_str!("../../migrations/sqlite/0002_radius.sql")),
    (3, "billing", include_str!("../../migrations/sqlite/0003_billing.sql")),
    (4, "devices", include_str!("../../migrations/sqlite/0004_devices.sql")),
    (5, "billing_branding", include_str!("../../migrations/sqlite/0005_billing_branding.sql")),
    (6, "billing_runs", include_str!("../../migrations/sqlite/0006_billing_runs.sql")),
    (7, "radius_stale_sweep", include_str!("../../migrations/sqlite/0007_radius_stale_sweep.sql")),
];
const POSTGRES_MIGRATIONS: Migrations = &[
    (1, "foundation", include_str!("../../migrations/postgres/0001_foundation.sql")),
    (2, "radius", include_str!("../../migrations/postgres/0002_radius.sql")),
    (3, "billing", include_str!("../../migrations/postgres/0003_billing.sql")),
    (4, "devices", include_str!("../../migrations/postgres/0004_devices.sql")),
    (5, "billing_branding", include_str!("../../migrations/postgres/0005_billing_branding.sql")),
    (6, "billing_runs", include_str!("../../migrations/postgres/0006_billing_runs.sql")),
    (7, "radius_stale_sweep", include_str!("../../migrations/postgres/0007_radius_stale_sweep.sql")),
];

impl Db {
    /// Opens a pool for `url` (`sqlite://...` or `postgres://...`).
    ///
    /// SQLite connections run in WAL mode with foreign keys on and a busy timeout, so
    /// readers never block the writer and short write transactions queue instead of failing.
    pub async fn connect(url: &str, max_connections: u32) -> CoreResult<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(CoreError::validation("databaseUrl", "must start with sqlite: or postgres:"));
        };
        let mut opts = AnyPoolOptions::new().max_connections(max_connections).acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            // A local file cannot drop the connection; pinging before every statement only costs CPU.
            opts = opts.test_before_acquire(false).after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute(SQLITE_PRAGMAS).await?;
                    Ok(())
                })
            });
        }
        let pool = opts
            .connect(url)
            .await
            .map_err(|e| CoreError::internal(format!("cannot open database {}: {e}", redact(url))))?;
        let statements = Arc::new(AtomicU64::new(0));
        let lite = match crate::lite::sqlite_path(url) {
            // The sqlx pool has created the file and set WAL mode, which is persistent.
            Some(path) if backend == Backend::Sqlite => Some(Arc::new(Lite::new(&path, statements.clone())?)),
            _ => None,
        };
        Ok(Self { pool, backend, statements, lite })
    }

    /// Direct SQLite connections for hot paths (`None` on PostgreSQL and in-memory SQLite).
    pub fn lite(&self) -> Option<&Arc<Lite>> {
        self.lite.as_ref()
    }

    /// The SQL engine behind this pool.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool as an executor for exactly one statement (the call is counted).
    pub fn x(&self) -> &AnyPool {
        self.statements.fetch_add(1, Ordering::Relaxed);
        &self.pool
    }

    /// Statements executed through this handle (and its clones) so far.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Starts a transaction; statements inside are counted too.
    ///
    /// On SQLite it is `BEGIN IMMEDIATE`: the write lock is taken up front, so a transaction
    /// that reads and then writes waits its turn (busy timeout) instead of failing with
    /// SQLITE_BUSY when another writer committed after its read.
    pub async fn begin(&self) -> CoreResult<Tx> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(Tx { tx, statements: self.statements.clone() })
    }

    /// Checks that the database answers (for `/readyz`).
    pub async fn ping(&self) -> CoreResult<()> {
        sqlx::query("SELECT 1").execute(self.x()).await?;
        Ok(())
    }

    /// Applies the migrations this database has not seen yet, each in its own transaction.
    ///
    /// On PostgreSQL an advisory lock serialises concurrent migrators (several processes or
    /// parallel tests starting against one database).
    pub async fn migrate(&self) -> CoreResult<Vec<String>> {
        let migrations = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        };
        let mut conn = self.pool.acquire().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_lock(7405001)").execute(&mut *conn).await?;
        }
        let result = apply(&mut conn, migrations).await;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_unlock(7405001)").execute(&mut *conn).await?;
        }
        result
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

async fn apply(conn: &mut AnyConnection, migrations: Migrations) -> CoreResult<Vec<String>> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )
    .await?;
    let applied: Vec<(i64,)> = sqlx::query_as("SELECT version FROM schema_migrations").fetch_all(&mut *conn).await?;
    let mut done = Vec::new();
    for (version, name, sql) in migrations {
        if applied.iter().any(|(v,)| v == version) {
            continue;
        }
        let mut tx = conn.begin().await?;
        sqlx::raw_sql(sql)
            .execute(&mut *tx)
            .await
            .map_err(|e| CoreError::internal(format!("migration {version} {name} failed: {e}")))?;
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(version)
            .bind(*name)
            .bind(env!("CARGO_PKG_VERSION"))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        done.push(format!("{version:04}_{name}"));
    }
    Ok(done)
}

/// An open transaction whose statements are counted like the pool's.
pub struct Tx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    statements: Arc<AtomicU64>,
}

impl Tx {
    /// The transaction as an executor for exactly one statement (the call is counted).
    pub fn x(&mut self) -> &mut AnyConnection {
        self.statements.fetch_add(1, Ordering::Relaxed);
        &mut self.tx
    }

    /// Commits the transaction.
    pub async fn commit(self) -> CoreResult<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

/// The URL without its password, for logs and errors.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Converts a stored 0/1 flag to a bool.
pub fn flag(v: i64) -> bool {
    v != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("sqlite://./data/isp.db"), "sqlite://./data/isp.db");
    }
}
