//! The demo world (DOMAIN.md): a maker of power-grid automation equipment
//! selling to the State Grid Northeast Branch (国网东北分部): its workspace,
//! teams and users, the accounts they sell to and the people there (seed 000:
//! director A the friend, engineers B and C, the tender centre, the design
//! institute, the Shenyang bureau's section chief). Later issues add deals.
//! Loading is idempotent: records are found by name or e-mail first.

use guanxi_domain::{
    AccountSource, BuyingRole, Classification, Clock, DisplayName, Email, Locale, Phone, RelationshipStage,
    RelationshipStrength, Role, Stance, TeamName, Uscc, WorkspaceName,
};
use guanxi_store::{accounts, contacts, teams, users, workspaces, Actor, Db};

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
    /// Accounts created now.
    pub accounts_created: usize,
    /// Contacts created now.
    pub contacts_created: usize,
}

impl Report {
    /// One line for the console.
    pub fn summary(&self) -> String {
        format!(
            "{} teams, {} users, {} accounts and {} contacts created; {} teams, {} users, {} accounts and {} contacts in all",
            self.teams_created,
            self.users_created,
            self.accounts_created,
            self.contacts_created,
            TEAMS.len(),
            USERS.len(),
            ACCOUNTS.len() + POOLED.len(),
            CONTACTS.len()
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
    load_accounts(db, &actor, now, &mut report).await?;
    load_pool(db, &actor, now, &mut report).await?;
    load_activities(db, &actor, now).await?;
    load_opportunities(db, &actor, now).await?;
    Ok(report)
}

/// Seed 000's deals: the dispatch retrofit we entered at 立项 (a first
/// mover, helped by 刘主任), a relay protection tender we only heard of at
/// 招标 (陪标 risk), and the Shenyang bureau's construction project found
/// through 孙科长 before it was proposed. Only where an account has none yet.
async fn load_opportunities(db: &Db, actor: &Actor, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<()> {
    use guanxi_domain::opportunity::parse_amount;
    use guanxi_domain::{OpportunityStatus, Stage};
    use guanxi_store::opportunities::{self, OpportunityFields};
    let ws = actor.workspace_id;
    let zhang = demo_user(db, "zhang@guanxi.example").await?;
    let today = now.with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    // (account, deal, stage, stage we came in at, amount, days to close, people, competitors, notes)
    type Deal<'a> = (&'a str, &'a str, Stage, Stage, &'a str, i64, &'a [&'a str], Option<&'a str>, &'a str);
    let deals: [Deal<'_>; 3] = [
        (
            "国家电网有限公司东北分部",
            "东北分部调度自动化系统改造",
            Stage::Feasibility,
            Stage::Initiation,
            "1250万",
            200,
            &["刘建国", "王志明"],
            Some("南瑞"),
            "立项时刘主任请我们帮写立项报告，可研按我们的方案在做。",
        ),
        (
            "国家电网有限公司东北分部",
            "继电保护装置集中采购",
            Stage::Tender,
            Stage::Tender,
            "380万",
            45,
            &["赵文博"],
            Some("许继、四方"),
            "招标中心已发标才知道，技术参数偏向对手：先确认有没有真实机会。",
        ),
        (
            "国网辽宁省电力有限公司沈阳供电公司",
            "沈阳局变电站基建配套自动化",
            Stage::Initiation,
            Stage::Initiation,
            "600万",
            300,
            &["孙立军"],
            None,
            "孙科长透露明年基建计划，项目还没立项。",
        ),
    ];
    let mut tx = db.begin().await?;
    for (account_name, name, stage, first, amount, close_days, people, competitors, notes) in deals {
        let Some(account) = accounts::find_by_name(db, ws, account_name).await? else { continue };
        let (has,): (i64,) = tx
            .fetch_one(
                guanxi_store::Sql::new("SELECT COUNT(*) FROM opportunities WHERE account_id = $1 AND name = $2")
                    .arg(account)
                    .arg(name),
            )
            .await?;
        if has > 0 {
            continue;
        }
        let mut contact_ids = Vec::new();
        for p in people {
            contact_ids.extend(contacts::find_by_name(db, account, p).await?);
        }
        let f = OpportunityFields {
            account_id: account,
            name: name.to_owned(),
            stage,
            status: OpportunityStatus::Open,
            first_contact_stage: first,
            amount_fen: Some(parsed(parse_amount("amount", amount))?),
            expected_close_on: Some(today + chrono::Duration::days(close_days)),
            owner_id: None,
            source: Some(AccountSource::Referral),
            competitors: competitors.map(str::to_owned),
            lost_reason: None,
            notes: Some(notes.to_owned()),
            contact_ids,
        };
        opportunities::create(&mut tx, actor, zhang.id, &f, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Seed 000's first touches at 国网东北分部, each with its hook: the friendly
/// 刘建国 first, a visit to 王志明, and a refusal by 赵文博 kept for later.
/// Only for an account that has none yet.
async fn load_activities(db: &Db, actor: &Actor, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<()> {
    use chrono::{Duration, DurationRound};
    use guanxi_domain::{ActivityKind, LearnedKind, Outcome};
    use guanxi_store::activities::{self, Learned, NewActivity, NewHook};
    let ws = actor.workspace_id;
    let Some(account) = accounts::find_by_name(db, ws, "国家电网有限公司东北分部").await? else {
        return Ok(());
    };
    let (done,): (i64,) = db
        .fetch_one(guanxi_store::Sql::new("SELECT COUNT(*) FROM activities WHERE account_id = $1").arg(account))
        .await?;
    if done > 0 {
        return Ok(());
    }
    let zhang = demo_user(db, "zhang@guanxi.example").await?;
    let person = |name: &'static str| async move {
        contacts::find_by_name(db, account, name).await?.ok_or_else(|| anyhow::anyhow!("demo contact {name} missing"))
    };
    // Hooks at precise times: ten-minute marks from now.
    let soon = now.duration_trunc(Duration::minutes(10)).unwrap_or(now) + Duration::hours(2);
    let touches = [
        (
            "刘建国",
            ActivityKind::Call,
            Outcome::Connected,
            Duration::days(2),
            "刘主任支持我们，答应引荐技术评审的王工。",
            (LearnedKind::Timeline, "调度自动化改造明年一季度立项"),
            soon,
            "约拜访，介绍调度自动化方案",
        ),
        (
            "王志明",
            ActivityKind::Visit,
            Outcome::MeetingBooked,
            Duration::days(1),
            "刘主任引荐，王工对站端改造有顾虑。",
            (LearnedKind::DecisionMaker, "王工负责技术评审"),
            soon + Duration::days(3) - Duration::hours(2),
            "带技术专家交流 35 分钟，三人",
        ),
        (
            "赵文博",
            ActivityKind::Call,
            Outcome::Refused,
            Duration::days(3),
            "赵主任说已有合作厂家，不想见。拒绝也记下：下次先请刘主任引荐。",
            (LearnedKind::Competitor, "现有合作厂家是南瑞"),
            soon + Duration::days(7),
            "请刘主任引荐后再约",
        ),
    ];
    let mut tx = db.begin().await?;
    for (name, kind, outcome, ago, notes, (lk, lt), due, purpose) in touches {
        let who = person(name).await?;
        let a = NewActivity {
            account_id: account,
            contacts: vec![who],
            kind,
            started_at: now - ago,
            duration_minutes: Some(20),
            outcome,
            notes: Some(notes.to_owned()),
            learned: vec![Learned { kind: lk, text: lt.to_owned() }],
            hook: Some(NewHook { due_at: due, purpose: purpose.to_owned(), contact_id: Some(who) }),
            no_hook_reason: None,
            fulfils: None,
            opportunity_id: None,
        };
        activities::log(&mut tx, actor, zhang.id, &a, now).await?;
    }
    // Seed 003: spare parts bought every month or so; Guanxi learns the cycle
    // from the two purchases and reminds 张伟 before they run out.
    let today = now.with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    for days_ago in [58, 28] {
        let p = guanxi_store::purchases::NewPurchase {
            item: "继电保护装置备件".into(),
            purchased_on: today - Duration::days(days_ago),
            quantity: Some("20 套".into()),
            cycle_days: None,
        };
        guanxi_store::purchases::record(&mut tx, actor, zhang.id, account, &p, chrono_tz::Asia::Shanghai, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

struct DemoAccount {
    name: &'static str,
    short_name: Option<&'static str>,
    uscc: Option<&'static str>,
    phone: &'static str,
    industry: &'static str,
    region: &'static str,
    source: AccountSource,
    referrer: Option<&'static str>,
    class: Classification,
    key_account: bool,
    stage: Option<RelationshipStage>,
    owner: &'static str,
    tags: &'static [&'static str],
    notes: &'static str,
}

const ACCOUNTS: &[DemoAccount] = &[
    DemoAccount {
        name: "国家电网有限公司东北分部",
        short_name: Some("东北局"),
        uscc: None,
        phone: "024-2388 6000",
        industry: "电网",
        region: "210102",
        source: AccountSource::ColdCall,
        referrer: None,
        class: Classification::A,
        key_account: true,
        stage: Some(RelationshipStage::Stable),
        owner: "zhang@guanxi.example",
        tags: &["调度自动化", "集中采购"],
        notes: "调度中心、生产技术部、建设部、招标中心与设计院是平级部门；招标由招标中心组织，标书由设计院编写。",
    },
    DemoAccount {
        name: "国网辽宁省电力有限公司沈阳供电公司",
        short_name: Some("沈阳局"),
        uscc: None,
        phone: "024-2253 1234",
        industry: "电网",
        region: "210100",
        source: AccountSource::Referral,
        referrer: Some("东北局调度中心 刘主任"),
        class: Classification::A,
        key_account: true,
        stage: Some(RelationshipStage::Building),
        owner: "zhang@guanxi.example",
        tags: &["配网自动化"],
        notes: "建设科孙科长带家人来公司参观过，对我们印象很好。",
    },
    DemoAccount {
        name: "中国电力工程顾问集团东北电力设计院有限公司",
        short_name: Some("东北院"),
        uscc: None,
        phone: "0431-8579 1000",
        industry: "设计院",
        region: "220104",
        source: AccountSource::Referral,
        referrer: Some("东北局调度中心 刘主任"),
        class: Classification::B,
        key_account: false,
        stage: Some(RelationshipStage::Building),
        owner: "wang@guanxi.example",
        tags: &["设计院"],
        notes: "负责编写东北局技改与基建项目的标书，是重要的转介绍来源。",
    },
    DemoAccount {
        name: "国网吉林省电力有限公司",
        short_name: Some("吉林公司"),
        uscc: None,
        phone: "0431-8579 2000",
        industry: "电网",
        region: "220100",
        source: AccountSource::IndustryAssociation,
        referrer: None,
        class: Classification::A,
        key_account: true,
        stage: Some(RelationshipStage::Building),
        owner: "li@guanxi.example",
        tags: &["调度自动化"],
        notes: "",
    },
    DemoAccount {
        name: "辽宁鑫源电气设备有限公司",
        short_name: Some("鑫源电气"),
        uscc: Some("91210100MA0QCQ8X5G"),
        phone: "138 4005 2266",
        industry: "电力设备代理",
        region: "210100",
        source: AccountSource::ChannelPartner,
        referrer: None,
        class: Classification::B,
        key_account: false,
        stage: None,
        owner: "wang@guanxi.example",
        tags: &["渠道"],
        notes: "覆盖辽宁各地市供电公司的服务商。",
    },
    DemoAccount {
        name: "华北电力设计院有限公司",
        short_name: Some("华北院"),
        uscc: None,
        phone: "010-5138 8888",
        industry: "设计院",
        region: "110102",
        source: AccountSource::TradeShow,
        referrer: None,
        class: Classification::C,
        key_account: false,
        stage: None,
        owner: "sun@guanxi.example",
        tags: &["设计院"],
        notes: "",
    },
];

struct DemoContact {
    account: &'static str,
    name: &'static str,
    department: &'static str,
    title: &'static str,
    phone: &'static str,
    stance: Stance,
    strength: RelationshipStrength,
    role: Option<BuyingRole>,
    qualified: (bool, bool, bool),
    reports_to: Option<&'static str>,
    notes: &'static str,
}

const CONTACTS: &[DemoContact] = &[
    DemoContact {
        account: "国家电网有限公司东北分部",
        name: "刘建国",
        department: "调度中心",
        title: "主任",
        phone: "139 0400 1001",
        stance: Stance::Supporter,
        strength: RelationshipStrength::Close,
        role: Some(BuyingRole::DecisionMaker),
        qualified: (true, true, true),
        reports_to: None,
        notes: "多年的朋友（A 主任）。先拜访他，请他引荐 B 工和 C 工。",
    },
    DemoContact {
        account: "国家电网有限公司东北分部",
        name: "王志明",
        department: "调度中心",
        title: "高级工程师",
        phone: "139 0400 1002",
        stance: Stance::Neutral,
        strength: RelationshipStrength::Acquainted,
        role: Some(BuyingRole::TechnicalEvaluator),
        qualified: (false, false, true),
        reports_to: Some("刘建国"),
        notes: "B 工：负责技改项目。",
    },
    DemoContact {
        account: "国家电网有限公司东北分部",
        name: "陈立新",
        department: "调度中心",
        title: "工程师",
        phone: "139 0400 1003",
        stance: Stance::Opponent,
        strength: RelationshipStrength::Acquainted,
        role: Some(BuyingRole::TechnicalEvaluator),
        qualified: (false, false, true),
        reports_to: Some("刘建国"),
        notes: "C 工：负责基建项目，倾向竞争对手。",
    },
    DemoContact {
        account: "国家电网有限公司东北分部",
        name: "赵文博",
        department: "招标中心",
        title: "主任",
        phone: "024-2388 6100",
        stance: Stance::Neutral,
        strength: RelationshipStrength::Unknown,
        role: Some(BuyingRole::Procurement),
        qualified: (true, true, false),
        reports_to: None,
        notes: "组织招标。",
    },
    DemoContact {
        account: "国网辽宁省电力有限公司沈阳供电公司",
        name: "孙立军",
        department: "建设科",
        title: "科长",
        phone: "139 0400 2001",
        stance: Stance::Supporter,
        strength: RelationshipStrength::Trusted,
        role: Some(BuyingRole::Influencer),
        qualified: (false, true, true),
        reports_to: None,
        notes: "带家人参观过公司，孩子在读高中。",
    },
    DemoContact {
        account: "中国电力工程顾问集团东北电力设计院有限公司",
        name: "周海涛",
        department: "系统室",
        title: "设计总工",
        phone: "139 0431 3001",
        stance: Stance::Neutral,
        strength: RelationshipStrength::Familiar,
        role: Some(BuyingRole::Influencer),
        qualified: (false, false, true),
        reports_to: None,
        notes: "写标书的人，技术参数从他这里定。",
    },
];

/// Accounts in the pool (公海): (name, industry, region, phone, previous owner, why they let it go).
const POOLED: &[(&str, &str, &str, &str, &str, &str)] = &[
    (
        "鞍山钢铁集团有限公司",
        "冶金",
        "210300",
        "0412-6723 000",
        "wang@guanxi.example",
        "设备改造推迟到后年，先放回公海",
    ),
    ("锦州港股份有限公司", "港口", "210700", "0416-3586 000", "li@guanxi.example", "决策在大连总部，我这里够不着"),
    ("营口市自来水有限公司", "水务", "210800", "0417-2825 000", "zhang@guanxi.example", "预算只够做维护，暂无新项目"),
];

/// The pooled demo accounts: entered by their previous owner, then released with a reason.
async fn load_pool(
    db: &Db,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let ws = actor.workspace_id;
    for (name, industry, region, phone, owner, reason) in POOLED {
        if accounts::find_by_name(db, ws, name).await?.is_some() {
            continue;
        }
        let owner = demo_user(db, owner).await?;
        let fields = accounts::AccountFields {
            industry: Some((*industry).to_owned()),
            region_code: Some((*region).to_owned()),
            phones: vec![parsed(Phone::parse("phones", phone))?],
            owner_id: Some(owner.id),
            team_id: owner.team_id,
            classification: Some(Classification::B),
            ..accounts::AccountFields::new(name, AccountSource::ColdCall)
        };
        let mut tx = db.begin().await?;
        let a = accounts::create(&mut tx, actor, &fields, None, now).await?;
        guanxi_store::ownership::release(
            &mut tx,
            actor,
            owner.id,
            false,
            a.id,
            guanxi_domain::ReleaseReason::Manual,
            Some(reason),
            now,
        )
        .await?;
        tx.commit().await?;
        report.accounts_created += 1;
    }
    Ok(())
}

/// A demo user who must exist (loaded first).
async fn demo_user(db: &Db, email: &str) -> anyhow::Result<users::User> {
    users::find_by_email(db, &parsed(Email::parse("email", email))?)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo user {email} missing"))
}

async fn load_accounts(
    db: &Db,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    for a in ACCOUNTS {
        if accounts::find_by_name(db, ws, a.name).await?.is_some() {
            continue;
        }
        let owner = demo_user(db, a.owner).await?;
        let fields = accounts::AccountFields {
            name: a.name.to_owned(),
            short_name: a.short_name.map(str::to_owned),
            uscc: a.uscc.map(|u| parsed(Uscc::parse("uscc", u)).map(|u| u.as_str().to_owned())).transpose()?,
            industry: Some(a.industry.to_owned()),
            region_code: Some(a.region.to_owned()),
            address: None,
            website: None,
            source: a.source,
            referrer: a.referrer.map(str::to_owned),
            classification: Some(a.class),
            key_account: a.key_account,
            product_fit: a.key_account,
            centralised_purchasing: a.key_account,
            continuous_purchasing: a.key_account,
            relationship_stage: a.stage,
            owner_id: Some(owner.id),
            team_id: owner.team_id,
            notes: Some(a.notes.to_owned()).filter(|n| !n.is_empty()),
            phones: vec![parsed(Phone::parse("phones", a.phone))?],
            tags: a.tags.iter().map(|t| (*t).to_owned()).collect(),
        };
        accounts::create(&mut tx, actor, &fields, None, now).await?;
        report.accounts_created += 1;
    }
    tx.commit().await?;
    let mut tx = db.begin().await?;
    for c in CONTACTS {
        let account = accounts::find_by_name(db, ws, c.account)
            .await?
            .ok_or_else(|| anyhow::anyhow!("demo account {} missing", c.account))?;
        if contacts::find_by_name(db, account, c.name).await?.is_some() {
            continue;
        }
        let reports_to = match c.reports_to {
            // Bosses come first in CONTACTS, so they exist (in this transaction or before).
            Some(boss) => contacts::find_by_name_in(&mut tx, account, boss).await?,
            None => None,
        };
        let fields = contacts::ContactFields {
            account_id: account,
            name: c.name.to_owned(),
            department: Some(c.department.to_owned()),
            title: Some(c.title.to_owned()),
            phones: vec![parsed(Phone::parse("phones", c.phone))?],
            emails: Vec::new(),
            wechat: None,
            stance: Some(c.stance),
            relationship_strength: Some(c.strength),
            key_person: c.qualified.0 || c.qualified.1,
            has_money: c.qualified.0,
            has_authority: c.qualified.1,
            has_need: c.qualified.2,
            buying_role: c.role,
            reports_to_id: reports_to,
            birthday: None,
            notes: Some(c.notes.to_owned()),
            left_company: false,
            tags: Vec::new(),
        };
        contacts::create(&mut tx, actor, &fields, None, now).await?;
        report.contacts_created += 1;
    }
    tx.commit().await?;
    Ok(())
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
