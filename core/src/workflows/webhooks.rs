//! Payment gateways and their webhooks: configuring a tenant's gateways (provider name,
//! signature scheme, secret), and receiving a webhook: find the gateway, verify the signature
//! with its secret, record the event once per tenant, and receive the payment it reports.

use crate::auth::{Action, Actor};
use crate::billing::gateways::{self, Gateway, GatewayScheme, SECRET_CONTEXT, SECRET_LEN};
use crate::billing::payments::{self, NewPayment};
use crate::billing::webhooks::{self, Outcome, Signatures};
use crate::billing::PaymentMethod;
use crate::effects::Effects;
use crate::error::{CoreError, CoreResult};
use crate::store::{customers, tenants};
use crate::Ctx;
use serde_json::json;

/// Verifies and applies a webhook that arrived for gateway `provider` of tenant `tenant_slug`.
///
/// An unknown tenant, or a provider the tenant has not configured (compared in its normal
/// form, so `PayPal` is `paypal`), is NOT_FOUND before the signatures or the body are looked
/// at. A bad or missing signature is UNAUTHENTICATED (and logged); a malformed body is
/// VALIDATION; an event id the tenant has seen before, through any provider, is a duplicate.
pub async fn receive(
    ctx: &Ctx,
    provider: &str,
    tenant_slug: &str,
    sigs: &Signatures<'_>,
    body: &[u8],
) -> CoreResult<Outcome> {
    let unknown = || CoreError::NotFound("payment gateway");
    let provider = gateways::normalize_provider(provider).ok_or_else(unknown)?;
    let tenant = tenants::by_slug(&ctx.db, tenant_slug).await?.ok_or_else(unknown)?;
    let Some(gw) = gateways::verifier(&ctx.db, tenant.id, &provider).await? else {
        tracing::info!(provider, tenant = tenant_slug, "payment webhook for a gateway that is not configured");
        return Err(unknown());
    };
    let reject = |why: &str| {
        tracing::warn!(provider, tenant = tenant_slug, reason = why, "payment webhook rejected: bad signature");
        CoreError::Unauthenticated
    };
    let secret = ctx.secrets.cipher.decrypt(SECRET_CONTEXT, &gw.secret_enc)?;
    let checked = match gw.scheme {
        GatewayScheme::Stripe => {
            let h = sigs.stripe.ok_or_else(|| reject("missing Stripe-Signature"))?;
            webhooks::verify_stripe(h, body, &secret, ctx.now_ms().div_euclid(1000))
        }
        GatewayScheme::HmacSha256 => {
            let h = sigs.generic.ok_or_else(|| reject("missing X-Signature"))?;
            webhooks::verify_generic(h, body, &secret)
        }
    };
    checked.map_err(reject)?;
    let ev = webhooks::parse(gw.scheme, body)?;
    let actor = Actor::system(tenant.id, &format!("webhook:{provider}"));
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    if !webhooks::record_event(&mut tx, tenant.id, &provider, &ev.event_id, now).await? {
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
    webhooks::link_payment(&mut tx, tenant.id, &ev.event_id, pay.id).await?;
    tx.commit().await?;
    Ok(Outcome::Recorded { payment_id: pay.id })
}

/// Configures payment gateway `provider` (stored in its normal form) with `scheme` and
/// `secret`, or replaces the scheme and secret of one already configured. The secret is
/// encrypted at rest and never returned, nor written to the audit log.
pub async fn set_gateway(
    ctx: &Ctx,
    actor: &Actor,
    provider: &str,
    scheme: GatewayScheme,
    secret: &str,
) -> CoreResult<Gateway> {
    actor.require(Action::BillingSettingsWrite)?;
    let provider = gateways::normalize_provider(provider.trim())
        .ok_or_else(|| CoreError::validation("provider", "must be 1-40 of a-z, 0-9 and '-', not starting with '-'"))?;
    if !SECRET_LEN.contains(&secret.len()) || secret.chars().any(char::is_control) {
        return Err(CoreError::validation(
            "secret",
            format!("must be {}-{} characters without control characters", SECRET_LEN.start(), SECRET_LEN.end()),
        ));
    }
    let secret_enc = ctx.secrets.cipher.encrypt(SECRET_CONTEXT, secret);
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let existed = gateways::exists(&mut tx, actor.tenant_id, &provider).await?;
    let gw = gateways::upsert(&mut tx, actor.tenant_id, &provider, scheme, &secret_enc, now).await?;
    let details = json!({"provider": gw.provider, "scheme": gw.scheme, "created": !existed, "secretChanged": true});
    Effects::new(ctx, actor, now).audit("gateway.set", "Tenant", Some(actor.tenant_id), details).write(&mut tx).await?;
    tx.commit().await?;
    Ok(gw)
}

/// Removes payment gateway `provider`: its webhooks are answered NOT_FOUND from then on. The
/// events it delivered stay recorded, so their ids cannot be replayed through another gateway.
/// Returns the provider's normal form; NOT_FOUND when it is not configured.
pub async fn remove_gateway(ctx: &Ctx, actor: &Actor, provider: &str) -> CoreResult<String> {
    actor.require(Action::BillingSettingsWrite)?;
    let provider = gateways::normalize_provider(provider.trim()).ok_or(CoreError::NotFound("payment gateway"))?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    if !gateways::delete(&mut tx, actor.tenant_id, &provider).await? {
        return Err(CoreError::NotFound("payment gateway"));
    }
    Effects::new(ctx, actor, now)
        .audit("gateway.remove", "Tenant", Some(actor.tenant_id), json!({"provider": provider}))
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(provider)
}
