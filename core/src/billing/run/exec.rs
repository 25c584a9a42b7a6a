//! Where a billing run's statements execute: a sqlx transaction (PostgreSQL, and in-memory
//! SQLite) or a direct SQLite connection inside `BEGIN IMMEDIATE` ([`crate::lite`]). The
//! chunk logic is written once against [`InsertRows`] (the shared [`Exec`] of
//! [`crate::db_exec`] plus multi-row inserts), with the same SQL text on both; only how rows
//! reach the database differs:
//!
//! - sqlx: multi-row `INSERT ... VALUES (...), (...)` of up to [`SQLX_ROWS`] rows, one round
//!   trip each (PostgreSQL `$n`, SQLite anonymous `?`: see [`values_sql`]);
//! - direct SQLite: cached prepared statements of [`LITE_ROWS`] rows, bound by position and
//!   executed in place (no parsing after the first chunk, no channel hop, no named-parameter
//!   lookups).
//!
//! The direct connection never waits, so its futures complete on their first poll and the
//! logic runs on the blocking thread of [`crate::lite::Lite::write`] through [`run_ready`].

use crate::db::Backend;
pub(super) use crate::db_exec::{run_ready, Exec, LiteExec, SqlxExec, V};
use crate::error::{CoreError, CoreResult};
use crate::lite::{lite_err, Conn};
use sqlx::any::AnyArguments;
use sqlx::Any;
use std::collections::HashMap;
use std::fmt::Write as _;

/// Rows per multi-row INSERT through sqlx: 13 placeholders a row stays far below SQLite's
/// 32,766 and PostgreSQL's 65,535 bound parameters.
pub(super) const SQLX_ROWS: usize = 1000;

/// Rows per INSERT on the direct SQLite path. Binding is positional (`?`), so a wide
/// statement costs nothing extra to bind, and SQLite sets up the statement (cursors on the
/// table, its indexes and its foreign keys' parents) once per statement rather than once per
/// row. Measured over 100k invoices (chunks of 2,000, CPU s): 1 row 1.95, 32 rows 1.46,
/// 64 rows 1.35, 128 rows 1.38, 256 rows 1.37 with more memory for the cached statements.
const LITE_ROWS: usize = 64;

/// A multi-row INSERT: `head`, one `row` template per row (each `?` the row's next value;
/// constants of the chunk written into it as SQL literals), then `tail`. `returning`
/// (`RETURNING id, <key>`) is what a multi-row insert needs to learn its ids; a single-row
/// one asks SQLite for the last rowid instead.
pub(super) struct Insert {
    pub(super) head: &'static str,
    pub(super) row: String,
    pub(super) tail: &'static str,
    pub(super) returning: &'static str,
}

