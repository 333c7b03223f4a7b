//! The delivery worker: takes due deliveries from the outbox
//! (`guanxi_store::outbox`), sends each to its channel — a WeCom, DingTalk or
//! Feishu robot webhook, or e-mail through the configured SMTP relay — and
//! records the outcome: sent, tried again later with backoff, or failed with
//! the reason the person sees. What goes on the wire and how answers are
//! judged is `guanxi_domain::notify`; this crate only does the I/O.

use chrono::{DateTime, Utc};
use guanxi_domain::notify::{self, ChannelKind, Message, Verdict};
use guanxi_domain::Clock;
use guanxi_store::outbox::{self, Claimed};
use guanxi_store::Db;
use lettre::message::{header, Mailbox, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::time::Duration;

/// Where e-mail goes out.
#[derive(Clone, Debug)]
pub struct SmtpConfig {
    /// `smtp://host:25`, `smtp://user:password@host:587?tls=required`, or
    /// `smtps://user:password@host:465` (lettre's URL form).
    pub url: String,
    /// The sender, e.g. `Guanxi <crm@example.com>`.
    pub from: String,
}

/// Why a sender could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The SMTP URL does not parse (the URL itself is not echoed: it may hold a password).
    #[error("the SMTP URL is not valid: {0}")]
    SmtpUrl(String),
    /// The sender address does not parse.
    #[error("the SMTP sender address {0:?} is not valid")]
    From(String),
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Http(String),
}

/// Sends one message to one channel. Cheap to clone.
#[derive(Clone)]
pub struct Sender {
    http: reqwest::Client,
    smtp: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
    timeout: Duration,
    hosts: notify::WebhookHosts,
}

impl Sender {
    /// A sender with the vendors' time limit (`notify::SEND_TIMEOUT`).
    pub fn new(smtp: Option<&SmtpConfig>) -> Result<Self, ConfigError> {
        Self::with_timeout(smtp, notify::SEND_TIMEOUT)
    }

    /// A sender giving up on a send after `timeout`.
    pub fn with_timeout(smtp: Option<&SmtpConfig>, timeout: Duration) -> Result<Self, ConfigError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            // A webhook answers where it is; following redirects would let a
            // configured URL bounce requests elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("guanxi/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::Http(e.to_string()))?;
        let smtp = match smtp {
            None => None,
            Some(c) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&c.url)
                    .map_err(|e| ConfigError::SmtpUrl(e.to_string()))?
                    .timeout(Some(timeout))
                    .build();
                let from: Mailbox = c.from.parse().map_err(|_| ConfigError::From(c.from.clone()))?;
                Some((transport, from))
            }
        };
        Ok(Sender { http, smtp, timeout, hosts: notify::WebhookHosts::vendors() })
    }

    /// The same sender calling webhooks where `hosts` allows (tests' local
    /// stand-ins of the vendors; a running Guanxi keeps the vendors' hosts).
    pub fn with_hosts(self, hosts: notify::WebhookHosts) -> Self {
        Sender { hosts, ..self }
    }

    /// Sends `msg` as delivery `c` says, at `now` (signatures carry the time).
    pub async fn send(&self, c: &Claimed, msg: &Message, now: DateTime<Utc>) -> Verdict {
        if !c.live {
            return Verdict::Fail("the channel was switched off or removed".into());
        }
        match c.kind {
            ChannelKind::Email => self.mail(&c.target, msg).await,
            kind => {
                let Some(call) = notify::webhook_call(kind, &c.target, c.secret.as_deref(), msg, now) else {
                    return Verdict::Fail("not a webhook channel".into());
                };
                // A channel saved before targets were held to the vendors'
                // hosts is not called: outbound requests go to the vendors only.
                let allowed = url::Url::parse(&call.url)
                    .map_err(|e| e.to_string())
                    .and_then(|u| self.hosts.check(kind, &u).map_err(|e| e.message));
                if let Err(why) = allowed {
                    return Verdict::Fail(why);
                }
                let sent = self.http.post(&call.url).json(&call.body).send().await;
                let res = match sent {
                    Ok(r) => r,
                    Err(e) => return Verdict::Retry(transport_error(e, self.timeout)),
                };
                let status = res.status().as_u16();
                let body = match res.text().await {
                    Ok(b) => b,
                    Err(e) => return Verdict::Retry(transport_error(e, self.timeout)),
                };
                notify::judge(kind, status, &body)
            }
        }
    }

    async fn mail(&self, to: &str, msg: &Message) -> Verdict {
        let Some((transport, from)) = &self.smtp else {
            return Verdict::Fail("no SMTP server is configured for this Guanxi (GUANXI_SMTP_URL)".into());
        };
        let to: Mailbox = match to.parse() {
            Ok(m) => m,
            Err(_) => return Verdict::Fail(format!("{to:?} is not an e-mail address")),
        };
        let email = lettre::Message::builder()
            .from(from.clone())
            .to(to)
            .subject(format!("{}{}", notify::KEYWORD, msg.title))
            .singlepart(
                SinglePart::builder()
                    .header(header::ContentType::TEXT_PLAIN)
                    .header(header::ContentTransferEncoding::Base64)
                    .body(msg.text.clone()),
            );
        let email = match email {
            Ok(e) => e,
            Err(e) => return Verdict::Fail(format!("the message could not be built: {e}")),
        };
        match transport.send(email).await {
            Ok(_) => Verdict::Delivered,
            Err(e) if e.is_permanent() => Verdict::Fail(format!("SMTP: {e}")),
            Err(e) => Verdict::Retry(format!("SMTP: {e}")),
        }
    }
}

fn transport_error(e: reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!("no answer within {} s", timeout.as_secs_f32())
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        // Without the URL: it holds the robot's key.
        e.without_url().to_string()
    }
}

/// What one round of the worker did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Delivered.
    pub sent: u64,
    /// Failed this time, to be tried again.
    pub retried: u64,
    /// Given up on, with the reason kept.
    pub failed: u64,
}

/// Deliveries claimed at once.
const CLAIM: i64 = 50;

/// One round: claims what is due, sends it all concurrently, records each
/// outcome; again while full batches come.
pub async fn deliver_due(db: &Db, sender: &Sender, clock: &dyn Clock) -> Result<Report, guanxi_store::Error> {
    let mut report = Report::default();
    loop {
        let claimed = outbox::claim(db, clock.now(), CLAIM).await?;
        let n = claimed.len() as i64;
        let mut set = tokio::task::JoinSet::new();
        for c in claimed {
            let sender = sender.clone();
            let now = clock.now();
            set.spawn(async move {
                let tz = c.time_zone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
                let msg = notify::render(&c.note_kind, &c.data, c.locale, tz);
                let outcome = sender.send(&c, &msg, now).await;
                (c, outcome)
            });
        }
        while let Some(done) = set.join_next().await {
            let Ok((c, outcome)) = done else { continue };
            let counted = match &outcome {
                Verdict::Delivered => &mut report.sent,
                Verdict::Retry(_) if notify::retry_delay(c.attempts).is_some() => &mut report.retried,
                _ => &mut report.failed,
            };
            if let Verdict::Retry(why) | Verdict::Fail(why) = &outcome {
                tracing::warn!(delivery = %c.id.uuid(), channel = c.kind.as_str(), attempt = c.attempts, reason = %why, "delivery not taken");
            }
            if outbox::finish(db, &c, outcome, clock.now()).await? {
                *counted += 1;
            }
        }
        if n < CLAIM {
            return Ok(report);
        }
    }
}
