//! Opportunities (商机): CRUD through the account's scope, the stage of
//! first contact and its 陪标 risk, soft delete and restore, the pipeline.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::{double_option, patch_text, ApiJson, ApiPath, ApiQuery, Fields};
use crate::pagination::{page, Page, PageQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use guanxi_domain::opportunity::{parse_amount, settle};
use guanxi_domain::{
    AccountId, AccountSource, ContactId, FieldError, Notes, OpportunityId, OpportunityName, OpportunityStatus, Role,
    ShortText, Stage, UserId,
};
use guanxi_store::opportunities::{self, Opportunity, OpportunityFields, OpportunityFilter, PipelineStage};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most people on one deal.
const MAX_CONTACTS: usize = 50;

/// An opportunity's fields as sent. On create `account_id`, `name` and
/// `stage` are required; on PATCH every field is optional and `null` clears
/// an optional one.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpportunityInput {
    /// The account.
    pub account_id: Option<Uuid>,
    /// Name (1–200 characters).
    pub name: Option<String>,
    /// Stage on the procurement path.
    pub stage: Option<Stage>,
    /// `open`, `won` or `lost`; by default won from `award` on, open before.
    pub status: Option<OpportunityStatus>,
    /// The stage at which we first came in; by default the stage on create.
    pub first_contact_stage: Option<Stage>,
    /// Amount in yuan as typed: `1250000`, `¥1,250,000.00`, `125万`.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub amount: Option<Option<String>>,
    /// Expected close, `2027-03-31`.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub expected_close_on: Option<Option<String>>,
    /// Who works the deal; by default the account's owner. Only managers and admins name someone else.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub owner_id: Option<Option<Uuid>>,
    /// Where the lead came from.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<AccountSource>)]
    pub source: Option<Option<AccountSource>>,
    /// Competitors in the deal.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub competitors: Option<Option<String>>,
    /// Why it was lost; required when `status` is `lost`.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub lost_reason: Option<Option<String>>,
    /// Notes.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<String>>,
    /// The account's people who matter to the deal (replaces the list).
    pub contact_ids: Option<Vec<Uuid>>,
}

fn short(field: &str, v: &str) -> Result<String, FieldError> {
    ShortText::parse(field, v).map(ShortText::into_string)
}

