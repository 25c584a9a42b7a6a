//! RADIUS over real UDP: the server on 127.0.0.1:0, a NAS on its own loopback address.
//! Authentication decisions, protocol rules (Message-Authenticator, Proxy-State,
//! Status-Server, duplicates, unknown NAS) and malformed packets.

use crate::*;
use chrono::Duration as ChronoDuration;
use isp_core::auth::Actor;
use isp_core::patch::Patch;
use isp_core::store::plans::{BillingPeriod, DataQuota, PlanInput, QuotaAction};
use isp_core::store::subscriptions::{AccessType, Subscription, SubscriptionStatus};
use isp_core::store::tenants;
use isp_core::store::usage;
use isp_core::workflows::customers::{self, CustomerPatch};
use isp_core::workflows::nas::{self, NasPatch};
use isp_core::workflows::plans;
use isp_core::workflows::subscriptions::{self, SubscriptionPatch};
use isp_radiusd::dictionary::{attr, microsoft, mikrotik};
use isp_radiusd::{mppe, mschap, Code, Packet};
use serde_json::{json, Value};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

/// Shared secret of every test NAS.
pub const SECRET: &str = "s3cret-nas";

static NEXT_IP: AtomicU32 = AtomicU32::new(0);

/// A loopback address no other test in this process uses (all of 127/8 is local on Linux).
pub fn unique_loopback() -> Ipv4Addr {
    let n = NEXT_IP.fetch_add(1, Ordering::Relaxed);
    Ipv4Addr::new(127, 20 + (std::process::id() % 200) as u8, (n / 250) as u8, (n % 250 + 2) as u8)
}

/// A running API + RADIUS server, a tenant, and a registered NAS on its own loopback address.
pub struct Radius {
    /// The API side (database, clock, HTTP).
    pub app: TestApp,
    /// The tenant (owner token).
    #[allow(dead_code)] // used by the API tests
    pub t: Tenant,
    /// Its row id.
    pub tenant_id: i64,
    /// Authentication listener.
    pub auth: SocketAddr,
    /// Accounting listener.
    pub acct: SocketAddr,
    /// Source address of the NAS.
    pub nas_ip: Ipv4Addr,
    /// The NAS row id.
    pub nas_id: i64,
    stop: CancellationToken,
}

