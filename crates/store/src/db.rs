//! One query layer over two dialects.
//!
//! SQL is written once, with `$1, $2, ...` placeholders, and built with
//! [`Sql`], which carries its arguments as backend-neutral [`Val`]s. Executing
//! binds them for whichever backend the [`Db`] holds; rows decode through
//! [`FromRow`] (see [`from_row!`](crate::from_row)) from either backend.
//! Code that truly differs per dialect asks [`Db::dialect`].
//!
//! SQLite goes through rusqlite and runs each statement inline on the calling
//! thread: point reads take microseconds, and skipping a hand-off to another
//! thread is what makes the embedded backend fast. Readers come from a small
//! pool of read-only connections; all writes go through one writer connection
//! behind an async mutex (so writers queue instead of failing with "database
//! is locked"). PostgreSQL goes through sqlx.

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Arguments, Postgres};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

use crate::Error;

/// Which SQL dialect a database speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// The embedded default.
    Sqlite,
    /// For several instances on one server.
    Postgres,
}

/// A bound argument, typed so that PostgreSQL receives typed NULLs.
#[derive(Clone, Debug)]
pub enum Val {
    /// A boolean.
    Bool(Option<bool>),
    /// A 64-bit integer.
    I64(Option<i64>),
    /// Text.
    Text(Option<String>),
    /// A UUID (16-byte BLOB on SQLite, `uuid` on PostgreSQL).
    Uuid(Option<Uuid>),
    /// An instant (fixed-width UTC TEXT on SQLite, `timestamptz` on PostgreSQL).
    Time(Option<DateTime<Utc>>),
    /// A JSON document (TEXT on SQLite, `jsonb` on PostgreSQL).
    Json(Option<serde_json::Value>),
    /// Raw bytes.
    Bytes(Option<Vec<u8>>),
}

macro_rules! val_from {
    ($t:ty, $variant:ident, $conv:expr) => {
        impl From<$t> for Val {
            fn from(v: $t) -> Self {
                Val::$variant(Some($conv(v)))
            }
        }
        impl From<Option<$t>> for Val {
            fn from(v: Option<$t>) -> Self {
                Val::$variant(v.map($conv))
            }
        }
    };
}

val_from!(bool, Bool, |v| v);
val_from!(i64, I64, |v| v);
val_from!(String, Text, |v| v);
val_from!(&str, Text, |v: &str| v.to_owned());
val_from!(Uuid, Uuid, |v| v);
val_from!(DateTime<Utc>, Time, |v| v);
val_from!(serde_json::Value, Json, |v| v);
val_from!(Vec<u8>, Bytes, |v| v);
val_from!(guanxi_domain::UserId, Uuid, |v: guanxi_domain::UserId| v.uuid());
val_from!(guanxi_domain::TeamId, Uuid, |v: guanxi_domain::TeamId| v.uuid());
val_from!(guanxi_domain::WorkspaceId, Uuid, |v: guanxi_domain::WorkspaceId| v.uuid());
val_from!(guanxi_domain::TokenId, Uuid, |v: guanxi_domain::TokenId| v.uuid());
val_from!(guanxi_domain::AccountId, Uuid, |v: guanxi_domain::AccountId| v.uuid());
val_from!(guanxi_domain::ContactId, Uuid, |v: guanxi_domain::ContactId| v.uuid());
val_from!(guanxi_domain::PoolId, Uuid, |v: guanxi_domain::PoolId| v.uuid());
val_from!(guanxi_domain::RequestId, Uuid, |v: guanxi_domain::RequestId| v.uuid());
val_from!(guanxi_domain::ActivityId, Uuid, |v: guanxi_domain::ActivityId| v.uuid());
val_from!(guanxi_domain::TaskId, Uuid, |v: guanxi_domain::TaskId| v.uuid());
val_from!(guanxi_domain::ScriptId, Uuid, |v: guanxi_domain::ScriptId| v.uuid());
val_from!(guanxi_domain::NotificationId, Uuid, |v: guanxi_domain::NotificationId| v.uuid());
val_from!(guanxi_domain::ChannelId, Uuid, |v: guanxi_domain::ChannelId| v.uuid());
val_from!(guanxi_domain::DeliveryId, Uuid, |v: guanxi_domain::DeliveryId| v.uuid());
val_from!(guanxi_domain::ImportId, Uuid, |v: guanxi_domain::ImportId| v.uuid());
val_from!(guanxi_domain::OpportunityId, Uuid, |v: guanxi_domain::OpportunityId| v.uuid());

/// How SQLite stores instants: fixed-width UTC with microseconds, so that text
/// order is time order and precision matches PostgreSQL's `timestamptz`.
pub fn sqlite_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A database or an open transaction, to read in either.
pub enum Conn<'a> {
    /// Outside a transaction.
    Db(&'a Db),
    /// Inside one.
    Tx(&'a mut Tx),
}

impl Conn<'_> {
    /// Which database this is.
    pub fn dialect(&self) -> Dialect {
        match self {
            Conn::Db(db) => db.dialect(),
            Conn::Tx(tx) => tx.dialect(),
        }
    }

    /// Every row.
    pub async fn fetch_all<T: FromRow>(&mut self, q: Sql) -> Result<Vec<T>, Error> {
        match self {
            Conn::Db(db) => db.fetch_all(q).await,
            Conn::Tx(tx) => tx.fetch_all(q).await,
        }
    }

    /// The first row, if any.
    pub async fn fetch_optional<T: FromRow>(&mut self, q: Sql) -> Result<Option<T>, Error> {
        match self {
            Conn::Db(db) => db.fetch_optional(q).await,
            Conn::Tx(tx) => tx.fetch_optional(q).await,
        }
    }
}

/// A statement and its arguments, built up in order.
#[derive(Clone, Debug, Default)]
pub struct Sql {
    text: String,
    args: Vec<Val>,
    /// The same text comes again and again: keep it prepared however long it is.
    reused: bool,
}

impl Sql {
    /// Starts a statement. Placeholders written by hand are `$1, $2, ...` in argument order.
    pub fn new(text: &str) -> Self {
        Self { text: text.to_owned(), args: Vec::new(), reused: false }
    }

    /// Marks a long statement whose text repeats (a multi-row insert of a
    /// fixed number of rows): SQLite keeps it prepared instead of parsing it
    /// again each time, which was a tenth of a large import.
    pub fn reused(mut self) -> Self {
        self.reused = true;
        self
    }

