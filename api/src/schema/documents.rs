//! Customer documents and ticket attachments in the graph: the documents of a customer,
//! uploads (GraphQL multipart requests), deletion, generated contracts and the tenant's
//! contract template. The files themselves are served at `GET /documents/{id}` and
//! `GET /tickets/attachments/{id}` (`crate::files`).

use super::types::Customer;
use super::{core, request_loaders};
use crate::access::root;
use crate::error::{invalid, Gql};
use crate::fast::{fast, Fast, FastList};
use crate::ids;
use crate::request::require;
use async_graphql::{Context, Object, Upload, ID};
use chrono::{DateTime, Utc};
use isp_core::auth::Action;
use isp_core::blobs::FileUpload;
use isp_core::clock::from_ms;
use isp_core::store::documents::{self, Attachment as AttachmentRow, Document as DocumentRow, DocumentKind};
use isp_core::workflows::documents::{self as wf, NewUpload};

/// A file on record for a customer: an ID scan, a contract, a photo.
pub struct CustomerDocument(pub DocumentRow);

#[Object]
impl CustomerDocument {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode("CustomerDocument", self.0.id)
    }
    /// What it is.
    async fn kind(&self) -> DocumentKind {
        self.0.kind
    }
    /// Title.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Name it downloads as (its extension follows the sniffed type).
    async fn file_name(&self) -> &str {
        &self.0.file_name
    }
    /// MIME type, sniffed from the bytes: application/pdf, image/png, image/jpeg, image/webp.
    async fn content_type(&self) -> &str {
        &self.0.content_type
    }
    /// Size in bytes.
    async fn size(&self) -> i64 {
        self.0.size_bytes
    }
    /// SHA-256 of the bytes (hex).
    async fn sha256(&self) -> &str {
        &self.0.sha256
    }
    /// When the identity document expires (`YYYY-MM-DD`).
    async fn expires_on(&self) -> Option<&str> {
        self.0.expires_on.as_deref()
    }
    /// Where to download it with the same bearer token: `/documents/{id}`.
    async fn url(&self) -> String {
        format!("/documents/{}", ids::encode("CustomerDocument", self.0.id).0)
    }
    /// The customer (batched).
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Fast<Customer>>> {
        Ok(request_loaders(ctx)?.customers.one(self.0.customer_id).await?.map(fast(Customer)))
    }
    /// The staff user who stored it (a `StaffUser` ID; null for the system).
    async fn created_by_id(&self) -> Option<ID> {
        self.0.created_by.map(|u| ids::encode("StaffUser", u))
    }
    /// Stored.
    async fn created_at(&self) -> DateTime<Utc> {
        from_ms(self.0.created_at)
    }
    /// Deleted (then it is no longer listed or served).
    async fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.0.deleted_at.map(from_ms)
    }
}

/// A file attached to a ticket message.
pub struct TicketAttachment(pub AttachmentRow);

#[Object]
impl TicketAttachment {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode("TicketAttachment", self.0.id)
    }
    /// Name it downloads as.
    async fn file_name(&self) -> &str {
        &self.0.file_name
    }
    /// MIME type, sniffed from the bytes.
    async fn content_type(&self) -> &str {
        &self.0.content_type
    }
    /// Size in bytes.
    async fn size(&self) -> i64 {
        self.0.size_bytes
    }
    /// Where to download it with the same bearer token: `/tickets/attachments/{id}`.
    async fn url(&self) -> String {
        format!("/tickets/attachments/{}", ids::encode("TicketAttachment", self.0.id).0)
    }
    /// Attached.
    async fn created_at(&self) -> DateTime<Utc> {
        from_ms(self.0.created_at)
    }
}

/// The bytes and name of an uploaded file (the multipart body's part, spooled by the
/// request parser within its size limit).
pub fn read_upload(ctx: &Context<'_>, upload: &Upload, field: &str) -> async_graphql::Result<FileUpload> {
    use std::io::Read;
    let v = upload.value(ctx).map_err(|e| invalid(field, &format!("is not a file of this request ({e})")))?;
    let file_name = v.filename.clone();
    let mut bytes = Vec::new();
    v.into_read().read_to_end(&mut bytes).map_err(|e| invalid(field, &format!("could not be read ({e})")))?;
    Ok(FileUpload { file_name, bytes })
}

/// The documents of `customer_id`, newest first.
pub async fn of_customer(ctx: &Context<'_>, customer_id: i64) -> async_graphql::Result<FastList<CustomerDocument>> {
    let rows = request_loaders(ctx)?.customer_documents.of(customer_id).await?;
    Ok(FastList(rows.into_iter().map(CustomerDocument).collect()))
}

/// Document reads.
#[derive(Default)]
pub struct DocumentQuery;

#[Object]
impl DocumentQuery {
    /// A customer's documents, newest first (deleted ones are not listed).
    async fn customer_documents(
        &self,
        ctx: &Context<'_>,
        customer_id: ID,
    ) -> async_graphql::Result<FastList<CustomerDocument>> {
        root(ctx)?;
        let id = ids::decode(&customer_id, "Customer", "customerId")?;
        of_customer(ctx, id).await
    }

    /// The tenant's service contract template (typst markup; the built-in one until the
    /// tenant sets its own), and whether it is the tenant's own.
    async fn contract_template(&self, ctx: &Context<'_>) -> async_graphql::Result<ContractTemplate> {
        let a = root(ctx)?;
        let own = documents::contract_template(&core(ctx).db, a.tenant_id).await.gql()?;
        Ok(ContractTemplate {
            custom: own.is_some(),
            body: own.unwrap_or_else(|| crate::contract::DEFAULT_TEMPLATE.to_string()),
        })
    }
}

