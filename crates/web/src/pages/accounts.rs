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
use guanxi_store::accounts::{self, Account, AccountFilter, AccountSort};
use guanxi_store::audit;
use serde::Deserialize;
use uuid::Uuid;

/// The account routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/accounts", get(list))
        .route("/accounts/new", get(new_form).post(create))
        .route("/accounts/views", post(save_view))
        .route("/accounts/views/{id}/delete", post(delete_view))
        .route("/accounts/{id}", get(detail))
        .route("/accounts/{id}/edit", get(edit_form).post(update))
        .route("/accounts/{id}/merge", post(merge))
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

/// A filter that is on, as a chip that removes it.
struct Chip {
    label: String,
    without: String,
}

#[derive(Template)]
#[template(path = "accounts_list.html")]
struct ListPage<'a> {
    chrome: Chrome<'a>,
    scene: &'static str,
    rows: Vec<Row>,
    next_cursor: Option<String>,
    /// The filters as a query string (no scene, no cursor): for links and saved views.
    query: String,
    chips: Vec<Chip>,
    views: Vec<guanxi_store::views::SavedView>,
    source_options: Vec<(&'static str, String, bool)>,
    class_options: Vec<(&'static str, String, bool)>,
    stage_options: Vec<(&'static str, String, bool)>,
    provinces: Vec<(String, &'static str, bool)>,
    cities: Vec<(String, &'static str, bool)>,
    tag: String,
    sort: String,
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    #[serde(default)]
    scene: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    source: String,
    #[serde(default)]
    classification: String,
    #[serde(default)]
    relationship_stage: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    province: String,
    #[serde(default)]
    city: String,
}

/// The filters that parse, as (key, value) in a fixed order; the rest is dropped.
fn filters_of(q: &ListQuery) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if AccountSource::parse(&q.source).is_some() {
        out.push(("source", q.source.clone()));
    }
    if Classification::parse(&q.classification).is_some() {
        out.push(("classification", q.classification.clone()));
    }
    if RelationshipStage::parse(&q.relationship_stage).is_some() {
        out.push(("relationship_stage", q.relationship_stage.clone()));
    }
    if !q.tag.trim().is_empty() {
        out.push(("tag", q.tag.trim().to_owned()));
    }
    if matches!(q.sort.as_str(), "updated" | "name") {
        out.push(("sort", q.sort.clone()));
    }
    let province = guanxi_domain::parse_division_code("province", &q.province).ok().filter(|c| c.ends_with("0000"));
    if let Some(p) = &province {
        out.push(("province", p.clone()));
        // A city only within the chosen province.
        if let Ok(c) = guanxi_domain::parse_division_code("city", &q.city) {
            if c.starts_with(&p[..2]) && c != *p {
                out.push(("city", c));
            }
        }
    }
    out
}

fn query_string(pairs: &[(&'static str, String)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

async fn list(State(state): State<AppState>, PageCaller(caller): PageCaller, Query(q): Query<ListQuery>) -> PageResult {
    let scene = match q.scene.as_deref() {
        Some("mine") => "mine",
        Some("bin") => "bin",
        _ => "all",
    };
    let pairs = filters_of(&q);
    let get = |k: &str| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| v.clone());
    let pq = crate::pagination::PageQuery { limit: Some(50), cursor: q.cursor.clone() };
    let sort = match get("sort").as_deref() {
        Some("updated") => AccountSort::Updated,
        Some("name") => AccountSort::Name,
        _ => AccountSort::Created,
    };
    let (after, after_key) = if sort == AccountSort::Created {
        (pq.after().map_err(fail(&state, &caller))?.map(AccountId::from_uuid), None)
    } else {
        match pq.after_keyed().map_err(fail(&state, &caller))? {
            Some((key, id)) => (Some(AccountId::from_uuid(id)), Some(key)),
            None => (None, None),
        }
    };
    let filter = AccountFilter {
        sort,
        after_key,
        owner_id: (scene == "mine").then_some(caller.principal.user_id),
        deleted: scene == "bin",
        after,
        source: get("source").and_then(|v| AccountSource::parse(&v)),
        classification: get("classification").and_then(|v| Classification::parse(&v)),
        relationship_stage: get("relationship_stage").and_then(|v| RelationshipStage::parse(&v)),
        tag: get("tag"),
        region_code: get("city").or_else(|| get("province")),
        ..Default::default()
    };
    let tr = Tr::new(&state.i18n, caller.principal.locale);
    let chips = pairs
        .iter()
        .map(|(k, v)| {
            let label = match *k {
                "source" => tr.t(&format!("source.{v}")).to_owned(),
                "classification" => tr.t(&format!("class.{v}")).to_owned(),
                "relationship_stage" => tr.t(&format!("stage.{v}")).to_owned(),
                "province" | "city" => guanxi_domain::division_name(v).unwrap_or_default().to_owned(),
                "sort" => tr.t(&format!("accounts.sort_{v}")).to_owned(),
                _ => v.clone(),
            };
            // Removing a province removes its city too.
            let rest: Vec<(&'static str, String)> =
                pairs.iter().filter(|(key, _)| key != k && !(*k == "province" && *key == "city")).cloned().collect();
            Chip { label, without: format!("/accounts?scene={scene}&{}", query_string(&rest)) }
        })
        .collect();
    let views = guanxi_store::views::list(&state.db, caller.principal.user_id, "accounts")
        .await
        .map_err(|e| fail(&state, &caller)(e.into()))?;
    let province = get("province").unwrap_or_default();
    let city = get("city").unwrap_or_default();
    let provinces =
        guanxi_domain::division_children(None).into_iter().map(|(c, n)| (c.clone(), n, c == province)).collect();
    let cities = if province.is_empty() {
        Vec::new()
    } else {
        guanxi_domain::division_children(Some(&province)).into_iter().map(|(c, n)| (c.clone(), n, c == city)).collect()
    };
    let found = accounts::list(&state.db, caller.principal.viewer(), &filter, 51)
        .await
        .map_err(|e| fail(&state, &caller)(e.into()))?;
    let mut page = crate::pagination::page(found, 50, |a| a.id.uuid());
    if sort != AccountSort::Created && page.next_cursor.is_some() {
        page.next_cursor = page
            .items
            .last()
            .and_then(|a| Some(crate::pagination::keyed_cursor(&accounts::sort_key(a, sort)?, a.id.uuid())));
    }
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
    Ok(render(&ListPage {
        chrome,
        scene,
        rows,
        next_cursor: page.next_cursor,
        query: query_string(&pairs),
        chips,
        views,
        source_options: options(
            AccountSource::ALL,
            AccountSource::as_str,
            "source",
            &get("source").unwrap_or_default(),
        ),
        class_options: options(
            Classification::ALL,
            Classification::as_str,
            "class",
            &get("classification").unwrap_or_default(),
        ),
        stage_options: options(
            RelationshipStage::ALL,
            RelationshipStage::as_str,
            "stage",
            &get("relationship_stage").unwrap_or_default(),
        ),
        provinces,
        cities,
        tag: get("tag").unwrap_or_default(),
        sort: get("sort").unwrap_or_default(),
    }))
}

#[derive(Debug, Deserialize)]
struct ViewForm {
    name: String,
    #[serde(default)]
    query: String,
}

/// Saves the list's current filters under a name.
async fn save_view(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Form(f): Form<ViewForm>,
) -> PageResult {
    let name = guanxi_domain::ShortText::parse("name", &f.name)
        .map_err(|e| fail(&state, &caller)(ApiError::Validation(vec![e])))?;
    // Only filters this page understands are kept, in their canonical form.
    let parsed: ListQuery = serde_urlencoded::from_str(&f.query).unwrap_or_default();
    let query = query_string(&filters_of(&parsed));
    let mut tx = state.db.begin().await.map_err(|e| fail(&state, &caller)(e.into()))?;
    guanxi_store::views::save(
        &mut tx,
        &caller.actor(),
        caller.principal.user_id,
        "accounts",
        name.as_str(),
        &query,
        state.clock.now(),
    )
    .await
    .map_err(|e| fail(&state, &caller)(e.into()))?;
    tx.commit().await.map_err(|e| fail(&state, &caller)(e.into()))?;
    Ok(Redirect::to(&format!("/accounts?{query}")).into_response())
}

async fn delete_view(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> PageResult {
    let mut tx = state.db.begin().await.map_err(|e| fail(&state, &caller)(e.into()))?;
    guanxi_store::views::delete(&mut tx, &caller.actor(), caller.principal.user_id, id, state.clock.now())
        .await
        .map_err(|e| fail(&state, &caller)(e.into()))?;
    tx.commit().await.map_err(|e| fail(&state, &caller)(e.into()))?;
    Ok(Redirect::to("/accounts").into_response())
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
    heading: &'static str,
    action: String,
    /// Reason texts for the live 查重 warning.
    reasons_json: String,
    errors: Vec<String>,
    candidates: Vec<CandidateView>,
    /// Someone else owns this organisation: offer to ask for a transfer of it.
    transfer_for: Option<AccountId>,
    form: FormView,
    source_options: Vec<(&'static str, String, bool)>,
    class_options: Vec<(&'static str, String, bool)>,
    stage_options: Vec<(&'static str, String, bool)>,
}

pub(super) fn options<T: Copy + PartialEq>(
    all: &[T],
    id: fn(T) -> &'static str,
    prefix: &str,
    selected: &str,
) -> Vec<(&'static str, String, bool)> {
    all.iter().map(|v| (id(*v), format!("{prefix}.{}", id(*v)), id(*v) == selected)).collect()
}

fn form_page(
    state: &AppState,
    caller: &Caller,
    f: &AccountForm,
    editing: Option<AccountId>,
    errors: Vec<String>,
    candidates: Vec<CandidateView>,
) -> Response {
    render(&form_view(state, caller, f, editing, errors, candidates))
}

fn form_view<'a>(
    state: &'a AppState,
    caller: &Caller,
    f: &AccountForm,
    editing: Option<AccountId>,
    errors: Vec<String>,
    candidates: Vec<CandidateView>,
) -> NewPage<'a> {
    let heading = if editing.is_some() { "accounts.edit" } else { "accounts.new" };
    NewPage {
        chrome: Chrome::new(state, caller, "/accounts", heading),
        heading,
        reasons_json: {
            let tr = Tr::new(&state.i18n, caller.principal.locale);
            let map: serde_json::Map<String, serde_json::Value> =
                ["same_uscc", "same_name", "same_phone", "similar_name", "same_sound", "branch"]
                    .iter()
                    .map(|r| ((*r).to_owned(), tr.t(&format!("reason.{r}")).into()))
                    .collect();
            serde_json::Value::Object(map).to_string()
        },
        action: editing.map_or_else(|| "/accounts/new".to_owned(), |id| format!("/accounts/{id}/edit")),
        errors,
        candidates,
        transfer_for: None,
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
    }
}

async fn new_form(State(state): State<AppState>, PageCaller(caller): PageCaller) -> PageResult {
    // 客服 enters no account: the form is not theirs to fill in.
    caller.require_sales_writer().map_err(fail(&state, &caller))?;
    Ok(form_page(&state, &caller, &AccountForm::default(), None, Vec::new(), Vec::new()))
}

pub(super) fn some(s: &str) -> Option<Option<String>> {
    let t = s.trim();
    (!t.is_empty()).then(|| Some(t.to_owned()))
}

pub(super) fn split(s: &str, seps: &[char]) -> Vec<String> {
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

pub(super) fn reason_list(tr: Tr<'_>, c: &serde_json::Value) -> String {
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
    let result = match input_of(&f) {
        Ok(input) => {
            api::create(State(state.clone()), caller.clone(), crate::json::ApiJson(input)).await.map(|(_, a)| a.0.id)
        }
        Err(e) => Err(e),
    };
    submitted(&state, &caller, &f, None, result)
}

impl AccountForm {
    fn of(a: &Account) -> Self {
        let on = |b: bool| b.then(|| "on".to_owned());
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Self {
            name: a.name.clone(),
            short_name: text(&a.short_name),
            uscc: text(&a.uscc),
            phones: a.phones.iter().map(|p| p.display.clone()).collect::<Vec<_>>().join("\n"),
            region_code: text(&a.region_code),
            address: text(&a.address),
            industry: text(&a.industry),
            source: a.source.as_str().to_owned(),
            referrer: text(&a.referrer),
            classification: a.classification.map(|c| c.as_str().to_owned()).unwrap_or_default(),
            relationship_stage: a.relationship_stage.map(|s| s.as_str().to_owned()).unwrap_or_default(),
            tags: a.tags.join("，"),
            notes: text(&a.notes),
            key_account: on(a.key_account),
            product_fit: on(a.product_fit),
            centralised_purchasing: on(a.centralised_purchasing),
            continuous_purchasing: on(a.continuous_purchasing),
            force: None,
            force_reason: String::new(),
        }
    }
}

async fn edit_form(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> PageResult {
    let a = accounts::get(&state.db, caller.principal.viewer(), AccountId::from_uuid(id))
        .await
        .map_err(|e| fail(&state, &caller)(e.into()))?;
    caller.require_sales_writer().map_err(fail(&state, &caller))?;
    if a.deleted_at.is_some() {
        return Err(fail(&state, &caller)(ApiError::NotFound));
    }
    Ok(form_page(&state, &caller, &AccountForm::of(&a), Some(a.id), Vec::new(), Vec::new()))
}

async fn update(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
    Form(f): Form<AccountForm>,
) -> PageResult {
    let result = match input_of(&f) {
        Ok(input) => api::update(State(state.clone()), caller.clone(), ApiPath(id), crate::json::ApiJson(input))
            .await
            .map(|a| a.0.id),
        Err(e) => Err(e),
    };
    submitted(&state, &caller, &f, Some(AccountId::from_uuid(id)), result)
}

fn submitted(
    state: &AppState,
    caller: &Caller,
    f: &AccountForm,
    editing: Option<AccountId>,
    result: Result<AccountId, ApiError>,
) -> PageResult {
    let tr = Tr::new(&state.i18n, caller.principal.locale);
    let (state, caller) = (state.clone(), caller.clone());
    match result {
        Ok(id) => Ok(Redirect::to(&format!("/accounts/{id}")).into_response()),
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
            let mut res = form_page(&state, &caller, f, editing, Vec::new(), views);
            *res.status_mut() = StatusCode::CONFLICT;
            Ok(res)
        }
        Err(ApiError::Refused(r)) => {
            let text = super::pool::refusal_text(tr, &r, &caller.principal.time_zone);
            let mut page = form_view(&state, &caller, f, editing, vec![text], Vec::new());
            if let guanxi_domain::Refusal::OwnedByOther { account_id, .. } = r {
                page.transfer_for = Some(account_id);
            }
            let mut res = render(&page);
            *res.status_mut() = StatusCode::CONFLICT;
            Ok(res)
        }
        Err(e) => {
            let errors = form_errors(tr, e).map_err(fail(&state, &caller))?;
            let mut res = form_page(&state, &caller, f, editing, errors, Vec::new());
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
    tab: &'static str,
    people: Vec<super::contacts::Row>,
    /// Live deals at the account, for the 商机 tab's count.
    deals: i64,
    duplicates: Vec<CandidateView>,
    history: Vec<(String, String, String, String)>,
    /// 距进入公海 N 天 and the rule, for an owned account a rule returns.
    countdown: Option<(i64, String)>,
    /// The caller may release it to the pool (owner, or manager).
    may_release: bool,
    /// It sits in a pool: offer to claim it.
    in_pool: bool,
    /// The 活动 tab: the latest touches.
    activities: Vec<super::activities::TimelineRow>,
    /// The shared timeline shows no account column here.
    feed: bool,
}

/// A record's history (with the records merged into it): whoever may see the
/// record may see what happened to it.
pub(super) async fn history_of(
    state: &AppState,
    caller: &Caller,
    entity_type: &str,
    ids: Vec<Uuid>,
) -> Result<Vec<(String, String, String, String)>, PageError> {
    let filter = audit::AuditFilter { entity_type: Some(entity_type.into()), entity_ids: ids, ..Default::default() };
    let entries = audit::list(&state.db, guanxi_store::Viewer::whole(caller.principal.workspace_id), &filter, 100)
        .await
        .map_err(|e| fail(state, caller)(e.into()))?;
    let tr = Tr::new(&state.i18n, caller.principal.locale);
    let tz = caller.principal.time_zone.as_str();
    let section = if entity_type == "contact" { "contacts" } else { "accounts" };
    Ok(entries
        .into_iter()
        .map(|e| {
            // A creation lists no fields (every one of them is new), only a 查重 override.
            let fields = e
                .changes
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter(|(k, _)| e.action != "create" || k.as_str() == "duplicate_override")
                        .map(|(k, change)| merged_label(tr, k, change).unwrap_or_else(|| field_label(tr, section, k)))
                        .collect::<Vec<_>>()
                        .join("、")
                })
                .unwrap_or_default();
            (show_time(e.at, tz), e.actor_label, format!("action.{}", e.action), fields)
        })
        .collect())
}

#[derive(Debug, Default, Deserialize)]
struct DetailQuery {
    #[serde(default)]
    tab: Option<String>,
}

async fn detail(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
    Query(q): Query<DetailQuery>,
) -> PageResult {
    let id = AccountId::from_uuid(id);
    let viewer = caller.principal.viewer();
    let a = accounts::get(&state.db, viewer, id).await.map_err(|e| fail(&state, &caller)(e.into()))?;
    // A merged-away account's address leads to the account it lives on in.
    if let Some(kept) = a.merged_into_id {
        return Ok(Redirect::permanent(&format!("/accounts/{kept}")).into_response());
    }
    let tz = caller.principal.time_zone.as_str();
    let tab = match q.tab.as_deref() {
        Some("people") => "people",
        Some("history") => "history",
        Some("activities") => "activities",
        _ => "profile",
    };
    let activities = if tab == "activities" {
        super::activities::timeline_of(&state, &caller, guanxi_store::activities::Of::Account(id)).await?
    } else {
        Vec::new()
    };
    let tr = Tr::new(&state.i18n, caller.principal.locale);
    let people = guanxi_store::contacts::list(
        &state.db,
        viewer,
        &guanxi_store::contacts::ContactFilter { account_id: Some(id), include_left: true, ..Default::default() },
        200,
    )
    .await
    .map_err(|e| fail(&state, &caller)(e.into()))?
    .into_iter()
    .map(super::contacts::row)
    .collect();
    let deal_filter = guanxi_store::opportunities::OpportunityFilter { account_id: Some(id), ..Default::default() };
    let deals = guanxi_store::opportunities::pipeline(&state.db, viewer, &deal_filter)
        .await
        .map_err(|e| fail(&state, &caller)(e.into()))?
        .iter()
        .map(|s| s.count)
        .sum();
    let mut ids = vec![id.uuid()];
    ids.extend(
        accounts::merged_into(&state.db, id)
            .await
            .map_err(|e| fail(&state, &caller)(e.into()))?
            .iter()
            .map(|m| m.uuid()),
    );
    let history = history_of(&state, &caller, "account", ids).await?;
    // Other records of the same organisation, to merge here (only those the user may open).
    let duplicates = if a.deleted_at.is_none() {
        let phones: Vec<guanxi_domain::Phone> = a.phones.iter().filter_map(|p| p.parsed()).collect();
        let found = accounts::duplicates(
            &state.db,
            caller.principal.workspace_id,
            &a.name,
            a.uscc.as_deref(),
            &phones,
            Some(id),
        )
        .await
        .map_err(|e| fail(&state, &caller)(e.into()))?;
        let ids: Vec<AccountId> = found.iter().map(|c| c.id).collect();
        let may_open = accounts::visible(&mut guanxi_store::Conn::Db(&state.db), viewer, &ids)
            .await
            .map_err(|e| fail(&state, &caller)(e.into()))?;
        found
            .into_iter()
            .filter(|c| may_open.contains(&c.id))
            .map(|c| {
                let json = serde_json::to_value(&c).unwrap_or_default();
                CandidateView {
                    id: c.id,
                    verdict_key: if c.verdict == "same" { "accounts.same" } else { "accounts.possible" },
                    reasons: reason_list(tr, &json),
                    owner: c.owner_name,
                    name: c.name,
                }
            })
            .collect()
    } else {
        Vec::new()
    };
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
    let countdown = a.ownership.release_due_at.zip(a.ownership.release_rule).map(|(due, rule)| {
        (guanxi_domain::pool::days_left(due, state.clock.now()), format!("release_rule.{}", rule.as_str()))
    });
    let may_release = a.deleted_at.is_none()
        && a.owner_id.is_some()
        && (a.owner_id == Some(caller.principal.user_id) || api::may_assign(&caller));
    let in_pool = a.deleted_at.is_none() && a.owner_id.is_none() && a.ownership.pool_id.is_some();
    let page = DetailPage {
        feed: false,
        activities,
        countdown,
        may_release,
        in_pool,
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
        tab,
        people,
        deals,
        duplicates,
        history,
        a,
    };
    Ok(render(&page))
}

/// A merge names the other record, and what came over with the merged one:
/// 合并自「沈阳远航电气」（随之转入：联系人 2、跟进 5…）.
fn merged_label(tr: Tr<'_>, field: &str, change: &serde_json::Value) -> Option<String> {
    let after = &change["after"];
    let name = after["name"].as_str()?;
    let key = match field {
        "merged_from" => "accounts.merged_from",
        "merged_into" => "accounts.merged_into",
        _ => return None,
    };
    let mut label = tr.t("accounts.merged_named").replace("{label}", tr.t(key)).replace("{name}", name);
    let moved: Vec<String> = ["contacts", "touches", "tasks", "deals", "purchases"]
        .iter()
        .filter_map(|kind| {
            let n = after[format!("{kind}_moved")].as_i64().filter(|n| *n > 0)?;
            Some(format!("{} {n}", tr.t(&format!("accounts.moved_{kind}"))))
        })
        .collect();
    if !moved.is_empty() {
        label.push_str(&tr.t("accounts.moved").replace("{list}", &moved.join(tr.t("accounts.moved_joiner"))));
    }
    Some(label)
}

/// A changed field as the forms label it (owner_id → 负责人): the shared
/// field names first, then the record's own section.
fn field_label(tr: Tr<'_>, section: &str, field: &str) -> String {
    let special = match field {
        "owner_id" => Some("accounts.owner"),
        "team_id" => Some("accounts.team"),
        "relationship_stage" => Some("accounts.stage"),
        "relationship_strength" => Some("contacts.strength"),
        "deleted" => Some("accounts.deleted"),
        "duplicate_override" => Some("accounts.force"),
        "merged_from" => Some("accounts.merged_from"),
        "merged_into" => Some("accounts.merged_into"),
        _ => None,
    };
    let candidates =
        special.map(str::to_owned).into_iter().chain([format!("fields.{field}"), format!("{section}.{field}")]);
    for key in candidates {
        let text = tr.t(&key);
        if text != key {
            return text.to_owned();
        }
    }
    field.to_owned()
}

#[derive(Debug, Deserialize)]
struct MergeForm {
    duplicate_id: Uuid,
}

async fn merge(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
    Form(f): Form<MergeForm>,
) -> PageResult {
    let input = api::MergeInput { duplicate_id: f.duplicate_id };
    let _kept = api::merge(State(state.clone()), caller.clone(), ApiPath(id), crate::json::ApiJson(input))
        .await
        .map_err(fail(&state, &caller))?;
    Ok(Redirect::to(&format!("/accounts/{id}?tab=history")).into_response())
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
