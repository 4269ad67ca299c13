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
//! 1.0.0 serves again. Last, the auditor reads the audit log and verifies
//! the chain. `/metrics` has the app's figures at the end.
//!
//! Every page the journey passes through is audited (`Journey::audit`) at a
//! desktop width (1280 px) and at a small phone's (360 px): axe-core runs on
//! it, no serious or critical accessibility violation may be found, the page
//! may not scroll sideways, and a PNG screenshot of each width is left in
//! `target/browser-artifacts/` for a person to look at. The findings of the
//! whole journey are collected, printed as they are found, and fail the test
//! together at its end, so one run shows them all. A second test walks the
//! citizen's application with the keyboard alone and checks that the focus
//! is visible on everything it reaches.
//!
//! axe-core comes from npm, pinned by `tests/browser/package-lock.json`;
//! `cargo xtask test` installs it with `npm ci`. Without Chromium the tests
//! skip with a message, and without axe-core the accessibility audit does,
//! except under CI (`CI` set), where `cargo xtask test` installs both and a
//! missing one is a failure.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::key::Key;
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
/// axe-core as `npm ci` installs it from `tests/browser/package-lock.json`.
const AXE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/browser/node_modules/axe-core/axe.min.js"
);
/// The impacts of an axe-core violation that fail the audit.
const FAILING_IMPACTS: [&str; 2] = ["serious", "critical"];
/// How many key presses may pass before the keyboard reaches what it is after.
const MAX_KEY_PRESSES: usize = 80;

/// A browser window size a page is audited at; `name` ends the screenshot's file name.
#[derive(Clone, Copy)]
struct Viewport {
    name: &'static str,
    width: u32,
    height: u32,
}

/// The desktop window every session starts in (`connect`).
const DESKTOP: Viewport = Viewport {
    name: "desktop",
    width: 1280,
    height: 1000,
};
/// A small phone. Headless Chromium gives a 360 px wide window a 360 px
/// wide viewport (`Journey::resize` checks `innerWidth`).
const PHONE: Viewport = Viewport {
    name: "360",
    width: 360,
    height: 780,
};

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

