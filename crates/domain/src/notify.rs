//! Reminders out of the app: the channels Chinese teams use (a WeCom, DingTalk
//! or Feishu group robot, or e-mail), what each vendor expects on the wire and
//! how it signs, how an answer is judged, and when to try again. No HTTP here:
//! the sender (`guanxi-notify`) builds its requests from these.

use crate::account::vocabulary;
use crate::values::FieldError;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;

vocabulary!(
    /// Where a person's reminders go besides the app.
    ChannelKind {
        /// 企业微信群机器人 (webhook with `key=`).
        Wecom = "wecom" / "企业微信机器人",
        /// 钉钉群机器人 (webhook with `access_token=`, optionally signed).
        Dingtalk = "dingtalk" / "钉钉机器人",
        /// 飞书群机器人 (webhook, optionally signed).
        Feishu = "feishu" / "飞书机器人",
        /// E-mail through the server's SMTP relay.
        Email = "email" / "电子邮件",
    }
);

vocabulary!(
    /// What a channel may be sent.
    Event {
        /// A hook or task falls due (钩子提醒).
        TaskDue = "task_due" / "钩子/任务到期",
        /// An account is about to return to the pool.
        ReleaseWarning = "release_warning" / "客户即将退回公海",
        /// A manager decided one's registration or transfer request.
        RequestDecided = "request_decided" / "报备/转移审批结果",
        /// A Chinese holiday or a key person's birthday is coming: time to greet.
        Greeting = "greeting" / "节日/生日问候",
    }
);

/// Attempts at one delivery before it is marked failed.
pub const MAX_ATTEMPTS: i64 = 5;

/// How long a worker holds a delivery it is sending; past it another worker
/// (or the same after a restart) may take it again.
pub const LEASE: Duration = Duration::minutes(2);

/// How long one send may take.
pub const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// When to try again after failed attempt number `attempt` (1-based), or
/// `None` when it was the last: 1 min, 5 min, 30 min, 2 h.
pub fn retry_delay(attempt: i64) -> Option<Duration> {
    match attempt {
        ..=1 => Some(Duration::minutes(1)),
        2 => Some(Duration::minutes(5)),
        3 => Some(Duration::minutes(30)),
        a if a < MAX_ATTEMPTS => Some(Duration::hours(2)),
        _ => None,
    }
}

impl ChannelKind {
    /// The host the vendor's robot webhooks live on; `None` for e-mail.
    pub fn vendor_host(self) -> Option<&'static str> {
        match self {
            ChannelKind::Wecom => Some("qyapi.weixin.qq.com"),
            ChannelKind::Dingtalk => Some("oapi.dingtalk.com"),
            ChannelKind::Feishu => Some("open.feishu.cn"),
            ChannelKind::Email => None,
        }
    }
}

/// Where robot webhooks may point: https on the vendor's own host, so that no
/// user can make the server send requests into its own network. Tests add
/// one local host (`for_tests`); nothing a user configures can.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebhookHosts {
    test_host: Option<String>,
}

impl WebhookHosts {
    /// The vendors' hosts only: what every running Guanxi uses.
    pub fn vendors() -> Self {
        Self::default()
    }

    /// Also plain http on `host` (any port): for tests' local stand-ins of
    /// the vendors. Set by test code only, never from a configuration file.
    pub fn for_tests(host: &str) -> Self {
        Self { test_host: Some(host.to_owned()) }
    }

    /// Whether `url` may be called for a robot of `kind`.
    pub fn check(&self, kind: ChannelKind, url: &url::Url) -> Result<(), FieldError> {
        let host = url.host_str().unwrap_or("");
        if let Some(test) = &self.test_host {
            if url.scheme() == "http" && host == test && url.username().is_empty() {
                return Ok(());
            }
        }
        let Some(vendor) = kind.vendor_host() else {
            return Err(FieldError::new("target", "invalid_url", "an e-mail channel has no URL"));
        };
        let on_vendor = url.scheme() == "https"
            && host.eq_ignore_ascii_case(vendor)
            && url.port().is_none()
            && url.username().is_empty()
            && url.password().is_none();
        if on_vendor {
            Ok(())
        } else {
            Err(FieldError::new(
                "target",
                "not_vendor_host",
                format!("a {} webhook is an https URL on {vendor}, as the robot's settings show it", kind.as_str()),
            ))
        }
    }
}

