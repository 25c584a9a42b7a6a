//! RADIUS accounting over real UDP: 64-bit counters, overwrite semantics, retransmissions,
//! billing-period boundaries, Accounting-On, stale sessions, simultaneous use, and quota
//! enforcement through the device-job outbox and the worker (a fake NAS answers CoA/DM).

use crate::radius::*;
use crate::*;
use chrono::Duration as ChronoDuration;
use isp_core::store::jobs::{self, JobStatus};
use isp_core::store::page::PageArgs;
use isp_core::store::plans::PlanInput;
use isp_core::store::radius_sessions::{self, RadiusSession, SessionFilter};
use isp_core::store::usage;
use isp_core::workflows::nas::{self, NasPatch};
use isp_radiusd::dictionary::{acct_status_type, attr, mikrotik};
use isp_radiusd::{Code, Packet};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

/// An Accounting-Request for one session.
pub fn acct(status: u32, user: &str, session: &str, input: u64, output: u64, secs: u32) -> Packet {
    let mut p = Packet::new_request(Code::AccountingRequest, (input as u8) ^ (status as u8) ^ 0x5a);
    p.add_str(attr::USER_NAME, user);
    p.add_u32(attr::ACCT_STATUS_TYPE, status);
    p.add_str(attr::ACCT_SESSION_ID, session);
    p.add_ipv4(attr::FRAMED_IP_ADDRESS, Ipv4Addr::new(100, 64, 0, 9));
    p.add_u64_split(attr::ACCT_INPUT_OCTETS, attr::ACCT_INPUT_GIGAWORDS, input);
    p.add_u64_split(attr::ACCT_OUTPUT_OCTETS, attr::ACCT_OUTPUT_GIGAWORDS, output);
    p.add_u32(attr::ACCT_SESSION_TIME, secs);
    p
}

impl Radius {
    /// Sends an Accounting-Request and expects the Accounting-Response.
    pub async fn account(&self, p: Packet) {
        let reply = self.send(self.acct, p).await.expect("an Accounting-Response");
        assert_eq!(reply.code, Code::AccountingResponse);
    }

    /// The tenant's sessions of `user`, newest first.
    pub async fn sessions(&self, user: &str) -> Vec<RadiusSession> {
        let f = SessionFilter { username: Some(user.into()), ..Default::default() };
        let args = PageArgs { first: Some(100), ..Default::default() };
        radius_sessions::list(&self.app.ctx.db, self.tenant_id, &f, &args).await.unwrap().items
    }

    /// Usage rows (period start, total octets, seconds) of a subscription, newest first.
    pub async fn usage(&self, sub: i64) -> Vec<(String, i64, i64)> {
        let args = PageArgs { first: Some(100), ..Default::default() };
        usage::list(&self.app.ctx.db, self.tenant_id, sub, &args)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|u| (u.period_start.clone(), u.total_octets(), u.session_time))
            .collect()
    }
}

#[tokio::test]
async fn usage_periods_follow_the_tenant_calendar() {
    let r = spawn_radius().await;
    let ctx = &r.app.ctx;
    // Five hours behind UTC (no daylight saving): at 03:00 UTC on 1 February it is still
    // 31 January there, so usage belongs to January's period, as the tenant's billing does.
    let ten = isp_core::store::tenants::get(&ctx.db, r.tenant_id).await.unwrap();
    let mut tx = ctx.db.begin().await.unwrap();
    isp_core::store::tenants::update(&mut tx, r.tenant_id, &ten.name, &ten.currency, "America/Bogota", &ten.settings())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    r.app.clock.set(chrono::DateTime::parse_from_rfc3339("2026-02-01T03:00:00Z").unwrap().to_utc());
    let plan = r.plan(base_plan("Local calendar")).await;
    let u = format!("local{}", unique());
    let sub = r.subscriber(plan.id, &u, "pw-123456", |p| p.start_date = Some("2026-01-01".into())).await;
    let sid = format!("sess-{}", unique());
    r.account(acct(acct_status_type::START, &u, &sid, 0, 0, 0)).await;
    r.account(acct(acct_status_type::INTERIM_UPDATE, &u, &sid, 1000, 500, 60)).await;
    assert_eq!(r.usage(sub.id).await, vec![("2026-01-01".to_string(), 1500, 60)]);
    // At 05:00 there it is February: the growth from then on is February's.
    r.app.clock.advance(ChronoDuration::hours(5));
    r.account(acct(acct_status_type::INTERIM_UPDATE, &u, &sid, 1600, 1000, 120)).await;
    assert_eq!(r.usage(sub.id).await, vec![("2026-02-01".to_string(), 1100, 60), ("2026-01-01".to_string(), 1500, 60)]);
}

