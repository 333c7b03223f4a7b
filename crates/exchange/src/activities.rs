//! Activities out: to CSV or XLSX in the column layout the `guanxi` preset
//! reads back. A row's `external_id` is the touch's own id, which the
//! importer recognises: the file imported into the same workspace changes
//! nothing, into another it logs the touches afresh.

use crate::accounts::ExportError;
use crate::sheet::Sheet;
use guanxi_store::activities::{self, Activity, Of};
use guanxi_store::{Db, Viewer};

/// The columns, in order; never reordered, only added to at the end.
pub const COLUMNS: [&str; 13] = [
    "external_id",
    "account_id",
    "account_name",
    "contact_name",
    "kind",
    "started_at",
    "duration_minutes",
    "outcome",
    "notes",
    "author",
    "hook",
    "hook_due",
    "opportunity_name",
];

/// Rows read from the database at a time.
pub const PAGE: i64 = 1000;

/// One touch as its row: the first person met (the importer links one), the
/// hook while it is open.
pub fn row(a: &Activity) -> Vec<String> {
    let time = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let hook = a.hook.as_ref().filter(|h| h.status == "open");
    vec![
        a.id.to_string(),
        a.account_id.to_string(),
        a.account_name.clone(),
        a.contacts.first().map(|(_, n)| n.clone()).unwrap_or_default(),
        a.kind.as_str().to_owned(),
        time(a.started_at),
        a.duration_minutes.map(|m| m.to_string()).unwrap_or_default(),
        a.outcome.as_str().to_owned(),
        a.notes.clone().unwrap_or_default(),
        a.author_name.clone(),
        hook.map(|h| h.purpose.clone()).unwrap_or_default(),
        hook.map(|h| time(h.due_at)).unwrap_or_default(),
        a.opportunity_name.clone().unwrap_or_default(),
    ]
}

/// Exports the touches of `of` the viewer sees, newest first, to `sheet`; answers how many.
pub async fn export(db: &Db, viewer: Viewer, of: Of, sheet: &mut Sheet) -> Result<u64, ExportError> {
    let mut before = None;
    let mut n = 0;
    loop {
        let rows = activities::timeline(db, viewer, of, before, PAGE).await?;
        for a in &rows {
            sheet.row(&row(a))?;
        }
        n += rows.len() as u64;
        match rows.last() {
            Some(last) if rows.len() as i64 == PAGE => before = Some((last.started_at, last.id)),
            _ => break,
        }
    }
    Ok(n)
}
