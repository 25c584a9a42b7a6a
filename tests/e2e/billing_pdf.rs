//! Branded invoice and receipt PDFs over HTTP, read back with poppler's `pdftotext` and
//! `pdfimages`.
//!
//! The typesetter is the root package's default `pdf` feature, so `cargo test --workspace`
//! renders real PDFs; built with `--no-default-features` the routes must answer 501 and only
//! authorisation is checked. Without poppler-utils the text checks are skipped (a failure when
//! `CI` is set: `.ci/run` installs it).

use crate::billing::{plan_priced, run_billing, set_day, settings, sub_from};
use crate::*;
use serde_json::{json, Value};
use std::process::Command;

/// An 8 x 4 px RGB PNG in the brand's rust colour.
const PNG_LOGO: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAECAIAAAA8r+mnAAAAEklEQVR4nGNYZcyAFWEXJUsCAHsvG6GBl/D/AAAAAElFTkSuQmCC";
/// A PNG with a valid signature and header whose image data is not zlib: sniffing passes,
/// decoding fails.
const CORRUPT_PNG: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAECAIAAAA8r+mnAAAAD0lEQVRub3QgemxpYiBhdCBhbGz44kQmAAAAAElFTkSuQmCC";

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> (u16, Vec<u8>) {
    let mut req = app.client.get(format!("{}{path}", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.bytes().await.unwrap().to_vec())
}

/// Runs a poppler tool on a PDF; its output, or None when poppler-utils is missing (a
/// failure when `CI` is set).
fn poppler(tool: &str, args: &[&str], pdf: &[u8]) -> Option<String> {
    let path = std::env::temp_dir().join(format!("isp-pdf-{}.pdf", unique()));
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new(tool).args(args).arg(&path).arg("-").output();
    let _ = std::fs::remove_file(&path);
    match out {
        Ok(o) if o.status.success() => Some(String::from_utf8_lossy(&o.stdout).into_owned()),
        Ok(o) => panic!("{tool} failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(_) if std::env::var_os("CI").is_some() => panic!("{tool} (poppler-utils) is required in CI"),
        Err(_) => {
            eprintln!("skipping PDF checks: {tool} (poppler-utils) is not installed");
            None
        }
    }
}

/// The text of a PDF (`pdftotext -layout`).
pub fn pdf_text(pdf: &[u8]) -> Option<String> {
    poppler("pdftotext", &["-layout"], pdf)
}

/// How many raster images a PDF holds (`pdfimages -list`, soft masks not counted).
fn image_count(pdf: &[u8]) -> Option<usize> {
    let path = std::env::temp_dir().join(format!("isp-pdf-{}.pdf", unique()));
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("pdfimages").arg("-list").arg(&path).output();
    let _ = std::fs::remove_file(&path);
    match out {
        // Two header lines, then one line per image: "page num type width height ...".
        Ok(o) if o.status.success() => Some(
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .skip(2)
                .filter(|l| l.split_whitespace().nth(2) == Some("image"))
                .count(),
        ),
        Ok(o) => panic!("pdfimages failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(_) if std::env::var_os("CI").is_some() => panic!("pdfimages (poppler-utils) is required in CI"),
        Err(_) => None,
    }
}

/// A PDF route answered 200 with a PDF.
fn assert_pdf(status: u16, body: &[u8]) {
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(body));
    assert!(body.starts_with(b"%PDF-"), "not a PDF");
}

const SET_LOGO: &str =
    "mutation($l: String) { updateBillingSettings(input: {logo: $l}) { logoContentType accentColor brandColor } }";

#[tokio::test]
async fn invoices_and_receipts_render_as_branded_pdfs_for_authorised_staff_only() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    set_day(&app, "2024-01-15");
    settings(
        &app,
        &t.token,
        json!({"billingDay": 1, "brandColor": "#AA3300", "accentColor": "#ffeedd", "legalAddress": "1 Fibre Way, Springfield",
               "taxId": "VAT-998877", "paymentInstructions": "Pay to IBAN XX00 1234 5678", "logo": PNG_LOGO}),
    )
    .await;
    let s = app.ok(&t.token, "{ billingSettings { logoContentType accentColor brandColor } }", json!({})).await;
    assert_eq!(
        s["billingSettings"],
        json!({"logoContentType": "image/png", "accentColor": "#FFEEDD", "brandColor": "#AA3300"})
    );
    app.ok(&t.token, "mutation { setTaxRate(input: {taxClass: \"standard\", name: \"VAT\", rateBasisPoints: 1600, inclusive: false}) { name } }", json!({})).await;
    let plan = plan_priced(&app, &t.token, 3100).await;
    let plan_name = app
        .ok(&t.token, "query($id: ID!) { node(id: $id) { ... on Plan { name } } }", json!({"id": plan}))
        .await["node"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let c = app.customer(&t.token, "Ada \"Quotes\" Lovelace #1").await;
    sub_from(&app, &t.token, &c, &plan, "2024-01-15").await;
    app.ok(&t.token, "mutation($c: ID!) { addCharge(input: {customerId: $c, description: \"Router install [Dish]\", amountMinor: 2500}) { id } }", json!({"c": c})).await;
    let inv = &run_billing(&app, &t.token, "2024-01-15").await[0];
    let d = app.ok(&t.token, "query($id: ID!) { invoice(id: $id) { pdfUrl } }", json!({"id": inv["id"]})).await;
    let url = d["invoice"]["pdfUrl"].as_str().unwrap().to_string();
    let p = app
        .ok(&t.token, "mutation($c: ID!) { recordPayment(input: {customerId: $c, amountMinor: 1000, method: CARD, reference: \"SLIP-42\"}) { receiptUrl } }", json!({"c": c}))
        .await;
    let receipt = p["recordPayment"]["receiptUrl"].as_str().unwrap().to_string();

    // Authorisation: token required, InvoiceRead required, own tenant only.
    assert_eq!(get(&app, &url, None).await.0, 401);
    assert_eq!(get(&app, &url, Some("not-a-token")).await.0, 401);
    let engineer = app.staff(&t, "ENGINEER").await;
    assert_eq!(get(&app, &url, Some(&engineer.token)).await.0, 403);
    assert_eq!(get(&app, &receipt, Some(&engineer.token)).await.0, 403);
    let other = app.tenant().await;
    assert_eq!(get(&app, &url, Some(&other.token)).await.0, 404);
    assert_eq!(get(&app, &receipt, Some(&other.token)).await.0, 404);
    assert_eq!(get(&app, "/invoices/garbage/pdf", Some(&t.token)).await.0, 404);
    // A payment id on the invoice route (and the reverse) is not found either.
    let pay_id = receipt.trim_start_matches("/payments/").trim_end_matches("/receipt").to_string();
    assert_eq!(get(&app, &format!("/invoices/{pay_id}/pdf"), Some(&t.token)).await.0, 404);

    let cashier = app.staff(&t, "CASHIER").await;
    let (status, body) = get(&app, &url, Some(&cashier.token)).await;
    if cfg!(not(feature = "pdf")) {
        assert_eq!(status, 501, "built without the pdf feature the route must say so");
        return;
    }
    assert_pdf(status, &body);
    if let Some(text) = pdf_text(&body) {
        // 17 of January's 31 days of 31.00 = 17.00, plus the 25.00 installation; VAT 16 %.
        for want in [
            "Test ISP",
            "1 Fibre Way, Springfield",
            "Tax ID: VAT-998877",
            "INVOICE",
            "INV-2024-00001",
            "Issued 2024-01-15",
            "Due 2024-01-29",
            "Ada \"Quotes\" Lovelace #1",
            &plan_name,
            // The long description wraps in its column: check its words, not the whole line.
            "2024-01-15 to",
            "2024-01-31 (prorated)",
            "Router install [Dish]",
            "17.00 USD",
            "2.72 USD",
            "19.72 USD",
            "25.00 USD",
            "4.00 USD",
            "29.00 USD",
            "42.00 USD",
            "6.72 USD",
            "48.72 USD",
            "16.00 %",
            "Balance due",
            "Pay to IBAN XX00 1234 5678",
        ] {
            assert!(text.contains(want), "invoice PDF lacks {want:?}:\n{text}");
        }
        let subtotal = text.lines().find(|l| l.contains("Subtotal")).unwrap_or_default();
        assert!(subtotal.contains("42.00 USD"), "subtotal line: {subtotal:?}");
        let total = text.lines().find(|l| l.trim_start().starts_with("Total ")).unwrap_or_default();
        assert!(total.contains("48.72 USD"), "total line: {total:?}");
    }
    assert_eq!(image_count(&body).unwrap_or(1), 1, "the invoice carries the logo");

    let (status, body) = get(&app, &receipt, Some(&t.token)).await;
    assert_pdf(status, &body);
    if let Some(text) = pdf_text(&body) {
        for want in [
            "Test ISP",
            "RECEIPT",
            "RCT-2024-00001",
            "Received 2024-01-15",
            "Method CARD",
            "Ada \"Quotes\" Lovelace #1",
            "10.00 USD",
            "Invoice INV-2024-00001",
            "SLIP-42",
        ] {
            assert!(text.contains(want), "receipt PDF lacks {want:?}:\n{text}");
        }
        let received = text.lines().find(|l| l.contains("Amount received")).unwrap_or_default();
        assert!(received.contains("10.00 USD"), "amount line: {received:?}");
    }
    assert_eq!(image_count(&body).unwrap_or(1), 1, "the receipt carries the logo");

    // Another tenant's documents show its own branding, never this tenant's logo or name.
    settings(&app, &other.token, json!({"billingDay": 1})).await;
    let oplan = plan_priced(&app, &other.token, 1000).await;
    let oc = app.customer(&other.token, "Other Customer").await;
    sub_from(&app, &other.token, &oc, &oplan, "2024-01-01").await;
    let oinv = &run_billing(&app, &other.token, "2024-01-15").await[0];
    let ourl = app.ok(&other.token, "query($id: ID!) { invoice(id: $id) { pdfUrl } }", json!({"id": oinv["id"]})).await
        ["invoice"]["pdfUrl"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(get(&app, &ourl, Some(&t.token)).await.0, 404);
    let (status, body) = get(&app, &ourl, Some(&other.token)).await;
    assert_pdf(status, &body);
    assert_eq!(image_count(&body).unwrap_or(0), 0, "no logo for a tenant without one");
    if let Some(text) = pdf_text(&body) {
        assert!(text.contains("Other Customer") && text.contains("10.00 USD"), "{text}");
        assert!(!text.contains("Fibre Way") && !text.contains("Ada"), "{text}");
    }

    // Removing the logo removes it from the documents.
    let d = app.ok(&t.token, SET_LOGO, json!({"l": null})).await;
    assert_eq!(d["updateBillingSettings"]["logoContentType"], Value::Null);
    let (status, body) = get(&app, &url, Some(&t.token)).await;
    assert_pdf(status, &body);
    assert_eq!(image_count(&body).unwrap_or(0), 0);
}

#[tokio::test]
async fn logos_are_validated_and_only_billing_admins_set_them() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let svg = r##"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><rect width="120" height="40" fill="#AA3300"/></svg>"##;
    let b64 = |b: &[u8]| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(b)
    };
    let refused = |r: &Value| {
        assert_eq!((code(r), field(r)), (Some("VALIDATION"), Some("logo")), "{r:#}");
    };
    refused(&app.gql(Some(&t.token), SET_LOGO, json!({"l": "***not base64***"})).await);
    refused(&app.gql(Some(&t.token), SET_LOGO, json!({"l": b64(b"GIF89a\x01\x00\x01\x00")})).await);
    refused(&app.gql(Some(&t.token), SET_LOGO, json!({"l": b64(b"<html><body>hi</body></html>")})).await);
    let mut big = b"<svg xmlns=\"http://www.w3.org/2000/svg\">".to_vec();
    big.resize(129 * 1024, b' ');
    big.extend(b"</svg>");
    refused(&app.gql(Some(&t.token), SET_LOGO, json!({"l": b64(&big)})).await);
    if cfg!(feature = "pdf") {
        // Sniffed as PNG, but typst cannot decode it: refused now rather than failing every PDF later.
        refused(&app.gql(Some(&t.token), SET_LOGO, json!({"l": CORRUPT_PNG})).await);
    }
    let s = app.ok(&t.token, "{ billingSettings { logoContentType } }", json!({})).await;
    assert_eq!(s["billingSettings"]["logoContentType"], Value::Null, "a refused logo is not stored");

    // A cashier reads billing settings but may not change the branding.
    let cashier = app.staff(&t, "CASHIER").await;
    let r = app.gql(Some(&cashier.token), SET_LOGO, json!({"l": PNG_LOGO})).await;
    assert_eq!(code(&r), Some("FORBIDDEN"), "{r:#}");

    // An SVG is sniffed as such (whatever the client might claim) and typeset as vectors.
    let d = app.ok(&t.token, SET_LOGO, json!({"l": b64(svg.as_bytes())})).await;
    assert_eq!(d["updateBillingSettings"]["logoContentType"], "image/svg+xml");
    let s = app.ok(&cashier.token, "{ billingSettings { logoContentType } }", json!({})).await;
    assert_eq!(s["billingSettings"]["logoContentType"], "image/svg+xml");
    let other = app.tenant().await;
    let s = app.ok(&other.token, "{ billingSettings { logoContentType } }", json!({})).await;
    assert_eq!(s["billingSettings"]["logoContentType"], Value::Null, "logos are per tenant");

    set_day(&app, "2024-01-15");
    let plan = plan_priced(&app, &t.token, 1000).await;
    let c = app.customer(&t.token, "Vector Customer").await;
    sub_from(&app, &t.token, &c, &plan, "2024-01-15").await;
    let inv = &run_billing(&app, &t.token, "2024-01-15").await[0];
    let url = app.ok(&t.token, "query($id: ID!) { invoice(id: $id) { pdfUrl } }", json!({"id": inv["id"]})).await
        ["invoice"]["pdfUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = get(&app, &url, Some(&t.token)).await;
    if cfg!(not(feature = "pdf")) {
        assert_eq!(status, 501);
        return;
    }
    assert_pdf(status, &body);
    if let Some(text) = pdf_text(&body) {
        assert!(text.contains("Vector Customer") && text.contains("INV-2024-00001"), "{text}");
    }
}
