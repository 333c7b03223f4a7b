//! The `guanxi` binary itself: init, demo, token, backup, errors, shutdown.

use crate::harness::{drop_database, fresh_database, Backend};
use guanxi_store::{Db, PoolConfig, Sql, Target};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_guanxi");

/// A clean environment: no GUANXI_* from the developer's shell, no guanxi.toml in reach.
pub(crate) fn cmd(cwd: &std::path::Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(cwd)
        .env_remove("GUANXI_DATA_DIR")
        .env_remove("GUANXI_DATABASE_URL")
        .env_remove("GUANXI_ADDR")
        .env_remove("GUANXI_CONFIG");
    c.env("RUST_LOG", "warn").kill_on_drop(true);
    c
}

/// `run` with owned arguments.
pub(crate) async fn run_args(cwd: &std::path::Path, args: &[String]) -> (i32, String, String) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(cwd, &args).await
}

async fn run(cwd: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = tokio::time::timeout(Duration::from_secs(60), cmd(cwd).args(args).output())
        .await
        .expect("command finished")
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub(crate) fn db_args(target: &Target) -> Vec<String> {
    match target {
        Target::DataDir(d) => vec!["--data-dir".into(), d.display().to_string()],
        Target::Postgres(url) => vec!["--database-url".into(), url.clone()],
    }
}

async fn count(target: &Target, table: &str) -> i64 {
    let db = Db::connect(target, &PoolConfig::default(), false).await.unwrap();
    let (n,): (i64,) = db.fetch_one(Sql::new(&format!("SELECT COUNT(*) FROM {table}"))).await.unwrap();
    db.close().await;
    n
}

fn assert_one_clean_line(stderr: &str) {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{stderr}");
}

async fn init_and_demo_twice(backend: Backend) {
    let work = tempfile::tempdir().unwrap();
    let (target, _dir, pg) = fresh_database(backend).await;
    let db = db_args(&target);
    let args =
        |extra: &[&str]| -> Vec<String> { extra.iter().map(|s| s.to_string()).chain(db.iter().cloned()).collect() };

    let init = args(&[
        "init",
        "--admin-email",
        "boss@acme.example",
        "--admin-password",
        "secret-password",
        "--workspace",
        "东北销售部",
    ]);
    let init: Vec<&str> = init.iter().map(String::as_str).collect();
    let (code, out, err) = run(work.path(), &init).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("created workspace 东北销售部"), "{out}");
    let (code, out, _) = run(work.path(), &init).await;
    assert_eq!(code, 0);
    assert!(out.contains("already initialised"), "{out}");
    assert_eq!(count(&target, "users").await, 1);
    assert_eq!(count(&target, "workspaces").await, 1);

    let demo = args(&["demo"]);
    let demo: Vec<&str> = demo.iter().map(String::as_str).collect();
    let (code, out, err) = run(work.path(), &demo).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("6 teams, 9 users, 9 accounts and 6 contacts created"), "{out}");
    let users = count(&target, "users").await;
    let teams = count(&target, "teams").await;
    let accounts = count(&target, "accounts").await;
    let contacts = count(&target, "contacts").await;
    let audit = count(&target, "audit_log").await;
    let (code, out, _) = run(work.path(), &demo).await;
    assert_eq!(code, 0);
    assert!(out.contains("0 teams, 0 users, 0 accounts and 0 contacts created"), "{out}");
    assert_eq!(
        (count(&target, "users").await, count(&target, "teams").await),
        (users, teams),
        "demo twice duplicates nothing"
    );
    assert_eq!((accounts, contacts), (9, 6), "the seed's accounts (three in the pool) and people are there");
    assert_eq!((count(&target, "accounts").await, count(&target, "contacts").await), (accounts, contacts));
    assert_eq!(count(&target, "audit_log").await, audit, "and changes nothing");
    assert_eq!(
        (count(&target, "activities").await, count(&target, "tasks").await, count(&target, "purchases").await),
        (3, 4, 2),
        "seed 000's touches, each with its hook, and seed 003's purchases with one restock reminder"
    );

    let token = args(&["token", "create", "--email", "zhang@guanxi.example", "--name", "脚本"]);
    let token: Vec<&str> = token.iter().map(String::as_str).collect();
    let (code, out, err) = run(work.path(), &token).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.trim().starts_with("gxt_"), "{out}");
    let bad_token = args(&["token", "create", "--email", "nobody@guanxi.example"]);
    let bad_token: Vec<&str> = bad_token.iter().map(String::as_str).collect();
    let (code, _, err) = run(work.path(), &bad_token).await;
    assert_ne!(code, 0);
    assert_one_clean_line(&err);
    if let Some(name) = pg {
        drop_database(&name).await;
    }
}

