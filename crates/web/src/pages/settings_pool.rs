//! 设置 → 公海规则 (managers and admins) and 交接 (admins): the pools'
//! rules and members, and the handover wizard with its preview.

use super::{fail, form_errors, render, Chrome, PageError};
use crate::api::pool as pool_api;
use crate::api::requests as rq;
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
use guanxi_domain::pool::{ClassRules, ReturnRules};
use guanxi_domain::{PoolField, PoolRules, Role};
use guanxi_store::ownership::HandoverReport;
use guanxi_store::pool::Pool;
use guanxi_store::{teams, users, Viewer};
use uuid::Uuid;

type PageResult = Result<Response, PageError>;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings/pools", get(pools_page).post(create_pool))
        .route("/settings/pools/{id}", post(save_pool))
        .route("/settings/handover", get(handover_page).post(handover))
}

/// The form's pairs, keeping repeated keys (checkbox lists).
pub(super) fn pairs(body: &Bytes) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

pub(super) fn value<'a>(pairs: &'a [(String, String)], key: &str) -> &'a str {
    pairs.iter().find(|(k, _)| k == key).map_or("", |(_, v)| v.as_str())
}

/// One pool's form, field by field.
struct PoolView {
    id: String,
    name: String,
    is_default: bool,
    numbers: Vec<(&'static str, String)>,
    classes: Vec<(&'static str, [(String, String); 3])>,
    masked: Vec<(&'static str, bool)>,
    teams: Vec<(String, String, bool)>,
}

#[derive(Template)]
#[template(path = "settings_pools.html")]
struct PoolsPage<'a> {
    chrome: Chrome<'a>,
    section: &'static str,
    notice: Option<&'static str>,
    errors: Vec<String>,
    pools: Vec<PoolView>,
}

const NUMBERS: [&str; 6] =
    ["max_owned", "daily_claims", "cooldown_days", "warn_days", "protection_days", "registration_expiry_days"];
const CLASSES: [&str; 4] = ["a", "b", "c", "unclassified"];
const RULES: [&str; 3] = ["no_activity_days", "no_progress_days", "no_deal_days"];

fn class_rules(r: &ReturnRules, class: &str) -> ClassRules {
    match class {
        "a" => r.a,
        "b" => r.b,
        "c" => r.c,
        _ => r.unclassified,
    }
}

fn view(p: &Pool, all_teams: &[(String, String)]) -> PoolView {
    let r = &p.rules;
    let opt = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    PoolView {
        id: p.id.to_string(),
        name: p.name.clone(),
        is_default: p.is_default,
        numbers: vec![
            ("max_owned", opt(r.max_owned)),
            ("daily_claims", opt(r.daily_claims)),
            ("cooldown_days", r.cooldown_days.to_string()),
            ("warn_days", r.warn_days.to_string()),
            ("protection_days", r.protection_days.to_string()),
            ("registration_expiry_days", r.registration_expiry_days.to_string()),
        ],
        classes: CLASSES
            .iter()
            .map(|c| {
                let cr = class_rules(&r.return_after, c);
                (
                    *c,
                    [
                        (format!("{c}.no_activity_days"), opt(cr.no_activity_days)),
                        (format!("{c}.no_progress_days"), opt(cr.no_progress_days)),
                        (format!("{c}.no_deal_days"), opt(cr.no_deal_days)),
                    ],
                )
            })
            .collect(),
        masked: PoolField::ALL.iter().map(|f| (f.as_str(), r.masks(*f))).collect(),
        teams: all_teams
            .iter()
            .map(|(id, name)| {
                (
                    id.clone(),
                    name.clone(),
                    p.members.iter().any(|m| m.team_id.map(|t| t.to_string()).as_ref() == Some(id)),
                )
            })
            .collect(),
    }
}

/// Who opens the pools page (creating a pool); which pools they may change
/// is `api::pool::may_configure`.
fn may_open_pools(caller: &Caller) -> bool {
    matches!(caller.principal.role, Role::Admin | Role::Manager)
}

async fn render_pools(
    state: &AppState,
    caller: &Caller,
    notice: Option<&'static str>,
    errors: Vec<String>,
) -> PageResult {
    if !may_open_pools(caller) {
        return Err(fail(state, caller)(ApiError::Forbidden("configure pools")));
    }
    let pools = pool_api::my_pools(state, caller).await.map_err(fail(state, caller))?;
    let all = teams::list(&state.db, Viewer::whole(caller.principal.workspace_id), None, 1000)
        .await
        .map_err(|e| fail(state, caller)(e.into()))?;
    let all: Vec<(String, String)> = all.iter().map(|t| (t.id.to_string(), t.name.clone())).collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = PoolsPage {
        chrome: Chrome::new(state, caller, "/settings", "settings.pools"),
        section: "pools",
        notice,
        errors,
        // Only the pools this caller may change (the default one is the admins').
        pools: pools.iter().filter(|p| pool_api::may_configure(caller, p)).map(|p| view(p, &all)).collect(),
    };
    let mut res = render(&page);
    *res.status_mut() = status;
    Ok(res)
}

async fn pools_page(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Query(n): Query<super::settings::Notice>,
) -> PageResult {
    render_pools(&state, &caller, n.key(), Vec::new()).await
}

/// Reads the rules out of the form; a field that is not a whole number is named.
fn rules_of(pairs: &[(String, String)]) -> Result<PoolRules, ApiError> {
    let mut errors = Vec::new();
    let mut num = |key: &str| -> Option<i64> {
        let raw = value(pairs, key).trim();
        if raw.is_empty() {
            return None;
        }
        match raw.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(guanxi_domain::FieldError::new(
                    &format!("rules.{key}"),
                    "invalid",
                    "must be a whole number",
                ));
                None
            }
        }
    };
    let mut class = |c: &str| ClassRules {
        no_activity_days: num(&format!("{c}.{}", RULES[0])),
        no_progress_days: num(&format!("{c}.{}", RULES[1])),
        no_deal_days: num(&format!("{c}.{}", RULES[2])),
    };
    let return_after = ReturnRules { a: class("a"), b: class("b"), c: class("c"), unclassified: class("unclassified") };
    let [max_owned, daily_claims, cooldown, warn, protection, expiry] = NUMBERS.map(&mut num);
    let rules = PoolRules {
        max_owned,
        daily_claims,
        cooldown_days: cooldown.unwrap_or(0),
        warn_days: warn.unwrap_or(0),
        protection_days: protection.unwrap_or(0),
        registration_expiry_days: expiry.unwrap_or(7),
        return_after,
        masked: PoolField::ALL
            .iter()
            .copied()
            .filter(|f| !value(pairs, &format!("mask_{}", f.as_str())).is_empty())
            .collect(),
    };
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(ApiError::Validation(errors))
    }
}

