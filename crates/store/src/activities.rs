//! Activities (跟进记录) and the tasks they leave (钩子): logging a touch with
//! its hook in one transaction, an account's or a contact's timeline, a
//! person's worklist, and marking a task done or moving it (with a reason).
//!
//! Activities and tasks are seen through their account: whoever may see the
//! account sees its timeline (`accounts::SCOPE`).

use crate::accounts;
use crate::audit::{self, Action, Actor};
use crate::db::{Db, Sql, Tx};
use crate::notifications::Notes;
use crate::outbox;
use crate::ownership::{self, Touch};
use crate::scope::{push_visible, Viewer};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use guanxi_domain::{
    AccountId, ActivityId, ActivityKind, ContactId, LearnedKind, NoHookReason, OpportunityId, Outcome, TaskId, UserId,
    WorkspaceId,
};
use serde::{Deserialize, Serialize};

/// One fact learned in a touch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Learned {
    /// What kind of fact.
    pub kind: LearnedKind,
    /// The fact (≤ 500 characters).
    pub text: String,
}

/// The next step a touch leaves.
#[derive(Clone, Debug)]
pub struct NewHook {
    /// When, precisely.
    pub due_at: DateTime<Utc>,
    /// What for.
    pub purpose: String,
    /// With whom, if one person.
    pub contact_id: Option<ContactId>,
}

/// A touch to log (already checked).
#[derive(Clone, Debug)]
pub struct NewActivity {
    /// The account.
    pub account_id: AccountId,
    /// The people involved (of that account).
    pub contacts: Vec<ContactId>,
    /// How.
    pub kind: ActivityKind,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How long.
    pub duration_minutes: Option<i64>,
    /// What came of it.
    pub outcome: Outcome,
    /// Notes.
    pub notes: Option<String>,
    /// What was learned.
    pub learned: Vec<Learned>,
    /// The hook it leaves, or …
    pub hook: Option<NewHook>,
    /// … why it leaves none.
    pub no_hook_reason: Option<NoHookReason>,
    /// The open task this touch carries out (it is marked done).
    pub fulfils: Option<TaskId>,
    /// The deal it was for (an opportunity of the same account).
    pub opportunity_id: Option<OpportunityId>,
}

/// A logged touch as the timeline shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Activity {
    /// Id.
    pub id: ActivityId,
    /// The account.
    pub account_id: AccountId,
    /// Its name.
    pub account_name: String,
    /// Who logged it.
    pub author_id: UserId,
    /// Their name.
    pub author_name: String,
    /// How.
    pub kind: ActivityKind,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How long, minutes.
    pub duration_minutes: Option<i64>,
    /// What came of it.
    pub outcome: Outcome,
    /// Notes.
    pub notes: Option<String>,
    /// What was learned.
    pub learned: Vec<Learned>,
    /// Why no hook was left.
    pub no_hook_reason: Option<NoHookReason>,
    /// The people involved: (id, name).
    pub contacts: Vec<(ContactId, String)>,
    /// The hook it left, if any.
    pub hook: Option<Task>,
    /// The deal it was for.
    pub opportunity_id: Option<OpportunityId>,
    /// That deal's name.
    pub opportunity_name: Option<String>,
    /// Logged.
    pub created_at: DateTime<Utc>,
}

struct ActivityRow {
    id: ActivityId,
    account_id: AccountId,
    account_name: String,
    author_id: UserId,
    author_name: String,
    kind: ActivityKind,
    started_at: DateTime<Utc>,
    duration_minutes: Option<i64>,
    outcome: Outcome,
    notes: Option<String>,
    learned: serde_json::Value,
    no_hook_reason: Option<NoHookReason>,
    opportunity_id: Option<OpportunityId>,
    opportunity_name: Option<String>,
    created_at: DateTime<Utc>,
}
crate::from_row!(ActivityRow {
    id,
    account_id,
    account_name,
    author_id,
    author_name,
    kind,
    started_at,
    duration_minutes,
    outcome,
    notes,
    learned,
    no_hook_reason,
    opportunity_id,
    opportunity_name,
    created_at
});

