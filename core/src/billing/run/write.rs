//! Writing a chunk's invoices: every row is computed once here, then written as multi-row
//! INSERTs (`super::exec`). What is the same for the whole chunk (tenant, run, dates,
//! timestamps, constant columns) is written into the statement as an SQL literal, never user
//! text, so each row binds only what differs.

use super::exec::{insert, insert_ids, Insert};
use super::{int_args, ChunkJob, PlannedInvoice, PlannedLine};
use crate::billing::settings::BillingSettings;
use crate::billing::{fmt_date, numbering, settlement, sum_minor, InvoiceStatus};
use crate::db::{Arg, Encode, Sql, Tx, Value};
use crate::error::{CoreError, CoreResult};
use crate::notify;
use crate::store::notifications::{NewNotification, NotifyEvent};
use chrono::{Duration, NaiveDate};
use std::collections::HashMap;

/// Adds a chunk to its run's totals.
const RUN_UPDATE_SQL: &str = "UPDATE billing_runs SET invoices = invoices + $1, total_minor = total_minor + $2, \
     finished_at = $3 WHERE tenant_id = $4 AND id = $5";

/// Creates a run's row with its first chunk.
const RUN_INSERT_SQL: &str = "INSERT INTO billing_runs (tenant_id, as_of, actor, drafts, invoices, total_minor, \
     started_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id";

/// The `details` of an `invoice.create` audit entry (keys in the order `serde_json` sorts them).
#[derive(serde::Serialize)]
struct AuditDetails<'a> {
    #[serde(rename = "asOf")]
    as_of: &'a str,
    #[serde(rename = "billingRun")]
    billing_run: i64,
    draft: bool,
    lines: usize,
    number: Option<&'a str>,
    total: i64,
}

/// Each distinct date of a chunk formatted once (a chunk's lines share a few periods).
#[derive(Default)]
struct Dates {
    index: HashMap<NaiveDate, usize>,
    text: Vec<String>,
}

impl Dates {
    fn id(&mut self, d: NaiveDate) -> usize {
        *self.index.entry(d).or_insert_with(|| {
            self.text.push(fmt_date(d));
            self.text.len() - 1
        })
    }

    fn get(&self, id: Option<usize>) -> Option<&str> {
        id.map(|i| self.text[i].as_str())
    }
}

