//! The helpdesk in the graph: tickets with their messages, SLA due times and standing, the
//! helpdesk settings (categories, teams, SLA policies, business hours), the ticket report,
//! and the mutations that work tickets.

use super::types::{Customer, Subscription};
use super::{connection, core, request_loaders, Conn, ListCount};
use crate::access::root;
use crate::error::{invalid, Gql};
use crate::fast::{fast, Fast, FastList};
use crate::ids::{self, page_args};
use crate::request::require;
use async_graphql::{Context, InputObject, Object, SimpleObject, Upload, ID};
use chrono::{DateTime, NaiveDate, Utc};
use isp_core::auth::Action;
use isp_core::clock::from_ms;
use isp_core::helpdesk::report::{self, BACKLOG_BUCKETS};
use isp_core::patch::Patch;
use isp_core::store::helpdesk::{self as settings, Category as CategoryRow, SlaPolicy as PolicyRow, Team as TeamRow};
use isp_core::store::page::{Cursor as Pos, SortKey};
use isp_core::store::tickets::{
    self, Message as MessageRow, MessageKind, Ticket as TicketRow, TicketChannel, TicketFilter as Filter,
    TicketPriority, TicketSort, TicketStatus, NOTHING_DUE,
};
use isp_core::workflows::helpdesk::{self as hd, PolicyInput};
use isp_core::workflows::tickets::{self as wf, NewTicket};

fn instant(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.map(from_ms)
}

/// A helpdesk ticket.
pub struct Ticket(pub TicketRow);

#[Object]
impl Ticket {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode("Ticket", self.0.id)
    }
    /// The number staff and customers quote.
    async fn number(&self) -> i64 {
        self.0.id
    }
    /// One line.
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    /// Where it is in its life.
    async fn status(&self) -> TicketStatus {
        self.0.status
    }
    /// How urgent it is.
    async fn priority(&self) -> TicketPriority {
        self.0.priority
    }
    /// Where it came from.
    async fn channel(&self) -> TicketChannel {
        self.0.channel
    }
    /// Tags, lower case.
    async fn tags(&self) -> Vec<String> {
        self.0.tag_list()
    }
    /// The customer it is about (batched).
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Fast<Customer>>> {
        let Some(id) = self.0.customer_id else { return Ok(None) };
        Ok(request_loaders(ctx)?.customers.one(id).await?.map(fast(Customer)))
    }
    /// The subscription it is about (batched).
    async fn subscription(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Fast<Subscription>>> {
        let Some(id) = self.0.subscription_id else { return Ok(None) };
        Ok(request_loaders(ctx)?.subscriptions.one(id).await?.map(fast(Subscription)))
    }
    /// Its category (batched).
    async fn category(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Fast<TicketCategory>>> {
        let Some(id) = self.0.category_id else { return Ok(None) };
        Ok(request_loaders(ctx)?.ticket_categories.one(id).await?.map(fast(TicketCategory)))
    }
    /// The team (queue) it is in (batched).
    async fn team(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Fast<TicketTeam>>> {
        let Some(id) = self.0.team_id else { return Ok(None) };
        Ok(request_loaders(ctx)?.ticket_teams.one(id).await?.map(fast(TicketTeam)))
    }
    /// The staff user working it (a `StaffUser` ID).
    async fn assignee_id(&self) -> Option<ID> {
        self.0.assignee_id.map(|u| ids::encode("StaffUser", u))
    }
    /// The conversation, oldest first: public replies, internal notes, customer messages
    /// (batched).
    async fn messages(&self, ctx: &Context<'_>) -> async_graphql::Result<FastList<TicketMessage>> {
        let rows = request_loaders(ctx)?.ticket_messages.of(self.0.id).await?;
        Ok(FastList(rows.into_iter().map(TicketMessage).collect()))
    }
    /// Whether its SLA counts business hours (false: calendar time, or no SLA).
    async fn sla_business_hours(&self) -> bool {
        self.0.sla_business_hours != 0
    }
    /// First public reply due (null: no SLA policy for its priority).
    async fn first_response_due(&self) -> Option<DateTime<Utc>> {
        instant(self.0.first_response_due)
    }
    /// Resolution due; moves on by the time spent waiting for the customer.
    async fn resolution_due(&self) -> Option<DateTime<Utc>> {
        instant(self.0.resolution_due)
    }
    /// The earliest due time not yet met (null: nothing is due).
    async fn next_due(&self) -> Option<DateTime<Utc>> {
        (self.0.next_due_at != NOTHING_DUE).then(|| from_ms(self.0.next_due_at))
    }
    /// When staff first replied publicly.
    async fn first_responded_at(&self) -> Option<DateTime<Utc>> {
        instant(self.0.first_responded_at)
    }
    /// When it was resolved or closed.
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        instant(self.0.resolved_at)
    }
    /// Since when the resolution clock is paused (pending customer).
    async fn paused_since(&self) -> Option<DateTime<Utc>> {
        instant(self.0.paused_at)
    }
    /// SLA minutes spent paused before the current pause.
    async fn paused_minutes(&self) -> i64 {
        self.0.paused_ms / 60_000
    }
    /// A due time passed unmet (stays true).
    async fn breached(&self) -> bool {
        self.0.breached != 0
    }
    /// 80 % of a target's time is used up and it is not breached yet.
    async fn at_risk(&self) -> bool {
        self.0.at_risk != 0
    }
    /// When it was escalated (once, on breach).
    async fn escalated_at(&self) -> Option<DateTime<Utc>> {
        instant(self.0.escalated_at)
    }
    /// The ticket it was merged into (a `Ticket` ID).
    async fn merged_into_id(&self) -> Option<ID> {
        self.0.merged_into_id.map(|t| ids::encode("Ticket", t))
    }
    /// Created.
    async fn created_at(&self) -> DateTime<Utc> {
        from_ms(self.0.created_at)
    }
    /// Last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        from_ms(self.0.updated_at)
    }
}

