//! `GET /exports/{kind}.{csv|xlsx}?filters...`: a list or report of the caller's tenant as a
//! file, streamed as it is written (`isp_core::export`): the core reads the list in chunks
//! on a blocking thread and writes into a bounded channel that the response body drains, so
//! a million rows cost constant memory and a slow client slows the reader down.
//!
//! Authorised like the PDF routes: the bearer token of a staff user, whose role must allow the
//! list's (or report's) action; 401 without a valid token, 403 for a role that may not, 404 for
//! an unknown export or format, 400 with `{code, field, error}` for a bad filter. Everything is
//! checked before the first byte, so an error is a status, never a broken file.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use isp_core::export::{self, Filters, Format};
use isp_core::workflows::staff;
use isp_core::CoreError;
use serde_json::json;
use std::io::{self, Write};
use tokio::sync::mpsc;

/// Bytes handed to the body at a time.
const PIECE: usize = 64 * 1024;

fn error(e: CoreError) -> Response {
    let status = match &e {
        CoreError::Unauthenticated => StatusCode::UNAUTHORIZED,
        CoreError::Forbidden(_) => StatusCode::FORBIDDEN,
        CoreError::NotFound(_) => StatusCode::NOT_FOUND,
        CoreError::Validation { .. } => StatusCode::BAD_REQUEST,
        CoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => {
            tracing::error!(error = %e.chain(), "export failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    let mut body = json!({"code": e.code(), "error": if status.is_server_error() { "internal error".to_string() } else { e.to_string() }});
    if let CoreError::Validation { field, .. } = &e {
        body["field"] = json!(field);
    }
    (status, Json(body)).into_response()
}

/// A `Write` into the response body: buffers [`PIECE`] bytes, then waits for the body to take
/// them (backpressure); fails once the client has gone.
struct BodyWriter {
    tx: mpsc::Sender<Result<Bytes, io::Error>>,
    buf: Vec<u8>,
}

impl BodyWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(PIECE)));
        self.tx.blocking_send(Ok(piece)).map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for BodyWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= PIECE {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// `GET /exports/{file}` where the file is `{kind}.{csv|xlsx}`.
pub(crate) async fn export(
    State(st): State<super::AppState>,
    Path(file): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let Some(actor) = super::bearer(&headers).and_then(|t| staff::authenticate(&st.ctx, t, None).ok()) else {
        return error(CoreError::Unauthenticated);
    };
    let Some((kind, format)) = file.rsplit_once('.').and_then(|(k, ext)| Some((k, Format::from_ext(ext)?))) else {
        return error(CoreError::NotFound("export format (use .csv or .xlsx)"));
    };
    let filters = Filters::new(query);
    let table = match export::open(&st.ctx, &actor, kind, &filters).await {
        Ok(t) => t,
        Err(e) => return error(e),
    };
    let today = match isp_core::billing::tenant_today(&st.ctx, actor.tenant_id).await {
        Ok(d) => d,
        Err(e) => return error(e),
    };
    let name = export::file_name(kind, today, format);
    let (tx, rx) = mpsc::channel::<Result<Bytes, io::Error>>(4);
    let out = BodyWriter { tx: tx.clone(), buf: Vec::with_capacity(PIECE) };
    let db = st.ctx.db.clone();
    tokio::spawn(async move {
        let result = export::write(db, table, format, out).await;
        // The writer flushed the output on its blocking thread.
        if let Err(e) = result {
            let msg = e.chain();
            // The status is sent: end the body with an error so the client sees a broken
            // transfer rather than a short file.
            tracing::warn!(error = %msg, "export stopped");
            let _ = tx.send(Err(io::Error::other(msg))).await;
        }
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    (
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response()
}
