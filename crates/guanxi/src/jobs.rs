//! Background jobs of `guanxi serve`: today the pool's release job (idle
//! accounts back to the pool, warnings before). Every instance may run it:
//! the job's updates re-check their conditions, so running it twice at once
//! changes nothing twice. `guanxi jobs run-once` runs it from cron instead.

use guanxi_domain::Clock;
use guanxi_store::ownership::{self, JobReport};
use guanxi_store::Db;
use std::sync::Arc;
use std::time::Duration;

/// One run of every job.
pub async fn run_once(db: &Db, clock: &dyn Clock) -> anyhow::Result<JobReport> {
    Ok(ownership::run_job(db, clock.now()).await?)
}

/// Runs the jobs every `every`, logging failures and going on, until the task is dropped.
pub fn spawn(db: Db, clock: Arc<dyn Clock>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match run_once(&db, clock.as_ref()).await {
                Ok(r) if r.released > 0 || r.warned > 0 => {
                    tracing::info!(released = r.released, warned = r.warned, "release job")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "release job failed; trying again next round"),
            }
        }
    })
}
