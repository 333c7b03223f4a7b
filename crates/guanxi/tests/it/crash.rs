//! Crashes: `guanxi import` and `guanxi serve` killed with SIGKILL mid-way,
//! then run again. What a committed write promises must hold: the rerun ends
//! where a clean run ends, nothing acknowledged is missing, nothing is left
//! half-done (every row's references resolve, every live account is found by
//! search, every account has its audit entry).

use crate::cli::{cmd, db_args, run_args, start};
use crate::harness::{drop_database, fresh_database, Backend};
use guanxi_store::{Db, PoolConfig, Sql, Target};
use std::time::Duration;

/// A file of companies, far more than the importer writes in the moment
/// before it is killed.
fn companies(n: usize) -> String {
    const CITY: [&str; 20] = [
        "沈阳",
        "大连",
        "鞍山",
        "抚顺",
        "本溪",
        "丹东",
        "锦州",
        "营口",
        "阜新",
        "辽阳",
        "盘锦",
        "铁岭",
        "朝阳",
        "葫芦岛",
        "长春",
        "吉林",
        "四平",
        "通化",
        "白山",
        "松原",
    ];
    const WORD: [&str; 30] = [
        "远航", "鼎盛", "华腾", "金桥", "长风", "瑞丰", "博远", "海川", "正阳", "恒通", "启明", "天工", "宏达", "永安",
        "盛世", "新元", "凯瑞", "中联", "东方", "北辰", "星河", "润泽", "卓越", "昌隆", "德信", "泰和", "安邦", "联创",
        "众城", "光明",
    ];
    const TRADE: [&str; 12] =
        ["电气", "自动化", "电力设备", "仪表", "能源科技", "通信", "机电", "重工", "智控", "电缆", "变压器", "开关"];
    let mut out = String::from("name,city,source\r\n");
    for i in 0..n {
        let (c, w, t) = (CITY[i % 20], WORD[(i / 20) % 30], TRADE[(i / 600) % 12]);
        let branch = i / 7200;
        let suffix = if branch == 0 { String::new() } else { format!("第{}分公司", branch) };
        out.push_str(&format!("{c}{w}{t}有限公司{suffix},{c},other\r\n"));
    }
    out
}

async fn connect(target: &Target) -> Db {
    Db::connect(target, &PoolConfig::default(), false).await.unwrap()
}

async fn one(db: &Db, sql: &str) -> i64 {
    let (n,): (i64,) = db.fetch_one(Sql::new(sql)).await.unwrap();
    n
}

/// What a run leaves, as counts a clean run and a crashed one must share.
async fn outcome(target: &Target) -> (i64, i64, i64) {
    let db = connect(target).await;
    let live = one(&db, "SELECT COUNT(*) FROM accounts WHERE deleted_at IS NULL").await;
    let keys = one(&db, "SELECT COUNT(*) FROM import_keys").await;
    let phones = one(&db, "SELECT COUNT(*) FROM account_phones").await;
    db.close().await;
    (live, keys, phones)
}

/// Nothing half-done: references resolve, live accounts are in the search
async fn assert_whole(target: &Target) {
    let db = connect(target).await;
    if matches!(target, Target::DataDir(_)) {
        // PostgreSQL enforces its foreign keys at every commit; SQLite checks them on request.
        assert_eq!(one(&db, "SELECT COUNT(*) FROM pragma_foreign_key_check").await, 0, "dangling references");
    }
    let live = one(&db, "SELECT COUNT(*) FROM accounts WHERE deleted_at IS NULL").await;
    let indexed = one(
        &db,
        "SELECT COUNT(DISTINCT entity_id) FROM search_terms WHERE entity_id IN (SELECT id FROM accounts WHERE deleted_at IS NULL)",
    )
    .await;
    assert_eq!(indexed, live, "every live account is found by search");
    let unaudited = one(
        &db,
        "SELECT COUNT(*) FROM accounts a WHERE NOT EXISTS \
         (SELECT 1 FROM audit_log l WHERE l.entity_type = 'account' AND l.entity_id = a.id)",
    )
    .await;
    assert_eq!(unaudited, 0, "every account has its audit entry");
    db.close().await;
}

