//! Bulk rows: many-row INSERTs through `isp_core::db`, written in large transactions
//! ([`Db::bulk`]) while the next chunk is being generated.
//!
//! On SQLite each statement binds anonymous `?` placeholders by position, 64 rows at a time
//! (the billing run measured that width as the fastest, and the prepared statement is cached
//! per width); on PostgreSQL `$n` placeholders, up to 1,000 rows (and at most 65,535
//! parameters) per statement, with `synchronous_commit` off for the load's transactions.

use anyhow::{Context, Result};
use isp_core::db::{query_as, Arg, Backend, Db, Tx};
use std::collections::BTreeMap;
use tokio::task::JoinHandle;

/// A table and the columns the fixture writes, in the order rows give them.
pub struct Table {
    /// Table name.
    pub name: &'static str,
    /// Column names.
    pub cols: &'static [&'static str],
}

/// Tables parents first: a chunk writes its tables in this order, so every row's foreign
/// keys point at rows of earlier chunks or earlier in the same transaction.
const ORDER: &[&str] = &[
    "customers",
    "subscriptions",
    "subscription_history",
    "billing_runs",
    "invoices",
    "invoice_lines",
    "billed_periods",
    "charges",
    "payments",
    "payment_allocations",
    "payment_gateway_events",
];

/// Rows a chunk collects before it is written: large transactions write each index page
/// they touch once, where small ones rewrite the pages every month's rows land on again.
const CHUNK_ROWS: usize = 200_000;
/// Page cache of the loading connection on SQLite, KiB: room for a chunk's dirty pages, so
/// they are not spilled to the WAL before the commit.
const LOAD_CACHE_KIB: i64 = 256 * 1024;
/// Rows per statement on SQLite.
const LITE_ROWS: usize = 64;
/// Rows per statement on PostgreSQL (fewer for wide tables).
const PG_ROWS: usize = 1_000;

/// Rows of one table waiting in a chunk (values flattened row after row).
struct Pending {
    table: &'static Table,
    values: Vec<Arg>,
}

/// Collects rows and writes them in chunks, one chunk in flight while the next is built.
/// Chunks commit in the order they were filled, and inside a chunk parent tables go first
/// ([`ORDER`]), so rows queued after their parents satisfy every foreign key.
pub struct Writer {
    db: Db,
    pending: Vec<Pending>,
    rows: usize,
    inflight: Option<JoinHandle<Result<()>>>,
    /// Rows written (or queued) per table.
    pub counts: BTreeMap<&'static str, u64>,
}

impl Writer {
    /// A writer on `db`.
    pub fn new(db: &Db) -> Self {
        Self { db: db.clone(), pending: Vec::new(), rows: 0, inflight: None, counts: BTreeMap::new() }
    }

    /// Queues one row of `table`; its values must match `table.cols`.
    pub fn push(&mut self, table: &'static Table, row: impl IntoIterator<Item = Arg>) {
        let at = match self.pending.iter().position(|p| std::ptr::eq(p.table, table)) {
            Some(i) => i,
            None => {
                self.pending.push(Pending { table, values: Vec::with_capacity(CHUNK_ROWS * table.cols.len() / 2) });
                self.pending.len() - 1
            }
        };
        let values = &mut self.pending[at].values;
        let before = values.len();
        values.extend(row);
        debug_assert_eq!(values.len() - before, table.cols.len(), "a row of {} has the wrong width", table.name);
        self.rows += 1;
        *self.counts.entry(table.name).or_default() += 1;
    }

    /// Writes the queued rows once there are enough of them for a chunk.
    pub async fn tick(&mut self) -> Result<()> {
        if self.rows >= CHUNK_ROWS {
            self.flush().await?;
        }
        Ok(())
    }

    /// Sends what is queued as one transaction, after the previous one has committed.
    pub async fn flush(&mut self) -> Result<()> {
        if let Some(prev) = self.inflight.take() {
            prev.await.context("a bulk insert task panicked")??;
        }
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut chunk = std::mem::take(&mut self.pending);
        chunk.sort_by_key(|p| ORDER.iter().position(|t| *t == p.table.name).unwrap_or(ORDER.len()));
        self.rows = 0;
        let db = self.db.clone();
        self.inflight = Some(tokio::spawn(async move {
            let backend = db.backend();
            let failed = std::sync::Arc::new(std::sync::Mutex::new(""));
            let at = failed.clone();
            let r = db.bulk(move |tx| Box::pin(async move { write_chunk(tx, backend, &chunk, &at).await })).await;
            let table = *failed.lock().unwrap_or_else(|p| p.into_inner());
            r.with_context(|| format!("bulk insert into {table}"))
        }));
        Ok(())
    }

