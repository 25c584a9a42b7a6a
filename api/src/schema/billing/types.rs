//! What billing stores, as graph objects: settings and tax rates, invoices and credit notes
//! with their lines, payments with their allocations and refunds, pending charges, dunning
//! events.

use super::{load_customer, money};
use crate::error::Gql;
use crate::fast::{Fast, FastList};
use crate::ids;
use crate::request::require;
use crate::schema::core;
use crate::schema::request_loaders;
use crate::schema::types::{Customer, Money};
use async_graphql::{Context, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use isp_core::auth::Action;
use isp_core::billing::dunning::{self, DunningKind};
use isp_core::billing::gateways::{self, GatewayScheme};
use isp_core::billing::payments;
use isp_core::billing::settings::{self as bsettings, BillingSettings as CoreSettings, TaxRate as CoreTaxRate};
use isp_core::billing::{charges, invoices, BillingMode, InvoiceKind, InvoiceStatus, LineKind, PaymentMethod};
use isp_core::clock::from_ms;

/// A tax rate of a tax class.
#[derive(SimpleObject)]
pub struct TaxRate {
    /// Tax class referenced by plans and charges (`standard`).
    pub tax_class: String,
    /// Name printed on invoices.
    pub name: String,
    /// Rate in basis points (1600 = 16.00 %).
    pub rate_basis_points: i64,
    /// Whether prices include the tax.
    pub inclusive: bool,
}

impl From<CoreTaxRate> for TaxRate {
    fn from(r: CoreTaxRate) -> Self {
        Self { tax_class: r.tax_class, name: r.name, rate_basis_points: r.rate_bp, inclusive: r.inclusive }
    }
}

/// How the tenant bills.
pub struct BillingSettings(pub(super) CoreSettings);

#[Object]
impl BillingSettings {
    /// Fixed day of the month 1-28, or null to bill each subscription on its anniversary.
    async fn billing_day(&self) -> Option<i64> {
        self.0.billing_day
    }
    /// In advance or in arrears.
    async fn mode(&self) -> BillingMode {
        self.0.mode
    }
    /// Days from issue to due date.
    async fn payment_terms_days(&self) -> i64 {
        self.0.payment_terms_days
    }
    /// Invoice number template, e.g. `INV-{YYYY}-{SEQ:5}`.
    async fn invoice_template(&self) -> &str {
        &self.0.invoice_template
    }
    /// Receipt number template.
    async fn receipt_template(&self) -> &str {
        &self.0.receipt_template
    }
    /// Credit note number template.
    async fn credit_note_template(&self) -> &str {
        &self.0.credit_note_template
    }
    /// Reminder this many days before the due date (0: none).
    async fn reminder_days_before(&self) -> i64 {
        self.0.reminder_days_before
    }
    /// Overdue this many days after the due date.
    async fn overdue_after_days(&self) -> i64 {
        self.0.overdue_after_days
    }
    /// Suspension this many days after the due date.
    async fn suspend_after_days(&self) -> i64 {
        self.0.suspend_after_days
    }
    /// Brand color of invoice and receipt PDFs, `#RRGGBB`.
    async fn brand_color(&self) -> &str {
        &self.0.brand_color
    }
    /// Second colour of the PDFs (table headings), `#RRGGBB`; null: a tint of `brandColor`.
    async fn accent_color(&self) -> Option<&str> {
        self.0.accent_color.as_deref()
    }
    /// Content type of the logo printed on PDFs (`image/png`, `image/svg+xml`); null when none.
    async fn logo_content_type(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        let a = require(ctx, Action::InvoiceRead)?;
        Ok(bsettings::logo_info(&core(ctx).db, a.tenant_id).await.gql()?.map(|(t, _)| t))
    }
    /// Address printed on invoices.
    async fn legal_address(&self) -> Option<&str> {
        self.0.legal_address.as_deref()
    }
    /// Tax id printed on invoices.
    async fn tax_id(&self) -> Option<&str> {
        self.0.tax_id.as_deref()
    }
    /// Payment instructions printed on invoices.
    async fn payment_instructions(&self) -> Option<&str> {
        self.0.payment_instructions.as_deref()
    }
    /// Whether billing runs create DRAFT invoices (numbered and sent by `issueInvoices`)
    /// instead of issuing them at once.
    async fn draft_invoices(&self) -> bool {
        self.0.draft_invoices != 0
    }
    /// Whether a payment gateway is configured (secrets are write-only).
    #[graphql(deprecation = "Webhook secrets belong to payment gateways now: read `paymentGateways`.")]
    async fn has_webhook_secret(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        Ok(!self.payment_gateways(ctx).await?.0.is_empty())
    }
    /// The payment gateways whose webhooks the tenant accepts, by provider name (`setPaymentGateway`).
    async fn payment_gateways(&self, ctx: &Context<'_>) -> async_graphql::Result<FastList<PaymentGateway>> {
        let a = require(ctx, Action::InvoiceRead)?;
        Ok(gateways::list(&core(ctx).db, a.tenant_id).await.gql()?.into_iter().map(PaymentGateway).collect())
    }
    /// Tax rates by class.
    async fn tax_rates(&self, ctx: &Context<'_>) -> async_graphql::Result<FastList<TaxRate>> {
        let a = require(ctx, Action::InvoiceRead)?;
        Ok(bsettings::tax_rates(&core(ctx).db, a.tenant_id).await.gql()?.into_iter().map(Into::into).collect())
    }
}

/// A payment gateway whose webhooks the tenant accepts at
/// `POST /webhooks/payments/{provider}?tenant=<slug>`. Its secret is write-only.
pub struct PaymentGateway(pub(super) gateways::Gateway);

#[Object]
impl PaymentGateway {
    /// Provider name as in the webhook URL: lower case, 1-40 of `a-z`, `0-9` and `-`.
    async fn provider(&self) -> &str {
        &self.0.provider
    }
    /// How its webhooks are signed, and the shape of its events.
    async fn scheme(&self) -> GatewayScheme {
        self.0.scheme
    }
    /// When it was configured.
    async fn created_at(&self) -> DateTime<Utc> {
        from_ms(self.0.created_at)
    }
    /// When its scheme or secret last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        from_ms(self.0.updated_at)
    }
}

