//! The device-job worker: claims due jobs from the outbox, delivers them, and records the
//! outcome (done, retry with exponential backoff, or dead letter after the last attempt).
//!
//! RADIUS jobs go to the NAS as CoA/Disconnect requests; device jobs go to routers and OLTs
//! through the [`Fleet`], at most `devices.max_per_device` at a time per device, and the jobs
//! of one subscription on one device strictly in order. A device job converges the device to
//! the subscription's status as it is at delivery (see [`isp_core::store::jobs::DeviceJobPayload`]),
//! so a retry, a duplicate after a crash, or a resume overtaken by a newer suspension all end
//! with the device as the database says.
//!
//! It wakes at once when this process commits a job (`ctx.jobs_wakeup`) and polls otherwise,
//! so jobs written by other processes, or left behind by a crash (their lease runs out), are
//! delivered too.

use crate::coa::{self, CoaAnswer, CoaSender};
use crate::fleet::{DeviceError, Fleet};
use futures::StreamExt;
use isp_core::store::jobs::{self, DeviceJob, DeviceJobPayload, JobKind, RadiusJobPayload};
use isp_core::store::subscriptions::{self, SubscriptionStatus};
use isp_core::store::{devices, nas};
use isp_core::{CoreError, Ctx};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Jobs claimed per round.
const BATCH: i64 = 32;

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Delivered (or nothing left to do).
    Done(String),
    /// Failed; retry later (dead-lettered after the last attempt).
    Retry(String),
    /// Can never succeed (the NAS is gone, the payload is bad).
    Fatal(String),
}

/// Delivers device jobs: the CoA sender for RADIUS jobs and the fleet for routers and OLTs.
pub struct Worker<S> {
    ctx: Ctx,
    sender: S,
    fleet: Fleet,
    tenant: Option<i64>,
}

impl Worker<coa::UdpCoaSender> {
    /// A worker that sends CoA/Disconnect over UDP.
    pub fn new(ctx: Ctx) -> Self {
        Self::with_sender(ctx, coa::UdpCoaSender)
    }
}

impl<S: CoaSender> Worker<S> {
    /// A worker that sends RADIUS jobs with `sender`.
    pub fn with_sender(ctx: Ctx, sender: S) -> Self {
        let fleet = Fleet::new(&ctx.config.devices);
        Self { ctx, sender, fleet, tenant: None }
    }

    /// Delivers only the jobs of `tenant_id` (a worker of its own for one tenant; tests that
    /// share a database use it too). By default a worker serves every tenant.
    pub fn only_tenant(mut self, tenant_id: i64) -> Self {
        self.tenant = Some(tenant_id);
        self
    }

    /// The device connections.
    pub fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    /// How long a claimed job stays hidden from other workers: longer than any delivery.
    fn lease_ms(&self) -> i64 {
        let coa = self.ctx.config.radius.coa_timeout_ms as i64 * 2;
        // A device delivery may connect, log in and run a few commands, after waiting for a
        // free connection to a busy device.
        let device = self.ctx.config.devices.timeout_ms as i64 * 8;
        coa.max(device) + 10_000
    }

    /// Delivers one claimed job.
    pub async fn deliver(&self, job: &DeviceJob) -> Attempt {
        match job.kind {
            JobKind::RadiusDisconnect | JobKind::RadiusCoa => self.deliver_radius(job).await,
            JobKind::DeviceSuspend | JobKind::DeviceResume => self.deliver_device(job).await,
        }
    }

