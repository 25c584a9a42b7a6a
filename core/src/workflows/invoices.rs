//! Invoices from the staff side: voiding one (with its credit note), issuing drafts, and
//! deleting a draft.

use crate::auth::{Action, Actor};
use crate::billing::invoices::{self, Invoice, MAX_ISSUE};
use crate::billing::{
    self, lock_customer, lock_customers, numbering, settings, settlement, InvoiceKind, InvoiceStatus,
};
use crate::effects::Effects;
use crate::error::{CoreError, CoreResult};
use crate::notify;
use crate::store::notifications::NotifyEvent;
use crate::{validate, Ctx};
use chrono::Duration;
use serde_json::json;

/// Voids invoice `id`: issues a credit note reversing every line, releases the payments
/// allocated to it as customer credit, and lifts a dunning suspension when nothing is overdue
/// any more. A draft was never sent, so it simply becomes VOID, with no number and no credit
/// note. The billed cycles stay billed either way. Returns (voided invoice, credit note).
pub async fn void(ctx: &Ctx, actor: &Actor, id: i64, reason: &str) -> CoreResult<(Invoice, Option<Invoice>)> {
    actor.require(Action::BillingRun)?;
    validate::text(reason, 500).map_err(|m| CoreError::validation("reason", m))?;
    let t = actor.tenant_id;
    let now = ctx.now_ms();
    let today = billing::tenant_today(ctx, t).await?;
    let mut tx = ctx.db.begin().await?;
    let cur = invoices::get_in(&mut tx, t, id).await?;
    lock_customer(&mut tx, t, cur.customer_id).await?;
    let cur = invoices::get_in(&mut tx, t, id).await?;
    if cur.kind != InvoiceKind::Invoice {
        return Err(CoreError::conflict("id", "a credit note cannot be voided"));
    }
    if cur.status == InvoiceStatus::Void {
        return Err(CoreError::conflict("id", "the invoice is already void"));
    }
    if cur.status == InvoiceStatus::Draft {
        invoices::set_void(&mut tx, t, id, reason.trim(), now).await?;
        let details = json!({"number": null, "draft": true, "creditNote": null, "reason": reason.trim()});
        Effects::new(ctx, actor, now).audit("invoice.void", "Invoice", Some(id), details).write(&mut tx).await?;
        let voided = invoices::get_in(&mut tx, t, id).await?;
        tx.commit().await?;
        return Ok((voided, None));
    }
    let s = settings::get_in(&mut tx, t).await?;
    let number = numbering::next(&mut tx, t, "CREDIT_NOTE", &s.credit_note_template, today).await?;
    let cn = invoices::insert_credit_note(&mut tx, &cur, &number, today, now).await?;
    let released = invoices::release_allocations(&mut tx, t, id).await?;
    invoices::set_void(&mut tx, t, id, reason.trim(), now).await?;
    let details =
        json!({"number": cur.number, "creditNote": number, "reason": reason.trim(), "releasedAllocations": released});
    Effects::new(ctx, actor, now).audit("invoice.void", "Invoice", Some(id), details).write(&mut tx).await?;
    // Voiding the last overdue invoice lifts a dunning suspension like a payment would.
    settlement::reactivate_if_clear(ctx, &mut tx, actor, cur.customer_id, today, now).await?;
    let voided = invoices::get_in(&mut tx, t, id).await?;
    let note = invoices::get_in(&mut tx, t, cn).await?;
    tx.commit().await?;
    Ok((voided, Some(note)))
}

