//! The demo tenant's history, from [`MONTHS`] months back up to today, written through the
//! workflows on the timeline's clock, as a few months of a small ISP would leave it:
//!
//! - a billing run on every monthly anniversary of the first signups, and daily for the
//!   hotspot passes bought in the last days, as `isp serve`'s daily job does;
//! - payments by card, cash or bank transfer a few days after each invoice; `fup002` pays one
//!   invoice in two parts and half of today's; `biz004` pays one twice and the second is
//!   refunded; `gpon011`'s invoice for a month with a fibre cut is voided (a credit note);
//! - dunning twice a cycle (reminders, overdue marks); `gpon006` is suspended a week past its
//!   due date and reactivated by its payment two days later (ONU and Disconnect jobs);
//! - staff suspend the business lines that never pay, and `demo-suspended`, for an unpaid
//!   invoice (address-list jobs for the router; one of them dead-letters);
//! - sessions of a few regular subscribers every cycle, through the accounting workflow:
//!   `fup002` passes its fair-use quota (a CoA job), `demo-capped` uses up its hard cap today
//!   (a Disconnect job); `pppoe005` and `fup002` are online now; auth log entries accepted and
//!   rejected;
//! - a one-off charge for `pppoe005` waiting for its next invoice.

use super::network::{self, Delivery, Network, Radius, Session};
use super::timeline::Timeline;
use super::{Person, Plans, Staff};
use crate::auth::Actor;
use crate::billing::invoices::{self, Invoice};
use crate::billing::payments::{NewPayment, Payment};
use crate::billing::run as billing_run;
use crate::billing::{fmt_date, PaymentMethod};
use crate::error::{CoreError, CoreResult};
use crate::store::jobs::DeviceJobPayload;
use crate::store::subscriptions::SubscriptionStatus;
use crate::workflows::{charges, dunning, payments, subscriptions};
use chrono::{Duration, Months, NaiveDate};
use std::collections::HashMap;

/// How many monthly cycles lie behind today's.
pub(super) const MONTHS: u32 = 3;

/// The first day of the history: the first signups, [`MONTHS`] months before `today`.
pub(super) fn start(today: NaiveDate) -> NaiveDate {
    today.checked_sub_months(Months::new(MONTHS)).unwrap_or(today)
}

/// Pays one invoice in two parts, and half of today's.
const PARTIAL: &str = "fup002";
/// Passes its fair-use quota in the middle cycle.
const FAIR_USE: &str = "fup002";
/// Pays the middle cycle late: suspended by dunning, reactivated by the payment.
const LATE: &str = "gpon006";
/// Pays the middle cycle twice; the second payment is refunded.
const TWICE: &str = "biz004";
/// Has the middle cycle's invoice voided.
const WAIVED: &str = "gpon011";
/// Has a one-off charge waiting for the next invoice.
const CHARGED: &str = "pppoe005";
/// Whose suspension never reaches the router (a dead letter).
const DEAD_LETTER: &str = "biz039";
/// Cancels the day before today.
const LEAVER: &str = "hs048";
/// Has a session every cycle, a week long from the cycle's second day.
const REGULARS: [&str; 5] = ["demo-pppoe", "pppoe005", "fup002", "gpon001", "demo-capped"];
/// Online right now.
const ONLINE: [&str; 2] = ["pppoe005", "fup002"];

const GB: i64 = 1 << 30;

/// Something that happens on a day of a cycle.
#[derive(Debug, Clone, Copy)]
enum Step {
    Dunning,
    Rejects,
    StartSessions,
    StopSessions,
    Payments,
    Void,
    Duplicate,
    Refund,
    FairUse,
    Suspensions,
    LateSession,
    LatePayment,
    PartialRest,
}

