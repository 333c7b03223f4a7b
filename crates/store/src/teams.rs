//! Teams: a tree of any depth. A manager of a team sees all teams below it,
//! through the `team_closure` table rebuilt whenever the tree changes.

use crate::audit::{self, Action, Actor};
use crate::db::{Db, Sql, Tx};
use crate::scope::{push_visible, ScopeColumns, Viewer};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use guanxi_domain::{TeamId, TeamName, UserId, WorkspaceId};
use serde::Serialize;

/// A team as shown.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Team {
    /// Id.
    pub id: TeamId,
    /// Name, unique in the workspace.
    pub name: String,
    /// The team above, if any.
    pub parent_id: Option<TeamId>,
    /// The team's manager (负责人), if any.
    pub manager_id: Option<UserId>,
    /// The manager's name.
    pub manager_name: Option<String>,
    /// Active members.
    pub member_count: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

crate::from_row!(Team { id, name, parent_id, manager_id, manager_name, member_count, created_at, updated_at });

const SELECT: &str = "SELECT t.id, t.name, t.parent_id, t.manager_id, m.display_name AS manager_name, \
     (SELECT COUNT(*) FROM users x WHERE x.team_id = t.id AND x.disabled_at IS NULL) AS member_count, \
     t.created_at, t.updated_at FROM teams t LEFT JOIN users m ON m.id = t.manager_id";

/// Teams are scoped by themselves: a manager sees their team and those below.
pub const SCOPE: ScopeColumns<'static> = ScopeColumns { workspace: "t.workspace_id", owner: None, team: "t.id" };

/// A new team.
#[derive(Clone, Debug)]
pub struct NewTeam {
    /// Name.
    pub name: TeamName,
    /// Parent.
    pub parent_id: Option<TeamId>,
    /// Manager.
    pub manager_id: Option<UserId>,
}

/// Changes to a team.
#[derive(Clone, Debug, Default)]
pub struct TeamPatch {
    /// New name.
    pub name: Option<TeamName>,
    /// New parent (`Some(None)` makes it a top-level team).
    pub parent_id: Option<Option<TeamId>>,
    /// New manager (`Some(None)` clears it).
    pub manager_id: Option<Option<UserId>>,
}

fn snapshot(t: &Team) -> serde_json::Value {
    serde_json::json!({"name": t.name, "parent_id": t.parent_id, "manager_id": t.manager_id})
}

async fn get_in_tx(tx: &mut Tx, ws: WorkspaceId, id: TeamId) -> Result<Team> {
    tx.fetch_one(
        Sql::new(&format!("{SELECT} WHERE t.id = $1 AND t.workspace_id = $2 AND t.deleted_at IS NULL")).arg(id).arg(ws),
    )
    .await
}

async fn check_refs(tx: &mut Tx, ws: WorkspaceId, parent: Option<TeamId>, manager: Option<UserId>) -> Result<()> {
    crate::refs::live_team(tx, ws, parent, "parent_id").await?;
    crate::refs::active_user(tx, ws, manager, "manager_id").await
}

/// Recomputes the closure of the workspace's tree. Team changes are rare and
/// trees small, so rebuilding beats maintaining pairs incrementally.
async fn rebuild_closure(tx: &mut Tx, ws: WorkspaceId) -> Result<()> {
    tx.execute(Sql::new("DELETE FROM team_closure WHERE workspace_id = $1").arg(ws)).await?;
    tx.execute(
        Sql::new(
            "WITH RECURSIVE tree (ancestor_id, descendant_id, depth) AS ( \
               SELECT id, id, 0 FROM teams WHERE workspace_id = $1 AND deleted_at IS NULL \
               UNION ALL \
               SELECT tree.ancestor_id, t.id, tree.depth + 1 FROM tree JOIN teams t ON t.parent_id = tree.descendant_id \
               WHERE t.deleted_at IS NULL) \
             INSERT INTO team_closure (workspace_id, ancestor_id, descendant_id, depth) \
             SELECT $1, ancestor_id, descendant_id, depth FROM tree",
        )
        .arg(ws),
    )
    .await?;
    Ok(())
}

