//! Reminders out of the app: WeCom, DingTalk and Feishu robots and e-mail,
//! each checked against a local server that verifies what its vendor
//! documents (payload, signature); retries, failures a person can see, and a
//! delivery sent once even when workers crash or race.

use crate::harness::TestApp;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::{Json, Router};
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use guanxi_domain::notify::Verdict;
use guanxi_notify::Sender;
use guanxi_store::activities;
use guanxi_store::outbox;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// One request a robot received.
#[derive(Clone, Debug)]
struct Hit {
    path: String,
    query: HashMap<String, String>,
    body: Value,
}

/// How the robot answers, by path.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Answer {
    Ok,
    ServerError,
    Slow,
    BadSignature,
}

#[derive(Clone, Default)]
struct Robot {
    hits: Arc<Mutex<Vec<Hit>>>,
    answers: Arc<Mutex<HashMap<String, Answer>>>,
}

impl Robot {
    async fn start() -> (Robot, String) {
        let robot = Robot::default();
        let app = Router::new().fallback(axum::routing::post(receive)).with_state(robot.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (robot, base)
    }

    fn answer(&self, path: &str, a: Answer) {
        self.answers.lock().unwrap().insert(path.to_owned(), a);
    }

    fn hits(&self, path: &str) -> Vec<Hit> {
        self.hits.lock().unwrap().iter().filter(|h| h.path == path).cloned().collect()
    }
}

async fn receive(
    State(robot): State<Robot>,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> (StatusCode, String) {
    let path = uri.path().to_owned();
    robot.hits.lock().unwrap().push(Hit { path: path.clone(), query, body });
    let answer = robot.answers.lock().unwrap().get(&path).copied().unwrap_or(Answer::Ok);
    let ok =
        if path.contains("open-apis") { r#"{"code":0,"msg":"success"}"# } else { r#"{"errcode":0,"errmsg":"ok"}"# };
    match answer {
        Answer::Ok => (StatusCode::OK, ok.into()),
        Answer::ServerError => (StatusCode::INTERNAL_SERVER_ERROR, "upstream busy".into()),
        Answer::Slow => {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            (StatusCode::OK, ok.into())
        }
        Answer::BadSignature => (StatusCode::OK, r#"{"errcode":310000,"errmsg":"sign not match"}"#.into()),
    }
}

/// One message an SMTP client handed over.
#[derive(Clone, Debug)]
struct Mail {
    from: String,
    to: Vec<String>,
    data: String,
}

/// A minimal SMTP server: enough of RFC 5321 for one client to hand over mail.
async fn smtp_server() -> (Arc<Mutex<Vec<Mail>>>, u16) {
    let mails = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let store = mails.clone();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else { return };
            let store = store.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"220 test ESMTP\r\n").await.unwrap();
                let (mut from, mut to) = (String::new(), Vec::new());
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250 test\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        from = line[10..].trim().to_owned();
                        b"250 OK\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        to.push(line[8..].trim().to_owned());
                        b"250 OK\r\n"
                    } else if upper == "DATA" {
                        w.write_all(b"354 go on\r\n").await.unwrap();
                        let mut data = String::new();
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            data.push_str(&l);
                            data.push('\n');
                        }
                        store.lock().unwrap().push(Mail { from: from.clone(), to: to.clone(), data });
                        b"250 queued\r\n"
                    } else if upper == "QUIT" {
                        w.write_all(b"221 bye\r\n").await.unwrap();
                        return;
                    } else {
                        b"250 OK\r\n"
                    };
                    w.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (mails, port)
}

/// The subject (RFC 2047 encoded words) and the Base64 body of a mail, decoded.
fn decode_mail(data: &str) -> (String, String) {
    let (head, body) = data.split_once("\n\n").unwrap();
    let unfolded = head.replace("\n ", " ").replace("\n\t", " ");
    let subject = unfolded.lines().find_map(|l| l.strip_prefix("Subject: ")).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let subject: String = subject
        .split_whitespace()
        .map(|w| {
            let inner = w.strip_prefix("=?utf-8?b?").and_then(|w| w.strip_suffix("?=")).unwrap_or(w);
            String::from_utf8(b64.decode(inner).unwrap_or_else(|_| inner.as_bytes().to_vec())).unwrap()
        })
        .collect();
    let body: String = body.lines().collect();
    (subject, String::from_utf8(b64.decode(body).unwrap()).unwrap())
}

fn hmac_b64(key: &[u8], msg: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(msg);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (status, v) = app.send("POST", token, path, body).await;
    assert!(status == 200 || status == 201 || status == 202, "{path}: {status} {v}");
    v
}

fn sender(smtp_port: Option<u16>) -> Sender {
    let smtp = smtp_port.map(|p| guanxi_notify::SmtpConfig {
        url: format!("smtp://127.0.0.1:{p}"),
        from: "Guanxi <crm@test.example>".into(),
    });
    Sender::with_timeout(smtp.as_ref(), std::time::Duration::from_secs(1))
        .unwrap()
        .with_hosts(guanxi_domain::notify::WebhookHosts::for_tests("127.0.0.1"))
}

async fn each_channel_gets_what_its_vendor_documents(app: &TestApp) {
    let w = app.world().await;
    let x = &w.sales_x.token;
    let (robot, base) = Robot::start().await;
    let (mails, smtp_port) = smtp_server().await;

    // Bad targets are refused, naming the field; nothing is added.
    for (body, field, code) in [
        (json!({"kind": "wecom", "label": "群", "target": "ftp://robot/x"}), "target", "invalid_url"),
        (json!({"kind": "feishu", "label": "群", "target": "not a url"}), "target", "invalid_url"),
        (json!({"kind": "email", "label": "邮箱", "target": "nobody"}), "target", "invalid_email"),
        (
            json!({"kind": "wecom", "label": "群", "target": format!("{base}/w"), "secret": "x"}),
            "secret",
            "not_applicable",
        ),
        (json!({"kind": "wecom", "label": "", "target": format!("{base}/w")}), "label", "required"),
        // A robot's URL is https on its vendor's host: never the server's own network.
        (
            json!({"kind": "dingtalk", "label": "群", "target": "https://10.0.0.5/robot/send?access_token=t"}),
            "target",
            "not_vendor_host",
        ),
        (
            json!({"kind": "wecom", "label": "群", "target": "https://qyapi.weixin.qq.com.evil.example/send?key=k"}),
            "target",
            "not_vendor_host",
        ),
        (
            json!({"kind": "feishu", "label": "群", "target": "http://open.feishu.cn/open-apis/bot/v2/hook/h"}),
            "target",
            "not_vendor_host",
        ),
        (
            json!({"kind": "feishu", "label": "群", "target": "https://oapi.dingtalk.com/robot/send?access_token=t"}),
            "target",
            "not_vendor_host",
        ),
    ] {
        let (status, p) = app.send("POST", x, "/api/v1/me/channels", body).await;
        assert_eq!(
            (status, p["errors"][0]["field"].as_str(), p["errors"][0]["code"].as_str()),
            (422, Some(field), Some(code)),
            "{p}"
        );
    }
    assert_eq!(app.count("notify_channels").await, 0);

    let wecom = format!("{base}/cgi-bin/webhook/send?key=K1");
    let ding = format!("{base}/robot/send?access_token=T1");
    let feishu = format!("{base}/open-apis/bot/v2/hook/H1");
    let made =
        post(app, x, "/api/v1/me/channels", json!({"kind": "wecom", "label": "销售一组群", "target": wecom})).await;
    // The robot's key is never shown back.
    assert_eq!(made["target"], format!("http://127.0.0.1/…"));
    assert_eq!(made["events"].as_array().unwrap().len(), 4);
    post(
        app,
        x,
        "/api/v1/me/channels",
        json!({"kind": "dingtalk", "label": "钉钉", "target": ding, "secret": "SECtest"}),
    )
    .await;
    post(
        app,
        x,
        "/api/v1/me/channels",
        json!({"kind": "feishu", "label": "飞书", "target": feishu, "secret": "fs-secret"}),
    )
    .await;
    post(app, x, "/api/v1/me/channels", json!({"kind": "email", "label": "邮箱", "target": w.sales_x.email})).await;
    // Each chooses: this robot only hears of returns to the pool.
    post(
        app,
        x,
        "/api/v1/me/channels",
        json!({"kind": "wecom", "label": "公海提醒", "target": format!("{base}/pool-only"), "events": ["release_warning"]}),
    )
    .await;

    // A call with a hook tomorrow; the reminder goes 15 minutes before.
    let a = post(app, x, "/api/v1/accounts", json!({"name": "国网辽宁省电力有限公司", "source": "cold_call"})).await;
    let due: DateTime<Utc> = app.now() + Duration::days(1);
    let logged = post(
        app,
        x,
        "/api/v1/activities",
        json!({"account_id": a["id"], "kind": "call", "outcome": "connected",
               "hook": {"due_at": due.to_rfc3339(), "purpose": "送技改方案"}}),
    )
    .await;
    assert_eq!(activities::remind_due(&app.db, app.now()).await.unwrap(), 0, "not yet");
    app.clock.advance(Duration::days(1) - Duration::minutes(15));
    assert_eq!(activities::remind_due(&app.db, app.now()).await.unwrap(), 1);
    let report = guanxi_notify::deliver_due(&app.db, &sender(Some(smtp_port)), app.clock.as_ref()).await.unwrap();
    assert_eq!((report.sent, report.retried, report.failed), (4, 0, 0));

    let shanghai = due.with_timezone(&chrono_tz::Asia::Shanghai);
    let text = format!("{} 送技改方案", shanghai.format("%-m月%-d日 %H:%M"));
    let content = format!("【关系】钩子提醒：国网辽宁省电力有限公司\n{text}");
    // WeCom: the key stays in the URL; a text message.
    let hits = robot.hits("/cgi-bin/webhook/send");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].query.get("key").map(String::as_str), Some("K1"));
    assert_eq!(hits[0].body, json!({"msgtype": "text", "text": {"content": content}}));
    // DingTalk: timestamp in ms and sign = Base64(HMAC-SHA256(secret, "{timestamp}\n{secret}")) in the query.
    let hits = robot.hits("/robot/send");
    assert_eq!(hits.len(), 1);
    let q = &hits[0].query;
    assert_eq!(q.get("access_token").map(String::as_str), Some("T1"));
    let ts = q["timestamp"].clone();
    assert_eq!(ts, app.now().timestamp_millis().to_string());
    assert_eq!(q["sign"], hmac_b64(b"SECtest", format!("{ts}\nSECtest").as_bytes()));
    assert_eq!(hits[0].body, json!({"msgtype": "text", "text": {"content": content}}));
    // Feishu: timestamp in seconds and sign = Base64(HMAC-SHA256(key "{timestamp}\n{secret}", empty)) in the body.
    let hits = robot.hits("/open-apis/bot/v2/hook/H1");
    assert_eq!(hits.len(), 1);
    let ts = hits[0].body["timestamp"].as_str().unwrap().to_owned();
    assert_eq!(ts, app.now().timestamp().to_string());
    assert_eq!(
        hits[0].body,
        json!({"msg_type": "text", "content": {"text": content}, "timestamp": ts,
               "sign": hmac_b64(format!("{ts}\nfs-secret").as_bytes(), b"")})
    );
    assert!(robot.hits("/pool-only").is_empty(), "a channel gets only what it chose");
    // E-mail: to the person, subject and body in UTF-8.
    let mails = mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].from, "<crm@test.example>");
    assert_eq!(mails[0].to, vec![format!("<{}>", w.sales_x.email)]);
    assert_eq!(decode_mail(&mails[0].data), ("【关系】钩子提醒：国网辽宁省电力有限公司".to_owned(), text));

    // Never twice: the job and the worker again change nothing.
    assert_eq!(activities::remind_due(&app.db, app.now()).await.unwrap(), 0);
    let again = guanxi_notify::deliver_due(&app.db, &sender(Some(smtp_port)), app.clock.as_ref()).await.unwrap();
    assert_eq!(again, guanxi_notify::Report::default());
    assert_eq!(robot.hits("/cgi-bin/webhook/send").len(), 1);

    // Moved to the day after: reminded again, for the new time, with the lead the person set.
    let (status, p) = app.send("PUT", x, "/api/v1/me/reminders", json!({"remind_lead_minutes": 5000})).await;
    assert_eq!((status, p["errors"][0]["field"].as_str()), (422, Some("remind_lead_minutes")), "{p}");
    app.send("PUT", x, "/api/v1/me/reminders", json!({"remind_lead_minutes": 60})).await;
    let task = logged["hook"]["id"].as_str().unwrap();
    let later = due + Duration::days(1);
    post(
        app,
        x,
        &format!("/api/v1/tasks/{task}/reschedule"),
        json!({"due_at": later.to_rfc3339(), "reason": "客户出差"}),
    )
    .await;
    app.clock.advance(Duration::days(1) - Duration::minutes(46));
    assert_eq!(activities::remind_due(&app.db, app.now()).await.unwrap(), 0, "an hour and a minute before: not yet");
    app.clock.advance(Duration::minutes(1));
    assert_eq!(activities::remind_due(&app.db, app.now()).await.unwrap(), 1);
    guanxi_notify::deliver_due(&app.db, &sender(Some(smtp_port)), app.clock.as_ref()).await.unwrap();
    let hits = robot.hits("/cgi-bin/webhook/send");
    assert_eq!(hits.len(), 2);
    let new_time = later.with_timezone(&chrono_tz::Asia::Shanghai).format("%-m月%-d日 %H:%M").to_string();
    assert!(hits[1].body["text"]["content"].as_str().unwrap().contains(&new_time), "{:?}", hits[1].body);

    let (_, sent) = app.get(x, "/api/v1/me/deliveries").await;
    assert_eq!(sent.as_array().unwrap().len(), 8);
    assert!(sent.as_array().unwrap().iter().all(|d| d["status"] == "sent"), "{sent}");
}
both!(each_channel_gets_what_its_vendor_documents);

