//! Bulk import in the graph: `importCustomers` takes a file through the GraphQL multipart
//! request spec and returns the dry run's report, or the report and the import job that
//! writes the valid rows in the background (`importJob`, `imports`, the IMPORT change).

use crate::access::root;
use crate::error::{found, Gql};
use crate::ids;
use async_graphql::{Context, Enum, Object, SimpleObject, Upload, ID};
use chrono::{DateTime, Utc};
use isp_core::clock::from_ms;
use isp_core::import::{self, mapping::Mapping, Format, Report, Request, RowError};
use isp_core::store::imports::{Import, ImportStatus, OnDuplicate};
use isp_core::Ctx;
use std::io::Read;

/// Which system wrote the uploaded file.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ImportFormat {
    /// Any table with a header row (automatic mapping, overridable).
    Generic,
    /// phpNuxBill's tbl_customers export (extra file: tbl_user_recharges).
    Phpnuxbill,
    /// daloRADIUS / FreeRADIUS radcheck export (extra files: userinfo, radusergroup).
    Radius,
}

/// A bad or skipped row of an import file.
#[derive(SimpleObject)]
pub struct ImportRowError {
    /// Row number as the file shows it (the header is row 1).
    pub row: i64,
    /// Header of the column (empty when the whole row is concerned).
    pub column: String,
    /// Why.
    pub reason: String,
}

impl From<&RowError> for ImportRowError {
    fn from(e: &RowError) -> Self {
        Self { row: e.row as i64, column: e.column.clone(), reason: e.reason.clone() }
    }
}

/// One bulk import and its progress.
pub struct ImportJob(pub Import);

#[Object]
impl ImportJob {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode("ImportJob", self.0.id)
    }
    /// Uploaded file name.
    async fn file_name(&self) -> &str {
        &self.0.file_name
    }
    /// RUNNING, DONE, FAILED or ROLLED_BACK.
    async fn status(&self) -> ImportStatus {
        self.0.status
    }
    /// Duplicate policy.
    async fn on_duplicate(&self) -> OnDuplicate {
        self.0.on_duplicate
    }
    /// Rows to write.
    async fn rows_total(&self) -> i64 {
        self.0.rows_total
    }
    /// Rows written so far.
    async fn rows_done(&self) -> i64 {
        self.0.rows_done
    }
    /// Customers created.
    async fn created(&self) -> i64 {
        self.0.created
    }
    /// Existing customers updated.
    async fn updated(&self) -> i64 {
        self.0.updated
    }
    /// Duplicate rows skipped.
    async fn skipped(&self) -> i64 {
        self.0.skipped
    }
    /// Why it failed (nothing of it was kept).
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// Who started it.
    async fn actor(&self) -> &str {
        &self.0.actor
    }
    /// Started.
    async fn created_at(&self) -> DateTime<Utc> {
        from_ms(self.0.created_at)
    }
    /// Finished.
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at.map(from_ms)
    }
}

/// What an import found in the file (and started writing, unless a dry run).
pub struct ImportReport {
    report: Report,
    job: Option<Import>,
}

#[Object]
impl ImportReport {
    /// Data rows in the file.
    async fn rows(&self) -> i64 {
        self.report.rows as i64
    }
    /// Rows that create a customer with a subscription.
    async fn to_create(&self) -> i64 {
        self.report.to_create as i64
    }
    /// Rows that update an existing customer (onDuplicate UPDATE).
    async fn to_update(&self) -> i64 {
        self.report.to_update as i64
    }
    /// Duplicate rows skipped (onDuplicate SKIP).
    async fn skipped(&self) -> i64 {
        self.report.skipped as i64
    }
    /// Bad rows.
    async fn bad(&self) -> i64 {
        self.report.bad as i64
    }
    /// Rows whose login is already in the tenant or on an earlier row.
    async fn duplicates(&self) -> i64 {
        self.report.duplicates as i64
    }
    /// Every bad row.
    async fn errors(&self) -> Vec<ImportRowError> {
        self.report.errors.iter().map(Into::into).collect()
    }
    /// Every skipped row.
    async fn skipped_rows(&self) -> Vec<ImportRowError> {
        self.report.skipped_rows.iter().map(Into::into).collect()
    }
    /// Headers that no field matched (ignored).
    async fn ignored_columns(&self) -> &[String] {
        &self.report.ignored_columns
    }
    /// Whether nothing was written.
    async fn dry_run(&self) -> bool {
        self.report.dry_run
    }
    /// The bad and skipped rows as CSV (row,column,reason,outcome).
    async fn errors_csv(&self) -> String {
        self.report.errors_csv()
    }
    /// The import writing the valid rows (null for a dry run or when there is nothing to write).
    async fn job(&self) -> Option<ImportJob> {
        self.job.clone().map(ImportJob)
    }
}

