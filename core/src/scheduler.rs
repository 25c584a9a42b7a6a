//! The background loop of `isp serve`: billing, then dunning, for every tenant on its own
//! calendar, and the helpdesk's SLA sweep on every round.
//!
//! "Today" is the tenant's local date ([`crate::billing::local_date`] in its IANA time zone), so a
//! tenant in Auckland is billed for the 1st while one in Los Angeles is still on the 31st.
//! Safe to run in several processes at once and to repeat: billing never bills a cycle
//! twice and dunning records each step once (database constraints, see [`crate::billing`]).
//!
//! A driver, like the API: it calls the billing run and the dunning use case, it is not one.

use crate::auth::Actor;
use crate::billing::{dunning, local_date, run, tenant_today};
use crate::error::{CoreError, CoreResult};
use crate::store::tenants;
use crate::workflows;
use crate::Ctx;
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::HashMap;
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
    let dunned = workflows::dunning::run(ctx, &actor, as_of).await?;
    Ok(TenantDay { invoices: billed.invoices, dunning: dunned })
}

/// Runs [`run_tenant`] for tenant `tenant_id` as of its local date now; returns that date.
pub async fn run_tenant_today(ctx: &Ctx, tenant_id: i64) -> CoreResult<(NaiveDate, TenantDay)> {
    let today = tenant_today(ctx, tenant_id).await?;
    Ok((today, run_tenant(ctx, tenant_id, today).await?))
}

/// The tenants whose local date at `now` differs from the date recorded for them in `done`
/// (every tenant on the first call), each with its local date. `tenants` is (id, time zone).
pub fn due(now: DateTime<Utc>, tenants: &[(i64, String)], done: &HashMap<i64, NaiveDate>) -> Vec<(i64, NaiveDate)> {
    tenants
        .iter()
        .map(|(id, zone)| (*id, local_date(now, zone)))
        .filter(|(id, day)| done.get(id) != Some(day))
        .collect()
}

/// Runs every [`due`] tenant for its local date and records the date in `done` once the run
/// succeeded; a failing tenant is logged, left out of `done` (so the next check retries it)
/// and the others go on. Returns how many tenants failed.
pub async fn run_due(ctx: &Ctx, done: &mut HashMap<i64, NaiveDate>) -> CoreResult<usize> {
    let tenants = tenants::zones(&ctx.db).await?;
    let mut failed = 0;
    for (id, as_of) in due(ctx.clock.now(), &tenants, done) {
        if ctx.shutdown.is_cancelled() {
            break;
        }
        match run_tenant(ctx, id, as_of).await {
            Ok(day) => {
                if day.invoices > 0 || day.dunning != Default::default() {
                    tracing::info!(tenant = id, invoices = day.invoices, summary = %dunning::describe(&day.dunning, as_of), "daily billing");
                }
                done.insert(id, as_of);
            }
            Err(CoreError::Unavailable(why)) if ctx.shutdown.is_cancelled() => {
                tracing::info!(tenant = id, as_of = %as_of, %why, "daily billing stopped for shutdown; the next start goes on");
                break;
            }
            Err(e) => {
                failed += 1;
                tracing::error!(tenant = id, as_of = %as_of, error = %e, "daily billing failed; the next check retries");
            }
        }
    }
    Ok(failed)
}

/// Runs the helpdesk's SLA sweep ([`workflows::tickets::sweep`]) for every tenant at the
/// clock's now: breach and at-risk flags, escalations; and raises the tickets for failing
/// logins ([`workflows::tickets::login_failures`]). A failing tenant is logged and the
/// others go on; returns how many failed.
pub async fn sweep_helpdesk(ctx: &Ctx) -> CoreResult<usize> {
    let mut failed = 0;
    for (id, _) in tenants::zones(&ctx.db).await? {
        if ctx.shutdown.is_cancelled() {
            break;
        }
        match workflows::tickets::sweep(ctx, id).await {
            Ok(s) if s.changed > 0 => {
                tracing::info!(
                    tenant = id,
                    breached = s.breached,
                    escalated = s.escalated,
                    changed = s.changed,
                    "SLA sweep"
                )
            }
            Ok(_) => {}
            Err(e) => {
                failed += 1;
                tracing::error!(tenant = id, error = %e, "SLA sweep failed; the next check retries");
            }
        }
        match workflows::tickets::login_failures(ctx, id).await {
            Ok(raised) if !raised.is_empty() => {
                tracing::info!(tenant = id, tickets = raised.len(), "tickets raised for failing logins")
            }
            Ok(_) => {}
            Err(e) => {
                failed += 1;
                tracing::error!(tenant = id, error = %e, "login-failure check failed; the next check retries");
            }
        }
    }
    Ok(failed)
}

/// Runs [`run_due`] and [`sweep_helpdesk`] at start and every `check_every` after, until
/// `shutdown` resolves: each tenant is billed once per local day, soon after its midnight,
/// and its tickets' SLAs are checked on every round.
pub async fn run_daily(ctx: Ctx, check_every: Duration, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut done = HashMap::new();
    loop {
        if let Err(e) = run_due(&ctx, &mut done).await {
            tracing::error!(error = %e, "daily billing could not list tenants; retrying");
        }
        if ctx.shutdown.is_cancelled() {
            return;
        }
        if let Err(e) = sweep_helpdesk(&ctx).await {
            tracing::error!(error = %e, "SLA sweep could not list tenants; retrying");
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(check_every) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// `isp serve` spawns the loop on the runtime, so its future must be `Send + 'static`.
    #[allow(dead_code)]
    fn daily_loop_can_be_spawned(ctx: crate::Ctx) {
        fn spawnable<T: std::future::Future + Send + 'static>(_: T) {}
        spawnable(super::run_daily(ctx, std::time::Duration::from_secs(900), async {}));
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn each_tenant_is_due_once_per_local_day() {
        let tenants = vec![(1, "Pacific/Auckland".to_string()), (2, "America/Los_Angeles".to_string())];
        // 2024-01-31 11:30 UTC: 00:30 on Feb 1 in Auckland, 03:30 on Jan 31 in Los Angeles.
        let t0 = Utc.with_ymd_and_hms(2024, 1, 31, 11, 30, 0).unwrap();
        let mut done = HashMap::new();
        assert_eq!(due(t0, &tenants, &done), vec![(1, d("2024-02-01")), (2, d("2024-01-31"))]);
        done.extend(due(t0, &tenants, &done));
        assert!(due(t0, &tenants, &done).is_empty());
        // Twenty hours later it is 23:30 on Jan 31 in Los Angeles: nobody is due yet.
        let t1 = t0 + chrono::Duration::hours(20);
        assert!(due(t1, &tenants, &done).is_empty());
        // An hour later Los Angeles enters Feb 1; Auckland (21:30 on Feb 1) has already run it.
        let t2 = t1 + chrono::Duration::hours(1);
        assert_eq!(due(t2, &tenants, &done), vec![(2, d("2024-02-01"))]);
    }
}
