//! `spawn_app()` and helpers shared by every end-to-end test.

use chrono::Utc;
use isp_core::clock::ManualClock;
use isp_core::config::Config;
use isp_core::Ctx;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique suffix for slugs, emails and usernames within this test run.
pub fn unique() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::UNIX_EPOCH.elapsed().unwrap().as_nanos() % 1_000_000_000;
    format!("{}{t:09}{n}", std::process::id() % 10_000)
}

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// HTTP client.
    pub client: reqwest::Client,
    /// The server's shared context (database, metrics ...).
    pub ctx: Ctx,
    /// The injected clock; starts at the real now and moves only when a test moves it.
    pub clock: ManualClock,
    dir: PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts a server with test defaults (fast argon2, generous IP throttle).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts a server after `tweak` adjusts the configuration.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = std::env::temp_dir().join(format!("isp-e2e-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cfg = Config {
        data_dir: dir.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: std::env::var("TEST_DATABASE_URL").unwrap_or_default(),
        db_max_connections: 4,
        ..Config::default()
    };
    cfg.auth.argon2_memory_kib = 64;
    cfg.auth.argon2_iterations = 1;
    cfg.auth.max_failures_per_ip = 100_000;
    tweak(&mut cfg);
    cfg.validate().unwrap();
    #[allow(clippy::disallowed_methods)] // the test clock starts at the real now
    let clock = ManualClock::new(Utc::now());
    let ctx = Ctx::open(cfg.clone(), Arc::new(clock.clone())).await.expect("open database");
    let listener = tokio::net::TcpListener::bind(cfg.listen).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server_ctx = ctx.clone();
    tokio::spawn(async move {
        isp_api::serve(listener, server_ctx, async move {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    TestApp { base, client: reqwest::Client::new(), ctx, clock, dir, shutdown: Some(tx) }
}

/// A tenant registered through the API, with its owner logged in.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// Slug.
    pub slug: String,
    /// Owner's email.
    pub email: String,
    /// Owner's password.
    pub password: String,
    /// Owner's access token.
    pub token: String,
    /// Owner's refresh token.
    pub refresh: String,
}

/// Password used for every user the helpers create.
pub const PASSWORD: &str = "correct-horse-9";

impl TestApp {
    /// The server's data directory (SQLite file, master key, token key).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// POSTs a GraphQL operation and returns the whole JSON response.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req =
            self.client.post(format!("{}/graphql", self.base)).json(&json!({"query": query, "variables": variables}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap().json().await.unwrap()
    }

    /// Like [`TestApp::gql`] but panics on errors and returns `data`.
    pub async fn ok(&self, token: &str, query: &str, variables: Value) -> Value {
        let r = self.gql(Some(token), query, variables).await;
        assert!(r.get("errors").is_none(), "unexpected errors: {r:#}");
        r["data"].clone()
    }

    /// Registers a fresh tenant through `registerTenant`.
    pub async fn tenant(&self) -> Tenant {
        let slug = format!("t{}", unique());
        let email = format!("owner@{slug}.test");
        let r = self
            .gql(
                None,
                "mutation($i: RegisterTenantInput!) { registerTenant(input: $i) { accessToken refreshToken } }",
                json!({"i": {"slug": slug, "name": "Test ISP", "currency": "USD", "timezone": "UTC",
                             "ownerEmail": email, "ownerName": "Owner", "ownerPassword": PASSWORD}}),
            )
            .await;
        let d = &r["data"]["registerTenant"];
        assert!(d.is_object(), "registerTenant failed: {r:#}");
        Tenant {
            slug,
            email,
            password: PASSWORD.into(),
            token: d["accessToken"].as_str().unwrap().into(),
            refresh: d["refreshToken"].as_str().unwrap().into(),
        }
    }

    /// Sends a GraphQL multipart request (file upload): `query` and `variables` as the
    /// `operations` field, then each file as `(variable path, file name, content type, bytes)`,
    /// e.g. `("variables.file", "id.png", "image/png", &png)`. The HTTP status and the JSON body.
    pub async fn upload(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
        files: &[(&str, &str, &str, &[u8])],
    ) -> (u16, Value) {
        let operations = json!({"query": query, "variables": variables});
        let map: serde_json::Map<String, Value> =
            files.iter().enumerate().map(|(i, (path, ..))| (i.to_string(), json!([path]))).collect();
        let mut parts = vec![
            ("operations".to_string(), None, None, operations.to_string().into_bytes()),
            ("map".to_string(), None, None, Value::Object(map).to_string().into_bytes()),
        ];
        for (i, (_, name, ct, bytes)) in files.iter().enumerate() {
            parts.push((i.to_string(), Some(*name), Some(*ct), bytes.to_vec()));
        }
        let (content_type, body) = multipart_body(&parts);
        let mut req =
            self.client.post(format!("{}/graphql", self.base)).header("content-type", content_type).body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {status} {text}")))
    }

    /// Logs in and returns the access token.
    pub async fn login(&self, slug: &str, email: &str, password: &str) -> String {
        let r = self
            .gql(
                None,
                "mutation($t: String!, $e: String!, $p: String!) { login(tenant: $t, email: $e, password: $p) { accessToken } }",
                json!({"t": slug, "e": email, "p": password}),
            )
            .await;
        r["data"]["login"]["accessToken"].as_str().unwrap_or_else(|| panic!("login failed: {r:#}")).to_string()
    }
}

/// The `extensions.code` of the first error, if any.
pub fn code(r: &Value) -> Option<&str> {
    r["errors"][0]["extensions"]["code"].as_str()
}

/// The `extensions.field` of the first error, if any.
pub fn field(r: &Value) -> Option<&str> {
    r["errors"][0]["extensions"]["field"].as_str()
}

/// The `isp` binary running `args` (a serving command such as `["serve", "--demo"]`) on a
/// free loopback port, with `data_dir`, RADIUS on free ports and the environment's database
/// (`TEST_DATABASE_URL` when `same_db`, else the data dir's SQLite); returns the process
/// (killed when dropped) and its base URL once `/readyz` answers (30 s at most).
pub async fn spawn_isp(args: &[&str], data_dir: &std::path::Path, same_db: bool) -> (tokio::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_isp"));
    cmd.args(args)
        .args(["--listen", &listen, "--data-dir"])
        .arg(data_dir)
        .env_remove("DATABASE_URL")
        .env_remove("ISP_DATABASE_URL")
        .env("ISP_RADIUS_AUTH", "127.0.0.1:0")
        .env("ISP_RADIUS_ACCT", "127.0.0.1:0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    if let (true, Ok(url)) = (same_db, std::env::var("TEST_DATABASE_URL")) {
        cmd.env("ISP_DATABASE_URL", url);
    }
    let child = cmd.spawn().expect("start isp");
    let base = format!("http://{listen}");
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
            return (child, base);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("isp {args:?} did not become ready");
}

/// One part of a multipart body: field name, file name, content type, bytes.
pub type Part<'a> = (String, Option<&'a str>, Option<&'a str>, Vec<u8>);

/// A `multipart/form-data` body of `parts`, and its Content-Type (reqwest is built without its
/// multipart feature).
pub fn multipart_body(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = format!("----isp-test-{}", unique());
    let mut body = Vec::new();
    for (name, file, ct, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes());
        if let Some(f) = file {
            body.extend_from_slice(format!("; filename=\"{f}\"").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        if let Some(ct) = ct {
            body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
