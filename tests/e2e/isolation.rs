//! Tenant isolation: tenant B's owner runs every root query and mutation of the schema against
//! tenant A's objects (real and guessed IDs), sees nothing of A's, and changes nothing of A's.

use crate::*;
use chrono::Duration;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Root fields that take no access token, so there is no tenant to cross.
const TOKENLESS: &[&str] = &["login", "registerTenant", "refreshToken"];

/// Everything of tenant A that tenant A itself can see, for a before/after comparison.
const SNAPSHOT: &str = r#"{
  me { id email role }
  tenant { id name slug currency timezone settings { suspendedAccess walledGardenAddressList walledGardenRateLimit routerSuspension } }
  customers(first: 100, filter: {status: [ACTIVE, INACTIVE, ARCHIVED]}) { totalCount nodes {
    id accountNumber name email phone status updatedAt documents { id title }
    subscriptions { id username status staticIpv4 hasPassword updatedAt plan { id name active price { amountMinor } } } } }
  plans(first: 100, includeArchived: true) { nodes { id name active priceMinor: price { amountMinor } downloadKbps accessTypes } }
  subscriptions(first: 100) { totalCount nodes { id username status statusReason staticIpv4 updatedAt customer { id } device { id } } }
  devices(first: 5) { nodes { id name host port transport username hasPassword enabled updatedAt } }
  deviceJobs(first: 5) { nodes { id kind status attempts lastError updatedAt device { id } } }
  staffUsers(first: 100) { nodes { id email name role disabled } }
  auditLog(first: 100) { nodes { id action objectId } }
  billingSettings { billingDay mode paymentTermsDays invoiceTemplate paymentGateways { provider scheme updatedAt } taxRates { taxClass rateBasisPoints } }
  invoices(first: 100) { edges { node { id number status paid { amountMinor } lines { description total { amountMinor } } } } }
  payments(first: 100) { edges { node { id receiptNumber refunded { amountMinor } allocations { invoiceId amount { amountMinor } } } } }
  dunningEvents(first: 100) { edges { node { id kind } } }
  tickets(first: 5) { nodes { id subject status priority assigneeId updatedAt team { id } category { id } messages { id body } } }
  ticketCategories { id name }
  imports { id status rowsDone created }
  ticketTeams { id name leadId }
  slaPolicies { priority firstResponseMinutes resolutionMinutes businessHours }
  businessHours { week { startMinute endMinute } holidays { date name } }
}"#;

/// What a case must answer.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// No errors (the operation acted on B's own data).
    Ok,
    /// The first error has this code.
    Code(&'static str),
}

struct Case {
    root: &'static str,
    query: String,
    vars: Value,
    expect: Expect,
}

fn case(root: &'static str, query: &str, vars: Value, expect: Expect) -> Case {
    Case { root, query: query.to_string(), vars, expect }
}

async fn root_fields(app: &TestApp, token: &str) -> BTreeSet<String> {
    let d = app
        .ok(token, "{ __schema { queryType { fields { name } } mutationType { fields { name } } } }", json!({}))
        .await;
    let mut names = BTreeSet::new();
    for root in ["queryType", "mutationType"] {
        for f in d["__schema"][root]["fields"].as_array().unwrap() {
            names.insert(f["name"].as_str().unwrap().to_string());
        }
    }
    names
}

