//! The demo world (DOMAIN.md): a maker of power-grid automation equipment
//! selling to the State Grid Northeast Branch (国网东北分部). For now its
//! workspace, teams and users; later issues add accounts, people and deals.
//! Loading is idempotent: records are found by name or e-mail first.

use guanxi_domain::{Clock, DisplayName, Email, Locale, Role, TeamName, WorkspaceName};
use guanxi_store::{teams, users, workspaces, Actor, Db};

/// The demo workspace.
pub const WORKSPACE: &str = "北方智控电气（演示）";
/// The demo password of every demo user.
pub const PASSWORD: &str = "guanxi-demo";
/// The demo admin.
pub const ADMIN_EMAIL: &str = "admin@guanxi.example";

struct DemoTeam {
    name: &'static str,
    parent: Option<&'static str>,
    manager: Option<&'static str>,
}

const TEAMS: &[DemoTeam] = &[
    DemoTeam { name: "销售中心", parent: None, manager: Some("chen@guanxi.example") },
    DemoTeam { name: "东北大区", parent: Some("销售中心"), manager: Some("liu@guanxi.example") },
    DemoTeam { name: "辽宁组", parent: Some("东北大区"), manager: None },
    DemoTeam { name: "吉林组", parent: Some("东北大区"), manager: None },
    DemoTeam { name: "华北大区", parent: Some("销售中心"), manager: Some("zhao@guanxi.example") },
    DemoTeam { name: "客服中心", parent: None, manager: Some("zhou@guanxi.example") },
];

struct DemoUser {
    email: &'static str,
    name: &'static str,
    role: Role,
    team: Option<&'static str>,
    locale: Locale,
}

const USERS: &[DemoUser] = &[
    DemoUser { email: ADMIN_EMAIL, name: "系统管理员", role: Role::Admin, team: None, locale: Locale::ZhCn },
    DemoUser {
        email: "chen@guanxi.example",
        name: "陈建国",
        role: Role::Manager,
        team: Some("销售中心"),
        locale: Locale::ZhCn,
    },
    DemoUser {
        email: "liu@guanxi.example",
        name: "刘海峰",
        role: Role::Manager,
        team: Some("东北大区"),
        locale: Locale::ZhCn,
    },
    DemoUser {
        email: "zhang@guanxi.example",
        name: "张伟",
        role: Role::Sales,
        team: Some("辽宁组"),
        locale: Locale::ZhCn,
    },
    DemoUser {
        email: "wang@guanxi.example",
        name: "王磊",
        role: Role::Sales,
        team: Some("辽宁组"),
        locale: Locale::ZhCn,
    },
    DemoUser {
        email: "li@guanxi.example",
        name: "李娜",
        role: Role::Sales,
        team: Some("吉林组"),
        locale: Locale::ZhCn,
    },
    DemoUser {
        email: "zhao@guanxi.example",
        name: "赵志强",
        role: Role::Manager,
        team: Some("华北大区"),
        locale: Locale::ZhCn,
    },
    DemoUser {
        email: "sun@guanxi.example",
        name: "孙强",
        role: Role::Sales,
        team: Some("华北大区"),
        locale: Locale::En,
    },
    DemoUser {
        email: "zhou@guanxi.example",
        name: "周敏",
        role: Role::Service,
        team: Some("客服中心"),
        locale: Locale::ZhCn,
    },
];

/// The demo logins other than the admin, with their roles, for the start-up message.
pub fn other_logins() -> Vec<String> {
    USERS
        .iter()
        .filter(|u| u.email != ADMIN_EMAIL)
        .map(|u| format!("{} ({}, {})", u.email, u.name, u.role.as_str()))
        .collect()
}

/// What a load created.
#[derive(Debug, Default)]
pub struct Report {
    /// Teams created now.
    pub teams_created: usize,
    /// Users created now.
    pub users_created: usize,
}

impl Report {
    /// One line for the console.
    pub fn summary(&self) -> String {
        format!(
            "{} teams and {} users created; {} teams and {} users in all",
            self.teams_created,
            self.users_created,
            TEAMS.len(),
            USERS.len()
        )
    }
}

fn parsed<T>(r: Result<T, guanxi_domain::FieldError>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("demo data is invalid: {}", e.message))
}

