//! Merging duplicates (the old id redirects) and the one search box.

use crate::harness::TestApp;
use serde_json::{json, Value};

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (status, v) = app.send("POST", token, path, body).await;
    assert_eq!(status, 201, "{path}: {v}");
    v
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn merging_accounts_keeps_everything_and_redirects(app: &TestApp) {
    let w = app.world().await;
    let t = &w.sales_x.token;
    let keep = post(
        app,
        t,
        "/api/v1/accounts",
        json!({"name": "国网辽宁省电力有限公司", "source": "cold_call", "phones": ["024-2313 0000"], "tags": ["电网"], "notes": "调度中心是入口"}),
    )
    .await;
    let gone = post(
        app,
        t,
        "/api/v1/accounts",
        json!({"name": "辽宁省电力公司（旧档案）", "source": "referral", "uscc": "91110108551385082Q",
               "phones": ["024-2313 9999"], "tags": ["东北", "电网"], "notes": "2019 年的档案", "key_account": true}),
    )
    .await;
    let person = post(app, t, "/api/v1/contacts", json!({"account_id": id(&gone), "name": "刘建国"})).await;
    let url = format!("/api/v1/accounts/{}/merge", id(&keep));

    // Bad merges say why and change nothing.
    let (status, problem) = app.send("POST", t, &url, json!({"duplicate_id": id(&keep)})).await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("duplicate_id")), "{problem}");
    let (_, stranger) = app.other_workspace().await;
    let foreign = post(app, &stranger.token, "/api/v1/accounts", json!({"name": "别家客户", "source": "other"})).await;
    let (status, problem) = app.send("POST", t, &url, json!({"duplicate_id": id(&foreign)})).await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("duplicate_id")), "across workspaces");
    let theirs =
        post(app, &w.sales_x1.token, "/api/v1/accounts", json!({"name": "王磊的客户", "source": "other"})).await;
    let (status, _) = app.send("POST", t, &url, json!({"duplicate_id": id(&theirs)})).await;
    assert!(status == 403 || status == 422, "a salesperson cannot retire a colleague's account: {status}");

    let (status, merged) = app.send("POST", t, &url, json!({"duplicate_id": id(&gone)})).await;
    assert_eq!(status, 200, "{merged}");
    assert_eq!(merged["name"], "国网辽宁省电力有限公司", "the kept record's name stays");
    assert_eq!(merged["uscc"], "91110108551385082Q", "empty fields filled from the duplicate");
    assert_eq!(merged["key_account"], true);
    let phones: Vec<&str> =
        merged["phones"].as_array().unwrap().iter().map(|p| p["number"].as_str().unwrap()).collect();
    assert_eq!(phones, vec!["+862423130000", "+862423139999"]);
    assert_eq!(merged["tags"], json!(["东北", "电网"]));
    let notes = merged["notes"].as_str().unwrap();
    assert!(notes.contains("调度中心是入口") && notes.contains("2019 年的档案"), "{notes}");
    // Its people moved over.
    let (_, c) = app.get(t, &format!("/api/v1/contacts/{}", id(&person))).await;
    assert_eq!(c["account_id"], keep["id"]);
    // The old id leads to the kept account (308, which clients follow).
    let res =
        app.client().get(app.url(&format!("/api/v1/accounts/{}", id(&gone)))).bearer_auth(t).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 308);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/accounts/{}", id(&keep)));
    let (_, followed) = app.get(t, &location).await;
    assert_eq!(followed["id"], keep["id"]);
    // Not in the recycle bin, not restorable, not found by 查重 or search any more.
    let (_, bin) = app.get(t, "/api/v1/accounts?deleted=true").await;
    assert!(bin["items"].as_array().unwrap().is_empty());
    let (status, problem) = app.send("POST", t, &format!("/api/v1/accounts/{}/restore", id(&gone)), json!({})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("merged")));
    let (_, found) = app.get(t, "/api/v1/search?q=旧档案").await;
    assert!(found["items"].as_array().unwrap().is_empty(), "{found}");
    // Both histories are kept, the merge on both records.
    for (rec, n) in [(id(&keep), 2), (id(&gone), 2)] {
        let (_, h) = app.get(&app.admin.token, &format!("/api/v1/audit?entity_type=account&entity_id={rec}")).await;
        let actions: Vec<&str> = h["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!((actions[0], actions.len()), ("merge", n), "{actions:?}");
    }
    // Two legal entities (different USCCs) are never merged.
    let third = post(
        app,
        t,
        "/api/v1/accounts",
        json!({"name": "另一家单位", "source": "other", "uscc": "91210100MA0QCQ8X5G", "force": true, "force_reason": "test"}),
    )
    .await;
    let (status, problem) = app.send("POST", t, &url, json!({"duplicate_id": id(&third)})).await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("duplicate_id")), "{problem}");
}
both!(merging_accounts_keeps_everything_and_redirects);

