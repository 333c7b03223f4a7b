//! What an import says it did: counts, and each problem with where it is —
//! the file's line as a text editor numbers it, the spreadsheet's row, the
//! column — and why; bad rows also go, whole, to a CSV with an error column
//! to fix and upload again.

use super::Plan;
use crate::fields::Kind;
use crate::read::BadRow;
use guanxi_store::imports::Counts;
use serde::Serialize;
use std::path::Path;

/// Problems kept in the report itself; all bad rows go to the file.
pub const KEPT: usize = 1000;

/// How bad a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The row was not imported.
    Error,
    /// The row was imported (or left), but look at it: a possible duplicate.
    Warning,
    /// Nothing wrong: a repeated header passed over, a row merged.
    Note,
}

/// One problem with one row.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// The line it starts on, as a text editor numbers them.
    pub line: u64,
    /// The row, as a spreadsheet numbers it.
    pub row: u64,
    /// The column's header, when one column is at fault.
    pub column: Option<String>,
    /// Stable code (`invalid_phone`, `required`, `duplicate_in_file`, `account_not_found`…).
    pub code: String,
    /// What is wrong, said so that it can be fixed.
    pub message: String,
    /// Error, warning or note.
    pub severity: Severity,
}

impl Problem {
    /// A row the reader could not read as one.
    pub fn unreadable(bad: &BadRow) -> Problem {
        Problem {
            line: bad.line,
            row: bad.row,
            column: bad.column.clone(),
            code: bad.code.to_owned(),
            message: bad.message.clone(),
            severity: if bad.code == "repeated_header" { Severity::Note } else { Severity::Error },
        }
    }
}

/// A problem with one row of the file, at `column` when one column is at fault.
pub(crate) fn problem(
    row: &crate::read::Row,
    column: Option<String>,
    code: &str,
    message: impl Into<String>,
    severity: Severity,
) -> Problem {
    Problem { line: row.line, row: row.row, column, code: code.to_owned(), message: message.into(), severity }
}

/// The report of a pass.
#[derive(Debug)]
pub struct Report {
    /// The kind imported.
    pub kind: Kind,
    /// Whether it wrote (false: a dry run).
    pub wrote: bool,
    /// Data rows read.
    pub rows: i64,
    /// Bytes of the file read.
    pub bytes: i64,
    /// Counts.
    pub counts: Counts,
    /// Notes (repeated headers passed over).
    pub notes: i64,
    /// The first [`KEPT`] problems.
    pub problems: Vec<Problem>,
    /// Where the time went, for tuning.
    pub timings: Timings,
}

/// Time spent per phase of an import (summed over batches).
#[derive(Clone, Copy, Debug, Default)]
pub struct Timings {
    /// Waiting for the reader thread (reading, decoding and parsing the file).
    pub read: std::time::Duration,
    /// Parsing rows into fields, on the reader's thread (beside the rest).
    pub parse: std::time::Duration,
    /// Looking up external ids, links and 查重 candidates, and deciding.
    pub check: std::time::Duration,
    /// Writing and committing.
    pub write: std::time::Duration,
    /// Merging the new records' search terms into the search index.
    pub index: std::time::Duration,
}

impl std::fmt::Display for Timings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = |d: std::time::Duration| d.as_secs_f64();
        write!(
            f,
            "waiting for the file {:.1} s, parsing (beside) {:.1} s, 查重 and lookups {:.1} s, writing {:.1} s, search index {:.1} s",
            s(self.read),
            s(self.parse),
            s(self.check),
            s(self.write),
            s(self.index)
        )
    }
}

impl Report {
    /// An empty report.
    pub fn new(kind: Kind, wrote: bool) -> Self {
        Report {
            kind,
            wrote,
            rows: 0,
            bytes: 0,
            counts: Counts::default(),
            notes: 0,
            problems: Vec::new(),
            timings: Timings::default(),
        }
    }

