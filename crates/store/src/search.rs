//! The search box: records are indexed under terms in `search_terms` (see
//! `guanxi_domain::search`) in the transaction that changes them, and a
//! query becomes index range scans joined to the records under the caller's
//! scope. Nothing lives in a process, so every instance answers alike.

use crate::accounts::{self, AccountFields};
use crate::batch::Batch;
use crate::db::{Db, Sql, Tx, Val};
use crate::scope::{push_visible, Viewer};
use crate::Result;
use guanxi_domain::search::{self as terms, Indexed, Kind, Plan};
use guanxi_domain::{AccountId, ContactId, WorkspaceId};
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

/// A batch of `search_terms` rows.
fn term_batch() -> Batch {
    Batch::new("search_terms", "workspace_id, term, entity_id")
}

/// Where the terms of records being written go: straight into
/// `search_terms`, so that a record saved by hand is found at once, or, for a
/// bulk write, into `search_pending`, appended in the order written, to be
/// merged in term order by [`merge_pending`] when the bulk write ends. A
/// million records' terms inserted one record at a time land all over a large
/// index: each lands on a page of its own, and that page is written again.
pub struct Indexer {
    batch: Batch,
    /// The bulk write's id and the last sequence number it used.
    pending: Option<(Uuid, i64)>,
}

impl Indexer {
    /// Terms go into `search_terms` as the records are written.
    pub fn direct() -> Self {
        Self { batch: term_batch(), pending: None }
    }

    /// Terms wait in `search_pending` under `batch_id` (an import's id). One
    /// `Indexer` per id: it numbers the rows it writes.
    pub fn pending(batch_id: Uuid) -> Self {
        let batch = Batch::new("search_pending", "batch_id, seq, workspace_id, term, entity_id");
        Self { batch, pending: Some((batch_id, 0)) }
    }

    /// Adds a new record's terms (sent with the next full statement or [`Indexer::flush`]).
    pub async fn push(&mut self, tx: &mut Tx, ws: WorkspaceId, kind: Kind, id: Uuid, rec: &Indexed<'_>) -> Result<()> {
        for t in terms::terms(kind, rec) {
            let row = match &mut self.pending {
                None => vec![Val::from(ws), t.into(), id.into()],
                Some((batch, seq)) => {
                    *seq += 1;
                    vec![Val::from(*batch), Val::from(*seq), ws.into(), t.into(), id.into()]
                }
            };
            self.batch.push(tx, row).await?;
        }
        Ok(())
    }

    /// Sends what is left; call before the transaction commits.
    pub async fn flush(&mut self, tx: &mut Tx) -> Result<()> {
        self.batch.flush(tx).await
    }

    /// Merges the pending terms written so far (see [`merge_pending`]).
    pub async fn merge(&self, db: &Db) -> Result<u64> {
        match self.pending {
            Some((batch_id, _)) => merge_pending(db, batch_id).await,
            None => Ok(0),
        }
    }
}

/// Pending terms merged per transaction: long enough to write each index page
/// once, short enough that other writers wait a fraction of a second.
const MERGE_CHUNK: usize = 50_000;
/// Pending rows deleted per transaction once merged.
const CLEAR_CHUNK: i64 = 100_000;

/// Merges the terms a bulk write left in `search_pending` into `search_terms`,
/// in term order and a chunk per transaction, then clears them. Idempotent:
/// a merge cut off part-way is finished by running it again (the sweep does,
/// for imports whose server stopped). Returns the terms merged.
pub async fn merge_pending(db: &Db, batch_id: Uuid) -> Result<u64> {
    // Up to the rows written so far: the writer may still be adding more (a
    // sweep merging a stopped import's terms while it is in fact alive).
    let (last,): (Option<i64>,) =
        db.fetch_one(Sql::new("SELECT MAX(seq) FROM search_pending WHERE batch_id = $1").arg(batch_id)).await?;
    let Some(last) = last else { return Ok(0) };
    let sorted = Sql::new(
        "SELECT workspace_id, term, entity_id FROM search_pending WHERE batch_id = $1 AND seq <= $2 \
         ORDER BY workspace_id, term, entity_id",
    )
    .arg(batch_id)
    .arg(last);
    let mut chunks = db.stream::<(WorkspaceId, String, Uuid)>(sorted, MERGE_CHUNK);
    let mut n = 0;
    while let Some(chunk) = chunks.recv().await {
        let chunk = chunk?;
        let mut tx = db.begin().await?;
        let mut b = term_batch().on_conflict(" ON CONFLICT DO NOTHING");
        for (ws, term, id) in chunk {
            b.push(&mut tx, vec![Val::from(ws), term.into(), id.into()]).await?;
            n += 1;
        }
        b.flush(&mut tx).await?;
        tx.commit().await?;
    }
    let mut upto = 0;
    while upto < last {
        upto = (upto + CLEAR_CHUNK).min(last);
        db.execute(Sql::new("DELETE FROM search_pending WHERE batch_id = $1 AND seq <= $2").arg(batch_id).arg(upto))
            .await?;
    }
    Ok(n)
}

