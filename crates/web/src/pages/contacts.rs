//! 联系人: the contact list, the form (new and edit) with 查重, the contact
//! page with its place in the power map, duplicates to merge and history.
//! The forms call the same functions as the API.

use super::accounts::{history_of, options, reason_list, some, split};
use super::{fail, form_errors, render, Chrome, PageError, MISSING};
use crate::api::contacts as api;
use crate::auth::{Caller, PageCaller};
use crate::error::ApiError;
use crate::i18n::Tr;
use crate::json::{ApiJson, ApiPath};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use guanxi_domain::{AccountId, BuyingRole, ContactId, RelationshipStrength, Stance};
use guanxi_store::contacts::{self, Contact, ContactFields, ContactFilter};
use serde::Deserialize;
use uuid::Uuid;

/// The contact routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/contacts", get(list))
        .route("/contacts/new", get(new_form).post(create))
        .route("/contacts/{id}", get(detail))
        .route("/contacts/{id}/edit", get(edit_form).post(update))
        .route("/contacts/{id}/merge", post(merge))
        .route("/contacts/{id}/delete", post(|s, c, p| set_deleted(s, c, p, true)))
        .route("/contacts/{id}/restore", post(|s, c, p| set_deleted(s, c, p, false)))
}

type PageResult = Result<Response, PageError>;

/// The stance as a coloured badge with its text (colour never alone).
pub fn stance_badge(s: Option<Stance>) -> (&'static str, String) {
    match s {
        Some(Stance::Supporter) => ("green", "stance.supporter".into()),
        Some(Stance::Neutral) => ("grey", "stance.neutral".into()),
        Some(Stance::Opponent) => ("red", "stance.opponent".into()),
        None => ("grey", "contacts.stance_unknown".into()),
    }
}

/// A contact as a row of a list.
pub struct Row {
    /// Id.
    pub id: ContactId,
    /// Name.
    pub name: String,
    /// Title and department.
    pub role: String,
    /// Account.
    pub account_id: AccountId,
    /// Account name.
    pub account: String,
    /// Stance badge colour and text key.
    pub stance: (&'static str, String),
    /// Strength text key.
    pub strength_key: String,
    /// Key person.
    pub key_person: bool,
    /// Has left.
    pub left: bool,
    /// First phone.
    pub phone: String,
}

/// The row of a contact.
pub fn row(c: Contact) -> Row {
    let role = [c.title.as_deref(), c.department.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" · ");
    Row {
        id: c.id,
        role: if role.is_empty() { MISSING.to_owned() } else { role },
        account_id: c.account_id,
        account: c.account_name,
        stance: stance_badge(c.stance),
        strength_key: c
            .relationship_strength
            .map_or_else(|| "accounts.none".to_owned(), |s| format!("strength.{}", s.as_str())),
        key_person: c.key_person,
        left: c.left_company,
        phone: c.phones.first().map_or_else(|| MISSING.to_owned(), |p| p.display.clone()),
        name: c.name,
    }
}

#[derive(Template)]
#[template(path = "contacts_list.html")]
struct ListPage<'a> {
    chrome: Chrome<'a>,
    scene: &'static str,
    export_query: &'static str,
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
        Some("key") => "key",
        Some("supporters") => "supporters",
        Some("left") => "left",
        Some("bin") => "bin",
        _ => "all",
    };
    let pq = crate::pagination::PageQuery { limit: Some(50), cursor: q.cursor };
    let after = pq.after().map_err(fail(&state, &caller))?.map(ContactId::from_uuid);
    let filter = ContactFilter {
        key_person: (scene == "key").then_some(true),
        stance: (scene == "supporters").then_some(Stance::Supporter),
        include_left: scene == "bin",
        only_left: scene == "left",
        deleted: scene == "bin",
        after,
        ..Default::default()
    };
    let found = contacts::list(&state.db, caller.principal.viewer(), &filter, 51)
        .await
        .map_err(|e| fail(&state, &caller)(e.into()))?;
    let page = crate::pagination::page(found, 50, |c| c.id.uuid());
    let rows = page.items.into_iter().map(row).collect();
    let chrome = Chrome::new(&state, &caller, "/contacts", "contacts.title");
    // The export takes the same filters as the list's scene.
    let export_query = match scene {
        "key" => "key_person=true",
        "supporters" => "stance=supporter",
        "left" => "only_left=true",
        "bin" => "deleted=true&include_left=true",
        _ => "",
    };
    Ok(render(&ListPage { chrome, scene, rows, next_cursor: page.next_cursor, export_query }))
}

