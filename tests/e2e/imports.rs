//! Bulk import of customers with subscriptions (core::import), through the core API, the CLI
//! and GraphQL: the dry-run report, the all-or-nothing commit, RADIUS at once, encodings,
//! bad files, duplicates, rollback, tenant isolation, spreadsheets and legacy exports.

use crate::radius::{base_plan, spawn_radius};
use crate::*;
use isp_core::auth::{Actor, Role};
use isp_core::import::{self, mapping::Mapping, Format, Request, Upload};
use isp_core::store::imports::{self, ImportStatus, OnDuplicate};
use isp_core::store::plans::Plan;
use isp_core::store::subscription_history;
use isp_core::store::subscriptions::{self, SubscriptionStatus};
use isp_core::store::tenants;
use isp_core::workflows::plans;
use isp_radiusd::Code;
use serde_json::json;
use std::sync::Arc;

async fn tenant_id(app: &TestApp, t: &Tenant) -> i64 {
    tenants::by_slug(&app.ctx.db, &t.slug).await.unwrap().unwrap().id
}

async fn plan(app: &TestApp, tid: i64, name: &str) -> Plan {
    plans::create(&app.ctx, &Actor::system(tid, "test"), &base_plan(name)).await.unwrap()
}

fn quiet() -> import::Progress {
    Arc::new(|_, _| {})
}

fn req(name: &str, bytes: impl Into<Vec<u8>>) -> Request {
    Request::new(name, bytes.into())
}

/// A request whose in-file duplicates are bad rows (UPDATE: a file cannot say two things of one login).
fn strict(name: &str, bytes: impl Into<Vec<u8>>) -> Request {
    Request { on_duplicate: OnDuplicate::Update, ..req(name, bytes) }
}

async fn run(app: &TestApp, tid: i64, r: Request) -> (import::Report, Option<imports::Import>) {
    import::run(&app.ctx, &Actor::system(tid, "test"), r, quiet()).await.unwrap()
}

const HEADER: &str = "Full name;E-mail;Phone;Login;Password;Plan;Static IP;Next billing date;Balance;Account\n";

/// 30 good rows (logins `good0`..`good29`) and 12 bad ones, each bad in one way.
fn mixed_file() -> (String, Vec<(usize, &'static str, &'static str)>) {
    let mut s = String::from(HEADER);
    for i in 0..30 {
        let ip = if i < 5 { format!("100.64.1.{}", i + 1) } else { String::new() };
        s.push_str(&format!(
            "Good Person {i};good{i}@example.com;+1 555 010 {i:04};good{i};pw-{i};Home;{ip};2027-01-15;12.50;OLD-{i}\n"
        ));
    }
    // (row, column, words of the reason); the header is row 1, so these are rows 32-43.
    let bad = [
        ("Bad Email;not-an-email;;bad1;pw;Home;;;;", "E-mail", "not a valid email"),
        ("Bad Phone;;12ab;bad2;pw;Home;;;;", "Phone", "not a valid phone"),
        ("No Plan;;;bad3;pw;Gold Unicorn;;;;", "Plan", "no plan named"),
        ("Bad Ip;;;bad4;pw;Home;300.1.1.1;;;", "Static IP", "not an IPv4"),
        ("Same Ip;;;bad5;pw;Home;100.64.1.1;;;", "Static IP", "also on row 2"),
        ("Twin Login;;;good3;pw;Home;;;;", "Login", "also on row 5"),
        ("Bad Date;;;bad7;pw;Home;;2027-02-30;;", "Next billing date", "must be a date"),
        ("No Password;;;bad8;;Home;;;;", "Password", "required for PPPOE"),
        ("Bad Balance;;;bad9;pw;Home;;;12,5x;", "Balance", "not an amount"),
        (";;;bad10;pw;Home;;;;", "Full name", "required"),
        ("Spacey Login;;;bad 11;pw;Home;;;;", "Login", "without spaces"),
        ("Same Account;;;bad12;pw;Home;;;;OLD-7", "Account", "also on row 9"),
    ];
    let mut want = Vec::new();
    for (i, (line, col, why)) in bad.iter().enumerate() {
        s.push_str(line);
        s.push('\n');
        want.push((32 + i, *col, *why));
    }
    (s, want)
}

