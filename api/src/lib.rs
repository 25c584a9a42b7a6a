//! GraphQL API of the ISP system: the whole tenant data graph over HTTP, with GraphiQL,
//! subscriptions over WebSocket, health checks and metrics.
//!
//! [`serve`] runs it on a listener until a shutdown future resolves; [`router`] gives the
//! axum router for embedding.

#![warn(missing_docs)]

pub mod access;
pub mod body;
pub mod contract;
mod doc_cache;
pub mod error;
pub mod exports;
pub mod fast;
pub mod files;
pub mod graphiql;
pub mod ids;
pub mod loaders;
pub mod pdf;
pub mod request;
pub mod schema;
pub mod webhooks;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{ConnectInfo, DefaultBodyLimit, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use doc_cache::{DocCache, Known};
use isp_core::workflows::staff;
use isp_core::Ctx;
use request::Caller;
use schema::{IspSchema, RequestState};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tower_http::cors::{Any, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;

/// Largest number of operations in one batched request.
pub const MAX_BATCH: usize = 10;

#[derive(Clone)]
struct AppState {
    ctx: Ctx,
    schema: IspSchema,
    /// The same schema checking only the limits, for requests `docs` has seen pass validation.
    prevalidated: IspSchema,
    docs: Arc<DocCache>,
}

/// The HTTP routes: `/graphql` (POST queries, GET GraphiQL), `/graphql/assets/...`
/// (GraphiQL's files), `/graphql/ws`, `/healthz`,
/// `/readyz`, `/metrics`.
pub fn router(ctx: Ctx) -> Router {
    let cfg = ctx.config.graphql.clone();
    ctx.metrics.describe("isp_graphql_requests_total", "GraphQL operations executed.");
    ctx.metrics.describe("isp_graphql_errors_total", "GraphQL operations that returned errors.");
    ctx.metrics.describe("isp_graphql_duration_microseconds_total", "Time spent executing GraphQL operations.");
    ctx.metrics.describe("isp_staff_logins_total", "Staff login attempts by result.");
    ctx.metrics.describe(
        "isp_graphql_prevalidated_total",
        "GraphQL operations whose document and variable shape had passed validation before.",
    );
    let (schema, prevalidated) = schema::build_pair(ctx.clone(), &cfg);
    let state = AppState { ctx, schema, prevalidated, docs: Arc::default() };
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]);
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/openapi.json", get(openapi))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/webhooks/payments/{provider}", axum::routing::post(webhooks::payment_webhook))
        .route("/invoices/{id}/pdf", get(pdf::invoice_pdf))
        .route("/payments/{id}/receipt", get(pdf::payment_receipt))
        .route("/exports/{file}", get(exports::export))
        .route("/documents/{id}", get(files::document))
        .route("/tickets/attachments/{id}", get(files::attachment))
        // A layer wraps only the routes added before it. This one answers 413 in plain text
        // for a Content-Length over the limit and cuts longer streams; `/graphql`, added
        // below, reads its body itself (JSON within `max_body_bytes`, multipart uploads within
        // `max_upload_bytes`) to answer with a GraphQL error.
        .layer(RequestBodyLimitLayer::new(cfg.max_body_bytes))
        .route("/graphql", get(graphiql::graphiql).post(graphql))
        .route("/graphql/assets/{file}", get(graphiql::asset_file))
        .route("/graphql/ws", get(graphql_ws))
        .layer(DefaultBodyLimit::max(cfg.max_body_bytes))
        .layer(cors)
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ctx: Ctx,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(ctx).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

fn client_ip(ctx: &Ctx, headers: &HeaderMap, peer: SocketAddr) -> String {
    if ctx.config.trust_proxy {
        if let Some(first) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| v.parse::<std::net::IpAddr>().is_ok())
        {
            return first.to_string();
        }
    }
    peer.ip().to_string()
}

