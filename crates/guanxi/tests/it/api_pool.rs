//! The public pool (公海): claiming and releasing under the pool's rules,
//! the release job, and claims racing each other (also across processes).

use crate::harness::{Backend, TestApp, TestUser};
use chrono::Duration;
use guanxi_domain::Role;
use guanxi_store::ownership;
use guanxi_store::Sql;
use serde_json::{json, Value};

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (status, v) = app.send("POST", token, path, body).await;
    assert!(status == 200 || status == 201, "{path}: {status} {v}");
    v
}

/// Names 查重 keeps apart: different trade names in different cities.
fn company(i: usize) -> String {
    const TRADE: [&str; 16] = [
        "鼎盛", "华信", "恒通", "金桥", "瑞丰", "广源", "天成", "宏达", "博远", "正泰", "新元", "嘉禾", "腾跃", "汇川",
        "九洲", "凯旋",
    ];
    const CITY: [&str; 4] = ["沈阳", "大连", "鞍山", "锦州"];
    const TRADE_LINE: [&str; 2] = ["电气设备", "自动化工程"];
    format!("{}{}{}有限公司", CITY[i % 4], TRADE[i % 16], TRADE_LINE[i / 16 % 2])
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// The default pool's id, as a member sees it.
async fn default_pool(app: &TestApp, token: &str) -> String {
    let (status, pools) = app.get(token, "/api/v1/pools").await;
    assert_eq!(status, 200, "{pools}");
    assert_eq!(pools[0]["is_default"], true, "{pools}");
    id(&pools[0])
}

/// An unowned account, entered by the admin: it sits in the default pool.
async fn pooled(app: &TestApp, name: &str, extra: Value) -> String {
    let mut body = json!({"name": name, "source": "cold_call", "owner_id": null});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let a = post(app, &app.admin.token, "/api/v1/accounts", body).await;
    assert_eq!(a["owner_id"], Value::Null, "{a}");
    id(&a)
}

async fn actions(app: &TestApp, account: &str) -> Vec<(String, String)> {
    let uuid: uuid::Uuid = account.parse().unwrap();
    app.db
        .fetch_all(Sql::new("SELECT action, actor_label FROM audit_log WHERE entity_id = $1 ORDER BY at, id").arg(uuid))
        .await
        .unwrap()
}

async fn claiming_and_releasing_follow_the_pool_rules(app: &TestApp) {
    let w = app.world().await;
    let (x, y) = (&w.sales_x.token, &w.sales_y.token);
    let pool = default_pool(app, x).await;
    let a = pooled(app, "沈阳鼎盛电力科技有限公司", json!({"phones": ["138 1234 5678"], "notes": "上任负责人的备注"}))
        .await;

    // In the pool, a non-owner sees the phone masked and the notes hidden.
    let (status, list) = app.get(y, &format!("/api/v1/pools/{pool}/accounts")).await;
    assert_eq!(status, 200, "{list}");
    let row = list["items"].as_array().unwrap().iter().find(|r| r["id"] == a.as_str()).expect("listed").clone();
    assert_eq!(row["phones"][0]["display"], "138****5678", "{row}");
    assert_eq!(row["notes"], Value::Null);

    // One click: it is the claimer's, with a return date 30 days out (unclassified, no activity).
    let claimed = post(app, x, &format!("/api/v1/accounts/{a}/claim"), json!({})).await;
    assert_eq!(claimed["owner_id"], w.sales_x.id.to_string());
    assert_eq!(claimed["ownership"]["release_rule"], "no_activity");
    let due: chrono::DateTime<chrono::Utc> = claimed["ownership"]["release_due_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(due, app.now() + Duration::days(30));
    assert_eq!(claimed["phones"][0]["display"], "138 1234 5678", "the owner sees the number");
    let (_, list) = app.get(y, &format!("/api/v1/pools/{pool}/accounts")).await;
    assert!(list["items"].as_array().unwrap().iter().all(|r| r["id"] != a.as_str()), "no longer in the pool");

    // Nobody else takes it, and the owner is told it is theirs already.
    let (status, problem) = app.send("POST", y, &format!("/api/v1/accounts/{a}/claim"), json!({})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("owned_by_other")), "{problem}");
    assert_eq!(problem["owner_name"], "张伟");
    let (status, problem) = app.send("POST", x, &format!("/api/v1/accounts/{a}/claim"), json!({})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("already_owned")));

    // A salesperson who may see a colleague's account (team scope) still may not release it.
    let (status, _) = app.send("PATCH", &app.admin.token, "/api/v1/roles/sales", json!({"data_scope": "team"})).await;
    assert_eq!(status, 200);
    let colleague = app.user_in(app.workspace, "colleague@test.example", "同组同事", Role::Sales, Some(w.team_x)).await;
    let (status, problem) =
        app.send("POST", &colleague.token, &format!("/api/v1/accounts/{a}/release"), json!({"reason": "我来"})).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("not_owner")), "{problem}");
    let (status, _) = app.send("PATCH", &app.admin.token, "/api/v1/roles/sales", json!({"data_scope": "own"})).await;
    assert_eq!(status, 200);
    // Releasing: someone else's account cannot be; a reason is required.
    let (status, _) = app.send("POST", y, &format!("/api/v1/accounts/{a}/release"), json!({"reason": "我来"})).await;
    assert_eq!(status, 404, "another salesperson cannot even see it");
    let (status, problem) = app.send("POST", x, &format!("/api/v1/accounts/{a}/release"), json!({"reason": " "})).await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("reason")), "{problem}");
    let released = post(app, x, &format!("/api/v1/accounts/{a}/release"), json!({"reason": "客户今年无预算"})).await;
    assert_eq!(released["owner_id"], Value::Null);
    assert_eq!(released["ownership"]["release_reason"], "manual");
    assert_eq!(released["ownership"]["release_note"], "客户今年无预算");
    assert_eq!(released["ownership"]["previous_owner_name"], "张伟");
    let (status, problem) =
        app.send("POST", x, &format!("/api/v1/accounts/{a}/release"), json!({"reason": "再退"})).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("not_found")),
        "out of a salesperson's scope once pooled"
    );

    // Filtered by why it came back.
    let (_, list) = app.get(y, &format!("/api/v1/pools/{pool}/accounts?release_reason=manual")).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    let (_, list) = app.get(y, &format!("/api/v1/pools/{pool}/accounts?release_reason=no_activity")).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");

    // The one who released it waits out the cooldown (7 days); others need not.
    let (status, problem) = app.send("POST", x, &format!("/api/v1/accounts/{a}/claim"), json!({})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("claim_cooldown")), "{problem}");
    assert!(problem["until"].is_string(), "{problem}");
    app.clock.advance(Duration::days(7) + Duration::minutes(1));
    post(app, x, &format!("/api/v1/accounts/{a}/claim"), json!({})).await;

    // A deleted account is not claimable; every step is in the history.
    let b = pooled(app, "大连港集团有限公司", json!({})).await;
    app.send("DELETE", &app.admin.token, &format!("/api/v1/accounts/{b}"), Value::Null).await;
    let (status, _) = app.send("POST", y, &format!("/api/v1/accounts/{b}/claim"), json!({})).await;
    assert_eq!(status, 404);
    let history: Vec<String> = actions(app, &a).await.into_iter().map(|(a, _)| a).collect();
    assert_eq!(history, ["create", "claim", "release", "claim"]);
}
both!(claiming_and_releasing_follow_the_pool_rules);

