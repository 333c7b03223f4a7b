//! How a row names its account — by Guanxi id, by the external id an
//! earlier import kept, or by name through 查重 — and finding those
//! accounts a batch at a time, each remembered: many rows name the same
//! account. Contacts and activities link so.

use super::cells::Cells;
use super::{ImportError, Who};
use crate::mapping::Mapping;
use guanxi_domain::dedupe::{self, Verdict};
use guanxi_domain::AccountId;
use guanxi_store::accounts;
use guanxi_store::imports;
use guanxi_store::Conn;
use std::collections::{HashMap, HashSet};

/// How a row names its account.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Link {
    Id(AccountId),
    External(String),
    Name(String),
}

impl Link {
    /// The field the link was read from.
    pub fn field(&self) -> &'static str {
        match self {
            Link::Id(_) => "account_id",
            Link::External(_) => "account_external_id",
            Link::Name(_) => "account_name",
        }
    }

    /// The row's link, or a problem when it names no account.
    pub fn of(c: &mut Cells, mapping: &Mapping, what: &str) -> Option<Link> {
        let id = c.get("account_id").map(str::to_owned);
        let id = match id {
            Some(v) => match uuid::Uuid::parse_str(&v) {
                Ok(u) => Some(u),
                Err(_) => {
                    c.problem("account_id", "invalid_id", format!("{v:?} is not a Guanxi id"));
                    return None;
                }
            },
            None => None,
        };
        match (id, c.get("account_external_id"), c.get("account_name")) {
            (Some(a), _, _) => Some(Link::Id(AccountId::from_uuid(a))),
            (None, Some(x), _) => Some(Link::External(format!("x:{x}"))),
            (None, None, Some(n)) => Some(Link::Name(n.to_owned())),
            (None, None, None) => {
                let key = if mapping.has("account_name") { "account_name" } else { "account_external_id" };
                c.problem(key, "required", format!("the account is empty: every {what} belongs to an account"));
                None
            }
        }
    }
}

/// Accounts found for links (or why not: code and message).
#[derive(Default)]
pub(crate) struct Links {
    found: HashMap<Link, Result<AccountId, (String, String)>>,
}

impl Links {
    /// What `link` was found to be (after [`Links::resolve`]).
    pub fn get(&self, link: &Link) -> &Result<AccountId, (String, String)> {
        &self.found[link]
    }

    /// Finds the accounts of `links` not looked up yet, in a few queries.
    pub async fn resolve<'l>(
        &mut self,
        conn: &mut Conn<'_>,
        who: &Who,
        links: impl Iterator<Item = &'l Link>,
    ) -> Result<(), ImportError> {
        let ws = who.actor.workspace_id;
        let mut ids: Vec<AccountId> = Vec::new();
        let mut externals: Vec<&str> = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        for link in links {
            if self.found.contains_key(link) {
                continue;
            }
            match link {
                Link::Id(a) if !ids.contains(a) => ids.push(*a),
                Link::External(x) if !externals.contains(&x.as_str()) => externals.push(x),
                Link::Name(n) if !names.contains(&n.as_str()) => names.push(n),
                _ => {}
            }
        }
        let mut wanted: Vec<(Link, AccountId)> = Vec::new();
        let live: HashSet<AccountId> = accounts::live(conn, ws, &ids).await?.into_iter().collect();
        // An id of another workspace (its export imported here): the account
        // an earlier import made of that exported row.
        let copies: Vec<String> = ids.iter().filter(|a| !live.contains(a)).map(|a| format!("g:{a}")).collect();
        let copies: Vec<&str> = copies.iter().map(String::as_str).collect();
        let copied: HashMap<String, uuid::Uuid> =
            imports::lookup(conn, ws, "accounts", &copies).await?.into_iter().collect();
        for a in ids {
            let link = Link::Id(a);
            if live.contains(&a) {
                wanted.push((link, a));
            } else if let Some(copy) = copied.get(&format!("g:{a}")) {
                wanted.push((link, AccountId::from_uuid(*copy)));
            } else {
                self.found.insert(link, Err(("account_not_found".into(), format!("no live account has the id {a}"))));
            }
        }
        let found: HashMap<String, uuid::Uuid> =
            imports::lookup(conn, ws, "accounts", &externals).await?.into_iter().collect();
        for x in externals {
            let link = Link::External(x.to_owned());
            match found.get(x) {
                Some(u) => wanted.push((link, AccountId::from_uuid(*u))),
                None => {
                    let shown = x.strip_prefix("x:").unwrap_or(x);
                    let message =
                        format!("no imported account has the external id {shown:?}: import the accounts first");
                    self.found.insert(link, Err(("account_not_found".into(), message)));
                }
            }
        }
        // By name: 查重's name key, then compare, as on entry.
        let keyed: Vec<(&str, dedupe::NameKey)> = names.iter().map(|n| (*n, dedupe::company_key(n))).collect();
        let cores: Vec<&str> = keyed.iter().map(|(_, k)| k.core.as_str()).collect();
        let pinyins: Vec<&str> = keyed.iter().map(|(_, k)| k.pinyin.as_str()).filter(|p| !p.is_empty()).collect();
        let existing = accounts::existing_matching(conn, ws, &cores, &pinyins, &[], &[]).await?;
        for (n, key) in &keyed {
            let link = Link::Name((*n).to_owned());
            let mut best: Option<(f32, AccountId, bool)> = None;
            for e in existing.iter().filter(|e| e.key.core == key.core || e.key.pinyin == key.pinyin) {
                let exact = e.name == *n;
                let v = dedupe::compare(
                    &dedupe::Record { name: key, uscc: None, phones: &[], city: None },
                    &dedupe::Record { name: &e.key, uscc: None, phones: &[], city: None },
                );
                if let Verdict::Same { score, .. } = v {
                    let score = if exact { 2.0 } else { score };
                    if best.is_none_or(|(s, _, _)| score > s) {
                        best = Some((score, e.id, exact));
                    }
                }
            }
            match best {
                Some((_, id, _)) => wanted.push((link, id)),
                None => {
                    let message =
                        format!("no account is called {n:?} (nor one 查重 takes for it): import or create it first");
                    self.found.insert(link, Err(("account_not_found".into(), message)));
                }
            }
        }
        // Only accounts the importer sees: a contact of someone else's account is not theirs to add.
        let ids: Vec<AccountId> = wanted.iter().map(|(_, a)| *a).collect();
        let visible: HashSet<AccountId> = accounts::visible(conn, who.viewer, &ids).await?.into_iter().collect();
        for (link, a) in wanted {
            let r = if visible.contains(&a) {
                Ok(a)
            } else {
                Err(("not_visible".into(), "the account belongs to someone outside your teams".into()))
            };
            self.found.insert(link, r);
        }
        Ok(())
    }
}
