//! `guanxi bench --pool`: the pool's figures on the generated data of
//! `guanxi gen`. It CHANGES OWNERSHIP in the database it runs on (every
//! account goes to the pool, then back to one owner with a tenth of them
//! due), so run it on a database generated for it, not on one another
//! benchmark or a person uses.
//!
//! 1. The pool list page (50 rows) with a filter, with every account pooled.
//! 2. The release job over every account, a tenth of them due.
//! 3. Claims under contention: 64 clients claiming the same 1,000 pooled accounts.

use crate::bench::{figure, Figure};
use crate::crm_gen::{demo_workspace, sales_users};
use crate::dirty::Rng;
use chrono::Duration;
use guanxi_domain::{AccountId, AccountSource, Classification, Clock, ReleaseReason};
use guanxi_store::accounts::{self, AccountFilter};
use guanxi_store::ownership::{self, Claimant};
use guanxi_store::{pool, Conn, Db, Sql, Viewer};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Clients racing for the same accounts.
const CLIENTS: usize = 64;
/// Accounts they race for.
const CONTESTED: usize = 1000;

/// Runs the pool's benchmarks; returns a description of the data and the figures.
pub async fn run(db: &Db, clock: &dyn Clock, samples: usize) -> anyhow::Result<(String, Vec<Figure>)> {
    let ws = demo_workspace(db, clock).await?;
    let (total,): (i64,) = db
        .fetch_one(Sql::new("SELECT COUNT(*) FROM accounts WHERE workspace_id = $1 AND deleted_at IS NULL").arg(ws))
        .await?;
    anyhow::ensure!(total > 10_000, "generate data first: guanxi gen --users 200 --accounts 1000000");
    let people = sales_users(db, ws).await?;
    anyhow::ensure!(people.len() > CLIENTS, "generate more users first: guanxi gen --users 200");
    let default = pool::default_of(Conn::Db(db), ws).await?;
    let now = clock.now();
    let mut out = Vec::new();

    // 1. Everything in the pool, with reasons to filter by.
    eprintln!("  putting all {total} accounts in the pool…");
    db.execute(
        Sql::new(
            "UPDATE accounts SET previous_owner_id = COALESCE(owner_id, previous_owner_id), owner_id = NULL, owned_at = NULL, \
             pool_id = $1, released_at = $2, release_due_at = NULL, release_rule = NULL, release_warned_at = NULL, \
             release_reason = CASE classification WHEN 'a' THEN 'no_activity' WHEN 'b' THEN 'manual' ELSE 'no_deal' END \
             WHERE workspace_id = $3",
        )
        .arg(default.id)
        .arg(now)
        .arg(ws),
    )
    .await?;
    settle(db).await?;
    let provinces: Vec<(String,)> = db
        .fetch_all(
            Sql::new("SELECT DISTINCT region_code FROM accounts WHERE workspace_id = $1 AND region_code IS NOT NULL LIMIT 40")
                .arg(ws),
        )
        .await?;
    let mut r = Rng(0x9001_5eed_0000_0001);
    let mut ms = Vec::with_capacity(samples);
    for i in 0..samples {
        let mut f = AccountFilter { pool_id: Some(default.id), ..AccountFilter::default() };
        match i % 5 {
            0 => f.classification = Some(*r.pick(Classification::ALL)),
            1 => f.source = Some(*r.pick(AccountSource::ALL)),
            2 if !provinces.is_empty() => {
                let city = &r.pick(&provinces).0;
                f.region_code = Some(format!("{}0000", &city[..2]));
            }
            3 => {
                f.release_reason =
                    Some(*r.pick(&[ReleaseReason::Manual, ReleaseReason::NoActivity, ReleaseReason::NoDeal]))
            }
            _ => {
                f.classification = Some(*r.pick(Classification::ALL));
                f.source = Some(*r.pick(AccountSource::ALL));
            }
        }
        let started = Instant::now();
        let rows = accounts::list(db, Viewer::whole(ws), &f, 51).await?;
        let masked: Vec<_> = rows.into_iter().map(|a| pool::masked(a, &default.rules)).collect();
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(masked);
    }
    out.push(figure(&format!("pool list page, 50 rows, one filter ({total} pooled)"), ms));

    // 2. Everything owned again, a tenth due: the release job returns them.
    let owner = people[0].0;
    let (pivot,): (AccountId,) = db
        .fetch_one(
            Sql::new("SELECT id FROM accounts WHERE workspace_id = $1 ORDER BY id LIMIT 1 OFFSET $2")
                .arg(ws)
                .arg(total / 10),
        )
        .await?;
    eprintln!("  giving them all to one owner, a tenth due…");
    db.execute(
        Sql::new(
            "UPDATE accounts SET owner_id = $1, owned_at = $2, activity_clock_at = $2, progress_clock_at = $2, deal_clock_at = $2, \
             release_rule = 'no_activity', release_warned_at = $2, released_at = NULL, release_reason = NULL, \
             release_due_at = CASE WHEN id < $3 THEN $4 ELSE $5 END WHERE workspace_id = $6",
        )
        .arg(owner)
        .arg(now - Duration::days(40))
        .arg(pivot)
        .arg(now - Duration::days(1))
        .arg(now + Duration::days(30))
        .arg(ws),
    )
    .await?;
    settle(db).await?;
    let started = Instant::now();
    let report = ownership::run_job(db, now).await?;
    let job = started.elapsed().as_secs_f64() * 1000.0;
    anyhow::ensure!(report.released as i64 == total / 10, "the job returned {} of {} due", report.released, total / 10);
    out.push(figure(&format!("release job: {} of {total} accounts due, returned", report.released), vec![job]));

    // 3. 64 people claim the same 1,000 pooled accounts at once.
    let contested: Vec<(AccountId,)> = db
        .fetch_all(
            Sql::new("SELECT id FROM accounts WHERE workspace_id = $1 AND owner_id IS NULL AND deleted_at IS NULL ORDER BY id LIMIT $2")
                .arg(ws)
                .arg(CONTESTED as i64),
        )
        .await?;
    let saved_rules = default.rules.clone();
    let unlimited = guanxi_domain::PoolRules { max_owned: None, daily_claims: None, ..saved_rules.clone() };
    set_rules(db, default.id, &unlimited).await?;
    let contested: Arc<Vec<AccountId>> = Arc::new(contested.into_iter().map(|(id,)| id).collect());
    let taken: Arc<Vec<AtomicBool>> = Arc::new(contested.iter().map(|_| AtomicBool::new(false)).collect());
    let won = Arc::new(AtomicUsize::new(0));
    let settled = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (k, (user, team)) in people.iter().skip(1).take(CLIENTS).enumerate() {
        let (db, contested, taken) = (db.clone(), contested.clone(), taken.clone());
        let (won, settled) = (won.clone(), settled.clone());
        let who = Claimant { user_id: *user, name: format!("bench {k}"), team_id: *team };
        tasks.push(tokio::spawn(async move {
            let mut r = Rng(0xc1a1_0000 + k as u64);
            let mut lat = Vec::new();
            let actor = guanxi_store::Actor::system(ws, "bench");
            while settled.load(Ordering::Relaxed) < contested.len() {
                // A random account nobody has taken yet, as a person picks from the list.
                let start = r.below(contested.len());
                let Some(i) = (0..contested.len())
                    .map(|d| (start + d) % contested.len())
                    .find(|i| !taken[*i].load(Ordering::Relaxed))
                else {
                    break;
                };
                let t = Instant::now();
                let mut tx = db.begin().await?;
                let result = ownership::claim(&mut tx, &actor, &who, contested[i], now - Duration::days(1), now).await;
                if result.is_ok() {
                    tx.commit().await?;
                    won.fetch_add(1, Ordering::Relaxed);
                } else {
                    drop(tx);
                }
                if !taken[i].swap(true, Ordering::Relaxed) {
                    settled.fetch_add(1, Ordering::Relaxed);
                }
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            anyhow::Ok(lat)
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await??);
    }
    let secs = started.elapsed().as_secs_f64();
    set_rules(db, default.id, &saved_rules).await?;
    let claims = won.load(Ordering::Relaxed);
    out.push(figure(
        &format!(
            "claim under contention: {CLIENTS} clients, {CONTESTED} accounts, {claims} won, {:.0} claims/s",
            claims as f64 / secs
        ),
        lat,
    ));
    Ok((format!("{total} accounts in the demo workspace"), out))
}

/// Statistics (and on PostgreSQL, the visibility map and dead rows) as a
/// database has them in use, after the setup's mass updates.
async fn settle(db: &Db) -> anyhow::Result<()> {
    let sql = match db.dialect() {
        guanxi_store::Dialect::Sqlite => "ANALYZE",
        guanxi_store::Dialect::Postgres => "VACUUM ANALYZE accounts",
    };
    db.execute(Sql::new(sql)).await?;
    Ok(())
}

async fn set_rules(db: &Db, pool: guanxi_domain::PoolId, rules: &guanxi_domain::PoolRules) -> anyhow::Result<()> {
    db.execute(Sql::new("UPDATE pools SET rules = $1 WHERE id = $2").arg(serde_json::to_value(rules)?).arg(pool))
        .await?;
    Ok(())
}
