//! The business reports (`isp_core::reports`): acquisition and churn, MRR movement and ARPU,
//! collection rate and DSO, revenue by tax class and the top data users, over a range of the
//! tenant's calendar days in monthly or daily buckets. Each row is one bucket (and plan, access
//! type or tax class); money is in the tenant's currency. Staff with `ReportRead` (owner, admin,
//! manager) may read them.

use crate::access::root;
use crate::error::Gql;
use crate::fast::{Fast, FastList};
use crate::ids;
use crate::schema::types::Money;
use crate::schema::{core, tenant_currency};
use async_graphql::{Context, Object, SimpleObject, ID};
use isp_core::reports::{self, Range, ReportBucket};
use isp_core::store::subscriptions::AccessType;

/// Acquisition and churn of one plan and access type (or of everything) in one bucket.
#[derive(SimpleObject)]
pub struct AcquisitionRow {
    /// `YYYY-MM` (monthly) or `YYYY-MM-DD` (daily).
    pub bucket: String,
    /// First day of the bucket (the range's first day for a partial first month).
    pub first_day: String,
    /// Last day of the bucket.
    pub last_day: String,
    /// Plan (null on totals, `byPlan: false`).
    pub plan_id: Option<ID>,
    /// Plan name.
    pub plan_name: Option<String>,
    /// Access type (null on totals).
    pub access_type: Option<AccessType>,
    /// Subscriptions open (not cancelled) at the start of the bucket.
    pub open_at_start: i64,
    /// Customers whose first subscription was created in the bucket.
    pub new_customers: i64,
    /// Subscriptions created.
    pub new_subscriptions: i64,
    /// Subscriptions cancelled (on their effective date).
    pub cancellations: i64,
    /// Open subscriptions moved here by a plan or access type change.
    pub moved_in: i64,
    /// Open subscriptions moved away by a plan or access type change.
    pub moved_out: i64,
    /// newSubscriptions + movedIn - movedOut - cancellations.
    pub net_growth: i64,
    /// Subscriptions open at the end of the bucket.
    pub open_at_end: i64,
    /// cancellations / openAtStart in basis points (null when nothing was open).
    pub churn_rate_basis_points: Option<i64>,
}

/// MRR movement in one bucket. MRR is the monthly value of ACTIVE subscriptions.
#[derive(SimpleObject)]
pub struct MrrMovementRow {
    /// `YYYY-MM` or `YYYY-MM-DD`.
    pub bucket: String,
    /// First day of the bucket.
    pub first_day: String,
    /// Last day of the bucket.
    pub last_day: String,
    /// MRR at the start of the bucket.
    pub starting_mrr: Fast<Money>,
    /// Subscriptions becoming ACTIVE for the first time.
    pub new_mrr: Fast<Money>,
    /// SUSPENDED subscriptions becoming ACTIVE again.
    pub reactivation_mrr: Fast<Money>,
    /// Plan changes raising an ACTIVE subscription's value.
    pub expansion_mrr: Fast<Money>,
    /// Plan changes lowering an ACTIVE subscription's value.
    pub contraction_mrr: Fast<Money>,
    /// ACTIVE subscriptions suspended or cancelled.
    pub churned_mrr: Fast<Money>,
    /// new + reactivation + expansion - contraction - churned.
    pub net_mrr: Fast<Money>,
    /// MRR at the end of the bucket.
    pub ending_mrr: Fast<Money>,
    /// ACTIVE subscriptions at the end of the bucket.
    pub active_subscriptions: i64,
    /// endingMrr / activeSubscriptions (null when there are none).
    pub arpu: Option<Fast<Money>>,
}

/// Invoiced vs collected in one bucket.
#[derive(SimpleObject)]
pub struct CollectionRow {
    /// `YYYY-MM` or `YYYY-MM-DD`.
    pub bucket: String,
    /// First day of the bucket.
    pub first_day: String,
    /// Last day of the bucket.
    pub last_day: String,
    /// Invoices issued in the bucket (not draft or void).
    pub invoiced: Fast<Money>,
    /// Payments received in the bucket, less refunds.
    pub collected: Fast<Money>,
    /// collected / invoiced in basis points (null when nothing was invoiced).
    pub collection_rate_basis_points: Option<i64>,
    /// Everything invoiced minus everything collected up to the bucket's last day.
    pub receivables_at_end: Fast<Money>,
    /// max(receivablesAtEnd, 0) / invoiced x days in the bucket, in hundredths of a day (null
    /// when nothing was invoiced).
    pub days_sales_outstanding_hundredths: Option<i64>,
}

