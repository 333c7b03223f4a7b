//! Export: the accounts and contacts a list shows, as CSV that opens in
//! Excel on Chinese Windows and cannot run formulas there, as XLSX, and
//! contacts as vCards.

use crate::harness::TestApp;
use serde_json::json;

async fn csv_of(app: &TestApp, token: &str, query: &str) -> (u16, String, Vec<csv::StringRecord>) {
    let res =
        app.client().get(app.url(&format!("/api/v1/accounts/export{query}"))).bearer_auth(token).send().await.unwrap();
    let status = res.status().as_u16();
    let kind = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let bytes = res.bytes().await.unwrap();
    if status != 200 {
        return (status, String::from_utf8_lossy(&bytes).into_owned(), Vec::new());
    }
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "a BOM, so Excel reads UTF-8");
    let rows = csv::Reader::from_reader(&bytes[3..]).records().map(Result::unwrap).collect();
    (status, kind, rows)
}

async fn accounts_export_as_the_list_filters_them(app: &TestApp) {
    let w = app.world().await;
    let x = &w.sales_x.token;
    for (name, class, notes) in [
        ("国网辽宁省电力有限公司", "a", "=HYPERLINK(\"http://evil.example\",\"点我\")"),
        ("大连港集团有限公司", "b", "老客户，按年采购"),
        ("鞍钢集团有限公司", "a", "@SUM(1+1)"),
    ] {
        let (status, v) = app
            .send(
                "POST",
                x,
                "/api/v1/accounts",
                json!({"name": name, "source": "cold_call", "classification": class, "notes": notes, "tags": ["-重点"]}),
            )
            .await;
        assert_eq!(status, 201, "{v}");
    }
    let (status, _) = app
        .send(
            "POST",
            &w.sales_y.token,
            "/api/v1/accounts",
            json!({"name": "沈阳鼓风机集团股份有限公司", "source": "other"}),
        )
        .await;
    assert_eq!(status, 201);

    let (status, kind, rows) = csv_of(app, x, "").await;
    assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"));
    assert_eq!(rows.len(), 3, "only what the caller may see");
    let header = guanxi_exchange::accounts::COLUMNS;
    let col = |name: &str| header.iter().position(|c| *c == name).unwrap();
    let by_name = |n: &str| rows.iter().find(|r| &r[col("name")] == n).unwrap().clone();
    // Formula-like cells are neutralised; text stays as it was.
    assert_eq!(&by_name("国网辽宁省电力有限公司")[col("notes")], "'=HYPERLINK(\"http://evil.example\",\"点我\")");
    assert_eq!(&by_name("鞍钢集团有限公司")[col("notes")], "'@SUM(1+1)");
    assert_eq!(&by_name("大连港集团有限公司")[col("notes")], "老客户，按年采购");
    assert_eq!(&by_name("大连港集团有限公司")[col("tags")], "'-重点");
    assert_eq!(&by_name("大连港集团有限公司")[col("classification")], "b");

    // The list's filters apply; a bad one is named.
    let (_, _, rows) = csv_of(app, x, "?classification=a").await;
    assert_eq!(rows.len(), 2);
    let (status, body, _) = csv_of(app, x, "?region_code=999999").await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("region_code"), "{body}");

    // Past one page (1,000 rows) nothing is lost or repeated: the admin sees the pool's too.
    for i in 0..1005 {
        app.legacy_account(&format!("生成测试客户{i:04}有限公司"), None).await;
    }
    let (_, _, rows) = csv_of(app, &app.admin.token, "").await;
    assert_eq!(rows.len(), 1009);
    let mut ids: Vec<String> = rows.iter().map(|r| r[col("id")].to_owned()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 1009);
}
both!(accounts_export_as_the_list_filters_them);

async fn download(app: &TestApp, token: &str, path: &str) -> (u16, String, Vec<u8>) {
    let res = app.client().get(app.url(path)).bearer_auth(token).send().await.unwrap();
    let status = res.status().as_u16();
    let kind = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, kind, res.bytes().await.unwrap().to_vec())
}

/// The cells of a workbook's first sheet, as text.
fn xlsx_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    use calamine::{Reader, Xlsx};
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    range.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect()
}

/// A note longer than a vCard line, with a comma vCard escapes.
const NOTE: &str = "爱好钓鱼，周末不接电话；关心明年技改预算，对国产化替代持开放态度，要先过总工这一关。";

