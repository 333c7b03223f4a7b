//! One query layer over two dialects.
//!
//! SQL is written once, with `$1, $2, ...` placeholders (both SQLite and
//! PostgreSQL accept them), and built with [`Sql`], which carries its
//! arguments as backend-neutral [`Val`]s. Executing binds them for whichever
//! backend the [`Db`] holds, and decodes rows through `sqlx::FromRow` for both.
//! Code that truly differs per dialect asks [`Db::dialect`].

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Arguments, FromRow, Postgres, Sqlite};
use std::path::{Path, PathBuf};
use std::str::FromStr;
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
    /// A UUID (BLOB on SQLite, `uuid` on PostgreSQL).
    Uuid(Option<Uuid>),
    /// An instant (TEXT on SQLite, `timestamptz` on PostgreSQL).
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

/// A statement and its arguments, built up in order.
#[derive(Clone, Debug, Default)]
pub struct Sql {
    text: String,
    args: Vec<Val>,
}

impl Sql {
    /// Starts a statement. Placeholders written by hand are `$1, $2, ...` in argument order.
    pub fn new(text: &str) -> Self {
        Self { text: text.to_owned(), args: Vec::new() }
    }

    /// Appends SQL text (never user input: that goes through [`Sql::bind`]).
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends the next placeholder and its value.
    pub fn bind(&mut self, v: impl Into<Val>) -> &mut Self {
        self.args.push(v.into());
        self.text.push('$');
        self.text.push_str(&self.args.len().to_string());
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

fn sqlite_args(args: Vec<Val>) -> Result<SqliteArguments<'static>, Error> {
    let mut a = SqliteArguments::default();
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
        r.map_err(|e| Error::Db(sqlx::Error::Encode(e)))?;
    }
    Ok(a)
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
        r.map_err(|e| Error::Db(sqlx::Error::Encode(e)))?;
    }
    Ok(a)
}

/// A row type both backends can decode.
pub trait DbRow: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}
impl<T> DbRow for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}

// The four operations, once per backend and executor kind. A macro rather
// than generics: sqlx's executor bounds across two databases are unwieldy.
macro_rules! ops {
    ($ex:expr, $db:ty, $args:ident, $sql:expr, all, $T:ty) => {{
        let Sql { text, args } = $sql;
        Ok(sqlx::query_as_with::<$db, $T, _>(&text, $args(args)?).fetch_all($ex).await?)
    }};
    ($ex:expr, $db:ty, $args:ident, $sql:expr, optional, $T:ty) => {{
        let Sql { text, args } = $sql;
        Ok(sqlx::query_as_with::<$db, $T, _>(&text, $args(args)?).fetch_optional($ex).await?)
    }};
    ($ex:expr, $db:ty, $args:ident, $sql:expr, execute) => {{
        let Sql { text, args } = $sql;
        Ok(sqlx::query_with::<$db, _>(&text, $args(args)?).execute($ex).await?.rows_affected())
    }};
}

/// A connection pool to the configured database.
#[derive(Clone, Debug)]
pub enum Db {
    /// SQLite: one writer connection (writes queue in-process instead of
    /// failing with "database is locked") and a read-only pool for reads.
    Sqlite {
        /// Read-only connections.
        read: SqlitePool,
        /// The single writer.
        write: SqlitePool,
        /// The database file.
        path: PathBuf,
    },
    /// PostgreSQL.
    Postgres(PgPool),
}

