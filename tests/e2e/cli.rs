//! The `isp` binary as an operator uses it: migrate, seed, bootstrap a user, serve.

use crate::unique;
use serde_json::json;
use std::path::PathBuf;
use std::process::{Command, Output};

fn isp(dir: &PathBuf, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_isp"));
    c.args(args).arg("--data-dir").arg(dir).env_remove("DATABASE_URL").env_remove("ISP_DATABASE_URL");
    c.env("ISP_ARGON2_MEMORY_KIB", "64");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run isp")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn temp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("isp-cli-{}", unique()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn migrate_seed_and_bootstrap_a_user() {
    let dir = temp_dir();
    let o = isp(&dir, &["migrate"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(dir.join("isp.db").exists() && dir.join("master.key").exists() && dir.join("jwt.key").exists());

    let o = isp(&dir, &["seed", "--demo"], &[]);
    assert!(o.status.success() && text(&o).contains("seeded tenant demo-isp"), "{}", text(&o));
    let o = isp(&dir, &["seed", "--demo"], &[]);
    assert!(o.status.success() && text(&o).contains("already present"), "{}", text(&o));

    let args = ["user", "create", "--tenant", "newco", "--email", "boss@newco.test"];
    let o = isp(&dir, &args, &[("ISP_USER_PASSWORD", "long-enough-1")]);
    assert!(o.status.success() && text(&o).contains("created tenant newco"), "{}", text(&o));
    let o = isp(&dir, &args, &[("ISP_USER_PASSWORD", "long-enough-1")]);
    assert!(
        !o.status.success() && text(&o).contains("email"),
        "a second user with the same email must fail: {}",
        text(&o)
    );
    let o = isp(
        &dir,
        &[
            "user",
            "create",
            "--tenant",
            "newco",
            "--email",
            "x@newco.test",
            "--role",
            "wizard",
            "--password",
            "long-enough-1",
        ],
        &[],
    );
    assert!(!o.status.success() && text(&o).contains("role"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_configuration_is_named() {
    let dir = temp_dir();
    let o = isp(&dir, &["migrate"], &[("ISP_LISTEN", "not-an-address")]);
    assert!(!o.status.success());
    assert!(text(&o).contains("ISP_LISTEN"), "{}", text(&o));
    let cfg = dir.join("isp.toml");
    std::fs::write(&cfg, "listne = \"x\"\n").unwrap();
    let o = isp(&dir, &["migrate", "--config", cfg.to_str().unwrap()], &[]);
    assert!(!o.status.success() && text(&o).contains("listne"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn schema_command_prints_the_sdl() {
    let o = isp(&temp_dir(), &["schema"], &[]);
    assert!(o.status.success());
    assert_eq!(String::from_utf8(o.stdout).unwrap(), isp_api::schema::sdl());
}

/// The README's first command: `isp serve --demo` on an empty data dir, then a demo login.
#[tokio::test]
async fn serve_demo_answers_a_demo_login() {
    let dir = temp_dir();
    let (mut child, base) = crate::spawn_isp(&["serve", "--demo"], &dir, false).await;
    let client = reqwest::Client::new();
    let q = "mutation { login(tenant: \"demo-isp\", email: \"admin@demo-isp.com\", password: \"admin123\") { accessToken user { role } } }";
    let r: serde_json::Value =
        client.post(format!("{base}/graphql")).json(&json!({"query": q})).send().await.unwrap().json().await.unwrap();
    assert_eq!(r["data"]["login"]["user"]["role"], "OWNER", "{r}");
    let token = r["data"]["login"]["accessToken"].as_str().unwrap();
    let q = "{ customers(first: 100) { totalCount } acme: customers(filter: {search: \"acme\"}) { totalCount } }";
    let r: serde_json::Value = client
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({"query": q}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(r["data"]["customers"]["totalCount"].as_i64().unwrap() >= 50, "the demo has 50+ customers: {r}");
    assert_eq!(r["data"]["acme"]["totalCount"], 0, "the second tenant's customers stay invisible: {r}");
    child.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// SIGTERM stops `isp serve` within 10 s whatever it is doing: long passes stop between
/// chunks, and a watchdog ends the process at the grace period.
#[tokio::test]
async fn serve_stops_within_ten_seconds_of_sigterm() {
    let dir = temp_dir();
    let (mut child, base) = crate::spawn_isp(&["serve", "--demo"], &dir, false).await;
    // A client holding a connection open (a live subscription) must not keep it alive either.
    let url = format!("{}/graphql/ws", base.replace("http://", "ws://"));
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
    req.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
    let (_ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let pid = child.id().unwrap().to_string();
    let sent = std::time::Instant::now();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait())
        .await
        .expect("isp serve still running 10 s after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status:?} after {:?}", sent.elapsed());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `isp backup` copies the database (consistent, while it is in use) and its key files into a
/// new directory that works as a data directory; it never overwrites.
#[test]
fn backup_writes_a_working_copy_and_never_overwrites() {
    let dir = temp_dir();
    let o = isp(&dir, &["seed", "--demo"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    let out = dir.join("backup-1");
    let o = isp(&dir, &["backup", out.to_str().unwrap()], &[]);
    assert!(o.status.success() && text(&o).contains("backed up isp.db, master.key, jwt.key"), "{}", text(&o));
    let o = isp(&dir, &["backup", out.to_str().unwrap()], &[]);
    assert!(!o.status.success() && text(&o).contains("exists"), "{}", text(&o));
    // The copy is a data directory: it migrates (nothing to do) and holds the same customers.
    let o = isp(&out, &["migrate"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    let count = |d: &PathBuf| -> i64 {
        let c = isp_core::db::rusqlite::Connection::open(d.join("isp.db")).unwrap();
        c.query_row("SELECT COUNT(*) FROM customers", [], |r| r.get(0)).unwrap()
    };
    assert!(count(&out) > 50);
    assert_eq!(count(&out), count(&dir));
    assert_eq!(std::fs::read(out.join("master.key")).unwrap(), std::fs::read(dir.join("master.key")).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}
