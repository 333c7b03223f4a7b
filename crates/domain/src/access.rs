//! Who may see and do what: roles, the data scope each role has, and the
//! resolved `Scope` of one caller that every query is filtered by.

use crate::ids::{TeamId, UserId};
use serde::{Deserialize, Serialize};

/// A user's role in a workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 管理员: configures the workspace, manages users, teams and roles.
    Admin,
    /// 经理: leads a team and sees the teams below it.
    Manager,
    /// 销售: works their own accounts.
    Sales,
    /// 客服: after-sales service.
    Service,
}

impl Role {
    /// Every role, in the order settings show them.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Manager, Role::Sales, Role::Service];

    /// The identifier stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Sales => "sales",
            Role::Service => "service",
        }
    }

    /// Parses a stored identifier.
    pub fn parse(s: &str) -> Option<Self> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The data scope a new workspace gives this role; admins can change it in 设置.
    pub fn default_scope(self) -> DataScope {
        match self {
            Role::Admin => DataScope::Workspace,
            Role::Manager => DataScope::Team,
            Role::Sales => DataScope::Own,
            // 客服 answers any customer's ticket, so it sees the whole workspace.
            Role::Service => DataScope::Workspace,
        }
    }

    /// Whether this role changes sales records: accounts, contacts, deals,
    /// purchases, ownership (claims, 报备, transfers) and their imports.
    /// 客服 reads the customers it serves and writes touches (notes) and
    /// tasks, never the sales records themselves.
    pub fn writes_sales_records(self) -> bool {
        matches!(self, Role::Admin | Role::Manager | Role::Sales)
    }

    /// Whether this role administers the workspace (users, teams, roles, audit).
    pub fn is_admin(self) -> bool {
        self == Role::Admin
    }
}

/// How far a role's view of records reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataScope {
    /// Only records the user owns.
    Own,
    /// Records owned by anyone in the user's team or any team below it.
    Team,
    /// Every record of the workspace.
    Workspace,
}

impl DataScope {
    /// Every scope, narrowest first.
    pub const ALL: [DataScope; 3] = [DataScope::Own, DataScope::Team, DataScope::Workspace];

    /// The identifier stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            DataScope::Own => "own",
            DataScope::Team => "team",
            DataScope::Workspace => "workspace",
        }
    }

    /// Parses a stored identifier.
    pub fn parse(s: &str) -> Option<Self> {
        DataScope::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// One caller's resolved view: what the SQL scope filter needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Records owned by this user.
    Own(UserId),
    /// Records owned by this user, or belonging to this team or a team below it.
    Team(UserId, TeamId),
    /// The whole workspace.
    Workspace,
}

impl Scope {
    /// Resolves a role's data scope for a user; a team scope without a team
    /// narrows to the user's own records rather than widening.
    pub fn resolve(data_scope: DataScope, user: UserId, team: Option<TeamId>) -> Self {
        match (data_scope, team) {
            (DataScope::Workspace, _) => Scope::Workspace,
            (DataScope::Team, Some(team)) => Scope::Team(user, team),
            (DataScope::Team, None) | (DataScope::Own, _) => Scope::Own(user),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_scope_without_team_is_own() {
        let u = UserId::new();
        assert_eq!(Scope::resolve(DataScope::Team, u, None), Scope::Own(u));
        let t = TeamId::new();
        assert_eq!(Scope::resolve(DataScope::Team, u, Some(t)), Scope::Team(u, t));
        assert_eq!(Scope::resolve(DataScope::Own, u, Some(t)), Scope::Own(u));
    }

    #[test]
    fn service_reads_but_does_not_change_sales_records() {
        assert!(!Role::Service.writes_sales_records());
        assert!([Role::Admin, Role::Manager, Role::Sales].into_iter().all(Role::writes_sales_records));
    }

    #[test]
    fn identifiers_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        for d in DataScope::ALL {
            assert_eq!(DataScope::parse(d.as_str()), Some(d));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
