//! A year of billing as the daily billing run, dunning and the cashiers would have left it:
//! one run per billing date with its invoices (prorated first cycles, installation charges),
//! lines and billed periods; payments with their allocations in the order they arrived,
//! receipts and gateway events; a few voided invoices with their credit notes; dunning
//! suspensions and reactivations; charges waiting for the next invoice; and the tenant's
//! number sequences where the documents left them.
//!
//! Amounts come from `isp_core::billing` (proration and tax), statuses from
//! `invoices::settle` on today's date, so the API reads what the application would have written.

use super::model::{Calendar, Payer, Sub, MONTHS};
use super::names::Rng;
use super::ops::{render, Act, AuditEvent, DunningEvent, JobEvent, JobWhy, Log, Number};
use super::rows::{Table, Writer};
use super::setup::{Setup, SUSPEND_AFTER_DAYS, TAX};
use anyhow::Result;
use chrono::{Datelike, Duration, NaiveDate};
use isp_core::auth::Role;
use isp_core::billing::proration::{days, prorate};
use isp_core::billing::settlement::settle;
use isp_core::billing::{fmt_date, tax, InvoiceStatus, PaymentMethod};
use isp_core::db::Arg;
use std::collections::HashMap;

const RUNS: Table = Table {
    name: "billing_runs",
    cols: &["id", "tenant_id", "as_of", "actor", "drafts", "invoices", "total_minor", "started_at", "finished_at"],
};
const INVOICES: Table = Table {
    name: "invoices",
    cols: &[
        "id",
        "tenant_id",
        "customer_id",
        "kind",
        "number",
        "status",
        "issue_date",
        "due_date",
        "subtotal_minor",
        "tax_minor",
        "total_minor",
        "paid_minor",
        "original_invoice_id",
        "void_reason",
        "billing_run_id",
        "created_at",
        "updated_at",
    ],
};
const LINES: Table = Table {
    name: "invoice_lines",
    cols: &[
        "id",
        "tenant_id",
        "invoice_id",
        "kind",
        "subscription_id",
        "plan_id",
        "description",
        "period_start",
        "period_end",
        "net_minor",
        "tax_minor",
        "total_minor",
        "tax_rate_bp",
        "tax_inclusive",
    ],
};
const BILLED: Table = Table {
    name: "billed_periods",
    cols: &["tenant_id", "subscription_id", "period_start", "period_end", "plan_id", "invoice_id"],
};
const CHARGES: Table = Table {
    name: "charges",
    cols: &[
        "id",
        "tenant_id",
        "customer_id",
        "subscription_id",
        "kind",
        "description",
        "amount_minor",
        "tax_class",
        "invoice_id",
        "created_at",
    ],
};
const PAYMENTS: Table = Table {
    name: "payments",
    cols: &[
        "id",
        "tenant_id",
        "customer_id",
        "method",
        "reference",
        "amount_minor",
        "refunded_minor",
        "receipt_number",
        "received_on",
        "created_at",
    ],
};
const ALLOCATIONS: Table = Table {
    name: "payment_allocations",
    cols: &["id", "tenant_id", "payment_id", "invoice_id", "amount_minor", "created_at"],
};
const GATEWAY: Table =
    Table { name: "payment_gateway_events", cols: &["tenant_id", "provider", "event_id", "payment_id", "received_at"] };
const SEQUENCES: Table = Table { name: "number_sequences", cols: &["tenant_id", "kind", "scope", "next_value"] };

/// Installation fee on a new subscriber's first invoice.
const INSTALLATION: i64 = 9_900;
/// Why invoices were voided.
const VOID_REASONS: &[&str] = &["duplicate invoice", "wrong plan billed", "service outage credit"];
/// Days after the issue date that customers pay on, the ones near the due date most often.
const PAY_DAYS: [i64; 14] = [13, 12, 10, 9, 7, 5, 3, 1, 0, 2, 4, 6, 8, 11];

/// First ids of the tables billing writes.
pub struct Ids {
    /// `billing_runs`.
    pub run: i64,
    /// `invoices`.
    pub invoice: i64,
    /// `invoice_lines`.
    pub line: i64,
    /// `charges`.
    pub charge: i64,
    /// `payments`.
    pub payment: i64,
    /// `payment_allocations`.
    pub allocation: i64,
}

