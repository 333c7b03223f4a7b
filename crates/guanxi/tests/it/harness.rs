//! The test harness: a real server on a random port over a real database.
//!
//! `both!(name)` turns `async fn name(app: &TestApp)` into two tests,
//! `name::sqlite` and `name::postgres`. SQLite gets a fresh file per test;
//! PostgreSQL a fresh database cloned from a migrated template, so every test
//! is isolated and none waits for migrations. PostgreSQL must be reachable:
//! a test fails, never skips, when it is not.

use chrono::{DateTime, Utc};
use guanxi_domain::{
    DisplayName, Email, Locale, ManualClock, Role, TeamId, TeamName, UserId, WorkspaceId, WorkspaceName,
};
use guanxi_store::{teams, users, workspaces, Actor, Db, PoolConfig, Sql, Target};
use guanxi_web::{AppState, WebConfig};
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates the SQLite and PostgreSQL variants of a test.
#[macro_export]
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::harness::TestApp::spawn($crate::harness::Backend::Sqlite).await;
                super::$name(&app).await;
                app.finish().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let app = $crate::harness::TestApp::spawn($crate::harness::Backend::Postgres).await;
                super::$name(&app).await;
                app.finish().await;
            }
        }
    };
}

/// The token the harness's server asks of a metrics scraper.
pub const METRICS_TOKEN: &str = "test-metrics-scraper";

/// The password of every user the harness creates.
pub const PASSWORD: &str = "test-password-1";

/// The PostgreSQL server tests use.
pub fn pg_admin_url() -> String {
    std::env::var("GUANXI_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn pg_url_for(db: &str) -> String {
    let base = pg_admin_url();
    let cut = base.rfind('/').expect("GUANXI_TEST_DATABASE_URL has a database name");
    format!("{}/{db}", &base[..cut])
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();
static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub async fn admin_conn() -> Db {
    Db::connect(
        &Target::Postgres(pg_admin_url()),
        &PoolConfig { max_connections: 2, acquire_timeout: Duration::from_secs(10) },
        false,
    )
    .await
    .unwrap_or_else(|e| {
        panic!("PostgreSQL for tests is not reachable ({e}); start it (see README) or set GUANXI_TEST_DATABASE_URL")
    })
}

/// The migrated template database, created once per schema version.
async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            // Named by what the migration runner applies: a schema change makes a new template.
            let mut text = String::from("runner-v2");
            for m in guanxi_store::migrate::MIGRATIONS {
                text.push_str(&format!("{}:{}:{}", m.version, m.name, m.postgres));
            }
            let name = format!("guanxi_tpl_{:016x}", fnv(text.as_bytes()));
            let admin = admin_conn().await;
            // Several test processes may start at once: one creates, the others wait.
            let mut tx = admin.begin().await.unwrap();
            tx.execute(Sql::new("SELECT pg_advisory_xact_lock(874221)")).await.unwrap();
            let exists: Option<(String,)> = tx
                .fetch_optional(Sql::new("SELECT datname::text FROM pg_database WHERE datname = $1").arg(name.as_str()))
                .await
                .unwrap();
            if exists.is_none() {
                let staging = format!("{name}_staging_{}", std::process::id());
                admin.execute(Sql::new(&format!("CREATE DATABASE {staging}"))).await.unwrap();
                let db =
                    Db::connect(&Target::Postgres(pg_url_for(&staging)), &PoolConfig::default(), false).await.unwrap();
                db.migrate().await.unwrap();
                db.close().await;
                // A closed pool may still be handing its last connection back (sqlx returns
                // connections from a spawned task), and PostgreSQL refuses to rename a
                // database anyone is connected to: end those sessions; the database is ours.
                let rename = format!("ALTER DATABASE {staging} RENAME TO {name}");
                let mut tries = 0;
                loop {
                    admin
                        .execute(
                            Sql::new(
                                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                            )
                            .arg(staging.as_str()),
                        )
                        .await
                        .unwrap();
                    let Err(e) = admin.execute(Sql::new(&rename)).await else { break };
                    tries += 1;
                    assert!(tries < 50, "cannot rename the template database: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            tx.commit().await.unwrap();
            drop_stale_databases(&admin, &name).await;
            admin.close().await;
            name
        })
        .await
}

/// Drops test databases left by test processes that no longer run, and
/// templates of older schemas.
async fn drop_stale_databases(admin: &Db, template: &str) {
    let templates: Vec<(String,)> = admin
        .fetch_all(
            Sql::new("SELECT datname::text FROM pg_database WHERE datname LIKE 'guanxi_tpl_%' AND datname <> $1")
                .arg(template),
        )
        .await
        .unwrap_or_default();
    for (name,) in templates {
        // A template another process is still building (`…_staging_<pid>`) is in use.
        let builder: Option<u32> = name.rsplit_once("_staging_").and_then(|(_, p)| p.parse().ok());
        if builder.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists()) {
            continue;
        }
        let _ = admin.execute(Sql::new(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).await;
    }
    let names: Vec<(String,)> = admin
        .fetch_all(Sql::new("SELECT datname::text FROM pg_database WHERE datname LIKE 'gx_t_%'"))
        .await
        .unwrap_or_default();
    for (name,) in names {
        let pid: Option<u32> = name.split('_').nth(2).and_then(|p| p.parse().ok());
        let alive = pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let _ = admin.execute(Sql::new(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).await;
        }
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100000001b3))
}

/// A fresh, migrated, empty database of a backend: its target and, for
/// PostgreSQL, the database name to drop afterwards.
pub async fn fresh_database(backend: Backend) -> (Target, Option<tempfile::TempDir>, Option<String>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let target = Target::DataDir(dir.path().join("data"));
            (target, Some(dir), None)
        }
        Backend::Postgres => {
            let tpl = template().await;
            let name = format!("gx_t_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
            let admin = admin_conn().await;
            admin.execute(Sql::new(&format!("CREATE DATABASE {name} TEMPLATE {tpl}"))).await.unwrap();
            admin.close().await;
            (Target::Postgres(pg_url_for(&name)), None, Some(name))
        }
    }
}