    fn keep(&mut self, p: Problem) {
        if self.problems.len() < KEPT {
            self.problems.push(p);
        }
    }

    /// A bad row: counted, kept, and written to the file of bad rows.
    pub fn fail(&mut self, sink: &mut Sink, p: Problem, cells: &[String]) -> Result<(), super::ImportError> {
        self.counts.failed += 1;
        sink.write(&p, cells)?;
        self.keep(p);
        Ok(())
    }

    /// Several problems of one bad row: one line in the file, all listed.
    pub fn fail_all(
        &mut self,
        sink: &mut Sink,
        ps: Vec<Problem>,
        row: &crate::read::Row,
    ) -> Result<(), super::ImportError> {
        self.counts.failed += 1;
        let message = ps.iter().map(|p| p.message.as_str()).collect::<Vec<_>>().join("; ");
        let joined = match ps.first() {
            Some(first) => Problem { message, ..first.clone() },
            // Parsing names every problem it refuses a row for; should one slip through, the row still fails visibly.
            None => Problem {
                line: row.line,
                row: row.row,
                column: None,
                code: "invalid".into(),
                message: "the row could not be read as a record".into(),
                severity: Severity::Error,
            },
        };
        sink.write(&joined, &row.cells)?;
        if ps.is_empty() {
            self.keep(joined);
        }
        for p in ps {
            self.keep(p);
        }
        Ok(())
    }

    /// A warning about a row that was still imported or matched.
    pub fn warn(&mut self, p: Problem) {
        self.counts.warnings += 1;
        self.keep(p);
    }

    /// A note.
    pub fn note(&mut self, p: Problem) {
        self.notes += 1;
        self.keep(p);
    }

    /// As stored with the import and answered by the API.
    pub fn to_json(&self, plan: &Plan) -> serde_json::Value {
        serde_json::json!({
            "kind": self.kind,
            "dry_run": !self.wrote,
            "format": plan.format,
            "mapping": plan.mapping.to_columns(&plan.headers),
            "rows": self.rows,
            "counts": self.counts,
            "notes": self.notes,
            "problems": self.problems,
            "problems_kept": self.problems.len(),
        })
    }
}

/// The file of bad rows: the file's own columns, then why, the line and the row.
pub struct Sink {
    out: Option<csv::Writer<std::io::BufWriter<std::fs::File>>>,
    width: usize,
}

/// The columns added to the file of bad rows (headers no import maps).
pub const ERROR_COLUMNS: [&str; 3] = ["导入错误", "文件行号", "表格行号"];

impl Sink {
    /// Writes to `path` (none: nowhere) with `headers` first.
    pub fn new(path: Option<&Path>, headers: &[String]) -> Result<Sink, super::ImportError> {
        let Some(path) = path else { return Ok(Sink { out: None, width: headers.len() }) };
        let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
        std::io::Write::write_all(&mut file, crate::BOM)?;
        let mut w = csv::Writer::from_writer(file);
        w.write_record(headers.iter().map(String::as_str).chain(ERROR_COLUMNS))?;
        Ok(Sink { out: Some(w), width: headers.len() })
    }

    fn write(&mut self, p: &Problem, cells: &[String]) -> Result<(), super::ImportError> {
        let Some(w) = &mut self.out else { return Ok(()) };
        let mut row: Vec<String> = cells.iter().map(|c| crate::neutralise(c).into_owned()).collect();
        row.resize(self.width, String::new());
        let why = match &p.column {
            Some(c) => format!("{c}: {}", p.message),
            None => p.message.clone(),
        };
        row.extend([why, p.line.to_string(), p.row.to_string()]);
        w.write_record(&row)?;
        Ok(())
    }

    /// Flushes the file.
    pub fn finish(&mut self) -> Result<(), super::ImportError> {
        if let Some(w) = &mut self.out {
            w.flush()?;
        }
        Ok(())
    }
}
