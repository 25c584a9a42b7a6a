//! Accounting-Request handling (RFC 2866): Start, Interim-Update, Stop, Accounting-On/Off.
//! The caller answers only after this returns Ok, i.e. after the record is committed
//! (RFC 2866 §4.1: no response unless the record was successfully stored).

use super::authorize::class_subscription;
use super::nas_cache::NasEntry;
use crate::dictionary::{acct_status_type, attr};
use crate::Packet;
use isp_core::store::radius_sessions::{self, AcctRecord, AcctStatus};
use isp_core::{CoreError, CoreResult, Ctx};

/// What an Accounting-Request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// A session was started, updated or stopped; `jobs` device jobs were enqueued.
    Session {
        /// Quota jobs enqueued.
        jobs: usize,
    },
    /// Accounting-On/Off closed this many sessions of the NAS.
    NasRestart(u64),
    /// A status type we acknowledge without recording.
    Ignored,
}

fn counter(p: &Packet, octets: u8, gigawords: u8) -> i64 {
    p.attr_u64(octets, gigawords).map_or(0, |v| v.min(i64::MAX as u64) as i64)
}

/// Records one authenticated Accounting-Request from `nas`.
pub async fn record(ctx: &Ctx, nas: &NasEntry, req: &Packet) -> CoreResult<Recorded> {
    let tenant_id = nas.nas.tenant_id;
    let status =
        req.attr_u32(attr::ACCT_STATUS_TYPE).ok_or_else(|| CoreError::validation("Acct-Status-Type", "missing"))?;
    let status = match status {
        acct_status_type::START => AcctStatus::Start,
        acct_status_type::INTERIM_UPDATE => AcctStatus::Interim,
        acct_status_type::STOP => AcctStatus::Stop,
        acct_status_type::ACCOUNTING_ON | acct_status_type::ACCOUNTING_OFF => {
            let n = radius_sessions::close_nas_sessions(&ctx.db, tenant_id, nas.nas.id, ctx.now_ms()).await?;
            tracing::info!(nas = %nas.nas.name, closed = n, "Accounting-On/Off: closed the NAS's open sessions");
            return Ok(Recorded::NasRestart(n));
        }
        _ => return Ok(Recorded::Ignored),
    };
    let acct_session_id = req
        .attr_str(attr::ACCT_SESSION_ID)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| CoreError::validation("Acct-Session-Id", "missing"))?;
    let r = AcctRecord {
        status,
        acct_session_id: acct_session_id.to_string(),
        username: req.attr_str(attr::USER_NAME).unwrap_or("").to_string(),
        class_subscription_id: req.attrs(attr::CLASS).find_map(class_subscription),
        framed_ip: req.attr_ipv4(attr::FRAMED_IP_ADDRESS).map(|ip| ip.to_string()),
        calling_station_id: req.attr_str(attr::CALLING_STATION_ID).map(str::to_string),
        nas_port_id: req.attr_str(attr::NAS_PORT_ID).map(str::to_string),
        input_octets: counter(req, attr::ACCT_INPUT_OCTETS, attr::ACCT_INPUT_GIGAWORDS),
        output_octets: counter(req, attr::ACCT_OUTPUT_OCTETS, attr::ACCT_OUTPUT_GIGAWORDS),
        session_time: req.attr_u32(attr::ACCT_SESSION_TIME).map_or(0, i64::from),
        terminate_cause: req.attr_u32(attr::ACCT_TERMINATE_CAUSE).map(|c| {
            crate::dictionary::value_name(attr::ACCT_TERMINATE_CAUSE, c).map_or_else(|| c.to_string(), str::to_string)
        }),
    };
    let out = radius_sessions::account(ctx, tenant_id, nas.nas.id, &r).await?;
    Ok(Recorded::Session { jobs: out.jobs })
}
