//! Contacts from rows, each linked to its account — by Guanxi id, by the
//! external id an earlier import of accounts kept, or by name with 查重 —
//! recognised by their own external id, checked for duplicates as on entry
//! (the same personal phone, e-mail or WeChat anywhere, the same name at the
//! same account), and written a batch at a time.

use super::cells::{self, Cells};
use super::links::{Link, Links};
use super::plan::{fill_text, join};
use super::report::{problem, Problem, Report, Severity, Sink};
use super::{Ctx, ImportError, Options, Who};
use crate::mapping::Mapping;
use crate::read::Row;
use chrono::{DateTime, NaiveDate, Utc};
use guanxi_domain::contact::{Birthday, WechatId};

use guanxi_domain::search::fold;
use guanxi_domain::{
    AccountId, BuyingRole, ContactId, Email, ImportId, Notes, PersonName, Phone, PhoneKind, RelationshipStrength,
    ShortText, Stance,
};

use guanxi_store::contacts::{self, ContactFields};
use guanxi_store::imports::{self, Keys};
use guanxi_store::{search, Db};
use std::collections::{HashMap, HashSet};

const MAX_ITEMS: usize = 20;

pub(crate) struct Parsed {
    row: Row,
    external: String,
    id: Option<ContactId>,
    link: Link,
    fields: ContactFields,
    present: Vec<&'static str>,
}

type Plan = super::plan::Plan<ContactId, Parsed>;

pub(crate) struct Importer<'a> {
    db: &'a Db,
    who: &'a Who,
    import: ImportId,
    opts: &'a Options,
    write: bool,
    now: DateTime<Utc>,
    /// Accounts found for a link, kept: many rows name the same account.
    links: Links,
    /// Key hash → (contact, line, name) of earlier rows.
    index: HashMap<u64, (ContactId, u64)>,
    externals: HashSet<u64>,
    /// Existing records rows of this run matched (see the accounts' importer).
    matched: HashSet<ContactId>,
}

/// Reads rows as contacts, on the reader's thread.
pub(crate) struct Parser {
    mapping: Mapping,
    headers: Vec<String>,
    /// Birthdays are read relative to it.
    today: NaiveDate,
}

impl super::Parse for Parser {
    type Parsed = Parsed;
    type Found = ();

    fn parse(&self, row: Row) -> Result<Parsed, (Vec<Problem>, Row)> {
        let mapping = &self.mapping;
        let mut c = Cells::new(mapping, &self.headers, &row);
        let mut present = Vec::new();
        for f in mapping.columns.iter().flatten() {
            if c.get(f.key).is_some() && !present.contains(&f.key) {
                present.push(f.key);
            }
        }
        let uuid = |c: &mut Cells, key: &str| {
            let v = c.get(key)?;
            match uuid::Uuid::parse_str(v) {
                Ok(u) => Some(u),
                Err(_) => {
                    c.problem(key, "invalid_id", format!("{v:?} is not a Guanxi id"));
                    None
                }
            }
        };
        let id = uuid(&mut c, "id").map(ContactId::from_uuid);
        let link = Link::of(&mut c, mapping, "contact");
        let whole = match (c.get("name"), c.get("last_name"), c.get("first_name")) {
            (Some(n), _, _) => Some(n.to_owned()),
            (None, Some(l), Some(f)) if is_cjk(l) || is_cjk(f) => Some(format!("{l}{f}")),
            (None, Some(l), Some(f)) => Some(format!("{f} {l}")),
            (None, Some(x), None) | (None, None, Some(x)) => Some(x.to_owned()),
            (None, None, None) => None,
        };
        let name = match whole {
            Some(n) => c.take("name", PersonName::parse("name", &n)).map(PersonName::into_string),
            None => {
                c.problem("name", "required", "the name is empty: every contact needs a name");
                None
            }
        };
        let short = |c: &mut Cells, key: &str| c.text(key, ShortText::parse).map(ShortText::into_string);
        let department = short(&mut c, "department");
        let title = short(&mut c, "title");
        let mut phones: Vec<Phone> = Vec::new();
        for p in c.list("phones") {
            if let Some(p) = c.take("phones", Phone::parse("phones", p)) {
                if !phones.iter().any(|q| q.number() == p.number() && q.extension() == p.extension()) {
                    phones.push(p);
                }
            }
        }
        let mut emails: Vec<String> = Vec::new();
        for e in c.list("emails") {
            if let Some(e) = c.take("emails", Email::parse("emails", e)) {
                if !emails.iter().any(|x| x == e.as_str()) {
                    emails.push(e.as_str().to_owned());
                }
            }
        }
        if phones.len() > MAX_ITEMS || emails.len() > MAX_ITEMS {
            c.problem("phones", "too_many", format!("a contact keeps at most {MAX_ITEMS} phones and e-mails"));
        }
        let wechat = c.text("wechat", WechatId::parse).map(|w| w.as_str().to_owned());
        let stance = c.word("stance", Stance::read, Stance::ALL, Stance::label_zh);
        let relationship_strength = c.word(
            "relationship_strength",
            RelationshipStrength::read,
            RelationshipStrength::ALL,
            RelationshipStrength::label_zh,
        );
        let key_person = c.flag("key_person");
        let buying_role = c.word("buying_role", BuyingRole::read, BuyingRole::ALL, BuyingRole::label_zh);
        let today = self.today;
        let birthday = match c.get("birthday") {
            Some(b) => c.take("birthday", Birthday::parse("birthday", b, today)).map(Birthday::to_iso),
            None => None,
        };
        let notes = match c.joined("notes") {
            Some(n) => c.take("notes", Notes::parse("notes", &n)).map(Notes::into_string),
            None => None,
        };
        let mut tags = Vec::new();
        for t in c.list("tags") {
            if let Some(t) = c.take("tags", ShortText::parse("tags", t)) {
                tags.push(t.into_string());
            }
        }
        let left_company = c.flag("left_company");
        let problems = std::mem::take(&mut c.problems);
        let external = match (c.get("external_id"), id) {
            (Some(x), _) => format!("x:{x}"),
            (None, Some(id)) => format!("g:{id}"),
            (None, None) => cells::row_hash(&row.cells),
        };
        let (Some(name), Some(link)) = (name, link) else {
            return Err((problems, row));
        };
        if !problems.is_empty() {
            return Err((problems, row));
        }
        let fields = ContactFields {
            account_id: AccountId::default(),
            name,
            department,
            title,
            phones,
            emails,
            wechat,
            stance,
            relationship_strength,
            key_person,
            has_money: false,
            has_authority: false,
            has_need: false,
            buying_role,
            reports_to_id: None,
            birthday,
            notes,
            left_company,
            tags,
        };
        Ok(Parsed { row, external, id, link, fields, present })
    }
}

