//! Registrations (报备), transfer requests and handovers (交接): what a
//! salesperson asks, a manager decides, and an admin does when someone leaves.

use crate::api::accounts::{check_duplicates, parse, AccountInput};
use crate::auth::Caller;
use crate::error::{unknown_reference, ApiError, ApiResult, Problem};
use crate::json::{ApiJson, ApiPath, ApiQuery};
use crate::pagination::{page, Page, PageQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use guanxi_domain::{AccountId, FieldError, RequestId, RequestKind, ShortText, UserId};
use guanxi_store::ownership::{self, Claimant, HandoverPlan, HandoverReport};
use guanxi_store::requests::{self, Decider, Inbox, Request};
use guanxi_store::Viewer;
use serde::Deserialize;
use uuid::Uuid;

fn claimant(caller: &Caller) -> Claimant {
    Claimant {
        user_id: caller.principal.user_id,
        name: caller.principal.display_name.clone(),
        team_id: caller.principal.team_id,
    }
}

fn decider(caller: &Caller) -> Decider {
    Decider { user_id: caller.principal.user_id, role: caller.principal.role, team_id: caller.principal.team_id }
}

/// A registration (报备): a new organisation met in the field, or a pooled account.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationInput {
    /// The new organisation (as for `POST /api/v1/accounts`; the owner is decided by the approval).
    pub account: Option<AccountInput>,
    /// Or: a pooled account to register.
    pub account_id: Option<Uuid>,
    /// What the requester knows: whom they met, what the project is (required).
    pub note: String,
}

/// Files a registration. While it is pending the organisation is held: others
/// entering or claiming it get `409 registered_by_other`.
pub(crate) async fn file_registration(
    state: &AppState,
    caller: &Caller,
    input: RegistrationInput,
) -> ApiResult<Request> {
    caller.require_sales_writer()?;
    let note = ShortText::parse("note", &input.note)?;
    let fields = match (&input.account, input.account_id) {
        (Some(a), None) => {
            if a.owner_id.is_some() || a.team_id.is_some() {
                return Err(ApiError::field("account.owner_id", "invalid", "the approval decides the owner"));
            }
            let mut f = parse(a, None, caller.principal.user_id, caller.principal.team_id)
                .map_err(|e| prefix_fields(e, "account."))?;
            f.owner_id = None;
            check_duplicates(state, caller, &f, a, None).await?;
            Some(f)
        }
        (None, Some(_)) => None,
        _ => {
            return Err(ApiError::field(
                "account",
                "required",
                "send either account (a new organisation) or account_id (a pooled one)",
            ))
        }
    };
    let mut tx = state.db.begin().await?;
    let r = requests::register(
        &mut tx,
        &caller.actor(),
        &claimant(caller),
        fields.as_ref(),
        input.account_id.map(AccountId::from_uuid),
        note.as_str(),
        state.clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(r)
}

fn prefix_fields(e: ApiError, prefix: &str) -> ApiError {
    match e {
        ApiError::Validation(errors) => ApiError::Validation(
            errors
                .into_iter()
                .map(|fe| FieldError::new(&format!("{prefix}{}", fe.field), &fe.code, fe.message))
                .collect(),
        ),
        other => other,
    }
}

/// Files a registration (报备) for the caller; a manager of their team (or an admin) decides.
#[utoipa::path(post, path = "/api/v1/registrations", tag = "pool", security(("bearer" = [])), request_body = RegistrationInput,
    responses((status = 201, body = Request),
        (status = 409, description = "`owned_by_other`, `registered_by_other`, `duplicate_account`, `not_in_pool`", body = Problem),
        (status = 422, body = Problem)))]
pub async fn register(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<RegistrationInput>,
) -> ApiResult<(StatusCode, Json<Request>)> {
    Ok((StatusCode::CREATED, Json(file_registration(&state, &caller, input).await?)))
}

/// A transfer request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferInput {
    /// The account someone else owns (as named by `owned_by_other`).
    pub account_id: Uuid,
    /// Why it should be the caller's (required).
    pub reason: String,
}

