//! Suspensions reaching real protocol peers: a subscription suspended through GraphQL ends up
//! blocked on a simulated MikroTik (RouterOS API) and on simulated Huawei and ZTE OLTs
//! (telnet CLI), resume undoes it, `netctl sync` repairs devices changed by hand, and the
//! worker survives devices that are down, a crash mid-delivery and wrong credentials.

use crate::fixtures::*;
use crate::netctl_cli::{netctl, Run};
use crate::*;
use isp_core::store::audit::{self, AuditFilter};
use isp_core::store::jobs::{self, DeviceJob, JobStatus};
use isp_core::store::page::PageArgs;
use isp_netctl::cli;
use isp_netctl::fleet::Fleet;
use isp_netctl::olt::sim::{OltSim, SimOnu};
use isp_netctl::olt::OltVendor;
use isp_netctl::routeros::sim::RouterSim;
use isp_netctl::worker::Worker;
use serde_json::{json, Value};

const HUAWEI_ONU: &str = "HWTC1A2B3C4D";
const ZTE_ONU: &str = "ZTEGC0FFEE01";

/// A tenant with a MikroTik and two OLTs (all simulated), and one subscription per access type.
struct Net {
    app: TestApp,
    t: Tenant,
    router: RouterSim,
    huawei: OltSim,
    zte: OltSim,
    router_id: String,
    tenant_id: i64,
    /// PPPoE login kept as a local secret on the router.
    pppoe: Sub,
    /// Static IP customer.
    fixed: Sub,
    /// GPON on the Huawei OLT.
    gpon_hw: Sub,
    /// GPON on the ZTE OLT.
    gpon_zte: Sub,
}

struct Sub {
    id: String,
    username: String,
}

const SUBNET: &str = "10.77";

async fn device(app: &TestApp, token: &str, input: Value) -> String {
    let d =
        app.ok(token, "mutation($i: CreateDeviceInput!) { createDevice(input: $i) { id } }", json!({"i": input})).await;
    d["createDevice"]["id"].as_str().unwrap().to_string()
}

async fn sub(app: &TestApp, token: &str, input: Value) -> Sub {
    let d = app
        .ok(
            token,
            "mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) { id username } }",
            json!({"i": input}),
        )
        .await;
    Sub {
        id: d["createSubscription"]["id"].as_str().unwrap().into(),
        username: d["createSubscription"]["username"].as_str().unwrap().into(),
    }
}

