//! The helpdesk over GraphQL: due times from the SLA policy, breach and escalation (once) on
//! the injected clock, the pause while waiting for the customer, roles, another tenant's
//! tickets, merging, search and the report.

use crate::*;
use chrono::{DateTime, Duration, Utc};
use isp_core::clock::Clock;
use serde_json::{json, Value};

const TICKET: &str = "id number status priority breached atRisk escalatedAt firstResponseDue resolutionDue nextDue \
    firstRespondedAt pausedSince mergedIntoId assigneeId team { id name leadId } category { id name } \
    customer { id } messages { id kind body authorStaffId authorCustomerId }";

fn at(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not an instant: {v}")))
        .unwrap()
        .with_timezone(&Utc)
}

/// A server whose access tokens outlive the hours these tests move the clock by.
async fn long_tokens() -> TestApp {
    spawn_app_with(|c| c.auth.access_token_ttl_secs = 7 * 24 * 3600).await
}

async fn policy(app: &TestApp, token: &str, priority: &str, first: i64, resolution: i64, business: bool) {
    app.ok(
        token,
        "mutation($i: SlaPolicyInput!) { setSlaPolicy(input: $i) { priority } }",
        json!({"i": {"priority": priority, "firstResponseMinutes": first, "resolutionMinutes": resolution,
                     "businessHours": business}}),
    )
    .await;
}

async fn create(app: &TestApp, token: &str, input: Value) -> Value {
    let q = format!("mutation($i: CreateTicketInput!) {{ createTicket(input: $i) {{ {TICKET} }} }}");
    app.ok(token, &q, json!({"i": input})).await["createTicket"].clone()
}

async fn ticket(app: &TestApp, token: &str, id: &str) -> Value {
    let q = format!("query($id: ID!) {{ ticket(id: $id) {{ {TICKET} }} }}");
    app.ok(token, &q, json!({"id": id})).await["ticket"].clone()
}

async fn sweep(app: &TestApp) {
    assert_eq!(isp_core::scheduler::sweep_helpdesk(&app.ctx).await.unwrap(), 0);
}

async fn audit_count(app: &TestApp, token: &str, action: &str, id: &str) -> usize {
    let d = app
        .ok(
            token,
            "query($o: ID) { auditLog(first: 100, filter: {objectId: $o}) { nodes { action } } }",
            json!({"o": id}),
        )
        .await;
    d["auditLog"]["nodes"].as_array().unwrap().iter().filter(|n| n["action"] == action).count()
}

