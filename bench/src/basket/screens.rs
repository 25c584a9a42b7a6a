//! The basket's screens: each one a named GraphQL operation as a frontend sends it (fragments,
//! `__typename`, variables), with the variables of many visits (pages through cursors,
//! different customers, search terms) sampled from the fixture.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use isp_core::db::{query_as, Db};
use isp_core::store::customers::CustomerSort;
use isp_core::store::page::{Cursor, SortKey};
use isp_core::store::subscriptions::SubscriptionSort;
use isp_core::store::tickets::{TicketSort, TicketStatus};
use serde_json::{json, Value};

/// The screens, in the order they are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScreenId {
    /// Customers list with subscriptions, plans and prices.
    CustomersPage,
    /// Subscriptions list with customer and plan, default order.
    SubscriptionsPage,
    /// The search box.
    Search,
    /// A customer's page.
    CustomerDetail,
    /// Invoices filtered by status.
    InvoicesByStatus,
    /// Payments with customer and allocations.
    Payments,
    /// The auth log of one login.
    AuthLog,
    /// Live RADIUS sessions.
    OpenSessions,
    /// The audit log.
    AuditLog,
    /// The device-job outbox.
    DeviceJobs,
    /// The helpdesk's default view: tickets still being worked on, newest or due first.
    Tickets,
    /// The tickets list with the filters a desk uses: assignee and status, priority,
    /// breached, category.
    TicketsFiltered,
    /// The tickets search box.
    TicketSearch,
    /// A ticket with its thread, customer and subscription.
    TicketDetail,
    /// Plans.
    Plans,
    /// Staff users.
    Staff,
    /// The billing dashboard.
    Dashboard,
    /// `createCustomer`.
    CreateCustomer,
    /// `recordPayment`.
    RecordPayment,
    /// `changeSubscriptionStatus`, suspending and resuming in turn.
    SubscriptionStatus,
}

/// Every screen, in order.
pub const ALL: &[ScreenId] = &[
    ScreenId::CustomersPage,
    ScreenId::SubscriptionsPage,
    ScreenId::Search,
    ScreenId::CustomerDetail,
    ScreenId::InvoicesByStatus,
    ScreenId::Payments,
    ScreenId::AuthLog,
    ScreenId::OpenSessions,
    ScreenId::AuditLog,
    ScreenId::DeviceJobs,
    ScreenId::Tickets,
    ScreenId::TicketsFiltered,
    ScreenId::TicketSearch,
    ScreenId::TicketDetail,
    ScreenId::Plans,
    ScreenId::Staff,
    ScreenId::Dashboard,
    ScreenId::CreateCustomer,
    ScreenId::RecordPayment,
    ScreenId::SubscriptionStatus,
];

impl ScreenId {
    /// The name `--screens` takes and the table shows.
    pub fn name(self) -> &'static str {
        use ScreenId::*;
        match self {
            CustomersPage => "customers",
            SubscriptionsPage => "subscriptions",
            Search => "search",
            CustomerDetail => "customer-detail",
            InvoicesByStatus => "invoices",
            Payments => "payments",
            AuthLog => "auth-log",
            OpenSessions => "sessions",
            AuditLog => "audit-log",
            DeviceJobs => "device-jobs",
            Tickets => "tickets",
            TicketsFiltered => "tickets-filtered",
            TicketSearch => "ticket-search",
            TicketDetail => "ticket-detail",
            Plans => "plans",
            Staff => "staff",
            Dashboard => "dashboard",
            CreateCustomer => "create-customer",
            RecordPayment => "record-payment",
            SubscriptionStatus => "subscription-status",
        }
    }

    /// Whether it changes data (no raw-SQL baseline, no read targets).
    pub fn writes(self) -> bool {
        matches!(self, ScreenId::CreateCustomer | ScreenId::RecordPayment | ScreenId::SubscriptionStatus)
    }

    /// Target rate (req/s) on the 2-core reference machine, for reads.
    pub fn target_rps(self) -> Option<f64> {
        match self {
            _ if self.writes() => None,
            ScreenId::CustomersPage => Some(3_000.0),
            ScreenId::Search | ScreenId::TicketSearch => Some(500.0),
            _ => Some(1_000.0),
        }
    }

    /// The operation.
    pub fn document(self) -> &'static str {
        use ScreenId::*;
        match self {
            CustomersPage => CUSTOMERS_PAGE,
            SubscriptionsPage => SUBSCRIPTIONS_PAGE,
            Search => SEARCH,
            CustomerDetail => CUSTOMER_DETAIL,
            InvoicesByStatus => INVOICES,
            Payments => PAYMENTS,
            AuthLog => AUTH_LOG,
            OpenSessions => SESSIONS,
            AuditLog => AUDIT_LOG,
            DeviceJobs => DEVICE_JOBS,
            Tickets | TicketsFiltered => TICKETS,
            TicketSearch => TICKET_SEARCH,
            TicketDetail => TICKET_DETAIL,
            Plans => PLANS,
            Staff => STAFF,
            Dashboard => DASHBOARD,
            CreateCustomer => CREATE_CUSTOMER,
            RecordPayment => RECORD_PAYMENT,
            SubscriptionStatus => SUBSCRIPTION_STATUS,
        }
    }

    /// The operation's name (sent as `operationName`).
    pub fn operation(self) -> &'static str {
        let doc = self.document();
        let rest = doc.split_once(' ').map_or(doc, |(_, r)| r);
        rest.split(['(', ' ', '{']).next().unwrap_or_default()
    }
}

