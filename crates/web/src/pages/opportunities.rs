//! 商机: the list with its pipeline, the form, and the deal's page with the
//! procurement path, the stage we came in at and its 陪标 risk. The forms
//! call the same functions as the API.

use super::accounts::some;
use super::contacts::{pick_account, NewQuery, PickAccount};
use super::settings_pool::{pairs, value};
use super::{fail, form_errors, render, show_time, Chrome, PageError, MISSING};
use crate::api::opportunities::{self as api, OpportunityInput, OpportunityQuery};
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
use guanxi_domain::opportunity::{format_wan, format_yuan, yuan_text};
use guanxi_domain::{AccountId, AccountSource, EntryTiming, OpportunityId, OpportunityStatus, Stage};
use guanxi_store::contacts::{self, ContactFilter};
use guanxi_store::opportunities::{self, Opportunity};
use serde::Deserialize;
use uuid::Uuid;

type PageResult = Result<Response, PageError>;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/opportunities", get(list))
        .route("/opportunities/new", get(new_form).post(create))
        .route("/opportunities/{id}", get(detail))
        .route("/opportunities/{id}/edit", get(edit_form).post(update))
        .route("/opportunities/{id}/advance", post(advance))
        .route("/opportunities/{id}/delete", post(|s, c, p| set_deleted(s, c, p, true)))
        .route("/opportunities/{id}/restore", post(|s, c, p| set_deleted(s, c, p, false)))
}

/// The badge colour of an entry timing: red for a risk, amber for late, green for first mover.
fn timing_colour(t: EntryTiming) -> &'static str {
    match t {
        EntryTiming::FirstMover => "green",
        EntryTiming::Late => "amber",
        EntryTiming::NoFirstMover | EntryTiming::AccompanyBid => "red",
    }
}

fn status_colour(s: OpportunityStatus) -> &'static str {
    match s {
        OpportunityStatus::Open => "grey",
        OpportunityStatus::Won => "green",
        OpportunityStatus::Lost => "red",
    }
}

struct Row {
    id: String,
    name: String,
    account_id: String,
    account: String,
    stage_key: String,
    status: OpportunityStatus,
    status_key: String,
    status_colour: &'static str,
    timing_key: String,
    timing_colour: &'static str,
    amount: String,
    close: String,
    owner: String,
}

fn row_of(o: Opportunity) -> Row {
    Row {
        id: o.id.to_string(),
        status_colour: status_colour(o.status),
        timing_colour: timing_colour(o.entry_timing),
        amount: o.amount_fen.map_or(MISSING.to_owned(), format_yuan),
        close: o.expected_close_on.unwrap_or_else(|| MISSING.to_owned()),
        owner: o.owner_name.unwrap_or_else(|| MISSING.to_owned()),
        name: o.name,
        account_id: o.account_id.to_string(),
        account: o.account_name,
        stage_key: stage_key(o.stage),
        status: o.status,
        status_key: format!("opp_status.{}", o.status.as_str()),
        timing_key: format!("entry_timing.{}", o.entry_timing.as_str()),
    }
}

fn stage_key(s: Stage) -> String {
    format!("opp_stage.{}", s.as_str())
}

/// The list's scenes: (scene, i18n key).
const SCENES: [(&str, &str); 7] = [
    ("all", "accounts.all"),
    ("mine", "opportunities.mine"),
    ("open", "opp_status.open"),
    ("won", "opp_status.won"),
    ("lost", "opp_status.lost"),
    ("late", "opportunities.late_entry"),
    ("bin", "accounts.bin"),
];

