//! Customer notifications in the graph: the delivery log (per customer), resending, the
//! tenant's channels (secrets write-only), templates with their preview, customer
//! preferences, and planned-outage announcements.

use super::{connection, core, Conn, ListCount};
use crate::access::root;
use crate::error::{found, Gql};
use crate::fast::{fast, Fast, FastList};
use crate::ids::{self, page_args};
use crate::schema::request_loaders;
use crate::schema::types::Customer;
use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use isp_core::clock::from_ms;
use isp_core::error::CoreError;
use isp_core::store::notifications::{
    self as store, Channel, ChannelRow, LogFilter, Notification as Row, NotifyEvent, NotifyStatus, Preferences,
    Provider, SmtpSecurity, TemplateRow,
};
use isp_core::store::page::{Cursor as Pos, SortKey};
use isp_core::workflows::notifications::{self as wf, fmt_hhmm, ChannelInput, Outage};

/// A message to a customer in the delivery log: queued, sent, failed and retrying, dead, or
/// skipped (opted out, channel off, no address).
pub struct Notification(pub Row);

#[Object]
impl Notification {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode("Notification", self.0.id)
    }
    /// What it is about.
    async fn event(&self) -> NotifyEvent {
        self.0.event
    }
    /// How it goes out.
    async fn channel(&self) -> Channel {
        self.0.channel
    }
    /// Where it is in its life.
    async fn status(&self) -> NotifyStatus {
        self.0.status
    }
    /// Sent during quiet hours (service messages).
    async fn urgent(&self) -> bool {
        self.0.urgent
    }
    /// Delivery attempts so far.
    async fn attempts(&self) -> i64 {
        self.0.attempts
    }
    /// When the next attempt is due (QUEUED and FAILED messages).
    async fn next_attempt_at(&self) -> DateTime<Utc> {
        from_ms(self.0.next_attempt_at)
    }
    /// Address or number it went to.
    async fn recipient(&self) -> Option<&str> {
        self.0.recipient.as_deref()
    }
    /// Subject (email).
    async fn subject(&self) -> Option<&str> {
        self.0.subject.as_deref()
    }
    /// The provider's id of the accepted message (the email's Message-ID and the server's reply).
    async fn provider_message_id(&self) -> Option<&str> {
        self.0.provider_message_id.as_deref()
    }
    /// Error of the last failed attempt, or why it was skipped.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// The key the provider sees on every attempt (Message-ID, Idempotency-Key).
    async fn idempotency_key(&self) -> &str {
        &self.0.idempotency_key
    }
    /// The customer it is for.
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Fast<Customer>>> {
        Ok(request_loaders(ctx)?.customers.one(self.0.customer_id).await?.map(fast(Customer)))
    }
    /// Queued.
    async fn created_at(&self) -> DateTime<Utc> {
        from_ms(self.0.created_at)
    }
    /// Last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        from_ms(self.0.updated_at)
    }
    /// Accepted by the provider.
    async fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.0.sent_at.map(from_ms)
    }
}

/// A template of the tenant for one event, channel and language (minijinja; README:
/// Notifications lists the variables).
pub struct NotificationTemplate(pub TemplateRow);

#[Object]
impl NotificationTemplate {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode("NotificationTemplate", self.0.id)
    }
    /// Event.
    async fn event(&self) -> NotifyEvent {
        self.0.event
    }
    /// Channel.
    async fn channel(&self) -> Channel {
        self.0.channel
    }
    /// Language (`en`, `es` ...).
    async fn language(&self) -> &str {
        &self.0.language
    }
    /// Subject template (email).
    async fn subject(&self) -> Option<&str> {
        self.0.subject.as_deref()
    }
    /// Body template.
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// Last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        from_ms(self.0.updated_at)
    }
}

/// A channel of the tenant: its provider and settings; the password / token is write-only.
pub struct NotificationChannel(pub ChannelRow);

