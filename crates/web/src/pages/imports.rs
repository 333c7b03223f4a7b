//! 导入: upload a file (in chunks, with a progress bar, resuming after a
//! dropped connection), check its column mapping, try it as a dry run, then
//! import; each import's page follows its progress and shows its report,
//! the bad rows to download, and undo. The upload and mapping steps are the
//! page's script talking to the JSON API; the rest is forms.

use super::{fail, render, show_time, Chrome, PageError, MISSING};
use crate::api::imports::{self as api, undo_refusal, visible};
use crate::auth::PageCaller;
use crate::error::ApiError;
use crate::json::ApiPath;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use guanxi_domain::ImportId;
use guanxi_exchange::fields::Kind;
use guanxi_store::imports::{self, Import};
use serde::Deserialize;
use uuid::Uuid;

type PageResult = Result<Response, PageError>;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/imports", get(list))
        .route("/imports/{id}", get(detail))
        .route("/imports/{id}/commit", post(commit))
        .route("/imports/{id}/undo", post(undo))
}

/// An import as a row of the history.
struct Row {
    id: String,
    when: String,
    file_name: String,
    kind: &'static str,
    status: &'static str,
    dry_run: bool,
    counts: String,
    by: String,
}

fn kind_key(kind: &str) -> &'static str {
    match kind {
        "contacts" => "nav.contacts",
        "activities" => "imports.kind_activities",
        "opportunities" => "imports.kind_opportunities",
        _ => "nav.accounts",
    }
}

fn status_key(status: &str) -> &'static str {
    match status {
        "queued" => "imports.status_queued",
        "running" => "imports.status_running",
        "done" => "imports.status_done",
        "undone" => "imports.status_undone",
        _ => "imports.status_failed",
    }
}

fn is_dry(i: &Import) -> bool {
    i.options.get("dry_run").and_then(|v| v.as_bool()).unwrap_or(false)
}

#[derive(Template)]
#[template(path = "imports.html")]
struct ListPage<'a> {
    chrome: Chrome<'a>,
    kind: String,
    presets: Vec<(&'static str, &'static str)>,
    /// (id, name, kind, preset, columns as JSON)
    mappings: Vec<(String, String, String, String, String)>,
    /// Field key → label, for the mapping editor (JSON).
    labels: String,
    max_upload: u64,
    rows: Vec<Row>,
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    #[serde(default)]
    kind: String,
}

/// The labels of every field a column can fill, in the user's language.
fn field_labels(chrome: &Chrome<'_>) -> String {
    let mut map = serde_json::Map::new();
    for kind in Kind::ALL {
        for f in kind.fields() {
            let key = format!("import_field.{}", f.key);
            let text = chrome.tr.t(&key);
            let label = if text == key { f.key.to_owned() } else { text.to_owned() };
            map.insert(f.key.to_owned(), serde_json::Value::String(label));
        }
    }
    serde_json::Value::Object(map).to_string()
}

async fn list(State(state): State<AppState>, PageCaller(caller): PageCaller, Query(q): Query<ListQuery>) -> PageResult {
    let err = fail(&state, &caller);
    let p = &caller.principal;
    let user = (!p.role.is_admin()).then_some(p.user_id);
    let tz = p.time_zone.as_str();
    let rows = imports::list(&state.db, p.workspace_id, user, None, 50)
        .await
        .map_err(|e| err(e.into()))?
        .into_iter()
        .map(|i| Row {
            id: i.id.to_string(),
            when: show_time(i.created_at, tz),
            dry_run: is_dry(&i),
            kind: kind_key(&i.kind),
            status: status_key(&i.status),
            counts: format!("{} / {} / {} / {}", i.created, i.updated + i.merged, i.unchanged, i.failed),
            by: i.actor.clone(),
            file_name: i.file_name,
        })
        .collect();
    let mappings = imports::mappings(&state.db, p.workspace_id)
        .await
        .map_err(|e| err(e.into()))?
        .into_iter()
        .map(|m| (m.id.to_string(), m.name, m.kind, m.preset.unwrap_or_default(), m.columns.to_string()))
        .collect();
    let chrome = Chrome::new(&state, &caller, "/accounts", "imports.title");
    let labels = field_labels(&chrome);
    let presets = guanxi_exchange::mapping::presets().iter().map(|p| (p.name.as_str(), p.label.as_str())).collect();
    let kind = match q.kind.as_str() {
        "accounts" | "contacts" | "activities" | "opportunities" => q.kind.clone(),
        _ => String::new(),
    };
    Ok(render(&ListPage { chrome, kind, presets, mappings, labels, max_upload: state.config.max_upload, rows }))
}

/// A problem of the report, as shown.
struct ProblemRow {
    line: String,
    row: String,
    column: String,
    message: String,
    severity: &'static str,
}

#[derive(Template)]
#[template(path = "import_detail.html")]
struct DetailPage<'a> {
    chrome: Chrome<'a>,
    i: Import,
    when: String,
    finished: String,
    kind: &'static str,
    status: &'static str,
    dry_run: bool,
    percent: i64,
    running: bool,
    problems: Vec<ProblemRow>,
    problems_total: i64,
    mapping: Vec<(String, String)>,
    can_commit: bool,
    undo_refusal: Option<String>,
    undo_days: i64,
    notice: Option<&'static str>,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct DetailQuery {
    #[serde(default)]
    ok: String,
}