    /// Appends SQL text (never user input: that goes through [`Sql::bind`]).
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends `v1, v2, …` as bound arguments (the inside of an `IN (…)`).
    pub fn bind_list<T: Into<Val> + Copy>(&mut self, values: &[T]) -> &mut Self {
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(*v);
        }
        self
    }

    /// Appends `SELECT … UNION SELECT …` of the ids each part finds:
    /// `(select, values)` becomes `{select} IN (values) AND {column} = value`
    /// for `within` = `(column, value)`, the workspace (by id or by number);
    /// parts without values are left out. False when none was written. One
    /// indexed SELECT per key: an `OR` of them, with subqueries, made both
    /// databases scan the whole table.
    pub fn push_union_of_ids(&mut self, parts: &[(&str, &[&str])], within: (&str, Val)) -> bool {
        let mut any = false;
        for (select, values) in parts {
            if values.is_empty() {
                continue;
            }
            self.push(if any { " UNION " } else { "" }).push(select).push(" IN (");
            self.bind_list(values).push(") AND ").push(within.0).push(" = ").bind(within.1.clone());
            any = true;
        }
        any
    }

    /// Appends the next placeholder and its value.
    pub fn bind(&mut self, v: impl Into<Val>) -> &mut Self {
        use std::fmt::Write as _;
        self.args.push(v.into());
        let _ = write!(self.text, "${}", self.args.len());
        self
    }

    /// Adds arguments for placeholders already written in the text, in order.
    pub fn args(mut self, vals: Vec<Val>) -> Self {
        if self.args.is_empty() {
            self.args = vals;
        } else {
            self.args.extend(vals);
        }
        self
    }

    /// Adds an argument for a placeholder already written in the text.
    pub fn arg(mut self, v: impl Into<Val>) -> Self {
        self.args.push(v.into());
        self
    }

    /// The SQL text (for logs and tests).
    pub fn text(&self) -> &str {
        &self.text
    }
}

// ---------------------------------------------------------------- decoding

/// One row of either backend.
pub enum Row<'a> {
    /// A SQLite row.
    Sqlite(&'a rusqlite::Row<'a>),
    /// A PostgreSQL row.
    Postgres(&'a PgRow),
}

/// A column by name or position.
#[derive(Clone, Copy, Debug)]
pub enum Col<'a> {
    /// By name.
    Name(&'a str),
    /// By position, from 0.
    At(usize),
}

impl std::fmt::Display for Col<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Col::Name(n) => f.write_str(n),
            Col::At(i) => write!(f, "#{i}"),
        }
    }
}

impl Row<'_> {
    /// The value of a named column.
    pub fn get<T: Decode>(&self, name: &str) -> Result<T, Error> {
        T::decode(self, Col::Name(name))
    }

    /// The value of the column at a position.
    pub fn get_at<T: Decode>(&self, i: usize) -> Result<T, Error> {
        T::decode(self, Col::At(i))
    }

    fn sqlite_value(row: &rusqlite::Row<'_>, col: Col<'_>) -> Result<rusqlite::types::Value, Error> {
        let v = match col {
            Col::Name(n) => row.get_ref(n),
            Col::At(i) => row.get_ref(i),
        };
        v.map(rusqlite::types::Value::from).map_err(|e| Error::Db(format!("column {col}: {e}")))
    }

    fn pg_get<T>(row: &PgRow, col: Col<'_>) -> Result<T, Error>
    where
        T: for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
    {
        use sqlx::Row as _;
        let r = match col {
            Col::Name(n) => row.try_get::<T, _>(n),
            Col::At(i) => row.try_get::<T, _>(i),
        };
        r.map_err(|e| Error::Db(format!("column {col}: {e}")))
    }

    fn is_null(&self, col: Col<'_>) -> Result<bool, Error> {
        match self {
            Row::Sqlite(r) => Ok(matches!(Self::sqlite_value(r, col)?, rusqlite::types::Value::Null)),
            Row::Postgres(r) => {
                use sqlx::{Row as _, ValueRef as _};
                let raw = match col {
                    Col::Name(n) => r.try_get_raw(n),
                    Col::At(i) => r.try_get_raw(i),
                };
                Ok(raw.map_err(|e| Error::Db(format!("column {col}: {e}")))?.is_null())
            }
        }
    }
}

/// A value that can be read from a column of either backend.
pub trait Decode: Sized {
    /// Reads the column.
    fn decode(row: &Row<'_>, col: Col<'_>) -> Result<Self, Error>;
}

fn wrong(col: Col<'_>, want: &str, got: &rusqlite::types::Value) -> Error {
    Error::Db(format!("column {col}: expected {want}, found {got:?}"))
}

macro_rules! decode_native {
    ($t:ty, $want:literal, $sqlite:expr) => {
        impl Decode for $t {
            fn decode(row: &Row<'_>, col: Col<'_>) -> Result<Self, Error> {
                match row {
                    Row::Sqlite(r) => {
                        let v = Row::sqlite_value(r, col)?;
                        let f: fn(&rusqlite::types::Value) -> Option<$t> = $sqlite;
                        f(&v).ok_or_else(|| wrong(col, $want, &v))
                    }
                    Row::Postgres(r) => Row::pg_get::<$t>(r, col),
                }
            }
        }
    };
}

use rusqlite::types::Value as SV;
decode_native!(i64, "an integer", |v| if let SV::Integer(i) = v { Some(*i) } else { None });
decode_native!(bool, "a boolean", |v| if let SV::Integer(i) = v { Some(*i != 0) } else { None });
decode_native!(String, "text", |v| if let SV::Text(s) = v { Some(s.clone()) } else { None });
decode_native!(Vec<u8>, "a blob", |v| if let SV::Blob(b) = v { Some(b.clone()) } else { None });
decode_native!(Uuid, "a uuid", |v| match v {
    SV::Blob(b) => Uuid::from_slice(b).ok(),
    SV::Text(s) => Uuid::parse_str(s).ok(),
    _ => None,
});
decode_native!(DateTime<Utc>, "a time", |v| if let SV::Text(s) = v {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
} else {
    None
});

impl Decode for serde_json::Value {
    fn decode(row: &Row<'_>, col: Col<'_>) -> Result<Self, Error> {
        match row {
            Row::Sqlite(r) => match Row::sqlite_value(r, col)? {
                SV::Text(s) => serde_json::from_str(&s).map_err(|e| Error::Db(format!("column {col}: {e}"))),
                other => Err(wrong(col, "JSON text", &other)),
            },
            Row::Postgres(r) => Row::pg_get::<sqlx::types::Json<serde_json::Value>>(r, col).map(|j| j.0),
        }
    }
}

impl<T: Decode> Decode for Option<T> {
    fn decode(row: &Row<'_>, col: Col<'_>) -> Result<Self, Error> {
        if row.is_null(col)? {
            Ok(None)
        } else {
            T::decode(row, col).map(Some)
        }
    }
}

macro_rules! decode_id {
    ($($t:ty),*) => {$(
        impl Decode for $t {
            fn decode(row: &Row<'_>, col: Col<'_>) -> Result<Self, Error> {
                Uuid::decode(row, col).map(<$t>::from_uuid)
            }
        }
    )*};
}
decode_id!(
    guanxi_domain::WorkspaceId,
    guanxi_domain::UserId,
    guanxi_domain::TeamId,
    guanxi_domain::TokenId,
    guanxi_domain::AccountId,
    guanxi_domain::ContactId,
    guanxi_domain::PoolId,
    guanxi_domain::NotificationId,
    guanxi_domain::RequestId,
    guanxi_domain::ActivityId,
    guanxi_domain::TaskId,
    guanxi_domain::ScriptId,
    guanxi_domain::ChannelId,
    guanxi_domain::DeliveryId,
    guanxi_domain::ImportId,
    guanxi_domain::OpportunityId
);

