//! The ticket report, pure: volume by category and channel, first-response and resolution
//! times (median and 90th percentile, calendar minutes, nearest rank), SLA compliance per
//! priority, the backlog by age and each assignee's workload.

use crate::store::tickets::{Ticket, TicketChannel, TicketPriority};
use std::collections::BTreeMap;

/// Median and 90th percentile of durations, in minutes (nearest rank: the value at position
/// ceil(p * n) of the sorted list), over `count` tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Times {
    /// How many tickets the figures are over.
    pub count: i64,
    /// Median, minutes.
    pub median_minutes: Option<i64>,
    /// 90th percentile, minutes.
    pub p90_minutes: Option<i64>,
}

/// SLA compliance of one priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compliance {
    /// The priority.
    pub priority: TicketPriority,
    /// Tickets with SLA targets.
    pub total: i64,
    /// Of those, tickets that never breached.
    pub met: i64,
}

/// One assignee's load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// Staff user (none: unassigned).
    pub assignee_id: Option<i64>,
    /// Tickets still open now.
    pub open: i64,
    /// Tickets of the range it resolved.
    pub resolved: i64,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// Tickets created in the range per category (none: uncategorised).
    pub by_category: Vec<(Option<i64>, i64)>,
    /// Tickets created in the range per channel.
    pub by_channel: Vec<(TicketChannel, i64)>,
    /// Time to first response of the range's tickets that had one.
    pub first_response: Times,
    /// Time to resolution of the range's resolved tickets.
    pub resolution: Times,
    /// SLA compliance per priority, of the range's tickets with targets.
    pub compliance: Vec<Compliance>,
    /// Open tickets now by age: under 1 day, 1-3 days, 3-7 days, 7 days or more.
    pub backlog: [i64; 4],
    /// Per assignee: open now, resolved of the range.
    pub workload: Vec<Workload>,
}

/// The labels of [`Report::backlog`]'s buckets.
pub const BACKLOG_BUCKETS: [&str; 4] = ["UNDER_1_DAY", "DAYS_1_TO_3", "DAYS_3_TO_7", "OVER_7_DAYS"];

fn times(mut minutes: Vec<i64>) -> Times {
    minutes.sort_unstable();
    let n = minutes.len();
    let rank = |p: usize| (n > 0).then(|| minutes[(p * n).div_ceil(100) - 1]);
    Times { count: n as i64, median_minutes: rank(50), p90_minutes: rank(90) }
}

