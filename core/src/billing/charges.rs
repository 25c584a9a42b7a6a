//! One-off charges for the next invoice, and the prorated adjustments of a plan change or a
//! cancellation in the middle of a cycle (see [`super::proration`] for the rounding rule).
//! The use cases that write them are in `crate::workflows` (charges, subscriptions).

use super::proration::{days, prorate, Cycle};
use super::{fmt_date, lock_customer, parse_date, settings, LineKind};
use crate::db::{query_as, Db, FromRow, Tx};
use crate::error::{CoreError, CoreResult};
use crate::store::plans::BillingPeriod;
use crate::store::subscriptions::SubscriptionStatus;
use chrono::NaiveDate;

/// A charge waiting for (or included in) an invoice.
#[derive(Debug, Clone, FromRow)]
pub struct Charge {
    /// Row id.
    pub id: i64,
    /// Customer.
    pub customer_id: i64,
    /// Subscription it concerns.
    pub subscription_id: Option<i64>,
    /// ONE_OFF, CREDIT or ADJUSTMENT.
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

/// Writes a charge for the customer's next invoice.
#[allow(clippy::too_many_arguments)]
pub async fn insert(
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

/// What billing knows about one subscription and its current plan.
#[derive(FromRow)]
pub struct SubPlan {
    /// Customer billed.
    pub customer_id: i64,
    /// Service start date.
    pub start_date: String,
    /// Status.
    pub status: SubscriptionStatus,
    /// Access type (as stored).
    pub access_type: String,
    /// Current plan.
    pub plan_id: i64,
    /// Its name.
    pub plan_name: String,
    /// Its price per cycle.
    pub price_minor: i64,
    /// Its cycle.
    pub billing_period: BillingPeriod,
    /// Its tax class.
    pub tax_class: String,
    /// End (exclusive) of the last billed cycle.
    pub billed_until: Option<String>,
}

/// Subscription `id` with its plan, as proration sees it.
pub async fn sub_plan(tx: &mut Tx, t: i64, id: i64) -> CoreResult<SubPlan> {
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
pub struct NewPlan {
    /// Name.
    pub name: String,
    /// Price per cycle.
    pub price_minor: i64,
    /// Cycle.
    pub billing_period: BillingPeriod,
    /// Tax class.
    pub tax_class: String,
    /// 1 while sellable.
    pub active: i64,
    /// Allowed access types, comma-separated.
    pub access_types: String,
}

/// Plan `plan_id` as proration sees it; VALIDATION on `planId` when there is none.
pub async fn new_plan(tx: &mut Tx, t: i64, plan_id: i64) -> CoreResult<NewPlan> {
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
pub async fn adjustments(
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

/// The proration of moving subscription `id` to plan `plan_id` on `day`, inside the caller's
/// transaction and before it changes the plan: [`adjustments`] for a subscription that is
/// not cancelled and changes plan, nothing otherwise. The caller has validated the plan.
pub async fn prorate_plan_change(
    tx: &mut Tx,
    t: i64,
    id: i64,
    plan_id: i64,
    day: NaiveDate,
    now: i64,
) -> CoreResult<Vec<Charge>> {
    let sp = sub_plan(tx, t, id).await?;
    if sp.plan_id == plan_id || sp.status == SubscriptionStatus::Cancelled {
        return Ok(Vec::new());
    }
    lock_customer(tx, t, sp.customer_id).await?;
    let new = new_plan(tx, t, plan_id).await?;
    adjustments(tx, t, id, &sp, &new, day, now).await
}

/// The final adjustment of cancelling subscription `id` (`sp`) on `day`: the unused days of
/// a billed cycle credited, or the used days of an unbilled one charged, written as a charge
/// unless it is zero or the subscription never started (PENDING). Returns the amount and the
/// charge.
pub async fn cancellation(
    tx: &mut Tx,
    t: i64,
    id: i64,
    sp: &SubPlan,
    day: NaiveDate,
    now: i64,
) -> CoreResult<(i64, Option<Charge>)> {
    let pos = position(tx, t, id, sp, day).await?;
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
        Some(insert(tx, t, sp.customer_id, Some(id), LineKind::Adjustment, &desc, amount, &sp.tax_class, now).await?)
    } else {
        None
    };
    Ok((amount, charge))
}

/// The customer's charges not yet on an invoice.
pub async fn pending(db: &Db, t: i64, customer_id: i64) -> CoreResult<Vec<Charge>> {
    query_as::<Charge>(
        "SELECT id, customer_id, subscription_id, kind, description, amount_minor, tax_class, invoice_id FROM charges \
         WHERE tenant_id = $1 AND customer_id = $2 AND invoice_id IS NULL ORDER BY id",
    )
    .bind(t)
    .bind(customer_id)
    .fetch_all(db)
    .await
}

/// One charge of the tenant, invoiced or not.
pub async fn get(db: &Db, t: i64, id: i64) -> CoreResult<Charge> {
    query_as::<Charge>(
        "SELECT id, customer_id, subscription_id, kind, description, amount_minor, tax_class, invoice_id FROM charges \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(t)
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(CoreError::NotFound("charge"))
}