#[tokio::test]
async fn a_dry_run_names_every_bad_row_and_the_commit_writes_the_rest() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let tid = tenant_id(&app, &t).await;
    let home = plan(&app, tid, "Home").await;
    let (file, want) = mixed_file();
    let actor = Actor::system(tid, "test");

    let report = import::dry_run(&app.ctx, &actor, strict("customers.csv", file.clone())).await.unwrap();
    assert_eq!((report.rows, report.to_create, report.bad), (42, 30, 12), "{:#?}", report.errors);
    for ((row, col, why), got) in want.iter().zip(&report.errors) {
        assert_eq!((got.row, got.column.as_str()), (*row, *col), "{got:?}");
        assert!(got.reason.contains(why), "row {row}: {:?} should say {why:?}", got.reason);
    }
    let csv = report.errors_csv();
    assert!(csv.starts_with("row,column,reason,outcome\n") && csv.lines().count() == 13, "{csv}");
    assert!(csv.contains("34,Plan,\"no plan named \"\"Gold Unicorn\"\"\",error"), "{csv}");
    let (c, _) = imports::created_counts(&app.ctx.db, tid, 0).await.unwrap();
    assert_eq!(c, 0);
    let n: Vec<(i64,)> = isp_core::db::query_as("SELECT COUNT(*) FROM customers WHERE tenant_id = $1")
        .bind(tid)
        .fetch_all(&app.ctx.db)
        .await
        .unwrap();
    assert_eq!(n[0].0, 0, "a dry run writes nothing");

    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    let progress: import::Progress = Arc::new(move |d, t| s.lock().unwrap().push((d, t)));
    let (report, job) = import::run(&app.ctx, &actor, strict("customers.csv", file), progress).await.unwrap();
    assert_eq!(report.bad, 12);
    let job = job.expect("an import was written");
    assert_eq!((job.status, job.rows_total, job.rows_done, job.created), (ImportStatus::Done, 30, 30, 30));
    assert_eq!(seen.lock().unwrap().last(), Some(&(30, 30)));
    assert_eq!(imports::created_counts(&app.ctx.db, tid, job.id).await.unwrap(), (30, 30));

    // The file's account numbers, next billing dates, static IPs and balances are kept.
    let sub = subscriptions::by_username(&app.ctx.db, tid, "good2").await.unwrap().unwrap();
    assert_eq!((sub.plan_id, sub.status, sub.start_date.as_str()), (home.id, SubscriptionStatus::Active, "2027-01-15"));
    assert_eq!(sub.static_ipv4.as_deref(), Some("100.64.1.3"));
    assert_ne!(sub.password_enc.as_deref(), Some("pw-2"), "passwords are encrypted at rest");
    let cust = isp_core::store::customers::get(&app.ctx.db, tid, sub.customer_id).await.unwrap();
    assert_eq!((cust.account_number.as_str(), cust.email.as_deref()), ("OLD-2", Some("good2@example.com")));
    let (sum,): (i64,) = isp_core::db::query_as(
        "SELECT CAST(SUM(amount_minor) AS BIGINT) FROM charges WHERE tenant_id = $1 AND customer_id = $2",
    )
    .bind(tid)
    .bind(cust.id)
    .fetch_one(&app.ctx.db)
    .await
    .unwrap();
    assert_eq!(sum, 1250, "the opening balance waits for the next invoice");

    // Audited once, as the import.
    let r = app.ok(&t.token, "{ auditLog(first: 20) { nodes { action details } } }", json!({})).await;
    let entries = r["auditLog"]["nodes"].as_array().unwrap().clone();
    let e = entries.iter().find(|e| e["action"] == "import.commit").unwrap_or_else(|| panic!("{entries:#?}"));
    assert!(e["details"].to_string().contains("\"created\":30"), "{e}");
}

#[tokio::test]
async fn imported_subscribers_authenticate_on_radius_at_once() {
    let r = spawn_radius().await;
    let p = r.plan(base_plan("Fibre")).await;
    let file = format!(
        "Name,Login,Password,Plan\nAda Byron,ada-{0},secret-ada,{1}\nAlan Turing,alan-{0},secret-alan,Fibre\n",
        unique(),
        p.id
    );
    let (report, job) = run(&r.app, r.tenant_id, req("radius.csv", file.clone())).await;
    assert_eq!((report.bad, job.unwrap().created), (0, 2), "{:?}", report.errors);
    let ada = file.lines().nth(1).unwrap().split(',').nth(1).unwrap().to_string();
    assert_eq!(r.pap(&ada, "secret-ada").await.code, Code::AccessAccept);
    assert_eq!(r.pap(&ada, "wrong").await.code, Code::AccessReject);
}