/// The contact form as typed (kept when shown again).
#[derive(Debug, Default, Deserialize)]
pub struct ContactForm {
    #[serde(default)]
    account_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    phones: String,
    #[serde(default)]
    emails: String,
    #[serde(default)]
    wechat: String,
    #[serde(default)]
    stance: String,
    #[serde(default)]
    relationship_strength: String,
    #[serde(default)]
    buying_role: String,
    #[serde(default)]
    reports_to_id: String,
    #[serde(default)]
    birthday: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    key_person: Option<String>,
    #[serde(default)]
    has_money: Option<String>,
    #[serde(default)]
    has_authority: Option<String>,
    #[serde(default)]
    has_need: Option<String>,
    #[serde(default)]
    left_company: Option<String>,
    #[serde(default)]
    force: Option<String>,
    #[serde(default)]
    force_reason: String,
}

impl ContactForm {
    fn of(c: &Contact) -> Self {
        let on = |b: bool| b.then(|| "on".to_owned());
        Self {
            account_id: c.account_id.to_string(),
            name: c.name.clone(),
            title: c.title.clone().unwrap_or_default(),
            department: c.department.clone().unwrap_or_default(),
            phones: c.phones.iter().map(|p| p.display.clone()).collect::<Vec<_>>().join("\n"),
            emails: c.emails.join("\n"),
            wechat: c.wechat.clone().unwrap_or_default(),
            stance: c.stance.map(|s| s.as_str().to_owned()).unwrap_or_default(),
            relationship_strength: c.relationship_strength.map(|s| s.as_str().to_owned()).unwrap_or_default(),
            buying_role: c.buying_role.map(|s| s.as_str().to_owned()).unwrap_or_default(),
            reports_to_id: c.reports_to_id.map(|r| r.to_string()).unwrap_or_default(),
            birthday: c.birthday.clone().unwrap_or_default(),
            tags: c.tags.join("，"),
            notes: c.notes.clone().unwrap_or_default(),
            key_person: on(c.key_person),
            has_money: on(c.has_money),
            has_authority: on(c.has_authority),
            has_need: on(c.has_need),
            left_company: on(c.left_company),
            force: None,
            force_reason: String::new(),
        }
    }
}

struct CandidateView {
    id: String,
    name: String,
    account: String,
    reasons: String,
}

type Options = Vec<(&'static str, String, bool)>;

#[derive(Template)]
#[template(path = "contact_form.html")]
struct FormPage<'a> {
    chrome: Chrome<'a>,
    heading: &'static str,
    action: String,
    editing: bool,
    account_name: String,
    errors: Vec<String>,
    candidates: Vec<CandidateView>,
    f: ContactForm,
    stance_options: Options,
    strength_options: Options,
    role_options: Options,
    bosses: Vec<(String, String, bool)>,
}

/// A "new record" form that starts by finding its account: where it lives
/// and what its page says (paths and i18n keys).
pub(super) struct PickAccount {
    /// The section, also the back link (`/contacts`).
    pub section: &'static str,
    /// The form the chosen account opens (`/contacts/new`).
    pub target: &'static str,
    /// i18n keys: the back link, the heading, the search box's label.
    pub back_key: &'static str,
    pub heading: &'static str,
    pub prompt: &'static str,
}

#[derive(Template)]
#[template(path = "pick_account.html")]
struct PickAccountPage<'a> {
    chrome: Chrome<'a>,
    q: String,
    hits: Vec<guanxi_store::search::Hit>,
    pick: &'static PickAccount,
}

/// The query of a "new record" form: the account, or a search for one.
#[derive(Debug, Default, Deserialize)]
pub(super) struct NewQuery {
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub q: Option<String>,
}

