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

/// `runBilling(asOf)`; the created invoices in creation order (at most 100), checked against
/// the run's count and total.
pub async fn run_billing(app: &TestApp, token: &str, as_of: &str) -> Vec<Value> {
    let q = format!(
        "mutation($d: String) {{ runBilling(asOf: $d) {{ invoiceCount total {{ amountMinor }} \
         invoices(first: 100) {{ edges {{ node {{ {INVOICE} }} }} }} }} }}"
    );
    let r = app.ok(token, &q, json!({"d": as_of})).await["runBilling"].clone();
    let mut list: Vec<Value> = r["invoices"]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect();
    list.reverse();
    assert_eq!(r["invoiceCount"].as_u64(), Some(list.len() as u64), "{r:#}");
    assert_eq!(minor(&r["total"]), list.iter().map(|i| minor(&i["total"])).sum::<i64>(), "{r:#}");
    list
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
    // Two customers per transaction; the run dies in the second chunk, after writing all of it.
    let opts = RunOptions { crash_after: Some(2), chunk: 2, ..Default::default() };
    let err = run::run_with(&app.ctx, &actor, day, opts).await;
    assert!(err.is_err(), "the run should have died");
    // The first chunk's two invoices survive; the second's invoices, lines and billed cycles
    // were rolled back with it, and so were its invoice numbers.
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
        (json!({"billingDay": 0}), "billingDay"),
        (json!({"billingDay": 29}), "billingDay"),
        (json!({"billingDay": 31}), "billingDay"),
        (json!({"billingDay": -1}), "billingDay"),
        (json!({"invoiceTemplate": "INV-{YYYY}"}), "invoiceTemplate"),
        (json!({"paymentTermsDays": -1}), "paymentTermsDays"),
    ] {
        let r = app.gql(Some(&t.token), q, json!({"i": input})).await;
        assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some(f)), "{r:#}");
    }
    // The tenant-wide webhook secret is gone: gateways have their own (`setPaymentGateway`).
    let r = app.gql(Some(&t.token), q, json!({"i": {"webhookSecret": "s3cret-s3cret-s3cret"}})).await;
    assert_eq!(code(&r), Some("VALIDATION"), "{r:#}");
    let d =
        app.ok(&t.token, "{ billingSettings { billingDay mode invoiceTemplate hasWebhookSecret } }", json!({})).await;
    assert_eq!(
        d["billingSettings"],
        json!({"billingDay": null, "mode": "PREPAID", "invoiceTemplate": "INV-{YYYY}-{SEQ:5}", "hasWebhookSecret": false})
    );
    // A fixed day, then back to anniversaries with null; an absent field stays as it is.
    for (input, want) in [
        (json!({"billingDay": 28}), json!(28)),
        (json!({"paymentTermsDays": 10}), json!(28)),
        (json!({"billingDay": null}), json!(null)),
    ] {
        let d = app.ok(&t.token, q, json!({"i": input})).await;
        assert_eq!(d["updateBillingSettings"]["billingDay"], want);
    }
}

