//! Notification templates: minijinja, rendered as plain text, with undefined variables an
//! error, so a template that names a variable its event does not have fails when it is saved
//! (rendered against [`sample`]) instead of when it is sent.
//!
//! Variables (every event has `customer`, `tenant` and `links`; the others as listed):
//!
//! | variable | what | events |
//! |---|---|---|
//! | `customer.name`, `customer.account_number`, `customer.email`, `customer.phone` | the customer | all |
//! | `tenant.name`, `tenant.currency` | the ISP | all |
//! | `links.portal` | the customer portal's URL (config `notify.portal_url`) | all |
//! | `invoice.number`, `invoice.total`, `invoice.balance`, `invoice.issue_date`, `invoice.due_date`, `invoice.link` | amounts formatted in the tenant's currency (`29.99 USD`), dates `YYYY-MM-DD` | INVOICE_ISSUED, PAYMENT_REMINDER, INVOICE_OVERDUE |
//! | `days_before` | days until the due date | PAYMENT_REMINDER |
//! | `payment.amount`, `payment.receipt`, `payment.received_on`, `payment.method`, `payment.link` | the payment | PAYMENT_RECEIVED |
//! | `subscription.username`, `subscription.plan` | the service | SUSPENDED, REACTIVATED, QUOTA_80, QUOTA_100 |
//! | `reason` | why it was suspended | SUSPENDED |
//! | `quota.percent`, `quota.used`, `quota.limit`, `quota.period_end` | usage in GB (or hours for a time quota) | QUOTA_80, QUOTA_100 |
//! | `ticket.number`, `ticket.subject`, `ticket.message` | the ticket and the reply | TICKET_CREATED, TICKET_REPLIED |
//! | `outage.device`, `outage.starts`, `outage.ends`, `outage.message` | planned work, local times | PLANNED_OUTAGE |

use crate::error::{CoreError, CoreResult};
use crate::store::notifications::{Channel, NotifyEvent};
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{json, Value};

/// Longest template body accepted.
pub const MAX_BODY: usize = 20_000;
/// Longest subject accepted.
pub const MAX_SUBJECT: usize = 300;

fn env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // A template cannot loop for ever: rendering stops after this many instructions.
    env.set_fuel(Some(100_000));
    env
}

/// Renders template text `src` with `vars`.
pub fn render(src: &str, vars: &Value) -> Result<String, String> {
    env().render_str(src, vars).map_err(|e| {
        let mut msg = e.to_string();
        if let Some(d) = e.detail() {
            if !msg.contains(d) {
                msg = format!("{msg}: {d}");
            }
        }
        msg
    })
}

/// Checks a template for `event` on `channel` before it is saved: it must render against the
/// event's [`sample`] variables; an email needs a subject of one line. VALIDATION naming
/// `subject` or `body` otherwise.
pub fn check(event: NotifyEvent, channel: Channel, subject: Option<&str>, body: &str) -> CoreResult<()> {
    let vars = sample(event);
    if body.trim().is_empty() || body.len() > MAX_BODY {
        return Err(CoreError::validation("body", format!("must be 1-{MAX_BODY} bytes")));
    }
    render(body, &vars).map_err(|e| CoreError::validation("body", format!("does not render: {e}")))?;
    match (channel, subject) {
        (Channel::Email, None) => return Err(CoreError::validation("subject", "an email template needs a subject")),
        (Channel::Email, Some(s)) => {
            if s.trim().is_empty() || s.len() > MAX_SUBJECT {
                return Err(CoreError::validation("subject", format!("must be 1-{MAX_SUBJECT} bytes")));
            }
            let out =
                render(s, &vars).map_err(|e| CoreError::validation("subject", format!("does not render: {e}")))?;
            if out.contains(['\r', '\n']) {
                return Err(CoreError::validation("subject", "must render to one line"));
            }
        }
        (_, Some(_)) => return Err(CoreError::validation("subject", "only email templates have a subject")),
        (_, None) => {}
    }
    Ok(())
}

