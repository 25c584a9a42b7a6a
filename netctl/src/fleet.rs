//! The tenant's routers and OLTs as the worker and `netctl` reach them: one RouterOS API
//! connection pool for every MikroTik, a CLI session per OLT conversation, and the one
//! operation suspensions need — make a device match a subscription's status
//! ([`Fleet::converge`]).
//!
//! Every change is idempotent and verified by reading the device back (see
//! [`crate::routeros::ops`] and [`crate::olt`]), so a job delivered twice, late or out of
//! order leaves the device as the database says.

use crate::olt::{self, OltConfig, OltSession, OltTransport, OltVendor};
use crate::routeros::client::{ErrorKind, RouterApi};
use crate::routeros::ops::{self, Change, OpError};
use crate::routeros::pool::{self, PoolConfig, RouterPool};
use crate::routeros::tls::Fingerprint;
use isp_core::config::DevicesConfig;
use isp_core::store::devices::{Device, DeviceKind, Transport};
use isp_core::store::jobs::{DeviceJobPayload, DeviceOp};
use isp_core::Ctx;
use std::time::Duration;

/// What a delivery did on the device, for the job log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converged {
    /// Whether anything was changed (`false`: the device already matched).
    pub changed: bool,
    /// Human-readable account, e.g. `PPP secret ana disabled, 1 session removed`.
    pub note: String,
}

/// Why a device could not be brought in line; always worth another attempt later (the
/// worker dead-letters after its last attempt), with a message that says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeviceError(pub String);

impl From<OpError> for DeviceError {
    fn from(e: OpError) -> Self {
        let hint = match e.kind() {
            ErrorKind::Credentials => " (check the device's API user, password and certificate fingerprint)",
            ErrorKind::Unreachable => " (device unreachable; will retry)",
            _ => "",
        };
        DeviceError(format!("{e}{hint}"))
    }
}

impl From<olt::OltError> for DeviceError {
    fn from(e: olt::OltError) -> Self {
        let hint = match &e {
            olt::OltError::Auth { .. } => " (check the OLT's CLI user and password)",
            e if e.retryable() => " (will retry)",
            _ => "",
        };
        DeviceError(format!("{e}{hint}"))
    }
}

/// Connections to the tenant's devices.
pub struct Fleet {
    routers: RouterPool,
    timeout: Duration,
}

impl Fleet {
    /// A fleet with the configured timeouts and per-device connection limit.
    pub fn new(cfg: &DevicesConfig) -> Self {
        let timeout = Duration::from_millis(cfg.timeout_ms);
        let routers = RouterPool::new(PoolConfig {
            max_per_device: cfg.max_per_device,
            connect_timeout: timeout,
            command_timeout: timeout,
            idle_timeout: Duration::from_secs(cfg.idle_secs),
            acquire_timeout: timeout * 3,
        });
        Self { routers, timeout }
    }

    /// The RouterOS API pool (for `netctl exec` and live sessions).
    pub fn routers(&self) -> &RouterPool {
        &self.routers
    }

    /// How to reach MikroTik `d`.
    pub fn router(ctx: &Ctx, d: &Device) -> Result<pool::Device, DeviceError> {
        if d.kind != DeviceKind::Mikrotik {
            return Err(DeviceError(format!("{} is a {}, not a MikroTik router", d.name, d.kind)));
        }
        let password = d.password(&ctx.secrets).map_err(|e| DeviceError(format!("{}: credentials: {e}", d.name)))?;
        let port = u16::try_from(d.port).map_err(|_| DeviceError(format!("{}: bad port {}", d.name, d.port)))?;
        match d.transport {
            Transport::ApiSsl => {
                let Some(fp) = d.tls_fingerprint.as_deref() else {
                    return Err(DeviceError(format!(
                        "{}: API-SSL needs the router certificate's SHA-256 fingerprint (RouterOS certificates are \
                         self-signed, so it is pinned)",
                        d.name
                    )));
                };
                let pin: Fingerprint = fp.parse().map_err(|e| DeviceError(format!("{}: {e}", d.name)))?;
                Ok(pool::Device::tls(d.host.clone(), port, pin, d.username.clone(), password))
            }
            _ => Ok(pool::Device::plain(d.host.clone(), port, d.username.clone(), password)),
        }
    }

    /// How to reach OLT `d`: over TELNET or SSH; for SSH the device's fingerprint (the `tls_fingerprint`
    /// column) pins the host key, and without one the key is accepted and logged.
    pub fn olt(&self, ctx: &Ctx, d: &Device) -> Result<OltConfig, DeviceError> {
        let vendor = match d.kind {
            DeviceKind::HuaweiOlt => OltVendor::Huawei,
            DeviceKind::ZteOlt => OltVendor::Zte,
            DeviceKind::Mikrotik => return Err(DeviceError(format!("{} is a MikroTik router, not an OLT", d.name))),
        };
        let transport = match d.transport {
            Transport::Telnet => OltTransport::Telnet,
            Transport::Ssh => OltTransport::Ssh,
            other => return Err(DeviceError(format!("{}: OLTs are reached over TELNET or SSH, not {other}", d.name))),
        };
        let password = d.password(&ctx.secrets).map_err(|e| DeviceError(format!("{}: credentials: {e}", d.name)))?;
        let port = u16::try_from(d.port).map_err(|_| DeviceError(format!("{}: bad port {}", d.name, d.port)))?;
        Ok(OltConfig {
            vendor,
            host: d.host.clone(),
            port,
            transport,
            // For SSH devices the fingerprint column pins the host key.
            host_key_fingerprint: if transport == OltTransport::Ssh { d.tls_fingerprint.clone() } else { None },
            username: d.username.clone(),
            password,
            timeout: self.timeout,
        })
    }

