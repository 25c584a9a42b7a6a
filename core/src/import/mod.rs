//! Bulk import of customers with their subscriptions from CSV or spreadsheet files, shared
//! by the CLI (`isp import customers`) and GraphQL (`importCustomers`).
//!
//! A file is read into text cells ([`source`]), its headers mapped to fields ([`mapping`]),
//! each row checked with the rules of `createCustomer` / `createSubscription` ([`rows`]), and
//! the valid rows written as one import ([`commit`]): a dry run stops after the report. The
//! formats of the systems ISPs move from are turned into the generic table first ([`legacy`]).

pub mod commit;
pub mod legacy;
pub mod mapping;
pub mod rows;
pub mod source;

use crate::auth::{Action, Actor};
use crate::effects::Effects;
use crate::error::{CoreError, CoreResult};
use crate::events::EventKind;
use crate::store::imports::{self, Import, ImportStatus, OnDuplicate};
use crate::store::subscriptions::PASSWORD_CONTEXT;
use crate::store::tenants;
use crate::Ctx;
use mapping::Mapping;
use rows::{Judge, Judged, Known};
use serde::Serialize;
use serde_json::json;
use source::{CsvOptions, Limits};
use std::sync::Arc;

pub use commit::Progress;

/// A bad (or skipped) row: its number in the file, the column, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// Row number as the file shows it (the header is row 1).
    pub row: usize,
    /// Header of the column (empty when the whole row is concerned).
    pub column: String,
    /// Reason.
    pub reason: String,
}

/// What an import found (and, unless a dry run, wrote).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Data rows in the file.
    pub rows: usize,
    /// Rows that create a customer with a subscription.
    pub to_create: usize,
    /// Rows that update an existing one (duplicate policy UPDATE).
    pub to_update: usize,
    /// Duplicate rows skipped (duplicate policy SKIP).
    pub skipped: usize,
    /// Bad rows, each named in `errors`.
    pub bad: usize,
    /// Rows whose login is already in the tenant or on an earlier row (skipped, updated or
    /// bad as the duplicate policy says).
    pub duplicates: usize,
    /// Every bad row.
    pub errors: Vec<RowError>,
    /// Every skipped row.
    pub skipped_rows: Vec<RowError>,
    /// Headers no field was matched to (ignored).
    pub ignored_columns: Vec<String>,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// The import written (or being written), unless a dry run.
    pub import_id: Option<i64>,
}

impl Report {
    /// The bad and skipped rows as CSV (`row,column,reason,outcome`), for a spreadsheet.
    pub fn errors_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record(["row", "column", "reason", "outcome"]);
        let mut all: Vec<(&RowError, &str)> = self.errors.iter().map(|e| (e, "error")).collect();
        all.extend(self.skipped_rows.iter().map(|e| (e, "skipped")));
        all.sort_by_key(|(e, _)| e.row);
        for (e, outcome) in all {
            let row = e.row.to_string();
            // Spreadsheet programs run cells starting with these as formulas.
            let safe = |s: &str| if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_string() };
            let _ = w.write_record([row.as_str(), &safe(&e.column), &safe(&e.reason), outcome]);
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }
}

/// Which system wrote the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    /// Any table with a header row (the automatic mapping plus the mapping file).
    #[default]
    Generic,
    /// phpNuxBill's `tbl_customers` export, with `tbl_user_recharges` as an extra file.
    PhpNuxBill,
    /// daloRADIUS / FreeRADIUS `radcheck`, with `userinfo` and `radusergroup` as extra files.
    Radius,
}

/// One uploaded file.
#[derive(Debug, Clone)]
pub struct Upload {
    /// File name (its extension tells CSV from spreadsheets).
    pub name: String,
    /// Contents.
    pub bytes: Vec<u8>,
}

/// An import request.
#[derive(Debug, Clone)]
pub struct Request {
    /// The file.
    pub file: Upload,
    /// Extra files of a legacy format (recharges, userinfo, radusergroup).
    pub extra: Vec<Upload>,
    /// Source system.
    pub format: Format,
    /// Explicit mapping.
    pub mapping: Mapping,
    /// Duplicate policy.
    pub on_duplicate: OnDuplicate,
    /// Validate only.
    pub dry_run: bool,
    /// Size limits.
    pub limits: Limits,
}

impl Request {
    /// A generic import of `file` with the default mapping, SKIP, and the default limits.
    pub fn new(name: &str, bytes: Vec<u8>) -> Self {
        Self {
            file: Upload { name: name.to_string(), bytes },
            extra: Vec::new(),
            format: Format::Generic,
            mapping: Mapping::default(),
            on_duplicate: OnDuplicate::Skip,
            dry_run: false,
            limits: Limits::default(),
        }
    }
}

/// The valid rows of a checked file and its report.
struct Checked {
    creates: Vec<rows::Create>,
    updates: Vec<rows::Update>,
    report: Report,
}

