//! What goes with an account when it changes hands (seed 002: the customer is
//! the company's; nothing stays behind): its open hooks and tasks, its open
//! deals, others' pending transfer requests, through every door that changes
//! an owner: release, claim, an approved transfer, an owner set by hand, a
//! handover. And a disabled user is sent nothing.

use crate::harness::{TestApp, TestUser};
use chrono::Duration;
use guanxi_domain::Role;
use guanxi_store::activities;
use guanxi_store::Sql;
use serde_json::{json, Value};

async fn ok(app: &TestApp, token: &str, method: &str, path: &str, body: Value) -> Value {
    let (status, v) = app.send(method, token, path, body).await;
    assert!((200..300).contains(&status), "{method} {path}: {status} {v}");
    v
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_owned()
}

/// An account of `owner` with an open hook (from a call), a recurring task
/// and an open deal of theirs, and a deal their manager gave to `other`.
struct Held {
    account: String,
    tasks: Vec<String>,
    deal: String,
    others_deal: String,
}

async fn held(app: &TestApp, owner: &TestUser, manager: &TestUser, other: &TestUser, name: &str) -> Held {
    let t = &owner.token;
    let a = ok(app, t, "POST", "/api/v1/accounts", json!({"name": name, "source": "other"})).await;
    let account = id(&a);
    let due = (app.now() + Duration::days(2)).to_rfc3339();
    let touch = json!({"account_id": account, "kind": "call", "outcome": "connected",
        "hook": {"due_at": due, "purpose": "送技术方案"}});
    let logged = ok(app, t, "POST", "/api/v1/activities", touch).await;
    let hook = logged["hook"]["id"].as_str().map(str::to_owned).unwrap_or_else(|| panic!("a hook: {logged}"));
    let recurring = json!({"account_id": account, "due_at": due, "purpose": "月度回访",
        "repeat_every_days": 30, "repeat_forever": true});
    let task = id(&ok(app, t, "POST", "/api/v1/tasks", recurring).await);
    let deal = json!({"account_id": account, "name": "配网自动化改造", "stage": "initiation"});
    let deal = id(&ok(app, t, "POST", "/api/v1/opportunities", deal).await);
    let given = json!({"account_id": account, "name": "主网二次设备", "stage": "initiation", "owner_id": other.id});
    let others_deal = id(&ok(app, &manager.token, "POST", "/api/v1/opportunities", given).await);
    Held { account, tasks: vec![hook, task], deal, others_deal }
}

async fn task_state(app: &TestApp, task: &str) -> (String, String) {
    let q = Sql::new("SELECT assignee_id, status FROM tasks WHERE id = $1").arg(uuid::Uuid::parse_str(task).unwrap());
    let (assignee, status): (uuid::Uuid, String) = app.db.fetch_one(q).await.unwrap();
    (assignee.to_string(), status)
}

async fn deal_owner(app: &TestApp, token: &str, deal: &str) -> Value {
    ok(app, token, "GET", &format!("/api/v1/opportunities/{deal}"), json!({})).await["owner_id"].clone()
}

async fn audited(app: &TestApp, entity: &str, id: &str) -> Vec<Value> {
    let (_, log) = app.get(&app.admin.token, &format!("/api/v1/audit?entity_type={entity}&entity_id={id}")).await;
    log["items"].as_array().unwrap().clone()
}