const CUSTOMERS_PAGE: &str = "query CustomersPage($first: Int!, $after: String) { \
  customers(first: $first, after: $after) { __typename \
    edges { __typename cursor node { ...CustomerRow ... on Customer { createdAt } } } \
    pageInfo { __typename hasNextPage endCursor } } } \
fragment CustomerRow on Customer { __typename id accountNumber name email phone status \
  subscriptions { __typename id username status accessType plan { ...PlanPrice } } } \
fragment PlanPrice on Plan { __typename id name downloadKbps uploadKbps price { __typename amountMinor currency formatted } }";

const SUBSCRIPTIONS_PAGE: &str = "query SubscriptionsPage($first: Int!, $after: String) { \
  subscriptions(first: $first, after: $after) { \
    edges { cursor node { __typename id username status accessType startDate staticIpv4 \
      customer { __typename id name email } plan { __typename id name price { amountMinor currency formatted } } } } \
    pageInfo { hasNextPage endCursor } } }";

const SEARCH: &str = "query CustomerSearch($q: String!, $first: Int!) { \
  customers(first: $first, filter: {search: $q}) { __typename totalCount \
    edges { cursor node { ...SearchHit } } pageInfo { hasNextPage endCursor } } } \
fragment SearchHit on Customer { __typename id accountNumber name email phone status \
  subscriptions { __typename id username status } }";

const CUSTOMER_DETAIL: &str = "query CustomerDetail($id: ID!, $subscriptionId: ID!) { \
  customer(id: $id) { ...CustomerProfile \
    subscriptions { __typename id username status statusReason accessType staticIpv4 macAddress onuSerial oltPort \
      startDate simultaneousUse plan { __typename id name billingPeriod downloadKbps uploadKbps mikrotikRateLimit \
      price { formatted } dataQuota { bytes action } } } } \
  customerBalance(customerId: $id) { __typename balance { amountMinor formatted } outstanding { formatted } \
    overdue { formatted } credit { formatted } pendingChargesTotal { formatted } \
    pendingCharges { __typename id description amount { formatted } } } \
  invoices(first: 5, customerId: $id) { edges { node { __typename id number status issueDate dueDate \
    total { formatted } balance { formatted } } } } \
  payments(first: 5, customerId: $id) { edges { node { __typename id receiptNumber method receivedOn amount { formatted } } } } \
  subscriptionUsage(subscriptionId: $subscriptionId, first: 3) { edges { node { __typename periodStart periodEnd \
    inputOctets outputOctets totalOctets sessionTime } } } \
  radiusSessions(first: 5, filter: {subscriptionId: $subscriptionId, active: true}) { edges { node { __typename id \
    acctSessionId framedIp callingStationId startedAt inputOctets outputOctets sessionTime } } } } \
fragment CustomerProfile on Customer { __typename id accountNumber name email phone address taxId notes status \
  createdAt updatedAt }";

const INVOICES: &str = "query InvoicesByStatus($status: [InvoiceStatus!], $first: Int!, $after: String) { \
  invoices(first: $first, after: $after, status: $status) { \
    edges { cursor node { ...InvoiceRow } } pageInfo { hasNextPage endCursor } } } \
fragment InvoiceRow on Invoice { __typename id number kind status issueDate dueDate \
  total { amountMinor currency formatted } paid { formatted } balance { formatted } \
  customer { __typename id name accountNumber } }";

const PAYMENTS: &str = "query PaymentsList($first: Int!, $after: String) { \
  payments(first: $first, after: $after) { \
    edges { cursor node { __typename id receiptNumber method reference receivedOn amount { formatted } \
      refunded { amountMinor } customer { __typename id name accountNumber } \
      allocations { __typename invoiceId amount { formatted } } } } \
    pageInfo { hasNextPage endCursor } } }";

const AUTH_LOG: &str = "query AuthLog($username: String!, $first: Int!) { \
  authLog(first: $first, filter: {username: $username}) { \
    edges { cursor node { __typename id at username method result reason callingStationId subscriptionId \
      nas { __typename id name } } } pageInfo { hasNextPage endCursor } } }";

