//! `guanxi bench --activities`: the figures of issue 5 on the data of
//! `guanxi gen --activities`: a salesperson's worklist, logging a touch with
//! its hook (one transaction, committed: it adds a touch and a task per
//! sample), and an account's timeline page of 50 — through the store
//! functions the handlers call.

use crate::bench::{figure, Figure};
use crate::crm_gen::demo_workspace;
use crate::dirty::Rng;
use guanxi_domain::{AccountId, ActivityKind, Clock, Outcome, Scope, UserId};
use guanxi_store::activities::{self, NewActivity, NewHook, Of};
use guanxi_store::{Actor, Db, Sql, Viewer};
use std::time::Instant;

/// Runs the three figures with `samples` samples each.
pub async fn run(db: &Db, clock: &dyn Clock, samples: usize) -> anyhow::Result<(String, Vec<Figure>)> {
    let ws = demo_workspace(db, clock).await?;
    let (acts,): (i64,) =
        db.fetch_one(Sql::new("SELECT COUNT(*) FROM activities WHERE workspace_id = $1").arg(ws)).await?;
    let (open,): (i64,) = db
        .fetch_one(Sql::new("SELECT COUNT(*) FROM tasks WHERE workspace_id = $1 AND status = 'open'").arg(ws))
        .await?;
    anyhow::ensure!(acts > 1000, "generate data first: guanxi gen --activities 10000000 --tasks 1000000");
    let owned: Vec<(AccountId, UserId)> = db
        .fetch_all(
            Sql::new("SELECT id, owner_id FROM accounts WHERE workspace_id = $1 AND owner_id IS NOT NULL AND deleted_at IS NULL")
                .arg(ws),
        )
        .await?;
    let mut users: Vec<UserId> = owned.iter().map(|o| o.1).collect();
    users.sort();
    users.dedup();
    let mut r = Rng(0xbe9c_5eed_0000_0005);
    let now = clock.now();
    let end_of_day = now + chrono::Duration::hours(24);
    let mut out = Vec::new();

    let mut ms = Vec::with_capacity(samples);
    for _ in 0..samples {
        let user = *r.pick(&users);
        let t = Instant::now();
        let list = activities::worklist(db, ws, user, end_of_day, 200).await?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(list);
    }
    out.push(figure("worklist of a salesperson (≤ 200 open tasks due by tomorrow)", ms));

    let mut ms = Vec::with_capacity(samples);
    for _ in 0..samples {
        let (account, owner) = *r.pick(&owned);
        let viewer = Viewer { workspace_id: ws, scope: Scope::Own(owner) };
        let t = Instant::now();
        let page = activities::timeline(db, viewer, Of::Account(account), None, 50).await?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(page);
    }
    out.push(figure("account timeline page (50 touches)", ms));

    let mut ms = Vec::with_capacity(samples);
    for _ in 0..samples {
        let (account, owner) = *r.pick(&owned);
        let actor = Actor { workspace_id: ws, user_id: Some(owner), label: "bench".into(), request_id: None };
        let now = clock.now();
        let new = NewActivity {
            account_id: account,
            contacts: Vec::new(),
            kind: ActivityKind::Call,
            started_at: now,
            duration_minutes: Some(35),
            outcome: Outcome::Connected,
            notes: Some("约了下周二上午 10:50 面谈".into()),
            learned: Vec::new(),
            hook: Some(NewHook {
                due_at: now + chrono::Duration::days(1),
                purpose: "送技改方案".into(),
                contact_id: None,
            }),
            no_hook_reason: None,
            fulfils: None,
            opportunity_id: None,
        };
        let t = Instant::now();
        let mut tx = db.begin().await?;
        let logged = activities::log(&mut tx, &actor, owner, &new, now).await?;
        tx.commit().await?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(logged);
    }
    out.push(figure("log a touch with its hook (committed)", ms));

    let data = format!(
        "{acts} activities, {open} open tasks, {} users with accounts, {} owned accounts",
        users.len(),
        owned.len()
    );
    Ok((data, out))
}
