//! Stored files' metadata: the tenant's blobs (content-addressed, bytes under the data
//! directory), customer documents and ticket attachments that point at them, and the
//! tenant's contract template. SQL and rows only.

use crate::db::{query, query_as, Arg, Executor, FromRow, Sql, Tx};
use crate::error::{CoreError, CoreResult};
use crate::text_enum;

text_enum!(
    /// What a customer document is.
    DocumentKind, "kind" {
        /// A scan or photo of an identity document.
        IdScan = "ID_SCAN",
        /// A signed or generated contract.
        Contract = "CONTRACT",
        /// A photo (installation, equipment).
        Photo = "PHOTO",
        /// Anything else.
        Other = "OTHER",
    }
);

/// A file of a tenant, by content.
#[derive(Debug, Clone, FromRow)]
pub struct Blob {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: i64,
    /// Lower-case hex SHA-256 of the bytes: the file's name under `<data_dir>/blobs`.
    pub sha256: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// MIME type sniffed from the bytes.
    pub content_type: String,
    /// Who stored it first (the audit name of the actor).
    pub created_by: String,
    /// Stored first, Unix ms.
    pub created_at: i64,
}

const BLOB_COLS: &str = "id, tenant_id, sha256, size_bytes, content_type, created_by, created_at";

/// The tenant's blob of `sha256`, inserted when the tenant has none yet (the same bytes
/// stored twice are one row; the first writer's metadata stays).
pub async fn upsert_blob(
    tx: &mut Tx,
    tenant_id: i64,
    sha256: &str,
    size_bytes: i64,
    content_type: &str,
    created_by: &str,
    now: i64,
) -> CoreResult<Blob> {
    query(
        "INSERT INTO blobs (tenant_id, sha256, size_bytes, content_type, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, sha256) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(sha256)
    .bind(size_bytes)
    .bind(content_type)
    .bind(created_by)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    query_as::<Blob>(&format!("SELECT {BLOB_COLS} FROM blobs WHERE tenant_id = $1 AND sha256 = $2"))
        .bind(tenant_id)
        .bind(sha256)
        .fetch_one(tx)
        .await
}

/// Blob `id` of `tenant_id`.
pub async fn blob(ex: impl Executor, tenant_id: i64, id: i64) -> CoreResult<Blob> {
    query_as::<Blob>(&format!("SELECT {BLOB_COLS} FROM blobs WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(ex)
        .await?
        .ok_or(CoreError::NotFound("blob"))
}

/// How many blobs the tenant has (dedup shows as one per content).
pub async fn blob_count(ex: impl Executor, tenant_id: i64) -> CoreResult<i64> {
    let (n,): (i64,) =
        query_as("SELECT COUNT(*) FROM blobs WHERE tenant_id = $1").bind(tenant_id).fetch_one(ex).await?;
    Ok(n)
}

/// A customer's document with its file's metadata.
#[derive(Debug, Clone, FromRow)]
pub struct Document {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: i64,
    /// The customer.
    pub customer_id: i64,
    /// The file.
    pub blob_id: i64,
    /// ID scan, contract, photo, other.
    pub kind: DocumentKind,
    /// Title staff gave it.
    pub title: String,
    /// File name to download it as (its extension follows the sniffed type).
    pub file_name: String,
    /// When the identity document expires (`YYYY-MM-DD`).
    pub expires_on: Option<String>,
    /// Staff user who stored it (null: the system).
    pub created_by: Option<i64>,
    /// Stored, Unix ms.
    pub created_at: i64,
    /// Deleted, Unix ms (then nothing serves it).
    pub deleted_at: Option<i64>,
    /// The file's SHA-256.
    pub sha256: String,
    /// The file's size in bytes.
    pub size_bytes: i64,
    /// The file's MIME type.
    pub content_type: String,
}

const DOC_COLS: &str = "d.id, d.tenant_id, d.customer_id, d.blob_id, d.kind, d.title, d.file_name, d.expires_on, \
    d.created_by, d.created_at, d.deleted_at, b.sha256, b.size_bytes, b.content_type";
const DOC_FROM: &str = "FROM customer_documents d JOIN blobs b ON b.id = d.blob_id AND b.tenant_id = d.tenant_id";

/// A new customer document's row.
#[derive(Debug, Clone)]
pub struct NewDocument<'a> {
    /// The customer.
    pub customer_id: i64,
    /// The file.
    pub blob_id: i64,
    /// Kind.
    pub kind: DocumentKind,
    /// Title.
    pub title: &'a str,
    /// Download name.
    pub file_name: &'a str,
    /// Expiry date.
    pub expires_on: Option<&'a str>,
    /// Staff user.
    pub created_by: Option<i64>,
}

/// Inserts a customer document.
pub async fn insert_document(tx: &mut Tx, tenant_id: i64, d: &NewDocument<'_>, now: i64) -> CoreResult<Document> {
    let (id,): (i64,) = query_as(
        "INSERT INTO customer_documents (tenant_id, customer_id, blob_id, kind, title, file_name, expires_on, \
         created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(tenant_id)
    .bind(d.customer_id)
    .bind(d.blob_id)
    .bind(d.kind)
    .bind(d.title)
    .bind(d.file_name)
    .bind(d.expires_on)
    .bind(d.created_by)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    find_document(tx, tenant_id, id).await?.ok_or_else(|| CoreError::internal("inserted document not found"))
}

/// Document `id` of `tenant_id` (deleted ones too), if any.
pub async fn find_document(ex: impl Executor, tenant_id: i64, id: i64) -> CoreResult<Option<Document>> {
    query_as::<Document>(&format!("SELECT {DOC_COLS} {DOC_FROM} WHERE d.tenant_id = $1 AND d.id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// Marks document `id` deleted at `now`.
pub async fn mark_deleted(tx: &mut Tx, tenant_id: i64, id: i64, now: i64) -> CoreResult<u64> {
    query("UPDATE customer_documents SET deleted_at = $1 WHERE tenant_id = $2 AND id = $3 AND deleted_at IS NULL")
        .bind(now)
        .bind(tenant_id)
        .bind(id)
        .execute(tx)
        .await
}

/// The documents of the given customers that are not deleted, newest first per customer.
pub async fn of_customers(ex: impl Executor, tenant_id: i64, customer_ids: &[i64]) -> CoreResult<Vec<Document>> {
    if customer_ids.is_empty() {
        return Ok(Vec::new());
    }
    of_customers_sql(tenant_id, customer_ids).fetch_all(ex).await
}

/// The statement of [`of_customers`].
pub fn of_customers_sql(tenant_id: i64, customer_ids: &[i64]) -> Sql<'static> {
    let mut sql = Sql::new(&format!("SELECT {DOC_COLS} {DOC_FROM} WHERE d.tenant_id = "));
    sql.arg(Arg::I(tenant_id))
        .push(" AND d.customer_id IN ")
        .in_list(customer_ids)
        .push(" AND d.deleted_at IS NULL ORDER BY d.customer_id, d.id DESC");
    sql
}

/// A file attached to a ticket message, with its file's metadata.
#[derive(Debug, Clone, FromRow)]
pub struct Attachment {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: i64,
    /// The ticket the message was written on.
    pub ticket_id: i64,
    /// The message.
    pub message_id: i64,
    /// The file.
    pub blob_id: i64,
    /// Name to download it as.
    pub file_name: String,
    /// Attached, Unix ms.
    pub created_at: i64,
    /// The file's SHA-256.
    pub sha256: String,
    /// The file's size in bytes.
    pub size_bytes: i64,
    /// The file's MIME type.
    pub content_type: String,
}

const ATT_COLS: &str = "a.id, a.tenant_id, a.ticket_id, a.message_id, a.blob_id, a.file_name, a.created_at, \
    b.sha256, b.size_bytes, b.content_type";
const ATT_FROM: &str = "FROM ticket_attachments a JOIN blobs b ON b.id = a.blob_id AND b.tenant_id = a.tenant_id";

/// Attaches blob `blob_id` to message `message_id` of ticket `ticket_id`.
pub async fn insert_attachment(
    tx: &mut Tx,
    tenant_id: i64,
    ticket_id: i64,
    message_id: i64,
    blob_id: i64,
    file_name: &str,
    now: i64,
) -> CoreResult<i64> {
    let (id,): (i64,) = query_as(
        "INSERT INTO ticket_attachments (tenant_id, ticket_id, message_id, blob_id, file_name, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(tenant_id)
    .bind(ticket_id)
    .bind(message_id)
    .bind(blob_id)
    .bind(file_name)
    .bind(now)
    .fetch_one(tx)
    .await?;
    Ok(id)
}

/// Attachment `id` of `tenant_id`, if any.
pub async fn find_attachment(ex: impl Executor, tenant_id: i64, id: i64) -> CoreResult<Option<Attachment>> {
    query_as::<Attachment>(&format!("SELECT {ATT_COLS} {ATT_FROM} WHERE a.tenant_id = $1 AND a.id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// The attachments of the given messages, in the order attached.
pub async fn of_messages(ex: impl Executor, tenant_id: i64, message_ids: &[i64]) -> CoreResult<Vec<Attachment>> {
    if message_ids.is_empty() {
        return Ok(Vec::new());
    }
    of_messages_sql(tenant_id, message_ids).fetch_all(ex).await
}

/// The statement of [`of_messages`].
pub fn of_messages_sql(tenant_id: i64, message_ids: &[i64]) -> Sql<'static> {
    let mut sql = Sql::new(&format!("SELECT {ATT_COLS} {ATT_FROM} WHERE a.tenant_id = "));
    sql.arg(Arg::I(tenant_id)).push(" AND a.message_id IN ").in_list(message_ids).push(" ORDER BY a.message_id, a.id");
    sql
}

/// Moves the attachments of ticket `from` to ticket `to` (merging; messages move alike).
pub async fn move_attachments(tx: &mut Tx, tenant_id: i64, from: i64, to: i64) -> CoreResult<u64> {
    query("UPDATE ticket_attachments SET ticket_id = $1 WHERE tenant_id = $2 AND ticket_id = $3")
        .bind(to)
        .bind(tenant_id)
        .bind(from)
        .execute(tx)
        .await
}

/// The tenant's own contract template, if it set one.
pub async fn contract_template(ex: impl Executor, tenant_id: i64) -> CoreResult<Option<String>> {
    let row: Option<(String,)> =
        query_as("SELECT body FROM contract_templates WHERE tenant_id = $1").bind(tenant_id).fetch_optional(ex).await?;
    Ok(row.map(|(b,)| b))
}

/// Sets (Some) or removes (None) the tenant's contract template.
pub async fn set_contract_template(tx: &mut Tx, tenant_id: i64, body: Option<&str>, now: i64) -> CoreResult<()> {
    match body {
        Some(b) => {
            query(
                "INSERT INTO contract_templates (tenant_id, body, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (tenant_id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
            )
            .bind(tenant_id)
            .bind(b)
            .bind(now)
            .execute(tx)
            .await?;
        }
        None => {
            query("DELETE FROM contract_templates WHERE tenant_id = $1").bind(tenant_id).execute(tx).await?;
        }
    }
    Ok(())
}
