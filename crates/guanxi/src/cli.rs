//! The subcommands. Every one is non-interactive so scripts can drive it.

use crate::config::{self, FileConfig};
use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use guanxi_domain::{DisplayName, Email, Locale, Password, Role, SystemClock, WorkspaceName};
use guanxi_store::{users, workspaces, Actor, Db, Target};
use guanxi_web::{AppState, WebConfig};
use std::path::PathBuf;
use std::sync::Arc;

/// Guanxi (关系): a CRM for B2B key-account sales teams.
#[derive(Debug, Parser)]
#[command(name = "guanxi", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the database is (one of the two).
#[derive(Debug, Args, Clone)]
pub struct DbArgs {
    /// Directory of the embedded SQLite database (guanxi.db).
    #[arg(long, global = true, env = "GUANXI_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL instead of SQLite, e.g. postgres://user@host:5432/guanxi.
    #[arg(long, global = true, env = "GUANXI_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Configuration file (default: ./guanxi.toml when present).
    #[arg(long, global = true, env = "GUANXI_CONFIG")]
    pub config: Option<PathBuf>,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the database (or migrate an existing one) with the first workspace and admin.
    Init {
        /// The first admin's e-mail.
        #[arg(long)]
        admin_email: String,
        /// The first admin's password (8+ characters).
        #[arg(long)]
        admin_password: String,
        /// The workspace (your company) name.
        #[arg(long, default_value = "我的公司")]
        workspace: String,
        /// The admin's display name.
        #[arg(long, default_value = "管理员")]
        admin_name: String,
    },
    /// Run the web UI and JSON API.
    Serve(ServeArgs),
    /// Load the demo world (idempotent) and optionally serve it.
    Demo {
        /// Start the server afterwards.
        #[arg(long)]
        serve: bool,
        #[command(flatten)]
        serve_args: ServeArgs,
    },
    /// Background jobs (normally run by `guanxi serve`).
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Export a workspace's accounts, contacts, activities or opportunities in Guanxi's column layout, which imports
    /// back with `--preset guanxi`: CSV (UTF-8 with a BOM; cells a spreadsheet would run as
    /// formulas are neutralised), XLSX, or, for contacts, vCard.
    Export {
        /// What to export: accounts, contacts, activities or opportunities.
        #[arg(long, default_value = "accounts")]
        kind: String,
        /// The file to write (`-` for standard output, CSV only).
        #[arg(long)]
        output: PathBuf,
        /// csv, xlsx or vcf (contacts); by default from the output's extension, else csv.
        #[arg(long)]
        format: Option<String>,
        /// The workspace, by name; may be left out when there is only one.
        #[arg(long)]
        workspace: Option<String>,
    },
    /// Import accounts, contacts, activities or opportunities from a CSV or XLSX file (any Chinese encoding,
    /// delimiter and header row found), with 查重 against the file and the database.
    Import {
        /// The CSV or XLSX file.
        file: PathBuf,
        /// What the file holds (accounts, contacts, activities or opportunities); guessed from the columns when left out.
        #[arg(long)]
        kind: Option<String>,
        /// The column layout of another system's export: guanxi, salesforce, hubspot, twenty, odoo.
        #[arg(long)]
        preset: Option<String>,
        /// Report what would happen; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Bad rows: skip them (the rest is written) or abort (nothing is written).
        #[arg(long, default_value = "skip", value_parser = ["skip", "abort"])]
        on_error: String,
        /// Update the records rows match (by external id or 查重) instead of leaving them.
        #[arg(long)]
        update_existing: bool,
        /// The workspace, by name; may be left out when there is only one.
        #[arg(long)]
        workspace: Option<String>,
        /// Where to write the bad rows (default: FILE.errors.csv beside the file).
        #[arg(long)]
        errors: Option<PathBuf>,
    },
    /// Write a consistent copy of the SQLite database, also while the server runs.
    Backup {
        /// The file to write (must not exist).
        #[arg(long)]
        output: PathBuf,
    },
    /// Print the OpenAPI document (the committed docs/openapi.json is this output).
    Openapi,
    /// Cluster a CSV of company records into organisations (查重) before importing it.
    Dedupe {
        /// CSV with the columns record_id and name, optionally phone, uscc, city
        /// (UTF-8 with or without BOM, UTF-16, or GBK/GB18030).
        #[arg(long, required_unless_present = "existing")]
        input: Option<PathBuf>,
        /// Where to write record_id,cluster_id (one line per input row).
        #[arg(long, required_unless_present = "existing")]
        output: Option<PathBuf>,
        /// A column of true organisation labels to score the result against.
        #[arg(long)]
        truth_column: Option<String>,
        /// Instead: list the database's live accounts that share a USCC (saved
        /// before one USCC was one account), to merge, as CSV on standard output.
        #[arg(long, conflicts_with_all = ["input", "output", "truth_column"])]
        existing: bool,
    },
    /// Measure duplicate checks, search and list pages on the data of `guanxi gen`.
    Bench {
        /// Samples per figure.
        #[arg(long, default_value_t = 1000)]
        samples: usize,
        /// The pool's figures instead (pool list, release job, contended claims). This CHANGES
        /// OWNERSHIP of every account: run it on a database generated for it.
        #[arg(long)]
        pool: bool,
        /// The activity figures instead (worklist, logging a touch with its hook, an account's
        /// timeline), on `guanxi gen --activities` data. Logging adds a touch and a task per sample.
        #[arg(long, conflicts_with = "pool")]
        activities: bool,
    },
    /// Generate realistic data in the demo workspace, for benchmarks and demos.
    Gen {
        /// How many sales users the demo workspace should have in generated teams (idempotent).
        #[arg(long, default_value_t = 0)]
        users: u32,
        /// How many accounts the demo workspace should have (generated ones added, idempotent).
        #[arg(long, default_value_t = 0)]
        accounts: u64,
        /// How many contacts to spread over the accounts generated now.
        #[arg(long, default_value_t = 0)]
        contacts: u64,
        /// How many activities the demo workspace should have, spread over its owned accounts (idempotent).
        #[arg(long, default_value_t = 0)]
        activities: u64,
        /// How many open tasks it should have, spread over the same accounts' owners (idempotent).
        #[arg(long, default_value_t = 0)]
        tasks: u64,
        /// Instead: write a dirty company list with true labels to this CSV (no database needed).
        #[arg(long)]
        dedupe_csv: Option<PathBuf>,
        /// Rows of that list.
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
    },
}

