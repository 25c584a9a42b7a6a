//! SQLite: a bounded pool of direct connections to one file (rusqlite), and how statements
//! run on them without stalling the async runtime.
//!
//! - **Reads** (`&Db`, read-only statements) run on the calling thread: most take tens of
//!   microseconds, less than a hop to another thread costs. Each runs under a budget
//!   ([`READ_BUDGET`]) checked by SQLite's progress handler; a statement that exceeds it is
//!   interrupted and run again, to the end, on a blocking thread, and its SQL is remembered so
//!   that it goes there directly for its next [`SLOW_RUNS`] runs, then tries the budget again
//!   (a statement that was slow once, on a cold cache or a preempted thread, does not pay a
//!   thread hop for good). What decides is how long a statement takes, not what its text says.
//! - **Writers** in this process take turns on an async lock ([`Sqlite::gate`]) before
//!   `BEGIN IMMEDIATE`, so they queue without blocking a thread; only another process holding
//!   the write lock makes `BEGIN` wait (on a blocking thread, up to the busy timeout).
//!   Statements inside a transaction run on the task's thread: transactions are short by
//!   rule, and bulk work runs its transaction on a blocking thread ([`super::Db::bulk`]).
//!   Writes outside a transaction run on a blocking thread.
//! - **Checkpoints** never happen inside a commit: automatic checkpoints are off and a
//!   background task checkpoints the WAL after commits ([`Sqlite::spawn_checkpointer`]).

use super::row::{map_columns, Columns, DecodeError, FromRow, Row};
use super::value::Value;
use crate::error::{CoreError, CoreResult};
use rusqlite::types::ValueRef;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a read may run on an async worker thread before it moves to a blocking thread.
pub const READ_BUDGET: Duration = Duration::from_millis(1);
/// How many statements' SQL [`Sqlite`] remembers as slow (then it starts over).
const MAX_SLOW: usize = 1024;
/// Runs a slow statement goes straight to a blocking thread before it tries the budget again.
pub const SLOW_RUNS: u32 = 64;
/// How long SQLite waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a caller waits for a free connection before giving up.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 256;
/// VM instructions between two looks at the read budget (~10-50 µs of work).
const PROGRESS_OPS: i32 = 1000;

/// Settings of every connection. Reads go through a 256 MiB memory map of the file rather
/// than `pread` copies into each connection's page cache. `wal_autocheckpoint = 0`: see the
/// module docs.
const PRAGMAS: &str = "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA mmap_size = 268435456; \
    PRAGMA cache_size = -16384; PRAGMA wal_autocheckpoint = 0;";

/// The pool of one SQLite file.
pub(crate) struct Sqlite {
    path: PathBuf,
    /// Remove the file when the pool goes (an in-memory URL runs on a private temporary file).
    temporary: bool,
    idle: Mutex<Vec<Conn>>,
    permits: Arc<Semaphore>,
    /// Writers of this process take turns here before `BEGIN IMMEDIATE`.
    pub(crate) gate: Arc<tokio::sync::Mutex<()>>,
    epoch: Instant,
    /// Hashes of statements that ran past the read budget.
    slow: Mutex<HashMap<u64, u32>>,
    statements: Arc<AtomicU64>,
    /// Reads moved to a blocking thread.
    pub(crate) offloaded: AtomicU64,
    /// Commits since the pool opened (the checkpointer looks at it).
    pub(crate) commits: AtomicU64,
}

/// One connection and the read deadline its progress handler watches.
pub(crate) struct Conn {
    pub(crate) conn: rusqlite::Connection,
    /// Microseconds since the pool's epoch after which a statement is interrupted; 0: none.
    deadline: Arc<AtomicU64>,
}

/// A connection taken from the pool, returned when dropped.
pub(crate) struct Lease {
    conn: Option<Conn>,
    pool: Arc<Sqlite>,
    _permit: OwnedSemaphorePermit,
}

impl Lease {
    /// The connection.
    pub(crate) fn conn(&self) -> &rusqlite::Connection {
        &self.conn.as_ref().expect("a lease holds its connection").conn
    }

