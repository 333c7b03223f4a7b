//! Imports as records: who imported which file when, how far it has got,
//! what it did; and the external id of every source row it read, with the
//! record that row became, so that a file imported twice changes nothing the
//! second time and undo knows what an import created.

use crate::batch::Batch;
use crate::db::{Conn, Db, Sql, Tx, Val};
use crate::{Actor, Error, Result};
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
    /// The uploaded file kept in the database (`null`: the command line read a local file).
    pub file_id: Option<Uuid>,
    /// The file of bad rows, when there were any and it was stored.
    pub errors_file_id: Option<Uuid>,
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
    undone_at,
    file_id,
    errors_file_id
});

const SELECT: &str = "SELECT id, user_id, actor, kind, file_name, file_size, format, options, status, bytes_read, \
     rows_read, created, updated, merged, unchanged, failed, warnings, report, error, created_at, started_at, \
     finished_at, undone_at, file_id, errors_file_id FROM imports";

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
    /// Where the kept copy is (the command line's local file).
    pub file_path: Option<String>,
    /// The kept copy in the database (an upload).
    pub file_id: Option<Uuid>,
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
        "INSERT INTO imports (id, workspace_id, user_id, actor, kind, file_name, file_path, file_size, options, status, \
         created_at, heartbeat_at, file_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued', $10, $10, $11)",
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
    .arg(now)
    .arg(new.file_id);
    db.execute(q).await?;
    Ok(())
}

/// Marks it running, with what the file turned out to be.
pub async fn start(db: &Db, id: ImportId, kind: &str, format: &str, now: DateTime<Utc>) -> Result<()> {
    let q = Sql::new(
        "UPDATE imports SET status = 'running', kind = $1, format = $2, started_at = $3, heartbeat_at = $3 WHERE id = $4",
    )
        .arg(kind)
        .arg(format)
        .arg(now)
        .arg(id);
    db.execute(q).await?;
    Ok(())
}

