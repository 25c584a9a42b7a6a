//! Network devices and the suspension outbox end to end: device CRUD with field errors,
//! write-only encrypted credentials, audit, isolation; and the device jobs a suspension or
//! resumption writes (per access type and the tenant's router strategy), through GraphQL
//! and through dunning; dead letters listed and retried.

use crate::*;
use chrono::{NaiveDate, TimeZone, Utc};
use isp_core::store::devices;
use isp_core::store::jobs::{self, DeviceJob, DeviceJobPayload, DeviceOp, JobKind};
use isp_core::store::tenants;
use isp_core::workflows::accounting::{self, AcctRecord, AcctStatus};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const CREATE: &str = "mutation($i: CreateDeviceInput!) { createDevice(input: $i) { id name kind host port transport \
    tlsFingerprint username hasPassword enabled nas { id } } }";
const UPDATE: &str = "mutation($id: ID!, $i: UpdateDeviceInput!) { updateDevice(id: $id, input: $i) { id name kind \
    port transport tlsFingerprint hasPassword enabled nas { id } } }";
const DELETE: &str = "mutation($id: ID!) { deleteDevice(id: $id) { id name } }";
const STATUS: &str = "mutation($id: ID!, $s: SubscriptionStatus!, $r: String) { changeSubscriptionStatus(id: $id, status: $s, reason: $r) { status } }";

async fn tenant_id(app: &TestApp, slug: &str) -> i64 {
    tenants::by_slug(&app.ctx.db, slug).await.unwrap().unwrap().id
}

/// Creates a device; its global ID.
async fn device(app: &TestApp, token: &str, name: &str, kind: &str, extra: Value) -> String {
    let mut i = json!({"name": name, "kind": kind, "host": "10.9.0.1", "username": "isp", "password": "router-pw-1"});
    i.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    app.ok(token, CREATE, json!({"i": i})).await["createDevice"]["id"].as_str().unwrap().to_string()
}

/// A loopback address for a NAS, freed if an earlier run against this database left one.
async fn nas_ip(app: &TestApp) -> String {
    let ip = crate::radius::unique_loopback().to_string();
    if let Some(old) = isp_core::store::nas::by_ip(&app.ctx.db, &ip).await.unwrap() {
        let owner = isp_core::auth::Actor::system(old.tenant_id, "test");
        isp_core::workflows::nas::delete(&app.ctx, &owner, old.id).await.unwrap();
    }
    ip
}

fn row(id: &str) -> i64 {
    parse_global_id(id).1
}

