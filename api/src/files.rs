//! Stored files over HTTP, with the same bearer tokens as the graph: `GET /documents/{id}`
//! (customer documents, `DocumentRead`) and `GET /tickets/attachments/{id}` (ticket
//! attachments, `TicketRead`). Another tenant's file is 404, like the invoice PDFs.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use isp_core::auth::Action;
use isp_core::blobs::BlobStore;
use isp_core::store::documents;
use isp_core::workflows::staff;
use isp_core::CoreError;

fn error(e: CoreError) -> Response {
    let status = match e {
        CoreError::Unauthenticated => StatusCode::UNAUTHORIZED,
        CoreError::Forbidden(_) => StatusCode::FORBIDDEN,
        CoreError::NotFound(_) | CoreError::Validation { .. } => StatusCode::NOT_FOUND,
        CoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => {
            tracing::error!(error = %e, "serving a stored file failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    (status, status.canonical_reason().unwrap_or("error")).into_response()
}

/// `inline; filename="..."; filename*=UTF-8''...` (RFC 6266 §4.3): an ASCII name for old
/// clients, the exact one percent-encoded (RFC 8187).
pub fn disposition(name: &str) -> String {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '_' }).filter(|c| *c != '"').collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("inline; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

async fn serve(st: &super::AppState, headers: &HeaderMap, id: &str, ty: &str) -> Response {
    let Some(actor) = super::bearer(headers).and_then(|t| staff::authenticate(&st.ctx, t, None).ok()) else {
        return error(CoreError::Unauthenticated);
    };
    let Some((_, n)) = crate::ids::parse(id).filter(|(t, _)| t == ty) else {
        return error(CoreError::NotFound("file"));
    };
    let db = &st.ctx.db;
    let t = actor.tenant_id;
    let found = if ty == "CustomerDocument" {
        match actor.require(Action::DocumentRead) {
            Err(e) => Err(e),
            Ok(()) => documents::find_document(db, t, n)
                .await
                .map(|d| d.filter(|d| d.deleted_at.is_none()).map(|d| (d.sha256, d.content_type, d.file_name))),
        }
    } else {
        match actor.require(Action::TicketRead) {
            Err(e) => Err(e),
            Ok(()) => {
                documents::find_attachment(db, t, n).await.map(|a| a.map(|a| (a.sha256, a.content_type, a.file_name)))
            }
        }
    };
    let (sha, content_type, name) = match found {
        Ok(Some(f)) => f,
        Ok(None) => return error(CoreError::NotFound("file")),
        Err(e) => return error(e),
    };
    let bytes = match BlobStore::new(&st.ctx.config.data_dir).read(&sha).await {
        Ok(b) => b,
        Err(e) => return error(e),
    };
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition(&name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    // The type is the sniffed one; browsers must not guess another.
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("\"{sha}\"")) {
        h.insert(header::ETAG, v);
    }
    resp
}

/// `GET /documents/{id}`.
pub(crate) async fn document(
    State(st): State<super::AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&st, &headers, &id, "CustomerDocument").await
}

/// `GET /tickets/attachments/{id}`.
pub(crate) async fn attachment(
    State(st): State<super::AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&st, &headers, &id, "TicketAttachment").await
}

#[cfg(test)]
mod tests {
    #[test]
    fn dispositions_keep_names_safe() {
        assert_eq!(
            super::disposition("id card.png"),
            "inline; filename=\"id card.png\"; filename*=UTF-8''id%20card.png"
        );
        assert_eq!(
            super::disposition("Vertrag-Müller.pdf"),
            "inline; filename=\"Vertrag-M_ller.pdf\"; filename*=UTF-8''Vertrag-M%C3%BCller.pdf"
        );
    }
}
