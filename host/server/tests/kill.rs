//! Issue 13, item 8, on SQLite and on PostgreSQL: `kill -9` a node while 64
//! citizens apply, pay and have their cases accepted at once, restart it on
//! the same store, and let every citizen finish what was not acknowledged
//! with the same submission key. Afterwards no acknowledged case is lost, no
//! submission key opened a second case, no fee was charged twice (by the
//! platform's record or by the sandbox bank's), and every case event reached
//! the app, whose keyed effect (the `accepted` message) exists exactly once
//! per event. `tongban audit verify` passes on the store.
//!
//! Nothing here waits on a clock for an outcome: the kill comes when a count
//! of acknowledged applications is reached, and every wait is a poll for a
//! condition with a generous deadline.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use common::{APP, BUREAU, REGION, Store, stores, text};
use serde_json::{Value, json};
use sqlx::Row;
use tongban_registry::market::{Actor, accounts};
use tongban_registry::release::Role;
use tongban_services::Services;
use tongban_services::cases::NewCase;
use tongban_services::cases::calendar::WorkCalendar;
use tongban_services::payments::{CallbackOutcome, PayDecision};
use tongban_store::Database;
use tongban_testdb::seed::{self, IdentifiedCitizen};
use tongban_tests::ServerProcess;

/// How many citizens apply and pay at once.
const CLIENTS: usize = 64;
/// The node is killed when this many applications have been acknowledged.
const KILL_AFTER_APPLICATIONS: usize = 40;
/// The fee the example app asks for each case, in fen.
const FEE_FEN: u64 = 1000;
/// The longest any one step of a client, or any wait of the test, may take.
const DEADLINE: Duration = Duration::from_secs(120);
/// The pause before a request is sent again after a refusal to try later
/// (503) or a dead connection: pacing, not a wait for an outcome.
const RETRY_PAUSE: Duration = Duration::from_millis(50);
/// The app's one item.
const ITEM: &str = "330100-XK-00012-001";
/// The demo's window clerk, of the org that accepts the app's cases online.
const CLERK: &str = "clerk";

#[test]
fn a_node_killed_during_concurrent_applications_and_payments_loses_and_repeats_nothing() {
    let root = tempfile::tempdir().unwrap();
    // The node comes back from the binary it ran before: a copy made now, so
    // a rebuild of a shared target directory during the run cannot swap it.
    let binary = root.path().join("tongban");
    std::fs::copy(env!("CARGO_BIN_EXE_tongban"), &binary).expect("copying the tongban binary");
    for store in stores(root.path(), "e2e_kill", None) {
        let started = Instant::now();
        kill_during_applications(&binary, &store);
        eprintln!(
            "[{}] the kill test took {:.1} s",
            store.backend,
            started.elapsed().as_secs_f64()
        );
    }
}

