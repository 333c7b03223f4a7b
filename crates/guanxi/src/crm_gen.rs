//! Realistic Chinese B2B accounts and their people at any scale, in the demo
//! workspace: for benchmarks and for demos that need volume. Deterministic
//! (record i is always the same), idempotent (tops up to the target), and
//! written through the same multi-row inserts as single records.

use crate::dirty::{uscc, Rng, CITIES, FORMS, INDUSTRIES, NAME_CHARS};
use guanxi_domain::{
    AccountId, AccountSource, BuyingRole, Classification, Clock, ContactId, Phone, RelationshipStage,
    RelationshipStrength, Stance, TeamId, UserId, WorkspaceId,
};
use guanxi_store::accounts::{self, AccountFields};
use guanxi_store::contacts::{self, ContactFields};
use guanxi_store::{search, Actor, Db, Sql};

/// Division codes of the generator's cities (GB/T 2260), in `CITIES` order.
const CITY_CODES: [&str; 24] = [
    "110000", "310000", "120000", "500000", "210100", "320100", "420100", "510100", "610100", "440100", "440300",
    "330100", "220100", "230100", "210200", "370100", "370200", "410100", "430100", "320500", "340100", "350100",
    "530100", "450100",
];
const SURNAMES: &str = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭";
const GIVEN: &str =
    "伟芳娜敏静强磊军洋勇艳杰涛明超秀英华志建国海燕晓东平刚桂兰玉红立新文博海峰宏宇鹏飞鑫浩然子涵思远振华德明";
const TITLES: [&str; 10] = ["主任", "副主任", "科长", "副科长", "总工", "高级工程师", "工程师", "处长", "经理", "专责"];
const DEPARTMENTS: [&str; 8] =
    ["调度中心", "生产技术部", "建设部", "物资部", "招标中心", "运检部", "信息中心", "财务部"];
const TAGS: [&str; 6] = ["电网", "集中采购", "设计院", "渠道", "技改", "基建"];
/// Accounts written per transaction: SQLite's single writer is not held for long.
const PER_TX: usize = 5000;

fn rng_for(kind: u64, i: u64) -> Rng {
    let mut r =
        Rng(0x9e37_79b9_7f4a_7c15 ^ kind.wrapping_mul(0xff51_afd7_ed55_8ccd) ^ i.wrapping_mul(0xc4ce_b9fe_1a85_ec53));
    r.next();
    r
}

/// The name, phone and USCC of generated account `i` (also used by `guanxi bench`).
pub fn account_name(i: u64) -> (String, String, Option<String>) {
    let mut r = rng_for(1, i);
    let chars: Vec<char> = NAME_CHARS.chars().collect();
    let city = r.below(CITIES.len());
    let (short, full, area, digits) = CITIES[city];
    let trade: String = (0..2 + usize::from(r.chance(50))).map(|_| *r.pick(&chars)).collect();
    let industry = *r.pick(&INDUSTRIES);
    let form = *r.pick(&FORMS);
    let name = match r.below(20) {
        0..=11 => format!("{full}{trade}{industry}{form}"),
        12..=15 => format!("{trade}{industry}（{short}）{form}"),
        16..=17 => format!("{trade}{industry}{form}{short}分公司"),
        _ => format!("{short}{trade}{industry}{form}"),
    };
    // Drawn again until libphonenumber knows the range (some local prefixes are not in service).
    let mut phone = String::new();
    for _ in 0..20 {
        let local = format!("{}{:07}", 2 + r.below(7), r.below(10_000_000));
        phone = format!("{area}-{}", &local[..digits]);
        if Phone::parse("phone", &phone).is_ok() {
            break;
        }
    }
    let uscc = r.chance(30).then(|| uscc(&mut r));
    (name, phone, uscc)
}

