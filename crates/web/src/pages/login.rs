//! The login page and logout.

use super::render;
use crate::auth::secure_cookies;
use crate::auth::{
    client_ip, login, peer, removal_cookie, session_cookie, Caller, LoginFailure, LOGIN_CSRF_COOKIE, SESSION_COOKIE,
};
use crate::i18n::Tr;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use guanxi_domain::Locale;
use guanxi_store::secret;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    tr: Tr<'a>,
    csrf: String,
    next: String,
    email: String,
    error: Option<&'static str>,
    other_lang: &'static str,
}

/// Query of the login page.
#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    lang: Option<String>,
}

/// Only this site's own paths: never an open redirect to another site.
/// Browsers drop tabs and line breaks from a URL and read a backslash as `/`, so
/// `/\t/evil.example` would become `//evil.example`: a path of visible ASCII
/// (what a URI's path and query are once percent-encoded), starting with one
/// `/`, without a backslash, is kept; anything else goes to the home page.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/') && !n.starts_with("//") && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            n.to_owned()
        }
        _ => "/workbench".to_owned(),
    }
}

fn locale_of(lang: Option<&str>, headers: &axum::http::HeaderMap) -> Locale {
    lang.and_then(Locale::parse).unwrap_or_else(|| {
        Locale::from_accept_language(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or(""))
    })
}

fn page(
    state: &AppState,
    locale: Locale,
    csrf: String,
    next: String,
    email: String,
    error: Option<&'static str>,
) -> Response {
    let other_lang = if locale == Locale::ZhCn { "en" } else { "zh-CN" };
    render(&LoginPage { tr: Tr::new(&state.i18n, locale), csrf, next, email, error, other_lang })
}

/// `GET /login`.
pub async fn show(
    State(state): State<AppState>,
    caller: Option<axum::Extension<Caller>>,
    jar: CookieJar,
    headers: axum::http::HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    if caller.is_some() {
        return Redirect::to(&next).into_response();
    }
    let locale = locale_of(q.lang.as_deref(), &headers);
    let csrf = jar.get(LOGIN_CSRF_COOKIE).map(|c| c.value().to_owned()).unwrap_or_else(|| secret::new_secret("gxl_"));
    let cookie = Cookie::build((LOGIN_CSRF_COOKIE, csrf.clone()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure_cookies(&state, &headers))
        .path("/login")
        .build();
    (jar.add(cookie), page(&state, locale, csrf, next, String::new(), None)).into_response()
}

/// The login form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

/// `POST /login` (the middleware has checked the double-submit CSRF token).
pub async fn submit(State(state): State<AppState>, req: Request) -> Response {
    let ip = client_ip(&state, req.headers(), peer(req.extensions()));
    let jar = CookieJar::from_headers(req.headers());
    let headers = req.headers().clone();
    let form = match <Form<LoginForm> as axum::extract::FromRequest<AppState>>::from_request(req, &state).await {
        Ok(Form(f)) => f,
        Err(rejection) => return rejection.into_response(),
    };
    let next = safe_next(form.next.as_deref());
    let locale = locale_of(form.lang.as_deref(), &headers);
    match login(&state, &form.email, &form.password, &ip).await {
        Ok(session) => {
            let jar = jar
                .add(session_cookie(session.secret, secure_cookies(&state, &headers)))
                .add(removal_cookie_at(LOGIN_CSRF_COOKIE, "/login"));
            (jar, Redirect::to(&next)).into_response()
        }
        Err(failure) => {
            let (status, key) = match failure {
                LoginFailure::Invalid => (StatusCode::UNAUTHORIZED, "login.failed"),
                LoginFailure::Disabled => (StatusCode::FORBIDDEN, "login.disabled"),
                LoginFailure::Locked(_) => (StatusCode::TOO_MANY_REQUESTS, "login.locked"),
                LoginFailure::Error(e) => return super::PageError::from_api(e, &state, None).into_response(),
            };
            let mut res = page(&state, locale, form.csrf, next, form.email, Some(key));
            *res.status_mut() = status;
            res
        }
    }
}

fn removal_cookie_at(name: &'static str, path: &'static str) -> Cookie<'static> {
    let mut c = removal_cookie(name);
    c.set_path(path);
    c
}

/// `POST /logout`.
pub async fn logout(
    State(state): State<AppState>,
    caller: Option<axum::Extension<Caller>>,
    jar: CookieJar,
) -> Response {
    if let Some(axum::Extension(c)) = caller {
        if let Some(secret_value) = c.session_secret() {
            if let Err(e) = guanxi_store::auth::delete_session(&state.db, secret_value).await {
                return super::PageError::from_api(e.into(), &state, Some(c)).into_response();
            }
        }
    }
    (jar.add(removal_cookie(SESSION_COOKIE)), Redirect::to("/login")).into_response()
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/settings/users")), "/settings/users");
        assert_eq!(safe_next(Some("//evil.example/")), "/workbench");
        assert_eq!(safe_next(Some("https://evil.example/")), "/workbench");
        assert_eq!(safe_next(Some("/\\evil.example")), "/workbench");
        assert_eq!(safe_next(None), "/workbench");
        assert_eq!(safe_next(Some("/\t/evil.example")), "/workbench");
        assert_eq!(safe_next(Some("/\r\nSet-Cookie: a=b")), "/workbench");
        assert_eq!(safe_next(Some("/ /evil.example")), "/workbench");
        assert_eq!(safe_next(Some("/accounts?q=%E5%8D%8E&tab=history")), "/accounts?q=%E5%8D%8E&tab=history");
    }
}