/// Drops a test's PostgreSQL database.
pub async fn drop_database(name: &str) {
    let admin = admin_conn().await;
    let _ = admin.execute(Sql::new(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).await;
    admin.close().await;
}

/// A user the harness made, with an API token.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: UserId,
    pub email: String,
    pub token: String,
}

/// A running Guanxi on a fresh database, with one workspace and its admin.
pub struct TestApp {
    pub backend: Backend,
    pub base: String,
    pub db: Db,
    pub target: Target,
    pub clock: Arc<ManualClock>,
    pub workspace: WorkspaceId,
    pub admin: TestUser,
    client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestApp {
    /// Starts a server on a fresh database of `backend`.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(
            backend,
            WebConfig {
                metrics_token: Some(METRICS_TOKEN.into()),
                // The vendors' robots are played by local servers.
                webhook_hosts: guanxi_domain::notify::WebhookHosts::for_tests("127.0.0.1"),
                ..WebConfig::default()
            },
        )
        .await
    }

    /// Starts a server with particular web settings.
    pub async fn spawn_with(backend: Backend, config: WebConfig) -> Self {
        // Two rustls providers are compiled into the tests (ring for our HTTP
        // and SMTP clients, aws-lc-rs for the WebDriver client): name one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (target, dir, pg_name) = fresh_database(backend).await;
        let db =
            Db::connect(&target, &PoolConfig { max_connections: 4, acquire_timeout: Duration::from_secs(10) }, true)
                .await
                .unwrap();
        db.migrate().await.unwrap();
        // Microseconds, as both databases store times.
        let clock = Arc::new(ManualClock::new(chrono::SubsecRound::trunc_subsecs(
            guanxi_domain::Clock::now(&guanxi_domain::SystemClock),
            6,
        )));
        let now = clock_now(&clock);
        let mut tx = db.begin().await.unwrap();
        let ws = workspaces::create(&mut tx, &WorkspaceName::parse("name", "测试公司").unwrap(), now).await.unwrap();
        tx.commit().await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = AppState::new(db.clone(), clock.clone(), config);
        let (tx_stop, rx_stop) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(guanxi_web::serve(listener, state, async move {
            let _ = rx_stop.await;
        }));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let mut app = TestApp {
            backend,
            base,
            db,
            target,
            clock,
            workspace: ws.id,
            admin: TestUser { id: UserId::new(), email: String::new(), token: String::new() },
            client,
            shutdown: Some(tx_stop),
            server: Some(server),
            _dir: dir,
            pg_name,
        };
        app.admin = app.user_in(ws.id, "admin@test.example", "管理员", Role::Admin, None).await;
        app
    }

    /// Stops the server and drops the test database.
    pub async fn finish(mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), h).await;
        }
        self.db.close().await;
        if let Some(name) = &self.pg_name {
            drop_database(name).await;
        }
    }

    /// Now, by the test's clock.
    pub fn now(&self) -> DateTime<Utc> {
        clock_now(&self.clock)
    }

    /// Creates a user directly in the store (with password [`PASSWORD`]) and an API token for them.
    pub async fn user_in(
        &self,
        ws: WorkspaceId,
        email: &str,
        name: &str,
        role: Role,
        team: Option<TeamId>,
    ) -> TestUser {
        let actor = Actor::system(ws, "test");
        let now = self.now();
        let mut tx = self.db.begin().await.unwrap();
        let user = users::create(
            &mut tx,
            &actor,
            users::NewUser {
                email: Email::parse("email", email).unwrap(),
                display_name: DisplayName::parse("name", name).unwrap(),
                password_hash: password_hash(),
                role,
                team_id: team,
                locale: Locale::ZhCn,
            },
            now,
        )
        .await
        .unwrap();
        let (_, token) = guanxi_store::auth::create_token(&mut tx, &actor, user.id, "test", now).await.unwrap();
        tx.commit().await.unwrap();
        TestUser { id: user.id, email: email.to_owned(), token }
    }

    /// Creates a team directly in the store.
    pub async fn team_in(&self, ws: WorkspaceId, name: &str, parent: Option<TeamId>) -> TeamId {
        let mut tx = self.db.begin().await.unwrap();
        let t = teams::create(
            &mut tx,
            &Actor::system(ws, "test"),
            teams::NewTeam { name: TeamName::parse("name", name).unwrap(), parent_id: parent, manager_id: None },
            self.now(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        t.id
    }

    /// A second workspace with its own admin, for isolation tests.
    pub async fn other_workspace(&self) -> (WorkspaceId, TestUser) {
        let mut tx = self.db.begin().await.unwrap();
        let ws =
            workspaces::create(&mut tx, &WorkspaceName::parse("name", "别家公司").unwrap(), self.now()).await.unwrap();
        tx.commit().await.unwrap();
        let admin = self.user_in(ws.id, "admin@other.example", "别家管理员", Role::Admin, None).await;
        (ws.id, admin)
    }

    /// A URL on the server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The plain client (no cookies, no redirects followed).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A browser-like client that keeps cookies.
    pub fn cookie_client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    }

    /// GET with a bearer token; returns status and JSON body (Null when not JSON).
    pub async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        let res = self.client.get(self.url(path)).bearer_auth(token).send().await.unwrap();
        read(res).await
    }

    /// A JSON request with a bearer token.
    pub async fn send(&self, method: &str, token: &str, path: &str, body: Value) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let res = self.client.request(m, self.url(path)).bearer_auth(token).json(&body).send().await.unwrap();
        read(res).await
    }

    /// An account written straight to the store, past 查重 (as an old import
    /// left it): for records no user could enter today.
    pub async fn legacy_account(&self, name: &str, owner: Option<UserId>) -> String {
        let fields = guanxi_store::accounts::AccountFields {
            owner_id: owner,
            ..guanxi_store::accounts::AccountFields::new(name, guanxi_domain::AccountSource::Other)
        };
        let mut tx = self.db.begin().await.unwrap();
        let a =
            guanxi_store::accounts::create(&mut tx, &Actor::system(self.workspace, "test"), &fields, None, self.now())
                .await
                .unwrap();
        tx.commit().await.unwrap();
        a.id.to_string()
    }

    /// Number of rows of a table in the test database.
    pub async fn count(&self, table: &str) -> i64 {
        let (n,): (i64,) = self.db.fetch_one(Sql::new(&format!("SELECT COUNT(*) FROM {table}"))).await.unwrap();
        n
    }
}

