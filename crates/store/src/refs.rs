//! Checks that a reference points at a live record of the same workspace,
//! named by the field that carries it, so a bad id is a 422 on that field.

use crate::db::{Sql, Tx};
use crate::{Error, Result};
use guanxi_domain::{AccountId, TeamId, UserId, WorkspaceId};

/// An active (not disabled) user of the workspace, if one is named.
pub(crate) async fn active_user(tx: &mut Tx, ws: WorkspaceId, user: Option<UserId>, field: &'static str) -> Result<()> {
    let Some(user) = user else { return Ok(()) };
    let found: Option<(UserId,)> = tx
        .fetch_optional(
            Sql::new("SELECT id FROM users WHERE id = $1 AND workspace_id = $2 AND disabled_at IS NULL")
                .arg(user)
                .arg(ws),
        )
        .await?;
    found.map(|_| ()).ok_or(Error::Invalid(field, "does not name an active user of this workspace".into()))
}

/// A team of the workspace that is not deleted, if one is named.
pub(crate) async fn live_team(tx: &mut Tx, ws: WorkspaceId, team: Option<TeamId>, field: &'static str) -> Result<()> {
    let Some(team) = team else { return Ok(()) };
    let found: Option<(TeamId,)> = tx
        .fetch_optional(
            Sql::new("SELECT id FROM teams WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL")
                .arg(team)
                .arg(ws),
        )
        .await?;
    found.map(|_| ()).ok_or(Error::Invalid(field, "does not name a team of this workspace".into()))
}

/// Whether `id` is a live record of `table` (a constant of this crate:
/// `contacts`, `opportunities`) at `account`: a touch, a task or a hook may
/// name only the account's own people and deals.
pub(crate) async fn live_at_account(
    tx: &mut Tx,
    table: &'static str,
    id: impl Into<crate::db::Val>,
    account: AccountId,
) -> Result<bool> {
    let q = Sql::new(&format!("SELECT id FROM {table} WHERE id = $1 AND account_id = $2 AND deleted_at IS NULL"));
    Ok(tx.fetch_optional::<(uuid::Uuid,)>(q.arg(id).arg(account)).await?.is_some())
}