async fn init(work: &std::path::Path, db: &[String]) {
    let mut args: Vec<String> = ["init", "--admin-email", "boss@acme.example", "--admin-password", "secret-password"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(["--workspace".into(), "东北销售部".into()]);
    args.extend(db.iter().cloned());
    let (code, out, err) = run_args(work, &args).await;
    assert_eq!(code, 0, "{out}{err}");
}

async fn an_import_killed_midway_and_run_again_ends_as_a_clean_run(backend: Backend) {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("客户.csv");
    const ROWS: usize = 24_000;
    std::fs::write(&file, companies(ROWS)).unwrap();
    let import = |db: &[String]| -> Vec<String> {
        let mut a = vec!["import".to_owned(), file.display().to_string(), "--kind".into(), "accounts".into()];
        a.extend(db.iter().cloned());
        a
    };

    // A clean run, for what the crashed one must end as.
    let (clean, _clean_dir, clean_pg) = fresh_database(backend).await;
    let clean_db = db_args(&clean);
    init(work.path(), &clean_db).await;
    let (code, out, err) = run_args(work.path(), &import(&clean_db)).await;
    assert_eq!(code, 0, "{out}{err}");
    let expected = outcome(&clean).await;
    assert!(expected.0 > 10_000, "the file's companies are there: {expected:?}");

    // The same file, killed once it has written some of it.
    let (target, _dir, pg) = fresh_database(backend).await;
    let db = db_args(&target);
    init(work.path(), &db).await;
    let mut child = cmd(work.path()).args(import(&db)).spawn().unwrap();
    let watcher = connect(&target).await;
    let mut written = 0;
    for _ in 0..6000 {
        written = one(&watcher, "SELECT COUNT(*) FROM accounts").await;
        if written > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.start_kill().unwrap();
    let status = child.wait().await.unwrap();
    watcher.close().await;
    assert!(!status.success(), "killed, not finished");
    let at_kill = outcome(&target).await;
    assert!(written > 0 && at_kill.0 < expected.0, "killed mid-way: {at_kill:?} of {expected:?}");

    // Run again: it ends where the clean run ended.
    let (code, out, err) = run_args(work.path(), &import(&db)).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(outcome(&target).await, expected, "the rerun ends as a clean run");
    assert_whole(&target).await;
    // A third run changes nothing.
    let (code, out, err) = run_args(work.path(), &import(&db)).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(outcome(&target).await, expected);

    for name in [pg, clean_pg].into_iter().flatten() {
        drop_database(&name).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_killed_midway_and_run_again_ends_as_a_clean_run_sqlite() {
    an_import_killed_midway_and_run_again_ends_as_a_clean_run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_killed_midway_and_run_again_ends_as_a_clean_run_postgres() {
    an_import_killed_midway_and_run_again_ends_as_a_clean_run(Backend::Postgres).await;
}

async fn a_server_killed_under_writes_keeps_what_it_acknowledged(backend: Backend) {
    let work = tempfile::tempdir().unwrap();
    let (target, _dir, pg) = fresh_database(backend).await;
    let db = db_args(&target);
    init(work.path(), &db).await;
    let mut token_args: Vec<String> =
        ["token", "create", "--email", "boss@acme.example"].iter().map(|s| s.to_string()).collect();
    token_args.extend(db.iter().cloned());
    let (code, token, err) = run_args(work.path(), &token_args).await;
    assert_eq!(code, 0, "{err}");
    let token = token.trim().to_owned();
    let mut server = start(work.path(), &db, "127.0.0.1:0").await;
    let base = format!("http://{}", server.addr);

    // Eight writers, each entering accounts with a contact and a touch, until the server dies.
    let names = companies(4000);
    let names: Vec<String> = names.lines().skip(1).map(|l| l.split(',').next().unwrap().to_owned()).collect();
    let mut writers = Vec::new();
    for w in 0..8 {
        let (base, token) = (base.clone(), token.clone());
        let mine: Vec<String> = names.iter().skip(w).step_by(8).cloned().collect();
        writers.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
            let mut acknowledged = Vec::new();
            for name in mine {
                let body = serde_json::json!({"name": name, "source": "other", "force": true, "force_reason": "压测"});
                let Ok(res) = client.post(format!("{base}/api/v1/accounts")).bearer_auth(&token).json(&body).send().await
                else {
                    break;
                };
                if res.status().as_u16() != 201 {
                    continue;
                }
                let Ok(a) = res.json::<serde_json::Value>().await else { break };
                let account = a["id"].as_str().unwrap().to_owned();
                let touch = serde_json::json!({"account_id": account, "kind": "call", "outcome": "connected", "no_hook_reason": "no_need"});
                let touched = match client.post(format!("{base}/api/v1/activities")).bearer_auth(&token).json(&touch).send().await {
                    Ok(res) if res.status().as_u16() == 201 => {
                        res.json::<serde_json::Value>().await.ok().and_then(|t| t["id"].as_str().map(str::to_owned))
                    }
                    _ => None,
                };
                acknowledged.push((account, touched));
            }
            acknowledged
        }));
    }
    // Let them write for a while, then pull the plug.
    let watcher = connect(&target).await;
    for _ in 0..2000 {
        if one(&watcher, "SELECT COUNT(*) FROM accounts").await >= 150 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    watcher.close().await;
    server.child.start_kill().unwrap();
    server.child.wait().await.unwrap();
    let mut acknowledged = Vec::new();
    for w in writers {
        acknowledged.extend(w.await.unwrap());
    }
    assert!(acknowledged.len() >= 100, "the writers wrote before the crash: {}", acknowledged.len());
    assert!(acknowledged.len() < names.len(), "the server died before they were done");

    // Restarted, it has every write it acknowledged, and nothing half-done.
    let mut server = start(work.path(), &db, "127.0.0.1:0").await;
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::new();
    let mut missing = Vec::new();
    for (account, touch) in &acknowledged {
        let res = client.get(format!("{base}/api/v1/accounts/{account}")).bearer_auth(&token).send().await.unwrap();
        if res.status().as_u16() != 200 {
            missing.push(format!("account {account}: {}", res.status()));
        }
        if let Some(t) = touch {
            let res = client
                .get(format!("{base}/api/v1/activities?account_id={account}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            let page: serde_json::Value = res.json().await.unwrap();
            if !page["items"].as_array().is_some_and(|items| items.iter().any(|i| i["id"] == t.as_str())) {
                missing.push(format!("touch {t}"));
            }
        }
    }
    assert!(missing.is_empty(), "acknowledged, then lost: {missing:?}");
    assert_whole(&target).await;
    // And it goes on taking writes.
    let body = serde_json::json!({"name": "重启之后新建的客户有限公司", "source": "other"});
    let res = client.post(format!("{base}/api/v1/accounts")).bearer_auth(&token).json(&body).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 201);
    server.child.start_kill().unwrap();
    let _ = server.child.wait().await;
    if let Some(name) = pg {
        drop_database(&name).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_under_writes_keeps_what_it_acknowledged_sqlite() {
    a_server_killed_under_writes_keeps_what_it_acknowledged(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_under_writes_keeps_what_it_acknowledged_postgres() {
    a_server_killed_under_writes_keeps_what_it_acknowledged(Backend::Postgres).await;
}
