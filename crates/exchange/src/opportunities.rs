//! Opportunities out: to CSV or XLSX in the column layout the `guanxi`
//! preset reads back. A row's `external_id` is the deal's own id, which the
//! importer recognises: the file imported into the same workspace changes
//! nothing, into another it creates the deals at the accounts of the same
//! names (or imported from the accounts' export).

use crate::accounts::ExportError;
use crate::sheet::Sheet;
use guanxi_domain::opportunity::yuan_text;
use guanxi_store::opportunities::{self, Opportunity, OpportunityFilter};
use guanxi_store::{Db, Viewer};

/// The columns, in order; never reordered, only added to at the end.
pub const COLUMNS: [&str; 16] = [
    "external_id",
    "account_id",
    "account_name",
    "name",
    "stage",
    "status",
    "first_contact_stage",
    "entry_timing",
    "amount",
    "expected_close_on",
    "owner",
    "source",
    "competitors",
    "lost_reason",
    "contact_names",
    "notes",
];

/// Rows read from the database at a time.
pub const PAGE: i64 = 1000;

/// One deal as its row: stored identifiers, the amount in yuan, the people by name.
pub fn row(o: &Opportunity) -> Vec<String> {
    vec![
        o.id.to_string(),
        o.account_id.to_string(),
        o.account_name.clone(),
        o.name.clone(),
        o.stage.as_str().to_owned(),
        o.status.as_str().to_owned(),
        o.first_contact_stage.as_str().to_owned(),
        o.entry_timing.as_str().to_owned(),
        o.amount_fen.map(yuan_text).unwrap_or_default(),
        o.expected_close_on.clone().unwrap_or_default(),
        o.owner_name.clone().unwrap_or_default(),
        o.source.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        o.competitors.clone().unwrap_or_default(),
        o.lost_reason.clone().unwrap_or_default(),
        o.contacts.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join("; "),
        o.notes.clone().unwrap_or_default(),
    ]
}

/// Exports the deals the filter selects for the viewer, in creation order; answers how many.
pub async fn export(
    db: &Db,
    viewer: Viewer,
    filter: &OpportunityFilter,
    sheet: &mut Sheet,
) -> Result<u64, ExportError> {
    let mut f = filter.clone();
    let mut n = 0;
    loop {
        let rows = opportunities::list(db, viewer, &f, PAGE).await?;
        for o in &rows {
            sheet.row(&row(o))?;
        }
        n += rows.len() as u64;
        match rows.last() {
            Some(last) if rows.len() as i64 == PAGE => f.after = Some(last.id),
            _ => break,
        }
    }
    Ok(n)
}
