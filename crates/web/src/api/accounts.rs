//! Accounts (企业客户): CRUD within the caller's scope, soft delete and
//! restore, and 查重 on create and rename.

use crate::auth::Caller;
use crate::error::{unknown_reference, ApiError, ApiResult, Problem};
use crate::json::{double_option, ApiJson, ApiPath, ApiQuery, Fields};
use crate::pagination::{keyed_cursor, page, Page, PageQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use guanxi_domain::{
    parse_division_code, AccountId, AccountName, AccountSource, Classification, FieldError, LongText, Notes, Phone,
    RelationshipStage, Role, ShortText, TeamId, Uscc, UserId,
};
use guanxi_store::accounts::{self, fields_of, Account, AccountFields, AccountFilter, AccountSort, Candidate};
use serde::Deserialize;
use uuid::Uuid;

/// Most phones and tags per account.
const MAX_ITEMS: usize = 20;

/// An account's fields as sent. On create, `name` and `source` are required;
/// on PATCH every field is optional and `null` clears an optional one.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountInput {
    /// Registered name (1–200 characters).
    pub name: Option<String>,
    /// Short name.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub short_name: Option<Option<String>>,
    /// 统一社会信用代码 (18 characters, checked) or a 15-digit registration number.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub uscc: Option<Option<String>>,
    /// Phones as typed (+86 138 0013 8000, 010-1234 5678 转 123, 400-…); the first is the switchboard.
    pub phones: Option<Vec<String>>,
    /// Industry.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub industry: Option<Option<String>>,
    /// Six-digit administrative division code (province, city or district).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub region_code: Option<Option<String>>,
    /// Address.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub address: Option<Option<String>>,
    /// Website.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub website: Option<Option<String>>,
    /// Where it came from.
    pub source: Option<AccountSource>,
    /// Who referred it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub referrer: Option<Option<String>>,
    /// A / B / C.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Classification>)]
    pub classification: Option<Option<Classification>>,
    /// Key account.
    pub key_account: Option<bool>,
    /// Criterion: product fit.
    pub product_fit: Option<bool>,
    /// Criterion: centralised purchasing.
    pub centralised_purchasing: Option<bool>,
    /// Criterion: continuous purchasing.
    pub continuous_purchasing: Option<bool>,
    /// Relationship stage.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<RelationshipStage>)]
    pub relationship_stage: Option<Option<RelationshipStage>>,
    /// Owner (default: the caller on create). Managers and admins only.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub owner_id: Option<Option<Uuid>>,
    /// Team (default: the owner's team). Managers and admins only.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub team_id: Option<Option<Uuid>>,
    /// Notes.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<String>>,
    /// Tags.
    pub tags: Option<Vec<String>>,
    /// Save even though 查重 found likely duplicates.
    pub force: Option<bool>,
    /// Why, when forcing (kept in the audit log).
    pub force_reason: Option<String>,
}

fn opt_text<T>(
    f: &mut Fields,
    field: &str,
    v: Option<String>,
    parse: fn(&str, &str) -> Result<T, FieldError>,
    into: fn(T) -> String,
) -> Option<String> {
    let v = v?;
    if v.trim().is_empty() {
        return None;
    }
    f.take(parse(field, &v)).map(into)
}

