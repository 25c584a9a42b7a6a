//! GraphiQL on `GET /graphql`, served entirely from this binary: React, ReactDOM and
//! GraphiQL's browser builds are vendored in `api/assets/graphiql/` (versions and how to
//! refresh them in its README) and embedded here, so the playground works on a network
//! without internet. The page loads them from `/graphql/assets/...` with a content hash in
//! the URL, so they are cached for a year and a new build is fetched at once.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// Where the assets are served.
pub const ASSETS_PATH: &str = "/graphql/assets";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    /// Quoted ETag: the start of the SHA-256 of `bytes`, also used in the page's URLs.
    etag: String,
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        ($name, $content_type, include_bytes!(concat!("../assets/graphiql/", $name)).as_slice())
    };
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    [
        asset!("react.production.min.js", JS),
        asset!("react-dom.production.min.js", JS),
        asset!("graphiql.min.js", JS),
        asset!("graphiql.min.css", CSS),
    ]
    .into_iter()
    .map(|(name, content_type, bytes)| {
        let digest = Sha256::digest(bytes);
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Asset { name, content_type, bytes, etag: format!("\"{hex}\"") }
    })
    .collect()
});

fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// The URL of an embedded file, versioned by its content.
fn url(name: &str) -> String {
    let a = asset(name).expect("an embedded GraphiQL asset");
    format!("{ASSETS_PATH}/{}?v={}", a.name, a.etag.trim_matches('"'))
}

/// The page: GraphiQL against `endpoint`, with subscriptions over graphql-transport-ws on
/// `ws_endpoint` (both paths on the page's own origin).
pub fn page(endpoint: &str, ws_endpoint: &str, title: &str) -> String {
    // Paths and title are ours, not the client's; JSON-quote them for the script anyway.
    let js = |s: &str| serde_json::to_string(s).unwrap_or_default().replace('<', "\\u003c");
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="robots" content="noindex">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>{title}</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="{css}">
    <style>body {{ margin: 0; overflow: hidden; }} #graphiql {{ height: 100vh; }}</style>
    <script src="{react}"></script>
    <script src="{react_dom}"></script>
  </head>
  <body>
    <div id="graphiql">Loading...</div>
    <script src="{graphiql}"></script>
    <script>
      const here = (path, ws) => {{
        const url = new URL(path, window.location.origin);
        if (ws) url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
        return url.toString();
      }};
      ReactDOM.createRoot(document.getElementById('graphiql')).render(
        React.createElement(GraphiQL, {{
          // Headers from the Headers tab also go into the WebSocket's connection_init payload,
          // where the server reads {{"authorization": "Bearer ..."}} for subscriptions.
          fetcher: GraphiQL.createFetcher({{
            url: here({endpoint}),
            subscriptionUrl: here({ws_endpoint}, true),
            fetch: (url, opts = {{}}) => fetch(url, {{ ...opts, credentials: 'same-origin' }}),
          }}),
          defaultEditorToolsVisibility: true,
        }}),
      );
    </script>
  </body>
</html>
"#,
        title = title.replace('&', "&amp;").replace('<', "&lt;"),
        css = url("graphiql.min.css"),
        react = url("react.production.min.js"),
        react_dom = url("react-dom.production.min.js"),
        graphiql = url("graphiql.min.js"),
        endpoint = js(endpoint),
        ws_endpoint = js(ws_endpoint),
    )
}

/// `GET /graphql`: the GraphiQL page, unless `graphql.graphiql` is off.
pub(crate) async fn graphiql(State(st): State<crate::AppState>) -> Response {
    if !st.ctx.config.graphql.graphiql {
        return (StatusCode::NOT_FOUND, "GraphiQL is disabled").into_response();
    }
    static PAGE: LazyLock<String> = LazyLock::new(|| page("/graphql", "/graphql/ws", "ISP API"));
    ([(header::CACHE_CONTROL, "no-cache")], Html(PAGE.as_str())).into_response()
}

/// `GET /graphql/assets/{file}`: an embedded file with its content type, a year's caching
/// (its URL changes with its content) and an ETag for revalidation.
pub(crate) async fn asset_file(
    State(st): State<crate::AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let found = asset(&file).filter(|_| st.ctx.config.graphql.graphiql);
    let Some(a) = found else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let etag = HeaderValue::from_str(&a.etag).expect("hex ETag");
    let cache = HeaderValue::from_static("public, max-age=31536000, immutable");
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == a.etag || t == "*");
    if matches {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag), (header::CACHE_CONTROL, cache)]).into_response();
    }
    let content_type = HeaderValue::from_static(a.content_type);
    ([(header::CONTENT_TYPE, content_type), (header::ETAG, etag), (header::CACHE_CONTROL, cache)], a.bytes)
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_embedded_assets_from_its_own_origin() {
        let html = page("/graphql", "/graphql/ws", "ISP API");
        for name in ["react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "graphiql.min.css"] {
            let a = asset(name).unwrap();
            assert!(html.contains(&format!("{ASSETS_PATH}/{name}?v={}", a.etag.trim_matches('"'))), "{name}");
            assert_eq!(a.etag.len(), 18, "{}", a.etag);
        }
        // Nothing from elsewhere: no absolute URL at all.
        assert!(!html.contains("://"), "{html}");
        assert!(html.contains("\"/graphql/ws\""), "{html}");
    }

    #[test]
    fn the_vendored_files_are_the_production_builds() {
        // Development builds are several times larger and print warnings; keep them out.
        for a in ASSETS.iter() {
            assert!(!a.bytes.is_empty(), "{}", a.name);
            let head = String::from_utf8_lossy(&a.bytes[..a.bytes.len().min(4096)]);
            assert!(!head.contains("development"), "{} looks like a development build", a.name);
        }
        let total: usize = ASSETS.iter().map(|a| a.bytes.len()).sum();
        assert!(total < 2 << 20, "vendored GraphiQL grew to {total} bytes");
    }

    #[test]
    fn the_readme_names_the_files_as_they_are() {
        // A refresh that forgets the README (versions, checksums) fails here.
        let readme = include_str!("../assets/graphiql/README.md");
        for a in ASSETS.iter() {
            let hex: String = Sha256::digest(a.bytes).iter().map(|b| format!("{b:02x}")).collect();
            let row = readme.lines().find(|l| l.starts_with(&format!("| `{}` |", a.name))).expect("a row per file");
            assert!(row.contains(&hex), "README's checksum of {} is not {hex}", a.name);
        }
    }
}
