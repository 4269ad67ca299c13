//! The capabilities of this release, driven through the probe fixture: storage
//! (persisted, app-scoped, bounded), identity.current, log, and the denials of
//! the personal-data capabilities for a call that serves no subject (the rest
//! is in `personal_data.rs`).

use serde_json::{Value, json};
use tongban_registry::Package;
use tongban_runtime::{HookResult, LoadPath, Outcome};
use tongban_testdb::TestDb;
use tongban_tests::fixture;

use crate::support::{env, runtime, runtime_with_bounds, submit};

/// Run the probe's ops and return the JSON list of their results.
async fn probe(
    rt: &crate::support::TestRuntime,
    package: &Package,
    ops: Value,
) -> (Vec<Value>, tongban_runtime::CallReport) {
    let app = rt.runtime.load(package).unwrap();
    let outcome = rt
        .runtime
        .call(&app, &env("330106"), submit("C-1", &ops.to_string()))
        .await;
    let HookResult::Submit(Ok(Outcome::Approved(text))) = outcome.result.unwrap() else {
        panic!("the probe always approves with its results")
    };
    (serde_json::from_str(&text).unwrap(), outcome.report)
}

#[tokio::test]
async fn storage_round_trips_and_persists_across_calls() {
    let rt = runtime().await;
    let package = fixture("probe");
    let (results, _) = probe(
        &rt,
        &package,
        json!([
            {"op": "set", "key": "a/1", "size": 10},
            {"op": "set", "key": "a/2", "size": 20},
            {"op": "set", "key": "b/1", "size": 30},
            {"op": "get", "key": "a/2"},
            {"op": "keys", "prefix": "a/"},
            {"op": "delete", "key": "a/1"},
            {"op": "get", "key": "a/1"},
        ]),
    )
    .await;
    assert_eq!(results[3], json!({"ok": 20}));
    assert_eq!(results[4], json!({"ok": ["a/1", "a/2"]}));
    assert_eq!(results[6], json!({"ok": null}));

    // A later call, with a fresh store, sees what the first one wrote.
    let (results, _) = probe(&rt, &package, json!([{"op": "keys", "prefix": ""}])).await;
    assert_eq!(results[0], json!({"ok": ["a/2", "b/1"]}));
}

/// The time the host spends in a capability is not the app's: a storage
/// write that has to wait 3 s for the database (another writer holds
/// SQLite's write lock) completes, although the probe's `timeout-ms` is 2 s,
/// and the report counts the wait as capability time. Before, the wait ran
/// the app into its deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hosts_time_in_a_capability_does_not_count_against_the_apps_deadline() {
    let rt = runtime().await;
    let package = fixture("probe");
    let app = rt.runtime.load(&package).unwrap();
    let timeout = std::time::Duration::from_millis(u64::from(app.manifest.limits.timeout_ms()));
    let held = timeout + std::time::Duration::from_secs(1);
    // Another writer takes the database's write lock and keeps it.
    let other = rt.db().open().await;
    let mut writer = other.pool().acquire().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *writer).await.unwrap();
    let release = tokio::spawn(async move {
        tokio::time::sleep(held).await;
        sqlx::query("COMMIT").execute(&mut *writer).await.unwrap();
    });
    let outcome = rt
        .runtime
        .call(
            &app,
            &env("330106"),
            submit("C-1", &json!([{"op": "set", "key": "slow/1", "size": 10}]).to_string()),
        )
        .await;
    release.await.unwrap();
    let HookResult::Submit(Ok(Outcome::Approved(text))) = outcome.result.expect("the call is not interrupted") else {
        panic!("the probe always approves with its results")
    };
    let results: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(results[0], json!({"ok": null}), "the write went through");
    // The call took longer than the app's deadline, and that was the host's
    // wait: the write could not finish before the lock was given back.
    assert!(outcome.report.wall_time > timeout, "{:?}", outcome.report.wall_time);
    assert!(
        outcome.report.capability_time > outcome.report.wall_time - timeout,
        "{:?} of {:?} in capabilities",
        outcome.report.capability_time,
        outcome.report.wall_time
    );
}

