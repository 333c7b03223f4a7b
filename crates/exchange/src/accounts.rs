//! Accounts to CSV in Guanxi's column layout: identifiers as stored
//! (vocabulary ids, division codes, e-mails of owners), lists joined by `; `,
//! times in RFC 3339 UTC, so that the file imports back without loss.

use crate::neutralise;
use crate::sheet::Sheet;
use guanxi_store::accounts::{self, Account, AccountFilter, AccountSort};
use guanxi_store::{Db, Viewer};
use std::io::Write;

/// The columns, in order; never reordered, only added to at the end.
pub const COLUMNS: [&str; 20] = [
    "id",
    "name",
    "short_name",
    "uscc",
    "phones",
    "region_code",
    "region",
    "address",
    "website",
    "industry",
    "source",
    "referrer",
    "classification",
    "key_account",
    "relationship_stage",
    "owner_name",
    "team_name",
    "tags",
    "notes",
    "updated_at",
];

/// Rows read from the database at a time.
pub const PAGE: i64 = 1000;

/// One account as its row.
pub fn row(a: &Account) -> Vec<String> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    vec![
        a.id.to_string(),
        a.name.clone(),
        opt(&a.short_name),
        opt(&a.uscc),
        a.phones.iter().map(|p| p.display.as_str()).collect::<Vec<_>>().join("; "),
        opt(&a.region_code),
        a.region_code.as_deref().map(|c| guanxi_domain::division_path(c).join(" ")).unwrap_or_default(),
        opt(&a.address),
        opt(&a.website),
        opt(&a.industry),
        a.source.as_str().to_owned(),
        opt(&a.referrer),
        a.classification.map(|c| c.as_str().to_owned()).unwrap_or_default(),
        a.key_account.to_string(),
        a.relationship_stage.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        opt(&a.owner_name),
        opt(&a.team_name),
        a.tags.join("; "),
        opt(&a.notes),
        a.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    ]
}

/// Writes the header (after a BOM) to a fresh CSV writer over `out`.
pub fn writer<W: Write>(mut out: W) -> Result<csv::Writer<W>, ExportError> {
    out.write_all(crate::BOM)?;
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS)?;
    Ok(w)
}

/// Writes accounts as rows, neutralising formula-like cells.
pub fn write_rows<W: Write>(w: &mut csv::Writer<W>, page: &[Account]) -> Result<(), csv::Error> {
    for a in page {
        let cells = row(a);
        w.write_record(cells.iter().map(|c| neutralise(c).into_owned()))?;
    }
    Ok(())
}

/// The next page of the export after `after`, in creation order, filtered
/// like the list and within the viewer's scope.
pub async fn page(
    db: &Db,
    viewer: Viewer,
    filter: &AccountFilter,
    after: Option<guanxi_domain::AccountId>,
) -> guanxi_store::Result<Vec<Account>> {
    let f = AccountFilter { sort: AccountSort::Created, after_key: None, after, ..filter.clone() };
    accounts::list(db, viewer, &f, PAGE).await
}

/// Exports every account the filter selects to `sheet`; answers how many.
pub async fn export(db: &Db, viewer: Viewer, filter: &AccountFilter, sheet: &mut Sheet) -> Result<u64, ExportError> {
    let mut after = None;
    let mut n = 0;
    loop {
        let rows = page(db, viewer, filter, after).await?;
        for a in &rows {
            sheet.row(&row(a))?;
        }
        n += rows.len() as u64;
        match rows.last() {
            Some(last) if rows.len() as i64 == PAGE => after = Some(last.id),
            _ => break,
        }
    }
    Ok(n)
}

/// What an export can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the records.
    #[error("{0}")]
    Store(#[from] guanxi_store::Error),
    /// Writing the file.
    #[error("cannot write the export: {0}")]
    Csv(#[from] csv::Error),
    /// Writing the file.
    #[error("cannot write the export: {0}")]
    Io(#[from] std::io::Error),
    /// Writing the file.
    #[error("{0}")]
    Sheet(#[from] crate::sheet::SheetError),
}
