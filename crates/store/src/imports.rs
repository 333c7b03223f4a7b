//! Imports as records: who imported which file when, how far it has got,
//! what it did; and the external id of every source row it read, with the
//! record that row became, so that a file imported twice changes nothing the
//! second time and undo knows what an import created.

use crate::batch::Batch;
use crate::db::{Conn, Db, Sql, Tx, Val};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use guanxi_domain::{ImportId, UserId, WorkspaceId};
use serde::Serialize;
use uuid::Uuid;

/// An import as listed and shown.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Import {
    /// Id.
    pub id: ImportId,
    /// Who started it (`null`: the command line).
    pub user_id: Option<UserId>,
    /// Their e-mail, or `system:import`.
    pub actor: String,
    /// `accounts` or `contacts`.
    pub kind: String,
    /// The file's name as uploaded.
    pub file_name: String,
    /// Its size in bytes.
    pub file_size: i64,
    /// What it turned out to be (`CSV (GB18030, ",")`, `XLSX`).
    pub format: Option<String>,
    /// The options it ran with (preset, mapping, dry run, on error, update existing).
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
    /// `queued`, `running`, `done`, `failed` (nothing written), `undone`.
    pub status: String,
    /// Bytes of the file read so far (progress of a CSV).
    pub bytes_read: i64,
    /// Rows read so far.
    pub rows_read: i64,
    /// Records created.
    pub created: i64,
    /// Records updated (`update_existing`).
    pub updated: i64,
    /// Rows merged into a record an earlier row of the file created.
    pub merged: i64,
    /// Rows that matched a record and left it as it was.
    pub unchanged: i64,
    /// Rows refused.
    pub failed: i64,
    /// Rows written with a warning (a possible duplicate).
    pub warnings: i64,
    /// The report: counts, the mapping used, the first problems.
    #[schema(value_type = Option<Object>)]
    pub report: Option<serde_json::Value>,
    /// Why it failed as a whole, when it did.
    pub error: Option<String>,
    /// Queued.
    pub created_at: DateTime<Utc>,
    /// Started.
    pub started_at: Option<DateTime<Utc>>,
    /// Finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Undone.
    pub undone_at: Option<DateTime<Utc>>,
}
crate::from_row!(Import {
    id,
    user_id,
    actor,
    kind,
    file_name,
    file_size,
    format,
    options,
    status,
    bytes_read,
    rows_read,
    created,
    updated,
    merged,
    unchanged,
    failed,
    warnings,
    report,
    error,
    created_at,
    started_at,
    finished_at,
    undone_at
});

const SELECT: &str = "SELECT id, user_id, actor, kind, file_name, file_size, format, options, status, bytes_read, \
     rows_read, created, updated, merged, unchanged, failed, warnings, report, error, created_at, started_at, \
     finished_at, undone_at FROM imports";

/// An import about to run.
#[derive(Clone, Debug)]
pub struct NewImport {
    /// Its id.
    pub id: ImportId,
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// Who (`None`: the command line).
    pub user_id: Option<UserId>,
    /// Their label.
    pub actor: String,
    /// `accounts` or `contacts`.
    pub kind: String,
    /// As uploaded.
    pub file_name: String,
    /// Where the kept copy is.
    pub file_path: Option<String>,
    /// Size.
    pub file_size: i64,
    /// Options.
    pub options: serde_json::Value,
}

/// How many rows went which way so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Counts {
    /// Created.
    pub created: i64,
    /// Updated.
    pub updated: i64,
    /// Merged into an earlier row's record.
    pub merged: i64,
    /// Matched, left as is.
    pub unchanged: i64,
    /// Refused.
    pub failed: i64,
    /// Written with a warning.
    pub warnings: i64,
}

/// Records an import, queued.
pub async fn create(db: &Db, new: &NewImport, now: DateTime<Utc>) -> Result<()> {
    let q = Sql::new(
        "INSERT INTO imports (id, workspace_id, user_id, actor, kind, file_name, file_path, file_size, options, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued', $10)",
    )
    .arg(new.id)
    .arg(new.workspace_id)
    .arg(new.user_id)
    .arg(new.actor.as_str())
    .arg(new.kind.as_str())
    .arg(new.file_name.as_str())
    .arg(new.file_path.clone())
    .arg(new.file_size)
    .arg(new.options.clone())
    .arg(now);
    db.execute(q).await?;
    Ok(())
}

/// Marks it running, with what the file turned out to be.
pub async fn start(db: &Db, id: ImportId, kind: &str, format: &str, now: DateTime<Utc>) -> Result<()> {
    let q = Sql::new("UPDATE imports SET status = 'running', kind = $1, format = $2, started_at = $3 WHERE id = $4")
        .arg(kind)
        .arg(format)
        .arg(now)
        .arg(id);
    db.execute(q).await?;
    Ok(())
}

/// Records progress.
pub async fn progress(db: &Db, id: ImportId, bytes: i64, rows: i64, c: &Counts) -> Result<()> {
    let q = Sql::new(
        "UPDATE imports SET bytes_read = $1, rows_read = $2, created = $3, updated = $4, merged = $5, unchanged = $6, \
         failed = $7, warnings = $8 WHERE id = $9",
    )
    .args(vec![
        bytes.into(),
        rows.into(),
        c.created.into(),
        c.updated.into(),
        c.merged.into(),
        c.unchanged.into(),
        c.failed.into(),
        c.warnings.into(),
    ])
    .arg(id);
    db.execute(q).await?;
    Ok(())
}