/// Checks a channel's target before it is saved: a webhook must be an https
/// URL on its vendor's host (`WebhookHosts`); e-mail an address. A signing
/// secret only where the vendor signs.
pub fn check_target(
    kind: ChannelKind,
    target: &str,
    secret: Option<&str>,
    hosts: &WebhookHosts,
) -> Result<(), FieldError> {
    let target = target.trim();
    if target.is_empty() {
        return Err(FieldError::new("target", "required", "target must not be empty"));
    }
    match kind {
        ChannelKind::Email => {
            crate::values::Email::parse("target", target)?;
        }
        _ => {
            let url = url::Url::parse(target)
                .map_err(|_| FieldError::new("target", "invalid_url", format!("target is not a URL: {target}")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(FieldError::new(
                    "target",
                    "invalid_url",
                    format!("target must be an https webhook URL, not {}:", url.scheme()),
                ));
            }
            if url.host_str().is_none_or(str::is_empty) {
                return Err(FieldError::new("target", "invalid_url", "target must name a host"));
            }
            hosts.check(kind, &url)?;
        }
    }
    match (kind, secret.map(str::trim)) {
        (ChannelKind::Wecom | ChannelKind::Email, Some(s)) if !s.is_empty() => Err(FieldError::new(
            "secret",
            "not_applicable",
            format!("{} has no signing secret; leave secret empty", kind.as_str()),
        )),
        _ => Ok(()),
    }
}

/// A webhook URL as shown back: scheme and host only, since the rest (the
/// robot's key or token) lets anyone post to the group.
pub fn redact_target(kind: ChannelKind, target: &str) -> String {
    if kind == ChannelKind::Email {
        return target.to_owned();
    }
    match url::Url::parse(target) {
        Ok(u) => format!("{}://{}/…", u.scheme(), u.host_str().unwrap_or("")),
        Err(_) => "…".into(),
    }
}

/// What a reminder says, in the person's language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// One line (the e-mail's subject).
    pub title: String,
    /// The rest.
    pub text: String,
}

/// Robots that check a keyword find this at the start of every message.
pub const KEYWORD: &str = "【关系】";

impl Message {
    /// Title and text as one plain-text message.
    pub fn plain(&self) -> String {
        format!("{KEYWORD}{}\n{}", self.title, self.text)
    }
}

/// A webhook call: where to POST which JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookCall {
    /// The URL, with the signature's query parameters where the vendor wants them there.
    pub url: String,
    /// The body.
    pub body: Value,
}

type HmacSha256 = Hmac<Sha256>;

/// DingTalk's signature: HMAC-SHA256 keyed by the secret over
/// `"{timestamp_ms}\n{secret}"`, in Base64 (URL-encoded when put in the query).
pub fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{timestamp_ms}\n{secret}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Feishu's signature: HMAC-SHA256 keyed by `"{timestamp_s}\n{secret}"` over
/// nothing, in Base64.
pub fn feishu_sign(secret: &str, timestamp_s: i64) -> String {
    let mac =
        HmacSha256::new_from_slice(format!("{timestamp_s}\n{secret}").as_bytes()).expect("HMAC takes any key length");
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The call to a robot webhook for `msg` at `now`, signed when there is a secret.
/// `None` for e-mail.
pub fn webhook_call(
    kind: ChannelKind,
    target: &str,
    secret: Option<&str>,
    msg: &Message,
    now: DateTime<Utc>,
) -> Option<WebhookCall> {
    let secret = secret.map(str::trim).filter(|s| !s.is_empty());
    let text = msg.plain();
    match kind {
        ChannelKind::Email => None,
        ChannelKind::Wecom => {
            Some(WebhookCall { url: target.to_owned(), body: json!({"msgtype": "text", "text": {"content": text}}) })
        }
        ChannelKind::Dingtalk => {
            let mut url = target.to_owned();
            if let Some(secret) = secret {
                let ts = now.timestamp_millis();
                let sign: String = form_urlencoded::byte_serialize(dingtalk_sign(secret, ts).as_bytes()).collect();
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(&format!("timestamp={ts}&sign={sign}"));
            }
            Some(WebhookCall { url, body: json!({"msgtype": "text", "text": {"content": text}}) })
        }
        ChannelKind::Feishu => {
            let mut body = json!({"msg_type": "text", "content": {"text": text}});
            if let Some(secret) = secret {
                let ts = now.timestamp();
                body["timestamp"] = Value::String(ts.to_string());
                body["sign"] = Value::String(feishu_sign(secret, ts));
            }
            Some(WebhookCall { url: target.to_owned(), body })
        }
    }
}

/// How a delivery attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The vendor took it.
    Delivered,
    /// Worth trying again later (a 5xx, a time-out, a rate limit), with the reason.
    Retry(String),
    /// Will not get better by trying again (a bad key, a bad signature), with the reason.
    Fail(String),
}

