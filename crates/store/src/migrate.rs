//! Migrations: one list, each with its SQL for both dialects, applied in order
//! inside one transaction, recorded with a checksum so that a migration edited
//! after it was applied is refused instead of silently diverging.

use crate::db::{Db, Dialect, Sql};
use crate::{Error, Result};
use sha2::{Digest, Sha256};

/// One step of the schema.
pub struct Migration {
    /// Order; never reused.
    pub version: i64,
    /// What it does.
    pub name: &'static str,
    /// The SQLite script.
    pub sqlite: &'static str,
    /// The PostgreSQL script.
    pub postgres: &'static str,
}

/// Every migration, oldest first. Add new ones at the end, with both scripts.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sqlite: include_str!("../migrations/sqlite/0001_foundation.sql"),
        postgres: include_str!("../migrations/postgres/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "accounts",
        sqlite: include_str!("../migrations/sqlite/0002_accounts.sql"),
        postgres: include_str!("../migrations/postgres/0002_accounts.sql"),
    },
    Migration {
        version: 3,
        name: "contacts_search",
        sqlite: include_str!("../migrations/sqlite/0003_contacts_search.sql"),
        postgres: include_str!("../migrations/postgres/0003_contacts_search.sql"),
    },
    Migration {
        version: 4,
        name: "saved_views",
        sqlite: include_str!("../migrations/sqlite/0004_saved_views.sql"),
        postgres: include_str!("../migrations/postgres/0004_saved_views.sql"),
    },
    Migration {
        version: 5,
        name: "pools",
        sqlite: include_str!("../migrations/sqlite/0005_pools.sql"),
        postgres: include_str!("../migrations/postgres/0005_pools.sql"),
    },
    Migration {
        version: 6,
        name: "ownership_requests",
        sqlite: include_str!("../migrations/sqlite/0006_ownership_requests.sql"),
        postgres: include_str!("../migrations/postgres/0006_ownership_requests.sql"),
    },
    Migration {
        version: 7,
        name: "activities",
        sqlite: include_str!("../migrations/sqlite/0007_activities.sql"),
        postgres: include_str!("../migrations/postgres/0007_activities.sql"),
    },
    Migration {
        version: 8,
        name: "calendar_feeds",
        sqlite: include_str!("../migrations/sqlite/0008_calendar_feeds.sql"),
        postgres: include_str!("../migrations/postgres/0008_calendar_feeds.sql"),
    },
    Migration {
        version: 9,
        name: "task_recurrence",
        sqlite: include_str!("../migrations/sqlite/0009_task_recurrence.sql"),
        postgres: include_str!("../migrations/postgres/0009_task_recurrence.sql"),
    },
    Migration {
        version: 10,
        name: "scripts",
        sqlite: include_str!("../migrations/sqlite/0010_scripts.sql"),
        postgres: include_str!("../migrations/postgres/0010_scripts.sql"),
    },
    Migration {
        version: 11,
        name: "activity_feed",
        sqlite: include_str!("../migrations/sqlite/0011_activity_feed.sql"),
        postgres: include_str!("../migrations/postgres/0011_activity_feed.sql"),
    },
    Migration {
        version: 12,
        name: "notify",
        sqlite: include_str!("../migrations/sqlite/0012_notify.sql"),
        postgres: include_str!("../migrations/postgres/0012_notify.sql"),
    },
    Migration {
        version: 13,
        name: "greetings",
        sqlite: include_str!("../migrations/sqlite/0013_greetings.sql"),
        postgres: include_str!("../migrations/postgres/0013_greetings.sql"),
    },
    Migration {
        version: 14,
        name: "purchases",
        sqlite: include_str!("../migrations/sqlite/0014_purchases.sql"),
        postgres: include_str!("../migrations/postgres/0014_purchases.sql"),
    },
    Migration {
        version: 15,
        name: "tasks_source",
        sqlite: include_str!("../migrations/sqlite/0015_tasks_source.sql"),
        postgres: include_str!("../migrations/postgres/0015_tasks_source.sql"),
    },
    Migration {
        version: 16,
        name: "imports",
        sqlite: include_str!("../migrations/sqlite/0016_imports.sql"),
        postgres: include_str!("../migrations/postgres/0016_imports.sql"),
    },
    Migration {
        version: 17,
        name: "import_files",
        sqlite: include_str!("../migrations/sqlite/0017_import_files.sql"),
        postgres: include_str!("../migrations/postgres/0017_import_files.sql"),
    },
    Migration {
        version: 18,
        name: "search_pending",
        sqlite: include_str!("../migrations/sqlite/0018_search_pending.sql"),
        postgres: include_str!("../migrations/postgres/0018_search_pending.sql"),
    },
    Migration {
        version: 19,
        name: "activities_deleted",
        sqlite: include_str!("../migrations/sqlite/0019_activities_deleted.sql"),
        postgres: include_str!("../migrations/postgres/0019_activities_deleted.sql"),
    },
    Migration {
        version: 20,
        name: "search_spool",
        sqlite: include_str!("../migrations/sqlite/0020_search_spool.sql"),
        postgres: include_str!("../migrations/postgres/0020_search_spool.sql"),
    },
    Migration {
        version: 21,
        name: "opportunities",
        sqlite: include_str!("../migrations/sqlite/0021_opportunities.sql"),
        postgres: include_str!("../migrations/postgres/0021_opportunities.sql"),
    },
    Migration {
        version: 22,
        name: "search_workspace_number",
        sqlite: include_str!("../migrations/sqlite/0022_search_workspace_number.sql"),
        postgres: include_str!("../migrations/postgres/0022_search_workspace_number.sql"),
    },
    Migration {
        version: 23,
        name: "account_keys_by_number",
        sqlite: include_str!("../migrations/sqlite/0023_account_keys_by_number.sql"),
        postgres: include_str!("../migrations/postgres/0023_account_keys_by_number.sql"),
    },
    Migration {
        version: 24,
        name: "name_order_terms",
        sqlite: include_str!("../migrations/sqlite/0024_name_order_terms.sql"),
        postgres: include_str!("../migrations/postgres/0024_name_order_terms.sql"),
    },
    Migration {
        version: 25,
        name: "user_email_per_workspace",
        sqlite: include_str!("../migrations/sqlite/0025_user_email_per_workspace.sql"),
        postgres: include_str!("../migrations/postgres/0025_user_email_per_workspace.sql"),
    },
    Migration {
        version: 26,
        name: "one_live_account_per_uscc",
        sqlite: include_str!("../migrations/sqlite/0026_one_live_account_per_uscc.sql"),
        postgres: include_str!("../migrations/postgres/0026_one_live_account_per_uscc.sql"),
    },
];

