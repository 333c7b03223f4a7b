//! Who is calling: one middleware resolves a bearer token or session cookie
//! into a [`Caller`] (one indexed query), enforces CSRF on cookie-authenticated
//! changes, and handlers take `Caller` (API, 401 without) or `PageCaller`
//! (pages, redirect to the login page without).

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use guanxi_store::auth::{self as store_auth, Principal};
use guanxi_store::secret;
use std::net::{IpAddr, SocketAddr};

/// The session cookie.
pub const SESSION_COOKIE: &str = "gx_session";
/// The pre-login CSRF cookie (double submit for the login form).
pub const LOGIN_CSRF_COOKIE: &str = "gx_login_csrf";
/// The form field carrying the CSRF token.
pub const CSRF_FIELD: &str = "_csrf";
/// The header carrying the CSRF token for scripts.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the caller authenticated.
#[derive(Clone, Debug)]
pub enum Via {
    /// A browser session cookie; `csrf` must accompany changes.
    Cookie {
        /// The session secret (to log out, or keep on password change).
        secret: String,
        /// The CSRF token.
        csrf: String,
    },
    /// `Authorization: Bearer` with a session secret from `POST /api/v1/auth/login`.
    BearerSession {
        /// The session secret.
        secret: String,
    },
    /// `Authorization: Bearer` with an API token.
    Token,
}

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The user and their scope.
    pub principal: Principal,
    /// How they authenticated.
    pub via: Via,
    /// The request id, for the audit log.
    pub request_id: Option<String>,
}

impl Caller {
    /// The actor for audited writes.
    pub fn actor(&self) -> guanxi_store::Actor {
        self.principal.actor(self.request_id.clone())
    }

    /// Fails unless the caller is an admin.
    pub fn require_admin(&self, what: &'static str) -> Result<(), ApiError> {
        if self.principal.role.is_admin() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(what))
        }
    }

    /// 403 unless the caller's role changes sales records (`Role::writes_sales_records`).
    pub fn require_sales_writer(&self) -> Result<(), ApiError> {
        if self.principal.role.writes_sales_records() {
            Ok(())
        } else {
            Err(ApiError::Forbidden("change accounts, contacts, deals or their owners"))
        }
    }

    /// The session secret behind this caller, if it came through a session.
    pub fn session_secret(&self) -> Option<&str> {
        match &self.via {
            Via::Cookie { secret, .. } | Via::BearerSession { secret } => Some(secret),
            Via::Token => None,
        }
    }

    /// The CSRF token to put in forms.
    pub fn csrf(&self) -> &str {
        match &self.via {
            Via::Cookie { csrf, .. } => csrf,
            _ => "",
        }
    }
}

/// The request id set by the request-id layer.
pub fn request_id(parts: &axum::http::HeaderMap) -> Option<String> {
    parts.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// The client's address, from the load balancer when it is trusted.
pub fn client_ip(state: &AppState, req_headers: &axum::http::HeaderMap, peer: Option<SocketAddr>) -> String {
    if state.config.trust_proxy {
        if let Some(ip) = req_headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
        {
            return ip.to_string();
        }
    }
    peer.map(|p| p.ip().to_string()).unwrap_or_else(|| "unknown".into())
}

/// Resolves credentials, then checks CSRF for cookie-authenticated changes.
pub async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    match resolve(&state, req).await {
        Ok(req) => next.run(req).await,
        Err(e) if is_api => e.into_response(),
        // A browser gets a page it can read ("the form has expired"), not JSON.
        Err(e) => crate::pages::PageError::from_api(e, &state, None).into_response(),
    }
}

async fn resolve(state: &AppState, mut req: Request) -> Result<Request, ApiError> {
    let now = state.clock.now();
    let request_id = request_id(req.headers());
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|v| v.trim().to_owned());
    let caller = if let Some(bearer) = bearer {
        // A bad bearer is an error even where anonymous access is allowed: a
        // script with a revoked token must hear so, not get a login page.
        let caller = if bearer.starts_with("gxs_") {
            store_auth::session(&state.db, &bearer, now).await?.map(|s| Caller {
                principal: s.principal,
                via: Via::BearerSession { secret: bearer.clone() },
                request_id: request_id.clone(),
            })
        } else {
            store_auth::token(&state.db, &bearer, now).await?.map(|(p, _)| Caller {
                principal: p,
                via: Via::Token,
                request_id: request_id.clone(),
            })
        };
        Some(caller.ok_or(ApiError::Unauthorized)?)
    } else {
        let jar = CookieJar::from_headers(req.headers());
        match jar.get(SESSION_COOKIE).map(|c| c.value().to_owned()) {
            Some(secret_value) => store_auth::session(&state.db, &secret_value, now).await?.map(|s| Caller {
                principal: s.principal,
                via: Via::Cookie { secret: secret_value, csrf: s.csrf_token },
                request_id: request_id.clone(),
            }),
            None => None,
        }
    };
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method {
        let expected = match &caller {
            Some(Caller { via: Via::Cookie { csrf, .. }, .. }) => Some(csrf.clone()),
            Some(_) => None,
            // Without a session only the login form changes anything: it carries a double-submit token.
            None if req.uri().path() == "/login" => Some(
                CookieJar::from_headers(req.headers())
                    .get(LOGIN_CSRF_COOKIE)
                    .map(|c| c.value().to_owned())
                    .ok_or(ApiError::Csrf)?,
            ),
            None => None,
        };
        if let Some(expected) = expected {
            req = check_csrf(req, &expected).await?;
        }
    }
    if let Some(c) = caller {
        req.extensions_mut().insert(c);
    }
    Ok(req)
}

