//! The list exports: each reads its GraphQL list's statement (`store::*::list`,
//! `billing::*::list`) in chunks, with that list's filters and its role check, and renders the
//! items as typed rows. Related names (a customer's account number, a plan's name) are looked
//! up once per chunk, one statement each.
//!
//! Invoices are exported one row per invoice line, the invoice's columns repeated on each of
//! its lines (an invoice without lines has one row with empty line columns): one table works
//! the same in CSV and XLSX, streams in one pass, and sums and pivots per invoice or per line
//! in a spreadsheet without joining two sheets.

use super::table::{col, Cell, Column, ColumnType as T, Keyset, PageFuture, Row, RowsFuture, Source, Table};
use super::{currency, Filters, Kind, TableFuture};
use crate::auth::{Action, Actor};
use crate::billing::{invoices, payments, InvoiceKind, InvoiceStatus};
use crate::db::Db;
use crate::error::{CoreError, CoreResult};
use crate::store::customers::{self, CustomerFilter, CustomerSort, CustomerStatus};
use crate::store::page::{Cursor, Page, PageArgs, SortKey};
use crate::store::subscriptions::{self, AccessType, SubscriptionFilter, SubscriptionSort, SubscriptionStatus};
use crate::store::{audit, plans, radius_sessions, usage};
use crate::Ctx;
use std::collections::HashMap;
use std::future::Future;

/// The list exports.
pub const LISTS: &[Kind] = &[
    Kind {
        name: "customers",
        about: "Customers (like the `customers` list; archived ones only when filtered for).",
        action: Action::CustomerRead,
        filters: &["search", "status", "orderBy"],
        open: customers_table,
    },
    Kind {
        name: "subscriptions",
        about: "Subscriptions with their customer's account number and plan (never passwords).",
        action: Action::SubscriptionRead,
        filters: &["status", "planId", "accessType", "customerId", "search", "orderBy"],
        open: subscriptions_table,
    },
    Kind {
        name: "invoices",
        about: "Invoices and credit notes, newest first, one row per invoice line.",
        action: Action::InvoiceRead,
        filters: &["customerId", "status", "kind", "billingRunId"],
        open: invoices_table,
    },
    Kind {
        name: "payments",
        about: "Payments, newest first.",
        action: Action::InvoiceRead,
        filters: &["customerId"],
        open: payments_table,
    },
    Kind {
        name: "radius-sessions",
        about: "RADIUS sessions, newest first.",
        action: Action::SessionRead,
        filters: &["active", "subscriptionId", "nasId", "username"],
        open: sessions_table,
    },
    Kind {
        name: "usage",
        about: "Usage of one subscription per billing period, newest first (subscriptionId required).",
        action: Action::SessionRead,
        filters: &["subscriptionId"],
        open: usage_table,
    },
    Kind {
        name: "audit-log",
        about: "The audit log, newest first.",
        action: Action::AuditRead,
        filters: &["objectId", "actorId", "actionPrefix"],
        open: audit_table,
    },
];

