//! Reminders out of the app: each person's channels (robot webhooks, e-mail)
//! and reminder lead, and the outbox that delivers notifications to them.
//!
//! A notification queues one delivery per channel that wants its kind, in
//! the transaction that creates it (`notifications::Notes::flush`), so a
//! reminder and its deliveries commit together or not at all, and the pair
//! (channel, notification) is unique. The worker (`guanxi-notify`) claims due
//! deliveries with one conditional `UPDATE` that also sets their lease, sends
//! them, and records the outcome only if it still holds that claim (its
//! attempt number): two workers never send one row at once, and a row whose
//! worker died is taken again when the lease ends.

use crate::audit::{self, Action, Actor};
use crate::batch::Batch;
use crate::db::{Conn, Db, Dialect, Sql, Tx, Val};
use crate::notifications;
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use guanxi_domain::notify::{self, ChannelKind, Event, Verdict};
use guanxi_domain::{AccountId, ChannelId, DeliveryId, Locale, NotificationId, UserId, WorkspaceId};
use serde::Serialize;
use std::collections::HashMap;

/// A channel as shown to its owner: the webhook's key is never shown back.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Channel {
    /// Id.
    pub id: ChannelId,
    /// Which vendor.
    pub kind: ChannelKind,
    /// The owner's name for it ("销售一组群").
    pub label: String,
    /// The e-mail address, or the webhook's scheme and host only.
    pub target: String,
    /// Whether messages are signed with a secret.
    pub signed: bool,
    /// What it is sent.
    pub events: Vec<Event>,
    /// Off: nothing is queued for it.
    pub enabled: bool,
    /// When added.
    pub created_at: DateTime<Utc>,
}

struct ChannelRow {
    id: ChannelId,
    kind: ChannelKind,
    label: String,
    target: String,
    secret: Option<String>,
    events: serde_json::Value,
    enabled: bool,
    created_at: DateTime<Utc>,
}
crate::from_row!(ChannelRow { id, kind, label, target, secret, events, enabled, created_at });

fn events_of(v: &serde_json::Value) -> Vec<Event> {
    v.as_array().map(|a| a.iter().filter_map(|e| e.as_str().and_then(Event::parse)).collect()).unwrap_or_default()
}

impl From<ChannelRow> for Channel {
    fn from(r: ChannelRow) -> Self {
        Channel {
            id: r.id,
            kind: r.kind,
            label: r.label,
            target: notify::redact_target(r.kind, &r.target),
            signed: r.secret.is_some(),
            events: events_of(&r.events),
            enabled: r.enabled,
            created_at: r.created_at,
        }
    }
}

const CHANNEL: &str = "SELECT id, kind, label, target, secret, events, enabled, created_at FROM notify_channels";

/// A channel to add (its target already checked by `notify::check_target`).
#[derive(Clone, Debug)]
pub struct NewChannel {
    /// Which vendor.
    pub kind: ChannelKind,
    /// A name for it.
    pub label: String,
    /// Webhook URL or e-mail address.
    pub target: String,
    /// DingTalk's or Feishu's signing secret.
    pub secret: Option<String>,
    /// What to send it.
    pub events: Vec<Event>,
}

/// A person may keep this many channels.
pub const MAX_CHANNELS: i64 = 10;

fn events_json(events: &[Event]) -> serde_json::Value {
    serde_json::Value::Array(events.iter().map(|e| e.as_str().into()).collect())
}

