//! Activities (跟进记录) and tasks: logging a touch with its hook (钩子),
//! timelines, the worklist, and carrying out or moving a task.

use crate::auth::Caller;
use crate::error::{unknown_reference, ApiError, ApiResult, Problem};
use crate::json::{ApiJson, ApiPath, ApiQuery, Fields};
use crate::pagination::{keyed_cursor, Page, PageQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use guanxi_domain::activity::{check_hook_time, check_timing};
use guanxi_domain::{
    AccountId, ActivityId, ActivityKind, ContactId, FieldError, LearnedKind, NoHookReason, Notes, Outcome, ShortText,
    TaskId,
};
use guanxi_store::accounts;
use guanxi_store::activities::{self, Activity, Learned, NewActivity, NewHook, Of, Task};
use serde::Deserialize;
use uuid::Uuid;

/// Most people and learned items per touch.
const MAX_ITEMS: usize = 20;

/// The next step, agreed, at a precise time.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HookInput {
    /// When, precisely ("10:50", not "about 11"): in the future, within a year.
    pub due_at: DateTime<Utc>,
    /// What for (required).
    pub purpose: String,
    /// With whom, if one person (a contact of the account).
    pub contact_id: Option<Uuid>,
}

/// One fact learned.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LearnedInput {
    /// `budget`, `timeline`, `decision_maker`, `competitor`, `need` or `other`.
    pub kind: LearnedKind,
    /// The fact.
    pub text: String,
}

/// A touch as logged. Every touch leaves a `hook`, or says in `no_hook_reason` why not.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityInput {
    /// The account.
    pub account_id: Uuid,
    /// The people involved (contacts of the account).
    pub contact_ids: Option<Vec<Uuid>>,
    /// `call`, `visit`, `wechat`, `email` or `meeting`.
    pub kind: ActivityKind,
    /// When it started (default: now); not in the future.
    pub started_at: Option<DateTime<Utc>>,
    /// How long, minutes (0–1440).
    pub duration_minutes: Option<i64>,
    /// `connected`, `no_answer`, `refused`, `call_back`, `meeting_booked` or `info_obtained`.
    pub outcome: Outcome,
    /// Notes.
    pub notes: Option<String>,
    /// What was learned.
    pub learned: Option<Vec<LearnedInput>>,
    /// The hook it leaves.
    pub hook: Option<HookInput>,
    /// Or why it leaves none: `deal_lost`, `no_need`, `contact_left`, `already_planned`.
    pub no_hook_reason: Option<NoHookReason>,
    /// The open task this touch carries out (marked done).
    pub fulfils_task_id: Option<Uuid>,
    /// The deal it was for (关联商机): an opportunity of the same account.
    pub opportunity_id: Option<Uuid>,
}

