//! The marketplace library on both databases: publish, review with diff,
//! release per region, the serving table, key revocation, bad input, and the
//! audit chain under tampering.
//!
//! Every test runs on each database the test database kit provides
//! (`tongban-testdb`: SQLite, and PostgreSQL when configured), each test in a
//! fresh database.

use tongban_registry::Package;
use tongban_registry::market::deploy::ReleaseAction;
use tongban_registry::market::review::{APPROVAL_DOMAIN, Decision};
use tongban_registry::market::serving::ServingTable;
use tongban_registry::market::{Actor, MarketError, Marketplace, accounts, audit_log, keys, orgs};
use tongban_registry::release::{Role, VersionState};
use tongban_registry::signing::{SigningKey, verify_text_signature};
use tongban_store::BlobStore;
use tongban_testdb::{TestDb, seed};

pub const BUREAU: &str = "113301000024891238"; // 杭州市市场监督管理局 (publisher)
pub const REVIEW_ORG: &str = "11330106002489555Y"; // 大数据局 (reviewers)

/// A marketplace on a fresh database of each backend the test database kit
/// provides.
pub struct Fixture {
    pub market: Marketplace,
    pub blobs_dir: tempfile::TempDir,
    pub key: SigningKey,
    pub backend: &'static str,
    _db: TestDb,
}

pub async fn fixtures(label: &str) -> Vec<Fixture> {
    let mut out = Vec::new();
    for db in TestDb::each(label) {
        let blobs_dir = tempfile::tempdir().unwrap();
        let market = Marketplace::open(db.open().await, BlobStore::local(blobs_dir.path()).unwrap())
            .await
            .unwrap();
        let key = seed_market(&market).await;
        out.push(Fixture {
            market,
            blobs_dir,
            key,
            backend: db.backend_name(),
            _db: db,
        });
    }
    out
}

pub fn actor(user: &str, role: Role, org: Option<&str>, region: Option<&str>) -> Actor {
    Actor {
        user: user.into(),
        role,
        org: org.map(Into::into),
        region: region.map(Into::into),
    }
}

pub fn admin() -> Actor {
    actor("admin", Role::PlatformAdmin, None, None)
}
pub fn publisher() -> Actor {
    actor("pub-hz", Role::Publisher, Some(BUREAU), None)
}
pub fn reviewer() -> Actor {
    actor("rev-data", Role::Reviewer, Some(REVIEW_ORG), None)
}
pub fn region_admin() -> Actor {
    actor("ra-xihu", Role::RegionAdmin, Some(REVIEW_ORG), Some("330106"))
}
pub fn security() -> Actor {
    actor("sec", Role::SecurityOfficer, None, None)
}

/// Orgs, a namespace and a registered publisher key.
async fn seed_market(market: &Marketplace) -> SigningKey {
    let db = market.db();
    seed::orgs(
        db,
        &[
            (BUREAU, "杭州市市场监督管理局", "330100"),
            (REVIEW_ORG, "杭州市西湖区数据资源局", "330106"),
        ],
    )
    .await;
    orgs::add_namespace(db, &admin(), BUREAU, "cn.gov.hz.amr")
        .await
        .unwrap();
    let key = SigningKey::generate();
    keys::register_key(db, &publisher(), BUREAU, &key.public_key_hex())
        .await
        .unwrap();
    key
}

/// The first app's package with a changed version and optional extra manifest
/// lines, signed with `key`.
pub fn sole_proprietor(version: &str, extra_capability: Option<&str>, key: Option<&SigningKey>) -> Vec<u8> {
    let mut package = tongban_tests::sole_proprietor_at(version, extra_capability);
    if let Some(key) = key {
        package.sign(key);
    }
    package.to_bytes()
}

/// Publish the first app at `version`, signed with the fixture's key.
async fn publish_signed(f: &Fixture, version: &str) -> tongban_registry::market::publish::PublishReceipt {
    f.market
        .publish(&publisher(), sole_proprietor(version, None, Some(&f.key)))
        .await
        .unwrap()
}

fn approve_all(diff: &[String]) -> Decision {
    Decision::Approve {
        acknowledged: diff.to_vec(),
    }
}