/// Adds a channel for `user`.
pub async fn create_channel(
    tx: &mut Tx,
    actor: &Actor,
    user: UserId,
    c: &NewChannel,
    now: DateTime<Utc>,
) -> Result<Channel> {
    let ws = actor.workspace_id;
    let (count,): (i64,) = tx
        .fetch_one(Sql::new("SELECT COUNT(*) FROM notify_channels WHERE user_id = $1 AND deleted_at IS NULL").arg(user))
        .await?;
    if count >= MAX_CHANNELS {
        return Err(Error::Invalid(
            "kind",
            format!("cannot be added: a person keeps at most {MAX_CHANNELS} channels; remove one first"),
        ));
    }
    let id = ChannelId::new();
    tx.execute(
        Sql::new(
            "INSERT INTO notify_channels (id, workspace_id, user_id, kind, label, target, secret, events, enabled, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
        )
        .arg(id)
        .arg(ws)
        .arg(user)
        .arg(c.kind.as_str())
        .arg(c.label.as_str())
        .arg(c.target.trim())
        .arg(c.secret.as_deref().map(str::trim).filter(|s| !s.is_empty()))
        .arg(events_json(&c.events))
        .arg(true)
        .arg(now),
    )
    .await?;
    // The target and secret stay out of the audit log: they let anyone post to the group.
    let changes = serde_json::json!({
        "kind": {"before": null, "after": c.kind.as_str()},
        "label": {"before": null, "after": c.label},
        "events": {"before": null, "after": events_json(&c.events)},
    });
    audit::record(tx, actor, Action::Create, "notify_channel", id.uuid(), changes, now).await?;
    channel_in(Conn::Tx(tx), user, id).await
}

async fn channel_in(mut conn: Conn<'_>, user: UserId, id: ChannelId) -> Result<Channel> {
    let row: ChannelRow = conn
        .fetch_optional(
            Sql::new(&format!("{CHANNEL} WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL")).arg(id).arg(user),
        )
        .await?
        .ok_or(Error::NotFound)?;
    Ok(row.into())
}

/// A person's channels, oldest first.
pub async fn channels(db: &Db, user: UserId) -> Result<Vec<Channel>> {
    let rows: Vec<ChannelRow> = db
        .fetch_all(
            Sql::new(&format!("{CHANNEL} WHERE user_id = $1 AND deleted_at IS NULL ORDER BY created_at, id")).arg(user),
        )
        .await?;
    Ok(rows.into_iter().map(Channel::from).collect())
}

/// What may change on a channel; `None` keeps the value.
#[derive(Clone, Debug, Default)]
pub struct ChannelPatch {
    /// A new name.
    pub label: Option<String>,
    /// On or off.
    pub enabled: Option<bool>,
    /// What to send it.
    pub events: Option<Vec<Event>>,
}

/// Changes one of `user`'s channels.
pub async fn update_channel(
    tx: &mut Tx,
    actor: &Actor,
    user: UserId,
    id: ChannelId,
    p: &ChannelPatch,
    now: DateTime<Utc>,
) -> Result<Channel> {
    let before = channel_in(Conn::Tx(tx), user, id).await?;
    let label = p.label.clone().unwrap_or_else(|| before.label.clone());
    let enabled = p.enabled.unwrap_or(before.enabled);
    let events = p.events.clone().unwrap_or_else(|| before.events.clone());
    tx.execute(
        Sql::new("UPDATE notify_channels SET label = $1, enabled = $2, events = $3, updated_at = $4 WHERE id = $5")
            .arg(label.as_str())
            .arg(enabled)
            .arg(events_json(&events))
            .arg(now)
            .arg(id),
    )
    .await?;
    let changes = audit::diff(
        &serde_json::json!({"label": before.label, "enabled": before.enabled, "events": events_json(&before.events)}),
        &serde_json::json!({"label": label, "enabled": enabled, "events": events_json(&events)}),
    );
    audit::record(tx, actor, Action::Update, "notify_channel", id.uuid(), changes, now).await?;
    channel_in(Conn::Tx(tx), user, id).await
}

/// Removes one of `user`'s channels (kept for the history of its
/// deliveries); what was still queued for it fails with that reason.
pub async fn delete_channel(tx: &mut Tx, actor: &Actor, user: UserId, id: ChannelId, now: DateTime<Utc>) -> Result<()> {
    channel_in(Conn::Tx(tx), user, id).await?;
    tx.execute(Sql::new("UPDATE notify_channels SET deleted_at = $1, updated_at = $1 WHERE id = $2").arg(now).arg(id))
        .await?;
    tx.execute(
        Sql::new(
            "UPDATE outbox SET status = 'failed', last_error = 'channel removed' \
             WHERE channel_id = $1 AND status IN ('pending', 'sending')",
        )
        .arg(id),
    )
    .await?;
    let changes = serde_json::json!({"deleted_at": {"before": null, "after": now}});
    audit::record(tx, actor, Action::Delete, "notify_channel", id.uuid(), changes, now).await
}

