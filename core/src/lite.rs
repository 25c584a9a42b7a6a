//! Direct SQLite connections for the hot paths.
//!
//! sqlx's SQLite driver runs every connection on its own worker thread and hands each row
//! across a channel, which costs more CPU than SQLite itself for the short indexed reads of
//! a page or a RADIUS lookup (measured: ~1.7 ms through `sqlx::Any` against ~0.3 ms direct
//! for one customers page). On SQLite, [`Db`](crate::db::Db) therefore also keeps a small
//! pool of rusqlite connections to the same file:
//!
//! - [`Lite::read`] runs a closure on one of them, inline on the calling thread. Reads are
//!   short and in WAL mode never wait for the writer, so this costs less than a thread hop.
//! - [`Lite::write`] runs a closure inside `BEGIN IMMEDIATE` on a blocking thread: bulk writers
//!   (billing runs, the accounting group commit) bind millions of values, which through sqlx
//!   costs several times what SQLite needs.
//!
//! The SQL text is the same as on PostgreSQL (`$1, $2` placeholders are bound by name), and
//! rows are handed out as sqlx [`AnyRow`]s, so every `FromRow` type reads the same either way.
//! PostgreSQL has no `Lite`: there the same statements go through sqlx.

use crate::error::{CoreError, CoreResult};
use crate::store::Arg;
use sqlx_core::any::{AnyColumn, AnyRow, AnyTypeInfo, AnyTypeInfoKind, AnyValue, AnyValueKind};
use sqlx_core::ext::ustr::UStr;
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Idle connections kept for reuse; more are opened when more callers read at once.
const MAX_IDLE: usize = 16;
/// Prepared statements cached per connection.
const STATEMENT_CACHE: usize = 128;

/// Pool of direct SQLite connections (see the module docs).
pub struct Lite {
    path: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
    statements: Arc<AtomicU64>,
}

impl std::fmt::Debug for Lite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lite").field("path", &self.path).finish_non_exhaustive()
    }
}

