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

// ---------- profile ----------

#[derive(Template)]
#[template(path = "settings_profile.html")]
struct ProfilePage<'a> {
    chrome: Chrome<'a>,
    section: &'static str,
    notice: Option<&'static str>,
    errors: Vec<String>,
    email: String,
    display_name: String,
    role_key: &'static str,
    team: String,
    locales: Vec<(&'static str, &'static str, bool)>,
}

async fn profile_page(
    state: &AppState,
    caller: &Caller,
    notice: Option<&'static str>,
    errors: Vec<String>,
) -> PageResult {
    let user = users::get(&state.db, caller.principal.viewer(), caller.principal.user_id)
        .await
        .map_err(|e| fail(state, caller)(e.into()))?;
    let locales = Locale::ALL
        .iter()
        .map(|l| (l.as_str(), if *l == Locale::ZhCn { "简体中文" } else { "English" }, *l == user.locale))
        .collect();
    let status = form_status(&errors);
    let page = ProfilePage {
        chrome: Chrome::new(state, caller, "/settings", "settings.profile"),
        section: "profile",
        notice,
        errors,
        email: user.email,
        display_name: user.display_name,
        role_key: role_key(user.role),
        team: user.team_name.unwrap_or_else(|| MISSING.to_owned()),
        locales,
    };
    Ok(with_status(render(&page), status))
}

async fn profile(State(state): State<AppState>, PageCaller(caller): PageCaller, Query(n): Query<Notice>) -> PageResult {
    profile_page(&state, &caller, n.key(), Vec::new()).await
}

#[derive(Debug, Deserialize)]
struct ProfileForm {
    display_name: String,
    locale: String,
}

async fn save_profile(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Form(f): Form<ProfileForm>,
) -> PageResult {
    let Some(locale) = Locale::parse(&f.locale) else {
        let errors = reshow(&state, &caller, ApiError::field("locale", "invalid", "unknown language"))?;
        return profile_page(&state, &caller, None, errors).await;
    };
    let patch = me::MePatch { display_name: Some(f.display_name), locale: Some(locale) };
    match me::patch_me(State(state.clone()), caller.clone(), crate::json::ApiJson(patch)).await {
        Ok(_) => Ok(Redirect::to("/settings/profile?ok=1").into_response()),
        Err(e) => {
            let errors = reshow(&state, &caller, e)?;
            profile_page(&state, &caller, None, errors).await
        }
    }
}

#[derive(Debug, Deserialize)]
struct PasswordForm {
    current_password: String,
    new_password: String,
}

async fn save_password(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Form(f): Form<PasswordForm>,
) -> PageResult {
    match me::change_password(&state, &caller, &f.current_password, &f.new_password).await {
        Ok(()) => Ok(Redirect::to("/settings/profile?ok=password").into_response()),
        Err(e) => {
            let errors = reshow(&state, &caller, e)?;
            profile_page(&state, &caller, None, errors).await
        }
    }
}

// ---------- tokens ----------

struct TokenRow {
    id: TokenId,
    name: String,
    prefix: String,
    created: String,
    last_used: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "settings_tokens.html")]
struct TokensPage<'a> {
    chrome: Chrome<'a>,
    section: &'static str,
    notice: Option<&'static str>,
    errors: Vec<String>,
    secret: Option<String>,
    tokens: Vec<TokenRow>,
}

async fn tokens_page(
    state: &AppState,
    caller: &Caller,
    notice: Option<&'static str>,
    errors: Vec<String>,
    secret: Option<String>,
) -> PageResult {
    let tz = caller.principal.time_zone.as_str();
    let list = guanxi_store::auth::list_tokens(&state.db, caller.principal.user_id)
        .await
        .map_err(|e| fail(state, caller)(e.into()))?;
    let tokens = list
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            created: show_time(t.created_at, tz),
            last_used: t.last_used_at.map(|x| show_time(x, tz)).unwrap_or_else(|| MISSING.to_owned()),
            revoked: t.revoked_at.is_some(),
        })
        .collect();
    let status = form_status(&errors);
    let page = TokensPage {
        chrome: Chrome::new(state, caller, "/settings", "settings.tokens"),
        section: "tokens",
        notice,
        errors,
        secret,
        tokens,
    };
    Ok(with_status(render(&page), status))
}

