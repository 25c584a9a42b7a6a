//! Billing in the graph: settings and tax rates, billing preview and runs, invoices and
//! credit notes, payments and refunds, balances and statements, dunning, reports.

use super::types::{Customer, Money};
use super::{connection, core, tenant_currency};
use crate::error::{found, invalid, Gql};
use crate::ids::{self, page_args};
use crate::loaders::load_err;
use crate::request::{actor, require};
use crate::schema::request_loaders;
use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, InputObject, MaybeUndefined, Object, SimpleObject, ID};
use chrono::{DateTime, NaiveDate, Utc};
use isp_core::auth::Action;
use isp_core::billing::dunning::{self, DunningKind};
use isp_core::billing::invoices::{self, InvoiceFilter};
use isp_core::billing::ledger::{self, LedgerKind};
use isp_core::billing::payments::{self, NewPayment};
use isp_core::billing::run::{self, PlannedInvoice};
use isp_core::billing::settings::{
    self as bsettings, BillingSettings as CoreSettings, LogoChange, TaxRate as CoreTaxRate,
};
use isp_core::billing::{charges, reports, BillingMode, InvoiceKind, InvoiceStatus, LineKind, PaymentMethod};
use isp_core::clock::from_ms;
use isp_core::store::page::{Cursor as Pos, SortKey};
use isp_core::CoreError;

type Conn<N> = Connection<ids::Cursor, N, EmptyFields>;

/// A date argument; absent means today in the tenant's time zone.
async fn date_arg(field: &str, v: Option<String>, ctx: &Context<'_>) -> async_graphql::Result<NaiveDate> {
    match v {
        Some(s) => NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|_| invalid(field, "must be a date YYYY-MM-DD")),
        None => isp_core::billing::tenant_today(core(ctx), actor(ctx)?.tenant_id).await.gql(),
    }
}

async fn money(ctx: &Context<'_>, amount: i64) -> async_graphql::Result<Money> {
    Ok(Money::new(amount, &tenant_currency(ctx).await?))
}

async fn load_customer(ctx: &Context<'_>, id: i64) -> async_graphql::Result<Customer> {
    require(ctx, Action::CustomerRead)?;
    let c = request_loaders(ctx)?.customers.load_one(id).await.map_err(load_err)?;
    c.map(Customer).ok_or_else(|| crate::error::to_gql(CoreError::NotFound("customer")))
}

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
        Self { tax_class: r.tax_class, name: r.name, rate_basis_points: r.rate_bp, inclusive: r.inclusive != 0 }
    }
}

/// How the tenant bills.
pub struct BillingSettings(CoreSettings);

