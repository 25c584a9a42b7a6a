//! The device-job worker: claims due jobs from the outbox, delivers them, and records the
//! outcome (done, retry with exponential backoff, or dead letter after the last attempt).
//!
//! It wakes at once when this process commits a job (`ctx.jobs_wakeup`) and polls otherwise,
//! so jobs written by other processes, or left behind by a crash, are delivered too.

use crate::coa::{self, CoaAnswer, CoaSender};
use isp_core::jobs::{self, DeviceJob, JobKind, RadiusJobPayload};
use isp_core::store::nas;
use isp_core::Ctx;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Jobs claimed per round.
const BATCH: i64 = 16;

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Delivered (or nothing left to do).
    Done(String),
    /// Failed; retry later.
    Retry(String),
    /// Can never succeed (the NAS is gone, the payload is bad).
    Fatal(String),
}

/// Delivers one job with `sender`.
pub async fn deliver<S: CoaSender>(ctx: &Ctx, sender: &S, job: &DeviceJob) -> Attempt {
    let Some(nas_id) = job.nas_id else {
        return Attempt::Fatal("job names no NAS".into());
    };
    let nas = match nas::get(&ctx.db, job.tenant_id, nas_id).await {
        Ok(n) => n,
        Err(isp_core::CoreError::NotFound(_)) => return Attempt::Fatal("the NAS was deleted".into()),
        Err(e) => return Attempt::Retry(format!("database: {e}")),
    };
    let Ok(payload) = serde_json::from_str::<RadiusJobPayload>(&job.payload) else {
        return Attempt::Fatal("payload is not valid".into());
    };
    let secret = match nas.secret(ctx) {
        Ok(s) => s,
        Err(e) => return Attempt::Fatal(format!("NAS secret: {e}")),
    };
    let Ok(ip) = nas.ip_address.parse::<IpAddr>() else {
        return Attempt::Fatal("NAS address is not an IP".into());
    };
    let to = SocketAddr::new(ip, u16::try_from(nas.coa_port).unwrap_or(3799));
    let request = match job.kind {
        JobKind::RadiusDisconnect => coa::disconnect_request(&payload),
        JobKind::RadiusCoa => coa::coa_request(&payload),
        JobKind::DeviceSuspend | JobKind::DeviceResume => return Attempt::Fatal("not a RADIUS job".into()),
    };
    let timeout = Duration::from_millis(ctx.config.radius.coa_timeout_ms);
    match sender.send(to, secret.as_bytes(), request, timeout).await {
        Ok(CoaAnswer::Ack) => Attempt::Done("acknowledged".into()),
        Ok(CoaAnswer::SessionGone) => Attempt::Done("session already gone".into()),
        Err(e) => Attempt::Retry(e.to_string()),
    }
}

/// Claims and delivers the jobs due now; returns how many were claimed.
pub async fn run_once<S: CoaSender>(ctx: &Ctx, sender: &S) -> isp_core::CoreResult<usize> {
    let lease = (ctx.config.radius.coa_timeout_ms as i64) * 2 + 10_000;
    let claimed = jobs::claim_due(&ctx.db, ctx.now_ms(), lease, BATCH).await?;
    let n = claimed.len();
    let max = ctx.config.radius.job_max_attempts;
    // Deliveries to different NAS do not wait for each other's timeouts.
    let results = futures::future::join_all(claimed.iter().map(|job| deliver(ctx, sender, job))).await;
    for (job, attempt) in claimed.iter().zip(results) {
        let now = ctx.now_ms();
        let (label, res) = match &attempt {
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
                ("dead", jobs::fail(&ctx.db, job.id, err, now, true, now).await)
            }
        };
        ctx.metrics.inc("isp_device_jobs_total", &format!("result=\"{label}\""));
        res?;
    }
    Ok(n)
}

/// Runs the worker with `sender` until `shutdown` resolves.
pub async fn run_with<S: CoaSender>(ctx: Ctx, sender: S, shutdown: impl Future<Output = ()>) {
    ctx.metrics.describe("isp_device_jobs_total", "Device job delivery attempts, by outcome.");
    let poll = Duration::from_millis(ctx.config.radius.job_poll_ms.max(10));
    tokio::pin!(shutdown);
    loop {
        let busy = match run_once(&ctx, &sender).await {
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

/// Runs the worker with real UDP delivery until `shutdown` resolves.
pub async fn run(ctx: Ctx, shutdown: impl Future<Output = ()>) {
    run_with(ctx, coa::UdpCoaSender, shutdown).await
}