/// Creates a team.
pub async fn create(tx: &mut Tx, actor: &Actor, new: NewTeam, now: DateTime<Utc>) -> Result<Team> {
    check_refs(tx, actor.workspace_id, new.parent_id, new.manager_id).await?;
    let id = TeamId::new();
    tx.execute(
        Sql::new(
            "INSERT INTO teams (id, workspace_id, name, parent_id, manager_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .arg(id)
        .arg(actor.workspace_id)
        .arg(new.name.as_str())
        .arg(new.parent_id)
        .arg(new.manager_id)
        .arg(now),
    )
    .await?;
    rebuild_closure(tx, actor.workspace_id).await?;
    let team = get_in_tx(tx, actor.workspace_id, id).await?;
    audit::record(
        tx,
        actor,
        Action::Create,
        "team",
        id.uuid(),
        audit::diff(&serde_json::json!({}), &snapshot(&team)),
        now,
    )
    .await?;
    Ok(team)
}

/// A team the viewer may see.
pub async fn get(db: &Db, viewer: Viewer, id: TeamId) -> Result<Team> {
    let mut q = Sql::new(SELECT);
    q.push(" WHERE t.id = ").bind(id).push(" AND t.deleted_at IS NULL AND ");
    push_visible(&mut q, viewer, SCOPE);
    db.fetch_one(q).await
}

/// Teams the viewer may see, in creation order, `limit` at a time after the cursor.
pub async fn list(db: &Db, viewer: Viewer, after: Option<TeamId>, limit: i64) -> Result<Vec<Team>> {
    let mut q = Sql::new(SELECT);
    q.push(" WHERE t.deleted_at IS NULL AND ");
    push_visible(&mut q, viewer, SCOPE);
    if let Some(after) = after {
        q.push(" AND t.id > ").bind(after);
    }
    q.push(" ORDER BY t.id LIMIT ").bind(limit);
    db.fetch_all(q).await
}

/// A team by exact name (the demo loader is idempotent through it).
pub async fn find_by_name(db: &Db, ws: WorkspaceId, name: &str) -> Result<Option<Team>> {
    db.fetch_optional(
        Sql::new(&format!("{SELECT} WHERE t.workspace_id = $1 AND t.name = $2 AND t.deleted_at IS NULL"))
            .arg(ws)
            .arg(name),
    )
    .await
}

/// Applies a patch, refusing to make a team its own ancestor.
pub async fn update(tx: &mut Tx, actor: &Actor, id: TeamId, patch: TeamPatch, now: DateTime<Utc>) -> Result<Team> {
    let before = get_in_tx(tx, actor.workspace_id, id).await?;
    check_refs(tx, actor.workspace_id, patch.parent_id.flatten(), patch.manager_id.flatten()).await?;
    if let Some(Some(parent)) = patch.parent_id {
        let below: Option<(i64,)> = tx
            .fetch_optional(
                Sql::new("SELECT depth FROM team_closure WHERE ancestor_id = $1 AND descendant_id = $2")
                    .arg(id)
                    .arg(parent),
            )
            .await?;
        if below.is_some() {
            return Err(Error::Invalid("parent_id", "would make the team its own ancestor".into()));
        }
    }
    let mut q = Sql::new("UPDATE teams SET updated_at = ");
    q.bind(now);
    if let Some(v) = &patch.name {
        q.push(", name = ").bind(v.as_str());
    }
    if let Some(v) = patch.parent_id {
        q.push(", parent_id = ").bind(v);
    }
    if let Some(v) = patch.manager_id {
        q.push(", manager_id = ").bind(v);
    }
    q.push(" WHERE id = ").bind(id).push(" AND workspace_id = ").bind(actor.workspace_id);
    tx.execute(q).await?;
    if patch.parent_id.is_some() {
        rebuild_closure(tx, actor.workspace_id).await?;
    }
    let after = get_in_tx(tx, actor.workspace_id, id).await?;
    audit::record(
        tx,
        actor,
        Action::Update,
        "team",
        id.uuid(),
        audit::diff(&snapshot(&before), &snapshot(&after)),
        now,
    )
    .await?;
    Ok(after)
}

/// Soft-deletes an empty team (no active members, no sub-teams).
pub async fn delete(tx: &mut Tx, actor: &Actor, id: TeamId, now: DateTime<Utc>) -> Result<()> {
    let before = get_in_tx(tx, actor.workspace_id, id).await?;
    let (children,): (i64,) = tx
        .fetch_one(Sql::new("SELECT COUNT(*) FROM teams WHERE parent_id = $1 AND deleted_at IS NULL").arg(id))
        .await?;
    if before.member_count > 0 || children > 0 {
        return Err(Error::Conflict("team_not_empty".into()));
    }
    tx.execute(Sql::new("UPDATE teams SET deleted_at = $1, updated_at = $1 WHERE id = $2").arg(now).arg(id)).await?;
    rebuild_closure(tx, actor.workspace_id).await?;
    audit::record(
        tx,
        actor,
        Action::Delete,
        "team",
        id.uuid(),
        serde_json::json!({"deleted": {"before": false, "after": true}}),
        now,
    )
    .await?;
    Ok(())
}

/// Every live team of the workspace as (id, name): whom an import's team column can name.
pub async fn directory(db: &Db, ws: WorkspaceId) -> Result<Vec<(TeamId, String)>> {
    let q = Sql::new("SELECT id, name FROM teams WHERE workspace_id = $1 AND deleted_at IS NULL ORDER BY id");
    db.fetch_all(q.arg(ws)).await
}
