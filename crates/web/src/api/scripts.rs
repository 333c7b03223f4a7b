//! The script library (话术) and SPIN bank: read beside the logging form
//! with placeholders filled; kept by managers and admins.

use crate::api::accounts::may_assign;
use crate::auth::Caller;
use crate::error::{unknown_reference, ApiError, ApiResult, Problem};
use crate::json::{ApiJson, ApiPath, ApiQuery, Fields};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use guanxi_domain::script::{check, render, Fill};
use guanxi_domain::{AccountId, ContactId, ScriptId, ScriptKind, ShortText};
use guanxi_store::scripts::{self, Script};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A script with its placeholders filled for one account and person.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Rendered {
    /// The script as stored.
    #[serde(flatten)]
    pub script: Script,
    /// Its wording, filled in (a placeholder without a value reads ＿＿).
    pub text: String,
}

/// Which scripts, filled for whom.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ScriptQuery {
    /// Only this kind.
    pub kind: Option<ScriptKind>,
    /// Fill {客户} from this account.
    pub account_id: Option<Uuid>,
    /// Fill {联系人} and {职务} from this person.
    pub contact_id: Option<Uuid>,
}

/// The library filled for an account and person the caller may see.
pub(crate) async fn rendered(
    state: &AppState,
    caller: &Caller,
    kind: Option<ScriptKind>,
    account: Option<AccountId>,
    contact: Option<ContactId>,
) -> ApiResult<Vec<Rendered>> {
    let p = &caller.principal;
    let account = match account {
        Some(a) => Some(
            guanxi_store::accounts::get(&state.db, p.viewer(), a)
                .await
                .map_err(unknown_reference("account_id", "account_id names no account you may see"))?,
        ),
        None => None,
    };
    let contact = match contact {
        Some(c) => Some(
            guanxi_store::contacts::get(&state.db, p.viewer(), c)
                .await
                .map_err(unknown_reference("contact_id", "contact_id names no contact you may see"))?,
        ),
        None => None,
    };
    let company = guanxi_store::workspaces::get(&state.db, p.workspace_id).await?.name;
    let fill = Fill {
        account: account.as_ref().map(|a| a.short_name.as_deref().unwrap_or(&a.name)),
        contact: contact.as_ref().map(|c| c.name.as_str()),
        title: contact.as_ref().and_then(|c| c.title.as_deref()),
        me: &p.display_name,
        company: &company,
    };
    Ok(scripts::list(&state.db, p.workspace_id, kind)
        .await?
        .into_iter()
        .map(|s| Rendered { text: render(&s.body, &fill), script: s })
        .collect())
}

/// The library (话术 and SPIN questions), filled for an account and person.
#[utoipa::path(get, path = "/api/v1/scripts", tag = "activities", security(("bearer" = [])), params(ScriptQuery),
    responses((status = 200, body = Vec<Rendered>), (status = 422, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ScriptQuery>,
) -> ApiResult<Json<Vec<Rendered>>> {
    Ok(Json(
        rendered(
            &state,
            &caller,
            q.kind,
            q.account_id.map(AccountId::from_uuid),
            q.contact_id.map(ContactId::from_uuid),
        )
        .await?,
    ))
}

/// A new script.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScriptInput {
    /// What it is for.
    pub kind: ScriptKind,
    /// A short title.
    pub title: String,
    /// The wording; placeholders: {客户} {联系人} {职务} {我} {我司}.
    pub body: String,
}

fn checked(input: &ScriptInput) -> ApiResult<(ShortText, guanxi_domain::Notes)> {
    let mut f = Fields::default();
    let title = f.take(ShortText::parse("title", &input.title));
    let body = f.take(guanxi_domain::Notes::parse("body", &input.body));
    if let Some(b) = &body {
        f.take(check("body", b.as_str()));
    }
    f.finish()?;
    title.zip(body).ok_or_else(|| ApiError::Internal("parsed without values".into()))
}

/// Adds a script; managers and admins. An unknown placeholder is refused, named.
#[utoipa::path(post, path = "/api/v1/scripts", tag = "activities", security(("bearer" = [])), request_body = ScriptInput,
    responses((status = 201, body = Script), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<ScriptInput>,
) -> ApiResult<(StatusCode, Json<Script>)> {
    if !may_assign(&caller) {
        return Err(ApiError::Forbidden("edit the script library"));
    }
    let (title, body) = checked(&input)?;
    let mut tx = state.db.begin().await?;
    let s =
        scripts::create(&mut tx, &caller.actor(), input.kind, title.as_str(), body.as_str(), state.clock.now()).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(s)))
}

/// Rewrites a script in place; managers and admins. An unknown placeholder is refused, named.
#[utoipa::path(put, path = "/api/v1/scripts/{id}", tag = "activities", security(("bearer" = [])), request_body = ScriptInput,
    params(("id" = Uuid, Path, description = "script id")),
    responses((status = 200, body = Script), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<ScriptInput>,
) -> ApiResult<Json<Script>> {
    if !may_assign(&caller) {
        return Err(ApiError::Forbidden("edit the script library"));
    }
    let (title, body) = checked(&input)?;
    let mut tx = state.db.begin().await?;
    let s = scripts::update(
        &mut tx,
        &caller.actor(),
        ScriptId::from_uuid(id),
        input.kind,
        title.as_str(),
        body.as_str(),
        state.clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(s))
}

/// Removes a script from the library; managers and admins.
#[utoipa::path(delete, path = "/api/v1/scripts/{id}", tag = "activities", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "script id")),
    responses((status = 204, description = "removed"), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    if !may_assign(&caller) {
        return Err(ApiError::Forbidden("edit the script library"));
    }
    let mut tx = state.db.begin().await?;
    scripts::delete(&mut tx, &caller.actor(), ScriptId::from_uuid(id), state.clock.now()).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
