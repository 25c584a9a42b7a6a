//! Billing dates are the tenant's local dates: the daily run, issue and due dates, the
//! default `asOf` of the graph and payment dates follow the tenant's IANA time zone.

use crate::billing::{minor, plan_priced, settings, sub_from, INVOICE};
use crate::*;
use chrono::{NaiveDate, TimeZone, Utc};
use isp_core::scheduler as daily;
use isp_core::store::tenants;
use serde_json::{json, Value};

/// A tenant in `zone`, billing prepaid on day 1 with 14 days' terms, with one customer on a
/// 31.00 plan since 2024-01-01; (tenant, tenant id, customer id).
async fn tenant_in(app: &TestApp, zone: &str) -> (Tenant, i64, String) {
    let t = app.tenant().await;
    app.ok(&t.token, "mutation($z: String!) { updateTenant(input: {timezone: $z}) { timezone } }", json!({"z": zone}))
        .await;
    settings(app, &t.token, json!({"billingDay": 1, "mode": "PREPAID", "paymentTermsDays": 14})).await;
    let plan = plan_priced(app, &t.token, 3100).await;
    let c = app.customer(&t.token, &format!("Customer in {zone}")).await;
    sub_from(app, &t.token, &c, &plan, "2024-01-01").await;
    let id = tenants::by_slug(&app.ctx.db, &t.slug).await.unwrap().unwrap().id;
    (t, id, c)
}

