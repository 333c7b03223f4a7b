//! Activities (跟进记录) from rows: the history of calls and visits a team
//! brings from its spreadsheets or its old CRM. Each row links to its
//! account as contacts do, names the person met (found by name at that
//! account; a name not found is a warning, the touch is kept), says who
//! logged it (an e-mail or a name; by default the account's owner), and may
//! leave a hook (钩子) when its time is still ahead. A row is recognised by
//! its external id (or a hash of its cells), so a file imported twice logs
//! nothing twice; an external id that is a live touch's own id (Guanxi's
//! export) is that touch. Touches are never merged or updated.

use super::cells::{self, Cells};
use super::links::{Link, Links};
use super::report::{problem, Problem, Report, Severity, Sink};
use super::{Ctx, ImportError, Who};
use crate::mapping::Mapping;
use crate::read::Row;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use guanxi_domain::search::fold;
use guanxi_domain::{ActivityId, ActivityKind, ContactId, ImportId, Notes, Outcome, ShortText, UserId};
use guanxi_store::activities::{self, NewActivity, NewHook};
use guanxi_store::imports::{self, Keys};
use guanxi_store::{accounts, contacts, Db};
use std::collections::{HashMap, HashSet};

/// The touch an external id names when it is a Guanxi id (`x:` and a UUID).
fn own_id(external: &str) -> Option<ActivityId> {
    let id = external.strip_prefix("x:")?;
    uuid::Uuid::parse_str(id).ok().map(ActivityId::from_uuid)
}

/// Dates and times without a zone are China's (UTC+8, no daylight saving).
fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"))
}

/// A touch's time as people write it: `2026-03-01 14:30`, `2026/3/1 14:30:00`,
/// ISO 8601 with or without a zone, or a date alone (taken as 09:00).
pub(crate) fn when(v: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    let v = v.trim().replace('/', "-").replace('T', " ");
    let local = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"].iter().find_map(|f| NaiveDateTime::parse_from_str(&v, f).ok());
    let local = local.or_else(|| {
        let d = NaiveDate::parse_from_str(&v, "%Y-%m-%d").ok()?;
        Some(d.and_time(NaiveTime::from_hms_opt(9, 0, 0)?))
    })?;
    china().from_local_datetime(&local).single().map(|t| t.with_timezone(&Utc))
}

pub(crate) struct Parsed {
    row: Row,
    external: String,
    link: Link,
    contact: Option<String>,
    /// The deal's name, found at the account.
    deal: Option<String>,
    author: Option<UserId>,
    activity: NewActivity,
    hook_note: Option<&'static str>,
}

pub(crate) struct Importer<'a> {
    db: &'a Db,
    who: &'a Who,
    import: ImportId,
    now: DateTime<Utc>,
    links: Links,
    externals: HashSet<u64>,
}

/// Reads rows as activities, on the reader's thread.
pub(crate) struct Parser {
    mapping: Mapping,
    headers: Vec<String>,
    who: Who,
    now: DateTime<Utc>,
    /// Who an author or owner cell may name.
    people: super::Users,
}

impl super::Parse for Parser {
    type Parsed = Parsed;
    type Found = ();

