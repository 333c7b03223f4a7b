//! Pools (公海): their rules and members. Every workspace has a default pool;
//! managers add more (by region, by product line), each with its members.
//! An account belongs to one pool: the one it sits in while unowned, and
//! the one it returns to.

use crate::audit::{self, Action, Actor};
use crate::db::{Conn, Sql, Tx};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use guanxi_domain::{PoolId, PoolRules, TeamId, UserId, WorkspaceId};
use serde::Serialize;

/// A pool as stored.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Pool {
    /// Id.
    pub id: PoolId,
    /// Name (e.g. 华东公海).
    pub name: String,
    /// New and unassigned accounts land here.
    pub is_default: bool,
    /// Its rules.
    pub rules: PoolRules,
    /// Who may see and claim from it; empty: the whole workspace.
    pub members: Vec<PoolMember>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A team (with its sub-teams) or a user who belongs to a pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PoolMember {
    /// The team, for a team member.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_id: Option<TeamId>,
    /// The user, for a user member.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    /// The team's or user's name.
    pub name: String,
}

struct PoolRow {
    id: PoolId,
    name: String,
    is_default: bool,
    rules: serde_json::Value,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}
crate::from_row!(PoolRow { id, name, is_default, rules, created_at, updated_at });

struct MemberRow {
    pool_id: PoolId,
    team_id: Option<TeamId>,
    user_id: Option<UserId>,
    name: String,
}
crate::from_row!(MemberRow { pool_id, team_id, user_id, name });

const SELECT: &str = "SELECT id, name, is_default, rules, created_at, updated_at FROM pools";

