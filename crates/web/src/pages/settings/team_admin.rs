//! 设置 → 团队 (admins): the team tree and one team's page.

use super::*;

pub(super) struct TeamRow {
    id: TeamId,
    name: String,
    indent: String,
    manager: String,
    members: i64,
}

#[derive(Template)]
#[template(path = "settings_teams.html")]
pub(super) struct TeamsPage<'a> {
    chrome: Chrome<'a>,
    section: &'static str,
    notice: Option<&'static str>,
    errors: Vec<String>,
    teams: Vec<TeamRow>,
    parent_options: Vec<(String, String, bool)>,
    manager_options: Vec<(String, String, bool)>,
}

pub(super) async fn manager_options(
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

pub(super) async fn teams_page_with(
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

pub(super) async fn teams_page(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Query(n): Query<Notice>,
) -> PageResult {
    teams_page_with(&state, &caller, n.key(), Vec::new()).await
}

#[derive(Debug, Deserialize)]
pub(super) struct TeamForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    parent_id: String,
    #[serde(default)]
    manager_id: String,
}

pub(super) async fn create_team(
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
pub(super) struct TeamEditPage<'a> {
    chrome: Chrome<'a>,
    section: &'static str,
    notice: Option<&'static str>,
    errors: Vec<String>,
    id: TeamId,
    name: String,
    parent_options: Vec<(String, String, bool)>,
    manager_options: Vec<(String, String, bool)>,
}

pub(super) async fn team_page_with(
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

pub(super) async fn team_page(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
    Query(n): Query<Notice>,
) -> PageResult {
    team_page_with(&state, &caller, TeamId::from_uuid(id), n.key(), Vec::new()).await
}

pub(super) async fn save_team(
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

pub(super) async fn delete_team(
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
