//! A row's cells through its mapping: the text a field's column holds (the
//! `'` an export put before a formula-like cell taken off again), lists split,
//! and problems located at the column they come from.

use super::report::{Problem, Severity};
use crate::mapping::Mapping;
use crate::read::Row;
use guanxi_domain::FieldError;

/// Separators of a list in one cell: `010-1; 138…`, `a、b`, one per line.
const LIST: [char; 6] = [';', '；', '\n', '、', '|', '，'];

/// A row seen through a mapping.
pub struct Cells<'a> {
    /// The mapping.
    pub mapping: &'a Mapping,
    /// The headers.
    pub headers: &'a [String],
    /// The row.
    pub row: &'a Row,
    /// Problems found so far.
    pub problems: Vec<Problem>,
}

/// Takes off the `'` that Guanxi's export (and OWASP's advice) puts before a
/// cell a spreadsheet would run as a formula.
pub fn unneutralise(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => cell,
    }
}

impl<'a> Cells<'a> {
    /// Sees `row` through `mapping`.
    pub fn new(mapping: &'a Mapping, headers: &'a [String], row: &'a Row) -> Self {
        Cells { mapping, headers, row, problems: Vec::new() }
    }

    fn columns<'k>(&'k self, key: &'k str) -> impl Iterator<Item = usize> + 'k {
        self.mapping.columns.iter().enumerate().filter(move |(_, f)| f.is_some_and(|f| f.key == key)).map(|(i, _)| i)
    }

    /// The header of the (first) column filling `key`, for problems.
    pub fn column(&self, key: &str) -> Option<String> {
        self.columns(key).next().and_then(|i| self.headers.get(i).cloned())
    }

    /// The trimmed text of the field's column, `None` when empty or unmapped.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        let row = self.row;
        let at = self.columns(key).next()?;
        let v = unneutralise(row.cells.get(at)?.trim()).trim();
        (!v.is_empty()).then_some(v)
    }

    /// Every value of a list field: all its columns, each split at the list separators.
    pub fn list(&self, key: &str) -> Vec<&'a str> {
        let row = self.row;
        let mut out = Vec::new();
        for at in self.columns(key).collect::<Vec<_>>() {
            let Some(cell) = row.cells.get(at) else { continue };
            for part in cell.split(LIST) {
                let v = unneutralise(part.trim()).trim();
                if !v.is_empty() && !out.contains(&v) {
                    out.push(v);
                }
            }
        }
        out
    }

    /// Every non-empty cell of a text field's columns, one per paragraph (notes).
    pub fn joined(&self, key: &str) -> Option<String> {
        let row = self.row;
        let parts: Vec<&str> = self
            .columns(key)
            .collect::<Vec<_>>()
            .into_iter()
            .filter_map(|at| row.cells.get(at))
            .map(|c| unneutralise(c.trim()).trim())
            .filter(|c| !c.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join("\n"))
    }

    /// A problem with the field's column.
    pub fn problem(&mut self, key: &str, code: &str, message: impl Into<String>) {
        let column = self.column(key);
        self.problems.push(Problem {
            line: self.row.line,
            row: self.row.row,
            column,
            code: code.to_owned(),
            message: message.into(),
            severity: Severity::Error,
        });
    }

    /// Keeps a parsed value, or the problem located at the field's column.
    pub fn take<T>(&mut self, key: &str, r: Result<T, FieldError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(key, &e.code, e.message);
                None
            }
        }
    }

    /// A parsed optional text: `None` when empty, a problem when bad.
    pub fn text<T>(&mut self, key: &str, parse: fn(&str, &str) -> Result<T, FieldError>) -> Option<T> {
        let v = self.get(key)?;
        let r = parse(key, v);
        self.take(key, r)
    }

    /// A yes/no cell: 是/否, yes/no, true/false, 1/0, Y/N, √/×; empty is no.
    pub fn flag(&mut self, key: &str) -> bool {
        let Some(v) = self.get(key) else { return false };
        match v.to_lowercase().as_str() {
            "是" | "yes" | "y" | "true" | "1" | "√" | "✓" | "对" | "有" => true,
            "否" | "no" | "n" | "false" | "0" | "×" | "✗" | "不是" | "无" => false,
            _ => {
                self.problem(key, "invalid_flag", format!("{v:?} is not yes or no: write 是 or 否"));
                false
            }
        }
    }

    /// A word of a vocabulary (its identifier or Chinese label).
    pub fn word<T: Copy>(
        &mut self,
        key: &str,
        read: fn(&str) -> Option<T>,
        all: &[T],
        label: fn(T) -> &'static str,
    ) -> Option<T> {
        let v = self.get(key)?;
        match read(v) {
            Some(w) => Some(w),
            None => {
                let known: Vec<&str> = all.iter().map(|w| label(*w)).collect();
                self.problem(key, "unknown_value", format!("{v:?} is not one of {}", known.join("、")));
                None
            }
        }
    }
}

/// A stable id for a source row without one: a hash of its cells, so that
/// the same row imported again is recognised.
pub fn row_hash(cells: &[String]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for c in cells {
        h.update(unneutralise(c.trim()).trim().as_bytes());
        h.update([0x1f]);
    }
    let d = h.finalize();
    let mut out = String::with_capacity(34);
    out.push_str("h:");
    for b in &d[..16] {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// A 64-bit hash of a key, for the in-file index (kept small: a million rows).
pub fn key_hash(tag: u8, s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    tag.hash(&mut h);
    s.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exports_quote_comes_off_again() {
        assert_eq!(unneutralise("'=SUM(A1)"), "=SUM(A1)");
        assert_eq!(unneutralise("'+86 10 1234"), "+86 10 1234");
        assert_eq!(unneutralise("'quoted'"), "'quoted'");
        assert_eq!(unneutralise("O'Brien"), "O'Brien");
    }

    #[test]
    fn a_row_hash_ignores_spaces_and_the_quote_only() {
        let a = row_hash(&["华为".into(), " 010 ".into()]);
        assert_eq!(a, row_hash(&["华为".into(), "010".into()]));
        assert_ne!(a, row_hash(&["华为".into(), "011".into()]));
        assert_ne!(row_hash(&["ab".into(), "c".into()]), row_hash(&["a".into(), "bc".into()]));
    }
}
