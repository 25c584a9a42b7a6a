//! Roles: every role against every operation of the permission matrix, and the rules that
//! protect owners.

use crate::*;
use isp_core::auth::{Action, Role, MATRIX};
use serde_json::{json, Value};

/// The GraphQL name of a role.
fn gql_role(r: Role) -> String {
    r.as_str().to_uppercase()
}

/// Objects the owner prepares so that each role has something of its own to act on.
struct Targets {
    customer: String,
    plan: String,
    /// A customer without subscriptions, for `archiveCustomer`.
    archivable: String,
    /// A PENDING subscription, for `changeSubscriptionStatus`.
    pending: String,
    /// A dead device job, for `retryDeviceJob`.
    dead_job: String,
}

/// The actions of the foundation, each of which must have an operation below.
const FOUNDATION: &[Action] = &[
    Action::TenantRead,
    Action::TenantUpdate,
    Action::StaffRead,
    Action::StaffManage,
    Action::CustomerRead,
    Action::CustomerWrite,
    Action::CustomerArchive,
    Action::PlanRead,
    Action::PlanWrite,
    Action::SubscriptionRead,
    Action::SubscriptionWrite,
    Action::SubscriptionStatus,
    Action::AuditRead,
];

/// The actions of network devices and the job outbox, each with an operation below.
const NETWORK: &[Action] = &[Action::DeviceRead, Action::DeviceWrite, Action::JobRead, Action::JobRetry];

/// The actions of the helpdesk, each with an operation below.
const HELPDESK: &[Action] = &[Action::TicketRead, Action::TicketWrite, Action::HelpdeskSettings];

/// A representative operation for `action`, run as someone with `role`.
fn operation(action: Action, role: Role, t: &Targets) -> Option<(&'static str, Value)> {
    let tag = format!("{}-{}", role.as_str(), unique());
    Some(match action {
        Action::TenantRead => ("{ tenant { name } }", json!({})),
        Action::TenantUpdate => {
            ("mutation($n: String!) { updateTenant(input: {name: $n}) { name } }", json!({"n": format!("ISP {tag}")}))
        }
        Action::StaffRead => ("{ staffUsers { nodes { email } } }", json!({})),
        Action::StaffManage => (
            "mutation($i: CreateStaffUserInput!) { createStaffUser(input: $i) { id } }",
            json!({"i": {"email": format!("{tag}@x.test"), "name": "New", "role": "CASHIER", "password": PASSWORD}}),
        ),
        Action::CustomerRead => ("{ customers { totalCount nodes { name } } }", json!({})),
        Action::CustomerWrite => {
            ("mutation($n: String!) { createCustomer(input: {name: $n}) { id } }", json!({"n": format!("C {tag}")}))
        }
        Action::CustomerArchive => {
            ("mutation($id: ID!) { archiveCustomer(id: $id) { status } }", json!({"id": t.archivable}))
        }
        Action::PlanRead => ("{ plans { nodes { name price { formatted } } } }", json!({})),
        Action::PlanWrite => (
            "mutation($i: PlanInput!) { createPlan(input: $i) { id } }",
            json!({"i": plan_input(&format!("P {tag}"), &["PPPOE"])}),
        ),
        Action::SubscriptionRead => {
            ("{ subscriptions { totalCount nodes { username customer { name } plan { name } } } }", json!({}))
        }
        Action::SubscriptionWrite => (
            "mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) { id } }",
            json!({"i": {"customerId": t.customer, "planId": t.plan, "accessType": "PPPOE",
                         "username": format!("u-{tag}"), "password": "pw"}}),
        ),
        Action::SubscriptionStatus => (
            "mutation($id: ID!) { changeSubscriptionStatus(id: $id, status: ACTIVE) { status } }",
            json!({"id": t.pending}),
        ),
        Action::AuditRead => ("{ auditLog { nodes { action } } }", json!({})),
        Action::InvoiceRead => ("{ invoices { edges { node { id } } } billingSettings { mode } }", json!({})),
        Action::BillingRun => ("mutation { runBilling { asOf } }", json!({})),
        Action::BillingSettingsWrite => {
            ("mutation { updateBillingSettings(input: {paymentTermsDays: 14}) { paymentTermsDays } }", json!({}))
        }
        Action::PaymentWrite => (
            "mutation($c: ID!) { recordPayment(input: {customerId: $c, amountMinor: 100, method: CASH}) { receiptNumber } }",
            json!({"c": t.customer}),
        ),
        Action::ReportRead => {
            ("{ billingReport(from: \"2024-01-01\", to: \"2024-12-31\") { mrr { amountMinor } } }", json!({}))
        }
        Action::DeviceRead => ("{ devices { nodes { name kind hasPassword } } }", json!({})),
        Action::DeviceWrite => (
            "mutation($i: CreateDeviceInput!) { createDevice(input: $i) { id } }",
            json!({"i": {"name": format!("R {tag}"), "kind": "MIKROTIK", "host": "10.0.0.1", "username": "u", "password": "p"}}),
        ),
        Action::JobRead => ("{ deviceJobs(status: DEAD) { nodes { id kind status } } }", json!({})),
        Action::JobRetry => {
            ("mutation($id: ID!) { retryDeviceJob(id: $id) { status } }", json!({"id": t.dead_job}))
        }
        Action::TicketRead => {
            ("{ tickets { totalCount nodes { subject messages { body } category { name } } } slaPolicies { priority } }", json!({}))
        }
        Action::TicketWrite => (
            "mutation($s: String!) { createTicket(input: {subject: $s, body: \"no link\", priority: HIGH}) { id } }",
            json!({"s": format!("T {tag}")}),
        ),
        Action::HelpdeskSettings => {
            ("mutation($n: String!) { createTicketCategory(name: $n) { id } }", json!({"n": format!("cat {tag}")}))
        }
        Action::NotifyConfigure => ("{ notificationChannels { channel hasSecret } }", json!({})),
        Action::NotifyRead => ("{ notifications(first: 5) { totalCount nodes { status } } }", json!({})),
        Action::DocumentRead => {
            ("query($c: ID!) { customerDocuments(customerId: $c) { id } }", json!({"c": t.customer}))
        }
        Action::DocumentWrite => {
            ("mutation($s: ID!) { generateContract(subscriptionId: $s) { id } }", json!({"s": t.pending}))
        }
        #[allow(unreachable_patterns)] // actions of later features get their operation here
        _ => return None,
    })
}