/// The migration that created `search_terms`.
const SEARCH_INDEX_VERSION: i64 = 3;

/// The migration that created pools.
const POOLS_VERSION: i64 = 5;

/// The migration that created the script library.
const SCRIPTS_VERSION: i64 = 10;

fn checksum(script: &str) -> String {
    Sha256::digest(script.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Applies what is missing. Concurrent runs (several instances starting at
/// once) are serialised: by an advisory lock on PostgreSQL, by the single
/// writer and `BEGIN IMMEDIATE` on SQLite.
pub async fn run(db: &Db) -> Result<()> {
    let mut tx = db.begin().await?;
    let (time_type, lock) = match db.dialect() {
        Dialect::Sqlite => ("TEXT", None),
        Dialect::Postgres => ("TIMESTAMPTZ", Some("SELECT pg_advisory_xact_lock(7412010101)")),
    };
    if let Some(lock) = lock {
        tx.execute(Sql::new(lock)).await?;
    }
    tx.execute_script(&format!(
        "CREATE TABLE IF NOT EXISTS _migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at {time_type} NOT NULL)"
    ))
    .await?;
    let applied: Vec<(i64, String)> =
        tx.fetch_all(Sql::new("SELECT version, checksum FROM _migrations ORDER BY version")).await?;
    let mut changed = false;
    let mut reindex = false;
    for m in MIGRATIONS {
        let script = match db.dialect() {
            Dialect::Sqlite => m.sqlite,
            Dialect::Postgres => m.postgres,
        };
        let sum = checksum(script);
        match applied.iter().find(|(v, _)| *v == m.version) {
            Some((_, old)) if *old == sum => continue,
            Some(_) => {
                return Err(Error::Config(format!(
                    "migration {} ({}) was changed after it was applied; add a new migration instead",
                    m.version, m.name
                )))
            }
            None => {}
        }
        tx.execute_script(script).await?;
        changed = true;
        // Records written before the search index existed are indexed once
        // the index has its newest form.
        reindex |= m.version == SEARCH_INDEX_VERSION;
        if m.version == POOLS_VERSION {
            // Every workspace gets its default pool; accounts owned before
            // start their idle clocks now, so no one loses an account the
            // moment the rules appear.
            crate::pool::backfill(&mut tx, guanxi_domain::Clock::now(&guanxi_domain::SystemClock)).await?;
        }
        if m.version == SCRIPTS_VERSION {
            // Existing workspaces get the starter set too.
            let all: Vec<(guanxi_domain::WorkspaceId,)> = tx.fetch_all(Sql::new("SELECT id FROM workspaces")).await?;
            for (ws,) in all {
                crate::scripts::seed(&mut tx, ws, guanxi_domain::Clock::now(&guanxi_domain::SystemClock)).await?;
            }
        }
        tx.execute(
            Sql::new("INSERT INTO _migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)")
                .arg(m.version)
                .arg(m.name)
                .arg(sum)
                .arg(guanxi_domain::Clock::now(&guanxi_domain::SystemClock)),
        )
        .await?;
    }
    if reindex {
        crate::search::reindex(&mut tx).await?;
    }
    if let Some(newest) = applied.iter().map(|(v, _)| *v).max() {
        let known = MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0);
        if newest > known {
            return Err(Error::Config(format!(
                "the database has migration {newest}, newer than this guanxi knows ({known}); upgrade guanxi"
            )));
        }
    }
    tx.commit().await?;
    // New indexes without statistics mislead the planner (measured: a new
    // (workspace_id, name) index turned a 0.6 ms list page into a full scan at
    // a million accounts). Refresh them once after any schema change, on an
    // existing database; on an empty one this is instant.
    if changed && !applied.is_empty() {
        db.execute(Sql::new("ANALYZE")).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{PoolConfig, Tx};

    /// A SQLite database with the migrations before `version`, in a
    /// transaction left open for the test's rows of that time.
    async fn migrated_before(version: i64) -> (tempfile::TempDir, Db, Tx) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_sqlite(&dir.path().join("t.db"), &PoolConfig::default()).await.unwrap();
        let mut tx = db.begin().await.unwrap();
        tx.execute_script(
            "CREATE TABLE _migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )
        .await
        .unwrap();
        for m in MIGRATIONS.iter().filter(|m| m.version < version) {
            tx.execute_script(m.sqlite).await.unwrap();
            let q = Sql::new("INSERT INTO _migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)");
            tx.execute(
                q.arg(m.version)
                    .arg(m.name)
                    .arg(checksum(m.sqlite))
                    .arg(guanxi_domain::Clock::now(&guanxi_domain::SystemClock)),
            )
            .await
            .unwrap();
        }
        (dir, db, tx)
    }

    /// Accounts that shared a USCC before migration 26 stay (the newer marked
    /// to be merged); from then on another live account with it is refused.
    #[tokio::test]
    async fn accounts_sharing_a_uscc_survive_migration_26() {
        let (_dir, db, mut tx) = migrated_before(26).await;
        let now = guanxi_domain::Clock::now(&guanxi_domain::SystemClock);
        let ws = uuid::Uuid::now_v7();
        let q = Sql::new("INSERT INTO workspaces (id, name, created_at, updated_at) VALUES ($1, 'w', $2, $2)");
        tx.execute(q.arg(ws).arg(now)).await.unwrap();
        let insert = |name: &str| {
            Sql::new(
                "INSERT INTO accounts (id, workspace_id, name, source, uscc, name_key, name_pinyin, created_at, updated_at) \
                 VALUES ($1, $2, $3, 'other', '91110108551385082Q', $3, $3, $4, $4)",
            )
            .arg(uuid::Uuid::now_v7())
            .arg(ws)
            .arg(name)
            .arg(now)
        };
        for name in ["甲", "乙"] {
            tx.execute(insert(name)).await.unwrap();
        }
        tx.commit().await.unwrap();
        run(&db).await.unwrap();
        let (shared,): (i64,) =
            db.fetch_one(Sql::new("SELECT COUNT(*) FROM accounts WHERE uscc_shared = 1")).await.unwrap();
        assert_eq!(shared, 1, "both kept: the older holds the USCC, the other is marked to be merged");
        let mut tx = db.begin().await.unwrap();
        let refused = tx.execute(insert("丙")).await.unwrap_err();
        assert!(crate::accounts::is_uscc_taken(&refused.to_string()), "{refused}");
    }

    /// A database indexed before search terms were keyed by the workspace's
    /// number keeps every term, each under its workspace's new number, and
    /// the next workspace gets the next number.
    #[tokio::test]
    async fn search_terms_keep_their_workspace_through_migration_22() {
        let (_dir, db, mut tx) = migrated_before(22).await;
        let (a, b) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let (x, y) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        for ws in [a, b] {
            let q = Sql::new("INSERT INTO workspaces (id, name, created_at, updated_at) VALUES ($1, 'w', $2, $2)");
            tx.execute(q.arg(ws).arg(guanxi_domain::Clock::now(&guanxi_domain::SystemClock))).await.unwrap();
        }
        for (ws, term, id) in [(a, "b华为", x), (a, "phw", x), (b, "b华为", y)] {
            let q = Sql::new("INSERT INTO search_terms (workspace_id, term, entity_id) VALUES ($1, $2, $3)");
            tx.execute(q.arg(ws).arg(term).arg(id)).await.unwrap();
        }
        tx.commit().await.unwrap();

        run(&db).await.unwrap();
        let stored: Vec<(uuid::Uuid, i64, String, uuid::Uuid)> = db
            .fetch_all(Sql::new(
                "SELECT w.id, w.number, s.term, s.entity_id FROM search_terms s \
                 JOIN workspaces w ON w.number = s.workspace_number ORDER BY w.number, s.term",
            ))
            .await
            .unwrap();
        let expected: Vec<(uuid::Uuid, i64, String, uuid::Uuid)> =
            vec![(a, 1, "b华为".into(), x), (a, 1, "phw".into(), x), (b, 2, "b华为".into(), y)];
        assert_eq!(stored, expected);
        let mut tx = db.begin().await.unwrap();
        let name = guanxi_domain::WorkspaceName::parse("name", "第三家").unwrap();
        let third = crate::workspaces::create(&mut tx, &name, guanxi_domain::Clock::now(&guanxi_domain::SystemClock))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let (n,): (i64,) =
            db.fetch_one(Sql::new("SELECT number FROM workspaces WHERE id = $1").arg(third.id)).await.unwrap();
        assert_eq!(n, 3);
    }

    /// Workspaces numbered 1 and 2 (as migration 22 numbers them).
    async fn two_numbered_workspaces(tx: &mut Tx, now: chrono::DateTime<chrono::Utc>) -> (uuid::Uuid, uuid::Uuid) {
        let (a, b) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        for (ws, number) in [(a, 1), (b, 2)] {
            let q = Sql::new(
                "INSERT INTO workspaces (id, name, created_at, updated_at, number) VALUES ($1, 'w', $2, $2, $3)",
            );
            tx.execute(q.arg(ws).arg(now).arg(number)).await.unwrap();
        }
        (a, b)
    }

    /// Accounts written before 查重's indexes were keyed by the workspace's
    /// number are found by name, pinyin, USCC and phone afterwards, each in
    /// its own workspace only, with the phones that matched.
    #[tokio::test]
    async fn accounts_are_found_in_their_workspace_after_migration_23() {
        let (_dir, db, mut tx) = migrated_before(23).await;
        let now = guanxi_domain::Clock::now(&guanxi_domain::SystemClock);
        let (a, b) = two_numbered_workspaces(&mut tx, now).await;
        let name = "华为技术有限公司";
        let key = guanxi_domain::dedupe::company_key(name);
        let uscc = "91440300192203821J";
        let mut ids = Vec::new();
        for ws in [a, b] {
            let id = uuid::Uuid::now_v7();
            let q = Sql::new(
                "INSERT INTO accounts (id, workspace_id, name, uscc, source, name_key, name_region, name_branch, name_pinyin, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'other', $5, $6, $7, $8, $9, $9)",
            );
            let q = q.arg(id).arg(ws).arg(name).arg(uscc).arg(key.core.as_str()).arg(key.region);
            tx.execute(q.arg(key.branch.clone()).arg(key.pinyin.as_str()).arg(now)).await.unwrap();
            let q = Sql::new(
                "INSERT INTO account_phones (account_id, workspace_id, position, number, display) VALUES ($1, $2, 0, '+8675528780808', '0755-2878 0808')",
            );
            tx.execute(q.arg(id).arg(ws)).await.unwrap();
            ids.push(id);
        }
        tx.commit().await.unwrap();

        run(&db).await.unwrap();
        let ws = guanxi_domain::WorkspaceId::from_uuid(b);
        let (core, pinyin, phone) = (key.core.as_str(), key.pinyin.as_str(), "+8675528780808");
        for (what, keys, pinyins, usccs, phones) in [
            ("name key", &[core][..], &[][..], &[][..], &[][..]),
            ("pinyin", &[], &[pinyin], &[], &[]),
            ("USCC", &[], &[], &[uscc], &[]),
            ("phone", &[], &[], &[], &[phone]),
        ] {
            let mut conn = crate::db::Conn::Db(&db);
            let found = crate::accounts::existing_matching(&mut conn, ws, keys, pinyins, usccs, phones).await.unwrap();
            let found: Vec<(uuid::Uuid, Vec<String>)> = found.into_iter().map(|e| (e.id.uuid(), e.phones)).collect();
            let matched: Vec<String> = phones.iter().map(|p| p.to_string()).collect();
            assert_eq!(found, vec![(ids[1], matched)], "found by {what}, in workspace b only");
        }
    }

    /// Accounts saved before the list by name walked search terms are listed
    /// by name afterwards, each in its own workspace: live ones in the list,
    /// removed ones in the recycle bin; an account merged away in neither.
    #[tokio::test]
    async fn accounts_are_listed_by_name_after_migration_24() {
        use crate::accounts::{list, AccountFilter, AccountSort};
        let (_dir, db, mut tx) = migrated_before(24).await;
        let now = guanxi_domain::Clock::now(&guanxi_domain::SystemClock);
        let (a, b) = two_numbered_workspaces(&mut tx, now).await;
        let kept = uuid::Uuid::now_v7();
        // (workspace, its number, name, removed, merged into)
        let rows = [
            (b, 2, "华为技术有限公司", false, None),
            (b, 2, "ABB（中国）有限公司", false, None),
            (b, 2, "阿里巴巴（中国）有限公司", true, None),
            (b, 2, "ABB中国", true, Some(kept)),
            (a, 1, "中国电力建设集团有限公司", false, None),
        ];
        for (i, (ws, number, name, removed, merged)) in rows.into_iter().enumerate() {
            let id = if i == 1 { kept } else { uuid::Uuid::now_v7() };
            let key = guanxi_domain::dedupe::company_key(name);
            let q = Sql::new(
                "INSERT INTO accounts (id, workspace_id, workspace_number, name, source, name_key, name_pinyin, \
                 created_at, updated_at, deleted_at, merged_into_id) VALUES ($1, $2, $3, $4, 'other', $5, $6, $7, $7, $8, $9)",
            );
            let q = q.arg(id).arg(ws).arg(number as i64).arg(name).arg(key.core.as_str()).arg(key.pinyin.as_str());
            tx.execute(q.arg(now).arg(removed.then_some(now)).arg(merged)).await.unwrap();
        }
        tx.commit().await.unwrap();

        run(&db).await.unwrap();
        let viewer = crate::scope::Viewer::whole(guanxi_domain::WorkspaceId::from_uuid(b));
        let names = |deleted| {
            let f = AccountFilter { sort: AccountSort::Name, deleted, ..Default::default() };
            let db = &db;
            async move {
                let found = list(db, viewer, &f, 10).await.unwrap();
                found.into_iter().map(|a| a.name).collect::<Vec<_>>()
            }
        };
        assert_eq!(
            names(false).await,
            ["ABB（中国）有限公司", "华为技术有限公司"],
            "live, in name order, workspace b only"
        );
        assert_eq!(names(true).await, ["阿里巴巴（中国）有限公司"], "the recycle bin, without the merged-away account");
    }
}