/// The file behind a `sqlite:` URL, or `None` for an in-memory database (which a second
/// connection could not see).
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || query.split('&').any(|kv| kv == "mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

impl Lite {
    /// A pool over the SQLite file at `path`, counting statements into `statements`.
    pub(crate) fn new(path: &Path, statements: Arc<AtomicU64>) -> CoreResult<Self> {
        let lite = Self { path: path.to_path_buf(), idle: Mutex::new(Vec::new()), statements };
        // Fail at start, not at the first request, if the file cannot be opened.
        let conn = lite.open()?;
        lite.put(conn);
        Ok(lite)
    }

    fn open(&self) -> CoreResult<rusqlite::Connection> {
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = rusqlite::Connection::open_with_flags(&self.path, flags)
            .map_err(|e| CoreError::internal(format!("cannot open {}: {e}", self.path.display())))?;
        conn.execute_batch(crate::db::SQLITE_PRAGMAS).map_err(lite_err)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }

    fn take(&self) -> CoreResult<rusqlite::Connection> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match idle {
            Some(c) => Ok(c),
            None => self.open(),
        }
    }

    fn put(&self, conn: rusqlite::Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    /// Runs `f` on a connection, inline. For short reads only: `f` blocks the calling thread.
    pub fn read<T>(&self, f: impl FnOnce(&Conn<'_>) -> CoreResult<T>) -> CoreResult<T> {
        let conn = self.take()?;
        let out = f(&Conn { conn: &conn, statements: &self.statements });
        self.put(conn);
        out
    }

    /// Runs `f` on a connection on a blocking thread: for reads that scan (searches), which
    /// would hold up the other tasks of the calling thread for too long.
    pub async fn read_off_thread<T, F>(self: &Arc<Self>, f: F) -> CoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Conn<'_>) -> CoreResult<T> + Send + 'static,
    {
        let lite = self.clone();
        tokio::task::spawn_blocking(move || lite.read(f)).await?
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction on a blocking thread and commits when it
    /// returns `Ok` (rolls back on `Err`).
    pub async fn write<T, F>(self: &Arc<Self>, f: F) -> CoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Conn<'_>) -> CoreResult<T> + Send + 'static,
    {
        let lite = self.clone();
        tokio::task::spawn_blocking(move || lite.write_blocking(f)).await?
    }

    /// [`Lite::write`] on the calling thread (for callers already on a blocking thread).
    pub fn write_blocking<T>(&self, f: impl FnOnce(&Conn<'_>) -> CoreResult<T>) -> CoreResult<T> {
        let mut conn = self.take()?;
        let out = (|| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(lite_err)?;
            let v = f(&Conn { conn: &tx, statements: &self.statements })?;
            tx.commit().map_err(lite_err)?;
            Ok(v)
        })();
        self.put(conn);
        out
    }
}

/// One checked-out connection (inside a transaction for [`Lite::write`]).
pub struct Conn<'a> {
    conn: &'a rusqlite::Connection,
    statements: &'a AtomicU64,
}

impl Conn<'_> {
    /// The rusqlite connection, for statements this module has no helper for.
    pub fn raw(&self) -> &rusqlite::Connection {
        self.statements.fetch_add(1, Ordering::Relaxed);
        self.conn
    }

    /// A cached prepared statement with `args` bound to `$1, $2, ...`.
    fn bound(&self, sql: &str, args: &[Arg]) -> CoreResult<rusqlite::CachedStatement<'_>> {
        self.statements.fetch_add(1, Ordering::Relaxed);
        let mut st = self.conn.prepare_cached(sql).map_err(lite_err)?;
        bind(&mut st, args)?;
        Ok(st)
    }

    /// Executes one statement; returns the rows changed.
    pub fn execute(&self, sql: &str, args: &[Arg]) -> CoreResult<u64> {
        let mut st = self.bound(sql, args)?;
        Ok(st.raw_execute().map_err(lite_err)? as u64)
    }

    /// Every row of a query, decoded through sqlx's `FromRow`.
    pub fn fetch_all<T>(&self, sql: &str, args: &[Arg]) -> CoreResult<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, AnyRow>,
    {
        any_rows(self.bound(sql, args)?)
    }

    /// Every row of a query as a [`LiteRow`] type: read straight from the columns when the
    /// statement's columns are `T::COLUMNS` in that order (one allocation per text value, no
    /// `AnyRow`), through `FromRow` otherwise, so a statement selecting other columns still
    /// reads correctly.
    pub fn fetch_rows<T>(&self, sql: &str, args: &[Arg]) -> CoreResult<Vec<T>>
    where
        T: LiteRow + for<'r> sqlx::FromRow<'r, AnyRow>,
    {
        let mut st = self.bound(sql, args)?;
        let direct = st.column_count() == T::COLUMNS.len()
            && T::COLUMNS.iter().enumerate().all(|(i, c)| st.column_name(i).is_ok_and(|n| n == *c));
        if !direct {
            return any_rows(st);
        }
        let mut rows = st.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(lite_err)? {
            out.push(T::from_lite(row).map_err(lite_err)?);
        }
        Ok(out)
    }

    /// The first row of a query, if any.
    pub fn fetch_optional<T>(&self, sql: &str, args: &[Arg]) -> CoreResult<Option<T>>
    where
        T: for<'r> sqlx::FromRow<'r, AnyRow>,
    {
        let mut st = self.bound(sql, args)?;
        let names = column_names(&st);
        let mut rows = st.raw_query();
        match rows.next().map_err(lite_err)? {
            Some(row) => Ok(Some(T::from_row(&any_row(row, &names)?)?)),
            None => Ok(None),
        }
    }
}

/// A row type read straight from SQLite's columns by [`Conn::fetch_rows`]; implemented by
/// [`lite_row!`](crate::lite_row), which lists the fields in column order.
pub trait LiteRow: Sized {
    /// The columns `from_lite` reads, in order.
    const COLUMNS: &'static [&'static str];
    /// The row's value.
    fn from_lite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
}