#[tokio::test]
async fn the_whole_lifecycle_on_every_backend() {
    for f in fixtures("lifecycle").await {
        let m = &f.market;
        let app = "cn.gov.hz.amr.sole-proprietor";
        let receipt = publish_signed(&f, "1.0.0").await;
        assert_eq!(receipt.state, VersionState::InReview, "{}", f.backend);
        assert!(receipt.diff.iter().any(|c| c.id == "capability/cases"));

        // The queue hides the reviewer's own org; separation of duties holds.
        assert_eq!(m.review_queue(&reviewer()).await.unwrap().len(), 1);
        let same_org = actor("rev-hz", Role::Reviewer, Some(BUREAU), None);
        assert!(m.review_queue(&same_org).await.unwrap().is_empty());
        let err = m.decide(&same_org, app, "1.0.0", approve_all(&[])).await.unwrap_err();
        assert!(
            matches!(err, MarketError::Forbidden(ref m) if m.contains("separation of duties")),
            "{err}"
        );

        // Each added capability must be ticked.
        let submission = m.submission(app, "1.0.0").await.unwrap();
        let err = m.decide(&reviewer(), app, "1.0.0", approve_all(&[])).await.unwrap_err();
        assert!(err.to_string().contains("capability/certificates"), "{err}");
        let state = m
            .decide(
                &reviewer(),
                app,
                "1.0.0",
                approve_all(&submission.needs_acknowledgement),
            )
            .await
            .unwrap();
        assert_eq!(state, VersionState::Approved);
        let approved = m.submission(app, "1.0.0").await.unwrap();
        let countersignature = approved.countersignature.unwrap();
        let key_bytes: [u8; 32] = hex::decode(m.registry_public_key()).unwrap().try_into().unwrap();
        let approved_at = {
            use sqlx::Row;
            sqlx::query("SELECT decided_at FROM versions WHERE app_id = $1 AND version = '1.0.0'")
                .bind(app)
                .fetch_one(m.db().pool())
                .await
                .unwrap()
                .try_get::<i64, _>(0)
                .unwrap()
        };
        assert!(verify_text_signature(
            APPROVAL_DOMAIN,
            &format!("{app}@1.0.0:{}:rev-data:{approved_at}", approved.package_digest),
            &countersignature,
            &key_bytes
        ));

        // Pilot, then roll out to everyone.
        let pilot = ReleaseAction::Pilot {
            region: "330106".into(),
            group: vec!["tester-1".into()],
        };
        m.release(&region_admin(), app, "1.0.0", pilot).await.unwrap();
        let table = ServingTable::load(m.db()).await.unwrap();
        assert_eq!(table.resolve(app, "330106", "tester-1").unwrap().reason, "pilot");
        assert!(table.resolve(app, "330106", "someone-else").is_none());
        for p in [30, 100] {
            let rollout = ReleaseAction::Rollout {
                region: "330106".into(),
                percentage: p,
            };
            m.release(&region_admin(), app, "1.0.0", rollout).await.unwrap();
        }
        let table = ServingTable::load(m.db()).await.unwrap();
        assert_eq!(table.resolve(app, "330106", "someone-else").unwrap().reason, "active");

        // Version 1.1.0 adds the storage capability with its quota: the diff flags both.
        let receipt = m
            .publish(
                &publisher(),
                sole_proprietor("1.1.0", Some(tongban_tests::UPDATE_CAPABILITY), Some(&f.key)),
            )
            .await
            .unwrap();
        let added: Vec<&str> = receipt
            .diff
            .iter()
            .filter(|c| c.needs_acknowledgement())
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(added, ["capability/storage", "storage.quota-kib"], "{}", f.backend);
        m.decide(
            &reviewer(),
            app,
            "1.1.0",
            approve_all(&["capability/storage".into(), "storage.quota-kib".into()]),
        )
        .await
        .unwrap();
        let r = |p| ReleaseAction::Rollout {
            region: "330106".into(),
            percentage: p,
        };
        m.release(&region_admin(), app, "1.1.0", r(50)).await.unwrap();
        let err = m.release(&region_admin(), app, "1.1.0", r(20)).await.unwrap_err();
        assert!(err.to_string().contains("only rises"), "{err}");
        let table = ServingTable::load(m.db()).await.unwrap();
        let on_new = (0..200)
            .filter(|i| table.resolve(app, "330106", &format!("citizen-{i}")).unwrap().version == "1.1.0")
            .count();
        assert!((60..140).contains(&on_new), "about half of 200 on 1.1.0, got {on_new}");

        // Halt: everyone is back on 1.0.0 at the next table; rollback is recorded.
        m.release(
            &security(),
            app,
            "1.1.0",
            ReleaseAction::Halt {
                region: "330106".into(),
            },
        )
        .await
        .unwrap();
        let table = ServingTable::load(m.db()).await.unwrap();
        assert!((0..200).all(|i| table.resolve(app, "330106", &format!("citizen-{i}")).unwrap().version == "1.0.0"));
        m.release(
            &region_admin(),
            app,
            "1.1.0",
            ReleaseAction::Rollback {
                region: "330106".into(),
            },
        )
        .await
        .unwrap();
        let err = m
            .release(
                &region_admin(),
                app,
                "1.1.0",
                ReleaseAction::Rollback {
                    region: "330106".into(),
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, MarketError::Transition(_)), "{err}");

        // Yank stops new rollouts; revoke stops serving everywhere. Both
        // need a reason, which the version keeps and the chain commits to.
        use sqlx::Row;
        let err = m
            .release(&publisher(), app, "1.1.0", ReleaseAction::Yank { reason: "  ".into() })
            .await
            .unwrap_err();
        assert!(err.to_string().contains("needs a reason"), "{err}");
        m.release(
            &publisher(),
            app,
            "1.1.0",
            ReleaseAction::Yank {
                reason: " 字号规则有误 / wrong trade-name rule ".into(),
            },
        )
        .await
        .unwrap();
        let err = m.release(&region_admin(), app, "1.1.0", r(60)).await.unwrap_err();
        assert!(err.to_string().contains("yanked"), "{err}");
        m.release(
            &security(),
            app,
            "1.0.0",
            ReleaseAction::Revoke {
                reason: "供应链投毒 / a poisoned dependency".into(),
            },
        )
        .await
        .unwrap();
        // A revocation after a yank keeps the yank's reason.
        m.release(
            &security(),
            app,
            "1.1.0",
            ReleaseAction::Revoke {
                reason: "同一缺陷 / the same defect".into(),
            },
        )
        .await
        .unwrap();
        let released = m.released_versions().await.unwrap();
        let reason_of = |version: &str| {
            released
                .iter()
                .find(|v| v.version == version)
                .and_then(|v| v.state_reason.clone())
        };
        assert_eq!(
            reason_of("1.1.0").as_deref(),
            Some("yank: 字号规则有误 / wrong trade-name rule\nrevoke: 同一缺陷 / the same defect"),
            "{}",
            f.backend
        );
        assert_eq!(
            reason_of("1.0.0").as_deref(),
            Some("revoke: 供应链投毒 / a poisoned dependency")
        );
        // The chain's digests cover the state with the reasons: the yank's
        // after-digest is the revocation's before-digest, and the stored
        // reasons are what the last entry committed to.
        let digests = |action: &str| {
            let action = action.to_owned();
            let pool = m.db().pool().clone();
            async move {
                let row =
                    sqlx::query("SELECT before_digest, after_digest FROM audit_log WHERE action = $1 AND subject = $2")
                        .bind(action)
                        .bind("cn.gov.hz.amr.sole-proprietor@1.1.0")
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                (row.get::<String, _>(0), row.get::<String, _>(1))
            }
        };
        let (_, yank_after) = digests("release.yank").await;
        let (revoke_before, revoke_after) = digests("release.revoke").await;
        assert_eq!(yank_after, revoke_before);
        assert_eq!(
            revoke_after,
            tongban_registry::market::deploy::state_digest_with_reasons(
                tongban_registry::release::VersionState::Revoked,
                reason_of("1.1.0").as_deref()
            )
        );
        let table = ServingTable::load(m.db()).await.unwrap();
        assert!(
            table.resolve(app, "330106", "someone-else").is_none(),
            "a revoked version never serves"
        );

        // The catalog lists the app; the audit chain is intact.
        let catalog = m.catalog(Some("个体"), 1, 20).await.unwrap();
        assert_eq!(catalog.len(), 1);
        assert_eq!(catalog[0].latest_version, "1.1.0");
        m.seal_audit_log().await.unwrap();
        let verified = audit_log::verify(m.db()).await.unwrap().unwrap();
        assert!(verified.sealed >= 15 && verified.pending == 0, "{verified:?}");
    }
}

