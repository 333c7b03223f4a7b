//! 新建任务: a to-do on an account at a precise time, once or recurring
//! (revisit every N days until a date, or for ever, said so).

use super::activities::{local_instant, people_of};
use super::{fail, form_errors, render, Chrome, PageError};
use crate::api::activities::{self as api, TaskInput};
use crate::auth::{Caller, PageCaller};
use crate::i18n::Tr;
use crate::json::ApiPath;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use guanxi_domain::AccountId;
use guanxi_store::accounts;
use serde::Deserialize;
use uuid::Uuid;

type PageResult = Result<Response, PageError>;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/accounts/{id}/tasks/new", get(form).post(create))
}

#[derive(Debug, Default, Deserialize)]
struct TaskForm {
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    time: String,
    #[serde(default)]
    contact: String,
    /// Empty: once.
    #[serde(default)]
    every: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    forever: Option<String>,
}

#[derive(Template)]
#[template(path = "task_form.html")]
struct TaskPage<'a> {
    chrome: Chrome<'a>,
    account_id: String,
    account_name: String,
    people: Vec<(String, String)>,
    form: TaskForm,
    errors: Vec<String>,
}

async fn show(state: &AppState, caller: &Caller, id: AccountId, form: TaskForm, errors: Vec<String>) -> PageResult {
    let viewer = caller.principal.viewer();
    let a = accounts::get(&state.db, viewer, id).await.map_err(|e| fail(state, caller)(e.into()))?;
    let people = people_of(state, caller, id).await?;
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = TaskPage {
        chrome: Chrome::new(state, caller, "/accounts", "tasks.new"),
        account_id: a.id.to_string(),
        account_name: a.name,
        people,
        form,
        errors,
    };
    let mut res = render(&page);
    *res.status_mut() = status;
    Ok(res)
}

async fn form(State(state): State<AppState>, PageCaller(caller): PageCaller, ApiPath(id): ApiPath<Uuid>) -> PageResult {
    let tz: chrono_tz::Tz = caller.principal.time_zone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    let tomorrow = state.clock.now().with_timezone(&tz).date_naive() + chrono::Days::new(1);
    let f = TaskForm { date: tomorrow.to_string(), time: "10:00".into(), ..TaskForm::default() };
    show(&state, &caller, AccountId::from_uuid(id), f, Vec::new()).await
}

async fn create(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
    Form(f): Form<TaskForm>,
) -> PageResult {
    let tr = Tr::new(&state.i18n, caller.principal.locale);
    let tz = caller.principal.time_zone.clone();
    let account = AccountId::from_uuid(id);
    let mut errors = Vec::new();
    let due_at = local_instant(&f.date, &f.time, &tz);
    if due_at.is_none() {
        errors.push(tr.t("activities.hook_time").to_owned());
    }
    let every = match f.every.trim() {
        "" => None,
        n => match n.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(format!("{}：{}", tr.t("tasks.every"), tr.t("errors.out_of_range")));
                None
            }
        },
    };
    // The recurrence ends at the end of the day chosen.
    let until = (!f.until.trim().is_empty()).then(|| local_instant(&f.until, "23:59", &tz)).flatten();
    if !f.until.trim().is_empty() && until.is_none() {
        errors.push(format!("{}：{}", tr.t("tasks.until"), tr.t("errors.invalid_date")));
    }
    let Some(due_at) = due_at.filter(|_| errors.is_empty()) else {
        return show(&state, &caller, account, f, errors).await;
    };
    let input = TaskInput {
        account_id: id,
        contact_id: f.contact.parse().ok(),
        due_at,
        purpose: f.purpose.clone(),
        repeat_every_days: every,
        repeat_until: until,
        repeat_forever: f.forever.is_some(),
    };
    match api::add_task(&state, &caller, input).await {
        Ok(_) => Ok(Redirect::to(&format!("/accounts/{id}?tab=activities")).into_response()),
        Err(e) => {
            let errors = form_errors(tr, e).map_err(fail(&state, &caller))?;
            show(&state, &caller, account, f, errors).await
        }
    }
}
