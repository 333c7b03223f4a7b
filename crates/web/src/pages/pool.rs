//! 公海 (the pool, with one-click claims) and 我的客户 (what the user owns,
//! soonest return first, with the warnings of the release job).

use super::{fail, render, show_time, Chrome, PageError, MISSING};
use crate::api::pool as api;
use crate::auth::{Caller, PageCaller};
use crate::error::ApiError;
use crate::i18n::Tr;
use crate::json::ApiPath;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use guanxi_domain::pool::days_left;
use guanxi_domain::{AccountId, AccountSource, Classification, PoolId, Refusal, ReleaseReason};
use guanxi_store::accounts::{self, Account, AccountFilter, AccountSort};
use guanxi_store::notifications;
use serde::Deserialize;
use uuid::Uuid;

type PageResult = Result<Response, PageError>;

/// The pool's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/pool", get(list))
        .route("/pool/mine", get(mine))
        .route("/pool/accounts/{id}/claim", post(claim))
        .route("/pool/accounts/{id}/release", post(release))
        .route("/pool/notifications/read", post(read_all))
        .route("/pool/requests", get(requests_page))
        .route("/pool/requests/{kind}/{id}/decide", post(decide))
        .route("/pool/transfers", post(ask_transfer))
        .route("/pool/register", get(register_form).post(register))
}

/// One row of the pool as shown.
struct PoolRow {
    id: AccountId,
    name: String,
    class_key: String,
    source_key: String,
    region: String,
    phone: String,
    reason_key: String,
    note: String,
    released: String,
    previous_owner: String,
}

