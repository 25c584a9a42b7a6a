//! Every list the API pages through, as the statements the store builds for it: each sort
//! with each combination of its filters, forwards and backwards, from the start and from a
//! cursor, and its count. The plan test below runs `EXPLAIN` over all of them on both
//! backends, so a list (or a filter, or a sort) that an index does not serve fails the
//! suite; an e2e test checks that [`FIELDS`] names every connection of the GraphQL schema, so a
//! new list cannot be left out.

use crate::billing::{dunning, invoices, payments, InvoiceKind, InvoiceStatus};
use crate::db::{Backend, Sql};
use crate::error::CoreResult;
use crate::store::customers::{self, CustomerFilter, CustomerSort, CustomerStatus};
use crate::store::devices::{self, DeviceKind};
use crate::store::jobs::{self, JobStatus};
use crate::store::notifications::{self, LogFilter, NotifyStatus};
use crate::store::page::{Cursor, ListQuery, Order, PageArgs, SortKey};
use crate::store::subscriptions::{self, AccessType, SubscriptionFilter, SubscriptionSort, SubscriptionStatus};
use crate::store::tickets::{self, TicketFilter, TicketPriority, TicketSort, TicketStatus};
use crate::store::{audit, auth_log, documents, nas, plans, radius_sessions, usage, users};

/// The GraphQL connection fields these lists serve.
pub const FIELDS: &[&str] = &[
    "customers",
    "subscriptions",
    "plans",
    "staffUsers",
    "auditLog",
    "nasDevices",
    "radiusSessions",
    "subscriptionUsage",
    "authLog",
    "invoices",
    "payments",
    "dunningEvents",
    "devices",
    "deviceJobs",
    "tickets",
    "notifications",
];

/// Ids the statements filter by.
#[derive(Debug, Clone, Copy)]
pub struct Ids {
    /// The tenant.
    pub tenant: i64,
    /// A customer of it.
    pub customer: i64,
    /// A subscription of it.
    pub subscription: i64,
    /// A plan of it.
    pub plan: i64,
    /// A NAS of it.
    pub nas: i64,
    /// A staff user of it.
    pub user: i64,
    /// A billing run of it.
    pub billing_run: i64,
    /// An invoice of it.
    pub invoice: i64,
    /// A payment of it.
    pub payment: i64,
}

/// One statement of a list.
#[derive(Debug, Clone)]
pub struct Statement {
    /// The GraphQL field it serves.
    pub field: &'static str,
    /// What it is (sort, filters, page), for failure messages.
    pub what: String,
    /// The statement.
    pub sql: Sql<'static>,
    /// Whether it may sort what it selects: a search's matches, ordered by relevance or by a
    /// column, are few enough to sort.
    pub sorts_matches: bool,
    /// For a lookup (the rows of a few ids, as the GraphQL loaders and the workflows ask for
    /// them), the column it looks up, or for a list with a selective filter the filter's
    /// column: the plan must search by it, not walk the tenant's rows.
    pub key: Option<&'static str>,
}

/// The four ways into a list ordered by `order`: first page, a page after a cursor, last
/// page, a page before a cursor.
fn pages(order: Order) -> Vec<(&'static str, PageArgs)> {
    let key = if order.integer { SortKey::I(1_700_000_000_000) } else { SortKey::T("m".into()) };
    let cursor = Cursor { key, id: 1000, order: Some(order.tag()) };
    vec![
        ("first", PageArgs { first: Some(50), ..Default::default() }),
        ("after", PageArgs { first: Some(50), after: Some(cursor.clone()), ..Default::default() }),
        ("last", PageArgs { last: Some(50), ..Default::default() }),
        ("before", PageArgs { last: Some(50), before: Some(cursor), ..Default::default() }),
    ]
}

/// A way a statement may set a filter field.
type Setter<F> = fn(&mut F, &Ids);

