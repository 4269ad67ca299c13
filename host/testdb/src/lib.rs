//! The one test database kit: every test, end-to-end test and benchmark that
//! runs "on both databases" gets its databases here.
//!
//! [`TestDb::each`] gives a fresh SQLite database in its own temporary
//! directory and, when `TONGBAN_TEST_DATABASE_URL` names a PostgreSQL admin
//! connection (for example `postgres://postgres@127.0.0.1:5432/test`), a fresh
//! PostgreSQL database created next to it. In CI (when `CI` is set) a missing
//! URL fails the test instead of skipping the PostgreSQL half, so CI always
//! tests both. Every [`TestDb`] is removed when the value is dropped: the
//! PostgreSQL database with `DROP DATABASE ... WITH (FORCE)`, the SQLite file
//! with its directory. A test process that is killed outright still leaves its
//! PostgreSQL databases behind; they are all named `tongban_<label>_<random>`.
//!
//! [`seed`] registers the orgs and citizens tests start from, the one way
//! every test does it.

pub mod seed;

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use tempfile::TempDir;
pub use tongban_store::Backend;
use tongban_store::Database;

/// The environment variable naming the PostgreSQL admin connection. The
/// databases the kit creates live next to the database it points at.
const ADMIN_URL_VAR: &str = "TONGBAN_TEST_DATABASE_URL";

/// How long creating or dropping a PostgreSQL database may take before the
/// kit gives up, so a stuck server fails a test instead of hanging it.
const POSTGRES_TIMEOUT: Duration = Duration::from_secs(60);

/// One fresh, empty database for one test, removed when dropped.
///
/// Nothing is migrated until [`TestDb::open`] (or a server process) opens it.
/// Each value also owns a scratch directory, [`TestDb::dir`], that lives as
/// long as the database: for SQLite it holds the database file and is exactly
/// the data directory a server or runtime would open it from; for PostgreSQL
/// it is empty and serves the same purpose for blobs and compiled artifacts.
#[derive(Debug)]
pub struct TestDb {
    backend: Backend,
    url: String,
    dir: TempDir,
    /// For PostgreSQL, what it takes to drop the database again.
    postgres: Option<ScratchPostgres>,
}

/// A PostgreSQL database the kit created, and the admin connection that
/// created it and drops it.
#[derive(Debug)]
struct ScratchPostgres {
    admin_url: String,
    name: String,
}

impl TestDb {
    /// A fresh database of each backend this run tests: SQLite always, and
    /// PostgreSQL when `TONGBAN_TEST_DATABASE_URL` is set.
    ///
    /// `label` names the test in messages and in the PostgreSQL database's
    /// name. When the variable is unset this panics if `CI` is set ("CI must
    /// test PostgreSQL too") and otherwise says on stderr that the PostgreSQL
    /// half is skipped. The PostgreSQL database is created on a thread of its
    /// own, which the caller waits for, so this may be called from synchronous
    /// code and from inside an async test alike.
    pub fn each(label: &str) -> Vec<TestDb> {
        let mut databases = vec![TestDb::sqlite(label)];
        match std::env::var(ADMIN_URL_VAR) {
            Ok(admin_url) if !admin_url.trim().is_empty() => databases.push(TestDb::postgres(&admin_url, label)),
            _ if std::env::var_os("CI").is_some() => {
                panic!("CI must test PostgreSQL too: {ADMIN_URL_VAR} is not set")
            }
            _ => eprintln!("{ADMIN_URL_VAR} is not set: the PostgreSQL half of `{label}` is skipped"),
        }
        databases
    }

    /// A fresh SQLite database only, for tests whose subject is not the
    /// database (the runtime's own behaviour, say).
    pub fn sqlite(label: &str) -> TestDb {
        let dir = scratch_dir(label);
        let url = format!("sqlite://{}", dir.path().join("tongban.db").display());
        TestDb {
            backend: Backend::Sqlite,
            url,
            dir,
            postgres: None,
        }
    }

    /// Another fresh, empty database of the same backend, unrelated to this
    /// one (another platform, as far as the tests are concerned).
    pub fn sibling(&self, label: &str) -> TestDb {
        match &self.postgres {
            None => TestDb::sqlite(label),
            Some(postgres) => TestDb::postgres(&postgres.admin_url, label),
        }
    }