/// A host wait has its own bound: a storage write that cannot get the
/// database's write lock within the statement bound answers `unavailable`
/// (the platform's trouble, with nothing written), and the app's call ends
/// normally rather than at its deadline. The lock is given back only after
/// the call has returned, so nothing here depends on timing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_wait_past_its_bound_is_unavailable_and_writes_nothing() {
    let bounds = tongban_store::WaitBounds {
        acquire: std::time::Duration::from_secs(2),
        statement: std::time::Duration::from_millis(300),
    };
    let rt = runtime_with_bounds(bounds).await;
    let package = fixture("probe");
    let app = rt.runtime.load(&package).unwrap();
    let other = rt.db().open().await;
    let mut writer = other.pool().acquire().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *writer).await.unwrap();
    let outcome = rt
        .runtime
        .call(
            &app,
            &env("330106"),
            submit("C-1", &json!([{"op": "set", "key": "stuck/1", "size": 10}]).to_string()),
        )
        .await;
    sqlx::query("COMMIT").execute(&mut *writer).await.unwrap();
    let HookResult::Submit(Ok(Outcome::Approved(text))) = outcome.result.expect("the call is not interrupted") else {
        panic!("the probe always approves with its results")
    };
    let results: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(results[0]["err"]["kind"], "unavailable", "{}", results[0]);
    let (results, _) = probe(&rt, &package, json!([{"op": "get", "key": "stuck/1"}])).await;
    assert_eq!(results[0], json!({"ok": null}), "nothing was written");
}

#[tokio::test]
async fn a_write_past_the_quota_is_refused_and_changes_nothing() {
    let rt = runtime().await;
    let package = fixture("probe"); // quota-kib = 4
    let (results, _) = probe(
        &rt,
        &package,
        json!([
            {"op": "set", "key": "k", "size": 3000},
            {"op": "set", "key": "other", "size": 2000},
            {"op": "set", "key": "k", "size": 3900},
            {"op": "get", "key": "k"},
            {"op": "set", "key": "k", "size": 1000},
            {"op": "set", "key": "other", "size": 2000},
        ]),
    )
    .await;
    // Each row is charged its value, its key and the app id twice, and 64
    // bytes: "k" with 3,900 bytes is charged 3,900 + 2 + 34 + 64 = 4,000.
    assert_eq!(results[0], json!({"ok": null}));
    assert_eq!(results[1]["err"]["kind"], "quota-exceeded", "{}", results[1]);
    assert!(results[1]["err"]["detail"].as_str().unwrap().contains("4 KiB"));
    assert_eq!(
        results[2],
        json!({"ok": null}),
        "replacing a value counts only the new size"
    );
    assert_eq!(results[3], json!({"ok": 3900}));
    assert_eq!(results[4], json!({"ok": null}));
    assert_eq!(results[5], json!({"ok": null}), "shrinking k freed room");
}

#[tokio::test]
async fn bad_keys_are_invalid_not_traps() {
    let rt = runtime().await;
    let long = "x".repeat(257);
    let (results, _) = probe(
        &rt,
        &fixture("probe"),
        json!([{"op": "set", "key": "", "size": 1}, {"op": "get", "key": long}]),
    )
    .await;
    assert_eq!(results[0]["err"]["kind"], "invalid");
    assert_eq!(results[1]["err"]["kind"], "invalid");
    assert!(results[1]["err"]["detail"].as_str().unwrap().contains("257"));
}

#[tokio::test]
async fn storage_is_scoped_to_the_app() {
    let rt = runtime().await;
    let mine = fixture("probe");
    let mut other = mine.clone();
    other.manifest_text = other
        .manifest_text
        .replace("cn.gov.test.probe", "cn.gov.test.other-probe");
    probe(&rt, &mine, json!([{"op": "set", "key": "secret", "size": 5}])).await;
    let (results, _) = probe(
        &rt,
        &other,
        json!([{"op": "get", "key": "secret"}, {"op": "keys", "prefix": ""}]),
    )
    .await;
    assert_eq!(results, vec![json!({"ok": null}), json!({"ok": []})]);
}

#[tokio::test]
async fn identity_current_is_the_session_and_attributes_are_guarded() {
    let rt = runtime().await;
    let (results, _) = probe(
        &rt,
        &fixture("probe"),
        json!([
            {"op": "whoami"},
            {"op": "attributes", "names": ["phone"]},
            {"op": "attributes", "names": ["name"]},
        ]),
    )
    .await;
    assert_eq!(results[0]["ok"]["subject"], "sub-7f3a");
    assert_eq!(results[0]["ok"]["channel"], "web");
    assert_eq!(results[0]["ok"]["assurance"], "substantial");
    assert_eq!(results[1]["err"]["kind"], "not-granted", "phone is not declared");
    assert!(results[1]["err"]["detail"].as_str().unwrap().contains("phone"));
    assert_eq!(
        results[2]["err"]["kind"], "not-found",
        "declared, but this call serves no signed-in subject"
    );
    assert!(results[2]["err"]["detail"].as_str().unwrap().contains("subject"));
}

