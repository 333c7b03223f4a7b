//! End to end in a real headless Chromium (Debian's `chromium` and
//! `chromium-driver`): log in, open 设置 → 用户, check the page. Screenshots
//! land in the target directory for people to look at.

use crate::harness::{TestApp, PASSWORD};
use fantoccini::{ClientBuilder, Locator};
use std::process::Stdio;
use std::time::Duration;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

struct Driver {
    child: tokio::process::Child,
    url: String,
    _profile: tempfile::TempDir,
}

async fn driver() -> Driver {
    assert!(
        std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new("/usr/bin/chromium").exists(),
        "browser tests need Debian's chromium and chromium-driver: apt-get install chromium chromium-driver (the README says so; .ci/run installs them)"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = tokio::process::Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Driver { child, url, _profile: tempfile::tempdir().unwrap() }
}

async fn browser(d: &Driver, width: u32, height: u32) -> fantoccini::Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--lang=zh-CN",
                format!("--window-size={width},{height}"),
                format!("--user-data-dir={}", d._profile.path().join(format!("{width}")).display()),
            ],
            "prefs": {"intl.accept_languages": "zh-CN,zh"},
        }),
    );
    ClientBuilder::rustls().unwrap().capabilities(caps).connect(&d.url).await.expect("a Chromium session")
}

fn shot_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.png"))
}