#[tokio::test]
async fn devices_are_validated_and_their_password_is_write_only_encrypted_and_never_audited() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let tid = tenant_id(&app, &t.slug).await;
    let secret = format!("Sup3r-{}", unique());
    let d = app
        .ok(
            &t.token,
            CREATE,
            json!({"i": {"name": "core", "kind": "MIKROTIK", "host": "core-1.pop.example.net", "username": "isp", "password": secret}}),
        )
        .await;
    let dev = &d["createDevice"];
    assert_eq!(
        (&dev["port"], &dev["transport"], &dev["hasPassword"], &dev["enabled"], &dev["tlsFingerprint"]),
        (&json!(8728), &json!("API"), &json!(true), &json!(true), &Value::Null)
    );
    let id = dev["id"].as_str().unwrap().to_string();
    // Per-transport defaults.
    // (Names sort the same under C and locale-aware collations.)
    let defaults = [
        ("mikrotik", "MIKROTIK", "API_SSL", 8729),
        ("huawei", "HUAWEI_OLT", "TELNET", 23),
        ("zte", "ZTE_OLT", "SSH", 22),
    ];
    for (name, kind, transport, port) in defaults {
        let i = json!({"name": name, "kind": kind, "transport": transport, "host": "10.0.0.2",
                       "username": "u", "password": "p"});
        let d = app.ok(&t.token, CREATE, json!({"i": i})).await;
        assert_eq!((&d["createDevice"]["port"], &d["createDevice"]["transport"]), (&json!(port), &json!(transport)));
    }
    let d = app.ok(&t.token, CREATE, json!({"i": {"name": "oltdefault", "kind": "HUAWEI_OLT", "host": "10.0.0.3", "username": "u", "password": "p"}})).await;
    assert_eq!(d["createDevice"]["transport"], "TELNET");

    // The password is not in the graph at all, and it is encrypted at rest.
    let r = app.gql(Some(&t.token), "query($id: ID!) { device(id: $id) { password } }", json!({"id": id})).await;
    assert_eq!(code(&r), Some("VALIDATION"), "{r:#}");
    let (enc,): (String,) = isp_core::db::query_as("SELECT password_enc FROM devices WHERE tenant_id = $1 AND id = $2")
        .bind(tid)
        .bind(row(&id))
        .fetch_one(&app.ctx.db)
        .await
        .unwrap();
    assert!(enc.starts_with("v1:") && !enc.contains(&secret), "{enc}");
    let stored = devices::get(&app.ctx.db, tid, row(&id)).await.unwrap();
    assert_eq!(stored.password(&app.ctx.secrets).unwrap(), secret);
    assert!(app.ctx.secrets.cipher.decrypt("subscription.password", &enc).is_err(), "bound to its column");

    // Field-level errors.
    let nas_b = {
        let b = app.tenant().await;
        let ip = nas_ip(&app).await;
        let q = "mutation($ip: String!) { createNas(input: {name: \"B nas\", ipAddress: $ip, secret: \"b-secret\"}) { id } }";
        app.ok(&b.token, q, json!({"ip": ip})).await["createNas"]["id"].as_str().unwrap().to_string()
    };
    let base = json!({"name": "x", "kind": "MIKROTIK", "host": "10.0.0.9", "username": "u", "password": "p"});
    let bad = [
        (json!({"name": "  "}), "VALIDATION", "name"),
        (json!({"name": "core"}), "CONFLICT", "name"),
        (json!({"host": "not a host"}), "VALIDATION", "host"),
        (json!({"host": "-bad.example"}), "VALIDATION", "host"),
        (json!({"port": 0}), "VALIDATION", "port"),
        (json!({"port": 65536}), "VALIDATION", "port"),
        (json!({"transport": "TELNET"}), "VALIDATION", "transport"),
        (json!({"kind": "ZTE_OLT", "transport": "API"}), "VALIDATION", "transport"),
        (json!({"transport": "API_SSL", "tlsFingerprint": "abcd"}), "VALIDATION", "tlsFingerprint"),
        (json!({"transport": "API_SSL", "tlsFingerprint": "zz".repeat(32)}), "VALIDATION", "tlsFingerprint"),
        (json!({"tlsFingerprint": "ab".repeat(32)}), "VALIDATION", "tlsFingerprint"),
        (json!({"username": "has space"}), "VALIDATION", "username"),
        (json!({"password": ""}), "VALIDATION", "password"),
        (json!({"nasId": nas_b}), "VALIDATION", "nasId"),
        (json!({"nasId": id}), "VALIDATION", "nasId"),
    ];
    for (patch, want_code, want_field) in bad {
        let mut i = base.clone();
        i.as_object_mut().unwrap().extend(patch.as_object().unwrap().clone());
        let r = app.gql(Some(&t.token), CREATE, json!({"i": i})).await;
        assert_eq!((code(&r), field(&r)), (Some(want_code), Some(want_field)), "{patch}: {r:#}");
    }

    // A pinned fingerprint is stored as lower-case hex; a transport change moves a default port.
    let colons = (0..32).map(|_| "AB").collect::<Vec<_>>().join(":");
    let d = app.ok(&t.token, UPDATE, json!({"id": id, "i": {"transport": "API_SSL", "tlsFingerprint": colons}})).await;
    let u = &d["updateDevice"];
    assert_eq!((&u["port"], &u["tlsFingerprint"]), (&json!(8729), &json!("ab".repeat(32))));
    let r = app.gql(Some(&t.token), UPDATE, json!({"id": id, "i": {"transport": "API"}})).await;
    assert_eq!(field(&r), Some("tlsFingerprint"), "a pin without TLS is refused: {r:#}");
    let d = app
        .ok(&t.token, UPDATE, json!({"id": id, "i": {"transport": "API", "tlsFingerprint": null, "port": 18728}}))
        .await;
    assert_eq!((&d["updateDevice"]["port"], &d["updateDevice"]["tlsFingerprint"]), (&json!(18728), &Value::Null));
    let r = app.gql(Some(&t.token), UPDATE, json!({"id": id, "i": {"kind": "HUAWEI_OLT"}})).await;
    assert_eq!(field(&r), Some("transport"), "{r:#}");
    let new_secret = format!("N3w-{}", unique());
    let d = app.ok(&t.token, UPDATE, json!({"id": id, "i": {"password": new_secret, "enabled": false}})).await;
    assert_eq!(d["updateDevice"]["enabled"], false);
    assert_eq!(devices::get(&app.ctx.db, tid, row(&id)).await.unwrap().password(&app.ctx.secrets).unwrap(), new_secret);
    let r = app.gql(Some(&t.token), UPDATE, json!({"id": id, "i": {"name": "oltdefault"}})).await;
    assert_eq!((code(&r), field(&r)), (Some("CONFLICT"), Some("name")), "{r:#}");

    // Lists: by name, filtered by kind, paged.
    let d = app
        .ok(&t.token, "{ devices(first: 2) { pageInfo { hasNextPage endCursor } nodes { name } } }", json!({}))
        .await;
    assert_eq!(d["devices"]["nodes"], json!([{"name": "core"}, {"name": "huawei"}]));
    let after = d["devices"]["pageInfo"]["endCursor"].clone();
    let d = app
        .ok(&t.token, "query($a: String) { devices(first: 10, after: $a) { nodes { name } } }", json!({"a": after}))
        .await;
    assert_eq!(d["devices"]["nodes"], json!([{"name": "mikrotik"}, {"name": "oltdefault"}, {"name": "zte"}]));
    let d = app.ok(&t.token, "{ devices(kind: HUAWEI_OLT) { nodes { name kind } } }", json!({})).await;
    assert_eq!(d["devices"]["nodes"].as_array().unwrap().len(), 2);
    let d = app.ok(&t.token, "query($id: ID!) { node(id: $id) { ... on Device { name } } }", json!({"id": id})).await;
    assert_eq!(d["node"]["name"], "core");

    // Every change is audited, never with a password.
    let d = app
        .ok(
            &t.token,
            "query($o: ID) { auditLog(first: 20, filter: {objectId: $o}) { nodes { action details } } }",
            json!({"o": id}),
        )
        .await;
    let entries = d["auditLog"]["nodes"].as_array().unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, vec!["device.update", "device.update", "device.update", "device.create"]);
    assert_eq!(entries[0]["details"]["fields"], json!(["password", "enabled"]));
    let text = d.to_string();
    assert!(!text.contains(&secret) && !text.contains(&new_secret) && !text.contains("v1:"), "{text}");

    // Delete: refused while a subscription or a pending job needs it; history survives.
    let plan = app.plan(&t.token, "Dev plan", &["PPPOE"]).await;
    let cust = app.customer(&t.token, "Dev customer").await;
    let sub = app.subscription(&t.token, &cust, &plan, &format!("dev-{}", unique()), "ACTIVE").await;
    let q = "mutation($i: UpdateSubscriptionInput!) { updateSubscription(input: $i) { device { id name } } }";
    let d = app.ok(&t.token, q, json!({"i": {"id": sub, "deviceId": id}})).await;
    assert_eq!(d["updateSubscription"]["device"]["name"], "core");
    let r = app.gql(Some(&t.token), DELETE, json!({"id": id})).await;
    assert_eq!((code(&r), field(&r)), (Some("CONFLICT"), Some("id")), "{r:#}");
    app.ok(&t.token, UPDATE, json!({"id": id, "i": {"enabled": true}})).await;
    // With local secrets, cancelling writes a job for the subscription's own router.
    app.ok(&t.token, "mutation { updateTenant(input: {routerSuspension: LOCAL_SECRETS}) { id } }", json!({})).await;
    app.ok(&t.token, STATUS, json!({"id": sub, "s": "CANCELLED"})).await;
    let pending = jobs::recent(&app.ctx.db, tid, 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].device_id, Some(row(&id)));
    let r = app.gql(Some(&t.token), DELETE, json!({"id": id})).await;
    assert_eq!((code(&r), field(&r)), (Some("CONFLICT"), Some("id")), "pending job: {r:#}");
    jobs::complete(&app.ctx.db, pending[0].id, app.ctx.now_ms()).await.unwrap();
    let d = app.ok(&t.token, DELETE, json!({"id": id})).await;
    assert_eq!(d["deleteDevice"]["name"], "core");
    let d = app.ok(&t.token, "query($id: ID!) { device(id: $id) { id } }", json!({"id": id})).await;
    assert!(d["device"].is_null());
    let kept = jobs::get(&app.ctx.db, tid, pending[0].id).await.unwrap().unwrap();
    assert_eq!((kept.device_id, kept.status), (None, jobs::JobStatus::Done), "the job stays, unlinked");
    let r = app.gql(Some(&t.token), DELETE, json!({"id": id})).await;
    assert_eq!(code(&r), Some("NOT_FOUND"), "{r:#}");
    let d = app
        .ok(
            &t.token,
            "{ auditLog(first: 1, filter: {actionPrefix: \"device.delete\"}) { nodes { details } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["auditLog"]["nodes"][0]["details"]["name"], "core");
}

