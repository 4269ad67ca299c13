//! Marketplace benchmarks against the real server process, on each database
//! the test database kit provides (`tongban-testdb`: SQLite, and PostgreSQL
//! when configured):
//!
//! - catalog list and search over 10,000 apps with 100,000 versions, measured
//!   as HTTP round trips from a client on loopback (target: p99 ≤ 20 ms);
//! - approval to serving: from the reviewer's approval, through a 100%
//!   rollout on node A, until node B (another server process on the same
//!   database) serves the new version (target: ≤ 1 s).
//!
//! `cargo bench -p tongban --bench marketplace` runs the full sizes. Under
//! `cargo test` (no `--bench` argument) it runs a small smoke version so the
//! code stays exercised without slowing the test suite.
//!
//! The catalog rows are seeded with bulk SQL, not through publish: publishing
//! 100,000 real packages would take hours and measures nothing the catalog
//! query depends on. The approval-to-serving part uses real signed packages,
//! the real review and release API and real serving.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tongban_registry::market::{Actor, accounts, keys, orgs};
use tongban_registry::release::Role;
use tongban_registry::signing::SigningKey;
use tongban_testdb::{Backend, TestDb, seed};
use tongban_tests::ServerProcess;

const BUREAU: &str = "113301000024891238";
const REVIEW_ORG: &str = "11330106002489555Y";
const APP: &str = "cn.gov.hz.amr.sole-proprietor";
const REGION: &str = "330106";

struct Sizes {
    apps: usize,
    versions_per_app: usize,
    requests: usize,
    approvals: usize,
}

const FULL: Sizes = Sizes {
    apps: 10_000,
    versions_per_app: 10,
    requests: 2_000,
    approvals: 20,
};

const SMOKE: Sizes = Sizes {
    apps: 200,
    versions_per_app: 2,
    requests: 20,
    approvals: 2,
};

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let sizes = if full { FULL } else { SMOKE };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    println!("| backend | measurement | n | p50 | p95 | p99 | max |\n|---|---|---|---|---|---|---|");
    for db in TestDb::each("bench_market") {
        let backend = match db.backend() {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        };
        // The kit's scratch directory is the servers' data directory; for
        // SQLite it holds the database file itself.
        let mut store_args = vec!["--data-dir".to_owned(), db.dir().display().to_string()];
        if db.backend() == Backend::Postgres {
            store_args.push("--database-url".into());
            store_args.push(db.url().to_owned());
        }
        let tokens = runtime.block_on(seed_catalog(&db, &sizes));
        let binary = Path::new(env!("CARGO_BIN_EXE_tongban"));
        let node_a = ServerProcess::start(binary, &store_args, &[]);
        let node_b = ServerProcess::start(binary, &store_args, &[]);
        let client = Client::new();

        for (label, query) in [
            ("catalog list, first page", vec![("per_page", "20".to_owned())]),
            (
                // The middle page: 250 of 500 at full size.
                "catalog list, middle page",
                vec![("page", (sizes.apps / 40).to_string()), ("per_page", "20".to_owned())],
            ),
            (
                "catalog search, one hit",
                vec![("q", format!("事项{}", sizes.apps / 2 + 7))],
            ),
            ("catalog search, many hits", vec![("q", "户籍".to_owned())]),
            ("catalog search, no hit", vec![("q", "无此服务".to_owned())]),
        ] {
            let timings = (0..sizes.requests + sizes.requests / 10)
                .map(|_| {
                    let start = Instant::now();
                    let page = client.get(&node_a.url, "/catalog", &query, None);
                    let took = start.elapsed();
                    assert!(page.is_array(), "{page}");
                    if !label.contains("no hit") {
                        assert!(!page.as_array().unwrap().is_empty(), "{label}: {page}");
                    }
                    took
                })
                .skip(sizes.requests / 10) // warm-up
                .collect();
            report(backend, label, timings);
        }

        let timings = approval_to_serving(&client, &node_a.url, &node_b.url, &tokens, sizes.approvals);
        report(backend, "approval → serving on another node", timings);
    }
}

