//! Users: people who log in, each with a role and (usually) a team.

use crate::audit::{self, Action, Actor};
use crate::db::{Db, Sql, Tx};
use crate::scope::{push_visible, ScopeColumns, Viewer};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use guanxi_domain::{DisplayName, Email, Locale, Role, TeamId, UserId, WorkspaceId};
use serde::Serialize;

/// A user as the API and pages show it (never the password hash).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Workspace.
    pub workspace_id: WorkspaceId,
    /// Login e-mail, lower-case.
    pub email: String,
    /// Name shown in the UI.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Team, if any.
    pub team_id: Option<TeamId>,
    /// Name of the team, if any.
    pub team_name: Option<String>,
    /// UI language.
    pub locale: Locale,
    /// Set when the user may no longer log in.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

crate::from_row!(User {
    id,
    workspace_id,
    email,
    display_name,
    role,
    team_id,
    team_name,
    locale,
    disabled_at,
    created_at,
    updated_at
});

const SELECT: &str = "SELECT u.id, u.workspace_id, u.email, u.display_name, u.role, u.team_id, t.name AS team_name, \
     u.locale, u.disabled_at, u.created_at, u.updated_at FROM users u LEFT JOIN teams t ON t.id = u.team_id";

/// The columns users are scoped by: a user "owns" their own row and belongs to their team.
pub const SCOPE: ScopeColumns<'static> =
    ScopeColumns { workspace: "u.workspace_id", owner: Some("u.id"), team: "u.team_id" };

/// A new user, parsed.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// Login e-mail.
    pub email: Email,
    /// Display name.
    pub display_name: DisplayName,
    /// argon2id hash of the initial password.
    pub password_hash: String,
    /// Role.
    pub role: Role,
    /// Team.
    pub team_id: Option<TeamId>,
    /// UI language.
    pub locale: Locale,
}

/// Changes to a user; `None` leaves a field alone.
#[derive(Clone, Debug, Default)]
pub struct UserPatch {
    /// New display name.
    pub display_name: Option<DisplayName>,
    /// New role.
    pub role: Option<Role>,
    /// New team (`Some(None)` removes the user from any team).
    pub team_id: Option<Option<TeamId>>,
    /// New UI language.
    pub locale: Option<Locale>,
    /// New e-mail.
    pub email: Option<Email>,
}

/// The audit snapshot of a user (what an admin may compare).
fn snapshot(u: &User) -> serde_json::Value {
    serde_json::json!({
        "email": u.email, "display_name": u.display_name, "role": u.role,
        "team_id": u.team_id, "locale": u.locale, "disabled": u.disabled_at.is_some(),
    })
}

async fn get_in_tx(tx: &mut Tx, ws: WorkspaceId, id: UserId) -> Result<User> {
    tx.fetch_one(Sql::new(&format!("{SELECT} WHERE u.id = $1 AND u.workspace_id = $2")).arg(id).arg(ws)).await
}

/// Creates a user in the actor's workspace.
pub async fn create(tx: &mut Tx, actor: &Actor, new: NewUser, now: DateTime<Utc>) -> Result<User> {
    crate::refs::live_team(tx, actor.workspace_id, new.team_id, "team_id").await?;
    let id = UserId::new();
    tx.execute(
        Sql::new(
            "INSERT INTO users (id, workspace_id, email, display_name, password_hash, role, team_id, locale, password_changed_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9)",
        )
        .arg(id)
        .arg(actor.workspace_id)
        .arg(new.email.as_str())
        .arg(new.display_name.as_str())
        .arg(new.password_hash)
        .arg(new.role.as_str())
        .arg(new.team_id)
        .arg(new.locale.as_str())
        .arg(now),
    )
    .await?;
    let user = get_in_tx(tx, actor.workspace_id, id).await?;
    audit::record(
        tx,
        actor,
        Action::Create,
        "user",
        id.uuid(),
        audit::diff(&serde_json::json!({}), &snapshot(&user)),
        now,
    )
    .await?;
    Ok(user)
}

/// A user the viewer may see; `NotFound` otherwise.
pub async fn get(db: &Db, viewer: Viewer, id: UserId) -> Result<User> {
    let mut q = Sql::new(SELECT);
    q.push(" WHERE u.id = ").bind(id).push(" AND ");
    push_visible(&mut q, viewer, SCOPE);
    db.fetch_one(q).await
}

/// A user by e-mail within a workspace (CLI commands name users by e-mail).
pub async fn find_by_email(db: &Db, email: &Email) -> Result<Option<User>> {
    db.fetch_optional(Sql::new(&format!("{SELECT} WHERE u.email = $1")).arg(email.as_str())).await
}

/// Filters for the user list.
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    /// Only members of this team.
    pub team_id: Option<TeamId>,
    /// Include disabled users.
    pub include_disabled: bool,
    /// Users created after this one (the cursor).
    pub after: Option<UserId>,
}

