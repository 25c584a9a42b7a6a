//! The database layer against a real SQLite file, and against PostgreSQL too when
//! `TEST_DATABASE_URL` is set (tables get unique names, so runs can share a database).

use super::*;
use crate::error::CoreError;
use std::sync::atomic::AtomicU64 as Counter;
use std::time::Instant;

static N: Counter = Counter::new(0);

/// A database to test on and a unique table-name suffix.
struct TestDb {
    db: Db,
    suffix: String,
    dir: Option<std::path::PathBuf>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

async fn sqlite(max: u32) -> TestDb {
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("isp-db-test-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("t.db").display());
    TestDb { db: Db::connect(&url, max).await.unwrap(), suffix: format!("s{n}"), dir: Some(dir) }
}

/// SQLite, plus PostgreSQL when `TEST_DATABASE_URL` names one.
async fn backends() -> Vec<TestDb> {
    let mut v = vec![sqlite(4).await];
    if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
        if url.starts_with("postgres") {
            let n = N.fetch_add(1, Ordering::Relaxed);
            let db = Db::connect(&url, 4).await.unwrap();
            v.push(TestDb { db, suffix: format!("p{}_{n}", std::process::id()), dir: None });
        }
    }
    v
}

impl TestDb {
    /// Creates table `t_<suffix>` (id, name, qty, flag, data) and returns its name.
    async fn table(&self) -> String {
        let t = format!("t_{}", self.suffix);
        let blob = if self.db.backend() == Backend::Postgres { "BYTEA" } else { "BLOB" };
        self.db
            .execute(
                &format!(
                    "CREATE TABLE {t} (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE, qty BIGINT, flag BIGINT NOT NULL DEFAULT 0, data {blob})"
                ),
                &[],
            )
            .await
            .unwrap();
        t
    }