async fn detail(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
    Query(q): Query<DetailQuery>,
) -> PageResult {
    let notice = match q.ok.as_str() {
        "undone" => Some("imports.undone"),
        _ => None,
    };
    show(&state, &caller, id, notice, None).await
}

/// The import's page, with a notice or the error of a refused commit or undo.
async fn show(
    state: &AppState,
    caller: &crate::auth::Caller,
    id: Uuid,
    notice: Option<&'static str>,
    error: Option<String>,
) -> PageResult {
    let err = fail(state, caller);
    let i = visible(state, caller, ImportId::from_uuid(id)).await.map_err(&err)?;
    let chrome = Chrome::new(state, caller, "/accounts", "imports.title");
    let tz = caller.principal.time_zone.as_str();
    let report = i.report.clone().unwrap_or_default();
    let problems: Vec<ProblemRow> = report
        .get("problems")
        .and_then(|p| p.as_array())
        .map(|ps| {
            ps.iter()
                .take(200)
                .map(|p| ProblemRow {
                    line: p.get("line").map(|v| v.to_string()).unwrap_or_default(),
                    row: p.get("row").map(|v| v.to_string()).unwrap_or_default(),
                    column: p.get("column").and_then(|v| v.as_str()).unwrap_or(MISSING).to_owned(),
                    message: p.get("message").and_then(|v| v.as_str()).unwrap_or_default().to_owned(),
                    severity: match p.get("severity").and_then(|v| v.as_str()) {
                        Some("error") => "imports.severity_error",
                        Some("warning") => "imports.severity_warning",
                        _ => "imports.severity_note",
                    },
                })
                .collect()
        })
        .unwrap_or_default();
    let problems_total = report.get("problems_kept").and_then(|v| v.as_i64()).unwrap_or(problems.len() as i64);
    let mapping = report
        .get("mapping")
        .and_then(|m| m.as_array())
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let column = c.get("column").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
                    let field = c.get("field").and_then(|v| v.as_str()).unwrap_or_default();
                    let key = format!("import_field.{field}");
                    let label = chrome.tr.t(&key);
                    (column, if label == key { field.to_owned() } else { label.to_owned() })
                })
                .collect()
        })
        .unwrap_or_default();
    let percent = if i.file_size > 0 { (i.bytes_read * 100 / i.file_size).clamp(0, 100) } else { 100 };
    let dry_run = is_dry(&i);
    Ok(render(&DetailPage {
        when: show_time(i.created_at, tz),
        finished: i.finished_at.map_or(MISSING.to_owned(), |t| show_time(t, tz)),
        kind: kind_key(&i.kind),
        status: status_key(&i.status),
        running: matches!(i.status.as_str(), "queued" | "running"),
        can_commit: dry_run && i.status == "done" && i.file_id.is_some(),
        undo_refusal: if dry_run { None } else { undo_refusal(state, &i) },
        undo_days: state.config.import_undo_days,
        dry_run,
        percent,
        problems,
        problems_total,
        mapping,
        notice,
        error,
        chrome,
        i,
    }))
}

/// Runs a finished dry run's file and options for real.
async fn commit(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> PageResult {
    let err = fail(&state, &caller);
    let dry = visible(&state, &caller, ImportId::from_uuid(id)).await.map_err(&err)?;
    let dry_run = dry.options.get("dry_run").and_then(|v| v.as_bool()).unwrap_or(false);
    if !dry_run || dry.status != "done" || dry.file_id.is_none() {
        let e = ApiError::Conflict {
            code: "not_a_dry_run",
            detail: "only a finished dry run of an uploaded file can be imported from here".into(),
            errors: Vec::new(),
        };
        return refused(&state, &caller, id, &e).await;
    }
    let mut options = dry.options.clone();
    if let Some(o) = options.as_object_mut() {
        o.insert("dry_run".into(), false.into());
        o.insert("file_id".into(), serde_json::json!(dry.file_id));
    }
    let input: api::ImportInput =
        serde_json::from_value(options).map_err(|e| err(ApiError::Internal(e.to_string())))?;
    match api::create(State(state.clone()), caller.clone(), crate::json::ApiJson(input)).await {
        Ok((_, axum::Json(created))) => Ok(Redirect::to(&format!("/imports/{}", created.id)).into_response()),
        Err(e) => refused(&state, &caller, id, &e).await,
    }
}

async fn undo(State(state): State<AppState>, PageCaller(caller): PageCaller, ApiPath(id): ApiPath<Uuid>) -> PageResult {
    match api::undo(State(state.clone()), caller.clone(), ApiPath(id)).await {
        Ok(_) => Ok(Redirect::to(&format!("/imports/{id}?ok=undone")).into_response()),
        Err(ApiError::NotFound) => Err(PageError::from_api(ApiError::NotFound, &state, Some(caller))),
        Err(e) => refused(&state, &caller, id, &e).await,
    }
}

/// The import's page again, saying why the commit or undo was refused.
async fn refused(state: &AppState, caller: &crate::auth::Caller, id: Uuid, e: &ApiError) -> PageResult {
    let (_, _, detail) = e.parts();
    let mut page = show(state, caller, id, None, Some(detail)).await?;
    *page.status_mut() = e.parts().0;
    Ok(page)
}