/// Merges input over current fields (none on create) and parses everything, reporting every bad field.
pub(crate) fn parse(
    input: &AccountInput,
    current: Option<AccountFields>,
    owner_default: UserId,
    team_default: Option<TeamId>,
) -> Result<AccountFields, ApiError> {
    let mut f = Fields::default();
    let cur = current.clone();
    let name = match (&input.name, &cur) {
        (Some(n), _) => f.take(AccountName::parse("name", n)).map(AccountName::into_string),
        (None, Some(c)) => Some(c.name.clone()),
        (None, None) => {
            f.push(FieldError::new("name", "required", "name must not be empty"));
            None
        }
    };
    let source = input.source.or(cur.as_ref().map(|c| c.source));
    if source.is_none() {
        f.push(FieldError::new("source", "required", "source is required: trade_show, referral, cold_call, website, industry_association, government_body, channel_partner or other"));
    }
    let text = |f: &mut Fields,
                field: &str,
                new: &Option<Option<String>>,
                old: Option<String>,
                long: bool|
     -> Option<String> {
        match new {
            Some(v) => opt_text(
                f,
                field,
                v.clone(),
                if long {
                    |a, b| LongText::parse(a, b).map(LongText::into_string)
                } else {
                    |a, b| ShortText::parse(a, b).map(ShortText::into_string)
                },
                |s| s,
            ),
            None => old,
        }
    };
    let short_name =
        text(&mut f, "short_name", &input.short_name, cur.as_ref().and_then(|c| c.short_name.clone()), false);
    let industry = text(&mut f, "industry", &input.industry, cur.as_ref().and_then(|c| c.industry.clone()), false);
    let address = text(&mut f, "address", &input.address, cur.as_ref().and_then(|c| c.address.clone()), true);
    let website = text(&mut f, "website", &input.website, cur.as_ref().and_then(|c| c.website.clone()), true);
    let referrer = text(&mut f, "referrer", &input.referrer, cur.as_ref().and_then(|c| c.referrer.clone()), false);
    let notes = match &input.notes {
        Some(v) => opt_text(&mut f, "notes", v.clone(), Notes::parse, Notes::into_string),
        None => cur.as_ref().and_then(|c| c.notes.clone()),
    };
    let uscc = match &input.uscc {
        Some(v) => opt_text(&mut f, "uscc", v.clone(), Uscc::parse, |u| u.as_str().to_owned()),
        None => cur.as_ref().and_then(|c| c.uscc.clone()),
    };
    let region_code = match &input.region_code {
        Some(v) => opt_text(&mut f, "region_code", v.clone(), parse_division_code, |c| c),
        None => cur.as_ref().and_then(|c| c.region_code.clone()),
    };
    let phones = match &input.phones {
        Some(list) => {
            if list.len() > MAX_ITEMS {
                f.push(FieldError::new("phones", "too_many", format!("phones may list at most {MAX_ITEMS} numbers")));
            }
            list.iter().enumerate().filter_map(|(i, p)| f.take(Phone::parse(&format!("phones[{i}]"), p))).collect()
        }
        None => cur.as_ref().map(|c| c.phones.clone()).unwrap_or_default(),
    };
    let tags = match &input.tags {
        Some(list) => {
            if list.len() > MAX_ITEMS {
                f.push(FieldError::new("tags", "too_many", format!("tags may list at most {MAX_ITEMS}")));
            }
            list.iter()
                .enumerate()
                .filter_map(|(i, t)| f.take(ShortText::parse(&format!("tags[{i}]"), t)).map(ShortText::into_string))
                .collect()
        }
        None => cur.as_ref().map(|c| c.tags.clone()).unwrap_or_default(),
    };
    let flag = |new: Option<bool>, old: Option<bool>| new.or(old).unwrap_or(false);
    let owner_id = match input.owner_id {
        Some(o) => o.map(UserId::from_uuid),
        None => cur.as_ref().map_or(Some(owner_default), |c| c.owner_id),
    };
    let team_id = match input.team_id {
        Some(t) => t.map(TeamId::from_uuid),
        None => cur.as_ref().map_or(team_default, |c| c.team_id),
    };
    f.finish()?;
    let (Some(name), Some(source)) = (name, source) else {
        return Err(ApiError::Internal("fields parsed without values".into()));
    };
    Ok(AccountFields {
        name,
        short_name,
        uscc,
        industry,
        region_code,
        address,
        website,
        source,
        referrer,
        classification: match input.classification {
            Some(c) => c,
            None => cur.as_ref().and_then(|c| c.classification),
        },
        key_account: flag(input.key_account, cur.as_ref().map(|c| c.key_account)),
        product_fit: flag(input.product_fit, cur.as_ref().map(|c| c.product_fit)),
        centralised_purchasing: flag(input.centralised_purchasing, cur.as_ref().map(|c| c.centralised_purchasing)),
        continuous_purchasing: flag(input.continuous_purchasing, cur.as_ref().map(|c| c.continuous_purchasing)),
        relationship_stage: match input.relationship_stage {
            Some(s) => s,
            None => cur.as_ref().and_then(|c| c.relationship_stage),
        },
        owner_id,
        team_id,
        notes,
        phones,
        tags,
    })
}

