//! The notification delivery worker: claims due messages from the outbox
//! (`store::notifications`), decides whether each goes out now (the customer's opt-out and
//! channels, the tenant's channel, quiet hours), renders it with the variables of the moment,
//! and hands it to the channel's provider: email over SMTP ([`smtp`]), SMS and WhatsApp over
//! HTTP ([`http`]). The outcome is SENT (with the provider's id), a retry with exponential
//! backoff, or a dead letter after the last attempt.
//!
//! Idempotency: a message is claimed with a lease before it is sent, and marked SENT only by
//! the worker that holds the claim, so two workers never send one message and a SENT message
//! is never claimed again (a resend is a new message). The idempotency key goes to the
//! provider with every attempt (as the email's Message-ID, as the `Idempotency-Key` /
//! `I-Twilio-Idempotency-Token` header), so a provider that accepted an attempt whose answer
//! was lost recognises the retry.
//!
//! It wakes at once when this process commits a message (`ctx.notify_wakeup`) and polls
//! otherwise, so messages of other processes, or left behind by a crash, go out too.

pub mod http;
pub mod smtp;

use crate::clock::from_ms;
use crate::error::{CoreError, CoreResult};
use crate::store::notifications::{self as store, secret_context, Channel, ChannelRow, Notification, NotifyEvent};
use crate::store::{customers, tenants};
use crate::workflows::notifications as wf;
use crate::Ctx;
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Timelike, Utc};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Messages claimed per round.
const BATCH: i64 = 32;
/// The longest wait between two attempts.
const MAX_BACKOFF_MS: i64 = 3_600_000;

/// A boxed future, for the object-safe traits below.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A file sent with an email.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// File name.
    pub filename: String,
    /// MIME type.
    pub content_type: String,
    /// Content.
    pub data: Vec<u8>,
}

/// Makes the files messages carry: the invoice PDF (typeset in the API crate, when it is
/// built with PDFs).
pub trait Attachments: Send + Sync {
    /// The PDF of invoice `invoice_id` of `tenant_id`.
    fn invoice_pdf<'a>(
        &'a self,
        ctx: &'a Ctx,
        tenant_id: i64,
        invoice_id: i64,
    ) -> BoxFut<'a, Result<Attachment, String>>;
}

/// A message ready for its provider.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Channel.
    pub channel: Channel,
    /// Email address or phone number.
    pub to: String,
    /// Subject (EMAIL).
    pub subject: Option<String>,
    /// Body text.
    pub body: String,
    /// The message's idempotency key.
    pub key: String,
    /// Files (EMAIL).
    pub attachments: Vec<Attachment>,
}

/// A channel's settings with its secret decrypted, for one delivery.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    /// The stored settings.
    pub row: ChannelRow,
    /// The password / token.
    pub secret: Option<String>,
}

/// Why a provider did not take a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Worth trying again (connection refused, timeout, 5xx, 4xx temporary SMTP reply).
    Retry(String),
    /// Will never work as configured (rejected recipient, 4xx from the API, bad settings).
    Fatal(String),
}

/// Hands messages to providers. [`NetTransport`] is the real one.
pub trait Transport: Send + Sync {
    /// Sends `m` through the channel `c`; the provider's id of the accepted message.
    fn send<'a>(&'a self, c: &'a ChannelConfig, m: &'a Outgoing) -> BoxFut<'a, Result<String, SendError>>;
}

/// SMTP with lettre, HTTP providers with reqwest.
pub struct NetTransport {
    http: reqwest::Client,
    timeout: std::time::Duration,
}

impl NetTransport {
    /// A transport that gives each delivery `timeout_ms`.
    pub fn new(timeout_ms: u64) -> Self {
        let timeout = std::time::Duration::from_millis(timeout_ms);
        let http = reqwest::Client::builder().timeout(timeout).build().unwrap_or_default();
        Self { http, timeout }
    }
}