#[tokio::test]
async fn subscriptions_name_a_device_of_the_right_kind_in_their_own_tenant() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let router = device(&app, &t.token, "r1", "MIKROTIK", json!({})).await;
    let olt = device(&app, &t.token, "o1", "ZTE_OLT", json!({})).await;
    let other = app.tenant().await;
    let foreign = device(&app, &other.token, "foreign", "MIKROTIK", json!({})).await;
    let plan = app.plan(&t.token, "Any", &["PPPOE", "GPON"]).await;
    let cust = app.customer(&t.token, "Kinds").await;
    let create = "mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) { id device { id kind } } }";
    let gpon = |dev: &str| {
        json!({"i": {"customerId": cust, "planId": plan, "accessType": "GPON", "username": format!("g-{}", unique()),
                     "onuSerial": "ZTEG12345678", "oltPort": "1/2/3", "deviceId": dev}})
    };
    let pppoe = |dev: &str| {
        json!({"i": {"customerId": cust, "planId": plan, "accessType": "PPPOE", "username": format!("p-{}", unique()),
                     "password": "pw", "deviceId": dev}})
    };
    for (vars, why) in
        [(gpon(&router), "GPON on a router"), (pppoe(&olt), "PPPoE on an OLT"), (pppoe(&foreign), "other tenant")]
    {
        let r = app.gql(Some(&t.token), create, vars).await;
        assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some("deviceId")), "{why}: {r:#}");
    }
    let r = app.gql(Some(&t.token), create, pppoe(&plan)).await;
    assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some("deviceId")), "a plan's ID: {r:#}");
    let d = app.ok(&t.token, create, gpon(&olt)).await;
    assert_eq!(d["createSubscription"]["device"], json!({"id": olt, "kind": "ZTE_OLT"}));
    let d = app.ok(&t.token, create, pppoe(&router)).await;
    let sub = d["createSubscription"]["id"].as_str().unwrap().to_string();
    // Changing the access type re-checks the device; clearing it falls back to every router.
    let upd = "mutation($i: UpdateSubscriptionInput!) { updateSubscription(input: $i) { device { id } } }";
    let r = app
        .gql(
            Some(&t.token),
            upd,
            json!({"i": {"id": sub, "accessType": "GPON", "onuSerial": "ZTEG00000001", "oltPort": "0/0/1"}}),
        )
        .await;
    assert_eq!(field(&r), Some("deviceId"), "{r:#}");
    let d = app.ok(&t.token, upd, json!({"i": {"id": sub, "deviceId": null}})).await;
    assert!(d["updateSubscription"]["device"].is_null());
    // A router serving GPON subscriptions cannot become an OLT and back.
    let r = app.gql(Some(&t.token), UPDATE, json!({"id": olt, "i": {"kind": "MIKROTIK", "transport": "API"}})).await;
    assert_eq!((code(&r), field(&r)), (Some("CONFLICT"), Some("kind")), "{r:#}");
    let d = app.ok(&t.token, UPDATE, json!({"id": olt, "i": {"kind": "HUAWEI_OLT"}})).await;
    assert_eq!(d["updateDevice"]["kind"], "HUAWEI_OLT", "OLT to OLT is fine");
}

