//! Accounting-Request handling (RFC 2866): Start, Interim-Update, Stop, Accounting-On/Off.
//!
//! Requests are handed to one writer task that records whatever has queued up in one
//! transaction (group commit, [`accounting::account_many`]) and answers each request
//! only after that commit (RFC 2866 §4.1: no response unless the record was successfully
//! stored). The queue is bounded: when the database falls behind, handlers wait, the
//! listener stops reading and datagrams wait in the socket buffer; nothing is dropped here.

use super::authorize::class_subscription;
use super::nas_cache::NasEntry;
use super::profile_cache::ProfileCache;
use crate::dictionary::{acct_status_type, attr};
use crate::Packet;
use isp_core::store::radius_sessions;
use isp_core::workflows::accounting::{self, AcctItem, AcctOutcome, AcctRecord, AcctStatus};
use isp_core::{CoreError, CoreResult, Ctx};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Requests waiting for the writer before handlers wait too.
pub const QUEUE: usize = 8192;
/// Most requests in one transaction.
pub const MAX_BATCH: usize = 512;

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

/// One unit of work for the writer.
enum Op {
    Session(AcctItem),
    /// Accounting-On/Off of NAS `.1` in tenant `.0`.
    CloseNas(i64, i64),
}

type Reply = oneshot::Sender<CoreResult<Recorded>>;

/// The handle request handlers submit accounting to; cheap to clone.
#[derive(Clone)]
pub struct AcctWriter(mpsc::Sender<(Op, Reply)>);

impl AcctWriter {
    /// Starts the writer; it ends after every handle is dropped and the queue is drained.
    /// After each commit it evicts the subscriptions it touched from `profiles`.
    pub fn spawn(ctx: Ctx, profiles: Arc<ProfileCache>) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (Self(tx), tokio::spawn(write_loop(ctx, profiles, rx)))
    }

    async fn submit(&self, op: Op) -> CoreResult<Recorded> {
        let (tx, rx) = oneshot::channel();
        self.0.send((op, tx)).await.map_err(|_| CoreError::internal("the accounting writer has stopped"))?;
        rx.await.map_err(|_| CoreError::internal("the accounting writer dropped a request"))?
    }
}

async fn write_loop(ctx: Ctx, profiles: Arc<ProfileCache>, mut rx: mpsc::Receiver<(Op, Reply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut items = Vec::with_capacity(MAX_BATCH);
    let mut replies = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        for (op, reply) in batch.drain(..) {
            match op {
                Op::Session(item) => {
                    items.push(item);
                    replies.push(reply);
                }
                // Arrival order is kept: sessions queued before it are recorded first.
                Op::CloseNas(tenant_id, nas_id) => {
                    flush(&ctx, &profiles, &mut items, &mut replies).await;
                    let r = radius_sessions::close_nas_sessions(&ctx.db, tenant_id, nas_id, ctx.now_ms()).await;
                    profiles.clear();
                    let _ = reply.send(r.map(Recorded::NasRestart));
                }
            }
        }
        flush(&ctx, &profiles, &mut items, &mut replies).await;
    }
}

async fn flush(ctx: &Ctx, profiles: &ProfileCache, items: &mut Vec<AcctItem>, replies: &mut Vec<Reply>) {
    if items.is_empty() {
        return;
    }
    let results = accounting::account_many(ctx, items).await;
    profiles.evict_subscriptions(results.iter().filter_map(|r| r.as_ref().ok()?.subscription_id));
    for (r, reply) in results.into_iter().zip(replies.drain(..)) {
        let _ = reply.send(r.map(|o: AcctOutcome| Recorded::Session { jobs: o.jobs }));
    }
    items.clear();
}

fn counter(p: &Packet, octets: u8, gigawords: u8) -> i64 {
    p.attr_u64(octets, gigawords).map_or(0, |v| v.min(i64::MAX as u64) as i64)
}

/// Records one authenticated Accounting-Request from `nas` through `writer`; returns after
/// the record is committed.
pub async fn record(writer: &AcctWriter, nas: &NasEntry, req: &Packet) -> CoreResult<Recorded> {
    let tenant_id = nas.nas.tenant_id;
    let status =
        req.attr_u32(attr::ACCT_STATUS_TYPE).ok_or_else(|| CoreError::validation("Acct-Status-Type", "missing"))?;
    let status = match status {
        acct_status_type::START => AcctStatus::Start,
        acct_status_type::INTERIM_UPDATE => AcctStatus::Interim,
        acct_status_type::STOP => AcctStatus::Stop,
        acct_status_type::ACCOUNTING_ON | acct_status_type::ACCOUNTING_OFF => {
            let r = writer.submit(Op::CloseNas(tenant_id, nas.nas.id)).await?;
            tracing::info!(nas = %nas.nas.name, ?r, "Accounting-On/Off: closed the NAS's open sessions");
            return Ok(r);
        }
        _ => return Ok(Recorded::Ignored),
    };
    let acct_session_id = req
        .attr_str(attr::ACCT_SESSION_ID)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| CoreError::validation("Acct-Session-Id", "missing"))?;
    let record = AcctRecord {
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
    writer.submit(Op::Session(AcctItem { tenant_id, nas_id: nas.nas.id, record })).await
}