fn parse(input: ActivityInput, now: DateTime<Utc>) -> ApiResult<NewActivity> {
    let mut f = Fields::default();
    let started_at = input.started_at.unwrap_or(now);
    for e in check_timing(started_at, input.duration_minutes, now) {
        f.push(e);
    }
    let contacts = input.contact_ids.unwrap_or_default();
    if contacts.len() > MAX_ITEMS {
        f.push(FieldError::new("contact_ids", "too_many", format!("contact_ids may name at most {MAX_ITEMS} people")));
    }
    let learned_in = input.learned.unwrap_or_default();
    if learned_in.len() > MAX_ITEMS {
        f.push(FieldError::new("learned", "too_many", format!("learned may list at most {MAX_ITEMS} items")));
    }
    let learned: Vec<Learned> = learned_in
        .into_iter()
        .enumerate()
        .filter_map(|(i, l)| {
            f.take(ShortText::parse(&format!("learned[{i}].text"), &l.text))
                .map(|t| Learned { kind: l.kind, text: t.into_string() })
        })
        .collect();
    let notes = match input.notes.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => f.take(Notes::parse("notes", n)).map(Notes::into_string),
        None => None,
    };
    let hook = match (input.hook, input.no_hook_reason) {
        (Some(_), Some(_)) => {
            f.push(FieldError::new("no_hook_reason", "conflict", "give a hook or a reason for none, not both"));
            None
        }
        (None, None) => {
            f.push(FieldError::new(
                "hook",
                "required",
                "every touch leaves a hook (hook.due_at and hook.purpose), or no_hook_reason says why not",
            ));
            None
        }
        (Some(h), None) => {
            let due = f.take(check_hook_time("hook.due_at", h.due_at, now)).map(|()| h.due_at);
            let purpose = f.take(ShortText::parse("hook.purpose", &h.purpose));
            due.zip(purpose).map(|(due_at, purpose)| NewHook {
                due_at,
                purpose: purpose.into_string(),
                contact_id: h.contact_id.map(ContactId::from_uuid),
            })
        }
        (None, Some(_)) => None,
    };
    f.finish()?;
    Ok(NewActivity {
        account_id: AccountId::from_uuid(input.account_id),
        contacts: contacts.into_iter().map(ContactId::from_uuid).collect(),
        kind: input.kind,
        started_at,
        duration_minutes: input.duration_minutes,
        outcome: input.outcome,
        notes,
        learned,
        hook,
        no_hook_reason: input.no_hook_reason,
        fulfils: input.fulfils_task_id.map(TaskId::from_uuid),
        opportunity_id: input.opportunity_id.map(guanxi_domain::OpportunityId::from_uuid),
    })
}

/// Logs a touch; the shared service of the API and the pages.
pub(crate) async fn log_activity(state: &AppState, caller: &Caller, input: ActivityInput) -> ApiResult<Activity> {
    let now = state.clock.now();
    let account = AccountId::from_uuid(input.account_id);
    let new = parse(input, now)?;
    let a = accounts::get(&state.db, caller.principal.viewer(), account)
        .await
        .map_err(unknown_reference("account_id", "account_id names no account you may see"))?;
    if a.deleted_at.is_some() {
        return Err(ApiError::field("account_id", "invalid", "the account is in the recycle bin"));
    }
    let mut tx = state.db.begin().await?;
    let activity = activities::log(&mut tx, &caller.actor(), caller.principal.user_id, &new, now).await?;
    tx.commit().await?;
    Ok(activity)
}

/// Logs a call, visit, message or meeting with its outcome, what was learned,
/// and its hook (or why none); restarts the account's no-activity clock.
#[utoipa::path(post, path = "/api/v1/activities", tag = "activities", security(("bearer" = [])), request_body = ActivityInput,
    responses((status = 201, body = Activity), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<ActivityInput>,
) -> ApiResult<(StatusCode, Json<Activity>)> {
    Ok((StatusCode::CREATED, Json(log_activity(&state, &caller, input).await?)))
}

/// Which touches to export.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// An account's touches.
    pub account_id: Option<Uuid>,
    /// Or a contact's; neither: every touch the caller sees.
    pub contact_id: Option<Uuid>,
    /// csv (default) or xlsx.
    pub format: Option<String>,
}

