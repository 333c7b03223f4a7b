//! Accounts from rows: each row parsed into an account's fields, recognised
//! by its external id (a second run of a file changes nothing), then 查重
//! against the rows before it in the file and against the database — by
//! name key, pinyin, USCC and phone, weighed by `dedupe::compare` as on entry
//! — and written a batch at a time.

use super::cells::{self, Cells};
use super::plan::{fill_text, join};
use super::report::{problem, Problem, Report, Severity, Sink};
use super::{Ctx, ImportError, Options, Who};
use crate::mapping::Mapping;
use crate::read::Row;
use chrono::{DateTime, Utc};
use guanxi_domain::dedupe::{self, NameKey, Verdict};
use guanxi_domain::{
    AccountId, AccountName, AccountSource, Classification, ImportId, LongText, Notes, Phone, RelationshipStage,
    ShortText, TeamId, Uscc, UserId,
};
use guanxi_store::accounts::{self, AccountFields, Existing};
use guanxi_store::imports::{self, Keys};
use guanxi_store::pool::Pool;
use guanxi_store::{search, Conn, Db};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

/// Most phones or tags one account keeps.
const MAX_ITEMS: usize = 20;

/// The end of a chain of `Importer::links`.
const NO_LINK: u32 = u32::MAX;

/// Earlier records of the file a row is weighed against per key, the latest
/// first: a key many share (a switchboard, a group's branches) would
/// otherwise make a large file's 查重 quadratic.
const MAX_CHAIN: usize = 64;

/// A row read as an account.
pub(crate) struct Parsed {
    row: Row,
    /// The source's id of the row (`x:…`), Guanxi's (`g:…`), or a hash of its cells (`h:…`).
    external: String,
    /// A Guanxi id the row names (its own export).
    id: Option<AccountId>,
    fields: AccountFields,
    key: NameKey,
    /// Fields the row fills (an update changes only these).
    present: Vec<&'static str>,
    /// The owner column named someone.
    owner_given: bool,
}

/// What became of an earlier row's record, for rows after it.
struct Seen {
    id: AccountId,
    name: Box<str>,
    uscc: Option<Box<str>>,
    line: u64,
    /// Written in an earlier batch (not in the one being built).
    written: bool,
    /// Not created after all (an owner's limit): nothing to merge into.
    dead: bool,
}

type Plan = super::plan::Plan<AccountId, Parsed>;

pub(crate) struct Importer<'a> {
    db: &'a Db,
    who: &'a Who,
    import: ImportId,
    opts: &'a Options,
    write: bool,
    now: DateTime<Utc>,
    pool: Pool,
    /// Accounts each owner holds in the pool, counted once and kept up to date.
    owned: HashMap<UserId, i64>,
    seen: Vec<Seen>,
    /// Key hash → the last entry of `links` with that key.
    index: HashMap<u64, u32>,
    /// (index into `seen`, the entry before with the same key, or `NO_LINK`):
    /// every earlier record sharing a key with a row is weighed, as 查重
    /// against the database weighs every candidate.
    links: Vec<(u32, u32)>,
    /// External ids already handled in this run.
    externals: HashSet<u64>,
    /// Looks up batches in the writer's transaction when the reader's thread does not.
    lookup: Lookup,
    /// Shared with the lookups: what `seen` holds, for the database's candidates.
    own: Own,
    /// Existing records rows of this run matched: a later row matching one
    /// again only fills its gaps, as a duplicate within the file does.
    matched: HashSet<AccountId>,
}

/// Reads rows as accounts, on the reader's thread.
pub(crate) struct Parser {
    mapping: Mapping,
    headers: Vec<String>,
    who: Who,
    /// Owners by lower-cased e-mail and by name, with their team.
    people: HashMap<String, (UserId, Option<TeamId>)>,
    teams: HashMap<String, TeamId>,
    /// The importer as an owner (with their team), when a person imports.
    mine: Option<(UserId, Option<TeamId>)>,
    /// Places already looked up: a file names few, a million times.
    regions: RefCell<HashMap<String, Option<String>>>,
    /// Looks up each batch in the database beside the writing, if it may.
    beside: Option<Beside>,
}

/// Whether batches are looked up on the reader's thread: not for an
/// update, which must see the updates of the batches before it (only the
/// writer's transaction holds them).
pub(crate) fn looks_up_beside(opts: &Options) -> bool {
    !opts.update_existing
}