/// A task: a hook left by a touch, or a to-do.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Task {
    /// Id.
    pub id: TaskId,
    /// The account.
    pub account_id: AccountId,
    /// Its name.
    pub account_name: String,
    /// With whom.
    pub contact_id: Option<ContactId>,
    /// Their name.
    pub contact_name: Option<String>,
    /// Whose it is.
    pub assignee_id: UserId,
    /// `hook` or `task`.
    pub kind: String,
    /// When.
    pub due_at: DateTime<Utc>,
    /// What for.
    pub purpose: String,
    /// `open`, `done` or `cancelled`.
    pub status: String,
    /// The touch that left it.
    pub source_activity_id: Option<ActivityId>,
    /// The touch that carried it out.
    pub done_activity_id: Option<ActivityId>,
    /// How often it was moved.
    pub reschedules: i64,
    /// Done (or cancelled) at.
    pub done_at: Option<DateTime<Utc>>,
    /// Recurs every this many days.
    pub repeat_every_days: Option<i64>,
    /// Until then (inclusive).
    pub repeat_until: Option<DateTime<Utc>>,
    /// Or for ever, said so.
    pub repeat_forever: bool,
}
crate::from_row!(Task {
    id,
    account_id,
    account_name,
    contact_id,
    contact_name,
    assignee_id,
    kind,
    due_at,
    purpose,
    status,
    source_activity_id,
    done_activity_id,
    reschedules,
    done_at,
    repeat_every_days,
    repeat_until,
    repeat_forever
});

const TASK: &str =
    "SELECT t.id, t.account_id, a.name AS account_name, t.contact_id, c.name AS contact_name, t.assignee_id, \
     t.kind, t.due_at, t.purpose, t.status, t.source_activity_id, t.done_activity_id, t.reschedules, t.done_at, \
     t.repeat_every_days, t.repeat_until, t.repeat_forever \
     FROM tasks t JOIN accounts a ON a.id = t.account_id LEFT JOIN contacts c ON c.id = t.contact_id";

const ACTIVITY: &str =
    "SELECT v.id, v.account_id, a.name AS account_name, v.author_id, u.display_name AS author_name, \
     v.kind, v.started_at, v.duration_minutes, v.outcome, v.notes, v.learned, v.no_hook_reason, v.opportunity_id, \
     o.name AS opportunity_name, v.created_at \
     FROM activities v JOIN accounts a ON a.id = v.account_id JOIN users u ON u.id = v.author_id \
     LEFT JOIN opportunities o ON o.id = v.opportunity_id";

pub(crate) async fn task_in(tx: &mut Tx, ws: WorkspaceId, id: TaskId) -> Result<Task> {
    tx.fetch_optional(Sql::new(&format!("{TASK} WHERE t.id = $1 AND t.workspace_id = $2")).arg(id).arg(ws))
        .await?
        .ok_or(Error::NotFound)
}

/// Logs a touch with its hook, carries out the task it fulfils, and restarts
/// the account's activity clock (the pool's no-activity rule), in one
/// transaction. The people named must be of the account.
pub async fn log(tx: &mut Tx, actor: &Actor, author: UserId, a: &NewActivity, now: DateTime<Utc>) -> Result<Activity> {
    let id = write(tx, actor, author, a, now, false).await?;
    let row: ActivityRow = tx.fetch_one(Sql::new(&format!("{ACTIVITY} WHERE v.id = $1")).arg(id)).await?;
    let mut out = complete(&mut crate::db::Conn::Tx(tx), vec![row]).await?;
    out.pop().ok_or(Error::NotFound)
}

/// Brings back a touch removed with the import that brought it, as the
/// viewer (who must see its account). Its cancelled hook stays cancelled:
/// the next step is planned again by hand.
pub async fn restore(
    tx: &mut Tx,
    actor: &Actor,
    viewer: Viewer,
    id: ActivityId,
    now: DateTime<Utc>,
) -> Result<Activity> {
    let mut q = Sql::new(&format!("{ACTIVITY} WHERE v.id = "));
    q.bind(id).push(" AND v.deleted_at IS NOT NULL AND ");
    push_visible(&mut q, viewer, accounts::SCOPE);
    let row: ActivityRow = tx.fetch_optional(q).await?.ok_or(Error::NotFound)?;
    tx.execute(Sql::new("UPDATE activities SET deleted_at = NULL WHERE id = $1").arg(id)).await?;
    let changes = serde_json::json!({"deleted": {"before": true, "after": false}});
    audit::record(tx, actor, audit::Action::Restore, "activity", id.uuid(), changes, now).await?;
    let mut out = complete(&mut crate::db::Conn::Tx(tx), vec![row]).await?;
    out.pop().ok_or(Error::NotFound)
}

