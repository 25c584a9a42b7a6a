//! Billing runs end to end: proration, cycles across month lengths and leap years, taxes,
//! plan changes, one-off charges, idempotency, concurrent and interrupted runs.

use crate::*;
use chrono::{NaiveDate, TimeZone, Utc};
use isp_core::auth::Actor;
use isp_core::billing::run::{self, RunOptions};
use serde_json::{json, Value};

/// Sets the injected clock to noon UTC of `day` (`YYYY-MM-DD`).
pub fn set_day(app: &TestApp, day: &str) {
    let d = NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
    app.clock.set(Utc.from_utc_datetime(&d.and_hms_opt(12, 0, 0).unwrap()));
}

/// Changes billing settings with a JSON patch.
pub async fn settings(app: &TestApp, token: &str, patch: Value) {
    app.ok(
        token,
        "mutation($i: BillingSettingsInput!) { updateBillingSettings(input: $i) { mode } }",
        json!({"i": patch}),
    )
    .await;
}

/// Creates a plan with `price` and returns its ID.
pub async fn plan_priced(app: &TestApp, token: &str, price: i64) -> String {
    let mut i = plan_input(&format!("Plan {price} {}", unique()), &["PPPOE"]);
    i["priceMinor"] = json!(price);
    app.ok(token, "mutation($i: PlanInput!) { createPlan(input: $i) { id } }", json!({"i": i})).await["createPlan"]
        ["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Creates an ACTIVE PPPoE subscription starting on `start`; its ID.
pub async fn sub_from(app: &TestApp, token: &str, customer: &str, plan: &str, start: &str) -> String {
    let d = app
        .ok(
            token,
            "mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) { id } }",
            json!({"i": {"customerId": customer, "planId": plan, "accessType": "PPPOE", "username": format!("b-{}", unique()),
                         "password": "s3cret", "status": "ACTIVE", "startDate": start}}),
        )
        .await;
    d["createSubscription"]["id"].as_str().unwrap().to_string()
}

/// Fields of an invoice the tests look at.
pub const INVOICE: &str = "id number status kind issueDate dueDate subtotal { amountMinor } tax { amountMinor } \
    total { amountMinor } paid { amountMinor } balance { amountMinor } \
    lines { kind description periodStart periodEnd net { amountMinor } tax { amountMinor } total { amountMinor } }";

/// `runBilling(asOf)`; the created invoices.
pub async fn run_billing(app: &TestApp, token: &str, as_of: &str) -> Vec<Value> {
    let q = format!("mutation($d: String) {{ runBilling(asOf: $d) {{ invoices {{ {INVOICE} }} }} }}");
    app.ok(token, &q, json!({"d": as_of})).await["runBilling"]["invoices"].as_array().unwrap().clone()
}

/// `billingPreview(asOf)`; the invoices it would create.
pub async fn preview(app: &TestApp, token: &str, as_of: &str) -> Vec<Value> {
    let q = "query($d: String) { billingPreview(asOf: $d) { invoices { subtotal { amountMinor } tax { amountMinor } \
             total { amountMinor } lines { kind description periodStart periodEnd net { amountMinor } tax { amountMinor } total { amountMinor } } } } }";
    app.ok(token, q, json!({"d": as_of})).await["billingPreview"]["invoices"].as_array().unwrap().clone()
}

/// Amount in minor units of a Money field.
pub fn minor(v: &Value) -> i64 {
    v["amountMinor"].as_i64().unwrap_or_else(|| panic!("not money: {v}"))
}

/// The preview must show exactly what the run then created (lines and totals).
fn same_as_preview(preview: &[Value], created: &[Value]) {
    assert_eq!(preview.len(), created.len(), "preview {preview:#?} vs run {created:#?}");
    for (p, c) in preview.iter().zip(created) {
        for f in ["subtotal", "tax", "total", "lines"] {
            assert_eq!(p[f], c[f], "{f}");
        }
    }
}

async fn invoice_count(app: &TestApp, token: &str) -> usize {
    app.ok(token, "{ invoices(first: 100) { edges { node { id } } } }", json!({})).await["invoices"]["edges"]
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test]
async fn fixed_billing_day_prorates_the_start_then_bills_each_cycle_once() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    set_day(&app, "2024-01-15");
    settings(&app, &t.token, json!({"billingDay": 1, "mode": "PREPAID", "paymentTermsDays": 10})).await;
    app.ok(&t.token, "mutation { setTaxRate(input: {taxClass: \"standard\", name: \"VAT 16%\", rateBasisPoints: 1600, inclusive: false}) { name } }", json!({})).await;
    let plan = plan_priced(&app, &t.token, 3100).await;
    let c = app.customer(&t.token, "Prorated Customer").await;
    sub_from(&app, &t.token, &c, &plan, "2024-01-15").await;
    app.ok(&t.token, "mutation($c: ID!) { addCharge(input: {customerId: $c, description: \"Installation\", amountMinor: 5000}) { id } }", json!({"c": c})).await;

    let p = preview(&app, &t.token, "2024-01-15").await;
    let created = run_billing(&app, &t.token, "2024-01-15").await;
    same_as_preview(&p, &created);
    let inv = &created[0];
    assert_eq!(inv["number"], "INV-2024-00001");
    assert_eq!((inv["issueDate"].as_str(), inv["dueDate"].as_str()), (Some("2024-01-15"), Some("2024-01-25")));
    let l = &inv["lines"][0];
    // 17 of January's 31 days: 3100 * 17 / 31 = 1700 exactly; tax 16 % = 272.
    assert_eq!((l["periodStart"].as_str(), l["periodEnd"].as_str()), (Some("2024-01-15"), Some("2024-01-31")));
    assert_eq!((minor(&l["net"]), minor(&l["tax"]), minor(&l["total"])), (1700, 272, 1972));
    assert_eq!(inv["lines"][1]["kind"], "ONE_OFF");
    assert_eq!(minor(&inv["lines"][1]["total"]), 5800);
    assert_eq!((minor(&inv["subtotal"]), minor(&inv["tax"]), minor(&inv["total"])), (6700, 1072, 7772));

    // Idempotent: the same day again, and a later day in the same cycle, bill nothing.
    assert!(run_billing(&app, &t.token, "2024-01-15").await.is_empty());
    assert!(preview(&app, &t.token, "2024-01-31").await.is_empty());
    assert!(run_billing(&app, &t.token, "2024-01-31").await.is_empty());

    // February (29 days, leap year) and March bill the full price.
    for (day, number, start, end) in [
        ("2024-02-01", "INV-2024-00002", "2024-02-01", "2024-02-29"),
        ("2024-03-01", "INV-2024-00003", "2024-03-01", "2024-03-31"),
    ] {
        let p = preview(&app, &t.token, day).await;
        let created = run_billing(&app, &t.token, day).await;
        same_as_preview(&p, &created);
        assert_eq!(created.len(), 1);
        assert_eq!(created[0]["number"], number);
        let l = &created[0]["lines"][0];
        assert_eq!((l["periodStart"].as_str(), l["periodEnd"].as_str()), (Some(start), Some(end)));
        assert_eq!((minor(&l["net"]), minor(&l["total"])), (3100, 3596));
    }
    assert_eq!(invoice_count(&app, &t.token).await, 3);
}

#[tokio::test]
async fn anniversaries_on_the_29th_to_31st_follow_short_months_and_leap_years() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    set_day(&app, "2023-01-01");
    let plan = plan_priced(&app, &t.token, 2999).await;
    let c31 = app.customer(&t.token, "Anniversary 31").await;
    sub_from(&app, &t.token, &c31, &plan, "2024-01-31").await;
    let c29 = app.customer(&t.token, "Anniversary 29").await;
    sub_from(&app, &t.token, &c29, &plan, "2023-01-29").await;
    let c30 = app.customer(&t.token, "Anniversary 30").await;
    sub_from(&app, &t.token, &c30, &plan, "2023-01-30").await;

    let mut periods: Vec<(String, String)> = Vec::new();
    for day in ["2023-01-31", "2023-02-28", "2023-03-31", "2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30"] {
        for inv in run_billing(&app, &t.token, day).await {
            for l in inv["lines"].as_array().unwrap() {
                assert_eq!(minor(&l["total"]), 2999, "a full cycle is never prorated: {l}");
                periods.push((l["periodStart"].as_str().unwrap().into(), l["periodEnd"].as_str().unwrap().into()));
            }
        }
    }
    let want = [
        ("2023-01-29", "2023-02-27"),
        ("2023-01-30", "2023-02-27"),
        ("2023-02-28", "2023-03-28"),
        ("2023-02-28", "2023-03-29"),
        ("2023-03-29", "2023-04-28"),
        ("2023-03-30", "2023-04-29"),
        ("2024-01-31", "2024-02-28"),
        ("2024-02-29", "2024-03-30"),
        ("2024-03-31", "2024-04-29"),
        ("2024-04-30", "2024-05-30"),
    ];
    for (s, e) in want {
        assert!(periods.contains(&(s.to_string(), e.to_string())), "missing {s}..{e} in {periods:?}");
    }
    // The 29th/30th subscriptions caught up month by month up to 2024-04-30: no gaps, no overlaps.
    let mut starts: Vec<&(String, String)> = periods.iter().collect();
    starts.sort();
    let n = starts.len();
    starts.dedup();
    assert_eq!(starts.len(), n, "a cycle was billed twice");
}