fn kill_during_applications(binary: &Path, store: &Store) {
    let backend = store.backend;
    let store = &Store {
        env: [
            store.env.clone(),
            vec![
                // The refusals to try later and the requests a dying node
                // drops are this test's own doing; the log keeps the rest.
                (
                    "TONGBAN_LOG".to_owned(),
                    "warn,tongban::api::error=off,tongban::request=off".to_owned(),
                ),
                // The demo builds the example app where the plugins
                // workspace builds it (`plugins/.cargo/config.toml`), as
                // the test kit does, not in a target directory set for the
                // host's workspace.
                (
                    "CARGO_TARGET_DIR".to_owned(),
                    tongban_tests::repo_root().join("target/wasm").display().to_string(),
                ),
            ],
        ]
        .concat(),
        ..store.clone()
    };
    let start_node = |extra: &[&str]| {
        let mut args = store.args();
        args.extend(extra.iter().map(|a| a.to_string()));
        ServerProcess::start(binary, &args, &store.env)
    };
    let tokio = tokio::runtime::Runtime::new().unwrap();
    // The demo publishes, approves and rolls out the example app through the
    // real paths, and makes the orgs, the clerk and the ID card issuer. The
    // restart below is without `--demo`: the node comes back as it was.
    let first = start_node(&["--demo"]);
    let services = tokio.block_on(async {
        let db = Database::open_configured(store.database_url.as_deref(), &store.data_dir)
            .await
            .unwrap();
        Services::new(db)
    });
    let citizens = tokio.block_on(seed_citizens(&services));
    let clerk = tokio
        .block_on(accounts::issue_token(
            services.db(),
            &Actor::system(),
            CLERK,
            "kill test",
        ))
        .unwrap();
    for citizen in &citizens {
        grant_consent(&first.url, citizen);
    }
    // The last citizen stays out of the run, for the crash windows
    // reproduced exactly afterwards.
    let mut citizens = citizens;
    let latecomer = citizens.pop().expect("one citizen more than the clients");

    let node = Arc::new(Node {
        url: RwLock::new(first.url.clone()),
        process: Mutex::new(Some(first)),
        applications_acknowledged: AtomicUsize::new(0),
        acknowledged: AtomicUsize::new(0),
        killed: Mutex::new(None),
    });
    let clients: Vec<_> = citizens
        .iter()
        .cloned()
        .map(|citizen| {
            let node = node.clone();
            let clerk = clerk.clone();
            std::thread::spawn(move || run_client(&node, &citizen, &clerk))
        })
        .collect();

    // The client whose application is the KILL_AFTER_APPLICATIONS-th
    // acknowledged kills the node; restart it on the same store as soon as
    // it is dead.
    let waited = Instant::now();
    let killed = loop {
        if let Some(killed) = node.killed.lock().unwrap().clone() {
            break Some(killed);
        }
        if clients.iter().all(|c| c.is_finished()) {
            break None;
        }
        assert!(
            waited.elapsed() < DEADLINE,
            "[{backend}] {KILL_AFTER_APPLICATIONS} applications were not acknowledged within {DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    if killed.is_some() {
        let restarted = start_node(&[]);
        *node.url.write().unwrap() = restarted.url.clone();
        *node.process.lock().unwrap() = Some(restarted);
    }

    let mut reports = Vec::new();
    let mut failures = Vec::new();
    for client in clients {
        match client.join().expect("a client thread panicked") {
            Ok(report) => reports.push(report),
            Err(failure) => failures.push(failure),
        }
    }
    assert!(
        failures.is_empty(),
        "[{backend}] {} of {CLIENTS} citizens could not finish after the restart:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let killed = killed.unwrap_or_else(|| panic!("[{backend}] every client finished and the node was never killed"));
    assert_eq!(killed.signal, Some(9), "[{backend}] the node did not die of SIGKILL");
    // By construction the killing client's payment and acceptance come
    // after the kill; this says how much more the kill cut into.
    let dead_requests: usize = reports.iter().map(|r| r.dead_requests).sum();
    eprintln!(
        "[{backend}] killed after {} of the {} acknowledgments the clients needed; {dead_requests} requests met a dead node",
        killed.acknowledged,
        CLIENTS * 3
    );

    let url = node.url.read().unwrap().clone();
    tokio.block_on(outbox_drains(&services, backend));
    tokio.block_on(check_store(&services, backend, &reports));
    check_api(
        &url,
        &clerk,
        backend,
        &reports,
        &tokio.block_on(settlement_dates(&services)),
    );
    crash_windows_are_finished(&tokio, &services, &url, backend, &latecomer);
    audit_verifies(binary, store);
    drop(node);
}

/// The two places a kill can leave work half done, reproduced exactly rather
/// than left to where the kill happened to land: a case opened by an
/// application whose node died before the app's `submit` answered, and a
/// payment whose node died after the sandbox bank took the decision but
/// before applying its callbacks. Each is finished by the live node: the
/// repeated application gets its case with its fee, and the bank sends its
/// callbacks again until the payment settles, once.
fn crash_windows_are_finished(
    tokio: &tokio::runtime::Runtime,
    services: &Services,
    url: &str,
    backend: &str,
    citizen: &Citizen,
) {
    let who = &citizen.subject;
    // What `flows::apply` writes before it runs `submit`, and nothing after.
    let (opened, created) = tokio
        .block_on(services.open_case(NewCase {
            app: APP.into(),
            app_version: "1.0.0".into(),
            item: ITEM.into(),
            item_mode: "commitment".into(),
            promised_days: Some(5),
            subject: citizen.subject.clone(),
            region: REGION.into(),
            channel: "web".into(),
            on_behalf_of: None,
            accepting_org: BUREAU.into(),
            form: citizen.form().to_string(),
            follow_on_of: None,
            submission_key: Some(citizen.submission_key()),
        }))
        .unwrap();
    assert!(created, "[{backend}] the half-done case was not opened");
    assert!(
        !tokio.block_on(services.submit_answered(&opened.id)).unwrap(),
        "[{backend}] a case whose submit never ran counts as answered"
    );
    let agent = agent();
    let (status, body) = post(
        &agent,
        &format!("{url}/api/v1/applications"),
        &citizen.token,
        &citizen.application(),
    )
    .unwrap();
    let applied = json_of(&body);
    assert_eq!(
        (status, applied["case"]["id"].as_str()),
        (200, Some(opened.id.as_str())),
        "[{backend}] {who}'s repeated application did not answer the case it opened: {applied}"
    );
    let fees = applied["payments"].as_array().unwrap();
    assert!(
        fees.len() == 1 && fees[0]["amount_fen"] == FEE_FEN,
        "[{backend}] {who}'s repeated application answered its case without the fee: {applied}"
    );
    assert!(
        tokio.block_on(services.submit_answered(&opened.id)).unwrap(),
        "[{backend}] the app's submit ran, and the case does not record it"
    );
    let payment = fees[0]["id"].as_str().unwrap().to_owned();

    // The bank takes the decision; the node that took it dies before its
    // callbacks are applied.
    tokio.block_on(services.start_payment(&payment)).unwrap();
    let undelivered = tokio
        .block_on(services.sandbox_settle(&payment, PayDecision::Pay))
        .unwrap();
    assert_eq!(
        undelivered.len(),
        2,
        "[{backend}] the bank's decision makes two callbacks"
    );
    let started = Instant::now();
    loop {
        let (status, body) = get(&agent, &format!("{url}/api/v1/cases/{}", opened.id), &citizen.token).unwrap();
        assert_eq!(status, 200, "[{backend}] {who} cannot read the case: {body}");
        let shown = json_of(&body);
        if shown["payments"][0]["status"] == "success" {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "[{backend}] the fee the bank took is still not settled after {DEADLINE:?}: {shown}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Sent again by hand, the callbacks are the same events: nothing moves.
    for callback in &undelivered {
        let outcome = tokio
            .block_on(services.apply_callback(&callback.provider, &callback.body, &callback.signature))
            .unwrap();
        assert!(
            matches!(outcome, CallbackOutcome::Duplicate(_)),
            "[{backend}] the bank's callback sent again was taken as new: {outcome:?}"
        );
    }
    let pool = services.db().pool();
    let paid: i64 = tokio
        .block_on(
            sqlx::query("SELECT COUNT(*) FROM case_events WHERE case_id = $1 AND kind = 'paid'")
                .bind(&opened.id)
                .fetch_one(pool),
        )
        .unwrap()
        .get(0);
    assert_eq!(
        paid, 1,
        "[{backend}] the redelivered fee was recorded as paid {paid} times"
    );
    let charged: Vec<(String, i64)> = tokio
        .block_on(
            sqlx::query("SELECT decision, amount_fen FROM sandbox_bank_decisions WHERE payment_id = $1")
                .bind(&payment)
                .fetch_all(pool),
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        charged,
        [("pay".to_owned(), FEE_FEN as i64)],
        "[{backend}] the sandbox bank's record of the redelivered fee"
    );
}

/// The node the clients talk to: where it listens now, its process, and the
/// counts that decide when it is killed.
struct Node {
    url: RwLock<String>,
    process: Mutex<Option<ServerProcess>>,
    applications_acknowledged: AtomicUsize,
    /// Every 2xx answer a client counted as the acknowledgment of a step.
    acknowledged: AtomicUsize,
    killed: Mutex<Option<Killed>>,
}

#[derive(Debug, Clone)]
struct Killed {
    signal: Option<i32>,
    /// The acknowledgments counted when the node was killed.
    acknowledged: usize,
}

impl Node {
    fn url(&self) -> String {
        self.url.read().unwrap().clone()
    }

    fn acknowledge(&self) {
        self.acknowledged.fetch_add(1, Ordering::SeqCst);
    }

    /// Count an acknowledged application; the one that reaches
    /// [`KILL_AFTER_APPLICATIONS`] kills the node with SIGKILL before its
    /// client goes on, so that client's payment and acceptance, and whatever
    /// the others have in flight, meet a dead node.
    fn application_acknowledged(&self) {
        self.acknowledge();
        if self.applications_acknowledged.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER_APPLICATIONS {
            let mut process = self.process.lock().unwrap();
            let signal = process.as_mut().expect("the first node runs").kill_hard();
            *self.killed.lock().unwrap() = Some(Killed {
                signal,
                acknowledged: self.acknowledged.load(Ordering::SeqCst),
            });
        }
    }
}

/// One citizen with an account and an API token.
#[derive(Debug, Clone)]
struct Citizen {
    index: usize,
    subject: String,
    name: String,
    id_number: String,
    token: String,
}

impl Citizen {
    fn submission_key(&self) -> String {
        format!("kill-{:02}", self.index)
    }

    fn application(&self) -> Value {
        json!({
            "region": REGION,
            "app": APP,
            "submission_key": self.submission_key(),
            "form": self.form(),
        })
    }

    fn form(&self) -> Value {
        json!({
            "operator": { "name": self.name, "id-number": self.id_number, "phone": "13800138000" },
            "business": {
                "trade-name": format!("{}记小厨", self.name),
                "industry": "餐饮",
                "scope": ["餐饮服务"],
                "address": format!("浙江省杭州市西湖区文三路{}号", self.index + 1)
            }
        })
    }
}

/// A resident ID number of 西湖区 born on 1990-01-01 with sequence `n`, and
/// its GB 11643 check character.
fn id_number(n: usize) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let body = format!("33010619900101{n:03}");
    let sum: u32 = body
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    format!("{body}{}", CHECK[(sum % 11) as usize])
}

/// The citizens, one more than the clients, each with a resident ID card
/// from the demo's public security bureau, an account and a token.
async fn seed_citizens(services: &Services) -> Vec<Citizen> {
    const SURNAMES: [&str; 9] = ["赵", "钱", "孙", "李", "周", "吴", "郑", "王", "冯"];
    const GIVEN: [&str; 8] = ["一", "二", "三", "四", "五", "六", "七", "八"];
    let people: Vec<IdentifiedCitizen> = (0..=CLIENTS)
        .map(|i| IdentifiedCitizen {
            id: format!("citizen-kill-{i:02}"),
            name: format!("{}{}", SURNAMES[i / 8], GIVEN[i % 8]),
            id_number: id_number(i),
        })
        .collect();
    seed::citizens_with_id_cards(services, REGION, tongban_services::demo::PUBLIC_SECURITY_ORG, &people).await;
    let mut citizens = Vec::new();
    for (index, person) in people.into_iter().enumerate() {
        let user = accounts::User {
            id: format!("kill-{index:02}"),
            display_name: person.name.clone(),
            role: Role::Citizen,
            org: None,
            region: None,
            subject: Some(person.id.clone()),
        };
        accounts::create_user(services.db(), &Actor::system(), &user)
            .await
            .unwrap();
        let token = accounts::issue_token(services.db(), &Actor::system(), &user.id, "kill test")
            .await
            .unwrap();
        citizens.push(Citizen {
            index,
            subject: person.id,
            name: person.name,
            id_number: person.id_number,
            token,
        });
    }
    citizens
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// A request's answer: its status and body, or why no answer came (the node
/// was killed, or is not up yet).
type Answer = Result<(u16, String), ureq::Error>;

fn read(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut response = response?;
    let status = response.status().as_u16();
    Ok((status, response.body_mut().read_to_string()?))
}

fn get(agent: &ureq::Agent, url: &str, token: &str) -> Answer {
    read(agent.get(url).header("Authorization", format!("Bearer {token}")).call())
}

fn post(agent: &ureq::Agent, url: &str, token: &str, body: &Value) -> Answer {
    read(
        agent
            .post(url)
            .header("Authorization", format!("Bearer {token}"))
            .send_json(body),
    )
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()))
}

/// The citizen grants the consent the app asks for its item, before the run.
fn grant_consent(url: &str, citizen: &Citizen) {
    let agent = agent();
    let (status, body) = post(
        &agent,
        &format!("{url}/api/v1/consents"),
        &citizen.token,
        &json!({ "region": REGION, "app": APP }),
    )
    .unwrap();
    assert_eq!(status, 201, "{} could not ask for the consent: {body}", citizen.subject);
    let id = json_of(&body)["id"].as_str().unwrap().to_owned();
    let (status, body) = post(
        &agent,
        &format!("{url}/api/v1/consents/{id}/grant"),
        &citizen.token,
        &json!({ "days": 30 }),
    )
    .unwrap();
    assert_eq!(status, 200, "{} could not grant the consent: {body}", citizen.subject);
}

/// What a step's attempt came to.
enum Attempt<T> {
    Done(T),
    /// Not settled yet: no answer (a dead node), a 503, or a state on its way.
    Again,
}

/// Everything a client was told, for the checks after the run.
#[derive(Debug)]
struct Report {
    citizen: Citizen,
    /// The case every 2xx answer to the application named, in order; the
    /// last one is the same submission key sent once more after everything.
    answered_cases: Vec<String>,
    case: String,
    payment: String,
    /// Whether the pay page answered 2xx with the payment successful.
    paid_acknowledged: bool,
    /// Whether the clerk's acceptance was answered 2xx.
    accept_acknowledged: bool,
    /// Requests that got no answer: the node was dead or not up yet.
    dead_requests: usize,
}

struct Client<'a> {
    node: &'a Node,
    agent: ureq::Agent,
    citizen: &'a Citizen,
    /// The sandbox bank's pre-session form cookie, as a browser keeps it.
    form_cookie: Option<String>,
    dead_requests: usize,
}

impl Client<'_> {
    /// Repeat `attempt` against wherever the node listens now until it is
    /// done, failing past [`DEADLINE`].
    fn until<T>(
        &mut self,
        what: &str,
        mut attempt: impl FnMut(&mut Self, &str) -> Result<Attempt<T>, String>,
    ) -> Result<T, String> {
        let started = Instant::now();
        loop {
            let url = self.node.url();
            if let Attempt::Done(value) = attempt(self, &url)? {
                return Ok(value);
            }
            if started.elapsed() > DEADLINE {
                return Err(format!(
                    "{}: {what} did not settle within {DEADLINE:?}",
                    self.citizen.subject
                ));
            }
            std::thread::sleep(RETRY_PAUSE);
        }
    }

    /// The citizen's application, always with the same submission key.
    fn apply(&mut self, what: &str, url: &str) -> Result<Attempt<(u16, Value)>, String> {
        let answer = post(
            &self.agent,
            &format!("{url}/api/v1/applications"),
            &self.citizen.token,
            &self.citizen.application(),
        );
        self.settle(what, answer, &[200, 201])
    }

    /// Sort an answer into done (a status `done` accepts), again (no answer,
    /// or 503), or a failure naming the step.
    fn settle(&mut self, what: &str, answer: Answer, done: &[u16]) -> Result<Attempt<(u16, Value)>, String> {
        match answer {
            Err(_) => {
                self.dead_requests += 1;
                Ok(Attempt::Again)
            }
            Ok((503, _)) => Ok(Attempt::Again),
            Ok((status, body)) if done.contains(&status) => Ok(Attempt::Done((status, json_of(&body)))),
            Ok((status, body)) => Err(format!(
                "{}: {what} was answered {status}: {body}",
                self.citizen.subject
            )),
        }
    }
}