/// A field type of a [`LiteRow`]: read from column `i`.
pub trait FromColumn: Sized {
    /// The value of column `i`.
    fn column(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Self>;
}

impl FromColumn for i64 {
    fn column(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Self> {
        row.get(i)
    }
}

impl FromColumn for String {
    fn column(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Self> {
        row.get(i)
    }
}

impl<T: FromColumn> FromColumn for Option<T> {
    fn column(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Self> {
        match row.get_ref(i)? {
            rusqlite::types::ValueRef::Null => Ok(None),
            _ => T::column(row, i).map(Some),
        }
    }
}

/// Reads a text enum (see `text_enum!`) from column `i`.
pub fn enum_column<T: std::str::FromStr<Err = CoreError>>(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<T> {
    let text = row.get_ref(i)?.as_str()?;
    text.parse().map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
}

/// Implements [`LiteRow`] for a struct whose fields, listed in order, are the columns of its
/// statements (every field must be listed: the struct literal it expands to says so).
#[macro_export]
macro_rules! lite_row {
    ($ty:ty { $($field:ident),+ $(,)? }) => {
        impl $crate::lite::LiteRow for $ty {
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),+];
            fn from_lite(row: &$crate::lite::rusqlite::Row<'_>) -> $crate::lite::rusqlite::Result<Self> {
                let mut i = 0usize;
                let mut next = || {
                    i += 1;
                    i - 1
                };
                Ok(Self { $($field: $crate::lite::FromColumn::column(row, next())?),+ })
            }
        }
    };
}

pub use rusqlite;

/// Every row of a bound statement, decoded through sqlx's `FromRow`.
fn any_rows<T>(mut st: rusqlite::CachedStatement<'_>) -> CoreResult<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, AnyRow>,
{
    let names = column_names(&st);
    let mut rows = st.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(lite_err)? {
        out.push(T::from_row(&any_row(row, &names)?)?);
    }
    Ok(out)
}

fn bind(st: &mut rusqlite::Statement<'_>, args: &[Arg]) -> CoreResult<()> {
    let want = st.parameter_count();
    if want != args.len() {
        return Err(CoreError::internal(format!("statement takes {want} parameters, {} given", args.len())));
    }
    for i in 1..=want {
        // `$n` is a named parameter to SQLite; bind it by its number, not its position, so
        // `$2 ... $1` binds as it does on PostgreSQL.
        let n = match st.parameter_name(i) {
            Some(name) => name
                .strip_prefix('$')
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| (1..=args.len()).contains(n))
                .ok_or_else(|| CoreError::internal(format!("unsupported placeholder {name}")))?,
            None => i,
        };
        let r = match &args[n - 1] {
            Arg::I(v) => st.raw_bind_parameter(i, v),
            Arg::T(v) => st.raw_bind_parameter(i, v.as_str()),
        };
        r.map_err(lite_err)?;
    }
    Ok(())
}

type Names = (Arc<sqlx_core::HashMap<UStr, usize>>, Vec<UStr>);

fn column_names(st: &rusqlite::Statement<'_>) -> Names {
    let names: Vec<UStr> = st.column_names().into_iter().map(UStr::new).collect();
    let map = names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
    (Arc::new(map), names)
}

fn any_row(row: &rusqlite::Row<'_>, (map, names): &Names) -> CoreResult<AnyRow> {
    use rusqlite::types::ValueRef;
    let mut columns = Vec::with_capacity(names.len());
    let mut values = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let kind = match row.get_ref(i).map_err(lite_err)? {
            ValueRef::Null => AnyValueKind::Null(AnyTypeInfoKind::Null),
            ValueRef::Integer(v) => AnyValueKind::BigInt(v),
            ValueRef::Real(v) => AnyValueKind::Double(v),
            ValueRef::Text(t) => AnyValueKind::Text(Cow::Owned(
                std::str::from_utf8(t).map_err(|e| CoreError::internal(format!("column {name}: {e}")))?.to_owned(),
            )),
            ValueRef::Blob(b) => AnyValueKind::Blob(Cow::Owned(b.to_vec())),
        };
        let type_kind = match &kind {
            AnyValueKind::BigInt(_) => AnyTypeInfoKind::BigInt,
            AnyValueKind::Double(_) => AnyTypeInfoKind::Double,
            AnyValueKind::Text(_) => AnyTypeInfoKind::Text,
            AnyValueKind::Blob(_) => AnyTypeInfoKind::Blob,
            _ => AnyTypeInfoKind::Null,
        };
        columns.push(AnyColumn { ordinal: i, name: name.clone(), type_info: AnyTypeInfo { kind: type_kind } });
        values.push(AnyValue { kind });
    }
    Ok(AnyRow { column_names: map.clone(), columns, values })
}

/// Maps a rusqlite error like sqlx's: constraint violations become CONFLICT or VALIDATION.
pub fn lite_err(e: rusqlite::Error) -> CoreError {
    if let rusqlite::Error::SqliteFailure(f, msg) = &e {
        let msg = msg.clone().unwrap_or_default();
        match f.extended_code {
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                return crate::error::unique_violation(&msg, "");
            }
            rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => {
                return CoreError::validation("input", "refers to a record that does not exist");
            }
            _ => {}
        }
    }
    tracing::error!(error = %e, "database error");
    CoreError::Internal(format!("database: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_sqlite_urls() {
        assert_eq!(sqlite_path("sqlite://./data/isp.db?mode=rwc"), Some(PathBuf::from("./data/isp.db")));
        assert_eq!(sqlite_path("sqlite:///var/lib/isp/isp.db"), Some(PathBuf::from("/var/lib/isp/isp.db")));
        assert_eq!(sqlite_path("sqlite:isp.db"), Some(PathBuf::from("isp.db")));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("sqlite://shared?mode=memory&cache=shared"), None);
        assert_eq!(sqlite_path("postgres://localhost/isp"), None);
    }

