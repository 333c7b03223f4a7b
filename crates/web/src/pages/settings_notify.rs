//! 设置 → 提醒: how long before a hook one is reminded, the channels reminders
//! go to (WeCom, DingTalk, Feishu robots, e-mail) with a test button, and the
//! latest deliveries with the reason of any failure.

use super::settings::{reshow, Notice};
use super::{fail, render, show_time, Chrome, PageError, MISSING};
use crate::api::notify::{self as api, ChannelInput};
use crate::auth::{Caller, PageCaller};
use crate::json::ApiPath;
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use guanxi_domain::notify::{ChannelKind, Event};
use guanxi_domain::ChannelId;
use guanxi_store::outbox::{self, ChannelPatch};
use guanxi_store::Conn;
use uuid::Uuid;

type PageResult = Result<Response, PageError>;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings/notifications", get(page))
        .route("/settings/notifications/lead", post(save_lead))
        .route("/settings/notifications/channels", post(add))
        .route("/settings/notifications/channels/{id}/test", post(test))
        .route("/settings/notifications/channels/{id}/toggle", post(toggle))
        .route("/settings/notifications/channels/{id}/delete", post(remove))
}

struct ChannelRow {
    id: ChannelId,
    kind: &'static str,
    label: String,
    target: String,
    signed: bool,
    events: Vec<&'static str>,
    enabled: bool,
}

struct DeliveryRow {
    at: String,
    channel: String,
    kind: String,
    status: String,
    attempts: i64,
    reason: String,
}

#[derive(Template)]
#[template(path = "settings_notify.html")]
struct NotifyPage<'a> {
    chrome: Chrome<'a>,
    section: &'static str,
    notice: Option<&'static str>,
    errors: Vec<String>,
    lead: i64,
    channels: Vec<ChannelRow>,
    deliveries: Vec<DeliveryRow>,
    kinds: Vec<&'static str>,
    events: Vec<&'static str>,
    /// The add form as sent, when it was refused.
    form: Vec<(String, String)>,
}

impl NotifyPage<'_> {
    fn sent(&self, key: &str) -> &str {
        self.form.iter().find(|(k, _)| k == key).map_or("", |(_, v)| v.as_str())
    }

    fn chose(&self, event: &str) -> bool {
        self.form.is_empty() || self.form.iter().any(|(k, v)| k == "events" && v == event)
    }
}

async fn show(
    state: &AppState,
    caller: &Caller,
    notice: Option<&'static str>,
    errors: Vec<String>,
    form: Vec<(String, String)>,
) -> PageResult {
    let user = caller.principal.user_id;
    let tz = caller.principal.time_zone.as_str();
    let err = fail(state, caller);
    let lead = outbox::lead_minutes(Conn::Db(&state.db), user).await.map_err(|e| err(e.into()))?;
    let channels = outbox::channels(&state.db, user)
        .await
        .map_err(|e| err(e.into()))?
        .into_iter()
        .map(|c| ChannelRow {
            id: c.id,
            kind: c.kind.as_str(),
            label: c.label,
            target: c.target,
            signed: c.signed,
            events: c.events.iter().map(|e| e.as_str()).collect(),
            enabled: c.enabled,
        })
        .collect();
    let deliveries = outbox::deliveries(&state.db, user, 20)
        .await
        .map_err(|e| err(e.into()))?
        .into_iter()
        .map(|d| DeliveryRow {
            at: show_time(d.sent_at.unwrap_or(d.created_at), tz),
            channel: d.channel_label,
            kind: d.kind,
            status: d.status,
            attempts: d.attempts,
            reason: d.last_error.unwrap_or_else(|| MISSING.to_owned()),
        })
        .collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = NotifyPage {
        chrome: Chrome::new(state, caller, "/settings", "settings.notify"),
        section: "notify",
        notice,
        errors,
        lead,
        channels,
        deliveries,
        kinds: ChannelKind::ALL.iter().map(|k| k.as_str()).collect(),
        events: Event::ALL.iter().map(|e| e.as_str()).collect(),
        form,
    };
    let mut res = render(&page);
    *res.status_mut() = status;
    Ok(res)
}