/// Pool sizes and timeouts.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// Connections to PostgreSQL, or SQLite readers.
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
        let base = SqliteConnectOptions::new()
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            .pragma("cache_size", "-16000");
        let cannot = |e: sqlx::Error| Error::Config(format!("cannot open SQLite database {}: {e}", path.display()));
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(pool.acquire_timeout)
            .connect_with(base.clone().create_if_missing(true))
            .await
            .map_err(cannot)?;
        let read = SqlitePoolOptions::new()
            .max_connections(pool.max_connections.max(1))
            .acquire_timeout(pool.acquire_timeout)
            .connect_with(base.read_only(true))
            .await
            .map_err(cannot)?;
        Ok(Db::Sqlite { read, write, path: path.to_owned() })
    }

    /// The dialect, for the few statements that differ.
    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite { .. } => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Applies pending migrations (idempotent; PostgreSQL serialises concurrent runs with a lock).
    pub async fn migrate(&self) -> Result<(), Error> {
        match self {
            Db::Sqlite { write, .. } => sqlx::migrate!("./migrations/sqlite").run(write).await?,
            Db::Postgres(pg) => sqlx::migrate!("./migrations/postgres").run(pg).await?,
        }
        Ok(())
    }

    /// All rows of a read.
    pub async fn fetch_all<T: DbRow>(&self, sql: Sql) -> Result<Vec<T>, Error> {
        match self {
            Db::Sqlite { read, .. } => ops!(read, Sqlite, sqlite_args, sql, all, T),
            Db::Postgres(pg) => ops!(pg, Postgres, pg_args, sql, all, T),
        }
    }

    /// At most one row of a read.
    pub async fn fetch_optional<T: DbRow>(&self, sql: Sql) -> Result<Option<T>, Error> {
        match self {
            Db::Sqlite { read, .. } => ops!(read, Sqlite, sqlite_args, sql, optional, T),
            Db::Postgres(pg) => ops!(pg, Postgres, pg_args, sql, optional, T),
        }
    }

    /// Exactly one row of a read; `Error::NotFound` when there is none.
    pub async fn fetch_one<T: DbRow>(&self, sql: Sql) -> Result<T, Error> {
        self.fetch_optional(sql).await?.ok_or(Error::NotFound)
    }

    /// A single write outside a transaction; returns the rows affected.
    pub async fn execute(&self, sql: Sql) -> Result<u64, Error> {
        match self {
            Db::Sqlite { write, .. } => ops!(write, Sqlite, sqlite_args, sql, execute),
            Db::Postgres(pg) => ops!(pg, Postgres, pg_args, sql, execute),
        }
    }

    /// Starts a transaction (on SQLite, on the writer connection).
    pub async fn begin(&self) -> Result<Tx, Error> {
        Ok(match self {
            Db::Sqlite { write, .. } => Tx::Sqlite(write.begin().await?),
            Db::Postgres(pg) => Tx::Postgres(pg.begin().await?),
        })
    }

    /// Checks the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), Error> {
        let _: (i64,) = self.fetch_one(Sql::new("SELECT CAST(1 AS BIGINT)")).await?;
        Ok(())
    }

    /// Pool figures for metrics: (open connections, idle connections).
    pub fn pool_stats(&self) -> (u32, usize) {
        match self {
            Db::Sqlite { read, write, .. } => (read.size() + write.size(), read.num_idle() + write.num_idle()),
            Db::Postgres(pg) => (pg.size(), pg.num_idle()),
        }
    }

    /// The SQLite file, when that is the backend.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Db::Sqlite { path, .. } => Some(path),
            Db::Postgres(_) => None,
        }
    }

    /// Writes a consistent copy of an SQLite database to `output` while others
    /// keep reading and writing (`VACUUM INTO` runs in one read transaction).
    pub async fn backup_to(&self, output: &Path) -> Result<(), Error> {
        if output.exists() {
            return Err(Error::Config(format!("{} already exists; choose a new file", output.display())));
        }
        match self {
            Db::Sqlite { read, .. } => {
                let target =
                    output.to_str().ok_or_else(|| Error::Config("the backup path is not valid UTF-8".into()))?;
                // On a reader: the snapshot does not hold up the writer.
                ops!(read, Sqlite, sqlite_args, Sql::new("VACUUM INTO $1").arg(target), execute).map(|_: u64| ())
            }
            Db::Postgres(_) => {
                Err(Error::Config("backup copies the SQLite database; for PostgreSQL use pg_dump".into()))
            }
        }
    }

    /// Closes every connection (at shutdown, and before a test drops its database).
    pub async fn close(&self) {
        match self {
            Db::Sqlite { read, write, .. } => {
                read.close().await;
                write.close().await;
            }
            Db::Postgres(pg) => pg.close().await,
        }
    }
}

/// A transaction; dropped without [`Tx::commit`] it rolls back, so an error
/// anywhere in a multi-step write leaves nothing half-written.
#[derive(Debug)]
pub enum Tx {
    /// On SQLite.
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    /// On PostgreSQL.
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    /// All rows.
    pub async fn fetch_all<T: DbRow>(&mut self, sql: Sql) -> Result<Vec<T>, Error> {
        match self {
            Tx::Sqlite(tx) => ops!(&mut **tx, Sqlite, sqlite_args, sql, all, T),
            Tx::Postgres(tx) => ops!(&mut **tx, Postgres, pg_args, sql, all, T),
        }
    }

    /// At most one row.
    pub async fn fetch_optional<T: DbRow>(&mut self, sql: Sql) -> Result<Option<T>, Error> {
        match self {
            Tx::Sqlite(tx) => ops!(&mut **tx, Sqlite, sqlite_args, sql, optional, T),
            Tx::Postgres(tx) => ops!(&mut **tx, Postgres, pg_args, sql, optional, T),
        }
    }

    /// Exactly one row; `Error::NotFound` when there is none.
    pub async fn fetch_one<T: DbRow>(&mut self, sql: Sql) -> Result<T, Error> {
        self.fetch_optional(sql).await?.ok_or(Error::NotFound)
    }

    /// A write; returns the rows affected.
    pub async fn execute(&mut self, sql: Sql) -> Result<u64, Error> {
        match self {
            Tx::Sqlite(tx) => ops!(&mut **tx, Sqlite, sqlite_args, sql, execute),
            Tx::Postgres(tx) => ops!(&mut **tx, Postgres, pg_args, sql, execute),
        }
    }

    /// The dialect.
    pub fn dialect(&self) -> Dialect {
        match self {
            Tx::Sqlite(_) => Dialect::Sqlite,
            Tx::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Makes every write of the transaction durable at once.
    pub async fn commit(self) -> Result<(), Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
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

    #[tokio::test]
    async fn sqlite_accepts_dollar_placeholders_and_round_trips_types() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_sqlite(&dir.path().join("t.db"), &PoolConfig::default()).await.unwrap();
        db.execute(Sql::new("CREATE TABLE t (id BLOB, at TEXT, n INTEGER, b INTEGER, j TEXT)")).await.unwrap();
        let id = Uuid::now_v7();
        let at = Utc::now();
        let rows = db
            .execute(
                Sql::new("INSERT INTO t VALUES ($1, $2, $3, $4, $5)")
                    .arg(id)
                    .arg(at)
                    .arg(7_i64)
                    .arg(true)
                    .arg(serde_json::json!({"a": 1})),
            )
            .await
            .unwrap();
        assert_eq!(rows, 1);
        let got: (Uuid, DateTime<Utc>, i64, bool, sqlx::types::Json<serde_json::Value>) =
            db.fetch_one(Sql::new("SELECT id, at, n, b, j FROM t WHERE id = $1").arg(id)).await.unwrap();
        assert_eq!((got.0, got.1, got.2, got.3), (id, at, 7, true));
        assert_eq!(got.4 .0["a"], 1);
    }
}
