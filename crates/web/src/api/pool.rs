//! The public pool (公海): pools and their rules, the pool's accounts as a
//! non-owner sees them, claiming (领取) and releasing (退回), and the
//! notifications the release job leaves.

use crate::api::accounts::{may_assign, owned_elsewhere, registered_elsewhere};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::{ApiJson, ApiPath, ApiQuery, Fields};
use crate::pagination::{page, Page, PageQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use guanxi_domain::{
    parse_division_code, AccountId, AccountSource, Classification, FieldError, NotificationId, PoolId, PoolRules,
    ReleaseReason, ShortText, TeamId, UserId,
};
use guanxi_store::accounts::{self, Account, AccountFilter, Candidate};
use guanxi_store::notifications::{self, Notification};
use guanxi_store::ownership::{self, Claimant};
use guanxi_store::pool::{self, Pool, PoolFields};
use guanxi_store::{Conn, Viewer};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A pool the caller may open: admins any, others the pools they belong to.
pub(crate) async fn open_pool(state: &AppState, caller: &Caller, id: PoolId) -> ApiResult<Pool> {
    let p = &caller.principal;
    let pool = pool::get(Conn::Db(&state.db), p.workspace_id, id).await?;
    if p.role.is_admin() || pool::is_member(Conn::Db(&state.db), &pool, p.user_id, p.team_id).await? {
        Ok(pool)
    } else {
        Err(ApiError::NotFound)
    }
}

/// The pools the caller may open.
pub(crate) async fn my_pools(state: &AppState, caller: &Caller) -> ApiResult<Vec<Pool>> {
    let p = &caller.principal;
    Ok(if p.role.is_admin() {
        pool::list(Conn::Db(&state.db), p.workspace_id).await?
    } else {
        pool::member_pools(Conn::Db(&state.db), p.workspace_id, p.user_id, p.team_id).await?
    })
}

/// Pools the caller belongs to (admins: all), the default first.
#[utoipa::path(get, path = "/api/v1/pools", tag = "pool", security(("bearer" = [])),
    responses((status = 200, body = Vec<Pool>)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Pool>>> {
    Ok(Json(my_pools(&state, &caller).await?))
}

/// One pool.
#[utoipa::path(get, path = "/api/v1/pools/{id}", tag = "pool", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "pool id")),
    responses((status = 200, body = Pool), (status = 404, body = Problem)))]
pub async fn get(State(state): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Json<Pool>> {
    Ok(Json(open_pool(&state, &caller, PoolId::from_uuid(id)).await?))
}

/// A pool as a manager writes it. On create `name` is required and rules
/// default to common practice; on PATCH what is left out stays.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolInput {
    /// Name (e.g. 华东公海).
    pub name: Option<String>,
    /// All of the rules (send the whole object; read it first to change one).
    pub rules: Option<PoolRules>,
    /// Member teams (with their sub-teams); with `users` empty too, the pool is open to everyone.
    pub teams: Option<Vec<Uuid>>,
    /// Member users.
    pub users: Option<Vec<Uuid>>,
}

fn parse_pool(input: PoolInput, current: Option<&Pool>) -> ApiResult<PoolFields> {
    let mut f = Fields::default();
    let name = match (input.name, current) {
        (Some(n), _) => f.take(ShortText::parse("name", &n)).map(ShortText::into_string),
        (None, Some(c)) => Some(c.name.clone()),
        (None, None) => {
            f.push(FieldError::new("name", "required", "name must not be empty"));
            None
        }
    };
    let rules = input.rules.or_else(|| current.map(|c| c.rules.clone())).unwrap_or_default();
    for e in rules.check("rules") {
        f.push(e);
    }
    f.finish()?;
    let members = |ids: Option<Vec<Uuid>>, old: Vec<Uuid>| ids.unwrap_or(old);
    let old_teams = current.map(|c| c.members.iter().filter_map(|m| m.team_id.map(TeamId::uuid)).collect());
    let old_users = current.map(|c| c.members.iter().filter_map(|m| m.user_id.map(UserId::uuid)).collect());
    Ok(PoolFields {
        name: name.unwrap_or_default(),
        rules,
        teams: members(input.teams, old_teams.unwrap_or_default()).into_iter().map(TeamId::from_uuid).collect(),
        users: members(input.users, old_users.unwrap_or_default()).into_iter().map(UserId::from_uuid).collect(),
    })
}