/// Example variables of `event`: what a preview without real data shows and what a template
/// is checked against.
pub fn sample(event: NotifyEvent) -> Value {
    let mut v = json!({
        "customer": {"name": "Ana Silva", "account_number": "C-00042", "email": "ana@example.com",
                     "phone": "+15550100"},
        "tenant": {"name": "Demo ISP", "currency": "USD"},
        "links": {"portal": "https://portal.example.com"},
    });
    let invoice = json!({"number": "INV-2026-00042", "total": "29.99 USD", "balance": "29.99 USD",
        "issue_date": "2026-12-01", "due_date": "2026-12-15", "link": "https://portal.example.com/invoices/42"});
    let subscription = json!({"username": "ana.silva", "plan": "Home 50"});
    let extra = match event {
        NotifyEvent::InvoiceIssued | NotifyEvent::InvoiceOverdue => json!({"invoice": invoice}),
        NotifyEvent::PaymentReminder => json!({"invoice": invoice, "days_before": 3}),
        NotifyEvent::PaymentReceived => json!({"payment": {"amount": "29.99 USD", "receipt": "RC-2026-00042",
            "received_on": "2026-12-03", "method": "CASH", "link": "https://portal.example.com/receipts/42"}}),
        NotifyEvent::Suspended => json!({"subscription": subscription, "reason": "invoice INV-2026-00042 overdue"}),
        NotifyEvent::Reactivated => json!({"subscription": subscription}),
        NotifyEvent::Quota80 | NotifyEvent::Quota100 => json!({"subscription": subscription,
            "quota": {"percent": if event == NotifyEvent::Quota80 { 80 } else { 100 }, "used": "400.0 GB",
                      "limit": "500.0 GB", "period_end": "2026-12-31"}}),
        NotifyEvent::TicketCreated | NotifyEvent::TicketReplied => json!({"ticket": {"number": "T-1042",
            "subject": "No connection since this morning", "message": "We are looking into it."}}),
        NotifyEvent::PlannedOutage => json!({"outage": {"device": "olt-north", "starts": "2026-12-10 01:00",
            "ends": "2026-12-10 03:00", "message": "Firmware upgrade"}}),
    };
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    v
}

/// A default template: (event, channel, language, subject, body).
pub type DefaultTemplate = (NotifyEvent, Channel, &'static str, Option<&'static str>, String);

/// The languages the default templates come in.
pub const LANGUAGES: [&str; 2] = ["en", "es"];

/// The signature under every default email.
const SIGN: &str = "\n\n{{ tenant.name }}\n{{ links.portal }}";