fn run_client(node: &Node, citizen: &Citizen, clerk: &str) -> Result<Report, String> {
    let mut client = Client {
        node,
        agent: agent(),
        citizen,
        form_cookie: None,
        dead_requests: 0,
    };
    let who = &citizen.subject;
    let key = citizen.submission_key();

    // Apply. Until an answer comes, the same submission key is sent again.
    let (_, applied) = client.until("the application", |c, url| c.apply("the application", url))?;
    node.application_acknowledged();
    let case = applied["case"]["id"]
        .as_str()
        .ok_or_else(|| format!("{who}: the application's answer names no case: {applied}"))?
        .to_owned();
    let fees = applied["payments"].as_array().cloned().unwrap_or_default();
    if fees.len() != 1 || fees[0]["amount_fen"] != FEE_FEN {
        return Err(format!(
            "{who}: the application {key} answered case {case} with fees {fees:?}, not the one fee of {FEE_FEN} fen the app asks"
        ));
    }
    let payment = fees[0]["id"].as_str().unwrap().to_owned();
    let mut answered_cases = vec![case.clone()];

    // Pay on the sandbox bank's page, as a browser does, until the case
    // shows the fee paid.
    let case_url = |url: &str| format!("{url}/api/v1/cases/{case}");
    let paid_acknowledged = client.until("the payment", |c, url| {
        let Attempt::Done((_, shown)) = c.settle(
            "reading the case",
            get(&c.agent, &case_url(url), &c.citizen.token),
            &[200],
        )?
        else {
            return Ok(Attempt::Again);
        };
        match shown["payments"][0]["status"].as_str() {
            Some("success") => Ok(Attempt::Done(false)),
            // The bank has the citizen's decision; its callbacks are on their way.
            Some("submitted") => Ok(Attempt::Again),
            Some("created" | "started") => pay(c, url, &payment),
            other => Err(format!("{who}: the fee of case {case} is {other:?}: {shown}")),
        }
    })?;
    if paid_acknowledged {
        node.acknowledge();
    }

    // The clerk accepts the case. An acceptance the killed node committed
    // but never answered is found on the case.
    let accept_acknowledged = client.until("the acceptance", |c, url| {
        let answer = post(
            &c.agent,
            &format!("{url}/api/v1/cases/{case}/steps"),
            clerk,
            &json!({ "action": "accept" }),
        );
        match c.settle("the acceptance", answer, &[200, 409])? {
            Attempt::Done((200, _)) => Ok(Attempt::Done(true)),
            Attempt::Done((_, refused)) => {
                let Attempt::Done((_, shown)) =
                    c.settle("reading the case", get(&c.agent, &case_url(url), clerk), &[200])?
                else {
                    return Ok(Attempt::Again);
                };
                if shown["case"]["stage"] == "accepted" {
                    Ok(Attempt::Done(false))
                } else {
                    Err(format!(
                        "{who}: accepting case {case} was refused: {refused}; the case: {shown}"
                    ))
                }
            }
            Attempt::Again => Ok(Attempt::Again),
        }
    })?;
    if accept_acknowledged {
        node.acknowledge();
    }

    // The same submission key once more, after the restart: the first case.
    let (status, again) = client.until("the repeated application", |c, url| {
        c.apply("the repeated application", url)
    })?;
    if status != 200 || again["created"] != false {
        return Err(format!(
            "{who}: the submission key {key} sent again opened a new case ({status}): {again}"
        ));
    }
    answered_cases.push(again["case"]["id"].as_str().unwrap_or_default().to_owned());

    Ok(Report {
        citizen: citizen.clone(),
        answered_cases,
        case,
        payment,
        paid_acknowledged,
        accept_acknowledged,
        dead_requests: client.dead_requests,
    })
}

