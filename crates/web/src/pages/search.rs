//! The search page behind the header's search box (which suggests as you type
//! through `/api/v1/search`).

use super::{fail, render, Chrome, PageError};
use crate::auth::PageCaller;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use guanxi_store::search::{self, Hit};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage<'a> {
    chrome: Chrome<'a>,
    q: String,
    too_short: bool,
    hits: Vec<Hit>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct SearchQuery {
    #[serde(default)]
    q: String,
}

pub(super) async fn show(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Query(q): Query<SearchQuery>,
) -> Result<Response, PageError> {
    let too_short = guanxi_domain::search::plan(&q.q).is_none();
    let hits = if too_short {
        Vec::new()
    } else {
        search::search(&state.db, caller.principal.viewer(), &q.q, 50)
            .await
            .map_err(|e| fail(&state, &caller)(e.into()))?
    };
    let chrome = Chrome::new(&state, &caller, "", "search.title");
    Ok(render(&SearchPage { chrome, q: q.q, too_short, hits }))
}
