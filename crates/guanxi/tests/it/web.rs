//! The pages through a browser-like client: login, CSRF, scope, escaping.

use crate::harness::{TestApp, PASSWORD};
use serde_json::json;

fn hidden_csrf(html: &str) -> String {
    let marker = "name=\"_csrf\" value=\"";
    let start = html.find(marker).expect("a form with a CSRF field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Logs in through the login form; returns the cookie client and a page's CSRF token.
pub async fn web_login(app: &TestApp, email: &str) -> (reqwest::Client, String) {
    let c = app.cookie_client();
    let html = c.get(app.url("/login")).send().await.unwrap().text().await.unwrap();
    let csrf = hidden_csrf(&html);
    let res = c
        .post(app.url("/login"))
        .form(&[("_csrf", csrf.as_str()), ("email", email), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303, "login of {email}");
    let html = c.get(app.url("/settings/profile")).send().await.unwrap().text().await.unwrap();
    let csrf = hidden_csrf(&html);
    (c, csrf)
}

async fn login_form_and_csrf(app: &TestApp) {
    let c = app.cookie_client();
    let res = c.get(app.url("/settings/users")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(res.headers()["location"], "/login?next=%2Fsettings%2Fusers");

    let res = c.get(app.url("/login")).header("accept-language", "zh-CN,zh;q=0.9").send().await.unwrap();
    assert!(res.headers()["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    let html = res.text().await.unwrap();
    assert!(html.contains("lang=\"zh-CN\"") && html.contains("登录"));
    let csrf = hidden_csrf(&html);
    // Without or with a wrong token the login form is refused.
    let res = c
        .post(app.url("/login"))
        .form(&[("email", "admin@test.example"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    let res = c
        .post(app.url("/login"))
        .form(&[("_csrf", "forged"), ("email", "admin@test.example"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    assert!(res.text().await.unwrap().contains("页面已过期"), "a readable page, not JSON");
    // A wrong password shows the form again with the reason.
    let res = c
        .post(app.url("/login"))
        .form(&[("_csrf", csrf.as_str()), ("email", "admin@test.example"), ("password", "wrong-one")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    assert!(res.text().await.unwrap().contains("邮箱或密码不正确"));
    // The right one logs in and goes where the user was heading (never off-site).
    let res = c
        .post(app.url("/login"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("email", "admin@test.example"),
            ("password", PASSWORD),
            ("next", "//evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(res.headers()["location"], "/workbench");
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("gx_session="))
        .unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    // Logged in, the login page sends a user on to `next` only when it is one
    // of this site's paths; a tab, a line break or a backslash that a browser
    // would turn into another site's address goes to the home page.
    for (next, to) in [
        ("/%09/evil.example", "/workbench"),
        ("/%0d%0aSet-Cookie:%20x=y", "/workbench"),
        ("%2F%5Cevil.example", "/workbench"),
        ("https://evil.example/", "/workbench"),
        ("/accounts%3Ftab%3Dhistory", "/accounts?tab=history"),
    ] {
        let res = c.get(app.url(&format!("/login?next={next}"))).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 303, "next={next}");
        assert_eq!(res.headers()["location"], to, "next={next}");
    }

    let html = c.get(app.url("/settings/profile")).send().await.unwrap().text().await.unwrap();
    let csrf = hidden_csrf(&html);
    // A state-changing form without the session's token is refused and changes nothing.
    let res = c
        .post(app.url("/settings/profile"))
        .form(&[("display_name", "被篡改"), ("locale", "en")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    let res = c
        .post(app.url("/settings/profile"))
        .form(&[("_csrf", "gxc_forged"), ("display_name", "被篡改"), ("locale", "en")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    assert_eq!(app.get(&app.admin.token, "/api/v1/me").await.1["display_name"], "管理员");
    let res = c
        .post(app.url("/settings/profile"))
        .form(&[("_csrf", csrf.as_str()), ("display_name", "新名字"), ("locale", "en")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let me = app.get(&app.admin.token, "/api/v1/me").await.1;
    assert_eq!((me["display_name"].as_str(), me["locale"].as_str()), (Some("新名字"), Some("en")));
    // The page now speaks English.
    let html = c.get(app.url("/settings/profile?ok=1")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("lang=\"en\"") && html.contains("Settings") && html.contains("Saved."));

    // The API with the session cookie needs the token in a header.
    let res = c.patch(app.url("/api/v1/me")).json(&json!({"display_name": "脚本"})).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 403);
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["code"], "csrf_failed");
    let res = c
        .patch(app.url("/api/v1/me"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"display_name": "脚本"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);

    // Logging out ends the session.
    let res = c.post(app.url("/logout")).form(&[("_csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(c.get(app.url("/settings/profile")).send().await.unwrap().status().as_u16(), 303);
}
both!(login_form_and_csrf);

async fn pages_respect_scope(app: &TestApp) {
    let w = app.world().await;
    let (c, csrf) = web_login(app, &w.sales_x.email).await;
    // Records outside the scope do not exist in the UI either.
    assert_eq!(
        c.get(app.url(&format!("/settings/users/{}", w.sales_y.id))).send().await.unwrap().status().as_u16(),
        404
    );
    assert_eq!(c.get(app.url(&format!("/settings/teams/{}", w.team_y))).send().await.unwrap().status().as_u16(), 404);
    let res = c
        .post(app.url(&format!("/settings/users/{}", w.sales_y.id)))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("email", "x@test.example"),
            ("display_name", "改"),
            ("role", "admin"),
            ("team_id", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
    let res = c
        .post(app.url(&format!("/settings/users/{}/disable", w.sales_y.id)))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
    // Admin pages are forbidden to a sales user, and say so in Chinese.
    let res = c.get(app.url("/settings/users")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 403);
    assert!(res.text().await.unwrap().contains("无权"));
    let (_, y) = app.get(&app.admin.token, &format!("/api/v1/users/{}", w.sales_y.id)).await;
    assert_eq!((y["role"].as_str(), y["disabled_at"].is_null()), (Some("sales"), true), "nothing changed");
}
both!(pages_respect_scope);

async fn admin_manages_users_in_settings(app: &TestApp) {
    let w = app.world().await;
    let (c, csrf) = web_login(app, "admin@test.example").await;
    let html = c.get(app.url("/settings/users")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("张伟") && html.contains("sales.y@test.example"));
    // Creating with bad fields shows the form again with each reason, in Chinese.
    let res = c
        .post(app.url("/settings/users"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("email", "bad"),
            ("display_name", ""),
            ("password", "short"),
            ("role", "sales"),
            ("team_id", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 422);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("邮箱：邮箱格式不正确") && html.contains("姓名：不能为空") && html.contains("密码：太短了"),
        "{html}"
    );
    let team = w.team_x.to_string();
    let res = c
        .post(app.url("/settings/users"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("email", "new@test.example"),
            ("display_name", "<script>alert(1)</script>"),
            ("password", "password-123"),
            ("role", "sales"),
            ("team_id", team.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let html = c.get(app.url("/settings/users")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("alert(1)"), "the name is shown");
    assert!(!html.contains("<script>alert(1)"), "as text, escaped, never as markup");
    // Disabling from the edit page.
    let res = c
        .post(app.url(&format!("/settings/users/{}/disable", w.sales_y.id)))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(app.get(&w.sales_y.token, "/api/v1/me").await.0, 401);
    // Teams, roles, audit and the API docs render.
    for path in [
        "/settings/teams",
        "/settings/roles",
        "/settings/audit",
        "/settings/tokens",
        &format!("/settings/teams/{}", w.team_x),
        "/docs/api",
        "/workbench",
        "/pool",
    ] {
        let res = c.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200, "{path}");
    }
    let audit = c.get(app.url("/settings/audit")).send().await.unwrap().text().await.unwrap();
    assert!(audit.contains("new@test.example") && audit.contains("新建"));
    // Roles change from the form.
    let res = c
        .post(app.url("/settings/roles"))
        .form(&[("_csrf", csrf.as_str()), ("manager", "workspace"), ("sales", "team"), ("service", "own")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let (_, roles) = app.get(&app.admin.token, "/api/v1/roles").await;
    assert_eq!(roles[1]["data_scope"], "workspace");
    assert_eq!(roles[3]["data_scope"], "own");
}
both!(admin_manages_users_in_settings);

async fn login_cookie(app: &TestApp, proto: Option<&str>, forwarded_for: &str) -> (u16, String) {
    let c = app.cookie_client();
    let html = c.get(app.url("/login")).send().await.unwrap().text().await.unwrap();
    let csrf = hidden_csrf(&html);
    let mut req = c.post(app.url("/login")).header("x-forwarded-for", forwarded_for).form(&[
        ("_csrf", csrf.as_str()),
        ("email", "admin@test.example"),
        ("password", PASSWORD),
    ]);
    if let Some(p) = proto {
        req = req.header("x-forwarded-proto", p);
    }
    let res = req.send().await.unwrap();
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("gx_session="))
        .unwrap_or_default();
    (res.status().as_u16(), cookie)
}

#[tokio::test]
async fn behind_a_trusted_proxy_cookies_are_secure_and_clients_are_told_apart() {
    let trusted = guanxi_web::WebConfig { trust_proxy: true, ..Default::default() };
    let app = TestApp::spawn_with(crate::harness::Backend::Sqlite, trusted).await;
    let (_, cookie) = login_cookie(&app, Some("https"), "203.0.113.7").await;
    assert!(cookie.contains("Secure"), "{cookie}");
    let (_, cookie) = login_cookie(&app, None, "203.0.113.7").await;
    assert!(!cookie.contains("Secure"), "{cookie}");
    // Throttling counts the forwarded client address, not the proxy's.
    for i in 0..100 {
        let res = app
            .client()
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", "203.0.113.99")
            .json(&json!({"email": format!("guess{i}@test.example"), "password": "wrong-password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 401);
    }
    let blocked = app
        .client()
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", "203.0.113.99")
        .json(&json!({"email": "admin@test.example", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(blocked.status().as_u16(), 429);
    let (status, _) = login_cookie(&app, None, "198.51.100.1").await;
    assert_eq!(status, 303, "another client behind the same proxy is not locked out");
    app.finish().await;

    // Without trust, the header is ignored: anyone could send it.
    let app = TestApp::spawn(crate::harness::Backend::Sqlite).await;
    let (_, cookie) = login_cookie(&app, Some("https"), "203.0.113.7").await;
    assert!(!cookie.contains("Secure"), "{cookie}");
    app.finish().await;
}

async fn accounts_pages_enter_check_and_show(app: &TestApp) {
    let w = app.world().await;
    let (c, csrf) = web_login(app, &w.sales_x.email).await;
    let html = c.get(app.url("/accounts")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("还没有客户"), "empty state");
    let form = |name: &str, extra: &[(&str, &str)]| {
        let mut v: Vec<(String, String)> =
            vec![("_csrf".into(), csrf.clone()), ("name".into(), name.into()), ("source".into(), "referral".into())];
        v.extend(extra.iter().map(|(k, x)| (k.to_string(), x.to_string())));
        v
    };
    let res = c
        .post(app.url("/accounts/new"))
        .form(&form(
            "国网辽宁省电力有限公司",
            &[
                ("phones", "024-2313 0000\n138 0013 8000"),
                ("region_code", "210102"),
                ("classification", "a"),
                ("key_account", "on"),
                ("tags", "电网，东北"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let page = c.get(app.url(&location)).send().await.unwrap().text().await.unwrap();
    for shown in [
        "国网辽宁省电力有限公司",
        "024-2313 0000",
        "138 0013 8000",
        "辽宁省 沈阳市 和平区",
        "A 类",
        "转介绍",
        "大客户",
        "电网",
    ] {
        assert!(page.contains(shown), "the account page shows {shown}");
    }
    let history = c.get(app.url(&format!("{location}?tab=history"))).send().await.unwrap().text().await.unwrap();
    assert!(history.contains("新建") && history.contains(&w.sales_x.email), "the history tab says who created it");
    // Entering it again in another spelling shows the existing record, and what to do.
    let res = c.post(app.url("/accounts/new")).form(&form("國網遼寧省電力有限公司", &[])).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 409);
    let html = res.text().await.unwrap();
    assert!(html.contains("这家单位可能已经存在") && html.contains("名称相同") && html.contains(&location), "{html}");
    // Bad fields come back named, in Chinese, with what was typed kept.
    let res = c
        .post(app.url("/accounts/new"))
        .form(&form("某公司", &[("uscc", "91110108551385082R"), ("phones", "12345")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("91110108551385082R") && html.contains("电话 1：不是有效的电话号码"), "{html}");
    // The list, the recycle bin and back.
    let html = c.get(app.url("/accounts?scene=mine")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("国网辽宁省电力有限公司"));
    let res = c.post(app.url(&format!("{location}/delete"))).form(&[("_csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let html = c.get(app.url("/accounts?scene=bin")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("国网辽宁省电力有限公司"));
    let res = c.post(app.url(&format!("{location}/restore"))).form(&[("_csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 303);
    // Out of scope: another team's salesperson gets 404.
    let (other, _) = web_login(app, &w.sales_y.email).await;
    assert_eq!(other.get(app.url(&location)).send().await.unwrap().status().as_u16(), 404);
}
both!(accounts_pages_enter_check_and_show);

async fn people_pages_power_map_merge_and_search(app: &TestApp) {
    let w = app.world().await;
    let (c, csrf) = web_login(app, &w.sales_x.email).await;
    let (status, acc) = app
        .send(
            "POST",
            &w.sales_x.token,
            "/api/v1/accounts",
            json!({"name": "国家电网有限公司东北分部", "short_name": "东北局", "source": "cold_call"}),
        )
        .await;
    assert_eq!(status, 201);
    let acc_id = acc["id"].as_str().unwrap().to_owned();
    let person = |name: &str, extra: &[(&str, &str)]| {
        let mut v: Vec<(String, String)> =
            vec![("_csrf".into(), csrf.clone()), ("account_id".into(), acc_id.clone()), ("name".into(), name.into())];
        v.extend(extra.iter().map(|(k, x)| (k.to_string(), x.to_string())));
        v
    };
    // The new-contact form starts from the account, and offers its people as bosses.
    let html =
        c.get(app.url(&format!("/contacts/new?account_id={acc_id}"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("国家电网有限公司东北分部") && html.contains("name=\"reports_to_id\""));
    let res = c
        .post(app.url("/contacts/new"))
        .form(&person(
            "刘建国",
            &[
                ("title", "主任"),
                ("department", "调度中心"),
                ("stance", "supporter"),
                ("phones", "139 0400 1001"),
                ("key_person", "on"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let boss_url = res.headers()["location"].to_str().unwrap().to_owned();
    let boss_id = boss_url.trim_start_matches("/contacts/").to_owned();
    let res = c
        .post(app.url("/contacts/new"))
        .form(&person("陈立新", &[("stance", "opponent"), ("reports_to_id", &boss_id)]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    // The boss's page shows the stance in words and the report; the account's people tab lists both.
    let html = c.get(app.url(&boss_url)).send().await.unwrap().text().await.unwrap();
    assert!(
        html.contains("支持") && html.contains("关键人") && html.contains("陈立新") && html.contains("139 0400 1001"),
        "{html}"
    );
    let html = c.get(app.url(&format!("/accounts/{acc_id}?tab=people"))).send().await.unwrap().text().await.unwrap();
    assert!(
        html.contains("刘建国") && html.contains("反对") && html.contains("联系人 <span class=\"count\">2</span>"),
        "{html}"
    );
    // The same mobile again: the form comes back with the existing person and a way through.
    let res =
        c.post(app.url("/contacts/new")).form(&person("刘主任", &[("phones", "13904001001")])).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 409);
    let html = res.text().await.unwrap();
    assert!(html.contains("这个人可能已经录入过") && html.contains("电话相同") && html.contains(&boss_url), "{html}");
    // Bad input is named in Chinese.
    let res =
        c.post(app.url("/contacts/new")).form(&person("王五", &[("birthday", "1975-02-30")])).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 422);
    assert!(res.text().await.unwrap().contains("生日：日期格式应为"));
    // Editing marks someone as having left.
    let res = c
        .post(app.url(&format!("{boss_url}/edit")))
        .form(&person("刘建国", &[("stance", "supporter"), ("phones", "139 0400 1001"), ("left_company", "on")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let html = c.get(app.url(&boss_url)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("已离职"));

    // A second record of the account shows on its page, and is merged there.
    let (status, dup) = app
        .send(
            "POST",
            &w.sales_x.token,
            "/api/v1/accounts",
            json!({"name": "國家電網有限公司東北分部", "source": "other", "force": true, "force_reason": "导入的旧档案"}),
        )
        .await;
    assert_eq!(status, 201, "{dup}");
    let dup_id = dup["id"].as_str().unwrap();
    // Another team's record of it exists too, but is not this salesperson's to open or merge.
    let theirs = app.legacy_account("国家电网东北分部", Some(w.sales_y.id)).await;
    let html = c.get(app.url(&format!("/accounts/{acc_id}"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("这些客户可能是同一家单位") && html.contains(dup_id), "{html}");
    assert!(!html.contains(&theirs), "only duplicates the user may open are offered");
    let res = c
        .post(app.url(&format!("/accounts/{acc_id}/merge")))
        .form(&[("_csrf", csrf.as_str()), ("duplicate_id", dup_id)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let res = c.get(app.url(&format!("/accounts/{dup_id}"))).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 308);
    assert_eq!(res.headers()["location"].to_str().unwrap(), format!("/accounts/{acc_id}"));
    let html = c.get(app.url(&format!("/accounts/{acc_id}?tab=history"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("合并") && html.contains("合并自"), "{html}");

    // The search page and the header's box.
    let html = c.get(app.url("/search?q=gwdb")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("id=\"gx-search\"") && html.contains(&format!("/accounts/{acc_id}")), "{html}");
    let html = c.get(app.url("/search?q=%E5%88%98")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("请至少输入两个字"));
    let html = c.get(app.url("/contacts/new?q=%E4%B8%9C%E5%8C%97")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(&format!("/contacts/new?account_id={acc_id}")), "picking the account by search: {html}");
    let html = c.get(app.url("/contacts?scene=left")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("刘建国") && !html.contains("陈立新"));
}
both!(people_pages_power_map_merge_and_search);

async fn account_list_filters_and_saved_views(app: &TestApp) {
    let w = app.world().await;
    let t = &w.sales_x.token;
    for (name, region, class) in [
        ("沈阳远大电气有限公司", "210102", "a"),
        ("大连华信电气有限公司", "210200", "b"),
        ("北京中电有限公司", "110108", "a"),
    ] {
        let body = json!({"name": name, "source": "trade_show", "region_code": region, "classification": class});
        assert_eq!(app.send("POST", t, "/api/v1/accounts", body).await.0, 201);
    }
    // The API: a province holds its cities and districts.
    let (_, page) = app.get(t, "/api/v1/accounts?region_code=210000").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let (_, page) = app.get(t, "/api/v1/accounts?region_code=210100&classification=a").await;
    assert_eq!(page["items"][0]["name"], "沈阳远大电气有限公司");
    let (status, problem) = app.get(t, "/api/v1/accounts?region_code=999999").await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("region_code")));
    let (status, cities) = app.get(t, "/api/v1/divisions?parent=210000").await;
    assert_eq!(status, 200);
    assert!(cities.as_array().unwrap().iter().any(|c| c["name"] == "沈阳市" && c["code"] == "210100"));

    // The page: filters as selects, active ones as chips that remove them, saved as a view.
    let (c, csrf) = web_login(app, &w.sales_x.email).await;
    let html = c.get(app.url("/accounts?province=210000&classification=a")).send().await.unwrap().text().await.unwrap();
    assert!(
        html.contains("沈阳远大电气有限公司") && !html.contains("大连华信") && !html.contains("北京中电"),
        "{html}"
    );
    assert!(
        html.contains("辽宁省 ×") && html.contains("A 类 ×") && html.contains("沈阳市"),
        "chips and the province's cities"
    );
    // Sorted by name: the page lists in the order the API gives (each database collates Chinese its own way).
    let html = c.get(app.url("/accounts?sort=name")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("按名称 ×"), "the sort shows as a chip");
    let (_, api) = app.get(t, "/api/v1/accounts?sort=name").await;
    let api_names: Vec<&str> = api["items"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    let mut on_page: Vec<(usize, &str)> = api_names.iter().map(|n| (html.find(n).expect("listed"), *n)).collect();
    on_page.sort();
    let on_page: Vec<&str> = on_page.into_iter().map(|(_, n)| n).collect();
    assert_eq!((on_page.len(), &on_page), (3, &api_names), "the page lists in the API's name order");
    let res = c
        .post(app.url("/accounts/views"))
        .form(&[("_csrf", csrf.as_str()), ("name", "辽宁 A 类"), ("query", "province=210000&classification=a&bogus=1")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(res.headers()["location"], "/accounts?classification=a&province=210000");
    let html = c.get(app.url("/accounts")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("辽宁 A 类") && html.contains("/accounts?classification=a&#38;province=210000"), "{html}");
    // Views are one's own.
    let (other, _) = web_login(app, &w.sales_x1.email).await;
    let html = other.get(app.url("/accounts")).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("辽宁 A 类"));
    let id = html_view_id(&c.get(app.url("/accounts")).send().await.unwrap().text().await.unwrap());
    let res = c
        .post(app.url(&format!("/accounts/views/{id}/delete")))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let html = c.get(app.url("/accounts")).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("辽宁 A 类"));
}
both!(account_list_filters_and_saved_views);

fn html_view_id(html: &str) -> String {
    let start = html.find("/accounts/views/").expect("a saved view") + "/accounts/views/".len();
    html[start..start + 36].to_owned()
}

/// 公海 with one-click claims, refusals said in words, and 我的客户 with
/// countdowns, warnings and release with a reason.
async fn pool_pages_claim_countdown_and_release(app: &TestApp) {
    let w = app.world().await;
    let (a, _) = (
        app.send(
            "POST",
            &app.admin.token,
            "/api/v1/accounts",
            json!({"name": "沈阳鼎盛电力科技有限公司", "source": "cold_call", "owner_id": null, "phones": ["138 1234 5678"], "region_code": "210100"}),
        )
        .await
        .1,
        (),
    );
    let a_id = a["id"].as_str().unwrap().to_owned();
    let (c, csrf) = web_login(app, "sales.x@test.example").await;
    let html = c.get(app.url("/pool")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("沈阳鼎盛电力科技有限公司") && html.contains("138****5678"), "{html}");
    assert!(!html.contains("138 1234 5678"), "the number is masked in the pool");
    assert!(html.contains("辽宁省 沈阳市") && html.contains("未分配"), "region and why it is in the pool");
    let html = c.get(app.url("/pool?source=referral")).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("沈阳鼎盛电力科技有限公司"), "filtered out");

    // Someone else is quicker: the page says who has it.
    app.send("POST", &w.sales_y.token, &format!("/api/v1/accounts/{a_id}/claim"), json!({})).await;
    let res = c
        .post(app.url(&format!("/pool/accounts/{a_id}/claim?source=cold_call")))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 409);
    let html = res.text().await.unwrap();
    assert!(html.contains("已由 孙强 负责") && html.contains("申请转移"), "{html}");

    // One click claims the next one and opens it.
    let b = app
        .send(
            "POST",
            &app.admin.token,
            "/api/v1/accounts",
            json!({"name": "大连港集团有限公司", "source": "other", "owner_id": null}),
        )
        .await
        .1;
    let b_id = b["id"].as_str().unwrap().to_owned();
    let res = c
        .post(app.url(&format!("/pool/accounts/{b_id}/claim")))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(res.headers()["location"], format!("/accounts/{b_id}").as_str());

    // 我的客户: the countdown, then the warning once the job has run.
    let html = c.get(app.url("/pool/mine")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("大连港集团有限公司") && html.contains("30 天") && html.contains("未跟进"), "{html}");
    app.clock.advance(chrono::Duration::days(28));
    guanxi_store::ownership::run_job(&app.db, app.now()).await.unwrap();
    // Four weeks on, the session has long expired: log in again.
    let (c, csrf) = web_login(app, "sales.x@test.example").await;
    let html = c.get(app.url("/pool/mine")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("提醒") && html.contains("「大连港集团有限公司」将于"), "{html}");
    assert!(html.contains("badge red"), "due within the warning days shows red");

    // Releasing needs a reason, then it is back in the pool with it.
    let res = c
        .post(app.url(&format!("/pool/accounts/{b_id}/release")))
        .form(&[("_csrf", csrf.as_str()), ("reason", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 422);
    assert!(res.text().await.unwrap().contains("不能为空"));
    let res = c
        .post(app.url(&format!("/pool/accounts/{b_id}/release")))
        .form(&[("_csrf", csrf.as_str()), ("reason", "客户三年内不采购")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let html = c.get(app.url("/pool")).send().await.unwrap().text().await.unwrap();
    assert!(
        html.contains("大连港集团有限公司") && html.contains("客户三年内不采购") && html.contains("手动退回"),
        "{html}"
    );
}
both!(pool_pages_claim_countdown_and_release);

/// 报备 from a form, decided in the manager's inbox; a transfer asked from
/// the refusal on the new-account form; pool rules and the handover wizard in 设置.
async fn registration_transfer_rules_and_handover_pages(app: &TestApp) {
    let w = app.world().await;
    let (sx, sx_csrf) = web_login(app, "sales.x@test.example").await;
    let res = sx
        .post(app.url("/pool/register"))
        .form(&[
            ("_csrf", sx_csrf.as_str()),
            ("name", "营口仙人岛能源有限公司"),
            ("source", "trade_show"),
            ("note", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 422, "a note is required");
    let res = sx
        .post(app.url("/pool/register"))
        .form(&[
            ("_csrf", sx_csrf.as_str()),
            ("name", "营口仙人岛能源有限公司"),
            ("source", "trade_show"),
            ("note", "展会上认识总经理"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let (m, m_csrf) = web_login(app, "manager.x@test.example").await;
    let html = m.get(app.url("/pool/requests")).send().await.unwrap().text().await.unwrap();
    assert!(
        html.contains("营口仙人岛能源有限公司") && html.contains("展会上认识总经理") && html.contains("待审批"),
        "{html}"
    );
    let marker = "/pool/requests/registrations/";
    let start = html.find(marker).expect("a decision form") + marker.len();
    let rid = &html[start..start + 36];
    let res = m
        .post(app.url(&format!("/pool/requests/registrations/{rid}/decide")))
        .form(&[("_csrf", m_csrf.as_str()), ("decision", "reject"), ("note", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 409);
    assert!(res.text().await.unwrap().contains("说明：不能为空"), "rejecting needs a reason");
    let res = m
        .post(app.url(&format!("/pool/requests/registrations/{rid}/decide")))
        .form(&[("_csrf", m_csrf.as_str()), ("decision", "approve"), ("note", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let html = sx.get(app.url("/pool/requests?box=mine")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("已通过") && html.contains("刘经理"), "{html}");
    let html = sx.get(app.url("/pool/mine")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("营口仙人岛能源有限公司") && html.contains("90 天"), "protected for 90 days: {html}");
    assert!(html.contains("你的报备「营口仙人岛能源有限公司」已通过。"), "the requester is told: {html}");

    // Another salesperson entering it is told whose it is, and asks for it.
    let (sy, sy_csrf) = web_login(app, "sales.y@test.example").await;
    let res = sy
        .post(app.url("/accounts/new"))
        .form(&[("_csrf", sy_csrf.as_str()), ("name", "营口仙人岛能源有限公司"), ("source", "other")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 409);
    let html = res.text().await.unwrap();
    assert!(html.contains("已由 张伟 负责") && html.contains("id=\"ask-transfer\""), "{html}");
    let start = html.find("name=\"account_id\" value=\"").unwrap() + "name=\"account_id\" value=\"".len();
    let account = html[start..start + 36].to_owned();
    let res = sy
        .post(app.url("/pool/transfers"))
        .form(&[("_csrf", sy_csrf.as_str()), ("account_id", account.as_str()), ("reason", "客户总部在营口，归我区域")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let html = m.get(app.url("/pool/requests")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("转移申请") && html.contains("客户总部在营口，归我区域"), "{html}");

    // Pool rules: a bad number is named; a good change is saved.
    let (_, pools) = app.get(&app.admin.token, "/api/v1/pools").await;
    let pool = pools[0]["id"].as_str().unwrap().to_owned();
    let html = m.get(app.url("/settings/pools")).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains(&format!("action=\"/settings/pools/{pool}\"")), "not the manager's to change");
    let form = |csrf: &str, cooldown: &'static str| {
        vec![
            ("_csrf", csrf.to_owned()),
            ("name", "公海".to_owned()),
            ("max_owned", "100".to_owned()),
            ("daily_claims", "5".to_owned()),
            ("cooldown_days", cooldown.to_owned()),
            ("warn_days", "3".to_owned()),
            ("protection_days", "60".to_owned()),
            ("registration_expiry_days", "7".to_owned()),
            ("c.no_activity_days", "20".to_owned()),
            ("mask_phones", "on".to_owned()),
            ("team", w.team_x.to_string()),
        ]
    };
    // The default pool names nobody: its rules bind everyone, so only an
    // admin changes them; once it names the manager's team, the manager may.
    let pool_url = app.url(&format!("/settings/pools/{pool}"));
    let res = m.post(&pool_url).form(&form(&m_csrf, "14")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 403);
    let (a, a_csrf) = web_login(app, "admin@test.example").await;
    let res = a.post(&pool_url).form(&form(&a_csrf, "-3")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 422);
    assert!(res.text().await.unwrap().contains("超出允许的范围"));
    let res = a.post(&pool_url).form(&form(&a_csrf, "7")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let html = m.get(app.url("/settings/pools")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(&format!("action=\"/settings/pools/{pool}\"")), "now the manager's to change");
    let res = m.post(&pool_url).form(&form(&m_csrf, "14")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let (_, p) = app.get(&app.admin.token, &format!("/api/v1/pools/{pool}")).await;
    assert_eq!(
        (p["rules"]["cooldown_days"].as_i64(), p["rules"]["return_after"]["c"]["no_activity_days"].as_i64()),
        (Some(14), Some(20))
    );
    assert_eq!(
        p["rules"]["return_after"]["a"]["no_activity_days"],
        serde_json::Value::Null,
        "an empty cell turns the rule off"
    );
    assert_eq!(p["members"][0]["name"], "东北大区");

    // Handover: preview, then confirm.
    let from = w.sales_x.id.to_string();
    let to = w.sales_x1.id.to_string();
    let res = a
        .post(app.url("/settings/handover"))
        .form(&[("_csrf", a_csrf.as_str()), ("from_user_id", from.as_str()), ("to", to.as_str()), ("step", "preview")])
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(html.contains("将要交接") && html.contains("营口仙人岛能源有限公司") && html.contains("王磊"), "{html}");
    let res = a
        .post(app.url("/settings/handover"))
        .form(&[
            ("_csrf", a_csrf.as_str()),
            ("from_user_id", from.as_str()),
            ("to", to.as_str()),
            ("disable", "on"),
            ("step", "confirm"),
        ])
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(html.contains("交接完成") && html.contains("已交接"), "{html}");
    let (_, acc) = app.get(&app.admin.token, &format!("/api/v1/accounts/{account}")).await;
    assert_eq!(acc["owner_name"], "王磊");
}
both!(registration_transfer_rules_and_handover_pages);

/// 记录跟进 in one form, the 活动 tab, and 工作台 with the day's hooks.
async fn log_a_touch_and_work_the_day(app: &TestApp) {
    let w = app.world().await;
    let (_, a) = app
        .send(
            "POST",
            &w.sales_x.token,
            "/api/v1/accounts",
            json!({"name": "国网辽宁省电力有限公司", "source": "cold_call"}),
        )
        .await;
    let account = a["id"].as_str().unwrap().to_owned();
    let (_, boss) =
        app.send("POST", &w.sales_x.token, "/api/v1/contacts", json!({"account_id": account, "name": "刘建国"})).await;
    let boss = boss["id"].as_str().unwrap().to_owned();
    let (c, csrf) = web_login(app, "sales.x@test.example").await;
    let html = c.get(app.url(&format!("/accounts/{account}/log"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("记录跟进") && html.contains("刘建国") && html.contains("type=\"time\""), "{html}");
    assert!(
        html.contains("话术与 SPIN 提问") && html.contains("给您打电话是想用五分钟说一件和国网辽宁省电力有限公司"),
        "scripts beside the form: {html}"
    );

    let tomorrow =
        // Asia/Shanghai is UTC+8 all year.
        ((app.now() + chrono::Duration::hours(8)).date_naive() + chrono::Days::new(1)).to_string();
    let send = |fields: Vec<(&'static str, String)>| {
        let c = c.clone();
        let url = app.url(&format!("/accounts/{account}/log"));
        let mut form = vec![("_csrf", csrf.clone()), ("kind", "call".to_owned()), ("outcome", "connected".to_owned())];
        form.extend(fields);
        async move { c.post(url).form(&form).send().await.unwrap() }
    };
    // A hook without a time is refused, and the form comes back as typed.
    let res = send(vec![("notes", "谈了技改".into()), ("hook_date", "".into()), ("hook_time", "".into())]).await;
    assert_eq!(res.status().as_u16(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("钩子要有精确的日期和时间") && html.contains("谈了技改"), "{html}");
    let res = send(vec![
        ("contact", boss.clone()),
        ("notes", "谈了技改".into()),
        ("learned_kind", "budget".into()),
        ("learned_text", "明年预算 800 万".into()),
        ("hook_date", tomorrow.clone()),
        ("hook_time", "10:50".into()),
        ("purpose", "送方案".into()),
    ])
    .await;
    assert_eq!(res.status().as_u16(), 303);
    let html =
        c.get(app.url(&format!("/accounts/{account}?tab=activities"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("谈了技改") && html.contains("明年预算 800 万") && html.contains("10:50 送方案"), "{html}");

    // A birthday three days out (Shanghai time) is on the workbench.
    let in_three = (app.now() + chrono::Duration::hours(8)).date_naive() + chrono::Days::new(3);
    let (status, _) = app
        .send(
            "POST",
            &w.sales_x.token,
            "/api/v1/contacts",
            json!({"account_id": account, "name": "王志明", "birthday": in_three.format("--%m-%d").to_string()}),
        )
        .await;
    assert_eq!(status, 201);
    let html = c.get(app.url("/workbench")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("近期生日") && html.contains("王志明") && html.contains("还有 3 天"), "{html}");

    // Tomorrow, the hook is on the workbench; logging from it carries it out.
    app.clock.advance(chrono::Duration::days(2));
    let (c, csrf) = web_login(app, "sales.x@test.example").await;
    let html = c.get(app.url("/workbench")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("送方案") && html.contains("已逾期"), "{html}");
    let marker = "/log?task=";
    let start = html.find(marker).unwrap() + marker.len();
    let task = html[start..start + 36].to_owned();
    let res = c
        .post(app.url(&format!("/accounts/{account}/log")))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("kind", "visit"),
            ("outcome", "meeting_booked"),
            ("task", task.as_str()),
            ("no_hook_reason", "already_planned"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let html = c.get(app.url("/workbench")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("今天没有到期的钩子"), "{html}");
    // The hook was carried out a day late; the person's page shows the touch too.
    let html =
        c.get(app.url(&format!("/accounts/{account}?tab=activities"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("延迟完成") && html.contains("约到拜访"), "{html}");
    // Its touches download from the tab (the signed-in session suffices), as CSV and Excel.
    let csv_link = format!("/api/v1/activities/export?account_id={account}");
    assert!(html.contains(&format!("href=\"{csv_link}\"")), "{html}");
    assert!(
        html.contains(&format!("href=\"/api/v1/activities/export?format=xlsx&amp;account_id={account}\"")),
        "{html}"
    );
    let res = c.get(app.url(&csv_link)).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let csv = res.text().await.unwrap();
    assert!(csv.contains("谈了技改") && csv.lines().count() >= 3, "{csv}");
    let html = c.get(app.url(&format!("/contacts/{boss}"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("谈了技改") && html.contains("明年预算 800 万"), "{html}");
    let csv_link = format!("/api/v1/activities/export?contact_id={boss}");
    assert!(html.contains(&format!("href=\"{csv_link}\"")), "{html}");
    let csv = c.get(app.url(&csv_link)).send().await.unwrap().text().await.unwrap();
    assert!(csv.contains("谈了技改"), "{csv}");
    // 活动: the feed of every visible account's touches; another team sees none of them.
    let html = c.get(app.url("/activities")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("谈了技改") && html.contains(&format!("/accounts/{account}?tab=activities")), "{html}");
    let (y, _) = web_login(app, "sales.y@test.example").await;
    let html = y.get(app.url("/activities")).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("谈了技改") && html.contains("还没有跟进记录"), "{html}");
    // 统计: the manager reads the team's hook discipline and when to call.
    let (m, _) = web_login(app, "manager.x@test.example").await;
    let html = m.get(app.url("/stats")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("钩子执行情况") && html.contains("张伟") && html.contains("11:00–12:00"), "{html}");
}
both!(log_a_touch_and_work_the_day);

async fn a_recurring_task_from_the_account_page(app: &TestApp) {
    let w = app.world().await;
    let (_, a) = app
        .send("POST", &w.sales_x.token, "/api/v1/accounts", json!({"name": "大连港集团有限公司", "source": "other"}))
        .await;
    let account = a["id"].as_str().unwrap().to_owned();
    let (c, csrf) = web_login(app, "sales.x@test.example").await;
    let html =
        c.get(app.url(&format!("/accounts/{account}?tab=activities"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(&format!("/accounts/{account}/tasks/new")), "{html}");
    let html = c.get(app.url(&format!("/accounts/{account}/tasks/new"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("新建任务") && html.contains("value=\"10:00\""), "{html}");
    let tomorrow = ((app.now() + chrono::Duration::hours(8)).date_naive() + chrono::Days::new(1)).to_string();
    let send = |extra: Vec<(&'static str, String)>| {
        let c = c.clone();
        let url = app.url(&format!("/accounts/{account}/tasks/new"));
        let mut form = vec![
            ("_csrf", csrf.clone()),
            ("purpose", "回访使用情况".to_owned()),
            ("date", tomorrow.clone()),
            ("time", "09:30".to_owned()),
        ];
        form.extend(extra);
        async move { c.post(url).form(&form).send().await.unwrap() }
    };
    // A recurrence that never says when it ends is refused, and the form comes back as typed.
    let res = send(vec![("every", "30".into())]).await;
    assert_eq!(res.status().as_u16(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("value=\"回访使用情况\"") && html.contains("value=\"30\""), "{html}");
    let res = send(vec![("every", "30".into()), ("forever", "1".into())]).await;
    assert_eq!(res.status().as_u16(), 303);
    let until = (app.now() + chrono::Duration::days(3)).to_rfc3339().replace('+', "%2B");
    let (_, tasks) = app.get(&w.sales_x.token, &format!("/api/v1/tasks?until={until}")).await;
    let t = &tasks.as_array().unwrap()[0];
    assert_eq!(
        (t["purpose"].as_str(), t["repeat_every_days"].as_i64(), t["repeat_forever"].as_bool()),
        (Some("回访使用情况"), Some(30), Some(true))
    );
    let due: chrono::DateTime<chrono::Utc> = t["due_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(due.with_timezone(&chrono_tz::Asia::Shanghai).format("%H:%M").to_string(), "09:30");
}
both!(a_recurring_task_from_the_account_page);

async fn the_script_library_page(app: &TestApp) {
    let w = app.world().await;
    // Everyone reads it; a salesperson sees no edit forms.
    let (c, _) = web_login(app, "sales.x@test.example").await;
    let html = c.get(app.url("/settings/scripts")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("开场白") && html.contains("SPIN") && !html.contains("add-script"), "{html}");
    let (c, csrf) = web_login(app, &w.manager_x.email).await;
    let html = c.get(app.url("/settings/scripts")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("add-script"), "{html}");
    // A placeholder that does not exist is refused and the wording kept.
    let res = c
        .post(app.url("/settings/scripts"))
        .form(&[("_csrf", csrf.as_str()), ("kind", "objection"), ("title", "价格高"), ("body", "{客户名}，价格可以谈")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("{客户名}，价格可以谈"), "{html}");
    let res = c
        .post(app.url("/settings/scripts"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("kind", "objection"),
            ("title", "价格高"),
            ("body", "{联系人}您好，价格可以谈"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    // Rewritten in place: the API shows the new wording, the audit log the old.
    let (_, all) = app.get(&w.manager_x.token, "/api/v1/scripts?kind=objection").await;
    let made = all.as_array().unwrap().iter().find(|s| s["title"] == "价格高").unwrap().clone();
    let id = made["id"].as_str().unwrap();
    let res = c
        .post(app.url(&format!("/settings/scripts/{id}")))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("kind", "objection"),
            ("title", "价格太高"),
            ("body", "{联系人}，我们算一笔账"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let (_, all) = app.get(&w.manager_x.token, "/api/v1/scripts?kind=objection").await;
    assert!(all.as_array().unwrap().iter().any(|s| s["id"] == id && s["body"] == "{联系人}，我们算一笔账"), "{all}");
    let (status, _) = app
        .send(
            "PUT",
            &w.sales_x.token,
            &format!("/api/v1/scripts/{id}"),
            json!({"kind": "objection", "title": "x", "body": "y"}),
        )
        .await;
    assert_eq!(status, 403, "salespeople do not edit the library");
}
both!(the_script_library_page);

async fn opportunity_pages_path_risk_and_pipeline(app: &TestApp) {
    let w = app.world().await;
    let x = &w.sales_x.token;
    let (_, a) = app.send("POST", x, "/api/v1/accounts", json!({"name": "国网东北分部", "source": "referral"})).await;
    let account = a["id"].as_str().unwrap().to_owned();
    let (_, boss) = app
        .send("POST", x, "/api/v1/contacts", json!({"account_id": account, "name": "刘建国", "stance": "supporter"}))
        .await;
    let boss = boss["id"].as_str().unwrap().to_owned();
    let (c, csrf) = web_login(app, &w.sales_x.email).await;
    let html = c.get(app.url("/opportunities")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("还没有商机"), "empty state");
    // 新建商机 starts by finding the account, with the search box's index.
    let html = c.get(app.url("/opportunities/new?q=东北分部")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("先找到商机所属的客户"), "{html}");
    assert!(html.contains(&format!("/opportunities/new?account_id={account}")), "{html}");
    let form = c.get(app.url(&format!("/opportunities/new?account_id={account}"))).send().await.unwrap();
    let html = form.text().await.unwrap();
    assert!(html.contains("刘建国") && html.contains("可研审查"), "the people to tick and the stages");
    let fields = |amount: &str| {
        vec![
            ("_csrf", csrf.clone()),
            ("account_id", account.clone()),
            ("name", "调度自动化系统改造".to_owned()),
            ("stage", "tender".to_owned()),
            ("first_contact_stage", String::new()),
            ("amount", amount.to_owned()),
            ("contact_ids", boss.clone()),
        ]
    };
    // A bad amount comes back named, with what was typed kept.
    let res = c.post(app.url("/opportunities/new")).form(&fields("一百万")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("金额：") && html.contains("一百万"), "{html}");
    let res = c.post(app.url("/opportunities/new")).form(&fields("125万")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let page = c.get(app.url(&location)).send().await.unwrap().text().await.unwrap();
    for shown in ["调度自动化系统改造", "国网东北分部", "¥1,250,000", "陪标风险", "凑数陪标", "刘建国", "推进到 中标"]
    {
        assert!(page.contains(shown), "the deal's page shows {shown}");
    }
    // 推进 moves it to 中标: won.
    let res = c.post(app.url(&format!("{location}/advance"))).form(&[("_csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let page = c.get(app.url(&location)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("赢单") && page.contains("推进到 合同"), "{page}");
    // The list and its pipeline; the account's tab leads there.
    let html =
        c.get(app.url(&format!("/opportunities?account_id={account}"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("调度自动化系统改造") && html.contains("125万") && html.contains("销售漏斗"), "{html}");
    let html = c.get(app.url(&format!("/accounts/{account}"))).send().await.unwrap().text().await.unwrap();
    assert!(
        html.contains(&format!(
            "/opportunities?account_id={account}\" id=\"tab-opportunities\">商机 <span class=\"count\">1</span>"
        )),
        "the account's 商机 tab counts its deals"
    );
    // A touch logged from the deal's page is linked to it and shown there.
    let deal_id = location.rsplit('/').next().unwrap().to_owned();
    let form = c
        .get(app.url(&format!("/accounts/{account}/log?opportunity={deal_id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(form.contains(&format!("<option value=\"{deal_id}\" selected>调度自动化系统改造")), "the deal is chosen");
    let res = c
        .post(app.url(&format!("/accounts/{account}/log")))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("kind", "visit"),
            ("outcome", "connected"),
            ("opportunity", deal_id.as_str()),
            ("notes", "中标后的第一次拜访"),
            ("no_hook_reason", "already_planned"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let page = c.get(app.url(&location)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("中标后的第一次拜访"), "the deal's page lists its touches");
    // Only a manager's form offers to give the deal to someone.
    let edit = format!("{location}/edit");
    let html = c.get(app.url(&edit)).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("name=\"owner_id\""), "a salesperson keeps or takes deals, does not give them");
    let (m, _) = web_login(app, &w.manager_x.email).await;
    let html = m.get(app.url(&edit)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("name=\"owner_id\"") && html.contains("王磊"), "the manager picks the owner");
    // Out of scope: another team's salesperson gets 404.
    let (other, _) = web_login(app, &w.sales_y.email).await;
    assert_eq!(other.get(app.url(&location)).send().await.unwrap().status().as_u16(), 404);
}
both!(opportunity_pages_path_risk_and_pipeline);

/// 客服 reads accounts, contacts and deals but changes none: their pages
/// offer no edit, delete, merge or new-record buttons (the forms would be 403).
async fn service_is_shown_no_buttons_it_cannot_use(app: &TestApp) {
    let w = app.world().await;
    app.user_in(app.workspace, "service@test.example", "客服小李", guanxi_domain::Role::Service, None).await;
    let body = serde_json::json!({"name": "沈阳远航电气有限公司", "source": "other"});
    let (_, a) = app.send("POST", &w.sales_x.token, "/api/v1/accounts", body).await;
    let page = format!("/accounts/{}", a["id"].as_str().unwrap());
    for (email, shown) in [("sales.x@test.example", true), ("service@test.example", false)] {
        let (c, _) = web_login(app, email).await;
        let html = c.get(app.url(&page)).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("沈阳远航电气有限公司"), "{email} reads the account");
        assert_eq!(html.contains("/edit\""), shown, "{email}: the edit button");
        assert_eq!(html.contains("/delete\""), shown, "{email}: the delete button");
        let list = c.get(app.url("/accounts")).send().await.unwrap().text().await.unwrap();
        assert_eq!(list.contains("href=\"/accounts/new\""), shown, "{email}: the new-account button");
    }
}
both!(service_is_shown_no_buttons_it_cannot_use);
