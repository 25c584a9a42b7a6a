//! SMS and WhatsApp over HTTP providers with reqwest: a generic provider whose request body
//! is a template of the tenant's (variables `to`, `from`, `body`, `key`; `{{ body|tojson }}`
//! for JSON), and the Twilio shape, a form POST of `To`, `From` and `Body` with the account
//! and token as basic auth. Both send the message's idempotency key as `Idempotency-Key`
//! (Twilio also reads `I-Twilio-Idempotency-Token`).

use super::{ChannelConfig, Outgoing, SendError};
use crate::notify::template;
use crate::store::notifications::Channel;
use serde_json::json;

/// Classifies an HTTP answer: 2xx is accepted (the provider's id from its JSON `sid`, `id`,
/// `message_id` or `messageId`, else the status), 408, 429 and 5xx are worth a retry, any
/// other status is final.
async fn answer(resp: Result<reqwest::Response, reqwest::Error>) -> Result<String, SendError> {
    let resp = resp.map_err(|e| SendError::Retry(format!("HTTP: {e}")))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if status.is_success() {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let id = ["sid", "id", "message_id", "messageId"].iter().find_map(|k| match &v[k] {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
        return Ok(id.unwrap_or_else(|| format!("HTTP {}", status.as_u16())));
    }
    let snippet: String = text.chars().take(200).collect();
    let msg = format!("HTTP {}: {snippet}", status.as_u16());
    if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
        Err(SendError::Retry(msg))
    } else {
        Err(SendError::Fatal(msg))
    }
}

fn url(c: &ChannelConfig) -> Result<&str, SendError> {
    c.row.url.as_deref().ok_or_else(|| SendError::Fatal("the channel has no URL".into()))
}

/// Sends `m` through a generic provider: POST of the rendered body template.
pub async fn send_templated(http: &reqwest::Client, c: &ChannelConfig, m: &Outgoing) -> Result<String, SendError> {
    let tpl = c.row.body_template.as_deref().unwrap_or("");
    let vars = json!({"to": m.to, "from": c.row.sender.clone().unwrap_or_default(), "body": m.body, "key": m.key});
    let body = template::render(tpl, &vars).map_err(|e| SendError::Fatal(format!("body template: {e}")))?;
    let ct = c.row.content_type.clone().unwrap_or_else(|| "application/json".into());
    let mut req = http.post(url(c)?).header("content-type", ct).header("idempotency-key", &m.key).body(body);
    req = match (&c.row.username, &c.secret) {
        (Some(u), s) => req.basic_auth(u, s.as_deref()),
        (None, Some(s)) => req.bearer_auth(s),
        (None, None) => req,
    };
    answer(req.send().await).await
}

/// Sends `m` the Twilio way: form POST of To, From, Body, basic auth account:token.
/// WhatsApp numbers get Twilio's `whatsapp:` prefix.
pub async fn send_twilio(http: &reqwest::Client, c: &ChannelConfig, m: &Outgoing) -> Result<String, SendError> {
    let wa = |n: &str| {
        if m.channel == Channel::Whatsapp && !n.starts_with("whatsapp:") {
            format!("whatsapp:{n}")
        } else {
            n.to_string()
        }
    };
    let from = wa(c.row.sender.as_deref().unwrap_or(""));
    let form = [("To", wa(&m.to)), ("From", from), ("Body", m.body.clone())];
    let user = c.row.username.clone().unwrap_or_default();
    let req = http
        .post(url(c)?)
        .basic_auth(user, c.secret.as_deref())
        .header("idempotency-key", &m.key)
        .header("i-twilio-idempotency-token", &m.key)
        .form(&form);
    answer(req.send().await).await
}