macro_rules! decode_text_enum {
    ($($t:ty),*) => {$(
        impl Decode for $t {
            fn decode(row: &Row<'_>, col: Col<'_>) -> Result<Self, Error> {
                let s = String::decode(row, col)?;
                <$t>::parse(&s).ok_or_else(|| Error::Db(format!("column {col}: unknown {} {s:?}", stringify!($t))))
            }
        }
    )*};
}
decode_text_enum!(
    guanxi_domain::Role,
    guanxi_domain::DataScope,
    guanxi_domain::Locale,
    guanxi_domain::AccountSource,
    guanxi_domain::Classification,
    guanxi_domain::RelationshipStage,
    guanxi_domain::Stance,
    guanxi_domain::RelationshipStrength,
    guanxi_domain::BuyingRole,
    guanxi_domain::ReleaseRule,
    guanxi_domain::ReleaseReason,
    guanxi_domain::RequestKind,
    guanxi_domain::RequestStatus,
    guanxi_domain::ActivityKind,
    guanxi_domain::Outcome,
    guanxi_domain::NoHookReason,
    guanxi_domain::ScriptKind,
    guanxi_domain::ChannelKind,
    guanxi_domain::Stage,
    guanxi_domain::OpportunityStatus
);

/// A record built from a row.
pub trait FromRow: Sized {
    /// Builds the record.
    fn from_row(row: &Row<'_>) -> Result<Self, Error>;
}

/// Implements [`FromRow`] for a struct whose fields are named like its columns.
#[macro_export]
macro_rules! from_row {
    ($t:ident { $($f:ident),* $(,)? }) => {
        impl $crate::db::FromRow for $t {
            fn from_row(row: &$crate::db::Row<'_>) -> Result<Self, $crate::Error> {
                Ok($t { $($f: row.get(stringify!($f))?),* })
            }
        }
    };
}

macro_rules! tuple_from_row {
    ($($n:tt $t:ident),+) => {
        impl<$($t: Decode),+> FromRow for ($($t,)+) {
            fn from_row(row: &Row<'_>) -> Result<Self, Error> {
                Ok(($(row.get_at::<$t>($n)?,)+))
            }
        }
    };
}
tuple_from_row!(0 A);
tuple_from_row!(0 A, 1 B);
tuple_from_row!(0 A, 1 B, 2 C);
tuple_from_row!(0 A, 1 B, 2 C, 3 D);
tuple_from_row!(0 A, 1 B, 2 C, 3 D, 4 E);
tuple_from_row!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F);

// ---------------------------------------------------------------- SQLite

fn sqlite_err(e: rusqlite::Error) -> Error {
    if let rusqlite::Error::SqliteFailure(code, msg) = &e {
        let text = msg.clone().unwrap_or_else(|| code.to_string());
        match code.code {
            rusqlite::ErrorCode::ConstraintViolation if text.starts_with("UNIQUE") => return Error::Conflict(text),
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => return Error::Unavailable(text),
            _ => {}
        }
    }
    Error::Db(e.to_string())
}

/// Binds a value where it is: SQLite copies what it is given, so a UUID or
/// a text needs no copy of its own first (an import binds tens of millions).
fn sqlite_bind(stmt: &mut rusqlite::Statement<'_>, i: usize, v: &Val) -> rusqlite::Result<()> {
    use rusqlite::types::Null;
    match v {
        Val::Bool(Some(b)) => stmt.raw_bind_parameter(i, i64::from(*b)),
        Val::I64(Some(n)) => stmt.raw_bind_parameter(i, *n),
        Val::Text(Some(s)) => stmt.raw_bind_parameter(i, s.as_str()),
        Val::Uuid(Some(u)) => stmt.raw_bind_parameter(i, &u.as_bytes()[..]),
        Val::Time(Some(t)) => stmt.raw_bind_parameter(i, sqlite_time(*t)),
        Val::Json(Some(j)) => stmt.raw_bind_parameter(i, j.to_string()),
        Val::Bytes(Some(b)) => stmt.raw_bind_parameter(i, b.as_slice()),
        Val::Bool(None)
        | Val::I64(None)
        | Val::Text(None)
        | Val::Uuid(None)
        | Val::Time(None)
        | Val::Json(None)
        | Val::Bytes(None) => stmt.raw_bind_parameter(i, Null),
    }
}

/// Prepares (cached) and binds a statement: `$N` is the N-th argument wherever it appears.
/// For SQLite `$N` becomes `?N`, a numbered parameter bound by index: SQLite
/// looks named parameters up by a linear walk, which made a multi-row insert
/// of thousands of arguments quadratic. (Our SQL has no `$` in literals: every
/// value is bound.)
fn sqlite_prepare<'c>(conn: &'c rusqlite::Connection, sql: Sql) -> Result<rusqlite::CachedStatement<'c>, Error> {
    let Sql { text, args, .. } = sql;
    // Byte by byte: `$` and digits are ASCII, so the text stays UTF-8.
    let mut numbered = text.clone().into_bytes();
    for i in 0..numbered.len().saturating_sub(1) {
        if numbered[i] == b'$' && numbered[i + 1].is_ascii_digit() {
            numbered[i] = b'?';
        }
    }
    let numbered = String::from_utf8(numbered).map_err(|e| Error::Db(e.to_string()))?;
    let mut stmt = conn.prepare_cached(&numbered).map_err(sqlite_err)?;
    let wanted = stmt.parameter_count();
    if args.len() < wanted {
        return Err(Error::Db(format!("placeholder ${} has no argument in: {text}", args.len() + 1)));
    }
    for (i, v) in args.iter().take(wanted).enumerate() {
        sqlite_bind(&mut stmt, i + 1, v).map_err(sqlite_err)?;
    }
    Ok(stmt)
}

/// Statements with more arguments than this (multi-row inserts, long `IN`
/// lists) are not kept in the connection's statement cache: their text rarely
/// repeats and each holds a large program, so 256 of them on every connection
/// took an import of a million rows past half a gigabyte.
const CACHE_MAX_ARGS: usize = 256;

/// Returns a small or reused statement to the cache, discards another large one.
fn sqlite_done(stmt: rusqlite::CachedStatement<'_>, args: usize, reused: bool) {
    if args > CACHE_MAX_ARGS && !reused {
        stmt.discard();
    }
}

fn sqlite_all<T: FromRow>(conn: &rusqlite::Connection, sql: Sql, limit: Option<usize>) -> Result<Vec<T>, Error> {
    let (args, reused) = (sql.args.len(), sql.reused);
    let mut stmt = sqlite_prepare(conn, sql)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sqlite_err)? {
        out.push(T::from_row(&Row::Sqlite(row))?);
        if limit.is_some_and(|l| out.len() >= l) {
            break;
        }
    }
    drop(rows);
    sqlite_done(stmt, args, reused);
    Ok(out)
}

/// Sends the rows of a read in chunks of `chunk` until the receiver goes away.
fn sqlite_chunks<T: FromRow>(
    conn: &rusqlite::Connection,
    sql: Sql,
    chunk: usize,
    out: &tokio::sync::mpsc::Sender<Result<Vec<T>, Error>>,
) -> Result<(), Error> {
    let (args, reused) = (sql.args.len(), sql.reused);
    let mut stmt = sqlite_prepare(conn, sql)?;
    let mut rows = stmt.raw_query();
    let mut part = Vec::with_capacity(chunk);
    while let Some(row) = rows.next().map_err(sqlite_err)? {
        part.push(T::from_row(&Row::Sqlite(row))?);
        if part.len() == chunk
            && out.blocking_send(Ok(std::mem::replace(&mut part, Vec::with_capacity(chunk)))).is_err()
        {
            return Ok(());
        }
    }
    drop(rows);
    sqlite_done(stmt, args, reused);
    if !part.is_empty() {
        let _ = out.blocking_send(Ok(part));
    }
    Ok(())
}