#[tokio::test]
async fn accounting_keeps_64_bit_cumulative_counters_per_period() {
    let r = spawn_radius().await;
    let plan = r.plan(base_plan("Counted")).await;
    let u = format!("dave{}", unique());
    let sub = r.subscriber(plan.id, &u, "pw-123456", |_| {}).await;
    let class = r.pap(&u, "pw-123456").await.attr(attr::CLASS).unwrap().to_vec();
    let sid = format!("sess-{}", unique());
    let with_class = |mut p: Packet| {
        p.add(attr::CLASS, class.clone());
        p
    };
    r.account(with_class(acct(acct_status_type::START, &u, &sid, 0, 0, 0))).await;
    let s = &r.sessions(&u).await[0];
    assert_eq!((s.open, s.subscription_id, s.framed_ip.as_deref()), (1, Some(sub.id), Some("100.64.0.9")));

    let g = 1u64 << 32;
    let interim = with_class(acct(acct_status_type::INTERIM_UPDATE, &u, &sid, g + 1000, 500, 300));
    let mut retransmitted = interim.clone();
    let bytes = retransmitted.encode_request(SECRET.as_bytes()).unwrap();
    let nas_sock = UdpSocket::bind((r.nas_ip, 0)).await.unwrap();
    let first = raw_from(&nas_sock, r.acct, &bytes, Duration::from_secs(3)).await.unwrap();
    let total = (g + 1500) as i64;
    assert_eq!(r.usage(sub.id).await[0].1, total);
    // The same datagram again: answered from the duplicate cache, not counted twice.
    assert_eq!(raw_from(&nas_sock, r.acct, &bytes, Duration::from_secs(3)).await.unwrap(), first);
    assert_eq!(r.usage(sub.id).await[0].1, total);
    assert_eq!(r.app.ctx.metrics.get("isp_radius_duplicates_total", "port=\"acct\""), 1);
    // A new interim overwrites the session's counters; only the growth is added to usage.
    r.account(acct(acct_status_type::INTERIM_UPDATE, &u, &sid, g + 2000, 700, 600)).await;
    assert_eq!(r.usage(sub.id).await[0].1, (g + 2700) as i64);
    // A late, older interim changes nothing.
    r.account(acct(acct_status_type::INTERIM_UPDATE, &u, &sid, g + 1500, 600, 450)).await;
    let s = &r.sessions(&u).await[0];
    assert_eq!((s.input_octets, s.output_octets, s.session_time), ((g + 2000) as i64, 700, 600));
    assert_eq!(r.usage(sub.id).await, vec![(r.usage(sub.id).await[0].0.clone(), (g + 2700) as i64, 600)]);

    // Past the period boundary the growth lands in the new period.
    r.app.clock.advance(ChronoDuration::days(32));
    r.account(acct(acct_status_type::INTERIM_UPDATE, &u, &sid, g + 3000, 900, 900)).await;
    let mut stop = acct(acct_status_type::STOP, &u, &sid, g + 3500, 1000, 1000);
    stop.add_u32(attr::ACCT_TERMINATE_CAUSE, 1);
    r.account(stop).await;
    let rows = r.usage(sub.id).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!((rows[0].1, rows[0].2), (1800, 400), "new period: growth after the boundary");
    assert_eq!((rows[1].1, rows[1].2), ((g + 2700) as i64, 600), "old period unchanged");
    assert!(rows[0].0 > rows[1].0);
    let s = &r.sessions(&u).await[0];
    assert_eq!((s.open, s.terminate_cause.as_deref()), (0, Some("User-Request")));
    assert!(s.stopped_at.is_some());
}