/// Exports touches, newest first, as CSV or XLSX in the column layout the
/// `guanxi` preset imports back (each row's `external_id` is the touch's id:
/// imported into the same workspace it changes nothing).
#[utoipa::path(get, path = "/api/v1/activities/export", tag = "activities", security(("bearer" = [])), params(ExportQuery),
    responses((status = 200, description = "the file",
        content((String = "text/csv"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 422, body = Problem)))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> ApiResult<axum::response::Response> {
    use crate::api::export::{failed, format_of, scratch, send_file};
    use guanxi_exchange::activities as x;
    use guanxi_exchange::sheet::{Format, Sheet};
    let format = if format_of(q.format.as_deref(), &["csv", "xlsx"])? == "xlsx" { Format::Xlsx } else { Format::Csv };
    let of = match (q.account_id, q.contact_id) {
        (Some(a), None) => Of::Account(AccountId::from_uuid(a)),
        (None, Some(c)) => Of::Contact(ContactId::from_uuid(c)),
        (None, None) => Of::Visible,
        (Some(_), Some(_)) => {
            return Err(ApiError::field("contact_id", "conflict", "give account_id or contact_id, not both"))
        }
    };
    let (file, out) = scratch()?;
    let mut sheet = Sheet::open(format, out, &x::COLUMNS).map_err(|e| failed(e.into()))?;
    x::export(&state.db, caller.principal.viewer(), of, &mut sheet).await.map_err(failed)?;
    sheet.finish().map_err(|e| failed(e.into()))?;
    send_file(file, &format!("activities.{}", format.extension()), format.content_type()).await
}

/// Brings back a touch that undoing its import removed (an admin, a
/// manager, or who logged it; its cancelled hook stays cancelled).
#[utoipa::path(post, path = "/api/v1/activities/{id}/restore", tag = "activities", security(("bearer" = [])),
    responses((status = 200, body = Activity), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn restore(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Activity>> {
    let p = &caller.principal;
    let mut tx = state.db.begin().await?;
    let activity =
        activities::restore(&mut tx, &caller.actor(), p.viewer(), ActivityId::from_uuid(id), state.clock.now()).await?;
    // Who logged it is known only once it is read: a refusal returns before commit, so nothing is written.
    if activity.author_id != p.user_id && !matches!(p.role, guanxi_domain::Role::Admin | guanxi_domain::Role::Manager) {
        return Err(ApiError::Forbidden("restore touches others logged"));
    }
    tx.commit().await?;
    Ok(Json(activity))
}

/// Whose timeline.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TimelineQuery {
    /// An account's touches.
    pub account_id: Option<Uuid>,
    /// Or a contact's.
    pub contact_id: Option<Uuid>,
    /// Or a deal's.
    pub opportunity_id: Option<Uuid>,
    /// Rows per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// The touches of an account, a contact or a deal, newest first, with their people and hooks.
#[utoipa::path(get, path = "/api/v1/activities", tag = "activities", security(("bearer" = [])), params(TimelineQuery),
    responses((status = 200, body = Page<Activity>), (status = 422, body = Problem)))]
pub async fn timeline(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TimelineQuery>,
) -> ApiResult<Json<Page<Activity>>> {
    let of = match (q.account_id, q.contact_id, q.opportunity_id) {
        (Some(a), None, None) => Of::Account(AccountId::from_uuid(a)),
        (None, Some(c), None) => Of::Contact(ContactId::from_uuid(c)),
        (None, None, Some(o)) => Of::Opportunity(guanxi_domain::OpportunityId::from_uuid(o)),
        _ => {
            return Err(ApiError::field(
                "account_id",
                "required",
                "give one of account_id, contact_id or opportunity_id",
            ))
        }
    };
    let pq = PageQuery { limit: q.limit, cursor: q.cursor };
    let limit = pq.limit()?;
    let before = match pq.after_keyed()? {
        Some((key, id)) => Some((
            DateTime::parse_from_rfc3339(&key)
                .map_err(|_| ApiError::field("cursor", "invalid", "cursor is not one this server issued"))?
                .with_timezone(&Utc),
            ActivityId::from_uuid(id),
        )),
        None => None,
    };
    let mut rows = activities::timeline(&state.db, caller.principal.viewer(), of, before, limit + 1).await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last()
            .map(|a| keyed_cursor(&a.started_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true), a.id.uuid()))
    } else {
        None
    };
    Ok(Json(Page { items: rows, next_cursor }))
}

/// Which tasks.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WorklistQuery {
    /// Open tasks due before this time (default: the end of today in the workspace's time zone).
    pub until: Option<DateTime<Utc>>,
    /// At most this many, 1–500 (default 200).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// The end of today in the workspace's time zone.
