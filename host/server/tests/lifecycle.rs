//! End to end: the real `tongban serve` process, driven over HTTP by the real
//! `tongban` CLI through the whole marketplace lifecycle, on SQLite (blobs in
//! the data directory) and on PostgreSQL (blobs in an S3-compatible store). Publish, check, review with diff, approve, pilot, rollout,
//! halt, rollback, yank, revoke; bad input refused with clear errors; a second
//! server node on the same database follows every change without a restart;
//! `tongban audit verify` passes, then catches a row edited behind its back.

mod common;

use std::path::Path;

use common::*;
use tongban_registry::Package;
use tongban_tests::{S3Sandbox, sole_proprietor_at};

#[test]
fn the_whole_lifecycle_from_the_cli_against_a_running_server() {
    let root = tempfile::tempdir().unwrap();
    let s3 = S3Sandbox::start("tongban-e2e");
    for store in stores(root.path(), "e2e_lifecycle", s3.as_ref()) {
        lifecycle(&store, root.path());
    }
}

fn lifecycle(store: &Store, root: &Path) {
    let work = root.join(format!("work-{}", store.backend));
    std::fs::create_dir_all(&work).unwrap();
    // The upload limit is small enough for a padded package to exceed it.
    let node_a = start_server(store, "node-a", &["--max-upload-mib", "2"]);
    // A second node on the same database: it must follow every change.
    let node_b = start_server(store, "node-b", &[]);
    let cli = Cli {
        server: node_a.url.clone(),
        store,
    };
    let cli_b = Cli {
        server: node_b.url.clone(),
        store,
    };

    // Bootstrap: the operator creates the platform admin locally.
    let admin = cli.create_user("admin", "platform-admin", None, None);
    cli.ok(
        Some(&admin),
        &[
            "org",
            "create",
            "--code",
            BUREAU,
            "--name",
            "杭州市市场监督管理局",
            "--region",
            "330100",
        ],
    );
    cli.ok(
        Some(&admin),
        &[
            "org",
            "create",
            "--code",
            REVIEW_ORG,
            "--name",
            "杭州市西湖区数据资源局",
            "--region",
            REGION,
        ],
    );
    let bad_org = cli.refused(
        Some(&admin),
        &[
            "org",
            "create",
            "--code",
            "11330100002489123X",
            "--name",
            "x",
            "--region",
            "330100",
        ],
    );
    assert!(bad_org.contains("check character"), "{bad_org}");
    cli.ok(Some(&admin), &["org", "add-namespace", BUREAU, "cn.gov.hz.amr"]);
    let orgs = cli.ok(Some(&admin), &["org", "list"]);
    assert!(orgs.contains("cn.gov.hz.amr"), "{orgs}");

    let publisher = cli.create_user("pub-hz", "publisher", Some(BUREAU), None);
    let reviewer = cli.create_user("rev-data", "reviewer", Some(REVIEW_ORG), None);
    let same_org_reviewer = cli.create_user("rev-hz", "reviewer", Some(BUREAU), None);
    let region_admin = cli.create_user("ra-xihu", "region-admin", Some(REVIEW_ORG), Some(REGION));
    let security = cli.create_user("sec", "security-officer", Some(REVIEW_ORG), None);

    // Keys: generated locally, only the public half registered.
    let key = work.join("pub-hz.key");
    let key_id = cli.ok(None, &["key", "generate", "--out", key.to_str().unwrap()]);
    let key_id = key_id.trim();
    let again = cli.refused(None, &["key", "generate", "--out", key.to_str().unwrap()]);
    assert!(again.contains("never overwritten"), "{again}");
    cli.ok(
        Some(&publisher),
        &["key", "register", "--org", BUREAU, "--key", key.to_str().unwrap()],
    );
    let keys = cli.ok(Some(&publisher), &["key", "list", "--org", BUREAU]);
    assert!(keys.contains(key_id) && keys.contains("active"), "{keys}");

    // Publish: unsigned and wrongly signed packages are refused.
    let v1 = package_file(&work, "1.0.0", None);
    cli.ok(None, &["app", "check", &v1]);
    let unsigned = cli.refused(Some(&publisher), &["app", "publish", &v1]);
    assert!(unsigned.contains("is not signed"), "{unsigned}");
    let stranger = work.join("stranger.key");
    cli.ok(None, &["key", "generate", "--out", stranger.to_str().unwrap()]);
    let wrong = cli.refused(
        Some(&publisher),
        &["app", "publish", &v1, "--key", stranger.to_str().unwrap()],
    );
    assert!(wrong.contains("not registered to this org"), "{wrong}");
    let no_token = cli.refused(None, &["app", "publish", &v1, "--key", key.to_str().unwrap()]);
    assert!(no_token.contains("TONGBAN_TOKEN"), "{no_token}");

    bad_packages_are_refused(&cli, &publisher, &key, &work);

    let published = cli.ok(
        Some(&publisher),
        &["app", "publish", &v1, "--key", key.to_str().unwrap()],
    );
    assert!(
        published.contains("published cn.gov.hz.amr.sole-proprietor@1.0.0"),
        "{published}"
    );
    assert!(published.contains("+ capability/cases"), "{published}");
    if store.blob_url.is_some() {
        // The package went to the S3-compatible store, not to a local folder.
        assert!(!store.data_dir.join("node-a/blobs").exists());
    }
    let reused = cli.refused(
        Some(&publisher),
        &["app", "publish", &v1, "--key", key.to_str().unwrap()],
    );
    assert!(reused.contains("409") && reused.contains("1.0.0"), "{reused}");

    // Review: the queue hides the reviewer's own org; every addition needs --ack.
    let queue = cli.ok(Some(&reviewer), &["review", "list"]);
    assert!(queue.contains("cn.gov.hz.amr.sole-proprietor@1.0.0"), "{queue}");
    let own_queue = cli.ok(Some(&same_org_reviewer), &["review", "list"]);
    assert!(own_queue.contains("empty"), "{own_queue}");
    let own = cli.refused(Some(&same_org_reviewer), &["review", "approve", APP, "1.0.0"]);
    assert!(own.contains("separation of duties"), "{own}");
    let shown = cli.ok(Some(&reviewer), &["review", "show", APP, "1.0.0"]);
    assert!(
        shown.contains("checks: all") && shown.contains("[needs --ack]"),
        "{shown}"
    );
    let unacknowledged = cli.refused(Some(&reviewer), &["review", "approve", APP, "1.0.0"]);
    assert!(unacknowledged.contains("capability/cases"), "{unacknowledged}");
    let no_reason = cli.run(Some(&reviewer), &["review", "reject", APP, "1.0.0"]);
    assert!(!no_reason.status.success() && text(&no_reason).contains("--reason"));
    approve(&cli, &reviewer, "1.0.0");

    // Pilot to a named group, then roll out to everyone.
    assert_eq!(cli.which(&reviewer, "tester-1"), None);
    cli.ok(
        Some(&region_admin),
        &[
            "release",
            "pilot",
            APP,
            "1.0.0",
            "--region",
            REGION,
            "--group",
            "tester-1,tester-2",
        ],
    );
    cli.served_soon(&reviewer, "tester-1", Some("1.0.0"));
    cli.served_soon(&reviewer, "citizen-9", None);
    cli_b.served_soon(&reviewer, "tester-1", Some("1.0.0"));
    cli.ok(Some(&region_admin), &rollout("1.0.0", "100"));
    cli.served_soon(&reviewer, "citizen-9", Some("1.0.0"));
    cli_b.served_soon(&reviewer, "citizen-9", Some("1.0.0"));

    // 1.1.0 adds a capability: the diff shows it, the reviewer acknowledges it.
    let v2 = package_file(&work, "1.1.0", Some(tongban_tests::UPDATE_CAPABILITY));
    let published = cli.ok(
        Some(&publisher),
        &["app", "publish", &v2, "--key", key.to_str().unwrap()],
    );
    assert!(published.contains("+ capability/storage"), "{published}");
    let shown = cli.ok(Some(&reviewer), &["review", "show", APP, "1.1.0"]);
    assert!(!acks_from_show(&shown).is_empty(), "{shown}");
    approve(&cli, &reviewer, "1.1.0");

    // Staged rollout at 50%: some subjects get 1.1.0, the rest keep 1.0.0.
    cli.ok(Some(&region_admin), &rollout("1.1.0", "50"));
    let subjects: Vec<String> = (0..24).map(|i| format!("citizen-{i}")).collect();
    let new_subject = subjects
        .iter()
        .find(|s| cli.which(&reviewer, s).as_deref() == Some("1.1.0"))
        .expect("50% of 24 subjects includes one on 1.1.0")
        .clone();
    assert!(
        subjects
            .iter()
            .any(|s| cli.which(&reviewer, s).as_deref() == Some("1.0.0"))
    );
    let lower = cli.refused(Some(&region_admin), &rollout("1.1.0", "30"));
    assert!(lower.contains("only rises") || lower.contains("rise"), "{lower}");
    let status = cli.ok(Some(&region_admin), &["release", "status", APP, "--region", REGION]);
    assert!(status.contains("1.1.0") && status.contains("50%"), "{status}");

    // Halt: the active version serves everyone again, on both nodes, at once.
    cli.ok(
        Some(&region_admin),
        &["release", "halt", APP, "1.1.0", "--region", REGION],
    );
    cli.served_soon(&reviewer, &new_subject, Some("1.0.0"));
    cli_b.served_soon(&reviewer, &new_subject, Some("1.0.0"));
    cli.ok(
        Some(&region_admin),
        &["release", "rollback", APP, "1.1.0", "--region", REGION],
    );
    cli.served_soon(&reviewer, &new_subject, Some("1.0.0"));
    let status = cli.ok(Some(&region_admin), &["release", "status", APP, "--region", REGION]);
    assert!(
        status.lines().any(|l| l.contains("1.1.0") && l.contains("rolled-back")),
        "{status}"
    );

    // Yank: no new rollouts of 1.1.0.
    let no_reason = cli.refused(Some(&region_admin), &["release", "yank", APP, "1.1.0", "--reason", " "]);
    assert!(no_reason.contains("needs a reason"), "{no_reason}");
    cli.ok(
        Some(&region_admin),
        &["release", "yank", APP, "1.1.0", "--reason", "字号规则有误"],
    );
    let after_yank = cli.refused(Some(&region_admin), &rollout("1.1.0", "100"));
    assert!(after_yank.contains("409"), "{after_yank}");

    // Revoke 1.0.0 (security officer only): it stops serving everywhere.
    let revoke = ["release", "revoke", APP, "1.0.0", "--reason", "供应链投毒"];
    let not_allowed = cli.refused(Some(&region_admin), &revoke);
    assert!(not_allowed.contains("as region-admin"), "{not_allowed}");
    cli.ok(Some(&security), &revoke);
    cli.served_soon(&reviewer, "citizen-9", None);
    cli_b.served_soon(&reviewer, "citizen-9", None);
    let illegal = cli.refused(Some(&region_admin), &rollout("1.0.0", "100"));
    assert!(illegal.contains("409") && illegal.contains("revoked"), "{illegal}");

    // The audit chain verifies, then catches a row edited in the database.
    drop(node_b);
    drop(node_a);
    let store_args = store.args();
    let mut verify = vec!["audit", "verify"];
    verify.extend(store_args.iter().map(String::as_str));
    let verified = cli.ok(None, &verify);
    assert!(verified.contains("audit chain intact"), "{verified}");
    tamper_with_one_audit_row(store);
    let caught = cli.refused(None, &verify);
    assert!(caught.contains("(entry 3): its contents do not match"), "{caught}");
}

