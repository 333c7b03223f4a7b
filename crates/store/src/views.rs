//! Saved views: a user's named filters of a list (客户 → 我的 A 类沈阳客户).
//! Preferences, not business records: deleting one removes it.

use crate::audit::{self, Action, Actor};
use crate::db::{Db, Sql, Tx};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use guanxi_domain::UserId;
use uuid::Uuid;

/// A saved view.
#[derive(Clone, Debug)]
pub struct SavedView {
    /// Id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// The list's query string (`classification=a&region_code=210100`).
    pub query: String,
}

crate::from_row!(SavedView { id, name, query });

/// The user's views of a section, by name.
pub async fn list(db: &Db, user: UserId, section: &str) -> Result<Vec<SavedView>> {
    db.fetch_all(
        Sql::new("SELECT id, name, query FROM saved_views WHERE user_id = $1 AND section = $2 ORDER BY name")
            .arg(user)
            .arg(section),
    )
    .await
}

/// Saves a view; a name already used in the section is replaced.
pub async fn save(
    tx: &mut Tx,
    actor: &Actor,
    user: UserId,
    section: &str,
    name: &str,
    query: &str,
    now: DateTime<Utc>,
) -> Result<Uuid> {
    tx.execute(
        Sql::new("DELETE FROM saved_views WHERE user_id = $1 AND section = $2 AND name = $3")
            .arg(user)
            .arg(section)
            .arg(name),
    )
    .await?;
    let id = Uuid::now_v7();
    tx.execute(
        Sql::new(
            "INSERT INTO saved_views (id, workspace_id, user_id, section, name, query, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .arg(id)
        .arg(actor.workspace_id)
        .arg(user)
        .arg(section)
        .arg(name)
        .arg(query)
        .arg(now),
    )
    .await?;
    let changes =
        serde_json::json!({"name": {"before": null, "after": name}, "query": {"before": null, "after": query}});
    audit::record(tx, actor, Action::Create, "saved_view", id, changes, now).await?;
    Ok(id)
}

/// Deletes one of the user's views.
pub async fn delete(tx: &mut Tx, actor: &Actor, user: UserId, id: Uuid, now: DateTime<Utc>) -> Result<()> {
    let n = tx.execute(Sql::new("DELETE FROM saved_views WHERE id = $1 AND user_id = $2").arg(id).arg(user)).await?;
    if n == 0 {
        return Err(Error::NotFound);
    }
    audit::record(tx, actor, Action::Delete, "saved_view", id, serde_json::json!({}), now).await
}
