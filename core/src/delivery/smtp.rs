//! Email over SMTP with lettre: plain (a relay on localhost), STARTTLS (RFC 3207) or TLS from
//! the first byte (RFC 8314), with the tenant's sender identity and Reply-To, a Message-ID made
//! from the message's idempotency key, and attachments.

use super::{ChannelConfig, Outgoing, SendError};
use crate::store::notifications::SmtpSecurity;
use lettre::address::Envelope;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;
use lettre::transport::smtp::Error as SmtpError;
use lettre::Message;
use std::time::{Duration, Instant};

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
/// channel setting ([`key`]). Cloning shares the pool.
///
/// The conversation is lettre's (`AsyncSmtpConnection`: TLS, STARTTLS, AUTH, replies) except
/// for one thing: the message and its end-of-data line go out in one write. lettre writes them
/// in two, and on a connection with Nagle's algorithm on (lettre does not set `TCP_NODELAY`)
/// the small second write waits for the server to acknowledge the first, which a server
/// delays (~40 ms on Linux) until it has something to answer: every message waited ~45 ms
/// (measured with strace against the SMTP sink), capping a delivery worker at ~20 emails/s.
#[derive(Clone)]
pub struct Client(std::sync::Arc<Server>);

/// Where and how a [`Client`] connects, and its idle connections.
struct Server {
    host: String,
    port: u16,
    security: SmtpSecurity,
    credentials: Option<Credentials>,
    timeout: Duration,
    hello: ClientId,
    idle: std::sync::Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

/// Idle connections kept per client, and for how long.
const POOL_SIZE: usize = 4;
const POOL_IDLE: Duration = Duration::from_secs(30);

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

/// A client for the SMTP server of `c`; `timeout` bounds each delivery (connect, TLS, send).
pub fn client(c: &ChannelConfig, timeout: Duration) -> Result<Client, SendError> {
    let host = c.row.host.clone().ok_or_else(|| SendError::Fatal("the channel has no SMTP host".into()))?;
    let port = c.row.port.and_then(|p| u16::try_from(p).ok()).unwrap_or(587);
    let credentials = match (&c.row.username, &c.secret) {
        (Some(user), Some(pass)) => Some(Credentials::new(user.clone(), pass.clone())),
        _ => None,
    };
    let security = c.row.security.unwrap_or(SmtpSecurity::Starttls);
    let hello = ClientId::default();
    Ok(Client(std::sync::Arc::new(Server {
        host,
        port,
        security,
        credentials,
        timeout,
        hello,
        idle: Default::default(),
    })))
}

/// Sends `m` through `client` (the SMTP server of `c`); the Message-ID and the server's reply.
pub async fn send(client: &Client, c: &ChannelConfig, m: &Outgoing) -> Result<String, SendError> {
    let mail = build(c, m)?;
    let id = mail.headers().get_raw("Message-ID").unwrap_or_default().to_string();
    let (envelope, body) = (mail.envelope().clone(), mail.formatted());
    match tokio::time::timeout(client.0.timeout, client.deliver(&envelope, &body)).await {
        Ok(Ok(reply)) => Ok(format!("{id} {}", reply.message().collect::<Vec<_>>().join(" ")).trim().to_string()),
        Ok(Err(e)) if e.is_permanent() => Err(SendError::Fatal(format!("SMTP: {e}"))),
        Ok(Err(e)) => Err(SendError::Retry(format!("SMTP: {e}"))),
        Err(_) => Err(SendError::Retry(format!("SMTP: no answer within {} ms", client.0.timeout.as_millis()))),
    }
}

impl Client {
    /// Hands one message over, on an idle connection when there is one. A pooled connection
    /// the server has closed meanwhile fails before the message is handed over (no reply
    /// came, so nothing was accepted): the message then goes once more on a new connection.
    async fn deliver(&self, envelope: &Envelope, body: &[u8]) -> Result<Response, SmtpError> {
        if let Some(mut conn) = self.take() {
            match transfer(&mut conn, envelope, body).await {
                Ok(reply) => {
                    self.give(conn);
                    return Ok(reply);
                }
                Err(Failed { handed_over: false, error }) if !error.is_transient() && !error.is_permanent() => {
                    conn.abort().await;
                }
                Err(Failed { error, .. }) => {
                    conn.abort().await;
                    return Err(error);
                }
            }
        }
        let mut conn = self.connect().await?;
        match transfer(&mut conn, envelope, body).await {
            Ok(reply) => {
                self.give(conn);
                Ok(reply)
            }
            Err(Failed { error, .. }) => {
                conn.abort().await;
                Err(error)
            }
        }
    }

