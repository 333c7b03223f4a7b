//! 设置 → API 令牌: the caller's API tokens.

use super::*;

pub(super) struct TokenRow {
    id: TokenId,
    name: String,
    prefix: String,
    created: String,
    last_used: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "settings_tokens.html")]
pub(super) struct TokensPage<'a> {
    chrome: Chrome<'a>,
    section: &'static str,
    notice: Option<&'static str>,
    errors: Vec<String>,
    secret: Option<String>,
    tokens: Vec<TokenRow>,
}

pub(super) async fn tokens_page(
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

pub(super) async fn tokens(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Query(n): Query<Notice>,
) -> PageResult {
    tokens_page(&state, &caller, n.key(), Vec::new(), None).await
}

#[derive(Debug, Deserialize)]
pub(super) struct TokenForm {
    name: String,
}

pub(super) async fn create_token(
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

pub(super) async fn revoke_token(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> PageResult {
    let _revoked = me::revoke_token(State(state.clone()), caller.clone(), crate::json::ApiPath(id))
        .await
        .map_err(fail(&state, &caller))?;
    Ok(Redirect::to("/settings/tokens?ok=1").into_response())
}