async fn create_pool(State(state): State<AppState>, PageCaller(caller): PageCaller, body: Bytes) -> PageResult {
    let pairs = pairs(&body);
    let input = pool_api::PoolInput { name: Some(value(&pairs, "name").to_owned()), ..Default::default() };
    let result = pool_api::create(State(state.clone()), caller.clone(), crate::json::ApiJson(input)).await;
    saved(&state, &caller, result.map(|_| ())).await
}

async fn save_pool(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
    body: Bytes,
) -> PageResult {
    let pairs = pairs(&body);
    let result = async {
        let rules = rules_of(&pairs)?;
        let teams = pairs
            .iter()
            .filter(|(k, _)| k == "team")
            .map(|(_, v)| v.parse::<Uuid>().map_err(|_| ApiError::field("teams", "invalid", "not a team")))
            .collect::<Result<Vec<_>, _>>()?;
        let input = pool_api::PoolInput {
            name: Some(value(&pairs, "name").to_owned()),
            rules: Some(rules),
            teams: Some(teams),
            users: None,
        };
        pool_api::update(State(state.clone()), caller.clone(), ApiPath(id), crate::json::ApiJson(input))
            .await
            .map(|_| ())
    }
    .await;
    saved(&state, &caller, result).await
}

async fn saved(state: &AppState, caller: &Caller, result: Result<(), ApiError>) -> PageResult {
    match result {
        Ok(()) => Ok(Redirect::to("/settings/pools?ok=1").into_response()),
        Err(e) => {
            let tr = Tr::new(&state.i18n, caller.principal.locale);
            let errors = form_errors(tr, e).map_err(fail(state, caller))?;
            render_pools(state, caller, None, errors).await
        }
    }
}