/// Minutes before a hook's time that its reminder goes out, at most a day.
pub const MAX_LEAD_MINUTES: i64 = 24 * 60;

/// A person's reminder lead, in minutes.
pub async fn lead_minutes(mut conn: Conn<'_>, user: UserId) -> Result<i64> {
    let (m,): (i64,) = conn
        .fetch_optional(Sql::new("SELECT remind_lead_minutes FROM users WHERE id = $1").arg(user))
        .await?
        .ok_or(Error::NotFound)?;
    Ok(m)
}

/// When to remind `user` of something due at `due_at`.
pub(crate) async fn remind_at(tx: &mut Tx, user: UserId, due_at: DateTime<Utc>) -> Result<DateTime<Utc>> {
    Ok(due_at - chrono::Duration::minutes(lead_minutes(Conn::Tx(tx), user).await?))
}

/// Sets a person's reminder lead; their open tasks not yet reminded move with it.
pub async fn set_lead(tx: &mut Tx, actor: &Actor, user: UserId, minutes: i64, now: DateTime<Utc>) -> Result<()> {
    if !(0..=MAX_LEAD_MINUTES).contains(&minutes) {
        return Err(Error::Invalid(
            "remind_lead_minutes",
            format!("must be between 0 and {MAX_LEAD_MINUTES} minutes, not {minutes}"),
        ));
    }
    let before = lead_minutes(Conn::Tx(tx), user).await?;
    tx.execute(Sql::new("UPDATE users SET remind_lead_minutes = $1 WHERE id = $2").arg(minutes).arg(user)).await?;
    let pending: Vec<(guanxi_domain::TaskId, DateTime<Utc>)> = tx
        .fetch_all(
            Sql::new(
                "SELECT id, due_at FROM tasks WHERE assignee_id = $1 AND status = 'open' AND remind_at IS NOT NULL",
            )
            .arg(user),
        )
        .await?;
    for (id, due) in pending {
        tx.execute(
            Sql::new("UPDATE tasks SET remind_at = $1 WHERE id = $2")
                .arg(due - chrono::Duration::minutes(minutes))
                .arg(id),
        )
        .await?;
    }
    let changes = serde_json::json!({"remind_lead_minutes": {"before": before, "after": minutes}});
    audit::record(tx, actor, Action::Update, "user", user.uuid(), changes, now).await
}

/// Queues the deliveries of new notifications: one per enabled channel of
/// their person that wants their kind. Kinds no channel can want (a failed
/// delivery's notice) stay in the app.
pub(crate) async fn enqueue(
    tx: &mut Tx,
    notes: &[(NotificationId, WorkspaceId, UserId, String)],
    now: DateTime<Utc>,
) -> Result<()> {
    let mut wanted: Vec<&(NotificationId, WorkspaceId, UserId, String)> =
        notes.iter().filter(|n| Event::parse(&n.3).is_some()).collect();
    if wanted.is_empty() {
        return Ok(());
    }
    wanted.sort_by_key(|n| n.2);
    let mut users: Vec<UserId> = wanted.iter().map(|n| n.2).collect();
    users.dedup();
    let mut by_user: HashMap<UserId, Vec<(ChannelId, Vec<Event>)>> = HashMap::new();
    for chunk in users.chunks(500) {
        // A disabled user (left, handed over) is sent nothing.
        let mut q = Sql::new(
            "SELECT c.user_id, c.id, c.events FROM notify_channels c JOIN users u ON u.id = c.user_id \
             WHERE c.deleted_at IS NULL AND u.disabled_at IS NULL AND c.enabled = ",
        );
        q.bind(true).push(" AND c.user_id IN (");
        for (i, u) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(*u);
        }
        q.push(")");
        let rows: Vec<(UserId, ChannelId, serde_json::Value)> = tx.fetch_all(q).await?;
        for (u, c, events) in rows {
            by_user.entry(u).or_default().push((c, events_of(&events)));
        }
    }
    let mut b = deliveries_batch();
    for (note, ws, user, kind) in wanted {
        let Some(event) = Event::parse(kind) else { continue };
        for (channel, events) in by_user.get(user).into_iter().flatten() {
            if events.contains(&event) {
                push_delivery(&mut b, tx, *ws, *user, *channel, *note, now).await?;
            }
        }
    }
    b.flush(tx).await
}