#[tokio::test]
async fn simultaneous_use_accounting_on_and_stale_sessions() {
    let r = spawn_radius_with(|c| c.radius.stale_check_secs = 1).await;
    let plan = r.plan(base_plan("Single")).await;
    let u = format!("erin{}", unique());
    r.subscriber(plan.id, &u, "pw-123456", |_| {}).await;
    assert_eq!(r.pap(&u, "pw-123456").await.code, Code::AccessAccept);
    r.account(acct(acct_status_type::START, &u, "s1", 0, 0, 0)).await;
    let rej = r.pap(&u, "pw-123456").await;
    assert_eq!(rej.code, Code::AccessReject);
    r.expect_reason(&u, "PAP REJECT simultaneous-use limit reached (1 of 1)").await;
    r.account(acct(acct_status_type::START, &u, "s2", 0, 0, 0)).await;

    // Accounting-On: the NAS rebooted, none of its sessions survive.
    let mut on = Packet::new_request(Code::AccountingRequest, 1);
    on.add_u32(attr::ACCT_STATUS_TYPE, acct_status_type::ACCOUNTING_ON);
    r.account(on).await;
    let all = r.sessions(&u).await;
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|s| s.open == 0 && s.terminate_cause.as_deref() == Some("NAS-Reboot")), "{all:?}");
    assert_eq!(r.pap(&u, "pw-123456").await.code, Code::AccessAccept);

    // No update for three interim intervals: the sweep closes it.
    r.account(acct(acct_status_type::START, &u, "s3", 0, 0, 0)).await;
    // Age this session instead of moving the clock: the sweep covers every tenant, and a clock
    // 16 minutes ahead would close other tests' fresh sessions on a shared test database.
    let aged = r.app.ctx.now_ms() - 16 * 60 * 1000;
    isp_core::db::query(
        "UPDATE radius_sessions SET updated_at = $1 WHERE tenant_id = $2 AND username = $3 AND open = 1",
    )
    .bind(aged)
    .bind(r.tenant_id)
    .bind(&u)
    .execute(&r.app.ctx.db)
    .await
    .unwrap();
    let mut closed = false;
    for _ in 0..60 {
        if r.sessions(&u).await[0].open == 0 {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(closed, "stale session not closed");
    assert_eq!(r.sessions(&u).await[0].terminate_cause.as_deref(), Some("Stale"));
}

/// Sends `p` from a fresh socket of the NAS; the Accounting-Response must come.
async fn account_from_own_socket(r: &Radius, mut p: Packet) -> Vec<u8> {
    let bytes = p.encode_request(SECRET.as_bytes()).unwrap();
    let sock = UdpSocket::bind((r.nas_ip, 0)).await.unwrap();
    let reply = raw_from(&sock, r.acct, &bytes, Duration::from_secs(5)).await.expect("an Accounting-Response");
    let reply = Packet::decode(&reply).unwrap();
    assert_eq!(reply.code, Code::AccountingResponse);
    reply.verify_accounting_response(&p.authenticator, SECRET.as_bytes()).unwrap();
    bytes
}

#[tokio::test]
async fn concurrent_accounting_is_committed_in_groups_and_counted_once() {
    let r = spawn_radius().await;
    let plan = r.plan(PlanInput { data_quota: quota(10_000_000, false), ..base_plan("Cap 10MB") }).await;
    let u = format!("judy{}", unique());
    let s = r.subscriber(plan.id, &u, "pw-123456", |p| p.simultaneous_use = Some(20)).await;
    let sessions: Vec<String> = (0..20).map(|i| format!("grp-{i}")).collect();
    let starts =
        sessions.iter().map(|sid| account_from_own_socket(&r, acct(acct_status_type::START, &u, sid, 0, 0, 0)));
    futures::future::join_all(starts).await;
    // Five cumulative updates per session, all in flight at once so they share transactions
    // and arrive in any order; each session ends at 250 kB in + 250 kB out.
    let mut updates = Vec::new();
    for sid in &sessions {
        for k in 1..=5u64 {
            updates.push(acct(acct_status_type::INTERIM_UPDATE, &u, sid, k * 50_000, k * 50_000, k as u32 * 60));
        }
    }
    let sent = futures::future::join_all(updates.into_iter().map(|p| account_from_own_socket(&r, p))).await;
    // Retransmissions of answered requests are answered from the duplicate cache.
    let sock = UdpSocket::bind((r.nas_ip, 0)).await.unwrap();
    assert!(raw_from(&sock, r.acct, &sent[4], Duration::from_secs(3)).await.is_some());

    let all = r.sessions(&u).await;
    assert_eq!(all.len(), 20);
    for x in &all {
        assert_eq!((x.input_octets, x.output_octets, x.session_time, x.open), (250_000, 250_000, 300, 1), "{x:?}");
    }
    // 20 sessions x 500 kB = 10 MB: the quota is crossed exactly once, by whichever update
    // came last, and every open session gets one Disconnect job.
    assert_eq!(r.usage(s.id).await[0].1, 10_000_000);
    let jobs = r.jobs().await;
    assert_eq!(jobs.len(), 20, "{jobs:?}");
    let mut targets: Vec<_> = jobs.iter().map(|j| j.payload.clone()).collect();
    targets.sort();
    targets.dedup();
    assert_eq!(targets.len(), 20);

    // A Stop in the same burst as a late, smaller Interim: closed, counters kept at the maximum.
    let stop = {
        let mut p = acct(acct_status_type::STOP, &u, "grp-0", 260_000, 260_000, 310);
        p.add_u32(attr::ACCT_TERMINATE_CAUSE, 1);
        p
    };
    let late = acct(acct_status_type::INTERIM_UPDATE, &u, "grp-0", 100_000, 100_000, 120);
    futures::future::join(account_from_own_socket(&r, stop), account_from_own_socket(&r, late)).await;
    let x = r.sessions(&u).await.into_iter().find(|x| x.acct_session_id == "grp-0").unwrap();
    assert_eq!((x.input_octets, x.output_octets, x.open), (260_000, 260_000, 0));
    assert_eq!(x.terminate_cause.as_deref(), Some("User-Request"));
    assert_eq!(r.usage(s.id).await[0].1, 10_020_000);
    assert_eq!(r.jobs().await.len(), 20, "no second crossing");
}

/// A fake NAS: receives CoA/Disconnect requests and answers each with `answer`.
pub struct FakeNas {
    /// Requests received, verified with the NAS secret.
    pub got: Arc<Mutex<Vec<Packet>>>,
    /// Its CoA port.
    pub port: u16,
    stop: CancellationToken,
}

impl Drop for FakeNas {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Starts a fake NAS on `ip`; `answer` picks the reply code (None: stay silent).
pub async fn fake_nas(ip: Ipv4Addr, answer: fn(Code) -> Option<Code>) -> FakeNas {
    let sock = UdpSocket::bind((ip, 0)).await.unwrap();
    let port = sock.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let stop = CancellationToken::new();
    let (g, s) = (got.clone(), stop.clone());
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let (n, from) = tokio::select! {
                _ = s.cancelled() => break,
                r = sock.recv_from(&mut buf) => r.unwrap(),
            };
            let req = Packet::decode(&buf[..n]).unwrap();
            req.verify_request(SECRET.as_bytes()).unwrap();
            g.lock().unwrap().push(req.clone());
            if let Some(code) = answer(req.code) {
                let mut reply = Packet::response_to(&req, code);
                let bytes = reply.encode_response(&req.authenticator, SECRET.as_bytes()).unwrap();
                sock.send_to(&bytes, from).await.unwrap();
            }
        }
    });
    FakeNas { got, port, stop }
}

