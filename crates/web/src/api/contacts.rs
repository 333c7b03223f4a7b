//! Contacts (联系人 / 关键人): CRUD through the account's scope, 查重 on
//! entry (`409 duplicate_contact`), soft delete and restore.

use crate::auth::Caller;
use crate::error::{unknown_reference, ApiError, ApiResult, Problem};
use crate::json::{double_option, patch_list, patch_text, ApiJson, ApiPath, ApiQuery, Fields};
use crate::pagination::{page, Page, PageQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use guanxi_domain::{
    AccountId, Birthday, BuyingRole, ContactId, Email, FieldError, Notes, PersonName, Phone, RelationshipStrength,
    Role, ShortText, Stance, WechatId,
};
use guanxi_store::contacts::{self, Contact, ContactFields, ContactFilter};
use serde::Deserialize;
use uuid::Uuid;

/// Most phones, e-mails and tags per contact.
const MAX_ITEMS: usize = 10;

/// A contact's fields as sent. On create `account_id` and `name` are required;
/// on PATCH every field is optional and `null` clears an optional one.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    /// The account the person works at.
    pub account_id: Option<Uuid>,
    /// Name (1–50 characters); the title goes into `title`.
    pub name: Option<String>,
    /// Department.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub department: Option<Option<String>>,
    /// Title (主任, 总工).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub title: Option<Option<String>>,
    /// Phones as typed; the preferred first.
    pub phones: Option<Vec<String>>,
    /// E-mail addresses.
    pub emails: Option<Vec<String>>,
    /// WeChat id (6–20 letters, digits, _ or -, starting with a letter; or a phone number).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub wechat: Option<Option<String>>,
    /// Stance.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Stance>)]
    pub stance: Option<Option<Stance>>,
    /// Relationship strength.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<RelationshipStrength>)]
    pub relationship_strength: Option<Option<RelationshipStrength>>,
    /// Key person.
    pub key_person: Option<bool>,
    /// Controls money (有钱).
    pub has_money: Option<bool>,
    /// Has authority (有权).
    pub has_authority: Option<bool>,
    /// Has the need (有需求).
    pub has_need: Option<bool>,
    /// Buying role.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<BuyingRole>)]
    pub buying_role: Option<Option<BuyingRole>>,
    /// The contact this person reports to (same account).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub reports_to_id: Option<Option<Uuid>>,
    /// `1975-03-08`, or `--03-08` without the year.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub birthday: Option<Option<String>>,
    /// Personal notes.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<String>>,
    /// Has left the company.
    pub left_company: Option<bool>,
    /// Tags.
    pub tags: Option<Vec<String>>,
    /// Save even though 查重 found the same person.
    pub force: Option<bool>,
    /// Why, when forcing (kept in the audit log).
    pub force_reason: Option<String>,
}

fn short(field: &str, v: &str) -> Result<String, FieldError> {
    ShortText::parse(field, v).map(ShortText::into_string)
}

