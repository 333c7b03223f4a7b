//! 工作台 (the day's hooks, accounts about to return to the pool, approvals
//! waiting) and the logging form (记录跟进): a touch with its hook in one
//! screen, on a phone too.

use super::{fail, render, show_time, Chrome, PageError, MISSING};
use crate::api::activities::{self as api, ActivityInput, HookInput, LearnedInput};
use crate::auth::{Caller, PageCaller};
use crate::error::ApiError;
use crate::i18n::Tr;
use crate::json::ApiPath;
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use guanxi_domain::{AccountId, ActivityKind, LearnedKind, NoHookReason, Outcome, TaskId};
use guanxi_store::accounts::{self, AccountFilter, AccountSort};
use guanxi_store::activities;
use guanxi_store::contacts::{self, ContactFilter};
use serde::Deserialize;
use uuid::Uuid;

type PageResult = Result<Response, PageError>;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/workbench", get(workbench))
        .route("/stats", get(stats))
        .route("/activities", get(feed))
        .route("/calendar/{file}", get(api::calendar))
        .route("/workbench/calendar", post(calendar_link))
        .route("/tasks/{id}/done", post(task_done))
        .route("/accounts/{id}/log", get(log_form).post(log))
}

/// One task as the workbench lists it.
struct TaskRow {
    id: String,
    account_id: String,
    account_name: String,
    contact: String,
    due: String,
    overdue: bool,
    purpose: String,
}

#[derive(Template)]
#[template(path = "workbench.html")]
struct WorkbenchPage<'a> {
    chrome: Chrome<'a>,
    tasks: Vec<TaskRow>,
    returning: Vec<(String, String, i64)>,
    approvals: i64,
    /// The private calendar address, just issued (shown once).
    calendar_url: Option<String>,
    /// Birthdays within a week of people at my accounts: (contact id, name, account, MM-DD, days to go).
    birthdays: Vec<(String, String, String, String, i64)>,
    /// Holidays within a week (from the lunisolar calendar): (name, MM-DD, days to go).
    holidays: Vec<(&'static str, String, i64)>,
}

async fn workbench(State(state): State<AppState>, PageCaller(caller): PageCaller) -> PageResult {
    render_workbench(&state, &caller, None).await
}

async fn calendar_link(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    headers: axum::http::HeaderMap,
) -> PageResult {
    let feed = api::calendar_feed(&state, &caller, &headers).await.map_err(fail(&state, &caller))?;
    render_workbench(&state, &caller, Some(feed.url)).await
}

async fn render_workbench(state: &AppState, caller: &Caller, calendar_url: Option<String>) -> PageResult {
    let p = &caller.principal;
    let now = state.clock.now();
    let until = api::end_of_today(state, caller);
    let tasks = activities::worklist(&state.db, p.workspace_id, p.user_id, until, 200)
        .await
        .map_err(|e| fail(state, caller)(e.into()))?
        .into_iter()
        .map(|t| TaskRow {
            id: t.id.to_string(),
            account_id: t.account_id.to_string(),
            account_name: t.account_name,
            contact: t.contact_name.unwrap_or_default(),
            due: show_time(t.due_at, &p.time_zone),
            overdue: t.due_at < now,
            purpose: t.purpose,
        })
        .collect();
    // My accounts returning to the pool within a week, soonest first.
    let mine = AccountFilter { sort: AccountSort::ReleaseDue, owner_id: Some(p.user_id), ..AccountFilter::default() };
    let returning = accounts::list(&state.db, p.viewer(), &mine, 20)
        .await
        .map_err(|e| fail(state, caller)(e.into()))?
        .into_iter()
        .filter_map(|a| {
            let days = guanxi_domain::pool::days_left(a.ownership.release_due_at?, now);
            (days <= 7).then(|| (a.id.to_string(), a.name, days))
        })
        .collect();
    let approvals = if caller.principal.role.is_admin() || caller.principal.role == guanxi_domain::Role::Manager {
        let inbox = crate::api::requests::inbox_of(caller, Some("to_decide")).map_err(fail(state, caller))?;
        guanxi_store::requests::count(&state.db, p.workspace_id, inbox)
            .await
            .map_err(|e| fail(state, caller)(e.into()))?
    } else {
        0
    };
    let chrome = Chrome::new(state, caller, "/workbench", "nav.workbench");
    let today = state.today();
    let mut birthdays: Vec<_> = guanxi_store::contacts::birthdays_of(&state.db, p.workspace_id, p.user_id)
        .await
        .map_err(|e| fail(state, caller)(e.into()))?
        .into_iter()
        .filter_map(|b| {
            let next = guanxi_domain::Birthday::from_iso(&b.birthday)?.next_on_or_after(today);
            let days = (next - today).num_days();
            (days <= 7)
                .then(|| (b.contact_id.to_string(), b.name, b.account_name, next.format("%m-%d").to_string(), days))
        })
        .collect();
    birthdays.sort_by_key(|b| b.4);
    let holidays = guanxi_domain::holiday::upcoming(today, 7)
        .into_iter()
        .map(|(h, on)| {
            let name = if p.locale == guanxi_domain::Locale::ZhCn { h.label_zh() } else { h.label_en() };
            (name, on.format("%m-%d").to_string(), (on - today).num_days())
        })
        .collect();
    Ok(render(&WorkbenchPage { chrome, tasks, returning, approvals, calendar_url, birthdays, holidays }))
}