/// ACKs everything.
pub fn ack(c: Code) -> Option<Code> {
    Some(if c == Code::DisconnectRequest { Code::DisconnectAck } else { Code::CoaAck })
}

impl Radius {
    /// Points the NAS's CoA port at `port`.
    pub async fn coa_port(&self, port: u16) {
        let p = NasPatch { coa_port: Some(i64::from(port)), ..Default::default() };
        nas::update(&self.app.ctx, &self.owner(), self.nas_id, &p).await.unwrap();
    }

    /// Starts the device-job worker; it stops when the token is cancelled.
    pub fn worker(&self) -> CancellationToken {
        let stop = CancellationToken::new();
        // Only this test's tenant: tests share the PostgreSQL database and its job table.
        let worker = isp_netctl::worker::Worker::new(self.app.ctx.clone()).only_tenant(self.tenant_id);
        let until = stop.clone().cancelled_owned();
        tokio::spawn(async move { worker.run(until).await });
        stop
    }

    /// The tenant's device jobs, newest first.
    pub async fn jobs(&self) -> Vec<jobs::DeviceJob> {
        jobs::recent(&self.app.ctx.db, self.tenant_id, 100).await.unwrap()
    }

    /// Waits until `n` jobs are in `status`.
    pub async fn wait_jobs(&self, n: usize, status: JobStatus) -> Vec<jobs::DeviceJob> {
        for _ in 0..100 {
            let j = self.jobs().await;
            if j.iter().filter(|j| j.status == status).count() == n {
                return j;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} jobs {status}: {:?}", self.jobs().await);
    }
}

#[tokio::test]
async fn crossing_a_quota_disconnects_hard_cap_and_slows_fup_sessions() {
    let r = spawn_radius().await;
    let nas = fake_nas(r.nas_ip, ack).await;
    r.coa_port(nas.port).await;
    let _worker = r.worker().drop_guard();
    let hard = r.plan(PlanInput { data_quota: quota(1_000_000, false), ..base_plan("Cap 1MB") }).await;
    let fup = r.plan(PlanInput { data_quota: quota(1_000_000, true), ..base_plan("FUP 1MB") }).await;
    let capped = format!("frank{}", unique());
    r.subscriber(hard.id, &capped, "pw-123456", |_| {}).await;
    let slowed = format!("grace{}", unique());
    r.subscriber(fup.id, &slowed, "pw-123456", |_| {}).await;

    r.account(acct(acct_status_type::START, &capped, "cap-1", 0, 0, 0)).await;
    r.account(acct(acct_status_type::INTERIM_UPDATE, &capped, "cap-1", 300_000, 300_000, 60)).await;
    assert!(r.jobs().await.is_empty(), "below the quota");
    let mut crossing = acct(acct_status_type::INTERIM_UPDATE, &capped, "cap-1", 500_000, 600_000, 120);
    let again = crossing.encode_request(SECRET.as_bytes()).unwrap();
    let nas_sock = UdpSocket::bind((r.nas_ip, 0)).await.unwrap();
    assert!(raw_from(&nas_sock, r.acct, &again, Duration::from_secs(3)).await.is_some());
    let jobs = r.wait_jobs(1, JobStatus::Done).await;
    assert_eq!(jobs.len(), 1);
    {
        let got = nas.got.lock().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].code, Code::DisconnectRequest);
        assert_eq!(got[0].attr_str(attr::USER_NAME), Some(capped.as_str()));
        assert_eq!(got[0].attr_str(attr::ACCT_SESSION_ID), Some("cap-1"));
        assert_eq!(got[0].attr_ipv4(attr::FRAMED_IP_ADDRESS), Some(Ipv4Addr::new(100, 64, 0, 9)));
    }
    // Retransmitted and later interims do not enqueue it again.
    assert!(raw_from(&nas_sock, r.acct, &again, Duration::from_secs(3)).await.is_some());
    r.account(acct(acct_status_type::INTERIM_UPDATE, &capped, "cap-1", 600_000, 700_000, 180)).await;
    assert_eq!(r.jobs().await.len(), 1);
    assert_eq!(r.pap(&capped, "pw-123456").await.code, Code::AccessReject);

    r.account(acct(acct_status_type::START, &slowed, "fup-1", 0, 0, 0)).await;
    r.account(acct(acct_status_type::INTERIM_UPDATE, &slowed, "fup-1", 400_000, 700_000, 60)).await;
    r.wait_jobs(2, JobStatus::Done).await;
    let got = nas.got.lock().unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].code, Code::CoaRequest);
    assert_eq!(got[1].attr_str(attr::ACCT_SESSION_ID), Some("fup-1"));
    assert_eq!(got[1].vendor_attr(mikrotik::VENDOR_ID, mikrotik::RATE_LIMIT), Some(&b"512k/1000k"[..]));
}