async fn page(State(state): State<AppState>, PageCaller(caller): PageCaller, Query(n): Query<Notice>) -> PageResult {
    show(&state, &caller, n.key(), Vec::new(), Vec::new()).await
}

async fn save_lead(State(state): State<AppState>, PageCaller(caller): PageCaller, body: Bytes) -> PageResult {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let raw = pairs.iter().find(|(k, _)| k == "remind_lead_minutes").map_or("", |(_, v)| v.trim());
    let minutes = raw.parse::<i64>().unwrap_or(-1);
    let mut tx = state.db.begin().await.map_err(|e| fail(&state, &caller)(e.into()))?;
    match outbox::set_lead(&mut tx, &caller.actor(), caller.principal.user_id, minutes, state.clock.now()).await {
        Ok(()) => {
            tx.commit().await.map_err(|e| fail(&state, &caller)(e.into()))?;
            Ok(Redirect::to("/settings/notifications?ok=1").into_response())
        }
        Err(e) => {
            let errors = reshow(&state, &caller, e.into())?;
            show(&state, &caller, None, errors, Vec::new()).await
        }
    }
}

async fn add(State(state): State<AppState>, PageCaller(caller): PageCaller, body: Bytes) -> PageResult {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let value = |key: &str| pairs.iter().find(|(k, _)| k == key).map_or(String::new(), |(_, v)| v.clone());
    let Some(kind) = ChannelKind::parse(&value("kind")) else {
        let errors = vec![crate::i18n::Tr::new(&state.i18n, caller.principal.locale).t("notify.pick_kind").to_owned()];
        return show(&state, &caller, None, errors, pairs).await;
    };
    let events = pairs.iter().filter(|(k, _)| k == "events").filter_map(|(_, v)| Event::parse(v)).collect();
    let secret = Some(value("secret")).filter(|s| !s.trim().is_empty());
    let input = ChannelInput { kind, label: value("label"), target: value("target"), secret, events: Some(events) };
    match api::add_channel(&state, &caller, input).await {
        Ok(_) => Ok(Redirect::to("/settings/notifications?ok=1").into_response()),
        Err(e) => {
            let errors = reshow(&state, &caller, e)?;
            show(&state, &caller, None, errors, pairs).await
        }
    }
}

async fn test(State(state): State<AppState>, PageCaller(caller): PageCaller, ApiPath(id): ApiPath<Uuid>) -> PageResult {
    let _queued =
        api::test_channel(State(state.clone()), caller.clone(), ApiPath(id)).await.map_err(fail(&state, &caller))?;
    Ok(Redirect::to("/settings/notifications?ok=test").into_response())
}

async fn toggle(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> PageResult {
    let err = fail(&state, &caller);
    let user = caller.principal.user_id;
    let id = ChannelId::from_uuid(id);
    let current = outbox::channels(&state.db, user)
        .await
        .map_err(|e| err(e.into()))?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| err(crate::error::ApiError::NotFound))?;
    let patch = ChannelPatch { enabled: Some(!current.enabled), ..ChannelPatch::default() };
    let mut tx = state.db.begin().await.map_err(|e| err(e.into()))?;
    outbox::update_channel(&mut tx, &caller.actor(), user, id, &patch, state.clock.now())
        .await
        .map_err(|e| err(e.into()))?;
    tx.commit().await.map_err(|e| err(e.into()))?;
    Ok(Redirect::to("/settings/notifications?ok=1").into_response())
}

async fn remove(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> PageResult {
    api::delete_channel(State(state.clone()), caller.clone(), ApiPath(id)).await.map_err(fail(&state, &caller))?;
    Ok(Redirect::to("/settings/notifications?ok=1").into_response())
}