async fn setup_with(tweak: impl FnOnce(&mut isp_core::config::Config)) -> Net {
    let app = spawn_app_with(|c| {
        c.devices.timeout_ms = 2_000;
        tweak(c)
    })
    .await;
    let t = app.tenant().await;
    let tok = t.token.clone();
    let router = RouterSim::start("noc", "routerpw").await;
    let huawei = OltSim::start(OltVendor::Huawei, "root", "oltpw", vec![SimOnu::new("0/1/0", 5, HUAWEI_ONU)]).await;
    let zte = OltSim::start(OltVendor::Zte, "zte", "ztepw", vec![SimOnu::new("1/2/1", 3, ZTE_ONU)]).await;
    app.ok(&tok, "mutation { updateTenant(input: {routerSuspension: LOCAL_SECRETS}) { id } }", json!({})).await;
    let router_id = device(
        &app,
        &tok,
        json!({"name": "core-1", "kind": "MIKROTIK", "host": "127.0.0.1", "port": router.addr().port(),
               "username": "noc", "password": "routerpw"}),
    )
    .await;
    let hw = device(
        &app,
        &tok,
        json!({"name": "olt-hw", "kind": "HUAWEI_OLT", "host": "127.0.0.1", "port": huawei.addr().port(),
               "username": "root", "password": "oltpw"}),
    )
    .await;
    let zt = device(
        &app,
        &tok,
        json!({"name": "olt-zte", "kind": "ZTE_OLT", "host": "127.0.0.1", "port": zte.addr().port(),
               "username": "zte", "password": "ztepw"}),
    )
    .await;
    let customer = app.customer(&tok, "Net Customer").await;
    let plan = app.plan(&tok, "Net Plan", &["PPPOE", "STATIC_IP", "GPON"]).await;
    let u = unique();
    let base = |access: &str, name: &str| {
        json!({"customerId": customer, "planId": plan, "accessType": access, "username": format!("{name}-{u}"),
               "status": "ACTIVE"})
    };
    let mut i = base("PPPOE", "pp");
    i["password"] = json!("s3cret");
    let pppoe = sub(&app, &tok, i).await;
    let mut i = base("STATIC_IP", "st");
    i["staticIpv4"] = json!(format!("{SUBNET}.0.7"));
    let fixed = sub(&app, &tok, i).await;
    let mut i = base("GPON", "gh");
    i["onuSerial"] = json!(HUAWEI_ONU);
    i["oltPort"] = json!("0/1/0");
    i["deviceId"] = json!(hw);
    let gpon_hw = sub(&app, &tok, i).await;
    let mut i = base("GPON", "gz");
    i["onuSerial"] = json!(ZTE_ONU);
    i["oltPort"] = json!("1/2/1");
    i["deviceId"] = json!(zt);
    let gpon_zte = sub(&app, &tok, i).await;
    router.add_ppp_secret(&pppoe.username, "s3cret", "default");
    router.add_ppp_active(&pppoe.username, &format!("{SUBNET}.1.9"), "AA:BB:CC:00:11:22");
    let tenant_id = isp_core::store::tenants::by_slug(&app.ctx.db, &t.slug).await.unwrap().unwrap().id;
    Net { app, t, router, huawei, zte, router_id, tenant_id, pppoe, fixed, gpon_hw, gpon_zte }
}

async fn setup() -> Net {
    setup_with(|_| {}).await
}

impl Net {
    /// A worker for this test's tenant only (tests share the PostgreSQL database).
    fn worker(&self) -> Worker<isp_netctl::coa::UdpCoaSender> {
        Worker::new(self.app.ctx.clone()).only_tenant(self.tenant_id)
    }

    async fn status(&self, s: &Sub, status: &str) {
        let q =
            "mutation($id: ID!, $s: SubscriptionStatus!) { changeSubscriptionStatus(id: $id, status: $s) { status } }";
        let d = self.app.ok(&self.t.token, q, json!({"id": s.id, "s": status})).await;
        assert_eq!(d["changeSubscriptionStatus"]["status"], status);
    }

    /// Runs the worker until no job is due.
    async fn drain(&self, w: &Worker<isp_netctl::coa::UdpCoaSender>) {
        for _ in 0..20 {
            if w.run_once().await.unwrap() == 0 {
                return;
            }
        }
        panic!("the worker kept finding jobs");
    }

    async fn jobs(&self) -> Vec<DeviceJob> {
        let tid = isp_core::store::tenants::by_slug(&self.app.ctx.db, &self.t.slug).await.unwrap().unwrap().id;
        jobs::recent(&self.app.ctx.db, tid, 100).await.unwrap()
    }

    fn secret_disabled(&self) -> bool {
        self.router.ppp_secret(&self.pppoe.username).unwrap()["disabled"] == "true"
    }

    fn listed(&self) -> Vec<String> {
        self.router.address_list("suspended").iter().map(|e| e["address"].clone()).collect()
    }

    fn active_sessions(&self) -> usize {
        self.router.state().ppp_active.iter().filter(|r| r["name"] == self.pppoe.username).count()
    }

    async fn netctl(&self, args: &[&str]) -> Run {
        netctl(&self.app, Some(&self.t.slug), args).await
    }
}

