//! The search box: records are indexed under terms in `search_terms` (see
//! `guanxi_domain::search`) in the transaction that changes them, and a
//! query becomes index range scans joined to the records under the caller's
//! scope. Nothing lives in a process, so every instance answers alike.

use crate::accounts::{self, AccountFields};
use crate::batch::Batch;
use crate::db::{Conn, Db, Sql, Tx, Val};
use crate::scope::{push_visible, Viewer};
use crate::workspaces;
use crate::Result;
use chrono::{DateTime, Utc};
use guanxi_domain::dedupe::NameKey;
use guanxi_domain::search::{self as terms, Indexed, Kind, Plan};
use guanxi_domain::{AccountId, ContactId, WorkspaceId};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// A batch of `search_terms` rows: (workspace number, term, entity id).
fn term_batch() -> Batch {
    Batch::new("search_terms", "workspace_number, term, entity_id")
}

/// Where the terms of records being written go: straight into
/// `search_terms`, so that a record saved by hand is found at once, or, for a
/// bulk write, into a sorter in the writing process, to be merged in term
/// order by [`Indexer::merge`] when the bulk write ends. A million records'
/// terms inserted one record at a time land all over a large index: each
/// lands on a page of its own, and that page is written again.
pub struct Indexer {
    mode: Mode,
}

enum Mode {
    /// The batch, and the number of the workspace it last wrote to.
    Direct(Batch, Option<(WorkspaceId, i64)>),
    Spool(Box<Spool>),
}

/// A bulk write's terms, sorted in memory a segment at a time and kept in
/// temporary files (`extsort`), so that memory stays flat at any size. The
/// sorting runs on a thread of its own, beside the writing (4 % of a bulk
/// import's writing thread went to it).
struct Spool {
    ws: WorkspaceId,
    /// The bulk write's time: its records carry it as `updated_at`, so a later
    /// one means someone changed the record before its terms were merged.
    since: DateTime<Utc>,
    /// Terms not yet handed to the sorting thread.
    pending: Vec<Spooled>,
    to_sorter: std::sync::mpsc::SyncSender<Vec<Spooled>>,
    sorter: std::thread::JoinHandle<std::io::Result<Sorter>>,
    kinds: HashSet<&'static str>,
}

type Sorter = extsort::PushExternalSorter<Spooled, fn(&Spooled, &Spooled) -> std::cmp::Ordering>;

/// Terms sorted in memory before a segment goes to disk (about 10 MB).
const SPOOL_SEGMENT: usize = 150_000;

/// Terms handed to the sorting thread at a time, and how many such hand-offs
/// may wait for it (about 4 MB in all).
const HAND_OFF: usize = 16_384;
const HAND_OFFS_WAITING: usize = 4;

impl Spool {
    /// Hands the pending terms to the sorting thread; its error, if it stopped.
    fn hand_off(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let terms = std::mem::replace(&mut self.pending, Vec::with_capacity(HAND_OFF));
        if self.to_sorter.send(terms).is_err() {
            // The thread stopped, and only an error stops it early: `merge` reports it.
            return Err(spool_error(std::io::Error::other("the sorting thread stopped")));
        }
        Ok(())
    }
}

/// One term of one record, as the sorter keeps it: ordered as `search_terms` is.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Spooled {
    term: String,
    entity: [u8; 16],
}

impl extsort::Sortable for Spooled {
    fn encode<W: std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
        w.write_all(&(self.term.len() as u32).to_le_bytes())?;
        w.write_all(self.term.as_bytes())?;
        w.write_all(&self.entity)
    }

    fn decode<R: std::io::Read>(r: &mut R) -> std::io::Result<Self> {
        let mut len = [0u8; 4];
        r.read_exact(&mut len)?;
        let mut term = vec![0u8; u32::from_le_bytes(len) as usize];
        r.read_exact(&mut term)?;
        let mut entity = [0u8; 16];
        r.read_exact(&mut entity)?;
        let term = String::from_utf8(term).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        Ok(Spooled { term, entity })
    }
}

