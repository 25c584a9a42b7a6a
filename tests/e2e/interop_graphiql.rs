//! GraphiQL in a real browser, offline: Debian's Chromium (`/usr/bin/chromium`) driven by
//! playwright-core (`tests/interop/graphiql`) loads the page and its embedded assets from the
//! server on port 0, runs the README's login mutation and a subscription, and fails on any
//! request that would leave this machine. `.ci/run` installs both; with `CI` set, a missing
//! peer is a failure.

use crate::*;
use serde_json::json;
use std::path::Path;
use std::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";

#[tokio::test]
async fn graphiql_runs_the_login_mutation_in_chromium_without_internet() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/graphiql");
    let have_node = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if !have_node || !dir.join("node_modules/playwright-core").exists() || !Path::new(CHROMIUM).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "GraphiQL browser peer missing: `apt-get install chromium` and `npm ci --prefix tests/interop/graphiql`"
        );
        eprintln!("skipping the GraphiQL browser check: `apt-get install chromium` and `npm ci --prefix tests/interop/graphiql` enable it");
        return;
    }
    let app = spawn_app().await;
    let t = app.tenant().await;
    let out = tokio::process::Command::new("node")
        .arg(dir.join("check.mjs"))
        .args([&app.base, &t.slug, &t.email, &t.password])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(180), out)
        .await
        .expect("the browser check hung")
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "GraphiQL browser check failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    // The token GraphiQL showed is a real one for this tenant's owner.
    let token = stdout.lines().find_map(|l| l.strip_prefix("token ")).expect("a token line");
    let me = app.ok(token, "{ me { email } }", json!({})).await;
    assert_eq!(me["me"]["email"], t.email.as_str());
}
