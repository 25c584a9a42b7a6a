//! The commands that reach routers and OLTs: devices list/add/test, suspend/resume, live
//! sessions, sync and exec.

use super::{job_json, max_page, or_dash, time, time_json, Cmd, Failure, Outcome, Table, ACTOR};
use crate::fleet::{DeviceError, Fleet};
use crate::routeros::ops;
use crate::routeros::sentence::Command as RosCommand;
use crate::routeros::RouterApi;
use crate::sync;
use crate::worker::{Attempt, Worker};
use clap::{Args, ValueEnum};
use isp_core::auth::Actor;
use isp_core::patch::Patch;
use isp_core::store::devices::{self, Device, DeviceKind, Transport};
use isp_core::store::jobs::{self, DeviceJob, JobStatus};
use isp_core::store::nas;
use isp_core::store::page::MAX_PAGE;
use isp_core::store::subscriptions::{self, Subscription, SubscriptionStatus};
use isp_core::workflows::devices::DevicePatch;
use isp_core::CoreError;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::Write;

/// Which subscription `suspend` / `resume` act on.
#[derive(Args, Debug)]
pub(super) struct StatusArgs {
    /// The subscription's login.
    #[arg(required_unless_present = "subscription", conflicts_with = "subscription")]
    username: Option<String>,
    /// The subscription's numeric id instead of its login.
    #[arg(long)]
    subscription: Option<i64>,
    /// Why (kept in the audit log and on the subscription).
    #[arg(long)]
    reason: Option<String>,
    /// Only queue the jobs for the worker instead of delivering them now.
    #[arg(long)]
    queue_only: bool,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
pub(super) enum KindArg {
    /// MikroTik RouterOS router.
    Mikrotik,
    /// Huawei MA5600/MA5800 OLT.
    HuaweiOlt,
    /// ZTE C300/C320 OLT.
    ZteOlt,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
pub(super) enum TransportArg {
    /// RouterOS API (8728).
    Api,
    /// RouterOS API-SSL (8729), with --fingerprint.
    ApiSsl,
    /// Telnet CLI (23).
    Telnet,
    /// SSH CLI (22).
    Ssh,
}

/// A new device.
#[derive(Args, Debug)]
pub(super) struct AddArgs {
    /// Unique name, used by every other command.
    name: String,
    /// What it is.
    #[arg(long, value_enum)]
    kind: KindArg,
    /// Host name or IP address.
    #[arg(long)]
    host: String,
    /// How to reach it [default: api for MikroTik, telnet for OLTs].
    #[arg(long, value_enum)]
    transport: Option<TransportArg>,
    /// Port [default: the transport's].
    #[arg(long)]
    port: Option<i64>,
    /// API / CLI user.
    #[arg(long)]
    user: String,
    /// Environment variable holding the password (never on the command line).
    #[arg(long, default_value = "NETCTL_DEVICE_PASSWORD")]
    password_env: String,
    /// SHA-256 fingerprint of the router's API-SSL certificate.
    #[arg(long)]
    fingerprint: Option<String>,
    /// The NAS record (by name) this router answers RADIUS as.
    #[arg(long)]
    nas: Option<String>,
}

fn device_json(d: &Device) -> Value {
    json!({
        "id": d.id, "name": d.name, "kind": d.kind.as_str(), "host": d.host, "port": d.port,
        "transport": d.transport.as_str(), "tlsFingerprint": d.tls_fingerprint, "username": d.username,
        "nasId": d.nas_id, "enabled": d.is_enabled(), "createdAt": time_json(Some(d.created_at)),
    })
}

fn attempt_json(j: &DeviceJob, a: &Attempt) -> Value {
    let (result, note) = match a {
        Attempt::Done(n) => ("DONE", n),
        Attempt::Retry(e) => ("RETRY", e),
        Attempt::Fatal(e) => ("DEAD", e),
    };
    json!({"jobId": j.id, "kind": j.kind.as_str(), "deviceId": j.device_id, "nasId": j.nas_id, "result": result, "note": note})
}

impl Cmd {
    fn actor(&self) -> Actor {
        Actor::system(self.tenant_id, ACTOR)
    }

