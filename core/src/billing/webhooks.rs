//! Payment gateway webhooks: HMAC-SHA256 signatures checked with the secret of the gateway
//! (see [`super::gateways`]), and one payment per gateway event id in a tenant, however often
//! and through whichever provider URL the event arrives.
//!
//! Two signature schemes: Stripe's `Stripe-Signature: t=<unix>,v1=<hex>` over
//! `"<t>.<body>"` with a tolerance window against replays of old events, and a generic
//! `X-Signature: sha256=<hex>` over the raw body.

use super::gateways::GatewayScheme;
use crate::db::{query, Tx};
use crate::error::{CoreError, CoreResult};
use crate::validate::{self, Sign};
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

/// Longest event id accepted, in bytes.
pub const MAX_EVENT_ID_LEN: usize = 200;

/// Reads an event of a gateway of `scheme`: a Stripe event (`payment_intent.succeeded` with
/// `metadata.account_number`) or the generic shape
/// `{id, type: "payment.succeeded", accountNumber, amountMinor, currency, reference}`. The amount
/// of a successful payment must be positive and at most [`validate::MAX_AMOUNT_MINOR`].
pub fn parse(scheme: GatewayScheme, body: &[u8]) -> CoreResult<GatewayEvent> {
    let v: Value = serde_json::from_slice(body).map_err(|_| CoreError::validation("body", "is not JSON"))?;
    let s = |v: &Value| v.as_str().map(str::to_string);
    let bad = |f: &str| CoreError::validation(f, "is missing");
    let event_id = s(&v["id"]).ok_or_else(|| bad("id"))?;
    if event_id.is_empty() || event_id.len() > MAX_EVENT_ID_LEN {
        return Err(CoreError::validation("id", format!("must be 1-{MAX_EVENT_ID_LEN} bytes")));
    }
    let (ev, amount_field) = match scheme {
        GatewayScheme::Stripe => {
            let o = &v["data"]["object"];
            let ev = GatewayEvent {
                event_id,
                succeeded: matches!(v["type"].as_str(), Some("payment_intent.succeeded" | "charge.succeeded")),
                account_number: s(&o["metadata"]["account_number"]).ok_or_else(|| bad("metadata.account_number"))?,
                amount_minor: o["amount_received"].as_i64().or(o["amount"].as_i64()).ok_or_else(|| bad("amount"))?,
                currency: s(&o["currency"]).ok_or_else(|| bad("currency"))?.to_uppercase(),
                reference: s(&o["id"]),
            };
            (ev, "amount")
        }
        GatewayScheme::HmacSha256 => {
            let ev = GatewayEvent {
                event_id,
                succeeded: v["type"].as_str() == Some("payment.succeeded"),
                account_number: s(&v["accountNumber"]).ok_or_else(|| bad("accountNumber"))?,
                amount_minor: v["amountMinor"].as_i64().ok_or_else(|| bad("amountMinor"))?,
                currency: s(&v["currency"]).ok_or_else(|| bad("currency"))?.to_uppercase(),
                reference: s(&v["reference"]),
            };
            (ev, "amountMinor")
        }
    };
    if ev.succeeded {
        validate::amount(ev.amount_minor, Sign::Positive).map_err(|m| CoreError::validation(amount_field, m))?;
    }
    Ok(ev)
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

/// Records gateway event `event_id`, received through `provider`; false when the tenant
/// recorded that event id before, through any provider (a retry of the gateway, or a replay).
pub async fn record_event(tx: &mut Tx, tenant_id: i64, provider: &str, event_id: &str, now: i64) -> CoreResult<bool> {
    let n = query(
        "INSERT INTO payment_gateway_events (tenant_id, provider, event_id, received_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, event_id) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(provider)
    .bind(event_id)
    .bind(now)
    .execute(tx)
    .await?;
    Ok(n == 1)
}

/// Links gateway event `event_id` to the payment it recorded.
pub async fn link_payment(tx: &mut Tx, tenant_id: i64, event_id: &str, payment_id: i64) -> CoreResult<()> {
    query("UPDATE payment_gateway_events SET payment_id = $1 WHERE tenant_id = $2 AND event_id = $3")
        .bind(payment_id)
        .bind(tenant_id)
        .bind(event_id)
        .execute(tx)
        .await?;
    Ok(())
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

    #[test]
    fn events_are_read_by_scheme_and_amounts_are_bounded() {
        let generic = |amount: &str| {
            format!(
                r#"{{"id":"ev1","type":"payment.succeeded","accountNumber":"C1","amountMinor":{amount},"currency":"usd"}}"#
            )
        };
        let ev = parse(GatewayScheme::HmacSha256, generic("1234").as_bytes()).unwrap();
        assert_eq!((ev.event_id.as_str(), ev.amount_minor, ev.currency.as_str()), ("ev1", 1234, "USD"));
        let field = |r: CoreResult<GatewayEvent>| match r {
            Err(CoreError::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        };
        assert_eq!(field(parse(GatewayScheme::HmacSha256, generic("9223372036854775807").as_bytes())), "amountMinor");
        assert_eq!(field(parse(GatewayScheme::HmacSha256, generic("1000000000001").as_bytes())), "amountMinor");
        assert_eq!(field(parse(GatewayScheme::HmacSha256, generic("0").as_bytes())), "amountMinor");
        // A generic body means nothing to the Stripe scheme.
        assert_eq!(field(parse(GatewayScheme::Stripe, generic("1234").as_bytes())), "metadata.account_number");
        let stripe = r#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1",
            "amount_received":9223372036854775807,"currency":"usd","metadata":{"account_number":"C1"}}}}"#;
        assert_eq!(field(parse(GatewayScheme::Stripe, stripe.as_bytes())), "amount");
        let long_id = format!(r#"{{"id":"{}","type":"other"}}"#, "e".repeat(MAX_EVENT_ID_LEN + 1));
        assert_eq!(field(parse(GatewayScheme::HmacSha256, long_id.as_bytes())), "id");
    }
}