#[tokio::test]
async fn init_and_demo_twice_sqlite() {
    init_and_demo_twice(Backend::Sqlite).await;
}

#[tokio::test]
async fn init_and_demo_twice_postgres() {
    init_and_demo_twice(Backend::Postgres).await;
}

async fn gen_then_bench(backend: Backend) {
    let work = tempfile::tempdir().unwrap();
    let (target, _dir, pg) = fresh_database(backend).await;
    let db = db_args(&target);
    let args =
        |extra: &[&str]| -> Vec<String> { extra.iter().map(|s| s.to_string()).chain(db.iter().cloned()).collect() };
    let gen = args(&["gen", "--users", "20", "--accounts", "3000", "--contacts", "6000"]);
    let gen: Vec<&str> = gen.iter().map(String::as_str).collect();
    let (code, out, err) = run(work.path(), &gen).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("20 generated users, 3000 accounts"), "{out}");
    let (accounts, phones, terms) = (
        count(&target, "accounts").await,
        count(&target, "account_phones").await,
        count(&target, "search_terms").await,
    );
    assert_eq!(accounts, 3000);
    assert!(
        phones >= 3000 && terms > 20 * 3000,
        "generated records have phones ({phones}) and are searchable ({terms})"
    );
    // Topping up to the same size adds nothing.
    let (code, _, err) = run(work.path(), &gen).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(count(&target, "accounts").await, 3000);
    let bench = args(&["bench", "--samples", "20"]);
    let bench: Vec<&str> = bench.iter().map(String::as_str).collect();
    let (code, out, err) = run(work.path(), &bench).await;
    assert_eq!(code, 0, "{err}");
    for figure in ["查重 of one new name", "search, 2-character piece, sales", "account list, 50 rows"] {
        assert!(out.contains(figure), "bench reports {figure}: {out}");
    }
    // The whole workspace to CSV: exactly three pages of 1,000, nothing lost at the page ends.
    let csv_path = work.path().join("accounts.csv");
    let export = args(&["export", "--output", csv_path.to_str().unwrap()]);
    let export: Vec<&str> = export.iter().map(String::as_str).collect();
    let (code, _, err) = run(work.path(), &export).await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("3000 accounts written"), "{err}");
    let text = std::fs::read_to_string(&csv_path).unwrap();
    let text = text.strip_prefix('\u{feff}').expect("a BOM");
    let rows: Vec<csv::StringRecord> =
        csv::Reader::from_reader(text.as_bytes()).records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3000);
    // The export imports back: every row is the record it came from, so a dry run would change nothing.
    let import = args(&["import", csv_path.to_str().unwrap(), "--dry-run"]);
    let import: Vec<&str> = import.iter().map(String::as_str).collect();
    let (code, out, err) = run(work.path(), &import).await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("as accounts") && err.contains("id → id"), "the plan is shown: {err}");
    assert!(
        out.contains("3000 rows read") && out.contains("0 would be created") && out.contains("3000 left as they are"),
        "{out}"
    );
    // All or nothing: one bad row, nothing written, a non-zero exit; then the good rows alone.
    let bad = work.path().join("bad.csv");
    std::fs::write(&bad, "客户名称,电话\n沈阳新客户设备有限公司,024-2345 6789\n,010-1111 2222\n").unwrap();
    let abort = args(&["import", bad.to_str().unwrap(), "--on-error", "abort"]);
    let abort: Vec<&str> = abort.iter().map(String::as_str).collect();
    let (code, _, err) = run(work.path(), &abort).await;
    assert_ne!(code, 0);
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(count(&target, "accounts").await, 3000);
    let skip = args(&["import", bad.to_str().unwrap()]);
    let skip: Vec<&str> = skip.iter().map(String::as_str).collect();
    let (code, out, err) = run(work.path(), &skip).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("1 were created") && out.contains("1 failed") && out.contains("line 3 (row 3) [客户名称]"),
        "{out}"
    );
    assert_eq!(count(&target, "accounts").await, 3001);
    assert!(work.path().join("bad.csv.errors.csv").exists());
    // Other kinds and formats: an XLSX of accounts (the format from the extension), a kind
    // that cannot be exported is named, activities and deals in the guanxi preset's layout, vCards are for contacts.
    let export = args(&["export", "--output", "accounts.xlsx"]);
    let export: Vec<&str> = export.iter().map(String::as_str).collect();
    let (code, _, err) = run(work.path(), &export).await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("3001 accounts written"), "{err}");
    assert!(std::fs::read(work.path().join("accounts.xlsx")).unwrap().starts_with(b"PK"), "a zip: a workbook");
    let export = args(&["export", "--kind", "contacts", "--output", "people.vcf"]);
    let export: Vec<&str> = export.iter().map(String::as_str).collect();
    let (code, _, err) = run(work.path(), &export).await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("contacts written"), "{err}");
    let export = args(&["export", "--kind", "activities", "--output", "touches.csv"]);
    let export: Vec<&str> = export.iter().map(String::as_str).collect();
    let (code, _, err) = run(work.path(), &export).await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("activities written"), "{err}");
    let touches = std::fs::read(work.path().join("touches.csv")).unwrap();
    assert!(touches.starts_with("\u{feff}external_id,account_id,".as_bytes()), "the guanxi preset's layout");
    let export = args(&["export", "--kind", "opportunities", "--output", "deals.csv"]);
    let export: Vec<&str> = export.iter().map(String::as_str).collect();
    let (code, _, err) = run(work.path(), &export).await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("opportunities written"), "{err}");
    let deals = std::fs::read(work.path().join("deals.csv")).unwrap();
    assert!(deals.starts_with("\u{feff}external_id,account_id,account_name,name,stage,".as_bytes()));
    let export = args(&["export", "--kind", "deals", "--output", "x.csv"]);
    let export: Vec<&str> = export.iter().map(String::as_str).collect();
    let (code, _, err) = run(work.path(), &export).await;
    assert_ne!(code, 0);
    assert!(err.contains("use accounts, contacts, activities or opportunities"), "{err}");
    let export = args(&["export", "--output", "x.vcf"]);
    let export: Vec<&str> = export.iter().map(String::as_str).collect();
    let (code, _, err) = run(work.path(), &export).await;
    assert_ne!(code, 0);
    assert!(err.contains("vcf for contacts"), "{err}");
    // Touches and open tasks on the owned accounts, then their figures; jobs run once from cron.
    let gen = args(&["gen", "--activities", "20000", "--tasks", "2000"]);
    let gen: Vec<&str> = gen.iter().map(String::as_str).collect();
    let (code, out, err) = run(work.path(), &gen).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("20000 activities and 2000 open tasks"), "{out}");
    let (code, _, err) = run(work.path(), &gen).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(count(&target, "activities").await, 20000, "topping up adds nothing");
    let bench = args(&["bench", "--activities", "--samples", "20"]);
    let bench: Vec<&str> = bench.iter().map(String::as_str).collect();
    let (code, out, err) = run(work.path(), &bench).await;
    assert_eq!(code, 0, "{err}");
    for figure in ["worklist of a salesperson", "account timeline page (50 touches)", "log a touch with its hook"] {
        assert!(out.contains(figure), "bench reports {figure}: {out}");
    }
    let jobs = args(&["jobs", "run-once"]);
    let jobs: Vec<&str> = jobs.iter().map(String::as_str).collect();
    let (code, out, err) = run(work.path(), &jobs).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("reminders:") && out.contains("deliveries: 0 sent"), "{out}");
    if let Some(name) = pg {
        drop_database(&name).await;
    }
}

