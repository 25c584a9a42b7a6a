//! The benchmark's scratch store: a temporary data directory (SQLite file and secrets) or a
//! PostgreSQL database made for the run, seeded with one tenant, one plan and many customers.

use crate::year;
use anyhow::{Context, Result};
use isp_core::auth::{Actor, Role};
use isp_core::clock::SystemClock;
use isp_core::config::Config;
use isp_core::store::plans::{BillingPeriod, PlanInput};
use isp_core::store::subscriptions::AccessType;
use isp_core::store::tenants::NewTenant;
use isp_core::workflows::plans;
use isp_core::workflows::staff::{self, Registration};
use isp_core::{seed, Ctx};
use sqlx::{Connection, Executor, PgConnection};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Slug of the benchmark tenant.
pub const TENANT: &str = "bench-isp";
/// Login of the benchmark tenant's owner.
pub const OWNER_EMAIL: &str = "owner@bench-isp.example";
/// Password of the benchmark tenant's owner.
pub const OWNER_PASSWORD: &str = "bench-password";
/// argon2 memory cost for the run: the bench measures reads, not password hashing.
pub const ARGON2_MEMORY_KIB: u32 = 64;

/// A PostgreSQL database created for one run.
pub struct PgScratch {
    /// URL of the server's `postgres` database, used to create and drop the scratch one.
    admin_url: String,
    /// Name of the scratch database.
    name: String,
}

/// A seeded store plus what a client needs to log in to it.
pub struct Fixture {
    /// Data directory the server is started with (secrets, and the SQLite file).
    pub data_dir: PathBuf,
    /// Database URL the server and the raw-SQL loop use.
    pub database_url: String,
    /// Set when running against PostgreSQL.
    pub pg: Option<PgScratch>,
    /// Tenant id of [`TENANT`].
    pub tenant_id: i64,
    /// How long inserting the customers took.
    pub seed_time: Duration,
    /// Leave everything in place afterwards.
    pub keep: bool,
}

/// `url` with its database name replaced by `db` (query parameters kept).
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let host_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match base[host_start..].find('/') {
        Some(slash) => &base[..host_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{db}?{q}"),
        None => format!("{root}/{db}"),
    }
}

/// A freshly migrated scratch store with the benchmark tenant and its owner, still open.
pub struct Opened {
    /// The fixture, not yet seeded (`seed_time` zero).
    pub fixture: Fixture,
    /// The store, opened in this process.
    pub ctx: Ctx,
    /// The tenant's owner, for the workflows that create plans, staff and devices.
    pub owner: Actor,
}

/// The benchmarks' plan: "Home 100", 34.99 a month, PPPoE.
pub fn bench_plan() -> PlanInput {
    PlanInput {
        name: "Home 100".into(),
        description: Some("Benchmark plan".into()),
        price_minor: 3_499,
        billing_period: BillingPeriod::Monthly,
        download_kbps: 100_000,
        upload_kbps: 20_000,
        burst: None,
        data_quota: None,
        time_quota_secs: None,
        access_types: vec![AccessType::Pppoe],
        ip_pool: None,
    }
}

impl Fixture {
    /// Creates the scratch store and seeds `customers` customers with one subscription each.
    pub async fn create(customers: usize, pg_url: Option<&str>, pool: u32, analyze: bool, keep: bool) -> Result<Self> {
        let Opened { mut fixture, ctx, owner } = Self::open(pg_url, pool, keep).await?;
        let plan = plans::create(&ctx, &owner, &bench_plan()).await.context("creating the plan")?;

        let started = Instant::now();
        seed::bulk(&ctx, fixture.tenant_id, plan.id, customers, "b").await.context("seeding customers")?;
        fixture.seed_time = started.elapsed();
        fixture.finish(&ctx, analyze).await?;
        Ok(fixture)
    }

    /// Creates the scratch store and seeds a year of `customers` customers into it
    /// ([`crate::year`]); `seed_time` is the whole seeding, setup included.
    pub async fn year(
        customers: usize,
        pg_url: Option<&str>,
        pool: u32,
        analyze: bool,
        keep: bool,
    ) -> Result<(Self, year::Summary)> {
        let Opened { mut fixture, ctx, owner } = Self::open(pg_url, pool, keep).await?;
        match year::seed(&ctx, &owner, customers).await {
            Ok(summary) => {
                fixture.seed_time = summary.total;
                fixture.finish(&ctx, analyze).await?;
                Ok((fixture, summary))
            }
            Err(e) => {
                ctx.db.close().await;
                drop(ctx);
                if let Err(c) = fixture.cleanup().await {
                    eprintln!("cleaning up after the failed seeding: {c:#}");
                }
                Err(e)
            }
        }
    }

