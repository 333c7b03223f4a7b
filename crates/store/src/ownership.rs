//! Ownership of accounts: claiming from the pool (领取), releasing to it
//! (退回, by hand or by rule), and the return date each owned account
//! carries (`release_due_at`), which the release job reads by index.
//!
//! Each change is one conditional `UPDATE` (`… WHERE owner_id IS NULL`), so
//! when many people claim one account at once exactly one row changes and
//! the others see it taken. Limits per person are counted after locking the
//! person's row (PostgreSQL; SQLite has one writer), so concurrent claims of
//! different accounts cannot together pass a limit either.

use crate::accounts::{self, Account};
use crate::audit::{self, Action, Actor};
use crate::db::{Conn, Db, Dialect, Sql, Tx};
use crate::notifications;
use crate::pool::{self, Pool};
use crate::{Error, Result};
use chrono::{DateTime, Duration, Utc};
use guanxi_domain::pool::{release_due, IdleClocks};
use guanxi_domain::{
    AccountId, Classification, PoolId, Refusal, ReleaseReason, ReleaseRule, TeamId, UserId, WorkspaceId,
};
use uuid::Uuid;

/// The person who would own an account.
#[derive(Clone, Debug)]
pub struct Claimant {
    /// The user.
    pub user_id: UserId,
    /// Their name, for messages.
    pub name: String,
    /// Their team: an account follows its owner's team.
    pub team_id: Option<TeamId>,
}

struct State {
    name: String,
    owner_id: Option<UserId>,
    owner_name: Option<String>,
    pool_id: Option<PoolId>,
    classification: Option<Classification>,
    deleted_at: Option<DateTime<Utc>>,
    previous_owner_id: Option<UserId>,
    released_at: Option<DateTime<Utc>>,
}
crate::from_row!(State {
    name,
    owner_id,
    owner_name,
    pool_id,
    classification,
    deleted_at,
    previous_owner_id,
    released_at
});

async fn state(tx: &mut Tx, ws: WorkspaceId, id: AccountId) -> Result<State> {
    let s: State = tx
        .fetch_optional(
            Sql::new(
                "SELECT a.name, a.owner_id, o.display_name AS owner_name, a.pool_id, a.classification, a.deleted_at, \
                 a.previous_owner_id, a.released_at FROM accounts a LEFT JOIN users o ON o.id = a.owner_id \
                 WHERE a.id = $1 AND a.workspace_id = $2",
            )
            .arg(id)
            .arg(ws),
        )
        .await?
        .ok_or(Error::NotFound)?;
    if s.deleted_at.is_some() {
        return Err(Error::NotFound);
    }
    Ok(s)
}

fn owned_by(id: AccountId, s: &State, owner: UserId) -> Error {
    Error::Refused(Refusal::OwnedByOther {
        account_id: id,
        account_name: s.name.clone(),
        owner_id: owner,
        owner_name: s.owner_name.clone().unwrap_or_default(),
    })
}

/// Serialises every ownership change of one person: on PostgreSQL by locking
/// their row until the transaction ends; SQLite's single writer already does.
async fn lock_person(tx: &mut Tx, user: UserId) -> Result<()> {
    if tx.dialect() == Dialect::Postgres {
        tx.execute(Sql::new("SELECT id FROM users WHERE id = $1 FOR UPDATE").arg(user)).await?;
    }
    Ok(())
}

/// Refuses when `user` already owns as many of the pool's accounts as it
/// allows. Locks the person first: call inside the transaction that grants.
pub async fn check_limit(tx: &mut Tx, ws: WorkspaceId, pool: &Pool, user: UserId, account: AccountId) -> Result<()> {
    lock_person(tx, user).await?;
    within_limit(tx, ws, pool, user, account).await
}

/// The limit check of [`check_limit`], for a caller holding the person's lock.
/// `account` is the one being given, not counted: an edit has already written its new owner.
async fn within_limit(tx: &mut Tx, ws: WorkspaceId, pool: &Pool, user: UserId, account: AccountId) -> Result<()> {
    if pool.rules.max_owned.is_none() {
        return Ok(());
    }
    let owned = owned_in(tx, ws, pool, user, account).await?;
    match guanxi_domain::pool::within_limit(&pool.rules, owned) {
        Ok(()) => Ok(()),
        Err(refusal) => Err(refused(tx, user, refusal).await),
    }
}

/// Accounts of `pool` that `user` owns, leaving out `account` (the one being given).
async fn owned_in(tx: &mut Tx, ws: WorkspaceId, pool: &Pool, user: UserId, account: AccountId) -> Result<i64> {
    let (owned,): (i64,) = tx
        .fetch_one(
            Sql::new(
                "SELECT COUNT(*) FROM accounts WHERE workspace_id = $1 AND owner_id = $2 AND pool_id = $3 \
                 AND deleted_at IS NULL AND id <> $4",
            )
            .arg(ws)
            .arg(user)
            .arg(pool.id)
            .arg(account),
        )
        .await?;
    Ok(owned)
}