/// Judges a robot's answer: the HTTP status, then the vendor's own code in
/// the body (all three answer 200 with an error code for a bad key or signature).
pub fn judge(kind: ChannelKind, status: u16, body: &str) -> Verdict {
    let snippet: String = body.chars().take(200).collect();
    if status == 429 || status == 408 || status >= 500 {
        return Verdict::Retry(format!("HTTP {status}: {snippet}"));
    }
    if !(200..300).contains(&status) {
        return Verdict::Fail(format!("HTTP {status}: {snippet}"));
    }
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return Verdict::Fail(format!("HTTP {status}, answer is not JSON: {snippet}"));
    };
    let (code, msg) = match kind {
        ChannelKind::Wecom | ChannelKind::Dingtalk => (v["errcode"].as_i64(), v["errmsg"].as_str()),
        // Feishu answers `code`/`msg`; older robots `StatusCode`/`StatusMessage`.
        ChannelKind::Feishu => {
            (v["code"].as_i64().or(v["StatusCode"].as_i64()), v["msg"].as_str().or(v["StatusMessage"].as_str()))
        }
        ChannelKind::Email => (Some(0), None),
    };
    match code {
        Some(0) => Verdict::Delivered,
        // Rate limits: WeCom 45009, DingTalk 130101, Feishu 11232.
        Some(c @ (45009 | 130101 | 11232)) => Verdict::Retry(format!("{c}: {}", msg.unwrap_or(""))),
        Some(c) => Verdict::Fail(format!("{c}: {}", msg.unwrap_or(""))),
        None => Verdict::Fail(format!("HTTP {status}, no result code in the answer: {snippet}")),
    }
}

/// What a notification says, in `locale`, with times in `tz`. Kinds this
/// version does not know still say something rather than nothing.
pub fn render(kind: &str, data: &Value, locale: crate::Locale, tz: chrono_tz::Tz) -> Message {
    let zh = locale == crate::Locale::ZhCn;
    let s = |k: &str| data[k].as_str().unwrap_or("").to_owned();
    let when = |k: &str, with_time: bool| {
        data[k]
            .as_str()
            .and_then(|t| t.parse::<DateTime<Utc>>().ok())
            .map(|t| {
                let t = t.with_timezone(&tz);
                match (zh, with_time) {
                    (true, true) => t.format("%-m月%-d日 %H:%M").to_string(),
                    (true, false) => t.format("%-m月%-d日").to_string(),
                    (false, true) => t.format("%b %-d, %H:%M").to_string(),
                    (false, false) => t.format("%b %-d").to_string(),
                }
            })
            .unwrap_or_default()
    };
    let (title, text) = match (kind, zh) {
        ("task_due", true) => {
            (format!("钩子提醒：{}", s("account_name")), format!("{} {}", when("due_at", true), s("purpose")))
        }
        ("task_due", false) => {
            (format!("Hook due: {}", s("account_name")), format!("{} {}", when("due_at", true), s("purpose")))
        }
        ("release_warning", true) => (
            format!("客户即将退回公海：{}", s("account_name")),
            format!("{} 前没有跟进，客户将退回公海。", when("release_due_at", false)),
        ),
        ("release_warning", false) => (
            format!("Returning to the pool: {}", s("account_name")),
            format!("Without a touch by {}, the account returns to the pool.", when("release_due_at", false)),
        ),
        ("request_decided", true) => (
            format!(
                "{}{}：{}",
                if s("kind") == "transfer" { "转移申请" } else { "报备" },
                if s("status") == "approved" { "已通过" } else { "未通过" },
                s("account_name")
            ),
            s("note"),
        ),
        ("request_decided", false) => (
            format!(
                "Your {} was {}: {}",
                if s("kind") == "transfer" { "transfer request" } else { "registration" },
                if s("status") == "approved" { "approved" } else { "declined" },
                s("account_name")
            ),
            s("note"),
        ),
        ("greeting", _) => {
            let on = data["on"].as_str().and_then(|d| d.parse::<chrono::NaiveDate>().ok());
            let on = on.map(|d| d.format(if zh { "%-m月%-d日" } else { "%b %-d" }).to_string()).unwrap_or_default();
            greeting(data, zh, &on)
        }
        ("channel_test", true) => ("测试消息".to_owned(), format!("渠道「{}」已连通。", s("channel_label"))),
        ("channel_test", false) => ("Test message".to_owned(), format!("Channel “{}” works.", s("channel_label"))),
        (other, _) => (other.to_owned(), data.to_string()),
    };
    Message { title, text }
}

