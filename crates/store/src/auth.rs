//! Authentication state: web sessions, API tokens and login throttling.
//!
//! Both sessions and tokens are random secrets looked up by their SHA-256, in
//! one indexed query that also loads the user, their role's data scope and
//! the workspace's time zone: everything a request needs to be authorised.

use crate::audit::{self, Action, Actor};
use crate::db::{Db, Sql, Tx};
use crate::secret;
use crate::{Error, Result};
use chrono::{DateTime, Duration, Utc};
use guanxi_domain::{DataScope, Locale, Role, Scope, TeamId, TokenId, UserId, WorkspaceId};
use serde::Serialize;

/// The authenticated user and what their role lets them see (`GET /api/v1/me`).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Principal {
    /// User id.
    #[serde(rename = "id")]
    pub user_id: UserId,
    /// Workspace.
    pub workspace_id: WorkspaceId,
    /// E-mail.
    pub email: String,
    /// Name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Team.
    pub team_id: Option<TeamId>,
    /// UI language.
    pub locale: Locale,
    /// The role's data scope in this workspace.
    pub data_scope: DataScope,
    /// The workspace's time zone.
    pub time_zone: String,
}

crate::from_row!(Principal {
    user_id,
    workspace_id,
    email,
    display_name,
    role,
    team_id,
    locale,
    data_scope,
    time_zone
});

impl Principal {
    /// The resolved scope every query of this caller is filtered by.
    pub fn scope(&self) -> Scope {
        Scope::resolve(self.data_scope, self.user_id, self.team_id)
    }

    /// The viewer for scoped queries.
    pub fn viewer(&self) -> crate::Viewer {
        crate::Viewer { workspace_id: self.workspace_id, scope: self.scope() }
    }

    /// The actor for audited writes.
    pub fn actor(&self, request_id: Option<String>) -> Actor {
        Actor { workspace_id: self.workspace_id, user_id: Some(self.user_id), label: self.email.clone(), request_id }
    }
}

const PRINCIPAL: &str = "u.id AS user_id, u.workspace_id, u.email, u.display_name, u.role, u.team_id, u.locale, \
     rs.data_scope, w.time_zone";
const PRINCIPAL_JOINS: &str = "JOIN users u ON u.id = s.user_id \
     JOIN role_scopes rs ON rs.workspace_id = u.workspace_id AND rs.role = u.role \
     JOIN workspaces w ON w.id = u.workspace_id";

/// How long a web session lives without use.
pub const SESSION_IDLE: Duration = Duration::days(14);
/// Session expiry is pushed forward at most this often (one write per hour, not per request).
const SESSION_TOUCH: Duration = Duration::hours(1);
/// Token use is recorded at most this often.
const TOKEN_TOUCH: Duration = Duration::minutes(10);

/// A session found by its secret.
#[derive(Clone, Debug)]
pub struct SessionAuth {
    /// The user.
    pub principal: Principal,
    /// The session's CSRF token, which forms must echo.
    pub csrf_token: String,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Last refresh of the expiry.
    pub last_seen_at: DateTime<Utc>,
}

impl crate::FromRow for SessionAuth {
    fn from_row(row: &crate::db::Row<'_>) -> Result<Self> {
        Ok(SessionAuth {
            principal: Principal::from_row(row)?,
            csrf_token: row.get("csrf_token")?,
            expires_at: row.get("expires_at")?,
            last_seen_at: row.get("last_seen_at")?,
        })
    }
}

/// A new session's secrets.
#[derive(Clone, Debug)]
pub struct NewSession {
    /// The cookie or bearer value (shown once, stored hashed).
    pub secret: String,
    /// The CSRF token of the session.
    pub csrf_token: String,
    /// When it expires unless used.
    pub expires_at: DateTime<Utc>,
}

/// Starts a session for a user.
pub async fn create_session(db: &Db, user: UserId, ws: WorkspaceId, now: DateTime<Utc>) -> Result<NewSession> {
    let s = NewSession {
        secret: secret::new_secret("gxs_"),
        csrf_token: secret::new_secret("gxc_"),
        expires_at: now + SESSION_IDLE,
    };
    db.execute(
        Sql::new(
            "INSERT INTO sessions (token_hash, user_id, workspace_id, csrf_token, created_at, expires_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $5)",
        )
        .arg(secret::digest(&s.secret))
        .arg(user)
        .arg(ws)
        .arg(s.csrf_token.as_str())
        .arg(now)
        .arg(s.expires_at),
    )
    .await?;
    Ok(s)
}

