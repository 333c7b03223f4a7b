//! Teams: a tree; listed within scope, managed by admins.

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::json::{double_option, ApiJson, ApiPath, ApiQuery, Fields};
use crate::pagination::{page, Page, PageQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use guanxi_domain::{TeamId, TeamName, UserId};
use guanxi_store::teams::{self, NewTeam, Team, TeamPatch};
use serde::Deserialize;
use uuid::Uuid;

/// Teams the caller may see: admins all, managers their subtree, others their own team.
#[utoipa::path(get, path = "/api/v1/teams", tag = "teams", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<Team>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Team>>> {
    let limit = q.limit()?;
    let rows = teams::list(&state.db, caller.principal.viewer(), q.after()?.map(TeamId::from_uuid), limit + 1).await?;
    Ok(Json(page(rows, limit, |t| t.id.uuid())))
}

/// One team, if within scope.
#[utoipa::path(get, path = "/api/v1/teams/{id}", tag = "teams", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "team id")),
    responses((status = 200, body = Team), (status = 404, body = Problem)))]
pub async fn get(State(state): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Json<Team>> {
    Ok(Json(teams::get(&state.db, caller.principal.viewer(), TeamId::from_uuid(id)).await?))
}

/// A new team.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTeam {
    /// Name, unique in the workspace (1–100 characters).
    pub name: String,
    /// The team above.
    pub parent_id: Option<Uuid>,
    /// The manager (负责人).
    pub manager_id: Option<Uuid>,
}

/// Creates a team (admins only).
#[utoipa::path(post, path = "/api/v1/teams", tag = "teams", security(("bearer" = [])), request_body = CreateTeam,
    responses((status = 201, body = Team), (status = 403, body = Problem), (status = 409, description = "`team_name_taken`", body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateTeam>,
) -> ApiResult<(StatusCode, Json<Team>)> {
    caller.require_admin("create teams")?;
    Ok((StatusCode::CREATED, Json(create_team(&state, &caller, body).await?)))
}

/// Shared by the API and the settings page.
pub async fn create_team(state: &AppState, caller: &Caller, body: CreateTeam) -> ApiResult<Team> {
    let name = TeamName::parse("name", &body.name)?;
    let new = NewTeam {
        name,
        parent_id: body.parent_id.map(TeamId::from_uuid),
        manager_id: body.manager_id.map(UserId::from_uuid),
    };
    let mut tx = state.db.begin().await?;
    let team = teams::create(&mut tx, &caller.actor(), new, state.clock.now()).await?;
    tx.commit().await?;
    Ok(team)
}

/// Changes to a team; `parent_id: null` makes it top-level, `manager_id: null` clears the manager.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTeam {
    /// New name.
    pub name: Option<String>,
    /// New parent, or null.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub parent_id: Option<Option<Uuid>>,
    /// New manager, or null.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub manager_id: Option<Option<Uuid>>,
}

/// Changes a team (admins only); a team cannot move below itself.
#[utoipa::path(patch, path = "/api/v1/teams/{id}", tag = "teams", security(("bearer" = [])), request_body = UpdateTeam,
    params(("id" = Uuid, Path, description = "team id")),
    responses((status = 200, body = Team), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<UpdateTeam>,
) -> ApiResult<Json<Team>> {
    Ok(Json(update_team(&state, &caller, TeamId::from_uuid(id), body).await?))
}

/// Shared by the API and the settings page.
pub async fn update_team(state: &AppState, caller: &Caller, id: TeamId, body: UpdateTeam) -> ApiResult<Team> {
    teams::get(&state.db, caller.principal.viewer(), id).await?;
    caller.require_admin("change teams")?;
    let mut f = Fields::default();
    let name = body.name.as_deref().and_then(|n| f.take(TeamName::parse("name", n)));
    f.finish()?;
    let patch = TeamPatch {
        name,
        parent_id: body.parent_id.map(|p| p.map(TeamId::from_uuid)),
        manager_id: body.manager_id.map(|m| m.map(UserId::from_uuid)),
    };
    let mut tx = state.db.begin().await?;
    let team = teams::update(&mut tx, &caller.actor(), id, patch, state.clock.now()).await?;
    tx.commit().await?;
    Ok(team)
}

/// Deletes an empty team (admins only); one with members or sub-teams answers 409 `team_not_empty`.
#[utoipa::path(delete, path = "/api/v1/teams/{id}", tag = "teams", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "team id")),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    let id = TeamId::from_uuid(id);
    teams::get(&state.db, caller.principal.viewer(), id).await?;
    caller.require_admin("delete teams")?;
    let mut tx = state.db.begin().await?;
    teams::delete(&mut tx, &caller.actor(), id, state.clock.now()).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
