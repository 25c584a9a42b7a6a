//! `netctl sync`: compares what the database says should be blocked with what every device
//! actually has, lists the differences, and (unless it is a dry run) fixes them.
//!
//! The wanted state comes from the same planning the suspension jobs use
//! ([`isp_core::netjobs::device_changes`]): an ACTIVE subscription is unblocked, a SUSPENDED
//! or CANCELLED one blocked, a PENDING one left alone. On routers the address-list entries
//! this system owns (comment `isp sub:<id> ...`) that no subscription wants any more are
//! removed; entries, secrets and users without that comment are never touched unless a
//! subscription names them.

use crate::fleet::{Converged, DeviceError, Fleet};
use crate::olt::{normalize_serial, OnuInfo};
use crate::routeros::ops::{self, AddressListEntry, HotspotUser, PppSecret};
use isp_core::auth::Actor;
use isp_core::netjobs::{self, DeviceChange};
use isp_core::store::audit;
use isp_core::store::devices::{self, Device};
use isp_core::store::jobs::{DeviceJobPayload, DeviceOp};
use isp_core::store::page::{PageArgs, MAX_PAGE};
use isp_core::store::subscriptions::{self, SubscriptionStatus};
use isp_core::store::tenants::{self, TenantSettings};
use isp_core::{CoreResult, Ctx};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Prefix of the comments that mark what this system owns on a router.
const OWNED: &str = "isp sub:";

/// One thing a device has differently from what the database wants.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    /// Device name.
    pub device: String,
    /// Subscription concerned (`None` for an owned address-list entry nobody wants).
    pub subscription_id: Option<i64>,
    /// Its login.
    pub username: String,
    /// What on the device, e.g. `address-list suspended 10.0.0.7`, `PPP secret ana`.
    pub object: String,
    /// What the device has.
    pub have: String,
    /// What the database wants.
    pub want: String,
    /// What fixing it did (`None` on a dry run).
    pub fixed: Option<Result<String, String>>,
    #[serde(skip)]
    fix: Fix,
}

#[derive(Debug, Clone)]
enum Fix {
    Converge { device_id: i64, payload: Box<DeviceJobPayload>, blocked: bool },
    RemoveEntry { device_id: i64, list: String, address: String },
}

/// What a sync found and did.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Devices compared.
    pub devices: usize,
    /// Subscription/device pairs compared.
    pub checked: usize,
    /// The differences (fixed or not).
    pub drifts: Vec<Drift>,
    /// Devices that could not be read (name, error).
    pub errors: Vec<(String, String)>,
}

impl Report {
    /// Whether a fix failed or a device could not be read.
    pub fn failed(&self) -> bool {
        !self.errors.is_empty() || self.drifts.iter().any(|d| matches!(d.fixed, Some(Err(_))))
    }
}

