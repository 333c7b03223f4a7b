//! In-app notifications: what the system tells a person (a return to the
//! pool coming up, decisions on their requests, hooks falling due). Read in
//! the app, and delivered to the person's channels through the `outbox`.

use crate::batch::Batch;
use crate::db::{Db, Sql, Tx, Val};
use crate::Result;
use chrono::{DateTime, Utc};
use guanxi_domain::{AccountId, NotificationId, UserId, WorkspaceId};
use serde::Serialize;

/// A notification as shown.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Notification {
    /// Id.
    pub id: NotificationId,
    /// What it is about: `release_warning`, …
    pub kind: String,
    /// The account concerned, if any.
    pub account_id: Option<AccountId>,
    /// The facts to show, by kind (e.g. `account_name`, `release_due_at`, `release_rule`).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When the person marked it read.
    pub read_at: Option<DateTime<Utc>>,
}
crate::from_row!(Notification { id, kind, account_id, data, created_at, read_at });

/// Notifications gathered for one multi-row insert; `flush` writes them and
/// queues their deliveries to the channels that want them (`outbox`), in the
/// caller's transaction.
pub(crate) struct Notes {
    batch: Batch,
    made: Vec<(NotificationId, WorkspaceId, UserId, String)>,
}

impl Notes {
    pub(crate) fn new() -> Self {
        Notes {
            batch: Batch::new("notifications", "id, workspace_id, user_id, kind, account_id, data, created_at"),
            made: Vec::new(),
        }
    }

    /// Adds one, answering its id.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn push(
        &mut self,
        tx: &mut Tx,
        ws: WorkspaceId,
        user: UserId,
        kind: &str,
        account: Option<AccountId>,
        data: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<NotificationId> {
        let id = NotificationId::new();
        self.batch
            .push(tx, vec![Val::from(id), ws.into(), user.into(), kind.into(), account.into(), data.into(), now.into()])
            .await?;
        self.made.push((id, ws, user, kind.to_owned()));
        Ok(id)
    }

    /// Writes what is left and queues the deliveries of all.
    pub(crate) async fn flush(&mut self, tx: &mut Tx, now: DateTime<Utc>) -> Result<()> {
        self.batch.flush(tx).await?;
        crate::outbox::enqueue(tx, &self.made, now).await?;
        self.made.clear();
        Ok(())
    }
}

/// A person's notifications, newest first, before `before` (a cursor).
pub async fn list(
    db: &Db,
    ws: WorkspaceId,
    user: UserId,
    unread_only: bool,
    before: Option<NotificationId>,
    limit: i64,
) -> Result<Vec<Notification>> {
    let mut q = Sql::new("SELECT id, kind, account_id, data, created_at, read_at FROM notifications WHERE user_id = ");
    q.bind(user).push(" AND workspace_id = ").bind(ws);
    if unread_only {
        q.push(" AND read_at IS NULL");
    }
    if let Some(b) = before {
        q.push(" AND id < ").bind(b);
    }
    q.push(" ORDER BY id DESC LIMIT ").bind(limit);
    db.fetch_all(q).await
}

/// Marks one (or, without an id, all) of a person's notifications read.
pub async fn mark_read(
    db: &Db,
    ws: WorkspaceId,
    user: UserId,
    id: Option<NotificationId>,
    now: DateTime<Utc>,
) -> Result<u64> {
    let mut q = Sql::new("UPDATE notifications SET read_at = ");
    q.bind(now).push(" WHERE user_id = ").bind(user).push(" AND workspace_id = ").bind(ws).push(" AND read_at IS NULL");
    if let Some(id) = id {
        q.push(" AND id = ").bind(id);
    }
    db.execute(q).await
}
