//! One-off charges (installation, equipment) and credits (goodwill, compensation) for a
//! customer's next invoice.

use crate::auth::{Action, Actor};
use crate::billing::charges::{self, Charge};
use crate::billing::{lock_customer, LineKind};
use crate::effects::Effects;
use crate::error::{CoreError, CoreResult};
use crate::store::subscriptions;
use crate::validate::{self, Sign};
use crate::Ctx;
use serde_json::json;

/// A one-off charge or credit as staff enter it.
#[derive(Debug, Clone)]
pub struct NewCharge<'a> {
    /// Customer.
    pub customer_id: i64,
    /// Subscription it concerns (of that customer).
    pub subscription_id: Option<i64>,
    /// Text on the invoice.
    pub description: &'a str,
    /// Amount of the line in minor units: positive for a charge, negative for a credit, at
    /// most [`validate::MAX_AMOUNT_MINOR`] either way.
    pub amount_minor: i64,
    /// Whether it is a credit. A negative amount is refused unless it is, so that a sign slip
    /// never turns a charge into money given away.
    pub credit: bool,
    /// Tax class (default `standard`).
    pub tax_class: Option<&'a str>,
}

/// Adds a one-off charge (kind ONE_OFF), or a credit (kind CREDIT), to the customer's next
/// invoice.
pub async fn add(ctx: &Ctx, actor: &Actor, c: &NewCharge<'_>) -> CoreResult<Charge> {
    actor.require(Action::BillingRun)?;
    validate::text(c.description, 200).map_err(|m| CoreError::validation("description", m))?;
    let (sign, kind) = if c.credit { (Sign::Negative, LineKind::Credit) } else { (Sign::Positive, LineKind::OneOff) };
    validate::amount(c.amount_minor, sign).map_err(|m| match (c.credit, c.amount_minor < 0) {
        (false, true) => {
            CoreError::validation("amountMinor", "must be positive (a credit is entered with credit: true)")
        }
        _ => CoreError::validation("amountMinor", m),
    })?;
    let t = actor.tenant_id;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    lock_customer(&mut tx, t, c.customer_id)
        .await
        .map_err(|_| CoreError::validation("customerId", "no such customer"))?;
    if let Some(s) = c.subscription_id {
        let owner = match subscriptions::get(&mut tx, t, s).await {
            Ok(sub) => Some(sub.customer_id),
            Err(CoreError::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        if owner != Some(c.customer_id) {
            return Err(CoreError::validation("subscriptionId", "no such subscription of this customer"));
        }
    }
    let class = c.tax_class.unwrap_or("standard");
    let row = charges::insert(
        &mut tx,
        t,
        c.customer_id,
        c.subscription_id,
        kind,
        c.description.trim(),
        c.amount_minor,
        class,
        now,
    )
    .await?;
    let details =
        json!({"customerId": c.customer_id, "amount": c.amount_minor, "kind": kind, "description": row.description});
    Effects::new(ctx, actor, now).audit("charge.create", "Charge", Some(row.id), details).write(&mut tx).await?;
    tx.commit().await?;
    Ok(row)
}
