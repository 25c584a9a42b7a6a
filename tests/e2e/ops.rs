//! Operator endpoints: Prometheus metrics and GraphiQL.

use crate::*;
use serde_json::json;

/// The value of an unlabelled sample `name` in Prometheus text.
fn sample(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test]
async fn metrics_are_prometheus_text_and_count_requests() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let get = || async {
        let resp = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("text/plain"), "{ct}");
        resp.text().await.unwrap()
    };
    let before = get().await;
    assert!(before.contains("# TYPE isp_graphql_requests_total counter"), "{before}");
    let n0 = sample(&before, "isp_graphql_requests_total").unwrap();
    for _ in 0..3 {
        app.ok(&t.token, "{ me { email } }", json!({})).await;
    }
    let r = app.gql(Some(&t.token), "{ nope }", json!({})).await;
    assert!(r["errors"].is_array());
    let after = get().await;
    assert_eq!(sample(&after, "isp_graphql_requests_total"), Some(n0 + 4), "{after}");
    assert!(sample(&after, "isp_graphql_errors_total").unwrap_or(0) >= 1, "{after}");
    assert!(after.contains("# HELP isp_graphql_requests_total "), "{after}");
    assert!(sample(&after, "isp_db_statements").is_some(), "{after}");
    // Every sample line is `name[{labels}] value`.
    for line in after.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (name, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad line {line:?}"));
        assert!(value.parse::<f64>().is_ok(), "bad value in {line:?}");
        assert!(name.starts_with("isp_"), "unprefixed metric {line:?}");
    }
}

#[tokio::test]
async fn get_graphql_serves_graphiql_and_can_be_turned_off() {
    let app = spawn_app().await;
    let resp = app.client.get(format!("{}/graphql", app.base)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = resp.text().await.unwrap();
    assert!(html.to_lowercase().contains("graphiql"), "{html}");
    assert!(html.contains("/graphql/ws"), "subscriptions endpoint missing: {html}");

    let off = spawn_app_with(|c| c.graphql.graphiql = false).await;
    let resp = off.client.get(format!("{}/graphql", off.base)).send().await.unwrap();
    assert_eq!(resp.status(), 404);
}