async fn load(mut conn: Conn<'_>, rows: Vec<PoolRow>) -> Result<Vec<Pool>> {
    let mut members: Vec<MemberRow> = Vec::new();
    if !rows.is_empty() {
        let mut q = Sql::new(
            "SELECT m.pool_id, m.team_id, m.user_id, COALESCE(t.name, u.display_name) AS name FROM pool_members m \
             LEFT JOIN teams t ON t.id = m.team_id LEFT JOIN users u ON u.id = m.user_id WHERE m.pool_id IN (",
        );
        for (i, r) in rows.iter().enumerate() {
            q.push(if i == 0 { "" } else { ", " }).bind(r.id);
        }
        q.push(") ORDER BY name");
        members = conn.fetch_all(q).await?;
    }
    rows.into_iter()
        .map(|r| {
            let rules = serde_json::from_value(r.rules)
                .map_err(|e| Error::Db(format!("pool {} has unreadable rules: {e}", r.id)))?;
            Ok(Pool {
                members: members
                    .iter()
                    .filter(|m| m.pool_id == r.id)
                    .map(|m| PoolMember { team_id: m.team_id, user_id: m.user_id, name: m.name.clone() })
                    .collect(),
                id: r.id,
                name: r.name,
                is_default: r.is_default,
                rules,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .collect()
}

/// Every pool of a workspace, the default first.
pub async fn list(mut conn: Conn<'_>, ws: WorkspaceId) -> Result<Vec<Pool>> {
    let rows = conn
        .fetch_all(Sql::new(&format!("{SELECT} WHERE workspace_id = $1 ORDER BY is_default DESC, name")).arg(ws))
        .await?;
    load(conn, rows).await
}

/// One pool of a workspace.
pub async fn get(mut conn: Conn<'_>, ws: WorkspaceId, id: PoolId) -> Result<Pool> {
    let row = conn
        .fetch_optional(Sql::new(&format!("{SELECT} WHERE id = $1 AND workspace_id = $2")).arg(id).arg(ws))
        .await?
        .ok_or(Error::NotFound)?;
    load(conn, vec![row]).await?.pop().ok_or(Error::NotFound)
}

/// The workspace's default pool.
pub async fn default_of(mut conn: Conn<'_>, ws: WorkspaceId) -> Result<Pool> {
    let row = conn
        .fetch_optional(Sql::new(&format!("{SELECT} WHERE workspace_id = $1 AND is_default")).arg(ws))
        .await?
        .ok_or_else(|| Error::Db(format!("workspace {ws} has no default pool")))?;
    load(conn, vec![row]).await?.pop().ok_or(Error::NotFound)
}

/// What a pool is made of, as a manager edits it.
#[derive(Clone, Debug)]
pub struct PoolFields {
    /// Name.
    pub name: String,
    /// Rules (already checked).
    pub rules: PoolRules,
    /// Member teams.
    pub teams: Vec<TeamId>,
    /// Member users.
    pub users: Vec<UserId>,
}

fn snapshot(p: &Pool) -> serde_json::Value {
    serde_json::json!({
        "name": p.name,
        "rules": p.rules,
        "members": p.members.iter().map(|m| m.name.clone()).collect::<Vec<_>>(),
    })
}

async fn write_members(tx: &mut Tx, ws: WorkspaceId, id: PoolId, f: &PoolFields) -> Result<()> {
    tx.execute(Sql::new("DELETE FROM pool_members WHERE pool_id = $1").arg(id)).await?;
    for (i, team) in f.teams.iter().enumerate() {
        crate::refs::live_team(tx, ws, Some(*team), "teams")
            .await
            .map_err(|_| Error::Invalid("teams", format!("teams[{i}] does not name a team of this workspace")))?;
        tx.execute(
            Sql::new("INSERT INTO pool_members (pool_id, workspace_id, team_id) VALUES ($1, $2, $3)")
                .arg(id)
                .arg(ws)
                .arg(*team),
        )
        .await?;
    }
    for (i, user) in f.users.iter().enumerate() {
        crate::refs::active_user(tx, ws, Some(*user), "users").await.map_err(|_| {
            Error::Invalid("users", format!("users[{i}] does not name an active user of this workspace"))
        })?;
        tx.execute(
            Sql::new("INSERT INTO pool_members (pool_id, workspace_id, user_id) VALUES ($1, $2, $3)")
                .arg(id)
                .arg(ws)
                .arg(*user),
        )
        .await?;
    }
    Ok(())
}

/// Creates a pool.
pub async fn create(tx: &mut Tx, actor: &Actor, f: &PoolFields, now: DateTime<Utc>) -> Result<Pool> {
    let id = PoolId::new();
    insert(tx, actor.workspace_id, id, &f.name, false, &f.rules, now).await?;
    write_members(tx, actor.workspace_id, id, f).await?;
    let pool = get(Conn::Tx(tx), actor.workspace_id, id).await?;
    audit::record(
        tx,
        actor,
        Action::Create,
        "pool",
        id.uuid(),
        audit::diff(&serde_json::json!({}), &snapshot(&pool)),
        now,
    )
    .await?;
    Ok(pool)
}

async fn insert(
    tx: &mut Tx,
    ws: WorkspaceId,
    id: PoolId,
    name: &str,
    is_default: bool,
    rules: &PoolRules,
    now: DateTime<Utc>,
) -> Result<()> {
    let rules = serde_json::to_value(rules).map_err(|e| Error::Db(e.to_string()))?;
    tx.execute(
        Sql::new(
            "INSERT INTO pools (id, workspace_id, name, is_default, rules, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .arg(id)
        .arg(ws)
        .arg(name)
        .arg(is_default)
        .arg(rules)
        .arg(now),
    )
    .await?;
    Ok(())
}

/// Changes a pool; when its return rules change, the return date of every
/// account it owns is worked out again (in batches).
pub async fn update(tx: &mut Tx, actor: &Actor, id: PoolId, f: &PoolFields, now: DateTime<Utc>) -> Result<Pool> {
    let before = get(Conn::Tx(tx), actor.workspace_id, id).await?;
    let rules = serde_json::to_value(&f.rules).map_err(|e| Error::Db(e.to_string()))?;
    tx.execute(
        Sql::new("UPDATE pools SET name = $1, rules = $2, updated_at = $3 WHERE id = $4 AND workspace_id = $5")
            .arg(f.name.as_str())
            .arg(rules)
            .arg(now)
            .arg(id)
            .arg(actor.workspace_id),
    )
    .await?;
    write_members(tx, actor.workspace_id, id, f).await?;
    let after = get(Conn::Tx(tx), actor.workspace_id, id).await?;
    if before.rules.return_after != after.rules.return_after {
        crate::ownership::refresh_pool(tx, &after).await?;
    }
    audit::record(
        tx,
        actor,
        Action::Update,
        "pool",
        id.uuid(),
        audit::diff(&snapshot(&before), &snapshot(&after)),
        now,
    )
    .await?;
    Ok(after)
}

/// The default pool of a new workspace, with the default rules.
pub async fn create_default(tx: &mut Tx, ws: WorkspaceId, now: DateTime<Utc>) -> Result<PoolId> {
    let id = PoolId::new();
    insert(tx, ws, id, "公海", true, &PoolRules::default(), now).await?;
    Ok(id)
}

/// Whether a user (in `team`) belongs to a pool: a member pool names the user
/// or one of the teams above theirs; an open pool takes everyone.
pub async fn is_member(mut conn: Conn<'_>, pool: &Pool, user: UserId, team: Option<TeamId>) -> Result<bool> {
    let above = teams_above(&mut conn, team).await?;
    Ok(member(pool, user, &above))
}

/// The pools a user belongs to.
pub async fn member_pools(
    mut conn: Conn<'_>,
    ws: WorkspaceId,
    user: UserId,
    team: Option<TeamId>,
) -> Result<Vec<Pool>> {
    let above = teams_above(&mut conn, team).await?;
    Ok(list(conn, ws).await?.into_iter().filter(|p| member(p, user, &above)).collect())
}

/// A team and every team above it.
async fn teams_above(conn: &mut Conn<'_>, team: Option<TeamId>) -> Result<Vec<TeamId>> {
    let Some(team) = team else { return Ok(Vec::new()) };
    let rows: Vec<(TeamId,)> =
        conn.fetch_all(Sql::new("SELECT ancestor_id FROM team_closure WHERE descendant_id = $1").arg(team)).await?;
    Ok(rows.into_iter().map(|(t,)| t).collect())
}

fn member(pool: &Pool, user: UserId, above: &[TeamId]) -> bool {
    pool.members.is_empty()
        || pool.members.iter().any(|m| m.user_id == Some(user) || m.team_id.is_some_and(|t| above.contains(&t)))
}

/// For migration 5: a default pool for every workspace, every account put
/// in it, and owned accounts' clocks started at `now`.
pub(crate) async fn backfill(tx: &mut Tx, now: DateTime<Utc>) -> Result<()> {
    let bare: Vec<(WorkspaceId,)> = tx
        .fetch_all(Sql::new(
            "SELECT w.id FROM workspaces w WHERE NOT EXISTS (SELECT 1 FROM pools p WHERE p.workspace_id = w.id AND p.is_default)",
        ))
        .await?;
    for (ws,) in bare {
        create_default(tx, ws, now).await?;
    }
    tx.execute(Sql::new(
        "UPDATE accounts SET pool_id = (SELECT p.id FROM pools p WHERE p.workspace_id = accounts.workspace_id AND p.is_default) \
         WHERE pool_id IS NULL",
    ))
    .await?;
    tx.execute(
        Sql::new(
            "UPDATE accounts SET owned_at = $1, activity_clock_at = $1, progress_clock_at = $1, deal_clock_at = $1 \
             WHERE owner_id IS NOT NULL AND owned_at IS NULL",
        )
        .arg(now),
    )
    .await?;
    let pools: Vec<(WorkspaceId, PoolId)> = tx.fetch_all(Sql::new("SELECT workspace_id, id FROM pools")).await?;
    for (ws, id) in pools {
        let pool = get(Conn::Tx(tx), ws, id).await?;
        crate::ownership::refresh_pool(tx, &pool).await?;
    }
    Ok(())
}

/// An account as a non-owner sees it in the pool: phones masked, address
/// and notes hidden, as the pool's rules say.
pub fn masked(mut a: crate::accounts::Account, rules: &PoolRules) -> crate::accounts::Account {
    use guanxi_domain::pool::mask_phone;
    use guanxi_domain::PoolField;
    if rules.masks(PoolField::Phones) {
        for p in &mut a.phones {
            p.display = mask_phone(&p.display);
            p.number = mask_phone(&p.number);
            p.extension = None;
        }
    }
    if rules.masks(PoolField::Address) {
        a.address = None;
    }
    if rules.masks(PoolField::Notes) {
        a.notes = None;
    }
    a
}
