//! Writing a validated import: the new customers and subscriptions in chunks (each its own
//! bulk transaction that also advances the import's progress and publishes an IMPORT change),
//! then the updates, the audit entry and the final status in one last transaction. Any error
//! removes what the import had written (its rows carry its id) and marks it FAILED, so an
//! import is all or nothing.

use super::rows::{Create, Update};
use crate::auth::Actor;
use crate::billing::charges;
use crate::billing::LineKind;
use crate::db::Tx;
use crate::effects::Effects;
use crate::error::{CoreError, CoreResult};
use crate::events::EventKind;
use crate::store::imports::{self, ImportStatus, NewSubscription};
use crate::store::{customers, plans, subscription_history, subscriptions};
use crate::workflows::subscriptions::{check_fields, check_plan};
use crate::Ctx;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// Rows per chunk: one multi-row statement per table, small enough for PostgreSQL's
/// parameter limit, large enough that 100k rows are a hundred transactions.
pub const CHUNK: usize = 1000;

/// What a finished commit wrote.
#[derive(Debug, Clone, Copy, Default)]
pub struct Written {
    /// Customers (with their subscriptions) created.
    pub created: i64,
    /// Existing records updated.
    pub updated: i64,
}

/// Progress callback: (rows done, rows total).
pub type Progress = Arc<dyn Fn(i64, i64) + Send + Sync>;

/// Writes `creates` and `updates` as import `import_id`, all or nothing.
pub async fn write(
    ctx: &Ctx,
    actor: &Actor,
    import_id: i64,
    creates: Vec<Create>,
    updates: Vec<Update>,
    details: serde_json::Value,
    progress: Progress,
) -> CoreResult<Written> {
    match write_all(ctx, actor, import_id, creates, updates, details, progress).await {
        Ok(w) => Ok(w),
        Err(e) => {
            let t = actor.tenant_id;
            let now = ctx.now_ms();
            let reason = e.to_string();
            // Remove whatever the earlier chunks wrote, and say why it failed.
            let mut tx = ctx.db.begin().await?;
            imports::delete_created(&mut tx, t, import_id).await?;
            imports::finish(&mut tx, t, import_id, ImportStatus::Failed, Some(&reason), now).await?;
            Effects::new(ctx, actor, now)
                .audit("import.fail", "Import", Some(import_id), json!({"error": reason}))
                .event(EventKind::ImportChanged, import_id)
                .write(&mut tx)
                .await?;
            tx.commit().await?;
            Err(e)
        }
    }
}

async fn write_all(
    ctx: &Ctx,
    actor: &Actor,
    import_id: i64,
    mut creates: Vec<Create>,
    updates: Vec<Update>,
    details: serde_json::Value,
    progress: Progress,
) -> CoreResult<Written> {
    let total = (creates.len() + updates.len()) as i64;
    let t = actor.tenant_id;
    let today = crate::billing::fmt_date(crate::billing::tenant_today(ctx, t).await?);
    let mut done = 0i64;
    let mut out = Written::default();
    while !creates.is_empty() {
        if ctx.shutdown.is_cancelled() {
            return Err(CoreError::Unavailable("shutting down; the import was removed, run it again".into()));
        }
        let rest = creates.split_off(creates.len().min(CHUNK));
        let chunk = std::mem::replace(&mut creates, rest);
        let n = chunk.len() as i64;
        let (c, a, today) = (ctx.clone(), actor.clone(), today.clone());
        ctx.db
            .bulk(move |tx| Box::pin(async move { write_chunk(&c, &a, tx, import_id, &chunk, &today).await }))
            .await?;
        done += n;
        out.created += n;
        progress(done, total);
    }
    // Updates and the end of the import in one transaction: nothing is overwritten unless
    // everything else is written.
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    for u in &updates {
        update_one(ctx, &mut tx, t, u, &today, now).await.map_err(|e| match e {
            CoreError::Validation { field, message } | CoreError::Conflict { field, message } => {
                CoreError::conflict("file", format!("row {}: {field}: {message}", u.line))
            }
            other => other,
        })?;
    }
    out.updated = updates.len() as i64;
    imports::add_progress(&mut tx, t, import_id, out.updated, 0, out.updated).await?;
    imports::finish(&mut tx, t, import_id, ImportStatus::Done, None, now).await?;
    let mut details = details;
    details["created"] = json!(out.created);
    details["updated"] = json!(out.updated);
    Effects::new(ctx, actor, now)
        .audit("import.commit", "Import", Some(import_id), details)
        .event(EventKind::ImportChanged, import_id)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    progress(total, total);
    Ok(out)
}

