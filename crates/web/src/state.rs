//! What every handler shares.

use crate::i18n::Catalogs;
use guanxi_domain::Clock;
use guanxi_store::Db;
use std::sync::Arc;

/// Settings of the HTTP edge.
#[derive(Clone, Debug)]
pub struct WebConfig {
    /// Mark cookies `Secure` (set when Guanxi is reached over https).
    pub secure_cookies: bool,
    /// Trust `X-Forwarded-For` / `X-Forwarded-Proto` from a load balancer in front.
    pub trust_proxy: bool,
    /// Largest file an import may upload, in bytes.
    pub max_upload: u64,
    /// Days after an import during which it can be undone.
    pub import_undo_days: i64,
    /// The bearer token `/metrics` asks for; without one, `/metrics` is not
    /// served (it names routes, volumes and the database pool).
    pub metrics_token: Option<String>,
    /// Where robot webhooks may point: the vendors' hosts. Only tests widen
    /// it (to their local stand-ins); no configuration file or variable does.
    pub webhook_hosts: guanxi_domain::notify::WebhookHosts,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            trust_proxy: false,
            max_upload: 1024 * 1024 * 1024,
            import_undo_days: 7,
            metrics_token: None,
            webhook_hosts: guanxi_domain::notify::WebhookHosts::vendors(),
        }
    }
}

/// The application state.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

/// The shared parts.
#[derive(Debug)]
pub struct Inner {
    /// The database.
    pub db: Db,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Settings.
    pub config: WebConfig,
    /// UI texts.
    pub i18n: Catalogs,
}

impl AppState {
    /// Builds the state.
    pub fn new(db: Db, clock: Arc<dyn Clock>, config: WebConfig) -> Self {
        Self(Arc::new(Inner { db, clock, config, i18n: Catalogs::load() }))
    }

    /// Today's date in China (birthdays, due dates).
    pub fn today(&self) -> chrono::NaiveDate {
        self.clock.now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive()
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