pub(crate) fn end_of_today(state: &AppState, caller: &Caller) -> DateTime<Utc> {
    let tz: chrono_tz::Tz = caller.principal.time_zone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    let now = state.clock.now().with_timezone(&tz);
    (now.date_naive() + chrono::Days::new(1))
        .and_hms_opt(0, 0, 0)
        .and_then(|m| m.and_local_timezone(tz).earliest())
        .map_or(now.with_timezone(&Utc), |m| m.with_timezone(&Utc))
}

/// The caller's worklist: their open tasks due before `until`, overdue first.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "activities", security(("bearer" = [])), params(WorklistQuery),
    responses((status = 200, body = Vec<Task>), (status = 422, body = Problem)))]
pub async fn worklist(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<WorklistQuery>,
) -> ApiResult<Json<Vec<Task>>> {
    let limit = q.limit.unwrap_or(200);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::field("limit", "out_of_range", "limit must be between 1 and 500"));
    }
    let until = q.until.unwrap_or_else(|| end_of_today(&state, &caller));
    let p = &caller.principal;
    Ok(Json(activities::worklist(&state.db, p.workspace_id, p.user_id, until, limit).await?))
}

/// Marks one of the caller's open tasks done.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/done", tag = "activities", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "task id")),
    responses((status = 200, body = Task), (status = 404, body = Problem), (status = 409, description = "`task_closed`", body = Problem)))]
pub async fn done(State(state): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Json<Task>> {
    let mut tx = state.db.begin().await?;
    let t = activities::mark_done(
        &mut tx,
        &caller.actor(),
        caller.principal.user_id,
        TaskId::from_uuid(id),
        state.clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(t))
}

/// A new time for a task, and why.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleInput {
    /// The new time: in the future, within a year.
    pub due_at: DateTime<Utc>,
    /// Why it moves (required; kept in the task's history).
    pub reason: String,
}

/// Moves one of the caller's open tasks, with a reason.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/reschedule", tag = "activities", security(("bearer" = [])), request_body = RescheduleInput,
    params(("id" = Uuid, Path, description = "task id")),
    responses((status = 200, body = Task), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn reschedule(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<RescheduleInput>,
) -> ApiResult<Json<Task>> {
    let now = state.clock.now();
    let mut f = Fields::default();
    f.take(check_hook_time("due_at", input.due_at, now));
    let reason = f.take(ShortText::parse("reason", &input.reason));
    f.finish()?;
    let reason = reason.ok_or_else(|| ApiError::Internal("reason parsed without value".into()))?;
    let mut tx = state.db.begin().await?;
    let t = activities::reschedule(
        &mut tx,
        &caller.actor(),
        caller.principal.user_id,
        TaskId::from_uuid(id),
        input.due_at,
        reason.as_str(),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(t))
}

/// Over how many days.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    /// The last N days, 1–366 (default 30 for discipline, 90 for call hours).
    pub days: Option<i64>,
}

fn since(state: &AppState, days: Option<i64>, default: i64) -> ApiResult<DateTime<Utc>> {
    let days = days.unwrap_or(default);
    if !(1..=366).contains(&days) {
        return Err(ApiError::field("days", "out_of_range", "days must be between 1 and 366"));
    }
    Ok(state.clock.now() - chrono::Duration::days(days))
}

/// Hook discipline per salesperson the caller may see (a manager: their
/// teams; a salesperson: themselves): touches with a hook, hooks kept on time, overdue.
#[utoipa::path(get, path = "/api/v1/reports/hooks", tag = "activities", security(("bearer" = [])), params(PeriodQuery),
    responses((status = 200, body = Vec<activities::Discipline>), (status = 422, body = Problem)))]
pub async fn discipline(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> ApiResult<Json<Vec<activities::Discipline>>> {
    let from = since(&state, q.days, 30)?;
    Ok(Json(activities::discipline(&state.db, caller.principal.viewer(), from, state.clock.now()).await?))
}

/// When to call.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CallHours {
    /// Calls and answers by local hour of the day.
    pub by_hour: Vec<guanxi_domain::activity::HourStat>,
    /// The recommended hours, best first.
    pub best: Vec<u32>,
    /// `true` when learned from this workspace's calls; `false`: the default
    /// (11:00–12:00 and after 16:00) until there are enough calls.
    pub learned: bool,
}