    async fn device(&self, name: &str) -> Result<Device, Failure> {
        devices::by_name(&self.ctx.db, self.tenant_id, name)
            .await?
            .ok_or_else(|| Failure::NotFound(format!("no device named {name:?} in this tenant")))
    }

    pub(super) async fn devices(&self, out: &mut impl Write) -> Outcome {
        let list = devices::list(&self.ctx.db, self.tenant_id, None, &max_page()).await?.items;
        let mut t = Table::new(&["ID", "NAME", "KIND", "ADDRESS", "TRANSPORT", "USER", "NAS", "ENABLED"]);
        for d in &list {
            t.row(vec![
                d.id.to_string(),
                d.name.clone(),
                d.kind.to_string(),
                format!("{}:{}", d.host, d.port),
                d.transport.to_string(),
                d.username.clone(),
                d.nas_id.map(|n| format!("#{n}")).unwrap_or_else(|| "-".into()),
                if d.is_enabled() { "yes" } else { "no" }.into(),
            ]);
        }
        self.emit(out, Value::Array(list.iter().map(device_json).collect()), t)
    }

    pub(super) async fn device_add(
        &self,
        a: AddArgs,
        env: &impl Fn(&str) -> Option<String>,
        out: &mut impl Write,
    ) -> Outcome {
        let password = env(&a.password_env).filter(|p| !p.is_empty()).ok_or_else(|| {
            Failure::Usage(format!("set the device password in the environment variable {}", a.password_env))
        })?;
        let nas_id = match &a.nas {
            Some(name) => {
                let all = nas::list(&self.ctx.db, self.tenant_id, &max_page()).await?.items;
                let n = all
                    .iter()
                    .find(|n| &n.name == name)
                    .ok_or_else(|| Failure::NotFound(format!("no NAS named {name:?} in this tenant")))?;
                Patch::Set(n.id)
            }
            None => Patch::Unchanged,
        };
        let patch = DevicePatch {
            name: Some(a.name),
            kind: Some(match a.kind {
                KindArg::Mikrotik => DeviceKind::Mikrotik,
                KindArg::HuaweiOlt => DeviceKind::HuaweiOlt,
                KindArg::ZteOlt => DeviceKind::ZteOlt,
            }),
            host: Some(a.host),
            port: a.port,
            transport: a.transport.map(|t| match t {
                TransportArg::Api => Transport::Api,
                TransportArg::ApiSsl => Transport::ApiSsl,
                TransportArg::Telnet => Transport::Telnet,
                TransportArg::Ssh => Transport::Ssh,
            }),
            tls_fingerprint: a.fingerprint.map_or(Patch::Unchanged, Patch::Set),
            username: Some(a.user),
            password: Some(password),
            nas_id,
            enabled: Some(true),
        };
        let d = isp_core::workflows::devices::create(&self.ctx, &self.actor(), &patch).await?;
        if self.json {
            writeln!(out, "{}", device_json(&d))?;
        } else {
            writeln!(out, "device {} added (id {})", d.name, d.id)?;
        }
        Ok(())
    }

    pub(super) async fn device_test(&self, name: &str, out: &mut impl Write) -> Outcome {
        let d = self.device(name).await?;
        let fleet = Fleet::new(&self.ctx.config.devices);
        let started = std::time::Instant::now();
        let result = fleet.test(&self.ctx, &d).await;
        let ms = started.elapsed().as_millis();
        match result {
            Ok(what) => {
                if self.json {
                    writeln!(out, "{}", json!({"device": d.name, "ok": true, "result": what, "ms": ms}))?;
                } else {
                    writeln!(out, "{}: ok in {ms} ms: {what}", d.name)?;
                }
                Ok(())
            }
            Err(DeviceError(e)) => {
                if self.json {
                    writeln!(out, "{}", json!({"device": d.name, "ok": false, "error": e, "ms": ms}))?;
                }
                Err(Failure::Runtime(e))
            }
        }
    }