    async fn drop_table(&self, t: &str) {
        self.db.execute(&format!("DROP TABLE {t}"), &[]).await.unwrap();
    }
}

#[derive(Debug, Clone, PartialEq, FromRow)]
struct Item {
    id: i64,
    name: String,
    qty: Option<i64>,
    flag: bool,
}

#[derive(Debug, PartialEq, FromRow)]
struct WithExtra {
    extra: String,
    #[row(flatten)]
    item: Item,
    #[row(default)]
    missing: i64,
}

#[tokio::test]
async fn binds_by_number_and_reads_by_column_name() {
    for t in backends().await {
        let table = t.table().await;
        let db = &t.db;
        // `$2 ... $1` binds by number on both backends; NULLs keep their type.
        query(&format!("INSERT INTO {table} (name, id, qty, flag, data) VALUES ($2, $1, $3, $4, $5)"))
            .bind(1_i64)
            .bind("one")
            .bind(None::<i64>)
            .bind(true)
            .bind(vec![0_u8, 159, 255])
            .execute(db)
            .await
            .unwrap();
        query(&format!("INSERT INTO {table} (id, name, qty) VALUES ($1, $2, $3)"))
            .bind(2_i64)
            .bind(String::from("two"))
            .bind(Some(7_i64))
            .execute(db)
            .await
            .unwrap();
        // Columns in another order than the fields: matched by name.
        let items: Vec<Item> =
            query_as(&format!("SELECT flag, qty, name, id FROM {table} ORDER BY id")).fetch_all(db).await.unwrap();
        assert_eq!(
            items,
            vec![
                Item { id: 1, name: "one".into(), qty: None, flag: true },
                Item { id: 2, name: "two".into(), qty: Some(7), flag: false }
            ]
        );
        // Flattened fields, a defaulted column the statement leaves out, tuples by position.
        let w: WithExtra = query_as(&format!("SELECT 'x' AS extra, id, name, qty, flag FROM {table} WHERE id = $1"))
            .bind(2_i64)
            .fetch_one(db)
            .await
            .unwrap();
        assert_eq!(w, WithExtra { extra: "x".into(), item: items[1].clone(), missing: 0 });
        let (data,): (Vec<u8>,) =
            query_as(&format!("SELECT data FROM {table} WHERE id = 1")).fetch_one(db).await.unwrap();
        assert_eq!(data, vec![0, 159, 255]);
        let (n, total): (i64, i64) =
            query_as(&format!("SELECT COUNT(*), CAST(COALESCE(SUM(qty), 0) AS BIGINT) FROM {table}"))
                .fetch_one(db)
                .await
                .unwrap();
        assert_eq!((n, total), (2, 7));
        // A missing column and a type mismatch are internal errors naming the column.
        let e = query_as::<Item>(&format!("SELECT id, name FROM {table}")).fetch_all(db).await.unwrap_err();
        assert!(e.chain().contains("column qty"), "{}", e.chain());
        let e = query_as::<(String,)>(&format!("SELECT id FROM {table}")).fetch_all(db).await.unwrap_err();
        assert!(e.chain().contains("expected text"), "{}", e.chain());
        // No row: None, or NOT_FOUND for fetch_one.
        let none: Option<Item> = query_as(&format!("SELECT id, name, qty, flag FROM {table} WHERE id = 99"))
            .fetch_optional(db)
            .await
            .unwrap();
        assert!(none.is_none());
        assert!(matches!(
            query_as::<Item>(&format!("SELECT id, name, qty, flag FROM {table} WHERE id = 99")).fetch_one(db).await,
            Err(CoreError::NotFound(_))
        ));
        // A unique violation is a CONFLICT.
        let dup =
            query(&format!("INSERT INTO {table} (id, name) VALUES ($1, $2)")).bind(3_i64).bind("one").execute(db).await;
        assert!(matches!(dup, Err(CoreError::Conflict { .. })), "{dup:?}");
        // Sql numbers its placeholders and binds texts and IN lists.
        let mut sql = Sql::new(&format!("SELECT id, name, qty, flag FROM {table} WHERE id IN "));
        sql.in_list(&[1, 2]).push(" AND name IN ").in_texts(["one", "zzz"]);
        assert_eq!(sql.fetch_all::<Item>(db).await.unwrap(), vec![items[0].clone()]);
        t.drop_table(&table).await;
    }
}

#[tokio::test]
async fn transactions_commit_roll_back_and_run_actions_after_commit() {
    for t in backends().await {
        let table = t.table().await;
        let db = &t.db;
        let ran = Arc::new(Counter::new(0));
        {
            let mut tx = db.begin().await.unwrap();
            query(&format!("INSERT INTO {table} (id, name) VALUES (1, 'a')")).execute(&mut tx).await.unwrap();
            let r = ran.clone();
            tx.after_commit(move || {
                r.fetch_add(1, Ordering::Relaxed);
            });
            // Dropped: rolled back, and the action never runs.
        }
        let (n,): (i64,) = query_as(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(db).await.unwrap();
        assert_eq!((n, ran.load(Ordering::Relaxed)), (0, 0));
        let mut tx = db.begin().await.unwrap();
        query(&format!("INSERT INTO {table} (id, name) VALUES (1, 'a')")).execute(&mut tx).await.unwrap();
        // RETURNING inside a transaction, through fetch.
        let (id,): (i64,) = query_as(&format!("INSERT INTO {table} (id, name) VALUES (2, 'b') RETURNING id"))
            .fetch_one(&mut tx)
            .await
            .unwrap();
        assert_eq!(id, 2);
        let r = ran.clone();
        tx.after_commit(move || {
            r.fetch_add(1, Ordering::Relaxed);
        });
        tx.commit().await.unwrap();
        assert_eq!(ran.load(Ordering::Relaxed), 1);
        // RETURNING outside a transaction goes the write path.
        let (id,): (i64,) = query_as(&format!("INSERT INTO {table} (id, name) VALUES (3, 'c') RETURNING id"))
            .fetch_one(db)
            .await
            .unwrap();
        assert_eq!(id, 3);
        // A bulk transaction commits; a rolled-back one leaves nothing.
        let tb = table.clone();
        let n = db
            .bulk(move |tx| {
                Box::pin(async move {
                    tx.execute(&format!("INSERT INTO {tb} (id, name) VALUES (4, 'd')"), &[]).await?;
                    tx.execute(&format!("UPDATE {tb} SET qty = 1"), &[]).await
                })
            })
            .await
            .unwrap();
        assert_eq!(n, 4);
        let tb = table.clone();
        db.bulk_rolled_back(move |tx| {
            Box::pin(async move { tx.execute(&format!("DELETE FROM {tb}"), &[]).await.map(|_| ()) })
        })
        .await
        .unwrap();
        let (n,): (i64,) =
            query_as(&format!("SELECT COUNT(*) FROM {table} WHERE qty = 1")).fetch_one(db).await.unwrap();
        assert_eq!(n, 4);
        t.drop_table(&table).await;
    }
}

/// A read that runs long leaves the async thread after the read budget and finishes on a
/// blocking thread, whatever its text; other tasks of the same (single-threaded) runtime keep
/// running meanwhile.
#[tokio::test]
async fn long_reads_move_off_the_async_thread() {
    let t = sqlite(4).await;
    let ticks = Arc::new(Counter::new(0));
    let tk = ticks.clone();
    let ticker = tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            tk.fetch_add(1, Ordering::Relaxed);
        }
    });
    tokio::task::yield_now().await;
    let slow =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT COUNT(*) FROM c";
    let started = Instant::now();
    let before = ticks.load(Ordering::Relaxed);
    let (n,): (i64,) = query_as(slow).fetch_one(&t.db).await.unwrap();
    let took = started.elapsed();
    let ticked = ticks.load(Ordering::Relaxed) - before;
    assert_eq!(n, 3_000_000);
    assert_eq!(t.db.offloaded_reads(), 1);
    assert!(took.as_millis() >= 20, "the query should take a while: {took:?}");
    // The ticker ran while the query did (it would not tick at all on a stalled thread).
    assert!(ticked * 4 >= took.as_millis() as u64 / 4, "{ticked} ticks in {took:?}");
    // Known to be slow: straight to a blocking thread the next time.
    let (n,): (i64,) = query_as(slow).fetch_one(&t.db).await.unwrap();
    assert_eq!((n, t.db.offloaded_reads()), (3_000_000, 2));
    // A short read stays inline.
    let _: (i64,) = query_as("SELECT 1").fetch_one(&t.db).await.unwrap();
    assert_eq!(t.db.offloaded_reads(), 2);
    ticker.abort();
}