/// Loads (or completes) the demo world.
pub async fn load(db: &Db, clock: &dyn Clock) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let now = clock.now();
    // Look up by the parsed (NFKC-folded) name: that is what was stored.
    let ws_name = parsed(WorkspaceName::parse("workspace", WORKSPACE))?;
    let ws = match workspaces::find_by_name(db, ws_name.as_str()).await? {
        Some(ws) => ws,
        None => {
            let mut tx = db.begin().await?;
            let ws = workspaces::create(&mut tx, &ws_name, now).await?;
            tx.commit().await?;
            ws
        }
    };
    let actor = Actor::system(ws.id, "demo");

    let mut tx = db.begin().await?;
    for t in TEAMS {
        let name = parsed(TeamName::parse("name", t.name))?;
        if teams::find_by_name(db, ws.id, name.as_str()).await?.is_some() {
            continue;
        }
        let parent = match t.parent {
            Some(p) => Some(team_id(&mut tx, ws.id, p).await?),
            None => None,
        };
        teams::create(&mut tx, &actor, teams::NewTeam { name, parent_id: parent, manager_id: None }, now).await?;
        report.teams_created += 1;
    }
    tx.commit().await?;

    // One hash for every demo user: argon2id is slow on purpose.
    let hash = tokio::task::spawn_blocking(|| guanxi_store::secret::hash_password(PASSWORD)).await?;
    let mut tx = db.begin().await?;
    for u in USERS {
        let email = parsed(Email::parse("email", u.email))?;
        if users::find_by_email(db, &email).await?.is_some() {
            continue;
        }
        let team = match u.team {
            Some(t) => Some(team_id(&mut tx, ws.id, t).await?),
            None => None,
        };
        let new = users::NewUser {
            email,
            display_name: parsed(DisplayName::parse("display_name", u.name))?,
            password_hash: hash.clone(),
            role: u.role,
            team_id: team,
            locale: u.locale,
        };
        users::create(&mut tx, &actor, new, now).await?;
        report.users_created += 1;
    }
    tx.commit().await?;

    let mut tx = db.begin().await?;
    for t in TEAMS {
        let Some(manager_email) = t.manager else { continue };
        let team = teams::find_by_name(db, ws.id, t.name)
            .await?
            .ok_or_else(|| anyhow::anyhow!("demo team {} vanished", t.name))?;
        let manager = users::find_by_email(db, &parsed(Email::parse("email", manager_email))?).await?;
        if let Some(m) = manager {
            if team.manager_id != Some(m.id) {
                teams::update(
                    &mut tx,
                    &actor,
                    team.id,
                    teams::TeamPatch { manager_id: Some(Some(m.id)), ..Default::default() },
                    now,
                )
                .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(report)
}

async fn team_id(
    tx: &mut guanxi_store::Tx,
    ws: guanxi_domain::WorkspaceId,
    name: &str,
) -> anyhow::Result<guanxi_domain::TeamId> {
    let (id,): (guanxi_domain::TeamId,) = tx
        .fetch_one(
            guanxi_store::Sql::new("SELECT id FROM teams WHERE workspace_id = $1 AND name = $2 AND deleted_at IS NULL")
                .arg(ws)
                .arg(name),
        )
        .await
        .map_err(|e| anyhow::anyhow!("demo team {name}: {e}"))?;
    Ok(id)
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林", "何", "郭", "马",
    "罗",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超", "秀英", "建华", "志强",
    "海燕", "晓东",
];

/// Makes sure the demo workspace has `target` generated sales users (spread
/// over generated teams of 50 under 销售中心); returns how many exist now.
pub async fn generate_users(db: &Db, clock: &dyn Clock, target: u32) -> anyhow::Result<u32> {
    load(db, clock).await?;
    let ws_name = parsed(WorkspaceName::parse("workspace", WORKSPACE))?;
    let ws = workspaces::find_by_name(db, ws_name.as_str())
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo workspace missing"))?;
    let actor = Actor::system(ws.id, "gen");
    let (existing,): (i64,) = db
        .fetch_one(
            guanxi_store::Sql::new(
                "SELECT COUNT(*) FROM users WHERE workspace_id = $1 AND email LIKE 'gen%@guanxi.example'",
            )
            .arg(ws.id),
        )
        .await?;
    let existing = u32::try_from(existing)?;
    if existing >= target {
        return Ok(existing);
    }
    let hash = tokio::task::spawn_blocking(|| guanxi_store::secret::hash_password(PASSWORD)).await?;
    let mut tx = db.begin().await?;
    let root = team_id(&mut tx, ws.id, "销售中心").await?;
    let now = clock.now();
    let mut team = None;
    for i in existing..target {
        if i % 50 == 0 || team.is_none() {
            let name = parsed(TeamName::parse("name", &format!("生成{}组", i / 50 + 1)))?;
            team = Some(match teams::find_by_name(db, ws.id, name.as_str()).await? {
                Some(t) => t.id,
                None => {
                    teams::create(
                        &mut tx,
                        &actor,
                        teams::NewTeam { name, parent_id: Some(root), manager_id: None },
                        now,
                    )
                    .await?
                    .id
                }
            });
        }
        let n = i as usize;
        let name = format!("{}{}", SURNAMES[n % SURNAMES.len()], GIVEN[(n / SURNAMES.len()) % GIVEN.len()]);
        let new = users::NewUser {
            email: parsed(Email::parse("email", &format!("gen{i}@guanxi.example")))?,
            display_name: parsed(DisplayName::parse("display_name", &name))?,
            password_hash: hash.clone(),
            role: Role::Sales,
            team_id: team,
            locale: Locale::ZhCn,
        };
        users::create(&mut tx, &actor, new, now).await?;
        // Commit in batches: one huge transaction would hold SQLite's writer for long.
        if (i + 1) % 1000 == 0 {
            tx.commit().await?;
            tx = db.begin().await?;
        }
    }
    tx.commit().await?;
    // Fresh statistics, as after any bulk load: the planner needs them to pick the indexes.
    db.execute(guanxi_store::Sql::new("ANALYZE")).await?;
    Ok(target)
}