/// The default templates every tenant starts with, in English and Spanish; SMS and WhatsApp
/// share their text.
pub fn defaults() -> Vec<DefaultTemplate> {
    use Channel::*;
    use NotifyEvent::*;
    // (event, language, email subject, email body, short text for SMS / WhatsApp)
    let table: [(NotifyEvent, &str, &str, &str, Option<&str>); 22] = [
        (InvoiceIssued, "en", "Invoice {{ invoice.number }} from {{ tenant.name }}",
         "Hello {{ customer.name }},\n\nyour invoice {{ invoice.number }} for {{ invoice.total }} is ready. Please pay it by {{ invoice.due_date }}.\nYou can also see it at {{ invoice.link }}.", None),
        (InvoiceIssued, "es", "Factura {{ invoice.number }} de {{ tenant.name }}",
         "Hola {{ customer.name }}:\n\nsu factura {{ invoice.number }} por {{ invoice.total }} está lista. Por favor, páguela antes del {{ invoice.due_date }}.\nTambién puede verla en {{ invoice.link }}.", None),
        (PaymentReceived, "en", "Receipt {{ payment.receipt }}: payment received",
         "Hello {{ customer.name }},\n\nwe received your payment of {{ payment.amount }} on {{ payment.received_on }}. Thank you!\nReceipt: {{ payment.receipt }} ({{ payment.link }})", None),
        (PaymentReceived, "es", "Recibo {{ payment.receipt }}: pago recibido",
         "Hola {{ customer.name }}:\n\nhemos recibido su pago de {{ payment.amount }} el {{ payment.received_on }}. ¡Gracias!\nRecibo: {{ payment.receipt }} ({{ payment.link }})", None),
        (PaymentReminder, "en", "Reminder: invoice {{ invoice.number }} is due on {{ invoice.due_date }}",
         "Hello {{ customer.name }},\n\ninvoice {{ invoice.number }} ({{ invoice.balance }} left to pay) is due in {{ days_before }} days, on {{ invoice.due_date }}.",
         Some("{{ tenant.name }}: invoice {{ invoice.number }}, {{ invoice.balance }}, is due on {{ invoice.due_date }}.")),
        (PaymentReminder, "es", "Recordatorio: la factura {{ invoice.number }} vence el {{ invoice.due_date }}",
         "Hola {{ customer.name }}:\n\nla factura {{ invoice.number }} ({{ invoice.balance }} pendiente) vence en {{ days_before }} días, el {{ invoice.due_date }}.",
         Some("{{ tenant.name }}: la factura {{ invoice.number }}, {{ invoice.balance }}, vence el {{ invoice.due_date }}.")),
        (InvoiceOverdue, "en", "Invoice {{ invoice.number }} is overdue",
         "Hello {{ customer.name }},\n\ninvoice {{ invoice.number }} was due on {{ invoice.due_date }} and {{ invoice.balance }} is still open. Please pay it to keep your service.",
         Some("{{ tenant.name }}: invoice {{ invoice.number }} is overdue, {{ invoice.balance }} open. Please pay to keep your service.")),
        (InvoiceOverdue, "es", "La factura {{ invoice.number }} está vencida",
         "Hola {{ customer.name }}:\n\nla factura {{ invoice.number }} venció el {{ invoice.due_date }} y quedan {{ invoice.balance }} por pagar. Por favor, páguela para mantener su servicio.",
         Some("{{ tenant.name }}: la factura {{ invoice.number }} está vencida, {{ invoice.balance }} pendiente.")),
        (Suspended, "en", "Your service {{ subscription.username }} is suspended",
         "Hello {{ customer.name }},\n\nyour service {{ subscription.username }} ({{ subscription.plan }}) has been suspended: {{ reason }}.",
         Some("{{ tenant.name }}: your service {{ subscription.username }} is suspended ({{ reason }}).")),
        (Suspended, "es", "Su servicio {{ subscription.username }} está suspendido",
         "Hola {{ customer.name }}:\n\nsu servicio {{ subscription.username }} ({{ subscription.plan }}) ha sido suspendido: {{ reason }}.",
         Some("{{ tenant.name }}: su servicio {{ subscription.username }} está suspendido ({{ reason }}).")),
        (Reactivated, "en", "Your service {{ subscription.username }} is active again",
         "Hello {{ customer.name }},\n\nyour service {{ subscription.username }} ({{ subscription.plan }}) is active again. Thank you!",
         Some("{{ tenant.name }}: your service {{ subscription.username }} is active again.")),
        (Reactivated, "es", "Su servicio {{ subscription.username }} está activo de nuevo",
         "Hola {{ customer.name }}:\n\nsu servicio {{ subscription.username }} ({{ subscription.plan }}) está activo de nuevo. ¡Gracias!",
         Some("{{ tenant.name }}: su servicio {{ subscription.username }} está activo de nuevo.")),
        (Quota80, "en", "You have used {{ quota.percent }} % of your quota",
         "Hello {{ customer.name }},\n\n{{ subscription.username }} has used {{ quota.used }} of {{ quota.limit }} ({{ quota.percent }} %) in the period ending {{ quota.period_end }}.",
         Some("{{ tenant.name }}: {{ subscription.username }} used {{ quota.percent }}% of its quota ({{ quota.used }} of {{ quota.limit }}).")),
        (Quota80, "es", "Ha usado el {{ quota.percent }} % de su cuota",
         "Hola {{ customer.name }}:\n\n{{ subscription.username }} ha usado {{ quota.used }} de {{ quota.limit }} ({{ quota.percent }} %) en el periodo que termina el {{ quota.period_end }}.",
         Some("{{ tenant.name }}: {{ subscription.username }} usó el {{ quota.percent }}% de su cuota ({{ quota.used }} de {{ quota.limit }}).")),
        (Quota100, "en", "Your quota is used up",
         "Hello {{ customer.name }},\n\n{{ subscription.username }} has used all of its {{ quota.limit }} for the period ending {{ quota.period_end }}.",
         Some("{{ tenant.name }}: {{ subscription.username }} has used all of its quota ({{ quota.limit }}).")),
        (Quota100, "es", "Su cuota está agotada",
         "Hola {{ customer.name }}:\n\n{{ subscription.username }} ha usado toda su cuota de {{ quota.limit }} del periodo que termina el {{ quota.period_end }}.",
         Some("{{ tenant.name }}: {{ subscription.username }} agotó su cuota ({{ quota.limit }}).")),
        (TicketCreated, "en", "[{{ ticket.number }}] {{ ticket.subject }}",
         "Hello {{ customer.name }},\n\nwe have opened ticket {{ ticket.number }} for you: {{ ticket.subject }}.\n\n{{ ticket.message }}", None),
        (TicketCreated, "es", "[{{ ticket.number }}] {{ ticket.subject }}",
         "Hola {{ customer.name }}:\n\nhemos abierto el ticket {{ ticket.number }}: {{ ticket.subject }}.\n\n{{ ticket.message }}", None),
        (TicketReplied, "en", "Re: [{{ ticket.number }}] {{ ticket.subject }}",
         "Hello {{ customer.name }},\n\n{{ ticket.message }}", None),
        (TicketReplied, "es", "Re: [{{ ticket.number }}] {{ ticket.subject }}",
         "Hola {{ customer.name }}:\n\n{{ ticket.message }}", None),
        (PlannedOutage, "en", "Planned maintenance {{ outage.starts }} to {{ outage.ends }}",
         "Hello {{ customer.name }},\n\nyour service may be interrupted from {{ outage.starts }} to {{ outage.ends }}: {{ outage.message }}.",
         Some("{{ tenant.name }}: planned maintenance {{ outage.starts }} to {{ outage.ends }}: {{ outage.message }}.")),
        (PlannedOutage, "es", "Mantenimiento programado {{ outage.starts }} a {{ outage.ends }}",
         "Hola {{ customer.name }}:\n\nsu servicio puede interrumpirse de {{ outage.starts }} a {{ outage.ends }}: {{ outage.message }}.",
         Some("{{ tenant.name }}: mantenimiento programado {{ outage.starts }} a {{ outage.ends }}: {{ outage.message }}.")),
    ];
    let mut out = Vec::new();
    for (event, lang, subject, body, short) in table {
        out.push((event, Email, lang, Some(subject), format!("{body}{SIGN}")));
        if let Some(s) = short {
            out.push((event, Sms, lang, None, s.to_string()));
            out.push((event, Whatsapp, lang, None, s.to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_template_passes_its_own_check() {
        let all = defaults();
        for (event, channel, lang, subject, body) in &all {
            check(*event, *channel, *subject, body).unwrap_or_else(|e| panic!("{event} {channel} {lang}: {e}"));
        }
        // Every event has an email template in every language.
        for event in NotifyEvent::ALL {
            for lang in LANGUAGES {
                assert!(all.iter().any(|d| d.0 == *event && d.1 == Channel::Email && d.2 == lang), "{event} {lang}");
            }
        }
    }

    #[test]
    fn a_broken_or_unknown_variable_is_a_validation_error() {
        let e = check(NotifyEvent::PaymentReceived, Channel::Email, Some("Hi"), "{{ payment.amount ").unwrap_err();
        assert!(matches!(e, CoreError::Validation { ref field, .. } if field == "body"), "{e:?}");
        let e = check(NotifyEvent::PaymentReceived, Channel::Email, Some("Hi"), "{{ invoice.number }}").unwrap_err();
        assert!(e.to_string().contains("undefined"), "{e}");
        let e = check(NotifyEvent::Quota80, Channel::Sms, Some("no"), "{{ quota.percent }}").unwrap_err();
        assert!(matches!(e, CoreError::Validation { ref field, .. } if field == "subject"), "{e:?}");
        assert_eq!(
            render("{{ customer.name }} owes {{ invoice.balance }}", &sample(NotifyEvent::InvoiceOverdue)).unwrap(),
            "Ana Silva owes 29.99 USD"
        );
    }

    #[test]
    fn a_template_cannot_run_for_ever() {
        let e = render("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}", &json!({}));
        assert!(e.is_err());
    }
}