/// Merges input over current fields (none on create), reporting every bad field.
pub fn parse(input: &OpportunityInput, cur: Option<&OpportunityFields>) -> Result<OpportunityFields, ApiError> {
    let mut f = Fields::default();
    let account_id = input.account_id.map(AccountId::from_uuid).or(cur.map(|c| c.account_id));
    if account_id.is_none() {
        f.push(FieldError::new("account_id", "required", "account_id is required: the account the deal is with"));
    }
    let name = match (&input.name, cur) {
        (Some(n), _) => f.take(OpportunityName::parse("name", n)).map(OpportunityName::into_string),
        (None, Some(c)) => Some(c.name.clone()),
        (None, None) => {
            f.push(FieldError::new("name", "required", "name must not be empty"));
            None
        }
    };
    let stage = input.stage.or(cur.map(|c| c.stage));
    if stage.is_none() {
        f.push(FieldError::new("stage", "required", "stage is required: where the project is (立项, 可研, 招标…)"));
    }
    let first = input.first_contact_stage.or(cur.map(|c| c.first_contact_stage)).or(stage);
    if let (Some(first), Some(stage)) = (first, stage) {
        if first > stage {
            f.push(FieldError::new(
                "first_contact_stage",
                "after_stage",
                format!(
                    "first_contact_stage ({}) is after the stage ({}): we cannot have come in later than now",
                    first.label_zh(),
                    stage.label_zh()
                ),
            ));
        }
    }
    // A stage moved without a status said settles the status afresh; an
    // unchanged stage keeps a lost deal lost.
    let asked = input.status.or_else(|| match (cur, input.stage) {
        (Some(c), Some(s)) if s != c.stage && c.status != OpportunityStatus::Lost => None,
        (Some(c), _) => Some(c.status).filter(|st| *st == OpportunityStatus::Lost),
        _ => None,
    });
    let status = stage.and_then(|s| f.take(settle(s, asked)));
    let old = |get: fn(&OpportunityFields) -> Option<String>| cur.and_then(get);
    let amount_fen = match &input.amount {
        None => cur.and_then(|c| c.amount_fen),
        Some(None) => None,
        Some(Some(v)) if v.trim().is_empty() => None,
        Some(Some(v)) => f.take(parse_amount("amount", v)),
    };
    let expected_close_on = match &input.expected_close_on {
        None => cur.and_then(|c| c.expected_close_on),
        Some(None) => None,
        Some(Some(v)) if v.trim().is_empty() => None,
        Some(Some(v)) => match v.trim().parse::<chrono::NaiveDate>() {
            Ok(d) => Some(d),
            Err(_) => {
                f.push(FieldError::new(
                    "expected_close_on",
                    "invalid_date",
                    "expected_close_on must be a date such as 2027-03-31",
                ));
                None
            }
        },
    };
    let competitors =
        patch_text(&mut f, "competitors", &input.competitors, old(|c| c.competitors.clone()), short, |s| s);
    let mut lost_reason =
        patch_text(&mut f, "lost_reason", &input.lost_reason, old(|c| c.lost_reason.clone()), short, |s| s);
    let notes = patch_text(&mut f, "notes", &input.notes, old(|c| c.notes.clone()), Notes::parse, Notes::into_string);
    match status {
        Some(OpportunityStatus::Lost) if lost_reason.is_none() => f.push(FieldError::new(
            "lost_reason",
            "required",
            "lost_reason is required when a deal is lost: say why, so the team learns from it",
        )),
        Some(OpportunityStatus::Lost) => {}
        // Reopened or won: the old reason no longer applies.
        _ => lost_reason = None,
    }
    let contact_ids: Vec<ContactId> = match &input.contact_ids {
        Some(ids) if ids.len() > MAX_CONTACTS => {
            f.push(FieldError::new(
                "contact_ids",
                "too_many",
                format!("contact_ids may list at most {MAX_CONTACTS} people"),
            ));
            Vec::new()
        }
        Some(ids) => ids.iter().copied().map(ContactId::from_uuid).collect(),
        None => cur.map(|c| c.contact_ids.clone()).unwrap_or_default(),
    };
    f.finish()?;
    let (Some(account_id), Some(name), Some(stage), Some(first_contact_stage), Some(status)) =
        (account_id, name, stage, first, status)
    else {
        return Err(ApiError::Internal("fields parsed without values".into()));
    };
    Ok(OpportunityFields {
        account_id,
        name,
        stage,
        status,
        first_contact_stage,
        amount_fen,
        expected_close_on,
        owner_id: match input.owner_id {
            Some(o) => o.map(UserId::from_uuid),
            None => cur.and_then(|c| c.owner_id),
        },
        source: input.source.unwrap_or_else(|| cur.and_then(|c| c.source)),
        competitors,
        lost_reason,
        notes,
        contact_ids,
    })
}

/// The account must be one the caller may see.
async fn visible_account(state: &AppState, caller: &Caller, id: AccountId) -> ApiResult<()> {
    match guanxi_store::accounts::get(&state.db, caller.principal.viewer(), id).await {
        Ok(a) if a.deleted_at.is_none() => Ok(()),
        _ => Err(ApiError::field("account_id", "invalid", "account_id is not a live account you may see")),
    }
}

/// Only managers and admins give a deal to someone else (as with accounts);
/// a salesperson names themselves or leaves the owner as it is.
fn may_give(caller: &Caller, before: Option<UserId>, after: Option<UserId>) -> ApiResult<()> {
    let manages = matches!(caller.principal.role, Role::Admin | Role::Manager);
    if manages || after == before || after.is_none() || after == Some(caller.principal.user_id) {
        return Ok(());
    }
    Err(ApiError::Forbidden("give deals to others"))
}

/// Creates an opportunity; shared by the API and the page's form (客服 changes no deal).
pub async fn create_opportunity(state: &AppState, caller: &Caller, input: &OpportunityInput) -> ApiResult<Opportunity> {
    caller.require_sales_writer()?;
    let fields = parse(input, None)?;
    visible_account(state, caller, fields.account_id).await?;
    may_give(caller, None, fields.owner_id)?;
    let mut tx = state.db.begin().await?;
    let o =
        opportunities::create(&mut tx, &caller.actor(), caller.principal.user_id, &fields, state.clock.now()).await?;
    tx.commit().await?;
    Ok(o)
}