/// A message of a ticket.
pub struct TicketMessage(pub MessageRow);

#[Object]
impl TicketMessage {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode("TicketMessage", self.0.id)
    }
    /// Public reply, internal note or customer message.
    async fn kind(&self) -> MessageKind {
        self.0.kind
    }
    /// Text.
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// The staff author (a `StaffUser` ID; null for the customer or the system).
    async fn author_staff_id(&self) -> Option<ID> {
        self.0.author_user_id.map(|u| ids::encode("StaffUser", u))
    }
    /// The customer author (a `Customer` ID).
    async fn author_customer_id(&self) -> Option<ID> {
        self.0.author_customer_id.map(|c| ids::encode("Customer", c))
    }
    /// Files attached to it (batched). An internal note's files are staff-only like the note.
    async fn attachments(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<FastList<super::documents::TicketAttachment>> {
        let rows = request_loaders(ctx)?.ticket_attachments.of(self.0.id).await?;
        Ok(FastList(rows.into_iter().map(super::documents::TicketAttachment).collect()))
    }
    /// The ticket (a `Ticket` ID).
    async fn ticket_id(&self) -> ID {
        ids::encode("Ticket", self.0.ticket_id)
    }
    /// Written.
    async fn created_at(&self) -> DateTime<Utc> {
        from_ms(self.0.created_at)
    }
}

/// A ticket category, defined by the tenant.
pub struct TicketCategory(pub CategoryRow);

#[Object]
impl TicketCategory {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode("TicketCategory", self.0.id)
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }
}

/// A team (queue) of staff with a lead.
pub struct TicketTeam(pub TeamRow);

#[Object]
impl TicketTeam {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode("TicketTeam", self.0.id)
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The lead, told of escalations (a `StaffUser` ID).
    async fn lead_id(&self) -> Option<ID> {
        self.0.lead_user_id.map(|u| ids::encode("StaffUser", u))
    }
}

/// SLA targets of a priority, optionally for one plan's subscriptions.
pub struct SlaPolicy(pub PolicyRow);

