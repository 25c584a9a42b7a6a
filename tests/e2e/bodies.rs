//! Malformed `POST /graphql` bodies: each is refused with the HTTP status that names the
//! problem and a GraphQL error body (`extensions.code` VALIDATION) in JSON, never the text
//! of a Rust error.

use crate::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `body` with `content_type` (none if `None`); the status, content type and JSON body.
async fn post(app: &TestApp, content_type: Option<&str>, body: Vec<u8>) -> (u16, String, Value) {
    let mut req = app.client.post(format!("{}/graphql", app.base)).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp.headers().get("content-type").map_or("", |v| v.to_str().unwrap()).to_string();
    let text = resp.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {status} {text:?}"));
    (status, ct, json)
}

/// Asserts a refusal: `status`, JSON, one VALIDATION error whose message contains `says`.
fn assert_refused(case: &str, got: &(u16, String, Value), status: u16, says: &str) {
    let (s, ct, body) = got;
    assert_eq!(*s, status, "{case}: {body:#}");
    assert_eq!(ct, "application/json", "{case}");
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(1), "{case}: {body:#}");
    assert_eq!(code(body), Some("VALIDATION"), "{case}: {body:#}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains(says), "{case}: {message:?} lacks {says:?}");
    for internal in ["Error(", "ParseRequestError", "InvalidRequest", "untagged", "BatchRequest"] {
        assert!(!message.contains(internal), "{case}: {message:?}");
    }
    assert!(body.get("data").is_none(), "{case}: {body:#}");
}

#[tokio::test]
async fn malformed_bodies_get_graphql_errors_with_the_right_status() {
    let app = spawn_app().await;
    let json_ct = Some("application/json");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("invalid UTF-8", b"{\"query\": \"{ me { email } }\xff\xfe\"}".to_vec(), "not valid UTF-8"),
        ("not JSON", b"query={ me { email } }".to_vec(), "not valid JSON"),
        ("truncated JSON", b"{\"query\": \"{ me".to_vec(), "not valid JSON"),
        ("JSON null", b"null".to_vec(), "the request body is null"),
        ("empty body", Vec::new(), "the request body is empty"),
        ("whitespace only", b" \r\n".to_vec(), "the request body is empty"),
        ("a number", b"42".to_vec(), "is a number"),
        ("a string", b"\"{ me { email } }\"".to_vec(), "is a string"),
        ("array of numbers", b"[1, 2]".to_vec(), "not a list of GraphQL requests"),
        ("array of strings", b"[\"{ me { email } }\"]".to_vec(), "not a list of GraphQL requests"),
        ("array with a null", b"[{\"query\": \"{ me { email } }\"}, null]".to_vec(), "not a list of GraphQL requests"),
        ("empty array", b"[]".to_vec(), "at least one operation"),
        ("query not a string", b"{\"query\": 5}".to_vec(), "not a GraphQL request"),
        (
            "variables not an object",
            b"{\"query\": \"{ me { email } }\", \"variables\": [1]}".to_vec(),
            "not a GraphQL request",
        ),
    ];
    for (case, body, says) in cases {
        assert_refused(case, &post(&app, json_ct, body).await, 400, says);
    }

    // Only JSON is GraphQL here; anything else, or nothing, is 415 even with a JSON body.
    let valid = br#"{"query": "{ __typename }"}"#.to_vec();
    for ct in [
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
        Some("application/graphql"),
        Some("application/json; charset=iso-8859-1"),
        Some("nonsense"),
        None,
    ] {
        let case = format!("content-type {ct:?}");
        assert_refused(&case, &post(&app, ct, valid.clone()).await, 415, "Content-Type: application/json");
    }
    for ct in ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=\"UTF-8\""] {
        let (status, _, body) = post(&app, Some(ct), valid.clone()).await;
        assert_eq!((status, &body), (200, &json!({"data": {"__typename": "Query"}})), "{ct}");
    }
}