/// Changes an opportunity; shared by the API and the page's form.
pub async fn update_opportunity(
    state: &AppState,
    caller: &Caller,
    id: OpportunityId,
    input: &OpportunityInput,
) -> ApiResult<Opportunity> {
    caller.require_sales_writer()?;
    let current = opportunities::get(&state.db, caller.principal.viewer(), id).await?;
    if current.deleted_at.is_some() {
        return Err(ApiError::NotFound);
    }
    let before = OpportunityFields::of(&current);
    let fields = parse(input, Some(&before))?;
    may_give(caller, before.owner_id, fields.owner_id)?;
    if fields.account_id != before.account_id {
        visible_account(state, caller, fields.account_id).await?;
    }
    let mut tx = state.db.begin().await?;
    let o = opportunities::update(&mut tx, &caller.actor(), id, &fields, state.clock.now()).await?;
    tx.commit().await?;
    Ok(o)
}

/// Creates an opportunity at an account the caller may see. The stage we
/// first came in at (by default the stage now) gives `entry_timing`.
#[utoipa::path(post, path = "/api/v1/opportunities", tag = "opportunities", security(("bearer" = [])),
    request_body = OpportunityInput,
    responses((status = 201, body = Opportunity), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<OpportunityInput>,
) -> ApiResult<(StatusCode, Json<Opportunity>)> {
    Ok((StatusCode::CREATED, Json(create_opportunity(&state, &caller, &input).await?)))
}

/// One opportunity, if its account is within scope (also from the recycle bin).
#[utoipa::path(get, path = "/api/v1/opportunities/{id}", tag = "opportunities", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "opportunity id")),
    responses((status = 200, body = Opportunity), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Opportunity>> {
    Ok(Json(opportunities::get(&state.db, caller.principal.viewer(), OpportunityId::from_uuid(id)).await?))
}

/// Changes an opportunity: a new stage is dated and restarts the account's
/// no-progress clock; winning restarts its no-deal clock.
#[utoipa::path(patch, path = "/api/v1/opportunities/{id}", tag = "opportunities", security(("bearer" = [])),
    request_body = OpportunityInput, params(("id" = Uuid, Path, description = "opportunity id")),
    responses((status = 200, body = Opportunity), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<OpportunityInput>,
) -> ApiResult<Json<Opportunity>> {
    Ok(Json(update_opportunity(&state, &caller, OpportunityId::from_uuid(id), &input).await?))
}

/// Moves an opportunity to the recycle bin (restorable).
#[utoipa::path(delete, path = "/api/v1/opportunities/{id}", tag = "opportunities", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "opportunity id")),
    responses((status = 200, body = Opportunity), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Opportunity>> {
    Ok(Json(set_deleted(&state, &caller, OpportunityId::from_uuid(id), true).await?))
}

/// Brings an opportunity back from the recycle bin (its account must be live).
#[utoipa::path(post, path = "/api/v1/opportunities/{id}/restore", tag = "opportunities", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "opportunity id")),
    responses((status = 200, body = Opportunity), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "`account_deleted`", body = Problem)))]
