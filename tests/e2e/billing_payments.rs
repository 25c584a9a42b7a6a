//! Payments end to end: allocation, partial payments, credit, refunds, voids and credit
//! notes, statements, gateway webhooks and a payment racing a billing run.

use crate::billing::{minor, plan_priced, run_billing, set_day, settings, sub_from, INVOICE};
use crate::*;
use isp_core::billing::webhooks::sign_hex;
use serde_json::{json, Value};

const RECORD: &str =
    "mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { id receiptNumber amount { amountMinor } \
    allocations { invoiceId amount { amountMinor } } } }";

async fn pay(app: &TestApp, token: &str, customer: &str, amount: i64, extra: Value) -> Value {
    let mut i = json!({"customerId": customer, "amountMinor": amount, "method": "BANK_TRANSFER", "reference": "TRX-1"});
    for (k, v) in extra.as_object().unwrap() {
        i[k] = v.clone();
    }
    app.ok(token, RECORD, json!({"i": i})).await["recordPayment"].clone()
}

async fn invoice(app: &TestApp, token: &str, id: &str) -> Value {
    let q = format!("query($id: ID!) {{ invoice(id: $id) {{ {INVOICE} }} }}");
    app.ok(token, &q, json!({"id": id})).await["invoice"].clone()
}

async fn balance(app: &TestApp, token: &str, customer: &str) -> Value {
    app.ok(
        token,
        "query($c: ID!) { customerBalance(customerId: $c) { balance { amountMinor } outstanding { amountMinor } \
         overdue { amountMinor } credit { amountMinor } } customerStatement(customerId: $c) { kind number amount { amountMinor } balance { amountMinor } } }",
        json!({"c": customer}),
    )
    .await
}

/// Statement's last running balance equals the balance, and the balance equals outstanding minus credit.
fn consistent(b: &Value) -> i64 {
    let bal = minor(&b["customerBalance"]["balance"]);
    assert_eq!(bal, minor(&b["customerBalance"]["outstanding"]) - minor(&b["customerBalance"]["credit"]), "{b:#}");
    let last = b["customerStatement"].as_array().unwrap().last().map_or(0, |e| minor(&e["balance"]));
    assert_eq!(last, bal, "statement disagrees with balance: {b:#}");
    bal
}

#[tokio::test]
async fn payments_pay_oldest_first_keep_overpayments_as_credit_and_refunds_are_bounded() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    set_day(&app, "2024-01-01");
    let plan = plan_priced(&app, &t.token, 1000).await;
    let c = app.customer(&t.token, "Payer").await;
    sub_from(&app, &t.token, &c, &plan, "2024-01-01").await;
    let jan = run_billing(&app, &t.token, "2024-01-01").await[0]["id"].as_str().unwrap().to_string();
    set_day(&app, "2024-02-01");
    let feb = run_billing(&app, &t.token, "2024-02-01").await[0]["id"].as_str().unwrap().to_string();
    assert_eq!(consistent(&balance(&app, &t.token, &c).await), 2000);

    // 1500: January paid, February half paid.
    let p1 = pay(&app, &t.token, &c, 1500, json!({})).await;
    assert_eq!(p1["receiptNumber"], "RCT-2024-00001");
    assert_eq!(invoice(&app, &t.token, &jan).await["status"], "PAID");
    let f = invoice(&app, &t.token, &feb).await;
    assert_eq!((f["status"].as_str(), minor(&f["balance"])), (Some("PARTIALLY_PAID"), 500));

    // 800: February paid, 300 kept as credit, then used by March's invoice.
    let p2 = pay(&app, &t.token, &c, 800, json!({})).await;
    assert_eq!(p2["receiptNumber"], "RCT-2024-00002");
    assert_eq!(invoice(&app, &t.token, &feb).await["status"], "PAID");
    let b = balance(&app, &t.token, &c).await;
    assert_eq!((consistent(&b), minor(&b["customerBalance"]["credit"])), (-300, 300));
    set_day(&app, "2024-03-01");
    let mar = &run_billing(&app, &t.token, "2024-03-01").await[0];
    assert_eq!(
        (mar["status"].as_str(), minor(&mar["paid"]), minor(&mar["balance"])),
        (Some("PARTIALLY_PAID"), 300, 700)
    );
    assert_eq!(consistent(&balance(&app, &t.token, &c).await), 700);

    // Chosen invoices: April's payment goes to March even though it is named explicitly.
    let mar_id = mar["id"].as_str().unwrap();
    let p3 = pay(&app, &t.token, &c, 700, json!({"invoiceIds": [mar_id], "method": "CASH"})).await;
    assert_eq!(p3["allocations"][0]["invoiceId"], mar_id);
    assert_eq!(invoice(&app, &t.token, mar_id).await["status"], "PAID");

    // Refunds: more than the payment is refused; a partial refund reopens the invoice it paid.
    let q = "mutation($p: ID!, $a: Int!) { refundPayment(id: $p, amountMinor: $a, reason: \"duplicate charge\") { refunded { amountMinor } refunds { amount { amountMinor } reason } } }";
    let p3id = p3["id"].as_str().unwrap();
    let r = app.gql(Some(&t.token), q, json!({"p": p3id, "a": 701})).await;
    assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some("amountMinor")), "{r:#}");
    let r = app.ok(&t.token, q, json!({"p": p3id, "a": 200})).await;
    assert_eq!(minor(&r["refundPayment"]["refunded"]), 200);
    let m = invoice(&app, &t.token, mar_id).await;
    assert_eq!((m["status"].as_str(), minor(&m["balance"])), (Some("PARTIALLY_PAID"), 200));
    let r = app.gql(Some(&t.token), q, json!({"p": p3id, "a": 501})).await;
    assert_eq!(code(&r), Some("VALIDATION"), "only 500 is left to refund: {r:#}");
    app.ok(&t.token, q, json!({"p": p3id, "a": 500})).await;
    let b = balance(&app, &t.token, &c).await;
    assert_eq!(consistent(&b), 700);
    let kinds: Vec<&str> =
        b["customerStatement"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["INVOICE", "INVOICE", "PAYMENT", "PAYMENT", "INVOICE", "PAYMENT", "REFUND", "REFUND"]);

    // Bad input.
    let r = app.gql(Some(&t.token), RECORD, json!({"i": {"customerId": c, "amountMinor": 0, "method": "CASH"}})).await;
    assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some("amountMinor")));
    let r = app
        .gql(
            Some(&t.token),
            RECORD,
            json!({"i": {"customerId": c, "amountMinor": 10, "method": "CASH", "invoiceIds": [jan]}}),
        )
        .await;
    assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some("invoiceIds")), "a paid invoice is not open");
}