    async fn deliver_radius(&self, job: &DeviceJob) -> Attempt {
        let ctx = &self.ctx;
        let Some(nas_id) = job.nas_id else {
            return Attempt::Fatal("job names no NAS".into());
        };
        let nas = match nas::get(&ctx.db, job.tenant_id, nas_id).await {
            Ok(n) => n,
            Err(CoreError::NotFound(_)) => return Attempt::Fatal("the NAS was deleted".into()),
            Err(e) => return Attempt::Retry(format!("database: {e}")),
        };
        let Ok(payload) = serde_json::from_str::<RadiusJobPayload>(&job.payload) else {
            return Attempt::Fatal("payload is not valid".into());
        };
        let secret = match nas.secret(&ctx.secrets) {
            Ok(s) => s,
            Err(e) => return Attempt::Fatal(format!("NAS secret: {e}")),
        };
        let Ok(ip) = nas.ip_address.parse::<IpAddr>() else {
            return Attempt::Fatal("NAS address is not an IP".into());
        };
        let to = SocketAddr::new(ip, u16::try_from(nas.coa_port).unwrap_or(3799));
        let request = match job.kind {
            JobKind::RadiusCoa => coa::coa_request(&payload),
            _ => coa::disconnect_request(&payload),
        };
        let timeout = Duration::from_millis(ctx.config.radius.coa_timeout_ms);
        match self.sender.send(to, secret.as_bytes(), request, timeout).await {
            Ok(CoaAnswer::Ack) => Attempt::Done("acknowledged".into()),
            Ok(CoaAnswer::SessionGone) => Attempt::Done("session already gone".into()),
            Err(e) => Attempt::Retry(e.to_string()),
        }
    }

    async fn deliver_device(&self, job: &DeviceJob) -> Attempt {
        let ctx = &self.ctx;
        let Some(device_id) = job.device_id else {
            return Attempt::Fatal("job names no device".into());
        };
        let Ok(payload) = serde_json::from_str::<DeviceJobPayload>(&job.payload) else {
            return Attempt::Fatal("payload is not valid".into());
        };
        let device = match devices::get(&ctx.db, job.tenant_id, device_id).await {
            Ok(d) => d,
            Err(CoreError::NotFound(_)) => return Attempt::Fatal("the device was deleted".into()),
            Err(e) => return Attempt::Retry(format!("database: {e}")),
        };
        if !device.is_enabled() {
            return Attempt::Fatal(format!("device {} is disabled", device.name));
        }
        let blocked = match subscriptions::get(&ctx.db, job.tenant_id, payload.subscription_id).await {
            Ok(s) => s.status != SubscriptionStatus::Active,
            Err(CoreError::NotFound(_)) => true,
            Err(e) => return Attempt::Retry(format!("database: {e}")),
        };
        match self.fleet.converge(ctx, &device, &payload, blocked).await {
            Ok(c) => Attempt::Done(c.note),
            Err(DeviceError(e)) => Attempt::Retry(e),
        }
    }

    /// Records the outcome of `job`'s attempt.
    async fn record(&self, job: &DeviceJob, attempt: &Attempt) -> isp_core::CoreResult<()> {
        let ctx = &self.ctx;
        let now = ctx.now_ms();
        let max = ctx.config.radius.job_max_attempts;
        let (label, res) = match attempt {
            Attempt::Done(note) => {
                tracing::info!(job = job.id, kind = %job.kind, note, "device job delivered");
                ("done", jobs::complete(&ctx.db, job.id, now).await)
            }
            Attempt::Retry(err) if job.attempts < max => {
                let at = now + jobs::backoff_ms(job.attempts);
                tracing::warn!(job = job.id, kind = %job.kind, attempt = job.attempts, error = %err, "device job failed; will retry");
                ("retry", jobs::fail(&ctx.db, job.id, err, at, false, now).await)
            }
            Attempt::Retry(err) | Attempt::Fatal(err) => {
                tracing::error!(job = job.id, kind = %job.kind, attempt = job.attempts, error = %err, "device job dead-lettered");
                let res = isp_core::workflows::jobs::dead_letter(ctx, job, err).await;
                if res.is_ok() {
                    // One open helpdesk ticket per device whose changes are dead-lettered.
                    if let Err(e) = isp_core::workflows::tickets::device_job_dead(ctx, job, err).await {
                        tracing::error!(job = job.id, error = %e, "could not raise the device's ticket");
                    }
                }
                ("dead", res)
            }
        };
        ctx.metrics.inc("isp_device_jobs_total", &format!("result=\"{label}\""));
        res
    }

