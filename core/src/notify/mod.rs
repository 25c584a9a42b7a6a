//! Which messages a business event queues, and queuing them in the event's transaction.
//!
//! A use case that should tell the customer something calls [`queue`] inside its transaction,
//! beside its audit entry and device jobs: the messages commit or roll back with the change
//! (a payment and its receipt email commit together). `queue` writes one row per channel the
//! event goes out on and the tenant has enabled; the delivery worker (`crate::delivery`)
//! renders and sends them later with retries, honouring the customer's preferences and the
//! channel's quiet hours. Each row's idempotency key is unique per tenant, so an event
//! queues at most once however often the use case runs (a quota threshold once per period).
//!
//! The variables an event carries are ids and scalars (`invoice_id`, `percent`); names,
//! amounts in the tenant's currency and links are read when the message is rendered
//! (see [`template`] for the variable set).

pub mod template;

use crate::ctx::Ctx;
use crate::db::Tx;
use crate::error::CoreResult;
use crate::store::notifications::{self, Channel, NewNotification, NotifyEvent};

/// The channels an event goes out on, when the tenant has them enabled.
pub fn channels_of(event: NotifyEvent) -> &'static [Channel] {
    use Channel::*;
    use NotifyEvent::*;
    match event {
        InvoiceIssued | PaymentReceived | TicketCreated | TicketReplied => &[Email],
        PaymentReminder | InvoiceOverdue | Suspended | Reactivated | Quota80 | Quota100 | PlannedOutage => {
            &[Email, Sms, Whatsapp]
        }
    }
}

/// Whether an event's messages go out during quiet hours: those about service the customer
/// is losing or has just got back.
pub fn is_urgent(event: NotifyEvent) -> bool {
    matches!(
        event,
        NotifyEvent::Suspended | NotifyEvent::Reactivated | NotifyEvent::Quota100 | NotifyEvent::PlannedOutage
    )
}

/// The rows an event queues on `enabled` channels: one per channel of [`channels_of`], keyed
/// `<key>:<CHANNEL>`.
pub fn messages(
    enabled: &[Channel],
    customer_id: i64,
    event: NotifyEvent,
    vars: &serde_json::Value,
    key: &str,
) -> Vec<NewNotification> {
    let vars = vars.to_string();
    channels_of(event)
        .iter()
        .filter(|c| enabled.contains(c))
        .map(|&channel| NewNotification {
            customer_id,
            event,
            channel,
            urgent: is_urgent(event),
            vars: vars.clone(),
            idempotency_key: format!("{key}:{}", channel.as_str()),
        })
        .collect()
}

/// The channels `tenant_id` has enabled, read inside `tx`.
pub async fn enabled_channels(tx: &mut Tx, tenant_id: i64) -> CoreResult<Vec<Channel>> {
    Ok(notifications::channels(&mut *tx, tenant_id)
        .await?
        .into_iter()
        .filter(|c| c.enabled)
        .map(|c| c.channel)
        .collect())
}

/// Queues `event` for customer `customer_id` of `tenant_id` inside `tx`, on every channel of
/// the event the tenant has enabled, and wakes this process's delivery worker once `tx`
/// commits. `vars` are the event's variables (see [`template`]); `key` names the event
/// uniquely in the tenant (`invoice:42`, `quota80:7:2026-12-01`, `ticket:9:reply:3`): an
/// event whose key was queued before queues nothing again. Returns how many rows it wrote.
///
/// The helpdesk calls it from its workflows with [`NotifyEvent::TicketCreated`] /
/// [`NotifyEvent::TicketReplied`] and `vars` `{"ticket": {"number", "subject", "message"}}`.
#[allow(clippy::too_many_arguments)]
pub async fn queue(
    ctx: &Ctx,
    tx: &mut Tx,
    tenant_id: i64,
    customer_id: i64,
    event: NotifyEvent,
    vars: serde_json::Value,
    key: &str,
    now: i64,
) -> CoreResult<usize> {
    let enabled = enabled_channels(tx, tenant_id).await?;
    queue_on(ctx, tx, tenant_id, &enabled, customer_id, event, vars, key, now).await
}

/// [`queue`] on the `enabled` channels the caller read with [`enabled_channels`] in `tx` (a
/// pass over many invoices reads them once per transaction, not once per message).
#[allow(clippy::too_many_arguments)]
pub async fn queue_on(
    ctx: &Ctx,
    tx: &mut Tx,
    tenant_id: i64,
    enabled: &[Channel],
    customer_id: i64,
    event: NotifyEvent,
    vars: serde_json::Value,
    key: &str,
    now: i64,
) -> CoreResult<usize> {
    let mut written = 0;
    for m in messages(enabled, customer_id, event, &vars, key) {
        written += usize::from(notifications::insert(tx, tenant_id, &m, now).await?);
    }
    if written > 0 {
        let wakeup = ctx.notify_wakeup.clone();
        tx.after_commit(move || wakeup.notify_one());
    }
    Ok(written)
}

/// Writes the default templates (every event, channel and language) for a new tenant, which
/// its staff then edit.
pub async fn seed_default_templates(tx: &mut Tx, tenant_id: i64, now: i64) -> CoreResult<()> {
    for (event, channel, language, subject, body) in template::defaults() {
        notifications::put_template(tx, tenant_id, event, channel, language, subject, &body, now).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_queues_one_row_per_enabled_channel_it_uses() {
        let m = messages(&[Channel::Email, Channel::Sms], 7, NotifyEvent::Quota80, &json!({"percent": 80}), "q:1");
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].idempotency_key, "q:1:EMAIL");
        assert_eq!(m[1].channel, Channel::Sms);
        assert!(!m[0].urgent);
        // A receipt is an email only; a tenant without email sends none.
        assert!(messages(&[Channel::Sms], 7, NotifyEvent::PaymentReceived, &json!({}), "p:1").is_empty());
        assert!(messages(&[Channel::Email], 7, NotifyEvent::Suspended, &json!({}), "s:1")[0].urgent);
    }
}