#[tokio::test]
async fn inclusive_and_exclusive_taxes_round_once_per_line() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    set_day(&app, "2024-06-01");
    for (class, bp, inclusive) in [("standard", 1600, false), ("vat20", 2000, true)] {
        app.ok(
            &t.token,
            "mutation($i: TaxRateInput!) { setTaxRate(input: $i) { taxClass } }",
            json!({"i": {"taxClass": class, "name": class, "rateBasisPoints": bp, "inclusive": inclusive}}),
        )
        .await;
    }
    let a = plan_priced(&app, &t.token, 2999).await;
    let b = plan_priced(&app, &t.token, 2999).await;
    app.ok(&t.token, "mutation($p: ID!) { setPlanTaxClass(planId: $p, taxClass: \"vat20\") }", json!({"p": b})).await;
    let c = app.customer(&t.token, "Taxed").await;
    sub_from(&app, &t.token, &c, &a, "2024-06-01").await;
    sub_from(&app, &t.token, &c, &b, "2024-06-01").await;
    let inv = &run_billing(&app, &t.token, "2024-06-01").await[0];
    let lines: Vec<(i64, i64, i64)> = inv["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (minor(&l["net"]), minor(&l["tax"]), minor(&l["total"])))
        .collect();
    // Exclusive: 2999 * 16 % = 479.84 -> 480. Inclusive: 2999 * 20 / 120 = 499.83 -> 500.
    assert_eq!(lines, vec![(2999, 480, 3479), (2499, 500, 2999)]);
    assert_eq!((minor(&inv["subtotal"]), minor(&inv["tax"]), minor(&inv["total"])), (5498, 980, 6478));
    let r = app.gql(Some(&t.token), "mutation { setTaxRate(input: {taxClass: \"bad class!\", name: \"x\", rateBasisPoints: 1, inclusive: false}) { name } }", json!({})).await;
    assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some("taxClass")));
}