fn spool_error(e: std::io::Error) -> crate::Error {
    crate::Error::Db(format!("sorting search terms in temporary files: {e}"))
}

impl Indexer {
    /// Terms go into `search_terms` as the records are written.
    pub fn direct() -> Self {
        Self { mode: Mode::Direct(term_batch(), None) }
    }

    /// Terms of a bulk write in workspace `ws` that stamps its records with
    /// `since` wait in this process until [`Indexer::merge`]. Should the
    /// process stop first, the records are not found by search until indexed
    /// again (an import's are by the sweep: [`index_created`]).
    pub fn spool(ws: WorkspaceId, since: DateTime<Utc>) -> Self {
        Self::spool_sorting(ws, since, SPOOL_SEGMENT)
    }

    fn spool_sorting(ws: WorkspaceId, since: DateTime<Utc>, segment: usize) -> Self {
        let mut sorter: Sorter = extsort::ExternalSorter::new()
            .with_segment_size(segment)
            .pushed_by(Spooled::cmp as fn(&Spooled, &Spooled) -> std::cmp::Ordering);
        let (to_sorter, terms) = std::sync::mpsc::sync_channel::<Vec<Spooled>>(HAND_OFFS_WAITING);
        // Ends when the spool is merged or dropped (its sender with it).
        let sorter = std::thread::spawn(move || {
            for batch in terms {
                for t in batch {
                    sorter.push(t)?;
                }
            }
            Ok(sorter)
        });
        let pending = Vec::with_capacity(HAND_OFF);
        Self { mode: Mode::Spool(Box::new(Spool { ws, since, pending, to_sorter, sorter, kinds: HashSet::new() })) }
    }

    /// Adds a new record's terms (sent with the next full statement or [`Indexer::flush`]).
    pub async fn push(&mut self, tx: &mut Tx, ws: WorkspaceId, kind: Kind, id: Uuid, rec: &Indexed<'_>) -> Result<()> {
        self.push_terms(tx, ws, kind, id, terms::terms(kind, rec)).await
    }

    /// [`Indexer::push`] of terms worked out beforehand (`terms::terms` of the record).
    pub async fn push_terms(
        &mut self,
        tx: &mut Tx,
        ws: WorkspaceId,
        kind: Kind,
        id: Uuid,
        record_terms: Vec<String>,
    ) -> Result<()> {
        match &mut self.mode {
            Mode::Direct(batch, last) => {
                let number = match *last {
                    Some((w, n)) if w == ws => n,
                    _ => {
                        let n = workspaces::number(&mut Conn::Tx(tx), ws).await?;
                        *last = Some((ws, n));
                        n
                    }
                };
                for t in record_terms {
                    batch.push(tx, [Val::from(number), t.into(), id.into()]).await?;
                }
            }
            Mode::Spool(s) => {
                if ws != s.ws {
                    return Err(crate::Error::Invalid("workspace_id", "a bulk write stays in one workspace".into()));
                }
                s.kinds.insert(table_of(kind));
                s.pending.extend(record_terms.into_iter().map(|term| Spooled { term, entity: id.into_bytes() }));
                if s.pending.len() >= HAND_OFF {
                    s.hand_off()?;
                }
            }
        }
        Ok(())
    }

    /// Sends what is left; call before the transaction commits.
    pub async fn flush(&mut self, tx: &mut Tx) -> Result<()> {
        match &mut self.mode {
            Mode::Direct(batch, _) => batch.flush(tx).await,
            Mode::Spool(_) => Ok(()),
        }
    }