#[tokio::test]
async fn gen_then_bench_sqlite() {
    gen_then_bench(Backend::Sqlite).await;
}

#[tokio::test]
async fn gen_then_bench_postgres() {
    gen_then_bench(Backend::Postgres).await;
}

#[tokio::test]
async fn bad_configuration_is_one_clear_line() {
    let work = tempfile::tempdir().unwrap();
    let missing = work.path().join("missing");
    let missing = missing.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["serve", "--data-dir", missing], "does not exist"),
        (vec!["serve", "--database-url", "postgres://nobody@127.0.0.1:1/none"], "cannot connect to PostgreSQL"),
        (vec!["serve", "--database-url", "mysql://root@localhost/x"], "must start with postgres://"),
        (vec!["serve", "--database-url", "postgres://u:hunter2@127.0.0.1:1/x"], "u:***@"),
        (vec!["serve"], "no database given"),
        (vec!["serve", "--data-dir", missing, "--database-url", "postgres://x@y/z"], "give one"),
        (
            vec!["init", "--data-dir", missing, "--admin-email", "not-an-email", "--admin-password", "secret-password"],
            "--admin-email",
        ),
        (
            vec!["init", "--data-dir", missing, "--admin-email", "a@b.example", "--admin-password", ""],
            "--admin-password",
        ),
        (vec!["serve", "--config", "/nonexistent/guanxi.toml"], "config file"),
    ];
    for (args, expect) in cases {
        let (code, _, err) = run(work.path(), &args).await;
        assert_ne!(code, 0, "{args:?}");
        assert_one_clean_line(&err);
        assert!(err.contains(expect), "{args:?}: {err}");
        assert!(!err.contains("hunter2"), "passwords never printed: {err}");
    }
    std::fs::write(work.path().join("guanxi.toml"), "data_dir = \"x\"\nsurprise = 1\n").unwrap();
    let (code, _, err) = run(work.path(), &["migrate"]).await;
    assert_ne!(code, 0);
    assert!(err.contains("guanxi.toml is invalid") && err.contains("surprise"), "{err}");
}