const SESSIONS: &str = "query OnlineSessions($first: Int!, $after: String) { \
  radiusSessions(first: $first, after: $after, filter: {active: true}) { \
    edges { cursor node { __typename id username acctSessionId framedIp nasPortId callingStationId startedAt \
      updatedAt inputOctets outputOctets sessionTime nas { __typename id name } \
      subscription { __typename id status customer { __typename id name } } } } \
    pageInfo { hasNextPage endCursor } } }";

const AUDIT_LOG: &str = "query AuditLog($first: Int!, $after: String) { \
  auditLog(first: $first, after: $after) { \
    edges { cursor node { __typename id at actor actorId action objectType objectId details ip } } \
    pageInfo { hasNextPage endCursor } } }";

const DEVICE_JOBS: &str = "query DeviceJobs($status: JobStatus, $first: Int!, $after: String) { \
  deviceJobs(status: $status, first: $first, after: $after) { \
    edges { cursor node { __typename id kind status attempts lastError nextAttemptAt createdAt updatedAt payload \
      device { __typename id name kind } nas { __typename id name } } } \
    pageInfo { hasNextPage endCursor } } }";

const TICKETS: &str = "query TicketsPage($filter: TicketFilter, $orderBy: TicketSort, $first: Int!, $after: String) { \
  tickets(filter: $filter, orderBy: $orderBy, first: $first, after: $after) { __typename totalCount totalCountExact \
    edges { cursor node { ...TicketRow } } pageInfo { hasNextPage endCursor } } } \
fragment TicketRow on Ticket { __typename id number subject status priority channel tags assigneeId breached atRisk \
  nextDue firstResponseDue resolutionDue createdAt updatedAt customer { __typename id name accountNumber } \
  category { __typename id name } team { __typename id name } }";

const TICKET_SEARCH: &str = "query TicketSearch($q: String!, $first: Int!) { \
  tickets(first: $first, filter: {search: $q}) { __typename totalCount \
    edges { cursor node { ...TicketHit } } pageInfo { hasNextPage endCursor } } } \
fragment TicketHit on Ticket { __typename id number subject status priority tags updatedAt \
  customer { __typename id name accountNumber } }";

const TICKET_DETAIL: &str = "query TicketDetail($id: ID!) { ticket(id: $id) { __typename id number subject status \
    priority channel tags assigneeId slaBusinessHours firstResponseDue resolutionDue nextDue firstRespondedAt resolvedAt \
    pausedSince pausedMinutes breached atRisk escalatedAt mergedIntoId createdAt updatedAt \
    customer { __typename id name accountNumber email phone status } \
    subscription { __typename id username status accessType plan { __typename id name } } \
    category { __typename id name } team { __typename id name leadId } \
    messages { ...ThreadMessage } } } \
fragment ThreadMessage on TicketMessage { __typename id kind body authorStaffId authorCustomerId createdAt \
  attachments { __typename id fileName contentType size } }";

const PLANS: &str = "query Plans($includeArchived: Boolean!) { \
  plans(first: 50, includeArchived: $includeArchived) { edges { node { __typename id name description billingPeriod \
    downloadKbps uploadKbps accessTypes ipPool active mikrotikRateLimit createdAt timeQuotaSecs \
    price { amountMinor currency formatted } \
    burst { downloadKbps uploadKbps thresholdDownloadKbps thresholdUploadKbps timeSecs } \
    dataQuota { bytes action fupDownloadKbps fupUploadKbps } } } } }";

const STAFF: &str = "query StaffUsers { me { id email role } \
  staffUsers(first: 50) { edges { node { __typename id email name role disabled lastLoginAt createdAt } } } }";

const DASHBOARD: &str = "query BillingDashboard($from: String!, $to: String!, $asOf: String) { \
  billingReport(from: $from, to: $to, asOf: $asOf) { __typename mrr { amountMinor currency formatted } \
    revenueByPlan { __typename planId planName lines net { formatted } } \
    collections { __typename month invoiced { formatted } collected { formatted } collectionRateBasisPoints } \
    ageing { __typename current { formatted } days1To30 { formatted } days31To60 { formatted } \
      days61To90 { formatted } over90 { formatted } total { formatted } } } }";

const CREATE_CUSTOMER: &str = "mutation CreateCustomer($input: CreateCustomerInput!) { \
  createCustomer(input: $input) { __typename id accountNumber name email status createdAt } }";

const RECORD_PAYMENT: &str = "mutation RecordPayment($input: RecordPaymentInput!) { \
  recordPayment(input: $input) { __typename id receiptNumber amount { formatted } \
    allocations { invoiceId amount { amountMinor } } } }";