#[Object]
impl SlaPolicy {
    /// Priority.
    async fn priority(&self) -> TicketPriority {
        self.0.priority
    }
    /// Only tickets of this plan's subscriptions (a `Plan` ID; null: every ticket).
    async fn plan_id(&self) -> Option<ID> {
        self.0.plan_id.map(|p| ids::encode("Plan", p))
    }
    /// Minutes to the first public reply.
    async fn first_response_minutes(&self) -> i64 {
        self.0.first_response_minutes
    }
    /// Minutes to resolution.
    async fn resolution_minutes(&self) -> i64 {
        self.0.resolution_minutes
    }
    /// Business hours (true) or calendar minutes.
    async fn business_hours(&self) -> bool {
        self.0.business_hours != 0
    }
    /// Whether an escalation raises the priority one step.
    async fn raise_priority(&self) -> bool {
        self.0.raise_priority != 0
    }
    /// Last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        from_ms(self.0.updated_at)
    }
}

/// A working time range of a day, minutes since local midnight.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "WorkingRangeInput")]
pub struct WorkingRange {
    /// Start, minutes since local midnight (540 = 09:00).
    pub start_minute: u32,
    /// End (exclusive), minutes since local midnight, at most 1440.
    pub end_minute: u32,
}

/// A holiday: a local date without working time.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "HolidayInput")]
pub struct Holiday {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// What it is.
    pub name: String,
}

/// When the tenant works, in its time zone.
#[derive(SimpleObject)]
pub struct BusinessHours {
    /// The tenant's IANA time zone.
    pub timezone: String,
    /// Monday first: the working ranges of each weekday.
    pub week: Vec<Vec<WorkingRange>>,
    /// Dates without working time.
    pub holidays: Vec<Holiday>,
}

/// Tickets of one category in the report's range.
#[derive(SimpleObject)]
pub struct CategoryVolume {
    /// The category (a `TicketCategory` ID; null: uncategorised).
    pub category_id: Option<ID>,
    /// Tickets.
    pub count: i64,
}

/// Tickets of one channel in the report's range.
#[derive(SimpleObject)]
pub struct ChannelVolume {
    /// The channel.
    pub channel: TicketChannel,
    /// Tickets.
    pub count: i64,
}

/// Median and 90th percentile of durations (calendar minutes, nearest rank).
#[derive(SimpleObject)]
pub struct DurationStats {
    /// Tickets the figures are over.
    pub count: i64,
    /// Median, minutes.
    pub median_minutes: Option<i64>,
    /// 90th percentile, minutes.
    pub p90_minutes: Option<i64>,
}

/// SLA compliance of one priority.
#[derive(SimpleObject)]
pub struct PriorityCompliance {
    /// The priority.
    pub priority: TicketPriority,
    /// Tickets with SLA targets.
    pub total: i64,
    /// Of those, tickets that never breached.
    pub met: i64,
    /// `met` of `total` in percent, rounded down (null without tickets).
    pub percent: Option<i64>,
}

/// Open tickets of one age bucket.
#[derive(SimpleObject)]
pub struct BacklogBucket {
    /// `UNDER_1_DAY`, `DAYS_1_TO_3`, `DAYS_3_TO_7`, `OVER_7_DAYS`.
    pub age: String,
    /// Open tickets.
    pub count: i64,
}

/// One assignee's load.
#[derive(SimpleObject)]
pub struct AssigneeWorkload {
    /// The staff user (a `StaffUser` ID; null: unassigned).
    pub assignee_id: Option<ID>,
    /// Tickets open now.
    pub open: i64,
    /// Tickets created in the range that it resolved.
    pub resolved: i64,
}

/// The helpdesk report over a range of the tenant's local dates.
#[derive(SimpleObject)]
pub struct TicketReport {
    /// First day (local, `YYYY-MM-DD`).
    pub from: String,
    /// Last day (local, included).
    pub to: String,
    /// Tickets created in the range by category.
    pub by_category: Vec<CategoryVolume>,
    /// Tickets created in the range by channel.
    pub by_channel: Vec<ChannelVolume>,
    /// Time to first response of the range's tickets.
    pub first_response: DurationStats,
    /// Time to resolution of the range's resolved tickets.
    pub resolution: DurationStats,
    /// SLA compliance per priority of the range's tickets.
    pub sla_compliance: Vec<PriorityCompliance>,
    /// Tickets open now by age.
    pub backlog: Vec<BacklogBucket>,
    /// Per assignee: open now, resolved of the range.
    pub workload: Vec<AssigneeWorkload>,
}