/// Import queries.
#[derive(Default)]
pub struct ImportQuery;

#[Object]
impl ImportQuery {
    /// One import of the caller's tenant, with its progress.
    async fn import_job(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<ImportJob>> {
        let actor = root(ctx)?;
        let id = ids::decode(&id, "ImportJob", "id")?;
        Ok(found(import::get(ctx.data::<Ctx>()?, actor, id).await)?.map(ImportJob))
    }

    /// The caller's tenant's latest imports, newest first.
    async fn imports(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20, validator(minimum = 1, maximum = 500))] first: i64,
    ) -> async_graphql::Result<Vec<ImportJob>> {
        let actor = root(ctx)?;
        Ok(import::list(ctx.data::<Ctx>()?, actor, first).await.gql()?.into_iter().map(ImportJob).collect())
    }
}

fn read_upload(ctx: &Context<'_>, u: &Upload) -> async_graphql::Result<import::Upload> {
    let v = u.value(ctx)?;
    let name = v.filename.clone();
    let mut bytes = Vec::new();
    v.into_read().read_to_end(&mut bytes)?;
    Ok(import::Upload { name, bytes })
}

/// Import mutations.
#[derive(Default)]
pub struct ImportMutation;

#[Object]
impl ImportMutation {
    /// Imports customers with their subscriptions from a CSV, XLSX, XLS or ODS file (a
    /// multipart upload). Every row is checked like createCustomer / createSubscription; a
    /// dry run only reports. Otherwise the valid rows are written by a background import job
    /// (all or nothing) whose progress `importJob` and the IMPORT change show.
    #[allow(clippy::too_many_arguments)]
    async fn import_customers(
        &self,
        ctx: &Context<'_>,
        file: Upload,
        #[graphql(default = false)] dry_run: bool,
        #[graphql(default_with = "OnDuplicate::Skip")] on_duplicate: OnDuplicate,
        #[graphql(desc = "A TOML mapping (columns, defaults, encoding), as in the README.")] mapping: Option<String>,
        #[graphql(default_with = "ImportFormat::Generic")] format: ImportFormat,
        #[graphql(desc = "Extra files of the format: phpNuxBill recharges; daloRADIUS userinfo, radusergroup.")]
        extra_files: Option<Vec<Upload>>,
    ) -> async_graphql::Result<ImportReport> {
        let actor = root(ctx)?;
        let mut req = Request::new("", Vec::new());
        req.file = read_upload(ctx, &file)?;
        req.extra = extra_files.unwrap_or_default().iter().map(|u| read_upload(ctx, u)).collect::<Result<_, _>>()?;
        req.mapping = match mapping.as_deref().filter(|m| !m.trim().is_empty()) {
            Some(m) => Mapping::from_toml(m).gql()?,
            None => Mapping::default(),
        };
        req.dry_run = dry_run;
        req.on_duplicate = on_duplicate;
        req.format = match format {
            ImportFormat::Generic => Format::Generic,
            ImportFormat::Phpnuxbill => Format::PhpNuxBill,
            ImportFormat::Radius => Format::Radius,
        };
        let (report, job) = import::start(ctx.data::<Ctx>()?, actor, req).await.gql()?;
        Ok(ImportReport { report, job })
    }

    /// Removes every customer and subscription an import created (refused once they have
    /// invoices, sessions or tickets, or when the import updated existing records).
    async fn rollback_import(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ImportJob> {
        let actor = root(ctx)?;
        let id = ids::decode(&id, "ImportJob", "id")?;
        Ok(ImportJob(import::rollback(ctx.data::<Ctx>()?, actor, id).await.gql()?))
    }
}
