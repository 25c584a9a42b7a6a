//! Helpdesk tickets and their conversation (public replies, internal notes, customer
//! messages). SQL and rows only; the SLA arithmetic and the use cases live in the layers above.

use super::page::{self, Count, ListQuery, Order, Page, PageArgs};
use super::search;
use crate::db::{query, query_as, Arg, Backend, Db, Executor, FromRow, Sql, Tx};
use crate::error::{CoreError, CoreResult};
use crate::text_enum;

text_enum!(
    /// Where a ticket is in its life.
    TicketStatus, "status" {
        /// Nobody has looked at it yet.
        New = "NEW",
        /// Being worked on.
        Open = "OPEN",
        /// Waiting for the customer; the resolution clock is paused.
        PendingCustomer = "PENDING_CUSTOMER",
        /// Parked by staff (waiting for a third party); the clock runs.
        OnHold = "ON_HOLD",
        /// Solved; may be reopened.
        Resolved = "RESOLVED",
        /// Finished for good.
        Closed = "CLOSED",
    }
);

impl TicketStatus {
    /// Whether work on the ticket is over (nothing is due).
    pub fn is_done(self) -> bool {
        matches!(self, Self::Resolved | Self::Closed)
    }

    /// Whether a ticket may move from this status to `to`: anything but a closed ticket
    /// may move anywhere else except back to NEW; a closed ticket stays closed.
    pub fn can_become(self, to: TicketStatus) -> bool {
        self != to && self != Self::Closed && to != Self::New
    }

    /// The statuses of tickets still being worked on.
    pub const OPEN: [TicketStatus; 4] = [Self::New, Self::Open, Self::PendingCustomer, Self::OnHold];
}

text_enum!(
    /// How urgent a ticket is; each priority has its SLA targets.
    TicketPriority, "priority" {
        /// Whenever there is time.
        Low = "LOW",
        /// The default.
        Normal = "NORMAL",
        /// Soon.
        High = "HIGH",
        /// Now (an outage).
        Urgent = "URGENT",
    }
);

impl TicketPriority {
    /// The next priority up (URGENT stays URGENT).
    pub fn raised(self) -> Self {
        match self {
            Self::Low => Self::Normal,
            Self::Normal => Self::High,
            Self::High | Self::Urgent => Self::Urgent,
        }
    }
}

text_enum!(
    /// Where a ticket came from.
    TicketChannel, "channel" {
        /// Entered by staff (phone, walk-in).
        Staff = "STAFF",
        /// An email.
        Email = "EMAIL",
        /// The API (integrations, automatic tickets).
        Api = "API",
        /// The customer portal.
        Portal = "PORTAL",
    }
);

text_enum!(
    /// What a message of a ticket is.
    MessageKind, "kind" {
        /// A reply the customer sees.
        PublicReply = "PUBLIC_REPLY",
        /// A note only staff see.
        InternalNote = "INTERNAL_NOTE",
        /// Something the customer wrote.
        CustomerMessage = "CUSTOMER_MESSAGE",
    }
);

text_enum!(
    /// Sort orders of the tickets list (ties broken by id).
    TicketSort, "orderBy" {
        /// Newest first.
        CreatedAtDesc = "CREATED_AT_DESC",
        /// Oldest first.
        CreatedAtAsc = "CREATED_AT_ASC",
        /// Most recently changed first.
        UpdatedAtDesc = "UPDATED_AT_DESC",
        /// The next SLA due time first (tickets with nothing due last).
        DueAsc = "DUE_ASC",
    }
);

impl TicketSort {
    /// Column and direction.
    pub fn order(self) -> Order {
        match self {
            Self::CreatedAtDesc => Order { column: "created_at", integer: true, desc: true },
            Self::CreatedAtAsc => Order { column: "created_at", integer: true, desc: false },
            Self::UpdatedAtDesc => Order { column: "updated_at", integer: true, desc: true },
            Self::DueAsc => Order { column: "next_due_at", integer: true, desc: false },
        }
    }
}

/// `next_due_at` of a ticket with nothing due: sorts after every real instant.
pub const NOTHING_DUE: i64 = 253_402_300_799_999;