#[tokio::test]
async fn voiding_an_invoice_issues_a_credit_note_and_frees_its_payments() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    set_day(&app, "2024-05-01");
    let plan = plan_priced(&app, &t.token, 2500).await;
    let c = app.customer(&t.token, "Voided").await;
    sub_from(&app, &t.token, &c, &plan, "2024-05-01").await;
    let inv = run_billing(&app, &t.token, "2024-05-01").await[0]["id"].as_str().unwrap().to_string();
    pay(&app, &t.token, &c, 1000, json!({})).await;
    let q = "mutation($id: ID!) { voidInvoice(id: $id, reason: \"billed in error\") { number kind status originalInvoiceId total { amountMinor } lines { total { amountMinor } } } }";
    let cn = app.ok(&t.token, q, json!({"id": inv})).await["voidInvoice"].clone();
    assert_eq!((cn["number"].as_str(), cn["kind"].as_str()), (Some("CN-2024-00001"), Some("CREDIT_NOTE")));
    assert_eq!((minor(&cn["total"]), cn["originalInvoiceId"].as_str()), (-2500, Some(inv.as_str())));
    assert_eq!(minor(&cn["lines"][0]["total"]), -2500);
    assert_eq!(invoice(&app, &t.token, &inv).await["status"], "VOID");
    let b = balance(&app, &t.token, &c).await;
    assert_eq!((consistent(&b), minor(&b["customerBalance"]["credit"])), (-1000, 1000));
    let r = app.gql(Some(&t.token), q, json!({"id": inv})).await;
    assert_eq!(code(&r), Some("CONFLICT"), "already void: {r:#}");
}