/// `target/browser-artifacts` (or the folder `under` it), emptied of earlier
/// runs' screenshots. Only the folder's own PNG files are removed, so the
/// tests, which run at the same time, each own one folder.
fn artifacts_dir(under: Option<&str>) -> PathBuf {
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
    let mut dir = target.join("browser-artifacts");
    if let Some(under) = under {
        dir.push(under);
    }
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

/// The browser session, where the journey leaves its screenshots, and what
/// its audits found.
struct Journey {
    client: Client,
    base: String,
    artifacts: PathBuf,
    /// axe-core's source, injected into every audited page; `None` skips the
    /// accessibility half of the audit (never under CI).
    axe: Option<String>,
    /// Every audit finding so far, one printable entry each.
    findings: Mutex<Vec<String>>,
    /// The names of the audited pages, in the order they were audited.
    audited: Mutex<Vec<String>>,
}

impl Journey {
    fn new(client: Client, base: String, artifacts: PathBuf, axe: Option<String>) -> Journey {
        Journey {
            client,
            base,
            artifacts,
            axe,
            findings: Mutex::new(Vec::new()),
            audited: Mutex::new(Vec::new()),
        }
    }

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
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).unwrap_or_else(|e| panic!("creating {}: {e}", folder.display()));
        }
        std::fs::write(&path, &png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        let written = std::fs::read(&path).expect("reading the screenshot back");
        assert!(
            written.starts_with(PNG_SIGNATURE) && written.len() > 1000,
            "{} is not a PNG screenshot",
            path.display()
        );
        eprintln!("screenshot: {}", path.display());
    }

    /// Audit the current page as `name`: at the desktop width and then at
    /// 360 px, run axe-core, check that the page does not scroll sideways,
    /// and save a screenshot (`NAME-desktop.png`, `NAME-360.png`); then go
    /// back to the desktop width. What the checks find is recorded (and
    /// printed) for `assert_no_findings`; a name may be audited only once.
    async fn audit(&self, name: &str) {
        {
            let mut audited = self.audited.lock().unwrap();
            assert!(
                !audited.iter().any(|n| n == name),
                "the page name {name} is audited twice"
            );
            audited.push(name.to_owned());
        }
        let path = self.path().await;
        for viewport in [DESKTOP, PHONE] {
            self.resize(viewport).await;
            let at = format!("{name} ({path}) at {} px", viewport.width);
            self.check_accessibility(&at).await;
            self.check_no_sideways_scrolling(&at).await;
            if viewport.width == PHONE.width {
                self.check_touch_targets(&at).await;
            }
            self.screenshot(&format!("{name}-{}", viewport.name)).await;
        }
        self.resize(DESKTOP).await;
    }

    /// Record one finding and print it at once, so a later failure of the
    /// journey still shows what was found before it.
    fn report(&self, finding: String) {
        eprintln!("AUDIT FINDING {finding}");
        self.findings.lock().unwrap().push(finding);
    }

    /// Resize the window to `viewport` and wait (bounded) until the page's
    /// viewport is exactly that wide.
    async fn resize(&self, viewport: Viewport) {
        self.client
            .set_window_size(viewport.width, viewport.height)
            .await
            .unwrap_or_else(|e| panic!("resizing the window to {} px: {e}", viewport.width));
        let deadline = Instant::now() + PAGE_WAIT;
        loop {
            let inner = self
                .client
                .execute("return window.innerWidth;", vec![])
                .await
                .expect("reading window.innerWidth");
            if inner.as_u64() == Some(u64::from(viewport.width)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the window was resized to {} px but window.innerWidth is {inner}",
                viewport.width
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Run axe-core on the page and record each serious or critical
    /// violation with its rule, impact, help and the selectors of its nodes.
    async fn check_accessibility(&self, at: &str) {
        let Some(axe) = &self.axe else { return };
        for finding in self.axe_findings(axe, at).await {
            self.report(finding);
        }
    }

    /// Run axe-core (`axe` is its source, injected when the page lacks it)
    /// on the page described by `at`; print a line naming every violation
    /// and answer one printable finding per serious or critical violation.
    async fn axe_findings(&self, axe: &str, at: &str) -> Vec<String> {
        // A page loaded since the last audit has no axe yet.
        let loaded = self
            .client
            .execute("return typeof window.axe === 'object';", vec![])
            .await
            .expect("asking whether axe-core is loaded");
        if loaded != serde_json::Value::Bool(true) {
            self.client
                .execute(axe, vec![])
                .await
                .unwrap_or_else(|e| panic!("injecting axe-core into {at}: {e}"));
        }
        let outcome = self
            .client
            .execute_async(AXE_RUN, vec![])
            .await
            .unwrap_or_else(|e| panic!("running axe-core on {at}: {e}"));
        if let Some(error) = outcome.get("error") {
            panic!("axe-core failed on {at}: {error}");
        }
        let violations = outcome["violations"]
            .as_array()
            .unwrap_or_else(|| panic!("axe-core's answer on {at} has no violations list: {outcome}"));
        let named: Vec<String> = violations
            .iter()
            .map(|v| {
                format!(
                    "{} ({})",
                    v["id"].as_str().unwrap_or("?"),
                    v["impact"].as_str().unwrap_or("none")
                )
            })
            .collect();
        eprintln!("axe: {at}: {} violation(s) {}", named.len(), named.join(", "));
        let mut findings = Vec::new();
        for violation in violations {
            let impact = violation["impact"].as_str().unwrap_or("none");
            if !FAILING_IMPACTS.contains(&impact) {
                continue;
            }
            let mut finding = format!(
                "[axe] {at}: {} ({impact}): {}\n    {}",
                violation["id"].as_str().unwrap_or("?"),
                violation["help"].as_str().unwrap_or(""),
                violation["helpUrl"].as_str().unwrap_or(""),
            );
            for node in violation["nodes"].as_array().into_iter().flatten() {
                let summary = node["summary"].as_str().unwrap_or("").replace('\n', " / ");
                finding.push_str(&format!("\n    - {}\n      {summary}", node["target"]));
            }
            findings.push(finding);
        }
        findings
    }

    /// Record a finding when the page is wider than the viewport (see `sideways_finding`).
    async fn check_no_sideways_scrolling(&self, at: &str) {
        if let Some(finding) = self.sideways_finding(at).await {
            self.report(finding);
        }
    }

    /// Record every control smaller than 44 × 44 px: links, buttons and
    /// form fields a finger must hit. A link inside a sentence is exempt, as
    /// WCAG 2.5.8 allows (it flows with the text); a radio button or a
    /// checkbox counts with its label, which takes the tap too.
    async fn check_touch_targets(&self, at: &str) {
        let small = self.small_targets(at).await;
        if !small.is_empty() {
            self.report(format!(
                "[touch targets under 44 px] {at}:\n    - {}",
                small.join("\n    - ")
            ));
        }
    }

    /// The page's controls smaller than 44 × 44 px, described.
    async fn small_targets(&self, at: &str) -> Vec<String> {
        let small = self
            .client
            .execute(SMALL_TARGETS, vec![])
            .await
            .unwrap_or_else(|e| panic!("measuring the touch targets of {at}: {e}"));
        small
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(serde_json::Value::as_str)
            .map(str::to_owned)
            .collect()
    }

    /// A printable finding when the document or its body is wider than the
    /// viewport, naming the elements that reach furthest past its right
    /// edge; `None` when the page does not scroll sideways.
    async fn sideways_finding(&self, at: &str) -> Option<String> {
        let widths = self
            .client
            .execute(SIDEWAYS, vec![])
            .await
            .unwrap_or_else(|e| panic!("measuring {at}: {e}"));
        let inner = widths["innerWidth"].as_f64().expect("innerWidth");
        let root = widths["root"].as_f64().expect("the root's scrollWidth");
        let body = widths["body"].as_f64().expect("the body's scrollWidth");
        if root <= inner && body <= inner {
            return None;
        }
        let widest: Vec<&str> = widths["widest"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(serde_json::Value::as_str)
            .collect();
        Some(format!(
            "[sideways scrolling] {at}: the page is {root} px wide (body {body} px) in a {inner} px viewport; widest elements:\n    - {}",
            widest.join("\n    - ")
        ))
    }

    /// Press `keys` together, as one chord (`[Key::Shift, Key::Tab]` is
    /// Shift+Tab), with whatever has the focus receiving them.
    async fn press(&self, keys: &[Key]) {
        let mut actions = KeyActions::new("keyboard".into());
        for key in keys {
            actions = actions.then(KeyAction::Down { value: (*key).into() });
        }
        for key in keys.iter().rev() {
            actions = actions.then(KeyAction::Up { value: (*key).into() });
        }
        self.client
            .perform_actions(actions)
            .await
            .unwrap_or_else(|e| panic!("pressing {keys:?}: {e}"));
    }

    /// Type `text` into the focused element, key by key.
    async fn type_here(&self, text: &str) {
        self.client
            .active_element()
            .await
            .expect("the focused element")
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("typing {text:?}: {e}"));
    }

    /// Press Tab until the focused element matches `css`, at most
    /// `MAX_KEY_PRESSES` times; every element the focus reaches on the way
    /// is checked with `note_focus`.
    async fn tab_to(&self, css: &str, unseen: &mut Vec<String>) -> Focused {
        let mut passed = Vec::new();
        for _ in 0..MAX_KEY_PRESSES {
            self.press(&[Key::Tab]).await;
            let focused = self.focused(css).await;
            self.note_focus(&focused, unseen).await;
            if focused.matches {
                return focused;
            }
            passed.push(focused.element);
        }
        panic!(
            "{MAX_KEY_PRESSES} presses of Tab on {} did not reach `{css}`; the focus went through: {}",
            self.path().await,
            passed.join(", ")
        );
    }

    /// Note in `unseen` (once) a focused element on which the focus does not show.
    async fn note_focus(&self, focused: &Focused, unseen: &mut Vec<String>) {
        if focused.element == "body" || focused.visible {
            return;
        }
        let entry = format!("{} on {} ({})", focused.element, self.path().await, focused.style);
        if !unseen.contains(&entry) {
            eprintln!("FOCUS NOT VISIBLE: {entry}");
            unseen.push(entry);
        }
    }

    /// What has the focus, and whether the focus shows on it.
    async fn focused(&self, css: &str) -> Focused {
        let answer = self
            .client
            .execute(FOCUSED, vec![serde_json::Value::from(css)])
            .await
            .expect("describing the focused element");
        serde_json::from_value(answer).expect("the focused element's description")
    }

    /// Prove the audit can fail: on a page made for that, axe-core (run the
    /// way `audit` runs it) finds the missing text alternative of an image,
    /// and the sideways check finds the paragraph wider than the window.
    /// Nothing is recorded for the journey.
    async fn assert_audit_finds_known_problems(&self) {
        self.client
            .goto(AUDIT_CANARY)
            .await
            .expect("opening the page with known problems");
        let at = "the page with known problems";
        if let Some(axe) = &self.axe {
            let findings = self.axe_findings(axe, at).await;
            assert!(
                findings.iter().any(|f| f.contains("image-alt (critical)")),
                "axe-core did not report the image without alt text: {findings:?}"
            );
        }
        let sideways = self.sideways_finding(at).await;
        assert!(
            sideways.as_deref().is_some_and(|f| f.contains("p#too-wide")),
            "the sideways check did not name the wide paragraph: {sideways:?}"
        );
        let small = self.small_targets(at).await;
        assert!(
            small.iter().any(|f| f.starts_with("button#tiny")) && !small.iter().any(|f| f.starts_with("a ")),
            "the touch-target check did not name only the tiny button: {small:?}"
        );
    }
}

/// The focused element as `FOCUSED` describes it.
#[derive(serde::Deserialize)]
struct Focused {
    /// `tag#id.class`, or `body` when nothing is focused.
    element: String,
    id: String,
    value: String,
    /// Whether it matches the selector `Journey::focused` was given.
    matches: bool,
    /// Whether the focus is drawn: an outline or a box shadow.
    visible: bool,
    /// The outline and box shadow, to name in a failure.
    style: String,
}

/// A page with known problems: an image without a text alternative (a
/// critical violation), a paragraph wider than any window here, and a
/// button too small to tap (beside a link in a sentence, which is exempt).
const AUDIT_CANARY: &str = "data:text/html;charset=utf-8,<!doctype html><html lang='en'><title>Canary</title><main><img src='x.png'><p id='too-wide' style='width:3000px'>wide</p><p>Read <a href='/'>this</a> first.</p><button id='tiny' style='width:20px;height:20px;padding:0'>x</button></main></html>";

/// A page with a link that keeps the browser's focus ring and a button that
/// hides its focus.
const FOCUS_CANARY: &str = "data:text/html;charset=utf-8,<!doctype html><html lang='en'><title>Canary</title><main><a href='/'>ring</a><button id='hidden-focus' style='outline:none;box-shadow:none'>no ring</button></main></html>";

/// Runs axe-core on the whole document and answers `{violations: [{id,
/// impact, help, helpUrl, nodes: [{target, summary}]}]}`, or `{error}`.
const AXE_RUN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, { resultTypes: ['violations'] }).then(
  (results) => done({
    violations: results.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({ target: n.target, summary: n.failureSummary || '' })),
    })),
  }),
  (error) => done({ error: String(error) }),
);
"#;

