//! The report exports: a report's rows (few: a row per plan, month or bucket) as a table.
//!
//! # Adding a report
//! A report export is one function `fn(&Ctx, &Actor, &Filters) -> TableFuture` that reads its
//! filters, calls the report (which checks the caller's role itself, as the GraphQL field
//! does) and returns [`report`]`(ctx, actor, name, COLUMNS, rows)`; then one [`Kind`] line in
//! [`REPORTS`] names it, its action and its filters. Nothing else: the HTTP route
//! `GET /exports/{name}.{csv|xlsx}`, `isp export NAME`, the role check before any read and the
//! OpenAPI document all read [`REPORTS`]. Ranges are `from`/`to` dates (`YYYY-MM-DD`,
//! inclusive, both required, see [`range`]); money columns are `ColumnType::Money` in the
//! tenant's currency.

use super::table::{col, Cell, Column, ColumnType as T, Row, Rows, Table};
use super::{currency, Filters, Kind, TableFuture};
use crate::auth::{Action, Actor};
use crate::billing::{self, reports};
use crate::error::{CoreError, CoreResult};
use crate::reports::{Range, ReportBucket};
use crate::Ctx;
use chrono::NaiveDate;

/// The report exports.
pub const REPORTS: &[Kind] = &[
    Kind {
        name: "revenue-by-plan",
        about: "Subscription revenue (net of tax) per plan on invoices issued from `from` to `to`.",
        action: Action::ReportRead,
        filters: &["from", "to"],
        open: revenue_by_plan,
    },
    Kind {
        name: "collections",
        about: "Invoiced and collected money per month from `from` to `to`, with the collection rate.",
        action: Action::ReportRead,
        filters: &["from", "to"],
        open: collections,
    },
    Kind {
        name: "mrr-movement",
        about: "MRR movement (new, reactivation, expansion, contraction, churned) and ARPU per `bucket` \
                (MONTH, the default, or DAY) from `from` to `to`, as the GraphQL `mrrReport`.",
        action: Action::ReportRead,
        filters: &["from", "to", "bucket"],
        open: mrr_movement,
    },
    Kind {
        name: "acquisition",
        about: "New customers and subscriptions, cancellations, moves, growth and churn rate per `bucket` \
                (MONTH or DAY) and plan + access type from `from` to `to`, as the GraphQL `acquisitionReport`.",
        action: Action::ReportRead,
        filters: &["from", "to", "bucket"],
        open: acquisition,
    },
    Kind {
        name: "collection-rate",
        about: "Invoiced, collected, collection rate, receivables and days sales outstanding per `bucket` \
                from `from` to `to`, as the GraphQL `collectionReport`.",
        action: Action::ReportRead,
        filters: &["from", "to", "bucket"],
        open: collection_rate,
    },
    Kind {
        name: "revenue-by-tax-class",
        about: "Net subscription revenue per `bucket` and tax class from `from` to `to`, as the GraphQL \
                `taxClassRevenueReport`.",
        action: Action::ReportRead,
        filters: &["from", "to", "bucket"],
        open: revenue_by_tax_class,
    },
    Kind {
        name: "top-data-users",
        about: "The `first` (default 10, at most 100) subscriptions that moved the most data from `from` to \
                `to`, as the GraphQL `topDataUsers`.",
        action: Action::ReportRead,
        filters: &["from", "to", "first"],
        open: top_data_users,
    },
    Kind {
        name: "ageing",
        about: "Open receivables by days past due as of `asOf` (default: today in the tenant's time zone).",
        action: Action::ReportRead,
        filters: &["asOf"],
        open: ageing,
    },
];

/// A report's table from its rows in memory.
pub async fn report(ctx: &Ctx, a: &Actor, name: &str, columns: &[Column], rows: Vec<Row>) -> CoreResult<Table> {
    Ok(Table {
        name: name.to_string(),
        currency: currency(ctx, a.tenant_id).await?,
        columns: columns.to_vec(),
        source: Box::new(Rows(Some(rows))),
    })
}

