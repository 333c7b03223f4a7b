//! `POST /api/v1/auth/login`, `POST /api/v1/auth/logout`.

use crate::auth::{client_ip, login, peer, Caller};
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::{ApiJson, Fields};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use guanxi_domain::{Email, FieldError};
use serde::{Deserialize, Serialize};

/// Credentials.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Login e-mail.
    pub email: String,
    /// Password.
    pub password: String,
}

/// A session usable as a bearer token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// Expiry unless used (each use within the period extends it).
    pub expires_at: DateTime<Utc>,
    /// The logged-in user.
    pub user: guanxi_store::auth::Principal,
}

/// Logs in with e-mail and password; returns a session token for the API.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 401, description = "wrong e-mail or password (`invalid_credentials`)", body = Problem),
        (status = 403, description = "account disabled (`account_disabled`)", body = Problem),
        (status = 422, description = "empty or malformed fields", body = Problem),
        (status = 429, description = "too many failed attempts (`too_many_attempts`), see `Retry-After`", body = Problem),
    ))]
pub async fn post_login(State(state): State<AppState>, req: Request) -> ApiResult<Json<LoginResponse>> {
    let ip = client_ip(&state, req.headers(), peer(req.extensions()));
    let ApiJson(body) =
        <ApiJson<LoginRequest> as axum::extract::FromRequest<AppState>>::from_request(req, &state).await?;
    let LoginRequest { email, password } = body;
    let mut fields = Fields::default();
    let email = fields.take(Email::parse("email", &email));
    if password.is_empty() {
        fields.push(FieldError::new("password", "required", "password must not be empty"));
    }
    fields.finish()?;
    let email = email.ok_or(ApiError::Internal("email parsed without value".into()))?;
    let session = login(&state, email.as_str(), &password, &ip).await?;
    let principal = guanxi_store::auth::session(&state.db, &session.secret, state.clock.now())
        .await?
        .ok_or(ApiError::Unauthorized)?
        .principal;
    Ok(Json(LoginResponse { token: session.secret, expires_at: session.expires_at, user: principal }))
}

/// Ends the session used for this request (API tokens are revoked under `/me/tokens`).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
pub async fn post_logout(State(state): State<AppState>, caller: Caller) -> ApiResult<StatusCode> {
    if let Some(secret) = caller.session_secret() {
        guanxi_store::auth::delete_session(&state.db, secret).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
