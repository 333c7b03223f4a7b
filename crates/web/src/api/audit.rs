//! The audit log, for admins.

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::json::ApiQuery;
use crate::pagination::{page, Page, PageQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use guanxi_domain::UserId;
use guanxi_store::audit::{self, AuditEntry, AuditFilter};
use serde::Deserialize;
use uuid::Uuid;

/// Audit log filters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this kind of record (`user`, `team`, `role`, `workspace`, `api_token`).
    pub entity_type: Option<String>,
    /// Only this record: its history.
    pub entity_id: Option<Uuid>,
    /// Only changes by this user.
    pub actor_id: Option<Uuid>,
    /// Rows per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// Every change in the workspace, newest first (admins only).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = Page<AuditEntry>), (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Page<AuditEntry>>> {
    caller.require_admin("read the audit log")?;
    let pq = PageQuery { limit: q.limit, cursor: q.cursor };
    let limit = pq.limit()?;
    let filter = AuditFilter {
        entity_type: q.entity_type,
        entity_id: q.entity_id,
        actor_id: q.actor_id.map(UserId::from_uuid),
        before: pq.after()?,
        ..Default::default()
    };
    let rows = audit::list(&state.db, caller.principal.viewer(), &filter, limit + 1).await?;
    Ok(Json(page(rows, limit, |e| e.id)))
}