/// Looking up batches on the reader's thread, through a connection of its own.
struct Beside {
    lookup: RefCell<Lookup>,
    db: Db,
    rt: tokio::runtime::Handle,
}

/// The page cache of the connection that looks up batches beside the
/// writing, in MiB: small, as the pages it misses come from the operating
/// system's cache on a thread that has time to wait (64 MB looked up no
/// faster at a million accounts, and would push the import past its memory).
const LOOKUP_CACHE_MIB: i64 = 8;

/// What a batch's rows find in the database.
pub(crate) struct Found {
    /// Records of external ids an earlier import made.
    known: HashMap<String, uuid::Uuid>,
    /// The Guanxi ids rows name that are live accounts.
    live: HashSet<AccountId>,
    /// 查重's candidates for the other rows.
    candidates: Vec<Candidate>,
    /// Candidates the importer may update (asked only with `--update-existing`).
    visible: HashSet<AccountId>,
}

/// A stored account 查重 weighs a row against.
struct Candidate {
    e: Existing,
    city: Option<&'static str>,
}

/// Looks up what a batch's rows find in the database.
struct Lookup {
    ws: guanxi_domain::WorkspaceId,
    viewer: guanxi_store::Viewer,
    update_existing: bool,
    /// Cities of candidates' division codes: a database names a few thousand.
    cities: HashMap<String, Option<&'static str>>,
    own: Own,
}

/// The accounts this run created, in order (UUIDv7, ordered within the
/// process), each added before the transaction writing it commits. They are
/// found through the file (`Importer::seen`), not the database: looked up
/// beside the writing they would appear as each transaction commits, making
/// the report depend on timing. Left out before their name keys are worked
/// out, on the reader's thread when it looks up.
type Own = std::sync::Arc<std::sync::RwLock<Vec<AccountId>>>;

impl Lookup {
    async fn run(&mut self, conn: &mut Conn<'_>, parsed: &[&Parsed]) -> Result<Found, guanxi_store::Error> {
        let ws = self.ws;
        let externals: Vec<&str> = parsed.iter().map(|p| p.external.as_str()).collect();
        let known: HashMap<String, uuid::Uuid> =
            imports::lookup(conn, ws, "accounts", &externals).await?.into_iter().collect();
        let named: Vec<AccountId> = parsed.iter().filter_map(|p| p.id).collect();
        let live: HashSet<AccountId> = accounts::live(conn, ws, &named).await?.into_iter().collect();
        // Candidates for everything else (a second run of a file looks for none), in one go.
        let (mut keys, mut pinyins, mut usccs, mut phones) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for p in parsed {
            if known.contains_key(&p.external) || p.id.is_some_and(|id| live.contains(&id)) {
                continue;
            }
            keys.push(p.key.core.as_str());
            if !p.key.pinyin.is_empty() {
                pinyins.push(p.key.pinyin.as_str());
            }
            usccs.extend(p.fields.uscc.as_deref());
            phones.extend(p.fields.phones.iter().map(|x| x.number()));
        }
        let mut existing = accounts::existing_matching(conn, ws, &keys, &pinyins, &usccs, &phones).await?;
        {
            let own = self.own.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            existing.retain(|e| own.binary_search(&e.id).is_err());
        }
        // Only an update asks whether the importer may touch a match (the
        // API's rule: an account outside the caller's scope is not found),
        // whether 查重, an earlier import's key or the row's own id found it.
        let visible: HashSet<AccountId> = if self.update_existing {
            let mut ids: Vec<AccountId> = existing.iter().map(|e| e.id).collect();
            ids.extend(known.values().map(|u| AccountId::from_uuid(*u)));
            ids.extend(live.iter().copied());
            ids.sort();
            ids.dedup();
            accounts::visible(conn, self.viewer, &ids).await?.into_iter().collect()
        } else {
            HashSet::new()
        };
        let candidates = existing
            .into_iter()
            .map(|e| {
                let city = match e.region_code.as_deref() {
                    Some(code) => *self.cities.entry(code.to_owned()).or_insert_with(|| accounts::city_of(Some(code))),
                    None => None,
                };
                Candidate { city, e }
            })
            .collect();
        Ok(Found { known, live, candidates, visible })
    }
}