#[tokio::test]
async fn certificates_deny_unregistered_types_and_issue_only_for_a_real_case() {
    let rt = runtime().await;
    let (results, _) = probe(
        &rt,
        &fixture("probe"),
        json!([{"op": "issue", "type": "BUSINESS-LICENCE"}, {"op": "issue", "type": "TEST-CERT"}]),
    )
    .await;
    assert_eq!(results[0]["err"]["kind"], "not-granted");
    assert!(
        results[0]["err"]["detail"]
            .as_str()
            .unwrap()
            .contains("BUSINESS-LICENCE")
    );
    // Registered, but the call's case C-1 does not exist.
    assert_eq!(results[1]["err"]["kind"], "not-found");
    assert!(results[1]["err"]["detail"].as_str().unwrap().contains("C-1"));
}

#[tokio::test]
async fn logs_and_stdout_are_captured_in_the_report() {
    let rt = runtime().await;
    let (_, report) = probe(
        &rt,
        &fixture("probe"),
        json!([{"op": "log", "message": "你好 log"}, {"op": "print", "message": "hello stdout"}]),
    )
    .await;
    assert_eq!(report.log.len(), 1);
    assert_eq!(report.log[0].level, "info");
    assert_eq!(report.log[0].message, "你好 log");
    assert_eq!(report.stdout, "hello stdout\n");
    assert_eq!(report.host_calls, 1, "println is WASI, not a capability call");
    assert!(report.peak_memory_bytes > 0);
}

#[tokio::test]
async fn a_second_load_comes_from_the_compiled_artifact_cache() {
    let rt = runtime().await;
    let package = fixture("trivial");
    rt.runtime.forget_compiled(&package.component_digest());
    let first = rt.runtime.load(&package).unwrap();
    assert_eq!(first.report.path, LoadPath::Compiled);
    let second = rt.runtime.load(&package).unwrap();
    assert_eq!(second.report.path, LoadPath::Cached);
    assert!(second.report.duration < first.report.duration);
}

/// The red team's storage attack: 9,000 two-byte keys were charged 18 KB but
/// grew the database by 776 KiB. Each row is now charged what it costs, so on
/// both backends the database grows by roughly what the quota counts (within
/// a factor of two either way).
#[tokio::test]
async fn the_quota_charges_what_the_database_really_grows_by() {
    use tongban_runtime::capabilities::kv;
    let app = "cn.gov.test.probe";
    for test_db in TestDb::each("kv_overhead") {
        let backend = test_db.backend_name();
        let db = test_db.open().await;
        let before = database_bytes(&db).await;
        for i in 0..9_000u32 {
            let key = format!("{:02x}", i % 256) + &format!("{}", i / 256);
            kv::set(&db, app, &key, b"", 64 * 1024 * 1024).await.unwrap();
        }
        let grown = database_bytes(&db).await - before;
        let charged = kv::used_bytes(&db, app).await.unwrap() as i64;
        let ratio = grown as f64 / charged as f64;
        eprintln!("{backend}: charged {charged} bytes, the database grew by {grown} bytes ({ratio:.2})");
        assert!(
            (0.5..=2.0).contains(&ratio),
            "{backend}: charged {charged} bytes, the database grew by {grown} bytes ({ratio:.2}×)"
        );
    }
}

/// The bytes the database holds for app storage: SQLite's whole file (pages
/// in use), PostgreSQL's `app_kv` table with its indexes.
async fn database_bytes(db: &tongban_runtime::Database) -> i64 {
    use sqlx::Row;
    match db.backend() {
        tongban_store::Backend::Sqlite => {
            let pages: i64 = sqlx::query("PRAGMA page_count")
                .fetch_one(db.pool())
                .await
                .unwrap()
                .try_get(0)
                .unwrap();
            let size: i64 = sqlx::query("PRAGMA page_size")
                .fetch_one(db.pool())
                .await
                .unwrap()
                .try_get(0)
                .unwrap();
            let free: i64 = sqlx::query("PRAGMA freelist_count")
                .fetch_one(db.pool())
                .await
                .unwrap()
                .try_get(0)
                .unwrap();
            (pages - free) * size
        }
        tongban_store::Backend::Postgres => sqlx::query("SELECT pg_total_relation_size('app_kv')")
            .fetch_one(db.pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap(),
    }
}