fn clock_now(clock: &ManualClock) -> DateTime<Utc> {
    guanxi_domain::Clock::now(clock)
}

/// One argon2id hash of [`PASSWORD`], shared: hashing is slow on purpose.
pub fn password_hash() -> String {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| guanxi_store::secret::hash_password(PASSWORD)).clone()
}

/// Status and JSON body of a response.
pub async fn read(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Two teams X (with sub-team X1) and Y, and users in each.
pub struct World {
    pub team_x: TeamId,
    pub team_x1: TeamId,
    pub team_y: TeamId,
    pub manager_x: TestUser,
    pub sales_x: TestUser,
    pub sales_x1: TestUser,
    pub sales_y: TestUser,
}

impl TestApp {
    /// Builds the two-team world scope tests need.
    pub async fn world(&self) -> World {
        let ws = self.workspace;
        let team_x = self.team_in(ws, "东北大区", None).await;
        let team_x1 = self.team_in(ws, "辽宁组", Some(team_x)).await;
        let team_y = self.team_in(ws, "华北大区", None).await;
        World {
            team_x,
            team_x1,
            team_y,
            manager_x: self.user_in(ws, "manager.x@test.example", "刘经理", Role::Manager, Some(team_x)).await,
            sales_x: self.user_in(ws, "sales.x@test.example", "张伟", Role::Sales, Some(team_x)).await,
            sales_x1: self.user_in(ws, "sales.x1@test.example", "王磊", Role::Sales, Some(team_x1)).await,
            sales_y: self.user_in(ws, "sales.y@test.example", "孙强", Role::Sales, Some(team_y)).await,
        }
    }
}

/// A value for a URL's query: every byte but letters, digits, `-` and `.` percent-encoded.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
