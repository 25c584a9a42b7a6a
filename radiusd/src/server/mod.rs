//! The RADIUS server: UDP authentication and accounting listeners over the shared database.
//!
//! [`run`] serves both sockets until `shutdown` resolves. Each datagram is decoded, mapped
//! to its NAS by source address (unknown sources are dropped and counted), checked against
//! the duplicate cache, authenticated with the NAS secret, and answered with a signed reply
//! that always carries a Message-Authenticator (RFC 3579 §3.2, BlastRADIUS) and the
//! request's Proxy-State (RFC 2865 §5.33).

pub mod accounting;
pub mod authorize;
pub mod dedup;
pub mod log_writer;
pub mod nas_cache;
pub mod profile_cache;

use crate::{Code, Packet};
use accounting::AcctWriter;
use dedup::{DuplicateCache, RequestKey, Seen};
use isp_core::store::radius_sessions;
use isp_core::Ctx;
use log_writer::AuthLogSender;
use nas_cache::{NasCache, NasEntry};
use profile_cache::ProfileCache;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Most requests processed at once per listener; further datagrams wait in the receive queue.
const MAX_IN_FLIGHT: usize = 4096;
/// Datagrams read from a listener's socket but not yet being processed. A burst beyond this
/// many (far beyond what a NAS sends: a MikroTik after a reboot sends one Accounting-Start per
/// session at once) is shed: dropped and counted as `isp_radius_dropped_total{reason="overload"}`,
/// and the NAS retransmits them.
pub const RECV_QUEUE: usize = 65_536;
/// Socket receive buffer asked for; the kernel caps it at `net.core.rmem_max`.
const RECV_BUFFER: usize = 8 << 20;

/// Which listener a packet arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// Authentication (1812).
    Auth,
    /// Accounting (1813).
    Acct,
}

impl Port {
    fn label(self) -> &'static str {
        match self {
            Port::Auth => "auth",
            Port::Acct => "acct",
        }
    }
}

/// State shared by both listeners.
pub struct Server {
    ctx: Ctx,
    nas: NasCache,
    dedup: DuplicateCache,
    log: AuthLogSender,
    profiles: Arc<ProfileCache>,
    acct: AcctWriter,
}

impl Server {
    fn drop_packet(&self, port: Port, reason: &str) {
        self.ctx.metrics.inc("isp_radius_dropped_total", &format!("port=\"{}\",reason=\"{reason}\"", port.label()));
    }

