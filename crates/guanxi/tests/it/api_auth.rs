//! Logging in, throttling, disabled users, tokens and sessions over the API.

use crate::harness::{TestApp, PASSWORD};
use guanxi_domain::Role;
use serde_json::json;

async fn login(app: &TestApp, email: &str, password: &str) -> (u16, serde_json::Value) {
    let res = app
        .client()
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    crate::harness::read(res).await
}

async fn good_and_bad_password(app: &TestApp) {
    let (status, body) = login(app, "ADMIN@test.example ", PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("gxs_"));
    assert_eq!(body["user"]["email"], "admin@test.example");
    let (status, me) = app.get(&token, "/api/v1/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["role"], "admin");
    assert_eq!(me["data_scope"], "workspace");
    assert_eq!(me["time_zone"], "Asia/Shanghai");

    let (status, body) = login(app, "admin@test.example", "wrong-password").await;
    assert_eq!((status, body["code"].as_str()), (401, Some("invalid_credentials")));
    // An unknown account answers exactly like a wrong password.
    let (status, body) = login(app, "nobody@test.example", PASSWORD).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("invalid_credentials")));

    // Logging out ends the session token.
    let res = app.client().post(app.url("/api/v1/auth/logout")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 204);
    let (status, _) = app.get(&token, "/api/v1/me").await;
    assert_eq!(status, 401);
}
both!(good_and_bad_password);

async fn throttling_locks_an_account_then_lets_it_go(app: &TestApp) {
    for _ in 0..5 {
        assert_eq!(login(app, "admin@test.example", "wrong-password").await.0, 401);
    }
    // Locked: even the right password is refused, with a time to wait.
    let res = app
        .client()
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "admin@test.example", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 429);
    let retry: i64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 15 * 60, "retry-after {retry}");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "too_many_attempts");
    assert!(body["detail"].as_str().unwrap().contains("15 minutes"));

    app.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(login(app, "admin@test.example", PASSWORD).await.0, 200);
}
both!(throttling_locks_an_account_then_lets_it_go);

async fn throttling_per_address(app: &TestApp) {
    // A guesser locks the account guessed at, not the colleagues behind the
    // same address (an office's NAT).
    for _ in 0..6 {
        login(app, "admin@test.example", "wrong-password").await;
    }
    let colleague = app.user_in(app.workspace, "colleague@test.example", "李娜", Role::Sales, None).await;
    assert_eq!(login(app, &colleague.email, PASSWORD).await.0, 200, "a colleague at the same address");
    // A hundred failures from one address across many accounts lock the address.
    for i in 0..95 {
        assert_eq!(login(app, &format!("guess{i}@test.example"), "wrong-password").await.0, 401, "attempt {i}");
    }
    let (status, body) = login(app, &colleague.email, PASSWORD).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("too_many_attempts")));
}
both!(throttling_per_address);

async fn simultaneous_guesses_are_counted_before_they_are_checked(app: &TestApp) {
    let guesses = (0..30).map(|i| login(app, "admin@test.example", if i == 29 { PASSWORD } else { "wrong-password" }));
    let answers = futures_util::future::join_all(guesses).await;
    let checked = answers.iter().filter(|(s, _)| *s != 429).count();
    let refused = answers.iter().filter(|(s, b)| *s == 429 && b["code"] == "too_many_attempts").count();
    assert!(checked <= 5, "{checked} of 30 simultaneous attempts were checked: {answers:?}");
    assert_eq!(checked + refused, 30, "{answers:?}");
    // The window ends, and the right password works again.
    app.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(login(app, "admin@test.example", PASSWORD).await.0, 200);
}
both!(simultaneous_guesses_are_counted_before_they_are_checked);

async fn disabled_users_cannot_log_in_or_use_tokens(app: &TestApp) {
    let sales = app.user_in(app.workspace, "sales@test.example", "张伟", Role::Sales, None).await;
    let (status, _) = app.get(&sales.token, "/api/v1/me").await;
    assert_eq!(status, 200);
    let (_, session) = login(app, &sales.email, PASSWORD).await;
    let session = session["token"].as_str().unwrap().to_owned();

    let (status, body) =
        app.send("PATCH", &app.admin.token, &format!("/api/v1/users/{}", sales.id), json!({"disabled": true})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["disabled_at"].is_string());

    assert_eq!(app.get(&sales.token, "/api/v1/me").await.0, 401, "token of a disabled user");
    assert_eq!(app.get(&session, "/api/v1/me").await.0, 401, "session of a disabled user");
    let (status, body) = login(app, &sales.email, PASSWORD).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("account_disabled")));

    // Enabled again, the same token works: disabling is reversible.
    let (status, _) =
        app.send("PATCH", &app.admin.token, &format!("/api/v1/users/{}", sales.id), json!({"disabled": false})).await;
    assert_eq!(status, 200);
    assert_eq!(app.get(&sales.token, "/api/v1/me").await.0, 200);
}
both!(disabled_users_cannot_log_in_or_use_tokens);