#[tokio::test]
async fn plan_change_and_cancellation_mid_cycle_are_prorated_to_the_cent() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    set_day(&app, "2024-04-01");
    let small = plan_priced(&app, &t.token, 3000).await;
    let big = plan_priced(&app, &t.token, 4500).await;
    let c = app.customer(&t.token, "Upgrader").await;
    let s = sub_from(&app, &t.token, &c, &small, "2024-04-01").await;
    assert_eq!(minor(&run_billing(&app, &t.token, "2024-04-01").await[0]["total"]), 3000);

    // Upgrade on April 11th: 20 of April's 30 days remain.
    set_day(&app, "2024-04-11");
    let adj = app
        .ok(&t.token, "mutation($s: ID!, $p: ID!) { changeSubscriptionPlan(id: $s, planId: $p) { amount { amountMinor } description } }", json!({"s": s, "p": big}))
        .await;
    let amounts: Vec<i64> =
        adj["changeSubscriptionPlan"].as_array().unwrap().iter().map(|c| minor(&c["amount"])).collect();
    assert_eq!(amounts, vec![-2000, 3000]);
    let inv = &run_billing(&app, &t.token, "2024-05-01").await[0];
    let totals: Vec<i64> = inv["lines"].as_array().unwrap().iter().map(|l| minor(&l["total"])).collect();
    assert_eq!(totals, vec![4500, 3000, -2000]);
    assert_eq!(minor(&inv["total"]), 5500);

    // Cancel on May 21st: 11 of May's 31 days unused: 4500 * 11 / 31 = 1596.77 -> 1597 credit.
    set_day(&app, "2024-05-21");
    let r = app
        .ok(
            &t.token,
            "mutation($s: ID!) { cancelSubscription(id: $s, reason: \"moving\") { amount { amountMinor } } }",
            json!({"s": s}),
        )
        .await;
    assert_eq!(minor(&r["cancelSubscription"]["amount"]), -1597);
    let b = app
        .ok(
            &t.token,
            "query($c: ID!) { customerBalance(customerId: $c) { pendingChargesTotal { amountMinor } } }",
            json!({"c": c}),
        )
        .await;
    assert_eq!(minor(&b["customerBalance"]["pendingChargesTotal"]), -1597);
    // A credit alone never makes a negative invoice: it waits for the next one.
    assert!(run_billing(&app, &t.token, "2024-06-01").await.is_empty());

    // Postpaid: a plan change before the cycle is billed moves the used days back to the old price.
    let t2 = app.tenant().await;
    settings(&app, &t2.token, json!({"mode": "POSTPAID"})).await;
    let small = plan_priced(&app, &t2.token, 3100).await;
    let big = plan_priced(&app, &t2.token, 6200).await;
    let c = app.customer(&t2.token, "Postpaid").await;
    let s = sub_from(&app, &t2.token, &c, &small, "2024-05-01").await;
    app.ok(&t2.token, "mutation($s: ID!, $p: ID!) { changeSubscriptionPlan(id: $s, planId: $p, effectiveDate: \"2024-05-11\") { id } }", json!({"s": s, "p": big})).await;
    assert!(run_billing(&app, &t2.token, "2024-05-31").await.is_empty());
    let inv = &run_billing(&app, &t2.token, "2024-06-01").await[0];
    // 10 days at 3100/31 + 21 days at 6200/31 = 1000 + 4200.
    assert_eq!(minor(&inv["total"]), 5200);
}