/// Those of `ids` that are live touches of the workspace (rows of Guanxi's
/// own export name them).
pub async fn live(db: &Db, ws: WorkspaceId, ids: &[ActivityId]) -> Result<Vec<ActivityId>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(2000) {
        let mut q = Sql::new("SELECT id FROM activities WHERE deleted_at IS NULL AND workspace_id = ");
        q.bind(ws).push(" AND id IN (").bind_list(chunk).push(")");
        out.extend(db.fetch_all::<(ActivityId,)>(q).await?.into_iter().map(|r| r.0));
    }
    Ok(out)
}

/// Logs a touch read from a file (an import): as [`log`], but the account's
/// activity clock moves only forward, to when the touch happened — an old
/// touch imported today does not keep an account from the pool.
pub async fn log_imported(
    tx: &mut Tx,
    actor: &Actor,
    author: UserId,
    a: &NewActivity,
    now: DateTime<Utc>,
) -> Result<ActivityId> {
    write(tx, actor, author, a, now, true).await
}

async fn write(
    tx: &mut Tx,
    actor: &Actor,
    author: UserId,
    a: &NewActivity,
    now: DateTime<Utc>,
    imported: bool,
) -> Result<ActivityId> {
    let ws = actor.workspace_id;
    for (i, c) in a.contacts.iter().chain(a.hook.iter().filter_map(|h| h.contact_id.as_ref())).enumerate() {
        if !crate::refs::live_at_account(tx, "contacts", *c, a.account_id).await? {
            let field = if i < a.contacts.len() { "contact_ids" } else { "hook.contact_id" };
            return Err(Error::Invalid(field, "names someone who is not a contact of this account".into()));
        }
    }
    if let Some(o) = a.opportunity_id {
        if !crate::refs::live_at_account(tx, "opportunities", o, a.account_id).await? {
            return Err(Error::Invalid("opportunity_id", "names no live opportunity of this account".into()));
        }
    }
    let id = ActivityId::new();
    tx.execute(
        Sql::new(
            "INSERT INTO activities (id, workspace_id, account_id, author_id, kind, started_at, duration_minutes, outcome, \
             notes, learned, no_hook_reason, created_at, opportunity_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .arg(id)
        .arg(ws)
        .arg(a.account_id)
        .arg(author)
        .arg(a.kind.as_str())
        .arg(a.started_at)
        .arg(a.duration_minutes)
        .arg(a.outcome.as_str())
        .arg(a.notes.clone())
        .arg(serde_json::to_value(&a.learned).map_err(|e| Error::Db(e.to_string()))?)
        .arg(a.no_hook_reason.map(|r| r.as_str()))
        .arg(now)
        .arg(a.opportunity_id),
    )
    .await?;
    for c in &a.contacts {
        tx.execute(
            Sql::new("INSERT INTO activity_contacts (activity_id, contact_id, workspace_id) VALUES ($1, $2, $3)")
                .arg(id)
                .arg(*c)
                .arg(ws),
        )
        .await?;
    }
    if let Some(h) = &a.hook {
        let remind = outbox::remind_at(tx, author, h.due_at).await?;
        tx.execute(
            Sql::new(
                "INSERT INTO tasks (id, workspace_id, account_id, contact_id, assignee_id, kind, due_at, purpose, status, \
                 source_activity_id, created_at, updated_at, remind_at) \
                 VALUES ($1, $2, $3, $4, $5, 'hook', $6, $7, 'open', $8, $9, $9, $10)",
            )
            .arg(TaskId::new())
            .arg(ws)
            .arg(a.account_id)
            .arg(h.contact_id)
            .arg(author)
            .arg(h.due_at)
            .arg(h.purpose.as_str())
            .arg(id)
            .arg(now)
            .arg(remind),
        )
        .await?;
    }
    if let Some(t) = a.fulfils {
        let done = tx
            .execute(
                Sql::new(
                    "UPDATE tasks SET status = 'done', done_activity_id = $1, done_at = $2, updated_at = $2, remind_at = NULL \
                     WHERE id = $3 AND workspace_id = $4 AND account_id = $5 AND status = 'open'",
                )
                .arg(id)
                .arg(now)
                .arg(t)
                .arg(ws)
                .arg(a.account_id),
            )
            .await?;
        if done != 1 {
            return Err(Error::Invalid("fulfils_task_id", "names no open task of this account".into()));
        }
        let t = task_in(tx, ws, t).await?;
        next_occurrence(tx, ws, &t, now).await?;
    }
    if imported {
        ownership::touch_at(tx, ws, a.account_id, Touch::Activity, a.started_at.min(now)).await?;
    } else {
        ownership::touch(tx, ws, a.account_id, Touch::Activity, now).await?;
    }
    let mut changes = serde_json::json!({
        "account_id": {"before": null, "after": a.account_id},
        "kind": {"before": null, "after": a.kind.as_str()},
        "outcome": {"before": null, "after": a.outcome.as_str()},
    });
    if let (Some(o), Some(m)) = (a.opportunity_id, changes.as_object_mut()) {
        m.insert("opportunity_id".into(), serde_json::json!({"before": null, "after": o}));
    }
    audit::record(tx, actor, Action::Create, "activity", id.uuid(), changes, now).await?;
    Ok(id)
}

/// The people and hooks of activity rows.
async fn complete(conn: &mut crate::db::Conn<'_>, rows: Vec<ActivityRow>) -> Result<Vec<Activity>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids = |head: &str, tail: &str| {
        let mut q = Sql::new(head);
        for (i, r) in rows.iter().enumerate() {
            q.push(if i == 0 { "" } else { ", " }).bind(r.id);
        }
        q.push(tail);
        q
    };
    let people: Vec<(ActivityId, ContactId, String)> = conn
        .fetch_all(ids(
            "SELECT x.activity_id, c.id, c.name FROM activity_contacts x JOIN contacts c ON c.id = x.contact_id WHERE x.activity_id IN (",
            ") ORDER BY c.name",
        ))
        .await?;
    let hooks: Vec<Task> = conn.fetch_all(ids(&format!("{TASK} WHERE t.source_activity_id IN ("), ")")).await?;
    rows.into_iter()
        .map(|r| {
            Ok(Activity {
                contacts: people.iter().filter(|p| p.0 == r.id).map(|p| (p.1, p.2.clone())).collect(),
                hook: hooks.iter().find(|h| h.source_activity_id == Some(r.id)).cloned(),
                learned: serde_json::from_value(r.learned).map_err(|e| Error::Db(e.to_string()))?,
                id: r.id,
                account_id: r.account_id,
                account_name: r.account_name,
                author_id: r.author_id,
                author_name: r.author_name,
                kind: r.kind,
                started_at: r.started_at,
                duration_minutes: r.duration_minutes,
                outcome: r.outcome,
                notes: r.notes,
                no_hook_reason: r.no_hook_reason,
                opportunity_id: r.opportunity_id,
                opportunity_name: r.opportunity_name,
                created_at: r.created_at,
            })
        })
        .collect()
}