/// Merges input over current fields (none on create), reporting every bad field.
pub fn parse(
    input: &ContactInput,
    cur: Option<ContactFields>,
    today: chrono::NaiveDate,
) -> Result<ContactFields, ApiError> {
    let mut f = Fields::default();
    let account_id = input.account_id.map(AccountId::from_uuid).or(cur.as_ref().map(|c| c.account_id));
    if account_id.is_none() {
        f.push(FieldError::new("account_id", "required", "account_id is required: the account the person works at"));
    }
    let name = match (&input.name, &cur) {
        (Some(n), _) => f.take(PersonName::parse("name", n)).map(PersonName::into_string),
        (None, Some(c)) => Some(c.name.clone()),
        (None, None) => {
            f.push(FieldError::new("name", "required", "name must not be empty"));
            None
        }
    };
    let old = |get: fn(&ContactFields) -> Option<String>| cur.as_ref().and_then(get);
    let department = patch_text(&mut f, "department", &input.department, old(|c| c.department.clone()), short, |s| s);
    let title = patch_text(&mut f, "title", &input.title, old(|c| c.title.clone()), short, |s| s);
    let wechat = patch_text(&mut f, "wechat", &input.wechat, old(|c| c.wechat.clone()), WechatId::parse, |w| {
        w.as_str().to_owned()
    });
    let birthday = patch_text(
        &mut f,
        "birthday",
        &input.birthday,
        old(|c| c.birthday.clone()),
        |field, v| Birthday::parse(field, v, today),
        Birthday::to_iso,
    );
    let notes = patch_text(&mut f, "notes", &input.notes, old(|c| c.notes.clone()), Notes::parse, Notes::into_string);
    let phones = patch_list(
        &mut f,
        "phones",
        &input.phones,
        cur.as_ref().map(|c| c.phones.clone()).unwrap_or_default(),
        MAX_ITEMS,
        Phone::parse,
    );
    let emails = patch_list(
        &mut f,
        "emails",
        &input.emails,
        cur.as_ref().map(|c| c.emails.clone()).unwrap_or_default(),
        MAX_ITEMS,
        |field, v| Email::parse(field, v).map(|e| e.as_str().to_owned()),
    );
    let tags =
        patch_list(&mut f, "tags", &input.tags, cur.as_ref().map(|c| c.tags.clone()).unwrap_or_default(), 20, short);
    f.finish()?;
    let (Some(account_id), Some(name)) = (account_id, name) else {
        return Err(ApiError::Internal("fields parsed without values".into()));
    };
    let flag = |new: Option<bool>, old: fn(&ContactFields) -> bool| new.or(cur.as_ref().map(old)).unwrap_or(false);
    Ok(ContactFields {
        account_id,
        name,
        department,
        title,
        phones,
        emails,
        wechat,
        stance: input.stance.unwrap_or_else(|| cur.as_ref().and_then(|c| c.stance)),
        relationship_strength: input
            .relationship_strength
            .unwrap_or_else(|| cur.as_ref().and_then(|c| c.relationship_strength)),
        key_person: flag(input.key_person, |c| c.key_person),
        has_money: flag(input.has_money, |c| c.has_money),
        has_authority: flag(input.has_authority, |c| c.has_authority),
        has_need: flag(input.has_need, |c| c.has_need),
        buying_role: input.buying_role.unwrap_or_else(|| cur.as_ref().and_then(|c| c.buying_role)),
        reports_to_id: match input.reports_to_id {
            Some(r) => r.map(ContactId::from_uuid),
            None => cur.as_ref().and_then(|c| c.reports_to_id),
        },
        birthday,
        notes,
        left_company: flag(input.left_company, |c| c.left_company),
        tags,
    })
}

/// Refuses the same person twice unless forced with a reason; returns the audit note of a forced save.
pub async fn check_duplicates(
    state: &AppState,
    caller: &Caller,
    fields: &ContactFields,
    force: Option<bool>,
    force_reason: Option<&str>,
    except: Option<ContactId>,
) -> ApiResult<Option<serde_json::Value>> {
    let found = contacts::duplicates(&state.db, caller.principal.workspace_id, fields, except).await?;
    if found.is_empty() {
        return Ok(None);
    }
    if force == Some(true) {
        let reason = force_reason.map(str::trim).unwrap_or("");
        if reason.is_empty() {
            return Err(ApiError::field(
                "force_reason",
                "required",
                "force_reason must say why the same person is saved twice",
            ));
        }
        let ids: Vec<String> = found.iter().map(|c| c.id.to_string()).collect();
        return Ok(Some(serde_json::json!({"reason": reason, "candidates": ids})));
    }
    Err(ApiError::Duplicate { code: "duplicate_contact", candidates: serde_json::to_value(&found).unwrap_or_default() })
}

/// The account must be one the caller may see.
async fn visible_account(state: &AppState, caller: &Caller, id: AccountId) -> ApiResult<()> {
    match guanxi_store::accounts::get(&state.db, caller.principal.viewer(), id).await {
        Ok(a) if a.deleted_at.is_none() => Ok(()),
        _ => Err(ApiError::field("account_id", "invalid", "account_id is not a live account you may see")),
    }
}

/// Creates a contact at an account the caller may see; the same person twice answers `409 duplicate_contact`.
#[utoipa::path(post, path = "/api/v1/contacts", tag = "contacts", security(("bearer" = [])), request_body = ContactInput,
    responses((status = 201, body = Contact),
        (status = 409, description = "`duplicate_contact`, with `candidates`", body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<ContactInput>,
) -> ApiResult<(StatusCode, Json<Contact>)> {
    caller.require_sales_writer()?;
    let fields = parse(&input, None, state.today())?;
    visible_account(&state, &caller, fields.account_id).await?;
    let note = check_duplicates(&state, &caller, &fields, input.force, input.force_reason.as_deref(), None).await?;
    let mut tx = state.db.begin().await?;
    let contact = contacts::create(&mut tx, &caller.actor(), &fields, note, state.clock.now()).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(contact)))
}