#[tokio::test]
async fn suspension_through_graphql_reaches_the_router_and_both_olts_and_resume_undoes_it() {
    let n = setup().await;
    let w = n.worker();
    for s in [&n.pppoe, &n.fixed, &n.gpon_hw, &n.gpon_zte] {
        n.status(s, "SUSPENDED").await;
    }
    let queued = n.jobs().await;
    let device_jobs: Vec<&DeviceJob> = queued.iter().filter(|j| j.device_id.is_some()).collect();
    assert_eq!(device_jobs.len(), 4, "one job per subscription and device: {queued:#?}");
    n.drain(&w).await;

    assert!(n.secret_disabled(), "PPP secret disabled");
    assert_eq!(n.active_sessions(), 0, "the live PPPoE session is removed");
    let entries = n.router.address_list("suspended");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["address"], format!("{SUBNET}.0.7"));
    assert!(entries[0]["comment"].starts_with("isp sub:"), "the entry names the subscription: {:?}", entries[0]);
    assert!(entries[0]["comment"].ends_with(&n.fixed.username));
    assert!(!n.huawei.onu(HUAWEI_ONU).unwrap().active, "Huawei ONU deactivated");
    assert!(!n.zte.onu(ZTE_ONU).unwrap().active, "ZTE ONU deactivated");
    let jobs = n.jobs().await;
    assert!(jobs.iter().all(|j| j.status == JobStatus::Done), "{jobs:#?}");

    // The dead-letter queue and the job list are in GraphQL too.
    let d = n
        .app
        .ok(&n.t.token, "{ deviceJobs(first: 10) { edges { node { kind status device { name } } } } }", json!({}))
        .await;
    let kinds: Vec<&str> = d["deviceJobs"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["node"]["device"]["name"].as_str())
        .collect();
    assert_eq!(kinds.len(), 4, "{d}");

    // Suspending again is not an error and changes nothing on the devices.
    let (rm, hm, zm) = (n.router.mutations(), n.huawei.mutations(), n.zte.mutations());
    n.status(&n.fixed, "SUSPENDED").await;
    n.drain(&w).await;
    assert_eq!((n.router.mutations(), n.huawei.mutations(), n.zte.mutations()), (rm, hm, zm));

    for s in [&n.pppoe, &n.fixed, &n.gpon_hw, &n.gpon_zte] {
        n.status(s, "ACTIVE").await;
    }
    n.drain(&w).await;
    assert!(!n.secret_disabled(), "PPP secret enabled again");
    assert!(n.listed().is_empty(), "address-list entry removed");
    assert!(n.huawei.onu(HUAWEI_ONU).unwrap().active && n.zte.onu(ZTE_ONU).unwrap().active, "ONUs activated");
    assert!(n.jobs().await.iter().all(|j| j.status == JobStatus::Done));
}

/// Cancelling (with its final proration) blocks the subscriber on the network exactly as a
/// status change to CANCELLED does: the jobs are written with the cancellation.
#[tokio::test]
async fn cancelling_a_subscription_blocks_it_on_the_router() {
    let n = setup().await;
    let w = n.worker();
    let cancel = "mutation($s: ID!) { cancelSubscription(id: $s, reason: \"moving away\") { id } }";
    for s in [&n.pppoe, &n.fixed] {
        n.app.ok(&n.t.token, cancel, json!({"s": s.id})).await;
    }
    n.drain(&w).await;
    assert_eq!(n.listed(), vec![format!("{SUBNET}.0.7")], "the static IP is on the suspended list");
    assert!(n.secret_disabled(), "the PPP secret is disabled");
    assert_eq!(n.active_sessions(), 0, "the live PPPoE session is removed");
    let jobs = n.jobs().await;
    assert!(jobs.iter().all(|j| j.status == JobStatus::Done), "{jobs:#?}");
}