/// Subscription revenue of one tax class in one bucket.
#[derive(SimpleObject)]
pub struct TaxClassRevenueRow {
    /// `YYYY-MM` or `YYYY-MM-DD`.
    pub bucket: String,
    /// First day of the bucket.
    pub first_day: String,
    /// Last day of the bucket.
    pub last_day: String,
    /// Tax class of the lines' plans.
    pub tax_class: String,
    /// The tenant's name of the class's tax rate, if configured.
    pub tax_name: Option<String>,
    /// Net revenue invoiced.
    pub net: Fast<Money>,
    /// Invoice lines counted.
    pub lines: i64,
}

/// One subscriber's traffic over a range.
#[derive(SimpleObject)]
pub struct DataUserRow {
    /// Rank, 1 for the largest.
    pub rank: i64,
    /// Subscription.
    pub subscription_id: ID,
    /// Login.
    pub username: String,
    /// Customer.
    pub customer_id: ID,
    /// Customer name.
    pub customer_name: String,
    /// Plan.
    pub plan_id: ID,
    /// Plan name.
    pub plan_name: String,
    /// Access type.
    pub access_type: AccessType,
    /// Octets from the subscriber (upload).
    pub input_octets: i64,
    /// Octets to the subscriber (download).
    pub output_octets: i64,
    /// Both.
    pub total_octets: i64,
    /// Seconds online.
    pub session_seconds: i64,
}

/// Reads of the business reports.
#[derive(Default)]
pub struct BusinessReportQuery;

#[Object]
impl BusinessReportQuery {
    /// New customers and subscriptions, cancellations, churn rate and net growth from `from` to
    /// `to` (inclusive, tenant-local `YYYY-MM-DD`; daily buckets span at most 366 days, monthly
    /// ten years), per plan and access type unless `byPlan` is false.
    async fn acquisition_report(
        &self,
        ctx: &Context<'_>,
        from: String,
        to: String,
        #[graphql(default_with = "ReportBucket::Month")] bucket: ReportBucket,
        #[graphql(default = true)] by_plan: bool,
    ) -> async_graphql::Result<FastList<AcquisitionRow>> {
        let a = root(ctx)?;
        let range = Range::parse(&from, &to, bucket).gql()?;
        let rows = reports::acquisition(&core(ctx).db, a, &range, by_plan).await.gql()?;
        Ok(rows
            .into_iter()
            .map(|r| AcquisitionRow {
                bucket: r.bucket,
                first_day: r.first_day,
                last_day: r.last_day,
                plan_id: r.plan_id.map(|p| ids::encode("Plan", p)),
                plan_name: r.plan_name,
                access_type: r.access_type,
                open_at_start: r.open_at_start,
                new_customers: r.new_customers,
                new_subscriptions: r.new_subscriptions,
                cancellations: r.cancellations,
                moved_in: r.moved_in,
                moved_out: r.moved_out,
                net_growth: r.net_growth,
                open_at_end: r.open_at_end,
                churn_rate_basis_points: r.churn_rate_bp,
            })
            .collect())
    }