impl super::Parse for Parser {
    type Parsed = Parsed;
    type Found = Found;

    fn look_up(&self, rows: &[&Parsed]) -> Option<Result<Found, guanxi_store::Error>> {
        let b = self.beside.as_ref()?;
        let mut lookup = b.lookup.borrow_mut();
        Some(b.rt.block_on(lookup.run(&mut Conn::Db(&b.db), rows)))
    }

    fn parse(&self, row: Row) -> Result<Parsed, (Vec<Problem>, Row)> {
        let mapping = &self.mapping;
        let mut c = Cells::new(mapping, &self.headers, &row);
        let mut present = Vec::new();
        for f in mapping.columns.iter().flatten() {
            if c.get(f.key).is_some() && !present.contains(&f.key) {
                present.push(f.key);
            }
        }
        let id = c.get("id").and_then(|v| match uuid::Uuid::parse_str(v) {
            Ok(u) => Some(AccountId::from_uuid(u)),
            Err(_) => {
                c.problem(
                    "id",
                    "invalid_id",
                    format!("{v:?} is not a Guanxi id; leave the column empty for new records"),
                );
                None
            }
        });
        let name = match c.get("name") {
            Some(n) => c.take("name", AccountName::parse("name", n)).map(AccountName::into_string),
            None => {
                c.problem("name", "required", "the name is empty: every account needs its registered name");
                None
            }
        };
        let short = |c: &mut Cells, key: &str| c.text(key, ShortText::parse).map(ShortText::into_string);
        let long = |c: &mut Cells, key: &str| c.text(key, LongText::parse).map(LongText::into_string);
        let short_name = short(&mut c, "short_name");
        let uscc = c.text("uscc", Uscc::parse).map(|u| u.as_str().to_owned());
        let mut phones: Vec<Phone> = Vec::new();
        for p in c.list("phones") {
            if let Some(p) = c.take("phones", Phone::parse("phones", p)) {
                if !phones.iter().any(|q| q.number() == p.number() && q.extension() == p.extension()) {
                    phones.push(p);
                }
            }
        }
        if phones.len() > MAX_ITEMS {
            c.problem("phones", "too_many", format!("{} phones; an account keeps at most {MAX_ITEMS}", phones.len()));
        }
        let mut region_code = c.text("region_code", guanxi_domain::parse_division_code);
        if region_code.is_none() {
            if let Some(place) = c.get("region") {
                region_code = self.region_named(place);
                if region_code.is_none() {
                    c.problem("region", "unknown_region", format!("{place:?} names no province, city or district"));
                }
            }
        }
        let address = long(&mut c, "address");
        let website = long(&mut c, "website");
        let industry = short(&mut c, "industry");
        let source = c.word("source", AccountSource::read, AccountSource::ALL, AccountSource::label_zh);
        let referrer = short(&mut c, "referrer");
        let classification =
            c.word("classification", Classification::read, Classification::ALL, Classification::label_zh);
        let key_account = c.flag("key_account");
        let relationship_stage =
            c.word("relationship_stage", RelationshipStage::read, RelationshipStage::ALL, RelationshipStage::label_zh);
        let mut tags = Vec::new();
        for t in c.list("tags") {
            if let Some(t) = c.take("tags", ShortText::parse("tags", t)) {
                tags.push(t.into_string());
            }
        }
        if tags.len() > MAX_ITEMS {
            c.problem("tags", "too_many", format!("{} tags; an account keeps at most {MAX_ITEMS}", tags.len()));
        }
        let notes = match c.joined("notes") {
            Some(n) => c.take("notes", Notes::parse("notes", &n)).map(Notes::into_string),
            None => None,
        };
        let (owner_id, mut team_id, owner_given) = self.owner(&mut c);
        if let Some(t) = c.get("team") {
            match self.teams.get(t) {
                Some(id) if self.who.may_assign => team_id = Some(*id),
                Some(_) => {}
                None => c.problem("team", "unknown_team", format!("no team is called {t:?}")),
            }
        }
        let problems = std::mem::take(&mut c.problems);
        let external = match (c.get("external_id"), id) {
            (Some(x), _) => format!("x:{x}"),
            (None, Some(id)) => format!("g:{id}"),
            (None, None) => cells::row_hash(&row.cells),
        };
        let Some(name) = name.filter(|_| problems.is_empty()) else {
            return Err((problems, row));
        };
        let fields = AccountFields {
            short_name,
            uscc,
            industry,
            region_code,
            address,
            website,
            referrer,
            classification,
            key_account,
            relationship_stage,
            owner_id,
            team_id,
            notes,
            phones,
            tags,
            ..AccountFields::new(&name, source.unwrap_or(AccountSource::Other))
        };
        let key = dedupe::company_key(&fields.name);
        Ok(Parsed { row, external, id, fields, key, present, owner_given })
    }
}

