//! The `netctl` command line, run as a library function against a real server's database:
//! configuration from flags and an environment lookup, tenant scoping, tables, JSON and
//! exit codes.

use crate::radius::*;
use crate::*;
use isp_core::store::audit::{self, AuditFilter};
use isp_core::store::jobs::{self, JobStatus};
use isp_core::store::page::PageArgs;
use isp_core::workflows::accounting::{self, AcctRecord, AcctStatus};
use isp_netctl::cli;
use serde_json::Value;

/// What one `netctl` run produced.
pub(crate) struct Run {
    pub code: i32,
    pub out: String,
    pub err: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.out).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.out))
    }
}

/// Runs `netctl --data-dir <app> [--tenant slug] args...`, with the test database URL given
/// through the environment lookup (as `DATABASE_URL` would be).
pub(crate) async fn netctl(app: &TestApp, tenant: Option<&str>, args: &[&str]) -> Run {
    netctl_env(app, tenant, args, &[]).await
}

/// [`netctl`] with extra environment variables.
pub(crate) async fn netctl_env(app: &TestApp, tenant: Option<&str>, args: &[&str], vars: &[(&str, &str)]) -> Run {
    let mut argv: Vec<String> =
        vec!["netctl".into(), "--data-dir".into(), app.ctx.config.data_dir.display().to_string()];
    if let Some(t) = tenant {
        argv.extend(["--tenant".into(), t.into()]);
    }
    argv.extend(args.iter().map(|a| a.to_string()));
    let url = app.ctx.config.database_url.clone();
    let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let env = move |k: &str| {
        if k == "DATABASE_URL" && !url.is_empty() {
            return Some(url.clone());
        }
        vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = cli::run(argv, env, &mut out, &mut err).await;
    Run { code, out: String::from_utf8(out).unwrap(), err: String::from_utf8(err).unwrap() }
}

async fn start_session(r: &Radius, username: &str, sid: &str) {
    let rec = AcctRecord {
        status: AcctStatus::Start,
        acct_session_id: sid.into(),
        username: username.into(),
        class_subscription_id: None,
        framed_ip: Some("10.9.8.7".into()),
        calling_station_id: None,
        nas_port_id: None,
        input_octets: 0,
        output_octets: 0,
        session_time: 0,
        terminate_cause: None,
    };
    accounting::account(&r.app.ctx, r.tenant_id, r.nas_id, &rec).await.unwrap();
}

#[tokio::test]
async fn nas_and_sessions_are_listed_for_the_tenant_only() {
    let r = spawn_radius().await;
    let slug = r.t.slug.clone();
    let plan = r.plan(base_plan("CLI")).await;
    let u = format!("nc{}", unique());
    r.subscriber(plan.id, &u, "pw-123456", |_| {}).await;
    start_session(&r, &u, "cli-1").await;

    let d = netctl(&r.app, Some(&slug), &["nas"]).await;
    assert_eq!(d.code, 0, "{}", d.err);
    let lines: Vec<&str> = d.out.lines().collect();
    // Columns are as wide as their widest cell, and ids grow on a shared test database.
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert!(header.starts_with(&["ID", "NAME"]) && header.contains(&"COA-PORT"), "{}", d.out);
    assert!(lines[1].contains("test nas") && lines[1].contains(&r.nas_ip.to_string()), "{}", d.out);
    assert!(!d.out.contains(SECRET), "a secret was printed: {}", d.out);
    let dj = netctl(&r.app, Some(&slug), &["--json", "nas"]).await.json();
    assert_eq!(dj[0]["coaPort"], 3799);
    assert!(!dj.to_string().contains(SECRET) && dj[0].get("secret").is_none());

    let s = netctl(&r.app, Some(&slug), &["sessions", "--username", &u]).await;
    assert_eq!(s.code, 0, "{}", s.err);
    assert!(s.out.contains(&u) && s.out.contains("10.9.8.7") && s.out.contains("test nas"), "{}", s.out);
    let sj = netctl(&r.app, Some(&slug), &["sessions", "--json", "--all"]).await.json();
    assert_eq!(sj.as_array().unwrap().len(), 1);
    assert_eq!((sj[0]["username"].as_str(), sj[0]["open"].as_bool()), (Some(u.as_str()), Some(true)));

    // Another tenant sees none of it.
    let other = r.app.tenant().await;
    let od = netctl(&r.app, Some(&other.slug), &["--json", "nas"]).await;
    assert_eq!((od.code, od.json()), (0, serde_json::json!([])));
    let os = netctl(&r.app, Some(&other.slug), &["--json", "sessions", "--all"]).await;
    assert_eq!((os.code, os.json()), (0, serde_json::json!([])));
    assert_eq!(netctl(&r.app, Some(&other.slug), &["kick", &u]).await.code, cli::EXIT_NOT_FOUND);
}

#[tokio::test]
async fn kick_queues_audited_disconnects_and_a_dead_job_can_be_retried() {
    let r = spawn_radius().await;
    let slug = r.t.slug.clone();
    let plan = r.plan(base_plan("Kick")).await;
    let u = format!("kick{}", unique());
    r.subscriber(plan.id, &u, "pw-123456", |p| p.simultaneous_use = Some(2)).await;
    start_session(&r, &u, "k-1").await;
    start_session(&r, &u, "k-2").await;

    let k = netctl(&r.app, Some(&slug), &["kick", &u]).await;
    assert_eq!((k.code, k.out.trim()), (0, format!("queued 2 disconnect job(s) for {u}").as_str()), "{}", k.err);
    let queued = jobs::recent(&r.app.ctx.db, r.tenant_id, 10).await.unwrap();
    assert_eq!(queued.len(), 2);
    assert!(queued.iter().all(|j| j.kind == jobs::JobKind::RadiusDisconnect && j.status == JobStatus::Pending));
    let f = AuditFilter { action_prefix: Some("session.disconnect".into()), ..Default::default() };
    let log = audit::list(&r.app.ctx.db, r.tenant_id, &f, &PageArgs::default()).await.unwrap().items;
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|e| e.actor == "system:netctl"), "{log:?}");

    let table = netctl(&r.app, Some(&slug), &["jobs"]).await;
    assert_eq!(table.code, 0, "{}", table.err);
    assert!(table.out.lines().next().unwrap().contains("LAST-ERROR"));
    assert_eq!(table.out.matches("RADIUS_DISCONNECT").count(), 2, "{}", table.out);
    assert_eq!(netctl(&r.app, Some(&slug), &["--json", "jobs", "--failed"]).await.json(), serde_json::json!([]));

    // Dead-letter one, then put it back.
    let dead = queued[0].id;
    let now = r.app.ctx.now_ms();
    jobs::fail(&r.app.ctx.db, dead, "NAS did not answer", now, true, now).await.unwrap();
    let failed = netctl(&r.app, Some(&slug), &["jobs", "--failed", "--json"]).await.json();
    assert_eq!(failed.as_array().unwrap().len(), 1);
    assert_eq!((failed[0]["id"].as_i64(), failed[0]["lastError"].as_str()), (Some(dead), Some("NAS did not answer")));

    // Not in this tenant: not found, and untouched.
    let other = r.app.tenant().await;
    let id = dead.to_string();
    let foreign = netctl(&r.app, Some(&other.slug), &["jobs", "retry", &id]).await;
    assert_eq!(foreign.code, cli::EXIT_NOT_FOUND, "{}", foreign.err);
    assert_eq!(jobs::get(&r.app.ctx.db, r.tenant_id, dead).await.unwrap().unwrap().status, JobStatus::Dead);

    let retried = netctl(&r.app, Some(&slug), &["jobs", "retry", &id]).await;
    assert_eq!(retried.code, 0, "{}", retried.err);
    let j = jobs::get(&r.app.ctx.db, r.tenant_id, dead).await.unwrap().unwrap();
    assert_eq!((j.status, j.attempts), (JobStatus::Pending, 0));
    let again = netctl(&r.app, Some(&slug), &["jobs", "retry", &id]).await;
    assert_eq!(again.code, cli::EXIT_FAILURE);
    assert!(again.err.contains("not dead"), "{}", again.err);
    assert_eq!(netctl(&r.app, Some(&slug), &["jobs", "retry", "999999999"]).await.code, cli::EXIT_NOT_FOUND);
}

