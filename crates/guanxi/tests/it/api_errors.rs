//! Every error class answers application/problem+json with a stable code;
//! bad input names the field and writes nothing.

use crate::harness::TestApp;
use serde_json::{json, Value};

async fn raw(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &str,
) -> (u16, String, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = app.client().request(m, app.url(path)).header("content-type", content_type).body(body.to_owned());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let ct = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let text = res.text().await.unwrap();
    (status, ct, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn assert_problem(status: u16, ct: &str, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(ct, "application/problem+json");
    assert_eq!(body["status"], want_status);
    assert_eq!(body["code"], want_code, "{body}");
    assert!(body["title"].is_string() && body["type"].is_string());
    assert!(!body["detail"].as_str().unwrap().is_empty());
}

async fn every_error_class_is_a_problem(app: &TestApp) {
    let t = app.admin.token.clone();
    let (s, ct, b) = raw(app, "GET", "/api/v1/me", None, "application/json", "").await;
    assert_problem(s, &ct, &b, 401, "unauthorized");
    let (s, ct, b) = raw(app, "GET", "/api/v1/me", Some("gxt_not-a-real-token"), "application/json", "").await;
    assert_problem(s, &ct, &b, 401, "unauthorized");
    let (s, ct, b) = raw(app, "POST", "/api/v1/users", Some(&t), "application/json", "{\"email\": ").await;
    assert_problem(s, &ct, &b, 400, "malformed_json");
    let (s, ct, b) = raw(app, "POST", "/api/v1/users", Some(&t), "text/plain", "hello").await;
    assert_problem(s, &ct, &b, 415, "unsupported_media_type");
    let (s, ct, b) =
        raw(app, "GET", "/api/v1/users/00000000-0000-7000-8000-000000000000", Some(&t), "application/json", "").await;
    assert_problem(s, &ct, &b, 404, "not_found");
    let (s, ct, b) = raw(app, "GET", "/api/v1/users/not-a-uuid", Some(&t), "application/json", "").await;
    assert_problem(s, &ct, &b, 422, "validation_failed");
    assert_eq!(b["errors"][0]["field"], "id", "a malformed id is named: {b}");
    let (s, ct, b) = raw(app, "GET", "/api/v1/no-such-endpoint", Some(&t), "application/json", "").await;
    assert_problem(s, &ct, &b, 404, "not_found");
    let sales = app.user_in(app.workspace, "s@test.example", "张伟", guanxi_domain::Role::Sales, None).await;
    let (s, ct, b) = raw(app, "GET", "/api/v1/audit", Some(&sales.token), "application/json", "").await;
    assert_problem(s, &ct, &b, 403, "forbidden");
    let body =
        json!({"email": "s@test.example", "display_name": "x", "password": "password-1", "role": "sales"}).to_string();
    let (s, ct, b) = raw(app, "POST", "/api/v1/users", Some(&t), "application/json", &body).await;
    assert_problem(s, &ct, &b, 409, "email_taken");
    assert_eq!(b["errors"][0]["field"], "email");
    let (s, ct, b) = raw(app, "POST", "/api/v1/teams", Some(&t), "application/json", "{\"name\": \"\"}").await;
    assert_problem(s, &ct, &b, 422, "validation_failed");
    // Just over the 1 MiB limit: a much larger body races the server's early
    // 413 (the client may still be writing when the connection closes).
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(1024 * 1024 + 16 * 1024));
    let (s, ct, b) = raw(app, "POST", "/api/v1/teams", Some(&t), "application/json", &big).await;
    assert_problem(s, &ct, &b, 413, "payload_too_large");
    for _ in 0..5 {
        raw(
            app,
            "POST",
            "/api/v1/auth/login",
            None,
            "application/json",
            "{\"email\":\"admin@test.example\",\"password\":\"nope-nope\"}",
        )
        .await;
    }
    let (s, ct, b) = raw(
        app,
        "POST",
        "/api/v1/auth/login",
        None,
        "application/json",
        "{\"email\":\"admin@test.example\",\"password\":\"nope-nope\"}",
    )
    .await;
    assert_problem(s, &ct, &b, 429, "too_many_attempts");
}
both!(every_error_class_is_a_problem);

async fn bad_input_names_the_field_and_writes_nothing(app: &TestApp) {
    let t = app.admin.token.clone();
    let users_before = app.count("users").await;
    let audit_before = app.count("audit_log").await;
    let base = json!({"email": "ok@test.example", "display_name": "张伟", "password": "password-123", "role": "sales"});
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"email": 42}), "email", "invalid_type"),
        (with(&base, "role", json!("boss")), "role", "invalid_type"),
        (with(&base, "surprise", json!(1)), "surprise", "unknown_field"),
        (with(&base, "email", json!("not-an-email")), "email", "invalid_email"),
        (with(&base, "email", json!("")), "email", "required"),
        (with(&base, "password", json!("")), "password", "required"),
        (with(&base, "password", json!("short")), "password", "too_short"),
        (with(&base, "display_name", json!("张".repeat(101))), "display_name", "too_long"),
        (with(&base, "display_name", json!("a\u{0007}b")), "display_name", "control_characters"),
        (with(&base, "team_id", json!("00000000-0000-7000-8000-000000000000")), "team_id", "invalid"),
    ];
    for (body, field, code) in cases {
        let (status, problem) = app.send("POST", &t, "/api/v1/users", body.clone()).await;
        assert!(status == 400 || status == 422, "{body} gave {status}");
        let err = &problem["errors"][0];
        assert_eq!((err["field"].as_str(), err["code"].as_str()), (Some(field), Some(code)), "{body} gave {problem}");
    }
    // Several bad fields are reported together.
    let (_, problem) = app
        .send("POST", &t, "/api/v1/users", json!({"email": "x", "display_name": "", "password": "", "role": "sales"}))
        .await;
    assert_eq!(problem["errors"].as_array().unwrap().len(), 3, "{problem}");
    // A bad login input is a 422 naming the field too.
    let res = app
        .client()
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "admin@test.example", "password": ""}))
        .send()
        .await
        .unwrap();
    let (status, problem) = crate::harness::read(res).await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("password")));
    assert_eq!(app.count("users").await, users_before, "nothing was written");
    assert_eq!(app.count("audit_log").await, audit_before, "nothing was audited");
}
both!(bad_input_names_the_field_and_writes_nothing);