async fn pool_limits_and_bad_rules(app: &TestApp) {
    let w = app.world().await;
    let x = &w.sales_x.token;
    let pool = default_pool(app, x).await;
    let (_, before) = app.get(&app.admin.token, &format!("/api/v1/pools/{pool}")).await;

    // Bad rules name the field and change nothing; salespeople do not configure pools.
    let mut rules = before["rules"].clone();
    rules["cooldown_days"] = json!(-1);
    rules["return_after"]["c"]["no_activity_days"] = json!(0);
    // The default pool names nobody: a manager may not change what binds the whole workspace.
    let (status, problem) =
        app.send("PATCH", &w.manager_x.token, &format!("/api/v1/pools/{pool}"), json!({"rules": rules})).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("forbidden")), "{problem}");
    let (status, problem) =
        app.send("PATCH", &app.admin.token, &format!("/api/v1/pools/{pool}"), json!({"rules": rules})).await;
    assert_eq!(status, 422, "{problem}");
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["rules.cooldown_days", "rules.return_after.c.no_activity_days"]);
    let (_, after) = app.get(&app.admin.token, &format!("/api/v1/pools/{pool}")).await;
    assert_eq!(after, before, "nothing changed");
    let (status, _) = app.send("PATCH", x, &format!("/api/v1/pools/{pool}"), json!({"name": "我的公海"})).await;
    assert_eq!(status, 403);

    let mut rules = before["rules"].clone();
    rules["max_owned"] = json!(2);
    rules["daily_claims"] = json!(3);
    let changed = post_patch(app, &app.admin.token, &pool, json!({"rules": rules})).await;
    assert_eq!(changed["rules"]["max_owned"], 2);

    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(pooled(app, &company(i), json!({})).await);
    }
    post(app, x, &format!("/api/v1/accounts/{}/claim", ids[0]), json!({})).await;
    post(app, x, &format!("/api/v1/accounts/{}/claim", ids[1]), json!({})).await;
    let (status, problem) = app.send("POST", x, &format!("/api/v1/accounts/{}/claim", ids[2]), json!({})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("ownership_limit")), "{problem}");
    // Creating one more of one's own is held to the same limit.
    let (status, problem) =
        app.send("POST", x, "/api/v1/accounts", json!({"name": "超额新建的客户有限公司", "source": "other"})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("ownership_limit")), "{problem}");
    post(app, x, &format!("/api/v1/accounts/{}/release", ids[0]), json!({"reason": "不合适"})).await;
    post(app, x, &format!("/api/v1/accounts/{}/claim", ids[2]), json!({})).await;
    post(app, x, &format!("/api/v1/accounts/{}/release", ids[2]), json!({"reason": "不合适"})).await;
    let (status, problem) = app.send("POST", x, &format!("/api/v1/accounts/{}/claim", ids[3]), json!({})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("daily_claim_limit")), "{problem}");
    // A new day, new claims (days are the workspace's, Asia/Shanghai).
    app.clock.advance(Duration::days(1));
    post(app, x, &format!("/api/v1/accounts/{}/claim", ids[3]), json!({})).await;

    // A pool for one team: others do not see it.
    let east =
        post(app, &app.admin.token, "/api/v1/pools", json!({"name": "华北公海", "teams": [w.team_y.to_string()]}))
            .await;
    let (status, _) = app.get(x, &format!("/api/v1/pools/{}", id(&east))).await;
    assert_eq!(status, 404);
    let (status, _) = app.get(&w.sales_y.token, &format!("/api/v1/pools/{}/accounts", id(&east))).await;
    assert_eq!(status, 200);
    let (status, problem) = app.send("POST", &app.admin.token, "/api/v1/pools", json!({"name": "华北公海"})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("pool_name_taken")));

    // A manager moves a pooled account to that pool: its members see it, others cannot claim it.
    let moved = format!("/api/v1/accounts/{}/pool", ids[4]);
    let (status, _) = app.send("PUT", x, &moved, json!({"pool_id": id(&east)})).await;
    assert_eq!(status, 403, "salespeople do not move accounts between pools");
    let (status, a) = app.send("PUT", &app.admin.token, &moved, json!({"pool_id": id(&east)})).await;
    assert_eq!((status, a["ownership"]["pool_id"].as_str()), (200, Some(id(&east).as_str())), "{a}");
    let (_, list) = app.get(&w.sales_y.token, &format!("/api/v1/pools/{}/accounts", id(&east))).await;
    assert!(list["items"].as_array().unwrap().iter().any(|r| r["id"] == ids[4].as_str()), "{list}");
    // To someone outside the pool it is not there: 404, as reading it is, never a 409 saying it exists.
    let (status, problem) = app.send("POST", x, &format!("/api/v1/accounts/{}/claim", ids[4]), json!({})).await;
    assert_eq!((status, problem["code"].as_str()), (404, Some("not_found")), "{problem}");
}
both!(pool_limits_and_bad_rules);

