//! `POST /webhooks/payments/{provider}?tenant=<slug>`: payment gateway callbacks.
//!
//! `provider` must be a gateway the tenant configured (`setPaymentGateway`; compared in lower
//! case): anything else is 404 before the request is read further. The body is verified with
//! that gateway's secret and scheme before anything is parsed; a bad signature is 401 (and
//! logged by the core), an event id the tenant has seen before is 200 with `duplicate`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use isp_core::billing::webhooks::{Outcome, Signatures};
use isp_core::CoreError;
use serde::Deserialize;
use serde_json::json;

/// Query string of a webhook call.
#[derive(Debug, Deserialize)]
pub struct WebhookQuery {
    /// Slug of the tenant the gateway account belongs to.
    pub tenant: String,
}

/// Handles one gateway callback.
pub(crate) async fn payment_webhook(
    State(st): State<super::AppState>,
    Path(provider): Path<String>,
    Query(q): Query<WebhookQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let sigs = Signatures { stripe: h("stripe-signature"), generic: h("x-signature") };
    match isp_core::workflows::webhooks::receive(&st.ctx, &provider, &q.tenant, &sigs, &body).await {
        Ok(Outcome::Recorded { payment_id }) => {
            Json(json!({"status": "recorded", "paymentId": crate::ids::encode("Payment", payment_id).0}))
                .into_response()
        }
        Ok(Outcome::Duplicate) => Json(json!({"status": "duplicate"})).into_response(),
        Ok(Outcome::Ignored) => Json(json!({"status": "ignored"})).into_response(),
        Err(e) => {
            let status = match &e {
                CoreError::NotFound(_) => StatusCode::NOT_FOUND,
                CoreError::Unauthenticated => StatusCode::UNAUTHORIZED,
                CoreError::Validation { .. } | CoreError::Conflict { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                // The gateway retries a 503: nothing was recorded.
                CoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => {
                    tracing::error!(error = %e, provider, "payment webhook failed");
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            };
            let message =
                if status == StatusCode::INTERNAL_SERVER_ERROR { "internal error".to_string() } else { e.to_string() };
            (status, Json(json!({"error": message, "code": e.code()}))).into_response()
        }
    }
}
