//! Interop with graphql-js (the reference implementation) and graphql-ws: the checked-in SDL,
//! live introspection, README operations, and a subscription over graphql-transport-ws.
//! `.ci/run` installs the Node packages; with `CI` set, a missing peer is a failure.

use crate::*;
use std::path::Path;
use std::process::Command;

#[tokio::test]
async fn graphql_js_accepts_the_schema_and_the_server() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/graphql-js");
    let have_node = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if !have_node || !dir.join("node_modules/graphql").exists() || !dir.join("node_modules/graphql-ws").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "graphql-js interop peer missing: run `npm ci --prefix tests/interop/graphql-js`"
        );
        eprintln!("skipping graphql-js interop: run `npm ci --prefix tests/interop/graphql-js` to enable it");
        return;
    }
    let app = spawn_app().await;
    let t = app.tenant().await;
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let out = tokio::process::Command::new("node")
        .arg(dir.join("check.mjs"))
        .args([&app.base, &t.slug, &t.email, &t.password])
        .arg(schema)
        .output()
        .await
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "graphql-js interop failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}