    /// Opens a CLI session to OLT `d`.
    pub async fn olt_session(&self, ctx: &Ctx, d: &Device) -> Result<OltSession, DeviceError> {
        let cfg = self.olt(ctx, d)?;
        OltSession::connect(&cfg).await.map_err(|e| DeviceError(format!("{}: {}", d.name, DeviceError::from(e))))
    }

    /// Makes device `d` match a subscription that is `blocked` (or not) for the change
    /// `p` describes. OLT changes open their own session; see [`Fleet::converge_onu`] to
    /// reuse one.
    pub async fn converge(
        &self,
        ctx: &Ctx,
        d: &Device,
        p: &DeviceJobPayload,
        blocked: bool,
    ) -> Result<Converged, DeviceError> {
        if p.op == DeviceOp::Onu {
            let mut s = self.olt_session(ctx, d).await?;
            let r = converge_onu(&mut s, p, blocked).await;
            s.close().await;
            return r.map_err(|e| DeviceError(format!("{}: {e}", d.name)));
        }
        let router = Self::router(ctx, d)?;
        let result = self
            .routers
            .run(&router, |conn| {
                let p = p.clone();
                async move { converge_router(&*conn, &p, blocked).await }
            })
            .await;
        result.map_err(|e| DeviceError(format!("{}: {}", d.name, DeviceError::from(e))))
    }

    /// Logs in to `d` and reads who it is: RouterOS identity and version, or the OLT's
    /// version banner. The check behind `netctl devices test`.
    pub async fn test(&self, ctx: &Ctx, d: &Device) -> Result<String, DeviceError> {
        if d.kind.is_olt() {
            let mut s = self.olt_session(ctx, d).await?;
            let cmd = match s.vendor() {
                OltVendor::Huawei => "display version",
                OltVendor::Zte => "show version",
            };
            let out = s.exec(cmd).await.map_err(|e| DeviceError(format!("{}: {}", d.name, DeviceError::from(e))));
            s.close().await;
            let out = out?;
            let first = out.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").to_string();
            return Ok(format!("logged in; {first}"));
        }
        let router = Self::router(ctx, d)?;
        let (identity, version) = self
            .routers
            .run(&router, |conn| async move {
                let id = conn.run(crate::routeros::sentence::Command::new("/system/identity/print")).await?;
                let res = conn.run(crate::routeros::sentence::Command::new("/system/resource/print")).await?;
                let get = |r: &crate::routeros::client::Response, k: &str| {
                    r.rows.first().and_then(|row| row.get(k)).cloned().unwrap_or_default()
                };
                Ok::<_, OpError>((get(&id, "name"), get(&res, "version")))
            })
            .await
            .map_err(|e| DeviceError(format!("{}: {}", d.name, DeviceError::from(e))))?;
        Ok(format!("logged in; identity {identity:?}, RouterOS {version}"))
    }
}

/// The ONU change `p` on an open OLT session.
pub async fn converge_onu(s: &mut OltSession, p: &DeviceJobPayload, blocked: bool) -> Result<Converged, DeviceError> {
    let Some(serial) = p.onu_serial.as_deref() else {
        return Err(DeviceError("the job names no ONU serial".into()));
    };
    let change = s.set_onu_active(serial, p.olt_port.as_deref(), !blocked).await?;
    let state = if blocked { "deactivated" } else { "activated" };
    Ok(match change {
        olt::Change::Applied => Converged { changed: true, note: format!("ONU {serial} {state}") },
        olt::Change::AlreadyInState => Converged { changed: false, note: format!("ONU {serial} already {state}") },
    })
}

/// The RouterOS change `p` on one API connection.
async fn converge_router(api: &impl RouterApi, p: &DeviceJobPayload, blocked: bool) -> Result<Converged, OpError> {
    let done = |change: Change, what: String| Converged {
        changed: change == Change::Applied,
        note: if change == Change::Applied { what } else { format!("{what} already") },
    };
    match p.op {
        DeviceOp::AddressList => {
            let (Some(list), Some(address)) = (p.list.as_deref(), p.address.as_deref()) else {
                return Err(OpError::BadReply("the job names no address list or address".into()));
            };
            let c = ops::address_list_set(api, list, address, &p.comment, blocked).await?;
            let what = if blocked { format!("{address} on list {list}") } else { format!("{address} off list {list}") };
            Ok(done(c, what))
        }
        DeviceOp::PppSecret | DeviceOp::HotspotUser => {
            let ppp = p.op == DeviceOp::PppSecret;
            let what = if ppp { "PPP secret" } else { "hotspot user" };
            let set = if ppp {
                ops::ppp_secret_set_disabled(api, &p.username, blocked).await
            } else {
                ops::hotspot_user_set_disabled(api, &p.username, blocked).await
            };
            let change = match set {
                Ok(c) => c,
                // With no router named on the subscription the change goes to every router;
                // one that does not keep this login has nothing to block or unblock.
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    return Ok(Converged {
                        changed: false,
                        note: format!("no {what} {:?} on this router: nothing to do", p.username),
                    })
                }
                Err(e) => return Err(e),
            };
            let state = if blocked { "disabled" } else { "enabled" };
            let mut out = done(change, format!("{what} {} {state}", p.username));
            if blocked {
                let removed = if ppp {
                    ops::ppp_active_remove(api, &p.username).await?
                } else {
                    ops::hotspot_active_remove(api, &p.username).await?
                };
                if removed > 0 {
                    out.changed = true;
                    out.note.push_str(&format!(", {removed} active session(s) removed"));
                }
            }
            Ok(out)
        }
        DeviceOp::Onu => Err(OpError::BadReply("an ONU change is for an OLT, not a router".into())),
    }
}