/// Filters of the tickets list.
#[derive(InputObject, Default)]
pub struct TicketFilter {
    /// Only these statuses.
    pub status: Option<Vec<TicketStatus>>,
    /// Only this priority.
    pub priority: Option<TicketPriority>,
    /// Only tickets assigned to this staff user.
    pub assignee_id: Option<ID>,
    /// Only tickets of this team.
    pub team_id: Option<ID>,
    /// Only tickets of this customer.
    pub customer_id: Option<ID>,
    /// Only tickets of this category.
    pub category_id: Option<ID>,
    /// Only breached (true) or unbreached (false) tickets.
    pub breached: Option<bool>,
    /// Only tickets at risk (true) or not (false).
    pub at_risk: Option<bool>,
    /// Words that must all appear in the subject, tags or messages (3+ characters each).
    pub search: Option<String>,
}

/// A new ticket.
#[derive(InputObject)]
pub struct CreateTicketInput {
    /// One line.
    pub subject: String,
    /// What was reported: the first message (the customer's, when there is a customer).
    pub body: Option<String>,
    /// The customer (taken from the subscription when only that is given).
    pub customer_id: Option<ID>,
    /// The subscription.
    pub subscription_id: Option<ID>,
    /// Category.
    pub category_id: Option<ID>,
    /// Priority (default NORMAL).
    pub priority: Option<TicketPriority>,
    /// Channel (default STAFF).
    pub channel: Option<TicketChannel>,
    /// Assignee (a staff user whose role works tickets); assigned tickets start OPEN.
    pub assignee_id: Option<ID>,
    /// Team.
    pub team_id: Option<ID>,
    /// Tags.
    pub tags: Option<Vec<String>>,
}

/// SLA targets to set.
#[derive(InputObject)]
pub struct SlaPolicyInput {
    /// Priority.
    pub priority: TicketPriority,
    /// Only tickets of this plan's subscriptions.
    pub plan_id: Option<ID>,
    /// Minutes to the first public reply.
    pub first_response_minutes: i64,
    /// Minutes to resolution.
    pub resolution_minutes: i64,
    /// Count business hours (default true) or calendar minutes.
    pub business_hours: Option<bool>,
    /// Raise the priority one step on escalation (default false).
    pub raise_priority: Option<bool>,
}

fn filter_of(f: TicketFilter) -> async_graphql::Result<Filter> {
    Ok(Filter {
        status: f.status,
        priority: f.priority,
        assignee_id: ids::decode_opt(&f.assignee_id, "StaffUser", "filter.assigneeId")?,
        team_id: ids::decode_opt(&f.team_id, "TicketTeam", "filter.teamId")?,
        customer_id: ids::decode_opt(&f.customer_id, "Customer", "filter.customerId")?,
        category_id: ids::decode_opt(&f.category_id, "TicketCategory", "filter.categoryId")?,
        breached: f.breached,
        at_risk: f.at_risk,
        search: f.search,
    })
}

fn patch_id(v: Patch<ID>, ty: &str, field: &str) -> async_graphql::Result<Patch<i64>> {
    v.try_map(|id| ids::decode(&id, ty, field))
}

fn decode_all(list: &[ID], ty: &str, field: &str) -> async_graphql::Result<Vec<i64>> {
    list.iter().map(|id| ids::decode(id, ty, field)).collect()
}

/// Helpdesk reads.
#[derive(Default)]
pub struct HelpdeskQuery;