async fn merging_contacts_moves_their_reports(app: &TestApp) {
    let w = app.world().await;
    let t = &w.sales_x.token;
    let acc = post(app, t, "/api/v1/accounts", json!({"name": "东北电力设计院", "source": "referral"})).await;
    let keep =
        post(app, t, "/api/v1/contacts", json!({"account_id": id(&acc), "name": "周海涛", "phones": ["13904313001"]}))
            .await;
    let gone = post(
        app,
        t,
        "/api/v1/contacts",
        json!({"account_id": id(&acc), "name": "周总工", "emails": ["zhou@nepdi.example.cn"], "stance": "supporter", "title": "设计总工"}),
    )
    .await;
    let report =
        post(app, t, "/api/v1/contacts", json!({"account_id": id(&acc), "name": "小李", "reports_to_id": id(&gone)}))
            .await;
    let (status, merged) =
        app.send("POST", t, &format!("/api/v1/contacts/{}/merge", id(&keep)), json!({"duplicate_id": id(&gone)})).await;
    assert_eq!(status, 200, "{merged}");
    assert_eq!((merged["title"].as_str(), merged["stance"].as_str()), (Some("设计总工"), Some("supporter")));
    assert_eq!(merged["emails"], json!(["zhou@nepdi.example.cn"]));
    assert_eq!(merged["phones"][0]["number"], "+8613904313001");
    let (_, r) = app.get(t, &format!("/api/v1/contacts/{}", id(&report))).await;
    assert_eq!(r["reports_to_id"], keep["id"], "reports follow the kept record");
    let res =
        app.client().get(app.url(&format!("/api/v1/contacts/{}", id(&gone)))).bearer_auth(t).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 308);
    assert_eq!(res.headers()["location"].to_str().unwrap(), format!("/api/v1/contacts/{}", id(&keep)));
}
both!(merging_contacts_moves_their_reports);

fn names(v: &Value) -> Vec<String> {
    v["items"].as_array().unwrap().iter().map(|h| h["name"].as_str().unwrap().to_owned()).collect()
}

