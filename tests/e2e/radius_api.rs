//! RADIUS in GraphQL: NAS CRUD with a write-only secret, sessions, usage, the auth log,
//! `disconnectSession`, role checks and audit entries.

use crate::radius::*;
use crate::radius_acct::*;
use crate::*;
use isp_radiusd::dictionary::acct_status_type;
use isp_radiusd::Code;
use serde_json::json;

#[tokio::test]
async fn nas_crud_keeps_the_secret_write_only_and_is_audited() {
    let r = spawn_radius().await;
    let token = &r.t.token;
    let ip = unique_loopback().to_string();
    let mut early = pap_request("someone", "x");
    let early = early.encode_request(b"sup3r-secret").unwrap();
    let early_sock = tokio::net::UdpSocket::bind((ip.parse::<std::net::Ipv4Addr>().unwrap(), 0)).await.unwrap();
    assert_eq!(
        raw_from(&early_sock, r.auth, &early, std::time::Duration::from_millis(300)).await,
        None,
        "not a NAS yet"
    );
    let d = app_ok(&r, token, "mutation($i: CreateNasInput!) { createNas(input: $i) { id name ipAddress nasType coaPort requireMessageAuthenticator } }",
        json!({"i": {"name": "Core router", "ipAddress": ip, "secret": "sup3r-secret"}})).await;
    let n = &d["createNas"];
    assert_eq!(
        (n["nasType"].as_str(), n["coaPort"].as_i64(), n["requireMessageAuthenticator"].as_bool()),
        (Some("MIKROTIK"), Some(3799), Some(true))
    );
    let id = n["id"].as_str().unwrap().to_string();
    assert!(!d.to_string().contains("sup3r-secret"));
    // The type has no field that could return the secret.
    let t = app_ok(&r, token, "{ __type(name: \"Nas\") { fields { name } } }", json!({})).await;
    let fields: Vec<&str> =
        t["__type"]["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert!(fields.iter().all(|f| !f.to_lowercase().contains("secret")), "{fields:?}");

    // The RADIUS server in this process sees the new NAS at once (no stale negative cache).
    let reply = raw_from(&early_sock, r.auth, &early, std::time::Duration::from_secs(3)).await;
    assert_eq!(isp_radiusd::Packet::decode(&reply.expect("an answer")).unwrap().code, Code::AccessReject);

    let r2 = r
        .app
        .gql(
            Some(token),
            "mutation($i: CreateNasInput!) { createNas(input: $i) { id } }",
            json!({"i": {"name": "Dup", "ipAddress": ip, "secret": "other-secret"}}),
        )
        .await;
    assert_eq!((code(&r2), field(&r2)), (Some("CONFLICT"), Some("ipAddress")));
    let r3 = r
        .app
        .gql(
            Some(token),
            "mutation($i: CreateNasInput!) { createNas(input: $i) { id } }",
            json!({"i": {"name": "Bad", "ipAddress": "not-an-ip", "secret": "x"}}),
        )
        .await;
    assert_eq!((code(&r3), field(&r3)), (Some("VALIDATION"), Some("ipAddress")));

    let d = app_ok(
        &r,
        token,
        "mutation($id: ID!) { updateNas(id: $id, input: {secret: \"rotated-secret\", coaPort: 1700}) { coaPort } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(d["updateNas"]["coaPort"], 1700);
    let list = app_ok(&r, token, "{ nasDevices(first: 10) { nodes { id name ipAddress } } }", json!({})).await;
    assert_eq!(list["nasDevices"]["nodes"].as_array().unwrap().len(), 2);
    app_ok(&r, token, "mutation($id: ID!) { deleteNas(id: $id) { id } }", json!({"id": id})).await;
    let audit = app_ok(&r, token, "{ auditLog(first: 10) { nodes { action details } } }", json!({})).await;
    let actions: Vec<&str> =
        audit["auditLog"]["nodes"].as_array().unwrap().iter().map(|n| n["action"].as_str().unwrap()).collect();
    for a in ["nas.create", "nas.update", "nas.delete"] {
        assert!(actions.contains(&a), "{actions:?}");
    }
    assert!(!audit.to_string().contains("rotated-secret") && !audit.to_string().contains("sup3r-secret"));
}

async fn app_ok(r: &Radius, token: &str, q: &str, v: serde_json::Value) -> serde_json::Value {
    r.app.ok(token, q, v).await
}

#[tokio::test]
async fn support_reads_the_auth_log_and_sessions_and_disconnects() {
    let r = spawn_radius().await;
    let nas = fake_nas(r.nas_ip, ack).await;
    r.coa_port(nas.port).await;
    let _worker = r.worker().drop_guard();
    let plan = r.plan(base_plan("Support plan")).await;
    let u = format!("ivan{}", unique());
    let sub = r.subscriber(plan.id, &u, "pw-123456", |_| {}).await;
    assert_eq!(r.pap(&u, "bad-password").await.code, Code::AccessReject);
    r.expect_reason(&u, "PAP REJECT bad password").await;
    r.account(acct(acct_status_type::START, &u, "iv-1", 0, 0, 0)).await;
    r.account(acct(acct_status_type::INTERIM_UPDATE, &u, "iv-1", 1_000, 4_000, 60)).await;

    let support = r.app.staff(&r.t, "SUPPORT").await;
    let cashier = r.app.staff(&r.t, "CASHIER").await;
    let sub_id = global_id("Subscription", sub.id);
    let log = r.app.ok(&support.token, "query($u: String) { authLog(first: 5, filter: {username: $u}) { nodes { username method result reason nas { name } subscriptionId } } }", json!({"u": u})).await;
    let e = &log["authLog"]["nodes"][0];
    assert_eq!(
        (e["method"].as_str(), e["result"].as_str(), e["reason"].as_str()),
        (Some("PAP"), Some("REJECT"), Some("bad password"))
    );
    assert_eq!((e["nas"]["name"].as_str(), e["subscriptionId"].as_str()), (Some("test nas"), Some(sub_id.as_str())));
    let rej = r.app.ok(&support.token, "{ authLog(filter: {result: REJECT}) { nodes { reason } } }", json!({})).await;
    assert_eq!(rej["authLog"]["nodes"].as_array().unwrap().len(), 1);
    let denied = r.app.gql(Some(&cashier.token), "{ authLog { nodes { reason } } }", json!({})).await;
    assert_eq!(code(&denied), Some("FORBIDDEN"));
    let denied = r
        .app
        .gql(
            Some(&support.token),
            "mutation { createNas(input: {name: \"x\", ipAddress: \"127.9.9.9\", secret: \"secret1\"}) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&denied), Some("FORBIDDEN"));

    let s = r.app.ok(&support.token, "query($s: ID) { radiusSessions(filter: {subscriptionId: $s, active: true}) { nodes { id username acctSessionId active inputOctets outputOctets sessionTime framedIp subscription { username } nas { ipAddress } } } }", json!({"s": sub_id})).await;
    let node = &s["radiusSessions"]["nodes"][0];
    assert_eq!(
        (node["inputOctets"].as_i64(), node["outputOctets"].as_i64(), node["sessionTime"].as_i64()),
        (Some(1000), Some(4000), Some(60))
    );
    assert_eq!(node["subscription"]["username"].as_str(), Some(u.as_str()));
    assert_eq!(node["nas"]["ipAddress"].as_str(), Some(r.nas_ip.to_string().as_str()));
    let usage = r.app.ok(&support.token, "query($s: ID!) { subscriptionUsage(subscriptionId: $s) { nodes { periodStart periodEnd totalOctets sessionTime } } }", json!({"s": sub_id})).await;
    assert_eq!(usage["subscriptionUsage"]["nodes"][0]["totalOctets"], 5000);

    let session_id = node["id"].as_str().unwrap().to_string();
    let d = r
        .app
        .ok(
            &support.token,
            "mutation($id: ID!) { disconnectSession(id: $id) { acctSessionId } }",
            json!({"id": session_id}),
        )
        .await;
    assert_eq!(d["disconnectSession"]["acctSessionId"], "iv-1");
    r.wait_jobs(1, isp_core::store::jobs::JobStatus::Done).await;
    assert_eq!(nas.got.lock().unwrap()[0].code, Code::DisconnectRequest);
    let audit = r.app.ok(&r.t.token, "{ auditLog(first: 5) { nodes { action actor } } }", json!({})).await;
    assert_eq!(audit["auditLog"]["nodes"][0]["action"], "session.disconnect");
    assert_eq!(audit["auditLog"]["nodes"][0]["actor"].as_str(), Some(support.email.as_str()));
    // The NAS's Stop ends it; disconnecting again is a conflict.
    r.account(acct(acct_status_type::STOP, &u, "iv-1", 2_000, 5_000, 90)).await;
    let again = r
        .app
        .gql(
            Some(&support.token),
            "mutation($id: ID!) { disconnectSession(id: $id) { id } }",
            json!({"id": session_id}),
        )
        .await;
    assert_eq!(code(&again), Some("CONFLICT"));
}