async fn everything_goes_with_the_account(app: &TestApp) {
    let w = app.world().await;
    let admin = &app.admin.token;
    let (x, x1, y, m) = (&w.sales_x, &w.sales_x1, &w.sales_y, &w.manager_x);

    // An approved transfer: the hook, the recurring task and the deal go to the
    // new owner; the deal the manager gave to someone else stays with them.
    let h = held(app, x, m, x1, "沈阳远航电气有限公司").await;
    let ask =
        ok(app, &y.token, "POST", "/api/v1/transfers", json!({"account_id": h.account, "reason": "客户在我区域"}))
            .await;
    ok(app, &m.token, "POST", &format!("/api/v1/transfers/{}/decision", id(&ask)), json!({"approve": true})).await;
    for t in &h.tasks {
        assert_eq!(task_state(app, t).await, (y.id.to_string(), "open".to_owned()), "task {t}");
        let log = audited(app, "task", t).await;
        assert!(log.iter().any(|e| e["changes"]["reason"]["after"] == "owner_changed"), "{log:?}");
    }
    assert_eq!(deal_owner(app, admin, &h.deal).await, json!(y.id));
    assert_eq!(deal_owner(app, admin, &h.others_deal).await, json!(x1.id), "a deal given to someone else stays");

    // Released to the pool: hooks are closed ("returned to the pool"), the deal
    // waits without an owner; whoever claims the account takes it.
    ok(app, &y.token, "POST", &format!("/api/v1/accounts/{}/release", h.account), json!({"reason": "不再跟进"})).await;
    for t in &h.tasks {
        assert_eq!(task_state(app, t).await.1, "cancelled", "task {t}");
        let log = audited(app, "task", t).await;
        assert!(log.iter().any(|e| e["changes"]["reason"]["after"] == "returned_to_pool"), "{log:?}");
    }
    assert_eq!(deal_owner(app, admin, &h.deal).await, Value::Null);
    assert_eq!(deal_owner(app, admin, &h.others_deal).await, json!(x1.id));
    ok(app, &x.token, "POST", &format!("/api/v1/accounts/{}/claim", h.account), json!({})).await;
    assert_eq!(deal_owner(app, admin, &h.deal).await, json!(x.id), "the claimer takes the waiting deal");

    // An owner set by hand (a manager reassigning): the same.
    let h = held(app, x, m, x1, "大连港湾自动化有限公司").await;
    ok(app, &m.token, "PATCH", &format!("/api/v1/accounts/{}", h.account), json!({"owner_id": x1.id})).await;
    for t in &h.tasks {
        assert_eq!(task_state(app, t).await, (x1.id.to_string(), "open".to_owned()));
    }
    assert_eq!(deal_owner(app, admin, &h.deal).await, json!(x1.id));

    // Another's pending transfer request for an account that changes hands ends.
    let h = held(app, x, m, x1, "鞍山钢城电力设备有限公司").await;
    let ask =
        ok(app, &y.token, "POST", "/api/v1/transfers", json!({"account_id": h.account, "reason": "我来跟"})).await;
    ok(app, &m.token, "PATCH", &format!("/api/v1/accounts/{}", h.account), json!({"owner_id": x1.id})).await;
    let (_, mine) = app.get(&y.token, "/api/v1/transfers?box=mine").await;
    let request = mine["items"].as_array().unwrap().iter().find(|r| r["id"] == ask["id"]).cloned().unwrap();
    assert_eq!(request["status"], "withdrawn", "{request}");
}
both!(everything_goes_with_the_account);

async fn a_handover_moves_what_its_preview_says(app: &TestApp) {
    let w = app.world().await;
    let admin = &app.admin.token;
    let (x, x1, y, m) = (&w.sales_x, &w.sales_x1, &w.sales_y, &w.manager_x);
    let first = held(app, x, m, x1, "抚顺石化仪表有限公司").await;
    let second = held(app, x, m, x1, "本溪钢铁自动化有限公司").await;
    ok(app, &y.token, "POST", "/api/v1/transfers", json!({"account_id": first.account, "reason": "我来跟"})).await;
    let body = json!({"from_user_id": x.id, "to_user_ids": [x1.id], "disable": true});
    let mut preview = body.clone();
    preview["preview"] = json!(true);
    let said = ok(app, admin, "POST", "/api/v1/handovers", preview).await;
    assert_eq!(said["accounts"].as_array().unwrap().len(), 2, "{said}");
    assert_eq!(
        said["carried"],
        json!({"tasks_moved": 4, "tasks_closed": 0, "deals_moved": 2, "transfers_withdrawn": 1}),
        "two hooks, two recurring tasks, two deals, one request: {said}"
    );
    let done = ok(app, admin, "POST", "/api/v1/handovers", body).await;
    assert_eq!(done["carried"], said["carried"], "the handover does what its preview said");
    for h in [&first, &second] {
        for t in &h.tasks {
            assert_eq!(task_state(app, t).await, (x1.id.to_string(), "open".to_owned()));
        }
        assert_eq!(deal_owner(app, admin, &h.deal).await, json!(x1.id));
    }
    // The receiver's worklist has them.
    let until = crate::harness::urlencode(&(app.now() + Duration::days(3)).to_rfc3339());
    let (_, list) = app.get(&x1.token, &format!("/api/v1/tasks?until={until}")).await;
    let theirs: Vec<&str> = list.as_array().unwrap().iter().filter_map(|t| t["id"].as_str()).collect();
    for t in first.tasks.iter().chain(&second.tasks) {
        assert!(theirs.contains(&t.as_str()), "{t} in {list}");
    }
    // Into the pool instead: hooks close, deals wait.
    let third = held(app, x1, m, y, "丹东港机电有限公司").await;
    let body = json!({"from_user_id": x1.id, "to_user_ids": [], "disable": false, "preview": true});
    let said = ok(app, admin, "POST", "/api/v1/handovers", body.clone()).await;
    let mut real = body;
    real["preview"] = json!(false);
    let done = ok(app, admin, "POST", "/api/v1/handovers", real).await;
    assert_eq!(done["carried"], said["carried"]);
    assert!(done["carried"]["tasks_closed"].as_i64().unwrap() >= 2, "{done}");
    for t in &third.tasks {
        assert_eq!(task_state(app, t).await.1, "cancelled");
    }
    assert_eq!(deal_owner(app, admin, &third.deal).await, Value::Null);
}
both!(a_handover_moves_what_its_preview_says);

