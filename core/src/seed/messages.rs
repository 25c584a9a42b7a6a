//! The demo's notification channels and the messages its history sent.
//!
//! While the history is written the demo tenant has an SMTP channel (a relay on
//! `localhost:1025`) and an SMS channel (a generic HTTP provider on `127.0.0.1:9`, the discard
//! port) enabled, so its invoices, receipts, reminders, suspensions and quota warnings queue
//! their messages as they would in production. They are then "delivered" by a transport of
//! the seed's own that accepts everything, and both channels are disabled: a fresh
//! `isp serve --demo` sends nothing anywhere until someone points them at a real server.

use crate::auth::Actor;
use crate::delivery::{BoxFut, ChannelConfig, Outgoing, SendError, Transport, Worker};
use crate::error::CoreResult;
use crate::store::notifications::{Channel, Provider, SmtpSecurity};
use crate::workflows::notifications::{self as wf, ChannelInput};
use crate::Ctx;
use std::sync::Arc;

fn email(enabled: bool) -> ChannelInput {
    ChannelInput {
        channel: Channel::Email,
        enabled,
        provider: Provider::Smtp,
        host: Some("localhost".into()),
        port: Some(1025),
        security: Some(SmtpSecurity::None),
        username: None,
        secret: None,
        sender: Some("billing@demo-isp.com".into()),
        sender_name: Some("Demo ISP".into()),
        reply_to: Some("support@demo-isp.com".into()),
        url: None,
        body_template: None,
        content_type: None,
        quiet_start: None,
        quiet_end: None,
    }
}

fn sms(enabled: bool) -> ChannelInput {
    ChannelInput {
        channel: Channel::Sms,
        enabled,
        provider: Provider::HttpTemplate,
        host: None,
        port: None,
        security: None,
        username: None,
        secret: Some("demo-api-key".into()),
        sender: Some("DemoISP".into()),
        sender_name: None,
        reply_to: None,
        url: Some("http://127.0.0.1:9/sms".into()),
        body_template: Some(r#"{"to": {{ to|tojson }}, "from": {{ from|tojson }}, "text": {{ body|tojson }}}"#.into()),
        content_type: Some("application/json".into()),
        quiet_start: Some("22:00".into()),
        quiet_end: Some("07:00".into()),
    }
}

/// Enables the demo's channels for its history.
pub(super) async fn setup(ctx: &Ctx, owner: &Actor) -> CoreResult<()> {
    wf::set_channel(ctx, owner, &email(true)).await?;
    // Quiet hours would hold the history's SMS back; they are set when the channel is disabled.
    wf::set_channel(ctx, owner, &ChannelInput { quiet_start: None, quiet_end: None, ..sms(true) }).await?;
    Ok(())
}

/// Accepts every message, as a provider would.
struct Accepting;

impl Transport for Accepting {
    fn send<'a>(&'a self, _c: &'a ChannelConfig, m: &'a Outgoing) -> BoxFut<'a, Result<String, SendError>> {
        Box::pin(async move { Ok(format!("demo-{}", m.key.replace(':', "-").to_lowercase())) })
    }
}

/// Delivers what the history queued, then disables the channels.
pub(super) async fn finish(ctx: &Ctx, owner: &Actor) -> CoreResult<()> {
    Worker::new(ctx.clone(), None).only_tenant(owner.tenant_id).with_transport(Arc::new(Accepting)).drain().await?;
    wf::set_channel(ctx, owner, &email(false)).await?;
    wf::set_channel(ctx, owner, &sms(false)).await?;
    Ok(())
}