#[tokio::test]
async fn encodings_empty_files_huge_rows_and_formulas() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let tid = tenant_id(&app, &t).await;
    plan(&app, tid, "Home").await;
    let actor = Actor::system(tid, "test");

    // Latin-1 bytes (not UTF-8) are detected; a BOM and TABs too.
    let mut latin = b"Name\tLogin\tPassword\tPlan\n".to_vec();
    latin.extend_from_slice(b"Jos\xE9 Mu\xF1oz\tjose\tpw\tHome\n");
    let (report, _) = run(&app, tid, req("latin.csv", latin.clone())).await;
    assert_eq!(report.to_create, 1);
    let sub = subscriptions::by_username(&app.ctx.db, tid, "jose").await.unwrap().unwrap();
    let c = isp_core::store::customers::get(&app.ctx.db, tid, sub.customer_id).await.unwrap();
    assert_eq!(c.name, "José Muñoz");

    // Declared UTF-8 but not: the line is named, nothing is written.
    let mut r = req("latin.csv", latin);
    r.mapping = Mapping::from_toml("encoding = \"utf-8\"").unwrap();
    let e = import::dry_run(&app.ctx, &actor, r).await.unwrap_err().to_string();
    assert!(e.contains("line 2 is not valid UTF-8"), "{e}");

    for (bytes, words) in [
        (&b""[..], "empty"),
        (b"\xEF\xBB\xBF\r\n", "empty"),
        (b"Name,Login,Plan\n", "no data rows"),
        (b"\x00\x01\x02binary", "NUL"),
    ] {
        let e = import::dry_run(&app.ctx, &actor, req("x.csv", bytes)).await.unwrap_err();
        assert_eq!(e.code(), "VALIDATION");
        assert!(e.to_string().contains(words), "{e}");
    }

    // A 10 MB row is an error naming its row, not an out-of-memory.
    let mut big = String::from("Name,Login,Password,Plan\nFirst,first,pw,Home\n");
    big.push_str(&format!("Huge,huge,{},Home\nLast,last,pw,Home\n", "x".repeat(10 << 20)));
    let report = import::dry_run(&app.ctx, &actor, req("big.csv", big)).await.unwrap();
    assert_eq!((report.to_create, report.bad), (2, 1));
    assert_eq!(report.errors[0].row, 3);
    assert!(report.errors[0].reason.contains("over the limit"), "{:?}", report.errors);

    // Formulas are never evaluated: the row is refused, naming the cell's column.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_row(0, 0, ["Name", "Login", "Password", "Plan"]).unwrap();
    sheet.write_row(1, 0, ["Plain", "plain", "pw", "Home"]).unwrap();
    sheet.write_row(2, 0, ["Formula", "", "pw", "Home"]).unwrap();
    sheet.write_formula(2, 1, "=LOWER(A3)").unwrap();
    let report = import::dry_run(&app.ctx, &actor, req("f.xlsx", book.save_to_buffer().unwrap())).await.unwrap();
    assert_eq!((report.to_create, report.bad), (1, 1));
    assert_eq!((report.errors[0].row, report.errors[0].column.as_str()), (3, "Login"));
    assert!(report.errors[0].reason.contains("formula"), "{:?}", report.errors);
}