#[derive(Template)]
#[template(path = "settings_handover.html")]
struct HandoverPage<'a> {
    chrome: Chrome<'a>,
    section: &'static str,
    notice: Option<&'static str>,
    errors: Vec<String>,
    people: Vec<(String, String, bool)>,
    targets: Vec<(String, String, bool)>,
    disable: bool,
    preview: Option<HandoverReport>,
    done: bool,
}

async fn render_handover(
    state: &AppState,
    caller: &Caller,
    chosen: (Option<Uuid>, Vec<Uuid>, bool),
    errors: Vec<String>,
    preview: Option<HandoverReport>,
    done: bool,
) -> PageResult {
    caller.require_admin("hand over a salesperson's accounts").map_err(fail(state, caller))?;
    let filter = users::UserFilter::default();
    let list = users::list(&state.db, Viewer::whole(caller.principal.workspace_id), &filter, 1000)
        .await
        .map_err(|e| fail(state, caller)(e.into()))?;
    let (from, to, disable) = chosen;
    let people = list.iter().map(|u| (u.id.to_string(), u.display_name.clone(), Some(u.id.uuid()) == from)).collect();
    let targets = list
        .iter()
        .filter(|u| u.disabled_at.is_none())
        .map(|u| (u.id.to_string(), u.display_name.clone(), to.contains(&u.id.uuid())))
        .collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = HandoverPage {
        chrome: Chrome::new(state, caller, "/settings", "settings.handover"),
        section: "handover",
        notice: done.then_some("handover.done"),
        errors,
        people,
        targets,
        disable,
        preview,
        done,
    };
    let mut res = render(&page);
    *res.status_mut() = status;
    Ok(res)
}

async fn handover_page(State(state): State<AppState>, PageCaller(caller): PageCaller) -> PageResult {
    render_handover(&state, &caller, (None, Vec::new(), true), Vec::new(), None, false).await
}

async fn handover(State(state): State<AppState>, PageCaller(caller): PageCaller, body: Bytes) -> PageResult {
    let pairs = pairs(&body);
    let tr = Tr::new(&state.i18n, caller.principal.locale);
    let from = value(&pairs, "from_user_id").parse::<Uuid>().ok();
    let to: Vec<Uuid> = pairs.iter().filter(|(k, _)| k == "to").filter_map(|(_, v)| v.parse().ok()).collect();
    let disable = !value(&pairs, "disable").is_empty();
    let confirm = value(&pairs, "step") == "confirm";
    let Some(from_id) = from else {
        let e = guanxi_domain::FieldError::new("from_user_id", "required", "choose who leaves");
        return render_handover(&state, &caller, (None, to, disable), vec![super::describe(tr, &e)], None, false).await;
    };
    let input = rq::HandoverInput { from_user_id: from_id, to_user_ids: to.clone(), disable, preview: !confirm };
    match rq::run_handover(&state, &caller, input).await {
        Ok(report) => render_handover(&state, &caller, (from, to, disable), Vec::new(), Some(report), confirm).await,
        Err(ApiError::Refused(r)) => {
            let text = super::pool::refusal_text(tr, &r, &caller.principal.time_zone);
            render_handover(&state, &caller, (from, to, disable), vec![text], None, false).await
        }
        Err(e) => {
            let errors = form_errors(tr, e).map_err(fail(&state, &caller))?;
            render_handover(&state, &caller, (from, to, disable), errors, None, false).await
        }
    }
}
