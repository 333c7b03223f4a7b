//! Accounts to CSV in Guanxi's column layout: identifiers as stored
//! (vocabulary ids, division codes, e-mails of owners), lists joined by `; `,
//! times in RFC 3339 UTC, so that the file imports back without loss.

use crate::sheet::Sheet;
use guanxi_store::accounts::{self, AccountFilter, ExportRow};
use guanxi_store::{Db, Viewer};
use std::collections::HashMap;
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
pub const PAGE: usize = 1000;

/// Turns accounts into rows. Remembers the regions it has spelled out: an
/// export names a few thousand, a million times, and spelling one out
/// searches the division table.
#[derive(Default)]
pub struct Rows {
    regions: HashMap<String, String>,
}

impl Rows {
    /// One account as its row.
    pub fn row(&mut self, a: &ExportRow) -> Vec<String> {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let region = match a.region_code.as_deref() {
            Some(c) => {
                self.regions.entry(c.to_owned()).or_insert_with(|| guanxi_domain::division_path(c).join(" ")).clone()
            }
            None => String::new(),
        };
        vec![
            a.id.to_string(),
            a.name.clone(),
            opt(&a.short_name),
            opt(&a.uscc),
            opt(&a.phones),
            opt(&a.region_code),
            region,
            opt(&a.address),
            opt(&a.website),
            opt(&a.industry),
            a.source.clone(),
            opt(&a.referrer),
            opt(&a.classification),
            a.key_account.to_string(),
            opt(&a.relationship_stage),
            opt(&a.owner_name),
            opt(&a.team_name),
            opt(&a.tags),
            opt(&a.notes),
            a.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ]
    }

    /// Accounts as CSV rows (no header), neutralising formula-like cells.
    pub fn csv(&mut self, rows: &[ExportRow]) -> Result<Vec<u8>, ExportError> {
        let mut w = csv::Writer::from_writer(Vec::new());
        for a in rows {
            crate::sheet::write_csv_record(&mut w, &self.row(a))?;
        }
        w.into_inner().map_err(|e| ExportError::Io(e.into_error()))
    }
}

/// Writes the header (after a BOM) to a fresh CSV writer over `out`.
pub fn writer<W: Write>(mut out: W) -> Result<csv::Writer<W>, ExportError> {
    out.write_all(crate::BOM)?;
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS)?;
    Ok(w)
}

/// The accounts the filter selects within the viewer's scope, in creation
/// order, a page at a time (read ahead while the caller writes the last).
pub fn pages(
    db: &Db,
    viewer: Viewer,
    filter: &AccountFilter,
) -> tokio::sync::mpsc::Receiver<guanxi_store::Result<Vec<ExportRow>>> {
    accounts::export_rows(db, viewer, filter, PAGE)
}

/// Exports every account the filter selects to `sheet`; answers how many.
pub async fn export(db: &Db, viewer: Viewer, filter: &AccountFilter, sheet: &mut Sheet) -> Result<u64, ExportError> {
    let mut pages = pages(db, viewer, filter);
    let mut rows = Rows::default();
    let mut n = 0;
    while let Some(page) = pages.recv().await {
        for a in &page? {
            sheet.row(&rows.row(a))?;
            n += 1;
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
