//! Three real `tongban serve` nodes on one PostgreSQL database and one blob
//! folder follow the deployment log: a rollout, then a revocation, is
//! acknowledged by every node in `node_status` (read through
//! `GET /api/v1/nodes` and the deployments' readiness), and every node then
//! serves, or stops serving, the version. Before each action one node's
//! `LISTEN` connection is cut with `pg_terminate_backend`; that node still
//! catches up (its poll of the log, and its listener's reconnect and resync)
//! and its listener comes back on a new connection.
//!
//! Nothing here depends on timing: every wait polls for the state it needs
//! under one generous deadline and fails naming what it waited for and what
//! it saw last. A node acknowledges a sequence only after it has swapped in
//! the table built at it, so once every node has acknowledged, what each
//! serves is asserted at once.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use tongban_testdb::{Backend, TestDb};

/// The bound on every wait: a rollout has each node compile the app in its
/// compiler child, three at once on a small machine.
const DEADLINE: Duration = Duration::from_secs(120);

const NODES: [&str; 3] = ["node-a", "node-b", "node-c"];

/// The node whose listener is cut before each action.
const CUT: &str = "node-c";

#[test]
fn every_node_acknowledges_a_rollout_and_a_revoke_even_with_its_listener_cut() {
    let Some(db) = TestDb::each("nodes")
        .into_iter()
        .find(|db| db.backend() == Backend::Postgres)
    else {
        // Outside CI without TONGBAN_TEST_DATABASE_URL; in CI the kit has
        // already failed the test.
        eprintln!("no PostgreSQL (TONGBAN_TEST_DATABASE_URL): skipping the three-node test");
        return;
    };
    let store = Store {
        backend: db.backend_name(),
        data_dir: db.dir().to_owned(),
        database_url: Some(db.url().to_owned()),
        // One blob folder for all three; each node keeps its own data
        // directory (and so compiles for itself), as separate machines would.
        blob_url: Some(format!("file://{}", db.dir().join("blobs").display())),
        env: Vec::new(),
    };
    let work = db.dir().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let postgres = Postgres::connect(db.url());
    let nodes: Vec<_> = NODES
        .iter()
        .map(|id| (*id, start_server(&store, id, &["--node-id", id])))
        .collect();
    let cli = Cli {
        server: nodes[0].1.url.clone(),
        store: &store,
    };
    let api = Api::new();

    let admin = cli.create_user("admin", "platform-admin", None, None);
    let tokens = publish_and_approve(&cli, &admin, &work);

    // Every node registers and acknowledges the log as it starts.
    let overview = wait_for("all three nodes live and ready at the newest change", || {
        let overview = api.get(&cli.server, &admin, "/api/v1/nodes");
        every_node_at(&overview, overview["latest_seq"].as_i64().unwrap()).map(|()| overview)
    });
    assert_eq!(overview["readiness"]["nodes"], 3, "{overview}");

    // A rollout, with node-c's listener cut just before it.
    let listener = postgres.listener_pid(CUT, None);
    postgres.cut(listener);
    cli.ok(Some(&tokens.region_admin), &rollout("1.0.0", "100"));
    let rollout_seq = ready_everywhere(&api, &cli.server, &admin, 0);
    for (id, node) in &nodes {
        assert_eq!(
            api.served(&node.url, &admin, "citizen-9").as_deref(),
            Some("1.0.0"),
            "{id} acknowledged the rollout, so it serves 1.0.0"
        );
    }
    // node-c's listener is back, on a new connection.
    let listener = postgres.listener_pid(CUT, Some(listener));

    // A revocation, with node-c's new listener cut just before it.
    postgres.cut(listener);
    cli.ok(
        Some(&tokens.security),
        &["release", "revoke", APP, "1.0.0", "--reason", "供应链投毒"],
    );
    let revoke_seq = ready_everywhere(&api, &cli.server, &admin, rollout_seq);
    assert!(revoke_seq > rollout_seq);
    for (id, node) in &nodes {
        assert_eq!(
            api.served(&node.url, &admin, "citizen-9"),
            None,
            "{id} acknowledged the revocation, so it serves nothing"
        );
    }
    postgres.listener_pid(CUT, Some(listener));

    // Every node's own row says so too.
    let rows = postgres.node_status();
    assert_eq!(rows.len(), 3, "{rows:?}");
    for (node, applied) in rows {
        assert!(applied >= revoke_seq, "{node} applied {applied}, before {revoke_seq}");
    }
    drop(nodes);
}

/// The tokens of the people who release.
struct Tokens {
    region_admin: String,
    security: String,
}

/// The orgs, the people, a registered key, and 1.0.0 of the example app
/// published and approved (but not deployed).
fn publish_and_approve(cli: &Cli, admin: &str, work: &std::path::Path) -> Tokens {
    for (code, name, region) in [
        (BUREAU, "杭州市市场监督管理局", "330100"),
        (REVIEW_ORG, "杭州市西湖区数据资源局", REGION),
    ] {
        cli.ok(
            Some(admin),
            &["org", "create", "--code", code, "--name", name, "--region", region],
        );
    }
    cli.ok(Some(admin), &["org", "add-namespace", BUREAU, "cn.gov.hz.amr"]);
    let publisher = cli.create_user("pub-hz", "publisher", Some(BUREAU), None);
    let reviewer = cli.create_user("rev-data", "reviewer", Some(REVIEW_ORG), None);
    let region_admin = cli.create_user("ra-xihu", "region-admin", Some(REVIEW_ORG), Some(REGION));
    let security = cli.create_user("sec", "security-officer", Some(REVIEW_ORG), None);
    let key = work.join("pub-hz.key");
    let key = key.to_str().unwrap();
    cli.ok(None, &["key", "generate", "--out", key]);
    cli.ok(Some(&publisher), &["key", "register", "--org", BUREAU, "--key", key]);
    let v1 = package_file(work, "1.0.0", None);
    cli.ok(Some(&publisher), &["app", "publish", &v1, "--key", key]);
    approve(cli, &reviewer, "1.0.0");
    Tokens { region_admin, security }
}