    /// Handles one datagram; returns the reply to send, if any.
    pub async fn handle(&self, port: Port, from: SocketAddr, datagram: &[u8]) -> Option<Vec<u8>> {
        let req = match Packet::decode(datagram) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(%from, error = %e, "dropping malformed datagram");
                self.drop_packet(port, "malformed");
                return None;
            }
        };
        let allowed = match port {
            Port::Auth => matches!(req.code, Code::AccessRequest | Code::StatusServer),
            Port::Acct => matches!(req.code, Code::AccountingRequest | Code::StatusServer),
        };
        if !allowed {
            self.drop_packet(port, "unexpected_code");
            return None;
        }
        let nas = match self.nas.lookup(&self.ctx, from.ip()).await {
            Ok(Some(n)) => n,
            Ok(None) => {
                tracing::debug!(%from, "dropping a packet from an unknown NAS");
                self.drop_packet(port, "unknown_nas");
                return None;
            }
            Err(e) => {
                tracing::error!(%from, error = %e, "NAS lookup failed");
                self.drop_packet(port, "internal");
                return None;
            }
        };
        let key = RequestKey {
            source: from,
            code: req.code.as_u8(),
            identifier: req.identifier,
            authenticator: req.authenticator,
        };
        match self.dedup.check(key, Instant::now()) {
            Seen::New => {}
            Seen::InFlight => {
                self.drop_packet(port, "duplicate_in_flight");
                return None;
            }
            Seen::Replied(bytes) => {
                self.ctx.metrics.inc("isp_radius_duplicates_total", &format!("port=\"{}\"", port.label()));
                return Some(bytes);
            }
        }
        let reply = self.process(port, &nas, &req).await;
        match &reply {
            Some(bytes) => self.dedup.finish(&key, bytes.clone()),
            None => self.dedup.forget(&key),
        }
        reply
    }

    async fn process(&self, port: Port, nas: &NasEntry, req: &Packet) -> Option<Vec<u8>> {
        if let Err(e) = req.verify_request(&nas.secret) {
            tracing::warn!(nas = %nas.nas.name, code = %req.code, error = %e, "dropping an unauthenticated request");
            self.drop_packet(port, "bad_authenticator");
            return None;
        }
        let mut reply = match req.code {
            // RFC 5997 §3: answer Status-Server with Access-Accept / Accounting-Response.
            Code::StatusServer => {
                Packet::response_to(req, if port == Port::Auth { Code::AccessAccept } else { Code::AccountingResponse })
            }
            Code::AccessRequest => {
                if nas.nas.requires_message_authenticator() && !req.has_message_authenticator() {
                    tracing::warn!(nas = %nas.nas.name, "dropping an Access-Request without Message-Authenticator");
                    self.drop_packet(port, "missing_message_authenticator");
                    return None;
                }
                let interim = self.ctx.config.radius.acct_interim_interval_secs;
                match authorize::decide(&self.ctx, &self.profiles, nas, req, interim).await {
                    Ok(d) => {
                        let result = d.log.result;
                        // The auth log has every decision; this line is for debugging only.
                        tracing::debug!(nas = %nas.nas.name, user = %d.log.username, method = d.log.method, result, reason = %d.log.reason, "access request");
                        let label = if result == "ACCEPT" { "result=\"ACCEPT\"" } else { "result=\"REJECT\"" };
                        self.ctx.metrics.inc("isp_radius_access_total", label);
                        self.log.send(&self.ctx, d.log);
                        d.reply
                    }
                    Err(e) => {
                        tracing::error!(nas = %nas.nas.name, error = %e, "cannot decide an Access-Request");
                        self.drop_packet(port, "internal");
                        return None;
                    }
                }
            }
            Code::AccountingRequest => match accounting::record(&self.acct, nas, req).await {
                Ok(r) => {
                    self.ctx.metrics.inc("isp_radius_accounting_total", "");
                    tracing::debug!(nas = %nas.nas.name, ?r, "accounting recorded");
                    Packet::response_to(req, Code::AccountingResponse)
                }
                Err(isp_core::CoreError::Validation { field, message }) => {
                    tracing::warn!(nas = %nas.nas.name, %field, %message, "dropping an Accounting-Request");
                    self.drop_packet(port, "bad_accounting");
                    return None;
                }
                Err(e) => {
                    // No answer: the NAS retransmits and nothing was half-recorded.
                    tracing::error!(nas = %nas.nas.name, error = %e, "cannot record accounting");
                    self.drop_packet(port, "internal");
                    return None;
                }
            },
            _ => return None,
        };
        // Every response carries a Message-Authenticator (BlastRADIUS mitigation).
        reply.add_message_authenticator();
        let encoded = if req.code == Code::AccountingRequest {
            reply.encode_accounting_response(&req.authenticator, &nas.secret)
        } else {
            reply.encode_response(&req.authenticator, &nas.secret)
        };
        match encoded {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a reply");
                self.drop_packet(port, "internal");
                None
            }
        }
    }
}

/// A datagram and its source.
type Datagram = (Vec<u8>, SocketAddr);