fn sqlite_execute(conn: &rusqlite::Connection, sql: Sql) -> Result<u64, Error> {
    let (args, reused) = (sql.args.len(), sql.reused);
    let mut stmt = sqlite_prepare(conn, sql)?;
    // Step through any rows (e.g. RETURNING) so the statement completes.
    let mut rows = stmt.raw_query();
    while rows.next().map_err(sqlite_err)?.is_some() {}
    drop(rows);
    sqlite_done(stmt, args, reused);
    Ok(conn.changes())
}

/// The embedded database: a file, one writer, a few readers.
pub struct Sqlite {
    path: PathBuf,
    writer: Arc<tokio::sync::Mutex<rusqlite::Connection>>,
    /// Tasks of this process waiting for the writer: a long bulk transaction
    /// commits early for them (see [`Tx::others_waiting`]).
    waiting: Arc<AtomicUsize>,
    readers: Mutex<Vec<rusqlite::Connection>>,
    max_idle_readers: usize,
    /// Page cache of each read connection, in KiB.
    reader_cache_kib: i64,
    /// Plan statements without looking at the values bound (SQLite's query
    /// planner stability guarantee): see [`Db::with_own_reader`].
    stable_plans: bool,
}

impl std::fmt::Debug for Sqlite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sqlite").field("path", &self.path).finish_non_exhaustive()
    }
}

/// How long a connection waits for another process's write: past an
/// import's transaction (`guanxi import` beside `guanxi serve` commits every
/// 6 s and a batch).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the write-ahead log is copied into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Past this many pages in the write-ahead log the writer checkpoints itself.
pub(crate) const WAL_MAX_FRAMES: i64 = 10_000;

/// The write-ahead log's file is cut back to this size when it restarts
/// (past `WAL_MAX_FRAMES`, so only after a bulk write).
pub(crate) const WAL_KEPT_BYTES: i64 = 64 << 20;

/// The page cache of a connection unless told otherwise, in KiB.
const CACHE_KIB: i64 = 16 * 1024;

fn open_conn(path: &Path, read_only: bool) -> Result<rusqlite::Connection, Error> {
    open_conn_cached(path, read_only, CACHE_KIB)
}

fn open_conn_cached(path: &Path, read_only: bool, cache_kib: i64) -> Result<rusqlite::Connection, Error> {
    use rusqlite::OpenFlags as F;
    let flags = if read_only {
        F::SQLITE_OPEN_READ_ONLY | F::SQLITE_OPEN_NO_MUTEX
    } else {
        F::SQLITE_OPEN_READ_WRITE | F::SQLITE_OPEN_CREATE | F::SQLITE_OPEN_NO_MUTEX
    };
    let cannot = |e: rusqlite::Error| Error::Config(format!("cannot open SQLite database {}: {e}", path.display()));
    let conn = rusqlite::Connection::open_with_flags(path, flags).map_err(cannot)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(cannot)?;
    conn.set_prepared_statement_cache_capacity(256);
    if read_only {
        conn.execute_batch(&format!("PRAGMA foreign_keys = ON; PRAGMA cache_size = -{cache_kib};")).map_err(cannot)?;
    } else {
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -{cache_kib};"
        ))
        .map_err(cannot)?;
    }
    Ok(conn)
}

/// A read connection borrowed from the pool, returned on drop.
struct Reader<'a> {
    db: &'a Sqlite,
    conn: Option<rusqlite::Connection>,
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut idle = self.db.readers.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < self.db.max_idle_readers {
                idle.push(conn);
            }
        }
    }
}

impl Sqlite {
    /// The writer connection, counted as waited for until it is had.
    async fn take_writer(&self) -> tokio::sync::OwnedMutexGuard<rusqlite::Connection> {
        let _queued = Queued::on(&self.waiting);
        self.writer.clone().lock_owned().await
    }

    fn reader(&self) -> Result<Reader<'_>, Error> {
        let idle = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(c) => c,
            None => {
                let conn = open_conn_cached(&self.path, true, self.reader_cache_kib)?;
                if self.stable_plans {
                    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
                        .map_err(|e| Error::Config(format!("cannot configure SQLite reader: {e}")))?;
                }
                conn
            }
        };
        Ok(Reader { db: self, conn: Some(conn) })
    }

    fn read<T>(&self, f: impl FnOnce(&rusqlite::Connection) -> Result<T, Error>) -> Result<T, Error> {
        let reader = self.reader()?;
        f(reader.conn.as_ref().ok_or_else(|| Error::Db("reader missing".into()))?)
    }
}

// ---------------------------------------------------------------- the pool

/// A connection pool to the configured database.
#[derive(Clone, Debug)]
pub enum Db {
    /// SQLite.
    Sqlite(Arc<Sqlite>),
    /// PostgreSQL.
    Postgres(PgPool),
}

/// Pool sizes and timeouts.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// Connections to PostgreSQL, or idle SQLite readers kept open.
    pub max_connections: u32,
    /// How long a request waits for a connection before failing.
    pub acquire_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self { max_connections: 16, acquire_timeout: Duration::from_secs(10) }
    }
}

/// Where the database is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An SQLite file `guanxi.db` inside this data directory.
    DataDir(PathBuf),
    /// A `postgres://` URL.
    Postgres(String),
}

impl Target {
    /// The SQLite file inside a data directory.
    pub fn sqlite_file(dir: &Path) -> PathBuf {
        dir.join("guanxi.db")
    }

    /// Describes the target without secrets (a URL's password is hidden).
    pub fn redacted(&self) -> String {
        match self {
            Target::DataDir(d) => Self::sqlite_file(d).display().to_string(),
            Target::Postgres(url) => redact_url(url),
        }
    }
}

/// Hides the password of a database URL for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..s + 3], &creds[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn pg_args(args: Vec<Val>) -> Result<PgArguments, Error> {
    let mut a = PgArguments::default();
    for v in args {
        let r = match v {
            Val::Bool(v) => a.add(v),
            Val::I64(v) => a.add(v),
            Val::Text(v) => a.add(v),
            Val::Uuid(v) => a.add(v),
            Val::Time(v) => a.add(v),
            Val::Json(v) => a.add(v.map(sqlx::types::Json)),
            Val::Bytes(v) => a.add(v),
        };
        r.map_err(|e| Error::Db(format!("cannot encode an argument: {e}")))?;
    }
    Ok(a)
}

fn pg_rows<T: FromRow>(rows: Vec<PgRow>) -> Result<Vec<T>, Error> {
    rows.iter().map(|r| T::from_row(&Row::Postgres(r))).collect()
}