/// Issues draft invoices `ids`, all or none: numbers them from the gapless sequence in the
/// order given, dates them today with the tenant's payment terms, pays them from customer
/// credit like a run's invoices, and records `invoice.issue`. From then on they count in
/// balances, receivables, dunning and reports. Returns them in the order given.
pub async fn issue(ctx: &Ctx, actor: &Actor, ids: &[i64]) -> CoreResult<Vec<Invoice>> {
    actor.require(Action::BillingRun)?;
    if ids.is_empty() || ids.len() > MAX_ISSUE {
        return Err(CoreError::validation("ids", format!("must name 1-{MAX_ISSUE} invoices")));
    }
    let mut unique = ids.to_vec();
    unique.sort_unstable();
    unique.dedup();
    if unique.len() != ids.len() {
        return Err(CoreError::validation("ids", "must not name an invoice twice"));
    }
    let t = actor.tenant_id;
    let now = ctx.now_ms();
    let today = billing::tenant_today(ctx, t).await?;
    let mut tx = ctx.db.begin().await?;
    let drafts = invoices::get_many(&mut tx, t, ids).await?;
    let mut customers: Vec<i64> = drafts.iter().map(|i| i.customer_id).collect();
    customers.sort_unstable();
    customers.dedup();
    lock_customers(ctx.db.backend(), &mut tx, t, &customers).await?;
    let drafts = invoices::get_many(&mut tx, t, ids).await?;
    if let Some(bad) = drafts.iter().find(|i| i.status != InvoiceStatus::Draft) {
        let what = bad.number.as_deref().unwrap_or("an invoice");
        return Err(CoreError::conflict("ids", format!("{what} is {}; only drafts can be issued", bad.status)));
    }
    let s = settings::get_in(&mut tx, t).await?;
    let first = numbering::reserve(&mut tx, t, "INVOICE", &s.invoice_template, today, ids.len() as i64).await?;
    let due = today + Duration::days(s.payment_terms_days);
    let mut effects = Effects::new(ctx, actor, now);
    for (i, inv) in drafts.iter().enumerate() {
        let number = numbering::render(&s.invoice_template, today, first + i as i64);
        let status = if inv.total_minor <= 0 { InvoiceStatus::Paid } else { InvoiceStatus::Issued };
        invoices::issue_draft(&mut tx, t, inv.id, &number, status, today, due, now).await?;
        if status == InvoiceStatus::Issued {
            let vars = json!({"invoice_id": inv.id});
            let key = format!("invoice:{}", inv.id);
            notify::queue(ctx, &mut tx, t, inv.customer_id, NotifyEvent::InvoiceIssued, vars, &key, now).await?;
        }
        let details = json!({"number": number, "total": inv.total_minor, "dueDate": billing::fmt_date(due)});
        effects = effects.audit("invoice.issue", "Invoice", Some(inv.id), details);
    }
    effects.write(&mut tx).await?;
    let owing: Vec<i64> = drafts.iter().filter(|i| i.total_minor > 0).map(|i| i.customer_id).collect();
    let with_credit = billing::customers_with_credit(&mut tx, ctx.db.backend(), t, &owing).await?;
    for inv in drafts.iter().filter(|i| i.total_minor > 0 && with_credit.contains(&i.customer_id)) {
        settlement::apply_credit(&mut tx, t, inv.customer_id, inv.id, today, now).await?;
    }
    let issued = invoices::get_many(&mut tx, t, ids).await?;
    tx.commit().await?;
    Ok(issued)
}

/// Deletes draft invoice `id` with its lines and gives its cycles and charges back to billing,
/// so the next run bills them again (after a price or plan was corrected, say). Only drafts:
/// an issued invoice is voided, which leaves a credit note.
pub async fn delete_draft(ctx: &Ctx, actor: &Actor, id: i64) -> CoreResult<()> {
    actor.require(Action::BillingRun)?;
    let t = actor.tenant_id;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let cur = invoices::get_in(&mut tx, t, id).await?;
    lock_customer(&mut tx, t, cur.customer_id).await?;
    let cur = invoices::get_in(&mut tx, t, id).await?;
    if cur.status != InvoiceStatus::Draft {
        return Err(CoreError::conflict("id", format!("the invoice is {}; only a draft can be deleted", cur.status)));
    }
    let (cycles, charges) = invoices::delete_draft_rows(&mut tx, t, id).await?;
    let details = json!({"customerId": cur.customer_id, "total": cur.total_minor, "releasedCycles": cycles,
        "releasedCharges": charges});
    Effects::new(ctx, actor, now).audit("invoice.delete", "Invoice", Some(id), details).write(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}
