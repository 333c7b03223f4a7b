//! The script library (话术) and SPIN bank of a workspace: admins and
//! managers keep it; everyone reads it beside the logging form.

use crate::audit::{self, Action, Actor};
use crate::db::{Db, Sql, Tx};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use guanxi_domain::script::STARTER;
use guanxi_domain::{ScriptId, ScriptKind, WorkspaceId};
use serde::Serialize;

/// A script as stored (placeholders unfilled).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Script {
    /// Id.
    pub id: ScriptId,
    /// What it is for.
    pub kind: ScriptKind,
    /// A short title.
    pub title: String,
    /// The wording, with placeholders such as {客户} and {联系人}.
    pub body: String,
}
crate::from_row!(Script { id, kind, title, body });

/// The starter set, for a new workspace.
pub async fn seed(tx: &mut Tx, ws: WorkspaceId, now: DateTime<Utc>) -> Result<()> {
    for (kind, title, body) in STARTER {
        tx.execute(
            Sql::new(
                "INSERT INTO scripts (id, workspace_id, kind, title, body, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .arg(ScriptId::new())
            .arg(ws)
            .arg(kind.as_str())
            .arg(*title)
            .arg(*body)
            .arg(now),
        )
        .await?;
    }
    Ok(())
}

/// The library, in kind order then creation order.
pub async fn list(db: &Db, ws: WorkspaceId, kind: Option<ScriptKind>) -> Result<Vec<Script>> {
    let mut q = Sql::new("SELECT id, kind, title, body FROM scripts WHERE workspace_id = ");
    q.bind(ws).push(" AND deleted_at IS NULL");
    if let Some(k) = kind {
        q.push(" AND kind = ").bind(k.as_str());
    }
    q.push(" ORDER BY id");
    let mut rows: Vec<Script> = db.fetch_all(q).await?;
    rows.sort_by_key(|s| ScriptKind::ALL.iter().position(|k| *k == s.kind));
    Ok(rows)
}

/// Adds a script (already checked).
pub async fn create(
    tx: &mut Tx,
    actor: &Actor,
    kind: ScriptKind,
    title: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Result<Script> {
    let id = ScriptId::new();
    tx.execute(
        Sql::new("INSERT INTO scripts (id, workspace_id, kind, title, body, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)")
            .arg(id)
            .arg(actor.workspace_id)
            .arg(kind.as_str())
            .arg(title)
            .arg(body)
            .arg(now),
    )
    .await?;
    let changes =
        serde_json::json!({"title": {"before": null, "after": title}, "body": {"before": null, "after": body}});
    audit::record(tx, actor, Action::Create, "script", id.uuid(), changes, now).await?;
    tx.fetch_one(Sql::new("SELECT id, kind, title, body FROM scripts WHERE id = $1").arg(id)).await
}

/// Moves a script to the recycle bin (soft delete, audited).
pub async fn delete(tx: &mut Tx, actor: &Actor, id: ScriptId, now: DateTime<Utc>) -> Result<()> {
    let gone = tx
        .execute(
            Sql::new("UPDATE scripts SET deleted_at = $1 WHERE id = $2 AND workspace_id = $3 AND deleted_at IS NULL")
                .arg(now)
                .arg(id)
                .arg(actor.workspace_id),
        )
        .await?;
    if gone != 1 {
        return Err(Error::NotFound);
    }
    audit::record(tx, actor, Action::Delete, "script", id.uuid(), serde_json::json!({}), now).await
}

/// Rewrites a script in place (already checked), keeping the old wording in the audit log.
pub async fn update(
    tx: &mut Tx,
    actor: &Actor,
    id: ScriptId,
    kind: ScriptKind,
    title: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Result<Script> {
    let before: Script = tx
        .fetch_optional(
            Sql::new(
                "SELECT id, kind, title, body FROM scripts WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL",
            )
            .arg(id)
            .arg(actor.workspace_id),
        )
        .await?
        .ok_or(Error::NotFound)?;
    tx.execute(
        Sql::new("UPDATE scripts SET kind = $1, title = $2, body = $3, updated_at = $4 WHERE id = $5")
            .arg(kind.as_str())
            .arg(title)
            .arg(body)
            .arg(now)
            .arg(id),
    )
    .await?;
    let changes = audit::diff(
        &serde_json::json!({"kind": before.kind.as_str(), "title": before.title, "body": before.body}),
        &serde_json::json!({"kind": kind.as_str(), "title": title, "body": body}),
    );
    audit::record(tx, actor, Action::Update, "script", id.uuid(), changes, now).await?;
    tx.fetch_one(Sql::new("SELECT id, kind, title, body FROM scripts WHERE id = $1").arg(id)).await
}
