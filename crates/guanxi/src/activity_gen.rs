//! `guanxi gen --activities N --tasks M`: touches and open tasks on the demo
//! workspace's owned accounts, for the benchmarks of issue 5 (10M activities,
//! 1M open tasks, 1000 users). Written in bulk (multi-row inserts, one
//! transaction per 50,000 rows); idempotent: tops up to the counts asked.

use crate::crm_gen::demo_workspace;
use crate::dirty::Rng;
use chrono::Duration;
use guanxi_domain::{AccountId, ActivityId, Clock, TaskId, UserId};
use guanxi_store::batch::Batch;
use guanxi_store::{Db, Sql, Val};

const PER_TX: u64 = 50_000;

const KINDS: [&str; 5] = ["call", "call", "visit", "wechat", "meeting"];
const OUTCOMES: [&str; 6] = ["connected", "no_answer", "connected", "call_back", "meeting_booked", "info_obtained"];
const NOTES: [&str; 6] = [
    "约了下周二上午 10:50 面谈，35 分钟，我们去三个人",
    "主任在开会，下午四点以后再打",
    "了解到明年技改预算，待确认",
    "送了样品资料，对方答应转给设计院",
    "客户说现在不需要，三个月后再联系",
    "和采购部确认了招标时间",
];
const PURPOSES: [&str; 5] = ["送技改方案", "确认招标时间", "约主任面谈", "回访使用情况", "送报价单"];

/// Tops the demo workspace up to `activities` touches and `open_tasks` open
/// tasks, spread evenly over its owned accounts (by their owners); returns the counts.
pub async fn generate(db: &Db, clock: &dyn Clock, activities: u64, open_tasks: u64) -> anyhow::Result<(u64, u64)> {
    let ws = demo_workspace(db, clock).await?;
    let owned: Vec<(AccountId, UserId)> = db
        .fetch_all(
            Sql::new(
                "SELECT id, owner_id FROM accounts WHERE workspace_id = $1 AND owner_id IS NOT NULL AND deleted_at IS NULL \
                 ORDER BY id",
            )
            .arg(ws),
        )
        .await?;
    anyhow::ensure!(!owned.is_empty(), "generate accounts first: guanxi gen --users 1000 --accounts 200000");
    let now = clock.now();
    let started = std::time::Instant::now();
    let (have,): (i64,) =
        db.fetch_one(Sql::new("SELECT COUNT(*) FROM activities WHERE workspace_id = $1").arg(ws)).await?;
    let mut r = Rng(0x0ac7_1b17_5eed_0001 ^ have as u64);
    let mut i = have as u64;
    let n = owned.len() as u64;
    while i < activities {
        let end = (i + PER_TX).min(activities);
        let mut tx = db.begin().await?;
        let mut b = Batch::new(
            "activities",
            "id, workspace_id, account_id, author_id, kind, started_at, duration_minutes, outcome, notes, learned, \
             no_hook_reason, created_at",
        );
        for k in i..end {
            // Account by account, so that each account's touches are written together.
            let (account, owner) = owned[(k * n / activities.max(1)) as usize % owned.len()];
            let at = now - Duration::minutes(r.below(730 * 24 * 60) as i64 + 60);
            b.push(
                &mut tx,
                vec![
                    Val::from(ActivityId::new()),
                    ws.into(),
                    account.into(),
                    owner.into(),
                    (*r.pick(&KINDS)).into(),
                    at.into(),
                    Some(5 + r.below(55) as i64).into(),
                    (*r.pick(&OUTCOMES)).into(),
                    Some((*r.pick(&NOTES)).to_owned()).into(),
                    serde_json::json!([]).into(),
                    None::<String>.into(),
                    at.into(),
                ],
            )
            .await?;
        }
        b.flush(&mut tx).await?;
        tx.commit().await?;
        i = end;
        if i % 1_000_000 < PER_TX {
            eprintln!("  {i} activities, {:.0} s", started.elapsed().as_secs_f64());
        }
    }
    let (have,): (i64,) = db
        .fetch_one(Sql::new("SELECT COUNT(*) FROM tasks WHERE workspace_id = $1 AND status = 'open'").arg(ws))
        .await?;
    let mut i = have as u64;
    while i < open_tasks {
        let end = (i + PER_TX).min(open_tasks);
        let mut tx = db.begin().await?;
        let mut b = Batch::new(
            "tasks",
            "id, workspace_id, account_id, assignee_id, kind, due_at, purpose, status, created_at, updated_at, remind_at",
        );
        for k in i..end {
            let (account, owner) = owned[(k % n) as usize];
            // From a month overdue to three months ahead, at whole quarter hours.
            let due = now + Duration::minutes((r.below(120 * 96) as i64 - 30 * 96) * 15);
            let remind = (due > now).then(|| due - Duration::minutes(15));
            b.push(
                &mut tx,
                vec![
                    Val::from(TaskId::new()),
                    ws.into(),
                    account.into(),
                    owner.into(),
                    "hook".into(),
                    due.into(),
                    (*r.pick(&PURPOSES)).into(),
                    "open".into(),
                    now.into(),
                    now.into(),
                    remind.into(),
                ],
            )
            .await?;
        }
        b.flush(&mut tx).await?;
        tx.commit().await?;
        i = end;
    }
    let after_load = match db.dialect() {
        guanxi_store::Dialect::Sqlite => "ANALYZE",
        guanxi_store::Dialect::Postgres => "VACUUM ANALYZE",
    };
    db.execute(Sql::new(after_load)).await?;
    let (a,): (i64,) =
        db.fetch_one(Sql::new("SELECT COUNT(*) FROM activities WHERE workspace_id = $1").arg(ws)).await?;
    let (t,): (i64,) = db
        .fetch_one(Sql::new("SELECT COUNT(*) FROM tasks WHERE workspace_id = $1 AND status = 'open'").arg(ws))
        .await?;
    Ok((a as u64, t as u64))
}