/// Subscriptions of one tenant, one per case of the strategy table.
struct Fleet {
    tid: i64,
    r1: i64,
    r2: i64,
    olt: i64,
    static_ip: (String, i64),
    pppoe_plain: (String, i64),
    pppoe_ip: (String, i64),
    pppoe_own: (String, i64),
    hotspot: (String, i64),
    gpon: (String, i64),
    gpon_orphan: (String, i64),
}

/// What a device job row says, comparable as a set.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    kind: String,
    device: i64,
    sub: i64,
    op: String,
    address: Option<String>,
    list: Option<String>,
    onu: Option<(String, String)>,
}

fn seen(j: &DeviceJob) -> Seen {
    let p: DeviceJobPayload = serde_json::from_str(&j.payload).unwrap();
    assert_eq!(p.comment, format!("isp sub:{} {}", p.subscription_id, p.username));
    assert!(j.nas_id.is_none());
    Seen {
        kind: j.kind.as_str().into(),
        device: j.device_id.expect("device job names its device"),
        sub: p.subscription_id,
        op: p.op.as_str().into(),
        address: p.address,
        list: p.list,
        onu: p.onu_serial.zip(p.olt_port),
    }
}

fn want(kind: JobKind, device: i64, sub: i64, op: DeviceOp, address: Option<&str>, list: Option<&str>) -> Seen {
    Seen {
        kind: kind.as_str().into(),
        device,
        sub,
        op: op.as_str().into(),
        address: address.map(Into::into),
        list: list.map(Into::into),
        onu: None,
    }
}

/// Jobs written after job id `since`: (device jobs as a set, RADIUS disconnects).
async fn jobs_since(app: &TestApp, tid: i64, since: i64) -> (BTreeSet<Seen>, Vec<DeviceJob>) {
    let all = jobs::recent(&app.ctx.db, tid, 100).await.unwrap();
    let new: Vec<DeviceJob> = all.into_iter().filter(|j| j.id > since).collect();
    let (radius, device): (Vec<_>, Vec<_>) = new.into_iter().partition(|j| j.device_id.is_none());
    let set: BTreeSet<Seen> = device.iter().map(seen).collect();
    assert_eq!(set.len(), device.len(), "no duplicate jobs: {device:?}");
    (set, radius)
}