#[tokio::test]
async fn duplicates_are_skipped_updated_or_refused() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let tid = tenant_id(&app, &t).await;
    plan(&app, tid, "Home").await;
    plan(&app, tid, "Pro").await;
    let actor = Actor::system(tid, "test");
    run(&app, tid, req("a.csv", "Name,Login,Password,Plan,Email\nOld Name,dup,pw1,Home,old@example.com\n")).await;
    let again = "Name,Login,Password,Plan,Email\nNew Name,dup,pw2,Pro,\nFresh,fresh,pw,Home,\n";

    let (report, job) = run(&app, tid, req("b.csv", again)).await;
    assert_eq!((report.to_create, report.skipped, report.bad), (1, 1, 0));
    assert!(report.skipped_rows[0].reason.contains("already exists"));
    assert_eq!(job.unwrap().skipped, 1);

    let mut r = req("c.csv", again.replace("fresh", "fresh2"));
    r.on_duplicate = OnDuplicate::Fail;
    let e = import::run(&app.ctx, &actor, r, quiet()).await.unwrap_err();
    assert_eq!(e.code(), "CONFLICT");
    assert!(subscriptions::by_username(&app.ctx.db, tid, "fresh2").await.unwrap().is_none(), "FAIL writes nothing");

    let mut r = req("d.csv", again.replace("fresh", "fresh3"));
    r.on_duplicate = OnDuplicate::Update;
    let (report, job) = import::run(&app.ctx, &actor, r, quiet()).await.unwrap();
    assert_eq!((report.to_create, report.to_update), (1, 1));
    let job = job.unwrap();
    assert_eq!((job.created, job.updated), (1, 1));
    let sub = subscriptions::by_username(&app.ctx.db, tid, "dup").await.unwrap().unwrap();
    let c = isp_core::store::customers::get(&app.ctx.db, tid, sub.customer_id).await.unwrap();
    // Overwritten where the row has a value; the empty email cell leaves the email alone.
    assert_eq!((c.name.as_str(), c.email.as_deref()), ("New Name", Some("old@example.com")));
    let pro = imports::plans(&app.ctx.db, tid).await.unwrap().into_iter().find(|p| p.name == "Pro").unwrap();
    assert_eq!(sub.plan_id, pro.id);
    // The plan change is in the subscription's history, as `updateSubscription` records it.
    let hist = subscription_history::of_subscription(&app.ctx.db, tid, sub.id).await.unwrap();
    assert_eq!(hist.len(), 2, "{hist:?}");
    assert_eq!((hist[1].from_plan_id, hist[1].to_plan_id), (Some(hist[0].to_plan_id), pro.id));
    let e = import::rollback(&app.ctx, &actor, job.id).await.unwrap_err();
    assert!(e.to_string().contains("updated existing records"), "{e}");
}

#[tokio::test]
async fn an_import_rolls_back_as_a_whole_and_stays_in_its_tenant() {
    let app = spawn_app().await;
    let (a, b) = (app.tenant().await, app.tenant().await);
    let (ta, tb) = (tenant_id(&app, &a).await, tenant_id(&app, &b).await);
    plan(&app, ta, "Home").await;
    plan(&app, tb, "Home").await;
    let file = "Name,Login,Password,Plan,Static IP\nOne,one,pw,Home,100.64.9.1\nTwo,two,pw,Home,\n";
    let (_, job_a) = run(&app, ta, req("a.csv", file)).await;
    let job_a = job_a.unwrap();
    // The same logins and IP in another tenant are no duplicates.
    let (report, job_b) = run(&app, tb, req("b.csv", file)).await;
    assert_eq!((report.to_create, report.skipped), (2, 0));
    let job_b = job_b.unwrap();

    let q = "query($id: ID!) { importJob(id: $id) { status rowsDone rowsTotal created } imports { id } }";
    let id_a = isp_api_id("ImportJob", job_a.id);
    let r = app.ok(&a.token, q, json!({"id": id_a})).await;
    assert_eq!(r["importJob"], json!({"status": "DONE", "rowsDone": 2, "rowsTotal": 2, "created": 2}));
    let r = app.ok(&b.token, q, json!({"id": id_a})).await;
    assert!(r["importJob"].is_null(), "another tenant's import is not found");
    assert_eq!(r["imports"].as_array().unwrap().len(), 1);

    let m = "mutation($id: ID!) { rollbackImport(id: $id) { status } }";
    let r = app.gql(Some(&b.token), m, json!({"id": id_a})).await;
    assert_eq!(code(&r), Some("NOT_FOUND"), "{r}");
    let r = app.ok(&a.token, m, json!({"id": id_a})).await;
    assert_eq!(r["rollbackImport"]["status"], "ROLLED_BACK");
    assert_eq!(imports::created_counts(&app.ctx.db, ta, job_a.id).await.unwrap(), (0, 0));
    assert!(subscriptions::by_username(&app.ctx.db, ta, "one").await.unwrap().is_none());
    assert_eq!(imports::created_counts(&app.ctx.db, tb, job_b.id).await.unwrap(), (2, 2), "B keeps its import");
    let r = app.gql(Some(&a.token), m, json!({"id": id_a})).await;
    assert_eq!(code(&r), Some("CONFLICT"), "a rolled-back import cannot be rolled back again: {r}");
    // The freed IP and logins can be imported again.
    let (report, _) = run(&app, ta, req("a.csv", file)).await;
    assert_eq!(report.to_create, 2);

    // A failure in the middle (here the process stopping after the first chunk of 1,000)
    // removes what the earlier chunks wrote, and the import says why.
    let many: String = std::iter::once("Name,Login,Password,Plan\n".to_string())
        .chain((0..1500).map(|i| format!("P{i},bulk{i},pw,Home\n")))
        .collect();
    let mut ctx = app.ctx.clone();
    ctx.shutdown = tokio_util::sync::CancellationToken::new();
    let stop = ctx.shutdown.clone();
    let progress: import::Progress = Arc::new(move |done, _| {
        if done == 1000 {
            stop.cancel();
        }
    });
    let e = import::run(&ctx, &Actor::system(ta, "test"), req("m.csv", many), progress).await.unwrap_err();
    assert_eq!(e.code(), "UNAVAILABLE", "{e}");
    let failed = imports::list(&app.ctx.db, ta, 1).await.unwrap().remove(0);
    assert_eq!(failed.status, ImportStatus::Failed);
    assert!(failed.error.as_deref().unwrap_or("").contains("shutting down"), "{failed:?}");
    assert_eq!(imports::created_counts(&app.ctx.db, ta, failed.id).await.unwrap(), (0, 0));
    assert!(subscriptions::by_username(&app.ctx.db, ta, "bulk5").await.unwrap().is_none());
}