async fn pg_chunks<T: FromRow>(
    pg: &PgPool,
    sql: Sql,
    chunk: usize,
    out: &tokio::sync::mpsc::Sender<Result<Vec<T>, Error>>,
) -> Result<(), Error> {
    use futures_util::TryStreamExt;
    let Sql { text, args, .. } = sql;
    let mut rows = sqlx::query_with::<Postgres, _>(&text, pg_args(args)?).fetch(pg);
    let mut part = Vec::with_capacity(chunk);
    while let Some(row) = rows.try_next().await? {
        part.push(T::from_row(&Row::Postgres(&row))?);
        if part.len() == chunk && out.send(Ok(std::mem::replace(&mut part, Vec::with_capacity(chunk)))).await.is_err() {
            return Ok(());
        }
    }
    if !part.is_empty() {
        let _ = out.send(Ok(part)).await;
    }
    Ok(())
}

macro_rules! pg_ops {
    ($ex:expr, $sql:expr, all) => {{
        let Sql { text, args, .. } = $sql;
        pg_rows(sqlx::query_with::<Postgres, _>(&text, pg_args(args)?).fetch_all($ex).await?)
    }};
    ($ex:expr, $sql:expr, optional) => {{
        let Sql { text, args, .. } = $sql;
        match sqlx::query_with::<Postgres, _>(&text, pg_args(args)?).fetch_optional($ex).await? {
            Some(r) => Some(T::from_row(&Row::Postgres(&r))).transpose(),
            None => Ok(None),
        }
    }};
    ($ex:expr, $sql:expr, execute) => {{
        let Sql { text, args, .. } = $sql;
        Ok(sqlx::query_with::<Postgres, _>(&text, pg_args(args)?).execute($ex).await?.rows_affected())
    }};
}

impl Db {
    /// Opens a database. SQLite files are created only when `create` is set,
    /// so that a mistyped data dir is reported rather than silently empty.
    pub async fn connect(target: &Target, pool: &PoolConfig, create: bool) -> Result<Self, Error> {
        match target {
            Target::DataDir(dir) => {
                if !dir.is_dir() {
                    if create {
                        std::fs::create_dir_all(dir).map_err(|e| {
                            Error::Config(format!("cannot create data directory {}: {e}", dir.display()))
                        })?;
                    } else {
                        return Err(Error::Config(format!(
                            "data directory {} does not exist; create it with `guanxi init --data-dir {}` (or `guanxi demo`)",
                            dir.display(),
                            dir.display()
                        )));
                    }
                }
                let path = Target::sqlite_file(dir);
                if !create && !path.exists() {
                    return Err(Error::Config(format!(
                        "no database in {}; create it with `guanxi init --data-dir {}` (or `guanxi demo`)",
                        dir.display(),
                        dir.display()
                    )));
                }
                Self::open_sqlite(&path, pool).await
            }
            Target::Postgres(url) => {
                let opts = PgConnectOptions::from_str(url)
                    .map_err(|e| Error::Config(format!("invalid database URL {}: {e}", redact_url(url))))?;
                let cannot = |e: sqlx::Error| {
                    Error::Config(format!(
                        "cannot connect to PostgreSQL at {}: {e}; check --database-url and that the server is running",
                        redact_url(url)
                    ))
                };
                // One direct attempt first: the pool would retry a refused
                // connection until its timeout and then report only "timed out".
                let probe = tokio::time::timeout(pool.acquire_timeout, sqlx::ConnectOptions::connect(&opts))
                    .await
                    .map_err(|_| cannot(sqlx::Error::PoolTimedOut))?
                    .map_err(cannot)?;
                sqlx::Connection::close(probe).await.map_err(cannot)?;
                let pg = PgPoolOptions::new()
                    .max_connections(pool.max_connections)
                    .acquire_timeout(pool.acquire_timeout)
                    .connect_with(opts)
                    .await
                    .map_err(cannot)?;
                Ok(Db::Postgres(pg))
            }
        }
    }