async fn tokens(State(state): State<AppState>, PageCaller(caller): PageCaller, Query(n): Query<Notice>) -> PageResult {
    tokens_page(&state, &caller, n.key(), Vec::new(), None).await
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    name: String,
}

async fn create_token(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Form(f): Form<TokenForm>,
) -> PageResult {
    match me::create_token(State(state.clone()), caller.clone(), crate::json::ApiJson(me::NewToken { name: f.name }))
        .await
    {
        // The secret is shown once, on this response; it is never stored in the clear.
        Ok((_, axum::Json(created))) => tokens_page(&state, &caller, None, Vec::new(), Some(created.secret)).await,
        Err(e) => {
            let errors = reshow(&state, &caller, e)?;
            tokens_page(&state, &caller, None, errors, None).await
        }
    }
}

async fn revoke_token(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> PageResult {
    let _revoked = me::revoke_token(State(state.clone()), caller.clone(), crate::json::ApiPath(id))
        .await
        .map_err(fail(&state, &caller))?;
    Ok(Redirect::to("/settings/tokens?ok=1").into_response())
}

// ---------- users ----------

struct UserRow {
    id: UserId,
    name: String,
    email: String,
    role_key: &'static str,
    team: String,
    disabled: bool,
    created: String,
}

#[derive(Default, Deserialize)]
struct UserForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    team_id: String,
}

#[derive(Template)]
#[template(path = "settings_users.html")]
struct UsersPage<'a> {
    chrome: Chrome<'a>,
    section: &'static str,
    notice: Option<&'static str>,
    errors: Vec<String>,
    users: Vec<UserRow>,
    include_disabled: bool,
    form: UserForm,
    role_options: Vec<(&'static str, &'static str, bool)>,
    team_options: Vec<(String, String, bool)>,
}

fn role_options(selected: Option<Role>) -> Vec<(&'static str, &'static str, bool)> {
    Role::ALL.iter().map(|r| (r.as_str(), role_key(*r), Some(*r) == selected)).collect()
}

async fn team_options(
    state: &AppState,
    caller: &Caller,
    selected: Option<TeamId>,
) -> Result<Vec<(String, String, bool)>, PageError> {
    let list = teams::list(&state.db, caller.principal.viewer(), None, 1000)
        .await
        .map_err(|e| fail(state, caller)(e.into()))?;
    Ok(tree(&list)
        .into_iter()
        .map(|(t, depth)| (t.id.to_string(), format!("{}{}", "　".repeat(depth), t.name), Some(t.id) == selected))
        .collect())
}

/// Teams in tree order (each parent before its children) with their depth.
fn tree(list: &[teams::Team]) -> Vec<(&teams::Team, usize)> {
    fn walk<'a>(
        list: &'a [teams::Team],
        parent: Option<TeamId>,
        depth: usize,
        out: &mut Vec<(&'a teams::Team, usize)>,
    ) {
        for t in list.iter().filter(|t| t.parent_id == parent) {
            out.push((t, depth));
            walk(list, Some(t.id), depth + 1, out);
        }
    }
    let mut out = Vec::new();
    // Roots are teams whose parent is not visible (for a manager, their own team).
    let ids: Vec<TeamId> = list.iter().map(|t| t.id).collect();
    for root in list.iter().filter(|t| t.parent_id.is_none_or(|p| !ids.contains(&p))) {
        out.push((root, 0));
        walk(list, Some(root.id), 1, &mut out);
    }
    out
}

#[derive(Debug, Default, Deserialize)]
struct UsersQuery {
    #[serde(default)]
    ok: Option<String>,
    #[serde(default)]
    include_disabled: Option<bool>,
}