#[tokio::test]
async fn imported_subscriptions_count_in_the_reports_until_rolled_back() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let tid = tenant_id(&app, &t).await;
    crate::billing::set_day(&app, "2026-03-15");
    plan(&app, tid, "Home").await;
    // Customers the ISP had for a while (on their start dates), and one that starts today.
    let file = "Name,Login,Password,Plan,Start date,Status\nOld,old,pw,Home,2025-06-01,ACTIVE\n\
                Waiting,wait,pw,Home,2025-09-10,PENDING\nToday,today,pw,Home,,ACTIVE\n";
    let (_, job) = run(&app, tid, req("r.csv", file)).await;
    let job = job.unwrap();
    let acq = "query { acquisitionReport(from: \"2025-01-01\", to: \"2026-03-31\", byPlan: false) \
               { bucket newCustomers newSubscriptions openAtEnd } \
               mrrReport(from: \"2025-01-01\", to: \"2026-03-31\") { bucket newMrr { amountMinor } endingMrr { amountMinor } } }";
    let r = app.ok(&t.token, acq, json!({})).await;
    let acquired = |r: &serde_json::Value, month: &str| {
        let row = r["acquisitionReport"].as_array().unwrap().iter().find(|b| b["bucket"] == month).cloned();
        row.map(|b| (b["newCustomers"].as_i64().unwrap(), b["newSubscriptions"].as_i64().unwrap()))
    };
    assert_eq!(acquired(&r, "2025-06"), Some((1, 1)), "{r:#}");
    assert_eq!(acquired(&r, "2025-09"), Some((1, 1)), "{r:#}");
    assert_eq!(acquired(&r, "2026-03"), Some((1, 1)), "{r:#}");
    let mrr = r["mrrReport"].as_array().unwrap();
    let month = |m: &str| mrr.iter().find(|b| b["bucket"] == m).unwrap().clone();
    // The plan costs 10.00 a month; the pending subscription brings nothing yet.
    assert_eq!(crate::billing::minor(&month("2025-06")["newMrr"]), 1000);
    assert_eq!(crate::billing::minor(&month("2026-03")["endingMrr"]), 2000, "{r:#}");

    // Rolled back, the import leaves no trace in the reports.
    import::rollback(&app.ctx, &Actor::system(tid, "test"), job.id).await.unwrap();
    let r = app.ok(&t.token, acq, json!({})).await;
    for b in r["acquisitionReport"].as_array().unwrap() {
        assert_eq!((b["newCustomers"].as_i64(), b["openAtEnd"].as_i64()), (Some(0), Some(0)), "{r:#}");
    }
    for b in r["mrrReport"].as_array().unwrap() {
        assert_eq!(crate::billing::minor(&b["endingMrr"]), 0, "{r:#}");
    }
}

