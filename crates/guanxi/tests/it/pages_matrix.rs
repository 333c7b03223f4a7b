//! The authorisation matrix through the pages' door: every page route the
//! pages' router declares (read from its source, so a new route without a row
//! fails) × the callers of `api_matrix`, with a browser's session cookie and
//! CSRF token, against the same records.

use crate::api_matrix::Who::*;
use crate::api_matrix::*;
use crate::harness::TestApp;
use std::collections::BTreeSet;

/// A page route as the pages' router declares it.
fn page_routes() -> BTreeSet<(String, String)> {
    let mut files = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/src/pages")];
    let mut sources = Vec::new();
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path.extension().is_some_and(|e| e == "rs") {
            sources.push(path);
        }
    }
    let mut found = BTreeSet::new();
    for source in sources {
        let text = std::fs::read_to_string(source).unwrap();
        for (at, _) in text.match_indices(".route(") {
            // The call's text, to its closing parenthesis.
            let rest = &text[at + ".route(".len()..];
            let (mut depth, mut end) = (1, rest.len());
            for (i, ch) in rest.char_indices() {
                match ch {
                    '(' => depth += 1,
                    ')' if depth == 1 => {
                        end = i;
                        break;
                    }
                    ')' => depth -= 1,
                    _ => {}
                }
            }
            let call = &rest[..end];
            let path = call.split('"').nth(1).unwrap().to_owned();
            let handlers = &call[call.find(',').unwrap()..];
            if handlers.contains("get(") {
                found.insert(("GET".to_owned(), path.clone()));
            }
            if handlers.contains("post(") {
                found.insert(("POST".to_owned(), path));
            }
        }
    }
    found
}

