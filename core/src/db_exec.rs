//! Where a bulk writer's statements execute: a sqlx transaction (PostgreSQL, and in-memory
//! SQLite) or a direct SQLite connection inside `BEGIN IMMEDIATE` ([`crate::lite`]). The
//! billing run and the RADIUS accounting batch write their logic once, against [`Exec`],
//! with the same SQL text on both.
//!
//! The direct connection never waits, so its futures complete on their first poll and the
//! logic runs on the blocking thread of [`crate::lite::Lite::write`] through [`run_ready`].

use crate::db::{Backend, Tx};
use crate::error::{CoreError, CoreResult};
use crate::lite::{lite_err, Conn};
use crate::store::Arg;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, Arguments};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// A bound value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum V<'a> {
    I(i64),
    OptI(Option<i64>),
    T(&'a str),
    OptT(Option<&'a str>),
}

impl<'a> V<'a> {
    /// Appends the value to sqlx arguments.
    pub(crate) fn add_to(self, a: &mut AnyArguments<'a>) -> CoreResult<()> {
        match self {
            V::I(i) => a.add(i),
            V::OptI(i) => a.add(i),
            V::T(t) => a.add(t),
            V::OptT(t) => a.add(t),
        }
        .map_err(|e| CoreError::internal(format!("cannot bind an argument: {e}")))
    }

    /// Binds the value to parameter `i` (1-based) of a rusqlite statement.
    pub(crate) fn bind_at(self, st: &mut rusqlite::Statement<'_>, i: usize) -> CoreResult<()> {
        match self {
            V::I(x) => st.raw_bind_parameter(i, x),
            V::OptI(x) => st.raw_bind_parameter(i, x),
            V::T(x) => st.raw_bind_parameter(i, x),
            V::OptT(x) => st.raw_bind_parameter(i, x),
        }
        .map_err(lite_err)
    }

    /// The value as a store argument; `None` for NULL.
    fn to_arg(self) -> Option<Arg> {
        match self {
            V::I(i) | V::OptI(Some(i)) => Some(Arg::I(i)),
            V::T(t) | V::OptT(Some(t)) => Some(Arg::T(t.to_string())),
            V::OptI(None) | V::OptT(None) => None,
        }
    }
}

/// Runs statements inside one transaction. `args` binds `$n` (or anonymous `?`) from
/// [`Arg`]s; the `_v` methods bind `$n` by its number from [`V`]s, NULLs included.
pub(crate) trait Exec {
    /// Placeholder style of the statements.
    fn backend(&self) -> Backend;

    /// Whether rows read for update must be locked (`FOR UPDATE`): PostgreSQL. SQLite's
    /// `BEGIN IMMEDIATE` already excludes other writers.
    fn lock_rows(&self) -> bool {
        self.backend() == Backend::Postgres
    }

    /// Every row of a query.
    async fn fetch_all<T>(&mut self, sql: &str, args: &[Arg]) -> CoreResult<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, AnyRow> + Send + Unpin;

    /// The first row of a query, if any.
    async fn fetch_optional<T>(&mut self, sql: &str, args: &[Arg]) -> CoreResult<Option<T>>
    where
        T: for<'r> sqlx::FromRow<'r, AnyRow> + Send + Unpin;

    /// Executes a statement; returns the rows changed.
    async fn execute(&mut self, sql: &str, args: &[Arg]) -> CoreResult<u64>;

    /// Every row of a query whose `$n` take `args` (no NULLs on the direct path).
    async fn fetch_all_v<T>(&mut self, sql: &str, args: &[V<'_>]) -> CoreResult<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, AnyRow> + Send + Unpin;

    /// Executes a statement whose `$n` take `args`; returns the rows changed.
    async fn execute_v(&mut self, sql: &str, args: &[V<'_>]) -> CoreResult<u64>;
}

/// A sqlx transaction.
pub(crate) struct SqlxExec<'t> {
    pub(crate) tx: &'t mut Tx,
    pub(crate) backend: Backend,
}

fn arguments<'q>(args: &'q [Arg]) -> CoreResult<AnyArguments<'q>> {
    let mut a = AnyArguments::default();
    for v in args {
        match v {
            Arg::I(i) => a.add(*i),
            Arg::T(t) => a.add(t.as_str()),
        }
        .map_err(|e| CoreError::internal(format!("cannot bind an argument: {e}")))?;
    }
    Ok(a)
}

/// sqlx arguments of `vals`, in order.
pub(crate) fn v_arguments<'q>(vals: &[V<'q>]) -> CoreResult<AnyArguments<'q>> {
    let mut a = AnyArguments::default();
    for v in vals {
        v.add_to(&mut a)?;
    }
    Ok(a)
}

