//! Bulk exports over HTTP (`GET /exports/{kind}.{csv|xlsx}`) and from the CLI: the files hold
//! what the GraphQL lists show for the same filters; XLSX is read back with calamine and with
//! Python's openpyxl (typed cells); CSV neutralises formulas; roles, tenants and bad filters.

use crate::billing::{plan_priced, run_billing, set_day, settings, sub_from};
use crate::*;
use calamine::{Data, Reader};
use serde_json::{json, Value};
use std::process::{Command, Stdio};

/// GET `path` with an optional bearer token: status, headers, body.
async fn get(app: &TestApp, path: &str, token: Option<&str>) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = app.client.get(format!("{}{path}", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, headers, r.bytes().await.unwrap().to_vec())
}

/// The rows of a CSV export (header first), checking the status.
async fn csv(app: &TestApp, path: &str, token: &str) -> Vec<Vec<String>> {
    let (status, headers, body) = get(app, path, Some(token)).await;
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    parse_csv(&body)
}

/// RFC 4180 records (the csv crate is the writer under test, so the tests read by hand).
fn parse_csv(body: &[u8]) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(body).expect("UTF-8");
    let (mut out, mut rec, mut field, mut quoted) = (Vec::new(), Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => rec.push(std::mem::take(&mut field)),
            (false, '\r') => assert_eq!(chars.next(), Some('\n'), "CRLF line ends"),
            (false, c) => {
                assert_ne!(c, '\n', "a bare LF outside quotes");
                field.push(c)
            }
        }
        if !quoted && c == '\r' {
            rec.push(std::mem::take(&mut field));
            out.push(std::mem::take(&mut rec));
        }
    }
    assert!(field.is_empty() && rec.is_empty(), "CSV must end with a line break");
    out
}

/// The column of `header` in `rows` (header row first), as text.
fn column(rows: &[Vec<String>], header: &str) -> Vec<String> {
    let i = rows[0].iter().position(|h| h == header).unwrap_or_else(|| panic!("no column {header}: {:?}", rows[0]));
    rows[1..].iter().map(|r| r[i].clone()).collect()
}

/// Node fields of a GraphQL connection.
fn nodes(v: &Value) -> Vec<Value> {
    v["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect()
}

fn strings(v: &[Value], key: &str) -> Vec<String> {
    v.iter().map(|n| n[key].as_str().unwrap_or_default().to_string()).collect()
}

#[tokio::test]
async fn customer_and_subscription_exports_match_the_graphql_lists() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let formula = "=HYPERLINK(\"http://evil.test\",\"x\")";
    for name in ["Zed Silva", "Ana, \"Quoted\"", formula, "-2+3", "@SUM(A1)"] {
        app.customer(&t.token, name).await;
    }
    let archived = app.customer(&t.token, "Archie Archived").await;
    app.ok(&t.token, "mutation($id: ID!) { archiveCustomer(id: $id) { id } }", json!({"id": archived})).await;

    // Default filter and order (all but ARCHIVED, by name), as the list.
    let list = nodes(
        &app.ok(&t.token, "{ customers(first: 100) { edges { node { accountNumber name email } } } }", json!({})).await
            ["customers"],
    );
    let rows = csv(&app, "/exports/customers.csv", &t.token).await;
    assert_eq!(rows[0][..3], ["ID", "Account number", "Name"]);
    assert_eq!(column(&rows, "Account number"), strings(&list, "accountNumber"));
    // Names: formulas are neutralised with a leading apostrophe, nothing else changes.
    let names: Vec<String> = strings(&list, "name")
        .into_iter()
        .map(|n| if n.starts_with(['=', '+', '-', '@']) { format!("'{n}") } else { n })
        .collect();
    assert_eq!(column(&rows, "Name"), names);
    assert!(column(&rows, "Name").contains(&format!("'{formula}")));
    assert!(!column(&rows, "Name").iter().any(|n| n.contains("Archie")));

    // A filter and another order.
    let list = nodes(
        &app.ok(
            &t.token,
            "{ customers(first: 100, filter: {status: [ARCHIVED]}, orderBy: CREATED_AT_DESC) { edges { node { accountNumber } } } }",
            json!({}),
        )
        .await["customers"],
    );
    let rows = csv(&app, "/exports/customers.csv?status=ARCHIVED&orderBy=CREATED_AT_DESC", &t.token).await;
    assert_eq!(column(&rows, "Account number"), strings(&list, "accountNumber"));
    assert_eq!(rows.len(), 2);

    // Subscriptions filtered by plan, with customer account numbers and plan names.
    let p1 = app.plan(&t.token, "Fibre 100", &["PPPOE"]).await;
    let p2 = app.plan(&t.token, "Fibre 300", &["PPPOE"]).await;
    let c = app.customer(&t.token, "Subscriber").await;
    for (i, p) in [&p1, &p2, &p1].iter().enumerate() {
        app.subscription(&t.token, &c, p, &format!("user{i}-{}", unique()), "ACTIVE").await;
    }
    let q = "query($p: ID) { subscriptions(first: 100, filter: {planId: $p}) { edges { node { username customer { accountNumber } plan { name } } } } }";
    let list = nodes(&app.ok(&t.token, q, json!({"p": p1})).await["subscriptions"]);
    let rows = csv(&app, &format!("/exports/subscriptions.csv?planId={p1}"), &t.token).await;
    assert_eq!(column(&rows, "Username"), strings(&list, "username"));
    assert_eq!(list.len(), 2);
    assert!(column(&rows, "Plan").iter().all(|p| p == "Fibre 100"));
    let account = list[0]["customer"]["accountNumber"].as_str().unwrap();
    assert!(column(&rows, "Account number").iter().all(|a| a == account));
    assert!(!rows[0].iter().any(|h| h.to_lowercase().contains("password")));
}