impl Parser {
    fn region_named(&self, place: &str) -> Option<String> {
        let mut known = self.regions.borrow_mut();
        known.entry(place.to_owned()).or_insert_with(|| guanxi_domain::division_by_names(place)).clone()
    }

    /// The owner a row names (by e-mail or name) and their team; a
    /// salesperson's rows are theirs whatever the column says.
    fn owner(&self, c: &mut Cells) -> (Option<UserId>, Option<TeamId>, bool) {
        let mine = self.mine;
        let Some(v) = c.get("owner") else {
            return match (self.who.may_assign, mine) {
                (false, Some((u, t))) => (Some(u), t, false),
                _ => (None, None, false),
            };
        };
        let found = self.people.get(&v.to_lowercase()).or_else(|| self.people.get(v)).copied();
        match found {
            None => {
                c.problem(
                    "owner",
                    "unknown_owner",
                    format!("nobody active in this workspace is {v:?} (give an e-mail or a name)"),
                );
                (None, None, true)
            }
            Some((u, t)) if self.who.may_assign || Some(u) == self.who.user_id => (Some(u), t, true),
            Some(_) => {
                c.problem("owner", "not_allowed", "only managers and admins may import accounts for someone else");
                (None, None, true)
            }
        }
    }
}

impl<'a> Importer<'a> {
    pub async fn new(ctx: Ctx<'a>, plan: &super::Plan) -> Result<(Importer<'a>, Parser), ImportError> {
        let Ctx { db, who, import, opts, write, now } = ctx;
        let ws = who.actor.workspace_id;
        let pool = guanxi_store::pool::default_of(Conn::Db(db), ws).await?;
        let mut people = HashMap::new();
        for (id, email, name, team) in guanxi_store::users::directory(db, ws).await? {
            people.insert(email.to_lowercase(), (id, team));
            people.entry(name).or_insert((id, team));
        }
        let teams = guanxi_store::teams::directory(db, ws).await?.into_iter().map(|(id, n)| (n, id)).collect();
        let mine = who.user_id.and_then(|u| people.values().find(|(id, _)| *id == u).copied());
        let own = Own::default();
        let lookup = || Lookup {
            ws,
            viewer: who.viewer,
            update_existing: opts.update_existing,
            cities: HashMap::new(),
            own: own.clone(),
        };
        // Beside the writing, a batch's lookups see only what has been
        // committed (this import's own records are told apart, see `Own`).
        let beside = looks_up_beside(opts).then(|| Beside {
            lookup: RefCell::new(lookup()),
            db: db.with_own_reader(LOOKUP_CACHE_MIB),
            rt: tokio::runtime::Handle::current(),
        });
        let parser = Parser {
            mapping: plan.mapping.clone(),
            headers: plan.headers.clone(),
            who: who.clone(),
            people,
            teams,
            mine,
            regions: RefCell::default(),
            beside,
        };
        let importer = Importer {
            db,
            who,
            import,
            opts,
            write,
            now,
            pool,
            owned: HashMap::new(),
            seen: Vec::new(),
            index: HashMap::new(),
            links: Vec::new(),
            externals: HashSet::new(),
            matched: HashSet::new(),
            lookup: lookup(),
            own,
        };
        Ok((importer, parser))
    }
    fn index_keys(key: &NameKey, uscc: Option<&str>, phones: &[String]) -> Vec<u64> {
        let mut out = vec![cells::key_hash(b'k', &key.core)];
        if !key.pinyin.is_empty() {
            out.push(cells::key_hash(b'p', &key.pinyin));
        }
        if let Some(u) = uscc {
            out.push(cells::key_hash(b'u', u));
        }
        out.extend(phones.iter().map(|p| cells::key_hash(b't', p)));
        out
    }

