//! What billing computes rather than stores: billing-run previews and outcomes, dunning-run
//! counts, a customer's balance and statement lines, and the billing report.

use super::types::{Charge, Invoice};
use super::{load_customer, money, Conn};
use crate::error::Gql;
use crate::fast::{Fast, FastList};
use crate::ids::{self, page_args};
use crate::request::require;
use crate::schema::types::{Customer, Money};
use crate::schema::{connection, core, ListCount};
use async_graphql::{Context, Object, SimpleObject, ID};
use chrono::NaiveDate;
use isp_core::auth::Action;
use isp_core::billing::invoices::{self, InvoiceFilter};
use isp_core::billing::ledger::{self, LedgerKind};
use isp_core::billing::run::{self, PlannedInvoice};
use isp_core::billing::{charges, LineKind};
use isp_core::store::page::{Cursor as Pos, SortKey};

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
    pub net: Fast<Money>,
    /// Tax.
    pub tax: Fast<Money>,
    /// Total.
    pub total: Fast<Money>,
}

/// An invoice a billing run would create.
pub struct PreviewInvoice(pub(super) PlannedInvoice, pub(super) String);

#[Object]
impl PreviewInvoice {
    /// Customer to bill.
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Customer>> {
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
    async fn lines(&self) -> FastList<PreviewLine> {
        let m = |a| Fast(Money::new(a, &self.1));
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
    async fn subtotal(&self) -> Fast<Money> {
        Fast(Money::new(self.0.subtotal, &self.1))
    }
    /// Sum of taxes.
    async fn tax(&self) -> Fast<Money> {
        Fast(Money::new(self.0.tax, &self.1))
    }
    /// Sum of totals.
    async fn total(&self) -> Fast<Money> {
        Fast(Money::new(self.0.total, &self.1))
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
    pub invoices: FastList<PreviewInvoice>,
    /// The sum of all of them.
    pub total: Fast<Money>,
}

/// What a billing run created: counts and totals, and its invoices page by page.
pub struct BillingRunResult {
    pub(super) as_of: NaiveDate,
    pub(super) out: run::RunOutcome,
    pub(super) currency: String,
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
    async fn subtotal(&self) -> Fast<Money> {
        Fast(Money::new(self.out.subtotal, &self.currency))
    }
    /// Sum of their taxes.
    async fn tax(&self) -> Fast<Money> {
        Fast(Money::new(self.out.tax, &self.currency))
    }
    /// Sum of their totals.
    async fn total(&self) -> Fast<Money> {
        Fast(Money::new(self.out.total, &self.currency))
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
        let (db, t) = (core(ctx).db.clone(), a.tenant_id);
        let page = invoices::list(&db, t, &f, &args).await.gql()?;
        let count = ListCount::new(async move { invoices::count(&db, t, &f).await });
        Ok(connection(page, |i| Pos { key: SortKey::I(i.id), id: i.id, order: None }, Invoice, count))
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

/// Where a customer's account stands.
pub struct CustomerBalance(pub(super) ledger::Balance, pub(super) i64);

#[Object]
impl CustomerBalance {
    /// What the customer owes overall (negative: in credit).
    async fn balance(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Money>> {
        money(ctx, self.0.balance_minor).await
    }
    /// Still owed on open invoices.
    async fn outstanding(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Money>> {
        money(ctx, self.0.outstanding_minor).await
    }
    /// Of which overdue.
    async fn overdue(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Money>> {
        money(ctx, self.0.overdue_minor).await
    }
    /// Payments not allocated to any invoice yet (applied to the next invoices).
    async fn credit(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Money>> {
        money(ctx, self.0.credit_minor).await
    }
    /// Sum of the charges waiting for the next invoice.
    async fn pending_charges_total(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Money>> {
        money(ctx, self.0.pending_charges_minor).await
    }
    /// The charges waiting for the next invoice.
    async fn pending_charges(&self, ctx: &Context<'_>) -> async_graphql::Result<FastList<Charge>> {
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
    pub amount: Fast<Money>,
    /// Balance after this entry.
    pub balance: Fast<Money>,
}

/// Subscription revenue of one plan.
#[derive(SimpleObject)]
pub struct PlanRevenue {
    /// Plan.
    pub plan_id: ID,
    /// Plan name.
    pub plan_name: String,
    /// Net revenue invoiced.
    pub net: Fast<Money>,
    /// Invoice lines counted.
    pub lines: i64,
}

/// Invoiced vs collected in one month.
#[derive(SimpleObject)]
pub struct MonthCollection {
    /// `YYYY-MM`.
    pub month: String,
    /// Invoiced (not void).
    pub invoiced: Fast<Money>,
    /// Collected, less refunds.
    pub collected: Fast<Money>,
    /// collected / invoiced in basis points (null when nothing was invoiced).
    pub collection_rate_basis_points: Option<i64>,
}

/// Receivables by days past due.
#[derive(SimpleObject)]
pub struct Ageing {
    /// Not yet due.
    pub current: Fast<Money>,
    /// 1-30 days past due.
    #[graphql(name = "days1To30")]
    pub days_1_30: Fast<Money>,
    /// 31-60 days past due.
    #[graphql(name = "days31To60")]
    pub days_31_60: Fast<Money>,
    /// 61-90 days past due.
    #[graphql(name = "days61To90")]
    pub days_61_90: Fast<Money>,
    /// Over 90 days past due.
    pub over_90: Fast<Money>,
    /// Everything open.
    pub total: Fast<Money>,
}

/// Billing reports over a date range.
#[derive(SimpleObject)]
pub struct BillingReport {
    /// Monthly recurring revenue of the active subscriptions now.
    pub mrr: Fast<Money>,
    /// Subscription revenue by plan in the range.
    pub revenue_by_plan: FastList<PlanRevenue>,
    /// Invoiced vs collected per month in the range.
    pub collections: FastList<MonthCollection>,
    /// Receivables ageing as of `asOf`.
    pub ageing: Fast<Ageing>,
}