/// The visible controls smaller than 44 × 44 px, described (see
/// `Journey::check_touch_targets` for what is exempt).
const SMALL_TARGETS: &str = r#"
const describe = (el) => {
  let text = el.tagName.toLowerCase();
  if (el.id) text += '#' + el.id;
  for (const c of el.classList) text += '.' + c;
  const words = (el.textContent || el.value || '').trim().slice(0, 30);
  return words ? text + ' "' + words + '"' : text;
};
const small = [];
const controls = document.querySelectorAll('a[href], button, input:not([type="hidden"]), select, textarea, summary');
for (const el of controls) {
  const style = getComputedStyle(el);
  if (style.display === 'none' || style.visibility === 'hidden') continue;
  let box = el.getBoundingClientRect();
  // Off-screen until focused (the skip link).
  if (box.right <= 0 || box.bottom <= 0) continue;
  if (el.tagName === 'A') {
    const parent = el.parentElement;
    const inSentence = parent && parent.textContent.trim() !== el.textContent.trim()
      && getComputedStyle(el).display === 'inline';
    if (inSentence) continue;
  }
  if ((el.type === 'radio' || el.type === 'checkbox') && el.labels && el.labels.length) {
    const label = el.labels[0].getBoundingClientRect();
    box = { width: box.width + label.width, height: Math.max(box.height, label.height) };
  }
  if (box.width < 44 - 0.5 || box.height < 44 - 0.5) {
    small.push(describe(el) + ' ' + Math.round(box.width) + '×' + Math.round(box.height) + ' px');
  }
}
return small;
"#;