    /// Merges a bulk write's terms into `search_terms` in term order, a chunk
    /// per transaction. A record someone changed (or removed) after the bulk
    /// write made it is indexed as it is now instead: its own terms may be
    /// out of date. Returns the terms merged.
    pub async fn merge(self, db: &Db) -> Result<u64> {
        let Mode::Spool(mut s) = self.mode else { return Ok(0) };
        let handed = s.hand_off();
        let Spool { ws, since, to_sorter, sorter, kinds, .. } = *s;
        drop(to_sorter);
        let sorted = tokio::task::spawn_blocking(move || {
            let sorter = sorter.join().map_err(|_| std::io::Error::other("the sorting thread panicked"))??;
            sorter.done()
        })
        .await
        .map_err(|e| crate::Error::Db(format!("sorting search terms: {e}")))?
        .map_err(spool_error)?;
        handed?;
        let changed = changed_since(db, ws, since, &kinds).await?;
        let number = workspaces::number(&mut Conn::Db(db), ws).await?;
        // Temporary files are read on a thread of their own.
        let (out, mut chunks) = tokio::sync::mpsc::channel::<std::io::Result<Vec<Spooled>>>(2);
        let reading = tokio::task::spawn_blocking(move || {
            let mut chunk = Vec::with_capacity(MERGE_CHUNK);
            for item in sorted {
                match item {
                    Ok(t) => chunk.push(t),
                    Err(e) => {
                        let _ = out.blocking_send(Err(e));
                        return;
                    }
                }
                if chunk.len() == MERGE_CHUNK && out.blocking_send(Ok(std::mem::take(&mut chunk))).is_err() {
                    return;
                }
            }
            if !chunk.is_empty() {
                let _ = out.blocking_send(Ok(chunk));
            }
        });
        let mut n = 0;
        let mut stale: HashMap<Uuid, Kind> = HashMap::new();
        while let Some(chunk) = chunks.recv().await {
            let chunk = chunk.map_err(spool_error)?;
            let mut tx = db.begin().await?;
            let mut b = term_batch().on_conflict(" ON CONFLICT DO NOTHING");
            for t in chunk {
                let id = Uuid::from_bytes(t.entity);
                if let Some(kind) = changed.get(&id) {
                    stale.insert(id, *kind);
                    continue;
                }
                b.push(&mut tx, [Val::from(number), t.term.into(), id.into()]).await?;
                n += 1;
            }
            b.flush(&mut tx).await?;
            tx.commit().await?;
        }
        reading.await.map_err(|e| crate::Error::Db(format!("sorting search terms: {e}")))?;
        let mut tx = db.begin().await?;
        for (id, kind) in stale {
            index_current(&mut tx, kind, id).await?;
        }
        tx.commit().await?;
        Ok(n)
    }
}

fn table_of(kind: Kind) -> &'static str {
    match kind {
        Kind::Account => "accounts",
        Kind::Contact => "contacts",
    }
}

/// Records of the tables `kinds` in `ws` changed after `since`.
async fn changed_since(
    db: &Db,
    ws: WorkspaceId,
    since: DateTime<Utc>,
    kinds: &HashSet<&'static str>,
) -> Result<HashMap<Uuid, Kind>> {
    let mut out = HashMap::new();
    for (kind, table) in [(Kind::Account, "accounts"), (Kind::Contact, "contacts")] {
        if kinds.contains(table) {
            let q = Sql::new(&format!("SELECT id FROM {table} WHERE workspace_id = $1 AND updated_at > $2"));
            for (id,) in db.fetch_all::<(Uuid,)>(q.arg(ws).arg(since)).await? {
                out.insert(id, kind);
            }
        }
    }
    Ok(out)
}

/// Pending terms merged per transaction: long enough to write each index page
/// once, short enough that other writers wait a fraction of a second.
const MERGE_CHUNK: usize = 50_000;

/// Records an import created, per transaction, when indexed after the fact.
const INDEX_CHUNK: usize = 5_000;

/// Indexes what import `import` created of `kind` (`accounts`, `contacts`):
/// the records of an import whose process stopped before it merged their
/// terms. Removed ones too, as a removal keeps a record's terms for its
/// restore. Idempotent. Returns the records indexed.
pub async fn index_created(db: &Db, import: Uuid, kind: &str) -> Result<u64> {
    let kind = match kind {
        "accounts" => Kind::Account,
        "contacts" => Kind::Contact,
        _ => return Ok(0),
    };
    let q = Sql::new("SELECT entity_id FROM import_keys WHERE import_id = $1 AND created").arg(import);
    let ids: Vec<(Uuid,)> = db.fetch_all(q).await?;
    for chunk in ids.chunks(INDEX_CHUNK) {
        let mut tx = db.begin().await?;
        for (id,) in chunk {
            index_current(&mut tx, kind, *id).await?;
        }
        tx.commit().await?;
    }
    Ok(ids.len() as u64)
}

