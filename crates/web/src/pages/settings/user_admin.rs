//! 设置 → 用户 (admins): users, one user's page, disabling.

use super::*;

pub(super) struct UserRow {
    id: UserId,
    name: String,
    email: String,
    role_key: &'static str,
    team: String,
    disabled: bool,
    created: String,
}

#[derive(Default, Deserialize)]
pub(super) struct UserForm {
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
pub(super) struct UsersPage<'a> {
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

pub(super) fn role_options(selected: Option<Role>) -> Vec<(&'static str, &'static str, bool)> {
    Role::ALL.iter().map(|r| (r.as_str(), role_key(*r), Some(*r) == selected)).collect()
}

pub(super) async fn team_options(
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
pub(super) fn tree(list: &[teams::Team]) -> Vec<(&teams::Team, usize)> {
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
pub(super) struct UsersQuery {
    #[serde(default)]
    ok: Option<String>,
    #[serde(default)]
    include_disabled: Option<bool>,
}

pub(super) async fn users_page_with(
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

pub(super) async fn users_page(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Query(q): Query<UsersQuery>,
) -> PageResult {
    users_page_with(&state, &caller, q, Vec::new(), UserForm::default()).await
}

pub(super) async fn create_user(
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
pub(super) struct UserEditPage<'a> {
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

pub(super) async fn user_page_with(
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

pub(super) async fn user_page(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
    Query(n): Query<Notice>,
) -> PageResult {
    user_page_with(&state, &caller, UserId::from_uuid(id), n.key(), Vec::new()).await
}

pub(super) async fn save_user(
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

pub(super) async fn set_disabled(
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
