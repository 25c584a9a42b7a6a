//! GraphQL subscriptions over WebSocket (graphql-transport-ws): live changes of the caller's
//! tenant only, and only for a valid token.

use crate::*;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

pub(crate) type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What the server sent next: a JSON message, a close frame (code), or nothing in time.
#[derive(Debug)]
enum Got {
    Json(Value),
    Closed(Option<u16>),
    Nothing,
}

async fn connect(app: &TestApp) -> Ws {
    connect_to(&app.base).await
}

async fn connect_to(base: &str) -> Ws {
    let url = format!("{}/graphql/ws", base.replace("http://", "ws://"));
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
    let (ws, resp) = tokio_tungstenite::connect_async(req).await.expect("websocket upgrade");
    assert_eq!(resp.headers()["sec-websocket-protocol"], "graphql-transport-ws");
    ws
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

async fn next(ws: &mut Ws, wait: Duration) -> Got {
    loop {
        match tokio::time::timeout(wait, ws.next()).await {
            Err(_) => return Got::Nothing,
            Ok(None) | Ok(Some(Err(_))) => return Got::Closed(None),
            Ok(Some(Ok(Message::Text(t)))) => return Got::Json(serde_json::from_str(&t).unwrap()),
            Ok(Some(Ok(Message::Close(f)))) => return Got::Closed(f.map(|f| f.code.into())),
            Ok(Some(Ok(_))) => continue, // ping/pong frames
        }
    }
}

/// Connects and completes `connection_init` with `payload`; the server's first answer.
async fn init(app: &TestApp, payload: Value) -> (Ws, Got) {
    let mut ws = connect(app).await;
    send(&mut ws, json!({"type": "connection_init", "payload": payload})).await;
    let got = next(&mut ws, Duration::from_secs(5)).await;
    (ws, got)
}

/// The next `changes` event, skipping kinds in `skip`; None when none comes in time.
pub(crate) async fn next_change(ws: &mut Ws, skip: &[&str], wait: Duration) -> Option<Value> {
    loop {
        match next(ws, wait).await {
            Got::Json(m) if m["type"] == "next" => {
                let change = m["payload"]["data"]["changes"].clone();
                assert!(m["payload"]["errors"].is_null(), "{m:#}");
                if !skip.contains(&change["kind"].as_str().unwrap()) {
                    return Some(change);
                }
            }
            Got::Json(m) => panic!("unexpected message {m:#}"),
            Got::Closed(code) => panic!("connection closed ({code:?})"),
            Got::Nothing => return None,
        }
    }
}

#[tokio::test]
async fn changes_are_pushed_to_subscribers_of_the_same_tenant_only() {
    let app = spawn_app().await;
    let a = app.tenant().await;
    let b = app.tenant().await;
    let (mut ws, got) = init(&app, json!({"authorization": format!("Bearer {}", a.token)})).await;
    assert!(matches!(&got, Got::Json(m) if m["type"] == "connection_ack"), "{got:?}");
    send(
        &mut ws,
        json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { changes { kind id } }"}}),
    )
    .await;

    // The subscription starts asynchronously: poke with plan changes until one arrives.
    let mut live = false;
    for i in 0..50 {
        app.plan(&a.token, &format!("Probe {i}"), &["PPPOE"]).await;
        if next_change(&mut ws, &[], Duration::from_millis(200)).await.is_some() {
            live = true;
            break;
        }
    }
    assert!(live, "no change arrived for the subscriber");

    app.customer(&b.token, "Not for A").await;
    let mine = app.customer(&a.token, "For A").await;
    let change = next_change(&mut ws, &["PLAN"], Duration::from_secs(5)).await.expect("A's customer change");
    assert_eq!(change, json!({"kind": "CUSTOMER", "id": mine}), "B's change must not come first");

    // Subscriptions and status changes arrive too; B's activity never does.
    let b_plan = app.plan(&b.token, "B plan", &["PPPOE"]).await;
    let b_customer = app.customer(&b.token, "B again").await;
    app.subscription(&b.token, &b_customer, &b_plan, "b-ws", "ACTIVE").await;
    let plan = app.plan(&a.token, "A plan", &["PPPOE"]).await;
    let sub = app.subscription(&a.token, &mine, &plan, "a-ws", "PENDING").await;
    app.ok(
        &a.token,
        "mutation($id: ID!) { changeSubscriptionStatus(id: $id, status: ACTIVE) { id } }",
        json!({"id": sub}),
    )
    .await;
    let mut got = Vec::new();
    while let Some(c) = next_change(&mut ws, &[], Duration::from_millis(500)).await {
        got.push(c);
    }
    assert_eq!(
        got,
        [
            json!({"kind": "PLAN", "id": plan}),
            json!({"kind": "SUBSCRIPTION", "id": sub}),
            json!({"kind": "SUBSCRIPTION", "id": sub})
        ]
    );

    // `complete` ends the subscription.
    send(&mut ws, json!({"id": "1", "type": "complete"})).await;
    app.customer(&a.token, "After complete").await;
    match next(&mut ws, Duration::from_millis(300)).await {
        Got::Nothing => {}
        Got::Json(m) => assert_eq!(m["type"], "complete", "{m:#}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn connection_init_without_a_valid_token_is_refused() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let mut tampered = t.token.clone();
    tampered.pop();
    let cases = [
        ("no payload", Value::Null),
        ("no token", json!({})),
        ("garbage token", json!({"authorization": "Bearer garbage"})),
        ("tampered token", json!({"authorization": format!("Bearer {tampered}")})),
    ];
    for (case, payload) in cases {
        let (mut ws, got) = init(&app, payload).await;
        assert!(matches!(got, Got::Closed(_)), "{case}: expected the connection to close, got {got:?}");
        // Nothing can be subscribed on it.
        let _ = ws
            .send(Message::Text(
                json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { changes { id } }"}})
                    .to_string()
                    .into(),
            ))
            .await;
        app.customer(&t.token, "Unseen").await;
        assert!(!matches!(next(&mut ws, Duration::from_millis(200)).await, Got::Json(_)), "{case}");
    }
    // The same connection with the real token is accepted.
    let (_ws, got) = init(&app, json!({"authorization": format!("Bearer {}", t.token)})).await;
    assert!(matches!(&got, Got::Json(m) if m["type"] == "connection_ack"), "{got:?}");
}

/// A second server: the `isp api` binary in its own process, on the database and data
/// directory of `app` (so it shares the tables and the token key).
struct ApiProcess {
    base: String,
    /// Killed when dropped.
    _child: tokio::process::Child,
}

impl ApiProcess {
    async fn start(app: &TestApp) -> Self {
        let (child, base) = crate::spawn_isp(&["api"], app.data_dir(), true).await;
        Self { base, _child: child }
    }
}

/// Subscribes to every change on `base` as the holder of `token`, and waits for the ack.
pub(crate) async fn subscriber(base: &str, token: &str) -> Ws {
    let mut ws = connect_to(base).await;
    send(&mut ws, json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}})).await;
    let got = next(&mut ws, Duration::from_secs(5)).await;
    assert!(matches!(&got, Got::Json(m) if m["type"] == "connection_ack"), "{got:?}");
    send(
        &mut ws,
        json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { changes { kind id } }"}}),
    )
    .await;
    ws
}