    fn remember(&mut self, p: &Parsed, id: AccountId) {
        let at = self.seen.len() as u32;
        let phones: Vec<String> = p.fields.phones.iter().map(|x| x.number().to_owned()).collect();
        for k in Self::index_keys(&p.key, p.fields.uscc.as_deref(), &phones) {
            let before = self.index.insert(k, self.links.len() as u32).unwrap_or(NO_LINK);
            self.links.push((at, before));
        }
        self.seen.push(Seen {
            id,
            name: p.fields.name.clone().into(),
            uscc: p.fields.uscc.clone().map(Into::into),
            line: p.row.line,
            written: false,
            dead: false,
        });
    }

    /// The earlier row of the file that is most surely the same organisation, by 查重.
    fn same_in_file(&self, p: &Parsed) -> Option<usize> {
        let phones: Vec<String> = p.fields.phones.iter().map(|x| x.number().to_owned()).collect();
        // Earlier records sharing a key, with the phones they share.
        let mut found: Vec<(u32, Vec<String>)> = Vec::new();
        for k in Self::index_keys(&p.key, p.fields.uscc.as_deref(), &phones) {
            let phone = phones.iter().find(|n| cells::key_hash(b't', n) == k);
            let mut link = self.index.get(&k).copied().unwrap_or(NO_LINK);
            let mut walked = 0;
            while link != NO_LINK && walked < MAX_CHAIN {
                let (at, before) = self.links[link as usize];
                link = before;
                walked += 1;
                if self.seen[at as usize].dead {
                    continue;
                }
                let slot = match found.iter().position(|(a, _)| *a == at) {
                    Some(i) => i,
                    None => {
                        found.push((at, Vec::new()));
                        found.len() - 1
                    }
                };
                if let Some(n) = phone.filter(|n| !found[slot].1.contains(n)) {
                    found[slot].1.push(n.clone());
                }
            }
        }
        let mut best: Option<(u32, f32)> = None;
        for (at, shared) in found {
            let s = &self.seen[at as usize];
            let v = dedupe::compare(
                &dedupe::Record { name: &p.key, uscc: p.fields.uscc.as_deref(), phones: &phones, city: None },
                &dedupe::Record {
                    name: &dedupe::company_key(&s.name),
                    uscc: s.uscc.as_deref(),
                    phones: &shared,
                    city: None,
                },
            );
            if let Verdict::Same { score, .. } = v {
                // The best; of equals, the first in the file.
                if best.is_none_or(|(b, best)| score > best || (score == best && at < b)) {
                    best = Some((at, score));
                }
            }
        }
        best.map(|(at, _)| at as usize)
    }

    fn existing_index(candidates: &[Candidate]) -> HashMap<u64, Vec<usize>> {
        let mut by: HashMap<u64, Vec<usize>> = HashMap::new();
        for (i, Candidate { e, .. }) in candidates.iter().enumerate() {
            let mut ks = vec![cells::key_hash(b'k', &e.key.core), cells::key_hash(b'p', &e.key.pinyin)];
            ks.extend(e.uscc.as_deref().map(|u| cells::key_hash(b'u', u)));
            ks.extend(e.phones.iter().map(|n| cells::key_hash(b't', n)));
            for k in ks {
                by.entry(k).or_default().push(i);
            }
        }
        by
    }

