//! Customer notifications from the staff side: channel settings (secrets write-only),
//! templates (checked when saved), customer preferences, resending a logged message,
//! previews, planned-outage announcements; and the variables a message is rendered with,
//! read when it is sent or previewed.

use crate::auth::{Action, Actor};
use crate::billing::{self, invoices, payments};
use crate::effects::Effects;
use crate::error::{CoreError, CoreResult};
use crate::events::EventKind;
use crate::notify::{self, template};
use crate::store::notifications::{
    self as store, secret_context, Channel, ChannelRow, Notification, NotifyEvent, Preferences, Provider, SmtpSecurity,
    TemplateRow,
};
use crate::store::{customers, devices, plans, subscriptions, tenants};
use crate::{validate, Ctx};
use serde_json::{json, Value};

/// The language of customers who chose none.
pub const DEFAULT_LANGUAGE: &str = "en";

/// A channel's settings as staff write them; `secret` None keeps the stored one.
#[derive(Debug, Clone)]
pub struct ChannelInput {
    /// Which channel.
    pub channel: Channel,
    /// Whether messages go out on it.
    pub enabled: bool,
    /// How (SMTP for EMAIL; HTTP_TEMPLATE or TWILIO for SMS and WHATSAPP).
    pub provider: Provider,
    /// SMTP host.
    pub host: Option<String>,
    /// SMTP port.
    pub port: Option<i64>,
    /// SMTP security.
    pub security: Option<SmtpSecurity>,
    /// SMTP user or provider account.
    pub username: Option<String>,
    /// New password / token; None keeps the stored one, `Some("")` removes it.
    pub secret: Option<String>,
    /// From address or sender number.
    pub sender: Option<String>,
    /// Sender display name.
    pub sender_name: Option<String>,
    /// Reply-To address.
    pub reply_to: Option<String>,
    /// Provider endpoint.
    pub url: Option<String>,
    /// Body template of HTTP_TEMPLATE (variables `to`, `from`, `body`, `key`).
    pub body_template: Option<String>,
    /// Content type of that body.
    pub content_type: Option<String>,
    /// Quiet hours `HH:MM`-`HH:MM` in the tenant's zone: start.
    pub quiet_start: Option<String>,
    /// Quiet hours end.
    pub quiet_end: Option<String>,
}

fn parse_hhmm(field: &str, v: &str) -> CoreResult<i64> {
    let bad = || CoreError::validation(field, "must be HH:MM");
    let (h, m) = v.split_once(':').ok_or_else(bad)?;
    let (h, m): (i64, i64) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(0..24).contains(&h) || !(0..60).contains(&m) || v.len() != 5 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// Minutes after midnight as `HH:MM`.
pub fn fmt_hhmm(min: i64) -> String {
    format!("{:02}:{:02}", min / 60, min % 60)
}

fn opt_text(field: &str, v: &Option<String>, max: usize) -> CoreResult<Option<String>> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => {
            validate::text(s, max).map_err(|m| CoreError::validation(field, m))?;
            Ok(Some(s.to_string()))
        }
    }
}

fn check_email(field: &str, v: &Option<String>) -> CoreResult<()> {
    if let Some(a) = v {
        a.parse::<lettre::Address>().map_err(|_| CoreError::validation(field, "must be an email address"))?;
    }
    Ok(())
}

