//! What the network must do when a subscription's status changes: the one place that turns
//! a suspension or a resumption into device jobs, asked by every status change (staff,
//! `netctl`, dunning, the reactivation a payment triggers) inside the transaction that changes
//! the status; the use case writes them with its other effects (`crate::effects`), so the
//! change and its jobs commit together.
//!
//! Strategy per access type (the tenant's [`RouterSuspension`] decides the PPPoE / hotspot
//! rows; "the routers" are the subscription's own MikroTik if it names an enabled one, else
//! every enabled MikroTik of the tenant):
//!
//! | access type | ADDRESS_LIST | LOCAL_SECRETS | RADIUS_ONLY |
//! |---|---|---|---|
//! | STATIC_IP | address list on the routers | address list on the routers | address list on the routers |
//! | PPPOE | address list if it has a static IPv4 | PPP secret on the routers | - |
//! | HOTSPOT | address list if it has a static IPv4 | hotspot user on the routers | - |
//! | GPON | ONU on its OLT | ONU on its OLT | ONU on its OLT |
//!
//! On top of that, a suspension sends a RADIUS Disconnect for every open session (the next
//! login is rejected or lands in the walled garden), and a resumption does so only when the
//! tenant uses the walled garden (to end the walled-garden session).

use crate::db::Tx;
use crate::error::CoreResult;
use crate::store::devices::{self, Device, DeviceKind};
use crate::store::jobs::{self, DeviceJobPayload, DeviceOp, JobKind, NewJob, RadiusJobPayload};
use crate::store::radius_sessions;
use crate::store::subscriptions::{AccessType, Subscription};
use crate::store::tenants::{RouterSuspension, SuspendedAccess, TenantSettings};

/// One device change a status change calls for (before it becomes a job row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceChange {
    /// Target device.
    pub device_id: i64,
    /// What to change there.
    pub payload: DeviceJobPayload,
}

/// The jobs that suspend (`suspend`) or resume subscription `sub`, read inside `tx`: RADIUS
/// Disconnects for its open sessions and device jobs per the strategy table above.
pub async fn for_status(
    tx: &mut Tx,
    tenant_id: i64,
    settings: &TenantSettings,
    sub: &Subscription,
    suspend: bool,
    reason: &str,
) -> CoreResult<Vec<NewJob>> {
    let mut out = Vec::new();
    if suspend || settings.suspended_access == SuspendedAccess::WalledGarden {
        out.extend(disconnect_sessions(tx, tenant_id, sub.id, reason).await?);
    }
    let kind = if suspend { JobKind::DeviceSuspend } else { JobKind::DeviceResume };
    for change in device_changes(tx, tenant_id, settings, sub, reason).await? {
        out.push(NewJob::device(change.device_id, kind, &change.payload));
    }
    Ok(out)
}

/// RADIUS Disconnect jobs for the open sessions of subscription `sub`.
async fn disconnect_sessions(tx: &mut Tx, tenant_id: i64, sub: i64, reason: &str) -> CoreResult<Vec<NewJob>> {
    let sessions = radius_sessions::open_of_subscription(&mut *tx, tenant_id, sub).await?;
    Ok(sessions
        .into_iter()
        .map(|radius_sessions::OpenSession { nas_id: nas, acct_session_id, username, framed_ip }| {
            let payload =
                RadiusJobPayload { acct_session_id, username, framed_ip, rate_limit: None, reason: reason.into() };
            NewJob::radius(nas, JobKind::RadiusDisconnect, &payload)
        })
        .collect())
}

/// The device changes that block or unblock `sub` (the same for both directions: the
/// worker converges each to the subscription's status at delivery).
pub async fn device_changes(
    tx: &mut Tx,
    tenant_id: i64,
    settings: &TenantSettings,
    sub: &Subscription,
    reason: &str,
) -> CoreResult<Vec<DeviceChange>> {
    let op = match (sub.access_type, settings.router_suspension) {
        (AccessType::Gpon, _) => Some(DeviceOp::Onu),
        (AccessType::StaticIp, _) => Some(DeviceOp::AddressList),
        (AccessType::Pppoe | AccessType::Hotspot, RouterSuspension::AddressList) => {
            sub.static_ipv4.is_some().then_some(DeviceOp::AddressList)
        }
        (AccessType::Pppoe, RouterSuspension::LocalSecrets) => Some(DeviceOp::PppSecret),
        (AccessType::Hotspot, RouterSuspension::LocalSecrets) => Some(DeviceOp::HotspotUser),
        (AccessType::Pppoe | AccessType::Hotspot, RouterSuspension::RadiusOnly) => None,
    };
    let Some(op) = op else { return Ok(Vec::new()) };
    let mut payload = DeviceJobPayload {
        subscription_id: sub.id,
        username: sub.username.clone(),
        op,
        address: None,
        list: None,
        onu_serial: None,
        olt_port: None,
        comment: jobs::device_comment(sub.id, &sub.username),
        reason: reason.to_string(),
    };
    let targets = match op {
        DeviceOp::Onu => {
            let olt = match sub.device_id {
                Some(id) => devices::find_in(tx, tenant_id, id).await?,
                None => None,
            };
            match olt.filter(|d| d.kind.is_olt() && d.is_enabled()) {
                Some(olt) if sub.onu_serial.is_some() && sub.olt_port.is_some() => {
                    payload.onu_serial = sub.onu_serial.clone();
                    payload.olt_port = sub.olt_port.clone();
                    vec![olt]
                }
                _ => {
                    tracing::warn!(
                        tenant_id,
                        subscription_id = sub.id,
                        "GPON subscription has no enabled OLT with an ONU serial and port: nothing to push"
                    );
                    Vec::new()
                }
            }
        }
        DeviceOp::AddressList => {
            let Some(ip) = sub.static_ipv4.clone() else { return Ok(Vec::new()) };
            payload.address = Some(ip);
            payload.list = Some(settings.walled_garden_address_list.clone());
            routers(tx, tenant_id, sub).await?
        }
        DeviceOp::PppSecret | DeviceOp::HotspotUser => routers(tx, tenant_id, sub).await?,
    };
    Ok(targets.into_iter().map(|d| DeviceChange { device_id: d.id, payload: payload.clone() }).collect())
}

/// The subscription's own MikroTik if it names an enabled one, else every enabled MikroTik.
async fn routers(tx: &mut Tx, tenant_id: i64, sub: &Subscription) -> CoreResult<Vec<Device>> {
    if let Some(id) = sub.device_id {
        if let Some(d) = devices::find_in(tx, tenant_id, id).await? {
            if d.kind == DeviceKind::Mikrotik && d.is_enabled() {
                return Ok(vec![d]);
            }
        }
    }
    devices::enabled_in(tx, tenant_id, DeviceKind::Mikrotik).await
}