#[tokio::test]
async fn netctl_sync_shows_and_repairs_devices_changed_by_hand() {
    let n = setup().await;
    let w = n.worker();
    for s in [&n.pppoe, &n.fixed, &n.gpon_hw] {
        n.status(s, "SUSPENDED").await;
    }
    n.drain(&w).await;
    let clean = n.netctl(&["sync", "--dry-run"]).await;
    assert_eq!(clean.code, 0, "{}{}", clean.out, clean.err);
    assert!(clean.out.contains("0 difference(s)"), "{}", clean.out);

    // Someone "fixes" the customers by hand, and leaves an entry of ours that nobody wants.
    {
        let mut st = n.router.state();
        st.address_list.clear();
        for s in st.ppp_secrets.iter_mut() {
            s.insert("disabled".into(), "false".into());
        }
    }
    n.huawei.set_onu_active(HUAWEI_ONU, true);
    n.router.add_address_list_entry("suspended", &format!("{SUBNET}.0.99"), "isp sub:999999 ghost");
    n.router.add_address_list_entry("suspended", &format!("{SUBNET}.0.98"), "put here by the NOC");
    let before = n.router.mutations();

    let dry = n.netctl(&["sync", "--dry-run"]).await;
    assert_eq!(dry.code, cli::EXIT_DRIFT, "{}{}", dry.out, dry.err);
    for needle in
        ["address-list suspended 10.77.0.7", "PPP secret", "ONU HWTC1A2B3C4D", "10.77.0.99", "not fixed (dry run)"]
    {
        assert!(dry.out.contains(needle), "{needle:?} missing from:\n{}", dry.out);
    }
    assert!(!dry.out.contains("10.77.0.98"), "entries without our comment are not ours:\n{}", dry.out);
    assert_eq!(n.router.mutations(), before, "a dry run changes nothing");

    let json = n.netctl(&["--json", "sync", "--dry-run"]).await;
    assert_eq!(json.json()["drifts"].as_array().unwrap().len(), 4, "{}", json.out);

    let fix = n.netctl(&["sync"]).await;
    assert_eq!(fix.code, 0, "{}{}", fix.out, fix.err);
    assert!(fix.out.contains("fixed"), "{}", fix.out);
    assert!(n.secret_disabled());
    let mut listed = n.listed();
    listed.sort();
    assert_eq!(listed, vec![format!("{SUBNET}.0.7"), format!("{SUBNET}.0.98")]);
    assert!(!n.huawei.onu(HUAWEI_ONU).unwrap().active);
    let again = n.netctl(&["sync", "--dry-run"]).await;
    assert_eq!(again.code, 0, "{}", again.out);

    let tid = isp_core::store::tenants::by_slug(&n.app.ctx.db, &n.t.slug).await.unwrap().unwrap().id;
    let f = AuditFilter { action_prefix: Some("device.sync".into()), ..Default::default() };
    let entries = audit::list(&n.app.ctx.db, tid, &f, &PageArgs::default()).await.unwrap().items;
    assert_eq!(entries.len(), 1, "one audited fixing run");
}

#[tokio::test]
async fn a_device_that_is_down_gets_the_change_with_backoff_once_it_is_back() {
    let n = setup().await;
    let w = n.worker();
    n.router.go_down().await;
    n.status(&n.fixed, "SUSPENDED").await;
    assert_eq!(w.run_once().await.unwrap(), 1);
    let job = n.jobs().await.into_iter().find(|j| j.device_id.is_some()).unwrap();
    assert_eq!((job.status, job.attempts), (JobStatus::Pending, 1));
    assert!(job.last_error.as_deref().unwrap_or("").contains("unreachable"), "{:?}", job.last_error);
    let now = n.app.ctx.now_ms();
    assert_eq!(job.next_attempt_at, now + jobs::backoff_ms(1), "retried after the first backoff step");
    assert_eq!(w.run_once().await.unwrap(), 0, "not before the backoff ends");

    n.app.clock.advance(chrono::Duration::seconds(3));
    assert_eq!(w.run_once().await.unwrap(), 1);
    let job = n.jobs().await.into_iter().find(|j| j.device_id.is_some()).unwrap();
    assert_eq!((job.status, job.attempts), (JobStatus::Pending, 2), "still down: second backoff step");
    assert!(job.next_attempt_at - n.app.ctx.now_ms() == jobs::backoff_ms(2));

    n.router.come_up();
    n.app.clock.advance(chrono::Duration::seconds(5));
    n.drain(&w).await;
    let job = n.jobs().await.into_iter().find(|j| j.device_id.is_some()).unwrap();
    assert_eq!(job.status, JobStatus::Done);
    assert_eq!(n.listed(), vec![format!("{SUBNET}.0.7")]);
}