async fn users_page_with(
    state: &AppState,
    caller: &Caller,
    q: UsersQuery,
    errors: Vec<String>,
    form: UserForm,
) -> PageResult {
    caller.require_admin("manage users").map_err(fail(state, caller))?;
    let include_disabled = q.include_disabled.unwrap_or(false);
    let filter = users::UserFilter { include_disabled, ..Default::default() };
    let list = users::list(&state.db, caller.principal.viewer(), &filter, 1000)
        .await
        .map_err(|e| fail(state, caller)(e.into()))?;
    let tz = caller.principal.time_zone.as_str();
    let rows = list
        .into_iter()
        .map(|u| UserRow {
            id: u.id,
            name: u.display_name,
            email: u.email,
            role_key: role_key(u.role),
            team: u.team_name.unwrap_or_else(|| MISSING.to_owned()),
            disabled: u.disabled_at.is_some(),
            created: show_time(u.created_at, tz),
        })
        .collect();
    let selected_role = Role::parse(&form.role).or(Some(Role::Sales));
    let selected_team = Uuid::parse_str(&form.team_id).ok().map(TeamId::from_uuid);
    let status = form_status(&errors);
    let page = UsersPage {
        chrome: Chrome::new(state, caller, "/settings", "settings.users"),
        section: "users",
        notice: Notice { ok: q.ok }.key(),
        errors,
        users: rows,
        include_disabled,
        role_options: role_options(selected_role),
        team_options: team_options(state, caller, selected_team).await?,
        form: UserForm { password: String::new(), ..form },
    };
    Ok(with_status(render(&page), status))
}

async fn users_page(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Query(q): Query<UsersQuery>,
) -> PageResult {
    users_page_with(&state, &caller, q, Vec::new(), UserForm::default()).await
}

async fn create_user(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Form(f): Form<UserForm>,
) -> PageResult {
    caller.require_admin("manage users").map_err(fail(&state, &caller))?;
    let result = async {
        let role = Role::parse(&f.role).ok_or_else(|| ApiError::field("role", "invalid", "unknown role"))?;
        let team_id = optional_id("team_id", &f.team_id)?;
        let body = api_users::CreateUser {
            email: f.email.clone(),
            display_name: f.display_name.clone(),
            password: f.password.clone(),
            role,
            team_id,
            locale: None,
        };
        api_users::create_user(&state, &caller, body).await
    }
    .await;
    match result {
        Ok(_) => Ok(Redirect::to("/settings/users?ok=1").into_response()),
        Err(e) => {
            let errors = reshow(&state, &caller, e)?;
            users_page_with(&state, &caller, UsersQuery::default(), errors, f).await
        }
    }
}

#[derive(Template)]
#[template(path = "settings_user_edit.html")]
struct UserEditPage<'a> {
    chrome: Chrome<'a>,
    section: &'static str,
    notice: Option<&'static str>,
    errors: Vec<String>,
    id: UserId,
    name: String,
    email: String,
    disabled: bool,
    role_options: Vec<(&'static str, &'static str, bool)>,
    team_options: Vec<(String, String, bool)>,
}

async fn user_page_with(
    state: &AppState,
    caller: &Caller,
    id: UserId,
    notice: Option<&'static str>,
    errors: Vec<String>,
) -> PageResult {
    // Outside the caller's scope the user does not exist (404), before any role check (403).
    let user = users::get(&state.db, caller.principal.viewer(), id).await.map_err(|e| fail(state, caller)(e.into()))?;
    caller.require_admin("manage users").map_err(fail(state, caller))?;
    let status = form_status(&errors);
    let page = UserEditPage {
        chrome: Chrome::new(state, caller, "/settings", "settings.users"),
        section: "users",
        notice,
        errors,
        id: user.id,
        name: user.display_name,
        email: user.email,
        disabled: user.disabled_at.is_some(),
        role_options: role_options(Some(user.role)),
        team_options: team_options(state, caller, user.team_id).await?,
    };
    Ok(with_status(render(&page), status))
}

async fn user_page(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
    Query(n): Query<Notice>,
) -> PageResult {
    user_page_with(&state, &caller, UserId::from_uuid(id), n.key(), Vec::new()).await
}

async fn save_user(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
    Form(f): Form<UserForm>,
) -> PageResult {
    let id = UserId::from_uuid(id);
    let result = async {
        let role = Role::parse(&f.role).ok_or_else(|| ApiError::field("role", "invalid", "unknown role"))?;
        let team_id = optional_id("team_id", &f.team_id)?;
        let body = api_users::UpdateUser {
            email: Some(f.email.clone()),
            display_name: Some(f.display_name.clone()),
            role: Some(role),
            team_id: Some(team_id),
            ..Default::default()
        };
        api_users::update_user(&state, &caller, id, body).await
    }
    .await;
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/settings/users/{id}?ok=1")).into_response()),
        Err(e) => {
            let errors = reshow(&state, &caller, e)?;
            user_page_with(&state, &caller, id, None, errors).await
        }
    }
}

