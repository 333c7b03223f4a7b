//! Import: files as people have them (GBK from Excel, a title row, UTF-16,
//! XLSX with formulas), 查重 against the file and the database, a dry run
//! that writes nothing, bad rows located by line and row, all-or-nothing,
//! a second run that changes nothing, and contacts linked to their accounts.

use crate::harness::TestApp;
use guanxi_exchange::fields::Kind;
use guanxi_exchange::import::report::{Report, Severity};
use guanxi_exchange::import::{self, ImportError, OnError, Options, Who};
use guanxi_exchange::sheet::{Format, Sheet};
use guanxi_store::Sql;
use std::path::{Path, PathBuf};

async fn run(app: &TestApp, path: &Path, opts: &Options) -> (Result<Report, ImportError>, PathBuf) {
    run_as(app, &Who::system(app.workspace), path, opts).await
}

async fn run_as(app: &TestApp, who: &Who, path: &Path, opts: &Options) -> (Result<Report, ImportError>, PathBuf) {
    let errors = path.with_extension("errors.csv");
    let plan = import::plan(path, opts).unwrap();
    let size = std::fs::metadata(path).unwrap().len();
    let id = import::record(&app.db, who, "upload.csv", import::Kept::Path(path), size, plan.kind, opts, app.now())
        .await
        .unwrap();
    let r = import::run(&app.db, who, id, &plan, opts, Some(&errors), app.clock.as_ref()).await;
    (r, errors)
}

/// `text` as a CSV file in a temporary directory, which lives as long as the first half.
fn csv_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.csv");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn gbk(text: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(text).0.into_owned()
}

async fn names(app: &TestApp) -> Vec<String> {
    let q = Sql::new("SELECT name FROM accounts WHERE workspace_id = $1 AND deleted_at IS NULL ORDER BY name");
    let rows: Vec<(String,)> = app.db.fetch_all(q.arg(app.workspace)).await.unwrap();
    rows.into_iter().map(|r| r.0).collect()
}

fn bad_rows(path: &Path) -> Vec<csv::StringRecord> {
    let bytes = std::fs::read(path).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "a BOM, so Excel reads it");
    csv::Reader::from_reader(&bytes[3..]).records().map(Result::unwrap).collect()
}

async fn accounts_import_with_a_dry_run_a_report_and_a_second_run_that_changes_nothing(app: &TestApp) {
    let dir = tempfile::tempdir().unwrap();
    app.legacy_account("国网辽宁省电力有限公司", Some(app.admin.id)).await;
    // As Excel on Chinese Windows saves it: GBK, a title row above the header, CRLF.
    let text = "客户导入 2026年11月,,,,,\r\n\
                客户名称,电话,统一社会信用代码,地区,负责人,备注\r\n\
                沈阳远大电力设备有限公司,024-2345 6789,,辽宁 沈阳,,老客户\r\n\
                沈阳远大电力设备有限公司,138 0013 8000,,,,第二行\r\n\
                国网辽宁省电力有限公司,,,,,已有\r\n\
                坏公司,not-a-phone,123,火星,,\r\n\
                ,024-1111 2222,,,,无名\r\n\
                大连新能源科技有限公司,0411-8888 9999,,大连,nobody@nowhere.example,\r\n\
                \"锦州港股份有限公司\",0416-3123456,,\"辽宁,锦州\",,\"多行\r\n备注\"\r\n\
                辽宁鑫源电气设备有限公司,024-8765 4321,,,,\r\n";
    let path = dir.path().join("客户.csv");
    std::fs::write(&path, gbk(text)).unwrap();
    let before = names(app).await;

    let plan = import::plan(&path, &Options::default()).unwrap();
    assert_eq!(plan.kind, Kind::Accounts, "guessed from the columns");
    assert_eq!(plan.format, "CSV (GB18030, \",\")");
    assert_eq!(plan.headers[0], "客户名称", "the title row is passed over");

    let dry = Options { dry_run: true, ..Options::default() };
    let (report, errors) = run(app, &path, &dry).await;
    let report = report.unwrap();
    assert_eq!(names(app).await, before, "a dry run writes nothing");
    let c = report.counts;
    assert_eq!((c.created, c.merged, c.unchanged, c.failed), (3, 1, 1, 3), "{report:?}");
    let find = |line: u64, code: &str| {
        report
            .problems
            .iter()
            .find(|p| p.line == line && p.code == code)
            .unwrap_or_else(|| panic!("{line} {code}: {report:?}"))
    };
    // Located by the file's line (the title is line 1) and the spreadsheet's row, and the column.
    let p = find(6, "invalid_uscc");
    assert_eq!((p.row, p.column.as_deref(), p.severity), (6, Some("统一社会信用代码"), Severity::Error));
    assert_eq!(find(6, "unknown_region").column.as_deref(), Some("地区"));
    assert_eq!(find(7, "required").column.as_deref(), Some("客户名称"));
    assert!(find(8, "unknown_owner").message.contains("nobody@nowhere.example"));
    assert!(find(4, "duplicate_in_file").message.contains("line 3"));
    assert_eq!(find(5, "duplicate_existing").severity, Severity::Warning);
    // The quoted cell spans two lines: the row after it starts on line 11 and is row 10.
    assert_eq!(report.problems.iter().filter(|p| p.line == 11).count(), 0);

    let (report, errors2) = run(app, &path, &Options::default()).await;
    assert_eq!(errors, errors2);
    let report = report.unwrap();
    let c = report.counts;
    assert_eq!((c.created, c.merged, c.unchanged, c.failed), (3, 1, 1, 3));
    let now = names(app).await;
    for n in ["沈阳远大电力设备有限公司", "锦州港股份有限公司", "辽宁鑫源电气设备有限公司"]
    {
        assert!(now.contains(&n.to_owned()), "{n} imported: {now:?}");
    }
    assert_eq!(
        now.iter().filter(|n| *n == "沈阳远大电力设备有限公司").count(),
        1,
        "the file's two rows are one account"
    );
    assert_eq!(now.len(), before.len() + 3);
    // The second row's phone joined the first's; the region was read from its names; the note kept its line break.
    let (id, region, notes): (uuid::Uuid, Option<String>, Option<String>) = app
        .db
        .fetch_one(Sql::new("SELECT id, region_code, notes FROM accounts WHERE name = '沈阳远大电力设备有限公司'"))
        .await
        .unwrap();
    assert_eq!((region.as_deref(), notes.as_deref()), (Some("210100"), Some("老客户")));
    let phones: Vec<(String,)> = app
        .db
        .fetch_all(Sql::new("SELECT number FROM account_phones WHERE account_id = $1 ORDER BY position").arg(id))
        .await
        .unwrap();
    assert_eq!(phones, vec![("+862423456789".to_owned(),), ("+8613800138000".to_owned(),)]);
    let (jz,): (Option<String>,) =
        app.db.fetch_one(Sql::new("SELECT notes FROM accounts WHERE name = '锦州港股份有限公司'")).await.unwrap();
    assert_eq!(jz.as_deref(), Some("多行\n备注"));
    // Created records say where they came from.
    let (audited,): (i64,) = app
        .db
        .fetch_one(Sql::new("SELECT COUNT(*) FROM audit_log WHERE entity_id = $1 AND action = 'create'").arg(id))
        .await
        .unwrap();
    assert_eq!(audited, 1);

    // The bad rows, whole, with why, where: to fix and upload again.
    let bad = bad_rows(&errors);
    assert_eq!(bad.len(), 3);
    assert_eq!(&bad[0][0], "坏公司");
    assert!(bad[0][6].contains("统一社会信用代码") && bad[0][6].contains("火星"), "{:?}", bad[0]);
    assert_eq!((&bad[0][7], &bad[0][8]), ("6", "6"));

    // The same file again: nothing changes.
    let audit_before = app.count("audit_log").await;
    let (report, _) = run(app, &path, &Options::default()).await;
    let c = report.unwrap().counts;
    assert_eq!((c.created, c.updated, c.merged, c.unchanged, c.failed), (0, 0, 0, 5, 3));
    assert_eq!(names(app).await, now);
    assert_eq!(app.count("audit_log").await, audit_before, "nothing written, nothing audited");

    // Edited and imported with update_existing: the row's record changes, with history.
    let edited = text.replace(
        "辽宁鑫源电气设备有限公司,024-8765 4321,,,,",
        "辽宁鑫源电气设备有限公司,024-8765 4321,,辽宁 沈阳,,三期项目",
    );
    std::fs::write(&path, gbk(&edited)).unwrap();
    let (report, _) = run(app, &path, &Options { update_existing: true, ..Options::default() }).await;
    let c = report.unwrap().counts;
    assert_eq!(c.created, 0);
    assert!(c.updated >= 1, "{c:?}");
    let (notes, id): (Option<String>, uuid::Uuid) = app
        .db
        .fetch_one(Sql::new("SELECT notes, id FROM accounts WHERE name = '辽宁鑫源电气设备有限公司'"))
        .await
        .unwrap();
    assert_eq!(notes.as_deref(), Some("三期项目"));
    let (changes,): (serde_json::Value,) = app
        .db
        .fetch_one(Sql::new("SELECT changes FROM audit_log WHERE entity_id = $1 AND action = 'update'").arg(id))
        .await
        .unwrap();
    assert_eq!(changes["notes"]["before"], serde_json::Value::Null);
    assert_eq!(changes["notes"]["after"], "三期项目");

    // Every run is a record.
    let list = guanxi_store::imports::list(&app.db, app.workspace, None, None, 10).await.unwrap();
    assert_eq!(list.len(), 4);
    assert!(list.iter().all(|i| i.status == "done" && i.kind == "accounts"));
    assert_eq!(list[3].options["dry_run"], true);
    assert_eq!((list[2].created, list[2].failed), (3, 3));
}
both!(accounts_import_with_a_dry_run_a_report_and_a_second_run_that_changes_nothing);