/// Whose timeline.
#[derive(Clone, Copy, Debug)]
pub enum Of {
    /// An account's.
    Account(AccountId),
    /// A contact's.
    Contact(ContactId),
    /// A deal's.
    Opportunity(OpportunityId),
    /// Every account's the viewer may see (the 活动 feed).
    Visible,
}

/// A timeline, newest first, `limit` at a time before the cursor
/// `(started_at, id)`; empty unless the viewer may see the account.
pub async fn timeline(
    db: &Db,
    viewer: Viewer,
    of: Of,
    before: Option<(DateTime<Utc>, ActivityId)>,
    limit: i64,
) -> Result<Vec<Activity>> {
    let mut q = Sql::new(ACTIVITY);
    q.push(" WHERE ");
    match of {
        Of::Account(a) => {
            q.push("v.account_id = ").bind(a);
        }
        Of::Contact(c) => {
            q.push("v.id IN (SELECT activity_id FROM activity_contacts WHERE contact_id = ").bind(c).push(")");
        }
        Of::Opportunity(o) => {
            q.push("v.opportunity_id = ").bind(o);
        }
        Of::Visible => {
            q.push("v.workspace_id = ").bind(viewer.workspace_id);
        }
    }
    q.push(" AND v.deleted_at IS NULL AND ");
    push_visible(&mut q, viewer, accounts::SCOPE);
    if let Some((at, id)) = before {
        q.push(" AND (v.started_at < ").bind(at).push(" OR (v.started_at = ").bind(at);
        q.push(" AND v.id < ").bind(id).push("))");
    }
    q.push(" ORDER BY v.started_at DESC, v.id DESC LIMIT ").bind(limit);
    let rows: Vec<ActivityRow> = db.fetch_all(q).await?;
    complete(&mut crate::db::Conn::Db(db), rows).await
}