/// Wait until every node has acknowledged the latest change to 1.0.0's
/// deployment in the region, newer than `after`, and the deployment's
/// readiness says so; return that change's sequence.
fn ready_everywhere(api: &Api, server: &str, token: &str, after: i64) -> i64 {
    let path = format!("/api/v1/apps/{APP}/deployments?region={REGION}");
    let seq = wait_for("every node ready at 1.0.0's latest change", || {
        let deployments = api.get(server, token, &path);
        let deployment = deployments
            .as_array()
            .and_then(|all| all.iter().find(|d| d["version"] == "1.0.0"))
            .ok_or_else(|| format!("no deployment of 1.0.0: {deployments}"))?;
        let readiness = &deployment["readiness"];
        let seq = readiness["seq"].as_i64().unwrap();
        if seq > after && readiness["ready"] == 3 && readiness["nodes"] == 3 {
            Ok(seq)
        } else {
            Err(format!("readiness {readiness}"))
        }
    });
    let overview = api.get(server, token, "/api/v1/nodes");
    every_node_at(&overview, seq).unwrap_or_else(|e| panic!("{e}"));
    seq
}

/// Whether each of the three nodes is live and has applied `seq`.
fn every_node_at(overview: &Value, seq: i64) -> Result<(), String> {
    for id in NODES {
        let node = overview["nodes"]
            .as_array()
            .and_then(|all| all.iter().find(|n| n["node"] == id))
            .ok_or_else(|| format!("{id} has not registered: {overview}"))?;
        let applied = node["applied_seq"].as_i64();
        if node["live"] != true || applied.is_none_or(|applied| applied < seq) {
            return Err(format!("{id} is not live and at {seq}: {node}"));
        }
    }
    Ok(())
}

/// Poll `probe` until it answers, under [`DEADLINE`]; fail naming `what` and
/// the last answer.
fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let start = Instant::now();
    loop {
        match probe() {
            Ok(found) => return found,
            Err(last) => assert!(
                start.elapsed() < DEADLINE,
                "waited {DEADLINE:?} for {what}; last seen: {last}"
            ),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The JSON API over HTTP, as an operator's script calls it.
struct Api {
    agent: ureq::Agent,
}

impl Api {
    fn new() -> Api {
        Api {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .new_agent(),
        }
    }

    fn call(&self, server: &str, token: &str, path: &str) -> (u16, Value) {
        let mut response = self
            .agent
            .get(format!("{server}{path}"))
            .header("Authorization", format!("Bearer {token}"))
            .call()
            .unwrap_or_else(|e| panic!("GET {server}{path}: {e}"));
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&body).unwrap_or(Value::String(body)))
    }

    fn get(&self, server: &str, token: &str, path: &str) -> Value {
        let (status, body) = self.call(server, token, path);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// The version `server` serves `subject` in the region, or `None`.
    fn served(&self, server: &str, token: &str, subject: &str) -> Option<String> {
        let (status, body) = self.call(
            server,
            token,
            &format!("/api/v1/serving/{REGION}/{APP}?subject={subject}"),
        );
        match status {
            200 => Some(body["version"].as_str().unwrap().to_owned()),
            404 => None,
            _ => panic!("which version serves {subject} on {server}: {status} {body}"),
        }
    }
}

/// The test's own connection to the nodes' database.
struct Postgres {
    runtime: tokio::runtime::Runtime,
    pool: sqlx::PgPool,
}

impl Postgres {
    fn connect(url: &str) -> Postgres {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let pool = runtime
            .block_on(sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(url))
            .unwrap();
        Postgres { runtime, pool }
    }

    /// The backend pid of `node`'s listener, once it is connected (on a new
    /// connection, when `not` names the one it had).
    fn listener_pid(&self, node: &str, not: Option<i32>) -> i32 {
        let name = format!("{}{node}", tongban::follower::LISTENER_NAME_PREFIX);
        wait_for(&format!("{node}'s listener to connect"), || {
            let pids: Vec<i32> = self
                .runtime
                .block_on(
                    sqlx::query_scalar(
                        "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
                    )
                    .bind(&name)
                    .fetch_all(&self.pool),
                )
                .unwrap();
            match pids.as_slice() {
                [pid] if Some(*pid) != not => Ok(*pid),
                other => Err(format!("listener connections {other:?}")),
            }
        })
    }

    /// Cut a backend's connection, as a failover or a network fault would.
    fn cut(&self, pid: i32) {
        let cut: bool = self
            .runtime
            .block_on(
                sqlx::query_scalar("SELECT pg_terminate_backend($1)")
                    .bind(pid)
                    .fetch_one(&self.pool),
            )
            .unwrap();
        assert!(cut, "pg_terminate_backend({pid})");
    }

    /// Every node's id and applied sequence, as `node_status` holds them.
    fn node_status(&self) -> Vec<(String, i64)> {
        self.runtime
            .block_on(
                sqlx::query_as("SELECT node_id, applied_seq FROM node_status ORDER BY node_id").fetch_all(&self.pool),
            )
            .unwrap()
    }
}