/// Refuses likely duplicates unless forced with a reason; returns the audit note of a forced save.
pub(crate) async fn check_duplicates(
    state: &AppState,
    caller: &Caller,
    fields: &AccountFields,
    input: &AccountInput,
    except: Option<AccountId>,
) -> ApiResult<Option<serde_json::Value>> {
    let found = accounts::duplicates(
        &state.db,
        caller.principal.workspace_id,
        &fields.name,
        fields.uscc.as_deref(),
        &fields.phones,
        except,
    )
    .await?;
    let blocking: Vec<&Candidate> = found.iter().filter(|c| c.verdict == "same").collect();
    if blocking.is_empty() {
        return Ok(None);
    }
    owned_elsewhere(&blocking, fields.owner_id)?;
    let named: Vec<(AccountId, &str)> = blocking.iter().map(|c| (c.id, c.name.as_str())).collect();
    registered_elsewhere(state, caller, &named).await?;
    if input.force == Some(true) {
        let reason = input.force_reason.as_deref().map(str::trim).unwrap_or("");
        if reason.is_empty() {
            return Err(ApiError::field(
                "force_reason",
                "required",
                "force_reason must say why a likely duplicate is saved anyway",
            ));
        }
        let ids: Vec<String> = blocking.iter().map(|c| c.id.to_string()).collect();
        return Ok(Some(serde_json::json!({"reason": reason, "candidates": ids})));
    }
    Err(ApiError::Duplicate { code: "duplicate_account", candidates: serde_json::to_value(&found).unwrap_or_default() })
}

/// Nobody enters (or claims) an organisation someone else owns: the first
/// "same" candidate owned by anyone but `owner` refuses with `owned_by_other`,
/// whatever `force` says. The way on is a transfer request.
pub(crate) fn owned_elsewhere(same: &[&Candidate], owner: Option<UserId>) -> ApiResult<()> {
    match same.iter().find(|c| c.owner_id.is_some() && c.owner_id != owner) {
        Some(c) => Err(ApiError::Refused(guanxi_domain::Refusal::OwnedByOther {
            account_id: c.id,
            account_name: c.name.clone(),
            owner_id: c.owner_id.unwrap_or_default(),
            owner_name: c.owner_name.clone().unwrap_or_default(),
        })),
        None => Ok(()),
    }
}

/// While someone's registration (报备) of an organisation is pending, others
/// entering or claiming it are told who registered it.
pub(crate) async fn registered_elsewhere(
    state: &AppState,
    caller: &Caller,
    same: &[(AccountId, &str)],
) -> ApiResult<()> {
    let ids: Vec<AccountId> = same.iter().map(|c| c.0).collect();
    let pending = guanxi_store::requests::registered(&state.db, caller.principal.workspace_id, &ids).await?;
    match pending.into_iter().find(|(_, who, _)| *who != caller.principal.user_id) {
        Some((id, _, requester_name)) => Err(ApiError::Refused(guanxi_domain::Refusal::RegisteredByOther {
            account_id: id,
            account_name: same.iter().find(|c| c.0 == id).map(|c| c.1.to_owned()).unwrap_or_default(),
            requester_name,
        })),
        None => Ok(()),
    }
}

pub(crate) fn may_assign(caller: &Caller) -> bool {
    matches!(caller.principal.role, Role::Admin | Role::Manager)
}