/// Asks for an account someone else owns; their manager (or the caller's, or an admin) decides.
pub(crate) async fn ask_transfer(state: &AppState, caller: &Caller, input: TransferInput) -> ApiResult<Request> {
    caller.require_sales_writer()?;
    let reason = ShortText::parse("reason", &input.reason)?;
    let mut tx = state.db.begin().await?;
    let r = requests::request_transfer(
        &mut tx,
        &caller.actor(),
        &claimant(caller),
        AccountId::from_uuid(input.account_id),
        reason.as_str(),
        state.clock.now(),
    )
    .await
    .map_err(|e| match e {
        guanxi_store::Error::NotFound => ApiError::field("account_id", "invalid", "account_id names no account"),
        other => other.into(),
    })?;
    tx.commit().await?;
    Ok(r)
}

/// Asks for a transfer of an account someone else owns.
#[utoipa::path(post, path = "/api/v1/transfers", tag = "pool", security(("bearer" = [])), request_body = TransferInput,
    responses((status = 201, body = Request),
        (status = 409, description = "`already_owned`, `in_pool` (claim it), `request_pending`", body = Problem),
        (status = 422, body = Problem)))]
pub async fn transfer(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<TransferInput>,
) -> ApiResult<(StatusCode, Json<Request>)> {
    Ok((StatusCode::CREATED, Json(ask_transfer(&state, &caller, input).await?)))
}

/// Which requests.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InboxQuery {
    /// `to_decide` (待我审批, the default), `mine` (我发出的) or `decided` (我已审批).
    #[serde(rename = "box")]
    pub inbox: Option<String>,
    /// Rows per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

pub(crate) fn inbox_of(caller: &Caller, name: Option<&str>) -> ApiResult<Inbox> {
    Ok(match name.unwrap_or("to_decide") {
        "to_decide" => Inbox::ToDecide(decider(caller)),
        "mine" => Inbox::Mine(caller.principal.user_id),
        "decided" => Inbox::DecidedBy(caller.principal.user_id),
        _ => return Err(ApiError::field("box", "invalid", "box is to_decide, mine or decided")),
    })
}

async fn inbox(state: &AppState, caller: &Caller, q: InboxQuery, kind: RequestKind) -> ApiResult<Json<Page<Request>>> {
    let inbox = inbox_of(caller, q.inbox.as_deref())?;
    let pq = PageQuery { limit: q.limit, cursor: q.cursor };
    let limit = pq.limit()?;
    let rows = requests::list(
        &state.db,
        caller.principal.workspace_id,
        inbox,
        Some(kind),
        pq.after()?.map(RequestId::from_uuid),
        limit + 1,
    )
    .await?;
    Ok(Json(page(rows, limit, |r| r.id.uuid())))
}

/// Registrations: waiting for the caller's decision, filed by the caller, or decided by them.
#[utoipa::path(get, path = "/api/v1/registrations", tag = "pool", security(("bearer" = [])), params(InboxQuery),
    responses((status = 200, body = Page<Request>)))]
pub async fn registrations(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<InboxQuery>,
) -> ApiResult<Json<Page<Request>>> {
    inbox(&state, &caller, q, RequestKind::Registration).await
}

/// Transfer requests, by inbox as for registrations.
#[utoipa::path(get, path = "/api/v1/transfers", tag = "pool", security(("bearer" = [])), params(InboxQuery),
    responses((status = 200, body = Page<Request>)))]
pub async fn transfers(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<InboxQuery>,
) -> ApiResult<Json<Page<Request>>> {
    inbox(&state, &caller, q, RequestKind::Transfer).await
}

/// A decision.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    /// Approve (`true`) or reject.
    pub approve: bool,
    /// The decider's words: optional to approve, required to reject.
    pub note: Option<String>,
}

pub(crate) async fn decide_request(
    state: &AppState,
    caller: &Caller,
    id: RequestId,
    kind: RequestKind,
    input: DecisionInput,
) -> ApiResult<Request> {
    let note = match input.note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => Some(ShortText::parse("note", n)?.into_string()),
        None if !input.approve => {
            return Err(ApiError::field("note", "required", "say why the request is rejected"));
        }
        None => None,
    };
    let ws = caller.principal.workspace_id;
    let current = requests::get(&state.db, ws, id).await?;
    if current.kind != kind {
        return Err(ApiError::NotFound);
    }
    let mut tx = state.db.begin().await?;
    let r = requests::decide(
        &mut tx,
        &caller.actor(),
        decider(caller),
        id,
        input.approve,
        note.as_deref(),
        state.clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(r)
}