fn account(i: u64, owners: &[(UserId, Option<TeamId>)]) -> AccountFields {
    let (name, phone, uscc) = account_name(i);
    let mut r = rng_for(2, i);
    let city = CITIES.iter().position(|c| name.contains(c.0)).unwrap_or(0);
    // One in twenty is nobody's: the public pool.
    let (owner, team) = match owners.get(i as usize % owners.len().max(1)) {
        Some((u, t)) if !r.chance(5) => (Some(*u), *t),
        _ => (None, None),
    };
    let key = r.chance(10);
    AccountFields {
        short_name: r.chance(40).then(|| name.chars().skip(2).take(4).collect()),
        uscc,
        industry: Some(INDUSTRIES[r.below(INDUSTRIES.len())].to_owned()),
        region_code: Some(CITY_CODES[city].to_owned()).filter(|c| guanxi_domain::division_name(c).is_some()),
        address: None,
        website: None,
        source: *r.pick(AccountSource::ALL),
        referrer: None,
        classification: Some(*r.pick(Classification::ALL)),
        key_account: key,
        product_fit: key,
        centralised_purchasing: key,
        continuous_purchasing: key,
        relationship_stage: r.chance(60).then(|| *r.pick(RelationshipStage::ALL)),
        owner_id: owner,
        team_id: team,
        notes: None,
        phones: Phone::parse("phones", &phone).ok().into_iter().collect(),
        tags: if r.chance(30) { vec![TAGS[r.below(TAGS.len())].to_owned()] } else { Vec::new() },
        name,
    }
}

/// The name and mobile of generated contact `j`.
pub fn contact_name(j: u64) -> (String, String) {
    let mut r = rng_for(3, j);
    let surnames: Vec<char> = SURNAMES.chars().collect();
    let given: Vec<char> = GIVEN.chars().collect();
    let name: String =
        std::iter::once(*r.pick(&surnames)).chain((0..1 + r.below(2)).map(|_| *r.pick(&given))).collect();
    // Prefixes in service (libphonenumber refuses unallocated ones such as 194).
    const PREFIXES: [&str; 14] =
        ["133", "135", "136", "138", "139", "150", "152", "158", "177", "180", "186", "188", "189", "199"];
    let mobile = format!("{}{:08}", r.pick(&PREFIXES), r.below(100_000_000));
    (name, mobile)
}

fn contact(j: u64, account_id: AccountId) -> ContactFields {
    let (name, mobile) = contact_name(j);
    let mut r = rng_for(4, j);
    let key = r.chance(20);
    ContactFields {
        account_id,
        name,
        department: Some(DEPARTMENTS[r.below(DEPARTMENTS.len())].to_owned()),
        title: Some(TITLES[r.below(TITLES.len())].to_owned()),
        phones: Phone::parse("phones", &mobile).ok().into_iter().collect(),
        emails: Vec::new(),
        wechat: None,
        stance: r.chance(80).then(|| *r.pick(Stance::ALL)),
        relationship_strength: Some(*r.pick(RelationshipStrength::ALL)),
        key_person: key,
        has_money: key && r.chance(50),
        has_authority: key,
        has_need: r.chance(60),
        buying_role: r.chance(70).then(|| *r.pick(BuyingRole::ALL)),
        reports_to_id: None,
        birthday: None,
        notes: None,
        left_company: r.chance(3),
        tags: Vec::new(),
    }
}

/// The demo workspace (loaded if missing).
pub async fn demo_workspace(db: &Db, clock: &dyn Clock) -> anyhow::Result<WorkspaceId> {
    crate::demo::load(db, clock).await?;
    let name = guanxi_domain::WorkspaceName::parse("workspace", crate::demo::WORKSPACE)?;
    Ok(guanxi_store::workspaces::find_by_name(db, name.as_str())
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo workspace missing"))?
        .id)
}

/// The demo workspace's sales users and their teams, who will own generated accounts.
pub async fn sales_users(db: &Db, ws: WorkspaceId) -> anyhow::Result<Vec<(UserId, Option<TeamId>)>> {
    Ok(db
        .fetch_all(
            Sql::new("SELECT id, team_id FROM users WHERE workspace_id = $1 AND role = 'sales' AND disabled_at IS NULL ORDER BY id")
                .arg(ws),
        )
        .await?)
}