#[derive(Template)]
#[template(path = "pool_list.html")]
struct PoolPage<'a> {
    chrome: Chrome<'a>,
    pools: Vec<(PoolId, String, bool)>,
    pool_id: PoolId,
    query: String,
    industry: String,
    source_options: Vec<(&'static str, String, bool)>,
    class_options: Vec<(&'static str, String, bool)>,
    reason_options: Vec<(&'static str, String, bool)>,
    provinces: Vec<(String, &'static str, bool)>,
    rows: Vec<PoolRow>,
    next_cursor: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct PoolQuery {
    pool: Option<Uuid>,
    #[serde(default)]
    source: String,
    #[serde(default)]
    classification: String,
    #[serde(default)]
    release_reason: String,
    #[serde(default)]
    industry: String,
    #[serde(default)]
    province: String,
    cursor: Option<String>,
}

fn options<T: Copy>(
    all: &[T],
    id: fn(T) -> &'static str,
    key: &str,
    chosen: &str,
) -> Vec<(&'static str, String, bool)> {
    all.iter().map(|v| (id(*v), format!("{key}.{}", id(*v)), id(*v) == chosen)).collect()
}

async fn list(State(state): State<AppState>, PageCaller(caller): PageCaller, Query(q): Query<PoolQuery>) -> PageResult {
    render_pool(&state, &caller, q, None).await
}

async fn render_pool(state: &AppState, caller: &Caller, q: PoolQuery, error: Option<String>) -> PageResult {
    let pools = api::my_pools(state, caller).await.map_err(fail(state, caller))?;
    let chosen = q.pool.map(PoolId::from_uuid).filter(|p| pools.iter().any(|x| x.id == *p));
    let Some(pool) = chosen.and_then(|p| pools.iter().find(|x| x.id == p)).or(pools.first()).cloned() else {
        return Err(fail(state, caller)(ApiError::NotFound));
    };
    let province = guanxi_domain::parse_division_code("province", &q.province).ok().filter(|c| c.ends_with("0000"));
    let api_q = api::PoolQuery {
        region_code: province.clone(),
        industry: Some(q.industry.trim().to_owned()),
        source: AccountSource::parse(&q.source),
        classification: Classification::parse(&q.classification),
        release_reason: ReleaseReason::parse(&q.release_reason),
        limit: None,
        cursor: None,
    };
    let after = q
        .cursor
        .as_deref()
        .and_then(|c| crate::pagination::PageQuery { limit: None, cursor: Some(c.to_owned()) }.after().ok().flatten());
    let filter = api::pool_filter(pool.id, &api_q, after.map(AccountId::from_uuid)).map_err(fail(state, caller))?;
    const PAGE: usize = 50;
    let rows = api::pool_accounts(state, caller, &pool, &filter, PAGE as i64 + 1).await.map_err(fail(state, caller))?;
    let page = crate::pagination::page(rows, PAGE as i64, |a| a.id.uuid());
    let (rows, next_cursor) = (page.items, page.next_cursor);
    let tz = &caller.principal.time_zone;
    let rows = rows.into_iter().map(|a| pool_row(a, tz)).collect();
    let mut pairs: Vec<(&str, String)> = vec![("pool", pool.id.to_string())];
    for (k, v) in [
        ("source", &q.source),
        ("classification", &q.classification),
        ("release_reason", &q.release_reason),
        ("industry", &q.industry),
    ] {
        if !v.trim().is_empty() {
            pairs.push((k, v.trim().to_owned()));
        }
    }
    if let Some(p) = &province {
        pairs.push(("province", p.clone()));
    }
    let chrome = Chrome::new(state, caller, "/pool", "pool.title");
    let page = PoolPage {
        pools: pools.iter().map(|p| (p.id, p.name.clone(), p.id == pool.id)).collect(),
        pool_id: pool.id,
        query: serde_urlencoded::to_string(&pairs).unwrap_or_default(),
        industry: q.industry.trim().to_owned(),
        source_options: options(AccountSource::ALL, AccountSource::as_str, "source", &q.source),
        class_options: options(Classification::ALL, Classification::as_str, "class", &q.classification),
        reason_options: options(ReleaseReason::ALL, ReleaseReason::as_str, "release_reason", &q.release_reason),
        provinces: guanxi_domain::division_children(None)
            .into_iter()
            .map(|(c, n)| {
                let sel = province.as_deref() == Some(c.as_str());
                (c, n, sel)
            })
            .collect(),
        rows,
        next_cursor,
        error,
        chrome,
    };
    let mut res = render(&page);
    if page.error.is_some() {
        *res.status_mut() = StatusCode::CONFLICT;
    }
    Ok(res)
}

fn pool_row(a: Account, tz: &str) -> PoolRow {
    PoolRow {
        class_key: a.classification.map_or("accounts.none".to_owned(), |c| format!("class.{}", c.as_str())),
        source_key: format!("source.{}", a.source.as_str()),
        region: a
            .region_code
            .as_deref()
            .map(|c| guanxi_domain::division_path(c).join(" "))
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| MISSING.to_owned()),
        phone: a.phones.first().map_or(MISSING.to_owned(), |p| p.display.clone()),
        reason_key: a
            .ownership
            .release_reason
            .map_or("release_reason.never".to_owned(), |r| format!("release_reason.{}", r.as_str())),
        note: a.ownership.release_note.clone().unwrap_or_default(),
        released: a.ownership.released_at.map_or(MISSING.to_owned(), |t| show_time(t, tz)),
        previous_owner: a.ownership.previous_owner_name.clone().unwrap_or_else(|| MISSING.to_owned()),
        id: a.id,
        name: a.name,
    }
}

/// A refusal in the user's language, with its facts filled in.
pub(super) fn refusal_text(tr: Tr<'_>, r: &Refusal, tz: &str) -> String {
    let (key, fill): (&str, Vec<(&str, String)>) = match r {
        Refusal::OwnedByOther { owner_name, account_name, .. } => {
            ("errors.owned_by_other", vec![("{owner}", owner_name.clone()), ("{account}", account_name.clone())])
        }
        Refusal::AlreadyYours => ("errors.already_owned", vec![]),
        Refusal::NotInPool => ("errors.not_in_pool", vec![]),
        Refusal::Cooldown { until } => ("errors.claim_cooldown", vec![("{until}", show_time(*until, tz))]),
        Refusal::DailyClaims { limit } => ("errors.daily_claim_limit", vec![("{limit}", limit.to_string())]),
        Refusal::OwnershipLimit { user_name, limit } => {
            ("errors.ownership_limit", vec![("{user}", user_name.clone()), ("{limit}", limit.to_string())])
        }
        Refusal::NotOwner => ("errors.not_owner", vec![]),
        Refusal::RegisteredByOther { account_name, requester_name, .. } => (
            "errors.registered_by_other",
            vec![("{owner}", requester_name.clone()), ("{account}", account_name.clone())],
        ),
        Refusal::OwnDecision => ("errors.own_request", vec![]),
        Refusal::NotPending => ("errors.not_pending", vec![]),
        Refusal::NotDecider => ("errors.not_decider", vec![]),
        Refusal::OwnerChanged => ("errors.owner_changed", vec![]),
    };
    fill.into_iter().fold(tr.t(key).to_owned(), |text, (k, v)| text.replace(k, &v))
}

async fn claim(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
    Query(q): Query<PoolQuery>,
) -> PageResult {
    match api::claim_account(&state, &caller, AccountId::from_uuid(id)).await {
        Ok(a) => Ok(Redirect::to(&format!("/accounts/{}", a.id)).into_response()),
        Err(ApiError::Refused(r)) => {
            let tr = Tr::new(&state.i18n, caller.principal.locale);
            let text = refusal_text(tr, &r, &caller.principal.time_zone);
            render_pool(&state, &caller, q, Some(text)).await
        }
        Err(e) => Err(fail(&state, &caller)(e)),
    }
}

/// One of my accounts as 我的客户 shows it.
struct MineRow {
    id: AccountId,
    name: String,
    class_key: String,
    due: String,
    days: Option<i64>,
    urgent: bool,
    rule_key: String,
}

#[derive(Template)]
#[template(path = "pool_mine.html")]
struct MinePage<'a> {
    chrome: Chrome<'a>,
    rows: Vec<MineRow>,
    next_cursor: Option<String>,
    notes: Vec<(String, String)>,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct MineQuery {
    cursor: Option<String>,
}

async fn mine(State(state): State<AppState>, PageCaller(caller): PageCaller, Query(q): Query<MineQuery>) -> PageResult {
    render_mine(&state, &caller, q.cursor, None).await
}

async fn render_mine(state: &AppState, caller: &Caller, cursor: Option<String>, error: Option<String>) -> PageResult {
    let p = &caller.principal;
    let after = cursor.as_deref().and_then(|c| {
        crate::pagination::PageQuery { limit: None, cursor: Some(c.to_owned()) }.after_keyed().ok().flatten()
    });
    let filter = AccountFilter {
        sort: AccountSort::ReleaseDue,
        owner_id: Some(p.user_id),
        after: after.as_ref().map(|(_, id)| AccountId::from_uuid(*id)),
        after_key: after.map(|(k, _)| k),
        ..AccountFilter::default()
    };
    const PAGE: usize = 50;
    let mut rows = accounts::list(&state.db, p.viewer(), &filter, PAGE as i64 + 1)
        .await
        .map_err(|e| fail(state, caller)(e.into()))?;
    let next_cursor = if rows.len() > PAGE {
        rows.truncate(PAGE);
        rows.last().and_then(|a| {
            Some(crate::pagination::keyed_cursor(&accounts::sort_key(a, AccountSort::ReleaseDue)?, a.id.uuid()))
        })
    } else {
        None
    };
    let now = state.clock.now();
    let pools = api::my_pools(state, caller).await.map_err(fail(state, caller))?;
    let rows = rows
        .into_iter()
        .map(|a| {
            let warn = pools.iter().find(|x| Some(x.id) == a.ownership.pool_id).map_or(3, |x| x.rules.warn_days);
            let days = a.ownership.release_due_at.map(|d| days_left(d, now));
            MineRow {
                class_key: a.classification.map_or("accounts.none".to_owned(), |c| format!("class.{}", c.as_str())),
                due: a.ownership.release_due_at.map_or(MISSING.to_owned(), |t| show_time(t, &p.time_zone)),
                urgent: days.is_some_and(|d| d <= warn),
                days,
                rule_key: a.ownership.release_rule.map_or(String::new(), |r| format!("release_rule.{}", r.as_str())),
                id: a.id,
                name: a.name,
            }
        })
        .collect();
    let unread = notifications::list(&state.db, p.workspace_id, p.user_id, true, None, 20)
        .await
        .map_err(|e| fail(state, caller)(e.into()))?;
    let tr = Tr::new(&state.i18n, p.locale);
    let notes = unread
        .iter()
        .map(|n| {
            let name = n.data["account_name"].as_str().unwrap_or_default();
            let due = n.data["release_due_at"]
                .as_str()
                .and_then(|d| d.parse().ok())
                .map_or(MISSING.to_owned(), |d| show_time(d, &p.time_zone));
            let text = match n.kind.as_str() {
                "request_decided" => {
                    let kind = format!("request_kind.{}", n.data["kind"].as_str().unwrap_or_default());
                    let status = format!("request_status.{}", n.data["status"].as_str().unwrap_or_default());
                    tr.t("pool.request_decided")
                        .replace("{kind}", tr.t(&kind))
                        .replace("{account}", name)
                        .replace("{status}", tr.t(&status))
                }
                "release_warning" => tr.t("pool.warning").replace("{account}", name).replace("{due}", &due),
                kind => {
                    let tz = p.time_zone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
                    let m = guanxi_domain::notify::render(kind, &n.data, p.locale, tz);
                    format!("{}：{}", m.title, m.text)
                }
            };
            (n.account_id.map(|a| a.to_string()).unwrap_or_default(), text)
        })
        .collect();
    let chrome = Chrome::new(state, caller, "/pool", "pool.mine");
    let page = MinePage { chrome, rows, next_cursor, notes, error };
    let mut res = render(&page);
    if page.error.is_some() {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

#[derive(Debug, Deserialize)]
struct ReleaseForm {
    #[serde(default)]
    reason: String,
}

async fn release(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
    Form(f): Form<ReleaseForm>,
) -> PageResult {
    match api::release_account(&state, &caller, AccountId::from_uuid(id), &f.reason).await {
        Ok(_) => Ok(Redirect::to("/pool/mine").into_response()),
        Err(ApiError::Validation(errors)) => {
            let tr = Tr::new(&state.i18n, caller.principal.locale);
            let text = errors.iter().map(|e| super::describe(tr, e)).collect::<Vec<_>>().join("；");
            render_mine(&state, &caller, None, Some(text)).await
        }
        Err(e) => Err(fail(&state, &caller)(e)),
    }
}

async fn read_all(State(state): State<AppState>, PageCaller(caller): PageCaller) -> PageResult {
    let p = &caller.principal;
    notifications::mark_read(&state.db, p.workspace_id, p.user_id, None, state.clock.now())
        .await
        .map_err(|e| fail(&state, &caller)(e.into()))?;
    Ok(Redirect::to("/pool/mine").into_response())
}

/// One request as the inbox shows it.
struct RequestRow {
    id: String,
    kind_key: String,
    kind: &'static str,
    account_name: String,
    requester: String,
    owner: String,
    note: String,
    status_key: String,
    pending: bool,
    decision: String,
    created: String,
}

#[derive(Template)]
#[template(path = "pool_requests.html")]
struct RequestsPage<'a> {
    chrome: Chrome<'a>,
    inbox: &'static str,
    rows: Vec<RequestRow>,
    may_decide: bool,
    notice: Option<&'static str>,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct RequestsQuery {
    #[serde(rename = "box")]
    inbox: Option<String>,
    done: Option<String>,
}

async fn requests_page(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Query(q): Query<RequestsQuery>,
) -> PageResult {
    let notice = match q.done.as_deref() {
        Some("filed") => Some("pool.filed"),
        Some("decided") => Some("pool.decided"),
        _ => None,
    };
    render_requests(&state, &caller, q.inbox.as_deref(), notice, None).await
}

async fn render_requests(
    state: &AppState,
    caller: &Caller,
    inbox: Option<&str>,
    notice: Option<&'static str>,
    error: Option<String>,
) -> PageResult {
    use crate::api::requests as rq;
    let may_decide = matches!(caller.principal.role, guanxi_domain::Role::Admin | guanxi_domain::Role::Manager);
    let name: &'static str = match inbox {
        Some("mine") => "mine",
        Some("decided") => "decided",
        _ if may_decide => "to_decide",
        _ => "mine",
    };
    let which = rq::inbox_of(caller, Some(name)).map_err(fail(state, caller))?;
    let p = &caller.principal;
    let rows = guanxi_store::requests::list(&state.db, p.workspace_id, which, None, None, 100)
        .await
        .map_err(|e| fail(state, caller)(e.into()))?;
    let rows = rows
        .into_iter()
        .map(|r| RequestRow {
            id: r.id.to_string(),
            kind_key: format!("request_kind.{}", r.kind.as_str()),
            kind: match r.kind {
                guanxi_domain::RequestKind::Registration => "registrations",
                guanxi_domain::RequestKind::Transfer => "transfers",
            },
            account_name: r.account_name,
            requester: r.requester_name,
            owner: r.owner_name.unwrap_or_else(|| MISSING.to_owned()),
            note: r.note,
            status_key: format!("request_status.{}", r.status.as_str()),
            pending: r.status == guanxi_domain::RequestStatus::Pending,
            decision: match (r.decider_name, r.decision_note) {
                (Some(d), Some(n)) => format!("{d}：{n}"),
                (Some(d), None) => d,
                _ => String::new(),
            },
            created: show_time(r.created_at, &p.time_zone),
        })
        .collect();
    let chrome = Chrome::new(state, caller, "/pool", "pool.requests");
    let page = RequestsPage { chrome, inbox: name, rows, may_decide, notice, error };
    let mut res = render(&page);
    if page.error.is_some() {
        *res.status_mut() = StatusCode::CONFLICT;
    }
    Ok(res)
}

#[derive(Debug, Deserialize)]
struct DecisionForm {
    decision: String,
    #[serde(default)]
    note: String,
}

async fn decide(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath((kind, id)): ApiPath<(String, Uuid)>,
    Form(f): Form<DecisionForm>,
) -> PageResult {
    use crate::api::requests as rq;
    let kind = match kind.as_str() {
        "registrations" => guanxi_domain::RequestKind::Registration,
        "transfers" => guanxi_domain::RequestKind::Transfer,
        _ => return Err(fail(&state, &caller)(ApiError::NotFound)),
    };
    let input = rq::DecisionInput { approve: f.decision == "approve", note: Some(f.note) };
    match rq::decide_request(&state, &caller, guanxi_domain::RequestId::from_uuid(id), kind, input).await {
        Ok(_) => Ok(Redirect::to("/pool/requests?done=decided").into_response()),
        Err(e) => {
            let text = error_text(&state, &caller, e)?;
            render_requests(&state, &caller, None, None, Some(text)).await
        }
    }
}

/// A refusal or a field error as a sentence; anything else is an error page.
fn error_text(state: &AppState, caller: &Caller, e: ApiError) -> Result<String, PageError> {
    let tr = Tr::new(&state.i18n, caller.principal.locale);
    match e {
        ApiError::Refused(r) => Ok(refusal_text(tr, &r, &caller.principal.time_zone)),
        other => super::form_errors(tr, other).map(|v| v.join("；")).map_err(fail(state, caller)),
    }
}

#[derive(Debug, Deserialize)]
struct TransferForm {
    account_id: Uuid,
    #[serde(default)]
    reason: String,
}

async fn ask_transfer(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Form(f): Form<TransferForm>,
) -> PageResult {
    let input = crate::api::requests::TransferInput { account_id: f.account_id, reason: f.reason };
    match crate::api::requests::ask_transfer(&state, &caller, input).await {
        Ok(_) => Ok(Redirect::to("/pool/requests?box=mine&done=filed").into_response()),
        Err(e) => {
            let text = error_text(&state, &caller, e)?;
            render_requests(&state, &caller, Some("mine"), None, Some(text)).await
        }
    }
}

#[derive(Template)]
#[template(path = "pool_register.html")]
struct RegisterPage<'a> {
    chrome: Chrome<'a>,
    form: RegisterForm,
    source_options: Vec<(&'static str, String, bool)>,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct RegisterForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    note: String,
}

fn register_view(state: &AppState, caller: &Caller, form: RegisterForm, error: Option<String>) -> Response {
    let source = if form.source.is_empty() { "trade_show".to_owned() } else { form.source.clone() };
    let page = RegisterPage {
        chrome: Chrome::new(state, caller, "/pool", "pool.register"),
        source_options: options(AccountSource::ALL, AccountSource::as_str, "source", &source),
        form,
        error,
    };
    let mut res = render(&page);
    if page.error.is_some() {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    res
}

async fn register_form(State(state): State<AppState>, PageCaller(caller): PageCaller) -> PageResult {
    caller.require_sales_writer().map_err(fail(&state, &caller))?;
    Ok(register_view(&state, &caller, RegisterForm::default(), None))
}

async fn register(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Form(f): Form<RegisterForm>,
) -> PageResult {
    let account = crate::api::accounts::AccountInput {
        name: Some(f.name.clone()),
        source: AccountSource::parse(&f.source),
        phones: Some(super::accounts::split(&f.phone, &['\n', ',', '，'])),
        ..Default::default()
    };
    let input =
        crate::api::requests::RegistrationInput { account: Some(account), account_id: None, note: f.note.clone() };
    match crate::api::requests::file_registration(&state, &caller, input).await {
        Ok(_) => Ok(Redirect::to("/pool/requests?box=mine&done=filed").into_response()),
        Err(ApiError::Duplicate { .. }) => {
            let tr = Tr::new(&state.i18n, caller.principal.locale);
            Ok(register_view(&state, &caller, f, Some(tr.t("pool.register_duplicate").to_owned())))
        }
        Err(e) => {
            let text = error_text(&state, &caller, e)?;
            Ok(register_view(&state, &caller, f, Some(text)))
        }
    }
}