/// The page that finds the account first, with the search box's index.
pub(super) async fn pick_account(
    state: &AppState,
    caller: &Caller,
    q: Option<String>,
    pick: &'static PickAccount,
) -> PageResult {
    let q = q.unwrap_or_default();
    let hits = if q.trim().is_empty() {
        Vec::new()
    } else {
        guanxi_store::search::search(&state.db, caller.principal.viewer(), &q, 20)
            .await
            .map_err(|e| fail(state, caller)(e.into()))?
            .into_iter()
            .filter(|h| h.kind == "account")
            .collect()
    };
    let chrome = Chrome::new(state, caller, pick.section, pick.heading);
    Ok(render(&PickAccountPage { chrome, q, hits, pick }))
}

const PICK: PickAccount = PickAccount {
    section: "/contacts",
    target: "/contacts/new",
    back_key: "contacts.back",
    heading: "contacts.new",
    prompt: "contacts.pick_account",
};

#[allow(clippy::too_many_arguments)]
async fn form_page(
    state: &AppState,
    caller: &Caller,
    f: ContactForm,
    editing: Option<ContactId>,
    errors: Vec<String>,
    candidates: Vec<CandidateView>,
    status: StatusCode,
) -> PageResult {
    let account_id =
        f.account_id.parse::<Uuid>().map(AccountId::from_uuid).map_err(|_| fail(state, caller)(ApiError::NotFound))?;
    let account = guanxi_store::accounts::get(&state.db, caller.principal.viewer(), account_id)
        .await
        .map_err(|e| fail(state, caller)(e.into()))?;
    // The power map: anyone else at the account may be the boss.
    let colleagues = contacts::list(
        &state.db,
        caller.principal.viewer(),
        &ContactFilter { account_id: Some(account_id), ..Default::default() },
        200,
    )
    .await
    .map_err(|e| fail(state, caller)(e.into()))?;
    let bosses = colleagues
        .into_iter()
        .filter(|c| Some(c.id) != editing)
        .map(|c| {
            let label = match &c.title {
                Some(t) => format!("{} · {t}", c.name),
                None => c.name.clone(),
            };
            let id = c.id.to_string();
            let selected = id == f.reports_to_id;
            (id, label, selected)
        })
        .collect();
    let page = FormPage {
        chrome: Chrome::new(
            state,
            caller,
            "/contacts",
            if editing.is_some() { "contacts.edit" } else { "contacts.new" },
        ),
        heading: if editing.is_some() { "contacts.edit" } else { "contacts.new" },
        action: match editing {
            Some(id) => format!("/contacts/{id}/edit"),
            None => "/contacts/new".to_owned(),
        },
        editing: editing.is_some(),
        account_name: account.name,
        errors,
        candidates,
        stance_options: options(Stance::ALL, Stance::as_str, "stance", &f.stance),
        strength_options: options(
            RelationshipStrength::ALL,
            RelationshipStrength::as_str,
            "strength",
            &f.relationship_strength,
        ),
        role_options: options(BuyingRole::ALL, BuyingRole::as_str, "buying_role", &f.buying_role),
        bosses,
        f,
    };
    let mut res = render(&page);
    *res.status_mut() = status;
    Ok(res)
}

async fn new_form(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Query(q): Query<NewQuery>,
) -> PageResult {
    caller.require_sales_writer().map_err(fail(&state, &caller))?;
    match q.account_id.filter(|a| !a.is_empty()) {
        Some(account_id) => {
            let f = ContactForm { account_id, ..Default::default() };
            form_page(&state, &caller, f, None, Vec::new(), Vec::new(), StatusCode::OK).await
        }
        // First the account: found with the search box's index.
        None => pick_account(&state, &caller, q.q, &PICK).await,
    }
}

fn parse_choice<T>(field: &str, v: &str, parse: fn(&str) -> Option<T>) -> Result<Option<Option<T>>, ApiError> {
    match v.trim() {
        "" => Ok(Some(None)),
        s => parse(s)
            .map(|x| Some(Some(x)))
            .ok_or_else(|| ApiError::field(field, "invalid", format!("{field} is not one of the choices"))),
    }
}

