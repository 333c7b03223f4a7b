//! Accounts over the API: CRUD in scope, recycle bin, 查重 on entry.

use crate::harness::TestApp;
use serde_json::{json, Value};

fn account(name: &str) -> Value {
    json!({"name": name, "source": "trade_show"})
}

async fn create_read_update_delete_restore(app: &TestApp) {
    let w = app.world().await;
    let t = &w.sales_x.token;
    let body = json!({
        "name": "国网辽宁省电力有限公司", "short_name": "辽宁电力", "uscc": "９１１１０１０８５５１３８５０８２ｑ",
        "phones": ["024-2313 0000 转 8", "+86 138 0013 8000（微信同号）"], "region_code": "210102", "source": "referral",
        "referrer": "东北电力设计院", "classification": "a", "key_account": true, "product_fit": true,
        "relationship_stage": "building", "tags": ["电网", "东北", "电网"], "notes": "调度中心 A 主任是老朋友"
    });
    let (status, a) = app.send("POST", t, "/api/v1/accounts", body).await;
    assert_eq!(status, 201, "{a}");
    assert_eq!(a["uscc"], "91110108551385082Q", "folded and checked");
    assert_eq!(a["phones"][0]["number"], "+862423130000");
    assert_eq!(a["phones"][0]["extension"], "8");
    assert_eq!(a["phones"][1]["display"], "138 0013 8000");
    assert_eq!(a["owner_id"], json!(w.sales_x.id), "the creator owns it");
    assert_eq!(a["team_name"], "东北大区");
    assert_eq!(a["tags"], json!(["东北", "电网"]), "tags deduplicated");
    let id = a["id"].as_str().unwrap().to_owned();

    let (status, a) = app
        .send(
            "PATCH",
            t,
            &format!("/api/v1/accounts/{id}"),
            json!({"classification": null, "relationship_stage": "stable"}),
        )
        .await;
    assert_eq!(status, 200, "{a}");
    assert_eq!((a["classification"].clone(), a["relationship_stage"].clone()), (Value::Null, json!("stable")));
    assert_eq!(a["short_name"], "辽宁电力", "untouched fields stay");

    // Scope: another team's salesperson cannot see, change or delete it; a manager above can.
    let url = format!("/api/v1/accounts/{id}");
    assert_eq!(app.get(&w.sales_y.token, &url).await.0, 404);
    assert_eq!(app.send("PATCH", &w.sales_y.token, &url, json!({"notes": "x"})).await.0, 404);
    assert_eq!(app.send("DELETE", &w.sales_y.token, &url, json!({})).await.0, 404);
    let (_, page) = app.get(&w.sales_y.token, "/api/v1/accounts").await;
    assert!(page["items"].as_array().unwrap().is_empty());
    assert_eq!(app.get(&w.manager_x.token, &url).await.0, 200);
    // Sales may not hand an account to someone else.
    let (status, _) = app.send("PATCH", t, &url, json!({"owner_id": w.sales_x1.id})).await;
    assert_eq!(status, 403);

    // Recycle bin: gone from the list, still readable, restorable; all audited.
    let (status, a) = app.send("DELETE", t, &url, json!({})).await;
    assert_eq!(status, 200);
    assert!(a["deleted_at"].is_string());
    let (_, page) = app.get(t, "/api/v1/accounts").await;
    assert!(page["items"].as_array().unwrap().is_empty());
    let (_, bin) = app.get(t, "/api/v1/accounts?deleted=true").await;
    assert_eq!(bin["items"].as_array().unwrap().len(), 1);
    let (status, a) = app.send("POST", t, &format!("{url}/restore"), json!({})).await;
    assert_eq!((status, a["deleted_at"].clone()), (200, Value::Null));
    let (_, history) = app.get(&app.admin.token, &format!("/api/v1/audit?entity_type=account&entity_id={id}")).await;
    let actions: Vec<&str> =
        history["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, vec!["restore", "delete", "update", "create"]);
    // Filters.
    let (_, page) =
        app.get(&w.manager_x.token, "/api/v1/accounts?source=referral&tag=电网&relationship_stage=stable").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let (_, page) = app.get(&w.manager_x.token, "/api/v1/accounts?source=website").await;
    assert!(page["items"].as_array().unwrap().is_empty());
}
both!(create_read_update_delete_restore);

async fn duplicates_are_refused_with_reasons(app: &TestApp) {
    let w = app.world().await;
    let (status, first) = app
        .send(
            "POST",
            &w.sales_x.token,
            "/api/v1/accounts",
            json!({"name": "北京华为数字技术有限公司", "source": "website", "phones": ["010-82828888"]}),
        )
        .await;
    assert_eq!(status, 201);
    // Another spelling, by someone who cannot even see the first: refused, and told whose it is,
    // forced or not (nobody enters an organisation someone else owns).
    let (status, problem) =
        app.send("POST", &w.sales_y.token, "/api/v1/accounts", account("華為數字技術（北京）有限公司")).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("owned_by_other")), "{problem}");
    assert_eq!((problem["owner_name"].as_str(), &problem["account_id"]), (Some("张伟"), &first["id"]));
    let mut forced = account("华为数字技术（北京）有限公司");
    forced["force"] = json!(true);
    forced["force_reason"] = json!("我也在跟");
    let (status, problem) = app.send("POST", &w.sales_y.token, "/api/v1/accounts", forced).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("owned_by_other")), "{problem}");
    // The owner entering it again is warned with the candidates and why.
    let (status, problem) =
        app.send("POST", &w.sales_x.token, "/api/v1/accounts", account("華為數字技術（北京）有限公司")).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("duplicate_account")), "{problem}");
    let c = &problem["candidates"][0];
    assert_eq!(c["id"], first["id"]);
    assert_eq!(c["owner_name"], "张伟");
    assert_eq!(c["verdict"], "same");
    assert_eq!(c["reasons"], json!(["same_name"]));
    // Forcing needs a reason, which is audited.
    let mut forced = account("华为数字技术（北京）有限公司");
    forced["force"] = json!(true);
    let (status, problem) = app.send("POST", &w.sales_x.token, "/api/v1/accounts", forced.clone()).await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("force_reason")));
    forced["force_reason"] = json!("客户确认是两个法人");
    let (status, created) = app.send("POST", &w.sales_x.token, "/api/v1/accounts", forced).await;
    assert_eq!(status, 201, "{created}");
    let (_, history) = app
        .get(
            &app.admin.token,
            &format!("/api/v1/audit?entity_type=account&entity_id={}", created["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(history["items"][0]["changes"]["duplicate_override"]["after"]["reason"], "客户确认是两个法人");
    // The same phone with a similar name, and the same USCC under any name, are duplicates too.
    let (status, problem) = app
        .send(
            "POST",
            &w.sales_y.token,
            "/api/v1/accounts",
            json!({"name": "北京华为数子技术有限公司", "source": "website", "phones": ["(010)82828888"]}),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    let (status, _) = app
        .send(
            "POST",
            &w.sales_x.token,
            "/api/v1/accounts",
            json!({"name": "甲公司", "source": "other", "uscc": "91110108551385082Q"}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, problem) = app
        .send(
            "POST",
            &w.sales_x.token,
            "/api/v1/accounts",
            json!({"name": "完全不同的名字", "source": "other", "uscc": "91110108551385082Q"}),
        )
        .await;
    assert_eq!((status, problem["candidates"][0]["reasons"][0].as_str()), (409, Some("same_uscc")));
    // A branch and a near-homophone are separate organisations: saved; the homophone shows as possible.
    let (status, _) =
        app.send("POST", &w.sales_x.token, "/api/v1/accounts", account("北京华为数字技术有限公司上海分公司")).await;
    assert_eq!(status, 201);
    let (status, _) = app.send("POST", &w.sales_x.token, "/api/v1/accounts", account("华为技术有限公司")).await;
    assert_eq!(status, 201);
    let (status, _) = app.send("POST", &w.sales_x.token, "/api/v1/accounts", account("华威技术有限公司")).await;
    assert_eq!(status, 201);
    let (status, found) =
        app.send("POST", &w.sales_x.token, "/api/v1/accounts/duplicates", json!({"name": "华威技术有限公司"})).await;
    assert_eq!(status, 200);
    let verdicts: Vec<(&str, &str)> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["verdict"].as_str().unwrap()))
        .collect();
    assert!(
        verdicts.contains(&("华威技术有限公司", "same")) && verdicts.contains(&("华为技术有限公司", "possible")),
        "{verdicts:?}"
    );
    // Renaming into an existing organisation is refused the same way.
    let (status, mine) =
        app.send("POST", &w.sales_x.token, "/api/v1/accounts", account("沈阳远大电力电子科技有限公司")).await;
    assert_eq!(status, 201);
    let (status, problem) = app
        .send(
            "PATCH",
            &w.sales_x.token,
            &format!("/api/v1/accounts/{}", mine["id"].as_str().unwrap()),
            json!({"name": "华为数字技术(北京)有限公司"}),
        )
        .await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("duplicate_account")));
    // A one-character slip with nothing else in common is found too, by the pieces of the name.
    let id = first["id"].as_str().unwrap();
    let (status, found) = app
        .send("POST", &w.sales_x.token, "/api/v1/accounts/duplicates", json!({"name": "华为数宇技术（北京）有限公司"}))
        .await;
    assert_eq!(status, 200);
    let hit = found.as_array().unwrap().iter().find(|c| c["id"].as_str() == Some(id));
    assert_eq!(hit.map(|c| c["reasons"].clone()), Some(json!(["similar_name"])), "{found}");
    // Deleted accounts do not block a new record.
    assert_eq!(app.send("DELETE", &w.sales_x.token, &format!("/api/v1/accounts/{id}"), json!({})).await.0, 200);
    let (status, found) = app
        .send("POST", &w.sales_x.token, "/api/v1/accounts/duplicates", json!({"name": "北京华为数字技术有限公司"}))
        .await;
    assert_eq!(status, 200);
    assert!(found.as_array().unwrap().iter().all(|c| c["id"].as_str() != Some(id)));
}
both!(duplicates_are_refused_with_reasons);

