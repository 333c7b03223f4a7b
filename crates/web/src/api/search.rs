//! One search box over accounts and contacts.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::ApiQuery;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use guanxi_domain::search::{plan, MIN_QUERY_CHARS};
use guanxi_store::search::{self, Hit};
use serde::{Deserialize, Serialize};

/// What to search for.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Two or more characters of a name (any piece: 华为, 东北分部), pinyin in full or
    /// initials (`gwdb`), phone digits (first or last four or more), or a USCC.
    pub q: String,
    /// Results, 1–50 (default 20).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<usize>,
}

/// Search results, best first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchResults {
    /// Accounts and contacts the caller may see.
    pub items: Vec<Hit>,
}

/// Finds accounts and contacts by any piece of their name, pinyin, phone or USCC, within the caller's scope.
#[utoipa::path(get, path = "/api/v1/search", tag = "search", security(("bearer" = [])), params(SearchQuery),
    responses((status = 200, body = SearchResults), (status = 422, body = Problem)))]
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> ApiResult<Json<SearchResults>> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=50).contains(&limit) {
        return Err(ApiError::field("limit", "out_of_range", "limit must be between 1 and 50"));
    }
    if plan(&q.q).is_none() {
        return Err(ApiError::field(
            "q",
            "too_short",
            format!("q must have at least {MIN_QUERY_CHARS} letters, digits or characters"),
        ));
    }
    let items = search::search(&state.db, caller.principal.viewer(), &q.q, limit).await?;
    Ok(Json(SearchResults { items }))
}