/// The required `from` and `to` dates of a range, `from` not after `to`.
pub fn range(f: &Filters) -> CoreResult<(NaiveDate, NaiveDate)> {
    let from = f.date("from")?.ok_or_else(|| CoreError::validation("from", "is required (YYYY-MM-DD)"))?;
    let to = f.date("to")?.ok_or_else(|| CoreError::validation("to", "is required (YYYY-MM-DD)"))?;
    if from > to {
        return Err(CoreError::validation("to", "must not be before from"));
    }
    Ok((from, to))
}

const REVENUE_COLUMNS: &[Column] =
    &[col("Plan ID", T::Integer), col("Plan", T::Text), col("Net revenue", T::Money), col("Lines", T::Integer)];

fn revenue_by_plan<'a>(ctx: &'a Ctx, a: &'a Actor, f: &'a Filters) -> TableFuture<'a> {
    Box::pin(async move {
        let (from, to) = range(f)?;
        let rows = reports::revenue_by_plan(&ctx.db, a, from, to)
            .await?
            .into_iter()
            .map(|r| vec![Cell::Int(r.plan_id), Cell::Text(r.plan_name), Cell::Money(r.net_minor), Cell::Int(r.lines)])
            .collect();
        report(ctx, a, "revenue-by-plan", REVENUE_COLUMNS, rows).await
    })
}

const COLLECTION_COLUMNS: &[Column] = &[
    col("Month", T::Text),
    col("Invoiced", T::Money),
    col("Collected", T::Money),
    col("Collection rate (bp)", T::Integer),
];

fn collections<'a>(ctx: &'a Ctx, a: &'a Actor, f: &'a Filters) -> TableFuture<'a> {
    Box::pin(async move {
        let (from, to) = range(f)?;
        let rows = reports::collections(&ctx.db, a, from, to)
            .await?
            .into_iter()
            .map(|m| {
                vec![
                    Cell::Text(m.month),
                    Cell::Money(m.invoiced_minor),
                    Cell::Money(m.collected_minor),
                    Cell::int_opt(m.collection_rate_bp),
                ]
            })
            .collect();
        report(ctx, a, "collections", COLLECTION_COLUMNS, rows).await
    })
}

const AGEING_COLUMNS: &[Column] = &[col("As of", T::Date), col("Bucket", T::Text), col("Amount", T::Money)];

fn ageing<'a>(ctx: &'a Ctx, a: &'a Actor, f: &'a Filters) -> TableFuture<'a> {
    Box::pin(async move {
        let as_of = match f.date("asOf")? {
            Some(d) => d,
            None => billing::tenant_today(ctx, a.tenant_id).await?,
        };
        let r = reports::ageing(&ctx.db, a, as_of).await?;
        let rows = [
            ("Current", r.current_minor),
            ("1-30 days", r.days_1_30_minor),
            ("31-60 days", r.days_31_60_minor),
            ("61-90 days", r.days_61_90_minor),
            ("Over 90 days", r.over_90_minor),
            ("Total", r.total_minor),
        ]
        .into_iter()
        .map(|(bucket, v)| vec![Cell::Date(as_of), Cell::Text(bucket.into()), Cell::Money(v)])
        .collect();
        report(ctx, a, "ageing", AGEING_COLUMNS, rows).await
    })
}

const MRR_COLUMNS: &[Column] = &[
    col("Bucket", T::Text),
    col("First day", T::Date),
    col("Last day", T::Date),
    col("Starting MRR", T::Money),
    col("New MRR", T::Money),
    col("Reactivation MRR", T::Money),
    col("Expansion MRR", T::Money),
    col("Contraction MRR", T::Money),
    col("Churned MRR", T::Money),
    col("Net MRR", T::Money),
    col("Ending MRR", T::Money),
    col("Active subscriptions", T::Integer),
    col("ARPU", T::Money),
];