/// The GraphQL global ID of a row.
fn isp_api_id(ty: &str, id: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{ty}:{id}"))
}

#[tokio::test]
async fn a_spreadsheet_written_here_imports_with_typed_cells() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let tid = tenant_id(&app, &t).await;
    plan(&app, tid, "Home").await;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet
        .write_row(0, 0, ["Customer", "Mobile", "PPPoE user", "Secret", "Package", "Next billing date", "Balance"])
        .unwrap();
    let date = rust_xlsxwriter::ExcelDateTime::from_ymd(2027, 3, 1).unwrap();
    let fmt = rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy");
    for i in 0..20u32 {
        let r = i + 1;
        sheet.write_string(r, 0, format!("Sheet Person {i}")).unwrap();
        sheet.write_number(r, 1, 5_550_100_000.0 + f64::from(i)).unwrap();
        sheet.write_string(r, 2, format!("xl{i}")).unwrap();
        sheet.write_number(r, 3, 1000.0 + f64::from(i)).unwrap();
        sheet.write_string(r, 4, "home").unwrap();
        sheet.write_datetime_with_format(r, 5, &date, &fmt).unwrap();
        sheet.write_number(r, 6, -5.25).unwrap();
    }
    let (report, job) = run(&app, tid, req("customers.xlsx", book.save_to_buffer().unwrap())).await;
    assert_eq!((report.to_create, report.bad), (20, 0), "{:?}", report.errors);
    assert_eq!(job.unwrap().created, 20);
    let sub = subscriptions::by_username(&app.ctx.db, tid, "xl7").await.unwrap().unwrap();
    assert_eq!(sub.start_date, "2027-03-01");
    let c = isp_core::store::customers::get(&app.ctx.db, tid, sub.customer_id).await.unwrap();
    assert_eq!(c.phone.as_deref(), Some("5550100007"), "whole numbers lose their .0");
    let pw = app.ctx.secrets.cipher.decrypt(subscriptions::PASSWORD_CONTEXT, sub.password_enc.as_deref().unwrap());
    assert_eq!(pw.ok().as_deref(), Some("1007"));
}