    /// Opens (creating if missing) an SQLite file with WAL, foreign keys and a busy timeout.
    pub async fn open_sqlite(path: &Path, pool: &PoolConfig) -> Result<Self, Error> {
        let writer = open_conn(path, false)?;
        // Checkpoints (the only fsyncs in WAL mode with synchronous = NORMAL)
        // run on a thread of their own instead of inside whichever commit
        // crossed SQLite's 1,000-page threshold: that commit used to wait
        // ~10 ms. The writer still checkpoints itself past a far longer log,
        // which only a bulk load writing without a pause reaches. A log an
        // import grew (to a gigabyte) shrinks back at its next restart.
        writer
            .execute_batch(&format!(
                "PRAGMA wal_autocheckpoint = {WAL_MAX_FRAMES}; PRAGMA journal_size_limit = {WAL_KEPT_BYTES};"
            ))
            .map_err(|e| Error::Config(format!("cannot configure SQLite database {}: {e}", path.display())))?;
        let checkpointer = open_conn(path, false)?;
        let first_reader = open_conn(path, true)?;
        let db = Arc::new(Sqlite {
            path: path.to_owned(),
            writer: Arc::new(tokio::sync::Mutex::new(writer)),
            waiting: Arc::default(),
            readers: Mutex::new(vec![first_reader]),
            max_idle_readers: pool.max_connections.max(1) as usize,
            reader_cache_kib: CACHE_KIB,
            stable_plans: false,
        });
        let alive = Arc::downgrade(&db);
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                // Until the last handle on the database is dropped.
                while alive.upgrade().is_some() {
                    if let Err(e) = checkpointer.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        tracing::warn!(error = %e, "SQLite checkpoint failed; trying again");
                    }
                    std::thread::sleep(CHECKPOINT_EVERY);
                }
            })
            .map_err(|e| Error::Config(format!("cannot start the SQLite checkpoint thread: {e}")))?;
        Ok(Db::Sqlite(db))
    }

    /// The same database, read through a connection of its own with a page
    /// cache of `mib`: for a long job that reads on one thread while it
    /// writes on another (an import looks up the next batch's duplicates
    /// while it writes this one), so that the reads neither evict the
    /// writer's cache nor miss in the small one of the shared readers. The
    /// connection opens at the first read and closes with the handle.
    /// Its statements are planned once, without the values bound: with
    /// STAT4 statistics SQLite otherwise plans a statement again for each new
    /// value of an indexed column, and a batch's lookups bind a thousand
    /// (planning each twice took 6 % of an import's reading thread).
    /// PostgreSQL: the same pool.
    pub fn with_own_reader(&self, mib: i64) -> Db {
        match self {
            Db::Sqlite(s) => Db::Sqlite(Arc::new(Sqlite {
                path: s.path.clone(),
                writer: s.writer.clone(),
                waiting: s.waiting.clone(),
                readers: Mutex::new(Vec::new()),
                max_idle_readers: 1,
                reader_cache_kib: mib.max(1) * 1024,
                stable_plans: true,
            })),
            Db::Postgres(pg) => Db::Postgres(pg.clone()),
        }
    }

    /// The dialect, for the few statements that differ.
    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Applies pending migrations (see [`crate::migrate`]).
    pub async fn migrate(&self) -> Result<(), Error> {
        crate::migrate::run(self).await
    }

    /// All rows of a read.
    pub async fn fetch_all<T: FromRow>(&self, sql: Sql) -> Result<Vec<T>, Error> {
        match self {
            Db::Sqlite(s) => s.read(|c| sqlite_all(c, sql, None)),
            Db::Postgres(pg) => pg_ops!(pg, sql, all),
        }
    }

    /// At most one row of a read.
    pub async fn fetch_optional<T: FromRow>(&self, sql: Sql) -> Result<Option<T>, Error> {
        match self {
            Db::Sqlite(s) => s.read(|c| sqlite_all(c, sql, Some(1))).map(|v| v.into_iter().next()),
            Db::Postgres(pg) => pg_ops!(pg, sql, optional),
        }
    }

    /// The rows of a long read (millions, sorted), `chunk` at a time, read
    /// ahead while the caller handles the last chunk and never all in memory.
    /// The read sees one snapshot throughout.
    pub fn stream<T: FromRow + Send + 'static>(
        &self,
        sql: Sql,
        chunk: usize,
    ) -> tokio::sync::mpsc::Receiver<Result<Vec<T>, Error>> {
        let (out, rx) = tokio::sync::mpsc::channel(2);
        match self {
            Db::Sqlite(s) => {
                let s = s.clone();
                tokio::task::spawn_blocking(move || {
                    if let Err(e) = s.read(|c| sqlite_chunks(c, sql, chunk, &out)) {
                        let _ = out.blocking_send(Err(e));
                    }
                });
            }
            Db::Postgres(pg) => {
                let pg = pg.clone();
                tokio::spawn(async move {
                    if let Err(e) = pg_chunks(&pg, sql, chunk, &out).await {
                        let _ = out.send(Err(e)).await;
                    }
                });
            }
        }
        rx
    }

    /// Exactly one row of a read; `Error::NotFound` when there is none.
    pub async fn fetch_one<T: FromRow>(&self, sql: Sql) -> Result<T, Error> {
        self.fetch_optional(sql).await?.ok_or(Error::NotFound)
    }

    /// A single write outside a transaction; returns the rows affected.
    pub async fn execute(&self, sql: Sql) -> Result<u64, Error> {
        match self {
            Db::Sqlite(s) => {
                let writer = {
                    let _queued = Queued::on(&s.waiting);
                    s.writer.lock().await
                };
                sqlite_execute(&writer, sql)
            }
            Db::Postgres(pg) => pg_ops!(pg, sql, execute),
        }
    }

    /// Starts a transaction. On SQLite it takes the writer (`BEGIN IMMEDIATE`:
    /// the write lock up front, so it never fails half-way on a lock upgrade).
    pub async fn begin(&self) -> Result<Tx, Error> {
        Ok(match self {
            Db::Sqlite(s) => {
                let conn = s.take_writer().await;
                conn.execute_batch("BEGIN IMMEDIATE").map_err(sqlite_err)?;
                Tx::Sqlite(SqliteTx { conn, open: true, bulk: false, waiting: s.waiting.clone() })
            }
            Db::Postgres(pg) => Tx::Postgres(pg.begin().await?),
        })
    }

    /// Starts a transaction for a bulk write whose writer checks the
    /// references it writes itself (an import: owners and teams from the
    /// workspace's directory, linked records looked up live, children of
    /// records it creates). On SQLite the connection's foreign keys are off
    /// until the transaction ends, and [`crate::batch::Batch`] inserts `OR
    /// FAIL`: an immediate foreign key, or any constraint that aborts, makes
    /// SQLite keep a statement journal, a copy of every page a multi-row
    /// `INSERT` changes, to undo that statement alone; the whole transaction
    /// is rolled back on an error anyway. Without both (the journal and the
    /// parent lookups of every row), and with `insert_keyed`, a million-row
    /// import's writing took 47–58 s instead of 55–63 s, in alternating runs.
    /// Debug builds (the
    /// tests) still check every foreign key before committing. The same as
    /// [`Db::begin`] on PostgreSQL.
    pub async fn begin_bulk(&self) -> Result<Tx, Error> {
        Ok(match self {
            Db::Sqlite(s) => {
                let conn = s.take_writer().await;
                // Only outside a transaction does the pragma take; the guard turns it back on.
                conn.execute_batch("PRAGMA foreign_keys = OFF").map_err(sqlite_err)?;
                let mut tx = SqliteTx { conn, open: false, bulk: true, waiting: s.waiting.clone() };
                tx.conn.execute_batch("BEGIN IMMEDIATE").map_err(sqlite_err)?;
                tx.open = true;
                Tx::Sqlite(tx)
            }
            Db::Postgres(pg) => Tx::Postgres(pg.begin().await?),
        })
    }

    /// Refreshes the planner's statistics of tables that grew or shrank a lot
    /// since they were last gathered (SQLite's `PRAGMA optimize`, every table
    /// checked, each sampled): SQLite never does so by itself, and plans made
    /// for a table of six rows scan it whole at a million. PostgreSQL's
    /// autovacuum already does this.
    pub async fn optimize(&self) -> Result<(), Error> {
        if self.dialect() == Dialect::Sqlite {
            self.execute(Sql::new("PRAGMA optimize = 0x10012")).await?;
        }
        Ok(())
    }

    /// Checks the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), Error> {
        let _: (i64,) = self.fetch_one(Sql::new("SELECT CAST(1 AS BIGINT)")).await?;
        Ok(())
    }

    /// Pool figures for metrics: (open connections, idle connections).
    pub fn pool_stats(&self) -> (u32, usize) {
        match self {
            Db::Sqlite(s) => {
                let idle = s.readers.lock().map(|r| r.len()).unwrap_or(0);
                (u32::try_from(idle + 1).unwrap_or(u32::MAX), idle)
            }
            Db::Postgres(pg) => (pg.size(), pg.num_idle()),
        }
    }

    /// The SQLite file, when that is the backend.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Db::Sqlite(s) => Some(&s.path),
            Db::Postgres(_) => None,
        }
    }

    /// Writes a consistent copy of an SQLite database to `output` while others
    /// keep reading and writing (`VACUUM INTO` reads one snapshot).
    pub async fn backup_to(&self, output: &Path) -> Result<(), Error> {
        if output.exists() {
            return Err(Error::Config(format!("{} already exists; choose a new file", output.display())));
        }
        match self {
            Db::Sqlite(s) => {
                let target = output
                    .to_str()
                    .ok_or_else(|| Error::Config("the backup path is not valid UTF-8".into()))?
                    .to_owned();
                let path = s.path.clone();
                // The copy holds password and token hashes: readable by its owner
                // alone from its first byte. VACUUM INTO fills an empty file made first.
                let mut create = std::fs::OpenOptions::new();
                create.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut create, 0o600);
                create.open(output).map_err(|e| Error::Config(format!("cannot create {}: {e}", output.display())))?;
                let made = output.to_path_buf();
                // Long-running: off the async workers, on its own connection.
                let copied = tokio::task::spawn_blocking(move || {
                    let conn = open_conn(&path, true)?;
                    sqlite_execute(&conn, Sql::new("VACUUM INTO $1").arg(target)).map(|_| ())
                })
                .await
                .map_err(|e| Error::Db(e.to_string()))?;
                if copied.is_err() {
                    let _ = std::fs::remove_file(&made);
                }
                copied
            }
            Db::Postgres(_) => {
                Err(Error::Config("backup copies the SQLite database; for PostgreSQL use pg_dump".into()))
            }
        }
    }

    /// Closes every connection (at shutdown, and before a test drops its database).
    pub async fn close(&self) {
        match self {
            Db::Sqlite(s) => {
                s.readers.lock().unwrap_or_else(|e| e.into_inner()).clear();
            }
            Db::Postgres(pg) => pg.close().await,
        }
    }
}