/// Measures the viewport and the document and body, and names the (at most
/// five) elements reaching furthest past the viewport's right edge, leaving
/// out those inside a box that clips or scrolls sideways.
const SIDEWAYS: &str = r#"
const inner = window.innerWidth;
const describe = (el) => {
  let text = el.tagName.toLowerCase();
  if (el.id) text += '#' + el.id;
  for (const c of el.classList) text += '.' + c;
  return text;
};
const clipped = (el) => {
  for (let a = el.parentElement; a && a !== document.body && a !== document.documentElement; a = a.parentElement) {
    if (getComputedStyle(a).overflowX !== 'visible') return true;
  }
  return false;
};
const root = document.documentElement.scrollWidth;
const body = document.body ? document.body.scrollWidth : 0;
const wide = [];
if (root > inner || body > inner) {
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > inner + 0.5 && !clipped(el)) wide.push([box.right, el]);
  }
  wide.sort((a, b) => b[0] - a[0]);
}
return {
  innerWidth: inner,
  root,
  body,
  widest: wide.slice(0, 5).map(([right, el]) =>
    describe(el) + ' (right edge at ' + Math.round(right) + ' px, in ' + (el.parentElement ? describe(el.parentElement) : 'nothing') + ')'),
};
"#;

/// Describes `document.activeElement` (see `Focused`); `arguments[0]` is a
/// CSS selector it is matched against.
const FOCUSED: &str = r#"
const el = document.activeElement;
if (!el || el === document.body || el === document.documentElement) {
  return { element: 'body', id: '', value: '', matches: false, visible: false, style: '' };
}
let element = el.tagName.toLowerCase();
if (el.id) element += '#' + el.id;
for (const c of el.classList) element += '.' + c;
if (el.getAttribute('href')) element += '[href="' + el.getAttribute('href') + '"]';
if (el.getAttribute('name')) element += '[name="' + el.getAttribute('name') + '"]';
const s = getComputedStyle(el);
const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
const shadow = s.boxShadow !== 'none';
return {
  element,
  id: el.id || '',
  value: typeof el.value === 'string' ? el.value : '',
  matches: el.matches(arguments[0]),
  visible: outline || shadow,
  style: 'outline: ' + s.outlineStyle + ' ' + s.outlineWidth + '; box-shadow: ' + s.boxShadow,
};
"#;

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
                format!("--window-size={},{}", DESKTOP.width, DESKTOP.height),
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