#[Object]
impl BillingSettings {
    /// Fixed day of the month 1-28, or 0 to bill on each subscription's anniversary.
    async fn billing_day(&self) -> i64 {
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
    /// Whether a payment webhook secret is set (the secret itself is write-only).
    async fn has_webhook_secret(&self) -> bool {
        self.0.webhook_secret_enc.is_some()
    }
    /// Tax rates by class.
    async fn tax_rates(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TaxRate>> {
        let a = require(ctx, Action::InvoiceRead)?;
        Ok(bsettings::tax_rates(&core(ctx).db, a.tenant_id).await.gql()?.into_iter().map(Into::into).collect())
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
    async fn net(&self, ctx: &Context<'_>) -> async_graphql::Result<Money> {
        money(ctx, self.0.net_minor).await
    }
    /// Tax.
    async fn tax(&self, ctx: &Context<'_>) -> async_graphql::Result<Money> {
        money(ctx, self.0.tax_minor).await
    }
    /// Net plus tax.
    async fn total(&self, ctx: &Context<'_>) -> async_graphql::Result<Money> {
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
    async fn id(&self) -> ID {
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
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Customer> {
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
    async fn subtotal(&self, ctx: &Context<'_>) -> async_graphql::Result<Money> {
        money(ctx, self.0.subtotal_minor).await
    }
    /// Sum of line taxes.
    async fn tax(&self, ctx: &Context<'_>) -> async_graphql::Result<Money> {
        money(ctx, self.0.tax_minor).await
    }
    /// Sum of line totals.
    async fn total(&self, ctx: &Context<'_>) -> async_graphql::Result<Money> {
        money(ctx, self.0.total_minor).await
    }
    /// Paid so far.
    async fn paid(&self, ctx: &Context<'_>) -> async_graphql::Result<Money> {
        money(ctx, self.0.paid_minor).await
    }
    /// Still owed.
    async fn balance(&self, ctx: &Context<'_>) -> async_graphql::Result<Money> {
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
    async fn lines(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<InvoiceLine>> {
        let a = require(ctx, Action::InvoiceRead)?;
        Ok(invoices::lines(&core(ctx).db, a.tenant_id, &[self.0.id])
            .await
            .gql()?
            .into_iter()
            .map(InvoiceLine)
            .collect())
    }
    /// Payments applied to it.
    async fn allocations(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Allocation>> {
        let a = require(ctx, Action::InvoiceRead)?;
        Ok(payments::allocations(&core(ctx).db, a.tenant_id, self.0.id, true)
            .await
            .gql()?
            .into_iter()
            .map(Allocation)
            .collect())
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
    async fn amount(&self, ctx: &Context<'_>) -> async_graphql::Result<Money> {
        money(ctx, self.0.amount_minor).await
    }
}

/// A refund of (part of) a payment.
pub struct Refund(payments::Refund);

#[Object]
impl Refund {
    /// Amount refunded.
    async fn amount(&self, ctx: &Context<'_>) -> async_graphql::Result<Money> {
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
    async fn id(&self) -> ID {
        ids::encode("Payment", self.0.id)
    }
    /// Receipt number.
    async fn receipt_number(&self) -> &str {
        &self.0.receipt_number
    }
    /// Customer who paid.
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Customer> {
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
    async fn amount(&self, ctx: &Context<'_>) -> async_graphql::Result<Money> {
        money(ctx, self.0.amount_minor).await
    }
    /// Amount refunded so far.
    async fn refunded(&self, ctx: &Context<'_>) -> async_graphql::Result<Money> {
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
    async fn allocations(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Allocation>> {
        let a = require(ctx, Action::InvoiceRead)?;
        Ok(payments::allocations(&core(ctx).db, a.tenant_id, self.0.id, false)
            .await
            .gql()?
            .into_iter()
            .map(Allocation)
            .collect())
    }
    /// Refunds.
    async fn refunds(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Refund>> {
        let a = require(ctx, Action::InvoiceRead)?;
        Ok(payments::refunds(&core(ctx).db, a.tenant_id, self.0.id).await.gql()?.into_iter().map(Refund).collect())
    }
}

/// A line a billing run would create.
#[derive(SimpleObject)]
pub struct PreviewLine {
    /// What it bills.
    pub kind: LineKind,
    /// Text.
    pub description: String,
    /// Subscription.
    pub subscription_id: Option<ID>,
    /// First day of the cycle.
    pub period_start: Option<String>,
    /// Last day of the cycle.
    pub period_end: Option<String>,
    /// Before tax.
    pub net: Money,
    /// Tax.
    pub tax: Money,
    /// Total.
    pub total: Money,
}

/// An invoice a billing run would create.
pub struct PreviewInvoice(PlannedInvoice, String);

#[Object]
impl PreviewInvoice {
    /// Customer to bill.
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Customer> {
        load_customer(ctx, self.0.customer_id).await
    }
    /// Issue date.
    async fn issue_date(&self) -> String {
        self.0.issue_date.to_string()
    }
    /// Due date.
    async fn due_date(&self) -> String {
        self.0.due_date.to_string()
    }
    /// Lines.
    async fn lines(&self) -> Vec<PreviewLine> {
        let m = |a| Money::new(a, &self.1);
        self.0
            .lines
            .iter()
            .map(|l| PreviewLine {
                kind: l.kind,
                description: l.description.clone(),
                subscription_id: l.subscription_id.map(|s| ids::encode("Subscription", s)),
                period_start: l.period_start.map(|d| d.to_string()),
                period_end: l.period_end.map(|d| (d - chrono::Duration::days(1)).to_string()),
                net: m(l.net),
                tax: m(l.tax),
                total: m(l.total),
            })
            .collect()
    }
    /// Sum of nets.
    async fn subtotal(&self) -> Money {
        Money::new(self.0.subtotal, &self.1)
    }
    /// Sum of taxes.
    async fn tax(&self) -> Money {
        Money::new(self.0.tax, &self.1)
    }
    /// Sum of totals.
    async fn total(&self) -> Money {
        Money::new(self.0.total, &self.1)
    }
}

/// What a billing run would create.
#[derive(SimpleObject)]
pub struct BillingPreview {
    /// The date billed up to.
    pub as_of: String,
    /// How many invoices it would create.
    pub invoice_count: i64,
    /// The first of them (`first`, default 100).
    pub invoices: Vec<PreviewInvoice>,
    /// The sum of all of them.
    pub total: Money,
}

/// What a billing run created: counts and totals, and its invoices page by page.
pub struct BillingRunResult {
    as_of: NaiveDate,
    out: run::RunOutcome,
    currency: String,
}

#[Object]
impl BillingRunResult {
    /// The date billed up to.
    async fn as_of(&self) -> String {
        self.as_of.to_string()
    }
    /// Customers with something due that were looked at.
    async fn customers_checked(&self) -> i64 {
        self.out.customers_checked as i64
    }
    /// How many invoices the run created.
    async fn invoice_count(&self) -> i64 {
        self.out.invoices as i64
    }
    /// Whether they are drafts (the `draftInvoices` setting): no number until issued.
    async fn drafts(&self) -> bool {
        self.out.drafts
    }
    /// Sum of their nets.
    async fn subtotal(&self) -> Money {
        Money::new(self.out.subtotal, &self.currency)
    }
    /// Sum of their taxes.
    async fn tax(&self) -> Money {
        Money::new(self.out.tax, &self.currency)
    }
    /// Sum of their totals.
    async fn total(&self) -> Money {
        Money::new(self.out.total, &self.currency)
    }
    /// The invoices the run created, newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(1) as usize * child_complexity")]
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<Invoice>> {
        let a = require(ctx, Action::InvoiceRead)?;
        let args = page_args(first, after, last, before)?;
        // A run that created nothing has no row: an id no invoice carries lists nothing.
        let f = InvoiceFilter { billing_run_id: Some(self.out.run_id.unwrap_or(0)), ..Default::default() };
        let page = invoices::list(&core(ctx).db, a.tenant_id, &f, &args).await.gql()?;
        Ok(connection(page, |i| Pos { key: SortKey::I(i.id), id: i.id, order: None }, Invoice, EmptyFields))
    }
}

/// What a dunning run did.
#[derive(SimpleObject)]
pub struct DunningRunResult {
    /// Reminders recorded.
    pub reminders: i64,
    /// Invoices that became overdue.
    pub overdue: i64,
    /// Subscriptions suspended.
    pub suspended: i64,
}

/// A charge waiting for the next invoice.
pub struct Charge(charges::Charge);

#[Object]
impl Charge {
    /// Global ID.
    async fn id(&self) -> ID {
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
    async fn amount(&self, ctx: &Context<'_>) -> async_graphql::Result<Money> {
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

/// Where a customer's account stands.
pub struct CustomerBalance(ledger::Balance, i64);

#[Object]
impl CustomerBalance {
    /// What the customer owes overall (negative: in credit).
    async fn balance(&self, ctx: &Context<'_>) -> async_graphql::Result<Money> {
        money(ctx, self.0.balance_minor).await
    }
    /// Still owed on open invoices.
    async fn outstanding(&self, ctx: &Context<'_>) -> async_graphql::Result<Money> {
        money(ctx, self.0.outstanding_minor).await
    }
    /// Of which overdue.
    async fn overdue(&self, ctx: &Context<'_>) -> async_graphql::Result<Money> {
        money(ctx, self.0.overdue_minor).await
    }
    /// Payments not allocated to any invoice yet (applied to the next invoices).
    async fn credit(&self, ctx: &Context<'_>) -> async_graphql::Result<Money> {
        money(ctx, self.0.credit_minor).await
    }
    /// Sum of the charges waiting for the next invoice.
    async fn pending_charges_total(&self, ctx: &Context<'_>) -> async_graphql::Result<Money> {
        money(ctx, self.0.pending_charges_minor).await
    }
    /// The charges waiting for the next invoice.
    async fn pending_charges(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Charge>> {
        let a = require(ctx, Action::InvoiceRead)?;
        Ok(charges::pending(&core(ctx).db, a.tenant_id, self.1).await.gql()?.into_iter().map(Charge).collect())
    }
}

/// One line of a customer statement.
#[derive(SimpleObject)]
pub struct LedgerEntry {
    /// Date.
    pub date: String,
    /// Kind.
    pub kind: LedgerKind,
    /// Invoice, credit note (Invoice IDs) or payment (Payment ID; for refunds, the refunded payment's receipt number).
    pub object_id: ID,
    /// Document number.
    pub number: Option<String>,
    /// Signed amount: positive raises what the customer owes.
    pub amount: Money,
    /// Balance after this entry.
    pub balance: Money,
}

/// A recorded dunning step.
pub struct DunningEvent(dunning::DunningEvent);

#[Object]
impl DunningEvent {
    /// Global ID.
    async fn id(&self) -> ID {
        ids::encode("DunningEvent", self.0.id)
    }
    /// Step.
    async fn kind(&self) -> DunningKind {
        self.0.kind
    }
    /// Customer.
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Customer> {
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

/// Subscription revenue of one plan.
#[derive(SimpleObject)]
pub struct PlanRevenue {
    /// Plan.
    pub plan_id: ID,
    /// Plan name.
    pub plan_name: String,
    /// Net revenue invoiced.
    pub net: Money,
    /// Invoice lines counted.
    pub lines: i64,
}

/// Invoiced vs collected in one month.
#[derive(SimpleObject)]
pub struct MonthCollection {
    /// `YYYY-MM`.
    pub month: String,
    /// Invoiced (not void).
    pub invoiced: Money,
    /// Collected, less refunds.
    pub collected: Money,
    /// collected / invoiced in basis points (null when nothing was invoiced).
    pub collection_rate_basis_points: Option<i64>,
}

/// Receivables by days past due.
#[derive(SimpleObject)]
pub struct Ageing {
    /// Not yet due.
    pub current: Money,
    /// 1-30 days past due.
    #[graphql(name = "days1To30")]
    pub days_1_30: Money,
    /// 31-60 days past due.
    #[graphql(name = "days31To60")]
    pub days_31_60: Money,
    /// 61-90 days past due.
    #[graphql(name = "days61To90")]
    pub days_61_90: Money,
    /// Over 90 days past due.
    pub over_90: Money,
    /// Everything open.
    pub total: Money,
}

/// Billing reports over a date range.
#[derive(SimpleObject)]
pub struct BillingReport {
    /// Monthly recurring revenue of the active subscriptions now.
    pub mrr: Money,
    /// Subscription revenue by plan in the range.
    pub revenue_by_plan: Vec<PlanRevenue>,
    /// Invoiced vs collected per month in the range.
    pub collections: Vec<MonthCollection>,
    /// Receivables ageing as of `asOf`.
    pub ageing: Ageing,
}

/// Reads of billing.
#[derive(Default)]
pub struct BillingQuery;

#[Object]
impl BillingQuery {
    /// The tenant's billing settings.
    async fn billing_settings(&self, ctx: &Context<'_>) -> async_graphql::Result<BillingSettings> {
        let a = require(ctx, Action::InvoiceRead)?;
        bsettings::get(&core(ctx).db, a.tenant_id).await.gql().map(BillingSettings)
    }

    /// Exactly what `runBilling(asOf)` would create now (same code path, nothing written):
    /// the count and total of every invoice, and the first `first` (default 100, at most 1000)
    /// in full. `asOf` defaults to today in the tenant's time zone.
    #[graphql(complexity = "first.unwrap_or(100).clamp(1, 1000) as usize * child_complexity")]
    async fn billing_preview(
        &self,
        ctx: &Context<'_>,
        as_of: Option<String>,
        first: Option<i32>,
    ) -> async_graphql::Result<BillingPreview> {
        let a = require(ctx, Action::BillingRun)?;
        let day = date_arg("asOf", as_of, ctx).await?;
        let keep = match first.unwrap_or(100) {
            n @ 0..=1000 => n as usize,
            _ => return Err(invalid("first", "must be 0-1000")),
        };
        let out = run::preview(core(ctx), a, day, keep).await.gql()?;
        let cur = tenant_currency(ctx).await?;
        Ok(BillingPreview {
            as_of: day.to_string(),
            invoice_count: out.invoices as i64,
            total: Money::new(out.total, &cur),
            invoices: out.planned.into_iter().map(|i| PreviewInvoice(i, cur.clone())).collect(),
        })
    }

    /// Invoices and credit notes, newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(1) as usize * child_complexity")]
    #[allow(clippy::too_many_arguments)]
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        customer_id: Option<ID>,
        status: Option<Vec<InvoiceStatus>>,
        kind: Option<InvoiceKind>,
        billing_run_id: Option<ID>,
    ) -> async_graphql::Result<Conn<Invoice>> {
        let a = require(ctx, Action::InvoiceRead)?;
        let args = page_args(first, after, last, before)?;
        let f = InvoiceFilter {
            customer_id: ids::decode_opt(&customer_id, "Customer", "customerId")?,
            status,
            kind,
            billing_run_id: ids::decode_opt(&billing_run_id, "BillingRun", "billingRunId")?,
        };
        let page = invoices::list(&core(ctx).db, a.tenant_id, &f, &args).await.gql()?;
        Ok(connection(page, |i| Pos { key: SortKey::I(i.id), id: i.id, order: None }, Invoice, EmptyFields))
    }

    /// One invoice or credit note; null when not in the caller's tenant.
    async fn invoice(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Invoice>> {
        let a = require(ctx, Action::InvoiceRead)?;
        let id = ids::decode(&id, "Invoice", "id")?;
        Ok(found(invoices::get(&core(ctx).db, a.tenant_id, id).await)?.map(Invoice))
    }

    /// Payments, newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(1) as usize * child_complexity")]
    async fn payments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        customer_id: Option<ID>,
    ) -> async_graphql::Result<Conn<Payment>> {
        let a = require(ctx, Action::InvoiceRead)?;
        let args = page_args(first, after, last, before)?;
        let c = ids::decode_opt(&customer_id, "Customer", "customerId")?;
        let page = payments::list(&core(ctx).db, a.tenant_id, c, &args).await.gql()?;
        Ok(connection(page, |p| Pos { key: SortKey::I(p.id), id: p.id, order: None }, Payment, EmptyFields))
    }

    /// One payment; null when not in the caller's tenant.
    async fn payment(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Payment>> {
        let a = require(ctx, Action::InvoiceRead)?;
        let id = ids::decode(&id, "Payment", "id")?;
        Ok(found(payments::get(&core(ctx).db, a.tenant_id, id).await)?.map(Payment))
    }

    /// A customer's balance, credit and pending charges; null when not in the tenant.
    async fn customer_balance(
        &self,
        ctx: &Context<'_>,
        customer_id: ID,
    ) -> async_graphql::Result<Option<CustomerBalance>> {
        let a = require(ctx, Action::InvoiceRead)?;
        let c = ids::decode(&customer_id, "Customer", "customerId")?;
        if found(isp_core::store::customers::get(&core(ctx).db, a.tenant_id, c).await)?.is_none() {
            return Ok(None);
        }
        Ok(Some(CustomerBalance(ledger::balance(&core(ctx).db, a.tenant_id, c).await.gql()?, c)))
    }

    /// A customer's statement: invoices, credit notes, payments and refunds with a running
    /// balance, oldest first (empty when the customer is not in the tenant).
    async fn customer_statement(&self, ctx: &Context<'_>, customer_id: ID) -> async_graphql::Result<Vec<LedgerEntry>> {
        let a = require(ctx, Action::InvoiceRead)?;
        let c = ids::decode(&customer_id, "Customer", "customerId")?;
        let rows = ledger::statement(&core(ctx).db, a.tenant_id, c).await.gql()?;
        let cur = tenant_currency(ctx).await?;
        Ok(rows
            .into_iter()
            .map(|r| LedgerEntry {
                object_id: match r.kind {
                    LedgerKind::Invoice | LedgerKind::CreditNote => ids::encode("Invoice", r.object_id),
                    LedgerKind::Payment => ids::encode("Payment", r.object_id),
                    LedgerKind::Refund => ids::encode("Refund", r.object_id),
                },
                date: r.date,
                kind: r.kind,
                number: r.number,
                amount: Money::new(r.amount_minor, &cur),
                balance: Money::new(r.balance_minor, &cur),
            })
            .collect())
    }

    /// Dunning events (reminders, overdue, suspensions, reactivations), newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(1) as usize * child_complexity")]
    async fn dunning_events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        customer_id: Option<ID>,
    ) -> async_graphql::Result<Conn<DunningEvent>> {
        let a = require(ctx, Action::InvoiceRead)?;
        let args = page_args(first, after, last, before)?;
        let c = ids::decode_opt(&customer_id, "Customer", "customerId")?;
        let page = dunning::list(&core(ctx).db, a.tenant_id, c, &args).await.gql()?;
        Ok(connection(page, |e| Pos { key: SortKey::I(e.id), id: e.id, order: None }, DunningEvent, EmptyFields))
    }

    /// MRR, revenue by plan and collections from `from` to `to` (inclusive), and ageing as
    /// of `asOf` (default today).
    async fn billing_report(
        &self,
        ctx: &Context<'_>,
        from: String,
        to: String,
        as_of: Option<String>,
    ) -> async_graphql::Result<BillingReport> {
        let a = require(ctx, Action::ReportRead)?;
        let (from, to) = (date_arg("from", Some(from), ctx).await?, date_arg("to", Some(to), ctx).await?);
        let as_of = date_arg("asOf", as_of, ctx).await?;
        let db = &core(ctx).db;
        let cur = tenant_currency(ctx).await?;
        let m = |x| Money::new(x, &cur);
        let ag = reports::ageing(db, a, as_of).await.gql()?;
        Ok(BillingReport {
            mrr: m(reports::mrr(db, a).await.gql()?),
            revenue_by_plan: reports::revenue_by_plan(db, a, from, to)
                .await
                .gql()?
                .into_iter()
                .map(|r| PlanRevenue {
                    plan_id: ids::encode("Plan", r.plan_id),
                    plan_name: r.plan_name,
                    net: m(r.net_minor),
                    lines: r.lines,
                })
                .collect(),
            collections: reports::collections(db, a, from, to)
                .await
                .gql()?
                .into_iter()
                .map(|c| MonthCollection {
                    month: c.month,
                    invoiced: m(c.invoiced_minor),
                    collected: m(c.collected_minor),
                    collection_rate_basis_points: c.collection_rate_bp,
                })
                .collect(),
            ageing: Ageing {
                current: m(ag.current_minor),
                days_1_30: m(ag.days_1_30_minor),
                days_31_60: m(ag.days_31_60_minor),
                days_61_90: m(ag.days_61_90_minor),
                over_90: m(ag.over_90_minor),
                total: m(ag.total_minor),
            },
        })
    }
}

/// Changes to the billing settings. Absent fields stay as they are.
#[derive(InputObject)]
pub struct BillingSettingsInput {
    /// Fixed day 1-28, or 0 for anniversaries.
    pub billing_day: Option<i64>,
    /// In advance or in arrears.
    pub mode: Option<BillingMode>,
    /// Days from issue to due date.
    pub payment_terms_days: Option<i64>,
    /// Invoice number template (`{YYYY}`, `{YY}`, `{MM}`, and `{SEQ}` or `{SEQ:n}` once).
    pub invoice_template: Option<String>,
    /// Receipt number template.
    pub receipt_template: Option<String>,
    /// Credit note number template.
    pub credit_note_template: Option<String>,
    /// Reminder days before the due date.
    pub reminder_days_before: Option<i64>,
    /// Overdue days after the due date.
    pub overdue_after_days: Option<i64>,
    /// Suspension days after the due date.
    pub suspend_after_days: Option<i64>,
    /// New HMAC secret for payment webhooks (write-only, at least 16 characters).
    pub webhook_secret: Option<String>,
    /// Brand color of PDFs, `#RRGGBB`.
    pub brand_color: Option<String>,
    /// Second colour of PDFs (table headings), `#RRGGBB` (null: a tint of the brand color).
    pub accent_color: MaybeUndefined<String>,
    /// Logo printed on PDFs: a PNG (at most 4096 px each way) or SVG image of at most 128 KiB,
    /// base64-encoded; the type is sniffed from the bytes (null removes the logo).
    pub logo: MaybeUndefined<String>,
    /// Address printed on invoices (null clears).
    pub legal_address: MaybeUndefined<String>,
    /// Tax id printed on invoices (null clears).
    pub tax_id: MaybeUndefined<String>,
    /// Payment instructions printed on invoices (null clears).
    pub payment_instructions: MaybeUndefined<String>,
    /// Billing runs create DRAFT invoices, numbered when issued (`issueInvoices`).
    pub draft_invoices: Option<bool>,
}

/// A tax rate for a tax class.
#[derive(InputObject)]
pub struct TaxRateInput {
    /// Tax class (`standard`, `reduced` ...).
    pub tax_class: String,
    /// Name printed on invoices.
    pub name: String,
    /// Basis points (1600 = 16.00 %).
    pub rate_basis_points: i64,
    /// Prices include the tax.
    pub inclusive: bool,
}

/// A one-off charge for the next invoice.
#[derive(InputObject)]
pub struct AddChargeInput {
    /// Customer.
    pub customer_id: ID,
    /// Subscription it concerns.
    pub subscription_id: Option<ID>,
    /// Text on the invoice.
    pub description: String,
    /// Amount in minor units (negative: a credit).
    pub amount_minor: i64,
    /// Tax class (default `standard`).
    pub tax_class: Option<String>,
}

/// A payment to record.
#[derive(InputObject)]
pub struct RecordPaymentInput {
    /// Customer paying.
    pub customer_id: ID,
    /// Amount in minor units.
    pub amount_minor: i64,
    /// How.
    pub method: PaymentMethod,
    /// Reference.
    pub reference: Option<String>,
    /// Date received (default today).
    pub received_on: Option<String>,
    /// Invoices to pay, in this order; default: the oldest open invoices first.
    pub invoice_ids: Option<Vec<ID>>,
}

/// Changes of billing.
#[derive(Default)]
pub struct BillingMutation;

#[Object]
impl BillingMutation {
    /// Changes the billing settings (owner and admin).
    async fn update_billing_settings(
        &self,
        ctx: &Context<'_>,
        input: BillingSettingsInput,
    ) -> async_graphql::Result<BillingSettings> {
        let a = require(ctx, Action::BillingSettingsWrite)?;
        let c = core(ctx);
        let mut s = bsettings::get(&c.db, a.tenant_id).await.gql()?;
        let i = input;
        s.billing_day = i.billing_day.unwrap_or(s.billing_day);
        s.mode = i.mode.unwrap_or(s.mode);
        s.payment_terms_days = i.payment_terms_days.unwrap_or(s.payment_terms_days);
        s.invoice_template = i.invoice_template.unwrap_or(s.invoice_template);
        s.receipt_template = i.receipt_template.unwrap_or(s.receipt_template);
        s.credit_note_template = i.credit_note_template.unwrap_or(s.credit_note_template);
        s.reminder_days_before = i.reminder_days_before.unwrap_or(s.reminder_days_before);
        s.overdue_after_days = i.overdue_after_days.unwrap_or(s.overdue_after_days);
        s.suspend_after_days = i.suspend_after_days.unwrap_or(s.suspend_after_days);
        s.brand_color = i.brand_color.unwrap_or(s.brand_color);
        s.draft_invoices = i.draft_invoices.map_or(s.draft_invoices, i64::from);
        for (field, v) in [
            (&mut s.legal_address, i.legal_address),
            (&mut s.tax_id, i.tax_id),
            (&mut s.payment_instructions, i.payment_instructions),
            (&mut s.accent_color, i.accent_color),
        ] {
            match v {
                MaybeUndefined::Undefined => {}
                MaybeUndefined::Null => *field = None,
                MaybeUndefined::Value(x) => *field = Some(x),
            }
        }
        let logo = match i.logo {
            MaybeUndefined::Undefined => LogoChange::Keep,
            MaybeUndefined::Null => LogoChange::Remove,
            MaybeUndefined::Value(b64) => {
                use base64::Engine;
                let data = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|_| invalid("logo", "must be base64"))?;
                let content_type = bsettings::sniff_logo(&data).gql()?;
                crate::pdf::check_logo(content_type, data.clone()).await.map_err(|m| invalid("logo", &m))?;
                LogoChange::Set(data)
            }
        };
        isp_core::workflows::billing_settings::update_with_logo(c, a, &s, i.webhook_secret.as_deref(), logo)
            .await
            .gql()
            .map(BillingSettings)
    }

    /// Creates or replaces the tax rate of a tax class (owner and admin).
    async fn set_tax_rate(&self, ctx: &Context<'_>, input: TaxRateInput) -> async_graphql::Result<TaxRate> {
        let a = require(ctx, Action::BillingSettingsWrite)?;
        let r = CoreTaxRate {
            tax_class: input.tax_class,
            name: input.name,
            rate_bp: input.rate_basis_points,
            inclusive: i64::from(input.inclusive),
        };
        isp_core::workflows::billing_settings::set_tax_rate(core(ctx), a, &r).await.gql().map(Into::into)
    }

    /// Sets a plan's tax class (owner and admin). Returns the class.
    async fn set_plan_tax_class(
        &self,
        ctx: &Context<'_>,
        plan_id: ID,
        tax_class: String,
    ) -> async_graphql::Result<String> {
        let a = require(ctx, Action::BillingSettingsWrite)?;
        let p = ids::decode(&plan_id, "Plan", "planId")?;
        isp_core::workflows::billing_settings::set_plan_tax_class(core(ctx), a, p, &tax_class).await.gql()?;
        Ok(tax_class)
    }

    /// Adds a one-off charge (or credit) to the customer's next invoice.
    async fn add_charge(&self, ctx: &Context<'_>, input: AddChargeInput) -> async_graphql::Result<Charge> {
        let a = require(ctx, Action::BillingRun)?;
        let c = ids::decode(&input.customer_id, "Customer", "customerId")?;
        let s = ids::decode_opt(&input.subscription_id, "Subscription", "subscriptionId")?;
        isp_core::workflows::charges::add(
            core(ctx),
            a,
            c,
            s,
            &input.description,
            input.amount_minor,
            input.tax_class.as_deref(),
        )
        .await
        .gql()
        .map(Charge)
    }

    /// Moves a subscription to another plan from `effectiveDate` (default today), adding the
    /// prorated difference for the rest of the cycle to the next invoice. Returns the adjustments.
    async fn change_subscription_plan(
        &self,
        ctx: &Context<'_>,
        id: ID,
        plan_id: ID,
        effective_date: Option<String>,
    ) -> async_graphql::Result<Vec<Charge>> {
        let a = require(ctx, Action::SubscriptionWrite)?;
        let id = ids::decode(&id, "Subscription", "id")?;
        let p = ids::decode(&plan_id, "Plan", "planId")?;
        Ok(isp_core::workflows::subscriptions::change_plan(core(ctx), a, id, p, effective_date.as_deref())
            .await
            .gql()?
            .into_iter()
            .map(Charge)
            .collect())
    }

    /// Cancels a subscription from `effectiveDate` (default today) with a prorated credit or
    /// final charge on the next invoice. Returns the adjustment, if any.
    async fn cancel_subscription(
        &self,
        ctx: &Context<'_>,
        id: ID,
        effective_date: Option<String>,
        reason: Option<String>,
    ) -> async_graphql::Result<Option<Charge>> {
        let a = require(ctx, Action::SubscriptionStatus)?;
        let id = ids::decode(&id, "Subscription", "id")?;
        Ok(isp_core::workflows::subscriptions::cancel(core(ctx), a, id, effective_date.as_deref(), reason.as_deref())
            .await
            .gql()?
            .map(Charge))
    }

    /// Bills every due cycle and pending charge as of `asOf` (default today). Safe to repeat:
    /// nothing is ever billed twice. Returns counts and totals, and the invoices page by page.
    async fn run_billing(&self, ctx: &Context<'_>, as_of: Option<String>) -> async_graphql::Result<BillingRunResult> {
        let a = require(ctx, Action::BillingRun)?;
        let day = date_arg("asOf", as_of, ctx).await?;
        let out = run::run(core(ctx), a, day).await.gql()?;
        Ok(BillingRunResult { as_of: day, out, currency: tenant_currency(ctx).await? })
    }

    /// Issues a draft invoice: numbers it, dates it today and pays it from customer credit.
    async fn issue_invoice(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Invoice> {
        let a = require(ctx, Action::BillingRun)?;
        let id = ids::decode(&id, "Invoice", "id")?;
        let mut issued = isp_core::workflows::invoices::issue(core(ctx), a, &[id]).await.gql()?;
        Ok(Invoice(issued.remove(0)))
    }

    /// Issues draft invoices, all or none (at most 1000), numbered in the order given.
    async fn issue_invoices(&self, ctx: &Context<'_>, ids: Vec<ID>) -> async_graphql::Result<Vec<Invoice>> {
        let a = require(ctx, Action::BillingRun)?;
        let list = ids.iter().map(|i| ids::decode(i, "Invoice", "ids")).collect::<Result<Vec<_>, _>>()?;
        Ok(isp_core::workflows::invoices::issue(core(ctx), a, &list).await.gql()?.into_iter().map(Invoice).collect())
    }

    /// Deletes a draft invoice; its cycles and charges are billed again by the next run.
    /// Returns the deleted invoice's ID. Issued invoices cannot be deleted: void them.
    async fn delete_invoice(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let a = require(ctx, Action::BillingRun)?;
        let raw = ids::decode(&id, "Invoice", "id")?;
        isp_core::workflows::invoices::delete_draft(core(ctx), a, raw).await.gql()?;
        Ok(id)
    }

    /// Voids an invoice: issues a credit note and turns its payments into customer credit.
    /// Returns the credit note, or, for a draft (never sent, so no credit note), the voided draft.
    async fn void_invoice(&self, ctx: &Context<'_>, id: ID, reason: String) -> async_graphql::Result<Invoice> {
        let a = require(ctx, Action::BillingRun)?;
        let id = ids::decode(&id, "Invoice", "id")?;
        isp_core::workflows::invoices::void(core(ctx), a, id, &reason)
            .await
            .gql()
            .map(|(voided, note)| Invoice(note.unwrap_or(voided)))
    }

    /// Records a payment and allocates it (cashiers and up).
    async fn record_payment(&self, ctx: &Context<'_>, input: RecordPaymentInput) -> async_graphql::Result<Payment> {
        let a = require(ctx, Action::PaymentWrite)?;
        let invoice_ids = match &input.invoice_ids {
            Some(list) => {
                Some(list.iter().map(|i| ids::decode(i, "Invoice", "invoiceIds")).collect::<Result<Vec<_>, _>>()?)
            }
            None => None,
        };
        let p = NewPayment {
            customer_id: ids::decode(&input.customer_id, "Customer", "customerId")?,
            amount_minor: input.amount_minor,
            method: input.method,
            reference: input.reference,
            received_on: input.received_on,
            invoice_ids,
        };
        isp_core::workflows::payments::record(core(ctx), a, &p).await.gql().map(Payment)
    }

    /// Refunds all or part of a payment; more than what is left to refund is refused.
    async fn refund_payment(
        &self,
        ctx: &Context<'_>,
        id: ID,
        amount_minor: i64,
        reason: String,
    ) -> async_graphql::Result<Payment> {
        let a = require(ctx, Action::PaymentWrite)?;
        let id = ids::decode(&id, "Payment", "id")?;
        isp_core::workflows::payments::refund(core(ctx), a, id, amount_minor, &reason).await.gql().map(Payment)
    }

    /// Runs the dunning policy as of `asOf` (default today).
    async fn run_dunning(&self, ctx: &Context<'_>, as_of: Option<String>) -> async_graphql::Result<DunningRunResult> {
        let a = require(ctx, Action::BillingRun)?;
        let day = date_arg("asOf", as_of, ctx).await?;
        let o = isp_core::workflows::dunning::run(core(ctx), a, day).await.gql()?;
        Ok(DunningRunResult { reminders: o.reminders as i64, overdue: o.overdue as i64, suspended: o.suspended as i64 })
    }
}