#[tokio::test]
async fn an_urgent_ticket_is_due_breaches_on_the_clock_and_escalates_once() {
    let app = long_tokens().await;
    let t = app.tenant().await;
    policy(&app, &t.token, "URGENT", 30, 240, false).await;
    let support = app.staff(&t, "SUPPORT").await;
    let lead = app.staff(&t, "ENGINEER").await;
    let team = app
        .ok(
            &t.token,
            "mutation($l: ID) { createTicketTeam(name: \"NOC\", leadId: $l) { id leadId } }",
            json!({"l": lead.id}),
        )
        .await["createTicketTeam"]
        .clone();
    assert_eq!(team["leadId"], json!(lead.id));
    let customer = app.customer(&t.token, "Outage Customer").await;
    let created_at = app.clock.now();
    let tk = create(
        &app,
        &support.token,
        json!({"subject": "Whole street offline", "body": "No link since 9am", "customerId": customer,
               "priority": "URGENT", "assigneeId": support.id, "teamId": team["id"], "tags": ["Outage", "fibre"]}),
    )
    .await;
    let id = tk["id"].as_str().unwrap().to_string();
    assert_eq!(tk["status"], "OPEN", "assigned tickets start open");
    // Calendar targets: due 30 minutes and 4 hours after creation (to the millisecond).
    let ms = |d: DateTime<Utc>| d.timestamp_millis();
    assert_eq!(ms(at(&tk["firstResponseDue"])) / 1000, ms(created_at + Duration::minutes(30)) / 1000);
    assert_eq!(ms(at(&tk["resolutionDue"])) / 1000, ms(created_at + Duration::hours(4)) / 1000);
    assert_eq!(tk["nextDue"], tk["firstResponseDue"]);
    assert_eq!(tk["messages"][0]["kind"], "CUSTOMER_MESSAGE");
    assert_eq!(tk["messages"][0]["authorCustomerId"], json!(customer));
    assert_eq!((tk["breached"].as_bool(), tk["atRisk"].as_bool()), (Some(false), Some(false)));

    // 25 of 30 minutes: at risk, not breached.
    app.clock.advance(Duration::minutes(25));
    sweep(&app).await;
    let d = ticket(&app, &t.token, &id).await;
    assert_eq!((d["atRisk"].as_bool(), d["breached"].as_bool()), (Some(true), Some(false)), "{d}");
    let risky = app.ok(&t.token, "{ tickets(filter: {atRisk: true}) { totalCount nodes { id } } }", json!({})).await;
    assert_eq!(risky["tickets"]["nodes"][0]["id"], json!(id));

    // Past the due time: breached and escalated, once, naming the assignee and the lead.
    app.clock.advance(Duration::minutes(6));
    sweep(&app).await;
    let d = ticket(&app, &t.token, &id).await;
    assert_eq!((d["breached"].as_bool(), d["atRisk"].as_bool()), (Some(true), Some(false)), "{d}");
    assert!(d["escalatedAt"].is_string(), "{d}");
    for _ in 0..3 {
        app.clock.advance(Duration::hours(1));
        sweep(&app).await;
    }
    let d2 = ticket(&app, &t.token, &id).await;
    assert_eq!(d2["escalatedAt"], d["escalatedAt"], "escalated once");
    assert_eq!(audit_count(&app, &t.token, "ticket.escalate", &id).await, 1);
    let (_, n) = parse_global_id(&id);
    let tenant = isp_core::store::tenants::by_slug(&app.ctx.db, &t.slug).await.unwrap().unwrap().id;
    let esc = isp_core::store::helpdesk::escalations(&app.ctx.db, tenant, n).await.unwrap();
    assert_eq!(esc.len(), 1);
    let notify: Vec<String> =
        esc[0].notify_user_ids.split(',').map(|u| global_id("StaffUser", u.parse().unwrap())).collect();
    assert_eq!(notify, vec![support.id.clone(), lead.id.clone()]);
    assert_eq!(esc[0].reason, "FIRST_RESPONSE_BREACHED");
    let breached = app.ok(&t.token, "{ tickets(filter: {breached: true}) { totalCount } }", json!({})).await;
    assert_eq!(breached["tickets"]["totalCount"], 1);

    // A late first reply is recorded; the ticket stays breached.
    let q =
        "mutation($id: ID!) { replyTicket(id: $id, body: \"Crew on the way\") { firstRespondedAt breached status } }";
    let r = app.ok(&support.token, q, json!({"id": id})).await["replyTicket"].clone();
    assert!(r["firstRespondedAt"].is_string() && r["breached"] == true && r["status"] == "OPEN", "{r}");
}

