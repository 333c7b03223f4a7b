//! Opportunities (商机) from rows: a team's deals from its spreadsheets or
//! its old CRM. Each row links to its account as contacts do, names the
//! people on the deal (found by name at that account; a name not found is a
//! warning), its owner (an e-mail or a name; by default the account's), the
//! stage (Chinese procurement stages, or another CRM's stage names read onto
//! the path) and the stage we came in at (by default the stage). A row is
//! the record an earlier import made of it (its external id), the record
//! it names by Guanxi id (Guanxi's export), or a live deal of the same name
//! at the same account: left as it is, or updated with `update_existing`.
//! Imported deals restart none of the account's idle clocks.

use super::cells::{self, Cells};
use super::links::{Link, Links};
use super::report::{problem, Problem, Report, Severity, Sink};
use super::{Ctx, ImportError, Who};
use crate::mapping::Mapping;
use crate::read::Row;
use chrono::{DateTime, NaiveDate, Utc};
use guanxi_domain::opportunity::{parse_amount, settle};
use guanxi_domain::search::fold;
use guanxi_domain::{
    AccountId, AccountSource, ContactId, FieldError, ImportId, Notes, OpportunityId, OpportunityName,
    OpportunityStatus, ShortText, Stage, UserId,
};
use guanxi_store::imports::{self, Keys};
use guanxi_store::opportunities::{self, Opportunity, OpportunityFields};
use guanxi_store::{accounts, contacts, Db};
use std::collections::{HashMap, HashSet};

/// The deal an external id names when it is a Guanxi id (`x:` and a UUID).
fn own_id(external: &str) -> Option<OpportunityId> {
    let id = external.strip_prefix("x:")?;
    uuid::Uuid::parse_str(id).ok().map(OpportunityId::from_uuid)
}

/// A stage as written: the procurement path's names (立项, 可研勘察…), or
/// the sales stages of other CRMs, read onto the path: early qualification
/// at 立项, needs and value at 可研, a proposal at 厂家征询, negotiation at
/// 招标, closed won at 中标 (won), closed lost lost (at 招标: the stage
/// such exports lose). The status it implies comes with it.
pub(crate) fn read_stage(v: &str) -> Option<(Stage, Option<OpportunityStatus>)> {
    if let Some(s) = Stage::read_loose(v) {
        return Some((s, None));
    }
    let key: String = v.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_lowercase();
    let found = match key.as_str() {
        "prospecting" | "qualification" | "appointmentscheduled" | "new" | "lead" => (Stage::Initiation, None),
        "needsanalysis"
        | "valueproposition"
        | "iddecisionmakers"
        | "perceptionanalysis"
        | "qualifiedtobuy"
        | "presentationscheduled"
        | "decisionmakerboughtin"
        | "qualified" => (Stage::Feasibility, None),
        "proposalpricequote" | "proposal" | "proposition" | "proposalmade" => (Stage::VendorConsultation, None),
        "negotiationreview" | "negotiation" | "contractsent" => (Stage::Tender, None),
        "closedwon" | "won" => (Stage::Award, Some(OpportunityStatus::Won)),
        "closedlost" | "lost" => (Stage::Tender, Some(OpportunityStatus::Lost)),
        _ => return None,
    };
    Some(found)
}

fn read_status(v: &str) -> Option<OpportunityStatus> {
    OpportunityStatus::read(v).or_else(|| read_stage(v).and_then(|(_, st)| st))
}

/// A close date as written: `2027-06-30`, `2027/6/30`, `6/30/2027` (US
/// exports), or the date of an ISO 8601 time.
pub(crate) fn date(v: &str) -> Option<NaiveDate> {
    let v = v.trim();
    let head = v.get(..10).filter(|h| v.len() > 10 && h.chars().nth(4) == Some('-')).unwrap_or(v);
    ["%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%Y.%m.%d", "%Y年%m月%d日"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(head, f).ok())
}

