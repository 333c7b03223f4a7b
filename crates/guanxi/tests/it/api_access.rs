//! Data scope, workspace isolation, admin-only actions and the audit log.

use crate::harness::TestApp;
use guanxi_domain::Role;
use serde_json::{json, Value};

fn emails(page: &Value) -> Vec<String> {
    let mut v: Vec<String> =
        page["items"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap().to_owned()).collect();
    v.sort();
    v
}

async fn sales_of_one_team_cannot_touch_another(app: &TestApp) {
    let w = app.world().await;
    // A sales user sees only themselves.
    let (status, page) = app.get(&w.sales_x.token, "/api/v1/users").await;
    assert_eq!(status, 200);
    assert_eq!(emails(&page), vec!["sales.x@test.example"]);
    // Y's user and team do not exist for them: 404, never 403.
    assert_eq!(app.get(&w.sales_x.token, &format!("/api/v1/users/{}", w.sales_y.id)).await.0, 404);
    assert_eq!(app.get(&w.sales_x.token, &format!("/api/v1/teams/{}", w.team_y)).await.0, 404);
    let (status, _) = app
        .send("PATCH", &w.sales_x.token, &format!("/api/v1/users/{}", w.sales_y.id), json!({"display_name": "改名"}))
        .await;
    assert_eq!(status, 404);
    let (status, _) =
        app.send("PATCH", &w.sales_x.token, &format!("/api/v1/teams/{}", w.team_y), json!({"name": "改名"})).await;
    assert_eq!(status, 404);
    assert_eq!(app.send("DELETE", &w.sales_x.token, &format!("/api/v1/teams/{}", w.team_y), json!({})).await.0, 404);
    // Filtering by Y's team does not reveal anything either.
    let (_, page) = app.get(&w.sales_x.token, &format!("/api/v1/users?team_id={}", w.team_y)).await;
    assert!(page["items"].as_array().unwrap().is_empty());
    // Their own team is visible; changing it is forbidden (403: visible but not theirs to change).
    assert_eq!(app.get(&w.sales_x.token, &format!("/api/v1/teams/{}", w.team_x)).await.0, 200);
    let (status, body) =
        app.send("PATCH", &w.sales_x.token, &format!("/api/v1/teams/{}", w.team_x), json!({"name": "改名"})).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (_, y) = app.get(&app.admin.token, &format!("/api/v1/users/{}", w.sales_y.id)).await;
    assert_eq!(y["display_name"], "孙强", "nothing changed");
}
both!(sales_of_one_team_cannot_touch_another);

