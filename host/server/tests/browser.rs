//! The whole journey in a real browser: Debian's headless Chromium, driven
//! through chromedriver with fantoccini, against `tongban serve --demo`.
//!
//! A citizen applies (consent, a form prefilled from identity and
//! certificates) and pays in the sandbox bank; the window clerk accepts the
//! case and hands it off to the district bureau; its handler approves; the
//! licence arrives in the citizen's wallet through the outbox; the case is
//! delivered, closed and rated. Then the marketplace side: the bureau's
//! publisher uploads a signed 1.1.0 that asks for one more capability, the
//! reviewer acknowledges the diff and approves, the region admin rolls it out
//! to half of the region, and the security officer revokes it, after which
//! 1.0.0 serves again. `/metrics` has the app's figures at the end.
//!
//! Every step leaves a PNG screenshot in `target/browser-artifacts/` for a
//! person to look at. Without Chromium the test skips with a message, except
//! under CI (`CI` set), where `cargo xtask test` installs it and a missing
//! browser is a failure.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use tongban_registry::signing::SigningKey;
use tongban_tests::ServerProcess;

mod common;

const APP: &str = "cn.gov.hz.amr.sole-proprietor";
/// The district bureau the clerk hands the case off to; the demo handler works there.
const HANDLING_ORG: &str = "113301060024896013";
/// The version the publisher uploads, and the capability it adds.
const UPDATE: &str = "1.1.0";
const UPDATE_CAPABILITY: &str = tongban_tests::UPDATE_CAPABILITY;
/// Where zhangsan lives (西湖区), served by the rollout in 杭州市.
const CITIZEN_REGION: &str = "330106";
const CITIZEN_SUBJECT: &str = "citizen-zhang-san";
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long one page may take to show what a step waits for.
const PAGE_WAIT: Duration = Duration::from_secs(15);
/// The PNG file signature.
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A chromedriver process in its own process group; dropping it (also when
/// the test panics) kills the group, so no browser outlives the test.
struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    fn start() -> ChromeDriver {
        // A free port is found by binding and letting go; another process may
        // take it before chromedriver binds it, and then chromedriver exits:
        // try again on another port.
        for attempt in 1..=3 {
            if let Some(driver) = ChromeDriver::start_on_a_free_port() {
                return driver;
            }
            assert!(attempt < 3, "chromedriver exited three times before answering");
        }
        unreachable!("the last attempt either answers or panics")
    }

    fn start_on_a_free_port() -> Option<ChromeDriver> {
        use std::os::unix::process::CommandExt;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .expect("starting chromedriver");
        let mut driver = ChromeDriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = driver.child.try_wait() {
                eprintln!("chromedriver exited ({status}) on port {port}");
                return None;
            }
            if agent
                .get(format!("{}/status", driver.url))
                .call()
                .is_ok_and(|r| r.status() == 200)
            {
                return Some(driver);
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on {}",
                driver.url
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // The group id is chromedriver's pid (process_group(0)); the browsers
        // it started are in the same group.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `target/browser-artifacts`, emptied of earlier runs' screenshots.
fn artifacts_dir() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        // The test binary is target/<profile>/deps/browser-HASH.
        _ => std::env::current_exe()
            .expect("the test binary's path")
            .ancestors()
            .nth(3)
            .expect("the test binary sits under target/<profile>/deps")
            .to_owned(),
    };
    let dir = target.join("browser-artifacts");
    std::fs::create_dir_all(&dir).expect("creating the screenshot folder");
    for entry in std::fs::read_dir(&dir)
        .expect("reading the screenshot folder")
        .flatten()
    {
        if entry.path().extension().is_some_and(|e| e == "png") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    dir
}

/// The browser session and where the journey leaves its screenshots.
struct Journey {
    client: Client,
    base: String,
    artifacts: PathBuf,
}

impl Journey {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn goto(&self, path: &str) {
        self.client
            .goto(&self.url(path))
            .await
            .unwrap_or_else(|e| panic!("opening {path}: {e}"));
    }

    async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("the current URL")
            .path()
            .to_owned()
    }

    async fn source(&self) -> String {
        self.client.source().await.expect("the page source")
    }

    /// Wait for an element to show, failing with the page when it does not.
    async fn find(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(PAGE_WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => panic!("no `{css}` on {} ({e}):\n{}", self.path().await, self.source().await),
        }
    }

    async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking `{css}`: {e}"));
    }

    /// Clear a field and type into it.
    async fn type_into(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap_or_else(|e| panic!("clearing `{css}`: {e}"));
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("typing into `{css}`: {e}"));
    }

    async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("an element's text")
    }

    /// Wait until the current path satisfies `check`.
    async fn wait_for_path(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PAGE_WAIT;
        loop {
            let path = self.path().await;
            if check(&path) {
                return path;
            }
            if Instant::now() > deadline {
                panic!("expected {what}, still on {path}:\n{}", self.source().await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Wait until an element's text contains `expected`. The element may be
    /// missing or go stale while a form's answer replaces the page; that
    /// only means "not yet".
    async fn wait_for_text(&self, css: &str, expected: &str) {
        let deadline = Instant::now() + PAGE_WAIT;
        loop {
            let shown = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if shown.contains(expected) {
                return;
            }
            if Instant::now() > deadline {
                panic!("`{css}` shows {shown:?}, not {expected:?}:\n{}", self.source().await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sign out whoever is signed in (with the navigation's button, as a
    /// person would), then sign in as `user` with the demo password.
    async fn sign_in(&self, user: &str) {
        // The sign-in page has no navigation; the home page (or where it
        // sends staff) shows the signed-in user's sign-out button.
        self.goto("/").await;
        if let Ok(sign_out) = self.client.find(Locator::Css("form[action='/logout'] button")).await {
            sign_out.click().await.expect("signing out");
            self.wait_for_path("the sign-in page", |p| p == "/login").await;
        } else {
            self.goto("/login").await;
        }
        self.type_into("input[name='user']", user).await;
        self.type_into("input[name='password']", tongban::demo::DEMO_PASSWORD)
            .await;
        self.click("form[action='/login'] button[type='submit']").await;
        self.wait_for_path("to leave the sign-in page", |p| p != "/login").await;
        let page = self.source().await;
        assert!(page.contains("action=\"/logout\""), "{user} is not signed in:\n{page}");
    }

    /// Save a screenshot of the page as `NAME.png` and check it is a PNG.
    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        let path = self.artifacts.join(format!("{name}.png"));
        std::fs::write(&path, &png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        let written = std::fs::read(&path).expect("reading the screenshot back");
        assert!(
            written.starts_with(PNG_SIGNATURE) && written.len() > 1000,
            "{} is not a PNG screenshot",
            path.display()
        );
        eprintln!("screenshot: {}", path.display());
    }
}

/// Whether Chromium and chromedriver are here; outside CI their absence
/// skips the test, under CI it fails it.
fn browser_available() -> bool {
    let present = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !present {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs {CHROMIUM} and {CHROMEDRIVER} (cargo xtask test installs Debian's chromium and chromium-driver)"
        );
        eprintln!(
            "SKIPPED the browser journey: {CHROMIUM} or {CHROMEDRIVER} is missing. Run `cargo xtask test` or `apt-get install chromium chromium-driver` to run it."
        );
    }
    present
}

async fn connect(driver: &ChromeDriver) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--window-size=1280,1000",
                "--lang=zh-CN",
            ],
        }),
    );
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session with headless Chromium")
}

/// The screenshots the journey leaves, one per step, in order.
const SCREENSHOTS: [&str; 9] = [
    "01-citizen-applies-and-pays",
    "02-clerk-accepts-and-hands-off",
    "03-handler-approves",
    "04-citizen-sees-licence",
    "05-citizen-rates-case",
    "06-publisher-uploads-1.1.0",
    "07-reviewer-approves",
    "08-region-admin-rolls-out-50",
    "09-security-revokes-app-falls-back",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_journey_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let artifacts = artifacts_dir();
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let args = vec!["--demo".to_owned(), "--data-dir".to_owned(), data.display().to_string()];
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_tongban"));
    let server = tokio::task::spawn_blocking(move || ServerProcess::start(&binary, &args, &[]))
        .await
        .unwrap();
    // The 1.1.0 the publisher will upload: the demo app asking for one more
    // capability, signed with the demo bureau's key the server made.
    let work = root.path().to_owned();
    let key_file = data.join("demo").join("publisher.key");
    let package = tokio::task::spawn_blocking(move || signed_update(&work, &key_file))
        .await
        .unwrap();
    let driver = tokio::task::spawn_blocking(ChromeDriver::start).await.unwrap();
    let journey = Journey {
        client: connect(&driver).await,
        base: server.url.clone(),
        artifacts,
    };

    let case_id = citizen_applies_and_pays(&journey).await;
    clerk_accepts_and_hands_off(&journey, &case_id).await;
    handler_approves(&journey, &case_id).await;
    citizen_sees_licence(&journey).await;
    citizen_rates_finished_case(&journey, &case_id).await;
    publisher_uploads(&journey, &package).await;
    reviewer_approves(&journey).await;
    region_admin_rolls_out(&journey).await;
    let token = issue_token(&data, "auditor");
    security_revokes_and_app_falls_back(&journey, &token).await;

    journey.client.close().await.expect("closing the browser");
    drop(driver);
    for name in SCREENSHOTS {
        let png = std::fs::read(journey.artifacts.join(format!("{name}.png")))
            .unwrap_or_else(|e| panic!("the screenshot {name}.png: {e}"));
        assert!(png.starts_with(PNG_SIGNATURE), "{name}.png is not a PNG");
    }

    // Every hook call went through the metrics, per app, version and hook.
    let metrics = http(&server.url, "/metrics", None);
    for hook in ["validate", "submit", "on-event"] {
        let calls = metric_value(
            &metrics,
            "tongban_app_calls_total",
            &[("app", APP), ("version", "1.0.0"), ("hook", hook)],
        );
        assert!(calls >= 1.0, "no {hook} calls of {APP}@1.0.0 counted:\n{metrics}");
        // `serve` meters fuel by default, so each hook's fuel is counted too.
        let fuel = metric_value(
            &metrics,
            "tongban_app_fuel_total",
            &[("app", APP), ("version", "1.0.0"), ("hook", hook)],
        );
        assert!(fuel > 0.0, "no fuel of {APP}@1.0.0 {hook} counted:\n{metrics}");
    }
    assert!(
        metrics.contains("tongban_app_call_duration_seconds_bucket") && metrics.contains(&format!("app=\"{APP}\"")),
        "{metrics}"
    );
    drop(server);
}

/// `GET base+path` over plain HTTP, with a bearer token when given; the body.
fn http(base: &str, path: &str, token: Option<&str>) -> String {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut request = agent.get(format!("{base}{path}"));
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let mut response = request.call().unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// The value of the sample of `name` with exactly these labels (any order).
fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter_map(|line| line.strip_prefix(name)?.strip_prefix('{'))
        .filter_map(|rest| rest.split_once("} "))
        .find(|(set, _)| {
            let mut got: Vec<&str> = set.split(',').collect();
            let mut want: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            got.sort_unstable();
            want.sort_unstable();
            got == want
        })
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0.0)
}

/// An API token for a demo account, issued the way an operator does.
fn issue_token(data: &Path, user: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(["admin", "issue-token", "--id", user, "--data-dir"])
        .arg(data)
        .output()
        .expect("running tongban admin issue-token");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The version that serves `subject` in `region`, by the serving API.
fn served_version(base: &str, token: &str, region: &str, subject: &str) -> String {
    let body = http(
        base,
        &format!("/api/v1/serving/{region}/{APP}?subject={subject}"),
        Some(token),
    );
    let served: serde_json::Value = serde_json::from_str(&body).expect("the serving answer is JSON");
    served["version"].as_str().expect("a version").to_owned()
}

/// The demo app at 1.1.0 with app storage added, signed
/// with the key in `key_file`, written under `dir`; its absolute path.
fn signed_update(dir: &Path, key_file: &Path) -> String {
    let key = std::fs::read_to_string(key_file)
        .unwrap_or_else(|e| panic!("the demo publisher key {}: {e}", key_file.display()));
    let key = SigningKey::from_file_text(&key).expect("a signing key");
    let mut package = tongban_tests::sole_proprietor_at(UPDATE, Some(UPDATE_CAPABILITY));
    package.sign(&key);
    let path = common::write_package(dir, &format!("sole-proprietor-{UPDATE}"), &package);
    assert!(Path::new(&path).is_absolute(), "{path}");
    path
}

/// 1. zhangsan signs in, opens the service, agrees, finds the form prefilled,
///    fills the rest, submits, and pays the licence fee in the sandbox bank.
async fn citizen_applies_and_pays(j: &Journey) -> String {
    j.sign_in("zhangsan").await;
    j.goto("/").await;
    j.click(&format!("a[href='/services/{APP}']")).await;
    let consent = j.source().await;
    assert!(
        consent.contains("授权同意") && consent.contains("电子证照：居民身份证"),
        "{consent}"
    );
    j.click("button[name='decision'][value='grant']").await;

    // Prefilled from the identity and the ID card certificate (免提交).
    let name = j.find("#f-operator-name").await;
    assert_eq!(name.prop("value").await.unwrap().as_deref(), Some("张三"));
    let id_number = j.find("#f-operator-id-number").await;
    assert_eq!(
        id_number.prop("value").await.unwrap().as_deref(),
        Some("330106199003070014")
    );
    j.type_into("#f-operator-phone", "13800138000").await;
    j.type_into("#f-business-trade-name", "西湖小厨").await;
    j.find("#f-business-industry")
        .await
        .select_by_value("餐饮")
        .await
        .expect("choosing the industry");
    j.type_into("#f-business-scope", "餐饮服务\n预包装食品销售").await;
    j.type_into("#f-business-address", "浙江省杭州市西湖区文三路90号").await;
    j.click(&format!("form[action='/services/{APP}/apply'] button[type='submit']"))
        .await;
    let case_path = j.wait_for_path("the case page", |p| p.starts_with("/my/cases/")).await;
    let case_id = case_path.trim_start_matches("/my/cases/").to_owned();
    j.wait_for_text("#stage", "已提交").await;

    // The fee: the case page links to the sandbox bank's hosted page.
    j.click("a[href^='/pay/']").await;
    j.wait_for_path("the pay page", |p| p.starts_with("/pay/")).await;
    assert!(j.text("#amount").await.contains("¥10.00"));
    j.click("button[name='decision'][value='pay']").await;
    j.wait_for_text("p[role='status']", "支付成功").await;
    assert_eq!(j.text("#status").await, "success");

    // Back on the case page the fee is paid and no pay link is left.
    j.goto(&case_path).await;
    let page = j.source().await;
    assert!(page.contains("success") && !page.contains("href=\"/pay/"), "{page}");
    j.screenshot("01-citizen-applies-and-pays").await;
    case_id
}

/// 2. The window clerk of the city bureau accepts the case and hands it off
///    to the district bureau (受办分离).
async fn clerk_accepts_and_hands_off(j: &Journey, case_id: &str) {
    j.sign_in("clerk").await;
    j.wait_for_path("the work queues", |p| p == "/work").await;
    j.click(&format!("a[href='/work/cases/{case_id}']")).await;
    j.click("button[name='action'][value='accept']").await;
    j.wait_for_text("#stage", "已受理").await;

    j.find("#to_org")
        .await
        .select_by_value(HANDLING_ORG)
        .await
        .expect("choosing the handling org");
    j.type_into("#reason", "属地办理，移交西湖区市场监督管理局").await;
    j.click("button[name='action'][value='hand-off']").await;
    j.wait_for_text("#stage", "办理中").await;
    assert!(j.source().await.contains(HANDLING_ORG));
    j.screenshot("02-clerk-accepts-and-hands-off").await;
}

/// 3. The district bureau's handler finds the case in the handling queue and approves it.
async fn handler_approves(j: &Journey, case_id: &str) {
    j.sign_in("handler").await;
    j.wait_for_path("the work queues", |p| p == "/work").await;
    j.click(&format!("a[href='/work/cases/{case_id}']")).await;
    j.type_into("#reason", "材料齐全，准予登记").await;
    j.click("button[name='action'][value='approve']").await;
    j.wait_for_text("#stage", "已批准").await;
    j.screenshot("03-handler-approves").await;
}

/// 4. The business licence, issued through the outbox after the approval,
///    shows in zhangsan's wallet (reloaded for up to 30 seconds).
async fn citizen_sees_licence(j: &Journey) {
    j.sign_in("zhangsan").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        j.goto("/my/wallet").await;
        let page = j.source().await;
        if page.contains("营业执照") || page.contains("BUSINESS-LICENCE") {
            assert!(page.contains("西湖小厨"), "the licence names the business:\n{page}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no business licence in the wallet after 30 s:\n{page}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    j.screenshot("04-citizen-sees-licence").await;
}

/// 5. The handler delivers the licence (出件) and closes the case (办结), as
///    the office does once the licence is out; zhangsan then rates it (好差评).
async fn citizen_rates_finished_case(j: &Journey, case_id: &str) {
    j.sign_in("handler").await;
    j.goto(&format!("/work/cases/{case_id}")).await;
    j.click("button[name='action'][value='deliver']").await;
    j.wait_for_text("#stage", "已出件").await;
    j.click("button[name='action'][value='close']").await;
    j.wait_for_text("#stage", "已办结").await;

    j.sign_in("zhangsan").await;
    j.goto(&format!("/my/cases/{case_id}")).await;
    j.wait_for_text("#stage", "已办结").await;
    j.click("#level-satisfied").await;
    j.type_into("#comment", "窗口服务热情，一次办好").await;
    j.click("#rate").await;
    j.wait_for_text("#rating", "满意").await;
    let rating = j.text("#rating").await;
    assert!(rating.contains("一次办好"), "{rating}");
    assert!(
        j.client.find(Locator::Css("#rate")).await.is_err(),
        "a rated case offers no second rating"
    );
    j.screenshot("05-citizen-rates-case").await;
}

/// 6. The bureau's publisher uploads the signed 1.1.0; the receipt shows it
///    in review with the added capability highlighted.
async fn publisher_uploads(j: &Journey, package: &str) {
    j.sign_in("publisher").await;
    j.goto("/publish").await;
    j.find("#package")
        .await
        .send_keys(package)
        .await
        .expect("choosing the package file");
    j.click("#publish-submit").await;
    j.wait_for_text("p.receipt", &format!("{APP}@{UPDATE}")).await;
    let state = j.find("p.receipt .version-state").await;
    assert_eq!(state.attr("data-state").await.unwrap().as_deref(), Some("in-review"));
    let gains = j.text("table.capability-diff mark").await;
    assert!(!gains.is_empty(), "the added capability is highlighted");
    assert!(j.text("table.capability-diff").await.contains("storage"));
    j.screenshot("06-publisher-uploads-1.1.0").await;
}

/// 7. The reviewer opens the version from the queue, reads the diff, ticks
///    every added capability and approves.
async fn reviewer_approves(j: &Journey) {
    j.sign_in("reviewer").await;
    j.goto("/reviews").await;
    j.click(&format!("a[href='/reviews/{APP}/{UPDATE}']")).await;
    j.wait_for_path("the submission", |p| p == format!("/reviews/{APP}/{UPDATE}"))
        .await;
    assert!(j.text("table.capability-diff").await.contains("storage"));
    let acks = j
        .client
        .find_all(Locator::Css("input[name='ack']"))
        .await
        .expect("the acknowledgements");
    assert!(!acks.is_empty(), "1.1.0 gains a capability to acknowledge");
    for ack in &acks {
        ack.click().await.expect("ticking an acknowledgement");
        assert!(ack.is_selected().await.unwrap());
    }
    j.click("#approve").await;
    j.wait_for_text(".version-state", "approved").await;
    assert!(
        j.client.find(Locator::Css("#approve")).await.is_err(),
        "a decided version offers no decision form"
    );
    j.screenshot("07-reviewer-approves").await;
}

/// 8. The region admin of 杭州市 rolls 1.1.0 out to half of the region.
async fn region_admin_rolls_out(j: &Journey) {
    j.sign_in("region-admin").await;
    j.goto("/region").await;
    let section = format!("section.release[data-app='{APP}'][data-version='{UPDATE}']");
    j.type_into(&format!("{section} input[name='percentage']"), "50").await;
    j.click(&format!("{section} button[name='action'][value='rollout']"))
        .await;
    j.wait_for_text(&format!("{section} tr[data-region='330100']"), "50%")
        .await;
    let row = j.find(&format!("{section} tr[data-region='330100']")).await;
    assert_eq!(row.attr("data-state").await.unwrap().as_deref(), Some("rolling-out"));
    j.screenshot("08-region-admin-rolls-out-50").await;
}

/// 9. The security officer revokes 1.1.0 with a reason; every subject is
///    served 1.0.0 again, which zhangsan's service page shows.
async fn security_revokes_and_app_falls_back(j: &Journey, token: &str) {
    // At 50% some subjects get 1.1.0; find one to watch fall back.
    let base = j.base.clone();
    let token_owned = token.to_owned();
    let (on_update, zhangsan_before) = tokio::task::spawn_blocking(move || {
        let on_update = (0..40)
            .map(|i| format!("citizen-{i}"))
            .find(|s| served_version(&base, &token_owned, CITIZEN_REGION, s) == UPDATE)
            .expect("at 50% some subject is served 1.1.0");
        let zhangsan = served_version(&base, &token_owned, CITIZEN_REGION, CITIZEN_SUBJECT);
        (on_update, zhangsan)
    })
    .await
    .unwrap();
    // The page serves zhangsan what the serving table says.
    j.sign_in("zhangsan").await;
    j.goto(&format!("/services/{APP}")).await;
    j.wait_for_text("#serving-version", &zhangsan_before).await;

    j.sign_in("security").await;
    j.goto("/security").await;
    let section = format!("section.release[data-app='{APP}'][data-version='{UPDATE}']");
    j.type_into(
        &format!("{section} textarea[name='reason']"),
        "安全事件：1.1.0 存在越权读取风险，立即吊销",
    )
    .await;
    j.click(&format!("{section} button[name='action'][value='revoke']"))
        .await;
    j.wait_for_text(&format!("{section} h3"), "已吊销").await;
    let revoked = j.find(&section).await;
    assert_eq!(
        revoked.attr("data-version-state").await.unwrap().as_deref(),
        Some("revoked")
    );

    let base = j.base.clone();
    let token_owned = token.to_owned();
    let after = tokio::task::spawn_blocking(move || served_version(&base, &token_owned, CITIZEN_REGION, &on_update))
        .await
        .unwrap();
    assert_eq!(after, "1.0.0", "a subject that had 1.1.0 falls back to 1.0.0");

    j.sign_in("zhangsan").await;
    j.goto(&format!("/services/{APP}")).await;
    j.wait_for_text("#serving-version", "1.0.0").await;
    j.screenshot("09-security-revokes-app-falls-back").await;
}
