//! Input validation with field-level codes, uniqueness conflicts, the subscription state
//! machine and malformed IDs.

use crate::*;
use chrono::Duration;
use serde_json::{json, Value};

const CREATE_CUSTOMER: &str = "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }";
const UPDATE_CUSTOMER: &str = "mutation($i: UpdateCustomerInput!) { updateCustomer(input: $i) { id } }";
const CREATE_PLAN: &str = "mutation($i: PlanInput!) { createPlan(input: $i) { id } }";
const CREATE_SUB: &str = "mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) { id } }";
const STATUS: &str =
    "mutation($id: ID!, $s: SubscriptionStatus!) { changeSubscriptionStatus(id: $id, status: $s) { status updatedAt } }";

/// Runs `query` once per case with `$i` set to the case input and checks code and field.
async fn expect_errors(app: &TestApp, token: &str, query: &str, cases: Vec<(&str, Value, &str, &str)>) {
    for (case, input, want_code, want_field) in cases {
        let r = app.gql(Some(token), query, json!({"i": input})).await;
        assert_eq!((code(&r), field(&r)), (Some(want_code), Some(want_field)), "{case}: {r:#}");
        assert!(r["data"].is_null(), "{case}: {r:#}");
    }
}

/// `base` with the keys of `patch` replaced.
fn with(base: &Value, patch: Value) -> Value {
    let mut v = base.clone();
    for (k, x) in patch.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

#[tokio::test]
async fn customer_fields_are_validated() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let cases = vec![
        ("empty name", json!({"name": ""}), "VALIDATION", "name"),
        ("blank name", json!({"name": "   "}), "VALIDATION", "name"),
        ("bad email", json!({"name": "A", "email": "not-an-email"}), "VALIDATION", "email"),
        ("email without domain dot", json!({"name": "A", "email": "a@b"}), "VALIDATION", "email"),
        ("bad phone", json!({"name": "A", "phone": "12ab"}), "VALIDATION", "phone"),
        ("too short phone", json!({"name": "A", "phone": "123"}), "VALIDATION", "phone"),
        ("archived on create", json!({"name": "A", "status": "ARCHIVED"}), "VALIDATION", "status"),
    ];
    expect_errors(&app, &t.token, CREATE_CUSTOMER, cases).await;
    let id = app.customer(&t.token, "Valid").await;
    let cases = vec![
        ("empty name", json!({"id": id, "name": ""}), "VALIDATION", "name"),
        ("bad email", json!({"id": id, "email": "x"}), "VALIDATION", "email"),
        ("bad phone", json!({"id": id, "phone": "call me"}), "VALIDATION", "phone"),
        ("archive via update", json!({"id": id, "status": "ARCHIVED"}), "VALIDATION", "status"),
    ];
    expect_errors(&app, &t.token, UPDATE_CUSTOMER, cases).await;
    // Nothing was stored by the refused calls.
    let d = app.ok(&t.token, "{ customers { totalCount nodes { name email phone } } }", json!({})).await;
    assert_eq!(d["customers"]["totalCount"], 1);
    assert_eq!(d["customers"]["nodes"][0], json!({"name": "Valid", "email": null, "phone": null}));
    // Valid values are normalised; null clears a field.
    let d = app
        .ok(
            &t.token,
            "mutation($i: UpdateCustomerInput!) { updateCustomer(input: $i) { email phone } }",
            json!({"i": {"id": id, "email": " Mixed@Case.COM ", "phone": "+1 (555) 010-2030"}}),
        )
        .await;
    assert_eq!(d["updateCustomer"], json!({"email": "mixed@case.com", "phone": "+1 (555) 010-2030"}));
    let d = app
        .ok(
            &t.token,
            "mutation($i: UpdateCustomerInput!) { updateCustomer(input: $i) { email phone } }",
            json!({"i": {"id": id, "email": null}}),
        )
        .await;
    assert_eq!(d["updateCustomer"], json!({"email": null, "phone": "+1 (555) 010-2030"}));
}