/// The multi-row inserts of a billing run, on either executor.
pub(super) trait InsertRows: Exec {
    /// Inserts `rows` (values for the `?` of `ins.row`, in order); returns the rows inserted.
    async fn insert<const N: usize>(&mut self, ins: &Insert, rows: &[[V<'_>; N]]) -> CoreResult<u64>;

    /// Inserts `rows` and returns their new ids in row order. Column `key` of each row must be
    /// unique among the rows: multi-row `RETURNING` does not promise the order of its rows, so
    /// ids are matched by it.
    async fn insert_ids<const N: usize>(
        &mut self,
        ins: &Insert,
        rows: &[[V<'_>; N]],
        key: usize,
    ) -> CoreResult<Vec<i64>>;
}

fn add_values<'q, const N: usize>(a: &mut AnyArguments<'q>, rows: &[[V<'q>; N]]) -> CoreResult<()> {
    for v in rows.iter().flatten() {
        v.add_to(a)?;
    }
    Ok(())
}

impl InsertRows for SqlxExec<'_> {
    async fn insert<const N: usize>(&mut self, ins: &Insert, rows: &[[V<'_>; N]]) -> CoreResult<u64> {
        let mut n = 0;
        for batch in rows.chunks(SQLX_ROWS) {
            let sql = values_sql(self.backend, ins.head, &ins.row, batch.len(), ins.tail);
            let mut a = AnyArguments::default();
            add_values(&mut a, batch)?;
            n += sqlx::query_with::<Any, _>(&sql, a).execute(self.tx.x()).await?.rows_affected();
        }
        Ok(n)
    }

    async fn insert_ids<const N: usize>(
        &mut self,
        ins: &Insert,
        rows: &[[V<'_>; N]],
        key: usize,
    ) -> CoreResult<Vec<i64>> {
        let mut ids = Vec::with_capacity(rows.len());
        for batch in rows.chunks(SQLX_ROWS) {
            let mut sql = values_sql(self.backend, ins.head, &ins.row, batch.len(), ins.tail);
            sql.push_str(ins.returning);
            let mut a = AnyArguments::default();
            add_values(&mut a, batch)?;
            let by_key: HashMap<i64, i64> = sqlx::query_as_with::<Any, (i64, i64), _>(&sql, a)
                .fetch_all(self.tx.x())
                .await?
                .into_iter()
                .map(|(id, k)| (k, id))
                .collect();
            ids.extend(ids_by_key(batch, key, &by_key)?);
        }
        Ok(ids)
    }
}

/// Rows per INSERT on the direct path; `ISP_BILLING_LITE_ROWS` overrides it for measurements.
fn lite_rows() -> usize {
    static ROWS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *ROWS.get_or_init(|| {
        std::env::var("ISP_BILLING_LITE_ROWS").ok().and_then(|v| v.parse().ok()).filter(|n| *n > 0).unwrap_or(LITE_ROWS)
    })
}

/// Inserts `rows` through cached prepared statements of up to [`lite_rows`] rows each,
/// anonymous `?` bound by position; with `ids`, collects the `RETURNING id, key` rows.
fn lite_insert<const N: usize>(
    conn: &Conn<'_>,
    ins: &Insert,
    rows: &[[V<'_>; N]],
    mut ids: Option<&mut HashMap<i64, i64>>,
) -> CoreResult<u64> {
    let conn = conn.raw();
    let per = lite_rows();
    let mut changed = 0;
    for batch in rows.chunks(per) {
        let mut sql = values_sql(Backend::Sqlite, ins.head, &ins.row, batch.len(), ins.tail);
        if ids.is_some() {
            sql.push_str(ins.returning);
        }
        let mut st = conn.prepare_cached(&sql).map_err(lite_err)?;
        if st.parameter_count() != N * batch.len() {
            return Err(CoreError::internal(format!(
                "statement takes {} parameters, {} given",
                st.parameter_count(),
                N * batch.len()
            )));
        }
        for (i, v) in batch.iter().flatten().enumerate() {
            v.bind_at(&mut st, i + 1)?;
        }
        match ids.as_mut() {
            None => changed += st.raw_execute().map_err(lite_err)? as u64,
            Some(by_key) => {
                let mut out = st.raw_query();
                while let Some(r) = out.next().map_err(lite_err)? {
                    let (id, key): (i64, i64) = (r.get(0).map_err(lite_err)?, r.get(1).map_err(lite_err)?);
                    by_key.insert(key, id);
                    changed += 1;
                }
            }
        }
    }
    Ok(changed)
}

impl InsertRows for LiteExec<'_, '_> {
    async fn insert<const N: usize>(&mut self, ins: &Insert, rows: &[[V<'_>; N]]) -> CoreResult<u64> {
        lite_insert(self.conn, ins, rows, None)
    }

    async fn insert_ids<const N: usize>(
        &mut self,
        ins: &Insert,
        rows: &[[V<'_>; N]],
        key: usize,
    ) -> CoreResult<Vec<i64>> {
        let mut by_key = HashMap::with_capacity(rows.len());
        lite_insert(self.conn, ins, rows, Some(&mut by_key))?;
        ids_by_key(rows, key, &by_key)
    }
}

/// The ids of `rows` in row order, from `RETURNING id, key` pairs keyed by column `key`.
fn ids_by_key<const N: usize>(rows: &[[V<'_>; N]], key: usize, by_key: &HashMap<i64, i64>) -> CoreResult<Vec<i64>> {
    rows.iter()
        .map(|row| {
            let V::I(k) = row[key] else { return Err(CoreError::internal("an insert keyed by a non-integer")) };
            by_key.get(&k).copied().ok_or_else(|| CoreError::internal("an inserted row went missing"))
        })
        .collect()
}

/// A multi-row statement: `head`, then `rows` copies of the `row` template joined by commas,
/// then `tail`; every `?` in `row` is the next bound value. PostgreSQL gets `$1, $2 ...`;
/// SQLite keeps the anonymous `?`, because for named parameters sqlx asks SQLite for each
/// parameter's name, a linear search in SQLite, which makes a statement with thousands of
/// `$n` cost quadratic time (a 500-row INSERT spent ~20 ms there, a whole run 25 s).
pub(super) fn values_sql(backend: Backend, head: &str, row: &str, rows: usize, tail: &str) -> String {
    let mut s = String::with_capacity(head.len() + tail.len() + rows * (row.len() + 48));
    s.push_str(head);
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        if backend == Backend::Sqlite {
            s.push_str(row);
            continue;
        }
        for c in row.chars() {
            if c == '?' {
                n += 1;
                let _ = write!(s, "${n}");
            } else {
                s.push(c);
            }
        }
    }
    s.push_str(tail);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_row_values_are_numbered_row_by_row() {
        let head = "INSERT INTO t (a, b, c) VALUES ";
        assert_eq!(
            values_sql(Backend::Postgres, head, "(?, 'x', ?)", 2, " RETURNING a"),
            "INSERT INTO t (a, b, c) VALUES ($1, 'x', $2), ($3, 'x', $4) RETURNING a"
        );
        assert_eq!(values_sql(Backend::Sqlite, "V ", "(?, ?)", 2, ""), "V (?, ?), (?, ?)");
    }
}
