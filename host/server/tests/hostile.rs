//! One app must never take the platform from the others, and every upload is
//! hostile until measured. In-process (the router and the workers, no
//! socket) where the host's own behaviour is the point, and against a real
//! `tongban serve` where the socket is:
//!
//! - an app whose `on-event` always times out delays only its own events;
//! - an app whose calls sleep in WASI gets its share of the instance slots,
//!   and the calls past it a fast 503 with `Retry-After`, naming the app;
//! - a component over the cost bounds, and a package whose archive headers
//!   claim gigabytes, are refused quickly, leave no blob, and hold the
//!   server's memory down while other requests go on;
//! - an upload over the limit is refused on its declared length, before its
//!   body is sent;
//! - a compile over the compiler's limits is refused, naming the bound.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tongban::api::{self, AppState};
use tongban::cli::StoreArgs;
use tongban_registry::Package;
use tongban_registry::market::deploy::ReleaseAction;
use tongban_registry::market::review::Decision;
use tongban_registry::market::{Actor, accounts, keys, orgs};
use tongban_registry::release::Role;
use tongban_registry::signing::SigningKey;
use tongban_services::cases::{Action, CaseActor, NewCase, Step};
use tongban_tests::{ServerProcess, fixture, hostile_components};
use tower::ServiceExt;

/// The fixtures' publisher (`publisher` in their manifests) and namespace.
const FIXTURE_ORG: &str = "91330100MA27XL0X7F";
/// An org that reviews and rolls out, so duties stay separate.
const OPERATIONS_ORG: &str = "11330100002489920C";
const REGION: &str = "330100";
const CITIZEN: &str = "citizen-zhang-san";

fn actor(user: &str, role: Role, org: Option<&str>, region: Option<&str>) -> Actor {
    Actor {
        user: user.into(),
        role,
        org: org.map(Into::into),
        region: region.map(Into::into),
    }
}

/// A platform in this process with the given fixtures published, approved
/// and rolled out to everyone in [`REGION`], and the demo citizens.
struct Platform {
    state: AppState,
    admin_token: String,
    _dir: tempfile::TempDir,
}

impl Platform {
    async fn with(fixtures: &[&str]) -> Platform {
        let dir = tempfile::tempdir().unwrap();
        let store = StoreArgs {
            data_dir: dir.path().to_owned(),
            database_url: None,
            blob_url: None,
        };
        let state = tongban::cli::serve::open_state(&store, 32 * 1024 * 1024).await.unwrap();
        let db = state.market.db();
        let admin = actor("admin", Role::PlatformAdmin, None, None);
        for (code, name) in [(FIXTURE_ORG, "测试局"), (OPERATIONS_ORG, "数据局")] {
            orgs::create_org(db, &admin, code, name, REGION).await.unwrap();
        }
        orgs::add_namespace(db, &admin, FIXTURE_ORG, "cn.gov.test")
            .await
            .unwrap();
        let key = SigningKey::generate();
        keys::register_key(db, &admin, FIXTURE_ORG, &key.public_key_hex())
            .await
            .unwrap();
        state.services.seed_demo_citizens().await.unwrap();
        let publisher = actor("pub", Role::Publisher, Some(FIXTURE_ORG), None);
        let reviewer = actor("rev", Role::Reviewer, Some(OPERATIONS_ORG), None);
        let region_admin = actor("ra", Role::RegionAdmin, Some(OPERATIONS_ORG), Some(REGION));
        for name in fixtures {
            let mut package = fixture(name);
            package.sign(&key);
            let receipt = state.market.publish(&publisher, package.to_bytes()).await.unwrap();
            let acknowledged = receipt
                .diff
                .iter()
                .filter(|c| c.needs_acknowledgement())
                .map(|c| c.id.clone())
                .collect();
            state
                .market
                .decide(
                    &reviewer,
                    &receipt.app,
                    &receipt.version,
                    Decision::Approve { acknowledged },
                )
                .await
                .unwrap();
            let rollout = ReleaseAction::Rollout {
                region: REGION.into(),
                percentage: 100,
            };
            state
                .market
                .release(&region_admin, &receipt.app, &receipt.version, rollout)
                .await
                .unwrap();
        }
        state.refresh_serving().await.unwrap();
        let user = accounts::User {
            id: "admin".into(),
            display_name: "admin".into(),
            role: Role::PlatformAdmin,
            org: None,
            region: None,
            subject: None,
        };
        accounts::create_user(db, &Actor::system(), &user).await.unwrap();
        let admin_token = accounts::issue_token(db, &Actor::system(), "admin", "test")
            .await
            .unwrap();
        Platform {
            state,
            admin_token,
            _dir: dir,
        }
    }