const SUBSCRIPTION_STATUS: &str = "mutation SetSubscriptionStatus($id: ID!, $status: SubscriptionStatus!, $reason: String) { \
  changeSubscriptionStatus(id: $id, status: $status, reason: $reason) { __typename id status statusReason updatedAt } }";

/// What the raw-SQL baseline needs to read a variant's rows.
#[derive(Debug, Clone, Default)]
pub struct Key {
    /// Integers (ids, keyset positions).
    pub ints: Vec<i64>,
    /// A text (keyset name, search term, login, status).
    pub text: Option<String>,
    /// Several texts (statuses, dates).
    pub texts: Vec<String>,
    /// A tickets-list visit.
    pub tickets: Option<TicketKey>,
}

/// A visit of the tickets list: its filter, order and keyset position.
#[derive(Debug, Clone, Default)]
pub struct TicketKey {
    /// Only these statuses (none: all).
    pub statuses: Vec<String>,
    /// Only this priority.
    pub priority: Option<String>,
    /// Only this assignee.
    pub assignee: Option<i64>,
    /// Only this category.
    pub category: Option<i64>,
    /// Only breached tickets (or only the others).
    pub breached: Option<bool>,
    /// The search box.
    pub search: Option<String>,
    /// `DUE_ASC` (what is due next first) instead of newest first.
    pub due_first: bool,
    /// The (sort key, id) the page starts after.
    pub after: Option<(i64, i64)>,
    /// Page size.
    pub first: usize,
}

impl TicketKey {
    /// The GraphQL variables of this visit (`filter`, `orderBy`, `first`, `after`).
    fn vars(&self) -> Value {
        let mut filter = serde_json::Map::new();
        if !self.statuses.is_empty() {
            filter.insert("status".into(), json!(self.statuses));
        }
        if let Some(p) = &self.priority {
            filter.insert("priority".into(), json!(p));
        }
        if let Some(a) = self.assignee {
            filter.insert("assigneeId".into(), json!(gid("StaffUser", a)));
        }
        if let Some(c) = self.category {
            filter.insert("categoryId".into(), json!(gid("TicketCategory", c)));
        }
        if let Some(b) = self.breached {
            filter.insert("breached".into(), json!(b));
        }
        let order = if self.due_first { TicketSort::DueAsc } else { TicketSort::CreatedAtDesc };
        let after = self.after.map(|(k, id)| cursor(SortKey::I(k), id, Some(order.order().tag())));
        json!({"filter": filter, "orderBy": order.as_str(), "first": self.first, "after": after})
    }
}

impl Key {
    /// Integer `i`, if given.
    pub fn int(&self, i: usize) -> Option<i64> {
        self.ints.get(i).copied()
    }
}

/// One visit of a screen.
#[derive(Debug, Clone)]
pub struct Variant {
    /// GraphQL variables.
    pub vars: Value,
    /// The baseline's arguments.
    pub key: Key,
    /// What the response must contain: (marker, times); filled in at setup.
    pub expect: Vec<(String, usize)>,
}

impl Variant {
    fn new(vars: Value, key: Key) -> Self {
        Self { vars, key, expect: Vec::new() }
    }
}

/// Most distinct visits per screen.
pub const MAX_VARIANTS: usize = 256;

/// A global ID (`base64url("Type:id")`, as the server makes them).
pub fn gid(ty: &str, id: i64) -> String {
    B64.encode(format!("{ty}:{id}"))
}

/// The Relay cursor the server gives the row at keyset position `key`/`id` in a list
/// ordered by `order` (`None` for lists with one order).
pub fn cursor(key: SortKey, id: i64, order: Option<String>) -> String {
    B64.encode(serde_json::to_vec(&Cursor { key, id, order }).expect("cursor serializes"))
}

/// `n` indexes spread evenly over `0..len`, always including 0 and 1 (the first page and the
/// one after it, which checks the cursor format).
pub fn spread(len: usize, n: usize) -> Vec<usize> {
    if len <= n {
        return (0..len).collect();
    }
    let mut v: Vec<usize> = (0..n).map(|i| i * len / n).collect();
    if n > 1 {
        v[1] = 1;
    }
    v
}

/// Keyset positions every `page` rows of `rows` (sort key, id): the `after` position of
/// each page, `None` for the first; pages that could run short are left out.
fn positions<K: Clone>(rows: &[(K, i64)], page: usize, keep_last: usize) -> Vec<Option<(K, i64)>> {
    let pages = (rows.len() / page).saturating_sub(keep_last).max(1);
    (0..pages).map(|p| if p == 0 { None } else { Some(rows[p * page - 1].clone()) }).collect()
}