#[tokio::test]
async fn waiting_for_the_customer_pauses_the_resolution_clock() {
    let app = long_tokens().await;
    let t = app.tenant().await;
    policy(&app, &t.token, "NORMAL", 60, 120, false).await;
    let customer = app.customer(&t.token, "Slow Customer").await;
    let tk = create(&app, &t.token, json!({"subject": "Slow evenings", "customerId": customer})).await;
    let id = tk["id"].as_str().unwrap().to_string();
    assert_eq!(tk["status"], "NEW");
    let due = at(&tk["resolutionDue"]);
    let reply =
        "mutation($id: ID!) { replyTicket(id: $id, body: \"Please run a speed test\") { status firstRespondedAt } }";
    let r = app.ok(&t.token, reply, json!({"id": id})).await;
    assert_eq!(r["replyTicket"]["status"], "OPEN", "the first reply opens a new ticket");
    app.clock.advance(Duration::minutes(30));
    let set =
        "mutation($id: ID!, $s: TicketStatus!) { setTicketStatus(id: $id, status: $s) { status pausedSince nextDue } }";
    let p = app.ok(&t.token, set, json!({"id": id, "s": "PENDING_CUSTOMER"})).await["setTicketStatus"].clone();
    assert!(p["pausedSince"].is_string() && p["nextDue"].is_null(), "{p}");
    // Three hours later (long past the old due time) nothing breached: the clock is stopped.
    app.clock.advance(Duration::hours(3));
    sweep(&app).await;
    assert_eq!(ticket(&app, &t.token, &id).await["breached"], false);
    // The customer answers: the ticket opens again and its due time moved by the pause.
    let q = "mutation($id: ID!) { addTicketCustomerMessage(id: $id, body: \"Done: 3 Mbit/s\") { status pausedSince resolutionDue pausedMinutes } }";
    let r = app.ok(&t.token, q, json!({"id": id})).await["addTicketCustomerMessage"].clone();
    assert_eq!(r["status"], "OPEN");
    assert!(r["pausedSince"].is_null());
    assert_eq!(r["pausedMinutes"], 180);
    assert_eq!((at(&r["resolutionDue"]) - due).num_seconds(), Duration::hours(3).num_seconds());
    // Closed is final.
    app.ok(&t.token, set, json!({"id": id, "s": "CLOSED"})).await;
    let again = app.gql(Some(&t.token), set, json!({"id": id, "s": "OPEN"})).await;
    assert_eq!((code(&again), field(&again)), (Some("CONFLICT"), Some("status")), "{again}");
    assert_eq!(audit_count(&app, &t.token, "ticket.status", &id).await, 2);
}

#[tokio::test]
async fn roles_read_and_work_tickets_as_the_matrix_says() {
    let app = long_tokens().await;
    let t = app.tenant().await;
    let tk = create(&app, &t.token, json!({"subject": "Router reboot loop"})).await;
    let id = tk["id"].as_str().unwrap();
    let list = "{ tickets { totalCount nodes { subject messages { body } } } ticketCategories { name } }";
    let note = "mutation($id: ID!) { addTicketNote(id: $id, body: \"checked the CPE\") { messages { kind } } }";
    let policy_q = "mutation { setSlaPolicy(input: {priority: LOW, firstResponseMinutes: 600, resolutionMinutes: 6000}) { priority } }";
    for (role, works) in
        [("CASHIER", false), ("MANAGER", false), ("SUPPORT", true), ("ENGINEER", true), ("ADMIN", true)]
    {
        let s = app.staff(&t, role).await;
        let d = app.ok(&s.token, list, json!({})).await;
        assert_eq!(d["tickets"]["totalCount"], 1, "{role} reads tickets");
        assert_eq!(d["ticketCategories"].as_array().unwrap().len(), 5, "default categories");
        let r = app.gql(Some(&s.token), note, json!({"id": id})).await;
        if works {
            assert!(r["errors"].is_null(), "{role}: {r}");
        } else {
            assert_eq!(code(&r), Some("FORBIDDEN"), "{role}: {r}");
        }
        let r = app.gql(Some(&s.token), policy_q, json!({})).await;
        assert_eq!(r["errors"].is_null(), role == "ADMIN", "{role} setSlaPolicy: {r}");
    }
    // A cashier cannot be assigned tickets.
    let cashier = app.staff(&t, "CASHIER").await;
    let q = "mutation($id: ID!, $u: ID) { assignTicket(id: $id, assigneeId: $u) { assigneeId } }";
    let r = app.gql(Some(&t.token), q, json!({"id": id, "u": cashier.id})).await;
    assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some("assigneeId")), "{r}");
}

