//! Customer documents and ticket attachments: uploads (GraphQL multipart, files sniffed,
//! size-limited, content-addressed), downloads by role and tenant, deletion audited, generated
//! contracts read back with `pdftotext`.
//!
//! Uploads run the schema in-process with the files set on the request, as the multipart
//! parser hands them over (`upload`); `multipart_requests_reach_the_resolvers` sends a real
//! multipart body over HTTP.

use crate::billing_pdf::pdf_text;
use crate::*;
use isp_core::seed::{sample_pdf, sample_png};
use serde_json::{json, Value};

const UPLOAD: &str = "mutation($c: ID!, $f: Upload!, $k: DocumentKind!, $t: String, $e: String) { \
    uploadCustomerDocument(customerId: $c, file: $f, kind: $k, title: $t, expiresOn: $e) { \
    id kind title fileName contentType size sha256 expiresOn url customer { id } } }";

/// A Windows executable's first bytes.
const EXE: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8\x00\x00\x00";

/// A GraphQL multipart request body (operations, map, then one part per file) and its
/// Content-Type.
pub fn multipart(query: &str, vars: &Value, files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = format!("----isp-test-{}", unique());
    let mut body = Vec::new();
    let mut part = |headers: String, content: &[u8]| {
        body.extend_from_slice(format!("--{boundary}\r\n{headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    };
    let operations = json!({"query": query, "variables": vars}).to_string();
    part("Content-Disposition: form-data; name=\"operations\"".into(), operations.as_bytes());
    let map: serde_json::Map<String, Value> =
        files.iter().enumerate().map(|(i, (path, _, _))| (i.to_string(), json!([path]))).collect();
    part("Content-Disposition: form-data; name=\"map\"".into(), Value::Object(map).to_string().as_bytes());
    for (i, (_, name, bytes)) in files.iter().enumerate() {
        let headers = format!(
            "Content-Disposition: form-data; name=\"{i}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream"
        );
        part(headers, bytes);
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Runs `query` as `token` in-process, its `files` ((variable path, file name, bytes)) sent
/// as a GraphQL multipart request that async-graphql's own parser reads; the whole response
/// as JSON.
pub async fn upload(app: &TestApp, token: &str, query: &str, vars: Value, files: &[(&str, &str, &[u8])]) -> Value {
    let (schema, _) = isp_api::schema::build_pair(app.ctx.clone(), &app.ctx.config.graphql);
    let (content_type, body) = multipart(query, &vars, files);
    let mut req = async_graphql::http::receive_body(
        Some(content_type),
        body.as_slice(),
        async_graphql::http::MultipartOptions::default(),
    )
    .await
    .expect("a valid multipart request");
    req.data = isp_api::caller_data(&app.ctx, Some(token), "127.0.0.1".into());
    serde_json::to_value(schema.execute(req).await).unwrap()
}

/// Uploads `bytes` as `name` for `customer`; the response.
async fn upload_doc(app: &TestApp, token: &str, customer: &str, kind: &str, name: &str, bytes: &[u8]) -> Value {
    upload(app, token, UPLOAD, json!({"c": customer, "f": null, "k": kind, "t": null}), &[("variables.f", name, bytes)])
        .await
}

/// GET `path` with `token`: status, headers and body.
async fn get(app: &TestApp, path: &str, token: Option<&str>) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = app.client.get(format!("{}{path}", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, headers, r.bytes().await.unwrap().to_vec())
}

fn blob_files(app: &TestApp) -> usize {
    let dir = app.data_dir().join("blobs");
    let Ok(folders) = std::fs::read_dir(&dir) else { return 0 };
    folders.map(|f| std::fs::read_dir(f.unwrap().path()).unwrap().count()).sum()
}

async fn tenant_id(app: &TestApp, token: &str) -> i64 {
    isp_core::workflows::staff::authenticate(&app.ctx, token, None).unwrap().tenant_id
}

#[tokio::test]
async fn a_document_uploaded_by_support_is_downloadable_by_the_owner_and_404_for_another_tenant() {
    let app = spawn_app().await;
    let a = app.tenant().await;
    let support = app.staff(&a, "SUPPORT").await;
    let customer = app.customer(&a.token, "Dana Documents").await;
    let png = sample_png(20, 10, 1);
    let r = upload(
        &app,
        &support.token,
        UPLOAD,
        json!({"c": customer, "f": null, "k": "ID_SCAN", "t": "Passport", "e": "2030-01-31"}),
        &[("variables.f", "passport.png", &png)],
    )
    .await;
    assert!(r["errors"].is_null(), "{r:#}");
    let d = &r["data"]["uploadCustomerDocument"];
    assert_eq!(d["kind"], "ID_SCAN");
    assert_eq!(d["title"], "Passport");
    assert_eq!(d["fileName"], "passport.png");
    assert_eq!(d["contentType"], "image/png");
    assert_eq!(d["size"], png.len() as i64);
    assert_eq!(d["expiresOn"], "2030-01-31");
    assert_eq!(d["customer"]["id"], customer.as_str());
    let id = d["id"].as_str().unwrap().to_string();
    let url = d["url"].as_str().unwrap().to_string();
    assert_eq!(url, format!("/documents/{id}"));

    // The owner downloads exactly the bytes, with the sniffed type and the name.
    let (status, headers, body) = get(&app, &url, Some(&a.token)).await;
    assert_eq!(status, 200);
    assert_eq!(body, png);
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("inline; filename=\"passport.png\""), "{disposition}");
    // The file is where its hash says.
    let sha = d["sha256"].as_str().unwrap();
    let on_disk = app.data_dir().join("blobs").join(&sha[..2]).join(&sha[2..]);
    assert_eq!(std::fs::read(on_disk).unwrap(), png);

    // Listed on the customer, by the root field, and found as a node.
    let q = "query($c: ID!, $id: ID!) { customer(id: $c) { documents { id title } } \
             customerDocuments(customerId: $c) { id fileName } node(id: $id) { id ... on CustomerDocument { title } } }";
    let l = app.ok(&a.token, q, json!({"c": customer, "id": id})).await;
    assert_eq!(l["customer"]["documents"][0]["id"], id.as_str());
    assert_eq!(l["customerDocuments"].as_array().unwrap().len(), 1);
    assert_eq!(l["node"]["title"], "Passport");

    // Another tenant: 404 over HTTP, nothing in the graph.
    let b = app.tenant().await;
    assert_eq!(get(&app, &url, Some(&b.token)).await.0, 404);
    let l = app.gql(Some(&b.token), "query($id: ID!) { node(id: $id) { id } }", json!({"id": id})).await;
    assert!(l["data"]["node"].is_null(), "{l:#}");
    let l =
        app.ok(&b.token, "query($c: ID!) { customerDocuments(customerId: $c) { id } }", json!({"c": customer})).await;
    assert_eq!(l["customerDocuments"], json!([]));
    let r = upload_doc(&app, &b.token, &customer, "PHOTO", "x.png", &png).await;
    assert_eq!(field(&r), Some("customerId"), "{r:#}");
    // No token, a bad id, a role without DocumentRead.
    assert_eq!(get(&app, &url, None).await.0, 401);
    assert_eq!(get(&app, "/documents/nonsense", Some(&a.token)).await.0, 404);
    let cashier = app.staff(&a, "CASHIER").await;
    assert_eq!(get(&app, &url, Some(&cashier.token)).await.0, 403);
}

#[tokio::test]
async fn roles_follow_the_matrix() {
    let app = spawn_app().await;
    let a = app.tenant().await;
    let customer = app.customer(&a.token, "Rolf Roles").await;
    let png = sample_png(4, 4, 2);
    for role in ["ADMIN", "MANAGER", "SUPPORT", "ENGINEER", "CASHIER"] {
        let s = app.staff(&a, role).await;
        let r = upload_doc(&app, &s.token, &customer, "PHOTO", "p.png", &png).await;
        let may_write = matches!(role, "ADMIN" | "MANAGER" | "SUPPORT");
        assert_eq!(r["errors"].is_null(), may_write, "{role} upload: {r:#}");
        if !may_write {
            assert_eq!(code(&r), Some("FORBIDDEN"), "{role}");
        }
        let l = app
            .gql(Some(&s.token), "query($c: ID!) { customerDocuments(customerId: $c) { id } }", json!({"c": customer}))
            .await;
        assert_eq!(l["errors"].is_null(), may_write, "{role} list: {l:#}");
        let l = app
            .gql(Some(&s.token), "query($c: ID!) { customer(id: $c) { documents { id } } }", json!({"c": customer}))
            .await;
        assert_eq!(l["errors"].is_null(), may_write, "{role} nested list: {l:#}");
    }
}

#[tokio::test]
async fn types_are_sniffed_from_the_bytes_and_sizes_limited_per_tenant() {
    let app = spawn_app().await;
    let a = app.tenant().await;
    let t = tenant_id(&app, &a.token).await;
    let customer = app.customer(&a.token, "Sniff Tester").await;
    // A .pdf name with PNG bytes is a PNG.
    let png = sample_png(8, 8, 3);
    let r = upload_doc(&app, &a.token, &customer, "OTHER", "scan.pdf", &png).await;
    let d = &r["data"]["uploadCustomerDocument"];
    assert_eq!(d["contentType"], "image/png", "{r:#}");
    assert_eq!(d["fileName"], "scan.png");
    assert_eq!(d["title"], "scan.png", "the title defaults to the file name");
    let pdf = sample_pdf("Hello");
    let r = upload_doc(&app, &a.token, &customer, "CONTRACT", "contract", &pdf).await;
    assert_eq!(r["data"]["uploadCustomerDocument"]["contentType"], "application/pdf", "{r:#}");
    let files_before = blob_files(&app);
    let blobs_before = isp_core::store::documents::blob_count(&app.ctx.db, t).await.unwrap();
    // An executable, whatever it is called, and an empty file, are refused.
    for (name, bytes) in [("setup.exe", EXE), ("setup.png", EXE), ("empty.pdf", &b""[..])] {
        let r = upload_doc(&app, &a.token, &customer, "OTHER", name, bytes).await;
        assert_eq!(code(&r), Some("VALIDATION"), "{name}: {r:#}");
        assert_eq!(field(&r), Some("file"), "{name}");
    }
    // Bad metadata is refused before anything is written.
    let r = upload(
        &app,
        &a.token,
        UPLOAD,
        json!({"c": customer, "f": null, "k": "ID_SCAN", "e": "31.12.2030"}),
        &[("variables.f", "id.png", &sample_png(9, 9, 9))],
    )
    .await;
    assert_eq!(field(&r), Some("expiresOn"), "{r:#}");
    // The tenant's limit.
    let r = app.ok(&a.token, "{ tenant { settings { documentMaxBytes } } }", json!({})).await;
    assert_eq!(r["tenant"]["settings"]["documentMaxBytes"], 10 * 1024 * 1024);
    let r = app.gql(Some(&a.token), "mutation { updateTenant(input: {documentMaxBytes: 10}) { id } }", json!({})).await;
    assert_eq!(field(&r), Some("documentMaxBytes"), "{r:#}");
    app.ok(&a.token, "mutation { updateTenant(input: {documentMaxBytes: 2048}) { id } }", json!({})).await;
    let big = sample_png(40, 40, 4);
    assert!(big.len() > 2048);
    let r = upload_doc(&app, &a.token, &customer, "PHOTO", "big.png", &big).await;
    assert_eq!(code(&r), Some("VALIDATION"), "{r:#}");
    assert!(r["errors"][0]["message"].as_str().unwrap().contains("2048"), "{r:#}");
    // Nothing was half-written: no file, no blob, no document.
    assert_eq!(blob_files(&app), files_before);
    assert_eq!(isp_core::store::documents::blob_count(&app.ctx.db, t).await.unwrap(), blobs_before);
    let l =
        app.ok(&a.token, "query($c: ID!) { customerDocuments(customerId: $c) { id } }", json!({"c": customer})).await;
    assert_eq!(l["customerDocuments"].as_array().unwrap().len(), 2);
    // Another tenant keeps the default limit.
    let b = app.tenant().await;
    let bc = app.customer(&b.token, "B").await;
    let r = upload_doc(&app, &b.token, &bc, "PHOTO", "big.png", &big).await;
    assert!(r["errors"].is_null(), "{r:#}");
}

#[tokio::test]
async fn the_same_bytes_twice_are_one_blob() {
    let app = spawn_app().await;
    let a = app.tenant().await;
    let t = tenant_id(&app, &a.token).await;
    let c1 = app.customer(&a.token, "Twin One").await;
    let c2 = app.customer(&a.token, "Twin Two").await;
    let png = sample_png(16, 16, 5);
    let r1 = upload_doc(&app, &a.token, &c1, "PHOTO", "a.png", &png).await;
    let r2 = upload_doc(&app, &a.token, &c2, "PHOTO", "b.png", &png).await;
    let (d1, d2) = (&r1["data"]["uploadCustomerDocument"], &r2["data"]["uploadCustomerDocument"]);
    assert_ne!(d1["id"], d2["id"], "two documents");
    assert_eq!(d1["sha256"], d2["sha256"]);
    assert_eq!(isp_core::store::documents::blob_count(&app.ctx.db, t).await.unwrap(), 1, "one blob row");
    assert_eq!(blob_files(&app), 1, "one file");
    upload_doc(&app, &a.token, &c1, "PHOTO", "c.png", &sample_png(16, 16, 6)).await;
    assert_eq!(isp_core::store::documents::blob_count(&app.ctx.db, t).await.unwrap(), 2);
    assert_eq!(blob_files(&app), 2);
}

#[tokio::test]
async fn deletion_is_audited_and_ends_downloads() {
    let app = spawn_app().await;
    let a = app.tenant().await;
    let support = app.staff(&a, "SUPPORT").await;
    let manager = app.staff(&a, "MANAGER").await;
    let customer = app.customer(&a.token, "Del Eted").await;
    let r = upload_doc(&app, &support.token, &customer, "ID_SCAN", "id.png", &sample_png(5, 5, 7)).await;
    let id = r["data"]["uploadCustomerDocument"]["id"].as_str().unwrap().to_string();
    let url = format!("/documents/{id}");
    let del = "mutation($id: ID!) { deleteCustomerDocument(id: $id) { id deletedAt } }";
    let r = app.gql(Some(&support.token), del, json!({"id": id})).await;
    assert_eq!(code(&r), Some("FORBIDDEN"), "{r:#}");
    let b = app.tenant().await;
    let r = app.gql(Some(&b.token), del, json!({"id": id})).await;
    assert_eq!(code(&r), Some("NOT_FOUND"), "{r:#}");
    assert_eq!(get(&app, &url, Some(&a.token)).await.0, 200);
    let d = app.ok(&manager.token, del, json!({"id": id})).await;
    assert!(d["deleteCustomerDocument"]["deletedAt"].is_string());
    assert_eq!(get(&app, &url, Some(&a.token)).await.0, 404);
    let r = app.gql(Some(&manager.token), del, json!({"id": id})).await;
    assert_eq!(code(&r), Some("NOT_FOUND"), "deleting twice: {r:#}");
    let l =
        app.ok(&a.token, "query($c: ID!) { customerDocuments(customerId: $c) { id } }", json!({"c": customer})).await;
    assert_eq!(l["customerDocuments"], json!([]));
    let log = app
        .ok(
            &a.token,
            "query($o: ID) { auditLog(filter: {objectId: $o}) { nodes { action actorId details } } }",
            json!({"o": id}),
        )
        .await;
    let actions: Vec<&str> =
        log["auditLog"]["nodes"].as_array().unwrap().iter().map(|n| n["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"document.upload") && actions.contains(&"document.delete"), "{log:#}");
}

#[tokio::test]
async fn ticket_attachments_are_served_to_ticket_readers_of_the_tenant_only() {
    let app = spawn_app().await;
    let a = app.tenant().await;
    let support = app.staff(&a, "SUPPORT").await;
    let cashier = app.staff(&a, "CASHIER").await;
    let customer = app.customer(&a.token, "Tim Ticket").await;
    let d = app
        .ok(
            &support.token,
            "mutation($c: ID) { createTicket(input: {subject: \"No signal\", customerId: $c}) { id } }",
            json!({"c": customer}),
        )
        .await;
    let ticket = d["createTicket"]["id"].as_str().unwrap().to_string();
    let photo = sample_png(12, 6, 8);
    let pdf = sample_pdf("Line test");
    let reply = "mutation($id: ID!, $f: [Upload!]) { replyTicket(id: $id, body: \"See the attached test\", attachments: $f) { id } }";
    let r = upload(
        &app,
        &support.token,
        reply,
        json!({"id": ticket, "f": [null, null]}),
        &[("variables.f.0", "line-test.pdf", &pdf), ("variables.f.1", "leds.jpg", &photo)],
    )
    .await;
    assert!(r["errors"].is_null(), "{r:#}");
    let note = "mutation($id: ID!, $f: [Upload!]) { addTicketNote(id: $id, body: \"Internal photo\", attachments: $f) { id } }";
    let r = upload(
        &app,
        &support.token,
        note,
        json!({"id": ticket, "f": [null]}),
        &[("variables.f.0", "internal.png", &photo)],
    )
    .await;
    assert!(r["errors"].is_null(), "{r:#}");
    // A bad file refuses the whole message.
    let r =
        upload(&app, &support.token, note, json!({"id": ticket, "f": [null]}), &[("variables.f.0", "virus.exe", EXE)])
            .await;
    assert_eq!(code(&r), Some("VALIDATION"), "{r:#}");
    assert_eq!(field(&r), Some("attachments.0"), "{r:#}");

    let q = "query($id: ID!) { ticket(id: $id) { messages { kind body attachments { id fileName contentType size url } } } }";
    let d = app.ok(&support.token, q, json!({"id": ticket})).await;
    let msgs = d["ticket"]["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2, "the refused note was not written: {d:#}");
    let atts = msgs[0]["attachments"].as_array().unwrap();
    assert_eq!(atts.len(), 2);
    assert_eq!(atts[0]["fileName"], "line-test.pdf");
    assert_eq!(atts[0]["contentType"], "application/pdf");
    assert_eq!(atts[1]["fileName"], "leds.png", "the type comes from the bytes");
    assert_eq!(atts[1]["size"], photo.len() as i64);
    assert_eq!(msgs[1]["kind"], "INTERNAL_NOTE");
    let internal_url = msgs[1]["attachments"][0]["url"].as_str().unwrap().to_string();
    let url = atts[0]["url"].as_str().unwrap().to_string();
    assert!(url.starts_with("/tickets/attachments/"), "{url}");

    let (status, headers, body) = get(&app, &url, Some(&support.token)).await;
    assert_eq!((status, body), (200, pdf.clone()));
    assert_eq!(headers["content-type"], "application/pdf");
    assert!(headers["content-disposition"].to_str().unwrap().contains("line-test.pdf"));
    // Every role that may read tickets may read their files (cashiers read tickets).
    assert_eq!(get(&app, &internal_url, Some(&cashier.token)).await.0, 200);
    let b = app.tenant().await;
    assert_eq!(get(&app, &url, Some(&b.token)).await.0, 404);
    assert_eq!(get(&app, &internal_url, Some(&b.token)).await.0, 404);
    assert_eq!(get(&app, &url, None).await.0, 401);
    // A document ID is not an attachment ID, and the other way round.
    let doc_path = url.replace("/tickets/attachments/", "/documents/");
    assert_eq!(get(&app, &doc_path, Some(&a.token)).await.0, 404);

    // The note's files are recorded with the note, audited.
    let log = app
        .ok(
            &a.token,
            "query($o: ID) { auditLog(filter: {objectId: $o}) { nodes { action details } } }",
            json!({"o": ticket}),
        )
        .await;
    let nodes = log["auditLog"]["nodes"].as_array().unwrap();
    let note_entry = nodes.iter().find(|n| n["action"] == "ticket.note").expect("note audited");
    assert_eq!(note_entry["details"]["attachments"][0]["fileName"], "internal.png", "{log:#}");
}

#[tokio::test]
async fn contracts_are_generated_from_the_tenant_template_and_stored_as_documents() {
    let app = spawn_app().await;
    let a = app.tenant().await;
    let support = app.staff(&a, "SUPPORT").await;
    let customer = app.customer(&a.token, "Connie Contract").await;
    let plan = app.plan(&a.token, "Fiber Gigabit Home", &["PPPOE"]).await;
    let sub = app.subscription(&a.token, &customer, &plan, &format!("connie{}", unique()), "ACTIVE").await;
    let gen = "mutation($s: ID!) { generateContract(subscriptionId: $s) { id kind title fileName contentType url customer { id } } }";
    let d = app.ok(&support.token, gen, json!({"s": sub})).await;
    let doc = &d["generateContract"];
    assert_eq!(doc["kind"], "CONTRACT");
    assert_eq!(doc["contentType"], "application/pdf");
    assert_eq!(doc["customer"]["id"], customer.as_str());
    assert!(doc["title"].as_str().unwrap().contains("Fiber Gigabit Home"), "{doc}");
    let (status, headers, pdf) = get(&app, doc["url"].as_str().unwrap(), Some(&a.token)).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/pdf");
    assert!(pdf.starts_with(b"%PDF-"));
    if let Some(text) = pdf_text(&pdf) {
        assert!(text.contains("Connie Contract"), "{text}");
        assert!(text.contains("Fiber Gigabit Home"), "{text}");
        assert!(text.contains("50 Mbit/s"), "{text}");
    }

    // The tenant's own template; a template that does not typeset is refused.
    let set = "mutation($t: String) { setContractTemplate(template: $t) { custom body } }";
    let r = app.gql(Some(&support.token), set, json!({"t": "x"})).await;
    assert_eq!(code(&r), Some("FORBIDDEN"), "{r:#}");
    let r = app.gql(Some(&a.token), set, json!({"t": "#customer.shoe_size"})).await;
    assert_eq!(field(&r), Some("template"), "{r:#}");
    let own = "= Agreement\nCustom terms for #customer.name on #plan.name at #plan.price.";
    let d = app.ok(&a.token, set, json!({"t": own})).await;
    assert_eq!(d["setContractTemplate"]["custom"], true);
    let d = app.ok(&a.token, "{ contractTemplate { custom body } }", json!({})).await;
    assert_eq!(d["contractTemplate"]["body"], own);
    let d = app.ok(&support.token, gen, json!({"s": sub})).await;
    let (_, _, pdf) = get(&app, d["generateContract"]["url"].as_str().unwrap(), Some(&a.token)).await;
    if let Some(text) = pdf_text(&pdf) {
        assert!(text.contains("Custom terms for Connie Contract on Fiber Gigabit Home"), "{text}");
    }
    let d = app.ok(&a.token, set, json!({"t": null})).await;
    assert_eq!(d["setContractTemplate"]["custom"], false);
    // Another tenant cannot generate A's contract.
    let b = app.tenant().await;
    let r = app.gql(Some(&b.token), gen, json!({"s": sub})).await;
    assert_eq!(code(&r), Some("NOT_FOUND"), "{r:#}");
    let l =
        app.ok(&a.token, "query($c: ID!) { customerDocuments(customerId: $c) { kind } }", json!({"c": customer})).await;
    assert_eq!(l["customerDocuments"].as_array().unwrap().len(), 2);
}

/// The same upload as a real `multipart/form-data` POST to `/graphql`, as curl sends it.
#[tokio::test]
async fn multipart_requests_reach_the_resolvers() {
    let app = spawn_app().await;
    let a = app.tenant().await;
    let customer = app.customer(&a.token, "Mo Multipart").await;
    let png = sample_png(10, 10, 11);
    let (content_type, body) =
        multipart(UPLOAD, &json!({"c": customer, "f": null, "k": "PHOTO"}), &[("variables.f", "router.pdf", &png)]);
    let r: Value = app
        .client
        .post(format!("{}/graphql", app.base))
        .bearer_auth(&a.token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(r["errors"].is_null(), "{r:#}");
    let d = &r["data"]["uploadCustomerDocument"];
    assert_eq!(d["fileName"], "router.png");
    assert_eq!(d["contentType"], "image/png");
    let (status, _, bytes) = get(&app, d["url"].as_str().unwrap(), Some(&a.token)).await;
    assert_eq!((status, bytes), (200, png));
}