/// A claim refusal of the domain, with the names its message says.
async fn refused(tx: &mut Tx, user: UserId, r: guanxi_domain::pool::ClaimRefusal) -> Error {
    use guanxi_domain::pool::ClaimRefusal as C;
    Error::Refused(match r {
        C::NotInPool => Refusal::NotInPool,
        C::Cooldown { until } => Refusal::Cooldown { until },
        C::DailyClaims { limit } => Refusal::DailyClaims { limit },
        C::OwnershipLimit { limit } => {
            let name =
                tx.fetch_one::<(String,)>(Sql::new("SELECT display_name FROM users WHERE id = $1").arg(user)).await;
            match name {
                Ok((user_name,)) => Refusal::OwnershipLimit { user_name, limit },
                Err(e) => return e,
            }
        }
    })
}

/// Makes `to` the owner of an account that `expect` owns now (`None`: in the
/// pool), with fresh clocks and return date, in one conditional update.
/// `false` when someone else changed the owner first.
#[allow(clippy::too_many_arguments)]
async fn grant(
    tx: &mut Tx,
    ws: WorkspaceId,
    id: AccountId,
    pool: &Pool,
    class: Option<Classification>,
    to: &Claimant,
    expect: Option<UserId>,
    protected_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let due = release_due(&pool.rules.return_after, class, &IdleClocks::starting(now), protected_until);
    let mut q = Sql::new("UPDATE accounts SET owner_id = ");
    q.bind(to.user_id)
        .push(", team_id = COALESCE(")
        .bind(to.team_id)
        .push(", team_id), owned_at = ")
        .bind(now)
        .push(", activity_clock_at = ")
        .bind(now)
        .push(", progress_clock_at = ")
        .bind(now)
        .push(", deal_clock_at = ")
        .bind(now)
        .push(", protected_until = ")
        .bind(protected_until)
        .push(", release_due_at = ")
        .bind(due.map(|d| d.0))
        .push(", release_rule = ")
        .bind(due.map(|d| d.1.as_str()))
        .push(", release_warned_at = NULL, updated_at = ")
        .bind(now)
        .push(" WHERE id = ")
        .bind(id)
        .push(" AND workspace_id = ")
        .bind(ws)
        .push(" AND deleted_at IS NULL AND ");
    // Naming the pool (or the owner) lets PostgreSQL find the row through the
    // index that matches the whole condition; given (workspace, id) alone it
    // took the partial pool index and walked the workspace's part of it
    // (measured: 30–100 ms per claim at a million accounts).
    match expect {
        None => q.push("owner_id IS NULL AND pool_id = ").bind(pool.id),
        Some(owner) => q.push("owner_id = ").bind(owner),
    };
    Ok(tx.execute(q).await? == 1)
}