/// A [`Keyset`] source over a list's `page` statement, positioned by `cursor`, rendered by `rows`.
fn keyset<I, P, PF, R, RF>(page: P, cursor: impl Fn(&I) -> Cursor + Send + Sync + 'static, rows: R) -> Box<dyn Source>
where
    I: Send + Sync + 'static,
    P: Fn(Db, PageArgs) -> PF + Send + Sync + 'static,
    PF: Future<Output = CoreResult<Page<I>>> + Send + 'static,
    R: Fn(Db, Vec<I>) -> RF + Send + Sync + 'static,
    RF: Future<Output = CoreResult<Vec<Row>>> + Send + 'static,
{
    Box::new(Keyset::new(
        Box::new(move |db: Db, a: PageArgs| -> PageFuture<I> { Box::pin(page(db, a)) }),
        Box::new(cursor),
        Box::new(move |db: Db, items: Vec<I>| -> RowsFuture { Box::pin(rows(db, items)) }),
    ))
}

/// A cursor on the item `id` ordered by `key`.
fn at(key: SortKey, id: i64) -> Cursor {
    Cursor { key, id, order: None }
}

async fn table(ctx: &Ctx, a: &Actor, name: &str, columns: &[Column], source: Box<dyn Source>) -> CoreResult<Table> {
    Ok(Table { name: name.to_string(), currency: currency(ctx, a.tenant_id).await?, columns: columns.to_vec(), source })
}

/// Account numbers of the given customers, one statement.
async fn accounts(db: &Db, t: i64, ids: impl Iterator<Item = i64>) -> CoreResult<HashMap<i64, String>> {
    let mut ids: Vec<i64> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(customers::get_many(db, t, &ids).await?.into_iter().map(|c| (c.id, c.account_number)).collect())
}

const CUSTOMER_COLUMNS: &[Column] = &[
    col("ID", T::Integer),
    col("Account number", T::Text),
    col("Name", T::Text),
    col("Email", T::Text),
    col("Phone", T::Text),
    col("Address", T::Text),
    col("Tax ID", T::Text),
    col("Status", T::Text),
    col("Notes", T::Text),
    col("Created", T::DateTime),
    col("Updated", T::DateTime),
];

fn customer_row(c: &customers::Customer) -> Row {
    vec![
        Cell::Int(c.id),
        Cell::Text(c.account_number.clone()),
        Cell::Text(c.name.clone()),
        Cell::text(c.email.as_deref()),
        Cell::text(c.phone.as_deref()),
        Cell::text(c.address.as_deref()),
        Cell::text(c.tax_id.as_deref()),
        Cell::Text(c.status.to_string()),
        Cell::text(c.notes.as_deref()),
        Cell::DateTime(c.created_at),
        Cell::DateTime(c.updated_at),
    ]
}

fn customers_table<'a>(ctx: &'a Ctx, a: &'a Actor, f: &'a Filters) -> TableFuture<'a> {
    Box::pin(async move {
        let filter =
            CustomerFilter { search: f.one("search")?.map(String::from), status: f.list::<CustomerStatus>("status")? };
        let sort = f.parse::<CustomerSort>("orderBy")?.unwrap_or(CustomerSort::NameAsc);
        if sort == CustomerSort::Relevance {
            return Err(CoreError::validation("orderBy", "RELEVANCE is not available for exports; sort by NAME_ASC"));
        }
        // Fail on a bad search now, not in the first chunk after the response has started.
        customers::list_sql(ctx.db.backend(), a.tenant_id, &filter, sort, &PageArgs::default())?;
        let t = a.tenant_id;
        let source = keyset(
            move |db, args| {
                let filter = filter.clone();
                async move { customers::list(&db, t, &filter, sort, &args).await }
            },
            move |c: &customers::Customer| {
                let key = match sort {
                    CustomerSort::CreatedAtAsc | CustomerSort::CreatedAtDesc => SortKey::I(c.created_at),
                    CustomerSort::AccountNumberAsc => SortKey::T(c.account_number.clone()),
                    _ => SortKey::T(c.name.clone()),
                };
                at(key, c.id)
            },
            |_, items: Vec<customers::Customer>| async move { Ok(items.iter().map(customer_row).collect()) },
        );
        table(ctx, a, "customers", CUSTOMER_COLUMNS, source).await
    })
}

const SUBSCRIPTION_COLUMNS: &[Column] = &[
    col("ID", T::Integer),
    col("Username", T::Text),
    col("Customer ID", T::Integer),
    col("Account number", T::Text),
    col("Plan ID", T::Integer),
    col("Plan", T::Text),
    col("Access type", T::Text),
    col("Status", T::Text),
    col("Status reason", T::Text),
    col("Start date", T::Date),
    col("Static IPv4", T::Text),
    col("MAC address", T::Text),
    col("ONU serial", T::Text),
    col("OLT port", T::Text),
    col("Simultaneous use", T::Integer),
    col("Created", T::DateTime),
];