async fn bad_account_input_names_the_field(app: &TestApp) {
    let t = app.admin.token.clone();
    let before = app.count("accounts").await;
    let cases = vec![
        (json!({"source": "other"}), "name", "required"),
        (json!({"name": "某公司"}), "source", "required"),
        (json!({"name": "某公司", "source": "spam"}), "source", "invalid_type"),
        (json!({"name": "张".repeat(201), "source": "other"}), "name", "too_long"),
        (json!({"name": "某公司", "source": "other", "uscc": "91110108551385082R"}), "uscc", "invalid_uscc"),
        (json!({"name": "某公司", "source": "other", "phones": ["12345"]}), "phones[0]", "invalid_phone"),
        (json!({"name": "某公司", "source": "other", "region_code": "999999"}), "region_code", "invalid_region"),
        (
            json!({"name": "某公司", "source": "other", "owner_id": "00000000-0000-7000-8000-000000000000"}),
            "owner_id",
            "invalid",
        ),
        (json!({"name": "a\u{0}b", "source": "other"}), "name", "control_characters"),
    ];
    for (body, field, code) in cases {
        let (status, problem) = app.send("POST", &t, "/api/v1/accounts", body.clone()).await;
        assert!(status == 422 || status == 400, "{body}: {status} {problem}");
        let e = &problem["errors"][0];
        assert_eq!((e["field"].as_str(), e["code"].as_str()), (Some(field), Some(code)), "{body}: {problem}");
    }
    assert_eq!(app.count("accounts").await, before, "nothing written");
    assert_eq!(app.count("account_phones").await, 0);
}
both!(bad_account_input_names_the_field);