/// A record's workspace and its terms as stored now; `None` when there is no such record.
async fn stored_terms(tx: &mut Tx, kind: Kind, id: Uuid) -> Result<Option<(WorkspaceId, Vec<String>)>> {
    let (ws, names, uscc, phones): (WorkspaceId, Vec<String>, Option<String>, Vec<(String,)>) = match kind {
        Kind::Account => {
            let row: Option<(WorkspaceId, String, Option<String>, Option<String>)> = tx
                .fetch_optional(
                    Sql::new("SELECT workspace_id, name, short_name, uscc FROM accounts WHERE id = $1").arg(id),
                )
                .await?;
            let Some((ws, name, short, uscc)) = row else { return Ok(None) };
            let phones = tx
                .fetch_all(
                    Sql::new("SELECT number FROM account_phones WHERE account_id = $1 ORDER BY position").arg(id),
                )
                .await?;
            (ws, std::iter::once(name).chain(short).collect(), uscc, phones)
        }
        Kind::Contact => {
            let row: Option<(WorkspaceId, String)> =
                tx.fetch_optional(Sql::new("SELECT workspace_id, name FROM contacts WHERE id = $1").arg(id)).await?;
            let Some((ws, name)) = row else { return Ok(None) };
            let phones = tx
                .fetch_all(
                    Sql::new("SELECT number FROM contact_phones WHERE contact_id = $1 ORDER BY position").arg(id),
                )
                .await?;
            (ws, vec![name], None, phones)
        }
    };
    let rec = Indexed {
        names: names.iter().map(String::as_str).collect(),
        phones: phones.iter().map(|p| p.0.as_str()).collect(),
        uscc: uscc.as_deref(),
    };
    Ok(Some((ws, terms::terms(kind, &rec))))
}

/// Indexes a record under its terms as stored now; terms it already has stay.
async fn index_current(tx: &mut Tx, kind: Kind, id: Uuid) -> Result<()> {
    let Some((ws, terms)) = stored_terms(tx, kind, id).await? else { return Ok(()) };
    let number = workspaces::number(&mut Conn::Tx(tx), ws).await?;
    let mut b = term_batch().on_conflict(" ON CONFLICT DO NOTHING");
    for t in terms {
        b.push(tx, [Val::from(number), t.into(), id.into()]).await?;
    }
    b.flush(tx).await
}

/// Removes a record's terms, computed again from the record as stored (a
/// record merged away leaves search). Updates use [`replace`]. A change to
/// what terms are (`guanxi_domain::search`) needs a migration that reindexes:
/// terms are found again by computing them.
pub async fn forget(tx: &mut Tx, kind: Kind, id: Uuid) -> Result<()> {
    let Some((ws, old)) = stored_terms(tx, kind, id).await? else { return Ok(()) };
    if !old.is_empty() {
        let mut q = Sql::new("DELETE FROM search_terms WHERE workspace_number = ");
        workspaces::push_number(&mut q, ws).push(" AND entity_id = ").bind(id).push(" AND term IN (");
        for (i, t) in old.into_iter().enumerate() {
            q.push(if i == 0 { "" } else { ", " }).bind(t);
        }
        q.push(")");
        tx.execute(q).await?;
    }
    Ok(())
}

