//! 客户: the account list, the new-account form with 查重, the account page.
//! The forms call the same functions as the API.

use super::{fail, form_errors, render, show_time, Chrome, PageError, MISSING};
use crate::api::accounts as api;
use crate::auth::{Caller, PageCaller};
use crate::error::ApiError;
use crate::i18n::Tr;
use crate::json::ApiPath;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use guanxi_domain::{AccountId, AccountSource, Classification, RelationshipStage};
use guanxi_store::accounts::{self, Account, AccountFilter};
use guanxi_store::audit;
use serde::Deserialize;
use uuid::Uuid;

/// The account routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/accounts", get(list))
        .route("/accounts/new", get(new_form).post(create))
        .route("/accounts/{id}", get(detail))
        .route("/accounts/{id}/delete", post(|s, c, p| set_deleted(s, c, p, true)))
        .route("/accounts/{id}/restore", post(|s, c, p| set_deleted(s, c, p, false)))
}

type PageResult = Result<Response, PageError>;

fn class_key(c: Option<Classification>) -> String {
    c.map_or_else(|| "accounts.none".to_owned(), |c| format!("class.{}", c.as_str()))
}

struct Row {
    id: AccountId,
    name: String,
    key_account: bool,
    class_key: String,
    source_key: String,
    phone: String,
    owner: String,
    team: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "accounts_list.html")]
struct ListPage<'a> {
    chrome: Chrome<'a>,
    scene: &'static str,
    rows: Vec<Row>,
    next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    #[serde(default)]
    scene: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

async fn list(State(state): State<AppState>, PageCaller(caller): PageCaller, Query(q): Query<ListQuery>) -> PageResult {
    let scene = match q.scene.as_deref() {
        Some("mine") => "mine",
        Some("bin") => "bin",
        _ => "all",
    };
    let pq = crate::pagination::PageQuery { limit: Some(50), cursor: q.cursor };
    let after = pq.after().map_err(fail(&state, &caller))?.map(AccountId::from_uuid);
    let filter = AccountFilter {
        owner_id: (scene == "mine").then_some(caller.principal.user_id),
        deleted: scene == "bin",
        after,
        ..Default::default()
    };
    let found = accounts::list(&state.db, caller.principal.viewer(), &filter, 51)
        .await
        .map_err(|e| fail(&state, &caller)(e.into()))?;
    let page = crate::pagination::page(found, 50, |a| a.id.uuid());
    let tz = caller.principal.time_zone.as_str();
    let rows = page
        .items
        .into_iter()
        .map(|a| Row {
            id: a.id,
            key_account: a.key_account,
            class_key: class_key(a.classification),
            source_key: format!("source.{}", a.source.as_str()),
            phone: a.phones.first().map_or_else(|| MISSING.to_owned(), |p| p.display.clone()),
            owner: a.owner_name.unwrap_or_else(|| MISSING.to_owned()),
            team: a.team_name.unwrap_or_else(|| MISSING.to_owned()),
            updated: show_time(a.updated_at, tz),
            name: a.name,
        })
        .collect();
    let chrome = Chrome::new(&state, &caller, "/accounts", "accounts.title");
    Ok(render(&ListPage { chrome, scene, rows, next_cursor: page.next_cursor }))
}

/// The new-account form as typed (kept when shown again).
#[derive(Debug, Default, Deserialize)]
pub struct AccountForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    short_name: String,
    #[serde(default)]
    uscc: String,
    #[serde(default)]
    phones: String,
    #[serde(default)]
    region_code: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    industry: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    referrer: String,
    #[serde(default)]
    classification: String,
    #[serde(default)]
    relationship_stage: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    key_account: Option<String>,
    #[serde(default)]
    product_fit: Option<String>,
    #[serde(default)]
    centralised_purchasing: Option<String>,
    #[serde(default)]
    continuous_purchasing: Option<String>,
    #[serde(default)]
    force: Option<String>,
    #[serde(default)]
    force_reason: String,
}

struct FormView {
    name: String,
    short_name: String,
    uscc: String,
    phones: String,
    region_code: String,
    address: String,
    industry: String,
    referrer: String,
    tags: String,
    notes: String,
    key_account: bool,
    product_fit: bool,
    centralised_purchasing: bool,
    continuous_purchasing: bool,
}

struct CandidateView {
    id: AccountId,
    name: String,
    verdict_key: &'static str,
    reasons: String,
    owner: Option<String>,
}

