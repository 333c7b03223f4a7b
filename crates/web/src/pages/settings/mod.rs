//! 设置: profile, API tokens, and for admins users, teams, roles and the audit log.
//! Each POST calls the same function as the API, then redirects back with a
//! notice (303), or shows the form again with the errors in the user's language.

use super::{fail, form_errors, render, show_time, Chrome, PageError, MISSING};
use crate::api::{me, teams as api_teams, users as api_users};
use crate::auth::{Caller, PageCaller};
use crate::error::ApiError;
use crate::json::ApiPath;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use guanxi_domain::{DataScope, FieldError, Locale, Role, TeamId, TokenId, UserId};
use guanxi_store::{audit, roles, teams, users};
use serde::Deserialize;
use uuid::Uuid;

mod audit_log;
mod profile;
mod role_admin;
mod team_admin;
mod tokens;
mod user_admin;
use audit_log::*;
use profile::*;
use role_admin::*;
use team_admin::*;
use tokens::*;
use user_admin::*;

/// The settings routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings", get(|| async { Redirect::to("/settings/profile") }))
        .route("/settings/profile", get(profile).post(save_profile))
        .route("/settings/password", post(save_password))
        .route("/settings/tokens", get(tokens).post(create_token))
        .route("/settings/tokens/{id}/revoke", post(revoke_token))
        .route("/settings/users", get(users_page).post(create_user))
        .route("/settings/users/{id}", get(user_page).post(save_user))
        .route("/settings/users/{id}/disable", post(|s, c, p| set_disabled(s, c, p, true)))
        .route("/settings/users/{id}/enable", post(|s, c, p| set_disabled(s, c, p, false)))
        .route("/settings/teams", get(teams_page).post(create_team))
        .route("/settings/teams/{id}", get(team_page).post(save_team))
        .route("/settings/teams/{id}/delete", post(delete_team))
        .route("/settings/roles", get(roles_page).post(save_roles))
        .route("/settings/audit", get(audit_page))
}

/// `?ok=1` after a successful change.
#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    #[serde(default)]
    ok: Option<String>,
}

impl Notice {
    pub(super) fn key(&self) -> Option<&'static str> {
        match self.ok.as_deref() {
            Some("password") => Some("profile.password_changed"),
            Some("test") => Some("notify.test_queued"),
            Some(_) => Some("settings.saved"),
            None => None,
        }
    }
}

type PageResult = Result<Response, PageError>;

fn role_key(r: Role) -> &'static str {
    match r {
        Role::Admin => "role.admin",
        Role::Manager => "role.manager",
        Role::Sales => "role.sales",
        Role::Service => "role.service",
    }
}

fn scope_key(s: DataScope) -> &'static str {
    match s {
        DataScope::Own => "scope.own",
        DataScope::Team => "scope.team",
        DataScope::Workspace => "scope.workspace",
    }
}

/// Re-shows a form with its errors (422), or fails the page for anything else.
pub(super) fn reshow(state: &AppState, caller: &Caller, e: ApiError) -> Result<Vec<String>, PageError> {
    let tr = crate::i18n::Tr::new(&state.i18n, caller.principal.locale);
    form_errors(tr, e).map_err(|e| PageError::from_api(e, state, Some(caller.clone())))
}

/// 422 when a form is shown again with errors, 200 otherwise.
fn form_status(errors: &[String]) -> StatusCode {
    if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

fn with_status(mut res: Response, status: StatusCode) -> Response {
    *res.status_mut() = status;
    res
}

/// An optional id from a `<select>` ("" is none).
fn optional_id(field: &str, raw: &str) -> Result<Option<Uuid>, ApiError> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    Uuid::parse_str(raw.trim())
        .map(Some)
        .map_err(|_| ApiError::field(field, "invalid", format!("{field} is not a valid id")))
}