/// The best hours to call, learned from the workspace's answered and
/// unanswered calls, in its time zone.
#[utoipa::path(get, path = "/api/v1/reports/call-hours", tag = "activities", security(("bearer" = [])), params(PeriodQuery),
    responses((status = 200, body = CallHours), (status = 422, body = Problem)))]
pub async fn call_hours(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> ApiResult<Json<CallHours>> {
    Ok(Json(call_hours_of(&state, &caller, q.days).await?))
}

pub(crate) async fn call_hours_of(state: &AppState, caller: &Caller, days: Option<i64>) -> ApiResult<CallHours> {
    let from = since(state, days, 90)?;
    let calls = activities::calls_since(&state.db, caller.principal.workspace_id, from).await?;
    let tz: chrono_tz::Tz = caller.principal.time_zone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    let (by_hour, best, learned) = guanxi_domain::activity::best_hours(&calls, tz);
    Ok(CallHours { by_hour, best, learned })
}

/// A private calendar feed's address.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CalendarFeed {
    /// Subscribe to this in a phone or desktop calendar. Shown once: keep it
    /// private; issuing a new one ends the old.
    pub url: String,
}

/// Issues the caller's private iCalendar feed of their hooks, tasks and visits
/// (a new one ends the old one).
#[utoipa::path(post, path = "/api/v1/me/calendar", tag = "activities", security(("bearer" = [])),
    responses((status = 201, body = CalendarFeed)))]
pub async fn issue_calendar(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
) -> ApiResult<(StatusCode, Json<CalendarFeed>)> {
    Ok((StatusCode::CREATED, Json(calendar_feed(&state, &caller, &headers).await?)))
}

pub(crate) async fn calendar_feed(
    state: &AppState,
    caller: &Caller,
    headers: &axum::http::HeaderMap,
) -> ApiResult<CalendarFeed> {
    let mut tx = state.db.begin().await?;
    let secret = activities::issue_feed(&mut tx, &caller.actor(), caller.principal.user_id, state.clock.now()).await?;
    tx.commit().await?;
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let scheme = if state.config.secure_cookies { "https" } else { "http" };
    Ok(CalendarFeed { url: format!("{scheme}://{host}/calendar/{secret}.ics") })
}

/// Ends the caller's calendar feed.
#[utoipa::path(delete, path = "/api/v1/me/calendar", tag = "activities", security(("bearer" = [])),
    responses((status = 204, description = "ended"), (status = 404, body = Problem)))]
pub async fn revoke_calendar(State(state): State<AppState>, caller: Caller) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    let gone = activities::revoke_feed(&mut tx, &caller.actor(), caller.principal.user_id, state.clock.now()).await?;
    tx.commit().await?;
    if gone {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

/// The feed itself (`/calendar/{secret}.ics`, no login: the secret is the key):
/// open hooks and tasks from a month back, and the visits and meetings logged since.
pub async fn calendar(
    State(state): State<AppState>,
    axum::extract::Path(file): axum::extract::Path<String>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    use icalendar::{Calendar, Component, Event, EventLike};
    let secret = file.strip_suffix(".ics").ok_or(ApiError::NotFound)?;
    let (ws, user) = activities::feed_owner(&state.db, secret).await?.ok_or(ApiError::NotFound)?;
    let from = state.clock.now() - chrono::Duration::days(30);
    let (tasks, visits) = activities::feed_entries(&state.db, ws, user, from).await?;
    let mut cal = Calendar::new();
    cal.name("关系 Guanxi");
    for t in tasks {
        let who = t.contact_name.map(|c| format!(" · {c}")).unwrap_or_default();
        cal.push(
            Event::new()
                .uid(&format!("task-{}@guanxi", t.id))
                .summary(&format!("{}{who}：{}", t.account_name, t.purpose))
                .starts(t.due_at)
                .ends(t.due_at + chrono::Duration::minutes(30))
                .done(),
        );
    }
    for v in visits {
        let people = v.contacts.iter().map(|c| c.1.as_str()).collect::<Vec<_>>().join("、");
        cal.push(
            Event::new()
                .uid(&format!("activity-{}@guanxi", v.id))
                .summary(&format!("{} {}", v.account_name, people))
                .description(v.notes.as_deref().unwrap_or(""))
                .starts(v.started_at)
                .ends(v.started_at + chrono::Duration::minutes(v.duration_minutes.unwrap_or(60)))
                .done(),
        );
    }
    Ok(([(axum::http::header::CONTENT_TYPE, "text/calendar; charset=utf-8")], cal.done().to_string()).into_response())
}

/// A task made by hand: a to-do, or a revisit every N days.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskInput {
    /// The account.
    pub account_id: Uuid,
    /// With whom (a contact of the account).
    pub contact_id: Option<Uuid>,
    /// When, precisely: in the future, within a year.
    pub due_at: DateTime<Utc>,
    /// What for.
    pub purpose: String,
    /// Recur every this many days (1–365); the next comes when this one is carried out.
    pub repeat_every_days: Option<i64>,
    /// A recurrence ends on this date …
    pub repeat_until: Option<DateTime<Utc>>,
    /// … or says it never does.
    #[serde(default)]
    pub repeat_forever: bool,
}

