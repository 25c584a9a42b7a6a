//! The demo's helpdesk: business hours with holidays, SLA policies per priority (a tighter
//! one for the business plan), two teams with leads, and a few dozen tickets of the last two
//! weeks in every state with their conversations, written through the workflows on a clock
//! of their own; the SLA sweep at the end breaches and escalates the ones left too long.

use super::timeline::Timeline;
use crate::auth::Actor;
use crate::db::query_as;
use crate::error::CoreResult;
use crate::patch::Patch;
use crate::store::tickets::{MessageKind, TicketChannel, TicketPriority, TicketStatus};
use crate::workflows::helpdesk::{self as hd, PolicyInput};
use crate::workflows::tickets::{self, NewTicket};
use crate::Ctx;
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use TicketPriority::*;
use TicketStatus::*;

/// What a demo ticket is about and how far it got.
struct Case {
    subject: &'static str,
    category: &'static str,
    priority: TicketPriority,
    channel: TicketChannel,
    report: &'static str,
    /// Minutes after creation of the first reply (none: never answered).
    reply_after: Option<i64>,
    /// Where it ends.
    status: TicketStatus,
}

const fn case(
    subject: &'static str,
    category: &'static str,
    priority: TicketPriority,
    channel: TicketChannel,
    report: &'static str,
    reply_after: Option<i64>,
    status: TicketStatus,
) -> Case {
    Case { subject, category, priority, channel, report, reply_after, status }
}

const CASES: [Case; 12] = [
    case(
        "No internet since this morning",
        "no connection",
        High,
        TicketChannel::Email,
        "The light on the ONT is red.",
        Some(45),
        Resolved,
    ),
    case(
        "Speed drops every evening",
        "slow speed",
        Normal,
        TicketChannel::Staff,
        "Netflix buffers after 8pm.",
        Some(180),
        PendingCustomer,
    ),
    case(
        "Charged twice this month",
        "billing",
        Normal,
        TicketChannel::Portal,
        "Two payments on my card statement.",
        Some(120),
        Closed,
    ),
    case(
        "New router installation",
        "installation",
        Low,
        TicketChannel::Staff,
        "Please install the new router on Friday.",
        Some(1200),
        OnHold,
    ),
    case(
        "Whole building offline",
        "no connection",
        Urgent,
        TicketChannel::Api,
        "Fibre cut reported by the OLT.",
        Some(10),
        Resolved,
    ),
    case("Wi-Fi password reset", "other", Low, TicketChannel::Email, "I forgot my Wi-Fi password.", None, New),
    case(
        "Invoice address wrong",
        "billing",
        Low,
        TicketChannel::Portal,
        "My invoice shows my old address.",
        Some(300),
        Open,
    ),
    case(
        "Static IP not routed",
        "no connection",
        High,
        TicketChannel::Email,
        "The static IP does not answer pings.",
        None,
        New,
    ),
    case(
        "Packet loss to game servers",
        "slow speed",
        Normal,
        TicketChannel::Staff,
        "15% loss to EU servers.",
        Some(1800),
        Open,
    ),
    case(
        "Move service to new address",
        "installation",
        Normal,
        TicketChannel::Staff,
        "We move on the 1st.",
        Some(200),
        Resolved,
    ),
    case(
        "Refund for outage days",
        "billing",
        Normal,
        TicketChannel::Email,
        "Three days without service.",
        Some(360),
        Closed,
    ),
    case(
        "Modem keeps rebooting",
        "no connection",
        Urgent,
        TicketChannel::Staff,
        "It restarts every 10 minutes.",
        None,
        Open,
    ),
];