async fn set_disabled(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
    disabled: bool,
) -> PageResult {
    let id = UserId::from_uuid(id);
    let body = api_users::UpdateUser { disabled: Some(disabled), ..Default::default() };
    match api_users::update_user(&state, &caller, id, body).await {
        Ok(_) => Ok(Redirect::to(&format!("/settings/users/{id}?ok=1")).into_response()),
        Err(e) => {
            let errors = reshow(&state, &caller, e)?;
            user_page_with(&state, &caller, id, None, errors).await
        }
    }
}

// ---------- teams ----------

struct TeamRow {
    id: TeamId,
    name: String,
    indent: String,
    manager: String,
    members: i64,
}

#[derive(Template)]
#[template(path = "settings_teams.html")]
struct TeamsPage<'a> {
    chrome: Chrome<'a>,
    section: &'static str,
    notice: Option<&'static str>,
    errors: Vec<String>,
    teams: Vec<TeamRow>,
    parent_options: Vec<(String, String, bool)>,
    manager_options: Vec<(String, String, bool)>,
}

async fn manager_options(
    state: &AppState,
    caller: &Caller,
    selected: Option<UserId>,
) -> Result<Vec<(String, String, bool)>, PageError> {
    let list = users::list(&state.db, caller.principal.viewer(), &users::UserFilter::default(), 1000)
        .await
        .map_err(|e| fail(state, caller)(e.into()))?;
    Ok(list
        .into_iter()
        .map(|u| (u.id.to_string(), format!("{} <{}>", u.display_name, u.email), Some(u.id) == selected))
        .collect())
}

async fn teams_page_with(
    state: &AppState,
    caller: &Caller,
    notice: Option<&'static str>,
    errors: Vec<String>,
) -> PageResult {
    caller.require_admin("manage teams").map_err(fail(state, caller))?;
    let list = teams::list(&state.db, caller.principal.viewer(), None, 1000)
        .await
        .map_err(|e| fail(state, caller)(e.into()))?;
    let rows = tree(&list)
        .into_iter()
        .map(|(t, depth)| TeamRow {
            id: t.id,
            name: t.name.clone(),
            indent: if depth == 0 { String::new() } else { format!("{}└ ", "　".repeat(depth - 1)) },
            manager: t.manager_name.clone().unwrap_or_else(|| MISSING.to_owned()),
            members: t.member_count,
        })
        .collect();
    let status = form_status(&errors);
    let page = TeamsPage {
        chrome: Chrome::new(state, caller, "/settings", "settings.teams"),
        section: "teams",
        notice,
        errors,
        teams: rows,
        parent_options: team_options(state, caller, None).await?,
        manager_options: manager_options(state, caller, None).await?,
    };
    Ok(with_status(render(&page), status))
}

async fn teams_page(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Query(n): Query<Notice>,
) -> PageResult {
    teams_page_with(&state, &caller, n.key(), Vec::new()).await
}

#[derive(Debug, Deserialize)]
struct TeamForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    parent_id: String,
    #[serde(default)]
    manager_id: String,
}

async fn create_team(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Form(f): Form<TeamForm>,
) -> PageResult {
    caller.require_admin("manage teams").map_err(fail(&state, &caller))?;
    let result = async {
        let body = api_teams::CreateTeam {
            name: f.name.clone(),
            parent_id: optional_id("parent_id", &f.parent_id)?,
            manager_id: optional_id("manager_id", &f.manager_id)?,
        };
        api_teams::create_team(&state, &caller, body).await
    }
    .await;
    match result {
        Ok(_) => Ok(Redirect::to("/settings/teams?ok=1").into_response()),
        Err(e) => {
            let errors = reshow(&state, &caller, e)?;
            teams_page_with(&state, &caller, None, errors).await
        }
    }
}