/// Creates a pool; managers and admins.
#[utoipa::path(post, path = "/api/v1/pools", tag = "pool", security(("bearer" = [])), request_body = PoolInput,
    responses((status = 201, body = Pool), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<PoolInput>,
) -> ApiResult<(StatusCode, Json<Pool>)> {
    if !may_assign(&caller) {
        return Err(ApiError::Forbidden("configure pools"));
    }
    let fields = parse_pool(input, None)?;
    let mut tx = state.db.begin().await?;
    let pool = pool::create(&mut tx, &caller.actor(), &fields, state.clock.now()).await.map_err(pool_conflict)?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(pool)))
}

/// Changes a pool: admins, or the managers it names (as a member, or
/// through their team). Changed return rules apply at once to the accounts
/// owned from it.
#[utoipa::path(patch, path = "/api/v1/pools/{id}", tag = "pool", security(("bearer" = [])), request_body = PoolInput,
    params(("id" = Uuid, Path, description = "pool id")),
    responses((status = 200, body = Pool), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<PoolInput>,
) -> ApiResult<Json<Pool>> {
    let current = open_pool(&state, &caller, PoolId::from_uuid(id)).await?;
    if !may_configure(&caller, &current) {
        return Err(ApiError::Forbidden("change this pool (admins, or the managers it names)"));
    }
    let fields = parse_pool(input, Some(&current))?;
    let mut tx = state.db.begin().await?;
    let pool =
        pool::update(&mut tx, &caller.actor(), current.id, &fields, state.clock.now()).await.map_err(pool_conflict)?;
    tx.commit().await?;
    Ok(Json(pool))
}

/// Whether the caller may change this pool (`domain::pool::may_configure`).
pub(crate) fn may_configure(caller: &Caller, pool: &Pool) -> bool {
    let p = &caller.principal;
    let users: Vec<UserId> = pool.members.iter().filter_map(|m| m.user_id).collect();
    let teams: Vec<TeamId> = pool.members.iter().filter_map(|m| m.team_id).collect();
    guanxi_domain::pool::may_configure(p.role, p.user_id, p.team_id, &users, &teams)
}

fn pool_conflict(e: guanxi_store::Error) -> ApiError {
    match e {
        guanxi_store::Error::Conflict(_) => ApiError::Conflict {
            code: "pool_name_taken",
            detail: "A pool with this name already exists.".into(),
            errors: vec![FieldError::new("name", "pool_name_taken", "A pool with this name already exists.")],
        },
        other => other.into(),
    }
}

/// Filters of a pool's list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PoolQuery {
    /// In this province, city or district (division code).
    pub region_code: Option<String>,
    /// In this industry (exact).
    pub industry: Option<String>,
    /// From source.
    pub source: Option<AccountSource>,
    /// Of class.
    pub classification: Option<Classification>,
    /// Why it came back: `manual`, `no_activity`, `no_progress`, `no_deal`, `handover`.
    pub release_reason: Option<ReleaseReason>,
    /// Rows per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// What a pool's list is filtered by.
pub(crate) fn pool_filter(pool: PoolId, q: &PoolQuery, after: Option<AccountId>) -> ApiResult<AccountFilter> {
    Ok(AccountFilter {
        pool_id: Some(pool),
        region_code: match &q.region_code {
            Some(c) if !c.is_empty() => Some(parse_division_code("region_code", c)?),
            _ => None,
        },
        industry: q.industry.clone().filter(|i| !i.trim().is_empty()),
        source: q.source,
        classification: q.classification,
        release_reason: q.release_reason,
        after,
        ..AccountFilter::default()
    })
}

