//! Customer notifications against real peers: Python's aiosmtpd receives the emails (their
//! headers, body and PDF attachment are read back with Python's email package), a Python
//! HTTP server stands in for the SMS provider. A billing run, a payment and a quota crossing
//! make messages arrive; a failing provider is retried with backoff and dead-lettered; an
//! accepted message is never sent again; quiet hours defer; an opt-out suppresses.
//!
//! A missing peer (python3 with aiosmtpd) skips the test with a notice, except under `CI`.

use crate::radius::*;
use crate::radius_acct::acct;
use crate::*;
use chrono::Duration as ChronoDuration;
use isp_core::clock::Clock;
use isp_core::delivery::{Outcome, Worker};
use isp_core::patch::Patch;
use isp_core::store::notifications::{self as store, LogFilter, Notification, NotifyStatus};
use isp_core::store::page::PageArgs;
use isp_core::store::plans::PlanInput;
use isp_core::workflows::customers::{self, CustomerPatch};
use isp_radiusd::dictionary::acct_status_type;
use serde_json::{json, Value};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const PEERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/notify/peers.py");

/// A running Python peer and what it received, one JSON value per message or request.
pub(crate) struct Peer {
    _child: Child,
    pub(crate) port: u16,
    seen: Arc<Mutex<Vec<Value>>>,
}

impl Peer {
    /// Starts `peers.py args`; None (a notice, or a failure under `CI`) without python3 and aiosmtpd.
    pub(crate) async fn start(args: &[&str]) -> Option<Peer> {
        let probe = Command::new("python3").args(["-c", "import aiosmtpd"]).output().await;
        if !probe.is_ok_and(|o| o.status.success()) {
            assert!(std::env::var_os("CI").is_none(), "interop peer python3 with aiosmtpd is missing (CI requires it)");
            eprintln!("NOTICE: skipping: interop peer python3 with aiosmtpd is not installed (pip: aiosmtpd)");
            return None;
        }
        let mut child = Command::new("python3")
            .arg(PEERS)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start peers.py");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await.unwrap().unwrap().unwrap();
        let port = serde_json::from_str::<Value>(&first).unwrap()["port"].as_u64().unwrap() as u16;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        tokio::spawn(async move {
            while let Ok(Some(l)) = lines.next_line().await {
                sink.lock().unwrap().push(serde_json::from_str(&l).unwrap());
            }
        });
        Some(Peer { _child: child, port, seen })
    }