/// One task of a workspace.
pub async fn task(db: &Db, ws: WorkspaceId, id: TaskId) -> Result<Task> {
    db.fetch_optional(Sql::new(&format!("{TASK} WHERE t.id = $1 AND t.workspace_id = $2")).arg(id).arg(ws))
        .await?
        .ok_or(Error::NotFound)
}

/// A person's open tasks due before `until`, soonest (most overdue) first.
pub async fn worklist(db: &Db, ws: WorkspaceId, user: UserId, until: DateTime<Utc>, limit: i64) -> Result<Vec<Task>> {
    db.fetch_all(
        Sql::new(&format!(
            "{TASK} WHERE t.assignee_id = $1 AND t.workspace_id = $2 AND t.status = 'open' AND t.due_at < $3 \
             ORDER BY t.due_at, t.id LIMIT $4"
        ))
        .arg(user)
        .arg(ws)
        .arg(until)
        .arg(limit),
    )
    .await
}

/// Marks a task done without a logged touch (e.g. done elsewhere); its assignee only.
pub async fn mark_done(tx: &mut Tx, actor: &Actor, by: UserId, id: TaskId, now: DateTime<Utc>) -> Result<Task> {
    let ws = actor.workspace_id;
    let t = task_in(tx, ws, id).await?;
    if t.assignee_id != by {
        return Err(Error::NotFound);
    }
    let done = tx
        .execute(
            Sql::new(
                "UPDATE tasks SET status = 'done', done_at = $1, updated_at = $1, remind_at = NULL \
                 WHERE id = $2 AND status = 'open'",
            )
            .arg(now)
            .arg(id),
        )
        .await?;
    if done != 1 {
        return Err(Error::Conflict("task_closed".into()));
    }
    next_occurrence(tx, ws, &t, now).await?;
    let changes = serde_json::json!({"status": {"before": "open", "after": "done"}});
    audit::record(tx, actor, Action::Update, "task", id.uuid(), changes, now).await?;
    task_in(tx, ws, id).await
}

/// Moves an open task to another (checked) time, with the reason, kept in its history.
pub async fn reschedule(
    tx: &mut Tx,
    actor: &Actor,
    by: UserId,
    id: TaskId,
    due_at: DateTime<Utc>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Task> {
    let ws = actor.workspace_id;
    let t = task_in(tx, ws, id).await?;
    if t.assignee_id != by {
        return Err(Error::NotFound);
    }
    let remind = outbox::remind_at(tx, t.assignee_id, due_at).await?;
    let moved = tx
        .execute(
            Sql::new(
                "UPDATE tasks SET due_at = $1, reschedules = reschedules + 1, updated_at = $2, remind_at = $4 \
                 WHERE id = $3 AND status = 'open'",
            )
            .arg(due_at)
            .arg(now)
            .arg(id)
            .arg(remind),
        )
        .await?;
    if moved != 1 {
        return Err(Error::Conflict("task_closed".into()));
    }
    tx.execute(
        Sql::new("INSERT INTO task_reschedules (task_id, at, by_id, from_due, to_due, reason) VALUES ($1, $2, $3, $4, $5, $6)")
            .arg(id)
            .arg(now)
            .arg(by)
            .arg(t.due_at)
            .arg(due_at)
            .arg(reason),
    )
    .await?;
    let changes = serde_json::json!({"due_at": {"before": t.due_at, "after": due_at}, "reason": {"before": null, "after": reason}});
    audit::record(tx, actor, Action::Update, "task", id.uuid(), changes, now).await?;
    task_in(tx, ws, id).await
}

/// One salesperson's hook discipline over a period.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Discipline {
    /// The salesperson.
    pub user_id: UserId,
    /// Their name.
    pub name: String,
    /// Touches they logged.
    pub activities: i64,
    /// Of which left a hook.
    pub with_hook: i64,
    /// Their hooks that fell due.
    pub hooks_due: i64,
    /// Of which carried out by their time.
    pub kept: i64,
    /// Of which still open: overdue.
    pub overdue: i64,
}

