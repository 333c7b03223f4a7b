//! The greeting job (seed 004): a few days before a holiday every person who
//! owns accounts is reminded to greet their key people, and the day before a
//! key person's birthday their account's owner is. Each person hears of one
//! occasion once: `greeting_notices` keeps (person, occasion, date), and only
//! the insert that adds the row sends the reminder, so instances racing and
//! hourly re-runs change nothing twice.

use crate::db::{Db, Sql};
use crate::notifications::Notes;
use crate::Result;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use guanxi_domain::holiday;
use guanxi_domain::{AccountId, ContactId, UserId, WorkspaceId};

/// Days ahead that a holiday is announced.
pub const HOLIDAY_NOTICE_DAYS: i64 = 3;

struct Wanted {
    user: UserId,
    occasion: String,
    on: NaiveDate,
    account: Option<AccountId>,
    data: serde_json::Value,
}

/// Runs the job for every workspace at `now` (dates in each workspace's zone);
/// answers how many reminders went out.
pub async fn run(db: &Db, now: DateTime<Utc>) -> Result<u64> {
    let workspaces: Vec<(WorkspaceId, String)> = db.fetch_all(Sql::new("SELECT id, time_zone FROM workspaces")).await?;
    let mut total = 0;
    for (ws, tz) in workspaces {
        let tz: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::Asia::Shanghai);
        let today = now.with_timezone(&tz).date_naive();
        let mut wanted = Vec::new();
        let holidays = holiday::upcoming(today, HOLIDAY_NOTICE_DAYS);
        if !holidays.is_empty() {
            let owners: Vec<(UserId,)> = db
                .fetch_all(
                    Sql::new(
                        "SELECT DISTINCT a.owner_id FROM accounts a JOIN users u ON u.id = a.owner_id \
                         WHERE a.workspace_id = $1 AND a.owner_id IS NOT NULL AND a.deleted_at IS NULL \
                         AND u.disabled_at IS NULL",
                    )
                    .arg(ws),
                )
                .await?;
            for (h, on) in &holidays {
                for (user,) in &owners {
                    wanted.push(Wanted {
                        user: *user,
                        occasion: format!("holiday:{}", h.as_str()),
                        on: *on,
                        account: None,
                        data: serde_json::json!({"holiday": h.as_str(), "on": on}),
                    });
                }
            }
        }
        let tomorrow = today + chrono::Duration::days(1);
        let mut days = vec![format!("%-{:02}-{:02}", tomorrow.month(), tomorrow.day())];
        // Born on 29 February: greeted on the 28th in a common year.
        if (tomorrow.month(), tomorrow.day()) == (2, 28) && NaiveDate::from_ymd_opt(tomorrow.year(), 2, 29).is_none() {
            days.push("%-02-29".into());
        }
        for day in days {
            let born: Vec<(ContactId, String, AccountId, String, UserId)> = db
                .fetch_all(
                    Sql::new(
                        "SELECT c.id, c.name, a.id, a.name, a.owner_id FROM contacts c JOIN accounts a ON a.id = c.account_id \
                         WHERE a.workspace_id = $1 AND a.owner_id IS NOT NULL AND a.deleted_at IS NULL \
                         AND c.deleted_at IS NULL AND c.left_company = FALSE AND c.birthday LIKE $2",
                    )
                    .arg(ws)
                    .arg(day),
                )
                .await?;
            for (contact, name, account, account_name, owner) in born {
                wanted.push(Wanted {
                    user: owner,
                    occasion: format!("birthday:{}", contact.uuid()),
                    on: tomorrow,
                    account: Some(account),
                    data: serde_json::json!({
                        "contact_id": contact, "contact_name": name, "account_name": account_name, "on": tomorrow,
                    }),
                });
            }
        }
        if wanted.is_empty() {
            continue;
        }
        let mut tx = db.begin().await?;
        let mut notes = Notes::new();
        for w in wanted {
            let added = tx
                .execute(
                    Sql::new(
                        "INSERT INTO greeting_notices (user_id, occasion, on_date, workspace_id, created_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                    )
                    .arg(w.user)
                    .arg(w.occasion.as_str())
                    .arg(w.on.to_string())
                    .arg(ws)
                    .arg(now),
                )
                .await?;
            if added == 1 {
                notes.push(&mut tx, ws, w.user, "greeting", w.account, w.data, now).await?;
                total += 1;
            }
        }
        notes.flush(&mut tx, now).await?;
        tx.commit().await?;
    }
    Ok(total)
}
