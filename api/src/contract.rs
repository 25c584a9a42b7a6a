//! Service contracts: a typst template per tenant (the built-in [`DEFAULT_TEMPLATE`] until the
//! tenant sets its own with `setContractTemplate`) filled with the customer's, the
//! subscription's and the plan's data, typeset like the invoices (`crate::pdf`).
//!
//! The data reaches the template as typst dictionaries defined before it (`tenant`,
//! `customer`, `subscription`, `plan`, `today`) whose values are escaped string literals, so
//! nothing a customer typed can turn into markup; the template reads `#customer.name`,
//! `#plan.price` and so on.

use crate::pdf::{lit, Document};
use isp_core::auth::{Action, Actor};
use isp_core::billing::settings;
use isp_core::store::{customers, documents, plans, subscriptions, tenants};
use isp_core::{CoreError, Ctx};

/// The contract every tenant starts with.
pub const DEFAULT_TEMPLATE: &str = r#"#set page(paper: "a4", margin: 2cm)
#set text(size: 10pt)
#text(size: 18pt, weight: "bold")[#tenant.name]
#if tenant.address != "" [ \ #tenant.address]
#if tenant.tax_id != "" [ \ Tax ID: #tenant.tax_id]

#align(center)[#text(size: 16pt, weight: "bold")[Internet service contract]]

This contract is made on #today between *#tenant.name* (the provider) and the customer below.