#[Object]
impl HelpdeskQuery {
    /// The tenant's tickets; newest first unless ordered otherwise (`DUE_ASC`: what is due
    /// next first).
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(1) as usize * child_complexity")]
    #[allow(clippy::too_many_arguments)]
    async fn tickets(
        &self,
        ctx: &Context<'_>,
        filter: Option<TicketFilter>,
        order_by: Option<TicketSort>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<Ticket>> {
        let a = root(ctx)?;
        let args = page_args(first, after, last, before)?;
        let f = filter_of(filter.unwrap_or_default())?;
        let sort = order_by.unwrap_or(TicketSort::CreatedAtDesc);
        let order = sort.order();
        let (db, t) = (core(ctx).db.clone(), a.tenant_id);
        let page = tickets::list(&db, t, &f, sort, &args).await.gql()?;
        let count = ListCount::new(async move { tickets::count(&db, t, &f).await });
        let key = move |r: &TicketRow| {
            let k = match sort {
                TicketSort::CreatedAtDesc | TicketSort::CreatedAtAsc => r.created_at,
                TicketSort::UpdatedAtDesc => r.updated_at,
                TicketSort::DueAsc => r.next_due_at,
            };
            Pos { key: SortKey::I(k), id: r.id, order: Some(order.tag()) }
        };
        Ok(connection(page, key, Ticket, count))
    }

    /// One ticket; null when not in the caller's tenant.
    async fn ticket(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Fast<Ticket>>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "Ticket", "id")?;
        Ok(tickets::find(&core(ctx).db, a.tenant_id, id).await.gql()?.map(fast(Ticket)))
    }

    /// The tenant's ticket categories by name.
    async fn ticket_categories(&self, ctx: &Context<'_>) -> async_graphql::Result<FastList<TicketCategory>> {
        let a = root(ctx)?;
        let rows = settings::categories(&core(ctx).db, a.tenant_id).await.gql()?;
        Ok(FastList(rows.into_iter().map(TicketCategory).collect()))
    }

    /// The tenant's teams (queues) by name.
    async fn ticket_teams(&self, ctx: &Context<'_>) -> async_graphql::Result<FastList<TicketTeam>> {
        let a = root(ctx)?;
        let rows = settings::teams(&core(ctx).db, a.tenant_id).await.gql()?;
        Ok(FastList(rows.into_iter().map(TicketTeam).collect()))
    }

    /// The tenant's SLA policies.
    async fn sla_policies(&self, ctx: &Context<'_>) -> async_graphql::Result<FastList<SlaPolicy>> {
        let a = root(ctx)?;
        let rows = settings::policies(&core(ctx).db, a.tenant_id).await.gql()?;
        Ok(FastList(rows.into_iter().map(SlaPolicy).collect()))
    }

    /// When the tenant works (office hours, Monday-Friday 09:00-17:00, until it sets its own).
    async fn business_hours(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<BusinessHours>> {
        let a = root(ctx)?;
        let c = core(ctx);
        let mut tx = c.db.begin().await.gql()?;
        let s = isp_core::helpdesk::schedule(&mut tx, a.tenant_id).await.gql()?;
        let holidays = settings::holidays(&mut tx, a.tenant_id).await.gql()?;
        Ok(Fast(BusinessHours {
            timezone: s.zone.name().to_string(),
            week: s
                .week
                .iter()
                .map(|d| d.iter().map(|&(a, b)| WorkingRange { start_minute: a, end_minute: b }).collect())
                .collect(),
            holidays: holidays.into_iter().map(|h| Holiday { date: h.day, name: h.name }).collect(),
        }))
    }

    /// The helpdesk report from `from` to `to` (local dates of the tenant, both included):
    /// volume, response and resolution times, SLA compliance; backlog and workload as of now.
    async fn ticket_report(
        &self,
        ctx: &Context<'_>,
        from: String,
        to: String,
    ) -> async_graphql::Result<Fast<TicketReport>> {
        let a = root(ctx)?;
        let date = |v: &str, f: &str| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| invalid(f, "must be a date YYYY-MM-DD"))
        };
        let (from, to) = (date(&from, "from")?, date(&to, "to")?);
        if to < from {
            return Err(invalid("to", "must not be before from"));
        }
        if (to - from).num_days() > 366 * 5 {
            return Err(invalid("to", "the range is at most five years"));
        }
        let c = core(ctx);
        let zone = isp_core::store::tenants::get(&c.db, a.tenant_id).await.gql()?.timezone;
        let (lo, hi) = isp_core::helpdesk::local_range(&zone, from, to);
        let created = tickets::created_between(&c.db, a.tenant_id, lo, hi).await.gql()?;
        let open = tickets::open(&c.db, a.tenant_id).await.gql()?;
        let r = report::compute(&created, &open, c.now_ms());
        let stats = |t: report::Times| DurationStats {
            count: t.count,
            median_minutes: t.median_minutes,
            p90_minutes: t.p90_minutes,
        };
        Ok(Fast(TicketReport {
            from: from.to_string(),
            to: to.to_string(),
            by_category: r
                .by_category
                .iter()
                .map(|(c, n)| CategoryVolume { category_id: c.map(|c| ids::encode("TicketCategory", c)), count: *n })
                .collect(),
            by_channel: r.by_channel.iter().map(|(ch, n)| ChannelVolume { channel: *ch, count: *n }).collect(),
            first_response: stats(r.first_response),
            resolution: stats(r.resolution),
            sla_compliance: r
                .compliance
                .iter()
                .map(|c| PriorityCompliance {
                    priority: c.priority,
                    total: c.total,
                    met: c.met,
                    percent: (c.total > 0).then(|| c.met * 100 / c.total),
                })
                .collect(),
            backlog: BACKLOG_BUCKETS
                .iter()
                .zip(r.backlog)
                .map(|(age, count)| BacklogBucket { age: age.to_string(), count })
                .collect(),
            workload: r
                .workload
                .iter()
                .map(|w| AssigneeWorkload {
                    assignee_id: w.assignee_id.map(|u| ids::encode("StaffUser", u)),
                    open: w.open,
                    resolved: w.resolved,
                })
                .collect(),
        }))
    }
}