    /// A new connection: greeting and EHLO, TLS as the channel says, AUTH when it has a login.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SmtpError> {
        let s = &self.0;
        let tls = || TlsParameters::new(s.host.clone());
        let implicit = match s.security {
            SmtpSecurity::Tls => Some(tls()?),
            SmtpSecurity::None | SmtpSecurity::Starttls => None,
        };
        let addr = (s.host.as_str(), s.port);
        let mut conn = AsyncSmtpConnection::connect_tokio1(addr, Some(s.timeout), &s.hello, implicit, None).await?;
        if s.security == SmtpSecurity::Starttls {
            // Refused when the server does not offer it: never fall back to plain text.
            conn.starttls(tls()?, &s.hello).await?;
        }
        if let Some(credentials) = &s.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials).await?;
        }
        Ok(conn)
    }

    /// The most recently used idle connection that has not been idle too long.
    fn take(&self) -> Option<AsyncSmtpConnection> {
        let mut idle = self.0.idle.lock().expect("SMTP pool lock");
        idle.retain(|(_, since)| since.elapsed() < POOL_IDLE);
        idle.pop().map(|(conn, _)| conn)
    }

    /// Keeps `conn` for the next message (unless the pool is full or the connection broke).
    fn give(&self, conn: AsyncSmtpConnection) {
        let mut idle = self.0.idle.lock().expect("SMTP pool lock");
        if idle.len() < POOL_SIZE && !conn.has_broken() {
            idle.push((conn, Instant::now()));
        }
    }
}

/// Why a transfer failed, and whether the message had been handed over (DATA accepted and
/// the content sent) when it did.
struct Failed {
    handed_over: bool,
    error: SmtpError,
}

/// MAIL, RCPT, DATA, then the dot-stuffed content with its end-of-data line in one write.
/// A message lettre would send with SMTPUTF8 or 8BITMIME goes through lettre's own `send`.
async fn transfer(conn: &mut AsyncSmtpConnection, envelope: &Envelope, body: &[u8]) -> Result<Response, Failed> {
    let before = |error| Failed { handed_over: false, error };
    let ascii = body.is_ascii()
        && envelope.from().is_none_or(|a| AsRef::<str>::as_ref(a).is_ascii())
        && envelope.to().iter().all(|a| AsRef::<str>::as_ref(a).is_ascii());
    let Some(text) = std::str::from_utf8(body).ok().filter(|_| ascii) else {
        return conn.send(envelope, body).await.map_err(|error| Failed { handed_over: true, error });
    };
    conn.command(Mail::new(envelope.from().cloned(), vec![])).await.map_err(before)?;
    for to in envelope.to() {
        conn.command(Rcpt::new(to.clone(), vec![])).await.map_err(before)?;
    }
    conn.command(Data).await.map_err(before)?;
    conn.command(DataContent(text)).await.map_err(|error| Failed { handed_over: true, error })
}

/// A message's content as it goes after DATA (RFC 5321 §4.5.2): a line that starts with a
/// dot gets another, and the content ends with CRLF "." CRLF, as lettre encodes it.
struct DataContent<'a>(&'a str);

impl std::fmt::Display for DataContent<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut line_start = true;
        for (i, line) in self.0.split('\n').enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            if line_start && line.starts_with('.') {
                f.write_str(".")?;
            }
            f.write_str(line)?;
            line_start = line.ends_with('\r');
        }
        f.write_str("\r\n.\r\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_lines_that_start_with_a_dot_get_another_and_the_content_ends_the_data() {
        // Lines end with CRLF; a bare LF does not start a line (as lettre's codec has it).
        let text = ".top\r\n.b\r\nc.\r\n..d\n.e\r\n\r\n.\r\nend";
        assert_eq!(DataContent(text).to_string(), "..top\r\n..b\r\nc.\r\n...d\n.e\r\n\r\n..\r\nend\r\n.\r\n");
        assert_eq!(DataContent("").to_string(), "\r\n.\r\n");
    }

    #[test]
    fn the_message_id_is_the_key_at_the_sender_domain() {
        assert_eq!(message_id("invoice:42:EMAIL", "billing@isp.example"), "<invoice.42.EMAIL@isp.example>");
    }
}