pub(crate) struct Parsed {
    row: Row,
    external: String,
    link: Link,
    name: String,
    stage: Option<Stage>,
    first: Option<Stage>,
    status: Option<OpportunityStatus>,
    amount_fen: Option<i64>,
    expected_close_on: Option<NaiveDate>,
    owner: Option<UserId>,
    source: Option<AccountSource>,
    competitors: Option<String>,
    lost_reason: Option<String>,
    notes: Option<String>,
    people: Vec<String>,
    stage_note: Option<String>,
}

/// Reads rows as opportunities, on the reader's thread.
pub(crate) struct Parser {
    mapping: Mapping,
    headers: Vec<String>,
    who: Who,
    /// Who an author or owner cell may name.
    users: super::Users,
}

impl super::Parse for Parser {
    type Parsed = Parsed;
    type Found = ();

    fn parse(&self, row: Row) -> Result<Parsed, (Vec<Problem>, Row)> {
        let mapping = &self.mapping;
        let mut c = Cells::new(mapping, &self.headers, &row);
        let link = Link::of(&mut c, mapping, "opportunity");
        let name = c.text("name", OpportunityName::parse).map(OpportunityName::into_string);
        if name.is_none() && c.get("name").is_none() {
            c.problem("name", "required", "the deal's name is empty");
        }
        let mut stage_note = None;
        let (stage, implied) = match c.get("stage") {
            Some(v) => match read_stage(v) {
                Some((s, st)) => {
                    if st == Some(OpportunityStatus::Lost) {
                        stage_note = Some(format!("{v:?} gives no stage: taken as 招标, where such deals are lost"));
                    }
                    (Some(s), st)
                }
                None => {
                    let known: Vec<&str> = Stage::ALL.iter().map(|s| s.label_zh()).collect();
                    c.problem(
                        "stage",
                        "unknown_value",
                        format!("{v:?} is not a stage: write one of {}", known.join("、")),
                    );
                    (None, None)
                }
            },
            None => {
                c.problem("stage", "required", "the stage is empty: where the project is (立项, 可研, 招标…)");
                (None, None)
            }
        };
        let first = match c.get("first_contact_stage") {
            Some(v) => match Stage::read_loose(v) {
                Some(s) => Some(s),
                None => {
                    c.problem("first_contact_stage", "unknown_value", format!("{v:?} is not a stage"));
                    None
                }
            },
            None => None,
        };
        let status = match c.get("status") {
            Some(v) => match read_status(v) {
                Some(s) => Some(s),
                None => {
                    c.problem("status", "unknown_value", format!("{v:?} is not a status: write 进行中, 赢单 or 输单"));
                    None
                }
            },
            None => implied,
        };
        let amount_fen = c.get("amount").and_then(|v| {
            let v = v.to_owned();
            c.take("amount", parse_amount("amount", &v))
        });
        let expected_close_on = c.get("expected_close_on").and_then(|v| {
            let d = date(v);
            if d.is_none() {
                c.problem("expected_close_on", "invalid_date", format!("{v:?} is not a date such as 2027-06-30"));
            }
            d
        });
        let owner = self.users.read(&mut c, "owner", &self.who, "deals");
        // Other CRMs' lead sources rarely match ours: an unknown one is left out, not an error.
        let source = c.get("source").and_then(AccountSource::read);
        let short = |field: &str, v: &str| ShortText::parse(field, v).map(ShortText::into_string);
        let competitors =
            c.get("competitors").map(str::to_owned).and_then(|v| c.take("competitors", short("competitors", &v)));
        let lost_reason =
            c.get("lost_reason").map(str::to_owned).and_then(|v| c.take("lost_reason", short("lost_reason", &v)));
        let notes = match c.joined("notes") {
            Some(n) => c.take("notes", Notes::parse("notes", &n)).map(Notes::into_string),
            None => None,
        };
        let people: Vec<String> = c.list("contact_names").into_iter().map(str::to_owned).collect();
        let problems = std::mem::take(&mut c.problems);
        let external = match c.get("external_id") {
            Some(x) => format!("x:{x}"),
            None => cells::row_hash(&row.cells),
        };
        let (Some(link), Some(name)) = (link, name) else {
            return Err((problems, row));
        };
        if !problems.is_empty() || stage.is_none() {
            return Err((problems, row));
        }
        Ok(Parsed {
            row,
            external,
            link,
            name,
            stage,
            first,
            status,
            amount_fen,
            expected_close_on,
            owner,
            source,
            competitors,
            lost_reason,
            notes,
            people,
            stage_note,
        })
    }
}