    /// A case of `app`, with one event its `on-event` hook is to get: an
    /// instant item approved by the app's rule, or a commitment item
    /// accepted by a clerk of the fixtures' org.
    async fn case_with_event(&self, app: &str, item: &str, instant: bool) -> String {
        let services = &self.state.services;
        let (case, _) = services
            .open_case(NewCase {
                app: app.into(),
                app_version: "0.1.0".into(),
                item: item.into(),
                item_mode: if instant { "instant" } else { "commitment" }.into(),
                promised_days: (!instant).then_some(5),
                subject: CITIZEN.into(),
                region: REGION.into(),
                channel: "web".into(),
                on_behalf_of: None,
                accepting_org: FIXTURE_ORG.into(),
                form: "{}".into(),
                follow_on_of: None,
                submission_key: None,
            })
            .await
            .unwrap();
        let (who, step) = if instant {
            (CaseActor::system("rule"), Step::new(Action::RuleApprove, "ok"))
        } else {
            (
                CaseActor {
                    user: "clerk".into(),
                    role: Role::WindowClerk,
                    org: Some(FIXTURE_ORG.into()),
                    subject: None,
                },
                Step::new(Action::Accept, ""),
            )
        };
        services.step_case(&who, &case.id, step).await.unwrap();
        case.id
    }

