//! One-off charges (installation, equipment, goodwill credits) for a customer's next invoice.

use crate::auth::{Action, Actor};
use crate::billing::charges::{self, Charge};
use crate::billing::{lock_customer, LineKind};
use crate::effects::Effects;
use crate::error::{CoreError, CoreResult};
use crate::store::subscriptions;
use crate::{validate, Ctx};
use serde_json::json;

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
    validate::text(description, 200).map_err(|m| CoreError::validation("description", m))?;
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
        let owner = match subscriptions::get(&mut tx, t, s).await {
            Ok(sub) => Some(sub.customer_id),
            Err(CoreError::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        if owner != Some(customer_id) {
            return Err(CoreError::validation("subscriptionId", "no such subscription of this customer"));
        }
    }
    let class = tax_class.unwrap_or("standard");
    let c = charges::insert(
        &mut tx,
        t,
        customer_id,
        subscription_id,
        LineKind::OneOff,
        description.trim(),
        amount,
        class,
        now,
    )
    .await?;
    let details = json!({"customerId": customer_id, "amount": amount, "description": c.description});
    Effects::new(ctx, actor, now).audit("charge.create", "Charge", Some(c.id), details).write(&mut tx).await?;
    tx.commit().await?;
    Ok(c)
}