#[tokio::test]
async fn plan_fields_are_validated() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let base = plan_input("Home 50", &["PPPOE"]);
    let burst = json!({"downloadKbps": 60000, "uploadKbps": 12000, "thresholdDownloadKbps": 40000,
                       "thresholdUploadKbps": 8000, "timeSecs": 16});
    let fup = json!({"bytes": 107374182400i64, "action": "FUP", "fupDownloadKbps": 2000, "fupUploadKbps": 1000});
    let cases = vec![
        ("empty name", with(&base, json!({"name": ""})), "VALIDATION", "name"),
        ("negative price", with(&base, json!({"priceMinor": -1})), "VALIDATION", "priceMinor"),
        ("zero download", with(&base, json!({"downloadKbps": 0})), "VALIDATION", "downloadKbps"),
        (
            "burst below speed",
            with(&base, json!({"burst": with(&burst, json!({"downloadKbps": 40000}))})),
            "VALIDATION",
            "burst.downloadKbps",
        ),
        (
            "burst upload at speed",
            with(&base, json!({"burst": with(&burst, json!({"uploadKbps": 10000}))})),
            "VALIDATION",
            "burst.uploadKbps",
        ),
        (
            "burst threshold above speed",
            with(&base, json!({"burst": with(&burst, json!({"thresholdDownloadKbps": 60000}))})),
            "VALIDATION",
            "burst.thresholdDownloadKbps",
        ),
        (
            "FUP without speeds",
            with(&base, json!({"dataQuota": {"bytes": 1000, "action": "FUP"}})),
            "VALIDATION",
            "dataQuota.fupDownloadKbps",
        ),
        (
            "FUP without upload speed",
            with(&base, json!({"dataQuota": with(&fup, json!({"fupUploadKbps": null}))})),
            "VALIDATION",
            "dataQuota.fupUploadKbps",
        ),
        (
            "hard cap with FUP speeds",
            with(&base, json!({"dataQuota": with(&fup, json!({"action": "HARD_CAP"}))})),
            "VALIDATION",
            "dataQuota.action",
        ),
        (
            "zero quota",
            with(&base, json!({"dataQuota": with(&fup, json!({"bytes": 0}))})),
            "VALIDATION",
            "dataQuota.bytes",
        ),
        ("empty access types", with(&base, json!({"accessTypes": []})), "VALIDATION", "accessTypes"),
        ("negative time quota", with(&base, json!({"timeQuotaSecs": -5})), "VALIDATION", "timeQuotaSecs"),
    ];
    expect_errors(&app, &t.token, CREATE_PLAN, cases).await;
    let d = app.ok(&t.token, "{ plans(includeArchived: true) { nodes { id } } }", json!({})).await;
    assert_eq!(d["plans"]["nodes"], json!([]), "a refused plan was stored");
    // The valid combinations are accepted and read back.
    let full = with(&base, json!({"burst": burst, "dataQuota": fup}));
    let d = app
        .ok(
            &t.token,
            "mutation($i: PlanInput!) { createPlan(input: $i) { mikrotikRateLimit dataQuota { action fupDownloadKbps } price { formatted } } }",
            json!({"i": full}),
        )
        .await;
    assert_eq!(d["createPlan"]["mikrotikRateLimit"], "10000k/50000k 12000k/60000k 8000k/40000k 16/16");
    assert_eq!(d["createPlan"]["dataQuota"], json!({"action": "FUP", "fupDownloadKbps": 2000}));
    assert_eq!(d["createPlan"]["price"]["formatted"], "29.99 USD");
}