crate::from_row!(Discipline { user_id, name, activities, with_hook, hooks_due, kept, overdue });

/// Hook discipline per person the viewer may see (a manager: their teams),
/// over touches since `since` and hooks due between `since` and `now`.
pub async fn discipline(db: &Db, viewer: Viewer, since: DateTime<Utc>, now: DateTime<Utc>) -> Result<Vec<Discipline>> {
    let mut q = Sql::new(
        "SELECT u.id AS user_id, u.display_name AS name, \
         (SELECT COUNT(*) FROM activities v WHERE v.author_id = u.id AND v.deleted_at IS NULL AND v.started_at >= ",
    );
    q.bind(since)
        .push(") AS activities, (SELECT COUNT(*) FROM activities v WHERE v.author_id = u.id AND v.deleted_at IS NULL AND v.no_hook_reason IS NULL AND v.started_at >= ")
        .bind(since)
        .push(") AS with_hook, (SELECT COUNT(*) FROM tasks t WHERE t.assignee_id = u.id AND t.kind = 'hook' AND t.due_at >= ")
        .bind(since)
        .push(" AND t.due_at < ")
        .bind(now)
        .push(") AS hooks_due, (SELECT COUNT(*) FROM tasks t WHERE t.assignee_id = u.id AND t.kind = 'hook' AND t.status = 'done' AND t.done_at <= t.due_at AND t.due_at >= ")
        .bind(since)
        .push(" AND t.due_at < ")
        .bind(now)
        .push(") AS kept, (SELECT COUNT(*) FROM tasks t WHERE t.assignee_id = u.id AND t.status = 'open' AND t.due_at < ")
        .bind(now)
        .push(") AS overdue FROM users u WHERE u.disabled_at IS NULL AND u.role IN ('sales', 'manager') AND ");
    push_visible(&mut q, viewer, crate::users::SCOPE);
    q.push(" ORDER BY u.display_name");
    db.fetch_all(q).await
}

/// The start time and whether the other side answered, of the workspace's
/// calls since `since` (for when-to-call figures).
pub async fn calls_since(db: &Db, ws: WorkspaceId, since: DateTime<Utc>) -> Result<Vec<(DateTime<Utc>, bool)>> {
    let rows: Vec<(DateTime<Utc>, Outcome)> = db
        .fetch_all(
            Sql::new("SELECT started_at, outcome FROM activities WHERE workspace_id = $1 AND kind = 'call' AND deleted_at IS NULL AND started_at >= $2")
                .arg(ws)
                .arg(since),
        )
        .await?;
    Ok(rows.into_iter().map(|(at, o)| (at, o != Outcome::NoAnswer)).collect())
}

/// Issues a user's private calendar feed secret, replacing (and so revoking)
/// the one before. Returns the secret, shown once.
pub async fn issue_feed(tx: &mut Tx, actor: &Actor, user: UserId, now: DateTime<Utc>) -> Result<String> {
    let secret = crate::secret::new_secret("gxcal_");
    tx.execute(Sql::new("DELETE FROM calendar_feeds WHERE user_id = $1").arg(user)).await?;
    tx.execute(
        Sql::new("INSERT INTO calendar_feeds (user_id, workspace_id, secret_hash, created_at) VALUES ($1, $2, $3, $4)")
            .arg(user)
            .arg(actor.workspace_id)
            .arg(crate::secret::digest(&secret))
            .arg(now),
    )
    .await?;
    let changes = serde_json::json!({"calendar_feed": {"before": null, "after": "issued"}});
    audit::record(tx, actor, Action::Update, "user", user.uuid(), changes, now).await?;
    Ok(secret)
}

/// Revokes a user's calendar feed; `false` when there was none.
pub async fn revoke_feed(tx: &mut Tx, actor: &Actor, user: UserId, now: DateTime<Utc>) -> Result<bool> {
    let gone = tx.execute(Sql::new("DELETE FROM calendar_feeds WHERE user_id = $1").arg(user)).await? == 1;
    if gone {
        let changes = serde_json::json!({"calendar_feed": {"before": "issued", "after": null}});
        audit::record(tx, actor, Action::Update, "user", user.uuid(), changes, now).await?;
    }
    Ok(gone)
}