#[tokio::test]
async fn a_delivery_cut_short_by_a_crash_is_completed_after_restart_exactly_once_in_effect() {
    let n = setup().await;
    n.status(&n.fixed, "SUSPENDED").await;
    // A worker claims the job, changes the router, and dies before recording the outcome.
    let claimed = jobs::claim_due(&n.app.ctx.db, Some(n.tenant_id), n.app.ctx.now_ms(), 60_000, 10).await.unwrap();
    let job = claimed.iter().find(|j| j.device_id.is_some()).expect("the device job is claimed").clone();
    let fleet = Fleet::new(&n.app.ctx.config.devices);
    let tid = job.tenant_id;
    let dev = isp_core::store::devices::get(&n.app.ctx.db, tid, job.device_id.unwrap()).await.unwrap();
    let payload = serde_json::from_str(&job.payload).unwrap();
    assert!(fleet.converge(&n.app.ctx, &dev, &payload, true).await.unwrap().changed);
    drop(fleet);
    let after_crash = n.router.mutations();

    // After a restart the job is invisible while the dead worker's lease lasts ...
    let w = n.worker();
    assert_eq!(w.run_once().await.unwrap(), 0);
    // ... then delivered again, which finds the router already right and changes nothing.
    n.app.clock.advance(chrono::Duration::seconds(61));
    n.drain(&w).await;
    let job = jobs::get(&n.app.ctx.db, tid, job.id).await.unwrap().unwrap();
    assert_eq!((job.status, job.attempts), (JobStatus::Done, 2));
    assert_eq!(n.router.mutations(), after_crash, "no second change");
    assert_eq!(n.listed(), vec![format!("{SUBNET}.0.7")], "exactly one entry");

    // The other order: the worker dies after claiming, before touching the router.
    n.status(&n.fixed, "ACTIVE").await;
    let claimed = jobs::claim_due(&n.app.ctx.db, Some(n.tenant_id), n.app.ctx.now_ms(), 60_000, 10).await.unwrap();
    assert_eq!(claimed.iter().filter(|j| j.device_id.is_some()).count(), 1);
    n.app.clock.advance(chrono::Duration::seconds(61));
    n.drain(&w).await;
    assert!(n.listed().is_empty());
}

#[tokio::test]
async fn wrong_credentials_give_a_clear_error_and_a_dead_letter_after_the_last_attempt() {
    let n = setup_with(|c| c.radius.job_max_attempts = 3).await;
    n.router.set_password("changed-on-the-router");
    let w = n.worker();
    n.status(&n.fixed, "SUSPENDED").await;
    for _ in 0..3 {
        n.drain(&w).await;
        n.app.clock.advance(chrono::Duration::seconds(60));
    }
    let job = n.jobs().await.into_iter().find(|j| j.device_id.is_some()).unwrap();
    assert_eq!((job.status, job.attempts), (JobStatus::Dead, 3));
    let err = job.last_error.unwrap();
    assert!(err.contains("core-1") && err.contains("password"), "{err}");

    let d = n
        .app
        .ok(
            &n.t.token,
            "{ deviceJobs(first: 10, status: DEAD) { edges { node { id lastError attempts } } } }",
            json!({}),
        )
        .await;
    let edges = d["deviceJobs"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1, "{d}");
    assert!(edges[0]["node"]["lastError"].as_str().unwrap().contains("password"));
    // The dead letter raised the device's helpdesk ticket.
    let q = "{ tickets { totalCount nodes { subject priority channel tags status messages { body } } } }";
    let d = n.app.ok(&n.t.token, q, json!({})).await;
    assert_eq!(d["tickets"]["totalCount"], 1, "{d}");
    let tk = &d["tickets"]["nodes"][0];
    assert_eq!(tk["subject"], "Changes to device core-1 are failing");
    assert_eq!((tk["priority"].as_str(), tk["channel"].as_str()), (Some("HIGH"), Some("API")));
    assert_eq!(tk["tags"], json!(["automatic", "device"]));
    assert!(tk["messages"][0]["body"].as_str().unwrap().contains("password"), "{tk}");

    let failed = n.netctl(&["--json", "jobs", "--failed"]).await;
    assert_eq!(failed.code, 0);
    assert_eq!(failed.json()[0]["status"], "DEAD");
    assert_eq!(failed.json()[0]["op"], "ADDRESS_LIST");

    // Fixed on the device, retried from the dead letter, delivered.
    n.router.set_password("routerpw");
    let r = n.netctl(&["jobs", "retry", &job.id.to_string()]).await;
    assert_eq!(r.code, 0, "{}", r.err);
    n.drain(&w).await;
    assert_eq!(n.listed(), vec![format!("{SUBNET}.0.7")]);
}