/// Whether a request's body is an HTML form (`application/x-www-form-urlencoded`).
pub(crate) fn is_form(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"))
}

/// Accepts the token from the header, or from the `_csrf` field of a form body
/// (which is read and put back for the handler).
async fn check_csrf(req: Request, expected: &str) -> Result<Request, ApiError> {
    if let Some(h) = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return if secret::constant_time_eq(h, expected) { Ok(req) } else { Err(ApiError::Csrf) };
    }
    if !is_form(req.headers()) {
        return Err(ApiError::Csrf);
    }
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, crate::FORM_LIMIT).await.map_err(|_| ApiError::PayloadTooLarge)?;
    let ok = form_urlencoded::parse(&bytes).any(|(k, v)| k == CSRF_FIELD && secret::constant_time_eq(&v, expected));
    if !ok {
        return Err(ApiError::Csrf);
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts.extensions.get::<Caller>().cloned().ok_or(ApiError::Unauthorized)
    }
}

/// A caller of a page: without a session, the browser is sent to log in.
pub struct PageCaller(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for PageCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        match parts.extensions.get::<Caller>() {
            Some(c) => Ok(PageCaller(c.clone())),
            None => {
                let next = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
                let target =
                    format!("/login?next={}", form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>());
                Err(Redirect::to(&target).into_response())
            }
        }
    }
}

/// The peer address, when the server was started with connect info.
pub fn peer(parts: &axum::http::Extensions) -> Option<SocketAddr> {
    parts.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)
}

/// Whether cookies must be `Secure`: configured so, or a trusted proxy in
/// front says the browser came over https.
pub fn secure_cookies(state: &AppState, headers: &axum::http::HeaderMap) -> bool {
    state.config.secure_cookies
        || (state.config.trust_proxy
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|p| p.eq_ignore_ascii_case("https")))
}

/// A session cookie for a new session.
pub fn session_cookie(secret_value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, secret_value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .path("/")
        .max_age(time_of(store_auth::SESSION_IDLE))
        .build()
}

/// The cookie that removes the session cookie.
pub fn removal_cookie(name: &'static str) -> Cookie<'static> {
    Cookie::build((name, "")).path("/").max_age(cookie::time::Duration::ZERO).build()
}

fn time_of(d: chrono::Duration) -> cookie::time::Duration {
    cookie::time::Duration::seconds(d.num_seconds())
}

/// Why a login failed, for both the API and the login page.
pub enum LoginFailure {
    /// Wrong e-mail or password.
    Invalid,
    /// Disabled account.
    Disabled,
    /// Throttled.
    Locked(i64),
    /// Storage failed.
    Error(ApiError),
}

impl From<LoginFailure> for ApiError {
    fn from(f: LoginFailure) -> Self {
        match f {
            LoginFailure::Invalid => ApiError::InvalidCredentials,
            LoginFailure::Disabled => ApiError::AccountDisabled,
            LoginFailure::Locked(s) => ApiError::TooManyAttempts { retry_after: s },
            LoginFailure::Error(e) => e,
        }
    }
}

impl From<guanxi_store::Error> for LoginFailure {
    fn from(e: guanxi_store::Error) -> Self {
        LoginFailure::Error(e.into())
    }
}

/// Checks throttling and the password, then opens a session.
pub async fn login(
    state: &AppState,
    email: &str,
    password: &str,
    ip: &str,
) -> Result<store_auth::NewSession, LoginFailure> {
    let now = state.clock.now();
    let account_key = format!("email:{}", email.trim().to_lowercase());
    let ip_key = format!("ip:{ip}");
    // Each attempt is counted before its password is checked, so that
    // simultaneous guesses cannot all pass a check made before any counted.
    for (key, policy) in [(&account_key, store_auth::ACCOUNT_POLICY), (&ip_key, store_auth::IP_POLICY)] {
        if let store_auth::Attempt::Refused { until } = store_auth::take_attempt(&state.db, key, policy, now).await? {
            return Err(LoginFailure::Locked((until - now).num_seconds().max(1)));
        }
    }
    // One address may have an account in several workspaces: the password
    // says which (the oldest account it opens).
    let accounts = store_auth::login_accounts(&state.db, &email.trim().to_lowercase()).await?;
    let stored: Vec<String> = accounts.iter().map(|a| a.password_hash.clone()).collect();
    let password_owned = password.to_owned();
    // argon2id takes tens of milliseconds of CPU: keep it off the async workers.
    // An unknown address is checked against a dummy hash, as long as a known one.
    let opened = tokio::task::spawn_blocking(move || {
        if stored.is_empty() {
            let _ = secret::verify_password(&password_owned, None);
            return None;
        }
        stored.iter().position(|h| secret::verify_password(&password_owned, Some(h)))
    })
    .await
    .map_err(|e| LoginFailure::Error(ApiError::Internal(e.to_string())))?;
    let Some(account) = opened.and_then(|i| accounts.into_iter().nth(i)) else {
        // The attempt stays counted on both keys.
        return Err(LoginFailure::Invalid);
    };
    store_auth::clear_failures(&state.db, &account_key).await?;
    store_auth::refund(&state.db, &ip_key).await?;
    if account.disabled_at.is_some() {
        return Err(LoginFailure::Disabled);
    }
    Ok(store_auth::create_session(&state.db, account.id, account.workspace_id, now).await?)
}
