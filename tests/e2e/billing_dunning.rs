//! Dunning and reports end to end: reminder, overdue, suspension with a device job in the
//! same transaction, reactivation on payment; MRR, revenue, collections and ageing.

use crate::billing::{minor, plan_priced, run_billing, set_day, settings, sub_from};
use crate::*;
use isp_core::store::jobs::{self, JobKind};
use isp_core::store::tenants;
use isp_core::workflows::accounting::{self, AcctRecord, AcctStatus};
use serde_json::json;

async fn dunning(app: &TestApp, token: &str, day: &str) -> (i64, i64, i64) {
    set_day(app, day);
    let d = app
        .ok(token, "mutation($d: String) { runDunning(asOf: $d) { reminders overdue suspended } }", json!({"d": day}))
        .await;
    let r = &d["runDunning"];
    (r["reminders"].as_i64().unwrap(), r["overdue"].as_i64().unwrap(), r["suspended"].as_i64().unwrap())
}

async fn sub_status(app: &TestApp, token: &str, id: &str) -> String {
    app.ok(token, "query($id: ID!) { subscription(id: $id) { status } }", json!({"id": id})).await["subscription"]
        ["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn overdue_customers_are_reminded_suspended_with_a_device_job_and_reactivated_by_payment() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    set_day(&app, "2024-01-01");
    settings(
        &app,
        &t.token,
        json!({"paymentTermsDays": 10, "reminderDaysBefore": 3, "overdueAfterDays": 0, "suspendAfterDays": 7}),
    )
    .await;
    app.ok(&t.token, "mutation { updateTenant(input: {suspendedAccess: WALLED_GARDEN}) { id } }", json!({})).await;
    let plan = plan_priced(&app, &t.token, 1000).await;
    let c = app.customer(&t.token, "Late payer").await;
    let s = sub_from(&app, &t.token, &c, &plan, "2024-01-01").await;
    let (_, sub_row) = parse_global_id(&s);
    let tenant_id = tenants::by_slug(&app.ctx.db, &t.slug).await.unwrap().unwrap().id;
    // A live RADIUS session the suspension must cut.
    let start = AcctRecord {
        status: AcctStatus::Start,
        acct_session_id: "sess-1".into(),
        username: "late".into(),
        class_subscription_id: Some(sub_row),
        framed_ip: None,
        calling_station_id: None,
        nas_port_id: None,
        input_octets: 0,
        output_octets: 0,
        session_time: 0,
        terminate_cause: None,
    };
    accounting::account(&app.ctx, tenant_id, 1, &start).await.unwrap();
    let inv = &run_billing(&app, &t.token, "2024-01-01").await[0];
    assert_eq!(inv["dueDate"], "2024-01-11");

    assert_eq!(dunning(&app, &t.token, "2024-01-07").await, (0, 0, 0));
    assert_eq!(dunning(&app, &t.token, "2024-01-08").await, (1, 0, 0));
    assert_eq!(dunning(&app, &t.token, "2024-01-09").await, (0, 0, 0), "one reminder per invoice");
    assert_eq!(dunning(&app, &t.token, "2024-01-12").await, (0, 1, 0));
    let status = app.ok(&t.token, "query($id: ID!) { invoice(id: $id) { status } }", json!({"id": inv["id"]})).await;
    assert_eq!(status["invoice"]["status"], "OVERDUE");
    assert_eq!(dunning(&app, &t.token, "2024-01-17").await, (0, 0, 0));
    assert_eq!(sub_status(&app, &t.token, &s).await, "ACTIVE");
    assert_eq!(dunning(&app, &t.token, "2024-01-18").await, (0, 0, 1));
    assert_eq!(sub_status(&app, &t.token, &s).await, "SUSPENDED");
    assert_eq!(dunning(&app, &t.token, "2024-01-19").await, (0, 0, 0), "suspended once");
    let jobs = jobs::recent(&app.ctx.db, tenant_id, 10).await.unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].kind, JobKind::RadiusDisconnect);
    assert!(
        jobs[0].payload.contains("sess-1") && jobs[0].payload.contains("dunning suspension"),
        "{}",
        jobs[0].payload
    );

    // A partial payment leaves it suspended; clearing the overdue balance reactivates it.
    let q =
        "mutation($c: ID!, $a: Int!) { recordPayment(input: {customerId: $c, amountMinor: $a, method: CASH}) { id } }";
    app.ok(&t.token, q, json!({"c": c, "a": 400})).await;
    assert_eq!(sub_status(&app, &t.token, &s).await, "SUSPENDED");
    app.ok(&t.token, q, json!({"c": c, "a": 600})).await;
    assert_eq!(sub_status(&app, &t.token, &s).await, "ACTIVE");
    let jobs = jobs::recent(&app.ctx.db, tenant_id, 10).await.unwrap();
    assert_eq!(jobs.len(), 2, "the walled-garden session is cut so that it logs in again with full access");
    let d = app.ok(&t.token, "query($c: ID!) { dunningEvents(customerId: $c) { edges { node { kind invoiceId subscriptionId notifiedAt } } } }", json!({"c": c})).await;
    let kinds: Vec<&str> =
        d["dunningEvents"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["REACTIVATED", "SUSPENDED", "OVERDUE", "REMINDER"]);

    // Voiding the invoice that caused a suspension lifts it too.
    let feb = run_billing(&app, &t.token, "2024-02-01").await[0]["id"].clone();
    assert_eq!(dunning(&app, &t.token, "2024-02-25").await.2, 1);
    assert_eq!(sub_status(&app, &t.token, &s).await, "SUSPENDED");
    app.ok(&t.token, "mutation($id: ID!) { voidInvoice(id: $id, reason: \"waived\") { id } }", json!({"id": feb}))
        .await;
    assert_eq!(sub_status(&app, &t.token, &s).await, "ACTIVE");
}