/// Claims (领取) a pooled account for `who`: they must belong to its pool,
/// be past their cooldown if they released it, and be under the pool's
/// daily and ownership limits. `day_start` is midnight of today in the
/// workspace's time zone.
pub async fn claim(
    tx: &mut Tx,
    actor: &Actor,
    who: &Claimant,
    id: AccountId,
    day_start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Account> {
    let ws = actor.workspace_id;
    lock_person(tx, who.user_id).await?;
    let s = state(tx, ws, id).await?;
    match s.owner_id {
        Some(owner) if owner == who.user_id => return Err(Error::Refused(Refusal::AlreadyYours)),
        Some(owner) => return Err(owned_by(id, &s, owner)),
        None => {}
    }
    let pool_id = s.pool_id.ok_or(Error::Refused(Refusal::NotInPool))?;
    let pool = pool::get(Conn::Tx(tx), ws, pool_id).await?;
    // The facts, counted under the claimant's lock; the rule is the domain's.
    let member = pool::is_member(Conn::Tx(tx), &pool, who.user_id, who.team_id).await?;
    let released_by_claimant_at = match (s.previous_owner_id, s.released_at) {
        (Some(prev), Some(at)) if prev == who.user_id => Some(at),
        _ => None,
    };
    let claims_today = match pool.rules.daily_claims {
        None => 0,
        Some(_) => {
            let q = Sql::new(
                "SELECT COUNT(*) FROM audit_log WHERE workspace_id = $1 AND actor_id = $2 AND action = 'claim' AND at >= $3",
            );
            tx.fetch_one::<(i64,)>(q.arg(ws).arg(who.user_id).arg(day_start)).await?.0
        }
    };
    let owned_in_pool = match pool.rules.max_owned {
        None => 0,
        Some(_) => owned_in(tx, ws, &pool, who.user_id, id).await?,
    };
    let facts = guanxi_domain::pool::ClaimFacts { member, released_by_claimant_at, claims_today, owned_in_pool };
    if let Err(r) = guanxi_domain::pool::may_claim(&pool.rules, &facts, now) {
        return Err(refused(tx, who.user_id, r).await);
    }
    if !grant(tx, ws, id, &pool, s.classification, who, None, None, now).await? {
        // Someone else's claim committed between our read and our update.
        let s = state(tx, ws, id).await?;
        return Err(match s.owner_id {
            Some(owner) => owned_by(id, &s, owner),
            None => Error::Refused(Refusal::NotInPool),
        });
    }
    let changes = serde_json::json!({
        "owner_id": {"before": null, "after": who.user_id},
        "pool": {"before": pool.name, "after": null},
    });
    audit::record(tx, actor, Action::Claim, "account", id.uuid(), changes, now).await?;
    carry(tx, actor, id, None, Some(who.user_id), now).await?;
    accounts::get_in_tx(tx, ws, id).await
}

/// Releases (退回) an account to its pool by hand, with the owner's reason.
/// Only the owner, unless `on_behalf` (a manager or admin who may see it).
#[allow(clippy::too_many_arguments)]
pub async fn release(
    tx: &mut Tx,
    actor: &Actor,
    by: UserId,
    on_behalf: bool,
    id: AccountId,
    reason: ReleaseReason,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Account> {
    let ws = actor.workspace_id;
    let s = state(tx, ws, id).await?;
    let owner = s.owner_id.ok_or(Error::Refused(Refusal::NotOwner))?;
    if owner != by && !on_behalf {
        return Err(Error::Refused(Refusal::NotOwner));
    }
    let changed = tx
        .execute(
            Sql::new(
                "UPDATE accounts SET previous_owner_id = owner_id, owner_id = NULL, owned_at = NULL, released_at = $1, \
                 release_reason = $2, release_note = $3, release_due_at = NULL, release_rule = NULL, \
                 release_warned_at = NULL, protected_until = NULL, updated_at = $1 \
                 WHERE id = $4 AND workspace_id = $5 AND owner_id = $6",
            )
            .arg(now)
            .arg(reason.as_str())
            .arg(note)
            .arg(id)
            .arg(ws)
            .arg(owner),
        )
        .await?;
    if changed != 1 {
        return Err(Error::Refused(Refusal::NotOwner));
    }
    let changes = serde_json::json!({
        "owner_id": {"before": owner, "after": null},
        "release_reason": {"before": null, "after": reason.as_str()},
        "release_note": {"before": null, "after": note},
    });
    audit::record(tx, actor, Action::Release, "account", id.uuid(), changes, now).await?;
    carry(tx, actor, id, Some(owner), None, now).await?;
    accounts::get_in_tx(tx, ws, id).await
}

/// Gives an account to `to` by a decision (an approved registration or
/// transfer): within their limit, from `expect` (`None`: unowned), with a
/// registration's protection period when `protect`.
pub(crate) async fn assign(
    tx: &mut Tx,
    actor: &Actor,
    id: AccountId,
    to: &Claimant,
    expect: Option<UserId>,
    protect: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    let ws = actor.workspace_id;
    let s = state(tx, ws, id).await?;
    let pool = match s.pool_id {
        Some(p) => pool::get(Conn::Tx(tx), ws, p).await?,
        None => pool::default_of(Conn::Tx(tx), ws).await?,
    };
    check_limit(tx, ws, &pool, to.user_id, id).await?;
    let protected_until = protect.then(|| now + Duration::days(pool.rules.protection_days));
    if !grant(tx, ws, id, &pool, s.classification, to, expect, protected_until, now).await? {
        return Err(Error::Refused(Refusal::OwnerChanged));
    }
    let changes = serde_json::json!({
        "owner_id": {"before": expect, "after": to.user_id},
        "protected_until": {"before": null, "after": protected_until},
    });
    audit::record(tx, actor, Action::Assign, "account", id.uuid(), changes, now).await?;
    carry(tx, actor, id, expect, Some(to.user_id), now).await?;
    Ok(())
}

/// What restarts one of an owned account's idle clocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Touch {
    /// A logged call, visit or message (the no-activity rule).
    Activity,
    /// An opportunity moved a stage (the no-progress rule).
    Progress,
    /// A deal was won (the no-deal rule).
    Deal,
}

/// Restarts a clock of an owned account and works out its return date
/// again; logging an activity or moving an opportunity calls this in the
/// same transaction. Nothing happens to an account in the pool.
pub async fn touch(tx: &mut Tx, ws: WorkspaceId, id: AccountId, what: Touch, now: DateTime<Utc>) -> Result<()> {
    touch_from(tx, ws, id, what, now, false).await
}

/// A touch that happened at `at` (an imported one): the clock moves
/// forward to it, never back; a touch older than the clock changes nothing.
pub async fn touch_at(tx: &mut Tx, ws: WorkspaceId, id: AccountId, what: Touch, at: DateTime<Utc>) -> Result<()> {
    touch_from(tx, ws, id, what, at, true).await
}

async fn touch_from(
    tx: &mut Tx,
    ws: WorkspaceId,
    id: AccountId,
    what: Touch,
    at: DateTime<Utc>,
    forward_only: bool,
) -> Result<()> {
    let column = match what {
        Touch::Activity => "activity_clock_at",
        Touch::Progress => "progress_clock_at",
        Touch::Deal => "deal_clock_at",
    };
    let forward = if forward_only { format!(" AND ({column} IS NULL OR {column} < $1)") } else { String::new() };
    let changed = tx
        .execute(
            Sql::new(&format!(
                "UPDATE accounts SET {column} = $1 WHERE id = $2 AND workspace_id = $3 AND owner_id IS NOT NULL{forward}"
            ))
            .arg(at)
            .arg(id)
            .arg(ws),
        )
        .await?;
    if changed == 1 {
        refresh(tx, ws, id).await?;
    }
    Ok(())
}

/// Moves an account to another pool (a manager's decision): unowned, it
/// now sits there; owned, it will return there, by that pool's rules.
pub async fn move_to_pool(tx: &mut Tx, actor: &Actor, id: AccountId, to: &Pool, now: DateTime<Utc>) -> Result<Account> {
    let ws = actor.workspace_id;
    let s = state(tx, ws, id).await?;
    let Some(from) = s.pool_id else { return Err(Error::Refused(Refusal::NotInPool)) };
    if from != to.id {
        tx.execute(
            Sql::new("UPDATE accounts SET pool_id = $1, updated_at = $2 WHERE id = $3 AND workspace_id = $4")
                .arg(to.id)
                .arg(now)
                .arg(id)
                .arg(ws),
        )
        .await?;
        refresh(tx, ws, id).await?;
        let changes = serde_json::json!({"pool_id": {"before": from, "after": to.id}});
        audit::record(tx, actor, Action::Update, "account", id.uuid(), changes, now).await?;
    }
    accounts::get_in_tx(tx, ws, id).await
}

/// After an account's owner was changed by an edit (a manager's 分配): the
/// new owner's limit is checked and their clocks start; an account left
/// without owner is in the pool, released by hand.
pub(crate) async fn owner_changed(
    tx: &mut Tx,
    ws: WorkspaceId,
    id: AccountId,
    before: Option<UserId>,
    after: Option<UserId>,
    now: DateTime<Utc>,
) -> Result<()> {
    match after {
        Some(owner) => {
            let s = state(tx, ws, id).await?;
            let pool = match s.pool_id {
                Some(p) => pool::get(Conn::Tx(tx), ws, p).await?,
                None => pool::default_of(Conn::Tx(tx), ws).await?,
            };
            check_limit(tx, ws, &pool, owner, id).await?;
            let to = Claimant { user_id: owner, name: String::new(), team_id: None };
            grant(tx, ws, id, &pool, s.classification, &to, Some(owner), None, now).await?;
        }
        None => {
            tx.execute(
                Sql::new(
                    "UPDATE accounts SET previous_owner_id = $1, owned_at = NULL, released_at = $2, release_reason = 'manual', \
                     release_due_at = NULL, release_rule = NULL, release_warned_at = NULL, protected_until = NULL \
                     WHERE id = $3 AND workspace_id = $4",
                )
                .arg(before)
                .arg(now)
                .arg(id)
                .arg(ws),
            )
            .await?;
        }
    }
    Ok(())
}

struct Clocks {
    id: AccountId,
    classification: Option<Classification>,
    activity_clock_at: Option<DateTime<Utc>>,
    progress_clock_at: Option<DateTime<Utc>>,
    deal_clock_at: Option<DateTime<Utc>>,
    protected_until: Option<DateTime<Utc>>,
}
crate::from_row!(Clocks { id, classification, activity_clock_at, progress_clock_at, deal_clock_at, protected_until });

const CLOCKS: &str =
    "SELECT id, classification, activity_clock_at, progress_clock_at, deal_clock_at, protected_until FROM accounts";

/// Rows per `UPDATE … FROM (VALUES …)`: three arguments each.
const REFRESH_BATCH: usize = 2000;

/// Writes the return date of owned accounts from their clocks and the pool's rules.
async fn write_due(tx: &mut Tx, pool: &Pool, rows: &[Clocks]) -> Result<()> {
    for chunk in rows.chunks(REFRESH_BATCH) {
        let mut q = Sql::new("UPDATE accounts SET release_due_at = v.column2, release_rule = v.column3, release_warned_at = NULL FROM (VALUES ");
        for (i, r) in chunk.iter().enumerate() {
            let due = match (r.activity_clock_at, r.progress_clock_at, r.deal_clock_at) {
                (Some(activity), Some(progress), Some(deal)) => release_due(
                    &pool.rules.return_after,
                    r.classification,
                    &IdleClocks { activity, progress, deal },
                    r.protected_until,
                ),
                _ => None,
            };
            q.push(if i == 0 { "(" } else { ", (" })
                .bind(r.id)
                .push(", ")
                .bind(due.map(|d| d.0))
                .push(", ")
                .bind(due.map(|d| d.1.as_str()))
                .push(")");
        }
        q.push(") AS v WHERE accounts.id = v.column1");
        tx.execute(q).await?;
    }
    Ok(())
}

/// Works out again when some owned accounts return (their class changed).
pub(crate) async fn refresh(tx: &mut Tx, ws: WorkspaceId, id: AccountId) -> Result<()> {
    let s = state(tx, ws, id).await?;
    let (Some(pool_id), Some(_)) = (s.pool_id, s.owner_id) else { return Ok(()) };
    let pool = pool::get(Conn::Tx(tx), ws, pool_id).await?;
    let rows: Vec<Clocks> =
        tx.fetch_all(Sql::new(&format!("{CLOCKS} WHERE id = $1 AND workspace_id = $2")).arg(id).arg(ws)).await?;
    write_due(tx, &pool, &rows).await
}

/// Works out again when every owned account of a pool returns (its rules changed).
pub async fn refresh_pool(tx: &mut Tx, pool: &Pool) -> Result<()> {
    let mut after = AccountId::from_uuid(Uuid::nil());
    loop {
        let rows: Vec<Clocks> = tx
            .fetch_all(
                Sql::new(&format!(
                    "{CLOCKS} WHERE pool_id = $1 AND owner_id IS NOT NULL AND id > $2 ORDER BY id LIMIT {REFRESH_BATCH}"
                ))
                .arg(pool.id)
                .arg(after),
            )
            .await?;
        let Some(last) = rows.last() else { return Ok(()) };
        after = last.id;
        write_due(tx, pool, &rows).await?;
    }
}

/// What one run of the release job did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct JobReport {
    /// Accounts returned to their pool by a rule.
    pub released: u64,
    /// Owners warned of an upcoming return.
    pub warned: u64,
    /// Registrations nobody decided in time (their accounts went to the pool).
    pub registrations_expired: u64,
}

