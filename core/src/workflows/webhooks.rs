//! Payment gateway webhooks: verify the signature with the tenant's secret, record the event
//! once, and receive the payment it reports.

use crate::auth::Actor;
use crate::billing::payments::{self, NewPayment};
use crate::billing::webhooks::{self, Outcome, Signatures};
use crate::billing::{settings, PaymentMethod};
use crate::error::{CoreError, CoreResult};
use crate::store::{customers, tenants};
use crate::Ctx;

/// Verifies and applies a webhook for tenant `tenant_slug`. A bad or missing signature is
/// UNAUTHENTICATED (and logged); a malformed body is VALIDATION.
pub async fn receive(
    ctx: &Ctx,
    provider: &str,
    tenant_slug: &str,
    sigs: &Signatures<'_>,
    body: &[u8],
) -> CoreResult<Outcome> {
    let reject = |why: &str| {
        tracing::warn!(provider, tenant = tenant_slug, reason = why, "payment webhook rejected: bad signature");
        CoreError::Unauthenticated
    };
    if provider.is_empty() || provider.len() > 40 || !provider.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(CoreError::validation("provider", "must be 1-40 letters, digits or -"));
    }
    let tenant = tenants::by_slug(&ctx.db, tenant_slug).await?.ok_or_else(|| reject("unknown tenant"))?;
    let s = settings::get(&ctx.db, tenant.id).await?;
    let enc = s.webhook_secret_enc.ok_or_else(|| reject("no webhook secret configured"))?;
    let secret = ctx.secrets.cipher.decrypt(settings::WEBHOOK_SECRET_CONTEXT, &enc)?;
    let checked = if provider == "stripe" {
        let h = sigs.stripe.ok_or_else(|| reject("missing Stripe-Signature"))?;
        webhooks::verify_stripe(h, body, &secret, ctx.now_ms() / 1000)
    } else {
        let h = sigs.generic.ok_or_else(|| reject("missing X-Signature"))?;
        webhooks::verify_generic(h, body, &secret)
    };
    checked.map_err(reject)?;
    let ev = webhooks::parse(provider, body)?;
    let actor = Actor::system(tenant.id, &format!("webhook:{provider}"));
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    if !webhooks::record_event(&mut tx, tenant.id, provider, &ev.event_id, now).await? {
        return Ok(Outcome::Duplicate);
    }
    if !ev.succeeded {
        tx.commit().await?;
        return Ok(Outcome::Ignored);
    }
    if !ev.currency.eq_ignore_ascii_case(&tenant.currency) {
        return Err(CoreError::validation("currency", format!("must be {}", tenant.currency)));
    }
    let customer_id = customers::by_account_number(&mut tx, tenant.id, &ev.account_number)
        .await?
        .ok_or_else(|| CoreError::validation("accountNumber", "no such customer"))?;
    let reference = ev.reference.clone().unwrap_or_else(|| ev.event_id.clone());
    let p = NewPayment {
        customer_id,
        amount_minor: ev.amount_minor,
        method: PaymentMethod::Gateway,
        reference: Some(format!("{provider}:{reference}")),
        received_on: None,
        invoice_ids: None,
    };
    let pay = payments::receive(ctx, &mut tx, &actor, &p).await?;
    webhooks::link_payment(&mut tx, tenant.id, provider, &ev.event_id, pay.id).await?;
    tx.commit().await?;
    Ok(Outcome::Recorded { payment_id: pay.id })
}
