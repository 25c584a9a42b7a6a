//! One-off charges for the next invoice, and the prorated adjustments of a plan change or a
//! cancellation in the middle of a cycle (see [`super::proration`] for the rounding rule).

use super::proration::{days, prorate, Cycle};
use super::{fmt_date, lock_customer, parse_date, settings, LineKind};
use crate::auth::{Action, Actor};
use crate::db::{query, query_as, FromRow, Tx};
use crate::error::{CoreError, CoreResult};
use crate::events::{Event, EventKind};
use crate::store::audit;
use crate::store::plans::BillingPeriod;
use crate::store::subscriptions::SubscriptionStatus;
use crate::Ctx;
use chrono::NaiveDate;
use serde_json::json;

/// A charge waiting for (or included in) an invoice.
#[derive(Debug, Clone, FromRow)]
pub struct Charge {
    /// Row id.
    pub id: i64,
    /// Customer.
    pub customer_id: i64,
    /// Subscription it concerns.
    pub subscription_id: Option<i64>,
    /// ONE_OFF or ADJUSTMENT.
    pub kind: LineKind,
    /// Text on the invoice.
    pub description: String,
    /// Amount (negative for a credit).
    pub amount_minor: i64,
    /// Tax class.
    pub tax_class: String,
    /// Invoice that billed it.
    pub invoice_id: Option<i64>,
}

#[allow(clippy::too_many_arguments)]
async fn insert(
    tx: &mut Tx,
    t: i64,
    customer_id: i64,
    subscription_id: Option<i64>,
    kind: LineKind,
    description: &str,
    amount: i64,
    tax_class: &str,
    now: i64,
) -> CoreResult<Charge> {
    query_as::<Charge>(
        "INSERT INTO charges (tenant_id, customer_id, subscription_id, kind, description, amount_minor, tax_class, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         RETURNING id, customer_id, subscription_id, kind, description, amount_minor, tax_class, invoice_id",
    )
    .bind(t)
    .bind(customer_id)
    .bind(subscription_id)
    .bind(kind)
    .bind(description)
    .bind(amount)
    .bind(tax_class)
    .bind(now)
    .fetch_one(&mut *tx)
    .await
}

/// Adds a one-off charge (installation, equipment; negative for a goodwill credit) to the
/// customer's next invoice.
pub async fn add(
    ctx: &Ctx,
    actor: &Actor,
    customer_id: i64,
    subscription_id: Option<i64>,
    description: &str,
    amount: i64,
    tax_class: Option<&str>,
) -> CoreResult<Charge> {
    actor.require(Action::BillingRun)?;
    crate::validate::text(description, 200).map_err(|m| CoreError::validation("description", m))?;
    if amount == 0 {
        return Err(CoreError::validation("amountMinor", "must not be zero"));
    }
    let t = actor.tenant_id;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    lock_customer(&mut tx, t, customer_id)
        .await
        .map_err(|_| CoreError::validation("customerId", "no such customer"))?;
    if let Some(s) = subscription_id {
        let owner: Option<(i64,)> = query_as("SELECT customer_id FROM subscriptions WHERE tenant_id = $1 AND id = $2")
            .bind(t)
            .bind(s)
            .fetch_optional(&mut tx)
            .await?;
        if owner.map(|o| o.0) != Some(customer_id) {
            return Err(CoreError::validation("subscriptionId", "no such subscription of this customer"));
        }
    }
    let class = tax_class.unwrap_or("standard");
    let c = insert(&mut tx, t, customer_id, subscription_id, LineKind::OneOff, description.trim(), amount, class, now)
        .await?;
    let details = json!({"customerId": customer_id, "amount": amount, "description": c.description});
    audit::record(&mut tx, actor, "charge.create", "Charge", Some(c.id), details, now).await?;
    tx.commit().await?;
    Ok(c)
}

/// What billing knows about one subscription and its current plan.
#[derive(FromRow)]
struct SubPlan {
    customer_id: i64,
    start_date: String,
    status: SubscriptionStatus,
    access_type: String,
    plan_id: i64,
    plan_name: String,
    price_minor: i64,
    billing_period: BillingPeriod,
    tax_class: String,
    billed_until: Option<String>,
}

async fn sub_plan(tx: &mut Tx, t: i64, id: i64) -> CoreResult<SubPlan> {
    query_as::<SubPlan>(
        "SELECT s.customer_id, s.start_date, s.status, s.access_type, s.plan_id, p.name AS plan_name, p.price_minor, \
         p.billing_period, p.tax_class, \
         (SELECT MAX(b.period_end) FROM billed_periods b WHERE b.tenant_id = s.tenant_id AND b.subscription_id = s.id) AS billed_until \
         FROM subscriptions s JOIN plans p ON p.tenant_id = s.tenant_id AND p.id = s.plan_id WHERE s.tenant_id = $1 AND s.id = $2",
    )
    .bind(t)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(CoreError::NotFound("subscription"))
}

