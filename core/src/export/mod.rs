//! Bulk export of the tenant's lists and reports as CSV or XLSX, in constant memory.
//!
//! An export is a [`Table`]: typed columns and rows that a [`table::Source`] yields in chunks.
//! Lists read their rows by keyset pagination through the very statements of the GraphQL lists
//! (`store::*::list`, `billing::*::list`), with the same filters and role checks, so an export
//! shows what the list shows. [`write`] feeds the chunks to a [`csv::CsvWriter`] or an
//! [`xlsx::XlsxWriter`] on a blocking thread, into any `Write`: the HTTP route
//! (`GET /exports/{kind}.{csv|xlsx}`), the CLI (`isp export`) and the benchmark share this path.
//!
//! Every export is a [`Kind`] in [`KINDS`]: the list exports in [`lists`], the report exports
//! in [`reports`]. **To add a report**, write one function in `reports.rs` that checks nothing
//! but builds its rows (see `reports::revenue_by_plan`) and add one [`Kind`] line to
//! [`reports::REPORTS`]: the HTTP route, the CLI, the OpenAPI document and the role check pick it
//! up from there.

pub mod csv;
pub mod lists;
pub mod reports;
pub mod table;
#[cfg(test)]
mod tests;
pub mod xlsx;

use crate::auth::{Action, Actor};
use crate::db::Db;
use crate::error::{CoreError, CoreResult};
use crate::Ctx;
use chrono::NaiveDate;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::str::FromStr;
pub use table::{Cell, Column, ColumnType, Row, Table};

/// A file format of exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180 CSV.
    Csv,
    /// Office Open XML workbook.
    Xlsx,
}

impl Format {
    /// The format of a file extension (`csv`, `xlsx`).
    pub fn from_ext(ext: &str) -> Option<Format> {
        match ext.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            _ => None,
        }
    }

    /// File extension.
    pub fn ext(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }

    /// Media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// The future an export's [`Kind::open`] returns.
pub type TableFuture<'a> = Pin<Box<dyn Future<Output = CoreResult<Table>> + Send + 'a>>;

/// Builds a kind's table for a caller already checked against [`Kind::action`], with filters
/// already checked against [`Kind::filters`].
pub type OpenFn = for<'a> fn(&'a Ctx, &'a Actor, &'a Filters) -> TableFuture<'a>;

/// One exportable list or report.
#[derive(Clone, Copy)]
pub struct Kind {
    /// Name in URLs and the CLI (`invoices`, `revenue-by-plan`).
    pub name: &'static str,
    /// What it holds, one line.
    pub about: &'static str,
    /// What the caller must be allowed: the same action as the GraphQL list or report.
    pub action: Action,
    /// The filters it takes (the GraphQL list's arguments, by the same names).
    pub filters: &'static [&'static str],
    /// Builds the table.
    pub open: OpenFn,
}

/// Every export: the lists, then the reports.
pub fn kinds() -> impl Iterator<Item = &'static Kind> {
    lists::LISTS.iter().chain(reports::REPORTS.iter())
}

/// The export named `name`.
pub fn kind(name: &str) -> Option<&'static Kind> {
    kinds().find(|k| k.name == name)
}

/// Filter arguments by name as given (query string, CLI), each possibly repeated.
#[derive(Debug, Clone, Default)]
pub struct Filters(Vec<(String, String)>);

impl Filters {
    /// Filters from (name, value) pairs; empty values count as absent.
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Self(pairs.into_iter().filter(|(_, v)| !v.trim().is_empty()).collect())
    }

    /// VALIDATION naming the first filter that `allowed` does not list.
    pub fn check(&self, allowed: &[&str]) -> CoreResult<()> {
        match self.0.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            Some((k, _)) if allowed.is_empty() => Err(CoreError::validation(k, "this export takes no filters")),
            Some((k, _)) => Err(CoreError::validation(
                k,
                format!("is not a filter of this export (filters: {})", allowed.join(", ")),
            )),
            None => Ok(()),
        }
    }

    /// Every value of `key`, comma-separated values split.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// The value of `key`; VALIDATION when it is given twice.
    pub fn one(&self, key: &str) -> CoreResult<Option<&str>> {
        let mut it = self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.trim());
        let first = it.next();
        if it.next().is_some() {
            return Err(CoreError::validation(key, "give it once"));
        }
        Ok(first)
    }

    /// `key` parsed as a value of an enum or other type that parses with a [`CoreError`].
    pub fn parse<T: FromStr<Err = CoreError>>(&self, key: &str) -> CoreResult<Option<T>> {
        self.one(key)?.map(|v| v.parse::<T>().map_err(|e| refield(e, key))).transpose()
    }

    /// Every value of `key` parsed, or None when it is absent.
    pub fn list<T: FromStr<Err = CoreError>>(&self, key: &str) -> CoreResult<Option<Vec<T>>> {
        let vals = self.all(key);
        if vals.is_empty() {
            return Ok(None);
        }
        vals.into_iter().map(|v| v.parse::<T>().map_err(|e| refield(e, key))).collect::<CoreResult<_>>().map(Some)
    }

    /// `key` as `true` or `false`.
    pub fn bool(&self, key: &str) -> CoreResult<Option<bool>> {
        match self.one(key)? {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(CoreError::validation(key, format!("must be true or false, not {v:?}"))),
        }
    }

    /// `key` as a `YYYY-MM-DD` date.
    pub fn date(&self, key: &str) -> CoreResult<Option<NaiveDate>> {
        self.one(key)?
            .map(|v| {
                NaiveDate::parse_from_str(v, "%Y-%m-%d")
                    .map_err(|_| CoreError::validation(key, format!("must be a date YYYY-MM-DD, not {v:?}")))
            })
            .transpose()
    }

    /// `key` as the id of an object of GraphQL type `ty`: its global ID, or the plain number.
    pub fn id(&self, key: &str, ty: &str) -> CoreResult<Option<i64>> {
        let Some(v) = self.one(key)? else { return Ok(None) };
        match global_id(v) {
            Some((t, n)) if t.is_empty() || t == ty => Ok(Some(n)),
            Some((t, _)) => Err(CoreError::validation(key, format!("is the ID of a {t}, not of a {ty}"))),
            None => Err(CoreError::validation(key, "is not a valid ID")),
        }
    }

    /// `key` as a global ID of any type (type name, row id).
    pub fn any_id(&self, key: &str) -> CoreResult<Option<(String, i64)>> {
        self.one(key)?.map(|v| global_id(v).ok_or_else(|| CoreError::validation(key, "is not a valid ID"))).transpose()
    }
}