async fn xlsx_and_contact_exports(app: &TestApp) {
    let w = app.world().await;
    let x = &w.sales_x.token;
    let (s, a) = app
        .send(
            "POST",
            x,
            "/api/v1/accounts",
            json!({"name": "国网辽宁省电力有限公司", "source": "cold_call", "phones": ["024-2345 6789"], "notes": "=1+1"}),
        )
        .await;
    assert_eq!(s, 201, "{a}");
    let (s, _) = app
        .send("POST", &w.sales_y.token, "/api/v1/accounts", json!({"name": "华北电力设备有限公司", "source": "other"}))
        .await;
    assert_eq!(s, 201);
    let (s, c) = app
        .send(
            "POST",
            x,
            "/api/v1/contacts",
            json!({"account_id": a["id"], "name": "王建国", "department": "生产技术部", "title": "主任",
                "phones": ["138 0013 8000", "024-2345 6790"], "emails": ["wang@ln.example"], "wechat": "wjg_1975",
                "birthday": "1975-03-08", "notes": NOTE, "tags": ["技术把关"]}),
        )
        .await;
    assert_eq!(s, 201, "{c}");

    // Accounts as XLSX: the caller's rows, every cell text (a formula stays text, never runs).
    let (s, kind, bytes) = download(app, x, "/api/v1/accounts/export?format=xlsx").await;
    assert_eq!(s, 200);
    assert_eq!(kind, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    let rows = xlsx_rows(&bytes);
    assert_eq!(rows[0], guanxi_exchange::accounts::COLUMNS.map(String::from).to_vec());
    assert_eq!(rows.len(), 2, "only what the caller may see: {rows:?}");
    let col = |name: &str| guanxi_exchange::accounts::COLUMNS.iter().position(|c| *c == name).unwrap();
    assert_eq!(rows[1][col("name")], "国网辽宁省电力有限公司");
    assert_eq!(rows[1][col("phones")], "024-2345 6789");
    assert_eq!(rows[1][col("notes")], "=1+1");
    let (s, _, body) = download(app, x, "/api/v1/accounts/export?format=pdf").await;
    assert_eq!(s, 422, "{}", String::from_utf8_lossy(&body));

    // Contacts as CSV and XLSX in the guanxi layout, and as vCards.
    let ccol = |name: &str| guanxi_exchange::contacts::COLUMNS.iter().position(|c| *c == name).unwrap();
    let (s, kind, bytes) = download(app, x, "/api/v1/contacts/export").await;
    assert_eq!((s, kind.as_str()), (200, "text/csv; charset=utf-8"));
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(&bytes[3..]).records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][ccol("account_id")], a["id"].as_str().unwrap());
    assert_eq!(&rows[0][ccol("phones")], "138 0013 8000; 024-2345 6790");
    let (s, _, bytes) = download(app, x, "/api/v1/contacts/export?format=xlsx").await;
    assert_eq!(s, 200);
    let rows = xlsx_rows(&bytes);
    assert_eq!((rows.len(), rows[1][ccol("name")].as_str()), (2, "王建国"));
    let (s, _, bytes) = download(app, &w.sales_y.token, "/api/v1/contacts/export?format=xlsx").await;
    assert_eq!((s, xlsx_rows(&bytes).len()), (200, 1), "a colleague's contacts are not theirs to export");

    let (s, kind, bytes) = download(app, x, "/api/v1/contacts/export?format=vcf").await;
    assert_eq!((s, kind.as_str()), (200, "text/vcard; charset=utf-8"));
    let card = String::from_utf8(bytes).unwrap();
    assert!(card.starts_with("BEGIN:VCARD\r\nVERSION:4.0\r\n"), "{card}");
    assert!(card.contains("\r\nFN:王建国\r\n"), "{card}");
    assert!(card.contains("\r\nORG:国网辽宁省电力有限公司;生产技术部\r\n"), "{card}");
    assert!(card.contains("\r\nTITLE:主任\r\n"), "{card}");
    assert!(card.contains("\r\nTEL;TYPE=cell,voice:138 0013 8000\r\n"), "{card}");
    assert!(card.contains("\r\nTEL;TYPE=work,voice:024-2345 6790\r\n"), "{card}");
    assert!(card.contains("\r\nEMAIL:wang@ln.example\r\n"), "{card}");
    assert!(card.contains("\r\nBDAY:19750308\r\n"), "{card}");
    // A long note is folded at 75 octets (CRLF and a space) and unfolds to itself.
    assert!(card.lines().all(|l| l.trim_end_matches('\r').len() <= 75), "folded at 75 octets: {card}");
    let unfolded = card.replace("\r\n ", "");
    assert!(unfolded.contains(&format!("\r\nNOTE:{}\r\n", NOTE.replace(',', "\\,"))), "{card}");
    assert!(card.contains("\r\nX-WECHAT:wjg_1975\r\n"), "{card}");
    assert!(card.contains(&format!("UID:urn:uuid:{}", c["id"].as_str().unwrap())), "{card}");
    assert!(card.ends_with("END:VCARD\r\n"));
}
both!(xlsx_and_contact_exports);