#[tokio::test]
async fn a_run_bills_in_chunks_with_few_statements_and_pages_its_invoices() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    set_day(&app, "2024-03-01");
    let plan = plan_priced(&app, &t.token, 1000).await;
    for i in 0..7 {
        let c = app.customer(&t.token, &format!("Chunked {i}")).await;
        sub_from(&app, &t.token, &c, &plan, "2024-03-01").await;
    }
    let tenant_id = isp_core::store::tenants::by_slug(&app.ctx.db, &t.slug).await.unwrap().unwrap().id;
    let actor = Actor::system(tenant_id, "test");
    let day = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();

    // The preview plans all seven (listing the first two) and writes nothing.
    let p = run::preview(&app.ctx, &actor, day, 2).await.unwrap();
    assert_eq!((p.invoices, p.planned.len(), p.total, p.run_id), (7, 2, 7000, None));

    // Three customers per transaction: three chunks, each a fixed handful of statements
    // (settings, two candidate queries, tax rates, subscriptions, charges, the run row, the
    // number block, invoices, lines, billed periods, the credit lookup, audit, and on PostgreSQL
    // the customers' row locks, the tenant's enabled notification channels), not per customer;
    // then one empty look for a fourth chunk.
    let before = app.ctx.db.statements();
    let out = run::run_with(&app.ctx, &actor, day, RunOptions { chunk: 3, ..Default::default() }).await.unwrap();
    let used = app.ctx.db.statements() - before;
    assert_eq!((out.invoices, out.customers_checked, out.total, out.drafts), (7, 7, 7000, false));
    assert!(used <= 3 * 15 + 3, "{used} statements for 3 chunks");

    // A re-run with nothing due is one empty walk: three statements, no write, no run row.
    let before = app.ctx.db.statements();
    let again = run::run(&app.ctx, &actor, day).await.unwrap();
    assert_eq!((again.invoices, again.customers_checked, again.run_id), (0, 0, None));
    assert!(app.ctx.db.statements() - before <= 3, "re-run used {}", app.ctx.db.statements() - before);

    // The run's invoices, page by page, through the graph: numbered gaplessly across chunks.
    let run_id = global_id("BillingRun", out.run_id.unwrap());
    let q = "query($r: ID!, $a: String) { invoices(first: 4, after: $a, billingRunId: $r) { edges { node { number } } \
             pageInfo { hasNextPage endCursor } } }";
    let mut numbers = Vec::new();
    let mut after = Value::Null;
    loop {
        let d = app.ok(&t.token, q, json!({"r": run_id, "a": after})).await;
        let page = &d["invoices"];
        numbers.extend(
            page["edges"].as_array().unwrap().iter().map(|e| e["node"]["number"].as_str().unwrap().to_string()),
        );
        if page["pageInfo"]["hasNextPage"] != json!(true) {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    numbers.sort();
    assert_eq!(numbers, (1..=7).map(|n| format!("INV-2024-{n:05}")).collect::<Vec<_>>());

    // runBilling answers with counts and totals; a run that created nothing lists nothing.
    let d = app
        .ok(
            &t.token,
            "mutation { runBilling(asOf: \"2024-03-01\") { invoiceCount customersChecked drafts total { amountMinor } \
             invoices(first: 5) { edges { node { id } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d["runBilling"],
        json!({"invoiceCount": 0, "customersChecked": 0, "drafts": false, "total": {"amountMinor": 0}, "invoices": {"edges": []}})
    );
}

/// Pending charges of a customer: (amount, description) in order.
async fn pending(app: &TestApp, token: &str, customer: &str) -> Vec<(i64, String)> {
    let d = app
        .ok(
            token,
            "query($c: ID!) { customerBalance(customerId: $c) { pendingCharges { amount { amountMinor } description } } }",
            json!({"c": customer}),
        )
        .await;
    d["customerBalance"]["pendingCharges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (minor(&c["amount"]), c["description"].as_str().unwrap().to_string()))
        .collect()
}

async fn update_plan(app: &TestApp, token: &str, sub: &str, plan: &str) -> Value {
    app.gql(
        Some(token),
        "mutation($s: ID!, $p: ID!) { updateSubscription(input: {id: $s, planId: $p}) { id } }",
        json!({"s": sub, "p": plan}),
    )
    .await
}

#[tokio::test]
async fn update_subscription_prorates_a_plan_change_on_the_last_day_of_a_month_and_in_a_leap_february() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    settings(&app, &t.token, json!({"billingDay": 1, "mode": "PREPAID"})).await;
    set_day(&app, "2024-01-01");
    let p3100 = plan_priced(&app, &t.token, 3100).await;
    let p6200 = plan_priced(&app, &t.token, 6200).await;
    let p2900 = plan_priced(&app, &t.token, 2900).await;
    let p5800 = plan_priced(&app, &t.token, 5800).await;
    let jan = app.customer(&t.token, "Last day of January").await;
    let s_jan = sub_from(&app, &t.token, &jan, &p3100, "2024-01-01").await;
    assert_eq!(run_billing(&app, &t.token, "2024-01-01").await.len(), 1);

    // January 31st, the last of 31 days: one day of each plan, each rounded once.
    set_day(&app, "2024-01-31");
    let r = update_plan(&app, &t.token, &s_jan, &p6200).await;
    assert!(r.get("errors").is_none(), "{r:#}");
    let (old, new) = (plan_name(&app, &t.token, &p3100).await, plan_name(&app, &t.token, &p6200).await);
    assert_eq!(
        pending(&app, &t.token, &jan).await,
        vec![
            (-100, format!("Credit: {old} unused 2024-01-31 to 2024-01-31")),
            (200, format!("Plan change: {new} 2024-01-31 to 2024-01-31")),
        ]
    );

    // A leap February: billed Feb 1st for its 29 days, changed on the 10th (20 days left) and
    // on the 29th (1 day left) for two customers.
    set_day(&app, "2024-02-01");
    let mid = app.customer(&t.token, "Mid February").await;
    let s_mid = sub_from(&app, &t.token, &mid, &p2900, "2024-02-01").await;
    let leap = app.customer(&t.token, "Leap day").await;
    let s_leap = sub_from(&app, &t.token, &leap, &p2900, "2024-02-01").await;
    let feb = run_billing(&app, &t.token, "2024-02-01").await;
    assert_eq!(feb.len(), 3, "January's customer gets February plus its adjustments");
    let jan_feb = feb.iter().find(|i| i["lines"].as_array().unwrap().len() == 3).expect("the plan-change invoice");
    let totals: Vec<i64> = jan_feb["lines"].as_array().unwrap().iter().map(|l| minor(&l["total"])).collect();
    assert_eq!(totals, vec![6200, 200, -100]);

    set_day(&app, "2024-02-10");
    assert!(update_plan(&app, &t.token, &s_mid, &p5800).await.get("errors").is_none());
    // 2900 * 20 / 29 = 2000 credited, 5800 * 20 / 29 = 4000 charged.
    let amounts: Vec<i64> = pending(&app, &t.token, &mid).await.into_iter().map(|c| c.0).collect();
    assert_eq!(amounts, vec![-2000, 4000]);
    set_day(&app, "2024-02-29");
    assert!(update_plan(&app, &t.token, &s_leap, &p5800).await.get("errors").is_none());
    let leap_pending = pending(&app, &t.token, &leap).await;
    assert_eq!(leap_pending.iter().map(|c| c.0).collect::<Vec<_>>(), vec![-100, 200]);
    assert!(leap_pending[0].1.ends_with("unused 2024-02-29 to 2024-02-29"), "{leap_pending:?}");

    // March's invoices carry the adjustments after the new plan's full cycle.
    let mar = run_billing(&app, &t.token, "2024-03-01").await;
    let mut totals: Vec<i64> = mar.iter().map(|i| minor(&i["total"])).collect();
    totals.sort();
    assert_eq!(totals, vec![5800 + 200 - 100, 6200, 5800 + 4000 - 2000]);

    // The audit entry of the update records the adjustments.
    let d = app
        .ok(
            &t.token,
            "query($id: ID!) { auditLog(first: 1, filter: {objectId: $id, actionPrefix: \"subscription.update\"}) { nodes { details } } }",
            json!({"id": s_leap}),
        )
        .await;
    assert_eq!(d["auditLog"]["nodes"][0]["details"]["adjustments"], json!([-100, 200]));

    // Same plan again, or a subscription that has not started (nothing billed or used): no adjustment.
    assert!(update_plan(&app, &t.token, &s_leap, &p5800).await.get("errors").is_none());
    let later = app.customer(&t.token, "Not started").await;
    let s_later = sub_from(&app, &t.token, &later, &p2900, "2024-04-01").await;
    assert!(update_plan(&app, &t.token, &s_later, &p5800).await.get("errors").is_none());
    assert!(pending(&app, &t.token, &later).await.is_empty());

    // A plan with another billing period cannot be prorated mid-cycle: refused, nothing changed.
    let mut yearly = plan_input(&format!("Yearly {}", unique()), &["PPPOE"]);
    yearly["billingPeriod"] = json!("YEARLY");
    let yearly = app
        .ok(&t.token, "mutation($i: PlanInput!) { createPlan(input: $i) { id } }", json!({"i": yearly}))
        .await["createPlan"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    set_day(&app, "2024-03-15");
    let r = update_plan(&app, &t.token, &s_mid, &yearly).await;
    assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some("planId")), "{r:#}");
    assert!(pending(&app, &t.token, &mid).await.is_empty());
}

async fn plan_name(app: &TestApp, token: &str, plan: &str) -> String {
    let d = app.ok(token, "query($id: ID!) { node(id: $id) { ... on Plan { name } } }", json!({"id": plan})).await;
    d["node"]["name"].as_str().unwrap().to_string()
}