#[tokio::test]
async fn subscription_fields_are_validated() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let all = app.plan(&t.token, "All access", &["PPPOE", "HOTSPOT", "STATIC_IP", "GPON"]).await;
    let pppoe_only = app.plan(&t.token, "PPPoE only", &["PPPOE"]).await;
    let archived = app.plan(&t.token, "Old", &["PPPOE"]).await;
    app.ok(&t.token, "mutation($id: ID!) { archivePlan(id: $id) { active } }", json!({"id": archived})).await;
    let customer = app.customer(&t.token, "Sub customer").await;
    let base =
        json!({"customerId": customer, "planId": all, "accessType": "PPPOE", "username": "user1", "password": "pw"});
    let gpon =
        with(&base, json!({"accessType": "GPON", "password": null, "onuSerial": "HWTC1A2B3C4D", "oltPort": "0/1/3"}));
    let cases = vec![
        ("PPPOE without password", with(&base, json!({"password": null})), "VALIDATION", "password"),
        (
            "HOTSPOT without password",
            with(&base, json!({"accessType": "HOTSPOT", "password": null})),
            "VALIDATION",
            "password",
        ),
        (
            "STATIC_IP without address",
            with(&base, json!({"accessType": "STATIC_IP", "password": null})),
            "VALIDATION",
            "staticIpv4",
        ),
        (
            "STATIC_IP with a bad address",
            with(&base, json!({"accessType": "STATIC_IP", "staticIpv4": "10.0.0.256"})),
            "VALIDATION",
            "staticIpv4",
        ),
        ("GPON without ONU serial", with(&gpon, json!({"onuSerial": null})), "VALIDATION", "onuSerial"),
        ("GPON without OLT port", with(&gpon, json!({"oltPort": null})), "VALIDATION", "oltPort"),
        ("GPON with a bad OLT port", with(&gpon, json!({"oltPort": "0/1"})), "VALIDATION", "oltPort"),
        ("plan does not allow the access type", with(&gpon, json!({"planId": pppoe_only})), "VALIDATION", "accessType"),
        ("archived plan", with(&base, json!({"planId": archived})), "VALIDATION", "planId"),
        ("username with a space", with(&base, json!({"username": "a b"})), "VALIDATION", "username"),
        ("bad MAC", with(&base, json!({"macAddress": "aa:bb"})), "VALIDATION", "macAddress"),
        ("bad start date", with(&base, json!({"startDate": "2023-02-29"})), "VALIDATION", "startDate"),
        ("created suspended", with(&base, json!({"status": "SUSPENDED"})), "VALIDATION", "status"),
        ("plan ID is a customer ID", with(&base, json!({"planId": customer})), "VALIDATION", "planId"),
    ];
    expect_errors(&app, &t.token, CREATE_SUB, cases).await;
    let d = app.ok(&t.token, "{ subscriptions { totalCount } }", json!({})).await;
    assert_eq!(d["subscriptions"]["totalCount"], 0);
    // Each access type works with what it needs; values are normalised.
    let d = app
        .ok(
            &t.token,
            "mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) { onuSerial oltPort status hasPassword } }",
            json!({"i": with(&gpon, json!({"onuSerial": "hwtc1a2b3c4d", "username": "gpon1"}))}),
        )
        .await;
    assert_eq!(
        d["createSubscription"],
        json!({"onuSerial": "HWTC1A2B3C4D", "oltPort": "0/1/3", "status": "PENDING", "hasPassword": false})
    );
    let d = app
        .ok(
            &t.token,
            "mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) { macAddress hasPassword } }",
            json!({"i": with(&base, json!({"macAddress": "aa-bb-cc-dd-ee-0f"}))}),
        )
        .await;
    assert_eq!(d["createSubscription"], json!({"macAddress": "AA:BB:CC:DD:EE:0F", "hasPassword": true}));
    // Changing to an access type the plan does not allow is refused too.
    let id = app.subscription(&t.token, &customer, &pppoe_only, "user2", "PENDING").await;
    let r = app
        .gql(
            Some(&t.token),
            "mutation($i: UpdateSubscriptionInput!) { updateSubscription(input: $i) { id } }",
            json!({"i": {"id": id, "accessType": "STATIC_IP", "staticIpv4": "10.1.1.1"}}),
        )
        .await;
    assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some("accessType")), "{r:#}");
}

