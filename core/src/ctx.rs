//! The process-wide context every part shares: database, clock, secrets, events, metrics.

use crate::clock::SharedClock;
use crate::config::Config;
use crate::db::Db;
use crate::error::CoreResult;
use crate::events::EventBus;
use crate::metrics::Metrics;
use crate::password::HashCost;
use crate::secrets::Secrets;
use std::sync::Arc;

/// Shared handles; cheap to clone.
#[derive(Clone)]
pub struct Ctx {
    /// Database pool.
    pub db: Db,
    /// Source of the current time.
    pub clock: SharedClock,
    /// Master-key cipher and token key.
    pub secrets: Secrets,
    /// Change notifications.
    pub events: EventBus,
    /// Effective configuration.
    pub config: Arc<Config>,
    /// Process metrics.
    pub metrics: Arc<Metrics>,
    /// Wakes the in-process device-job worker after a job is committed.
    pub jobs_wakeup: Arc<tokio::sync::Notify>,
    /// Wakes the in-process notification delivery worker after a message is committed.
    pub notify_wakeup: Arc<tokio::sync::Notify>,
    /// Bumped on every NAS change, so RADIUS caches in this process reload at once.
    pub nas_generation: Arc<std::sync::atomic::AtomicU64>,
    /// Cancelled when the process is asked to stop: long passes (billing, dunning, sweeps)
    /// check it between chunks and end there with UNAVAILABLE, their committed chunks kept.
    pub shutdown: tokio_util::sync::CancellationToken,
}

impl Ctx {
    /// Loads secrets, opens the database and applies pending migrations.
    pub async fn open(config: Config, clock: SharedClock) -> CoreResult<Self> {
        if config.database_url.is_empty() {
            std::fs::create_dir_all(&config.data_dir).map_err(|e| {
                crate::CoreError::internal(format!("cannot create data dir {}: {e}", config.data_dir.display()))
            })?;
        }
        let secrets = Secrets::load_or_create(&config.data_dir, &config.auth)?;
        let db = Db::connect(&config.effective_database_url(), config.db_max_connections).await?;
        let applied = db.migrate().await?;
        for m in applied {
            tracing::info!(migration = %m, "applied migration");
        }
        Ok(Self {
            db,
            clock,
            secrets,
            events: EventBus::default(),
            config: Arc::new(config),
            metrics: Arc::new(Metrics::default()),
            jobs_wakeup: Arc::new(tokio::sync::Notify::new()),
            notify_wakeup: Arc::new(tokio::sync::Notify::new()),
            nas_generation: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            shutdown: tokio_util::sync::CancellationToken::new(),
        })
    }

    /// Now, as Unix milliseconds, from the injected clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// UNAVAILABLE when the process is stopping: called by long passes between chunks.
    pub fn check_running(&self, what: &str) -> crate::CoreResult<()> {
        if self.shutdown.is_cancelled() {
            return Err(crate::CoreError::Unavailable(format!("shutting down; {what} stopped between chunks")));
        }
        Ok(())
    }

    /// argon2 cost for new staff password hashes.
    pub fn hash_cost(&self) -> HashCost {
        HashCost { memory_kib: self.config.auth.argon2_memory_kib, iterations: self.config.auth.argon2_iterations }
    }
}