async fn last_job(app: &TestApp, tid: i64) -> i64 {
    jobs::recent(&app.ctx.db, tid, 1).await.unwrap().first().map_or(0, |j| j.id)
}

async fn fleet(app: &TestApp, t: &Tenant) -> Fleet {
    let tid = tenant_id(app, &t.slug).await;
    let r1 = device(app, &t.token, "r1", "MIKROTIK", json!({})).await;
    let r2 = device(app, &t.token, "r2", "MIKROTIK", json!({"transport": "API_SSL"})).await;
    device(app, &t.token, "r3-off", "MIKROTIK", json!({"enabled": false})).await;
    let olt = device(app, &t.token, "olt", "HUAWEI_OLT", json!({})).await;
    device(app, &t.token, "olt-2", "ZTE_OLT", json!({})).await;
    let plan = app.plan(&t.token, "Every access", &["PPPOE", "HOTSPOT", "STATIC_IP", "GPON"]).await;
    let cust = app.customer(&t.token, "Fleet").await;
    let mk = |access: &str, extra: Value| {
        let mut i = json!({"customerId": cust, "planId": plan, "accessType": access, "status": "ACTIVE",
                           "username": format!("{}-{}", access.to_lowercase(), unique()), "password": "pw"});
        i.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        i
    };
    let create = |i: Value| async move {
        let q = "mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) { id } }";
        let id = app.ok(&t.token, q, json!({"i": i})).await["createSubscription"]["id"].as_str().unwrap().to_string();
        let n = row(&id);
        (id, n)
    };
    Fleet {
        tid,
        r1: row(&r1),
        r2: row(&r2),
        olt: row(&olt),
        static_ip: create(mk("STATIC_IP", json!({"staticIpv4": "198.51.100.10"}))).await,
        pppoe_plain: create(mk("PPPOE", json!({}))).await,
        pppoe_ip: create(mk("PPPOE", json!({"staticIpv4": "198.51.100.11"}))).await,
        pppoe_own: create(mk("PPPOE", json!({"deviceId": r2}))).await,
        hotspot: create(mk("HOTSPOT", json!({}))).await,
        gpon: create(mk("GPON", json!({"onuSerial": "HWTC1A2B3C4D", "oltPort": "0/1/3", "deviceId": olt}))).await,
        gpon_orphan: create(mk("GPON", json!({"onuSerial": "HWTC00000001", "oltPort": "0/1/4"}))).await,
    }
}