/// The live session of a secret, refreshing its expiry now and then; `None`
/// when unknown, expired, or its user is disabled.
pub async fn session(db: &Db, secret_value: &str, now: DateTime<Utc>) -> Result<Option<SessionAuth>> {
    let hash = secret::digest(secret_value);
    let found: Option<SessionAuth> = db
        .fetch_optional(
            Sql::new(&format!(
                "SELECT {PRINCIPAL}, s.csrf_token, s.expires_at, s.last_seen_at FROM sessions s {PRINCIPAL_JOINS} \
                 WHERE s.token_hash = $1 AND u.disabled_at IS NULL"
            ))
            .arg(hash.clone()),
        )
        .await?;
    let Some(found) = found else { return Ok(None) };
    if found.expires_at <= now {
        db.execute(Sql::new("DELETE FROM sessions WHERE token_hash = $1").arg(hash)).await?;
        return Ok(None);
    }
    if now - found.last_seen_at > SESSION_TOUCH {
        db.execute(
            Sql::new("UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE token_hash = $3")
                .arg(now)
                .arg(now + SESSION_IDLE)
                .arg(hash),
        )
        .await?;
    }
    Ok(Some(found))
}

/// Ends a session (logout).
pub async fn delete_session(db: &Db, secret_value: &str) -> Result<()> {
    db.execute(Sql::new("DELETE FROM sessions WHERE token_hash = $1").arg(secret::digest(secret_value))).await?;
    Ok(())
}

/// An API token as listed (never its secret).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ApiToken {
    /// Id.
    pub id: TokenId,
    /// The owner's label for it ("报表脚本").
    pub name: String,
    /// The first characters of the secret, to recognise it.
    pub prefix: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last used (to within ten minutes).
    pub last_used_at: Option<DateTime<Utc>>,
    /// Set once revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

crate::from_row!(ApiToken { id, name, prefix, created_at, last_used_at, revoked_at });

const TOKEN_COLUMNS: &str = "id, name, prefix, created_at, last_used_at, revoked_at";

/// Creates a token for a user; returns it with its secret, shown only now.
pub async fn create_token(
    tx: &mut Tx,
    actor: &Actor,
    user: UserId,
    name: &str,
    now: DateTime<Utc>,
) -> Result<(ApiToken, String)> {
    let secret_value = secret::new_secret("gxt_");
    let id = TokenId::new();
    let token: ApiToken = tx
        .fetch_one(
            Sql::new(&format!(
                "INSERT INTO api_tokens (id, workspace_id, user_id, name, token_hash, prefix, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {TOKEN_COLUMNS}"
            ))
            .arg(id)
            .arg(actor.workspace_id)
            .arg(user)
            .arg(name)
            .arg(secret::digest(&secret_value))
            .arg(secret_value[..8].to_owned())
            .arg(now),
        )
        .await?;
    audit::record(
        tx,
        actor,
        Action::Create,
        "api_token",
        id.uuid(),
        serde_json::json!({"name": {"before": null, "after": name}, "user_id": {"before": null, "after": user}}),
        now,
    )
    .await?;
    Ok((token, secret_value))
}

