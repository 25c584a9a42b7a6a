//! Payment gateway webhooks: HMAC-SHA256 signatures checked with the tenant's secret, and
//! one payment per gateway event id however often the gateway retries.
//!
//! Two signature styles: Stripe's `Stripe-Signature: t=<unix>,v1=<hex>` over
//! `"<t>.<body>"` with a tolerance window against replays of old events, and a generic
//! `X-Signature: sha256=<hex>` over the raw body.

use super::payments::{self, NewPayment};
use super::{settings, PaymentMethod};
use crate::auth::Actor;
use crate::db::{query, query_as};
use crate::error::{CoreError, CoreResult};
use crate::store::tenants;
use crate::Ctx;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// How far a Stripe-style timestamp may be from now, in seconds.
pub const TOLERANCE_SECS: i64 = 300;

fn mac(secret: &str, parts: &[&[u8]]) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    for p in parts {
        m.update(p);
    }
    m
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() & 1 == 1 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// Lower-case hex of HMAC-SHA256(`secret`, `data`): what a gateway puts in its header.
pub fn sign_hex(secret: &str, data: &[u8]) -> String {
    mac(secret, &[data]).finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a Stripe-style `t=...,v1=...` header (any of several `v1` may match).
pub fn verify_stripe(header: &str, body: &[u8], secret: &str, now_secs: i64) -> Result<(), &'static str> {
    let mut ts = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => ts = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.push(v),
            _ => {}
        }
    }
    let ts = ts.ok_or("no timestamp")?;
    if (now_secs - ts).abs() > TOLERANCE_SECS {
        return Err("timestamp outside the tolerance window");
    }
    let t = ts.to_string();
    for sig in sigs {
        if let Some(bytes) = unhex(sig) {
            if mac(secret, &[t.as_bytes(), b".", body]).verify_slice(&bytes).is_ok() {
                return Ok(());
            }
        }
    }
    Err("no matching v1 signature")
}

/// Checks a generic `sha256=<hex>` header over the raw body.
pub fn verify_generic(header: &str, body: &[u8], secret: &str) -> Result<(), &'static str> {
    let hex = header.trim().strip_prefix("sha256=").ok_or("expected sha256=<hex>")?;
    let bytes = unhex(hex).ok_or("bad hex")?;
    mac(secret, &[body]).verify_slice(&bytes).map_err(|_| "signature mismatch")
}

/// A payment event as the gateway reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayEvent {
    /// The gateway's event id (the idempotency key).
    pub event_id: String,
    /// Whether it reports money received.
    pub succeeded: bool,
    /// Customer account number.
    pub account_number: String,
    /// Amount in minor units.
    pub amount_minor: i64,
    /// ISO currency.
    pub currency: String,
    /// Gateway's payment reference.
    pub reference: Option<String>,
}

/// Reads a Stripe event (`payment_intent.succeeded` with `metadata.account_number`) or the
/// generic shape `{id, type: "payment.succeeded", accountNumber, amountMinor, currency, reference}`.
pub fn parse(provider: &str, body: &[u8]) -> CoreResult<GatewayEvent> {
    let v: Value = serde_json::from_slice(body).map_err(|_| CoreError::validation("body", "is not JSON"))?;
    let s = |v: &Value| v.as_str().map(str::to_string);
    let bad = |f: &str| CoreError::validation(f, "is missing");
    let event_id = s(&v["id"]).ok_or_else(|| bad("id"))?;
    if provider == "stripe" {
        let o = &v["data"]["object"];
        Ok(GatewayEvent {
            event_id,
            succeeded: matches!(v["type"].as_str(), Some("payment_intent.succeeded" | "charge.succeeded")),
            account_number: s(&o["metadata"]["account_number"]).ok_or_else(|| bad("metadata.account_number"))?,
            amount_minor: o["amount_received"].as_i64().or(o["amount"].as_i64()).ok_or_else(|| bad("amount"))?,
            currency: s(&o["currency"]).ok_or_else(|| bad("currency"))?.to_uppercase(),
            reference: s(&o["id"]),
        })
    } else {
        Ok(GatewayEvent {
            event_id,
            succeeded: v["type"].as_str() == Some("payment.succeeded"),
            account_number: s(&v["accountNumber"]).ok_or_else(|| bad("accountNumber"))?,
            amount_minor: v["amountMinor"].as_i64().ok_or_else(|| bad("amountMinor"))?,
            currency: s(&v["currency"]).ok_or_else(|| bad("currency"))?.to_uppercase(),
            reference: s(&v["reference"]),
        })
    }
}