    /// Delivers claimed jobs and records each outcome: RADIUS jobs all at once, device jobs
    /// at most `devices.max_per_device` at a time per device, and one subscription's jobs
    /// on one device in order. Returns each job with its outcome.
    pub async fn deliver_all(&self, claimed: Vec<DeviceJob>) -> isp_core::CoreResult<Vec<(DeviceJob, Attempt)>> {
        // Chains: jobs that must run one after another, keyed by (device, subscription);
        // RADIUS jobs each form their own chain.
        let mut chains: BTreeMap<(i64, i64, i64), Vec<DeviceJob>> = BTreeMap::new();
        for job in claimed {
            let key = match (job.kind, job.device_id) {
                (JobKind::DeviceSuspend | JobKind::DeviceResume, Some(d)) => {
                    let sub = serde_json::from_str::<DeviceJobPayload>(&job.payload).map(|p| p.subscription_id);
                    (d, sub.unwrap_or(-job.id), 0)
                }
                _ => (0, 0, job.id),
            };
            chains.entry(key).or_default().push(job);
        }
        let mut per_device: BTreeMap<i64, Vec<Vec<DeviceJob>>> = BTreeMap::new();
        for ((device, _, _), chain) in chains {
            per_device.entry(device).or_default().push(chain);
        }
        let limit = self.ctx.config.devices.max_per_device.max(1);
        let groups = per_device.into_iter().map(|(device, chains)| async move {
            // Device 0 holds the RADIUS jobs: each goes to its own NAS, so no limit there.
            let width = if device == 0 { chains.len().max(1) } else { limit };
            let results: Vec<isp_core::CoreResult<Vec<(DeviceJob, Attempt)>>> = futures::stream::iter(chains)
                .map(|chain| async move {
                    let mut done = Vec::with_capacity(chain.len());
                    for job in chain {
                        let attempt = self.deliver(&job).await;
                        self.record(&job, &attempt).await?;
                        done.push((job, attempt));
                    }
                    Ok(done)
                })
                .buffer_unordered(width)
                .collect()
                .await;
            results
        });
        let mut out = Vec::new();
        for group in futures::future::join_all(groups).await {
            for chain in group {
                out.extend(chain?);
            }
        }
        Ok(out)
    }

    /// Claims and delivers the jobs due now; returns how many were claimed.
    pub async fn run_once(&self) -> isp_core::CoreResult<usize> {
        let claimed = jobs::claim_due(&self.ctx.db, self.tenant, self.ctx.now_ms(), self.lease_ms(), BATCH).await?;
        let n = claimed.len();
        self.deliver_all(claimed).await?;
        Ok(n)
    }

    /// Claims the pending jobs `ids` (those not already claimed elsewhere) and delivers them
    /// now, whatever their next attempt time; `netctl suspend` uses it to act at once.
    pub async fn deliver_now(&self, tenant_id: i64, ids: &[i64]) -> isp_core::CoreResult<Vec<(DeviceJob, Attempt)>> {
        let claimed = jobs::claim_ids(&self.ctx.db, tenant_id, ids, self.ctx.now_ms(), self.lease_ms()).await?;
        self.deliver_all(claimed).await
    }

    /// Runs until `shutdown` resolves.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let ctx = &self.ctx;
        ctx.metrics.describe("isp_device_jobs_total", "Device job delivery attempts, by outcome.");
        let poll = Duration::from_millis(ctx.config.radius.job_poll_ms.max(10));
        tokio::pin!(shutdown);
        loop {
            let busy = match self.run_once().await {
                Ok(n) => n > 0,
                Err(e) => {
                    tracing::error!(error = %e, "device-job round failed");
                    false
                }
            };
            if busy {
                continue;
            }
            tokio::select! {
                _ = &mut shutdown => break,
                _ = ctx.jobs_wakeup.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }
}

/// Runs the worker with `sender` for RADIUS jobs until `shutdown` resolves.
pub async fn run_with<S: CoaSender>(ctx: Ctx, sender: S, shutdown: impl Future<Output = ()>) {
    Worker::with_sender(ctx, sender).run(shutdown).await
}

/// Runs the worker with real UDP delivery until `shutdown` resolves.
pub async fn run(ctx: Ctx, shutdown: impl Future<Output = ()>) {
    Worker::new(ctx).run(shutdown).await
}