/// A `guanxi serve` process and the address it printed.
pub(crate) struct Server {
    pub(crate) child: tokio::process::Child,
    pub(crate) addr: String,
}

pub(crate) async fn start(work: &std::path::Path, db: &[String], addr: &str) -> Server {
    let mut args: Vec<String> = vec!["serve".into(), "--addr".into(), addr.into()];
    args.extend(db.iter().cloned());
    let mut child = cmd(work).args(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("server started")
        .unwrap()
        .expect("a line");
    let addr =
        line.strip_prefix("listening on http://").unwrap_or_else(|| panic!("unexpected first line {line}")).to_owned();
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Server { child, addr }
}

fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().unwrap().to_string();
    let ok = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success();
    assert!(ok);
}

async fn serve_backup_and_graceful_shutdown(backend: Backend) {
    let work = tempfile::tempdir().unwrap();
    let (target, _dir, pg) = fresh_database(backend).await;
    let db = db_args(&target);
    let mut init: Vec<String> = ["init", "--admin-email", "boss@acme.example", "--admin-password", "secret-password"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    init.extend(db.iter().cloned());
    let init: Vec<&str> = init.iter().map(String::as_str).collect();
    assert_eq!(run(work.path(), &init).await.0, 0);
    let mut token: Vec<String> =
        ["token", "create", "--email", "boss@acme.example"].iter().map(|s| s.to_string()).collect();
    token.extend(db.iter().cloned());
    let token: Vec<&str> = token.iter().map(String::as_str).collect();
    let token = run(work.path(), &token).await.1.trim().to_owned();

    let mut server = start(work.path(), &db, "127.0.0.1:0").await;
    let me = reqwest::Client::new()
        .get(format!("http://{}/api/v1/me", server.addr))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status().as_u16(), 200);

    // A second server on the same port is refused with one clear line.
    let mut args = vec!["serve".to_owned(), "--addr".to_owned(), server.addr.clone()];
    args.extend(db.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, err) = run(work.path(), &args).await;
    assert_ne!(code, 0);
    assert_one_clean_line(&err);
    assert!(err.contains("in use"), "{err}");

    if backend == Backend::Sqlite {
        // An online backup while the server runs is a complete, consistent database.
        let out = work.path().join("backup.db");
        let mut args = vec!["backup".to_owned(), "--output".to_owned(), out.display().to_string()];
        args.extend(db.iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stdout, err) = run(work.path(), &args).await;
        assert_eq!(code, 0, "{err}");
        assert!(stdout.contains("backup written"));
        // It holds password and token hashes: its owner's alone.
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "backup mode {mode:o}");
        let copy = Db::open_sqlite(&out, &PoolConfig::default()).await.unwrap();
        let (n,): (i64,) = copy.fetch_one(Sql::new("SELECT COUNT(*) FROM users")).await.unwrap();
        assert_eq!(n, 1);
        copy.close().await;
        let (code, _, err) = run(work.path(), &args).await;
        assert_ne!(code, 0, "an existing file is never overwritten");
        assert!(err.contains("already exists"), "{err}");
    }

    // Graceful shutdown: a request in flight when SIGTERM arrives is answered.
    let mut stream = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    let body = br#"{"email":"boss@acme.example","password":"secret-password"}"#;
    let head = format!("POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    sigterm(&server.child);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // New connections are no longer accepted...
    assert!(tokio::net::TcpStream::connect(&server.addr).await.is_err() || server.child.try_wait().unwrap().is_none());
    // ...but the one in flight completes.
    stream.write_all(&body[10..]).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_string(&mut response))
        .await
        .expect("response")
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"token\":\"gxs_"));
    let status =
        tokio::time::timeout(Duration::from_secs(20), server.child.wait()).await.expect("server exits").unwrap();
    assert!(status.success(), "exit {status:?}");
    if let Some(name) = pg {
        drop_database(&name).await;
    }
}