async fn abort_writes_nothing_and_broken_files_are_named(app: &TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let before = app.count("accounts").await;
    // UTF-16 with a BOM, a ragged row, a repeated header, a cell of 1 MB and a quote never closed.
    let big = "长".repeat(400_000);
    let text = format!(
        "name,phones,notes\n\
         营口港务集团有限公司,0417-6268000,\n\
         华能营口电厂,0417-1234567,多,余,的\n\
         name,phones,notes\n\
         盘锦辽河油田有限公司,0427-7820000,{big}\n\
         本溪钢铁有限公司,024-1234 5678,\"没关上的引号\n\
         抚顺石化有限公司,024-5555 6666,\n"
    );
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let path = dir.path().join("u16.csv");
    std::fs::write(&path, &utf16).unwrap();

    let abort = Options { on_error: OnError::Abort, ..Options::default() };
    let (r, _) = run(app, &path, &abort).await;
    assert!(matches!(r, Err(ImportError::Aborted(3))), "{r:?}");
    assert_eq!(app.count("accounts").await, before, "abort: one bad row and nothing is written");
    let failed = guanxi_store::imports::list(&app.db, app.workspace, None, None, 1).await.unwrap();
    assert_eq!(failed[0].status, "failed");
    assert!(failed[0].error.as_deref().unwrap().contains("nothing was written"));

    let (r, errors) = run(app, &path, &Options::default()).await;
    let report = r.unwrap();
    assert_eq!((report.counts.created, report.counts.failed), (1, 3), "{report:?}");
    let code =
        |code: &str| report.problems.iter().find(|p| p.code == code).unwrap_or_else(|| panic!("{code}: {report:?}"));
    assert_eq!(code("ragged").line, 3);
    assert_eq!(code("repeated_header").severity, Severity::Note);
    assert_eq!(code("cell_too_long").column.as_deref(), Some("notes"));
    let open = code("unterminated_quote");
    assert_eq!(open.line, 6);
    assert!(open.message.contains("line 6"), "{}", open.message);
    assert_eq!(bad_rows(&errors).len(), 3);
    assert!(
        bad_rows(&errors).iter().all(|r| r.iter().all(|c| c.len() < 2000)),
        "a huge cell is cut in the file of bad rows"
    );
    assert_eq!(app.count("accounts").await, before + 1);

    // Not a table at all.
    let bin = dir.path().join("photo.csv");
    std::fs::write(&bin, [0u8, 1, 2, 3, 0, 0, 0, 0xff, 0xd8, 0xff].repeat(500)).unwrap();
    let e = import::plan(&bin, &Options::default()).err().unwrap();
    assert!(e.to_string().contains("not text"), "{e}");
    // A mapping that can make nothing.
    let nameless = dir.path().join("nameless.csv");
    std::fs::write(&nameless, "电话,备注\n010-1234 5678,x\n").unwrap();
    let e = import::plan(&nameless, &Options::default()).err().unwrap();
    assert!(e.to_string().contains("name"), "{e}");
}
both!(abort_writes_nothing_and_broken_files_are_named);