/// What happens `day` days after the invoices of the cycle `k` cycles before today's, at
/// which local time, in order.
fn plan(k: u32, day: i64) -> Vec<(u32, u32, Step)> {
    use Step::*;
    let mut v = Vec::new();
    // Reminders two days before the due date (14 days), suspensions a week after it.
    if day == 12 || day == 21 {
        v.push((0, 31, Dunning));
    }
    if day == 2 {
        v.push((8, 0, StartSessions));
    }
    if (1..=6).contains(&day) {
        v.push((10, 0, Payments));
    }
    if day == 9 {
        v.push((20, 0, StopSessions));
    }
    match (k, day) {
        (3, 20) => v.push((15, 0, Suspensions)),
        (3, 22) | (2, 10) | (2, 21) | (1, 15) => v.push((19, 0, Rejects)),
        (2, 2) => v.push((14, 0, Void)),
        (2, 6) => v.extend([(16, 0, Duplicate), (18, 0, FairUse)]),
        (2, 8) => v.push((11, 0, Refund)),
        (2, 19) => v.push((7, 45, LateSession)),
        (2, 23) => v.push((11, 0, LatePayment)),
        (1, 10) => v.push((12, 0, PartialRest)),
        _ => {}
    }
    v.sort_by_key(|(h, m, _)| (*h, *m));
    v
}

/// Octets (in, out) of regular `user`'s session in the cycle `k` cycles back.
fn usage(user: &str, k: u32) -> (i64, i64) {
    if user == FAIR_USE && k == 2 {
        return (12 * GB, 236 * GB);
    }
    let i = REGULARS.iter().position(|u| *u == user).unwrap_or(0);
    let total = [76, 49, 129, 175, 350][i] * GB + i64::from(k) * 13 * GB;
    (total / 12, total - total / 12)
}

/// Days after an invoice a customer usually pays it.
fn pay_day(seq: usize) -> i64 {
    1 + (seq % 6) as i64
}

/// How a customer usually pays.
fn method(seq: usize) -> PaymentMethod {
    [PaymentMethod::Card, PaymentMethod::Cash, PaymentMethod::BankTransfer][seq % 3]
}

/// The history as it is written.
struct Story<'a> {
    tl: &'a Timeline,
    staff: &'a Staff,
    net: &'a Network,
    people: Vec<Person>,
    tenant: i64,
    /// Who bills and dunns: the daily job.
    system: Actor,
    radius: Radius,
    /// This cycle's sessions of the regulars.
    online: Vec<Session>,
    /// `LATE`'s session when dunning suspends it.
    late: Option<Session>,
    /// The payment `TWICE` made first, and the duplicate.
    twice: (i64, Option<Payment>),
}

/// Writes the history of the demo tenant for `people` (signed up on the first day) and the
/// hotspot users `hotspot` (who sign up two days before today).
pub(super) async fn run(
    tl: &Timeline,
    staff: &Staff,
    plans: &Plans,
    net: &Network,
    people: Vec<Person>,
    hotspot: &[usize],
) -> CoreResult<()> {
    let tenant = staff.owner.tenant_id;
    let mut s = Story {
        tl,
        staff,
        net,
        people,
        tenant,
        system: Actor::system(tenant, "billing-daily"),
        radius: Radius::new(tenant, net.nas_id),
        online: Vec::new(),
        late: None,
        twice: (0, None),
    };
    let today = tl.today();
    let first = start(today);
    for k in (1..=MONTHS).rev() {
        let issued = today.checked_sub_months(Months::new(k)).unwrap_or(first);
        // The first invoices come when everyone has signed up; later ones in the night.
        if k == MONTHS {
            tl.at(issued, 12, 0);
        } else {
            tl.at(issued, 0, 30);
        }
        s.bill().await?;
        for day in 1..=23 {
            let date = issued + Duration::days(day);
            for (h, m, step) in plan(k, day) {
                tl.at(date, h, m);
                s.step(step, k, issued, day).await?;
            }
        }
    }
    s.last_days(plans, hotspot).await?;
    network::retire(&tl.ctx, staff, net).await?;
    network::check_quiet(&tl.ctx, tenant).await?;
    s.radius.write_log(&tl.ctx).await
}

