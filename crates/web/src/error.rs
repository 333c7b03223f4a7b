//! The one error type of the HTTP edge. Every variant has its status and a
//! stable snake_case `code`; responses are `application/problem+json`.
//! Internal causes are logged with the request id, never echoed.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use guanxi_domain::{FieldError, Refusal};
use serde::Serialize;

/// An API failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or unknown credentials.
    #[error("authentication required")]
    Unauthorized,
    /// Wrong e-mail or password.
    #[error("wrong e-mail or password")]
    InvalidCredentials,
    /// The account exists but is disabled.
    #[error("account disabled")]
    AccountDisabled,
    /// Authenticated but not allowed.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// A cookie-authenticated change without the right CSRF token.
    #[error("csrf token missing or wrong")]
    Csrf,
    /// Missing, or outside the caller's view.
    #[error("not found")]
    NotFound,
    /// The body is not JSON, or not the JSON expected.
    #[error("malformed request: {detail}")]
    BadRequest {
        /// Stable code.
        code: &'static str,
        /// What is wrong.
        detail: String,
        /// Offending fields, when known.
        errors: Vec<FieldError>,
    },
    /// Fields failed validation.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// A uniqueness or state rule.
    #[error("conflict: {detail}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// What collides.
        detail: String,
        /// Offending fields.
        errors: Vec<FieldError>,
    },
    /// The record would duplicate existing ones (查重).
    #[error("duplicate")]
    Duplicate {
        /// Stable code: `duplicate_account`, `duplicate_contact`.
        code: &'static str,
        /// The existing records and why they match.
        candidates: serde_json::Value,
    },
    /// An ownership rule of the pool (公海) refused the change.
    #[error("refused: {0}")]
    Refused(guanxi_domain::Refusal),
    /// Too many failed logins.
    #[error("too many attempts")]
    TooManyAttempts {
        /// Seconds until the lock ends.
        retry_after: i64,
    },
    /// Body too large.
    #[error("payload too large")]
    PayloadTooLarge,
    /// Not `application/json`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// The database is unreachable.
    #[error("service unavailable")]
    Unavailable,
    /// Anything else: logged, answered with a generic message.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The problem document (RFC 9457) with Guanxi's `code` and field errors.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short summary.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// Stable snake_case code clients branch on.
    pub code: String,
    /// What went wrong and what to do, for a person.
    pub detail: String,
    /// Field errors, for validation failures.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For `owned_by_other`: the owned account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<guanxi_domain::AccountId>,
    /// For `owned_by_other`: who owns it (ask them, or their manager, for a transfer);
    /// for `registered_by_other`: who registered it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_name: Option<String>,
    /// For `claim_cooldown`: from when the claim is possible again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// For `duplicate_*` conflicts: the existing records, with `score` and `reasons`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub candidates: Option<serde_json::Value>,
}