impl<'a> Importer<'a> {
    pub fn new(ctx: Ctx<'a>, plan: &super::Plan) -> (Importer<'a>, Parser) {
        let Ctx { db, who, import, opts, write, now } = ctx;
        let parser = Parser { mapping: plan.mapping.clone(), headers: plan.headers.clone(), today: now.date_naive() };
        let importer = Importer {
            db,
            who,
            import,
            opts,
            write,
            now,
            links: Links::default(),
            index: HashMap::new(),
            externals: HashSet::new(),
            matched: HashSet::new(),
        };
        (importer, parser)
    }

    fn keys_of(f: &ContactFields) -> Vec<u64> {
        let mut out = vec![cells::key_hash(b'n', &format!("{}\u{1f}{}", f.account_id, fold(&f.name)))];
        for p in personal(&f.phones) {
            out.push(cells::key_hash(b't', p));
        }
        out.extend(f.emails.iter().map(|e| cells::key_hash(b'e', e)));
        out.extend(f.wechat.as_deref().map(|w| cells::key_hash(b'w', w)));
        out
    }

    async fn apply(
        &mut self,
        plans: Vec<Plan>,
        report: &mut Report,
        tx: &mut Option<guanxi_store::Tx>,
        terms: &mut search::Indexer,
    ) -> Result<(), ImportError> {
        let ws = self.who.actor.workspace_id;
        for plan in &plans {
            match plan {
                Plan::Create(..) => report.counts.created += 1,
                Plan::Leave(..) => report.counts.unchanged += 1,
                Plan::Update(..) if !self.write => report.counts.updated += 1,
                _ => {}
            }
        }
        let Some(tx) = tx.as_mut() else { return Ok(()) };
        let mut rows = Vec::new();
        let mut audited = Vec::new();
        for plan in &plans {
            if let Plan::Create(id, p) = plan {
                rows.push((*id, p.fields.clone()));
                audited.push((*id, p.row.line));
            }
        }
        contacts::insert_many(tx, ws, &rows, terms, self.now).await?;
        contacts::audit_imported(tx, &self.who.actor, self.import, &audited, self.now).await?;
        let mut keys = Keys::new(ws, "contacts", self.import);
        for plan in &plans {
            let (p, id, created) = plan.key();
            keys.push(tx, &p.external, id.uuid(), created).await?;
        }
        keys.flush(tx).await?;
        for plan in plans {
            match plan {
                Plan::Update(p, id) => {
                    let before = contacts::fields_in_tx(tx, ws, id).await?;
                    let after = overlay(&before, &p);
                    if after != before {
                        contacts::update(tx, &self.who.actor, id, &after, self.now).await?;
                        report.counts.updated += 1;
                    } else {
                        report.counts.unchanged += 1;
                    }
                }
                Plan::MergeWritten(p, id) => {
                    let before = contacts::fields_in_tx(tx, ws, id).await?;
                    let mut after = before.clone();
                    fill(&mut after, &p.fields);
                    if after != before {
                        contacts::update(tx, &self.who.actor, id, &after, self.now).await?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl super::Importer for Importer<'_> {
    type Parsed = Parsed;
    type Found = ();

    #[allow(clippy::too_many_arguments)]
    async fn batch(
        &mut self,
        mapping: &Mapping,
        headers: &[String],
        rows: super::Rows<Parsed, ()>,
        report: &mut Report,
        sink: &mut Sink,
        tx: &mut Option<guanxi_store::Tx>,
        terms: &mut search::Indexer,
    ) -> Result<(), ImportError> {
        let parsed = rows.parsed;
        let ws = self.who.actor.workspace_id;
        let started = std::time::Instant::now();
        // Looked up in the transaction that will write the batch (see the accounts importer).
        let mut conn = super::conn(self.db, tx);
        self.links.resolve(&mut conn, self.who, parsed.iter().map(|p| &p.link)).await?;
        let mut linked = Vec::with_capacity(parsed.len());
        for mut p in parsed {
            match self.links.get(&p.link) {
                Ok(a) => {
                    p.fields.account_id = *a;
                    linked.push(p);
                }
                Err((code, message)) => {
                    let column = p.link.field();
                    let pr = Problem {
                        line: p.row.line,
                        row: p.row.row,
                        column: Cells::new(mapping, headers, &p.row).column(column),
                        code: code.clone(),
                        message: message.clone(),
                        severity: Severity::Error,
                    };
                    report.fail(sink, pr, &p.row.cells)?;
                }
            }
        }
        let fresh: Vec<&str> = linked
            .iter()
            .filter(|p| !self.externals.contains(&cells::key_hash(b'x', &p.external)))
            .map(|p| p.external.as_str())
            .collect();
        let known: HashMap<String, uuid::Uuid> =
            imports::lookup(&mut conn, ws, "contacts", &fresh).await?.into_iter().collect();
        let named: Vec<ContactId> = linked.iter().filter_map(|p| p.id).collect();
        let live: HashSet<ContactId> = contacts::live(&mut conn, ws, &named).await?.into_iter().collect();
        let (mut phones, mut emails, mut wechats, mut accts, mut names) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let folded: Vec<String> = linked.iter().map(|p| fold(&p.fields.name)).collect();
        let mut listed = HashSet::new();
        for (p, n) in linked.iter().zip(&folded) {
            phones.extend(personal(&p.fields.phones));
            emails.extend(p.fields.emails.iter().map(String::as_str));
            wechats.extend(p.fields.wechat.as_deref());
            if listed.insert(p.fields.account_id) {
                accts.push(p.fields.account_id);
            }
            names.push(n.as_str());
        }
        let existing = contacts::existing_matching(&mut conn, ws, &phones, &emails, &wechats, &accts, &names).await?;
        // An update touches only contacts the importer sees (the API's rule),
        // however the row found them: key, id or 查重.
        let visible: HashSet<ContactId> = if self.opts.update_existing {
            let mut ids: Vec<ContactId> = existing.iter().map(|e| e.id).collect();
            ids.extend(known.values().map(|u| ContactId::from_uuid(*u)));
            ids.extend(live.iter().copied());
            ids.sort();
            ids.dedup();
            contacts::visible(&mut conn, self.who.viewer, &ids).await?.into_iter().collect()
        } else {
            HashSet::new()
        };
        let mut by: HashMap<u64, usize> = HashMap::new();
        for (i, e) in existing.iter().enumerate() {
            by.entry(cells::key_hash(b'n', &format!("{}\u{1f}{}", e.account_id, e.name_key))).or_insert(i);
            for p in &e.phones {
                by.entry(cells::key_hash(b't', p)).or_insert(i);
            }
            for m in &e.emails {
                by.entry(cells::key_hash(b'e', m)).or_insert(i);
            }
            if let Some(w) = &e.wechat {
                by.entry(cells::key_hash(b'w', w)).or_insert(i);
            }
        }
        let mut plans: Vec<Plan> = Vec::with_capacity(linked.len());
        let mut creating: HashMap<ContactId, usize> = HashMap::new();
        for p in linked {
            if !self.externals.insert(cells::key_hash(b'x', &p.external)) {
                report.counts.unchanged += 1;
                let message = "the same row (or external id) came earlier in the file";
                report.note(problem(&p.row, None, "repeated_row", message, Severity::Note));
                continue;
            }
            let matched = known
                .get(&p.external)
                .map(|u| ContactId::from_uuid(*u))
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
            let keys = Self::keys_of(&p.fields);
            if let Some((id, line)) = keys.iter().find_map(|k| self.index.get(k).copied()) {
                report.counts.merged += 1;
                let message = format!("the same person as line {line}: merged into it");
                report.note(problem(&p.row, None, "duplicate_in_file", message, Severity::Note));
                match creating.get(&id).map(|i| &mut plans[*i]) {
                    Some(Plan::Create(_, into)) => {
                        fill(&mut into.fields, &p.fields);
                        plans.push(Plan::Merged(p, id));
                    }
                    _ => plans.push(Plan::MergeWritten(p, id)),
                }
                continue;
            }
            if let Some(e) = keys.iter().find_map(|k| by.get(k)).map(|i| &existing[*i]) {
                if self.opts.update_existing && visible.contains(&e.id) {
                    let id = e.id;
                    plans.push(super::plan::matched(p, id, self.opts.update_existing, &mut self.matched, report));
                } else {
                    let message = format!("already in Guanxi as {} at {}: left as it is", e.name, e.account_name);
                    report.warn(problem(&p.row, None, "duplicate_existing", message, Severity::Warning));
                    plans.push(Plan::Leave(p, e.id));
                }
                continue;
            }
            let id = ContactId::new();
            for k in keys {
                self.index.entry(k).or_insert((id, p.row.line));
            }
            creating.insert(id, plans.len());
            plans.push(Plan::Create(id, p));
        }
        report.timings.check += started.elapsed();
        let started = std::time::Instant::now();
        let r = self.apply(plans, report, tx, terms).await;
        report.timings.write += started.elapsed();
        r
    }
}

/// Numbers that identify a person: mobiles and extensions, not a switchboard.
fn personal(phones: &[Phone]) -> impl Iterator<Item = &str> {
    phones.iter().filter(|p| p.kind() == PhoneKind::Mobile || p.extension().is_some()).map(|p| p.number())
}

fn is_cjk(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// Fills `into`'s empty fields from `from`, joins phones, e-mails and tags:
/// what a later row of the same person adds.
fn fill(into: &mut ContactFields, from: &ContactFields) {
    for (a, b) in [
        (&mut into.department, &from.department),
        (&mut into.title, &from.title),
        (&mut into.wechat, &from.wechat),
        (&mut into.birthday, &from.birthday),
        (&mut into.notes, &from.notes),
    ] {
        fill_text(a, b);
    }
    into.stance = into.stance.or(from.stance);
    into.relationship_strength = into.relationship_strength.or(from.relationship_strength);
    into.buying_role = into.buying_role.or(from.buying_role);
    into.key_person |= from.key_person;
    join_lists(into, from);
}

fn join_lists(into: &mut ContactFields, from: &ContactFields) {
    join(&mut into.phones, &from.phones, |a, b| a.number() == b.number(), MAX_ITEMS);
    join(&mut into.emails, &from.emails, |a, b| a == b, MAX_ITEMS);
    join(&mut into.tags, &from.tags, |a, b| a == b, MAX_ITEMS);
}

/// The stored fields with the row's over them (see the accounts' `overlay`).
fn overlay(before: &ContactFields, p: &Parsed) -> ContactFields {
    let mut a = before.clone();
    let f = &p.fields;
    let has = |k: &str| p.present.contains(&k);
    if has("name") || has("last_name") || has("first_name") {
        a.name.clone_from(&f.name);
    }
    for (k, dst, src) in [
        ("department", &mut a.department, &f.department),
        ("title", &mut a.title, &f.title),
        ("wechat", &mut a.wechat, &f.wechat),
        ("birthday", &mut a.birthday, &f.birthday),
        ("notes", &mut a.notes, &f.notes),
    ] {
        if has(k) {
            dst.clone_from(src);
        }
    }
    if has("stance") {
        a.stance = f.stance;
    }
    if has("relationship_strength") {
        a.relationship_strength = f.relationship_strength;
    }
    if has("buying_role") {
        a.buying_role = f.buying_role;
    }
    if has("key_person") {
        a.key_person = f.key_person;
    }
    if has("left_company") {
        a.left_company = f.left_company;
    }
    join_lists(&mut a, f);
    a
}