impl Story<'_> {
    fn person(&self, login: &str) -> CoreResult<&Person> {
        self.people
            .iter()
            .find(|p| p.username == login)
            .ok_or_else(|| CoreError::internal(format!("demo login {login} is missing")))
    }

    /// The billing run of the timeline's today, as the daily job runs it.
    async fn bill(&self) -> CoreResult<()> {
        billing_run::run(&self.tl.ctx, &self.system, self.tl.date()).await?;
        Ok(())
    }

    /// The dunning run of the timeline's today; its jobs are delivered.
    async fn dunning(&self) -> CoreResult<()> {
        dunning::run(&self.tl.ctx, &self.system, self.tl.date()).await?;
        network::deliver(self.tl, self.tenant, |_| Delivery::Done).await?;
        Ok(())
    }

    /// The open invoices of every customer.
    async fn owed(&self) -> CoreResult<HashMap<i64, Vec<Invoice>>> {
        let mut by_customer: HashMap<i64, Vec<Invoice>> = HashMap::new();
        for inv in invoices::open(&self.tl.ctx.db, self.tenant).await? {
            by_customer.entry(inv.customer_id).or_default().push(inv);
        }
        Ok(by_customer)
    }

    /// What customer `customer` owes now.
    async fn balance(&self, customer: i64) -> CoreResult<i64> {
        Ok(self.owed().await?.get(&customer).map_or(0, |v| v.iter().map(Invoice::balance).sum()))
    }

    /// The cashier records `amount` from `p` (oldest invoices first); the worker delivers
    /// the jobs of a reactivation it brings.
    async fn pay(&self, p: &Person, amount: i64, method: PaymentMethod) -> CoreResult<Payment> {
        let reference = match method {
            PaymentMethod::Card => Some(format!("VISA **** {:04}", (p.seq * 7919 + 1234) % 10_000)),
            PaymentMethod::BankTransfer => {
                Some(format!("TRF-{}-{:05}", self.tl.date().format("%Y%m%d"), p.customer_id))
            }
            _ => None,
        };
        let new = NewPayment {
            customer_id: p.customer_id,
            amount_minor: amount,
            method,
            reference,
            received_on: None,
            invoice_ids: None,
        };
        let paid = payments::record(&self.tl.ctx, &self.staff.cashier, &new).await?;
        network::deliver(self.tl, self.tenant, |_| Delivery::Done).await?;
        self.tl.advance(Duration::minutes(7));
        Ok(paid)
    }

    /// Does `step` on `day` of the cycle `k` cycles back, whose invoices were issued on `issued`.
    async fn step(&mut self, step: Step, k: u32, issued: NaiveDate, day: i64) -> CoreResult<()> {
        let tl = self.tl;
        let ctx = &tl.ctx;
        match step {
            Step::Dunning => {
                self.dunning().await?;
                // The NAS ends the session of a subscriber dunning suspended.
                if let Some(s) = self.late.take() {
                    self.radius.stop(tl, &s, (3 * GB, 41 * GB), "Admin-Reset").await?;
                }
            }
            Step::Payments => {
                let owed = self.owed().await?;
                let mut first_of_twice = None;
                for p in self.people.iter().filter(|p| !p.never_pays && pay_day(p.seq) == day) {
                    let due: i64 = owed.get(&p.customer_id).map_or(0, |v| v.iter().map(Invoice::balance).sum());
                    let (amount, how) = match (p.username.as_str(), k) {
                        (LATE, 2) => continue,
                        (PARTIAL, 1) => (due / 2, PaymentMethod::Cash),
                        _ => (due, method(p.seq)),
                    };
                    if amount > 0 {
                        self.pay(p, amount, how).await?;
                    }
                    if p.username == TWICE && k == 2 {
                        first_of_twice = Some(amount);
                    }
                }
                if let Some(amount) = first_of_twice {
                    self.twice.0 = amount;
                }
            }
            Step::PartialRest => {
                let p = self.person(PARTIAL)?;
                let due = self.balance(p.customer_id).await?;
                self.pay(p, due, PaymentMethod::BankTransfer).await?;
            }
            Step::Duplicate => {
                let p = self.person(TWICE)?;
                let again = self.pay(p, self.twice.0, PaymentMethod::BankTransfer).await?;
                self.twice.1 = Some(again);
            }
            Step::Refund => {
                if let Some(dup) = self.twice.1.take() {
                    let why = format!("paid twice: {} duplicates an earlier payment", dup.receipt_number);
                    payments::refund(ctx, &self.staff.manager, dup.id, dup.amount_minor, &why).await?;
                }
            }
            Step::Void => {
                let p = self.person(WAIVED)?;
                let owed = self.owed().await?;
                let issued = fmt_date(issued);
                let inv = owed.get(&p.customer_id).and_then(|v| v.iter().find(|i| i.issue_date == issued));
                if let Some(inv) = inv {
                    let why = "fibre cut in the street: this month is waived";
                    crate::workflows::invoices::void(ctx, &self.staff.manager, inv.id, why).await?;
                }
            }
            Step::Suspensions => {
                let unpaid: Vec<i64> = self.people.iter().filter(|p| p.never_pays).map(|p| p.sub_id).collect();
                for sub in unpaid {
                    let to = SubscriptionStatus::Suspended;
                    subscriptions::change_status(ctx, &self.staff.admin, sub, to, Some("unpaid invoice (demo)"))
                        .await?;
                    tl.advance(Duration::minutes(2));
                }
                network::deliver(tl, self.tenant, |job| {
                    let payload = serde_json::from_str::<DeviceJobPayload>(&job.payload);
                    if payload.is_ok_and(|p| p.username == DEAD_LETTER) {
                        Delivery::Dead("connect: Connection refused (os error 111) (device unreachable; will retry)")
                    } else {
                        Delivery::Done
                    }
                })
                .await?;
            }
            Step::StartSessions => {
                for user in REGULARS {
                    let sub = self.person(user)?.sub_id;
                    let s = self.radius.start(tl, user, sub).await?;
                    self.online.push(s);
                    tl.advance(Duration::minutes(23));
                }
            }
            Step::FairUse => {
                if let Some(s) = self.online.iter().find(|s| s.username() == FAIR_USE) {
                    // Past 200 GB: the CoA to the fair-use rate, acknowledged by the NAS.
                    self.radius.interim(tl, s, (10 * GB, 205 * GB)).await?;
                    network::deliver(tl, self.tenant, |_| Delivery::Done).await?;
                }
            }
            Step::StopSessions => {
                for (n, s) in std::mem::take(&mut self.online).into_iter().enumerate() {
                    let cause = if n % 2 == 0 { "User-Request" } else { "Lost-Carrier" };
                    self.radius.stop(tl, &s, usage(s.username(), k), cause).await?;
                    tl.advance(Duration::minutes(17));
                }
            }
            Step::LateSession => {
                let sub = self.person(LATE)?.sub_id;
                self.late = Some(self.radius.start(tl, LATE, sub).await?);
            }
            Step::LatePayment => {
                let p = self.person(LATE)?;
                let (customer, sub) = (p.customer_id, p.sub_id);
                let due = self.balance(customer).await?;
                self.pay(p, due, PaymentMethod::Card).await?;
                // Back online after the reactivation.
                tl.advance(Duration::minutes(20));
                let s = self.radius.start(tl, LATE, sub).await?;
                tl.advance(Duration::hours(3));
                self.radius.stop(tl, &s, (GB / 2, 7 * GB), "User-Request").await?;
            }
            Step::Rejects => self.rejects(k, day).await?,
        }
        Ok(())
    }

    /// Access-Requests that were refused on `day` of the cycle `k` cycles back.
    async fn rejects(&mut self, k: u32, day: i64) -> CoreResult<()> {
        let tl = self.tl;
        match (k, day) {
            (3, _) => {
                let s = self.person("demo-suspended")?.sub_id;
                self.radius.auth(tl, "demo-suspended", Some(s), false, "subscription suspended");
            }
            (2, 10) => {
                // A new router at fup007's home, not the MAC its login is bound to.
                let s = self.person("fup007")?.sub_id;
                self.radius.wrong_mac(tl, "fup007", s, "02:00:00:00:00:07");
            }
            (2, _) => {
                let s = self.person(LATE)?.sub_id;
                self.radius.auth(tl, LATE, Some(s), false, "subscription suspended");
            }
            _ => {
                let s = self.person("pppoe010")?.sub_id;
                self.radius.auth(tl, "pppoe010", Some(s), false, "bad password");
                tl.advance(Duration::minutes(1));
                self.radius.auth(tl, "pppoe010", Some(s), true, "ok");
                tl.advance(Duration::minutes(30));
                self.radius.auth(tl, "ana.silva", None, false, "unknown user");
            }
        }
        Ok(())
    }

    /// The last two days: hotspot passes, a cancellation, and today so far.
    async fn last_days(&mut self, plans: &Plans, hotspot: &[usize]) -> CoreResult<()> {
        let tl = self.tl;
        let ctx = &tl.ctx;
        let today = tl.today();
        let (d2, d1) = (today - Duration::days(2), today - Duration::days(1));
        tl.at(d2, 9, 30);
        for &i in hotspot {
            let p = super::signup(ctx, &self.staff.owner, plans, self.net, i).await?;
            self.people.push(p);
            tl.advance(Duration::minutes(4));
        }
        tl.at(d2, 12, 0);
        self.bill().await?;
        tl.at(d1, 0, 30);
        self.bill().await?;
        tl.at(d1, 15, 0);
        let leaver = self.person(LEAVER)?.sub_id;
        let cancelled = SubscriptionStatus::Cancelled;
        subscriptions::change_status(ctx, &self.staff.admin, leaver, cancelled, Some("moved away (demo)")).await?;
        network::deliver(tl, self.tenant, |_| Delivery::Done).await?;
        tl.at(d1, 18, 0);
        let hs = self.person("hs003")?.sub_id;
        let s = self.radius.start(tl, "hs003", hs).await?;
        tl.at(d1, 20, 10);
        self.radius.stop(tl, &s, (180 << 20, 1_250 << 20), "Idle-Timeout").await?;
        tl.at(d1, 21, 0);
        let s = self.person("demo-suspended")?.sub_id;
        self.radius.auth(tl, "demo-suspended", Some(s), false, "subscription suspended");

        // Today: the daily job in the night, then the day so far.
        tl.at(today, 0, 30);
        self.bill().await?;
        self.dunning().await?;
        tl.at(today, 6, 0);
        let capped = self.person("demo-capped")?.sub_id;
        let cora = self.radius.start(tl, "demo-capped", capped).await?;
        tl.at(today, 7, 0);
        let mut online = Vec::new();
        for user in ONLINE {
            let sub = self.person(user)?.sub_id;
            online.push(self.radius.start(tl, user, sub).await?);
            tl.advance(Duration::minutes(90));
        }
        tl.at(today, 9, 15);
        let p = self.person("demo-pppoe")?;
        let due = self.balance(p.customer_id).await?;
        if due > 0 {
            self.pay(p, due, PaymentMethod::Card).await?;
        }
        tl.at(today, 10, 0);
        let p = self.person(PARTIAL)?;
        let due = self.balance(p.customer_id).await?;
        if due > 1 {
            self.pay(p, due / 2, PaymentMethod::Cash).await?;
        }
        tl.at(today, 11, 0);
        let p = self.person(CHARGED)?;
        let what = "Replacement router (the old one was hit by lightning)";
        let charge = charges::NewCharge {
            customer_id: p.customer_id,
            subscription_id: Some(p.sub_id),
            description: what,
            amount_minor: 4_500,
            credit: false,
            tax_class: None,
        };
        charges::add(ctx, &self.staff.manager, &charge).await?;
        // demo-capped uses up its 500 GB hard cap: a Disconnect, then the NAS ends the session
        // and refuses the next login.
        tl.at(today, 12, 0);
        let quota = plans.fiber.data_quota_bytes.unwrap_or(0);
        let used = (quota / 10, quota - quota / 10);
        self.radius.interim(tl, &cora, used).await?;
        network::deliver(tl, self.tenant, |_| Delivery::Done).await?;
        self.radius.stop(tl, &cora, used, "Admin-Reset").await?;
        tl.at(today, 12, 10);
        self.radius.auth(tl, "demo-capped", Some(capped), false, "data quota exhausted");
        tl.finish();
        for (n, s) in online.iter().enumerate() {
            let n = n as i64 + 1;
            self.radius.interim(tl, s, (n * 2 * GB, n * 19 * GB)).await?;
        }
        Ok(())
    }
}