/// Bulk writes whose terms still wait (their writer stopped before merging).
pub async fn pending_batches(db: &Db) -> Result<Vec<Uuid>> {
    // One index probe per batch, not a scan of the millions of rows a running import may have there.
    let mut out = Vec::new();
    let mut after = Uuid::nil();
    loop {
        let next: Option<(Uuid,)> = db
            .fetch_optional(
                Sql::new("SELECT batch_id FROM search_pending WHERE batch_id > $1 ORDER BY batch_id LIMIT 1")
                    .arg(after),
            )
            .await?;
        match next {
            Some((id,)) => {
                out.push(id);
                after = id;
            }
            None => return Ok(out),
        }
    }
}

/// Removes a record's terms, computed again from the record as stored (a
/// record merged away leaves search). Updates use [`replace`]. A change to
/// what terms are (`guanxi_domain::search`) needs a migration that reindexes:
/// terms are found again by computing them.
pub async fn forget(tx: &mut Tx, kind: Kind, id: Uuid) -> Result<()> {
    let (ws, names, uscc, phones): (WorkspaceId, Vec<String>, Option<String>, Vec<(String,)>) = match kind {
        Kind::Account => {
            let row: Option<(WorkspaceId, String, Option<String>, Option<String>)> = tx
                .fetch_optional(
                    Sql::new("SELECT workspace_id, name, short_name, uscc FROM accounts WHERE id = $1").arg(id),
                )
                .await?;
            let Some((ws, name, short, uscc)) = row else { return Ok(()) };
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
            let Some((ws, name)) = row else { return Ok(()) };
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
    let old = terms::terms(kind, &rec);
    if !old.is_empty() {
        let mut q = Sql::new("DELETE FROM search_terms WHERE workspace_id = ");
        q.bind(ws).push(" AND entity_id = ").bind(id).push(" AND term IN (");
        for (i, t) in old.into_iter().enumerate() {
            q.push(if i == 0 { "" } else { ", " }).bind(t);
        }
        q.push(")");
        tx.execute(q).await?;
    }
    tx.execute(Sql::new("DELETE FROM search_pending WHERE entity_id = $1").arg(id)).await?;
    Ok(())
}

/// Re-indexes a record whose indexed values go from `old` to `new`: the
/// terms only `old` has leave the index (and the terms still waiting for a
/// bulk write's merge), those only `new` has join it. An import filling in a
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
        for table in ["search_terms", "search_pending"] {
            let mut q = Sql::new(&format!("DELETE FROM {table} WHERE workspace_id = "));
            q.bind(ws).push(" AND entity_id = ").bind(id).push(" AND term IN (");
            for (i, t) in gone.iter().enumerate() {
                q.push(if i == 0 { "" } else { ", " }).bind(t.as_str());
            }
            q.push(")");
            tx.execute(q).await?;
        }
    }
    // Already there when the record was indexed under another version of `terms`: kept.
    let mut b = term_batch().on_conflict(" ON CONFLICT DO NOTHING");
    for t in new.iter().filter(|t| !old.contains(t)) {
        b.push(tx, vec![Val::from(ws), t.as_str().into(), id.into()]).await?;
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
            Sql::new(
                "SELECT COUNT(*) FROM (SELECT 1 FROM search_terms WHERE workspace_id = $1 AND term = $2 LIMIT $3) p",
            )
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
    q.push(" AND s.workspace_id = ").bind(ws).push(" AND s.term = ").bind(counted[0].1.as_str());
    for (_, t) in counted.iter().skip(1).take(SQL_BIGRAMS - 1) {
        q.push(" AND EXISTS (SELECT 1 FROM search_terms s2 WHERE s2.workspace_id = ")
            .bind(ws)
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
        q.push(" AND s.workspace_id = ")
            .bind(viewer.workspace_id)
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
    let q = Sql::new(
        "SELECT s.entity_id FROM search_terms s WHERE s.workspace_id = $1 AND s.term = $2 AND EXISTS \
         (SELECT 1 FROM search_terms s2 WHERE s2.workspace_id = $1 AND s2.term = $3 AND s2.entity_id = s.entity_id) LIMIT $4",
    )
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