async fn post_patch(app: &TestApp, token: &str, pool: &str, body: Value) -> Value {
    let (status, v) = app.send("PATCH", token, &format!("/api/v1/pools/{pool}"), body).await;
    assert_eq!(status, 200, "{v}");
    v
}

async fn the_release_job_warns_then_returns_idle_accounts(app: &TestApp) {
    let w = app.world().await;
    let x = &w.sales_x.token;
    let c = post(
        app,
        x,
        "/api/v1/accounts",
        json!({"name": "抚顺石化设备有限公司", "source": "referral", "classification": "c"}),
    )
    .await;
    let a = post(
        app,
        x,
        "/api/v1/accounts",
        json!({"name": "鞍钢集团有限公司", "source": "referral", "classification": "a"}),
    )
    .await;
    assert_eq!(c["ownership"]["release_rule"], "no_activity");

    // 27 days idle: within the 3 warning days of C's 30; A's 90 are far.
    app.clock.advance(Duration::days(27) + Duration::hours(1));
    let r = ownership::run_job(&app.db, app.now()).await.unwrap();
    assert_eq!((r.released, r.warned), (0, 1));
    let (_, notes) = app.get(x, "/api/v1/notifications?unread=true").await;
    let items = notes["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{notes}");
    assert_eq!(
        (items[0]["kind"].as_str(), items[0]["data"]["account_name"].as_str()),
        (Some("release_warning"), Some("抚顺石化设备有限公司"))
    );
    let again = ownership::run_job(&app.db, app.now()).await.unwrap();
    assert_eq!((again.released, again.warned), (0, 0), "warned once");

    // Day 30 passes: it goes back, with the rule as its reason, by the system.
    app.clock.advance(Duration::days(3));
    let r = ownership::run_job(&app.db, app.now()).await.unwrap();
    assert_eq!(r.released, 1);
    let (status, _) = app.get(x, &format!("/api/v1/accounts/{}", id(&c))).await;
    assert_eq!(status, 404, "out of the former owner's scope");
    let (_, back) = app.get(&app.admin.token, &format!("/api/v1/accounts/{}", id(&c))).await;
    assert_eq!(
        (back["owner_id"].clone(), back["ownership"]["release_reason"].as_str()),
        (Value::Null, Some("no_activity"))
    );
    let last = actions(app, &id(&c)).await.pop().unwrap();
    assert_eq!(last, ("release".to_owned(), "system:release-job".to_owned()));
    assert_eq!(ownership::run_job(&app.db, app.now()).await.unwrap().released, 0, "idempotent");

    // Rules changed by a manager apply at once to what is owned.
    let pool = default_pool(app, x).await;
    let (_, p) = app.get(&app.admin.token, &format!("/api/v1/pools/{pool}")).await;
    let mut rules = p["rules"]["return_after"].clone();
    rules["a"]["no_activity_days"] = json!(31);
    let mut all = p["rules"].clone();
    all["return_after"] = rules;
    post_patch(app, &app.admin.token, &pool, json!({"rules": all})).await;
    let (_, a_now) = app.get(x, &format!("/api/v1/accounts/{}", id(&a))).await;
    let created: chrono::DateTime<chrono::Utc> = a["created_at"].as_str().unwrap().parse().unwrap();
    let due: chrono::DateTime<chrono::Utc> = a_now["ownership"]["release_due_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(due, created + Duration::days(31));
    // Classifying it C moves its date too.
    let (_, c_now) =
        app.send("PATCH", x, &format!("/api/v1/accounts/{}", id(&a)), json!({"classification": "c"})).await;
    let due: chrono::DateTime<chrono::Utc> = c_now["ownership"]["release_due_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(due, created + Duration::days(30));
}
both!(the_release_job_warns_then_returns_idle_accounts);

/// A logged touch restarts its clock: the account stays while it is worked.
async fn touches_restart_the_idle_clocks(app: &TestApp) {
    let w = app.world().await;
    let a = post(
        app,
        &w.sales_x.token,
        "/api/v1/accounts",
        json!({"name": "本溪钢铁集团有限公司", "source": "referral", "classification": "b"}),
    )
    .await;
    let account = guanxi_domain::AccountId::from_uuid(id(&a).parse().unwrap());
    app.clock.advance(Duration::days(50));
    let mut tx = app.db.begin().await.unwrap();
    ownership::touch(&mut tx, app.workspace, account, ownership::Touch::Activity, app.now()).await.unwrap();
    tx.commit().await.unwrap();
    let (_, after) = app.get(&w.sales_x.token, &format!("/api/v1/accounts/{}", id(&a))).await;
    let due: chrono::DateTime<chrono::Utc> = after["ownership"]["release_due_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(due, app.now() + Duration::days(60), "B: 60 days from the last activity");
    app.clock.advance(Duration::days(20));
    assert_eq!(ownership::run_job(&app.db, app.now()).await.unwrap().released, 0, "worked accounts stay");
    // Worked every 50 days, it stays, until the no-deal rule (365 days for B) runs out.
    let mut released = Vec::new();
    for _ in 0..6 {
        app.clock.advance(Duration::days(50));
        let mut tx = app.db.begin().await.unwrap();
        ownership::touch(&mut tx, app.workspace, account, ownership::Touch::Activity, app.now()).await.unwrap();
        tx.commit().await.unwrap();
        released.push(ownership::run_job(&app.db, app.now()).await.unwrap().released);
    }
    assert_eq!(released, [0, 0, 0, 0, 0, 1], "day 370: a year without a deal");
    let (_, back) = app.get(&app.admin.token, &format!("/api/v1/accounts/{}", id(&a))).await;
    assert_eq!(back["ownership"]["release_reason"], "no_deal");
}
both!(touches_restart_the_idle_clocks);

/// Two job runs at once (two instances) return each account once.
async fn concurrent_release_jobs_release_each_account_once(app: &TestApp) {
    let w = app.world().await;
    for i in 0..30 {
        post(app, &w.sales_x.token, "/api/v1/accounts", json!({"name": company(i), "source": "other"})).await;
    }
    app.clock.advance(Duration::days(31));
    let now = app.now();
    let other = guanxi_store::Db::connect(&app.target, &guanxi_store::PoolConfig::default(), false).await.unwrap();
    let (a, b) = tokio::join!(ownership::run_job(&app.db, now), ownership::run_job(&other, now));
    other.close().await;
    assert_eq!(a.unwrap().released + b.unwrap().released, 30);
    let (releases,): (i64,) =
        app.db.fetch_one(Sql::new("SELECT COUNT(*) FROM audit_log WHERE action = 'release'")).await.unwrap();
    assert_eq!(releases, 30);
}
both!(concurrent_release_jobs_release_each_account_once);

async fn salespeople(app: &TestApp, n: usize) -> Vec<TestUser> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(
            app.user_in(app.workspace, &format!("racer{i}@test.example"), &format!("销售{i}"), Role::Sales, None).await,
        );
    }
    out
}

/// Fires one claim per (base URL, token, account) at once; returns the statuses and codes.
async fn race(app: &TestApp, claims: Vec<(String, String, String)>) -> Vec<(u16, String)> {
    let client = app.client().clone();
    let tasks: Vec<_> = claims
        .into_iter()
        .map(|(base, token, account)| {
            let client = client.clone();
            tokio::spawn(async move {
                let res = client
                    .post(format!("{base}/api/v1/accounts/{account}/claim"))
                    .bearer_auth(token)
                    .json(&json!({}))
                    .send()
                    .await
                    .unwrap();
                let (status, body) = crate::harness::read(res).await;
                (status, body["code"].as_str().unwrap_or("").to_owned())
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

async fn many_claims_of_one_account_have_one_winner(app: &TestApp) {
    let people = salespeople(app, 16).await;
    let a = pooled(app, "营口港务集团有限公司", json!({})).await;
    let base = app.url("");
    let results = race(app, people.iter().map(|p| (base.clone(), p.token.clone(), a.clone())).collect()).await;
    let won = results.iter().filter(|r| r.0 == 200).count();
    let lost: Vec<_> = results.iter().filter(|r| r.0 != 200).collect();
    assert_eq!(won, 1, "{results:?}");
    assert!(lost.iter().all(|r| r.0 == 409 && r.1 == "owned_by_other"), "{results:?}");
    let claims = actions(app, &a).await.into_iter().filter(|(a, _)| a == "claim").count();
    assert_eq!(claims, 1);
}
both!(many_claims_of_one_account_have_one_winner);

async fn limit_rules(app: &TestApp, max_owned: i64) {
    let pool = default_pool(app, &app.admin.token).await;
    let (_, p) = app.get(&app.admin.token, &format!("/api/v1/pools/{pool}")).await;
    let mut rules = p["rules"].clone();
    rules["max_owned"] = json!(max_owned);
    rules["daily_claims"] = Value::Null;
    post_patch(app, &app.admin.token, &pool, json!({"rules": rules})).await;
}

async fn owned_by(app: &TestApp, user: &TestUser) -> i64 {
    let (n,): (i64,) =
        app.db.fetch_one(Sql::new("SELECT COUNT(*) FROM accounts WHERE owner_id = $1").arg(user.id)).await.unwrap();
    n
}

async fn concurrent_claims_never_pass_the_ownership_limit(app: &TestApp) {
    limit_rules(app, 3).await;
    let me = &salespeople(app, 1).await[0];
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(pooled(app, &company(i), json!({})).await);
    }
    let base = app.url("");
    let results = race(app, ids.iter().map(|a| (base.clone(), me.token.clone(), a.clone())).collect()).await;
    assert_eq!(results.iter().filter(|r| r.0 == 200).count(), 3, "{results:?}");
    assert!(results.iter().filter(|r| r.0 != 200).all(|r| r.1 == "ownership_limit"), "{results:?}");
    assert_eq!(owned_by(app, me).await, 3);
}
both!(concurrent_claims_never_pass_the_ownership_limit);

/// Two `guanxi serve` processes on one PostgreSQL: claims split between
/// them still have one winner, and a limit still holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_server_processes_on_one_postgres_agree() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let work = tempfile::tempdir().unwrap();
    let db = crate::cli::db_args(&app.target);
    let mut one = crate::cli::start(work.path(), &db, "127.0.0.1:0").await;
    let mut two = crate::cli::start(work.path(), &db, "127.0.0.1:0").await;
    let bases = [format!("http://{}", one.addr), format!("http://{}", two.addr)];

    let people = salespeople(&app, 17).await;
    let a = pooled(&app, "盘锦辽河油田装备有限公司", json!({})).await;
    let results = race(
        &app,
        people[..16].iter().enumerate().map(|(i, p)| (bases[i % 2].clone(), p.token.clone(), a.clone())).collect(),
    )
    .await;
    assert_eq!(results.iter().filter(|r| r.0 == 200).count(), 1, "{results:?}");
    assert!(results.iter().filter(|r| r.0 != 200).all(|r| r.0 == 409 && r.1 == "owned_by_other"), "{results:?}");

    limit_rules(&app, 4).await;
    // Someone who took no part in the first race, so owns nothing yet.
    let me = &people[16];
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(pooled(&app, &company(i), json!({})).await);
    }
    let results =
        race(&app, ids.iter().enumerate().map(|(i, a)| (bases[i % 2].clone(), me.token.clone(), a.clone())).collect())
            .await;
    assert_eq!(results.iter().filter(|r| r.0 == 200).count(), 4, "{results:?}");
    assert_eq!(owned_by(&app, me).await, 4);
    one.child.kill().await.unwrap();
    two.child.kill().await.unwrap();
    app.finish().await;
}

async fn entering_or_claiming_an_owned_organisation_is_stopped(app: &TestApp) {
    let w = app.world().await;
    let mine =
        post(app, &w.sales_x.token, "/api/v1/accounts", json!({"name": "沈阳鼎盛电力科技有限公司", "source": "other"}))
            .await;
    for force in [json!({}), json!({"force": true, "force_reason": "我也在跟"})] {
        let mut body = json!({"name": "鼎盛电力科技（沈阳）有限公司", "source": "other"});
        body.as_object_mut().unwrap().extend(force.as_object().unwrap().clone());
        let (status, problem) = app.send("POST", &w.sales_y.token, "/api/v1/accounts", body).await;
        assert_eq!((status, problem["code"].as_str()), (409, Some("owned_by_other")), "{problem}");
        assert_eq!(
            (problem["owner_name"].as_str(), problem["account_id"].as_str()),
            (Some("张伟"), Some(id(&mine).as_str()))
        );
    }
    // A pooled record of the same organisation (an old import) cannot be claimed around the owner.
    let old = app.legacy_account("沈阳鼎盛电力科技有限公司", None).await;
    let (status, problem) =
        app.send("POST", &w.sales_y.token, &format!("/api/v1/accounts/{old}/claim"), json!({})).await;
    assert_eq!(
        (status, problem["code"].as_str(), problem["owner_name"].as_str()),
        (409, Some("owned_by_other"), Some("张伟")),
        "{problem}"
    );
    // An unowned duplicate is the ordinary 查重 warning: claim it instead.
    pooled(app, "大连港集团有限公司", json!({})).await;
    let (status, problem) = app
        .send("POST", &w.sales_y.token, "/api/v1/accounts", json!({"name": "大连港集团有限公司", "source": "other"}))
        .await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("duplicate_account")), "{problem}");
}
both!(entering_or_claiming_an_owned_organisation_is_stopped);

async fn registrations_are_decided_by_the_requesters_manager(app: &TestApp) {
    let w = app.world().await;
    let (x, y, m) = (&w.sales_x.token, &w.sales_y.token, &w.manager_x.token);
    let pool = default_pool(app, x).await;
    let r = post(
        app,
        x,
        "/api/v1/registrations",
        json!({"account": {"name": "营口仙人岛能源有限公司", "source": "trade_show", "classification": "b"}, "note": "展会上认识了总经理"}),
    )
    .await;
    assert_eq!((r["status"].as_str(), r["kind"].as_str()), (Some("pending"), Some("registration")), "{r}");
    let account = r["account_id"].as_str().unwrap().to_owned();

    // Held while pending: not in the pool, and others are told who registered it.
    let (_, list) = app.get(y, &format!("/api/v1/pools/{pool}/accounts")).await;
    assert!(list["items"].as_array().unwrap().iter().all(|a| a["id"] != account.as_str()));
    let (status, problem) =
        app.send("POST", y, "/api/v1/accounts", json!({"name": "营口仙人岛能源有限公司", "source": "other"})).await;
    assert_eq!(
        (status, problem["code"].as_str(), problem["owner_name"].as_str()),
        (409, Some("registered_by_other"), Some("张伟"))
    );
    let (status, problem) = app.send("POST", y, &format!("/api/v1/accounts/{account}/claim"), json!({})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("registered_by_other")), "{problem}");

    // Nobody approves their own; a salesperson of another team does not decide.
    let url = format!("/api/v1/registrations/{}/decision", id(&r));
    let (status, problem) = app.send("POST", x, &url, json!({"approve": true})).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("own_request")));
    let (status, problem) = app.send("POST", y, &url, json!({"approve": true})).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("not_decider")));
    let (_, inbox) = app.get(m, "/api/v1/registrations?box=to_decide").await;
    assert_eq!(inbox["items"].as_array().unwrap().len(), 1, "{inbox}");
    let (status, problem) = app.send("POST", m, &url, json!({"approve": false})).await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("note")), "rejecting needs a reason");

    // Approved: the requester owns it, protected for 90 days.
    let decided = post(app, m, &url, json!({"approve": true, "note": "跟进仙人岛项目"})).await;
    assert_eq!(decided["status"], "approved");
    let (_, a) = app.get(x, &format!("/api/v1/accounts/{account}")).await;
    assert_eq!(a["owner_id"], w.sales_x.id.to_string());
    let until: chrono::DateTime<chrono::Utc> = a["ownership"]["protected_until"].as_str().unwrap().parse().unwrap();
    assert_eq!(until, app.now() + Duration::days(90));
    assert_eq!(a["ownership"]["release_due_at"], a["ownership"]["protected_until"], "no return inside the protection");
    let (status, problem) = app.send("POST", m, &url, json!({"approve": false, "note": "改主意"})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("not_pending")));
    let (_, notes) = app.get(x, "/api/v1/notifications").await;
    assert!(
        notes["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "request_decided" && n["data"]["status"] == "approved"),
        "{notes}"
    );
    let (_, mine) = app.get(x, "/api/v1/registrations?box=mine").await;
    assert_eq!(mine["items"][0]["decider_name"], "刘经理");

    // Rejected: into the pool, with the reason.
    let r2 = post(
        app,
        &w.sales_x1.token,
        "/api/v1/registrations",
        json!({"account": {"name": "盘锦北方沥青股份有限公司", "source": "cold_call"}, "note": "电话联系过"}),
    )
    .await;
    post(
        app,
        m,
        &format!("/api/v1/registrations/{}/decision", id(&r2)),
        json!({"approve": false, "note": "已有代理商在跟"}),
    )
    .await;
    let (_, list) = app.get(y, &format!("/api/v1/pools/{pool}/accounts")).await;
    let row =
        list["items"].as_array().unwrap().iter().find(|a| a["id"] == r2["account_id"]).expect("in the pool").clone();
    assert_eq!(row["ownership"]["release_note"], "已有代理商在跟");
    let history: Vec<String> =
        actions(app, r2["account_id"].as_str().unwrap()).await.into_iter().map(|(a, _)| a).collect();
    assert_eq!(history, ["create", "release"], "the rejection is in the account's history");

    // Nobody decides: it lapses after 7 days, into the pool.
    let r3 = post(
        app,
        y,
        "/api/v1/registrations",
        json!({"account": {"name": "锦州港股份有限公司", "source": "website"}, "note": "官网留言"}),
    )
    .await;
    app.clock.advance(Duration::days(7) + Duration::minutes(1));
    let report = ownership::run_job(&app.db, app.now()).await.unwrap();
    assert_eq!(report.registrations_expired, 1);
    let (_, mine) = app.get(y, "/api/v1/registrations?box=mine").await;
    assert_eq!(mine["items"][0]["status"], "expired");
    let (_, list) = app.get(x, &format!("/api/v1/pools/{pool}/accounts")).await;
    assert!(list["items"].as_array().unwrap().iter().any(|a| a["id"] == r3["account_id"]));
}
both!(registrations_are_decided_by_the_requesters_manager);