#[tokio::test]
async fn duplicates_are_conflicts_on_the_right_field() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let plan = app.plan(&t.token, "Static", &["PPPOE", "STATIC_IP"]).await;
    let customer = app.customer(&t.token, "Dup customer").await;
    let stat = json!({"customerId": customer, "planId": plan, "accessType": "STATIC_IP", "username": "static1",
                      "staticIpv4": "192.0.2.10"});
    app.ok(&t.token, CREATE_SUB, json!({"i": stat})).await;
    let other = app.subscription(&t.token, &customer, &plan, "pppoe1", "ACTIVE").await;
    let cases = vec![
        ("same username", with(&stat, json!({"staticIpv4": "192.0.2.11"})), "CONFLICT", "username"),
        ("same static IP", with(&stat, json!({"username": "static2"})), "CONFLICT", "staticIpv4"),
    ];
    expect_errors(&app, &t.token, CREATE_SUB, cases).await;
    let upd = "mutation($i: UpdateSubscriptionInput!) { updateSubscription(input: $i) { id } }";
    let cases = vec![
        ("rename to a taken username", json!({"id": other, "username": "static1"}), "CONFLICT", "username"),
        (
            "take a used IP",
            json!({"id": other, "accessType": "STATIC_IP", "staticIpv4": "192.0.2.10"}),
            "CONFLICT",
            "staticIpv4",
        ),
    ];
    expect_errors(&app, &t.token, upd, cases).await;

    let p2 = app.plan(&t.token, "Second", &["PPPOE"]).await;
    let r = app.gql(Some(&t.token), CREATE_PLAN, json!({"i": plan_input("Static", &["PPPOE"])})).await;
    assert_eq!((code(&r), field(&r)), (Some("CONFLICT"), Some("name")), "{r:#}");
    let r = app
        .gql(
            Some(&t.token),
            "mutation($id: ID!, $i: PlanInput!) { updatePlan(id: $id, input: $i) { id } }",
            json!({"id": p2, "i": plan_input("Static", &["PPPOE"])}),
        )
        .await;
    assert_eq!((code(&r), field(&r)), (Some("CONFLICT"), Some("name")), "{r:#}");

    let staff = app.staff(&t, "SUPPORT").await;
    for email in [staff.email.clone(), staff.email.to_uppercase(), t.email.clone()] {
        let r = app
            .gql(
                Some(&t.token),
                "mutation($i: CreateStaffUserInput!) { createStaffUser(input: $i) { id } }",
                json!({"i": {"email": email, "name": "Dup", "role": "CASHIER", "password": PASSWORD}}),
            )
            .await;
        assert_eq!((code(&r), field(&r)), (Some("CONFLICT"), Some("email")), "{email}: {r:#}");
    }
    let d = app.ok(&t.token, "{ subscriptions { totalCount } staffUsers { nodes { email } } }", json!({})).await;
    assert_eq!(d["subscriptions"]["totalCount"], 2);
    assert_eq!(d["staffUsers"]["nodes"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn subscription_status_follows_the_state_machine() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let plan = app.plan(&t.token, "SM", &["PPPOE"]).await;
    let customer = app.customer(&t.token, "SM customer").await;
    let states = ["PENDING", "ACTIVE", "SUSPENDED", "CANCELLED"];
    let allowed = [
        ("PENDING", "ACTIVE"),
        ("PENDING", "CANCELLED"),
        ("ACTIVE", "SUSPENDED"),
        ("ACTIVE", "CANCELLED"),
        ("SUSPENDED", "ACTIVE"),
        ("SUSPENDED", "CANCELLED"),
    ];
    // How to reach each state from a new subscription.
    let path = |s: &str| -> (&'static str, &'static [&'static str]) {
        match s {
            "PENDING" => ("PENDING", &[]),
            "ACTIVE" => ("ACTIVE", &[]),
            "SUSPENDED" => ("ACTIVE", &["SUSPENDED"]),
            _ => ("PENDING", &["CANCELLED"]),
        }
    };
    for from in states {
        for to in states {
            let (initial, steps) = path(from);
            let id = app.subscription(&t.token, &customer, &plan, &format!("sm-{}", unique()), initial).await;
            for s in steps {
                app.ok(&t.token, STATUS, json!({"id": id, "s": s})).await;
            }
            let before = app
                .ok(&t.token, "query($id: ID!) { subscription(id: $id) { status updatedAt } }", json!({"id": id}))
                .await;
            assert_eq!(before["subscription"]["status"], from);
            app.clock.advance(Duration::seconds(1));
            let r = app.gql(Some(&t.token), STATUS, json!({"id": id, "s": to})).await;
            let audit = app
                .ok(&t.token, "query($o: ID) { auditLog(filter: {objectId: $o, actionPrefix: \"subscription.status\"}) { nodes { id } } }", json!({"o": id}))
                .await;
            let changes = audit["auditLog"]["nodes"].as_array().unwrap().len();
            if from == to {
                // A no-op: nothing written, not even updatedAt.
                assert!(r["errors"].is_null(), "{from} -> {to}: {r:#}");
                assert_eq!(r["data"]["changeSubscriptionStatus"], before["subscription"], "{from} -> {to}");
                assert_eq!(changes, steps.len(), "{from} -> {to} was audited");
            } else if allowed.contains(&(from, to)) {
                assert!(r["errors"].is_null(), "{from} -> {to}: {r:#}");
                assert_eq!(r["data"]["changeSubscriptionStatus"]["status"], to);
                assert_ne!(r["data"]["changeSubscriptionStatus"]["updatedAt"], before["subscription"]["updatedAt"]);
                assert_eq!(changes, steps.len() + 1);
            } else {
                assert_eq!((code(&r), field(&r)), (Some("CONFLICT"), Some("status")), "{from} -> {to}: {r:#}");
                let now = app
                    .ok(&t.token, "query($id: ID!) { subscription(id: $id) { status updatedAt } }", json!({"id": id}))
                    .await;
                assert_eq!(now, before, "{from} -> {to} changed the subscription");
                assert_eq!(changes, steps.len());
            }
        }
    }
    // CANCELLED is final for every other operation too.
    let id = app.subscription(&t.token, &customer, &plan, "final", "ACTIVE").await;
    let d = app
        .ok(
            &t.token,
            "mutation($id: ID!) { archiveSubscription(id: $id, reason: \"moved\") { status statusReason } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(d["archiveSubscription"], json!({"status": "CANCELLED", "statusReason": "moved"}));
    let r = app
        .gql(
            Some(&t.token),
            "mutation($id: ID!) { updateSubscription(input: {id: $id, username: \"again\"}) { id } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!((code(&r), field(&r)), (Some("CONFLICT"), Some("id")), "{r:#}");
}

#[tokio::test]
async fn customers_with_open_subscriptions_cannot_be_archived() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let plan = app.plan(&t.token, "Arch", &["PPPOE"]).await;
    let customer = app.customer(&t.token, "Leaving").await;
    let s1 = app.subscription(&t.token, &customer, &plan, "leave1", "ACTIVE").await;
    let s2 = app.subscription(&t.token, &customer, &plan, "leave2", "PENDING").await;
    const ARCHIVE: &str = "mutation($id: ID!) { archiveCustomer(id: $id) { status } }";
    for (step, cancel) in [("two open", None), ("one open", Some(&s1))] {
        if let Some(id) = cancel {
            app.ok(&t.token, STATUS, json!({"id": id, "s": "CANCELLED"})).await;
        }
        let r = app.gql(Some(&t.token), ARCHIVE, json!({"id": customer})).await;
        assert_eq!((code(&r), field(&r)), (Some("CONFLICT"), Some("id")), "{step}: {r:#}");
    }
    app.ok(&t.token, STATUS, json!({"id": s2, "s": "CANCELLED"})).await;
    let d = app.ok(&t.token, ARCHIVE, json!({"id": customer})).await;
    assert_eq!(d["archiveCustomer"]["status"], "ARCHIVED");
    // Archived customers take no new service and no edits.
    let r = app
        .gql(
            Some(&t.token),
            CREATE_SUB,
            json!({"i": {"customerId": customer, "planId": plan, "accessType": "PPPOE", "username": "leave3", "password": "p"}}),
        )
        .await;
    assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some("customerId")), "{r:#}");
    let r = app.gql(Some(&t.token), UPDATE_CUSTOMER, json!({"i": {"id": customer, "name": "Back"}})).await;
    assert_eq!((code(&r), field(&r)), (Some("CONFLICT"), Some("id")), "{r:#}");
}

#[tokio::test]
async fn malformed_ids_are_validation_errors() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let plan = app.plan(&t.token, "Ids", &["PPPOE"]).await;
    let customer = app.customer(&t.token, "Ids").await;
    let garbage = ["", "42", "!!!", "Q3VzdG9tZXI", "Q3VzdG9tZXI6eA"]; // "Customer", "Customer:x"
    let ops: &[(&str, &str, &str)] = &[
        ("customer", "query($id: ID!) { customer(id: $id) { id } }", "id"),
        ("node", "query($id: ID!) { node(id: $id) { id } }", "id"),
        ("updateCustomer", "mutation($id: ID!) { updateCustomer(input: {id: $id, name: \"x\"}) { id } }", "id"),
        ("archivePlan", "mutation($id: ID!) { archivePlan(id: $id) { id } }", "id"),
        (
            "changeSubscriptionStatus",
            "mutation($id: ID!) { changeSubscriptionStatus(id: $id, status: ACTIVE) { id } }",
            "id",
        ),
        ("updateStaffUser", "mutation($id: ID!) { updateStaffUser(input: {id: $id, name: \"x\"}) { id } }", "id"),
        (
            "subscriptions filter",
            "query($id: ID!) { subscriptions(filter: {planId: $id}) { totalCount } }",
            "filter.planId",
        ),
        (
            "auditLog filter",
            "query($id: ID!) { auditLog(filter: {objectId: $id}) { nodes { id } } }",
            "filter.objectId",
        ),
    ];
    for (name, q, want_field) in ops {
        for id in garbage {
            let r = app.gql(Some(&t.token), q, json!({"id": id})).await;
            assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some(*want_field)), "{name}({id:?}): {r:#}");
        }
    }
    // An ID of the wrong type names the field that holds it.
    let r = app
        .gql(
            Some(&t.token),
            CREATE_SUB,
            json!({"i": {"customerId": plan, "planId": plan, "accessType": "PPPOE", "username": "u", "password": "p"}}),
        )
        .await;
    assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some("customerId")), "{r:#}");
    let r = app.gql(Some(&t.token), "query($id: ID!) { plan(id: $id) { id } }", json!({"id": customer})).await;
    assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some("id")), "{r:#}");
}