    fn deadline(&self) -> &AtomicU64 {
        &self.conn.as_ref().expect("a lease holds its connection").deadline
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            // A connection left inside a transaction (a panic, a lost future) is not reused.
            if c.conn.is_autocommit() {
                self.pool.idle.lock().unwrap_or_else(|p| p.into_inner()).push(c);
            }
        }
    }
}

/// The file behind a `sqlite:` URL and whether it may be created (`mode=rwc`); `None` for an
/// in-memory database.
pub(crate) fn sqlite_path(url: &str) -> Option<(PathBuf, bool)> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let memory = path.is_empty() || path == ":memory:" || query.split('&').any(|kv| kv == "mode=memory");
    if memory {
        return None;
    }
    let create = query.split('&').any(|kv| kv == "mode=rwc");
    Some((PathBuf::from(path), create))
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Sqlite {
    /// Opens the pool on `url` with at most `max` connections (at least 2: a transaction
    /// holds one while reads use another).
    pub(crate) fn open(url: &str, max: u32, statements: Arc<AtomicU64>) -> CoreResult<Arc<Self>> {
        let (path, create, temporary) = match sqlite_path(url) {
            Some((p, c)) => (p, c, false),
            None => {
                let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
                let p = std::env::temp_dir().join(format!("isp-memory-{}-{n}.db", std::process::id()));
                (p, true, true)
            }
        };
        let pool = Arc::new(Self {
            path,
            temporary,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(max.max(2) as usize)),
            gate: Arc::new(tokio::sync::Mutex::new(())),
            epoch: Instant::now(),
            slow: Mutex::new(HashMap::new()),
            statements,
            offloaded: AtomicU64::new(0),
            commits: AtomicU64::new(0),
        });
        // The first connection creates the file and switches it to WAL (which persists).
        let first = pool.connect(create)?;
        let mode: String = first
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| CoreError::internal_from(format!("cannot set WAL mode on {}", pool.path.display()), e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(CoreError::internal(format!("{} did not switch to WAL mode ({mode})", pool.path.display())));
        }
        pool.idle.lock().unwrap_or_else(|p| p.into_inner()).push(first);
        Ok(pool)
    }

    fn connect(&self, create: bool) -> CoreResult<Conn> {
        use rusqlite::OpenFlags;
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let conn = rusqlite::Connection::open_with_flags(&self.path, flags)
            .map_err(|e| CoreError::internal_from(format!("cannot open {}", self.path.display()), e))?;
        conn.execute_batch(PRAGMAS).map_err(|e| sqlite_err(e, "connection settings"))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| sqlite_err(e, "busy timeout"))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let deadline = Arc::new(AtomicU64::new(0));
        let (d, epoch) = (deadline.clone(), self.epoch);
        conn.progress_handler(
            PROGRESS_OPS,
            Some(move || {
                let at = d.load(Ordering::Relaxed);
                at != 0 && epoch.elapsed().as_micros() as u64 > at
            }),
        );
        Ok(Conn { conn, deadline })
    }

    /// A connection, waiting for one when all `max` are in use.
    pub(crate) async fn lease(self: &Arc<Self>) -> CoreResult<Lease> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => tokio::time::timeout(ACQUIRE_TIMEOUT, self.permits.clone().acquire_owned())
                .await
                .map_err(|_| CoreError::Unavailable("no free database connection within 10 s".into()))?
                .map_err(|e| CoreError::internal_from("database pool closed", e))?,
        };
        self.lease_with(permit)
    }

    fn lease_with(self: &Arc<Self>, permit: OwnedSemaphorePermit) -> CoreResult<Lease> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(c) => c,
            None => self.connect(false)?,
        };
        Ok(Lease { conn: Some(conn), pool: self.clone(), _permit: permit })
    }

    fn key(sql: &str) -> u64 {
        let mut h = DefaultHasher::new();
        sql.hash(&mut h);
        h.finish()
    }

    /// Whether `sql` goes straight to a blocking thread (counting down its remaining runs).
    fn is_slow(&self, sql: &str) -> bool {
        let mut slow = self.slow.lock().unwrap_or_else(|p| p.into_inner());
        let key = Self::key(sql);
        match slow.get_mut(&key) {
            None => false,
            Some(left) => {
                *left -= 1;
                if *left == 0 {
                    slow.remove(&key);
                }
                true
            }
        }
    }

    fn mark_slow(&self, sql: &str) {
        let mut slow = self.slow.lock().unwrap_or_else(|p| p.into_inner());
        if slow.len() >= MAX_SLOW {
            slow.clear();
        }
        slow.insert(Self::key(sql), SLOW_RUNS);
    }

    /// Every row of a read-only statement (at most `limit`), on this thread under the read
    /// budget or on a blocking thread (see the module docs). A statement that writes goes
    /// through [`Sqlite::write`].
    pub(crate) async fn fetch<T>(
        self: &Arc<Self>,
        sql: &str,
        args: &[Value<'_>],
        limit: Option<usize>,
    ) -> CoreResult<Vec<T>>
    where
        T: FromRow + Send + 'static,
    {
        if !self.is_slow(sql) {
            let lease = self.lease().await?;
            let budget = self.epoch.elapsed() + READ_BUDGET;
            lease.deadline().store(budget.as_micros() as u64, Ordering::Relaxed);
            let r = fetch_rows::<T>(lease.conn(), &self.statements, sql, args, limit, true);
            lease.deadline().store(0, Ordering::Relaxed);
            match r {
                Ok(rows) => return Ok(rows),
                Err(RunError::Interrupted) => {
                    tracing::debug!(sql, "statement ran past the read budget; continuing on a blocking thread");
                    self.mark_slow(sql);
                }
                Err(RunError::Writes) => return self.write_fetch(sql, args, limit).await,
                Err(e) => return Err(e.into_core(sql)),
            }
        }
        self.offloaded.fetch_add(1, Ordering::Relaxed);
        let (pool, sql, args) = (self.clone(), sql.to_owned(), owned(args));
        let lease = self.lease().await?;
        tokio::task::spawn_blocking(move || {
            match fetch_rows::<T>(lease.conn(), &pool.statements, &sql, &args, limit, true) {
                Err(RunError::Writes) => Err(CoreError::internal("a read-only statement turned out to write")),
                r => r.map_err(|e| e.into_core(&sql)),
            }
        })
        .await?
    }

    /// A statement that writes, outside a transaction: in turn with this process's other
    /// writers, on a blocking thread.
    pub(crate) async fn write(self: &Arc<Self>, sql: &str, args: &[Value<'_>]) -> CoreResult<u64> {
        let gate = self.gate.clone().lock_owned().await;
        let lease = self.lease().await?;
        let (pool, sql, args) = (self.clone(), sql.to_owned(), owned(args));
        tokio::task::spawn_blocking(move || {
            let _gate = gate;
            let n = execute(lease.conn(), &pool.statements, &sql, &args).map_err(|e| e.into_core(&sql))?;
            pool.commits.fetch_add(1, Ordering::Relaxed);
            Ok(n)
        })
        .await?
    }

    /// [`Sqlite::write`] for a statement that returns rows (`INSERT ... RETURNING`).
    async fn write_fetch<T>(self: &Arc<Self>, sql: &str, args: &[Value<'_>], limit: Option<usize>) -> CoreResult<Vec<T>>
    where
        T: FromRow + Send + 'static,
    {
        let gate = self.gate.clone().lock_owned().await;
        let lease = self.lease().await?;
        let (pool, sql, args) = (self.clone(), sql.to_owned(), owned(args));
        tokio::task::spawn_blocking(move || {
            let _gate = gate;
            let rows = fetch_rows::<T>(lease.conn(), &pool.statements, &sql, &args, limit, false)
                .map_err(|e| e.into_core(&sql))?;
            pool.commits.fetch_add(1, Ordering::Relaxed);
            Ok(rows)
        })
        .await?
    }

    /// A connection in `BEGIN IMMEDIATE`, after this process's earlier writers are done.
    pub(crate) async fn begin(self: &Arc<Self>) -> CoreResult<(Lease, tokio::sync::OwnedMutexGuard<()>)> {
        let gate = self.gate.clone().lock_owned().await;
        let lease = self.lease().await?;
        // Without another process writing, the lock is free and BEGIN returns at once; only
        // then may it wait, and it waits on a blocking thread.
        lease.conn().busy_timeout(Duration::ZERO).map_err(|e| sqlite_err(e, "busy timeout"))?;
        let first = lease.conn().execute_batch("BEGIN IMMEDIATE");
        lease.conn().busy_timeout(BUSY_TIMEOUT).map_err(|e| sqlite_err(e, "busy timeout"))?;
        match first {
            Ok(()) => Ok((lease, gate)),
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => {
                tokio::task::spawn_blocking(move || {
                    lease.conn().execute_batch("BEGIN IMMEDIATE").map_err(|e| sqlite_err(e, "BEGIN IMMEDIATE"))?;
                    Ok((lease, gate))
                })
                .await?
            }
            Err(e) => Err(sqlite_err(e, "BEGIN IMMEDIATE")),
        }
    }

    /// Checkpoints the WAL after commits, off the request path: every second when something
    /// was committed meanwhile. Ends when the pool is gone.
    pub(crate) fn spawn_checkpointer(self: &Arc<Self>) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else { return };
        let weak = Arc::downgrade(self);
        handle.spawn(async move {
            let mut seen = 0;
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let Some(pool) = weak.upgrade() else { return };
                let commits = pool.commits.load(Ordering::Relaxed);
                if commits == seen {
                    continue;
                }
                seen = commits;
                let Ok(lease) = pool.lease().await else { continue };
                drop(pool);
                let r = tokio::task::spawn_blocking(move || {
                    lease.conn().query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                })
                .await;
                if let Ok(Err(e)) = r {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
            }
        });
    }

    /// Runs `f` on a connection on this thread, outside the budget (benchmarks' raw SQL).
    pub(crate) async fn with_conn<T>(self: &Arc<Self>, f: impl FnOnce(&rusqlite::Connection) -> T) -> CoreResult<T> {
        let lease = self.lease().await?;
        Ok(f(lease.conn()))
    }

    /// Runs a migration script in one transaction.
    pub(crate) fn migrate_script(&self, lease: &Lease, version: i64, name: &str, sql: &str) -> CoreResult<()> {
        let conn = lease.conn();
        conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| sqlite_err(e, "BEGIN"))?;
        let r = conn.execute_batch(sql).and_then(|_| {
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![version, name, env!("CARGO_PKG_VERSION")],
            )
            .map(|_| ())
        });
        match r {
            Ok(()) => conn.execute_batch("COMMIT").map_err(|e| sqlite_err(e, "COMMIT")),
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(CoreError::internal_from(format!("migration {version} {name} failed"), e))
            }
        }
    }

    /// The pool's file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Sqlite {
    fn drop(&mut self) {
        if self.temporary {
            self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
            for suffix in ["", "-wal", "-shm"] {
                let mut p = self.path.clone().into_os_string();
                p.push(suffix);
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

fn owned(args: &[Value<'_>]) -> Vec<Value<'static>> {
    args.iter().map(|a| a.clone().into_owned()).collect()
}

/// Why a statement did not complete.
pub(crate) enum RunError {
    /// It ran past the read budget.
    Interrupted,
    /// It writes, and was asked to run as a read.
    Writes,
    Sqlite(rusqlite::Error),
    Decode(DecodeError),
    Bind(String),
}

impl From<rusqlite::Error> for RunError {
    fn from(e: rusqlite::Error) -> Self {
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::OperationInterrupted) {
            RunError::Interrupted
        } else {
            RunError::Sqlite(e)
        }
    }
}

impl RunError {
    pub(crate) fn into_core(self, sql: &str) -> CoreError {
        match self {
            RunError::Sqlite(e) => sqlite_err(e, sql),
            RunError::Decode(e) => CoreError::internal_from(format!("reading the rows of `{}`", short(sql)), e),
            RunError::Bind(m) => CoreError::internal(format!("binding `{}`: {m}", short(sql))),
            RunError::Interrupted => CoreError::internal(format!("`{}` was interrupted", short(sql))),
            RunError::Writes => CoreError::internal(format!("`{}` writes; run it in a transaction", short(sql))),
        }
    }
}

fn short(sql: &str) -> &str {
    match sql.char_indices().nth(160) {
        Some((i, _)) => &sql[..i],
        None => sql,
    }
}

/// Maps a SQLite error: constraint violations become CONFLICT or VALIDATION, anything else
/// INTERNAL with the statement as context.
pub(crate) fn sqlite_err(e: rusqlite::Error, context: &str) -> CoreError {
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
    CoreError::internal_from(format!("SQLite: `{}`", short(context)), e)
}

/// Binds `args` to `st`: `$n` by its number (so `$2 ... $1` binds as on PostgreSQL), `?` by
/// position. SQLite numbers named parameters in the order they first appear, so when the text
/// ([`numbered_in_order`]) shows `$1, $2, ...` first appearing in that order, parameter `i` is
/// `$i` and each binds directly; otherwise each parameter's name is looked up, which costs a
/// walk of the statement's name list per parameter (quadratic in a multi-row INSERT's
/// thousands of parameters).
fn bind(st: &mut rusqlite::Statement<'_>, sql: &str, args: &[Value<'_>]) -> Result<(), RunError> {
    let want = st.parameter_count();
    if want != args.len() {
        return Err(RunError::Bind(format!("the statement takes {want} parameters, {} given", args.len())));
    }
    let direct = numbered_in_order(sql) == Some(want);
    for i in 1..=want {
        let n = if direct {
            i
        } else {
            match st.parameter_name(i) {
                Some(name) => name
                    .strip_prefix('$')
                    .and_then(|n| n.parse::<usize>().ok())
                    .filter(|n| (1..=args.len()).contains(n))
                    .ok_or_else(|| RunError::Bind(format!("unsupported placeholder {name}")))?,
                None => i,
            }
        };
        match &args[n - 1] {
            Value::NullI | Value::NullT | Value::NullB => st.raw_bind_parameter(i, rusqlite::types::Null),
            Value::I(v) => st.raw_bind_parameter(i, v),
            Value::T(v) => st.raw_bind_parameter(i, v.as_ref()),
            Value::B(v) => st.raw_bind_parameter(i, v.as_ref()),
        }?;
    }
    Ok(())
}

/// How many distinct `$n` placeholders `sql` has, when they are exactly `$1 ... $k` and each
/// first appears after the one before it (repeats anywhere); None otherwise (out of order, a
/// gap, or a `?`/`:name`/`@name` placeholder). Quoted strings, quoted identifiers and comments
/// are skipped.
fn numbered_in_order(sql: &str) -> Option<usize> {
    let b = sql.as_bytes();
    let (mut i, mut max) = (0, 0usize);
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                i += 1;
            }
            b'[' => {
                while i < b.len() && b[i] != b']' {
                    i += 1;
                }
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'$' => {
                let start = i + 1;
                i = start;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                let n: usize = sql.get(start..i)?.parse().ok()?;
                if n == max + 1 {
                    max = n;
                } else if n == 0 || n > max {
                    return None;
                }
            }
            b'?' | b':' | b'@'
                if b.get(i + 1).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_') || b[i] == b'?' =>
            {
                return None;
            }
            _ => i += 1,
        }
    }
    Some(max)
}

/// Every row of `sql` (at most `limit`); with `read_only`, refuses a statement that writes.
pub(crate) fn fetch_rows<T: FromRow>(
    conn: &rusqlite::Connection,
    statements: &AtomicU64,
    sql: &str,
    args: &[Value<'_>],
    limit: Option<usize>,
    read_only: bool,
) -> Result<Vec<T>, RunError> {
    statements.fetch_add(1, Ordering::Relaxed);
    let mut st = conn.prepare_cached(sql)?;
    if read_only && !st.readonly() {
        return Err(RunError::Writes);
    }
    bind(&mut st, sql, args)?;
    let idx = map_columns::<T>(&st.column_names()).map_err(RunError::Decode)?;
    let mut rows = st.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(T::from_row(&LiteRow(row), &mut Columns::new(&idx)).map_err(RunError::Decode)?);
        if limit.is_some_and(|l| out.len() >= l) {
            break;
        }
    }
    Ok(out)
}

/// Executes `sql`; returns the rows it changed.
pub(crate) fn execute(
    conn: &rusqlite::Connection,
    statements: &AtomicU64,
    sql: &str,
    args: &[Value<'_>],
) -> Result<u64, RunError> {
    statements.fetch_add(1, Ordering::Relaxed);
    let mut st = conn.prepare_cached(sql)?;
    bind(&mut st, sql, args)?;
    if st.column_count() == 0 {
        return Ok(st.raw_execute()? as u64);
    }
    // `... RETURNING` run for its effect: step through the rows.
    let mut rows = st.raw_query();
    while rows.next()?.is_some() {}
    drop(rows);
    Ok(conn.changes())
}

struct LiteRow<'a, 'r>(&'a rusqlite::Row<'r>);

impl LiteRow<'_, '_> {
    fn get(&self, i: usize) -> Result<ValueRef<'_>, DecodeError> {
        self.0.get_ref(i).map_err(|e| DecodeError::new(e.to_string()))
    }
}

fn type_name(v: ValueRef<'_>) -> &'static str {
    match v {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "an integer",
        ValueRef::Real(_) => "a real number",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "a blob",
    }
}

impl Row for LiteRow<'_, '_> {
    fn is_null(&self, i: usize) -> Result<bool, DecodeError> {
        Ok(matches!(self.get(i)?, ValueRef::Null))
    }

    fn int(&self, i: usize) -> Result<i64, DecodeError> {
        match self.get(i)? {
            ValueRef::Integer(v) => Ok(v),
            // SUM() over an empty set and some expressions come back as whole reals.
            ValueRef::Real(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => Ok(v as i64),
            other => Err(DecodeError::new(format!("expected an integer, found {}", type_name(other)))),
        }
    }

    fn real(&self, i: usize) -> Result<f64, DecodeError> {
        match self.get(i)? {
            ValueRef::Real(v) => Ok(v),
            ValueRef::Integer(v) => Ok(v as f64),
            other => Err(DecodeError::new(format!("expected a number, found {}", type_name(other)))),
        }
    }

    fn text(&self, i: usize) -> Result<&str, DecodeError> {
        match self.get(i)? {
            ValueRef::Text(t) => std::str::from_utf8(t).map_err(|e| DecodeError::new(e.to_string())),
            other => Err(DecodeError::new(format!("expected text, found {}", type_name(other)))),
        }
    }

    fn blob(&self, i: usize) -> Result<&[u8], DecodeError> {
        match self.get(i)? {
            ValueRef::Blob(b) | ValueRef::Text(b) => Ok(b),
            other => Err(DecodeError::new(format!("expected bytes, found {}", type_name(other)))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_sqlite_urls() {
        assert_eq!(sqlite_path("sqlite://./data/isp.db?mode=rwc"), Some((PathBuf::from("./data/isp.db"), true)));
        assert_eq!(sqlite_path("sqlite:///var/lib/isp/isp.db"), Some((PathBuf::from("/var/lib/isp/isp.db"), false)));
        assert_eq!(sqlite_path("sqlite:isp.db"), Some((PathBuf::from("isp.db"), false)));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("sqlite://shared?mode=memory&cache=shared"), None);
        assert_eq!(sqlite_path("postgres://localhost/isp"), None);
    }
}

#[cfg(test)]
mod bind_tests {
    use super::numbered_in_order;

    #[test]
    fn numbered_placeholders_in_order_bind_directly_and_others_by_name() {
        assert_eq!(numbered_in_order("SELECT 1"), Some(0));
        assert_eq!(numbered_in_order("SELECT $1, $2 WHERE a = $1 AND b = $3"), Some(3));
        assert_eq!(numbered_in_order("SELECT $2, $1"), None, "out of order");
        assert_eq!(numbered_in_order("SELECT $1, $3"), None, "a gap");
        assert_eq!(numbered_in_order("SELECT ?, ?"), None);
        assert_eq!(numbered_in_order("SELECT :a"), None);
        assert_eq!(numbered_in_order("SELECT '$9 ?', \"$7\", $1 -- $5\n, /* $4 ? */ $2"), Some(2));
        assert_eq!(numbered_in_order("SELECT json_extract(x, '$.a') FROM t WHERE id = $1"), Some(1));
        let many: Vec<String> = (1..=5000).map(|i| format!("${i}")).collect();
        assert_eq!(numbered_in_order(&format!("INSERT INTO t VALUES ({})", many.join(", "))), Some(5000));
    }
}
