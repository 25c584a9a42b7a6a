//! Email over SMTP with lettre: plain (a relay on localhost), STARTTLS (RFC 3207) or TLS from
//! the first byte (RFC 8314), with the tenant's sender identity and Reply-To, a Message-ID made
//! from the message's idempotency key, and attachments.

use super::{ChannelConfig, Outgoing, SendError};
use crate::store::notifications::SmtpSecurity;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// The Message-ID of message `key` from `sender` (RFC 5322 §3.6.4): the same on every attempt.
pub fn message_id(key: &str, sender: &str) -> String {
    let domain = sender.rsplit_once('@').map(|(_, d)| d).unwrap_or("localhost");
    let local: String =
        key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '.' }).collect();
    format!("<{local}@{domain}>")
}

/// Builds the email of `m` for channel `c`.
pub fn build(c: &ChannelConfig, m: &Outgoing) -> Result<Message, SendError> {
    let bad = |what: &str, e: &dyn std::fmt::Display| SendError::Fatal(format!("{what}: {e}"));
    let sender = c.row.sender.as_deref().ok_or_else(|| SendError::Fatal("the channel has no sender".into()))?;
    let from = Mailbox::new(c.row.sender_name.clone(), sender.parse().map_err(|e| bad("sender", &e))?);
    let to: Mailbox = m.to.parse().map_err(|e| bad("recipient", &e))?;
    let mut b = Message::builder()
        .from(from)
        .to(to)
        .subject(m.subject.clone().unwrap_or_default())
        .message_id(Some(message_id(&m.key, sender)));
    if let Some(r) = &c.row.reply_to {
        b = b.reply_to(r.parse().map_err(|e| bad("reply-to", &e))?);
    }
    let text = SinglePart::plain(m.body.clone());
    let mail = if m.attachments.is_empty() {
        b.singlepart(text)
    } else {
        let mut parts = MultiPart::mixed().singlepart(text);
        for a in &m.attachments {
            let ct = ContentType::parse(&a.content_type).map_err(|e| bad("attachment type", &e))?;
            parts = parts.singlepart(Attachment::new(a.filename.clone()).body(a.data.clone(), ct));
        }
        b.multipart(parts)
    };
    mail.map_err(|e| bad("message", &e))
}

/// An SMTP client for the channel's server, with a pool of open connections (each message
/// would otherwise pay a TCP connect, EHLO, STARTTLS and AUTH); the Worker keeps one per
/// channel setting ([`key`]).
pub type Client = AsyncSmtpTransport<Tokio1Executor>;

/// What identifies a channel's client: the server and the login (a changed setting makes a
/// new client).
pub fn key(c: &ChannelConfig) -> String {
    format!(
        "{}\u{0}{:?}\u{0}{:?}\u{0}{:?}\u{0}{:?}",
        c.row.host.as_deref().unwrap_or_default(),
        c.row.port,
        c.row.security,
        c.row.username,
        c.secret
    )
}

/// A client for the SMTP server of `c`.
pub fn client(c: &ChannelConfig, timeout: Duration) -> Result<Client, SendError> {
    let host = c.row.host.as_deref().ok_or_else(|| SendError::Fatal("the channel has no SMTP host".into()))?;
    let port = c.row.port.and_then(|p| u16::try_from(p).ok()).unwrap_or(587);
    let tls = |e: lettre::transport::smtp::Error| SendError::Fatal(format!("SMTP TLS setup: {e}"));
    let builder = match c.row.security.unwrap_or(SmtpSecurity::Starttls) {
        SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(tls)?,
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(tls)?,
    };
    let pool = PoolConfig::new().max_size(4).idle_timeout(Duration::from_secs(30));
    let mut builder = builder.port(port).timeout(Some(timeout)).pool_config(pool);
    if let (Some(user), Some(pass)) = (&c.row.username, &c.secret) {
        builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
    }
    Ok(builder.build())
}

/// Sends `m` through `client` (the SMTP server of `c`); the Message-ID and the server's reply.
pub async fn send(client: &Client, c: &ChannelConfig, m: &Outgoing) -> Result<String, SendError> {
    let mail = build(c, m)?;
    let id = mail.headers().get_raw("Message-ID").unwrap_or_default().to_string();
    match client.send(mail).await {
        Ok(reply) => Ok(format!("{id} {}", reply.message().collect::<Vec<_>>().join(" ")).trim().to_string()),
        Err(e) if e.is_permanent() => Err(SendError::Fatal(format!("SMTP: {e}"))),
        Err(e) => Err(SendError::Retry(format!("SMTP: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_id_is_the_key_at_the_sender_domain() {
        assert_eq!(message_id("invoice:42:EMAIL", "billing@isp.example"), "<invoice.42.EMAIL@isp.example>");
    }
}