impl Transport for NetTransport {
    fn send<'a>(&'a self, c: &'a ChannelConfig, m: &'a Outgoing) -> BoxFut<'a, Result<String, SendError>> {
        Box::pin(async move {
            match c.row.provider {
                store::Provider::Smtp => smtp::send(c, m, self.timeout).await,
                store::Provider::HttpTemplate => http::send_templated(&self.http, c, m).await,
                store::Provider::Twilio => http::send_twilio(&self.http, c, m).await,
            }
        })
    }
}

/// What one claimed message came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted by the provider (its id).
    Sent(String),
    /// Not sent on purpose (why).
    Skipped(String),
    /// Waiting for the end of quiet hours (Unix ms).
    Deferred(i64),
    /// Failed; retried later.
    Failed(String),
    /// Failed for good.
    Dead(String),
}

/// Delivers notifications.
pub struct Worker {
    ctx: Ctx,
    transport: Arc<dyn Transport>,
    attachments: Option<Arc<dyn Attachments>>,
    tenant: Option<i64>,
}

impl Worker {
    /// A worker with the real transports; `attachments` makes invoice PDFs (None: links only).
    pub fn new(ctx: Ctx, attachments: Option<Arc<dyn Attachments>>) -> Self {
        let transport = Arc::new(NetTransport::new(ctx.config.notify.timeout_ms));
        Self { ctx, transport, attachments, tenant: None }
    }