/// Compares the enabled devices of `tenant_id` (or only `only`) with the database; fixes the
/// differences unless `dry_run`. A fixing run is audited as `device.sync`.
pub async fn run(ctx: &Ctx, fleet: &Fleet, actor: &Actor, only: Option<&Device>, dry_run: bool) -> CoreResult<Report> {
    let tenant_id = actor.tenant_id;
    let devs: Vec<Device> = match only {
        Some(d) => vec![d.clone()],
        None => {
            let args = PageArgs { first: Some(MAX_PAGE), ..Default::default() };
            devices::list(&ctx.db, tenant_id, None, &args).await?.items.into_iter().filter(|d| d.is_enabled()).collect()
        }
    };
    let settings = tenants::get(&ctx.db, tenant_id).await?.settings();
    let wanted = wanted(ctx, tenant_id, &settings).await?;
    let mut report = Report { devices: devs.len(), ..Default::default() };
    for d in &devs {
        let changes: Vec<&(DeviceChange, bool)> = wanted.iter().filter(|(c, _)| c.device_id == d.id).collect();
        report.checked += changes.len();
        let found = if d.kind.is_olt() {
            olt_drift(ctx, fleet, d, &changes).await
        } else {
            router_drift(ctx, d, fleet, &settings.walled_garden_address_list, &changes).await
        };
        match found {
            Ok(mut drifts) => report.drifts.append(&mut drifts),
            Err(e) => report.errors.push((d.name.clone(), e.0)),
        }
    }
    if dry_run || report.drifts.is_empty() {
        return Ok(report);
    }
    let by_id: HashMap<i64, &Device> = devs.iter().map(|d| (d.id, d)).collect();
    for drift in &mut report.drifts {
        let r = match &drift.fix {
            Fix::Converge { device_id, payload, blocked } => {
                fleet.converge(ctx, by_id[device_id], payload, *blocked).await.map(|c: Converged| c.note)
            }
            Fix::RemoveEntry { device_id, list, address } => match Fleet::router(ctx, by_id[device_id]) {
                Ok(router) => fleet
                    .routers()
                    .run(&router, |c| {
                        let (list, address) = (list.clone(), address.clone());
                        async move { ops::address_list_set(&*c, &list, &address, "", false).await }
                    })
                    .await
                    .map(|_| format!("{address} removed from {list}"))
                    .map_err(DeviceError::from),
                Err(e) => Err(e),
            },
        };
        drift.fixed = Some(r.map_err(|e| e.0));
    }
    let fixed = report.drifts.iter().filter(|d| matches!(d.fixed, Some(Ok(_)))).count();
    let mut tx = ctx.db.begin().await?;
    let details = serde_json::json!({
        "devices": devs.iter().map(|d| d.name.clone()).collect::<Vec<_>>(),
        "drifts": report.drifts.len(),
        "fixed": fixed,
        "objects": report.drifts.iter().map(|d| format!("{}: {}", d.device, d.object)).collect::<Vec<_>>(),
    });
    audit::record(&mut tx, actor, "device.sync", "Device", only.map(|d| d.id), details, ctx.now_ms()).await?;
    tx.commit().await?;
    Ok(report)
}

/// Every device change the database wants, with whether the subscription is blocked.
async fn wanted(ctx: &Ctx, tenant_id: i64, settings: &TenantSettings) -> CoreResult<Vec<(DeviceChange, bool)>> {
    use SubscriptionStatus::{Active, Cancelled, Suspended};
    let subs = subscriptions::with_status(&ctx.db, tenant_id, &[Active, Suspended, Cancelled]).await?;
    let mut out = Vec::new();
    // Read-only: the transaction only gives the planner its handle, and is rolled back.
    let mut tx = ctx.db.begin().await?;
    for s in &subs {
        let blocked = s.status != Active;
        for c in netjobs::device_changes(&mut tx, tenant_id, settings, s, "netctl sync").await? {
            out.push((c, blocked));
        }
    }
    drop(tx);
    Ok(out)
}

fn state(blocked: bool, on: &str, off: &str) -> String {
    if blocked { on } else { off }.to_string()
}

fn converge(d: &Device, c: &DeviceChange, blocked: bool, object: String, have: String, want: String) -> Drift {
    Drift {
        device: d.name.clone(),
        subscription_id: Some(c.payload.subscription_id),
        username: c.payload.username.clone(),
        object,
        have,
        want,
        fixed: None,
        fix: Fix::Converge { device_id: d.id, payload: Box::new(c.payload.clone()), blocked },
    }
}