    fn parse(&self, row: Row) -> Result<Parsed, (Vec<Problem>, Row)> {
        let mapping = &self.mapping;
        let mut c = Cells::new(mapping, &self.headers, &row);
        let link = Link::of(&mut c, mapping, "activity");
        let kind = c.word("kind", ActivityKind::read, ActivityKind::ALL, ActivityKind::label_zh);
        if kind.is_none() && c.get("kind").is_none() {
            c.problem("kind", "required", "how it happened is empty: 电话, 拜访, 微信, 邮件 or 会议");
        }
        let started_at = match c.get("started_at") {
            Some(v) => match when(v) {
                Some(t) if t <= self.now => Some(t),
                Some(_) => {
                    c.problem(
                        "started_at",
                        "in_future",
                        format!("{v} is still to come: a touch is logged after it happened"),
                    );
                    None
                }
                None => {
                    c.problem("started_at", "invalid_date", format!("{v:?} is not a time such as 2026-03-01 14:30"));
                    None
                }
            },
            None => {
                c.problem("started_at", "required", "when it happened is empty");
                None
            }
        };
        let duration_minutes = c.get("duration_minutes").and_then(|v| {
            let digits = v.trim().trim_end_matches("分钟").trim_end_matches("min").trim();
            match digits.parse::<i64>() {
                Ok(n) if (0..=24 * 60).contains(&n) => Some(n),
                _ => {
                    c.problem("duration_minutes", "invalid_number", format!("{v:?} is not a number of minutes"));
                    None
                }
            }
        });
        // A spreadsheet's history rarely says what came of a touch: it happened.
        let outcome = c.word("outcome", Outcome::read, Outcome::ALL, Outcome::label_zh).unwrap_or(Outcome::Connected);
        let notes = match c.joined("notes") {
            Some(n) => c.take("notes", Notes::parse("notes", &n)).map(Notes::into_string),
            None => None,
        };
        let contact = c.get("contact_name").map(str::to_owned);
        let deal = c.get("opportunity_name").map(str::to_owned);
        let author = self.people.read(&mut c, "author", &self.who, "touches");
        let mut hook_note = None;
        let hook = match (c.get("hook"), c.get("hook_due")) {
            (Some(purpose), Some(due)) => match (ShortText::parse("hook", purpose), when(due)) {
                (Ok(p), Some(due_at)) if due_at > self.now => {
                    Some(NewHook { due_at, purpose: p.into_string(), contact_id: None })
                }
                (Ok(_), Some(_)) => {
                    hook_note = Some("the hook's time has passed: the touch is imported without it");
                    None
                }
                (Err(e), _) => {
                    c.take::<()>("hook", Err(e));
                    None
                }
                (_, None) => {
                    c.problem("hook_due", "invalid_date", format!("{due:?} is not a time such as 2026-03-01 14:30"));
                    None
                }
            },
            (Some(_), None) => {
                c.problem("hook_due", "required", "a hook needs its time: when is the next step?");
                None
            }
            (None, _) => None,
        };
        let problems = std::mem::take(&mut c.problems);
        let external = match c.get("external_id") {
            Some(x) => format!("x:{x}"),
            None => cells::row_hash(&row.cells),
        };
        let (Some(link), Some(kind), Some(started_at)) = (link, kind, started_at) else {
            return Err((problems, row));
        };
        if !problems.is_empty() {
            return Err((problems, row));
        }
        let activity = NewActivity {
            account_id: guanxi_domain::AccountId::default(),
            contacts: Vec::new(),
            kind,
            started_at,
            duration_minutes,
            outcome,
            notes,
            learned: Vec::new(),
            hook,
            no_hook_reason: None,
            fulfils: None,
            opportunity_id: None,
        };
        Ok(Parsed { row, external, link, contact, deal, author, activity, hook_note })
    }
}