async fn managers_see_their_subtree(app: &TestApp) {
    let w = app.world().await;
    let (_, page) = app.get(&w.manager_x.token, "/api/v1/users").await;
    assert_eq!(emails(&page), vec!["manager.x@test.example", "sales.x1@test.example", "sales.x@test.example"]);
    assert_eq!(app.get(&w.manager_x.token, &format!("/api/v1/users/{}", w.sales_x1.id)).await.0, 200);
    assert_eq!(app.get(&w.manager_x.token, &format!("/api/v1/users/{}", w.sales_y.id)).await.0, 404);
    let (_, teams) = app.get(&w.manager_x.token, "/api/v1/teams").await;
    let mut names: Vec<&str> = teams["items"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, vec!["东北大区", "辽宁组"]);

    // Moving X1 under Y moves its people out of X's manager's view at once.
    let (status, _) = app
        .send("PATCH", &app.admin.token, &format!("/api/v1/teams/{}", w.team_x1), json!({"parent_id": w.team_y}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.get(&w.manager_x.token, &format!("/api/v1/users/{}", w.sales_x1.id)).await.0, 404);

    // An admin narrowing the manager role to "own" narrows it everywhere.
    let (status, _) = app.send("PATCH", &app.admin.token, "/api/v1/roles/manager", json!({"data_scope": "own"})).await;
    assert_eq!(status, 200);
    let (_, page) = app.get(&w.manager_x.token, "/api/v1/users").await;
    assert_eq!(emails(&page), vec!["manager.x@test.example"]);
}
both!(managers_see_their_subtree);

async fn workspaces_are_isolated(app: &TestApp) {
    let w = app.world().await;
    let (_, other_admin) = app.other_workspace().await;
    let (_, page) = app.get(&other_admin.token, "/api/v1/users").await;
    assert_eq!(emails(&page), vec!["admin@other.example"]);
    assert_eq!(app.get(&other_admin.token, &format!("/api/v1/users/{}", w.sales_x.id)).await.0, 404);
    assert_eq!(app.get(&other_admin.token, &format!("/api/v1/teams/{}", w.team_x)).await.0, 404);
    let (status, _) = app
        .send("PATCH", &other_admin.token, &format!("/api/v1/users/{}", w.sales_x.id), json!({"disabled": true}))
        .await;
    assert_eq!(status, 404);
    let (_, teams) = app.get(&other_admin.token, "/api/v1/teams").await;
    assert!(teams["items"].as_array().unwrap().is_empty());
    // A team of another workspace cannot be borrowed as a parent or a user's team.
    let (status, body) =
        app.send("POST", &other_admin.token, "/api/v1/teams", json!({"name": "偷来的", "parent_id": w.team_x})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "parent_id");
    let (_, audit) = app.get(&other_admin.token, "/api/v1/audit").await;
    assert!(audit["items"].as_array().unwrap().iter().all(|e| e["actor_label"] != "admin@test.example"));
    // Whether an address has an account in another workspace is not told:
    // the other admin creates the same address, and each password opens its own.
    let same = json!({"email": "sales.x@test.example", "display_name": "另一家的张伟", "password": "other-password-9", "role": "sales"});
    let (status, body) = app.send("POST", &other_admin.token, "/api/v1/users", same.clone()).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app.send("POST", &other_admin.token, "/api/v1/users", same).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("email_taken")), "unique within a workspace");
    for (password, name) in [(crate::harness::PASSWORD, "张伟"), ("other-password-9", "另一家的张伟")] {
        let login = json!({"email": "sales.x@test.example", "password": password});
        let res = app.client().post(app.url("/api/v1/auth/login")).json(&login).send().await.unwrap();
        let (status, session) = crate::harness::read(res).await;
        assert_eq!(status, 200, "{session}");
        let (_, me) = app.get(session["token"].as_str().unwrap(), "/api/v1/me").await;
        assert_eq!(me["display_name"], name);
    }
}
both!(workspaces_are_isolated);