/// Writes the settings of one channel of the actor's tenant, audited (never the secret).
pub async fn set_channel(ctx: &Ctx, actor: &Actor, i: &ChannelInput) -> CoreResult<ChannelRow> {
    actor.require(Action::NotifyConfigure)?;
    let t = actor.tenant_id;
    let now = ctx.now_ms();
    let mut row = ChannelRow {
        tenant_id: t,
        channel: i.channel,
        enabled: i.enabled,
        provider: i.provider,
        host: opt_text("host", &i.host, 255)?,
        port: i.port,
        security: i.security,
        username: opt_text("username", &i.username, 255)?,
        secret_enc: None,
        sender: opt_text("sender", &i.sender, 255)?,
        sender_name: opt_text("senderName", &i.sender_name, 255)?,
        reply_to: opt_text("replyTo", &i.reply_to, 255)?,
        url: opt_text("url", &i.url, 2000)?,
        body_template: i.body_template.clone().filter(|b| !b.trim().is_empty()),
        content_type: opt_text("contentType", &i.content_type, 100)?,
        quiet_start_min: i.quiet_start.as_deref().map(|v| parse_hhmm("quietStart", v)).transpose()?,
        quiet_end_min: i.quiet_end.as_deref().map(|v| parse_hhmm("quietEnd", v)).transpose()?,
        updated_at: now,
    };
    if row.quiet_start_min.is_some() != row.quiet_end_min.is_some() {
        return Err(CoreError::validation("quietEnd", "quiet hours need a start and an end"));
    }
    match (i.channel, i.provider) {
        (Channel::Email, Provider::Smtp) => {
            if row.host.is_none() {
                return Err(CoreError::validation("host", "an SMTP channel needs a host"));
            }
            if !row.port.is_some_and(|p| (1..=65535).contains(&p)) {
                return Err(CoreError::validation("port", "must be 1-65535"));
            }
            row.security.get_or_insert(SmtpSecurity::Starttls);
            if row.sender.is_none() {
                return Err(CoreError::validation("sender", "an email channel needs a from address"));
            }
            check_email("sender", &row.sender)?;
            check_email("replyTo", &row.reply_to)?;
        }
        (Channel::Email, _) => return Err(CoreError::validation("provider", "email goes out over SMTP")),
        (_, Provider::Smtp) => return Err(CoreError::validation("provider", "SMTP is for email")),
        (_, p) => {
            let url = row.url.as_deref().unwrap_or("");
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(CoreError::validation("url", "must be an http(s) URL"));
            }
            if row.sender.is_none() {
                return Err(CoreError::validation("sender", "needs the sender number or id"));
            }
            if p == Provider::HttpTemplate {
                let body = row.body_template.as_deref().unwrap_or("");
                let sample = json!({"to": "+15550100", "from": "+15550199", "body": "Hello", "key": "k"});
                template::render(body, &sample)
                    .map_err(|e| CoreError::validation("bodyTemplate", format!("does not render: {e}")))?;
                if body.is_empty() {
                    return Err(CoreError::validation("bodyTemplate", "an HTTP_TEMPLATE provider needs a body"));
                }
            }
        }
    }
    let mut tx = ctx.db.begin().await?;
    let old = store::channel(&mut tx, t, i.channel).await?;
    row.secret_enc = match i.secret.as_deref() {
        None => old.and_then(|o| o.secret_enc),
        Some("") => None,
        Some(s) => Some(ctx.secrets.cipher.encrypt(&secret_context(i.channel), s)),
    };
    let row = store::put_channel(&mut tx, &row).await?;
    let details = json!({"channel": i.channel, "provider": i.provider, "enabled": i.enabled,
        "secretChanged": i.secret.is_some()});
    Effects::new(ctx, actor, now)
        .audit("notification.channel", "NotificationChannel", None, details)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(row)
}

/// Saves the template for (`event`, `channel`, `language`), replacing the tenant's current
/// one; VALIDATION when it does not render against the event's sample variables.
pub async fn put_template(
    ctx: &Ctx,
    actor: &Actor,
    event: NotifyEvent,
    channel: Channel,
    language: &str,
    subject: Option<&str>,
    body: &str,
) -> CoreResult<TemplateRow> {
    actor.require(Action::NotifyConfigure)?;
    let language = check_language(language)?;
    template::check(event, channel, subject, body)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let row = store::put_template(&mut tx, actor.tenant_id, event, channel, &language, subject, body, now).await?;
    let details = json!({"event": event, "channel": channel, "language": language});
    Effects::new(ctx, actor, now)
        .audit("notification.template", "NotificationTemplate", Some(row.id), details)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(row)
}

