//! Transactions: `BEGIN IMMEDIATE` on a direct SQLite connection (after this process's earlier
//! writers, see [`super::sqlite`]) or a sqlx PostgreSQL transaction, with actions to run once
//! it has committed.

use super::sqlite::{sqlite_err, Lease, Sqlite};
use super::{Backend, Executor, FromRow, Value};
use crate::error::{CoreError, CoreResult};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// An open transaction. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx {
    state: State,
    pub(crate) statements: Arc<AtomicU64>,
    after_commit: Vec<Box<dyn FnOnce() + Send>>,
}

enum State {
    Sqlite { lease: Lease, _gate: tokio::sync::OwnedMutexGuard<()>, pool: Arc<Sqlite> },
    Postgres(Box<sqlx::Transaction<'static, sqlx::Postgres>>),
    Done,
}

impl Tx {
    pub(crate) fn sqlite(
        lease: Lease,
        gate: tokio::sync::OwnedMutexGuard<()>,
        pool: Arc<Sqlite>,
        statements: Arc<AtomicU64>,
    ) -> Self {
        Self { state: State::Sqlite { lease, _gate: gate, pool }, statements, after_commit: Vec::new() }
    }

    pub(crate) fn postgres(tx: sqlx::Transaction<'static, sqlx::Postgres>, statements: Arc<AtomicU64>) -> Self {
        Self { state: State::Postgres(Box::new(tx)), statements, after_commit: Vec::new() }
    }

    /// The SQL engine it runs on.
    pub fn backend(&self) -> Backend {
        match self.state {
            State::Postgres(_) => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }

    /// The SQLite connection, when it runs on one.
    pub(crate) fn sqlite_conn(&self) -> Option<&rusqlite::Connection> {
        match &self.state {
            State::Sqlite { lease, .. } => Some(lease.conn()),
            _ => None,
        }
    }

    /// The PostgreSQL connection (an error on SQLite or after the end).
    pub(crate) fn pg_conn(&mut self) -> CoreResult<&mut sqlx::PgConnection> {
        match &mut self.state {
            State::Postgres(tx) => Ok(&mut *tx),
            _ => Err(CoreError::internal("the transaction has ended")),
        }
    }

    /// Every row of a query ([`Executor::fetch_all`] on this transaction).
    pub async fn fetch_all<T: FromRow + Send + 'static>(
        &mut self,
        sql: &str,
        args: &[Value<'_>],
    ) -> CoreResult<Vec<T>> {
        Executor::fetch_all(self, sql, args).await
    }

    /// The first row of a query, if any.
    pub async fn fetch_optional<T: FromRow + Send + 'static>(
        &mut self,
        sql: &str,
        args: &[Value<'_>],
    ) -> CoreResult<Option<T>> {
        Executor::fetch_optional(self, sql, args).await
    }

    /// Executes a statement; returns the rows it changed.
    pub async fn execute(&mut self, sql: &str, args: &[Value<'_>]) -> CoreResult<u64> {
        Executor::execute(self, sql, args).await
    }

    /// Runs `f` after the transaction commits (never when it rolls back): publishing events,
    /// waking the device-job worker.
    pub fn after_commit(&mut self, f: impl FnOnce() + Send + 'static) {
        self.after_commit.push(Box::new(f));
    }

    /// Commits, then runs the [`Tx::after_commit`] actions in order.
    pub async fn commit(mut self) -> CoreResult<()> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Sqlite { lease, _gate, pool } => {
                if let Err(e) = lease.conn().execute_batch("COMMIT") {
                    let _ = lease.conn().execute_batch("ROLLBACK");
                    return Err(sqlite_err(e, "COMMIT"));
                }
                pool.commits.fetch_add(1, Ordering::Relaxed);
            }
            State::Postgres(tx) => {
                tx.commit().await.map_err(|e| super::postgres::pg_err(e, "COMMIT"))?;
            }
            State::Done => return Err(CoreError::internal("the transaction has ended")),
        }
        for f in std::mem::take(&mut self.after_commit) {
            f();
        }
        Ok(())
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if let State::Sqlite { lease, .. } = &self.state {
            if !lease.conn().is_autocommit() {
                if let Err(e) = lease.conn().execute_batch("ROLLBACK") {
                    tracing::warn!(error = %e, "rollback failed; the connection is closed");
                }
            }
        }
        // A sqlx transaction rolls back when dropped.
    }
}