async fn transfers_and_handover(app: &TestApp) {
    let w = app.world().await;
    let (x, y, m) = (&w.sales_x.token, &w.sales_y.token, &w.manager_x.token);
    let a = post(app, x, "/api/v1/accounts", json!({"name": "沈阳鼎盛电力科技有限公司", "source": "other"})).await;
    let t = post(app, y, "/api/v1/transfers", json!({"account_id": id(&a), "reason": "客户总部在我负责的区域"})).await;
    assert_eq!(t["owner_name"], "张伟");
    let (status, problem) =
        app.send("POST", y, "/api/v1/transfers", json!({"account_id": id(&a), "reason": "再问一次"})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("request_pending")));
    let (status, problem) =
        app.send("POST", x, "/api/v1/transfers", json!({"account_id": id(&a), "reason": "我的"})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("already_owned")));
    // The requester's own manager cannot give away another team's account:
    // the side that gives it (the owner's manager, or an admin) decides.
    let manager_y = app.user_in(app.workspace, "manager.y@test.example", "赵经理", Role::Manager, Some(w.team_y)).await;
    let (_, inbox) = app.get(&manager_y.token, "/api/v1/transfers?box=to_decide").await;
    assert_eq!(inbox["items"].as_array().map(Vec::len), Some(0), "{inbox}");
    let (_, inbox) = app.get(m, "/api/v1/transfers?box=to_decide").await;
    assert_eq!(inbox["items"].as_array().map(Vec::len), Some(1), "{inbox}");
    let url = format!("/api/v1/transfers/{}/decision", id(&t));
    let (status, problem) = app.send("POST", &manager_y.token, &url, json!({"approve": true})).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("not_decider")));
    let (_, still) = app.get(x, &format!("/api/v1/accounts/{}", id(&a))).await;
    assert_eq!(still["owner_id"], w.sales_x.id.to_string(), "nothing changed");
    post(app, m, &url, json!({"approve": true})).await;
    let (_, moved) = app.get(y, &format!("/api/v1/accounts/{}", id(&a))).await;
    // Both sides are told.
    for (who, token) in [("requester", y), ("previous owner", x)] {
        let (_, notes) = app.get(token, "/api/v1/notifications").await;
        let told = notes["items"].as_array().unwrap().iter().any(|n| {
            n["kind"] == "request_decided" && n["data"]["kind"] == "transfer" && n["data"]["status"] == "approved"
        });
        assert!(told, "the {who} is told: {notes}");
    }
    assert_eq!(moved["owner_id"], w.sales_y.id.to_string());
    assert!(actions(app, &id(&a)).await.iter().any(|(a, _)| a == "assign"));

    // Handover of a leaving salesperson: preview, bad targets, then all at once.
    let x1 = &w.sales_x1.token;
    let mut theirs = Vec::new();
    for i in 0..3 {
        theirs.push(id(&post(app, x1, "/api/v1/accounts", json!({"name": company(i), "source": "other"})).await));
    }
    post(app, x1, "/api/v1/contacts", json!({"account_id": theirs[0], "name": "刘建国"})).await;
    let body = json!({"from_user_id": w.sales_x1.id, "to_user_ids": [w.sales_x.id, w.sales_y.id], "disable": true});
    let mut preview = body.clone();
    preview["preview"] = json!(true);
    let (status, _) = app.send("POST", m, "/api/v1/handovers", preview.clone()).await;
    assert_eq!(status, 403, "admins only");
    let report = post(app, &app.admin.token, "/api/v1/handovers", preview).await;
    let to: Vec<&str> = report["accounts"].as_array().unwrap().iter().map(|a| a["to_name"].as_str().unwrap()).collect();
    assert_eq!(to, ["张伟", "孙强", "张伟"]);
    assert_eq!((report["contacts"].as_i64(), report["user_disabled"].as_bool()), (Some(1), Some(true)));
    assert_eq!(owned_by(app, &w.sales_x1).await, 3, "a preview changes nothing");
    let (status, _) = app.get(x1, "/api/v1/me").await;
    assert_eq!(status, 200);

    let gone = app.user_in(app.workspace, "gone@test.example", "已离职的人", Role::Sales, None).await;
    let mut tx = app.db.begin().await.unwrap();
    guanxi_store::users::set_disabled(
        &mut tx,
        &guanxi_store::Actor::system(app.workspace, "test"),
        gone.id,
        true,
        app.now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (status, problem) = app
        .send(
            "POST",
            &app.admin.token,
            "/api/v1/handovers",
            json!({"from_user_id": w.sales_x1.id, "to_user_ids": [gone.id]}),
        )
        .await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str(), problem["errors"][0]["code"].as_str()),
        (422, Some("to_user_ids[0]"), Some("disabled"))
    );
    assert_eq!(owned_by(app, &w.sales_x1).await, 3, "nothing changed");

    let done = post(app, &app.admin.token, "/api/v1/handovers", body).await;
    assert_eq!(done["accounts"].as_array().unwrap().len(), 3);
    assert_eq!(owned_by(app, &w.sales_x1).await, 0);
    assert_eq!(owned_by(app, &w.sales_y).await, 2, "the transferred one and one handed over");
    let (status, _) = app.get(x1, "/api/v1/me").await;
    assert_eq!(status, 401, "the departed user is disabled");
    let history = actions(app, &theirs[0]).await;
    assert_eq!(history.first().map(|h| h.0.as_str()), Some("create"), "their history stays");
    assert_eq!(history.last().map(|h| h.0.as_str()), Some("handover"));

    // To the pool: everything of sales_y goes back, marked as a handover.
    post(app, &app.admin.token, "/api/v1/handovers", json!({"from_user_id": w.sales_y.id})).await;
    assert_eq!(owned_by(app, &w.sales_y).await, 0);
    let (_, back) = app.get(&app.admin.token, &format!("/api/v1/accounts/{}", id(&a))).await;
    assert_eq!(back["ownership"]["release_reason"], "handover");
}
both!(transfers_and_handover);

async fn a_manager_assigning_by_edit_fills_the_limit_exactly(app: &TestApp) {
    let w = app.world().await;
    limit_rules(app, 2).await;
    let ids: Vec<String> = (0..3).map(company).collect();
    let mut pooled_ids = Vec::new();
    for name in &ids {
        pooled_ids.push(pooled(app, name, json!({})).await);
    }
    post(app, &w.sales_x.token, &format!("/api/v1/accounts/{}/claim", pooled_ids[0]), json!({})).await;
    let m = &app.admin.token;
    // 分配: the second account is within his limit of two (the account itself is not counted twice).
    let (status, v) =
        app.send("PATCH", m, &format!("/api/v1/accounts/{}", pooled_ids[1]), json!({"owner_id": w.sales_x.id})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(owned_by(app, &w.sales_x).await, 2);
    let (status, problem) =
        app.send("PATCH", m, &format!("/api/v1/accounts/{}", pooled_ids[2]), json!({"owner_id": w.sales_x.id})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("ownership_limit")), "{problem}");
    assert_eq!(owned_by(app, &w.sales_x).await, 2, "nothing half-written");
}
both!(a_manager_assigning_by_edit_fills_the_limit_exactly);