/// What the variants are built from.
pub struct Sample {
    /// Tenant id.
    pub tenant: i64,
    /// Customers (and one subscription each) screens may read: never touched by the writes.
    pub readers: Vec<(i64, i64)>,
    /// Active customers with nothing open, whose subscriptions the writes suspend and resume
    /// and who pay in advance.
    pub writers: Vec<(i64, i64)>,
    /// Today, `YYYY-MM-DD`.
    pub today: String,
    /// First day of the fixture's first month and of the current month.
    pub months: (String, String),
}

impl Sample {
    /// Picks readers and writers from the fixture.
    pub async fn take(db: &Db, tenant: i64, today: &str, months: (String, String)) -> anyhow::Result<Self> {
        // Writers: the newest active customers whose invoices are all paid.
        let writers: Vec<(i64, i64)> = query_as(
            "SELECT c.id, s.id FROM customers c JOIN subscriptions s ON s.tenant_id = c.tenant_id AND s.customer_id = c.id \
             WHERE c.tenant_id = $1 AND s.status = 'ACTIVE' AND s.access_type = 'PPPOE' AND NOT EXISTS (SELECT 1 FROM invoices i \
             WHERE i.tenant_id = c.tenant_id AND i.customer_id = c.id AND i.status IN ('ISSUED', 'PARTIALLY_PAID', 'OVERDUE')) \
             ORDER BY c.id DESC LIMIT 256",
        )
        .bind(tenant)
        .fetch_all(db)
        .await?;
        anyhow::ensure!(writers.len() >= 8, "too few active customers with nothing open to write on");
        let below = writers.iter().map(|w| w.0).min().unwrap_or(0);
        let all: Vec<(i64, i64)> = query_as(
            "SELECT c.id, MIN(s.id) FROM customers c JOIN subscriptions s ON s.tenant_id = c.tenant_id AND s.customer_id = c.id \
             WHERE c.tenant_id = $1 AND c.id < $2 AND c.status <> 'ARCHIVED' GROUP BY c.id ORDER BY c.id",
        )
        .bind(tenant)
        .bind(below)
        .fetch_all(db)
        .await?;
        let readers = spread(all.len(), MAX_VARIANTS).into_iter().map(|i| all[i]).collect();
        Ok(Self { tenant, readers, writers, today: today.to_string(), months })
    }
}