/// Reads `socket` on a thread of its own into a queue of [`RECV_QUEUE`] datagrams, until `stop`.
///
/// The reader must never wait for the handlers: a burst of Accounting-Starts whose handlers
/// wait for the accounting writer's commit keeps the runtime's worker threads busy, and a
/// reader among them was not scheduled often enough to keep the socket buffer from filling,
/// so the kernel dropped most of the burst (256 of 1,000 answered within 5 s). On its own
/// thread (with its own single-threaded runtime) it only moves datagrams into memory.
fn spawn_reader(
    server: Arc<Server>,
    socket: std::net::UdpSocket,
    port: Port,
    stop: CancellationToken,
) -> std::io::Result<(tokio::sync::mpsc::Receiver<Datagram>, std::thread::JoinHandle<()>)> {
    let sock = socket2::SockRef::from(&socket);
    if let Err(e) = sock.set_recv_buffer_size(RECV_BUFFER) {
        tracing::warn!(error = %e, "cannot enlarge the RADIUS socket receive buffer");
    }
    if let Ok(size) = sock.recv_buffer_size() {
        tracing::info!(listener = port.label(), bytes = size, "RADIUS socket receive buffer");
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Datagram>(RECV_QUEUE);
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    let thread = std::thread::Builder::new().name(format!("radius-{}-recv", port.label())).spawn(move || {
        rt.block_on(async move {
            let socket = match UdpSocket::from_std(socket) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the RADIUS socket");
                    return;
                }
            };
            let mut buf = vec![0u8; 4096 + 1];
            loop {
                let (n, from) = tokio::select! {
                    _ = stop.cancelled() => break,
                    r = socket.recv_from(&mut buf) => match r {
                        Ok(x) => x,
                        Err(e) => {
                            // ICMP errors from earlier sends surface here on some systems; keep serving.
                            tracing::debug!(error = %e, "recv_from failed");
                            continue;
                        }
                    },
                };
                match tx.try_send((buf[..n].to_vec(), from)) {
                    Ok(()) => {}
                    Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => server.drop_packet(port, "overload"),
                    Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => break,
                }
            }
        })
    })?;
    Ok((rx, thread))
}

/// Serves one listener: its reader thread ([`spawn_reader`]) fills the queue, handlers (at
/// most [`MAX_IN_FLIGHT`] at once) answer through `socket`.
async fn serve_socket(server: Arc<Server>, socket: UdpSocket, port: Port, stop: CancellationToken) {
    let started = (|| -> std::io::Result<_> {
        let write = socket.into_std()?;
        let (queue, reader) = spawn_reader(server.clone(), write.try_clone()?, port, stop.clone())?;
        Ok((queue, reader, Arc::new(UdpSocket::from_std(write)?)))
    })();
    let (mut queue, reader, socket) = match started {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(listener = port.label(), error = %e, "cannot start the RADIUS listener");
            return;
        }
    };
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    loop {
        let (datagram, from) = tokio::select! {
            _ = stop.cancelled() => break,
            d = queue.recv() => match d {
                Some(d) => d,
                None => break,
            },
        };
        let Ok(permit) = permits.clone().acquire_owned().await else { break };
        let (server, socket) = (server.clone(), socket.clone());
        tokio::spawn(async move {
            if let Some(reply) = server.handle(port, from, &datagram).await {
                if let Err(e) = socket.send_to(&reply, from).await {
                    tracing::debug!(%from, error = %e, "send_to failed");
                }
            }
            drop(permit);
        });
    }
    queue.close();
    let _ = tokio::task::spawn_blocking(move || reader.join()).await;
}

async fn sweep_stale(ctx: Ctx, profiles: Arc<ProfileCache>, stop: CancellationToken) {
    let cfg = &ctx.config.radius;
    let every = Duration::from_secs(cfg.stale_check_secs.max(1));
    let max_age_ms = i64::from(cfg.acct_interim_interval_secs) * i64::from(cfg.stale_after_intervals) * 1000;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
        match radius_sessions::close_stale(&ctx.db, ctx.now_ms() - max_age_ms).await {
            Ok(0) => {}
            Ok(n) => {
                profiles.clear();
                tracing::info!(closed = n, "closed stale RADIUS sessions");
            }
            Err(e) => tracing::error!(error = %e, "stale-session sweep failed"),
        }
    }
}