#[tokio::test]
async fn bad_publishes_are_refused_and_leave_nothing_behind() {
    for f in fixtures("bad_publish").await {
        let m = &f.market;
        let before = audit_log::entries(m.db(), None).await.unwrap().len();
        let unsigned = m
            .publish(&publisher(), sole_proprietor("1.0.0", None, None))
            .await
            .unwrap_err();
        assert_eq!(unsigned.code(), "signature_invalid");
        assert!(unsigned.to_string().contains("not signed"), "{unsigned}");

        let stranger = SigningKey::generate();
        let wrong = m
            .publish(&publisher(), sole_proprietor("1.0.0", None, Some(&stranger)))
            .await
            .unwrap_err();
        assert!(wrong.to_string().contains("not registered to this org"), "{wrong}");

        let mut tampered = Package::from_bytes(&sole_proprietor("1.0.0", None, Some(&f.key))).unwrap();
        tampered
            .files
            .insert("forms/apply.json".into(), br#"{"type":"object"}"#.to_vec());
        let err = m.publish(&publisher(), tampered.to_bytes()).await.unwrap_err();
        assert!(matches!(err, MarketError::Signature(_)), "{err}");

        let mut outside = Package::from_bytes(&sole_proprietor("1.0.0", None, None)).unwrap();
        outside.manifest_text = outside
            .manifest_text
            .replace("cn.gov.hz.amr.sole-proprietor", "cn.gov.sh.amr.sole-proprietor");
        outside.sign(&f.key);
        let err = m.publish(&publisher(), outside.to_bytes()).await.unwrap_err();
        assert!(err.to_string().contains("outside every namespace"), "{err}");

        let err = m.publish(&publisher(), b"not a package".to_vec()).await.unwrap_err();
        assert_eq!(err.code(), "invalid_input");

        let mut malformed = Package::from_bytes(&sole_proprietor("1.0.0", None, None)).unwrap();
        malformed.manifest_text = malformed
            .manifest_text
            .replace("kind = \"service-app\"", "kind = \"toaster\"");
        malformed.sign(&f.key);
        let err = m.publish(&publisher(), malformed.to_bytes()).await.unwrap_err();
        assert!(err.to_string().contains("toaster"), "{err}");

        assert_eq!(
            audit_log::entries(m.db(), None).await.unwrap().len(),
            before,
            "refusals write nothing"
        );

        publish_signed(&f, "1.0.0").await;
        let err = m
            .publish(&publisher(), sole_proprietor("1.0.0", None, Some(&f.key)))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("never reused"), "{err}");
        let err = m
            .release(
                &region_admin(),
                "cn.gov.hz.amr.sole-proprietor",
                "1.0.0",
                ReleaseAction::Yank { reason: "test".into() },
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), "illegal_transition", "{err}");
    }
}

