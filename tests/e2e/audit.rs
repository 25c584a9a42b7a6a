//! The audit log: every change to customers, plans, subscriptions and staff is recorded with
//! who, what, which object and from where; only owners and admins read it.

use crate::*;
use serde_json::{json, Value};

const LOG: &str = r#"query($f: AuditFilterInput) {
  auditLog(first: 100, filter: $f) { nodes { action actor actorId objectType objectId ip details } }
}"#;

async fn log(app: &TestApp, token: &str, filter: Value) -> Vec<Value> {
    app.ok(token, LOG, json!({"f": filter})).await["auditLog"]["nodes"].as_array().unwrap().clone()
}

#[tokio::test]
async fn changes_are_recorded_with_actor_action_object_and_ip() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let owner = app.me_id(&t.token).await;
    let manager = app.staff(&t, "MANAGER").await;
    let m = &manager.token;
    let plan = app.plan(m, "Audited", &["PPPOE"]).await;
    app.ok(
        m,
        "mutation($id: ID!, $i: PlanInput!) { updatePlan(id: $id, input: $i) { id } }",
        json!({"id": plan, "i": plan_input("Audited 2", &["PPPOE"])}),
    )
    .await;
    let customer = app.customer(m, "Audited customer").await;
    app.ok(
        m,
        "mutation($id: ID!) { updateCustomer(input: {id: $id, email: \"a@b.test\"}) { id } }",
        json!({"id": customer}),
    )
    .await;
    let sub = app.subscription(m, &customer, &plan, "audited1", "PENDING").await;
    app.ok(
        m,
        "mutation($id: ID!) { updateSubscription(input: {id: $id, password: \"new-secret-pw\"}) { id } }",
        json!({"id": sub}),
    )
    .await;
    app.ok(
        m,
        "mutation($id: ID!) { changeSubscriptionStatus(id: $id, status: ACTIVE, reason: \"paid\") { id } }",
        json!({"id": sub}),
    )
    .await;
    app.ok(m, "mutation($id: ID!) { archiveSubscription(id: $id) { id } }", json!({"id": sub})).await;
    app.ok(m, "mutation($id: ID!) { archiveCustomer(id: $id) { id } }", json!({"id": customer})).await;
    app.ok(m, "mutation($id: ID!) { archivePlan(id: $id) { id } }", json!({"id": plan})).await;
    app.ok(
        &t.token,
        "mutation($id: ID!) { updateStaffUser(input: {id: $id, role: SUPPORT}) { id } }",
        json!({"id": manager.id}),
    )
    .await;
    // A refused change leaves no trace.
    let r = app.gql(Some(&t.token), "mutation { createCustomer(input: {name: \"\"}) { id } }", json!({})).await;
    assert_eq!(code(&r), Some("VALIDATION"));

    let entries = log(&app, &t.token, json!({})).await;
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "staff.update",
            "plan.archive",
            "customer.archive",
            "subscription.status",
            "subscription.status",
            "subscription.update",
            "subscription.create",
            "customer.update",
            "customer.create",
            "plan.update",
            "plan.create",
            "staff.create",
            "tenant.register",
        ],
        "newest first"
    );
    let expect_object = |action: &str| -> (&str, &str) {
        match action.split('.').next().unwrap() {
            "plan" => ("Plan", plan.as_str()),
            "customer" => ("Customer", customer.as_str()),
            "subscription" => ("Subscription", sub.as_str()),
            "staff" => ("User", manager.id.as_str()),
            _ => ("Tenant", ""),
        }
    };
    for e in &entries {
        let action = e["action"].as_str().unwrap();
        let by_owner = matches!(action, "staff.update" | "staff.create" | "tenant.register");
        let (actor_id, actor_email) = if by_owner { (&owner, &t.email) } else { (&manager.id, &manager.email) };
        assert_eq!(&e["actorId"], actor_id.as_str(), "{action}");
        assert_eq!(&e["actor"], actor_email.as_str(), "{action}");
        assert_eq!(e["ip"], "127.0.0.1", "{action}");
        let (ty, id) = expect_object(action);
        assert_eq!(e["objectType"], ty, "{action}");
        if !id.is_empty() {
            assert_eq!(e["objectId"], id, "{action}");
        }
        // Secrets never reach the log.
        assert!(!e["details"].to_string().contains("new-secret-pw"), "{action}: {e}");
        assert!(!e["details"].to_string().contains("s3cret"), "{action}: {e}");
    }
    let status: Vec<&Value> = entries.iter().filter(|e| e["action"] == "subscription.status").collect();
    assert_eq!(status[1]["details"], json!({"from": "PENDING", "to": "ACTIVE", "reason": "paid"}));
    assert_eq!(status[0]["details"]["to"], "CANCELLED");
    assert_eq!(entries[0]["details"]["role"], json!({"from": "manager", "to": "support"}));

    // Filters: by object, by actor, by action prefix.
    let by_sub = log(&app, &t.token, json!({"objectId": sub})).await;
    assert_eq!(by_sub.len(), 4);
    assert!(by_sub.iter().all(|e| e["objectId"] == sub.as_str()));
    let by_staff = log(&app, &t.token, json!({"objectId": manager.id})).await;
    assert_eq!(
        by_staff.iter().map(|e| e["action"].as_str().unwrap()).collect::<Vec<_>>(),
        ["staff.update", "staff.create"]
    );
    let by_manager = log(&app, &t.token, json!({"actorId": manager.id})).await;
    assert_eq!(by_manager.len(), 10);
    let plans = log(&app, &t.token, json!({"actionPrefix": "plan."})).await;
    assert_eq!(plans.len(), 3);
}

#[tokio::test]
async fn only_owners_and_admins_read_the_log() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    app.customer(&t.token, "Someone").await;
    let admin = app.staff(&t, "ADMIN").await;
    let entries = log(&app, &admin.token, json!({"actionPrefix": "customer."})).await;
    assert_eq!(entries.len(), 1);
    for role in ["MANAGER", "SUPPORT", "ENGINEER", "CASHIER"] {
        let s = app.staff(&t, role).await;
        let r = app.gql(Some(&s.token), LOG, json!({"f": {}})).await;
        assert_eq!(code(&r), Some("FORBIDDEN"), "{role}: {r:#}");
        assert!(r["data"].is_null(), "{role}: {r:#}");
    }
    let r = app.gql(None, LOG, json!({"f": {}})).await;
    assert_eq!(code(&r), Some("UNAUTHENTICATED"), "{r:#}");
}