/// Creates a task for the caller on an account they may see.
#[utoipa::path(post, path = "/api/v1/tasks", tag = "activities", security(("bearer" = [])), request_body = TaskInput,
    responses((status = 201, body = Task), (status = 422, body = Problem)))]
pub async fn create_task(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<TaskInput>,
) -> ApiResult<(StatusCode, Json<Task>)> {
    Ok((StatusCode::CREATED, Json(add_task(&state, &caller, input).await?)))
}

/// Creates a task for the caller; the shared service of the API and the pages.
pub(crate) async fn add_task(state: &AppState, caller: &Caller, input: TaskInput) -> ApiResult<Task> {
    let now = state.clock.now();
    let mut f = Fields::default();
    f.take(check_hook_time("due_at", input.due_at, now));
    let purpose = f.take(ShortText::parse("purpose", &input.purpose));
    match input.repeat_every_days {
        Some(d) if !(1..=365).contains(&d) => {
            f.push(FieldError::new("repeat_every_days", "out_of_range", "repeat_every_days must be between 1 and 365"));
        }
        Some(_) => match (input.repeat_until, input.repeat_forever) {
            (None, false) => f.push(FieldError::new(
                "repeat_until",
                "required",
                "a recurrence ends (repeat_until) or says it never does (repeat_forever: true)",
            )),
            (Some(_), true) => {
                f.push(FieldError::new("repeat_forever", "conflict", "give repeat_until or repeat_forever, not both"))
            }
            (Some(until), false) if until <= input.due_at => {
                f.push(FieldError::new("repeat_until", "invalid", "repeat_until is before the first time"))
            }
            _ => {}
        },
        None if input.repeat_until.is_some() || input.repeat_forever => {
            f.push(FieldError::new("repeat_every_days", "required", "say how often it recurs"));
        }
        None => {}
    }
    f.finish()?;
    let account = AccountId::from_uuid(input.account_id);
    accounts::get(&state.db, caller.principal.viewer(), account)
        .await
        .map_err(unknown_reference("account_id", "account_id names no account you may see"))?;
    let new = activities::NewTask {
        account_id: account,
        contact_id: input.contact_id.map(ContactId::from_uuid),
        due_at: input.due_at,
        purpose: purpose.map(ShortText::into_string).unwrap_or_default(),
        repeat_every_days: input.repeat_every_days,
        repeat_until: input.repeat_until,
        repeat_forever: input.repeat_forever,
    };
    let mut tx = state.db.begin().await?;
    let t = activities::create_task(&mut tx, &caller.actor(), caller.principal.user_id, &new, now).await?;
    tx.commit().await?;
    Ok(t)
}