pub(crate) struct Importer<'a> {
    db: &'a Db,
    who: &'a Who,
    import: ImportId,
    now: DateTime<Utc>,
    update_existing: bool,
    links: Links,
    /// Rows already seen in this file: external ids, and (account, folded name).
    externals: HashSet<u64>,
    names: HashSet<(AccountId, String)>,
}

impl<'a> Importer<'a> {
    pub async fn new(ctx: Ctx<'a>, plan: &super::Plan) -> Result<(Importer<'a>, Parser), ImportError> {
        let Ctx { db, who, import, now, opts, .. } = ctx;
        let users = super::Users::load(db, who.actor.workspace_id).await?;
        let parser = Parser { mapping: plan.mapping.clone(), headers: plan.headers.clone(), who: who.clone(), users };
        let importer = Importer {
            db,
            who,
            import,
            now,
            update_existing: opts.update_existing,
            links: Links::default(),
            externals: HashSet::new(),
            names: HashSet::new(),
        };
        Ok((importer, parser))
    }
}

/// The row's fields over an existing deal's (an update), or alone (a new one).
fn fields_of(
    p: &Parsed,
    account: AccountId,
    people: Vec<ContactId>,
    cur: Option<&Opportunity>,
) -> Result<OpportunityFields, FieldError> {
    let base = cur.map(OpportunityFields::of);
    let stage = p.stage.or(base.as_ref().map(|b| b.stage)).unwrap_or(Stage::Initiation);
    let first = p.first.or(base.as_ref().map(|b| b.first_contact_stage)).unwrap_or(stage);
    if first > stage {
        return Err(FieldError::new(
            "first_contact_stage",
            "after_stage",
            format!("the stage we came in at ({}) is after the stage ({})", first.label_zh(), stage.label_zh()),
        ));
    }
    let status = settle(stage, p.status)?;
    let lost_reason = match status {
        OpportunityStatus::Lost => Some(
            p.lost_reason
                .clone()
                .or(base.as_ref().and_then(|b| b.lost_reason.clone()))
                .unwrap_or_else(|| "导入时原系统记为输单".to_owned()),
        ),
        _ => None,
    };
    let or = |new: &Option<String>, old: Option<String>| new.clone().or(old);
    Ok(OpportunityFields {
        account_id: account,
        name: p.name.clone(),
        stage,
        status,
        first_contact_stage: first,
        amount_fen: p.amount_fen.or(base.as_ref().and_then(|b| b.amount_fen)),
        expected_close_on: p.expected_close_on.or(base.as_ref().and_then(|b| b.expected_close_on)),
        owner_id: p.owner.or(base.as_ref().and_then(|b| b.owner_id)),
        source: p.source.or(base.as_ref().and_then(|b| b.source)),
        competitors: or(&p.competitors, base.as_ref().and_then(|b| b.competitors.clone())),
        lost_reason,
        notes: or(&p.notes, base.as_ref().and_then(|b| b.notes.clone())),
        contact_ids: if people.is_empty() { base.map(|b| b.contact_ids).unwrap_or_default() } else { people },
    })
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
        _terms: &mut guanxi_store::search::Indexer,
    ) -> Result<(), ImportError> {
        let ws = self.who.actor.workspace_id;
        let started = std::time::Instant::now();
        let column = |p: &Parsed, key: &str| Cells::new(mapping, headers, &p.row).column(key);
        self.links.resolve(&mut super::conn(self.db, tx), self.who, rows.parsed.iter().map(|p| &p.link)).await?;
        let mut linked: Vec<(Parsed, AccountId)> = Vec::with_capacity(rows.parsed.len());
        for p in rows.parsed {
            match self.links.get(&p.link) {
                Ok(a) => {
                    let a = *a;
                    linked.push((p, a));
                }
                Err((code, message)) => {
                    let pr = problem(&p.row, column(&p, p.link.field()), code, message.clone(), Severity::Error);
                    report.fail(sink, pr, &p.row.cells)?;
                }
            }
        }
        let fresh: Vec<&str> = linked.iter().map(|(p, _)| p.external.as_str()).collect();
        let known: HashMap<String, OpportunityId> =
            imports::lookup(&mut super::conn(self.db, tx), ws, "opportunities", &fresh)
                .await?
                .into_iter()
                .map(|(x, id)| (x, OpportunityId::from_uuid(id)))
                .collect();
        let mut accts: Vec<AccountId> = linked.iter().map(|(_, a)| *a).collect();
        accts.sort();
        accts.dedup();
        let named: Vec<OpportunityId> = fresh.iter().filter_map(|e| own_id(e)).collect();
        let existing = opportunities::existing_of(&mut super::conn(self.db, tx), ws, &accts, &named).await?;
        let by_id: HashMap<OpportunityId, &Opportunity> = existing.iter().map(|o| (o.id, o)).collect();
        // A deal a row names by id may sit at an account the importer does not
        // see: never theirs to update (the API's rule).
        let mut at: Vec<AccountId> = existing.iter().map(|o| o.account_id).collect();
        at.sort();
        at.dedup();
        let seen: HashSet<AccountId> =
            accounts::visible(&mut super::conn(self.db, tx), self.who.viewer, &at).await?.into_iter().collect();
        let by_name: HashMap<(AccountId, String), &Opportunity> =
            existing.iter().map(|o| ((o.account_id, fold(&o.name)), o)).collect();
        let owners: HashMap<_, _> = accounts::owners(self.db, ws, &accts).await?.into_iter().collect();
        let folded: Vec<String> = linked.iter().flat_map(|(p, _)| p.people.iter().map(|n| fold(n))).collect();
        let names: Vec<&str> = folded.iter().map(String::as_str).collect();
        let found_people =
            contacts::existing_matching(&mut super::conn(self.db, tx), ws, &[], &[], &[], &accts, &names).await?;
        let person: HashMap<(AccountId, &str), ContactId> =
            found_people.iter().map(|e| ((e.account_id, e.name_key.as_str()), e.id)).collect();

        enum Write {
            Create(OpportunityFields, UserId),
            Update(OpportunityId, OpportunityFields),
            Leave(OpportunityId),
        }
        let mut plans: Vec<(Parsed, Write)> = Vec::with_capacity(linked.len());
        for (p, account) in linked {
            let name_key = (account, fold(&p.name));
            let repeat =
                !self.externals.insert(cells::key_hash(b'x', &p.external)) || !self.names.insert(name_key.clone());
            if repeat {
                let pr = problem(
                    &p.row,
                    column(&p, "name"),
                    "duplicate_in_file",
                    "an earlier row of the file is this deal: its values stand",
                    Severity::Note,
                );
                report.note(pr);
                report.counts.merged += 1;
                continue;
            }
            let matched = known
                .get(&p.external)
                .copied()
                .or_else(|| own_id(&p.external).filter(|id| by_id.contains_key(id)))
                .and_then(|id| by_id.get(&id).copied())
                .or_else(|| by_name.get(&name_key).copied());
            let mut people = Vec::new();
            for n in &p.people {
                match person.get(&(account, fold(n).as_str())) {
                    Some(id) => people.push(*id),
                    None => {
                        let message =
                            format!("no contact of this account is called {n:?}: the deal is imported without them");
                        report.warn(problem(
                            &p.row,
                            column(&p, "contact_names"),
                            "contact_not_found",
                            message,
                            Severity::Warning,
                        ));
                    }
                }
            }
            if let Some(cur) = matched {
                if !seen.contains(&cur.account_id) {
                    report.warn(super::plan::not_yours(&p.row));
                    report.counts.unchanged += 1;
                    plans.push((p, Write::Leave(cur.id)));
                    continue;
                }
                if !self.update_existing {
                    report.counts.unchanged += 1;
                    plans.push((p, Write::Leave(cur.id)));
                    continue;
                }
            }
            let fields = match fields_of(&p, account, people, matched) {
                Ok(f) => f,
                Err(e) => {
                    let pr = problem(&p.row, column(&p, &e.field), &e.code, e.message, Severity::Error);
                    report.fail(sink, pr, &p.row.cells)?;
                    continue;
                }
            };
            if let Some(note) = &p.stage_note {
                report.note(problem(&p.row, column(&p, "stage"), "stage_assumed", note.clone(), Severity::Note));
            }
            match matched {
                Some(cur) => {
                    report.counts.updated += 1;
                    plans.push((p, Write::Update(cur.id, fields)));
                }
                None => {
                    let by = self.who.user_id.or(fields.owner_id).or(owners.get(&account).copied().flatten());
                    let Some(by) = by else {
                        let message = "the account has no owner: name who works the deal in an owner column";
                        report.fail(
                            sink,
                            problem(&p.row, column(&p, "owner"), "owner_required", message, Severity::Error),
                            &p.row.cells,
                        )?;
                        continue;
                    };
                    report.counts.created += 1;
                    plans.push((p, Write::Create(fields, by)));
                }
            }
        }
        report.timings.check += started.elapsed();
        let started = std::time::Instant::now();
        if let Some(tx) = tx.as_mut().filter(|_| !plans.is_empty()) {
            let mut keys = Keys::new(ws, "opportunities", self.import);
            for (p, w) in &plans {
                let (id, created) = match w {
                    Write::Create(f, by) => {
                        (opportunities::create_imported(tx, &self.who.actor, *by, f, self.now).await?.id, true)
                    }
                    Write::Update(id, f) => {
                        opportunities::update_imported(tx, &self.who.actor, *id, f, self.now).await?;
                        (*id, false)
                    }
                    Write::Leave(id) => (*id, false),
                };
                // A row an earlier run keyed keeps its key: which import created the deal stays known (undo).
                if !known.contains_key(&p.external) {
                    keys.push(tx, &p.external, id.uuid(), created).await?;
                }
            }
            keys.flush(tx).await?;
        }
        report.timings.write += started.elapsed();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_of_other_crms_land_on_the_path() {
        assert_eq!(read_stage("可研勘察"), Some((Stage::Feasibility, None)));
        assert_eq!(read_stage("Prospecting"), Some((Stage::Initiation, None)));
        assert_eq!(read_stage("Proposal/Price Quote"), Some((Stage::VendorConsultation, None)));
        assert_eq!(read_stage("Closed Won"), Some((Stage::Award, Some(OpportunityStatus::Won))));
        assert_eq!(read_stage("closedlost"), Some((Stage::Tender, Some(OpportunityStatus::Lost))));
        assert_eq!(read_stage("谈判中"), None);
        assert_eq!(read_status("赢单"), Some(OpportunityStatus::Won));
        assert_eq!(read_status("Closed Lost"), Some(OpportunityStatus::Lost));
    }

    #[test]
    fn close_dates_as_exports_write_them() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day);
        assert_eq!(date("2027-06-30"), d(2027, 6, 30));
        assert_eq!(date("2027/6/30"), d(2027, 6, 30));
        assert_eq!(date("6/30/2027"), d(2027, 6, 30));
        assert_eq!(date("2027-06-30T00:00:00Z"), d(2027, 6, 30));
        assert_eq!(date("2027年6月30日"), d(2027, 6, 30));
        assert_eq!(date("明年"), None);
    }
}