#[tokio::test]
async fn device_jobs_retry_with_backoff_dead_letter_and_survive_restarts() {
    let r = spawn_radius_with(|c| {
        c.radius.coa_timeout_ms = 150;
        c.radius.job_max_attempts = 3;
        c.radius.job_poll_ms = 50;
    })
    .await;
    let silent = fake_nas(r.nas_ip, |_| None).await;
    r.coa_port(silent.port).await;
    let plan = r.plan(base_plan("Plain")).await;
    let u = format!("heidi{}", unique());
    r.subscriber(plan.id, &u, "pw-123456", |_| {}).await;
    r.account(acct(acct_status_type::START, &u, "h-1", 0, 0, 0)).await;
    let session = r.sessions(&u).await[0].id;
    isp_core::workflows::sessions::disconnect(&r.app.ctx, &r.owner(), session).await.unwrap();

    let worker = r.worker();
    // Attempt 1 fails and is scheduled 2 s later (by the injected clock).
    for (wait_attempts, advance) in [(1, 3), (2, 5)] {
        for _ in 0..100 {
            if silent.got.lock().unwrap().len() == wait_attempts as usize {
                break;
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        // The attempt times out after 150 ms and is then recorded.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let j = &r.jobs().await[0];
        assert_eq!((j.status, j.attempts), (JobStatus::Pending, wait_attempts), "{j:?}");
        assert!(j.last_error.as_deref().unwrap_or("").contains("no answer"), "{j:?}");
        r.app.clock.advance(ChronoDuration::seconds(advance));
        r.app.ctx.jobs_wakeup.notify_one();
    }
    let j = r.wait_jobs(1, JobStatus::Dead).await;
    assert_eq!(j[0].attempts, 3);
    assert_eq!(silent.got.lock().unwrap().len(), 3);
    worker.cancel();

    // A job written while no worker runs is delivered by the next one.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answering = fake_nas(r.nas_ip, ack).await;
    r.coa_port(answering.port).await;
    // A fresh session: on a shared PostgreSQL another test's stale sweep may have closed h-1.
    r.account(acct(acct_status_type::START, &u, "h-2", 0, 0, 0)).await;
    let session = r.sessions(&u).await[0].id;
    isp_core::workflows::sessions::disconnect(&r.app.ctx, &r.owner(), session).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(r.jobs().await[0].status, JobStatus::Pending);
    let _again = r.worker().drop_guard();
    r.wait_jobs(1, JobStatus::Done).await;
    assert_eq!(answering.got.lock().unwrap()[0].code, Code::DisconnectRequest);
}

#[tokio::test]
async fn racing_updates_of_one_session_never_count_growth_twice() {
    let r = spawn_radius().await;
    let plan = r.plan(base_plan("Racing")).await;
    let u = format!("judy{}", unique());
    let sub = r.subscriber(plan.id, &u, "pw-123456", |_| {}).await;
    let record = |status, n: i64| isp_core::workflows::accounting::AcctRecord {
        status,
        acct_session_id: "race-1".into(),
        username: u.clone(),
        class_subscription_id: None,
        framed_ip: None,
        calling_station_id: None,
        nas_port_id: None,
        input_octets: n * 1000,
        output_octets: n * 10,
        session_time: n,
        terminate_cause: None,
    };
    let ctx = &r.app.ctx;
    // Like a NAS, retry what was not acknowledged (SQLite may refuse a racing writer).
    let send = |rec: isp_core::workflows::accounting::AcctRecord| async move {
        for _ in 0..50 {
            if isp_core::workflows::accounting::account(ctx, r.tenant_id, r.nas_id, &rec).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("never recorded");
    };
    use isp_core::workflows::accounting::AcctStatus::*;
    let updates = (1..=20).map(|n| send(record(if n % 7 == 0 { Start } else { Interim }, n)));
    futures::future::join_all(updates).await;
    assert_eq!(r.usage(sub.id).await[0].1, 20 * 1010, "usage is the largest cumulative value, counted once");
    let s = &r.sessions(&u).await[0];
    assert_eq!((s.input_octets, s.session_time), (20_000, 20));
}

/// `simultaneousUse` set through the API is what RADIUS enforces.
#[tokio::test]
async fn simultaneous_use_is_set_through_the_api() {
    let r = spawn_radius().await;
    let plan = r.plan(base_plan("Family")).await;
    let u = format!("fam{}", unique());
    let s = r.subscriber(plan.id, &u, "pw-123456", |_| {}).await;
    let id = crate::global_id("Subscription", s.id);
    let q = "mutation($i: UpdateSubscriptionInput!) { updateSubscription(input: $i) { simultaneousUse } }";
    let bad = r.app.gql(Some(&r.t.token), q, serde_json::json!({"i": {"id": id, "simultaneousUse": 0}})).await;
    assert_eq!((crate::code(&bad), crate::field(&bad)), (Some("VALIDATION"), Some("simultaneousUse")), "{bad}");
    let d = r.app.ok(&r.t.token, q, serde_json::json!({"i": {"id": id, "simultaneousUse": 2}})).await;
    assert_eq!(d["updateSubscription"]["simultaneousUse"], 2);
    r.account(acct(acct_status_type::START, &u, "f1", 0, 0, 0)).await;
    assert_eq!(r.pap(&u, "pw-123456").await.code, Code::AccessAccept, "second session allowed");
    r.account(acct(acct_status_type::START, &u, "f2", 0, 0, 0)).await;
    assert_eq!(r.pap(&u, "pw-123456").await.code, Code::AccessReject, "third session refused");
    r.expect_reason(&u, "PAP REJECT simultaneous-use limit reached (2 of 2)").await;
}

/// A NAS after a reboot: 5,000 Accounting-Starts sent at once from one socket (Identifiers
/// wrapping around 256 times) are all answered and all recorded, and nothing is shed. Before
/// the listener read on a thread of its own, the kernel dropped most of such a burst while
/// the runtime's threads were busy with the first requests.
#[tokio::test]
async fn a_burst_of_five_thousand_starts_from_one_nas_is_answered_in_full() {
    const N: usize = 5000;
    let r = spawn_radius().await;
    let plan = r.plan(base_plan("Burst")).await;
    r.subscriber(plan.id, "burst", "pw-burst", |_| {}).await;
    let prefix = format!("burst-{}-", unique());
    let packets: Vec<Vec<u8>> = (0..N)
        .map(|i| {
            let mut p = acct(acct_status_type::START, "burst", &format!("{prefix}{i}"), 0, 0, 0);
            p.identifier = (i % 256) as u8;
            p.encode_request(SECRET.as_bytes()).unwrap()
        })
        .collect();
    let sock = std::net::UdpSocket::bind((r.nas_ip, 0)).unwrap();
    sock.connect(r.acct).unwrap();
    // Answers come back in group-commit batches of hundreds: room for them on this side.
    socket2::SockRef::from(&sock).set_recv_buffer_size(8 << 20).unwrap();
    let reader = sock.try_clone().unwrap();
    // Replies are read while the burst is sent, so the client's own buffer never overflows.
    let replies = std::thread::spawn(move || {
        reader.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut buf = [0u8; 4096];
        let mut n = 0;
        while n < N {
            match reader.recv(&mut buf) {
                Ok(len) => {
                    assert_eq!(Packet::decode(&buf[..len]).unwrap().code, Code::AccountingResponse);
                    n += 1;
                }
                Err(_) => break,
            }
        }
        n
    });
    for p in &packets {
        sock.send(p).unwrap();
    }
    let answered = tokio::task::spawn_blocking(move || replies.join().unwrap()).await.unwrap();
    assert_eq!(answered, N, "every Accounting-Start of the burst is answered");
    let (recorded,): (i64,) =
        isp_core::db::query_as("SELECT COUNT(*) FROM radius_sessions WHERE tenant_id = $1 AND acct_session_id LIKE $2")
            .bind(r.tenant_id)
            .bind(format!("{prefix}%"))
            .fetch_one(&r.app.ctx.db)
            .await
            .unwrap();
    assert_eq!(recorded, N as i64, "and recorded");
    let shed = r.app.ctx.metrics.get("isp_radius_dropped_total", "port=\"acct\",reason=\"overload\"");
    assert_eq!(shed, 0, "nothing was shed");
}