#[tokio::test]
async fn netctl_adds_tests_suspends_resumes_and_talks_to_devices() {
    let n = setup().await;
    let list = n.netctl(&["devices", "list"]).await;
    assert_eq!(list.code, 0);
    for name in ["core-1", "olt-hw", "olt-zte", "MIKROTIK", "HUAWEI_OLT"] {
        assert!(list.out.contains(name), "{name} missing:\n{}", list.out);
    }
    assert!(!list.out.contains("routerpw"));
    let (_, rid) = parse_global_id(&n.router_id);
    assert_eq!(n.netctl(&["--json", "devices", "list"]).await.json()[0]["id"], rid);

    // devices add takes the password from the environment, never the command line.
    let second = RouterSim::start("noc", "pw2").await;
    let port = second.addr().port().to_string();
    let add_args =
        ["devices", "add", "edge-2", "--kind", "mikrotik", "--host", "127.0.0.1", "--port", &port, "--user", "noc"];
    let missing = n.netctl(&add_args).await;
    assert_eq!(missing.code, cli::EXIT_USAGE, "{}", missing.err);
    assert!(missing.err.contains("NETCTL_DEVICE_PASSWORD"));
    let added =
        crate::netctl_cli::netctl_env(&n.app, Some(&n.t.slug), &add_args, &[("NETCTL_DEVICE_PASSWORD", "pw2")]).await;
    assert_eq!(added.code, 0, "{}", added.err);
    let test = n.netctl(&["devices", "test", "edge-2"]).await;
    assert_eq!(test.code, 0, "{}", test.err);
    assert!(test.out.contains("edge-2: ok"), "{}", test.out);
    let olt = n.netctl(&["devices", "test", "olt-hw"]).await;
    assert_eq!(olt.code, 0, "{}", olt.err);
    second.go_down().await;
    let down = n.netctl(&["devices", "test", "edge-2"]).await;
    assert_eq!(down.code, cli::EXIT_FAILURE);
    assert!(down.err.contains("edge-2"), "{}", down.err);
    let unknown = n.netctl(&["devices", "test", "nope"]).await;
    assert_eq!(unknown.code, cli::EXIT_NOT_FOUND);
    // edge-2 is down: take it out of the fan-out so suspensions don't wait for it.
    n.app
        .ok(
            &n.t.token,
            "mutation($id: ID!) { updateDevice(id: $id, input: {enabled: false}) { enabled } }",
            json!({"id": fixtures::global_id("Device", added_id(&n).await)}),
        )
        .await;

    let live = n.netctl(&["sessions", "--live"]).await;
    assert_eq!(live.code, 0, "{}", live.err);
    assert!(live.out.contains(&n.pppoe.username) && live.out.contains("10.77.1.9"), "{}", live.out);

    let s = n.netctl(&["suspend", &n.pppoe.username, "--reason", "NOC test"]).await;
    assert_eq!(s.code, 0, "{}{}", s.out, s.err);
    assert!(s.out.contains("SUSPENDED") && s.out.contains("DONE"), "{}", s.out);
    assert!(n.secret_disabled(), "delivered at once, no worker needed");
    assert_eq!(n.active_sessions(), 0);
    let again = n.netctl(&["suspend", &n.pppoe.username]).await;
    assert_eq!(again.code, 0);
    assert!(again.out.contains("already SUSPENDED"), "{}", again.out);
    let r = n.netctl(&["--json", "resume", &n.pppoe.username]).await;
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(r.json()["status"], "ACTIVE");
    assert!(!n.secret_disabled());
    let (_, gid) = parse_global_id(&n.gpon_hw.id);
    let g = n.netctl(&["suspend", "--subscription", &gid.to_string()]).await;
    assert_eq!(g.code, 0, "{}", g.err);
    assert!(!n.huawei.onu(HUAWEI_ONU).unwrap().active);
    let none = n.netctl(&["suspend", "nobody-here"]).await;
    assert_eq!(none.code, cli::EXIT_NOT_FOUND);

    let exec = n.netctl(&["exec", "core-1", "/ppp/secret/print", &format!("?name={}", n.pppoe.username)]).await;
    assert_eq!(exec.code, 0, "{}", exec.err);
    assert!(exec.out.contains(&n.pppoe.username) && exec.out.contains("disabled"), "{}", exec.out);
    let bad = n.netctl(&["exec", "core-1", "/no/such/menu/print"]).await;
    assert_eq!(bad.code, cli::EXIT_FAILURE);
    let olt_exec = n.netctl(&["exec", "olt-hw", "display", "ont", "info", "by-sn", HUAWEI_ONU]).await;
    assert_eq!(olt_exec.code, 0, "{}", olt_exec.err);
    assert!(olt_exec.out.contains("deactivated"), "{}", olt_exec.out);
}