    /// MRR movement (new, reactivation, expansion, contraction, churned, net, ending) and ARPU
    /// per bucket from `from` to `to`.
    async fn mrr_report(
        &self,
        ctx: &Context<'_>,
        from: String,
        to: String,
        #[graphql(default_with = "ReportBucket::Month")] bucket: ReportBucket,
    ) -> async_graphql::Result<FastList<MrrMovementRow>> {
        let a = root(ctx)?;
        let range = Range::parse(&from, &to, bucket).gql()?;
        let rows = reports::mrr_movement(&core(ctx).db, a, &range).await.gql()?;
        let cur = tenant_currency(ctx).await?;
        let m = |x| Fast(Money::new(x, &cur));
        Ok(rows
            .into_iter()
            .map(|r| MrrMovementRow {
                bucket: r.bucket,
                first_day: r.first_day,
                last_day: r.last_day,
                starting_mrr: m(r.starting_mrr_minor),
                new_mrr: m(r.new_mrr_minor),
                reactivation_mrr: m(r.reactivation_mrr_minor),
                expansion_mrr: m(r.expansion_mrr_minor),
                contraction_mrr: m(r.contraction_mrr_minor),
                churned_mrr: m(r.churned_mrr_minor),
                net_mrr: m(r.net_mrr_minor),
                ending_mrr: m(r.ending_mrr_minor),
                active_subscriptions: r.active_subscriptions,
                arpu: r.arpu_minor.map(m),
            })
            .collect())
    }

    /// Invoiced, collected, collection rate, receivables and days sales outstanding per bucket
    /// from `from` to `to` (receivables ageing stays in `billingReport`).
    async fn collection_report(
        &self,
        ctx: &Context<'_>,
        from: String,
        to: String,
        #[graphql(default_with = "ReportBucket::Month")] bucket: ReportBucket,
    ) -> async_graphql::Result<FastList<CollectionRow>> {
        let a = root(ctx)?;
        let range = Range::parse(&from, &to, bucket).gql()?;
        let rows = reports::collection(&core(ctx).db, a, &range).await.gql()?;
        let cur = tenant_currency(ctx).await?;
        let m = |x| Fast(Money::new(x, &cur));
        Ok(rows
            .into_iter()
            .map(|r| CollectionRow {
                bucket: r.bucket,
                first_day: r.first_day,
                last_day: r.last_day,
                invoiced: m(r.invoiced_minor),
                collected: m(r.collected_minor),
                collection_rate_basis_points: r.collection_rate_bp,
                receivables_at_end: m(r.receivables_end_minor),
                days_sales_outstanding_hundredths: r.dso_centidays,
            })
            .collect())
    }

    /// Subscription revenue (net) per bucket and tax class from `from` to `to`.
    async fn tax_class_revenue_report(
        &self,
        ctx: &Context<'_>,
        from: String,
        to: String,
        #[graphql(default_with = "ReportBucket::Month")] bucket: ReportBucket,
    ) -> async_graphql::Result<FastList<TaxClassRevenueRow>> {
        let a = root(ctx)?;
        let range = Range::parse(&from, &to, bucket).gql()?;
        let rows = reports::revenue_by_tax_class(&core(ctx).db, a, &range).await.gql()?;
        let cur = tenant_currency(ctx).await?;
        Ok(rows
            .into_iter()
            .map(|r| TaxClassRevenueRow {
                bucket: r.bucket,
                first_day: r.first_day,
                last_day: r.last_day,
                tax_class: r.tax_class,
                tax_name: r.tax_name,
                net: Fast(Money::new(r.net_minor, &cur)),
                lines: r.lines,
            })
            .collect())
    }

    /// The `first` (1-100, default 10) subscriptions with the most traffic in the usage periods
    /// starting from `from` to `to` (at most 366 days), most first.
    async fn top_data_users(
        &self,
        ctx: &Context<'_>,
        from: String,
        to: String,
        #[graphql(default = 10)] first: i32,
    ) -> async_graphql::Result<FastList<DataUserRow>> {
        let a = root(ctx)?;
        let range = Range::parse(&from, &to, ReportBucket::Day).gql()?;
        let rows = reports::top_data_users(&core(ctx).db, a, &range, i64::from(first)).await.gql()?;
        Ok(rows
            .into_iter()
            .zip(1..)
            .map(|(r, rank)| DataUserRow {
                rank,
                subscription_id: ids::encode("Subscription", r.subscription_id),
                username: r.username,
                customer_id: ids::encode("Customer", r.customer_id),
                customer_name: r.customer_name,
                plan_id: ids::encode("Plan", r.plan_id),
                plan_name: r.plan_name,
                access_type: r.access_type,
                input_octets: r.input_octets,
                output_octets: r.output_octets,
                total_octets: r.total_octets,
                session_seconds: r.session_time,
            })
            .collect())
    }
}
