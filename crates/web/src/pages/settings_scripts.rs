//! 设置 → 话术库: the script library and SPIN questions by kind; managers
//! and admins add, rewrite in place, and remove them.

use super::settings::Notice;
use super::{fail, form_errors, render, Chrome, PageError};
use crate::api::accounts::may_assign;
use crate::api::scripts::{self as api, ScriptInput};
use crate::auth::{Caller, PageCaller};
use crate::json::{ApiJson, ApiPath};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use guanxi_domain::ScriptKind;
use guanxi_store::scripts;
use serde::Deserialize;
use uuid::Uuid;

type PageResult = Result<Response, PageError>;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings/scripts", get(page).post(add))
        .route("/settings/scripts/{id}", post(save))
        .route("/settings/scripts/{id}/delete", post(remove))
}

#[derive(Debug, Default, Deserialize)]
struct ScriptForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
}

/// (id, title, wording)
type ScriptRow = (String, String, String);

#[derive(Template)]
#[template(path = "settings_scripts.html")]
struct ScriptsPage<'a> {
    chrome: Chrome<'a>,
    section: &'static str,
    notice: Option<&'static str>,
    errors: Vec<String>,
    may_edit: bool,
    kinds: Vec<&'static str>,
    /// The scripts by kind.
    groups: Vec<(&'static str, Vec<ScriptRow>)>,
    form: ScriptForm,
}

async fn show(
    state: &AppState,
    caller: &Caller,
    notice: Option<&'static str>,
    errors: Vec<String>,
    form: ScriptForm,
) -> PageResult {
    let all = scripts::list(&state.db, caller.principal.workspace_id, None)
        .await
        .map_err(|e| fail(state, caller)(e.into()))?;
    let groups = ScriptKind::ALL
        .iter()
        .map(|k| {
            let items = all
                .iter()
                .filter(|s| s.kind == *k)
                .map(|s| (s.id.to_string(), s.title.clone(), s.body.clone()))
                .collect::<Vec<_>>();
            (k.as_str(), items)
        })
        .filter(|(_, items)| !items.is_empty())
        .collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = ScriptsPage {
        chrome: Chrome::new(state, caller, "/settings", "settings.scripts"),
        section: "scripts",
        notice,
        errors,
        may_edit: may_assign(caller),
        kinds: ScriptKind::ALL.iter().map(|k| k.as_str()).collect(),
        groups,
        form,
    };
    let mut res = render(&page);
    *res.status_mut() = status;
    Ok(res)
}

async fn page(State(state): State<AppState>, PageCaller(caller): PageCaller, Query(n): Query<Notice>) -> PageResult {
    show(&state, &caller, n.key(), Vec::new(), ScriptForm::default()).await
}

fn no_kind() -> crate::error::ApiError {
    crate::error::ApiError::field("kind", "required", "choose what the script is for")
}

fn input(f: &ScriptForm) -> Option<ScriptInput> {
    Some(ScriptInput { kind: ScriptKind::parse(&f.kind)?, title: f.title.clone(), body: f.body.clone() })
}

async fn answer<T>(state: &AppState, caller: &Caller, f: ScriptForm, done: crate::error::ApiResult<T>) -> PageResult {
    match done {
        Ok(_) => Ok(Redirect::to("/settings/scripts?ok=1").into_response()),
        Err(e) => {
            let tr = crate::i18n::Tr::new(&state.i18n, caller.principal.locale);
            let errors = form_errors(tr, e).map_err(fail(state, caller))?;
            show(state, caller, None, errors, f).await
        }
    }
}

async fn add(State(state): State<AppState>, PageCaller(caller): PageCaller, Form(f): Form<ScriptForm>) -> PageResult {
    let Some(i) = input(&f) else { return answer::<()>(&state, &caller, f, Err(no_kind())).await };
    let done = api::create(State(state.clone()), caller.clone(), ApiJson(i)).await;
    answer(&state, &caller, f, done).await
}

async fn save(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
    Form(f): Form<ScriptForm>,
) -> PageResult {
    let Some(i) = input(&f) else { return answer::<()>(&state, &caller, f, Err(no_kind())).await };
    let done = api::update(State(state.clone()), caller.clone(), ApiPath(id), ApiJson(i)).await;
    answer(&state, &caller, f, done).await
}

async fn remove(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> PageResult {
    let _gone = api::delete(State(state.clone()), caller.clone(), ApiPath(id)).await.map_err(fail(&state, &caller))?;
    Ok(Redirect::to("/settings/scripts?ok=1").into_response())
}
