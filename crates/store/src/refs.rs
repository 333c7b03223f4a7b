//! Checks that a reference points at a live record of the same workspace,
//! named by the field that carries it, so a bad id is a 422 on that field.

use crate::db::{Sql, Tx};
use crate::{Error, Result};
use guanxi_domain::{TeamId, UserId, WorkspaceId};

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