/// A malformed manifest, an id outside the org's namespace, an oversized
/// upload and a package changed after signing are each refused with a 4xx
/// that names the problem, and none leaves anything behind.
fn bad_packages_are_refused(cli: &Cli, publisher: &str, key: &Path, work: &Path) {
    let key = key.to_str().unwrap();
    let mut malformed = sole_proprietor_at("1.0.0", None);
    malformed.manifest_text = malformed
        .manifest_text
        .replace("kind = \"service-app\"", "kind = \"toaster\"");
    let malformed = write_package(work, "malformed", &malformed);
    let refused = cli.refused(Some(publisher), &["app", "publish", &malformed, "--key", key]);
    assert!(refused.contains("422") && refused.contains("toaster"), "{refused}");

    let mut outside = sole_proprietor_at("1.0.0", None);
    outside.manifest_text = outside
        .manifest_text
        .replace("cn.gov.hz.amr.sole-proprietor", "cn.gov.sh.amr.sole-proprietor");
    let outside = write_package(work, "outside", &outside);
    let refused = cli.refused(Some(publisher), &["app", "publish", &outside, "--key", key]);
    assert!(refused.contains("outside every namespace"), "{refused}");

    // Incompressible padding, so the gzipped package really is over 2 MiB.
    let mut padded = sole_proprietor_at("1.0.0", None);
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for part in 0..3 {
        let noise: Vec<u8> = (0..900 * 1024)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        padded.files.insert(format!("assets/padding-{part}.bin"), noise);
    }
    let padded = write_package(work, "padded", &padded);
    // The server refuses it on its declared length, before the body is sent
    // (`Expect: 100-continue`), so the CLI always shows the refusal, naming
    // the limit, and never a broken upload.
    let refused = cli.refused(Some(publisher), &["app", "publish", &padded, "--key", key]);
    assert!(
        refused.contains("413 payload_too_large") && refused.contains("at most 2097152 bytes"),
        "{refused}"
    );

    let tampered = package_file(work, "1.0.0", None);
    cli.ok(None, &["app", "sign", &tampered, "--key", key]);
    let mut changed = Package::read(Path::new(&tampered)).unwrap();
    changed
        .files
        .insert("forms/apply.json".into(), br#"{"type":"object"}"#.to_vec());
    changed.write(Path::new(&tampered)).unwrap();
    let refused = cli.refused(Some(publisher), &["app", "publish", &tampered]);
    assert!(refused.contains("the package changed after signing"), "{refused}");

    let queue = cli.ok(Some(publisher), &["release", "status", APP]);
    assert!(queue.contains("not deployed"), "{queue}");
}

/// Seal what is pending (the nodes' sealer may not have reached it before
/// they stopped), then edit the actor of the third audit entry directly in
/// the database.
fn tamper_with_one_audit_row(store: &Store) {
    let store = store.clone();
    tokio::runtime::Runtime::new().unwrap().block_on(async move {
        let db = tongban_store::Database::open_configured(store.database_url.as_deref(), &store.data_dir)
            .await
            .unwrap();
        let key = tongban_registry::market::registry_signing_key(&db).await.unwrap();
        tongban_registry::market::audit_seal::seal_pending(&db, &key)
            .await
            .unwrap();
        let changed = sqlx::query("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3")
            .execute(db.pool())
            .await
            .unwrap()
            .rows_affected();
        assert_eq!(changed, 1);
    });
}
