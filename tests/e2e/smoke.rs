//! The quick-start path: sign up, log in, create and list data.

use crate::*;
use serde_json::json;

#[tokio::test]
async fn sign_up_log_in_and_list_customers() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let token = app.login(&t.slug, &t.email, &t.password).await;
    let d = app.ok(&token, "mutation { createCustomer(input: {name: \"Ada Lovelace\", email: \"ADA@example.com\"}) { id accountNumber email } }", json!({})).await;
    assert_eq!(d["createCustomer"]["accountNumber"], "C000001");
    assert_eq!(d["createCustomer"]["email"], "ada@example.com");
    let d = app.ok(&token, "{ customers(first: 10) { totalCount edges { node { name } } } }", json!({})).await;
    assert_eq!(d["customers"]["totalCount"], 1);
    assert_eq!(d["customers"]["edges"][0]["node"]["name"], "Ada Lovelace");
    let health = app.client.get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.client.get(format!("{}/readyz", app.base)).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

/// Writers racing on one tenant all succeed, and account numbers stay gapless and unique.
#[tokio::test]
async fn concurrent_creates_get_gapless_account_numbers() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let q = "mutation($n: String!) { createCustomer(input: {name: $n}) { accountNumber } }";
    let futures = (0..20).map(|i| app.gql(Some(&t.token), q, json!({"n": format!("Racer {i}")})));
    let results = futures::future::join_all(futures).await;
    let mut numbers: Vec<String> = results
        .iter()
        .map(|r| r["data"]["createCustomer"]["accountNumber"].as_str().unwrap_or_else(|| panic!("{r}")).to_string())
        .collect();
    numbers.sort();
    let expected: Vec<String> = (1..=20).map(|i| format!("C{i:06}")).collect();
    assert_eq!(numbers, expected);
}

/// `GET /openapi.json` documents exactly the REST routes the router serves, and each answers
/// as documented for a caller without credentials.
#[tokio::test]
async fn openapi_documents_every_rest_route() {
    let app = spawn_app().await;
    let r = app.client.get(format!("{}/openapi.json", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let doc: serde_json::Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.0"));
    let mut paths: Vec<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "/documents/{id}",
            "/exports/{kind}.{format}",
            "/healthz",
            "/invoices/{id}/pdf",
            "/metrics",
            "/openapi.json",
            "/payments/{id}/receipt",
            "/readyz",
            "/tickets/attachments/{id}",
            "/webhooks/payments/{provider}"
        ]
    );
    let get = |path: &str| {
        let url = format!("{}{path}", app.base);
        let client = app.client.clone();
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    };
    for (path, want) in [
        ("/healthz", 200),
        ("/readyz", 200),
        ("/metrics", 200),
        ("/invoices/x/pdf", 401),
        ("/payments/x/receipt", 401),
        ("/documents/x", 401),
        ("/tickets/attachments/x", 401),
    ] {
        assert_eq!(get(path).await, want, "{path}");
        let template = match path.strip_suffix("/x") {
            Some(p) => format!("{p}/{{id}}"),
            None => path.replace("/x/", "/{id}/"),
        };
        let documented = &doc["paths"][template.as_str()]["get"]["responses"][want.to_string()];
        assert!(documented.is_object(), "{path} answers {want}, which the document does not list");
    }
    assert_eq!(get("/exports/customers.csv").await, 401);
    assert!(doc["paths"]["/exports/{kind}.{format}"]["get"]["responses"]["401"].is_object());
    let r = app
        .client
        .post(format!("{}/webhooks/payments/nosuch?tenant=nosuch", app.base))
        .json(&serde_json::json!({"id": "ev1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "NOT_FOUND", "{body}");
}
