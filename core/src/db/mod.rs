//! The database layer: one storage surface over SQLite (direct rusqlite connections) or
//! PostgreSQL (sqlx), running the same SQL.
//!
//! - [`Sql`], [`query`] and [`query_as`] build statements with `$1, $2 ...` placeholders and
//!   bound [`Value`]s;
//! - [`Executor`] runs them on the pool (`&Db`) or in a transaction (`&mut Tx`);
//! - [`FromRow`] / [`Decode`] read rows into Rust types (`#[derive(FromRow)]` for structs,
//!   by column name; tuples by position);
//! - [`Db::migrate`] applies `migrations/<backend>/`.
//!
//! Booleans are stored as integer 0/1 on both backends, instants as Unix milliseconds and
//! calendar dates as `YYYY-MM-DD` text. Every statement is counted ([`Db::statements`];
//! `BEGIN` and `COMMIT` are not): tests use the count to prove that a page costs a fixed
//! number of statements.

mod exec;
mod migrate;
mod postgres;
mod row;
mod sql;
mod sqlite;
mod text_enum;
mod tx;
mod value;

pub use exec::Executor;
pub use isp_core_derive::FromRow;
pub use row::{map_columns, Column, Columns, Decode, DecodeError, FromRow, Row};
/// The SQLite driver, for the benchmarks' hand-written SQL ([`Db::with_sqlite`]).
pub use rusqlite;
pub use sql::{like_pattern, query, query_as, Query, QueryAs, Sql};
pub use sqlite::READ_BUDGET;
pub use tx::Tx;
pub use value::{Arg, Encode, Value};

use crate::error::{CoreError, CoreResult};
use sqlite::Sqlite;
use std::future::Future;
use std::pin::Pin;
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
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    pool: Pool,
    statements: Arc<AtomicU64>,
}

enum Pool {
    Sqlite(Arc<Sqlite>),
    Postgres(sqlx::PgPool),
}

/// A boxed future borrowing a transaction, for [`Db::bulk`].
pub type TxFuture<'t, T> = Pin<Box<dyn Future<Output = CoreResult<T>> + Send + 't>>;

impl Db {
    /// Opens a pool of at most `max_connections` for `url` (`sqlite://...` or `postgres://...`).
    ///
    /// SQLite connections run in WAL mode with foreign keys on and a busy timeout, so readers
    /// never block the writer and writers of other processes queue instead of failing.
    pub async fn connect(url: &str, max_connections: u32) -> CoreResult<Self> {
        let statements = Arc::new(AtomicU64::new(0));
        let (backend, pool) = if url.starts_with("sqlite:") {
            let u = url.to_string();
            let s = statements.clone();
            let pool = tokio::task::spawn_blocking(move || Sqlite::open(&u, max_connections, s)).await??;
            pool.spawn_checkpointer();
            (Backend::Sqlite, Pool::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .map_err(|e| CoreError::internal_from(format!("cannot open database {}", redact(url)), e))?;
            (Backend::Postgres, Pool::Postgres(pool))
        } else {
            return Err(CoreError::validation("databaseUrl", "must start with sqlite: or postgres:"));
        };
        Ok(Self { inner: Arc::new(Inner { backend, pool, statements }) })
    }

    /// The SQL engine behind this pool.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// Statements executed through this handle (and its clones) so far.
    pub fn statements(&self) -> u64 {
        self.inner.statements.load(Ordering::Relaxed)
    }

    /// SQLite reads that ran past [`READ_BUDGET`] and finished on a blocking thread.
    pub fn offloaded_reads(&self) -> u64 {
        match &self.inner.pool {
            Pool::Sqlite(s) => s.offloaded.load(Ordering::Relaxed),
            Pool::Postgres(_) => 0,
        }
    }

    /// Starts a transaction.
    ///
    /// On SQLite it is `BEGIN IMMEDIATE` after this process's earlier writers are done: the
    /// write lock is taken up front, so a transaction that reads and then writes never fails
    /// with SQLITE_BUSY because another writer committed after its read.
    pub async fn begin(&self) -> CoreResult<Tx> {
        match &self.inner.pool {
            Pool::Sqlite(s) => {
                let (lease, gate) = s.begin().await?;
                Ok(Tx::sqlite(lease, gate, s.clone(), self.inner.statements.clone()))
            }
            Pool::Postgres(p) => {
                let tx = p.begin().await.map_err(|e| postgres::pg_err(e, "BEGIN"))?;
                Ok(Tx::postgres(tx, self.inner.statements.clone()))
            }
        }
    }

    /// Runs `work` in one transaction and commits it when `work` succeeds: for bulk writers
    /// (a billing run's chunk, an accounting batch) that would hold an async worker thread
    /// for too long. On SQLite the transaction runs on a blocking thread, where its statements
    /// never wait, so `work`'s future completes when first polled; on PostgreSQL it runs here.
    pub async fn bulk<T, F>(&self, work: F) -> CoreResult<T>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t mut Tx) -> TxFuture<'t, T> + Send + 'static,
    {
        self.bulk_then(true, work).await
    }

