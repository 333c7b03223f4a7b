//! Import over HTTP: a resumable upload in chunks, the preview the mapping
//! editor shows, a dry run that writes nothing, the import in the background
//! with its progress and report, the bad rows and the file to download,
//! who sees which import, undo into the recycle bin, saved mappings, and an
//! import whose server stopped.

use crate::harness::TestApp;
use guanxi_domain::{ImportId, Role};
use guanxi_exchange::import::{self, stored, Options, Who};
use guanxi_store::Sql;
use serde_json::{json, Value};

fn gbk(text: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(text).0.into_owned()
}

pub(crate) async fn put(app: &TestApp, token: &str, id: &str, offset: usize, bytes: &[u8]) -> (u16, Value) {
    let res = app
        .client()
        .put(app.url(&format!("/api/v1/uploads/{id}?offset={offset}")))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    crate::harness::read(res).await
}

/// Uploads `bytes` as `name` in one chunk.
async fn upload(app: &TestApp, token: &str, name: &str, bytes: &[u8]) -> String {
    let (s, up) = app.send("POST", token, "/api/v1/uploads", json!({"name": name, "size": bytes.len()})).await;
    assert_eq!(s, 201, "{up}");
    let id = up["id"].as_str().unwrap().to_owned();
    let (s, done) = put(app, token, &id, 0, bytes).await;
    assert_eq!(s, 200, "{done}");
    id
}