async fn task_done(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> PageResult {
    let _done = api::done(State(state.clone()), caller.clone(), ApiPath(id)).await.map_err(fail(&state, &caller))?;
    Ok(Redirect::to("/workbench").into_response())
}

/// The form as typed, kept when it is shown again with errors.
#[derive(Debug, Default, Clone)]
struct LogForm {
    kind: String,
    outcome: String,
    minutes: String,
    contacts: Vec<String>,
    notes: String,
    learned_kind: String,
    learned_text: String,
    hook_date: String,
    hook_time: String,
    purpose: String,
    hook_contact: String,
    no_hook_reason: String,
    task: String,
    /// The deal it was for (关联商机).
    opportunity: String,
}

#[derive(Template)]
#[template(path = "activity_form.html")]
struct LogPage<'a> {
    chrome: Chrome<'a>,
    account_id: String,
    account_name: String,
    form: LogForm,
    /// The account's open or won deals: (id, name).
    deals: Vec<(String, String)>,
    kinds: Vec<(&'static str, String)>,
    outcomes: Vec<(&'static str, String)>,
    learned_kinds: Vec<(&'static str, String)>,
    reasons: Vec<(&'static str, String)>,
    people: Vec<(String, String)>,
    task_purpose: Option<String>,
    errors: Vec<String>,
    /// 话术 beside the form, filled for this account: (kind key, title, text).
    scripts: Vec<(String, String, String)>,
}

#[derive(Debug, Default, Deserialize)]
struct LogQuery {
    task: Option<Uuid>,
    opportunity: Option<Uuid>,
}

async fn log_form(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
    Query(q): Query<LogQuery>,
) -> PageResult {
    // Tomorrow at 10:00 is a good default hook; the user makes it precise.
    let tz: chrono_tz::Tz = caller.principal.time_zone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    let tomorrow = state.clock.now().with_timezone(&tz).date_naive() + chrono::Days::new(1);
    let form = LogForm {
        kind: "call".into(),
        outcome: "connected".into(),
        hook_date: tomorrow.to_string(),
        hook_time: "10:00".into(),
        task: q.task.map(|t| t.to_string()).unwrap_or_default(),
        opportunity: q.opportunity.map(|o| o.to_string()).unwrap_or_default(),
        ..LogForm::default()
    };
    log_page(&state, &caller, AccountId::from_uuid(id), form, Vec::new()).await
}

/// The people of an account, for a form's choice: (id, name).
pub(super) async fn people_of(
    state: &AppState,
    caller: &Caller,
    id: AccountId,
) -> Result<Vec<(String, String)>, PageError> {
    Ok(contacts::list(
        &state.db,
        caller.principal.viewer(),
        &ContactFilter { account_id: Some(id), ..Default::default() },
        200,
    )
    .await
    .map_err(|e| fail(state, caller)(e.into()))?
    .into_iter()
    .map(|c| (c.id.to_string(), c.name))
    .collect())
}

async fn log_page(state: &AppState, caller: &Caller, id: AccountId, form: LogForm, errors: Vec<String>) -> PageResult {
    let viewer = caller.principal.viewer();
    let a = accounts::get(&state.db, viewer, id).await.map_err(|e| fail(state, caller)(e.into()))?;
    let people = people_of(state, caller, id).await?;
    // The account's deals still in play, to link the touch to one.
    let filter = guanxi_store::opportunities::OpportunityFilter { account_id: Some(id), ..Default::default() };
    let deals = guanxi_store::opportunities::list(&state.db, viewer, &filter, 200)
        .await
        .map_err(|e| fail(state, caller)(e.into()))?
        .into_iter()
        .filter(|o| o.status != guanxi_domain::OpportunityStatus::Lost)
        .map(|o| (o.id.to_string(), o.name))
        .collect();
    // The hook this touch carries out: the user's own, open one.
    let task_purpose = match form.task.parse::<Uuid>() {
        Ok(t) => activities::task(&state.db, caller.principal.workspace_id, TaskId::from_uuid(t))
            .await
            .ok()
            .filter(|x| x.assignee_id == caller.principal.user_id && x.status == "open")
            .map(|x| x.purpose),
        Err(_) => None,
    };
    let scripts = crate::api::scripts::rendered(state, caller, None, Some(id), None)
        .await
        .map_err(fail(state, caller))?
        .into_iter()
        .map(|r| (format!("script_kind.{}", r.script.kind.as_str()), r.script.title, r.text))
        .collect();
    let labels = |prefix: &str, ids: Vec<&'static str>| ids.into_iter().map(|v| (v, format!("{prefix}.{v}"))).collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = LogPage {
        chrome: Chrome::new(state, caller, "/accounts", "activities.log"),
        account_id: a.id.to_string(),
        account_name: a.name,
        form,
        kinds: labels("activity_kind", ActivityKind::ALL.iter().map(|k| k.as_str()).collect()),
        outcomes: labels("outcome", Outcome::ALL.iter().map(|k| k.as_str()).collect()),
        learned_kinds: labels("learned", LearnedKind::ALL.iter().map(|k| k.as_str()).collect()),
        reasons: labels("no_hook", NoHookReason::ALL.iter().map(|k| k.as_str()).collect()),
        people,
        deals,
        task_purpose,
        errors,
        scripts,
    };
    let mut res = render(&page);
    *res.status_mut() = status;
    Ok(res)
}

/// A date and a time typed in the workspace's zone, as an instant.
pub(super) fn local_instant(date: &str, time: &str, tz: &str) -> Option<DateTime<Utc>> {
    let zone: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    let d = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").ok()?;
    let t = NaiveTime::parse_from_str(time.trim(), "%H:%M").ok()?;
    d.and_time(t).and_local_timezone(zone).earliest().map(|x| x.with_timezone(&Utc))
}

async fn log(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
    body: Bytes,
) -> PageResult {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let value = |k: &str| pairs.iter().find(|(key, _)| key == k).map_or(String::new(), |(_, v)| v.clone());
    let form = LogForm {
        kind: value("kind"),
        outcome: value("outcome"),
        minutes: value("minutes"),
        contacts: pairs.iter().filter(|(k, _)| k == "contact").map(|(_, v)| v.clone()).collect(),
        notes: value("notes"),
        learned_kind: value("learned_kind"),
        learned_text: value("learned_text"),
        hook_date: value("hook_date"),
        hook_time: value("hook_time"),
        purpose: value("purpose"),
        hook_contact: value("hook_contact"),
        no_hook_reason: value("no_hook_reason"),
        task: value("task"),
        opportunity: value("opportunity"),
    };
    let tr = Tr::new(&state.i18n, caller.principal.locale);
    let account = AccountId::from_uuid(id);
    let input = match input_of(&form, &caller.principal.time_zone, tr) {
        Ok(i) => i,
        Err(errors) => return log_page(&state, &caller, account, form, errors).await,
    };
    match api::log_activity(&state, &caller, ActivityInput { account_id: id, ..input }).await {
        Ok(_) => Ok(Redirect::to(&format!("/accounts/{id}?tab=activities")).into_response()),
        Err(e) => {
            let errors = super::form_errors(tr, e).map_err(fail(&state, &caller))?;
            log_page(&state, &caller, account, form, errors).await
        }
    }
}

/// The API input of the form; what the form itself cannot say (an unknown
/// choice, a number that is not one) is reported in words.
fn input_of(f: &LogForm, tz: &str, tr: Tr<'_>) -> Result<ActivityInput, Vec<String>> {
    let mut errors = Vec::new();
    let kind = ActivityKind::parse(&f.kind);
    let outcome = Outcome::parse(&f.outcome);
    if kind.is_none() || outcome.is_none() {
        errors.push(tr.t("activities.choose").to_owned());
    }
    let minutes = match f.minutes.trim() {
        "" => None,
        m => match m.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(tr.t("activities.minutes_number").to_owned());
                None
            }
        },
    };
    let no_hook_reason = NoHookReason::parse(&f.no_hook_reason);
    let hook = if no_hook_reason.is_some() {
        None
    } else {
        match local_instant(&f.hook_date, &f.hook_time, tz) {
            Some(due_at) => {
                Some(HookInput { due_at, purpose: f.purpose.clone(), contact_id: f.hook_contact.parse().ok() })
            }
            None => {
                errors.push(tr.t("activities.hook_time").to_owned());
                None
            }
        }
    };
    let learned = (!f.learned_text.trim().is_empty())
        .then(|| {
            LearnedKind::parse(&f.learned_kind).map(|kind| vec![LearnedInput { kind, text: f.learned_text.clone() }])
        })
        .flatten();
    if !errors.is_empty() {
        return Err(errors);
    }
    let (Some(kind), Some(outcome)) = (kind, outcome) else { return Err(errors) };
    Ok(ActivityInput {
        account_id: Uuid::nil(),
        contact_ids: Some(f.contacts.iter().filter_map(|c| c.parse().ok()).collect()),
        kind,
        started_at: None,
        duration_minutes: minutes,
        outcome,
        notes: Some(f.notes.clone()),
        learned,
        hook,
        no_hook_reason,
        fulfils_task_id: f.task.parse().ok(),
        opportunity_id: f.opportunity.parse().ok(),
    })
}

/// One touch as an account's 活动 tab shows it.
pub(super) struct TimelineRow {
    pub account_id: String,
    pub account_name: String,
    pub when: String,
    pub author: String,
    pub kind_key: String,
    pub outcome_key: String,
    pub people: String,
    pub notes: String,
    pub learned: Vec<(String, String)>,
    pub hook: Option<(String, String, String)>,
    pub no_hook_key: Option<String>,
    pub refused: bool,
    /// The deal it was for: (id, name).
    pub deal: Option<(String, String)>,
}

/// Whether a hook was kept: carried out by its time, late, missed (open and
/// overdue), or still ahead.
fn hook_state(t: &activities::Task, now: DateTime<Utc>) -> &'static str {
    match (t.status.as_str(), t.done_at) {
        ("open", _) if t.due_at < now => "task_status.missed",
        ("done", Some(done)) if done <= t.due_at => "task_status.kept",
        ("done", _) => "task_status.late",
        ("cancelled", _) => "task_status.cancelled",
        _ => "task_status.open",
    }
}

