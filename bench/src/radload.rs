//! The RADIUS load generator: a few UDP sockets, each with its own thread, its own 256
//! Identifiers and a window of outstanding requests. Requests go out as soon as a slot frees,
//! responses are matched by Identifier and their Response Authenticator is checked, and a
//! request with no answer within the timeout is counted as lost. The threads block in
//! `recv` (no spinning), so the generator uses little CPU next to the server it measures.

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use isp_radiusd::dictionary::{acct_status_type, attr};
use isp_radiusd::{Code, Packet};
use std::collections::VecDeque;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// How long a blocked `recv` waits before the loop looks at timeouts and the clock.
const RECV_TICK: Duration = Duration::from_millis(2);
/// Identifiers per socket (RFC 2865 §3: one octet).
const IDS: usize = 256;

/// What the generator sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// PAP Access-Requests for random users `{prefix}{i}` / `pw{i}`, `i < users`.
    Auth,
    /// Accounting Start, then Interim-Updates, for `sessions` sessions round-robin.
    Acct,
}

/// One load run against one server.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Server address (auth or accounting port, after `mode`).
    pub target: SocketAddr,
    /// Shared secret.
    pub secret: Vec<u8>,
    /// Requests or sessions.
    pub mode: Mode,
    /// Login prefix of the seeded users.
    pub prefix: String,
    /// Seeded users.
    pub users: usize,
    /// Accounting sessions (spread over the sockets).
    pub sessions: usize,
    /// Makes Acct-Session-Ids unique to this run and server.
    pub tag: String,
    /// UDP sockets (one thread each).
    pub sockets: usize,
    /// Outstanding requests in total, spread over the sockets (at most 256 per socket).
    pub outstanding: usize,
    /// A request unanswered this long is lost.
    pub timeout: Duration,
    /// Unmeasured seconds first.
    pub warmup: Duration,
    /// Measured seconds.
    pub measure: Duration,
}

/// What one run measured.
pub struct LoadStats {
    /// Accepts (auth) or Accounting-Responses (acct) received in the window.
    pub ok: u64,
    /// Access-Rejects received in the window (the seeded users should never get one).
    pub rejected: u64,
    /// Requests sent in the window that never got an answer.
    pub lost: u64,
    /// Answers that failed verification, had an unexpected code or no matching request.
    pub bad: u64,
    /// Latency of the answers received in the window, µs.
    pub hist: Histogram<u64>,
    /// Length of the window.
    pub window: Duration,
}

impl LoadStats {
    fn new(window: Duration) -> Self {
        Self {
            ok: 0,
            rejected: 0,
            lost: 0,
            bad: 0,
            hist: Histogram::new_with_bounds(1, 60_000_000, 3).unwrap(),
            window,
        }
    }

    fn merge(&mut self, o: &LoadStats) {
        self.ok += o.ok;
        self.rejected += o.rejected;
        self.lost += o.lost;
        self.bad += o.bad;
        self.hist.add(&o.hist).ok();
    }

    /// Answers per second in the window (accepts or accounting responses).
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.window.as_secs_f64()
    }

    /// Latency quantile in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }
}

/// A request waiting for its answer.
struct Pending {
    sent: Instant,
    authenticator: [u8; 16],
    /// Accounting session it belongs to (returned to the queue on answer or loss).
    session: usize,
}

/// xorshift64*: enough randomness to pick users, cheap enough to never show up.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Runs the load on `spec.sockets` threads and sums their figures.
pub fn run(spec: &LoadSpec) -> Result<LoadStats> {
    let sockets = spec.sockets.max(1);
    let start = Instant::now() + Duration::from_millis(20);
    let window_start = start + spec.warmup;
    let end = window_start + spec.measure;
    let threads: Vec<_> = (0..sockets)
        .map(|t| {
            let spec = spec.clone();
            let window = (spec.outstanding / sockets + usize::from(t < spec.outstanding % sockets)).clamp(1, IDS);
            std::thread::spawn(move || worker(&spec, t, sockets, window, start, window_start, end))
        })
        .collect();
    let mut total = LoadStats::new(spec.measure);
    for t in threads {
        let s = t.join().map_err(|_| anyhow::anyhow!("a load thread panicked"))??;
        total.merge(&s);
    }
    Ok(total)
}

