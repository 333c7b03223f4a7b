//! `guanxi import`: a file into a workspace as the system, with the report
//! printed — counts, the mapping used, the first problems — and the bad rows
//! written beside the file.

use anyhow::Context;
use guanxi_exchange::import::{self, report::Severity, Options, Who};
use guanxi_store::Db;
use std::path::{Path, PathBuf};

/// Problems printed; the rest are in the file of bad rows and the import's record.
const SHOWN: usize = 20;

/// Runs the import and prints what it did.
pub async fn run(
    db: &Db,
    workspace: Option<&str>,
    input: &Path,
    errors: Option<PathBuf>,
    opts: &Options,
) -> anyhow::Result<()> {
    let ws = crate::cli::workspace_named(db, workspace).await?;
    let started = std::time::Instant::now();
    let input = std::fs::canonicalize(input).with_context(|| format!("cannot open {}", input.display()))?;
    let size = std::fs::metadata(&input)?.len();
    let plan = {
        let (input, opts) = (input.clone(), opts.clone());
        tokio::task::spawn_blocking(move || import::plan(&input, &opts)).await??
    };
    let errors = errors.unwrap_or_else(|| {
        let mut name = input.file_name().unwrap_or_default().to_os_string();
        name.push(".errors.csv");
        input.with_file_name(name)
    });
    let who = Who::system(ws);
    let clock = guanxi_domain::clock::SystemClock;
    let name = input.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let id =
        import::record(db, &who, &name, import::Kept::Path(&input), size, plan.kind, opts, clock_now(&clock)).await?;
    eprintln!("import {id}: {} as {} ({})", input.display(), plan.kind.as_str(), plan.format);
    for c in plan.mapping.to_columns(&plan.headers) {
        eprintln!("  {} → {}", c.column, c.field);
    }
    let unmapped: Vec<&str> =
        plan.headers.iter().zip(&plan.mapping.columns).filter(|(_, f)| f.is_none()).map(|(h, _)| h.as_str()).collect();
    if !unmapped.is_empty() {
        eprintln!("  not imported: {}", unmapped.join(", "));
    }
    let result = import::run(db, &who, id, &plan, opts, Some(&errors), &clock).await;
    let report = match result {
        Ok(r) => r,
        Err(import::ImportError::Aborted(n)) => {
            anyhow::bail!("{n} rows are bad, so nothing was written (--on-error abort); see {}", errors.display())
        }
        Err(e) => return Err(e.into()),
    };
    let c = report.counts;
    let verb = if opts.dry_run { "would be" } else { "were" };
    println!(
        "{} rows read in {:.1} s: {} {verb} created, {} updated, {} merged into earlier rows, {} left as they are, {} failed; {} warnings",
        report.rows,
        started.elapsed().as_secs_f64(),
        c.created,
        c.updated,
        c.merged,
        c.unchanged,
        c.failed,
        c.warnings
    );
    eprintln!("  time: {}", report.timings);
    for p in report.problems.iter().filter(|p| p.severity != Severity::Note).take(SHOWN) {
        let column = p.column.as_deref().map(|c| format!(" [{c}]")).unwrap_or_default();
        println!("  line {} (row {}){column}: {}", p.line, p.row, p.message);
    }
    if c.failed > 0 {
        println!("bad rows, with the reason in a column, are in {}", errors.display());
    } else {
        let _ = std::fs::remove_file(&errors);
    }
    Ok(())
}

fn clock_now(clock: &dyn guanxi_domain::Clock) -> chrono::DateTime<chrono::Utc> {
    clock.now()
}