async fn known(ctx: &Ctx, tenant_id: i64) -> CoreResult<Known> {
    let tenant = tenants::get(&ctx.db, tenant_id).await?;
    let mut k = Known { exponent: crate::validate::currency_exponent(&tenant.currency), ..Known::default() };
    for p in imports::plans(&ctx.db, tenant_id).await? {
        k.plans_by_name.insert(p.name.to_lowercase(), p.clone());
        k.plans_by_id.insert(p.id, p);
    }
    for s in imports::existing_logins(&ctx.db, tenant_id).await? {
        if let Some(ip) = &s.static_ipv4 {
            k.ips.insert(ip.clone(), (s.id, s.username.clone()));
        }
        k.logins.insert(s.username.clone(), s);
    }
    k.accounts = imports::existing_accounts(&ctx.db, tenant_id).await?.into_iter().map(|(id, n)| (n, id)).collect();
    Ok(k)
}

/// Reads and checks every row of the request (the dry run).
async fn check(ctx: &Ctx, actor: &Actor, req: Request) -> CoreResult<Checked> {
    let known = known(ctx, actor.tenant_id).await?;
    let c = ctx.clone();
    // Parsing and checking are CPU work: off the async workers.
    let mut checked = tokio::task::spawn_blocking(move || check_sync(&c, req, &known))
        .await
        .map_err(|e| CoreError::internal_from("import check", e))??;
    // Updates are checked against the records they overwrite.
    let mut still = Vec::with_capacity(checked.updates.len());
    for u in std::mem::take(&mut checked.updates) {
        let cust = crate::store::customers::get(&ctx.db, actor.tenant_id, u.customer_id).await?;
        let sub = crate::store::subscriptions::get(&ctx.db, actor.tenant_id, u.subscription_id).await?;
        let encrypt = |pw: &str| ctx.secrets.cipher.encrypt(PASSWORD_CONTEXT, pw);
        let res = u.customer.checked(Some(&cust)).and_then(|_| {
            let f = crate::workflows::subscriptions::check_fields(&u.sub, Some(&sub), &encrypt)?;
            Ok(f)
        });
        match res {
            Ok(_) => still.push(u),
            Err(e) => {
                let (field, message) = match e {
                    CoreError::Validation { field, message } => (field, message),
                    other => (String::new(), other.to_string()),
                };
                checked.report.errors.push(RowError { row: u.line, column: field, reason: message });
            }
        }
    }
    checked.updates = still;
    checked.report.errors.sort_by_key(|e| e.row);
    checked.report.to_update = checked.updates.len();
    checked.report.bad = checked.report.errors.len();
    Ok(checked)
}

fn check_sync(ctx: &Ctx, req: Request, known: &Known) -> CoreResult<Checked> {
    let m = &req.mapping;
    let opts = CsvOptions { encoding: m.encoding.clone(), delimiter: m.delimiter_byte()?, sheet: m.sheet.clone() };
    let mut table = source::read(&req.file.name, &req.file.bytes, &opts, &req.limits)?;
    let extra: Vec<source::Table> = req
        .extra
        .iter()
        .map(|u| source::read(&u.name, &u.bytes, &CsvOptions { sheet: None, ..opts.clone() }, &req.limits))
        .collect::<CoreResult<_>>()?;
    table = match req.format {
        Format::Generic => table,
        Format::PhpNuxBill => legacy::phpnuxbill(table, extra)?,
        Format::Radius => legacy::radius(table, extra)?,
    };
    let fields = m.resolve(&table.headers)?;
    let encrypt = |pw: &str| ctx.secrets.cipher.encrypt(PASSWORD_CONTEXT, pw);
    let mut judge = Judge::new(&table, &fields, known, &m.defaults, req.on_duplicate, &encrypt);
    let mut out = Checked { creates: Vec::new(), updates: Vec::new(), report: Report::default() };
    out.report.rows = table.rows.len();
    out.report.dry_run = req.dry_run;
    out.report.ignored_columns =
        table.headers.iter().zip(&fields).filter(|(_, f)| f.is_none()).map(|(h, _)| h.clone()).collect();
    for row in &table.rows {
        match judge.judge(row) {
            Judged::Create(c) => out.creates.push(*c),
            Judged::Update(u) => out.updates.push(*u),
            Judged::Skip(e) => out.report.skipped_rows.push(e),
            Judged::Bad(e) => out.report.errors.push(e),
        }
    }
    out.report.duplicates = judge.duplicates;
    out.report.to_create = out.creates.len();
    out.report.skipped = out.report.skipped_rows.len();
    out.report.bad = out.report.errors.len();
    Ok(out)
}

/// Validates every row and reports, writing nothing.
pub async fn dry_run(ctx: &Ctx, actor: &Actor, mut req: Request) -> CoreResult<Report> {
    actor.require(Action::CustomerImport)?;
    req.dry_run = true;
    Ok(check(ctx, actor, req).await?.report)
}