    /// The same worker with another transport (a test double).
    pub fn with_transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = transport;
        self
    }

    /// Delivers only the messages of `tenant_id` (tests sharing a database use it).
    pub fn only_tenant(mut self, tenant_id: i64) -> Self {
        self.tenant = Some(tenant_id);
        self
    }

    fn lease_ms(&self) -> i64 {
        self.ctx.config.notify.timeout_ms as i64 * 2 + 10_000
    }

    /// One round: claims the due messages and delivers them; returns each one's outcome.
    pub async fn run_once(&self) -> CoreResult<Vec<(i64, Outcome)>> {
        let now = self.ctx.now_ms();
        let claimed = store::claim_due(&self.ctx.db, self.tenant, now, self.lease_ms(), BATCH).await?;
        let mut out = Vec::with_capacity(claimed.len());
        for n in claimed {
            let o = self.deliver(&n).await?;
            out.push((n.id, o));
        }
        Ok(out)
    }

    /// Runs rounds until nothing is due; every outcome.
    pub async fn drain(&self) -> CoreResult<Vec<(i64, Outcome)>> {
        let mut all = Vec::new();
        loop {
            let round = self.run_once().await?;
            if round.is_empty() {
                return Ok(all);
            }
            all.extend(round);
        }
    }

    /// Delivers until `shutdown` resolves.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let poll = std::time::Duration::from_millis(self.ctx.config.notify.poll_ms.max(10));
        loop {
            match self.run_once().await {
                Ok(done) if done.len() as i64 == BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "notification delivery round failed"),
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.ctx.notify_wakeup.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// Delivers one claimed message and records the outcome.
    pub async fn deliver(&self, n: &Notification) -> CoreResult<Outcome> {
        let ctx = &self.ctx;
        let db = &ctx.db;
        let now = ctx.now_ms();
        let outcome = self.attempt(n).await;
        match &outcome {
            Ok(Attempt::Skip(why, to)) => store::mark_skipped(db, n, to.as_deref(), why, now).await?,
            Ok(Attempt::Defer(at)) => store::defer(db, n, *at, now).await?,
            Ok(Attempt::Sent { to, subject, id }) => {
                if !store::mark_sent(db, n, to, subject.as_deref(), id, now).await? {
                    tracing::warn!(id = n.id, "a notification's claim ran out while it was sent");
                }
            }
            Ok(Attempt::Failed { to, subject, error, fatal }) => {
                let attempts = n.attempts + 1;
                let dead = *fatal || attempts >= ctx.config.notify.max_attempts;
                let retry_at = now + backoff_ms(ctx.config.notify.backoff_ms, attempts);
                if dead {
                    wf::dead_letter(ctx, n, to.as_deref(), subject.as_deref(), error).await?;
                    tracing::warn!(id = n.id, tenant = n.tenant_id, error = %error, "notification dead-lettered");
                } else {
                    store::mark_failed(db, n, to.as_deref(), subject.as_deref(), error, retry_at, false, now).await?;
                }
            }
            Err(e) => {
                // The database failed us: the lease runs out and the message comes back.
                return Err(CoreError::internal(format!("delivering notification {}: {e}", n.id)));
            }
        }
        Ok(match outcome? {
            Attempt::Skip(why, _) => Outcome::Skipped(why),
            Attempt::Defer(at) => Outcome::Deferred(at),
            Attempt::Sent { id, .. } => Outcome::Sent(id),
            Attempt::Failed { error, fatal, .. } => {
                if fatal || n.attempts + 1 >= ctx.config.notify.max_attempts {
                    Outcome::Dead(error)
                } else {
                    Outcome::Failed(error)
                }
            }
        })
    }

    async fn attempt(&self, n: &Notification) -> CoreResult<Attempt> {
        let ctx = &self.ctx;
        let t = n.tenant_id;
        let prefs = wf::preferences_of(ctx, t, n.customer_id).await?;
        if prefs.opted_out {
            return Ok(Attempt::Skip("the customer opted out".into(), None));
        }
        if !prefs.wants(n.channel) {
            return Ok(Attempt::Skip(format!("the customer turned {} off", n.channel), None));
        }
        let Some(row) = store::channel(&ctx.db, t, n.channel).await?.filter(|c| c.enabled) else {
            return Ok(Attempt::Skip(format!("the tenant's {} channel is not enabled", n.channel), None));
        };
        if !n.urgent {
            if let (Some(start), Some(end)) = (row.quiet_start_min, row.quiet_end_min) {
                let zone = tenants::get(&ctx.db, t).await?.timezone;
                if let Some(until) = quiet_until(ctx.clock.now(), &zone, start, end) {
                    return Ok(Attempt::Defer(until.timestamp_millis()));
                }
            }
        }
        let customer = customers::get(&ctx.db, t, n.customer_id).await?;
        let to = match n.channel {
            Channel::Email => customer.email,
            Channel::Sms | Channel::Whatsapp => customer.phone,
        };
        let Some(to) = to.filter(|a| !a.trim().is_empty()) else {
            return Ok(Attempt::Skip(format!("the customer has no {} address", n.channel), None));
        };
        let failed = |error: String, fatal: bool, subject: Option<String>| Attempt::Failed {
            to: Some(to.clone()),
            subject,
            error,
            fatal,
        };
        let Some((subject, body)) = wf::effective_template(ctx, t, n.event, n.channel, &prefs.language).await? else {
            return Ok(Attempt::Skip(format!("no template for {} on {}", n.event, n.channel), Some(to)));
        };
        let ids: serde_json::Value = serde_json::from_str(&n.vars).unwrap_or_default();
        let vars = match wf::variables(ctx, t, n.customer_id, n.event, &ids, false).await {
            Ok(v) => v,
            Err(CoreError::NotFound(what)) => return Ok(failed(format!("the {what} is gone"), true, None)),
            Err(e) => return Err(e),
        };
        let r = match wf::render(subject.as_deref(), &body, &vars) {
            Ok(r) => r,
            Err(e) => return Ok(failed(format!("template does not render: {e}"), true, None)),
        };
        let mut attachments = Vec::new();
        if let (Channel::Email, NotifyEvent::InvoiceIssued, Some(a), Some(id)) =
            (n.channel, n.event, &self.attachments, ids.get("invoice_id").and_then(|v| v.as_i64()))
        {
            match a.invoice_pdf(ctx, t, id).await {
                Ok(file) => attachments.push(file),
                Err(e) => return Ok(failed(format!("invoice PDF: {e}"), false, r.subject)),
            }
        }
        let secret = match &row.secret_enc {
            Some(enc) => match ctx.secrets.cipher.decrypt(&secret_context(n.channel), enc) {
                Ok(s) => Some(s),
                Err(e) => return Ok(failed(format!("channel secret: {e}"), true, r.subject)),
            },
            None => None,
        };
        let cfg = ChannelConfig { row, secret };
        let out = Outgoing {
            channel: n.channel,
            to: to.clone(),
            subject: r.subject.clone(),
            body: r.body,
            key: n.idempotency_key.clone(),
            attachments,
        };
        Ok(match self.transport.send(&cfg, &out).await {
            Ok(id) => Attempt::Sent { to, subject: r.subject, id },
            Err(SendError::Retry(e)) => failed(e, false, r.subject),
            Err(SendError::Fatal(e)) => failed(e, true, r.subject),
        })
    }
}