#[tokio::test]
async fn a_tampered_blob_is_refused_when_read_back() {
    for f in fixtures("tampered_blob").await {
        let m = &f.market;
        let receipt = publish_signed(&f, "1.0.0").await;
        let path = f.blobs_dir.path().join("sha256").join(&receipt.package_digest);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        let err = tongban_registry::market::publish::load_package(m, &receipt.app, &receipt.version)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "blob_tampered", "{err}");
    }
}

#[tokio::test]
async fn revoking_a_key_quarantines_what_it_signed_after_the_compromise() {
    for f in fixtures("key_revoke").await {
        let m = &f.market;
        let app = "cn.gov.hz.amr.sole-proprietor";
        publish_signed(&f, "1.0.0").await;
        let ack = m.submission(app, "1.0.0").await.unwrap().needs_acknowledgement;
        m.decide(&reviewer(), app, "1.0.0", approve_all(&ack)).await.unwrap();
        // Distinct milliseconds on both sides, so 1.0.0 is surely before the
        // compromise and 1.0.1 surely after it.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let compromised_at = tongban_store::now_ms();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        publish_signed(&f, "1.0.1").await;
        m.decide(&reviewer(), app, "1.0.1", approve_all(&[])).await.unwrap();

        let quarantined = keys::revoke_key(m.db(), &security(), BUREAU, &f.key.key_id(), compromised_at)
            .await
            .unwrap();
        assert_eq!(quarantined, vec![format!("{app}@1.0.1")], "{}", f.backend);
        assert_eq!(m.submission(app, "1.0.1").await.unwrap().state, VersionState::InReview);
        assert_eq!(m.submission(app, "1.0.0").await.unwrap().state, VersionState::Approved);
        let err = m
            .publish(&publisher(), sole_proprietor("1.0.2", None, Some(&f.key)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "signature_invalid", "{err}");

        // A rotated-in key publishes again.
        let fresh = SigningKey::generate();
        keys::register_key(m.db(), &publisher(), BUREAU, &fresh.public_key_hex())
            .await
            .unwrap();
        m.publish(&publisher(), sole_proprietor("1.0.2", None, Some(&fresh)))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn audit_verify_names_the_first_edited_or_deleted_entry() {
    for f in fixtures("audit").await {
        let m = &f.market;
        publish_signed(&f, "1.0.0").await;

        // Appended entries wait for the sealer: counted, not yet checked.
        let waiting = audit_log::verify(m.db()).await.unwrap().unwrap();
        assert_eq!((waiting.sealed, waiting.batches), (0, 0), "{}", f.backend);
        assert!(waiting.pending >= 5, "{waiting:?}");
        let batches = m.seal_audit_log().await.unwrap();
        assert_eq!(batches.len(), 1);
        let sealed = audit_log::verify(m.db()).await.unwrap().unwrap();
        assert_eq!(
            (sealed.sealed, sealed.batches, sealed.pending),
            (waiting.pending, 1, 0),
            "{}",
            f.backend
        );
        assert_eq!(batches[0].entries, sealed.sealed);

        // Entries appended after a seal go in the next batch.
        publish_signed(&f, "1.0.1").await;
        assert!(audit_log::verify(m.db()).await.unwrap().unwrap().pending > 0);
        m.seal_audit_log().await.unwrap();
        let total = audit_log::verify(m.db()).await.unwrap().unwrap();
        assert_eq!((total.batches, total.pending), (2, 0), "{}", f.backend);

        let entries = audit_log::entries(m.db(), None).await.unwrap();
        let at = |position: i64| {
            entries
                .iter()
                .find(|e| e.seal.as_ref().is_some_and(|s| s.position == position))
                .unwrap()
                .record
                .seq
        };
        let third = at(3);
        sqlx::query("UPDATE audit_log SET actor = 'mallory' WHERE seq = $1")
            .bind(third)
            .execute(m.db().pool())
            .await
            .unwrap();
        let broken = audit_log::verify(m.db()).await.unwrap().unwrap_err();
        assert_eq!(
            (broken.position, broken.entry),
            (3, Some(third)),
            "{}: {broken}",
            f.backend
        );
        assert!(broken.to_string().contains("edited"), "{broken}");
        sqlx::query("UPDATE audit_log SET actor = 'admin' WHERE seq = $1")
            .bind(third)
            .execute(m.db().pool())
            .await
            .unwrap();
        assert!(audit_log::verify(m.db()).await.unwrap().is_ok());

        sqlx::query("DELETE FROM audit_log WHERE seq = $1")
            .bind(at(2))
            .execute(m.db().pool())
            .await
            .unwrap();
        let broken = audit_log::verify(m.db()).await.unwrap().unwrap_err();
        assert_eq!(broken.position, 2, "{broken}");
        assert!(broken.to_string().contains("missing"), "{broken}");

        // The tail of the last batch gone.
        let last = total.sealed as i64;
        sqlx::query("DELETE FROM audit_log WHERE chain_position >= $1")
            .bind(last - 1)
            .execute(m.db().pool())
            .await
            .unwrap();
        let broken = audit_log::verify(m.db()).await.unwrap().unwrap_err();
        assert!(broken.to_string().contains("missing"), "{broken}");

        // A forged batch head: the signature does not hold.
        sqlx::query("UPDATE audit_batches SET sealed_at = sealed_at + 1 WHERE batch = 1")
            .execute(m.db().pool())
            .await
            .unwrap();
        let broken = audit_log::verify(m.db()).await.unwrap().unwrap_err();
        assert!(
            broken.to_string().contains("missing") || broken.to_string().contains("not signed"),
            "{broken}"
        );
    }
}

/// One sealer at a time: a second node is refused the lease while the first
/// renews it, and takes it over once it has run out (here made to run out by
/// moving its expiry back, rather than by waiting).
#[tokio::test]
async fn the_sealers_lease_has_one_holder_until_it_runs_out() {
    use tongban_registry::market::audit_seal::{hold_lease, release_lease};
    for f in fixtures("audit_lease").await {
        let db = f.market.db();
        assert!(hold_lease(db, "node-a").await.unwrap(), "{}", f.backend);
        assert!(!hold_lease(db, "node-b").await.unwrap(), "{}", f.backend);
        assert!(hold_lease(db, "node-a").await.unwrap(), "the holder renews");
        sqlx::query("UPDATE audit_sealer_lease SET expires_at = expires_at - 60000")
            .execute(db.pool())
            .await
            .unwrap();
        assert!(hold_lease(db, "node-b").await.unwrap(), "{}: taken over", f.backend);
        assert!(!hold_lease(db, "node-a").await.unwrap(), "{}", f.backend);
        release_lease(db, "node-b").await.unwrap();
        assert!(hold_lease(db, "node-a").await.unwrap(), "{}: given up", f.backend);
    }
}

/// Entries of transactions running at once are each sealed exactly once, in
/// a chain that verifies, whichever order they commit in.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_are_each_sealed_once() {
    for f in fixtures("audit_concurrent").await {
        let m = &f.market;
        let db = m.db().clone();
        let before = audit_log::entries(m.db(), None).await.unwrap().len() as u64;
        let mut writers = Vec::new();
        for w in 0..8 {
            let db = db.clone();
            writers.push(tokio::spawn(async move {
                for i in 0..25 {
                    let mut tx = db.begin_write().await.unwrap();
                    audit_log::append_entry(
                        &mut tx,
                        &format!("writer-{w}"),
                        "test.append",
                        &format!("n:{i}"),
                        "",
                        "",
                    )
                    .await
                    .unwrap();
                    // Every fifth transaction rolls back: its entry never existed.
                    if i % 5 == 4 {
                        tx.rollback().await.unwrap();
                    } else {
                        tx.commit().await.unwrap();
                    }
                }
            }));
        }
        // Two sealers race the writers and each other.
        let sealers: Vec<_> = (0..2)
            .map(|_| {
                let m = m.clone();
                tokio::spawn(async move {
                    for _ in 0..20 {
                        m.seal_audit_log().await.unwrap();
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap();
        }
        for s in sealers {
            s.await.unwrap();
        }
        m.seal_audit_log().await.unwrap();
        let verified = audit_log::verify(m.db()).await.unwrap().unwrap();
        assert_eq!(
            (verified.sealed, verified.pending),
            (before + 8 * 20, 0),
            "{}",
            f.backend
        );
        let entries = audit_log::entries(m.db(), None).await.unwrap();
        let mut positions: Vec<i64> = entries.iter().map(|e| e.seal.as_ref().unwrap().position).collect();
        positions.sort();
        assert_eq!(
            positions,
            (1..=before as i64 + 160).collect::<Vec<_>>(),
            "{}",
            f.backend
        );
    }
}

#[tokio::test]
async fn accounts_tokens_and_bad_org_codes() {
    for f in fixtures("accounts").await {
        let db = f.market.db();
        let err = orgs::create_org(db, &admin(), "91350100M000100Y44", "x", "350100")
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the check character of `91350100M000100Y44` should be `3`, not `4`"
        );
        let err = orgs::create_org(db, &publisher(), "91350100M000100Y43", "x", "350100")
            .await
            .unwrap_err();
        assert_eq!(err.code(), "forbidden");
        let err = orgs::add_namespace(db, &admin(), REVIEW_ORG, "cn.gov.hz.amr.sub")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("overlaps"), "{err}");

        let user = accounts::User {
            id: "pub-hz".into(),
            display_name: "张发布".into(),
            role: Role::Publisher,
            org: Some(BUREAU.into()),
            region: None,
            subject: None,
        };
        accounts::create_user(db, &Actor::system(), &user).await.unwrap();
        let token = accounts::issue_token(db, &admin(), "pub-hz", "cli").await.unwrap();
        assert_eq!(accounts::authenticate(db, &token).await.unwrap().unwrap(), publisher());
        assert!(accounts::authenticate(db, "tb_wrong").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn catalog_search_is_literal_case_insensitive_and_paged() {
    for f in fixtures("catalog").await {
        let m = &f.market;
        // Catalog rows as publish writes them (search text lower-cased).
        for (id, zh, en) in [
            ("cn.gov.hz.amr.rate", "100%网办", "Fully Online"),
            ("cn.gov.hz.amr.tax_return", "个税汇算", "Tax_Return"),
            ("cn.gov.hz.amr.taxireturn", "出租车", "Taxi Return"),
            ("cn.gov.hz.amr.draft", "草稿", "Draft Only"),
        ] {
            let latest = if id.ends_with("draft") { None } else { Some("1.0.0") };
            sqlx::query(
                "INSERT INTO apps (id, org_code, name_zh, name_en, search_text, latest_version, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 0, 0)",
            )
            .bind(id)
            .bind(BUREAU)
            .bind(zh)
            .bind(en)
            .bind(format!("{id} {zh} {en}").to_lowercase())
            .bind(latest)
            .execute(m.db().pool())
            .await
            .unwrap();
        }
        let ids = |entries: Vec<tongban_registry::market::catalog::CatalogEntry>| -> Vec<String> {
            entries.into_iter().map(|e| e.id).collect()
        };
        // `%` and `_` are matched literally, not as wildcards.
        assert_eq!(
            ids(m.catalog(Some("%"), 1, 20).await.unwrap()),
            ["cn.gov.hz.amr.rate"],
            "{}",
            f.backend
        );
        assert_eq!(
            ids(m.catalog(Some("x_r"), 1, 20).await.unwrap()),
            ["cn.gov.hz.amr.tax_return"]
        );
        // Case does not matter; blank search text lists everything approved.
        assert_eq!(
            ids(m.catalog(Some("FULLY"), 1, 20).await.unwrap()),
            ["cn.gov.hz.amr.rate"]
        );
        assert_eq!(m.catalog(Some("   "), 1, 20).await.unwrap().len(), 3);
        assert_eq!(
            m.catalog(None, 1, 20).await.unwrap().len(),
            3,
            "unapproved apps are not listed"
        );
        // Pages are ordered by id and do not overlap.
        let first = ids(m.catalog(None, 1, 2).await.unwrap());
        let second = ids(m.catalog(None, 2, 2).await.unwrap());
        assert_eq!(first, ["cn.gov.hz.amr.rate", "cn.gov.hz.amr.tax_return"]);
        assert_eq!(second, ["cn.gov.hz.amr.taxireturn"]);
        assert!(m.catalog(None, 3, 2).await.unwrap().is_empty());
        let err = m.catalog(None, 0, 20).await.unwrap_err();
        assert_eq!(err.code(), "invalid_input", "{err}");

        // A region's services: only the named apps, searched the same way,
        // by id; unapproved and unknown ids are left out, and a list longer
        // than one chunk of parameters is asked in parts.
        let named: Vec<String> = [
            "cn.gov.hz.amr.taxireturn",
            "cn.gov.hz.amr.rate",
            "cn.gov.hz.amr.draft",
            "no.such.app",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            ids(m.catalog_of(&named, None).await.unwrap()),
            ["cn.gov.hz.amr.rate", "cn.gov.hz.amr.taxireturn"],
            "{}",
            f.backend
        );
        assert_eq!(
            ids(m.catalog_of(&named, Some("TAXI")).await.unwrap()),
            ["cn.gov.hz.amr.taxireturn"]
        );
        assert_eq!(
            ids(m.catalog_of(&named, Some("_")).await.unwrap()),
            Vec::<String>::new(),
            "`_` is literal: none of the named apps has one"
        );
        assert!(m.catalog_of(&[], Some("rate")).await.unwrap().is_empty());
        let mut many: Vec<String> = (0..1200).map(|i| format!("cn.gov.none.app{i}")).collect();
        many.push("cn.gov.hz.amr.tax_return".into());
        assert_eq!(
            ids(m.catalog_of(&many, None).await.unwrap()),
            ["cn.gov.hz.amr.tax_return"]
        );
    }
}

#[tokio::test]
async fn an_org_lists_its_versions_and_a_submission_what_it_keeps() {
    for f in fixtures("org-versions").await {
        let m = &f.market;
        let app = "cn.gov.hz.amr.sole-proprietor";
        let first = publish_signed(&f, "1.0.0").await;
        m.decide(
            &reviewer(),
            app,
            "1.0.0",
            approve_all(
                &first
                    .diff
                    .iter()
                    .filter(|c| c.needs_acknowledgement())
                    .map(|c| c.id.clone())
                    .collect::<Vec<_>>(),
            ),
        )
        .await
        .unwrap();
        // A first version keeps nothing: all of it is new.
        assert!(
            m.submission(app, "1.0.0")
                .await
                .unwrap()
                .unchanged()
                .unwrap()
                .is_empty()
        );
        m.publish(
            &publisher(),
            sole_proprietor("1.1.0", Some(tongban_tests::UPDATE_CAPABILITY), Some(&f.key)),
        )
        .await
        .unwrap();
        publish_signed(&f, "1.2.0").await;
        m.withdraw(&publisher(), app, "1.2.0").await.unwrap();

        let versions = m.org_versions(&publisher(), BUREAU).await.unwrap();
        let summary: Vec<(&str, VersionState)> = versions.iter().map(|v| (v.version.as_str(), v.state)).collect();
        assert_eq!(
            summary,
            [
                ("1.2.0", VersionState::Withdrawn),
                ("1.1.0", VersionState::InReview),
                ("1.0.0", VersionState::Approved)
            ],
            "{}",
            f.backend
        );
        assert!(
            versions
                .iter()
                .all(|v| v.app == app && v.name_zh == "个体工商户设立登记")
        );
        assert_eq!(versions[2].decided_by.as_deref(), Some("rev-data"));
        assert!(versions[1].decided_by.is_none());

        // Only the org's own publishers (and platform admins) read the list.
        assert_eq!(m.org_versions(&admin(), BUREAU).await.unwrap().len(), 3);
        let other = actor("pub-other", Role::Publisher, Some(REVIEW_ORG), None);
        let err = m.org_versions(&other, BUREAU).await.unwrap_err();
        assert!(matches!(err, MarketError::Forbidden(_)), "{err}");
        assert!(m.org_versions(&other, REVIEW_ORG).await.unwrap().is_empty());
        let err = m.org_versions(&reviewer(), BUREAU).await.unwrap_err();
        assert!(matches!(err, MarketError::Forbidden(_)), "{err}");

        // 1.1.0 adds the storage capability and keeps the rest as 1.0.0 had it.
        let submission = m.submission(app, "1.1.0").await.unwrap();
        let unchanged = submission.unchanged().unwrap();
        assert!(
            unchanged.contains(&"identity.attributes/name".to_owned()),
            "{unchanged:?}"
        );
        assert!(
            unchanged.contains(&"limits.memory-mib = 32".to_owned()),
            "{unchanged:?}"
        );
        assert!(
            !unchanged.iter().any(|c| c.starts_with("capability/storage")),
            "{unchanged:?}"
        );
        assert!(submission.diff.iter().any(|c| c.id == "capability/storage"));
    }
}