async fn invoices(app: &TestApp, token: &str) -> Vec<Value> {
    let q = format!("{{ invoices(first: 10) {{ edges {{ node {{ {INVOICE} }} }} }} }}");
    let d = app.ok(token, &q, json!({})).await;
    d["invoices"]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect()
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

#[tokio::test]
async fn auckland_and_los_angeles_bill_different_days_at_the_same_instant() {
    let app = spawn_app().await;
    // 2024-01-31 11:30 UTC: 00:30 on 1 February in Auckland (NZDT, UTC+13), 03:30 on
    // 31 January in Los Angeles (PST, UTC-8).
    app.clock.set(Utc.with_ymd_and_hms(2024, 1, 31, 11, 30, 0).unwrap());
    let (akl, akl_id, akl_c) = tenant_in(&app, "Pacific/Auckland").await;
    let (lax, lax_id, lax_c) = tenant_in(&app, "America/Los_Angeles").await;

    // The graph's default asOf is the tenant's today.
    let q = "{ billingPreview { asOf invoices { issueDate dueDate } } }";
    let p = app.ok(&akl.token, q, json!({})).await;
    assert_eq!(p["billingPreview"]["asOf"], "2024-02-01");
    assert_eq!(p["billingPreview"]["invoices"][0]["dueDate"], "2024-02-15");
    assert_eq!(app.ok(&lax.token, q, json!({})).await["billingPreview"]["asOf"], "2024-01-31");

    // The daily job runs each tenant for its own date.
    let (d, ran) = daily::run_tenant_today(&app.ctx, akl_id).await.unwrap();
    assert_eq!((d, ran.invoices), (day("2024-02-01"), 1));
    let (d, ran) = daily::run_tenant_today(&app.ctx, lax_id).await.unwrap();
    assert_eq!((d, ran.invoices), (day("2024-01-31"), 1));

    // Auckland is already in February: January and February are billed, dated 1 February.
    let a = invoices(&app, &akl.token).await;
    assert_eq!(a.len(), 1);
    assert_eq!((a[0]["number"].as_str(), a[0]["issueDate"].as_str()), (Some("INV-2024-00001"), Some("2024-02-01")));
    assert_eq!(a[0]["dueDate"], "2024-02-15");
    let periods: Vec<&str> =
        a[0]["lines"].as_array().unwrap().iter().map(|l| l["periodStart"].as_str().unwrap()).collect();
    assert_eq!(periods, ["2024-01-01", "2024-02-01"]);
    assert_eq!(minor(&a[0]["total"]), 6200);
    // Los Angeles is still on 31 January: only January, dated that day.
    let l = invoices(&app, &lax.token).await;
    assert_eq!(l.len(), 1);
    assert_eq!((l[0]["issueDate"].as_str(), l[0]["dueDate"].as_str()), (Some("2024-01-31"), Some("2024-02-14")));
    assert_eq!(l[0]["lines"].as_array().unwrap().len(), 1);
    assert_eq!(minor(&l[0]["total"]), 3100);

    // Payments without a date are received on the tenant's today.
    let pay =
        "mutation($c: ID!) { recordPayment(input: {customerId: $c, amountMinor: 500, method: CASH}) { receivedOn } }";
    assert_eq!(app.ok(&akl.token, pay, json!({"c": akl_c})).await["recordPayment"]["receivedOn"], "2024-02-01");
    assert_eq!(app.ok(&lax.token, pay, json!({"c": lax_c})).await["recordPayment"]["receivedOn"], "2024-01-31");
}

#[tokio::test]
async fn a_run_at_23_30_local_on_the_last_day_of_the_month_bills_that_day_only() {
    let app = spawn_app().await;
    // 2024-02-01 12:00 in Los Angeles: February is billed.
    app.clock.set(Utc.with_ymd_and_hms(2024, 2, 1, 20, 0, 0).unwrap());
    let (t, id, _) = tenant_in(&app, "America/Los_Angeles").await;
    daily::run_tenant_today(&app.ctx, id).await.unwrap();
    assert_eq!(invoices(&app, &t.token).await.len(), 1);

    // 23:30 on 29 February (leap day) in Los Angeles is 07:30 on 1 March in UTC: a UTC
    // calendar would bill March now; the tenant's calendar bills nothing yet.
    app.clock.set(Utc.with_ymd_and_hms(2024, 3, 1, 7, 30, 0).unwrap());
    let token = app.login(&t.slug, &t.email, &t.password).await;
    let (d, ran) = daily::run_tenant_today(&app.ctx, id).await.unwrap();
    assert_eq!((d, ran.invoices), (day("2024-02-29"), 0));
    assert_eq!(invoices(&app, &token).await.len(), 1);

    // An hour later it is 1 March locally: March is billed, dated 1 March.
    app.clock.set(Utc.with_ymd_and_hms(2024, 3, 1, 8, 30, 0).unwrap());
    let token = app.login(&t.slug, &t.email, &t.password).await; // access tokens live 15 minutes
    let (d, ran) = daily::run_tenant_today(&app.ctx, id).await.unwrap();
    assert_eq!((d, ran.invoices), (day("2024-03-01"), 1));
    let all = invoices(&app, &token).await;
    let march = all.iter().find(|i| i["issueDate"] == "2024-03-01").expect("a March invoice");
    assert_eq!(march["number"], "INV-2024-00002");
    assert_eq!(march["dueDate"], "2024-03-15");
    assert_eq!(march["lines"][0]["periodStart"], "2024-03-01");
    assert_eq!(march["lines"][0]["periodEnd"], "2024-03-31");
}

#[tokio::test]
async fn unknown_time_zones_are_refused_on_create_and_update() {
    let app = spawn_app().await;
    let slug = format!("tz{}", unique());
    let r = app
        .gql(
            None,
            "mutation($i: RegisterTenantInput!) { registerTenant(input: $i) { accessToken } }",
            json!({"i": {"slug": slug, "name": "TZ ISP", "currency": "USD", "timezone": "Europe/Atlantis",
                         "ownerEmail": format!("o@{slug}.test"), "ownerName": "O", "ownerPassword": PASSWORD}}),
        )
        .await;
    assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some("timezone")), "{r:#}");
    assert!(tenants::by_slug(&app.ctx.db, &slug).await.unwrap().is_none());

    let t = app.tenant().await;
    let set = "mutation($z: String!) { updateTenant(input: {timezone: $z}) { timezone } }";
    let r = app.gql(Some(&t.token), set, json!({"z": "Mars/Olympus_Mons"})).await;
    assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some("timezone")), "{r:#}");
    let d = app.ok(&t.token, set, json!({"z": "Asia/Kathmandu"})).await;
    assert_eq!(d["updateTenant"]["timezone"], "Asia/Kathmandu");
    assert_eq!(app.ok(&t.token, "{ tenant { timezone } }", json!({})).await["tenant"]["timezone"], "Asia/Kathmandu");
}