    #[derive(sqlx::FromRow, Debug, PartialEq)]
    struct Rec {
        a: i64,
        b: Option<String>,
        c: String,
    }
    crate::lite_row!(Rec { a, b, c });

    #[test]
    fn binds_by_number_and_decodes_through_from_row() {
        let dir = std::env::temp_dir().join(format!("isp-lite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let _ = std::fs::remove_file(&path);
        rusqlite::Connection::open(&path).unwrap().execute_batch("CREATE TABLE t (a BIGINT, b TEXT, c TEXT)").unwrap();
        let lite = Lite::new(&path, Arc::new(AtomicU64::new(0))).unwrap();
        lite.write_blocking(|c| {
            // Placeholders out of order bind by their number.
            c.execute("INSERT INTO t (c, a) VALUES ($2, $1)", &[Arg::I(7), Arg::T("x".into())])?;
            c.execute("INSERT INTO t (a, b, c) VALUES ($1, $2, $2)", &[Arg::I(8), Arg::T("y".into())])
        })
        .unwrap();
        let rows: Vec<Rec> =
            lite.read(|c| c.fetch_all("SELECT a, b, c FROM t WHERE a >= $1 ORDER BY a", &[Arg::I(0)])).unwrap();
        assert_eq!(rows, vec![Rec { a: 7, b: None, c: "x".into() }, Rec { a: 8, b: Some("y".into()), c: "y".into() }]);
        // Read straight from the columns, and through FromRow when the columns differ.
        let direct: Vec<Rec> =
            lite.read(|c| c.fetch_rows("SELECT a, b, c FROM t WHERE a >= $1 ORDER BY a", &[Arg::I(0)])).unwrap();
        assert_eq!(direct, rows);
        let reordered: Vec<Rec> =
            lite.read(|c| c.fetch_rows("SELECT c, a, b FROM t WHERE a >= $1 ORDER BY a", &[Arg::I(0)])).unwrap();
        assert_eq!(reordered, rows);
        let err = lite.read(|c| c.fetch_rows::<Rec>("SELECT a, a AS b, c FROM t", &[])).unwrap_err();
        assert!(err.to_string().contains("database"), "an integer is not text: {err}");
        let err = lite.read(|c| c.fetch_all::<Rec>("SELECT a, b, c FROM t WHERE a = $1", &[])).unwrap_err();
        assert!(err.to_string().contains("1 parameters, 0 given"), "{err}");
        // A failed write rolls back.
        let r = lite.write_blocking(|c| {
            c.execute("INSERT INTO t (a, c) VALUES ($1, $2)", &[Arg::I(9), Arg::T("z".into())])?;
            Err::<(), _>(CoreError::validation("x", "no"))
        });
        assert!(r.is_err());
        let n: Option<(i64,)> = lite.read(|c| c.fetch_optional("SELECT COUNT(*) FROM t", &[])).unwrap();
        assert_eq!(n, Some((2,)));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