/// Accounts per transaction of the release job.
const JOB_BATCH: i64 = 1000;

struct Released {
    id: AccountId,
    workspace_id: WorkspaceId,
    previous_owner_id: Option<UserId>,
    release_reason: Option<ReleaseReason>,
}
crate::from_row!(Released { id, workspace_id, previous_owner_id, release_reason });

struct Warned {
    id: AccountId,
    workspace_id: WorkspaceId,
    owner_id: Option<UserId>,
    name: String,
    release_due_at: Option<DateTime<Utc>>,
    release_rule: Option<ReleaseRule>,
}
crate::from_row!(Warned { id, workspace_id, owner_id, name, release_due_at, release_rule });

/// The release job: returns every account whose date has come to its pool
/// (with the rule as the reason), then warns owners of returns within each
/// pool's warning period. Idempotent, and safe when several instances run it
/// at once: each update re-checks its condition, and only rows it changed
/// get an audit entry or a notification.
pub async fn run_job(db: &Db, now: DateTime<Utc>) -> Result<JobReport> {
    let mut report = JobReport::default();
    loop {
        let mut tx = db.begin().await?;
        let due: Vec<(AccountId,)> = tx
            .fetch_all(
                Sql::new(&format!(
                    "SELECT id FROM accounts WHERE release_due_at IS NOT NULL AND release_due_at <= $1 \
                     AND owner_id IS NOT NULL AND deleted_at IS NULL ORDER BY release_due_at LIMIT {JOB_BATCH}"
                ))
                .arg(now),
            )
            .await?;
        if due.is_empty() {
            tx.commit().await?;
            break;
        }
        let mut q = Sql::new(
            "UPDATE accounts SET previous_owner_id = owner_id, owner_id = NULL, owned_at = NULL, released_at = ",
        );
        q.bind(now)
            .push(", release_reason = release_rule, release_note = NULL, release_due_at = NULL, release_rule = NULL, ")
            .push("release_warned_at = NULL, protected_until = NULL, updated_at = ")
            .bind(now)
            .push(" WHERE release_due_at <= ")
            .bind(now)
            .push(" AND owner_id IS NOT NULL AND deleted_at IS NULL AND id IN (");
        for (i, (id,)) in due.iter().enumerate() {
            q.push(if i == 0 { "" } else { ", " }).bind(*id);
        }
        q.push(") RETURNING id, workspace_id, previous_owner_id, release_reason");
        let released: Vec<Released> = tx.fetch_all(q).await?;
        let mut entries = audit::batch();
        for r in &released {
            let actor = Actor::system(r.workspace_id, "release-job");
            let changes = serde_json::json!({
                "owner_id": {"before": r.previous_owner_id, "after": null},
                "release_reason": {"before": null, "after": r.release_reason.map(|x| x.as_str())},
            });
            audit::push(&mut entries, &mut tx, &actor, Action::Release, "account", r.id.uuid(), changes, now).await?;
        }
        entries.flush(&mut tx).await?;
        for r in &released {
            let actor = Actor::system(r.workspace_id, "release-job");
            carry(&mut tx, &actor, r.id, r.previous_owner_id, None, now).await?;
        }
        tx.commit().await?;
        report.released += released.len() as u64;
    }
    report.registrations_expired = crate::requests::expire(db, now).await?;
    let pools: Vec<(PoolId, serde_json::Value)> = db.fetch_all(Sql::new("SELECT id, rules FROM pools")).await?;
    for (pool_id, rules) in pools {
        let Ok(rules) = serde_json::from_value::<guanxi_domain::PoolRules>(rules) else { continue };
        if rules.warn_days <= 0 {
            continue;
        }
        let horizon = now + Duration::days(rules.warn_days);
        loop {
            let mut tx = db.begin().await?;
            let warned: Vec<Warned> = tx
                .fetch_all(
                    Sql::new(&format!(
                        "UPDATE accounts SET release_warned_at = $1 WHERE release_warned_at IS NULL AND owner_id IS NOT NULL \
                         AND id IN (SELECT id FROM accounts WHERE release_due_at IS NOT NULL AND release_due_at <= $2 \
                         AND pool_id = $3 AND release_warned_at IS NULL AND owner_id IS NOT NULL AND deleted_at IS NULL \
                         ORDER BY release_due_at LIMIT {JOB_BATCH}) \
                         RETURNING id, workspace_id, owner_id, name, release_due_at, release_rule"
                    ))
                    .arg(now)
                    .arg(horizon)
                    .arg(pool_id),
                )
                .await?;
            let mut notes = notifications::Notes::new();
            for w in &warned {
                let Some(owner) = w.owner_id else { continue };
                let data = serde_json::json!({
                    "account_name": w.name,
                    "release_due_at": w.release_due_at,
                    "release_rule": w.release_rule.map(|r| r.as_str()),
                });
                notes.push(&mut tx, w.workspace_id, owner, "release_warning", Some(w.id), data, now).await?;
            }
            notes.flush(&mut tx, now).await?;
            tx.commit().await?;
            report.warned += warned.len() as u64;
            if (warned.len() as i64) < JOB_BATCH {
                break;
            }
        }
    }
    Ok(report)
}

