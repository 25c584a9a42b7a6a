//! Customer acquisition and churn, and MRR movement, from the subscription history's per-day
//! sums (`report_subscription_days`, migration 0017).
//!
//! Definitions, per bucket (all counts are subscriptions unless named otherwise):
//! - **open**: subscriptions not CANCELLED (PENDING, ACTIVE or SUSPENDED); `open_at_start` counts
//!   those open at the start of the bucket's first day, on the plan and access type they had;
//! - **new customers**: customers whose first subscription was created in the bucket, on that
//!   subscription's plan and access type (a customer without a subscription is not acquired);
//! - **new subscriptions**: subscriptions created in the bucket;
//! - **cancellations**: subscriptions cancelled in the bucket (on their effective date);
//! - **moved in / out**: open subscriptions moved to / from the plan and access type by a plan
//!   or access change (zero on the totals, where a move changes nothing);
//! - **net growth** = new + moved in - moved out - cancellations, and
//!   `open_at_end = open_at_start + net_growth`;
//! - **churn rate** = cancellations / open at start, in basis points (null when nothing was open).
//!
//! MRR is the monthly value of ACTIVE subscriptions at their plan's price when they last changed
//! (price x periods per year / 12; SUSPENDED, PENDING and CANCELLED are worth 0). Per bucket:
//! - **new MRR**: subscriptions becoming ACTIVE for the first time (created ACTIVE or from PENDING);
//! - **reactivation MRR**: SUSPENDED subscriptions becoming ACTIVE again;
//! - **expansion / contraction MRR**: the rise / fall of an ACTIVE subscription's value by a plan
//!   change that keeps it ACTIVE;
//! - **churned MRR**: the value of ACTIVE subscriptions suspended or cancelled;
//! - **net MRR** = new + reactivation + expansion - contraction - churned;
//!   `ending = starting + net`, where starting is the net of every earlier day;
//! - **ARPU** = ending MRR / ACTIVE subscriptions at the end of the bucket.
//!
//! Sums are exact in twelfths of a minor unit; each figure is rounded once (half away from
//! zero), so a figure may differ by a minor unit from the sum of its rounded parts. A plan price
//! edit moves no MRR by itself: a subscription's value follows it at the subscription's next
//! change (as expansion or contraction). History before migration 0017 is each open
//! subscription created on its start date in its status of that day.

use super::{basis_points, bucket_index, Range};
use crate::auth::{Action, Actor};
use crate::billing::minor_from_wide;
use crate::billing::proration::{round_div, round_div_wide};
use crate::db::{query_as, Db, FromRow};
use crate::error::CoreResult;
use crate::store::subscriptions::AccessType;
use std::collections::HashMap;

/// (`$1` tenant) open subscriptions per plan and access type before day `$2`.
pub const OPEN_BEFORE_SQL: &str =
    "SELECT plan_id, access_type, CAST(SUM(new_subscriptions + moved_in - moved_out - cancellations) AS BIGINT) \
     FROM report_subscription_days WHERE tenant_id = $1 AND day < $2 GROUP BY plan_id, access_type";

/// (`$1` tenant) the per-day sums from `$2` to `$3`.
pub const DAYS_SQL: &str =
    "SELECT day, plan_id, access_type, new_customers, new_subscriptions, cancellations, moved_in, moved_out, \
     active_delta, new_mrr_x12, reactivated_mrr_x12, expansion_mrr_x12, contraction_mrr_x12, churned_mrr_x12 \
     FROM report_subscription_days WHERE tenant_id = $1 AND day >= $2 AND day <= $3";

/// (`$1` tenant) 12 x MRR and ACTIVE subscriptions before day `$2`.
pub const MRR_BEFORE_SQL: &str =
    "SELECT CAST(COALESCE(SUM(new_mrr_x12 + reactivated_mrr_x12 + expansion_mrr_x12 - contraction_mrr_x12 \
     - churned_mrr_x12), 0) AS BIGINT), CAST(COALESCE(SUM(active_delta), 0) AS BIGINT) \
     FROM report_subscription_days WHERE tenant_id = $1 AND day < $2";

/// (`$1` tenant) plan names.
pub const PLAN_NAMES_SQL: &str = "SELECT id, name FROM plans WHERE tenant_id = $1";

/// One row of `report_subscription_days`.
#[derive(FromRow)]
struct DayRow {
    day: String,
    plan_id: i64,
    access_type: AccessType,
    new_customers: i64,
    new_subscriptions: i64,
    cancellations: i64,
    moved_in: i64,
    moved_out: i64,
    active_delta: i64,
    new_mrr_x12: i64,
    reactivated_mrr_x12: i64,
    expansion_mrr_x12: i64,
    contraction_mrr_x12: i64,
    churned_mrr_x12: i64,
}