    /// What arrived so far, once `n` items have (panics after 10 s), or after a short wait
    /// when `n` is 0 or as many as already arrived.
    pub(crate) async fn wait(&self, n: usize) -> Vec<Value> {
        for _ in 0..200 {
            if self.seen.lock().unwrap().len() >= n.max(1) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The peer prints before it answers: what an answered request sent is already here.
        let got = self.seen.lock().unwrap().clone();
        assert!(got.len() >= n, "expected {n} at the peer, got {}: {got:#?}", got.len());
        got
    }
}

pub(crate) async fn tenant_id(app: &TestApp, slug: &str) -> i64 {
    isp_core::store::tenants::by_slug(&app.ctx.db, slug).await.unwrap().unwrap().id
}

pub(crate) fn worker(app: &TestApp, tenant: i64) -> Worker {
    Worker::new(app.ctx.clone(), isp_api::pdf::attachments()).only_tenant(tenant)
}

async fn log(app: &TestApp, tenant: i64) -> Vec<Notification> {
    let args = PageArgs { first: Some(100), ..Default::default() };
    store::list(&app.ctx.db, tenant, LogFilter::default(), &args).await.unwrap().items
}

const SET_CHANNEL: &str =
    "mutation($i: NotificationChannelInput!) { setNotificationChannel(input: $i) { channel enabled hasSecret } }";

pub(crate) async fn smtp_channel(app: &TestApp, token: &str, port: u16, extra: Value) {
    let mut i = json!({"channel": "EMAIL", "enabled": true, "provider": "SMTP", "host": "127.0.0.1", "port": port,
        "security": "NONE", "sender": "billing@isp.test", "senderName": "Test ISP Billing",
        "replyTo": "help@isp.test", "username": "isp", "secret": "smtp-password"});
    i.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let d = app.ok(token, SET_CHANNEL, json!({"i": i})).await;
    assert_eq!(d["setNotificationChannel"]["hasSecret"], true);
}

pub(crate) async fn sms_channel(app: &TestApp, token: &str, port: u16) {
    let i = json!({"channel": "SMS", "enabled": true, "provider": "TWILIO", "username": "AC123",
        "secret": "twilio-token", "sender": "+15550199",
        "url": format!("http://127.0.0.1:{port}/2010-04-01/Accounts/AC123/Messages.json")});
    app.ok(token, SET_CHANNEL, json!({"i": i})).await;
}

/// A customer with an email address and a phone number; its global ID.
pub(crate) async fn reachable_customer(app: &TestApp, token: &str, name: &str, email: &str) -> String {
    let d = app
        .ok(
            token,
            "mutation($n: String!, $e: String) { createCustomer(input: {name: $n, email: $e, phone: \"+15550100\"}) { id } }",
            json!({"n": name, "e": email}),
        )
        .await;
    d["createCustomer"]["id"].as_str().unwrap().to_string()
}

const PAY: &str =
    "mutation($c: ID!, $a: Int!) { recordPayment(input: {customerId: $c, amountMinor: $a, method: CASH}) { id receiptNumber } }";

#[tokio::test]
async fn a_billing_run_emails_the_invoice_pdf_and_a_payment_its_receipt() {
    let Some(smtp) = Peer::start(&["smtp"]).await else { return };
    let app = spawn_app().await;
    let t = app.tenant().await;
    let tid = tenant_id(&app, &t.slug).await;
    smtp_channel(&app, &t.token, smtp.port, json!({})).await;
    let plan = app.plan(&t.token, "Mail plan", &["PPPOE"]).await;
    let c = reachable_customer(&app, &t.token, "Ana Notified", "ana@customer.test").await;
    app.subscription(&t.token, &c, &plan, &format!("ana{}", unique()), "ACTIVE").await;

    let run = app.ok(&t.token, "mutation { runBilling { invoiceCount } }", json!({})).await;
    assert_eq!(run["runBilling"]["invoiceCount"], 1);
    let done = worker(&app, tid).drain().await.unwrap();
    assert!(matches!(done.as_slice(), [(_, Outcome::Sent(_))]), "{done:?}");
    let got = smtp.wait(1).await;
    let m = &got[0];
    assert_eq!(m["rcpt_tos"], json!(["ana@customer.test"]));
    assert_eq!(m["mail_from"], "billing@isp.test");
    assert_eq!(m["auth"], "isp", "logged in with the channel's (decrypted) password");
    let h = &m["mail"]["headers"];
    assert_eq!(h["From"], "Test ISP Billing <billing@isp.test>");
    assert_eq!(h["To"], "ana@customer.test");
    assert_eq!(h["Reply-To"], "help@isp.test");
    let subject = h["Subject"].as_str().unwrap();
    assert!(subject.starts_with("Invoice ") && subject.ends_with(" from Test ISP"), "{subject}");
    assert!(h["Message-ID"].as_str().unwrap().starts_with("<invoice."), "{h}");
    let body = m["mail"]["body"].as_str().unwrap();
    assert!(body.starts_with("Hello Ana Notified,"), "{body}");
    assert!(body.contains("29.99 USD"), "the amount in the tenant's currency: {body}");
    let files = m["mail"]["attachments"].as_array().unwrap();
    assert_eq!(files.len(), 1, "the invoice PDF: {m:#}");
    assert_eq!(files[0]["content_type"], "application/pdf");
    assert_eq!(b64_decode(files[0]["head"].as_str().unwrap())[..5], *b"%PDF-");
    assert!(files[0]["filename"].as_str().unwrap().ends_with(".pdf"));

    // The payment and its receipt commit together; the receipt arrives.
    let p = app.ok(&t.token, PAY, json!({"c": c, "a": 2999})).await;
    let receipt = p["recordPayment"]["receiptNumber"].as_str().unwrap().to_string();
    worker(&app, tid).drain().await.unwrap();
    let got = smtp.wait(2).await;
    let r = &got[1]["mail"];
    assert_eq!(r["headers"]["Subject"], format!("Receipt {receipt}: payment received"));
    assert!(r["body"].as_str().unwrap().contains("we received your payment of 29.99 USD"), "{r:#}");
    assert_eq!(r["attachments"], json!([]));

    // The log per customer, newest first, with the provider's acceptance.
    let d = app
        .ok(
            &t.token,
            "query($c: ID) { notifications(customerId: $c, first: 10) { totalCount nodes { event channel status attempts recipient subject providerMessageId customer { name } } } }",
            json!({"c": c}),
        )
        .await;
    let nodes = d["notifications"]["nodes"].as_array().unwrap();
    assert_eq!(d["notifications"]["totalCount"], 2);
    assert_eq!(nodes[0]["event"], "PAYMENT_RECEIVED");
    assert_eq!(nodes[1]["event"], "INVOICE_ISSUED");
    for n in nodes {
        assert_eq!(n["status"], "SENT");
        assert_eq!(n["attempts"], 1);
        assert_eq!(n["recipient"], "ana@customer.test");
        assert_eq!(n["customer"]["name"], "Ana Notified");
        assert!(n["providerMessageId"].as_str().unwrap().contains("queued as TEST"), "{n}");
    }
    // Nothing is left to send, and nothing is sent twice.
    assert!(worker(&app, tid).drain().await.unwrap().is_empty());
    assert_eq!(smtp.wait(2).await.len(), 2);
}

#[tokio::test]
async fn smtp_never_falls_back_to_plain_text_and_dotted_lines_arrive_intact() {
    let Some(smtp) = Peer::start(&["smtp"]).await else { return };
    let app = spawn_app_with(|c| c.notify.backoff_ms = 1_000).await;
    let t = app.tenant().await;
    let tid = tenant_id(&app, &t.slug).await;
    // The sink offers no STARTTLS: a channel that requires it sends nothing.
    smtp_channel(&app, &t.token, smtp.port, json!({"security": "STARTTLS"})).await;
    let c = reachable_customer(&app, &t.token, "Dot Reader", "dot@customer.test").await;
    app.ok(&t.token, PAY, json!({"c": c, "a": 1500})).await;
    let first = worker(&app, tid).drain().await.unwrap();
    assert!(matches!(first.as_slice(), [(_, Outcome::Failed(e))] if e.contains("STARTTLS")), "{first:?}");

    // In plain text (the sink is on the loopback), a body whose lines start with dots: the
    // content is dot-stuffed on the wire and arrives as written, the end-of-data line after it.
    smtp_channel(&app, &t.token, smtp.port, json!({"security": "NONE"})).await;
    let body = "Thanks {{ customer.name }}.\n.\n..two\n.one\nend.";
    let i = json!({"event": "PAYMENT_RECEIVED", "channel": "EMAIL", "language": "en",
        "subject": "Paid", "body": body});
    app.ok(
        &t.token,
        "mutation($i: NotificationTemplateInput!) { saveNotificationTemplate(input: $i) { id } }",
        json!({"i": i}),
    )
    .await;
    app.clock.advance(ChronoDuration::seconds(2));
    let second = worker(&app, tid).drain().await.unwrap();
    assert!(matches!(second.as_slice(), [(_, Outcome::Sent(_))]), "{second:?}");
    let got = smtp.wait(1).await;
    assert_eq!(got.len(), 1);
    let text = got[0]["mail"]["body"].as_str().unwrap().replace("\r\n", "\n");
    assert_eq!(text.trim_end(), "Thanks Dot Reader.\n.\n..two\n.one\nend.", "{:#}", got[0]);
}

fn b64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

#[tokio::test]
async fn reaching_80_percent_of_a_quota_sends_exactly_one_sms() {
    let Some(sink) = Peer::start(&["http"]).await else { return };
    let r = spawn_radius().await;
    sms_channel(&r.app, &r.t.token, sink.port).await;
    let plan = r.plan(PlanInput { data_quota: quota(1_000_000, false), ..base_plan("Cap 1MB sms") }).await;
    let user = format!("quota{}", unique());
    let sub = r.subscriber(plan.id, &user, "pw-123456", |_| {}).await;
    let phone = CustomerPatch { phone: Patch::Set("+15550142".into()), ..Default::default() };
    customers::update(&r.app.ctx, &r.owner(), sub.customer_id, &phone).await.unwrap();

    r.account(acct(acct_status_type::START, &user, "q-1", 0, 0, 0)).await;
    r.account(acct(acct_status_type::INTERIM_UPDATE, &user, "q-1", 300_000, 200_000, 60)).await; // 50 %
    assert!(log(&r.app, r.tenant_id).await.is_empty(), "below 80 %");
    r.account(acct(acct_status_type::INTERIM_UPDATE, &user, "q-1", 500_000, 350_000, 120)).await; // 85 %
    r.account(acct(acct_status_type::INTERIM_UPDATE, &user, "q-1", 500_000, 400_000, 180)).await; // 90 %
    let done = worker(&r.app, r.tenant_id).drain().await.unwrap();
    assert_eq!(done.len(), 1, "{done:?}");
    let got = sink.wait(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.seen.lock().unwrap().len(), 1, "exactly one SMS: {got:#?}");
    let req = &got[0];
    assert_eq!(req["path"], "/2010-04-01/Accounts/AC123/Messages.json");
    let form: Vec<(String, String)> = url_form(req["body"].as_str().unwrap());
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    assert_eq!(field("To"), "+15550142");
    assert_eq!(field("From"), "+15550199");
    assert_eq!(field("Body"), format!("Test ISP: {user} used 80% of its quota (0.8 MB of 1.0 MB)."));
    // Basic auth with the account and the (decrypted) token.
    assert_eq!(req["headers"]["authorization"], format!("Basic {}", b64("AC123:twilio-token")));
    assert_eq!(req["headers"]["i-twilio-idempotency-token"], req["headers"]["idempotency-key"]);
    let n = log(&r.app, r.tenant_id).await;
    assert_eq!((n[0].status, n[0].provider_message_id.as_deref()), (NotifyStatus::Sent, Some("SM000001")));
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// `application/x-www-form-urlencoded` pairs.
fn url_form(body: &str) -> Vec<(String, String)> {
    fn dec(s: &str) -> String {
        let b = s.as_bytes();
        let (mut out, mut i) = (Vec::with_capacity(b.len()), 0);
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                    i += 2;
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8(out).unwrap()
    }
    body.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (dec(k), dec(v))).collect()
}

#[tokio::test]
async fn a_failing_provider_is_retried_with_backoff_then_dead_lettered() {
    let Some(sink) = Peer::start(&["http", "-1"]).await else { return };
    let app = spawn_app_with(|c| {
        c.notify.max_attempts = 3;
        c.notify.backoff_ms = 60_000;
    })
    .await;
    let t = app.tenant().await;
    let tid = tenant_id(&app, &t.slug).await;
    sms_channel(&app, &t.token, sink.port).await;
    let plan = app.plan(&t.token, "Retry plan", &["PPPOE"]).await;
    let c = reachable_customer(&app, &t.token, "Bea Retry", "bea@customer.test").await;
    let sub = app.subscription(&t.token, &c, &plan, &format!("bea{}", unique()), "ACTIVE").await;
    // A staff suspension: an urgent SMS.
    app.ok(
        &t.token,
        "mutation($id: ID!) { changeSubscriptionStatus(id: $id, status: SUSPENDED) { status } }",
        json!({"id": sub}),
    )
    .await;
    let w = worker(&app, tid);
    let first = w.run_once().await.unwrap();
    assert!(matches!(first.as_slice(), [(_, Outcome::Failed(e))] if e.contains("HTTP 500")), "{first:?}");
    let n = &log(&app, tid).await[0];
    assert_eq!((n.status, n.attempts), (NotifyStatus::Failed, 1));
    assert_eq!(n.next_attempt_at, app.ctx.now_ms() + 60_000, "first retry after the base backoff");
    // Not due yet: nothing is sent.
    assert!(w.run_once().await.unwrap().is_empty());
    app.clock.advance(ChronoDuration::seconds(60));
    let second = w.run_once().await.unwrap();
    assert!(matches!(second.as_slice(), [(_, Outcome::Failed(_))]), "{second:?}");
    let n = &log(&app, tid).await[0];
    assert_eq!(n.next_attempt_at, app.ctx.now_ms() + 120_000, "the backoff doubles");
    app.clock.advance(ChronoDuration::seconds(119));
    assert!(w.run_once().await.unwrap().is_empty());
    app.clock.advance(ChronoDuration::seconds(1));
    let mut events = app.ctx.events.subscribe();
    let third = w.run_once().await.unwrap();
    assert!(matches!(third.as_slice(), [(_, Outcome::Dead(_))]), "{third:?}");
    let n = &log(&app, tid).await[0];
    assert_eq!((n.status, n.attempts), (NotifyStatus::Dead, 3));
    // The dead letter is announced once, to this tenant (`changes` kind NOTIFICATION_FAILED).
    let mut announced = Vec::new();
    while let Ok(e) = events.try_recv() {
        announced.push((e.tenant_id, e.kind, e.object_id));
    }
    let failed = (tid, isp_core::events::EventKind::NotificationFailed, n.id);
    assert_eq!(announced.iter().filter(|e| **e == failed).count(), 1, "{announced:?}");
    app.clock.advance(ChronoDuration::minutes(10));
    assert!(w.run_once().await.unwrap().is_empty(), "a dead letter stays dead");
    let got = sink.wait(3).await;
    assert_eq!(got.len(), 3);
    // Every attempt carried the same idempotency key.
    let keys: Vec<&Value> = got.iter().map(|r| &r["headers"]["idempotency-key"]).collect();
    assert!(keys.iter().all(|k| *k == keys[0] && k.as_str().unwrap().ends_with(":SMS")), "{keys:?}");
    // Support staff see the dead letter in the log and may send it again.
    let support = app.staff(&t, "SUPPORT").await;
    let d = app
        .ok(&support.token, "{ notifications(status: DEAD) { nodes { id status lastError attempts } } }", json!({}))
        .await;
    let dead = &d["notifications"]["nodes"][0];
    assert!(dead["lastError"].as_str().unwrap().contains("provider down"), "{dead}");
    let again = app
        .ok(
            &support.token,
            "mutation($id: ID!) { resendNotification(id: $id) { status attempts } }",
            json!({"id": dead["id"]}),
        )
        .await;
    assert_eq!(again["resendNotification"], json!({"status": "QUEUED", "attempts": 0}));
    let cashier = app.staff(&t, "CASHIER").await;
    let r = app
        .gql(
            Some(&cashier.token),
            "mutation($id: ID!) { resendNotification(id: $id) { status } }",
            json!({"id": dead["id"]}),
        )
        .await;
    assert_eq!(code(&r), Some("FORBIDDEN"));
}

#[tokio::test]
async fn a_message_the_provider_accepted_is_never_sent_again() {
    let Some(sink) = Peer::start(&["http", "1"]).await else { return };
    let app = spawn_app_with(|c| c.notify.backoff_ms = 1_000).await;
    let t = app.tenant().await;
    let tid = tenant_id(&app, &t.slug).await;
    sms_channel(&app, &t.token, sink.port).await;
    let plan = app.plan(&t.token, "Once plan", &["PPPOE"]).await;
    let c = reachable_customer(&app, &t.token, "Cid Once", "cid@customer.test").await;
    let sub = app.subscription(&t.token, &c, &plan, &format!("cid{}", unique()), "ACTIVE").await;
    app.ok(
        &t.token,
        "mutation($id: ID!) { changeSubscriptionStatus(id: $id, status: SUSPENDED) { status } }",
        json!({"id": sub}),
    )
    .await;
    let w = worker(&app, tid);
    assert!(matches!(w.run_once().await.unwrap().as_slice(), [(_, Outcome::Failed(_))]));
    app.clock.advance(ChronoDuration::seconds(1));
    assert!(matches!(w.run_once().await.unwrap().as_slice(), [(_, Outcome::Sent(id))] if id == "SM000002"));
    // Later rounds, a second worker, and a clock far past any lease find nothing to send.
    app.clock.advance(ChronoDuration::hours(2));
    assert!(w.run_once().await.unwrap().is_empty());
    assert!(worker(&app, tid).drain().await.unwrap().is_empty());
    // A worker that claimed the message before the acceptance was recorded cannot record
    // it again: its claim no longer matches.
    let n = log(&app, tid).await.remove(0);
    assert_eq!((n.status, n.attempts), (NotifyStatus::Sent, 2));
    let stale = Notification { status: NotifyStatus::Queued, ..n.clone() };
    assert!(!store::mark_sent(&app.ctx.db, &stale, "+1", None, "dup", app.ctx.now_ms()).await.unwrap());
    let got = sink.wait(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.seen.lock().unwrap().len(), 2, "one failed attempt and one accepted: {got:#?}");
    assert_eq!(got[0]["headers"]["idempotency-key"], got[1]["headers"]["idempotency-key"]);
}

#[tokio::test]
async fn quiet_hours_defer_what_is_not_urgent_and_an_opt_out_suppresses() {
    let Some(smtp) = Peer::start(&["smtp"]).await else { return };
    let app = spawn_app().await;
    let t = app.tenant().await;
    let tid = tenant_id(&app, &t.slug).await;
    // Quiet from an hour ago to an hour from now (the tenant's zone is UTC).
    let now = app.clock.now();
    let hhmm = |d: chrono::DateTime<chrono::Utc>| d.format("%H:%M").to_string();
    let (start, end) = (hhmm(now - ChronoDuration::hours(1)), hhmm(now + ChronoDuration::hours(1)));
    smtp_channel(&app, &t.token, smtp.port, json!({"quietStart": start, "quietEnd": end})).await;
    let plan = app.plan(&t.token, "Quiet plan", &["PPPOE"]).await;
    let c = reachable_customer(&app, &t.token, "Dora Quiet", "dora@customer.test").await;
    let sub = app.subscription(&t.token, &c, &plan, &format!("dora{}", unique()), "ACTIVE").await;

    // A receipt waits for the morning; a suspension notice does not.
    app.ok(&t.token, PAY, json!({"c": c, "a": 500})).await;
    app.ok(
        &t.token,
        "mutation($id: ID!) { changeSubscriptionStatus(id: $id, status: SUSPENDED) { status } }",
        json!({"id": sub}),
    )
    .await;
    let w = worker(&app, tid);
    let round = w.run_once().await.unwrap();
    assert_eq!(round.len(), 2, "{round:?}");
    assert!(round.iter().any(|(_, o)| matches!(o, Outcome::Sent(_))), "{round:?}");
    let deferred = round.iter().find_map(|(_, o)| if let Outcome::Deferred(at) = o { Some(*at) } else { None });
    let deferred = deferred.expect("the receipt is deferred");
    let end_at = (now + ChronoDuration::hours(1)).timestamp_millis();
    assert!(deferred <= end_at && deferred > end_at - 60_000, "deferred to the end of quiet hours");
    let got = smtp.wait(1).await;
    assert!(got[0]["mail"]["headers"]["Subject"].as_str().unwrap().contains("suspended"), "{got:#?}");
    let receipt = log(&app, tid).await.into_iter().find(|n| n.status == NotifyStatus::Queued).unwrap();
    assert_eq!(receipt.attempts, 0, "deferring uses no attempt");
    assert!(w.run_once().await.unwrap().is_empty(), "still quiet");
    app.clock.advance(ChronoDuration::minutes(61));
    assert!(matches!(w.run_once().await.unwrap().as_slice(), [(_, Outcome::Sent(_))]));
    // (The owner's access token has expired on the test clock meanwhile.)
    let token = app.login(&t.slug, &t.email, &t.password).await;
    let got = smtp.wait(2).await;
    assert!(got[1]["mail"]["headers"]["Subject"].as_str().unwrap().starts_with("Receipt "));

    // Opted out: the next receipt is logged as skipped and nothing arrives.
    app.ok(
        &token,
        "mutation($c: ID!) { setNotificationPreferences(customerId: $c, input: {language: \"en\", email: true, sms: true, whatsapp: false, optedOut: true}) { optedOut } }",
        json!({"c": c}),
    )
    .await;
    app.ok(&token, PAY, json!({"c": c, "a": 700})).await;
    let round = w.run_once().await.unwrap();
    assert!(matches!(round.as_slice(), [(_, Outcome::Skipped(why))] if why.contains("opted out")), "{round:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.seen.lock().unwrap().len(), 2, "nothing more arrived");
    let d = app
        .ok(
            &token,
            "query($c: ID!) { notificationPreferences(customerId: $c) { optedOut whatsapp language } }",
            json!({"c": c}),
        )
        .await;
    assert_eq!(d["notificationPreferences"], json!({"optedOut": true, "whatsapp": false, "language": "en"}));
}

#[tokio::test]
async fn templates_are_checked_on_save_and_previewed_against_a_real_customer() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    // Every tenant starts with the default templates in English and Spanish.
    let d = app.ok(&t.token, "{ notificationTemplates { id event channel language subject } }", json!({})).await;
    let all = d["notificationTemplates"].as_array().unwrap();
    assert!(all.iter().any(|x| x["event"] == "INVOICE_ISSUED" && x["language"] == "es"), "{all:?}");
    assert!(all.iter().any(|x| x["event"] == "QUOTA_80" && x["channel"] == "SMS"));
    assert!(all.iter().any(|x| x["event"] == "TICKET_REPLIED" && x["channel"] == "EMAIL"));
    const SAVE: &str =
        "mutation($i: NotificationTemplateInput!) { saveNotificationTemplate(input: $i) { id language body } }";
    // A broken template and an unknown variable are VALIDATION errors on the field.
    for (body, subject, field_name) in [
        ("Hi {{ customer.name ", Some("Receipt"), "body"),
        ("Hi {{ invoice.number }}", Some("Receipt"), "body"),
        ("Hi", Some("{% if %}"), "subject"),
        ("Hi", None, "subject"),
    ] {
        let r = app
            .gql(
                Some(&t.token),
                SAVE,
                json!({"i": {"event": "PAYMENT_RECEIVED", "channel": "EMAIL",
                "language": "pt", "subject": subject, "body": body}}),
            )
            .await;
        assert_eq!(code(&r), Some("VALIDATION"), "{body}: {r:#}");
        assert_eq!(field(&r), Some(field_name), "{r:#}");
    }
    let saved = app
        .ok(&t.token, SAVE, json!({"i": {"event": "PAYMENT_RECEIVED", "channel": "EMAIL", "language": "pt",
            "subject": "Recibo {{ payment.receipt }}", "body": "Olá {{ customer.name }}, recebemos {{ payment.amount }}."}}))
        .await;
    assert_eq!(saved["saveNotificationTemplate"]["language"], "pt");
    let c = reachable_customer(&app, &t.token, "Eva Preview", "eva@customer.test").await;
    app.ok(&t.token, PAY, json!({"c": c, "a": 1234})).await;
    let d = app
        .ok(
            &t.token,
            "mutation($c: ID!) { previewNotificationTemplate(input: {event: PAYMENT_RECEIVED, channel: EMAIL, language: \"pt\", customerId: $c}) { subject body } }",
            json!({"c": c}),
        )
        .await;
    let p = &d["previewNotificationTemplate"];
    assert_eq!(p["body"], "Olá Eva Preview, recebemos 12.34 USD.");
    assert!(p["subject"].as_str().unwrap().starts_with("Recibo "), "{p}");
    // The channel's secret is write-only; support may read the log but not configure.
    let support = app.staff(&t, "SUPPORT").await;
    let r = app.gql(Some(&support.token), "{ notificationChannels { channel } }", json!({})).await;
    assert_eq!(code(&r), Some("FORBIDDEN"));
    let r = app.gql(Some(&support.token), "{ notifications { totalCount } }", json!({})).await;
    assert!(r.get("errors").is_none(), "{r:#}");
}

#[tokio::test]
async fn an_outage_is_announced_to_the_customers_behind_a_device() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let tid = tenant_id(&app, &t.slug).await;
    // A channel that is enabled (nothing is delivered in this test).
    smtp_channel(&app, &t.token, 9, json!({})).await;
    let dev = app
        .ok(&t.token, "mutation { createDevice(input: {name: \"core-1\", kind: MIKROTIK, host: \"10.9.9.9\", username: \"u\", password: \"p\", enabled: false}) { id } }", json!({}))
        .await["createDevice"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let plan = app.plan(&t.token, "Outage plan", &["PPPOE"]).await;
    for i in 0..2 {
        let c = reachable_customer(&app, &t.token, &format!("Out {i}"), &format!("out{i}@customer.test")).await;
        app.ok(
            &t.token,
            "mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) { id } }",
            json!({"i": {"customerId": c, "planId": plan, "accessType": "PPPOE", "username": format!("out{i}{}", unique()),
                         "password": "s3cret", "status": "ACTIVE", "deviceId": dev}}),
        )
        .await;
    }
    reachable_customer(&app, &t.token, "Elsewhere", "else@customer.test").await;
    let d = app
        .ok(&t.token, "mutation($d: ID!) { announceOutage(deviceId: $d, starts: \"2026-12-10 01:00\", ends: \"2026-12-10 03:00\", message: \"Firmware upgrade\") }",
            json!({"d": dev}))
        .await;
    assert_eq!(d["announceOutage"], 2);
    let queued = log(&app, tid).await;
    assert_eq!(queued.len(), 2);
    assert!(queued.iter().all(|n| n.event == store::NotifyEvent::PlannedOutage && n.urgent));
    let cashier = app.staff(&t, "CASHIER").await;
    let r = app
        .gql(
            Some(&cashier.token),
            "mutation($d: ID!) { announceOutage(deviceId: $d, starts: \"a\", ends: \"b\", message: \"c\") }",
            json!({"d": dev}),
        )
        .await;
    assert_eq!(code(&r), Some("FORBIDDEN"));
}