/// The latest touches of an account or a contact, for their pages.
pub(super) async fn timeline_of(
    state: &AppState,
    caller: &Caller,
    of: activities::Of,
) -> Result<Vec<TimelineRow>, PageError> {
    let tz = caller.principal.time_zone.as_str();
    let now = state.clock.now();
    let rows = activities::timeline(&state.db, caller.principal.viewer(), of, None, 50)
        .await
        .map_err(|e| fail(state, caller)(ApiError::from(e)))?;
    Ok(rows
        .into_iter()
        .map(|v| TimelineRow {
            account_id: v.account_id.to_string(),
            account_name: v.account_name.clone(),
            when: show_time(v.started_at, tz),
            author: v.author_name,
            kind_key: format!("activity_kind.{}", v.kind.as_str()),
            outcome_key: format!("outcome.{}", v.outcome.as_str()),
            refused: v.outcome == Outcome::Refused,
            people: if v.contacts.is_empty() {
                MISSING.to_owned()
            } else {
                v.contacts.iter().map(|c| c.1.clone()).collect::<Vec<_>>().join("、")
            },
            notes: v.notes.unwrap_or_default(),
            learned: v.learned.into_iter().map(|l| (format!("learned.{}", l.kind.as_str()), l.text)).collect(),
            hook: v.hook.map(|h| (show_time(h.due_at, tz), h.purpose.clone(), hook_state(&h, now).to_owned())),
            no_hook_key: v.no_hook_reason.map(|r| format!("no_hook.{}", r.as_str())),
            deal: v.opportunity_id.zip(v.opportunity_name).map(|(id, name)| (id.to_string(), name)),
        })
        .collect())
}