/// What happened to a delivered webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A payment was recorded.
    Recorded {
        /// Payment id.
        payment_id: i64,
    },
    /// The event was seen before; nothing changed.
    Duplicate,
    /// The event is not a successful payment; acknowledged and ignored.
    Ignored,
}

/// Signature headers a webhook may carry.
#[derive(Debug, Clone, Default)]
pub struct Signatures<'a> {
    /// `Stripe-Signature`.
    pub stripe: Option<&'a str>,
    /// `X-Signature`.
    pub generic: Option<&'a str>,
}

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
        verify_stripe(h, body, &secret, ctx.now_ms() / 1000)
    } else {
        let h = sigs.generic.ok_or_else(|| reject("missing X-Signature"))?;
        verify_generic(h, body, &secret)
    };
    checked.map_err(reject)?;
    let ev = parse(provider, body)?;
    let actor = Actor::system(tenant.id, &format!("webhook:{provider}"));
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let fresh = query(
        "INSERT INTO payment_gateway_events (tenant_id, provider, event_id, received_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, provider, event_id) DO NOTHING",
    )
    .bind(tenant.id)
    .bind(provider)
    .bind(&ev.event_id)
    .bind(now)
    .execute(&mut tx)
    .await?
        == 1;
    if !fresh {
        return Ok(Outcome::Duplicate);
    }
    if !ev.succeeded {
        tx.commit().await?;
        return Ok(Outcome::Ignored);
    }
    if !ev.currency.eq_ignore_ascii_case(&tenant.currency) {
        return Err(CoreError::validation("currency", format!("must be {}", tenant.currency)));
    }
    let customer: Option<(i64,)> = query_as("SELECT id FROM customers WHERE tenant_id = $1 AND account_number = $2")
        .bind(tenant.id)
        .bind(&ev.account_number)
        .fetch_optional(&mut tx)
        .await?;
    let (customer_id,) = customer.ok_or_else(|| CoreError::validation("accountNumber", "no such customer"))?;
    let reference = ev.reference.clone().unwrap_or_else(|| ev.event_id.clone());
    let p = NewPayment {
        customer_id,
        amount_minor: ev.amount_minor,
        method: PaymentMethod::Gateway,
        reference: Some(format!("{provider}:{reference}")),
        received_on: None,
        invoice_ids: None,
    };
    let pay = payments::record_in(ctx, &mut tx, &actor, &p).await?;
    query("UPDATE payment_gateway_events SET payment_id = $1 WHERE tenant_id = $2 AND provider = $3 AND event_id = $4")
        .bind(pay.id)
        .bind(tenant.id)
        .bind(provider)
        .bind(&ev.event_id)
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    ctx.jobs_wakeup.notify_one();
    Ok(Outcome::Recorded { payment_id: pay.id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_signatures_and_tolerance() {
        let body = br#"{"id":"evt_1"}"#;
        let sig = sign_hex("whsec_test_secret", b"1700000000.{\"id\":\"evt_1\"}");
        let header = format!("t=1700000000,v1=deadbeef,v1={sig}");
        assert!(verify_stripe(&header, body, "whsec_test_secret", 1_700_000_100).is_ok());
        assert!(verify_stripe(&header, body, "whsec_test_secret", 1_700_000_301).is_err());
        assert!(verify_stripe(&header, body, "other", 1_700_000_000).is_err());
        assert!(verify_stripe(&header, b"{}", "whsec_test_secret", 1_700_000_000).is_err());
    }

    #[test]
    fn generic_signature_and_known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign_hex("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let body = b"{}";
        let h = format!("sha256={}", sign_hex("s3cret-s3cret-s3cret", body));
        assert!(verify_generic(&h, body, "s3cret-s3cret-s3cret").is_ok());
        assert!(verify_generic(&h, b"{ }", "s3cret-s3cret-s3cret").is_err());
        assert!(verify_generic("md5=00", body, "s3cret-s3cret-s3cret").is_err());
    }
}