#[tokio::test]
async fn reports_show_mrr_revenue_collections_and_ageing() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    set_day(&app, "2024-01-01");
    settings(&app, &t.token, json!({"paymentTermsDays": 10})).await;
    let monthly = plan_priced(&app, &t.token, 3000).await;
    let c1 = app.customer(&t.token, "Report one").await;
    let c2 = app.customer(&t.token, "Report two").await;
    sub_from(&app, &t.token, &c1, &monthly, "2024-01-01").await;
    sub_from(&app, &t.token, &c2, &monthly, "2024-01-01").await;
    run_billing(&app, &t.token, "2024-01-01").await;
    let q =
        "mutation($c: ID!, $a: Int!) { recordPayment(input: {customerId: $c, amountMinor: $a, method: CASH}) { id } }";
    app.ok(&t.token, q, json!({"c": c1, "a": 3000})).await;
    set_day(&app, "2024-02-01");
    run_billing(&app, &t.token, "2024-02-01").await;
    app.ok(&t.token, q, json!({"c": c1, "a": 1500})).await;

    let d = app
        .ok(
            &t.token,
            "{ billingReport(from: \"2024-01-01\", to: \"2024-02-29\", asOf: \"2024-03-15\") { mrr { amountMinor } \
               revenueByPlan { planId net { amountMinor } lines } \
               collections { month invoiced { amountMinor } collected { amountMinor } collectionRateBasisPoints } \
               ageing { current { amountMinor } days1To30 { amountMinor } days31To60 { amountMinor } days61To90 { amountMinor } total { amountMinor } } } }",
            json!({}),
        )
        .await;
    let r = &d["billingReport"];
    assert_eq!(minor(&r["mrr"]), 6000);
    assert_eq!(r["revenueByPlan"][0]["planId"], monthly);
    assert_eq!((minor(&r["revenueByPlan"][0]["net"]), r["revenueByPlan"][0]["lines"].as_i64()), (12000, Some(4)));
    let months: Vec<(String, i64, i64, Option<i64>)> = r["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["month"].as_str().unwrap().into(),
                minor(&m["invoiced"]),
                minor(&m["collected"]),
                m["collectionRateBasisPoints"].as_i64(),
            )
        })
        .collect();
    assert_eq!(months, vec![("2024-01".into(), 6000, 3000, Some(5000)), ("2024-02".into(), 6000, 1500, Some(2500))]);
    // As of March 15th: c2's January invoice (due Jan 11) is 64 days late, February's (due Feb 11) 33,
    // c1's February invoice has 1500 left, 33 days late.
    let a = &r["ageing"];
    let buckets = ["current", "days1To30", "days31To60", "days61To90", "total"].map(|b| minor(&a[b]));
    assert_eq!(buckets, [0, 0, 4500, 3000, 7500]);
}