#[tokio::test]
async fn suspending_and_resuming_enqueue_the_jobs_of_each_access_type_and_strategy() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let f = fleet(&app, &t).await;
    let d = app.ok(&t.token, "{ tenant { settings { routerSuspension walledGardenAddressList } } }", json!({})).await;
    assert_eq!(
        d["tenant"]["settings"],
        json!({"routerSuspension": "ADDRESS_LIST", "walledGardenAddressList": "suspended"})
    );
    let r = app
        .gql(Some(&t.token), "mutation { updateTenant(input: {walledGardenAddressList: \"\"}) { id } }", json!({}))
        .await;
    assert_eq!(field(&r), Some("walledGardenAddressList"), "{r:#}");
    // A live session on the PPPoE subscription: a suspension always cuts it.
    let nas = {
        let ip = nas_ip(&app).await;
        let q = "mutation($ip: String!) { createNas(input: {name: \"bras\", ipAddress: $ip, secret: \"s3cret-nas\"}) { id } }";
        row(app.ok(&t.token, q, json!({"ip": ip})).await["createNas"]["id"].as_str().unwrap())
    };
    let rec = AcctRecord {
        status: AcctStatus::Start,
        acct_session_id: format!("s-{}", unique()),
        username: "whatever".into(),
        class_subscription_id: Some(f.pppoe_plain.1),
        framed_ip: Some("100.64.0.9".into()),
        calling_station_id: None,
        nas_port_id: None,
        input_octets: 0,
        output_octets: 0,
        session_time: 0,
        terminate_cause: None,
    };
    accounting::account(&app.ctx, f.tid, nas, &rec).await.unwrap();

    use DeviceOp::*;
    use JobKind::{DeviceResume as Res, DeviceSuspend as Sus};
    let routers = [f.r1, f.r2];
    let onu = |kind: JobKind| Seen {
        onu: Some(("HWTC1A2B3C4D".into(), "0/1/3".into())),
        ..want(kind, f.olt, f.gpon.1, Onu, None, None)
    };
    for (strategy, list) in [("ADDRESS_LIST", "walled"), ("LOCAL_SECRETS", "suspended"), ("RADIUS_ONLY", "x")] {
        app.ok(
            &t.token,
            "mutation($s: RouterSuspension!, $l: String!) { updateTenant(input: {routerSuspension: $s, walledGardenAddressList: $l}) { id } }",
            json!({"s": strategy, "l": list}),
        )
        .await;
        // (subscription, expected device jobs per kind).
        let by_sub = |kind: JobKind| -> Vec<(i64, BTreeSet<Seen>)> {
            let al = |sub: i64, ip: &str| -> BTreeSet<Seen> {
                routers.iter().map(|r| want(kind, *r, sub, AddressList, Some(ip), Some(list))).collect()
            };
            let none = BTreeSet::<Seen>::new;
            vec![
                (f.static_ip.1, al(f.static_ip.1, "198.51.100.10")),
                (
                    f.pppoe_plain.1,
                    match strategy {
                        "LOCAL_SECRETS" => {
                            routers.iter().map(|r| want(kind, *r, f.pppoe_plain.1, PppSecret, None, None)).collect()
                        }
                        _ => none(),
                    },
                ),
                (
                    f.pppoe_ip.1,
                    match strategy {
                        "ADDRESS_LIST" => al(f.pppoe_ip.1, "198.51.100.11"),
                        "LOCAL_SECRETS" => {
                            routers.iter().map(|r| want(kind, *r, f.pppoe_ip.1, PppSecret, None, None)).collect()
                        }
                        _ => none(),
                    },
                ),
                (
                    f.pppoe_own.1,
                    match strategy {
                        "LOCAL_SECRETS" => [want(kind, f.r2, f.pppoe_own.1, PppSecret, None, None)].into(),
                        _ => none(),
                    },
                ),
                (
                    f.hotspot.1,
                    match strategy {
                        "LOCAL_SECRETS" => {
                            routers.iter().map(|r| want(kind, *r, f.hotspot.1, HotspotUser, None, None)).collect()
                        }
                        _ => none(),
                    },
                ),
                (f.gpon.1, [onu(kind)].into()),
                (f.gpon_orphan.1, none()),
            ]
        };
        let ids = [&f.static_ip, &f.pppoe_plain, &f.pppoe_ip, &f.pppoe_own, &f.hotspot, &f.gpon, &f.gpon_orphan];
        for ((gid, sub), (sub2, expected)) in ids.iter().zip(by_sub(Sus)) {
            assert_eq!(*sub, sub2);
            let since = last_job(&app, f.tid).await;
            app.ok(&t.token, STATUS, json!({"id": gid, "s": "SUSPENDED", "r": "abuse"})).await;
            let (got, radius) = jobs_since(&app, f.tid, since).await;
            assert_eq!(got, expected, "{strategy}: suspending subscription {sub}");
            let want_radius = usize::from(*sub == f.pppoe_plain.1);
            assert_eq!(radius.len(), want_radius, "{strategy} {sub}: {radius:?}");
            if let Some(j) = radius.first() {
                assert_eq!((j.kind, j.nas_id), (JobKind::RadiusDisconnect, Some(nas)));
                assert!(j.payload.contains(&rec.acct_session_id) && j.payload.contains("abuse"), "{}", j.payload);
            }
            let all = jobs::recent(&app.ctx.db, f.tid, 1).await.unwrap();
            if !expected.is_empty() {
                let p: DeviceJobPayload = serde_json::from_str(&all[0].payload).unwrap();
                assert_eq!(p.reason, "abuse");
            }
        }
        for ((gid, sub), (_, expected)) in ids.iter().zip(by_sub(Res)) {
            let since = last_job(&app, f.tid).await;
            app.ok(&t.token, STATUS, json!({"id": gid, "s": "ACTIVE"})).await;
            let (got, radius) = jobs_since(&app, f.tid, since).await;
            assert_eq!(got, expected, "{strategy}: resuming subscription {sub}");
            assert!(radius.is_empty(), "REJECT tenants have no walled-garden session to end: {radius:?}");
        }
    }
    // Walled garden: resuming ends the walled-garden session too; the same status again and
    // PENDING -> ACTIVE write nothing; cancelling an active subscription blocks it.
    app.ok(&t.token, "mutation { updateTenant(input: {suspendedAccess: WALLED_GARDEN, routerSuspension: ADDRESS_LIST, walledGardenAddressList: \"suspended\"}) { id } }", json!({}))
        .await;
    app.ok(&t.token, STATUS, json!({"id": f.pppoe_plain.0, "s": "SUSPENDED"})).await;
    let since = last_job(&app, f.tid).await;
    app.ok(&t.token, STATUS, json!({"id": f.pppoe_plain.0, "s": "SUSPENDED"})).await;
    assert_eq!(last_job(&app, f.tid).await, since, "no-op status change writes nothing");
    app.ok(&t.token, STATUS, json!({"id": f.pppoe_plain.0, "s": "ACTIVE"})).await;
    let (got, radius) = jobs_since(&app, f.tid, since).await;
    assert!(got.is_empty());
    assert_eq!(radius.len(), 1, "walled-garden session cut on resume");
    let since = last_job(&app, f.tid).await;
    app.ok(&t.token, STATUS, json!({"id": f.static_ip.0, "s": "CANCELLED"})).await;
    let (got, _) = jobs_since(&app, f.tid, since).await;
    let expected: BTreeSet<Seen> = routers
        .iter()
        .map(|r| want(Sus, *r, f.static_ip.1, AddressList, Some("198.51.100.10"), Some("suspended")))
        .collect();
    assert_eq!(got, expected);
    let cust = app.customer(&t.token, "Pending").await;
    let plan = app.plan(&t.token, "Static", &["STATIC_IP"]).await;
    let q = "mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) { id } }";
    let i = json!({"customerId": cust, "planId": plan, "accessType": "STATIC_IP", "username": format!("pend-{}", unique()), "staticIpv4": "198.51.100.99"});
    let pending = app.ok(&t.token, q, json!({"i": i})).await["createSubscription"]["id"].as_str().unwrap().to_string();
    let since = last_job(&app, f.tid).await;
    app.ok(&t.token, STATUS, json!({"id": pending, "s": "ACTIVE"})).await;
    assert_eq!(last_job(&app, f.tid).await, since, "activating a new subscription writes nothing");
    // The status change is audited with its job count.
    let d = app
        .ok(
            &t.token,
            "query($o: ID) { auditLog(first: 1, filter: {objectId: $o}) { nodes { action details } } }",
            json!({"o": f.static_ip.0}),
        )
        .await;
    assert_eq!(d["auditLog"]["nodes"][0]["details"]["jobs"], 2);
}

