//! Requests a manager decides (seed 002): registrations (报备) of a
//! customer met in the field, and transfers of an account someone else owns.
//!
//! A registered account is held out of every pool while the request is
//! pending (`accounts.pool_id` NULL), so nobody claims it meanwhile and 查重
//! tells anyone entering it again who registered it. Approval grants
//! ownership (with a protection period for a registration); rejection or
//! expiry puts the account in its pool. A decision is one conditional update
//! of the request (`… WHERE status = 'pending'`), so it is taken once.

use crate::accounts::{self, AccountFields};
use crate::audit::{self, Action, Actor};
use crate::db::{Conn, Db, Sql, Tx};
use crate::notifications;
use crate::ownership::{self, Claimant};
use crate::pool;
use crate::{Error, Result};
use chrono::{DateTime, Duration, Utc};
use guanxi_domain::{
    AccountId, PoolId, Refusal, RequestId, RequestKind, RequestStatus, Role, TeamId, UserId, WorkspaceId,
};
use serde::Serialize;

/// A request as shown.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Request {
    /// Id.
    pub id: RequestId,
    /// Registration or transfer.
    pub kind: RequestKind,
    /// The account.
    pub account_id: AccountId,
    /// Its name.
    pub account_name: String,
    /// Who asks.
    pub requester_id: UserId,
    /// Their name.
    pub requester_name: String,
    /// For a transfer: who owned the account when asked.
    pub owner_id: Option<UserId>,
    /// Their name.
    pub owner_name: Option<String>,
    /// Why (the requester's words).
    pub note: String,
    /// Where it stands.
    pub status: RequestStatus,
    /// Who decided.
    pub decided_by: Option<UserId>,
    /// Their name.
    pub decider_name: Option<String>,
    /// When.
    pub decided_at: Option<DateTime<Utc>>,
    /// The decider's words (required to reject).
    pub decision_note: Option<String>,
    /// A pending registration lapses then.
    pub expires_at: Option<DateTime<Utc>>,
    /// Filed.
    pub created_at: DateTime<Utc>,
}
crate::from_row!(Request {
    id,
    kind,
    account_id,
    account_name,
    requester_id,
    requester_name,
    owner_id,
    owner_name,
    note,
    status,
    decided_by,
    decider_name,
    decided_at,
    decision_note,
    expires_at,
    created_at
});

const SELECT: &str = "SELECT r.id, r.kind, r.account_id, a.name AS account_name, r.requester_id, \
     q.display_name AS requester_name, r.owner_id, o.display_name AS owner_name, r.note, r.status, r.decided_by, \
     d.display_name AS decider_name, r.decided_at, r.decision_note, r.expires_at, r.created_at \
     FROM ownership_requests r JOIN accounts a ON a.id = r.account_id JOIN users q ON q.id = r.requester_id \
     LEFT JOIN users o ON o.id = r.owner_id LEFT JOIN users d ON d.id = r.decided_by";

async fn get_in(mut conn: Conn<'_>, ws: WorkspaceId, id: RequestId) -> Result<Request> {
    conn.fetch_optional(Sql::new(&format!("{SELECT} WHERE r.id = $1 AND r.workspace_id = $2")).arg(id).arg(ws))
        .await?
        .ok_or(Error::NotFound)
}

/// One request of the workspace.
pub async fn get(db: &Db, ws: WorkspaceId, id: RequestId) -> Result<Request> {
    get_in(Conn::Db(db), ws, id).await
}

