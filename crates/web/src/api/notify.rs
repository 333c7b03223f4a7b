//! A person's reminder settings: how long before a hook they are reminded,
//! the channels reminders go to (WeCom, DingTalk, Feishu robots, e-mail),
//! and what became of each delivery.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::{ApiJson, ApiPath, ApiQuery, Fields};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use guanxi_domain::notify::{check_target, ChannelKind, Event};
use guanxi_domain::{ChannelId, DeliveryId, ShortText};
use guanxi_store::outbox::{self, Channel, ChannelPatch, Delivery, NewChannel};
use guanxi_store::Conn;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How long before a hook's time its reminder goes out.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reminders {
    /// Minutes, 0 to 1440 (default 15).
    pub remind_lead_minutes: i64,
}

/// The caller's reminder lead.
#[utoipa::path(get, path = "/api/v1/me/reminders", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = Reminders)))]
pub async fn get_reminders(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Reminders>> {
    let m = outbox::lead_minutes(Conn::Db(&state.db), caller.principal.user_id).await?;
    Ok(Json(Reminders { remind_lead_minutes: m }))
}

/// Sets the caller's reminder lead; hooks not yet reminded move with it.
#[utoipa::path(put, path = "/api/v1/me/reminders", tag = "me", security(("bearer" = [])), request_body = Reminders,
    responses((status = 200, body = Reminders), (status = 422, body = Problem)))]
pub async fn put_reminders(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<Reminders>,
) -> ApiResult<Json<Reminders>> {
    let mut tx = state.db.begin().await?;
    outbox::set_lead(&mut tx, &caller.actor(), caller.principal.user_id, input.remind_lead_minutes, state.clock.now())
        .await?;
    tx.commit().await?;
    Ok(Json(input))
}

/// The caller's channels (webhook keys are never shown back).
#[utoipa::path(get, path = "/api/v1/me/channels", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = Vec<Channel>)))]
pub async fn list_channels(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Channel>>> {
    Ok(Json(outbox::channels(&state.db, caller.principal.user_id).await?))
}

/// A channel to add.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    /// Which vendor.
    pub kind: ChannelKind,
    /// A name for it ("销售一组群").
    pub label: String,
    /// The robot's webhook URL (http or https), or an e-mail address.
    pub target: String,
    /// DingTalk's (`SEC…`) or Feishu's signing secret, if the robot is set to sign.
    #[serde(default)]
    pub secret: Option<String>,
    /// What to send it; default: everything.
    #[serde(default)]
    pub events: Option<Vec<Event>>,
}

/// Adds a reminder channel; the webhook URL is checked.
#[utoipa::path(post, path = "/api/v1/me/channels", tag = "me", security(("bearer" = [])), request_body = ChannelInput,
    responses((status = 201, body = Channel), (status = 422, body = Problem)))]
pub async fn create_channel(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<ChannelInput>,
) -> ApiResult<(StatusCode, Json<Channel>)> {
    Ok((StatusCode::CREATED, Json(add_channel(&state, &caller, input).await?)))
}

pub(crate) async fn add_channel(state: &AppState, caller: &Caller, input: ChannelInput) -> ApiResult<Channel> {
    let mut f = Fields::default();
    let label = f.take(ShortText::parse("label", &input.label));
    f.take(check_target(input.kind, &input.target, input.secret.as_deref(), &state.config.webhook_hosts));
    f.finish()?;
    let Some(label) = label else { return Err(ApiError::Internal("parsed without values".into())) };
    let c = NewChannel {
        kind: input.kind,
        label: label.as_str().to_owned(),
        target: input.target.trim().to_owned(),
        secret: input.secret,
        events: input.events.unwrap_or_else(|| Event::ALL.to_vec()),
    };
    let mut tx = state.db.begin().await?;
    let made =
        outbox::create_channel(&mut tx, &caller.actor(), caller.principal.user_id, &c, state.clock.now()).await?;
    tx.commit().await?;
    Ok(made)
}

/// What may change on a channel.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelUpdate {
    /// A new name.
    pub label: Option<String>,
    /// On or off.
    pub enabled: Option<bool>,
    /// What to send it.
    pub events: Option<Vec<Event>>,
}

/// Renames, switches on or off, or changes what a channel is sent.
#[utoipa::path(patch, path = "/api/v1/me/channels/{id}", tag = "me", security(("bearer" = [])), request_body = ChannelUpdate,
    params(("id" = Uuid, Path, description = "channel id")),
    responses((status = 200, body = Channel), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_channel(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<ChannelUpdate>,
) -> ApiResult<Json<Channel>> {
    let mut f = Fields::default();
    let label = input.label.as_deref().and_then(|l| f.take(ShortText::parse("label", l)));
    f.finish()?;
    let patch =
        ChannelPatch { label: label.map(|l| l.as_str().to_owned()), enabled: input.enabled, events: input.events };
    let mut tx = state.db.begin().await?;
    let c = outbox::update_channel(
        &mut tx,
        &caller.actor(),
        caller.principal.user_id,
        ChannelId::from_uuid(id),
        &patch,
        state.clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(c))
}

/// Removes a channel; what was still queued for it fails with that reason.
#[utoipa::path(delete, path = "/api/v1/me/channels/{id}", tag = "me", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "channel id")),
    responses((status = 204, description = "removed"), (status = 404, body = Problem)))]
pub async fn delete_channel(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    outbox::delete_channel(
        &mut tx,
        &caller.actor(),
        caller.principal.user_id,
        ChannelId::from_uuid(id),
        state.clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A queued test message.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Queued {
    /// The delivery to watch in `/api/v1/me/deliveries`.
    pub delivery_id: DeliveryId,
}

/// Queues a test message to a channel; the worker sends it within seconds.
#[utoipa::path(post, path = "/api/v1/me/channels/{id}/test", tag = "me", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "channel id")),
    responses((status = 202, body = Queued), (status = 404, body = Problem)))]
pub async fn test_channel(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<(StatusCode, Json<Queued>)> {
    let p = &caller.principal;
    let mut tx = state.db.begin().await?;
    let d = outbox::send_test(&mut tx, p.workspace_id, p.user_id, ChannelId::from_uuid(id), state.clock.now()).await?;
    tx.commit().await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { delivery_id: d })))
}

/// How many deliveries.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// At most this many, newest first (1–200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// The caller's latest deliveries: sent, waiting to be tried again, or failed with the reason.
#[utoipa::path(get, path = "/api/v1/me/deliveries", tag = "me", security(("bearer" = [])), params(DeliveryQuery),
    responses((status = 200, body = Vec<Delivery>)))]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> ApiResult<Json<Vec<Delivery>>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::field("limit", "out_of_range", "limit must be between 1 and 200"));
    }
    Ok(Json(outbox::deliveries(&state.db, caller.principal.user_id, limit).await?))
}