    /// [`Db::bulk`], rolled back at the end instead of committed (a preview).
    pub async fn bulk_rolled_back<T, F>(&self, work: F) -> CoreResult<T>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t mut Tx) -> TxFuture<'t, T> + Send + 'static,
    {
        self.bulk_then(false, work).await
    }

    async fn bulk_then<T, F>(&self, commit: bool, work: F) -> CoreResult<T>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t mut Tx) -> TxFuture<'t, T> + Send + 'static,
    {
        let mut tx = self.begin().await?;
        match self.inner.backend {
            Backend::Sqlite => {
                tokio::task::spawn_blocking(move || {
                    let v = run_ready(work(&mut tx))?;
                    if commit {
                        run_ready(tx.commit())?;
                    }
                    Ok(v)
                })
                .await?
            }
            Backend::Postgres => {
                let v = work(&mut tx).await?;
                if commit {
                    tx.commit().await?;
                }
                Ok(v)
            }
        }
    }

    /// Every row of a query on any connection ([`Executor::fetch_all`] on the pool).
    pub async fn fetch_all<T: FromRow + Send + 'static>(&self, sql: &str, args: &[Value<'_>]) -> CoreResult<Vec<T>> {
        Executor::fetch_all(self, sql, args).await
    }

    /// The first row of a query, if any.
    pub async fn fetch_optional<T: FromRow + Send + 'static>(
        &self,
        sql: &str,
        args: &[Value<'_>],
    ) -> CoreResult<Option<T>> {
        Executor::fetch_optional(self, sql, args).await
    }

    /// Executes a statement outside a transaction; returns the rows it changed.
    pub async fn execute(&self, sql: &str, args: &[Value<'_>]) -> CoreResult<u64> {
        Executor::execute(self, sql, args).await
    }

    /// Checks that the database answers (for `/readyz`).
    pub async fn ping(&self) -> CoreResult<()> {
        let _: Option<(i64,)> = self.fetch_optional("SELECT 1", &[]).await?;
        Ok(())
    }

    /// Runs `f` on one of the pool's SQLite connections on this thread (`None` on PostgreSQL):
    /// for the benchmarks' hand-written SQL, which must use the connections the server uses.
    pub async fn with_sqlite<T>(&self, f: impl FnOnce(&rusqlite::Connection) -> T) -> CoreResult<Option<T>> {
        match &self.inner.pool {
            Pool::Sqlite(s) => s.with_conn(f).await.map(Some),
            Pool::Postgres(_) => Ok(None),
        }
    }

    /// Writes a consistent copy of the SQLite database to `dest` while it stays in use
    /// (`VACUUM INTO`: one read transaction, so writers go on; the copy is compact). `dest`
    /// must not exist. VALIDATION on PostgreSQL, which is backed up with its own tools.
    pub async fn backup_sqlite(&self, dest: &std::path::Path) -> CoreResult<()> {
        if dest.exists() {
            return Err(CoreError::validation("output", format!("{} exists; not overwriting it", dest.display())));
        }
        let target = dest.to_string_lossy().to_string();
        self.with_sqlite(move |c| c.execute("VACUUM INTO ?1", [target]))
            .await?
            .ok_or_else(|| CoreError::validation("database", "PostgreSQL is backed up with pg_dump (see the README)"))?
            .map_err(|e| CoreError::internal_from(format!("backing up to {}", dest.display()), e))?;
        Ok(())
    }

    /// The sqlx pool on PostgreSQL (`None` on SQLite), for the benchmarks' hand-written SQL.
    pub fn pg_pool(&self) -> Option<&sqlx::PgPool> {
        match &self.inner.pool {
            Pool::Postgres(p) => Some(p),
            Pool::Sqlite(_) => None,
        }
    }

    /// The SQLite file (`None` on PostgreSQL).
    pub fn sqlite_file(&self) -> Option<&std::path::Path> {
        match &self.inner.pool {
            Pool::Sqlite(s) => Some(s.path()),
            Pool::Postgres(_) => None,
        }
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        if let Pool::Postgres(p) = &self.inner.pool {
            p.close().await;
        }
    }
}

/// Drives a future that never waits (statements of a SQLite transaction) to completion on
/// this thread.
pub(crate) fn run_ready<T>(f: impl Future<Output = CoreResult<T>>) -> CoreResult<T> {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => Err(CoreError::internal("a statement of a bulk SQLite transaction waited")),
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
mod tests;