/// Fail with every finding of every audit, or pass when there is none.
fn assert_no_findings(findings: &[String]) {
    if !findings.is_empty() {
        panic!(
            "{} audit finding(s) across the journey:\n\n{}",
            findings.len(),
            findings.join("\n\n")
        );
    }
}

/// axe-core's source, or `None` when it is not installed: outside CI the
/// accessibility audit then skips with a message, under CI that fails.
fn axe_source() -> Option<String> {
    match std::fs::read_to_string(AXE) {
        Ok(source) => Some(source),
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI needs axe-core at {AXE} ({e}); `cargo xtask test` installs it with `npm ci` in host/server/tests/browser"
            );
            eprintln!(
                "SKIPPED the accessibility audit: no axe-core at {AXE} ({e}). Run `cargo xtask test` or `npm ci` in host/server/tests/browser to run it."
            );
            None
        }
    }
}

/// The pages the journey audits, in order; each leaves `NAME-desktop.png`
/// and `NAME-360.png`.
const AUDITED_PAGES: [&str; 34] = [
    "01a-login",
    "01b-citizen-home",
    "01c-service-consent",
    "01d-application-form",
    "01e-case-submitted",
    "01f-pay",
    "01g-citizen-applies-and-pays",
    "02a-clerk-work-queue",
    "02b-clerk-case",
    "02c-clerk-accepts-and-hands-off",
    "03a-handler-work-queue",
    "03b-handler-case",
    "03c-handler-approves",
    "04a-citizen-sees-licence",
    "04b-licence-with-qr-code",
    "04c-licence-public-status",
    "04d-verify-a-sealed-copy",
    "05a-handler-delivers-and-closes",
    "05b-citizen-case-to-rate",
    "05c-citizen-rates-case",
    "06a-publish",
    "06b-publisher-uploads-1.1.0",
    "07a-review-queue",
    "07b-review-submission",
    "07c-reviewer-approves",
    "08a-region",
    "08b-region-admin-rolls-out-50",
    "09a-citizen-service-before-revoke",
    "09b-security",
    "09c-security-revokes",
    "09d-security-revokes-app-falls-back",
    "10a-audit-log",
    "10b-auditor-verifies-chain",
    "10c-security-audit-log",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_journey_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let axe = axe_source();
    let artifacts = artifacts_dir(None);
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
    let journey = Journey::new(connect(&driver).await, server.url.clone(), artifacts, axe);
    journey.assert_audit_finds_known_problems().await;

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
    auditor_verifies_the_chain(&journey).await;

    let findings = std::mem::take(&mut *journey.findings.lock().unwrap());
    journey.client.close().await.expect("closing the browser");
    drop(driver);
    assert_eq!(
        *journey.audited.lock().unwrap(),
        AUDITED_PAGES,
        "the journey audits these pages in this order"
    );
    for name in AUDITED_PAGES {
        for viewport in [DESKTOP, PHONE] {
            let file = format!("{name}-{}.png", viewport.name);
            let png =
                std::fs::read(journey.artifacts.join(&file)).unwrap_or_else(|e| panic!("the screenshot {file}: {e}"));
            assert!(png.starts_with(PNG_SIGNATURE), "{file} is not a PNG");
        }
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
    // Last, so that the journey's own checks above have run: every
    // accessibility violation and sideways scroll of every page, together.
    assert_no_findings(&findings);
}

/// The citizen's application with the keyboard alone: zhangsan signs in,
/// reaches the service from the home page, agrees to the consent, fills in
/// and submits the form with Tab, Enter, Space, the arrow keys and typing,
/// and lands on the case page. The focus must show on every element it
/// reaches. Opening a page by its address (`goto`) is what a keyboard user
/// does in the address bar; nothing is clicked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_applies_with_the_keyboard_alone() {
    if !browser_available() {
        return;
    }
    let artifacts = artifacts_dir(Some("keyboard"));
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let args = vec!["--demo".to_owned(), "--data-dir".to_owned(), data.display().to_string()];
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_tongban"));
    let server = tokio::task::spawn_blocking(move || ServerProcess::start(&binary, &args, &[]))
        .await
        .unwrap();
    let driver = tokio::task::spawn_blocking(ChromeDriver::start).await.unwrap();
    let j = Journey::new(connect(&driver).await, server.url.clone(), artifacts, None);
    // The focus check can fail: on a page made for that it passes the
    // browser's own ring on a link and finds the button that hides its focus.
    let mut canary = Vec::new();
    j.client
        .goto(FOCUS_CANARY)
        .await
        .expect("opening the page with a hidden focus");
    j.tab_to("#hidden-focus", &mut canary).await;
    assert!(
        canary.len() == 1 && canary[0].starts_with("button#hidden-focus"),
        "the focus check found {canary:?}, not exactly the button that hides its focus"
    );
    // Every element the focus reached without showing it.
    let mut unseen = Vec::new();

    // Sign in: the user name, Tab to the password, Enter submits.
    j.goto("/login").await;
    j.find("input[name='user']").await;
    j.tab_to("input[name='user']", &mut unseen).await;
    j.type_here("zhangsan").await;
    j.tab_to("input[name='password']", &mut unseen).await;
    j.type_here(tongban::demo::DEMO_PASSWORD).await;
    j.press(&[Key::Enter]).await;
    let landed = j.wait_for_path("to leave the sign-in page", |p| p != "/login").await;
    if landed != "/" {
        j.goto("/").await;
    }

    // From the home page to the service: Tab to its link, Enter follows it.
    let service = format!("a[href='/services/{APP}']");
    j.find(&service).await;
    j.tab_to(&service, &mut unseen).await;
    j.press(&[Key::Enter]).await;
    j.wait_for_path("the service page", |p| p == format!("/services/{APP}"))
        .await;

    // The consent: Tab to 同意, Space presses it.
    let grant = "button[name='decision'][value='grant']";
    j.find(grant).await;
    j.tab_to(grant, &mut unseen).await;
    j.press(&[Key::Space]).await;
    j.find("#f-operator-phone").await;

    // The form, field by field in the order Tab reaches them; the prefilled
    // name and ID number are passed over, the rest is typed or chosen.
    let submit = format!("form[action='/services/{APP}/apply'] button[type='submit']");
    let mut filled: Vec<String> = Vec::new();
    let mut presses = 0;
    loop {
        assert!(
            presses < MAX_KEY_PRESSES,
            "{MAX_KEY_PRESSES} presses of Tab did not reach the form's submit button; filled {filled:?}"
        );
        presses += 1;
        j.press(&[Key::Tab]).await;
        let focused = j.focused(&submit).await;
        j.note_focus(&focused, &mut unseen).await;
        if focused.matches {
            break;
        }
        match focused.id.as_str() {
            "f-operator-phone" if focused.value.is_empty() => j.type_here("13800138000").await,
            "f-business-trade-name" => j.type_here("西湖小厨").await,
            "f-business-industry" => choose_with_arrow_keys(&j, "餐饮").await,
            "f-business-scope" => j.type_here("餐饮服务\n预包装食品销售").await,
            "f-business-address" => j.type_here("浙江省杭州市西湖区文三路90号").await,
            _ => continue,
        }
        filled.push(focused.id);
    }
    for field in [
        "f-business-trade-name",
        "f-business-industry",
        "f-business-scope",
        "f-business-address",
    ] {
        assert!(
            filled.iter().any(|f| f == field),
            "Tab never reached #{field} before the submit button; filled {filled:?}"
        );
    }
    let phone = j.find("#f-operator-phone").await.prop("value").await.unwrap();
    assert!(phone.is_some_and(|p| !p.is_empty()), "the phone is prefilled or typed");

    // Shift+Tab goes back to the field before the button, and Tab returns.
    j.press(&[Key::Shift, Key::Tab]).await;
    let back = j.focused(&submit).await;
    j.note_focus(&back, &mut unseen).await;
    assert!(
        !back.matches && back.element != "body",
        "Shift+Tab from the submit button reaches the field before it, not {}",
        back.element
    );
    j.tab_to(&submit, &mut unseen).await;

    // Enter on the focused submit button sends the application.
    j.press(&[Key::Enter]).await;
    j.wait_for_path("the case page", |p| p.starts_with("/my/cases/")).await;
    j.wait_for_text("#stage", "已提交").await;
    j.screenshot("case-reached").await;

    j.client.close().await.expect("closing the browser");
    drop(driver);
    drop(server);
    assert!(
        unseen.is_empty(),
        "the focus does not show on {} element(s):\n{}",
        unseen.len(),
        unseen.join("\n")
    );
}