#[tokio::test]
async fn a_payment_racing_a_billing_run_is_applied_exactly_once() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    set_day(&app, "2024-01-01");
    let plan = plan_priced(&app, &t.token, 1000).await;
    let mut customers = Vec::new();
    for i in 0..5 {
        let c = app.customer(&t.token, &format!("Racer {i}")).await;
        sub_from(&app, &t.token, &c, &plan, "2024-01-01").await;
        customers.push(c);
    }
    let run = run_billing(&app, &t.token, "2024-01-01");
    let pays = futures::future::join_all(customers.iter().map(|c| pay(&app, &t.token, c, 1200, json!({}))));
    let (invoices, _) = tokio::join!(run, pays);
    assert_eq!(invoices.len(), 5);
    for c in &customers {
        // Whichever came first, the invoice is paid once and 200 is left as credit.
        let b = balance(&app, &t.token, c).await;
        assert_eq!((consistent(&b), minor(&b["customerBalance"]["credit"])), (-200, 200), "{b:#}");
    }
    let d =
        app.ok(&t.token, "{ invoices(first: 10) { edges { node { status paid { amountMinor } } } } }", json!({})).await;
    for e in d["invoices"]["edges"].as_array().unwrap() {
        assert_eq!((e["node"]["status"].as_str(), minor(&e["node"]["paid"])), (Some("PAID"), 1000));
    }
}

/// POSTs a webhook to `/webhooks/payments/{provider}?tenant={slug}`; its status and JSON body.
pub async fn webhook(
    app: &TestApp,
    provider: &str,
    slug: &str,
    body: &str,
    headers: &[(&str, String)],
) -> (u16, Value) {
    let mut req = app
        .client
        .post(format!("{}/webhooks/payments/{provider}?tenant={slug}", app.base))
        .header("content-type", "application/json")
        .body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Configures payment gateway `provider` with `scheme` and `secret`; the gateway as returned.
pub async fn gateway(app: &TestApp, token: &str, provider: &str, scheme: &str, secret: &str) -> Value {
    app.ok(
        token,
        "mutation($i: PaymentGatewayInput!) { setPaymentGateway(input: $i) { provider scheme createdAt updatedAt } }",
        json!({"i": {"provider": provider, "scheme": scheme, "secret": secret}}),
    )
    .await["setPaymentGateway"]
        .clone()
}

#[tokio::test]
async fn gateway_webhooks_are_verified_and_idempotent() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    set_day(&app, "2024-01-01");
    let secret = "whsec_0123456789abcdef";
    let plan = plan_priced(&app, &t.token, 1000).await;
    let c = app.customer(&t.token, "Online payer").await;
    sub_from(&app, &t.token, &c, &plan, "2024-01-01").await;
    let account = app.ok(&t.token, "query($c: ID!) { customer(id: $c) { accountNumber } }", json!({"c": c})).await
        ["customer"]["accountNumber"]
        .as_str()
        .unwrap()
        .to_string();
    let inv = run_billing(&app, &t.token, "2024-01-01").await[0]["id"].as_str().unwrap().to_string();

    let generic = json!({"id": "evt-1", "type": "payment.succeeded", "accountNumber": account, "amountMinor": 400,
                         "currency": "USD", "reference": "ch_1"})
    .to_string();
    let sig = |body: &str| format!("sha256={}", sign_hex(secret, body.as_bytes()));
    // No gateway configured yet: no such endpoint.
    assert_eq!(webhook(&app, "acme", &t.slug, &generic, &[("x-signature", sig(&generic))]).await.0, 404);
    gateway(&app, &t.token, "acme", "HMAC_SHA256", secret).await;
    gateway(&app, &t.token, "stripe", "STRIPE", secret).await;
    // Wrong signature, missing signature, unknown tenant.
    assert_eq!(
        webhook(&app, "acme", &t.slug, &generic, &[("x-signature", format!("sha256={}", "0".repeat(64)))]).await.0,
        401
    );
    assert_eq!(webhook(&app, "acme", &t.slug, &generic, &[]).await.0, 401);
    assert_eq!(webhook(&app, "acme", "no-such-tenant", &generic, &[("x-signature", sig(&generic))]).await.0, 404);
    // Valid, then replayed: one payment.
    let (s, body) = webhook(&app, "acme", &t.slug, &generic, &[("x-signature", sig(&generic))]).await;
    assert_eq!((s, body["status"].as_str()), (200, Some("recorded")), "{body}");
    let (s, body) = webhook(&app, "acme", &t.slug, &generic, &[("x-signature", sig(&generic))]).await;
    assert_eq!((s, body["status"].as_str()), (200, Some("duplicate")));

    // Stripe style with a timestamp inside the tolerance window.
    let stripe = json!({"id": "evt_stripe_1", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_1",
                        "amount_received": 600, "currency": "usd", "metadata": {"account_number": account}}}})
    .to_string();
    let ts = app.ctx.clock.now().timestamp();
    let header = |at: i64| format!("t={at},v1={}", sign_hex(secret, format!("{at}.{stripe}").as_bytes()));
    assert_eq!(
        webhook(&app, "stripe", &t.slug, &stripe, &[("stripe-signature", header(ts - 3600))]).await.0,
        401,
        "stale"
    );
    let (s, body) = webhook(&app, "stripe", &t.slug, &stripe, &[("stripe-signature", header(ts - 10))]).await;
    assert_eq!((s, body["status"].as_str()), (200, Some("recorded")), "{body}");
    let (_, body) = webhook(&app, "stripe", &t.slug, &stripe, &[("stripe-signature", header(ts))]).await;
    assert_eq!(body["status"], "duplicate");

    let d = app
        .ok(&t.token, "query($c: ID!) { payments(customerId: $c) { edges { node { method reference amount { amountMinor } } } } }", json!({"c": c}))
        .await;
    let got: Vec<(String, i64)> = d["payments"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["node"]["reference"].as_str().unwrap().to_string(), minor(&e["node"]["amount"])))
        .collect();
    assert_eq!(got, vec![("stripe:pi_1".to_string(), 600), ("acme:ch_1".to_string(), 400)]);
    assert_eq!(invoice(&app, &t.token, &inv).await["status"], "PAID");
}

