//! Contacts over the API: CRUD through the account's scope, the power map,
//! 查重 of people, bad input.

use crate::harness::TestApp;
use serde_json::{json, Value};

async fn account(app: &TestApp, token: &str, name: &str) -> String {
    let (status, a) = app.send("POST", token, "/api/v1/accounts", json!({"name": name, "source": "cold_call"})).await;
    assert_eq!(status, 201, "{a}");
    a["id"].as_str().unwrap().to_owned()
}

async fn contacts_live_in_their_account_scope(app: &TestApp) {
    let w = app.world().await;
    let t = &w.sales_x.token;
    let acc = account(app, t, "国家电网有限公司东北分部").await;
    let body = json!({
        "account_id": acc, "name": " 刘建国 ", "title": "主任", "department": "调度中心",
        "phones": ["139 0400 1001（微信同号）", "024-2388 6000 转 801"], "emails": ["Liu.JG＠SGCC.com.cn"],
        "wechat": "liujianguo_88", "stance": "supporter", "relationship_strength": "close",
        "key_person": true, "has_money": true, "has_authority": true, "has_need": true,
        "buying_role": "decision_maker", "birthday": "--03-08", "notes": "喜欢钓鱼", "tags": ["老朋友"]
    });
    let (status, boss) = app.send("POST", t, "/api/v1/contacts", body).await;
    assert_eq!(status, 201, "{boss}");
    assert_eq!(boss["name"], "刘建国", "trimmed");
    assert_eq!(boss["account_name"], "国家电网有限公司东北分部");
    assert_eq!(boss["phones"][0]["number"], "+8613904001001");
    assert_eq!(boss["phones"][1]["extension"], "801");
    assert_eq!(boss["emails"], json!(["liu.jg@sgcc.com.cn"]), "full-width folded, lower-cased");
    assert_eq!((boss["stance"].as_str(), boss["birthday"].as_str()), (Some("supporter"), Some("--03-08")));
    let boss_id = boss["id"].as_str().unwrap().to_owned();

    let (status, b) = app
        .send(
            "POST",
            t,
            "/api/v1/contacts",
            json!({"account_id": acc, "name": "王志明", "stance": "neutral", "reports_to_id": boss_id}),
        )
        .await;
    assert_eq!(status, 201, "{b}");
    assert_eq!(b["reports_to_name"], "刘建国");
    let b_url = format!("/api/v1/contacts/{}", b["id"].as_str().unwrap());

    // The power map has no circles, and stays within one account.
    let (status, problem) =
        app.send("PATCH", t, &format!("/api/v1/contacts/{boss_id}"), json!({"reports_to_id": b["id"]})).await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("reports_to_id")), "{problem}");
    let other = account(app, t, "国网辽宁省电力有限公司").await;
    let (status, problem) = app
        .send("POST", t, "/api/v1/contacts", json!({"account_id": other, "name": "孙立军", "reports_to_id": boss_id}))
        .await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("reports_to_id")), "{problem}");

    // Scope follows the account: another team sees nothing, and cannot add people to it.
    assert_eq!(app.get(&w.sales_y.token, &b_url).await.0, 404);
    let (_, page) = app.get(&w.sales_y.token, "/api/v1/contacts").await;
    assert!(page["items"].as_array().unwrap().is_empty());
    let (status, problem) =
        app.send("POST", &w.sales_y.token, "/api/v1/contacts", json!({"account_id": acc, "name": "赵文博"})).await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("account_id")));
    assert_eq!(app.get(&w.manager_x.token, &b_url).await.0, 200);

    // Leaving the company is a state, not a deletion: hidden from the default list, kept in the account's.
    let (status, left) = app.send("PATCH", t, &b_url, json!({"left_company": true, "title": "高工"})).await;
    assert_eq!((status, left["left_company"].as_bool(), left["stance"].as_str()), (200, Some(true), Some("neutral")));
    let (_, page) = app.get(t, &format!("/api/v1/contacts?account_id={acc}")).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let (_, page) = app.get(t, &format!("/api/v1/contacts?account_id={acc}&include_left=true")).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let (_, page) = app.get(t, "/api/v1/contacts?only_left=true").await;
    let left: Vec<&str> = page["items"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(left, vec!["王志明"]);
    let (_, page) = app.get(t, "/api/v1/contacts?stance=supporter&key_person=true").await;
    assert_eq!(page["items"][0]["name"], "刘建国");

    // Recycle bin and back, audited.
    assert_eq!(app.send("DELETE", t, &b_url, json!({})).await.0, 200);
    let (_, bin) = app.get(t, "/api/v1/contacts?deleted=true").await;
    assert_eq!(bin["items"].as_array().unwrap().len(), 1);
    assert_eq!(app.send("POST", t, &format!("{b_url}/restore"), json!({})).await.0, 200);
    let (_, history) = app
        .get(&app.admin.token, &format!("/api/v1/audit?entity_type=contact&entity_id={}", b["id"].as_str().unwrap()))
        .await;
    let actions: Vec<&str> =
        history["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, vec!["restore", "delete", "update", "create"]);
}
both!(contacts_live_in_their_account_scope);

async fn the_same_person_is_refused_with_reasons(app: &TestApp) {
    let w = app.world().await;
    let t = &w.sales_x.token;
    let acc = account(app, t, "沈阳供电公司").await;
    let (status, first) = app
        .send(
            "POST",
            t,
            "/api/v1/contacts",
            json!({"account_id": acc, "name": "孙立军", "phones": ["13904002001"], "emails": ["sun@example.cn"]}),
        )
        .await;
    assert_eq!(status, 201);
    // The same mobile anywhere in the workspace.
    let other = account(app, t, "东北电力设计院").await;
    let (status, problem) = app
        .send(
            "POST",
            t,
            "/api/v1/contacts",
            json!({"account_id": other, "name": "孙科长", "phones": ["+86 139 0400 2001"]}),
        )
        .await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("duplicate_contact")), "{problem}");
    assert_eq!(problem["candidates"][0]["id"], first["id"]);
    assert_eq!(problem["candidates"][0]["reasons"], json!(["same_phone"]));
    // The same name at the same account (traditional characters too); e-mail.
    let (status, problem) = app.send("POST", t, "/api/v1/contacts", json!({"account_id": acc, "name": "孫立軍"})).await;
    assert_eq!((status, problem["candidates"][0]["reasons"].clone()), (409, json!(["same_name"])), "{problem}");
    let (status, problem) = app
        .send("POST", t, "/api/v1/contacts", json!({"account_id": other, "name": "S", "emails": ["SUN@example.cn"]}))
        .await;
    assert_eq!((status, problem["candidates"][0]["reasons"].clone()), (409, json!(["same_email"])));
    // A shared switchboard is not a person: no warning.
    let (status, _) = app
        .send("POST", t, "/api/v1/contacts", json!({"account_id": acc, "name": "赵六", "phones": ["024-2253 1234"]}))
        .await;
    assert_eq!(status, 201);
    let (status, _) = app
        .send("POST", t, "/api/v1/contacts", json!({"account_id": acc, "name": "钱七", "phones": ["024-2253 1234"]}))
        .await;
    assert_eq!(status, 201);
    // Two people of one name at one account exist: forced with a reason, audited.
    let forced = json!({"account_id": acc, "name": "孙立军", "force": true, "force_reason": "同名同姓，在运检部"});
    let (status, created) = app.send("POST", t, "/api/v1/contacts", forced).await;
    assert_eq!(status, 201, "{created}");
    let (_, history) = app
        .get(
            &app.admin.token,
            &format!("/api/v1/audit?entity_type=contact&entity_id={}", created["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(history["items"][0]["changes"]["duplicate_override"]["after"]["reason"], "同名同姓，在运检部");
}
both!(the_same_person_is_refused_with_reasons);

async fn bad_contact_input_names_the_field(app: &TestApp) {
    let w = app.world().await;
    let t = w.sales_x.token.clone();
    let acc = account(app, &t, "某电力公司").await;
    let before = app.count("contacts").await;
    let base = |extra: Value| {
        let mut v = json!({"account_id": acc, "name": "张三"});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    let cases = vec![
        (json!({"name": "张三"}), "account_id", "required"),
        (base(json!({"name": ""})), "name", "required"),
        (base(json!({"name": "张".repeat(10_000)})), "name", "too_long"),
        (base(json!({"name": "张\u{7}三"})), "name", "control_characters"),
        (base(json!({"wechat": "有中文"})), "wechat", "invalid_wechat"),
        (base(json!({"birthday": "1975-02-30"})), "birthday", "invalid_date"),
        (base(json!({"birthday": "2099-01-01"})), "birthday", "out_of_range"),
        (base(json!({"emails": ["a@b"]})), "emails[0]", "invalid_email"),
        (base(json!({"phones": ["138"]})), "phones[0]", "invalid_phone"),
        (base(json!({"stance": "enemy"})), "stance", "invalid_type"),
        (base(json!({"account_id": "00000000-0000-7000-8000-000000000000"})), "account_id", "invalid"),
    ];
    for (body, field, code) in cases {
        let (status, problem) = app.send("POST", &t, "/api/v1/contacts", body.clone()).await;
        assert!(status == 422 || status == 400, "{body}: {status} {problem}");
        let e = &problem["errors"][0];
        assert_eq!((e["field"].as_str(), e["code"].as_str()), (Some(field), Some(code)), "{problem}");
    }
    assert_eq!(app.count("contacts").await, before, "nothing written");
    assert_eq!(app.count("contact_phones").await, 0);
    assert_eq!(app.count("contact_emails").await, 0);
}
both!(bad_contact_input_names_the_field);