/// Tops the demo workspace up to `accounts` accounts and about `contacts`
/// contacts spread over the new ones; prints progress; returns the counts now.
pub async fn generate(db: &Db, clock: &dyn Clock, accounts: u64, contacts: u64) -> anyhow::Result<(u64, u64)> {
    let ws = demo_workspace(db, clock).await?;
    let owners = sales_users(db, ws).await?;
    let (have,): (i64,) =
        db.fetch_one(Sql::new("SELECT COUNT(*) FROM accounts WHERE workspace_id = $1").arg(ws)).await?;
    let have = have as u64;
    let started = std::time::Instant::now();
    let now = clock.now();
    let (mut made_a, mut made_c) = (0u64, 0u64);
    let pool = guanxi_store::pool::default_of(guanxi_store::Conn::Db(db), ws).await?;
    let mut i = have;
    // Terms merged in term order at the end (see `search::Indexer`).
    // (Should `gen` stop before the merge, what it wrote is not found by search: generate again.)
    let mut terms = search::Indexer::spool(ws, now);
    while i < accounts {
        let end = (i + PER_TX as u64).min(accounts);
        let rows: Vec<(AccountId, AccountFields)> = (i..end).map(|k| (AccountId::new(), account(k, &owners))).collect();
        let mut people = Vec::new();
        for (k, (id, _)) in (i..end).zip(&rows) {
            // Contacts spread evenly: account k gets the ones numbered from k*C/A up to (k+1)*C/A.
            let (from, to) = (k * contacts / accounts.max(1), (k + 1) * contacts / accounts.max(1));
            people.extend((from..to).map(|j| (ContactId::new(), contact(j, *id))));
        }
        let mut tx = db.begin().await?;
        accounts::insert_many(&mut tx, ws, &pool, &rows, &mut terms, now).await?;
        contacts::insert_many(&mut tx, ws, &people, &mut terms, now).await?;
        tx.commit().await?;
        made_a += rows.len() as u64;
        made_c += people.len() as u64;
        i = end;
        if made_a % 100_000 < PER_TX as u64 {
            eprintln!("  {i} accounts, {made_c} new contacts, {:.0} s", started.elapsed().as_secs_f64());
        }
    }
    if made_a > 0 {
        let merging = std::time::Instant::now();
        let merged = terms.merge(db).await?;
        eprintln!("  {merged} search terms merged in {:.0} s", merging.elapsed().as_secs_f64());
        // One audit entry for the run: generated records are not anyone's changes.
        let mut tx = db.begin().await?;
        let changes =
            serde_json::json!({"generated": {"before": null, "after": {"accounts": made_a, "contacts": made_c}}});
        guanxi_store::audit::record(
            &mut tx,
            &Actor::system(ws, "gen"),
            guanxi_store::audit::Action::Update,
            "workspace",
            ws.uuid(),
            changes,
            now,
        )
        .await?;
        tx.commit().await?;
        // Fresh statistics, as after any bulk load: the planner needs them to pick the indexes.
        // PostgreSQL also needs its visibility map set, or every index-only scan (the search
        // index's posting counts) visits the table: 查重 p99 went from 237 ms to 14 ms.
        let after_load = match db.dialect() {
            guanxi_store::Dialect::Sqlite => "ANALYZE",
            guanxi_store::Dialect::Postgres => "VACUUM ANALYZE",
        };
        db.execute(Sql::new(after_load)).await?;
    }
    let (a,): (i64,) = db.fetch_one(Sql::new("SELECT COUNT(*) FROM accounts WHERE workspace_id = $1").arg(ws)).await?;
    let (c,): (i64,) = db.fetch_one(Sql::new("SELECT COUNT(*) FROM contacts WHERE workspace_id = $1").arg(ws)).await?;
    Ok((a as u64, c as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_records_are_valid_and_stable() {
        for i in 0..2000 {
            let a = account(i, &[]);
            assert!(guanxi_domain::AccountName::parse("name", &a.name).is_ok(), "{}", a.name);
            assert_eq!(a.phones.len(), 1, "{}", account_name(i).1);
            if let Some(u) = &a.uscc {
                assert!(guanxi_domain::Uscc::parse("uscc", u).is_ok(), "{u}");
            }
            let c = contact(i, AccountId::new());
            assert!(guanxi_domain::PersonName::parse("name", &c.name).is_ok());
            assert_eq!(c.phones.len(), 1, "{}", contact_name(i).1);
        }
        assert_eq!(account_name(7), account_name(7), "deterministic");
        assert!(CITY_CODES.iter().all(|c| guanxi_domain::division_name(c).is_some()), "real division codes");
    }
}