    /// When the case's last event was delivered, waiting for it.
    async fn delivered(&self, case: &str, within: Duration) -> Instant {
        let started = Instant::now();
        loop {
            let timeline = self.state.services.case_timeline(case).await.unwrap();
            if timeline.last().is_some_and(|e| e.for_app && e.delivered_at.is_some()) {
                return Instant::now();
            }
            assert!(
                started.elapsed() < within,
                "the event of case {case} was not delivered within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn call(&self, method: &str, path: &str, body: Value) -> (StatusCode, axum::http::HeaderMap, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", self.admin_token))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = api::router(self.state.clone()).oneshot(request).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = axum::body::to_bytes(response.into_body(), 1024 * 1024).await.unwrap();
        (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
}

/// An app whose `on-event` always runs into its 5 s deadline delayed another
/// app's events by minutes. Now apps take turns and each has its share of the
/// outbox workers: with the hog's events queued ahead and failing, the probe's
/// event arrives within 2 s of how fast it arrives on an empty queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_apps_events_delay_only_that_app() {
    let p = Platform::with(&["probe", "hog"]).await;
    tokio::spawn(tongban::workers::deliver_case_events(p.state.clone()));

    let case = p.case_with_event("cn.gov.test.probe", "TEST-probe", true).await;
    let queued = Instant::now();
    let empty_queue = p.delivered(&case, Duration::from_secs(30)).await - queued;

    let mut hogged = Vec::new();
    for _ in 0..3 {
        hogged.push(p.case_with_event("cn.gov.test.hog", "TEST-hog", false).await);
    }
    // The hog's events are claimed (and spinning) before the probe's.
    let started = Instant::now();
    loop {
        let claimed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM case_events e JOIN cases c ON c.id = e.case_id
             WHERE c.app_id = 'cn.gov.test.hog' AND e.attempts > 0 AND e.delivered_at IS NULL",
        )
        .fetch_one(p.state.market.db().pool())
        .await
        .unwrap();
        if claimed >= 2 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the hog's events were never claimed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let case = p.case_with_event("cn.gov.test.probe", "TEST-probe", true).await;
    let queued = Instant::now();
    let behind_the_hog = p.delivered(&case, Duration::from_secs(60)).await - queued;
    assert!(
        behind_the_hog <= empty_queue + Duration::from_secs(2),
        "the probe's event took {behind_the_hog:?} behind the hog, {empty_queue:?} on an empty queue"
    );
    for case in &hogged {
        let timeline = p.state.services.case_timeline(case).await.unwrap();
        assert!(
            timeline.last().unwrap().delivered_at.is_none(),
            "the hog never gets an event through"
        );
    }
}

/// Through the API: calls past an app's share of the instance slots are a
/// fast 503 with `Retry-After`, naming the app, and another app is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_app_past_its_share_gets_a_fast_503_naming_it() {
    let p = Arc::new(Platform::with(&["probe", "hog"]).await);
    let share = tongban_runtime::EngineSettings::default().max_instances_per_app as usize;
    let extra = 8;
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..share + extra {
        let p = p.clone();
        calls.spawn(async move {
            let started = Instant::now();
            let answer = p
                .call(
                    "POST",
                    &format!("/api/v1/serving/{REGION}/cn.gov.test.hog/validate"),
                    json!({"subject": "x", "form": {"sleep-ms": 60000}}),
                )
                .await;
            (answer, started.elapsed())
        });
    }
    let mut refused = 0;
    while refused < extra {
        let ((status, headers, body), took) = calls.join_next().await.unwrap().unwrap();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"]["code"], "app_busy", "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains("cn.gov.test.hog"),
            "{body}"
        );
        assert_eq!(headers.get("retry-after").unwrap(), "1");
        assert!(
            took < Duration::from_secs(5),
            "refused at once, not after the deadline: {took:?}"
        );
        refused += 1;
    }
    let (status, _, body) = p
        .call(
            "POST",
            &format!("/api/v1/serving/{REGION}/cn.gov.test.probe/validate"),
            json!({"subject": "x", "form": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "another app is served meanwhile: {body}");
    while let Some(done) = calls.join_next().await {
        let ((status, _, body), _) = done.unwrap();
        assert_eq!(
            status,
            StatusCode::BAD_GATEWAY,
            "the admitted calls run into their deadline: {body}"
        );
    }
}

/// The parked events of the outbox, listed and put back through the API.
#[tokio::test]
async fn parked_events_are_listed_and_put_back() {
    let p = Platform::with(&["probe"]).await;
    let case = p.case_with_event("cn.gov.test.probe", "TEST-probe", true).await;
    sqlx::query("UPDATE case_events SET deliver = 2, attempts = 8, last_error = 'on-event trapped' WHERE case_id = $1 AND deliver = 1")
        .bind(&case)
        .execute(p.state.market.db().pool())
        .await
        .unwrap();
    let (status, _, parked) = p.call("GET", "/api/v1/case-events/parked", Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{parked}");
    let events = parked["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{parked}");
    assert_eq!(events[0]["case"], case.as_str());
    assert_eq!(events[0]["last_error"], "on-event trapped");
    let seq = events[0]["seq"].as_i64().unwrap();
    let (status, _, body) = p
        .call(
            "POST",
            &format!("/api/v1/case-events/{case}/{seq}/requeue"),
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, _, parked) = p.call("GET", "/api/v1/case-events/parked", Value::Null).await;
    assert_eq!(parked["events"], json!([]));
    tokio::spawn(tongban::workers::deliver_case_events(p.state.clone()));
    p.delivered(&case, Duration::from_secs(30)).await;
}

/// A compile over the compiler's limits is refused naming the bound, in a
/// child process that takes nothing from the server; and publishing refuses
/// a version that does not compile, leaving neither a row nor a blob.
#[tokio::test]
async fn a_compile_past_its_limits_is_refused_naming_the_bound() {
    use tongban_runtime::compile::{CompileLimits, Compiler};
    use tongban_runtime::{Database, Runtime, RuntimeSettings};
    let package = fixture("probe");
    let bounds = [
        (
            CompileLimits {
                address_space_bytes: 64 * 1024 * 1024,
                ..CompileLimits::default()
            },
            "more than 64 MiB of memory",
        ),
        (
            CompileLimits {
                wall: Duration::ZERO,
                ..CompileLimits::default()
            },
            "took longer than 0 s",
        ),
    ];
    for (limits, named) in bounds {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open_data_dir(dir.path()).await.unwrap();
        let mut settings = RuntimeSettings::in_data_dir(dir.path());
        settings.compiler = Compiler::Isolated {
            program: Path::new(env!("CARGO_BIN_EXE_tongban")).to_owned(),
            limits,
        };
        let runtime = Runtime::new(settings, db).unwrap();
        let err = runtime.load(&package).unwrap_err();
        assert!(err.to_string().contains(named), "{named}: {err}");
        assert!(
            std::fs::read_dir(dir.path().join("compiled")).unwrap().next().is_none(),
            "nothing is left in the artifact cache"
        );
    }
    // And with the platform's limits the same component compiles in the child.
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_data_dir(dir.path()).await.unwrap();
    let mut settings = RuntimeSettings::in_data_dir(dir.path());
    settings.compiler = Compiler::Isolated {
        program: Path::new(env!("CARGO_BIN_EXE_tongban")).to_owned(),
        limits: CompileLimits::default(),
    };
    let runtime = Runtime::new(settings, db).unwrap();
    assert_eq!(
        runtime.load(&package).unwrap().report.path,
        tongban_runtime::LoadPath::Compiled
    );
}

// ---------------------------------------------------------------------------
// Uploads against a real server.

/// `tongban serve --demo` with the demo publisher's token and signing key.
struct Demo {
    server: ServerProcess,
    data: std::path::PathBuf,
    publisher: String,
    key: SigningKey,
    _root: tempfile::TempDir,
}

impl Demo {
    fn start(extra: &[&str]) -> Demo {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        let mut args = vec!["--demo".to_owned(), "--data-dir".to_owned(), data.display().to_string()];
        args.extend(extra.iter().map(|a| a.to_string()));
        let server = ServerProcess::start(Path::new(env!("CARGO_BIN_EXE_tongban")), &args, &[]);
        let token = std::process::Command::new(env!("CARGO_BIN_EXE_tongban"))
            .args(["admin", "issue-token", "--id", "publisher", "--data-dir"])
            .arg(&data)
            .output()
            .unwrap();
        let publisher = String::from_utf8_lossy(&token.stdout).trim().to_owned();
        let key =
            SigningKey::from_file_text(&std::fs::read_to_string(data.join("demo/publisher.key")).unwrap()).unwrap();
        Demo {
            server,
            data,
            publisher,
            key,
            _root: root,
        }
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into()
    }

    /// Upload package bytes as the demo publisher: status and body.
    fn publish(&self, bytes: Vec<u8>) -> (u16, Value) {
        let mut response = Demo::agent()
            .post(format!("{}/api/v1/apps", self.server.url))
            .header("Authorization", format!("Bearer {}", self.publisher))
            .content_type("application/octet-stream")
            .send(bytes)
            .unwrap();
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// The blobs the server holds.
    fn blobs(&self) -> Vec<String> {
        let dir = self.data.join("blobs/sha256");
        let mut found: Vec<String> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        found
    }

    /// The first app at `version`, signed with the demo key, with its
    /// component replaced.
    fn signed_with_component(&self, version: &str, component: Vec<u8>) -> Vec<u8> {
        let mut package: Package = tongban_tests::sole_proprietor_at(version, None);
        package.component = component;
        package.sign(&self.key);
        package.to_bytes()
    }
}

/// An upload over the limit is refused on its declared length: with
/// `Expect: 100-continue` the server answers 413 before the client sends a
/// byte of the body, and never asks for it.
#[test]
fn an_oversized_upload_is_refused_before_its_body_is_sent() {
    let demo = Demo::start(&["--max-upload-mib", "2"]);
    let address = demo.server.url.trim_start_matches("http://").to_owned();
    let mut socket = std::net::TcpStream::connect(&address).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        socket,
        "POST /api/v1/apps HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\nContent-Type: application/octet-stream\r\nContent-Length: 1073741824\r\nExpect: 100-continue\r\n\r\n",
        demo.publisher
    )
    .unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("payload_too_large") {
        let read = socket.read(&mut chunk).unwrap();
        assert!(
            read > 0,
            "the server closed without answering: {}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&chunk[..read]);
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        !answer.contains("100 Continue"),
        "the server never asked for the body: {answer}"
    );
    assert!(answer.contains("at most 2097152 bytes"), "{answer}");
}

/// Packages built to hurt: a component over the cost bounds (a million tiny
/// functions), and archives whose long-name and PAX headers claim a
/// gigabyte. Each is refused with the bound named and leaves no blob; two
/// bombs at once leave the server answering others, and its memory stays
/// far below what the bombs claim.
#[test]
fn hostile_packages_are_refused_leaving_nothing_while_others_are_served() {
    let demo = Demo::start(&[]);
    let before = demo.blobs();

    // A component that would take minutes and gigabytes to compile.
    let mut trivial = fixture("trivial").component;
    trivial = hostile_components::with_extra_module(&trivial, &hostile_components::tiny_functions(1_000_000));
    let (status, body) = demo.publish(demo.signed_with_component("1.5.0", trivial));
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("functions defined"), "{body}");

    // A good package signed by a key the org never registered.
    let mut stranger = tongban_tests::sole_proprietor_at("1.6.0", None);
    stranger.sign(&SigningKey::generate());
    let (status, body) = demo.publish(stranger.to_bytes());
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("signature"), "{body}");

    // Two archive bombs at once, while a third client keeps asking for the
    // catalogue.
    let bombs: Vec<Vec<u8>> = [tar_bomb(b'L', "././@LongLink"), tar_bomb(b'x', "PaxHeaders/x")].into();
    let uploads: Vec<_> = bombs
        .into_iter()
        .map(|bomb| {
            let url = demo.server.url.clone();
            let token = demo.publisher.clone();
            std::thread::spawn(move || {
                let mut response = Demo::agent()
                    .post(format!("{url}/api/v1/apps"))
                    .header("Authorization", format!("Bearer {token}"))
                    .send(bomb)
                    .unwrap();
                (
                    response.status().as_u16(),
                    response.body_mut().read_to_string().unwrap(),
                )
            })
        })
        .collect();
    let mut answered = 0;
    while uploads.iter().any(|u| !u.is_finished()) || answered < 3 {
        let response = Demo::agent()
            .get(format!("{}/api/v1/catalog", demo.server.url))
            .call()
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        answered += 1;
    }
    for upload in uploads {
        let (status, body) = upload.join().unwrap();
        assert_eq!(status, 422, "{body}");
        assert!(body.contains("long-name or PAX header"), "{body}");
    }
    assert_eq!(demo.blobs(), before, "refused uploads leave no blob");
    let peak = demo.server.peak_memory_bytes();
    assert!(
        peak < 1536 * 1024 * 1024,
        "the server's memory peaked at {} MiB",
        peak / (1024 * 1024)
    );
}

/// A gzipped tar whose first member is an extension header of type `kind`
/// claiming, and carrying, a gigabyte of zeros: about a megabyte on the wire.
fn tar_bomb(kind: u8, name: &str) -> Vec<u8> {
    use flate2::Compression;
    use flate2::write::GzEncoder;
    let size: u64 = 1024 * 1024 * 1024;
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    header[100..108].copy_from_slice(b"0000644\0");
    header[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    header[136..148].copy_from_slice(b"00000000000\0");
    header[156] = kind;
    header[257..265].copy_from_slice(b"ustar  \0");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(&header).unwrap();
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..size / zeros.len() as u64 {
        gz.write_all(&zeros).unwrap();
    }
    gz.finish().unwrap()
}

/// A blob no version refers to is found and removed by `tongban admin
/// orphan-blobs`, and the removal is on the audit chain.
#[test]
fn orphan_blobs_are_found_and_removed() {
    let demo = Demo::start(&[]);
    let before = demo.blobs();
    let orphan = b"left by an older release's refused upload".to_vec();
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&orphan))
    };
    std::fs::write(demo.data.join("blobs/sha256").join(&digest), &orphan).unwrap();
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_tongban"))
            .args(["admin", "orphan-blobs", "--older-than", "0s", "--data-dir"])
            .arg(&demo.data)
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let listed = run(&[]);
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(listed.starts_with(&digest), "{listed}");
    assert!(demo.blobs().contains(&digest), "listing removes nothing");
    let removed = run(&["--remove"]);
    assert!(removed.starts_with(&digest), "{removed}");
    assert_eq!(demo.blobs(), before, "the published versions keep their blobs");
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(["audit", "verify", "--data-dir"])
        .arg(&demo.data)
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
}
