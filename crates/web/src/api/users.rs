//! Users: listed and read within the caller's scope, managed by admins.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::{double_option, ApiJson, ApiPath, ApiQuery, Fields};
use crate::pagination::{page, Page, PageQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use guanxi_domain::{DisplayName, Email, Locale, Password, Role, TeamId, UserId};
use guanxi_store::secret;
use guanxi_store::users::{self, NewUser, User, UserFilter, UserPatch};
use serde::Deserialize;
use uuid::Uuid;

/// User list filters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UserListQuery {
    /// Only members of this team.
    pub team_id: Option<Uuid>,
    /// Include disabled users (default false).
    pub include_disabled: Option<bool>,
    /// Rows per page, 1–200 (default 50).
    pub limit: Option<i64>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// Users the caller may see: admins all, managers their team subtree, sales only themselves.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])), params(UserListQuery),
    responses((status = 200, body = Page<User>), (status = 422, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<UserListQuery>,
) -> ApiResult<Json<Page<User>>> {
    let pq = PageQuery { limit: q.limit, cursor: q.cursor };
    let limit = pq.limit()?;
    let filter = UserFilter {
        team_id: q.team_id.map(TeamId::from_uuid),
        include_disabled: q.include_disabled.unwrap_or(false),
        after: pq.after()?.map(UserId::from_uuid),
    };
    let rows = users::list(&state.db, caller.principal.viewer(), &filter, limit + 1).await?;
    Ok(Json(page(rows, limit, |u| u.id.uuid())))
}

/// One user, if within the caller's scope.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "user id")),
    responses((status = 200, body = User), (status = 404, body = Problem)))]
pub async fn get(State(state): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Json<User>> {
    Ok(Json(users::get(&state.db, caller.principal.viewer(), UserId::from_uuid(id)).await?))
}

/// A new user.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Login e-mail (unique).
    pub email: String,
    /// Name (1–100 characters).
    pub display_name: String,
    /// Initial password (8–256 characters).
    pub password: String,
    /// Role.
    pub role: Role,
    /// Team.
    pub team_id: Option<Uuid>,
    /// UI language (default: zh-CN).
    pub locale: Option<Locale>,
}

/// Parses a new user's fields, reporting every bad field at once.
pub fn parse_new_user(body: &CreateUser) -> Result<(Email, DisplayName, Password), ApiError> {
    let mut f = Fields::default();
    let email = f.take(Email::parse("email", &body.email));
    let name = f.take(DisplayName::parse("display_name", &body.display_name));
    let password = f.take(Password::parse("password", &body.password));
    f.finish()?;
    match (email, name, password) {
        (Some(e), Some(n), Some(p)) => Ok((e, n, p)),
        _ => Err(ApiError::Internal("fields parsed without values".into())),
    }
}

/// Creates a user (admins only).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])), request_body = CreateUser,
    responses((status = 201, body = User), (status = 403, body = Problem), (status = 409, description = "`email_taken`", body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    caller.require_admin("create users")?;
    let user = create_user(&state, &caller, body).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Shared by the API and the settings page.
pub async fn create_user(state: &AppState, caller: &Caller, body: CreateUser) -> ApiResult<User> {
    let (email, display_name, password) = parse_new_user(&body)?;
    let hash = tokio::task::spawn_blocking(move || secret::hash_password(password.expose()))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let new = NewUser {
        email,
        display_name,
        password_hash: hash,
        role: body.role,
        team_id: body.team_id.map(TeamId::from_uuid),
        locale: body.locale.unwrap_or_default(),
    };
    let mut tx = state.db.begin().await?;
    let user = users::create(&mut tx, &caller.actor(), new, state.clock.now()).await?;
    tx.commit().await?;
    Ok(user)
}

/// Changes to a user; absent fields stay, `team_id: null` removes the team.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// New e-mail.
    pub email: Option<String>,
    /// New name.
    pub display_name: Option<String>,
    /// New role.
    pub role: Option<Role>,
    /// New team, or null for none.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub team_id: Option<Option<Uuid>>,
    /// New UI language.
    pub locale: Option<Locale>,
    /// Disable (true) or enable (false) the account.
    pub disabled: Option<bool>,
}

/// Changes a user (admins only). Disabling ends their sessions and stops their tokens.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])), request_body = UpdateUser,
    params(("id" = Uuid, Path, description = "user id")),
    responses((status = 200, body = User), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<UpdateUser>,
) -> ApiResult<Json<User>> {
    Ok(Json(update_user(&state, &caller, UserId::from_uuid(id), body).await?))
}

/// Shared by the API and the settings page.
pub async fn update_user(state: &AppState, caller: &Caller, id: UserId, body: UpdateUser) -> ApiResult<User> {
    // Outside the caller's scope the user does not exist for them (404 before 403).
    users::get(&state.db, caller.principal.viewer(), id).await?;
    caller.require_admin("change users")?;
    let mut f = Fields::default();
    let email = body.email.as_deref().and_then(|e| f.take(Email::parse("email", e)));
    let display_name = body.display_name.as_deref().and_then(|n| f.take(DisplayName::parse("display_name", n)));
    if id == caller.principal.user_id {
        if body.disabled == Some(true) {
            f.push(guanxi_domain::FieldError::new("disabled", "self_disable", "you cannot disable your own account"));
        }
        if body.role.is_some_and(|r| r != Role::Admin) {
            f.push(guanxi_domain::FieldError::new("role", "self_demote", "you cannot remove your own admin role"));
        }
    }
    f.finish()?;
    let patch = UserPatch {
        display_name,
        role: body.role,
        team_id: body.team_id.map(|t| t.map(TeamId::from_uuid)),
        locale: body.locale,
        email,
    };
    let now = state.clock.now();
    let actor = caller.actor();
    let mut tx = state.db.begin().await?;
    let mut user = users::update(&mut tx, &actor, id, patch, now).await?;
    if let Some(disabled) = body.disabled {
        user = users::set_disabled(&mut tx, &actor, id, disabled, now).await?;
    }
    tx.commit().await?;
    Ok(user)
}
