//! The demo as a newcomer and `isp serve --demo` meet it, whatever day it is seeded on: every
//! kind of history is there, today is already billed and dunned, the README's RADIUS logins
//! behave as it says, and nothing is left for the device-job worker.

use super::*;
use crate::billing::{self, run};
use crate::clock::ManualClock;
use crate::config::Config;
use crate::db::Db;
use crate::store::radius_sessions;
use crate::workflows::dunning;
use chrono::{DateTime, TimeZone, Utc};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

static N: AtomicU64 = AtomicU64::new(0);

fn scratch() -> std::path::PathBuf {
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("isp-seed-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn open(database_url: &str, dir: &std::path::Path, at: DateTime<Utc>) -> Ctx {
    let mut cfg = Config { data_dir: dir.into(), database_url: database_url.into(), ..Config::default() };
    cfg.auth.argon2_memory_kib = 64;
    cfg.auth.argon2_iterations = 1;
    Ctx::open(cfg, Arc::new(ManualClock::new(at))).await.unwrap()
}

async fn count(db: &Db, sql: &str) -> i64 {
    let (n,): (i64,) = query_as(sql).fetch_one(db).await.unwrap_or_else(|e| panic!("{e}\n{sql}"));
    n
}

/// Seeds the demo into `ctx` and checks it.
async fn check(ctx: &Ctx) {
    let started = std::time::Instant::now();
    assert!(demo(ctx).await.unwrap());
    eprintln!("demo seeded as of {} in {:?}", ctx.clock.now(), started.elapsed());
    assert!(!demo(ctx).await.unwrap(), "a second seeding changes nothing");
    let t = tenants::by_slug(&ctx.db, DEMO_TENANT).await.unwrap().unwrap().id;
    let db = &ctx.db;
    let rows = |table: &str, filter: &str| {
        let sql = format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {table} WHERE tenant_id = {t} AND {filter}");
        async move { count(db, &sql).await }
    };
    for (table, filter) in [
        ("invoices", "status = 'PAID'"),
        ("invoices", "status = 'PARTIALLY_PAID'"),
        ("invoices", "status = 'OVERDUE'"),
        ("invoices", "status = 'ISSUED'"),
        ("invoices", "status = 'VOID'"),
        ("invoices", "kind = 'CREDIT_NOTE'"),
        ("payments", "method = 'CASH'"),
        ("payments", "method = 'CARD'"),
        ("payments", "method = 'BANK_TRANSFER'"),
        ("refunds", "1 = 1"),
        ("charges", "invoice_id IS NULL"),
        ("dunning_events", "kind = 'REMINDER'"),
        ("dunning_events", "kind = 'OVERDUE'"),
        ("dunning_events", "kind = 'SUSPENDED'"),
        ("dunning_events", "kind = 'REACTIVATED'"),
        ("devices", "kind = 'MIKROTIK'"),
        ("devices", "kind = 'HUAWEI_OLT'"),
        ("device_jobs", "status = 'DONE' AND kind = 'DEVICE_SUSPEND'"),
        ("device_jobs", "status = 'DONE' AND kind = 'DEVICE_RESUME'"),
        ("device_jobs", "status = 'DONE' AND kind = 'RADIUS_DISCONNECT'"),
        ("device_jobs", "status = 'DONE' AND kind = 'RADIUS_COA'"),
        ("device_jobs", "status = 'DEAD'"),
        ("radius_sessions", "open = 0"),
        ("radius_usage", "1 = 1"),
        ("auth_log", "result = 'ACCEPT'"),
        ("auth_log", "result = 'REJECT'"),
        ("tickets", "status = 'NEW'"),
        ("tickets", "status = 'OPEN'"),
        ("tickets", "status = 'PENDING_CUSTOMER'"),
        ("tickets", "status = 'ON_HOLD'"),
        ("tickets", "status = 'RESOLVED'"),
        ("tickets", "status = 'CLOSED'"),
        ("tickets", "breached = 1 AND escalated_at IS NOT NULL"),
        ("tickets", "merged_into_id IS NOT NULL"),
        ("tickets", "breached = 0 AND first_response_due IS NOT NULL"),
        ("ticket_messages", "kind = 'PUBLIC_REPLY'"),
        ("ticket_messages", "kind = 'INTERNAL_NOTE'"),
        ("ticket_messages", "kind = 'CUSTOMER_MESSAGE'"),
        ("ticket_escalations", "1 = 1"),
        ("sla_policies", "plan_id IS NOT NULL"),
        ("customer_documents", "kind = 'ID_SCAN' AND expires_on IS NOT NULL"),
        ("customer_documents", "kind = 'CONTRACT'"),
        ("ticket_attachments", "1 = 1"),
    ] {
        assert!(rows(table, filter).await > 0, "the demo has no {table} with {filter}");
    }
    // Quiet: nothing for the worker to try on devices that do not exist.
    assert_eq!(rows("device_jobs", "status = 'PENDING'").await, 0);
    assert_eq!(rows("devices", "enabled = 1").await, 0);
    assert_eq!(rows("device_jobs", "status = 'DEAD' AND attempts = 8").await, 1, "dead after its attempts");
    // Two subscribers online, none of them a README login (simultaneous use is 1).
    assert_eq!(rows("radius_sessions", "open = 1").await, 2);
    assert_eq!(rows("radius_sessions", "open = 1 AND username LIKE 'demo-%'").await, 0);

    // Today is billed and dunned already: the daily job of `isp serve` finds nothing to bill
    // (the charge waits for its subscription's next cycle), remind or suspend.
    let system = Actor::system(t, "test");
    let today = billing::tenant_today(ctx, t).await.unwrap();
    let p = run::preview(ctx, &system, today, 10).await.unwrap();
    assert_eq!(p.invoices, 0, "{:?}", p.planned);
    let d = dunning::run(ctx, &system, today).await.unwrap();
    assert_eq!(d, Default::default(), "dunning as of {today}");

    // The README's RADIUS logins.
    let profile = |u: &'static str| async move { radius_sessions::auth_profile(db, t, u).await.unwrap().unwrap() };
    assert_eq!(profile("demo-pppoe").await.s_status, SubscriptionStatus::Active);
    assert_eq!(profile("demo-pppoe").await.open_sessions, 0);
    assert_eq!(profile("demo-suspended").await.s_status, SubscriptionStatus::Suspended);
    let capped = profile("demo-capped").await;
    let (start, _) = capped.period(today).unwrap();
    let (octets, _) = capped.used_in(start);
    assert!(octets >= capped.plan.data_quota_bytes.unwrap(), "demo-capped has used up its quota: {octets}");
}

#[tokio::test]
async fn the_demo_history_holds_together_on_any_day_on_sqlite() {
    // Noon in New York; a month end after a leap February; ten past midnight on the 1st (the
    // day's steps all squeezed before now); the day daylight saving time ends.
    let days = [
        Utc.with_ymd_and_hms(2024, 3, 31, 16, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2025, 3, 1, 5, 10, 0).unwrap(),
        Utc.with_ymd_and_hms(2025, 11, 2, 14, 0, 0).unwrap(),
    ];
    for at in days {
        let dir = scratch();
        let ctx = open("", &dir, at).await;
        check(&ctx).await;
        ctx.db.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[tokio::test]
async fn the_demo_history_holds_together_on_postgres() {
    let Some(url) = std::env::var("TEST_DATABASE_URL").ok().filter(|u| u.starts_with("postgres")) else {
        eprintln!("skipped: needs TEST_DATABASE_URL");
        return;
    };
    // A schema of its own, dropped afterwards: the shared database may hold a demo already.
    let admin = Db::connect(&url, 1).await.unwrap();
    let schema = format!("isp_seed_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
    admin.execute(&format!("CREATE SCHEMA {schema}"), &[]).await.unwrap();
    for ext in ["pg_trgm", "unaccent"] {
        admin.execute(&format!("CREATE EXTENSION IF NOT EXISTS {ext} SCHEMA public"), &[]).await.unwrap();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    let scoped = format!("{url}{sep}options=-c%20search_path%3D{schema},public");
    let dir = scratch();
    let ctx = open(&scoped, &dir, Utc.with_ymd_and_hms(2024, 3, 31, 16, 0, 0).unwrap()).await;
    check(&ctx).await;
    ctx.db.close().await;
    admin.execute(&format!("DROP SCHEMA {schema} CASCADE"), &[]).await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
