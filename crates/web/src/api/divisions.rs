//! Administrative divisions (行政区划) for region pickers: provinces, then
//! the cities of a province, then the districts of a city.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::ApiQuery;
use axum::Json;
use serde::{Deserialize, Serialize};

/// Whose children to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DivisionQuery {
    /// A province or city code (210000, 210100); without it, the provinces.
    pub parent: Option<String>,
}

/// One division.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Division {
    /// Six-digit GB/T 2260 code.
    pub code: String,
    /// Name (辽宁省, 沈阳市, 和平区).
    pub name: &'static str,
}

/// The divisions directly below `parent` (a municipality's are its districts).
#[utoipa::path(get, path = "/api/v1/divisions", tag = "accounts", security(("bearer" = [])), params(DivisionQuery),
    responses((status = 200, body = Vec<Division>), (status = 422, body = Problem)))]
pub async fn list(_caller: Caller, ApiQuery(q): ApiQuery<DivisionQuery>) -> ApiResult<Json<Vec<Division>>> {
    if let Some(p) = &q.parent {
        guanxi_domain::parse_division_code("parent", p).map_err(|e| ApiError::Validation(vec![e]))?;
    }
    let items = guanxi_domain::division_children(q.parent.as_deref().map(str::trim));
    Ok(Json(items.into_iter().map(|(code, name)| Division { code, name }).collect()))
}