/// Re-indexes a record whose indexed values go from `old` to `new`: the
/// terms only `old` has leave the index, those only `new` has join it (a
/// record whose bulk write has not merged its terms yet gets them all then:
/// see [`Indexer::merge`]). An import filling in a
/// phone writes two rows instead of deleting and writing all twenty.
pub async fn replace(
    tx: &mut Tx,
    ws: WorkspaceId,
    kind: Kind,
    id: Uuid,
    old: &Indexed<'_>,
    new: &Indexed<'_>,
) -> Result<()> {
    let (old, new) = (terms::terms(kind, old), terms::terms(kind, new));
    let gone: Vec<&String> = old.iter().filter(|t| !new.contains(t)).collect();
    if !gone.is_empty() {
        let mut q = Sql::new("DELETE FROM search_terms WHERE workspace_number = ");
        workspaces::push_number(&mut q, ws).push(" AND entity_id = ").bind(id).push(" AND term IN (");
        for (i, t) in gone.iter().enumerate() {
            q.push(if i == 0 { "" } else { ", " }).bind(t.as_str());
        }
        q.push(")");
        tx.execute(q).await?;
    }
    // Already there when the record was indexed under another version of `terms`: kept.
    let added: Vec<&String> = new.iter().filter(|t| !old.contains(t)).collect();
    if added.is_empty() {
        return Ok(());
    }
    let number = workspaces::number(&mut Conn::Tx(tx), ws).await?;
    let mut b = term_batch().on_conflict(" ON CONFLICT DO NOTHING");
    for t in added {
        b.push(tx, [Val::from(number), t.as_str().into(), id.into()]).await?;
    }
    b.flush(tx).await
}

/// Indexes a record not indexed yet.
async fn index(tx: &mut Tx, ws: WorkspaceId, kind: Kind, id: Uuid, rec: &Indexed<'_>) -> Result<()> {
    let mut ix = Indexer::direct();
    ix.push(tx, ws, kind, id, rec).await?;
    ix.flush(tx).await
}

/// What an account is found by.
pub fn account_terms(f: &AccountFields) -> Indexed<'_> {
    let mut names = vec![f.name.as_str()];
    names.extend(f.short_name.as_deref());
    Indexed { names, phones: f.phones.iter().map(|p| p.number()).collect(), uscc: f.uscc.as_deref() }
}

/// The terms of an account whose name's key is known (an import's, from 查重).
pub fn account_terms_keyed(f: &AccountFields, key: &NameKey) -> Vec<String> {
    terms::terms_keyed(Kind::Account, &account_terms(f), Some(key))
}

/// What a contact is found by.
pub fn contact_terms<'a>(name: &'a str, phones: &[&'a str]) -> Indexed<'a> {
    Indexed { names: vec![name], phones: phones.to_vec(), uscc: None }
}

/// (id, workspace, name, short name, USCC) of an account.
type AccountTerms = (AccountId, WorkspaceId, String, Option<String>, Option<String>);

/// Rebuilds the whole index (after an upgrade that changes what terms are).
pub async fn reindex(tx: &mut Tx) -> Result<u64> {
    tx.execute(Sql::new("DELETE FROM search_terms")).await?;
    let rows: Vec<AccountTerms> =
        tx.fetch_all(Sql::new("SELECT id, workspace_id, name, short_name, uscc FROM accounts")).await?;
    let phones: Vec<(Uuid, String)> =
        tx.fetch_all(Sql::new("SELECT account_id, number FROM account_phones ORDER BY account_id, position")).await?;
    let mut by_owner: HashMap<Uuid, Vec<&str>> = HashMap::new();
    for (id, n) in &phones {
        by_owner.entry(*id).or_default().push(n);
    }
    let mut n = 0;
    for (id, ws, name, short, uscc) in &rows {
        let mut names = vec![name.as_str()];
        names.extend(short.as_deref());
        let phones = by_owner.get(&id.uuid()).cloned().unwrap_or_default();
        index(tx, *ws, Kind::Account, id.uuid(), &Indexed { names, phones, uscc: uscc.as_deref() }).await?;
        n += 1;
    }
    let contacts: Vec<(ContactId, WorkspaceId, String)> =
        tx.fetch_all(Sql::new("SELECT id, workspace_id, name FROM contacts")).await?;
    let phones: Vec<(Uuid, String)> =
        tx.fetch_all(Sql::new("SELECT contact_id, number FROM contact_phones ORDER BY contact_id, position")).await?;
    let mut by_owner: HashMap<Uuid, Vec<&str>> = HashMap::new();
    for (id, n) in &phones {
        by_owner.entry(*id).or_default().push(n);
    }
    for (id, ws, name) in &contacts {
        let phones = by_owner.get(&id.uuid()).cloned().unwrap_or_default();
        index(tx, *ws, Kind::Contact, id.uuid(), &contact_terms(name, &phones)).await?;
        n += 1;
    }
    Ok(n)
}

/// One search result.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Hit {
    /// `account` or `contact`.
    pub kind: &'static str,
    /// The record's id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// What tells it apart: an account's short name and owner; a contact's title and account.
    pub detail: Option<String>,
    /// How well it matches, 0–100.
    pub score: u8,
}