/// Deletes template `id`; messages of its event then use the built-in default.
pub async fn delete_template(ctx: &Ctx, actor: &Actor, id: i64) -> CoreResult<()> {
    actor.require(Action::NotifyConfigure)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    if !store::delete_template(&mut tx, actor.tenant_id, id).await? {
        return Err(CoreError::NotFound("notification template"));
    }
    Effects::new(ctx, actor, now)
        .audit("notification.template.delete", "NotificationTemplate", Some(id), json!({}))
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

fn check_language(language: &str) -> CoreResult<String> {
    let l = language.trim().to_ascii_lowercase();
    let ok = (2..=8).contains(&l.len()) && l.chars().all(|c| c.is_ascii_alphabetic() || c == '-');
    if !ok {
        return Err(CoreError::validation("language", "must be a language tag such as en or pt-br"));
    }
    Ok(l)
}

/// The template a message uses: the tenant's for its language, else the tenant's English
/// one, else the built-in default.
pub async fn effective_template(
    ctx: &Ctx,
    tenant_id: i64,
    event: NotifyEvent,
    channel: Channel,
    language: &str,
) -> CoreResult<Option<(Option<String>, String)>> {
    for lang in [language, DEFAULT_LANGUAGE] {
        if let Some(t) = store::template(&ctx.db, tenant_id, event, channel, lang).await? {
            return Ok(Some((t.subject, t.body)));
        }
    }
    Ok(template::defaults()
        .into_iter()
        .find(|d| d.0 == event && d.1 == channel && d.2 == DEFAULT_LANGUAGE)
        .map(|d| (d.3.map(str::to_string), d.4)))
}

/// A customer's preferences, or the defaults when they chose none.
pub async fn preferences_of(ctx: &Ctx, tenant_id: i64, customer_id: i64) -> CoreResult<Preferences> {
    Ok(store::preferences(&ctx.db, tenant_id, customer_id)
        .await?
        .unwrap_or_else(|| Preferences::default_for(tenant_id, customer_id, DEFAULT_LANGUAGE)))
}

/// Sets customer `customer_id`'s language and channels, or opts them out; audited.
pub async fn set_preferences(ctx: &Ctx, actor: &Actor, p: &Preferences) -> CoreResult<Preferences> {
    actor.require(Action::CustomerWrite)?;
    let t = actor.tenant_id;
    let language = check_language(&p.language)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    customers::get(&mut tx, t, p.customer_id).await.map_err(|_| CoreError::NotFound("customer"))?;
    let row = Preferences { tenant_id: t, language, updated_at: now, ..p.clone() };
    let row = store::put_preferences(&mut tx, &row).await?;
    let details = json!({"language": row.language, "email": row.email, "sms": row.sms, "whatsapp": row.whatsapp,
        "optedOut": row.opted_out});
    Effects::new(ctx, actor, now)
        .audit("notification.preferences", "Customer", Some(p.customer_id), details)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(row)
}

/// Queues logged message `id` again as a new message (same event, channel and variables,
/// rendered afresh), due at once; audited. The original stays in the log as it was.
pub async fn resend(ctx: &Ctx, actor: &Actor, id: i64) -> CoreResult<Notification> {
    actor.require(Action::NotifyResend)?;
    let t = actor.tenant_id;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let orig = store::get(&mut tx, t, id).await?.ok_or(CoreError::NotFound("notification"))?;
    let m = store::NewNotification {
        customer_id: orig.customer_id,
        event: orig.event,
        channel: orig.channel,
        urgent: orig.urgent,
        vars: orig.vars.clone(),
        idempotency_key: format!("{}:resend:{now}", orig.idempotency_key),
    };
    if !store::insert(&mut tx, t, &m, now).await? {
        return Err(CoreError::conflict("id", "this message was just resent"));
    }
    let copy = store::by_key_prefix(&mut tx, t, &m.idempotency_key)
        .await?
        .pop()
        .ok_or_else(|| CoreError::internal("the resent message was not written"))?;
    Effects::new(ctx, actor, now)
        .audit("notification.resend", "Notification", Some(id), json!({"copy": copy.id}))
        .write(&mut tx)
        .await?;
    let wakeup = ctx.notify_wakeup.clone();
    tx.after_commit(move || wakeup.notify_one());
    tx.commit().await?;
    Ok(copy)
}

/// What a message says once rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject (EMAIL).
    pub subject: Option<String>,
    /// Body text.
    pub body: String,
}

/// Renders `subject` and `body` with `vars`.
pub fn render(subject: Option<&str>, body: &str, vars: &Value) -> Result<Rendered, String> {
    Ok(Rendered {
        subject: subject.map(|s| template::render(s, vars)).transpose()?,
        body: template::render(body, vars)?,
    })
}