fn subscriptions_table<'a>(ctx: &'a Ctx, a: &'a Actor, f: &'a Filters) -> TableFuture<'a> {
    Box::pin(async move {
        let filter = SubscriptionFilter {
            status: f.list::<SubscriptionStatus>("status")?,
            plan_id: f.id("planId", "Plan")?,
            access_type: f.parse::<AccessType>("accessType")?,
            customer_id: f.id("customerId", "Customer")?,
            search: f.one("search")?.map(String::from),
        };
        let sort = f.parse::<SubscriptionSort>("orderBy")?.unwrap_or(SubscriptionSort::UsernameAsc);
        subscriptions::list_sql(ctx.db.backend(), a.tenant_id, &filter, sort, &PageArgs::default())?;
        let t = a.tenant_id;
        let source = keyset(
            move |db, args| {
                let filter = filter.clone();
                async move { subscriptions::list(&db, t, &filter, sort, &args).await }
            },
            move |s: &subscriptions::Subscription| match sort {
                SubscriptionSort::UsernameAsc => at(SortKey::T(s.username.clone()), s.id),
                _ => at(SortKey::I(s.created_at), s.id),
            },
            move |db, items: Vec<subscriptions::Subscription>| async move {
                let accounts = accounts(&db, t, items.iter().map(|s| s.customer_id)).await?;
                let mut plan_ids: Vec<i64> = items.iter().map(|s| s.plan_id).collect();
                plan_ids.sort_unstable();
                plan_ids.dedup();
                let plans: HashMap<i64, String> =
                    plans::get_many(&db, t, &plan_ids).await?.into_iter().map(|p| (p.id, p.name)).collect();
                Ok(items
                    .iter()
                    .map(|s| {
                        vec![
                            Cell::Int(s.id),
                            Cell::Text(s.username.clone()),
                            Cell::Int(s.customer_id),
                            Cell::text(accounts.get(&s.customer_id).map(String::as_str)),
                            Cell::Int(s.plan_id),
                            Cell::text(plans.get(&s.plan_id).map(String::as_str)),
                            Cell::Text(s.access_type.to_string()),
                            Cell::Text(s.status.to_string()),
                            Cell::text(s.status_reason.as_deref()),
                            Cell::date(&s.start_date),
                            Cell::text(s.static_ipv4.as_deref()),
                            Cell::text(s.mac_address.as_deref()),
                            Cell::text(s.onu_serial.as_deref()),
                            Cell::text(s.olt_port.as_deref()),
                            Cell::Int(s.simultaneous_use),
                            Cell::DateTime(s.created_at),
                        ]
                    })
                    .collect())
            },
        );
        table(ctx, a, "subscriptions", SUBSCRIPTION_COLUMNS, source).await
    })
}

const INVOICE_COLUMNS: &[Column] = &[
    col("Invoice ID", T::Integer),
    col("Number", T::Text),
    col("Kind", T::Text),
    col("Status", T::Text),
    col("Customer ID", T::Integer),
    col("Account number", T::Text),
    col("Issue date", T::Date),
    col("Due date", T::Date),
    col("Subtotal", T::Money),
    col("Tax", T::Money),
    col("Total", T::Money),
    col("Paid", T::Money),
    col("Balance", T::Money),
    col("Line ID", T::Integer),
    col("Line kind", T::Text),
    col("Description", T::Text),
    col("Period start", T::Date),
    col("Period end", T::Date),
    col("Line net", T::Money),
    col("Tax rate (bp)", T::Integer),
    col("Tax inclusive", T::Boolean),
    col("Line tax", T::Money),
    col("Line total", T::Money),
];

/// The invoice's own cells (the first 13 columns).
fn invoice_cells(i: &invoices::Invoice, account: Option<&str>) -> Row {
    // Room for the line's cells too: no reallocation when they are appended.
    let mut row = Vec::with_capacity(INVOICE_COLUMNS.len());
    row.extend([
        Cell::Int(i.id),
        Cell::text(i.number.as_deref()),
        Cell::Text(i.kind.to_string()),
        Cell::Text(i.status.to_string()),
        Cell::Int(i.customer_id),
        Cell::text(account),
        Cell::date(&i.issue_date),
        Cell::date(&i.due_date),
        Cell::Money(i.subtotal_minor),
        Cell::Money(i.tax_minor),
        Cell::Money(i.total_minor),
        Cell::Money(i.paid_minor),
        Cell::Money(i.balance()),
    ]);
    row
}

fn invoices_table<'a>(ctx: &'a Ctx, a: &'a Actor, f: &'a Filters) -> TableFuture<'a> {
    Box::pin(async move {
        let filter = invoices::InvoiceFilter {
            customer_id: f.id("customerId", "Customer")?,
            status: f.list::<InvoiceStatus>("status")?,
            kind: f.parse::<InvoiceKind>("kind")?,
            billing_run_id: f.id("billingRunId", "BillingRun")?,
        };
        let t = a.tenant_id;
        let source = keyset(
            move |db, args| {
                let filter = filter.clone();
                async move { invoices::list(&db, t, &filter, &args).await }
            },
            |i: &invoices::Invoice| at(SortKey::I(i.id), i.id),
            move |db, items: Vec<invoices::Invoice>| async move {
                let accounts = accounts(&db, t, items.iter().map(|i| i.customer_id)).await?;
                let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
                let mut lines: HashMap<i64, Vec<invoices::InvoiceLine>> = HashMap::new();
                for l in invoices::lines(&db, t, &ids).await? {
                    lines.entry(l.invoice_id).or_default().push(l);
                }
                let mut rows = Vec::with_capacity(items.len());
                for i in &items {
                    let head = invoice_cells(i, accounts.get(&i.customer_id).map(String::as_str));
                    match lines.remove(&i.id) {
                        None => {
                            let mut row = head;
                            row.resize(INVOICE_COLUMNS.len(), Cell::Null);
                            rows.push(row);
                        }
                        Some(ls) => {
                            // Each line repeats the invoice's cells; the last one takes them.
                            let mut head = Some(head);
                            let n = ls.len();
                            for (k, l) in ls.into_iter().enumerate() {
                                let mut row = if k + 1 == n {
                                    head.take().unwrap_or_default()
                                } else {
                                    head.clone().unwrap_or_default()
                                };
                                row.extend([
                                    Cell::Int(l.id),
                                    Cell::Text(l.kind.to_string()),
                                    Cell::Text(l.description),
                                    Cell::date_opt(l.period_start.as_deref()),
                                    Cell::date_opt(l.period_end.as_deref()),
                                    Cell::Money(l.net_minor),
                                    Cell::Int(l.tax_rate_bp),
                                    Cell::Bool(l.tax_inclusive != 0),
                                    Cell::Money(l.tax_minor),
                                    Cell::Money(l.total_minor),
                                ]);
                                rows.push(row);
                            }
                        }
                    }
                }
                Ok(rows)
            },
        );
        table(ctx, a, "invoices", INVOICE_COLUMNS, source).await
    })
}