/// One press of pay on the sandbox bank's page: open it (the bank's form
/// cookie and token, as a browser gets them), then post the decision.
/// Done (and acknowledged) when the bank's answer shows the payment
/// successful.
fn pay(c: &mut Client, url: &str, payment: &str) -> Result<Attempt<bool>, String> {
    let page_url = format!("{url}/pay/{payment}");
    let mut request = c.agent.get(&page_url);
    if let Some(cookie) = &c.form_cookie {
        request = request.header("Cookie", cookie.as_str());
    }
    let page = match request.call() {
        Ok(page) => page,
        Err(_) => {
            c.dead_requests += 1;
            return Ok(Attempt::Again);
        }
    };
    if let Some(cookie) = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("tb_form="))
    {
        c.form_cookie = Some(cookie.split(';').next().unwrap().to_owned());
    }
    let Ok((status, body)) = read(Ok(page)) else {
        c.dead_requests += 1;
        return Ok(Attempt::Again);
    };
    if status != 200 {
        return match status {
            503 => Ok(Attempt::Again),
            _ => Err(format!("{}: the pay page answered {status}: {body}", c.citizen.subject)),
        };
    }
    let Some(token) = hidden_value(&body, "csrf") else {
        // The page offers no form: the payment moved on since it was read.
        return Ok(Attempt::Again);
    };
    let cookie = c.form_cookie.clone().unwrap_or_default();
    let answer = read(
        c.agent
            .post(&page_url)
            .header("Cookie", cookie.as_str())
            .send_form([("csrf", token.as_str()), ("decision", "pay")]),
    );
    match answer {
        Err(_) => {
            c.dead_requests += 1;
            Ok(Attempt::Again)
        }
        Ok((200, body)) if body.contains("data-status=\"success\"") => Ok(Attempt::Done(true)),
        // Answered, but not yet final, or refused because the payment moved
        // (a press the killed node took); the case says where it stands.
        Ok((200 | 409 | 503, _)) => Ok(Attempt::Again),
        Ok((status, body)) => Err(format!(
            "{}: paying {payment} was answered {status}: {body}",
            c.citizen.subject
        )),
    }
}