/// The unowned accounts of a pool, as a non-owner sees them (phones masked,
/// hidden fields left out, as the pool's rules say), oldest first.
#[utoipa::path(get, path = "/api/v1/pools/{id}/accounts", tag = "pool", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "pool id"), PoolQuery),
    responses((status = 200, body = Page<Account>), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn accounts(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<PoolQuery>,
) -> ApiResult<Json<Page<Account>>> {
    let pool = open_pool(&state, &caller, PoolId::from_uuid(id)).await?;
    let pq = PageQuery { limit: q.limit, cursor: q.cursor.clone() };
    let limit = pq.limit()?;
    let filter = pool_filter(pool.id, &q, pq.after()?.map(AccountId::from_uuid))?;
    let rows = pool_accounts(&state, &caller, &pool, &filter, limit + 1).await?;
    Ok(Json(page(rows, limit, |a| a.id.uuid())))
}

/// A pool's accounts, masked: the whole workspace's, whatever the caller's
/// data scope, since the pool is open to its members.
pub(crate) async fn pool_accounts(
    state: &AppState,
    caller: &Caller,
    pool: &Pool,
    filter: &AccountFilter,
    limit: i64,
) -> ApiResult<Vec<Account>> {
    let rows = accounts::list(&state.db, Viewer::whole(caller.principal.workspace_id), filter, limit).await?;
    Ok(rows.into_iter().map(|a| pool::masked(a, &pool.rules)).collect())
}

/// Midnight today in the workspace's time zone, for "claims per day".
fn day_start(state: &AppState, caller: &Caller) -> DateTime<Utc> {
    let tz: chrono_tz::Tz = caller.principal.time_zone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    let now = state.clock.now().with_timezone(&tz);
    now.date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|m| m.and_local_timezone(tz).earliest())
        .map_or(now.with_timezone(&Utc), |m| m.with_timezone(&Utc))
}

/// Claims an account for the caller: the rules of its pool, and 查重 (a
/// record of the same organisation owned by someone else refuses it).
pub(crate) async fn claim_account(state: &AppState, caller: &Caller, id: AccountId) -> ApiResult<Account> {
    caller.require_sales_writer()?;
    let ws = caller.principal.workspace_id;
    let a = accounts::get(&state.db, Viewer::whole(ws), id).await?;
    if a.deleted_at.is_some() {
        return Err(ApiError::NotFound);
    }
    if a.owner_id.is_none() {
        // An account of a pool the caller may not open is not there for them
        // (404, as reading it is), never a 409 telling it exists.
        if let Some(pool) = a.ownership.pool_id {
            open_pool(state, caller, pool).await?;
        }
        let phones: Vec<_> = a.phones.iter().filter_map(|p| p.parsed()).collect();
        let found = accounts::duplicates(&state.db, ws, &a.name, a.uscc.as_deref(), &phones, Some(id)).await?;
        let same: Vec<&Candidate> = found.iter().filter(|c| c.verdict == "same").collect();
        owned_elsewhere(&same, Some(caller.principal.user_id))?;
        // This record itself, or another of the same organisation, may be held by a registration.
        let mut named: Vec<(AccountId, &str)> = same.iter().map(|c| (c.id, c.name.as_str())).collect();
        named.push((id, a.name.as_str()));
        registered_elsewhere(state, caller, &named).await?;
    }
    let who = Claimant {
        user_id: caller.principal.user_id,
        name: caller.principal.display_name.clone(),
        team_id: caller.principal.team_id,
    };
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let account = ownership::claim(&mut tx, &caller.actor(), &who, id, day_start(state, caller), now).await?;
    tx.commit().await?;
    Ok(account)
}

/// Claims (领取) a pooled account: it becomes the caller's, with the pool's
/// return date. Exactly one of many concurrent claims wins; the others get
/// `409 owned_by_other`. An account of a pool the caller does not belong to
/// is 404 to them (admins, who open every pool: `409 not_in_pool`).
#[utoipa::path(post, path = "/api/v1/accounts/{id}/claim", tag = "pool", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "account id")),
    responses((status = 200, body = Account), (status = 404, body = Problem),
        (status = 409, description = "`owned_by_other` (with `owner_name`), `already_owned`, `not_in_pool`, `claim_cooldown` (with `until`), `daily_claim_limit`, `ownership_limit`", body = Problem)))]
pub async fn claim(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Account>> {
    Ok(Json(claim_account(&state, &caller, AccountId::from_uuid(id)).await?))
}

/// Why an account is released.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseInput {
    /// Why (required): the next salesperson reads it in the pool.
    pub reason: String,
}