const PAYMENT_COLUMNS: &[Column] = &[
    col("ID", T::Integer),
    col("Receipt number", T::Text),
    col("Customer ID", T::Integer),
    col("Account number", T::Text),
    col("Method", T::Text),
    col("Reference", T::Text),
    col("Amount", T::Money),
    col("Refunded", T::Money),
    col("Received on", T::Date),
    col("Recorded", T::DateTime),
];

fn payments_table<'a>(ctx: &'a Ctx, a: &'a Actor, f: &'a Filters) -> TableFuture<'a> {
    Box::pin(async move {
        let customer = f.id("customerId", "Customer")?;
        let t = a.tenant_id;
        let source = keyset(
            move |db, args| async move { payments::list(&db, t, customer, &args).await },
            |p: &payments::Payment| at(SortKey::I(p.id), p.id),
            move |db, items: Vec<payments::Payment>| async move {
                let accounts = accounts(&db, t, items.iter().map(|p| p.customer_id)).await?;
                Ok(items
                    .iter()
                    .map(|p| {
                        vec![
                            Cell::Int(p.id),
                            Cell::Text(p.receipt_number.clone()),
                            Cell::Int(p.customer_id),
                            Cell::text(accounts.get(&p.customer_id).map(String::as_str)),
                            Cell::Text(p.method.to_string()),
                            Cell::text(p.reference.as_deref()),
                            Cell::Money(p.amount_minor),
                            Cell::Money(p.refunded_minor),
                            Cell::date(&p.received_on),
                            Cell::DateTime(p.created_at),
                        ]
                    })
                    .collect())
            },
        );
        table(ctx, a, "payments", PAYMENT_COLUMNS, source).await
    })
}

const SESSION_COLUMNS: &[Column] = &[
    col("ID", T::Integer),
    col("Username", T::Text),
    col("Subscription ID", T::Integer),
    col("NAS ID", T::Integer),
    col("Acct-Session-Id", T::Text),
    col("Framed IP", T::Text),
    col("Calling station", T::Text),
    col("NAS port", T::Text),
    col("Started", T::DateTime),
    col("Updated", T::DateTime),
    col("Stopped", T::DateTime),
    col("Upload octets", T::Integer),
    col("Download octets", T::Integer),
    col("Seconds", T::Integer),
    col("Terminate cause", T::Text),
    col("Active", T::Boolean),
];

fn sessions_table<'a>(ctx: &'a Ctx, a: &'a Actor, f: &'a Filters) -> TableFuture<'a> {
    Box::pin(async move {
        let filter = radius_sessions::SessionFilter {
            open: f.bool("active")?,
            subscription_id: f.id("subscriptionId", "Subscription")?,
            nas_id: f.id("nasId", "Nas")?,
            username: f.one("username")?.map(String::from),
        };
        let t = a.tenant_id;
        let source = keyset(
            move |db, args| {
                let filter = filter.clone();
                async move { radius_sessions::list(&db, t, &filter, &args).await }
            },
            |s: &radius_sessions::RadiusSession| at(SortKey::I(s.id), s.id),
            |_, items: Vec<radius_sessions::RadiusSession>| async move {
                Ok(items
                    .iter()
                    .map(|s| {
                        vec![
                            Cell::Int(s.id),
                            Cell::Text(s.username.clone()),
                            Cell::int_opt(s.subscription_id),
                            Cell::Int(s.nas_id),
                            Cell::Text(s.acct_session_id.clone()),
                            Cell::text(s.framed_ip.as_deref()),
                            Cell::text(s.calling_station_id.as_deref()),
                            Cell::text(s.nas_port_id.as_deref()),
                            Cell::DateTime(s.started_at),
                            Cell::DateTime(s.updated_at),
                            s.stopped_at.map_or(Cell::Null, Cell::DateTime),
                            Cell::Int(s.input_octets),
                            Cell::Int(s.output_octets),
                            Cell::Int(s.session_time),
                            Cell::text(s.terminate_cause.as_deref()),
                            Cell::Bool(s.open != 0),
                        ]
                    })
                    .collect())
            },
        );
        table(ctx, a, "radius-sessions", SESSION_COLUMNS, source).await
    })
}