async fn lists_sort_and_page_in_that_order(app: &TestApp) {
    let w = app.world().await;
    let t = &w.sales_x.token;
    let mut ids = Vec::new();
    for name in ["丙公司", "甲公司", "乙公司"] {
        let (status, a) = app.send("POST", t, "/api/v1/accounts", account(name)).await;
        assert_eq!(status, 201);
        ids.push(a["id"].as_str().unwrap().to_owned());
        app.clock.advance(chrono::Duration::seconds(1));
    }
    // Touch the first: it becomes the most recently changed.
    assert_eq!(app.send("PATCH", t, &format!("/api/v1/accounts/{}", ids[0]), json!({"notes": "新消息"})).await.0, 200);
    for (sort, want) in [
        ("created", vec![ids[0].clone(), ids[1].clone(), ids[2].clone()]),
        ("updated", vec![ids[0].clone(), ids[2].clone(), ids[1].clone()]),
    ] {
        let mut seen = Vec::new();
        let mut url = format!("/api/v1/accounts?sort={sort}&limit=1");
        loop {
            let (status, page) = app.get(t, &url).await;
            assert_eq!(status, 200, "{page}");
            seen.extend(page["items"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_owned()));
            match page["next_cursor"].as_str() {
                Some(c) => url = format!("/api/v1/accounts?sort={sort}&limit=1&cursor={c}"),
                None => break,
            }
        }
        assert_eq!(seen, want, "{sort}");
    }
    // Another salesperson's account: in the manager's and the admin's lists only.
    let (status, _) = app.send("POST", &w.sales_y.token, "/api/v1/accounts", account("丁公司")).await;
    assert_eq!(status, 201);
    // Their own accounts sorted (a salesperson's), the name order walked (a
    // manager's, an admin's): the same order, each page after the last.
    for (who, token, n) in [("sales", t, 3), ("manager", &w.manager_x.token, 3), ("admin", &app.admin.token, 4)] {
        let (_, all) = app.get(token, "/api/v1/accounts?limit=100").await;
        let mut sorted: Vec<String> =
            all["items"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_owned()).collect();
        sorted.sort();
        for limit in [1, 2] {
            let mut names = Vec::new();
            let mut url = format!("/api/v1/accounts?sort=name&limit={limit}");
            loop {
                let (_, page) = app.get(token, &url).await;
                names.extend(page["items"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_owned()));
                match page["next_cursor"].as_str() {
                    Some(c) => url = format!("/api/v1/accounts?sort=name&limit={limit}&cursor={c}"),
                    None => break,
                }
            }
            assert_eq!(sorted.len(), n, "{who} sees {sorted:?}");
            assert_eq!(names, sorted, "{who}, {limit} a page: every row once, in name order");
        }
    }
    let (status, problem) = app.get(t, "/api/v1/accounts?sort=name&cursor=bm90LWEtY3Vyc29y").await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("cursor")));
    let (status, _) = app.get(t, "/api/v1/accounts?sort=colour").await;
    assert_eq!(status, 422);
}
both!(lists_sort_and_page_in_that_order);

