//! Purchases (seed 003) and the restock reminder they schedule: recording
//! what an account bought moves its restock task for that item to a week
//! before the stated or learned cycle runs out.

use crate::activities::{self, NewTask, Task};
use crate::audit::{self, Action, Actor};
use crate::db::{Db, Sql, Tx};
use crate::Result;
use chrono::{DateTime, NaiveDate, Utc};
use guanxi_domain::purchase::{self, CycleSource};
use guanxi_domain::{AccountId, TaskId, UserId, WorkspaceId};
use serde::Serialize;
use uuid::Uuid;

/// A purchase as shown.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Purchase {
    /// Id.
    pub id: Uuid,
    /// What was bought.
    pub item: String,
    /// On which day (`2026-11-22`).
    pub purchased_on: String,
    /// How much, as said.
    pub quantity: Option<String>,
    /// How many days it lasts, as stated.
    pub cycle_days: Option<i64>,
    /// Who recorded it.
    pub created_by_name: String,
    /// When.
    pub created_at: DateTime<Utc>,
}
crate::from_row!(Purchase { id, item, purchased_on, quantity, cycle_days, created_by_name, created_at });

/// A purchase to record (checked by the caller).
#[derive(Clone, Debug)]
pub struct NewPurchase {
    /// What.
    pub item: String,
    /// When.
    pub purchased_on: NaiveDate,
    /// How much.
    pub quantity: Option<String>,
    /// How long it lasts, if known.
    pub cycle_days: Option<i64>,
}

/// A recorded purchase and what it scheduled.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Recorded {
    /// The purchase.
    pub purchase: Purchase,
    /// The item's cycle in days, when known.
    pub cycle_days: Option<i64>,
    /// Where that comes from.
    pub cycle_source: Option<CycleSource>,
    /// The restock reminder now scheduled for the item, if the cycle is known.
    pub restock: Option<Task>,
}

const SELECT: &str =
    "SELECT p.id, p.item, p.purchased_on, p.quantity, p.cycle_days, u.display_name AS created_by_name, \
     p.created_at FROM purchases p JOIN users u ON u.id = p.created_by";

/// Records a purchase at an account the caller may see, and reschedules the
/// item's restock reminder (for the owner; for the recorder if nobody owns
/// it) at 10:00 in `tz` on the day `purchase::restock_on` says.
pub async fn record(
    tx: &mut Tx,
    actor: &Actor,
    by: UserId,
    account: AccountId,
    p: &NewPurchase,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Result<Recorded> {
    let ws: WorkspaceId = actor.workspace_id;
    let id = Uuid::now_v7();
    tx.execute(
        Sql::new(
            "INSERT INTO purchases (id, workspace_id, account_id, item, purchased_on, quantity, cycle_days, created_by, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .arg(id)
        .arg(ws)
        .arg(account)
        .arg(p.item.as_str())
        .arg(p.purchased_on.to_string())
        .arg(p.quantity.clone())
        .arg(p.cycle_days)
        .arg(by)
        .arg(now),
    )
    .await?;
    let past: Vec<(String, Option<i64>)> = tx
        .fetch_all(
            Sql::new("SELECT purchased_on, cycle_days FROM purchases WHERE account_id = $1 AND item = $2 ORDER BY purchased_on, created_at")
                .arg(account)
                .arg(p.item.as_str()),
        )
        .await?;
    let dates: Vec<NaiveDate> = past.iter().filter_map(|(d, _)| d.parse().ok()).collect();
    let stated = past.iter().rev().find_map(|(_, c)| *c);
    // The item's earlier reminder gives way to the new one.
    tx.execute(
        Sql::new(
            "UPDATE tasks SET status = 'cancelled', remind_at = NULL, updated_at = $1 WHERE status = 'open' AND id IN \
             (SELECT restock_task_id FROM purchases WHERE account_id = $2 AND item = $3 AND restock_task_id IS NOT NULL)",
        )
        .arg(now)
        .arg(account)
        .arg(p.item.as_str()),
    )
    .await?;
    let found = purchase::cycle(&dates, stated);
    let mut restock = None;
    if let (Some((cycle, _)), Some(last)) = (found, dates.iter().max()) {
        let today = now.with_timezone(&tz).date_naive();
        let on = purchase::restock_on(*last, cycle, today);
        let due = on
            .and_hms_opt(10, 0, 0)
            .and_then(|t| t.and_local_timezone(tz).earliest())
            .map_or(now + chrono::Duration::days(1), |t| t.with_timezone(&Utc));
        let (owner,): (Option<UserId>,) =
            tx.fetch_one(Sql::new("SELECT owner_id FROM accounts WHERE id = $1").arg(account)).await?;
        let task = TaskId::new();
        let new = NewTask {
            account_id: account,
            contact_id: None,
            due_at: due,
            purpose: format!("提醒客户补货：{}（约每 {cycle} 天采购一次）", p.item),
            repeat_every_days: None,
            repeat_until: None,
            repeat_forever: false,
        };
        activities::insert_task(tx, ws, task, &new, owner.unwrap_or(by), now).await?;
        tx.execute(Sql::new("UPDATE purchases SET restock_task_id = $1 WHERE id = $2").arg(task).arg(id)).await?;
        restock = Some(activities::task_in(tx, ws, task).await?);
    }
    let changes = serde_json::json!({
        "account_id": {"before": null, "after": account},
        "item": {"before": null, "after": p.item},
        "purchased_on": {"before": null, "after": p.purchased_on.to_string()},
    });
    audit::record(tx, actor, Action::Create, "purchase", id, changes, now).await?;
    let purchase = tx.fetch_one(Sql::new(&format!("{SELECT} WHERE p.id = $1")).arg(id)).await?;
    Ok(Recorded { purchase, cycle_days: found.map(|c| c.0), cycle_source: found.map(|c| c.1), restock })
}

/// An account's purchases, latest first.
pub async fn list(db: &Db, account: AccountId, limit: i64) -> Result<Vec<Purchase>> {
    db.fetch_all(
        Sql::new(&format!("{SELECT} WHERE p.account_id = $1 ORDER BY p.purchased_on DESC, p.created_at DESC LIMIT $2"))
            .arg(account)
            .arg(limit),
    )
    .await
}