#[tokio::test]
async fn the_daily_job_bills_and_dunns_each_tenant_once_per_day() {
    use isp_core::scheduler as daily;
    let app = spawn_app().await;
    let t = app.tenant().await;
    set_day(&app, "2024-01-01");
    let plan = plan_priced(&app, &t.token, 1000).await;
    let c = app.customer(&t.token, "Daily").await;
    sub_from(&app, &t.token, &c, &plan, "2024-01-01").await;
    let tenant_id = tenants::by_slug(&app.ctx.db, &t.slug).await.unwrap().unwrap().id;
    let day = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    assert_eq!(daily::run_tenant(&app.ctx, tenant_id, day).await.unwrap().invoices, 1);
    assert_eq!(daily::run_tenant(&app.ctx, tenant_id, day).await.unwrap(), daily::TenantDay::default());
}

/// The dunning run walks open invoices in chunks (here of 2, over 5 invoices due the same
/// day, so the keyset crosses equal due dates), and on shutdown stops before the next chunk
/// with UNAVAILABLE, leaving nothing half-done; the next run does the rest.
#[tokio::test]
async fn dunning_walks_invoices_in_chunks_and_stops_between_them_on_shutdown() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    set_day(&app, "2024-01-01");
    settings(
        &app,
        &t.token,
        json!({"paymentTermsDays": 10, "reminderDaysBefore": 3, "overdueAfterDays": 0, "suspendAfterDays": 7}),
    )
    .await;
    let plan = plan_priced(&app, &t.token, 1000).await;
    for i in 0..5 {
        let c = app.customer(&t.token, &format!("Chunked {i}")).await;
        sub_from(&app, &t.token, &c, &plan, "2024-01-01").await;
    }
    assert_eq!(run_billing(&app, &t.token, "2024-01-01").await.len(), 5);
    let tenant_id = tenants::by_slug(&app.ctx.db, &t.slug).await.unwrap().unwrap().id;
    let actor = isp_core::auth::Actor::system(tenant_id, "test");
    let day = chrono::NaiveDate::from_ymd_opt(2024, 1, 8).unwrap();
    let reminders = || async {
        let (n,): (i64,) = isp_core::db::query_as("SELECT COUNT(*) FROM dunning_events WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_one(&app.ctx.db)
            .await
            .unwrap();
        n
    };

    let stopping = isp_core::Ctx { shutdown: tokio_util::sync::CancellationToken::new(), ..app.ctx.clone() };
    stopping.shutdown.cancel();
    let e = isp_core::workflows::dunning::run(&stopping, &actor, day).await.unwrap_err();
    assert_eq!(e.code(), "UNAVAILABLE", "{e}");
    assert_eq!(reminders().await, 0, "nothing done after the shutdown began");

    let out = isp_core::workflows::dunning::run_in_chunks(&app.ctx, &actor, day, 2).await.unwrap();
    assert_eq!(out.reminders, 5, "three chunks, every invoice reminded once");
    assert_eq!(reminders().await, 5);
    let again = isp_core::workflows::dunning::run_in_chunks(&app.ctx, &actor, day, 2).await.unwrap();
    assert_eq!(again.reminders, 0);
}