/// The pages' door: the same records through every page route, with a
/// browser's session cookie and CSRF token.
async fn pages_matrix(app: &TestApp) {
    use Rule::*;
    let cast = cast(app).await;
    let maker = Maker { app, cast: &cast, n: std::cell::Cell::new(0) };
    let mut sessions = Vec::new();
    for who in EVERYONE {
        sessions.push((who, crate::web::web_login(app, &cast.user(who).email).await));
    }
    let session = |who: Who| &sessions.iter().find(|(w, _)| *w == who).unwrap().1;
    const ADMIN: &[Who] = &[Admin, Outsider];
    let page_rows: Vec<(&str, &str, Subject, Rule)> = vec![
        // Signed-in pages without a record; admin pages refuse everyone else.
        ("GET", "/", Subject::None, Anyone(&[303])),
        ("GET", "/login", Subject::None, Elsewhere("web: login and its redirect")),
        ("POST", "/login", Subject::None, Elsewhere("web: login and its redirect")),
        ("POST", "/logout", Subject::None, Elsewhere("web: logging out")),
        ("GET", "/docs/api", Subject::None, Anyone(&[200])),
        ("GET", "/static/app.css", Subject::None, Anyone(&[200])),
        ("GET", "/static/app.js", Subject::None, Anyone(&[200])),
        // The workbench shows the caller's own day: today's tasks, which the matrix cannot date (a hook is in the future).
        ("GET", "/workbench", Subject::None, Anyone(&[200])),
        ("GET", "/stats", Subject::None, Anyone(&[200])),
        ("GET", "/activities", Subject::Touch, Lists(SEES, &[])),
        ("GET", "/calendar/{file}", Subject::None, Elsewhere("api_activities: a feed is found by its secret only")),
        ("POST", "/workbench/calendar", Subject::None, Elsewhere("api_activities: the caller's own feed")),
        ("GET", "/search?q={name}", Subject::Account, Lists(SEES, &[])),
        ("GET", "/accounts", Subject::Account, Lists(SEES, &[])),
        (
            "GET",
            "/accounts/new",
            Subject::None,
            Only(&[Admin, Manager, OtherManager, Owner, Colleague, OtherSales, Outsider], &[200]),
        ),
        ("POST", "/accounts/new", Subject::None, Elsewhere("web: entering an account")),
        ("POST", "/accounts/views", Subject::None, Elsewhere("web: a saved view is the caller's own")),
        ("POST", "/accounts/views/{id}/delete", Subject::None, Elsewhere("web: a saved view is the caller's own")),
        ("GET", "/accounts/{id}", Subject::Account, Only(SEES, &[200])),
        ("GET", "/accounts/{id}/edit", Subject::Account, Only(CHANGES, &[200])),
        ("POST", "/accounts/{id}/edit", Subject::Account, Only(CHANGES, &[303, 422])),
        ("POST", "/accounts/{id}/merge", Subject::Account, Only(CHANGES, &[303, 422])),
        ("POST", "/accounts/{id}/delete", Subject::Account, Only(CHANGES, &[303])),
        ("POST", "/accounts/{id}/restore", Subject::DeletedAccount, Only(CHANGES, &[303])),
        ("GET", "/accounts/{id}/log", Subject::Account, Only(SEES, &[200])),
        ("POST", "/accounts/{id}/log", Subject::Account, Only(SEES, &[303, 422])),
        ("GET", "/accounts/{id}/purchases", Subject::Account, Only(SEES, &[200])),
        ("POST", "/accounts/{id}/purchases", Subject::Account, Only(CHANGES, &[303, 422])),
        ("GET", "/accounts/{id}/tasks/new", Subject::Account, Only(SEES, &[200])),
        ("POST", "/accounts/{id}/tasks/new", Subject::Account, Only(SEES, &[303, 422])),
        ("POST", "/tasks/{id}/done", Subject::Task, Only(&[Owner], &[303])),
        ("GET", "/contacts", Subject::Contact, Lists(SEES, &[])),
        (
            "GET",
            "/contacts/new",
            Subject::None,
            Only(&[Admin, Manager, OtherManager, Owner, Colleague, OtherSales, Outsider], &[200]),
        ),
        ("POST", "/contacts/new", Subject::None, Elsewhere("web: entering a contact")),
        ("GET", "/contacts/{id}", Subject::Contact, Only(SEES, &[200])),
        ("GET", "/contacts/{id}/edit", Subject::Contact, Only(CHANGES, &[200])),
        ("POST", "/contacts/{id}/edit", Subject::Contact, Only(CHANGES, &[303, 422])),
        ("POST", "/contacts/{id}/merge", Subject::Contact, Only(CHANGES, &[303, 422])),
        ("POST", "/contacts/{id}/delete", Subject::Contact, Only(CHANGES, &[303])),
        ("POST", "/contacts/{id}/restore", Subject::DeletedContact, Only(CHANGES, &[303])),
        ("GET", "/opportunities", Subject::Deal, Lists(SEES, &[])),
        (
            "GET",
            "/opportunities/new",
            Subject::None,
            Only(&[Admin, Manager, OtherManager, Owner, Colleague, OtherSales, Outsider], &[200]),
        ),
        ("POST", "/opportunities/new", Subject::None, Elsewhere("web: entering a deal")),
        ("GET", "/opportunities/{id}", Subject::Deal, Only(SEES, &[200])),
        ("GET", "/opportunities/{id}/edit", Subject::Deal, Only(CHANGES, &[200])),
        ("POST", "/opportunities/{id}/edit", Subject::Deal, Only(CHANGES, &[303, 422])),
        ("POST", "/opportunities/{id}/advance", Subject::Deal, Only(CHANGES, &[303, 422])),
        ("POST", "/opportunities/{id}/delete", Subject::Deal, Only(CHANGES, &[303])),
        ("POST", "/opportunities/{id}/restore", Subject::DeletedDeal, Only(CHANGES, &[303])),
        ("GET", "/pool", Subject::Pool, Lists(&[Admin, Manager, Owner, Colleague], &[])),
        // The caller's own accounts by when they return to the pool: `owner_id` is the caller.
        ("GET", "/pool/mine", Subject::None, Anyone(&[200])),
        ("POST", "/pool/accounts/{id}/claim", Subject::PooledAccount, Only(&[Manager, Owner, Colleague], &[303])),
        ("POST", "/pool/accounts/{id}/release", Subject::Account, Only(CHANGES, &[303])),
        ("POST", "/pool/notifications/read", Subject::Notification, Anyone(&[303])),
        // Deciders see it to decide; the requester sees their own.
        ("GET", "/pool/requests", Subject::Transfer, Lists(&[Admin, Manager, OtherSales], &[])),
        ("POST", "/pool/requests/{kind}/{id}/decide", Subject::Transfer, Only(&[Admin, Manager], &[303])),
        ("POST", "/pool/transfers", Subject::None, Elsewhere("web: asking for a transfer")),
        (
            "GET",
            "/pool/register",
            Subject::None,
            Only(&[Admin, Manager, OtherManager, Owner, Colleague, OtherSales, Outsider], &[200]),
        ),
        ("POST", "/pool/register", Subject::None, Elsewhere("web: filing a registration")),
        ("GET", "/imports", Subject::Import, Lists(&[Admin, Owner], &[])),
        ("GET", "/imports/{id}", Subject::Import, Only(&[Admin, Owner], &[200])),
        ("POST", "/imports/{id}/commit", Subject::Import, Only(&[Admin, Owner], &[303, 409])),
        ("POST", "/imports/{id}/undo", Subject::Import, Only(&[Admin, Owner], &[303])),
        ("GET", "/settings", Subject::None, Anyone(&[303])),
        ("GET", "/settings/profile", Subject::None, Anyone(&[200])),
        ("POST", "/settings/profile", Subject::None, Elsewhere("web: the caller's own profile")),
        ("POST", "/settings/password", Subject::None, Elsewhere("api_auth: the current password is asked first")),
        ("GET", "/settings/tokens", Subject::Token, Lists(&[Owner], &[])),
        ("POST", "/settings/tokens", Subject::None, Elsewhere("web: the caller's own tokens")),
        ("POST", "/settings/tokens/{id}/revoke", Subject::Token, Only(&[Owner], &[303])),
        (
            "GET",
            "/settings/users",
            Subject::User,
            Lists(&[Admin], &[Manager, OtherManager, Owner, Colleague, OtherSales, Service]),
        ),
        ("POST", "/settings/users", Subject::None, Only(ADMIN, &[303, 422])),
        ("GET", "/settings/users/{id}", Subject::User, Only(&[Admin], &[200])),
        ("POST", "/settings/users/{id}", Subject::NewUser, Only(&[Admin], &[303, 422])),
        ("POST", "/settings/users/{id}/disable", Subject::NewUser, Only(&[Admin], &[303])),
        ("POST", "/settings/users/{id}/enable", Subject::NewUser, Only(&[Admin], &[303])),
        (
            "GET",
            "/settings/teams",
            Subject::Team,
            Lists(&[Admin], &[Manager, OtherManager, Owner, Colleague, OtherSales, Service]),
        ),
        ("POST", "/settings/teams", Subject::None, Only(ADMIN, &[303, 422])),
        ("GET", "/settings/teams/{id}", Subject::Team, Only(&[Admin], &[200])),
        ("POST", "/settings/teams/{id}", Subject::Team, Only(&[Admin], &[303, 422])),
        ("POST", "/settings/teams/{id}/delete", Subject::Team, Only(&[Admin], &[303, 409, 422])),
        ("GET", "/settings/roles", Subject::None, Only(ADMIN, &[200])),
        ("POST", "/settings/roles", Subject::Role, Only(ADMIN, &[303])),
        (
            "GET",
            "/settings/audit",
            Subject::Account,
            Lists(&[Admin], &[Manager, OtherManager, Owner, Colleague, OtherSales, Service]),
        ),
        ("GET", "/settings/notifications", Subject::Channel, Lists(&[Owner], &[])),
        ("POST", "/settings/notifications/lead", Subject::None, Elsewhere("web: the caller's own reminders")),
        ("POST", "/settings/notifications/channels", Subject::None, Elsewhere("notify: the caller's own channels")),
        (
            "POST",
            "/settings/notifications/channels/{id}/test",
            Subject::Channel,
            Elsewhere("notify: a test message goes to the vendor's host"),
        ),
        ("POST", "/settings/notifications/channels/{id}/toggle", Subject::Channel, Only(&[Owner], &[303])),
        ("POST", "/settings/notifications/channels/{id}/delete", Subject::Channel, Only(&[Owner], &[303])),
        // Managers see the pools they may change; a manager of none is told so.
        ("GET", "/settings/pools", Subject::Pool, Lists(&[Admin, Manager], &[Owner, Colleague, OtherSales, Service])),
        ("POST", "/settings/pools", Subject::None, Only(&[Admin, Manager, OtherManager, Outsider], &[303, 422])),
        ("POST", "/settings/pools/{id}", Subject::Pool, Only(&[Admin, Manager], &[303, 422])),
        ("GET", "/settings/handover", Subject::None, Only(ADMIN, &[200])),
        ("POST", "/settings/handover", Subject::None, Elsewhere("api_pool: handing over a salesperson's accounts")),
        ("GET", "/settings/scripts", Subject::Script, Lists(IN_WORKSPACE, &[])),
        ("POST", "/settings/scripts", Subject::None, Only(&[Admin, Manager, OtherManager, Outsider], &[303, 422])),
        ("POST", "/settings/scripts/{id}", Subject::Script, Only(LEADERS, &[303, 422])),
        ("POST", "/settings/scripts/{id}/delete", Subject::Script, Only(LEADERS, &[303])),
    ];

    let declared = page_routes();
    let covered: BTreeSet<(String, String)> =
        page_rows.iter().map(|(m, p, _, _)| (m.to_string(), p.split('?').next().unwrap().to_owned())).collect();
    let missing: Vec<_> = declared.difference(&covered).collect();
    let extra: Vec<_> = covered.difference(&declared).collect();
    assert!(missing.is_empty(), "page routes without a row in the matrix: {missing:?}");
    assert!(extra.is_empty(), "rows for page routes the router does not have: {extra:?}");

    let send = |who: Who, method: &'static str, path: String, m: &Made| {
        let (client, csrf) = session(who);
        let req = if method == "GET" {
            client.get(app.url(&path))
        } else {
            // What the forms ask, filled in as a user would.
            let form = [
                ("_csrf", csrf.as_str()),
                ("account_id", m.account.as_str()),
                ("name", "刘建国"),
                ("stage", "initiation"),
                ("status", "open"),
                ("reason", "项目已结束"),
                ("decision", "approve"),
                ("note", "同意"),
            ];
            client.post(app.url(&path)).form(&form)
        };
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let path_of = |template: &str, m: &Made| fill(template, m).replace("{kind}", "transfers");
    let mut failures = Vec::new();
    let mut checked = 0;
    for (method, template, subject, rule) in &page_rows {
        let op = format!("{method} {template}");
        match *rule {
            Elsewhere(_) => {}
            Anyone(statuses) => {
                for who in EVERYONE {
                    let m = maker.make(*subject).await;
                    let (status, _) = send(who, method, path_of(template, &m), &m).await;
                    checked += 1;
                    if !statuses.contains(&status) {
                        failures.push(format!("{op} as {who:?}: {status}, expected one of {statuses:?}"));
                    }
                }
            }
            Lists(shown, denied) => {
                let m = maker.make(*subject).await;
                for who in EVERYONE {
                    let (status, text) = send(who, method, path_of(template, &m), &m).await;
                    checked += 1;
                    let expected = if denied.contains(&who) { 403 } else { 200 };
                    if status != expected {
                        failures.push(format!("{op} as {who:?}: {status}, expected {expected}"));
                        continue;
                    }
                    // A page links the record, or names it, or names its account.
                    let markers = if matches!(subject, Subject::User) {
                        vec![cast.id(Owner)]
                    } else {
                        // (The search page repeats the query: there, only a link tells.)
                        let name = if template.contains("{name}") { &String::new() } else { &m.name };
                        [&m.id, name, &m.account].into_iter().filter(|t| !t.is_empty()).cloned().collect()
                    };
                    let shows = markers.iter().any(|t| text.contains(t.as_str()));
                    if status == 200 && shows != shown.contains(&who) {
                        failures
                            .push(format!("{op} as {who:?}: the record {} shown", if shows { "is" } else { "is not" }));
                    }
                }
            }
            Only(allowed, statuses) => {
                let m = maker.make(*subject).await;
                for who in EVERYONE.into_iter().filter(|w| !allowed.contains(w)) {
                    let before = (audit_entries(app).await, witness(app, &cast, &m).await);
                    let (status, _) = send(who, method, path_of(template, &m), &m).await;
                    checked += 1;
                    let after = (audit_entries(app).await, witness(app, &cast, &m).await);
                    // A page refusing a write may say why (409: not in a pool the caller belongs to).
                    let is_refusal = if *method == "GET" {
                        [403, 404].contains(&status)
                    } else {
                        [403, 404, 409, 422].contains(&status)
                    };
                    if !is_refusal {
                        failures.push(format!("{op} as {who:?}: {status} is no refusal"));
                    }
                    if before != after {
                        failures.push(format!("{op} as {who:?}: refused, yet something changed"));
                    }
                }
                for who in allowed.iter().copied() {
                    let m = maker.make(*subject).await;
                    let (status, _) = send(who, method, path_of(template, &m), &m).await;
                    checked += 1;
                    if !statuses.contains(&status) {
                        failures.push(format!("{op} as {who:?}: {status}, expected one of {statuses:?}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {checked} cells fail:\n{}", failures.len(), failures.join("\n"));
}
both!(pages_matrix);