/// The report of `created` (the tickets created in the range; merged ones are left out) and
/// `open` (the tickets open now), at `now` (Unix ms).
pub fn compute(created: &[Ticket], open: &[Ticket], now: i64) -> Report {
    let created: Vec<&Ticket> = created.iter().filter(|t| t.merged_into_id.is_none()).collect();
    let mut cat: BTreeMap<Option<i64>, i64> = BTreeMap::new();
    let mut chan: BTreeMap<&str, (TicketChannel, i64)> = BTreeMap::new();
    let mut work: BTreeMap<Option<i64>, Workload> = BTreeMap::new();
    let mut fr = Vec::new();
    let mut res = Vec::new();
    for t in &created {
        *cat.entry(t.category_id).or_default() += 1;
        chan.entry(t.channel.as_str()).or_insert((t.channel, 0)).1 += 1;
        if let Some(at) = t.first_responded_at {
            fr.push((at - t.created_at) / 60_000);
        }
        if let (Some(at), true) = (t.resolved_at, t.status.is_done()) {
            res.push((at - t.created_at) / 60_000);
            work.entry(t.assignee_id)
                .or_insert(Workload { assignee_id: t.assignee_id, open: 0, resolved: 0 })
                .resolved += 1;
        }
    }
    let compliance = TicketPriority::ALL
        .iter()
        .map(|p| {
            let with: Vec<&&Ticket> =
                created.iter().filter(|t| t.priority == *p && t.first_response_due.is_some()).collect();
            Compliance {
                priority: *p,
                total: with.len() as i64,
                met: with.iter().filter(|t| t.breached == 0).count() as i64,
            }
        })
        .collect();
    let mut backlog = [0; 4];
    for t in open.iter().filter(|t| t.merged_into_id.is_none()) {
        let days = (now - t.created_at) as f64 / 86_400_000.0;
        let i = if days < 1.0 {
            0
        } else if days < 3.0 {
            1
        } else if days < 7.0 {
            2
        } else {
            3
        };
        backlog[i] += 1;
        work.entry(t.assignee_id).or_insert(Workload { assignee_id: t.assignee_id, open: 0, resolved: 0 }).open += 1;
    }
    Report {
        by_category: cat.into_iter().collect(),
        by_channel: chan.into_values().collect(),
        first_response: times(fr),
        resolution: times(res),
        compliance,
        backlog,
        workload: work.into_values().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tickets::{TicketStatus, NOTHING_DUE};

    const H: i64 = 3_600_000;
    const D: i64 = 24 * H;

    fn t(id: i64, created: i64) -> Ticket {
        Ticket {
            id,
            tenant_id: 1,
            customer_id: None,
            subscription_id: None,
            subject: "s".into(),
            category_id: None,
            priority: TicketPriority::Normal,
            status: TicketStatus::Open,
            channel: TicketChannel::Staff,
            assignee_id: None,
            team_id: None,
            tags: String::new(),
            sla_business_hours: 0,
            first_response_minutes: None,
            resolution_minutes: None,
            first_response_due: None,
            resolution_due: None,
            next_due_at: NOTHING_DUE,
            first_responded_at: None,
            resolved_at: None,
            paused_at: None,
            paused_ms: 0,
            at_risk: 0,
            breached: 0,
            escalated_at: None,
            merged_into_id: None,
            dedup_key: None,
            created_at: created,
            updated_at: created,
        }
    }

    #[test]
    fn figures_match_a_hand_count() {
        let now = 30 * D;
        // Five tickets in the range: first responses after 10, 20, 30 and 120 minutes.
        let mut a = t(1, 10 * D);
        a.first_responded_at = Some(a.created_at + 10 * 60_000);
        a.category_id = Some(7);
        a.status = TicketStatus::Resolved;
        a.resolved_at = Some(a.created_at + 2 * H);
        a.assignee_id = Some(3);
        a.priority = TicketPriority::Urgent;
        a.first_response_due = Some(a.created_at + H);
        let mut b = t(2, 11 * D);
        b.first_responded_at = Some(b.created_at + 20 * 60_000);
        b.category_id = Some(7);
        b.channel = TicketChannel::Email;
        b.status = TicketStatus::Closed;
        b.resolved_at = Some(b.created_at + 10 * H);
        b.assignee_id = Some(3);
        b.priority = TicketPriority::Urgent;
        b.first_response_due = Some(b.created_at + H);
        b.breached = 1;
        let mut c = t(3, 12 * D);
        c.first_responded_at = Some(c.created_at + 30 * 60_000);
        c.channel = TicketChannel::Email;
        c.priority = TicketPriority::Urgent;
        c.first_response_due = Some(c.created_at + H);
        let mut d = t(4, 29 * D);
        d.first_responded_at = Some(d.created_at + 120 * 60_000);
        d.category_id = Some(8);
        d.assignee_id = Some(5);
        let e = t(5, 29 * D + 20 * H);
        let mut merged = t(6, 12 * D);
        merged.merged_into_id = Some(3);
        let created = vec![a, b, c.clone(), d.clone(), e.clone(), merged];
        // Open now: c (18 days old), d (1 day old), e (4 hours old) and an older one.
        let old = t(9, 26 * D);
        let r = compute(&created, &[c, d, e, old], now);
        assert_eq!(r.by_category, vec![(None, 2), (Some(7), 2), (Some(8), 1)]);
        assert_eq!(r.by_channel, vec![(TicketChannel::Email, 2), (TicketChannel::Staff, 3)]);
        // 10, 20, 30, 120: median is the 2nd (20), p90 the 4th (120).
        assert_eq!(r.first_response, Times { count: 4, median_minutes: Some(20), p90_minutes: Some(120) });
        // 120 and 600 minutes: median the 1st, p90 the 2nd.
        assert_eq!(r.resolution, Times { count: 2, median_minutes: Some(120), p90_minutes: Some(600) });
        let urgent = r.compliance.iter().find(|c| c.priority == TicketPriority::Urgent).unwrap();
        assert_eq!((urgent.total, urgent.met), (3, 2));
        assert!(r.compliance.iter().filter(|c| c.priority != TicketPriority::Urgent).all(|c| c.total == 0));
        // Ages: c 18 days, d 1 day, e 4 hours, old 4 days.
        assert_eq!(r.backlog, [1, 1, 1, 1]);
        assert_eq!(
            r.workload,
            vec![
                Workload { assignee_id: None, open: 3, resolved: 0 },
                Workload { assignee_id: Some(3), open: 0, resolved: 2 },
                Workload { assignee_id: Some(5), open: 1, resolved: 0 },
            ]
        );
        assert_eq!(compute(&[], &[], now).first_response, Times::default());
    }
}
