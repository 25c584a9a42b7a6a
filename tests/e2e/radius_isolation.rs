//! RADIUS data for the tenant-isolation test (`isolation.rs`): tenant A gets a NAS, a live
//! session with usage and an auth log entry; tenant B then tries every RADIUS root field on them.

use crate::*;
use isp_core::auth::Actor;
use isp_core::store::auth_log::{self, NewAuthLog};
use isp_core::store::radius_sessions;
use isp_core::store::tenants;
use isp_core::workflows::accounting::{self, AcctRecord, AcctStatus};
use isp_core::workflows::nas::{self, NasPatch};
use serde_json::{json, Value};

/// What tenant A sees of its RADIUS data, compared before and after B's attempts.
pub const SNAPSHOT: &str = r#"{
  nasDevices(first: 100) { nodes { id name ipAddress coaPort requireMessageAuthenticator updatedAt } }
  radiusSessions(first: 100) { nodes { id active acctSessionId inputOctets outputOctets updatedAt stoppedAt } }
  authLog(first: 100) { nodes { id username result reason } }
}"#;

/// Tenant A's RADIUS objects.
pub struct ARadius {
    nas_id: String,
    nas_name: String,
    nas_ip: String,
    session_id: String,
    acct_session_id: String,
}

/// Creates A's NAS, session (with usage) and auth log entry.
pub async fn seed(app: &TestApp, slug: &str, a_sub: &str, a_username: &str) -> ARadius {
    let ctx = &app.ctx;
    let tenant_id = tenants::by_slug(&ctx.db, slug).await.unwrap().unwrap().id;
    let owner = Actor::system(tenant_id, "test");
    let nas_ip = crate::radius::unique_loopback().to_string();
    if let Some(old) = isp_core::store::nas::by_ip(&ctx.db, &nas_ip).await.unwrap() {
        nas::delete(ctx, &Actor::system(old.tenant_id, "test"), old.id).await.unwrap();
    }
    let nas_name = format!("A router {}", unique());
    let n = nas::create(
        ctx,
        &owner,
        &NasPatch {
            name: Some(nas_name.clone()),
            ip_address: Some(nas_ip.clone()),
            secret: Some("a-secret".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let acct_session_id = format!("a-sess-{}", unique());
    let (_, sub_id) = parse_global_id(a_sub);
    let rec = AcctRecord {
        status: AcctStatus::Start,
        acct_session_id: acct_session_id.clone(),
        username: a_username.into(),
        class_subscription_id: Some(sub_id),
        framed_ip: None,
        calling_station_id: None,
        nas_port_id: None,
        input_octets: 0,
        output_octets: 0,
        session_time: 0,
        terminate_cause: None,
    };
    accounting::account(ctx, tenant_id, n.id, &rec).await.unwrap();
    let rec =
        AcctRecord { status: AcctStatus::Interim, input_octets: 777, output_octets: 888, session_time: 60, ..rec };
    accounting::account(ctx, tenant_id, n.id, &rec).await.unwrap();
    let entry = NewAuthLog {
        tenant_id,
        nas_id: n.id,
        username: a_username.into(),
        subscription_id: Some(sub_id),
        method: "PAP",
        result: "ACCEPT",
        reason: "ok".into(),
        calling_station_id: None,
        at: ctx.now_ms(),
    };
    auth_log::insert_batch(&ctx.db, &[entry]).await.unwrap();
    let f = radius_sessions::SessionFilter { subscription_id: Some(sub_id), ..Default::default() };
    let args = isp_core::store::page::PageArgs::default();
    let s = radius_sessions::list(&ctx.db, tenant_id, &f, &args).await.unwrap().items[0].id;
    ARadius {
        nas_id: global_id("Nas", n.id),
        nas_name,
        nas_ip,
        session_id: global_id("RadiusSession", s),
        acct_session_id,
    }
}

impl ARadius {
    /// Strings that must never appear in B's answers.
    pub fn markers(&self) -> Vec<String> {
        vec![self.nas_id.clone(), self.nas_name.clone(), self.session_id.clone(), self.acct_session_id.clone()]
    }

    /// (root field, query, variables, expected error code or None for success).
    pub fn cases(&self, a_sub: &str, a_username: &str) -> Vec<(&'static str, String, Value, Option<&'static str>)> {
        let q = |s: &str| s.to_string();
        vec![
            ("nasDevices", q("{ nasDevices(first: 100) { nodes { id name ipAddress } } }"), json!({}), None),
            ("radiusSessions", q("{ radiusSessions(first: 100) { nodes { id acctSessionId } } }"), json!({}), None),
            ("radiusSessions", q("query($s: ID, $n: ID) { radiusSessions(filter: {subscriptionId: $s, nasId: $n}) { nodes { id } } }"),
                json!({"s": a_sub, "n": self.nas_id}), None),
            ("radiusSessions", q("query($u: String) { radiusSessions(filter: {username: $u}) { nodes { id } } }"), json!({"u": a_username}), None),
            ("subscriptionUsage", q("query($s: ID!) { subscriptionUsage(subscriptionId: $s) { nodes { periodStart totalOctets } } }"),
                json!({"s": a_sub}), None),
            ("authLog", q("{ authLog(first: 100) { nodes { id username reason } } }"), json!({}), None),
            ("authLog", q("query($u: String, $s: ID) { authLog(filter: {username: $u, subscriptionId: $s}) { nodes { id } } }"),
                json!({"u": a_username, "s": a_sub}), None),
            // NAS addresses are unique across tenants (they select the tenant): a conflict, nothing more.
            ("createNas", q("mutation($ip: String!) { createNas(input: {name: \"B router\", ipAddress: $ip, secret: \"b-secret\"}) { id name } }"),
                json!({"ip": self.nas_ip}), Some("CONFLICT")),
            ("updateNas", q("mutation($id: ID!) { updateNas(id: $id, input: {secret: \"stolen1\", coaPort: 1}) { id } }"),
                json!({"id": self.nas_id}), Some("NOT_FOUND")),
            ("deleteNas", q("mutation($id: ID!) { deleteNas(id: $id) { id } }"), json!({"id": self.nas_id}), Some("NOT_FOUND")),
            ("disconnectSession", q("mutation($id: ID!) { disconnectSession(id: $id) { id } }"),
                json!({"id": self.session_id}), Some("NOT_FOUND")),
        ]
    }
}