    fn same_in_database<'e>(
        &self,
        p: &Parsed,
        candidates: &'e [Candidate],
        by: &HashMap<u64, Vec<usize>>,
    ) -> Match<'e> {
        let phones: Vec<String> = p.fields.phones.iter().map(|x| x.number().to_owned()).collect();
        let mut best: Match<'e> = Match::Nothing;
        let mut best_score = 0.0f32;
        let mut tried: Vec<usize> = Vec::new();
        for k in Self::index_keys(&p.key, p.fields.uscc.as_deref(), &phones) {
            for &i in by.get(&k).map(Vec::as_slice).unwrap_or(&[]) {
                if tried.contains(&i) {
                    continue;
                }
                tried.push(i);
                let Candidate { e, city } = &candidates[i];
                let v = dedupe::compare(
                    &dedupe::Record { name: &p.key, uscc: p.fields.uscc.as_deref(), phones: &phones, city: None },
                    &dedupe::Record { name: &e.key, uscc: e.uscc.as_deref(), phones: &e.phones, city: *city },
                );
                match v {
                    Verdict::Same { score, .. } if !matches!(best, Match::Same(_)) || score > best_score => {
                        best = Match::Same(e);
                        best_score = score;
                    }
                    Verdict::Possible { score, .. }
                        if matches!(best, Match::Nothing)
                            || (matches!(best, Match::Possible(_)) && score > best_score) =>
                    {
                        best = Match::Possible(e);
                        best_score = score;
                    }
                    _ => {}
                }
            }
        }
        best
    }

    /// Why an update may not move an account from `before` to `after` as
    /// its owner (the pool's limit), counting the move when it may.
    async fn takes_over(
        &mut self,
        before: Option<UserId>,
        after: Option<UserId>,
    ) -> Result<Option<String>, ImportError> {
        let Some(owner) = after.filter(|o| Some(*o) != before) else { return Ok(None) };
        let count = match self.owned.get(&owner) {
            Some(n) => *n,
            None => accounts::owned_count(self.db, self.who.actor.workspace_id, self.pool.id, owner).await?,
        };
        if let Some(limit) = self.pool.rules.max_owned.filter(|l| count >= *l) {
            return Ok(Some(format!("the owner already holds {count} accounts, the most the pool allows ({limit})")));
        }
        self.owned.insert(owner, count + 1);
        if let Some(n) = before.and_then(|b| self.owned.get_mut(&b)) {
            *n -= 1;
        }
        Ok(None)
    }

    /// Checks owners' limits, then writes the batch in one transaction (or,
    /// for a dry run, only counts).
    async fn apply(
        &mut self,
        plans: Vec<Plan>,
        report: &mut Report,
        sink: &mut Sink,
        tx: &mut Option<guanxi_store::Tx>,
        terms: &mut search::Indexer,
    ) -> Result<(), ImportError> {
        let ws = self.who.actor.workspace_id;
        // Owners' limits, counted once per owner and kept up to date.
        let mut refused: HashSet<AccountId> = HashSet::new();
        let mut kept = Vec::with_capacity(plans.len());
        for plan in plans {
            match &plan {
                Plan::Create(id, p) => {
                    if let (Some(owner), Some(limit)) = (p.fields.owner_id, self.pool.rules.max_owned) {
                        let count = match self.owned.get(&owner) {
                            Some(n) => *n,
                            None => accounts::owned_count(self.db, ws, self.pool.id, owner).await?,
                        };
                        if count >= limit {
                            let message =
                                format!("the owner already holds {count} accounts, the most the pool allows ({limit})");
                            let pr = problem(&p.row, None, "limit_reached", message, Severity::Error);
                            report.fail(sink, pr, &p.row.cells)?;
                            refused.insert(*id);
                            continue;
                        }
                        self.owned.insert(owner, count + 1);
                    }
                    report.counts.created += 1;
                }
                Plan::Merged(p, id) if refused.contains(id) => {
                    report.counts.merged -= 1;
                    let message = "merged into an earlier row that could not be imported";
                    let pr = problem(&p.row, None, "merged_into_failed", message, Severity::Error);
                    report.fail(sink, pr, &p.row.cells)?;
                    continue;
                }
                Plan::Leave(..) => report.counts.unchanged += 1,
                Plan::Update(..) if !self.write => report.counts.updated += 1,
                _ => {}
            }
            kept.push(plan);
        }
        for s in self.seen.iter_mut().rev().take_while(|s| !s.written) {
            s.written = true;
            s.dead = refused.contains(&s.id);
        }
        let Some(tx) = tx.as_mut() else { return Ok(()) };
        let mut rows: Vec<(AccountId, &AccountFields, &NameKey)> = Vec::new();
        let mut audited: Vec<(AccountId, u64)> = Vec::new();
        for plan in &kept {
            if let Plan::Create(id, p) = plan {
                // Rows merged into it filled other fields, never the name: its key stands.
                rows.push((*id, &p.fields, &p.key));
                audited.push((*id, p.row.line));
            }
        }
        accounts::insert_keyed(tx, ws, &self.pool, &rows, terms, self.now).await?;
        accounts::audit_imported(tx, &self.who.actor, self.import, &audited, self.now).await?;
        // Updates first: a row whose update would give an owner more
        // accounts than the pool allows fails and gets no import key.
        let mut written = Vec::with_capacity(kept.len());
        for plan in kept {
            let (p, id, merging) = match &plan {
                Plan::Update(p, id) => (p, *id, false),
                Plan::MergeWritten(p, id) => (p, *id, true),
                _ => {
                    written.push(plan);
                    continue;
                }
            };
            let before = accounts::fields_in_tx(tx, ws, id).await?;
            let after = if merging {
                let mut a = before.clone();
                fill(&mut a, &p.fields);
                a
            } else {
                overlay(&before, p)
            };
            if after == before {
                if !merging {
                    report.counts.unchanged += 1;
                }
            } else if let Some(message) = self.takes_over(before.owner_id, after.owner_id).await? {
                if merging {
                    report.counts.merged -= 1;
                }
                report.fail(sink, problem(&p.row, None, "limit_reached", message, Severity::Error), &p.row.cells)?;
                continue;
            } else {
                accounts::update(tx, &self.who.actor, id, &after, self.now).await?;
                if !merging {
                    report.counts.updated += 1;
                }
            }
            written.push(plan);
        }
        let mut keys = Keys::new(ws, "accounts", self.import);
        for plan in &written {
            let (p, id, created) = plan.key();
            keys.push(tx, &p.external, id.uuid(), created).await?;
        }
        keys.flush(tx).await?;
        Ok(())
    }
}