/// Bills a customer (a prorated line and a one-off charge) and records a payment, as the PDF
/// test does; returns the customer's ID.
async fn billed_customer(app: &TestApp, t: &Tenant, name: &str) -> String {
    let plan = plan_priced(app, &t.token, 3100).await;
    let c = app.customer(&t.token, name).await;
    sub_from(app, &t.token, &c, &plan, "2024-01-15").await;
    app.ok(&t.token, "mutation($c: ID!) { addCharge(input: {customerId: $c, description: \"=cmd|' /C calc'!A0\", amountMinor: 2500}) { id } }", json!({"c": c})).await;
    c
}

#[tokio::test]
async fn invoices_and_payments_export_typed_xlsx_read_by_calamine_and_openpyxl() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    set_day(&app, "2024-01-15");
    settings(&app, &t.token, json!({"billingDay": 1})).await;
    let c1 = billed_customer(&app, &t, "Ada Lovelace").await;
    let c2 = billed_customer(&app, &t, "Grace Hopper").await;
    let invoices = run_billing(&app, &t.token, "2024-01-15").await;
    assert_eq!(invoices.len(), 2);
    app.ok(&t.token, "mutation($c: ID!) { recordPayment(input: {customerId: $c, amountMinor: 1000, method: CARD, reference: \"-SLIP\"}) { id } }", json!({"c": c1})).await;

    // CSV: one row per invoice line, invoices in the list's order, filtered as the list.
    let q = "query($c: ID) { invoices(first: 100, customerId: $c) { edges { node { number total { amountMinor } lines { description } } } } }";
    let list = nodes(&app.ok(&t.token, q, json!({"c": null})).await["invoices"]);
    let rows = csv(&app, "/exports/invoices.csv", &t.token).await;
    let want: Vec<String> = list
        .iter()
        .flat_map(|i| {
            std::iter::repeat_n(i["number"].as_str().unwrap().to_string(), i["lines"].as_array().unwrap().len())
        })
        .collect();
    assert_eq!(column(&rows, "Number"), want);
    assert!(column(&rows, "Description").contains(&"'=cmd|' /C calc'!A0".to_string()), "{rows:?}");
    let totals: Vec<String> = list
        .iter()
        .flat_map(|i| {
            let total = format!("{:.2}", i["total"]["amountMinor"].as_i64().unwrap() as f64 / 100.0);
            std::iter::repeat_n(total, i["lines"].as_array().unwrap().len())
        })
        .collect();
    assert_eq!(column(&rows, "Total (USD)"), totals);
    assert_eq!(column(&rows, "Issue date")[0], "2024-01-15");
    let mine = nodes(&app.ok(&t.token, q, json!({"c": c2})).await["invoices"]);
    let rows = csv(&app, &format!("/exports/invoices.csv?customerId={c2}"), &t.token).await;
    let mut numbers = column(&rows, "Number");
    numbers.dedup();
    assert_eq!(numbers, strings(&mine, "number"));

    // Payments: the cashier may export them; references that look like formulas are neutralised.
    let cashier = app.staff(&t, "CASHIER").await;
    let rows = csv(&app, "/exports/payments.csv", &cashier.token).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(column(&rows, "Reference"), ["'-SLIP"]);
    assert_eq!(column(&rows, "Amount (USD)"), ["10.00"]);

    // XLSX read back with calamine: typed cells.
    let (status, headers, body) = get(&app, "/exports/invoices.xlsx", Some(&t.token)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["content-type"], "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert_eq!(disposition, "attachment; filename=\"invoices-2024-01-15.xlsx\"");
    let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(body.clone())).unwrap();
    let range = book.worksheet_range("invoices").unwrap();
    let sheet: Vec<Vec<Data>> = range.rows().map(|r| r.to_vec()).collect();
    let header: Vec<String> = sheet[0].iter().map(|c| c.to_string()).collect();
    let at = |h: &str| header.iter().position(|x| x == h).unwrap_or_else(|| panic!("no {h} in {header:?}"));
    assert_eq!(sheet.len(), 1 + want.len());
    let first = &sheet[1];
    assert_eq!(first[at("Number")], Data::String(want[0].clone()));
    assert!(matches!(first[at("Invoice ID")], Data::Float(_) | Data::Int(_)), "{:?}", first[at("Invoice ID")]);
    match &first[at("Total (USD)")] {
        Data::Float(v) => assert_eq!(format!("{v:.2}"), totals[0]),
        other => panic!("money must be a number: {other:?}"),
    }
    match &first[at("Issue date")] {
        // 2024-01-15 is serial 45306.
        Data::DateTime(d) => assert_eq!(d.as_f64(), 45_306.0),
        other => panic!("the issue date must be a date: {other:?}"),
    }
    assert!(matches!(first[at("Tax inclusive")], Data::Bool(false)), "{:?}", first[at("Tax inclusive")]);
    let descriptions: Vec<&Data> = sheet[1..].iter().map(|r| &r[at("Description")]).collect();
    assert!(descriptions.contains(&&Data::String("=cmd|' /C calc'!A0".into())), "XLSX keeps text as text");

    // And with openpyxl: dates are datetimes, money numbers with the currency format, the
    // header frozen, an autofilter over the table.
    let script = r#"