fn build(spec: &LoadSpec, id: u8, session: usize, seq: u64, rng: &mut Rng) -> Result<(Vec<u8>, [u8; 16])> {
    let secret = &spec.secret;
    let mut p;
    match spec.mode {
        Mode::Auth => {
            let i = (rng.next() % spec.users as u64) as usize;
            p = Packet::new_request(Code::AccessRequest, id);
            p.add_str(attr::USER_NAME, &format!("{}{i}", spec.prefix));
            p.add_user_password(format!("pw{i}").as_bytes(), secret)?;
            p.add_ipv4(attr::NAS_IP_ADDRESS, Ipv4Addr::LOCALHOST);
            p.add_u32(attr::NAS_PORT, i as u32);
            p.add_u32(attr::SERVICE_TYPE, 2); // Framed-User
            p.add_u32(attr::FRAMED_PROTOCOL, 1); // PPP
        }
        Mode::Acct => {
            let user = session % spec.users;
            p = Packet::new_request(Code::AccountingRequest, id);
            let status = if seq == 0 { acct_status_type::START } else { acct_status_type::INTERIM_UPDATE };
            p.add_u32(attr::ACCT_STATUS_TYPE, status);
            p.add_str(attr::USER_NAME, &format!("{}{user}", spec.prefix));
            p.add_str(attr::ACCT_SESSION_ID, &format!("{}-{session:08x}", spec.tag));
            p.add_ipv4(attr::NAS_IP_ADDRESS, Ipv4Addr::LOCALHOST);
            p.add_u32(attr::NAS_PORT, session as u32);
            p.add_ipv4(attr::FRAMED_IP_ADDRESS, Ipv4Addr::from(0x6440_0000u32 + session as u32));
            p.add_u32(attr::ACCT_SESSION_TIME, (seq * 60) as u32);
            p.add_u32(attr::ACCT_INPUT_OCTETS, (seq * 1_000_000) as u32);
            p.add_u32(attr::ACCT_OUTPUT_OCTETS, (seq * 5_000_000) as u32);
            p.add_u32(attr::ACCT_DELAY_TIME, 0);
        }
    }
    let bytes = p.encode_request(secret)?;
    Ok((bytes, p.authenticator))
}

#[allow(clippy::too_many_arguments)]
fn worker(
    spec: &LoadSpec,
    t: usize,
    sockets: usize,
    window: usize,
    start: Instant,
    window_start: Instant,
    end: Instant,
) -> Result<LoadStats> {
    let sock = UdpSocket::bind("127.0.0.1:0").context("binding a load socket")?;
    sock.connect(spec.target)?;
    sock.set_read_timeout(Some(RECV_TICK))?;
    let mut stats = LoadStats::new(spec.measure);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((t as u64 + 1) << 32) ^ u64::from(std::process::id()));
    let mut slots: Vec<Option<Pending>> = (0..IDS).map(|_| None).collect();
    // Oldest-freed first, so an Identifier is reused as late as possible.
    let mut free: VecDeque<u8> = (0..=255u8).collect();
    // This thread's sessions (t, t + sockets, ...) and how many requests each has had.
    let mut sessions: VecDeque<usize> = (t..spec.sessions.max(sockets)).step_by(sockets).collect();
    let mut seqs = vec![0u64; spec.sessions.max(sockets) / sockets + 1];
    let mut inflight = 0usize;
    let mut buf = [0u8; 4096];
    let mut last_sweep = Instant::now();
    std::thread::sleep(start.saturating_duration_since(Instant::now()));
    loop {
        let now = Instant::now();
        let sending = now < end;
        if !sending && inflight == 0 {
            break;
        }
        while sending && inflight < window {
            let Some(id) = free.pop_front() else { break };
            let session = match spec.mode {
                Mode::Acct => match sessions.pop_front() {
                    Some(s) => s,
                    None => {
                        free.push_front(id);
                        break;
                    }
                },
                Mode::Auth => 0,
            };
            let (bytes, authenticator) = build(spec, id, session, seqs[session / sockets], &mut rng)?;
            let sent = Instant::now();
            match sock.send(&bytes) {
                Ok(_) => {}
                // A full socket buffer or a refused port (no server yet): the request is lost.
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::ConnectionRefused) => {}
                Err(e) => return Err(e).context("sending a request"),
            }
            slots[id as usize] = Some(Pending { sent, authenticator, session });
            inflight += 1;
        }
        match sock.recv(&mut buf) {
            Ok(n) => {
                let at = Instant::now();
                let Ok(reply) = Packet::decode(&buf[..n]) else {
                    stats.bad += 1;
                    continue;
                };
                let Some(p) = slots[reply.identifier as usize].take() else {
                    stats.bad += 1;
                    continue;
                };
                let verified = match spec.mode {
                    Mode::Auth => reply.verify_response(&p.authenticator, &spec.secret).is_ok(),
                    Mode::Acct => reply.verify_accounting_response(&p.authenticator, &spec.secret).is_ok(),
                };
                if !verified {
                    // A late answer to an earlier request with this Identifier: keep waiting.
                    slots[reply.identifier as usize] = Some(p);
                    stats.bad += 1;
                    continue;
                }
                inflight -= 1;
                free.push_back(reply.identifier);
                if spec.mode == Mode::Acct {
                    seqs[p.session / sockets] += 1;
                    sessions.push_back(p.session);
                }
                if p.sent >= window_start && at < end {
                    match reply.code {
                        Code::AccessAccept | Code::AccountingResponse => {
                            stats.ok += 1;
                            stats.hist.saturating_record((at - p.sent).as_micros().max(1) as u64);
                        }
                        Code::AccessReject => stats.rejected += 1,
                        _ => stats.bad += 1,
                    }
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => std::thread::sleep(RECV_TICK),
            Err(e) => return Err(e).context("receiving a response"),
        }
        let now = Instant::now();
        if now - last_sweep >= Duration::from_millis(10) {
            last_sweep = now;
            for (id, slot) in slots.iter_mut().enumerate() {
                if slot.as_ref().is_some_and(|p| now - p.sent >= spec.timeout) {
                    let p = slot.take().expect("checked above");
                    inflight -= 1;
                    free.push_back(id as u8);
                    if spec.mode == Mode::Acct {
                        // Resent as the next update of the same session.
                        sessions.push_back(p.session);
                    }
                    if p.sent >= window_start && p.sent < end {
                        stats.lost += 1;
                    }
                }
            }
        }
    }
    Ok(stats)
}