/// A line of an invoice or credit note.
pub struct InvoiceLine(invoices::InvoiceLine);

#[Object]
impl InvoiceLine {
    /// What it bills.
    async fn kind(&self) -> LineKind {
        self.0.kind
    }
    /// Text.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// First day of the billed cycle.
    async fn period_start(&self) -> Option<&str> {
        self.0.period_start.as_deref()
    }
    /// Last day of the billed cycle.
    async fn period_end(&self) -> Option<&str> {
        self.0.period_end.as_deref()
    }
    /// Subscription billed.
    async fn subscription_id(&self) -> Option<ID> {
        self.0.subscription_id.map(|s| ids::encode("Subscription", s))
    }
    /// Before tax.
    async fn net(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Money>> {
        money(ctx, self.0.net_minor).await
    }
    /// Tax.
    async fn tax(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Money>> {
        money(ctx, self.0.tax_minor).await
    }
    /// Net plus tax.
    async fn total(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Money>> {
        money(ctx, self.0.total_minor).await
    }
    /// Tax rate in basis points.
    async fn tax_rate_basis_points(&self) -> i64 {
        self.0.tax_rate_bp
    }
    /// Whether the tax was included in the price.
    async fn tax_inclusive(&self) -> bool {
        self.0.tax_inclusive != 0
    }
}

/// An invoice or a credit note.
pub struct Invoice(pub invoices::Invoice);

#[Object]
impl Invoice {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode("Invoice", self.0.id)
    }
    /// Invoice or credit note.
    async fn kind(&self) -> InvoiceKind {
        self.0.kind
    }
    /// Document number (null while a draft).
    async fn number(&self) -> Option<&str> {
        self.0.number.as_deref()
    }
    /// Status.
    async fn status(&self) -> InvoiceStatus {
        self.0.status
    }
    /// Customer billed.
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Customer>> {
        load_customer(ctx, self.0.customer_id).await
    }
    /// Issue date.
    async fn issue_date(&self) -> &str {
        &self.0.issue_date
    }
    /// Due date.
    async fn due_date(&self) -> &str {
        &self.0.due_date
    }
    /// Sum of line nets.
    async fn subtotal(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Money>> {
        money(ctx, self.0.subtotal_minor).await
    }
    /// Sum of line taxes.
    async fn tax(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Money>> {
        money(ctx, self.0.tax_minor).await
    }
    /// Sum of line totals.
    async fn total(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Money>> {
        money(ctx, self.0.total_minor).await
    }
    /// Paid so far.
    async fn paid(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Money>> {
        money(ctx, self.0.paid_minor).await
    }
    /// Still owed.
    async fn balance(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Money>> {
        money(ctx, self.0.balance()).await
    }
    /// For a credit note: the invoice it reverses.
    async fn original_invoice_id(&self) -> Option<ID> {
        self.0.original_invoice_id.map(|i| ids::encode("Invoice", i))
    }
    /// Why it was voided.
    async fn void_reason(&self) -> Option<&str> {
        self.0.void_reason.as_deref()
    }
    /// Path of the PDF (`GET` with the same bearer token).
    async fn pdf_url(&self) -> String {
        format!("/invoices/{}/pdf", ids::encode("Invoice", self.0.id).0)
    }
    /// Lines in order.
    async fn lines(&self, ctx: &Context<'_>) -> async_graphql::Result<FastList<InvoiceLine>> {
        let rows = request_loaders(ctx)?.invoice_lines.of(self.0.id).await?;
        Ok(rows.into_iter().map(InvoiceLine).collect())
    }
    /// Payments applied to it.
    async fn allocations(&self, ctx: &Context<'_>) -> async_graphql::Result<FastList<Allocation>> {
        let rows = request_loaders(ctx)?.allocations_by_invoice.of(self.0.id).await?;
        Ok(rows.into_iter().map(Allocation).collect())
    }
    /// Created.
    async fn created_at(&self) -> DateTime<Utc> {
        from_ms(self.0.created_at)
    }
}

/// A part of a payment applied to an invoice.
pub struct Allocation(payments::Allocation);

#[Object]
impl Allocation {
    /// The payment.
    async fn payment_id(&self) -> ID {
        ids::encode("Payment", self.0.payment_id)
    }
    /// The invoice.
    async fn invoice_id(&self) -> ID {
        ids::encode("Invoice", self.0.invoice_id)
    }
    /// Amount applied.
    async fn amount(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Money>> {
        money(ctx, self.0.amount_minor).await
    }
}

/// A refund of (part of) a payment.
pub struct Refund(payments::Refund);

#[Object]
impl Refund {
    /// Amount refunded.
    async fn amount(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Money>> {
        money(ctx, self.0.amount_minor).await
    }
    /// Why.
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    /// When.
    async fn created_at(&self) -> DateTime<Utc> {
        from_ms(self.0.created_at)
    }
}

/// A payment received from a customer.
pub struct Payment(pub payments::Payment);

#[Object]
impl Payment {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode("Payment", self.0.id)
    }
    /// Receipt number.
    async fn receipt_number(&self) -> &str {
        &self.0.receipt_number
    }
    /// Customer who paid.
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Customer>> {
        load_customer(ctx, self.0.customer_id).await
    }
    /// How it was paid.
    async fn method(&self) -> PaymentMethod {
        self.0.method
    }
    /// Reference (bank, card slip, gateway id).
    async fn reference(&self) -> Option<&str> {
        self.0.reference.as_deref()
    }
    /// Amount received.
    async fn amount(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Money>> {
        money(ctx, self.0.amount_minor).await
    }
    /// Amount refunded so far.
    async fn refunded(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Money>> {
        money(ctx, self.0.refunded_minor).await
    }
    /// Date received.
    async fn received_on(&self) -> &str {
        &self.0.received_on
    }
    /// Path of the receipt PDF (`GET` with the same bearer token).
    async fn receipt_url(&self) -> String {
        format!("/payments/{}/receipt", ids::encode("Payment", self.0.id).0)
    }
    /// Invoices it paid.
    async fn allocations(&self, ctx: &Context<'_>) -> async_graphql::Result<FastList<Allocation>> {
        let rows = request_loaders(ctx)?.allocations_by_payment.of(self.0.id).await?;
        Ok(rows.into_iter().map(Allocation).collect())
    }
    /// Refunds.
    async fn refunds(&self, ctx: &Context<'_>) -> async_graphql::Result<FastList<Refund>> {
        let rows = request_loaders(ctx)?.refunds.of(self.0.id).await?;
        Ok(rows.into_iter().map(Refund).collect())
    }
}

/// A charge waiting for the next invoice.
pub struct Charge(pub charges::Charge);

#[Object]
impl Charge {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode("Charge", self.0.id)
    }
    /// One-off or proration adjustment.
    async fn kind(&self) -> LineKind {
        self.0.kind
    }
    /// Text on the invoice.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Amount (negative: a credit).
    async fn amount(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Money>> {
        money(ctx, self.0.amount_minor).await
    }
    /// Tax class.
    async fn tax_class(&self) -> &str {
        &self.0.tax_class
    }
    /// Invoice that billed it.
    async fn invoice_id(&self) -> Option<ID> {
        self.0.invoice_id.map(|i| ids::encode("Invoice", i))
    }
}

/// A recorded dunning step.
pub struct DunningEvent(pub dunning::DunningEvent);

#[Object]
impl DunningEvent {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode("DunningEvent", self.0.id)
    }
    /// Step.
    async fn kind(&self) -> DunningKind {
        self.0.kind
    }
    /// Customer.
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Customer>> {
        load_customer(ctx, self.0.customer_id).await
    }
    /// Invoice concerned.
    async fn invoice_id(&self) -> Option<ID> {
        (self.0.invoice_id > 0).then(|| ids::encode("Invoice", self.0.invoice_id))
    }
    /// Subscription concerned.
    async fn subscription_id(&self) -> Option<ID> {
        (self.0.subscription_id > 0).then(|| ids::encode("Subscription", self.0.subscription_id))
    }
    /// When.
    async fn at(&self) -> DateTime<Utc> {
        from_ms(self.0.at)
    }
    /// When a notification went out (null until a notifications feature sends it).
    async fn notified_at(&self) -> Option<DateTime<Utc>> {
        self.0.notified_at.map(from_ms)
    }
}