/// Seeds the demo tenant's helpdesk as of the caller's now.
pub(super) async fn run(
    ctx: &Ctx,
    owner: &Actor,
    support: &Actor,
    engineer: &Actor,
    business_plan: i64,
) -> CoreResult<()> {
    let zone = super::DEMO_ZONE;
    let today = crate::billing::local_date(ctx.clock.now(), zone.name());
    let first = today - Duration::days(15);
    let end = ctx.clock.now();
    let tl = Timeline::new(ctx, zone, first);
    tl.at(first, 7, 0);
    let h = &tl.ctx;
    let week: [Vec<(u32, u32)>; 7] = [0, 1, 2, 3, 4]
        .map(|_| vec![(8 * 60, 18 * 60)])
        .into_iter()
        .chain([vec![(9 * 60, 13 * 60)], vec![]])
        .collect::<Vec<_>>()
        .try_into()
        .unwrap_or_default();
    let year = today.year();
    let holidays = vec![
        (format!("{year}-12-25"), "Christmas Day".to_string()),
        (format!("{}-01-01", year + 1), "New Year's Day".to_string()),
    ];
    hd::set_business_hours(h, owner, &week, &holidays).await?;
    for (priority, fr, res, business, raise) in [
        (Urgent, 30, 240, false, false),
        (High, 60, 480, true, true),
        (Normal, 240, 1440, true, false),
        (Low, 480, 2880, true, false),
    ] {
        let p = PolicyInput {
            priority,
            plan_id: None,
            first_response_minutes: fr,
            resolution_minutes: res,
            business_hours: business,
            raise_priority: raise,
        };
        hd::set_policy(h, owner, &p).await?;
    }
    let business = PolicyInput {
        priority: High,
        plan_id: Some(business_plan),
        first_response_minutes: 30,
        resolution_minutes: 240,
        business_hours: false,
        raise_priority: true,
    };
    hd::set_policy(h, owner, &business).await?;
    let field = hd::create_team(h, owner, "Field Ops", Some(engineer.user_id)).await?;
    let care = hd::create_team(h, owner, "Customer Care", Some(support.user_id)).await?;
    let categories = crate::store::helpdesk::categories(&h.db, owner.tenant_id).await?;
    let category = |name: &str| categories.iter().find(|c| c.name == name).map(|c| c.id);
    let subs: Vec<(i64, i64)> =
        query_as("SELECT id, customer_id FROM subscriptions WHERE tenant_id = $1 AND status = 'ACTIVE' ORDER BY id")
            .bind(owner.tenant_id)
            .fetch_all(&h.db)
            .await?;

    // Three rounds of the twelve cases, a few days apart, each step at its own time: the
    // last round is recent enough that some of it is still due, and what is never answered
    // breaches.
    enum Step {
        Open,
        Answer,
        Finish,
    }
    let mut steps: Vec<(DateTime<Utc>, usize, Step)> = Vec::new();
    for round in 0..3i64 {
        for (i, c) in CASES.iter().enumerate() {
            let day = first + Duration::days(round * 5 + (i as i64 % 5));
            let local = day.and_hms_opt(8 + (i as u32 % 9), (i as u32 * 7) % 60, 0).unwrap_or_default();
            let created = zone.from_local_datetime(&local).earliest().map_or(end, |t| t.with_timezone(&Utc));
            let k = round as usize * CASES.len() + i;
            steps.push((created, k, Step::Open));
            if let Some(after) = c.reply_after {
                let answer = created + Duration::minutes(after);
                steps.push((answer, k, Step::Answer));
                steps.push((answer + Duration::hours(2), k, Step::Finish));
            }
        }
    }
    steps.sort_by_key(|(at, k, _)| (*at, *k));
    let mut made: Vec<Option<i64>> = vec![None; 3 * CASES.len()];
    for (at, k, step) in steps {
        if at > end {
            continue;
        }
        tl.set(at);
        let c = &CASES[k % CASES.len()];
        let worker = if c.category == "no connection" || c.category == "installation" { engineer } else { support };
        match (step, made[k]) {
            (Step::Open, _) => {
                let (sub, customer) = subs.get(k % subs.len().max(1)).copied().unwrap_or((0, 0));
                let n = NewTicket {
                    subject: c.subject.to_string(),
                    body: Some(c.report.to_string()),
                    customer_id: (customer != 0).then_some(customer),
                    subscription_id: (sub != 0).then_some(sub),
                    category_id: category(c.category),
                    priority: Some(c.priority),
                    channel: Some(c.channel),
                    assignee_id: (c.status != New).then_some(worker.user_id),
                    team_id: Some(if worker.user_id == engineer.user_id { field.id } else { care.id }),
                    tags: if c.priority == Urgent { vec!["outage".into()] } else { Vec::new() },
                };
                made[k] = Some(tickets::create(h, support, &n).await?.id);
            }
            (Step::Answer, Some(id)) => {
                tickets::add_message(h, worker, id, MessageKind::InternalNote, "Checked the line and the account.")
                    .await?;
                let reply = "Thanks, we are on it and will update you shortly.";
                tickets::add_message(h, worker, id, MessageKind::PublicReply, reply).await?;
            }
            (Step::Finish, Some(id)) => {
                if c.status == Closed {
                    tickets::add_message(h, worker, id, MessageKind::CustomerMessage, "Thanks, all good now.").await?;
                }
                if matches!(c.status, Resolved | Closed | PendingCustomer | OnHold) {
                    tickets::set_status(h, worker, id, c.status).await?;
                }
            }
            _ => {}
        }
    }
    let made: Vec<(i64, &Case)> =
        made.iter().enumerate().filter_map(|(k, id)| id.map(|id| (id, &CASES[k % CASES.len()]))).collect();
    // Two reports of the same outage, merged; and one ticket raised in priority.
    if let Some((a, _)) = made.iter().rev().find(|(_, c)| c.subject == "Whole building offline") {
        let orig = crate::store::tickets::get(&h.db, owner.tenant_id, *a).await?;
        let dup = NewTicket {
            subject: "Internet down in our building".into(),
            body: Some("Neighbours have no internet either.".into()),
            customer_id: orig.customer_id,
            subscription_id: orig.subscription_id,
            priority: Some(High),
            channel: Some(TicketChannel::Email),
            ..Default::default()
        };
        let dup = tickets::create(h, support, &dup).await?;
        tickets::merge(h, support, *a, &[dup.id]).await?;
    }
    if let Some((id, _)) = made.iter().rev().find(|(_, c)| c.status == New && c.priority == Low) {
        tickets::set_priority(h, support, *id, Normal).await?;
        tickets::assign(h, owner, *id, Patch::Set(support.user_id), Patch::Set(care.id)).await?;
    }
    tl.finish();
    tickets::sweep(h, owner.tenant_id).await?;
    Ok(())
}