/// A document that passed validation skips it next time only with variables of the same
/// shape (any other string for a `String` variable); a changed number, enum or type of value
/// is validated in full again, with the same errors as the first time.
#[tokio::test]
async fn validated_documents_skip_validation_only_for_the_same_variable_shape() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    for i in 0..3 {
        app.customer(&t.token, &format!("Shape {i}")).await;
    }
    let q = "query($after: String, $n: Int, $s: [CustomerStatus!]) { customers(first: $n, after: $after, \
             filter: { status: $s }) { edges { cursor node { name } } } }";
    // Counted since here (the setup above sent the same mutation three times).
    let base = app.ctx.metrics.get("isp_graphql_prevalidated_total", "");
    let skipped = || app.ctx.metrics.get("isp_graphql_prevalidated_total", "") - base;
    let page = |r: &Value| -> Vec<String> {
        r["data"]["customers"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["name"].to_string()).collect()
    };
    let first = app.ok(&t.token, q, json!({"n": 1, "s": ["ACTIVE"]})).await;
    let after = |r: &Value| r["customers"]["edges"][0]["cursor"].clone();
    assert_eq!(skipped(), 0);
    // `after` given for the first time: a new shape, validated in full.
    let second = app.gql(Some(&t.token), q, json!({"n": 1, "s": ["ACTIVE"], "after": after(&first)})).await;
    assert_eq!(skipped(), 0);
    assert_eq!(page(&second), vec!["\"Shape 1\""]);
    // Another cursor: same shape, validation skipped, and the page is what it would be.
    let cursor = second["data"]["customers"]["edges"][0]["cursor"].clone();
    let third = app.gql(Some(&t.token), q, json!({"n": 1, "s": ["ACTIVE"], "after": cursor})).await;
    assert_eq!(skipped(), 1);
    assert_eq!(page(&third), vec!["\"Shape 2\""]);
    let again = app.gql(Some(&t.token), q, json!({"n": 1, "s": ["ACTIVE"], "after": after(&first)})).await;
    assert_eq!((skipped(), &again), (2, &second));
    // Values of another kind or outside their type are validated again and rejected.
    for bad in [
        json!({"n": 1, "s": ["ACTIVE"], "after": 5}),
        json!({"n": "one", "s": ["ACTIVE"], "after": after(&first)}),
        json!({"n": 1, "s": ["NOPE"], "after": after(&first)}),
        json!({"n": 1, "s": "ACTIVE", "after": {"x": 1}}),
    ] {
        let r = app.gql(Some(&t.token), q, bad.clone()).await;
        assert_eq!(code(&r), Some("VALIDATION"), "{bad}: {r:#}");
        assert!(r["errors"][0]["message"].as_str().unwrap().contains("Invalid value"), "{bad}: {r:#}");
        assert!(r["data"].is_null(), "{bad}: {r:#}");
    }
    assert_eq!(skipped(), 2);
    // A new number is a new shape: `first` over the cap is still refused by the resolver.
    let r = app.gql(Some(&t.token), q, json!({"n": 1000, "s": ["ACTIVE"], "after": after(&first)})).await;
    assert_eq!((code(&r), skipped()), (Some("VALIDATION"), 2), "{r:#}");
}