async fn a_disabled_user_is_sent_nothing(app: &TestApp) {
    let ws = app.workspace;
    let kept = app.user_in(ws, "kept@test.example", "在职", Role::Sales, None).await;
    let gone = app.user_in(ws, "gone@test.example", "离职", Role::Sales, None).await;
    let due = app.now() + Duration::days(1);
    for (u, company) in [(&kept, "沈阳远航电气有限公司"), (&gone, "大连港湾自动化有限公司")] {
        let robot = json!({"kind": "wecom", "label": "群", "target": "http://127.0.0.1:9/cgi-bin/webhook/send?key=k"});
        ok(app, &u.token, "POST", "/api/v1/me/channels", robot).await;
        let a = ok(app, &u.token, "POST", "/api/v1/accounts", json!({"name": company, "source": "other"})).await;
        let task = json!({"account_id": a["id"], "due_at": due.to_rfc3339(), "purpose": "回访"});
        ok(app, &u.token, "POST", "/api/v1/tasks", task).await;
    }
    ok(app, &app.admin.token, "PATCH", &format!("/api/v1/users/{}", gone.id), json!({"disabled": true})).await;
    app.clock.advance(Duration::days(1));
    activities::remind_due(&app.db, app.now()).await.unwrap();
    let queued = |u: &TestUser| {
        let q = Sql::new("SELECT COUNT(*) FROM outbox WHERE user_id = $1").arg(u.id);
        async move { app.db.fetch_one::<(i64,)>(q).await.unwrap().0 }
    };
    assert_eq!(queued(&kept).await, 1, "an active user's due hook goes to their robot");
    assert_eq!(queued(&gone).await, 0, "a disabled user's goes nowhere");
}
both!(a_disabled_user_is_sent_nothing);

