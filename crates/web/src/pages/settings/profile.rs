//! 设置 → 个人资料: the profile and the password.

use super::*;

#[derive(Template)]
#[template(path = "settings_profile.html")]
pub(super) struct ProfilePage<'a> {
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

pub(super) async fn profile_page(
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

pub(super) async fn profile(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Query(n): Query<Notice>,
) -> PageResult {
    profile_page(&state, &caller, n.key(), Vec::new()).await
}

#[derive(Debug, Deserialize)]
pub(super) struct ProfileForm {
    display_name: String,
    locale: String,
}

pub(super) async fn save_profile(
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
pub(super) struct PasswordForm {
    current_password: String,
    new_password: String,
}

pub(super) async fn save_password(
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