/// Whose feed a secret opens: an active user's workspace and id.
pub async fn feed_owner(db: &Db, secret: &str) -> Result<Option<(WorkspaceId, UserId)>> {
    db.fetch_optional(
        Sql::new(
            "SELECT f.workspace_id, f.user_id FROM calendar_feeds f JOIN users u ON u.id = f.user_id \
             WHERE f.secret_hash = $1 AND u.disabled_at IS NULL",
        )
        .arg(crate::secret::digest(secret)),
    )
    .await
}

/// What a user's calendar shows: their open tasks due after `from`, and
/// the visits and meetings they logged since `from`.
pub async fn feed_entries(
    db: &Db,
    ws: WorkspaceId,
    user: UserId,
    from: DateTime<Utc>,
) -> Result<(Vec<Task>, Vec<Activity>)> {
    let tasks: Vec<Task> = db
        .fetch_all(
            Sql::new(&format!(
                "{TASK} WHERE t.assignee_id = $1 AND t.workspace_id = $2 AND t.status = 'open' AND t.due_at >= $3 \
                 ORDER BY t.due_at LIMIT 1000"
            ))
            .arg(user)
            .arg(ws)
            .arg(from),
        )
        .await?;
    let rows: Vec<ActivityRow> = db
        .fetch_all(
            Sql::new(&format!(
                "{ACTIVITY} WHERE v.author_id = $1 AND v.workspace_id = $2 AND v.kind IN ('visit', 'meeting') \
                 AND v.deleted_at IS NULL AND v.started_at >= $3 ORDER BY v.started_at LIMIT 1000"
            ))
            .arg(user)
            .arg(ws)
            .arg(from),
        )
        .await?;
    let visits = complete(&mut crate::db::Conn::Db(db), rows).await?;
    Ok((tasks, visits))
}

/// A task made by hand (a to-do, or a revisit every N days).
#[derive(Clone, Debug)]
pub struct NewTask {
    /// The account.
    pub account_id: AccountId,
    /// With whom (a contact of the account).
    pub contact_id: Option<ContactId>,
    /// When (checked ahead).
    pub due_at: DateTime<Utc>,
    /// What for.
    pub purpose: String,
    /// Recurs every this many days …
    pub repeat_every_days: Option<i64>,
    /// … until then, …
    pub repeat_until: Option<DateTime<Utc>>,
    /// … or for ever.
    pub repeat_forever: bool,
}

/// Creates a task for `assignee`.
pub async fn create_task(
    tx: &mut Tx,
    actor: &Actor,
    assignee: UserId,
    t: &NewTask,
    now: DateTime<Utc>,
) -> Result<Task> {
    let ws = actor.workspace_id;
    if let Some(c) = t.contact_id {
        if !crate::refs::live_at_account(tx, "contacts", c, t.account_id).await? {
            return Err(Error::Invalid("contact_id", "names someone who is not a contact of this account".into()));
        }
    }
    let id = TaskId::new();
    insert_task(tx, ws, id, t, assignee, now).await?;
    let changes = serde_json::json!({"purpose": {"before": null, "after": t.purpose}, "due_at": {"before": null, "after": t.due_at}});
    audit::record(tx, actor, Action::Create, "task", id.uuid(), changes, now).await?;
    task_in(tx, ws, id).await
}

pub(crate) async fn insert_task(
    tx: &mut Tx,
    ws: WorkspaceId,
    id: TaskId,
    t: &NewTask,
    assignee: UserId,
    now: DateTime<Utc>,
) -> Result<()> {
    let remind = outbox::remind_at(tx, assignee, t.due_at).await?;
    tx.execute(
        Sql::new(
            "INSERT INTO tasks (id, workspace_id, account_id, contact_id, assignee_id, kind, due_at, purpose, status, \
             created_at, updated_at, repeat_every_days, repeat_until, repeat_forever, remind_at) \
             VALUES ($1, $2, $3, $4, $5, 'task', $6, $7, 'open', $8, $8, $9, $10, $11, $12)",
        )
        .arg(id)
        .arg(ws)
        .arg(t.account_id)
        .arg(t.contact_id)
        .arg(assignee)
        .arg(t.due_at)
        .arg(t.purpose.as_str())
        .arg(now)
        .arg(t.repeat_every_days)
        .arg(t.repeat_until)
        .arg(t.repeat_forever)
        .arg(remind),
    )
    .await?;
    Ok(())
}

