//! The one place where "what may this caller see" becomes SQL.
//!
//! Every list and read of workspace records appends [`push_visible`], so the
//! database filters rows (with indexes) and Rust never filters row by row.

use crate::db::Sql;
use guanxi_domain::{Scope, UserId, WorkspaceId};

/// Whose eyes a query runs for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Viewer {
    /// The caller's workspace: rows of others never match.
    pub workspace_id: WorkspaceId,
    /// How far the caller's role sees within it.
    pub scope: Scope,
}

impl Viewer {
    /// A viewer who sees the whole workspace (admins, system jobs, the CLI).
    pub fn whole(workspace_id: WorkspaceId) -> Self {
        Self { workspace_id, scope: Scope::Workspace }
    }
}

/// The columns a table's rows are scoped by.
#[derive(Clone, Copy, Debug)]
pub struct ScopeColumns<'a> {
    /// The workspace column (`a.workspace_id`).
    pub workspace: &'a str,
    /// The owning user's column, if the table has owners.
    pub owner: Option<&'a str>,
    /// The team column the row belongs to.
    pub team: &'a str,
}

/// Appends `<workspace> = $n AND (<scope filter>)` to a WHERE clause.
pub fn push_visible(q: &mut Sql, viewer: Viewer, cols: ScopeColumns<'_>) {
    q.push(cols.workspace).push(" = ").bind(viewer.workspace_id);
    match viewer.scope {
        Scope::Workspace => {}
        Scope::Own(user) => {
            q.push(" AND (");
            push_own(q, user, cols);
            q.push(")");
        }
        Scope::Team(user, team) => {
            q.push(" AND (");
            push_own(q, user, cols);
            q.push(" OR ")
                .push(cols.team)
                .push(" IN (SELECT descendant_id FROM team_closure WHERE ancestor_id = ")
                .bind(team)
                .push("))");
        }
    }
}

fn push_own(q: &mut Sql, user: UserId, cols: ScopeColumns<'_>) {
    match cols.owner {
        Some(owner) => {
            q.push(owner).push(" = ").bind(user);
        }
        // A table without owners (teams): "own" means the caller's own team.
        None => {
            q.push(cols.team).push(" IN (SELECT team_id FROM users WHERE id = ").bind(user).push(")");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use guanxi_domain::TeamId;

    const COLS: ScopeColumns<'static> =
        ScopeColumns { workspace: "u.workspace_id", owner: Some("u.id"), team: "u.team_id" };

    #[test]
    fn renders_each_scope() {
        let ws = WorkspaceId::new();
        let mut q = Sql::new("WHERE ");
        push_visible(&mut q, Viewer::whole(ws), COLS);
        assert_eq!(q.text(), "WHERE u.workspace_id = $1");

        let mut q = Sql::new("WHERE ");
        push_visible(&mut q, Viewer { workspace_id: ws, scope: Scope::Own(UserId::new()) }, COLS);
        assert_eq!(q.text(), "WHERE u.workspace_id = $1 AND (u.id = $2)");

        let mut q = Sql::new("WHERE ");
        push_visible(&mut q, Viewer { workspace_id: ws, scope: Scope::Team(UserId::new(), TeamId::new()) }, COLS);
        assert_eq!(
            q.text(),
            "WHERE u.workspace_id = $1 AND (u.id = $2 OR u.team_id IN (SELECT descendant_id FROM team_closure WHERE ancestor_id = $3))"
        );
    }
}