#[tokio::test]
async fn serve_backup_and_graceful_shutdown_sqlite() {
    serve_backup_and_graceful_shutdown(Backend::Sqlite).await;
}

#[tokio::test]
async fn serve_backup_and_graceful_shutdown_postgres() {
    serve_backup_and_graceful_shutdown(Backend::Postgres).await;
}

#[test]
fn cli_definition_is_valid() {
    use clap::CommandFactory;
    guanxi::cli::Cli::command().debug_assert();
}

#[test]
fn committed_openapi_document_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    let generated = guanxi_web::api::document_json();
    if std::env::var_os("GUANXI_UPDATE_OPENAPI").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is out of date; regenerate it with `cargo run -p guanxi -- openapi > docs/openapi.json` (or GUANXI_UPDATE_OPENAPI=1 cargo test)"
    );
}

/// The document describes the API as served: a generated client or a fuzzer
/// reading it finds every path parameter declared, every reference resolved,
/// every error as the problem documents the server sends, and the limits it
/// enforces.
#[test]
fn the_openapi_document_says_what_the_server_does() {
    let doc: serde_json::Value = serde_json::from_str(&guanxi_web::api::document_json()).unwrap();
    let text = doc.to_string();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for piece in text.split("\"#/components/schemas/").skip(1) {
        let name = piece.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "unresolved reference {name}");
    }
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let declared: Vec<&str> = op["parameters"]
                .as_array()
                .map(|ps| ps.iter().filter(|p| p["in"] == "path").map(|p| p["name"].as_str().unwrap()).collect())
                .unwrap_or_default();
            for name in path.split('{').skip(1).map(|r| r.split('}').next().unwrap()) {
                assert!(declared.contains(&name), "{method} {path} does not declare {name}");
            }
            let responses = op["responses"].as_object().unwrap();
            for (status, r) in responses {
                if status.starts_with('4') {
                    let types: Vec<&String> = r["content"].as_object().map(|c| c.keys().collect()).unwrap_or_default();
                    assert_eq!(types, ["application/problem+json"], "{method} {path} {status}");
                }
            }
            for status in ["403", "404", "422"] {
                assert!(responses.contains_key(status), "{method} {path} lacks {status}");
            }
            if op["requestBody"].is_object() {
                assert!(responses.contains_key("415"), "{method} {path} lacks 415");
            }
        }
    }
    assert!(operations > 90, "{operations} operations");
    let limit = doc["paths"]["/api/v1/accounts"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap()
        .clone();
    assert_eq!((limit["schema"]["minimum"].as_i64(), limit["schema"]["maximum"].as_i64()), (Some(1), Some(200)));
}