impl<'a> Importer<'a> {
    pub async fn new(ctx: Ctx<'a>, plan: &super::Plan) -> Result<(Importer<'a>, Parser), ImportError> {
        let Ctx { db, who, import, now, .. } = ctx;
        let people = super::Users::load(db, who.actor.workspace_id).await?;
        let parser =
            Parser { mapping: plan.mapping.clone(), headers: plan.headers.clone(), who: who.clone(), now, people };
        Ok((Importer { db, who, import, now, links: Links::default(), externals: HashSet::new() }, parser))
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
        _terms: &mut guanxi_store::search::Indexer,
    ) -> Result<(), ImportError> {
        let parsed = rows.parsed;
        let ws = self.who.actor.workspace_id;
        let started = std::time::Instant::now();
        self.links.resolve(&mut super::conn(self.db, tx), self.who, parsed.iter().map(|p| &p.link)).await?;
        let mut linked = Vec::with_capacity(parsed.len());
        for mut p in parsed {
            match self.links.get(&p.link) {
                Ok(a) => {
                    p.activity.account_id = *a;
                    linked.push(p);
                }
                Err((code, message)) => {
                    let column = Cells::new(mapping, headers, &p.row).column(p.link.field());
                    let pr = problem(&p.row, column, code, message.clone(), Severity::Error);
                    report.fail(sink, pr, &p.row.cells)?;
                }
            }
        }
        // Rows an earlier run (or an earlier row) logged already.
        let fresh: Vec<&str> = linked
            .iter()
            .filter(|p| !self.externals.contains(&cells::key_hash(b'x', &p.external)))
            .map(|p| p.external.as_str())
            .collect();
        let known: HashSet<String> = imports::lookup(&mut super::conn(self.db, tx), ws, "activities", &fresh)
            .await?
            .into_iter()
            .map(|r| r.0)
            .collect();
        let named: Vec<ActivityId> = fresh.iter().filter_map(|e| own_id(e)).collect();
        let own: HashSet<ActivityId> = activities::live(self.db, ws, &named).await?.into_iter().collect();
        let accts: Vec<guanxi_domain::AccountId> = {
            let mut v: Vec<_> = linked.iter().map(|p| p.activity.account_id).collect();
            v.sort();
            v.dedup();
            v
        };
        let owners: HashMap<_, _> = accounts::owners(self.db, ws, &accts).await?.into_iter().collect();
        let folded: Vec<String> = linked.iter().filter_map(|p| p.contact.as_deref().map(fold)).collect();
        let names: Vec<&str> = folded.iter().map(String::as_str).collect();
        let people =
            contacts::existing_matching(&mut super::conn(self.db, tx), ws, &[], &[], &[], &accts, &names).await?;
        let person: HashMap<(guanxi_domain::AccountId, &str), ContactId> =
            people.iter().map(|e| ((e.account_id, e.name_key.as_str()), e.id)).collect();
        let deals = guanxi_store::opportunities::existing_of(&mut super::conn(self.db, tx), ws, &accts, &[]).await?;
        let deal: HashMap<(guanxi_domain::AccountId, String), guanxi_domain::OpportunityId> =
            deals.iter().map(|o| ((o.account_id, fold(&o.name)), o.id)).collect();
        let mut plans: Vec<(Parsed, UserId)> = Vec::with_capacity(linked.len());
        for mut p in linked {
            if !self.externals.insert(cells::key_hash(b'x', &p.external))
                || known.contains(&p.external)
                || own_id(&p.external).is_some_and(|id| own.contains(&id))
            {
                report.counts.unchanged += 1;
                continue;
            }
            let author = p
                .author
                .or_else(|| owners.get(&p.activity.account_id).copied().flatten())
                .filter(|u| self.who.may_assign || Some(*u) == self.who.user_id)
                .or(self.who.user_id);
            let Some(author) = author else {
                let column = Cells::new(mapping, headers, &p.row).column("author");
                let message = "the account has no owner: name who logged the touch in an author column";
                report.fail(
                    sink,
                    problem(&p.row, column, "author_required", message, Severity::Error),
                    &p.row.cells,
                )?;
                continue;
            };
            if let Some(name) = p.contact.take() {
                match person.get(&(p.activity.account_id, fold(&name).as_str())) {
                    Some(id) => p.activity.contacts.push(*id),
                    None => {
                        let column = Cells::new(mapping, headers, &p.row).column("contact_name");
                        let message = format!(
                            "no contact of this account is called {name:?}: the touch is imported without them"
                        );
                        report.warn(problem(&p.row, column, "contact_not_found", message, Severity::Warning));
                    }
                }
            }
            if let Some(name) = p.deal.take() {
                match deal.get(&(p.activity.account_id, fold(&name))) {
                    Some(id) => p.activity.opportunity_id = Some(*id),
                    None => {
                        let column = Cells::new(mapping, headers, &p.row).column("opportunity_name");
                        let message =
                            format!("no deal of this account is called {name:?}: the touch is imported without it");
                        report.warn(problem(&p.row, column, "opportunity_not_found", message, Severity::Warning));
                    }
                }
            }
            if let Some(note) = p.hook_note {
                let column = Cells::new(mapping, headers, &p.row).column("hook_due");
                report.note(problem(&p.row, column, "hook_passed", note, Severity::Note));
            }
            report.counts.created += 1;
            plans.push((p, author));
        }
        report.timings.check += started.elapsed();
        let started = std::time::Instant::now();
        if let Some(tx) = tx.as_mut().filter(|_| !plans.is_empty()) {
            let mut keys = Keys::new(ws, "activities", self.import);
            for (p, author) in &plans {
                let id = activities::log_imported(tx, &self.who.actor, *author, &p.activity, self.now).await?;
                keys.push(tx, &p.external, id.uuid(), true).await?;
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
    fn times_as_people_write_them() {
        let t = |s: &str| when(s).map(|t| t.to_rfc3339());
        assert_eq!(t("2026-03-01 14:30").as_deref(), Some("2026-03-01T06:30:00+00:00"));
        assert_eq!(t("2026/03/01 14:30:15").as_deref(), Some("2026-03-01T06:30:15+00:00"));
        assert_eq!(t("2026-03-01T14:30:00").as_deref(), Some("2026-03-01T06:30:00+00:00"));
        assert_eq!(t("2026-03-01T14:30:00Z").as_deref(), Some("2026-03-01T14:30:00+00:00"));
        assert_eq!(t("2026-03-01").as_deref(), Some("2026-03-01T01:00:00+00:00"), "a date alone is 09:00 in China");
        assert_eq!(t("下周三"), None);
        assert_eq!(t("2026-02-30"), None);
    }
}
