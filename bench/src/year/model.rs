//! The fixture's customers before any row is written: who they are, what they buy, since when,
//! how they pay, and where their subscription stands today. Every generator reads this model,
//! so invoices, payments, sessions and the audit log tell one consistent story.

use super::names::{self, Person, Rng};
use super::setup::{plan, Setup, PAYMENT_TERMS_DAYS};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use isp_core::billing::PaymentMethod;
use isp_core::store::customers::CustomerStatus;
use isp_core::store::subscriptions::{AccessType, SubscriptionStatus};

/// Billing months in the fixture (the current one included).
pub const MONTHS: usize = 12;

/// The year the fixture covers: twelve monthly cycles ending with the current one.
pub struct Calendar {
    /// Now, Unix ms.
    pub now: i64,
    /// Today (UTC, the tenant's zone).
    pub today: NaiveDate,
    /// First day of each billing month, oldest first, plus the first day of next month.
    pub months: [NaiveDate; MONTHS + 1],
}

impl Calendar {
    /// The year ending with the month of `now_ms`.
    pub fn new(now_ms: i64) -> Self {
        let today = DateTime::<Utc>::from_timestamp_millis(now_ms).expect("valid now").date_naive();
        let first = today.with_day(1).expect("day 1");
        let months = std::array::from_fn(|k| add_months(first, k as i32 - (MONTHS as i32 - 1)));
        Self { now: now_ms, today, months }
    }

    /// `date` at `secs` seconds after midnight UTC, Unix ms.
    pub fn ms(date: NaiveDate, secs: i64) -> i64 {
        date.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_millis() + secs * 1000
    }

    /// The due date of an invoice issued on `issue`.
    pub fn due(issue: NaiveDate) -> NaiveDate {
        issue + Duration::days(PAYMENT_TERMS_DAYS)
    }

    /// Start of the fixture's first month.
    pub fn start(&self) -> NaiveDate {
        self.months[0]
    }
}

/// `d` moved by `n` months (`d` is a first of the month).
pub fn add_months(d: NaiveDate, n: i32) -> NaiveDate {
    let total = d.year() * 12 + d.month0() as i32 + n;
    NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1).expect("valid month")
}

/// How a customer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payer {
    /// Within the payment terms.
    Good,
    /// Now and then after the due date (dunning suspends and reactivates them).
    Late,
    /// Stopped paying with the invoice of this month (index into [`Calendar::months`]);
    /// suspended by dunning, or left owing when cancelled.
    Stopped(usize),
}

/// One customer with their one subscription.
pub struct Sub {
    /// Customer row id.
    pub customer_id: i64,
    /// Subscription row id.
    pub id: i64,
    /// Account number (`C000042` is 42).
    pub number: u64,
    /// Contact details.
    pub person: Person,
    /// Login.
    pub username: String,
    /// Index into [`Setup::plans`].
    pub plan: usize,
    /// Access type.
    pub access: AccessType,
    /// Status today.
    pub status: SubscriptionStatus,
    /// Customer status today.
    pub customer_status: CustomerStatus,
    /// Service start date.
    pub start: NaiveDate,
    /// When the customer was created, Unix ms.
    pub created_at: i64,
    /// Cancelled subscriptions: the first month not billed any more.
    pub cancel_month: Option<usize>,
    /// Payment behaviour.
    pub payer: Payer,
    /// Suspended by staff (not for money) this many days ago.
    pub staff_suspended_days: Option<i64>,
    /// Point of presence (index into [`Setup::pops`]).
    pub pop: usize,
    /// Serving device, if the subscription names one.
    pub device_id: Option<i64>,
    /// Fixed IPv4.
    pub static_ip: Option<String>,
    /// MAC binding.
    pub mac: Option<String>,
    /// ONU serial and OLT port (GPON).
    pub onu: Option<(String, String)>,
    /// How the customer usually pays.
    pub method: PaymentMethod,
}

impl Sub {
    /// Whether RADIUS authenticates it (sessions, usage and the auth log).
    pub fn radius(&self) -> bool {
        matches!(self.access, AccessType::Pppoe | AccessType::Hotspot)
    }

    /// The months this subscription is billed for (indexes into [`Calendar::months`]),
    /// and the first one's issue date: a subscription that started within the year is billed
    /// on its start date for the rest of that month, then on the first of each month.
    pub fn billed(&self, cal: &Calendar) -> Option<(std::ops::Range<usize>, NaiveDate)> {
        if self.status == SubscriptionStatus::Pending || self.start > cal.today {
            return None;
        }
        let first = cal.months[..MONTHS].iter().rposition(|m| *m <= self.start).unwrap_or(0);
        let end = self.cancel_month.unwrap_or(MONTHS);
        if first >= end {
            return None;
        }
        Some((first..end, self.start.max(cal.months[first])))
    }
}

fn mac(n: u64) -> String {
    let x = (n.wrapping_mul(2_654_435_761) & 0xFFFF_FFFF) as u32;
    let b = x.to_be_bytes();
    format!("02:5E:{:02X}:{:02X}:{:02X}:{:02X}", b[0], b[1], b[2], b[3])
}

