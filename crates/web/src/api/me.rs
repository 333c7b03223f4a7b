//! The caller's own account: profile, password, API tokens.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::{ApiJson, ApiPath, Fields};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use guanxi_domain::{DisplayName, FieldError, Locale, Password, TokenId};
use guanxi_store::auth::{ApiToken, Principal};
use guanxi_store::secret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The authenticated user: the principal every request is authorised as.
pub type Me = Principal;

/// The authenticated user, with their role and data scope.
#[utoipa::path(get, path = "/api/v1/me", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = Principal), (status = 401, body = Problem)))]
pub async fn get_me(caller: Caller) -> Json<Principal> {
    Json(caller.principal)
}

/// Changes to one's own profile.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MePatch {
    /// New display name.
    pub display_name: Option<String>,
    /// New UI language.
    pub locale: Option<Locale>,
}

/// Changes one's own name or language.
#[utoipa::path(patch, path = "/api/v1/me", tag = "me", security(("bearer" = [])), request_body = MePatch,
    responses((status = 200, body = guanxi_store::users::User), (status = 422, body = Problem)))]
pub async fn patch_me(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<MePatch>,
) -> ApiResult<Json<guanxi_store::users::User>> {
    let mut fields = Fields::default();
    let display_name = body.display_name.as_deref().and_then(|n| fields.take(DisplayName::parse("display_name", n)));
    fields.finish()?;
    let patch = guanxi_store::users::UserPatch { display_name, locale: body.locale, ..Default::default() };
    let mut tx = state.db.begin().await?;
    let user =
        guanxi_store::users::update(&mut tx, &caller.actor(), caller.principal.user_id, patch, state.clock.now())
            .await?;
    tx.commit().await?;
    Ok(Json(user))
}

/// A password change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The current password.
    pub current_password: String,
    /// The new password (8–256 characters).
    pub new_password: String,
}

/// Changes one's own password; every other session of the user ends.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "me", security(("bearer" = [])), request_body = PasswordChange,
    responses((status = 204), (status = 422, description = "wrong current password or too short new one", body = Problem)))]
pub async fn post_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    change_password(&state, &caller, &body.current_password, &body.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Shared by the API and the profile page.
pub async fn change_password(state: &AppState, caller: &Caller, current: &str, new: &str) -> ApiResult<()> {
    let mut fields = Fields::default();
    let new = fields.take(Password::parse("new_password", new));
    let stored = guanxi_store::users::password_hash(&state.db, caller.principal.user_id).await?;
    let current = current.to_owned();
    let ok = tokio::task::spawn_blocking(move || secret::verify_password(&current, Some(&stored)))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if !ok {
        fields.push(FieldError::new(
            "current_password",
            "wrong_password",
            "current_password is not your current password",
        ));
    }
    fields.finish()?;
    let new = new.ok_or(ApiError::Internal("password parsed without value".into()))?;
    let hash = tokio::task::spawn_blocking(move || secret::hash_password(new.expose()))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let keep = caller.session_secret().map(secret::digest);
    let mut tx = state.db.begin().await?;
    guanxi_store::users::set_password(
        &mut tx,
        &caller.actor(),
        caller.principal.user_id,
        hash,
        keep.as_deref(),
        state.clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The caller's API tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/me/tokens", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = Vec<ApiToken>)))]
pub async fn list_tokens(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<ApiToken>>> {
    Ok(Json(guanxi_store::auth::list_tokens(&state.db, caller.principal.user_id).await?))
}

/// A new token's label.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What the token is for (1–100 characters).
    pub name: String,
}

/// A new token, with its secret shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// The token.
    #[serde(flatten)]
    pub token: ApiToken,
    /// The secret: send as `Authorization: Bearer <secret>`. It cannot be shown again.
    pub secret: String,
}

/// Parses a token label.
pub fn token_name(raw: &str) -> Result<String, FieldError> {
    DisplayName::parse("name", raw).map(DisplayName::into_string)
}

/// Creates an API token for the caller.
#[utoipa::path(post, path = "/api/v1/me/tokens", tag = "me", security(("bearer" = [])), request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 422, body = Problem)))]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let name = token_name(&body.name)?;
    let mut tx = state.db.begin().await?;
    let (token, secret) =
        guanxi_store::auth::create_token(&mut tx, &caller.actor(), caller.principal.user_id, &name, state.clock.now())
            .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { token, secret })))
}

/// Revokes one of the caller's tokens; it stops working at once.
#[utoipa::path(delete, path = "/api/v1/me/tokens/{id}", tag = "me", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "token id")),
    responses((status = 200, body = ApiToken), (status = 404, body = Problem)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<ApiToken>> {
    let mut tx = state.db.begin().await?;
    let token = guanxi_store::auth::revoke_token(
        &mut tx,
        &caller.actor(),
        caller.principal.user_id,
        TokenId::from_uuid(id),
        state.clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(token))
}