/// Releases an account to its pool by hand, with a reason; its owner, or a
/// manager or admin who may see it.
pub(crate) async fn release_account(
    state: &AppState,
    caller: &Caller,
    id: AccountId,
    reason: &str,
) -> ApiResult<Account> {
    caller.require_sales_writer()?;
    let reason = ShortText::parse("reason", reason)?;
    let current = accounts::get(&state.db, caller.principal.viewer(), id).await?;
    if current.deleted_at.is_some() {
        return Err(ApiError::NotFound);
    }
    let mut tx = state.db.begin().await?;
    let account = ownership::release(
        &mut tx,
        &caller.actor(),
        caller.principal.user_id,
        may_assign(caller),
        id,
        ReleaseReason::Manual,
        Some(reason.as_str()),
        state.clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(account)
}

/// Releases (退回) an account to its pool, with a reason. Others may claim
/// it at once; the releaser only after the pool's cooldown.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/release", tag = "pool", security(("bearer" = [])), request_body = ReleaseInput,
    params(("id" = Uuid, Path, description = "account id")),
    responses((status = 200, body = Account), (status = 403, description = "`not_owner`", body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn release(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<ReleaseInput>,
) -> ApiResult<Json<Account>> {
    Ok(Json(release_account(&state, &caller, AccountId::from_uuid(id), &input.reason).await?))
}

/// The pool an account should be in.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveInput {
    /// The pool.
    pub pool_id: Uuid,
}

/// Moves an account to another pool; managers and admins who may see it.
/// Unowned, it sits in that pool; owned, it returns there by that pool's rules.
#[utoipa::path(put, path = "/api/v1/accounts/{id}/pool", tag = "pool", security(("bearer" = [])), request_body = MoveInput,
    params(("id" = Uuid, Path, description = "account id")),
    responses((status = 200, body = Account), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "`not_in_pool`: held by a pending registration", body = Problem), (status = 422, body = Problem)))]
pub async fn move_pool(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<MoveInput>,
) -> ApiResult<Json<Account>> {
    caller.require_sales_writer()?;
    if !may_assign(&caller) {
        return Err(ApiError::Forbidden("move accounts between pools"));
    }
    let id = AccountId::from_uuid(id);
    // Pooled accounts are the whole workspace's; owned ones within the caller's scope.
    let a = accounts::get(&state.db, Viewer::whole(caller.principal.workspace_id), id).await?;
    if a.owner_id.is_some() {
        accounts::get(&state.db, caller.principal.viewer(), id).await?;
    }
    let to = open_pool(&state, &caller, PoolId::from_uuid(input.pool_id)).await.map_err(|e| match e {
        ApiError::NotFound => ApiError::field("pool_id", "invalid", "pool_id names no pool you may open"),
        other => other,
    })?;
    let mut tx = state.db.begin().await?;
    let account = ownership::move_to_pool(&mut tx, &caller.actor(), id, &to, state.clock.now()).await?;
    tx.commit().await?;
    Ok(Json(account))
}

/// Which notifications.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct NotificationQuery {
    /// Only unread ones.
    pub unread: Option<bool>,
    /// Rows per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// The caller's notifications, newest first.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "pool", security(("bearer" = [])), params(NotificationQuery),
    responses((status = 200, body = Page<Notification>)))]
pub async fn notifications(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<NotificationQuery>,
) -> ApiResult<Json<Page<Notification>>> {
    let pq = PageQuery { limit: q.limit, cursor: q.cursor };
    let limit = pq.limit()?;
    let p = &caller.principal;
    let rows = notifications::list(
        &state.db,
        p.workspace_id,
        p.user_id,
        q.unread.unwrap_or(false),
        pq.after()?.map(NotificationId::from_uuid),
        limit + 1,
    )
    .await?;
    Ok(Json(page(rows, limit, |n| n.id.uuid())))
}

/// Which notification to mark read.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadInput {
    /// One notification; without it, all of the caller's.
    pub id: Option<Uuid>,
}

/// How many were marked.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReadOutput {
    /// Notifications newly marked read.
    pub marked: u64,
}

/// Marks notifications read.
#[utoipa::path(post, path = "/api/v1/notifications/read", tag = "pool", security(("bearer" = [])), request_body = ReadInput,
    responses((status = 200, body = ReadOutput)))]
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<ReadInput>,
) -> ApiResult<Json<ReadOutput>> {
    let p = &caller.principal;
    let marked = notifications::mark_read(
        &state.db,
        p.workspace_id,
        p.user_id,
        input.id.map(NotificationId::from_uuid),
        state.clock.now(),
    )
    .await?;
    Ok(Json(ReadOutput { marked }))
}