/// The error `e` about filter `key` (values parse with their GraphQL field name).
fn refield(e: CoreError, key: &str) -> CoreError {
    match e {
        CoreError::Validation { message, .. } => CoreError::validation(key, message),
        e => e,
    }
}

/// The (type, id) of a GraphQL global ID (`base64url("Type:42")`, as the API encodes them);
/// a plain number is an id of any type (type `""`, which [`Filters::id`] accepts too).
fn global_id(v: &str) -> Option<(String, i64)> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine;
    if let Ok(n) = v.parse::<i64>() {
        return (n > 0).then(|| (String::new(), n));
    }
    let raw = String::from_utf8(B64.decode(v).ok()?).ok()?;
    let (ty, n) = raw.split_once(':')?;
    Some((ty.to_string(), n.parse().ok()?))
}

/// The table of export `name` for `actor`: NOT_FOUND for an unknown export, FORBIDDEN when the
/// actor's role may not read the list or report, VALIDATION for a bad filter. Nothing is read
/// before these checks pass, so the HTTP route answers them with a status, not a broken file.
pub async fn open(ctx: &Ctx, actor: &Actor, name: &str, filters: &Filters) -> CoreResult<Table> {
    let kind = kind(name).ok_or(CoreError::NotFound("export"))?;
    actor.require(kind.action)?;
    filters.check(kind.filters)?;
    (kind.open)(ctx, actor, filters).await
}

/// The file name of an export: `{kind}-{YYYY-MM-DD}.{ext}` (the caller's date).
pub fn file_name(kind: &str, today: NaiveDate, format: Format) -> String {
    format!("{kind}-{}.{}", today.format("%Y-%m-%d"), format.ext())
}

/// Writes `table` as `format` into `out`, reading its chunks on this thread; returns `out`
/// (flushed) and the number of rows. Call it on a blocking thread of a tokio runtime (see [`write`]).
pub fn write_blocking<W: Write + Send>(db: &Db, mut table: Table, format: Format, out: W) -> CoreResult<(W, u64)> {
    let rt = tokio::runtime::Handle::current();
    let mut n = 0u64;
    match format {
        Format::Csv => {
            let mut w = csv::CsvWriter::new(out, &table.columns, &table.currency)?;
            while let Some(rows) = rt.block_on(table.source.next_chunk(db))? {
                w.rows(&rows)?;
                n += rows.len() as u64;
            }
            let mut out = w.finish()?;
            out.flush().map_err(|e| CoreError::internal_from("writing CSV", e))?;
            Ok((out, n))
        }
        Format::Xlsx => {
            let mut w = xlsx::XlsxWriter::new(&table.name, &table.columns, &table.currency)?;
            while let Some(rows) = rt.block_on(table.source.next_chunk(db))? {
                w.rows(&rows)?;
                n += rows.len() as u64;
            }
            let mut out = w.finish(out)?;
            // The zip writer does not flush: a buffered output (the HTTP body) must be.
            out.flush().map_err(|e| CoreError::internal_from("writing XLSX", e))?;
            Ok((out, n))
        }
    }
}

/// [`write_blocking`] on a blocking thread.
pub async fn write<W: Write + Send + 'static>(db: Db, table: Table, format: Format, out: W) -> CoreResult<(W, u64)> {
    tokio::task::spawn_blocking(move || write_blocking(&db, table, format, out))
        .await
        .map_err(|e| CoreError::internal(format!("export task failed: {e}")))?
}

/// The tenant's currency, for the money columns.
async fn currency(ctx: &Ctx, tenant_id: i64) -> CoreResult<String> {
    Ok(crate::store::tenants::get(&ctx.db, tenant_id).await?.currency)
}