    /// Writes everything queued and waits until it has committed.
    pub async fn finish(&mut self) -> Result<()> {
        self.flush().await?;
        self.flush().await
    }
}

/// Writes a chunk's rows; the table being written is left in `at` when a statement fails.
async fn write_chunk(
    tx: &mut Tx,
    backend: Backend,
    chunk: &[Pending],
    at: &std::sync::Mutex<&'static str>,
) -> isp_core::CoreResult<()> {
    match backend {
        // Only this load's transactions: a crash loses the fixture, which is rebuilt anyway.
        Backend::Postgres => tx.execute("SET LOCAL synchronous_commit = off", &[]).await?,
        // Only the loader's own connections (the server opens its own).
        Backend::Sqlite => {
            tx.execute(&format!("PRAGMA cache_size = -{LOAD_CACHE_KIB}"), &[]).await?
            // (No `temp_store = MEMORY`: once the report triggers have opened the connection's
            // temporary database, SQLite refuses to change it inside a transaction.)
        }
    };
    for p in chunk {
        *at.lock().unwrap_or_else(|p| p.into_inner()) = p.table.name;
        insert_rows(tx, backend, p.table, &p.values).await?;
    }
    Ok(())
}

/// Writes `values` (rows of `table` flattened) as many-row INSERTs in transaction `tx`.
pub async fn insert_rows(tx: &mut Tx, backend: Backend, table: &Table, values: &[Arg]) -> isp_core::CoreResult<()> {
    let width = table.cols.len();
    let per = match backend {
        Backend::Sqlite => LITE_ROWS,
        Backend::Postgres => PG_ROWS.min(65_535 / width),
    };
    for rows in values.chunks(per * width) {
        let sql = insert_sql(backend, table, rows.len() / width);
        tx.execute(&sql, rows).await?;
    }
    Ok(())
}

/// The loading connection's settings for a bulk transaction (see [`write_chunk`]).
pub async fn prepare_load(tx: &mut Tx, backend: Backend) -> isp_core::CoreResult<()> {
    match backend {
        Backend::Postgres => tx.execute("SET LOCAL synchronous_commit = off", &[]).await?,
        Backend::Sqlite => tx.execute(&format!("PRAGMA cache_size = -{LOAD_CACHE_KIB}"), &[]).await?,
    };
    Ok(())
}

/// `INSERT INTO t (a, b) VALUES (?, ?), (?, ?)` for `n` rows (`$1, $2 ...` on PostgreSQL).
pub fn insert_sql(backend: Backend, t: &Table, n: usize) -> String {
    let width = t.cols.len();
    let mut sql = format!("INSERT INTO {} ({}) VALUES ", t.name, t.cols.join(", "));
    for r in 0..n {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..width {
            if c > 0 {
                sql.push_str(", ");
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    sql.push('$');
                    sql.push_str(&(r * width + c + 1).to_string());
                }
            }
        }
        sql.push(')');
    }
    sql
}

/// The id the next row of `table` gets when ids are given explicitly: one past the largest.
pub async fn next_id(db: &Db, table: &str) -> Result<i64> {
    let (max,): (Option<i64>,) = query_as(&format!("SELECT MAX(id) FROM {table}")).fetch_one(db).await?;
    Ok(max.unwrap_or(0) + 1)
}

/// Moves PostgreSQL's identity sequences past the ids written explicitly (a no-op on SQLite,
/// where the next id is always one past the largest).
pub async fn fix_sequences(db: &Db, tables: &[&str]) -> Result<()> {
    if db.backend() != Backend::Postgres {
        return Ok(());
    }
    for t in tables {
        let sql = format!("SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT MAX(id) FROM {t}))");
        let _: Option<(i64,)> = query_as(&sql).fetch_optional(db).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Table = Table { name: "t", cols: &["a", "b"] };

    #[test]
    fn statements_have_one_placeholder_per_value() {
        assert_eq!(insert_sql(Backend::Sqlite, &T, 2), "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)");
        assert_eq!(insert_sql(Backend::Postgres, &T, 2), "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)");
    }
}