async fn exports_import_back_without_loss(app: &TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let w = app.world().await;
    let (status, v) = app
        .send(
            "POST",
            &w.sales_x.token,
            "/api/v1/accounts",
            serde_json::json!({"name": "鞍钢集团有限公司", "source": "trade_show", "classification": "a",
                "phones": ["0412-6723000", "138 0013 8001"], "tags": ["-重点", "钢铁"], "region_code": "210300",
                "notes": "=HYPERLINK(\"http://evil.example\")", "key_account": true}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let (s, person) = app
        .send(
            "POST",
            &w.sales_x.token,
            "/api/v1/contacts",
            serde_json::json!({"account_id": v["id"], "name": "刘建国", "title": "总经理", "phones": ["138 0013 8002"],
                "emails": ["liu@ansteel.example"], "stance": "supporter", "key_person": true, "birthday": "--03-08",
                "tags": ["决策层"]}),
        )
        .await;
    assert_eq!(s, 201, "{person}");
    let viewer = guanxi_store::Viewer::whole(app.workspace);
    let write = |name: &str, kind: &str| {
        let path = dir.path().join(name);
        let format = if name.ends_with(".xlsx") { Format::Xlsx } else { Format::Csv };
        let header: &[&str] =
            if kind == "contacts" { &guanxi_exchange::contacts::COLUMNS } else { &guanxi_exchange::accounts::COLUMNS };
        (path.clone(), Sheet::open(format, std::fs::File::create(&path).unwrap(), header).unwrap())
    };
    let (export, mut sheet) = write("export.csv", "accounts");
    guanxi_exchange::accounts::export(&app.db, viewer, &Default::default(), &mut sheet).await.unwrap();
    sheet.finish().unwrap();
    let (export_xlsx, mut sheet) = write("export.xlsx", "accounts");
    guanxi_exchange::accounts::export(&app.db, viewer, &Default::default(), &mut sheet).await.unwrap();
    sheet.finish().unwrap();
    let (people, mut sheet) = write("contacts.xlsx", "contacts");
    guanxi_exchange::contacts::export(&app.db, viewer, &Default::default(), &mut sheet).await.unwrap();
    sheet.finish().unwrap();

    // Into the same workspace: the ids say which records the rows are; nothing changes.
    let opts = Options { preset: Some("guanxi".into()), ..Options::default() };
    let (r, _) = run(app, &export, &opts).await;
    let c = r.unwrap().counts;
    assert_eq!((c.created, c.unchanged, c.failed), (0, 1, 0));

    // Into another workspace: the same account, formula text and all, no quote added;
    // its owner and team found there by name.
    let (other, _) = app.other_workspace().await;
    let team = app.team_in(other, "东北大区", None).await;
    let zhang = app.user_in(other, "zhang@other.example", "张伟", guanxi_domain::Role::Sales, Some(team)).await;
    let who = Who::system(other);
    let (r, _) = run_as(app, &who, &export, &opts).await;
    let c = r.unwrap().counts;
    assert_eq!((c.created, c.failed), (1, 0));
    let q = Sql::new("SELECT id FROM accounts WHERE workspace_id = $1").arg(other);
    let (id,): (guanxi_domain::AccountId,) = app.db.fetch_one(q).await.unwrap();
    let copy = guanxi_store::accounts::get(&app.db, guanxi_store::Viewer::whole(other), id).await.unwrap();
    let orig = guanxi_store::accounts::get(
        &app.db,
        viewer,
        guanxi_domain::AccountId::from_uuid(v["id"].as_str().unwrap().parse().unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(copy.name, orig.name);
    assert_eq!(copy.notes, orig.notes);
    assert_eq!(copy.tags, orig.tags);
    assert_eq!(copy.source, orig.source);
    assert_eq!(copy.classification, orig.classification);
    assert_eq!(copy.region_code, orig.region_code);
    assert_eq!(copy.key_account, orig.key_account);
    let numbers = |a: &guanxi_store::accounts::Account| a.phones.iter().map(|p| p.number.clone()).collect::<Vec<_>>();
    assert_eq!(numbers(&copy), numbers(&orig));
    assert_eq!((copy.owner_id, copy.team_id), (Some(zhang.id), Some(team)));

    // The XLSX export is the same rows: the copy is recognised, nothing changes.
    let (r, _) = run_as(app, &who, &export_xlsx, &opts).await;
    let c = r.unwrap().counts;
    assert_eq!((c.created, c.unchanged, c.failed), (0, 1, 0));
    // Contacts follow, linked to the copy of their account by the exported account id.
    let (r, _) = run_as(app, &who, &people, &opts).await;
    let report = r.unwrap();
    assert_eq!((report.counts.created, report.counts.failed), (1, 0), "{report:?}");
    let q = Sql::new("SELECT id FROM contacts WHERE workspace_id = $1").arg(other);
    let (cid,): (guanxi_domain::ContactId,) = app.db.fetch_one(q).await.unwrap();
    let copy = guanxi_store::contacts::get(&app.db, guanxi_store::Viewer::whole(other), cid).await.unwrap();
    assert_eq!(copy.account_id, id);
    assert_eq!((copy.name.as_str(), copy.title.as_deref()), ("刘建国", Some("总经理")));
    assert_eq!(copy.emails, vec!["liu@ansteel.example"]);
    assert_eq!(copy.stance.map(|s| s.as_str()), Some("supporter"));
    assert!(copy.key_person);
    assert_eq!((copy.birthday.as_deref(), copy.tags.clone()), (Some("--03-08"), vec!["决策层".to_owned()]));
    assert_eq!(copy.phones.iter().map(|p| p.number.as_str()).collect::<Vec<_>>(), vec!["+8613800138002"]);
}
both!(exports_import_back_without_loss);

async fn contacts_link_to_their_accounts(app: &TestApp) {
    let dir = tempfile::tempdir().unwrap();
    // Salesforce's Account and Contact exports: the contacts name their account by its Salesforce id.
    let accounts = dir.path().join("Account.csv");
    std::fs::write(
        &accounts,
        "Id,Name,Phone,Website,BillingState,Description\n\
         001A000001,国网辽宁省电力有限公司,024-2345 0000,www.ln.sgcc.com.cn,辽宁,\n\
         001A000002,大连港集团有限公司,0411-8262 0000,,大连,\n",
    )
    .unwrap();
    let sf = Options { preset: Some("salesforce".into()), ..Options::default() };
    let (r, _) = run(app, &accounts, &sf).await;
    assert_eq!(r.unwrap().counts.created, 2);
    let contacts = dir.path().join("Contact.csv");
    std::fs::write(
        &contacts,
        "Id,AccountId,LastName,FirstName,Title,MobilePhone,Email\n\
         003A01,001A000001,刘,建国,主任,138 0013 8000,liu@ln.example\n\
         003A02,001A000001,王,芳,总工,139 0013 9000,\n\
         003A03,001A000009,赵,强,,137 0013 7000,\n\
         003A04,001A000002,刘,建国,处长,138 0013 8000,\n",
    )
    .unwrap();
    let plan = import::plan(&contacts, &sf).unwrap();
    assert_eq!(plan.kind, Kind::Contacts, "guessed: the rows link to accounts");
    let (r, errors) = run(app, &contacts, &sf).await;
    let report = r.unwrap();
    let c = report.counts;
    assert_eq!((c.created, c.merged, c.failed), (2, 1, 1), "{report:?}");
    let missing = report.problems.iter().find(|p| p.code == "account_not_found").unwrap();
    assert_eq!((missing.line, missing.column.as_deref()), (4, Some("AccountId")));
    assert!(missing.message.contains("001A000009"));
    assert_eq!(bad_rows(&errors).len(), 1);
    let rows: Vec<(String, String, Option<String>)> = app
        .db
        .fetch_all(Sql::new(
            "SELECT c.name, a.name, c.title FROM contacts c JOIN accounts a ON a.id = c.account_id ORDER BY c.name",
        ))
        .await
        .unwrap();
    assert_eq!(
        rows,
        vec![
            ("刘建国".to_owned(), "国网辽宁省电力有限公司".to_owned(), Some("主任".to_owned())),
            ("王芳".to_owned(), "国网辽宁省电力有限公司".to_owned(), Some("总工".to_owned())),
        ]
    );

    // Chinese headers, accounts by name (查重 finds 国网辽宁 under its full name), one already known by e-mail.
    let by_name = dir.path().join("联系人.csv");
    std::fs::write(
        &by_name,
        "姓名,公司名称,职务,手机,邮箱\n\
         陈明,国网辽宁省电力有限公司,副主任,136 0013 6000,\n\
         老刘,國網遼寧省電力有限公司,,,liu@ln.example\n\
         孙丽,不存在的公司,,135 0013 5000,\n",
    )
    .unwrap();
    let (r, _) = run(app, &by_name, &Options::default()).await;
    let report = r.unwrap();
    let c = report.counts;
    assert_eq!((c.created, c.unchanged, c.failed), (1, 1, 1), "{report:?}");
    assert!(report.problems.iter().any(|p| p.code == "duplicate_existing" && p.message.contains("刘建国")));
    let nf = report.problems.iter().find(|p| p.code == "account_not_found").unwrap();
    assert_eq!(nf.column.as_deref(), Some("公司名称"));
    // Again: nothing changes.
    let (r, _) = run(app, &contacts, &sf).await;
    let c = r.unwrap().counts;
    assert_eq!((c.created, c.unchanged, c.failed), (0, 3, 1));
}
both!(contacts_link_to_their_accounts);

async fn xlsx_formulas_arrive_as_their_values(app: &TestApp) {
    use rust_xlsxwriter::{Formula, Workbook};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("客户.xlsx");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (col, h) in ["客户名称", "电话", "备注", "行业"].iter().enumerate() {
        sheet.write_string(0, col as u16, *h).unwrap();
    }
    // What Excel stored for each formula is what is imported; nothing is evaluated.
    sheet
        .write_formula(
            1,
            0,
            Formula::new("=CONCATENATE(\"沈阳\",\"远大电力有限公司\")").set_result("沈阳远大电力有限公司"),
        )
        .unwrap();
    sheet.write_number(1, 1, 13800138000.0).unwrap();
    sheet.write_formula(1, 2, Formula::new("=HYPERLINK(\"http://evil.example\",\"点我\")").set_result("点我")).unwrap();
    sheet.write_string(2, 0, "大连港集团有限公司").unwrap();
    sheet.write_string(2, 1, "0411-8262 0000").unwrap();
    sheet.write_string(2, 3, "港口").unwrap();
    sheet.write_string(4, 0, "").unwrap();
    sheet.write_string(5, 1, "024-1234 5678").unwrap();
    book.save(&path).unwrap();

    let plan = import::plan(&path, &Options::default()).unwrap();
    assert_eq!((plan.format.as_str(), plan.kind), ("XLSX", Kind::Accounts));
    let (r, _) = run(app, &path, &Options::default()).await;
    let report = r.unwrap();
    assert_eq!((report.counts.created, report.counts.failed), (2, 1), "{report:?}");
    let nameless = report.problems.iter().find(|p| p.code == "required").unwrap();
    assert_eq!((nameless.line, nameless.row), (6, 6), "an empty row is passed over; rows are the sheet's");
    let (id, notes): (uuid::Uuid, Option<String>) =
        app.db.fetch_one(Sql::new("SELECT id, notes FROM accounts WHERE name = '沈阳远大电力有限公司'")).await.unwrap();
    assert_eq!(notes.as_deref(), Some("点我"));
    let (phone,): (String,) =
        app.db.fetch_one(Sql::new("SELECT number FROM account_phones WHERE account_id = $1").arg(id)).await.unwrap();
    assert_eq!(phone, "+8613800138000", "a phone typed as a number keeps its digits");
}
both!(xlsx_formulas_arrive_as_their_values);

/// Activities (跟进记录) from a spreadsheet: linked to accounts by name, the
/// person met found at the account, the author the account's owner unless
/// named, a hook when its time is ahead; bad rows located; the account's
/// release clock not reset by old touches; a second run logs nothing twice.
async fn activities_from_a_spreadsheet(app: &TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let w = app.world().await;
    let (s, a) = app
        .send(
            "POST",
            &w.sales_x.token,
            "/api/v1/accounts",
            serde_json::json!({"name": "鞍钢集团有限公司", "source": "referral"}),
        )
        .await;
    assert_eq!(s, 201, "{a}");
    let (s, _) = app
        .send(
            "POST",
            &w.sales_x.token,
            "/api/v1/contacts",
            serde_json::json!({"account_id": a["id"], "name": "刘建国"}),
        )
        .await;
    assert_eq!(s, 201);
    app.legacy_account("营口港务集团有限公司", None).await;
    let clock_before = || async {
        let q = Sql::new("SELECT activity_clock_at FROM accounts WHERE name = $1").arg("鞍钢集团有限公司");
        let (t,): (Option<chrono::DateTime<chrono::Utc>>,) = app.db.fetch_one(q).await.unwrap();
        t
    };
    let clock = clock_before().await;
    app.clock.advance(chrono::Duration::days(10));
    let path = dir.path().join("跟进记录.csv");
    std::fs::write(
        &path,
        "客户名称,联系人,跟进方式,跟进时间,时长,结果,跟进内容,跟进人,下一步,下次跟进时间\n\
         鞍钢集团有限公司,刘建国,拜访,2026-03-01 14:30,45分钟,已沟通,谈了明年技改,,送技术方案,2099-01-05 10:00\n\
         鞍钢集团有限公司,王五,电话,2026-03-02,,,问了预算,,,\n\
         鞍钢集团有限公司,,传真,2026-03-03,,,,,,\n\
         不存在的公司,,电话,2026-03-03,,,,,,\n\
         营口港务集团有限公司,,电话,2026-03-04,,,,,,\n\
         营口港务集团有限公司,,电话,2026-03-04,,,,sales.x@test.example,,\n\
         鞍钢集团有限公司,,拜访,2099-03-01,,,,,,\n",
    )
    .unwrap();
    let opts = Options::default();
    let plan = import::plan(&path, &opts).unwrap();
    assert_eq!(plan.kind, Kind::Activities, "guessed from the columns");
    let (r, errors) = run(app, &path, &opts).await;
    let report = r.unwrap();
    let c = report.counts;
    assert_eq!((c.created, c.failed, c.warnings), (3, 4, 1), "{report:?}");
    let mut codes: Vec<(u64, &str)> =
        report.problems.iter().filter(|p| p.severity != Severity::Note).map(|p| (p.line, p.code.as_str())).collect();
    codes.sort();
    assert_eq!(
        codes,
        vec![
            (3, "contact_not_found"),
            (4, "unknown_value"),
            (5, "account_not_found"),
            (6, "author_required"),
            (8, "in_future")
        ],
        "{report:?}"
    );
    assert_eq!(bad_rows(&errors).len(), 4);
    assert_eq!(app.count("activities").await, 3);
    assert_eq!(app.count("activity_contacts").await, 1);
    // The hook is a task of the account's owner, due when the row said.
    let q = Sql::new("SELECT assignee_id, due_at FROM tasks WHERE purpose = $1").arg("送技术方案");
    let (assignee, due): (guanxi_domain::UserId, chrono::DateTime<chrono::Utc>) = app.db.fetch_one(q).await.unwrap();
    assert_eq!((assignee, due.to_rfc3339()), (w.sales_x.id, "2099-01-05T02:00:00+00:00".to_owned()));
    let q = Sql::new("SELECT v.author_id, v.duration_minutes, v.notes FROM activities v JOIN accounts a ON a.id = v.account_id WHERE a.name = $1");
    let (author, minutes, notes): (guanxi_domain::UserId, Option<i64>, Option<String>) =
        app.db.fetch_one(q.arg("营口港务集团有限公司")).await.unwrap();
    assert_eq!((author, minutes, notes), (w.sales_x.id, None, None));
    // Touches from March do not reset the release clock ten days after the account was created.
    assert_eq!(clock_before().await, clock);

    let (r, _) = run(app, &path, &opts).await;
    let c = r.unwrap().counts;
    assert_eq!((c.created, c.unchanged), (0, 3));
    assert_eq!(app.count("activities").await, 3);

    // Undone, the touches leave the timeline (kept, restorable) and the hook
    // they left is cancelled; the file imports afresh afterwards.
    let account = a["id"].as_str().unwrap();
    let timeline = || async {
        let (s, t) = app.get(&w.sales_x.token, &format!("/api/v1/activities?account_id={account}")).await;
        assert_eq!(s, 200, "{t}");
        t["items"].as_array().unwrap().len()
    };
    assert_eq!(timeline().await, 2);
    let q = Sql::new("SELECT id FROM imports WHERE kind = 'activities' ORDER BY created_at, id LIMIT 1");
    let (first,): (uuid::Uuid,) = app.db.fetch_one(q).await.unwrap();
    let (s, undone) =
        app.send("POST", &app.admin.token, &format!("/api/v1/imports/{first}/undo"), serde_json::json!({})).await;
    assert_eq!((s, undone["status"].as_str()), (200, Some("undone")), "{undone}");
    assert_eq!(timeline().await, 0);
    assert_eq!(app.count("activities").await, 3, "removed, not deleted");
    let q = Sql::new("SELECT status FROM tasks WHERE purpose = $1").arg("送技术方案");
    let (status,): (String,) = app.db.fetch_one(q).await.unwrap();
    assert_eq!(status, "cancelled");
    let (_, work) = app.get(&w.sales_x.token, "/api/v1/tasks?until=2100-01-01T00:00:00Z").await;
    assert!(!work.to_string().contains("送技术方案"), "{work}");
    // One is brought back (its hook stays cancelled); a colleague may not.
    let q = Sql::new("SELECT source_activity_id FROM tasks WHERE purpose = $1").arg("送技术方案");
    let (visit,): (uuid::Uuid,) = app.db.fetch_one(q).await.unwrap();
    let restore = format!("/api/v1/activities/{visit}/restore");
    let (s, _) = app.send("POST", &w.sales_y.token, &restore, serde_json::json!({})).await;
    assert_eq!(s, 404, "not theirs to see");
    let (s, back) = app.send("POST", &app.admin.token, &restore, serde_json::json!({})).await;
    assert_eq!((s, back["kind"].as_str()), (200, Some("visit")), "{back}");
    assert_eq!(timeline().await, 1);
    let (s, _) = app.send("POST", &app.admin.token, &restore, serde_json::json!({})).await;
    assert_eq!(s, 404, "already back");
    // The file imports afresh what is still removed.
    let (r, _) = run(app, &path, &opts).await;
    let c = r.unwrap().counts;
    assert_eq!((c.created, c.unchanged), (2, 1));
    assert_eq!(timeline().await, 2);

    // Exported, the touches import back: into the same workspace nothing changes.
    let url = app.url(&format!("/api/v1/activities/export?account_id={account}"));
    let res = app.client().get(url).bearer_auth(&w.sales_x.token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.unwrap();
    let out = dir.path().join("activities.csv");
    std::fs::write(&out, &bytes).unwrap();
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(text.starts_with("external_id,account_id,account_name,contact_name,kind,started_at"), "{text}");
    assert!(text.contains(",visit,2026-03-01T06:30:00Z,45,connected,谈了明年技改,"), "{text}");
    let guanxi = Options { preset: Some("guanxi".into()), ..Options::default() };
    let before = app.count("activities").await;
    let (r, _) = run(app, &out, &guanxi).await;
    let c = r.unwrap().counts;
    assert_eq!((c.created, c.unchanged, c.failed), (0, 2, 0));
    assert_eq!(app.count("activities").await, before);
}
both!(activities_from_a_spreadsheet);

/// Names the admin finds in the search box for `q`.
async fn found(app: &TestApp, q: &str) -> Vec<String> {
    let (status, hits) = app.get(&app.admin.token, &format!("/api/v1/search?q={q}")).await;
    assert_eq!(status, 200, "{hits}");
    let mut names: Vec<String> =
        hits["items"].as_array().unwrap().iter().map(|h| h["name"].as_str().unwrap().to_owned()).collect();
    names.sort();
    names
}

/// The names in the admin's list by name (it walks the accounts' name-order terms).
async fn by_name(app: &TestApp) -> Vec<String> {
    let (status, page) = app.get(&app.admin.token, "/api/v1/accounts?sort=name&limit=200").await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_owned()).collect()
}

async fn imported_records_are_found_by_search_and_a_stopped_import_catches_up(app: &TestApp) {
    let (_dir, path) = csv_file("客户名称,电话\n鞍山钢铁集团有限公司,0412-6723 000\n本溪钢铁集团有限公司,\n");
    let (r, _) = run(app, &path, &Options::default()).await;
    assert_eq!(r.unwrap().counts.created, 2);
    // Searchable by any piece of the name, pinyin initials and phone as soon as the import is done.
    assert_eq!(found(app, "钢铁").await, vec!["本溪钢铁集团有限公司", "鞍山钢铁集团有限公司"]);
    assert_eq!(found(app, "asgt").await, vec!["鞍山钢铁集团有限公司"]);
    assert_eq!(found(app, "6723000").await, vec!["鞍山钢铁集团有限公司"]);
    assert!(guanxi_store::imports::unindexed(&app.db).await.unwrap().is_empty(), "the import's terms are merged");
    assert_eq!(by_name(app).await, ["本溪钢铁集团有限公司", "鞍山钢铁集团有限公司"], "and listed by name");

    // Renamed, it is found by its new name only: its old terms were worked out again and removed.
    let (id,): (uuid::Uuid,) =
        app.db.fetch_one(Sql::new("SELECT id FROM accounts WHERE name = '鞍山钢铁集团有限公司'")).await.unwrap();
    let (s, body) = app
        .send(
            "PATCH",
            &app.admin.token,
            &format!("/api/v1/accounts/{id}"),
            serde_json::json!({"name": "鞍钢股份有限公司"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(found(app, "鞍山").await, Vec::<String>::new());
    assert_eq!(found(app, "鞍钢").await, vec!["鞍钢股份有限公司"]);
    assert_eq!(found(app, "6723000").await, vec!["鞍钢股份有限公司"]);
    assert_eq!(found(app, "钢铁").await, vec!["本溪钢铁集团有限公司"]);
    assert_eq!(by_name(app).await, ["本溪钢铁集团有限公司", "鞍钢股份有限公司"], "in its new place by name");

    // A record a bulk write created and someone renamed before the write
    // merged its terms is found by its new name only.
    let pool = guanxi_store::pool::default_of(guanxi_store::Conn::Db(&app.db), app.workspace).await.unwrap();
    let account = |name: &str| {
        (
            guanxi_domain::AccountId::new(),
            guanxi_store::accounts::AccountFields::new(name, guanxi_domain::AccountSource::Other),
        )
    };
    let mut terms = guanxi_store::search::Indexer::spool(app.workspace, app.now());
    let mut tx = app.db.begin().await.unwrap();
    let rows = [account("辽阳石油化纤有限公司")];
    guanxi_store::accounts::insert_many(&mut tx, app.workspace, &pool, &rows, &mut terms, app.now()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(found(app, "辽阳").await, Vec::<String>::new(), "not merged yet");
    assert!(!by_name(app).await.contains(&"辽阳石油化纤有限公司".to_owned()), "nor listed by name");
    app.clock.advance(chrono::Duration::seconds(1));
    let renamed = serde_json::json!({"name": "辽化集团有限公司"});
    let (s, body) = app.send("PATCH", &app.admin.token, &format!("/api/v1/accounts/{}", rows[0].0), renamed).await;
    assert_eq!(s, 200, "{body}");
    terms.merge(&app.db).await.unwrap();
    assert_eq!(found(app, "辽阳").await, Vec::<String>::new());
    assert_eq!(found(app, "辽化").await, vec!["辽化集团有限公司"]);
    assert_eq!(by_name(app).await, ["本溪钢铁集团有限公司", "辽化集团有限公司", "鞍钢股份有限公司"]);

    // An import whose process stopped after writing, before merging its
    // terms: its records are not found until the sweep (every server runs
    // it) indexes what the import created.
    let who = Who::system(app.workspace);
    let gone = Path::new("gone.csv");
    let opts = Options::default();
    let import =
        import::record(&app.db, &who, "gone.csv", import::Kept::Path(gone), 10, Kind::Accounts, &opts, app.now())
            .await
            .unwrap();
    guanxi_store::imports::set_unindexed(&app.db, import, true).await.unwrap();
    let mut terms = guanxi_store::search::Indexer::spool(app.workspace, app.now());
    let mut tx = app.db.begin().await.unwrap();
    let rows = [account("抚顺特殊钢股份有限公司")];
    guanxi_store::accounts::insert_many(&mut tx, app.workspace, &pool, &rows, &mut terms, app.now()).await.unwrap();
    let mut keys = guanxi_store::imports::Keys::new(app.workspace, "accounts", import);
    keys.push(&mut tx, "x:1", rows[0].0.uuid(), true).await.unwrap();
    keys.flush(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    drop(terms);
    assert_eq!(found(app, "抚顺").await, Vec::<String>::new());
    guanxi_exchange::import::stored::sweep(&app.db, app.clock.as_ref()).await.unwrap();
    assert_eq!(found(app, "抚顺").await, Vec::<String>::new(), "a running import is left alone");
    app.clock.advance(chrono::Duration::minutes(11));
    guanxi_exchange::import::stored::sweep(&app.db, app.clock.as_ref()).await.unwrap();
    assert_eq!(found(app, "抚顺").await, vec!["抚顺特殊钢股份有限公司"]);
    assert!(by_name(app).await.contains(&"抚顺特殊钢股份有限公司".to_owned()), "listed by name once indexed");
    assert!(guanxi_store::imports::unindexed(&app.db).await.unwrap().is_empty(), "and only once");
}
both!(imported_records_are_found_by_search_and_a_stopped_import_catches_up);

/// 查重 against the database by phone: a row whose name differs from an
/// account's by a word is that account when they share a phone, whichever
/// of the account's phones it is.
async fn a_shared_phone_finds_the_existing_account(app: &TestApp) {
    let account = serde_json::json!({
        "name": "大连华锐重工集团股份有限公司", "source": "referral",
        "phones": ["0411-8642 8888", "0411-8685 2222"],
    });
    let (s, a) = app.send("POST", &app.admin.token, "/api/v1/accounts", account).await;
    assert_eq!(s, 201, "{a}");
    let (_dir, path) =
        csv_file("客户名称,电话\n大连华锐重工装备有限公司,0411-8685 2222\n大连华锐重工装备有限公司,0411-8000 0000\n");
    let (r, _) = run(app, &path, &Options::default()).await;
    let report = r.unwrap();
    let c = report.counts;
    assert_eq!((c.created, c.unchanged), (1, 1), "{report:?}");
    let p = report.problems.iter().find(|p| p.code == "duplicate_existing").expect("matched by its phone");
    assert!(p.message.contains("大连华锐重工集团股份有限公司"), "{p:?}");
    // A word apart and no phone in common: another organisation.
    assert_eq!(p.line, 2, "{report:?}");
    assert!(report.problems.iter().all(|p| p.line != 3), "{report:?}");
}
both!(a_shared_phone_finds_the_existing_account);

async fn an_update_past_the_ownership_limit_fails_its_row_not_the_import(app: &TestApp) {
    let w = app.world().await;
    let (_, pools) = app.get(&app.admin.token, "/api/v1/pools").await;
    let pool = pools[0]["id"].as_str().unwrap().to_owned();
    let mut rules = pools[0]["rules"].clone();
    rules["max_owned"] = serde_json::json!(1);
    let (s, v) = app
        .send("PATCH", &app.admin.token, &format!("/api/v1/pools/{pool}"), serde_json::json!({"rules": rules}))
        .await;
    assert_eq!(s, 200, "{v}");
    let pooled: uuid::Uuid = app.legacy_account("国网辽宁省电力有限公司", None).await.parse().unwrap();
    // The first row gives 张伟 his one account; the second would give him the pooled one too.
    let (_dir, path) = csv_file(
        "客户名称,负责人,备注\n营口港务集团有限公司,sales.x@test.example,\n国网辽宁省电力有限公司,sales.x@test.example,改派\n",
    );
    let (r, errors) = run(app, &path, &Options { update_existing: true, ..Options::default() }).await;
    let report = r.unwrap();
    let c = report.counts;
    assert_eq!((c.created, c.updated, c.failed), (1, 0, 1), "{report:?}");
    let p = report.problems.iter().find(|p| p.code == "limit_reached").unwrap();
    assert_eq!(p.line, 3);
    assert!(p.message.contains("(1)"), "{}", p.message);
    assert_eq!(bad_rows(&errors).len(), 1);
    let (owner, notes): (Option<uuid::Uuid>, Option<String>) =
        app.db.fetch_one(Sql::new("SELECT owner_id, notes FROM accounts WHERE id = $1").arg(pooled)).await.unwrap();
    assert_eq!((owner, notes), (None, None), "the refused row changed nothing");
    let (owned,): (i64,) = app
        .db
        .fetch_one(Sql::new("SELECT COUNT(*) FROM accounts WHERE owner_id = $1").arg(w.sales_x.id))
        .await
        .unwrap();
    assert_eq!(owned, 1);
    // Not remembered as imported: with room under the limit, the same file updates it.
    rules["max_owned"] = serde_json::json!(2);
    let (s, _) = app
        .send("PATCH", &app.admin.token, &format!("/api/v1/pools/{pool}"), serde_json::json!({"rules": rules}))
        .await;
    assert_eq!(s, 200);
    let (r, _) = run(app, &path, &Options { update_existing: true, ..Options::default() }).await;
    let c = r.unwrap().counts;
    assert_eq!((c.created, c.updated, c.failed), (0, 1, 0), "{c:?}");
    let (owner,): (Option<uuid::Uuid>,) =
        app.db.fetch_one(Sql::new("SELECT owner_id FROM accounts WHERE id = $1").arg(pooled)).await.unwrap();
    assert_eq!(owner, Some(w.sales_x.id.uuid()));
}
both!(an_update_past_the_ownership_limit_fails_its_row_not_the_import);

/// After an import the planner knows how large the tables became: plans made
/// from a database's first, tiny statistics scanned whole tables once per
/// batch (SQLite kept the demo's six contacts as the contacts' size).
async fn an_import_leaves_fresh_planner_statistics(app: &TestApp) {
    let mut text = String::from("客户名称,电话\n");
    for i in 0..2500 {
        text.push_str(&format!("鞍山第{i}机械制造有限公司,0412-{:07}\n", 6_000_000 + i));
    }
    let (_dir, path) = csv_file(&text);
    assert!(planned_accounts(app).await < 100, "the planner starts from an empty workspace");
    let (r, _) = run(app, &path, &Options::default()).await;
    assert!(r.unwrap().counts.created > 2000);
    let seen = planned_accounts(app).await;
    assert!((2000..=3000).contains(&seen), "the planner counts {seen} accounts");
}
both!(an_import_leaves_fresh_planner_statistics);

/// During an import the SQLite writer has a large page cache and keeps its
/// temporary data in memory; afterwards both are as before (a migration's
/// index build would otherwise sort in memory whole).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_leaves_the_sqlite_writer_as_it_found_it() {
    let app = TestApp::spawn(crate::harness::Backend::Sqlite).await;
    let writer = |app: &TestApp| {
        let db = app.db.clone();
        async move {
            let mut tx = db.begin().await.unwrap();
            let (cache,): (i64,) = tx.fetch_one(Sql::new("PRAGMA cache_size")).await.unwrap();
            let (temp,): (i64,) = tx.fetch_one(Sql::new("PRAGMA temp_store")).await.unwrap();
            let (frames,): (i64,) = tx.fetch_one(Sql::new("PRAGMA wal_autocheckpoint")).await.unwrap();
            let (kept,): (i64,) = tx.fetch_one(Sql::new("PRAGMA journal_size_limit")).await.unwrap();
            tx.commit().await.unwrap();
            (cache, temp, frames, kept)
        }
    };
    let before = writer(&app).await;
    assert_eq!(
        before,
        (-16 * 1024, 0, 10_000, 64 << 20),
        "16 MiB, temporary data where SQLite's build puts it, checkpoints past 10,000 pages, the log cut back to 64 MiB"
    );
    let (_dir, path) = csv_file("客户名称,电话\n鞍山第一机械制造有限公司,0412-6000001\n");
    let (r, _) = run(&app, &path, &Options::default()).await;
    assert_eq!(r.unwrap().counts.created, 1);
    assert_eq!(writer(&app).await, before);
    app.finish().await;
}

/// How many accounts the planner's statistics count.
async fn planned_accounts(app: &TestApp) -> i64 {
    let q = match app.db.dialect() {
        guanxi_store::Dialect::Sqlite => {
            let q = Sql::new("SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_stat1'");
            if app.db.fetch_one::<(i64,)>(q).await.unwrap().0 == 0 {
                return 0; // never analysed
            }
            "SELECT CAST(substr(stat, 1, instr(stat, ' ') - 1) AS BIGINT) FROM sqlite_stat1 WHERE idx = 'accounts_name_key'"
        }
        guanxi_store::Dialect::Postgres => {
            "SELECT CAST(reltuples AS BIGINT) FROM pg_class WHERE oid = 'accounts'::regclass"
        }
    };
    app.db.fetch_optional::<(i64,)>(Sql::new(q)).await.unwrap().map_or(0, |r| r.0)
}

/// A valid USCC of a company in 大连 numbered `i`.
fn uscc(i: usize) -> String {
    let body = format!("91210200{i:09}");
    "0123456789ABCDEFGHJKLMNPQRTUWXY"
        .chars()
        .map(|c| format!("{body}{c}"))
        .find(|code| guanxi_domain::Uscc::parse("uscc", code).is_ok())
        .unwrap()
}

/// 查重 looks up later batches while earlier ones are written, and sees
/// those already committed; the report must not depend on when they
/// commit: a row repeating an organisation of such a batch merges into the
/// record this import made (never "already in Guanxi"), and warnings name
/// only records that were there before the import.
async fn a_repeat_after_a_commit_merges_into_the_imports_own_record(app: &TestApp) {
    let before = serde_json::json!({"name": "沈阳第1重型机械有限公司", "source": "referral"});
    let (s, v) = app.send("POST", &app.admin.token, "/api/v1/accounts", before).await;
    assert_eq!(s, 201, "{v}");
    let rows = 6 * import::BATCH;
    let mut text = String::from("客户名称,统一社会信用代码,电话\n");
    for i in 0..rows {
        text.push_str(&format!("大连第{i}重型机械有限公司,{},\n", uscc(i)));
    }
    // The same as line 2; the same name as line 2 in another city (a possible duplicate).
    text.push_str(&format!("大连第0重型机械有限公司,{},0411-8888 6666\n", uscc(0)));
    text.push_str("沈阳第0重型机械有限公司,,\n");
    let (_dir, path) = csv_file(&text);
    // Another writer asking again and again: on SQLite the import then commits after every batch.
    app.db.execute(Sql::new("CREATE TABLE nudges (n BIGINT)")).await.unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let nudger = tokio::spawn({
        let (db, stop) = (app.db.clone(), stop.clone());
        async move {
            let mut n = 0_i64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                db.execute(Sql::new("INSERT INTO nudges (n) VALUES ($1)").arg(n)).await.unwrap();
                n += 1;
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            n
        }
    });
    let (r, _) = run(app, &path, &Options::default()).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let nudges = nudger.await.unwrap();
    assert!(nudges >= 6, "the other writer got in between batches ({nudges} times)");
    let report = r.unwrap();
    let c = report.counts;
    assert_eq!((c.created, c.merged, c.unchanged), (rows as i64 + 1, 1, 0), "{:?}", report.problems);
    let p = report.problems.iter().find(|p| p.code == "duplicate_in_file").expect("merged");
    assert_eq!(p.line, rows as u64 + 2);
    assert!(p.message.contains("line 2"), "{}", p.message);
    let q = Sql::new("SELECT COUNT(*) FROM account_phones WHERE number = '+8641188886666'");
    assert_eq!(app.db.fetch_one::<(i64,)>(q).await.unwrap().0, 1, "the repeat's phone joined the record");
    let warned: Vec<(u64, &str)> = report
        .problems
        .iter()
        .filter(|p| p.code == "possible_duplicate")
        .map(|p| (p.line, p.message.as_str()))
        .collect();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert_eq!(warned[0].0, 3, "{warned:?}");
    assert!(warned[0].1.contains("沈阳第1重型机械有限公司"), "{warned:?}");
}
both!(a_repeat_after_a_commit_merges_into_the_imports_own_record);

/// A row is weighed against every earlier row sharing a key with it, and
/// merges into the one it is most surely the same as: here two companies of
/// one name (their USCCs differ), and a row with the second one's phone.
async fn a_row_merges_into_the_surest_of_earlier_rows(app: &TestApp) {
    let text = format!(
        "客户名称,统一社会信用代码,电话\n\
         大连华锐重工集团股份有限公司,{},0411-8642 8888\n\
         大连华锐重工集团股份有限公司,{},0411-8685 2222\n\
         大连华锐重工集团股份有限公司,,0411-8685 2222\n",
        uscc(1),
        uscc(2)
    );
    let (_dir, path) = csv_file(&text);
    let (r, _) = run(app, &path, &Options::default()).await;
    let report = r.unwrap();
    let c = report.counts;
    assert_eq!((c.created, c.merged), (2, 1), "{report:?}");
    let p = report.problems.iter().find(|p| p.code == "duplicate_in_file").expect("merged");
    assert_eq!(p.line, 4);
    assert!(p.message.contains("line 3"), "{}", p.message);
}
both!(a_row_merges_into_the_surest_of_earlier_rows);

/// Deals from a spreadsheet: linked to accounts by name, people by name at
/// the account, stages in Chinese or another CRM's words, bad rows located;
/// a second run changes nothing; the export imports back into the same
/// workspace as the same deals; undo sends the created ones to the bin.
async fn opportunities_from_a_spreadsheet_and_back(app: &TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let w = app.world().await;
    let x = &w.sales_x.token;
    let (_, a) = app
        .send("POST", x, "/api/v1/accounts", serde_json::json!({"name": "鞍钢集团有限公司", "source": "referral"}))
        .await;
    let (s, _) =
        app.send("POST", x, "/api/v1/contacts", serde_json::json!({"account_id": a["id"], "name": "刘建国"})).await;
    assert_eq!(s, 201);
    let clock_before = || async {
        let q = Sql::new("SELECT progress_clock_at FROM accounts WHERE name = $1").arg("鞍钢集团有限公司");
        let (t,): (Option<chrono::DateTime<chrono::Utc>>,) = app.db.fetch_one(q).await.unwrap();
        t
    };
    let clock = clock_before().await;
    app.clock.advance(chrono::Duration::days(3));
    let path = dir.path().join("商机.csv");
    std::fs::write(
        &path,
        "客户名称,商机名称,阶段,介入阶段,金额,预计成交日期,相关联系人,备注\n\
         鞍钢集团有限公司,炼钢厂能源管理系统,可研,立项,１２５万,2027/6/30,刘建国,刘总支持\n\
         鞍钢集团有限公司,冷轧线自动化改造,Closed Won,,\"1,800,000.00\",6/30/2027,王五,\n\
         鞍钢集团有限公司,烧结机改造,谈判中,,,,,\n\
         鞍钢集团有限公司,高炉备件,设计,招标,,,,\n\
         不存在的公司,某项目,立项,,,,,\n\
         鞍钢集团有限公司,炼钢厂能源管理系统,可研,,,,,重复的一行\n",
    )
    .unwrap();
    let opts = Options::default();
    let plan = import::plan(&path, &opts).unwrap();
    assert_eq!(plan.kind, Kind::Opportunities, "guessed from the columns");
    let (r, errors) = run(app, &path, &opts).await;
    let report = r.unwrap();
    let c = report.counts;
    assert_eq!((c.created, c.failed, c.warnings, c.merged), (2, 3, 1, 1), "{report:?}");
    let mut codes: Vec<(u64, &str)> =
        report.problems.iter().filter(|p| p.severity != Severity::Note).map(|p| (p.line, p.code.as_str())).collect();
    codes.sort();
    assert_eq!(
        codes,
        vec![(3, "contact_not_found"), (4, "unknown_value"), (5, "after_stage"), (6, "account_not_found")],
        "{report:?}"
    );
    assert_eq!(bad_rows(&errors).len(), 3, "the bad rows, to fix and upload again");
    let (_, listed) = app.get(x, "/api/v1/opportunities").await;
    let deals = listed["items"].as_array().unwrap();
    let energy = deals.iter().find(|d| d["name"] == "炼钢厂能源管理系统").unwrap();
    assert_eq!(
        (energy["stage"].as_str(), energy["entry_timing"].as_str(), energy["amount_fen"].as_i64()),
        (Some("feasibility"), Some("first_mover"), Some(125_000_000))
    );
    assert_eq!(energy["contacts"][0]["name"], "刘建国");
    assert_eq!(energy["expected_close_on"], "2027-06-30");
    assert_eq!(energy["owner_id"].as_str(), Some(w.sales_x.id.to_string().as_str()), "the account's owner");
    let won = deals.iter().find(|d| d["name"] == "冷轧线自动化改造").unwrap();
    assert_eq!((won["stage"].as_str(), won["status"].as_str()), (Some("award"), Some("won")));
    assert_eq!(clock_before().await, clock, "history brought in restarts no idle clock");

    // The same file again changes nothing.
    let (r, _) = run(app, &path, &opts).await;
    let c = r.unwrap().counts;
    assert_eq!((c.created, c.updated, c.unchanged), (0, 0, 2));

    // The export reads back as the same deals; with update_existing an edited amount is taken.
    let out = dir.path().join("out.csv");
    let mut sheet =
        Sheet::open(Format::Csv, std::fs::File::create(&out).unwrap(), &guanxi_exchange::opportunities::COLUMNS)
            .unwrap();
    let viewer = guanxi_store::Viewer::whole(app.workspace);
    let filter = guanxi_store::opportunities::OpportunityFilter::default();
    assert_eq!(guanxi_exchange::opportunities::export(&app.db, viewer, &filter, &mut sheet).await.unwrap(), 2);
    sheet.finish().unwrap();
    let text = std::fs::read_to_string(&out).unwrap().replace("1250000.00", "1300000.00");
    std::fs::write(&out, text).unwrap();
    let guanxi = Options { preset: Some("guanxi".into()), update_existing: true, ..Options::default() };
    let (r, _) = run(app, &out, &guanxi).await;
    let c = r.unwrap().counts;
    assert_eq!((c.created, c.updated, c.failed), (0, 2, 0));
    assert_eq!(app.count("opportunities").await, 2);
    let (_, listed) = app.get(x, "/api/v1/opportunities").await;
    let energy =
        listed["items"].as_array().unwrap().iter().find(|d| d["name"] == "炼钢厂能源管理系统").cloned().unwrap();
    assert_eq!(
        (energy["amount_fen"].as_i64(), energy["contacts"][0]["name"].as_str()),
        (Some(130_000_000), Some("刘建国"))
    );

    // Touches from a spreadsheet find their deal by name at the account; an unknown one is a warning.
    let touches = dir.path().join("跟进.csv");
    std::fs::write(
        &touches,
        "客户名称,关联商机,跟进方式,跟进时间,跟进内容\n\
         鞍钢集团有限公司,炼钢厂能源管理系统,拜访,2026-03-01 14:30,讲了方案\n\
         鞍钢集团有限公司,没有这个商机,电话,2026-03-02 10:00,问了进度\n",
    )
    .unwrap();
    let (r, _) = run(app, &touches, &Options { kind: Some(Kind::Activities), ..Options::default() }).await;
    let report = r.unwrap();
    assert_eq!((report.counts.created, report.counts.warnings), (2, 1), "{report:?}");
    assert!(report.problems.iter().any(|p| p.code == "opportunity_not_found" && p.line == 3), "{report:?}");
    let energy_id = energy["id"].as_str().unwrap();
    let (_, linked) = app.get(x, &format!("/api/v1/activities?opportunity_id={energy_id}")).await;
    assert_eq!(linked["items"].as_array().unwrap().len(), 1, "{linked}");

    // Undo of the first import moves what it created to the recycle bin.
    let q = Sql::new("SELECT id FROM imports WHERE kind = 'opportunities' ORDER BY created_at, id LIMIT 1");
    let (first,): (uuid::Uuid,) = app.db.fetch_one(q).await.unwrap();
    let actor = guanxi_store::Actor::system(app.workspace, "test");
    let id = guanxi_domain::ImportId::from_uuid(first);
    assert_eq!(guanxi_store::imports::undo(&app.db, &actor, id, "opportunities", app.now()).await.unwrap(), Some(2));
    let (_, listed) = app.get(x, "/api/v1/opportunities").await;
    assert!(listed["items"].as_array().unwrap().is_empty());
}
both!(opportunities_from_a_spreadsheet_and_back);

/// Runs an import of `path` as the system; its id and report.
async fn run_id(app: &TestApp, path: &Path) -> (guanxi_domain::ImportId, Report) {
    let who = Who::system(app.workspace);
    let opts = Options::default();
    let plan = import::plan(path, &opts).unwrap();
    let size = std::fs::metadata(path).unwrap().len();
    let id = import::record(&app.db, &who, "a.csv", import::Kept::Path(path), size, plan.kind, &opts, app.now())
        .await
        .unwrap();
    let report = import::run(&app.db, &who, id, &plan, &opts, None, app.clock.as_ref()).await.unwrap();
    (id, report)
}

async fn undo(app: &TestApp, id: guanxi_domain::ImportId) -> Option<u64> {
    let actor = guanxi_store::Actor::system(app.workspace, "test");
    guanxi_store::imports::undo(&app.db, &actor, id, "accounts", app.now()).await.unwrap()
}

/// A second run of a file never takes the first run's records from it: the
/// first run's undo still removes them. A run that stopped before it was
/// done (killed, its terms never merged) is adopted by the next run of the
/// file, which indexes its records and whose undo removes them too.
async fn a_rerun_keeps_a_done_import_and_adopts_a_stopped_one(app: &TestApp) {
    let two = "客户名称,电话\n鞍山钢铁集团有限公司,0412-6723 000\n本溪钢铁集团有限公司,\n";
    let (_dir, path) = csv_file(two);
    let (first, r) = run_id(app, &path).await;
    assert_eq!(r.counts.created, 2);
    let (second, r) = run_id(app, &path).await;
    assert_eq!((r.counts.created, r.counts.unchanged), (0, 2));
    assert_eq!(undo(app, second).await, Some(0), "the rerun created nothing");
    assert_eq!(undo(app, first).await, Some(2), "the first run's undo removes what it made");
    assert!(names(app).await.is_empty());

    // A run killed after writing, before merging its terms: as it leaves the database.
    let (killed, r) = run_id(app, &path).await;
    assert_eq!(r.counts.created, 2);
    app.db
        .execute(Sql::new("UPDATE imports SET status = 'running', unindexed = $1 WHERE id = $2").arg(true).arg(killed))
        .await
        .unwrap();
    let q = Sql::new(
        "DELETE FROM search_terms WHERE entity_id IN (SELECT entity_id FROM import_keys WHERE import_id = $1)",
    );
    app.db.execute(q.arg(killed)).await.unwrap();
    assert_eq!(found(app, "钢铁").await, Vec::<String>::new(), "its records are out of search");
    // The file again, with the row the killed run never reached.
    let (_dir, path) = csv_file(&format!("{two}抚顺特殊钢股份有限公司,\n"));
    let (rerun, r) = run_id(app, &path).await;
    assert_eq!((r.counts.created, r.counts.unchanged), (1, 2));
    assert_eq!(
        found(app, "有限").await,
        vec!["抚顺特殊钢股份有限公司", "本溪钢铁集团有限公司", "鞍山钢铁集团有限公司"],
        "every record either run wrote is found"
    );
    assert_eq!(undo(app, rerun).await, Some(3), "the rerun's undo removes what both runs created");
    assert!(names(app).await.is_empty());
}
both!(a_rerun_keeps_a_done_import_and_adopts_a_stopped_one);