== Customer
#table(columns: (auto, 1fr), stroke: 0.5pt + luma(200),
  [Name], [#customer.name],
  [Account], [#customer.account],
  [Address], [#customer.address],
  [Email], [#customer.email],
  [Phone], [#customer.phone],
  [Tax ID], [#customer.tax_id],
)

== Service
#table(columns: (auto, 1fr), stroke: 0.5pt + luma(200),
  [Plan], [#plan.name],
  [Price], [#plan.price per #plan.period],
  [Speed], [#plan.download down / #plan.upload up],
  [Data quota], [#plan.quota],
  [Access], [#subscription.access_type, login #subscription.username],
  [Start date], [#subscription.start_date],
)

The provider supplies the service above; the customer pays each invoice by its due date.
Unpaid invoices may lead to suspension of the service until they are paid.

#v(2cm)
#grid(columns: (1fr, 1fr), gutter: 2cm,
  [#line(length: 100%) The provider, #tenant.name],
  [#line(length: 100%) The customer, #customer.name],
)
"#;

fn dict(fields: &[(&str, String)]) -> String {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}: {}", lit(v).trim_start_matches('#'))).collect();
    format!("({})", body.join(", "))
}

fn speed(kbps: i64) -> String {
    if kbps >= 1000 && kbps % 1000 == 0 {
        format!("{} Mbit/s", kbps / 1000)
    } else {
        format!("{kbps} kbit/s")
    }
}

fn bytes(b: Option<i64>) -> String {
    match b {
        None => "unlimited".into(),
        Some(b) if b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        Some(b) => format!("{} MiB", b >> 20),
    }
}

/// The data definitions the template reads, for `tenant`, `customer`, `sub` on `plan`.
fn prelude(
    tenant: &tenants::Tenant,
    s: &settings::BillingSettings,
    customer: &customers::Customer,
    sub: &subscriptions::Subscription,
    plan: &plans::Plan,
    today: &str,
) -> String {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    let tenant_d = dict(&[("name", tenant.name.clone()), ("address", o(&s.legal_address)), ("tax_id", o(&s.tax_id))]);
    let customer_d = dict(&[
        ("name", customer.name.clone()),
        ("account", customer.account_number.clone()),
        ("address", o(&customer.address)),
        ("email", o(&customer.email)),
        ("phone", o(&customer.phone)),
        ("tax_id", o(&customer.tax_id)),
    ]);
    let sub_d = dict(&[
        ("username", sub.username.clone()),
        ("access_type", sub.access_type.to_string()),
        ("start_date", sub.start_date.clone()),
        ("static_ipv4", o(&sub.static_ipv4)),
    ]);
    let plan_d = dict(&[
        ("name", plan.name.clone()),
        ("description", o(&plan.description)),
        ("price", isp_core::billing::fmt_money(plan.price_minor, &tenant.currency)),
        ("period", plan.billing_period.to_string().to_lowercase()),
        ("download", speed(plan.download_kbps)),
        ("upload", speed(plan.upload_kbps)),
        ("quota", bytes(plan.data_quota_bytes)),
    ]);
    format!(
        "#let tenant = {tenant_d}\n#let customer = {customer_d}\n#let subscription = {sub_d}\n#let plan = {plan_d}\n\
         #let today = {}\n",
        lit(today).trim_start_matches('#')
    )
}

/// What [`contract_source`] gives: the document and whose it is.
pub struct Contract {
    /// The customer of the subscription.
    pub customer_id: i64,
    /// The subscription's login, for the title and file name.
    pub username: String,
    /// The plan's name, for the title.
    pub plan: String,
    /// The markup to typeset.
    pub doc: Document,
}

/// The contract of subscription `id`, from the tenant's template (or the built-in one).
pub async fn contract_source(ctx: &Ctx, actor: &Actor, id: i64) -> Result<Contract, CoreError> {
    actor.require(Action::DocumentWrite)?;
    let t = actor.tenant_id;
    let sub = subscriptions::get(&ctx.db, t, id).await?;
    let customer = customers::get(&ctx.db, t, sub.customer_id).await?;
    let plan = plans::get(&ctx.db, t, sub.plan_id).await?;
    let tenant = tenants::get(&ctx.db, t).await?;
    let s = settings::get(&ctx.db, t).await?;
    let template = documents::contract_template(&ctx.db, t).await?.unwrap_or_else(|| DEFAULT_TEMPLATE.to_string());
    let today = isp_core::billing::local_date(ctx.clock.now(), &tenant.timezone).to_string();
    let markup = prelude(&tenant, &s, &customer, &sub, &plan, &today) + &template;
    Ok(Contract {
        customer_id: customer.id,
        username: sub.username,
        plan: plan.name,
        doc: Document { markup, logo: None },
    })
}

/// The markup of `template` filled with sample data, to check that a template typesets
/// before it is stored.
pub fn sample(template: &str) -> Document {
    let markup = "#let tenant = (name: \"Sample ISP\", address: \"1 Main Street\", tax_id: \"\")\n\
         #let customer = (name: \"Sample Customer\", account: \"C000001\", address: \"1 Sample Street\", \
         email: \"customer@example.com\", phone: \"\", tax_id: \"\")\n\
         #let subscription = (username: \"sample\", access_type: \"PPPOE\", start_date: \"2026-01-01\", static_ipv4: \"\")\n\
         #let plan = (name: \"Sample plan\", description: \"\", price: \"25.00 USD\", period: \"monthly\", \
         download: \"50 Mbit/s\", upload: \"10 Mbit/s\", quota: \"unlimited\")\n#let today = \"2026-01-01\"\n";
    Document { markup: format!("{markup}{template}"), logo: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_literals_not_markup() {
        let d = dict(&[("name", "#evil \"quoted\" ]".into())]);
        assert_eq!(d, r##"(name: "#evil \"quoted\" ]")"##);
        assert_eq!(speed(50_000), "50 Mbit/s");
        assert_eq!(speed(512), "512 kbit/s");
        assert_eq!(bytes(Some(100 << 30)), "100 GiB");
        assert_eq!(bytes(None), "unlimited");
    }

    #[cfg(feature = "pdf")]
    #[test]
    fn the_default_template_typesets() {
        let pdf = crate::pdf::render(sample(DEFAULT_TEMPLATE)).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(crate::pdf::render(sample("#customer.nonexistent")).is_err());
    }
}