/// A ticket row.
#[derive(Debug, Clone, FromRow)]
pub struct Ticket {
    /// Row id (the ticket number staff quote).
    pub id: i64,
    /// Tenant.
    pub tenant_id: i64,
    /// The customer it is about.
    pub customer_id: Option<i64>,
    /// The subscription it is about.
    pub subscription_id: Option<i64>,
    /// One line.
    pub subject: String,
    /// Category.
    pub category_id: Option<i64>,
    /// Priority.
    pub priority: TicketPriority,
    /// Status.
    pub status: TicketStatus,
    /// Where it came from.
    pub channel: TicketChannel,
    /// Staff user working it.
    pub assignee_id: Option<i64>,
    /// Team (queue) it is in.
    pub team_id: Option<i64>,
    /// Comma-separated tags, lower case.
    pub tags: String,
    /// 1 when its SLA counts business hours, 0 calendar time.
    pub sla_business_hours: i64,
    /// First-response target of its policy, minutes (none: no SLA).
    pub first_response_minutes: Option<i64>,
    /// Resolution target of its policy, minutes.
    pub resolution_minutes: Option<i64>,
    /// First response due, Unix ms.
    pub first_response_due: Option<i64>,
    /// Resolution due, Unix ms (moved on by pauses).
    pub resolution_due: Option<i64>,
    /// The earliest unmet due time, [`NOTHING_DUE`] when none (the list's DUE sort).
    pub next_due_at: i64,
    /// First public reply by staff.
    pub first_responded_at: Option<i64>,
    /// Resolved (or closed) at.
    pub resolved_at: Option<i64>,
    /// Since when the resolution clock is paused (pending customer).
    pub paused_at: Option<i64>,
    /// Working time spent paused before the current pause, ms.
    pub paused_ms: i64,
    /// 1 when 80 % of a target is used up.
    pub at_risk: i64,
    /// 1 once a due time passed unmet (stays set).
    pub breached: i64,
    /// When it was escalated (once).
    pub escalated_at: Option<i64>,
    /// The ticket it was merged into.
    pub merged_into_id: Option<i64>,
    /// Cause of an open automatic ticket (`device:12`, `auth:34`).
    pub dedup_key: Option<String>,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last changed, Unix ms.
    pub updated_at: i64,
}

impl Ticket {
    /// The tags as a list.
    pub fn tag_list(&self) -> Vec<String> {
        self.tags.split(',').filter(|t| !t.is_empty()).map(str::to_string).collect()
    }

    /// Recomputes [`Ticket::next_due_at`] from the due times and what has been met.
    pub fn refresh_next_due(&mut self) {
        let fr = self.first_response_due.filter(|_| self.first_responded_at.is_none());
        let res = self.resolution_due.filter(|_| self.paused_at.is_none());
        self.next_due_at =
            if self.status.is_done() { None } else { [fr, res].into_iter().flatten().min() }.unwrap_or(NOTHING_DUE);
    }
}

const COLS: &str = "id, tenant_id, customer_id, subscription_id, subject, category_id, priority, status, channel, \
    assignee_id, team_id, tags, sla_business_hours, first_response_minutes, resolution_minutes, first_response_due, \
    resolution_due, next_due_at, first_responded_at, resolved_at, paused_at, paused_ms, at_risk, breached, escalated_at, \
    merged_into_id, dedup_key, created_at, updated_at";

/// Inserts `t` (its id and timestamps are ignored) created at `now`.
pub async fn insert(tx: &mut Tx, t: &Ticket, now: i64) -> CoreResult<Ticket> {
    query_as::<Ticket>(&format!(
        "INSERT INTO tickets (tenant_id, customer_id, subscription_id, subject, category_id, priority, status, channel, \
         assignee_id, team_id, tags, sla_business_hours, first_response_minutes, resolution_minutes, first_response_due, \
         resolution_due, next_due_at, dedup_key, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $19) RETURNING {COLS}"
    ))
    .bind(t.tenant_id)
    .bind(t.customer_id)
    .bind(t.subscription_id)
    .bind(t.subject.as_str())
    .bind(t.category_id)
    .bind(t.priority)
    .bind(t.status)
    .bind(t.channel)
    .bind(t.assignee_id)
    .bind(t.team_id)
    .bind(t.tags.as_str())
    .bind(t.sla_business_hours)
    .bind(t.first_response_minutes)
    .bind(t.resolution_minutes)
    .bind(t.first_response_due)
    .bind(t.resolution_due)
    .bind(t.next_due_at)
    .bind(&t.dedup_key)
    .bind(now)
    .fetch_one(tx)
    .await
}

