//! Payment gateways: the webhook providers a tenant has configured, each with its own secret
//! (encrypted at rest, never returned) and signature scheme.
//!
//! A webhook names its provider in its URL. Before migration 0011 any name was accepted and
//! verified with one tenant-wide secret that covered only the body, so one signed body could
//! be replayed under new names (`/paypal2`, `/PayPal`) as new payments. Now the name must be
//! one the tenant configured, compared in its normal form ([`normalize_provider`]), and the
//! event id is unique per tenant whatever provider it came through.

use crate::db::{query, query_as, Db, FromRow, Tx};
use crate::error::CoreResult;
use crate::text_enum;

/// Context string binding encrypted gateway secrets: the one the tenant-wide webhook secret
/// used, so that migration 0011 could carry those secrets over as they were.
pub const SECRET_CONTEXT: &str = "billing.webhook_secret";

/// Shortest and longest secret accepted, in bytes.
pub const SECRET_LEN: std::ops::RangeInclusive<usize> = 16..=512;

text_enum!(
    /// How a gateway signs its webhooks, and the shape of the events it sends.
    GatewayScheme, "scheme" {
        /// `X-Signature: sha256=<hex>`, HMAC-SHA256 of the raw body; events
        /// `{id, type: "payment.succeeded", accountNumber, amountMinor, currency, reference}`.
        HmacSha256 = "HMAC_SHA256",
        /// `Stripe-Signature: t=<unix>,v1=<hex>`, HMAC-SHA256 of `<t>.<body>` with `t` within
        /// 300 seconds of the server's clock; Stripe's event objects.
        Stripe = "STRIPE",
    }
);

/// A configured gateway, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Gateway {
    /// Provider name as it appears in the webhook URL (normal form).
    pub provider: String,
    /// Signature scheme and event shape.
    pub scheme: GatewayScheme,
    /// Configured, Unix ms.
    pub created_at: i64,
    /// Last changed (scheme or secret), Unix ms.
    pub updated_at: i64,
}

/// What verifying a webhook of a gateway needs.
#[derive(Debug, Clone, FromRow)]
pub struct Verifier {
    /// Signature scheme and event shape.
    pub scheme: GatewayScheme,
    /// The secret, encrypted with [`SECRET_CONTEXT`].
    pub secret_enc: String,
}

/// The normal form of a provider name: ASCII lower case, 1-40 of `a-z`, `0-9` and `-`,
/// starting with a letter or digit. None when `name` cannot be a provider name.
pub fn normalize_provider(name: &str) -> Option<String> {
    let n = name.to_ascii_lowercase();
    let ok = (1..=40).contains(&n.len())
        && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !n.starts_with('-');
    ok.then_some(n)
}

const COLS: &str = "provider, scheme, created_at, updated_at";

/// The tenant's gateways, by provider name.
pub async fn list(db: &Db, tenant_id: i64) -> CoreResult<Vec<Gateway>> {
    query_as::<Gateway>(&format!("SELECT {COLS} FROM payment_gateways WHERE tenant_id = $1 ORDER BY provider"))
        .bind(tenant_id)
        .fetch_all(db)
        .await
}

/// The scheme and encrypted secret of gateway `provider` (normal form), if configured.
pub async fn verifier(db: &Db, tenant_id: i64, provider: &str) -> CoreResult<Option<Verifier>> {
    query_as::<Verifier>("SELECT scheme, secret_enc FROM payment_gateways WHERE tenant_id = $1 AND provider = $2")
        .bind(tenant_id)
        .bind(provider)
        .fetch_optional(db)
        .await
}

/// Whether gateway `provider` (normal form) is configured, inside a transaction.
pub async fn exists(tx: &mut Tx, tenant_id: i64, provider: &str) -> CoreResult<bool> {
    let row: Option<(String,)> =
        query_as("SELECT provider FROM payment_gateways WHERE tenant_id = $1 AND provider = $2")
            .bind(tenant_id)
            .bind(provider)
            .fetch_optional(&mut *tx)
            .await?;
    Ok(row.is_some())
}

/// Configures gateway `provider` (normal form), or replaces its scheme and secret.
pub async fn upsert(
    tx: &mut Tx,
    tenant_id: i64,
    provider: &str,
    scheme: GatewayScheme,
    secret_enc: &str,
    now: i64,
) -> CoreResult<Gateway> {
    query_as::<Gateway>(&format!(
        "INSERT INTO payment_gateways (tenant_id, provider, scheme, secret_enc, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) \
         ON CONFLICT (tenant_id, provider) DO UPDATE SET scheme = $3, secret_enc = $4, updated_at = $5 RETURNING {COLS}"
    ))
    .bind(tenant_id)
    .bind(provider)
    .bind(scheme)
    .bind(secret_enc)
    .bind(now)
    .fetch_one(&mut *tx)
    .await
}

/// Removes gateway `provider` (normal form); false when it was not configured. Its events
/// stay, so their ids stay taken.
pub async fn delete(tx: &mut Tx, tenant_id: i64, provider: &str) -> CoreResult<bool> {
    let n = query("DELETE FROM payment_gateways WHERE tenant_id = $1 AND provider = $2")
        .bind(tenant_id)
        .bind(provider)
        .execute(tx)
        .await?;
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_have_one_normal_form() {
        assert_eq!(normalize_provider("PayPal").as_deref(), Some("paypal"));
        assert_eq!(normalize_provider("paypal").as_deref(), Some("paypal"));
        assert_eq!(normalize_provider("mercado-pago2").as_deref(), Some("mercado-pago2"));
        for bad in ["", "-x", "pay pal", "pay_pal", "paypal/../x", "pаypal", "x%2F", &"a".repeat(41)] {
            assert_eq!(normalize_provider(bad), None, "{bad:?}");
        }
    }
}