async fn failing_channels_are_retried_then_failed_with_the_reason(app: &TestApp) {
    let w = app.world().await;
    let x = &w.sales_x.token;
    let (robot, base) = Robot::start().await;
    robot.answer("/busy", Answer::ServerError);
    robot.answer("/slow", Answer::Slow);
    robot.answer("/robot/send", Answer::BadSignature);
    let busy =
        post(app, x, "/api/v1/me/channels", json!({"kind": "wecom", "label": "忙", "target": format!("{base}/busy")}))
            .await;
    let slow =
        post(app, x, "/api/v1/me/channels", json!({"kind": "feishu", "label": "慢", "target": format!("{base}/slow")}))
            .await;
    let bad = post(
        app,
        x,
        "/api/v1/me/channels",
        json!({"kind": "dingtalk", "label": "签名错", "target": format!("{base}/robot/send?access_token=t"), "secret": "SECwrong"}),
    )
    .await;
    let mail =
        post(app, x, "/api/v1/me/channels", json!({"kind": "email", "label": "邮箱", "target": w.sales_x.email})).await;
    for c in [&busy, &slow, &bad, &mail] {
        post(app, x, &format!("/api/v1/me/channels/{}/test", c["id"].as_str().unwrap()), Value::Null).await;
    }
    // No SMTP relay configured: e-mail fails at once with a reason a person can act on.
    let s = sender(None);
    let first = guanxi_notify::deliver_due(&app.db, &s, app.clock.as_ref()).await.unwrap();
    assert_eq!((first.sent, first.retried, first.failed), (0, 2, 2));
    let status_of = |all: &Value, label: &str| -> (String, i64, String) {
        let d = all.as_array().unwrap().iter().find(|d| d["channel_label"] == label).unwrap();
        (
            d["status"].as_str().unwrap().into(),
            d["attempts"].as_i64().unwrap(),
            d["last_error"].as_str().unwrap_or("").into(),
        )
    };
    let (_, all) = app.get(x, "/api/v1/me/deliveries").await;
    let (st, n, why) = status_of(&all, "签名错");
    assert_eq!((st.as_str(), n), ("failed", 1));
    assert!(why.contains("310000") && why.contains("sign not match"), "{why}");
    assert!(status_of(&all, "邮箱").2.contains("SMTP"), "{all}");
    let (st, _, why) = status_of(&all, "慢");
    assert_eq!(st, "pending");
    assert!(why.contains("no answer within 1 s"), "{why}");
    assert_eq!(status_of(&all, "忙"), ("pending".into(), 1, "HTTP 500: upstream busy".into()));

    // Not due again until the backoff has passed; then tried until the fifth attempt.
    assert_eq!(
        guanxi_notify::deliver_due(&app.db, &s, app.clock.as_ref()).await.unwrap(),
        guanxi_notify::Report::default()
    );
    for wait in [1, 5, 30, 120] {
        app.clock.advance(Duration::minutes(wait));
        guanxi_notify::deliver_due(&app.db, &s, app.clock.as_ref()).await.unwrap();
    }
    assert_eq!(robot.hits("/busy").len(), 5);
    let (_, all) = app.get(x, "/api/v1/me/deliveries").await;
    let (st, n, why) = status_of(&all, "忙");
    assert_eq!((st.as_str(), n), ("failed", 5));
    assert_eq!(why, "gave up after 5 attempts: HTTP 500: upstream busy");
    assert_eq!(status_of(&all, "慢").0, "failed");
    app.clock.advance(Duration::days(1));
    guanxi_notify::deliver_due(&app.db, &s, app.clock.as_ref()).await.unwrap();
    assert_eq!(robot.hits("/busy").len(), 5, "a failed delivery stays failed");

    // The person is told in the app, with the channel and the reason.
    let (_, notes) = app.get(x, "/api/v1/notifications").await;
    let failed: Vec<&Value> =
        notes["items"].as_array().unwrap().iter().filter(|n| n["kind"] == "delivery_failed").collect();
    assert_eq!(failed.len(), 4, "{notes}");
    assert!(failed
        .iter()
        .any(|n| n["data"]["channel_label"] == "忙" && n["data"]["reason"].as_str().unwrap().contains("HTTP 500")));

    // Someone else's channel is not theirs to test, change or remove.
    let other = &w.sales_y.token;
    let path = format!("/api/v1/me/channels/{}", busy["id"].as_str().unwrap());
    assert_eq!(app.send("DELETE", other, &path, Value::Null).await.0, 404);
    assert_eq!(app.send("PATCH", other, &path, json!({"enabled": false})).await.0, 404);
    assert_eq!(app.send("POST", other, &format!("{path}/test"), Value::Null).await.0, 404);
    let (_, theirs) = app.get(other, "/api/v1/me/deliveries").await;
    assert!(theirs.as_array().unwrap().is_empty());
}
both!(failing_channels_are_retried_then_failed_with_the_reason);

