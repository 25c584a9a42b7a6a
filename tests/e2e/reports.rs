//! The business reports over GraphQL: typed rows for a small history, the roles that may read
//! them, tenant scoping and the range checks. The figures themselves are held to hand-computed
//! ones in `core/src/report_figures.rs`.

use crate::billing::{minor, plan_priced, set_day, sub_from};
use crate::*;
use serde_json::json;

const ACQ: &str = "query($f: String!, $t: String!, $b: ReportBucket, $p: Boolean) { acquisitionReport(from: $f, to: $t, \
    bucket: $b, byPlan: $p) { bucket firstDay lastDay planId planName accessType openAtStart newCustomers newSubscriptions \
    cancellations movedIn movedOut netGrowth openAtEnd churnRateBasisPoints } }";
const MRR: &str = "query($f: String!, $t: String!) { mrrReport(from: $f, to: $t) { bucket startingMrr { amountMinor } \
    newMrr { amountMinor } churnedMrr { amountMinor } netMrr { amountMinor } endingMrr { amountMinor currency } \
    activeSubscriptions arpu { amountMinor } } }";

#[tokio::test]
async fn business_reports_answer_typed_rows_by_role_and_tenant_with_checked_ranges() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    set_day(&app, "2026-01-10");
    let plan = plan_priced(&app, &t.token, 2_500).await;
    let c = app.customer(&t.token, "Reporter").await;
    sub_from(&app, &t.token, &c, &plan, "2026-01-10").await;
    set_day(&app, "2026-02-03");
    let c2 = app.customer(&t.token, "Second").await;
    let s2 = sub_from(&app, &t.token, &c2, &plan, "2026-02-03").await;
    set_day(&app, "2026-02-20");
    app.ok(&t.token, "mutation($id: ID!) { cancelSubscription(id: $id) { id } }", json!({"id": s2})).await;

    let vars = json!({"f": "2026-01-01", "t": "2026-02-28", "b": "MONTH", "p": true});
    let rows = app.ok(&t.token, ACQ, vars).await["acquisitionReport"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert_eq!(rows[0]["bucket"], "2026-01");
    assert_eq!(rows[0]["planId"], json!(plan));
    assert_eq!(rows[0]["accessType"], "PPPOE");
    assert_eq!((rows[0]["newCustomers"].as_i64(), rows[0]["openAtEnd"].as_i64()), (Some(1), Some(1)));
    assert_eq!(rows[0]["churnRateBasisPoints"], json!(null));
    assert_eq!((rows[1]["bucket"].as_str(), rows[1]["lastDay"].as_str()), (Some("2026-02"), Some("2026-02-28")));
    assert_eq!(rows[1]["openAtStart"], 1);
    assert_eq!(rows[1]["newSubscriptions"], 1);
    assert_eq!(rows[1]["cancellations"], 1);
    assert_eq!(rows[1]["netGrowth"], 0);
    assert_eq!(rows[1]["churnRateBasisPoints"], 10_000);

    let m = app.ok(&t.token, MRR, json!({"f": "2026-01-01", "t": "2026-02-28"})).await["mrrReport"].clone();
    assert_eq!(minor(&m[0]["newMrr"]), 2_500);
    assert_eq!(minor(&m[0]["endingMrr"]), 2_500);
    assert_eq!(m[0]["endingMrr"]["currency"], "USD");
    assert_eq!(minor(&m[1]["newMrr"]), 2_500);
    assert_eq!(minor(&m[1]["churnedMrr"]), 2_500);
    assert_eq!(minor(&m[1]["endingMrr"]), 2_500);
    assert_eq!(m[1]["activeSubscriptions"], 1);
    assert_eq!(minor(&m[1]["arpu"]), 2_500);

    // The other reports answer for the same range.
    let d = app
        .ok(
            &t.token,
            "query($f: String!, $t: String!) { collectionReport(from: $f, to: $t, bucket: DAY) { bucket invoiced { amountMinor } } \
             taxClassRevenueReport(from: $f, to: $t) { taxClass } topDataUsers(from: $f, to: $t, first: 5) { rank } }",
            json!({"f": "2026-01-01", "t": "2026-02-28"}),
        )
        .await;
    assert_eq!(d["collectionReport"].as_array().unwrap().len(), 59);
    assert_eq!(d["topDataUsers"], json!([]));

    // Roles: managers read reports, support staff do not.
    let manager = app.staff(&t, "MANAGER").await;
    app.ok(&manager.token, MRR, json!({"f": "2026-01-01", "t": "2026-01-31"})).await;
    let support = app.staff(&t, "SUPPORT").await;
    let r = app.gql(Some(&support.token), MRR, json!({"f": "2026-01-01", "t": "2026-01-31"})).await;
    assert_eq!(code(&r), Some("FORBIDDEN"), "{r:#}");

    // Another tenant sees nothing of this one.
    let other = app.tenant().await;
    let vars = json!({"f": "2026-01-01", "t": "2026-02-28", "b": "MONTH", "p": true});
    assert_eq!(app.ok(&other.token, ACQ, vars).await["acquisitionReport"], json!([]));

    // Ranges: dates, order, span.
    for (f, to, b, fld) in [
        ("2026-02-30", "2026-03-01", "DAY", "from"),
        ("2026-03-01", "2026-02-01", "MONTH", "to"),
        ("2025-01-01", "2026-02-01", "DAY", "to"),
        ("2010-01-01", "2026-02-01", "MONTH", "to"),
    ] {
        let r = app.gql(Some(&t.token), ACQ, json!({"f": f, "t": to, "b": b, "p": false})).await;
        assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some(fld)), "{f}..{to} {b}: {r:#}");
    }
    let r = app
        .gql(
            Some(&t.token),
            "{ topDataUsers(from: \"2026-01-01\", to: \"2026-01-31\", first: 500) { rank } }",
            json!({}),
        )
        .await;
    assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some("first")), "{r:#}");
}
