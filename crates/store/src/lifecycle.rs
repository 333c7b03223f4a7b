//! What every business record goes through the same way: the recycle bin
//! (soft delete and restore) and retirement by merge. Table and entity
//! names are constants of this crate, never input.

use crate::audit::{self, Action, Actor};
use crate::db::{Sql, Tx};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A kind of business record: its table and its audit name.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Kind {
    /// The table (`accounts`).
    pub table: &'static str,
    /// The audit log's entity type (`account`).
    pub entity: &'static str,
    /// What search indexes it as.
    pub search: guanxi_domain::search::Kind,
}

/// Moves a record into the recycle bin or out of it, audited. A record
/// merged into another is not restorable: its life goes on in the kept one.
pub(crate) async fn set_deleted(
    tx: &mut Tx,
    actor: &Actor,
    kind: Kind,
    id: Uuid,
    merged: bool,
    deleted: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    if merged {
        return Err(Error::Conflict(format!(
            "merged: the {} was merged into another and cannot be restored",
            kind.entity
        )));
    }
    let q = format!("UPDATE {} SET deleted_at = $1, updated_at = $2 WHERE id = $3 AND workspace_id = $4", kind.table);
    tx.execute(Sql::new(&q).arg(if deleted { Some(now) } else { None }).arg(now).arg(id).arg(actor.workspace_id))
        .await?;
    let action = if deleted { Action::Delete } else { Action::Restore };
    let changes = serde_json::json!({"deleted": {"before": !deleted, "after": deleted}});
    audit::record(tx, actor, action, kind.entity, id, changes, now).await
}

/// Retires `gone` into `keep` after the kept record was written: records
/// merged into `gone` earlier now point at `keep`, `gone` leaves search, and
/// both histories say what happened (`merged_from` on top of `keep_changes`).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn retire(
    tx: &mut Tx,
    actor: &Actor,
    kind: Kind,
    keep: (Uuid, &str),
    gone: (Uuid, &str),
    mut keep_changes: serde_json::Value,
    merged_from_extra: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<()> {
    let (keep_id, keep_name) = keep;
    let (gone_id, gone_name) = gone;
    let pointers = format!("UPDATE {} SET merged_into_id = $1 WHERE merged_into_id = $2", kind.table);
    tx.execute(Sql::new(&pointers).arg(keep_id).arg(gone_id)).await?;
    let retire =
        format!("UPDATE {} SET deleted_at = $1, updated_at = $1, merged_into_id = $2 WHERE id = $3", kind.table);
    tx.execute(Sql::new(&retire).arg(now).arg(keep_id).arg(gone_id)).await?;
    crate::search::forget(tx, kind.search, gone_id).await?;
    let mut from = serde_json::json!({"id": gone_id, "name": gone_name});
    if let (Some(f), Some(extra)) = (from.as_object_mut(), merged_from_extra.as_object()) {
        f.extend(extra.clone());
    }
    if let Some(o) = keep_changes.as_object_mut() {
        o.insert("merged_from".into(), serde_json::json!({"before": null, "after": from}));
    }
    audit::record(tx, actor, Action::Merge, kind.entity, keep_id, keep_changes, now).await?;
    let retired = serde_json::json!({"merged_into": {"before": null, "after": {"id": keep_id, "name": keep_name}}});
    audit::record(tx, actor, Action::Merge, kind.entity, gone_id, retired, now).await
}