impl Drop for Radius {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Starts everything with default settings.
pub async fn spawn_radius() -> Radius {
    spawn_radius_with(|_| {}).await
}

/// Starts everything after `tweak` adjusts the configuration.
pub async fn spawn_radius_with(tweak: impl FnOnce(&mut isp_core::config::Config)) -> Radius {
    let app = spawn_app_with(tweak).await;
    let auth_sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let acct_sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (auth, acct) = (auth_sock.local_addr().unwrap(), acct_sock.local_addr().unwrap());
    let stop = CancellationToken::new();
    tokio::spawn(isp_radiusd::server::run(auth_sock, acct_sock, app.ctx.clone(), stop.clone().cancelled_owned()));
    let t = app.tenant().await;
    let tenant_id = tenants::by_slug(&app.ctx.db, &t.slug).await.unwrap().unwrap().id;
    let nas_ip = unique_loopback();
    // A NAS with this address left over from an earlier run on the same database.
    if let Some(old) = isp_core::store::nas::by_ip(&app.ctx.db, &nas_ip.to_string()).await.unwrap() {
        nas::delete(&app.ctx, &Actor::system(old.tenant_id, "test"), old.id).await.unwrap();
    }
    let n = nas::create(
        &app.ctx,
        &Actor::system(tenant_id, "test"),
        &NasPatch {
            name: Some("test nas".into()),
            ip_address: Some(nas_ip.to_string()),
            secret: Some(SECRET.into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    Radius { app, t, tenant_id, auth, acct, nas_ip, nas_id: n.id, stop }
}

/// A plan definition with defaults, for `..base_plan()`.
pub fn base_plan(name: &str) -> PlanInput {
    PlanInput {
        name: name.into(),
        description: None,
        price_minor: 1000,
        billing_period: BillingPeriod::Monthly,
        download_kbps: 20_000,
        upload_kbps: 5_000,
        burst: None,
        data_quota: None,
        time_quota_secs: None,
        access_types: vec![AccessType::Pppoe, AccessType::Hotspot, AccessType::StaticIp],
        ip_pool: None,
    }
}

/// A hard-cap or FUP data quota.
pub fn quota(bytes: i64, fup: bool) -> Option<DataQuota> {
    Some(DataQuota {
        bytes,
        action: if fup { QuotaAction::Fup } else { QuotaAction::HardCap },
        fup_download_kbps: fup.then_some(1_000),
        fup_upload_kbps: fup.then_some(512),
    })
}

impl Radius {
    /// The tenant's system actor.
    pub fn owner(&self) -> Actor {
        Actor::system(self.tenant_id, "test")
    }

    /// Creates a plan.
    pub async fn plan(&self, p: PlanInput) -> isp_core::store::plans::Plan {
        plans::create(&self.app.ctx, &self.owner(), &p).await.unwrap()
    }

    /// Creates an ACTIVE PPPoE subscription `username` / `password` on `plan_id`, after `tweak`.
    pub async fn subscriber(
        &self,
        plan_id: i64,
        username: &str,
        password: &str,
        tweak: impl FnOnce(&mut SubscriptionPatch),
    ) -> Subscription {
        let c = customers::create(
            &self.app.ctx,
            &self.owner(),
            &CustomerPatch { name: Some(format!("Customer {username}")), ..Default::default() },
        )
        .await
        .unwrap();
        let mut p = SubscriptionPatch {
            customer_id: Some(c.id),
            plan_id: Some(plan_id),
            access_type: Some(AccessType::Pppoe),
            username: Some(username.into()),
            password: Patch::Set(password.into()),
            status: Some(SubscriptionStatus::Active),
            ..Default::default()
        };
        tweak(&mut p);
        subscriptions::create(&self.app.ctx, &self.owner(), &p).await.unwrap()
    }

    /// Moves a subscription to `to`.
    pub async fn set_status(&self, id: i64, to: SubscriptionStatus) {
        subscriptions::change_status(&self.app.ctx, &self.owner(), id, to, Some("test")).await.unwrap();
    }

    /// Sends raw bytes from the NAS address to `to`; the raw reply, if any within `wait`.
    pub async fn raw(&self, to: SocketAddr, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
        let sock = UdpSocket::bind((self.nas_ip, 0)).await.unwrap();
        raw_from(&sock, to, bytes, wait).await
    }

    /// Signs and sends a request from the NAS; the verified reply, if any.
    pub async fn send(&self, to: SocketAddr, mut req: Packet) -> Option<Packet> {
        let bytes = req.encode_request(SECRET.as_bytes()).unwrap();
        let reply = self.raw(to, &bytes, Duration::from_secs(3)).await?;
        let reply = Packet::decode(&reply).unwrap();
        assert_eq!(reply.identifier, req.identifier);
        assert!(reply.has_message_authenticator(), "every response carries Message-Authenticator");
        if reply.code == Code::AccountingResponse && req.code == Code::AccountingRequest {
            reply.verify_accounting_response(&req.authenticator, SECRET.as_bytes()).unwrap();
        } else {
            reply.verify_response(&req.authenticator, SECRET.as_bytes()).unwrap();
        }
        Some(reply)
    }

    /// A PAP Access-Request (with Message-Authenticator) and its reply.
    pub async fn pap(&self, user: &str, password: &str) -> Packet {
        self.send(self.auth, pap_request(user, password)).await.expect("an answer")
    }

    /// Waits until the newest auth log entry of `user` reads `want` ("METHOD RESULT reason");
    /// entries are written by a batching task, a moment after the reply.
    pub async fn expect_reason(&self, user: &str, want: &str) {
        let mut last = String::new();
        for _ in 0..100 {
            let f = isp_core::store::auth_log::AuthLogFilter { username: Some(user.into()), ..Default::default() };
            let args = isp_core::store::page::PageArgs { first: Some(1), ..Default::default() };
            let page = isp_core::store::auth_log::list(&self.app.ctx.db, self.tenant_id, &f, &args).await.unwrap();
            if let Some(e) = page.items.first() {
                last = format!("{} {} {}", e.method, e.result, e.reason);
                if last == want {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("newest auth log entry of {user} is {last:?}, expected {want:?}");
    }

    /// Auth log entries for `user`.
    pub async fn log_count(&self, user: &str) -> usize {
        let f = isp_core::store::auth_log::AuthLogFilter { username: Some(user.into()), ..Default::default() };
        let args = isp_core::store::page::PageArgs { first: Some(100), ..Default::default() };
        isp_core::store::auth_log::list(&self.app.ctx.db, self.tenant_id, &f, &args).await.unwrap().items.len()
    }
}

/// Sends `bytes` from `sock` and waits for one datagram.
pub async fn raw_from(sock: &UdpSocket, to: SocketAddr, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
    sock.send_to(bytes, to).await.unwrap();
    let mut buf = vec![0u8; 4096];
    match tokio::time::timeout(wait, sock.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Some(buf[..n].to_vec()),
        _ => None,
    }
}

/// A PAP Access-Request.
pub fn pap_request(user: &str, password: &str) -> Packet {
    let mut p = Packet::new_request(Code::AccessRequest, rand_id());
    p.add_str(attr::USER_NAME, user);
    p.add_user_password(password.as_bytes(), SECRET.as_bytes()).unwrap();
    p
}

fn rand_id() -> u8 {
    isp_radiusd::auth::random_authenticator()[0]
}

/// The Mikrotik-Rate-Limit of a reply.
pub fn rate_limit(p: &Packet) -> Option<String> {
    p.vendor_attr(mikrotik::VENDOR_ID, mikrotik::RATE_LIMIT).map(|v| String::from_utf8_lossy(v).into_owned())
}

/// The Reply-Message of a reply.
pub fn reply_message(p: &Packet) -> Option<String> {
    p.attr_str(attr::REPLY_MESSAGE).map(str::to_string)
}

#[tokio::test]
async fn pap_chap_and_mschapv2_accept_with_the_plan_attributes() {
    let r = spawn_radius().await;
    let plan = r
        .plan(PlanInput {
            ip_pool: Some("pool-home".into()),
            data_quota: quota(10 << 30, false),
            ..base_plan("Home 20")
        })
        .await;
    let u = format!("alice{}", unique());
    let sub = r.subscriber(plan.id, &u, "wonderland", |_| {}).await;

    let accept = r.pap(&u, "wonderland").await;
    assert_eq!(accept.code, Code::AccessAccept);
    assert_eq!(accept.attributes[0].typ, attr::MESSAGE_AUTHENTICATOR, "Message-Authenticator first");
    assert_eq!(rate_limit(&accept).as_deref(), Some("5000k/20000k"));
    assert_eq!(accept.attr_str(attr::FRAMED_POOL), Some("pool-home"));
    assert_eq!(accept.attr_u32(attr::ACCT_INTERIM_INTERVAL), Some(300));
    assert_eq!(accept.attr_str(attr::CLASS), Some(format!("isp:sub:{}", sub.id).as_str()));
    let timeout = accept.attr_u32(attr::SESSION_TIMEOUT).unwrap();
    assert!(timeout > 0 && timeout <= 31 * 86_400, "{timeout}");
    let mt = mikrotik::VENDOR_ID;
    assert_eq!(accept.vendor_attr_u32(mt, mikrotik::TOTAL_LIMIT_GIGAWORDS), Some(2));
    assert_eq!(accept.vendor_attr_u32(mt, mikrotik::TOTAL_LIMIT), Some(((10u64 << 30) & 0xffff_ffff) as u32));
    r.expect_reason(&u, "PAP ACCEPT ok").await;

    let reject = r.pap(&u, "wonderlanD").await;
    assert_eq!(reject.code, Code::AccessReject);
    assert_eq!(reply_message(&reject), None, "a bad password is not explained to the caller");
    r.expect_reason(&u, "PAP REJECT bad password").await;
    let unknown = format!("nobody{}", unique());
    assert_eq!(r.pap(&unknown, "x").await.code, Code::AccessReject);
    r.expect_reason(&unknown, "PAP REJECT unknown user").await;

    // CHAP with the Request Authenticator as challenge, then with CHAP-Challenge.
    for with_challenge in [false, true] {
        let mut chap = Packet::new_request(Code::AccessRequest, 9);
        chap.add_str(attr::USER_NAME, &u);
        if with_challenge {
            chap.add(attr::CHAP_CHALLENGE, b"0123456789abcdef".to_vec());
        }
        chap.add_chap_password(7, b"wonderland");
        assert_eq!(r.send(r.auth, chap).await.unwrap().code, Code::AccessAccept);
    }
    let mut chap = Packet::new_request(Code::AccessRequest, 10);
    chap.add_str(attr::USER_NAME, &u);
    chap.add_chap_password(7, b"wrong");
    assert_eq!(r.send(r.auth, chap).await.unwrap().code, Code::AccessReject);
    r.expect_reason(&u, "CHAP REJECT bad password").await;

    // MS-CHAPv2 (RFC 2759) with MS-CHAP2-Success and MPPE keys (RFC 3079, RFC 2548).
    let auth_challenge = [0x5a; 16];
    let peer_challenge = [0x21; 16];
    let hash = mschap::nt_password_hash("wonderland");
    let nt = mschap::generate_nt_response(&auth_challenge, &peer_challenge, u.as_bytes(), &hash);
    let response = mschap::Mschapv2Response { ident: 3, flags: 0, peer_challenge, nt_response: nt };
    let mut ms = Packet::new_request(Code::AccessRequest, 11);
    ms.add_str(attr::USER_NAME, &u);
    ms.add_vendor(microsoft::VENDOR_ID, microsoft::CHAP_CHALLENGE, &auth_challenge);
    ms.add_vendor(microsoft::VENDOR_ID, microsoft::CHAP2_RESPONSE, &response.to_bytes());
    let req_auth = ms.authenticator;
    let accept = r.send(r.auth, ms).await.unwrap();
    assert_eq!(accept.code, Code::AccessAccept);
    let success = accept.vendor_attr(microsoft::VENDOR_ID, microsoft::CHAP2_SUCCESS).unwrap();
    let want = mschap::generate_authenticator_response(&hash, &nt, &peer_challenge, &auth_challenge, u.as_bytes());
    assert_eq!(success[0], 3);
    assert_eq!(&success[1..], want.as_bytes());
    let keys = mppe::server_keys(&hash, &nt);
    let send_key = accept.vendor_attr(microsoft::VENDOR_ID, microsoft::MPPE_SEND_KEY).unwrap();
    assert_eq!(mppe::decrypt_key(send_key, SECRET.as_bytes(), &req_auth).unwrap(), keys.send);
    let recv_key = accept.vendor_attr(microsoft::VENDOR_ID, microsoft::MPPE_RECV_KEY).unwrap();
    assert_eq!(mppe::decrypt_key(recv_key, SECRET.as_bytes(), &req_auth).unwrap(), keys.recv);
    r.expect_reason(&u, "MSCHAPV2 ACCEPT ok").await;

    let bad =
        mschap::generate_nt_response(&auth_challenge, &peer_challenge, u.as_bytes(), &mschap::nt_password_hash("x"));
    let mut ms = Packet::new_request(Code::AccessRequest, 12);
    ms.add_str(attr::USER_NAME, &u);
    ms.add_vendor(microsoft::VENDOR_ID, microsoft::CHAP_CHALLENGE, &auth_challenge);
    let response = mschap::Mschapv2Response { ident: 4, flags: 0, peer_challenge, nt_response: bad };
    ms.add_vendor(microsoft::VENDOR_ID, microsoft::CHAP2_RESPONSE, &response.to_bytes());
    let reject = r.send(r.auth, ms).await.unwrap();
    assert_eq!(reject.code, Code::AccessReject);
    let err = reject.vendor_attr(microsoft::VENDOR_ID, microsoft::CHAP_ERROR).unwrap();
    assert_eq!(err[0], 4);
    assert!(String::from_utf8_lossy(&err[1..]).starts_with("E=691 R=0 C="), "{err:?}");
}

#[tokio::test]
async fn decisions_are_logged_with_their_reasons() {
    let r = spawn_radius().await;
    let plan = r.plan(base_plan("Basic")).await;
    let u = |s: &str| format!("{s}{}", unique());

    let pending = u("pending");
    r.subscriber(plan.id, &pending, "pw-123456", |p| p.status = Some(SubscriptionStatus::Pending)).await;
    assert_eq!(reply_message(&r.pap(&pending, "pw-123456").await).as_deref(), Some("subscription pending"));

    let cancelled = u("cancelled");
    let s = r.subscriber(plan.id, &cancelled, "pw-123456", |_| {}).await;
    r.set_status(s.id, SubscriptionStatus::Cancelled).await;
    assert_eq!(r.pap(&cancelled, "pw-123456").await.code, Code::AccessReject);
    r.expect_reason(&cancelled, "PAP REJECT subscription cancelled").await;

    // Suspended: rejected by default, walled garden when the tenant says so.
    let suspended = u("suspended");
    let s = r.subscriber(plan.id, &suspended, "pw-123456", |_| {}).await;
    r.set_status(s.id, SubscriptionStatus::Suspended).await;
    let rej = r.pap(&suspended, "pw-123456").await;
    assert_eq!((rej.code, reply_message(&rej).as_deref()), (Code::AccessReject, Some("subscription suspended")));
    r.expect_reason(&suspended, "PAP REJECT subscription suspended").await;
    assert_eq!(r.pap(&suspended, "wrong").await.code, Code::AccessReject);
    r.expect_reason(&suspended, "PAP REJECT bad password").await;

    // MAC binding, with the Calling-Station-Id in any common notation.
    let bound = u("bound");
    r.subscriber(plan.id, &bound, "pw-123456", |p| p.mac_address = Patch::Set("02:aa:bb:cc:dd:ee".into())).await;
    for (mac, ok) in [("02-AA-BB-CC-DD-EE", true), ("02aa.bbcc.ddee", true), ("02:AA:BB:CC:DD:EF", false)] {
        let mut req = pap_request(&bound, "pw-123456");
        req.add_str(attr::CALLING_STATION_ID, mac);
        let code = r.send(r.auth, req).await.unwrap().code;
        assert_eq!(code == Code::AccessAccept, ok, "{mac}");
    }
    r.expect_reason(&bound, "PAP REJECT MAC binding mismatch (bound 02:AA:BB:CC:DD:EE, got 02:AA:BB:CC:DD:EF)").await;
    assert_eq!(r.pap(&bound, "pw-123456").await.code, Code::AccessReject, "no Calling-Station-Id");

    // Static IP: Framed-IP-Address.
    let fixed = u("fixed");
    r.subscriber(plan.id, &fixed, "pw-123456", |p| p.static_ipv4 = Patch::Set("198.51.100.7".into())).await;
    let a = r.pap(&fixed, "pw-123456").await;
    assert_eq!(a.attr_ipv4(attr::FRAMED_IP_ADDRESS), Some(Ipv4Addr::new(198, 51, 100, 7)));

    // Quotas: hard cap rejects once used up; FUP accepts at the FUP rate.
    let capped_plan = r.plan(PlanInput { data_quota: quota(1_000_000, false), ..base_plan("Capped") }).await;
    let fup_plan = r.plan(PlanInput { data_quota: quota(1_000_000, true), ..base_plan("FUP") }).await;
    let time_plan = r.plan(PlanInput { time_quota_secs: Some(3600), ..base_plan("Hour") }).await;
    let capped = u("capped");
    let c = r.subscriber(capped_plan.id, &capped, "pw-123456", |_| {}).await;
    let fup = u("fup");
    let f = r.subscriber(fup_plan.id, &fup, "pw-123456", |_| {}).await;
    let timed = u("timed");
    let t = r.subscriber(time_plan.id, &timed, "pw-123456", |_| {}).await;
    let ctx = &r.app.ctx;
    let today = ctx.clock.now().date_naive();
    for (s, plan, bytes, secs) in
        [(&c, &capped_plan, 1_000_000, 0), (&f, &fup_plan, 2_000_000, 0), (&t, &time_plan, 0, 3600)]
    {
        let period = usage::period_containing(usage::parse_date(&s.start_date).unwrap(), plan.billing_period, today);
        let mut tx = ctx.db.begin().await.unwrap();
        usage::add(&mut tx, r.tenant_id, s.id, period, bytes / 2, bytes / 2, secs, ctx.now_ms()).await.unwrap();
        tx.commit().await.unwrap();
        // Written behind accounting's back: tell the RADIUS profile cache, as accounting does
        // (its start-up warm-up may have read this subscriber before the usage existed).
        ctx.events.publish(isp_core::events::Event {
            tenant_id: r.tenant_id,
            kind: isp_core::events::EventKind::SubscriptionChanged,
            object_id: s.id,
        });
    }
    let rej = r.pap(&capped, "pw-123456").await;
    assert_eq!((rej.code, reply_message(&rej).as_deref()), (Code::AccessReject, Some("data quota exhausted")));
    let acc = r.pap(&fup, "pw-123456").await;
    assert_eq!((acc.code, rate_limit(&acc).as_deref()), (Code::AccessAccept, Some("512k/1000k")));
    r.expect_reason(&fup, "PAP ACCEPT data quota used: FUP rate").await;
    assert_eq!(reply_message(&r.pap(&timed, "pw-123456").await).as_deref(), Some("time quota exhausted"));
    // A new period starts with a fresh quota.
    r.app.clock.advance(ChronoDuration::days(32));
    assert_eq!(r.pap(&capped, "pw-123456").await.code, Code::AccessAccept);
    r.app.clock.advance(ChronoDuration::days(-32));

    // Walled garden for suspended subscribers, per tenant.
    let ten = tenants::get(&ctx.db, r.tenant_id).await.unwrap();
    let mut settings = ten.settings();
    settings.suspended_access = isp_core::store::tenants::SuspendedAccess::WalledGarden;
    settings.walled_garden_address_list = "unpaid".into();
    let mut tx = ctx.db.begin().await.unwrap();
    tenants::update(&mut tx, r.tenant_id, &ten.name, &ten.currency, &ten.timezone, &settings).await.unwrap();
    tx.commit().await.unwrap();
    let r2 = spawn_shared(&r).await;
    let acc = r2.pap(&suspended, "pw-123456").await;
    assert_eq!(acc.code, Code::AccessAccept);
    assert_eq!(rate_limit(&acc).as_deref(), Some("64k/64k"));
    let list = acc.vendor_attr(mikrotik::VENDOR_ID, mikrotik::ADDRESS_LIST).unwrap();
    assert_eq!(list, b"unpaid");
    r.expect_reason(&suspended, "PAP ACCEPT subscription suspended: walled garden").await;
}

#[tokio::test]
async fn cached_subscriber_profiles_follow_changes_at_once() {
    let r = spawn_radius().await;
    let plan = r.plan(base_plan("Cached")).await;
    let u = format!("ivan{}", unique());
    let s = r.subscriber(plan.id, &u, "pw-123456", |_| {}).await;
    let first = r.pap(&u, "pw-123456").await;
    assert_eq!((first.code, rate_limit(&first).as_deref()), (Code::AccessAccept, Some("5000k/20000k")));
    // Accepted again from the cache, then every kind of change is seen by the next request.
    assert_eq!(r.pap(&u, "pw-123456").await.code, Code::AccessAccept);
    r.set_status(s.id, SubscriptionStatus::Suspended).await;
    assert_eq!(reply_message(&r.pap(&u, "pw-123456").await).as_deref(), Some("subscription suspended"));
    r.set_status(s.id, SubscriptionStatus::Active).await;
    assert_eq!(r.pap(&u, "pw-123456").await.code, Code::AccessAccept);

    let faster = PlanInput { download_kbps: 50_000, upload_kbps: 10_000, ..base_plan("Cached") };
    plans::update(&r.app.ctx, &r.owner(), plan.id, &faster).await.unwrap();
    assert_eq!(rate_limit(&r.pap(&u, "pw-123456").await).as_deref(), Some("10000k/50000k"));

    let patch = SubscriptionPatch { password: Patch::Set("pw-654321".into()), ..Default::default() };
    subscriptions::update(&r.app.ctx, &r.owner(), s.id, &patch).await.unwrap();
    assert_eq!(r.pap(&u, "pw-123456").await.code, Code::AccessReject);
    r.expect_reason(&u, "PAP REJECT bad password").await;
    assert_eq!(r.pap(&u, "pw-654321").await.code, Code::AccessAccept);

    let renamed = format!("ivan-new{}", unique());
    let patch = SubscriptionPatch { username: Some(renamed.clone()), ..Default::default() };
    subscriptions::update(&r.app.ctx, &r.owner(), s.id, &patch).await.unwrap();
    assert_eq!(r.pap(&u, "pw-654321").await.code, Code::AccessReject);
    r.expect_reason(&u, "PAP REJECT unknown user").await;
    assert_eq!(r.pap(&renamed, "pw-654321").await.code, Code::AccessAccept);
}

/// A second RADIUS server on the same database and NAS (fresh caches, e.g. after a tenant
/// settings change), sharing the first one's API side.
async fn spawn_shared(r: &Radius) -> SharedRadius {
    let auth_sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let acct_sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (auth, acct) = (auth_sock.local_addr().unwrap(), acct_sock.local_addr().unwrap());
    let stop = CancellationToken::new();
    tokio::spawn(isp_radiusd::server::run(auth_sock, acct_sock, r.app.ctx.clone(), stop.clone().cancelled_owned()));
    SharedRadius { auth, acct, nas_ip: r.nas_ip, stop }
}

/// See [`spawn_shared`].
pub struct SharedRadius {
    auth: SocketAddr,
    #[allow(dead_code)]
    acct: SocketAddr,
    nas_ip: Ipv4Addr,
    stop: CancellationToken,
}

impl Drop for SharedRadius {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl SharedRadius {
    async fn pap(&self, user: &str, password: &str) -> Packet {
        let mut req = pap_request(user, password);
        let bytes = req.encode_request(SECRET.as_bytes()).unwrap();
        let sock = UdpSocket::bind((self.nas_ip, 0)).await.unwrap();
        let reply = raw_from(&sock, self.auth, &bytes, Duration::from_secs(3)).await.unwrap();
        let reply = Packet::decode(&reply).unwrap();
        reply.verify_response(&req.authenticator, SECRET.as_bytes()).unwrap();
        reply
    }
}

#[tokio::test]
async fn protocol_rules_unknown_nas_message_authenticator_status_server_proxy_state_duplicates() {
    let r = spawn_radius().await;
    let plan = r.plan(base_plan("Basic")).await;
    let u = format!("bob{}", unique());
    r.subscriber(plan.id, &u, "builder", |_| {}).await;
    let metrics = &r.app.ctx.metrics;

    // An unknown source address is dropped and counted.
    let mut req = pap_request(&u, "builder");
    let bytes = req.encode_request(SECRET.as_bytes()).unwrap();
    let stranger = UdpSocket::bind((unique_loopback(), 0)).await.unwrap();
    assert_eq!(raw_from(&stranger, r.auth, &bytes, Duration::from_millis(300)).await, None);
    assert_eq!(metrics.get("isp_radius_dropped_total", "port=\"auth\",reason=\"unknown_nas\""), 1);

    // Without Message-Authenticator: dropped while the NAS requires it (the default) ...
    let mut bare = Packet::new_request(Code::AccessRequest, 5);
    bare.add_str(attr::USER_NAME, &u);
    bare.add_user_password(b"builder", SECRET.as_bytes()).unwrap();
    let bare_bytes = bare.encode().unwrap();
    assert_eq!(r.raw(r.auth, &bare_bytes, Duration::from_millis(300)).await, None);
    assert_eq!(metrics.get("isp_radius_dropped_total", "port=\"auth\",reason=\"missing_message_authenticator\""), 1);
    // ... and answered (with one) once the NAS is switched to allow it.
    nas::update(
        &r.app.ctx,
        &r.owner(),
        r.nas_id,
        &NasPatch { require_message_authenticator: Some(false), ..Default::default() },
    )
    .await
    .unwrap();
    let shared = spawn_shared(&r).await;
    let sock = UdpSocket::bind((r.nas_ip, 0)).await.unwrap();
    let reply = raw_from(&sock, shared.auth, &bare_bytes, Duration::from_secs(3)).await.unwrap();
    let reply = Packet::decode(&reply).unwrap();
    assert_eq!(reply.code, Code::AccessAccept);
    reply.verify_response(&bare.authenticator, SECRET.as_bytes()).unwrap();
    assert!(reply.has_message_authenticator());

    // A wrong secret is dropped.
    let mut forged = pap_request(&u, "builder");
    let forged = forged.encode_request(b"not-the-secret").unwrap();
    assert_eq!(r.raw(r.auth, &forged, Duration::from_millis(300)).await, None);
    assert_eq!(metrics.get("isp_radius_dropped_total", "port=\"auth\",reason=\"bad_authenticator\""), 1);

    // Status-Server on both ports (RFC 5997 §3).
    let status = Packet::new_request(Code::StatusServer, 77);
    assert_eq!(r.send(r.auth, status.clone()).await.unwrap().code, Code::AccessAccept);
    assert_eq!(r.send(r.acct, status).await.unwrap().code, Code::AccountingResponse);

    // Proxy-State comes back in order (RFC 2865 §5.33).
    let mut req = pap_request(&u, "builder");
    req.add(attr::PROXY_STATE, b"first".to_vec());
    req.add(attr::PROXY_STATE, b"second".to_vec());
    let reply = r.send(r.auth, req).await.unwrap();
    assert_eq!(reply.attrs(attr::PROXY_STATE).collect::<Vec<_>>(), [&b"first"[..], &b"second"[..]]);

    // A retransmission gets the identical reply and is not processed again.
    r.expect_reason(&u, "PAP ACCEPT ok").await;
    let before = r.log_count(&u).await;
    let mut req = pap_request(&u, "builder");
    let bytes = req.encode_request(SECRET.as_bytes()).unwrap();
    let sock = UdpSocket::bind((r.nas_ip, 0)).await.unwrap();
    let first = raw_from(&sock, r.auth, &bytes, Duration::from_secs(3)).await.unwrap();
    let again = raw_from(&sock, r.auth, &bytes, Duration::from_secs(3)).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(metrics.get("isp_radius_duplicates_total", "port=\"auth\""), 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = r.log_count(&u).await;
    assert!(after <= before + 2, "one new entry for the request, none for its retransmission ({before} -> {after})");
}

#[tokio::test]
async fn malformed_packets_never_stop_the_server() {
    let r = spawn_radius().await;
    let plan = r.plan(base_plan("Basic")).await;
    let u = format!("carol{}", unique());
    r.subscriber(plan.id, &u, "pw-123456", |_| {}).await;
    let mut good = pap_request(&u, "pw-123456");
    let good = good.encode_request(SECRET.as_bytes()).unwrap();
    let mut cases: Vec<Vec<u8>> = vec![vec![], vec![1], good[..19].to_vec(), good[..good.len() - 1].to_vec()];
    let mut bad_len = good.clone();
    bad_len[2..4].copy_from_slice(&5000u16.to_be_bytes());
    cases.push(bad_len);
    let mut bad_attr = good.clone();
    bad_attr[21] = 1; // attribute Length < 2
    cases.push(bad_attr);
    let mut overrun = good.clone();
    overrun[21] = 250; // attribute runs past the packet
    cases.push(overrun);
    let mut unknown_code = good.clone();
    unknown_code[0] = 99;
    cases.push(unknown_code);
    let mut wrong_port = good.clone();
    wrong_port[0] = 4; // Accounting-Request on the auth port
    cases.push(wrong_port);
    // Garbage in every shape, including a User-Password of odd length and a short MA.
    let mut seed = 0x5eed_u64;
    for i in 0..300 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let mut b = good.clone();
        let at = (seed >> 33) as usize % b.len();
        b[at] = (seed >> 17) as u8;
        if i % 3 == 0 {
            b.truncate(20 + (seed >> 40) as usize % (b.len() - 20));
        }
        cases.push(b);
    }
    let mut odd = Packet::new_request(Code::AccessRequest, 1);
    odd.add_str(attr::USER_NAME, &u);
    odd.add(attr::USER_PASSWORD, vec![1; 7]);
    odd.add(attr::CHAP_PASSWORD, vec![1; 3]);
    odd.add(attr::VENDOR_SPECIFIC, vec![0, 0, 1, 55, 25, 1]);
    cases.push(odd.encode_request(SECRET.as_bytes()).unwrap());
    let mut acct = Packet::new_request(Code::AccountingRequest, 2);
    acct.add(attr::ACCT_STATUS_TYPE, vec![1, 2]);
    acct.add(attr::ACCT_INPUT_OCTETS, vec![1]);
    cases.push(acct.encode_request(SECRET.as_bytes()).unwrap());
    let sock = UdpSocket::bind((r.nas_ip, 0)).await.unwrap();
    for c in &cases {
        sock.send_to(c, r.auth).await.unwrap();
        sock.send_to(c, r.acct).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(r.app.ctx.metrics.get("isp_radius_dropped_total", "port=\"auth\",reason=\"malformed\"") >= 5);
    // Still serving.
    assert_eq!(r.pap(&u, "pw-123456").await.code, Code::AccessAccept);
    let status = Packet::new_request(Code::StatusServer, 1);
    assert_eq!(r.send(r.acct, status).await.unwrap().code, Code::AccountingResponse);
}

/// The newest `authLog` entry of `user` as "METHOD RESULT reason", read through GraphQL once
/// it reads `want` (entries are written by a batching task, a moment after the reply).
async fn graphql_auth_log(r: &Radius, user: &str, want: &str) -> serde_json::Value {
    let q = "query($u: String) { authLog(first: 1, filter: {username: $u}) { nodes { method result reason subscriptionId } } }";
    let mut last = serde_json::Value::Null;
    for _ in 0..100 {
        let d = r.app.ok(&r.t.token, q, serde_json::json!({"u": user})).await;
        last = d["authLog"]["nodes"][0].clone();
        let got = format!(
            "{} {} {}",
            last["method"].as_str().unwrap_or(""),
            last["result"].as_str().unwrap_or(""),
            last["reason"].as_str().unwrap_or("")
        );
        if got == want {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("newest authLog entry of {user} is {last}, expected {want:?}");
}

/// What the auth log says about an Access-Request with both User-Password and CHAP-Password.
const BOTH_REJECTED: &str = "NONE REJECT both User-Password and CHAP-Password in one request (RFC 2865 §5.2)";

#[tokio::test]
async fn user_password_and_chap_password_together_are_rejected_and_logged() {
    // RFC 2865 §5.2/§5.3: an Access-Request MUST NOT contain both. Set up through GraphQL.
    let r = spawn_radius().await;
    let token = &r.t.token;
    let c = r.app.customer(token, "Both Credentials").await;
    let p = r.app.plan(token, "Both", &["PPPOE"]).await;
    let u = format!("both{}", unique());
    let sub = r.app.subscription(token, &c, &p, &u, "ACTIVE").await;
    // Each alone, with the right password, is accepted.
    assert_eq!(r.pap(&u, "s3cret").await.code, Code::AccessAccept);
    let mut chap = Packet::new_request(Code::AccessRequest, rand_id());
    chap.add_str(attr::USER_NAME, &u);
    chap.add_chap_password(7, b"s3cret");
    assert_eq!(r.send(r.auth, chap).await.unwrap().code, Code::AccessAccept);
    graphql_auth_log(&r, &u, "CHAP ACCEPT ok").await;

    // Both, each right, and both with only one of them right: rejected, before any password
    // is looked at, and the auth log says why.
    for (pap_pw, chap_pw) in [("s3cret", "s3cret"), ("s3cret", "wrong"), ("wrong", "s3cret")] {
        let mut both = pap_request(&u, pap_pw);
        both.add_chap_password(7, chap_pw.as_bytes());
        let reply = r.send(r.auth, both).await.expect("an answer");
        assert_eq!(reply.code, Code::AccessReject, "PAP {pap_pw:?} + CHAP {chap_pw:?}");
        assert_eq!(reply_message(&reply), None);
        let e = graphql_auth_log(&r, &u, BOTH_REJECTED).await;
        assert_eq!(e["subscriptionId"].as_str(), Some(sub.as_str()), "{e}");
    }
    // The same for a user that does not exist: the malformed request is the reason.
    let nobody = format!("nobody{}", unique());
    let mut both = pap_request(&nobody, "x");
    both.add_chap_password(1, b"x");
    assert_eq!(r.send(r.auth, both).await.unwrap().code, Code::AccessReject);
    let e = graphql_auth_log(&r, &nobody, BOTH_REJECTED).await;
    assert!(e["subscriptionId"].is_null(), "{e}");
    // The reason is readable by support staff, filtered to rejects.
    let support = r.app.staff(&r.t, "SUPPORT").await;
    let d = r
        .app
        .ok(
            &support.token,
            "{ authLog(first: 10, filter: {result: REJECT}) { nodes { reason } } }",
            serde_json::json!({}),
        )
        .await;
    let reasons = d["authLog"]["nodes"].as_array().unwrap();
    assert!(reasons.iter().all(|n| n["reason"].as_str().unwrap().contains("User-Password and CHAP-Password")), "{d}");
    assert_eq!(reasons.len(), 4, "{d}");
}

/// The tickets of the subscriber `user`'s customer: (id, subject, tags, status, message kinds).
async fn login_tickets(r: &Radius, customer: i64) -> Vec<Value> {
    let d = r
        .app
        .ok(
            &r.t.token,
            "query($c: ID) { tickets(first: 20, filter: {customerId: $c}) { nodes { id subject tags status \
             channel subscription { id } messages { kind body } } } }",
            json!({"c": global_id("Customer", customer)}),
        )
        .await;
    d["tickets"]["nodes"].as_array().unwrap().clone()
}

async fn sweep_helpdesk(r: &Radius) {
    isp_core::scheduler::sweep_helpdesk(&r.app.ctx).await.unwrap();
}

/// A subscriber whose logins keep failing raises one automatic ticket (an internal note, the
/// customer is not messaged); deliberate refusals and a recovered login raise none; after the
/// ticket is resolved only later failures raise a new one.
#[tokio::test]
async fn logins_that_keep_failing_raise_one_ticket() {
    let r = spawn_radius_with(|c| {
        c.helpdesk.login_failures = 3;
        c.helpdesk.login_failure_window_minutes = 10;
    })
    .await;
    let plan = r.plan(base_plan("Failing")).await;
    let u = |s: &str| format!("{s}{}", unique());
    let (failing, suspended, recovered) = (u("failing"), u("suspended"), u("recovered"));
    let sub = r.subscriber(plan.id, &failing, "pw-123456", |_| {}).await;
    let s2 = r.subscriber(plan.id, &suspended, "pw-123456", |_| {}).await;
    let s3 = r.subscriber(plan.id, &recovered, "pw-123456", |_| {}).await;
    r.set_status(s2.id, SubscriptionStatus::Suspended).await;

    // Under the threshold, a deliberate refusal, and failures followed by a good login.
    for _ in 0..2 {
        assert_eq!(r.pap(&failing, "wrong").await.code, Code::AccessReject);
    }
    for _ in 0..4 {
        assert_eq!(r.pap(&suspended, "pw-123456").await.code, Code::AccessReject);
        assert_eq!(r.pap(&recovered, "typo").await.code, Code::AccessReject);
    }
    assert_eq!(r.pap(&recovered, "pw-123456").await.code, Code::AccessAccept);
    r.expect_reason(&failing, "PAP REJECT bad password").await;
    r.expect_reason(&suspended, "PAP REJECT subscription suspended").await;
    r.expect_reason(&recovered, "PAP ACCEPT ok").await;
    sweep_helpdesk(&r).await;
    for s in [&sub, &s2, &s3] {
        assert_eq!(login_tickets(&r, s.customer_id).await, Vec::<Value>::new(), "{}", s.username);
    }

    // The third failure within the window: one ticket, about the subscription, not sent.
    assert_eq!(r.pap(&failing, "wrong").await.code, Code::AccessReject);
    r.app.clock.advance(ChronoDuration::seconds(1));
    assert_eq!(r.pap(&failing, "wronger").await.code, Code::AccessReject);
    r.expect_reason(&failing, "PAP REJECT bad password").await;
    sweep_helpdesk(&r).await;
    sweep_helpdesk(&r).await;
    let got = login_tickets(&r, sub.customer_id).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    let t = &got[0];
    assert!(t["subject"].as_str().unwrap().contains(&failing), "{t}");
    assert_eq!(t["tags"], json!(["automatic", "login-failures"]));
    assert_eq!((t["status"].as_str(), t["channel"].as_str()), (Some("NEW"), Some("API")));
    assert_eq!(t["subscription"]["id"], json!(global_id("Subscription", sub.id)));
    assert_eq!(t["messages"][0]["kind"], "INTERNAL_NOTE", "{t}");
    assert!(t["messages"][0]["body"].as_str().unwrap().contains("4 logins"), "{t}");
    let queued = isp_core::store::notifications::by_key_prefix(&r.app.ctx.db, r.tenant_id, "ticket:").await.unwrap();
    assert!(queued.is_empty(), "the customer is not told of an automatic ticket: {queued:?}");

    // More failures while it is open: still one.
    assert_eq!(r.pap(&failing, "wrong").await.code, Code::AccessReject);
    r.expect_reason(&failing, "PAP REJECT bad password").await;
    sweep_helpdesk(&r).await;
    assert_eq!(login_tickets(&r, sub.customer_id).await.len(), 1);

    // Resolved: the failures before it do not raise another; three after it do.
    r.app.clock.advance(ChronoDuration::seconds(1));
    r.app
        .ok(
            &r.t.token,
            "mutation($id: ID!) { setTicketStatus(id: $id, status: RESOLVED) { status } }",
            json!({"id": t["id"]}),
        )
        .await;
    sweep_helpdesk(&r).await;
    assert_eq!(login_tickets(&r, sub.customer_id).await.len(), 1, "no new ticket for failures already handled");
    r.app.clock.advance(ChronoDuration::seconds(1));
    for _ in 0..3 {
        assert_eq!(r.pap(&failing, "wrong").await.code, Code::AccessReject);
    }
    r.expect_reason(&failing, "PAP REJECT bad password").await;
    sweep_helpdesk(&r).await;
    let got = login_tickets(&r, sub.customer_id).await;
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(got
        .iter()
        .any(|t| t["status"] == "NEW" && t["messages"][0]["body"].as_str().unwrap().contains("3 logins")));

    // Outside the window nothing counts.
    r.app.clock.advance(ChronoDuration::minutes(11));
    let other = r.subscriber(plan.id, &u("late"), "pw-123456", |_| {}).await;
    sweep_helpdesk(&r).await;
    assert!(login_tickets(&r, other.customer_id).await.is_empty());
}
