//! Payments from the staff side: recording one (with its receipt, allocation and the
//! reactivation it may bring) and refunding one.

use crate::auth::{Action, Actor};
use crate::billing::payments::{self, NewPayment, Payment};
use crate::billing::{self, lock_customer, settlement};
use crate::effects::Effects;
use crate::error::{CoreError, CoreResult};
use crate::validate::{self, Sign};
use crate::Ctx;
use serde_json::json;

/// Records a payment, allocates it and reactivates a customer suspended for non-payment
/// once nothing is overdue any more ([`payments::receive`]).
pub async fn record(ctx: &Ctx, actor: &Actor, p: &NewPayment) -> CoreResult<Payment> {
    actor.require(Action::PaymentWrite)?;
    let mut tx = ctx.db.begin().await?;
    let pay = payments::receive(ctx, &mut tx, actor, p).await?;
    tx.commit().await?;
    Ok(pay)
}

/// Refunds `amount` of payment `id`. Money still unallocated is refunded first; beyond it,
/// the newest allocations are released, reopening their invoices.
pub async fn refund(ctx: &Ctx, actor: &Actor, id: i64, amount: i64, reason: &str) -> CoreResult<Payment> {
    actor.require(Action::PaymentWrite)?;
    validate::text(reason, 500).map_err(|m| CoreError::validation("reason", m))?;
    validate::amount(amount, Sign::Positive).map_err(|m| CoreError::validation("amountMinor", m))?;
    let t = actor.tenant_id;
    let now = ctx.now_ms();
    let today = billing::tenant_today(ctx, t).await?;
    let mut tx = ctx.db.begin().await?;
    let p = payments::get_in(&mut tx, t, id).await?;
    lock_customer(&mut tx, t, p.customer_id).await?;
    let p = payments::get_in(&mut tx, t, id).await?;
    let refundable = p.amount_minor - p.refunded_minor;
    if amount > refundable {
        return Err(CoreError::validation(
            "amountMinor",
            format!("exceeds what can still be refunded on this payment ({refundable})"),
        ));
    }
    let allocs = payments::allocations_newest_first(&mut tx, t, id).await?;
    let allocated = billing::sum_minor("allocations", allocs.iter().map(|a| a.2))?;
    let mut release = amount - (refundable - allocated).max(0);
    for (alloc, invoice, amt) in allocs {
        if release <= 0 {
            break;
        }
        let take = release.min(amt);
        payments::release_allocation(&mut tx, t, alloc, amt, take).await?;
        settlement::refresh(&mut tx, t, invoice, today, now).await?;
        release -= take;
    }
    let p = payments::insert_refund(&mut tx, t, id, amount, reason.trim(), today, now).await?;
    let details = json!({"amount": amount, "reason": reason.trim(), "receipt": p.receipt_number});
    Effects::new(ctx, actor, now).audit("payment.refund", "Payment", Some(id), details).write(&mut tx).await?;
    tx.commit().await?;
    Ok(p)
}