import io, json, sys, datetime
import openpyxl
wb = openpyxl.load_workbook(io.BytesIO(sys.stdin.buffer.read()))
ws = wb["invoices"]
head = [c.value for c in ws[1]]
row = [c for c in ws[2]]
col = lambda h: row[head.index(h)]
print(json.dumps({
  "freeze": ws.freeze_panes, "filter": ws.auto_filter.ref, "rows": ws.max_row,
  "issue": [type(col("Issue date").value).__name__, str(col("Issue date").value)],
  "total": [type(col("Total (USD)").value).__name__, col("Total (USD)").value, col("Total (USD)").number_format],
  "formula": any(c.data_type == "f" for r in ws.iter_rows() for c in r),
}))
"#;
    let probe =
        Command::new("python3").args(["-c", "import openpyxl"]).stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !probe.is_ok_and(|s| s.success()) {
        assert!(std::env::var_os("CI").is_none(), "interop peer openpyxl is missing (CI requires it)");
        eprintln!("NOTICE: skipping the openpyxl check: python3 -m pip install openpyxl");
        return;
    }
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["freeze"], "A2", "{r}");
    let last_col = (b'A' + header.len() as u8 - 1) as char;
    assert_eq!(r["filter"], format!("A1:{last_col}{}", 1 + want.len()), "{r}");
    assert_eq!(r["rows"], 1 + want.len() as u64, "{r}");
    assert_eq!(r["issue"], json!(["datetime", "2024-01-15 00:00:00"]), "{r}");
    // A number (openpyxl reads 42.0 as the int 42), not text.
    assert!(r["total"][0] == "float" || r["total"][0] == "int", "{r}");
    assert_eq!(format!("{:.2}", r["total"][1].as_f64().unwrap()), totals[0]);
    assert_eq!(r["total"][2], "#,##0.00 \"USD\"", "{r}");
    assert_eq!(r["formula"], false, "{r}");
}

