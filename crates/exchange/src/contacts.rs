//! Contacts out: to CSV or XLSX in Guanxi's column layout (the `guanxi`
//! preset reads it back, linking each contact to its account by id), and to
//! vCard 4.0 for a phone's address book.

use crate::accounts::ExportError;
use crate::sheet::Sheet;
use guanxi_store::contacts::{self, Contact, ContactFilter};
use guanxi_store::{Db, Viewer};
use vcard::values::{NameValue, OrgValue, TextOrUri};
use vcard::{TypeValue, VCard};

/// The columns, in order; never reordered, only added to at the end.
pub const COLUMNS: [&str; 18] = [
    "id",
    "account_id",
    "account_name",
    "name",
    "department",
    "title",
    "phones",
    "emails",
    "wechat",
    "stance",
    "relationship_strength",
    "key_person",
    "buying_role",
    "birthday",
    "notes",
    "tags",
    "left_company",
    "updated_at",
];

/// Rows read from the database at a time.
pub const PAGE: i64 = 1000;

/// One contact as its row.
pub fn row(c: &Contact) -> Vec<String> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    vec![
        c.id.to_string(),
        c.account_id.to_string(),
        c.account_name.clone(),
        c.name.clone(),
        opt(&c.department),
        opt(&c.title),
        c.phones.iter().map(|p| p.display.as_str()).collect::<Vec<_>>().join("; "),
        c.emails.join("; "),
        opt(&c.wechat),
        c.stance.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        c.relationship_strength.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        c.key_person.to_string(),
        c.buying_role.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        opt(&c.birthday),
        opt(&c.notes),
        c.tags.join("; "),
        c.left_company.to_string(),
        c.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    ]
}

/// The next page after `after`, in creation order, filtered like the list
/// and within the viewer's scope.
pub async fn page(
    db: &Db,
    viewer: Viewer,
    filter: &ContactFilter,
    after: Option<guanxi_domain::ContactId>,
) -> guanxi_store::Result<Vec<Contact>> {
    let f = ContactFilter { after, ..filter.clone() };
    contacts::list(db, viewer, &f, PAGE).await
}

/// Every contact the filter selects, a page at a time, handed to `each`; answers how many.
pub async fn each<F>(db: &Db, viewer: Viewer, filter: &ContactFilter, mut each: F) -> Result<u64, ExportError>
where
    F: FnMut(&Contact) -> Result<(), ExportError>,
{
    let mut after = None;
    let mut n = 0;
    loop {
        let rows = page(db, viewer, filter, after).await?;
        for c in &rows {
            each(c)?;
        }
        n += rows.len() as u64;
        match rows.last() {
            Some(last) if rows.len() as i64 == PAGE => after = Some(last.id),
            _ => break,
        }
    }
    Ok(n)
}

/// Exports the contacts the filter selects to `sheet`; answers how many.
pub async fn export(db: &Db, viewer: Viewer, filter: &ContactFilter, sheet: &mut Sheet) -> Result<u64, ExportError> {
    each(db, viewer, filter, |c| Ok(sheet.row(&row(c))?)).await
}

/// A contact as a vCard 4.0 (CRLF lines, folded at 75 octets, escaped):
/// name, organisation and department, title, phones (mobile or work),
/// e-mails, birthday, WeChat id, notes, tags, and its Guanxi id as UID.
pub fn vcard(c: &Contact) -> String {
    let mut card = VCard::new(c.name.clone());
    // A Chinese name is written surname first; the whole name as the family
    // name keeps it whole and sorted by its first character.
    card.names.push(vcard::Name::new(NameValue { family_names: vec![c.name.clone()], ..NameValue::default() }));
    let units = c.department.iter().cloned().collect();
    card.organizations.push(vcard::Org::new(OrgValue { name: c.account_name.clone(), units }));
    if let Some(t) = &c.title {
        card.titles.push(vcard::Title::new(t.clone()));
    }
    for p in &c.phones {
        let mobile = p.parsed().is_some_and(|n| n.kind() == guanxi_domain::PhoneKind::Mobile);
        let mut tel = vcard::Tel::new(vcard::values::TelValue::Text(p.display.clone()));
        tel.parameters.types.push(if mobile { TypeValue::Cell } else { TypeValue::Work });
        tel.parameters.types.push(TypeValue::Voice);
        card.telephones.push(tel);
    }
    for e in &c.emails {
        if let Ok(v) = e.parse() {
            card.emails.push(vcard::Email::new(v));
        }
    }
    if let Some(b) = c.birthday.as_deref().and_then(birthday) {
        card.birthday = Some(vcard::Birthday::new(b.into()));
    }
    if let Some(w) = &c.wechat {
        if let Ok(name) = "X-WECHAT".parse::<vcard::values::Token>() {
            card.extensions.push(vcard::ExtensionProperty::new(name, escape(w)));
        }
    }
    if let Some(n) = &c.notes {
        card.notes.push(vcard::Note::new(n.clone()));
    }
    if !c.tags.is_empty() {
        card.categories.push(vcard::Categories::new(c.tags.clone()));
    }
    let uid = format!("urn:uuid:{}", c.id);
    card.uid = Some(vcard::Uid::new(match uid.parse() {
        Ok(uri) => TextOrUri::Uri(uri),
        Err(_) => TextOrUri::Text(uid),
    }));
    card.revision = Some(vcard::Rev::new(c.updated_at.into()));
    card.to_string()
}

/// `1975-03-08` or `--03-08`, as vCard dates.
fn birthday(s: &str) -> Option<vcard::values::Date> {
    let parts: Vec<&str> = s.trim_start_matches("--").split('-').collect();
    match parts.as_slice() {
        [y, m, d] => vcard::values::Date::from_year_month_day(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?).ok(),
        [m, d] => vcard::values::Date::from_month_day(m.parse().ok()?, d.parse().ok()?).ok(),
        _ => None,
    }
}

/// A text value in vCard's wire form (RFC 6350 §3.4), for a property the
/// crate takes raw.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            ',' => out.push_str("\\,"),
            ';' => out.push_str("\\;"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}
