//! Roles and their data scopes.

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::json::{ApiJson, ApiPath};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use guanxi_domain::{DataScope, Role};
use guanxi_store::roles::{self, RoleScope};
use serde::Deserialize;

/// The four roles and how far each sees.
#[utoipa::path(get, path = "/api/v1/roles", tag = "roles", security(("bearer" = [])),
    responses((status = 200, body = Vec<RoleScope>)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<RoleScope>>> {
    Ok(Json(roles::list(&state.db, caller.principal.workspace_id).await?))
}

/// A role's new data scope.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRole {
    /// `own`, `team` or `workspace`.
    pub data_scope: DataScope,
}

/// Changes a role's data scope (admins only; admins always see the whole workspace).
#[utoipa::path(patch, path = "/api/v1/roles/{role}", tag = "roles", security(("bearer" = [])), request_body = UpdateRole,
    params(("role" = Role, Path, description = "admin, manager, sales or service")),
    responses((status = 200, body = RoleScope), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(role): ApiPath<Role>,
    ApiJson(body): ApiJson<UpdateRole>,
) -> ApiResult<Json<RoleScope>> {
    caller.require_admin("change roles")?;
    let mut tx = state.db.begin().await?;
    let r = roles::set_scope(&mut tx, &caller.actor(), role, body.data_scope, state.clock.now()).await?;
    tx.commit().await?;
    Ok(Json(r))
}