/// The model of `n` customers, ids from `first_customer_id` and `first_sub_id`.
pub fn build(n: usize, cal: &Calendar, setup: &Setup, first_customer_id: i64, first_sub_id: i64) -> Vec<Sub> {
    let pending = (n / 50).max(1);
    let in_year = n / 10;
    let before = n - pending - in_year;
    let history_days = 7 * 365;
    let year_days = (cal.today - cal.start()).num_days().max(1);
    let mut statics = 0u64;
    (0..n)
        .map(|i| {
            let mut rng = Rng::new(i as u64 + 1);
            let number = i as u64 + 1;
            // Start dates grow with the id: customers were created one after another.
            let (start, created_at) = if i < before {
                let d = cal.start() - Duration::days(history_days - (i as i64 * history_days / before as i64));
                (d, Calendar::ms(d, 9 * 3600 + rng.range(0, 9 * 3600)))
            } else if i < before + in_year {
                let d = cal.start() + Duration::days((i - before) as i64 * year_days / in_year as i64);
                (d, Calendar::ms(d, 9 * 3600 + rng.range(0, 9 * 3600)))
            } else {
                let j = (i - before - in_year) as i64;
                let created = cal.today - Duration::days(20 - j * 20 / pending as i64);
                (created + Duration::days(rng.range(7, 14)), Calendar::ms(created, 9 * 3600 + rng.range(0, 9 * 3600)))
            };
            let access = match rng.below(100) {
                0..=61 => AccessType::Pppoe,
                62..=81 => AccessType::Gpon,
                82..=89 => AccessType::Hotspot,
                _ => AccessType::StaticIp,
            };
            let plan = match access {
                AccessType::Pppoe => match rng.below(100) {
                    0..=14 => plan::LITE,
                    15..=49 => plan::HOME50,
                    50..=74 => plan::HOME100,
                    75..=89 => plan::FUP100,
                    90..=94 if start < cal.start() => plan::LEGACY,
                    _ => plan::BUSINESS,
                },
                AccessType::Gpon => [plan::FIBER300, plan::FIBER300, plan::FIBER1000][rng.below(3) as usize],
                AccessType::Hotspot => plan::HOTSPOT,
                AccessType::StaticIp => [plan::BUSINESS, plan::BUSINESS, plan::FUP100][rng.below(3) as usize],
            };
            let pop = rng.below(setup.pops.len() as u64) as usize;
            let person = names::person(&mut rng, number, pop, plan == plan::BUSINESS);
            let username = match access {
                AccessType::Pppoe => format!("{}{number}", person.login),
                AccessType::Hotspot => format!("wifi.{}{number}", person.login),
                AccessType::Gpon => format!("ftth{number:06}"),
                AccessType::StaticIp => format!("{}.fixo{number}", person.login),
            };
            let static_ip = (access == AccessType::StaticIp).then(|| {
                statics += 1;
                format!("198.{}.{}.{}", 18 + (statics >> 16), (statics >> 8) & 255, statics & 255)
            });
            let onu = (access == AccessType::Gpon).then(|| {
                let x = (number.wrapping_mul(2_246_822_519) & 0xFFFF_FFFF) as u32;
                let vendor = if setup.olts.len() > 1 && pop % 3 == 2 { "ZTEG" } else { "HWTC" };
                (format!("{vendor}{x:08X}"), format!("0/{}/{}", 1 + number % 16, (number / 16) % 16))
            });
            let device_id = match access {
                AccessType::Gpon => Some(setup.olts[pop % setup.olts.len()]),
                AccessType::StaticIp => Some(setup.pops[pop].router_id),
                _ => rng.chance(0.3).then(|| setup.pops[pop].router_id),
            };
            let mac =
                (matches!(access, AccessType::Pppoe | AccessType::Hotspot) && rng.chance(0.3)).then(|| mac(number));
            let method = match rng.below(100) {
                0..=34 => PaymentMethod::BankTransfer,
                35..=54 => PaymentMethod::Card,
                55..=89 => PaymentMethod::Gateway,
                _ => PaymentMethod::Cash,
            };
            let mut sub = Sub {
                customer_id: first_customer_id + i as i64,
                id: first_sub_id + i as i64,
                number,
                person,
                username,
                plan,
                access,
                status: SubscriptionStatus::Active,
                customer_status: CustomerStatus::Active,
                start,
                created_at,
                cancel_month: None,
                payer: if rng.chance(0.12) { Payer::Late } else { Payer::Good },
                staff_suspended_days: None,
                pop,
                device_id,
                static_ip,
                mac,
                onu,
                method,
            };
            fate(&mut sub, &mut rng, cal, i >= before + in_year);
            sub
        })
        .collect()
}

/// Where the subscription stands today: pending, cancelled, suspended (dunning or staff) or
/// active, with the payment behaviour that goes with it.
fn fate(sub: &mut Sub, rng: &mut Rng, cal: &Calendar, pending: bool) {
    if pending {
        sub.status = SubscriptionStatus::Pending;
        return;
    }
    let first = cal.months[..MONTHS].iter().rposition(|m| *m <= sub.start).unwrap_or(0);
    // The last month whose invoice is past due plus the dunning grace today.
    let dunnable = (0..MONTHS)
        .rev()
        .find(|&k| Calendar::due(cal.months[k]) + Duration::days(super::setup::SUSPEND_AFTER_DAYS) <= cal.today);
    let roll = rng.below(1000);
    if roll < 50 && first + 1 < MONTHS {
        sub.status = SubscriptionStatus::Cancelled;
        let c = rng.range(first as i64 + 1, MONTHS as i64 - 1) as usize;
        sub.cancel_month = Some(c);
        if rng.chance(0.3) {
            sub.payer = Payer::Stopped(c.saturating_sub(rng.range(1, 2) as usize).max(first));
        }
        sub.customer_status = if sub.payer == Payer::Good && rng.chance(0.2) {
            CustomerStatus::Archived
        } else {
            CustomerStatus::Inactive
        };
    } else if roll < 80 && dunnable.is_some_and(|u| u >= first) {
        sub.status = SubscriptionStatus::Suspended;
        sub.payer = Payer::Stopped(dunnable.unwrap_or(first));
    } else if roll < 85 {
        sub.status = SubscriptionStatus::Suspended;
        sub.staff_suspended_days = Some(rng.range(1, 60));
    }
}
