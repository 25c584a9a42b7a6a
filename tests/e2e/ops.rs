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

#[tokio::test]
async fn graphiql_assets_come_from_the_binary_with_long_caching_and_etags() {
    let app = spawn_app().await;
    let html = app.client.get(format!("{}/graphql", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("://"), "the page names no other host: {html}");
    // Every script and stylesheet the page loads is one of ours.
    let urls: Vec<&str> = html.split(['"', '\'']).filter(|s| s.starts_with("/graphql/assets/")).collect();
    assert_eq!(urls.len(), 4, "{html}");
    for url in urls {
        let resp = app.client.get(format!("{}{url}", app.base)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{url}");
        let h = resp.headers().clone();
        let ct = h["content-type"].to_str().unwrap();
        let want = if url.contains(".js?") { "text/javascript" } else { "text/css" };
        assert!(ct.starts_with(want), "{url}: {ct}");
        assert_eq!(h["cache-control"], "public, max-age=31536000, immutable", "{url}");
        let etag = h["etag"].to_str().unwrap().to_string();
        // The URL carries the content hash that is also the ETag, so a new build is a new URL.
        assert!(url.ends_with(&format!("?v={}", etag.trim_matches('"'))), "{url} vs {etag}");
        assert!(resp.bytes().await.unwrap().len() > 1000, "{url}");
        // Revalidation: 304 without a body.
        let again = app.client.get(format!("{}{url}", app.base)).header("if-none-match", &etag).send().await.unwrap();
        assert_eq!(again.status(), 304, "{url}");
        assert!(again.bytes().await.unwrap().is_empty());
        let other =
            app.client.get(format!("{}{url}", app.base)).header("if-none-match", "\"0000\"").send().await.unwrap();
        assert_eq!(other.status(), 200, "{url}");
    }
    let missing = app.client.get(format!("{}/graphql/assets/nope.js", app.base)).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    // With GraphiQL off, its files are gone too.
    let off = spawn_app_with(|c| c.graphql.graphiql = false).await;
    let resp = off.client.get(format!("{}/graphql/assets/graphiql.min.js", off.base)).send().await.unwrap();
    assert_eq!(resp.status(), 404);
}
