//! Opportunities (商机) along the procurement path: the stage we came in at
//! and its 陪标 risk, status from the stage, the people on the deal, the
//! account's scope, the pipeline, the recycle bin.

use crate::harness::TestApp;
use chrono::Duration;
use serde_json::{json, Value};

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (status, v) = app.send("POST", token, path, body).await;
    assert!(status == 200 || status == 201, "{path}: {status} {v}");
    v
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

fn fields(problem: &Value) -> Vec<(String, String)> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap().to_owned(), e["code"].as_str().unwrap().to_owned()))
        .collect()
}

async fn a_deal_is_entered_with_the_stage_we_came_in_at(app: &TestApp) {
    let w = app.world().await;
    let x = &w.sales_x.token;
    let a = post(app, x, "/api/v1/accounts", json!({"name": "国家电网有限公司东北分部", "source": "referral"})).await;
    let director =
        post(app, x, "/api/v1/contacts", json!({"account_id": id(&a), "name": "刘建国", "stance": "supporter"})).await;
    let other = post(app, x, "/api/v1/accounts", json!({"name": "大连港集团有限公司", "source": "other"})).await;
    let stranger = post(app, x, "/api/v1/contacts", json!({"account_id": id(&other), "name": "王芳"})).await;

    // Every bad field is named at once, and nothing is written.
    let (status, problem) = app
        .send(
            "POST",
            x,
            "/api/v1/opportunities",
            json!({"account_id": id(&a), "name": " ", "stage": "design", "first_contact_stage": "tender",
                "amount": "12.345", "expected_close_on": "明年三月"}),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    let found = fields(&problem);
    for want in [
        ("name", "required"),
        ("first_contact_stage", "after_stage"),
        ("amount", "too_precise"),
        ("expected_close_on", "invalid_date"),
    ] {
        assert!(found.contains(&(want.0.to_owned(), want.1.to_owned())), "{want:?} in {found:?}");
    }
    let (status, problem) =
        app.send("POST", x, "/api/v1/opportunities", json!({"account_id": id(&a), "name": "x"})).await;
    assert_eq!((status, fields(&problem)), (422, vec![("stage".to_owned(), "required".to_owned())]));
    let (status, problem) = app
        .send(
            "POST",
            x,
            "/api/v1/opportunities",
            json!({"account_id": id(&a), "name": "x", "stage": "tender", "status": "lost"}),
        )
        .await;
    assert_eq!((status, fields(&problem)), (422, vec![("lost_reason".to_owned(), "required".to_owned())]));
    let (status, problem) = app
        .send(
            "POST",
            x,
            "/api/v1/opportunities",
            json!({"account_id": id(&a), "name": "x", "stage": "tender", "contact_ids": [id(&stranger)]}),
        )
        .await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("contact_ids")), "{problem}");
    assert_eq!(app.count("opportunities").await, 0, "nothing half-written");

    // Entered at 立项, now at 可研: a first mover, with its people and amount as typed.
    let o = post(
        app,
        x,
        "/api/v1/opportunities",
        json!({"account_id": id(&a), "name": "调度自动化系统改造", "stage": "feasibility",
            "first_contact_stage": "initiation", "amount": "１２５万", "expected_close_on": "2027-06-30",
            "source": "referral", "contact_ids": [id(&director)]}),
    )
    .await;
    assert_eq!(o["entry_timing"], "first_mover");
    assert_eq!(
        (o["status"].as_str(), o["amount_fen"].as_i64(), o["amount"].as_str()),
        (Some("open"), Some(125_000_000), Some("1250000.00"))
    );
    assert_eq!(o["owner_id"].as_str(), Some(w.sales_x.id.to_string().as_str()), "the account's owner works it");
    assert_eq!(o["contacts"][0]["name"], "刘建国");
    assert_eq!(o["contacts"][0]["stance"], "supporter");
    // Entered at 招标: 陪标 risk, and the late-entry filter finds it.
    let late = post(
        app,
        x,
        "/api/v1/opportunities",
        json!({"account_id": id(&a), "name": "继电保护装置集中采购", "stage": "tender", "amount": "80,000"}),
    )
    .await;
    assert_eq!(
        (late["first_contact_stage"].as_str(), late["entry_timing"].as_str()),
        (Some("tender"), Some("accompany_bid"))
    );
    let (_, listed) = app.get(x, "/api/v1/opportunities?late_entry=true").await;
    let names: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["继电保护装置集中采购"]);

    // Another team sees none of it.
    let y = &w.sales_y.token;
    let (status, _) = app.get(y, &format!("/api/v1/opportunities/{}", id(&o))).await;
    assert_eq!(status, 404);
    let (_, theirs) = app.get(y, "/api/v1/opportunities").await;
    assert!(theirs["items"].as_array().unwrap().is_empty());
    let (status, problem) = app
        .send("POST", y, "/api/v1/opportunities", json!({"account_id": id(&a), "name": "x", "stage": "design"}))
        .await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("account_id")));
    let (status, _) =
        app.send("PATCH", y, &format!("/api/v1/opportunities/{}", id(&o)), json!({"stage": "tender"})).await;
    assert_eq!(status, 404);

    // A salesperson may not give a deal away; the manager may, and its new owner then sees it.
    let path = format!("/api/v1/opportunities/{}", id(&late));
    let (status, _) = app.send("PATCH", x, &path, json!({"owner_id": w.sales_x1.id})).await;
    assert_eq!(status, 403);
    let (status, _) = app.get(&w.sales_x1.token, &path).await;
    assert_eq!(status, 404, "not the account's team, not the deal's owner");
    let (status, given) = app.send("PATCH", &w.manager_x.token, &path, json!({"owner_id": w.sales_x1.id})).await;
    assert_eq!((status, given["owner_name"].as_str()), (200, Some("王磊")), "{given}");
    let (status, _) = app.get(&w.sales_x1.token, &path).await;
    assert_eq!(status, 200, "the deal's owner sees it");

    // The manager of the team sees both, and the pipeline adds them up by stage.
    let (_, pipeline) = app.get(&w.manager_x.token, "/api/v1/opportunities/pipeline").await;
    assert_eq!(pipeline["count"], 2);
    assert_eq!(pipeline["amount_fen"], 125_000_000 + 8_000_000);
    let stages: Vec<&str> =
        pipeline["stages"].as_array().unwrap().iter().map(|s| s["stage"].as_str().unwrap()).collect();
    assert_eq!(stages, ["feasibility", "tender"], "in path order");

    // The export takes the list's filters: the late deal alone, in Guanxi's layout.
    let res = app
        .client()
        .get(app.url("/api/v1/opportunities/export?late_entry=true"))
        .bearer_auth(&w.manager_x.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert!(
        lines[0].starts_with("external_id,account_id,account_name,name,stage,status,first_contact_stage"),
        "{text}"
    );
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[1].contains("继电保护装置集中采购")
            && lines[1].contains("accompany_bid")
            && lines[1].contains("80000.00")
    );
    let (status, problem) = app.get(x, "/api/v1/opportunities/export?format=pdf").await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("format")), "{problem}");
}
both!(a_deal_is_entered_with_the_stage_we_came_in_at);