impl super::Importer for Importer<'_> {
    type Parsed = Parsed;
    type Found = Found;

    #[allow(clippy::too_many_arguments)]
    async fn batch(
        &mut self,
        _mapping: &Mapping,
        _headers: &[String],
        rows: super::Rows<Parsed, Found>,
        report: &mut Report,
        sink: &mut Sink,
        tx: &mut Option<guanxi_store::Tx>,
        terms: &mut search::Indexer,
    ) -> Result<(), ImportError> {
        let started = std::time::Instant::now();
        let first = self.seen.len();
        let super::Rows { parsed, found } = rows;
        let found = match found {
            Some(found) => found,
            // Looked up in the transaction that will write the batch: on SQLite the
            // writer's large page cache holds the very indexes 查重 probes.
            None => {
                let refs: Vec<&Parsed> = parsed.iter().collect();
                self.lookup.run(&mut super::conn(self.db, tx), &refs).await?
            }
        };
        let Found { known, live, candidates, visible } = found;
        let by_key = Self::existing_index(&candidates);

        let mut plans: Vec<Plan> = Vec::with_capacity(parsed.len());
        // Records this batch creates: id → index in `plans`.
        let mut creating: HashMap<AccountId, usize> = HashMap::new();
        for p in parsed {
            let ext = cells::key_hash(b'x', &p.external);
            if !self.externals.insert(ext) {
                report.counts.unchanged += 1;
                let message = "the same row (or external id) came earlier in the file";
                report.note(problem(&p.row, None, "repeated_row", message, Severity::Note));
                continue;
            }
            let matched = known
                .get(&p.external)
                .map(|u| AccountId::from_uuid(*u))
                .or_else(|| p.id.filter(|id| live.contains(id)));
            if let Some(id) = matched {
                if self.opts.update_existing && !visible.contains(&id) {
                    report.warn(super::plan::not_yours(&p.row));
                    plans.push(Plan::Leave(p, id));
                    continue;
                }
                plans.push(super::plan::matched(p, id, self.opts.update_existing, &mut self.matched, report));
                continue;
            }
            if let Some(at) = self.same_in_file(&p) {
                let s = &self.seen[at];
                report.counts.merged += 1;
                let message = format!("the same organisation as line {} ({}): merged into it", s.line, s.name);
                report.note(problem(&p.row, None, "duplicate_in_file", message, Severity::Note));
                let id = s.id;
                match creating.get(&id).map(|i| &mut plans[*i]) {
                    Some(Plan::Create(_, into)) => {
                        fill(&mut into.fields, &p.fields);
                        plans.push(Plan::Merged(p, id));
                    }
                    _ => plans.push(Plan::MergeWritten(p, id)),
                }
                continue;
            }
            match self.same_in_database(&p, &candidates, &by_key) {
                Match::Same(e) => {
                    if visible.contains(&e.id) {
                        plans.push(super::plan::matched(p, e.id, self.opts.update_existing, &mut self.matched, report));
                        continue;
                    }
                    let whose = match &e.owner_name {
                        Some(o) => format!("owned by {o}"),
                        None => "in the pool (公海)".to_owned(),
                    };
                    let message = if self.opts.update_existing {
                        format!("already in Guanxi as {} ({whose}), not yours to update: left as it is", e.name)
                    } else {
                        format!("already in Guanxi as {} ({whose}): left as it is", e.name)
                    };
                    report.warn(problem(&p.row, None, "duplicate_existing", message, Severity::Warning));
                    plans.push(Plan::Leave(p, e.id));
                    continue;
                }
                Match::Possible(e) => {
                    let message =
                        format!("may be the same organisation as {} (查重): created; check, and merge if so", e.name);
                    report.warn(problem(&p.row, None, "possible_duplicate", message, Severity::Warning));
                }
                Match::Nothing => {}
            }
            let id = AccountId::new();
            self.remember(&p, id);
            creating.insert(id, plans.len());
            plans.push(Plan::Create(id, p));
        }
        // Before the transaction writing them commits, so before any lookup can see them.
        self.own
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(self.seen[first..].iter().map(|s| s.id));
        report.timings.check += started.elapsed();
        let started = std::time::Instant::now();
        let r = self.apply(plans, report, sink, tx, terms).await;
        report.timings.write += started.elapsed();
        r
    }
}