#[tokio::test]
async fn another_tenants_ticket_is_null_and_untouchable() {
    let app = long_tokens().await;
    let a = app.tenant().await;
    let b = app.tenant().await;
    let tk = create(&app, &a.token, json!({"subject": "A's secret ticket", "body": "A's words"})).await;
    let id = tk["id"].as_str().unwrap();
    let msg = tk["messages"][0]["id"].as_str().unwrap();
    assert!(ticket(&app, &b.token, id).await.is_null());
    for other in [id, msg] {
        let d = app.ok(&b.token, "query($id: ID!) { node(id: $id) { id } }", json!({"id": other})).await;
        assert!(d["node"].is_null(), "{d}");
    }
    let d = app.ok(&b.token, "{ tickets(filter: {search: \"secret\"}) { totalCount } }", json!({})).await;
    assert_eq!(d["tickets"]["totalCount"], 0);
    let r = app
        .gql(Some(&b.token), "mutation($id: ID!) { replyTicket(id: $id, body: \"hi\") { id } }", json!({"id": id}))
        .await;
    assert_eq!(code(&r), Some("NOT_FOUND"), "{r}");
    let own = create(&app, &b.token, json!({"subject": "B's"})).await;
    let q = "mutation($t: ID!, $s: [ID!]!) { mergeTickets(targetId: $t, sourceIds: $s) { id } }";
    let r = app.gql(Some(&b.token), q, json!({"t": own["id"], "s": [id]})).await;
    assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some("sourceIds")), "{r}");
    assert_eq!(ticket(&app, &a.token, id).await["status"], "NEW", "A's ticket is untouched");
}

#[tokio::test]
async fn merging_moves_the_conversation_and_closes_the_duplicates() {
    let app = long_tokens().await;
    let t = app.tenant().await;
    let customer = app.customer(&t.token, "Dup Customer").await;
    let a =
        create(&app, &t.token, json!({"subject": "No internet", "body": "first report", "customerId": customer})).await;
    let b = create(
        &app,
        &t.token,
        json!({"subject": "Still no internet", "body": "second report", "customerId": customer}),
    )
    .await;
    let c =
        create(&app, &t.token, json!({"subject": "Internet??", "body": "third report", "customerId": customer})).await;
    let q = format!("mutation($t: ID!, $s: [ID!]!) {{ mergeTickets(targetId: $t, sourceIds: $s) {{ {TICKET} }} }}");
    let m = app.ok(&t.token, &q, json!({"t": a["id"], "s": [b["id"], c["id"]]})).await["mergeTickets"].clone();
    let bodies: Vec<&str> = m["messages"].as_array().unwrap().iter().map(|x| x["body"].as_str().unwrap()).collect();
    assert_eq!(bodies[..3], ["first report", "second report", "third report"]);
    assert_eq!(m["messages"][3]["kind"], "INTERNAL_NOTE");
    assert!(bodies[3].contains(&format!("#{}", b["number"])), "{bodies:?}");
    for dup in [&b, &c] {
        let d = ticket(&app, &t.token, dup["id"].as_str().unwrap()).await;
        assert_eq!((d["status"].as_str(), &d["mergedIntoId"]), (Some("CLOSED"), &a["id"]));
        assert_eq!(d["messages"], json!([]));
    }
    let r = app
        .gql(Some(&t.token), "mutation($id: ID!) { replyTicket(id: $id, body: \"x\") { id } }", json!({"id": b["id"]}))
        .await;
    assert_eq!(code(&r), Some("CONFLICT"), "{r}");
    let r = app.gql(Some(&t.token), &q, json!({"t": a["id"], "s": [a["id"]]})).await;
    assert_eq!(code(&r), Some("VALIDATION"));
    // Search finds the target by the moved messages, not the closed duplicates' subjects.
    let d = app.ok(&t.token, "{ tickets(filter: {search: \"third report\"}) { nodes { id } } }", json!({})).await;
    assert_eq!(d["tickets"]["nodes"], json!([{"id": a["id"]}]));
    // Bulk assignment, all or none.
    let s = app.staff(&t, "SUPPORT").await;
    let q = "mutation($i: [ID!]!, $u: ID) { bulkAssignTickets(ids: $i, assigneeId: $u) { assigneeId status } }";
    let d = app.ok(&t.token, q, json!({"i": [a["id"]], "u": s.id})).await;
    assert_eq!(d["bulkAssignTickets"], json!([{"assigneeId": s.id, "status": "OPEN"}]));
    let r = app.gql(Some(&t.token), q, json!({"i": [a["id"], b["id"]], "u": s.id})).await;
    assert_eq!(code(&r), Some("CONFLICT"), "a merged ticket in the batch refuses it all: {r}");
}