/// Helpdesk changes.
#[derive(Default)]
pub struct HelpdeskMutation;

#[Object]
impl HelpdeskMutation {
    /// Opens a ticket; its due times come from the SLA policy of its priority (and plan).
    async fn create_ticket(&self, ctx: &Context<'_>, input: CreateTicketInput) -> async_graphql::Result<Fast<Ticket>> {
        let a = root(ctx)?;
        let n = NewTicket {
            subject: input.subject,
            body: input.body,
            customer_id: ids::decode_opt(&input.customer_id, "Customer", "customerId")?,
            subscription_id: ids::decode_opt(&input.subscription_id, "Subscription", "subscriptionId")?,
            category_id: ids::decode_opt(&input.category_id, "TicketCategory", "categoryId")?,
            priority: input.priority,
            channel: input.channel,
            assignee_id: ids::decode_opt(&input.assignee_id, "StaffUser", "assigneeId")?,
            team_id: ids::decode_opt(&input.team_id, "TicketTeam", "teamId")?,
            tags: input.tags.unwrap_or_default(),
        };
        wf::create(core(ctx), a, &n).await.gql().map(fast(Ticket))
    }

    /// Replies to the customer; the first reply is the first response. `attachments` are
    /// files of a multipart request (PDF, PNG, JPEG, WebP; at most 10, each within the
    /// tenant's `documentMaxBytes`).
    async fn reply_ticket(
        &self,
        ctx: &Context<'_>,
        id: ID,
        body: String,
        attachments: Option<Vec<Upload>>,
    ) -> async_graphql::Result<Fast<Ticket>> {
        message_with(ctx, id, MessageKind::PublicReply, body, attachments).await
    }

    /// Adds a note only staff see; its `attachments` (as for `replyTicket`) are staff-only
    /// too and never sent to the customer.
    async fn add_ticket_note(
        &self,
        ctx: &Context<'_>,
        id: ID,
        body: String,
        attachments: Option<Vec<Upload>>,
    ) -> async_graphql::Result<Fast<Ticket>> {
        message_with(ctx, id, MessageKind::InternalNote, body, attachments).await
    }

    /// Records what the customer wrote or said; a ticket pending the customer opens again.
    async fn add_ticket_customer_message(
        &self,
        ctx: &Context<'_>,
        id: ID,
        body: String,
    ) -> async_graphql::Result<Fast<Ticket>> {
        message(ctx, id, MessageKind::CustomerMessage, body).await
    }