/// What a handover (交接) moves where.
#[derive(Clone, Debug)]
pub struct HandoverPlan {
    /// The leaving (or moving) salesperson.
    pub from: UserId,
    /// The colleagues who take the accounts over, in turn; empty: all to the pool.
    pub to: Vec<Claimant>,
    /// Disable the user afterwards (they stay the author of their past records).
    pub disable: bool,
}

/// One account of a handover and where it goes.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Moved {
    /// The account.
    pub account_id: AccountId,
    /// Its name.
    pub account_name: String,
    /// Its new owner; `null`: the pool.
    pub to_user_id: Option<UserId>,
    /// Their name.
    pub to_name: Option<String>,
}

/// What a handover moves (preview) or moved.
#[derive(Clone, Debug, Default, serde::Serialize, utoipa::ToSchema)]
pub struct HandoverReport {
    /// Every account and where it goes.
    pub accounts: Vec<Moved>,
    /// Contacts at those accounts (they follow their account).
    pub contacts: i64,
    /// The user's pending registrations and transfer requests, withdrawn.
    pub requests_withdrawn: i64,
    /// Colleagues the plan would put over their pool's limit: (name, accounts they would own, limit).
    pub over_limit: Vec<(String, i64, i64)>,
    /// Whether the user is disabled.
    pub user_disabled: bool,
    /// What goes with the accounts: their open hooks and tasks, open deals,
    /// and others' pending transfer requests for them.
    pub carried: Carried,
}

