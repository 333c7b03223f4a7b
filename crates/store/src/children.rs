//! The lists a record owns (phones, e-mails, tags), stored one row each in a
//! side table keyed by the owner's id, read for many owners in one query.

use crate::batch::Batch;
use crate::db::{Sql, Tx, Val};
use crate::Result;
use guanxi_domain::{Phone, WorkspaceId};
use serde::Serialize;
use uuid::Uuid;

/// A stored phone number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PhoneNumber {
    /// E.164 (or a 95xxx service number).
    pub number: String,
    /// Extension.
    pub extension: Option<String>,
    /// As shown: 010-1234 5678 转 123.
    pub display: String,
}

impl PhoneNumber {
    /// Parses the stored number back (it parses to itself).
    pub fn parsed(&self) -> Option<Phone> {
        let raw = match &self.extension {
            Some(e) => format!("{} 转 {e}", self.number),
            None => self.number.clone(),
        };
        Phone::parse("phones", &raw).ok()
    }
}

/// Which side table, and its owner column. Names are constants of this crate, never input.
#[derive(Clone, Copy, Debug)]
pub struct Table {
    /// The table.
    pub name: &'static str,
    /// The owner's id column.
    pub owner: &'static str,
    /// Whether its rows carry their workspace's number (migration 23:
    /// `account_phones`, whose number index 查重 reads in bulk).
    pub numbered: bool,
}

pub use crate::db::Conn;

fn owners_in(head: &str, owner: &str, ids: &[Uuid], order: &str) -> Sql {
    let mut q = Sql::new(head);
    q.push(" WHERE ").push(owner).push(" IN (");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(*id);
    }
    q.push(") ORDER BY ").push(owner).push(", ").push(order);
    q
}

/// The phones of many owners, in their order.
pub async fn phones(conn: &mut Conn<'_>, t: Table, ids: &[Uuid]) -> Result<Vec<(Uuid, PhoneNumber)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let head = format!("SELECT {}, number, extension, display FROM {}", t.owner, t.name);
    let rows: Vec<(Uuid, String, Option<String>, String)> =
        conn.fetch_all(owners_in(&head, t.owner, ids, "position")).await?;
    Ok(rows
        .into_iter()
        .map(|(id, number, extension, display)| (id, PhoneNumber { number, extension, display }))
        .collect())
}

/// A text list (tags sorted, e-mails in their order) of many owners.
pub async fn texts(conn: &mut Conn<'_>, t: Table, column: &str, ids: &[Uuid]) -> Result<Vec<(Uuid, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let head = format!("SELECT {}, {column} FROM {}", t.owner, t.name);
    let order = if column == "tag" { "tag" } else { "position" };
    conn.fetch_all(owners_in(&head, t.owner, ids, order)).await
}

/// The items of one owner from a list of (owner, item).
pub fn of<T: Clone>(rows: &[(Uuid, T)], id: Uuid) -> Vec<T> {
    rows.iter().filter(|(o, _)| *o == id).map(|(_, v)| v.clone()).collect()
}

/// A batch of phone rows for `t`.
pub fn phone_batch(t: Table) -> Batch {
    let numbered = if t.numbered { ", workspace_number" } else { "" };
    Batch::new(t.name, &format!("{}, workspace_id, position, number, extension, display{numbered}", t.owner))
}

/// Adds an owner's phones to a batch; `number` is the workspace's number
/// when the table is [`Table::numbered`].
pub async fn push_phones(
    b: &mut Batch,
    tx: &mut Tx,
    ws: WorkspaceId,
    number: Option<i64>,
    id: Uuid,
    phones: &[Phone],
) -> Result<()> {
    for (i, p) in phones.iter().enumerate() {
        let row = [
            Val::from(id),
            ws.into(),
            (i as i64).into(),
            p.number().into(),
            p.extension().map(str::to_owned).into(),
            p.display().into(),
        ];
        b.push(tx, row.into_iter().chain(number.map(Val::from))).await?;
    }
    Ok(())
}

/// A batch of tag rows for `t`.
pub fn tag_batch(t: Table) -> Batch {
    Batch::new(t.name, &format!("{}, workspace_id, tag", t.owner))
}

/// Adds an owner's tags to a batch (a set: repeats are dropped).
pub async fn push_tags(b: &mut Batch, tx: &mut Tx, ws: WorkspaceId, id: Uuid, tags: &[String]) -> Result<()> {
    let mut seen: Vec<&String> = Vec::new();
    for tag in tags {
        if !seen.contains(&tag) {
            seen.push(tag);
            b.push(tx, [Val::from(id), ws.into(), tag.as_str().into()]).await?;
        }
    }
    Ok(())
}

/// A batch of e-mail rows for `t`.
pub fn email_batch(t: Table) -> Batch {
    Batch::new(t.name, &format!("{}, workspace_id, position, email", t.owner))
}

/// Adds an owner's e-mails to a batch (in order, repeats dropped).
pub async fn push_emails(b: &mut Batch, tx: &mut Tx, ws: WorkspaceId, id: Uuid, emails: &[String]) -> Result<()> {
    let mut seen: Vec<&String> = Vec::new();
    for e in emails {
        if !seen.contains(&e) {
            seen.push(e);
            b.push(tx, [Val::from(id), ws.into(), (seen.len() as i64 - 1).into(), e.as_str().into()]).await?;
        }
    }
    Ok(())
}

/// Removes an owner's rows from a side table (before writing them anew).
pub async fn clear(tx: &mut Tx, t: Table, id: Uuid) -> Result<()> {
    tx.execute(Sql::new(&format!("DELETE FROM {} WHERE {} = $1", t.name, t.owner)).arg(id)).await?;
    Ok(())
}

/// Adds the items of `from` that `into` lacks, keeping `into`'s order first (merges).
pub fn union<T: PartialEq>(into: &mut Vec<T>, from: Vec<T>) {
    for x in from {
        if !into.contains(&x) {
            into.push(x);
        }
    }
}