/// Records found per kind before ranking.
const FOUND_PER_KIND: i64 = 200;
/// Bigram postings counted when choosing the rarest bigram.
const PROBE_CAP: i64 = 5000;
/// Bigrams required in SQL (the rest are checked on the names).
const SQL_BIGRAMS: usize = 3;

/// (id, name, other name, detail, matched term)
type Found = (Uuid, String, Option<String>, Option<String>, Option<String>);

/// The records behind matching terms. `CROSS JOIN` keeps SQLite driving from
/// the terms (a few hundred rows) instead of from the caller's accounts (for a
/// salesperson, thousands, each then probed for terms: 150 ms at a million
/// accounts); PostgreSQL plans it as an ordinary join.
fn head(kind: Kind, with_term: bool) -> Sql {
    let term = if with_term { "s.term" } else { "NULL" };
    Sql::new(&match kind {
        Kind::Account => format!(
            "SELECT a.id, a.name, a.short_name, o.display_name, {term} FROM search_terms s \
             CROSS JOIN accounts a LEFT JOIN users o ON o.id = a.owner_id \
             WHERE a.id = s.entity_id AND a.deleted_at IS NULL AND "
        ),
        Kind::Contact => format!(
            "SELECT c.id, c.name, c.title, a.name, {term} FROM search_terms s \
             CROSS JOIN contacts c CROSS JOIN accounts a \
             WHERE c.id = s.entity_id AND a.id = c.account_id AND c.deleted_at IS NULL AND a.deleted_at IS NULL AND "
        ),
    })
}

/// Postings of a term, counted up to `PROBE_CAP`.
async fn postings(db: &Db, ws: WorkspaceId, term: &str) -> Result<i64> {
    postings_up_to(db, ws, term, PROBE_CAP).await
}

/// Postings of a term, counted up to `cap`.
async fn postings_up_to(db: &Db, ws: WorkspaceId, term: &str, cap: i64) -> Result<i64> {
    let (n,): (i64,) = db
        .fetch_one(
            Sql::new(&format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM search_terms WHERE workspace_number = {} AND term = $2 LIMIT $3) p",
                workspaces::numbered(1)
            ))
            .arg(ws)
            .arg(term)
            .arg(cap),
        )
        .await?;
    Ok(n)
}

async fn by_bigrams(db: &Db, viewer: Viewer, kind: Kind, plan: &Plan) -> Result<Vec<Found>> {
    let ws = viewer.workspace_id;
    let mut counted = Vec::new();
    for b in &plan.bigrams {
        let t = terms::term(kind, &format!("b{b}"));
        let n = postings(db, ws, &t).await?;
        if n == 0 {
            return Ok(Vec::new());
        }
        counted.push((n, t));
    }
    counted.sort();
    let mut q = head(kind, false);
    push_visible(&mut q, viewer, accounts::SCOPE);
    q.push(" AND s.workspace_number = ");
    workspaces::push_number(&mut q, ws).push(" AND s.term = ").bind(counted[0].1.as_str());
    for (_, t) in counted.iter().skip(1).take(SQL_BIGRAMS - 1) {
        q.push(" AND EXISTS (SELECT 1 FROM search_terms s2 WHERE s2.workspace_number = ");
        workspaces::push_number(&mut q, ws)
            .push(" AND s2.term = ")
            .bind(t.as_str())
            .push(" AND s2.entity_id = s.entity_id)");
    }
    q.push(" LIMIT ").bind(FOUND_PER_KIND);
    db.fetch_all(q).await
}