/// Options of the server.
#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Listen address.
    #[arg(long, env = "GUANXI_ADDR")]
    pub addr: Option<String>,
    /// Seconds between runs of the background jobs (the pool's release job).
    #[arg(long, env = "GUANXI_JOBS_INTERVAL", default_value_t = 300)]
    pub jobs_interval: u64,
    /// Do not run background jobs in this instance (run `guanxi jobs run-once` from cron, or let another instance run them).
    #[arg(long, env = "GUANXI_NO_JOBS")]
    pub no_jobs: bool,
    /// Seconds between rounds of reminders (hooks falling due) and deliveries to WeCom, DingTalk, Feishu and e-mail.
    #[arg(long, env = "GUANXI_DELIVER_INTERVAL", default_value_t = 15)]
    pub deliver_interval: u64,
    #[command(flatten)]
    pub smtp: SmtpArgs,
}

/// Where reminder e-mail goes out.
#[derive(Debug, Args, Clone, Default)]
pub struct SmtpArgs {
    /// SMTP relay for e-mail reminders: `smtp://host:25`, `smtp://user:password@host:587?tls=required` or `smtps://user:password@host:465`.
    #[arg(long, env = "GUANXI_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of reminder e-mail, e.g. `Guanxi <crm@example.com>`.
    #[arg(long, env = "GUANXI_SMTP_FROM", default_value = "Guanxi <guanxi@localhost>")]
    pub smtp_from: String,
}

impl SmtpArgs {
    /// The delivery worker's sender.
    pub fn sender(&self) -> anyhow::Result<guanxi_notify::Sender> {
        let smtp = self
            .smtp_url
            .as_ref()
            .map(|url| guanxi_notify::SmtpConfig { url: url.clone(), from: self.smtp_from.clone() });
        Ok(guanxi_notify::Sender::new(smtp.as_ref())?)
    }
}