fn with(base: &Value, key: &str, v: Value) -> Value {
    let mut b = base.clone();
    b[key] = v;
    b
}

async fn garbage_never_breaks_the_server(app: &TestApp) {
    let t = app.admin.token.clone();
    let w = app.world().await;
    let user = format!("/api/v1/users/{}", w.sales_x.id);
    let team = format!("/api/v1/teams/{}", w.team_x);
    let endpoints: Vec<(&str, &str)> = vec![
        ("POST", "/api/v1/auth/login"),
        ("PATCH", "/api/v1/me"),
        ("POST", "/api/v1/me/password"),
        ("POST", "/api/v1/me/tokens"),
        ("POST", "/api/v1/users"),
        ("PATCH", &user),
        ("POST", "/api/v1/teams"),
        ("PATCH", &team),
        ("PATCH", "/api/v1/roles/sales"),
    ];
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut random = || {
        let mut bytes = Vec::new();
        for _ in 0..64 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            bytes.push((seed & 0xff) as u8);
        }
        bytes
    };
    let mut bodies: Vec<Vec<u8>> = [
        "null",
        "[]",
        "\"x\"",
        "1e999",
        "{",
        "{}",
        "{\"email\": null}",
        "{\"name\": [1,2]}",
        "{\"data_scope\": \"everything\"}",
        "{\"team_id\": \"not-a-uuid\"}",
        "{\"display_name\": 99999999999999999999999}",
        "{\"email\": \"\\ud800\"}",
        "{\"locale\": \"xx\"}",
        "{\"parent_id\": {}}",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    bodies.push(deep.into_bytes());
    for _ in 0..5 {
        bodies.push(random());
    }
    let users_before = app.count("users").await;
    for (method, path) in &endpoints {
        for body in &bodies {
            let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let res = app
                .client()
                .request(m, app.url(path))
                .bearer_auth(&t)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let ct = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
            assert!(
                (400..500).contains(&status) || status == 200,
                "{method} {path} with {:?} gave {status}",
                String::from_utf8_lossy(body)
            );
            if status != 200 {
                assert_eq!(ct, "application/problem+json", "{method} {path}");
            }
        }
    }
    assert_eq!(app.count("users").await, users_before);
    // The server is still answering.
    assert_eq!(app.get(&t, "/api/v1/me").await.0, 200);
}
both!(garbage_never_breaks_the_server);

