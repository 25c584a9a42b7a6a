//! The demo's network: the NAS, a MikroTik router and a GPON OLT; RADIUS sessions played
//! through the accounting workflow with their auth log entries; and the delivery of the
//! device jobs the history causes, recorded as the worker records it.
//!
//! None of these devices exists, and `isp serve --demo` runs a real worker. So every job the
//! demo writes is finished before seeding ends (delivered, or dead-lettered after its
//! attempts), and both devices end up disabled: the worker and `netctl sync` leave them alone
//! until someone points them at real hardware and enables them.

use super::timeline::Timeline;
use super::{Staff, DEMO_NAS_IP, DEMO_NAS_SECRET};
use crate::error::{CoreError, CoreResult};
use crate::patch::Patch;
use crate::store::auth_log::{self, NewAuthLog};
use crate::store::devices::DeviceKind;
use crate::store::jobs::{self, DeviceJob, JobStatus};
use crate::workflows::accounting::{self, AcctOutcome, AcctRecord, AcctStatus};
use crate::workflows::devices::{self, DevicePatch};
use crate::workflows::nas::{self, NasPatch};
use crate::Ctx;
use chrono::Duration;

/// The demo's NAS and devices.
pub(super) struct Network {
    /// The NAS `127.0.0.1` (secret `testing123`).
    pub nas_id: i64,
    /// The MikroTik router behind that NAS.
    pub router_id: i64,
    /// The GPON OLT the GPON subscriptions hang off.
    pub olt_id: i64,
}

/// Registers the NAS, the router (the same box, linked to the NAS) and the OLT, enabled, so
/// that the suspensions of the history reach them.
pub(super) async fn setup(ctx: &Ctx, staff: &Staff) -> CoreResult<Network> {
    let nas = nas::create(
        ctx,
        &staff.owner,
        &NasPatch {
            name: Some("Demo router (localhost)".into()),
            ip_address: Some(DEMO_NAS_IP.into()),
            secret: Some(DEMO_NAS_SECRET.into()),
            ..Default::default()
        },
    )
    .await?;
    let router = devices::create(
        ctx,
        &staff.engineer,
        &DevicePatch {
            name: Some("demo-router".into()),
            kind: Some(DeviceKind::Mikrotik),
            host: Some(DEMO_NAS_IP.into()),
            username: Some("isp-api".into()),
            password: Some("demo-router-secret".into()),
            nas_id: Patch::Set(nas.id),
            ..Default::default()
        },
    )
    .await?;
    let olt = devices::create(
        ctx,
        &staff.engineer,
        &DevicePatch {
            name: Some("demo-olt".into()),
            kind: Some(DeviceKind::HuaweiOlt),
            // TEST-NET-1 (RFC 5737): documentation only, never a real host.
            host: Some("192.0.2.2".into()),
            username: Some("root".into()),
            password: Some("demo-olt-secret".into()),
            ..Default::default()
        },
    )
    .await?;
    Ok(Network { nas_id: nas.id, router_id: router.id, olt_id: olt.id })
}

/// Disables both devices at the end of the history (nothing answers at their addresses).
pub(super) async fn retire(ctx: &Ctx, staff: &Staff, net: &Network) -> CoreResult<()> {
    for id in [net.router_id, net.olt_id] {
        let off = DevicePatch { enabled: Some(false), ..Default::default() };
        devices::update(ctx, &staff.engineer, id, &off).await?;
    }
    Ok(())
}

/// What became of a job the demo delivers.
pub(super) enum Delivery {
    /// Acknowledged by the device or NAS.
    Done,
    /// Failed every attempt with this error, then dead-lettered.
    Dead(&'static str),
}

/// Delivers every pending job of tenant `tenant` the way the worker does (claim, then done,
/// or retried with backoff until its last attempt dead-letters it), a moment after the change
/// that wrote it; `outcome` decides each. Returns how many were delivered.
pub(super) async fn deliver(tl: &Timeline, tenant: i64, outcome: impl Fn(&DeviceJob) -> Delivery) -> CoreResult<usize> {
    const LEASE_MS: i64 = 60_000;
    let db = &tl.ctx.db;
    let max = tl.ctx.config.radius.job_max_attempts;
    tl.advance(Duration::seconds(2));
    let claimed = jobs::claim_due(db, Some(tenant), tl.now_ms(), LEASE_MS, 100).await?;
    for job in &claimed {
        match outcome(job) {
            Delivery::Done => jobs::complete(db, job.id, tl.now_ms()).await?,
            Delivery::Dead(error) => {
                let mut attempts = job.attempts;
                loop {
                    let now = tl.now_ms();
                    if attempts >= max {
                        jobs::fail(db, job.id, error, now, true, now).await?;
                        break;
                    }
                    let wait = jobs::backoff_ms(attempts);
                    jobs::fail(db, job.id, error, now + wait, false, now).await?;
                    tl.advance(Duration::milliseconds(wait));
                    match jobs::claim_ids(db, tenant, &[job.id], tl.now_ms(), LEASE_MS).await?.first() {
                        Some(again) => attempts = again.attempts,
                        // The history's end came first: give up now.
                        None => attempts = max,
                    }
                }
            }
        }
    }
    Ok(claimed.len())
}

/// Fails unless every job of tenant `tenant` is finished: nothing may be left for the worker
/// of `isp serve --demo` to try on devices that do not exist.
pub(super) async fn check_quiet(ctx: &Ctx, tenant: i64) -> CoreResult<()> {
    let pending = jobs::count(&ctx.db, tenant, Some(JobStatus::Pending)).await?;
    if pending.value != 0 {
        return Err(CoreError::internal(format!("the demo left {} device jobs pending", pending.value)));
    }
    Ok(())
}

/// A session the demo plays through accounting.
pub(super) struct Session {
    id: String,
    username: String,
    sub: i64,
    framed_ip: String,
    calling: String,
    started_ms: i64,
}

/// RADIUS as the demo's subscribers use it: sessions recorded through the accounting
/// workflow, and the auth log of the Access-Requests before them, written at the end with the
/// batch insert the RADIUS server uses.
pub(super) struct Radius {
    tenant: i64,
    nas: i64,
    sessions: usize,
    log: Vec<NewAuthLog>,
}

/// A MAC address for subscriber `sub`'s router.
fn mac(sub: i64) -> String {
    format!("02:5E:00:00:{:02X}:{:02X}", (sub >> 8) & 0xFF, sub & 0xFF)
}

impl Session {
    /// Its User-Name.
    pub fn username(&self) -> &str {
        &self.username
    }
}

impl Radius {
    /// RADIUS of NAS `nas` in tenant `tenant`.
    pub fn new(tenant: i64, nas: i64) -> Self {
        Self { tenant, nas, sessions: 0, log: Vec::new() }
    }