#[derive(Template)]
#[template(path = "settings_team_edit.html")]
struct TeamEditPage<'a> {
    chrome: Chrome<'a>,
    section: &'static str,
    notice: Option<&'static str>,
    errors: Vec<String>,
    id: TeamId,
    name: String,
    parent_options: Vec<(String, String, bool)>,
    manager_options: Vec<(String, String, bool)>,
}

async fn team_page_with(
    state: &AppState,
    caller: &Caller,
    id: TeamId,
    notice: Option<&'static str>,
    errors: Vec<String>,
) -> PageResult {
    let team = teams::get(&state.db, caller.principal.viewer(), id).await.map_err(|e| fail(state, caller)(e.into()))?;
    caller.require_admin("manage teams").map_err(fail(state, caller))?;
    let status = form_status(&errors);
    let parent_options = team_options(state, caller, team.parent_id)
        .await?
        .into_iter()
        .filter(|(v, _, _)| *v != id.to_string())
        .collect();
    let page = TeamEditPage {
        chrome: Chrome::new(state, caller, "/settings", "settings.teams"),
        section: "teams",
        notice,
        errors,
        id: team.id,
        name: team.name,
        parent_options,
        manager_options: manager_options(state, caller, team.manager_id).await?,
    };
    Ok(with_status(render(&page), status))
}

async fn team_page(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
    Query(n): Query<Notice>,
) -> PageResult {
    team_page_with(&state, &caller, TeamId::from_uuid(id), n.key(), Vec::new()).await
}

async fn save_team(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
    Form(f): Form<TeamForm>,
) -> PageResult {
    let id = TeamId::from_uuid(id);
    let result = async {
        let body = api_teams::UpdateTeam {
            name: Some(f.name.clone()),
            parent_id: Some(optional_id("parent_id", &f.parent_id)?),
            manager_id: Some(optional_id("manager_id", &f.manager_id)?),
        };
        api_teams::update_team(&state, &caller, id, body).await
    }
    .await;
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/settings/teams/{id}?ok=1")).into_response()),
        Err(e) => {
            let errors = reshow(&state, &caller, e)?;
            team_page_with(&state, &caller, id, None, errors).await
        }
    }
}

async fn delete_team(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> PageResult {
    match api_teams::delete(State(state.clone()), caller.clone(), ApiPath(id)).await {
        Ok(_) => Ok(Redirect::to("/settings/teams?ok=1").into_response()),
        Err(e) => {
            let errors = reshow(&state, &caller, e)?;
            team_page_with(&state, &caller, TeamId::from_uuid(id), None, errors).await
        }
    }
}

// ---------- roles ----------

struct RoleRow {
    role: &'static str,
    role_key: &'static str,
    locked: bool,
    options: Vec<(&'static str, &'static str, bool)>,
}

#[derive(Template)]
#[template(path = "settings_roles.html")]
struct RolesPage<'a> {
    chrome: Chrome<'a>,
    section: &'static str,
    notice: Option<&'static str>,
    errors: Vec<String>,
    roles: Vec<RoleRow>,
}

async fn roles_page_with(
    state: &AppState,
    caller: &Caller,
    notice: Option<&'static str>,
    errors: Vec<String>,
) -> PageResult {
    caller.require_admin("change roles").map_err(fail(state, caller))?;
    let list =
        roles::list(&state.db, caller.principal.workspace_id).await.map_err(|e| fail(state, caller)(e.into()))?;
    let rows = list
        .into_iter()
        .map(|r| RoleRow {
            role: r.role.as_str(),
            role_key: role_key(r.role),
            locked: r.role == Role::Admin,
            options: DataScope::ALL.iter().map(|s| (s.as_str(), scope_key(*s), *s == r.data_scope)).collect(),
        })
        .collect();
    let status = form_status(&errors);
    let page = RolesPage {
        chrome: Chrome::new(state, caller, "/settings", "settings.roles"),
        section: "roles",
        notice,
        errors,
        roles: rows,
    };
    Ok(with_status(render(&page), status))
}

async fn roles_page(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Query(n): Query<Notice>,
) -> PageResult {
    roles_page_with(&state, &caller, n.key(), Vec::new()).await
}

