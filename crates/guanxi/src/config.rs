//! Configuration: command-line flags, then environment variables (clap reads
//! `GUANXI_*`), then `guanxi.toml`, then defaults.

use anyhow::{bail, Context};
use guanxi_store::{PoolConfig, Target};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The optional `guanxi.toml`; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// SQLite data directory.
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL.
    pub database_url: Option<String>,
    /// Listen address of `serve`.
    pub addr: Option<String>,
    /// Database connections (PostgreSQL) or SQLite readers.
    pub max_connections: Option<u32>,
    /// Mark cookies Secure (Guanxi reached over https).
    pub secure_cookies: Option<bool>,
    /// Trust X-Forwarded-For from a load balancer.
    pub trust_proxy: Option<bool>,
    /// `text` (default) or `json` logs.
    pub log_format: Option<String>,
    /// Largest file an import may upload, in MB (default 1024).
    pub max_upload_mb: Option<u64>,
    /// Days during which an import can be undone (default 7).
    pub import_undo_days: Option<i64>,
    /// The bearer token a Prometheus scraper sends to `/metrics` (also
    /// `GUANXI_METRICS_TOKEN`); without one, `/metrics` is not served.
    pub metrics_token: Option<String>,
}

impl FileConfig {
    /// Reads the file named explicitly (must exist) or `./guanxi.toml` if present.
    pub fn load(explicit: Option<&Path>) -> anyhow::Result<Self> {
        let (path, required) = match explicit {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from("guanxi.toml"), false),
        };
        if !path.exists() {
            if required {
                bail!("config file {} does not exist", path.display());
            }
            return Ok(Self::default());
        }
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("config file {} is invalid", path.display()))
    }
}

/// Picks the database from flags/environment first, then the file.
pub fn target(data_dir: Option<PathBuf>, database_url: Option<String>, file: &FileConfig) -> anyhow::Result<Target> {
    let data_dir = data_dir.or_else(|| file.data_dir.clone());
    let database_url = database_url.or_else(|| file.database_url.clone());
    match (data_dir, database_url) {
        (Some(_), Some(_)) => bail!("both a data dir and a database URL are set; give one: --data-dir DIR (SQLite) or --database-url postgres://…"),
        (Some(dir), None) => Ok(Target::DataDir(dir)),
        (None, Some(url)) => {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                bail!("database URL must start with postgres:// (for SQLite use --data-dir DIR)");
            }
            Ok(Target::Postgres(url))
        }
        (None, None) => bail!("no database given: pass --data-dir DIR (SQLite) or --database-url postgres://… (or set GUANXI_DATA_DIR / GUANXI_DATABASE_URL)"),
    }
}

/// Pool settings from the file.
pub fn pool(file: &FileConfig) -> PoolConfig {
    PoolConfig { max_connections: file.max_connections.unwrap_or(16), acquire_timeout: Duration::from_secs(10) }
}