#[derive(Template)]
#[template(path = "account_new.html")]
struct NewPage<'a> {
    chrome: Chrome<'a>,
    errors: Vec<String>,
    candidates: Vec<CandidateView>,
    form: FormView,
    source_options: Vec<(&'static str, String, bool)>,
    class_options: Vec<(&'static str, String, bool)>,
    stage_options: Vec<(&'static str, String, bool)>,
}

fn options<T: Copy + PartialEq>(
    all: &[T],
    id: fn(T) -> &'static str,
    prefix: &str,
    selected: &str,
) -> Vec<(&'static str, String, bool)> {
    all.iter().map(|v| (id(*v), format!("{prefix}.{}", id(*v)), id(*v) == selected)).collect()
}

fn new_page(
    state: &AppState,
    caller: &Caller,
    f: &AccountForm,
    errors: Vec<String>,
    candidates: Vec<CandidateView>,
) -> Response {
    let page = NewPage {
        chrome: Chrome::new(state, caller, "/accounts", "accounts.new"),
        errors,
        candidates,
        source_options: options(
            AccountSource::ALL,
            AccountSource::as_str,
            "source",
            if f.source.is_empty() { "trade_show" } else { &f.source },
        ),
        class_options: options(Classification::ALL, Classification::as_str, "class", &f.classification),
        stage_options: options(RelationshipStage::ALL, RelationshipStage::as_str, "stage", &f.relationship_stage),
        form: FormView {
            name: f.name.clone(),
            short_name: f.short_name.clone(),
            uscc: f.uscc.clone(),
            phones: f.phones.clone(),
            region_code: f.region_code.clone(),
            address: f.address.clone(),
            industry: f.industry.clone(),
            referrer: f.referrer.clone(),
            tags: f.tags.clone(),
            notes: f.notes.clone(),
            key_account: f.key_account.is_some(),
            product_fit: f.product_fit.is_some(),
            centralised_purchasing: f.centralised_purchasing.is_some(),
            continuous_purchasing: f.continuous_purchasing.is_some(),
        },
    };
    render(&page)
}

async fn new_form(State(state): State<AppState>, PageCaller(caller): PageCaller) -> Response {
    new_page(&state, &caller, &AccountForm::default(), Vec::new(), Vec::new())
}

fn some(s: &str) -> Option<Option<String>> {
    let t = s.trim();
    (!t.is_empty()).then(|| Some(t.to_owned()))
}

fn split(s: &str, seps: &[char]) -> Vec<String> {
    s.split(seps).map(str::trim).filter(|x| !x.is_empty()).map(str::to_owned).collect()
}

/// The form as the API's input.
fn input_of(f: &AccountForm) -> Result<api::AccountInput, ApiError> {
    let present = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_owned());
    let source =
        AccountSource::parse(&f.source).ok_or_else(|| ApiError::field("source", "required", "source is required"))?;
    let classification = match present(&f.classification) {
        Some(c) => Some(Some(
            Classification::parse(&c).ok_or_else(|| ApiError::field("classification", "invalid", "unknown class"))?,
        )),
        None => None,
    };
    let relationship_stage = match present(&f.relationship_stage) {
        Some(s) => Some(Some(
            RelationshipStage::parse(&s)
                .ok_or_else(|| ApiError::field("relationship_stage", "invalid", "unknown stage"))?,
        )),
        None => None,
    };
    Ok(api::AccountInput {
        name: Some(f.name.clone()),
        short_name: some(&f.short_name),
        uscc: some(&f.uscc),
        phones: Some(split(&f.phones, &['\n', '\r', ',', '，', ';', '；'])),
        industry: some(&f.industry),
        region_code: some(&f.region_code),
        address: some(&f.address),
        website: None,
        source: Some(source),
        referrer: some(&f.referrer),
        classification,
        key_account: Some(f.key_account.is_some()),
        product_fit: Some(f.product_fit.is_some()),
        centralised_purchasing: Some(f.centralised_purchasing.is_some()),
        continuous_purchasing: Some(f.continuous_purchasing.is_some()),
        relationship_stage,
        owner_id: None,
        team_id: None,
        notes: some(&f.notes),
        tags: Some(split(&f.tags, &[',', '，', '、', ';', '；'])),
        force: Some(f.force.is_some()),
        force_reason: some(&f.force_reason).flatten(),
    })
}

fn reason_list(tr: Tr<'_>, c: &serde_json::Value) -> String {
    c["reasons"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|x| x.as_str())
                .map(|x| tr.t(&format!("reason.{x}")).to_owned())
                .collect::<Vec<_>>()
                .join("、")
        })
        .unwrap_or_default()
}

async fn create(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Form(f): Form<AccountForm>,
) -> PageResult {
    let tr = Tr::new(&state.i18n, caller.principal.locale);
    let result = match input_of(&f) {
        Ok(input) => api::create(State(state.clone()), caller.clone(), crate::json::ApiJson(input)).await,
        Err(e) => Err(e),
    };
    match result {
        Ok((_, axum::Json(a))) => Ok(Redirect::to(&format!("/accounts/{}", a.id)).into_response()),
        Err(ApiError::Duplicate { candidates, .. }) => {
            let views = candidates
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| {
                    Some(CandidateView {
                        id: AccountId::from_uuid(c["id"].as_str()?.parse().ok()?),
                        name: c["name"].as_str()?.to_owned(),
                        verdict_key: if c["verdict"] == "same" { "accounts.same" } else { "accounts.possible" },
                        reasons: reason_list(tr, c),
                        owner: c["owner_name"].as_str().map(str::to_owned),
                    })
                })
                .collect();
            let mut res = new_page(&state, &caller, &f, Vec::new(), views);
            *res.status_mut() = StatusCode::CONFLICT;
            Ok(res)
        }
        Err(e) => {
            let errors = form_errors(tr, e).map_err(fail(&state, &caller))?;
            let mut res = new_page(&state, &caller, &f, errors, Vec::new());
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
    }
}

