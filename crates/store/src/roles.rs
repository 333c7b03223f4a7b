//! Roles and the data scope each has in a workspace (editable by admins).

use crate::audit::{self, Action, Actor};
use crate::db::{Db, Sql, Tx};
use crate::Result;
use chrono::{DateTime, Utc};
use guanxi_domain::{DataScope, Role, WorkspaceId};
use serde::Serialize;

/// A role's settings in one workspace.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RoleScope {
    /// The role.
    pub role: Role,
    /// How far its view reaches.
    pub data_scope: DataScope,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

crate::from_row!(RoleScope { role, data_scope, updated_at });

/// Every role of the workspace, in the fixed order admin, manager, sales, service.
pub async fn list(db: &Db, ws: WorkspaceId) -> Result<Vec<RoleScope>> {
    let mut rows: Vec<RoleScope> = db
        .fetch_all(Sql::new("SELECT role, data_scope, updated_at FROM role_scopes WHERE workspace_id = $1").arg(ws))
        .await?;
    rows.sort_by_key(|r| Role::ALL.iter().position(|x| *x == r.role));
    Ok(rows)
}

/// Changes the data scope of a role. Admins always see the whole workspace.
pub async fn set_scope(
    tx: &mut Tx,
    actor: &Actor,
    role: Role,
    scope: DataScope,
    now: DateTime<Utc>,
) -> Result<RoleScope> {
    if role == Role::Admin && scope != DataScope::Workspace {
        return Err(crate::Error::Invalid("data_scope", "the admin role always sees the whole workspace".into()));
    }
    let before: RoleScope = tx
        .fetch_one(
            Sql::new("SELECT role, data_scope, updated_at FROM role_scopes WHERE workspace_id = $1 AND role = $2")
                .arg(actor.workspace_id)
                .arg(role.as_str()),
        )
        .await?;
    let after: RoleScope = tx
        .fetch_one(
            Sql::new(
                "UPDATE role_scopes SET data_scope = $3, updated_at = $4 WHERE workspace_id = $1 AND role = $2 \
                 RETURNING role, data_scope, updated_at",
            )
            .arg(actor.workspace_id)
            .arg(role.as_str())
            .arg(scope.as_str())
            .arg(now),
        )
        .await?;
    let changes = audit::diff(
        &serde_json::json!({"data_scope": before.data_scope}),
        &serde_json::json!({"data_scope": after.data_scope}),
    );
    // Roles have no uuid of their own; the audit entry names the workspace and the role in the changes.
    let mut changes = changes;
    if let Some(obj) = changes.as_object_mut() {
        if !obj.is_empty() {
            obj.insert("role".into(), serde_json::json!({"before": role, "after": role}));
        }
    }
    audit::record(tx, actor, Action::Update, "role", actor.workspace_id.uuid(), changes, now).await?;
    Ok(after)
}
