//! Payment gateways: webhooks only for the providers a tenant configured, each with its own
//! secret and scheme, and an event id recorded once per tenant whatever URL it arrives at.
//! (Signature checks and retries of one gateway are in `billing_payments`.)

use crate::billing::{minor, set_day};
use crate::billing_payments::{gateway, webhook};
use crate::*;
use isp_core::billing::webhooks::sign_hex;
use serde_json::{json, Value};

const SECRET: &str = "whsec_paypal_0123456789";

async fn account_number(app: &TestApp, token: &str, customer: &str) -> String {
    app.ok(token, "query($c: ID!) { customer(id: $c) { accountNumber } }", json!({"c": customer})).await["customer"]
        ["accountNumber"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn payments(app: &TestApp, token: &str, customer: &str) -> Vec<Value> {
    let q = "query($c: ID!) { payments(customerId: $c) { edges { node { reference amount { amountMinor } } } } }";
    app.ok(token, q, json!({"c": customer})).await["payments"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

/// The reported attack: one signed body recorded at `/paypal`, then sent again at
/// `/paypal2`, `/x` and `/PayPal`, used to record a new payment each time.
#[tokio::test]
async fn a_signed_body_sent_to_renamed_providers_records_one_payment() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    set_day(&app, "2024-01-01");
    let c = app.customer(&t.token, "Replayed").await;
    let account = account_number(&app, &t.token, &c).await;
    gateway(&app, &t.token, "paypal", "HMAC_SHA256", SECRET).await;
    let body = json!({"id": "ev1", "type": "payment.succeeded", "accountNumber": account, "amountMinor": 1234,
                      "currency": "USD", "reference": "PAY-1"})
    .to_string();
    let sig = vec![("x-signature", format!("sha256={}", sign_hex(SECRET, body.as_bytes())))];

    let (s, r) = webhook(&app, "paypal", &t.slug, &body, &sig).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("recorded")), "{r}");
    for provider in ["paypal2", "x", "PayPal", "PAYPAL", "paypal%32", "pay%20pal"] {
        let (s, r) = webhook(&app, provider, &t.slug, &body, &sig).await;
        // Not configured: 404. A spelling of the configured name: the same gateway, a duplicate.
        assert!(s == 404 || (s == 200 && r["status"] == "duplicate"), "{provider}: {s} {r}");
        if provider.eq_ignore_ascii_case("paypal") {
            assert_eq!((s, r["status"].as_str()), (200, Some("duplicate")), "{provider}");
        }
    }
    assert_eq!(webhook(&app, "paypal2", &t.slug, &body, &sig).await.1["code"], "NOT_FOUND");

    // Even a second gateway that shares the secret (a configuration slip) cannot take the
    // event again: ids are unique per tenant.
    gateway(&app, &t.token, "paypal2", "HMAC_SHA256", SECRET).await;
    let (s, r) = webhook(&app, "paypal2", &t.slug, &body, &sig).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("duplicate")), "{r}");

    let got = payments(&app, &t.token, &c).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!((got[0]["reference"].as_str(), minor(&got[0]["amount"])), (Some("paypal:PAY-1"), 1234));
    let b = app
        .ok(&t.token, "query($c: ID!) { customerBalance(customerId: $c) { credit { amountMinor } } }", json!({"c": c}))
        .await;
    assert_eq!(minor(&b["customerBalance"]["credit"]), 1234);
}

/// An unknown provider is answered before its request is looked at: no signature, a body
/// that is not JSON, another tenant's provider, a name no gateway could have.
#[tokio::test]
async fn unknown_providers_are_404_before_anything_is_read() {
    let app = spawn_app().await;
    let (t, other) = (app.tenant().await, app.tenant().await);
    gateway(&app, &other.token, "stripe", "STRIPE", SECRET).await;
    gateway(&app, &t.token, "paypal", "HMAC_SHA256", SECRET).await;
    for provider in ["stripe", "unknown", "-x", &"a".repeat(41), "pay_pal"] {
        let (s, r) = webhook(&app, provider, &t.slug, "not json", &[]).await;
        assert_eq!((s, r["code"].as_str()), (404, Some("NOT_FOUND")), "{provider}: {r}");
    }
    // A configured provider reads on: no signature is 401, a bad body once signed is 422.
    assert_eq!(webhook(&app, "paypal", &t.slug, "not json", &[]).await.0, 401);
    let sig = vec![("x-signature", format!("sha256={}", sign_hex(SECRET, b"not json")))];
    assert_eq!(webhook(&app, "paypal", &t.slug, "not json", &sig).await.0, 422);
}