struct Owned {
    id: AccountId,
    name: String,
    pool_id: Option<PoolId>,
    classification: Option<Classification>,
}
crate::from_row!(Owned { id, name, pool_id, classification });

/// Hands a salesperson's accounts to colleagues in turn (or all to the
/// pool), withdraws their pending requests and optionally disables them, in
/// one transaction. With `preview`, works everything out and changes nothing.
/// A plan that would put someone over their pool's limit is refused.
pub async fn handover(
    tx: &mut Tx,
    actor: &Actor,
    plan: &HandoverPlan,
    preview: bool,
    now: DateTime<Utc>,
) -> Result<HandoverReport> {
    let ws = actor.workspace_id;
    let mut targets: Vec<&Claimant> = plan.to.iter().collect();
    targets.sort_by_key(|c| c.user_id);
    for t in &targets {
        lock_person(tx, t.user_id).await?;
    }
    let owned: Vec<Owned> = tx
        .fetch_all(
            Sql::new(
                "SELECT id, name, pool_id, classification FROM accounts WHERE workspace_id = $1 AND owner_id = $2 AND deleted_at IS NULL ORDER BY id",
            )
            .arg(ws)
            .arg(plan.from),
        )
        .await?;
    let mut report = HandoverReport::default();
    // In turn, in the order given.
    for (i, a) in owned.iter().enumerate() {
        let to = plan.to.get(i % plan.to.len().max(1)).filter(|_| !plan.to.is_empty());
        report.accounts.push(Moved {
            account_id: a.id,
            account_name: a.name.clone(),
            to_user_id: to.map(|t| t.user_id),
            to_name: to.map(|t| t.name.clone()),
        });
    }
    // Limits per colleague and pool.
    let mut pools: Vec<Pool> = Vec::new();
    for t in &plan.to {
        let mut per_pool: Vec<(Option<PoolId>, i64)> = Vec::new();
        for (a, m) in owned.iter().zip(&report.accounts) {
            if m.to_user_id == Some(t.user_id) {
                match per_pool.iter_mut().find(|(p, _)| *p == a.pool_id) {
                    Some(e) => e.1 += 1,
                    None => per_pool.push((a.pool_id, 1)),
                }
            }
        }
        for (pool_id, adding) in per_pool {
            let Some(pool_id) = pool_id else { continue };
            if !pools.iter().any(|p| p.id == pool_id) {
                pools.push(pool::get(Conn::Tx(tx), ws, pool_id).await?);
            }
            let Some(limit) = pools.iter().find(|p| p.id == pool_id).and_then(|p| p.rules.max_owned) else { continue };
            let (has,): (i64,) = tx
                .fetch_one(
                    Sql::new(
                        "SELECT COUNT(*) FROM accounts WHERE workspace_id = $1 AND owner_id = $2 AND pool_id = $3 AND deleted_at IS NULL",
                    )
                    .arg(ws)
                    .arg(t.user_id)
                    .arg(pool_id),
                )
                .await?;
            if has + adding > limit {
                report.over_limit.push((t.name.clone(), has + adding, limit));
            }
        }
    }
    let mut count =
        Sql::new("SELECT COUNT(*) FROM contacts c JOIN accounts a ON a.id = c.account_id WHERE a.workspace_id = ");
    count
        .bind(ws)
        .push(" AND a.owner_id = ")
        .bind(plan.from)
        .push(" AND a.deleted_at IS NULL AND c.deleted_at IS NULL");
    let (contacts,): (i64,) = tx.fetch_one(count).await?;
    report.contacts = contacts;
    let (pending,): (i64,) = tx
        .fetch_one(
            Sql::new("SELECT COUNT(*) FROM ownership_requests WHERE workspace_id = $1 AND requester_id = $2 AND status = 'pending'")
                .arg(ws)
                .arg(plan.from),
        )
        .await?;
    report.requests_withdrawn = pending;
    if report.accounts.is_empty() && pending == 0 {
        return Err(Error::Invalid(
            "from_user_id",
            "owns no account and has no pending request: there is nothing to hand over (a user is disabled in 设置 → 用户)"
                .into(),
        ));
    }
    report.user_disabled = plan.disable;
    report.carried = would_carry(tx, ws, plan.from, plan.to.is_empty()).await?;
    if preview {
        return Ok(report);
    }
    if let Some((user_name, _, limit)) = report.over_limit.first() {
        return Err(Error::Refused(Refusal::OwnershipLimit { user_name: user_name.clone(), limit: *limit }));
    }
    let mut entries = audit::batch();
    for (a, m) in owned.iter().zip(&report.accounts) {
        match plan.to.iter().find(|t| Some(t.user_id) == m.to_user_id) {
            Some(to) => {
                let pool = match a.pool_id {
                    Some(p) => pools.iter().find(|x| x.id == p).cloned(),
                    None => None,
                };
                let pool = match pool {
                    Some(p) => p,
                    None => pool::default_of(Conn::Tx(tx), ws).await?,
                };
                if !grant(tx, ws, a.id, &pool, a.classification, to, Some(plan.from), None, now).await? {
                    return Err(Error::Refused(Refusal::OwnerChanged));
                }
            }
            None => {
                tx.execute(
                    Sql::new(
                        "UPDATE accounts SET previous_owner_id = owner_id, owner_id = NULL, owned_at = NULL, released_at = $1, \
                         release_reason = 'handover', release_note = NULL, release_due_at = NULL, release_rule = NULL, \
                         release_warned_at = NULL, protected_until = NULL, updated_at = $1 WHERE id = $2 AND owner_id = $3",
                    )
                    .arg(now)
                    .arg(a.id)
                    .arg(plan.from),
                )
                .await?;
            }
        }
        let changes = serde_json::json!({"owner_id": {"before": plan.from, "after": m.to_user_id}});
        audit::push(&mut entries, tx, actor, Action::Handover, "account", a.id.uuid(), changes, now).await?;
    }
    entries.flush(tx).await?;
    // What the preview said goes with the accounts, now done (and counted as done).
    let mut carried = Carried::default();
    for m in &report.accounts {
        carried += carry(tx, actor, m.account_id, Some(plan.from), m.to_user_id, now).await?;
    }
    report.carried = carried;
    // Their pending registrations lapse into the pool; transfer requests end.
    let withdrawn: Vec<(AccountId, Option<PoolId>)> = tx
        .fetch_all(
            Sql::new(
                "UPDATE ownership_requests SET status = 'withdrawn', decided_at = $1 \
                 WHERE workspace_id = $2 AND requester_id = $3 AND status = 'pending' RETURNING account_id, pool_id",
            )
            .arg(now)
            .arg(ws)
            .arg(plan.from),
        )
        .await?;
    for (account, pool_id) in withdrawn {
        if let Some(p) = pool_id {
            tx.execute(
                Sql::new("UPDATE accounts SET pool_id = $1, released_at = $2 WHERE id = $3 AND owner_id IS NULL")
                    .arg(p)
                    .arg(now)
                    .arg(account),
            )
            .await?;
        }
    }
    if plan.disable {
        crate::users::set_disabled(tx, actor, plan.from, true, now).await?;
    }
    let summary = serde_json::json!({
        "handover": {"before": null, "after": {
            "accounts": report.accounts.len(),
            "to": plan.to.iter().map(|t| t.user_id).collect::<Vec<_>>(),
            "contacts": report.contacts,
            "requests_withdrawn": report.requests_withdrawn,
            "tasks_moved": report.carried.tasks_moved,
            "tasks_closed": report.carried.tasks_closed,
            "deals_moved": report.carried.deals_moved,
            "disabled": plan.disable,
        }},
    });
    audit::record(tx, actor, Action::Handover, "user", plan.from.uuid(), summary, now).await?;
    Ok(report)
}