/// Two processes on one database (SQLite file or PostgreSQL): changes made through the first
/// reach `changes` subscribers of the second, through the `events` table and the second's
/// relay, each subscriber getting only what its role may read; and the reference graphql-ws
/// client, subscribed on the second, sees a customer created through the first.
#[tokio::test]
async fn changes_reach_subscribers_of_another_process_on_the_same_database() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let engineer = app.staff(&t, "ENGINEER").await;
    let other = app.tenant().await;
    let b = ApiProcess::start(&app).await;
    let mut owner_ws = subscriber(&b.base, &t.token).await;
    let mut engineer_ws = subscriber(&b.base, &engineer.token).await;

    // The subscriptions start asynchronously: poke with plan changes until one arrives.
    let mut live = false;
    for i in 0..50 {
        app.plan(&t.token, &format!("Probe {i}"), &["PPPOE"]).await;
        if next_change(&mut owner_ws, &[], Duration::from_millis(300)).await.is_some() {
            live = true;
            break;
        }
    }
    assert!(live, "no change made through the first process reached the second");
    while next_change(&mut engineer_ws, &[], Duration::from_millis(300)).await.is_some() {}
    while next_change(&mut owner_ws, &[], Duration::from_millis(300)).await.is_some() {}

    // Another tenant's change first: it must not arrive.
    app.customer(&other.token, "Someone else's").await;
    let customer = app.customer(&t.token, "Cross Process").await;
    let change = next_change(&mut owner_ws, &[], Duration::from_secs(5)).await.expect("the customer change");
    assert_eq!(change, json!({"kind": "CUSTOMER", "id": customer}), "only the subscriber's tenant");

    // A payment: the owner sees it, the engineer (who may not read payments) does not.
    let pay = app
        .ok(
            &t.token,
            "mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { id } }",
            json!({"i": {"customerId": customer, "amountMinor": 1500, "method": "CASH"}}),
        )
        .await["recordPayment"]["id"]
        .clone();
    let change = next_change(&mut owner_ws, &[], Duration::from_secs(5)).await.expect("the payment");
    assert_eq!(change, json!({"kind": "PAYMENT", "id": pay}));
    let plan = app.plan(&t.token, "After the payment", &["PPPOE"]).await;
    let seen = next_change(&mut engineer_ws, &["CUSTOMER"], Duration::from_secs(5)).await.expect("the plan");
    assert_eq!(seen, json!({"kind": "PLAN", "id": plan}), "the engineer sees the plan, not the payment");

    // The reference client (graphql-ws) on the second process, the mutation on the first.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/graphql-js");
    if !dir.join("node_modules/graphql-ws").exists() {
        assert!(std::env::var_os("CI").is_none(), "graphql-ws missing: run `npm ci --prefix tests/interop/graphql-js`");
        return;
    }
    let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let out = tokio::process::Command::new("node")
        .arg(dir.join("check.mjs"))
        .args([&app.base, &t.slug, &t.email, &t.password])
        .arg(schema)
        .arg(&b.base)
        .output()
        .await
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "graphql-ws across processes failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ok   subscription delivers the change"), "{stdout}");
    drop(b);
}