#[tokio::test]
async fn exports_check_roles_tenants_and_filters() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let secret = format!("Secret Customer {}", unique());
    let c = app.customer(&t.token, &secret).await;

    // No or a bad token: 401. Unknown export or format: 404.
    assert_eq!(get(&app, "/exports/customers.csv", None).await.0, 401);
    assert_eq!(get(&app, "/exports/customers.csv", Some("nope")).await.0, 401);
    assert_eq!(get(&app, "/exports/nosuch.csv", Some(&t.token)).await.0, 404);
    assert_eq!(get(&app, "/exports/customers.pdf", Some(&t.token)).await.0, 404);
    assert_eq!(get(&app, "/exports/customers", Some(&t.token)).await.0, 404);

    // Roles follow the lists: a cashier may export payments and customers, not the audit log
    // or sessions; an engineer not invoices; reports need ReportRead.
    let cashier = app.staff(&t, "CASHIER").await;
    let engineer = app.staff(&t, "ENGINEER").await;
    let support = app.staff(&t, "SUPPORT").await;
    for (who, path, want) in [
        (&cashier.token, "/exports/payments.csv", 200),
        (&cashier.token, "/exports/customers.xlsx", 200),
        (&cashier.token, "/exports/audit-log.csv", 403),
        (&cashier.token, "/exports/radius-sessions.csv", 403),
        (&engineer.token, "/exports/invoices.csv", 403),
        (&engineer.token, "/exports/radius-sessions.csv", 200),
        (&support.token, "/exports/revenue-by-plan.csv?from=2024-01-01&to=2024-12-31", 403),
        (&t.token, "/exports/audit-log.xlsx", 200),
    ] {
        let (status, _, body) = get(&app, path, Some(who)).await;
        assert_eq!(status, want, "{path}: {}", String::from_utf8_lossy(&body));
        if want == 403 {
            let e: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(e["code"], "FORBIDDEN");
        }
    }

    // Another tenant's token exports its own tenant only, even with this tenant's IDs.
    let other = app.tenant().await;
    let rows = csv(&app, "/exports/customers.csv", &other.token).await;
    assert!(!rows.iter().flatten().any(|v| v.contains(&secret)));
    let rows = csv(&app, &format!("/exports/subscriptions.csv?customerId={c}"), &other.token).await;
    assert_eq!(rows.len(), 1, "header only");
    let rows = csv(&app, "/exports/audit-log.csv", &other.token).await;
    assert!(!rows.iter().flatten().any(|v| v.contains(&secret)));
    // This tenant's audit log matches its GraphQL list.
    let list =
        nodes(&app.ok(&t.token, "{ auditLog(first: 100) { edges { node { action } } } }", json!({})).await["auditLog"]);
    let rows = csv(&app, "/exports/audit-log.csv", &t.token).await;
    assert_eq!(column(&rows, "Action"), strings(&list, "action"));
    let rows = csv(&app, &format!("/exports/audit-log.csv?objectId={c}"), &t.token).await;
    assert_eq!(column(&rows, "Action"), ["customer.create"]);

    // Bad filters: 400 naming the filter, nothing written.
    for (path, field) in [
        ("/exports/customers.csv?bogus=1", "bogus"),
        ("/exports/customers.csv?status=NOPE", "status"),
        ("/exports/customers.csv?orderBy=RELEVANCE&search=silva", "orderBy"),
        ("/exports/customers.csv?search=ab", "filter.search"),
        ("/exports/invoices.csv?customerId=garbage", "customerId"),
        (&format!("/exports/invoices.csv?customerId={}", global_id("Plan", 1)), "customerId"),
        ("/exports/usage.csv", "subscriptionId"),
        ("/exports/radius-sessions.csv?active=maybe", "active"),
        ("/exports/revenue-by-plan.csv", "from"),
        ("/exports/collections.csv?from=2024-02-01&to=2024-01-01", "to"),
        ("/exports/ageing.csv?asOf=yesterday", "asOf"),
    ] {
        let (status, headers, body) = get(&app, path, Some(&t.token)).await;
        assert_eq!(status, 400, "{path}: {}", String::from_utf8_lossy(&body));
        assert_eq!(headers["content-type"], "application/json");
        let e: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(e["code"], "VALIDATION", "{path}: {e}");
        assert_eq!(e["field"], field, "{path}: {e}");
    }
}

