//! Multi-row inserts: one statement for many rows, whether a record is
//! created alone (its phones, tags, search terms) or by the hundred thousand
//! (`guanxi gen`, imports). Both databases take well over ten thousand
//! parameters per statement; a batch stays under `MAX_PARAMS`.
//!
//! Statements carry a fixed number of rows — as many as fit, then the rest
//! as a sum of powers of two — so that their texts repeat and each is parsed
//! once per connection: parsing a new text for every flush was a tenth of a
//! large import. In a bulk transaction on SQLite they insert `OR FAIL` (see
//! [`crate::db::Db::begin_bulk`]).

use crate::db::{Sql, Tx, Val};
use crate::Result;

/// Parameters per statement at most.
const MAX_PARAMS: usize = 8000;

/// Rows gathered for one table, flushed as multi-row `INSERT`s.
pub struct Batch {
    table: String,
    columns: String,
    tail: &'static str,
    width: usize,
    /// Rows in a full statement.
    full: usize,
    /// Values of the rows not yet sent, row after row.
    vals: Vec<Val>,
    /// The statement of each number of rows (and bulk or not) sent so far:
    /// written once, not placeholder by placeholder for every statement.
    texts: Vec<(usize, bool, String)>,
}

impl Batch {
    /// `INSERT INTO {table} ({columns}) VALUES …` with `columns` comma-separated.
    pub fn new(table: &str, columns: &str) -> Self {
        let width = columns.split(',').count();
        Self {
            table: table.to_owned(),
            columns: columns.to_owned(),
            tail: "",
            width,
            full: (MAX_PARAMS / width).max(1),
            vals: Vec::new(),
            texts: Vec::new(),
        }
    }

    /// Ends each statement with `clause` (`ON CONFLICT …`, the same on both databases).
    pub fn on_conflict(mut self, clause: &'static str) -> Self {
        self.tail = clause;
        self
    }

    /// Adds a row (as many values as columns), sending a statement when one is full.
    pub async fn push(&mut self, tx: &mut Tx, row: impl IntoIterator<Item = Val>) -> Result<()> {
        let before = self.vals.len();
        self.vals.extend(row);
        debug_assert_eq!(self.vals.len() - before, self.width, "{}", self.table);
        if self.vals.len() == self.full * self.width {
            self.send(tx, self.full).await?;
        }
        Ok(())
    }

    /// Sends what is left.
    pub async fn flush(&mut self, tx: &mut Tx) -> Result<()> {
        while !self.vals.is_empty() {
            let rows = self.vals.len() / self.width;
            // The largest power of two that fits: at most a few statements, each of a size seen before.
            let n = 1usize << (usize::BITS - 1 - rows.leading_zeros());
            self.send(tx, n).await?;
        }
        Ok(())
    }

    /// Sends the first `rows` rows.
    async fn send(&mut self, tx: &mut Tx, rows: usize) -> Result<()> {
        let n = rows * self.width;
        let vals = if n == self.vals.len() {
            std::mem::replace(&mut self.vals, Vec::with_capacity(self.full * self.width))
        } else {
            self.vals.drain(..n).collect()
        };
        let bulk = tx.is_bulk();
        let text = match self.texts.iter().find(|(r, b, _)| *r == rows && *b == bulk) {
            Some((_, _, text)) => text,
            None => {
                let text = self.text(rows, bulk);
                self.texts.push((rows, bulk, text));
                &self.texts[self.texts.len() - 1].2
            }
        };
        tx.execute(Sql::new(text).args(vals).reused()).await?;
        Ok(())
    }

    /// `INSERT … VALUES ($1, $2), ($3, $4) …` for `rows` rows.
    fn text(&self, rows: usize, bulk: bool) -> String {
        use std::fmt::Write as _;
        let verb = if bulk { "INSERT OR FAIL" } else { "INSERT" };
        let mut text = format!("{verb} INTO {} ({}) VALUES ", self.table, self.columns);
        for i in 0..rows * self.width {
            text.push_str(match (i % self.width, i) {
                (0, 0) => "(",
                (0, _) => "), (",
                _ => ", ",
            });
            let _ = write!(text, "${}", i + 1);
        }
        text.push(')');
        text.push_str(self.tail);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Db, PoolConfig};

    #[tokio::test]
    async fn rows_go_in_statements_of_repeating_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_sqlite(&dir.path().join("t.db"), &PoolConfig::default()).await.unwrap();
        db.execute(Sql::new("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)")).await.unwrap();
        let mut tx = db.begin().await.unwrap();
        let mut b = Batch::new("t", "a, b");
        assert_eq!(b.full, 4000);
        // 4000 sent as one full statement on the way, then 1000 + 7 as 512, 256, 128, 64, 32, 8, 4, 2, 1.
        for i in 0..5007_i64 {
            b.push(&mut tx, [Val::from(i), Val::from(format!("row {i}"))]).await.unwrap();
        }
        assert_eq!(b.vals.len(), 1007 * 2, "the full statement went as soon as it filled");
        b.flush(&mut tx).await.unwrap();
        assert!(b.vals.is_empty());
        let sizes: Vec<usize> = b.texts.iter().map(|(rows, _, _)| *rows).collect();
        assert_eq!(sizes, [4000, 512, 256, 128, 64, 32, 8, 4, 2, 1], "each size's statement written once");
        assert_eq!(b.text(2, false), "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)");
        b.flush(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        let (n, sum, last): (i64, i64, String) =
            db.fetch_one(Sql::new("SELECT COUNT(*), SUM(a), MAX(b) FROM t WHERE b = 'row ' || a")).await.unwrap();
        assert_eq!((n, sum), (5007, 5006 * 5007 / 2), "every row once, with its own values");
        assert_eq!(last, "row 999");
    }
}