#[tokio::test]
async fn environment_variables_configure_commands() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("data");
    let out = cmd(work.path())
        .env("GUANXI_DATA_DIR", &dir)
        .args(["init", "--admin-email", "boss@acme.example", "--admin-password", "secret-password"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.join("guanxi.db").exists(), "GUANXI_DATA_DIR chose the database");
    // GUANXI_ADDR chooses where serve listens; a taken one is reported by that name.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out =
        cmd(work.path()).env("GUANXI_DATA_DIR", &dir).env("GUANXI_ADDR", &addr).arg("serve").output().await.unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&addr) && err.contains("in use"), "{err}");
    // A guanxi.toml supplies what flags and environment leave out.
    std::fs::write(work.path().join("guanxi.toml"), format!("data_dir = {:?}\n", dir.display().to_string())).unwrap();
    let (code, out, err) = run(work.path(), &["migrate"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("guanxi.db is up to date"), "{out}");
}

#[tokio::test]
async fn dedupe_reads_what_excel_writes_and_names_bad_rows() {
    let work = tempfile::tempdir().unwrap();
    let w = |name: &str, bytes: &[u8]| {
        let p = work.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    };
    let text = "record_id,name,phone,uscc,city,note\n\
                a1,北京华为数字技术有限公司,010-82828888,,北京,x\n\
                a2,华为数字技术（北京）有限公司,,,北京,y\n\
                a3,華為數字技術（北京）有限公司,,91110108551385082R,,z\n\
                a4,华为技术有限公司上海分公司,not-a-phone,,上海,\n\
                a5,华威技术有限公司,,,苏州,\n";
    let out = work.path().join("out.csv").display().to_string();
    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice(text.as_bytes());
    for (file, encoding) in
        [(w("utf8.csv", text.as_bytes()), "UTF-8"), (w("gbk.csv", &gbk), "gb18030"), (w("bom.csv", &bom), "UTF-8")]
    {
        let (code, stdout, err) = run(work.path(), &["dedupe", "--input", &file, "--output", &out]).await;
        assert_eq!(code, 0, "{err}");
        assert!(stdout.starts_with(&format!("5 rows ({encoding}), 3 organisations")), "{stdout}");
        assert!(stdout.contains("1 invalid phones, 1 invalid USCCs"), "{stdout}");
        let clusters = std::fs::read_to_string(&out).unwrap();
        assert_eq!(clusters, "record_id,cluster_id\na1,a1\na2,a1\na3,a1\na4,a4\na5,a5\n", "{file}");
    }
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("ragged.csv", b"record_id,name\n1,a\n2,b,extra\n".to_vec(), "line 3 has 3 fields but the header has 2"),
        ("quote.csv", b"record_id,name\n1,\"unterminated\n2,b\n".to_vec(), "line 2 has a line break inside a field"),
        (
            "quote-note.csv",
            b"record_id,name,note\n1,a,ok\n2,b,\"never closed\n3,c,d\n".to_vec(),
            "on line 3 is never closed",
        ),
        ("columns.csv", b"id,company\n1,a\n".to_vec(), "needs the columns record_id and name"),
        ("empty-id.csv", b"record_id,name\n1,a\n,b\n".to_vec(), "line 3 has an empty record_id"),
        ("binary.csv", (0u8..=255).cycle().take(20000).collect(), "not a text file"),
    ];
    for (name, bytes, expect) in cases {
        let file = w(name, &bytes);
        let (code, _, err) = run(work.path(), &["dedupe", "--input", &file, "--output", &out]).await;
        assert_ne!(code, 0, "{name}");
        assert_one_clean_line(&err);
        assert!(err.contains(expect), "{name}: {err}");
    }
}