/// Jobs subcommands.
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Run every job once now (for cron): returns idle accounts to the pool and warns owners before,
    /// reminds of hooks falling due, and delivers what is due to reminder channels.
    RunOnce(SmtpArgs),
}

/// Token subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a new API token for a user.
    Create {
        /// The user's e-mail.
        #[arg(long)]
        email: String,
        /// A label for the token.
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

/// Runs a command to completion.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let file = FileConfig::load(cli.db.config.as_deref())?;
    init_logging(&file);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(run_async(cli, file))
}

fn init_logging(file: &FileConfig) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into());
    // Colours only for a person at a terminal, never in files or log collectors.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let _ = if file.log_format.as_deref() == Some("json") { builder.json().try_init() } else { builder.try_init() };
}

async fn open(cli_db: &DbArgs, file: &FileConfig, create: bool) -> anyhow::Result<(Db, Target)> {
    let target = config::target(cli_db.data_dir.clone(), cli_db.database_url.clone(), file)?;
    let db = Db::connect(&target, &config::pool(file), create).await?;
    db.migrate().await.with_context(|| format!("cannot migrate {}", target.redacted()))?;
    Ok((db, target))
}

async fn run_async(cli: Cli, file: FileConfig) -> anyhow::Result<()> {
    match cli.command {
        Command::Openapi => {
            print!("{}", guanxi_web::api::document_json());
            Ok(())
        }
        Command::Dedupe { existing: true, .. } => {
            let (db, _) = open(&cli.db, &file, false).await?;
            let shared = guanxi_store::accounts::sharing_a_uscc(&db).await;
            db.close().await;
            let mut out = std::io::stdout().lock();
            use std::io::Write as _;
            writeln!(out, "workspace,uscc,account_id,name,owner,created_at")?;
            for s in shared? {
                let cells = [s.workspace, s.uscc, s.account_id.to_string(), s.name, s.owner.unwrap_or_default()];
                let cells: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
                writeln!(out, "{},{}", cells.join(","), s.created_at.to_rfc3339())?;
            }
            Ok(())
        }
        Command::Dedupe { input, output, truth_column, .. } => {
            let (Some(input), Some(output)) = (input, output) else {
                anyhow::bail!("--input and --output are needed (or --existing)");
            };
            let started = std::time::Instant::now();
            let summary =
                tokio::task::spawn_blocking(move || crate::dedupe_cmd::run(&input, &output, truth_column.as_deref()))
                    .await??;
            println!("{summary} ({:.1} s)", started.elapsed().as_secs_f64());
            Ok(())
        }
        Command::Export { kind, output, format, workspace } => {
            anyhow::ensure!(
                ["accounts", "contacts", "activities", "opportunities"].contains(&kind.as_str()),
                "--kind {kind:?}: use accounts, contacts, activities or opportunities"
            );
            let format = format.unwrap_or_else(|| {
                let ext = output.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
                if ext == "xlsx" || ext == "vcf" {
                    ext
                } else {
                    "csv".to_owned()
                }
            });
            let (db, _) = open(&cli.db, &file, false).await?;
            let result = export(&db, workspace.as_deref(), &kind, &format, &output).await;
            db.close().await;
            let n = result?;
            eprintln!("{n} {kind} written to {}", output.display());
            Ok(())
        }
        Command::Import { file: input, kind, preset, dry_run, on_error, update_existing, workspace, errors } => {
            let kind = match kind.as_deref() {
                None => None,
                Some(k) => Some(guanxi_exchange::fields::Kind::parse(k).ok_or_else(|| {
                    anyhow::anyhow!("--kind {k:?}: use accounts, contacts, activities or opportunities")
                })?),
            };
            let on_error = match on_error.as_str() {
                "abort" => guanxi_exchange::import::OnError::Abort,
                _ => guanxi_exchange::import::OnError::Skip,
            };
            let opts =
                guanxi_exchange::import::Options { kind, preset, columns: None, dry_run, on_error, update_existing };
            let (db, _) = open(&cli.db, &file, false).await?;
            let result = crate::import_cmd::run(&db, workspace.as_deref(), &input, errors, &opts).await;
            db.close().await;
            result
        }
        Command::Migrate => {
            let (db, target) = open(&cli.db, &file, true).await?;
            println!("database {} is up to date", target.redacted());
            db.close().await;
            Ok(())
        }
        Command::Init { admin_email, admin_password, workspace, admin_name } => {
            let email = Email::parse("--admin-email", &admin_email)?;
            let password = Password::parse("--admin-password", &admin_password)?;
            let ws_name = WorkspaceName::parse("--workspace", &workspace)?;
            let name = DisplayName::parse("--admin-name", &admin_name)?;
            let (db, target) = open(&cli.db, &file, true).await?;
            let result = init(&db, email, password, ws_name, name).await;
            db.close().await;
            match result? {
                InitOutcome::Created(ws) => {
                    println!("created workspace {ws} with its admin {admin_email} in {}", target.redacted())
                }
                InitOutcome::AlreadyThere => println!(
                    "{} is already initialised; migrations are applied, nothing else changed",
                    target.redacted()
                ),
            }
            Ok(())
        }
        Command::Serve(args) => {
            let (db, _) = open(&cli.db, &file, false).await?;
            serve(db, &file, args).await
        }
        Command::Demo { serve: and_serve, serve_args } => {
            let (db, target) = open(&cli.db, &file, true).await?;
            let report = crate::demo::load(&db, &SystemClock).await?;
            println!("demo world loaded into {} ({})", target.redacted(), report.summary());
            if and_serve {
                let addr = serve_args.addr.clone().or(file.addr.clone()).unwrap_or_else(|| "127.0.0.1:8080".into());
                println!(
                    "\n  Guanxi: http://{addr}/\n  log in as {} with password {}",
                    crate::demo::ADMIN_EMAIL,
                    crate::demo::PASSWORD
                );
                println!("  other demo users (same password): {}\n", crate::demo::other_logins().join(", "));
                serve(db, &file, serve_args).await
            } else {
                db.close().await;
                Ok(())
            }
        }
        Command::Gen { dedupe_csv: Some(path), rows, .. } => {
            let orgs = crate::dirty::write(&path, rows)?;
            println!("{rows} rows of {orgs} organisations written to {}", path.display());
            Ok(())
        }
        Command::Gen { users, accounts, contacts, activities, tasks, dedupe_csv: None, .. } => {
            let (db, target) = open(&cli.db, &file, true).await?;
            let result = async {
                let users = crate::demo::generate_users(&db, &SystemClock, users).await?;
                let (a, c) = crate::crm_gen::generate(&db, &SystemClock, accounts, contacts).await?;
                let (v, t) = if activities > 0 || tasks > 0 {
                    crate::activity_gen::generate(&db, &SystemClock, activities, tasks).await?
                } else {
                    (0, 0)
                };
                anyhow::Ok((users, a, c, v, t))
            }
            .await;
            db.close().await;
            let (users, a, c, v, t) = result?;
            println!("{users} generated users, {a} accounts and {c} contacts in {}", target.redacted());
            if activities > 0 || tasks > 0 {
                println!("{v} activities and {t} open tasks");
            }
            Ok(())
        }
        Command::Bench { samples, pool, activities } => {
            let (db, target) = open(&cli.db, &file, false).await?;
            let result = if pool {
                crate::bench_pool::run(&db, &SystemClock, samples).await
            } else if activities {
                crate::bench_activities::run(&db, &SystemClock, samples).await
            } else {
                crate::bench::run(&db, &SystemClock, samples).await
            };
            db.close().await;
            let (data, figures) = result?;
            println!("{} — {data}\n", target.redacted());
            println!("| what | n | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|");
            for f in figures {
                println!("| {} | {} | {:.2} | {:.2} | {:.2} |", f.what, f.n, f.p50, f.p99, f.max);
            }
            Ok(())
        }
        Command::Jobs { command: JobsCommand::RunOnce(smtp) } => {
            let sender = smtp.sender()?;
            let (db, _) = open(&cli.db, &file, false).await?;
            let result = crate::jobs::run_once(&db, &SystemClock, &sender).await;
            db.close().await;
            let r = result?;
            println!("release job: {} accounts returned to the pool, {} owners warned", r.pool.released, r.pool.warned);
            println!("reminders: {} hooks and tasks falling due", r.reminded);
            println!("greetings: {} holiday and birthday reminders", r.greeted);
            println!(
                "deliveries: {} sent, {} to try again, {} failed",
                r.delivered.sent, r.delivered.retried, r.delivered.failed
            );
            Ok(())
        }
        Command::Token { command: TokenCommand::Create { email, name } } => {
            let email = Email::parse("--email", &email)?;
            let name = DisplayName::parse("--name", &name)?;
            let (db, _) = open(&cli.db, &file, false).await?;
            let result = create_token(&db, &email, name.as_str()).await;
            db.close().await;
            println!("{}", result?);
            Ok(())
        }
        Command::Backup { output } => {
            let (db, _) = open(&cli.db, &file, false).await?;
            let result = db.backup_to(&output).await;
            db.close().await;
            result?;
            println!("backup written to {}", output.display());
            Ok(())
        }
    }
}