/// The form as the API's input.
fn input_of(f: &ContactForm) -> Result<api::ContactInput, ApiError> {
    let lines = |s: &str| Some(split(s, &['\n', '\r', ',', '，', ';', '；']));
    let reports_to_id = match f.reports_to_id.trim() {
        "" => Some(None),
        s => Some(Some(s.parse::<Uuid>().map_err(|_| ApiError::field("reports_to_id", "invalid", "unknown contact"))?)),
    };
    Ok(api::ContactInput {
        account_id: Some(
            f.account_id.parse().map_err(|_| ApiError::field("account_id", "invalid", "unknown account"))?,
        ),
        name: Some(f.name.clone()),
        department: Some(some(&f.department).flatten()),
        title: Some(some(&f.title).flatten()),
        phones: lines(&f.phones),
        emails: lines(&f.emails),
        wechat: Some(some(&f.wechat).flatten()),
        stance: parse_choice("stance", &f.stance, Stance::parse)?,
        relationship_strength: parse_choice(
            "relationship_strength",
            &f.relationship_strength,
            RelationshipStrength::parse,
        )?,
        key_person: Some(f.key_person.is_some()),
        has_money: Some(f.has_money.is_some()),
        has_authority: Some(f.has_authority.is_some()),
        has_need: Some(f.has_need.is_some()),
        buying_role: parse_choice("buying_role", &f.buying_role, BuyingRole::parse)?,
        reports_to_id,
        birthday: Some(some(&f.birthday).flatten()),
        notes: Some(some(&f.notes).flatten()),
        left_company: Some(f.left_company.is_some()),
        tags: Some(split(&f.tags, &[',', '，', '、', ';', '；'])),
        force: Some(f.force.is_some()),
        force_reason: some(&f.force_reason).flatten(),
    })
}

fn candidate_views(tr: Tr<'_>, candidates: &serde_json::Value) -> Vec<CandidateView> {
    candidates
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            Some(CandidateView {
                id: c["id"].as_str()?.to_owned(),
                name: c["name"].as_str()?.to_owned(),
                account: c["account_name"].as_str()?.to_owned(),
                reasons: reason_list(tr, c),
            })
        })
        .collect()
}

