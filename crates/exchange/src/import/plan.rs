//! What becomes of a row, the same for every kind of record.

use super::report::Report;
use std::collections::HashSet;
use std::hash::Hash;

/// What a parsed row `P` does to a record with id `I`.
pub(crate) enum Plan<I, P> {
    /// A new record.
    Create(I, P),
    /// Merged (in memory) into the record an earlier row of the same batch creates.
    Merged(P, I),
    /// Fills the gaps of a record an earlier batch wrote.
    MergeWritten(P, I),
    /// Updates an existing record (`update_existing`).
    Update(P, I),
    /// Matched a record and leaves it as it is.
    Leave(P, I),
}

impl<I: Copy, P> Plan<I, P> {
    /// The row, its record, and whether this import created the record: its import key.
    pub fn key(&self) -> (&P, I, bool) {
        match self {
            Plan::Create(id, p) => (p, *id, true),
            Plan::Merged(p, id) | Plan::MergeWritten(p, id) | Plan::Update(p, id) | Plan::Leave(p, id) => {
                (p, *id, false)
            }
        }
    }
}

/// A row that is an existing record: updated (once per run; a later row of
/// the same record only fills its gaps, as a duplicate within the file does)
/// or, without `update`, left as it is.
pub(crate) fn matched<I: Copy + Eq + Hash, P>(
    p: P,
    id: I,
    update: bool,
    seen: &mut HashSet<I>,
    report: &mut Report,
) -> Plan<I, P> {
    if !update {
        return Plan::Leave(p, id);
    }
    if seen.insert(id) {
        return Plan::Update(p, id);
    }
    report.counts.merged += 1;
    Plan::MergeWritten(p, id)
}

/// The warning of a row that names a record the importer may not change
/// (outside their scope, as the API would not find it): left as it is.
pub(crate) fn not_yours(row: &crate::read::Row) -> super::report::Problem {
    super::report::problem(
        row,
        None,
        "not_visible",
        "names a record outside your teams: not yours to update, left as it is",
        super::report::Severity::Warning,
    )
}

/// Adds to `into` what `from` has that it lacks, up to `max` items.
pub(crate) fn join<T: Clone>(into: &mut Vec<T>, from: &[T], same: impl Fn(&T, &T) -> bool, max: usize) {
    for x in from {
        if into.len() < max && !into.iter().any(|y| same(x, y)) {
            into.push(x.clone());
        }
    }
}

/// Fills an empty optional text.
pub(crate) fn fill_text(into: &mut Option<String>, from: &Option<String>) {
    if into.is_none() {
        into.clone_from(from);
    }
}
