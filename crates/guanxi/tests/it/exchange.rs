//! Export: the accounts a list shows, as CSV that opens in Excel on Chinese
//! Windows and cannot run formulas there.

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