/// Where `day` falls in a subscription's billing: the full cycle around it and whether
/// that day is already billed (prepaid) and until when.
struct Position {
    cycle_days: i64,
    /// Billed through this date (exclusive), when `day` lies in a billed cycle.
    billed_end: Option<NaiveDate>,
    /// Start of the unbilled part of the cycle around `day`.
    unbilled_from: NaiveDate,
}

async fn position(tx: &mut Tx, t: i64, id: i64, sp: &SubPlan, day: NaiveDate) -> CoreResult<Position> {
    let s = settings::get_in(tx, t).await?;
    let cycle = Cycle::new(parse_date("startDate", &sp.start_date)?, s.fixed_day(), sp.billing_period);
    let (fs, fe) = cycle.containing(day);
    let billed: Option<(String,)> = query_as(
        "SELECT period_end FROM billed_periods WHERE tenant_id = $1 AND subscription_id = $2 AND period_start <= $3 AND period_end > $3",
    )
    .bind(t)
    .bind(id)
    .bind(fmt_date(day))
    .fetch_optional(&mut *tx)
    .await?;
    let billed_end = billed.map(|b| parse_date("periodEnd", &b.0)).transpose()?;
    let unbilled_from = match &sp.billed_until {
        Some(u) => parse_date("billedUntil", u)?.max(fs),
        None => parse_date("startDate", &sp.start_date)?.max(fs),
    };
    Ok(Position { cycle_days: days(fs, fe), billed_end, unbilled_from })
}

/// The plan a subscription moves to, as proration sees it.
#[derive(FromRow)]
struct NewPlan {
    name: String,
    price_minor: i64,
    billing_period: BillingPeriod,
    tax_class: String,
    active: i64,
    access_types: String,
}

async fn new_plan(tx: &mut Tx, t: i64, plan_id: i64) -> CoreResult<NewPlan> {
    query_as::<NewPlan>(
        "SELECT name, price_minor, billing_period, tax_class, active, access_types FROM plans WHERE tenant_id = $1 AND id = $2",
    )
    .bind(t)
    .bind(plan_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| CoreError::validation("planId", "no such plan"))
}

/// Writes the adjustments of moving subscription `id` (`sp`) to plan `new` on `day` as
/// charges for the next invoice. Billed already: a credit for the old plan's unused days and
/// a charge for the new plan's, each rounded once. Not billed yet: the run bills the whole
/// cycle at the new price, so the used days are moved back to the old price. Nothing billed
/// and nothing used (a change before the start): no adjustment, whatever the plan.
async fn adjustments(
    tx: &mut Tx,
    t: i64,
    id: i64,
    sp: &SubPlan,
    new: &NewPlan,
    day: NaiveDate,
    now: i64,
) -> CoreResult<Vec<Charge>> {
    let pos = position(tx, t, id, sp, day).await?;
    let n = pos.cycle_days;
    let (span, sign, from, to) = match pos.billed_end {
        Some(end) => (days(day, end), 1, day, end),
        None => (days(pos.unbilled_from, day).max(0), -1, pos.unbilled_from, day),
    };
    let mut out = Vec::new();
    if span <= 0 {
        return Ok(out);
    }
    if new.billing_period != sp.billing_period {
        return Err(CoreError::validation("planId", "a prorated change needs a plan with the same billing period"));
    }
    let range = format!("{} to {}", from, to - chrono::Duration::days(1));
    let lines = [
        (
            -sign * prorate(sp.price_minor, span, n),
            format!("{} {} {range}", sp.plan_name, if sign == 1 { "unused" } else { "used" }),
            &sp.tax_class,
        ),
        (sign * prorate(new.price_minor, span, n), format!("{} {range}", new.name), &new.tax_class),
    ];
    for (amount, text, class) in lines {
        if amount == 0 {
            continue;
        }
        let desc = if amount < 0 { format!("Credit: {text}") } else { format!("Plan change: {text}") };
        out.push(insert(tx, t, sp.customer_id, Some(id), LineKind::Adjustment, &desc, amount, class, now).await?);
    }
    Ok(out)
}

/// Moves subscription `id` to plan `plan_id` from `effective` (default today), charging
/// the difference for the rest of the cycle: a credit for the old plan's unused days and a
/// charge for the new plan's, each rounded once, on the next invoice.
pub async fn change_plan(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    plan_id: i64,
    effective: Option<&str>,
) -> CoreResult<Vec<Charge>> {
    actor.require(Action::SubscriptionWrite)?;
    let t = actor.tenant_id;
    let now = ctx.now_ms();
    let day = match effective {
        Some(d) => parse_date("effectiveDate", d)?,
        None => super::tenant_today(ctx, t).await?,
    };
    let mut tx = ctx.db.begin().await?;
    let sp = sub_plan(&mut tx, t, id).await?;
    lock_customer(&mut tx, t, sp.customer_id).await?;
    if sp.status == SubscriptionStatus::Cancelled {
        return Err(CoreError::conflict("id", "subscription is cancelled"));
    }
    let new = new_plan(&mut tx, t, plan_id).await?;
    if new.active == 0 {
        return Err(CoreError::validation("planId", "plan is archived"));
    }
    if !new.access_types.split(',').any(|a| a == sp.access_type) {
        return Err(CoreError::validation("planId", format!("plan does not allow {}", sp.access_type)));
    }
    let mut out = Vec::new();
    if plan_id != sp.plan_id {
        out = adjustments(&mut tx, t, id, &sp, &new, day, now).await?;
        query("UPDATE subscriptions SET plan_id = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4")
            .bind(plan_id)
            .bind(now)
            .bind(t)
            .bind(id)
            .execute(&mut tx)
            .await?;
        let details = json!({"planId": {"from": sp.plan_id, "to": plan_id}, "effective": fmt_date(day),
            "adjustments": out.iter().map(|c| c.amount_minor).collect::<Vec<_>>()});
        audit::record(&mut tx, actor, "subscription.planChange", "Subscription", Some(id), details, now).await?;
    }
    tx.commit().await?;
    ctx.events.publish(Event { tenant_id: t, kind: EventKind::SubscriptionChanged, object_id: id });
    Ok(out)
}

