//! Migrations: from empty, re-run, and the two dialects' schemas in step.

use crate::harness::{fresh_database, Backend};
use guanxi_store::{Db, PoolConfig, Sql};
use std::collections::BTreeSet;

async fn columns(db: &Db) -> BTreeSet<(String, String)> {
    let rows: Vec<(String, String)> = match db.dialect() {
        guanxi_store::Dialect::Sqlite => db
            .fetch_all(Sql::new(
                "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_migrations'",
            ))
            .await
            .unwrap(),
        guanxi_store::Dialect::Postgres => db
            .fetch_all(Sql::new(
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name <> '_migrations'",
            ))
            .await
            .unwrap(),
    };
    rows.into_iter().collect()
}

async fn open(backend: Backend) -> (Db, Option<tempfile::TempDir>, Option<String>) {
    let (target, dir, pg) = fresh_database(backend).await;
    (Db::connect(&target, &PoolConfig::default(), true).await.unwrap(), dir, pg)
}

#[tokio::test]
async fn migrations_run_from_empty_and_again_and_both_dialects_agree() {
    let (sqlite, _dir, _) = open(Backend::Sqlite).await;
    sqlite.migrate().await.unwrap();
    sqlite.migrate().await.expect("re-running migrations is a no-op");
    let (pg, _, pg_name) = open(Backend::Postgres).await;
    pg.migrate().await.expect("the template is already migrated; re-running is a no-op");
    let a = columns(&sqlite).await;
    let b = columns(&pg).await;
    assert!(a.len() > 40, "tables were created: {a:?}");
    let only_sqlite: Vec<_> = a.difference(&b).collect();
    let only_pg: Vec<_> = b.difference(&a).collect();
    assert!(
        only_sqlite.is_empty() && only_pg.is_empty(),
        "only in SQLite: {only_sqlite:?}; only in PostgreSQL: {only_pg:?}"
    );
    sqlite.close().await;
    pg.close().await;
    crate::harness::drop_database(&pg_name.unwrap()).await;
}

#[tokio::test]
async fn postgres_migrates_from_an_empty_database() {
    let admin_url = crate::harness::pg_admin_url();
    let admin =
        Db::connect(&guanxi_store::Target::Postgres(admin_url.clone()), &PoolConfig::default(), false).await.unwrap();
    let name = format!("gx_t_{}_empty", std::process::id());
    admin.execute(Sql::new(&format!("DROP DATABASE IF EXISTS {name}"))).await.unwrap();
    admin.execute(Sql::new(&format!("CREATE DATABASE {name}"))).await.unwrap();
    let url = format!("{}/{name}", &admin_url[..admin_url.rfind('/').unwrap()]);
    let db = Db::connect(&guanxi_store::Target::Postgres(url), &PoolConfig::default(), false).await.unwrap();
    db.migrate().await.unwrap();
    db.migrate().await.unwrap();
    let (n,): (i64,) = db.fetch_one(Sql::new("SELECT COUNT(*) FROM workspaces")).await.unwrap();
    assert_eq!(n, 0);
    db.close().await;
    admin.execute(Sql::new(&format!("DROP DATABASE {name} WITH (FORCE)"))).await.unwrap();
    admin.close().await;
}

#[tokio::test]
async fn a_migration_changed_after_it_ran_is_refused() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let (db, _dir, pg) = open(backend).await;
        db.migrate().await.unwrap();
        db.execute(Sql::new("UPDATE _migrations SET checksum = 'edited' WHERE version = 1")).await.unwrap();
        let err = db.migrate().await.expect_err("an edited migration must not pass").to_string();
        assert!(err.contains("migration 1 (foundation) was changed"), "{backend:?}: {err}");
        db.close().await;
        if let Some(name) = pg {
            crate::harness::drop_database(&name).await;
        }
    }
}