/// Counts a task as waiting for the writer while it lives (also when the wait is cancelled).
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn on(waiting: &'a AtomicUsize) -> Self {
        waiting.fetch_add(1, Ordering::Relaxed);
        Queued(waiting)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A SQLite transaction holding the writer; rolled back on drop unless committed.
pub struct SqliteTx {
    conn: tokio::sync::OwnedMutexGuard<rusqlite::Connection>,
    open: bool,
    /// Begun by [`Db::begin_bulk`]: foreign keys off until it ends.
    bulk: bool,
    waiting: Arc<AtomicUsize>,
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        // An error or early return between begin and commit: leave nothing
        // half-written (a statement that failed may have ended it already).
        if self.open && !self.conn.is_autocommit() {
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                tracing::error!(error = %e, "rollback failed");
            }
        }
        // Before the writer goes back to anyone else.
        if self.bulk {
            if let Err(e) = self.conn.execute_batch("PRAGMA foreign_keys = ON") {
                tracing::error!(error = %e, "cannot turn foreign keys back on after a bulk write");
            }
        }
    }
}

/// Every row that names a missing parent, as `PRAGMA foreign_key_check` lists them.
#[cfg(debug_assertions)]
fn broken_references(conn: &rusqlite::Connection) -> Result<Vec<String>, Error> {
    let mut st = conn.prepare("PRAGMA foreign_key_check").map_err(sqlite_err)?;
    let rows = st
        .query_map([], |r| {
            Ok(format!("{} row {} → {}", r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?))
        })
        .map_err(sqlite_err)?;
    rows.collect::<Result<_, _>>().map_err(sqlite_err)
}

/// A transaction; dropped without [`Tx::commit`] it rolls back, so an error
/// anywhere in a multi-step write leaves nothing half-written.
pub enum Tx {
    /// On SQLite.
    Sqlite(SqliteTx),
    /// On PostgreSQL.
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Tx::Sqlite(_) => "Tx::Sqlite",
            Tx::Postgres(_) => "Tx::Postgres",
        })
    }
}

impl Tx {
    /// All rows.
    pub async fn fetch_all<T: FromRow>(&mut self, sql: Sql) -> Result<Vec<T>, Error> {
        match self {
            Tx::Sqlite(t) => sqlite_all(&t.conn, sql, None),
            Tx::Postgres(tx) => pg_ops!(&mut **tx, sql, all),
        }
    }

    /// At most one row.
    pub async fn fetch_optional<T: FromRow>(&mut self, sql: Sql) -> Result<Option<T>, Error> {
        match self {
            Tx::Sqlite(t) => sqlite_all(&t.conn, sql, Some(1)).map(|v| v.into_iter().next()),
            Tx::Postgres(tx) => pg_ops!(&mut **tx, sql, optional),
        }
    }

    /// Exactly one row; `Error::NotFound` when there is none.
    pub async fn fetch_one<T: FromRow>(&mut self, sql: Sql) -> Result<T, Error> {
        self.fetch_optional(sql).await?.ok_or(Error::NotFound)
    }

    /// Holds `key` until this transaction ends, so that transactions naming
    /// the same key run one after another (PostgreSQL's advisory lock; on
    /// SQLite every write transaction already runs alone on the one writer).
    /// For a decision that reads before it writes, such as 查重 before a create.
    pub async fn lock_key(&mut self, key: &str) -> Result<(), Error> {
        match self {
            Tx::Sqlite(_) => Ok(()),
            Tx::Postgres(_) => {
                let q = Sql::new("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))").arg(key);
                self.execute(q).await.map(|_| ())
            }
        }
    }

    /// A write; returns the rows affected.
    pub async fn execute(&mut self, sql: Sql) -> Result<u64, Error> {
        match self {
            Tx::Sqlite(t) => sqlite_execute(&t.conn, sql),
            Tx::Postgres(tx) => pg_ops!(&mut **tx, sql, execute),
        }
    }

    /// Runs several statements of plain SQL without arguments (migrations).
    pub async fn execute_script(&mut self, script: &str) -> Result<(), Error> {
        match self {
            Tx::Sqlite(t) => t.conn.execute_batch(script).map_err(sqlite_err),
            Tx::Postgres(tx) => {
                sqlx::raw_sql(script).execute(&mut **tx).await?;
                Ok(())
            }
        }
    }