fn mrr_movement<'a>(ctx: &'a Ctx, a: &'a Actor, f: &'a Filters) -> TableFuture<'a> {
    Box::pin(async move {
        let range = bucketed(f)?;
        let rows = crate::reports::mrr_movement(&ctx.db, a, &range)
            .await?
            .into_iter()
            .map(|r| {
                vec![
                    Cell::Text(r.bucket),
                    Cell::date(&r.first_day),
                    Cell::date(&r.last_day),
                    Cell::Money(r.starting_mrr_minor),
                    Cell::Money(r.new_mrr_minor),
                    Cell::Money(r.reactivation_mrr_minor),
                    Cell::Money(r.expansion_mrr_minor),
                    Cell::Money(r.contraction_mrr_minor),
                    Cell::Money(r.churned_mrr_minor),
                    Cell::Money(r.net_mrr_minor),
                    Cell::Money(r.ending_mrr_minor),
                    Cell::Int(r.active_subscriptions),
                    r.arpu_minor.map_or(Cell::Null, Cell::Money),
                ]
            })
            .collect();
        report(ctx, a, "mrr-movement", MRR_COLUMNS, rows).await
    })
}

/// The range of a bucketed report: `from`, `to` and `bucket` (MONTH, the default, or DAY),
/// checked as the GraphQL reports check it.
fn bucketed(f: &Filters) -> CoreResult<Range> {
    let (from, to) = range(f)?;
    let bucket = match f.one("bucket")?.map(str::to_ascii_uppercase).as_deref() {
        None | Some("MONTH") => ReportBucket::Month,
        Some("DAY") => ReportBucket::Day,
        Some(_) => return Err(CoreError::validation("bucket", "is MONTH or DAY")),
    };
    Range::new(from, to, bucket)
}

const ACQUISITION_COLUMNS: &[Column] = &[
    col("Bucket", T::Text),
    col("First day", T::Date),
    col("Last day", T::Date),
    col("Plan ID", T::Integer),
    col("Plan", T::Text),
    col("Access type", T::Text),
    col("Open at start", T::Integer),
    col("New customers", T::Integer),
    col("New subscriptions", T::Integer),
    col("Cancellations", T::Integer),
    col("Moved in", T::Integer),
    col("Moved out", T::Integer),
    col("Net growth", T::Integer),
    col("Open at end", T::Integer),
    col("Churn rate (bp)", T::Integer),
];

fn acquisition<'a>(ctx: &'a Ctx, a: &'a Actor, f: &'a Filters) -> TableFuture<'a> {
    Box::pin(async move {
        let range = bucketed(f)?;
        let rows = crate::reports::acquisition(&ctx.db, a, &range, true)
            .await?
            .into_iter()
            .map(|r| {
                vec![
                    Cell::Text(r.bucket),
                    Cell::date(&r.first_day),
                    Cell::date(&r.last_day),
                    Cell::int_opt(r.plan_id),
                    Cell::text(r.plan_name.as_deref()),
                    r.access_type.map_or(Cell::Null, |t| Cell::Text(t.as_str().to_string())),
                    Cell::Int(r.open_at_start),
                    Cell::Int(r.new_customers),
                    Cell::Int(r.new_subscriptions),
                    Cell::Int(r.cancellations),
                    Cell::Int(r.moved_in),
                    Cell::Int(r.moved_out),
                    Cell::Int(r.net_growth),
                    Cell::Int(r.open_at_end),
                    Cell::int_opt(r.churn_rate_bp),
                ]
            })
            .collect();
        report(ctx, a, "acquisition", ACQUISITION_COLUMNS, rows).await
    })
}

const COLLECTION_RATE_COLUMNS: &[Column] = &[
    col("Bucket", T::Text),
    col("First day", T::Date),
    col("Last day", T::Date),
    col("Invoiced", T::Money),
    col("Collected", T::Money),
    col("Collection rate (bp)", T::Integer),
    col("Receivables at end", T::Money),
    col("DSO (centidays)", T::Integer),
];