#[Object]
impl NotificationChannel {
    /// Which channel.
    async fn channel(&self) -> Channel {
        self.0.channel
    }
    /// Whether messages go out on it.
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    /// How it is delivered.
    async fn provider(&self) -> Provider {
        self.0.provider
    }
    /// SMTP host.
    async fn host(&self) -> Option<&str> {
        self.0.host.as_deref()
    }
    /// SMTP port.
    async fn port(&self) -> Option<i64> {
        self.0.port
    }
    /// SMTP security.
    async fn security(&self) -> Option<SmtpSecurity> {
        self.0.security
    }
    /// SMTP user or provider account.
    async fn username(&self) -> Option<&str> {
        self.0.username.as_deref()
    }
    /// Whether a password / token is stored (it is never shown).
    async fn has_secret(&self) -> bool {
        self.0.secret_enc.is_some()
    }
    /// From address (email) or sender number / id.
    async fn sender(&self) -> Option<&str> {
        self.0.sender.as_deref()
    }
    /// Sender display name (email).
    async fn sender_name(&self) -> Option<&str> {
        self.0.sender_name.as_deref()
    }
    /// Reply-To address (email).
    async fn reply_to(&self) -> Option<&str> {
        self.0.reply_to.as_deref()
    }
    /// Provider endpoint (HTTP providers).
    async fn url(&self) -> Option<&str> {
        self.0.url.as_deref()
    }
    /// Request body template (HTTP_TEMPLATE; variables `to`, `from`, `body`, `key`).
    async fn body_template(&self) -> Option<&str> {
        self.0.body_template.as_deref()
    }
    /// Content type of that body.
    async fn content_type(&self) -> Option<&str> {
        self.0.content_type.as_deref()
    }
    /// Start of quiet hours (`HH:MM`, tenant's zone).
    async fn quiet_start(&self) -> Option<String> {
        self.0.quiet_start_min.map(fmt_hhmm)
    }
    /// End of quiet hours.
    async fn quiet_end(&self) -> Option<String> {
        self.0.quiet_end_min.map(fmt_hhmm)
    }
    /// Last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        from_ms(self.0.updated_at)
    }
}

/// A customer's language and channels.
#[derive(SimpleObject)]
pub struct NotificationPreferences {
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
}

impl From<Preferences> for NotificationPreferences {
    fn from(p: Preferences) -> Self {
        Self { language: p.language, email: p.email, sms: p.sms, whatsapp: p.whatsapp, opted_out: p.opted_out }
    }
}

/// A rendered template.
#[derive(SimpleObject)]
pub struct RenderedNotification {
    /// Subject (email).
    pub subject: Option<String>,
    /// Body.
    pub body: String,
}

/// A channel's settings; `secret` is write-only (omit it to keep the stored one, `""` removes it).
#[derive(InputObject)]
pub struct NotificationChannelInput {
    /// Which channel.
    pub channel: Channel,
    /// Whether messages go out on it.
    pub enabled: bool,
    /// SMTP for EMAIL; HTTP_TEMPLATE or TWILIO for SMS and WHATSAPP.
    pub provider: Provider,
    /// SMTP host.
    pub host: Option<String>,
    /// SMTP port (587 STARTTLS, 465 TLS, 25 or 1025 NONE).
    pub port: Option<i64>,
    /// SMTP security (default STARTTLS).
    pub security: Option<SmtpSecurity>,
    /// SMTP user, or the provider account (Twilio's Account SID).
    pub username: Option<String>,
    /// SMTP password or provider token (write-only).
    pub secret: Option<String>,
    /// From address (email) or sender number / id.
    pub sender: Option<String>,
    /// Sender display name (email).
    pub sender_name: Option<String>,
    /// Reply-To address (email).
    pub reply_to: Option<String>,
    /// Provider endpoint (HTTP providers).
    pub url: Option<String>,
    /// Request body template of HTTP_TEMPLATE (`{{ body|tojson }}` inside JSON).
    pub body_template: Option<String>,
    /// Content type of that body (default application/json).
    pub content_type: Option<String>,
    /// Start of quiet hours, `HH:MM` in the tenant's zone (non-urgent messages wait).
    pub quiet_start: Option<String>,
    /// End of quiet hours.
    pub quiet_end: Option<String>,
}