/// Creates an account, refusing likely duplicates (`409 duplicate_account`).
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", security(("bearer" = [])), request_body = AccountInput,
    responses((status = 201, body = Account), (status = 403, body = Problem),
        (status = 409, description = "`duplicate_account`, with `candidates`", body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<AccountInput>,
) -> ApiResult<(StatusCode, Json<Account>)> {
    caller.require_sales_writer()?;
    if (input.owner_id.is_some() || input.team_id.is_some()) && !may_assign(&caller) {
        return Err(ApiError::Forbidden("assign accounts to others"));
    }
    let fields = parse(&input, None, caller.principal.user_id, caller.principal.team_id)?;
    if let Some(owner) = fields.owner_id {
        if owner != caller.principal.user_id {
            // Only to someone the caller may see.
            guanxi_store::users::get(&state.db, caller.principal.viewer(), owner)
                .await
                .map_err(unknown_reference("owner_id", "owner_id is not a user you may assign to"))?;
        }
    }
    // 查重 holds inside the write: creates of one name key run one after
    // another (the writer on SQLite, a lock on the key on PostgreSQL), and
    // the write looks again, on its own connection, for a record of that key
    // saved while it checked; if there is one, the check judges it (one USCC
    // is the database's own rule). The look-back has a margin: a record saved
    // just before the check began may have committed after it.
    let since = state.clock.now() - chrono::Duration::minutes(1);
    let ws = caller.principal.workspace_id;
    let mut note = check_duplicates(&state, &caller, &fields, &input, None).await?;
    let mut tx = state.db.begin().await?;
    tx.lock_key(&dedupe_lock_key(ws, &fields.name)).await?;
    if note.is_none() && accounts::name_key_saved_since(&mut tx, ws, &fields.name, since).await? {
        drop(tx);
        note = check_duplicates(&state, &caller, &fields, &input, None).await?;
        tx = state.db.begin().await?;
        tx.lock_key(&dedupe_lock_key(ws, &fields.name)).await?;
    }
    let created = async {
        let account = accounts::create(&mut tx, &caller.actor(), &fields, note, state.clock.now()).await?;
        tx.commit().await?;
        Ok::<_, guanxi_store::Error>(account)
    }
    .await;
    match created {
        Ok(account) => Ok((StatusCode::CREATED, Json(account))),
        // Someone saved this USCC between our 查重 and this write, and the
        // database refused the second (even a forced one): say whose it is.
        Err(guanxi_store::Error::Conflict(rule)) if accounts::is_uscc_taken(&rule) => {
            Err(uscc_taken(&state, &caller, &fields).await)
        }
        Err(e) => Err(e.into()),
    }
}

/// What creates of one organisation lock on: the workspace and the name's 查重 key.
fn dedupe_lock_key(ws: guanxi_domain::WorkspaceId, name: &str) -> String {
    format!("account-name:{ws}:{}", guanxi_domain::dedupe::company_key(name).core)
}

/// The answer to a create the USCC index refused: the account that has it,
/// as 查重 names it (`owned_by_other`, or `duplicate_account` with it among
/// the candidates, which forcing cannot pass).
async fn uscc_taken(state: &AppState, caller: &Caller, fields: &AccountFields) -> ApiError {
    let ws = caller.principal.workspace_id;
    let found =
        match accounts::duplicates(&state.db, ws, &fields.name, fields.uscc.as_deref(), &fields.phones, None).await {
            Ok(found) => found,
            Err(e) => return e.into(),
        };
    let same: Vec<&Candidate> = found.iter().filter(|c| c.verdict == "same").collect();
    if let Err(e) = owned_elsewhere(&same, fields.owner_id) {
        return e;
    }
    ApiError::Duplicate { code: "duplicate_account", candidates: serde_json::to_value(&found).unwrap_or_default() }
}

/// One account, if within scope (also from the recycle bin). The id of an
/// account merged into another redirects (308) to the kept one.
#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "accounts", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "account id")),
    responses((status = 200, body = Account), (status = 308, description = "merged: `Location` is the kept account"),
        (status = 404, body = Problem)))]