/// The value of the hidden input `name` on a page.
fn hidden_value(page: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker)? + marker.len();
    page[start..].split('"').next().map(str::to_owned)
}

/// Wait until every case event for an app is delivered. Events the killed
/// node had claimed wait out their lease first.
async fn outbox_drains(services: &Services, backend: &str) {
    let started = Instant::now();
    loop {
        let pending = services.pending_case_events().await.unwrap();
        if pending == 0 {
            return;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "[{backend}] {pending} case events are still undelivered {DEADLINE:?} after the run"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the database holds after the run, read directly.
async fn check_store(services: &Services, backend: &str, reports: &[Report]) {
    let pool = services.db().pool();

    // Every acknowledged case is there with its form, and each submission
    // key opened one case.
    let rows = sqlx::query("SELECT id, subject_id, submission_key, form, stage FROM cases WHERE app_id = $1")
        .bind(APP)
        .fetch_all(pool)
        .await
        .unwrap();
    let mut per_key: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut cases: BTreeMap<String, (String, String)> = BTreeMap::new();
    for row in &rows {
        let id: String = row.get(0);
        let subject: String = row.get(1);
        let key: Option<String> = row.get(2);
        per_key
            .entry((subject, key.unwrap_or_default()))
            .or_default()
            .push(id.clone());
        cases.insert(id, (row.get(3), row.get(4)));
    }
    for ((subject, key), ids) in &per_key {
        assert_eq!(
            ids.len(),
            1,
            "[{backend}] the submission key {key:?} of {subject} opened {} cases: {ids:?}",
            ids.len()
        );
    }
    assert_eq!(
        rows.len(),
        CLIENTS,
        "[{backend}] {CLIENTS} citizens applied once each, and there are {} cases",
        rows.len()
    );
    for report in reports {
        let who = &report.citizen.subject;
        for answered in &report.answered_cases {
            assert_eq!(
                answered, &report.case,
                "[{backend}] {who}'s submission key was answered with two cases: {:?}",
                report.answered_cases
            );
        }
        let (form, stage) = cases
            .get(&report.case)
            .unwrap_or_else(|| panic!("[{backend}] {who}'s acknowledged case {} is lost", report.case));
        assert_eq!(
            serde_json::from_str::<Value>(form).unwrap(),
            report.citizen.form(),
            "[{backend}] {who}'s case {} does not keep the form that was sent",
            report.case
        );
        assert_eq!(
            stage, "accepted",
            "[{backend}] {who}'s case {} was not accepted",
            report.case
        );
    }

    // One fee per case, paid once: by the platform's record, by the
    // callbacks it applied, and by the case events.
    let payments = sqlx::query("SELECT id, case_id, status, amount_fen FROM payments WHERE app_id = $1")
        .bind(APP)
        .fetch_all(pool)
        .await
        .unwrap();
    let mut fees: BTreeMap<String, Vec<(String, String, i64)>> = BTreeMap::new();
    for row in &payments {
        fees.entry(row.get(1))
            .or_default()
            .push((row.get(0), row.get(2), row.get(3)));
    }
    let applied_successes: BTreeMap<String, i64> = sqlx::query(
        "SELECT payment_id, COUNT(*) FROM payment_callbacks WHERE status = 'success' AND applied = 1 GROUP BY payment_id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    for report in reports {
        let who = &report.citizen.subject;
        let of_case = fees.get(&report.case).cloned().unwrap_or_default();
        assert_eq!(
            of_case,
            vec![(report.payment.clone(), "success".to_owned(), FEE_FEN as i64)],
            "[{backend}] {who}'s case {} should have its one fee, paid once",
            report.case
        );
        assert_eq!(
            applied_successes.get(&report.payment),
            Some(&1),
            "[{backend}] the payment {} of {who} settled as successful other than once",
            report.payment
        );
    }

    // The sandbox bank's own record agrees: it charged each fee once, and
    // the full amount, and nothing else.
    let decisions = sqlx::query(
        "SELECT d.payment_id, d.decision, d.amount_fen FROM sandbox_bank_decisions d
         JOIN payments p ON p.id = d.payment_id WHERE p.app_id = $1",
    )
    .bind(APP)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut charged: BTreeMap<String, Vec<(String, i64)>> = BTreeMap::new();
    for row in &decisions {
        charged.entry(row.get(0)).or_default().push((row.get(1), row.get(2)));
    }
    for report in reports {
        assert_eq!(
            charged.get(&report.payment).cloned().unwrap_or_default(),
            vec![("pay".to_owned(), FEE_FEN as i64)],
            "[{backend}] the sandbox bank's record of {}'s fee {} is not one charge of the fee",
            report.citizen.subject,
            report.payment
        );
    }
    assert_eq!(
        decisions.len(),
        CLIENTS,
        "[{backend}] the sandbox bank recorded {} decisions for {CLIENTS} fees",
        decisions.len()
    );

    // Every event reached the app once the outbox drained, and none was
    // parked; each case's timeline is its application, its fee and its
    // acceptance, once each.
    let events = sqlx::query(
        "SELECT e.case_id, e.seq, e.kind, e.deliver, e.delivered_at, e.last_error
         FROM case_events e JOIN cases c ON c.id = e.case_id
         WHERE c.app_id = $1 ORDER BY e.case_id, e.seq",
    )
    .bind(APP)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut timelines: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut accept_seq: BTreeMap<String, i64> = BTreeMap::new();
    for row in &events {
        let case: String = row.get(0);
        let seq: i64 = row.get(1);
        let kind: String = row.get(2);
        let deliver: i32 = row.get(3);
        let delivered_at: Option<i64> = row.get(4);
        let last_error: Option<String> = row.get(5);
        assert!(
            deliver != 2,
            "[{backend}] the {kind} event of case {case} was parked: {last_error:?}"
        );
        assert!(
            deliver == 0 || delivered_at.is_some(),
            "[{backend}] the {kind} event of case {case} was never delivered to the app"
        );
        if kind == "accept" {
            accept_seq.insert(case.clone(), seq);
        }
        timelines.entry(case).or_default().push(kind);
    }
    for report in reports {
        assert_eq!(
            timelines.get(&report.case).cloned().unwrap_or_default(),
            ["submitted", "paid", "accept"],
            "[{backend}] case {} of {} has lost or repeated an event",
            report.case,
            report.citizen.subject
        );
    }

    // The app's effect of the acceptance, its `accepted` message, exists
    // once per event, keyed by that event (the first message of the call).
    let messages =
        sqlx::query("SELECT case_id, once_key FROM notifications WHERE app_id = $1 AND template = 'accepted'")
            .bind(APP)
            .fetch_all(pool)
            .await
            .unwrap();
    let mut keys_of_case: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
    for row in &messages {
        keys_of_case.entry(row.get(0)).or_default().push(row.get(1));
    }
    for report in reports {
        let seq = accept_seq[&report.case];
        assert_eq!(
            keys_of_case.get(&report.case).cloned().unwrap_or_default(),
            vec![Some(format!("{}#{seq}#1#accepted", report.case))],
            "[{backend}] the acceptance of case {} should have been announced exactly once, keyed by its event",
            report.case
        );
    }
    assert_eq!(
        messages.len(),
        CLIENTS,
        "[{backend}] there are more accepted messages than cases"
    );
}

/// The civil days (UTC+8) the app's fees settled on: the days the
/// reconciliation is asked for.
async fn settlement_dates(services: &Services) -> BTreeSet<String> {
    sqlx::query("SELECT settled_at FROM payments WHERE app_id = $1 AND settled_at IS NOT NULL")
        .bind(APP)
        .fetch_all(services.db().pool())
        .await
        .unwrap()
        .iter()
        .map(|r| WorkCalendar::date_of(r.get(0)).to_string())
        .collect()
}

/// What the API shows after the run: each citizen's case with its form and
/// paid fee, one case per citizen, one `accepted` message per case, and the
/// accepting org's takings of one fee per case.
fn check_api(url: &str, clerk: &str, backend: &str, reports: &[Report], dates: &BTreeSet<String>) {
    let agent = agent();
    let get_json = |path: &str, token: &str| -> Value {
        let (status, body) = get(&agent, &format!("{url}{path}"), token).unwrap();
        assert_eq!(status, 200, "[{backend}] GET {path}: {body}");
        json_of(&body)
    };
    for report in reports {
        let who = &report.citizen.subject;
        let token = &report.citizen.token;
        let shown = get_json(&format!("/api/v1/cases/{}", report.case), token);
        assert_eq!(
            serde_json::from_str::<Value>(shown["case"]["form"].as_str().unwrap()).unwrap(),
            report.citizen.form(),
            "[{backend}] {who}'s case shows another form: {shown}"
        );
        let shown_fees: Vec<(&str, &str)> = shown["payments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["id"].as_str().unwrap(), p["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            shown_fees,
            [(report.payment.as_str(), "success")],
            "[{backend}] {who}'s case shows its fees otherwise: {shown}"
        );
        let mine = get_json("/api/v1/me/cases", token);
        assert_eq!(
            mine.as_array().unwrap().len(),
            1,
            "[{backend}] {who} applied once and has these cases: {mine}"
        );
        let inbox = get_json("/api/v1/me/inbox", token);
        let announced = inbox
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["template"] == "accepted" && m["case"] == report.case.as_str())
            .count();
        assert_eq!(
            announced, 1,
            "[{backend}] {who} was told {announced} times that case {} was accepted",
            report.case
        );
    }
    let (mut count, mut fen) = (0, 0);
    for date in dates {
        let report = get_json(
            &format!("/api/v1/payments/reconciliation?org={BUREAU}&date={date}"),
            clerk,
        );
        count += report["paid_count"].as_u64().unwrap();
        fen += report["paid_fen"].as_u64().unwrap();
    }
    assert_eq!(
        (count, fen),
        (CLIENTS as u64, CLIENTS as u64 * FEE_FEN),
        "[{backend}] the reconciliation counts other takings than one fee per case"
    );
    let acknowledged_payments = reports.iter().filter(|r| r.paid_acknowledged).count();
    let acknowledged_acceptances = reports.iter().filter(|r| r.accept_acknowledged).count();
    eprintln!(
        "[{backend}] {acknowledged_payments} payments and {acknowledged_acceptances} acceptances were acknowledged; the rest were found done after the restart"
    );
}

/// `tongban audit verify` on the store passes (entries the sealer has not
/// reached yet are reported, not refused).
fn audit_verifies(binary: &Path, store: &Store) {
    let output = Command::new(binary)
        .args(["audit", "verify"])
        .args(store.args())
        .output()
        .unwrap();
    let said = text(&output);
    assert!(
        output.status.success(),
        "[{}] tongban audit verify failed after the kill: {said}",
        store.backend
    );
    assert!(
        said.contains("provenance records match"),
        "[{}] tongban audit verify did not check the provenance records: {said}",
        store.backend
    );
}