    /// The dialect.
    pub fn dialect(&self) -> Dialect {
        match self {
            Tx::Sqlite(_) => Dialect::Sqlite,
            Tx::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Whether other tasks of this process wait for this transaction to end
    /// (SQLite's one writer); always false on PostgreSQL, where they do not.
    pub fn others_waiting(&self) -> bool {
        match self {
            Tx::Sqlite(t) => t.waiting.load(Ordering::Relaxed) > 0,
            Tx::Postgres(_) => false,
        }
    }

    /// Whether it was begun by [`Db::begin_bulk`] on SQLite (foreign keys off).
    pub fn is_bulk(&self) -> bool {
        matches!(self, Tx::Sqlite(t) if t.bulk)
    }

    /// Makes every write of the transaction durable at once.
    pub async fn commit(self) -> Result<(), Error> {
        match self {
            Tx::Sqlite(mut t) => {
                #[cfg(debug_assertions)]
                if t.bulk {
                    let broken = broken_references(&t.conn)?;
                    if !broken.is_empty() {
                        return Err(Error::Db(format!("a bulk write left broken references: {}", broken.join("; "))));
                    }
                }
                t.conn.execute_batch("COMMIT").map_err(sqlite_err)?;
                t.open = false;
            }
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_numbers_placeholders_in_order() {
        let mut q = Sql::new("SELECT 1 WHERE a = ");
        q.bind(1_i64).push(" AND b = ").bind("x");
        assert_eq!(q.text(), "SELECT 1 WHERE a = $1 AND b = $2");
        assert_eq!(q.args.len(), 2);
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact_url("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn sqlite_times_sort_as_text() {
        let a = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z").unwrap().with_timezone(&Utc);
        let b = a + chrono::Duration::microseconds(500);
        let c = a + chrono::Duration::seconds(1);
        let (sa, sb, sc) = (sqlite_time(a), sqlite_time(b), sqlite_time(c));
        assert_eq!(sa, "2026-11-22T10:00:00.000000Z");
        assert!(sa < sb && sb < sc);
    }

    #[tokio::test]
    async fn sqlite_binds_placeholders_by_number_and_round_trips_types() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_sqlite(&dir.path().join("t.db"), &PoolConfig::default()).await.unwrap();
        db.execute(Sql::new("CREATE TABLE t (id BLOB, at TEXT, n INTEGER, b INTEGER, j TEXT, o TEXT)")).await.unwrap();
        let id = Uuid::now_v7();
        let at = DateTime::parse_from_rfc3339("2026-11-22T10:00:00.123456Z").unwrap().with_timezone(&Utc);
        // Placeholders out of order, and one used twice.
        let rows = db
            .execute(
                Sql::new("INSERT INTO t (n, id, at, b, j, o) VALUES ($3, $1, $2, $4, $5, $6)")
                    .arg(id)
                    .arg(at)
                    .arg(7_i64)
                    .arg(true)
                    .arg(serde_json::json!({"a": 1}))
                    .arg(None::<String>),
            )
            .await
            .unwrap();
        assert_eq!(rows, 1);
        let got: (Uuid, DateTime<Utc>, i64, bool, serde_json::Value) = db
            .fetch_one(Sql::new("SELECT id, at, n, b, j FROM t WHERE id = $1 AND n = $2 AND n = $2").arg(id).arg(7_i64))
            .await
            .unwrap();
        assert_eq!(got, (id, at, 7, true, serde_json::json!({"a": 1})));
        let (o,): (Option<String>,) = db.fetch_one(Sql::new("SELECT o FROM t")).await.unwrap();
        assert_eq!(o, None);
        // A transaction dropped without commit leaves nothing.
        {
            let mut tx = db.begin().await.unwrap();
            tx.execute(Sql::new("DELETE FROM t")).await.unwrap();
        }
        let (n,): (i64,) = db.fetch_one(Sql::new("SELECT COUNT(*) FROM t")).await.unwrap();
        assert_eq!(n, 1);
        // Readers cannot write.
        assert!(db.fetch_all::<(i64,)>(Sql::new("DELETE FROM t RETURNING n")).await.is_err());
    }

    /// Statistics gathered on a small table are refreshed once it has grown.
    #[tokio::test]
    async fn sqlite_optimize_refreshes_stale_statistics() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_sqlite(&dir.path().join("t.db"), &PoolConfig::default()).await.unwrap();
        db.execute(Sql::new("CREATE TABLE t (n INTEGER, k TEXT)")).await.unwrap();
        db.execute(Sql::new("CREATE INDEX t_k ON t (k)")).await.unwrap();
        let fill = |from: i64, to: i64| {
            Sql::new("WITH RECURSIVE s(n) AS (SELECT $1 UNION ALL SELECT n + 1 FROM s WHERE n < $2) INSERT INTO t SELECT n, 'k' || n FROM s")
                .arg(from)
                .arg(to)
        };
        db.execute(fill(1, 6)).await.unwrap();
        db.execute(Sql::new("ANALYZE")).await.unwrap();
        let rows = || async {
            let (stat,): (String,) =
                db.fetch_one(Sql::new("SELECT stat FROM sqlite_stat1 WHERE idx = 't_k'")).await.unwrap();
            stat.split(' ').next().unwrap().parse::<i64>().unwrap()
        };
        assert_eq!(rows().await, 6);
        db.execute(fill(7, 20_000)).await.unwrap();
        db.optimize().await.unwrap();
        assert!(rows().await > 1000, "the planner sees the grown table: {}", rows().await);
    }

    /// A bulk transaction writes without SQLite checking each row's parents,
    /// yet a broken reference is never committed (debug builds check them
    /// all before committing), and the writer checks foreign keys again for
    /// whoever writes next, whether the bulk write committed or failed.
    #[tokio::test]
    async fn sqlite_bulk_transactions_turn_foreign_keys_back_on() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_sqlite(&dir.path().join("t.db"), &PoolConfig::default()).await.unwrap();
        db.execute(Sql::new("CREATE TABLE p (id INTEGER PRIMARY KEY)")).await.unwrap();
        db.execute(Sql::new("CREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER NOT NULL REFERENCES p(id))"))
            .await
            .unwrap();
        db.execute(Sql::new("INSERT INTO p (id) VALUES (1)")).await.unwrap();
        let count = || async { db.fetch_one::<(i64,)>(Sql::new("SELECT COUNT(*) FROM c")).await.unwrap().0 };

        let mut tx = db.begin_bulk().await.unwrap();
        assert!(tx.is_bulk());
        let mut b = crate::batch::Batch::new("c", "id, p");
        for (id, p) in [(1_i64, 1_i64), (2, 1)] {
            b.push(&mut tx, [Val::from(id), Val::from(p)]).await.unwrap();
        }
        b.flush(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(count().await, 2);

        let mut tx = db.begin_bulk().await.unwrap();
        tx.execute(Sql::new("INSERT INTO c (id, p) VALUES (3, 99)")).await.unwrap();
        let err = tx.commit().await.unwrap_err().to_string();
        assert!(err.contains("broken references") && err.contains("c row 3"), "{err}");
        assert_eq!(count().await, 2, "nothing of the failed bulk write is kept");

        // A bulk write that ends in an error (the same row twice) is rolled back whole.
        let mut tx = db.begin_bulk().await.unwrap();
        tx.execute(Sql::new("INSERT INTO c (id, p) VALUES (4, 1)")).await.unwrap();
        let mut b = crate::batch::Batch::new("c", "id, p");
        for id in [5_i64, 5] {
            b.push(&mut tx, [Val::from(id), Val::from(1_i64)]).await.unwrap();
        }
        assert!(b.flush(&mut tx).await.is_err(), "a repeated key fails the statement");
        drop(tx);
        assert_eq!(count().await, 2);

        let mut tx = db.begin().await.unwrap();
        assert!(!tx.is_bulk());
        let refused = tx.execute(Sql::new("INSERT INTO c (id, p) VALUES (6, 99)")).await;
        assert!(refused.is_err(), "an ordinary write is checked at once after bulk writes");
        drop(tx);
        assert!(db.execute(Sql::new("INSERT INTO c (id, p) VALUES (7, 99)")).await.is_err());
        assert_eq!(count().await, 2);
    }

    /// A long bulk transaction learns that a write of this process waits for it.
    #[tokio::test]
    async fn sqlite_transaction_sees_writers_waiting_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Db::open_sqlite(&dir.path().join("t.db"), &PoolConfig::default()).await.unwrap());
        db.execute(Sql::new("CREATE TABLE t (n INTEGER)")).await.unwrap();
        let mut tx = db.begin().await.unwrap();
        tx.execute(Sql::new("INSERT INTO t (n) VALUES (1)")).await.unwrap();
        assert!(!tx.others_waiting(), "nobody else writes yet");
        let other = tokio::spawn({
            let db = db.clone();
            async move { db.execute(Sql::new("INSERT INTO t (n) VALUES (2)")).await }
        });
        while !tx.others_waiting() {
            tokio::task::yield_now().await;
            assert!(!other.is_finished(), "the other write cannot finish while the transaction holds the writer");
        }
        tx.commit().await.unwrap();
        assert_eq!(other.await.unwrap().unwrap(), 1);
        let (n,): (i64,) = db.fetch_one(Sql::new("SELECT SUM(n) FROM t")).await.unwrap();
        assert_eq!(n, 3);
        // A wait given up is no longer counted.
        let tx = db.begin().await.unwrap();
        let gave_up = tokio::time::timeout(Duration::from_millis(1), db.begin()).await;
        assert!(gave_up.is_err(), "the writer is taken");
        assert!(!tx.others_waiting());
        tx.commit().await.unwrap();
    }
}