/// Two people entering one organisation at the same moment: of sixteen
/// concurrent creates of one USCC (forced past 查重, which each ran before
/// the others committed), the database lets exactly one through; the rest
/// are told which account has it.
async fn one_live_account_per_uscc_even_at_once(app: &TestApp) {
    let results = sixteen_creates(app, &[app.url("")]).await;
    one_winner(app, &results).await;
    // Nor can an existing account take it: 查重 says so, and forcing meets the database.
    let t = &app.admin.token;
    let (_, other) =
        app.send("POST", t, "/api/v1/accounts", json!({"name": "鞍山钢城电力设备有限公司", "source": "other"})).await;
    let path = format!("/api/v1/accounts/{}", other["id"].as_str().unwrap());
    let (status, p) = app.send("PATCH", t, &path, json!({"uscc": USCC})).await;
    assert_eq!((status, p["code"].as_str()), (409, Some("duplicate_account")), "{p}");
    let forced = json!({"uscc": USCC, "force": true, "force_reason": "我确定"});
    let (status, p) = app.send("PATCH", t, &path, forced).await;
    assert_eq!(
        (status, p["code"].as_str(), p["errors"][0]["field"].as_str()),
        (409, Some("uscc_taken"), Some("uscc")),
        "{p}"
    );
}
both!(one_live_account_per_uscc_even_at_once);

