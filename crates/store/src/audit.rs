//! The audit log: who changed which record when, field by field.

use crate::db::{Db, Sql, Tx};
use crate::scope::Viewer;
use crate::Result;
use chrono::{DateTime, Utc};
use guanxi_domain::{UserId, WorkspaceId};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

/// Who is making a change, for the audit log.
#[derive(Clone, Debug)]
pub struct Actor {
    /// The workspace the change happens in.
    pub workspace_id: WorkspaceId,
    /// The user, or `None` for the system (CLI, jobs).
    pub user_id: Option<UserId>,
    /// A readable label: the user's e-mail, or `system:init`, `system:demo`, ...
    pub label: String,
    /// The HTTP request id, when there is one.
    pub request_id: Option<String>,
}

impl Actor {
    /// The system acting through a named command.
    pub fn system(workspace_id: WorkspaceId, what: &str) -> Self {
        Self { workspace_id, user_id: None, label: format!("system:{what}"), request_id: None }
    }
}

/// What happened to a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Created.
    Create,
    /// Changed.
    Update,
    /// Soft-deleted (or disabled).
    Delete,
    /// Merged into another record (this one is retired), or another merged into this.
    Merge,
    /// Brought back.
    Restore,
    /// Claimed from the pool (领取).
    Claim,
    /// Returned to the pool (退回), by hand or by rule.
    Release,
    /// Given to someone by a decision: an approved registration or transfer.
    Assign,
    /// Moved in a handover (交接) of a leaving salesperson's accounts.
    Handover,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Merge => "merge",
            Action::Restore => "restore",
            Action::Claim => "claim",
            Action::Release => "release",
            Action::Assign => "assign",
            Action::Handover => "handover",
        }
    }
}

/// The changed fields between two JSON snapshots: `{field: {"before": .., "after": ..}}`.
pub fn diff(before: &Value, after: &Value) -> Value {
    let empty = Map::new();
    let b = before.as_object().unwrap_or(&empty);
    let a = after.as_object().unwrap_or(&empty);
    let mut out = Map::new();
    for key in b.keys().chain(a.keys().filter(|k| !b.contains_key(*k))) {
        let (bv, av) = (b.get(key).unwrap_or(&Value::Null), a.get(key).unwrap_or(&Value::Null));
        if bv != av {
            out.insert(key.clone(), serde_json::json!({ "before": bv, "after": av }));
        }
    }
    Value::Object(out)
}

/// A snapshot of a record for [`diff`]: its serialised fields.
pub fn snapshot<T: Serialize>(record: &T) -> Value {
    serde_json::to_value(record).unwrap_or(Value::Null)
}

const COLUMNS: &str =
    "id, workspace_id, actor_id, actor_label, action, entity_type, entity_id, changes, request_id, at";

/// Entries gathered for multi-row inserts (the release job writes thousands).
pub fn batch() -> crate::batch::Batch {
    crate::batch::Batch::new("audit_log", COLUMNS)
}

/// Adds one entry to a [`batch`].
#[allow(clippy::too_many_arguments)]
pub async fn push(
    b: &mut crate::batch::Batch,
    tx: &mut Tx,
    actor: &Actor,
    action: Action,
    entity_type: &str,
    entity_id: Uuid,
    changes: Value,
    at: DateTime<Utc>,
) -> Result<()> {
    b.push(
        tx,
        vec![
            Uuid::now_v7().into(),
            actor.workspace_id.into(),
            actor.user_id.into(),
            actor.label.as_str().into(),
            action.as_str().into(),
            entity_type.into(),
            entity_id.into(),
            changes.into(),
            actor.request_id.clone().into(),
            at.into(),
        ],
    )
    .await
}

/// Writes one audit entry inside the caller's transaction. Updates that change
/// nothing are not recorded.
pub async fn record(
    tx: &mut Tx,
    actor: &Actor,
    action: Action,
    entity_type: &str,
    entity_id: Uuid,
    changes: Value,
    at: DateTime<Utc>,
) -> Result<()> {
    if action == Action::Update && changes.as_object().is_some_and(Map::is_empty) {
        return Ok(());
    }
    let mut one = batch();
    push(&mut one, tx, actor, action, entity_type, entity_id, changes, at).await?;
    one.flush(tx).await
}

/// One audit entry as read back.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Entry id (time-ordered).
    pub id: Uuid,
    /// The acting user, if any.
    pub actor_id: Option<UserId>,
    /// Readable actor.
    pub actor_label: String,
    /// `create`, `update`, `delete`, `restore` or `merge`.
    pub action: String,
    /// The kind of record: `user`, `team`, `role`, `workspace`, `api_token`, ...
    pub entity_type: String,
    /// The record's id.
    pub entity_id: Uuid,
    /// Changed fields with before and after values.
    #[schema(value_type = Object)]
    pub changes: Value,
    /// The request that made the change.
    pub request_id: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

crate::from_row!(AuditEntry { id, actor_id, actor_label, action, entity_type, entity_id, changes, request_id, at });

/// Filters for browsing the log.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Only this kind of record.
    pub entity_type: Option<String>,
    /// Only this record.
    pub entity_id: Option<Uuid>,
    /// Only these records (a record and those merged into it).
    pub entity_ids: Vec<Uuid>,
    /// Only changes by this user.
    pub actor_id: Option<UserId>,
    /// Entries older than this id (the cursor).
    pub before: Option<Uuid>,
}

/// The newest entries first, `limit` at a time. Only whole-workspace viewers
/// (admins) browse the log; records show their own history through `entity_id`.
pub async fn list(db: &Db, viewer: Viewer, filter: &AuditFilter, limit: i64) -> Result<Vec<AuditEntry>> {
    let mut q = Sql::new(
        "SELECT id, actor_id, actor_label, action, entity_type, entity_id, changes, request_id, at FROM audit_log WHERE workspace_id = ",
    );
    q.bind(viewer.workspace_id);
    if let Some(t) = &filter.entity_type {
        q.push(" AND entity_type = ").bind(t.as_str());
    }
    if let Some(id) = filter.entity_id {
        q.push(" AND entity_id = ").bind(id);
    }
    if !filter.entity_ids.is_empty() {
        q.push(" AND entity_id IN (");
        for (i, id) in filter.entity_ids.iter().enumerate() {
            q.push(if i == 0 { "" } else { ", " }).bind(*id);
        }
        q.push(")");
    }
    if let Some(actor) = filter.actor_id {
        q.push(" AND actor_id = ").bind(actor);
    }
    if let Some(before) = filter.before {
        q.push(" AND id < ").bind(before);
    }
    q.push(" ORDER BY id DESC LIMIT ").bind(limit);
    db.fetch_all(q).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_lists_only_changed_fields() {
        let d = diff(&json!({"a": 1, "b": "x", "c": null}), &json!({"a": 1, "b": "y", "d": true}));
        assert_eq!(d, json!({"b": {"before": "x", "after": "y"}, "d": {"before": null, "after": true}}));
        assert_eq!(diff(&json!({"a": 1}), &json!({"a": 1})), json!({}));
    }
}