/// Text no database keeps (a NUL), line breaks, a megabyte of text and
/// malformed ids: a 4xx problem naming the parameter, on both backends,
/// never a 5xx and never an export cut off halfway.
async fn hostile_text_is_named_never_a_server_error(app: &TestApp) {
    let t = app.admin.token.clone();
    for (path, field) in [
        ("/api/v1/contacts?tag=a%00b", "tag"),
        ("/api/v1/accounts?tag=a%00b", "tag"),
        ("/api/v1/audit?entity_type=account%00", "entity_type"),
        ("/api/v1/accounts/export?tag=%00", "tag"),
        ("/api/v1/search?q=%E5%8D%8E%00", "q"),
    ] {
        let (s, ct, b) = raw(app, "GET", path, Some(&t), "application/json", "").await;
        assert_problem(s, &ct, &b, 422, "validation_failed");
        assert_eq!(b["errors"][0]["field"], field, "{path}: {b}");
        assert_eq!(b["errors"][0]["code"], "control_characters", "{path}: {b}");
    }
    let before = app.count("accounts").await;
    let (s, ct, b) = raw(
        app,
        "POST",
        "/api/v1/accounts",
        Some(&t),
        "application/json",
        r#"{"name": "沈阳\u0000电力", "source": "other"}"#,
    )
    .await;
    assert_problem(s, &ct, &b, 422, "validation_failed");
    assert_eq!(b["errors"][0]["field"], "name", "{b}");
    let body = r#"{"name": "沈阳电力有限公司", "source": "other", "tags": ["ok", "a\u0000"]}"#;
    let (s, ct, b) = raw(app, "POST", "/api/v1/accounts", Some(&t), "application/json", body).await;
    assert_problem(s, &ct, &b, 422, "validation_failed");
    assert_eq!(b["errors"][0]["field"], "tags[1]", "{b}");
    // An escaped backslash before `u0000` is ordinary text.
    let body = r#"{"name": "沈阳\\u0000电力有限公司", "source": "other"}"#;
    let (s, _, b) = raw(app, "POST", "/api/v1/accounts", Some(&t), "application/json", body).await;
    assert_eq!(s, 201, "{b}");
    // A body must be an object: an array of the fields in order is not one.
    let (s, ct, b) = raw(app, "PATCH", "/api/v1/me", Some(&t), "application/json", r#"["新名字"]"#).await;
    assert_problem(s, &ct, &b, 422, "validation_failed");
    assert_eq!(app.get(&t, "/api/v1/me").await.1["display_name"], "管理员");
    // Line breaks and a lone surrogate: never a 5xx.
    let mut written = 1;
    for body in [
        r#"{"name": "沈阳\r\n电力设备有限公司", "source": "other"}"#,
        r#"{"name": "沈阳\ud800电力", "source": "other"}"#,
    ] {
        let (s, ct, b) = raw(app, "POST", "/api/v1/accounts", Some(&t), "application/json", body).await;
        assert!((200..300).contains(&s) || ((400..500).contains(&s) && ct == "application/problem+json"), "{s} {b}");
        written += i64::from(s == 201);
    }
    // A megabyte of text is refused whole.
    let big = format!(r#"{{"name": "{}", "source": "other"}}"#, "电".repeat(400_000));
    let (s, ct, _) = raw(app, "POST", "/api/v1/accounts", Some(&t), "application/json", &big).await;
    assert!(s == 413 || s == 422, "{s}");
    assert_eq!(ct, "application/problem+json");
    let (s, ct, b) = raw(app, "GET", "/api/v1/accounts/not-a-uuid", Some(&t), "application/json", "").await;
    assert_problem(s, &ct, &b, 422, "validation_failed");
    assert_eq!((b["errors"][0]["field"].as_str(), b["errors"][0]["code"].as_str()), (Some("id"), Some("malformed")));
    assert_eq!(app.count("accounts").await, before + written, "nothing refused was written");
    // A page with a NUL in its filters answers a page saying so.
    let (c, _) = crate::web::web_login(app, "admin@test.example").await;
    let res = c.get(app.url("/accounts?tag=a%00b")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 422);
}
both!(hostile_text_is_named_never_a_server_error);

/// A string property's schema, following a `$ref` to the components.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) {
        Some(name) => &doc["components"]["schemas"][name],
        None => schema,
    }
}