/// Writes a chunk's invoices (issued, or drafts) with their lines, billed periods, charges,
/// credit and audit entries; fills in their ids and numbers. Returns the run's id, creating
/// its `billing_runs` row with the first chunk that writes anything.
pub(super) async fn write(
    x: &mut Tx,
    job: &ChunkJob,
    s: &BillingSettings,
    invs: &mut [PlannedInvoice],
) -> CoreResult<i64> {
    let actor = &job.actor;
    let (t, now, as_of) = (actor.tenant_id, job.now, job.as_of);
    let drafts = s.draft_invoices != 0;
    let count = invs.len() as i64;
    let total = sum_minor("billing run total", invs.iter().map(|i| i.total))?;
    let run_id = match job.run_id {
        Some(id) => {
            x.execute(RUN_UPDATE_SQL, &[Arg::I(count), Arg::I(total), Arg::I(now), Arg::I(t), Arg::I(id)]).await?;
            id
        }
        None => {
            let args = [
                Arg::I(t),
                Arg::text(fmt_date(as_of)),
                Arg::text(actor.name.clone()),
                Arg::I(i64::from(drafts)),
                Arg::I(count),
                Arg::I(total),
                Arg::I(now),
            ];
            let row: Option<(i64,)> = x.fetch_optional(RUN_INSERT_SQL, &args).await?;
            row.ok_or_else(|| CoreError::internal("the billing run row was not created"))?.0
        }
    };
    if !drafts {
        let scope = numbering::scope(&s.invoice_template, as_of);
        let args = [Arg::I(t), Arg::text("INVOICE"), Arg::text(scope), Arg::I(count)];
        let row: Option<(i64,)> = x.fetch_optional(numbering::RESERVE_SQL, &args).await?;
        let first = numbering::checked_first(row.map(|r| r.0))?;
        for (i, inv) in invs.iter_mut().enumerate() {
            inv.number = Some(numbering::render(&s.invoice_template, as_of, first + i as i64));
        }
    }

    // Invoices: issue and due dates are the chunk's (one as-of date, one payment term).
    let (issue, due) = (as_of, as_of + Duration::days(s.payment_terms_days));
    if invs.iter().any(|i| i.issue_date != issue || i.due_date != due) {
        return Err(CoreError::internal("a chunk's invoices must share their issue and due dates"));
    }
    let ins = Insert {
        head:
            "INSERT INTO invoices (tenant_id, customer_id, kind, number, status, issue_date, due_date, subtotal_minor, \
               tax_minor, total_minor, paid_minor, billing_run_id, created_at, updated_at) VALUES ",
        row: format!("({t}, ?, 'INVOICE', ?, ?, '{issue}', '{due}', ?, ?, ?, 0, {run_id}, {now}, {now})"),
        tail: "",
        returning: " RETURNING id, customer_id",
    };
    let rows: Vec<[Value<'_>; 6]> = invs
        .iter()
        .map(|inv| {
            let status = match (drafts, inv.total <= 0) {
                (true, _) => InvoiceStatus::Draft,
                (false, true) => InvoiceStatus::Paid,
                (false, false) => InvoiceStatus::Issued,
            };
            [
                Value::I(inv.customer_id),
                Value::from_opt_t(inv.number.as_deref()),
                Value::text(status.as_str()),
                Value::I(inv.subtotal),
                Value::I(inv.tax),
                Value::I(inv.total),
            ]
        })
        .collect();
    // One invoice per customer and chunk, so the customer (column 0) names the row.
    let ids = insert_ids(x, &ins, &rows, 0).await?;
    drop(rows);
    for (inv, id) in invs.iter_mut().zip(ids) {
        inv.invoice_id = Some(id);
    }

    // Lines and billed periods, with each date formatted once.
    let mut dates = Dates::default();
    let lines: Vec<(i64, &PlannedLine, [Option<usize>; 3])> = invs
        .iter()
        .flat_map(|i| i.lines.iter().map(move |l| (i.invoice_id.unwrap_or_default(), l)))
        .map(|(id, l)| {
            let start = l.period_start.map(|d| dates.id(d));
            let last = l.period_end.map(|d| dates.id(d - Duration::days(1)));
            let end = l.period_end.map(|d| dates.id(d));
            (id, l, [start, last, end])
        })
        .collect();
    let ins = Insert {
        head: "INSERT INTO invoice_lines (tenant_id, invoice_id, kind, subscription_id, plan_id, description, \
               period_start, period_end, net_minor, tax_minor, total_minor, tax_rate_bp, tax_inclusive) VALUES ",
        row: format!("({t}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
        tail: "",
        returning: "",
    };
    let rows: Vec<[Value<'_>; 12]> = lines
        .iter()
        .map(|(id, l, [start, last, _])| {
            [
                Value::I(*id),
                Value::text(l.kind.as_str()),
                Value::from_opt_i(l.subscription_id),
                Value::from_opt_i(l.plan_id),
                Value::text(l.description.as_str()),
                Value::from_opt_t(dates.get(*start)),
                Value::from_opt_t(dates.get(*last)),
                Value::I(l.net),
                Value::I(l.tax),
                Value::I(l.total),
                Value::I(l.rate.bp),
                Value::I(i64::from(l.rate.inclusive)),
            ]
        })
        .collect();
    insert(x, &ins, &rows).await?;
    drop(rows);
    let ins = Insert {
        head: "INSERT INTO billed_periods (tenant_id, subscription_id, period_start, period_end, plan_id, invoice_id) \
               VALUES ",
        row: format!("({t}, ?, ?, ?, ?, ?)"),
        tail: " ON CONFLICT (tenant_id, subscription_id, period_start) DO NOTHING",
        returning: "",
    };
    let rows: Vec<[Value<'_>; 5]> = lines
        .iter()
        .filter_map(|(id, l, [start, _, end])| {
            Some([
                Value::I(l.subscription_id?),
                Value::text(dates.get(*start)?),
                Value::text(dates.get(*end)?),
                Value::I(l.plan_id?),
                Value::I(*id),
            ])
        })
        .collect();
    // The primary key, not this process, decides: a cycle billed meanwhile fails the chunk.
    if insert(x, &ins, &rows).await? != rows.len() as u64 {
        return Err(CoreError::conflict("period", "a cycle of this chunk was billed meanwhile"));
    }
    drop(rows);
    drop(lines);

    for inv in invs.iter() {
        let charged: Vec<i64> = inv.lines.iter().filter_map(|l| l.charge_id).collect();
        if charged.is_empty() {
            continue;
        }
        let mut sql = Sql::new("UPDATE charges SET invoice_id = ");
        sql.arg(Arg::I(inv.invoice_id.unwrap_or_default())).push(" WHERE invoice_id IS NULL AND tenant_id = ");
        sql.arg(Arg::I(t)).push(" AND id IN ").in_list(&charged);
        if x.execute(sql.text(), sql.args()).await? != charged.len() as u64 {
            return Err(CoreError::conflict("period", "a charge of this chunk was billed meanwhile"));
        }
    }
    if !drafts {
        apply_credit(x, t, s, invs, now, as_of).await?;
    }

    let user = if actor.user_id != 0 { actor.user_id.to_string() } else { "NULL".into() };
    let ins = Insert {
        head:
            "INSERT INTO audit_log (tenant_id, user_id, actor, action, object_type, object_id, details, ip, at) VALUES ",
        row: format!("({t}, {user}, ?, 'invoice.create', 'Invoice', ?, ?, ?, {now})"),
        tail: "",
        returning: "",
    };
    let as_of_text = fmt_date(as_of);
    let details = invs
        .iter()
        .map(|inv| {
            serde_json::to_string(&AuditDetails {
                as_of: &as_of_text,
                billing_run: run_id,
                draft: drafts,
                lines: inv.lines.len(),
                number: inv.number.as_deref(),
                total: inv.total,
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CoreError::internal(format!("audit details: {e}")))?;
    let rows: Vec<[Value<'_>; 4]> = invs
        .iter()
        .zip(&details)
        .map(|(inv, d)| {
            [
                Value::text(actor.name.as_str()),
                Value::I(inv.invoice_id.unwrap_or_default()),
                Value::text(d),
                Value::from_opt_t(actor.ip.as_deref()),
            ]
        })
        .collect();
    insert(x, &ins, &rows).await?;
    drop(rows);
    if !drafts {
        queue_notifications(x, t, invs, now).await?;
    }
    Ok(run_id)
}

/// Queues the messages of the chunk's issued invoices (see [`crate::notify`]) in its
/// transaction, as multi-row INSERTs: an invoice and its email commit together.
async fn queue_notifications(x: &mut Tx, t: i64, invs: &[PlannedInvoice], now: i64) -> CoreResult<()> {
    let enabled = notify::enabled_channels(x, t).await?;
    if enabled.is_empty() {
        return Ok(());
    }
    let msgs: Vec<NewNotification> = invs
        .iter()
        .filter(|i| i.total > 0)
        .flat_map(|inv| {
            let id = inv.invoice_id.unwrap_or_default();
            let vars = serde_json::json!({ "invoice_id": id });
            notify::messages(&enabled, inv.customer_id, NotifyEvent::InvoiceIssued, &vars, &format!("invoice:{id}"))
        })
        .collect();
    let ins = Insert {
        head: "INSERT INTO notifications (tenant_id, customer_id, event, channel, urgent, vars, idempotency_key, \
               status, attempts, next_attempt_at, created_at, updated_at) VALUES ",
        row: format!("({t}, ?, ?, ?, ?, ?, ?, 'QUEUED', 0, {now}, {now}, {now})"),
        tail: " ON CONFLICT (tenant_id, idempotency_key) DO NOTHING",
        returning: "",
    };
    let rows: Vec<[Value<'_>; 6]> = msgs
        .iter()
        .map(|m| {
            [
                Value::I(m.customer_id),
                Value::text(m.event.as_str()),
                Value::text(m.channel.as_str()),
                Value::I(i64::from(m.urgent)),
                Value::text(m.vars.as_str()),
                Value::text(m.idempotency_key.as_str()),
            ]
        })
        .collect();
    insert(x, &ins, &rows).await?;
    Ok(())
}

/// Pays the chunk's new invoices from their customers' credit (overpayments, released
/// allocations), oldest payment first, as [`payments::apply_credit`] does for one invoice.
async fn apply_credit(
    x: &mut Tx,
    t: i64,
    s: &BillingSettings,
    invs: &[PlannedInvoice],
    now: i64,
    today: NaiveDate,
) -> CoreResult<()> {
    let owing: Vec<i64> = invs.iter().filter(|i| i.total > 0).map(|i| i.customer_id).collect();
    if owing.is_empty() {
        return Ok(());
    }
    let with_credit: Vec<(i64,)> =
        x.fetch_all(&crate::billing::credit_sql(x.backend(), t, owing.len()), &int_args(&owing)).await?;
    if with_credit.is_empty() {
        return Ok(());
    }
    for inv in invs.iter().filter(|i| i.total > 0 && with_credit.iter().any(|c| c.0 == i.customer_id)) {
        let id = inv.invoice_id.unwrap_or_default();
        let available: Vec<(i64, i64)> =
            x.fetch_all(settlement::AVAILABLE_SQL, &[Arg::I(t), Arg::I(inv.customer_id)]).await?;
        let mut paid = 0;
        for (payment, take) in settlement::credit_takes(inv.total, &available) {
            let args = [Arg::I(t), Arg::I(payment), Arg::I(id), Arg::I(take), Arg::I(now)];
            x.execute(settlement::ALLOCATE_SQL, &args).await?;
            paid += take;
        }
        if paid > 0 {
            let status = settlement::settle(inv.total, paid, inv.due_date, s.overdue_after_days, today);
            let args = [Arg::I(paid), status.encode(), Arg::I(now), Arg::I(t), Arg::I(id)];
            x.execute(settlement::SETTLE_SQL, &args).await?;
        }
    }
    Ok(())
}