#[tokio::test]
async fn running_twice_or_at_once_bills_each_cycle_once_with_gapless_numbers() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    set_day(&app, "2024-03-01");
    let plan = plan_priced(&app, &t.token, 1000).await;
    for i in 0..6 {
        let c = app.customer(&t.token, &format!("Concurrent {i}")).await;
        sub_from(&app, &t.token, &c, &plan, "2024-03-01").await;
    }
    let (a, b, c) = tokio::join!(
        run_billing(&app, &t.token, "2024-03-01"),
        run_billing(&app, &t.token, "2024-03-01"),
        run_billing(&app, &t.token, "2024-03-01")
    );
    assert_eq!(a.len() + b.len() + c.len(), 6);
    let mut numbers: Vec<String> =
        a.iter().chain(&b).chain(&c).map(|i| i["number"].as_str().unwrap().to_string()).collect();
    numbers.sort();
    let want: Vec<String> = (1..=6).map(|n| format!("INV-2024-{n:05}")).collect();
    assert_eq!(numbers, want);
    assert!(run_billing(&app, &t.token, "2024-03-01").await.is_empty());
    assert_eq!(invoice_count(&app, &t.token).await, 6);
}

#[tokio::test]
async fn a_run_killed_half_way_leaves_whole_invoices_and_the_rerun_completes_it() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    set_day(&app, "2024-03-01");
    let plan = plan_priced(&app, &t.token, 1000).await;
    for i in 0..4 {
        let c = app.customer(&t.token, &format!("Killed {i}")).await;
        sub_from(&app, &t.token, &c, &plan, "2024-03-01").await;
    }
    let tenant_id = isp_core::store::tenants::by_slug(&app.ctx.db, &t.slug).await.unwrap().unwrap().id;
    let actor = Actor::system(tenant_id, "test");
    let day = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
    let err = run::run_with(&app.ctx, &actor, day, RunOptions { dry_run: false, crash_after: Some(2) }).await;
    assert!(err.is_err(), "the run should have died");
    // Two whole invoices survive; the third's lines and billed cycle were rolled back with it.
    assert_eq!(invoice_count(&app, &t.token).await, 2);
    let d = app.ok(&t.token, "{ invoices(first: 10) { edges { node { lines { kind } } } } }", json!({})).await;
    let lines: usize =
        d["invoices"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["lines"].as_array().unwrap().len()).sum();
    assert_eq!(lines, 2);
    let rest = run_billing(&app, &t.token, "2024-03-01").await;
    let numbers: Vec<&str> = rest.iter().map(|i| i["number"].as_str().unwrap()).collect();
    assert_eq!(numbers, vec!["INV-2024-00003", "INV-2024-00004"], "the dead run's number was not lost");
    assert_eq!(invoice_count(&app, &t.token).await, 4);
}

#[tokio::test]
async fn settings_are_validated() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let q = "mutation($i: BillingSettingsInput!) { updateBillingSettings(input: $i) { billingDay } }";
    for (input, f) in [
        (json!({"billingDay": 29}), "billingDay"),
        (json!({"invoiceTemplate": "INV-{YYYY}"}), "invoiceTemplate"),
        (json!({"paymentTermsDays": -1}), "paymentTermsDays"),
        (json!({"webhookSecret": "short"}), "webhookSecret"),
    ] {
        let r = app.gql(Some(&t.token), q, json!({"i": input})).await;
        assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some(f)), "{r:#}");
    }
    let d =
        app.ok(&t.token, "{ billingSettings { billingDay mode invoiceTemplate hasWebhookSecret } }", json!({})).await;
    assert_eq!(
        d["billingSettings"],
        json!({"billingDay": 0, "mode": "PREPAID", "invoiceTemplate": "INV-{YYYY}-{SEQ:5}", "hasWebhookSecret": false})
    );
}