async fn added_id(n: &Net) -> i64 {
    let tid = isp_core::store::tenants::by_slug(&n.app.ctx.db, &n.t.slug).await.unwrap().unwrap().id;
    isp_core::store::devices::by_name(&n.app.ctx.db, tid, "edge-2").await.unwrap().unwrap().id
}

#[tokio::test]
async fn the_worker_limits_concurrent_deliveries_per_device() {
    let n = setup_with(|c| c.devices.max_per_device = 1).await;
    let tok = n.t.token.clone();
    let customer = n.app.customer(&tok, "Many").await;
    let plan = n.app.plan(&tok, "Many Plan", &["STATIC_IP"]).await;
    let u = unique();
    let mut subs = Vec::new();
    for i in 0..6 {
        let input = json!({"customerId": customer, "planId": plan, "accessType": "STATIC_IP",
            "username": format!("m{i}-{u}"), "staticIpv4": format!("{SUBNET}.2.{}", i + 1), "status": "ACTIVE"});
        subs.push(sub(&n.app, &tok, input).await);
    }
    for s in &subs {
        n.status(s, "SUSPENDED").await;
    }
    let w = n.worker();
    n.drain(&w).await;
    assert_eq!(n.listed().len(), 6);
    assert_eq!(n.router.max_open_connections(), 1, "one connection, one delivery at a time");
}

