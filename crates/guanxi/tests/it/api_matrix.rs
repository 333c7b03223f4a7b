//! The authorisation matrix: every operation of the served OpenAPI document ×
//! every kind of caller, against records a salesperson of team X owns.
//!
//! Callers, as seen from that salesperson's records: an admin, the manager of
//! the owner's team, the manager of another branch, the owner, a colleague in
//! the same team (sales see their own records only), a salesperson of another
//! team, 客服 (service: reads the workspace, writes notes and tasks), and an
//! admin of another workspace. Each row states who reaches the record; every
//! other caller is refused (a read: 404, never telling the record exists; a
//! write: 403 or 404, or 422 naming the reference in the body) and the record
//! is unchanged afterwards: the same answer to a witness read, and not one
//! audit entry more. An operation of the document without a row fails the
//! test, as does a row the document does not have.

use crate::harness::{TestApp, TestUser};
use guanxi_domain::Role;
use guanxi_store::db::Sql;
use serde_json::{json, Value};
use std::collections::BTreeSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Who {
    Admin,
    /// Manager of team X, the owner's team.
    Manager,
    /// Manager of team Y, another branch.
    OtherManager,
    /// The salesperson who owns the records.
    Owner,
    /// Another salesperson of team X.
    Colleague,
    /// A salesperson of team Y.
    OtherSales,
    /// 客服.
    Service,
    /// The admin of another workspace.
    Outsider,
}
use Who::*;

pub(crate) const EVERYONE: [Who; 8] = [Admin, Manager, OtherManager, Owner, Colleague, OtherSales, Service, Outsider];
pub(crate) const SEES: &[Who] = &[Admin, Manager, Owner, Service];
pub(crate) const CHANGES: &[Who] = &[Admin, Manager, Owner];
pub(crate) const IN_WORKSPACE: &[Who] = &[Admin, Manager, OtherManager, Owner, Colleague, OtherSales, Service];
pub(crate) const LEADERS: &[Who] = &[Admin, Manager, OtherManager];
pub(crate) const POOL_MEMBERS: &[Who] = &[Admin, Manager, Owner, Colleague];

pub(crate) struct Cast {
    pub(crate) users: Vec<(Who, TestUser)>,
    pub(crate) team_x: String,
}

impl Cast {
    pub(crate) fn user(&self, who: Who) -> &TestUser {
        &self.users.iter().find(|(w, _)| *w == who).unwrap().1
    }
    pub(crate) fn token(&self, who: Who) -> &str {
        &self.user(who).token
    }
    pub(crate) fn id(&self, who: Who) -> String {
        self.user(who).id.to_string()
    }
}

pub(crate) async fn cast(app: &TestApp) -> Cast {
    let ws = app.workspace;
    let x = app.team_in(ws, "东北大区", None).await;
    let y = app.team_in(ws, "华北大区", None).await;
    let (_, outsider) = app.other_workspace().await;
    let users = vec![
        (Admin, app.admin.clone()),
        (Manager, app.user_in(ws, "manager.x@test.example", "刘经理", Role::Manager, Some(x)).await),
        (OtherManager, app.user_in(ws, "manager.y@test.example", "赵经理", Role::Manager, Some(y)).await),
        (Owner, app.user_in(ws, "owner@test.example", "张伟", Role::Sales, Some(x)).await),
        (Colleague, app.user_in(ws, "colleague@test.example", "王磊", Role::Sales, Some(x)).await),
        (OtherSales, app.user_in(ws, "sales.y@test.example", "孙强", Role::Sales, Some(y)).await),
        (Service, app.user_in(ws, "service@test.example", "客服小李", Role::Service, None).await),
        (Outsider, outsider),
    ];
    // The owner is given hundreds of records here: no ownership limit stands in the way.
    let (_, pools) = app.get(&app.admin.token, "/api/v1/pools").await;
    let pool = &pools["items"].as_array().map_or(&pools[0], |items| &items[0]);
    let mut rules = pool["rules"].clone();
    rules["max_owned"] = Value::Null;
    rules["daily_claims"] = Value::Null;
    ok(app, &app.admin.token, "PATCH", &format!("/api/v1/pools/{}", id(pool)), json!({"rules": rules})).await;
    Cast { users, team_x: x.to_string() }
}

/// What a row's `{id}` names, made afresh for each caller allowed to change it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Subject {
    None,
    Account,
    DeletedAccount,
    Contact,
    DeletedContact,
    Deal,
    DeletedDeal,
    Touch,
    RemovedTouch,
    Task,
    PooledAccount,
    Pool,
    Import,
    Upload,
    File,
    Mapping,
    Channel,
    Token,
    Registration,
    Transfer,
    Script,
    Notification,
    Team,
    User,
    /// A salesperson of team X made for the row, to disable and enable.
    NewUser,
    Role,
}

/// A made subject: its id, a second record of the same kind where a row needs
/// one (the duplicate of a merge, the pool to move to), its name, and a read
/// that shows its state.
#[derive(Default)]
pub(crate) struct Made {
    pub(crate) id: String,
    pub(crate) other: String,
    pub(crate) name: String,
    pub(crate) account: String,
    pub(crate) witness: Option<(Who, String)>,
}