/// Filter fields by name, each with the ways a statement may set it.
type Fields<F> = Vec<(&'static str, Vec<Setter<F>>)>;

/// Every combination of the filter fields, each either unset or one of its example values.
fn combinations<F: Clone + Default>(fields: Fields<F>, ids: &Ids) -> Vec<(String, F)> {
    let mut out = vec![(String::new(), F::default())];
    for (name, setters) in fields {
        let mut next = Vec::with_capacity(out.len() * (setters.len() + 1));
        for (what, f) in &out {
            next.push((what.clone(), f.clone()));
            for (i, set) in setters.iter().enumerate() {
                let mut g = f.clone();
                set(&mut g, ids);
                let label = if setters.len() > 1 { format!("{name}#{i}") } else { name.to_string() };
                next.push((format!("{what} {label}"), g));
            }
        }
        out = next;
    }
    out
}

struct Out(Vec<Statement>);

impl Out {
    fn list(
        &mut self,
        field: &'static str,
        what: String,
        q: CoreResult<ListQuery>,
        sorts_matches: bool,
    ) -> CoreResult<()> {
        self.0.push(Statement { field, what, sql: q?.sql, sorts_matches, key: None });
        Ok(())
    }

    fn lookup(&mut self, table: &'static str, what: &str, sql: Sql<'static>, key: &'static str) {
        self.0.push(Statement {
            field: table,
            what: format!("lookup {what}"),
            sql,
            sorts_matches: true,
            key: Some(key),
        });
    }

    /// Requires the last statement's plan to search by `column` (when given).
    fn seek_by(&mut self, column: Option<&'static str>) {
        if let (Some(c), Some(s)) = (column, self.0.last_mut()) {
            s.key = Some(c);
        }
    }

    fn count(&mut self, field: &'static str, what: String, sql: CoreResult<Sql<'static>>) -> CoreResult<()> {
        self.0.push(Statement { field, what: format!("count{what}"), sql: sql?, sorts_matches: false, key: None });
        Ok(())
    }
}

/// The statements of every list for tenant `ids.tenant` on `backend`.
pub fn statements(backend: Backend, ids: &Ids) -> CoreResult<Vec<Statement>> {
    let mut out = Out(Vec::new());
    let t = ids.tenant;
    let id_desc = Order { column: "id", integer: true, desc: true };

    let customer_filters: Fields<CustomerFilter> = vec![
        ("search", vec![|f, _| f.search = Some("silva".into()), |f, _| f.search = Some("joão 555-0100".into())]),
        (
            "status",
            vec![|f, _| f.status = Some(vec![CustomerStatus::Active]), |f, _| {
                f.status = Some(vec![CustomerStatus::Active, CustomerStatus::Inactive])
            }],
        ),
    ];
    for (what, f) in combinations(customer_filters, ids) {
        for sort in CustomerSort::ALL {
            if *sort == CustomerSort::Relevance && f.search.is_none() {
                continue;
            }
            for (page, args) in pages(sort.order()) {
                let q = customers::list_sql(backend, t, &f, *sort, &args);
                out.list("customers", format!("{sort}{what} {page}"), q, f.search.is_some())?;
            }
        }
        out.count("customers", what.clone(), customers::count_sql(backend, t, &f))?;
    }

    let subscription_filters: Fields<SubscriptionFilter> = vec![
        (
            "status",
            vec![|f, _| f.status = Some(vec![SubscriptionStatus::Active]), |f, _| {
                f.status = Some(vec![SubscriptionStatus::Active, SubscriptionStatus::Suspended])
            }],
        ),
        ("plan", vec![|f, ids| f.plan_id = Some(ids.plan)]),
        ("accessType", vec![|f, _| f.access_type = Some(AccessType::Pppoe)]),
        ("customer", vec![|f, ids| f.customer_id = Some(ids.customer)]),
        ("search", vec![|f, _| f.search = Some("10.0.".into())]),
    ];
    for (what, f) in combinations(subscription_filters, ids) {
        for sort in SubscriptionSort::ALL {
            for (page, args) in pages(sort.order()) {
                let q = subscriptions::list_sql(backend, t, &f, *sort, &args);
                out.list("subscriptions", format!("{sort}{what} {page}"), q, f.search.is_some())?;
            }
        }
        out.count("subscriptions", what.clone(), subscriptions::count_sql(backend, t, &f))?;
    }

    for archived in [false, true] {
        let what = if archived { " includeArchived" } else { "" };
        for (page, args) in pages(Order { column: "name", integer: false, desc: false }) {
            out.list("plans", format!("{what} {page}"), plans::list_sql(t, archived, &args), false)?;
        }
        out.count("plans", what.to_string(), plans::count_sql(t, archived))?;
    }

    for (page, args) in pages(Order { column: "email", integer: false, desc: false }) {
        out.list("staffUsers", page.to_string(), users::list_sql(t, &args), false)?;
    }
    out.count("staffUsers", String::new(), users::count_sql(t))?;

    let audit_filters: Fields<audit::AuditFilter> = vec![
        ("objectType", vec![|f, _| f.object_type = Some("Customer".into())]),
        ("objectId", vec![|f, ids| f.object_id = Some(ids.customer)]),
        ("user", vec![|f, ids| f.user_id = Some(ids.user)]),
        ("action", vec![|f, _| f.action_prefix = Some("customer.".into())]),
    ];
    for (what, f) in combinations(audit_filters, ids) {
        for (page, args) in pages(id_desc) {
            out.list("auditLog", format!("{what} {page}"), audit::list_sql(t, &f, &args), false)?;
        }
        out.count("auditLog", what.clone(), audit::count_sql(t, &f))?;
    }

    for (page, args) in pages(Order { column: "name", integer: false, desc: false }) {
        out.list("nasDevices", page.to_string(), nas::list_sql(t, &args), false)?;
    }
    out.count("nasDevices", String::new(), nas::count_sql(t))?;

    let session_filters: Fields<radius_sessions::SessionFilter> = vec![
        ("open", vec![|f, _| f.open = Some(true), |f, _| f.open = Some(false)]),
        ("subscription", vec![|f, ids| f.subscription_id = Some(ids.subscription)]),
        ("nas", vec![|f, ids| f.nas_id = Some(ids.nas)]),
        ("username", vec![|f, _| f.username = Some("b1".into())]),
    ];
    for (what, f) in combinations(session_filters, ids) {
        for (page, args) in pages(id_desc) {
            out.list("radiusSessions", format!("{what} {page}"), radius_sessions::list_sql(t, &f, &args), false)?;
        }
        out.count("radiusSessions", what.clone(), radius_sessions::count_sql(t, &f))?;
    }

    for (page, args) in pages(Order { column: "period_start", integer: false, desc: true }) {
        out.list("subscriptionUsage", page.to_string(), usage::list_sql(t, ids.subscription, &args), false)?;
    }
    out.count("subscriptionUsage", String::new(), usage::count_sql(t, ids.subscription))?;

    let auth_filters: Fields<auth_log::AuthLogFilter> = vec![
        ("username", vec![|f, _| f.username = Some("b1".into())]),
        ("subscription", vec![|f, ids| f.subscription_id = Some(ids.subscription)]),
        ("result", vec![|f, _| f.result = Some("REJECT".into())]),
    ];
    for (what, f) in combinations(auth_filters, ids) {
        for (page, args) in pages(id_desc) {
            out.list("authLog", format!("{what} {page}"), auth_log::list_sql(t, &f, &args), false)?;
        }
        out.count("authLog", what.clone(), auth_log::count_sql(t, &f))?;
    }

    let invoice_filters: Fields<invoices::InvoiceFilter> = vec![
        ("customer", vec![|f, ids| f.customer_id = Some(ids.customer)]),
        (
            "status",
            vec![|f, _| f.status = Some(vec![InvoiceStatus::Overdue]), |f, _| {
                f.status = Some(vec![InvoiceStatus::Issued, InvoiceStatus::PartiallyPaid, InvoiceStatus::Overdue])
            }],
        ),
        ("kind", vec![|f, _| f.kind = Some(InvoiceKind::Invoice)]),
        ("billingRun", vec![|f, ids| f.billing_run_id = Some(ids.billing_run)]),
    ];
    for (what, f) in combinations(invoice_filters, ids) {
        for (page, args) in pages(id_desc) {
            out.list("invoices", format!("{what} {page}"), invoices::list_sql(t, &f, &args), false)?;
        }
        out.count("invoices", what.clone(), invoices::count_sql(t, &f))?;
    }

    for customer in [None, Some(ids.customer)] {
        let what = if customer.is_some() { " customer" } else { "" };
        for (page, args) in pages(id_desc) {
            out.list("payments", format!("{what} {page}"), payments::list_sql(t, customer, &args), false)?;
            out.list("dunningEvents", format!("{what} {page}"), dunning::list_sql(t, customer, &args), false)?;
        }
        out.count("payments", what.to_string(), payments::count_sql(t, customer))?;
        out.count("dunningEvents", what.to_string(), dunning::count_sql(t, customer))?;
    }

    for kind in [None, Some(DeviceKind::Mikrotik)] {
        let what = if kind.is_some() { " kind" } else { "" };
        for (page, args) in pages(Order { column: "name", integer: false, desc: false }) {
            out.list("devices", format!("{what} {page}"), devices::list_sql(t, kind, &args), false)?;
        }
        out.count("devices", what.to_string(), devices::count_sql(t, kind))?;
    }

    for status in [None, Some(JobStatus::Dead), Some(JobStatus::Pending)] {
        let what = status.map(|s| format!(" {s}")).unwrap_or_default();
        for (page, args) in pages(id_desc) {
            out.list("deviceJobs", format!("{what} {page}"), jobs::list_sql(t, status, &args), false)?;
        }
        out.count("deviceJobs", what.clone(), jobs::count_sql(t, status))?;
    }

    // Tickets: every combination of the common filters with every sort, and each other
    // filter alone with every sort.
    let ticket_filters: Fields<TicketFilter> = vec![
        (
            "status",
            vec![|f, _| f.status = Some(vec![TicketStatus::Open]), |f, _| f.status = Some(TicketStatus::OPEN.to_vec())],
        ),
        ("assignee", vec![|f, ids| f.assignee_id = Some(ids.user)]),
        ("breached", vec![|f, _| f.breached = Some(true)]),
        ("search", vec![|f, _| f.search = Some("router down".into())]),
    ];
    let mut ticket_cases = combinations(ticket_filters, ids);
    let alone: [(&str, Setter<TicketFilter>); 5] = [
        ("priority", |f, _| f.priority = Some(TicketPriority::Urgent)),
        ("team", |f, _| f.team_id = Some(1)),
        ("customer", |f, ids| f.customer_id = Some(ids.customer)),
        ("category", |f, _| f.category_id = Some(1)),
        ("atRisk", |f, _| f.at_risk = Some(true)),
    ];
    for (name, set) in alone {
        let mut f = TicketFilter::default();
        set(&mut f, ids);
        ticket_cases.push((format!(" {name}"), f));
    }
    for (what, f) in ticket_cases {
        // The desk's selective filters have indexes of their own (migrations 0021, 0022): a
        // page by creation time must seek to the filter's value rather than walk the tenant's
        // tickets testing each row, and so must the count: an agent's (open) tickets by
        // assignee, the breached ones (open or not) by the flag, the others when nothing else
        // narrows them.
        let seek = match (&f.search, f.assignee_id, f.priority, f.category_id, f.breached) {
            (Some(_), ..) => None,
            // With the breached flag too, either index is a seek.
            (None, Some(_), _, _, None) => Some("assignee_id"),
            (None, Some(_), ..) => None,
            (None, None, Some(_), ..) => Some("priority"),
            (None, None, None, Some(_), _) => Some("category_id"),
            (None, None, None, None, Some(_)) if f.status.is_none() => Some("breached"),
            _ => None,
        };
        let count_seek = match (&f.search, f.assignee_id, f.breached) {
            (Some(_), ..) => None,
            (None, Some(_), None) => Some("assignee_id"),
            (None, None, Some(_)) => Some("breached"),
            _ => seek.filter(|_| f.status.is_none() && f.breached.is_none()),
        };
        for sort in TicketSort::ALL {
            let by_created = matches!(sort, TicketSort::CreatedAtDesc | TicketSort::CreatedAtAsc);
            for (page, args) in pages(sort.order()) {
                let q = tickets::list_sql(backend, t, &f, *sort, &args);
                out.list("tickets", format!("{sort}{what} {page}"), q, f.search.is_some())?;
                out.seek_by(seek.filter(|_| by_created));
            }
        }
        out.count("tickets", what.clone(), tickets::count_sql(backend, t, &f))?;
        out.seek_by(count_seek);
    }

    // The notification log: newest first, by customer and/or status.
    for customer in [None, Some(ids.customer)] {
        for status in [None, Some(NotifyStatus::Dead)] {
            let f = LogFilter { customer_id: customer, status };
            let what = format!(
                "{}{}",
                if customer.is_some() { " customer" } else { "" },
                status.map(|s| format!(" {s}")).unwrap_or_default()
            );
            for (page, args) in pages(id_desc) {
                out.list("notifications", format!("{what} {page}"), notifications::list_sql(t, f, &args), false)?;
            }
            out.count("notifications", what, notifications::count_sql(t, f))?;
        }
    }

    // Lookups by id: the loaders behind nested fields, and the workflows' reads.
    // A page's worth of ids: SQLite's heuristics judge a long IN list against a tenant-wide index.
    let few = |id: i64| (id..id + 50).collect::<Vec<_>>();
    out.lookup("customers", "get_many", customers::get_many_sql(t, &few(ids.customer)), "id");
    out.lookup("subscriptions", "get_many", subscriptions::get_many_sql(t, &few(ids.subscription)), "id");
    out.lookup("subscriptions", "by_customers", subscriptions::by_customers_sql(t, &few(ids.customer)), "customer_id");
    out.lookup("plans", "get_many", plans::get_many_sql(t, &few(ids.plan)), "id");
    out.lookup("nas", "get_many", nas::get_many_sql(t, &few(ids.nas)), "id");
    out.lookup("devices", "get_many", devices::get_many_sql(t, &few(1)), "id");
    out.lookup("invoices", "get_many", invoices::get_many_sql(t, &few(ids.invoice)), "id");
    out.lookup("invoice_lines", "lines", invoices::lines_sql(t, &few(ids.invoice)), "invoice_id");
    out.lookup(
        "payment_allocations",
        "by invoice",
        payments::allocations_sql(t, &few(ids.invoice), true),
        "invoice_id",
    );
    out.lookup(
        "payment_allocations",
        "by payment",
        payments::allocations_sql(t, &few(ids.payment), false),
        "payment_id",
    );
    out.lookup("refunds", "by payment", payments::refunds_sql(t, &few(ids.payment)), "payment_id");
    out.lookup("tickets", "get_many", tickets::get_many_sql(t, &few(1)), "id");
    out.lookup("ticket_messages", "by ticket", tickets::messages_sql(t, &few(1)), "ticket_id");
    out.lookup("customer_documents", "by customer", documents::of_customers_sql(t, &few(ids.customer)), "customer_id");
    out.lookup("ticket_attachments", "by message", documents::of_messages_sql(t, &few(1)), "message_id");
    let open = radius_sessions::open_of_subscription_sql(t, ids.subscription);
    out.lookup("radius_sessions", "open of subscription", open, "subscription_id");
    Ok(out.0)
}

#[cfg(test)]
mod tests;
