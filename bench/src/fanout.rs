//! Notification fan-out for `isp-bench billing --notify`: an SMTP sink (the tests' aiosmtpd
//! peer, `tests/interop/notify/peers.py smtp`) behind the tenant's EMAIL channel, so that the
//! billing run queues one invoice email per invoice in its own transactions; then the outbox is
//! drained by several delivery workers against the sink, and the rate printed.

use anyhow::{bail, Context, Result};
use isp_core::auth::Actor;
use isp_core::delivery::{Outcome, Worker};
use isp_core::store::notifications::{Channel, Provider, SmtpSecurity};
use isp_core::workflows::notifications::{self as wf, ChannelInput};
use isp_core::Ctx;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const PEERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/interop/notify/peers.py");

/// The running sink; killed when dropped.
pub struct Sink {
    _child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

/// Starts the SMTP sink (python3 with aiosmtpd: `pip install aiosmtpd`). Its output (one JSON
/// line per message) is discarded: only the server's acceptance is measured.
pub async fn start_sink() -> Result<Sink> {
    let mut child = Command::new("python3")
        .arg(PEERS)
        .arg("smtp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting python3 tests/interop/notify/peers.py smtp (needs aiosmtpd)")?;
    let mut lines = BufReader::new(child.stdout.take().context("sink stdout")?).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .context("the SMTP sink did not start in 20 s")??
        .context("the SMTP sink exited (is aiosmtpd installed?)")?;
    let port = serde_json::from_str::<serde_json::Value>(&first)?["port"].as_u64().context("sink port")? as u16;
    // Keep reading so that the sink never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Sink { _child: child, port })
}

/// Points the tenant's EMAIL channel at the sink.
pub async fn configure(ctx: &Ctx, actor: &Actor, port: u16) -> Result<()> {
    wf::set_channel(
        ctx,
        actor,
        &ChannelInput {
            channel: Channel::Email,
            enabled: true,
            provider: Provider::Smtp,
            host: Some("127.0.0.1".into()),
            port: Some(i64::from(port)),
            security: Some(SmtpSecurity::None),
            // The sink asks for a login, as real relays do (any user and password pass).
            username: Some("isp".into()),
            secret: Some("smtp-password".into()),
            sender: Some("billing@bench.example".into()),
            sender_name: Some("Bench ISP".into()),
            reply_to: None,
            url: None,
            body_template: None,
            content_type: None,
            quiet_start: None,
            quiet_end: None,
        },
    )
    .await
    .context("configuring the EMAIL channel")?;
    Ok(())
}

/// What draining the outbox did.
pub struct Drained {
    /// Messages the sink accepted.
    pub sent: usize,
    /// Messages that failed or were skipped.
    pub other: usize,
    /// Wall time.
    pub wall: Duration,
}

/// Drains every due message with `workers` concurrent delivery workers (each claims its own
/// batches under a lease, as separate `isp worker` processes would).
pub async fn drain(ctx: &Ctx, workers: usize) -> Result<Drained> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..workers.max(1) {
        // No PDF renderer in this crate: invoice emails go without the attached PDF.
        let w = Worker::new(ctx.clone(), None);
        tasks.push(tokio::spawn(async move { w.drain().await }));
    }
    let (mut sent, mut other) = (0, 0);
    for t in tasks {
        for (_, o) in t.await?.context("delivery round")? {
            match o {
                Outcome::Sent(_) => sent += 1,
                Outcome::Failed(e) | Outcome::Dead(e) if sent + other < 3 => bail!("delivery failed: {e}"),
                _ => other += 1,
            }
        }
    }
    Ok(Drained { sent, other, wall: started.elapsed() })
}