#[tokio::test]
async fn usage_and_lookup_failures_have_distinct_exit_codes() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let help = netctl(&app, None, &["--help"]).await;
    assert_eq!(help.code, 0);
    assert!(help.out.contains("kick"), "{}", help.out);
    let bad = netctl(&app, Some(&t.slug), &["frobnicate"]).await;
    assert_eq!(bad.code, cli::EXIT_USAGE);
    assert!(bad.err.contains("frobnicate") && bad.out.is_empty());
    let no_tenant = netctl(&app, None, &["jobs"]).await;
    assert_eq!(no_tenant.code, cli::EXIT_USAGE);
    assert!(no_tenant.err.contains("--tenant"), "{}", no_tenant.err);
    let unknown = netctl(&app, Some("no-such-tenant-here"), &["jobs"]).await;
    assert_eq!(unknown.code, cli::EXIT_NOT_FOUND);
    assert!(unknown.err.contains("no-such-tenant-here"), "{}", unknown.err);
    let kick = netctl(&app, Some(&t.slug), &["kick", "nobody"]).await;
    assert_eq!(kick.code, cli::EXIT_NOT_FOUND);

    // A data dir without a database is a configuration error, not a new empty database.
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let dir = std::env::temp_dir().join(format!("netctl-empty-{}", unique()));
    let argv = ["netctl", "--data-dir", &dir.display().to_string(), "--tenant", &t.slug, "jobs"];
    let code = cli::run(argv.iter().map(|s| s.to_string()).collect(), |_| None, &mut out, &mut err).await;
    assert_eq!(code, cli::EXIT_USAGE, "{}", String::from_utf8_lossy(&err));
    assert!(!dir.exists());
}