async fn admins_manage_users_and_teams_and_every_change_is_audited(app: &TestApp) {
    let w = app.world().await;
    // Only admins create users.
    let new_user = json!({"email": "new@test.example", "display_name": "新人", "password": "password-123", "role": "sales", "team_id": w.team_x});
    let (status, body) = app.send("POST", &w.manager_x.token, "/api/v1/users", new_user.clone()).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (status, user) = app.send("POST", &app.admin.token, "/api/v1/users", new_user.clone()).await;
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["team_name"], "东北大区");
    assert!(user.get("password_hash").is_none());
    let (status, body) = app.send("POST", &app.admin.token, "/api/v1/users", new_user).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("email_taken")));

    let id = user["id"].as_str().unwrap();
    let (status, _) = app
        .send("PATCH", &app.admin.token, &format!("/api/v1/users/{id}"), json!({"role": "manager", "team_id": null}))
        .await;
    assert_eq!(status, 200);

    let (status, team) =
        app.send("POST", &app.admin.token, "/api/v1/teams", json!({"name": "吉林组", "parent_id": w.team_x})).await;
    assert_eq!(status, 201, "{team}");
    let team_id = team["id"].as_str().unwrap();
    let (status, body) = app.send("POST", &app.admin.token, "/api/v1/teams", json!({"name": "吉林组"})).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("team_name_taken")));
    // No team may sit below itself.
    let (status, body) = app
        .send("PATCH", &app.admin.token, &format!("/api/v1/teams/{}", w.team_x), json!({"parent_id": team_id}))
        .await;
    assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("parent_id")));
    // A team with members is not deleted; an empty one is.
    let (status, body) = app.send("DELETE", &app.admin.token, &format!("/api/v1/teams/{}", w.team_x), json!({})).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("team_not_empty")));
    assert_eq!(app.send("DELETE", &app.admin.token, &format!("/api/v1/teams/{team_id}"), json!({})).await.0, 204);
    assert_eq!(app.get(&app.admin.token, &format!("/api/v1/teams/{team_id}")).await.0, 404);
    let (status, _) = app.send("PATCH", &app.admin.token, "/api/v1/roles/sales", json!({"data_scope": "team"})).await;
    assert_eq!(status, 200);
    let (status, body) = app.send("PATCH", &app.admin.token, "/api/v1/roles/admin", json!({"data_scope": "own"})).await;
    assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("data_scope")));

    // The audit log has each change with its actor and before/after values.
    let (status, log) = app.get(&app.admin.token, "/api/v1/audit?limit=200").await;
    assert_eq!(status, 200);
    let entries = log["items"].as_array().unwrap();
    let find = |action: &str, entity: &str, id: &str| {
        entries.iter().find(|e| e["action"] == action && e["entity_type"] == entity && e["entity_id"] == id).cloned()
    };
    let created = find("create", "user", id).expect("user creation audited");
    assert_eq!(created["actor_label"], "admin@test.example");
    assert_eq!(created["actor_id"], json!(app.admin.id));
    assert_eq!(created["changes"]["email"]["after"], "new@test.example");
    assert!(created["request_id"].is_string());
    let updated = find("update", "user", id).expect("user update audited");
    assert_eq!(updated["changes"]["role"], json!({"before": "sales", "after": "manager"}));
    assert_eq!(updated["changes"]["team_id"]["after"], Value::Null);
    assert!(updated["changes"].get("email").is_none(), "unchanged fields are not listed");
    assert!(find("create", "team", team_id).is_some());
    assert!(find("delete", "team", team_id).is_some());
    let role = entries.iter().find(|e| e["entity_type"] == "role").expect("role change audited");
    assert_eq!(role["changes"]["data_scope"], json!({"before": "own", "after": "team"}));
    // A record's own history.
    let (_, history) = app.get(&app.admin.token, &format!("/api/v1/audit?entity_type=user&entity_id={id}")).await;
    assert_eq!(history["items"].as_array().unwrap().len(), 2);
    // Non-admins cannot browse the log.
    assert_eq!(app.get(&w.manager_x.token, "/api/v1/audit").await.0, 403);
}
both!(admins_manage_users_and_teams_and_every_change_is_audited);

async fn lists_paginate_by_cursor(app: &TestApp) {
    for i in 0..6 {
        app.user_in(app.workspace, &format!("u{i}@test.example"), &format!("用户{i}"), Role::Sales, None).await;
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/users?limit=3".to_owned();
    loop {
        let (status, page) = app.get(&app.admin.token, &path).await;
        assert_eq!(status, 200);
        seen.extend(emails(&page));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/users?limit=3&cursor={c}"),
            None => break,
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 7, "six users and the admin, each once: {seen:?}");
    let (status, body) = app.get(&app.admin.token, "/api/v1/users?limit=0").await;
    assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("limit")));
    let (status, body) = app.get(&app.admin.token, "/api/v1/users?cursor=bogus").await;
    assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("cursor")));
}
both!(lists_paginate_by_cursor);