fn collection_rate<'a>(ctx: &'a Ctx, a: &'a Actor, f: &'a Filters) -> TableFuture<'a> {
    Box::pin(async move {
        let range = bucketed(f)?;
        let rows = crate::reports::collection(&ctx.db, a, &range)
            .await?
            .into_iter()
            .map(|r| {
                vec![
                    Cell::Text(r.bucket),
                    Cell::date(&r.first_day),
                    Cell::date(&r.last_day),
                    Cell::Money(r.invoiced_minor),
                    Cell::Money(r.collected_minor),
                    Cell::int_opt(r.collection_rate_bp),
                    Cell::Money(r.receivables_end_minor),
                    Cell::int_opt(r.dso_centidays),
                ]
            })
            .collect();
        report(ctx, a, "collection-rate", COLLECTION_RATE_COLUMNS, rows).await
    })
}

const TAX_CLASS_COLUMNS: &[Column] = &[
    col("Bucket", T::Text),
    col("First day", T::Date),
    col("Last day", T::Date),
    col("Tax class", T::Text),
    col("Tax name", T::Text),
    col("Net revenue", T::Money),
    col("Lines", T::Integer),
];

fn revenue_by_tax_class<'a>(ctx: &'a Ctx, a: &'a Actor, f: &'a Filters) -> TableFuture<'a> {
    Box::pin(async move {
        let range = bucketed(f)?;
        let rows = crate::reports::revenue_by_tax_class(&ctx.db, a, &range)
            .await?
            .into_iter()
            .map(|r| {
                vec![
                    Cell::Text(r.bucket),
                    Cell::date(&r.first_day),
                    Cell::date(&r.last_day),
                    Cell::Text(r.tax_class),
                    Cell::text(r.tax_name.as_deref()),
                    Cell::Money(r.net_minor),
                    Cell::Int(r.lines),
                ]
            })
            .collect();
        report(ctx, a, "revenue-by-tax-class", TAX_CLASS_COLUMNS, rows).await
    })
}

const DATA_USER_COLUMNS: &[Column] = &[
    col("Subscription ID", T::Integer),
    col("Username", T::Text),
    col("Customer ID", T::Integer),
    col("Customer", T::Text),
    col("Plan ID", T::Integer),
    col("Plan", T::Text),
    col("Access type", T::Text),
    col("Input octets", T::Integer),
    col("Output octets", T::Integer),
    col("Total octets", T::Integer),
    col("Session time (s)", T::Integer),
];

fn top_data_users<'a>(ctx: &'a Ctx, a: &'a Actor, f: &'a Filters) -> TableFuture<'a> {
    Box::pin(async move {
        let (from, to) = range(f)?;
        let range = Range::new(from, to, ReportBucket::Day)?;
        let first = match f.one("first")? {
            None => 10,
            Some(v) => {
                v.parse::<i64>().ok().filter(|n| (1..=crate::reports::MAX_TOP_USERS).contains(n)).ok_or_else(|| {
                    CoreError::validation("first", format!("is a number from 1 to {}", crate::reports::MAX_TOP_USERS))
                })?
            }
        };
        let rows = crate::reports::top_data_users(&ctx.db, a, &range, first)
            .await?
            .into_iter()
            .map(|r| {
                vec![
                    Cell::Int(r.subscription_id),
                    Cell::Text(r.username),
                    Cell::Int(r.customer_id),
                    Cell::Text(r.customer_name),
                    Cell::Int(r.plan_id),
                    Cell::Text(r.plan_name),
                    Cell::Text(r.access_type.as_str().to_string()),
                    Cell::Int(r.input_octets),
                    Cell::Int(r.output_octets),
                    Cell::Int(r.total_octets),
                    Cell::Int(r.session_time),
                ]
            })
            .collect();
        report(ctx, a, "top-data-users", DATA_USER_COLUMNS, rows).await
    })
}