async fn log_in_and_open_the_user_settings(app: &TestApp) {
    let w = app.world().await;
    let mut d = driver().await;
    let c = browser(&d, 1280, 900).await;
    c.goto(&app.url("/settings/users")).await.unwrap();
    // Not logged in: the login page, in Chinese.
    assert!(c.current_url().await.unwrap().path().starts_with("/login"));
    let heading = c.find(Locator::Css("main h1")).await.unwrap().text().await.unwrap();
    assert!(heading.contains("关系"), "{heading}");
    c.find(Locator::Id("email")).await.unwrap().send_keys("admin@test.example").await.unwrap();
    c.find(Locator::Id("password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    // Back where the user was heading.
    c.wait().for_url(url::Url::parse(&app.url("/settings/users")).unwrap()).await.unwrap();
    let nav = c.find(Locator::Css("nav.mainnav")).await.unwrap().text().await.unwrap();
    for item in ["工作台", "客户", "联系人", "商机", "公海", "活动", "统计", "设置"] {
        assert!(nav.contains(item), "navigation has {item}: {nav}");
    }
    c.find(Locator::LinkText("工作台")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Id("worklist")).await.unwrap();
    // 设置 → 用户, by clicking as a person would.
    c.find(Locator::LinkText("设置")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css("nav.subnav")).await.unwrap();
    c.find(Locator::Css("nav.subnav"))
        .await
        .unwrap()
        .find(Locator::LinkText("用户"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let table = c.wait().for_element(Locator::Id("users-table")).await.unwrap();
    let text = table.text().await.unwrap();
    for who in ["管理员", "刘经理", "张伟", "王磊", "孙强", "sales.y@test.example"] {
        assert!(text.contains(who), "users table lists {who}: {text}");
    }
    let headers = table.find_all(Locator::Css("thead th")).await.unwrap();
    let mut names = Vec::new();
    for h in headers {
        names.push(h.text().await.unwrap());
    }
    assert_eq!(names[..4], ["姓名", "邮箱", "角色", "团队"]);
    let current = c.find(Locator::Css("nav.subnav a[aria-current=page]")).await.unwrap().text().await.unwrap();
    assert_eq!(current, "用户");
    std::fs::write(
        shot_path(&format!("settings-users-{:?}", app.backend).to_lowercase()),
        c.screenshot().await.unwrap(),
    )
    .unwrap();

    // 客户 → 新建客户: enter an account as a person would, and land on its page.
    c.find(Locator::LinkText("客户")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::LinkText("新建客户")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Id("a_name")).await.unwrap().send_keys("国网辽宁省电力有限公司").await.unwrap();
    c.find(Locator::Id("a_phones")).await.unwrap().send_keys("024-2313 0000").await.unwrap();
    // The region picker: province, then city, then district.
    for (depth, name) in [(1, "辽宁省"), (2, "沈阳市"), (3, "和平区")] {
        let option = format!(".region-picker select:nth-child({depth}) option");
        let options = c.wait().for_element(Locator::Css(&option)).await.unwrap();
        drop(options);
        let all = c.find_all(Locator::Css(&option)).await.unwrap();
        let mut picked = false;
        for o in all {
            if o.text().await.unwrap() == name {
                o.click().await.unwrap();
                picked = true;
                break;
            }
        }
        assert!(picked, "{name} offered");
    }
    std::fs::write(shot_path(&format!("account-new-{:?}", app.backend).to_lowercase()), c.screenshot().await.unwrap())
        .unwrap();
    c.find(Locator::Css("form.form button[type=submit]")).await.unwrap().click().await.unwrap();
    // The account page's tabs: the form's own h1 would be found before the page changes.
    c.wait().for_element(Locator::Css("nav.tabs")).await.unwrap();
    let h1 = c.find(Locator::Css("main h1")).await.unwrap().text().await.unwrap();
    assert!(h1.contains("国网辽宁省电力有限公司"), "{h1}");
    let facts = c.find(Locator::Css("dl.facts")).await.unwrap().text().await.unwrap();
    assert!(facts.contains("024-2313 0000") && facts.contains("辽宁省 沈阳市 和平区"), "{facts}");
    std::fs::write(shot_path(&format!("account-page-{:?}", app.backend).to_lowercase()), c.screenshot().await.unwrap())
        .unwrap();
    let account_url = c.current_url().await.unwrap();

    // 联系人 tab → 新建联系人: the first supporter, then their page.
    c.find(Locator::Css("nav.tabs a[href$='tab=people']")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::LinkText("新建联系人")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Id("c_name")).await.unwrap().send_keys("刘建国").await.unwrap();
    c.find(Locator::Id("c_title")).await.unwrap().send_keys("主任").await.unwrap();
    c.find(Locator::Css("#c_stance option[value=supporter]")).await.unwrap().click().await.unwrap();
    c.find(Locator::Id("c_phones")).await.unwrap().send_keys("139 0400 1001").await.unwrap();
    c.find(Locator::Css("form.form button[type=submit]")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css("a.button[href$='/edit']")).await.unwrap();
    let h1 = c.find(Locator::Css("main h1")).await.unwrap().text().await.unwrap();
    assert!(h1.contains("刘建国") && h1.contains("支持"), "{h1}");
    std::fs::write(shot_path(&format!("contact-page-{:?}", app.backend).to_lowercase()), c.screenshot().await.unwrap())
        .unwrap();

    // The header's search box suggests as you type (pinyin initials), and Enter opens the pick.
    let search = c.find(Locator::Id("gx-search")).await.unwrap();
    search.send_keys("gwln").await.unwrap();
    let first = c.wait().for_element(Locator::Css("#gx-suggest li a")).await.unwrap();
    assert!(first.text().await.unwrap().contains("国网辽宁省电力有限公司"));
    std::fs::write(
        shot_path(&format!("search-suggest-{:?}", app.backend).to_lowercase()),
        c.screenshot().await.unwrap(),
    )
    .unwrap();
    search.send_keys("\u{E015}").await.unwrap(); // ArrowDown
    search.send_keys("\u{E007}").await.unwrap(); // Enter
    c.wait().for_url(account_url).await.unwrap();

    // 活动 tab: its touches download from the 导出 menu.
    c.find(Locator::Css("nav.tabs a[href$='tab=activities']")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css("#activities details.menu-button summary")).await.unwrap().click().await.unwrap();
    let export = c.find(Locator::Id("activities-export")).await.unwrap();
    assert!(export.is_displayed().await.unwrap(), "the export menu opens");
    assert!(export.attr("href").await.unwrap().unwrap().contains("/api/v1/activities/export?account_id="));
    std::fs::write(
        shot_path(&format!("account-activities-export-{:?}", app.backend).to_lowercase()),
        c.screenshot().await.unwrap(),
    )
    .unwrap();

    // Typing the same organisation in another spelling warns before saving.
    c.goto(&app.url("/accounts/new")).await.unwrap();
    c.wait().for_element(Locator::Id("a_name")).await.unwrap().send_keys("國網遼寧省電力有限公司").await.unwrap();
    let warning = c.wait().for_element(Locator::Css("#dup-live li a")).await.unwrap();
    assert_eq!(warning.text().await.unwrap(), "国网辽宁省电力有限公司");
    let live = c.find(Locator::Id("dup-live")).await.unwrap().text().await.unwrap();
    assert!(live.contains("名称相同"), "{live}");
    std::fs::write(
        shot_path(&format!("account-dupcheck-{:?}", app.backend).to_lowercase()),
        c.screenshot().await.unwrap(),
    )
    .unwrap();
    c.goto(&app.url("/settings/users")).await.unwrap();
    c.wait().for_element(Locator::Id("users-table")).await.unwrap();

    // Open one user and see their team.
    c.find(Locator::LinkText("孙强")).await.unwrap().click().await.unwrap();
    let team = c.wait().for_element(Locator::Id("e_team")).await.unwrap();
    let selected = team.find(Locator::Css("option[selected]")).await.unwrap().text().await.unwrap();
    assert!(selected.contains("华北大区"), "{selected}");
    c.close().await.unwrap();

    // The same page on a phone's width still shows the table and the navigation.
    let phone = browser(&d, 390, 844).await;
    log_in(app, &phone, &w.manager_x.email).await;
    phone.goto(&app.url("/settings/profile")).await.unwrap();
    let h1 = phone.wait().for_element(Locator::Css("main h1")).await.unwrap().text().await.unwrap();
    assert_eq!(h1, "设置");
    std::fs::write(
        shot_path(&format!("settings-profile-phone-{:?}", app.backend).to_lowercase()),
        phone.screenshot().await.unwrap(),
    )
    .unwrap();
    phone.close().await.unwrap();
    let _ = d.child.kill().await;
}
both!(log_in_and_open_the_user_settings);

/// Logs a browser in as `email`.
async fn log_in(app: &TestApp, c: &fantoccini::Client, email: &str) {
    c.goto(&app.url("/login")).await.unwrap();
    c.find(Locator::Id("email")).await.unwrap().send_keys(email).await.unwrap();
    c.find(Locator::Id("password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css("nav.mainnav")).await.unwrap();
}

/// 公海 in a browser: one click (and a confirm) claims, and the account's
/// page counts down to its return; 我的客户 and the rules page on screen.
async fn claim_from_the_pool_in_a_browser(app: &TestApp) {
    let w = app.world().await;
    for (name, phone) in [("沈阳鼎盛电力科技有限公司", "138 1234 5678"), ("大连港集团有限公司", "0411-8262 8888")]
    {
        let (status, _) = app
            .send(
                "POST",
                &app.admin.token,
                "/api/v1/accounts",
                serde_json::json!({"name": name, "source": "cold_call", "owner_id": null, "phones": [phone], "region_code": "210100", "classification": "b"}),
            )
            .await;
        assert_eq!(status, 201);
    }
    let mut d = driver().await;
    let c = browser(&d, 1280, 900).await;
    log_in(app, &c, &w.sales_x.email).await;
    c.find(Locator::LinkText("公海")).await.unwrap().click().await.unwrap();
    let table = c.wait().for_element(Locator::Id("pool-table")).await.unwrap().text().await.unwrap();
    assert!(table.contains("138****5678") && table.contains("沈阳鼎盛电力科技有限公司"), "{table}");
    std::fs::write(shot_path(&format!("pool-{:?}", app.backend).to_lowercase()), c.screenshot().await.unwrap())
        .unwrap();
    c.find(Locator::Css("#pool-table tbody tr:first-child td.first button")).await.unwrap().click().await.unwrap();
    // The confirm says what claiming means; accepting claims.
    let text = c.get_alert_text().await.unwrap();
    assert!(text.contains("领取后"), "{text}");
    c.accept_alert().await.unwrap();
    let countdown = c.wait().for_element(Locator::Id("countdown")).await.unwrap().text().await.unwrap();
    assert!(countdown.contains("距进入公海") && countdown.contains("60 天"), "{countdown}");
    std::fs::write(shot_path(&format!("pool-claimed-{:?}", app.backend).to_lowercase()), c.screenshot().await.unwrap())
        .unwrap();
    c.goto(&app.url("/pool/mine")).await.unwrap();
    let mine = c.wait().for_element(Locator::Id("mine-table")).await.unwrap().text().await.unwrap();
    assert!(mine.contains("沈阳鼎盛电力科技有限公司"), "{mine}");
    std::fs::write(shot_path(&format!("pool-mine-{:?}", app.backend).to_lowercase()), c.screenshot().await.unwrap())
        .unwrap();
    c.close().await.unwrap();

    // The manager's rules page, and the pool on a phone.
    let phone = browser(&d, 390, 844).await;
    log_in(app, &phone, &w.manager_x.email).await;
    phone.goto(&app.url("/pool")).await.unwrap();
    phone.wait().for_element(Locator::Id("pool-table")).await.unwrap();
    std::fs::write(
        shot_path(&format!("pool-phone-{:?}", app.backend).to_lowercase()),
        phone.screenshot().await.unwrap(),
    )
    .unwrap();
    // The logging form on a phone: a touch and its hook in one screen.
    let (_, seen) = app.get(&w.manager_x.token, "/api/v1/accounts?limit=1").await;
    let id = seen["items"][0]["id"].as_str().expect("the claimed account, in the manager's team").to_owned();
    phone.goto(&app.url(&format!("/accounts/{id}/log"))).await.unwrap();
    phone.wait().for_element(Locator::Id("log-form")).await.unwrap();
    std::fs::write(
        shot_path(&format!("log-form-phone-{:?}", app.backend).to_lowercase()),
        phone.screenshot().await.unwrap(),
    )
    .unwrap();
    // A purchase on a phone schedules a restock reminder once the cycle is known.
    phone.goto(&app.url(&format!("/accounts/{id}/purchases"))).await.unwrap();
    phone.wait().for_element(Locator::Id("purchase-form")).await.unwrap();
    phone.find(Locator::Id("p_item")).await.unwrap().send_keys("继电保护备件").await.unwrap();
    phone.find(Locator::Id("p_cycle")).await.unwrap().send_keys("60").await.unwrap();
    phone.find(Locator::Css("#purchase-form button[type=submit]")).await.unwrap().click().await.unwrap();
    let restock = phone.wait().for_element(Locator::Css("#restock li")).await.unwrap().text().await.unwrap();
    assert!(restock.contains("继电保护备件"), "{restock}");
    std::fs::write(
        shot_path(&format!("purchases-phone-{:?}", app.backend).to_lowercase()),
        phone.screenshot().await.unwrap(),
    )
    .unwrap();
    // Reminder channels on a phone: add a robot where one stands.
    phone.goto(&app.url("/settings/notifications")).await.unwrap();
    phone.wait().for_element(Locator::Id("add-channel")).await.unwrap();
    phone.find(Locator::Id("label")).await.unwrap().send_keys("销售一组群").await.unwrap();
    phone
        .find(Locator::Id("target"))
        .await
        .unwrap()
        .send_keys("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k")
        .await
        .unwrap();
    phone.find(Locator::Css("#add-channel button[type=submit]")).await.unwrap().click().await.unwrap();
    let row = phone.wait().for_element(Locator::Css("#channels tbody tr")).await.unwrap().text().await.unwrap();
    assert!(row.contains("销售一组群") && row.contains("企业微信机器人"), "{row}");
    std::fs::write(
        shot_path(&format!("settings-notify-phone-{:?}", app.backend).to_lowercase()),
        phone.screenshot().await.unwrap(),
    )
    .unwrap();
    phone.close().await.unwrap();
    let wide = browser(&d, 1300, 1400).await;
    // The default pool's rules are the admins' to change; a manager is told so.
    log_in(app, &wide, &w.manager_x.email).await;
    wide.goto(&app.url("/settings/pools")).await.unwrap();
    let none = wide.wait().for_element(Locator::Id("no-pools")).await.unwrap().text().await.unwrap();
    assert!(none.contains("只有管理员可以修改"), "{none}");
    std::fs::write(
        shot_path(&format!("settings-pools-{:?}", app.backend).to_lowercase()),
        wide.screenshot().await.unwrap(),
    )
    .unwrap();
    wide.close().await.unwrap();
    let _ = d.child.kill().await;
}
both!(claim_from_the_pool_in_a_browser);

/// 导入 in a browser: the file goes up through the page's script (chunks,
/// progress), the mapping editor shows the columns as read, a dry run's
/// report follows its progress, then the import for real and its undo.
/// The element with `id` on a page that reloads itself until the job it
/// follows ends: a lookup during a reload fails ("aborted by navigation")
/// and is tried again, for up to 20 s.
async fn across_reloads(c: &fantoccini::Client, id: &str) -> fantoccini::elements::Element {
    let until = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match c.find(Locator::Id(id)).await {
            Ok(e) => return e,
            Err(e) if std::time::Instant::now() > until => panic!("no #{id} within 20 s: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

async fn import_in_a_browser(app: &TestApp) {
    let w = app.world().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("客户名单.csv");
    let text = "客户名称,电话,城市\n沈阳远航电气有限公司,024-2345 6789,沈阳\n大连港湾自动化有限公司,12345,大连\n";
    std::fs::write(&path, encoding_rs::GBK.encode(text).0).unwrap();
    let mut d = driver().await;
    let c = browser(&d, 1280, 1000).await;
    log_in(app, &c, &w.sales_x.email).await;
    c.goto(&app.url("/accounts")).await.unwrap();
    c.find(Locator::Css(".card-head details.menu-button summary")).await.unwrap().click().await.unwrap();
    let export = c.find(Locator::Id("accounts-export")).await.unwrap();
    assert!(export.is_displayed().await.unwrap(), "the export menu opens");
    std::fs::write(
        shot_path(&format!("accounts-export-menu-{:?}", app.backend).to_lowercase()),
        c.screenshot().await.unwrap(),
    )
    .unwrap();
    c.find(Locator::Id("accounts-import")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Id("import-form")).await.unwrap();
    c.find(Locator::Id("i_file")).await.unwrap().send_keys(&path.display().to_string()).await.unwrap();
    c.find(Locator::Id("i_upload")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css("#i_columns select")).await.unwrap();
    let first = c.find(Locator::Css("#i_columns tr:first-child select")).await.unwrap();
    assert_eq!(first.prop("value").await.unwrap().as_deref(), Some("name"));
    let format = c.find(Locator::Id("i_format")).await.unwrap().text().await.unwrap();
    assert!(format.contains("GB18030"), "{format}");
    let bar = c.find(Locator::Id("i_bar")).await.unwrap().attr("value").await.unwrap();
    assert_eq!(bar.as_deref(), Some("100"), "the upload's bar reached the end");
    std::fs::write(
        shot_path(&format!("import-mapping-{:?}", app.backend).to_lowercase()),
        c.screenshot().await.unwrap(),
    )
    .unwrap();

    // The dry run: its page follows it to the end and offers to import for real.
    c.find(Locator::Id("i_dry")).await.unwrap().click().await.unwrap();
    let commit = across_reloads(&c, "import-commit").await;
    let problems = c.find(Locator::Id("import-problems")).await.unwrap().text().await.unwrap();
    assert!(problems.contains("电话") && problems.contains("3"), "{problems}");
    std::fs::write(
        shot_path(&format!("import-dry-run-{:?}", app.backend).to_lowercase()),
        c.screenshot().await.unwrap(),
    )
    .unwrap();
    assert_eq!(app.count("accounts").await, 0, "a dry run writes nothing");
    commit.click().await.unwrap();
    let undo = across_reloads(&c, "import-undo").await;
    let created = c.find(Locator::Css("[data-count=created]")).await.unwrap().text().await.unwrap();
    assert_eq!(created, "1");
    assert_eq!(app.count("accounts").await, 1);
    std::fs::write(shot_path(&format!("import-done-{:?}", app.backend).to_lowercase()), c.screenshot().await.unwrap())
        .unwrap();
    undo.click().await.unwrap();
    let text = c.get_alert_text().await.unwrap();
    assert!(text.contains("回收站"), "{text}");
    c.accept_alert().await.unwrap();
    let notice = c.wait().for_element(Locator::Css("p.alert.green")).await.unwrap().text().await.unwrap();
    assert!(notice.contains("已撤销"), "{notice}");
    let q = guanxi_store::Sql::new("SELECT COUNT(*) FROM accounts WHERE deleted_at IS NULL");
    let (live,): (i64,) = app.db.fetch_one(q).await.unwrap();
    assert_eq!(live, 0);
    c.close().await.unwrap();

    // The import page on a phone.
    let phone = browser(&d, 390, 844).await;
    log_in(app, &phone, &w.sales_x.email).await;
    phone.goto(&app.url("/imports")).await.unwrap();
    phone.wait().for_element(Locator::Id("imports")).await.unwrap();
    std::fs::write(
        shot_path(&format!("imports-phone-{:?}", app.backend).to_lowercase()),
        phone.screenshot().await.unwrap(),
    )
    .unwrap();
    phone.close().await.unwrap();
    let _ = d.child.kill().await;
}
both!(import_in_a_browser);

/// An upload on a link that drops: the page's script sends the file in 1 MB
/// chunks; one chunk's connection fails (the browser's request errors, as
/// on a lost mobile link), and the script asks the server how much it has
/// and goes on from there instead of starting over. The server ends up
/// with the file byte for byte, and the mapping editor opens on it.
async fn an_upload_resumes_after_a_dropped_connection(app: &TestApp) {
    let w = app.world().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("大名单.csv");
    let mut text = String::from("客户名称,电话\n");
    let mut i = 0;
    while text.len() < 2_600_000 {
        text.push_str(&format!("沈阳第{i}电气设备有限公司,024-{:08}\n", 20_000_000 + i));
        i += 1;
    }
    std::fs::write(&path, &text).unwrap();
    let d = driver().await;
    let c = browser(&d, 1280, 1000).await;
    log_in(app, &c, &w.sales_x.email).await;
    c.goto(&app.url("/imports?kind=accounts")).await.unwrap();
    c.wait().for_element(Locator::Id("import-form")).await.unwrap();
    // The upload's second chunk (its second XMLHttpRequest) loses its connection.
    c.execute(
        "const send = XMLHttpRequest.prototype.send; let n = 0; window.dropped = 0;
         XMLHttpRequest.prototype.send = function (body) {
           n += 1;
           if (n === 2) { window.dropped += 1; setTimeout(() => this.onerror(), 10); return; }
           return send.call(this, body);
         };",
        vec![],
    )
    .await
    .unwrap();
    c.find(Locator::Id("i_file")).await.unwrap().send_keys(&path.display().to_string()).await.unwrap();
    c.find(Locator::Id("i_upload")).await.unwrap().click().await.unwrap();
    let first = c.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css("#i_columns tr:first-child select"));
    assert_eq!(first.await.unwrap().prop("value").await.unwrap().as_deref(), Some("name"));
    let dropped = c.execute("return window.dropped;", vec![]).await.unwrap();
    assert_eq!(dropped, serde_json::json!(1), "one chunk's connection was dropped");
    let bar = c.find(Locator::Id("i_bar")).await.unwrap().attr("value").await.unwrap();
    assert_eq!(bar.as_deref(), Some("100"));
    // The same upload went on: the file was not started again.
    let q = guanxi_store::Sql::new("SELECT id, size, received FROM files WHERE purpose = 'import'");
    assert_eq!(app.db.fetch_all::<(uuid::Uuid, i64, i64)>(q.clone()).await.unwrap().len(), 1);
    let (id, size, received): (uuid::Uuid, i64, i64) = app.db.fetch_one(q).await.unwrap();
    assert_eq!((size, received), (text.len() as i64, text.len() as i64));
    let mut stored: Vec<u8> = Vec::new();
    let mut next = 0;
    loop {
        let page = guanxi_store::files::chunks_from(&app.db, id, next).await.unwrap();
        let Some((last, _)) = page.last() else { break };
        next = last + 1;
        stored.extend(page.into_iter().flat_map(|(_, b)| b));
    }
    assert!(stored == text.as_bytes(), "the stored file is the one sent, byte for byte");
    c.close().await.unwrap();
}
both!(an_upload_resumes_after_a_dropped_connection);
