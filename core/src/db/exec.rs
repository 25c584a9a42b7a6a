//! The one way statements run: [`Executor`], implemented by the pool (`&Db`, one statement
//! on any connection) and by a transaction (`&mut Tx`), each over both backends.

use super::postgres::{arguments, decode_rows, pg_err};
use super::row::FromRow;
use super::sqlite::{self, RunError};
use super::tx::Tx;
use super::value::Value;
use super::{Backend, Db, Pool};
use crate::error::CoreResult;
use std::future::Future;
use std::sync::atomic::Ordering;

/// Where a statement runs: `&Db` or `&mut Tx`. Store functions take `impl Executor` when
/// they run one statement, so callers choose between the pool and their transaction.
pub trait Executor: Send + Sized {
    /// The SQL engine behind it.
    fn backend(&self) -> Backend;

    /// Every row of a query.
    fn fetch_all<T: FromRow + Send + 'static>(
        self,
        sql: &str,
        args: &[Value<'_>],
    ) -> impl Future<Output = CoreResult<Vec<T>>> + Send;

    /// The first row of a query, if any.
    fn fetch_optional<T: FromRow + Send + 'static>(
        self,
        sql: &str,
        args: &[Value<'_>],
    ) -> impl Future<Output = CoreResult<Option<T>>> + Send;

    /// Executes a statement; returns the rows it changed.
    fn execute(self, sql: &str, args: &[Value<'_>]) -> impl Future<Output = CoreResult<u64>> + Send;
}

impl Executor for &Db {
    fn backend(&self) -> Backend {
        self.inner.backend
    }

    async fn fetch_all<T: FromRow + Send + 'static>(self, sql: &str, args: &[Value<'_>]) -> CoreResult<Vec<T>> {
        match &self.inner.pool {
            Pool::Sqlite(s) => s.fetch(sql, args, None).await,
            Pool::Postgres(p) => {
                self.inner.statements.fetch_add(1, Ordering::Relaxed);
                let rows = sqlx::query_with(sql, arguments(args)?).fetch_all(p).await.map_err(|e| pg_err(e, sql))?;
                decode_rows(&rows, sql)
            }
        }
    }

    async fn fetch_optional<T: FromRow + Send + 'static>(self, sql: &str, args: &[Value<'_>]) -> CoreResult<Option<T>> {
        match &self.inner.pool {
            Pool::Sqlite(s) => Ok(s.fetch(sql, args, Some(1)).await?.into_iter().next()),
            Pool::Postgres(p) => {
                self.inner.statements.fetch_add(1, Ordering::Relaxed);
                let row =
                    sqlx::query_with(sql, arguments(args)?).fetch_optional(p).await.map_err(|e| pg_err(e, sql))?;
                Ok(decode_rows(row.as_slice(), sql)?.into_iter().next())
            }
        }
    }

    async fn execute(self, sql: &str, args: &[Value<'_>]) -> CoreResult<u64> {
        match &self.inner.pool {
            Pool::Sqlite(s) => s.write(sql, args).await,
            Pool::Postgres(p) => {
                self.inner.statements.fetch_add(1, Ordering::Relaxed);
                let r = sqlx::query_with(sql, arguments(args)?).execute(p).await.map_err(|e| pg_err(e, sql))?;
                Ok(r.rows_affected())
            }
        }
    }
}

impl Executor for &mut Tx {
    fn backend(&self) -> Backend {
        Tx::backend(self)
    }

    async fn fetch_all<T: FromRow + Send + 'static>(self, sql: &str, args: &[Value<'_>]) -> CoreResult<Vec<T>> {
        if let Some(c) = self.sqlite_conn() {
            return sqlite::fetch_rows(c, &self.statements, sql, args, None, false).map_err(|e| e.into_core(sql));
        }
        self.statements.fetch_add(1, Ordering::Relaxed);
        let c = self.pg_conn()?;
        let rows = sqlx::query_with(sql, arguments(args)?).fetch_all(c).await.map_err(|e| pg_err(e, sql))?;
        decode_rows(&rows, sql)
    }

    async fn fetch_optional<T: FromRow + Send + 'static>(self, sql: &str, args: &[Value<'_>]) -> CoreResult<Option<T>> {
        if let Some(c) = self.sqlite_conn() {
            let rows = sqlite::fetch_rows(c, &self.statements, sql, args, Some(1), false);
            return Ok(rows.map_err(|e: RunError| e.into_core(sql))?.into_iter().next());
        }
        self.statements.fetch_add(1, Ordering::Relaxed);
        let c = self.pg_conn()?;
        let row = sqlx::query_with(sql, arguments(args)?).fetch_optional(c).await.map_err(|e| pg_err(e, sql))?;
        Ok(decode_rows(row.as_slice(), sql)?.into_iter().next())
    }

    async fn execute(self, sql: &str, args: &[Value<'_>]) -> CoreResult<u64> {
        if let Some(c) = self.sqlite_conn() {
            return sqlite::execute(c, &self.statements, sql, args).map_err(|e| e.into_core(sql));
        }
        self.statements.fetch_add(1, Ordering::Relaxed);
        let c = self.pg_conn()?;
        let r = sqlx::query_with(sql, arguments(args)?).execute(c).await.map_err(|e| pg_err(e, sql))?;
        Ok(r.rows_affected())
    }
}