#[tokio::test]
async fn a_gpon_subscription_on_an_ssh_olt_is_suspended_through_graphql() {
    let n = setup().await;
    let tok = n.t.token.clone();
    let onu = "HWTCC0DE0042";
    let olt = OltSim::start_ssh(
        OltVendor::Huawei,
        "sshroot",
        "sshpw",
        vec![SimOnu::new("0/1/2", 7, onu)],
        OltSim::generate_host_key(),
    )
    .await;
    // The host key is pinned through the same field as a router's API-SSL certificate.
    let pin = olt.host_key_fingerprint().expect("an SSH simulator has a host key");
    let dev = device(
        &n.app,
        &tok,
        json!({"name": "olt-ssh", "kind": "HUAWEI_OLT", "host": "127.0.0.1", "port": olt.addr().port(),
               "transport": "SSH", "username": "sshroot", "password": "sshpw", "tlsFingerprint": pin}),
    )
    .await;
    let customer = n.app.customer(&tok, "SSH Customer").await;
    let plan = n.app.plan(&tok, "SSH Plan", &["GPON"]).await;
    let s = sub(
        &n.app,
        &tok,
        json!({"customerId": customer, "planId": plan, "accessType": "GPON", "username": format!("gs-{}", unique()),
               "status": "ACTIVE", "onuSerial": onu, "oltPort": "0/1/2", "deviceId": dev}),
    )
    .await;

    n.status(&s, "SUSPENDED").await;
    n.drain(&n.worker()).await;
    assert!(!olt.onu(onu).unwrap().active, "the ONU behind the SSH OLT is deactivated");
    assert_eq!(olt.mutations(), 1);
    let jobs = n.jobs().await;
    assert!(jobs.iter().all(|j| j.status == JobStatus::Done), "{jobs:#?}");
    assert!(olt.commands().iter().any(|c| c == "ont deactivate 2 7"), "{:?}", olt.commands());

    // A host key that does not match the pin is refused before the password is sent.
    let set_pin =
        "mutation($id: ID!, $f: String) { updateDevice(id: $id, input: {tlsFingerprint: $f}) { tlsFingerprint } }";
    n.app.ok(&tok, set_pin, json!({"id": dev, "f": "00".repeat(32)})).await;
    n.status(&s, "ACTIVE").await;
    n.drain(&n.worker()).await;
    let job = n.jobs().await.into_iter().find(|j| j.status == JobStatus::Pending).expect("the resume waits");
    let err = job.last_error.unwrap_or_default();
    assert!(err.contains("olt-ssh") && err.to_lowercase().contains("host key"), "{err}");
    assert!(!olt.onu(onu).unwrap().active);
    n.app.ok(&tok, set_pin, json!({"id": dev, "f": pin})).await;
    n.app.clock.advance(chrono::Duration::seconds(3));
    n.drain(&n.worker()).await;
    assert!(olt.onu(onu).unwrap().active, "resumed once the pin matches");
}

/// Starts `isp worker --tenant <slug>` on the test's database as a separate process.
fn worker_process(n: &Net) -> tokio::process::Child {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_isp"));
    c.args(["worker", "--tenant", &n.t.slug, "--data-dir"])
        .arg(&n.app.ctx.config.data_dir)
        .env_remove("DATABASE_URL")
        .env_remove("ISP_DATABASE_URL")
        .env("ISP_DEVICE_TIMEOUT_MS", "2000")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    if !n.app.ctx.config.database_url.is_empty() {
        c.env("DATABASE_URL", &n.app.ctx.config.database_url);
    }
    c.spawn().expect("start isp worker")
}

#[tokio::test]
async fn a_worker_process_killed_mid_delivery_delivers_after_restart_exactly_once() {
    let n = setup().await;
    // The router takes the worker's connection but answers nothing: the delivery hangs.
    n.router.set_stalled(true);
    n.status(&n.fixed, "SUSPENDED").await;
    let mut first = worker_process(&n);
    let job_of = || async { n.jobs().await.into_iter().find(|j| j.device_id.is_some()).unwrap() };
    let mut claimed = false;
    for _ in 0..100 {
        if job_of().await.attempts == 1 && n.router.connections_accepted() > 0 {
            claimed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(claimed, "the worker process claimed the job and reached the router");
    first.kill().await.unwrap();
    let job = job_of().await;
    assert_eq!((job.status, job.attempts), (JobStatus::Pending, 1), "killed while delivering");
    assert_eq!(n.router.mutations(), 0);

    // Restarted: the job comes back when the dead worker's lease ends, and is delivered once.
    n.router.set_stalled(false);
    let _second = worker_process(&n);
    let mut done = None;
    for _ in 0..120 {
        let j = job_of().await;
        if j.status == JobStatus::Done {
            done = Some(j);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let job = done.expect("delivered after the restart");
    assert_eq!(job.attempts, 2);
    assert_eq!(n.router.mutations(), 1, "one change on the router");
    assert_eq!(n.listed(), vec![format!("{SUBNET}.0.7")]);
}