/// Company names far enough apart that 查重 keeps them apart.
pub(crate) fn company(n: u32) -> String {
    const A: [&str; 12] =
        ["远航", "鼎盛", "华腾", "金桥", "长风", "瑞丰", "博远", "海川", "正阳", "恒通", "启明", "天工"];
    const B: [&str; 10] = ["电气", "自动化", "电力设备", "仪表", "能源", "通信", "机电", "重工", "智控", "电缆"];
    const C: [&str; 8] = ["沈阳", "大连", "鞍山", "抚顺", "本溪", "丹东", "锦州", "营口"];
    let n = n as usize;
    format!(
        "{}{}{}{}有限公司",
        C[n % 8],
        A[(n / 8) % 12],
        B[(n / 96) % 10],
        ["", "集团", "股份", "实业"][(n / 960) % 4]
    )
}

pub(crate) async fn ok(app: &TestApp, token: &str, method: &str, path: &str, body: Value) -> Value {
    let (status, v) = app.send(method, token, path, body).await;
    assert!((200..300).contains(&status), "{method} {path}: {status} {v}");
    v
}

pub(crate) fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_owned()
}

pub(crate) fn soon(app: &TestApp) -> String {
    (app.now() + chrono::Duration::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub(crate) struct Maker<'a> {
    pub(crate) app: &'a TestApp,
    pub(crate) cast: &'a Cast,
    pub(crate) n: std::cell::Cell<u32>,
}

impl Maker<'_> {
    fn next(&self) -> u32 {
        let n = self.n.get();
        self.n.set(n + 1);
        n
    }

    async fn account(&self) -> (String, String) {
        let name = company(self.next());
        let a =
            ok(self.app, self.cast.token(Owner), "POST", "/api/v1/accounts", json!({"name": name, "source": "other"}))
                .await;
        (id(&a), name)
    }

    async fn pool(&self) -> String {
        let body = json!({"name": format!("矩阵公海{}", self.next()), "teams": [self.cast.team_x]});
        id(&ok(self.app, self.cast.token(Admin), "POST", "/api/v1/pools", body).await)
    }

    pub(crate) async fn make(&self, subject: Subject) -> Made {
        let app = self.app;
        let owner = self.cast.token(Owner);
        let admin = self.cast.token(Admin);
        match subject {
            Subject::None => Made::default(),
            Subject::Account | Subject::DeletedAccount => {
                let (account, name) = self.account().await;
                let (other, _) = self.account().await;
                let path = format!("/api/v1/accounts/{account}");
                if matches!(subject, Subject::DeletedAccount) {
                    ok(app, owner, "DELETE", &path, json!({})).await;
                }
                Made { id: account.clone(), other, name, account, witness: Some((Admin, path)) }
            }
            Subject::Contact | Subject::DeletedContact => {
                let (account, _) = self.account().await;
                let name = "刘建国".to_owned();
                let c = ok(app, owner, "POST", "/api/v1/contacts", json!({"account_id": account, "name": name})).await;
                let d =
                    ok(app, owner, "POST", "/api/v1/contacts", json!({"account_id": account, "name": "王芳"})).await;
                let path = format!("/api/v1/contacts/{}", id(&c));
                if matches!(subject, Subject::DeletedContact) {
                    ok(app, owner, "DELETE", &path, json!({})).await;
                }
                Made { id: id(&c), other: id(&d), name, account, witness: Some((Admin, path)) }
            }
            Subject::Deal | Subject::DeletedDeal => {
                let (account, _) = self.account().await;
                let body = json!({"account_id": account, "name": "配网自动化改造", "stage": "initiation"});
                let d = ok(app, owner, "POST", "/api/v1/opportunities", body).await;
                let path = format!("/api/v1/opportunities/{}", id(&d));
                if matches!(subject, Subject::DeletedDeal) {
                    ok(app, owner, "DELETE", &path, json!({})).await;
                }
                Made {
                    id: id(&d),
                    name: "配网自动化改造".into(),
                    account,
                    witness: Some((Admin, path)),
                    ..Made::default()
                }
            }
            Subject::Touch => {
                let (account, _) = self.account().await;
                let touch = json!({"account_id": account, "kind": "visit", "outcome": "connected", "no_hook_reason": "no_need"});
                let t = ok(app, owner, "POST", "/api/v1/activities", touch).await;
                Made { id: id(&t), account, ..Made::default() }
            }
            Subject::RemovedTouch => {
                let (account, _) = self.account().await;
                let touch =
                    json!({"account_id": account, "kind": "call", "outcome": "connected", "no_hook_reason": "no_need"});
                let t = ok(app, owner, "POST", "/api/v1/activities", touch).await;
                // As undoing the import that brought it leaves it.
                let q = Sql::new("UPDATE activities SET deleted_at = $1 WHERE id = $2");
                app.db.execute(q.arg(app.now()).arg(uuid::Uuid::parse_str(&id(&t)).unwrap())).await.unwrap();
                let witness = format!("/api/v1/activities?account_id={account}");
                Made { id: id(&t), account, witness: Some((Admin, witness)), ..Made::default() }
            }
            Subject::Task => {
                let (account, _) = self.account().await;
                let body = json!({"account_id": account, "due_at": soon(app), "purpose": "送技术方案"});
                let t = ok(app, owner, "POST", "/api/v1/tasks", body).await;
                let until = crate::harness::urlencode(
                    &(app.now() + chrono::Duration::days(3)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                );
                let witness = format!("/api/v1/tasks?until={until}");
                Made { id: id(&t), account, name: until, witness: Some((Owner, witness)), ..Made::default() }
            }
            Subject::PooledAccount => {
                let name = company(self.next());
                let account = app.legacy_account(&name, None).await;
                let (pool, other) = (self.pool().await, self.pool().await);
                ok(app, admin, "PUT", &format!("/api/v1/accounts/{account}/pool"), json!({"pool_id": pool})).await;
                let witness = format!("/api/v1/accounts/{account}");
                Made { id: account.clone(), other, name, account, witness: Some((Admin, witness)) }
            }
            Subject::Pool => {
                let pool = self.pool().await;
                let name = company(self.next());
                let account = app.legacy_account(&name, None).await;
                ok(app, admin, "PUT", &format!("/api/v1/accounts/{account}/pool"), json!({"pool_id": pool})).await;
                let witness = format!("/api/v1/pools/{pool}");
                Made { id: pool, account, name, witness: Some((Admin, witness)), ..Made::default() }
            }
            Subject::Import => {
                let name = company(self.next());
                // A row without a name, so that the import has an error report too.
                let file = self.upload(owner, format!("name,source\r\n{name},other\r\n,other\r\n").as_bytes()).await;
                let i = ok(app, owner, "POST", "/api/v1/imports", json!({"file_id": file, "kind": "accounts"})).await;
                let import = id(&i);
                let path = format!("/api/v1/imports/{import}");
                for _ in 0..400 {
                    let (_, now) = app.get(admin, &path).await;
                    if now["status"] != "queued" && now["status"] != "running" {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(25)).await;
                }
                Made { id: import, other: file, name, witness: Some((Admin, path)), ..Made::default() }
            }
            Subject::Upload => {
                let name = company(self.next());
                let bytes = format!("name,source\r\n{name},other\r\n");
                let (status, up) =
                    app.send("POST", owner, "/api/v1/uploads", json!({"name": "名单.csv", "size": bytes.len()})).await;
                assert_eq!(status, 201, "{up}");
                let witness = format!("/api/v1/uploads/{}", id(&up));
                Made { id: id(&up), other: bytes, name, witness: Some((Admin, witness)), ..Made::default() }
            }
            Subject::File => {
                let name = company(self.next());
                let file = self.upload(owner, format!("name,source\r\n{name},other\r\n").as_bytes()).await;
                let witness = format!("/api/v1/uploads/{file}");
                Made { id: file, name, witness: Some((Admin, witness)), ..Made::default() }
            }
            Subject::Mapping => {
                let body = json!({"name": format!("销售易导出{}", self.next()), "kind": "accounts",
                    "columns": [{"column": "公司", "field": "name"}]});
                let m = ok(app, owner, "POST", "/api/v1/import-mappings", body).await;
                Made { id: id(&m), witness: Some((Admin, "/api/v1/import-mappings".into())), ..Made::default() }
            }
            Subject::Channel => {
                let body = json!({"kind": "wecom", "label": "销售一组群",
                    "target": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=matrix"});
                let c = ok(app, owner, "POST", "/api/v1/me/channels", body).await;
                Made { id: id(&c), witness: Some((Owner, "/api/v1/me/channels".into())), ..Made::default() }
            }
            Subject::Token => {
                let t = ok(app, owner, "POST", "/api/v1/me/tokens", json!({"name": "报表脚本"})).await;
                Made { id: id(&t), witness: Some((Owner, "/api/v1/me/tokens".into())), ..Made::default() }
            }
            Subject::Registration => {
                let name = company(self.next());
                let body = json!({"account": {"name": name, "source": "other"}, "note": "展会上认识了设备处长"});
                let r = ok(app, owner, "POST", "/api/v1/registrations", body).await;
                Made {
                    id: id(&r),
                    name,
                    witness: Some((Owner, "/api/v1/registrations?box=mine".into())),
                    ..Made::default()
                }
            }
            Subject::Transfer => {
                let (account, name) = self.account().await;
                let body = json!({"account_id": account, "reason": "客户总部在我负责的区域"});
                let t = ok(app, self.cast.token(OtherSales), "POST", "/api/v1/transfers", body).await;
                let witness = format!("/api/v1/accounts/{account}");
                Made { id: id(&t), name, account, witness: Some((Admin, witness)), ..Made::default() }
            }
            Subject::Script => {
                let body = json!({"kind": "objection", "title": format!("价格高{}", self.next()), "body": "{联系人}，价格我们可以再谈。"});
                let s = ok(app, self.cast.token(Manager), "POST", "/api/v1/scripts", body).await;
                Made { id: id(&s), witness: Some((Admin, "/api/v1/scripts".into())), ..Made::default() }
            }
            Subject::Notification => {
                let r = Box::pin(self.make(Subject::Registration)).await;
                let decision = json!({"approve": true});
                ok(app, admin, "POST", &format!("/api/v1/registrations/{}/decision", r.id), decision).await;
                let (_, list) = app.get(owner, "/api/v1/notifications").await;
                let n = list["items"][0].clone();
                Made { id: id(&n), witness: Some((Owner, "/api/v1/notifications".into())), ..Made::default() }
            }
            Subject::Team => {
                let witness = format!("/api/v1/teams/{}", self.cast.team_x);
                Made { id: self.cast.team_x.clone(), witness: Some((Admin, witness)), ..Made::default() }
            }
            Subject::User => {
                let witness = format!("/api/v1/users/{}", self.cast.id(Owner));
                Made { id: self.cast.id(Owner), witness: Some((Admin, witness)), ..Made::default() }
            }
            Subject::NewUser => {
                let n = self.next();
                let team = uuid::Uuid::parse_str(&self.cast.team_x).unwrap();
                let user = app
                    .user_in(
                        app.workspace,
                        &format!("new{n}@test.example"),
                        "新人",
                        Role::Sales,
                        Some(guanxi_domain::TeamId::from_uuid(team)),
                    )
                    .await;
                let witness = format!("/api/v1/users/{}", user.id);
                Made { id: user.id.to_string(), witness: Some((Admin, witness)), ..Made::default() }
            }
            Subject::Role => {
                Made { id: "sales".into(), witness: Some((Admin, "/api/v1/roles".into())), ..Made::default() }
            }
        }
    }

    async fn upload(&self, token: &str, bytes: &[u8]) -> String {
        let (status, up) =
            self.app.send("POST", token, "/api/v1/uploads", json!({"name": "名单.csv", "size": bytes.len()})).await;
        assert_eq!(status, 201, "{up}");
        let file = id(&up);
        let (status, done) = crate::api_import::put(self.app, token, &file, 0, bytes).await;
        assert_eq!(status, 200, "{done}");
        file
    }
}

/// Who reaches a row's record, and how.
#[derive(Clone, Copy)]
pub(crate) enum Rule {
    /// These callers get one of these statuses; every other one is refused.
    Only(&'static [Who], &'static [u16]),
    /// Everyone but `refused` gets 200; the record shows only to `shown`.
    Lists(&'static [Who], &'static [Who]),
    /// The caller's own settings, or reference data: everyone gets one of these statuses.
    Anyone(&'static [u16]),
    /// Not run here; the named test covers it.
    Elsewhere(&'static str),
}

pub(crate) type Body = fn(&Made, &Cast, &TestApp) -> Value;

pub(crate) struct Row {
    method: &'static str,
    /// The document's path; `?…` after it is sent but not matched.
    path: &'static str,
    subject: Subject,
    body: Body,
    rule: Rule,
}

pub(crate) fn empty(_: &Made, _: &Cast, _: &TestApp) -> Value {
    json!({})
}

macro_rules! row {
    ($method:literal $path:literal, $subject:ident, $rule:expr) => {
        Row { method: $method, path: $path, subject: Subject::$subject, body: empty, rule: $rule }
    };
    ($method:literal $path:literal, $subject:ident, $rule:expr, |$m:ident, $c:ident, $a:ident| $body:expr) => {
        Row {
            method: $method,
            path: $path,
            subject: Subject::$subject,
            body: |$m: &Made, $c: &Cast, $a: &TestApp| {
                let _ = (&$m, &$c, &$a);
                $body
            },
            rule: $rule,
        }
    };
}

pub(crate) fn rows() -> Vec<Row> {
    use Rule::*;
    vec![
        // Accounts.
        row!("GET" "/api/v1/accounts", Account, Lists(SEES, &[])),
        row!("POST" "/api/v1/accounts", Account, Only(&[Admin, Manager], &[201]),
            |m, c, a| json!({"name": format!("新{}", m.name), "source": "other", "owner_id": c.id(Owner)})),
        row!("POST" "/api/v1/accounts/duplicates", Account, Lists(IN_WORKSPACE, &[]), |m, c, a| json!({"name": m.name})),
        row!("GET" "/api/v1/accounts/export", Account, Lists(SEES, &[])),
        row!("GET" "/api/v1/accounts/{id}", Account, Only(SEES, &[200])),
        row!("DELETE" "/api/v1/accounts/{id}", Account, Only(CHANGES, &[200])),
        row!("PATCH" "/api/v1/accounts/{id}", Account, Only(CHANGES, &[200]), |m, c, a| json!({"industry": "电力"})),
        // Admins open every pool but claim only from those they belong to (409 `not_in_pool`).
        row!("POST" "/api/v1/accounts/{id}/claim", PooledAccount, Only(&[Manager, Owner, Colleague], &[200])),
        row!("POST" "/api/v1/accounts/{id}/merge", Account, Only(CHANGES, &[200]),
            |m, c, a| json!({"duplicate_id": m.other})),
        row!("PUT" "/api/v1/accounts/{id}/pool", PooledAccount, Only(&[Admin, Manager], &[200]),
            |m, c, a| json!({"pool_id": m.other})),
        row!("GET" "/api/v1/accounts/{id}/purchases", Account, Only(SEES, &[200])),
        row!("POST" "/api/v1/accounts/{id}/purchases", Account, Only(CHANGES, &[201]),
            |m, c, a| json!({"item": "备件", "purchased_on": "2026-11-01"})),
        row!("POST" "/api/v1/accounts/{id}/release", Account, Only(CHANGES, &[200]), |m, c, a| json!({"reason": "项目已结束"})),
        row!("POST" "/api/v1/accounts/{id}/restore", DeletedAccount, Only(CHANGES, &[200])),
        // Touches and tasks.
        row!("GET" "/api/v1/activities?account_id={account}", Touch, Lists(SEES, &[])),
        row!("POST" "/api/v1/activities", Account, Only(SEES, &[201]),
            |m, c, a| json!({"account_id": m.id, "kind": "call", "outcome": "connected", "no_hook_reason": "no_need"})),
        row!("GET" "/api/v1/activities/export?account_id={account}", Touch, Lists(SEES, &[])),
        row!("POST" "/api/v1/activities/{id}/restore", RemovedTouch, Only(&[Admin, Manager, Owner], &[200])),
        row!("GET" "/api/v1/tasks?until={name}", Task, Lists(&[Owner], &[])),
        row!("POST" "/api/v1/tasks", Account, Only(SEES, &[201]),
            |m, c, a| json!({"account_id": m.id, "due_at": soon(a), "purpose": "约技术交流"})),
        row!("POST" "/api/v1/tasks/{id}/done", Task, Only(&[Owner], &[200])),
        row!("POST" "/api/v1/tasks/{id}/reschedule", Task, Only(&[Owner], &[200]),
            |m, c, a| json!({"due_at": (a.now() + chrono::Duration::days(2)).to_rfc3339(), "reason": "客户出差"})),
        row!("GET" "/api/v1/reports/call-hours", None, Anyone(&[200])),
        row!("GET" "/api/v1/reports/hooks", User, Lists(&[Admin, Manager, Owner, Service], &[])),
        // Contacts.
        row!("GET" "/api/v1/contacts", Contact, Lists(SEES, &[])),
        row!("POST" "/api/v1/contacts", Account, Only(CHANGES, &[201]), |m, c, a| json!({"account_id": m.id, "name": "周海涛"})),
        row!("GET" "/api/v1/contacts/export", Contact, Lists(SEES, &[])),
        row!("GET" "/api/v1/contacts/{id}", Contact, Only(SEES, &[200])),
        row!("DELETE" "/api/v1/contacts/{id}", Contact, Only(CHANGES, &[200])),
        row!("PATCH" "/api/v1/contacts/{id}", Contact, Only(CHANGES, &[200]), |m, c, a| json!({"title": "总工程师"})),
        row!("POST" "/api/v1/contacts/{id}/merge", Contact, Only(CHANGES, &[200]),
            |m, c, a| json!({"duplicate_id": m.other})),
        row!("POST" "/api/v1/contacts/{id}/restore", DeletedContact, Only(CHANGES, &[200])),
        // Deals.
        row!("GET" "/api/v1/opportunities", Deal, Lists(SEES, &[])),
        row!("POST" "/api/v1/opportunities", Account, Only(CHANGES, &[201]),
            |m, c, a| json!({"account_id": m.id, "name": "主网二次设备", "stage": "initiation"})),
        row!("GET" "/api/v1/opportunities/export", Deal, Lists(SEES, &[])),
        row!("GET" "/api/v1/opportunities/pipeline", Deal, Elsewhere("api_opportunities: sums over the deals the caller sees")),
        row!("GET" "/api/v1/opportunities/{id}", Deal, Only(SEES, &[200])),
        row!("DELETE" "/api/v1/opportunities/{id}", Deal, Only(CHANGES, &[200])),
        row!("PATCH" "/api/v1/opportunities/{id}", Deal, Only(CHANGES, &[200]), |m, c, a| json!({"name": "配网改造二期"})),
        row!("POST" "/api/v1/opportunities/{id}/restore", DeletedDeal, Only(CHANGES, &[200])),
        // Search.
        row!("GET" "/api/v1/search?q={name}", Account, Lists(SEES, &[])),
        // The pool, registrations and transfers.
        row!("GET" "/api/v1/pools", Pool, Lists(POOL_MEMBERS, &[])),
        row!("POST" "/api/v1/pools", None, Only(&[Admin, Manager, OtherManager, Outsider], &[201]), |m, c, a| json!({"name": format!("新公海{}", uuid::Uuid::new_v4())})),
        row!("GET" "/api/v1/pools/{id}", Pool, Only(POOL_MEMBERS, &[200])),
        row!("PATCH" "/api/v1/pools/{id}", Pool, Only(&[Admin, Manager], &[200]), |m, c, a| json!({"name": format!("东北公海{}", uuid::Uuid::new_v4())})),
        row!("GET" "/api/v1/pools/{id}/accounts", Pool, Only(POOL_MEMBERS, &[200])),
        row!("GET" "/api/v1/registrations", Registration, Lists(&[Admin, Manager], &[])),
        row!("POST" "/api/v1/registrations", None, Only(&[Admin, Manager, OtherManager, Owner, Colleague, OtherSales, Outsider], &[201]),
            |m, c, a| json!({"account": {"name": company(500 + rand_small()), "source": "other"}, "note": "展会"})),
        row!("POST" "/api/v1/registrations/{id}/decision", Registration, Only(&[Admin, Manager], &[200]),
            |m, c, a| json!({"approve": true})),
        row!("GET" "/api/v1/transfers", Transfer, Lists(&[Admin, Manager], &[])),
        // Anyone who writes sales records but the owner (409 `already_owned`) may ask.
        row!("POST" "/api/v1/transfers", Account, Only(&[Admin, Manager, OtherManager, Colleague, OtherSales], &[201]),
            |m, c, a| json!({"account_id": m.id, "reason": "我来跟"})),
        row!("POST" "/api/v1/transfers/{id}/decision", Transfer, Only(&[Admin, Manager], &[200]),
            |m, c, a| json!({"approve": true})),
        row!("POST" "/api/v1/notifications/read", Notification, Anyone(&[200]), |m, c, a| json!({"id": m.id})),
        row!("GET" "/api/v1/notifications", Notification, Lists(&[Owner], &[])),
        row!("POST" "/api/v1/handovers", None, Only(&[Admin], &[200]),
            |m, c, a| json!({"from_user_id": c.id(Owner), "to_user_ids": [c.id(Colleague)], "preview": true})),
        // Imports.
        row!("GET" "/api/v1/imports", Import, Lists(&[Admin, Owner], &[])),
        row!("POST" "/api/v1/imports", File, Only(&[Admin, Owner], &[202]),
            |m, c, a| json!({"file_id": m.id, "dry_run": true})),
        row!("POST" "/api/v1/imports/preview", File, Only(&[Admin, Owner], &[200]), |m, c, a| json!({"file_id": m.id})),
        row!("GET" "/api/v1/imports/{id}", Import, Only(&[Admin, Owner], &[200])),
        row!("GET" "/api/v1/imports/{id}/errors.csv", Import, Only(&[Admin, Owner], &[200])),
        row!("GET" "/api/v1/imports/{id}/file", Import, Only(&[Admin, Owner], &[200])),
        row!("POST" "/api/v1/imports/{id}/undo", Import, Only(&[Admin, Owner], &[200])),
        row!("POST" "/api/v1/uploads", None, Anyone(&[201]), |m, c, a| json!({"name": "名单.csv", "size": 10})),
        row!("GET" "/api/v1/uploads/{id}", Upload, Only(&[Admin, Owner], &[200])),
        row!("PUT" "/api/v1/uploads/{id}?offset=0", Upload, Only(&[Admin, Owner], &[200]), |m, c, a| json!(m.other)),
        row!("GET" "/api/v1/import-mappings", Mapping, Lists(IN_WORKSPACE, &[])),
        row!("POST" "/api/v1/import-mappings", None, Anyone(&[201]),
            |m, c, a| json!({"name": "客户名单", "kind": "accounts", "columns": [{"column": "公司", "field": "name"}]})),
        // Shared in the workspace: whoever imports uses and tidies them.
        row!("DELETE" "/api/v1/import-mappings/{id}", Mapping, Only(IN_WORKSPACE, &[204])),
        // The caller's own settings.
        row!("POST" "/api/v1/auth/login", None, Elsewhere("api_auth: a password opens only its own account")),
        row!("POST" "/api/v1/auth/logout", None, Elsewhere("api_auth: logging out ends the caller's own session")),
        row!("GET" "/api/v1/me", None, Anyone(&[200])),
        row!("PATCH" "/api/v1/me", None, Anyone(&[200]), |m, c, a| json!({"locale": "zh-CN"})),
        row!("POST" "/api/v1/me/password", None, Elsewhere("api_auth: the current password is asked first")),
        row!("POST" "/api/v1/me/calendar", None, Anyone(&[200, 201])),
        row!("DELETE" "/api/v1/me/calendar", None, Anyone(&[204, 404])),
        row!("GET" "/api/v1/me/channels", Channel, Lists(&[Owner], &[])),
        row!("POST" "/api/v1/me/channels", None, Anyone(&[201]),
            |m, c, a| json!({"kind": "dingtalk", "label": "我的钉钉", "target": "https://oapi.dingtalk.com/robot/send?access_token=t"})),
        row!("DELETE" "/api/v1/me/channels/{id}", Channel, Only(&[Owner], &[204])),
        row!("PATCH" "/api/v1/me/channels/{id}", Channel, Only(&[Owner], &[200]), |m, c, a| json!({"enabled": false})),
        row!("POST" "/api/v1/me/channels/{id}/test", Channel, Elsewhere("notify: a test message goes to the vendor's host")),
        row!("GET" "/api/v1/me/deliveries", None, Anyone(&[200])),
        row!("GET" "/api/v1/me/reminders", None, Anyone(&[200])),
        row!("PUT" "/api/v1/me/reminders", None, Anyone(&[200]), |m, c, a| json!({"remind_lead_minutes": 30})),
        row!("GET" "/api/v1/me/tokens", Token, Lists(&[Owner], &[])),
        row!("POST" "/api/v1/me/tokens", None, Anyone(&[201]), |m, c, a| json!({"name": "脚本"})),
        row!("DELETE" "/api/v1/me/tokens/{id}", Token, Only(&[Owner], &[200])),
        // Reference data and the library.
        row!("GET" "/api/v1/divisions", None, Anyone(&[200])),
        row!("GET" "/api/v1/scripts", Script, Lists(IN_WORKSPACE, &[])),
        row!("POST" "/api/v1/scripts", None, Only(&[Admin, Manager, OtherManager, Outsider], &[201]),
            |m, c, a| json!({"kind": "objection", "title": format!("交期长{}", uuid::Uuid::new_v4()), "body": "{联系人}，我们备有现货。"})),
        row!("PUT" "/api/v1/scripts/{id}", Script, Only(LEADERS, &[200]),
            |m, c, a| json!({"kind": "objection", "title": "价格高（改）", "body": "{联系人}，价格可以谈。"})),
        row!("DELETE" "/api/v1/scripts/{id}", Script, Only(LEADERS, &[204])),
        // Administration.
        row!("GET" "/api/v1/audit", Account, Lists(&[Admin], &[Manager, OtherManager, Owner, Colleague, OtherSales, Service])),
        row!("GET" "/api/v1/roles", None, Anyone(&[200])),
        // The other workspace's admin changes their own workspace's role, never this one's.
        row!("PATCH" "/api/v1/roles/{id}", Role, Only(&[Admin, Outsider], &[200]), |m, c, a| json!({"data_scope": "own"})),
        row!("GET" "/api/v1/teams", Team, Lists(&[Admin, Manager, Owner, Colleague, Service], &[])),
        row!("POST" "/api/v1/teams", None, Only(&[Admin], &[201]),
            |m, c, a| json!({"name": format!("吉林组{}", uuid::Uuid::new_v4()), "parent_id": c.team_x})),
        row!("GET" "/api/v1/teams/{id}", Team, Only(&[Admin, Manager, Owner, Colleague, Service], &[200])),
        row!("DELETE" "/api/v1/teams/{id}", Team, Only(&[Admin], &[409])),
        row!("PATCH" "/api/v1/teams/{id}", Team, Only(&[Admin], &[200]), |m, c, a| json!({"name": "东北大区"})),
        row!("GET" "/api/v1/users", User, Lists(&[Admin, Manager, Owner, Service], &[])),
        row!("POST" "/api/v1/users", None, Only(&[Admin, Outsider], &[201]),
            |m, c, a| json!({"email": format!("{}@test.example", uuid::Uuid::new_v4()), "display_name": "新人",
                "password": "password-123", "role": "sales"})),
        row!("GET" "/api/v1/users/{id}", User, Only(&[Admin, Manager, Owner, Service], &[200])),
        row!("PATCH" "/api/v1/users/{id}", User, Only(&[Admin], &[200]), |m, c, a| json!({"display_name": "张伟"})),
    ]
}

pub(crate) fn rand_small() -> u32 {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

pub(crate) fn fill(template: &str, m: &Made) -> String {
    template.replace("{id}", &m.id).replace("{account}", &m.account).replace("{name}", &m.name)
}

pub(crate) fn is_octets(path: &str) -> bool {
    path.starts_with("/api/v1/uploads/{id}")
}

pub(crate) async fn call(app: &TestApp, token: &str, row: &Row, m: &Made, cast: &Cast) -> (u16, String) {
    let path = fill(row.path, m);
    let body = (row.body)(m, cast, app);
    let m_ = reqwest::Method::from_bytes(row.method.as_bytes()).unwrap();
    let req = app.client().request(m_, app.url(&path)).bearer_auth(token);
    let req = if is_octets(row.path) && row.method == "PUT" {
        req.header("content-type", "application/octet-stream").body(body.as_str().unwrap_or_default().to_owned())
    } else if row.method == "GET" {
        req
    } else {
        req.json(&body)
    };
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

pub(crate) async fn audit_entries(app: &TestApp) -> i64 {
    app.count("audit_log").await
}

pub(crate) async fn witness(app: &TestApp, cast: &Cast, m: &Made) -> Option<(u16, Value)> {
    match &m.witness {
        Some((who, path)) => Some(app.get(cast.token(*who), path).await),
        None => None,
    }
}

/// Whether a refusal is one: a read of a hidden record is 404; a write 403
/// or 404, or 422 naming the reference it may not use.
pub(crate) fn refused(row: &Row, status: u16, text: &str) -> bool {
    let names_a_reference = || {
        let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        v["errors"].as_array().is_some_and(|errs| {
            errs.iter().any(|e| e["field"].as_str().is_some_and(|f| f.ends_with("id") || f.ends_with("ids")))
        })
    };
    match (row.method, status) {
        ("GET", 404) => true,
        // A query naming a record: the same as a body naming one.
        ("GET", 422) => row.path.contains('?') && names_a_reference(),
        ("GET", _) => false,
        (_, 403 | 404) => true,
        // Refusals that say why to a caller who sees the record.
        (_, 409) => ["not_in_pool", "already_owned"].iter().any(|c| text.contains(&format!("\"code\":\"{c}\""))),
        (_, 422) => names_a_reference(),
        _ => false,
    }
}

async fn authorisation_matrix(app: &TestApp) {
    let cast = cast(app).await;
    let maker = Maker { app, cast: &cast, n: std::cell::Cell::new(0) };
    let rows = rows();

    // Every operation the document names has a row, and every row an operation.
    let (status, doc) = app.get(&app.admin.token, "/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let normalise = |p: &str| {
        let p = p.split('?').next().unwrap();
        p.replace("/roles/{id}", "/roles/{role}")
    };
    let covered: BTreeSet<(String, String)> = rows.iter().map(|r| (r.method.to_owned(), normalise(r.path))).collect();
    let missing: Vec<_> = documented.difference(&covered).collect();
    let extra: Vec<_> = covered.difference(&documented).collect();
    assert!(missing.is_empty(), "operations without a row in the matrix: {missing:?}");
    assert!(extra.is_empty(), "rows for operations the document does not have: {extra:?}");
    assert_eq!(rows.len(), documented.len(), "one row per operation");

    let mut failures = Vec::new();
    let mut checked = 0;
    for row in &rows {
        let op = format!("{} {}", row.method, row.path);
        match row.rule {
            Rule::Elsewhere(test) => {
                eprintln!("{op}: covered by {test}");
                continue;
            }
            Rule::Anyone(statuses) => {
                for who in EVERYONE {
                    let m = maker.make(row.subject).await;
                    let before = witness(app, &cast, &m).await;
                    let (status, text) = call(app, cast.token(who), row, &m, &cast).await;
                    checked += 1;
                    if !statuses.contains(&status) {
                        failures.push(format!("{op} as {who:?}: {status}, expected one of {statuses:?}: {text}"));
                    }
                    // Acting on their own never touches the owner's record.
                    if who != Owner && witness(app, &cast, &m).await != before {
                        failures.push(format!("{op} as {who:?} changed the owner's record"));
                    }
                }
            }
            Rule::Lists(shown, denied) => {
                let m = maker.make(row.subject).await;
                for who in EVERYONE {
                    let (status, text) = call(app, cast.token(who), row, &m, &cast).await;
                    checked += 1;
                    let expected = if denied.contains(&who) { 403 } else { 200 };
                    if status != expected {
                        failures.push(format!("{op} as {who:?}: {status}, expected {expected}: {text}"));
                        continue;
                    }
                    let marker = if matches!(row.subject, Subject::User) { cast.id(Owner) } else { m.id.clone() };
                    let shows = text.contains(&marker);
                    if status == 200 && shows != shown.contains(&who) {
                        failures
                            .push(format!("{op} as {who:?}: the record {} shown", if shows { "is" } else { "is not" }));
                    }
                }
            }
            Rule::Only(allowed, statuses) => {
                // The refused first, all on one record that must stay as it is.
                let m = maker.make(row.subject).await;
                for who in EVERYONE.into_iter().filter(|w| !allowed.contains(w) || *w == Outsider) {
                    let before = (audit_entries(app).await, witness(app, &cast, &m).await);
                    let (status, text) = call(app, cast.token(who), row, &m, &cast).await;
                    checked += 1;
                    let after = (audit_entries(app).await, witness(app, &cast, &m).await);
                    if allowed.contains(&who) {
                        // The other workspace's admin, in their own workspace.
                        if !statuses.contains(&status) {
                            failures.push(format!("{op} as {who:?}: {status}, expected one of {statuses:?}: {text}"));
                        }
                        if before.1 != after.1 {
                            failures.push(format!("{op} as {who:?} changed this workspace's record"));
                        }
                        continue;
                    }
                    if !refused(row, status, &text) {
                        failures.push(format!("{op} as {who:?}: {status} is no refusal: {text}"));
                    }
                    if before != after {
                        failures
                            .push(format!("{op} as {who:?}: refused, yet something changed: {before:?} → {after:?}"));
                    }
                }
                // Then each allowed caller, on a record of their own making.
                for who in allowed.iter().copied().filter(|w| *w != Outsider) {
                    let m = maker.make(row.subject).await;
                    let (status, text) = call(app, cast.token(who), row, &m, &cast).await;
                    checked += 1;
                    if !statuses.contains(&status) {
                        failures.push(format!("{op} as {who:?}: {status}, expected one of {statuses:?}: {text}"));
                    }
                }
            }
        }
    }
    // The calendar feed's door: found by its secret alone, each caller's feed
    // holds their own tasks and no one else's.
    let task = maker.make(Subject::Task).await;
    for who in EVERYONE {
        let (status, feed) = app.send("POST", cast.token(who), "/api/v1/me/calendar", json!({})).await;
        assert_eq!(status, 201, "{feed}");
        let file = feed["url"].as_str().unwrap().split("/calendar/").nth(1).unwrap().to_owned();
        let res = app.client().get(app.url(&format!("/calendar/{file}"))).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let shows = res.text().await.unwrap().contains(&task.id);
        checked += 1;
        if shows != (who == Owner) {
            failures.push(format!(
                "the calendar feed of {who:?}: the owner's task {} shown",
                if shows { "is" } else { "is not" }
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {checked} cells fail:\n{}", failures.len(), failures.join("\n"));
}
both!(authorisation_matrix);