#[tokio::test]
async fn reports_export_through_the_same_table_model() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    set_day(&app, "2024-01-15");
    settings(&app, &t.token, json!({"billingDay": 1})).await;
    let c = billed_customer(&app, &t, "Report Customer").await;
    run_billing(&app, &t.token, "2024-01-15").await;
    app.ok(
        &t.token,
        "mutation($c: ID!) { recordPayment(input: {customerId: $c, amountMinor: 1000, method: CASH}) { id } }",
        json!({"c": c}),
    )
    .await;

    let q = "{ billingReport(from: \"2024-01-01\", to: \"2024-01-31\") { revenueByPlan { planName } } }";
    let r = app.ok(&t.token, q, json!({})).await;
    let rows = csv(&app, "/exports/revenue-by-plan.csv?from=2024-01-01&to=2024-01-31", &t.token).await;
    assert_eq!(rows[0], ["Plan ID", "Plan", "Net revenue (USD)", "Lines"]);
    assert_eq!(column(&rows, "Plan"), strings(r["billingReport"]["revenueByPlan"].as_array().unwrap(), "planName"));
    assert_eq!(rows.len(), 2, "{rows:?}");
    // 17 of January's 31 days of 31.00.
    assert_eq!(column(&rows, "Net revenue (USD)"), ["17.00"]);

    let rows = csv(&app, "/exports/collections.csv?from=2024-01-01&to=2024-01-31", &t.token).await;
    assert_eq!(column(&rows, "Month"), ["2024-01"]);
    assert_eq!(column(&rows, "Invoiced (USD)"), ["42.00"]);
    assert_eq!(column(&rows, "Collected (USD)"), ["10.00"]);
    assert_eq!(column(&rows, "Collection rate (bp)"), ["2381"]);

    // A report of core::reports through the same extension point: the GraphQL mrrReport's rows.
    let q = "{ mrrReport(from: \"2024-01-01\", to: \"2024-02-29\") { bucket endingMrr { amountMinor } activeSubscriptions } }";
    let r = app.ok(&t.token, q, json!({})).await;
    let rows = csv(&app, "/exports/mrr-movement.csv?from=2024-01-01&to=2024-02-29", &t.token).await;
    let gql = r["mrrReport"].as_array().unwrap();
    assert_eq!(column(&rows, "Bucket"), strings(gql, "bucket"));
    let money = |m: &Value| format!("{:.2}", m.as_i64().unwrap() as f64 / 100.0);
    assert_eq!(
        column(&rows, "Ending MRR (USD)"),
        gql.iter().map(|g| money(&g["endingMrr"]["amountMinor"])).collect::<Vec<_>>()
    );
    assert_eq!(column(&rows, "Active subscriptions"), ["1", "1"]);
    let (status, _, _) =
        get(&app, "/exports/mrr-movement.csv?from=2024-01-01&to=2024-02-29&bucket=WEEK", Some(&t.token)).await;
    assert_eq!(status, 400);

    // The other business reports: the same rows as their GraphQL fields.
    let q = "{ acquisitionReport(from: \"2024-01-01\", to: \"2024-01-31\") { newSubscriptions planName } \
             collectionReport(from: \"2024-01-01\", to: \"2024-01-31\") { collectionRateBasisPoints } }";
    let r = app.ok(&t.token, q, json!({})).await;
    let rows = csv(&app, "/exports/acquisition.csv?from=2024-01-01&to=2024-01-31", &t.token).await;
    let acq = r["acquisitionReport"].as_array().unwrap();
    assert_eq!(column(&rows, "Plan"), strings(acq, "planName"));
    let news: Vec<String> = acq.iter().map(|a| a["newSubscriptions"].to_string()).collect();
    assert_eq!(column(&rows, "New subscriptions"), news);
    let rows = csv(&app, "/exports/collection-rate.csv?from=2024-01-01&to=2024-01-31", &t.token).await;
    let rate = r["collectionReport"][0]["collectionRateBasisPoints"].to_string();
    assert_eq!(column(&rows, "Collection rate (bp)"), [rate]);
    let rows = csv(&app, "/exports/revenue-by-tax-class.csv?from=2024-01-01&to=2024-01-31", &t.token).await;
    assert_eq!(rows[0][3], "Tax class");
    let rows = csv(&app, "/exports/top-data-users.csv?from=2024-01-01&to=2024-01-31&first=5", &t.token).await;
    assert_eq!(rows[0][1], "Username");
    let (status, _, _) =
        get(&app, "/exports/top-data-users.csv?from=2024-01-01&to=2024-01-31&first=500", Some(&t.token)).await;
    assert_eq!(status, 400);

    let rows = csv(&app, "/exports/ageing.csv?asOf=2024-03-15", &t.token).await;
    assert_eq!(column(&rows, "Bucket"), ["Current", "1-30 days", "31-60 days", "61-90 days", "Over 90 days", "Total"]);
    assert_eq!(column(&rows, "Amount (USD)"), ["0.00", "0.00", "32.00", "0.00", "0.00", "32.00"]);
    assert!(column(&rows, "As of").iter().all(|d| d == "2024-03-15"));
}