fn deliveries_batch() -> Batch {
    Batch::new(
        "outbox",
        "id, workspace_id, user_id, channel_id, notification_id, status, attempts, next_attempt_at, created_at",
    )
}

async fn push_delivery(
    b: &mut Batch,
    tx: &mut Tx,
    ws: WorkspaceId,
    user: UserId,
    channel: ChannelId,
    note: NotificationId,
    now: DateTime<Utc>,
) -> Result<DeliveryId> {
    let id = DeliveryId::new();
    b.push(
        tx,
        vec![
            Val::from(id),
            ws.into(),
            user.into(),
            channel.into(),
            note.into(),
            "pending".into(),
            0i64.into(),
            now.into(),
            now.into(),
        ],
    )
    .await?;
    Ok(id)
}

/// Sends a test message to one of `user`'s channels (whatever it is set to
/// receive), through the outbox like any other.
pub async fn send_test(
    tx: &mut Tx,
    ws: WorkspaceId,
    user: UserId,
    id: ChannelId,
    now: DateTime<Utc>,
) -> Result<DeliveryId> {
    let c = channel_in(Conn::Tx(tx), user, id).await?;
    let mut notes = notifications::Notes::new();
    let note =
        notes.push(tx, ws, user, "channel_test", None, serde_json::json!({"channel_label": c.label}), now).await?;
    notes.flush(tx, now).await?;
    let mut b = deliveries_batch();
    let d = push_delivery(&mut b, tx, ws, user, id, note, now).await?;
    b.flush(tx).await?;
    Ok(d)
}

/// A delivery a worker has claimed, with all it needs to send it.
#[derive(Clone, Debug)]
pub struct Claimed {
    /// The delivery.
    pub id: DeliveryId,
    /// Which attempt this is (1-based); the claim, when recording the outcome.
    pub attempts: i64,
    /// The channel's vendor.
    pub kind: ChannelKind,
    /// Its name.
    pub label: String,
    /// Webhook URL or e-mail address.
    pub target: String,
    /// Signing secret.
    pub secret: Option<String>,
    /// Whether the channel is still there and on.
    pub live: bool,
    /// The notification: its kind…
    pub note_kind: String,
    /// …the facts to say…
    pub data: serde_json::Value,
    /// …and its account.
    pub account_id: Option<AccountId>,
    /// The person's language.
    pub locale: Locale,
    /// The workspace's time zone, to say times in.
    pub time_zone: String,
    /// The person.
    pub user_id: UserId,
    /// Their workspace.
    pub workspace_id: WorkspaceId,
}
crate::from_row!(Claimed {
    id,
    attempts,
    kind,
    label,
    target,
    secret,
    live,
    note_kind,
    data,
    account_id,
    locale,
    time_zone,
    user_id,
    workspace_id
});

/// Claims up to `limit` due deliveries (pending and due, or sending with an
/// expired lease), leasing them until `now + LEASE`.
pub async fn claim(db: &Db, now: DateTime<Utc>, limit: i64) -> Result<Vec<Claimed>> {
    let lock = if db.dialect() == Dialect::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
    let mut tx = db.begin().await?;
    let ids: Vec<(DeliveryId,)> = tx
        .fetch_all(
            Sql::new(&format!(
                "UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = $1 \
                 WHERE id IN (SELECT id FROM outbox WHERE status IN ('pending', 'sending') AND next_attempt_at <= $2 \
                 ORDER BY next_attempt_at LIMIT $3{lock}) \
                 AND status IN ('pending', 'sending') AND next_attempt_at <= $2 RETURNING id"
            ))
            .arg(now + notify::LEASE)
            .arg(now)
            .arg(limit),
        )
        .await?;
    if ids.is_empty() {
        tx.commit().await?;
        return Ok(Vec::new());
    }
    let mut q = Sql::new(
        "SELECT o.id, o.attempts, c.kind, c.label, c.target, c.secret, \
         (c.deleted_at IS NULL AND c.enabled AND u.disabled_at IS NULL) AS live, n.kind AS note_kind, n.data, n.account_id, \
         u.locale, w.time_zone, o.user_id, o.workspace_id \
         FROM outbox o JOIN notify_channels c ON c.id = o.channel_id JOIN notifications n ON n.id = o.notification_id \
         JOIN users u ON u.id = o.user_id JOIN workspaces w ON w.id = o.workspace_id WHERE o.id IN (",
    );
    for (i, (id,)) in ids.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(*id);
    }
    q.push(") ORDER BY o.next_attempt_at, o.id");
    let claimed: Vec<Claimed> = tx.fetch_all(q).await?;
    tx.commit().await?;
    Ok(claimed)
}