/// 客服 reads the customers it serves and writes touches, never the sales
/// records themselves: every such change is 403 and leaves the record as it was.
async fn service_reads_and_notes_but_changes_no_sales_record(app: &TestApp) {
    let w = app.world().await;
    let x = &w.sales_x.token;
    let service = app.user_in(app.workspace, "service@test.example", "客服小王", Role::Service, None).await;
    let s = &service.token;
    let (_, a) =
        app.send("POST", x, "/api/v1/accounts", json!({"name": "沈阳远航电气有限公司", "source": "referral"})).await;
    let a_id = a["id"].as_str().unwrap().to_owned();
    let (_, c) = app.send("POST", x, "/api/v1/contacts", json!({"account_id": a_id, "name": "刘建国"})).await;
    let c_id = c["id"].as_str().unwrap().to_owned();
    let (_, d) = app
        .send(
            "POST",
            x,
            "/api/v1/opportunities",
            json!({"account_id": a_id, "name": "配网改造", "stage": "initiation"}),
        )
        .await;
    let d_id = d["id"].as_str().unwrap().to_owned();
    let (_, pooled) = app
        .send(
            "POST",
            &app.admin.token,
            "/api/v1/accounts",
            json!({"name": "大连港湾自动化有限公司", "source": "other"}),
        )
        .await;
    let pooled = pooled["id"].as_str().unwrap().to_owned();

    // It reads them all.
    for path in [
        format!("/api/v1/accounts/{a_id}"),
        format!("/api/v1/contacts/{c_id}"),
        format!("/api/v1/opportunities/{d_id}"),
    ] {
        assert_eq!(app.get(s, &path).await.0, 200, "{path}");
    }
    let (_, account_before) = app.get(x, &format!("/api/v1/accounts/{a_id}")).await;
    let (_, contact_before) = app.get(x, &format!("/api/v1/contacts/{c_id}")).await;
    let (_, deal_before) = app.get(x, &format!("/api/v1/opportunities/{d_id}")).await;
    let writes: Vec<(&str, String, Value)> = vec![
        ("POST", "/api/v1/accounts".into(), json!({"name": "营口新客户有限公司", "source": "other"})),
        ("PATCH", format!("/api/v1/accounts/{a_id}"), json!({"name": "改名"})),
        ("DELETE", format!("/api/v1/accounts/{a_id}"), json!({})),
        ("POST", "/api/v1/contacts".into(), json!({"account_id": a_id, "name": "王芳"})),
        ("PATCH", format!("/api/v1/contacts/{c_id}"), json!({"name": "改名"})),
        ("DELETE", format!("/api/v1/contacts/{c_id}"), json!({})),
        ("POST", "/api/v1/opportunities".into(), json!({"account_id": a_id, "name": "新商机", "stage": "initiation"})),
        ("PATCH", format!("/api/v1/opportunities/{d_id}"), json!({"name": "改名"})),
        ("DELETE", format!("/api/v1/opportunities/{d_id}"), json!({})),
        ("POST", format!("/api/v1/accounts/{pooled}/claim"), json!({})),
        ("POST", format!("/api/v1/accounts/{a_id}/release"), json!({"reason": "不做了"})),
        ("POST", "/api/v1/transfers".into(), json!({"account_id": a_id, "reason": "我来跟"})),
        (
            "POST",
            "/api/v1/registrations".into(),
            json!({"account": {"name": "营口新客户有限公司", "source": "other"}, "note": "展会"}),
        ),
        ("POST", format!("/api/v1/accounts/{a_id}/purchases"), json!({"item": "备件", "purchased_on": "2026-11-01"})),
    ];
    let accounts = app.count("accounts").await;
    for (method, path, body) in writes {
        let (status, problem) = app.send(method, s, &path, body).await;
        assert_eq!((status, problem["code"].as_str()), (403, Some("forbidden")), "{method} {path}: {problem}");
    }
    assert_eq!(app.count("accounts").await, accounts);
    assert_eq!(app.get(x, &format!("/api/v1/accounts/{a_id}")).await.1, account_before);
    assert_eq!(app.get(x, &format!("/api/v1/contacts/{c_id}")).await.1, contact_before);
    assert_eq!(app.get(x, &format!("/api/v1/opportunities/{d_id}")).await.1, deal_before);
    // A note of a call it served is theirs to write.
    let touch = json!({"account_id": a_id, "kind": "call", "outcome": "connected", "no_hook_reason": "no_need"});
    let (status, logged) = app.send("POST", s, "/api/v1/activities", touch).await;
    assert_eq!(status, 201, "{logged}");
}
both!(service_reads_and_notes_but_changes_no_sales_record);