/// One chunk of new customers with their subscriptions and opening balances.
async fn write_chunk(
    ctx: &Ctx,
    actor: &Actor,
    tx: &mut Tx,
    import_id: i64,
    chunk: &[Create],
    today: &str,
) -> CoreResult<()> {
    let t = actor.tenant_id;
    let now = ctx.now_ms();
    let generated = chunk.iter().filter(|c| c.account.is_none()).count() as i64;
    let mut next = if generated > 0 { imports::reserve_customer_numbers(tx, t, generated).await? } else { 0 };
    let numbers: Vec<String> = chunk
        .iter()
        .map(|c| {
            c.account.clone().unwrap_or_else(|| {
                next += 1;
                format!("C{:06}", next - 1)
            })
        })
        .collect();
    let rows: Vec<(String, &customers::CustomerFields)> =
        numbers.iter().cloned().zip(chunk.iter().map(|c| &c.customer)).collect();
    let ids: HashMap<String, i64> =
        imports::insert_customers(tx, t, import_id, &rows, now).await?.into_iter().map(|(id, n)| (n, id)).collect();
    let customer_of =
        |i: usize| ids.get(&numbers[i]).copied().ok_or_else(|| CoreError::internal("import: customer id missing"));
    let mut subs = Vec::with_capacity(chunk.len());
    for (i, c) in chunk.iter().enumerate() {
        subs.push(NewSubscription {
            customer_id: customer_of(i)?,
            fields: &c.sub,
            status: c.status,
            start_date: c.start_date.as_deref().unwrap_or(today),
        });
    }
    let sub_ids = imports::insert_subscriptions(tx, t, import_id, &subs, now).await?;
    let first = sub_ids.iter().map(|(id, _)| *id).min().unwrap_or(0);
    let last = sub_ids.iter().map(|(id, _)| *id).max().unwrap_or(-1);
    subscription_history::record_import(tx, t, import_id, (first, last), now).await?;
    for (i, c) in chunk.iter().enumerate() {
        if let Some(b) = c.balance {
            // The balance carried over from the old system, on the next invoice, untaxed
            // (tax was charged by the old system when it invoiced).
            let kind = if b > 0 { LineKind::OneOff } else { LineKind::Credit };
            charges::insert(tx, t, customer_of(i)?, None, kind, "Opening balance", b, "exempt", now).await?;
        }
    }
    imports::add_progress(tx, t, import_id, chunk.len() as i64, chunk.len() as i64, 0).await?;
    Effects::new(ctx, actor, now).event(EventKind::ImportChanged, import_id).write(tx).await?;
    Ok(())
}

/// Overwrites one existing customer and subscription with what a row sets, through the
/// same checks as `updateCustomer` / `updateSubscription`, and records a change of the
/// subscription's plan or status in its history as they do.
async fn update_one(ctx: &Ctx, tx: &mut Tx, t: i64, u: &Update, today: &str, now: i64) -> CoreResult<()> {
    let cur = customers::get(&mut *tx, t, u.customer_id).await?;
    let fields = u.customer.checked(Some(&cur))?;
    customers::update(tx, t, u.customer_id, &fields, now).await?;
    let cur = subscriptions::get(&mut *tx, t, u.subscription_id).await?;
    let f = check_fields(&u.sub, Some(&cur), &|pw| ctx.secrets.cipher.encrypt(subscriptions::PASSWORD_CONTEXT, pw))?;
    let plan = plans::get(&mut *tx, t, f.plan_id).await?;
    check_plan(&plan, f.access_type, cur.plan_id != plan.id)?;
    subscriptions::update(tx, t, u.subscription_id, &f, now).await?;
    subscription_history::record(tx, t, u.subscription_id, today, now).await?;
    Ok(())
}