/// A payment of one invoice (or part of it) on one day.
struct Intent {
    date: NaiveDate,
    secs: i64,
    sub: u32,
    invoice: i64,
    amount: i64,
}

/// One invoice about to be written, with what decides its status.
struct Planned {
    sub: u32,
    issue: NaiveDate,
    from: NaiveDate,
    end: NaiveDate,
    net: i64,
    tax: i64,
    install: bool,
}

/// Sequence counters per kind and year.
#[derive(Default)]
struct Seqs(HashMap<(&'static str, i32), u32>);

impl Seqs {
    fn next(&mut self, kind: &'static str, d: NaiveDate) -> Number {
        let n = self.0.entry((kind, d.year())).or_insert(0);
        *n += 1;
        (d.year(), *n)
    }
}

/// What the billing pass hands back: subscriptions whose status reason it decided.
pub struct Outcome {
    /// (subscription index, reason, when) of the last dunning step of each subscription.
    pub reasons: Vec<(u32, String, i64)>,
}

/// Indexes of the staff with `role`.
fn staff_with(setup: &Setup, role: Role) -> Vec<usize> {
    (0..setup.staff.len()).filter(|&i| setup.staff[i].role == role).collect()
}

/// The billing state carried through the months.
struct Pass<'a> {
    model: &'a [Sub],
    setup: &'a Setup,
    cal: &'a Calendar,
    tenant: i64,
    ids: Ids,
    seqs: Seqs,
    intents: Vec<Intent>,
    reasons: HashMap<u32, (String, i64)>,
    cashiers: Vec<usize>,
    admins: Vec<usize>,
}

/// Writes every billing row of the year and records its audit, dunning and job events.
pub async fn write(
    w: &mut Writer,
    log: &mut Log,
    model: &[Sub],
    setup: &Setup,
    cal: &Calendar,
    tenant: i64,
    ids: Ids,
) -> Result<Outcome> {
    let mut p = Pass {
        model,
        setup,
        cal,
        tenant,
        ids,
        seqs: Seqs::default(),
        intents: Vec::new(),
        reasons: HashMap::new(),
        cashiers: staff_with(setup, Role::Cashier),
        admins: staff_with(setup, Role::Admin),
    };
    for k in 0..MONTHS {
        let (start, end) = (cal.months[k], cal.months[k + 1]);
        let mut on_first = Vec::new();
        let mut later: Vec<Planned> = Vec::new();
        for (i, s) in model.iter().enumerate() {
            let Some((range, first_issue)) = s.billed(cal) else { continue };
            if !range.contains(&k) {
                continue;
            }
            let issue = if k == range.start { first_issue } else { start };
            let amount = prorate(setup.plans[s.plan].price, days(issue, end), days(start, end));
            let t = tax::apply(amount, &TAX);
            let install = k == range.start && s.start >= cal.start();
            let plan = Planned { sub: i as u32, issue, from: issue, end, net: t.net, tax: t.tax, install };
            if issue == start {
                on_first.push(plan);
            } else {
                later.push(plan);
            }
        }
        later.sort_by_key(|x| (x.issue, x.sub));
        let mut voids = Vec::new();
        p.run(w, log, &on_first, k, &mut voids).await?;
        let mut i = 0;
        while i < later.len() {
            let j = i + later[i..].iter().take_while(|x| x.issue == later[i].issue).count();
            p.run(w, log, &later[i..j], k, &mut voids).await?;
            i = j;
        }
        for v in voids {
            p.credit_note(w, log, v);
            w.tick().await?;
        }
    }
    p.payments(w, log).await?;
    p.pending_charges(w);
    for ((kind, year), n) in &p.seqs.0 {
        w.push(&SEQUENCES, [Arg::I(tenant), Arg::text(*kind), Arg::text(year.to_string()), Arg::I(i64::from(*n) + 1)]);
    }
    let mut reasons: Vec<(u32, String, i64)> = p.reasons.into_iter().map(|(s, (r, at))| (s, r, at)).collect();
    reasons.sort_by_key(|r| r.0);
    Ok(Outcome { reasons })
}

/// A voided invoice waiting for its credit note.
struct Voided {
    sub: u32,
    invoice: i64,
    number: Number,
    date: NaiveDate,
    lines: Vec<[Arg; 14]>,
    totals: (i64, i64),
    reason: &'static str,
}

impl Pass<'_> {
    /// One billing run: its row, then its invoices with their lines and billed periods.
    async fn run(
        &mut self,
        w: &mut Writer,
        log: &mut Log,
        group: &[Planned],
        k: usize,
        voids: &mut Vec<Voided>,
    ) -> Result<()> {
        if group.is_empty() {
            return Ok(());
        }
        let as_of = group[0].issue;
        let at = Calendar::ms(as_of, 2 * 3600);
        let total: i64 = group
            .iter()
            .map(|g| g.net + g.tax + if g.install { tax::apply(INSTALLATION, &TAX).total } else { 0 })
            .sum();
        let run_id = self.ids.run;
        self.ids.run += 1;
        w.push(
            &RUNS,
            [
                Arg::I(run_id),
                Arg::I(self.tenant),
                Arg::text(fmt_date(as_of)),
                Arg::text("system:billing-daily"),
                Arg::I(0),
                Arg::I(group.len() as i64),
                Arg::I(total),
                Arg::I(at),
                Arg::I(at + group.len() as i64 / 50),
            ],
        );
        for (n, g) in group.iter().enumerate() {
            self.invoice(w, log, g, k, run_id, at + n as i64 / 50, voids);
            w.tick().await?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn invoice(
        &mut self,
        w: &mut Writer,
        log: &mut Log,
        g: &Planned,
        k: usize,
        run_id: i64,
        at: i64,
        voids: &mut Vec<Voided>,
    ) {
        let (cal, s, t) = (self.cal, &self.model[g.sub as usize], self.tenant);
        let plan = &self.setup.plans[s.plan];
        let mut rng = Rng::new((u64::from(g.sub) << 8) ^ (k as u64) ^ 0xB111);
        let id = self.ids.invoice;
        self.ids.invoice += 1;
        let number = self.seqs.next("INVOICE", g.issue);
        let due = Calendar::due(g.issue);
        let last = g.end - Duration::days(1);
        let partial = if g.from != cal.months[k] { " (prorated)" } else { "" };
        let mut lines = vec![line(
            t,
            id,
            "SUBSCRIPTION",
            Some(s.id),
            Some(plan.id),
            format!("{} ({}) {} to {}{partial}", plan.name, s.username, g.from, last),
            Some((g.from, g.end)),
            (g.net, g.tax),
        )];
        let (mut net, mut taxes) = (g.net, g.tax);
        if g.install {
            let x = tax::apply(INSTALLATION, &TAX);
            let charge = self.ids.charge;
            self.ids.charge += 1;
            w.push(
                &CHARGES,
                [
                    Arg::I(charge),
                    Arg::I(t),
                    Arg::I(s.customer_id),
                    Arg::I(s.id),
                    Arg::text("ONE_OFF"),
                    Arg::text("Instalação"),
                    Arg::I(INSTALLATION),
                    Arg::text("standard"),
                    Arg::I(id),
                    Arg::I(s.created_at),
                ],
            );
            lines.push(line(t, id, "ONE_OFF", Some(s.id), None, "Instalação".into(), None, (x.net, x.tax)));
            net += x.net;
            taxes += x.tax;
        }
        let total = net + taxes;

        // Who pays what, and when.
        let stopped = matches!(s.payer, Payer::Stopped(u) if k >= u);
        let void = !stopped && s.payer == Payer::Good && rng.chance(0.003) && g.issue + Duration::days(5) <= cal.today;
        let mut paid = 0;
        let mut updated = at;
        let mut void_reason = None;
        let status;
        if void {
            status = InvoiceStatus::Void;
            let date = g.issue + Duration::days(rng.range(1, 5));
            let reason = *rng.pick(VOID_REASONS);
            void_reason = Some(reason);
            voids.push(Voided {
                sub: g.sub,
                invoice: id,
                number,
                date,
                lines: lines.clone(),
                totals: (net, taxes),
                reason,
            });
            updated = Calendar::ms(date, 10 * 3600);
        } else {
            let mut pay_on = g.issue + Duration::days(*rng.skewed(&PAY_DAYS));
            if s.payer == Payer::Late && rng.chance(0.3) {
                pay_on = due + Duration::days(rng.range(1, 20));
            }
            if pay_on >= cal.today && due + Duration::days(SUSPEND_AFTER_DAYS) <= cal.today {
                // Dunning would have suspended them by now: they paid yesterday, late.
                pay_on = cal.today - Duration::days(1);
            }
            let secs = rng.range(8 * 3600, 20 * 3600);
            if !stopped && pay_on <= cal.today && (pay_on < cal.today || Calendar::ms(pay_on, secs) <= cal.now) {
                paid = total;
                updated = Calendar::ms(pay_on, secs);
                self.intents.push(Intent { date: pay_on, secs, sub: g.sub, invoice: id, amount: total });
                if pay_on > due + Duration::days(SUSPEND_AFTER_DAYS) {
                    self.episode(log, g.sub, id, number, due, updated);
                }
            } else if rng.chance(if stopped { 0.2 } else { 0.08 }) {
                let on = (g.issue + Duration::days(rng.range(0, 6))).min(cal.today - Duration::days(1)).max(g.issue);
                if on < cal.today {
                    paid = total / 2;
                    updated = Calendar::ms(on, secs);
                    self.intents.push(Intent { date: on, secs, sub: g.sub, invoice: id, amount: paid });
                }
            }
            status = settle(total, paid, due, 0, cal.today);
            if status == InvoiceStatus::Overdue || pay_on > due || stopped {
                let on = due + Duration::days(1);
                if on <= cal.today && (paid < total || pay_on > due) {
                    let at = Calendar::ms(on, 3 * 3600);
                    log.dunning.push(DunningEvent { at, sub: g.sub, invoice_id: id, with_sub: false, kind: "OVERDUE" });
                }
            }
            if matches!(s.payer, Payer::Stopped(u) if u == k) && s.status.as_str() == "SUSPENDED" {
                self.suspend(log, g.sub, id, number, due);
            }
        }
        w.push(
            &INVOICES,
            [
                Arg::I(id),
                Arg::I(t),
                Arg::I(s.customer_id),
                Arg::text("INVOICE"),
                Arg::text(render("INV", number)),
                Arg::text(status.as_str()),
                Arg::text(fmt_date(g.issue)),
                Arg::text(fmt_date(due)),
                Arg::I(net),
                Arg::I(taxes),
                Arg::I(total),
                Arg::I(paid),
                Arg::NullI,
                void_reason.map_or(Arg::NullT, Arg::text),
                Arg::I(run_id),
                Arg::I(at),
                Arg::I(updated),
            ],
        );
        for l in lines {
            self.push_line(w, l);
        }
        w.push(
            &BILLED,
            [
                Arg::I(t),
                Arg::I(s.id),
                Arg::text(fmt_date(g.from)),
                Arg::text(fmt_date(g.end)),
                Arg::I(plan.id),
                Arg::I(id),
            ],
        );
    }

    fn push_line(&mut self, w: &mut Writer, mut l: [Arg; 14]) {
        l[0] = Arg::I(self.ids.line);
        self.ids.line += 1;
        w.push(&LINES, l);
    }

    /// Dunning suspended the subscription for invoice `id` a week after `due`, and a payment
    /// at `paid_at` reactivated it.
    fn episode(&mut self, log: &mut Log, sub: u32, id: i64, number: Number, due: NaiveDate, paid_at: i64) {
        let at = self.suspend(log, sub, id, number, due);
        if paid_at <= at {
            return;
        }
        let day = chrono::DateTime::from_timestamp_millis(paid_at).expect("valid").date_naive();
        let reason = format!("dunning: paid {}", fmt_date(day));
        log.dunning.push(DunningEvent { at: paid_at, sub, invoice_id: id, with_sub: true, kind: "REACTIVATED" });
        let jobs = self.jobs_of(sub, false);
        log.jobs.push(JobEvent { at: paid_at, sub, why: JobWhy::Reactivation });
        log.audit.push(AuditEvent {
            at: paid_at,
            staff: None,
            system: "billing-daily",
            sub,
            act: Act::Status("SUSPENDED", "ACTIVE", reason.clone(), jobs),
        });
        self.reasons.insert(sub, (reason, paid_at));
    }

    /// Dunning's suspension for invoice `id`, a week after `due`; returns when.
    fn suspend(&mut self, log: &mut Log, sub: u32, id: i64, number: Number, due: NaiveDate) -> i64 {
        let at = Calendar::ms(due + Duration::days(SUSPEND_AFTER_DAYS), 3 * 3600);
        let reason = format!("dunning: invoice {} overdue", render("INV", number));
        log.dunning.push(DunningEvent { at, sub, invoice_id: id, with_sub: true, kind: "SUSPENDED" });
        let jobs = self.jobs_of(sub, true);
        log.jobs.push(JobEvent { at, sub, why: JobWhy::Dunning });
        log.audit.push(AuditEvent {
            at,
            staff: None,
            system: "billing-daily",
            sub,
            act: Act::Status("ACTIVE", "SUSPENDED", reason.clone(), jobs),
        });
        self.reasons.insert(sub, (reason, at));
        at
    }

    /// How many jobs a suspension (or resumption) of `sub` enqueues (see `ops::job_rows`).
    fn jobs_of(&self, sub: u32, suspend: bool) -> u32 {
        let s = &self.model[sub as usize];
        let device = s.device_id.is_some() && (s.onu.is_some() || s.static_ip.is_some());
        u32::from(suspend && s.radius()) + u32::from(device)
    }

    /// The credit note reversing a voided invoice, issued on the day it was voided.
    fn credit_note(&mut self, w: &mut Writer, log: &mut Log, v: Voided) {
        let s = &self.model[v.sub as usize];
        let id = self.ids.invoice;
        self.ids.invoice += 1;
        let number = self.seqs.next("CREDIT_NOTE", v.date);
        let at = Calendar::ms(v.date, 10 * 3600);
        let (net, taxes) = v.totals;
        w.push(
            &INVOICES,
            [
                Arg::I(id),
                Arg::I(self.tenant),
                Arg::I(s.customer_id),
                Arg::text("CREDIT_NOTE"),
                Arg::text(render("CN", number)),
                Arg::text("ISSUED"),
                Arg::text(fmt_date(v.date)),
                Arg::text(fmt_date(v.date)),
                Arg::I(-net),
                Arg::I(-taxes),
                Arg::I(-(net + taxes)),
                Arg::I(0),
                Arg::I(v.invoice),
                Arg::NullT,
                Arg::NullI,
                Arg::I(at),
                Arg::I(at),
            ],
        );
        for mut l in v.lines {
            l[2] = Arg::I(id);
            for c in [9, 10, 11] {
                if let Arg::I(x) = l[c] {
                    l[c] = Arg::I(-x);
                }
            }
            self.push_line(w, l);
        }
        let admin = self.admins[v.invoice as usize % self.admins.len()];
        let reason = v.reason;
        log.audit.push(AuditEvent {
            at,
            staff: Some(admin),
            system: "",
            sub: v.sub,
            act: Act::Void(v.invoice, v.number, number, reason),
        });
    }

    /// Payments in the order they arrived: one per customer and moment, allocated to the
    /// invoices it paid, with receipts numbered in that order.
    async fn payments(&mut self, w: &mut Writer, log: &mut Log) -> Result<()> {
        let mut intents = std::mem::take(&mut self.intents);
        intents.sort_by_key(|x| (x.date, x.secs, x.sub, x.invoice));
        let t = self.tenant;
        let mut i = 0;
        while i < intents.len() {
            let head = &intents[i];
            let j = i + intents[i..]
                .iter()
                .take_while(|x| (x.date, x.secs, x.sub) == (head.date, head.secs, head.sub))
                .count();
            let s = &self.model[head.sub as usize];
            let id = self.ids.payment;
            self.ids.payment += 1;
            let receipt = self.seqs.next("RECEIPT", head.date);
            let at = Calendar::ms(head.date, head.secs);
            let amount: i64 = intents[i..j].iter().map(|x| x.amount).sum();
            let reference = match s.method {
                PaymentMethod::BankTransfer => Arg::text(format!("TED {:010}", id * 7919 % 10_000_000_000)),
                PaymentMethod::Card => Arg::text(format!("NSU {:06}", id * 104_729 % 1_000_000)),
                PaymentMethod::Gateway => {
                    Arg::text(format!("ch_{:016x}", (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)))
                }
                PaymentMethod::Cash => Arg::NullT,
            };
            w.push(
                &PAYMENTS,
                [
                    Arg::I(id),
                    Arg::I(t),
                    Arg::I(s.customer_id),
                    Arg::text(s.method.as_str()),
                    reference,
                    Arg::I(amount),
                    Arg::I(0),
                    Arg::text(render("RCT", receipt)),
                    Arg::text(fmt_date(head.date)),
                    Arg::I(at),
                ],
            );
            for x in &intents[i..j] {
                w.push(
                    &ALLOCATIONS,
                    [
                        Arg::I(self.ids.allocation),
                        Arg::I(t),
                        Arg::I(id),
                        Arg::I(x.invoice),
                        Arg::I(x.amount),
                        Arg::I(at),
                    ],
                );
                self.ids.allocation += 1;
            }
            let (staff, system) = if s.method == PaymentMethod::Gateway {
                w.push(
                    &GATEWAY,
                    [Arg::I(t), Arg::text("pagarme"), Arg::text(format!("evt_{id:012}")), Arg::I(id), Arg::I(at)],
                );
                (None, "webhook:pagarme")
            } else {
                (Some(self.cashiers[id as usize % self.cashiers.len()]), "")
            };
            log.audit.push(AuditEvent { at, staff, system, sub: head.sub, act: Act::Payment(id, amount, receipt) });
            w.tick().await?;
            i = j;
        }
        Ok(())
    }

    /// Technician visits and router swaps waiting for the next invoice (one customer in 100).
    fn pending_charges(&mut self, w: &mut Writer) {
        for (i, s) in self.model.iter().enumerate() {
            if s.status.as_str() != "ACTIVE" || i % 100 != 37 {
                continue;
            }
            let (what, amount) = if i % 200 == 37 { ("Visita técnica", 3_500) } else { ("Troca de roteador", 12_000) };
            let at = self.cal.now - (i as i64 % 20 + 1) * 86_400_000;
            w.push(
                &CHARGES,
                [
                    Arg::I(self.ids.charge),
                    Arg::I(self.tenant),
                    Arg::I(s.customer_id),
                    Arg::I(s.id),
                    Arg::text("ONE_OFF"),
                    Arg::text(what),
                    Arg::I(amount),
                    Arg::text("standard"),
                    Arg::NullI,
                    Arg::I(at.max(s.created_at)),
                ],
            );
            self.ids.charge += 1;
        }
    }
}

/// An invoice line (its id is filled in when it is written).
#[allow(clippy::too_many_arguments)]
fn line(
    t: i64,
    invoice: i64,
    kind: &'static str,
    sub: Option<i64>,
    plan: Option<i64>,
    description: String,
    period: Option<(NaiveDate, NaiveDate)>,
    (net, tax): (i64, i64),
) -> [Arg; 14] {
    let date = |d: Option<NaiveDate>| d.map_or(Arg::NullT, |d| Arg::text(fmt_date(d)));
    [
        Arg::I(0),
        Arg::I(t),
        Arg::I(invoice),
        Arg::text(kind),
        sub.map_or(Arg::NullI, Arg::I),
        plan.map_or(Arg::NullI, Arg::I),
        Arg::text(description),
        date(period.map(|p| p.0)),
        date(period.map(|p| p.1)),
        Arg::I(net),
        Arg::I(tax),
        Arg::I(net + tax),
        Arg::I(TAX.bp),
        Arg::I(i64::from(TAX.inclusive)),
    ]
}