    /// An auth log entry at the timeline's now; `sub` is None for an unknown user.
    pub fn auth(&mut self, tl: &Timeline, username: &str, sub: Option<i64>, accept: bool, reason: &str) {
        let n = self.log.len();
        self.log.push(NewAuthLog {
            tenant_id: self.tenant,
            nas_id: self.nas,
            username: username.into(),
            subscription_id: sub,
            method: ["PAP", "CHAP", "MSCHAPV2"][n % 3],
            result: if accept { "ACCEPT" } else { "REJECT" },
            reason: reason.into(),
            calling_station_id: Some(mac(sub.unwrap_or(0))),
            at: tl.now_ms(),
        });
    }

    /// An auth log entry for a request from a MAC other than the one bound to the login.
    pub fn wrong_mac(&mut self, tl: &Timeline, username: &str, sub: i64, bound: &str) {
        self.auth(
            tl,
            username,
            Some(sub),
            false,
            &format!("{} (bound {bound}, got {})", crate::store::auth_log::reasons::MAC_MISMATCH, mac(sub)),
        );
    }

    /// `username` (subscription `sub`) logs in and its session starts now.
    pub async fn start(&mut self, tl: &Timeline, username: &str, sub: i64) -> CoreResult<Session> {
        self.auth(tl, username, Some(sub), true, "ok");
        self.sessions += 1;
        let s = Session {
            id: format!("81{:06X}", 0x1000 + self.sessions),
            username: username.into(),
            sub,
            framed_ip: format!("100.64.{}.{}", (sub >> 8) & 0xFF, sub & 0xFF),
            calling: mac(sub),
            started_ms: tl.now_ms(),
        };
        self.account(tl, &s, AcctStatus::Start, (0, 0), None).await?;
        Ok(s)
    }

    /// An Interim-Update with the session's counters so far (octets in, out).
    pub async fn interim(&self, tl: &Timeline, s: &Session, octets: (i64, i64)) -> CoreResult<AcctOutcome> {
        self.account(tl, s, AcctStatus::Interim, octets, None).await
    }

    /// The session ends with its final counters and the NAS's reason (`User-Request` ...).
    pub async fn stop(&self, tl: &Timeline, s: &Session, octets: (i64, i64), cause: &str) -> CoreResult<AcctOutcome> {
        self.account(tl, s, AcctStatus::Stop, octets, Some(cause)).await
    }

    async fn account(
        &self,
        tl: &Timeline,
        s: &Session,
        status: AcctStatus,
        (input, output): (i64, i64),
        cause: Option<&str>,
    ) -> CoreResult<AcctOutcome> {
        let r = AcctRecord {
            status,
            acct_session_id: s.id.clone(),
            username: s.username.clone(),
            class_subscription_id: Some(s.sub),
            framed_ip: Some(s.framed_ip.clone()),
            calling_station_id: Some(s.calling.clone()),
            nas_port_id: Some("pppoe-in1".into()),
            input_octets: input,
            output_octets: output,
            session_time: (tl.now_ms() - s.started_ms) / 1000,
            terminate_cause: cause.map(str::to_string),
        };
        accounting::account(&tl.ctx, self.tenant, self.nas, &r).await
    }

    /// Writes the auth log, oldest first (ids grow with time as the server's would).
    pub async fn write_log(mut self, ctx: &Ctx) -> CoreResult<()> {
        self.log.sort_by_key(|e| e.at);
        auth_log::insert_batch(&ctx.db, &self.log).await
    }
}