/// A user's tokens, newest first.
pub async fn list_tokens(db: &Db, user: UserId) -> Result<Vec<ApiToken>> {
    db.fetch_all(
        Sql::new(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY id DESC")).arg(user),
    )
    .await
}

/// Revokes one of a user's tokens.
pub async fn revoke_token(
    tx: &mut Tx,
    actor: &Actor,
    user: UserId,
    id: TokenId,
    now: DateTime<Utc>,
) -> Result<ApiToken> {
    let token: ApiToken = tx
        .fetch_optional(
            Sql::new(&format!(
                "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 AND user_id = $3 AND workspace_id = $4 \
                 RETURNING {TOKEN_COLUMNS}"
            ))
            .arg(now)
            .arg(id)
            .arg(user)
            .arg(actor.workspace_id),
        )
        .await?
        .ok_or(Error::NotFound)?;
    audit::record(
        tx,
        actor,
        Action::Delete,
        "api_token",
        id.uuid(),
        serde_json::json!({"revoked": {"before": false, "after": true}}),
        now,
    )
    .await?;
    Ok(token)
}

struct TokenAuth {
    principal: Principal,
    token_id: TokenId,
    last_used_at: Option<DateTime<Utc>>,
}

impl crate::FromRow for TokenAuth {
    fn from_row(row: &crate::db::Row<'_>) -> Result<Self> {
        Ok(TokenAuth {
            principal: Principal::from_row(row)?,
            token_id: row.get("token_id")?,
            last_used_at: row.get("last_used_at")?,
        })
    }
}

/// The user of a live token; `None` when unknown, revoked, or the user is disabled.
pub async fn token(db: &Db, secret_value: &str, now: DateTime<Utc>) -> Result<Option<(Principal, TokenId)>> {
    let found: Option<TokenAuth> = db
        .fetch_optional(
            Sql::new(&format!(
                "SELECT {PRINCIPAL}, s.id AS token_id, s.last_used_at FROM api_tokens s {PRINCIPAL_JOINS} \
                 WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND u.disabled_at IS NULL"
            ))
            .arg(secret::digest(secret_value)),
        )
        .await?;
    let Some(found) = found else { return Ok(None) };
    if found.last_used_at.is_none_or(|t| now - t > TOKEN_TOUCH) {
        db.execute(Sql::new("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2").arg(now).arg(found.token_id))
            .await?;
    }
    Ok(Some((found.principal, found.token_id)))
}

/// What login needs to know of an account.
#[derive(Clone, Debug)]
pub struct LoginAccount {
    /// User.
    pub id: UserId,
    /// Workspace.
    pub workspace_id: WorkspaceId,
    /// argon2id hash.
    pub password_hash: String,
    /// Disabled users cannot log in.
    pub disabled_at: Option<DateTime<Utc>>,
}

crate::from_row!(LoginAccount { id, workspace_id, password_hash, disabled_at });

/// Most accounts one e-mail address may log in to (one per workspace).
pub const MAX_ACCOUNTS_PER_EMAIL: i64 = 5;

/// The accounts behind an e-mail address, one per workspace at most, oldest
/// first: logging in checks the password against each.
pub async fn login_accounts(db: &Db, email: &str) -> Result<Vec<LoginAccount>> {
    db.fetch_all(
        Sql::new(
            "SELECT id, workspace_id, password_hash, disabled_at FROM users WHERE email = $1 ORDER BY id LIMIT $2",
        )
        .arg(email)
        .arg(MAX_ACCOUNTS_PER_EMAIL),
    )
    .await
}

/// Limits on login attempts, per account and per client address, each
/// counted on its own key.
#[derive(Clone, Copy, Debug)]
pub struct ThrottlePolicy {
    /// Attempts a key may have checked within one window.
    pub max_failures: i64,
    /// The counting window, from the key's first attempt; further attempts
    /// are refused until it ends.
    pub window: Duration,
}

/// Five passwords for one account are checked in 15 minutes (a success
/// clears the count); the sixth attempt waits for the window to end.
pub const ACCOUNT_POLICY: ThrottlePolicy = ThrottlePolicy { max_failures: 5, window: Duration::minutes(15) };
/// One address may have 100 failed attempts in 15 minutes: generous, since an
/// office behind one NAT shares it, and one guesser there must not lock the
/// others out; each account is guarded by its own count above.
pub const IP_POLICY: ThrottlePolicy = ThrottlePolicy { max_failures: 100, window: Duration::minutes(15) };

/// Whether an attempt may be checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// Counted; check the password.
    Allowed,
    /// Too many in this window: refused until then, unchecked.
    Refused {
        /// When the window ends.
        until: DateTime<Utc>,
    },
}

/// Counts an attempt against a key before its password is checked, in one
/// statement: of any number of simultaneous attempts, at most the policy's
/// number are allowed (the row's lock orders them on PostgreSQL, the one
/// writer on SQLite). A success gives its attempt back (`clear_failures`,
/// `refund`).
pub async fn take_attempt(db: &Db, key: &str, policy: ThrottlePolicy, now: DateTime<Utc>) -> Result<Attempt> {
    let mut tx = db.begin().await?;
    let (attempts, window_start): (i64, DateTime<Utc>) = tx
        .fetch_one(
            Sql::new(
                "INSERT INTO login_throttle (key, failures, window_start, locked_until) VALUES ($1, 1, $2, NULL) \
                 ON CONFLICT (key) DO UPDATE SET \
                   failures = CASE WHEN login_throttle.window_start <= $3 THEN 1 ELSE login_throttle.failures + 1 END, \
                   window_start = CASE WHEN login_throttle.window_start <= $3 THEN $2 ELSE login_throttle.window_start END \
                 RETURNING failures, window_start",
            )
            .arg(key)
            .arg(now)
            .arg(now - policy.window),
        )
        .await?;
    tx.commit().await?;
    Ok(if attempts > policy.max_failures {
        Attempt::Refused { until: window_start + policy.window }
    } else {
        Attempt::Allowed
    })
}

/// Gives back one attempt of a key (a successful login from an address).
pub async fn refund(db: &Db, key: &str) -> Result<()> {
    db.execute(Sql::new("UPDATE login_throttle SET failures = failures - 1 WHERE key = $1 AND failures > 0").arg(key))
        .await?;
    Ok(())
}

/// Forgets a key's failures (after a successful login).
pub async fn clear_failures(db: &Db, key: &str) -> Result<()> {
    db.execute(Sql::new("DELETE FROM login_throttle WHERE key = $1").arg(key)).await?;
    Ok(())
}