    /// Assigns a ticket to a staff user and/or a team; an omitted field stays, null clears.
    async fn assign_ticket(
        &self,
        ctx: &Context<'_>,
        id: ID,
        assignee_id: Patch<ID>,
        team_id: Patch<ID>,
    ) -> async_graphql::Result<Fast<Ticket>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "Ticket", "id")?;
        let u = patch_id(assignee_id, "StaffUser", "assigneeId")?;
        let t = patch_id(team_id, "TicketTeam", "teamId")?;
        wf::assign(core(ctx), a, id, u, t).await.gql().map(fast(Ticket))
    }

    /// Assigns several tickets alike, all or none.
    async fn bulk_assign_tickets(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
        assignee_id: Patch<ID>,
        team_id: Patch<ID>,
    ) -> async_graphql::Result<FastList<Ticket>> {
        let a = root(ctx)?;
        let list = decode_all(&ids, "Ticket", "ids")?;
        let u = patch_id(assignee_id, "StaffUser", "assigneeId")?;
        let t = patch_id(team_id, "TicketTeam", "teamId")?;
        let rows = wf::bulk_assign(core(ctx), a, &list, u, t).await.gql()?;
        Ok(FastList(rows.into_iter().map(Ticket).collect()))
    }

    /// Moves a ticket to another status (CLOSED is final; PENDING_CUSTOMER pauses the
    /// resolution clock).
    async fn set_ticket_status(
        &self,
        ctx: &Context<'_>,
        id: ID,
        status: TicketStatus,
    ) -> async_graphql::Result<Fast<Ticket>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "Ticket", "id")?;
        wf::set_status(core(ctx), a, id, status).await.gql().map(fast(Ticket))
    }

    /// Changes a ticket's priority; its due times follow the new priority's SLA policy.
    async fn set_ticket_priority(
        &self,
        ctx: &Context<'_>,
        id: ID,
        priority: TicketPriority,
    ) -> async_graphql::Result<Fast<Ticket>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "Ticket", "id")?;
        wf::set_priority(core(ctx), a, id, priority).await.gql().map(fast(Ticket))
    }

    /// Merges duplicates into a ticket: their messages move to it and they are closed.
    async fn merge_tickets(
        &self,
        ctx: &Context<'_>,
        target_id: ID,
        source_ids: Vec<ID>,
    ) -> async_graphql::Result<Fast<Ticket>> {
        let a = root(ctx)?;
        let target = ids::decode(&target_id, "Ticket", "targetId")?;
        let sources = decode_all(&source_ids, "Ticket", "sourceIds")?;
        wf::merge(core(ctx), a, target, &sources).await.gql().map(fast(Ticket))
    }

    /// Adds a ticket category (owner, admin).
    async fn create_ticket_category(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> async_graphql::Result<Fast<TicketCategory>> {
        let a = root(ctx)?;
        hd::create_category(core(ctx), a, &name).await.gql().map(fast(TicketCategory))
    }

    /// Renames a ticket category (owner, admin).
    async fn rename_ticket_category(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: String,
    ) -> async_graphql::Result<Fast<TicketCategory>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "TicketCategory", "id")?;
        hd::rename_category(core(ctx), a, id, &name).await.gql().map(fast(TicketCategory))
    }

    /// Adds a team with an optional lead (owner, admin).
    async fn create_ticket_team(
        &self,
        ctx: &Context<'_>,
        name: String,
        lead_id: Option<ID>,
    ) -> async_graphql::Result<Fast<TicketTeam>> {
        let a = root(ctx)?;
        let lead = ids::decode_opt(&lead_id, "StaffUser", "leadId")?;
        hd::create_team(core(ctx), a, &name, lead).await.gql().map(fast(TicketTeam))
    }

    /// Renames a team and sets its lead (null: none) (owner, admin).
    async fn update_ticket_team(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: String,
        lead_id: Option<ID>,
    ) -> async_graphql::Result<Fast<TicketTeam>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "TicketTeam", "id")?;
        let lead = ids::decode_opt(&lead_id, "StaffUser", "leadId")?;
        hd::update_team(core(ctx), a, id, &name, lead).await.gql().map(fast(TicketTeam))
    }

    /// Sets the SLA targets of a priority (and plan) for tickets created or re-prioritised
    /// from now on (owner, admin).
    async fn set_sla_policy(&self, ctx: &Context<'_>, input: SlaPolicyInput) -> async_graphql::Result<Fast<SlaPolicy>> {
        let a = root(ctx)?;
        let p = PolicyInput {
            priority: input.priority,
            plan_id: ids::decode_opt(&input.plan_id, "Plan", "planId")?,
            first_response_minutes: input.first_response_minutes,
            resolution_minutes: input.resolution_minutes,
            business_hours: input.business_hours.unwrap_or(true),
            raise_priority: input.raise_priority.unwrap_or(false),
        };
        hd::set_policy(core(ctx), a, &p).await.gql().map(fast(SlaPolicy))
    }

    /// Removes the SLA policy of a priority (and plan) (owner, admin); NOT_FOUND without one.
    async fn remove_sla_policy(
        &self,
        ctx: &Context<'_>,
        priority: TicketPriority,
        plan_id: Option<ID>,
    ) -> async_graphql::Result<bool> {
        let a = root(ctx)?;
        let plan = ids::decode_opt(&plan_id, "Plan", "planId")?;
        hd::remove_policy(core(ctx), a, priority, plan).await.gql()?;
        Ok(true)
    }

    /// Sets the weekly business hours (seven days, Monday first) and the holidays (owner,
    /// admin); due times computed from now on use them.
    async fn set_business_hours(
        &self,
        ctx: &Context<'_>,
        week: Vec<Vec<WorkingRange>>,
        holidays: Option<Vec<Holiday>>,
    ) -> async_graphql::Result<Fast<BusinessHours>> {
        let a = root(ctx)?;
        let days: Vec<Vec<(u32, u32)>> =
            week.iter().map(|d| d.iter().map(|r| (r.start_minute, r.end_minute)).collect()).collect();
        let days: [Vec<(u32, u32)>; 7] =
            days.try_into().map_err(|_| invalid("week", "needs seven days, Monday first"))?;
        let hol: Vec<(String, String)> = holidays.unwrap_or_default().into_iter().map(|h| (h.date, h.name)).collect();
        hd::set_business_hours(core(ctx), a, &days, &hol).await.gql()?;
        HelpdeskQuery.business_hours(ctx).await
    }
}