/// With a `<select>` focused, press the down arrow until its value is
/// `wanted`, at most `MAX_KEY_PRESSES` times.
async fn choose_with_arrow_keys(j: &Journey, wanted: &str) {
    for _ in 0..MAX_KEY_PRESSES {
        let focused = j.focused("select").await;
        assert!(focused.matches, "a select has the focus, not {}", focused.element);
        if focused.value == wanted {
            return;
        }
        j.press(&[Key::Down]).await;
    }
    panic!("{MAX_KEY_PRESSES} presses of the down arrow did not choose {wanted:?}");
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
    j.goto("/login").await;
    j.find("input[name='user']").await;
    j.audit("01a-login").await;
    j.sign_in("zhangsan").await;
    j.goto("/").await;
    j.audit("01b-citizen-home").await;
    j.click(&format!("a[href='/services/{APP}']")).await;
    let consent = j.source().await;
    assert!(
        consent.contains("授权同意") && consent.contains("电子证照：居民身份证"),
        "{consent}"
    );
    j.audit("01c-service-consent").await;
    j.click("button[name='decision'][value='grant']").await;

    // Prefilled from the identity and the ID card certificate (免提交).
    let name = j.find("#f-operator-name").await;
    assert_eq!(name.prop("value").await.unwrap().as_deref(), Some("张三"));
    let id_number = j.find("#f-operator-id-number").await;
    assert_eq!(
        id_number.prop("value").await.unwrap().as_deref(),
        Some("330106199003070014")
    );
    j.audit("01d-application-form").await;
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
    j.audit("01e-case-submitted").await;

    // The fee: the case page links to the sandbox bank's hosted page.
    j.click("a[href^='/pay/']").await;
    j.wait_for_path("the pay page", |p| p.starts_with("/pay/")).await;
    assert!(j.text("#amount").await.contains("¥10.00"));
    j.audit("01f-pay").await;
    j.click("button[name='decision'][value='pay']").await;
    j.wait_for_text("[role='status']", "支付成功").await;
    let status = j.find("#status").await;
    assert_eq!(status.attr("data-status").await.unwrap().as_deref(), Some("success"));

    // Back on the case page the fee is paid and no pay link is left.
    j.goto(&case_path).await;
    let page = j.source().await;
    assert!(page.contains("success") && !page.contains("href=\"/pay/"), "{page}");
    j.audit("01g-citizen-applies-and-pays").await;
    case_id
}