#[tokio::test]
async fn the_report_matches_a_hand_count() {
    let app = long_tokens().await;
    let t = app.tenant().await;
    policy(&app, &t.token, "HIGH", 15, 60, false).await;
    let cats = app.ok(&t.token, "{ ticketCategories { id name } }", json!({})).await;
    let cat =
        |n: &str| cats["ticketCategories"].as_array().unwrap().iter().find(|c| c["name"] == n).unwrap()["id"].clone();
    let (billing, slow) = (cat("billing"), cat("slow speed"));
    let today = app.clock.now().date_naive();
    let reply = "mutation($id: ID!) { replyTicket(id: $id, body: \"on it\") { id } }";
    let set = "mutation($id: ID!) { setTicketStatus(id: $id, status: RESOLVED) { id } }";
    // 1: HIGH, billing, EMAIL, answered after 10 min, resolved after 40 min: SLA met.
    let one =
        create(&app, &t.token, json!({"subject": "1", "priority": "HIGH", "categoryId": billing, "channel": "EMAIL"}))
            .await;
    app.clock.advance(Duration::minutes(10));
    app.ok(&t.token, reply, json!({"id": one["id"]})).await;
    app.clock.advance(Duration::minutes(30));
    app.ok(&t.token, set, json!({"id": one["id"]})).await;
    // 2: HIGH, slow speed, answered after 20 min (late): breached; resolved after 100 min.
    let two = create(&app, &t.token, json!({"subject": "2", "priority": "HIGH", "categoryId": slow})).await;
    app.clock.advance(Duration::minutes(20));
    app.ok(&t.token, reply, json!({"id": two["id"]})).await;
    app.clock.advance(Duration::minutes(80));
    app.ok(&t.token, set, json!({"id": two["id"]})).await;
    // 3: NORMAL (no policy), billing, answered after 60 min, still open.
    let three = create(&app, &t.token, json!({"subject": "3", "categoryId": billing})).await;
    app.clock.advance(Duration::minutes(60));
    app.ok(&t.token, reply, json!({"id": three["id"]})).await;
    let q = "query($f: String!, $t: String!) { ticketReport(from: $f, to: $t) { byCategory { categoryId count } \
             byChannel { channel count } firstResponse { count medianMinutes p90Minutes } \
             resolution { count medianMinutes p90Minutes } slaCompliance { priority total met percent } \
             backlog { age count } workload { assigneeId open resolved } } }";
    let from = (today - chrono::Days::new(1)).to_string();
    let to = (today + chrono::Days::new(1)).to_string();
    let r = app.ok(&t.token, q, json!({"f": from, "t": to})).await["ticketReport"].clone();
    let mut by_cat: Vec<(String, i64)> = r["byCategory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["categoryId"].as_str().unwrap().to_string(), c["count"].as_i64().unwrap()))
        .collect();
    by_cat.sort();
    let mut want = vec![(billing.as_str().unwrap().to_string(), 2), (slow.as_str().unwrap().to_string(), 1)];
    want.sort();
    assert_eq!(by_cat, want);
    assert_eq!(r["byChannel"], json!([{"channel": "EMAIL", "count": 1}, {"channel": "STAFF", "count": 2}]));
    // First responses 10, 20, 60: median 20, p90 60. Resolutions 40 and 100: median 40, p90 100.
    assert_eq!(r["firstResponse"], json!({"count": 3, "medianMinutes": 20, "p90Minutes": 60}));
    assert_eq!(r["resolution"], json!({"count": 2, "medianMinutes": 40, "p90Minutes": 100}));
    let high = r["slaCompliance"].as_array().unwrap().iter().find(|c| c["priority"] == "HIGH").unwrap().clone();
    assert_eq!(high, json!({"priority": "HIGH", "total": 2, "met": 1, "percent": 50}));
    assert_eq!(r["backlog"][0], json!({"age": "UNDER_1_DAY", "count": 1}));
    assert_eq!(r["workload"], json!([{"assigneeId": null, "open": 1, "resolved": 2}]));
    // A range before any ticket is empty.
    let r = app.ok(&t.token, q, json!({"f": "2020-01-01", "t": "2020-01-31"})).await["ticketReport"].clone();
    assert_eq!(r["byCategory"], json!([]));
    assert_eq!(r["firstResponse"], json!({"count": 0, "medianMinutes": null, "p90Minutes": null}));
}

#[tokio::test]
async fn a_dead_letter_raises_one_open_ticket_per_device() {
    let app = long_tokens().await;
    let t = app.tenant().await;
    let tenant = isp_core::store::tenants::by_slug(&app.ctx.db, &t.slug).await.unwrap().unwrap().id;
    let (_, job) = parse_global_id(&crate::roles::dead_job(&app, &t).await);
    let mut job = isp_core::store::jobs::get(&app.ctx.db, tenant, job).await.unwrap().unwrap();
    // A RADIUS job for a NAS that has since been deleted: the ticket names it by its id.
    job.nas_id = Some(424_242);
    let raise = || isp_core::workflows::tickets::device_job_dead(&app.ctx, &job, "no answer");
    let first = raise().await.unwrap().expect("a ticket");
    assert!(raise().await.unwrap().is_none(), "one open ticket per device");
    let d = app.ok(&t.token, "{ tickets { totalCount nodes { id subject channel } } }", json!({})).await;
    assert_eq!(d["tickets"]["totalCount"], 1);
    assert_eq!(d["tickets"]["nodes"][0]["subject"], "Changes to NAS #424242 are failing");
    // Once it is resolved, the next dead letter raises a new one.
    let id = global_id("Ticket", first.id);
    app.ok(&t.token, "mutation($id: ID!) { setTicketStatus(id: $id, status: RESOLVED) { id } }", json!({"id": id}))
        .await;
    let second = raise().await.unwrap().expect("a new ticket");
    assert_ne!(second.id, first.id);
    assert_eq!(audit_count(&app, &t.token, "ticket.create", &global_id("Ticket", second.id)).await, 1);
}

/// The README's Helpdesk examples are valid operations of the schema: each line of its GraphQL
/// blocks and each curl query passes validation and only lacks a token.
#[tokio::test]
async fn the_readme_helpdesk_examples_are_valid_operations() {
    let app = spawn_app().await;
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("## Helpdesk").expect("README has a Helpdesk section");
    // Up to the next section (Notifications follows it).
    let section = &readme[start..start + 1 + readme[start + 1..].find("\n## ").unwrap()];
    let mut ops: Vec<String> = Vec::new();
    let mut in_graphql = false;
    for line in section.lines() {
        if line.starts_with("```") {
            in_graphql = line == "```graphql";
            continue;
        }
        if in_graphql && !line.trim().is_empty() {
            ops.push(line.to_string());
        }
        // The curl examples: the query between `"query":` and the closing quote.
        if let Some(q) = line.trim().strip_prefix("\"{ ").and_then(|q| q.strip_suffix("\"}'")) {
            ops.push(format!("{{ {}", q.replace("\\\"", "\"")));
        }
    }
    assert!(ops.len() >= 15, "{ops:#?}");
    let vars = json!({"id": "x", "ids": ["x"], "dups": ["x"], "u": null, "team": null, "lead": null});
    for op in &ops {
        let r = app.gql(None, op, vars.clone()).await;
        assert_eq!(code(&r), Some("UNAUTHENTICATED"), "{op}\n{r:#}");
    }
}