#[tokio::test]
async fn phpnuxbill_and_daloradius_exports_import() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let tid = tenant_id(&app, &t).await;
    plan(&app, tid, "Home 20M").await;
    plan(&app, tid, "Fibre 100").await;
    let customers = "id,username,password,pppoe_password,fullname,address,city,district,state,zip,phonenumber,email,coordinates,balance,service_type,auto_renewal,status,created_by,created_at,last_login\n\
        1,budi,portal1,ppp-secret,Budi Santoso,Jl. Merdeka 1,Bandung,,Jawa Barat,40111,081234567890,budi@example.id,,15000,PPPoE,1,Active,1,2024-01-01 10:00:00,\n\
        2,sari,hot-pass,,Sari Dewi,,,,,,,,,0,Hotspot,0,Active,1,2024-02-01 10:00:00,\n";
    let recharges = "id,customer_id,username,plan_id,namebp,recharged_on,recharged_time,expiration,time,status,method,routers,type\n\
        9,1,budi,4,Home 20M,2024-12-01,10:00:00,2027-01-01,10:00:00,on,Cash,Main,PPPOE\n\
        7,2,sari,4,Home 20M,2024-12-01,10:00:00,2024-12-02,10:00:00,off,Voucher,Main,Hotspot\n";
    let mut r = req("tbl_customers.csv", customers);
    r.format = Format::PhpNuxBill;
    r.extra = vec![Upload { name: "tbl_user_recharges.csv".into(), bytes: recharges.into() }];
    let (report, _) = run(&app, tid, r).await;
    assert_eq!((report.to_create, report.bad), (2, 0), "{:?}", report.errors);
    let budi = subscriptions::by_username(&app.ctx.db, tid, "budi").await.unwrap().unwrap();
    assert_eq!(budi.start_date, "2027-01-01");
    let pw = app.ctx.secrets.cipher.decrypt(subscriptions::PASSWORD_CONTEXT, budi.password_enc.as_deref().unwrap());
    assert_eq!(pw.ok().as_deref(), Some("ppp-secret"));
    let sari = subscriptions::by_username(&app.ctx.db, tid, "sari").await.unwrap().unwrap();
    assert_eq!(sari.access_type.as_str(), "HOTSPOT");

    let radcheck =
        "id,username,attribute,op,value\n1,alice,Cleartext-Password,:=,alice-pw\n2,bob,Cleartext-Password,:=,bob-pw\n\
        3,alice,Simultaneous-Use,:=,2\n4,bob,Framed-IP-Address,:=,100.64.7.9\n";
    let userinfo = "id,username,firstname,lastname,email,department,company,workphone,homephone,mobilephone,address,city,state,country,zip,notes\n\
        1,alice,Alice,Moreau,alice@example.fr,,,,,+33 6 12 34 56 78,1 rue de Paris,Lyon,,FR,69001,VIP\n";
    let groups = "username,groupname,priority\nalice,Fibre 100,1\nbob,Fibre 100,1\n";
    let mut r = req("radcheck.csv", radcheck);
    r.format = Format::Radius;
    r.extra = vec![
        Upload { name: "userinfo.csv".into(), bytes: userinfo.into() },
        Upload { name: "radusergroup.csv".into(), bytes: groups.into() },
    ];
    r.mapping = Mapping::from_toml("[defaults]\naccess_type = \"PPPOE\"").unwrap();
    let (report, _) = run(&app, tid, r).await;
    assert_eq!((report.to_create, report.bad), (2, 0), "{:?}", report.errors);
    let alice = subscriptions::by_username(&app.ctx.db, tid, "alice").await.unwrap().unwrap();
    assert_eq!(alice.simultaneous_use, 2);
    let c = isp_core::store::customers::get(&app.ctx.db, tid, alice.customer_id).await.unwrap();
    assert_eq!((c.name.as_str(), c.email.as_deref()), ("Alice Moreau", Some("alice@example.fr")));
    let bob = subscriptions::by_username(&app.ctx.db, tid, "bob").await.unwrap().unwrap();
    assert_eq!(bob.static_ipv4.as_deref(), Some("100.64.7.9"));
}

#[tokio::test]
async fn only_managers_and_up_may_import() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let tid = tenant_id(&app, &t).await;
    plan(&app, tid, "Home").await;
    for (role, ok) in [(Role::Manager, true), (Role::Admin, true), (Role::Support, false), (Role::Cashier, false)] {
        let actor = Actor { role, ..Actor::system(tid, "test") };
        let r = import::dry_run(&app.ctx, &actor, req("x.csv", "Name,Login,Password,Plan\nA,a,pw,Home\n")).await;
        assert_eq!(r.is_ok(), ok, "{role}: {r:?}");
        if !ok {
            assert_eq!(r.unwrap_err().code(), "FORBIDDEN");
        }
    }
}

#[tokio::test]
async fn the_cli_imports_with_a_mapping_and_exits_non_zero_on_bad_rows() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let tid = tenant_id(&app, &t).await;
    plan(&app, tid, "Home").await;
    let dir = app.data_dir().to_path_buf();
    let file = dir.join("kunden.csv");
    std::fs::write(&file, "Kunde;Benutzer;Kennwort;Tarif\nAnna Schmidt;anna;pw;Home\nBert;bert;;Home\n").unwrap();
    let map = dir.join("map.toml");
    std::fs::write(
        &map,
        "[columns]\nKunde = \"name\"\nBenutzer = \"username\"\nKennwort = \"password\"\nTarif = \"plan\"\n",
    )
    .unwrap();
    let isp = |extra: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_isp"));
        c.args(["import", "customers"]).arg(&file).args(["--tenant", &t.slug, "--mapping"]).arg(&map);
        c.args(extra).arg("--data-dir").arg(&dir).env_remove("DATABASE_URL").env_remove("ISP_DATABASE_URL");
        if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
            c.env("ISP_DATABASE_URL", url);
        }
        c.output().unwrap()
    };
    let o = isp(&["--dry-run"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(2), "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("create 1") && out.contains("Kennwort") && out.contains("dry run"), "{out}");
    let o = isp(&["--json"]);
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&o.stdout)));
    assert_eq!(
        (v["status"].as_str(), v["created"].as_i64(), v["bad"].as_i64()),
        (Some("DONE"), Some(1), Some(1)),
        "{v}"
    );
    assert_eq!(v["errors"][0], json!({"row": 3, "column": "Kennwort", "reason": "is required for PPPOE"}));
    assert!(subscriptions::by_username(&app.ctx.db, tid, "anna").await.unwrap().is_some());
}