#[allow(clippy::too_many_arguments)]
async fn insert(
    tx: &mut Tx,
    actor: &Actor,
    kind: RequestKind,
    account: AccountId,
    requester: &Claimant,
    owner: Option<(UserId, Option<TeamId>)>,
    pool_id: Option<PoolId>,
    note: &str,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Request> {
    let id = RequestId::new();
    tx.execute(
        Sql::new(
            "INSERT INTO ownership_requests (id, workspace_id, kind, account_id, requester_id, requester_team_id, owner_id, \
             owner_team_id, pool_id, note, status, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11, $12)",
        )
        .arg(id)
        .arg(actor.workspace_id)
        .arg(kind.as_str())
        .arg(account)
        .arg(requester.user_id)
        .arg(requester.team_id)
        .arg(owner.map(|o| o.0))
        .arg(owner.and_then(|o| o.1))
        .arg(pool_id)
        .arg(note)
        .arg(expires_at)
        .arg(now),
    )
    .await?;
    let r = get_in(Conn::Tx(tx), actor.workspace_id, id).await?;
    let changes = serde_json::json!({
        "kind": {"before": null, "after": kind.as_str()},
        "account_id": {"before": null, "after": account},
        "note": {"before": null, "after": note},
    });
    audit::record(tx, actor, Action::Create, "ownership_request", id.uuid(), changes, now).await?;
    Ok(r)
}

/// Pending registrations of these accounts: (account, who registered it, their name).
pub async fn registered(db: &Db, ws: WorkspaceId, accounts: &[AccountId]) -> Result<Vec<(AccountId, UserId, String)>> {
    if accounts.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new(
        "SELECT r.account_id, r.requester_id, u.display_name FROM ownership_requests r JOIN users u ON u.id = r.requester_id \
         WHERE r.kind = 'registration' AND r.status = 'pending' AND r.workspace_id = ",
    );
    q.bind(ws).push(" AND r.account_id IN (");
    for (i, a) in accounts.iter().enumerate() {
        q.push(if i == 0 { "" } else { ", " }).bind(*a);
    }
    q.push(")");
    db.fetch_all(q).await
}

/// Files a registration (报备): a new organisation (`fields`, already
/// checked by 查重) or a pooled account (`existing`) is held for the
/// requester until a manager decides, or until it lapses.
pub async fn register(
    tx: &mut Tx,
    actor: &Actor,
    requester: &Claimant,
    fields: Option<&AccountFields>,
    existing: Option<AccountId>,
    note: &str,
    now: DateTime<Utc>,
) -> Result<Request> {
    let ws = actor.workspace_id;
    let pool = pool::default_of(Conn::Tx(tx), ws).await?;
    let (account, pool_id) = match (fields, existing) {
        (Some(f), _) => {
            let a = accounts::create(tx, actor, &AccountFields { owner_id: None, ..f.clone() }, None, now).await?;
            (a.id, pool.id)
        }
        (None, Some(id)) => {
            let (pool_id, owner): (Option<PoolId>, Option<UserId>) = tx
                .fetch_optional(
                    Sql::new("SELECT pool_id, owner_id FROM accounts WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL")
                        .arg(id)
                        .arg(ws),
                )
                .await?
                .ok_or(Error::NotFound)?;
            if owner.is_some() || pool_id.is_none() {
                return Err(Error::Refused(Refusal::NotInPool));
            }
            (id, pool_id.unwrap_or(pool.id))
        }
        (None, None) => return Err(Error::Invalid("account", "name a new organisation or a pooled account".into())),
    };
    let held = tx
        .execute(
            Sql::new("UPDATE accounts SET pool_id = NULL WHERE id = $1 AND owner_id IS NULL AND pool_id IS NOT NULL")
                .arg(account),
        )
        .await?;
    if held != 1 {
        return Err(Error::Refused(Refusal::NotInPool));
    }
    let expires = now + Duration::days(pool.rules.registration_expiry_days);
    insert(tx, actor, RequestKind::Registration, account, requester, None, Some(pool_id), note, Some(expires), now)
        .await
}

/// Asks for an account someone else owns.
pub async fn request_transfer(
    tx: &mut Tx,
    actor: &Actor,
    requester: &Claimant,
    account: AccountId,
    note: &str,
    now: DateTime<Utc>,
) -> Result<Request> {
    let (owner, team): (Option<UserId>, Option<TeamId>) = tx
        .fetch_optional(
            Sql::new(
                "SELECT owner_id, team_id FROM accounts WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL",
            )
            .arg(account)
            .arg(actor.workspace_id),
        )
        .await?
        .ok_or(Error::NotFound)?;
    let owner = match owner {
        None => return Err(Error::Conflict("in_pool".into())),
        Some(o) if o == requester.user_id => return Err(Error::Refused(Refusal::AlreadyYours)),
        Some(o) => o,
    };
    let (asked,): (i64,) = tx
        .fetch_one(
            Sql::new(
                "SELECT COUNT(*) FROM ownership_requests WHERE account_id = $1 AND requester_id = $2 AND status = 'pending'",
            )
            .arg(account)
            .arg(requester.user_id),
        )
        .await?;
    if asked > 0 {
        return Err(Error::Conflict("request_pending".into()));
    }
    insert(tx, actor, RequestKind::Transfer, account, requester, Some((owner, team)), None, note, None, now).await
}

/// Who decides.
#[derive(Clone, Copy, Debug)]
pub struct Decider {
    /// The user.
    pub user_id: UserId,
    /// Their role: admins decide anything, managers for their teams.
    pub role: Role,
    /// Their team.
    pub team_id: Option<TeamId>,
}

struct Facts {
    kind: RequestKind,
    account_id: AccountId,
    requester_id: UserId,
    requester_team_id: Option<TeamId>,
    owner_id: Option<UserId>,
    owner_team_id: Option<TeamId>,
    pool_id: Option<PoolId>,
    status: RequestStatus,
}
crate::from_row!(Facts { kind, account_id, requester_id, requester_team_id, owner_id, owner_team_id, pool_id, status });

/// Whether a manager's team contains a team.
async fn manages(tx: &mut Tx, manager_team: Option<TeamId>, team: Option<TeamId>) -> Result<bool> {
    let (Some(mine), Some(team)) = (manager_team, team) else { return Ok(false) };
    let found: Option<(TeamId,)> = tx
        .fetch_optional(
            Sql::new("SELECT descendant_id FROM team_closure WHERE ancestor_id = $1 AND descendant_id = $2")
                .arg(mine)
                .arg(team),
        )
        .await?;
    Ok(found.is_some())
}

/// Puts a held (registered) account into its pool, in its history with why.
async fn to_pool(
    tx: &mut Tx,
    actor: &Actor,
    account: AccountId,
    pool_id: PoolId,
    why: &str,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.execute(
        Sql::new(
            "UPDATE accounts SET pool_id = $1, released_at = $2, release_note = $3, updated_at = $2 WHERE id = $4 AND owner_id IS NULL",
        )
        .arg(pool_id)
        .arg(now)
        .arg(note)
        .arg(account),
    )
    .await?;
    let changes = serde_json::json!({
        "registration": {"before": "pending", "after": why},
        "release_note": {"before": null, "after": note},
    });
    audit::record(tx, actor, Action::Release, "account", account.uuid(), changes, now).await
}

/// Approves or rejects a pending request. Approval grants the account to
/// the requester (within their limit; a registration with its protection
/// period); rejecting a registration puts the account in the pool. The
/// requester is notified.
pub async fn decide(
    tx: &mut Tx,
    actor: &Actor,
    decider: Decider,
    id: RequestId,
    approve: bool,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Request> {
    let ws = actor.workspace_id;
    let f: Facts = tx
        .fetch_optional(
            Sql::new(
                "SELECT kind, account_id, requester_id, requester_team_id, owner_id, owner_team_id, pool_id, status \
                 FROM ownership_requests WHERE id = $1 AND workspace_id = $2",
            )
            .arg(id)
            .arg(ws),
        )
        .await?
        .ok_or(Error::NotFound)?;
    let manages_requester = manages(tx, decider.team_id, f.requester_team_id).await?;
    let manages_owner = manages(tx, decider.team_id, f.owner_team_id).await?;
    guanxi_domain::pool::may_decide(f.kind, decider.user_id, decider.role, f.requester_id, |side| match side {
        guanxi_domain::pool::DecidingSide::Requester => manages_requester,
        guanxi_domain::pool::DecidingSide::Owner => manages_owner,
    })
    .map_err(Error::Refused)?;
    if f.status != RequestStatus::Pending {
        return Err(Error::Refused(Refusal::NotPending));
    }
    let status = if approve { RequestStatus::Approved } else { RequestStatus::Rejected };
    let taken = tx
        .execute(
            Sql::new(
                "UPDATE ownership_requests SET status = $1, decided_by = $2, decided_at = $3, decision_note = $4 \
                 WHERE id = $5 AND status = 'pending'",
            )
            .arg(status.as_str())
            .arg(decider.user_id)
            .arg(now)
            .arg(note)
            .arg(id),
        )
        .await?;
    if taken != 1 {
        return Err(Error::Refused(Refusal::NotPending));
    }
    let (requester_name, requester_team): (String, Option<TeamId>) =
        tx.fetch_one(Sql::new("SELECT display_name, team_id FROM users WHERE id = $1").arg(f.requester_id)).await?;
    let to = Claimant { user_id: f.requester_id, name: requester_name, team_id: requester_team };
    match (f.kind, approve) {
        (RequestKind::Registration, true) => {
            let pool_id = f.pool_id.ok_or_else(|| Error::Db(format!("registration {id} has no pool")))?;
            tx.execute(Sql::new("UPDATE accounts SET pool_id = $1 WHERE id = $2").arg(pool_id).arg(f.account_id))
                .await?;
            ownership::assign(tx, actor, f.account_id, &to, None, true, now).await?;
        }
        (RequestKind::Registration, false) => {
            let pool_id = f.pool_id.ok_or_else(|| Error::Db(format!("registration {id} has no pool")))?;
            to_pool(tx, actor, f.account_id, pool_id, "rejected", note, now).await?;
        }
        (RequestKind::Transfer, true) => {
            ownership::assign(tx, actor, f.account_id, &to, f.owner_id, false, now).await?;
        }
        (RequestKind::Transfer, false) => {}
    }
    let changes = serde_json::json!({
        "status": {"before": "pending", "after": status.as_str()},
        "decision_note": {"before": null, "after": note},
    });
    audit::record(tx, actor, Action::Update, "ownership_request", id.uuid(), changes, now).await?;
    let r = get_in(Conn::Tx(tx), ws, id).await?;
    let mut notes = notifications::Notes::new();
    let data = serde_json::json!({
        "account_name": r.account_name, "kind": r.kind.as_str(), "status": r.status.as_str(), "note": note,
    });
    notes.push(tx, ws, r.requester_id, "request_decided", Some(r.account_id), data.clone(), now).await?;
    // A transfer's owner learns the outcome too: approved, the account has left them.
    if let (RequestKind::Transfer, Some(owner)) = (f.kind, f.owner_id) {
        notes.push(tx, ws, owner, "request_decided", Some(r.account_id), data, now).await?;
    }
    notes.flush(tx, now).await?;
    Ok(r)
}

/// Lapses pending registrations nobody decided in time: their accounts go
/// to the pool. For the job; re-checks its condition like the release job.
pub async fn expire(db: &Db, now: DateTime<Utc>) -> Result<u64> {
    let mut tx = db.begin().await?;
    let lapsed: Vec<(RequestId, WorkspaceId, AccountId, Option<PoolId>)> = tx
        .fetch_all(
            Sql::new(
                "UPDATE ownership_requests SET status = 'expired', decided_at = $1 \
                 WHERE status = 'pending' AND expires_at IS NOT NULL AND expires_at <= $1 \
                 RETURNING id, workspace_id, account_id, pool_id",
            )
            .arg(now),
        )
        .await?;
    for (id, ws, account, pool_id) in &lapsed {
        let actor = Actor::system(*ws, "release-job");
        if let Some(p) = pool_id {
            to_pool(&mut tx, &actor, *account, *p, "expired", None, now).await?;
        }
        let changes = serde_json::json!({"status": {"before": "pending", "after": "expired"}});
        audit::record(&mut tx, &actor, Action::Update, "ownership_request", id.uuid(), changes, now).await?;
    }
    tx.commit().await?;
    Ok(lapsed.len() as u64)
}

/// Which requests.
#[derive(Clone, Copy, Debug)]
pub enum Inbox {
    /// 待我审批: pending ones this decider may decide.
    ToDecide(Decider),
    /// 我发出的: the user's own.
    Mine(UserId),
    /// 我已审批: decided by the user.
    DecidedBy(UserId),
}

/// `head` filtered to an inbox (and a kind).
fn of_inbox(head: &str, ws: WorkspaceId, inbox: Inbox, kind: Option<RequestKind>) -> Sql {
    let mut q = Sql::new(head);
    q.push(" WHERE r.workspace_id = ").bind(ws);
    match inbox {
        Inbox::ToDecide(d) => {
            q.push(" AND r.status = 'pending' AND r.requester_id <> ").bind(d.user_id);
            match (d.role, d.team_id) {
                (Role::Admin, _) => {}
                // The deciding side of each kind (`pool::deciding_side`).
                (Role::Manager, Some(team)) => {
                    q.push(" AND ((r.kind = ")
                        .bind(RequestKind::Registration.as_str())
                        .push(
                            " AND r.requester_team_id IN (SELECT descendant_id FROM team_closure WHERE ancestor_id = ",
                        )
                        .bind(team)
                        .push(")) OR (r.kind = ")
                        .bind(RequestKind::Transfer.as_str())
                        .push(" AND r.owner_team_id IN (SELECT descendant_id FROM team_closure WHERE ancestor_id = ")
                        .bind(team)
                        .push(")))");
                }
                _ => {
                    q.push(" AND FALSE");
                }
            }
        }
        Inbox::Mine(u) => {
            q.push(" AND r.requester_id = ").bind(u);
        }
        Inbox::DecidedBy(u) => {
            q.push(" AND r.decided_by = ").bind(u);
        }
    }
    if let Some(k) = kind {
        q.push(" AND r.kind = ").bind(k.as_str());
    }
    q
}

/// Requests of an inbox, newest first, before `before`.
pub async fn list(
    db: &Db,
    ws: WorkspaceId,
    inbox: Inbox,
    kind: Option<RequestKind>,
    before: Option<RequestId>,
    limit: i64,
) -> Result<Vec<Request>> {
    let mut q = of_inbox(SELECT, ws, inbox, kind);
    if let Some(b) = before {
        q.push(" AND r.id < ").bind(b);
    }
    q.push(" ORDER BY r.id DESC LIMIT ").bind(limit);
    db.fetch_all(q).await
}

/// How many requests an inbox holds (工作台's count of approvals waiting).
pub async fn count(db: &Db, ws: WorkspaceId, inbox: Inbox) -> Result<i64> {
    let (n,): (i64,) = db.fetch_one(of_inbox("SELECT COUNT(*) FROM ownership_requests r", ws, inbox, None)).await?;
    Ok(n)
}
