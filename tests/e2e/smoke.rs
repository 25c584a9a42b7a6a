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