#[tokio::test]
async fn another_tenant_can_neither_see_nor_change_anything() {
    let app = spawn_app().await;
    // Tenant A with one of everything.
    let a = app.tenant().await;
    let a_owner = app.me_id(&a.token).await;
    let a_support = app.staff(&a, "SUPPORT").await;
    let a_plan = app.plan(&a.token, &format!("A plan {}", unique()), &["PPPOE", "STATIC_IP"]).await;
    let a_name = format!("A customer {}", unique());
    let a_customer = app.customer(&a.token, &a_name).await;
    let a_username = format!("a-user-{}", unique());
    let a_sub = app.subscription(&a.token, &a_customer, &a_plan, &a_username, "ACTIVE").await;
    let a_tenant = app.ok(&a.token, "{ tenant { id } }", json!({})).await["tenant"]["id"].as_str().unwrap().to_string();
    let d = app.ok(&a.token, "mutation { runBilling { invoices(first: 1) { nodes { id } } } }", json!({})).await;
    let a_invoice = d["runBilling"]["invoices"]["nodes"][0]["id"].as_str().unwrap().to_string();
    let d = app
        .ok(
            &a.token,
            "mutation($c: ID!) { recordPayment(input: {customerId: $c, amountMinor: 5000, method: CASH}) { id } }",
            json!({"c": a_customer}),
        )
        .await;
    let a_payment = d["recordPayment"]["id"].as_str().unwrap().to_string();
    let a_radius = crate::radius_isolation::seed(&app, &a.slug, &a_sub, &a_username).await;
    let a_device_name = format!("A edge {}", unique());
    let d = app
        .ok(
            &a.token,
            "mutation($n: String!) { createDevice(input: {name: $n, kind: MIKROTIK, host: \"10.1.1.1\", username: \"a\", password: \"a-device-pw\"}) { id } }",
            json!({"n": a_device_name}),
        )
        .await;
    let a_device = d["createDevice"]["id"].as_str().unwrap().to_string();
    let upd = "mutation($i: UpdateSubscriptionInput!) { updateSubscription(input: $i) { id } }";
    app.ok(&a.token, upd, json!({"i": {"id": a_sub, "deviceId": a_device}})).await;
    let a_job = crate::roles::dead_job(&app, &a).await;
    crate::billing_payments::gateway(&app, &a.token, "paypal", "HMAC_SHA256", "a-secret-a-secret-a").await;
    // The helpdesk: a team, a category, a policy, business hours and a ticket with a message.
    let a_ticket_subject = format!("A ticket {}", unique());
    let d = app
        .ok(
            &a.token,
            "mutation($l: ID) { createTicketTeam(name: \"A team\", leadId: $l) { id } createTicketCategory(name: \"A cat\") { id } \
             setSlaPolicy(input: {priority: HIGH, firstResponseMinutes: 60, resolutionMinutes: 600}) { priority } \
             setBusinessHours(week: [[{startMinute: 480, endMinute: 1020}], [], [], [], [], [], []], holidays: [{date: \"2030-01-01\", name: \"A day\"}]) { timezone } }",
            json!({"l": a_support.id}),
        )
        .await;
    let (a_team, a_category) = (
        d["createTicketTeam"]["id"].as_str().unwrap().to_string(),
        d["createTicketCategory"]["id"].as_str().unwrap().to_string(),
    );
    let d = app
        .ok(
            &a.token,
            "mutation($i: CreateTicketInput!) { createTicket(input: $i) { id } }",
            json!({"i": {"subject": a_ticket_subject, "body": "A's words", "customerId": a_customer, "subscriptionId": a_sub,
                         "teamId": a_team, "categoryId": a_category, "assigneeId": a_support.id, "priority": "HIGH"}}),
        )
        .await;
    let a_ticket = d["createTicket"]["id"].as_str().unwrap().to_string();
    let a_doc = crate::documents::upload(
        &app,
        &a.token,
        "mutation($c: ID!, $f: Upload!) { uploadCustomerDocument(customerId: $c, file: $f, kind: ID_SCAN) { id } }",
        json!({"c": a_customer, "f": null}),
        &[("variables.f", "a-passport.png", &isp_core::seed::sample_png(4, 4, 0))],
    )
    .await["data"]["uploadCustomerDocument"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // A bulk import of A's.
    let a_tid = isp_core::store::tenants::by_slug(&app.ctx.db, &a.slug).await.unwrap().unwrap().id;
    let a_import_login = format!("a-imported-{}", unique());
    let file = format!("Name,Login,Password,Plan\nA imported,{a_import_login},pw,{}\n", parse_global_id(&a_plan).1);
    let actor = isp_core::auth::Actor::system(a_tid, "test");
    let (_, job) = isp_core::import::run(
        &app.ctx,
        &actor,
        isp_core::import::Request::new("a.csv", file.into_bytes()),
        std::sync::Arc::new(|_, _| {}),
    )
    .await
    .unwrap();
    let a_import = global_id("ImportJob", job.unwrap().id);
    let before = app.ok(&a.token, SNAPSHOT, json!({})).await;

    // Tenant B with its own data.
    let b = app.tenant().await;
    let b_plan = app.plan(&b.token, "B plan", &["PPPOE"]).await;
    let b_customer = app.customer(&b.token, "B customer").await;
    let b_sub = app.subscription(&b.token, &b_customer, &b_plan, &format!("b-user-{}", unique()), "ACTIVE").await;
    let b_user = app.staff(&b, "CASHIER").await;
    let d = app.ok(&b.token, "mutation { createTicket(input: {subject: \"B first\"}) { id } }", json!({})).await;
    let b_ticket = d["createTicket"]["id"].as_str().unwrap().to_string();
    app.clock.advance(Duration::minutes(1)); // any write to A would now change an updatedAt

    let a_ids = [
        &a_owner,
        &a_support.id,
        &a_plan,
        &a_customer,
        &a_sub,
        &a_tenant,
        &a_invoice,
        &a_payment,
        &a_device,
        &a_job,
        &a_ticket,
        &a_team,
        &a_category,
        &a_doc,
        &a_import,
    ];
    // A's IDs, their neighbours, and raw row ids wrapped as every type.
    let mut guessed: Vec<String> = Vec::new();
    for id in a_ids {
        let (ty, n) = parse_global_id(id);
        for m in [n - 1, n, n + 1] {
            guessed.push(global_id(&ty, m));
            for other in ["Customer", "Plan", "Subscription", "StaffUser", "Tenant", "Device", "Ticket"] {
                guessed.push(global_id(other, m));
            }
        }
    }
    guessed.sort();
    guessed.dedup();
    let markers: Vec<String> = a_ids
        .iter()
        .map(|s| s.to_string())
        .chain([a_name.clone(), a_username.clone(), a.slug.clone(), a.email.clone(), a_support.email.clone()])
        .chain([a_device_name.clone(), a_ticket_subject.clone(), a_import_login.clone()])
        .chain(a_radius.markers())
        .collect();
    let radius_before = app.ok(&a.token, crate::radius_isolation::SNAPSHOT, json!({})).await;

    use Expect::*;
    let upd_sub = "mutation($i: UpdateSubscriptionInput!) { updateSubscription(input: $i) { id } }";
    let create_sub = "mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) { id } }";
    let mut cases = vec![
        case("me", "{ me { id email } }", json!({}), Ok),
        case("tenant", "{ tenant { id slug name } }", json!({}), Ok),
        case("customers", "{ customers(first: 100, filter: {status: [ACTIVE, INACTIVE, ARCHIVED]}) { totalCount nodes { id name } } }", json!({}), Ok),
        case("customers", "query($s: String!) { customers(filter: {search: $s}) { totalCount nodes { id } } }", json!({"s": a_name}), Ok),
        case("customers", "query($s: String!) { customers(filter: {search: $s}) { totalCount nodes { id } } }", json!({"s": a_username}), Ok),
        case("plans", "{ plans(first: 100, includeArchived: true) { nodes { id name } } }", json!({}), Ok),
        case("subscriptions", "{ subscriptions(first: 100) { totalCount nodes { id username } } }", json!({}), Ok),
        case("subscriptions", "query($c: ID, $p: ID) { subscriptions(filter: {customerId: $c, planId: $p}) { totalCount nodes { id } } }", json!({"c": a_customer, "p": a_plan}), Ok),
        case("subscriptions", "query($s: String!) { subscriptions(filter: {search: $s}) { totalCount nodes { id } } }", json!({"s": a_username}), Ok),
        case("staffUsers", "{ staffUsers(first: 100) { nodes { id email } } }", json!({}), Ok),
        case("auditLog", "{ auditLog(first: 100) { nodes { id objectId actorId } } }", json!({}), Ok),
        case("auditLog", "query($o: ID) { auditLog(filter: {objectId: $o}) { nodes { id } } }", json!({"o": a_customer}), Ok),
        case("auditLog", "query($u: ID) { auditLog(filter: {actorId: $u}) { nodes { id } } }", json!({"u": a_owner}), Ok),
        // Mutations without an object ID act on B only.
        case("logout", "mutation($r: String!) { logout(refreshToken: $r) }", json!({"r": a.refresh}), Ok),
        case("updateTenant", "mutation { updateTenant(input: {name: \"B renamed\", currency: \"EUR\"}) { id name } }", json!({}), Ok),
        case("createStaffUser", "mutation($i: CreateStaffUserInput!) { createStaffUser(input: $i) { id } }",
             json!({"i": {"email": a_support.email, "name": "Same email, other tenant", "role": "ADMIN", "password": PASSWORD}}), Ok),
        case("createCustomer", "mutation { createCustomer(input: {name: \"B second\"}) { id accountNumber } }", json!({}), Ok),
        case("createPlan", "mutation($i: PlanInput!) { createPlan(input: $i) { id } }", json!({"i": plan_input("B second plan", &["PPPOE"])}), Ok),
        case("createSubscription", create_sub,
             json!({"i": {"customerId": a_customer, "planId": b_plan, "accessType": "PPPOE", "username": "x1", "password": "p"}}), Code("VALIDATION")),
        case("createSubscription", create_sub,
             json!({"i": {"customerId": b_customer, "planId": a_plan, "accessType": "PPPOE", "username": "x2", "password": "p"}}), Code("VALIDATION")),
        case("updateSubscription", upd_sub, json!({"i": {"id": b_sub, "planId": a_plan}}), Code("VALIDATION")),
        case("changePassword", "mutation($p: String!) { changePassword(currentPassword: $p, newPassword: \"b-new-password-1\") }", json!({"p": PASSWORD}), Ok),
        // Billing: reads see only B's money; writes on A's objects are refused.
        case("billingSettings", "{ billingSettings { mode paymentGateways { provider } taxRates { taxClass } } }", json!({}), Ok),
        case("billingPreview", "{ billingPreview { invoices { customer { id name } lines { description } total { amountMinor } } } }", json!({}), Ok),
        case("invoices", "{ invoices(first: 100) { edges { node { id customer { id name } } } } }", json!({}), Ok),
        case("invoices", "query($c: ID) { invoices(customerId: $c) { edges { node { id } } } }", json!({"c": a_customer}), Ok),
        case("invoice", "query($id: ID!) { invoice(id: $id) { id number } }", json!({"id": a_invoice}), Ok),
        case("payments", "{ payments(first: 100) { edges { node { id customer { id } } } } }", json!({}), Ok),
        case("payments", "query($c: ID) { payments(customerId: $c) { edges { node { id } } } }", json!({"c": a_customer}), Ok),
        case("payment", "query($id: ID!) { payment(id: $id) { id } }", json!({"id": a_payment}), Ok),
        case("customerBalance", "query($c: ID!) { customerBalance(customerId: $c) { balance { amountMinor } pendingCharges { id } } }", json!({"c": a_customer}), Ok),
        case("customerStatement", "query($c: ID!) { customerStatement(customerId: $c) { objectId number } }", json!({"c": a_customer}), Ok),
        case("dunningEvents", "query($c: ID) { dunningEvents(customerId: $c) { edges { node { id } } } }", json!({"c": a_customer}), Ok),
        case("billingReport", "{ billingReport(from: \"2000-01-01\", to: \"2100-01-01\") { mrr { amountMinor } revenueByPlan { planId } } }", json!({}), Ok),
        case("acquisitionReport", "{ acquisitionReport(from: \"2026-01-01\", to: \"2026-12-31\") { bucket planId newSubscriptions } }", json!({}), Ok),
        case("mrrReport", "{ mrrReport(from: \"2026-01-01\", to: \"2026-12-31\") { bucket } }", json!({}), Ok),
        case("collectionReport", "{ collectionReport(from: \"2026-01-01\", to: \"2026-12-31\") { bucket } }", json!({}), Ok),
        case("taxClassRevenueReport", "{ taxClassRevenueReport(from: \"2026-01-01\", to: \"2026-12-31\") { bucket } }", json!({}), Ok),
        case("topDataUsers", "{ topDataUsers(from: \"2026-01-01\", to: \"2026-12-31\") { subscriptionId username } }", json!({}), Ok),
        case("updateBillingSettings", "mutation { updateBillingSettings(input: {paymentTermsDays: 3}) { mode } }", json!({}), Ok),
        case("setPaymentGateway", "mutation { setPaymentGateway(input: {provider: \"paypal\", scheme: STRIPE, secret: \"b-secret-b-secret-b\"}) { provider } }", json!({}), Ok),
        case("removePaymentGateway", "mutation { removePaymentGateway(provider: \"paypal\") }", json!({}), Ok),
        case("removePaymentGateway", "mutation { removePaymentGateway(provider: \"paypal\") }", json!({}), Code("NOT_FOUND")),
        case("setTaxRate", "mutation { setTaxRate(input: {taxClass: \"standard\", name: \"B VAT\", rateBasisPoints: 500, inclusive: true}) { name } }", json!({}), Ok),
        case("setPlanTaxClass", "mutation($p: ID!) { setPlanTaxClass(planId: $p, taxClass: \"reduced\") }", json!({"p": a_plan}), Code("NOT_FOUND")),
        case("addCharge", "mutation($c: ID!) { addCharge(input: {customerId: $c, description: \"x\", amountMinor: 100}) { id } }", json!({"c": a_customer}), Code("VALIDATION")),
        case("addCharge", "mutation($c: ID!, $s: ID) { addCharge(input: {customerId: $c, subscriptionId: $s, description: \"x\", amountMinor: 100}) { id } }", json!({"c": b_customer, "s": a_sub}), Code("VALIDATION")),
        case("changeSubscriptionPlan", "mutation($s: ID!, $p: ID!) { changeSubscriptionPlan(id: $s, planId: $p) { id } }", json!({"s": a_sub, "p": b_plan}), Code("NOT_FOUND")),
        case("changeSubscriptionPlan", "mutation($s: ID!, $p: ID!) { changeSubscriptionPlan(id: $s, planId: $p) { id } }", json!({"s": b_sub, "p": a_plan}), Code("VALIDATION")),
        case("cancelSubscription", "mutation($s: ID!) { cancelSubscription(id: $s) { id } }", json!({"s": a_sub}), Code("NOT_FOUND")),
        case("runBilling", "mutation { runBilling { invoiceCount invoices { nodes { id customer { id name } } } } }", json!({}), Ok),
        case("voidInvoice", "mutation($id: ID!) { voidInvoice(id: $id, reason: \"hijack\") { id } }", json!({"id": a_invoice}), Code("NOT_FOUND")),
        case("recordPayment", "mutation($c: ID!) { recordPayment(input: {customerId: $c, amountMinor: 100, method: CASH}) { id } }", json!({"c": a_customer}), Code("VALIDATION")),
        case("recordPayment", "mutation($c: ID!, $i: [ID!]) { recordPayment(input: {customerId: $c, amountMinor: 100, method: CASH, invoiceIds: $i}) { id } }", json!({"c": b_customer, "i": [a_invoice]}), Code("VALIDATION")),
        case("refundPayment", "mutation($id: ID!) { refundPayment(id: $id, amountMinor: 1, reason: \"hijack\") { id } }", json!({"id": a_payment}), Code("NOT_FOUND")),
        case("runDunning", "mutation { runDunning { suspended } }", json!({}), Ok),
        case("issueInvoices", "mutation($i: [ID!]!) { issueInvoices(ids: $i) { id } }", json!({"i": [a_invoice]}), Code("NOT_FOUND")),
        // Devices and the job outbox: B sees and touches only its own.
        case("devices", "{ devices(first: 100) { nodes { id name host } } }", json!({}), Ok),
        case("devices", "{ devices(kind: MIKROTIK) { nodes { id name } } }", json!({}), Ok),
        case("deviceJobs", "{ deviceJobs(first: 100) { nodes { id payload device { id } nas { id } } } }", json!({}), Ok),
        case("deviceJobs", "{ deviceJobs(status: DEAD) { nodes { id } } }", json!({}), Ok),
        case("createDevice", "mutation($n: String!) { createDevice(input: {name: $n, kind: MIKROTIK, host: \"10.2.2.2\", username: \"b\", password: \"b-pw\"}) { id name } }",
             json!({"n": "B edge"}), Ok),
        case("createSubscription", create_sub,
             json!({"i": {"customerId": b_customer, "planId": b_plan, "accessType": "PPPOE", "username": "x3", "password": "p", "deviceId": a_device}}), Code("VALIDATION")),
        case("updateSubscription", upd_sub, json!({"i": {"id": b_sub, "deviceId": a_device}}), Code("VALIDATION")),
        // The helpdesk: B sees only its own tickets and settings and cannot point at A's.
        case("tickets", "{ tickets(first: 100) { totalCount nodes { id subject customer { id } messages { body } } } }", json!({}), Ok),
        case("tickets", "query($s: String!) { tickets(filter: {search: $s}) { totalCount nodes { id } } }", json!({"s": a_ticket_subject}), Ok),
        case("tickets", "query($c: ID, $t: ID, $k: ID, $u: ID) { tickets(filter: {customerId: $c, teamId: $t, categoryId: $k, assigneeId: $u}) { totalCount } }",
             json!({"c": a_customer, "t": a_team, "k": a_category, "u": a_support.id}), Ok),
        case("ticketCategories", "{ ticketCategories { id name } }", json!({}), Ok),
        case("ticketTeams", "{ ticketTeams { id name leadId } }", json!({}), Ok),
        case("slaPolicies", "{ slaPolicies { priority firstResponseMinutes } }", json!({}), Ok),
        case("businessHours", "{ businessHours { timezone week { startMinute } holidays { date name } } }", json!({}), Ok),
        case("ticketReport", "{ ticketReport(from: \"2024-01-01\", to: \"2028-01-01\") { byCategory { categoryId count } workload { assigneeId open } } }", json!({}), Ok),
        case("createTicket", "mutation { createTicket(input: {subject: \"B ticket\"}) { id } }", json!({}), Ok),
        case("createTicket", "mutation($c: ID!) { createTicket(input: {subject: \"x\", customerId: $c}) { id } }", json!({"c": a_customer}), Code("VALIDATION")),
        case("createTicket", "mutation($s: ID!) { createTicket(input: {subject: \"x\", subscriptionId: $s}) { id } }", json!({"s": a_sub}), Code("VALIDATION")),
        case("createTicket", "mutation($u: ID!) { createTicket(input: {subject: \"x\", assigneeId: $u}) { id } }", json!({"u": a_support.id}), Code("VALIDATION")),
        case("createTicket", "mutation($t: ID!) { createTicket(input: {subject: \"x\", teamId: $t}) { id } }", json!({"t": a_team}), Code("VALIDATION")),
        case("createTicket", "mutation($k: ID!) { createTicket(input: {subject: \"x\", categoryId: $k}) { id } }", json!({"k": a_category}), Code("VALIDATION")),
        case("mergeTickets", "mutation($t: ID!, $s: [ID!]!) { mergeTickets(targetId: $t, sourceIds: $s) { id } }",
             json!({"t": a_ticket, "s": [b_ticket]}), Code("NOT_FOUND")),
        case("mergeTickets", "mutation($t: ID!, $s: [ID!]!) { mergeTickets(targetId: $t, sourceIds: $s) { id } }",
             json!({"t": b_ticket, "s": [a_ticket]}), Code("VALIDATION")),
        case("createTicketCategory", "mutation { createTicketCategory(name: \"A cat\") { id } }", json!({}), Ok),
        case("createTicketTeam", "mutation($l: ID) { createTicketTeam(name: \"A team\", leadId: $l) { id } }", json!({"l": a_support.id}), Code("VALIDATION")),
        case("createTicketTeam", "mutation { createTicketTeam(name: \"A team\") { id } }", json!({}), Ok),
        case("setSlaPolicy", "mutation($p: ID) { setSlaPolicy(input: {priority: HIGH, planId: $p, firstResponseMinutes: 5, resolutionMinutes: 50}) { priority } }",
             json!({"p": a_plan}), Code("VALIDATION")),
        case("setSlaPolicy", "mutation { setSlaPolicy(input: {priority: HIGH, firstResponseMinutes: 5, resolutionMinutes: 50}) { priority } }", json!({}), Ok),
        case("removeSlaPolicy", "mutation { removeSlaPolicy(priority: HIGH) }", json!({}), Ok),
        case("removeSlaPolicy", "mutation { removeSlaPolicy(priority: HIGH) }", json!({}), Code("NOT_FOUND")),
        case("setBusinessHours", "mutation { setBusinessHours(week: [[], [], [], [], [], [], [{startMinute: 0, endMinute: 60}]]) { timezone } }", json!({}), Ok),
        // Notifications: B's own log, templates and channels; A's customers and devices are not found.
        case("notifications", "{ notifications(first: 100) { nodes { id recipient customer { id } } } }", json!({}), Ok),
        case("notificationTemplates", "{ notificationTemplates { id body } }", json!({}), Ok),
        // Imports: B's own list; B's file with A's login and plan name imports into B only.
        case("imports", "{ imports { id fileName rowsTotal } }", json!({}), Ok),
        case("importCustomers", "mutation($f: Upload!) { importCustomers(file: $f, dryRun: true) { rows } }", json!({"f": null}), Code("VALIDATION")),
        case("notificationChannels", "{ notificationChannels { channel sender } }", json!({}), Ok),
        case("notificationPreferences", "query($c: ID!) { notificationPreferences(customerId: $c) { language } }",
             json!({"c": a_customer}), Ok),
        case("previewNotificationTemplate", "mutation($c: ID!) { previewNotificationTemplate(input: {event: PAYMENT_RECEIVED, channel: EMAIL, customerId: $c}) { body } }",
             json!({"c": a_customer}), Code("NOT_FOUND")),
        case("setNotificationPreferences", "mutation($c: ID!) { setNotificationPreferences(customerId: $c, input: {language: \"en\", email: false, sms: false, whatsapp: false, optedOut: true}) { optedOut } }",
             json!({"c": a_customer}), Code("NOT_FOUND")),
        case("announceOutage", "mutation($d: ID!) { announceOutage(deviceId: $d, starts: \"a\", ends: \"b\", message: \"c\") }",
             json!({"d": a_device}), Code("NOT_FOUND")),
        case("resendNotification", "mutation($id: ID!) { resendNotification(id: $id) { id } }",
             json!({"id": global_id("Notification", 4_000_000_000_000)}), Code("NOT_FOUND")),
        case("deleteNotificationTemplate", "mutation($id: ID!) { deleteNotificationTemplate(id: $id) }",
             json!({"id": global_id("NotificationTemplate", 4_000_000_000_000)}), Code("NOT_FOUND")),
        case("saveNotificationTemplate", "mutation { saveNotificationTemplate(input: {event: QUOTA_80, channel: SMS, language: \"en\", body: \"B {{ quota.percent }}\"}) { id } }",
             json!({}), Ok),
        case("setNotificationChannel", "mutation { setNotificationChannel(input: {channel: EMAIL, enabled: false, provider: SMTP, host: \"127.0.0.1\", port: 25, sender: \"b@b.test\"}) { channel } }",
             json!({}), Ok),
    ];
    // Every ID-taking operation with A's real IDs.
    let by_id: &[(&'static str, &str, &str)] = &[
        (
            "updateCustomer",
            "mutation($id: ID!) { updateCustomer(input: {id: $id, name: \"Hijacked\"}) { id } }",
            &a_customer,
        ),
        ("archiveCustomer", "mutation($id: ID!) { archiveCustomer(id: $id) { id } }", &a_customer),
        ("updatePlan", "mutation($id: ID!, $i: PlanInput!) { updatePlan(id: $id, input: $i) { id } }", &a_plan),
        ("archivePlan", "mutation($id: ID!) { archivePlan(id: $id) { id } }", &a_plan),
        (
            "updateSubscription",
            "mutation($id: ID!) { updateSubscription(input: {id: $id, username: \"hijacked\"}) { id } }",
            &a_sub,
        ),
        (
            "changeSubscriptionStatus",
            "mutation($id: ID!) { changeSubscriptionStatus(id: $id, status: SUSPENDED) { id } }",
            &a_sub,
        ),
        ("archiveSubscription", "mutation($id: ID!) { archiveSubscription(id: $id) { id } }", &a_sub),
        (
            "updateDevice",
            "mutation($id: ID!) { updateDevice(id: $id, input: {password: \"stolen-1\", enabled: false}) { id } }",
            &a_device,
        ),
        ("deleteDevice", "mutation($id: ID!) { deleteDevice(id: $id) { id } }", &a_device),
        ("retryDeviceJob", "mutation($id: ID!) { retryDeviceJob(id: $id) { id } }", &a_job),
        ("issueInvoice", "mutation($id: ID!) { issueInvoice(id: $id) { id } }", &a_invoice),
        ("replyTicket", "mutation($id: ID!) { replyTicket(id: $id, body: \"hijack\") { id } }", &a_ticket),
        ("addTicketNote", "mutation($id: ID!) { addTicketNote(id: $id, body: \"hijack\") { id } }", &a_ticket),
        (
            "addTicketCustomerMessage",
            "mutation($id: ID!) { addTicketCustomerMessage(id: $id, body: \"hijack\") { id } }",
            &a_ticket,
        ),
        ("assignTicket", "mutation($id: ID!) { assignTicket(id: $id, assigneeId: null) { id } }", &a_ticket),
        ("bulkAssignTickets", "mutation($id: ID!) { bulkAssignTickets(ids: [$id], teamId: null) { id } }", &a_ticket),
        ("setTicketStatus", "mutation($id: ID!) { setTicketStatus(id: $id, status: CLOSED) { id } }", &a_ticket),
        ("setTicketPriority", "mutation($id: ID!) { setTicketPriority(id: $id, priority: LOW) { id } }", &a_ticket),
        (
            "renameTicketCategory",
            "mutation($id: ID!) { renameTicketCategory(id: $id, name: \"x\") { id } }",
            &a_category,
        ),
        ("updateTicketTeam", "mutation($id: ID!) { updateTicketTeam(id: $id, name: \"x\") { id } }", &a_team),
        ("deleteInvoice", "mutation($id: ID!) { deleteInvoice(id: $id) }", &a_invoice),
        ("rollbackImport", "mutation($id: ID!) { rollbackImport(id: $id) { id } }", &a_import),
        (
            "updateStaffUser",
            "mutation($id: ID!) { updateStaffUser(input: {id: $id, disabled: true}) { id } }",
            &a_support.id,
        ),
        (
            "updateStaffUser",
            "mutation($id: ID!) { updateStaffUser(input: {id: $id, password: \"taken-over-1\"}) { id } }",
            &a_owner,
        ),
    ];
    for (root, q, id) in by_id {
        cases.push(case(root, q, json!({"id": id, "i": plan_input("Hijacked", &["PPPOE"])}), Code("NOT_FOUND")));
    }
    // Documents: A's customer, document and subscription.
    cases.push(case(
        "customerDocuments",
        "query($c: ID!) { customerDocuments(customerId: $c) { id } }",
        json!({"c": a_customer}),
        Ok,
    ));
    cases.push(case("contractTemplate", "{ contractTemplate { custom } }", json!({}), Ok));
    cases.push(case(
        "uploadCustomerDocument",
        "mutation($c: ID!, $f: Upload!) { uploadCustomerDocument(customerId: $c, file: $f, kind: PHOTO) { id } }",
        json!({"c": a_customer, "f": null}),
        Code("VALIDATION"),
    ));
    cases.push(case(
        "deleteCustomerDocument",
        "mutation($id: ID!) { deleteCustomerDocument(id: $id) { id } }",
        json!({"id": a_doc}),
        Code("NOT_FOUND"),
    ));
    cases.push(case(
        "generateContract",
        "mutation($s: ID!) { generateContract(subscriptionId: $s) { id } }",
        json!({"s": a_sub}),
        Code("NOT_FOUND"),
    ));
    cases.push(case(
        "setContractTemplate",
        "mutation { setContractTemplate(template: null) { custom } }",
        json!({}),
        Ok,
    ));
    // RADIUS: A's NAS, session, usage and auth log.
    for (root, q, vars, expect) in a_radius.cases(&a_sub, &a_username) {
        cases.push(case(root, &q, vars, expect.map_or(Ok, Code)));
    }
    // Lookups with real and guessed IDs: null, or (for a guessed ID) one of B's own objects.
    let lookups: &[(&'static str, &str)] = &[
        ("node", "query($id: ID!) { node(id: $id) { id } }"),
        ("customer", "query($id: ID!) { customer(id: $id) { id } }"),
        ("plan", "query($id: ID!) { plan(id: $id) { id } }"),
        ("subscription", "query($id: ID!) { subscription(id: $id) { id } }"),
        ("device", "query($id: ID!) { device(id: $id) { id } }"),
        ("ticket", "query($id: ID!) { ticket(id: $id) { id } }"),
        ("importJob", "query($id: ID!) { importJob(id: $id) { id fileName } }"),
    ];

    // The schema's root fields must all be covered here.
    let covered: BTreeSet<String> =
        cases.iter().map(|c| c.root).chain(lookups.iter().map(|l| l.0)).map(str::to_string).collect();
    let mut expected = root_fields(&app, &b.token).await;
    expected.retain(|f| !TOKENLESS.contains(&f.as_str()));
    let missing: Vec<_> = expected.difference(&covered).collect();
    let stale: Vec<_> = covered.difference(&expected).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "isolation test out of date: add cases for {missing:?}, remove {stale:?}"
    );

    let leaks = |r: &Value| -> Vec<String> {
        let text = r.to_string();
        // Quoted, so that A's `Customer:1` is not found inside B's `Customer:12`.
        markers.iter().filter(|m| text.contains(&format!("\"{m}\""))).cloned().collect()
    };
    for c in &cases {
        let r = app.gql(Some(&b.token), &c.query, c.vars.clone()).await;
        match c.expect {
            Ok => assert!(r["errors"].is_null(), "{}: {r:#}", c.root),
            Code(want) => assert_eq!(code(&r), Some(want), "{}: {r:#}", c.root),
        }
        assert_eq!(leaks(&r), Vec::<String>::new(), "{} leaked A's data: {r:#}", c.root);
    }
    // B's own objects, including those the cases above created.
    let own = app
        .ok(
            &b.token,
            "{ tenant { id } customers(first: 100, filter: {status: [ACTIVE, INACTIVE, ARCHIVED]}) { nodes { id } } \
             plans(first: 100, includeArchived: true) { nodes { id } } subscriptions(first: 100) { nodes { id } } \
             staffUsers(first: 100) { nodes { id } } devices(first: 100) { nodes { id } } \
             invoices(first: 100) { nodes { id } } payments(first: 100) { nodes { id } } \
             deviceJobs(first: 100) { nodes { id } } tickets(first: 100) { nodes { id } } \
             ticketTeams { id } ticketCategories { id } }",
            json!({}),
        )
        .await;
    let mut b_own: BTreeSet<String> = [own["tenant"]["id"].as_str().unwrap().to_string()].into();
    for list in [
        "customers",
        "plans",
        "subscriptions",
        "staffUsers",
        "devices",
        "invoices",
        "payments",
        "deviceJobs",
        "tickets",
    ] {
        b_own.extend(own[list]["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_string()));
    }
    for list in ["ticketTeams", "ticketCategories"] {
        b_own.extend(own[list].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_string()));
    }
    assert!(b_own.contains(&b_ticket));
    assert!(
        b_own.contains(&b_plan) && b_own.contains(&b_customer) && b_own.contains(&b_sub) && b_own.contains(&b_user.id)
    );
    assert!(a_ids.iter().all(|id| !b_own.contains(*id)), "B lists A's objects: {b_own:?}");
    let mut lookups_run = 0;
    for (root, q) in lookups {
        for id in &guessed {
            let r = app.gql(Some(&b.token), q, json!({"id": id})).await;
            let (ty, _) = parse_global_id(id);
            let typed = *root != "node" && !root.eq_ignore_ascii_case(&ty);
            if typed {
                assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some("id")), "{root}({ty}): {r:#}");
                continue;
            }
            assert!(r["errors"].is_null(), "{root}({ty}): {r:#}");
            let got = &r["data"][root];
            assert!(got.is_null() || b_own.contains(got["id"].as_str().unwrap()), "{root}({id}) returned {got}");
            assert_eq!(leaks(&r), Vec::<String>::new(), "{root} leaked A's data: {r:#}");
            lookups_run += 1;
        }
    }
    let typed = guessed.iter().filter(|g| {
        ["Customer", "Plan", "Subscription", "Device", "Ticket", "ImportJob"].contains(&parse_global_id(g).0.as_str())
    });
    assert_eq!(lookups_run, guessed.len() + typed.count(), "every guessed ID was looked up");
    // Raw row ids and garbage are not IDs at all.
    let (_, raw) = parse_global_id(&a_customer);
    for bad in [raw.to_string(), "Customer:1".to_string(), "%%%".to_string()] {
        let r = app.gql(Some(&b.token), "query($id: ID!) { customer(id: $id) { id } }", json!({"id": bad})).await;
        assert_eq!(code(&r), Some("VALIDATION"), "{bad}: {r:#}");
    }

    // A is exactly as it was, its sessions and numbering untouched.
    let after = app.ok(&a.token, SNAPSHOT, json!({})).await;
    assert_eq!(after, before, "tenant A changed");
    let radius_after = app.ok(&a.token, crate::radius_isolation::SNAPSHOT, json!({})).await;
    assert_eq!(radius_after, radius_before, "tenant A's RADIUS data changed");
    let r = app
        .gql(None, "mutation($r: String!) { refreshToken(refreshToken: $r) { accessToken } }", json!({"r": a.refresh}))
        .await;
    assert!(r["errors"].is_null(), "B's logout revoked A's session: {r:#}");
    app.login(&a.slug, &a.email, PASSWORD).await;
    app.login(&a.slug, &a_support.email, PASSWORD).await;
    let d =
        app.ok(&a.token, "mutation { createCustomer(input: {name: \"A second\"}) { accountNumber } }", json!({})).await;
    // The third: the second came with A's import.
    assert_eq!(d["createCustomer"]["accountNumber"], "C000003");
}