    /// A fresh PostgreSQL database next to the one `admin_url` points at.
    /// Set-up failures panic: a test cannot run without its database.
    fn postgres(admin_url: &str, label: &str) -> TestDb {
        // The directory first: nothing can fail between creating the
        // database and owning it, so a set-up failure leaves nothing behind.
        let dir = scratch_dir(label);
        let name = postgres_name(label);
        let mut url =
            url::Url::parse(admin_url).unwrap_or_else(|e| panic!("{ADMIN_URL_VAR} `{admin_url}` is not a URL: {e}"));
        url.set_path(&name);
        let statement = format!("CREATE DATABASE \"{name}\"");
        if let Err(e) = on_own_thread(execute_as_admin(admin_url.to_owned(), statement)) {
            panic!("creating the PostgreSQL test database {name} through {ADMIN_URL_VAR}: {e}");
        }
        TestDb {
            backend: Backend::Postgres,
            url: url.to_string(),
            dir,
            postgres: Some(ScratchPostgres {
                admin_url: admin_url.to_owned(),
                name,
            }),
        }
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The backend's name for test messages: `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// The URL to open the database with, as `--database-url` or
    /// `Database::open` take it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The scratch directory that goes with the database (see [`TestDb`]).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Open (and migrate) the database: a new pool each time, so a second
    /// call is another node over the same database.
    pub async fn open(&self) -> Database {
        self.open_bounded(tongban_store::WaitBounds::default()).await
    }

    /// [`TestDb::open`] with the host's waits on the database bounded by
    /// `bounds`, to see what happens past them.
    pub async fn open_bounded(&self, bounds: tongban_store::WaitBounds) -> Database {
        Database::open_bounded(&self.url, bounds)
            .await
            .unwrap_or_else(|e| panic!("opening the {} test database {}: {e}", self.backend_name(), self.url))
    }
}

impl Drop for TestDb {
    /// Drop the PostgreSQL database, forcing out any connections still open
    /// (a pool a test kept, a server process being stopped). Failures are
    /// reported on stderr and never panic, since this may run while a failed
    /// test unwinds. The SQLite directory goes with the `TempDir` field.
    fn drop(&mut self) {
        let Some(postgres) = &self.postgres else { return };
        let statement = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", postgres.name);
        if let Err(e) = on_own_thread(execute_as_admin(postgres.admin_url.clone(), statement)) {
            eprintln!(
                "tongban-testdb: the PostgreSQL test database {} was not dropped: {e}",
                postgres.name
            );
        }
    }
}

/// A temporary directory whose name says which test it belongs to.
fn scratch_dir(label: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(&format!("tongban-{}-", identifier(label, 40)))
        .tempdir()
        .unwrap_or_else(|e| panic!("creating a temporary directory for `{label}`: {e}"))
}

/// `tongban_<label>_<12 random hex digits>`, at most 63 bytes (PostgreSQL's
/// limit on names), so that parallel tests and runs never collide.
fn postgres_name(label: &str) -> String {
    let mut random = [0u8; 6];
    getrandom::fill(&mut random).unwrap_or_else(|e| panic!("no randomness for a database name: {e}"));
    let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("tongban_{}_{random}", identifier(label, 40))
}

/// `label` as lower-case ASCII letters, digits and underscores, at most `max`
/// characters long.
fn identifier(label: &str, max: usize) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(max)
        .collect()
}

/// Run one statement on the admin connection, within [`POSTGRES_TIMEOUT`].
async fn execute_as_admin(admin_url: String, statement: String) -> Result<(), String> {
    use sqlx::Connection;
    let work = async {
        let mut conn = sqlx::PgConnection::connect(&admin_url)
            .await
            .map_err(|e| format!("connecting to {admin_url}: {e}"))?;
        sqlx::query(&statement)
            .execute(&mut conn)
            .await
            .map_err(|e| format!("`{statement}`: {e}"))?;
        conn.close()
            .await
            .map_err(|e| format!("closing the admin connection: {e}"))
    };
    tokio::time::timeout(POSTGRES_TIMEOUT, work)
        .await
        .unwrap_or_else(|_| Err(format!("`{statement}` took over {POSTGRES_TIMEOUT:?}")))
}

/// Run `work` to completion on a new thread with its own single-threaded
/// runtime, and wait for it. This works the same from synchronous code, from
/// inside an async test (whose runtime cannot be blocked on from within) and
/// from `Drop`; a panic on that thread comes back as an error.
fn on_own_thread<T: Send + 'static>(
    work: impl Future<Output = Result<T, String>> + Send + 'static,
) -> Result<T, String> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("starting a runtime: {e}"))?
            .block_on(work)
    })
    .join()
    .unwrap_or_else(|_| Err("the thread running it panicked".into()))
}