#[tokio::test]
async fn the_cli_writes_the_same_files() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let name = format!("=Cli Customer {}", unique());
    app.customer(&t.token, &name).await;
    let http = get(&app, "/exports/customers.csv", Some(&t.token)).await.2;
    let isp = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_isp"));
        c.arg("export").args(args).arg("--data-dir").arg(app.data_dir());
        c.env_remove("DATABASE_URL").env_remove("ISP_DATABASE_URL");
        if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
            c.env("ISP_DATABASE_URL", url);
        }
        c.output().expect("run isp")
    };
    // CSV to standard output: the bytes the HTTP route serves.
    let o = isp(&["customers", "--tenant", &t.slug]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&http));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("'{name}")));
    assert!(String::from_utf8_lossy(&o.stderr).contains("exported 1 rows"), "{}", String::from_utf8_lossy(&o.stderr));

    // XLSX to a file (format from the extension), readable by calamine.
    let file = app.data_dir().join("customers.xlsx");
    let o = isp(&["customers", "--tenant", &t.slug, "-o", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&file).unwrap();
    let range = book.worksheet_range("customers").unwrap();
    assert_eq!(range.get((1, 2)), Some(&Data::String(name.clone())));

    // Filters, and their errors; a failed export leaves no file.
    let o = isp(&["customers", "--tenant", &t.slug, "status=ARCHIVED"]);
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 1, "header only");
    let bad = app.data_dir().join("bad.csv");
    let o = isp(&["customers", "--tenant", &t.slug, "status=NOPE", "-o", bad.to_str().unwrap()]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("status"));
    assert!(!bad.exists());
    let o = isp(&["audit-log", "--tenant", "no-such-tenant"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("unknown tenant"));
    let o = isp(&["customers", "--tenant", &t.slug, "--format", "pdf"]);
    assert!(!o.status.success());
}