/// A service contract template.
#[derive(async_graphql::SimpleObject)]
pub struct ContractTemplate {
    /// Typst markup; it reads `tenant`, `customer`, `subscription`, `plan` and `today`
    /// (README: Documents).
    pub body: String,
    /// Whether this is the tenant's own template (false: the built-in one).
    pub custom: bool,
}

/// Document changes.
#[derive(Default)]
pub struct DocumentMutation;

#[Object]
impl DocumentMutation {
    /// Stores a document of a customer from a multipart upload (`file`): its type is sniffed
    /// from the bytes (PDF, PNG, JPEG, WebP; anything else is VALIDATION), its size checked
    /// against the tenant's `documentMaxBytes`. Audited.
    async fn upload_customer_document(
        &self,
        ctx: &Context<'_>,
        customer_id: ID,
        file: Upload,
        kind: DocumentKind,
        title: Option<String>,
        expires_on: Option<String>,
    ) -> async_graphql::Result<Fast<CustomerDocument>> {
        let a = root(ctx)?;
        let customer_id = ids::decode(&customer_id, "Customer", "customerId")?;
        let file = read_upload(ctx, &file, "file")?;
        let u = NewUpload { customer_id, kind, title, expires_on, file };
        wf::upload(core(ctx), a, u).await.gql().map(fast(CustomerDocument))
    }

    /// Deletes a document: it is no longer listed or downloadable; the audit log keeps what
    /// it was.
    async fn delete_customer_document(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Fast<CustomerDocument>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "CustomerDocument", "id")?;
        wf::delete(core(ctx), a, id).await.gql().map(fast(CustomerDocument))
    }

    /// Typesets the service contract of a subscription from the tenant's template (the
    /// customer's data and the plan) and stores it as a CONTRACT document of the customer.
    async fn generate_contract(
        &self,
        ctx: &Context<'_>,
        subscription_id: ID,
    ) -> async_graphql::Result<Fast<CustomerDocument>> {
        let a = root(ctx)?;
        let id = ids::decode(&subscription_id, "Subscription", "subscriptionId")?;
        let c = crate::contract::contract_source(core(ctx), a, id).await.gql()?;
        let doc = c.doc;
        let pdf = match tokio::task::spawn_blocking(move || crate::pdf::render(doc)).await {
            Ok(Ok(pdf)) => pdf,
            Ok(Err(msg)) if cfg!(not(feature = "pdf")) => {
                return Err(crate::error::to_gql(isp_core::CoreError::Unavailable(msg)));
            }
            Ok(Err(msg)) => {
                // The template was checked when it was stored; the data cannot break it.
                return Err(crate::error::to_gql(isp_core::CoreError::internal(format!(
                    "typesetting the contract failed: {msg}"
                ))));
            }
            Err(e) => return Err(crate::error::to_gql(isp_core::CoreError::from(e))),
        };
        let u = NewUpload {
            customer_id: c.customer_id,
            kind: DocumentKind::Contract,
            title: Some(format!("Service contract: {} ({})", c.plan, c.username)),
            expires_on: None,
            file: FileUpload { file_name: format!("contract-{}.pdf", c.username), bytes: pdf },
        };
        wf::upload(core(ctx), a, u).await.gql().map(fast(CustomerDocument))
    }

    /// Sets the tenant's contract template (typst markup reading `tenant`, `customer`,
    /// `subscription`, `plan` and `today`); null goes back to the built-in one. The template
    /// is typeset with sample data first: one that does not typeset is VALIDATION.
    async fn set_contract_template(
        &self,
        ctx: &Context<'_>,
        template: Option<String>,
    ) -> async_graphql::Result<ContractTemplate> {
        let a = root(ctx)?;
        if let Some(t) = &template {
            if t.len() > wf::MAX_TEMPLATE {
                return Err(invalid("template", &format!("must be at most {} bytes", wf::MAX_TEMPLATE)));
            }
            if cfg!(feature = "pdf") {
                let doc = crate::contract::sample(t);
                match tokio::task::spawn_blocking(move || crate::pdf::render(doc)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(msg)) => return Err(invalid("template", &format!("does not typeset: {msg}"))),
                    Err(e) => return Err(crate::error::to_gql(isp_core::CoreError::from(e))),
                }
            }
        }
        wf::set_contract_template(core(ctx), a, template.as_deref()).await.gql()?;
        Ok(ContractTemplate {
            custom: template.is_some(),
            body: template.unwrap_or_else(|| crate::contract::DEFAULT_TEMPLATE.to_string()),
        })
    }
}

/// Node lookup of a customer document, with the permission of its list.
pub async fn node(ctx: &Context<'_>, n: i64) -> async_graphql::Result<Option<super::Node>> {
    let a = require(ctx, Action::DocumentRead)?;
    let row = documents::find_document(&core(ctx).db, a.tenant_id, n).await.gql()?;
    Ok(row.filter(|d| d.deleted_at.is_none()).map(|d| super::Node::CustomerDocument(CustomerDocument(d))))
}

/// Node lookup of a ticket attachment, with the permission of tickets.
pub async fn attachment_node(ctx: &Context<'_>, n: i64) -> async_graphql::Result<Option<super::Node>> {
    let a = require(ctx, Action::TicketRead)?;
    let row = documents::find_attachment(&core(ctx).db, a.tenant_id, n).await.gql()?;
    Ok(row.map(|r| super::Node::TicketAttachment(TicketAttachment(r))))
}
