//! Importing a file: read it a batch of rows at a time (on a thread of its
//! own, never the whole file in memory), parse each row into a record's
//! fields, check it against the rest of the file and the database (查重),
//! and write each batch in one transaction — or, for a dry run, write
//! nothing and say what would happen. Every row ends as created, updated,
//! merged (into a record an earlier row made), unchanged (it matched a
//! record) or failed, and the failed ones go to a CSV of bad rows with
//! their line, spreadsheet row and reason.

mod accounts;
mod activities;
mod cells;
mod contacts;
mod links;
mod opportunities;
mod plan;
pub mod report;
pub mod stored;

use crate::fields::Kind;
use crate::mapping::{self, ColumnMap, Mapping, MappingError};
use crate::read::{ReadError, Row, Table};
use guanxi_domain::{ImportId, UserId, WorkspaceId};
use guanxi_store::imports::{self, Counts, NewImport, Outcome};
use guanxi_store::{search, Actor, Db, Viewer};
use report::{Problem, Report, Sink};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Rows read, checked and written together.
pub const BATCH: usize = 2000;

/// How long one transaction keeps writing batches before it commits. Each
/// commit writes every index page its batches touched (then the checkpoint
/// writes them again): batches inserting at random places of a large index
/// touch many of the same pages, so fewer commits write far less (a million
/// rows: 77 s against 86 s at 3 s; 65 s against 69 s at 4.5 s). On SQLite other
/// writers wait meanwhile: those of this process make the import commit
/// after the batch at hand; another process (`guanxi import` beside `guanxi
/// serve`) waits, within its 10 s busy timeout.
pub const COMMIT_EVERY: std::time::Duration = std::time::Duration::from_secs(6);

/// What to do with a bad row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Write the good rows, list the bad.
    #[default]
    Skip,
    /// One bad row and nothing is written.
    Abort,
}

/// How to import.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Options {
    /// What the file holds; guessed from the columns when left out.
    pub kind: Option<Kind>,
    /// A preset column layout: guanxi, salesforce, hubspot, twenty, odoo.
    pub preset: Option<String>,
    /// Columns mapped by hand (over the preset or the guess).
    pub columns: Option<Vec<ColumnMap>>,
    /// Say what would happen, write nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Bad rows: skip them, or write nothing.
    #[serde(default)]
    pub on_error: OnError,
    /// Update records a row matches instead of leaving them.
    #[serde(default)]
    pub update_existing: bool,
}

/// Who imports, and what they may do.
#[derive(Clone, Debug)]
pub struct Who {
    /// For audit.
    pub actor: Actor,
    /// Whose records they see (updates only touch those).
    pub viewer: Viewer,
    /// The person, `None` for the command line.
    pub user_id: Option<UserId>,
    /// May give records to others (managers, admins, the command line).
    pub may_assign: bool,
}

impl Who {
    /// The command line: the whole workspace, as the system.
    pub fn system(ws: WorkspaceId) -> Self {
        Who { actor: Actor::system(ws, "import"), viewer: Viewer::whole(ws), user_id: None, may_assign: true }
    }
}

/// The workspace's active users by lower-cased e-mail and by name: who a
/// cell names as a record's owner or a touch's author.
#[derive(Clone, Debug, Default)]
pub(crate) struct Users(std::collections::HashMap<String, UserId>);

impl Users {
    pub async fn load(db: &Db, ws: WorkspaceId) -> Result<Users, ImportError> {
        let mut m = std::collections::HashMap::new();
        for (id, email, name, _) in guanxi_store::users::directory(db, ws).await? {
            m.insert(email.to_lowercase(), id);
            m.entry(name).or_insert(id);
        }
        Ok(Users(m))
    }