#[tokio::test]
async fn every_role_can_do_exactly_what_the_matrix_allows() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let plan = app.plan(&t.token, "Matrix plan", &["PPPOE"]).await;
    let customer = app.customer(&t.token, "Matrix customer").await;
    let mut callers = vec![(Role::Owner, t.token.clone())];
    for role in Role::ALL.into_iter().filter(|r| *r != Role::Owner) {
        callers.push((role, app.staff(&t, &gql_role(role)).await.token));
    }
    // Every foundation action has its operation; actions of later features join by adding an
    // arm to `operation` (until then they are listed here, not silently passed).
    let dummy = Targets {
        customer: String::new(),
        plan: String::new(),
        archivable: String::new(),
        pending: String::new(),
        dead_job: String::new(),
    };
    let covered: Vec<Action> =
        MATRIX.iter().map(|(a, _)| *a).filter(|a| operation(*a, Role::Owner, &dummy).is_some()).collect();
    for a in FOUNDATION.iter().chain(NETWORK).chain(HELPDESK) {
        assert!(covered.contains(a), "{a:?} is not in the matrix or has no operation");
    }
    let uncovered: Vec<_> = MATRIX.iter().map(|(a, _)| *a).filter(|a| !covered.contains(a)).collect();
    if !uncovered.is_empty() {
        eprintln!("roles: no operation yet for {uncovered:?}");
    }

    let mut checked = 0;
    for (role, token) in &callers {
        let n = unique();
        let archivable = app.customer(&t.token, &format!("Archivable {n}")).await;
        let pending = app.subscription(&t.token, &customer, &plan, &format!("pending-{n}"), "PENDING").await;
        let dead_job = dead_job(&app, &t).await;
        let targets = Targets { customer: customer.clone(), plan: plan.clone(), archivable, pending, dead_job };
        for (action, allowed) in MATRIX.iter().filter(|(a, _)| covered.contains(a)) {
            let (query, vars) = operation(*action, *role, &targets).unwrap();
            let r = app.gql(Some(token), query, vars).await;
            if allowed.contains(role) {
                assert!(r["errors"].is_null(), "{role} should be allowed {action:?}: {r:#}");
                assert!(r["data"].as_object().is_some_and(|d| d.values().all(|v| !v.is_null())), "{r:#}");
            } else {
                assert_eq!(code(&r), Some("FORBIDDEN"), "{role} should be refused {action:?}: {r:#}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, Role::ALL.len() * covered.len());
    // Everybody may read who they are.
    for (role, token) in &callers {
        assert_eq!(app.ok(token, "{ me { role } }", json!({})).await["me"]["role"], gql_role(*role));
    }
}

/// A dead-lettered job of the tenant; its global ID.
pub async fn dead_job(app: &TestApp, t: &Tenant) -> String {
    let tenant_id = isp_core::store::tenants::by_slug(&app.ctx.db, &t.slug).await.unwrap().unwrap().id;
    let now = app.ctx.now_ms();
    let payload = isp_core::store::jobs::RadiusJobPayload { username: "gone".into(), ..Default::default() };
    let mut tx = app.ctx.db.begin().await.unwrap();
    let job = isp_core::store::jobs::NewJob {
        nas_id: None,
        device_id: None,
        kind: isp_core::store::jobs::JobKind::RadiusDisconnect,
        payload: serde_json::to_string(&payload).unwrap(),
    };
    let id = isp_core::store::jobs::insert(&mut tx, tenant_id, &job, now).await.unwrap();
    tx.commit().await.unwrap();
    isp_core::store::jobs::fail(&app.ctx.db, id, "unreachable", now, true, now).await.unwrap();
    global_id("DeviceJob", id)
}

const UPDATE_STAFF: &str = "mutation($i: UpdateStaffUserInput!) { updateStaffUser(input: $i) { role disabled } }";

#[tokio::test]
async fn owners_are_protected_and_nobody_locks_themselves_out() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let owner_id = app.me_id(&t.token).await;
    let admin = app.staff(&t, "ADMIN").await;
    let cashier = app.staff(&t, "CASHIER").await;

    // An admin cannot create an owner, make someone an owner, or touch an owner.
    let r = app
        .gql(
            Some(&admin.token),
            "mutation($i: CreateStaffUserInput!) { createStaffUser(input: $i) { id } }",
            json!({"i": {"email": format!("o2@{}.test", t.slug), "name": "O2", "role": "OWNER", "password": PASSWORD}}),
        )
        .await;
    assert_eq!(code(&r), Some("FORBIDDEN"), "{r:#}");
    let cases = [
        ("grant ownership", json!({"id": cashier.id, "role": "OWNER"})),
        ("demote an owner", json!({"id": owner_id, "role": "CASHIER"})),
        ("disable an owner", json!({"id": owner_id, "disabled": true})),
        ("reset an owner's password", json!({"id": owner_id, "password": "taken-over-123"})),
        ("rename an owner", json!({"id": owner_id, "name": "Mallory"})),
    ];
    for (case, input) in cases {
        let r = app.gql(Some(&admin.token), UPDATE_STAFF, json!({"i": input})).await;
        assert_eq!(code(&r), Some("FORBIDDEN"), "admin may not {case}: {r:#}");
    }
    // An admin still manages non-owners.
    let d = app.ok(&admin.token, UPDATE_STAFF, json!({"i": {"id": cashier.id, "role": "SUPPORT"}})).await;
    assert_eq!(d["updateStaffUser"]["role"], "SUPPORT");

    // Nobody disables themselves or changes their own role.
    for (who, token, id) in [("owner", &t.token, &owner_id), ("admin", &admin.token, &admin.id)] {
        for input in [json!({"id": id, "disabled": true}), json!({"id": id, "role": "CASHIER"})] {
            let r = app.gql(Some(token), UPDATE_STAFF, json!({"i": input})).await;
            assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some("id")), "{who}: {r:#}");
        }
    }

    // The last enabled owner stays an owner: a second owner is disabled, and their access
    // token (still valid until it expires) cannot demote the remaining one.
    let second = app.staff(&t, "OWNER").await;
    let d = app.ok(&t.token, UPDATE_STAFF, json!({"i": {"id": second.id, "disabled": true}})).await;
    assert_eq!(d["updateStaffUser"]["disabled"], true);
    let r = app.gql(Some(&second.token), UPDATE_STAFF, json!({"i": {"id": owner_id, "role": "ADMIN"}})).await;
    assert_eq!((code(&r), field(&r)), (Some("CONFLICT"), Some("role")), "{r:#}");
    let r = app.gql(Some(&second.token), UPDATE_STAFF, json!({"i": {"id": owner_id, "disabled": true}})).await;
    assert_eq!((code(&r), field(&r)), (Some("CONFLICT"), Some("role")), "{r:#}");
    // ... and the refused change was rolled back.
    let me = app.ok(&t.token, "{ me { role disabled } }", json!({})).await;
    assert_eq!(me["me"], json!({"role": "OWNER", "disabled": false}));
    // With a second enabled owner, demoting one of them is fine.
    app.ok(&t.token, UPDATE_STAFF, json!({"i": {"id": second.id, "disabled": false}})).await;
    let d = app.ok(&t.token, UPDATE_STAFF, json!({"i": {"id": second.id, "role": "ADMIN"}})).await;
    assert_eq!(d["updateStaffUser"]["role"], "ADMIN");
}