async fn router_drift(
    ctx: &Ctx,
    d: &Device,
    fleet: &Fleet,
    list: &str,
    changes: &[&(DeviceChange, bool)],
) -> Result<Vec<Drift>, DeviceError> {
    let list = list.to_string();
    let needs = |op: DeviceOp| changes.iter().any(|(c, _)| c.payload.op == op);
    let (want_ppp, want_hotspot) = (needs(DeviceOp::PppSecret), needs(DeviceOp::HotspotUser));
    let router = Fleet::router(ctx, d)?;
    let (entries, secrets, users) = fleet
        .routers()
        .run(&router, |c| {
            let list = list.clone();
            async move {
                let entries: Vec<AddressListEntry> = ops::address_list_entries(&*c, &list).await?;
                let secrets: Vec<PppSecret> = if want_ppp { ops::ppp_secrets(&*c).await? } else { Vec::new() };
                let users: Vec<HotspotUser> = if want_hotspot { ops::hotspot_users(&*c).await? } else { Vec::new() };
                Ok((entries, secrets, users))
            }
        })
        .await
        .map_err(|e| DeviceError(format!("{}: {}", d.name, DeviceError::from(e))))?;
    let listed: HashSet<&str> = entries.iter().filter(|e| !e.disabled).map(|e| e.address.as_str()).collect();
    let secrets: HashMap<&str, bool> = secrets.iter().map(|s| (s.name.as_str(), s.disabled)).collect();
    let users: HashMap<&str, bool> = users.iter().map(|u| (u.name.as_str(), u.disabled)).collect();
    let mut drifts = Vec::new();
    let mut keep: HashSet<String> = HashSet::new();
    for (c, blocked) in changes {
        let p = &c.payload;
        let blocked = *blocked;
        match p.op {
            DeviceOp::AddressList => {
                let (Some(l), Some(addr)) = (p.list.as_deref(), p.address.as_deref()) else { continue };
                let addr = addr.strip_suffix("/32").unwrap_or(addr);
                if l != list {
                    continue;
                }
                if blocked {
                    keep.insert(addr.to_string());
                }
                let have = listed.contains(addr);
                if have != blocked {
                    drifts.push(converge(
                        d,
                        c,
                        blocked,
                        format!("address-list {l} {addr}"),
                        state(have, "listed", "not listed"),
                        state(blocked, "listed", "not listed"),
                    ));
                }
            }
            DeviceOp::PppSecret | DeviceOp::HotspotUser => {
                let ppp = p.op == DeviceOp::PppSecret;
                let map = if ppp { &secrets } else { &users };
                // Not kept on this router: nothing to block here.
                let Some(&disabled) = map.get(p.username.as_str()) else { continue };
                if disabled != blocked {
                    let what = if ppp { "PPP secret" } else { "hotspot user" };
                    drifts.push(converge(
                        d,
                        c,
                        blocked,
                        format!("{what} {}", p.username),
                        state(disabled, "disabled", "enabled"),
                        state(blocked, "disabled", "enabled"),
                    ));
                }
            }
            DeviceOp::Onu => {}
        }
    }
    // Owned entries nobody wants: a subscription that was resumed while the router was
    // being changed by hand, moved to another address, or deleted.
    let mut stale: BTreeMap<String, &AddressListEntry> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.comment.starts_with(OWNED) && !keep.contains(&e.address)) {
        stale.entry(e.address.clone()).or_insert(e);
    }
    for (addr, e) in stale {
        if changes.iter().any(|(c, blocked)| !blocked && c.payload.address.as_deref() == Some(addr.as_str())) {
            continue; // already reported above as "listed, want not listed"
        }
        drifts.push(Drift {
            device: d.name.clone(),
            subscription_id: e.comment.strip_prefix(OWNED).and_then(|r| r.split_whitespace().next()?.parse().ok()),
            username: e.comment.split_whitespace().nth(2).unwrap_or("").to_string(),
            object: format!("address-list {list} {addr}"),
            have: "listed".into(),
            want: "not listed (no subscription wants it)".into(),
            fixed: None,
            fix: Fix::RemoveEntry { device_id: d.id, list: list.clone(), address: addr },
        });
    }
    Ok(drifts)
}

async fn olt_drift(
    ctx: &Ctx,
    fleet: &Fleet,
    d: &Device,
    changes: &[&(DeviceChange, bool)],
) -> Result<Vec<Drift>, DeviceError> {
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    let mut s = fleet.olt_session(ctx, d).await?;
    let onus = s.list_onus().await;
    s.close().await;
    let onus: HashMap<String, OnuInfo> = onus
        .map_err(|e| DeviceError(format!("{}: {}", d.name, DeviceError::from(e))))?
        .into_iter()
        .map(|o| (o.serial.clone(), o))
        .collect();
    let mut drifts = Vec::new();
    for (c, blocked) in changes {
        let Some(serial) = c.payload.onu_serial.as_deref() else { continue };
        let key = normalize_serial(serial).unwrap_or_else(|_| serial.to_string());
        let object = format!("ONU {key}");
        match onus.get(&key) {
            None => drifts.push(converge(
                d,
                c,
                *blocked,
                object,
                "missing on the OLT".into(),
                state(*blocked, "deactivated", "active"),
            )),
            Some(o) if o.active == *blocked => drifts.push(converge(
                d,
                c,
                *blocked,
                object,
                state(!o.active, "deactivated", "active"),
                state(*blocked, "deactivated", "active"),
            )),
            Some(_) => {}
        }
    }
    Ok(drifts)
}
