//! Bounds of money: every amount a client enters is at most 10^12 minor units, so balances,
//! statements and reports never overflow; charges are positive unless entered as credits.

use crate::billing::{minor, plan_priced, set_day};
use crate::billing_payments::{gateway, webhook};
use crate::*;
use isp_core::billing::webhooks::sign_hex;
use isp_core::validate::MAX_AMOUNT_MINOR;
use serde_json::{json, Value};

const RECORD: &str = "mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { id amount { amountMinor } } }";
const CHARGE: &str = "mutation($i: AddChargeInput!) { addCharge(input: $i) { id kind amount { amountMinor } } }";
const BALANCE: &str = "query($c: ID!) { customerBalance(customerId: $c) { balance { amountMinor } credit { amountMinor } \
    pendingChargesTotal { amountMinor } } customerStatement(customerId: $c) { kind amount { amountMinor } balance { amountMinor } } \
    billingReport(from: \"2024-01-01\", to: \"2024-01-31\") { collections { collected { amountMinor } } ageing { total { amountMinor } } } }";

fn payment(customer: &str, amount: i64) -> Value {
    json!({"i": {"customerId": customer, "amountMinor": amount, "method": "CASH"}})
}

fn validation(r: &Value, f: &str) {
    assert_eq!((code(r), field(r)), (Some("VALIDATION"), Some(f)), "{r:#}");
}

/// The reported case: two payments of `i64::MAX` made balances and the billing report answer
/// INTERNAL for good (SQLite's SUM overflows) and wrapped the statement.
#[tokio::test]
async fn amounts_over_the_maximum_are_refused_and_sums_of_the_largest_stay_exact() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    set_day(&app, "2024-01-15");
    let c = app.customer(&t.token, "Big spender").await;
    for _ in 0..2 {
        validation(&app.gql(Some(&t.token), RECORD, payment(&c, i64::MAX)).await, "amountMinor");
    }
    validation(&app.gql(Some(&t.token), RECORD, payment(&c, MAX_AMOUNT_MINOR + 1)).await, "amountMinor");
    let d = app.ok(&t.token, BALANCE, json!({"c": c})).await;
    assert_eq!(minor(&d["customerBalance"]["balance"]), 0);

    // The largest amount, twice: every sum is exact.
    for _ in 0..2 {
        app.ok(&t.token, RECORD, payment(&c, MAX_AMOUNT_MINOR)).await;
    }
    let d = app.ok(&t.token, BALANCE, json!({"c": c})).await;
    assert_eq!(minor(&d["customerBalance"]["balance"]), -2 * MAX_AMOUNT_MINOR);
    assert_eq!(minor(&d["customerBalance"]["credit"]), 2 * MAX_AMOUNT_MINOR);
    let running: Vec<i64> = d["customerStatement"].as_array().unwrap().iter().map(|e| minor(&e["balance"])).collect();
    assert_eq!(running, [-MAX_AMOUNT_MINOR, -2 * MAX_AMOUNT_MINOR]);
    assert_eq!(minor(&d["billingReport"]["collections"][0]["collected"]), 2 * MAX_AMOUNT_MINOR);
    assert_eq!(minor(&d["billingReport"]["ageing"]["total"]), 0);

    // Refunds, charges, plans and webhooks are bounded alike.
    let p = app.ok(&t.token, RECORD, payment(&c, 500)).await["recordPayment"]["id"].as_str().unwrap().to_string();
    let refund = "mutation($id: ID!, $a: Int!) { refundPayment(id: $id, amountMinor: $a, reason: \"r\") { id } }";
    validation(&app.gql(Some(&t.token), refund, json!({"id": p, "a": i64::MAX})).await, "amountMinor");
    let charge = |amount: i64, credit: bool| json!({"i": {"customerId": c, "description": "Big", "amountMinor": amount, "credit": credit}});
    validation(&app.gql(Some(&t.token), CHARGE, charge(i64::MAX, false)).await, "amountMinor");
    validation(&app.gql(Some(&t.token), CHARGE, charge(-MAX_AMOUNT_MINOR - 1, true)).await, "amountMinor");
    validation(&app.gql(Some(&t.token), CHARGE, charge(i64::MIN, true)).await, "amountMinor");
    let mut plan = plan_input(&format!("Gold {}", unique()), &["PPPOE"]);
    plan["priceMinor"] = json!(i64::MAX);
    let r =
        app.gql(Some(&t.token), "mutation($i: PlanInput!) { createPlan(input: $i) { id } }", json!({"i": plan})).await;
    validation(&r, "priceMinor");
    let id = plan_priced(&app, &t.token, MAX_AMOUNT_MINOR).await;
    let r = app
        .gql(
            Some(&t.token),
            "mutation($id: ID!, $i: PlanInput!) { updatePlan(id: $id, input: $i) { id } }",
            json!({"id": id, "i": plan}),
        )
        .await;
    validation(&r, "priceMinor");

    let secret = "whsec_limits_0123456789";
    gateway(&app, &t.token, "acme", "HMAC_SHA256", secret).await;
    let account = app.ok(&t.token, "query($c: ID!) { customer(id: $c) { accountNumber } }", json!({"c": c})).await
        ["customer"]["accountNumber"]
        .clone();
    let body = json!({"id": "ev-max", "type": "payment.succeeded", "accountNumber": account,
                      "amountMinor": i64::MAX, "currency": "USD"})
    .to_string();
    let sig = vec![("x-signature", format!("sha256={}", sign_hex(secret, body.as_bytes())))];
    let (s, r) = webhook(&app, "acme", &t.slug, &body, &sig).await;
    assert_eq!((s, r["code"].as_str()), (422, Some("VALIDATION")), "{r}");
    assert!(r["error"].as_str().unwrap().starts_with("amountMinor:"), "{r}");
    // Refused: nothing was recorded.
    let d = app.ok(&t.token, BALANCE, json!({"c": c})).await;
    assert_eq!(minor(&d["customerBalance"]["credit"]), 2 * MAX_AMOUNT_MINOR + 500);
}