pub async fn get(State(state): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Response> {
    let account = accounts::get(&state.db, caller.principal.viewer(), AccountId::from_uuid(id)).await?;
    Ok(match account.merged_into_id {
        Some(kept) => Redirect::permanent(&format!("/api/v1/accounts/{kept}")).into_response(),
        None => Json(account).into_response(),
    })
}

/// Which record to merge into the one named in the path.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeInput {
    /// The duplicate: merged into the kept record and retired; its id then redirects to the kept one.
    pub duplicate_id: Uuid,
}

/// Merges a duplicate into this account: empty fields filled from it, phones, tags and notes
/// joined, its contacts moved here, both histories kept; the duplicate's id redirects here.
/// Owners of both accounts, managers and admins only.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/merge", tag = "accounts", security(("bearer" = [])), request_body = MergeInput,
    params(("id" = Uuid, Path, description = "the account kept")),
    responses((status = 200, body = Account), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn merge(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<MergeInput>,
) -> ApiResult<Json<Account>> {
    caller.require_sales_writer()?;
    let viewer = caller.principal.viewer();
    let keep = accounts::get(&state.db, viewer, AccountId::from_uuid(id)).await?;
    let gone = accounts::get(&state.db, viewer, AccountId::from_uuid(input.duplicate_id))
        .await
        .map_err(unknown_reference("duplicate_id", "duplicate_id is not an account you may see"))?;
    let me = Some(caller.principal.user_id);
    if !may_assign(&caller) && (keep.owner_id != me || gone.owner_id != me) {
        return Err(ApiError::Forbidden("merge accounts owned by others"));
    }
    let mut tx = state.db.begin().await?;
    let account = accounts::merge(&mut tx, &caller.actor(), keep.id, gone.id, state.clock.now()).await?;
    tx.commit().await?;
    Ok(Json(account))
}

/// Changes an account; a new name is checked for duplicates like a new account.
#[utoipa::path(patch, path = "/api/v1/accounts/{id}", tag = "accounts", security(("bearer" = [])), request_body = AccountInput,
    params(("id" = Uuid, Path, description = "account id")),
    responses((status = 200, body = Account), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<AccountInput>,
) -> ApiResult<Json<Account>> {
    caller.require_sales_writer()?;
    let id = AccountId::from_uuid(id);
    let current = accounts::get(&state.db, caller.principal.viewer(), id).await?;
    if current.deleted_at.is_some() {
        return Err(ApiError::NotFound);
    }
    if (input.owner_id.is_some() || input.team_id.is_some()) && !may_assign(&caller) {
        return Err(ApiError::Forbidden("assign accounts to others"));
    }
    let fields = parse(&input, Some(fields_of(&current)), caller.principal.user_id, caller.principal.team_id)?;
    let renamed = fields.name != current.name || fields.uscc != current.uscc;
    if renamed {
        check_duplicates(&state, &caller, &fields, &input, Some(id)).await?;
    }
    let mut tx = state.db.begin().await?;
    let account = accounts::update(&mut tx, &caller.actor(), id, &fields, state.clock.now()).await?;
    tx.commit().await?;
    Ok(Json(account))
}

/// Moves an account to the recycle bin (restorable); its owner, managers and admins only.
#[utoipa::path(delete, path = "/api/v1/accounts/{id}", tag = "accounts", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "account id")),
    responses((status = 200, body = Account), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Account>> {
    caller.require_sales_writer()?;
    set_deleted(&state, &caller, AccountId::from_uuid(id), true).await
}

/// Brings an account back from the recycle bin.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/restore", tag = "accounts", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "account id")),
    responses((status = 200, body = Account), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn restore(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Account>> {
    caller.require_sales_writer()?;
    set_deleted(&state, &caller, AccountId::from_uuid(id), false).await
}

async fn set_deleted(state: &AppState, caller: &Caller, id: AccountId, deleted: bool) -> ApiResult<Json<Account>> {
    let current = accounts::get(&state.db, caller.principal.viewer(), id).await?;
    if current.owner_id != Some(caller.principal.user_id) && !may_assign(caller) {
        return Err(ApiError::Forbidden("delete or restore accounts owned by others"));
    }
    let mut tx = state.db.begin().await?;
    let account = accounts::set_deleted(&mut tx, &caller.actor(), id, deleted, state.clock.now()).await?;
    tx.commit().await?;
    Ok(Json(account))
}

/// Account list filters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AccountQuery {
    /// Owned by.
    pub owner_id: Option<Uuid>,
    /// In team.
    pub team_id: Option<Uuid>,
    /// From source.
    pub source: Option<AccountSource>,
    /// Of class.
    pub classification: Option<Classification>,
    /// In stage.
    pub relationship_stage: Option<RelationshipStage>,
    /// With tag.
    pub tag: Option<String>,
    /// In this province, city or district (division code: 210000 is all of Liaoning).
    pub region_code: Option<String>,
    /// Changed at or after.
    pub updated_since: Option<DateTime<Utc>>,
    /// The recycle bin instead.
    pub deleted: Option<bool>,
    /// `created` (oldest first, the default), `updated` (most recently changed first), `name`, or
    /// `release_due` (soonest return to the pool first).
    pub sort: Option<AccountSort>,
    /// Export only: `csv` (default) or `xlsx`.
    pub format: Option<String>,
    /// Rows per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The previous page's `next_cursor` (of the same sort).
    pub cursor: Option<String>,
}

/// The filters of a list query (not its order or page).
fn filter_of(q: &AccountQuery) -> ApiResult<AccountFilter> {
    Ok(AccountFilter {
        owner_id: q.owner_id.map(UserId::from_uuid),
        team_id: q.team_id.map(TeamId::from_uuid),
        source: q.source,
        classification: q.classification,
        relationship_stage: q.relationship_stage,
        tag: q.tag.clone(),
        region_code: match &q.region_code {
            Some(c) => Some(parse_division_code("region_code", c).map_err(|e| ApiError::Validation(vec![e]))?),
            None => None,
        },
        updated_since: q.updated_since,
        deleted: q.deleted.unwrap_or(false),
        ..AccountFilter::default()
    })
}

/// The accounts the same filters select, as CSV in Guanxi's column layout
/// (UTF-8 with a BOM, formula-like cells neutralised), streamed a page at a
/// time; `sort`, `limit` and `cursor` do not apply.
#[utoipa::path(get, path = "/api/v1/accounts/export", tag = "accounts", security(("bearer" = [])), params(AccountQuery),
    responses((status = 200, description = "CSV (streamed) or XLSX (`format=xlsx`) in Guanxi's column layout, which imports back with the `guanxi` preset",
        content((String = "text/csv"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 422, body = Problem)))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AccountQuery>,
) -> ApiResult<axum::response::Response> {
    use guanxi_exchange::accounts as x;
    let filter = filter_of(&q)?;
    let viewer = caller.principal.viewer();
    if crate::api::export::format_of(q.format.as_deref(), &["csv", "xlsx"])? == "xlsx" {
        use guanxi_exchange::sheet::{Format, Sheet};
        let (file, out) = crate::api::export::scratch()?;
        let mut sheet = Sheet::open(Format::Xlsx, out, &x::COLUMNS).map_err(|e| ApiError::Internal(e.to_string()))?;
        x::export(&state.db, viewer, &filter, &mut sheet).await.map_err(crate::api::export::failed)?;
        sheet.finish().map_err(|e| crate::api::export::failed(e.into()))?;
        return crate::api::export::send_file(file, "accounts.xlsx", Format::Xlsx.content_type()).await;
    }
    // The header first, then a chunk per page as the database yields it.
    let mut head = x::writer(Vec::new()).map_err(|e| ApiError::Internal(e.to_string()))?;
    head.flush().map_err(|e| ApiError::Internal(e.to_string()))?;
    let head = head.into_inner().map_err(|e| ApiError::Internal(e.to_string()))?;
    let pages = x::pages(&state.db, viewer, &filter);
    let pages = futures_util::stream::unfold((pages, x::Rows::default()), |(mut pages, mut rows)| async move {
        let page = pages.recv().await?;
        // Mid-stream the status is sent: an error ends the body short so the client sees a broken download
        // (the reader stops after sending it, so the next receive ends the stream).
        let bytes = page.map_err(x::ExportError::from).and_then(|p| rows.csv(&p));
        Some((bytes.map_err(|e| std::io::Error::other(e.to_string())), (pages, rows)))
    });
    let body = futures_util::stream::once(async move { Ok::<_, std::io::Error>(head) }).chain(pages);
    axum::response::Response::builder()
        .header(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")
        .header(axum::http::header::CONTENT_DISPOSITION, "attachment; filename=\"accounts.csv\"")
        .body(axum::body::Body::from_stream(body))
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// Accounts within the caller's scope.
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", security(("bearer" = [])), params(AccountQuery),
    responses((status = 200, body = Page<Account>), (status = 422, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AccountQuery>,
) -> ApiResult<Json<Page<Account>>> {
    let pq = PageQuery { limit: q.limit, cursor: q.cursor.clone() };
    let limit = pq.limit()?;
    let sort = q.sort.unwrap_or_default();
    let (after, after_key) = match sort {
        AccountSort::Created => (pq.after()?.map(AccountId::from_uuid), None),
        _ => match pq.after_keyed()? {
            Some((key, id)) => (Some(AccountId::from_uuid(id)), Some(key)),
            None => (None, None),
        },
    };
    let filter = AccountFilter { sort, after_key, after, ..filter_of(&q)? };
    let rows = accounts::list(&state.db, caller.principal.viewer(), &filter, limit + 1).await?;
    let mut p = page(rows, limit, |a| a.id.uuid());
    if sort != AccountSort::Created && p.next_cursor.is_some() {
        p.next_cursor = p.items.last().and_then(|a| Some(keyed_cursor(&accounts::sort_key(a, sort)?, a.id.uuid())));
    }
    Ok(Json(p))
}

/// What to check for duplicates.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DuplicateCheck {
    /// Name as typed so far.
    pub name: String,
    /// USCC, if known.
    pub uscc: Option<String>,
    /// Phones, if known.
    pub phones: Option<Vec<String>>,
}

/// Existing accounts that may be the organisation being entered (for warnings as the user types).
#[utoipa::path(post, path = "/api/v1/accounts/duplicates", tag = "accounts", security(("bearer" = [])), request_body = DuplicateCheck,
    responses((status = 200, body = Vec<Candidate>), (status = 422, body = Problem)))]
pub async fn duplicates(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<DuplicateCheck>,
) -> ApiResult<Json<Vec<Candidate>>> {
    let mut f = Fields::default();
    let name = f.take(AccountName::parse("name", &body.name));
    let uscc = body.uscc.as_deref().filter(|u| !u.trim().is_empty()).and_then(|u| f.take(Uscc::parse("uscc", u)));
    let phones: Vec<Phone> = body
        .phones
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter_map(|(i, p)| f.take(Phone::parse(&format!("phones[{i}]"), p)))
        .collect();
    f.finish()?;
    let name = name.ok_or(ApiError::Internal("name parsed without value".into()))?;
    let found = accounts::duplicates(
        &state.db,
        caller.principal.workspace_id,
        name.as_str(),
        uscc.as_ref().map(Uscc::as_str),
        &phones,
        None,
    )
    .await?;
    Ok(Json(found))
}
