//! The daily job of `isp serve`: billing, then dunning, for every tenant.
//!
//! Safe to run in several processes at once and to repeat: billing never bills a cycle
//! twice and dunning records each step once (database constraints, see [`super`]).

use super::{dunning, run};
use crate::auth::Actor;
use crate::error::CoreResult;
use crate::Ctx;
use chrono::NaiveDate;
use std::future::Future;
use std::time::Duration;

/// What one tenant's daily job did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantDay {
    /// Invoices created.
    pub invoices: usize,
    /// Dunning counts.
    pub dunning: dunning::DunningOutcome,
}

/// Runs billing and then dunning for tenant `tenant_id` as of `as_of`.
pub async fn run_tenant(ctx: &Ctx, tenant_id: i64, as_of: NaiveDate) -> CoreResult<TenantDay> {
    let actor = Actor::system(tenant_id, "billing-daily");
    let billed = run::run(ctx, &actor, as_of).await?;
    let dunned = dunning::run(ctx, &actor, as_of).await?;
    Ok(TenantDay { invoices: billed.invoices, dunning: dunned })
}

/// Runs [`run_tenant`] for every tenant; a failing tenant is logged and the others go on.
/// Returns how many tenants failed.
pub async fn run_all(ctx: &Ctx, as_of: NaiveDate) -> CoreResult<usize> {
    let tenants: Vec<(i64,)> = sqlx::query_as("SELECT id FROM tenants ORDER BY id").fetch_all(ctx.db.x()).await?;
    let mut failed = 0;
    for (id,) in tenants {
        match run_tenant(ctx, id, as_of).await {
            Ok(day) if day.invoices > 0 || day.dunning != Default::default() => {
                tracing::info!(tenant = id, invoices = day.invoices, summary = %dunning::describe(&day.dunning, as_of), "daily billing");
            }
            Ok(_) => {}
            Err(e) => {
                failed += 1;
                tracing::error!(tenant = id, error = %e, "daily billing failed; the next run retries");
            }
        }
    }
    Ok(failed)
}

/// Runs [`run_all`] at start and again whenever the (injected) clock enters a new UTC day,
/// checking every `check_every`, until `shutdown` resolves.
pub async fn run_daily(ctx: Ctx, check_every: Duration, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut last: Option<NaiveDate> = None;
    loop {
        let today = ctx.clock.now().date_naive();
        if last != Some(today) {
            match run_all(&ctx, today).await {
                Ok(_) => last = Some(today),
                Err(e) => tracing::error!(error = %e, "daily billing could not list tenants; retrying"),
            }
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(check_every) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    /// `isp serve` spawns the loop on the runtime, so its future must be `Send + 'static`.
    #[allow(dead_code)]
    fn daily_loop_can_be_spawned(ctx: crate::Ctx) {
        fn spawnable<T: std::future::Future + Send + 'static>(_: T) {}
        spawnable(super::run_daily(ctx, std::time::Duration::from_secs(900), async {}));
    }
}