#[tokio::test]
async fn progress_reaches_changes_subscribers_chunk_by_chunk() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let tid = tenant_id(&app, &t).await;
    plan(&app, tid, "Home").await;
    let mut ws = crate::ws::subscriber(&app.base, &t.token).await;
    let file: String = std::iter::once("Name,Login,Password,Plan\n".to_string())
        .chain((0..2500).map(|i| format!("P{i},p{i},pw,Home\n")))
        .collect();
    let (_, job) = run(&app, tid, req("p.csv", file)).await;
    let id = isp_api_id("ImportJob", job.unwrap().id);
    // Three chunks of at most 1,000 rows, then the end of the import.
    let wait = std::time::Duration::from_secs(5);
    let skip = ["CUSTOMER", "SUBSCRIPTION"];
    for _ in 0..4 {
        let c = crate::ws::next_change(&mut ws, &skip, wait).await.expect("an IMPORT change");
        assert_eq!(c, json!({"kind": "IMPORT", "id": id}));
    }
    assert!(crate::ws::next_change(&mut ws, &skip, std::time::Duration::from_millis(300)).await.is_none());
    let r = app
        .ok(
            &t.token,
            "query($id: ID!) { node(id: $id) { ... on ImportJob { status rowsDone rowsTotal } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(r["node"], json!({"status": "DONE", "rowsDone": 2500, "rowsTotal": 2500}));
}

#[tokio::test]
async fn import_customers_takes_a_multipart_upload_and_runs_as_a_job() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let tid = tenant_id(&app, &t).await;
    plan(&app, tid, "Home").await;
    let file =
        b"Full name,E-mail,Login,Password,Plan\nUp Loaded,up@example.com,up1,pw,Home\nBad Mail,nope,up2,pw,Home\n";
    let m = "mutation($f: Upload!, $d: Boolean) { importCustomers(file: $f, dryRun: $d) { rows toCreate bad errors { row column reason } errorsCsv job { id status } } }";
    let files: &[(&str, &str, &str, &[u8])] = &[("variables.f", "c.csv", "text/csv", file)];
    let (status, r) = app.upload(Some(&t.token), m, json!({"f": null, "d": true}), files).await;
    assert_eq!(status, 200, "{r}");
    let d = &r["data"]["importCustomers"];
    assert_eq!((d["rows"].as_i64(), d["toCreate"].as_i64(), d["bad"].as_i64()), (Some(2), Some(1), Some(1)), "{r}");
    assert_eq!(d["errors"][0], json!({"row": 3, "column": "E-mail", "reason": "is not a valid email address"}));
    assert!(d["job"].is_null());
    let (_, r) = app.upload(Some(&t.token), m, json!({"f": null, "d": false}), files).await;
    let id = r["data"]["importCustomers"]["job"]["id"].as_str().unwrap_or_else(|| panic!("{r}")).to_string();
    let q = "query($id: ID!) { importJob(id: $id) { status rowsDone rowsTotal created } }";
    let mut last = json!(null);
    for _ in 0..100 {
        last = app.ok(&t.token, q, json!({"id": id})).await["importJob"].clone();
        if last["status"] == "DONE" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(last, json!({"status": "DONE", "rowsDone": 1, "rowsTotal": 1, "created": 1}));
    assert!(subscriptions::by_username(&app.ctx.db, tid, "up1").await.unwrap().is_some());
    // Support may not import.
    let support = app.staff(&t, "SUPPORT").await;
    let (_, r) = app.upload(Some(&support.token), m, json!({"f": null, "d": true}), files).await;
    assert_eq!(code(&r), Some("FORBIDDEN"), "{r}");
}
