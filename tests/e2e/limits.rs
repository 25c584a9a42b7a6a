//! Request limits: query depth, query complexity, body size and batch size.

use crate::*;
use serde_json::{json, Value};

/// An introspection query exactly `depth` fields deep (`__schema queryType fields type ofType... name`).
fn deep(depth: usize) -> String {
    let mut inner = "name".to_string();
    for _ in 0..depth - 5 {
        inner = format!("ofType {{ {inner} }}");
    }
    format!("{{ __schema {{ queryType {{ fields {{ type {{ {inner} }} }} }} }} }}")
}

fn error_text(r: &Value) -> String {
    messages(r).join(" | ").to_lowercase()
}

#[tokio::test]
async fn too_deep_and_too_complex_queries_are_refused() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let max_depth = app.ctx.config.graphql.max_depth;
    let c = app.customer(&t.token, "Deep").await;
    let p = app.plan(&t.token, "Deep", &["PPPOE"]).await;
    app.subscription(&t.token, &c, &p, "deep1", "ACTIVE").await;

    // The deepest allowed query works; one level more is refused.
    let d = app.ok(&t.token, &deep(max_depth), json!({})).await;
    assert!(d["__schema"]["queryType"]["fields"].is_array());
    let r = app.gql(Some(&t.token), &deep(max_depth + 1), json!({})).await;
    assert!(r["data"].is_null(), "{r:#}");
    assert!(error_text(&r).contains("nested too deep"), "{r:#}");
    assert_eq!(code(&r), Some("VALIDATION"), "{r:#}");
    // Real data nested deep is refused too (its fan-out makes it too complex first).
    let r = app
        .gql(
            Some(&t.token),
            "{ customers(first: 1) { edges { node { subscriptions { customer { subscriptions { customer { \
             subscriptions { customer { subscriptions { customer { subscriptions { username } } } } } } } } } } } } }",
            json!({}),
        )
        .await;
    assert!(r["data"].is_null(), "{r:#}");
    assert_eq!(code(&r), Some("VALIDATION"), "{r:#}");

    // Complexity: nested lists under a page of 100 multiply (customers x subscriptions x
    // customer x subscriptions ...), even though the depth is allowed.
    let fan_out = |first: usize| {
        format!(
            "{{ customers(first: {first}) {{ edges {{ node {{ name subscriptions {{ username \
             customer {{ name subscriptions {{ username plan {{ name }} }} }} }} }} }} }} }}"
        )
    };
    let r = app.gql(Some(&t.token), &fan_out(100), json!({})).await;
    assert!(r["data"].is_null(), "{r:#}");
    assert!(error_text(&r).contains("too complex"), "{r:#}");
    assert_eq!(code(&r), Some("VALIDATION"), "{r:#}");
    // The same shape over a small page is fine, and so is a flat page of 100.
    let d = app.ok(&t.token, &fan_out(10), json!({})).await;
    assert_eq!(d["customers"]["edges"][0]["node"]["subscriptions"][0]["customer"]["name"], "Deep");
    app.ok(
        &t.token,
        "{ customers(first: 100) { edges { node { id name subscriptions { username plan { name price { formatted } } } } } } }",
        json!({}),
    )
    .await;
}

#[tokio::test]
async fn request_bodies_over_the_limit_are_refused_with_413() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let limit = app.ctx.config.graphql.max_body_bytes;
    // Padding in a comment, which the server must read (and then ignore) to answer.
    let query = |pad: usize| format!("#{}\n{{ me {{ email }} }}", "x".repeat(pad));
    // Just under the limit: accepted.
    let body = json!({"query": query(limit - 100)});
    assert!(body.to_string().len() < limit);
    let resp = app.post_raw(Some(&t.token), &body, &[]).await;
    assert_eq!(resp.status(), 200);
    let r: Value = resp.json().await.unwrap();
    assert_eq!(r["data"]["me"]["email"], t.email.as_str());
    // Over it: refused before the GraphQL layer sees it.
    let body = json!({"query": query(limit + 1)});
    let resp = app.post_raw(Some(&t.token), &body, &[]).await;
    assert_eq!(resp.status(), 413);
}

#[tokio::test]
async fn batches_of_more_than_ten_operations_are_refused() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let op = json!({"query": "{ me { email } }"});
    let resp = app.post_raw(Some(&t.token), &json!(vec![op.clone(); 11]), &[]).await;
    assert_eq!(resp.status(), 400);
    let r: Value = resp.json().await.unwrap();
    assert_eq!(code(&r), Some("VALIDATION"), "{r:#}");

    let two = json!([op, {"query": "query($n: String!) { customers(filter: {search: $n}) { totalCount } }", "variables": {"n": "xyz"}}]);
    let resp = app.post_raw(Some(&t.token), &two, &[]).await;
    assert_eq!(resp.status(), 200);
    let r: Value = resp.json().await.unwrap();
    let items = r.as_array().unwrap_or_else(|| panic!("a batch answers with an array: {r:#}"));
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["data"]["me"]["email"], t.email.as_str());
    assert_eq!(items[1]["data"]["customers"]["totalCount"], 0);
    // Exactly ten is the most allowed.
    let resp = app.post_raw(Some(&t.token), &json!(vec![json!({"query": "{ me { email } }"}); 10]), &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap().as_array().unwrap().len(), 10);
}
