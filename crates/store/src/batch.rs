//! Multi-row inserts: one statement for many rows, whether a record is
//! created alone (its phones, tags, search terms) or by the hundred thousand
//! (`guanxi gen`, imports). Both databases take well over ten thousand
//! parameters per statement; a batch stays under `MAX_PARAMS`.

use crate::db::{Sql, Tx, Val};
use crate::Result;

/// Parameters per statement at most.
const MAX_PARAMS: usize = 8000;

/// Rows gathered for one table, flushed as multi-row `INSERT`s.
pub struct Batch {
    head: String,
    tail: &'static str,
    width: usize,
    q: Option<Sql>,
    rows: usize,
}

impl Batch {
    /// `INSERT INTO {table} ({columns}) VALUES …` with `columns` comma-separated.
    pub fn new(table: &str, columns: &str) -> Self {
        let width = columns.split(',').count();
        Self { head: format!("INSERT INTO {table} ({columns}) VALUES "), tail: "", width, q: None, rows: 0 }
    }

    /// Ends each statement with `clause` (`ON CONFLICT …`, the same on both databases).
    pub fn on_conflict(mut self, clause: &'static str) -> Self {
        self.tail = clause;
        self
    }

    /// Adds a row (as many values as columns), sending the statement when full.
    pub async fn push(&mut self, tx: &mut Tx, row: Vec<Val>) -> Result<()> {
        debug_assert_eq!(row.len(), self.width, "{}", self.head);
        let q = self.q.get_or_insert_with(|| Sql::new(&self.head));
        q.push(if self.rows == 0 { "(" } else { ", (" });
        for (i, v) in row.into_iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(v);
        }
        q.push(")");
        self.rows += 1;
        if (self.rows + 1) * self.width > MAX_PARAMS {
            self.flush(tx).await?;
        }
        Ok(())
    }

    /// Sends what is left.
    pub async fn flush(&mut self, tx: &mut Tx) -> Result<()> {
        if let Some(mut q) = self.q.take() {
            q.push(self.tail);
            tx.execute(q).await?;
        }
        self.rows = 0;
        Ok(())
    }
}
