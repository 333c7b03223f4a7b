//! `guanxi bench`: the speed of what users wait for, on the generated data of
//! `guanxi gen`, measured through the store functions the handlers call
//! (HTTP adds its own, separately measured, cost). Prints p50 / p99 / max.

use crate::crm_gen::{account_name, contact_name, demo_workspace, sales_users};
use crate::dirty::Rng;
use guanxi_domain::{AccountId, Classification, Clock, Scope, TeamId, UserId};
use guanxi_store::accounts::{self, AccountFilter, AccountSort};
use guanxi_store::{search, Db, Sql, Viewer};
use std::time::Instant;

/// One measured figure.
pub struct Figure {
    /// What was measured.
    pub what: String,
    /// Samples.
    pub n: usize,
    /// Median, ms.
    pub p50: f64,
    /// 99th percentile, ms.
    pub p99: f64,
    /// Slowest, ms.
    pub max: f64,
}

/// The figure of some timings.
pub fn figure(what: &str, mut ms: Vec<f64>) -> Figure {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 * q).ceil() as usize).saturating_sub(1).min(ms.len() - 1)];
    Figure { what: what.to_owned(), n: ms.len(), p50: at(0.5), p99: at(0.99), max: ms[ms.len() - 1] }
}

/// A one-character slip in the distinctive part of a name (华远 → 化远).
fn typo(name: &str, r: &mut Rng) -> String {
    let typos: Vec<char> = crate::dirty::TYPO_CHARS.chars().collect();
    let core = guanxi_domain::dedupe::company_key(name).core;
    let first = core.chars().next().unwrap_or('华');
    name.replacen(first, &r.pick(&typos).to_string(), 1)
}

/// Makes a search query from the generator's records.
type QueryMaker = Box<dyn Fn(&mut Rng) -> String>;

/// Runs every benchmark with `samples` samples each.
pub async fn run(db: &Db, clock: &dyn Clock, samples: usize) -> anyhow::Result<(String, Vec<Figure>)> {
    let ws = demo_workspace(db, clock).await?;
    let (a,): (i64,) = db.fetch_one(Sql::new("SELECT COUNT(*) FROM accounts WHERE workspace_id = $1").arg(ws)).await?;
    let (c,): (i64,) = db.fetch_one(Sql::new("SELECT COUNT(*) FROM contacts WHERE workspace_id = $1").arg(ws)).await?;
    anyhow::ensure!(a > 1000, "generate data first: guanxi gen --users 200 --accounts 1000000 --contacts 2000000");
    let owners = sales_users(db, ws).await?;
    let sales = owners.first().ok_or_else(|| anyhow::anyhow!("no sales users: guanxi gen --users 200"))?.0;
    let (mine,): (i64,) =
        db.fetch_one(Sql::new("SELECT COUNT(*) FROM accounts WHERE owner_id = $1").arg(sales)).await?;
    let admin = Viewer::whole(ws);
    let seller = Viewer { workspace_id: ws, scope: Scope::Own(sales) };
    let (a, c) = (a as u64, c as u64);
    let mut r = Rng(0x5eed_1234_abcd_ef01);
    let mut out = Vec::new();

    // 查重 of a name being entered: half unseen names, half existing ones with a slip.
    let mut ms = Vec::with_capacity(samples);
    for s in 0..samples {
        let name = if s % 2 == 0 {
            account_name(a + s as u64).0
        } else {
            typo(&account_name(r.below(a as usize) as u64).0, &mut r)
        };
        let t = Instant::now();
        let found = accounts::duplicates(db, ws, &name, None, &[], None).await?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(found);
    }
    out.push(figure("查重 of one new name (duplicates)", ms));

    // Search: pieces of names, pinyin initials, last phone digits, people's names.
    let queries: Vec<(&str, QueryMaker)> = vec![
        (
            "2-character piece",
            Box::new(move |r: &mut Rng| {
                let core = guanxi_domain::dedupe::company_key(&account_name(r.below(a as usize) as u64).0).core;
                core.chars().take(2).collect()
            }),
        ),
        (
            "pinyin initials",
            Box::new(move |r: &mut Rng| {
                let core = guanxi_domain::dedupe::company_key(&account_name(r.below(a as usize) as u64).0).core;
                guanxi_domain::search::pinyin(&core).1.chars().take(4).collect()
            }),
        ),
        (
            "last 4 phone digits",
            Box::new(move |r: &mut Rng| {
                account_name(r.below(a as usize) as u64).1[..]
                    .chars()
                    .rev()
                    .take(4)
                    .collect::<String>()
                    .chars()
                    .rev()
                    .collect()
            }),
        ),
        ("contact name", Box::new(move |r: &mut Rng| contact_name(r.below(c.max(1) as usize) as u64).0)),
    ];
    for (label, make) in &queries {
        for (who, viewer) in [("admin", admin), ("sales", seller)] {
            let mut ms = Vec::with_capacity(samples);
            for _ in 0..samples {
                let q = make(&mut r);
                let t = Instant::now();
                let hits = search::search(db, viewer, &q, 20).await?;
                ms.push(t.elapsed().as_secs_f64() * 1000.0);
                std::hint::black_box(hits);
            }
            out.push(figure(&format!("search, {label}, {who}"), ms));
        }
    }

    // The account list page: 50 rows with a filter, within a salesperson's scope and an admin's.
    for (who, viewer) in [("sales", seller), ("admin", admin)] {
        let mut ms = Vec::with_capacity(samples);
        for s in 0..samples {
            let filter = AccountFilter { classification: Some(Classification::ALL[s % 3]), ..Default::default() };
            let t = Instant::now();
            let rows = accounts::list(db, viewer, &filter, 51).await?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(rows);
        }
        out.push(figure(&format!("account list, 50 rows, class filter, {who}"), ms));
    }
    // The list by name: the first page, then pages after a random name (as
    // the next page of a deep list); for a manager, of the smallest team that
    // has accounts, whose page fills last as the workspace's order is walked.
    let (team, in_team): (TeamId, i64) = db
        .fetch_one(
            Sql::new(
                "SELECT team_id, COUNT(*) FROM accounts WHERE workspace_id = $1 AND team_id IS NOT NULL \
                 GROUP BY team_id ORDER BY 2, 1 LIMIT 1",
            )
            .arg(ws),
        )
        .await?;
    // A member of the team, whose own accounts are the team's (the sales user's are not).
    let member: Option<(UserId,)> =
        db.fetch_optional(Sql::new("SELECT id FROM users WHERE team_id = $1 ORDER BY id LIMIT 1").arg(team)).await?;
    let manager = Viewer { workspace_id: ws, scope: Scope::Team(member.map_or(sales, |m| m.0), team) };
    let small_team = format!("manager of a team with {in_team}");
    for (who, viewer) in [("sales", seller), (small_team.as_str(), manager), ("admin", admin)] {
        let mut ms = Vec::with_capacity(samples);
        for s in 0..samples {
            let mut filter = AccountFilter { sort: AccountSort::Name, ..Default::default() };
            if s % 2 == 1 {
                filter.after_key = Some(account_name(r.below(a as usize) as u64).0);
                filter.after = Some(AccountId::from_uuid(uuid::Uuid::nil()));
            }
            let t = Instant::now();
            let rows = accounts::list(db, viewer, &filter, 51).await?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(rows);
        }
        out.push(figure(&format!("account list by name, 50 rows, first page or after a random name, {who}"), ms));
    }
    let data = format!("{a} accounts, {c} contacts, {} sales users (the sales user owns {mine})", owners.len());
    Ok((data, out))
}