fn is_string(doc: &Value, schema: &Value) -> bool {
    let s = resolve(doc, schema);
    s["type"] == "string"
        || s["type"].as_array().is_some_and(|t| t.iter().any(|t| t == "string"))
        || s["oneOf"].as_array().is_some_and(|o| o.iter().any(|x| resolve(doc, x)["type"] == "string"))
}

/// Every operation of the document, with every path id malformed, every text
/// query parameter and every text property of its body holding a NUL, line
/// breaks, a lone surrogate or a megabyte: a 4xx problem (naming the
/// parameter where it says what is wrong with one), never a 5xx or a cut
/// connection; nothing is written.
async fn every_parameter_refuses_hostile_input(app: &TestApp) {
    let t = app.admin.token.clone();
    let doc = app.get(&t, "/api/v1/openapi.json").await.1;
    let audit = app.count("audit_log").await;
    let megabyte = "电".repeat(350_000);
    let mut failures = Vec::new();
    let mut sent = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let method = method.to_uppercase();
            if template == "/api/v1/auth/logout" || (template.contains("/me/tokens/") && method == "DELETE") {
                continue; // would end the test's own session
            }
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let path_params: Vec<String> =
                params.iter().filter(|p| p["in"] == "path").map(|p| p["name"].as_str().unwrap().to_owned()).collect();
            let with_ids = |value: &str| {
                path_params.iter().fold(template.clone(), |p, name| {
                    // A role is named, not numbered.
                    let value = if name == "role" && value != "not-a-uuid" { "sales" } else { value };
                    p.replace(&format!("{{{name}}}"), value)
                })
            };
            let body = if method == "GET" || method == "DELETE" { "" } else { "{}" };
            let mut check = |path: String, body: String, names: Option<String>, status: u16, ct: String, b: Value| {
                sent += 1;
                let problem = ct == "application/problem+json" && b["status"] == status;
                if !(400..500).contains(&status) || !problem {
                    failures.push(format!("{method} {path} {}: {status} {ct}", &body[..body.len().min(80)]));
                } else if let Some(name) = names {
                    if status == 422
                        && !b["errors"].as_array().is_some_and(|e| e.iter().any(|e| e["field"] == name.as_str()))
                    {
                        failures.push(format!("{method} {path}: 422 does not name {name}: {b}"));
                    }
                }
            };
            // A malformed id, in each path parameter at once.
            if !path_params.is_empty() {
                let path = with_ids("not-a-uuid");
                let (s, ct, b) = raw(app, &method, &path, Some(&t), "application/json", body).await;
                check(path, body.into(), path_params.first().cloned(), s, ct, b);
            }
            let base = with_ids(&uuid::Uuid::nil().to_string());
            // Each text query parameter, hostile.
            for p in params.iter().filter(|p| p["in"] == "query" && is_string(&doc, &p["schema"])) {
                let name = p["name"].as_str().unwrap();
                for (value, names) in [("a%00b", true), ("a%0D%0Ab", false), ("a%ED%A0%80b", false)] {
                    let path = format!("{base}?{name}={value}");
                    let (s, ct, b) = raw(app, &method, &path, Some(&t), "application/json", body).await;
                    if !(200..300).contains(&s) || names {
                        check(path, body.into(), names.then(|| name.to_owned()), s, ct, b);
                    }
                }
            }
            // Each text property of the body, hostile.
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            let props = resolve(&doc, schema)["properties"].as_object().cloned().unwrap_or_default();
            for (prop, _) in props.iter().filter(|(_, s)| is_string(&doc, s)) {
                for (value, names) in [(json!("a\u{0}b"), true), (json!(megabyte), false)] {
                    let body = json!({ prop.as_str(): value }).to_string();
                    let (s, ct, b) = raw(app, &method, &base, Some(&t), "application/json", &body).await;
                    check(base.clone(), body, names.then(|| prop.clone()), s, ct, b);
                }
            }
        }
    }
    // The longest address a client sends (64 KB: `http`'s limit) gets an
    // answer, not a cut connection: the HTTP layer refuses it (414/431) or
    // the search answers it.
    let path = format!("/api/v1/search?q={}", "%E7%94%B5".repeat(7_000));
    let res = app.client().get(app.url(&path)).bearer_auth(&t).send().await.expect("an answer");
    let status = res.status().as_u16();
    assert!(status < 500, "{status}");
    assert!(sent > 300, "the document's parameters were tried: {sent}");
    assert!(
        failures.is_empty(),
        "{} of {sent} hostile requests were not refused as they should be:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(app.count("audit_log").await, audit, "nothing was written");
}
both!(every_parameter_refuses_hostile_input);