async fn by_prefixes(db: &Db, viewer: Viewer, kind: Kind, plan: &Plan) -> Result<Vec<Found>> {
    let mut out = Vec::new();
    for p in &plan.prefixes {
        let lo = terms::term(kind, p);
        let mut q = head(kind, true);
        push_visible(&mut q, viewer, accounts::SCOPE);
        q.push(" AND s.workspace_number = ");
        workspaces::push_number(&mut q, viewer.workspace_id)
            .push(" AND s.term >= ")
            .bind(lo.as_str())
            .push(" AND s.term < ")
            .bind(terms::prefix_upper(&lo))
            .push(" LIMIT ")
            .bind(FOUND_PER_KIND);
        out.extend(db.fetch_all::<Found>(q).await?);
    }
    Ok(out)
}

/// Characters of a reduced name whose bigrams are probed for similar names:
/// the trade name (字号) leads, and a slip is only weighed in long ones.
const SIMILAR_PREFIX: usize = 5;
/// Similar names returned at most.
const SIMILAR_LIMIT: i64 = 30;
/// Postings counted per bigram when looking for similar names: enough to
/// tell a trade name's rare bigrams from an industry word's common ones.
const SIMILAR_PROBE_CAP: i64 = 500;

/// Accounts (any scope: 查重 is workspace-wide) whose names contain the two
/// rarest of the bigrams at the start of `core` that exist at all. A one-
/// character slip breaks at most two bigrams, so a name long enough for a slip
/// to count still shares two; the matcher then decides.
pub async fn similar_names(db: &Db, ws: WorkspaceId, core: &str) -> Result<Vec<Uuid>> {
    let head: Vec<char> = terms::fold(core).chars().take(SIMILAR_PREFIX).collect();
    let mut grams: Vec<String> = Vec::new();
    for w in head.windows(2) {
        let g: String = w.iter().collect();
        if !grams.contains(&g) {
            grams.push(g);
        }
    }
    if grams.len() < 3 {
        return Ok(Vec::new());
    }
    let mut counted = Vec::new();
    for (position, b) in grams.iter().enumerate() {
        let t = terms::term(Kind::Account, &format!("b{b}"));
        let n = postings_up_to(db, ws, &t, SIMILAR_PROBE_CAP).await?;
        if n > 0 {
            counted.push((n, position, t));
        }
    }
    if counted.len() < 2 {
        return Ok(Vec::new());
    }
    // Rarest first; among bigrams too common to count, the earliest: the trade name leads.
    counted.sort();
    let q = Sql::new(&format!(
        "SELECT s.entity_id FROM search_terms s WHERE s.workspace_number = {n} AND s.term = $2 AND EXISTS \
         (SELECT 1 FROM search_terms s2 WHERE s2.workspace_number = {n} AND s2.term = $3 AND s2.entity_id = s.entity_id) LIMIT $4",
        n = workspaces::numbered(1)
    ))
    .arg(ws)
    .arg(counted[0].2.as_str())
    .arg(counted[1].2.as_str())
    .arg(SIMILAR_LIMIT);
    let rows: Vec<(Uuid,)> = db.fetch_all(q).await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Accounts and contacts the viewer may see that match `query`, best first.
/// An empty list when the query is shorter than two characters.
pub async fn search(db: &Db, viewer: Viewer, query: &str, limit: usize) -> Result<Vec<Hit>> {
    let Some(plan) = terms::plan(query) else {
        return Ok(Vec::new());
    };
    let mut best: HashMap<Uuid, Hit> = HashMap::new();
    for kind in [Kind::Account, Kind::Contact] {
        let mut found = by_prefixes(db, viewer, kind, &plan).await?;
        if !plan.bigrams.is_empty() {
            found.extend(by_bigrams(db, viewer, kind, &plan).await?);
        }
        for (id, name, other, detail, term) in found {
            let names: Vec<&str> = match kind {
                Kind::Account => std::iter::once(name.as_str()).chain(other.as_deref()).collect(),
                Kind::Contact => vec![name.as_str()],
            };
            let Some(score) = terms::score(&plan, &names, term.as_deref()) else {
                continue;
            };
            let detail = join(other.as_deref(), detail.as_deref());
            let hit = Hit {
                kind: match kind {
                    Kind::Account => "account",
                    Kind::Contact => "contact",
                },
                id,
                name,
                detail,
                score,
            };
            match best.get(&id) {
                Some(h) if h.score >= score => {}
                _ => {
                    best.insert(id, hit);
                }
            }
        }
    }
    let mut hits: Vec<Hit> = best.into_values().collect();
    // Best first; among equals the shorter (closer) name, then by name for a stable order.
    hits.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then(a.name.chars().count().cmp(&b.name.chars().count()))
            .then_with(|| a.name.cmp(&b.name))
            .then(a.id.cmp(&b.id))
    });
    hits.truncate(limit);
    Ok(hits)
}