async fn tokens_are_listed_and_revoked(app: &TestApp) {
    let (status, created) = app.send("POST", &app.admin.token, "/api/v1/me/tokens", json!({"name": "报表脚本"})).await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("gxt_"));
    assert_eq!(created["prefix"].as_str().unwrap(), &secret[..8]);
    assert_eq!(app.get(&secret, "/api/v1/me").await.0, 200);

    let (_, list) = app.get(&app.admin.token, "/api/v1/me/tokens").await;
    let listed = list.as_array().unwrap();
    assert_eq!(listed.len(), 2, "the harness token and the new one");
    assert!(listed.iter().all(|t| t.get("secret").is_none() && t.get("token_hash").is_none()));

    let id = created["id"].as_str().unwrap();
    let (status, revoked) = app.send("DELETE", &app.admin.token, &format!("/api/v1/me/tokens/{id}"), json!({})).await;
    assert_eq!(status, 200);
    assert!(revoked["revoked_at"].is_string());
    assert_eq!(app.get(&secret, "/api/v1/me").await.0, 401);

    // Someone else's token id is not found for you.
    let other = app.user_in(app.workspace, "other@test.example", "李娜", Role::Sales, None).await;
    let (status, _) = app.send("DELETE", &other.token, &format!("/api/v1/me/tokens/{id}"), json!({})).await;
    assert_eq!(status, 404);
}
both!(tokens_are_listed_and_revoked);

async fn password_change_ends_other_sessions(app: &TestApp) {
    let (_, a) = login(app, "admin@test.example", PASSWORD).await;
    let (_, b) = login(app, "admin@test.example", PASSWORD).await;
    let (a, b) = (a["token"].as_str().unwrap().to_owned(), b["token"].as_str().unwrap().to_owned());

    let (status, body) = app
        .send("POST", &a, "/api/v1/me/password", json!({"current_password": "wrong", "new_password": "new-password-2"}))
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "current_password");

    let (status, body) = app
        .send("POST", &a, "/api/v1/me/password", json!({"current_password": PASSWORD, "new_password": "short"}))
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "new_password");

    let (status, _) = app
        .send(
            "POST",
            &a,
            "/api/v1/me/password",
            json!({"current_password": PASSWORD, "new_password": "new-password-2"}),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(app.get(&a, "/api/v1/me").await.0, 200, "the session that changed it stays");
    assert_eq!(app.get(&b, "/api/v1/me").await.0, 401, "other sessions end");
    assert_eq!(login(app, "admin@test.example", PASSWORD).await.0, 401);
    assert_eq!(login(app, "admin@test.example", "new-password-2").await.0, 200);
}
both!(password_change_ends_other_sessions);

async fn health_and_metrics(app: &TestApp) {
    let res = app.client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let res = app.client().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    app.get(&app.admin.token, "/api/v1/me").await;
    // Not for anyone who asks: the harness's scraper token, or nothing.
    let res = app.client().get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let res = app.client().get(app.url("/metrics")).bearer_auth(&app.admin.token).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 401, "a user's token is not the scraper's");
    let res = app.client().get(app.url("/metrics")).bearer_auth(crate::harness::METRICS_TOKEN).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let text = res.text().await.unwrap();
    assert!(text.contains("http_requests_total{method=\"GET\",route=\"/api/v1/me\",status=\"200\"}"), "{text}");
    assert!(text.contains("http_request_duration_seconds_bucket"));
    assert!(text.contains("db_pool_connections"));
}
both!(health_and_metrics);

#[tokio::test]
async fn without_a_metrics_token_there_are_no_metrics() {
    let config = guanxi_web::WebConfig { metrics_token: None, ..Default::default() };
    let app = TestApp::spawn_with(crate::harness::Backend::Sqlite, config).await;
    let res = app.client().get(app.url("/metrics")).bearer_auth("anything").send().await.unwrap();
    assert_eq!(res.status().as_u16(), 404);
    app.finish().await;
}