async fn one_box_finds_accounts_and_people(app: &TestApp) {
    let w = app.world().await;
    let t = &w.sales_x.token;
    let hw = post(
        app,
        t,
        "/api/v1/accounts",
        json!({"name": "北京华为数字技术有限公司", "source": "website", "uscc": "91110108551385082Q", "phones": ["010-8282 8888"]}),
    )
    .await;
    post(
        app,
        t,
        "/api/v1/accounts",
        json!({"name": "国家电网有限公司东北分部", "short_name": "东北局", "source": "cold_call"}),
    )
    .await;
    post(app, t, "/api/v1/accounts", json!({"name": "华威技术有限公司", "source": "other"})).await;
    post(
        app,
        t,
        "/api/v1/contacts",
        json!({"account_id": id(&hw), "name": "刘建国", "title": "主任", "phones": ["13904001001"]}),
    )
    .await;
    post(app, &w.sales_y.token, "/api/v1/accounts", json!({"name": "沈阳华为代理商", "source": "other"})).await;

    // Pinyin cannot tell homophones apart: both are offered.
    let (_, found) = app.get(t, "/api/v1/search?q=huawei").await;
    let mut both = names(&found);
    both.sort();
    assert_eq!(both, vec!["北京华为数字技术有限公司", "华威技术有限公司"]);
    for (q, want) in [
        ("华为", "北京华为数字技术有限公司"),
        ("數字技術", "北京华为数字技术有限公司"),
        ("hwsz", "北京华为数字技术有限公司"),
        ("gwdb", "国家电网有限公司东北分部"),
        ("东北局", "国家电网有限公司东北分部"),
        ("东北分部", "国家电网有限公司东北分部"),
        ("82828888", "北京华为数字技术有限公司"),
        ("8888", "北京华为数字技术有限公司"),
        ("911101085513", "北京华为数字技术有限公司"),
        ("刘建国", "刘建国"),
        ("ljg", "刘建国"),
        ("1390400", "刘建国"),
        ("1001", "刘建国"),
    ] {
        let (status, found) = app.get(t, &format!("/api/v1/search?q={}", crate::harness::urlencode(q))).await;
        assert_eq!(status, 200, "{q}: {found}");
        assert_eq!(names(&found).first().map(String::as_str), Some(want), "{q}: {found}");
    }
    // Contacts say where they work.
    let (_, found) = app.get(t, "/api/v1/search?q=ljg").await;
    assert_eq!(found["items"][0]["kind"], "contact");
    assert_eq!(found["items"][0]["detail"], "主任 · 北京华为数字技术有限公司");
    // Scope: another team's account is not shown to this user, and theirs is not shown to them.
    let (_, found) = app.get(t, "/api/v1/search?q=华为").await;
    assert_eq!(names(&found), vec!["北京华为数字技术有限公司"], "not 沈阳华为代理商, not 华威");
    let (_, found) = app.get(&w.sales_y.token, "/api/v1/search?q=华为").await;
    assert_eq!(names(&found), vec!["沈阳华为代理商"]);
    let (_, found) = app.get(&w.manager_x.token, "/api/v1/search?q=hwsz").await;
    assert_eq!(names(&found), vec!["北京华为数字技术有限公司"], "a manager sees the team's");
    // Pieces out of order are not a match; a rename and a delete are reflected at once.
    let (_, found) = app.get(t, "/api/v1/search?q=为华").await;
    assert!(names(&found).is_empty(), "{found}");
    let url = format!("/api/v1/accounts/{}", id(&hw));
    assert_eq!(app.send("PATCH", t, &url, json!({"name": "北京鸿蒙数字技术有限公司"})).await.0, 200);
    let (_, found) = app.get(t, "/api/v1/search?q=hongmeng").await;
    assert_eq!(names(&found), vec!["北京鸿蒙数字技术有限公司"]);
    let (_, found) = app.get(t, "/api/v1/search?q=华为").await;
    assert!(names(&found).is_empty(), "{found}");
    assert_eq!(app.send("DELETE", t, &url, json!({})).await.0, 200);
    let (_, found) = app.get(t, "/api/v1/search?q=hongmeng").await;
    assert!(names(&found).is_empty());
    // Too short to search is said, not guessed.
    let (status, problem) = app.get(t, "/api/v1/search?q=%E5%8D%8E").await;
    assert_eq!((status, problem["errors"][0]["code"].as_str()), (422, Some("too_short")));
}
both!(one_box_finds_accounts_and_people);

/// Search lives in the database: a second `guanxi serve` on the same database
/// (another pool, another process's worth of state) finds at once what the
/// first wrote.
async fn a_second_instance_finds_what_the_first_wrote(app: &TestApp) {
    let w = app.world().await;
    let db = guanxi_store::Db::connect(&app.target, &guanxi_store::PoolConfig::default(), false).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = format!("http://{}", listener.local_addr().unwrap());
    let state = guanxi_web::AppState::new(db.clone(), app.clock.clone(), guanxi_web::WebConfig::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(guanxi_web::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    post(app, &w.sales_x.token, "/api/v1/accounts", json!({"name": "沈阳鼎盛电力科技有限公司", "source": "other"}))
        .await;
    let found: Value = app
        .client()
        .get(format!("{other}/api/v1/search?q=dingsheng"))
        .bearer_auth(&w.sales_x.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(names(&found), vec!["沈阳鼎盛电力科技有限公司"], "{found}");
    let _ = stop.send(());
    let _ = server.await;
    db.close().await;
}
both!(a_second_instance_finds_what_the_first_wrote);