/// Writers of one process take turns without blocking a thread, and the pool never opens more
/// connections than allowed.
#[tokio::test]
async fn writers_queue_and_the_pool_is_bounded() {
    let t = sqlite(2).await;
    let table = t.table().await;
    let tx = t.db.begin().await.unwrap();
    // A second writer waits (asynchronously) while the first is open...
    let second = tokio::time::timeout(std::time::Duration::from_millis(100), t.db.begin()).await;
    assert!(second.is_err(), "a second transaction began while the first was open");
    // ... reads go on meanwhile on the pool's other connection ...
    let (n,): (i64,) = query_as(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&t.db).await.unwrap();
    assert_eq!(n, 0);
    drop(tx);
    // ... and it proceeds once the first is done.
    let tx2 = tokio::time::timeout(std::time::Duration::from_secs(5), t.db.begin()).await.unwrap().unwrap();
    drop(tx2);
    // Two connections at most: a third lease waits for one to come back.
    let pool = match &t.db.inner.pool {
        Pool::Sqlite(s) => s.clone(),
        Pool::Postgres(_) => unreachable!(),
    };
    let a = pool.lease().await.unwrap();
    let b = pool.lease().await.unwrap();
    assert!(tokio::time::timeout(std::time::Duration::from_millis(50), pool.lease()).await.is_err());
    drop(a);
    let c = tokio::time::timeout(std::time::Duration::from_secs(5), pool.lease()).await.unwrap().unwrap();
    drop((b, c));
    t.drop_table(&table).await;
}

#[tokio::test]
async fn in_memory_urls_use_a_private_file_removed_at_the_end() {
    let db = Db::connect("sqlite::memory:", 2).await.unwrap();
    let path = db.sqlite_file().unwrap().to_path_buf();
    db.migrate().await.unwrap();
    let (n,): (i64,) = query_as("SELECT COUNT(*) FROM tenants").fetch_one(&db).await.unwrap();
    assert_eq!(n, 0);
    assert!(path.exists());
    drop(db);
    assert!(!path.exists(), "{} was left behind", path.display());
}