fn day(app: &TestApp, d: &str) {
    let d = NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
    app.clock.set(Utc.from_utc_datetime(&d.and_hms_opt(12, 0, 0).unwrap()));
}

#[tokio::test]
async fn dunning_suspension_and_payment_reactivation_enqueue_device_jobs() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let tid = tenant_id(&app, &t.slug).await;
    day(&app, "2024-03-01");
    app.ok(
        &t.token,
        "mutation { updateBillingSettings(input: {paymentTermsDays: 5, overdueAfterDays: 0, suspendAfterDays: 3}) { mode } }",
        json!({}),
    )
    .await;
    let router = row(&device(&app, &t.token, "edge", "MIKROTIK", json!({})).await);
    let mut plan = plan_input(&format!("Static {}", unique()), &["STATIC_IP"]);
    plan["priceMinor"] = json!(1500);
    let plan = app.ok(&t.token, "mutation($i: PlanInput!) { createPlan(input: $i) { id } }", json!({"i": plan})).await
        ["createPlan"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let cust = app.customer(&t.token, "Late static").await;
    let q = "mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) { id } }";
    let i = json!({"customerId": cust, "planId": plan, "accessType": "STATIC_IP", "username": format!("late-{}", unique()),
                   "staticIpv4": "203.0.113.50", "status": "ACTIVE", "startDate": "2024-03-01"});
    let sub = row(app.ok(&t.token, q, json!({"i": i})).await["createSubscription"]["id"].as_str().unwrap());
    app.ok(&t.token, "mutation { runBilling(asOf: \"2024-03-01\") { asOf } }", json!({})).await;
    day(&app, "2024-03-10");
    let d = app.ok(&t.token, "mutation { runDunning(asOf: \"2024-03-10\") { suspended } }", json!({})).await;
    assert_eq!(d["runDunning"]["suspended"], 1);
    let (got, radius) = jobs_since(&app, tid, 0).await;
    let expected =
        [want(JobKind::DeviceSuspend, router, sub, DeviceOp::AddressList, Some("203.0.113.50"), Some("suspended"))];
    assert_eq!(got, expected.into());
    assert!(radius.is_empty());
    let all = jobs::recent(&app.ctx.db, tid, 10).await.unwrap();
    assert!(all[0].payload.contains("dunning suspension"), "{}", all[0].payload);

    let since = last_job(&app, tid).await;
    let pay = "mutation($c: ID!) { recordPayment(input: {customerId: $c, amountMinor: 1500, method: CASH}) { id } }";
    app.ok(&t.token, pay, json!({"c": cust})).await;
    let (got, _) = jobs_since(&app, tid, since).await;
    let expected =
        [want(JobKind::DeviceResume, router, sub, DeviceOp::AddressList, Some("203.0.113.50"), Some("suspended"))];
    assert_eq!(got, expected.into(), "payment reactivation unblocks the address");
    let d = app
        .ok(
            &t.token,
            "query($id: ID!) { subscription(id: $id) { status } }",
            json!({"id": global_id("Subscription", sub)}),
        )
        .await;
    assert_eq!(d["subscription"]["status"], "ACTIVE");
}