/// A template to save (it must render against its event's sample variables).
#[derive(InputObject)]
pub struct NotificationTemplateInput {
    /// Event.
    pub event: NotifyEvent,
    /// Channel.
    pub channel: Channel,
    /// Language (`en`, `es`, `pt-br` ...).
    pub language: String,
    /// Subject template (email only).
    pub subject: Option<String>,
    /// Body template.
    pub body: String,
}

/// What to preview: the saved template of (`event`, `channel`, `language`), or `body` (and
/// `subject`) as given, rendered for a customer.
#[derive(InputObject)]
pub struct PreviewNotificationInput {
    /// Event.
    pub event: NotifyEvent,
    /// Channel.
    pub channel: Channel,
    /// Language of the saved template (default en).
    pub language: Option<String>,
    /// Subject template to try instead of the saved one.
    pub subject: Option<String>,
    /// Body template to try instead of the saved one.
    pub body: Option<String>,
    /// The customer whose data fills the template.
    pub customer_id: ID,
}

/// A customer's notification preferences.
#[derive(InputObject)]
pub struct NotificationPreferencesInput {
    /// Language of their messages.
    pub language: String,
    /// Email wanted.
    pub email: bool,
    /// SMS wanted.
    pub sms: bool,
    /// WhatsApp wanted.
    pub whatsapp: bool,
    /// Opt out of every message.
    pub opted_out: bool,
}

/// Notification reads.
#[derive(Default)]
pub struct NotificationQuery;

#[Object]
impl NotificationQuery {
    /// The delivery log, newest first; of one customer with `customerId`, in one status with `status`.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(1) as usize * child_complexity")]
    #[allow(clippy::too_many_arguments)]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        customer_id: Option<ID>,
        status: Option<NotifyStatus>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<Notification>> {
        let a = root(ctx)?;
        let args = page_args(first, after, last, before)?;
        let f = LogFilter { customer_id: ids::decode_opt(&customer_id, "Customer", "customerId")?, status };
        let (db, t) = (core(ctx).db.clone(), a.tenant_id);
        let page = store::list(&db, t, f, &args).await.gql()?;
        let count = ListCount::new(async move { store::count(&db, t, f).await });
        Ok(connection(page, |n| Pos { key: SortKey::I(n.id), id: n.id, order: None }, Notification, count))
    }

    /// The tenant's templates (the defaults it started with, as edited since).
    async fn notification_templates(&self, ctx: &Context<'_>) -> async_graphql::Result<FastList<NotificationTemplate>> {
        let a = root(ctx)?;
        let rows = store::templates(&core(ctx).db, a.tenant_id).await.gql()?;
        Ok(FastList(rows.into_iter().map(NotificationTemplate).collect()))
    }

    /// The tenant's channels (never their secrets).
    async fn notification_channels(&self, ctx: &Context<'_>) -> async_graphql::Result<FastList<NotificationChannel>> {
        let a = root(ctx)?;
        let rows = store::channels(&core(ctx).db, a.tenant_id).await.gql()?;
        Ok(FastList(rows.into_iter().map(NotificationChannel).collect()))
    }

    /// A customer's notification preferences (the defaults when they chose none); null for a
    /// customer not in the caller's tenant.
    async fn notification_preferences(
        &self,
        ctx: &Context<'_>,
        customer_id: ID,
    ) -> async_graphql::Result<Option<NotificationPreferences>> {
        let a = root(ctx)?;
        let id = ids::decode(&customer_id, "Customer", "customerId")?;
        let c = core(ctx);
        if found(isp_core::store::customers::get(&c.db, a.tenant_id, id).await)?.is_none() {
            return Ok(None);
        }
        Ok(Some(wf::preferences_of(c, a.tenant_id, id).await.gql()?.into()))
    }
}

/// Notification changes.
#[derive(Default)]
pub struct NotificationMutation;