/// What went with one account when it changed hands (`carry`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Carried {
    /// Open hooks and tasks now the new owner's.
    pub tasks_moved: i64,
    /// Open hooks and tasks closed as the account went to the pool.
    pub tasks_closed: i64,
    /// Open deals now the new owner's (or ownerless, in the pool).
    pub deals_moved: i64,
    /// Pending transfer requests for the account, ended.
    pub transfers_withdrawn: i64,
}

impl std::ops::AddAssign for Carried {
    fn add_assign(&mut self, o: Self) {
        self.tasks_moved += o.tasks_moved;
        self.tasks_closed += o.tasks_closed;
        self.deals_moved += o.deals_moved;
        self.transfers_withdrawn += o.transfers_withdrawn;
    }
}

/// Moves what goes with account `id` as it passes from `from` (`None`: the
/// pool) to `to` (`None`: the pool), as `domain::pool::carry` decides, in the
/// caller's transaction, with an audit entry for every record moved. Every
/// change of an account's owner calls this: claim, release (by hand, by rule,
/// in a handover), assignment by a decision, an owner set by hand.
pub async fn carry(
    tx: &mut Tx,
    actor: &Actor,
    id: AccountId,
    from: Option<UserId>,
    to: Option<UserId>,
    now: DateTime<Utc>,
) -> Result<Carried> {
    use guanxi_domain::pool::Fate;
    let ws = actor.workspace_id;
    let rule = guanxi_domain::pool::carry(to);
    let mut done = Carried::default();
    let mut entries = audit::batch();
    if let Some(from) = from {
        let mut q = match rule.open_tasks {
            Fate::To(user) => {
                let mut q = Sql::new("UPDATE tasks SET assignee_id = ");
                q.bind(user);
                q
            }
            Fate::Close | Fate::Unowned => Sql::new("UPDATE tasks SET status = 'cancelled', remind_at = NULL"),
        };
        q.push(", updated_at = ")
            .bind(now)
            .push(" WHERE workspace_id = ")
            .bind(ws)
            .push(" AND account_id = ")
            .bind(id)
            .push(" AND assignee_id = ")
            .bind(from)
            .push(" AND status = 'open' RETURNING id");
        let tasks: Vec<(Uuid,)> = tx.fetch_all(q).await?;
        for (task,) in &tasks {
            let changes = match rule.open_tasks {
                Fate::To(user) => serde_json::json!({
                    "assignee_id": {"before": from, "after": user},
                    "reason": {"before": null, "after": "owner_changed"},
                }),
                _ => serde_json::json!({
                    "status": {"before": "open", "after": "cancelled"},
                    "reason": {"before": null, "after": "returned_to_pool"},
                }),
            };
            audit::push(&mut entries, tx, actor, Action::Update, "task", *task, changes, now).await?;
        }
        match rule.open_tasks {
            Fate::To(_) => done.tasks_moved = tasks.len() as i64,
            _ => done.tasks_closed = tasks.len() as i64,
        }
    }
    let new_owner = match rule.open_deals {
        Fate::To(user) => Some(user),
        Fate::Close | Fate::Unowned => None,
    };
    if from.is_some() || new_owner.is_some() {
        let mut q = Sql::new("UPDATE opportunities SET owner_id = ");
        q.bind(new_owner)
            .push(", updated_at = ")
            .bind(now)
            .push(" WHERE workspace_id = ")
            .bind(ws)
            .push(" AND account_id = ")
            .bind(id)
            .push(" AND status = 'open' AND deleted_at IS NULL AND ");
        match from {
            Some(from) => q.push("owner_id = ").bind(from),
            None => q.push("owner_id IS NULL"),
        };
        q.push(" RETURNING id");
        let deals: Vec<(Uuid,)> = tx.fetch_all(q).await?;
        for (deal,) in &deals {
            let changes = serde_json::json!({
                "owner_id": {"before": from, "after": new_owner},
                "reason": {"before": null, "after": "owner_changed"},
            });
            audit::push(&mut entries, tx, actor, Action::Update, "opportunity", *deal, changes, now).await?;
        }
        done.deals_moved = deals.len() as i64;
    }
    let withdrawn: Vec<(Uuid,)> = tx
        .fetch_all(
            Sql::new(
                "UPDATE ownership_requests SET status = 'withdrawn', decided_at = $1 \
                 WHERE workspace_id = $2 AND account_id = $3 AND kind = 'transfer' AND status = 'pending' RETURNING id",
            )
            .arg(now)
            .arg(ws)
            .arg(id),
        )
        .await?;
    for (request,) in &withdrawn {
        let changes = serde_json::json!({
            "status": {"before": "pending", "after": "withdrawn"},
            "reason": {"before": null, "after": "owner_changed"},
        });
        audit::push(&mut entries, tx, actor, Action::Update, "ownership_request", *request, changes, now).await?;
    }
    done.transfers_withdrawn = withdrawn.len() as i64;
    entries.flush(tx).await?;
    Ok(done)
}

