//! Calls, visits and their hooks (钩子): every touch leaves the next step or
//! says why not; the worklist; carrying out and moving a task.

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

fn at(app: &TestApp, d: Duration) -> String {
    (app.now() + d).to_rfc3339()
}

fn field(problem: &Value) -> (&str, &str) {
    (problem["errors"][0]["field"].as_str().unwrap_or(""), problem["errors"][0]["code"].as_str().unwrap_or(""))
}

async fn a_touch_is_logged_with_its_hook(app: &TestApp) {
    let w = app.world().await;
    let x = &w.sales_x.token;
    let a = post(app, x, "/api/v1/accounts", json!({"name": "国网辽宁省电力有限公司", "source": "cold_call"})).await;
    let boss = post(app, x, "/api/v1/contacts", json!({"account_id": id(&a), "name": "刘建国", "title": "主任"})).await;
    let other = post(app, x, "/api/v1/accounts", json!({"name": "大连港集团有限公司", "source": "other"})).await;
    let stranger = post(app, x, "/api/v1/contacts", json!({"account_id": id(&other), "name": "王芳"})).await;
    app.clock.advance(Duration::days(10));
    let base = json!({"account_id": id(&a), "contact_ids": [id(&boss)], "kind": "call", "duration_minutes": 35,
        "outcome": "connected", "learned": [{"kind": "budget", "text": "明年技改预算 800 万"}]});
    let with = |extra: Value| {
        let mut b = base.clone();
        b.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        b
    };

    // No hook and no reason, both, a hook in the past, a touch in the future, someone of another account.
    let cases = [
        (json!({}), ("hook", "required")),
        (
            json!({"hook": {"due_at": at(app, Duration::days(1)), "purpose": "送方案"}, "no_hook_reason": "no_need"}),
            ("no_hook_reason", "conflict"),
        ),
        (json!({"hook": {"due_at": at(app, -Duration::minutes(1)), "purpose": "送方案"}}), ("hook.due_at", "in_past")),
        (json!({"started_at": at(app, Duration::hours(3)), "no_hook_reason": "no_need"}), ("started_at", "in_future")),
        (json!({"contact_ids": [id(&stranger)], "no_hook_reason": "no_need"}), ("contact_ids", "invalid")),
        (
            json!({"hook": {"due_at": at(app, Duration::days(1)), "purpose": "送方案", "contact_id": id(&stranger)}}),
            ("hook.contact_id", "invalid"),
        ),
    ];
    for (extra, expect) in cases {
        let (status, problem) = app.send("POST", x, "/api/v1/activities", with(extra)).await;
        assert_eq!((status, field(&problem)), (422, expect), "{problem}");
    }
    assert_eq!(app.count("activities").await, 0, "nothing half-written");

    // A call with its hook at a precise time.
    let due = at(app, Duration::days(1) + Duration::minutes(50));
    let logged = post(
        app,
        x,
        "/api/v1/activities",
        with(json!({"hook": {"due_at": due, "purpose": "送技改方案", "contact_id": id(&boss)}})),
    )
    .await;
    assert_eq!(
        (logged["hook"]["purpose"].as_str(), logged["hook"]["status"].as_str()),
        (Some("送技改方案"), Some("open"))
    );
    assert_eq!(logged["contacts"][0][1], "刘建国");
    assert_eq!(logged["learned"][0]["text"], "明年技改预算 800 万");
    // The pool's no-activity clock restarted: 30 days from now, not from the claim.
    let (_, acc) = app.get(x, &format!("/api/v1/accounts/{}", id(&a))).await;
    let due_back: chrono::DateTime<chrono::Utc> = acc["ownership"]["release_due_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(due_back, app.now() + Duration::days(30));

    // A refusal is kept too.
    post(
        app,
        x,
        "/api/v1/activities",
        json!({"account_id": id(&a), "kind": "visit", "outcome": "refused", "no_hook_reason": "already_planned"}),
    )
    .await;
    let (_, timeline) = app.get(x, &format!("/api/v1/activities?account_id={}", id(&a))).await;
    let outcomes: Vec<&str> =
        timeline["items"].as_array().unwrap().iter().map(|v| v["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["refused", "connected"], "newest first");
    let (_, theirs) = app.get(x, &format!("/api/v1/activities?contact_id={}", id(&boss))).await;
    assert_eq!(theirs["items"].as_array().unwrap().len(), 1);
    let (_, outsider) = app.get(&w.sales_y.token, &format!("/api/v1/activities?account_id={}", id(&a))).await;
    assert!(outsider["items"].as_array().unwrap().is_empty(), "another team sees nothing");
    let (status, _) = app
        .send(
            "POST",
            &w.sales_y.token,
            "/api/v1/activities",
            json!({"account_id": id(&a), "kind": "call", "outcome": "connected", "no_hook_reason": "no_need"}),
        )
        .await;
    assert_eq!(status, 422, "nor logs on it");
}
both!(a_touch_is_logged_with_its_hook);

async fn the_worklist_and_carrying_out_a_hook(app: &TestApp) {
    let w = app.world().await;
    let x = &w.sales_x.token;
    let a = post(app, x, "/api/v1/accounts", json!({"name": "鞍钢集团有限公司", "source": "referral"})).await;
    let logged = post(
        app,
        x,
        "/api/v1/activities",
        json!({"account_id": id(&a), "kind": "call", "outcome": "call_back", "hook": {"due_at": at(app, Duration::days(1)), "purpose": "回电确认拜访时间"}}),
    )
    .await;
    let task = id(&logged["hook"]);
    let (_, today) = app.get(x, "/api/v1/tasks").await;
    assert!(today.as_array().unwrap().is_empty(), "tomorrow's hook is not today's work: {today}");
    let (_, soon) =
        app.get(x, &format!("/api/v1/tasks?until={}", crate::harness::urlencode(&at(app, Duration::days(2))))).await;
    assert_eq!(soon[0]["id"], task.as_str());
    app.clock.advance(Duration::days(2));
    let (_, overdue) = app.get(x, "/api/v1/tasks").await;
    assert_eq!(overdue[0]["id"], task.as_str(), "overdue shows first");

    // Moving it needs a reason and a time ahead; it is counted.
    let url = format!("/api/v1/tasks/{task}/reschedule");
    let (status, problem) =
        app.send("POST", x, &url, json!({"due_at": at(app, Duration::hours(2)), "reason": ""})).await;
    assert_eq!((status, field(&problem).0), (422, "reason"));
    let (status, problem) =
        app.send("POST", x, &url, json!({"due_at": at(app, -Duration::hours(2)), "reason": "客户出差"})).await;
    assert_eq!((status, field(&problem)), (422, ("due_at", "in_past")));
    let moved = post(app, x, &url, json!({"due_at": at(app, Duration::hours(2)), "reason": "客户出差"})).await;
    assert_eq!(moved["reschedules"], 1);
    let (status, _) =
        app.send("POST", &w.sales_y.token, &url, json!({"due_at": at(app, Duration::hours(3)), "reason": "抢"})).await;
    assert_eq!(status, 404, "someone else's task");

    // The call that carries it out closes it.
    let done = post(
        app,
        x,
        "/api/v1/activities",
        json!({"account_id": id(&a), "kind": "call", "outcome": "meeting_booked", "fulfils_task_id": task,
               "hook": {"due_at": at(app, Duration::days(3)), "purpose": "上门拜访"}}),
    )
    .await;
    let (_, timeline) = app.get(x, &format!("/api/v1/activities?account_id={}", id(&a))).await;
    let first = &timeline["items"][1]["hook"];
    assert_eq!(
        (first["status"].as_str(), first["done_activity_id"].as_str()),
        (Some("done"), Some(id(&done).as_str()))
    );
    let (status, problem) = app.send("POST", x, &format!("/api/v1/tasks/{task}/done"), json!({})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("task_closed")));
    let (status, problem) = app
        .send("POST", x, "/api/v1/activities", json!({"account_id": id(&a), "kind": "call", "outcome": "connected", "fulfils_task_id": task, "no_hook_reason": "already_planned"}))
        .await;
    assert_eq!((status, field(&problem).0), (422, "fulfils_task_id"));
    let next = id(&done["hook"]);
    let closed = post(app, x, &format!("/api/v1/tasks/{next}/done"), json!({})).await;
    assert_eq!(closed["status"], "done");
}
both!(the_worklist_and_carrying_out_a_hook);

async fn hook_discipline_and_when_to_call(app: &TestApp) {
    let w = app.world().await;
    let (x, x1) = (&w.sales_x.token, &w.sales_x1.token);
    let a = post(app, x, "/api/v1/accounts", json!({"name": "鞍钢集团有限公司", "source": "referral"})).await;
    let b = post(app, x1, "/api/v1/accounts", json!({"name": "本溪钢铁集团有限公司", "source": "referral"})).await;
    let hook = |d: Duration| json!({"due_at": at(app, d), "purpose": "回访"});
    post(
        app,
        x,
        "/api/v1/activities",
        json!({"account_id": id(&a), "kind": "call", "outcome": "connected", "hook": hook(Duration::days(1))}),
    )
    .await;
    post(
        app,
        x,
        "/api/v1/activities",
        json!({"account_id": id(&a), "kind": "call", "outcome": "no_answer", "no_hook_reason": "already_planned"}),
    )
    .await;
    let first = post(
        app,
        x1,
        "/api/v1/activities",
        json!({"account_id": id(&b), "kind": "visit", "outcome": "connected", "hook": hook(Duration::days(1))}),
    )
    .await;
    app.clock.advance(Duration::hours(20));
    post(app, x1, "/api/v1/activities", json!({"account_id": id(&b), "kind": "call", "outcome": "connected", "fulfils_task_id": id(&first["hook"]), "no_hook_reason": "already_planned"})).await;
    app.clock.advance(Duration::days(2));

    let (status, report) = app.get(&w.manager_x.token, "/api/v1/reports/hooks").await;
    assert_eq!(status, 200, "{report}");
    let row = |name: &str| report.as_array().unwrap().iter().find(|r| r["name"] == name).cloned();
    let zhang = row("张伟").expect("the manager sees their team");
    assert_eq!(
        [&zhang["activities"], &zhang["with_hook"], &zhang["hooks_due"], &zhang["kept"], &zhang["overdue"]],
        [&json!(2), &json!(1), &json!(1), &json!(0), &json!(1)]
    );
    let wang = row("王磊").expect("and the team below");
    assert_eq!([&wang["hooks_due"], &wang["kept"], &wang["overdue"]], [&json!(1), &json!(1), &json!(0)]);
    assert!(row("孙强").is_none(), "not another team");
    let (_, own) = app.get(&w.sales_y.token, "/api/v1/reports/hooks").await;
    assert_eq!(own.as_array().unwrap().len(), 1, "a salesperson sees themselves: {own}");
    let (status, problem) = app.get(x, "/api/v1/reports/hooks?days=0").await;
    assert_eq!((status, field(&problem).0), (422, "days"));

    // Two calls are not enough to learn from: the rule of thumb of seed 001.
    let (_, hours) = app.get(x, "/api/v1/reports/call-hours").await;
    assert_eq!((hours["learned"].as_bool(), hours["best"].clone()), (Some(false), json!([11, 16, 17])));
    let calls: u64 = hours["by_hour"].as_array().unwrap().iter().map(|h| h["calls"].as_u64().unwrap()).sum();
    assert_eq!(calls, 3);
}
both!(hook_discipline_and_when_to_call);

/// A private iCalendar feed: hooks and visits in a phone's calendar; a new
/// address ends the old one, and it can be ended.
async fn calendar_feed_of_hooks_and_visits(app: &TestApp) {
    let w = app.world().await;
    let x = &w.sales_x.token;
    let a = post(app, x, "/api/v1/accounts", json!({"name": "鞍钢集团有限公司", "source": "referral"})).await;
    post(
        app,
        x,
        "/api/v1/activities",
        json!({"account_id": id(&a), "kind": "visit", "duration_minutes": 45, "outcome": "connected",
        "notes": "见了设备处", "hook": {"due_at": at(app, Duration::days(2)), "purpose": "送技改方案"}}),
    )
    .await;
    let feed = post(app, x, "/api/v1/me/calendar", json!({})).await;
    let url = feed["url"].as_str().unwrap().to_owned();
    let path = &url[url.find("/calendar/").unwrap()..];
    let res = app.client().get(app.url(path)).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200, "no login: the secret is the key");
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/calendar"));
    let ics = res.text().await.unwrap();
    assert!(ics.starts_with("BEGIN:VCALENDAR"), "{ics}");
    assert!(
        ics.contains("送技改方案") && ics.contains("见了设备处") && ics.matches("BEGIN:VEVENT").count() == 2,
        "{ics}"
    );
    // Another one ends the first; ending it leaves nothing.
    let again = post(app, x, "/api/v1/me/calendar", json!({})).await;
    assert_eq!(app.client().get(app.url(path)).send().await.unwrap().status().as_u16(), 404);
    let url = again["url"].as_str().unwrap().to_owned();
    let path = &url[url.find("/calendar/").unwrap()..];
    assert_eq!(app.client().get(app.url(path)).send().await.unwrap().status().as_u16(), 200);
    assert_eq!(app.send("DELETE", x, "/api/v1/me/calendar", Value::Null).await.0, 204);
    assert_eq!(app.client().get(app.url(path)).send().await.unwrap().status().as_u16(), 404);
    assert_eq!(app.send("DELETE", x, "/api/v1/me/calendar", Value::Null).await.0, 404);
}
both!(calendar_feed_of_hooks_and_visits);

/// A revisit every 14 days: carrying it out schedules the next at the same
/// time of day, until its end; a recurrence that never ends must say so.
async fn recurring_revisits(app: &TestApp) {
    let w = app.world().await;
    let x = &w.sales_x.token;
    let a = post(app, x, "/api/v1/accounts", json!({"name": "鞍钢集团有限公司", "source": "referral"})).await;
    let other = post(app, x, "/api/v1/accounts", json!({"name": "本钢集团有限公司", "source": "other"})).await;
    let stranger = post(app, x, "/api/v1/contacts", json!({"account_id": id(&other), "name": "赵磊"})).await;
    let first_due = app.now() + Duration::days(1);
    let base =
        json!({"account_id": id(&a), "due_at": first_due.to_rfc3339(), "purpose": "例行回访", "repeat_every_days": 14});
    let with = |extra: Value| {
        let mut b = base.clone();
        b.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        b
    };
    let cases = [
        (json!({}), ("repeat_until", "required")),
        (json!({"repeat_forever": true, "repeat_until": at(app, Duration::days(60))}), ("repeat_forever", "conflict")),
        (json!({"repeat_every_days": 0, "repeat_forever": true}), ("repeat_every_days", "out_of_range")),
        (json!({"repeat_until": at(app, -Duration::days(1))}), ("repeat_until", "invalid")),
        (json!({"due_at": at(app, -Duration::hours(1)), "repeat_forever": true}), ("due_at", "in_past")),
        (json!({"contact_id": id(&stranger), "repeat_forever": true}), ("contact_id", "invalid")),
    ];
    for (extra, expect) in cases {
        let (status, problem) = app.send("POST", x, "/api/v1/tasks", with(extra)).await;
        assert_eq!((status, field(&problem)), (422, expect), "{problem}");
    }
    assert_eq!(app.count("tasks").await, 0);
    let task = post(app, x, "/api/v1/tasks", with(json!({"repeat_until": at(app, Duration::days(20))}))).await;
    assert_eq!(task["kind"], "task");

    // Carried out three days late: the next is 14 days after the first, same time of day.
    app.clock.advance(Duration::days(4));
    post(app, x, "/api/v1/activities", json!({"account_id": id(&a), "kind": "visit", "outcome": "connected", "fulfils_task_id": id(&task), "no_hook_reason": "already_planned"})).await;
    let (_, open) =
        app.get(x, &format!("/api/v1/tasks?until={}", crate::harness::urlencode(&at(app, Duration::days(30))))).await;
    let open = open.as_array().unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    let next: chrono::DateTime<chrono::Utc> = open[0]["due_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(next, first_due + Duration::days(14));
    // The next after that would be past its end: none.
    app.clock.advance(Duration::days(11));
    post(app, x, &format!("/api/v1/tasks/{}/done", id(&open[0])), json!({})).await;
    let (_, open) =
        app.get(x, &format!("/api/v1/tasks?until={}", crate::harness::urlencode(&at(app, Duration::days(60))))).await;
    assert!(open.as_array().unwrap().is_empty(), "{open}");
}
both!(recurring_revisits);

/// 话术 beside the form: the starter set filled for the account and person;
/// managers keep the library, and an unknown placeholder is refused.
async fn scripts_filled_for_the_account_and_person(app: &TestApp) {
    let w = app.world().await;
    let x = &w.sales_x.token;
    let a = post(
        app,
        x,
        "/api/v1/accounts",
        json!({"name": "国家电网有限公司东北分部", "short_name": "东北局", "source": "cold_call"}),
    )
    .await;
    let boss = post(app, x, "/api/v1/contacts", json!({"account_id": id(&a), "name": "刘建国", "title": "主任"})).await;
    let (status, list) = app.get(x, &format!("/api/v1/scripts?account_id={}&contact_id={}", id(&a), id(&boss))).await;
    assert_eq!(status, 200, "{list}");
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 10, "the starter set");
    assert_eq!(list[0]["kind"], "opening");
    let opening = list[0]["text"].as_str().unwrap();
    assert!(opening.starts_with("刘建国主任您好，我是测试公司的张伟") && opening.contains("东北局"), "{opening}");
    let (_, spin) = app.get(x, "/api/v1/scripts?kind=spin_problem").await;
    assert_eq!(spin.as_array().unwrap().len(), 1);

    let body = json!({"kind": "objection", "title": "价格高", "body": "{联系人}，价格我们可以再谈。"});
    let (status, _) = app.send("POST", x, "/api/v1/scripts", body.clone()).await;
    assert_eq!(status, 403, "salespeople read the library; managers keep it");
    let (status, problem) = app
        .send(
            "POST",
            &w.manager_x.token,
            "/api/v1/scripts",
            json!({"kind": "objection", "title": "价格高", "body": "{客户名}，价格可以谈"}),
        )
        .await;
    assert_eq!((status, field(&problem)), (422, ("body", "unknown_placeholder")), "{problem}");
    let made = post(app, &w.manager_x.token, "/api/v1/scripts", body).await;
    let (_, all) = app.get(x, "/api/v1/scripts").await;
    assert_eq!(all.as_array().unwrap().len(), 11);
    assert_eq!(
        app.send("DELETE", &w.manager_x.token, &format!("/api/v1/scripts/{}", id(&made)), Value::Null).await.0,
        204
    );
    let (_, all) = app.get(x, "/api/v1/scripts").await;
    assert_eq!(all.as_array().unwrap().len(), 10);
}
both!(scripts_filled_for_the_account_and_person);