/// One contact, if its account is within scope (also from the recycle bin).
/// The id of a contact merged into another redirects (308) to the kept one.
#[utoipa::path(get, path = "/api/v1/contacts/{id}", tag = "contacts", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "contact id")),
    responses((status = 200, body = Contact), (status = 308, description = "merged: `Location` is the kept contact"),
        (status = 404, body = Problem)))]
pub async fn get(State(state): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Response> {
    let contact = contacts::get(&state.db, caller.principal.viewer(), ContactId::from_uuid(id)).await?;
    Ok(match contact.merged_into_id {
        Some(kept) => Redirect::permanent(&format!("/api/v1/contacts/{kept}")).into_response(),
        None => Json(contact).into_response(),
    })
}

/// Merges a duplicate into this contact: empty fields filled, phones, e-mails, tags and notes
/// joined, its reports moved here; the duplicate's id redirects here.
#[utoipa::path(post, path = "/api/v1/contacts/{id}/merge", tag = "contacts", security(("bearer" = [])),
    request_body = crate::api::accounts::MergeInput,
    params(("id" = Uuid, Path, description = "the contact kept")),
    responses((status = 200, body = Contact), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn merge(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<crate::api::accounts::MergeInput>,
) -> ApiResult<Json<Contact>> {
    caller.require_sales_writer()?;
    let viewer = caller.principal.viewer();
    let keep = contacts::get(&state.db, viewer, ContactId::from_uuid(id)).await?;
    let gone = contacts::get(&state.db, viewer, ContactId::from_uuid(input.duplicate_id))
        .await
        .map_err(unknown_reference("duplicate_id", "duplicate_id is not a contact you may see"))?;
    let me = Some(caller.principal.user_id);
    if !matches!(caller.principal.role, Role::Admin | Role::Manager) && (keep.owner_id != me || gone.owner_id != me) {
        return Err(ApiError::Forbidden("merge contacts of accounts owned by others"));
    }
    let mut tx = state.db.begin().await?;
    let contact = contacts::merge(&mut tx, &caller.actor(), keep.id, gone.id, state.clock.now()).await?;
    tx.commit().await?;
    Ok(Json(contact))
}

/// Changes a contact; new phones, e-mails or WeChat are checked for the same person.
#[utoipa::path(patch, path = "/api/v1/contacts/{id}", tag = "contacts", security(("bearer" = [])), request_body = ContactInput,
    params(("id" = Uuid, Path, description = "contact id")),
    responses((status = 200, body = Contact), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<ContactInput>,
) -> ApiResult<Json<Contact>> {
    caller.require_sales_writer()?;
    let id = ContactId::from_uuid(id);
    let current = contacts::get(&state.db, caller.principal.viewer(), id).await?;
    if current.deleted_at.is_some() {
        return Err(ApiError::NotFound);
    }
    let before = ContactFields::of(&current);
    let fields = parse(&input, Some(before.clone()), state.today())?;
    if fields.account_id != before.account_id {
        visible_account(&state, &caller, fields.account_id).await?;
    }
    let identity_changed = fields.name != before.name
        || fields.account_id != before.account_id
        || fields.wechat != before.wechat
        || fields.emails != before.emails
        || fields.phones.iter().map(Phone::number).ne(before.phones.iter().map(Phone::number));
    if identity_changed {
        check_duplicates(&state, &caller, &fields, input.force, input.force_reason.as_deref(), Some(id)).await?;
    }
    let mut tx = state.db.begin().await?;
    let contact = contacts::update(&mut tx, &caller.actor(), id, &fields, state.clock.now()).await?;
    tx.commit().await?;
    Ok(Json(contact))
}

/// Moves a contact to the recycle bin (restorable). People who leave their company are
/// better marked `left_company`, which keeps them in the power map's history.
#[utoipa::path(delete, path = "/api/v1/contacts/{id}", tag = "contacts", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "contact id")),
    responses((status = 200, body = Contact), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Contact>> {
    caller.require_sales_writer()?;
    set_deleted(&state, &caller, ContactId::from_uuid(id), true).await
}

/// Brings a contact back from the recycle bin.
#[utoipa::path(post, path = "/api/v1/contacts/{id}/restore", tag = "contacts", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "contact id")),
    responses((status = 200, body = Contact), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn restore(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Contact>> {
    caller.require_sales_writer()?;
    set_deleted(&state, &caller, ContactId::from_uuid(id), false).await
}

async fn set_deleted(state: &AppState, caller: &Caller, id: ContactId, deleted: bool) -> ApiResult<Json<Contact>> {
    let current = contacts::get(&state.db, caller.principal.viewer(), id).await?;
    if current.owner_id != Some(caller.principal.user_id)
        && !matches!(caller.principal.role, Role::Admin | Role::Manager)
    {
        return Err(ApiError::Forbidden("delete or restore contacts of accounts owned by others"));
    }
    let mut tx = state.db.begin().await?;
    let contact = contacts::set_deleted(&mut tx, &caller.actor(), id, deleted, state.clock.now()).await?;
    tx.commit().await?;
    Ok(Json(contact))
}

/// Contact list filters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ContactQuery {
    /// At this account.
    pub account_id: Option<Uuid>,
    /// With this stance.
    pub stance: Option<Stance>,
    /// In this buying role.
    pub buying_role: Option<BuyingRole>,
    /// Key persons only (`true`) or others only (`false`).
    pub key_person: Option<bool>,
    /// With tag.
    pub tag: Option<String>,
    /// Include people who have left their company.
    pub include_left: Option<bool>,
    /// Only people who have left their company.
    pub only_left: Option<bool>,
    /// Changed at or after.
    pub updated_since: Option<DateTime<Utc>>,
    /// The recycle bin instead.
    pub deleted: Option<bool>,
    /// Export only: `csv` (default), `xlsx`, or `vcf` (vCard 4.0).
    pub format: Option<String>,
    /// Rows per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

fn filter_of(q: &ContactQuery, after: Option<ContactId>) -> ContactFilter {
    ContactFilter {
        account_id: q.account_id.map(AccountId::from_uuid),
        stance: q.stance,
        buying_role: q.buying_role,
        key_person: q.key_person,
        tag: q.tag.clone(),
        include_left: q.include_left.unwrap_or(false),
        only_left: q.only_left.unwrap_or(false),
        updated_since: q.updated_since,
        deleted: q.deleted.unwrap_or(false),
        after,
    }
}

/// Exports the contacts the filters select: CSV or XLSX in Guanxi's column
/// layout (imports back with the `guanxi` preset, linked to their accounts by
/// id), or vCards for a phone's address book.
#[utoipa::path(get, path = "/api/v1/contacts/export", tag = "contacts", security(("bearer" = [])), params(ContactQuery),
    responses((status = 200, description = "the file",
        content((String = "text/csv"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), (String = "text/vcard"))),
        (status = 422, body = Problem)))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ContactQuery>,
) -> ApiResult<Response> {
    use crate::api::export::{failed, format_of, scratch, send_file};
    use guanxi_exchange::contacts as x;
    use guanxi_exchange::sheet::{Format, Sheet};
    let format = format_of(q.format.as_deref(), &["csv", "xlsx", "vcf"])?;
    let filter = filter_of(&q, None);
    let viewer = caller.principal.viewer();
    let (file, out) = scratch()?;
    if format == "vcf" {
        let mut out = std::io::BufWriter::new(out);
        x::each(&state.db, viewer, &filter, |c| Ok(std::io::Write::write_all(&mut out, x::vcard(c).as_bytes())?))
            .await
            .map_err(failed)?;
        std::io::Write::flush(&mut out).map_err(|e| ApiError::Internal(e.to_string()))?;
        return send_file(file, "contacts.vcf", "text/vcard; charset=utf-8").await;
    }
    let format = if format == "xlsx" { Format::Xlsx } else { Format::Csv };
    let mut sheet = Sheet::open(format, out, &x::COLUMNS).map_err(|e| failed(e.into()))?;
    x::export(&state.db, viewer, &filter, &mut sheet).await.map_err(failed)?;
    sheet.finish().map_err(|e| failed(e.into()))?;
    send_file(file, &format!("contacts.{}", format.extension()), format.content_type()).await
}

/// Contacts of accounts within the caller's scope.
#[utoipa::path(get, path = "/api/v1/contacts", tag = "contacts", security(("bearer" = [])), params(ContactQuery),
    responses((status = 200, body = Page<Contact>), (status = 422, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ContactQuery>,
) -> ApiResult<Json<Page<Contact>>> {
    let pq = PageQuery { limit: q.limit, cursor: q.cursor.clone() };
    let limit = pq.limit()?;
    let filter = filter_of(&q, pq.after()?.map(ContactId::from_uuid));
    let rows = contacts::list(&state.db, caller.principal.viewer(), &filter, limit + 1).await?;
    Ok(Json(page(rows, limit, |c| c.id.uuid())))
}