/// Builds the variants of `screen` (their expectations are filled in at setup).
pub async fn variants(screen: ScreenId, db: &Db, s: &Sample) -> anyhow::Result<Vec<Variant>> {
    use ScreenId::*;
    let t = s.tenant;
    let ids_desc = |sql: String, args: Vec<String>| ids_desc(db, t, sql, args);
    let by_id_pages = |rows: Vec<(i64, i64)>, page: usize, max: usize, extra: Value| -> Vec<Variant> {
        let pos = positions(&rows, page, 0);
        spread(pos.len().min(max), max)
            .into_iter()
            .map(|i| {
                let after = pos[i].as_ref().map(|(_, id)| *id);
                let mut vars = json!({"first": page, "after": after.map(|id| cursor(SortKey::I(id), id, None))});
                if let (Some(v), Some(e)) = (vars.as_object_mut(), extra.as_object()) {
                    v.extend(e.clone());
                }
                Variant::new(vars, Key { ints: after.into_iter().collect(), ..Key::default() })
            })
            .collect()
    };
    Ok(match screen {
        CustomersPage => {
            let rows: Vec<(String, i64)> =
                query_as("SELECT name, id FROM customers WHERE tenant_id = $1 AND status <> 'ARCHIVED' ORDER BY name, id")
                    .bind(t)
                    .fetch_all(db)
                    .await?;
            let tag = CustomerSort::NameAsc.order().tag();
            keyset_variants(&rows, 50, 2, &tag)
        }
        SubscriptionsPage => {
            let rows: Vec<(String, i64)> =
                query_as("SELECT username, id FROM subscriptions WHERE tenant_id = $1 ORDER BY username, id")
                    .bind(t)
                    .fetch_all(db)
                    .await?;
            let tag = SubscriptionSort::UsernameAsc.order().tag();
            keyset_variants(&rows, 50, 2, &tag)
        }
        Search => search_terms(db, s).await?.into_iter().map(|q| Variant::new(json!({"q": q, "first": 20}), Key { text: Some(q), ..Key::default() })).collect(),
        CustomerDetail => s
            .readers
            .iter()
            .map(|&(c, sub)| {
                Variant::new(
                    json!({"id": gid("Customer", c), "subscriptionId": gid("Subscription", sub)}),
                    Key { ints: vec![c, sub], ..Key::default() },
                )
            })
            .collect(),
        InvoicesByStatus => {
            let mut out = Vec::new();
            for set in [&["OVERDUE"][..], &["ISSUED"], &["PARTIALLY_PAID"], &["PAID"], &["VOID"], &["ISSUED", "PARTIALLY_PAID", "OVERDUE"]] {
                let marks: Vec<String> = (0..set.len()).map(|i| format!("${}", i + 2)).collect();
                let sql = format!(
                    "SELECT id FROM invoices WHERE tenant_id = $1 AND status IN ({}) ORDER BY id DESC LIMIT 2000",
                    marks.join(", ")
                );
                let rows = ids_desc(sql, set.iter().map(|x| x.to_string()).collect()).await?;
                for mut v in by_id_pages(rows, 50, 20, json!({"status": set})) {
                    v.key.texts = set.iter().map(|x| x.to_string()).collect();
                    out.push(v);
                }
            }
            out
        }
        Payments => by_id_pages(
            ids_desc("SELECT id FROM payments WHERE tenant_id = $1 ORDER BY id DESC LIMIT 2000".into(), vec![]).await?,
            20,
            100,
            json!({}),
        ),
        AuthLog => {
            let mut out = Vec::new();
            for &(_, sub) in &s.readers {
                let row: Option<(String, String)> =
                    query_as("SELECT username, access_type FROM subscriptions WHERE tenant_id = $1 AND id = $2")
                        .bind(t)
                        .bind(sub)
                        .fetch_optional(db)
                        .await?;
                if let Some((u, _)) = row.filter(|r| r.1 == "PPPOE" || r.1 == "HOTSPOT") {
                    out.push(Variant::new(json!({"username": u, "first": 20}), Key { text: Some(u), ..Key::default() }));
                }
            }
            for bot in ["admin", "test"] {
                out.push(Variant::new(json!({"username": bot, "first": 20}), Key { text: Some(bot.into()), ..Key::default() }));
            }
            out
        }
        OpenSessions => by_id_pages(
            ids_desc("SELECT id FROM radius_sessions WHERE tenant_id = $1 AND open = 1 ORDER BY id DESC LIMIT 5000".into(), vec![]).await?,
            50,
            100,
            json!({}),
        ),
        AuditLog => by_id_pages(
            ids_desc("SELECT id FROM audit_log WHERE tenant_id = $1 ORDER BY id DESC LIMIT 5000".into(), vec![]).await?,
            50,
            100,
            json!({}),
        ),
        DeviceJobs => {
            let mut out = by_id_pages(
                ids_desc("SELECT id FROM device_jobs WHERE tenant_id = $1 ORDER BY id DESC LIMIT 2000".into(), vec![]).await?,
                50,
                40,
                json!({"status": null}),
            );
            for status in ["DEAD", "DONE"] {
                let rows = ids_desc(
                    "SELECT id FROM device_jobs WHERE tenant_id = $1 AND status = $2 ORDER BY id DESC LIMIT 1000".into(),
                    vec![status.into()],
                )
                .await?;
                for mut v in by_id_pages(rows, 50, 20, json!({"status": status})) {
                    v.key.text = Some(status.into());
                    out.push(v);
                }
            }
            out
        }
        Tickets => {
            let open: Vec<String> = TicketStatus::OPEN.iter().map(|s| s.as_str().to_string()).collect();
            let mut out = Vec::new();
            for due_first in [false, true] {
                let k = TicketKey { statuses: open.clone(), due_first, first: 50, ..TicketKey::default() };
                out.extend(ticket_pages(db, t, k, 20).await?);
            }
            out
        }
        TicketsFiltered => {
            let open: Vec<String> = TicketStatus::OPEN.iter().map(|s| s.as_str().to_string()).collect();
            let base = TicketKey { first: 50, ..TicketKey::default() };
            let mut keys = Vec::new();
            let staff: Vec<(i64,)> = query_as(
                "SELECT id FROM users WHERE tenant_id = $1 AND role IN ('support', 'engineer') ORDER BY id",
            )
            .bind(t)
            .fetch_all(db)
            .await?;
            for (u,) in staff {
                keys.push((TicketKey { assignee: Some(u), statuses: open.clone(), ..base.clone() }, 2));
            }
            for p in ["URGENT", "HIGH"] {
                keys.push((TicketKey { priority: Some(p.into()), ..base.clone() }, 10));
            }
            keys.push((TicketKey { breached: Some(true), ..base.clone() }, 10));
            keys.push((TicketKey { breached: Some(true), statuses: open.clone(), due_first: true, ..base.clone() }, 5));
            let cats: Vec<(i64,)> = query_as("SELECT id FROM ticket_categories WHERE tenant_id = $1 ORDER BY id")
                .bind(t)
                .fetch_all(db)
                .await?;
            for (c,) in cats {
                keys.push((TicketKey { category: Some(c), ..base.clone() }, 4));
            }
            let mut out = Vec::new();
            for (k, pages) in keys {
                out.extend(ticket_pages(db, t, k, pages).await?);
            }
            out
        }
        TicketSearch => ticket_terms(db, t)
            .await?
            .into_iter()
            .map(|q| {
                let k = TicketKey { search: Some(q.clone()), first: 20, ..TicketKey::default() };
                Variant::new(json!({"q": q, "first": 20}), Key { tickets: Some(k), ..Key::default() })
            })
            .collect(),
        TicketDetail => {
            let all: Vec<(i64,)> =
                query_as("SELECT id FROM tickets WHERE tenant_id = $1 ORDER BY id").bind(t).fetch_all(db).await?;
            spread(all.len(), MAX_VARIANTS)
                .into_iter()
                .map(|i| {
                    let id = all[i].0;
                    Variant::new(json!({"id": gid("Ticket", id)}), Key { ints: vec![id], ..Key::default() })
                })
                .collect()
        }
        Plans => [false, true]
            .map(|a| Variant::new(json!({"includeArchived": a}), Key { ints: vec![i64::from(a)], ..Key::default() }))
            .to_vec(),
        Staff => vec![Variant::new(json!({}), Key::default())],
        Dashboard => {
            let (year, month) = (&s.months.0, &s.months.1);
            [(year, &s.today), (month, &s.today), (year, month)]
                .into_iter()
                .map(|(from, to)| {
                    let texts = vec![from.clone(), to.clone(), s.today.clone()];
                    Variant::new(json!({"from": from, "to": to, "asOf": s.today}), Key { texts, ..Key::default() })
                })
                .collect()
        }
        CreateCustomer => (0..MAX_VARIANTS)
            .map(|n| {
                let input = json!({"name": format!("Basket Writer {n:03}"), "email": format!("writer{n}@basket.example"),
                    "address": "Rua do Teste, 1 - São Paulo", "notes": "created by isp-bench basket"});
                Variant::new(json!({"input": input}), Key::default())
            })
            .collect(),
        RecordPayment => s
            .writers
            .iter()
            .map(|&(c, _)| {
                let input = json!({"customerId": gid("Customer", c), "amountMinor": 500, "method": "CASH",
                    "reference": "basket advance payment"});
                Variant::new(json!({"input": input}), Key::default())
            })
            .collect(),
        SubscriptionStatus => s
            .writers
            .iter()
            .flat_map(|&(_, sub)| {
                ["SUSPENDED", "ACTIVE"].map(|status| {
                    Variant::new(
                        json!({"id": gid("Subscription", sub), "status": status, "reason": "basket: status round trip"}),
                        Key { ints: vec![sub], text: Some(status.into()), ..Key::default() },
                    )
                })
            })
            .collect(),
    })
}