#[tokio::test]
async fn multipart_uploads_are_read_within_their_limits() {
    let app = spawn_app_with(|c| {
        c.graphql.max_upload_bytes = 64 * 1024;
        c.graphql.max_upload_files = 2;
    })
    .await;
    let t = app.tenant().await;
    // No field takes an Upload here: the plumbing is what is tested (a String variable receives
    // the upload placeholder), the mutations that read files have their own tests.
    let q = "query($f: String!) { __type(name: $f) { name } }";
    let file: &[u8] = b"%PDF-1.4 not really";
    // A well-formed upload is read: the operation runs (the file waits in a temp file).
    let (status, body) =
        app.upload(Some(&t.token), q, json!({"f": null}), &[("variables.f", "a.pdf", "application/pdf", file)]).await;
    assert_eq!((status, &body), (200, &json!({"data": {"__type": null}})));

    // Without an Authorization header a multipart body could be a cross-site form: refused.
    let (status, body) =
        app.upload(None, q, json!({"f": null}), &[("variables.f", "a.pdf", "application/pdf", file)]).await;
    assert_refused("no Authorization", &(status, "application/json".into(), body), 400, "Authorization header");

    // Over the size limit (per file or in all): 413 with the limit in the message.
    let big = vec![b'x'; 80 * 1024];
    let (status, body) = app
        .upload(Some(&t.token), q, json!({"f": null}), &[("variables.f", "big.bin", "application/octet-stream", &big)])
        .await;
    assert_refused("over the upload limit", &(status, "application/json".into(), body), 413, "larger than 65536 bytes");

    // More files than allowed, a file named in `map` but not sent, no `map` at all, no boundary.
    let three: Vec<(&str, &str, &str, &[u8])> =
        (0..3).map(|_| ("variables.f", "a.pdf", "application/pdf", file)).collect();
    let (status, body) = app.upload(Some(&t.token), q, json!({"f": null}), &three).await;
    assert_eq!(status, 400, "{body:#}");
    assert_eq!(code(&body), Some("VALIDATION"), "{body:#}");
    let raw = |parts: Vec<Part<'static>>, ct: Option<String>| {
        let (mut content_type, body) = multipart_body(&parts);
        if let Some(ct) = ct {
            content_type = ct;
        }
        let req = app
            .client
            .post(format!("{}/graphql", app.base))
            .bearer_auth(&t.token)
            .header("content-type", content_type)
            .body(body);
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, "application/json".to_string(), resp.json::<Value>().await.unwrap())
        }
    };
    let ops = || {
        ("operations".to_string(), None, None, json!({"query": q, "variables": {"f": null}}).to_string().into_bytes())
    };
    let got = raw(vec![ops(), ("map".into(), None, None, br#"{"0": ["variables.f"]}"#.to_vec())], None).await;
    assert_refused("file missing", &got, 400, "was not sent");
    let got = raw(vec![ops()], None).await;
    assert_refused("map missing", &got, 400, "`map` field is missing");
    let got = raw(vec![ops()], Some("multipart/form-data".into())).await;
    assert_refused("no boundary", &got, 400, "no boundary");
    let got = raw(vec![("operations".into(), None, None, b"{not json".to_vec())], None).await;
    assert_refused("operations not JSON", &got, 400, "`operations` field");
}

#[tokio::test]
async fn bodies_over_the_limit_get_a_graphql_413() {
    let app = spawn_app().await;
    let limit = app.ctx.config.graphql.max_body_bytes;
    let query = |pad: usize| json!({"query": format!("#{}\n{{ __typename }}", "x".repeat(pad))}).to_string();
    let big = query(limit + 1);
    // With a Content-Length over the limit.
    let got = post(&app, Some("application/json"), big.clone().into_bytes()).await;
    assert_refused("Content-Length over the limit", &got, 413, &format!("larger than {limit} bytes"));
    // Streamed (chunked, no Content-Length): cut at the limit, the same answer.
    let (status, head, body) = chunked(&app, big.as_bytes()).await;
    assert_eq!(status, 413, "{head}\n{body}");
    assert!(head.to_lowercase().contains("content-type: application/json\r\n"), "{head}");
    let body: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(code(&body), Some("VALIDATION"), "{body:#}");
    // Under the limit, chunked, is read whole.
    let (status, _, body) = chunked(&app, query(limit - 200).as_bytes()).await;
    assert_eq!((status, body.as_str()), (200, r#"{"data":{"__typename":"Query"}}"#));
}

/// POSTs `body` to `/graphql` with `Transfer-Encoding: chunked` (which reqwest cannot do
/// without its streaming feature); the status, the response head and the (unchunked) body.
async fn chunked(app: &TestApp, body: &[u8]) -> (u16, String, String) {
    let addr = app.base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    for piece in body.chunks(16 * 1024) {
        // The server may answer and close before the whole body is sent.
        if s.write_all(format!("{:x}\r\n", piece.len()).as_bytes()).await.is_err()
            || s.write_all(piece).await.is_err()
            || s.write_all(b"\r\n").await.is_err()
        {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw).await;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no response: {raw:?}"));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{head}"));
    let body =
        if head.to_lowercase().contains("transfer-encoding: chunked") { dechunk(rest) } else { rest.to_string() };
    (status, head.to_string(), body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}