/// 2. The window clerk of the city bureau accepts the case and hands it off
///    to the district bureau (受办分离).
async fn clerk_accepts_and_hands_off(j: &Journey, case_id: &str) {
    j.sign_in("clerk").await;
    j.wait_for_path("the work queues", |p| p == "/work").await;
    j.find(&format!("a[href='/work/cases/{case_id}']")).await;
    j.audit("02a-clerk-work-queue").await;
    j.click(&format!("a[href='/work/cases/{case_id}']")).await;
    j.find("button[name='action'][value='accept']").await;
    j.audit("02b-clerk-case").await;
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
    j.audit("02c-clerk-accepts-and-hands-off").await;
}

/// 3. The district bureau's handler finds the case in the handling queue and approves it.
async fn handler_approves(j: &Journey, case_id: &str) {
    j.sign_in("handler").await;
    j.wait_for_path("the work queues", |p| p == "/work").await;
    j.find(&format!("a[href='/work/cases/{case_id}']")).await;
    j.audit("03a-handler-work-queue").await;
    j.click(&format!("a[href='/work/cases/{case_id}']")).await;
    j.find("button[name='action'][value='approve']").await;
    j.audit("03b-handler-case").await;
    j.type_into("#reason", "材料齐全，准予登记").await;
    j.click("button[name='action'][value='approve']").await;
    j.wait_for_text("#stage", "已批准").await;
    j.audit("03c-handler-approves").await;
}

/// 4. The business licence, issued through the outbox after the approval,
///    shows in zhangsan's wallet as a card (reloaded for up to 30 seconds).
///    Its own page names the business and has the QR code; the link the
///    code encodes, followed, shows the licence's public status, and the
///    check of a sealed copy is one click away.
async fn citizen_sees_licence(j: &Journey) {
    j.sign_in("zhangsan").await;
    let licence = "a[href^='/my/wallet/BUSINESS-LICENCE']";
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        j.goto("/my/wallet").await;
        if j.client.find(Locator::Css(licence)).await.is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no business licence in the wallet after 30 s:\n{}",
            j.source().await
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    j.audit("04a-citizen-sees-licence").await;
    j.click(licence).await;
    j.wait_for_path("the licence's page", |p| p.starts_with("/my/wallet/BUSINESS"))
        .await;
    let page = j.source().await;
    assert!(page.contains("西湖小厨"), "the licence names the business:\n{page}");
    j.find("#qr svg[role='img']").await;
    let check_url = j
        .find("#check-url")
        .await
        .attr("href")
        .await
        .expect("the status link's address")
        .expect("the status link has an address");
    assert!(check_url.starts_with(&j.url("/check/")), "{check_url}");
    j.audit("04b-licence-with-qr-code").await;
    j.client.goto(&check_url).await.expect("opening the status link");
    let status = j.find("#certificate-status").await;
    assert_eq!(status.attr("data-status").await.unwrap().as_deref(), Some("valid"));
    j.audit("04c-licence-public-status").await;
    j.click("a[href='/verify']").await;
    j.wait_for_path("the sealed-copy check", |p| p == "/verify").await;
    j.find("input[type='file'][name='copy']").await;
    j.audit("04d-verify-a-sealed-copy").await;
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
    j.audit("05a-handler-delivers-and-closes").await;

    j.sign_in("zhangsan").await;
    j.goto(&format!("/my/cases/{case_id}")).await;
    j.wait_for_text("#stage", "已办结").await;
    j.find("#rate").await;
    j.audit("05b-citizen-case-to-rate").await;
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
    j.audit("05c-citizen-rates-case").await;
}