/// Ids (twice: as sort key and id) of the rows `sql` selects with tenant `$1` and `args`.
async fn ids_desc(db: &Db, t: i64, sql: String, args: Vec<String>) -> anyhow::Result<Vec<(i64, i64)>> {
    let mut q = query_as::<(i64,)>(&sql).bind(t);
    for a in args {
        q = q.bind(a);
    }
    Ok(q.fetch_all(db).await?.into_iter().map(|(id,)| (id, id)).collect())
}

/// Up to `max` pages of the tickets list `k` (first page, then through cursors the server
/// would give), spread over the first 5,000 rows.
async fn ticket_pages(db: &Db, t: i64, k: TicketKey, max: usize) -> anyhow::Result<Vec<Variant>> {
    let col = if k.due_first { "next_due_at" } else { "created_at" };
    let dir = if k.due_first { "" } else { " DESC" };
    let mut sql = isp_core::db::Sql::new(&format!("SELECT {col}, id"));
    super::raw::push_ticket_filter(&mut sql, db.backend(), t, &k).map_err(anyhow::Error::msg)?;
    sql.push(&format!(" ORDER BY {col}{dir}, id{dir} LIMIT 5000"));
    let rows: Vec<(i64, i64)> = sql.fetch_all(db).await?;
    let pos = positions(&rows, k.first, 0);
    Ok(spread(pos.len().min(max), max)
        .into_iter()
        .map(|i| {
            let key = TicketKey { after: pos[i], ..k.clone() };
            Variant::new(key.vars(), Key { tickets: Some(key), ..Key::default() })
        })
        .collect())
}