/// Request data for a caller presenting `bearer` from `ip`, as the HTTP handler gives every
/// request (a missing or bad token means anonymous: resolvers that need a caller answer
/// UNAUTHENTICATED). For running the schema ([`schema::build_pair`]) in-process.
pub fn caller_data(ctx: &Ctx, bearer: Option<&str>, ip: String) -> Data {
    let actor = bearer.and_then(|t| staff::authenticate(ctx, t, Some(ip.clone())).ok());
    let mut data = Data::default();
    if let Some(a) = &actor {
        data.insert(RequestState::new(ctx, a));
    }
    data.insert(Caller { actor, ip });
    data
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")).map(str::trim)
}

async fn graphql(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let batch = match body::read(&headers, body, &st.ctx.config.graphql).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let n = batch.iter().count();
    if n > MAX_BATCH {
        return body::BodyError::bad(format!("at most {MAX_BATCH} operations per batch")).into_response();
    }
    let request_data = || caller_data(&st.ctx, bearer(&headers), client_ip(&st.ctx, &headers, peer));
    let data = request_data();
    let started = Instant::now();
    let mut resp = match batch {
        async_graphql::BatchRequest::Single(mut r) => {
            r.data = data;
            let known = st.docs.known(&mut r);
            let passed = known.as_ref().is_some_and(Known::passed);
            let resp = if passed {
                st.ctx.metrics.inc("isp_graphql_prevalidated_total", "");
                st.prevalidated.execute(r).await
            } else {
                st.schema.execute(r).await
            };
            if let Some(k) = known.filter(|_| !passed && resp.is_ok()) {
                k.mark_passed();
            }
            async_graphql::BatchResponse::Single(resp)
        }
        async_graphql::BatchRequest::Batch(rs) => {
            let mut out = Vec::with_capacity(rs.len());
            let mut data = Some(data);
            for mut r in rs {
                // Each operation gets its own request state; the caller is the same.
                r.data = data.take().unwrap_or_else(request_data);
                st.docs.apply(&mut r);
                out.push(r);
            }
            st.schema.execute_batch(async_graphql::BatchRequest::Batch(out)).await
        }
    };
    tag_uncoded_errors(&mut resp);
    let m = &st.ctx.metrics;
    m.add("isp_graphql_requests_total", "", n as u64);
    m.add("isp_graphql_duration_microseconds_total", "", started.elapsed().as_micros() as u64);
    if !resp.is_ok() {
        m.inc("isp_graphql_errors_total", "");
    }
    respond(&resp)
}

/// The HTTP response for `resp`, as async-graphql-axum builds it.
fn respond(resp: &async_graphql::BatchResponse) -> Response {
    let mut body = Vec::with_capacity(16 * 1024);
    serde_json::to_writer(&mut body, resp).expect("a GraphQL response serialises");
    let mut out = Response::new(axum::body::Body::from(body));
    let h = out.headers_mut();
    h.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/graphql-response+json"));
    if let Some(v) = resp.cache_control().value().filter(|_| resp.is_ok()) {
        if let Ok(v) = header::HeaderValue::from_str(&v) {
            h.insert(header::CACHE_CONTROL, v);
        }
    }
    h.extend(resp.http_headers());
    out
}

/// Gives every error a code. Errors the GraphQL engine raises about the request itself carry
/// none: syntax, unknown fields, depth or complexity limits (no path: raised before any field
/// ran) and arguments or variables of the wrong type ("Failed to parse ..."), all the
/// client's to fix, so VALIDATION. An uncoded error from a field that ran is a server fault
/// (resolvers report client errors with a code, through `error::to_gql`): it is logged once
/// with its message and answered as INTERNAL "internal error", like any internal error.
fn tag_uncoded_errors(resp: &mut async_graphql::BatchResponse) {
    let responses: Vec<&mut async_graphql::Response> = match resp {
        async_graphql::BatchResponse::Single(r) => vec![r],
        async_graphql::BatchResponse::Batch(rs) => rs.iter_mut().collect(),
    };
    for r in responses {
        for e in r.errors.iter_mut() {
            tag_uncoded(e);
        }
    }
}