/// Records progress, and that the import is alive (see [`fail_stale`]).
pub async fn progress(db: &Db, id: ImportId, bytes: i64, rows: i64, c: &Counts, now: DateTime<Utc>) -> Result<()> {
    let q = Sql::new(
        "UPDATE imports SET bytes_read = $1, rows_read = $2, created = $3, updated = $4, merged = $5, unchanged = $6, \
         failed = $7, warnings = $8, heartbeat_at = $9 WHERE id = $10",
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
        now.into(),
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

/// Keeps the file of bad rows stored in the database.
pub async fn set_errors_file(db: &Db, id: ImportId, file: Uuid) -> Result<()> {
    db.execute(Sql::new("UPDATE imports SET errors_file_id = $1 WHERE id = $2").arg(file).arg(id)).await?;
    Ok(())
}

/// Imports queued or running whose heartbeat stopped before `before` (their
/// server stopped or crashed mid-import) are marked failed: what their
/// committed batches wrote stays, and running the file again imports only
/// the rest, since every written row's external id is kept. Returns how many.
pub async fn fail_stale(db: &Db, before: DateTime<Utc>, now: DateTime<Utc>) -> Result<u64> {
    let q = Sql::new(
        "UPDATE imports SET status = 'failed', finished_at = $1, error = $2 \
         WHERE status IN ('queued', 'running') AND heartbeat_at < $3",
    )
    .arg(now)
    .arg(INTERRUPTED)
    .arg(before);
    db.execute(q).await
}

/// Marks an import as having written records whose search terms are not
/// merged yet (`true`, as it starts writing), or as having none (`false`).
pub async fn set_unindexed(db: &Db, id: ImportId, unindexed: bool) -> Result<()> {
    db.execute(Sql::new("UPDATE imports SET unindexed = $1 WHERE id = $2").arg(unindexed).arg(id)).await?;
    Ok(())
}

/// Imports that stopped (their server with them) before their records'
/// search terms were merged: (id, kind).
pub async fn unindexed(db: &Db) -> Result<Vec<(Uuid, String)>> {
    db.fetch_all(Sql::new("SELECT id, kind FROM imports WHERE unindexed AND status NOT IN ('queued', 'running')")).await
}

/// Whether `id` is an import still queued or running.
pub async fn active(db: &Db, id: Uuid) -> Result<bool> {
    let q = Sql::new("SELECT 1 FROM imports WHERE id = $1 AND status IN ('queued', 'running')").arg(id);
    Ok(db.fetch_optional::<(i64,)>(q).await?.is_some())
}

/// The error of an import whose server stopped under it.
pub const INTERRUPTED: &str = "interrupted: the server stopped during the import. Rows written before are kept; \
     import the same file again to add the rest (rows already imported are recognised and skipped).";

/// One import, if it is in the workspace.
pub async fn get(db: &Db, ws: WorkspaceId, id: ImportId) -> Result<Option<Import>> {
    let mut q = Sql::new(SELECT);
    q.push(" WHERE id = ").bind(id).push(" AND workspace_id = ").bind(ws);
    db.fetch_optional(q).await
}

/// Undoes an import: what it created and is still live goes to the recycle
/// bin (restorable, one audit entry each naming the import), and the import
/// is marked undone. Records it updated or merged into keep their changes
/// (their history shows them); the open hooks of the activities it removes
/// are cancelled. Returns how many records were removed; `None` when the
/// import was already undone (a second click does nothing).
pub async fn undo(db: &Db, actor: &Actor, id: ImportId, kind: &str, now: DateTime<Utc>) -> Result<Option<u64>> {
    // Activities are never edited, so they keep no time of change.
    let (table, entity, edited) = match kind {
        "accounts" => ("accounts", "account", true),
        "contacts" => ("contacts", "contact", true),
        "activities" => ("activities", "activity", false),
        "opportunities" => ("opportunities", "opportunity", true),
        _ => return Err(Error::Db(format!("no undo for {kind}"))),
    };
    let mut tx = db.begin().await?;
    let marked = tx
        .execute(
            Sql::new(
                "UPDATE imports SET status = 'undone', undone_at = $1, undone_by = $2 \
                 WHERE id = $3 AND workspace_id = $4 AND status = 'done'",
            )
            .arg(now)
            .arg(actor.user_id)
            .arg(id)
            .arg(actor.workspace_id),
        )
        .await?;
    if marked == 0 {
        return Ok(None);
    }
    let mut q = Sql::new(&format!(
        "SELECT r.id FROM import_keys k JOIN {table} r ON r.id = k.entity_id \
         WHERE r.deleted_at IS NULL AND k.created = "
    ));
    q.bind(true).push(" AND k.import_id = ").bind(id).push(" AND r.workspace_id = ").bind(actor.workspace_id);
    let ids: Vec<(Uuid,)> = tx.fetch_all(q).await?;
    let mut audit = crate::audit::batch();
    for chunk in ids.chunks(1000) {
        let mut q = Sql::new(&format!("UPDATE {table} SET deleted_at = "));
        q.bind(now);
        if edited {
            q.push(", updated_at = ").bind(now);
        }
        q.push(" WHERE id IN (").bind_list(&chunk.iter().map(|(e,)| *e).collect::<Vec<_>>()).push(")");
        tx.execute(q).await?;
        if kind == "activities" {
            cancel_hooks_of(&mut tx, actor, chunk, now).await?;
        }
        for (e,) in chunk {
            let changes = serde_json::json!({"deleted": {"before": false, "after": true}, "undone_import": {"before": null, "after": id}});
            crate::audit::push(&mut audit, &mut tx, actor, crate::audit::Action::Delete, entity, *e, changes, now)
                .await?;
        }
    }
    audit.flush(&mut tx).await?;
    let changes = serde_json::json!({"status": {"before": "done", "after": "undone"}, "removed": {"before": null, "after": ids.len()}});
    crate::audit::record(&mut tx, actor, crate::audit::Action::Update, "import", id.uuid(), changes, now).await?;
    tx.commit().await?;
    Ok(Some(ids.len() as u64))
}

/// Cancels the open hooks (and tasks) that `activities` left.
async fn cancel_hooks_of(tx: &mut Tx, actor: &Actor, activities: &[(Uuid,)], now: DateTime<Utc>) -> Result<()> {
    let ids: Vec<Uuid> = activities.iter().map(|(a,)| *a).collect();
    let mut q = Sql::new("SELECT id FROM tasks WHERE status = 'open' AND source_activity_id IN (");
    q.bind_list(&ids).push(")");
    let tasks: Vec<(Uuid,)> = tx.fetch_all(q).await?;
    if tasks.is_empty() {
        return Ok(());
    }
    let task_ids: Vec<Uuid> = tasks.iter().map(|(t,)| *t).collect();
    let mut q = Sql::new("UPDATE tasks SET status = 'cancelled', remind_at = NULL, updated_at = ");
    q.bind(now).push(" WHERE id IN (").bind_list(&task_ids).push(")");
    tx.execute(q).await?;
    let mut audit = crate::audit::batch();
    for t in task_ids {
        let changes = serde_json::json!({"status": {"before": "open", "after": "cancelled"}});
        crate::audit::push(&mut audit, tx, actor, crate::audit::Action::Update, "task", t, changes, now).await?;
    }
    audit.flush(tx).await
}

/// A saved column mapping.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SavedMapping {
    /// Id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// `accounts` or `contacts`.
    pub kind: String,
    /// The preset it starts from.
    pub preset: Option<String>,
    /// Column → field pairs.
    #[schema(value_type = Object)]
    pub columns: serde_json::Value,
    /// Saved.
    pub created_at: DateTime<Utc>,
}
crate::from_row!(SavedMapping { id, name, kind, preset, columns, created_at });

/// The workspace's saved mappings, by name.
pub async fn mappings(db: &Db, ws: WorkspaceId) -> Result<Vec<SavedMapping>> {
    let mut q =
        Sql::new("SELECT id, name, kind, preset, columns, created_at FROM import_mappings WHERE workspace_id = ");
    q.bind(ws).push(" AND deleted_at IS NULL ORDER BY name");
    db.fetch_all(q).await
}

/// Saves a mapping under `name`, replacing one of that name.
#[allow(clippy::too_many_arguments)]
pub async fn save_mapping(
    db: &Db,
    actor: &Actor,
    name: &str,
    kind: &str,
    preset: Option<&str>,
    columns: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<SavedMapping> {
    let mut tx = db.begin().await?;
    tx.execute(
        Sql::new(
            "UPDATE import_mappings SET deleted_at = $1 WHERE workspace_id = $2 AND name = $3 AND deleted_at IS NULL",
        )
        .arg(now)
        .arg(actor.workspace_id)
        .arg(name),
    )
    .await?;
    let id = Uuid::now_v7();
    tx.execute(
        Sql::new(
            "INSERT INTO import_mappings (id, workspace_id, name, kind, preset, columns, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .arg(id)
        .arg(actor.workspace_id)
        .arg(name)
        .arg(kind)
        .arg(preset)
        .arg(columns.clone())
        .arg(actor.user_id)
        .arg(now),
    )
    .await?;
    let changes = serde_json::json!({"name": {"before": null, "after": name}, "kind": {"before": null, "after": kind}, "columns": {"before": null, "after": columns}});
    crate::audit::record(&mut tx, actor, crate::audit::Action::Create, "import_mapping", id, changes, now).await?;
    tx.commit().await?;
    let saved = mappings(db, actor.workspace_id).await?.into_iter().find(|m| m.id == id);
    saved.ok_or(Error::NotFound)
}

/// Removes a saved mapping (soft), audited.
pub async fn delete_mapping(db: &Db, actor: &Actor, id: Uuid, now: DateTime<Utc>) -> Result<bool> {
    let mut tx = db.begin().await?;
    let n = tx
        .execute(
            Sql::new(
                "UPDATE import_mappings SET deleted_at = $1 WHERE id = $2 AND workspace_id = $3 AND deleted_at IS NULL",
            )
            .arg(now)
            .arg(id)
            .arg(actor.workspace_id),
        )
        .await?;
    if n == 0 {
        return Ok(false);
    }
    let changes = serde_json::json!({"deleted": {"before": false, "after": true}});
    crate::audit::record(&mut tx, actor, crate::audit::Action::Delete, "import_mapping", id, changes, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// The workspace's imports, newest first (ids are time-ordered), after the
/// import `after`; `user` narrows to one person's.
pub async fn list(
    db: &Db,
    ws: WorkspaceId,
    user: Option<UserId>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Import>> {
    let mut q = Sql::new(SELECT);
    q.push(" WHERE workspace_id = ").bind(ws);
    if let Some(u) = user {
        q.push(" AND user_id = ").bind(u);
    }
    if let Some(a) = after {
        q.push(" AND id < ").bind(a);
    }
    q.push(" ORDER BY id DESC LIMIT ").bind(limit);
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
        "accounts" | "contacts" | "activities" | "opportunities" => kind,
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

/// How many records `import` counts as created (its own and those it adopted
/// from a stopped run of the same file).
pub async fn created_count(db: &Db, import: ImportId) -> Result<i64> {
    let q = Sql::new("SELECT COUNT(*) FROM import_keys WHERE import_id = $1 AND created = $2").arg(import).arg(true);
    Ok(db.fetch_one::<(i64,)>(q).await?.0)
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
            // A key keeps the run that made its record, so that run's undo
            // removes it, unless that run stopped before it was done: then
            // this run adopts the record, as created, to index it and to undo
            // it. A key whose record is gone points to the one made anew.
            .on_conflict(
                " ON CONFLICT (workspace_id, kind, external_id) DO UPDATE SET entity_id = excluded.entity_id, \
                 import_id = excluded.import_id, \
                 created = CASE WHEN import_keys.entity_id = excluded.entity_id \
                   THEN (import_keys.created OR excluded.created) ELSE excluded.created END \
                 WHERE import_keys.entity_id <> excluded.entity_id \
                   OR import_keys.import_id NOT IN (SELECT id FROM imports WHERE status = 'done')",
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

/// Fresh planner statistics for `tables`, which an import grows. Both databases
/// plan from the sizes they last saw: a table they think nearly empty is
/// scanned, every row compared with each of a batch's thousands of keys
/// (PostgreSQL: 100,000 rows spent four minutes so; SQLite, whose statistics
/// dated from the demo's six contacts, scanned the whole contacts table once
/// per batch). SQLite samples at most `ANALYSIS_ROWS` rows per index, yet a
/// refresh still reads pages of every index (tenths of a second at a million
/// rows, and pages the writer's cache loses): an import refreshes when its
/// table has doubled (see [`planned_rows`]) and when it ends.
pub async fn refresh_statistics(db: &Db, tables: &[&str]) -> Result<()> {
    const KNOWN: [&str; 10] = [
        "accounts",
        "opportunities",
        "opportunity_contacts",
        "account_phones",
        "account_tags",
        "contacts",
        "contact_phones",
        "contact_emails",
        "activities",
        "import_keys",
    ];
    if let Some(t) = tables.iter().find(|t| !KNOWN.contains(t)) {
        return Err(Error::Db(format!("no statistics refresh for {t}")));
    }
    match db.dialect() {
        crate::Dialect::Postgres => {
            db.execute(Sql::new(&format!("ANALYZE {}", tables.join(", ")))).await?;
        }
        crate::Dialect::Sqlite => {
            db.execute(Sql::new(&format!("PRAGMA analysis_limit = {ANALYSIS_ROWS}"))).await?;
            for table in tables {
                db.execute(Sql::new(&format!("ANALYZE {table}"))).await?;
            }
        }
    }
    Ok(())
}

/// How many rows of `table` the planner's statistics count (0 before any).
pub async fn planned_rows(db: &Db, table: &str) -> Result<i64> {
    match db.dialect() {
        crate::Dialect::Sqlite => {
            let q = Sql::new("SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_stat1'");
            if db.fetch_one::<(i64,)>(q).await?.0 == 0 {
                return Ok(0);
            }
            // Each index's row begins with the number of rows it has.
            let q = Sql::new(
                "SELECT MAX(CAST(substr(stat, 1, instr(stat || ' ', ' ') - 1) AS INTEGER)) FROM sqlite_stat1 WHERE tbl = $1",
            );
            Ok(db.fetch_one::<(Option<i64>,)>(q.arg(table)).await?.0.unwrap_or(0))
        }
        crate::Dialect::Postgres => {
            // -1: never analysed.
            let q =
                Sql::new("SELECT CAST(reltuples AS BIGINT) FROM pg_class WHERE oid = to_regclass(CAST($1 AS TEXT))");
            Ok(db.fetch_optional::<(i64,)>(q.arg(table)).await?.map_or(0, |r| r.0.max(0)))
        }
    }
}

/// Rows SQLite's `ANALYZE` reads per index (its `analysis_limit`).
pub const ANALYSIS_ROWS: i64 = 1000;

/// Sets the SQLite writer's page cache, in MiB, for an import (or back to
/// [`NORMAL_CACHE_MIB`] after one). An import grows every index of the tables
/// it writes at random places: with the usual 16 MB cache most of those pages
/// of a large database are read again for each batch. During an import the
/// writer also keeps temporary data in memory: a multi-row `INSERT`'s
/// statement journal (the pages it changed, to undo it alone) otherwise
/// spills to a temporary file past 64 KiB, a write() per page (6 % of an
/// import). Not always: a large sort (an index built by a migration) would
/// then be held in memory whole. And it checkpoints itself only past
/// [`IMPORT_WAL_MAX_FRAMES`]. Nothing on PostgreSQL (its buffers are the server's).
pub async fn writer_cache(db: &Db, mib: i64) -> Result<()> {
    if db.dialect() == crate::Dialect::Sqlite {
        db.execute(Sql::new(&format!("PRAGMA cache_size = -{}", mib.clamp(1, 4096) * 1024))).await?;
        let temp = if mib == NORMAL_CACHE_MIB { "DEFAULT" } else { "MEMORY" };
        db.execute(Sql::new(&format!("PRAGMA temp_store = {temp}"))).await?;
        // The log's file is left as large as the import grew it (-1) until
        // the import ends, instead of being cut back at every restart.
        let (frames, kept) = if mib == NORMAL_CACHE_MIB {
            (crate::db::WAL_MAX_FRAMES, crate::db::WAL_KEPT_BYTES)
        } else {
            (IMPORT_WAL_MAX_FRAMES, -1)
        };
        db.execute(Sql::new(&format!("PRAGMA wal_autocheckpoint = {frames}"))).await?;
        db.execute(Sql::new(&format!("PRAGMA journal_size_limit = {kept}"))).await?;
    }
    Ok(())
}

/// The writer's page cache outside imports, in MiB (as connections open).
pub const NORMAL_CACHE_MIB: i64 = 16;

/// Past this many pages in the write-ahead log (1 GB) the writer
/// checkpoints itself during an import; below it the checkpoint thread
/// copies the last commit into the database while the next transaction is
/// written, and the writer copies only what is left, every second commit or
/// so (one commit of a large import writes ~100,000 pages). Pages that
/// several transactions changed are copied once. A million rows: 64.7 and
/// 67.5 s, against 70.4 and 71.3 s when the writer checkpointed every commit.
pub const IMPORT_WAL_MAX_FRAMES: i64 = 250_000;