/// Acquisition and churn of one plan and access type (or of everything) in one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcquisitionRow {
    /// `YYYY-MM` or `YYYY-MM-DD`.
    pub bucket: String,
    /// First day of the bucket.
    pub first_day: String,
    /// Last day of the bucket.
    pub last_day: String,
    /// Plan (None on the totals).
    pub plan_id: Option<i64>,
    /// Its name.
    pub plan_name: Option<String>,
    /// Access type (None on the totals).
    pub access_type: Option<AccessType>,
    /// Open subscriptions at the start of the bucket.
    pub open_at_start: i64,
    /// Customers whose first subscription was created in the bucket.
    pub new_customers: i64,
    /// Subscriptions created.
    pub new_subscriptions: i64,
    /// Subscriptions cancelled.
    pub cancellations: i64,
    /// Moved here by a plan or access change.
    pub moved_in: i64,
    /// Moved away by a plan or access change.
    pub moved_out: i64,
    /// new + moved in - moved out - cancellations.
    pub net_growth: i64,
    /// Open subscriptions at the end of the bucket.
    pub open_at_end: i64,
    /// cancellations / open at start, in basis points (None when nothing was open).
    pub churn_rate_bp: Option<i64>,
}

#[derive(Default, Clone, Copy)]
struct Counts {
    new_customers: i64,
    new_subscriptions: i64,
    cancellations: i64,
    moved_in: i64,
    moved_out: i64,
}

/// Acquisition and churn per bucket, per plan and access type (`by_plan`) or in total; a row for
/// every bucket and pair with anything open or moving.
pub async fn acquisition(db: &Db, actor: &Actor, range: &Range, by_plan: bool) -> CoreResult<Vec<AcquisitionRow>> {
    actor.require(Action::ReportRead)?;
    let t = actor.tenant_id;
    let (from, to) = range.dates();
    let open: Vec<(i64, AccessType, i64)> = query_as(OPEN_BEFORE_SQL).bind(t).bind(&from).fetch_all(db).await?;
    let days: Vec<DayRow> = query_as::<DayRow>(DAYS_SQL).bind(t).bind(&from).bind(&to).fetch_all(db).await?;
    let names: HashMap<i64, String> =
        query_as::<(i64, String)>(PLAN_NAMES_SQL).bind(t).fetch_all(db).await?.into_iter().collect();
    let buckets = range.buckets();
    // Pair (None on the totals) -> open before the range, and counts per bucket.
    type Key = Option<(i64, AccessType)>;
    let key = |plan: i64, access: AccessType| -> Key { by_plan.then_some((plan, access)) };
    let mut start: HashMap<Key, i64> = HashMap::new();
    for (plan, access, n) in open {
        *start.entry(key(plan, access)).or_default() += n;
    }
    let mut counts: HashMap<Key, Vec<Counts>> = HashMap::new();
    for r in &days {
        let i = bucket_index(range, &r.day)?;
        let c = &mut counts
            .entry(key(r.plan_id, r.access_type))
            .or_insert_with(|| vec![Counts::default(); buckets.len()])[i];
        c.new_customers += r.new_customers;
        c.new_subscriptions += r.new_subscriptions;
        c.cancellations += r.cancellations;
        if by_plan {
            c.moved_in += r.moved_in;
            c.moved_out += r.moved_out;
        }
    }
    let mut keys: Vec<Key> = start.keys().chain(counts.keys()).copied().collect();
    keys.sort_by(|a, b| {
        let name = |k: &Key| k.map(|(p, a)| (names.get(&p).cloned().unwrap_or_default(), p, a.as_str()));
        name(a).cmp(&name(b))
    });
    keys.dedup();
    let none = vec![Counts::default(); buckets.len()];
    let mut out: Vec<(usize, AcquisitionRow)> = Vec::new();
    for k in &keys {
        let mut open = start.get(k).copied().unwrap_or(0);
        for (bi, (b, c)) in buckets.iter().zip(counts.get(k).unwrap_or(&none)).enumerate() {
            let (before, growth) = (open, net(c));
            open += growth;
            if before == 0 && growth == 0 && c.new_subscriptions == 0 && c.cancellations == 0 && c.moved_in == 0 {
                continue;
            }
            let row = AcquisitionRow {
                bucket: b.label.clone(),
                first_day: crate::billing::fmt_date(b.first),
                last_day: crate::billing::fmt_date(b.last),
                plan_id: k.map(|(p, _)| p),
                plan_name: k.and_then(|(p, _)| names.get(&p).cloned()),
                access_type: k.map(|(_, a)| a),
                open_at_start: before,
                new_customers: c.new_customers,
                new_subscriptions: c.new_subscriptions,
                cancellations: c.cancellations,
                moved_in: c.moved_in,
                moved_out: c.moved_out,
                net_growth: growth,
                open_at_end: open,
                churn_rate_bp: basis_points(c.cancellations, before),
            };
            out.push((bi, row));
        }
    }
    // Bucket by bucket, pairs in plan-name order within each (the sort is stable).
    out.sort_by_key(|(bi, _)| *bi);
    Ok(out.into_iter().map(|(_, r)| r).collect())
}

