//! Customer documents: upload (ID scans, contracts, photos; generated contracts arrive here
//! too), delete, and the tenant's contract template. Every change is audited.

use crate::auth::{Action, Actor};
use crate::blobs::{BlobStore, FileUpload};
use crate::effects::Effects;
use crate::error::{CoreError, CoreResult};
use crate::events::EventKind;
use crate::store::documents::{self, Document, DocumentKind, NewDocument};
use crate::store::{customers, tenants};
use crate::{validate, Ctx};
use serde_json::json;

/// Longest title.
pub const MAX_TITLE: usize = 200;
/// Longest contract template, in bytes.
pub const MAX_TEMPLATE: usize = 64 * 1024;

/// A document as a client uploads it.
#[derive(Debug, Clone)]
pub struct NewUpload {
    /// The customer it belongs to.
    pub customer_id: i64,
    /// What it is.
    pub kind: DocumentKind,
    /// Title (default: the file's name).
    pub title: Option<String>,
    /// When the identity document expires (`YYYY-MM-DD`).
    pub expires_on: Option<String>,
    /// The file.
    pub file: FileUpload,
}

/// Stores a document of a customer: the file's type is sniffed from its bytes (PDF, PNG,
/// JPEG, WebP), its size checked against the tenant's `documentMaxBytes`, its bytes kept
/// once per content.
pub async fn upload(ctx: &Ctx, actor: &Actor, u: NewUpload) -> CoreResult<Document> {
    actor.require(Action::DocumentWrite)?;
    let t = actor.tenant_id;
    let title = u.title.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    if let Some(title) = &title {
        validate::text(title, MAX_TITLE).map_err(|m| CoreError::validation("title", m))?;
    }
    if let Some(d) = &u.expires_on {
        validate::date(d).map_err(|m| CoreError::validation("expiresOn", m))?;
    }
    // Checked before the file is written, so a bad customer leaves nothing behind.
    customers::get(&ctx.db, t, u.customer_id)
        .await
        .map_err(|_| CoreError::validation("customerId", "no such customer"))?;
    let max = tenants::get(&ctx.db, t).await?.settings().document_max_bytes;
    let stored = BlobStore::new(&ctx.config.data_dir).stage("file", u.file, max).await?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    customers::get(&mut tx, t, u.customer_id).await?;
    let blob =
        documents::upsert_blob(&mut tx, t, &stored.sha256, stored.size, stored.kind.mime(), &actor.name, now).await?;
    let title = title.unwrap_or_else(|| stored.file_name.clone());
    let new = NewDocument {
        customer_id: u.customer_id,
        blob_id: blob.id,
        kind: u.kind,
        title: &title,
        file_name: &stored.file_name,
        expires_on: u.expires_on.as_deref(),
        created_by: Some(actor.user_id).filter(|u| *u != 0),
    };
    let d = documents::insert_document(&mut tx, t, &new, now).await?;
    let details = json!({"customerId": d.customer_id, "kind": d.kind, "title": d.title, "fileName": d.file_name,
                         "sha256": d.sha256, "size": d.size_bytes, "contentType": d.content_type,
                         "expiresOn": d.expires_on});
    Effects::new(ctx, actor, now)
        .audit("document.upload", "CustomerDocument", Some(d.id), details)
        .event(EventKind::CustomerChanged, d.customer_id)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(d)
}

/// Deletes document `id`: nothing serves it any more; the audit log keeps what it was.
pub async fn delete(ctx: &Ctx, actor: &Actor, id: i64) -> CoreResult<Document> {
    actor.require(Action::DocumentDelete)?;
    let t = actor.tenant_id;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let d = documents::find_document(&mut tx, t, id)
        .await?
        .filter(|d| d.deleted_at.is_none())
        .ok_or(CoreError::NotFound("document"))?;
    if documents::mark_deleted(&mut tx, t, id, now).await? != 1 {
        return Err(CoreError::NotFound("document"));
    }
    let details = json!({"customerId": d.customer_id, "kind": d.kind, "title": d.title, "fileName": d.file_name,
                         "sha256": d.sha256});
    Effects::new(ctx, actor, now)
        .audit("document.delete", "CustomerDocument", Some(d.id), details)
        .event(EventKind::CustomerChanged, d.customer_id)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(Document { deleted_at: Some(now), ..d })
}

/// Sets the tenant's contract template (typst markup; the caller has checked that it
/// typesets), or goes back to the built-in one with None. Audited.
pub async fn set_contract_template(ctx: &Ctx, actor: &Actor, body: Option<&str>) -> CoreResult<()> {
    actor.require(Action::TenantUpdate)?;
    if let Some(b) = body {
        if b.trim().is_empty() || b.len() > MAX_TEMPLATE {
            return Err(CoreError::validation("template", format!("must be 1-{MAX_TEMPLATE} bytes")));
        }
    }
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    documents::set_contract_template(&mut tx, actor.tenant_id, body, now).await?;
    let details = json!({"custom": body.is_some(), "bytes": body.map(str::len)});
    Effects::new(ctx, actor, now)
        .audit("contract_template.set", "Tenant", Some(actor.tenant_id), details)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