#[tokio::test]
async fn each_gateway_checks_its_own_secret_and_scheme() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    set_day(&app, "2024-01-01");
    let c = app.customer(&t.token, "Two gateways").await;
    let account = account_number(&app, &t.token, &c).await;
    gateway(&app, &t.token, "paypal", "HMAC_SHA256", SECRET).await;
    gateway(&app, &t.token, "stripe", "STRIPE", "whsec_stripe_9876543210").await;
    let generic = json!({"id": "ev-a", "type": "payment.succeeded", "accountNumber": account, "amountMinor": 100,
                         "currency": "USD"})
    .to_string();
    let x_sig = |secret: &str| vec![("x-signature", format!("sha256={}", sign_hex(secret, generic.as_bytes())))];
    // PayPal's body signed with Stripe's secret, or sent to Stripe with PayPal's header: 401.
    assert_eq!(webhook(&app, "paypal", &t.slug, &generic, &x_sig("whsec_stripe_9876543210")).await.0, 401);
    assert_eq!(webhook(&app, "stripe", &t.slug, &generic, &x_sig(SECRET)).await.0, 401);

    // Stripe's timestamp is checked against the injected clock, both ways.
    let stripe = json!({"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_1",
                        "amount_received": 250, "currency": "usd", "metadata": {"account_number": account}}}})
    .to_string();
    let now = app.ctx.clock.now().timestamp();
    let header = |secret: &str, at: i64| {
        vec![("stripe-signature", format!("t={at},v1={}", sign_hex(secret, format!("{at}.{stripe}").as_bytes())))]
    };
    for stale in [now - 301, now + 301] {
        assert_eq!(webhook(&app, "stripe", &t.slug, &stripe, &header("whsec_stripe_9876543210", stale)).await.0, 401);
    }
    assert_eq!(webhook(&app, "stripe", &t.slug, &stripe, &header(SECRET, now)).await.0, 401, "PayPal's secret");
    let (s, r) = webhook(&app, "stripe", &t.slug, &stripe, &header("whsec_stripe_9876543210", now - 299)).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("recorded")), "{r}");

    // A new secret replaces the old one at once.
    gateway(&app, &t.token, "paypal", "HMAC_SHA256", "whsec_paypal_rotated_01").await;
    assert_eq!(webhook(&app, "paypal", &t.slug, &generic, &x_sig(SECRET)).await.0, 401);
    let (s, r) = webhook(&app, "paypal", &t.slug, &generic, &x_sig("whsec_paypal_rotated_01")).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("recorded")), "{r}");
}

#[tokio::test]
async fn gateways_are_configured_by_owners_and_admins_audited_and_secrets_stay_write_only() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let set = "mutation($i: PaymentGatewayInput!) { setPaymentGateway(input: $i) { provider scheme } }";
    let input = |p: &str, s: &str| json!({"i": {"provider": p, "scheme": "HMAC_SHA256", "secret": s}});

    for role in ["MANAGER", "CASHIER", "SUPPORT"] {
        let s = app.staff(&t, role).await;
        let r = app.gql(Some(&s.token), set, input("paypal", SECRET)).await;
        assert_eq!(code(&r), Some("FORBIDDEN"), "{role}: {r:#}");
        let r = app.gql(Some(&s.token), "mutation { removePaymentGateway(provider: \"paypal\") }", json!({})).await;
        assert_eq!(code(&r), Some("FORBIDDEN"), "{role}: {r:#}");
    }
    for (i, f) in [
        (input("pay pal", SECRET), "provider"),
        (input("", SECRET), "provider"),
        (input(&"p".repeat(41), SECRET), "provider"),
        (input("paypal", "short"), "secret"),
        (input("paypal", &"s".repeat(513)), "secret"),
    ] {
        let r = app.gql(Some(&t.token), set, i).await;
        assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some(f)), "{r:#}");
    }

    // An admin configures one; names are kept in lower case.
    let admin = app.staff(&t, "ADMIN").await;
    let d = app.ok(&admin.token, set, input(" PayPal ", SECRET)).await;
    assert_eq!(d["setPaymentGateway"], json!({"provider": "paypal", "scheme": "HMAC_SHA256"}));
    let q = "{ billingSettings { hasWebhookSecret paymentGateways { provider scheme } } }";
    let d = app.ok(&t.token, q, json!({})).await;
    assert_eq!(
        d["billingSettings"],
        json!({"hasWebhookSecret": true, "paymentGateways": [{"provider": "paypal", "scheme": "HMAC_SHA256"}]})
    );
    // Nothing in the graph can return a secret.
    let d = app.ok(&t.token, "{ __type(name: \"PaymentGateway\") { fields { name } } }", json!({})).await;
    let fields: Vec<&str> =
        d["__type"]["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(fields, ["provider", "scheme", "createdAt", "updatedAt"]);

    // Audited, without the secret.
    app.ok(&t.token, "mutation { removePaymentGateway(provider: \"PAYPAL\") }", json!({})).await;
    let r = app.gql(Some(&t.token), "mutation { removePaymentGateway(provider: \"paypal\") }", json!({})).await;
    assert_eq!(code(&r), Some("NOT_FOUND"), "{r:#}");
    let log = app.ok(&t.token, "{ auditLog(first: 10) { nodes { action actorId details } } }", json!({})).await
        ["auditLog"]["nodes"]
        .clone();
    let entries: Vec<(&str, &Value)> =
        log.as_array().unwrap().iter().map(|e| (e["action"].as_str().unwrap(), &e["details"])).collect();
    assert_eq!(entries[0].0, "gateway.remove");
    assert_eq!(entries[1].0, "gateway.set");
    assert!(!log.to_string().contains(SECRET), "the audit log holds no secret: {log:#}");
    let d = app.ok(&t.token, q, json!({})).await;
    assert_eq!(d["billingSettings"], json!({"hasWebhookSecret": false, "paymentGateways": []}));
}