/// What people type into the desk's search box: common words of subjects and threads (with
/// and without accents), protocol numbers read out on the phone, and logins.
async fn ticket_terms(db: &Db, t: i64) -> anyhow::Result<Vec<String>> {
    let mut terms: Vec<String> =
        ["lento", "boleto", "sem conexão", "instalacao", "roteador wifi", "massiva", "ONU sinal", "desconto fatura"]
            .map(String::from)
            .to_vec();
    let answered: Vec<(i64,)> =
        query_as("SELECT id FROM tickets WHERE tenant_id = $1 AND first_responded_at IS NOT NULL ORDER BY id")
            .bind(t)
            .fetch_all(db)
            .await?;
    // The first reply quotes the protocol: 2026000000 + the ticket number.
    for i in spread(answered.len(), 8) {
        terms.push((2_026_000_000 + answered[i].0).to_string());
    }
    let logins: Vec<(String,)> = query_as(
        "SELECT s.username FROM tickets k JOIN subscriptions s ON s.tenant_id = k.tenant_id AND s.id = k.subscription_id \
         WHERE k.tenant_id = $1 AND k.channel = 'API' ORDER BY k.id LIMIT 6",
    )
    .bind(t)
    .fetch_all(db)
    .await?;
    terms.extend(logins.into_iter().map(|(l,)| l));
    Ok(terms)
}

/// Pages of a list in text order, through cursors the server would give.
fn keyset_variants(rows: &[(String, i64)], page: usize, keep_last: usize, tag: &str) -> Vec<Variant> {
    let pos = positions(rows, page, keep_last);
    spread(pos.len(), MAX_VARIANTS)
        .into_iter()
        .map(|i| match &pos[i] {
            None => Variant::new(json!({"first": page, "after": null}), Key::default()),
            Some((name, id)) => Variant::new(
                json!({"first": page, "after": cursor(SortKey::T(name.clone()), *id, Some(tag.to_string()))}),
                Key { ints: vec![*id], text: Some(name.clone()), ..Key::default() },
            ),
        })
        .collect()
}

/// What people type into the search box: common surnames (with and without accents), and
/// fragments of readers' e-mail addresses, phones, account numbers and logins.
async fn search_terms(db: &Db, s: &Sample) -> anyhow::Result<Vec<String>> {
    let mut terms: Vec<String> = ["silva", "souza", "müller", "joão", "garcía", "oliveira"].map(String::from).to_vec();
    for (i, &(c, sub)) in s.readers.iter().step_by((s.readers.len() / 6).max(1)).take(6).enumerate() {
        let (number, email, phone): (String, Option<String>, Option<String>) =
            query_as("SELECT account_number, email, phone FROM customers WHERE tenant_id = $1 AND id = $2")
                .bind(s.tenant)
                .bind(c)
                .fetch_one(db)
                .await?;
        let (login,): (String,) = query_as("SELECT username FROM subscriptions WHERE tenant_id = $1 AND id = $2")
            .bind(s.tenant)
            .bind(sub)
            .fetch_one(db)
            .await?;
        terms.push(number);
        if let Some(e) = email {
            terms.push(e.split('@').next().unwrap_or_default().chars().take(8).collect());
        }
        if let Some(p) = phone {
            // The end of the number as people read it out: `8628-4811`.
            terms.push(p[p.len().saturating_sub(9)..].to_string());
        }
        terms.push(if i % 2 == 0 { login } else { login.chars().take(login.len().saturating_sub(2)).collect() });
    }
    Ok(terms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_screen_has_a_named_operation_and_a_unique_name() {
        let mut names = std::collections::HashSet::new();
        for s in ALL {
            let op = s.operation();
            assert!(op.chars().next().is_some_and(|c| c.is_ascii_uppercase()), "{s:?}: {op:?}");
            let kind = if s.writes() { "mutation" } else { "query" };
            assert!(s.document().starts_with(&format!("{kind} {op}")), "{s:?}");
            assert!(names.insert(s.name()), "{} twice", s.name());
        }
    }

    #[test]
    fn variants_spread_over_the_list_and_start_with_the_first_two_pages() {
        assert_eq!(spread(3, 16), vec![0, 1, 2]);
        let v = spread(1000, 8);
        assert_eq!(&v[..3], &[0, 1, 250]);
        assert_eq!(v.len(), 8);
        let rows: Vec<(String, i64)> = (0..120).map(|i| (format!("n{i:03}"), i)).collect();
        let pos = positions(&rows, 50, 0);
        assert_eq!(pos, vec![None, Some(("n049".to_string(), 49))]);
    }

    #[test]
    fn cursors_are_what_the_server_gives() {
        // base64url of {"key":"Ana","id":7,"o":"name+"} and of {"key":42,"id":42}.
        let c = cursor(SortKey::T("Ana".into()), 7, Some("name+".into()));
        assert_eq!(String::from_utf8(B64.decode(c).unwrap()).unwrap(), r#"{"key":"Ana","id":7,"o":"name+"}"#);
        let c = cursor(SortKey::I(42), 42, None);
        assert_eq!(String::from_utf8(B64.decode(c).unwrap()).unwrap(), r#"{"key":42,"id":42}"#);
        assert_eq!(gid("Customer", 42), B64.encode("Customer:42"));
    }
}