/// Accounts saved with one USCC before it was unique are listed for merging
/// by `guanxi dedupe --existing`; once merged, the list is empty and the
/// kept account holds the USCC under the database's rule.
async fn accounts_sharing_a_uscc_are_listed_for_merging(backend: Backend) {
    use guanxi_store::accounts::{self, AccountFields};
    use guanxi_store::audit::Actor;
    let work = tempfile::tempdir().unwrap();
    let (target, _dir, pg) = fresh_database(backend).await;
    let db_args = db_args(&target);
    let mut init: Vec<String> = ["init", "--admin-email", "boss@acme.example", "--admin-password", "secret-password"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    init.extend(db_args.iter().cloned());
    assert_eq!(run_args(work.path(), &init).await.0, 0);
    let db = Db::connect(&target, &PoolConfig::default(), false).await.unwrap();
    let (ws,): (guanxi_domain::WorkspaceId,) = db.fetch_one(Sql::new("SELECT id FROM workspaces")).await.unwrap();
    let actor = Actor::system(ws, "test");
    let now = guanxi_domain::Clock::now(&guanxi_domain::SystemClock);
    let uscc = "91110108551385082Q";
    let mut tx = db.begin().await.unwrap();
    let first = AccountFields {
        uscc: Some(uscc.into()),
        ..AccountFields::new("沈阳远航电气有限公司", guanxi_domain::AccountSource::Other)
    };
    let kept = accounts::create(&mut tx, &actor, &first, None, now).await.unwrap();
    let second = AccountFields::new("远航电气（沈阳）", guanxi_domain::AccountSource::Other);
    let gone = accounts::create(&mut tx, &actor, &second, None, now).await.unwrap();
    // As an earlier version let it be saved.
    tx.execute(
        Sql::new("UPDATE accounts SET uscc = $1, uscc_shared = $2 WHERE id = $3").arg(uscc).arg(true).arg(gone.id),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let mut list: Vec<String> = vec!["dedupe".into(), "--existing".into()];
    list.extend(db_args.iter().cloned());
    let (code, out, err) = run_args(work.path(), &list).await;
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "workspace,uscc,account_id,name,owner,created_at");
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[1].contains(&kept.id.to_string()) && lines[2].contains(&gone.id.to_string()), "oldest first: {out}");

    let mut tx = db.begin().await.unwrap();
    accounts::merge(&mut tx, &actor, kept.id, gone.id, now).await.unwrap();
    tx.commit().await.unwrap();
    let (code, out, _) = run_args(work.path(), &list).await;
    assert_eq!((code, out.lines().count()), (0, 1), "nothing left to merge: {out}");
    db.close().await;
    if let Some(name) = pg {
        drop_database(&name).await;
    }
}

#[tokio::test]
async fn accounts_sharing_a_uscc_are_listed_for_merging_sqlite() {
    accounts_sharing_a_uscc_are_listed_for_merging(Backend::Sqlite).await;
}

#[tokio::test]
async fn accounts_sharing_a_uscc_are_listed_for_merging_postgres() {
    accounts_sharing_a_uscc_are_listed_for_merging(Backend::Postgres).await;
}