enum InitOutcome {
    Created(String),
    AlreadyThere,
}

async fn init(
    db: &Db,
    email: Email,
    password: Password,
    ws_name: WorkspaceName,
    name: DisplayName,
) -> anyhow::Result<InitOutcome> {
    if users::find_by_email(db, &email).await?.is_some() || workspaces::count(db).await? > 0 {
        return Ok(InitOutcome::AlreadyThere);
    }
    let now = guanxi_domain::Clock::now(&guanxi_domain::SystemClock);
    let hash = tokio::task::spawn_blocking(move || guanxi_store::secret::hash_password(password.expose())).await?;
    let mut tx = db.begin().await?;
    let ws = workspaces::create(&mut tx, &ws_name, now).await?;
    let actor = Actor::system(ws.id, "init");
    users::create(
        &mut tx,
        &actor,
        users::NewUser {
            email,
            display_name: name,
            password_hash: hash,
            role: Role::Admin,
            team_id: None,
            locale: Locale::ZhCn,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(InitOutcome::Created(ws.name))
}

/// The workspace named, or the only one.
pub(crate) async fn workspace_named(db: &Db, workspace: Option<&str>) -> anyhow::Result<guanxi_domain::WorkspaceId> {
    let all: Vec<(guanxi_domain::WorkspaceId, String)> =
        db.fetch_all(guanxi_store::Sql::new("SELECT id, name FROM workspaces ORDER BY name")).await?;
    Ok(match workspace {
        Some(name) => all.iter().find(|w| w.1 == name).ok_or_else(|| anyhow::anyhow!("no workspace named {name:?}"))?.0,
        None if all.len() == 1 => all[0].0,
        None => bail!(
            "there are {} workspaces; name one with --workspace ({})",
            all.len(),
            all.iter().map(|w| w.1.as_str()).collect::<Vec<_>>().join(", ")
        ),
    })
}

async fn export(
    db: &Db,
    workspace: Option<&str>,
    kind: &str,
    format: &str,
    output: &std::path::Path,
) -> anyhow::Result<u64> {
    use guanxi_exchange::sheet::{Format, Sheet};
    use guanxi_exchange::{accounts, activities, contacts, opportunities};
    let ws = workspace_named(db, workspace).await?;
    let viewer = guanxi_store::Viewer::whole(ws);
    let stdout = output == std::path::Path::new("-");
    anyhow::ensure!(!stdout || format == "csv", "--output -: only CSV goes to standard output");
    let create = || std::fs::File::create(output).with_context(|| format!("cannot create {}", output.display()));
    let header: &[&str] = match kind {
        "contacts" => &contacts::COLUMNS,
        "activities" => &activities::COLUMNS,
        "opportunities" => &opportunities::COLUMNS,
        _ => &accounts::COLUMNS,
    };
    let mut sheet = match format {
        "csv" if stdout => Sheet::csv(Box::new(std::io::stdout()), header)?,
        "csv" => Sheet::open(Format::Csv, create()?, header)?,
        "xlsx" => Sheet::open(Format::Xlsx, create()?, header)?,
        "vcf" if kind == "contacts" => {
            let mut out = std::io::BufWriter::new(create()?);
            let filter = guanxi_store::contacts::ContactFilter::default();
            let n = contacts::each(db, viewer, &filter, |c| {
                Ok(std::io::Write::write_all(&mut out, contacts::vcard(c).as_bytes())?)
            })
            .await?;
            std::io::Write::flush(&mut out)?;
            return Ok(n);
        }
        other => anyhow::bail!("--format {other:?}: use csv or xlsx (or vcf for contacts)"),
    };
    let n = match kind {
        "contacts" => {
            contacts::export(db, viewer, &guanxi_store::contacts::ContactFilter::default(), &mut sheet).await?
        }
        "activities" => activities::export(db, viewer, guanxi_store::activities::Of::Visible, &mut sheet).await?,
        "opportunities" => {
            let filter = guanxi_store::opportunities::OpportunityFilter::default();
            opportunities::export(db, viewer, &filter, &mut sheet).await?
        }
        _ => accounts::export(db, viewer, &guanxi_store::accounts::AccountFilter::default(), &mut sheet).await?,
    };
    sheet.finish()?;
    Ok(n)
}

async fn create_token(db: &Db, email: &Email, name: &str) -> anyhow::Result<String> {
    let Some(user) = users::find_by_email(db, email).await? else {
        bail!("no user with e-mail {}", email.as_str());
    };
    if user.disabled_at.is_some() {
        bail!("user {} is disabled; enable them before creating a token", email.as_str());
    }
    let mut tx = db.begin().await?;
    let actor = Actor::system(user.workspace_id, "token-create");
    let (_, secret) = guanxi_store::auth::create_token(
        &mut tx,
        &actor,
        user.id,
        name,
        guanxi_domain::Clock::now(&guanxi_domain::SystemClock),
    )
    .await?;
    tx.commit().await?;
    Ok(secret)
}

async fn serve(db: Db, file: &FileConfig, args: ServeArgs) -> anyhow::Result<()> {
    let addr = args.addr.or(file.addr.clone()).unwrap_or_else(|| "127.0.0.1:8080".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => anyhow::anyhow!(
            "cannot listen on {addr}: the address is in use; stop the other server or pass --addr HOST:PORT"
        ),
        _ => anyhow::anyhow!("cannot listen on {addr}: {e}"),
    })?;
    let local = listener.local_addr()?;
    tracing::info!(%local, "guanxi listening");
    // Scripts and tests read this line to learn the port (with --addr 127.0.0.1:0).
    println!("listening on http://{local}");
    let config = WebConfig {
        secure_cookies: file.secure_cookies.unwrap_or(false),
        trust_proxy: file.trust_proxy.unwrap_or(false),
        max_upload: file.max_upload_mb.map_or(WebConfig::default().max_upload, |mb| mb * 1024 * 1024),
        import_undo_days: file.import_undo_days.unwrap_or(WebConfig::default().import_undo_days),
        metrics_token: std::env::var("GUANXI_METRICS_TOKEN")
            .ok()
            .or_else(|| file.metrics_token.clone())
            .filter(|t| !t.trim().is_empty()),
        webhook_hosts: guanxi_domain::notify::WebhookHosts::vendors(),
    };
    let clock: Arc<dyn guanxi_domain::Clock> = Arc::new(SystemClock);
    let sender = args.smtp.sender()?;
    let jobs = (!args.no_jobs && args.jobs_interval > 0).then(|| {
        crate::jobs::spawn(
            db.clone(),
            clock.clone(),
            sender,
            std::time::Duration::from_secs(args.jobs_interval),
            std::time::Duration::from_secs(args.deliver_interval.max(1)),
        )
    });
    let state = AppState::new(db.clone(), clock, config);
    let served = guanxi_web::serve(listener, state, shutdown_signal()).await.context("server failed");
    if let Some(jobs) = jobs {
        jobs.abort();
    }
    served?;
    tracing::info!("in-flight requests finished; closing the database");
    db.close().await;
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested; finishing requests in flight");
}

/// A CSV cell: quoted when it holds a comma, quote or line break; a leading
/// `=`, `+`, `-` or `@` neutralised, as exports do.
fn csv_cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}