enum Attempt {
    Skip(String, Option<String>),
    Defer(i64),
    Sent { to: String, subject: Option<String>, id: String },
    Failed { to: Option<String>, subject: Option<String>, error: String, fatal: bool },
}

/// The delay after attempt `attempts` (1 = the first): `base`, then doubling, at most an hour.
pub fn backoff_ms(base: i64, attempts: i64) -> i64 {
    let exp = (attempts - 1).clamp(0, 30) as u32;
    base.max(1).saturating_mul(1i64 << exp).min(MAX_BACKOFF_MS)
}

/// When `now` falls in the quiet hours `start`-`end` (minutes after midnight in `zone`; a
/// window may run past midnight), the instant they end; None outside them.
pub fn quiet_until(now: DateTime<Utc>, zone: &str, start: i64, end: i64) -> Option<DateTime<Utc>> {
    let tz: chrono_tz::Tz = zone.parse().unwrap_or(chrono_tz::UTC);
    let local = now.with_timezone(&tz);
    let m = i64::from(local.hour()) * 60 + i64::from(local.minute());
    let inside = if start <= end { m >= start && m < end } else { m >= start || m < end };
    if !inside || start == end {
        return None;
    }
    let mut day = local.date_naive();
    if m >= end {
        day += Duration::days(1);
    }
    let at = day.and_time(NaiveTime::from_hms_opt((end / 60) as u32, (end % 60) as u32, 0)?);
    // A DST gap at the end time: the first instant after it.
    let end = tz
        .from_local_datetime(&at)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(at + Duration::hours(1))).earliest())?;
    Some(end.with_timezone(&Utc).max(from_ms(now.timestamp_millis() + 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff_ms(30_000, 1), 30_000);
        assert_eq!(backoff_ms(30_000, 3), 120_000);
        assert_eq!(backoff_ms(30_000, 40), MAX_BACKOFF_MS);
    }

    #[test]
    fn quiet_hours_run_in_the_tenant_zone_and_across_midnight() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        // 22:00-07:00 in Madrid (UTC+1 in December).
        let (start, end) = (22 * 60, 7 * 60);
        assert_eq!(quiet_until(at("2026-12-07T20:00:00Z"), "Europe/Madrid", start, end), None); // 21:00 local
        assert_eq!(
            quiet_until(at("2026-12-07T22:30:00Z"), "Europe/Madrid", start, end), // 23:30 local
            Some(at("2026-12-08T06:00:00Z"))
        );
        assert_eq!(
            quiet_until(at("2026-12-08T02:00:00Z"), "Europe/Madrid", start, end), // 03:00 local
            Some(at("2026-12-08T06:00:00Z"))
        );
        assert_eq!(quiet_until(at("2026-12-08T06:00:00Z"), "Europe/Madrid", start, end), None); // 07:00 local
                                                                                                // A window within one day.
        assert_eq!(quiet_until(at("2026-12-07T13:15:00Z"), "UTC", 13 * 60, 14 * 60), Some(at("2026-12-07T14:00:00Z")));
    }
}
