//! Server-rendered pages: one template struct per page, rendered with askama
//! (compiled into the binary). Every page shares the [`Chrome`]: navigation,
//! the user, the CSRF token, the translator.

pub mod accounts;
mod activities;
pub mod contacts;
pub mod docs;
mod imports;
pub mod login;
mod opportunities;
mod pool;
mod purchases;
mod search;
pub mod settings;
mod settings_notify;
mod settings_pool;
mod settings_scripts;
mod tasks;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::i18n::Tr;
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use guanxi_domain::{FieldError, Locale};

/// The page routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/workbench") }))
        .route("/login", get(login::show).post(login::submit))
        .route("/logout", post(login::logout))
        .merge(settings::router())
        .merge(settings_pool::router())
        .merge(settings_notify::router())
        .merge(settings_scripts::router())
        .merge(purchases::router())
        .merge(tasks::router())
        .merge(accounts::router())
        .merge(contacts::router())
        .merge(opportunities::router())
        .merge(pool::router())
        .merge(activities::router())
        .merge(imports::router())
        .route("/search", get(search::show))
        .route("/docs/api", get(docs::show))
        .route(
            "/static/app.css",
            get(|| async { asset("text/css; charset=utf-8", include_str!("../../assets/app.css")) }),
        )
        .route(
            "/static/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", include_str!("../../assets/app.js")) }),
        )
        .fallback(|State(state): State<AppState>, caller: Option<axum::Extension<Caller>>| async move {
            PageError::from_api(ApiError::NotFound, &state, caller.map(|c| c.0)).into_response()
        })
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

/// One entry of the main navigation.
pub struct NavItem {
    /// Target.
    pub href: &'static str,
    /// i18n key of the label.
    pub key: &'static str,
    /// Whether this is the current section.
    pub active: bool,
}

const NAV: [(&str, &str); 8] = [
    ("/workbench", "nav.workbench"),
    ("/accounts", "nav.accounts"),
    ("/contacts", "nav.contacts"),
    ("/opportunities", "nav.opportunities"),
    ("/pool", "nav.pool"),
    ("/activities", "nav.activities"),
    ("/stats", "nav.stats"),
    ("/settings", "nav.settings"),
];

/// What every signed-in page shows around its content.
pub struct Chrome<'a> {
    /// Translator in the user's language.
    pub tr: Tr<'a>,
    /// The page title.
    pub title: String,
    /// The user's name.
    pub user_name: String,
    /// Whether to show admin settings.
    pub is_admin: bool,
    /// Whether the user manages (managers and admins: pool rules, approvals).
    pub is_manager: bool,
    /// Whether the user changes sales records (客服 does not: no edit,
    /// delete, merge, claim or new-record buttons for them).
    pub writes_sales: bool,
    /// The session's CSRF token for forms.
    pub csrf: String,
    /// The main navigation.
    pub nav: Vec<NavItem>,
}

impl<'a> Chrome<'a> {
    /// The chrome of a page in section `active` (a path such as `/settings`).
    pub fn new(state: &'a AppState, caller: &Caller, active: &str, title_key: &str) -> Self {
        let tr = Tr::new(&state.i18n, caller.principal.locale);
        Chrome {
            tr,
            title: state.i18n.text(caller.principal.locale, title_key).to_owned(),
            user_name: caller.principal.display_name.clone(),
            is_admin: caller.principal.role.is_admin(),
            is_manager: matches!(caller.principal.role, guanxi_domain::Role::Admin | guanxi_domain::Role::Manager),
            writes_sales: caller.principal.role.writes_sales_records(),
            csrf: caller.csrf().to_owned(),
            nav: NAV.iter().map(|(href, key)| NavItem { href, key, active: *href == active }).collect(),
        }
    }
}

/// Renders a template, or a plain 500 if the template itself fails.
pub fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    chrome: Chrome<'a>,
    status: u16,
    message: &'static str,
}

/// A failed page: rendered inside the chrome when the user is known.
pub struct PageError {
    status: StatusCode,
    body: Box<Response>,
}

impl PageError {
    /// Renders an API error as a page.
    pub fn from_api(e: ApiError, state: &AppState, caller: Option<Caller>) -> Self {
        // A page's address with a malformed id names no page: "not found".
        let e = match e {
            ApiError::Validation(errors) if errors.len() == 1 && errors[0].code == crate::json::MALFORMED => {
                ApiError::NotFound
            }
            e => e,
        };
        let (status, code, _) = e.parts();
        if let ApiError::Internal(cause) = &e {
            tracing::error!(%cause, "internal error on a page");
        }
        let message = match code {
            "not_found" => "error.not_found",
            "forbidden" => "error.forbidden",
            "csrf_failed" => "error.csrf",
            "database_unavailable" => "error.unavailable",
            _ => "error.internal",
        };
        let body = match caller {
            Some(c) => {
                let chrome = Chrome::new(state, &c, "", "error.heading");
                render(&ErrorPage { chrome, status: status.as_u16(), message })
            }
            None => {
                Html(format!("<!doctype html><title>{status}</title><p>{}</p>", state.i18n.text(Locale::ZhCn, message)))
                    .into_response()
            }
        };
        PageError { status, body: Box::new(body) }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut res = *self.body;
        *res.status_mut() = self.status;
        res
    }
}

/// Turns an API error into the page that shows it, for `map_err`.
pub fn fail<'a>(state: &'a AppState, caller: &Caller) -> impl Fn(ApiError) -> PageError + 'a {
    let caller = caller.clone();
    move |e| PageError::from_api(e, state, Some(caller.clone()))
}

/// A field error in the user's language: "邮箱：格式不正确".
pub fn describe(tr: Tr<'_>, e: &FieldError) -> String {
    // List items are named `phones[2]`: shown as "电话 3".
    let (name, item) = match e.field.split_once('[') {
        Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok().map(|i| i + 1)),
        None => (e.field.as_str(), None),
    };
    let field_key = format!("fields.{name}");
    let code_key = format!("errors.{}", e.code);
    let field = tr.t(&field_key);
    let field = if field == field_key { name.to_owned() } else { field.to_owned() };
    let field = match item {
        Some(i) => format!("{field} {i}"),
        None => field,
    };
    let reason = tr.t(&code_key);
    let reason = if reason == code_key { e.message.as_str() } else { reason };
    match tr.locale {
        Locale::ZhCn => format!("{field}：{reason}"),
        Locale::En => format!("{field}: {reason}"),
    }
}

/// Splits a failed form submission into messages to show on the form again,
/// or an error page for anything that is not the user's input.
pub fn form_errors(tr: Tr<'_>, e: ApiError) -> Result<Vec<String>, ApiError> {
    match e {
        ApiError::Validation(errors) | ApiError::Conflict { errors, .. } if !errors.is_empty() => {
            Ok(errors.iter().map(|fe| describe(tr, fe)).collect())
        }
        ApiError::Conflict { code, detail, .. } => {
            let key = format!("errors.{code}");
            let text = tr.t(&key);
            Ok(vec![if text == key { detail } else { text.to_owned() }])
        }
        other => Err(other),
    }
}

/// A time as the workspace shows it: 2026-11-22 14:30, in its time zone.
pub fn show_time(t: DateTime<Utc>, tz: &str) -> String {
    let zone: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    t.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string()
}

/// A missing value, shown the Chinese way.
pub const MISSING: &str = "--";