/// After a recurring task is carried out: the next one, at the same time of
/// day, the first step of the cadence after now, unless past its end.
async fn next_occurrence(tx: &mut Tx, ws: WorkspaceId, t: &Task, now: DateTime<Utc>) -> Result<()> {
    let Some(every) = t.repeat_every_days.filter(|d| *d > 0) else { return Ok(()) };
    let mut due = t.due_at + chrono::Duration::days(every);
    while due <= now {
        due += chrono::Duration::days(every);
    }
    if !t.repeat_forever && t.repeat_until.is_none_or(|until| due > until) {
        return Ok(());
    }
    let next = NewTask {
        account_id: t.account_id,
        contact_id: t.contact_id,
        due_at: due,
        purpose: t.purpose.clone(),
        repeat_every_days: t.repeat_every_days,
        repeat_until: t.repeat_until,
        repeat_forever: t.repeat_forever,
    };
    insert_task(tx, ws, TaskId::new(), &next, t.assignee_id, now).await
}

/// Tasks reminded in one transaction of [`remind_due`].
const REMIND_BATCH: i64 = 500;

/// The reminder job: every open task whose reminder time has come tells its
/// assignee (in the app, and on their channels through the outbox), once:
/// its `remind_at` is cleared by the same conditional `UPDATE … RETURNING`
/// that picks it, so two instances running the job remind each task once.
/// Rescheduling sets a new reminder. Answers how many were reminded.
pub async fn remind_due(db: &Db, now: DateTime<Utc>) -> Result<u64> {
    let lock = if db.dialect() == crate::Dialect::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
    let mut total = 0;
    loop {
        let mut tx = db.begin().await?;
        let due: Vec<(TaskId, WorkspaceId, UserId, AccountId, DateTime<Utc>, String)> = tx
            .fetch_all(
                Sql::new(&format!(
                    "UPDATE tasks SET remind_at = NULL WHERE id IN (SELECT id FROM tasks WHERE remind_at IS NOT NULL \
                     AND remind_at <= $1 ORDER BY remind_at LIMIT {REMIND_BATCH}{lock}) \
                     AND remind_at IS NOT NULL AND remind_at <= $1 AND status = 'open' \
                     RETURNING id, workspace_id, assignee_id, account_id, due_at, purpose"
                ))
                .arg(now),
            )
            .await?;
        let mut names: std::collections::HashMap<AccountId, String> = std::collections::HashMap::new();
        for chunk in due.chunks(500) {
            let mut q = Sql::new("SELECT id, name FROM accounts WHERE id IN (");
            for (i, t) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.bind(t.3);
            }
            q.push(")");
            let rows: Vec<(AccountId, String)> = tx.fetch_all(q).await?;
            names.extend(rows);
        }
        let mut notes = Notes::new();
        for (id, ws, user, account, due_at, purpose) in &due {
            let data = serde_json::json!({
                "task_id": id, "account_name": names.get(account), "purpose": purpose, "due_at": due_at,
            });
            notes.push(&mut tx, *ws, *user, "task_due", Some(*account), data, now).await?;
        }
        notes.flush(&mut tx, now).await?;
        tx.commit().await?;
        total += due.len() as u64;
        if (due.len() as i64) < REMIND_BATCH {
            return Ok(total);
        }
    }
}

/// An account's open tasks whose purpose starts with `prefix` (the restock
/// reminders purchases schedule), soonest first.
pub async fn open_tasks_of(db: &Db, ws: WorkspaceId, account: AccountId, prefix: &str) -> Result<Vec<Task>> {
    db.fetch_all(
        Sql::new(&format!(
            "{TASK} WHERE t.account_id = $1 AND t.workspace_id = $2 AND t.status = 'open' AND t.purpose LIKE $3 \
             ORDER BY t.due_at LIMIT 50"
        ))
        .arg(account)
        .arg(ws)
        .arg(format!("{prefix}%")),
    )
    .await
}