/// The same through two `guanxi serve` processes on one PostgreSQL: sixteen
/// forced creates of one USCC, then sixteen people entering one company by
/// name at once (no USCC, nobody forcing): each saved once, the rest told.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_organisation_entered_at_once_through_two_servers_is_saved_once() {
    let app = TestApp::spawn(crate::harness::Backend::Postgres).await;
    let work = tempfile::tempdir().unwrap();
    let db = crate::cli::db_args(&app.target);
    let mut one = crate::cli::start(work.path(), &db, "127.0.0.1:0").await;
    let mut two = crate::cli::start(work.path(), &db, "127.0.0.1:0").await;
    let bases = [format!("http://{}", one.addr), format!("http://{}", two.addr)];
    one_winner(&app, &sixteen_creates(&app, &bases).await).await;
    saved_once(&same_name_creates(&app, &bases).await);
    one.child.kill().await.unwrap();
    two.child.kill().await.unwrap();
    app.finish().await;
}

fn saved_once(results: &[(u16, Value)]) {
    assert_eq!(results.iter().filter(|r| r.0 == 201).count(), 1, "{results:?}");
    assert!(
        results.iter().filter(|r| r.0 != 201).all(|r| r.0 == 409 && r.1["code"] == "duplicate_account"),
        "{results:?}"
    );
}

const USCC: &str = "91110108551385082Q";

/// Sixteen forced creates of one USCC under different names.
async fn sixteen_creates(app: &TestApp, bases: &[String]) -> Vec<(u16, Value)> {
    const NAMES: [&str; 16] =
        ["甲", "乙", "丙", "丁", "戊", "己", "庚", "辛", "壬", "癸", "子", "丑", "寅", "卯", "辰", "巳"];
    // Different names, so that only the USCC makes them one organisation.
    let bodies = NAMES.iter().map(|n| {
        json!({"name": format!("{n}号录入的单位"), "source": "other", "uscc": USCC, "force": true, "force_reason": "同时录入"})
    });
    create_at_once(app, bases, bodies.collect()).await
}

/// Creates the accounts all at once, spread over the servers; their answers in order.
async fn create_at_once(app: &TestApp, bases: &[String], bodies: Vec<Value>) -> Vec<(u16, Value)> {
    let mut tasks = Vec::new();
    for (i, body) in bodies.into_iter().enumerate() {
        let url = format!("{}/api/v1/accounts", bases[i % bases.len()]);
        let (client, token) = (app.client().clone(), app.admin.token.clone());
        tasks.push(tokio::spawn(async move {
            let res = client.post(url).bearer_auth(token).json(&body).send().await.unwrap();
            crate::harness::read(res).await
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

async fn one_winner(app: &TestApp, results: &[(u16, Value)]) {
    let won: Vec<&Value> = results.iter().filter(|r| r.0 == 201).map(|r| &r.1).collect();
    assert_eq!(won.len(), 1, "exactly one is saved: {results:?}");
    let winner = won[0]["id"].as_str().unwrap();
    for (status, p) in results.iter().filter(|r| r.0 != 201) {
        assert_eq!((*status, p["code"].as_str()), (409, Some("duplicate_account")), "{p}");
        assert!(
            p["candidates"].as_array().unwrap().iter().any(|c| c["id"] == winner),
            "the refusal names the account that has the USCC: {p}"
        );
    }
    let q = guanxi_store::Sql::new("SELECT COUNT(*) FROM accounts WHERE uscc = $1 AND deleted_at IS NULL").arg(USCC);
    let (n,): (i64,) = app.db.fetch_one(q).await.unwrap();
    assert_eq!(n, 1);
}

/// 查重 is decided inside the write: one company entered by name sixteen times at once is saved once.
async fn one_name_entered_at_once_is_saved_once(app: &TestApp) {
    saved_once(&same_name_creates(app, &[app.url("")]).await);
}
both!(one_name_entered_at_once_is_saved_once);

async fn same_name_creates(app: &TestApp, bases: &[String]) -> Vec<(u16, Value)> {
    let body = json!({"name": "盘锦辽河油田装备制造有限公司", "source": "other"});
    create_at_once(app, bases, vec![body; 16]).await
}
