//! Every upload is hostile until measured. In-process (the router and the
//! workers, no socket) where the host's own behaviour is the point, and
//! against a real `tongban serve` where the socket is (the shares of slots
//! and workers are in `fairness.rs`):
//!
//! - a parked case event is listed and put back;
//! - a component over the cost bounds, and a package whose archive headers
//!   claim gigabytes, are refused quickly, leave no blob, and hold the
//!   server's memory down while other requests go on;
//! - an upload over the limit is refused on its declared length, before its
//!   body is sent;
//! - a compile over the compiler's limits is refused, naming the bound.

mod in_process;

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use axum::http::StatusCode;
use in_process::Platform;
use serde_json::{Value, json};
use tongban_registry::Package;
use tongban_registry::signing::SigningKey;
use tongban_tests::{ServerProcess, fixture, hostile_components};

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
    trivial = hostile_components::with_extra_module(&trivial, &hostile_components::tiny_functions(1_000_000), 1);
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
    // Two such uploads at once froze every request for 14 s; now the
    // catalogue keeps answering while they are refused.
    let mut answered = 0;
    while uploads.iter().any(|u| !u.is_finished()) || answered < 3 {
        let asked = std::time::Instant::now();
        let response = Demo::agent()
            .get(format!("{}/api/v1/catalog", demo.server.url))
            .call()
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "the catalogue took {:?} while the bombs were refused",
            asked.elapsed()
        );
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
/// claiming, and carrying, a gigabyte of zeros: about 5 MB on the wire.
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
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
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