#[Object]
impl NotificationMutation {
    /// Configures a channel (SMTP server, SMS or WhatsApp provider).
    async fn set_notification_channel(
        &self,
        ctx: &Context<'_>,
        input: NotificationChannelInput,
    ) -> async_graphql::Result<Fast<NotificationChannel>> {
        let a = root(ctx)?;
        let i = ChannelInput {
            channel: input.channel,
            enabled: input.enabled,
            provider: input.provider,
            host: input.host,
            port: input.port,
            security: input.security,
            username: input.username,
            secret: input.secret,
            sender: input.sender,
            sender_name: input.sender_name,
            reply_to: input.reply_to,
            url: input.url,
            body_template: input.body_template,
            content_type: input.content_type,
            quiet_start: input.quiet_start,
            quiet_end: input.quiet_end,
        };
        wf::set_channel(core(ctx), a, &i).await.gql().map(fast(NotificationChannel))
    }

    /// Saves the template of an event, channel and language; VALIDATION (field `body` or
    /// `subject`) when it does not render against the event's variables.
    async fn save_notification_template(
        &self,
        ctx: &Context<'_>,
        input: NotificationTemplateInput,
    ) -> async_graphql::Result<Fast<NotificationTemplate>> {
        let a = root(ctx)?;
        let (e, c, l, s, b) = (input.event, input.channel, &input.language, input.subject.as_deref(), &input.body);
        wf::put_template(core(ctx), a, e, c, l, s, b).await.gql().map(fast(NotificationTemplate))
    }

    /// Deletes a template (its messages then use the built-in default). Returns the ID.
    async fn delete_notification_template(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let a = root(ctx)?;
        let n = ids::decode(&id, "NotificationTemplate", "id")?;
        wf::delete_template(core(ctx), a, n).await.gql()?;
        Ok(id)
    }

    /// Renders a template against a real customer (their latest invoice, payment and first
    /// subscription; sample values for what they lack). Nothing is sent.
    async fn preview_notification_template(
        &self,
        ctx: &Context<'_>,
        input: PreviewNotificationInput,
    ) -> async_graphql::Result<RenderedNotification> {
        let a = root(ctx)?;
        let customer = ids::decode(&input.customer_id, "Customer", "customerId")?;
        let lang = input.language.as_deref().unwrap_or(wf::DEFAULT_LANGUAGE);
        let r = wf::preview(
            core(ctx),
            a,
            input.event,
            input.channel,
            lang,
            input.subject.as_deref(),
            input.body.as_deref(),
            customer,
        )
        .await
        .gql()?;
        Ok(RenderedNotification { subject: r.subject, body: r.body })
    }

    /// Sets a customer's language and channels, or opts them out of every message.
    async fn set_notification_preferences(
        &self,
        ctx: &Context<'_>,
        customer_id: ID,
        input: NotificationPreferencesInput,
    ) -> async_graphql::Result<NotificationPreferences> {
        let a = root(ctx)?;
        let id = ids::decode(&customer_id, "Customer", "customerId")?;
        let p = Preferences {
            tenant_id: a.tenant_id,
            customer_id: id,
            language: input.language,
            email: input.email,
            sms: input.sms,
            whatsapp: input.whatsapp,
            opted_out: input.opted_out,
            updated_at: 0,
        };
        Ok(wf::set_preferences(core(ctx), a, &p).await.gql()?.into())
    }

    /// Sends a logged message again, as a new message rendered afresh; returns the new one.
    async fn resend_notification(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Fast<Notification>> {
        let a = root(ctx)?;
        let n = ids::decode(&id, "Notification", "id")?;
        wf::resend(core(ctx), a, n).await.gql().map(fast(Notification))
    }

    /// Tells the customers behind a router or OLT of planned maintenance (PLANNED_OUTAGE on
    /// their channels); returns how many customers it reaches.
    async fn announce_outage(
        &self,
        ctx: &Context<'_>,
        device_id: ID,
        starts: String,
        ends: String,
        message: String,
    ) -> async_graphql::Result<i32> {
        let a = root(ctx)?;
        let device_id = ids::decode(&device_id, "Device", "deviceId")?;
        let n = wf::announce_outage(core(ctx), a, &Outage { device_id, starts, ends, message }).await.gql()?;
        i32::try_from(n).map_err(|_| crate::error::to_gql(CoreError::internal("too many customers")))
    }
}