/// The import once it has ended.
async fn finished(app: &TestApp, token: &str, id: &str) -> Value {
    for _ in 0..400 {
        let (s, i) = app.get(token, &format!("/api/v1/imports/{id}")).await;
        assert_eq!(s, 200, "{i}");
        if i["status"] != "queued" && i["status"] != "running" {
            return i;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("import {id} did not end");
}

async fn live_names(app: &TestApp) -> Vec<String> {
    let q = Sql::new("SELECT name FROM accounts WHERE workspace_id = $1 AND deleted_at IS NULL ORDER BY name");
    let rows: Vec<(String,)> = app.db.fetch_all(q.arg(app.workspace)).await.unwrap();
    rows.into_iter().map(|r| r.0).collect()
}

const FILE: &str = "客户名称,电话,城市,备注\r\n\
    沈阳远航电气有限公司,024-2345 6789,沈阳,老客户\r\n\
    大连港湾自动化有限公司,0411-8888 6666,大连,\r\n\
    鞍山钢城电力设备有限公司,12345,鞍山,电话有误\r\n\
    沈阳远航电气有限公司,13800138000,沈阳,同一家\r\n";

async fn upload_preview_dry_run_import_undo(app: &TestApp) {
    let w = app.world().await;
    let t = &w.sales_x.token;
    let bytes = gbk(FILE);

    // The upload goes up in two chunks; a retried first chunk is refused with
    // the offset to go on from, as a client resuming after a dropped link sees.
    let (s, up) = app.send("POST", t, "/api/v1/uploads", json!({"name": "客户名单.csv", "size": bytes.len()})).await;
    assert_eq!(s, 201, "{up}");
    assert_eq!(up["received"], 0);
    let file_id = up["id"].as_str().unwrap().to_owned();
    let (s, part) = put(app, t, &file_id, 0, &bytes[..40]).await;
    assert_eq!((s, part["received"].as_i64()), (200, Some(40)));
    assert!(part["completed_at"].is_null());
    let (s, early) = app.send("POST", t, "/api/v1/imports/preview", json!({"file_id": file_id})).await;
    assert_eq!((s, early["errors"][0]["code"].as_str()), (422, Some("upload_incomplete")), "{early}");
    let (s, again) = put(app, t, &file_id, 0, &bytes[..40]).await;
    assert_eq!((s, again["code"].as_str()), (409, Some("upload_offset")), "{again}");
    assert!(again["detail"].as_str().unwrap().contains("40"), "{again}");
    let (_, state) = app.get(t, &format!("/api/v1/uploads/{file_id}")).await;
    assert_eq!(state["received"], 40);
    let (s, done) = put(app, t, &file_id, 40, &bytes[40..]).await;
    assert_eq!(s, 200, "{done}");
    assert_eq!(done["received"].as_i64(), Some(bytes.len() as i64));
    assert!(done["completed_at"].is_string());
    let (s, past) = put(app, t, &file_id, bytes.len(), b"x").await;
    assert_eq!((s, past["errors"][0]["code"].as_str()), (422, Some("too_long")), "{past}");
    // Someone else's upload is not there for them.
    let (s, _) = app.get(&w.sales_y.token, &format!("/api/v1/uploads/{file_id}")).await;
    assert_eq!(s, 404);

    // The preview: GBK read as such, columns mapped from their Chinese headers, samples.
    let (s, p) = app.send("POST", t, "/api/v1/imports/preview", json!({"file_id": file_id})).await;
    assert_eq!(s, 200, "{p}");
    assert!(p["format"].as_str().unwrap().contains("GB18030"), "{p}");
    assert_eq!(p["kind"], "accounts");
    assert_eq!(p["columns"][0]["column"], "客户名称");
    assert_eq!(p["columns"][0]["field"], "name");
    assert_eq!(p["columns"][0]["samples"][0], "沈阳远航电气有限公司");
    assert_eq!(p["columns"][1]["field"], "phones");
    assert!(p["fields"].as_array().unwrap().iter().any(|f| f == "uscc"));
    let bad = json!({"file_id": file_id, "columns": [{"column": "客户", "field": "name"}]});
    let (s, e) = app.send("POST", t, "/api/v1/imports/preview", bad).await;
    assert_eq!((s, e["errors"][0]["field"].as_str()), (422, Some("columns")), "{e}");
    assert!(e["errors"][0]["message"].as_str().unwrap().contains("客户"), "{e}");

    // A dry run says what would happen and writes nothing.
    let (s, dry) = app.send("POST", t, "/api/v1/imports", json!({"file_id": file_id, "dry_run": true})).await;
    assert_eq!(s, 202, "{dry}");
    let dry_id = dry["id"].as_str().unwrap().to_owned();
    let dry = finished(app, t, &dry_id).await;
    assert_eq!(dry["status"], "done", "{dry}");
    assert_eq!((dry["created"].as_i64(), dry["merged"].as_i64(), dry["failed"].as_i64()), (Some(2), Some(1), Some(1)));
    assert_eq!(dry["bytes_read"], dry["file_size"]);
    assert!(live_names(app).await.is_empty(), "a dry run writes nothing");
    let problems = dry["report"]["problems"].as_array().unwrap();
    let phone = problems.iter().find(|p| p["severity"] == "error").unwrap();
    assert_eq!(
        (phone["line"].as_i64(), phone["row"].as_i64(), phone["column"].as_str()),
        (Some(4), Some(4), Some("电话"))
    );

    // The bad rows download as a CSV to fix: BOM, the row, why, where.
    let res =
        app.client().get(app.url(&format!("/api/v1/imports/{dry_id}/errors.csv"))).bearer_auth(t).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains("filename*=UTF-8''"));
    let body = res.bytes().await.unwrap();
    assert!(body.starts_with(b"\xEF\xBB\xBF"));
    let text = String::from_utf8(body[3..].to_vec()).unwrap();
    assert!(text.starts_with("客户名称,电话,城市,备注,导入错误,文件行号,表格行号"), "{text}");
    assert!(text.contains("鞍山钢城电力设备有限公司,12345,鞍山,电话有误,"), "{text}");
    assert!(text.trim_end().ends_with(",4,4"), "{text}");

    // Then for real, in the background: the salesperson's rows are theirs.
    let (s, real) = app.send("POST", t, "/api/v1/imports", json!({"file_id": file_id})).await;
    assert_eq!(s, 202, "{real}");
    let real_id = real["id"].as_str().unwrap().to_owned();
    let real = finished(app, t, &real_id).await;
    assert_eq!((real["status"].as_str(), real["created"].as_i64()), (Some("done"), Some(2)), "{real}");
    assert_eq!(live_names(app).await, vec!["大连港湾自动化有限公司", "沈阳远航电气有限公司"]);
    let (s, mine) = app.get(t, "/api/v1/accounts?limit=10").await;
    assert_eq!((s, mine["items"].as_array().unwrap().len()), (200, 2));
    assert!(mine["items"].as_array().unwrap().iter().all(|a| a["owner_id"] == json!(w.sales_x.id)));

    // The kept file is the one uploaded, byte for byte.
    let res =
        app.client().get(app.url(&format!("/api/v1/imports/{real_id}/file"))).bearer_auth(t).send().await.unwrap();
    assert_eq!(res.status(), 200, "{real}");
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // Who sees which import: the importer and admins, not a colleague.
    let (_, list) = app.get(t, "/api/v1/imports").await;
    let ids: Vec<&str> = list["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![real_id.as_str(), dry_id.as_str()], "newest first");
    let (s, _) = app.get(&w.sales_y.token, &format!("/api/v1/imports/{real_id}")).await;
    assert_eq!(s, 404);
    let (_, theirs) = app.get(&w.sales_y.token, "/api/v1/imports").await;
    assert_eq!(theirs["items"].as_array().unwrap().len(), 0);
    let (s, _) = app.get(&app.admin.token, &format!("/api/v1/imports/{real_id}")).await;
    assert_eq!(s, 200);

    // Undo: a dry run has nothing to undo; the import's records go to the
    // recycle bin, audited, and a second undo does nothing.
    let (s, e) = app.send("POST", t, &format!("/api/v1/imports/{dry_id}/undo"), json!({})).await;
    assert_eq!((s, e["code"].as_str()), (409, Some("not_undoable")));
    let (s, undone) = app.send("POST", t, &format!("/api/v1/imports/{real_id}/undo"), json!({})).await;
    assert_eq!((s, undone["status"].as_str()), (200, Some("undone")), "{undone}");
    assert!(undone["undone_at"].is_string());
    assert!(live_names(app).await.is_empty());
    let q = Sql::new(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'delete' AND entity_type = 'account' AND actor_id = $1",
    );
    let (deleted,): (i64,) = app.db.fetch_one(q.arg(w.sales_x.id)).await.unwrap();
    assert_eq!(deleted, 2);
    let (s, e) = app.send("POST", t, &format!("/api/v1/imports/{real_id}/undo"), json!({})).await;
    assert_eq!((s, e["code"].as_str()), (409, Some("not_undoable")));
    // Each is restorable from the recycle bin.
    let (_, bin) = app.get(t, "/api/v1/accounts?deleted=true").await;
    let first = bin["items"][0]["id"].as_str().expect("the undone accounts are in the recycle bin").to_owned();
    let (s, back) = app.send("POST", t, &format!("/api/v1/accounts/{first}/restore"), json!({})).await;
    assert_eq!(s, 200, "{back}");
    assert_eq!(live_names(app).await.len(), 1);
}
both!(upload_preview_dry_run_import_undo);

async fn limits_window_and_interrupted_imports(app: &TestApp) {
    let t = &app.admin.token;
    // A file past the limit is refused before a byte is sent.
    let (s, e) = app.send("POST", t, "/api/v1/uploads", json!({"name": "huge.csv", "size": 2_i64 << 30})).await;
    assert_eq!((s, e["errors"][0]["code"].as_str()), (422, Some("too_large")), "{e}");
    let (s, e) = app.send("POST", t, "/api/v1/uploads", json!({"name": "", "size": 10})).await;
    assert_eq!((s, e["errors"][0]["field"].as_str()), (422, Some("name")), "{e}");

    // Undo has a window: past it, the import stays.
    let file = upload(app, t, "a.csv", "客户名称\n营口港务集团有限公司\n".as_bytes()).await;
    let (_, i) = app.send("POST", t, "/api/v1/imports", json!({"file_id": file})).await;
    let id = i["id"].as_str().unwrap().to_owned();
    assert_eq!(finished(app, t, &id).await["created"], 1);
    app.clock.advance(chrono::Duration::days(8));
    let (s, e) = app.send("POST", t, &format!("/api/v1/imports/{id}/undo"), json!({})).await;
    assert_eq!((s, e["code"].as_str()), (409, Some("not_undoable")), "{e}");
    assert!(e["detail"].as_str().unwrap().contains("7 days"), "{e}");
    assert_eq!(live_names(app).await, vec!["营口港务集团有限公司"]);

    // An import whose server stopped (queued, never heard of again) is marked
    // failed by the sweep, with what to do; a live one is left alone.
    let who = Who::system(app.workspace);
    let opts = Options::default();
    let kind = guanxi_exchange::fields::Kind::Accounts;
    let path = std::path::Path::new("gone.csv");
    let stale =
        import::record(&app.db, &who, "gone.csv", import::Kept::Path(path), 10, kind, &opts, app.now()).await.unwrap();
    app.clock.advance(chrono::Duration::minutes(11));
    let fresh =
        import::record(&app.db, &who, "new.csv", import::Kept::Path(path), 10, kind, &opts, app.now()).await.unwrap();
    assert_eq!(stored::sweep(&app.db, app.clock.as_ref()).await.unwrap(), 1);
    let get =
        |id: ImportId| async move { guanxi_store::imports::get(&app.db, app.workspace, id).await.unwrap().unwrap() };
    let gone = get(stale).await;
    assert_eq!(gone.status, "failed");
    assert!(gone.error.unwrap().contains("import the same file again"));
    assert_eq!(get(fresh).await.status, "queued");
}
both!(limits_window_and_interrupted_imports);

async fn saved_mappings(app: &TestApp) {
    let t = &app.admin.token;
    let m = json!({"name": "销售易导出", "kind": "accounts", "columns": [{"column": "公司", "field": "name"}, {"column": "座机", "field": "phones"}]});
    let (s, saved) = app.send("POST", t, "/api/v1/import-mappings", m).await;
    assert_eq!(s, 201, "{saved}");
    // The same name again replaces it.
    let m = json!({"name": "销售易导出", "kind": "accounts", "columns": [{"column": "公司全称", "field": "name"}]});
    let (s, replaced) = app.send("POST", t, "/api/v1/import-mappings", m).await;
    assert_eq!(s, 201);
    let (_, list) = app.get(t, "/api/v1/import-mappings").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["columns"][0]["column"], "公司全称");
    let bad = json!({"name": "x", "kind": "contacts", "columns": [{"column": "公司", "field": "uscc"}]});
    let (s, e) = app.send("POST", t, "/api/v1/import-mappings", bad).await;
    assert_eq!((s, e["errors"][0]["field"].as_str()), (422, Some("columns")), "{e}");
    let id = replaced["id"].as_str().unwrap();
    let (s, _) = app.send("DELETE", t, &format!("/api/v1/import-mappings/{id}"), json!({})).await;
    assert_eq!(s, 204);
    let (_, list) = app.get(t, "/api/v1/import-mappings").await;
    assert!(list.as_array().unwrap().is_empty());
    let (s, _) = app.send("DELETE", t, &format!("/api/v1/import-mappings/{id}"), json!({})).await;
    assert_eq!(s, 404);
    // The mapping's use: a file of that layout imports with it.
    let file = upload(app, t, "b.csv", "公司全称,座机\n锦州热电有限公司,0416-1234567\n".as_bytes()).await;
    let cols = json!([{"column": "公司全称", "field": "name"}, {"column": "座机", "field": "phones"}]);
    let (s, i) = app.send("POST", t, "/api/v1/imports", json!({"file_id": file, "columns": cols})).await;
    assert_eq!(s, 202, "{i}");
    let i = finished(app, t, i["id"].as_str().unwrap()).await;
    assert_eq!(i["created"], 1, "{i}");
    let q = Sql::new("SELECT COUNT(*) FROM account_phones p JOIN accounts a ON a.id = p.account_id WHERE a.name = $1");
    let (n,): (i64,) = app.db.fetch_one(q.arg("锦州热电有限公司")).await.unwrap();
    assert_eq!(n, 1);
}
both!(saved_mappings);

/// Deals go up the same way: the preview names the kind from the columns, a
/// dry run reports, the import links them to the account, undo removes them.
async fn opportunities_through_an_upload(app: &TestApp) {
    let w = app.world().await;
    let t = &w.sales_x.token;
    let (s, a) =
        app.send("POST", t, "/api/v1/accounts", json!({"name": "沈阳远航电气有限公司", "source": "referral"})).await;
    assert_eq!(s, 201, "{a}");
    let file = "客户名称,商机名称,阶段,金额\r\n沈阳远航电气有限公司,配网自动化改造,厂家征询,80万\r\n沈阳远航电气有限公司,备件年度采购,报价,\r\n";
    let file_id = upload(app, t, "商机.csv", &gbk(file)).await;
    let (s, p) = app.send("POST", t, "/api/v1/imports/preview", json!({"file_id": file_id})).await;
    assert_eq!((s, p["kind"].as_str()), (200, Some("opportunities")), "{p}");
    let (s, dry) = app.send("POST", t, "/api/v1/imports", json!({"file_id": file_id, "dry_run": true})).await;
    assert_eq!(s, 202, "{dry}");
    let dry = finished(app, t, dry["id"].as_str().unwrap()).await;
    assert_eq!((dry["created"].as_i64(), dry["failed"].as_i64()), (Some(1), Some(1)), "{dry}");
    assert_eq!(app.count("opportunities").await, 0, "a dry run writes nothing");
    let (s, run) = app.send("POST", t, "/api/v1/imports", json!({"file_id": file_id})).await;
    assert_eq!(s, 202, "{run}");
    let id = run["id"].as_str().unwrap().to_owned();
    let done = finished(app, t, &id).await;
    assert_eq!((done["status"].as_str(), done["created"].as_i64()), (Some("done"), Some(1)), "{done}");
    let (_, deals) = app.get(t, &format!("/api/v1/opportunities?account_id={}", a["id"].as_str().unwrap())).await;
    let deal = &deals["items"][0];
    assert_eq!(
        (deal["name"].as_str(), deal["entry_timing"].as_str(), deal["amount_fen"].as_i64()),
        (Some("配网自动化改造"), Some("no_first_mover"), Some(80_000_000))
    );
    let (s, undone) = app.send("POST", t, &format!("/api/v1/imports/{id}/undo"), json!({})).await;
    assert_eq!(s, 200, "{undone}");
    let (_, deals) = app.get(t, "/api/v1/opportunities").await;
    assert!(deals["items"].as_array().unwrap().is_empty(), "undo sent the deal to the recycle bin");
}
both!(opportunities_through_an_upload);

/// An import changes only what its importer could change through the API:
/// rows naming another team's account, contact or deal by its Guanxi id
/// (with `update_existing`) leave them as they are, each with a warning.
async fn an_import_updates_only_what_the_importer_may_change(app: &TestApp) {
    let w = app.world().await;
    let (x, y) = (&w.sales_x.token, &w.sales_y.token);
    let (s, a) = app
        .send(
            "POST",
            x,
            "/api/v1/accounts",
            json!({"name": "沈阳远航电气有限公司", "source": "referral", "industry": "电力"}),
        )
        .await;
    assert_eq!(s, 201, "{a}");
    let a_id = a["id"].as_str().unwrap().to_owned();
    let (s, c) = app.send("POST", x, "/api/v1/contacts", json!({"account_id": a_id, "name": "刘建国"})).await;
    assert_eq!(s, 201, "{c}");
    let (s, d) = app
        .send(
            "POST",
            x,
            "/api/v1/opportunities",
            json!({"account_id": a_id, "name": "配网自动化改造", "stage": "initiation"}),
        )
        .await;
    assert_eq!(s, 201, "{d}");
    let (s, b) = app
        .send("POST", y, "/api/v1/accounts", json!({"name": "北京华北电网设备有限公司", "source": "referral"}))
        .await;
    assert_eq!(s, 201, "{b}");
    let b_id = b["id"].as_str().unwrap().to_owned();
    let (_, before) = app.get(x, &format!("/api/v1/accounts/{a_id}")).await;
    let files = [
        ("accounts", format!("id,name,industry\r\n{a_id},被改名的公司,建筑\r\n")),
        ("contacts", format!("id,name,account_id\r\n{},改过的名字,{b_id}\r\n", c["id"].as_str().unwrap())),
        (
            "opportunities",
            format!("id,account_id,name,stage\r\n{},{b_id},被改的商机,招标\r\n", d["id"].as_str().unwrap()),
        ),
    ];
    for (kind, file) in files {
        let file_id = upload(app, y, &format!("{kind}.csv"), file.as_bytes()).await;
        let body = json!({"file_id": file_id, "kind": kind, "preset": "guanxi", "update_existing": true});
        let (s, run) = app.send("POST", y, "/api/v1/imports", body).await;
        assert_eq!(s, 202, "{run}");
        let done = finished(app, y, run["id"].as_str().unwrap()).await;
        assert_eq!((done["status"].as_str(), done["updated"].as_i64()), (Some("done"), Some(0)), "{kind}: {done}");
        let warned = done["report"]["problems"].as_array().unwrap().iter().any(|p| p["code"] == "not_visible");
        assert!(warned, "{kind}: {done}");
    }
    let (_, after) = app.get(x, &format!("/api/v1/accounts/{a_id}")).await;
    assert_eq!(after, before, "the account is as it was");
    let (_, contact) = app.get(x, &format!("/api/v1/contacts/{}", c["id"].as_str().unwrap())).await;
    assert_eq!((contact["name"].as_str(), contact["account_id"].as_str()), (Some("刘建国"), Some(a_id.as_str())));
    let (_, deal) = app.get(x, &format!("/api/v1/opportunities/{}", d["id"].as_str().unwrap())).await;
    assert_eq!((deal["name"].as_str(), deal["account_id"].as_str()), (Some("配网自动化改造"), Some(a_id.as_str())));

    // Their own account, named the same way, is theirs to update.
    let file = format!("id,name,industry\r\n{b_id},北京华北电网设备有限公司,建筑\r\n");
    let file_id = upload(app, y, "mine.csv", file.as_bytes()).await;
    let body = json!({"file_id": file_id, "kind": "accounts", "preset": "guanxi", "update_existing": true});
    let (_, run) = app.send("POST", y, "/api/v1/imports", body).await;
    let done = finished(app, y, run["id"].as_str().unwrap()).await;
    assert_eq!(done["updated"].as_i64(), Some(1), "{done}");

    // 客服 reads customers but imports no sales records.
    let service = app.user_in(app.workspace, "service@test.example", "客服小王", Role::Service, None).await;
    let file_id = upload(app, &service.token, "accounts.csv", "客户名称\r\n营口新客户有限公司\r\n".as_bytes()).await;
    let (s, problem) = app.send("POST", &service.token, "/api/v1/imports", json!({"file_id": file_id})).await;
    assert_eq!((s, problem["code"].as_str()), (403, Some("forbidden")), "{problem}");
}
both!(an_import_updates_only_what_the_importer_may_change);