/// Approves (the requester owns the account, protected for the pool's
/// protection days) or rejects (the account goes to the pool) a registration.
#[utoipa::path(post, path = "/api/v1/registrations/{id}/decision", tag = "pool", security(("bearer" = [])), request_body = DecisionInput,
    params(("id" = Uuid, Path, description = "registration id")),
    responses((status = 200, body = Request),
        (status = 403, description = "`own_request`, `not_decider`", body = Problem),
        (status = 409, description = "`not_pending`, `ownership_limit`", body = Problem), (status = 422, body = Problem)))]
pub async fn decide_registration(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<DecisionInput>,
) -> ApiResult<Json<Request>> {
    Ok(Json(decide_request(&state, &caller, RequestId::from_uuid(id), RequestKind::Registration, input).await?))
}

/// Approves (the account moves to the requester) or rejects a transfer request.
#[utoipa::path(post, path = "/api/v1/transfers/{id}/decision", tag = "pool", security(("bearer" = [])), request_body = DecisionInput,
    params(("id" = Uuid, Path, description = "transfer request id")),
    responses((status = 200, body = Request),
        (status = 403, description = "`own_request`, `not_decider`", body = Problem),
        (status = 409, description = "`not_pending`, `owner_changed`, `ownership_limit`", body = Problem), (status = 422, body = Problem)))]
pub async fn decide_transfer(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<DecisionInput>,
) -> ApiResult<Json<Request>> {
    Ok(Json(decide_request(&state, &caller, RequestId::from_uuid(id), RequestKind::Transfer, input).await?))
}

/// A handover (交接).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoverInput {
    /// The leaving (or moving) salesperson.
    pub from_user_id: Uuid,
    /// Colleagues who take the accounts over in turn; empty: every account goes to the pool.
    #[serde(default)]
    pub to_user_ids: Vec<Uuid>,
    /// Disable the user afterwards (they stay the author of their past records).
    #[serde(default)]
    pub disable: bool,
    /// Only work out what would move.
    #[serde(default)]
    pub preview: bool,
}

/// Runs (or previews) a handover; admins only.
pub(crate) async fn run_handover(state: &AppState, caller: &Caller, input: HandoverInput) -> ApiResult<HandoverReport> {
    caller.require_admin("hand over a salesperson's accounts")?;
    let viewer = Viewer::whole(caller.principal.workspace_id);
    let from = guanxi_store::users::get(&state.db, viewer, UserId::from_uuid(input.from_user_id))
        .await
        .map_err(unknown_reference("from_user_id", "from_user_id names no user of this workspace"))?;
    let mut to = Vec::new();
    let mut errors = Vec::new();
    for (i, id) in input.to_user_ids.iter().enumerate() {
        let field = format!("to_user_ids[{i}]");
        match guanxi_store::users::get(&state.db, viewer, UserId::from_uuid(*id)).await {
            Ok(u) if u.id == from.id => {
                errors.push(FieldError::new(&field, "invalid", "cannot hand over to the same person"))
            }
            Ok(u) if u.disabled_at.is_some() => {
                errors.push(FieldError::new(&field, "disabled", format!("{} is disabled", u.display_name)))
            }
            Ok(u) if to.iter().any(|c: &Claimant| c.user_id == u.id) => {
                errors.push(FieldError::new(&field, "invalid", "named twice"))
            }
            Ok(u) => to.push(Claimant { user_id: u.id, name: u.display_name, team_id: u.team_id }),
            Err(_) => errors.push(FieldError::new(&field, "invalid", "names no user of this workspace")),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let plan = HandoverPlan { from: from.id, to, disable: input.disable };
    let mut tx = state.db.begin().await?;
    let report = ownership::handover(&mut tx, &caller.actor(), &plan, input.preview, state.clock.now()).await?;
    if input.preview {
        // Nothing is written: the transaction is dropped, rolling back.
        drop(tx);
    } else {
        tx.commit().await?;
    }
    Ok(report)
}

/// Hands a leaving (or moving) salesperson's accounts, with their contacts,
/// to colleagues in turn or to the pool, withdraws their pending requests
/// and optionally disables them, in one action; `preview` shows what would move.
#[utoipa::path(post, path = "/api/v1/handovers", tag = "pool", security(("bearer" = [])), request_body = HandoverInput,
    responses((status = 200, body = HandoverReport), (status = 403, body = Problem),
        (status = 409, description = "`ownership_limit`", body = Problem), (status = 422, body = Problem)))]
pub async fn handover(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<HandoverInput>,
) -> ApiResult<Json<HandoverReport>> {
    Ok(Json(run_handover(&state, &caller, input).await?))
}
