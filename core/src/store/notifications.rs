//! Customer notifications: the tenant's channels (SMTP, HTTP SMS/WhatsApp providers), its
//! templates, each customer's preferences, and the delivery log that is also the outbox of
//! the delivery worker. This module is the rows; which events queue what, rendering and
//! delivery are decided in the layers above (`crate::notify`, `crate::delivery`).
//!
//! Several workers may share one database: a message is claimed by moving its
//! `next_attempt_at` forward with a guarded UPDATE, so only one of them wins, as for device jobs.

use crate::db::{query, query_as, Db, Executor, FromRow, Sql, Tx};
use crate::error::CoreResult;
use crate::store::page::{self, Count, ListQuery, Order, Page, PageArgs};
use crate::text_enum;

text_enum!(
    /// A way to reach a customer.
    Channel, "channel" {
        /// Email over SMTP.
        Email = "EMAIL",
        /// SMS through an HTTP provider.
        Sms = "SMS",
        /// WhatsApp through an HTTP provider.
        Whatsapp = "WHATSAPP",
    }
);

text_enum!(
    /// What a notification is about.
    NotifyEvent, "event" {
        /// An invoice was issued (PDF attached or linked).
        InvoiceIssued = "INVOICE_ISSUED",
        /// A payment was received (the receipt).
        PaymentReceived = "PAYMENT_RECEIVED",
        /// An invoice falls due in a few days.
        PaymentReminder = "PAYMENT_REMINDER",
        /// An invoice is overdue.
        InvoiceOverdue = "INVOICE_OVERDUE",
        /// A subscription was suspended.
        Suspended = "SUSPENDED",
        /// A subscription was reactivated.
        Reactivated = "REACTIVATED",
        /// 80 % of the period's quota is used.
        Quota80 = "QUOTA_80",
        /// The period's quota is used up.
        Quota100 = "QUOTA_100",
        /// A support ticket was opened for the customer.
        TicketCreated = "TICKET_CREATED",
        /// Staff replied to the customer's ticket.
        TicketReplied = "TICKET_REPLIED",
        /// Planned maintenance on a device the customer's service runs through.
        PlannedOutage = "PLANNED_OUTAGE",
    }
);

text_enum!(
    /// Where a message is in its life.
    NotifyStatus, "status" {
        /// Waiting for its first attempt (or deferred by quiet hours).
        Queued = "QUEUED",
        /// An attempt failed; waiting for the retry.
        Failed = "FAILED",
        /// The provider accepted it.
        Sent = "SENT",
        /// Gave up after the last attempt (dead letter).
        Dead = "DEAD",
        /// Not sent on purpose: opted out, channel off, no address or no template.
        Skipped = "SKIPPED",
    }
);

text_enum!(
    /// How a channel reaches its provider.
    Provider, "provider" {
        /// SMTP server (EMAIL).
        Smtp = "SMTP",
        /// Any HTTP API: POST of a templated body (SMS, WHATSAPP).
        HttpTemplate = "HTTP_TEMPLATE",
        /// Twilio-style: form POST of To, From, Body with basic auth (SMS, WHATSAPP).
        Twilio = "TWILIO",
    }
);

text_enum!(
    /// Transport security of an SMTP connection.
    SmtpSecurity, "security" {
        /// Plain text (a relay on localhost).
        None = "NONE",
        /// Plain connection upgraded with STARTTLS (RFC 3207), usually port 587.
        Starttls = "STARTTLS",
        /// TLS from the first byte (RFC 8314), usually port 465.
        Tls = "TLS",
    }
);