async fn submitted(
    state: AppState,
    caller: Caller,
    f: ContactForm,
    editing: Option<ContactId>,
    result: Result<ContactId, ApiError>,
) -> PageResult {
    let tr = Tr::new(&state.i18n, caller.principal.locale);
    match result {
        Ok(id) => Ok(Redirect::to(&format!("/contacts/{id}")).into_response()),
        Err(ApiError::Duplicate { candidates, .. }) => {
            let views = candidate_views(tr, &candidates);
            form_page(&state, &caller, f, editing, Vec::new(), views, StatusCode::CONFLICT).await
        }
        Err(e) => {
            let errors = form_errors(tr, e).map_err(fail(&state, &caller))?;
            form_page(&state, &caller, f, editing, errors, Vec::new(), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn create(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Form(f): Form<ContactForm>,
) -> PageResult {
    let result = match input_of(&f) {
        Ok(input) => api::create(State(state.clone()), caller.clone(), ApiJson(input)).await.map(|(_, c)| c.0.id),
        Err(e) => Err(e),
    };
    submitted(state, caller, f, None, result).await
}

async fn edit_form(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> PageResult {
    let c = contacts::get(&state.db, caller.principal.viewer(), ContactId::from_uuid(id))
        .await
        .map_err(|e| fail(&state, &caller)(e.into()))?;
    caller.require_sales_writer().map_err(fail(&state, &caller))?;
    if c.deleted_at.is_some() {
        return Err(fail(&state, &caller)(ApiError::NotFound));
    }
    form_page(&state, &caller, ContactForm::of(&c), Some(c.id), Vec::new(), Vec::new(), StatusCode::OK).await
}

async fn update(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
    Form(f): Form<ContactForm>,
) -> PageResult {
    let result = match input_of(&f) {
        Ok(input) => {
            api::update(State(state.clone()), caller.clone(), ApiPath(id), ApiJson(input)).await.map(|c| c.0.id)
        }
        Err(e) => Err(e),
    };
    submitted(state, caller, f, Some(ContactId::from_uuid(id)), result).await
}

#[derive(Template)]
#[template(path = "contact_detail.html")]
struct DetailPage<'a> {
    chrome: Chrome<'a>,
    c: Contact,
    deleted: bool,
    stance: (&'static str, String),
    strength_key: String,
    role_key: String,
    qualification: Vec<&'static str>,
    text: Vec<(&'static str, String)>,
    reports: Vec<Row>,
    duplicates: Vec<CandidateView>,
    history: Vec<(String, String, String, String)>,
    /// The touches this person was part of.
    activities: Vec<super::activities::TimelineRow>,
    /// The shared timeline shows no account column here.
    feed: bool,
}

async fn detail(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> PageResult {
    let viewer = caller.principal.viewer();
    let c = contacts::get(&state.db, viewer, ContactId::from_uuid(id))
        .await
        .map_err(|e| fail(&state, &caller)(e.into()))?;
    if let Some(kept) = c.merged_into_id {
        return Ok(Redirect::permanent(&format!("/contacts/{kept}")).into_response());
    }
    let tr = Tr::new(&state.i18n, caller.principal.locale);
    let colleagues = contacts::list(
        &state.db,
        viewer,
        &ContactFilter { account_id: Some(c.account_id), include_left: true, ..Default::default() },
        200,
    )
    .await
    .map_err(|e| fail(&state, &caller)(e.into()))?;
    let reports = colleagues.into_iter().filter(|x| x.reports_to_id == Some(c.id)).map(row).collect();
    let duplicates = if c.deleted_at.is_none() {
        contacts::duplicates(&state.db, caller.principal.workspace_id, &ContactFields::of(&c), Some(c.id))
            .await
            .map_err(|e| fail(&state, &caller)(e.into()))?
            .into_iter()
            .map(|d| CandidateView {
                id: d.id.to_string(),
                reasons: d
                    .reasons
                    .iter()
                    .map(|r| tr.t(&format!("reason.{}", reason_id(*r))).to_owned())
                    .collect::<Vec<_>>()
                    .join("、"),
                name: d.name,
                account: d.account_name,
            })
            .collect()
    } else {
        Vec::new()
    };
    let history = history_of(&state, &caller, "contact", vec![c.id.uuid()]).await?;
    let or_missing = |v: &Option<String>| v.clone().unwrap_or_else(|| MISSING.to_owned());
    let mut qualification = Vec::new();
    for (on, key) in [
        (c.has_money, "contacts.has_money"),
        (c.has_authority, "contacts.has_authority"),
        (c.has_need, "contacts.has_need"),
    ] {
        if on {
            qualification.push(key);
        }
    }
    let phones = c.phones.iter().map(|p| p.display.clone()).collect::<Vec<_>>().join("\n");
    let text = vec![
        ("contacts.department", or_missing(&c.department)),
        ("contacts.title_field", or_missing(&c.title)),
        ("contacts.phones_label", if phones.is_empty() { MISSING.to_owned() } else { phones }),
        ("contacts.emails_label", if c.emails.is_empty() { MISSING.to_owned() } else { c.emails.join("\n") }),
        ("contacts.wechat", or_missing(&c.wechat)),
        ("contacts.birthday", or_missing(&c.birthday)),
    ];
    let activities =
        super::activities::timeline_of(&state, &caller, guanxi_store::activities::Of::Contact(c.id)).await?;
    let page = DetailPage {
        feed: false,
        activities,
        chrome: Chrome::new(&state, &caller, "/contacts", "contacts.title"),
        deleted: c.deleted_at.is_some(),
        stance: stance_badge(c.stance),
        strength_key: c
            .relationship_strength
            .map_or_else(|| "accounts.none".to_owned(), |s| format!("strength.{}", s.as_str())),
        role_key: c.buying_role.map_or_else(|| "accounts.none".to_owned(), |s| format!("buying_role.{}", s.as_str())),
        qualification,
        text,
        reports,
        duplicates,
        history,
        c,
    };
    Ok(render(&page))
}

/// The identifier a reason serialises to.
fn reason_id(r: guanxi_domain::dedupe::Reason) -> String {
    serde_json::to_value(r).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
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
    let input = crate::api::accounts::MergeInput { duplicate_id: f.duplicate_id };
    let _kept = api::merge(State(state.clone()), caller.clone(), ApiPath(id), ApiJson(input))
        .await
        .map_err(fail(&state, &caller))?;
    Ok(Redirect::to(&format!("/contacts/{id}")).into_response())
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
    let _contact = result.map_err(fail(&state, &caller))?;
    Ok(Redirect::to(&format!("/contacts/{id}")).into_response())
}