#[tokio::test]
async fn charges_are_positive_and_credits_are_entered_as_credits() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    set_day(&app, "2024-01-01");
    let c = app.customer(&t.token, "Credited").await;
    let charge = |amount: i64, credit: Option<bool>| {
        let mut i = json!({"customerId": c, "description": "Goodwill", "amountMinor": amount});
        if let Some(credit) = credit {
            i["credit"] = json!(credit);
        }
        json!({"i": i})
    };
    // A negative amount is not a credit by accident; a credit is negative; zero is nothing.
    for (amount, credit) in [(-500, None), (-500, Some(false)), (500, Some(true)), (0, None), (0, Some(true))] {
        validation(&app.gql(Some(&t.token), CHARGE, charge(amount, credit)).await, "amountMinor");
    }
    let d = app.ok(&t.token, CHARGE, charge(2000, None)).await;
    assert_eq!((d["addCharge"]["kind"].as_str(), minor(&d["addCharge"]["amount"])), (Some("ONE_OFF"), 2000));
    let d = app.ok(&t.token, CHARGE, charge(-500, Some(true))).await;
    assert_eq!((d["addCharge"]["kind"].as_str(), minor(&d["addCharge"]["amount"])), (Some("CREDIT"), -500));
    let d = app.ok(&t.token, BALANCE, json!({"c": c})).await;
    assert_eq!(minor(&d["customerBalance"]["pendingChargesTotal"]), 1500);
    // The next invoice carries both lines.
    let lines = crate::billing::run_billing(&app, &t.token, "2024-01-01").await[0]["lines"].clone();
    let kinds: Vec<(&str, i64)> =
        lines.as_array().unwrap().iter().map(|l| (l["kind"].as_str().unwrap(), minor(&l["total"]))).collect();
    assert_eq!(kinds, [("ONE_OFF", 2000), ("CREDIT", -500)]);
}
