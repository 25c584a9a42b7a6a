//! Billing reads: settings, the billing preview, invoices, payments, balances, statements,
//! dunning events and the billing report.

use super::{date_arg, BillingPreview, BillingReport, BillingSettings, Conn, CustomerBalance, DunningEvent, Invoice};
use super::{Ageing, LedgerEntry, MonthCollection, Payment, PlanRevenue, PreviewInvoice};
use crate::access::root;
use crate::error::{found, invalid, Gql};
use crate::fast::{fast, Fast, FastList};
use crate::ids::{self, page_args};
use crate::schema::types::Money;
use crate::schema::{connection, core, tenant_currency, ListCount};
use async_graphql::{Context, Object, ID};
use isp_core::billing::invoices::{self, InvoiceFilter};
use isp_core::billing::ledger::{self, LedgerKind};
use isp_core::billing::settings as bsettings;
use isp_core::billing::{dunning, payments, reports, run, InvoiceKind, InvoiceStatus};
use isp_core::store::page::{Cursor as Pos, SortKey};

/// Reads of billing.
#[derive(Default)]
pub struct BillingQuery;

#[Object]
impl BillingQuery {
    /// The tenant's billing settings.
    async fn billing_settings(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<BillingSettings>> {
        let a = root(ctx)?;
        bsettings::get(&core(ctx).db, a.tenant_id).await.gql().map(fast(BillingSettings))
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
    ) -> async_graphql::Result<Fast<BillingPreview>> {
        let a = root(ctx)?;
        let day = date_arg("asOf", as_of, ctx).await?;
        let keep = match first.unwrap_or(100) {
            n @ 0..=1000 => n as usize,
            _ => return Err(invalid("first", "must be 0-1000")),
        };
        let out = run::preview(core(ctx), a, day, keep).await.gql()?;
        let cur = tenant_currency(ctx).await?;
        Ok(Fast(BillingPreview {
            as_of: day.to_string(),
            invoice_count: out.invoices as i64,
            total: Fast(Money::new(out.total, &cur)),
            invoices: out.planned.into_iter().map(|i| PreviewInvoice(i, cur.clone())).collect(),
        }))
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
        let a = root(ctx)?;
        let args = page_args(first, after, last, before)?;
        let f = InvoiceFilter {
            customer_id: ids::decode_opt(&customer_id, "Customer", "customerId")?,
            status,
            kind,
            billing_run_id: ids::decode_opt(&billing_run_id, "BillingRun", "billingRunId")?,
        };
        let (db, t) = (core(ctx).db.clone(), a.tenant_id);
        let page = invoices::list(&db, t, &f, &args).await.gql()?;
        let count = ListCount::new(async move { invoices::count(&db, t, &f).await });
        Ok(connection(page, |i| Pos { key: SortKey::I(i.id), id: i.id, order: None }, Invoice, count))
    }

    /// One invoice or credit note; null when not in the caller's tenant.
    async fn invoice(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Fast<Invoice>>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "Invoice", "id")?;
        Ok(found(invoices::get(&core(ctx).db, a.tenant_id, id).await)?.map(fast(Invoice)))
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
        let a = root(ctx)?;
        let args = page_args(first, after, last, before)?;
        let c = ids::decode_opt(&customer_id, "Customer", "customerId")?;
        let (db, t) = (core(ctx).db.clone(), a.tenant_id);
        let page = payments::list(&db, t, c, &args).await.gql()?;
        let count = ListCount::new(async move { payments::count(&db, t, c).await });
        Ok(connection(page, |p| Pos { key: SortKey::I(p.id), id: p.id, order: None }, Payment, count))
    }

    /// One payment; null when not in the caller's tenant.
    async fn payment(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Fast<Payment>>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "Payment", "id")?;
        Ok(found(payments::get(&core(ctx).db, a.tenant_id, id).await)?.map(fast(Payment)))
    }

    /// A customer's balance, credit and pending charges; null when not in the tenant.
    async fn customer_balance(
        &self,
        ctx: &Context<'_>,
        customer_id: ID,
    ) -> async_graphql::Result<Option<Fast<CustomerBalance>>> {
        let a = root(ctx)?;
        let c = ids::decode(&customer_id, "Customer", "customerId")?;
        if found(isp_core::store::customers::get(&core(ctx).db, a.tenant_id, c).await)?.is_none() {
            return Ok(None);
        }
        Ok(Some(Fast(CustomerBalance(ledger::balance(&core(ctx).db, a.tenant_id, c).await.gql()?, c))))
    }

    /// A customer's statement: invoices, credit notes, payments and refunds with a running
    /// balance, oldest first (empty when the customer is not in the tenant).
    async fn customer_statement(
        &self,
        ctx: &Context<'_>,
        customer_id: ID,
    ) -> async_graphql::Result<FastList<LedgerEntry>> {
        let a = root(ctx)?;
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
                amount: Fast(Money::new(r.amount_minor, &cur)),
                balance: Fast(Money::new(r.balance_minor, &cur)),
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
        let a = root(ctx)?;
        let args = page_args(first, after, last, before)?;
        let c = ids::decode_opt(&customer_id, "Customer", "customerId")?;
        let (db, t) = (core(ctx).db.clone(), a.tenant_id);
        let page = dunning::list(&db, t, c, &args).await.gql()?;
        let count = ListCount::new(async move { dunning::count(&db, t, c).await });
        Ok(connection(page, |e| Pos { key: SortKey::I(e.id), id: e.id, order: None }, DunningEvent, count))
    }

    /// MRR, revenue by plan and collections from `from` to `to` (inclusive), and ageing as
    /// of `asOf` (default today).
    async fn billing_report(
        &self,
        ctx: &Context<'_>,
        from: String,
        to: String,
        as_of: Option<String>,
    ) -> async_graphql::Result<Fast<BillingReport>> {
        let a = root(ctx)?;
        let (from, to) = (date_arg("from", Some(from), ctx).await?, date_arg("to", Some(to), ctx).await?);
        let as_of = date_arg("asOf", as_of, ctx).await?;
        let db = &core(ctx).db;
        let cur = tenant_currency(ctx).await?;
        let m = |x| Fast(Money::new(x, &cur));
        let ag = reports::ageing(db, a, as_of).await.gql()?;
        Ok(Fast(BillingReport {
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
            ageing: Fast(Ageing {
                current: m(ag.current_minor),
                days_1_30: m(ag.days_1_30_minor),
                days_31_60: m(ag.days_31_60_minor),
                days_61_90: m(ag.days_61_90_minor),
                over_90: m(ag.over_90_minor),
                total: m(ag.total_minor),
            }),
        }))
    }
}