async fn a_deal_moves_along_the_path_and_is_won_or_lost(app: &TestApp) {
    let w = app.world().await;
    let x = &w.sales_x.token;
    let a = post(app, x, "/api/v1/accounts", json!({"name": "沈阳供电公司", "source": "referral"})).await;
    let o = post(
        app,
        x,
        "/api/v1/opportunities",
        json!({"account_id": id(&a), "name": "配网自动化主站", "stage": "design", "amount": "300万"}),
    )
    .await;
    let path = format!("/api/v1/opportunities/{}", id(&o));
    let created_at = o["stage_changed_at"].as_str().unwrap().to_owned();

    // A week later the project goes to tender: the stage is dated and the
    // account's no-progress clock restarts.
    app.clock.advance(Duration::days(7));
    let (status, moved) = app.send("PATCH", x, &path, json!({"stage": "tender"})).await;
    assert_eq!(status, 200, "{moved}");
    assert_ne!(moved["stage_changed_at"].as_str().unwrap(), created_at);
    assert_eq!(
        (moved["status"].as_str(), moved["entry_timing"].as_str()),
        (Some("open"), Some("late")),
        "we came in at design"
    );
    let account: uuid::Uuid = id(&a).parse().unwrap();
    let (progress,): (Option<chrono::DateTime<chrono::Utc>>,) = app
        .db
        .fetch_one(guanxi_store::Sql::new("SELECT progress_clock_at FROM accounts WHERE id = $1").arg(account))
        .await
        .unwrap();
    assert_eq!(progress, Some(app.now()));
    // A note alone does not move the stage's date.
    let (_, noted) = app.send("PATCH", x, &path, json!({"notes": "对手：南瑞"})).await;
    assert_eq!(noted["stage_changed_at"], moved["stage_changed_at"]);

    // Won cannot be said before 中标; at 中标 the deal is won by itself, and cannot be "open" there.
    let (status, problem) = app.send("PATCH", x, &path, json!({"status": "won"})).await;
    assert_eq!((status, fields(&problem)), (422, vec![("status".to_owned(), "stage_not_won".to_owned())]));
    let (_, won) = app.send("PATCH", x, &path, json!({"stage": "award"})).await;
    assert_eq!(won["status"], "won");
    let (status, problem) = app.send("PATCH", x, &path, json!({"status": "open"})).await;
    assert_eq!((status, fields(&problem)), (422, vec![("status".to_owned(), "stage_won".to_owned())]));

    // Back to tender and lost there, with the reason kept; moving on keeps it lost until reopened.
    let (status, lost) = app
        .send("PATCH", x, &path, json!({"stage": "tender", "status": "lost", "lost_reason": "价格高于对手 8%"}))
        .await;
    assert_eq!(status, 200, "{lost}");
    assert_eq!((lost["status"].as_str(), lost["lost_reason"].as_str()), (Some("lost"), Some("价格高于对手 8%")));
    let (_, listed) = app.get(x, "/api/v1/opportunities?status=lost").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let (_, reopened) = app.send("PATCH", x, &path, json!({"status": "open"})).await;
    assert_eq!((reopened["status"].as_str(), reopened["lost_reason"].as_str()), (Some("open"), None));

    // Every change is in the record's history.
    let (_, history) = app.get(&app.admin.token, &format!("/api/v1/audit?entity_id={}", id(&o))).await;
    let actions: Vec<&str> =
        history["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions.len(), 6, "create and five changes: {actions:?}");
    assert!(
        history["items"].as_array().unwrap().iter().any(|e| e["changes"]["stage"]["after"] == "award"),
        "{history}"
    );

    // The recycle bin and back; someone else's salesperson in the team may not.
    let (status, _) = app.send("DELETE", &w.sales_x1.token, &path, json!({})).await;
    assert_eq!(status, 404, "another salesperson does not even see it");
    let (status, gone) = app.send("DELETE", x, &path, json!({})).await;
    assert_eq!((status, gone["deleted_at"].is_string()), (200, true));
    let (_, listed) = app.get(x, "/api/v1/opportunities").await;
    assert!(listed["items"].as_array().unwrap().is_empty());
    let (_, bin) = app.get(x, "/api/v1/opportunities?deleted=true").await;
    assert_eq!(bin["items"].as_array().unwrap().len(), 1);
    let (status, back) = app.send("POST", x, &format!("{path}/restore"), json!({})).await;
    assert_eq!((status, back["deleted_at"].is_null()), (200, true));
}
both!(a_deal_moves_along_the_path_and_is_won_or_lost);

async fn touches_are_logged_against_a_deal(app: &TestApp) {
    let w = app.world().await;
    let x = &w.sales_x.token;
    let a = post(app, x, "/api/v1/accounts", json!({"name": "国网吉林省电力有限公司", "source": "referral"})).await;
    let b = post(app, x, "/api/v1/accounts", json!({"name": "吉林化纤集团有限责任公司", "source": "other"})).await;
    let deal = post(
        app,
        x,
        "/api/v1/opportunities",
        json!({"account_id": id(&a), "name": "调度数据网改造", "stage": "design"}),
    )
    .await;
    let elsewhere =
        post(app, x, "/api/v1/opportunities", json!({"account_id": id(&b), "name": "DCS 升级", "stage": "initiation"}))
            .await;
    let touch = |opportunity: &Value| {
        json!({"account_id": id(&a), "kind": "visit", "outcome": "connected", "no_hook_reason": "already_planned",
            "opportunity_id": opportunity["id"]})
    };
    // A deal of another account is refused, named by its field; nothing is logged.
    let (status, problem) = app.send("POST", x, "/api/v1/activities", touch(&elsewhere)).await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("opportunity_id")), "{problem}");
    assert_eq!(app.count("activities").await, 0);
    let logged = post(app, x, "/api/v1/activities", touch(&deal)).await;
    assert_eq!(logged["opportunity_name"], "调度数据网改造");
    // The deal's timeline has it; the other deal's has nothing.
    let (_, mine) = app.get(x, &format!("/api/v1/activities?opportunity_id={}", id(&deal))).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    let (_, other) = app.get(x, &format!("/api/v1/activities?opportunity_id={}", id(&elsewhere))).await;
    assert!(other["items"].as_array().unwrap().is_empty());
    // Another team sees none of the deal's touches.
    let (_, theirs) = app.get(&w.sales_y.token, &format!("/api/v1/activities?opportunity_id={}", id(&deal))).await;
    assert!(theirs["items"].as_array().unwrap().is_empty());
}
both!(touches_are_logged_against_a_deal);