async fn a_delivery_is_sent_once_despite_crashes_and_races(app: &TestApp) {
    let w = app.world().await;
    let x = &w.sales_x.token;
    let (robot, base) = Robot::start().await;
    let c = post(app, x, "/api/v1/me/channels", json!({"kind": "wecom", "label": "群", "target": format!("{base}/w")}))
        .await;
    let test = format!("/api/v1/me/channels/{}/test", c["id"].as_str().unwrap());
    post(app, x, &test, Value::Null).await;

    // A worker claims it and dies before sending: the row is leased, not lost.
    let dead = outbox::claim(&app.db, app.now(), 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    let s = sender(None);
    assert_eq!(guanxi_notify::deliver_due(&app.db, &s, app.clock.as_ref()).await.unwrap().sent, 0, "still leased");
    app.clock.advance(guanxi_domain::notify::LEASE + Duration::seconds(1));
    assert_eq!(
        guanxi_notify::deliver_due(&app.db, &s, app.clock.as_ref()).await.unwrap().sent,
        1,
        "taken again after the lease"
    );
    // The dead worker coming back cannot record over the live one's outcome.
    assert!(!outbox::finish(&app.db, &dead[0], Verdict::Retry("late".into()), app.now()).await.unwrap());
    let (_, all) = app.get(x, "/api/v1/me/deliveries").await;
    assert_eq!((all[0]["status"].as_str(), all[0]["attempts"].as_i64()), (Some("sent"), Some(2)));

    // Two workers racing over 30 deliveries: each sent exactly once.
    for _ in 0..30 {
        post(app, x, &test, Value::Null).await;
    }
    let (s1, s2) = (sender(None), sender(None));
    let (a, b) = tokio::join!(
        guanxi_notify::deliver_due(&app.db, &s1, app.clock.as_ref()),
        guanxi_notify::deliver_due(&app.db, &s2, app.clock.as_ref())
    );
    assert_eq!(a.unwrap().sent + b.unwrap().sent, 30);
    assert_eq!(robot.hits("/w").len(), 31);

    // Switched off: what is queued fails with that reason rather than going out.
    app.send("PATCH", x, &format!("/api/v1/me/channels/{}", c["id"].as_str().unwrap()), json!({"enabled": false}))
        .await;
    post(app, x, &test, Value::Null).await;
    let r = guanxi_notify::deliver_due(&app.db, &s, app.clock.as_ref()).await.unwrap();
    assert_eq!((r.sent, r.failed), (0, 1));
    assert_eq!(robot.hits("/w").len(), 31);
}
both!(a_delivery_is_sent_once_despite_crashes_and_races);

async fn reminder_settings_page(app: &TestApp) {
    let w = app.world().await;
    let (robot, base) = Robot::start().await;
    let (c, csrf) = crate::web::web_login(app, &w.sales_x.email).await;
    let html = c.get(app.url("/settings/notifications")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("提醒渠道") && html.contains("还没有渠道") && html.contains("value=\"15\""), "{html}");

    // A bad address comes back named, with what was typed.
    let form = |target: String| {
        vec![
            ("_csrf", csrf.clone()),
            ("kind", "dingtalk".to_owned()),
            ("label", "销售一组群".to_owned()),
            ("target", target),
            ("secret", "SECpage".to_owned()),
            ("events", "task_due".to_owned()),
        ]
    };
    let res = c.post(app.url("/settings/notifications/channels")).form(&form("ftp://x".into())).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("地址：不是有效的 http(s) 地址") && html.contains("value=\"销售一组群\""), "{html}");
    let res = c
        .post(app.url("/settings/notifications/channels"))
        .form(&form(format!("{base}/robot/send?access_token=SECRET-TOKEN")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let html = c.get(app.url("/settings/notifications")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("钉钉机器人") && html.contains("已加签") && html.contains("钩子/任务到期"), "{html}");
    assert!(!html.contains("SECRET-TOKEN") && !html.contains("SECpage"), "the key and secret are not shown back");

    // A test message, sent by the worker, shows as delivered.
    let (_, list) = app.get(&w.sales_x.token, "/api/v1/me/channels").await;
    let id = list[0]["id"].as_str().unwrap();
    let res = c
        .post(app.url(&format!("/settings/notifications/channels/{id}/test")))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    guanxi_notify::deliver_due(&app.db, &sender(None), app.clock.as_ref()).await.unwrap();
    assert_eq!(robot.hits("/robot/send")[0].body["text"]["content"], "【关系】测试消息\n渠道「销售一组群」已连通。");
    let html = c.get(app.url("/settings/notifications")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("测试消息") && html.contains("已送达"), "{html}");

    // The lead, then switching the channel off.
    let res = c
        .post(app.url("/settings/notifications/lead"))
        .form(&[("_csrf", csrf.as_str()), ("remind_lead_minutes", "2000")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 422);
    assert!(res.text().await.unwrap().contains("提前提醒（分钟）"));
    c.post(app.url("/settings/notifications/lead"))
        .form(&[("_csrf", csrf.as_str()), ("remind_lead_minutes", "30")])
        .send()
        .await
        .unwrap();
    assert_eq!(app.get(&w.sales_x.token, "/api/v1/me/reminders").await.1["remind_lead_minutes"], 30);
    c.post(app.url(&format!("/settings/notifications/channels/{id}/toggle")))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let html = c.get(app.url("/settings/notifications")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("已关闭"), "{html}");
}
both!(reminder_settings_page);

async fn greetings_before_holidays_and_birthdays(app: &TestApp) {
    let w = app.world().await;
    let x = &w.sales_x.token;
    let (robot, base) = Robot::start().await;
    post(
        app,
        x,
        "/api/v1/me/channels",
        json!({"kind": "wecom", "label": "问候", "target": format!("{base}/greet"), "events": ["greeting"]}),
    )
    .await;
    // Move to two days before the next holiday at least three days away, 09:00 in Shanghai.
    let tz = chrono_tz::Asia::Shanghai;
    let today = app.now().with_timezone(&tz).date_naive();
    let (holiday, on) =
        guanxi_domain::holiday::upcoming(today, 400).into_iter().find(|(_, d)| (*d - today).num_days() >= 3).unwrap();
    let target_day = on - Duration::days(2);
    let target = target_day.and_hms_opt(9, 0, 0).unwrap().and_local_timezone(tz).unwrap().with_timezone(&Utc);
    let a = post(app, x, "/api/v1/accounts", json!({"name": "国网辽宁省电力有限公司", "source": "cold_call"})).await;
    let born = target_day + Duration::days(1);
    let birthday = format!("--{}", born.format("%m-%d"));
    post(app, x, "/api/v1/contacts", json!({"account_id": a["id"], "name": "刘建国", "birthday": birthday})).await;
    post(app, x, "/api/v1/contacts", json!({"account_id": a["id"], "name": "王芳", "birthday": "--01-01"})).await;
    app.clock.advance(target - app.now());

    assert_eq!(
        guanxi_store::greetings::run(&app.db, app.now()).await.unwrap(),
        2,
        "the holiday and tomorrow's birthday"
    );
    assert_eq!(guanxi_store::greetings::run(&app.db, app.now()).await.unwrap(), 0, "once per occasion");
    guanxi_notify::deliver_due(&app.db, &sender(None), app.clock.as_ref()).await.unwrap();
    let said: Vec<String> =
        robot.hits("/greet").iter().map(|h| h.body["text"]["content"].as_str().unwrap().to_owned()).collect();
    assert_eq!(said.len(), 2, "{said:?}");
    let holiday_line = format!("【关系】{}（{}）将至：问候关键人", holiday.label_zh(), on.format("%-m月%-d日"));
    assert!(said.iter().any(|s| s.starts_with(&holiday_line)), "{said:?}");
    let birthday_line = format!(
        "【关系】明天（{}）是刘建国的生日\n国网辽宁省电力有限公司：记得送上生日祝福。",
        born.format("%-m月%-d日")
    );
    assert!(said.contains(&birthday_line), "{said:?}");

    // 工作台 shows the holiday coming, from the lunisolar calendar.
    let (c, _) = crate::web::web_login(app, &w.sales_x.email).await;
    let html = c.get(app.url("/workbench")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(holiday.label_zh()) && html.contains("还有 2 天"), "{html}");
}
both!(greetings_before_holidays_and_birthdays);

async fn purchases_schedule_a_restock_reminder(app: &TestApp) {
    let w = app.world().await;
    let x = &w.sales_x.token;
    let a = post(app, x, "/api/v1/accounts", json!({"name": "大连港集团有限公司", "source": "other"})).await;
    let path = format!("/api/v1/accounts/{}/purchases", a["id"].as_str().unwrap());
    let tz = chrono_tz::Asia::Shanghai;
    let today = app.now().with_timezone(&tz).date_naive();
    let day = |n: i64| (today - Duration::days(n)).to_string();

    // Bad input is named; nothing is written.
    for (body, field, code) in [
        (json!({"item": "", "purchased_on": day(0)}), "item", "required"),
        (json!({"item": "备件", "purchased_on": (today + Duration::days(1)).to_string()}), "purchased_on", "in_future"),
        (json!({"item": "备件", "purchased_on": "昨天"}), "purchased_on", "invalid_date"),
        (json!({"item": "备件", "purchased_on": day(0), "cycle_days": 0}), "cycle_days", "out_of_range"),
    ] {
        let (status, p) = app.send("POST", x, &path, body).await;
        assert_eq!(
            (status, p["errors"][0]["field"].as_str(), p["errors"][0]["code"].as_str()),
            (422, Some(field), Some(code)),
            "{p}"
        );
    }
    assert_eq!(app.count("purchases").await, 0);

    // One purchase says nothing of a cycle; a second, 30 days later, teaches it.
    let first =
        post(app, x, &path, json!({"item": "继电保护备件", "purchased_on": day(40), "quantity": "20 套"})).await;
    assert_eq!((first["cycle_days"].clone(), first["restock"].clone()), (Value::Null, Value::Null));
    let second = post(app, x, &path, json!({"item": "继电保护备件", "purchased_on": day(10)})).await;
    assert_eq!((second["cycle_days"].as_i64(), second["cycle_source"].as_str()), (Some(30), Some("learned")));
    // Reminded a week before it runs out: 30 - 7 days after the last purchase, at 10:00.
    let due: DateTime<Utc> = second["restock"]["due_at"].as_str().unwrap().parse().unwrap();
    let expect = (today - Duration::days(10) + Duration::days(23)).and_hms_opt(10, 0, 0).unwrap();
    assert_eq!(due.with_timezone(&tz).naive_local(), expect);
    assert_eq!(second["restock"]["assignee_id"], json!(w.sales_x.id));
    assert!(second["restock"]["purpose"].as_str().unwrap().contains("继电保护备件"));

    // A stated cycle wins, and the earlier reminder gives way: one open reminder per item.
    let third = post(app, x, &path, json!({"item": "继电保护备件", "purchased_on": day(0), "cycle_days": 60})).await;
    assert_eq!((third["cycle_days"].as_i64(), third["cycle_source"].as_str()), (Some(60), Some("stated")));
    let until = (app.now() + Duration::days(90)).to_rfc3339().replace('+', "%2B");
    let (_, tasks) = app.get(x, &format!("/api/v1/tasks?until={until}")).await;
    let restock: Vec<&Value> = tasks
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["purpose"].as_str().unwrap_or("").starts_with("提醒客户补货"))
        .collect();
    assert_eq!(restock.len(), 1, "{tasks}");
    assert_eq!(restock[0]["id"], third["restock"]["id"]);
    let (_, list) = app.get(x, &path).await;
    assert_eq!(list.as_array().unwrap().len(), 3);

    // Someone who cannot see the account cannot record there.
    assert_eq!(app.send("POST", &w.sales_y.token, &path, json!({"item": "x", "purchased_on": day(0)})).await.0, 404);

    // The page: the reminder and the history.
    let (c, _) = crate::web::web_login(app, &w.sales_x.email).await;
    let html = c
        .get(app.url(&format!("/accounts/{}/purchases", a["id"].as_str().unwrap())))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("补货提醒") && html.contains("约每 60 天采购一次") && html.contains("20 套"), "{html}");
}
both!(purchases_schedule_a_restock_reminder);