/// What `carry` would move with every account `from` holds, were they all
/// to go to colleagues (or all to the pool): a handover's preview.
pub async fn would_carry(tx: &mut Tx, ws: WorkspaceId, from: UserId, to_pool: bool) -> Result<Carried> {
    const HELD: &str = "SELECT id FROM accounts WHERE workspace_id = $1 AND owner_id = $2 AND deleted_at IS NULL";
    let count = |sql: String| Sql::new(&sql).arg(ws).arg(from);
    let (tasks,): (i64,) = tx
        .fetch_one(count(format!(
            "SELECT COUNT(*) FROM tasks WHERE assignee_id = $2 AND status = 'open' AND account_id IN ({HELD})"
        )))
        .await?;
    let (deals,): (i64,) = tx
        .fetch_one(count(format!(
            "SELECT COUNT(*) FROM opportunities WHERE owner_id = $2 AND status = 'open' AND deleted_at IS NULL \
             AND account_id IN ({HELD})"
        )))
        .await?;
    let (transfers,): (i64,) = tx
        .fetch_one(count(format!(
            "SELECT COUNT(*) FROM ownership_requests WHERE kind = 'transfer' AND status = 'pending' AND account_id IN ({HELD})"
        )))
        .await?;
    Ok(Carried {
        tasks_moved: if to_pool { 0 } else { tasks },
        tasks_closed: if to_pool { tasks } else { 0 },
        deals_moved: deals,
        transfers_withdrawn: transfers,
    })
}