    /// The user the `field` cell names, if any; a name nobody has, or someone
    /// else when the importer may not give records away (`what`: "deals"), is
    /// a problem of the row.
    pub fn read(&self, c: &mut cells::Cells, field: &str, who: &Who, what: &str) -> Option<UserId> {
        let v = c.get(field)?;
        match self.0.get(&v.to_lowercase()).or_else(|| self.0.get(v)).copied() {
            Some(u) if !who.may_assign && Some(u) != who.user_id => {
                c.problem(field, "not_yours", format!("you can import only your own {what}; leave the column empty"));
                None
            }
            Some(u) => Some(u),
            None => {
                c.problem(field, "unknown_user", format!("no user has the e-mail or name {v:?}"));
                None
            }
        }
    }
}

/// Why an import could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file.
    #[error("{0}")]
    Read(#[from] ReadError),
    /// The mapping.
    #[error("{0}")]
    Mapping(#[from] MappingError),
    /// The database.
    #[error("{0}")]
    Store(#[from] guanxi_store::Error),
    /// Writing the file of bad rows.
    #[error("cannot write the file of bad rows: {0}")]
    Io(#[from] std::io::Error),
    /// Writing the file of bad rows.
    #[error("cannot write the file of bad rows: {0}")]
    Csv(#[from] csv::Error),
    /// `abort`: a bad row, so nothing was written.
    #[error("{0} rows are bad; nothing was written (on error: abort)")]
    Aborted(i64),
}

/// A file opened and mapped, ready to import.
pub struct Plan {
    /// The file.
    pub path: PathBuf,
    /// Its kind.
    pub kind: Kind,
    /// Its headers.
    pub headers: Vec<String>,
    /// Its mapping.
    pub mapping: Mapping,
    /// What it is (`CSV (GB18030, ",")`).
    pub format: String,
}

/// Opens `path` and maps its columns (by hand, by preset, or guessed).
pub fn plan(path: &Path, opts: &Options) -> Result<Plan, ImportError> {
    let table = Table::open(path)?;
    let headers = table.headers.clone();
    let kind = opts.kind.unwrap_or_else(|| mapping::guess_kind(&headers, opts.preset.as_deref()));
    let mut mapping = match &opts.preset {
        Some(p) => Mapping::from_preset(kind, p, &headers)?,
        None => Mapping::guess(kind, &headers),
    };
    if let Some(cols) = &opts.columns {
        mapping = Mapping::from_columns(kind, &headers, cols)?;
    }
    mapping.check()?;
    Ok(Plan { path: path.to_owned(), kind, headers, mapping, format: table.format.describe() })
}

/// Turns a row into what an importer checks and writes. Runs on the reader's
/// thread, beside the database work: on two cores parsing (names' 查重 keys
/// and pinyin, phones) was a tenth of a large import's time.
pub(crate) trait Parse: Send + 'static {
    /// A row read as a record's fields.
    type Parsed: Send + 'static;
    /// What a batch's rows find in the database.
    type Found: Send + 'static;
    /// The row's fields, or its problems.
    fn parse(&self, row: Row) -> Result<Self::Parsed, (Vec<Problem>, Row)>;
    /// Looks up what a batch's rows find in the database, here on the
    /// reader's thread while the importer writes the batches before (the
    /// second core's work); `None` when the importer looks up itself, in its
    /// transaction.
    fn look_up(&self, _rows: &[&Self::Parsed]) -> Option<Result<Self::Found, guanxi_store::Error>> {
        None
    }
}

/// A batch's good rows, and what they found in the database if the reader's thread looked.
pub(crate) struct Rows<P, F> {
    pub parsed: Vec<P>,
    pub found: Option<F>,
}

/// A row of a batch, as read and parsed.
pub(crate) enum Item<P> {
    /// Not a row of the table (ragged, a repeated header…).
    Unreadable(crate::read::BadRow),
    /// Read, but its cells are bad.
    Bad(Vec<Problem>, Row),
    /// Ready to check and write.
    Good(P),
}

/// Rows of a batch, and how far into the file they reach.
pub(crate) struct Batch<P, F> {
    pub items: Vec<Item<P>>,
    /// What the good rows found in the database, if looked up.
    pub found: Option<Result<F, guanxi_store::Error>>,
    pub bytes: u64,
    /// Time spent parsing them (and looking them up).
    pub parse: std::time::Duration,
}

/// The batches a reader hands out, until the file ends or stops being a table.
pub(crate) type Batches<P> =
    tokio::sync::mpsc::Receiver<Result<Batch<<P as Parse>::Parsed, <P as Parse>::Found>, ReadError>>;

/// Reads and parses the file on a thread of its own, handing out batches, so
/// that reading, decoding, parsing and the parser's lookups overlap the
/// writing and never block an async worker; the file's reading ends (with an
/// error) when it stops being a table.
pub(crate) fn reader<P: Parse>(path: PathBuf, parser: P) -> std::io::Result<Batches<P>> {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    std::thread::Builder::new().name("import-reader".into()).spawn(move || {
        let mut table = match Table::open(&path) {
            Ok(t) => t,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let parsed = |rows: Vec<Result<Row, crate::read::BadRow>>, bytes: u64| {
            let started = std::time::Instant::now();
            let items: Vec<Item<P::Parsed>> = rows
                .into_iter()
                .map(|r| match r {
                    Err(bad) => Item::Unreadable(bad),
                    Ok(row) => match parser.parse(row) {
                        Ok(p) => Item::Good(p),
                        Err((problems, row)) => Item::Bad(problems, row),
                    },
                })
                .collect();
            let good: Vec<&P::Parsed> = items
                .iter()
                .filter_map(|i| match i {
                    Item::Good(p) => Some(p),
                    _ => None,
                })
                .collect();
            let found = parser.look_up(&good);
            Batch { items, found, bytes, parse: started.elapsed() }
        };
        let mut rows = Vec::with_capacity(BATCH);
        loop {
            match table.next_row() {
                Some(Ok(r)) => {
                    rows.push(r);
                    if rows.len() == BATCH {
                        let bytes = table.position().unwrap_or(0).min(size);
                        if tx.blocking_send(Ok(parsed(std::mem::take(&mut rows), bytes))).is_err() {
                            return;
                        }
                    }
                }
                Some(Err(e)) => {
                    let _ = tx.blocking_send(Ok(parsed(std::mem::take(&mut rows), size)));
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
                None => {
                    let _ = tx.blocking_send(Ok(parsed(rows, size)));
                    return;
                }
            }
        }
    })?;
    Ok(rx)
}

/// Runs an import of `plan` as `import` (already recorded as queued): a dry
/// run, a single pass skipping bad rows, or — `abort` — a dry pass first and
/// the writing pass only if no row is bad. Records progress and the outcome.
pub async fn run(
    db: &Db,
    who: &Who,
    import: ImportId,
    plan: &Plan,
    opts: &Options,
    errors: Option<&Path>,
    clock: &dyn guanxi_domain::Clock,
) -> Result<Report, ImportError> {
    imports::start(db, import, plan.kind.as_str(), &plan.format, clock.now()).await?;
    let result = run_passes(db, who, import, plan, opts, errors, clock).await;
    conclude(db, import, plan, &result, errors.map(|p| p.display().to_string()), clock).await?;
    result
}

/// Records how an import ended: its counts and report, or why it failed.
async fn conclude(
    db: &Db,
    import: ImportId,
    plan: &Plan,
    result: &Result<Report, ImportError>,
    errors: Option<String>,
    clock: &dyn guanxi_domain::Clock,
) -> Result<(), ImportError> {
    let outcome = match result {
        Ok(report) => Outcome {
            status: "done",
            counts: report.counts,
            rows: report.rows,
            bytes: report.bytes,
            report: report.to_json(plan),
            errors_path: errors.filter(|_| report.counts.failed > 0),
            error: None,
        },
        Err(e) => Outcome {
            status: "failed",
            counts: Counts::default(),
            rows: 0,
            bytes: 0,
            report: serde_json::json!({"error": e.to_string()}),
            errors_path: errors,
            error: Some(e.to_string()),
        },
    };
    imports::finish(db, import, &outcome, clock.now()).await?;
    Ok(())
}

/// The writer's page cache while an import looks up and writes in its
/// transaction, in MiB: most of a 1M-account database's hot index pages,
/// within the import's memory budget.
pub const IMPORT_CACHE_MIB: i64 = 256;

/// The writer's page cache while the reader's thread looks up (accounts,
/// see [`accounts::looks_up_beside`]): the pages the inserts touch. Lower,
/// as the thread's own allocations count too. At a million rows with 6 s
/// transactions 96, 128, 176 and 320 MiB wrote as fast (most of the pages
/// a transaction touches do not fit in any of them); 176 MiB peaked at
/// 518 MB, 128 at 456 MB, 96 at 407 MB.
pub const IMPORT_CACHE_BESIDE_MIB: i64 = 128;

async fn run_passes(
    db: &Db,
    who: &Who,
    import: ImportId,
    plan: &Plan,
    opts: &Options,
    errors: Option<&Path>,
    clock: &dyn guanxi_domain::Clock,
) -> Result<Report, ImportError> {
    let write = !opts.dry_run;
    let now = clock.now();
    // The new records' search terms, sorted here and merged when the rows are written.
    let mut terms = search::Indexer::spool(who.actor.workspace_id, now);
    if write {
        let beside = plan.kind == Kind::Accounts && accounts::looks_up_beside(opts);
        imports::writer_cache(db, if beside { IMPORT_CACHE_BESIDE_MIB } else { IMPORT_CACHE_MIB }).await?;
        imports::set_unindexed(db, import, true).await?;
    }
    let mut result = passes(db, who, import, plan, opts, errors, clock, now, &mut terms).await;
    if write {
        // Whatever was written, also when the import failed part-way, becomes searchable.
        let started = std::time::Instant::now();
        let indexed = match &result {
            Ok(report) => match terms.merge(db).await {
                // Records an earlier, stopped run of the file created and this
                // run adopted (`imports::Keys`) may never have been indexed.
                Ok(_) if imports::created_count(db, import).await? > report.counts.created => {
                    search::index_created(db, import.uuid(), plan.kind.as_str()).await
                }
                other => other,
            },
            // The terms of the transaction that failed are in the sorter too: the
            // records committed before are indexed from what they are instead.
            Err(_) => search::index_created(db, import.uuid(), plan.kind.as_str()).await,
        };
        // The normal cache again, also when indexing failed (the sweep then tries again).
        imports::writer_cache(db, imports::NORMAL_CACHE_MIB).await?;
        indexed?;
        imports::set_unindexed(db, import, false).await?;
        if let Ok(report) = &mut result {
            report.timings.index += started.elapsed();
        }
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn passes(
    db: &Db,
    who: &Who,
    import: ImportId,
    plan: &Plan,
    opts: &Options,
    errors: Option<&Path>,
    clock: &dyn guanxi_domain::Clock,
    now: chrono::DateTime<chrono::Utc>,
    terms: &mut search::Indexer,
) -> Result<Report, ImportError> {
    let write = !opts.dry_run;
    if write && opts.on_error == OnError::Abort {
        let mut sink = Sink::new(errors, &plan.headers)?;
        let ctx = Ctx { db, who, import, opts, write: false, now };
        let check = pass(ctx, plan, &mut sink, clock, terms).await?;
        if check.counts.failed > 0 {
            sink.finish()?;
            return Err(ImportError::Aborted(check.counts.failed));
        }
    }
    let mut sink = Sink::new(errors, &plan.headers)?;
    let report = pass(Ctx { db, who, import, opts, write, now }, plan, &mut sink, clock, terms).await?;
    sink.finish()?;
    Ok(report)
}

async fn pass(
    ctx: Ctx<'_>,
    plan: &Plan,
    sink: &mut Sink,
    clock: &dyn guanxi_domain::Clock,
    terms: &mut search::Indexer,
) -> Result<Report, ImportError> {
    match plan.kind {
        Kind::Accounts => {
            let (importer, parser) = accounts::Importer::new(ctx, plan).await?;
            drive(ctx, plan, clock, importer, parser, sink, terms).await
        }
        Kind::Contacts => {
            let (importer, parser) = contacts::Importer::new(ctx, plan);
            drive(ctx, plan, clock, importer, parser, sink, terms).await
        }
        Kind::Activities => {
            let (importer, parser) = activities::Importer::new(ctx, plan).await?;
            drive(ctx, plan, clock, importer, parser, sink, terms).await
        }
        Kind::Opportunities => {
            let (importer, parser) = opportunities::Importer::new(ctx, plan).await?;
            drive(ctx, plan, clock, importer, parser, sink, terms).await
        }
    }
}

/// What an importer works with.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub db: &'a Db,
    pub who: &'a Who,
    pub import: ImportId,
    pub opts: &'a Options,
    /// False for a dry run.
    pub write: bool,
    /// When the import started: the time its records are written at.
    pub now: chrono::DateTime<chrono::Utc>,
}

/// An importer of one kind: checks and writes (or, dry, only checks) a batch of parsed rows.
pub(crate) trait Importer {
    /// A row as its parser reads it.
    type Parsed: Send + 'static;
    /// What a batch's rows find in the database.
    type Found: Send + 'static;
    /// Checks one batch and writes it in `tx` (`None` for a dry run), which
    /// the caller commits: a transaction spans several batches. New records'
    /// search terms go to `terms`.
    #[allow(clippy::too_many_arguments)]
    async fn batch(
        &mut self,
        mapping: &Mapping,
        headers: &[String],
        rows: Rows<Self::Parsed, Self::Found>,
        report: &mut Report,
        sink: &mut Sink,
        tx: &mut Option<guanxi_store::Tx>,
        terms: &mut search::Indexer,
    ) -> Result<(), ImportError>;
}

/// Runs the file through `parser` on the reader's thread and `importer` here, batch by batch.
async fn drive<I: Importer, P: Parse<Parsed = I::Parsed, Found = I::Found>>(
    ctx: Ctx<'_>,
    plan: &Plan,
    clock: &dyn guanxi_domain::Clock,
    mut importer: I,
    parser: P,
    sink: &mut Sink,
    terms: &mut search::Indexer,
) -> Result<Report, ImportError> {
    let Ctx { db, import, write, .. } = ctx;
    let mut report = Report::new(plan.kind, write);
    let mut rx = reader(plan.path.clone(), parser)?;
    let mut batches: u64 = 0;
    let mut tx: Option<guanxi_store::Tx> = None;
    let mut opened = std::time::Instant::now();
    // Batches written when the planner's statistics were last refreshed.
    let mut analysed: u64 = 0;
    // The import's records and its keys: the tables each grows, the rows the
    // planner counted in the first, and the rows read when it last counted.
    let mut planner = [(grows(plan.kind), 0, 0), (&["import_keys"][..], 0, 0)];
    if write {
        for (tables, planned, _) in &mut planner {
            *planned = imports::planned_rows(db, tables[0]).await?;
        }
    }
    loop {
        let waited = std::time::Instant::now();
        let Some(batch) = rx.recv().await else { break };
        report.timings.read += waited.elapsed();
        let batch = batch?;
        report.timings.parse += batch.parse;
        let mut good = Vec::with_capacity(batch.items.len());
        for item in batch.items {
            report.rows += 1;
            match item {
                Item::Good(p) => good.push(p),
                Item::Bad(problems, row) => report.fail_all(sink, problems, &row)?,
                Item::Unreadable(bad) => {
                    let p = Problem::unreadable(&bad);
                    if bad.code == "repeated_header" {
                        report.note(p);
                    } else {
                        report.fail(sink, p, &bad.cells)?;
                    }
                }
            }
        }
        if write && tx.is_none() {
            // The importers check every reference they write (see `begin_bulk`).
            tx = Some(db.begin_bulk().await?);
            opened = std::time::Instant::now();
        }
        let rows = Rows { parsed: good, found: batch.found.transpose()? };
        importer.batch(&plan.mapping, &plan.headers, rows, &mut report, sink, &mut tx, terms).await?;
        report.bytes = batch.bytes as i64;
        batches += 1;
        if !write {
            if report.rows % (BATCH as i64 * 5) == 0 {
                imports::progress(db, import, report.bytes, report.rows, &report.counts, clock.now()).await?;
            }
        } else if opened.elapsed() >= COMMIT_EVERY || tx.as_ref().is_some_and(guanxi_store::Tx::others_waiting) {
            commit(db, import, &mut tx, &mut report, clock).await?;
            // Tables that have more than doubled since the planner last
            // counted them: plans for a table thought small scan it. (Not
            // sooner: a refresh reads pages of every index, a twentieth of an
            // import into a million accounts when it came every doubling of
            // the batches.) Rows read bound what either table has grown by.
            for (tables, planned, then) in &mut planner {
                if report.rows - *then > *planned {
                    imports::refresh_statistics(db, tables).await?;
                    (*planned, *then) = (imports::planned_rows(db, tables[0]).await?, report.rows);
                    analysed = batches;
                }
            }
        }
    }
    commit(db, import, &mut tx, &mut report, clock).await?;
    // What the next import (and every list) plans with.
    if write && batches > analysed {
        for (tables, ..) in &planner {
            imports::refresh_statistics(db, tables).await?;
        }
    }
    Ok(report)
}

/// The tables an import of `kind` grows besides `import_keys`, its records' first.
fn grows(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Accounts => &["accounts", "account_phones", "account_tags"],
        Kind::Contacts => &["contacts", "contact_phones", "contact_emails"],
        Kind::Activities => &["activities"],
        Kind::Opportunities => &["opportunities", "opportunity_contacts"],
    }
}

/// Commits the open transaction, if any, and records the progress it made.
async fn commit(
    db: &Db,
    import: ImportId,
    tx: &mut Option<guanxi_store::Tx>,
    report: &mut Report,
    clock: &dyn guanxi_domain::Clock,
) -> Result<(), ImportError> {
    let Some(open) = tx.take() else { return Ok(()) };
    let started = std::time::Instant::now();
    open.commit().await?;
    report.timings.write += started.elapsed();
    imports::progress(db, import, report.bytes, report.rows, &report.counts, clock.now()).await?;
    Ok(())
}

/// Reads inside the batch's transaction, or outside any for a dry run.
pub(crate) fn conn<'a>(db: &'a Db, tx: &'a mut Option<guanxi_store::Tx>) -> guanxi_store::Conn<'a> {
    match tx.as_mut() {
        Some(tx) => guanxi_store::Conn::Tx(tx),
        None => guanxi_store::Conn::Db(db),
    }
}

/// Where the imported file is kept.
#[derive(Clone, Copy, Debug)]
pub enum Kept<'a> {
    /// A local file (the command line).
    Path(&'a Path),
    /// An upload stored in the database.
    Stored(uuid::Uuid),
}

/// Records an import about to run (queued), as `who`.
#[allow(clippy::too_many_arguments)]
pub async fn record(
    db: &Db,
    who: &Who,
    file_name: &str,
    kept: Kept<'_>,
    size: u64,
    kind: Kind,
    opts: &Options,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<ImportId, ImportError> {
    let id = ImportId::new();
    let new = NewImport {
        id,
        workspace_id: who.actor.workspace_id,
        user_id: who.user_id,
        actor: who.actor.label.clone(),
        kind: kind.as_str().to_owned(),
        file_name: file_name.to_owned(),
        file_path: match kept {
            Kept::Path(p) => Some(p.display().to_string()),
            Kept::Stored(_) => None,
        },
        file_id: match kept {
            Kept::Stored(id) => Some(id),
            Kept::Path(_) => None,
        },
        file_size: size as i64,
        options: serde_json::to_value(opts).unwrap_or_default(),
    };
    imports::create(db, &new, now).await?;
    Ok(id)
}