/// Renders a template (the saved one for `event`/`channel`/`language`, or `subject`/`body`
/// as given) against customer `customer_id`: their own data, their latest invoice or payment
/// and first subscription where the event has them, sample values for what they lack.
#[allow(clippy::too_many_arguments)]
pub async fn preview(
    ctx: &Ctx,
    actor: &Actor,
    event: NotifyEvent,
    channel: Channel,
    language: &str,
    subject: Option<&str>,
    body: Option<&str>,
    customer_id: i64,
) -> CoreResult<Rendered> {
    actor.require(Action::NotifyConfigure)?;
    let t = actor.tenant_id;
    let (subject, body) = match body {
        Some(b) => (subject.map(str::to_string), b.to_string()),
        None => effective_template(ctx, t, event, channel, &check_language(language)?)
            .await?
            .ok_or(CoreError::NotFound("notification template"))?,
    };
    let customer = customers::get(&ctx.db, t, customer_id).await.map_err(|_| CoreError::NotFound("customer"))?;
    let mut ids = json!({});
    let first = crate::store::page::PageArgs { first: Some(1), ..Default::default() };
    let f = invoices::InvoiceFilter {
        customer_id: Some(customer.id),
        kind: Some(billing::InvoiceKind::Invoice),
        ..Default::default()
    };
    if let Some(inv) = invoices::list(&ctx.db, t, &f, &first).await?.items.first() {
        ids["invoice_id"] = json!(inv.id);
    }
    if let Some(p) = payments::list(&ctx.db, t, Some(customer.id), &first).await?.items.first() {
        ids["payment_id"] = json!(p.id);
    }
    if let Some(s) = subscriptions::by_customers(&ctx.db, t, &[customer.id]).await?.first() {
        ids["subscription_id"] = json!(s.id);
    }
    let vars = variables(ctx, t, customer.id, event, &ids, true).await?;
    render(subject.as_deref(), &body, &vars).map_err(|e| CoreError::validation("body", format!("does not render: {e}")))
}

/// `bytes` in GB (from 1 GB) or MB, with one decimal, rounded down.
fn data_size(bytes: i64) -> String {
    let (unit, name) = if bytes >= 1_000_000_000 { (1_000_000_000, "GB") } else { (1_000_000, "MB") };
    format!("{}.{} {name}", bytes / unit, (bytes % unit) / (unit / 10))
}

fn link(base: &str, path: &str) -> String {
    if base.is_empty() {
        String::new()
    } else {
        format!("{}/{path}", base.trim_end_matches('/'))
    }
}

/// The variables of a message of `event` to customer `customer_id` with the event's `ids`
/// (`invoice_id`, `payment_id`, `subscription_id` and scalars), read now: see
/// [`template`] for the set. With `sample_missing` what the event lacks is filled with
/// sample values (previews); without it a missing object is an error (delivery).
pub async fn variables(
    ctx: &Ctx,
    tenant_id: i64,
    customer_id: i64,
    event: NotifyEvent,
    ids: &Value,
    sample_missing: bool,
) -> CoreResult<Value> {
    let t = tenant_id;
    let tenant = tenants::get(&ctx.db, t).await?;
    let customer = customers::get(&ctx.db, t, customer_id).await?;
    let portal = ctx.config.notify.portal_url.as_str();
    let money = |a: i64| billing::fmt_money(a, &tenant.currency);
    let mut v = if sample_missing { template::sample(event) } else { json!({}) };
    v["customer"] = json!({"name": customer.name, "account_number": customer.account_number,
        "email": customer.email.unwrap_or_default(), "phone": customer.phone.unwrap_or_default()});
    v["tenant"] = json!({"name": tenant.name, "currency": tenant.currency});
    v["links"] = json!({"portal": portal});
    let int = |k: &str| ids.get(k).and_then(Value::as_i64);
    if let Some(id) = int("invoice_id") {
        let inv = invoices::get(&ctx.db, t, id).await?;
        v["invoice"] = json!({"number": inv.number.clone().unwrap_or_default(), "total": money(inv.total_minor),
            "balance": money(inv.balance()), "issue_date": inv.issue_date, "due_date": inv.due_date,
            "link": link(portal, &format!("invoices/{id}"))});
    }
    if let Some(id) = int("payment_id") {
        let p = payments::get(&ctx.db, t, id).await?;
        v["payment"] = json!({"amount": money(p.amount_minor), "receipt": p.receipt_number,
            "received_on": p.received_on, "method": p.method, "link": link(portal, &format!("receipts/{id}"))});
    }
    if let Some(id) = int("subscription_id") {
        let s = subscriptions::get(&ctx.db, t, id).await?;
        let plan = plans::get(&ctx.db, t, s.plan_id).await?;
        v["subscription"] = json!({"username": s.username, "plan": plan.name});
    }
    if let Some(d) = int("days_before") {
        v["days_before"] = json!(d);
    }
    if let Some(r) = ids.get("reason").and_then(Value::as_str) {
        v["reason"] = json!(r);
    }
    if let Some(p) = int("percent") {
        let (used, limit) = (int("used").unwrap_or(0), int("limit").unwrap_or(0));
        let time = ids.get("unit").and_then(Value::as_str) == Some("seconds");
        let fmt = |n: i64| if time { format!("{} h", n / 3600) } else { data_size(n) };
        v["quota"] = json!({"percent": p, "used": fmt(used), "limit": fmt(limit),
            "period_end": ids.get("period_end").cloned().unwrap_or(json!(""))});
    }
    for key in ["ticket", "outage"] {
        if let Some(o) = ids.get(key) {
            v[key] = o.clone();
        }
    }
    Ok(v)
}