impl ApiError {
    /// A single-field validation error.
    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, code, message)])
    }

    /// Status, code and a message a person can act on.
    pub fn parts(&self) -> (StatusCode, &'static str, String) {
        use ApiError::*;
        match self {
            Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Log in, or send an API token as `Authorization: Bearer <token>`.".into(),
            ),
            InvalidCredentials => {
                (StatusCode::UNAUTHORIZED, "invalid_credentials", "The e-mail or password is wrong.".into())
            }
            AccountDisabled => (
                StatusCode::FORBIDDEN,
                "account_disabled",
                "This account is disabled; ask an administrator to enable it.".into(),
            ),
            Forbidden(what) => (StatusCode::FORBIDDEN, "forbidden", format!("Your role may not {what}.")),
            Csrf => (
                StatusCode::FORBIDDEN,
                "csrf_failed",
                "The form has expired or did not come from Guanxi; reload the page and try again.".into(),
            ),
            NotFound => {
                (StatusCode::NOT_FOUND, "not_found", "No such record, or it is outside what you may see.".into())
            }
            BadRequest { code, detail, .. } => (StatusCode::BAD_REQUEST, code, detail.clone()),
            Validation(errors) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "),
            ),
            Conflict { code, detail, .. } => (StatusCode::CONFLICT, code, detail.clone()),
            Duplicate { code, .. } => (
                StatusCode::CONFLICT,
                code,
                "This organisation seems to exist already (see candidates): open or merge it, or send \"force\": true with a \"force_reason\".".into(),
            ),
            Refused(r) => refusal(r),
            TooManyAttempts { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                format!("Too many failed logins; try again in {} minutes.", (retry_after + 59) / 60),
            ),
            PayloadTooLarge => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "The request body is too large.".into())
            }
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send the body as JSON with `Content-Type: application/json`.".into(),
            ),
            Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "The database cannot be reached; try again shortly.".into(),
            ),
            Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Something went wrong on our side; it has been logged.".into(),
            ),
        }
    }

    fn errors(&self) -> Vec<FieldError> {
        match self {
            ApiError::Validation(e) | ApiError::BadRequest { errors: e, .. } | ApiError::Conflict { errors: e, .. } => {
                e.clone()
            }
            _ => Vec::new(),
        }
    }

    /// The problem document of this error.
    pub fn problem(&self) -> Problem {
        let (status, code, detail) = self.parts();
        Problem {
            type_uri: format!("/docs/api#problem-{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            code: code.to_owned(),
            detail,
            errors: self.errors(),
            candidates: match self {
                ApiError::Duplicate { candidates, .. } => Some(candidates.clone()),
                _ => None,
            },
            account_id: match self {
                ApiError::Refused(Refusal::OwnedByOther { account_id, .. })
                | ApiError::Refused(Refusal::RegisteredByOther { account_id, .. }) => Some(*account_id),
                _ => None,
            },
            owner_name: match self {
                ApiError::Refused(Refusal::OwnedByOther { owner_name, .. })
                | ApiError::Refused(Refusal::RegisteredByOther { requester_name: owner_name, .. }) => {
                    Some(owner_name.clone())
                }
                _ => None,
            },
            until: match self {
                ApiError::Refused(Refusal::Cooldown { until }) => Some(*until),
                _ => None,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "internal error");
        }
        let problem = self.problem();
        let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut res = (status, body).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let ApiError::TooManyAttempts { retry_after } = self {
            if let Ok(v) = HeaderValue::from_str(&retry_after.max(1).to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if let ApiError::Unauthorized = self {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

/// A record a request names (`account_id`, `duplicate_id`…) that is not
/// there for the caller is a 422 naming the field; any other failure (the
/// database unreachable, say) stays what it is, never a field error.
pub(crate) fn unknown_reference(
    field: &'static str,
    message: &'static str,
) -> impl FnOnce(guanxi_store::Error) -> ApiError {
    move |e| match e {
        guanxi_store::Error::NotFound => ApiError::field(field, "invalid", message),
        other => other.into(),
    }
}

impl From<guanxi_store::Error> for ApiError {
    fn from(e: guanxi_store::Error) -> Self {
        use guanxi_store::Error as E;
        match e {
            E::NotFound => ApiError::NotFound,
            E::Invalid(field, message) => ApiError::field(field, "invalid", format!("{field} {message}")),
            E::Conflict(rule) => conflict(&rule),
            E::Refused(r) => ApiError::Refused(r),
            E::Unavailable(cause) => {
                tracing::warn!(%cause, "database unavailable");
                ApiError::Unavailable
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// Status, code and message of each ownership refusal.
fn refusal(r: &Refusal) -> (StatusCode, &'static str, String) {
    use Refusal::*;
    match r {
        OwnedByOther { account_name, owner_name, .. } => (
            StatusCode::CONFLICT,
            "owned_by_other",
            format!("{account_name} is owned by {owner_name}. Nobody works an account someone else owns: ask for a transfer instead."),
        ),
        AlreadyYours => (StatusCode::CONFLICT, "already_owned", "You own this account already.".into()),
        NotInPool => (
            StatusCode::CONFLICT,
            "not_in_pool",
            "This account is not in a pool (公海) you belong to, so it cannot be claimed.".into(),
        ),
        Cooldown { until } => (
            StatusCode::CONFLICT,
            "claim_cooldown",
            format!("You returned this account recently; you may claim it again from {}.", until.format("%Y-%m-%d %H:%M UTC")),
        ),
        DailyClaims { limit } => (
            StatusCode::CONFLICT,
            "daily_claim_limit",
            format!("You have made {limit} claims today, the most this pool allows; claim more tomorrow."),
        ),
        OwnershipLimit { user_name, limit } => (
            StatusCode::CONFLICT,
            "ownership_limit",
            format!("{user_name} already owns {limit} accounts of this pool, the most it allows; release one first."),
        ),
        NotOwner => (
            StatusCode::FORBIDDEN,
            "not_owner",
            "Only the account's owner, or a manager who may see it, may release it.".into(),
        ),
        RegisteredByOther { account_name, requester_name, .. } => (
            StatusCode::CONFLICT,
            "registered_by_other",
            format!("{requester_name} has registered (报备) {account_name}; a manager is deciding. It cannot be entered or claimed meanwhile."),
        ),
        OwnDecision => (StatusCode::FORBIDDEN, "own_request", "Nobody decides their own request; another manager or an admin does.".into()),
        NotPending => (StatusCode::CONFLICT, "not_pending", "This request has been decided already, or it lapsed.".into()),
        NotDecider => (
            StatusCode::FORBIDDEN,
            "not_decider",
            "Only an admin, or a manager of the requester's team (报备) or of the current owner's team (转移), decides this request.".into(),
        ),
        OwnerChanged => (
            StatusCode::CONFLICT,
            "owner_changed",
            "The account changed hands since the request was made; ask again if it is still wanted.".into(),
        ),
    }
}

/// Turns a broken uniqueness rule into a stable code naming the field.
fn conflict(rule: &str) -> ApiError {
    let (code, field, detail) = if rule.contains("users_email") || rule.contains("users.email") {
        ("email_taken", "email", "A user with this e-mail already exists.")
    } else if rule.contains("teams_name") || rule.contains("teams.name") || rule.contains("teams.workspace_id") {
        ("team_name_taken", "name", "A team with this name already exists.")
    } else if guanxi_store::accounts::is_uscc_taken(rule) {
        (
            "uscc_taken",
            "uscc",
            "Another live account has this USCC (统一社会信用代码): it is the same organisation; merge them instead.",
        )
    } else if rule.starts_with("merged") {
        ("merged", "id", "The record was merged into another; open that one instead.")
    } else if rule == "task_closed" {
        ("task_closed", "id", "The task is done or cancelled already.")
    } else if rule == "in_pool" {
        ("in_pool", "account_id", "The account is in the pool: claim it instead of asking for it.")
    } else if rule == "request_pending" {
        ("request_pending", "account_id", "You have asked for this account already; a manager is deciding.")
    } else if rule.starts_with("account_deleted") {
        ("account_deleted", "account_id", "The account is in the recycle bin: restore the account first.")
    } else if rule == "team_not_empty" {
        ("team_not_empty", "id", "The team still has members or sub-teams; move them first.")
    } else {
        ("conflict", "", "The change conflicts with existing data.")
    };
    let errors = if field.is_empty() { Vec::new() } else { vec![FieldError::new(field, code, detail)] };
    ApiError::Conflict { code, detail: detail.to_owned(), errors }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::Validation(vec![e])
    }
}

/// Results of handlers.
pub type ApiResult<T> = Result<T, ApiError>;