/// What 查重 found in the database for a row.
enum Match<'e> {
    Same(&'e Existing),
    Possible(&'e Existing),
    Nothing,
}

/// Fills `into`'s empty fields from `from`, joins phones and tags: what a
/// later row of the same organisation adds.
fn fill(into: &mut AccountFields, from: &AccountFields) {
    for (a, b) in [
        (&mut into.short_name, &from.short_name),
        (&mut into.uscc, &from.uscc),
        (&mut into.industry, &from.industry),
        (&mut into.region_code, &from.region_code),
        (&mut into.address, &from.address),
        (&mut into.website, &from.website),
        (&mut into.referrer, &from.referrer),
        (&mut into.notes, &from.notes),
    ] {
        fill_text(a, b);
    }
    into.classification = into.classification.or(from.classification);
    into.relationship_stage = into.relationship_stage.or(from.relationship_stage);
    into.key_account |= from.key_account;
    if into.owner_id.is_none() {
        into.owner_id = from.owner_id;
        into.team_id = into.team_id.or(from.team_id);
    }
    join_lists(into, from);
}

fn join_lists(into: &mut AccountFields, from: &AccountFields) {
    join(&mut into.phones, &from.phones, |a, b| a.number() == b.number(), MAX_ITEMS);
    join(&mut into.tags, &from.tags, |a, b| a == b, MAX_ITEMS);
}

/// The stored fields with the row's over them: what the row fills wins,
/// what it leaves empty stays; phones and tags are joined.
fn overlay(before: &AccountFields, p: &Parsed) -> AccountFields {
    let mut a = before.clone();
    let f = &p.fields;
    let has = |k: &str| p.present.contains(&k);
    if has("name") {
        a.name.clone_from(&f.name);
    }
    for (k, dst, src) in [
        ("short_name", &mut a.short_name, &f.short_name),
        ("uscc", &mut a.uscc, &f.uscc),
        ("industry", &mut a.industry, &f.industry),
        ("address", &mut a.address, &f.address),
        ("website", &mut a.website, &f.website),
        ("referrer", &mut a.referrer, &f.referrer),
        ("notes", &mut a.notes, &f.notes),
    ] {
        if has(k) {
            dst.clone_from(src);
        }
    }
    if has("region_code") || has("region") {
        a.region_code.clone_from(&f.region_code);
    }
    if has("source") {
        a.source = f.source;
    }
    if has("classification") {
        a.classification = f.classification;
    }
    if has("relationship_stage") {
        a.relationship_stage = f.relationship_stage;
    }
    if has("key_account") {
        a.key_account = f.key_account;
    }
    if p.owner_given && f.owner_id.is_some() {
        a.owner_id = f.owner_id;
        a.team_id = f.team_id;
    } else if has("team") {
        a.team_id = f.team_id;
    }
    join_lists(&mut a, f);
    a
}