async fn a_merge_brings_everything_over(app: &TestApp) {
    let w = app.world().await;
    let admin = &app.admin.token;
    let (x, x1, y, m) = (&w.sales_x, &w.sales_x1, &w.sales_y, &w.manager_x);
    let keep = held(app, x, m, y, "沈阳远航电气有限公司").await;
    // The same organisation entered twice (before 查重 stopped it), the second by a colleague.
    let gone = app.legacy_account("远航电气（沈阳）有限公司", Some(x1.id)).await;
    let t = &x1.token;
    let contact = id(&ok(app, t, "POST", "/api/v1/contacts", json!({"account_id": gone, "name": "刘建国"})).await);
    let due = (app.now() + Duration::days(2)).to_rfc3339();
    let touch = json!({"account_id": gone, "kind": "visit", "outcome": "connected",
        "hook": {"due_at": due, "purpose": "约设备处长"}});
    let logged = ok(app, t, "POST", "/api/v1/activities", touch).await;
    let hook = logged["hook"]["id"].as_str().unwrap().to_owned();
    let deal = json!({"account_id": gone, "name": "变电站改造", "stage": "initiation"});
    let deal = id(&ok(app, t, "POST", "/api/v1/opportunities", deal).await);
    let purchase = json!({"item": "继电保护装置", "purchased_on": "2026-10-01"});
    ok(app, t, "POST", &format!("/api/v1/accounts/{gone}/purchases"), purchase).await;
    let ask = ok(app, &y.token, "POST", "/api/v1/transfers", json!({"account_id": gone, "reason": "我来跟"})).await;

    ok(app, admin, "POST", &format!("/api/v1/accounts/{}/merge", keep.account), json!({"duplicate_id": gone})).await;

    let (_, c) = app.get(admin, &format!("/api/v1/contacts/{contact}")).await;
    assert_eq!(c["account_id"], keep.account.as_str());
    let (_, timeline) = app.get(admin, &format!("/api/v1/activities?account_id={}", keep.account)).await;
    assert!(timeline["items"].as_array().unwrap().iter().any(|a| a["id"] == logged["id"]), "{timeline}");
    // The retired record's owner's open hook and deal go to the kept record's owner.
    assert_eq!(task_state(app, &hook).await, (x.id.to_string(), "open".to_owned()));
    let (_, d) = app.get(admin, &format!("/api/v1/opportunities/{deal}")).await;
    assert_eq!((d["account_id"].as_str(), d["owner_id"].clone()), (Some(keep.account.as_str()), json!(x.id)));
    let (_, bought) = app.get(admin, &format!("/api/v1/accounts/{}/purchases", keep.account)).await;
    assert!(bought.to_string().contains("继电保护装置"), "{bought}");
    let (_, mine) = app.get(&y.token, "/api/v1/transfers?box=mine").await;
    let request = mine["items"].as_array().unwrap().iter().find(|r| r["id"] == ask["id"]).cloned().unwrap();
    assert_eq!(request["status"], "withdrawn");
    // The history says what was merged from which record.
    let log = audited(app, "account", &keep.account).await;
    let merged = log.iter().find(|e| e["action"] == "merge").unwrap();
    let from = &merged["changes"]["merged_from"]["after"];
    assert_eq!(from["name"], "远航电气（沈阳）有限公司");
    assert_eq!(
        (from["contacts_moved"].as_i64(), from["touches_moved"].as_i64(), from["tasks_moved"].as_i64()),
        (Some(1), Some(1), Some(1)),
        "{from}"
    );
    assert_eq!((from["deals_moved"].as_i64(), from["purchases_moved"].as_i64()), (Some(1), Some(1)), "{from}");
    let (client, _) = crate::web::web_login(app, "admin@test.example").await;
    let page = client.get(app.url(&format!("/accounts/{}?tab=history", keep.account))).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("合并自「远航电气（沈阳）有限公司」"), "the history names the merged record");
}
both!(a_merge_brings_everything_over);

async fn a_handover_that_cannot_be_says_why_and_changes_nothing(app: &TestApp) {
    let w = app.world().await;
    let admin = &app.admin.token;
    let (x, x1, m) = (&w.sales_x, &w.sales_x1, &w.manager_x);
    let h = held(app, x, m, x1, "营口港务机电有限公司").await;
    let gone = app.user_in(app.workspace, "gone@test.example", "已离职", Role::Sales, Some(w.team_x)).await;
    ok(app, admin, "PATCH", &format!("/api/v1/users/{}", gone.id), json!({"disabled": true})).await;
    let audit = app.count("audit_log").await;
    for (body, field) in [
        (json!({"from_user_id": x.id, "to_user_ids": [gone.id]}), "to_user_ids[0]"),
        (json!({"from_user_id": x.id, "to_user_ids": [x.id]}), "to_user_ids[0]"),
        (json!({"from_user_id": x1.id, "to_user_ids": [x.id]}), "from_user_id"),
    ] {
        for preview in [true, false] {
            let mut body = body.clone();
            body["preview"] = json!(preview);
            let (status, p) = app.send("POST", admin, "/api/v1/handovers", body).await;
            assert_eq!((status, p["errors"][0]["field"].as_str()), (422, Some(field)), "{p}");
        }
    }
    assert_eq!(app.count("audit_log").await, audit, "nothing changed");
    assert_eq!(task_state(app, &h.tasks[0]).await.0, x.id.to_string());
}
both!(a_handover_that_cannot_be_says_why_and_changes_nothing);