fn tag_uncoded(e: &mut async_graphql::ServerError) {
    if e.extensions.as_ref().is_some_and(|x| x.get("code").is_some()) {
        return;
    }
    let client = e.path.is_empty() || e.message.starts_with("Failed to parse");
    if !client {
        tracing::error!(error = %e.message, path = ?e.path, "uncoded error in a GraphQL resolver");
        e.message = "internal error".to_string();
    }
    e.extensions.get_or_insert_with(Default::default).set("code", if client { "VALIDATION" } else { "INTERNAL" });
}

async fn graphql_ws(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    ws: WebSocketUpgrade,
) -> Response {
    let ip = client_ip(&st.ctx, &headers, peer);
    let header_token = bearer(&headers).map(str::to_string);
    ws.protocols(ALL_WEBSOCKET_PROTOCOLS).on_upgrade(move |socket| {
        let ctx = st.ctx.clone();
        GraphQLWebSocket::new(socket, st.schema.clone(), protocol)
            .on_connection_init(move |payload: serde_json::Value| async move {
                // Browsers cannot set headers on WebSocket upgrades, so the token comes in
                // the connection_init payload: {"authorization": "Bearer ..."}.
                let from_payload = payload
                    .get("authorization")
                    .or_else(|| payload.get("Authorization"))
                    .and_then(|v| v.as_str())
                    .map(|v| v.trim_start_matches("Bearer ").trim_start_matches("bearer ").to_string());
                let token = from_payload.or(header_token);
                let data = caller_data(&ctx, token.as_deref(), ip);
                if data.get(&std::any::TypeId::of::<RequestState>()).is_none() {
                    return Err(async_graphql::Error::new("a valid access token is required")
                        .extend_with(|_, e| e.set("code", "UNAUTHENTICATED")));
                }
                Ok(data)
            })
            .serve()
    })
}

use async_graphql::ErrorExtensions;

/// The OpenAPI 3.0 document of the routes beside GraphQL (health, metrics, PDFs, webhooks).
pub const OPENAPI: &str = include_str!("../openapi.json");

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn readyz(State(st): State<AppState>) -> Response {
    match st.ctx.db.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

async fn metrics(State(st): State<AppState>) -> Response {
    let stmts = st.ctx.db.statements();
    let body = st.ctx.metrics.render(&[("isp_db_statements", "SQL statements executed by this process.", stmts)]);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

#[cfg(test)]
mod error_code_tests {
    use super::tag_uncoded;
    use async_graphql::{PathSegment, Pos, ServerError};

    fn code(e: &ServerError) -> Option<String> {
        match e.extensions.as_ref()?.get("code")? {
            async_graphql::Value::String(s) => Some(s.clone()),
            _ => None,
        }
    }

    #[test]
    fn request_errors_are_validation_and_resolver_faults_internal() {
        let mut syntax = ServerError::new("Unknown field \"x\" on type \"Query\".", Some(Pos { line: 1, column: 3 }));
        tag_uncoded(&mut syntax);
        assert_eq!(code(&syntax).as_deref(), Some("VALIDATION"));
        assert!(syntax.message.contains("Unknown field"));

        let mut arg = ServerError::new("Failed to parse \"Int\": Only integers from -2^31 to 2^31 are accepted", None);
        arg.path = vec![PathSegment::Field("customers".into())];
        tag_uncoded(&mut arg);
        assert_eq!(code(&arg).as_deref(), Some("VALIDATION"));

        let mut fault = ServerError::new("Data `RequestState` does not exist.", None);
        fault.path = vec![PathSegment::Field("customers".into()), PathSegment::Index(0)];
        tag_uncoded(&mut fault);
        assert_eq!(code(&fault).as_deref(), Some("INTERNAL"));
        assert_eq!(fault.message, "internal error", "details stay in the log");

        let mut coded = ServerError::new("no", None);
        coded.path = vec![PathSegment::Field("x".into())];
        coded.extensions.get_or_insert_with(Default::default).set("code", "FORBIDDEN");
        tag_uncoded(&mut coded);
        assert_eq!((code(&coded).as_deref(), coded.message.as_str()), (Some("FORBIDDEN"), "no"));
    }
}