impl Exec for SqlxExec<'_> {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn fetch_all<T>(&mut self, sql: &str, args: &[Arg]) -> CoreResult<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, AnyRow> + Send + Unpin,
    {
        Ok(sqlx::query_as_with::<Any, T, _>(sql, arguments(args)?).fetch_all(self.tx.x()).await?)
    }

    async fn fetch_optional<T>(&mut self, sql: &str, args: &[Arg]) -> CoreResult<Option<T>>
    where
        T: for<'r> sqlx::FromRow<'r, AnyRow> + Send + Unpin,
    {
        Ok(sqlx::query_as_with::<Any, T, _>(sql, arguments(args)?).fetch_optional(self.tx.x()).await?)
    }

    async fn execute(&mut self, sql: &str, args: &[Arg]) -> CoreResult<u64> {
        Ok(sqlx::query_with::<Any, _>(sql, arguments(args)?).execute(self.tx.x()).await?.rows_affected())
    }

    async fn fetch_all_v<T>(&mut self, sql: &str, args: &[V<'_>]) -> CoreResult<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, AnyRow> + Send + Unpin,
    {
        Ok(sqlx::query_as_with::<Any, T, _>(sql, v_arguments(args)?).fetch_all(self.tx.x()).await?)
    }

    async fn execute_v(&mut self, sql: &str, args: &[V<'_>]) -> CoreResult<u64> {
        Ok(sqlx::query_with::<Any, _>(sql, v_arguments(args)?).execute(self.tx.x()).await?.rows_affected())
    }
}

/// A direct SQLite connection inside a `Lite::write` transaction.
pub(crate) struct LiteExec<'c, 'a> {
    pub(crate) conn: &'c Conn<'a>,
}

impl Exec for LiteExec<'_, '_> {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn fetch_all<T>(&mut self, sql: &str, args: &[Arg]) -> CoreResult<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, AnyRow> + Send + Unpin,
    {
        self.conn.fetch_all(sql, args)
    }

    async fn fetch_optional<T>(&mut self, sql: &str, args: &[Arg]) -> CoreResult<Option<T>>
    where
        T: for<'r> sqlx::FromRow<'r, AnyRow> + Send + Unpin,
    {
        self.conn.fetch_optional(sql, args)
    }

    async fn execute(&mut self, sql: &str, args: &[Arg]) -> CoreResult<u64> {
        self.conn.execute(sql, args)
    }

    async fn fetch_all_v<T>(&mut self, sql: &str, args: &[V<'_>]) -> CoreResult<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, AnyRow> + Send + Unpin,
    {
        let args: Vec<Arg> = args
            .iter()
            .map(|v| v.to_arg())
            .collect::<Option<_>>()
            .ok_or_else(|| CoreError::internal("a NULL argument in a read on the direct SQLite path"))?;
        self.conn.fetch_all(sql, &args)
    }

    async fn execute_v(&mut self, sql: &str, args: &[V<'_>]) -> CoreResult<u64> {
        let mut st = self.conn.raw().prepare_cached(sql).map_err(lite_err)?;
        bind_numbered(&mut st, args)?;
        Ok(st.raw_execute().map_err(lite_err)? as u64)
    }
}

/// Binds `$n` by its number (SQLite numbers named parameters by first appearance).
fn bind_numbered(st: &mut rusqlite::Statement<'_>, args: &[V<'_>]) -> CoreResult<()> {
    let want = st.parameter_count();
    for i in 1..=want {
        let n = st
            .parameter_name(i)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| (1..=args.len()).contains(n))
            .ok_or_else(|| CoreError::internal(format!("unsupported placeholder {:?}", st.parameter_name(i))))?;
        args[n - 1].bind_at(st, i)?;
    }
    if want != args.len() {
        return Err(CoreError::internal(format!("statement takes {want} parameters, {} given", args.len())));
    }
    Ok(())
}

/// Drives a future that never waits (one running on [`LiteExec`]) to completion on this thread.
pub(crate) fn run_ready<T>(f: impl Future<Output = CoreResult<T>>) -> CoreResult<T> {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => Err(CoreError::internal("a direct SQLite statement waited")),
    }
}
