//! Guanxi's storage: one query layer over SQLite and PostgreSQL ([`db`]),
//! the migrations of both, and one module per kind of record.
//!
//! Every write that changes a record takes a [`db::Tx`] and records its audit
//! entry in the same transaction, so a change and its history commit together.
//! Every read of business records goes through [`scope::push_visible`].

pub mod accounts;
pub mod activities;
pub mod audit;
pub mod auth;
pub mod batch;
pub mod children;
pub mod contacts;
pub mod db;
pub mod files;
pub mod greetings;
pub mod imports;
mod lifecycle;
pub mod migrate;
pub mod notifications;
pub mod opportunities;
pub mod outbox;
pub mod ownership;
pub mod pool;
pub mod purchases;
mod refs;
pub mod requests;
pub mod roles;
pub mod scope;
pub mod scripts;
pub mod search;
pub mod secret;
pub mod teams;
pub mod users;
pub mod views;
pub mod workspaces;

pub use audit::Actor;
pub use db::{Conn, Db, Dialect, FromRow, PoolConfig, Sql, Target, Tx, Val};
pub use scope::Viewer;

/// What storage can fail with. Callers map these to HTTP statuses at the edge.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The record does not exist, or is outside the caller's view.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; the string names the rule.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A rule of the data was broken (e.g. a team would become its own ancestor):
    /// the field at fault and why.
    #[error("{0}: {1}")]
    Invalid(&'static str, String),
    /// The database could not be opened or reached as configured.
    #[error("{0}")]
    Config(String),
    /// The database is busy or unreachable; trying again later may work.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// An ownership rule of the pool refused the change (seed 002).
    #[error("refused: {0}")]
    Refused(guanxi_domain::Refusal),
    /// Any other database failure.
    #[error("database error: {0}")]
    Db(String),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        if let Some(db) = e.as_database_error() {
            if db.is_unique_violation() {
                let rule = db.constraint().map(str::to_owned).unwrap_or_else(|| db.message().to_owned());
                return Error::Conflict(rule);
            }
            // The server going away or refusing sessions (SQLSTATE class 08,
            // 57P01–57P03 shutdowns, a database closed to connections): try later.
            let code = db.code().unwrap_or_default();
            if code.starts_with("08")
                || matches!(code.as_ref(), "57P01" | "57P02" | "57P03")
                || (code == "55000" && db.message().contains("accepting connections"))
            {
                return Error::Unavailable(db.message().to_owned());
            }
        }
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                Error::Unavailable(e.to_string())
            }
            other => Error::Db(other.to_string()),
        }
    }
}

/// Results of storage operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