async fn message_with(
    ctx: &Context<'_>,
    id: ID,
    kind: MessageKind,
    body: String,
    attachments: Option<Vec<Upload>>,
) -> async_graphql::Result<Fast<Ticket>> {
    let a = root(ctx)?;
    let id = ids::decode(&id, "Ticket", "id")?;
    let mut files = Vec::new();
    for (i, u) in attachments.unwrap_or_default().iter().enumerate() {
        files.push(super::documents::read_upload(ctx, u, &format!("attachments.{i}"))?);
    }
    wf::add_message_with(core(ctx), a, id, kind, &body, files).await.gql().map(|(t, _)| Fast(Ticket(t)))
}

async fn message(ctx: &Context<'_>, id: ID, kind: MessageKind, body: String) -> async_graphql::Result<Fast<Ticket>> {
    let a = root(ctx)?;
    let id = ids::decode(&id, "Ticket", "id")?;
    wf::add_message(core(ctx), a, id, kind, &body).await.gql().map(|(t, _)| Fast(Ticket(t)))
}

/// Node lookups of the helpdesk's types, with the permission of their lists.
pub async fn node(ctx: &Context<'_>, ty: &str, n: i64) -> async_graphql::Result<Option<super::Node>> {
    let a = require(ctx, Action::TicketRead)?;
    let db = &core(ctx).db;
    let t = a.tenant_id;
    Ok(match ty {
        "Ticket" => tickets::find(db, t, n).await.gql()?.map(|r| super::Node::Ticket(Ticket(r))),
        "TicketMessage" => {
            tickets::find_message(db, t, n).await.gql()?.map(|r| super::Node::TicketMessage(TicketMessage(r)))
        }
        "TicketCategory" => settings::categories_by_id(db, t, &[n])
            .await
            .gql()?
            .pop()
            .map(|r| super::Node::TicketCategory(TicketCategory(r))),
        "TicketTeam" => {
            settings::teams_by_id(db, t, &[n]).await.gql()?.pop().map(|r| super::Node::TicketTeam(TicketTeam(r)))
        }
        _ => None,
    })
}