fn greeting(data: &Value, zh: bool, on: &str) -> (String, String) {
    let s = |k: &str| data[k].as_str().unwrap_or("").to_owned();
    match (data["holiday"].as_str().and_then(crate::Holiday::parse), zh) {
        (Some(h), true) => (
            format!("{}（{on}）将至：问候关键人", h.label_zh()),
            "给重要客户的关键人送上节日问候，顺便约好节后的下一次见面。".to_owned(),
        ),
        (Some(h), false) => (
            format!("{} ({on}) is coming: greet your key people", h.label_en()),
            "Send your key people a holiday greeting, and agree on the next meeting after it.".to_owned(),
        ),
        (None, true) => {
            (format!("明天（{on}）是{}的生日", s("contact_name")), format!("{}：记得送上生日祝福。", s("account_name")))
        }
        (None, false) => (
            format!("Tomorrow ({on}) is {}'s birthday", s("contact_name")),
            format!("{}: remember to send your wishes.", s("account_name")),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn signatures_follow_the_vendors_examples() {
        // Recomputed independently: HMAC-SHA256(key, msg) in Base64.
        let ding = dingtalk_sign("SECabc", 1_700_000_000_000);
        let mut mac = HmacSha256::new_from_slice(b"SECabc").unwrap();
        mac.update(b"1700000000000\nSECabc");
        assert_eq!(ding, base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()));
        let fs = feishu_sign("abc", 1_700_000_000);
        let mac = HmacSha256::new_from_slice(b"1700000000\nabc").unwrap();
        assert_eq!(fs, base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()));
        assert_ne!(ding, fs);
    }

    #[test]
    fn dingtalk_puts_the_url_encoded_signature_in_the_query() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
        let msg = Message { title: "钩子提醒".into(), text: "10:50 送方案".into() };
        let call = webhook_call(
            ChannelKind::Dingtalk,
            "https://oapi.dingtalk.com/robot/send?access_token=t",
            Some("SECx"),
            &msg,
            now,
        )
        .unwrap();
        let ts = now.timestamp_millis();
        let sign: String = form_urlencoded::byte_serialize(dingtalk_sign("SECx", ts).as_bytes()).collect();
        assert_eq!(call.url, format!("https://oapi.dingtalk.com/robot/send?access_token=t&timestamp={ts}&sign={sign}"));
        assert_eq!(call.body, json!({"msgtype": "text", "text": {"content": "【关系】钩子提醒\n10:50 送方案"}}));
        let unsigned = webhook_call(ChannelKind::Dingtalk, "https://x/robot/send?access_token=t", None, &msg, now);
        assert_eq!(unsigned.unwrap().url, "https://x/robot/send?access_token=t");
    }

    #[test]
    fn targets_are_checked() {
        let v = WebhookHosts::vendors();
        let check = |kind, target, secret| check_target(kind, target, secret, &v);
        assert!(check(ChannelKind::Wecom, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", None).is_ok());
        assert_eq!(check(ChannelKind::Wecom, "ftp://x/y", None).unwrap_err().code, "invalid_url");
        assert_eq!(check(ChannelKind::Feishu, "not a url", None).unwrap_err().code, "invalid_url");
        assert_eq!(check(ChannelKind::Email, "nobody", None).unwrap_err().field, "target");
        assert_eq!(
            check(ChannelKind::Wecom, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", Some("s"))
                .unwrap_err()
                .code,
            "not_applicable"
        );
        assert_eq!(
            redact_target(ChannelKind::Wecom, "https://qyapi.weixin.qq.com/send?key=SECRET"),
            "https://qyapi.weixin.qq.com/…"
        );
    }

    #[test]
    fn webhooks_go_only_to_the_vendors_hosts() {
        let v = WebhookHosts::vendors();
        for (kind, ok) in [
            (ChannelKind::Wecom, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"),
            (ChannelKind::Dingtalk, "https://oapi.dingtalk.com/robot/send?access_token=t"),
            (ChannelKind::Feishu, "https://open.feishu.cn/open-apis/bot/v2/hook/abc"),
            (ChannelKind::Feishu, "https://OPEN.FEISHU.CN/open-apis/bot/v2/hook/abc"),
        ] {
            assert!(check_target(kind, ok, None, &v).is_ok(), "{ok}");
        }
        for (kind, bad) in [
            (ChannelKind::Wecom, "http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"),
            (ChannelKind::Wecom, "https://qyapi.weixin.qq.com.evil.example/send?key=k"),
            (ChannelKind::Wecom, "https://oapi.dingtalk.com/robot/send?access_token=t"),
            (ChannelKind::Dingtalk, "https://127.0.0.1/robot/send"),
            (ChannelKind::Dingtalk, "https://10.0.0.5/robot/send"),
            (ChannelKind::Dingtalk, "https://[::1]/robot/send"),
            (ChannelKind::Feishu, "https://open.feishu.cn:8443/open-apis/bot/v2/hook/abc"),
            (ChannelKind::Feishu, "https://me@open.feishu.cn/open-apis/bot/v2/hook/abc"),
            (ChannelKind::Feishu, "http://127.0.0.1:9000/hook"),
        ] {
            assert_eq!(check_target(kind, bad, None, &v).unwrap_err().code, "not_vendor_host", "{bad}");
        }
        // A test's stand-in on the loopback is reached only with the test setting.
        let t = WebhookHosts::for_tests("127.0.0.1");
        assert!(check_target(ChannelKind::Feishu, "http://127.0.0.1:9000/hook", None, &t).is_ok());
        assert!(check_target(ChannelKind::Feishu, "http://10.0.0.5:9000/hook", None, &t).is_err());
    }

    #[test]
    fn answers_are_judged_by_status_then_vendor_code() {
        assert_eq!(judge(ChannelKind::Wecom, 200, r#"{"errcode":0,"errmsg":"ok"}"#), Verdict::Delivered);
        assert!(
            matches!(judge(ChannelKind::Wecom, 200, r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#), Verdict::Fail(m) if m.contains("93000"))
        );
        assert!(matches!(
            judge(ChannelKind::Dingtalk, 200, r#"{"errcode":130101,"errmsg":"send too fast"}"#),
            Verdict::Retry(_)
        ));
        assert_eq!(judge(ChannelKind::Feishu, 200, r#"{"code":0,"msg":"success"}"#), Verdict::Delivered);
        assert_eq!(judge(ChannelKind::Feishu, 200, r#"{"StatusCode":0}"#), Verdict::Delivered);
        assert!(matches!(
            judge(ChannelKind::Feishu, 200, r#"{"code":19021,"msg":"sign match fail"}"#),
            Verdict::Fail(_)
        ));
        assert!(matches!(judge(ChannelKind::Feishu, 500, "oops"), Verdict::Retry(m) if m == "HTTP 500: oops"));
        assert!(matches!(judge(ChannelKind::Wecom, 404, ""), Verdict::Fail(_)));
        assert!(matches!(judge(ChannelKind::Wecom, 429, ""), Verdict::Retry(_)));
    }

    #[test]
    fn reminders_say_the_time_in_the_workspace_zone() {
        let data = json!({"account_name": "国网辽宁", "purpose": "送技改方案", "due_at": "2026-11-23T02:50:00Z"});
        let m = render("task_due", &data, crate::Locale::ZhCn, chrono_tz::Asia::Shanghai);
        assert_eq!(m, Message { title: "钩子提醒：国网辽宁".into(), text: "11月23日 10:50 送技改方案".into() });
        let m = render("task_due", &data, crate::Locale::En, chrono_tz::Asia::Shanghai);
        assert_eq!(m.text, "Nov 23, 10:50 送技改方案");
    }

    #[test]
    fn greetings_name_the_occasion() {
        let tz = chrono_tz::Asia::Shanghai;
        let m = render("greeting", &json!({"holiday": "mid_autumn", "on": "2026-09-25"}), crate::Locale::ZhCn, tz);
        assert_eq!(m.title, "中秋节（9月25日）将至：问候关键人");
        let data = json!({"contact_name": "刘建国", "account_name": "国网辽宁", "on": "2026-03-08"});
        let m = render("greeting", &data, crate::Locale::En, tz);
        assert_eq!(
            m,
            Message {
                title: "Tomorrow (Mar 8) is 刘建国's birthday".into(),
                text: "国网辽宁: remember to send your wishes.".into()
            }
        );
    }

    #[test]
    fn retries_back_off_then_stop() {
        let delays: Vec<_> = (1..=MAX_ATTEMPTS).map(retry_delay).collect();
        assert_eq!(
            delays,
            vec![
                Some(Duration::minutes(1)),
                Some(Duration::minutes(5)),
                Some(Duration::minutes(30)),
                Some(Duration::hours(2)),
                None
            ]
        );
    }
}