/// A planned outage to announce.
#[derive(Debug, Clone)]
pub struct Outage {
    /// The router or OLT.
    pub device_id: i64,
    /// Start, local time as staff write it (`2026-12-10 01:00`).
    pub starts: String,
    /// End, local time.
    pub ends: String,
    /// What is done and why.
    pub message: String,
}

/// Queues a PLANNED_OUTAGE message to every customer with a subscription (not cancelled)
/// behind device `o.device_id`, audited; returns how many customers it reaches.
pub async fn announce_outage(ctx: &Ctx, actor: &Actor, o: &Outage) -> CoreResult<usize> {
    actor.require(Action::OutageAnnounce)?;
    let t = actor.tenant_id;
    for (field, v, max) in [("starts", &o.starts, 40), ("ends", &o.ends, 40), ("message", &o.message, 500)] {
        validate::text(v.trim(), max).map_err(|m| CoreError::validation(field, m))?;
        if v.trim().is_empty() {
            return Err(CoreError::validation(field, "must not be empty"));
        }
    }
    let device = devices::get(&ctx.db, t, o.device_id).await.map_err(|_| CoreError::NotFound("device"))?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let customers = store::customers_behind_device(&mut tx, t, device.id).await?;
    let vars = json!({"outage": {"device": device.name, "starts": o.starts.trim(), "ends": o.ends.trim(),
        "message": o.message.trim()}});
    for c in &customers {
        let key = format!("outage:{}:{now}:{c}", device.id);
        notify::queue(ctx, &mut tx, t, *c, NotifyEvent::PlannedOutage, vars.clone(), &key, now).await?;
    }
    let details = json!({"device": device.name, "starts": o.starts.trim(), "ends": o.ends.trim(),
        "customers": customers.len()});
    Effects::new(ctx, actor, now)
        .audit("notification.outage", "Device", Some(device.id), details)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(customers.len())
}

/// Dead-letters claimed message `n` after its last failed attempt (or a permanent refusal)
/// with `error`, and announces it to `changes` subscribers (`NotificationFailed`) in the same
/// transaction, so staff watching the desk see it whichever process delivered.
pub async fn dead_letter(
    ctx: &Ctx,
    n: &Notification,
    recipient: Option<&str>,
    subject: Option<&str>,
    error: &str,
) -> CoreResult<()> {
    let now = ctx.now_ms();
    let actor = Actor::system(n.tenant_id, "notifications");
    let mut tx = ctx.db.begin().await?;
    if store::mark_failed(&mut tx, n, recipient, subject, error, now, true, now).await? {
        Effects::new(ctx, &actor, now).event(EventKind::NotificationFailed, n.id).write(&mut tx).await?;
    }
    tx.commit().await
}