    /// Creates the scratch store (a temporary data directory, and on PostgreSQL a database made
    /// for the run), migrates it and registers the benchmark tenant with its owner.
    pub async fn open(pg_url: Option<&str>, pool: u32, keep: bool) -> Result<Opened> {
        let data_dir = std::env::temp_dir().join(format!("isp-bench-{}", std::process::id()));
        if data_dir.exists() {
            std::fs::remove_dir_all(&data_dir)?;
        }
        std::fs::create_dir_all(&data_dir)?;
        let pg = match pg_url {
            Some(url) => Some(PgScratch::create(url).await?),
            None => None,
        };
        let database_url = match (&pg, pg_url) {
            (Some(p), Some(url)) => with_database(url, &p.name),
            _ => String::new(),
        };
        let mut cfg =
            Config { data_dir: data_dir.clone(), database_url, db_max_connections: pool, ..Config::default() };
        cfg.auth.argon2_memory_kib = ARGON2_MEMORY_KIB;
        cfg.auth.argon2_iterations = 1;
        let database_url = cfg.effective_database_url();
        let ctx = Ctx::open(cfg, Arc::new(SystemClock)).await.context("opening the scratch store")?;

        let reg = Registration {
            tenant: NewTenant {
                slug: TENANT.into(),
                name: "Bench ISP".into(),
                currency: "USD".into(),
                timezone: "UTC".into(),
            },
            owner_email: OWNER_EMAIL.into(),
            owner_name: "Bench Owner".into(),
            owner_password: OWNER_PASSWORD.into(),
        };
        let s = staff::create_tenant_with_owner(&ctx, &reg, None).await.context("creating the tenant")?;
        let owner =
            Actor { tenant_id: s.tenant.id, user_id: s.user.id, role: Role::Owner, name: s.user.email, ip: None };
        let fixture = Self { data_dir, database_url, pg, tenant_id: s.tenant.id, seed_time: Duration::ZERO, keep };
        Ok(Opened { fixture, ctx, owner })
    }

    /// Gathers planner statistics where a deployment would have them and closes the store.
    pub async fn finish(&self, ctx: &Ctx, analyze: bool) -> Result<()> {
        // PostgreSQL's autovacuum gathers planner statistics soon after a bulk load, so a
        // deployment has them and the run should too. SQLite never gathers any by itself:
        // only on request, to show what statistics would change.
        if analyze || ctx.db.backend() == isp_core::db::Backend::Postgres {
            ctx.db.execute("ANALYZE", &[]).await?;
        }
        ctx.db.close().await;
        Ok(())
    }

    /// Removes the data directory and drops the scratch database, unless asked to keep them.
    pub async fn cleanup(self) -> Result<()> {
        if self.keep {
            eprintln!("kept data dir {}", self.data_dir.display());
            if let Some(pg) = &self.pg {
                eprintln!("kept database {}", pg.name);
            }
            return Ok(());
        }
        if let Some(pg) = &self.pg {
            pg.drop_database().await?;
        }
        std::fs::remove_dir_all(&self.data_dir).with_context(|| format!("removing {}", self.data_dir.display()))
    }
}

impl PgScratch {
    /// Creates `isp_bench_<pid>` on the server `url` points at (dropping a leftover one).
    async fn create(url: &str) -> Result<Self> {
        let me = Self { admin_url: with_database(url, "postgres"), name: format!("isp_bench_{}", std::process::id()) };
        let mut conn = me.admin().await?;
        conn.execute(format!("DROP DATABASE IF EXISTS {}", me.name).as_str()).await?;
        conn.execute(format!("CREATE DATABASE {}", me.name).as_str()).await.context("creating the scratch database")?;
        conn.close().await?;
        Ok(me)
    }

    async fn admin(&self) -> Result<PgConnection> {
        PgConnection::connect(&self.admin_url)
            .await
            .with_context(|| format!("connecting to {}", isp_core::db::redact(&self.admin_url)))
    }

    /// Drops the scratch database, disconnecting anyone still on it.
    async fn drop_database(&self) -> Result<()> {
        let mut conn = self.admin().await?;
        conn.execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str()).await?;
        conn.close().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(with_database("postgres://u:p@h:5432/test", "x"), "postgres://u:p@h:5432/x");
        assert_eq!(with_database("postgres://h/test?sslmode=disable", "x"), "postgres://h/x?sslmode=disable");
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
        assert_eq!(with_database("postgresql://root@127.0.0.1/", "x"), "postgresql://root@127.0.0.1/x");
    }
}