#[derive(Template)]
#[template(path = "stats.html")]
struct StatsPage<'a> {
    chrome: Chrome<'a>,
    /// (name, touches, share with a hook, hooks due, share kept, overdue)
    people: Vec<(String, i64, String, i64, String, i64)>,
    /// (hour, calls, answer rate %)
    hours: Vec<(u32, u32, u32)>,
    best: String,
    learned: bool,
}

fn share(part: i64, whole: i64) -> String {
    if whole == 0 {
        MISSING.to_owned()
    } else {
        format!("{}%", part * 100 / whole)
    }
}

async fn stats(State(state): State<AppState>, PageCaller(caller): PageCaller) -> PageResult {
    let now = state.clock.now();
    let people = activities::discipline(&state.db, caller.principal.viewer(), now - chrono::Duration::days(30), now)
        .await
        .map_err(|e| fail(&state, &caller)(e.into()))?
        .into_iter()
        .map(|d| {
            (d.name, d.activities, share(d.with_hook, d.activities), d.hooks_due, share(d.kept, d.hooks_due), d.overdue)
        })
        .collect();
    let calls = api::call_hours_of(&state, &caller, None).await.map_err(fail(&state, &caller))?;
    let hours = calls
        .by_hour
        .iter()
        .filter(|h| (8..=20).contains(&h.hour))
        .map(|h| (h.hour, h.calls, (h.connected * 100).checked_div(h.calls).unwrap_or(0)))
        .collect();
    let best = calls.best.iter().map(|h| format!("{h}:00–{}:00", h + 1)).collect::<Vec<_>>().join("、");
    let chrome = Chrome::new(&state, &caller, "/stats", "nav.stats");
    Ok(render(&StatsPage { chrome, people, hours, best, learned: calls.learned }))
}

#[derive(Template)]
#[template(path = "activities_feed.html")]
struct FeedPage<'a> {
    chrome: Chrome<'a>,
    activities: Vec<TimelineRow>,
    /// Show each touch's account (the shared timeline template asks).
    feed: bool,
}

/// 活动: the latest touches on every account the user may see.
async fn feed(State(state): State<AppState>, PageCaller(caller): PageCaller) -> PageResult {
    let activities = timeline_of(&state, &caller, activities::Of::Visible).await?;
    let chrome = Chrome::new(&state, &caller, "/activities", "nav.activities");
    Ok(render(&FeedPage { chrome, activities, feed: true }))
}