/// Checks the request and records the import; returns the report and, when there is
/// something to write, the RUNNING import with the work that writes it.
async fn prepare(ctx: &Ctx, actor: &Actor, req: Request) -> CoreResult<(Report, Option<(Import, Checked)>)> {
    actor.require(Action::CustomerImport)?;
    let dry = req.dry_run;
    let on_duplicate = req.on_duplicate;
    let file_name = req.file.name.clone();
    let mut checked = check(ctx, actor, req).await?;
    if dry {
        return Ok((checked.report, None));
    }
    if on_duplicate == OnDuplicate::Fail {
        let dups = checked.report.duplicates;
        if dups > 0 {
            return Err(CoreError::conflict(
                "file",
                format!("{dups} row(s) duplicate existing logins or other rows and the duplicate policy is FAIL; nothing was imported (run a dry run for the list)"),
            ));
        }
    }
    if checked.creates.is_empty() && checked.updates.is_empty() {
        return Ok((checked.report, None));
    }
    let now = ctx.now_ms();
    let total = (checked.creates.len() + checked.updates.len()) as i64;
    let user = (actor.user_id != 0).then_some(actor.user_id);
    let import = imports::insert(
        &ctx.db,
        actor.tenant_id,
        user,
        &actor.name,
        &file_name,
        on_duplicate,
        total,
        checked.report.skipped as i64,
        now,
    )
    .await?;
    checked.report.import_id = Some(import.id);
    Ok((checked.report.clone(), Some((import, checked))))
}

fn audit_details(import: &Import, report: &Report) -> serde_json::Value {
    json!({"file": import.file_name, "rows": report.rows, "bad": report.bad, "skipped": report.skipped,
        "onDuplicate": import.on_duplicate})
}

/// Checks and writes an import, waiting for it (the CLI); `progress` hears (done, total).
pub async fn run(ctx: &Ctx, actor: &Actor, req: Request, progress: Progress) -> CoreResult<(Report, Option<Import>)> {
    let (report, work) = prepare(ctx, actor, req).await?;
    let Some((import, checked)) = work else { return Ok((report, None)) };
    let details = audit_details(&import, &report);
    commit::write(ctx, actor, import.id, checked.creates, checked.updates, details, progress).await?;
    let import = imports::get(&ctx.db, actor.tenant_id, import.id).await?;
    Ok((report, Some(import)))
}

/// Checks an import and writes it in the background (the API): returns the report and the
/// RUNNING import, whose progress `get` / `list` and the IMPORT change show.
pub async fn start(ctx: &Ctx, actor: &Actor, req: Request) -> CoreResult<(Report, Option<Import>)> {
    let (report, work) = prepare(ctx, actor, req).await?;
    let Some((import, checked)) = work else { return Ok((report, None)) };
    let details = audit_details(&import, &report);
    let (c, a, id) = (ctx.clone(), actor.clone(), import.id);
    tokio::spawn(async move {
        let quiet: Progress = Arc::new(|_, _| {});
        if let Err(e) = commit::write(&c, &a, id, checked.creates, checked.updates, details, quiet).await {
            tracing::warn!(import = id, tenant = a.tenant_id, error = %e.chain(), "import failed and was removed");
        }
    });
    Ok((report, Some(import)))
}

/// Import `id` of the actor's tenant.
pub async fn get(ctx: &Ctx, actor: &Actor, id: i64) -> CoreResult<Import> {
    actor.require(Action::CustomerImport)?;
    imports::get(&ctx.db, actor.tenant_id, id).await
}

/// The actor's tenant's latest imports.
pub async fn list(ctx: &Ctx, actor: &Actor, limit: i64) -> CoreResult<Vec<Import>> {
    actor.require(Action::CustomerImport)?;
    imports::list(&ctx.db, actor.tenant_id, limit.clamp(1, 500)).await
}

/// Removes every customer and subscription import `id` created (refused once they are in
/// use, or when the import updated existing records, which it cannot restore).
pub async fn rollback(ctx: &Ctx, actor: &Actor, id: i64) -> CoreResult<Import> {
    actor.require(Action::CustomerImport)?;
    let t = actor.tenant_id;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let import = imports::get(&mut tx, t, id).await?;
    if import.status != ImportStatus::Done {
        return Err(CoreError::conflict("id", format!("a {} import cannot be rolled back", import.status)));
    }
    if import.updated > 0 {
        return Err(CoreError::conflict(
            "id",
            "this import updated existing records, which a rollback cannot restore; fix them by hand",
        ));
    }
    let (customers, subscriptions) = imports::delete_created(&mut tx, t, id).await?;
    imports::finish(&mut tx, t, id, ImportStatus::RolledBack, None, now).await?;
    Effects::new(ctx, actor, now)
        .audit("import.rollback", "Import", Some(id), json!({"customers": customers, "subscriptions": subscriptions}))
        .event(EventKind::ImportChanged, id)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    imports::get(&ctx.db, t, id).await
}

#[cfg(test)]
mod tests;
