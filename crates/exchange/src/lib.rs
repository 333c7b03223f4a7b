//! Import and export (issue 6): reading CSV and XLSX in any Chinese
//! encoding (`read`), mapping columns to fields by hand, by another CRM's
//! preset or by guess (`fields`, `mapping`), importing with 查重, a dry run
//! and a report of every bad row (`import`); exporting in Guanxi's own stable
//! column layout, the one its importer reads back (`accounts`, `contacts`,
//! `activities`),
//! as CSV or XLSX (`sheet`), and contacts as vCards.

pub mod accounts;
pub mod activities;
pub mod contacts;
pub mod fields;
pub mod import;
pub mod mapping;
pub mod opportunities;
pub mod read;
pub mod sheet;

/// Cells a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, and tab or
/// carriage return before one) get a leading `'`, as OWASP advises against
/// CSV injection; Guanxi's importer removes it again.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => std::borrow::Cow::Owned(format!("'{cell}")),
        _ => std::borrow::Cow::Borrowed(cell),
    }
}

/// UTF-8's byte order mark: Excel on Chinese Windows reads a CSV as GBK without it.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_text_kept() {
        assert_eq!(neutralise("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
        assert_eq!(neutralise("+86 10 1234 5678"), "'+86 10 1234 5678");
        assert_eq!(neutralise("-1"), "'-1");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("国网辽宁省电力有限公司"), "国网辽宁省电力有限公司");
        assert_eq!(neutralise(""), "");
    }
}