/// Writes every changeable field of `t` back, changed at `now`.
pub async fn save(tx: &mut Tx, t: &Ticket, now: i64) -> CoreResult<Ticket> {
    query_as::<Ticket>(&format!(
        "UPDATE tickets SET customer_id = $1, subscription_id = $2, subject = $3, category_id = $4, priority = $5, \
         status = $6, assignee_id = $7, team_id = $8, tags = $9, sla_business_hours = $10, first_response_minutes = $11, \
         resolution_minutes = $12, first_response_due = $13, resolution_due = $14, next_due_at = $15, \
         first_responded_at = $16, resolved_at = $17, paused_at = $18, paused_ms = $19, at_risk = $20, breached = $21, \
         escalated_at = $22, merged_into_id = $23, dedup_key = $24, updated_at = $25 \
         WHERE tenant_id = $26 AND id = $27 RETURNING {COLS}"
    ))
    .bind(t.customer_id)
    .bind(t.subscription_id)
    .bind(t.subject.as_str())
    .bind(t.category_id)
    .bind(t.priority)
    .bind(t.status)
    .bind(t.assignee_id)
    .bind(t.team_id)
    .bind(t.tags.as_str())
    .bind(t.sla_business_hours)
    .bind(t.first_response_minutes)
    .bind(t.resolution_minutes)
    .bind(t.first_response_due)
    .bind(t.resolution_due)
    .bind(t.next_due_at)
    .bind(t.first_responded_at)
    .bind(t.resolved_at)
    .bind(t.paused_at)
    .bind(t.paused_ms)
    .bind(t.at_risk)
    .bind(t.breached)
    .bind(t.escalated_at)
    .bind(t.merged_into_id)
    .bind(&t.dedup_key)
    .bind(now)
    .bind(t.tenant_id)
    .bind(t.id)
    .fetch_optional(tx)
    .await?
    .ok_or(CoreError::NotFound("ticket"))
}