fn join(a: Option<&str>, b: Option<&str>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a} · {b}")),
        (Some(x), None) | (None, Some(x)) => Some(x.to_owned()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::PoolConfig;

    /// A bulk write's terms that fill many temporary files all reach the
    /// index, each once, under their records.
    #[tokio::test]
    async fn a_spool_larger_than_its_memory_merges_every_term() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_sqlite(&dir.path().join("t.db"), &PoolConfig::default()).await.unwrap();
        db.execute(Sql::new(
            "CREATE TABLE search_terms (workspace_number INTEGER NOT NULL, term TEXT NOT NULL, entity_id BLOB NOT NULL, \
             PRIMARY KEY (workspace_number, term, entity_id)) WITHOUT ROWID",
        ))
        .await
        .unwrap();
        db.execute(Sql::new("CREATE TABLE workspaces (id BLOB PRIMARY KEY, number INTEGER NOT NULL)")).await.unwrap();
        db.execute(Sql::new("CREATE TABLE accounts (id BLOB PRIMARY KEY, workspace_id BLOB, updated_at TEXT)"))
            .await
            .unwrap();
        let ws = WorkspaceId::new();
        db.execute(Sql::new("INSERT INTO workspaces (id, number) VALUES ($1, 7)").arg(ws)).await.unwrap();
        let mut ix = Indexer::spool_sorting(ws, guanxi_domain::Clock::now(&guanxi_domain::SystemClock), 7);
        let mut tx = db.begin().await.unwrap();
        let mut expected = Vec::new();
        for (name, phone) in [
            ("国网辽宁省电力有限公司", "+862423131234"),
            ("华为技术有限公司", "+8675528780808"),
            ("中兴通讯股份有限公司", "+8613912345678"),
            ("许继电气股份有限公司", "+863743212345"),
        ] {
            let id = Uuid::now_v7();
            let rec = Indexed { names: vec![name], phones: vec![phone], uscc: None };
            ix.push(&mut tx, ws, Kind::Account, id, &rec).await.unwrap();
            expected.extend(terms::terms(Kind::Account, &rec).into_iter().map(|t| (t, id)));
        }
        tx.commit().await.unwrap();
        assert!(expected.len() > 7 * 4, "several temporary files: {}", expected.len());
        assert_eq!(ix.merge(&db).await.unwrap(), expected.len() as u64);
        expected.sort();
        let stored: Vec<(String, Uuid)> = db
            .fetch_all(Sql::new(
                "SELECT term, entity_id FROM search_terms WHERE workspace_number = 7 ORDER BY term, entity_id",
            ))
            .await
            .unwrap();
        assert_eq!(stored, expected);
    }
}