/// Records the outcome of attempt `attempts` of delivery `id`, unless the claim
/// was lost (the lease ran out and another worker took the row). A retry
/// after the last attempt fails; a failure tells the person in the app.
/// Answers whether the claim still held.
pub async fn finish(db: &Db, c: &Claimed, outcome: Verdict, now: DateTime<Utc>) -> Result<bool> {
    let outcome = match outcome {
        Verdict::Retry(why) if notify::retry_delay(c.attempts).is_none() => {
            Verdict::Fail(format!("gave up after {} attempts: {why}", c.attempts))
        }
        o => o,
    };
    let mut tx = db.begin().await?;
    let guard = " WHERE id = $1 AND status = 'sending' AND attempts = $2";
    let q = match &outcome {
        Verdict::Delivered => {
            Sql::new(&format!("UPDATE outbox SET status = 'sent', sent_at = $3, last_error = NULL{guard}"))
                .arg(c.id)
                .arg(c.attempts)
                .arg(now)
        }
        Verdict::Retry(why) => {
            Sql::new(&format!("UPDATE outbox SET status = 'pending', next_attempt_at = $3, last_error = $4{guard}"))
                .arg(c.id)
                .arg(c.attempts)
                .arg(now + notify::retry_delay(c.attempts).unwrap_or_default())
                .arg(why.as_str())
        }
        Verdict::Fail(why) => Sql::new(&format!("UPDATE outbox SET status = 'failed', last_error = $3{guard}"))
            .arg(c.id)
            .arg(c.attempts)
            .arg(why.as_str()),
    };
    let held = tx.execute(q).await? == 1;
    if held {
        if let Verdict::Fail(why) = &outcome {
            let mut notes = notifications::Notes::new();
            let data = serde_json::json!({"channel_label": c.label, "channel_kind": c.kind.as_str(), "reason": why});
            notes.push(&mut tx, c.workspace_id, c.user_id, "delivery_failed", c.account_id, data, now).await?;
            notes.flush(&mut tx, now).await?;
        }
    }
    tx.commit().await?;
    Ok(held)
}

/// A delivery as its person sees it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    /// Id.
    pub id: DeliveryId,
    /// The channel.
    pub channel_id: ChannelId,
    /// Its name.
    pub channel_label: String,
    /// Its vendor.
    pub channel_kind: ChannelKind,
    /// What was sent: the notification's kind.
    pub kind: String,
    /// `pending`, `sending`, `sent` or `failed`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it is (or was last) due.
    pub next_attempt_at: DateTime<Utc>,
    /// When queued.
    pub created_at: DateTime<Utc>,
    /// When the vendor took it.
    pub sent_at: Option<DateTime<Utc>>,
}
crate::from_row!(Delivery {
    id,
    channel_id,
    channel_label,
    channel_kind,
    kind,
    status,
    attempts,
    last_error,
    next_attempt_at,
    created_at,
    sent_at
});

/// A person's latest deliveries, newest first.
pub async fn deliveries(db: &Db, user: UserId, limit: i64) -> Result<Vec<Delivery>> {
    db.fetch_all(
        Sql::new(
            "SELECT o.id, o.channel_id, c.label AS channel_label, c.kind AS channel_kind, n.kind, o.status, o.attempts, \
             o.last_error, o.next_attempt_at, o.created_at, o.sent_at \
             FROM outbox o JOIN notify_channels c ON c.id = o.channel_id JOIN notifications n ON n.id = o.notification_id \
             WHERE o.user_id = $1 ORDER BY o.created_at DESC, o.id DESC LIMIT $2",
        )
        .arg(user)
        .arg(limit),
    )
    .await
}