/// Ticket `id` of `tenant_id`, if any, on the pool or in a transaction.
pub async fn find(ex: impl Executor, tenant_id: i64, id: i64) -> CoreResult<Option<Ticket>> {
    query_as::<Ticket>(&format!("SELECT {COLS} FROM tickets WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// Ticket `id` of `tenant_id`; NOT_FOUND when it is not the tenant's.
pub async fn get(ex: impl Executor, tenant_id: i64, id: i64) -> CoreResult<Ticket> {
    find(ex, tenant_id, id).await?.ok_or(CoreError::NotFound("ticket"))
}

/// Tickets with the given ids in `tenant_id`, one statement.
pub async fn get_many(db: &Db, tenant_id: i64, ids: &[i64]) -> CoreResult<Vec<Ticket>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    get_many_sql(tenant_id, ids).fetch_all::<Ticket>(db).await
}

/// The statement of [`get_many`].
pub fn get_many_sql(tenant_id: i64, ids: &[i64]) -> Sql<'static> {
    super::by_ids(COLS, "tickets", tenant_id, ids)
}

/// When the latest no-longer-open ticket of subscription `subscription_id` tagged `tag` was
/// resolved (or last changed, if it never was); None when there is none.
pub async fn last_closed_with_tag(
    ex: impl Executor,
    tenant_id: i64,
    subscription_id: i64,
    tag: &str,
) -> CoreResult<Option<i64>> {
    let (at,): (Option<i64>,) = query_as(
        "SELECT MAX(COALESCE(resolved_at, updated_at)) FROM tickets WHERE tenant_id = $1 AND subscription_id = $2 \
         AND dedup_key IS NULL AND (',' || tags || ',') LIKE $3",
    )
    .bind(tenant_id)
    .bind(subscription_id)
    .bind(format!("%,{tag},%"))
    .fetch_one(ex)
    .await?;
    Ok(at)
}

/// The open ticket of `tenant_id` with cause `key`, if any.
pub async fn by_dedup_key(tx: &mut Tx, tenant_id: i64, key: &str) -> CoreResult<Option<Ticket>> {
    query_as::<Ticket>(&format!("SELECT {COLS} FROM tickets WHERE tenant_id = $1 AND dedup_key = $2"))
        .bind(tenant_id)
        .bind(key)
        .fetch_optional(tx)
        .await
}

/// The tenant's tickets still being worked on, for the SLA sweep, by due time.
pub async fn open(db: &Db, tenant_id: i64) -> CoreResult<Vec<Ticket>> {
    let mut sql = Sql::new(&format!("SELECT {COLS} FROM tickets WHERE tenant_id = "));
    sql.arg(Arg::I(tenant_id)).push(" AND status IN ").in_texts(TicketStatus::OPEN.iter().map(|s| s.as_str()));
    sql.push(" ORDER BY next_due_at, id");
    sql.fetch_all(db).await
}

/// The tenant's tickets created in [from, to) (Unix ms), for the report.
pub async fn created_between(db: &Db, tenant_id: i64, from: i64, to: i64) -> CoreResult<Vec<Ticket>> {
    query_as::<Ticket>(&format!(
        "SELECT {COLS} FROM tickets WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3 ORDER BY created_at, id"
    ))
    .bind(tenant_id)
    .bind(from)
    .bind(to)
    .fetch_all(db)
    .await
}

/// Filters of the tickets list.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    /// Only these statuses.
    pub status: Option<Vec<TicketStatus>>,
    /// Only this priority.
    pub priority: Option<TicketPriority>,
    /// Only tickets assigned to this staff user.
    pub assignee_id: Option<i64>,
    /// Only tickets of this team.
    pub team_id: Option<i64>,
    /// Only tickets of this customer.
    pub customer_id: Option<i64>,
    /// Only tickets of this category.
    pub category_id: Option<i64>,
    /// Only breached (true) or not breached (false) tickets.
    pub breached: Option<bool>,
    /// Only tickets at risk (true) or not (false).
    pub at_risk: Option<bool>,
    /// Words that must all appear in the subject, tags or messages.
    pub search: Option<String>,
}

fn from_where(sql: &mut Sql<'static>, backend: Backend, tenant_id: i64, f: &TicketFilter) -> CoreResult<()> {
    sql.push(" FROM tickets WHERE tenant_id = ").arg(tenant_id);
    if let Some(list) = f.status.as_ref().filter(|l| !l.is_empty()) {
        sql.push(" AND status IN ").in_texts(list.iter().map(|s| s.as_str()));
    }
    if let Some(p) = f.priority {
        sql.push(" AND priority = ").arg(p);
    }
    for (col, v) in [
        ("assignee_id", f.assignee_id),
        ("team_id", f.team_id),
        ("customer_id", f.customer_id),
        ("category_id", f.category_id),
    ] {
        if let Some(v) = v {
            sql.push(&format!(" AND {col} = ")).arg(v);
        }
    }
    if let Some(b) = f.breached {
        sql.push(" AND breached = ").arg(i64::from(b));
    }
    if let Some(b) = f.at_risk {
        sql.push(" AND at_risk = ").arg(i64::from(b));
    }
    if let Some(s) = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let terms = search::terms("filter.search", s)?;
        search::push_match(sql, backend, search::Index::Tickets, "id", tenant_id, &terms);
    }
    Ok(())
}

/// The statement of a page of the tenant's tickets.
pub fn list_sql(
    backend: Backend,
    tenant_id: i64,
    f: &TicketFilter,
    sort: TicketSort,
    args: &PageArgs,
) -> CoreResult<ListQuery> {
    let mut sql = Sql::new(&format!("SELECT {COLS}"));
    from_where(&mut sql, backend, tenant_id, f)?;
    let plan = page::apply(&mut sql, sort.order(), args)?;
    Ok(ListQuery { sql, plan })
}