/// The database going away mid-session is a 503 `database_unavailable`,
/// never a field error (a lookup of the record a body names used to turn any
/// failure into "account_id names no account you may see") nor a 500.
/// PostgreSQL only: an embedded SQLite file does not go away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_a_503_not_a_field_error() {
    let app = TestApp::spawn(crate::harness::Backend::Postgres).await;
    let t = app.admin.token.clone();
    let (_, a) =
        app.send("POST", &t, "/api/v1/accounts", json!({"name": "沈阳远航电气有限公司", "source": "other"})).await;
    let guanxi_store::Target::Postgres(url) = &app.target else { unreachable!() };
    let name = url.rsplit('/').next().unwrap().to_owned();
    let admin = crate::harness::admin_conn().await;
    let stop = |allow: bool| format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {allow}");
    admin.execute(guanxi_store::Sql::new(&stop(false))).await.unwrap();
    admin
        .execute(
            guanxi_store::Sql::new(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            )
            .arg(name.as_str()),
        )
        .await
        .unwrap();
    let touch = json!({"account_id": a["id"], "kind": "call", "outcome": "connected", "no_hook_reason": "no_need"});
    for (method, path, body) in
        [("POST", "/api/v1/activities", touch.to_string()), ("GET", "/api/v1/accounts", String::new())]
    {
        let (s, ct, b) = raw(&app, method, path, Some(&t), "application/json", &body).await;
        assert_problem(s, &ct, &b, 503, "database_unavailable");
    }
    admin.execute(guanxi_store::Sql::new(&stop(true))).await.unwrap();
    admin.close().await;
    // Back, it answers again.
    let (s, _) = app.get(&t, "/api/v1/accounts").await;
    assert_eq!(s, 200);
    app.finish().await;
}