/// The helpdesk and notifications end to end, across processes: an urgent ticket created on
/// one API process shows its due times, breaches when the clock passes them and escalates
/// once; its public reply arrives at the local SMTP server (aiosmtpd); a suspension SMS the
/// provider refuses is dead-lettered; a `changes` subscriber on a second API process sees the
/// ticket, its escalation, the reply and the dead letter.
#[tokio::test]
async fn a_ticket_breach_reply_and_dead_letter_reach_the_customer_and_another_process() {
    use crate::notifications::{reachable_customer, sms_channel, smtp_channel, tenant_id, worker, Peer};
    use isp_core::clock::Clock;
    let Some(smtp) = Peer::start(&["smtp"]).await else { return };
    let Some(sms) = Peer::start(&["http", "-1"]).await else { return };
    let app = spawn_app_with(|c| {
        c.auth.access_token_ttl_secs = 7 * 24 * 3600;
        c.notify.max_attempts = 1;
    })
    .await;
    let t = app.tenant().await;
    let tid = tenant_id(&app, &t.slug).await;
    smtp_channel(&app, &t.token, smtp.port, json!({})).await;
    sms_channel(&app, &t.token, sms.port).await;
    app.ok(
        &t.token,
        "mutation($i: SlaPolicyInput!) { setSlaPolicy(input: $i) { priority } }",
        json!({"i": {"priority": "URGENT", "firstResponseMinutes": 30, "resolutionMinutes": 240, "businessHours": false}}),
    )
    .await;
    let b = ApiProcess::start(&app).await;
    let mut ws = subscriber(&b.base, &t.token).await;
    let mut live = false;
    for i in 0..50 {
        app.plan(&t.token, &format!("Probe {i}"), &["PPPOE"]).await;
        if next_change(&mut ws, &[], Duration::from_millis(300)).await.is_some() {
            live = true;
            break;
        }
    }
    assert!(live, "no change made through the first process reached the second");
    while next_change(&mut ws, &[], Duration::from_millis(300)).await.is_some() {}
    let skip = ["CUSTOMER", "PLAN", "SUBSCRIPTION"];

    // An urgent ticket: due in 30 minutes (first response) and 4 hours (resolution).
    let c = reachable_customer(&app, &t.token, "Tia Ticket", "tia@customer.test").await;
    let created = app.clock.now();
    let tk = app
        .ok(
            &t.token,
            "mutation($i: CreateTicketInput!) { createTicket(input: $i) { id number firstResponseDue resolutionDue } }",
            json!({"i": {"subject": "No internet since 9am", "body": "The light is red.", "customerId": c,
                         "priority": "URGENT"}}),
        )
        .await["createTicket"]
        .clone();
    let id = tk["id"].clone();
    let due = |f: &str| chrono::DateTime::parse_from_rfc3339(tk[f].as_str().unwrap()).unwrap().timestamp();
    assert_eq!(due("firstResponseDue"), (created + chrono::Duration::minutes(30)).timestamp());
    assert_eq!(due("resolutionDue"), (created + chrono::Duration::hours(4)).timestamp());
    let seen = next_change(&mut ws, &skip, Duration::from_secs(5)).await.expect("the new ticket");
    assert_eq!(seen, json!({"kind": "TICKET", "id": id}));

    // Past the first-response target: breached and escalated, once, however often the sweep runs.
    app.clock.advance(chrono::Duration::minutes(31));
    for _ in 0..3 {
        isp_core::scheduler::sweep_helpdesk(&app.ctx).await.unwrap();
    }
    let mut escalations = 0;
    while let Some(c) = next_change(&mut ws, &skip, Duration::from_secs(2)).await {
        if c == json!({"kind": "TICKET_ESCALATED", "id": id}) {
            escalations += 1;
        }
    }
    assert_eq!(escalations, 1);
    let d = app.ok(&t.token, "query($id: ID!) { ticket(id: $id) { breached escalatedAt } }", json!({"id": id})).await;
    assert_eq!(d["ticket"]["breached"], true);
    assert!(d["ticket"]["escalatedAt"].is_string());

    // The public reply reaches the customer's mailbox, after the acknowledgement of the ticket.
    app.ok(
        &t.token,
        "mutation($id: ID!) { replyTicket(id: $id, body: \"A technician is on the way.\") { id } }",
        json!({"id": id}),
    )
    .await;
    let seen = next_change(&mut ws, &skip, Duration::from_secs(5)).await.expect("the reply");
    assert_eq!(seen, json!({"kind": "TICKET", "id": id}));
    worker(&app, tid).drain().await.unwrap();
    let mails = smtp.wait(2).await;
    let number = tk["number"].as_i64().unwrap().to_string();
    for (m, says) in mails.iter().zip(["The light is red.", "A technician is on the way."]) {
        assert_eq!(m["rcpt_tos"], json!(["tia@customer.test"]));
        let subject = m["mail"]["headers"]["Subject"].as_str().unwrap();
        assert!(subject.contains(&number), "the ticket number in {subject:?}");
        assert!(m["mail"]["body"].as_str().unwrap().contains(says), "{m:#}");
    }

    // A suspension SMS the provider refuses: dead after its one attempt, announced.
    let plan = app.plan(&t.token, "Ticket plan", &["PPPOE"]).await;
    let sub = app.subscription(&t.token, &c, &plan, &format!("tia{}", unique()), "ACTIVE").await;
    app.ok(
        &t.token,
        "mutation($id: ID!) { changeSubscriptionStatus(id: $id, status: SUSPENDED) { status } }",
        json!({"id": sub}),
    )
    .await;
    let done = worker(&app, tid).drain().await.unwrap();
    assert!(done.iter().any(|(_, o)| matches!(o, isp_core::delivery::Outcome::Dead(_))), "{done:?}");
    let dead = app.ok(&t.token, "{ notifications(status: DEAD) { nodes { id event channel } } }", json!({})).await
        ["notifications"]["nodes"][0]
        .clone();
    assert_eq!((dead["event"].as_str(), dead["channel"].as_str()), (Some("SUSPENDED"), Some("SMS")), "{dead}");
    let seen = next_change(&mut ws, &skip, Duration::from_secs(5)).await.expect("the dead letter");
    assert_eq!(seen, json!({"kind": "NOTIFICATION_FAILED", "id": dead["id"]}));
    drop(b);
}