    async fn subscription(&self, a: &StatusArgs) -> Result<Subscription, Failure> {
        match (a.subscription, &a.username) {
            (Some(id), _) => subscriptions::get(&self.ctx.db, self.tenant_id, id).await.map_err(|e| match e {
                CoreError::NotFound(_) => Failure::NotFound(format!("no subscription {id} in this tenant")),
                e => e.into(),
            }),
            (None, Some(u)) => subscriptions::by_username(&self.ctx.db, self.tenant_id, u)
                .await?
                .ok_or_else(|| Failure::NotFound(format!("no subscription with login {u:?} in this tenant"))),
            (None, None) => Err(Failure::Usage("name a login or --subscription ID".into())),
        }
    }

    pub(super) async fn set_status(&self, a: StatusArgs, suspend: bool, out: &mut impl Write) -> Outcome {
        let sub = self.subscription(&a).await?;
        let to = if suspend { SubscriptionStatus::Suspended } else { SubscriptionStatus::Active };
        if !suspend && sub.status != SubscriptionStatus::Suspended {
            return Err(Failure::Runtime(format!(
                "{} is {}, not SUSPENDED; nothing to resume",
                sub.username, sub.status
            )));
        }
        if sub.status == to {
            let msg = format!("{} is already {to}; nothing queued (`netctl sync` repairs devices)", sub.username);
            if self.json {
                writeln!(out, "{}", json!({"subscriptionId": sub.id, "status": to.as_str(), "jobs": []}))?;
            } else {
                writeln!(out, "{msg}")?;
            }
            return Ok(());
        }
        let before = self.ctx.now_ms();
        let reason =
            a.reason.clone().unwrap_or_else(|| format!("netctl {}", if suspend { "suspend" } else { "resume" }));
        let sub =
            isp_core::workflows::subscriptions::change_status(&self.ctx, &self.actor(), sub.id, to, Some(&reason))
                .await?;
        // The jobs this change wrote: pending ones of this tenant about this subscription.
        let ids: Vec<i64> = jobs::recent(&self.ctx.db, self.tenant_id, MAX_PAGE as i64)
            .await?
            .into_iter()
            .filter(|j| j.status == JobStatus::Pending && j.created_at >= before && names(j, &sub))
            .map(|j| j.id)
            .collect();
        let delivered = if a.queue_only {
            Vec::new()
        } else {
            Worker::new(self.ctx.clone()).deliver_now(self.tenant_id, &ids).await?
        };
        let failed = delivered.iter().filter(|(_, a)| !matches!(a, Attempt::Done(_))).count();
        if self.json {
            let v = json!({
                "subscriptionId": sub.id, "username": sub.username, "status": sub.status.as_str(),
                "queued": ids, "delivered": delivered.iter().map(|(j, a)| attempt_json(j, a)).collect::<Vec<_>>(),
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&v).expect("JSON serializes"))?;
        } else {
            writeln!(out, "{} is now {}; {} job(s) queued", sub.username, sub.status, ids.len())?;
            if !delivered.is_empty() {
                let mut t = Table::new(&["JOB", "KIND", "TARGET", "RESULT", "NOTE"]);
                for (j, att) in &delivered {
                    let v = attempt_json(j, att);
                    t.row(vec![
                        j.id.to_string(),
                        j.kind.to_string(),
                        target(j),
                        v["result"].as_str().unwrap_or("").into(),
                        v["note"].as_str().unwrap_or("").into(),
                    ]);
                }
                write!(out, "{}", t.render())?;
            }
        }
        if failed > 0 {
            return Err(Failure::Runtime(format!(
                "{failed} job(s) not delivered yet; the worker retries them (`netctl jobs`)"
            )));
        }
        Ok(())
    }