#[derive(Debug, Deserialize)]
struct RolesForm {
    manager: Option<String>,
    sales: Option<String>,
    service: Option<String>,
}

async fn save_roles(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Form(f): Form<RolesForm>,
) -> PageResult {
    caller.require_admin("change roles").map_err(fail(&state, &caller))?;
    let mut wanted = Vec::new();
    let mut errors = Vec::new();
    for (role, value) in [(Role::Manager, f.manager), (Role::Sales, f.sales), (Role::Service, f.service)] {
        if let Some(v) = value {
            match DataScope::parse(&v) {
                Some(s) => wanted.push((role, s)),
                None => errors.push(FieldError::new(role.as_str(), "invalid", "unknown data scope")),
            }
        }
    }
    if !errors.is_empty() {
        let msgs = reshow(&state, &caller, ApiError::Validation(errors))?;
        return roles_page_with(&state, &caller, None, msgs).await;
    }
    let result: Result<(), ApiError> = async {
        let mut tx = state.db.begin().await?;
        for (role, scope) in wanted {
            roles::set_scope(&mut tx, &caller.actor(), role, scope, state.clock.now()).await?;
        }
        tx.commit().await?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Ok(Redirect::to("/settings/roles?ok=1").into_response()),
        Err(e) => {
            let msgs = reshow(&state, &caller, e)?;
            roles_page_with(&state, &caller, None, msgs).await
        }
    }
}

// ---------- audit ----------

struct AuditRow {
    at: String,
    actor: String,
    action_key: String,
    entity_key: String,
    entity_short: String,
    changes: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "settings_audit.html")]
struct AuditPage<'a> {
    chrome: Chrome<'a>,
    section: &'static str,
    notice: Option<&'static str>,
    errors: Vec<String>,
    entries: Vec<AuditRow>,
    type_options: Vec<(&'static str, &'static str, bool)>,
    entity_type: Option<String>,
    next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuditQuery {
    #[serde(default)]
    entity_type: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

const ENTITY_TYPES: [&str; 5] = ["user", "team", "role", "workspace", "api_token"];

fn show_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => MISSING.to_owned(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

async fn audit_page(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Query(q): Query<AuditQuery>,
) -> PageResult {
    caller.require_admin("read the audit log").map_err(fail(&state, &caller))?;
    let entity_type = q.entity_type.filter(|t| ENTITY_TYPES.contains(&t.as_str()));
    let pq = crate::pagination::PageQuery { limit: Some(50), cursor: q.cursor };
    let before = pq.after().map_err(fail(&state, &caller))?;
    let filter = audit::AuditFilter { entity_type: entity_type.clone(), before, ..Default::default() };
    let rows = audit::list(&state.db, caller.principal.viewer(), &filter, 51)
        .await
        .map_err(|e| fail(&state, &caller)(e.into()))?;
    let page = crate::pagination::page(rows, 50, |e| e.id);
    let tz = caller.principal.time_zone.as_str();
    let entries = page
        .items
        .into_iter()
        .map(|e| AuditRow {
            at: show_time(e.at, tz),
            actor: e.actor_label,
            action_key: format!("action.{}", e.action),
            entity_key: format!("entity.{}", e.entity_type),
            // The id's last 8 characters: enough to tell records apart at a glance.
            entity_short: e.entity_id.simple().to_string().split_off(24),
            changes: e
                .changes
                .as_object()
                .map(|o| {
                    o.iter().map(|(k, v)| (k.clone(), show_value(&v["before"]), show_value(&v["after"]))).collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    let type_options = ENTITY_TYPES.iter().map(|t| (*t, entity_key(t), entity_type.as_deref() == Some(*t))).collect();
    let page = AuditPage {
        chrome: Chrome::new(&state, &caller, "/settings", "settings.audit"),
        section: "audit",
        notice: None,
        errors: Vec::new(),
        entries,
        type_options,
        entity_type,
        next_cursor: page.next_cursor,
    };
    Ok(render(&page))
}

fn entity_key(t: &str) -> &'static str {
    match t {
        "user" => "entity.user",
        "team" => "entity.team",
        "role" => "entity.role",
        "workspace" => "entity.workspace",
        _ => "entity.api_token",
    }
}