fn net(c: &Counts) -> i64 {
    c.new_subscriptions + c.moved_in - c.moved_out - c.cancellations
}

/// MRR movement in one bucket (minor units of the tenant's currency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MrrRow {
    /// `YYYY-MM` or `YYYY-MM-DD`.
    pub bucket: String,
    /// First day of the bucket.
    pub first_day: String,
    /// Last day of the bucket.
    pub last_day: String,
    /// MRR at the start of the bucket.
    pub starting_mrr_minor: i64,
    /// From subscriptions becoming ACTIVE for the first time.
    pub new_mrr_minor: i64,
    /// From SUSPENDED subscriptions becoming ACTIVE again.
    pub reactivation_mrr_minor: i64,
    /// From plan changes raising an ACTIVE subscription's value.
    pub expansion_mrr_minor: i64,
    /// From plan changes lowering an ACTIVE subscription's value.
    pub contraction_mrr_minor: i64,
    /// Of ACTIVE subscriptions suspended or cancelled.
    pub churned_mrr_minor: i64,
    /// new + reactivation + expansion - contraction - churned.
    pub net_mrr_minor: i64,
    /// MRR at the end of the bucket (starting + net).
    pub ending_mrr_minor: i64,
    /// ACTIVE subscriptions at the end of the bucket.
    pub active_subscriptions: i64,
    /// ending MRR / ACTIVE subscriptions at the end (None when there are none).
    pub arpu_minor: Option<i64>,
}

#[derive(Default, Clone, Copy)]
struct Movement {
    new: i128,
    reactivation: i128,
    expansion: i128,
    contraction: i128,
    churned: i128,
    active: i64,
}

impl Movement {
    fn net(&self) -> i128 {
        self.new + self.reactivation + self.expansion - self.contraction - self.churned
    }
}

/// MRR movement and ARPU per bucket.
pub async fn mrr_movement(db: &Db, actor: &Actor, range: &Range) -> CoreResult<Vec<MrrRow>> {
    actor.require(Action::ReportRead)?;
    let t = actor.tenant_id;
    let (from, to) = range.dates();
    let (before_x12, before_active): (i64, i64) = query_as(MRR_BEFORE_SQL).bind(t).bind(&from).fetch_one(db).await?;
    let days: Vec<DayRow> = query_as::<DayRow>(DAYS_SQL).bind(t).bind(&from).bind(&to).fetch_all(db).await?;
    let buckets = range.buckets();
    let mut moves = vec![Movement::default(); buckets.len()];
    for r in &days {
        let m = &mut moves[bucket_index(range, &r.day)?];
        m.active += r.active_delta;
        m.new += i128::from(r.new_mrr_x12);
        m.reactivation += i128::from(r.reactivated_mrr_x12);
        m.expansion += i128::from(r.expansion_mrr_x12);
        m.contraction += i128::from(r.contraction_mrr_x12);
        m.churned += i128::from(r.churned_mrr_x12);
    }
    let mrr = |x12: i128| minor_from_wide("MRR", round_div_wide(x12, 12));
    let (mut level, mut active) = (i128::from(before_x12), before_active);
    let mut out = Vec::with_capacity(buckets.len());
    for (b, m) in buckets.iter().zip(&moves) {
        let start = level;
        level += m.net();
        active += m.active;
        out.push(MrrRow {
            bucket: b.label.clone(),
            first_day: crate::billing::fmt_date(b.first),
            last_day: crate::billing::fmt_date(b.last),
            starting_mrr_minor: mrr(start)?,
            new_mrr_minor: mrr(m.new)?,
            reactivation_mrr_minor: mrr(m.reactivation)?,
            expansion_mrr_minor: mrr(m.expansion)?,
            contraction_mrr_minor: mrr(m.contraction)?,
            churned_mrr_minor: mrr(m.churned)?,
            net_mrr_minor: mrr(m.net())?,
            ending_mrr_minor: mrr(level)?,
            active_subscriptions: active,
            arpu_minor: (active > 0).then(|| round_div(level, i128::from(active) * 12)),
        });
    }
    Ok(out)
}