    pub(super) async fn live_sessions(
        &self,
        username: Option<String>,
        device: Option<String>,
        out: &mut impl Write,
    ) -> Outcome {
        let routers: Vec<Device> = match device {
            Some(name) => vec![self.device(&name).await?],
            None => devices::list(&self.ctx.db, self.tenant_id, Some(DeviceKind::Mikrotik), &max_page())
                .await?
                .items
                .into_iter()
                .filter(|d| d.is_enabled())
                .collect(),
        };
        let fleet = Fleet::new(&self.ctx.config.devices);
        let mut t = Table::new(&["DEVICE", "SERVICE", "USERNAME", "ADDRESS", "CALLER-ID", "UPTIME"]);
        let mut rows = Vec::new();
        let mut errors = Vec::new();
        for d in &routers {
            let r = match Fleet::router(&self.ctx, d) {
                Ok(router) => fleet
                    .routers()
                    .run(&router, |c| async move {
                        Ok((ops::ppp_active(&*c).await?, ops::hotspot_active(&*c).await.unwrap_or_default()))
                    })
                    .await
                    .map_err(|e| DeviceError::from(e).0),
                Err(e) => Err(e.0),
            };
            match r {
                Ok((ppp, hotspot)) => {
                    for s in ppp {
                        rows.push((d.name.clone(), s.service, s.name, s.address, s.caller_id, s.uptime));
                    }
                    for s in hotspot {
                        rows.push((d.name.clone(), "hotspot".into(), s.user, s.address, s.mac_address, s.uptime));
                    }
                }
                Err(e) => errors.push(format!("{}: {e}", d.name)),
            }
        }
        rows.retain(|r| username.as_deref().is_none_or(|u| r.2 == u));
        let mut json = Vec::new();
        for (dev, service, user, addr, caller, uptime) in rows {
            json.push(json!({"device": dev, "service": service, "username": user, "address": addr, "callerId": caller, "uptime": uptime}));
            t.row(vec![dev, service, user, or_dash(Some(&addr)), or_dash(Some(&caller)), uptime]);
        }
        self.emit(out, Value::Array(json), t)?;
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Failure::Runtime(format!("could not read {}", errors.join("; "))))
        }
    }