/// How an import ended.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// `done` or `failed`.
    pub status: &'static str,
    /// Final counts.
    pub counts: Counts,
    /// Rows read.
    pub rows: i64,
    /// Bytes read.
    pub bytes: i64,
    /// The report.
    pub report: serde_json::Value,
    /// Where the bad rows were written.
    pub errors_path: Option<String>,
    /// Why it failed as a whole.
    pub error: Option<String>,
}

/// Records the end.
pub async fn finish(db: &Db, id: ImportId, o: &Outcome, now: DateTime<Utc>) -> Result<()> {
    let c = &o.counts;
    let q = Sql::new(
        "UPDATE imports SET status = $1, bytes_read = $2, rows_read = $3, created = $4, updated = $5, merged = $6, \
         unchanged = $7, failed = $8, warnings = $9, report = $10, errors_path = $11, error = $12, finished_at = $13 \
         WHERE id = $14",
    )
    .args(vec![
        o.status.into(),
        o.bytes.into(),
        o.rows.into(),
        c.created.into(),
        c.updated.into(),
        c.merged.into(),
        c.unchanged.into(),
        c.failed.into(),
        c.warnings.into(),
        o.report.clone().into(),
        o.errors_path.clone().into(),
        o.error.clone().into(),
        now.into(),
    ])
    .arg(id);
    db.execute(q).await?;
    Ok(())
}

/// The workspace's imports, newest first; `user` narrows to one person's.
pub async fn list(db: &Db, ws: WorkspaceId, user: Option<UserId>, limit: i64) -> Result<Vec<Import>> {
    let mut q = Sql::new(SELECT);
    q.push(" WHERE workspace_id = ").bind(ws);
    if let Some(u) = user {
        q.push(" AND user_id = ").bind(u);
    }
    q.push(" ORDER BY created_at DESC, id DESC LIMIT ").bind(limit);
    db.fetch_all(q).await
}

/// The records earlier imports made of these external ids, where the record
/// is still live (a deleted or merged one is imported afresh), as
/// (external id, record).
pub async fn lookup(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    kind: &str,
    external: &[&str],
) -> Result<Vec<(String, Uuid)>> {
    let table = match kind {
        "accounts" => "accounts",
        "contacts" => "contacts",
        _ => return Err(Error::Db(format!("no import keys for {kind}"))),
    };
    let mut out = Vec::new();
    for chunk in external.chunks(2000) {
        let mut q = Sql::new(&format!(
            "SELECT k.external_id, k.entity_id FROM import_keys k JOIN {table} r ON r.id = k.entity_id \
             WHERE r.deleted_at IS NULL AND k.workspace_id = "
        ));
        q.bind(ws).push(" AND k.kind = ").bind(kind).push(" AND k.external_id IN (");
        for (i, e) in chunk.iter().enumerate() {
            q.push(if i == 0 { "" } else { ", " }).bind(*e);
        }
        q.push(")");
        out.extend(conn.fetch_all::<(String, Uuid)>(q).await?);
    }
    Ok(out)
}

/// Rows of `import_keys`, written (or repointed, for a record imported
/// afresh) in multi-row statements.
pub struct Keys {
    batch: Batch,
    ws: WorkspaceId,
    kind: &'static str,
    import: ImportId,
}

impl Keys {
    /// Keys of `import`'s records of `kind`.
    pub fn new(ws: WorkspaceId, kind: &'static str, import: ImportId) -> Self {
        let batch = Batch::new("import_keys", "workspace_id, kind, external_id, entity_id, import_id, created")
            .on_conflict(
                " ON CONFLICT (workspace_id, kind, external_id) DO UPDATE SET entity_id = excluded.entity_id, \
                 import_id = excluded.import_id, created = excluded.created",
            );
        Self { batch, ws, kind, import }
    }

    /// Says that `external` is `entity`, which this import `created` (or matched).
    pub async fn push(&mut self, tx: &mut Tx, external: &str, entity: Uuid, created: bool) -> Result<()> {
        let row: Vec<Val> =
            vec![self.ws.into(), self.kind.into(), external.into(), entity.into(), self.import.into(), created.into()];
        self.batch.push(tx, row).await
    }

    /// Sends what is left.
    pub async fn flush(&mut self, tx: &mut Tx) -> Result<()> {
        self.batch.flush(tx).await
    }
}

/// Fresh planner statistics for the tables an import grows. PostgreSQL plans
/// from the sizes it last saw: a table it thinks nearly empty is scanned,
/// every row compared with each of a batch's thousands of keys (100,000 rows
/// spent four minutes so). SQLite's plans here do not depend on them.
pub async fn refresh_statistics(db: &Db) -> Result<()> {
    if db.dialect() == crate::Dialect::Postgres {
        let q = "ANALYZE accounts, account_phones, account_tags, contacts, contact_phones, contact_emails, import_keys";
        db.execute(Sql::new(q)).await?;
    }
    Ok(())
}
