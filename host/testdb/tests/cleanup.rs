//! A test database goes when its value goes: the PostgreSQL database is
//! dropped even with a pool still connected to it, from inside an async test,
//! and the SQLite file goes with its directory.

use sqlx::{Connection, Row};
use tongban_testdb::TestDb;

#[tokio::test]
async fn a_dropped_test_database_is_gone() {
    for test_db in TestDb::each("cleanup") {
        let db = test_db.open().await;
        let dir = test_db.dir().to_owned();
        // A second database of the same backend is another database.
        let sibling = test_db.sibling("cleanup_sibling");
        assert_eq!(sibling.backend(), test_db.backend());
        assert_ne!(sibling.url(), test_db.url());
        let sibling_url = sibling.url().to_owned();
        let sibling_dir = sibling.dir().to_owned();
        drop(sibling.open().await);
        assert!(
            exists(&sibling_url).await,
            "{sibling_url} should exist while its value lives"
        );
        drop(sibling);
        assert!(!sibling_dir.exists(), "{} is still there", sibling_dir.display());
        assert!(!exists(&sibling_url).await, "{sibling_url} is still there");

        let url = test_db.url().to_owned();
        assert!(exists(&url).await, "{url} should exist while its value lives");
        // The pool stays open across the drop, as a test's pools often do.
        drop(test_db);
        assert!(!dir.exists(), "{} is still there", dir.display());
        assert!(!exists(&url).await, "{url} is still there");
        drop(db);
    }
}

/// Whether the database at `url` exists: the file for SQLite, a row of
/// `pg_database` (asked through the admin connection) for PostgreSQL.
async fn exists(url: &str) -> bool {
    if let Some(path) = url.strip_prefix("sqlite://") {
        return std::path::Path::new(path).exists();
    }
    let name = url.rsplit('/').next().unwrap().to_owned();
    // A plain connection, not `Database::open`, which would migrate the
    // admin database.
    let admin = std::env::var("TONGBAN_TEST_DATABASE_URL").unwrap();
    let mut admin = sqlx::PgConnection::connect(&admin).await.unwrap();
    let found = sqlx::query("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_one(&mut admin)
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap();
    admin.close().await.unwrap();
    found == 1
}