    pub(super) async fn sync(&self, dry_run: bool, device: Option<String>, out: &mut impl Write) -> Outcome {
        let only = match device {
            Some(name) => Some(self.device(&name).await?),
            None => None,
        };
        let fleet = Fleet::new(&self.ctx.config.devices);
        let report = sync::run(&self.ctx, &fleet, &self.actor(), only.as_ref(), dry_run).await?;
        if self.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&report).expect("JSON serializes"))?;
        } else {
            let mut t = Table::new(&["DEVICE", "OBJECT", "SUBSCRIPTION", "HAVE", "WANT", "RESULT"]);
            for d in &report.drifts {
                t.row(vec![
                    d.device.clone(),
                    d.object.clone(),
                    d.subscription_id.map(|s| format!("{s} {}", d.username)).unwrap_or_else(|| "-".into()),
                    d.have.clone(),
                    d.want.clone(),
                    match &d.fixed {
                        None => "not fixed (dry run)".into(),
                        Some(Ok(n)) => format!("fixed: {n}"),
                        Some(Err(e)) => format!("FAILED: {e}"),
                    },
                ]);
            }
            if !report.drifts.is_empty() {
                write!(out, "{}", t.render())?;
            }
            for (dev, e) in &report.errors {
                writeln!(out, "{dev}: could not read: {e}")?;
            }
            writeln!(
                out,
                "{} device(s), {} subscription change(s) compared, {} difference(s){}",
                report.devices,
                report.checked,
                report.drifts.len(),
                if dry_run || report.drifts.is_empty() { "" } else { ", fixed" }
            )?;
        }
        if report.failed() {
            return Err(Failure::Runtime("some devices could not be read or fixed".into()));
        }
        if dry_run && !report.drifts.is_empty() {
            return Err(Failure::Drift(format!("{} difference(s) found", report.drifts.len())));
        }
        Ok(())
    }

    pub(super) async fn exec(&self, name: &str, words: Vec<String>, out: &mut impl Write) -> Outcome {
        let d = self.device(name).await?;
        let fleet = Fleet::new(&self.ctx.config.devices);
        if d.kind.is_olt() {
            let mut s = fleet.olt_session(&self.ctx, &d).await.map_err(|e| Failure::Runtime(e.0))?;
            let r = s.exec(&words.join(" ")).await;
            s.close().await;
            let text = r.map_err(|e| Failure::Runtime(format!("{}: {}", d.name, DeviceError::from(e))))?;
            if self.json {
                writeln!(out, "{}", json!({"device": d.name, "output": text}))?;
            } else {
                writeln!(out, "{}", text.trim_end())?;
            }
            return Ok(());
        }
        let mut cmd = RosCommand::new(words[0].clone());
        for w in &words[1..] {
            cmd = match w.split_once('=') {
                // `=name=value` (attribute), `?query`, `.tag` style words pass as written.
                _ if w.starts_with('=') => {
                    let (k, v) = w[1..].split_once('=').unwrap_or((&w[1..], ""));
                    cmd.attr(k, v)
                }
                _ if w.starts_with('?') => cmd.query(&w[1..]),
                Some((k, v)) => cmd.attr(k, v),
                None => return Err(Failure::Usage(format!("{w:?}: write attributes as name=value or =name=value"))),
            };
        }
        let router = Fleet::router(&self.ctx, &d).map_err(|e| Failure::Runtime(e.0))?;
        let resp = fleet
            .routers()
            .run(&router, |c| {
                let cmd = cmd.clone();
                async move { Ok(c.run(cmd).await?) }
            })
            .await
            .map_err(|e| Failure::Runtime(format!("{}: {}", d.name, DeviceError::from(e))))?;
        if self.json {
            let v = json!({"device": d.name, "rows": resp.rows, "ret": resp.ret});
            writeln!(out, "{}", serde_json::to_string_pretty(&v).expect("JSON serializes"))?;
            return Ok(());
        }
        let keys: BTreeSet<&String> = resp.rows.iter().flat_map(|r| r.keys()).collect();
        if !keys.is_empty() {
            let keys: Vec<&String> = keys.into_iter().collect();
            let headers: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
            let mut t = Table::new(&headers);
            for r in &resp.rows {
                t.row(keys.iter().map(|k| r.get(*k).cloned().unwrap_or_default()).collect());
            }
            write!(out, "{}", t.render())?;
        }
        if let Some(ret) = &resp.ret {
            writeln!(out, "ret={ret}")?;
        }
        if resp.rows.is_empty() && resp.ret.is_none() {
            writeln!(out, "done")?;
        }
        Ok(())
    }
}

/// Whether job `j` is about subscription `s`.
fn names(j: &DeviceJob, s: &Subscription) -> bool {
    let p: Value = serde_json::from_str(&j.payload).unwrap_or(Value::Null);
    p["subscriptionId"].as_i64() == Some(s.id) || p["username"].as_str() == Some(s.username.as_str())
}

/// `device #3` or `nas #1`.
pub(super) fn target(j: &DeviceJob) -> String {
    match (j.device_id, j.nas_id) {
        (Some(d), _) => format!("device #{d}"),
        (None, Some(n)) => format!("nas #{n}"),
        _ => "-".into(),
    }
}

/// The job list row and JSON, for both kinds of payload.
pub(super) fn job_row(j: &DeviceJob) -> (Vec<String>, Value) {
    let p: Value = serde_json::from_str(&j.payload).unwrap_or(Value::Null);
    let username = p["username"].as_str().unwrap_or("").to_string();
    let row = vec![
        j.id.to_string(),
        j.kind.to_string(),
        j.status.to_string(),
        or_dash(Some(&username)),
        target(j),
        j.attempts.to_string(),
        if j.status == JobStatus::Pending { time(j.next_attempt_at) } else { "-".into() },
        or_dash(j.last_error.as_deref()),
    ];
    (row, job_json(j, &p))
}