#[derive(Template)]
#[template(path = "opportunities_list.html")]
struct ListPage<'a> {
    chrome: Chrome<'a>,
    scene: &'static str,
    scenes: [(&'static str, &'static str); 7],
    rows: Vec<Row>,
    next_cursor: Option<String>,
    /// The account the list is narrowed to: (id, name).
    account: Option<(String, String)>,
    /// Per stage: (stage, its i18n key, deals, amount in 万, whether the table shows it).
    pipeline: Vec<(&'static str, String, i64, String, bool)>,
    total_count: i64,
    total_amount: String,
    stage_filter: Option<Stage>,
    /// The scene and account as a query string, for links that keep them.
    base_query: String,
    /// The list's filters as the export API takes them.
    export_query: String,
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    #[serde(default)]
    scene: Option<String>,
    #[serde(default)]
    account_id: Option<Uuid>,
    #[serde(default)]
    stage: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

async fn list(State(state): State<AppState>, PageCaller(caller): PageCaller, Query(q): Query<ListQuery>) -> PageResult {
    let err = fail(&state, &caller);
    let scene = match q.scene.as_deref() {
        Some("mine") => "mine",
        Some("open") => "open",
        Some("won") => "won",
        Some("lost") => "lost",
        Some("late") => "late",
        Some("bin") => "bin",
        _ => "all",
    };
    let stage = q.stage.as_deref().and_then(Stage::parse);
    let mut query =
        OpportunityQuery { account_id: q.account_id, stage, cursor: q.cursor.clone(), ..OpportunityQuery::default() };
    match scene {
        "mine" => query.owner_id = Some(caller.principal.user_id.uuid()),
        "open" => query.status = Some(OpportunityStatus::Open),
        "won" => query.status = Some(OpportunityStatus::Won),
        "lost" => query.status = Some(OpportunityStatus::Lost),
        "late" => {
            query.late_entry = Some(true);
            query.status = Some(OpportunityStatus::Open);
        }
        "bin" => query.deleted = Some(true),
        _ => {}
    }
    let viewer = caller.principal.viewer();
    let account = match q.account_id {
        Some(id) => {
            let a = guanxi_store::accounts::get(&state.db, viewer, AccountId::from_uuid(id))
                .await
                .map_err(|e| err(e.into()))?;
            Some((a.id.to_string(), a.name))
        }
        None => None,
    };
    let query_string = export_query(&query);
    let page =
        api::list(State(state.clone()), caller.clone(), crate::json::ApiQuery(query.clone())).await.map_err(&err)?.0;
    // The pipeline of the scene, whatever stage the table is narrowed to.
    let all_stages = OpportunityQuery { stage: None, cursor: None, ..query };
    let stages = opportunities::pipeline(&state.db, viewer, &api::filter_of(&all_stages, None))
        .await
        .map_err(|e| err(e.into()))?;
    let mut base = vec![("scene", scene.to_owned())];
    if let Some(id) = q.account_id {
        base.push(("account_id", id.to_string()));
    }
    let page_view = ListPage {
        chrome: Chrome::new(&state, &caller, "/opportunities", "opportunities.title"),
        scene,
        scenes: SCENES,
        rows: page.items.into_iter().map(row_of).collect(),
        next_cursor: page.next_cursor,
        account,
        total_count: stages.iter().map(|s| s.count).sum(),
        total_amount: format_wan(stages.iter().map(|s| s.amount_fen).sum()),
        pipeline: stages
            .into_iter()
            .map(|s| (s.stage.as_str(), stage_key(s.stage), s.count, format_wan(s.amount_fen), stage == Some(s.stage)))
            .collect(),
        stage_filter: stage,
        base_query: serde_urlencoded::to_string(&base).unwrap_or_default(),
        export_query: query_string,
    };
    Ok(render(&page_view))
}

/// The filters of a list query as the export endpoint reads them (no cursor).
fn export_query(q: &OpportunityQuery) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(v) = q.account_id {
        pairs.push(("account_id", v.to_string()));
    }
    if let Some(v) = q.stage {
        pairs.push(("stage", v.as_str().to_owned()));
    }
    if let Some(v) = q.status {
        pairs.push(("status", v.as_str().to_owned()));
    }
    if let Some(v) = q.owner_id {
        pairs.push(("owner_id", v.to_string()));
    }
    if q.late_entry == Some(true) {
        pairs.push(("late_entry", "true".to_owned()));
    }
    if q.deleted == Some(true) {
        pairs.push(("deleted", "true".to_owned()));
    }
    serde_urlencoded::to_string(&pairs).unwrap_or_default()
}

/// The path's steps for the deal page: (stage, class) where the class says
/// passed, current, or ahead, and whether we came in there.
fn path_of(o: &Opportunity) -> Vec<(String, &'static str, bool)> {
    Stage::ALL
        .iter()
        .map(|s| {
            let class = match s.cmp(&o.stage) {
                std::cmp::Ordering::Less => "passed",
                std::cmp::Ordering::Equal => "current",
                std::cmp::Ordering::Greater => "ahead",
            };
            (stage_key(*s), class, *s == o.first_contact_stage)
        })
        .collect()
}