/// Sends Access-Requests for `{prefix}0` until one is answered (any code) or `within` passes.
pub fn wait_answering(target: SocketAddr, secret: &[u8], prefix: &str, within: Duration) -> Result<bool> {
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    sock.connect(target)?;
    sock.set_read_timeout(Some(Duration::from_millis(200)))?;
    let deadline = Instant::now() + within;
    let mut id = 0u8;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        id = id.wrapping_add(1);
        let mut p = Packet::new_request(Code::AccessRequest, id);
        p.add_str(attr::USER_NAME, &format!("{prefix}0"));
        p.add_user_password(b"pw0", secret)?;
        p.add_ipv4(attr::NAS_IP_ADDRESS, Ipv4Addr::LOCALHOST);
        let bytes = p.encode_request(secret)?;
        let _ = sock.send(&bytes);
        match sock.recv(&mut buf) {
            Ok(n) => {
                if let Ok(r) = Packet::decode(&buf[..n]) {
                    if r.identifier == id && r.verify_response(&p.authenticator, secret).is_ok() {
                        return Ok(r.code == Code::AccessAccept);
                    }
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    Ok(false)
}

/// What a burst measured: requests sent at once from one socket, and when their answers came.
#[derive(Debug, Clone)]
pub struct Burst {
    /// Requests sent.
    pub sent: usize,
    /// Milliseconds after the first send at which each answer arrived, in arrival order.
    pub answers_ms: Vec<f64>,
    /// Milliseconds the sends took.
    pub send_ms: f64,
}

impl Burst {
    /// Answers that arrived within `ms` of the first send.
    pub fn within(&self, ms: f64) -> usize {
        self.answers_ms.iter().filter(|&&t| t <= ms).count()
    }

    /// When the last answer arrived (ms), if every request was answered.
    pub fn all_ms(&self) -> Option<f64> {
        (self.answers_ms.len() >= self.sent).then(|| self.answers_ms.last().copied().unwrap_or(0.0))
    }
}

/// A NAS after a reboot: `n` Accounting-Starts (sessions `0..n` of `spec`'s users, tagged
/// `{tag}-burst`) sent from one socket as fast as it can, Identifiers wrapping around; answers
/// are collected until all came or `spec.timeout` passed without one. No retransmissions, so
/// anything dropped on the way stays unanswered.
pub fn burst(spec: &LoadSpec, n: usize) -> Result<Burst> {
    let spec = LoadSpec { mode: Mode::Acct, tag: format!("{}-burst", spec.tag), ..spec.clone() };
    let mut rng = Rng(0x5EED_0000_0000_0001);
    let packets = (0..n)
        .map(|i| build(&spec, (i % IDS) as u8, i, 0, &mut rng).map(|(bytes, _)| bytes))
        .collect::<Result<Vec<_>>>()?;
    let sock = UdpSocket::bind("127.0.0.1:0").context("binding the burst socket")?;
    sock.connect(spec.target)?;
    // Answers come back in group-commit batches of hundreds: a NAS-sized receive buffer, so
    // that what is measured is the server, not this socket's buffer (capped by rmem_max).
    socket2::SockRef::from(&sock).set_recv_buffer_size(8 << 20)?;
    let reader = sock.try_clone()?;
    reader.set_read_timeout(Some(spec.timeout))?;
    let start = Instant::now();
    let answers = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut at = Vec::with_capacity(n);
        while at.len() < n {
            match reader.recv(&mut buf) {
                Ok(len) if Packet::decode(&buf[..len]).is_ok_and(|p| p.code == Code::AccountingResponse) => {
                    at.push(start.elapsed().as_secs_f64() * 1000.0);
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        at
    });
    for p in &packets {
        sock.send(p)?;
    }
    let send_ms = start.elapsed().as_secs_f64() * 1000.0;
    let answers_ms = answers.join().map_err(|_| anyhow::anyhow!("the burst reader panicked"))?;
    Ok(Burst { sent: n, answers_ms, send_ms })
}