#[tokio::test]
async fn drafts_stay_out_of_balances_dunning_and_reports_until_issued() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    set_day(&app, "2024-01-01");
    settings(&app, &t.token, json!({"draftInvoices": true, "paymentTermsDays": 10})).await;
    let d = app.ok(&t.token, "{ billingSettings { draftInvoices } }", json!({})).await;
    assert_eq!(d["billingSettings"]["draftInvoices"], true);
    let plan = plan_priced(&app, &t.token, 1000).await;
    let mut cs = Vec::new();
    for name in ["Draft A", "Draft B", "Draft C"] {
        let c = app.customer(&t.token, name).await;
        sub_from(&app, &t.token, &c, &plan, "2024-01-01").await;
        cs.push(c);
    }
    let (a, b, c) = (&cs[0], &cs[1], &cs[2]);
    pay(&app, &t.token, a, 1500, json!({})).await; // nothing open yet: all of it is credit

    let q = format!(
        "mutation {{ runBilling(asOf: \"2024-01-01\") {{ drafts invoiceCount invoices(first: 10) {{ edges {{ node {{ {INVOICE} customer {{ id }} }} }} }} }} }}"
    );
    let r = app.ok(&t.token, &q, json!({})).await["runBilling"].clone();
    assert_eq!((r["drafts"].as_bool(), r["invoiceCount"].as_i64()), (Some(true), Some(3)));
    let draft_of = |customer: &str| {
        let e = r["invoices"]["edges"].as_array().unwrap().iter().find(|e| e["node"]["customer"]["id"] == customer);
        e.unwrap()["node"].clone()
    };
    let (da, db, dc) = (draft_of(a), draft_of(b), draft_of(c));
    for d in [&da, &db, &dc] {
        assert_eq!((d["status"].as_str(), d["number"].as_str(), minor(&d["total"])), (Some("DRAFT"), None, 1000));
        assert_eq!(minor(&d["paid"]), 0, "credit waits for the invoice to be issued");
    }
    // A draft claims its cycle: running again makes no second draft.
    assert!(run_billing(&app, &t.token, "2024-01-01").await.is_empty());

    // Outside balances, statements, allocation, dunning and reports.
    let bal = balance(&app, &t.token, b).await;
    assert_eq!((consistent(&bal), minor(&bal["customerBalance"]["outstanding"])), (0, 0));
    assert!(bal["customerStatement"].as_array().unwrap().is_empty());
    let bal = balance(&app, &t.token, a).await;
    assert_eq!((consistent(&bal), minor(&bal["customerBalance"]["credit"])), (-1500, 1500));
    let r = app
        .gql(
            Some(&t.token),
            RECORD,
            json!({"i": {"customerId": b, "amountMinor": 10, "method": "CASH", "invoiceIds": [db["id"]]}}),
        )
        .await;
    assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some("invoiceIds")), "a draft is not open: {r:#}");
    let dun = app
        .ok(&t.token, "mutation { runDunning(asOf: \"2024-03-01\") { reminders overdue suspended } }", json!({}))
        .await;
    assert_eq!(dun["runDunning"], json!({"reminders": 0, "overdue": 0, "suspended": 0}));
    let rep = app
        .ok(
            &t.token,
            "{ billingReport(from: \"2024-01-01\", to: \"2024-01-31\", asOf: \"2024-03-01\") { collections { invoiced { amountMinor } } ageing { total { amountMinor } } revenueByPlan { lines } } }",
            json!({}),
        )
        .await;
    let invoiced: i64 =
        rep["billingReport"]["collections"].as_array().unwrap().iter().map(|m| minor(&m["invoiced"])).sum();
    assert_eq!((invoiced, minor(&rep["billingReport"]["ageing"]["total"])), (0, 0));
    assert!(rep["billingReport"]["revenueByPlan"].as_array().unwrap().is_empty());

    // Issuing is role-checked like runBilling.
    let support = app.staff(&t, "SUPPORT").await;
    let issue = format!("mutation($ids: [ID!]!) {{ issueInvoices(ids: $ids) {{ {INVOICE} }} }}");
    let r = app.gql(Some(&support.token), &issue, json!({"ids": [da["id"]]})).await;
    assert_eq!(code(&r), Some("FORBIDDEN"), "{r:#}");

    // Issued two days later, in the order given: numbered then, dated then, credit applied.
    set_day(&app, "2024-01-03");
    let issued = app.ok(&t.token, &issue, json!({"ids": [db["id"], da["id"]]})).await["issueInvoices"].clone();
    let got: Vec<(String, String, String, String, i64)> = issued
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let s = |f: &str| i[f].as_str().unwrap().to_string();
            (s("number"), s("status"), s("issueDate"), s("dueDate"), minor(&i["paid"]))
        })
        .collect();
    let row = |n: &str, s: &str, paid| {
        (n.to_string(), s.to_string(), "2024-01-03".to_string(), "2024-01-13".to_string(), paid)
    };
    assert_eq!(got, vec![row("INV-2024-00001", "ISSUED", 0), row("INV-2024-00002", "PAID", 1000)]);
    assert_eq!(consistent(&balance(&app, &t.token, b).await), 1000);
    let bal = balance(&app, &t.token, a).await;
    assert_eq!((consistent(&bal), minor(&bal["customerBalance"]["credit"])), (-500, 500));
    let r = app.gql(Some(&t.token), &issue, json!({"ids": [da["id"]]})).await;
    assert_eq!((code(&r), field(&r)), (Some("CONFLICT"), Some("ids")), "issued twice: {r:#}");
    let log = app
        .ok(
            &t.token,
            "{ auditLog(first: 10, filter: {actionPrefix: \"invoice.issue\"}) { nodes { details } } }",
            json!({}),
        )
        .await;
    assert_eq!(log["auditLog"]["nodes"].as_array().unwrap().len(), 2);

    // A draft can be deleted (its cycle is billed again by the next run) or voided without a
    // credit note; an issued invoice can only be voided.
    let del = "mutation($id: ID!) { deleteInvoice(id: $id) }";
    assert_eq!(app.ok(&t.token, del, json!({"id": dc["id"]})).await["deleteInvoice"], dc["id"]);
    assert_eq!(
        app.ok(&t.token, "query($id: ID!) { invoice(id: $id) { id } }", json!({"id": dc["id"]})).await["invoice"],
        Value::Null
    );
    let again = run_billing(&app, &t.token, "2024-01-03").await;
    assert_eq!((again.len(), again[0]["status"].as_str(), minor(&again[0]["total"])), (1, Some("DRAFT"), 1000));
    let void = "mutation($id: ID!) { voidInvoice(id: $id, reason: \"not needed\") { kind status number } }";
    let v = app.ok(&t.token, void, json!({"id": again[0]["id"]})).await;
    assert_eq!(v["voidInvoice"], json!({"kind": "INVOICE", "status": "VOID", "number": null}));
    let notes = app.ok(&t.token, "{ invoices(kind: CREDIT_NOTE) { edges { node { id } } } }", json!({})).await;
    assert!(notes["invoices"]["edges"].as_array().unwrap().is_empty());
    let r = app.gql(Some(&t.token), del, json!({"id": da["id"]})).await;
    assert_eq!((code(&r), field(&r)), (Some("CONFLICT"), Some("id")), "{r:#}");

    // Drafts off: the next run issues at once and the numbering carries on without a gap.
    settings(&app, &t.token, json!({"draftInvoices": false})).await;
    set_day(&app, "2024-02-01");
    let mut numbers: Vec<String> = run_billing(&app, &t.token, "2024-02-01")
        .await
        .iter()
        .map(|i| i["number"].as_str().unwrap().to_string())
        .collect();
    numbers.sort();
    assert_eq!(numbers, vec!["INV-2024-00003", "INV-2024-00004", "INV-2024-00005"]);
}