/// A tenant's channel settings.
#[derive(Debug, Clone, FromRow)]
pub struct ChannelRow {
    /// Tenant.
    pub tenant_id: i64,
    /// Which channel.
    pub channel: Channel,
    /// Whether messages go out on it (queued messages of a disabled channel are skipped).
    pub enabled: bool,
    /// How it is delivered.
    pub provider: Provider,
    /// SMTP host.
    pub host: Option<String>,
    /// SMTP port.
    pub port: Option<i64>,
    /// SMTP security.
    pub security: Option<SmtpSecurity>,
    /// SMTP user or provider account.
    pub username: Option<String>,
    /// Encrypted password / token (context [`secret_context`]).
    pub secret_enc: Option<String>,
    /// From address or sender number.
    pub sender: Option<String>,
    /// Display name of the sender (EMAIL).
    pub sender_name: Option<String>,
    /// Reply-To address (EMAIL).
    pub reply_to: Option<String>,
    /// Provider endpoint (HTTP providers).
    pub url: Option<String>,
    /// Body template (HTTP_TEMPLATE).
    pub body_template: Option<String>,
    /// Content type of the body (HTTP_TEMPLATE).
    pub content_type: Option<String>,
    /// Start of quiet hours, minutes after local midnight.
    pub quiet_start_min: Option<i64>,
    /// End of quiet hours, minutes after local midnight.
    pub quiet_end_min: Option<i64>,
    /// Changed, Unix ms.
    pub updated_at: i64,
}

const CHANNEL_COLS: &str = "tenant_id, channel, enabled, provider, host, port, security, username, secret_enc, \
    sender, sender_name, reply_to, url, body_template, content_type, quiet_start_min, quiet_end_min, updated_at";

/// The encryption context of a channel's secret.
pub fn secret_context(channel: Channel) -> String {
    format!("notify.{}.secret", channel.as_str().to_ascii_lowercase())
}

/// Channel `channel` of `tenant_id`, if configured.
pub async fn channel(ex: impl Executor, tenant_id: i64, channel: Channel) -> CoreResult<Option<ChannelRow>> {
    query_as::<ChannelRow>(&format!(
        "SELECT {CHANNEL_COLS} FROM notification_channels WHERE tenant_id = $1 AND channel = $2"
    ))
    .bind(tenant_id)
    .bind(channel)
    .fetch_optional(ex)
    .await
}

/// Every configured channel of `tenant_id`.
pub async fn channels(ex: impl Executor, tenant_id: i64) -> CoreResult<Vec<ChannelRow>> {
    query_as::<ChannelRow>(&format!(
        "SELECT {CHANNEL_COLS} FROM notification_channels WHERE tenant_id = $1 ORDER BY channel"
    ))
    .bind(tenant_id)
    .fetch_all(ex)
    .await
}

/// Writes channel settings `c` (all columns) for its tenant and channel.
pub async fn put_channel(tx: &mut Tx, c: &ChannelRow) -> CoreResult<ChannelRow> {
    query("DELETE FROM notification_channels WHERE tenant_id = $1 AND channel = $2")
        .bind(c.tenant_id)
        .bind(c.channel)
        .execute(&mut *tx)
        .await?;
    query_as::<ChannelRow>(&format!(
        "INSERT INTO notification_channels ({CHANNEL_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
         $12, $13, $14, $15, $16, $17, $18) RETURNING {CHANNEL_COLS}"
    ))
    .bind(c.tenant_id)
    .bind(c.channel)
    .bind(c.enabled)
    .bind(c.provider)
    .bind(c.host.as_deref())
    .bind(c.port)
    .bind(c.security)
    .bind(c.username.as_deref())
    .bind(c.secret_enc.as_deref())
    .bind(c.sender.as_deref())
    .bind(c.sender_name.as_deref())
    .bind(c.reply_to.as_deref())
    .bind(c.url.as_deref())
    .bind(c.body_template.as_deref())
    .bind(c.content_type.as_deref())
    .bind(c.quiet_start_min)
    .bind(c.quiet_end_min)
    .bind(c.updated_at)
    .fetch_one(&mut *tx)
    .await
}

/// A template of a tenant for one event, channel and language.
#[derive(Debug, Clone, FromRow)]
pub struct TemplateRow {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: i64,
    /// Event.
    pub event: NotifyEvent,
    /// Channel.
    pub channel: Channel,
    /// Language (`en`, `es` ...).
    pub language: String,
    /// Subject (EMAIL only).
    pub subject: Option<String>,
    /// Body.
    pub body: String,
    /// Changed, Unix ms.
    pub updated_at: i64,
}

const TEMPLATE_COLS: &str = "id, tenant_id, event, channel, language, subject, body, updated_at";