/// One line of the results table.
fn report(backend: &str, label: &str, mut timings: Vec<Duration>) {
    timings.sort();
    let at = |q: f64| timings[((timings.len() as f64 * q).ceil() as usize).clamp(1, timings.len()) - 1];
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
    println!(
        "| {backend} | {label} | {} | {} | {} | {} | {} |",
        timings.len(),
        ms(at(0.50)),
        ms(at(0.95)),
        ms(at(0.99)),
        ms(*timings.last().unwrap())
    );
}

struct Tokens {
    publisher: String,
    reviewer: String,
    region_admin: String,
    key: SigningKey,
}

/// Orgs, users, a key, and `apps` catalog apps with `versions_per_app`
/// versions each, in bulk.
async fn seed_catalog(test_db: &TestDb, sizes: &Sizes) -> Tokens {
    let db = test_db.open().await;
    let admin = Actor {
        user: "admin".into(),
        role: Role::PlatformAdmin,
        org: None,
        region: None,
    };
    seed::orgs(
        &db,
        &[
            (BUREAU, "杭州市市场监督管理局", "330100"),
            (REVIEW_ORG, "杭州市西湖区数据资源局", REGION),
        ],
    )
    .await;
    orgs::add_namespace(&db, &admin, BUREAU, "cn.gov.hz.amr").await.unwrap();
    let token = async |id: &str, role: Role, org: &str, region: Option<&str>| {
        let user = accounts::User {
            id: id.into(),
            display_name: id.into(),
            role,
            org: Some(org.into()),
            region: region.map(Into::into),
            subject: None,
        };
        accounts::create_user(&db, &Actor::system(), &user).await.unwrap();
        accounts::issue_token(&db, &Actor::system(), id, "bench").await.unwrap()
    };
    let publisher = token("pub-hz", Role::Publisher, BUREAU, None).await;
    let reviewer = token("rev-data", Role::Reviewer, REVIEW_ORG, None).await;
    let region_admin = token("ra-xihu", Role::RegionAdmin, REVIEW_ORG, Some(REGION)).await;
    let key = SigningKey::generate();
    let publisher_actor = accounts::authenticate(&db, &publisher).await.unwrap().unwrap();
    keys::register_key(&db, &publisher_actor, BUREAU, &key.public_key_hex())
        .await
        .unwrap();

    let started = Instant::now();
    let topics = ["户籍", "社保", "公积金", "医保", "不动产", "营业执照", "出入境", "婚姻"];
    let mut tx = db.pool().begin().await.unwrap();
    for chunk in (0..sizes.apps).collect::<Vec<_>>().chunks(500) {
        let mut apps = String::from(
            "INSERT INTO apps (id, org_code, name_zh, name_en, search_text, latest_version, created_at, updated_at) VALUES ",
        );
        let mut versions = String::from(
            "INSERT INTO versions (app_id, version, state, manifest, package_digest, component_digest, key_id, signature, check_report, submitted_by, submitted_at) VALUES ",
        );
        for (n, i) in chunk.iter().enumerate() {
            let topic = topics[i % topics.len()];
            let id = format!("cn.gov.hz.amr.bench-{i:05}");
            let name_zh = format!("{topic}事项{i}");
            let name_en = format!("Service {i}");
            let latest = format!("1.0.{}", sizes.versions_per_app - 1);
            let search = format!("{id} {name_zh} {name_en}").to_lowercase();
            if n > 0 {
                apps.push(',');
                versions.push(',');
            }
            apps.push_str(&format!(
                "('{id}', '{BUREAU}', '{name_zh}', '{name_en}', '{search}', '{latest}', 0, 0)"
            ));
            for v in 0..sizes.versions_per_app {
                if v > 0 {
                    versions.push(',');
                }
                let state = if v + 1 == sizes.versions_per_app {
                    "approved"
                } else {
                    "superseded"
                };
                versions.push_str(&format!(
                    "('{id}', '1.0.{v}', '{state}', '', 'sha256:{i:064}', 'sha256:{v:064}', 'k', 's', '{{}}', 'pub-hz', 0)"
                ));
            }
        }
        sqlx::query(&apps).execute(&mut *tx).await.unwrap();
        sqlx::query(&versions).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    if db.backend() == tongban_store::Backend::Postgres {
        sqlx::query("ANALYZE").execute(db.pool()).await.unwrap();
    }
    eprintln!(
        "seeded {} apps and {} versions in {:.1} s",
        sizes.apps,
        sizes.apps * sizes.versions_per_app,
        started.elapsed().as_secs_f64()
    );
    db.close().await;
    Tokens {
        publisher,
        reviewer,
        region_admin,
        key,
    }
}

/// Publish `n` versions of the first app (setup, not timed), then time each
/// approval + 100% rollout on node A until node B serves the version.
fn approval_to_serving(client: &Client, node_a: &str, node_b: &str, t: &Tokens, n: usize) -> Vec<Duration> {
    let mut timings = Vec::new();
    for i in 0..n {
        let version = format!("1.0.{i}");
        let mut package = tongban_tests::sole_proprietor_at(&version, None);
        package.sign(&t.key);
        let receipt = client.post_bytes(node_a, "/apps", package.to_bytes(), &t.publisher);
        let acknowledged: Vec<Value> = receipt["diff"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["kind"] == "added" || c["kind"] == "raised")
            .map(|c| c["id"].clone())
            .collect();

        let start = Instant::now();
        client.post_json(
            node_a,
            &format!("/reviews/{APP}/{version}/decision"),
            json!({"decision": "approve", "acknowledged": acknowledged}),
            &t.reviewer,
        );
        client.post_json(
            node_a,
            &format!("/apps/{APP}/versions/{version}/release"),
            json!({"action": "rollout", "region": REGION, "percentage": 100}),
            &t.region_admin,
        );
        loop {
            let served = client.get(
                node_b,
                &format!("/serving/{REGION}/{APP}"),
                &[("subject", "citizen-1".to_owned())],
                Some(&t.reviewer),
            );
            if served["version"] == version.as_str() {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "node B never served {version}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        timings.push(start.elapsed());
    }
    timings
}

/// A keep-alive HTTP client; every non-2xx answer except 404 panics with the body.
struct Client(ureq::Agent);

impl Client {
    fn new() -> Client {
        Client(ureq::Agent::config_builder().http_status_as_error(false).build().into())
    }

    fn answer(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Value {
        let mut response = response.unwrap();
        let status = response.status();
        let body: Value = response.body_mut().read_json().unwrap_or(Value::Null);
        assert!(status.is_success() || status == 404, "{status}: {body}");
        body
    }

    fn get(&self, base: &str, path: &str, query: &[(&str, String)], token: Option<&str>) -> Value {
        let mut request = self.0.get(format!("{base}/api/v1{path}"));
        for (k, v) in query {
            request = request.query(*k, v);
        }
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        Self::answer(request.call())
    }

    fn post_json(&self, base: &str, path: &str, body: Value, token: &str) -> Value {
        Self::answer(
            self.0
                .post(format!("{base}/api/v1{path}"))
                .header("Authorization", format!("Bearer {token}"))
                .send_json(body),
        )
    }

    fn post_bytes(&self, base: &str, path: &str, body: Vec<u8>, token: &str) -> Value {
        Self::answer(
            self.0
                .post(format!("{base}/api/v1{path}"))
                .header("Authorization", format!("Bearer {token}"))
                .content_type("application/octet-stream")
                .send(&body[..]),
        )
    }
}