pub async fn restore(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Opportunity>> {
    Ok(Json(set_deleted(&state, &caller, OpportunityId::from_uuid(id), false).await?))
}

/// Deletes or restores: the deal's owner, or a manager or admin.
pub async fn set_deleted(
    state: &AppState,
    caller: &Caller,
    id: OpportunityId,
    deleted: bool,
) -> ApiResult<Opportunity> {
    caller.require_sales_writer()?;
    let current = opportunities::get(&state.db, caller.principal.viewer(), id).await?;
    if current.owner_id != Some(caller.principal.user_id)
        && !matches!(caller.principal.role, Role::Admin | Role::Manager)
    {
        return Err(ApiError::Forbidden("delete or restore opportunities owned by others"));
    }
    let mut tx = state.db.begin().await?;
    let o = opportunities::set_deleted(&mut tx, &caller.actor(), id, deleted, state.clock.now()).await?;
    tx.commit().await?;
    Ok(o)
}

/// Opportunity list filters.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OpportunityQuery {
    /// At this account.
    pub account_id: Option<Uuid>,
    /// At this stage.
    pub stage: Option<Stage>,
    /// With this status.
    pub status: Option<OpportunityStatus>,
    /// Worked by this person.
    pub owner_id: Option<Uuid>,
    /// Only deals we came into at vendor consultation or later (`true`).
    pub late_entry: Option<bool>,
    /// The recycle bin instead.
    pub deleted: Option<bool>,
    /// Export only: `csv` (default) or `xlsx`.
    pub format: Option<String>,
    /// Rows per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// The store filter of a query.
pub fn filter_of(q: &OpportunityQuery, after: Option<OpportunityId>) -> OpportunityFilter {
    OpportunityFilter {
        account_id: q.account_id.map(AccountId::from_uuid),
        stage: q.stage,
        status: q.status,
        owner_id: q.owner_id.map(UserId::from_uuid),
        late_entry: q.late_entry.unwrap_or(false),
        deleted: q.deleted.unwrap_or(false),
        after,
    }
}

/// Opportunities at accounts within the caller's scope, in creation order.
#[utoipa::path(get, path = "/api/v1/opportunities", tag = "opportunities", security(("bearer" = [])),
    params(OpportunityQuery),
    responses((status = 200, body = Page<Opportunity>), (status = 422, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<OpportunityQuery>,
) -> ApiResult<Json<Page<Opportunity>>> {
    let pq = PageQuery { limit: q.limit, cursor: q.cursor.clone() };
    let limit = pq.limit()?;
    let filter = filter_of(&q, pq.after()?.map(OpportunityId::from_uuid));
    let rows = opportunities::list(&state.db, caller.principal.viewer(), &filter, limit + 1).await?;
    Ok(Json(page(rows, limit, |o| o.id.uuid())))
}

/// Exports the deals the filters select: CSV or XLSX in Guanxi's column
/// layout (imports back with the `guanxi` preset).
#[utoipa::path(get, path = "/api/v1/opportunities/export", tag = "opportunities", security(("bearer" = [])),
    params(OpportunityQuery),
    responses((status = 200, description = "the file",
        content((String = "text/csv"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 422, body = Problem)))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<OpportunityQuery>,
) -> ApiResult<axum::response::Response> {
    use crate::api::export::{failed, format_of, scratch, send_file};
    use guanxi_exchange::opportunities as x;
    use guanxi_exchange::sheet::{Format, Sheet};
    let format = if format_of(q.format.as_deref(), &["csv", "xlsx"])? == "xlsx" { Format::Xlsx } else { Format::Csv };
    let (file, out) = scratch()?;
    let mut sheet = Sheet::open(format, out, &x::COLUMNS).map_err(|e| failed(e.into()))?;
    x::export(&state.db, caller.principal.viewer(), &filter_of(&q, None), &mut sheet).await.map_err(failed)?;
    sheet.finish().map_err(|e| failed(e.into()))?;
    send_file(file, &format!("opportunities.{}", format.extension()), format.content_type()).await
}

/// The pipeline under the same filters.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Pipeline {
    /// Per stage, in path order; stages without deals left out.
    pub stages: Vec<PipelineStage>,
    /// Deals in all.
    pub count: i64,
    /// Their amounts together, in fen.
    pub amount_fen: i64,
}

/// The pipeline (销售漏斗): deals and money per stage, under the list's filters.
#[utoipa::path(get, path = "/api/v1/opportunities/pipeline", tag = "opportunities", security(("bearer" = [])),
    params(OpportunityQuery),
    responses((status = 200, body = Pipeline), (status = 422, body = Problem)))]
pub async fn pipeline(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<OpportunityQuery>,
) -> ApiResult<Json<Pipeline>> {
    let stages = opportunities::pipeline(&state.db, caller.principal.viewer(), &filter_of(&q, None)).await?;
    let count = stages.iter().map(|s| s.count).sum();
    let amount_fen = stages.iter().map(|s| s.amount_fen).sum();
    Ok(Json(Pipeline { stages, count, amount_fen }))
}