const JOBS: &str =
    "query($s: JobStatus) { deviceJobs(status: $s, first: 10) { nodes { id kind status attempts lastError \
    nextAttemptAt payload device { id name } nas { id } createdAt updatedAt } } }";
const RETRY: &str = "mutation($id: ID!) { retryDeviceJob(id: $id) { id status attempts lastError } }";

#[tokio::test]
async fn dead_device_jobs_are_listed_and_revived() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let tid = tenant_id(&app, &t.slug).await;
    let router = device(&app, &t.token, "edge", "MIKROTIK", json!({})).await;
    let plan = app.plan(&t.token, "Static", &["STATIC_IP"]).await;
    let cust = app.customer(&t.token, "Jobs").await;
    let q = "mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) { id } }";
    let i = json!({"customerId": cust, "planId": plan, "accessType": "STATIC_IP", "username": format!("j-{}", unique()),
                   "staticIpv4": "203.0.113.60", "status": "ACTIVE"});
    let sub = app.ok(&t.token, q, json!({"i": i})).await["createSubscription"]["id"].as_str().unwrap().to_string();
    app.ok(&t.token, STATUS, json!({"id": sub, "s": "SUSPENDED"})).await;
    let job = jobs::recent(&app.ctx.db, tid, 1).await.unwrap().remove(0);
    assert_eq!(job.device_id, Some(row(&router)));
    let now = app.ctx.now_ms();
    jobs::fail(&app.ctx.db, job.id, "!trap: not logged in", now, true, now).await.unwrap();

    let d = app.ok(&t.token, JOBS, json!({"s": "DEAD"})).await;
    let nodes = d["deviceJobs"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1, "{d:#}");
    let n = &nodes[0];
    assert_eq!(
        (&n["kind"], &n["status"], &n["attempts"], &n["lastError"], &n["device"]["id"], &n["nas"]),
        (
            &json!("DEVICE_SUSPEND"),
            &json!("DEAD"),
            &json!(0),
            &json!("!trap: not logged in"),
            &json!(router),
            &Value::Null
        )
    );
    assert_eq!(n["payload"]["op"], "ADDRESS_LIST");
    assert_eq!(n["payload"]["address"], "203.0.113.60");
    assert_eq!(parse_global_id(n["id"].as_str().unwrap()), ("DeviceJob".to_string(), job.id));
    let d = app.ok(&t.token, JOBS, json!({"s": "PENDING"})).await;
    assert_eq!(d["deviceJobs"]["nodes"], json!([]));

    // Who may see and retry.
    let support = app.staff(&t, "SUPPORT").await;
    let cashier = app.staff(&t, "CASHIER").await;
    let d = app.ok(&support.token, JOBS, json!({"s": "DEAD"})).await;
    assert_eq!(d["deviceJobs"]["nodes"].as_array().unwrap().len(), 1);
    let r = app.gql(Some(&cashier.token), JOBS, json!({})).await;
    assert_eq!(code(&r), Some("FORBIDDEN"), "{r:#}");
    let r = app.gql(Some(&support.token), RETRY, json!({"id": n["id"]})).await;
    assert_eq!(code(&r), Some("FORBIDDEN"), "{r:#}");
    let other = app.tenant().await;
    let r = app.gql(Some(&other.token), RETRY, json!({"id": n["id"]})).await;
    assert_eq!(code(&r), Some("NOT_FOUND"), "{r:#}");
    let d = app.ok(&other.token, JOBS, json!({})).await;
    assert_eq!(d["deviceJobs"]["nodes"], json!([]));

    let engineer = app.staff(&t, "ENGINEER").await;
    let d = app.ok(&engineer.token, RETRY, json!({"id": n["id"]})).await;
    assert_eq!(d["retryDeviceJob"]["status"], "PENDING");
    assert_eq!(d["retryDeviceJob"]["attempts"], 0);
    let r = app.gql(Some(&engineer.token), RETRY, json!({"id": n["id"]})).await;
    assert_eq!((code(&r), field(&r)), (Some("CONFLICT"), Some("id")), "only dead jobs: {r:#}");
    let back = jobs::get(&app.ctx.db, tid, job.id).await.unwrap().unwrap();
    assert_eq!((back.status, back.device_id), (jobs::JobStatus::Pending, job.device_id));
    let d = app
        .ok(
            &t.token,
            "{ auditLog(first: 1, filter: {actionPrefix: \"job.\"}) { nodes { action actorId } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["auditLog"]["nodes"][0], json!({"action": "job.retry", "actorId": engineer.id}));
}
