//! 设置 → 角色与数据权限 (admins): each role's data scope.

use super::*;

pub(super) struct RoleRow {
    role: &'static str,
    role_key: &'static str,
    locked: bool,
    options: Vec<(&'static str, &'static str, bool)>,
}

#[derive(Template)]
#[template(path = "settings_roles.html")]
pub(super) struct RolesPage<'a> {
    chrome: Chrome<'a>,
    section: &'static str,
    notice: Option<&'static str>,
    errors: Vec<String>,
    roles: Vec<RoleRow>,
}

pub(super) async fn roles_page_with(
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

pub(super) async fn roles_page(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Query(n): Query<Notice>,
) -> PageResult {
    roles_page_with(&state, &caller, n.key(), Vec::new()).await
}

#[derive(Debug, Deserialize)]
pub(super) struct RolesForm {
    manager: Option<String>,
    sales: Option<String>,
    service: Option<String>,
}

pub(super) async fn save_roles(
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