#[derive(Template)]
#[template(path = "account_detail.html")]
struct DetailPage<'a> {
    chrome: Chrome<'a>,
    a: Account,
    deleted: bool,
    class_key: String,
    source_key: String,
    stage_key: String,
    owner: String,
    team: String,
    updated: String,
    short_name: String,
    uscc: String,
    phones: Vec<String>,
    region: String,
    address: String,
    industry: String,
    referrer: Option<String>,
    criteria: Vec<&'static str>,
    tags: Vec<String>,
    notes: String,
    history: Vec<(String, String, String, String)>,
}

async fn detail(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> PageResult {
    let id = AccountId::from_uuid(id);
    let a =
        accounts::get(&state.db, caller.principal.viewer(), id).await.map_err(|e| fail(&state, &caller)(e.into()))?;
    let tz = caller.principal.time_zone.as_str();
    // The account's own history: whoever may see the account may see what happened to it.
    let filter =
        audit::AuditFilter { entity_type: Some("account".into()), entity_id: Some(id.uuid()), ..Default::default() };
    let entries = audit::list(&state.db, guanxi_store::Viewer::whole(caller.principal.workspace_id), &filter, 100)
        .await
        .map_err(|e| fail(&state, &caller)(e.into()))?;
    let tr = Tr::new(&state.i18n, caller.principal.locale);
    let history = entries
        .into_iter()
        .map(|e| {
            let fields = e
                .changes
                .as_object()
                .map(|o| o.keys().map(|k| field_label(tr, k)).collect::<Vec<_>>().join("、"))
                .unwrap_or_default();
            (show_time(e.at, tz), e.actor_label, format!("action.{}", e.action), fields)
        })
        .collect();
    let text = |v: &Option<String>| v.clone().unwrap_or_else(|| MISSING.to_owned());
    let mut criteria = Vec::new();
    for (on, key) in [
        (a.product_fit, "accounts.product_fit"),
        (a.centralised_purchasing, "accounts.centralised_purchasing"),
        (a.continuous_purchasing, "accounts.continuous_purchasing"),
    ] {
        if on {
            criteria.push(key);
        }
    }
    let page = DetailPage {
        chrome: Chrome::new(&state, &caller, "/accounts", "accounts.title"),
        deleted: a.deleted_at.is_some(),
        class_key: class_key(a.classification),
        source_key: format!("source.{}", a.source.as_str()),
        stage_key: a.relationship_stage.map_or_else(|| "accounts.none".to_owned(), |s| format!("stage.{}", s.as_str())),
        owner: text(&a.owner_name),
        team: text(&a.team_name),
        updated: show_time(a.updated_at, tz),
        short_name: text(&a.short_name),
        uscc: text(&a.uscc),
        phones: a.phones.iter().map(|p| p.display.clone()).collect(),
        region: a
            .region_code
            .as_deref()
            .map(|c| guanxi_domain::division_path(c).join(" "))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| MISSING.to_owned()),
        address: text(&a.address),
        industry: text(&a.industry),
        referrer: a.referrer.clone(),
        criteria,
        tags: a.tags.clone(),
        notes: text(&a.notes),
        history,
        a,
    };
    Ok(render(&page))
}

/// A changed field as the form labels it (owner_id → 负责人).
fn field_label(tr: Tr<'_>, field: &str) -> String {
    let key = match field {
        "owner_id" => "accounts.owner".to_owned(),
        "team_id" => "accounts.team".to_owned(),
        "relationship_stage" => "accounts.stage".to_owned(),
        "tags" => "accounts.tag".to_owned(),
        "phones" => "accounts.phone".to_owned(),
        "deleted" => "accounts.deleted".to_owned(),
        "duplicate_override" => "accounts.force".to_owned(),
        other => format!("accounts.{other}"),
    };
    let text = tr.t(&key);
    if text == key {
        field.to_owned()
    } else {
        text.to_owned()
    }
}

async fn set_deleted(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
    deleted: bool,
) -> PageResult {
    let result = if deleted {
        api::delete(State(state.clone()), caller.clone(), ApiPath(id)).await
    } else {
        api::restore(State(state.clone()), caller.clone(), ApiPath(id)).await
    };
    let _account = result.map_err(fail(&state, &caller))?;
    Ok(Redirect::to(&format!("/accounts/{id}")).into_response())
}
