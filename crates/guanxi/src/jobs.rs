//! Background jobs of `guanxi serve`: the pool's release job (idle accounts
//! back to the pool, warnings before), reminders of hooks falling due,
//! greetings (holidays, birthdays), the delivery worker that sends the outbox
//! to WeCom, DingTalk, Feishu and e-mail, the sweep that marks imports whose
//! server stopped as failed, and (hourly) fresh planner statistics for tables
//! that grew. Every instance may run them: each job's updates re-check their
//! conditions and deliveries are claimed under a lease, so running them twice
//! at once does nothing twice. `guanxi jobs run-once` runs them from cron instead.

use guanxi_domain::Clock;
use guanxi_notify::Sender;
use guanxi_store::ownership::{self, JobReport};
use guanxi_store::{activities, greetings, Db};
use std::sync::Arc;
use std::time::Duration;

/// What one run of every job did.
#[derive(Clone, Copy, Debug, Default)]
pub struct Report {
    /// The pool's release job.
    pub pool: JobReport,
    /// Hooks and tasks whose reminder went out.
    pub reminded: u64,
    /// Greeting reminders (holidays, birthdays) that went out.
    pub greeted: u64,
    /// Deliveries to channels.
    pub delivered: guanxi_notify::Report,
    /// Imports whose server stopped under them, marked failed.
    pub interrupted: u64,
}

/// One run of every job.
pub async fn run_once(db: &Db, clock: &dyn Clock, sender: &Sender) -> anyhow::Result<Report> {
    let pool = ownership::run_job(db, clock.now()).await?;
    let reminded = activities::remind_due(db, clock.now()).await?;
    let greeted = greetings::run(db, clock.now()).await?;
    let delivered = guanxi_notify::deliver_due(db, sender, clock).await?;
    let interrupted = guanxi_exchange::import::stored::sweep(db, clock).await?;
    db.optimize().await?;
    Ok(Report { pool, reminded, greeted, delivered, interrupted })
}

/// Runs the release job every `every` and reminders with deliveries every
/// `deliver_every`, logging failures and going on, until the task is dropped.
pub fn spawn(
    db: Db,
    clock: Arc<dyn Clock>,
    sender: Sender,
    every: Duration,
    deliver_every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut pool_tick = tokio::time::interval(every);
        pool_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Greetings look at dates, not minutes: hourly is soon enough.
        let mut greet_tick = tokio::time::interval(Duration::from_secs(3600));
        greet_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut deliver_tick = tokio::time::interval(deliver_every);
        deliver_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = pool_tick.tick() => match ownership::run_job(&db, clock.now()).await {
                    Ok(r) if r.released > 0 || r.warned > 0 => {
                        tracing::info!(released = r.released, warned = r.warned, "release job")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "release job failed; trying again next round"),
                },
                _ = greet_tick.tick() => {
                    match greetings::run(&db, clock.now()).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(greetings = n, "greeting reminders"),
                        Err(e) => tracing::warn!(error = %e, "greeting job failed; trying again next round"),
                    }
                    // Also hourly: the planner's statistics of tables that grew.
                    if let Err(e) = db.optimize().await {
                        tracing::warn!(error = %e, "refreshing planner statistics failed; trying again next hour");
                    }
                }
                _ = deliver_tick.tick() => {
                    match activities::remind_due(&db, clock.now()).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(reminded = n, "reminders"),
                        Err(e) => tracing::warn!(error = %e, "reminders failed; trying again next round"),
                    }
                    match guanxi_notify::deliver_due(&db, &sender, clock.as_ref()).await {
                        Ok(r) if r == guanxi_notify::Report::default() => {}
                        Ok(r) => tracing::info!(sent = r.sent, retried = r.retried, failed = r.failed, "deliveries"),
                        Err(e) => tracing::warn!(error = %e, "deliveries failed; trying again next round"),
                    }
                    match guanxi_exchange::import::stored::sweep(&db, clock.as_ref()).await {
                        Ok(0) => {}
                        Ok(n) => tracing::warn!(imports = n, "imports interrupted by a stopped server marked failed"),
                        Err(e) => tracing::warn!(error = %e, "import sweep failed; trying again next round"),
                    }
                }
            }
        }
    })
}
