//! Guanxi's HTTP edge: the JSON API (`/api/v1`), the server-rendered pages,
//! authentication and CSRF, metrics and health checks. Handlers are thin:
//! they parse input into domain values, call the store, and shape output.

pub mod api;
pub mod auth;
pub mod error;
pub mod i18n;
pub mod json;
pub mod metrics;
pub mod pages;
pub mod pagination;
pub mod state;

pub use state::{AppState, WebConfig};

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// Largest API body (JSON).
pub const API_LIMIT: usize = 1024 * 1024;
/// Largest form body.
pub const FORM_LIMIT: usize = 1024 * 1024;

/// The Content-Security-Policy of every response: only our own scripts and styles.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// The whole application: pages, API, health, metrics, with its middleware.
pub fn router(state: AppState) -> Router {
    let x_request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(pages::router())
        .nest("/api/v1", api::router())
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::authenticate))
        .layer(axum::middleware::from_fn_with_state(state.clone(), refuse_nul))
        // Outside `authenticate`: it takes its own token (`metrics_token`).
        .route("/metrics", get(metrics::render))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(DefaultBodyLimit::max(API_LIMIT))
        .layer(SetResponseHeaderLayer::if_not_present(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
        .with_state(state)
}

/// Refuses a NUL in a query parameter or a form field (422 naming it)
/// before any handler runs: PostgreSQL stores no NUL in text, and an export
/// must fail before it sends its first byte, not halfway.
async fn refuse_nul(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let is_api = req.uri().path().starts_with("/api/");
    let refuse = |field: String| {
        let e = error::ApiError::Validation(vec![guanxi_domain::FieldError::new(
            &field,
            "control_characters",
            "must not contain a NUL character",
        )]);
        if is_api {
            e.into_response()
        } else {
            pages::PageError::from_api(e, &state, None).into_response()
        }
    };
    if let Some(field) = req.uri().query().and_then(|q| json::nul_in_query(q.as_bytes())) {
        return refuse(field);
    }
    if !auth::is_form(req.headers()) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, FORM_LIMIT).await {
        Ok(b) => b,
        Err(_) => return error::ApiError::PayloadTooLarge.into_response(),
    };
    if let Some(field) = json::nul_in_query(&bytes) {
        return refuse(field);
    }
    next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))).await
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}

/// Serves until `shutdown` resolves, then stops accepting and finishes the
/// requests in flight before returning.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    metrics::handle();
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