/// The template for (`event`, `channel`, `language`) of `tenant_id`.
pub async fn template(
    ex: impl Executor,
    tenant_id: i64,
    event: NotifyEvent,
    channel: Channel,
    language: &str,
) -> CoreResult<Option<TemplateRow>> {
    query_as::<TemplateRow>(&format!(
        "SELECT {TEMPLATE_COLS} FROM notification_templates WHERE tenant_id = $1 AND event = $2 AND channel = $3 \
         AND language = $4"
    ))
    .bind(tenant_id)
    .bind(event)
    .bind(channel)
    .bind(language)
    .fetch_optional(ex)
    .await
}

/// Template `id` of `tenant_id`.
pub async fn template_by_id(ex: impl Executor, tenant_id: i64, id: i64) -> CoreResult<Option<TemplateRow>> {
    query_as::<TemplateRow>(&format!(
        "SELECT {TEMPLATE_COLS} FROM notification_templates WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// Every template of `tenant_id` (a tenant has a few dozen), by id.
pub async fn templates(ex: impl Executor, tenant_id: i64) -> CoreResult<Vec<TemplateRow>> {
    query_as::<TemplateRow>(&format!(
        "SELECT {TEMPLATE_COLS} FROM notification_templates WHERE tenant_id = $1 ORDER BY id"
    ))
    .bind(tenant_id)
    .fetch_all(ex)
    .await
}

/// Writes the template for (`event`, `channel`, `language`) of `tenant_id`, replacing any.
#[allow(clippy::too_many_arguments)]
pub async fn put_template(
    tx: &mut Tx,
    tenant_id: i64,
    event: NotifyEvent,
    channel: Channel,
    language: &str,
    subject: Option<&str>,
    body: &str,
    now: i64,
) -> CoreResult<TemplateRow> {
    query_as::<TemplateRow>(&format!(
        "INSERT INTO notification_templates (tenant_id, event, channel, language, subject, body, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, event, channel, language) DO UPDATE SET \
         subject = excluded.subject, body = excluded.body, updated_at = excluded.updated_at RETURNING {TEMPLATE_COLS}"
    ))
    .bind(tenant_id)
    .bind(event)
    .bind(channel)
    .bind(language)
    .bind(subject)
    .bind(body)
    .bind(now)
    .fetch_one(&mut *tx)
    .await
}

/// Deletes template `id` of `tenant_id`; whether it existed.
pub async fn delete_template(tx: &mut Tx, tenant_id: i64, id: i64) -> CoreResult<bool> {
    let n = query("DELETE FROM notification_templates WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    Ok(n > 0)
}

/// A customer's notification preferences.
#[derive(Debug, Clone, FromRow)]
pub struct Preferences {
    /// Tenant.
    pub tenant_id: i64,
    /// Customer.
    pub customer_id: i64,
    /// Language of their messages.
    pub language: String,
    /// Email wanted.
    pub email: bool,
    /// SMS wanted.
    pub sms: bool,
    /// WhatsApp wanted.
    pub whatsapp: bool,
    /// Opted out of every message.
    pub opted_out: bool,
    /// Changed, Unix ms.
    pub updated_at: i64,
}

impl Preferences {
    /// The preferences of a customer who chose nothing: `language`, every channel.
    pub fn default_for(tenant_id: i64, customer_id: i64, language: &str) -> Self {
        Self {
            tenant_id,
            customer_id,
            language: language.into(),
            email: true,
            sms: true,
            whatsapp: true,
            opted_out: false,
            updated_at: 0,
        }
    }

    /// Whether the customer takes messages on `channel`.
    pub fn wants(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => self.email,
            Channel::Sms => self.sms,
            Channel::Whatsapp => self.whatsapp,
        }
    }
}

const PREF_COLS: &str = "tenant_id, customer_id, language, email, sms, whatsapp, opted_out, updated_at";

/// The preferences of customer `customer_id`, if they chose any.
pub async fn preferences(ex: impl Executor, tenant_id: i64, customer_id: i64) -> CoreResult<Option<Preferences>> {
    query_as::<Preferences>(&format!(
        "SELECT {PREF_COLS} FROM notification_preferences WHERE tenant_id = $1 AND customer_id = $2"
    ))
    .bind(tenant_id)
    .bind(customer_id)
    .fetch_optional(ex)
    .await
}

/// Writes preferences `p`.
pub async fn put_preferences(tx: &mut Tx, p: &Preferences) -> CoreResult<Preferences> {
    query_as::<Preferences>(&format!(
        "INSERT INTO notification_preferences ({PREF_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (tenant_id, customer_id) DO UPDATE SET language = excluded.language, email = excluded.email, \
         sms = excluded.sms, whatsapp = excluded.whatsapp, opted_out = excluded.opted_out, \
         updated_at = excluded.updated_at RETURNING {PREF_COLS}"
    ))
    .bind(p.tenant_id)
    .bind(p.customer_id)
    .bind(p.language.as_str())
    .bind(p.email)
    .bind(p.sms)
    .bind(p.whatsapp)
    .bind(p.opted_out)
    .bind(p.updated_at)
    .fetch_one(&mut *tx)
    .await
}

/// A message in the delivery log.
#[derive(Debug, Clone, FromRow)]
pub struct Notification {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: i64,
    /// Customer it is for.
    pub customer_id: i64,
    /// What it is about.
    pub event: NotifyEvent,
    /// How it goes out.
    pub channel: Channel,
    /// Sent during quiet hours and despite an opt-out (service messages).
    pub urgent: bool,
    /// The event's variables, JSON.
    pub vars: String,
    /// Unique per tenant; the Message-ID / Idempotency-Key the provider sees.
    pub idempotency_key: String,
    /// Status.
    pub status: NotifyStatus,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// When the next attempt is due, Unix ms.
    pub next_attempt_at: i64,
    /// Address or number it went (or would go) to.
    pub recipient: Option<String>,
    /// Rendered subject (EMAIL).
    pub subject: Option<String>,
    /// The provider's id of the accepted message.
    pub provider_message_id: Option<String>,
    /// Error of the last failed attempt, or why it was skipped.
    pub last_error: Option<String>,
    /// Queued, Unix ms.
    pub created_at: i64,
    /// Changed, Unix ms.
    pub updated_at: i64,
    /// Accepted by the provider, Unix ms.
    pub sent_at: Option<i64>,
}

const COLS: &str = "id, tenant_id, customer_id, event, channel, urgent, vars, idempotency_key, status, attempts, \
    next_attempt_at, recipient, subject, provider_message_id, last_error, created_at, updated_at, sent_at";

/// A message to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    /// Customer it is for.
    pub customer_id: i64,
    /// What it is about.
    pub event: NotifyEvent,
    /// How it goes out.
    pub channel: Channel,
    /// Sent during quiet hours and despite an opt-out.
    pub urgent: bool,
    /// The event's variables, JSON.
    pub vars: String,
    /// Unique per tenant: the same key queues nothing the second time.
    pub idempotency_key: String,
}

/// The statement that queues a message (`$1` tenant, `$2` now); a key already queued is
/// left alone, so an event queues at most once.
pub const INSERT_SQL: &str = "INSERT INTO notifications (tenant_id, customer_id, event, channel, urgent, vars, \
    idempotency_key, status, attempts, next_attempt_at, created_at, updated_at) \
    VALUES ($1, $3, $4, $5, $6, $7, $8, 'QUEUED', 0, $2, $2, $2) ON CONFLICT (tenant_id, idempotency_key) DO NOTHING";

/// Queues `n` of `tenant_id` inside `tx`, due at once; it becomes visible to the worker when
/// `tx` commits. Returns whether it was new (its key not queued before).
pub async fn insert(tx: &mut Tx, tenant_id: i64, n: &NewNotification, now: i64) -> CoreResult<bool> {
    let rows = query(INSERT_SQL)
        .bind(tenant_id)
        .bind(now)
        .bind(n.customer_id)
        .bind(n.event)
        .bind(n.channel)
        .bind(n.urgent)
        .bind(n.vars.as_str())
        .bind(n.idempotency_key.as_str())
        .execute(&mut *tx)
        .await?;
    Ok(rows > 0)
}

/// The predicate of messages waiting for an attempt (the partial index's, word for word).
const WAITING: &str = "(status = 'QUEUED' OR status = 'FAILED')";

/// Claims up to `limit` due messages (of every tenant, or only of `tenant`) for `lease_ms`:
/// each is hidden from other workers until the lease ends, so a crashed worker's message
/// comes back by itself. Attempts are counted when an attempt is recorded, so a message
/// deferred by quiet hours does not use one up.
pub async fn claim_due(
    db: &Db,
    tenant: Option<i64>,
    now: i64,
    lease_ms: i64,
    limit: i64,
) -> CoreResult<Vec<Notification>> {
    let scope = if tenant.is_some() { " AND tenant_id = $3" } else { "" };
    let sql = format!(
        "SELECT id, next_attempt_at FROM notifications WHERE {WAITING} AND next_attempt_at <= $1{scope} \
         ORDER BY next_attempt_at, id LIMIT $2"
    );
    let mut q = query_as(&sql).bind(now).bind(limit);
    if let Some(t) = tenant {
        q = q.bind(t);
    }
    let due: Vec<(i64, i64)> = q.fetch_all(db).await?;
    let mut claimed = Vec::with_capacity(due.len());
    for (id, at) in due {
        let row = query_as::<Notification>(&format!(
            "UPDATE notifications SET next_attempt_at = $1, updated_at = $2 \
             WHERE id = $3 AND {WAITING} AND next_attempt_at = $4 RETURNING {COLS}"
        ))
        .bind(now + lease_ms)
        .bind(now)
        .bind(id)
        .bind(at)
        .fetch_optional(db)
        .await?;
        claimed.extend(row);
    }
    Ok(claimed)
}

/// Records that the provider accepted claimed message `n` (with its lease `n.next_attempt_at`):
/// SENT, with the provider's id. False when the claim was lost meanwhile.
pub async fn mark_sent(
    db: &Db,
    n: &Notification,
    recipient: &str,
    subject: Option<&str>,
    provider_id: &str,
    now: i64,
) -> CoreResult<bool> {
    let rows = query(&format!(
        "UPDATE notifications SET status = 'SENT', attempts = attempts + 1, recipient = $1, subject = $2, \
         provider_message_id = $3, last_error = NULL, sent_at = $4, updated_at = $4 \
         WHERE id = $5 AND {WAITING} AND next_attempt_at = $6"
    ))
    .bind(recipient)
    .bind(subject)
    .bind(provider_id)
    .bind(now)
    .bind(n.id)
    .bind(n.next_attempt_at)
    .execute(db)
    .await?;
    Ok(rows > 0)
}

/// Records a failed attempt of claimed message `n`: FAILED and retried at `retry_at`, or DEAD;
/// false when the claim had run out (another worker has the message now).
#[allow(clippy::too_many_arguments)]
pub async fn mark_failed(
    ex: impl Executor,
    n: &Notification,
    recipient: Option<&str>,
    subject: Option<&str>,
    error: &str,
    retry_at: i64,
    dead: bool,
    now: i64,
) -> CoreResult<bool> {
    let rows = query(&format!(
        "UPDATE notifications SET status = $1, attempts = attempts + 1, recipient = COALESCE($2, recipient), \
         subject = COALESCE($3, subject), last_error = $4, next_attempt_at = $5, updated_at = $6 \
         WHERE id = $7 AND {WAITING} AND next_attempt_at = $8"
    ))
    .bind(if dead { NotifyStatus::Dead } else { NotifyStatus::Failed })
    .bind(recipient)
    .bind(subject)
    .bind(error)
    .bind(retry_at)
    .bind(now)
    .bind(n.id)
    .bind(n.next_attempt_at)
    .execute(ex)
    .await?;
    Ok(rows > 0)
}

/// Records that claimed message `n` is not sent, and why (opted out, no address ...).
pub async fn mark_skipped(db: &Db, n: &Notification, recipient: Option<&str>, why: &str, now: i64) -> CoreResult<()> {
    query(&format!(
        "UPDATE notifications SET status = 'SKIPPED', recipient = $1, last_error = $2, updated_at = $3 \
         WHERE id = $4 AND {WAITING} AND next_attempt_at = $5"
    ))
    .bind(recipient)
    .bind(why)
    .bind(now)
    .bind(n.id)
    .bind(n.next_attempt_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Moves claimed message `n` to `at` without counting an attempt (quiet hours).
pub async fn defer(db: &Db, n: &Notification, at: i64, now: i64) -> CoreResult<()> {
    query(&format!(
        "UPDATE notifications SET next_attempt_at = $1, updated_at = $2 WHERE id = $3 AND {WAITING} \
         AND next_attempt_at = $4"
    ))
    .bind(at)
    .bind(now)
    .bind(n.id)
    .bind(n.next_attempt_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Message `id` of `tenant_id`.
pub async fn get(ex: impl Executor, tenant_id: i64, id: i64) -> CoreResult<Option<Notification>> {
    query_as::<Notification>(&format!("SELECT {COLS} FROM notifications WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// Messages of `tenant_id` with idempotency key `key` or keys that start with `key:` (a
/// resend's), oldest first.
pub async fn by_key_prefix(ex: impl Executor, tenant_id: i64, key: &str) -> CoreResult<Vec<Notification>> {
    query_as::<Notification>(&format!(
        "SELECT {COLS} FROM notifications WHERE tenant_id = $1 AND (idempotency_key = $2 OR \
         (idempotency_key >= $3 AND idempotency_key < $4)) ORDER BY id"
    ))
    .bind(tenant_id)
    .bind(key)
    .bind(format!("{key}:"))
    .bind(format!("{key};"))
    .fetch_all(ex)
    .await
}

/// Filters of the delivery log.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogFilter {
    /// Only this customer's messages.
    pub customer_id: Option<i64>,
    /// Only messages in this status.
    pub status: Option<NotifyStatus>,
}

/// Appends ` FROM notifications WHERE ...` of the list to `sql`.
fn from_where(sql: &mut Sql<'static>, tenant_id: i64, f: LogFilter) {
    sql.push(" FROM notifications WHERE tenant_id = ");
    sql.arg(tenant_id);
    if let Some(c) = f.customer_id {
        sql.push(" AND customer_id = ").arg(c);
    }
    if let Some(s) = f.status {
        sql.push(" AND status = ").arg(s);
    }
}

/// The statement of a page of the tenant's delivery log, newest first.
pub fn list_sql(tenant_id: i64, f: LogFilter, args: &PageArgs) -> CoreResult<ListQuery> {
    let mut sql = Sql::new(&format!("SELECT {COLS}"));
    from_where(&mut sql, tenant_id, f);
    let plan = page::apply(&mut sql, Order { column: "id", integer: true, desc: true }, args)?;
    Ok(ListQuery { sql, plan })
}

/// A page of the tenant's delivery log, newest first.
pub async fn list(db: &Db, tenant_id: i64, f: LogFilter, args: &PageArgs) -> CoreResult<Page<Notification>> {
    list_sql(tenant_id, f, args)?.page(db, args).await
}

/// The statement counting the rows of the list.
pub fn count_sql(tenant_id: i64, f: LogFilter) -> CoreResult<Sql<'static>> {
    page::count_sql(|sql| {
        from_where(sql, tenant_id, f);
        Ok(())
    })
}

/// How many rows the list has (up to [`page::COUNT_LIMIT`]).
pub async fn count(db: &Db, tenant_id: i64, f: LogFilter) -> CoreResult<Count> {
    page::count(db, &count_sql(tenant_id, f)?).await
}

/// The customers with a subscription (not cancelled) behind device `device_id`: an outage
/// announcement's recipients.
pub async fn customers_behind_device(ex: impl Executor, tenant_id: i64, device_id: i64) -> CoreResult<Vec<i64>> {
    let rows: Vec<(i64,)> = query_as(
        "SELECT DISTINCT customer_id FROM subscriptions WHERE device_id = $1 AND tenant_id = $2 \
         AND status <> 'CANCELLED' ORDER BY customer_id",
    )
    .bind(device_id)
    .bind(tenant_id)
    .fetch_all(ex)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}
