//! Workspaces (tenants): the selling company using Guanxi.

use crate::audit::{self, Action, Actor};
use crate::db::{Conn, Db, Sql, Tx};
use crate::Result;
use chrono::{DateTime, Utc};
use guanxi_domain::{Locale, Role, WorkspaceId, WorkspaceName};
use serde::Serialize;

/// A workspace as stored.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Workspace {
    /// Id.
    pub id: WorkspaceId,
    /// Name.
    pub name: String,
    /// IANA zone times are shown in.
    pub time_zone: String,
    /// Language of new users.
    pub default_locale: Locale,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

crate::from_row!(Workspace { id, name, time_zone, default_locale, created_at, updated_at });

const COLUMNS: &str = "id, name, time_zone, default_locale, created_at, updated_at";

/// Creates a workspace with the default data scope of every role.
pub async fn create(tx: &mut Tx, name: &WorkspaceName, now: DateTime<Utc>) -> Result<Workspace> {
    let id = WorkspaceId::new();
    // The next number (`search_terms` keys rows by it). Workspaces are made
    // one at a time (`guanxi init`, the demo); two made at once would
    // collide on the unique index and one fail, never share a number.
    let ws: Workspace = tx
        .fetch_one(
            Sql::new(&format!(
                "INSERT INTO workspaces (id, name, created_at, updated_at, number) \
                 VALUES ($1, $2, $3, $3, (SELECT COALESCE(MAX(number), 0) + 1 FROM workspaces)) RETURNING {COLUMNS}"
            ))
            .arg(id)
            .arg(name.as_str())
            .arg(now),
        )
        .await?;
    for role in Role::ALL {
        tx.execute(
            Sql::new("INSERT INTO role_scopes (workspace_id, role, data_scope, updated_at) VALUES ($1, $2, $3, $4)")
                .arg(id)
                .arg(role.as_str())
                .arg(role.default_scope().as_str())
                .arg(now),
        )
        .await?;
    }
    crate::pool::create_default(tx, id, now).await?;
    crate::scripts::seed(tx, id, now).await?;
    audit::record(
        tx,
        &Actor::system(id, "init"),
        Action::Create,
        "workspace",
        id.uuid(),
        audit::diff(&serde_json::json!({}), &audit::snapshot(&ws)),
        now,
    )
    .await?;
    Ok(ws)
}

/// The small number of workspace `ws`, which names it in the tables and
/// indexes that hold most rows (`search_terms`, the accounts' 查重 keys) in
/// place of its 16-byte id.
pub(crate) async fn number(conn: &mut Conn<'_>, ws: WorkspaceId) -> Result<i64> {
    let q = Sql::new("SELECT number FROM workspaces WHERE id = $1").arg(ws);
    let row: Option<(i64,)> = conn.fetch_optional(q).await?;
    row.map(|r| r.0).ok_or(crate::Error::NotFound)
}

/// The number of the workspace whose id follows, inside a statement.
const NUMBER_OF: &str = "(SELECT number FROM workspaces WHERE id = ";

/// The number of workspace `$n` in a statement.
pub(crate) fn numbered(n: usize) -> String {
    format!("{NUMBER_OF}${n})")
}

/// Appends the number of workspace `ws` to `q`, as a subquery.
pub(crate) fn push_number(q: &mut Sql, ws: WorkspaceId) -> &mut Sql {
    q.push(NUMBER_OF).bind(ws).push(")")
}

/// A workspace by id.
pub async fn get(db: &Db, id: WorkspaceId) -> Result<Workspace> {
    db.fetch_one(Sql::new(&format!("SELECT {COLUMNS} FROM workspaces WHERE id = $1")).arg(id)).await
}

/// A workspace by exact name (the demo loader finds its own by name).
pub async fn find_by_name(db: &Db, name: &str) -> Result<Option<Workspace>> {
    db.fetch_optional(
        Sql::new(&format!("SELECT {COLUMNS} FROM workspaces WHERE name = $1 ORDER BY id LIMIT 1")).arg(name),
    )
    .await
}

/// How many workspaces exist.
pub async fn count(db: &Db) -> Result<i64> {
    let (n,): (i64,) = db.fetch_one(Sql::new("SELECT COUNT(*) FROM workspaces")).await?;
    Ok(n)
}