/// The proration of `updateSubscription` moving subscription `id` to plan `plan_id` today
/// (the tenant's local date),
/// inside the caller's transaction and before it changes the plan: the same adjustments as
/// [`change_plan`] (which also takes an effective date). The caller has validated the plan.
pub async fn prorate_plan_change(ctx: &Ctx, tx: &mut Tx, t: i64, id: i64, plan_id: i64) -> CoreResult<Vec<Charge>> {
    let sp = sub_plan(tx, t, id).await?;
    if sp.plan_id == plan_id || sp.status == SubscriptionStatus::Cancelled {
        return Ok(Vec::new());
    }
    lock_customer(tx, t, sp.customer_id).await?;
    let new = new_plan(tx, t, plan_id).await?;
    let today = super::tenant_today_in(ctx, tx, t).await?;
    adjustments(tx, t, id, &sp, &new, today, ctx.now_ms()).await
}

/// Cancels subscription `id` from `effective` (default today): the unused days of a billed
/// cycle are credited, or the used days of an unbilled one are charged, on the next invoice.
pub async fn cancel(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    effective: Option<&str>,
    reason: Option<&str>,
) -> CoreResult<Option<Charge>> {
    actor.require(Action::SubscriptionStatus)?;
    let t = actor.tenant_id;
    let now = ctx.now_ms();
    let day = match effective {
        Some(d) => parse_date("effectiveDate", d)?,
        None => super::tenant_today(ctx, t).await?,
    };
    if let Some(r) = reason {
        crate::validate::text(r, 500).map_err(|m| CoreError::validation("reason", m))?;
    }
    let mut tx = ctx.db.begin().await?;
    let sp = sub_plan(&mut tx, t, id).await?;
    lock_customer(&mut tx, t, sp.customer_id).await?;
    if !sp.status.can_become(SubscriptionStatus::Cancelled) {
        return Err(CoreError::conflict("status", format!("a {} subscription cannot become CANCELLED", sp.status)));
    }
    let pos = position(&mut tx, t, id, &sp, day).await?;
    let (amount, desc) = match pos.billed_end {
        Some(end) => {
            let span = days(day, end);
            let last = end - chrono::Duration::days(1);
            (-prorate(sp.price_minor, span, pos.cycle_days), format!("Credit: {} unused {day} to {last}", sp.plan_name))
        }
        None => {
            let span = days(pos.unbilled_from, day).max(0);
            let last = day - chrono::Duration::days(1);
            (
                prorate(sp.price_minor, span, pos.cycle_days),
                format!("{} {} to {last} (final, prorated)", sp.plan_name, pos.unbilled_from),
            )
        }
    };
    let charge = if amount != 0 && sp.status != SubscriptionStatus::Pending {
        Some(
            insert(&mut tx, t, sp.customer_id, Some(id), LineKind::Adjustment, &desc, amount, &sp.tax_class, now)
                .await?,
        )
    } else {
        None
    };
    query("UPDATE subscriptions SET status = $1, status_reason = $2, updated_at = $3 WHERE tenant_id = $4 AND id = $5")
        .bind(SubscriptionStatus::Cancelled)
        .bind(reason.map(str::trim))
        .bind(now)
        .bind(t)
        .bind(id)
        .execute(&mut tx)
        .await?;
    let details = json!({"from": sp.status, "to": "CANCELLED", "effective": fmt_date(day), "adjustment": amount});
    audit::record(&mut tx, actor, "subscription.status", "Subscription", Some(id), details, now).await?;
    tx.commit().await?;
    ctx.events.publish(Event { tenant_id: t, kind: EventKind::SubscriptionChanged, object_id: id });
    Ok(charge)
}

/// The customer's charges not yet on an invoice.
pub async fn pending(db: &crate::db::Db, t: i64, customer_id: i64) -> CoreResult<Vec<Charge>> {
    query_as::<Charge>(
        "SELECT id, customer_id, subscription_id, kind, description, amount_minor, tax_class, invoice_id FROM charges \
         WHERE tenant_id = $1 AND customer_id = $2 AND invoice_id IS NULL ORDER BY id",
    )
    .bind(t)
    .bind(customer_id)
    .fetch_all(db)
    .await
}