#[derive(Template)]
#[template(path = "opportunity_detail.html")]
struct DetailPage<'a> {
    chrome: Chrome<'a>,
    o: Opportunity,
    path: Vec<(String, &'static str, bool)>,
    stage_key: String,
    first_key: String,
    status_key: String,
    timing_key: String,
    advice_key: String,
    status_colour: &'static str,
    timing_colour: &'static str,
    amount: String,
    close: String,
    owner: String,
    source_key: String,
    stage_changed: String,
    /// The next stage's i18n key, when the deal can move on.
    next_stage: Option<String>,
    deleted: bool,
    /// (id, name, title, stance key, stance colour)
    people: Vec<(String, String, String, String, &'static str)>,
    /// The deal's touches, newest first (the shared timeline's rows).
    activities: Vec<super::activities::TimelineRow>,
    feed: bool,
}

async fn detail(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> PageResult {
    let err = fail(&state, &caller);
    let o = opportunities::get(&state.db, caller.principal.viewer(), OpportunityId::from_uuid(id))
        .await
        .map_err(|e| err(e.into()))?;
    let tz = caller.principal.time_zone.as_str();
    let next_stage = (o.status != OpportunityStatus::Lost)
        .then(|| Stage::ALL.get(o.stage.index() + 1).copied())
        .flatten()
        .map(stage_key);
    let people = o
        .contacts
        .iter()
        .map(|c| {
            let (key, colour) = match c.stance {
                Some(s) => (format!("stance.{}", s.as_str()), stance_colour(s)),
                None => ("contacts.stance_unknown".to_owned(), "grey"),
            };
            (c.id.to_string(), c.name.clone(), c.title.clone().unwrap_or_default(), key, colour)
        })
        .collect();
    let activities =
        super::activities::timeline_of(&state, &caller, guanxi_store::activities::Of::Opportunity(o.id)).await?;
    let page = DetailPage {
        chrome: Chrome::new(&state, &caller, "/opportunities", "opportunities.title"),
        activities,
        feed: false,
        path: path_of(&o),
        stage_key: stage_key(o.stage),
        first_key: stage_key(o.first_contact_stage),
        status_key: format!("opp_status.{}", o.status.as_str()),
        timing_key: format!("entry_timing.{}", o.entry_timing.as_str()),
        advice_key: format!("entry_advice.{}", o.entry_timing.as_str()),
        status_colour: status_colour(o.status),
        timing_colour: timing_colour(o.entry_timing),
        amount: o.amount_fen.map_or(MISSING.to_owned(), format_yuan),
        close: o.expected_close_on.clone().unwrap_or_else(|| MISSING.to_owned()),
        owner: o.owner_name.clone().unwrap_or_else(|| MISSING.to_owned()),
        source_key: o.source.map_or_else(|| "accounts.none".to_owned(), |s| format!("source.{}", s.as_str())),
        stage_changed: show_time(o.stage_changed_at, tz),
        next_stage,
        deleted: o.deleted_at.is_some(),
        people,
        o,
    };
    Ok(render(&page))
}

fn stance_colour(s: guanxi_domain::Stance) -> &'static str {
    match s {
        guanxi_domain::Stance::Supporter => "green",
        guanxi_domain::Stance::Neutral => "grey",
        guanxi_domain::Stance::Opponent => "red",
    }
}

/// The form's values as typed.
#[derive(Debug, Default, Clone)]
struct OpportunityForm {
    account_id: String,
    name: String,
    stage: String,
    first_contact_stage: String,
    status: String,
    amount: String,
    expected_close_on: String,
    source: String,
    competitors: String,
    lost_reason: String,
    notes: String,
    contact_ids: Vec<String>,
    /// The owner's id; blank leaves it (the account's owner on create).
    owner_id: String,
}

impl OpportunityForm {
    fn of(o: &Opportunity) -> Self {
        Self {
            account_id: o.account_id.to_string(),
            name: o.name.clone(),
            stage: o.stage.as_str().to_owned(),
            first_contact_stage: o.first_contact_stage.as_str().to_owned(),
            // Only a lost deal says so on the form: otherwise the status follows the stage.
            status: if o.status == OpportunityStatus::Lost { o.status.as_str().to_owned() } else { String::new() },
            amount: o.amount_fen.map(yuan_text).unwrap_or_default(),
            expected_close_on: o.expected_close_on.clone().unwrap_or_default(),
            source: o.source.map(|s| s.as_str().to_owned()).unwrap_or_default(),
            competitors: o.competitors.clone().unwrap_or_default(),
            lost_reason: o.lost_reason.clone().unwrap_or_default(),
            notes: o.notes.clone().unwrap_or_default(),
            contact_ids: o.contacts.iter().map(|c| c.id.to_string()).collect(),
            owner_id: o.owner_id.map(|u| u.to_string()).unwrap_or_default(),
        }
    }

    fn from_body(body: &Bytes) -> Self {
        let p = pairs(body);
        let v = |k: &str| value(&p, k).to_owned();
        Self {
            account_id: v("account_id"),
            name: v("name"),
            stage: v("stage"),
            first_contact_stage: v("first_contact_stage"),
            status: v("status"),
            amount: v("amount"),
            expected_close_on: v("expected_close_on"),
            source: v("source"),
            competitors: v("competitors"),
            lost_reason: v("lost_reason"),
            notes: v("notes"),
            contact_ids: p.iter().filter(|(k, _)| k == "contact_ids").map(|(_, v)| v.clone()).collect(),
            owner_id: v("owner_id"),
        }
    }

    /// The form as the API's input; a blank choice leaves the API's default.
    fn input(&self) -> Result<OpportunityInput, ApiError> {
        let choice = |field: &str, v: &str| -> Result<Option<Stage>, ApiError> {
            match v.trim() {
                "" => Ok(None),
                s => Stage::parse(s)
                    .map(Some)
                    .ok_or_else(|| ApiError::field(field, "invalid", format!("{field} is not one of the stages"))),
            }
        };
        let ids = self
            .contact_ids
            .iter()
            .map(|c| c.parse::<Uuid>().map_err(|_| ApiError::field("contact_ids", "invalid", "unknown contact")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(OpportunityInput {
            account_id: Some(
                self.account_id.parse().map_err(|_| ApiError::field("account_id", "invalid", "unknown account"))?,
            ),
            name: Some(self.name.clone()),
            stage: choice("stage", &self.stage)?,
            first_contact_stage: choice("first_contact_stage", &self.first_contact_stage)?,
            status: OpportunityStatus::parse(self.status.trim()),
            amount: Some(some(&self.amount).flatten()),
            expected_close_on: Some(some(&self.expected_close_on).flatten()),
            // Blank leaves the owner as it is; the API refuses a salesperson naming someone else.
            owner_id: match self.owner_id.trim() {
                "" => None,
                u => {
                    Some(Some(u.parse().map_err(|_| ApiError::field("owner_id", "invalid", "owner_id is not a user"))?))
                }
            },
            source: Some(AccountSource::parse(self.source.trim())),
            competitors: Some(some(&self.competitors).flatten()),
            lost_reason: Some(some(&self.lost_reason).flatten()),
            notes: Some(some(&self.notes).flatten()),
            contact_ids: Some(ids),
        })
    }
}

#[derive(Template)]
#[template(path = "opportunity_form.html")]
struct FormPage<'a> {
    chrome: Chrome<'a>,
    heading: &'static str,
    action: String,
    account_name: String,
    f: OpportunityForm,
    errors: Vec<String>,
    /// The account's people: (id, name, title, stance key, ticked).
    people: Vec<(String, String, String, String, bool)>,
    source_options: Vec<(&'static str, String, bool)>,
    /// (stage, i18n key)
    stages: Vec<(&'static str, String)>,
    /// Who may work the deal, for managers and admins: (id, name, chosen).
    owners: Vec<(String, String, bool)>,
    /// (status, i18n key)
    statuses: Vec<(&'static str, String)>,
}

impl FormPage<'_> {
    fn selected(&self, field: &str, v: &str) -> bool {
        match field {
            "stage" => self.f.stage == v,
            "first_contact_stage" => self.f.first_contact_stage == v,
            "status" => self.f.status == v,
            _ => false,
        }
    }
}

async fn form_page(
    state: &AppState,
    caller: &Caller,
    f: OpportunityForm,
    editing: Option<OpportunityId>,
    errors: Vec<String>,
) -> PageResult {
    let err = fail(state, caller);
    let account_id = f.account_id.parse::<Uuid>().map(AccountId::from_uuid).map_err(|_| err(ApiError::NotFound))?;
    let viewer = caller.principal.viewer();
    let account = guanxi_store::accounts::get(&state.db, viewer, account_id).await.map_err(|e| err(e.into()))?;
    let filter = ContactFilter { account_id: Some(account_id), ..ContactFilter::default() };
    let people = contacts::list(&state.db, viewer, &filter, 200)
        .await
        .map_err(|e| err(e.into()))?
        .into_iter()
        .map(|c| {
            let id = c.id.to_string();
            let ticked = f.contact_ids.contains(&id);
            let stance = c.stance.map_or("contacts.stance_unknown".to_owned(), |s| format!("stance.{}", s.as_str()));
            (id, c.name, c.title.unwrap_or_default(), stance, ticked)
        })
        .collect();
    let owners = if matches!(caller.principal.role, guanxi_domain::Role::Admin | guanxi_domain::Role::Manager) {
        guanxi_store::users::directory(&state.db, caller.principal.workspace_id)
            .await
            .map_err(|e| err(e.into()))?
            .into_iter()
            .map(|(id, _, name, _)| {
                let id = id.to_string();
                let chosen = id == f.owner_id;
                (id, name, chosen)
            })
            .collect()
    } else {
        Vec::new()
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let (heading, action) = match editing {
        Some(id) => ("opportunities.edit", format!("/opportunities/{id}/edit")),
        None => ("opportunities.new", "/opportunities/new".to_owned()),
    };
    let source_options = AccountSource::ALL
        .iter()
        .map(|s| (s.as_str(), format!("source.{}", s.as_str()), f.source == s.as_str()))
        .collect();
    let page = FormPage {
        chrome: Chrome::new(state, caller, "/opportunities", heading),
        heading,
        action,
        account_name: account.name,
        f,
        errors,
        people,
        source_options,
        stages: Stage::ALL.iter().map(|s| (s.as_str(), stage_key(*s))).collect(),
        owners,
        statuses: OpportunityStatus::ALL.iter().map(|s| (s.as_str(), format!("opp_status.{}", s.as_str()))).collect(),
    };
    let mut res = render(&page);
    *res.status_mut() = status;
    Ok(res)
}

const PICK: PickAccount = PickAccount {
    section: "/opportunities",
    target: "/opportunities/new",
    back_key: "opportunities.back",
    heading: "opportunities.new",
    prompt: "opportunities.pick_account",
};

async fn new_form(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Query(q): Query<NewQuery>,
) -> PageResult {
    caller.require_sales_writer().map_err(fail(&state, &caller))?;
    match q.account_id.filter(|a| !a.is_empty()) {
        Some(account_id) => {
            let f = OpportunityForm { account_id, stage: Stage::Initiation.as_str().to_owned(), ..Default::default() };
            form_page(&state, &caller, f, None, Vec::new()).await
        }
        None => pick_account(&state, &caller, q.q, &PICK).await,
    }
}

async fn submitted(
    state: AppState,
    caller: Caller,
    f: OpportunityForm,
    editing: Option<OpportunityId>,
    result: Result<OpportunityId, ApiError>,
) -> PageResult {
    match result {
        Ok(id) => Ok(Redirect::to(&format!("/opportunities/{id}")).into_response()),
        Err(e) => {
            let tr = Tr::new(&state.i18n, caller.principal.locale);
            let errors = form_errors(tr, e).map_err(fail(&state, &caller))?;
            form_page(&state, &caller, f, editing, errors).await
        }
    }
}

async fn create(State(state): State<AppState>, PageCaller(caller): PageCaller, body: Bytes) -> PageResult {
    let f = OpportunityForm::from_body(&body);
    let result = match f.input() {
        Ok(input) => api::create_opportunity(&state, &caller, &input).await.map(|o| o.id),
        Err(e) => Err(e),
    };
    submitted(state, caller, f, None, result).await
}

async fn edit_form(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> PageResult {
    let o = opportunities::get(&state.db, caller.principal.viewer(), OpportunityId::from_uuid(id))
        .await
        .map_err(|e| fail(&state, &caller)(e.into()))?;
    caller.require_sales_writer().map_err(fail(&state, &caller))?;
    if o.deleted_at.is_some() {
        return Err(fail(&state, &caller)(ApiError::NotFound));
    }
    form_page(&state, &caller, OpportunityForm::of(&o), Some(o.id), Vec::new()).await
}

async fn update(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
    body: Bytes,
) -> PageResult {
    let id = OpportunityId::from_uuid(id);
    let f = OpportunityForm::from_body(&body);
    let result = match f.input() {
        Ok(input) => api::update_opportunity(&state, &caller, id, &input).await.map(|o| o.id),
        Err(e) => Err(e),
    };
    submitted(state, caller, f, Some(id), result).await
}

/// 推进: the next stage on the path, in one click.
async fn advance(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> PageResult {
    let err = fail(&state, &caller);
    let id = OpportunityId::from_uuid(id);
    let o = opportunities::get(&state.db, caller.principal.viewer(), id).await.map_err(|e| err(e.into()))?;
    let Some(next) = Stage::ALL.get(o.stage.index() + 1).copied() else {
        return Ok(Redirect::to(&format!("/opportunities/{id}")).into_response());
    };
    let input = OpportunityInput { stage: Some(next), ..OpportunityInput::default() };
    api::update_opportunity(&state, &caller, id, &input).await.map_err(&err)?;
    Ok(Redirect::to(&format!("/opportunities/{id}")).into_response())
}

async fn set_deleted(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
    deleted: bool,
) -> PageResult {
    let id = OpportunityId::from_uuid(id);
    api::set_deleted(&state, &caller, id, deleted).await.map_err(fail(&state, &caller))?;
    Ok(Redirect::to(&format!("/opportunities/{id}")).into_response())
}