/// Fills the profile cache at start, then keeps the entries in use fresh in bulk so that
/// requests rarely read a profile themselves.
async fn maintain_profiles(ctx: Ctx, profiles: Arc<ProfileCache>, ttl: Duration, stop: CancellationToken) {
    let started = Instant::now();
    tokio::select! {
        _ = stop.cancelled() => return,
        r = profiles.warm(&ctx) => match r {
            Ok(n) => tracing::info!(profiles = n, ms = started.elapsed().as_millis() as u64, "profile cache warmed"),
            Err(e) => tracing::warn!(error = %e, "cannot warm the profile cache"),
        },
    }
    // Entries are refreshed past 3/4 of the TTL, so a check every 1/8 catches them in time.
    let every = (ttl / 8).max(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
        if let Err(e) = profiles.refresh(&ctx).await {
            tracing::warn!(error = %e, "cannot refresh cached profiles");
        }
    }
}

fn describe(ctx: &Ctx) {
    let m = &ctx.metrics;
    m.describe(
        "isp_radius_dropped_total",
        "RADIUS datagrams dropped, by listener and reason (overload: the receive queue was full).",
    );
    m.describe("isp_radius_duplicates_total", "Retransmitted RADIUS requests answered from the duplicate cache.");
    m.describe("isp_radius_access_total", "Access-Requests decided, by result.");
    m.describe("isp_radius_accounting_total", "Accounting-Requests recorded.");
    m.describe("isp_radius_auth_log_dropped_total", "Auth log entries dropped because the writer fell behind.");
}

/// Serves RADIUS authentication on `auth` and accounting on `acct` until `shutdown`
/// resolves; then stops reading, lets requests in flight finish and flushes the auth log.
pub async fn run(auth: UdpSocket, acct: UdpSocket, ctx: Ctx, shutdown: impl Future<Output = ()>) {
    describe(&ctx);
    let cfg = ctx.config.radius.clone();
    let (log, writer) = log_writer::spawn(ctx.clone());
    let ttl = Duration::from_secs(cfg.nas_cache_ttl_secs);
    let profiles = Arc::new(ProfileCache::new(&ctx, ttl));
    let (acct_tx, acct_writer) = AcctWriter::spawn(ctx.clone(), profiles.clone());
    let server = Arc::new(Server {
        ctx: ctx.clone(),
        nas: NasCache::new(ttl),
        dedup: DuplicateCache::new(cfg.duplicate_cache_size, Duration::from_secs(cfg.duplicate_ttl_secs)),
        log,
        profiles: profiles.clone(),
        acct: acct_tx,
    });
    let stop = CancellationToken::new();
    let tasks = [
        tokio::spawn(serve_socket(server.clone(), auth, Port::Auth, stop.clone())),
        tokio::spawn(serve_socket(server.clone(), acct, Port::Acct, stop.clone())),
        tokio::spawn(sweep_stale(ctx.clone(), profiles.clone(), stop.clone())),
        tokio::spawn(maintain_profiles(ctx.clone(), profiles, ttl, stop.clone())),
    ];
    shutdown.await;
    stop.cancel();
    for t in tasks {
        let _ = t.await;
    }
    // Handlers still running hold clones of the server (and with it the log sender).
    for _ in 0..100 {
        if Arc::strong_count(&server) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(server);
    let _ = tokio::time::timeout(Duration::from_secs(5), acct_writer).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
}

/// Binds the configured listeners and serves them until `shutdown` resolves.
pub async fn bind_and_run(ctx: Ctx, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
    let (a, b) = (ctx.config.radius.auth_listen, ctx.config.radius.acct_listen);
    let auth = UdpSocket::bind(a).await?;
    let acct = UdpSocket::bind(b).await?;
    tracing::info!(auth = %auth.local_addr()?, acct = %acct.local_addr()?, "RADIUS listening");
    run(auth, acct, ctx, shutdown).await;
    Ok(())
}