const USAGE_COLUMNS: &[Column] = &[
    col("ID", T::Integer),
    col("Subscription ID", T::Integer),
    col("Period start", T::Date),
    col("Period end", T::Date),
    col("Upload octets", T::Integer),
    col("Download octets", T::Integer),
    col("Total octets", T::Integer),
    col("Seconds", T::Integer),
    col("Updated", T::DateTime),
];

fn usage_table<'a>(ctx: &'a Ctx, a: &'a Actor, f: &'a Filters) -> TableFuture<'a> {
    Box::pin(async move {
        let sub = f
            .id("subscriptionId", "Subscription")?
            .ok_or_else(|| CoreError::validation("subscriptionId", "is required (usage is listed per subscription)"))?;
        let t = a.tenant_id;
        let source = keyset(
            move |db, args| async move { usage::list(&db, t, sub, &args).await },
            |u: &usage::Usage| at(SortKey::T(u.period_start.clone()), u.id),
            |_, items: Vec<usage::Usage>| async move {
                Ok(items
                    .iter()
                    .map(|u| {
                        vec![
                            Cell::Int(u.id),
                            Cell::Int(u.subscription_id),
                            Cell::date(&u.period_start),
                            Cell::date(&u.period_end),
                            Cell::Int(u.input_octets),
                            Cell::Int(u.output_octets),
                            Cell::Int(u.total_octets()),
                            Cell::Int(u.session_time),
                            Cell::DateTime(u.updated_at),
                        ]
                    })
                    .collect())
            },
        );
        table(ctx, a, "usage", USAGE_COLUMNS, source).await
    })
}

const AUDIT_COLUMNS: &[Column] = &[
    col("ID", T::Integer),
    col("At", T::DateTime),
    col("Actor", T::Text),
    col("User ID", T::Integer),
    col("Action", T::Text),
    col("Object type", T::Text),
    col("Object ID", T::Integer),
    col("IP", T::Text),
    col("Details", T::Text),
];

fn audit_table<'a>(ctx: &'a Ctx, a: &'a Actor, f: &'a Filters) -> TableFuture<'a> {
    Box::pin(async move {
        // As the GraphQL list: an object's global ID names its type (StaffUser rows are `User`).
        let (object_type, object_id) = match f.any_id("objectId")? {
            Some((ty, _)) if ty.is_empty() => {
                return Err(CoreError::validation("objectId", "must be the object's global ID"));
            }
            Some((ty, n)) => (Some(if ty == "StaffUser" { "User".to_string() } else { ty }), Some(n)),
            None => (None, None),
        };
        let filter = audit::AuditFilter {
            object_type,
            object_id,
            user_id: f.id("actorId", "StaffUser")?,
            action_prefix: f.one("actionPrefix")?.map(String::from),
        };
        let t = a.tenant_id;
        let source = keyset(
            move |db, args| {
                let filter = filter.clone();
                async move { audit::list(&db, t, &filter, &args).await }
            },
            |e: &audit::AuditEntry| at(SortKey::I(e.id), e.id),
            |_, items: Vec<audit::AuditEntry>| async move {
                Ok(items
                    .iter()
                    .map(|e| {
                        vec![
                            Cell::Int(e.id),
                            Cell::DateTime(e.at),
                            Cell::Text(e.actor.clone()),
                            Cell::int_opt(e.user_id),
                            Cell::Text(e.action.clone()),
                            Cell::Text(e.object_type.clone()),
                            Cell::int_opt(e.object_id),
                            Cell::text(e.ip.as_deref()),
                            Cell::Text(e.details.clone()),
                        ]
                    })
                    .collect())
            },
        );
        table(ctx, a, "audit-log", AUDIT_COLUMNS, source).await
    })
}