/// 6. The bureau's publisher uploads the signed 1.1.0; the receipt shows it
///    in review with the added capability highlighted.
async fn publisher_uploads(j: &Journey, package: &str) {
    j.sign_in("publisher").await;
    j.goto("/publish").await;
    j.find("#package").await;
    j.audit("06a-publish").await;
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
    j.audit("06b-publisher-uploads-1.1.0").await;
}

/// 7. The reviewer opens the version from the queue, reads the diff, ticks
///    every added capability and approves.
async fn reviewer_approves(j: &Journey) {
    j.sign_in("reviewer").await;
    j.goto("/reviews").await;
    j.find(&format!("a[href='/reviews/{APP}/{UPDATE}']")).await;
    j.audit("07a-review-queue").await;
    j.click(&format!("a[href='/reviews/{APP}/{UPDATE}']")).await;
    j.wait_for_path("the submission", |p| p == format!("/reviews/{APP}/{UPDATE}"))
        .await;
    assert!(j.text("table.capability-diff").await.contains("storage"));
    j.audit("07b-review-submission").await;
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
    j.find(".version-state[data-state='approved']").await;
    assert!(
        j.client.find(Locator::Css("#approve")).await.is_err(),
        "a decided version offers no decision form"
    );
    j.audit("07c-reviewer-approves").await;
}

/// 8. The region admin of 杭州市 rolls 1.1.0 out to half of the region.
async fn region_admin_rolls_out(j: &Journey) {
    j.sign_in("region-admin").await;
    j.goto("/region").await;
    let section = format!("section.release[data-app='{APP}'][data-version='{UPDATE}']");
    j.find(&section).await;
    j.audit("08a-region").await;
    j.type_into(&format!("{section} input[name='percentage']"), "50").await;
    j.click(&format!("{section} button[name='action'][value='rollout']"))
        .await;
    j.wait_for_text(&format!("{section} tr[data-region='330100']"), "50%")
        .await;
    let row = j.find(&format!("{section} tr[data-region='330100']")).await;
    assert_eq!(row.attr("data-state").await.unwrap().as_deref(), Some("rolling-out"));
    j.audit("08b-region-admin-rolls-out-50").await;
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
    j.audit("09a-citizen-service-before-revoke").await;

    j.sign_in("security").await;
    j.goto("/security").await;
    let section = format!("section.release[data-app='{APP}'][data-version='{UPDATE}']");
    j.find(&section).await;
    j.audit("09b-security").await;
    j.type_into(
        &format!("{section} textarea[name='reason']"),
        "安全事件：1.1.0 存在越权读取风险，立即吊销",
    )
    .await;
    j.click(&format!("{section} button[name='action'][value='revoke']"))
        .await;
    j.wait_for_text(&format!("{section} h2"), "已吊销").await;
    let revoked = j.find(&section).await;
    assert_eq!(
        revoked.attr("data-version-state").await.unwrap().as_deref(),
        Some("revoked")
    );
    j.audit("09c-security-revokes").await;

    let base = j.base.clone();
    let token_owned = token.to_owned();
    let after = tokio::task::spawn_blocking(move || served_version(&base, &token_owned, CITIZEN_REGION, &on_update))
        .await
        .unwrap();
    assert_eq!(after, "1.0.0", "a subject that had 1.1.0 falls back to 1.0.0");

    j.sign_in("zhangsan").await;
    j.goto(&format!("/services/{APP}")).await;
    j.wait_for_text("#serving-version", "1.0.0").await;
    j.audit("09d-security-revokes-app-falls-back").await;
}

/// 10. The auditor reads zhangsan's part of the audit log and the provenance
///     of his data, and verifies the chain, which is intact; the security
///     officer's audit page (the same page, reached from the security
///     navigation) finds the revocation.
async fn auditor_verifies_the_chain(j: &Journey) {
    j.sign_in("auditor").await;
    j.goto(&format!("/audit?subject={CITIZEN_SUBJECT}")).await;
    j.find("#audit-log table").await;
    j.find("#provenance").await;
    j.audit("10a-audit-log").await;
    j.click("#verify").await;
    let result = j.find("#verify-result").await;
    assert_eq!(result.attr("data-intact").await.unwrap().as_deref(), Some("true"));
    j.audit("10b-auditor-verifies-chain").await;

    j.sign_in("security").await;
    j.goto("/audit?action=release.revoke").await;
    j.find("#audit-log tr[data-action='release.revoke']").await;
    j.audit("10c-security-audit-log").await;
}