/// Users the viewer may see, oldest first, `limit` at a time.
pub async fn list(db: &Db, viewer: Viewer, filter: &UserFilter, limit: i64) -> Result<Vec<User>> {
    let mut q = Sql::new(SELECT);
    q.push(" WHERE ");
    push_visible(&mut q, viewer, SCOPE);
    if let Some(team) = filter.team_id {
        q.push(" AND u.team_id = ").bind(team);
    }
    if !filter.include_disabled {
        q.push(" AND u.disabled_at IS NULL");
    }
    if let Some(after) = filter.after {
        q.push(" AND u.id > ").bind(after);
    }
    q.push(" ORDER BY u.id LIMIT ").bind(limit);
    db.fetch_all(q).await
}

/// Applies a patch; the caller has checked the actor may.
pub async fn update(tx: &mut Tx, actor: &Actor, id: UserId, patch: UserPatch, now: DateTime<Utc>) -> Result<User> {
    let before = get_in_tx(tx, actor.workspace_id, id).await?;
    if let Some(team) = patch.team_id {
        crate::refs::live_team(tx, actor.workspace_id, team, "team_id").await?;
    }
    let mut q = Sql::new("UPDATE users SET updated_at = ");
    q.bind(now);
    if let Some(v) = &patch.display_name {
        q.push(", display_name = ").bind(v.as_str());
    }
    if let Some(v) = patch.role {
        q.push(", role = ").bind(v.as_str());
    }
    if let Some(v) = patch.team_id {
        q.push(", team_id = ").bind(v);
    }
    if let Some(v) = patch.locale {
        q.push(", locale = ").bind(v.as_str());
    }
    if let Some(v) = &patch.email {
        q.push(", email = ").bind(v.as_str());
    }
    q.push(" WHERE id = ").bind(id).push(" AND workspace_id = ").bind(actor.workspace_id);
    tx.execute(q).await?;
    let after = get_in_tx(tx, actor.workspace_id, id).await?;
    audit::record(
        tx,
        actor,
        Action::Update,
        "user",
        id.uuid(),
        audit::diff(&snapshot(&before), &snapshot(&after)),
        now,
    )
    .await?;
    Ok(after)
}

/// Disables (or re-enables) a user. Disabling ends their sessions; their tokens stop working.
pub async fn set_disabled(tx: &mut Tx, actor: &Actor, id: UserId, disabled: bool, now: DateTime<Utc>) -> Result<User> {
    let before = get_in_tx(tx, actor.workspace_id, id).await?;
    if before.disabled_at.is_some() == disabled {
        return Ok(before);
    }
    tx.execute(
        Sql::new("UPDATE users SET disabled_at = $1, updated_at = $2 WHERE id = $3 AND workspace_id = $4")
            .arg(if disabled { Some(now) } else { None })
            .arg(now)
            .arg(id)
            .arg(actor.workspace_id),
    )
    .await?;
    if disabled {
        tx.execute(Sql::new("DELETE FROM sessions WHERE user_id = $1").arg(id)).await?;
    }
    let after = get_in_tx(tx, actor.workspace_id, id).await?;
    let action = if disabled { Action::Delete } else { Action::Restore };
    audit::record(tx, actor, action, "user", id.uuid(), audit::diff(&snapshot(&before), &snapshot(&after)), now)
        .await?;
    Ok(after)
}

/// The stored password hash of a user (for checking the current password).
pub async fn password_hash(db: &Db, id: UserId) -> Result<String> {
    let (h,): (String,) = db.fetch_one(Sql::new("SELECT password_hash FROM users WHERE id = $1").arg(id)).await?;
    Ok(h)
}

/// Replaces a password and ends every other session of the user.
pub async fn set_password(
    tx: &mut Tx,
    actor: &Actor,
    id: UserId,
    password_hash: String,
    keep_session: Option<&[u8]>,
    now: DateTime<Utc>,
) -> Result<()> {
    let n = tx
        .execute(
            Sql::new("UPDATE users SET password_hash = $1, password_changed_at = $2, updated_at = $2 WHERE id = $3 AND workspace_id = $4")
                .arg(password_hash)
                .arg(now)
                .arg(id)
                .arg(actor.workspace_id),
        )
        .await?;
    if n == 0 {
        return Err(Error::NotFound);
    }
    let mut q = Sql::new("DELETE FROM sessions WHERE user_id = ");
    q.bind(id);
    if let Some(keep) = keep_session {
        q.push(" AND token_hash <> ").bind(keep.to_vec());
    }
    tx.execute(q).await?;
    // Never the hash itself: only that it changed.
    audit::record(
        tx,
        actor,
        Action::Update,
        "user",
        id.uuid(),
        serde_json::json!({"password": {"before": "***", "after": "*** (changed)"}}),
        now,
    )
    .await?;
    Ok(())
}

/// Every active person of the workspace as (id, e-mail, display name, team):
/// whom an import's owner column can name.
pub async fn directory(db: &Db, ws: WorkspaceId) -> Result<Vec<(UserId, String, String, Option<TeamId>)>> {
    let q = Sql::new(
        "SELECT id, email, display_name, team_id FROM users WHERE workspace_id = $1 AND disabled_at IS NULL ORDER BY id",
    );
    db.fetch_all(q.arg(ws)).await
}