/// A page of the tenant's tickets.
pub async fn list(
    db: &Db,
    tenant_id: i64,
    f: &TicketFilter,
    sort: TicketSort,
    args: &PageArgs,
) -> CoreResult<Page<Ticket>> {
    list_sql(db.backend(), tenant_id, f, sort, args)?.page(db, args).await
}

/// The statement counting the tickets that match the filter.
pub fn count_sql(backend: Backend, tenant_id: i64, f: &TicketFilter) -> CoreResult<Sql<'static>> {
    page::count_sql(|sql| from_where(sql, backend, tenant_id, f))
}

/// How many tickets match the filter (up to [`page::COUNT_LIMIT`]).
pub async fn count(db: &Db, tenant_id: i64, f: &TicketFilter) -> CoreResult<Count> {
    page::count(db, &count_sql(db.backend(), tenant_id, f)?).await
}

/// One message of a ticket.
#[derive(Debug, Clone, FromRow)]
pub struct Message {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: i64,
    /// The ticket.
    pub ticket_id: i64,
    /// Reply, note or customer message.
    pub kind: MessageKind,
    /// Staff author.
    pub author_user_id: Option<i64>,
    /// Customer author.
    pub author_customer_id: Option<i64>,
    /// Text.
    pub body: String,
    /// Written, Unix ms.
    pub created_at: i64,
}

const MESSAGE_COLS: &str = "id, tenant_id, ticket_id, kind, author_user_id, author_customer_id, body, created_at";

/// Adds a message to ticket `ticket_id`.
pub async fn insert_message(
    tx: &mut Tx,
    tenant_id: i64,
    ticket_id: i64,
    kind: MessageKind,
    author: (Option<i64>, Option<i64>),
    body: &str,
    now: i64,
) -> CoreResult<Message> {
    query_as::<Message>(&format!(
        "INSERT INTO ticket_messages (tenant_id, ticket_id, kind, author_user_id, author_customer_id, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {MESSAGE_COLS}"
    ))
    .bind(tenant_id)
    .bind(ticket_id)
    .bind(kind)
    .bind(author.0)
    .bind(author.1)
    .bind(body)
    .bind(now)
    .fetch_one(tx)
    .await
}

/// Moves every message of ticket `from` to ticket `to` (merging).
pub async fn move_messages(tx: &mut Tx, tenant_id: i64, from: i64, to: i64) -> CoreResult<u64> {
    query("UPDATE ticket_messages SET ticket_id = $1 WHERE tenant_id = $2 AND ticket_id = $3")
        .bind(to)
        .bind(tenant_id)
        .bind(from)
        .execute(tx)
        .await
}

/// The messages of the given tickets, oldest first, one statement.
pub async fn messages(db: &Db, tenant_id: i64, ticket_ids: &[i64]) -> CoreResult<Vec<Message>> {
    if ticket_ids.is_empty() {
        return Ok(Vec::new());
    }
    messages_sql(tenant_id, ticket_ids).fetch_all(db).await
}

/// The statement of [`messages`].
pub fn messages_sql(tenant_id: i64, ticket_ids: &[i64]) -> Sql<'static> {
    let mut sql = Sql::new(&format!("SELECT {MESSAGE_COLS} FROM ticket_messages WHERE tenant_id = "));
    sql.arg(Arg::I(tenant_id)).push(" AND ticket_id IN ").in_list(ticket_ids).push(" ORDER BY ticket_id, id");
    sql
}

/// Message `id` of `tenant_id`, if any.
pub async fn find_message(db: &Db, tenant_id: i64, id: i64) -> CoreResult<Option<Message>> {
    query_as::<Message>(&format!("SELECT {MESSAGE_COLS} FROM ticket_messages WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::TicketStatus::*;

    #[test]
    fn closed_is_final_and_nothing_returns_to_new() {
        for from in super::TicketStatus::ALL {
            for to in super::TicketStatus::ALL {
                let ok = from != to && *from != Closed && *to != New;
                assert_eq!(from.can_become(*to), ok, "{from} -> {to}");
            }
        }
        assert!(Resolved.can_become(Open), "reopen");
    }
}
