//! Imports of uploads kept in the database (the web and the API). The
//! readers need a file they can seek in (XLSX is a zip), so an upload is
//! copied once to a local cache file, shared by its preview, its dry run
//! and its import; the file of bad rows goes back into the database, where
//! any instance can serve it.

use super::{plan, ImportError, Options, Plan, Who};
use crate::read::Table;
use guanxi_domain::{Clock, ImportId};
use guanxi_store::files::{self, StoredFile};
use guanxi_store::{imports, Db};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;
use uuid::Uuid;

/// Where uploads are copied to be read.
fn cache_dir() -> PathBuf {
    std::env::temp_dir().join("guanxi-uploads")
}

/// Cached copies older than this are removed by [`sweep`].
pub const CACHE_TTL: Duration = Duration::from_secs(24 * 3600);

/// An import is taken for dead when its heartbeat is older than this
/// (progress is recorded after every batch, seconds apart).
pub const STALE: Duration = Duration::from_secs(10 * 60);

/// The local copy of a complete upload, made on first use.
pub async fn local_copy(db: &Db, file: &StoredFile) -> Result<PathBuf, ImportError> {
    let dir = cache_dir();
    tokio::fs::create_dir_all(&dir).await?;
    let path = dir.join(file.id.to_string());
    if tokio::fs::metadata(&path).await.map(|m| m.len() as i64 == file.size).unwrap_or(false) {
        return Ok(path);
    }
    // Written under a name of its own, then renamed: two instances or two
    // requests copying at once never read a half-written file.
    let part = dir.join(format!("{}.{}.part", file.id, Uuid::now_v7()));
    let mut out = tokio::fs::File::create(&part).await?;
    let mut seq = 0;
    loop {
        let chunks = files::chunks_from(db, file.id, seq).await?;
        let Some(last) = chunks.last().map(|c| c.0) else { break };
        for (_, data) in chunks {
            tokio::io::AsyncWriteExt::write_all(&mut out, &data).await?;
        }
        seq = last + 1;
    }
    tokio::io::AsyncWriteExt::flush(&mut out).await?;
    drop(out);
    tokio::fs::rename(&part, &path).await?;
    Ok(path)
}

/// A column of the file as the mapping editor shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PreviewColumn {
    /// The header.
    pub column: String,
    /// The field it fills (`null`: not imported).
    pub field: Option<String>,
    /// Its first few values.
    pub samples: Vec<String>,
}

/// What a file looks like before it is imported.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Preview {
    /// What it is (`CSV (GB18030, ",")`, `XLSX`).
    pub format: String,
    /// The kind it holds (as asked, or guessed).
    pub kind: crate::fields::Kind,
    /// Its columns with the mapping and sample values.
    pub columns: Vec<PreviewColumn>,
    /// The fields a column can fill for this kind.
    pub fields: Vec<String>,
}

/// Rows sampled for the preview.
const SAMPLES: usize = 3;

/// Maps `path` as `opts` say and samples its first rows.
pub fn preview(path: &std::path::Path, opts: &Options) -> Result<(Plan, Preview), ImportError> {
    let plan = plan(path, opts)?;
    let mut table = Table::open(path)?;
    let mut samples: Vec<Vec<String>> = vec![Vec::new(); plan.headers.len()];
    let mut taken = 0;
    while taken < SAMPLES {
        match table.next_row() {
            Some(Ok(Ok(row))) => {
                for (i, cell) in row.cells.into_iter().enumerate().take(samples.len()) {
                    samples[i].push(cell.chars().take(80).collect());
                }
                taken += 1;
            }
            Some(Ok(Err(_))) => continue,
            Some(Err(_)) | None => break,
        }
    }
    let columns = plan
        .headers
        .iter()
        .zip(&plan.mapping.columns)
        .zip(samples)
        .map(|((h, f), samples)| PreviewColumn { column: h.clone(), field: f.map(|f| f.key.to_owned()), samples })
        .collect();
    let fields = plan.kind.fields().iter().map(|f| f.key.to_owned()).collect();
    let preview = Preview { format: plan.format.clone(), kind: plan.kind, columns, fields };
    Ok((plan, preview))
}

/// Runs a recorded import of a stored upload to its end (meant for a task of
/// its own): the report and counts land on the import's record, the bad rows
/// in a stored file. Errors are recorded there too; what is returned is for logs.
pub async fn run_stored(
    db: &Db,
    who: &Who,
    import: ImportId,
    plan: &Plan,
    opts: &Options,
    clock: &dyn Clock,
) -> Result<(), ImportError> {
    let dir = cache_dir();
    tokio::fs::create_dir_all(&dir).await?;
    let errors = dir.join(format!("{import}.errors.csv"));
    imports::start(db, import, plan.kind.as_str(), &plan.format, clock.now()).await?;
    let result = super::run_passes(db, who, import, plan, opts, Some(&errors), clock).await;
    let failed = match &result {
        Ok(r) => r.counts.failed > 0,
        Err(ImportError::Aborted(_)) => true,
        Err(_) => false,
    };
    // Stored before the import says it is done: whoever sees `done` can download it.
    let kept = if failed { keep_errors(db, who, import, &errors, clock).await } else { Ok(()) };
    let _ = tokio::fs::remove_file(&errors).await;
    // Concluded even when keeping the bad rows failed: the import must not look alive.
    super::conclude(db, import, plan, &result, None, clock).await?;
    kept?;
    result.map(|_| ())
}

async fn keep_errors(
    db: &Db,
    who: &Who,
    import: ImportId,
    errors: &std::path::Path,
    clock: &dyn Clock,
) -> Result<(), ImportError> {
    let name = format!("{import}.errors.csv");
    let stored =
        files::store_path(db, who.actor.workspace_id, who.user_id, "import_errors", &name, errors, clock.now())
            .await
            .map_err(|e| ImportError::Store(guanxi_store::Error::Db(e.to_string())))?;
    imports::set_errors_file(db, import, stored.id).await?;
    Ok(())
}

/// Marks imports whose server stopped as failed, and removes cached copies
/// of uploads nobody used for a day. Returns the imports marked.
pub async fn sweep(db: &Db, clock: &dyn Clock) -> Result<u64, ImportError> {
    let now = clock.now();
    let stale = chrono::Duration::from_std(STALE).unwrap_or_default();
    let n = imports::fail_stale(db, now - stale, now).await?;
    // Records of imports whose process stopped before it merged their search terms.
    for (id, kind) in imports::unindexed(db).await? {
        guanxi_store::search::index_created(db, id, &kind).await?;
        imports::set_unindexed(db, ImportId::from_uuid(id), false).await?;
    }
    if let Ok(mut dir) = tokio::fs::read_dir(cache_dir()).await {
        while let Ok(Some(entry)) = dir.next_entry().await {
            let old = entry
                .metadata()
                .await
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > CACHE_TTL);
            if old {
                let _ = tokio::fs::remove_file(entry.path()).await;
            }
        }
    }
    Ok(n)
}
